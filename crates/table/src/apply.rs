//! Applying one record to the map, exactly as ktables does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use kafkit_client::ConsumerRecord;

use crate::config::TableConfig;

/// Counters of what was applied and skipped.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub records_applied: AtomicU64,
    pub tombstones_applied: AtomicU64,
    pub keyless_records: AtomicU64,
    pub key_decode_errors: AtomicU64,
    pub value_decode_errors: AtomicU64,
}

fn add(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Applies `record`: a null key or a key that does not decode is skipped; a null value
/// removes the key (an empty value is data); a value that does not decode is skipped and
/// the old value kept. Each skip is counted.
pub(crate) fn apply<V>(
    map: &mut imbl::HashMap<String, Arc<V>>,
    record: &ConsumerRecord,
    config: &TableConfig<V>,
    counters: &Counters,
) {
    let Some(key) = &record.key else {
        add(&counters.keyless_records);
        return;
    };
    let key = match (config.key_decoder)(key) {
        Ok(k) => k,
        Err(e) => {
            add(&counters.key_decode_errors);
            tracing::debug!(topic = %record.topic, partition = record.partition, offset = record.offset, error = %e, "key skipped");
            return;
        }
    };
    match &record.value {
        None => {
            map.remove(&key);
            add(&counters.tombstones_applied);
        }
        Some(bytes) => match (config.value_decoder)(bytes) {
            Ok(v) => {
                map.insert(key, Arc::new(v));
                add(&counters.records_applied);
            }
            Err(e) => {
                add(&counters.value_decode_errors);
                tracing::warn!(topic = %record.topic, partition = record.partition, offset = record.offset, %key, error = %e, "value skipped; the previous value is kept");
            }
        },
    }
}
