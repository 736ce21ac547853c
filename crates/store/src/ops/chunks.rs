//! Values larger than a broker takes, as several records: [`split`] cuts a value into
//! chunks written as consecutive records of one partition, each with the headers
//! [`CHUNK_ID`], [`CHUNK_INDEX`] and [`CHUNK_COUNT`]; [`Assembled`] (the reader
//! [`ReadSpec::open`](super::read::ReadSpec::open) gives) joins them back into one record,
//! so `cat`, `cp`, `export` and the functional methods see the whole value.
//!
//! The joined record has the key, timestamp and headers of the first chunk (the user's
//! headers travel on it alone) and the offset of the last, so that committing the offset
//! after it passes every chunk. While a message is being joined, the reader's positions stay
//! at its first chunk, so a resumed read gets the message again from its start. A message
//! whose chunks stop short (its writer died) is left out, with a warning, when the read
//! ends or [`MAX_GAP_RECORDS`] other records of its partition went by; what is held is
//! bounded by [`MAX_HELD_BYTES`].
//!
//! ```
//! use kafkit_store::ops::chunks::{split, Assembler};
//! use kafkit_store::{ConsumerRecord, NewRecord};
//! let value = vec![7u8; 2500];
//! let chunks = split(NewRecord::new(Some("k"), Some(value.clone())), 1000, None);
//! assert_eq!(chunks.len(), 3);
//! let mut joiner = Assembler::default();
//! let mut whole = Vec::new();
//! for (offset, c) in chunks.into_iter().enumerate() {
//!     let read = ConsumerRecord {
//!         offset: offset as i64,
//!         key: c.key,
//!         value: c.value,
//!         headers: c.headers,
//!         ..Default::default()
//!     };
//!     whole.extend(joiner.push(read).unwrap());
//! }
//! assert_eq!(whole.len(), 1);
//! assert_eq!(whole[0].value.as_deref(), Some(&value[..]));
//! assert_eq!(whole[0].offset, 2);
//!
//! // While a message is being joined, readers stay at its first chunk.
//! let mut joiner = Assembler::default();
//! let chunks = split(NewRecord::new(Some("k"), Some(value)), 1000, None);
//! for (offset, c) in chunks.into_iter().take(2).enumerate() {
//!     let read = ConsumerRecord { offset: 10 + offset as i64, headers: c.headers, value: c.value, ..Default::default() };
//!     assert!(joiner.push(read).unwrap().is_none());
//! }
//! assert_eq!(joiner.holding()[&0], 10);
//! joiner.finish();
//! assert_eq!(joiner.incomplete, 1);
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use kafkit_record::Header;

use crate::error::{Result, StoreError};
use crate::types::{ConsumerRecord, NewRecord};
use crate::RecordReader;

/// The header naming the message a chunk belongs to (unique per message).
pub const CHUNK_ID: &str = "kafkit.chunk.id";
/// The header giving a chunk's place in its message, from 0.
pub const CHUNK_INDEX: &str = "kafkit.chunk.index";
/// The header giving how many chunks the message has.
pub const CHUNK_COUNT: &str = "kafkit.chunk.count";
/// Most bytes of unfinished messages a reader holds.
pub const MAX_HELD_BYTES: usize = 1 << 30;

/// A new message id: the time, the process and a counter.
fn message_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!(
        "{nanos:016x}-{:08x}-{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `record` as chunks of at most `chunk_size` value bytes, in order; a value that fits (or
/// a tombstone) stays one record, untouched. Every chunk goes to one partition: the
/// record's, else `keyless_partition` for a record without a key (a keyed record's chunks
/// share its key, so its partition).
pub fn split(
    record: NewRecord,
    chunk_size: usize,
    keyless_partition: Option<i32>,
) -> Vec<NewRecord> {
    let chunk_size = chunk_size.max(1);
    let Some(value) = record.value.as_ref().filter(|v| v.len() > chunk_size) else {
        return vec![record];
    };
    let count = value.len().div_ceil(chunk_size);
    let id = Bytes::from(message_id());
    let partition = record.partition.or(if record.key.is_none() {
        keyless_partition
    } else {
        None
    });
    (0..count)
        .map(|i| {
            let mut headers = vec![
                Header::new(CHUNK_ID, Some(id.clone())),
                Header::new(CHUNK_INDEX, Some(i.to_string())),
                Header::new(CHUNK_COUNT, Some(count.to_string())),
            ];
            if i == 0 {
                headers.extend(record.headers.iter().cloned());
            }
            let end = ((i + 1) * chunk_size).min(value.len());
            NewRecord {
                key: record.key.clone(),
                value: Some(value.slice(i * chunk_size..end)),
                headers,
                partition,
                timestamp: record.timestamp,
            }
        })
        .collect()
}

/// A chunk's id, index and count, when `r` is one.
fn chunk_of(r: &ConsumerRecord) -> Option<(Bytes, usize, usize)> {
    if r.headers.is_empty() {
        return None;
    }
    let find = |name: &str| {
        r.headers
            .iter()
            .find(|h| h.key.as_ref() == name.as_bytes())
            .and_then(|h| h.value.clone())
    };
    let id = find(CHUNK_ID)?;
    let number = |b: Bytes| std::str::from_utf8(&b).ok()?.parse::<usize>().ok();
    Some((id, number(find(CHUNK_INDEX)?)?, number(find(CHUNK_COUNT)?)?))
}

/// Records of a partition that may pass between two chunks of one message before the
/// message counts as stopped short (its writer died).
pub const MAX_GAP_RECORDS: u64 = 100_000;

/// A message being joined.
#[derive(Debug)]
struct Partial {
    count: usize,
    next: usize,
    /// The first chunk's offset.
    began: i64,
    /// The first chunk (its headers without the chunk headers), offset of the latest.
    first: ConsumerRecord,
    value: BytesMut,
    /// Records of the partition read since the latest chunk.
    gap: u64,
}

/// Joins chunks back into records, per partition and message (messages written at once by
/// several writers may interleave).
#[derive(Debug, Default)]
pub struct Assembler {
    partial: HashMap<(i32, Bytes), Partial>,
    held: usize,
    /// Messages left out because their chunks stopped short.
    pub incomplete: u64,
}

impl Assembler {
    /// Takes in one record read: a record that is not a chunk comes straight back; a chunk
    /// is held until its message is whole, which then comes back as one record.
    pub fn push(&mut self, r: ConsumerRecord) -> Result<Option<ConsumerRecord>> {
        let chunk = chunk_of(&r);
        if !self.partial.is_empty() {
            self.note_gap(r.partition, chunk.as_ref().map(|c| &c.0));
        }
        let Some((id, index, count)) = chunk else {
            return Ok(Some(r));
        };
        let partition = r.partition;
        let slot = (partition, id);
        if index == 0 {
            if let Some(old) = self.partial.remove(&slot) {
                self.abandon(&old, "it began again");
            }
            let mut first = r.clone();
            first.headers.retain(|h| !is_chunk_header(h));
            let value = BytesMut::from(r.value.as_deref().unwrap_or_default());
            self.held += value.len();
            let partial = Partial {
                count,
                next: 1,
                began: r.offset,
                first,
                value,
                gap: 0,
            };
            self.partial.insert(slot.clone(), partial);
        } else {
            let Some(p) = self.partial.get_mut(&slot) else {
                tracing::warn!(
                    topic = %r.topic, partition, offset = r.offset,
                    "a chunk without its message's first chunk is left out"
                );
                return Ok(None);
            };
            if p.next != index || p.count != count {
                let old = self.partial.remove(&slot).expect("present");
                self.abandon(&old, "its chunks are out of order");
                return Ok(None);
            }
            let piece = r.value.as_deref().unwrap_or_default();
            self.held += piece.len();
            p.value.extend_from_slice(piece);
            p.next += 1;
            p.gap = 0;
            p.first.offset = r.offset;
        }
        if self.held > MAX_HELD_BYTES {
            return Err(StoreError::Invalid(format!(
                "topic '{}' partition {partition} offset {}: chunked messages being joined hold \
                 more than {MAX_HELD_BYTES} bytes",
                r.topic, r.offset
            )));
        }
        let whole = self.partial.get(&slot).is_some_and(|p| p.next == p.count);
        if !whole {
            return Ok(None);
        }
        let p = self.partial.remove(&slot).expect("present");
        self.held -= p.value.len();
        let mut record = p.first;
        record.value = Some(p.value.freeze());
        Ok(Some(record))
    }

    /// Counts a record of `partition` (a chunk of message `id`, or none) against the other
    /// messages being joined there; those that waited too long are left out.
    fn note_gap(&mut self, partition: i32, id: Option<&Bytes>) {
        let mut stale = Vec::new();
        for ((p, pid), partial) in self.partial.iter_mut() {
            if *p == partition && Some(pid) != id {
                partial.gap += 1;
                if partial.gap > MAX_GAP_RECORDS {
                    stale.push((*p, pid.clone()));
                }
            }
        }
        for slot in stale {
            let old = self.partial.remove(&slot).expect("present");
            self.abandon(&old, "its chunks stopped short");
        }
    }

    fn abandon(&mut self, p: &Partial, why: &str) {
        self.held -= p.value.len();
        self.incomplete += 1;
        tracing::warn!(
            topic = %p.first.topic, partition = p.first.partition, offset = p.began,
            chunks = p.next, of = p.count,
            "a chunked message is left out: {why}"
        );
    }

    /// Per partition, the first offset of the earliest message being joined.
    pub fn holding(&self) -> BTreeMap<i32, i64> {
        let mut at: BTreeMap<i32, i64> = BTreeMap::new();
        for ((p, _), partial) in &self.partial {
            let e = at.entry(*p).or_insert(partial.began);
            *e = (*e).min(partial.began);
        }
        at
    }

    /// Ends a read: messages still being joined are left out (and counted).
    pub fn finish(&mut self) {
        let left: Vec<Partial> = self.partial.drain().map(|(_, p)| p).collect();
        for p in &left {
            self.abandon(p, "the read ended before its last chunk");
        }
    }
}

fn is_chunk_header(h: &Header) -> bool {
    [CHUNK_ID, CHUNK_INDEX, CHUNK_COUNT]
        .iter()
        .any(|n| h.key.as_ref() == n.as_bytes())
}

/// A reader whose chunked messages come out whole (see the module's documentation).
#[derive(Debug)]
pub struct Assembled<R> {
    inner: R,
    assembler: Assembler,
}

impl<R> Assembled<R> {
    /// Joins the chunks `inner` reads.
    pub fn new(inner: R) -> Self {
        Assembled {
            inner,
            assembler: Assembler::default(),
        }
    }

    /// The reader underneath (for reading raw batches, which keep chunks as they are).
    pub fn inner_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Messages left out so far because their chunks stopped short.
    pub fn incomplete(&self) -> u64 {
        self.assembler.incomplete
    }
}

impl<R: RecordReader> RecordReader for Assembled<R> {
    async fn next_records(&mut self) -> Result<Option<Vec<ConsumerRecord>>> {
        loop {
            let Some(records) = self.inner.next_records().await? else {
                self.assembler.finish();
                return Ok(None);
            };
            let mut out = Vec::with_capacity(records.len());
            for r in records {
                if let Some(r) = self.assembler.push(r)? {
                    out.push(r);
                }
            }
            if !out.is_empty() {
                return Ok(Some(out));
            }
        }
    }

    fn positions(&self) -> BTreeMap<i32, i64> {
        let mut at = self.inner.positions();
        for (p, first) in self.assembler.holding() {
            at.entry(p)
                .and_modify(|o| *o = (*o).min(first))
                .or_insert(first);
        }
        at
    }

    async fn commit(&mut self, handled: &BTreeMap<i32, i64>) -> Result<()> {
        self.inner.commit(handled).await
    }

    async fn close(&mut self, handled: &BTreeMap<i32, i64>) -> Result<()> {
        self.inner.close(handled).await
    }
}
