//! Deferred decoding for catch-up: replaying raw bytes, decoding each key's last value once.
//!
//! During catch-up most records are superseded by a later record of the same key before
//! anyone can read them, so decoding every value is wasted work. [`Replay`] folds records into
//! a plain hash map of raw key → last raw value (the value bytes copied into a buffer that is
//! reused for the next revision), and [`Replay::materialize`] decodes keys and values once at
//! the gate. A key whose last value does not decode needs its last value that does: such keys
//! are returned to the reader, which replays their history exactly (see `repair` in
//! `table.rs`). Counting differs from applying record by record only for superseded values,
//! which are never decoded (docs/ARCHITECTURE.md, "Tables").

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use kafkit_client::ConsumerRecord;

use crate::apply::Counters;
use crate::config::TableConfig;

/// One raw key's state during replay.
#[derive(Debug, Default)]
struct Slot {
    /// The last value's bytes (its capacity is reused for the next revision).
    value: Vec<u8>,
    /// False after a tombstone.
    live: bool,
    /// Upserts and tombstones read for this key in this replay (not from a checkpoint).
    upserts: u32,
    tombstones: u32,
}

/// Raw keys and their last values, folded from records in offset order.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    slots: HashMap<Box<[u8]>, Slot>,
    keyless: u64,
}

/// What [`Replay::materialize`] built.
pub(crate) struct Materialized<V> {
    /// Decoded keys and values.
    pub map: imbl::HashMap<Arc<str>, Arc<V>>,
    /// The raw key and value of every key in `map` (kept only for checkpoints).
    pub raw: imbl::HashMap<Arc<str>, (Bytes, Bytes)>,
    /// Raw keys whose last value did not decode: their history must be replayed exactly.
    pub repair: HashSet<Box<[u8]>>,
}

impl Replay {
    /// Seeds `key` with a value restored from a checkpoint (not counted as applied).
    pub fn restore(&mut self, key: &[u8], value: &[u8]) {
        self.slots.insert(
            key.into(),
            Slot {
                value: value.to_vec(),
                live: true,
                upserts: 0,
                tombstones: 0,
            },
        );
    }

    /// Folds one record in.
    pub fn fold(&mut self, record: &ConsumerRecord) {
        let Some(key) = &record.key else {
            self.keyless += 1;
            return;
        };
        let slot = match self.slots.get_mut(key.as_ref()) {
            Some(slot) => slot,
            None => self.slots.entry(key.as_ref().into()).or_default(),
        };
        match &record.value {
            Some(value) => {
                slot.value.clear();
                slot.value.extend_from_slice(value);
                slot.live = true;
                slot.upserts += 1;
            }
            None => {
                slot.value = Vec::new();
                slot.live = false;
                slot.tombstones += 1;
            }
        }
    }

    /// Decodes every key and each key's last value, counting as applying would. With
    /// `keep_raw`, the raw values are kept for checkpoints.
    pub fn materialize<V>(
        self,
        config: &TableConfig<V>,
        counters: &Counters,
        keep_raw: bool,
    ) -> Materialized<V> {
        let mut out = Materialized {
            map: imbl::HashMap::new(),
            raw: imbl::HashMap::new(),
            repair: HashSet::new(),
        };
        counters
            .keyless_records
            .fetch_add(self.keyless, Ordering::Relaxed);
        for (raw_key, slot) in self.slots {
            let key: Arc<str> = match (config.key_decoder)(&raw_key) {
                Ok(k) => Arc::from(k),
                Err(e) => {
                    let n = u64::from(slot.upserts) + u64::from(slot.tombstones);
                    counters.key_decode_errors.fetch_add(n, Ordering::Relaxed);
                    tracing::debug!(topic = %config.topic, error = %e, records = n, "key skipped");
                    continue;
                }
            };
            if !slot.live {
                counters
                    .records_applied
                    .fetch_add(slot.upserts.into(), Ordering::Relaxed);
                counters
                    .tombstones_applied
                    .fetch_add(slot.tombstones.into(), Ordering::Relaxed);
                continue;
            }
            match (config.value_decoder)(&slot.value) {
                Ok(v) => {
                    counters
                        .records_applied
                        .fetch_add(slot.upserts.into(), Ordering::Relaxed);
                    counters
                        .tombstones_applied
                        .fetch_add(slot.tombstones.into(), Ordering::Relaxed);
                    if keep_raw {
                        let raw = (Bytes::from(raw_key), Bytes::from(slot.value));
                        out.raw.insert(key.clone(), raw);
                    }
                    out.map.insert(key, Arc::new(v));
                }
                // Counted by the exact replay of this key's history.
                Err(_) => {
                    out.repair.insert(raw_key);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkit_client::ClientConfig;

    fn record(offset: i64, key: Option<&str>, value: Option<&str>) -> ConsumerRecord {
        ConsumerRecord {
            topic: Arc::from("t"),
            partition: 0,
            offset,
            timestamp: 0,
            key: key.map(|k| Bytes::copy_from_slice(k.as_bytes())),
            value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            headers: Vec::new(),
        }
    }

    #[test]
    fn the_last_value_wins_and_counts_match_applying_one_by_one() {
        let config = TableConfig::<u32>::new(ClientConfig::new(["x:1"]), "t", |b| {
            std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| "not a number".to_string())
        });
        let mut replay = Replay::default();
        let records = [
            record(0, Some("a"), Some("1")),
            record(1, Some("a"), Some("2")),
            record(2, Some("b"), Some("7")),
            record(3, Some("b"), None),
            record(4, None, Some("9")),
            record(5, Some("c"), Some("5")),
            record(6, Some("c"), Some("x")),
            record(7, Some("d"), None),
        ];
        for r in &records {
            replay.fold(r);
        }
        replay.restore(b"e", b"42");
        let counters = Counters::default();
        let out = replay.materialize(&config, &counters, true);
        assert_eq!(out.map.get("a").map(|v| **v), Some(2));
        assert_eq!(out.map.get("e").map(|v| **v), Some(42));
        assert!(!out.map.contains_key("b") && !out.map.contains_key("d"));
        assert!(!out.map.contains_key("c"), "c's last value needs a repair");
        assert_eq!(out.repair, HashSet::from([Box::from(&b"c"[..])]));
        assert_eq!(out.raw.get("a").map(|b| &b.1[..]), Some(&b"2"[..]));
        let n = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        assert_eq!(n(&counters.records_applied), 3, "a twice, b once");
        assert_eq!(n(&counters.tombstones_applied), 2);
        assert_eq!(n(&counters.keyless_records), 1);
    }
}
