//! Which storage a command works on, and the client settings for a cluster: named YAML
//! configurations (see `settings`), `-b`, `-X`, and the `./.kafkit` default.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use kafkit::client::{ClientConfig, ConsumerConfig, ProducerConfig};
use kafkit::store::ops::properties::Property;
use kafkit::store::AnyStorage;

use crate::settings::{Defaults, Settings};

/// Where records live: a cluster or a local directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageSpec {
    /// `kafka:HOST:PORT[,HOST:PORT]`.
    Kafka(String),
    /// `local[:DIR]` (default `./.kafkit`).
    Local(PathBuf),
    /// A named YAML configuration (see `settings`).
    Named(String),
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
        let is_name = !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if is_name {
            return Ok(StorageSpec::Named(s.to_string()));
        }
        bail!("storage '{s}': expected local, local:DIR, kafka:HOST:PORT or a config name")
    }
}

/// A storage to open: a cluster or a directory, and the configuration it was named by.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// `Kafka` or `Local`, never `Named`.
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
    let spec = match (&settings.local_root, settings.bootstrap()) {
        (Some(root), _) => StorageSpec::Local(root.clone()),
        (None, Some(b)) => StorageSpec::Kafka(b.to_string()),
        (None, None) => bail!(
            "{}: the kafka section has no bootstrap.servers",
            settings.where_is(1)
        ),
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
        StorageSpec::Named(name) => bail!("storage '{name}' was not resolved"),
    })
}
