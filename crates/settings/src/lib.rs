//! Named YAML configurations: where a storage is and how kafkit talks to it.
//!
//! `--storage NAME` (or `KAFKIT_STORAGE=NAME`) loads the first of `./NAME.yaml` and
//! `./configs/{clusters,locals,s3s,azureblobs}/NAME.yaml` (each also as `.yml`), and the same
//! under `$KAFKIT_HOME` (kafi's layout). A file has these sections:
//!
//! ```yaml
//! kafka:                     # a cluster: any client property (Java / librdkafka names)
//!   bootstrap.servers: localhost:9092
//!   sasl.password: ${KAFKA_PASSWORD}
//! local:                     # or emulated Kafka in a directory
//!   root.dir: ./backup
//! s3:                        # or in an S3 bucket (credentials also from AWS_* variables)
//!   endpoint: http://localhost:9000
//!   access.key: ${S3_ACCESS_KEY}
//!   secret.key: ${S3_SECRET_KEY}
//!   bucket.name: backups     # default test
//!   root.dir: kafka          # a prefix in the bucket, default none
//! azure_blob:                # or in an Azure Blob container
//!   connection.string: ${AZURE_STORAGE_CONNECTION_STRING}
//!   container.name: backups  # default test
//!   root.dir: kafka
//! schema_registry:           # kept for the Schema Registry formats
//!   schema.registry.url: http://localhost:8081
//! kafkit:                    # defaults of the commands
//!   consume.batch.size: 1000
//!   key.type: str
//!   value.type: json
//!   auto.offset.reset: earliest
//!   consumer.group.prefix: kafkit-
//! ```
//!
//! `${VAR}` (and `${VAR:-default}`) is replaced by the environment variable before parsing.
//! Bad YAML, unknown sections or keys, and missing variables are errors naming the file and
//! line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use serde::Deserialize;

use kafkit_client::OffsetReset;

use kafkit_store::ops::json::DataType;

/// Defaults of the commands (the `kafkit` section).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Most records a reader hands over at once (a cluster's `max.poll.records`).
    #[serde(rename = "consume.batch.size")]
    pub consume_batch_size: Option<usize>,
    /// Key type of record commands when `--key-type` is not given.
    #[serde(rename = "key.type")]
    pub key_type: Option<DataType>,
    /// Value type of record commands when `--value-type` is not given.
    #[serde(rename = "value.type")]
    pub value_type: Option<DataType>,
    /// Where a group read starts on partitions the group has no commit for.
    #[serde(
        rename = "auto.offset.reset",
        default,
        deserialize_with = "offset_reset"
    )]
    pub auto_offset_reset: Option<OffsetReset>,
    /// Prefix of the group a bare `--group` reads as (default `kafkit-`, then the topic).
    #[serde(rename = "consumer.group.prefix")]
    pub consumer_group_prefix: Option<String>,
}

/// `auto.offset.reset`: earliest, latest or none, as Kafka's clients spell it.
fn offset_reset<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<OffsetReset>, D::Error> {
    let name = String::deserialize(d)?;
    match name.as_str() {
        "earliest" => Ok(Some(OffsetReset::Earliest)),
        "latest" => Ok(Some(OffsetReset::Latest)),
        "none" => Ok(Some(OffsetReset::None)),
        other => Err(serde::de::Error::custom(format!(
            "unknown auto.offset.reset '{other}' (expected earliest, latest or none)"
        ))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LocalSection {
    #[serde(rename = "root.dir")]
    root_dir: PathBuf,
}

/// The `s3` section (kafi's keys).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Section {
    /// The server (AWS's when not given).
    pub endpoint: Option<String>,
    /// The access key.
    #[serde(rename = "access.key")]
    pub access_key: Option<String>,
    /// Its secret.
    #[serde(rename = "secret.key")]
    pub secret_key: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// The bucket (kafi's default: test).
    #[serde(rename = "bucket.name", default = "default_container")]
    pub bucket: String,
    /// The prefix in the bucket.
    #[serde(rename = "root.dir", default)]
    pub root_dir: String,
}

/// The `azure_blob` section (kafi's keys).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureSection {
    /// The storage account's connection string.
    #[serde(rename = "connection.string")]
    pub connection_string: Option<String>,
    /// The container (kafi's default: test).
    #[serde(rename = "container.name", default = "default_container")]
    pub container: String,
    /// The prefix in the container.
    #[serde(rename = "root.dir", default)]
    pub root_dir: String,
}

fn default_container() -> String {
    "test".to_string()
}

/// One section of a configuration file as written: key → value (the `${ENV}` references in
/// its string values not yet substituted).
type Section = BTreeMap<String, serde_json::Value>;

/// A configuration file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    kafka: Option<Section>,
    local: Option<Section>,
    s3: Option<Section>,
    azure_blob: Option<Section>,
    schema_registry: Option<Section>,
    kafkit: Option<Section>,
}

/// What a named configuration says.
#[derive(Clone, Default)]
pub struct Settings {
    /// The file it came from.
    pub path: Option<PathBuf>,
    /// Client properties of the `kafka` section, each with its line.
    pub kafka: Vec<(String, String, usize)>,
    /// The `local` section's root directory (relative to the file's directory).
    pub local_root: Option<PathBuf>,
    /// The `s3` section.
    pub s3: Option<S3Section>,
    /// The `azure_blob` section.
    pub azure: Option<AzureSection>,
    /// The `schema_registry` section.
    pub schema_registry: BTreeMap<String, String>,
    /// The `kafkit` section.
    pub defaults: Defaults,
}

impl std::fmt::Debug for Settings {
    // Property values can be secrets (sasl.password): show names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("path", &self.path)
            .field(
                "kafka",
                &self.kafka.iter().map(|(k, _, _)| k).collect::<Vec<_>>(),
            )
            .field("local_root", &self.local_root)
            .field("s3", &self.s3.as_ref().map(|s| (&s.bucket, &s.root_dir)))
            .field(
                "azure",
                &self.azure.as_ref().map(|a| (&a.container, &a.root_dir)),
            )
            .field("defaults", &self.defaults)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Where `name` is looked for, in order.
    pub fn candidates(name: &str) -> Vec<PathBuf> {
        let mut dirs = vec![PathBuf::from(".")];
        if let Some(home) = std::env::var_os("KAFKIT_HOME") {
            dirs.push(PathBuf::from(home));
        }
        let mut out = Vec::new();
        for d in dirs {
            for ext in ["yaml", "yml"] {
                out.push(d.join(format!("{name}.{ext}")));
                for kind in ["clusters", "locals", "s3s", "azureblobs"] {
                    out.push(d.join("configs").join(kind).join(format!("{name}.{ext}")));
                }
            }
        }
        out
    }

    /// Loads the configuration `name`; `None` when no file has that name.
    pub fn find(name: &str) -> Result<Option<Settings>> {
        if name.is_empty() || name.contains(['/', '\\']) {
            return Ok(None);
        }
        match Self::candidates(name).into_iter().find(|p| p.is_file()) {
            Some(path) => Self::load(&path).map(Some),
            None => Ok(None),
        }
    }

    /// Loads the file at `path`.
    pub fn load(path: &Path) -> Result<Settings> {
        let text =
            std::fs::read_to_string(path).map_err(|e| anyhow!("config {}: {e}", path.display()))?;
        Self::parse(&text, path)
    }

    /// Parses `text` (the file at `path`, named in errors). `${VAR}` references are
    /// substituted in the parsed values, so a value holding `: ` or ` #` stays one value.
    pub fn parse(text: &str, path: &Path) -> Result<Settings> {
        let name = path.display();
        let file: ConfigFile = serde_saphyr::from_str(text).map_err(|e| {
            let e = e.without_snippet();
            let message = e.to_string().replace('\n', " ");
            match e.location() {
                Some(l) => {
                    // The location goes in front, as compilers write it.
                    let message = match message.rfind(" at line ") {
                        Some(i) => &message[..i],
                        None => &message,
                    };
                    anyhow!("{name}:{}:{}: {message}", l.line(), l.column())
                }
                None => anyhow!("{name}: {message}"),
            }
        })?;
        let storages = [
            file.kafka.is_some(),
            file.local.is_some(),
            file.s3.is_some(),
            file.azure_blob.is_some(),
        ];
        if storages.iter().filter(|&&s| s).count() > 1 {
            bail!(
                "{name}: a config names one storage: `kafka`, `local`, `s3` or `azure_blob`, not several"
            );
        }
        // Each value with its environment references substituted; errors name the line.
        let resolve = |section: &str,
                       values: Option<Section>|
         -> Result<Vec<(String, serde_json::Value, usize)>> {
            let mut out = Vec::new();
            for (k, v) in values.unwrap_or_default() {
                let line = line_of(text, section, &k);
                let v = substitute_value(v)
                    .map_err(|e| anyhow!("{name}:{line}: {section}.{k}: {e}"))?;
                out.push((k, v, line));
            }
            Ok(out)
        };
        let scalar = |section: &str,
                      k: &str,
                      line: usize,
                      v: serde_json::Value|
         -> Result<String> {
            match v {
                serde_json::Value::String(s) => Ok(s),
                v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => {
                    Ok(v.to_string())
                }
                other => bail!(
                    "{name}:{line}: {section}.{k}: expected a string, number or boolean, got {other}"
                ),
            }
        };
        // A typed section, checked key by key so that an error names the key's line.
        fn typed<T: serde::de::DeserializeOwned>(
            name: &std::path::Display<'_>,
            section: &str,
            values: Vec<(String, serde_json::Value, usize)>,
        ) -> Result<T> {
            for (k, v, line) in &values {
                let one = serde_json::Value::Object([(k.clone(), v.clone())].into_iter().collect());
                if let Err(e) = serde_json::from_value::<T>(one) {
                    let e = e.to_string();
                    // A missing required field is not this key's fault: checked below.
                    if !e.starts_with("missing field") {
                        bail!("{name}:{line}: {section}.{k}: {e}");
                    }
                }
            }
            let all = values.into_iter().map(|(k, v, _)| (k, v)).collect();
            serde_json::from_value(serde_json::Value::Object(all))
                .map_err(|e| anyhow!("{name}: {section}: {e}"))
        }
        let mut settings = Settings {
            path: Some(path.to_path_buf()),
            ..Default::default()
        };
        if let Some(kafkit) = file.kafkit {
            settings.defaults = typed(&name, "kafkit", resolve("kafkit", Some(kafkit))?)?;
        }
        for (k, v, line) in resolve("kafka", file.kafka)? {
            let v = scalar("kafka", &k, line, v)?;
            settings.kafka.push((k, v, line));
        }
        for (k, v, line) in resolve("schema_registry", file.schema_registry)? {
            let v = scalar("schema_registry", &k, line, v)?;
            settings.schema_registry.insert(k, v);
        }
        if let Some(local) = file.local {
            let local: LocalSection = typed(&name, "local", resolve("local", Some(local))?)?;
            let base = path.parent().unwrap_or(Path::new("."));
            settings.local_root = Some(base.join(local.root_dir));
        }
        if let Some(s3) = file.s3 {
            settings.s3 = Some(typed(&name, "s3", resolve("s3", Some(s3))?)?);
        }
        if let Some(azure) = file.azure_blob {
            settings.azure = Some(typed(
                &name,
                "azure_blob",
                resolve("azure_blob", Some(azure))?,
            )?);
        }
        let some_storage = !settings.kafka.is_empty()
            || settings.local_root.is_some()
            || settings.s3.is_some()
            || settings.azure.is_some();
        if !some_storage {
            bail!("{name}: no storage: add a `kafka` section (bootstrap.servers), a `local` section (root.dir), or an `s3` or `azure_blob` section");
        }
        Ok(settings)
    }

    /// The bootstrap servers of the `kafka` section.
    pub fn bootstrap(&self) -> Option<&str> {
        self.kafka
            .iter()
            .find(|(k, _, _)| k == "bootstrap.servers" || k == "metadata.broker.list")
            .map(|(_, v, _)| v.as_str())
    }

    /// Where a property came from, for errors: `file:line`.
    pub fn where_is(&self, line: usize) -> String {
        let file = self
            .path
            .as_ref()
            .map_or("config".into(), |p| p.display().to_string());
        format!("{file}:{line}")
    }
}

/// The 1-based line where `key:` is written inside the top-level `section` (0 when not
/// found), so a key both sections share is found in the right one. Block style
/// (`key: v` on its own line) and flow style (`section: {a: 1, key: v}`) are both found.
fn line_of(text: &str, section: &str, key: &str) -> usize {
    // `key` written as a mapping key somewhere in `l`: at the start or after `{`, `,` or a
    // space, optionally quoted, followed by `:`.
    let names_key = |l: &str, key: &str| {
        l.match_indices(key).any(|(i, _)| {
            let before = l[..i].trim_end_matches(['"', '\'']);
            let after = l[i + key.len()..]
                .trim_start_matches(['"', '\''])
                .trim_start();
            (before.is_empty() || before.ends_with(['{', ',', ' ', '\t'])) && after.starts_with(':')
        })
    };
    let mut inside = false;
    for (i, l) in text.lines().enumerate() {
        let top_level = !l.starts_with([' ', '\t']) && !l.trim().is_empty() && !l.starts_with('#');
        if top_level {
            let header = l.trim_start_matches(['"', '\'']);
            inside = header
                .strip_prefix(section)
                .map(|rest| rest.trim_start_matches(['"', '\'']).trim_start())
                .is_some_and(|rest| rest.starts_with(':'));
            // Flow style on the section's own line.
            if inside {
                let rest = &header[section.len()..];
                if let Some(colon) = rest.find(':') {
                    if names_key(&rest[colon + 1..], key) {
                        return i + 1;
                    }
                }
            }
        } else if inside && names_key(l.trim_start(), key) {
            return i + 1;
        }
    }
    0
}

/// `value` with `${VAR}` and `${VAR:-default}` replaced in its strings (nested ones too).
/// A string that was only a reference takes the type its text reads as in YAML, so
/// `linger.ms: ${LINGER:-5}` is the number 5.
fn substitute_value(value: serde_json::Value) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    Ok(match value {
        Value::String(s) if s.contains("${") => {
            let replaced = substitute_env(&s)?;
            let whole = s.starts_with("${") && s.ends_with('}') && s.matches("${").count() == 1;
            match serde_saphyr::from_str::<Value>(&replaced) {
                Ok(v @ (Value::Number(_) | Value::Bool(_))) if whole => v,
                _ => Value::String(replaced),
            }
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(substitute_value)
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| substitute_value(v).map(|v| (k, v)))
                .collect::<Result<_, _>>()?,
        ),
        other => other,
    })
}

/// `text` with `${VAR}` and `${VAR:-default}` replaced from the environment; an error
/// names an unset variable or an unclosed `${`.
fn substitute_env(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "unclosed ${ (expected ${NAME})".to_string())?;
        let inner = &after[..end];
        let (var, default) = match inner.split_once(":-") {
            Some((v, d)) => (v, Some(d)),
            None => (inner, None),
        };
        match (std::env::var(var), default) {
            (Ok(v), _) => out.push_str(&v),
            (Err(_), Some(d)) => out.push_str(d),
            (Err(_), None) => {
                return Err(format!(
                "environment variable {var} is not set (write ${{{var}:-default}} for a default)"
            ))
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings> {
        Settings::parse(text, Path::new("configs/clusters/prod.yaml"))
    }

    #[test]
    fn sections_environment_and_defaults() {
        std::env::set_var("KAFKIT_TEST_SECRET", "s3cret");
        let s = parse(
            "kafka:\n  bootstrap.servers: b1:9092,b2:9092\n  sasl.password: ${KAFKIT_TEST_SECRET}\n  linger.ms: 5\n  client.id: ${KAFKIT_TEST_UNSET:-fallback}\nkafkit:\n  value.type: json\n  auto.offset.reset: latest\n",
        )
        .unwrap();
        assert_eq!(s.bootstrap(), Some("b1:9092,b2:9092"));
        assert!(s
            .kafka
            .contains(&("sasl.password".into(), "s3cret".into(), 3)));
        assert!(s.kafka.contains(&("linger.ms".into(), "5".into(), 4)));
        assert!(s
            .kafka
            .contains(&("client.id".into(), "fallback".into(), 5)));
        assert_eq!(s.defaults.value_type, Some(DataType::Json));
        assert_eq!(s.defaults.auto_offset_reset, Some(OffsetReset::Latest));
        assert!(!format!("{s:?}").contains("s3cret"), "no secrets in Debug");
        let l = parse("local:\n  root.dir: backup\n").unwrap();
        assert_eq!(l.local_root, Some(PathBuf::from("configs/clusters/backup")));
        let o = parse("s3:\n  endpoint: http://h:9000\n  access.key: ak\n  secret.key: ${KAFKIT_TEST_SECRET}\n").unwrap();
        let s3 = o.s3.as_ref().unwrap();
        assert_eq!((s3.bucket.as_str(), s3.root_dir.as_str()), ("test", ""));
        assert_eq!(s3.secret_key.as_deref(), Some("s3cret"));
        assert!(!format!("{o:?}").contains("s3cret"), "no secrets in Debug");
        let a = parse("azure_blob:\n  connection.string: AccountName=a\n  container.name: c\n  root.dir: kafka\n").unwrap();
        let az = a.azure.unwrap();
        assert_eq!(
            (az.container.as_str(), az.root_dir.as_str()),
            ("c", "kafka")
        );
        let e = parse("s3:\n  bucket: b\n").unwrap_err().to_string();
        assert!(
            e.starts_with("configs/clusters/prod.yaml:2: s3.bucket"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let e = parse("kafka:\n  bootstrap.servers: x:1\nkafkit:\n  value.typo: json\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("configs/clusters/prod.yaml:4"), "{e}");
        assert!(e.contains("value.typo"), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
        let e = parse("kafka:\n  bootstrap.servers: [unclosed\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("configs/clusters/prod.yaml:"), "{e}");
        let e = parse("kafka:\n  sasl.password: ${KAFKIT_TEST_NOPE}\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("configs/clusters/prod.yaml:2: kafka.sasl.password: environment variable KAFKIT_TEST_NOPE"),
            "{e}"
        );
        let e = parse("clusters:\n  a: 1\n").unwrap_err().to_string();
        assert!(e.contains("clusters") && e.contains(":1"), "{e}");
        let e = parse("kafkit:\n  key.type: str\n").unwrap_err().to_string();
        assert!(e.contains("no storage"), "{e}");
        let e = parse("kafka:\n  bootstrap.servers: a:1\nlocal:\n  root.dir: x\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not several"), "{e}");
    }

    #[test]
    fn environment_values_stay_one_value_whatever_they_hold() {
        std::env::set_var("KAFKIT_TEST_TRICKY", "a: b # not a comment");
        std::env::set_var("KAFKIT_TEST_BATCH", "250");
        let s = parse(
            "kafka:\n  bootstrap.servers: b:1\n  sasl.password: ${KAFKIT_TEST_TRICKY}\n  client.id: x-${KAFKIT_TEST_BATCH}\nkafkit:\n  consume.batch.size: ${KAFKIT_TEST_BATCH}\n",
        )
        .unwrap();
        assert!(s
            .kafka
            .contains(&("sasl.password".into(), "a: b # not a comment".into(), 3)));
        assert!(s.kafka.contains(&("client.id".into(), "x-250".into(), 4)));
        assert_eq!(s.defaults.consume_batch_size, Some(250));
    }

    #[test]
    fn flow_style_errors_name_the_line() {
        let e = parse("kafka: {bootstrap.servers: b:1}\nkafkit: {value.type: json,\n  consume.batch.size: lots}\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("configs/clusters/prod.yaml:3: kafkit.consume.batch.size"),
            "{e}"
        );
        let e = parse("kafka: {bootstrap.servers: b:1, sasl.password: \"${KAFKIT_TEST_NOPE2}\"}\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("configs/clusters/prod.yaml:1: kafka.sasl.password"),
            "{e}"
        );
    }
}
