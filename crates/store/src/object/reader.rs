//! [`ObjectReader`]: an object storage topic's partitions read in offset order, a segment
//! object at a time.
//!
//! As on local files, a batch that does not decode stops only its own partition: the reader
//! hands out every healthy record first, then a [`StoreError::CorruptBatch`] naming topic,
//! partition, the offsets it could not read (up to the end of the bad segment object) and the
//! object; asked for more, it goes on after that segment. A `next_records` whose caller goes
//! away loses nothing: what it read waits in the reader for the next call.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use kafkit_record::{BatchReader, DecodeOptions, RecordBatch};
use object_store::{GetOptions, ObjectStoreExt};

use super::manifest::{Manifest, SegmentEntry};
use super::{ObjectStorage, FOLLOW_POLL};
use crate::emulated;
use crate::error::{Result, StoreError};
use crate::types::ConsumerRecord;
use crate::RecordReader;

/// Segment bytes read per call, about (at least one segment).
const READ_BYTES: u64 = 1 << 20;

/// A segment object's batches: the good ones in order, then the problem that stopped the
/// read, if any.
#[derive(Debug, Default)]
pub(super) struct SegmentBatches {
    pub batches: Vec<RecordBatch>,
    /// What is wrong after the good batches.
    pub bad: Option<String>,
}

/// A bad stretch of a partition: offsets `from..to` of the segment object `object`.
#[derive(Debug, Clone)]
struct BadStretch {
    from: i64,
    to: i64,
    object: String,
    message: String,
}

/// Reads an object storage topic's partitions in offset order.
#[derive(Debug)]
pub struct ObjectReader {
    storage: ObjectStorage,
    topic: Arc<str>,
    follow: bool,
    /// The group whose offsets a group reader commits.
    pub(super) group: Option<String>,
    /// Per partition: next offset, and where to stop (`None`: follow).
    cursors: BTreeMap<i32, (i64, Option<i64>)>,
    /// Per partition, the manifest as last read and its entity tag.
    manifests: HashMap<i32, (Manifest, Option<String>)>,
    /// Bad stretches met and not yet handed out.
    bad: BTreeMap<i32, BadStretch>,
    /// Records read and not yet handed out (their call's caller went away).
    unclaimed: Vec<ConsumerRecord>,
    /// Where the next call starts, so partitions take turns.
    turn: usize,
}

impl ObjectStorage {
    /// The batches of the segment object `entry`; `None` when the object is gone (merged or
    /// deleted since the manifest named it).
    pub(super) async fn read_segment(
        &self,
        topic: &str,
        partition: i32,
        entry: &SegmentEntry,
    ) -> Result<Option<SegmentBatches>> {
        let path = self.segment_path(topic, partition, &entry.object);
        let bytes = match self.store.get(&path).await {
            Ok(got) => got.bytes().await,
            Err(e) => Err(e),
        };
        let bytes = match bytes {
            Ok(b) => b,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.object_err(&path, "read", e)),
        };
        Ok(Some(decode_segment(bytes, entry)))
    }

    /// The partition's first offset at or after `timestamp` (see
    /// [`crate::Storage::offsets_for_times`]).
    pub(super) async fn offset_for_time(
        &self,
        topic: &str,
        partition: i32,
        timestamp: i64,
    ) -> Result<Option<i64>> {
        let manifest = self.manifest(topic, partition).await?.value;
        let (low, _) = manifest.watermarks();
        for entry in manifest
            .segments
            .iter()
            .filter(|s| s.max_timestamp >= timestamp && s.next_offset > low)
        {
            let path = self.segment_path(topic, partition, &entry.object);
            let read = self.read_segment(topic, partition, entry).await?;
            let read = read.ok_or_else(|| StoreError::Corrupt {
                path: self.display_path(&path).into(),
                message: "the segment object the manifest names is missing".into(),
            })?;
            let found = emulated::first_at_time(&read.batches, timestamp, low, |message| {
                StoreError::Corrupt {
                    path: self.display_path(&path).into(),
                    message,
                }
            })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }
}

/// The whole, valid batches of a segment object, in order; a batch that does not decode, a
/// batch out of the segment's offsets, or bytes cut short end it with `bad`.
fn decode_segment(bytes: Bytes, entry: &SegmentEntry) -> SegmentBatches {
    let mut out = SegmentBatches::default();
    let mut next = entry.base_offset;
    let mut used = 0u64;
    for batch in BatchReader::new(bytes.clone(), DecodeOptions::default()) {
        match batch {
            Ok(b)
                if b.header.base_offset >= next && b.header.next_offset() <= entry.next_offset =>
            {
                next = b.header.next_offset();
                used += b.raw().len() as u64;
                out.batches.push(b);
            }
            Ok(b) => {
                out.bad = Some(format!(
                    "a batch at offset {} is out of place (the segment holds {}..{})",
                    b.header.base_offset, entry.base_offset, entry.next_offset
                ));
                return out;
            }
            Err(e) => {
                out.bad = Some(e.to_string());
                return out;
            }
        }
    }
    if used != bytes.len() as u64 || bytes.len() as u64 != entry.bytes {
        out.bad = Some(format!(
            "the object holds {} bytes where the manifest says {}, whole batches end at {used}",
            bytes.len(),
            entry.bytes
        ));
    }
    out
}

impl ObjectReader {
    pub(super) fn new(
        storage: ObjectStorage,
        topic: &str,
        cursors: BTreeMap<i32, (i64, Option<i64>)>,
        follow: bool,
    ) -> Self {
        ObjectReader {
            storage,
            topic: Arc::from(topic),
            follow,
            group: None,
            cursors,
            manifests: HashMap::new(),
            bad: BTreeMap::new(),
            unclaimed: Vec::new(),
            turn: 0,
        }
    }

    /// The partition's manifest, read again when `fresh` (only when it changed: a
    /// conditional get).
    async fn manifest(&mut self, p: i32, fresh: bool) -> Result<&Manifest> {
        let cached = self.manifests.get(&p).and_then(|(_, tag)| tag.clone());
        if fresh || !self.manifests.contains_key(&p) {
            let path = self.storage.manifest_path(&self.topic, p);
            let options = GetOptions {
                if_none_match: cached.filter(|_| self.manifests.contains_key(&p)),
                ..Default::default()
            };
            match self.storage.store.get_opts(&path, options).await {
                Ok(got) => {
                    let tag = got.meta.e_tag.clone();
                    let bytes = got
                        .bytes()
                        .await
                        .map_err(|e| self.storage.object_err(&path, "read", e))?;
                    let m: Manifest =
                        serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                            path: self.storage.display_path(&path).into(),
                            message: format!("line {}: {e}", e.line()),
                        })?;
                    self.manifests.insert(p, (m, tag));
                }
                Err(object_store::Error::NotModified { .. }) => {}
                Err(object_store::Error::NotFound { .. }) => {
                    self.manifests.insert(p, (Manifest::default(), None));
                }
                Err(e) => return Err(self.storage.object_err(&path, "read", e)),
            }
        }
        Ok(&self.manifests[&p].0)
    }

    /// Reads partition `p` from `next`: the records of the segment holding it. Returns the
    /// bytes read.
    async fn read_partition(&mut self, p: i32, next: &mut i64, stop: Option<i64>) -> Result<u64> {
        let topic = self.topic.clone();
        let mut fresh = false;
        for _ in 0..3 {
            let manifest = self.manifest(p, fresh).await?;
            // Records deleted under this reader: go on from the new log start.
            *next = (*next).max(manifest.log_start);
            let Some(entry) = manifest.segment_from(*next).cloned() else {
                if fresh {
                    return Ok(0);
                }
                fresh = true;
                continue;
            };
            let Some(read) = self.storage.read_segment(&topic, p, &entry).await? else {
                // Merged or deleted since the manifest was read: read it again.
                fresh = true;
                continue;
            };
            let start = (*next).max(entry.base_offset);
            let mut records = Vec::new();
            let path = self.storage.segment_path(&topic, p, &entry.object);
            let mut at = start;
            for batch in &read.batches {
                emulated::push_records(
                    batch,
                    (&topic, p),
                    (start, stop),
                    &mut records,
                    |message| StoreError::CorruptBatch {
                        topic: topic.to_string(),
                        partition: p,
                        base_offset: batch.header.base_offset,
                        next_offset: batch.header.next_offset(),
                        path: self.storage.display_path(&path).into(),
                        message,
                    },
                )?;
                at = at.max(batch.header.next_offset());
            }
            if let Some(message) = read.bad {
                // Held back until the healthy partitions are read; the partition resumes
                // after this segment.
                self.bad.insert(
                    p,
                    BadStretch {
                        from: at,
                        to: entry.next_offset,
                        object: self.storage.display_path(&path),
                        message,
                    },
                );
            }
            *next = entry.next_offset;
            self.unclaimed.extend(records);
            return Ok(entry.bytes);
        }
        Ok(0)
    }

    /// Reads about [`READ_BYTES`] from the partitions in turn, into the unclaimed records.
    async fn read_some(&mut self) -> Result<()> {
        let partitions: Vec<i32> = self.cursors.keys().copied().collect();
        let count = partitions.len().max(1);
        let mut read = 0;
        for i in 0..partitions.len() {
            let p = partitions[(self.turn + i) % count];
            let (mut next, stop) = self.cursors[&p];
            if stop.is_some_and(|s| next >= s) || self.bad.contains_key(&p) {
                continue;
            }
            read += self.read_partition(p, &mut next, stop).await?;
            self.cursors.insert(p, (next, stop));
            if read >= READ_BYTES {
                self.turn = (self.turn + i + 1) % count;
                return Ok(());
            }
        }
        self.turn = (self.turn + 1) % count;
        Ok(())
    }

    fn take_bad(&mut self) -> Option<StoreError> {
        let (p, bad) = self.bad.pop_first()?;
        Some(StoreError::CorruptBatch {
            topic: self.topic.to_string(),
            partition: p,
            base_offset: bad.from,
            next_offset: bad.to,
            path: bad.object.into(),
            message: bad.message,
        })
    }
}

impl RecordReader for ObjectReader {
    async fn next_records(&mut self) -> Result<Option<Vec<ConsumerRecord>>> {
        loop {
            let before = self.positions();
            if self.unclaimed.is_empty() {
                self.read_some().await?;
            }
            if !self.unclaimed.is_empty() {
                return Ok(Some(std::mem::take(&mut self.unclaimed)));
            }
            if let Some(bad) = self.take_bad() {
                return Err(bad);
            }
            if !self.follow {
                if before == self.positions() {
                    return Ok(None);
                }
                continue;
            }
            tokio::time::sleep(FOLLOW_POLL).await;
        }
    }

    fn positions(&self) -> BTreeMap<i32, i64> {
        let mut at: BTreeMap<i32, i64> = self.cursors.iter().map(|(&p, (n, _))| (p, *n)).collect();
        // Records read but not handed out yet are not past.
        for r in self.unclaimed.iter().rev() {
            at.insert(r.partition, r.offset);
        }
        at
    }

    async fn commit(&mut self, handled: &BTreeMap<i32, i64>) -> Result<()> {
        match &self.group {
            Some(group) if !handled.is_empty() => {
                let offsets = BTreeMap::from([(self.topic.to_string(), handled.clone())]);
                crate::Storage::commit(&self.storage, group, &offsets).await
            }
            _ => Ok(()),
        }
    }

    async fn close(&mut self, handled: &BTreeMap<i32, i64>) -> Result<()> {
        self.commit(handled).await
    }
}
