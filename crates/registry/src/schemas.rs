//! The schemas behind schema-typed keys and values ([`kafkit_store::ops::schemas::Schemas`]):
//! fetched by id from a registry (a server with Confluent's REST API, or the registry a
//! local storage keeps in its `_schemas` topic), parsed once and cached, and the schema each
//! side is written with, chosen from a file, an id or a subject.
//!
//! ```
//! # async fn demo() -> Result<(), String> {
//! use std::sync::Arc;
//! use kafkit_registry::{RegistryService, RegistrySchemas, SchemaSource, WriterSchema};
//! use kafkit_store::ops::json::DataType;
//! use kafkit_store::ops::schemas::{RecordFormat, Side};
//! let source = SchemaSource::Own(Arc::new(RegistryService::in_memory()));
//! let mut schemas = RegistrySchemas::new(source);
//! let writer = WriterSchema::Text(r#"{"type":"record","name":"N","fields":[{"name":"n","type":"int"}]}"#.into());
//! schemas.set_writer(Side::Value, DataType::Avro, &writer, None, "numbers").await?;
//! let format = RecordFormat::new(DataType::Str, DataType::Avro).with_schemas(Arc::new(schemas));
//! # Ok(()) }
//! ```

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use kafkit_format::wire;
use kafkit_store::ops::json::DataType;
use kafkit_store::ops::schemas::{ExportFuture, LoadFuture, Schemas, Side};
use serde_json::Value;

use crate::carry::{self, Exported};
use crate::compat::Parsed;
use crate::model::{Schema, SchemaType};
use crate::registry::VersionSpec;
use crate::source::SchemaSource;
use crate::strategy::SubjectStrategy;

/// Parsed schemas kept at most; more, and the cache starts over.
const CACHE_LIMIT: usize = 10_000;

/// The schema a side is written with, as the user names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriterSchema {
    /// A registered schema, by id.
    Id(i32),
    /// A version of a subject.
    Subject(String, VersionSpec),
    /// Schema text (e.g. read from a `.avsc`, `.proto` or `.json` file): registered (or
    /// looked up) under the subject the strategy names.
    Text(String),
}

impl WriterSchema {
    /// Reads what `--value-schema` says: an existing file (its text), a number (an id), or
    /// `SUBJECT[:VERSION]` (the latest version without one). The file is read here: call it
    /// off the async runtime's workers, or before starting it.
    pub fn from_arg(arg: &str) -> Result<WriterSchema, String> {
        let path = std::path::Path::new(arg);
        if path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{arg}: {e}"))?;
            return Ok(WriterSchema::Text(text));
        }
        if let Ok(id) = arg.parse::<i32>() {
            return Ok(WriterSchema::Id(id));
        }
        if [".avsc", ".proto", ".json"]
            .iter()
            .any(|ext| arg.ends_with(ext))
        {
            return Err(format!("{arg}: no such schema file"));
        }
        match arg.rsplit_once(':') {
            Some((subject, version)) if !subject.is_empty() => {
                let version =
                    VersionSpec::parse(version).map_err(|e| format!("{arg}: {}", e.message))?;
                Ok(WriterSchema::Subject(subject.to_string(), version))
            }
            _ => Ok(WriterSchema::Subject(arg.to_string(), VersionSpec::Latest)),
        }
    }
}

/// A side's writer: the schema id, the schema, and for Protobuf the message's indexes.
#[derive(Debug)]
struct Writer {
    id: i32,
    parsed: Arc<Parsed>,
    indexes: Vec<i32>,
}

/// Schemas from a [`SchemaSource`], for [`kafkit_store::ops::schemas::RecordFormat`].
#[derive(Debug)]
pub struct RegistrySchemas {
    source: SchemaSource,
    by_id: RwLock<HashMap<i32, Arc<Parsed>>>,
    /// Why ids could not be had, for the records that name them.
    failed: RwLock<HashMap<i32, String>>,
    /// Ids of schemas imported from another registry → their ids here.
    imported: RwLock<HashMap<i32, i32>>,
    key: Option<Writer>,
    value: Option<Writer>,
    key_strategy: SubjectStrategy,
    value_strategy: SubjectStrategy,
    auto_register: bool,
    check_json: bool,
}

impl RegistrySchemas {
    /// Schemas from `source`; no writers yet, subjects by topic name, schemas registered when
    /// written with a text.
    pub fn new(source: SchemaSource) -> RegistrySchemas {
        RegistrySchemas {
            source,
            by_id: RwLock::new(HashMap::new()),
            failed: RwLock::new(HashMap::new()),
            imported: RwLock::new(HashMap::new()),
            key: None,
            value: None,
            key_strategy: SubjectStrategy::TopicName,
            value_strategy: SubjectStrategy::TopicName,
            auto_register: true,
            check_json: false,
        }
    }

    /// How subjects of `side` are named when a schema text is registered.
    pub fn strategy(mut self, side: Side, strategy: SubjectStrategy) -> RegistrySchemas {
        match side {
            Side::Key => self.key_strategy = strategy,
            Side::Value => self.value_strategy = strategy,
        }
        self
    }

    /// Whether a schema text is registered (`auto.register.schemas`, the default) or only
    /// looked up.
    pub fn auto_register(mut self, yes: bool) -> RegistrySchemas {
        self.auto_register = yes;
        self
    }

    /// Whether JSON Schema payloads are checked against their schema when decoded.
    pub fn check_json_on_decode(mut self, yes: bool) -> RegistrySchemas {
        self.check_json = yes;
        self
    }

    /// Where the schemas come from.
    pub fn source(&self) -> &SchemaSource {
        &self.source
    }

    /// Chooses the schema `side` of records in `topic` is written with; returns its id.
    /// `message` names the Protobuf message records are (full name, package included;
    /// without it, the file's first message, as Confluent's console producer takes).
    pub async fn set_writer(
        &mut self,
        side: Side,
        ty: DataType,
        writer: &WriterSchema,
        message: Option<&str>,
        topic: &str,
    ) -> Result<i32, String> {
        if message.is_some() && ty != DataType::Protobuf {
            return Err(format!(
                "a message name is for Protobuf schemas; the {} type is {}",
                side.name(),
                ty.name()
            ));
        }
        let kind = schema_type(ty).ok_or_else(|| {
            format!(
                "a {} schema was given, but the {} type is {}",
                side.name(),
                side.name(),
                ty.name()
            )
        })?;
        let (id, schema) = match writer {
            WriterSchema::Id(id) => (*id, self.source.schema(*id).await?),
            WriterSchema::Subject(subject, version) => {
                let v = self.source.version(subject, *version).await?;
                (v.id, v.schema)
            }
            WriterSchema::Text(text) => {
                let schema = Schema {
                    text: text.clone(),
                    schema_type: kind,
                    references: Vec::new(),
                };
                let parsed = self.source.parse(&schema).await?;
                let strategy = match side {
                    Side::Key => self.key_strategy,
                    Side::Value => self.value_strategy,
                };
                let subject = strategy.subject(topic, side, text, &parsed, message)?;
                let id = match self.auto_register {
                    true => self.source.register(&subject, &schema).await,
                    false => self.source.lookup(&subject, &schema).await,
                }
                .map_err(|e| format!("subject '{subject}': {e}"))?;
                (id, schema)
            }
        };
        if schema.schema_type != kind {
            return Err(format!(
                "schema id {id} is {}, not {}",
                schema.schema_type.name(),
                ty.name()
            ));
        }
        let parsed = Arc::new(
            self.source
                .parse(&schema)
                .await
                .map_err(|e| format!("schema id {id}: {e}"))?,
        );
        let indexes = match &*parsed {
            Parsed::Protobuf(p) => {
                let name = match message {
                    Some(name) => name.to_string(),
                    None => p
                        .message_names()
                        .into_iter()
                        .next()
                        .ok_or_else(|| format!("schema id {id} declares no message"))?,
                };
                p.indexes_of(&name).map_err(|e| {
                    format!(
                        "schema id {id}: {e} (it has {})",
                        p.message_names().join(", ")
                    )
                })?
            }
            _ => Vec::new(),
        };
        self.remember(id, parsed.clone());
        let w = Writer {
            id,
            parsed,
            indexes,
        };
        match side {
            Side::Key => self.key = Some(w),
            Side::Value => self.value = Some(w),
        }
        Ok(id)
    }

    fn remember(&self, id: i32, parsed: Arc<Parsed>) {
        let mut cache = self.by_id.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(id, parsed);
    }

    fn cached(&self, id: i32) -> Option<Arc<Parsed>> {
        self.by_id
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// Loads what `ids` name and is not cached. An id that cannot be had is remembered
    /// with why, for the records that name it to report (or be skipped); it is asked again
    /// on the next load.
    async fn load_ids(&self, ids: &BTreeSet<i32>) -> Result<(), String> {
        for &id in ids {
            if self.cached(id).is_some() {
                continue;
            }
            let loaded = match self.source.schema(id).await {
                Ok(schema) => self.source.parse(&schema).await,
                Err(e) => Err(format!("{e} ({})", self.source.describe())),
            };
            let mut failed = self.failed.write().unwrap_or_else(|e| e.into_inner());
            match loaded {
                Ok(parsed) => {
                    failed.remove(&id);
                    self.remember(id, Arc::new(parsed));
                }
                Err(e) => {
                    if failed.len() >= CACHE_LIMIT {
                        failed.clear();
                    }
                    failed.insert(id, e);
                }
            }
        }
        Ok(())
    }
}

/// The registry's type of a data type.
fn schema_type(ty: DataType) -> Option<SchemaType> {
    match ty {
        DataType::Avro => Some(SchemaType::Avro),
        DataType::Protobuf => Some(SchemaType::Protobuf),
        DataType::JsonSchema => Some(SchemaType::Json),
        DataType::Str | DataType::Bytes | DataType::Json => None,
    }
}

fn kind_of(parsed: &Parsed) -> SchemaType {
    match parsed {
        Parsed::Avro(_) => SchemaType::Avro,
        Parsed::Protobuf(_) => SchemaType::Protobuf,
        Parsed::Json(_) => SchemaType::Json,
    }
}

impl RegistrySchemas {
    async fn import_ids(&self, from: &dyn Schemas, ids: &BTreeSet<i32>) -> Result<(), String> {
        for &id in ids {
            if self.imported_id(id).is_some() {
                continue;
            }
            let exported: Exported = serde_json::from_value(from.export(id).await?)
                .map_err(|e| format!("schema id {id}: not a kafkit export: {e}"))?;
            let here = carry::import(&self.source, &exported).await.map_err(|e| {
                format!("carrying schema id {id} to {}: {e}", self.source.describe())
            })?;
            let mut imported = self.imported.write().unwrap_or_else(|e| e.into_inner());
            if imported.len() >= CACHE_LIMIT {
                imported.clear();
            }
            imported.insert(id, here);
        }
        Ok(())
    }
}

impl Schemas for RegistrySchemas {
    fn export<'a>(&'a self, id: i32) -> ExportFuture<'a> {
        Box::pin(async move {
            let exported = carry::export(&self.source, id)
                .await
                .map_err(|e| format!("schema id {id} ({}): {e}", self.source.describe()))?;
            serde_json::to_value(exported).map_err(|e| e.to_string())
        })
    }

    fn import<'a>(&'a self, from: &'a dyn Schemas, ids: &'a BTreeSet<i32>) -> LoadFuture<'a> {
        Box::pin(self.import_ids(from, ids))
    }

    fn imported_id(&self, id: i32) -> Option<i32> {
        self.imported
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .copied()
    }

    fn load<'a>(&'a self, ids: &'a BTreeSet<i32>) -> LoadFuture<'a> {
        Box::pin(self.load_ids(ids))
    }

    fn decode(&self, ty: DataType, payload: &[u8], out: &mut Vec<u8>) -> Result<i32, String> {
        let (id, rest) = wire::unframe(payload).map_err(|e| e.to_string())?;
        let parsed = self.cached(id).ok_or_else(|| {
            let failed = self.failed.read().unwrap_or_else(|e| e.into_inner());
            match failed.get(&id) {
                Some(why) => format!("schema id {id}: {why}"),
                None => format!("schema id {id} was not loaded"),
            }
        })?;
        if Some(kind_of(&parsed)) != schema_type(ty) {
            return Err(format!(
                "schema id {id} is {}, not {}",
                kind_of(&parsed).name(),
                ty.name()
            ));
        }
        let mut text = String::new();
        match &*parsed {
            Parsed::Avro(s) => s.decode_json(rest, None, &mut text),
            Parsed::Protobuf(s) => {
                let (indexes, message) =
                    wire::read_message_indexes(rest).map_err(|e| e.to_string())?;
                s.decode_json(&indexes, message, &mut text)
            }
            Parsed::Json(s) => s.decode_json(rest, self.check_json, &mut text),
        }
        .map_err(|e| format!("schema id {id}: {e}"))?;
        out.extend_from_slice(text.as_bytes());
        Ok(id)
    }

    fn encode(&self, side: Side, ty: DataType, json: &Value) -> Result<Vec<u8>, String> {
        let writer = match side {
            Side::Key => self.key.as_ref(),
            Side::Value => self.value.as_ref(),
        }
        .ok_or_else(|| {
            format!(
                "no schema to write the {} as {} with (--{}-schema FILE|ID|SUBJECT[:VERSION])",
                side.name(),
                ty.name(),
                side.name()
            )
        })?;
        let payload = match &*writer.parsed {
            Parsed::Avro(s) => s.encode_value(json),
            Parsed::Protobuf(s) => s.encode_value(&writer.indexes, json),
            Parsed::Json(s) => s.encode_json(&json.to_string()),
        }
        .map_err(|e| format!("schema id {}: {e}", writer.id))?;
        Ok(wire::frame(writer.id, &writer.indexes, &payload))
    }
}
