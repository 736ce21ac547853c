//! Appends to an object storage's partition: new segment objects, then the manifest switched
//! with a conditional put; again at the new end when another writer switched it first.
//!
//! Small appends (a line at a time from a slow input) would leave one tiny object each, so an
//! append whose data and the newest segment together stay under [`MERGE_BYTES`] writes them
//! as one new object that replaces the newest in the same switch; the replaced object is
//! removed after the switch. Large appends are cut into objects of about [`SEGMENT_BYTES`].

use bytes::{Bytes, BytesMut};
use kafkit_record::RecordBatch;
use object_store::{ObjectStoreExt, PutMode};

use super::manifest::{Manifest, PutRefused, SegmentEntry, Versioned};
use super::{backoff, ObjectStorage, ATTEMPTS};
use crate::emulated::{self, EncodedBatch};
use crate::error::{Result, StoreError};
use crate::types::NewRecord;

/// An append merges into the newest segment while both together stay under this size.
pub(super) const MERGE_BYTES: u64 = 1 << 20;

/// Large appends are cut into segment objects of about this size.
pub(super) const SEGMENT_BYTES: u64 = 8 << 20;

/// What this process knows of a partition it writes: the manifest as it last read or wrote
/// it, and the bytes of the newest segment when it wrote that one (to merge into it without
/// reading it back).
#[derive(Debug, Default)]
pub(super) struct Tail {
    manifest: Option<Versioned<Manifest>>,
    newest: Option<(String, Bytes)>,
}

/// One batch to append: its bytes and what the manifest needs of it.
#[derive(Clone, Debug)]
struct Piece {
    bytes: Bytes,
    base_offset: i64,
    next_offset: i64,
    max_timestamp: i64,
}

impl Piece {
    fn of_batch(batch: &RecordBatch) -> Piece {
        Piece {
            bytes: batch.raw().clone(),
            base_offset: batch.header.base_offset,
            next_offset: batch.header.next_offset(),
            max_timestamp: batch.header.max_timestamp,
        }
    }

    /// The batch moved to start at `base` (the base offset is not under the batch's CRC).
    fn rebased(&self, base: i64) -> Piece {
        let mut bytes = BytesMut::from(&self.bytes[..]);
        bytes[0..8].copy_from_slice(&base.to_be_bytes());
        Piece {
            bytes: bytes.freeze(),
            base_offset: base,
            next_offset: base + (self.next_offset - self.base_offset),
            max_timestamp: self.max_timestamp,
        }
    }
}

/// A segment object to write.
struct NewSegment {
    entry: SegmentEntry,
    bytes: Bytes,
}

/// A fresh object name for a segment starting at `base`: never one that exists (objects are
/// created only if absent, so a clash is a refused write, never an overwrite).
fn segment_name(base: i64) -> String {
    format!("{base:020}-{:016x}.log", rand::random::<u64>())
}

/// Cuts `pieces` into segments of about [`SEGMENT_BYTES`], the first one after `merge_with`
/// (the newest segment and its bytes) when given.
fn segments_of(pieces: &[Piece], merge_with: Option<(&SegmentEntry, Bytes)>) -> Vec<NewSegment> {
    let mut out: Vec<NewSegment> = Vec::new();
    let mut current: Option<(SegmentEntry, BytesMut)> = merge_with.map(|(e, b)| {
        let mut buf = BytesMut::with_capacity(b.len() + 64);
        buf.extend_from_slice(&b);
        (e.clone(), buf)
    });
    for piece in pieces {
        let full = current
            .as_ref()
            .is_some_and(|(e, _)| e.bytes + piece.bytes.len() as u64 > SEGMENT_BYTES);
        if full {
            let (entry, buf) = current.take().expect("checked");
            out.push(NewSegment {
                entry,
                bytes: buf.freeze(),
            });
        }
        let (entry, buf) = current.get_or_insert_with(|| {
            (
                SegmentEntry {
                    base_offset: piece.base_offset,
                    next_offset: piece.base_offset,
                    max_timestamp: i64::MIN,
                    bytes: 0,
                    object: String::new(),
                },
                BytesMut::new(),
            )
        });
        buf.extend_from_slice(&piece.bytes);
        entry.next_offset = piece.next_offset;
        entry.max_timestamp = entry.max_timestamp.max(piece.max_timestamp);
        entry.bytes += piece.bytes.len() as u64;
    }
    if let Some((entry, buf)) = current {
        out.push(NewSegment {
            entry,
            bytes: buf.freeze(),
        });
    }
    for s in &mut out {
        s.entry.object = segment_name(s.entry.base_offset);
    }
    out
}

/// How pieces take their offsets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Offsets {
    /// Ours to place: at the partition's end, wherever that is when the write lands.
    AtEnd,
    /// As given (a byte-faithful copy): each must start at or after the partition's end.
    Kept,
}

impl ObjectStorage {
    fn tail(&self, topic: &str, partition: i32) -> std::sync::Arc<tokio::sync::Mutex<Tail>> {
        let mut tails = self.tails.lock().unwrap_or_else(|e| e.into_inner());
        tails
            .entry((topic.to_string(), partition))
            .or_default()
            .clone()
    }

    /// Appends records, one batch per partition (see [`crate::Storage::append`]).
    pub(super) async fn append_records(
        &self,
        topic: &str,
        records: Vec<NewRecord>,
    ) -> Result<Vec<(i32, i64)>> {
        let meta = self.meta(topic).await?.value;
        let now = emulated::now_ms();
        let by_partition = emulated::route(topic, &records, meta.partitions, &self.spread)?;
        let mut placed = vec![(0, 0); records.len()];
        for (p, indexes) in by_partition {
            let EncodedBatch {
                bytes,
                records: count,
                max_timestamp,
            } = emulated::encode_batch(topic, &records, &indexes, 0, meta.compression(), now)?;
            let piece = Piece {
                bytes,
                base_offset: 0,
                next_offset: count,
                max_timestamp,
            };
            let base = self.write(topic, p, vec![piece], Offsets::AtEnd).await?;
            for (delta, &i) in indexes.iter().enumerate() {
                placed[i] = (p, base + delta as i64);
            }
        }
        Ok(placed)
    }

    /// Appends `batches` to `partition` exactly as given: the bytes a broker served, offsets
    /// included (a byte-faithful backup). Each must start at or after the partition's next
    /// offset.
    pub async fn append_batches(
        &self,
        topic: &str,
        partition: i32,
        batches: &[RecordBatch],
    ) -> Result<()> {
        let meta = self.meta(topic).await?.value;
        meta.check_partition(topic, partition)?;
        if batches.is_empty() {
            return Ok(());
        }
        let pieces = batches.iter().map(Piece::of_batch).collect();
        self.write(topic, partition, pieces, Offsets::Kept)
            .await
            .map(drop)
    }

    /// Writes `pieces` at the partition's end; returns the offset of the first.
    async fn write(
        &self,
        topic: &str,
        partition: i32,
        pieces: Vec<Piece>,
        offsets: Offsets,
    ) -> Result<i64> {
        let tail = self.tail(topic, partition);
        let mut tail = tail.lock().await;
        for attempt in 0..ATTEMPTS {
            let Versioned { value, version } = match tail.manifest.take() {
                Some(m) => m,
                None => self.manifest(topic, partition).await?,
            };
            let end = value.next_offset;
            let pieces = match offsets {
                Offsets::AtEnd => rebase_all(&pieces, end),
                Offsets::Kept => {
                    check_follows(
                        &pieces,
                        end,
                        &self.display_path(&self.partition_dir(topic, partition)),
                    )?;
                    pieces.clone()
                }
            };
            let last_next = pieces.last().map_or(end, |p| p.next_offset);
            if last_next == i64::MAX {
                return Err(StoreError::Invalid(format!(
                    "{}: no offsets left after {end}",
                    self.display_path(&self.partition_dir(topic, partition))
                )));
            }
            let merge = self
                .merge_candidate(&tail, topic, partition, &value, &pieces)
                .await?;
            let replaced = merge.as_ref().map(|(e, _)| e.object.clone());
            let segments = segments_of(&pieces, merge.as_ref().map(|(e, b)| (e, b.clone())));
            let mut written = Vec::new();
            for s in &segments {
                let path = self.segment_path(topic, partition, &s.entry.object);
                match self.put_if(&path, s.bytes.clone(), PutMode::Create).await {
                    Ok(_) => written.push(path),
                    Err(refused) => {
                        self.remove_quietly(&written).await;
                        return Err(match refused {
                            PutRefused::Failed(e) => e,
                            PutRefused::Changed => StoreError::Invalid(format!(
                                "{}: a segment object of that name exists already",
                                self.display_path(&path)
                            )),
                        });
                    }
                }
            }
            let mut next = value.clone();
            if replaced.is_some() {
                next.segments.pop();
            }
            next.segments
                .extend(segments.iter().map(|s| s.entry.clone()));
            next.next_offset = last_next;
            let path = self.manifest_path(topic, partition);
            match self.put_json(&path, &next, version).await {
                Ok(version) => {
                    tail.newest = segments
                        .last()
                        .map(|s| (s.entry.object.clone(), s.bytes.clone()));
                    tail.manifest = Some(Versioned {
                        value: next,
                        version: Some(version),
                    });
                    if let Some(old) = replaced {
                        let old = self.segment_path(topic, partition, &old);
                        self.remove_quietly(&[old]).await;
                    }
                    return Ok(pieces.first().map_or(end, |p| p.base_offset));
                }
                Err(PutRefused::Changed) => {
                    // Another writer switched the manifest first: ours never counted.
                    self.remove_quietly(&written).await;
                    tail.newest = None;
                    tracing::debug!(
                        topic,
                        partition,
                        attempt,
                        "manifest changed by another writer; trying again"
                    );
                    backoff(attempt).await;
                }
                Err(PutRefused::Failed(e)) => {
                    self.remove_quietly(&written).await;
                    tail.newest = None;
                    return Err(e);
                }
            }
        }
        Err(StoreError::Conflict {
            what: format!("topic '{topic}' partition {partition} on {}", self.name),
            attempts: ATTEMPTS,
        })
    }

    /// The newest segment and its bytes, when `pieces` should be merged into it.
    async fn merge_candidate(
        &self,
        tail: &Tail,
        topic: &str,
        partition: i32,
        manifest: &Manifest,
        pieces: &[Piece],
    ) -> Result<Option<(SegmentEntry, Bytes)>> {
        let adding: u64 = pieces.iter().map(|p| p.bytes.len() as u64).sum();
        let Some(newest) = manifest.segments.last() else {
            return Ok(None);
        };
        if newest.bytes + adding > MERGE_BYTES || newest.next_offset <= manifest.log_start {
            return Ok(None);
        }
        if let Some((name, bytes)) = &tail.newest {
            if *name == newest.object && bytes.len() as u64 == newest.bytes {
                return Ok(Some((newest.clone(), bytes.clone())));
            }
        }
        let path = self.segment_path(topic, partition, &newest.object);
        let bytes = match self.store.get(&path).await {
            Ok(got) => got.bytes().await,
            Err(e) => Err(e),
        };
        match bytes {
            Ok(b) if b.len() as u64 == newest.bytes => Ok(Some((newest.clone(), b))),
            // Not as the manifest says (damaged, or removed meanwhile): leave it be.
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.object_err(&path, "read", e)),
        }
    }

    /// Removes objects that no manifest names (a write that did not count, a merged
    /// segment); a failure is only logged: such objects are never read.
    async fn remove_quietly(&self, paths: &[object_store::path::Path]) {
        for p in paths {
            if let Err(e) = self.store.delete(p).await {
                tracing::warn!(object = %self.display_path(p), error = %e, "could not remove an unused segment object");
            }
        }
    }

    /// Deletes the partition's records before `offset` (`-1`: its end); returns its new low
    /// watermark.
    pub(super) async fn delete_records_of(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<i64> {
        let tail = self.tail(topic, partition);
        let mut tail = tail.lock().await;
        for attempt in 0..ATTEMPTS {
            let Versioned { mut value, version } = self.manifest(topic, partition).await?;
            let (low, high) = value.watermarks();
            let offset = if offset == -1 { high } else { offset };
            if !(0..=high).contains(&offset) {
                return Err(StoreError::Invalid(format!(
                    "topic '{topic}' partition {partition}: cannot delete records before offset \
                     {offset}: it is outside 0..={high} (the high watermark)"
                )));
            }
            let new_low = low.max(offset);
            value.log_start = new_low;
            let (gone, kept): (Vec<SegmentEntry>, Vec<SegmentEntry>) = value
                .segments
                .drain(..)
                .partition(|s| s.next_offset <= new_low);
            value.segments = kept;
            match self
                .put_json(&self.manifest_path(topic, partition), &value, version)
                .await
            {
                Ok(version) => {
                    tail.newest = None;
                    tail.manifest = Some(Versioned {
                        value,
                        version: Some(version),
                    });
                    let paths: Vec<_> = gone
                        .iter()
                        .map(|s| self.segment_path(topic, partition, &s.object))
                        .collect();
                    self.remove_quietly(&paths).await;
                    return Ok(new_low);
                }
                Err(PutRefused::Changed) => backoff(attempt).await,
                Err(PutRefused::Failed(e)) => return Err(e),
            }
        }
        Err(StoreError::Conflict {
            what: format!("topic '{topic}' partition {partition} on {}", self.name),
            attempts: ATTEMPTS,
        })
    }
}

/// `pieces` moved to start at `end`, one after the other.
fn rebase_all(pieces: &[Piece], end: i64) -> Vec<Piece> {
    let mut at = end;
    pieces
        .iter()
        .map(|p| {
            let moved = if p.base_offset == at {
                p.clone()
            } else {
                p.rebased(at)
            };
            at = moved.next_offset;
            moved
        })
        .collect()
}

/// Refuses batches that would go back in offsets (each must start at or after the one
/// before, the first at or after `end`).
fn check_follows(pieces: &[Piece], end: i64, at: &str) -> Result<()> {
    let mut next = end;
    for p in pieces {
        if p.base_offset < next {
            return Err(StoreError::Invalid(format!(
                "{at}: a batch at offset {} cannot follow offset {} (offsets only grow; copy \
                 into a new topic, or from offset {next} on)",
                p.base_offset,
                next - 1
            )));
        }
        next = p.next_offset;
    }
    Ok(())
}
