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

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::apply::Counters;
use crate::config::TableConfig;

/// One raw key's state during replay: key and last value in one buffer, so a fold touches
/// one allocation (its capacity is reused for the next revision).
#[derive(Debug)]
struct Slot {
    /// The key's bytes followed by the last value's.
    data: Vec<u8>,
    key_len: usize,
    /// False after a tombstone.
    live: bool,
    /// Upserts and tombstones read for this key in this replay (not from a checkpoint).
    upserts: u32,
    tombstones: u32,
}

impl Slot {
    fn new(key: &[u8]) -> Self {
        Slot {
            data: key.to_vec(),
            key_len: key.len(),
            live: false,
            upserts: 0,
            tombstones: 0,
        }
    }

    fn key(&self) -> &[u8] {
        &self.data[..self.key_len]
    }

    fn value(&self) -> &[u8] {
        &self.data[self.key_len..]
    }

    fn set(&mut self, value: Option<&[u8]>) {
        self.data.truncate(self.key_len);
        match value {
            Some(v) => {
                self.data.extend_from_slice(v);
                self.live = true;
            }
            None => self.live = false,
        }
    }
}

/// Raw keys and their last values, folded from records in offset order.
#[derive(Default)]
pub(crate) struct Replay {
    slots: hashbrown::HashTable<Slot>,
    hasher: hashbrown::DefaultHashBuilder,
    keyless: u64,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("keys", &self.slots.len())
            .field("keyless", &self.keyless)
            .finish()
    }
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
    /// The slot of `key`, created absent when new.
    fn slot(&mut self, key: &[u8]) -> &mut Slot {
        let hash = self.hasher.hash_one(key);
        let hasher = &self.hasher;
        self.slots
            .entry(hash, |s| s.key() == key, |s| hasher.hash_one(s.key()))
            .or_insert_with(|| Slot::new(key))
            .into_mut()
    }

    /// Seeds `key` with a value restored from a checkpoint (not counted as applied).
    pub fn restore(&mut self, key: &[u8], value: &[u8]) {
        self.slot(key).set(Some(value));
    }

    /// Folds one record's key and value in (`None` key: keyless; `None` value: tombstone).
    pub fn fold(&mut self, key: Option<&[u8]>, value: Option<&[u8]>) {
        let Some(key) = key else {
            self.keyless += 1;
            return;
        };
        let slot = self.slot(key);
        slot.set(value);
        if value.is_some() {
            slot.upserts += 1;
        } else {
            slot.tombstones += 1;
        }
    }

    /// Decodes every key and each key's last value, counting as applying would. With
    /// `keep_raw`, the raw values are kept for checkpoints. Large tables decode on several
    /// threads; the map is then built on this one.
    pub fn materialize<V: Send + Sync>(
        self,
        config: &TableConfig<V>,
        counters: &Counters,
        keep_raw: bool,
    ) -> Materialized<V> {
        counters
            .keyless_records
            .fetch_add(self.keyless, Ordering::Relaxed);
        let slots: Vec<Slot> = self.slots.into_iter().collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(slots.len() / PER_THREAD_AT_LEAST)
            .clamp(1, 8);
        let decoded: Vec<Vec<Decoded<V>>> = if threads == 1 {
            vec![decode_all(slots, config, counters, keep_raw)]
        } else {
            let chunk = slots.len().div_ceil(threads);
            let mut slots = slots;
            let mut chunks = Vec::with_capacity(threads);
            while slots.len() > chunk {
                chunks.push(slots.split_off(slots.len() - chunk));
            }
            chunks.push(slots);
            std::thread::scope(|scope| {
                let handles: Vec<_> = chunks
                    .into_iter()
                    .map(|c| scope.spawn(move || decode_all(c, config, counters, keep_raw)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            })
        };
        let mut out = Materialized {
            map: imbl::HashMap::new(),
            raw: imbl::HashMap::new(),
            repair: HashSet::new(),
        };
        for d in decoded.into_iter().flatten() {
            match d {
                Decoded::Value(key, value, raw) => {
                    if let Some(raw) = raw {
                        out.raw.insert(key.clone(), raw);
                    }
                    out.map.insert(key, value);
                }
                Decoded::Repair(key) => {
                    out.repair.insert(key);
                }
            }
        }
        out
    }
}

/// Below this many keys per thread, decoding stays on one thread.
const PER_THREAD_AT_LEAST: usize = 16 * 1024;

/// One key after decoding.
enum Decoded<V> {
    /// Decoded key and value, and the raw key and value when kept for checkpoints.
    Value(Arc<str>, Arc<V>, Option<(Bytes, Bytes)>),
    /// The last value did not decode: the key's history must be replayed exactly.
    Repair(Box<[u8]>),
}

/// Decodes `slots`, counting what applying them would count.
fn decode_all<V>(
    slots: Vec<Slot>,
    config: &TableConfig<V>,
    counters: &Counters,
    keep_raw: bool,
) -> Vec<Decoded<V>> {
    let (mut applied, mut tombstones, mut bad_keys) = (0u64, 0u64, 0u64);
    let mut out = Vec::with_capacity(slots.len());
    for slot in slots {
        let key: Arc<str> = match (config.key_decoder)(slot.key()) {
            Ok(k) => Arc::from(k),
            Err(e) => {
                let n = u64::from(slot.upserts) + u64::from(slot.tombstones);
                bad_keys += n;
                tracing::debug!(topic = %config.topic, error = %e, records = n, "key skipped");
                continue;
            }
        };
        if !slot.live {
            applied += u64::from(slot.upserts);
            tombstones += u64::from(slot.tombstones);
            continue;
        }
        match (config.value_decoder)(slot.value()) {
            Ok(v) => {
                applied += u64::from(slot.upserts);
                tombstones += u64::from(slot.tombstones);
                let raw = keep_raw.then(|| {
                    let data = Bytes::from(slot.data);
                    (data.slice(..slot.key_len), data.slice(slot.key_len..))
                });
                out.push(Decoded::Value(key, Arc::new(v), raw));
            }
            // Counted by the exact replay of this key's history.
            Err(_) => out.push(Decoded::Repair(slot.key().into())),
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
    out
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
