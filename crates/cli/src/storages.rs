//! Which storage a command works on, and the client settings for a cluster: named YAML
//! configurations (see `settings`), `-b`, `-X`, and the `./.kafkit` default.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use kafkit::client::{ClientConfig, ConsumerConfig, ProducerConfig};
use kafkit::store::ops::properties::Property;
use kafkit::store::AnyStorage;

use crate::settings::{Defaults, Settings};

/// Where records live: a cluster, a local directory or an object store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageSpec {
    /// `kafka:HOST:PORT[,HOST:PORT]`.
    Kafka(String),
    /// `local[:DIR]` (default `./.kafkit`).
    Local(PathBuf),
    /// `s3:BUCKET[/PREFIX]`.
    S3 {
        /// The bucket.
        bucket: String,
        /// The prefix in it.
        prefix: String,
    },
    /// `azure:CONTAINER[/PREFIX]`.
    Azure {
        /// The container.
        container: String,
        /// The prefix in it.
        prefix: String,
    },
    /// A named YAML configuration (see `settings`).
    Named(String),
}

/// As `--storage` takes it (what the shell's prompt shows).
impl std::fmt::Display for StorageSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageSpec::Kafka(b) => write!(f, "kafka:{b}"),
            StorageSpec::Local(d) => write!(f, "local:{}", d.display()),
            StorageSpec::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3:{bucket}"),
            StorageSpec::S3 { bucket, prefix } => write!(f, "s3:{bucket}/{prefix}"),
            StorageSpec::Azure { container, prefix } if prefix.is_empty() => {
                write!(f, "azure:{container}")
            }
            StorageSpec::Azure { container, prefix } => write!(f, "azure:{container}/{prefix}"),
            StorageSpec::Named(n) => f.write_str(n),
        }
    }
}

impl std::str::FromStr for StorageSpec {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        if s == "local" {
            return Ok(StorageSpec::Local(PathBuf::from(".kafkit")));
        }
        if let Some(dir) = s.strip_prefix("local:") {
            return Ok(StorageSpec::Local(PathBuf::from(dir)));
        }
        if let Some(brokers) = s.strip_prefix("kafka:") {
            return Ok(StorageSpec::Kafka(brokers.to_string()));
        }
        let object = |rest: &str| -> anyhow::Result<(String, String)> {
            let (container, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if container.is_empty() {
                bail!("storage '{s}': the bucket or container name is missing");
            }
            Ok((container.to_string(), prefix.trim_matches('/').to_string()))
        };
        if let Some(rest) = s.strip_prefix("s3:") {
            let (bucket, prefix) = object(rest.trim_start_matches("//"))?;
            return Ok(StorageSpec::S3 { bucket, prefix });
        }
        if let Some(rest) = s.strip_prefix("azure:") {
            let (container, prefix) = object(rest.trim_start_matches("//"))?;
            return Ok(StorageSpec::Azure { container, prefix });
        }
        let is_name = !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if is_name {
            return Ok(StorageSpec::Named(s.to_string()));
        }
        bail!(
            "storage '{s}': expected local, local:DIR, kafka:HOST:PORT, s3:BUCKET/PREFIX, \
             azure:CONTAINER/PREFIX or a config name"
        )
    }
}

/// A storage to open: a cluster or a directory, and the configuration it was named by.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Never `Named`.
    pub spec: StorageSpec,
    /// The named configuration, if any.
    pub settings: Option<Settings>,
}

impl Resolved {
    /// The defaults of the commands (the config's `kafkit` section).
    pub fn defaults(&self) -> Defaults {
        self.settings
            .as_ref()
            .map(|s| s.defaults.clone())
            .unwrap_or_default()
    }
}

/// Resolves a named configuration to the storage it names.
pub fn resolve(spec: &StorageSpec) -> Result<Resolved> {
    let StorageSpec::Named(name) = spec else {
        return Ok(Resolved {
            spec: spec.clone(),
            settings: None,
        });
    };
    let settings = Settings::find(name)?.ok_or_else(|| {
        anyhow!(
            "storage '{name}': no config {name}.yaml in ./, ./configs/clusters/, \
             ./configs/locals/ or the same under $KAFKIT_HOME (or give local:DIR or \
             kafka:HOST:PORT)"
        )
    })?;
    let spec = if let Some(root) = &settings.local_root {
        StorageSpec::Local(root.clone())
    } else if let Some(s3) = &settings.s3 {
        StorageSpec::S3 {
            bucket: s3.bucket.clone(),
            prefix: s3.root_dir.clone(),
        }
    } else if let Some(azure) = &settings.azure {
        StorageSpec::Azure {
            container: azure.container.clone(),
            prefix: azure.root_dir.clone(),
        }
    } else if let Some(b) = settings.bootstrap() {
        StorageSpec::Kafka(b.to_string())
    } else {
        bail!(
            "{}: the kafka section has no bootstrap.servers",
            settings.where_is(1)
        )
    };
    Ok(Resolved {
        spec,
        settings: Some(settings),
    })
}

/// `-X KEY=VALUE` properties as pairs.
pub fn parse_properties(props: &[String]) -> Result<Vec<(String, String)>> {
    props
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| anyhow!("-X {p}: expected KEY=VALUE"))
        })
        .collect()
}

/// A client configuration bootstrapping from `brokers` (`host:port[,host:port...]`).
pub fn bootstrap(brokers: &str) -> ClientConfig {
    ClientConfig::new(brokers.split(',').map(|s| s.trim().to_string()))
}

/// Producer and consumer configurations for `brokers`: the defaults, then what [`configure`]
/// applies.
pub fn client_configs(
    brokers: &str,
    settings: Option<&Settings>,
    props: &[(String, String)],
) -> Result<(ProducerConfig, ConsumerConfig)> {
    let client = bootstrap(brokers);
    configure(
        ProducerConfig::new(client.clone()),
        ConsumerConfig::new(client),
        settings,
        props,
    )
}

/// `producer` and `consumer` with the config file's `kafka` section, then `props` (-X),
/// applied on top. A property goes to whichever of the two knows it; one neither knows is an
/// error naming it (and its file and line).
pub fn configure(
    producer: ProducerConfig,
    consumer: ConsumerConfig,
    settings: Option<&Settings>,
    props: &[(String, String)],
) -> Result<(ProducerConfig, ConsumerConfig)> {
    let from_file = settings.into_iter().flat_map(|s| {
        s.kafka
            .iter()
            .map(move |(k, v, line)| Property::new(k, v, s.where_is(*line)))
    });
    let from_cli = props
        .iter()
        .map(|(k, v)| Property::new(k, v, format!("-X {k}")));
    let all: Vec<Property> = from_file.chain(from_cli).collect();
    let (producer, mut consumer) = kafkit::store::ops::properties::apply(producer, consumer, &all)?;
    if let Some(n) = settings.and_then(|s| s.defaults.consume_batch_size) {
        consumer = consumer
            .set("max.poll.records", &n.to_string())
            .context("kafkit.consume.batch.size")?;
    }
    Ok((producer, consumer))
}

/// Opens a resolved storage.
pub async fn open(resolved: &Resolved, props: &[(String, String)]) -> Result<AnyStorage> {
    Ok(match &resolved.spec {
        StorageSpec::Local(dir) => AnyStorage::Local(
            kafkit::store::LocalStorage::open(dir)
                .with_context(|| format!("local storage {}", dir.display()))?,
        ),
        StorageSpec::Kafka(brokers) => {
            let (producer, consumer) = client_configs(brokers, resolved.settings.as_ref(), props)?;
            AnyStorage::Kafka(Box::new(
                kafkit::store::KafkaStorage::connect(producer, consumer)
                    .await
                    .with_context(|| format!("cluster {brokers}"))?,
            ))
        }
        StorageSpec::S3 { bucket, prefix } => {
            let mut at = kafkit::store::S3Location::new(bucket, prefix);
            if let Some(s3) = resolved.settings.as_ref().and_then(|s| s.s3.as_ref()) {
                if let Some(e) = &s3.endpoint {
                    at = at.endpoint(e);
                }
                if let Some(r) = &s3.region {
                    at = at.region(r);
                }
                if let (Some(k), Some(secret)) = (&s3.access_key, &s3.secret_key) {
                    at = at.credentials(k, secret);
                }
            }
            let describe = at.describe();
            AnyStorage::Object(
                kafkit::store::ObjectStorage::s3(&at).with_context(|| describe.clone())?,
            )
        }
        StorageSpec::Azure { container, prefix } => {
            let mut at = kafkit::store::AzureLocation::new(container, prefix);
            let section = resolved.settings.as_ref().and_then(|s| s.azure.as_ref());
            if let Some(text) = section.and_then(|a| a.connection_string.as_ref()) {
                at = at.connection_string(text);
            }
            let describe = at.describe();
            AnyStorage::Object(
                kafkit::store::ObjectStorage::azure(&at).with_context(|| describe.clone())?,
            )
        }
        StorageSpec::Named(name) => bail!("storage '{name}' was not resolved"),
    })
}
