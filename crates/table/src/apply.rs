//! Applying one record to the map, exactly as ktables does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use kafkit_client::ConsumerRecord;

use crate::config::TableConfig;
use crate::map::TableMap;

/// Counters of what was applied and skipped.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub records_applied: AtomicU64,
    pub tombstones_applied: AtomicU64,
    pub keyless_records: AtomicU64,
    pub key_decode_errors: AtomicU64,
    pub value_decode_errors: AtomicU64,
    pub hook_errors: AtomicU64,
    pub checkpoint_restored: AtomicU64,
    pub checkpoints_written: AtomicU64,
    pub checkpoint_errors: AtomicU64,
}

/// One key's change: what it was and what it is now (`None`: absent).
#[derive(Debug)]
pub struct Change<V> {
    /// The key.
    pub key: Arc<str>,
    /// The value before (`None`: the key was absent).
    pub old: Option<Arc<V>>,
    /// The value after (`None`: deleted by a tombstone).
    pub new: Option<Arc<V>>,
}

impl<V> Clone for Change<V> {
    fn clone(&self) -> Self {
        Change {
            key: self.key.clone(),
            old: self.old.clone(),
            new: self.new.clone(),
        }
    }
}

fn add(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Applies `record`: a null key or a key that does not decode is skipped; a null value
/// removes the key (an empty value is data); a value that does not decode is skipped and
/// the old value kept. Each skip is counted.
pub(crate) fn apply<V>(
    map: &mut TableMap<V>,
    record: &ConsumerRecord,
    config: &TableConfig<V>,
    counters: &Counters,
) -> Option<Change<V>> {
    let Some(key) = &record.key else {
        add(&counters.keyless_records);
        return None;
    };
    let key: Arc<str> = match (config.key_decoder)(key) {
        Ok(k) => k,
        Err(e) => {
            add(&counters.key_decode_errors);
            tracing::debug!(topic = %record.topic, partition = record.partition, offset = record.offset, error = %e, "key skipped");
            return None;
        }
    };
    match &record.value {
        None => {
            let old = map.remove(&key);
            add(&counters.tombstones_applied);
            if let Some(hook) = &config.on_delete {
                if let Err(e) = hook(&key) {
                    add(&counters.hook_errors);
                    tracing::warn!(topic = %record.topic, %key, error = %e, "on_delete hook failed");
                }
            }
            Some(Change {
                key,
                old,
                new: None,
            })
        }
        Some(bytes) => match (config.value_decoder)(bytes) {
            Ok(v) => {
                let new = Arc::new(v);
                if let Some(hook) = &config.on_set {
                    if let Err(e) = hook(&key, &new) {
                        add(&counters.hook_errors);
                        tracing::warn!(topic = %record.topic, %key, error = %e, "on_set hook failed");
                    }
                }
                let old = map.insert(key.clone(), new.clone());
                add(&counters.records_applied);
                Some(Change {
                    key,
                    old,
                    new: Some(new),
                })
            }
            Err(e) => {
                add(&counters.value_decode_errors);
                tracing::warn!(topic = %record.topic, partition = record.partition, offset = record.offset, %key, error = %e, "value skipped; the previous value is kept");
                None
            }
        },
    }
}
