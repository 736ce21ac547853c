//! [`TableWriter`]: upserts and tombstones, each awaited until acknowledged.

use std::sync::Arc;

use kafkit_client::{ClientConfig, Producer, ProducerConfig, ProducerRecord};

use crate::error::TableError;

/// Encodes a value for the topic.
pub type ValueEncoder<V> = Arc<dyn Fn(&V) -> Result<Vec<u8>, String> + Send + Sync>;

/// Writes a table's topic: `set` upserts, `delete` writes a tombstone. Keys are UTF-8 bytes,
/// so a key always maps to the same partition (murmur2). Idempotent (acks=all) by default.
pub struct TableWriter<V> {
    producer: Producer,
    topic: String,
    encoder: ValueEncoder<V>,
}

impl<V> std::fmt::Debug for TableWriter<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableWriter")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl<V> TableWriter<V> {
    /// A writer of `topic` with `encoder` for values.
    pub async fn new(
        config: ProducerConfig,
        topic: impl Into<String>,
        encoder: impl Fn(&V) -> Result<Vec<u8>, String> + Send + Sync + 'static,
    ) -> Result<Self, TableError> {
        Ok(TableWriter {
            producer: Producer::connect(config).await?,
            topic: topic.into(),
            encoder: Arc::new(encoder),
        })
    }

    /// Upserts `key` and waits for the broker's acknowledgement.
    pub async fn set(&self, key: &str, value: &V) -> Result<(), TableError> {
        let bytes = (self.encoder)(value).map_err(|message| TableError::Encode {
            key: key.to_string(),
            message,
        })?;
        self.producer
            .send_and_wait(
                ProducerRecord::new(self.topic.clone())
                    .key(key.as_bytes().to_vec())
                    .value(bytes),
            )
            .await?;
        Ok(())
    }

    /// Deletes `key` (a tombstone) and waits for the acknowledgement.
    pub async fn delete(&self, key: &str) -> Result<(), TableError> {
        self.producer
            .send_and_wait(ProducerRecord::new(self.topic.clone()).key(key.as_bytes().to_vec()))
            .await?;
        Ok(())
    }
}

impl<V: serde::Serialize> TableWriter<V> {
    /// A writer with JSON values.
    pub async fn json(client: ClientConfig, topic: impl Into<String>) -> Result<Self, TableError> {
        Self::new(ProducerConfig::new(client), topic, |v: &V| {
            serde_json::to_vec(v).map_err(|e| e.to_string())
        })
        .await
    }
}
