//! A registry shared by the server's requests, its changes kept in a `_schemas` topic of a
//! kafkit storage (a Kafka cluster or a local directory) or only in memory.
//!
//! Every change is planned on the registry, written to the topic, and only then applied:
//! what a client was told is registered survives a restart. The topic is read whole when the
//! registry opens, and again from where it was before each change is planned and after it is
//! written, so processes sharing a topic (kafkit commands on one local storage, say) see each
//! other's schemas; on local files, writers of one partition in two processes take turns (a
//! writer holds the partition's lock while its storage is open). There is no leader election
//! as in Confluent's registry: two processes registering new schemas in the same instant may
//! both take the next id. The topic's order settles it: the first record keeps the id, every
//! reader skips the second, and its writer, finding its record skipped when it reads back,
//! plans again (a bounded number of times).

use kafkit_store::{AnyStorage, NewRecord, ReadFrom, RecordReader, Storage};
use tokio::sync::{Mutex, MutexGuard};

use crate::error::RegistryError;
use crate::journal::JournalRecord;
use crate::registry::{Planned, Registry};

/// Where the registry's changes go.
struct Journal {
    storage: AnyStorage,
    topic: String,
    /// The offset after the last record applied (changed under the registry's lock).
    next: std::sync::atomic::AtomicI64,
}

impl Journal {
    /// Applies the journal's records from `next` on to `registry`; records that do not apply
    /// are skipped, said, and returned.
    async fn catch_up(
        &self,
        registry: &mut Registry,
    ) -> Result<(u64, Vec<JournalRecord>), RegistryError> {
        use std::sync::atomic::Ordering;
        let topic = &self.topic;
        let store_error =
            |e: kafkit_store::StoreError| RegistryError::store(format!("{topic}: {e}"));
        let from = self.next.load(Ordering::Acquire);
        let start = match from {
            0 => ReadFrom::Beginning,
            _ => ReadFrom::Offsets([(0, from)].into_iter().collect()),
        };
        let mut reader = self
            .storage
            .reader(topic, Some(&[0]), start, false)
            .await
            .map_err(store_error)?;
        let mut records = 0u64;
        let mut skipped = Vec::new();
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
                    skipped.push(record);
                }
                self.next.store(r.offset + 1, Ordering::Release);
                records += 1;
            }
        }
        Ok((records, skipped))
    }
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
        let journal = Journal {
            storage,
            topic: topic.to_string(),
            next: std::sync::atomic::AtomicI64::new(0),
        };
        let mut registry = Registry::new();
        let (records, _) = journal.catch_up(&mut registry).await?;
        tracing::info!(topic, records, storage = %journal.storage.describe(), "registry read");
        Ok(RegistryService {
            registry: Mutex::new(registry),
            journal: Some(journal),
        })
    }

    /// The registry, for reading (writers wait meanwhile).
    pub async fn read(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().await
    }

    /// Plans a change on the registry, writes its records to the journal, then applies them;
    /// returns the plan's answer. Nothing is applied when the journal refuses the records.
    /// `plan` runs again when another writer's record took what it planned (a new id).
    pub async fn write<T>(
        &self,
        mut plan: impl FnMut(&Registry) -> Result<Planned<T>, RegistryError>,
    ) -> Result<T, RegistryError> {
        /// How many times a change is planned again after losing a race for an id.
        const ATTEMPTS: usize = 5;
        let mut registry = self.registry.lock().await;
        let Some(journal) = &self.journal else {
            let Planned { answer, records } = plan(&registry)?;
            for r in &records {
                registry.apply(r).map_err(RegistryError::store)?;
            }
            return Ok(answer);
        };
        journal.catch_up(&mut registry).await?;
        for _ in 0..ATTEMPTS {
            let Planned { answer, records } = plan(&registry)?;
            if records.is_empty() {
                return Ok(answer);
            }
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
            // What was written, and whatever another writer put before it, in the topic's
            // order.
            let (_, skipped) = journal.catch_up(&mut registry).await?;
            if !records.iter().any(|r| skipped.contains(r)) {
                return Ok(answer);
            }
        }
        Err(RegistryError::store(format!(
            "{}: other writers took the ids planned {ATTEMPTS} times in a row",
            journal.topic
        )))
    }
}

#[cfg(test)]
mod tests {
    use kafkit_store::LocalStorage;

    use super::*;
    use crate::model::Schema;

    #[tokio::test]
    async fn two_services_on_one_topic_see_each_others_schemas_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        // One storage handle: a partition's writer holds its directory's lock for as long as
        // the handle lives, so writers in two processes take turns.
        let storage = LocalStorage::open(dir.path()).unwrap();
        let open = || async {
            let storage = AnyStorage::Local(storage.clone());
            RegistryService::open(storage, "_schemas").await.unwrap()
        };
        let (a, b) = (open().await, open().await);
        let x = a
            .write(|r| r.plan_register("x", Schema::avro(r#""int""#)))
            .await
            .unwrap();
        // b opened before a wrote; it catches up before planning, so ids do not clash.
        let y = b
            .write(|r| r.plan_register("y", Schema::avro(r#""long""#)))
            .await
            .unwrap();
        assert_eq!((x, y), (1, 2));
        assert_eq!(b.read().await.subjects(false), ["x", "y"]);
        // a sees y at its next write (the same schema again: no new record).
        a.write(|r| r.plan_register("x", Schema::avro(r#""int""#)))
            .await
            .unwrap();
        assert_eq!(a.read().await.subjects(false), ["x", "y"]);
        assert_eq!(open().await.read().await.subjects(false), ["x", "y"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_that_loses_the_race_for_an_id_registers_again() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::open(dir.path()).unwrap();
        let open = || async {
            let storage = AnyStorage::Local(storage.clone());
            RegistryService::open(storage, "_schemas").await.unwrap()
        };
        let (a, b) = (open().await, open().await);
        let runtime = tokio::runtime::Handle::current();
        let mut raced = false;
        // b plans id 1 for y; before it writes, a (another process) takes id 1 for x.
        let y = b
            .write(|r| {
                if !raced {
                    raced = true;
                    let a_wrote = tokio::task::block_in_place(|| {
                        runtime
                            .block_on(a.write(|r| r.plan_register("x", Schema::avro(r#""int""#))))
                    });
                    assert_eq!(a_wrote.unwrap(), 1);
                }
                r.plan_register("y", Schema::avro(r#""long""#))
            })
            .await
            .unwrap();
        assert_eq!(y, 2, "y registered again with the next free id");
        let check = |registry: &Registry| {
            assert_eq!(registry.schema(1).unwrap().text, r#""int""#);
            assert_eq!(registry.schema(2).unwrap().text, r#""long""#);
            assert_eq!(registry.subjects(false), ["x", "y"]);
        };
        check(&*b.read().await);
        // Every reader of the topic settles the race the same way.
        check(&*open().await.read().await);
    }
}
