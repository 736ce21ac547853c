//! The accumulator: one queue per partition, filled by `send` and drained by the sinks.
//!
//! A partition's queue holds at most one *open* batch (being filled) and a list of *ready*
//! batches (sealed, encoded and compressed, waiting for their sink). A batch is sealed when
//! the next record would not fit, when it has lingered long enough, or on flush. Memory is
//! counted in bytes allocated for batches: every allocation takes permits from the buffer
//! semaphore first, and a batch gives them back when it completes.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use kafkit_record::{BatchBuilder, Compression, BATCH_HEADER_LEN};
use tokio::sync::Notify;

use super::delivery::{BatchOutcome, DeliveryFuture};
use super::partitioner::Sticky;
use super::record::ProducerRecord;
use crate::error::Error;

/// Smallest allocation of a new batch; batches grow by doubling up to the batch size.
const INITIAL_BATCH_CAPACITY: usize = 16 * 1024;

/// What every partition of a topic shares.
#[derive(Debug)]
pub(crate) struct TopicMeta {
    pub name: Arc<str>,
    pub partition_count: AtomicI32,
    pub sticky: Sticky,
}

/// One topic's partition queues.
#[derive(Debug)]
pub(crate) struct TopicQueues {
    pub meta: Arc<TopicMeta>,
    pub partitions: Vec<Arc<PartitionQueue>>,
}

/// One partition's queue, its leader, and its idempotence state.
#[derive(Debug)]
pub(crate) struct PartitionQueue {
    pub topic: Arc<TopicMeta>,
    pub partition: i32,
    /// Broker id of the leader; -1 when unknown.
    pub leader: AtomicI32,
    state: Mutex<PartitionState>,
}

/// The mutable part of a partition queue.
#[derive(Debug, Default)]
pub(crate) struct PartitionState {
    open: Option<OpenBatch>,
    /// Sealed batches in send order (retried ones go back in sequence order).
    pub ready: VecDeque<ProducerBatch>,
    /// Batches sent and not yet answered.
    pub in_flight: u32,
    /// The sequence number the next new batch gets.
    pub next_sequence: i32,
    /// The sequence the broker expects next: the first record not yet acknowledged.
    pub acked_sequence: i32,
    /// The broker acknowledged a batch of this partition under the current producer
    /// identity, so it holds the partition's sequence state. Until then a batch is sent
    /// only when none is in flight: Kafka takes a producer's first batch in a partition
    /// whatever its sequence, so a later batch arriving first (the first one answered with
    /// a retriable error, say a leader not yet ready) would leave the first one out of
    /// order forever.
    pub sequence_established: bool,
    /// No batch of this partition is sent before this instant (retry backoff).
    pub retry_at: Option<Instant>,
    /// A batch failed with a retriable error: send nothing until the in-flight ones are
    /// answered, then resend in sequence order.
    pub retrying: bool,
    /// Consecutive failed attempts, for the backoff.
    pub failures: u32,
    /// Transactional producers: the number of the last transaction whose records this
    /// partition holds (noted for joining), and of the last one it joined. A sink sends a
    /// partition's batches only once it joined the open transaction.
    pub txn_noted: u64,
    pub txn_joined: u64,
}

#[derive(Debug)]
struct OpenBatch {
    builder: BatchBuilder,
    outcome: Arc<BatchOutcome>,
    created: Instant,
    permits: usize,
    id: u64,
}

/// A sealed batch: encoded once, stamped with its sequence when first sent.
#[derive(Debug)]
pub(crate) struct ProducerBatch {
    pub id: u64,
    pub bytes: Bytes,
    pub records: i32,
    pub outcome: Arc<BatchOutcome>,
    pub permits: usize,
    pub created: Instant,
    /// Producer id, epoch and base sequence stamped into `bytes`, once assigned.
    pub stamp: Option<(i64, i16, i32)>,
    pub attempts: u32,
    pub last_error: Option<String>,
}

impl ProducerBatch {
    /// The batch of an open batch's records, not encoded yet, and the builder that holds them.
    fn unsent(open: OpenBatch) -> (ProducerBatch, BatchBuilder) {
        let batch = ProducerBatch {
            id: open.id,
            bytes: Bytes::new(),
            records: open.builder.len() as i32,
            outcome: open.outcome,
            permits: open.permits,
            created: open.created,
            stamp: None,
            attempts: 0,
            last_error: None,
        };
        (batch, open.builder)
    }

    /// The base sequence, once assigned.
    pub fn sequence(&self) -> Option<i32> {
        self.stamp.map(|(_, _, s)| s)
    }
}

/// Batch ids, and which batches are not finished yet (what `flush` waits for).
#[derive(Debug, Default)]
pub(crate) struct BatchRegistry {
    next: AtomicU64,
    unfinished: Mutex<BTreeSet<u64>>,
    /// Notified whenever a batch finishes.
    pub finished: Notify,
}

impl BatchRegistry {
    /// A new batch's id, registered as unfinished.
    pub(crate) fn open(&self) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.unfinished
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id);
        id
    }

    /// The newest id handed out so far.
    pub(crate) fn last(&self) -> u64 {
        self.next.load(Ordering::Relaxed)
    }

    /// Marks a batch finished.
    pub(crate) fn finish(&self, id: u64) {
        self.unfinished
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        self.finished.notify_waiters();
    }

    /// True when every batch up to `id` has finished.
    pub(crate) fn finished_up_to(&self, id: u64) -> bool {
        self.unfinished
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .first()
            .is_none_or(|&first| first > id)
    }

    /// True when no batch is unfinished.
    pub(crate) fn is_empty(&self) -> bool {
        self.unfinished
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}

/// Settings and shared state an append needs.
pub(crate) struct AppendContext<'a> {
    /// Seal a batch before it would pass this many bytes.
    pub batch_limit: usize,
    pub compression: Compression,
    pub compression_level: Option<i32>,
    /// Batches are marked transactional.
    pub transactional: bool,
    pub batches: &'a BatchRegistry,
}

/// What an append did.
pub(crate) struct Appended {
    pub delivery: DeliveryFuture,
    /// A batch became ready: wake the leader's sink.
    pub sealed: bool,
    /// A new open batch started: the sink must arm its linger timer.
    pub opened: bool,
    /// A sealed batch failed to encode; its records must be failed by the caller.
    pub failed: Option<Box<(ProducerBatch, Error)>>,
}

impl PartitionQueue {
    pub(crate) fn new(topic: Arc<TopicMeta>, partition: i32, leader: i32) -> Self {
        PartitionQueue {
            topic,
            partition,
            leader: AtomicI32::new(leader),
            state: Mutex::new(PartitionState::default()),
        }
    }

    pub(crate) fn leader(&self) -> i32 {
        self.leader.load(Ordering::Relaxed)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, PartitionState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes of buffer memory an append of a record of `size` bytes needs now.
    pub(crate) fn permits_needed(st: &PartitionState, size: usize, ctx: &AppendContext) -> usize {
        match &st.open {
            Some(open)
                if open.builder.size() + size <= ctx.batch_limit.max(BATCH_HEADER_LEN + size) =>
            {
                let needed = open.builder.size() + size;
                if needed <= open.builder.capacity() {
                    0
                } else {
                    grow_to(open.builder.capacity(), needed, ctx.batch_limit)
                        - open.builder.capacity()
                }
            }
            // A new batch.
            _ => first_capacity(size, ctx.batch_limit),
        }
    }

    /// Appends `record` (whose encoded size is at most `size`) at `timestamp`, using
    /// `permits` already taken from the buffer (exactly [`permits_needed`] of them).
    pub(crate) fn append(
        &self,
        st: &mut PartitionState,
        record: &ProducerRecord,
        timestamp: i64,
        size: usize,
        permits: usize,
        ctx: &AppendContext,
    ) -> Appended {
        let mut sealed = false;
        let mut failed = None;
        let fits = st.open.as_ref().is_some_and(|o| {
            o.builder.size() + size <= ctx.batch_limit.max(BATCH_HEADER_LEN + size)
        });
        if !fits {
            if let Some(open) = st.open.take() {
                sealed = true;
                if let Err(e) = self.seal_into(st, open, ctx) {
                    failed = Some(e);
                }
            }
        }
        let opened = st.open.is_none();
        let open = st.open.get_or_insert_with(|| OpenBatch {
            // `permits` is exactly the first capacity (header included).
            builder: {
                let mut b = BatchBuilder::with_capacity(
                    0,
                    timestamp,
                    permits.saturating_sub(BATCH_HEADER_LEN),
                );
                b.transactional(ctx.transactional);
                b
            },
            outcome: BatchOutcome::new(self.topic.name.clone(), self.partition),
            created: Instant::now(),
            permits: 0,
            id: ctx.batches.open(),
        });
        let needed = open.builder.size() + size;
        if needed > open.builder.capacity() {
            let target = grow_to(open.builder.capacity(), needed, ctx.batch_limit);
            open.builder.reserve_exact(target - open.builder.size());
        }
        open.permits += permits;
        let index = open.builder.len() as u32;
        open.builder.push(
            timestamp,
            record.key.as_deref(),
            record.value.as_deref(),
            &record.headers,
        );
        let delivery = DeliveryFuture::new(open.outcome.clone(), index, timestamp);
        // Seal now when the next record of this size would not fit: no point lingering.
        if open.builder.size() + size > ctx.batch_limit {
            if let Some(open) = st.open.take() {
                sealed = true;
                if let Err(e) = self.seal_into(st, open, ctx) {
                    failed = Some(e);
                }
            }
        }
        Appended {
            delivery,
            sealed,
            opened,
            failed,
        }
    }

    /// Seals the open batch if it has lingered until `due` or `force` is set. Returns when
    /// the open batch (if any is left) becomes due, and any batch that failed to encode.
    pub(crate) fn seal_if_due(
        &self,
        st: &mut PartitionState,
        now: Instant,
        linger: std::time::Duration,
        force: bool,
        ctx: &AppendContext,
    ) -> (Option<Instant>, Option<Box<(ProducerBatch, Error)>>) {
        let Some(open) = &st.open else {
            return (None, None);
        };
        let due = open.created + linger;
        if !force && due > now {
            return (Some(due), None);
        }
        let open = st.open.take().expect("checked above");
        (None, self.seal_into(st, open, ctx).err())
    }

    /// Encodes `open` and queues it as ready (or hands it back on an encoding failure).
    fn seal_into(
        &self,
        st: &mut PartitionState,
        open: OpenBatch,
        ctx: &AppendContext,
    ) -> Result<(), Box<(ProducerBatch, Error)>> {
        self.topic.sticky.on_batch_sealed(
            self.partition,
            self.topic.partition_count.load(Ordering::Relaxed),
        );
        let (mut batch, builder) = ProducerBatch::unsent(open);
        match builder.finish(ctx.compression, ctx.compression_level) {
            Ok(bytes) => {
                batch.bytes = bytes;
                st.ready.push_back(batch);
                Ok(())
            }
            Err(e) => Err(Box::new((
                batch,
                Error::Encode {
                    api: crate::wire::messages::ApiKey::Produce,
                    message: format!(
                        "batch for topic '{}' partition {}: {e}",
                        self.topic.name, self.partition
                    ),
                },
            ))),
        }
    }

    /// Takes every batch (open ones unencoded) out of the queue, for failing them.
    pub(crate) fn take_all(&self, st: &mut PartitionState) -> Vec<ProducerBatch> {
        let mut out: Vec<ProducerBatch> = st.ready.drain(..).collect();
        if let Some(open) = st.open.take() {
            out.push(ProducerBatch::unsent(open).0);
        }
        out
    }
}

impl PartitionState {
    /// Puts a batch that must be sent again back in sequence order (batches without a
    /// sequence go after those with one).
    pub(crate) fn requeue(&mut self, batch: ProducerBatch) {
        let pos = match batch.sequence() {
            None => self
                .ready
                .iter()
                .position(|b| b.sequence().is_none())
                .unwrap_or(self.ready.len()),
            Some(s) => self
                .ready
                .iter()
                .position(|b| b.sequence().is_none_or(|t| t.wrapping_sub(s) > 0))
                .unwrap_or(self.ready.len()),
        };
        self.ready.insert(pos, batch);
    }
}

/// The capacity of a new batch for a first record of `size` bytes.
fn first_capacity(size: usize, limit: usize) -> usize {
    (BATCH_HEADER_LEN + size).max(INITIAL_BATCH_CAPACITY.min(limit))
}

/// The capacity a batch grows to: double, at least `needed`, at most the limit (unless one
/// record needs more).
fn grow_to(capacity: usize, needed: usize, limit: usize) -> usize {
    (capacity * 2).min(limit).max(needed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(limit: usize, batches: &BatchRegistry) -> AppendContext<'_> {
        AppendContext {
            batch_limit: limit,
            compression: Compression::None,
            compression_level: None,
            transactional: false,
            batches,
        }
    }

    fn queue() -> PartitionQueue {
        let meta = Arc::new(TopicMeta {
            name: "t".into(),
            partition_count: AtomicI32::new(1),
            sticky: Sticky::new(1),
        });
        PartitionQueue::new(meta, 0, 1)
    }

    #[test]
    fn memory_is_counted_by_allocation_and_batches_seal_at_the_limit() {
        let q = queue();
        let registry = BatchRegistry::default();
        let c = ctx(64 * 1024, &registry);
        let rec = ProducerRecord::new("t").value(vec![b'x'; 1000]);
        let size = rec.max_encoded_size();
        let mut held = 0;
        let mut sealed = 0;
        for _ in 0..200 {
            let mut st = q.lock();
            let need = PartitionQueue::permits_needed(&st, size, &c);
            held += need;
            let a = q.append(&mut st, &rec, 0, size, need, &c);
            sealed += a.sealed as usize;
            assert!(a.failed.is_none());
            let alloc: usize = st.ready.iter().map(|b| b.permits).sum::<usize>()
                + st.open.as_ref().map_or(0, |o| o.builder.capacity());
            assert!(alloc <= held, "allocated {alloc} > counted {held}");
            assert!(st.ready.iter().all(|b| b.bytes.len() <= 64 * 1024));
        }
        assert!(sealed >= 2);
        // 200 KB of records in 64 KiB batches: counted memory stays near what is used.
        assert!(held < 300 * 1024, "held {held}");
    }

    #[test]
    fn requeue_keeps_sequence_order() {
        let mut st = PartitionState::default();
        let b = |seq: Option<i32>| ProducerBatch {
            id: 0,
            bytes: Bytes::new(),
            records: 1,
            outcome: BatchOutcome::new("t".into(), 0),
            permits: 0,
            created: Instant::now(),
            stamp: seq.map(|s| (1, 0, s)),
            attempts: 0,
            last_error: None,
        };
        st.ready.push_back(b(None));
        st.requeue(b(Some(5)));
        st.requeue(b(Some(2)));
        st.requeue(b(Some(9)));
        let seqs: Vec<_> = st.ready.iter().map(|b| b.sequence()).collect();
        assert_eq!(seqs, vec![Some(2), Some(5), Some(9), None]);
    }
}
