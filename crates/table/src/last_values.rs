//! Raw key → last raw value, folded from records in offset order: the catch-up's hot loop.
//!
//! A catch-up looks up one key per record in a table far larger than the CPU caches, so each
//! lookup waits on memory: the bucket, then the key's bytes (compared, then overwritten with
//! the new value). [`LastValues`] is an open-addressing table built so that these waits
//! overlap: [`Folder`] reads records a few ahead, prefetches each one's bucket as it arrives
//! and its entry once the bucket is in cache, and applies a record only when both are.
//! Keys of different records may be looked up out of order; records of one key are applied
//! in order, since a record is applied only after every record before it.
//!
//! An entry is one allocation: a 16-byte header (key length, value length or "none",
//! upserts, tombstones), the key, then room for the value, reused by the next revision.

use std::hash::BuildHasher;

use bytes::Bytes;

/// Bytes before the key in an entry: four u32 fields.
const HEADER: usize = 16;
/// The header's fields, by index.
const KEY_LEN: usize = 0;
const VALUE_LEN: usize = 1;
const UPSERTS: usize = 2;
const TOMBSTONES: usize = 3;
/// The value length of an entry whose last record was a tombstone (or that has none yet).
const NO_VALUE: u32 = u32::MAX;

/// One key's state: header, key bytes, value bytes (and spare room).
pub(crate) struct Entry(Box<[u8]>);

impl Entry {
    fn new(key: &[u8], value_room: usize) -> Entry {
        let mut buf = vec![0u8; HEADER + key.len() + value_room].into_boxed_slice();
        buf[HEADER..HEADER + key.len()].copy_from_slice(key);
        let mut entry = Entry(buf);
        entry.set_field(KEY_LEN, len_u32(key.len()));
        entry.set_field(VALUE_LEN, NO_VALUE);
        entry
    }

    fn field(&self, i: usize) -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.0[i * 4..i * 4 + 4]);
        u32::from_ne_bytes(b)
    }

    fn set_field(&mut self, i: usize, v: u32) {
        self.0[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
    }

    fn key_end(&self) -> usize {
        HEADER + self.field(KEY_LEN) as usize
    }

    /// The key's bytes.
    pub fn key(&self) -> &[u8] {
        &self.0[HEADER..self.key_end()]
    }

    /// The last value, `None` after a tombstone.
    pub fn value(&self) -> Option<&[u8]> {
        let len = self.field(VALUE_LEN);
        (len != NO_VALUE).then(|| {
            let at = self.key_end();
            &self.0[at..at + len as usize]
        })
    }

    /// Upserts folded into this entry (restored values not counted).
    pub fn upserts(&self) -> u32 {
        self.field(UPSERTS)
    }

    /// Tombstones folded into this entry.
    pub fn tombstones(&self) -> u32 {
        self.field(TOMBSTONES)
    }

    /// Replaces the value, growing the allocation when it does not fit.
    fn set_value(&mut self, value: Option<&[u8]>) {
        let Some(v) = value else {
            self.set_field(VALUE_LEN, NO_VALUE);
            return;
        };
        let at = self.key_end();
        if self.0.len() - at < v.len() {
            // Some room beyond the new size, so values that grow a little don't reallocate
            // at each revision.
            let mut grown = Entry::new(self.key(), v.len() + v.len() / 8);
            grown.0[..HEADER].copy_from_slice(&self.0[..HEADER]);
            *self = grown;
        }
        self.0[at..at + v.len()].copy_from_slice(v);
        self.set_field(VALUE_LEN, len_u32(v.len()));
    }

    /// Folds one record's value in (`None`: a tombstone), counting it.
    fn fold(&mut self, value: Option<&[u8]>) {
        self.set_value(value);
        let counter = if value.is_some() { UPSERTS } else { TOMBSTONES };
        self.set_field(counter, self.field(counter).saturating_add(1));
    }

    /// The raw key and value, sharing the entry's allocation (for checkpoints).
    pub fn into_raw(self) -> (Bytes, Bytes) {
        let key_end = self.key_end();
        let value_end = key_end + self.value().map_or(0, <[u8]>::len);
        let all = Bytes::from(self.0);
        (all.slice(HEADER..key_end), all.slice(key_end..value_end))
    }

    /// The entry's memory, for prefetching.
    fn as_ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }

    /// Asks the CPU to load the entry's header, key and the start of its value.
    pub fn prefetch(&self) {
        prefetch(self.as_ptr());
        prefetch(self.as_ptr().wrapping_add(64));
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Lengths only: keys and values may be secrets.
        f.debug_struct("Entry")
            .field("key_len", &self.key().len())
            .field("value_len", &self.value().map(<[u8]>::len))
            .finish()
    }
}

/// A length that fits in u32: record fields are bounded by Kafka's i32 sizes.
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(NO_VALUE - 1)
}

/// A bucket: an entry and its key's full hash (compared before the key; also where the
/// entry goes when the table grows).
#[derive(Default)]
struct Bucket {
    hash: u64,
    entry: Option<Entry>,
}

/// The table: linear probing over a power-of-two number of buckets, at most 3/4 full.
#[derive(Default)]
pub(crate) struct LastValues {
    buckets: Vec<Bucket>,
    len: usize,
    hasher: hashbrown::DefaultHashBuilder,
}

impl std::fmt::Debug for LastValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LastValues")
            .field("keys", &self.len)
            .field("buckets", &self.buckets.len())
            .finish()
    }
}

/// How many records [`Folder`] reads ahead of the one it applies. Enough for the memory
/// loads of that many lookups to be in flight at once.
const AHEAD: usize = 16;
/// A record's bucket is read (and its entry prefetched) this many records after its bucket
/// was prefetched.
const ENTRY_AHEAD: usize = AHEAD / 2;

impl LastValues {
    /// Distinct keys.
    pub fn len(&self) -> usize {
        self.len
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    /// The bucket holding `key`, or the empty bucket where it would go.
    fn find(&self, hash: u64, key: &[u8]) -> Result<usize, usize> {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        loop {
            let b = &self.buckets[i];
            match &b.entry {
                None => return Err(i),
                Some(e) if b.hash == hash && e.key() == key => return Ok(i),
                Some(_) => i = (i + 1) & mask,
            }
        }
    }

    /// Makes room for one more key; true when the table grew (bucket positions moved).
    fn reserve_one(&mut self) -> bool {
        let cap = self.buckets.len();
        if (self.len + 1) * 4 <= cap * 3 {
            return false;
        }
        let new_cap = (cap * 2).max(64);
        let old = std::mem::replace(
            &mut self.buckets,
            std::iter::repeat_with(Bucket::default)
                .take(new_cap)
                .collect(),
        );
        let mask = new_cap - 1;
        for b in old {
            if b.entry.is_some() {
                let mut i = b.hash as usize & mask;
                while self.buckets[i].entry.is_some() {
                    i = (i + 1) & mask;
                }
                self.buckets[i] = b;
            }
        }
        true
    }

    /// Folds one record in (`value` `None`: a tombstone), with no lookahead.
    #[cfg(test)]
    pub fn fold(&mut self, key: &[u8], value: Option<&[u8]>) {
        let hash = self.hash(key);
        self.fold_hashed(hash, key, value);
    }

    fn fold_hashed(&mut self, hash: u64, key: &[u8], value: Option<&[u8]>) {
        self.entry_mut(hash, key, value.map_or(0, <[u8]>::len))
            .fold(value);
    }

    /// The entry of `key`, created (with room for `value_room` bytes) when new.
    fn entry_mut(&mut self, hash: u64, key: &[u8], value_room: usize) -> &mut Entry {
        let i = if self.buckets.is_empty() {
            Err(0)
        } else {
            self.find(hash, key)
        };
        let i = match i {
            Ok(i) => i,
            Err(empty) => {
                // Growing moves the buckets: then look for the empty one again.
                let i = if self.reserve_one() {
                    self.find(hash, key).unwrap_err()
                } else {
                    empty
                };
                self.buckets[i] = Bucket {
                    hash,
                    entry: Some(Entry::new(key, value_room)),
                };
                self.len += 1;
                i
            }
        };
        self.buckets[i]
            .entry
            .as_mut()
            .expect("found buckets hold an entry")
    }

    /// Sets `key`'s value without counting it (a value restored from a checkpoint).
    pub fn restore(&mut self, key: &[u8], value: &[u8]) {
        let hash = self.hash(key);
        self.entry_mut(hash, key, value.len())
            .set_value(Some(value));
    }

    /// A folder that applies records in order with their lookups overlapped.
    pub fn folder(&mut self) -> Folder<'_, '_> {
        Folder {
            table: self,
            ahead: [(0, &[], None); AHEAD],
            head: 0,
            queued: 0,
        }
    }

    /// Every entry, emptying the table (whose buckets are freed first). Entries lie all over
    /// the heap, so the iterator prefetches a few entries ahead of the one it returns.
    pub fn into_entries(self) -> IntoEntries {
        let entries: Vec<Entry> = self.buckets.into_iter().filter_map(|b| b.entry).collect();
        IntoEntries {
            entries: entries.into_iter(),
        }
    }
}

/// The entries of a [`LastValues`] (see [`LastValues::into_entries`]).
pub(crate) struct IntoEntries {
    entries: std::vec::IntoIter<Entry>,
}

impl Iterator for IntoEntries {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        const AHEAD: usize = 8;
        if let Some(e) = self.entries.as_slice().get(AHEAD) {
            e.prefetch();
        }
        self.entries.next()
    }
}

/// Prefetches the cache line at `p`. A hint only: it never faults, whatever the address.
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 has no architectural effect (it cannot fault, on any address), and
    // SSE is part of the x86_64 baseline.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// One record waiting in a [`Folder`]: its key's hash, key and value.
type Pending<'r> = (u64, &'r [u8], Option<&'r [u8]>);

/// Folds records into a [`LastValues`] with up to [`AHEAD`] lookups in flight. Records are
/// applied in the order pushed; [`Folder::finish`] (or dropping the folder) applies the rest.
pub(crate) struct Folder<'t, 'r> {
    table: &'t mut LastValues,
    /// A ring of records not applied yet, oldest at `head`.
    ahead: [Pending<'r>; AHEAD],
    head: usize,
    queued: usize,
}

impl<'r> Folder<'_, 'r> {
    /// Queues one keyed record; applies the oldest queued one when the queue is full.
    pub fn push(&mut self, key: &'r [u8], value: Option<&'r [u8]>) {
        if self.queued == AHEAD {
            self.apply_oldest();
        }
        let hash = self.table.hash(key);
        if let Some(b) = self.table.buckets.get(hash as usize & self.table.mask()) {
            prefetch((b as *const Bucket).cast());
        }
        // The record queued ENTRY_AHEAD ago has its bucket in cache by now: prefetch the
        // entry it probably belongs to (a full-hash match; the key is compared when applied).
        if self.queued >= ENTRY_AHEAD {
            let (h, _, _) = self.ahead[(self.head + self.queued - ENTRY_AHEAD) % AHEAD];
            self.prefetch_entry(h);
        }
        self.ahead[(self.head + self.queued) % AHEAD] = (hash, key, value);
        self.queued += 1;
    }

    fn prefetch_entry(&self, hash: u64) {
        let t = &*self.table;
        let mask = t.mask();
        let mut i = hash as usize & mask;
        // A few buckets at most: the table is at most 3/4 full.
        for _ in 0..4 {
            let Some(b) = t.buckets.get(i) else { return };
            match &b.entry {
                None => return,
                Some(e) if b.hash == hash => {
                    e.prefetch();
                    return;
                }
                Some(_) => i = (i + 1) & mask,
            }
        }
    }

    fn apply_oldest(&mut self) {
        let (hash, key, value) = self.ahead[self.head];
        self.head = (self.head + 1) % AHEAD;
        self.queued -= 1;
        self.table.fold_hashed(hash, key, value);
    }

    /// Applies every queued record.
    pub fn finish(&mut self) {
        while self.queued > 0 {
            self.apply_oldest();
        }
    }
}

impl Drop for Folder<'_, '_> {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A key's last value, upserts and tombstones.
    type ModelEntry = (Option<Vec<u8>>, u32, u32);

    /// A reference model: the last value and the counts per key.
    #[derive(Default, Debug, PartialEq)]
    struct Model(HashMap<Vec<u8>, ModelEntry>);

    impl Model {
        fn fold(&mut self, key: &[u8], value: Option<&[u8]>) {
            let e = self.0.entry(key.to_vec()).or_default();
            e.0 = value.map(<[u8]>::to_vec);
            if value.is_some() {
                e.1 += 1;
            } else {
                e.2 += 1;
            }
        }
    }

    fn contents(t: LastValues) -> Model {
        let mut m = Model::default();
        for e in t.into_entries() {
            let prev = m.0.insert(
                e.key().to_vec(),
                (e.value().map(<[u8]>::to_vec), e.upserts(), e.tombstones()),
            );
            assert!(prev.is_none(), "a key held twice");
        }
        m
    }

    /// Records over `keys` keys whose values change length, with some tombstones.
    fn records(n: usize, keys: usize) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        (0..n)
            .map(|i| {
                let key = format!("k{}", (i * 7919) % keys).into_bytes();
                let value = (i % 11 != 0).then(|| vec![b'a' + (i % 26) as u8; (i * 31) % 300]);
                (key, value)
            })
            .collect()
    }

    #[test]
    fn folding_ahead_gives_what_folding_one_by_one_gives() {
        for (n, keys) in [(0, 1), (5, 3), (40, 3), (10_000, 1_000), (30_000, 20_000)] {
            let recs = records(n, keys);
            let mut model = Model::default();
            let mut one_by_one = LastValues::default();
            let mut ahead = LastValues::default();
            {
                let mut folder = ahead.folder();
                for (k, v) in &recs {
                    model.fold(k, v.as_deref());
                    one_by_one.fold(k, v.as_deref());
                    folder.push(k, v.as_deref());
                }
            }
            assert_eq!(one_by_one.len(), model.0.len());
            assert_eq!(ahead.len(), model.0.len());
            assert_eq!(contents(one_by_one), model, "{n} records over {keys} keys");
            assert_eq!(
                contents(ahead),
                model,
                "ahead: {n} records over {keys} keys"
            );
        }
    }

    #[test]
    fn restored_values_are_not_counted_and_empty_values_are_data() {
        let mut t = LastValues::default();
        t.restore(b"a", b"1");
        t.fold(b"b", Some(b""));
        t.fold(b"", Some(b"empty key"));
        let m = contents(t);
        assert_eq!(m.0[&b"a"[..]], (Some(b"1".to_vec()), 0, 0));
        assert_eq!(m.0[&b"b"[..]], (Some(Vec::new()), 1, 0));
        assert_eq!(m.0[&b""[..]], (Some(b"empty key".to_vec()), 1, 0));
    }

    #[test]
    fn into_entries_yields_every_entry_once() {
        let mut t = LastValues::default();
        for i in 0..1000u32 {
            t.fold(&i.to_be_bytes(), Some(b"v"));
        }
        let mut keys: Vec<Vec<u8>> = t.into_entries().map(|e| e.key().to_vec()).collect();
        keys.sort();
        let expected: Vec<Vec<u8>> = (0..1000u32).map(|i| i.to_be_bytes().to_vec()).collect();
        assert_eq!(keys, expected);
        assert_eq!(LastValues::default().into_entries().count(), 0);
    }
}
