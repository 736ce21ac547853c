//! The buffer of fetched batches, and handing its records (or whole batches) out to `poll`.

use std::collections::HashMap;
use std::sync::Arc;

use kafkit_record::RecordBatch;

use super::{ConsumerCore, Cursor, Fetched, Key, State};
use crate::consumer::config::Isolation;
use crate::consumer::record::ConsumerRecord;
use crate::error::{Error, Result};

impl ConsumerCore {
    /// Hands fetched data to `poll`.
    pub(crate) fn push(&self, st: &mut State, fetched: Fetched) {
        st.buffered_bytes += fetched.bytes;
        st.fetched.push_back(fetched);
        self.data_ready.notify_waiters();
    }

    /// Decodes up to `max` records from what was fetched.
    pub(super) fn take_records(&self, max: usize) -> Result<Vec<ConsumerRecord>> {
        let read_committed = self.config.isolation == Isolation::ReadCommitted;
        let mut out = Vec::new();
        let mut guard = self.lock();
        let st = &mut *guard;
        if let Some(e) = st.errors.pop_front() {
            return Err(e);
        }
        let mut freed = false;
        // The partition and last offset of the records handed out since the last position
        // update: positions move once per run, not once per record.
        let mut run: Option<(Arc<str>, i32, i64)> = None;
        while out.len() < max {
            if let Some(r) = st.ready.pop_front() {
                match &mut run {
                    Some((t, p, last)) if Arc::ptr_eq(t, &r.topic) && *p == r.partition => {
                        *last = r.offset
                    }
                    _ => {
                        advance(&mut st.cursors, run.take());
                        run = Some((r.topic.clone(), r.partition, r.offset));
                    }
                }
                out.push(r);
                continue;
            }
            advance(&mut st.cursors, run.take());
            let Some(mut f) = st.fetched.pop_front() else {
                break;
            };
            let current = st.cursors.get(&f.key).map(|c| c.epoch);
            if current != Some(f.epoch) {
                st.buffered_bytes -= f.bytes.min(st.buffered_bytes);
                freed = true;
                continue;
            }
            // Batches before a failure come first; the failure once they are all returned.
            let Some(batch) = f.batches.pop_front() else {
                if let Some(e) = f.error.take() {
                    if out.is_empty() {
                        st.buffered_bytes -= f.bytes.min(st.buffered_bytes);
                        return Err(e);
                    }
                    f.error = Some(e); // report it on the next poll
                    st.fetched.push_front(f);
                    break;
                }
                st.buffered_bytes -= f.bytes.min(st.buffered_bytes);
                st.isolation.clear();
                freed = true;
                continue;
            };
            let (topic, partition) = (f.key.0.clone(), f.key.1);
            // Fetches start at batch boundaries: skip what lies before the position.
            let from = st
                .cursors
                .get(&f.key)
                .and_then(|c| c.position)
                .unwrap_or(i64::MIN);
            st.fetched.push_front(f);
            let f = st.fetched.front_mut().expect("just pushed");
            let key = (topic.clone(), partition);
            if !st.isolation.keep(&batch, &mut f.aborted, read_committed) {
                // A marker or an aborted batch: the position moves past it, as past records.
                skip_past(&mut st.cursors, &key, &batch);
                continue;
            }
            let h = &batch.header;
            let queued = st.ready.len();
            let mut corrupt = false;
            for r in batch.records() {
                match r {
                    Ok(r) if r.offset < from => {}
                    Ok(r) => st.ready.push_back(ConsumerRecord {
                        topic: topic.clone(),
                        partition,
                        offset: r.offset,
                        timestamp: r.timestamp,
                        key: r.key,
                        value: r.value,
                        headers: r.headers,
                    }),
                    Err(source) => {
                        let e = Error::Corrupt {
                            topic: topic.to_string(),
                            partition,
                            offset: h.base_offset,
                            source,
                        };
                        // Records before the bad one are returned first; the error next.
                        let f = st.fetched.front_mut().expect("just pushed");
                        f.batches.clear();
                        f.error = Some(e);
                        corrupt = true;
                        break;
                    }
                }
            }
            if st.ready.len() == queued && !corrupt {
                // Nothing left to hand out (compaction removed the batch's tail records,
                // or they precede the position): next time, fetch after it.
                skip_past(&mut st.cursors, &key, &batch);
            }
        }
        advance(&mut st.cursors, run);
        let below_limit = st.buffered_bytes < self.config.max_buffered_bytes;
        drop(guard);
        if freed && below_limit {
            self.wake_sources();
        }
        Ok(out)
    }
}

/// A batch as a broker served it, with the partition it came from.
#[derive(Debug, Clone)]
pub struct FetchedBatch {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The batch; [`RecordBatch::raw`](kafkit_record::RecordBatch::raw) has its bytes.
    pub batch: RecordBatch,
}

impl ConsumerCore {
    /// Hands out fetched batches whole, until they hold about `max_records` records.
    pub(super) fn take_batches(&self, max_records: usize) -> Result<Vec<FetchedBatch>> {
        let mut out = Vec::new();
        let mut records = 0usize;
        let mut guard = self.lock();
        let st = &mut *guard;
        if let Some(e) = st.errors.pop_front() {
            return Err(e);
        }
        st.ready.clear();
        let mut freed = false;
        while records < max_records {
            let Some(f) = st.fetched.front_mut() else {
                break;
            };
            let current = st.cursors.get(&f.key).map(|c| c.epoch);
            if current != Some(f.epoch) {
                st.buffered_bytes -= f.bytes.min(st.buffered_bytes);
                st.fetched.pop_front();
                freed = true;
                continue;
            }
            let Some(batch) = f.batches.pop_front() else {
                let mut f = st.fetched.pop_front().expect("front exists");
                if let Some(e) = f.error.take() {
                    if out.is_empty() {
                        st.buffered_bytes -= f.bytes.min(st.buffered_bytes);
                        return Err(e);
                    }
                    f.error = Some(e); // reported on the next poll
                    st.fetched.push_front(f);
                    break;
                }
                st.buffered_bytes -= f.bytes.min(st.buffered_bytes);
                freed = true;
                continue;
            };
            let key = f.key.clone();
            let next = batch.header.last_offset() + 1;
            let cursor = st.cursors.get_mut(&key);
            let position = cursor.as_ref().and_then(|c| c.position).unwrap_or(i64::MIN);
            if next <= position {
                continue;
            }
            if let Some(c) = cursor {
                c.position = Some(next);
            }
            records += batch.header.record_count.max(1) as usize;
            out.push(FetchedBatch {
                topic: key.0,
                partition: key.1,
                batch,
            });
        }
        let below_limit = st.buffered_bytes < self.config.max_buffered_bytes;
        drop(guard);
        if freed && below_limit {
            self.wake_sources();
        }
        Ok(out)
    }
}

/// Moves a partition's position past the last record of a run handed out.
fn advance(cursors: &mut HashMap<Key, Cursor>, run: Option<(Arc<str>, i32, i64)>) {
    if let Some((topic, partition, last)) = run {
        if let Some(c) = cursors.get_mut(&(topic, partition)) {
            c.position = Some(last + 1);
        }
    }
}

/// Moves a partition's position past a batch none of whose records will be handed out.
fn skip_past(cursors: &mut HashMap<Key, Cursor>, key: &Key, batch: &RecordBatch) {
    let next = batch.header.last_offset() + 1;
    if let Some(c) = cursors.get_mut(key) {
        if c.position.is_some_and(|p| p < next) {
            c.position = Some(next);
        }
    }
}
