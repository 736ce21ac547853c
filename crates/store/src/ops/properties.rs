//! Client properties (Java / librdkafka names, e.g. `linger.ms`, `max.poll.records`,
//! `security.protocol`) routed to the producer and the consumer configuration that know them.
//!
//! ```
//! use kafkit_client::{ClientConfig, ConsumerConfig, ProducerConfig};
//! use kafkit_store::ops::properties::{apply, Property};
//! let client = ClientConfig::new(["127.0.0.1:9092"]);
//! let (producer, consumer) = apply(
//!     ProducerConfig::new(client.clone()),
//!     ConsumerConfig::new(client),
//!     &[Property::new("linger.ms", "20", "-X linger.ms"), Property::new("max.poll.records", "10", "-X")],
//! )
//! .unwrap();
//! assert_eq!(producer.linger, std::time::Duration::from_millis(20));
//! assert_eq!(consumer.max_poll_records, 10);
//! let e = apply(ProducerConfig::new(ClientConfig::new(["h:1"])), ConsumerConfig::new(ClientConfig::new(["h:1"])),
//!     &[Property::new("lingerr.ms", "1", "app.yaml:3")]).unwrap_err();
//! assert!(e.to_string().starts_with("app.yaml:3: "));
//! ```

use kafkit_client::{ConsumerConfig, Error, ProducerConfig};

use crate::error::StoreError;

/// A client property and where it came from (a file and line, an option), named in errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    /// Its name.
    pub key: String,
    /// Its value.
    pub value: String,
    /// Where it was given.
    pub origin: String,
}

impl Property {
    /// `key` = `value`, given at `origin`.
    pub fn new(
        key: impl Into<String>,
        value: impl Into<String>,
        origin: impl Into<String>,
    ) -> Self {
        Property {
            key: key.into(),
            value: value.into(),
            origin: origin.into(),
        }
    }
}

/// `producer` and `consumer` with `properties` applied in order: each goes to whichever of
/// the two knows it (client-wide ones to both); one neither knows, or a bad value, is an
/// error naming its origin. Bootstrap servers are skipped: they chose the configurations.
pub fn apply(
    mut producer: ProducerConfig,
    mut consumer: ConsumerConfig,
    properties: &[Property],
) -> Result<(ProducerConfig, ConsumerConfig), StoreError> {
    let unknown = |e: &Error| matches!(e, Error::UnknownProperty(_));
    for Property { key, value, origin } in properties {
        if matches!(key.as_str(), "bootstrap.servers" | "metadata.broker.list") {
            continue;
        }
        let p = producer.clone().set(key, value);
        let c = consumer.clone().set(key, value);
        match (p, c) {
            (Ok(p), Ok(c)) => (producer, consumer) = (p, c),
            (Ok(p), Err(e)) if unknown(&e) => producer = p,
            (Err(e), Ok(c)) if unknown(&e) => consumer = c,
            (Err(e), _) | (_, Err(e)) => return Err(StoreError::Invalid(format!("{origin}: {e}"))),
        }
    }
    Ok((producer, consumer))
}
