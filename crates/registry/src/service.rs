//! A registry shared by the server's requests, its changes kept in a `_schemas` topic of a
//! kafkit storage (a Kafka cluster or a local directory) or only in memory.
//!
//! Every change is planned on the registry, written to the topic, and only then applied:
//! what a client was told is registered survives a restart. One registry process writes a
//! topic at a time (there is no leader election as in Confluent's registry); it reads the
//! topic whole when it opens.

use kafkit_store::{AnyStorage, NewRecord, ReadFrom, RecordReader, Storage};
use tokio::sync::{Mutex, MutexGuard};

use crate::error::RegistryError;
use crate::journal::JournalRecord;
use crate::registry::{Planned, Registry};

/// Where the registry's changes go.
struct Journal {
    storage: AnyStorage,
    topic: String,
}

/// A registry for concurrent callers, with its journal.
pub struct RegistryService {
    registry: Mutex<Registry>,
    journal: Option<Journal>,
}

impl std::fmt::Debug for RegistryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryService")
            .field(
                "journal",
                &self
                    .journal
                    .as_ref()
                    .map(|j| format!("{} topic {}", j.storage.describe(), j.topic)),
            )
            .finish()
    }
}

impl RegistryService {
    /// A registry kept in memory only (for tests, and for trying things out).
    pub fn in_memory() -> RegistryService {
        RegistryService {
            registry: Mutex::new(Registry::new()),
            journal: None,
        }
    }

    /// Opens the registry kept in `topic` of `storage` (created, compacted, with one
    /// partition, when missing) and reads it whole.
    pub async fn open(storage: AnyStorage, topic: &str) -> Result<RegistryService, RegistryError> {
        let store_error =
            |e: kafkit_store::StoreError| RegistryError::store(format!("{topic}: {e}"));
        if !storage.exists(topic).await.map_err(store_error)? {
            let configs = [("cleanup.policy".to_string(), "compact".to_string())];
            storage
                .create_topic(topic, 1, &configs)
                .await
                .map_err(store_error)?;
        }
        let mut registry = Registry::new();
        let mut reader = storage
            .reader(topic, None, ReadFrom::Beginning, false)
            .await
            .map_err(store_error)?;
        let mut records = 0u64;
        while let Some(batch) = reader.next_records().await.map_err(store_error)? {
            for r in batch {
                let record = JournalRecord {
                    key: String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned(),
                    value: r.value.map(|v| String::from_utf8_lossy(&v).into_owned()),
                };
                if let Err(e) = registry.apply(&record) {
                    // Confluent's registry would stop here; one bad record should not
                    // take every schema down, so it is skipped and said.
                    tracing::warn!(topic, offset = r.offset, error = %e, "a _schemas record skipped");
                }
                records += 1;
            }
        }
        tracing::info!(topic, records, storage = %storage.describe(), "registry read");
        Ok(RegistryService {
            registry: Mutex::new(registry),
            journal: Some(Journal {
                storage,
                topic: topic.to_string(),
            }),
        })
    }

    /// The registry, for reading (writers wait meanwhile).
    pub async fn read(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().await
    }

    /// Plans a change on the registry, writes its records to the journal, then applies them;
    /// returns the plan's answer. Nothing is applied when the journal refuses the records.
    pub async fn write<T>(
        &self,
        plan: impl FnOnce(&Registry) -> Result<Planned<T>, RegistryError>,
    ) -> Result<T, RegistryError> {
        let mut registry = self.registry.lock().await;
        let Planned { answer, records } = plan(&registry)?;
        if records.is_empty() {
            return Ok(answer);
        }
        if let Some(journal) = &self.journal {
            let new: Vec<NewRecord> = records
                .iter()
                .map(|r| NewRecord {
                    key: Some(r.key.clone().into()),
                    value: r.value.clone().map(Into::into),
                    partition: Some(0),
                    ..Default::default()
                })
                .collect();
            journal
                .storage
                .append(&journal.topic, new)
                .await
                .map_err(|e| RegistryError::store(format!("{}: {e}", journal.topic)))?;
        }
        for r in &records {
            registry.apply(r).map_err(RegistryError::store)?;
        }
        Ok(answer)
    }
}
