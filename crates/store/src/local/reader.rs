//! [`LocalReader`]: a local topic's partitions read in offset order, a poll at a time.
//!
//! A batch that does not decode stops only its own partition: the reader goes on with the
//! others, and once nothing else is there to read it hands the bad batch out as a
//! [`StoreError::CorruptBatch`] naming topic, partition, offsets and file. Its partition then
//! goes on after the bad batch, so a caller that skips corrupt batches simply reads on.
//!
//! Reading is file I/O: it runs on tokio's blocking pool, on the reader's state behind a
//! mutex. A `next_records` whose caller goes away (a `select!` taking another branch) loses
//! nothing: what it read waits in the state for the next call.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use super::log::{self, read_batches, read_segments, BadBatch, ReadBatches};
use super::{read_log_start, LocalStorage, FOLLOW_POLL, READ_BYTES};
use crate::emulated;
use crate::error::{Result, StoreError};
use crate::types::ConsumerRecord;
use crate::RecordReader;

/// Reads a local topic's partitions in offset order.
#[derive(Debug)]
pub struct LocalReader {
    storage: LocalStorage,
    topic: Arc<str>,
    follow: bool,
    /// The group whose offsets a group reader commits.
    pub(super) group: Option<String>,
    state: Arc<Mutex<ReadState>>,
}

/// Where a reader is; changed by reads on the blocking pool.
#[derive(Debug, Default)]
struct ReadState {
    /// Per partition: next offset, and where to stop (`None`: follow).
    cursors: BTreeMap<i32, (i64, Option<i64>)>,
    /// Per partition, the segments and index entries as last read; re-read only when the
    /// cursor has gone past them.
    segments: HashMap<i32, Vec<log::Segment>>,
    /// Bad batches met and not yet handed out, by partition; such a partition is not read
    /// until its bad batch was (its cursor already points after it).
    bad: BTreeMap<i32, BadBatch>,
    /// Records read and not yet handed out (their call's caller went away).
    unclaimed: Vec<ConsumerRecord>,
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
    /// A reader of `topic` from `cursors` (per partition: the next offset, and where to stop).
    pub(super) fn new(
        storage: LocalStorage,
        topic: &str,
        cursors: BTreeMap<i32, (i64, Option<i64>)>,
        follow: bool,
    ) -> Self {
        LocalReader {
            storage,
            topic: Arc::from(topic),
            follow,
            group: None,
            state: Arc::new(Mutex::new(ReadState {
                cursors,
                ..Default::default()
            })),
        }
    }

    fn state(&self) -> MutexGuard<'_, ReadState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads what is there on the blocking pool, into the state's unclaimed records.
    async fn read_some(&self) -> Result<()> {
        let (state, storage, topic) =
            (self.state.clone(), self.storage.clone(), self.topic.clone());
        tokio::task::spawn_blocking(move || {
            let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
            let records = st.read_some(&storage, &topic)?;
            st.unclaimed.extend(records);
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Invalid(format!("reading '{}' failed: {e}", self.topic)))?
    }
}

impl ReadState {
    /// Batches of partition `p` at its cursor, reading the index again when the cached one
    /// is exhausted or a segment went away.
    fn read_partition(
        &mut self,
        (storage, topic): (&LocalStorage, &str),
        p: i32,
        next: &mut i64,
    ) -> Result<ReadBatches> {
        let dir = storage.partition_dir(topic, p);
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

    fn read_some(
        &mut self,
        storage: &LocalStorage,
        topic: &Arc<str>,
    ) -> Result<Vec<ConsumerRecord>> {
        let mut out = Vec::new();
        let partitions: Vec<i32> = self.cursors.keys().copied().collect();
        for p in partitions {
            let (mut next, stop) = self.cursors[&p];
            if stop.is_some_and(|s| next >= s) || self.bad.contains_key(&p) {
                continue;
            }
            let read = self.read_partition((storage, topic), p, &mut next)?;
            for batch in read.batches {
                let h = batch.header;
                emulated::push_records(&batch, (topic, p), (next, stop), &mut out, |message| {
                    StoreError::CorruptBatch {
                        topic: topic.to_string(),
                        partition: p,
                        base_offset: h.base_offset,
                        next_offset: h.next_offset(),
                        path: storage.partition_dir(topic, p),
                        message,
                    }
                })?;
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
    fn take_bad(&mut self, topic: &str) -> Option<StoreError> {
        let (p, bad) = self.bad.pop_first()?;
        Some(StoreError::CorruptBatch {
            topic: topic.to_string(),
            partition: p,
            base_offset: bad.base_offset,
            next_offset: bad.next_offset,
            path: bad.path,
            message: bad.message,
        })
    }
}

impl RecordReader for LocalReader {
    async fn next_records(&mut self) -> Result<Option<Vec<ConsumerRecord>>> {
        loop {
            let before = self.positions();
            if self.state().unclaimed.is_empty() {
                self.read_some().await?;
            }
            // Records read, else a bad batch held back (after every healthy record).
            let handed = {
                let mut st = self.state();
                let records = std::mem::take(&mut st.unclaimed);
                match records.is_empty() {
                    false => Some(Ok(Some(records))),
                    true => st.take_bad(&self.topic).map(Err),
                }
            };
            if let Some(result) = handed {
                return result;
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
        let st = self.state();
        let mut at: BTreeMap<i32, i64> = st.cursors.iter().map(|(&p, (n, _))| (p, *n)).collect();
        // Records read but not handed out yet are not past.
        for r in st.unclaimed.iter().rev() {
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
