//! [`LocalReader`]: a local topic's partitions read in offset order, a poll at a time.
//!
//! A batch that does not decode stops only its own partition: the reader goes on with the
//! others, and once nothing else is there to read it hands the bad batch out as a
//! [`StoreError::CorruptBatch`] naming topic, partition, offsets and file. Its partition then
//! goes on after the bad batch, so a caller that skips corrupt batches simply reads on.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use super::log::{self, read_batches, read_segments, BadBatch, ReadBatches};
use super::{read_log_start, LocalStorage, FOLLOW_POLL, READ_BYTES};
use crate::error::{Result, StoreError};
use crate::types::Record;
use crate::RecordReader;

/// Reads a local topic's partitions in offset order.
#[derive(Debug)]
pub struct LocalReader {
    pub(super) storage: LocalStorage,
    pub(super) topic: Arc<str>,
    /// Per partition: next offset, and where to stop (`None`: follow).
    pub(super) cursors: BTreeMap<i32, (i64, Option<i64>)>,
    /// Per partition, the segments and index entries as last read; re-read only when the
    /// cursor has gone past them.
    pub(super) segments: HashMap<i32, Vec<log::Segment>>,
    pub(super) follow: bool,
    /// The group whose offsets a group reader commits.
    pub(super) group: Option<String>,
    /// Bad batches met and not yet handed out, by partition; such a partition is not read
    /// until its bad batch was (its cursor already points after it).
    pub(super) bad: BTreeMap<i32, BadBatch>,
}

/// The batches at `next` from `segments`, moving `next` to the following segment when it is
/// past the end of its own; empty when nothing indexed is at or after `next`.
fn batches_at(dir: &Path, segments: &[log::Segment], next: &mut i64) -> Result<ReadBatches> {
    loop {
        let Some(segment) = segments
            .iter()
            .rev()
            .find(|s| s.base_offset <= *next)
            .or(segments.first())
        else {
            return Ok(ReadBatches::default());
        };
        let read = read_batches(dir, segment, *next, READ_BYTES)?;
        if !read.batches.is_empty() || read.bad.is_some() {
            return Ok(read);
        }
        match segments.iter().find(|s| s.base_offset > *next) {
            Some(later) => *next = later.base_offset,
            None => return Ok(ReadBatches::default()),
        }
    }
}

impl LocalReader {
    /// Batches of partition `p` at its cursor, reading the index again when the cached one
    /// is exhausted or a segment went away.
    fn read_partition(&mut self, p: i32, next: &mut i64) -> Result<ReadBatches> {
        let dir = self.storage.partition_dir(&self.topic, p);
        // Records deleted under this reader (delete-records): go on from the new log
        // start, as a Kafka consumer resets.
        *next = (*next).max(read_log_start(&dir)?);
        let cached = self.segments.entry(p).or_default();
        let read = match batches_at(&dir, cached, next) {
            // A segment removed since it was cached.
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                *cached = read_segments(&dir)?;
                batches_at(&dir, cached, next)?
            }
            other => other?,
        };
        if read.batches.is_empty() && read.bad.is_none() {
            // Past what was indexed when last read: look again.
            *cached = read_segments(&dir)?;
            return batches_at(&dir, cached, next);
        }
        Ok(read)
    }

    fn read_some(&mut self) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        let partitions: Vec<i32> = self.cursors.keys().copied().collect();
        for p in partitions {
            let (mut next, stop) = self.cursors[&p];
            if stop.is_some_and(|s| next >= s) || self.bad.contains_key(&p) {
                continue;
            }
            let read = self.read_partition(p, &mut next)?;
            for batch in read.batches {
                let h = batch.header;
                if !h.is_control {
                    for r in batch.records() {
                        let r = r.map_err(|e| StoreError::CorruptBatch {
                            topic: self.topic.to_string(),
                            partition: p,
                            base_offset: h.base_offset,
                            next_offset: h.next_offset(),
                            path: self.storage.partition_dir(&self.topic, p),
                            message: e.to_string(),
                        })?;
                        if r.offset < next || stop.is_some_and(|s| r.offset >= s) {
                            continue;
                        }
                        out.push(Record {
                            topic: self.topic.clone(),
                            partition: p,
                            offset: r.offset,
                            timestamp: r.timestamp,
                            key: r.key,
                            value: r.value,
                            headers: r.headers,
                        });
                    }
                }
                next = next.max(h.next_offset());
            }
            if let Some(bad) = read.bad {
                // Held back until the healthy partitions are read; the partition resumes
                // after it.
                next = next.max(bad.next_offset);
                self.bad.insert(p, bad);
            }
            self.cursors.insert(p, (next, stop));
        }
        Ok(out)
    }

    /// The first bad batch held back, as the error that names it.
    fn take_bad(&mut self) -> Option<StoreError> {
        let (p, bad) = self.bad.pop_first()?;
        Some(StoreError::CorruptBatch {
            topic: self.topic.to_string(),
            partition: p,
            base_offset: bad.base_offset,
            next_offset: bad.next_offset,
            path: bad.path,
            message: bad.message,
        })
    }
}

impl RecordReader for LocalReader {
    async fn next_records(&mut self) -> Result<Option<Vec<Record>>> {
        loop {
            let before = self.positions();
            let records = self.read_some()?;
            if !records.is_empty() {
                return Ok(Some(records));
            }
            if let Some(bad) = self.take_bad() {
                return Err(bad);
            }
            if !self.follow {
                // Done, or nothing more to read below the stops (no progress): the end.
                if before == self.positions() {
                    return Ok(None);
                }
                continue;
            }
            tokio::time::sleep(FOLLOW_POLL).await;
        }
    }

    fn positions(&self) -> BTreeMap<i32, i64> {
        self.cursors.iter().map(|(&p, (n, _))| (p, *n)).collect()
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
