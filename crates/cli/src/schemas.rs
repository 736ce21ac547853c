//! Where the schemas of `--key-type` / `--value-type avro|protobuf|jsonschema` come from:
//! a registry server (`-X schema.registry.url=...` or the config's `schema_registry`
//! section, with Confluent's client property names), else the registry an emulated storage keeps
//! in its own `_schemas` topic.

use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use kafkit::registry::{
    RegistryClient, RegistryClientConfig, RegistrySchemas, RegistryService, SchemaSource,
    SubjectStrategy, WriterSchema,
};
use kafkit::store::ops::json::DataType;
use kafkit::store::ops::schemas::{RecordFormat, Schemas, Side};
use kafkit::store::{AnyStorage, Storage};

use crate::settings::Settings;

/// The topic an emulated storage (local files, object store) keeps its registry in.
pub(crate) const LOCAL_REGISTRY_TOPIC: &str = "_schemas";

/// Properties of the registry and of the serializers, not of the Kafka client.
pub(crate) fn is_registry_property(key: &str) -> bool {
    key.starts_with("schema.registry.")
        || key.starts_with("basic.auth.")
        || key.starts_with("bearer.auth.")
        || matches!(
            key,
            "auto.register.schemas"
                | "key.subject.name.strategy"
                | "value.subject.name.strategy"
                | "json.schema.validate"
        )
}

/// The registry settings: the config's `schema_registry` section, then `-X`.
///
/// Which registry a storage's records use: the `schema_registry` section of its named
/// config; else, for a cluster, `-X schema.registry.url`; else, for an emulated storage, its own
/// registry (so a copy between a cluster and local files uses the cluster's registry on one
/// end and the files' own on the other). `kafkit schemas` takes `-X` on any storage.
#[derive(Clone)]
pub(crate) struct RegistrySettings {
    /// (key, value, origin), the file's first.
    props: Vec<(String, String, String)>,
    /// Whether the named config has a registry URL.
    url_in_file: bool,
}

impl RegistrySettings {
    /// From the named configuration and the -X properties (others are left out).
    pub(crate) fn new(settings: Option<&Settings>, props: &[(String, String)]) -> Self {
        let from_file = settings.into_iter().flat_map(|s| {
            let origin = s
                .path
                .as_ref()
                .map(|p| format!("{} schema_registry", p.display()))
                .unwrap_or_default();
            s.schema_registry
                .iter()
                .map(move |(k, v)| (k.clone(), v.clone(), origin.clone()))
        });
        let from_cli = props
            .iter()
            .filter(|(k, _)| is_registry_property(k))
            .map(|(k, v)| (k.clone(), v.clone(), format!("-X {k}")));
        let url_in_file =
            settings.is_some_and(|s| s.schema_registry.contains_key("schema.registry.url"));
        RegistrySettings {
            props: from_file.chain(from_cli).collect(),
            url_in_file,
        }
    }

    fn get(&self, key: &str) -> Option<(&str, &str)> {
        self.props
            .iter()
            .rev()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, origin)| (v.as_str(), origin.as_str()))
    }

    /// Where the schemas of `storage`'s records come from (see [`RegistrySettings`]).
    pub(crate) async fn records_source(
        &self,
        storage: &AnyStorage,
    ) -> anyhow::Result<SchemaSource> {
        let own = storage.is_emulated();
        self.source(storage, own && !self.url_in_file).await
    }

    /// Where schemas come from for `storage`: the registry server (unless `own_first` and
    /// the storage keeps its own), else an emulated storage's own registry.
    pub(crate) async fn source(
        &self,
        storage: &AnyStorage,
        own_first: bool,
    ) -> anyhow::Result<SchemaSource> {
        if let (false, Some((url, _))) = (own_first, self.get("schema.registry.url")) {
            let mut config = RegistryClientConfig::new(url);
            for (k, v, origin) in &self.props {
                if k == "schema.registry.url" || !is_client_property(k) {
                    continue;
                }
                config = config.set(k, v).map_err(|e| anyhow!("{origin}: {e}"))?;
            }
            let client = RegistryClient::new(config).context("schema registry client")?;
            return Ok(SchemaSource::Remote(Arc::new(client)));
        }
        match storage.is_emulated() {
            true => {
                let service = RegistryService::open(storage.clone(), LOCAL_REGISTRY_TOPIC)
                    .await
                    .with_context(|| {
                        format!(
                            "the registry of {} ({LOCAL_REGISTRY_TOPIC})",
                            storage.describe()
                        )
                    })?;
                Ok(SchemaSource::Own(Arc::new(service)))
            }
            false => bail!(
                "the schema types need a schema registry on {}: give -X schema.registry.url=URL \
                 or a config with a schema_registry section",
                storage.describe()
            ),
        }
    }

    /// Schemas from `source`, subjects and registering as the settings say.
    pub(crate) fn schemas(&self, source: SchemaSource) -> anyhow::Result<RegistrySchemas> {
        let mut schemas = RegistrySchemas::new(source);
        for (side, key) in [
            (Side::Key, "key.subject.name.strategy"),
            (Side::Value, "value.subject.name.strategy"),
        ] {
            if let Some((v, origin)) = self.get(key) {
                let s: SubjectStrategy = v.parse().map_err(|e| anyhow!("{origin}: {e}"))?;
                schemas = schemas.strategy(side, s);
            }
        }
        if let Some((v, origin)) = self.get("auto.register.schemas") {
            schemas = schemas.auto_register(
                bool_value(v)
                    .ok_or_else(|| anyhow!("{origin}: expected true or false, got '{v}'"))?,
            );
        }
        if let Some((v, origin)) = self.get("json.schema.validate") {
            schemas = schemas.check_json_on_decode(
                bool_value(v)
                    .ok_or_else(|| anyhow!("{origin}: expected true or false, got '{v}'"))?,
            );
        }
        Ok(schemas)
    }
}

/// Properties the registry client takes (the others configure the serializers).
fn is_client_property(key: &str) -> bool {
    !matches!(
        key,
        "auto.register.schemas"
            | "key.subject.name.strategy"
            | "value.subject.name.strategy"
            | "json.schema.validate"
    )
}

fn bool_value(v: &str) -> Option<bool> {
    match v {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// What `--key-schema` / `--value-schema` and `--key-message` / `--value-message` say.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Writers<'a> {
    pub(crate) key: Option<&'a str>,
    pub(crate) value: Option<&'a str>,
    pub(crate) key_message: Option<&'a str>,
    pub(crate) value_message: Option<&'a str>,
}

/// How a command over `topic` shows and writes records of `types`: [`for_command`]'s
/// schemas with the types.
pub(crate) async fn format_for(
    registry: &RegistrySettings,
    storage: &AnyStorage,
    topic: &str,
    types: (DataType, DataType),
    writers: Writers<'_>,
) -> anyhow::Result<RecordFormat> {
    Ok(RecordFormat {
        key: types.0,
        value: types.1,
        schemas: for_command(registry, storage, topic, types, writers).await?,
    })
}

/// The schemas a command over `topic` needs: `None` when neither side is schema-typed;
/// writers set from `writers`.
pub(crate) async fn for_command(
    registry: &RegistrySettings,
    storage: &AnyStorage,
    topic: &str,
    types: (DataType, DataType),
    writers: Writers<'_>,
) -> anyhow::Result<Option<Arc<dyn Schemas>>> {
    let sides = [
        (Side::Key, types.0, writers.key, writers.key_message),
        (Side::Value, types.1, writers.value, writers.value_message),
    ];
    for (side, ty, writer, _) in sides {
        if writer.is_some() && !ty.is_schema() {
            bail!(
                "--{}-schema needs --{}-type avro, protobuf or jsonschema (it is {})",
                side.name(),
                side.name(),
                ty.name()
            );
        }
    }
    if !types.0.is_schema() && !types.1.is_schema() {
        return Ok(None);
    }
    let source = registry.records_source(storage).await?;
    let mut schemas = registry.schemas(source)?;
    for (side, ty, writer, message) in sides {
        let Some(arg) = writer else { continue };
        let arg = arg.to_string();
        let spec = tokio::task::spawn_blocking(move || WriterSchema::from_arg(&arg))
            .await?
            .map_err(|e| anyhow!("--{}-schema {e}", side.name()))?;
        schemas
            .set_writer(side, ty, &spec, message, topic)
            .await
            .map_err(|e| anyhow!("--{}-schema: {e}", side.name()))?;
    }
    Ok(Some(Arc::new(schemas)))
}
