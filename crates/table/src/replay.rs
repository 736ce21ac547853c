//! Deferred decoding for catch-up: replaying raw bytes, decoding each key's last value once.
//!
//! During catch-up most records are superseded by a later record of the same key before
//! anyone can read them, so decoding every value is wasted work. [`Replay`] folds records into
//! a table of raw key → last raw value ([`LastValues`]: the value bytes copied into room that
//! is reused for the next revision), and [`Replay::materialize`] decodes keys and values once
//! at the gate. A key whose last value does not decode needs its last value that does: such keys
//! are returned to the reader, which replays their history exactly (see `repair` in
//! `table.rs`). Counting differs from applying record by record only for superseded values,
//! which are never decoded (docs/ARCHITECTURE.md, "Tables").

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::apply::Counters;
use crate::config::TableConfig;
use crate::last_values::{Folder, LastValues};
use crate::map::TableMap;

/// Raw keys and their last values, folded from records in offset order.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    values: LastValues,
    keyless: u64,
}

/// What [`Replay::materialize`] built.
pub(crate) struct Materialized<V> {
    /// Decoded keys and values.
    pub map: TableMap<V>,
    /// The raw key and value of every key in `map` (kept only for checkpoints).
    pub raw: imbl::HashMap<Arc<str>, (Bytes, Bytes)>,
    /// Raw keys whose last value did not decode: their history must be replayed exactly.
    pub repair: HashSet<Box<[u8]>>,
}

/// Folds the records of one poll into a [`Replay`], a few lookups in flight at a time
/// (see [`crate::last_values`]). Dropping it applies what is still queued.
pub(crate) struct ReplayFolder<'t, 'r> {
    values: Folder<'t, 'r>,
    keyless: &'t mut u64,
}

impl<'r> ReplayFolder<'_, 'r> {
    /// Folds one record's key and value in (`None` key: keyless; `None` value: tombstone).
    pub fn push(&mut self, key: Option<&'r [u8]>, value: Option<&'r [u8]>) {
        match key {
            Some(key) => self.values.push(key, value),
            None => *self.keyless += 1,
        }
    }
}

impl Replay {
    /// Seeds `key` with a value restored from a checkpoint (not counted as applied).
    pub fn restore(&mut self, key: &[u8], value: &[u8]) {
        self.values.restore(key, value);
    }

    /// Folds one record's key and value in (`None` key: keyless; `None` value: tombstone).
    #[cfg(test)]
    pub fn fold(&mut self, key: Option<&[u8]>, value: Option<&[u8]>) {
        self.folder().push(key, value);
    }

    /// A folder for the records of one poll.
    pub fn folder(&mut self) -> ReplayFolder<'_, '_> {
        ReplayFolder {
            values: self.values.folder(),
            keyless: &mut self.keyless,
        }
    }

    /// Decodes every key and each key's last value, counting as applying would, and builds
    /// the map. With `keep_raw`, the raw values are kept for checkpoints. One thread: more
    /// would each allocate from a fresh malloc arena, growing it page by page, while the
    /// memory the replay just freed sits in this thread's; at 100 000 keys two threads took
    /// as long as one with 18 % more CPU, and decoding as runtime tasks was slower still
    /// (frees across arenas contend; docs/PERFORMANCE.md).
    pub fn materialize<V>(
        self,
        config: &TableConfig<V>,
        counters: &Counters,
        keep_raw: bool,
    ) -> Materialized<V> {
        counters
            .keyless_records
            .fetch_add(self.keyless, Ordering::Relaxed);
        let (mut applied, mut tombstones, mut bad_keys) = (0u64, 0u64, 0u64);
        let mut base = hashbrown::HashMap::with_capacity(self.values.len());
        let mut raw = imbl::HashMap::new();
        let mut repair = HashSet::new();
        for entry in self.values.into_entries() {
            let (upserts, deletes) = (u64::from(entry.upserts()), u64::from(entry.tombstones()));
            let key: Arc<str> = match (config.key_decoder)(entry.key()) {
                Ok(k) => k,
                Err(e) => {
                    bad_keys += upserts + deletes;
                    tracing::debug!(topic = %config.topic, error = %e, records = upserts + deletes, "key skipped");
                    continue;
                }
            };
            let Some(raw_value) = entry.value() else {
                applied += upserts;
                tombstones += deletes;
                continue;
            };
            match (config.value_decoder)(raw_value) {
                Ok(v) => {
                    applied += upserts;
                    tombstones += deletes;
                    if keep_raw {
                        raw.insert(key.clone(), entry.into_raw());
                    }
                    base.insert(key, Arc::new(v));
                }
                // Counted by the exact replay of this key's history.
                Err(_) => {
                    repair.insert(entry.key().into());
                }
            }
        }
        counters
            .records_applied
            .fetch_add(applied, Ordering::Relaxed);
        counters
            .tombstones_applied
            .fetch_add(tombstones, Ordering::Relaxed);
        counters
            .key_decode_errors
            .fetch_add(bad_keys, Ordering::Relaxed);
        Materialized {
            map: TableMap::from_base(base),
            raw,
            repair,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkit_client::ClientConfig;

    fn record(
        offset: i64,
        key: Option<&str>,
        value: Option<&str>,
    ) -> kafkit_client::ConsumerRecord {
        kafkit_client::ConsumerRecord {
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
            replay.fold(r.key.as_deref(), r.value.as_deref());
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

/// The catch-up's CPU cost without a broker: `cargo test --release -p kafkit-table --lib
/// replay_speed -- --ignored --nocapture`. Folds 1 M records (100 k keys, ~100-byte JSON
/// values, batches of 1 000 as the benchmark's producer writes them) and materializes them.
#[cfg(test)]
mod speed {
    use super::*;
    use kafkit_client::ClientConfig;
    use kafkit_record::{BatchBuilder, Compression, DecodeOptions, RecordBatch};
    use std::time::Instant;

    #[test]
    #[ignore = "a measurement; run in release"]
    fn replay_speed() {
        let (n, keys, per_batch) = (1_000_000usize, 100_000usize, 1_000usize);
        let batches: Vec<RecordBatch> = (0..n / per_batch)
            .map(|b| {
                let mut builder = BatchBuilder::new((b * per_batch) as i64, 0);
                for i in b * per_batch..(b + 1) * per_batch {
                    let key = format!("key-{}", i % keys);
                    let value = format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(80));
                    builder.push(0, Some(key.as_bytes()), Some(value.as_bytes()), &[]);
                }
                let bytes = builder.finish(Compression::None, None).unwrap();
                RecordBatch::decode(&bytes, &DecodeOptions::default()).unwrap()
            })
            .collect();
        let config =
            TableConfig::<Box<serde_json::value::RawValue>>::json(ClientConfig::new(["x:1"]), "t");
        for round in 0..3 {
            let t0 = Instant::now();
            let mut parsed = 0usize;
            for b in &batches {
                for r in b.record_refs() {
                    parsed += r.unwrap().value.map_or(0, <[u8]>::len);
                }
            }
            let parse = t0.elapsed();
            let t0 = Instant::now();
            for _ in 0..50 {
                for b in &batches[..20] {
                    for r in b.record_refs() {
                        parsed += r.unwrap().value.map_or(0, <[u8]>::len);
                    }
                }
            }
            let parse_cached = t0.elapsed();
            let t0 = Instant::now();
            let mut replay = Replay::default();
            {
                let mut folder = replay.folder();
                for b in &batches {
                    for r in b.record_refs() {
                        let r = r.unwrap();
                        folder.push(r.key, r.value);
                    }
                }
            }
            let fold = t0.elapsed();
            let t0 = Instant::now();
            let out = replay.materialize(&config, &Counters::default(), false);
            let materialize = t0.elapsed();
            assert_eq!(out.map.len(), keys);
            let t0 = Instant::now();
            drop(out);
            println!(
                "round {round}: parse {parse:?} (in cache {parse_cached:?}; {parsed} value bytes), parse+fold {fold:?}, materialize {materialize:?}, drop {:?}",
                t0.elapsed()
            );
        }
    }
}
