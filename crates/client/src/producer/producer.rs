//! [`Producer`]: the handle applications hold, and the state its tasks share.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};

use super::accumulator::{
    AppendContext, Appended, BatchRegistry, PartitionQueue, ProducerBatch, TopicQueues,
};
use super::config::ProducerConfig;
use super::delivery::{Acked, DeliveryFuture};
use super::idempotence::Identity;
use super::metrics::{Counters, ProducerMetrics};
use super::partitioner;
use super::record::{Delivery, ProducerRecord};
use super::router::run_router;
use super::sink::SinkHandle;
use super::transaction::{run_transactions, Outcome, Transactions};
use crate::client::Client;
use crate::consumer::{ConsumerGroupMetadata, TopicPartition};
use crate::error::{Error, Result};

/// Why `send` did not enqueue a record, with the record handed back.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct SendError {
    /// What went wrong.
    #[source]
    pub error: Error,
    /// The record, unsent.
    pub record: ProducerRecord,
}

/// An async Kafka producer: batches records per partition, compresses them, and sends one
/// request per broker carrying many partitions. Cheap to clone; share it across tasks.
///
/// ```no_run
/// # async fn demo() -> kafkit_client::Result<()> {
/// use kafkit_client::{ClientConfig, Producer, ProducerConfig, ProducerRecord};
/// let producer = Producer::connect(ProducerConfig::new(ClientConfig::new(["127.0.0.1:9092"]))).await?;
/// // Enqueue and carry on; the future resolves when the broker acknowledges.
/// let delivery = producer
///     .send(ProducerRecord::new("events").key("user-1").value("clicked"))
///     .await
///     .map_err(|e| e.error)?;
/// // Or wait for the acknowledgement right away.
/// let d = producer.send_and_wait(ProducerRecord::new("events").value("hello")).await?;
/// println!("written at {}:{}@{}", d.topic, d.partition, d.offset);
/// delivery.await?;
/// producer.close(std::time::Duration::from_secs(10)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Producer {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("config", &self.handle.shared.config)
            .finish_non_exhaustive()
    }
}

/// Dropping the last handle stops taking records; queued ones are still delivered.
struct Handle {
    shared: Arc<ProducerCore>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.router_wake.notify_one();
        self.shared.wake_all_sinks();
    }
}

/// State shared by the handle, the sinks and the router.
pub(crate) struct ProducerCore {
    /// This value's own Arc, for starting sinks.
    me: std::sync::Weak<ProducerCore>,
    pub config: ProducerConfig,
    pub idempotent: bool,
    pub client: Client,
    pub memory: Arc<Semaphore>,
    /// Looked up for every record sent: foldhash, not SipHash (2.8 % of a produce run's CPU
    /// went to hashing the topic name; docs/PERFORMANCE.md).
    pub topics: RwLock<HashMap<Arc<str>, Arc<TopicQueues>, foldhash::fast::RandomState>>,
    /// Partitions by leader broker, rebuilt when leadership or topics change.
    pub routes: RwLock<Arc<HashMap<i32, Vec<Arc<PartitionQueue>>>>>,
    pub sinks: Mutex<HashMap<i32, Arc<SinkHandle>>>,
    pub router_wake: Arc<Notify>,
    pub refresh_wanted: AtomicBool,
    pub identity: Identity,
    /// Batches sent and not yet answered, over all brokers.
    pub in_flight_batches: AtomicUsize,
    batches: BatchRegistry,
    /// Active flush or close calls: open batches are sent without lingering.
    pub flushing: AtomicUsize,
    pub closed: AtomicBool,
    /// Set when the producer can no longer work (fenced, ...): every send fails with it.
    pub fatal: OnceLock<Arc<Error>>,
    pub counters: Counters,
    /// The transaction state of a producer with a `transactional.id`.
    pub transactions: Option<Arc<Transactions>>,
}

impl Producer {
    /// Connects a producer: its own [`Client`], a producer id when idempotent, and the
    /// background tasks.
    pub async fn connect(config: ProducerConfig) -> Result<Producer> {
        config.validate()?;
        let client = Client::connect(config.client.clone()).await?;
        Self::with_client(client, config).await
    }

    /// A producer over an existing client (sharing its connections).
    pub async fn with_client(client: Client, config: ProducerConfig) -> Result<Producer> {
        config.validate()?;
        let idempotent = config.is_idempotent();
        let transactions = config.transactional_id.clone().map(|id| {
            Arc::new(Transactions::new(
                id,
                config.transaction_timeout,
                config.max_block,
            ))
        });
        let shared = Arc::new_cyclic(|me| ProducerCore {
            me: me.clone(),
            memory: Arc::new(Semaphore::new(config.buffer_memory)),
            idempotent,
            client,
            topics: RwLock::new(HashMap::default()),
            routes: RwLock::new(Arc::new(HashMap::new())),
            sinks: Mutex::new(HashMap::new()),
            router_wake: Arc::new(Notify::new()),
            refresh_wanted: AtomicBool::new(false),
            identity: Identity::default(),
            in_flight_batches: AtomicUsize::new(0),
            batches: BatchRegistry::default(),
            flushing: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            fatal: OnceLock::new(),
            counters: Counters::default(),
            transactions,
            config,
        });
        if let Some(txn) = &shared.transactions {
            let ids = txn.init_producer_id(&shared.client, (-1, -1)).await?;
            shared.identity.set(ids);
            tokio::spawn(run_transactions(Arc::downgrade(&shared)));
        } else if idempotent {
            shared.identity.init(&shared.client).await?;
        }
        tokio::spawn(run_router(Arc::downgrade(&shared)));
        Ok(Producer {
            handle: Arc::new(Handle { shared }),
        })
    }

    /// The client this producer sends through.
    pub fn client(&self) -> &Client {
        &self.handle.shared.client
    }

    /// A snapshot of the producer's counters.
    pub fn metrics(&self) -> ProducerMetrics {
        self.handle.shared.counters.snapshot()
    }

    /// The producer id and epoch in use (`None` when not idempotent).
    pub fn producer_id(&self) -> Option<(i64, i16)> {
        self.handle
            .shared
            .idempotent
            .then(|| self.handle.shared.identity.current())
    }

    /// The transactional id (`None` when the producer is not transactional).
    pub fn transactional_id(&self) -> Option<&str> {
        self.handle.shared.config.transactional_id.as_deref()
    }

    /// Opens a transaction: records sent from now until
    /// [`commit_transaction`](Self::commit_transaction) are read by `read_committed`
    /// consumers all together or, after [`abort_transaction`](Self::abort_transaction),
    /// not at all. The producer needs a `transactional.id`; connecting it fenced any older
    /// producer with that id and aborted what that one left open.
    ///
    /// ```no_run
    /// # async fn demo() -> kafkit_client::Result<()> {
    /// use kafkit_client::{ClientConfig, Producer, ProducerConfig, ProducerRecord};
    /// let config = ProducerConfig::new(ClientConfig::new(["127.0.0.1:9092"]))
    ///     .transactional_id("orders-writer-1");
    /// let producer = Producer::connect(config).await?;
    /// producer.begin_transaction()?;
    /// producer.send(ProducerRecord::new("orders").key("o-1").value("placed")).await.map_err(|e| e.error)?;
    /// producer.send(ProducerRecord::new("audit").value("o-1 placed")).await.map_err(|e| e.error)?;
    /// match producer.commit_transaction().await {
    ///     Ok(()) => {}
    ///     Err(e) if e.is_transaction_abortable() => producer.abort_transaction().await?,
    ///     Err(e) => return Err(e), // fenced: this producer is done
    /// }
    /// # Ok(()) }
    /// ```
    pub fn begin_transaction(&self) -> Result<()> {
        self.handle.shared.txn()?.begin()
    }

    /// Sends what the open transaction holds, then commits it. When a record failed (or a
    /// partition could not join), it fails with [`Error::TransactionAbortable`]: abort and
    /// go on. Any other error (a timeout) leaves the commit to be called again.
    pub async fn commit_transaction(&self) -> Result<()> {
        let core = &self.handle.shared;
        let txn = core.txn()?;
        txn.start_ending(Outcome::Commit)?;
        core.flush().await;
        if let Some(e) = txn.commit_blocker() {
            return Err(e);
        }
        txn.end(core, Outcome::Commit).await?;
        txn.finish();
        Ok(())
    }

    /// Aborts the open transaction: records not sent yet fail with
    /// [`Error::TransactionState`], what was written is never read by `read_committed`
    /// consumers, and offsets sent with it are not committed.
    pub async fn abort_transaction(&self) -> Result<()> {
        let core = &self.handle.shared;
        let txn = core.txn()?;
        txn.start_ending(Outcome::Abort)?;
        let aborted = Arc::new(Error::TransactionState {
            transactional_id: txn.id.clone(),
            message: "the transaction was aborted before this record was sent".into(),
        });
        for q in core.all_queues() {
            let unsent = q.take_all(&mut q.lock());
            for b in unsent {
                core.fail_batch(&q, b, aborted.clone());
            }
        }
        core.flush().await; // what is on the wire is answered first
        txn.end(core, Outcome::Abort).await?;
        if txn.take_needs_bump() {
            // A record with a sequence failed: the partitions' sequences restart under a
            // bumped epoch, which the broker accepts only between transactions.
            let ids = txn
                .init_producer_id(&core.client, core.identity.current())
                .await?;
            core.identity.set(ids);
            core.restart_sequences();
        }
        txn.finish();
        Ok(())
    }

    /// Commits a consumer group's offsets in the open transaction (KIP-447): they take
    /// effect only if the transaction commits, and only while `group` (from
    /// [`Consumer::group_metadata`](crate::Consumer::group_metadata)) is still the member's
    /// current generation. `offsets` are the next offsets to read, as in any commit.
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: &[(TopicPartition, i64)],
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        let core = &self.handle.shared;
        core.txn()?.send_offsets(core, offsets, group).await
    }

    /// Enqueues `record` and returns at once with the future of its delivery.
    ///
    /// Waits only when the buffer is full (up to `max_block`, then [`Error::BufferFull`]) or
    /// the topic's metadata is not known yet. On failure the record is handed back.
    pub async fn send(
        &self,
        record: ProducerRecord,
    ) -> std::result::Result<DeliveryFuture, SendError> {
        if let Some(delivery) = self.handle.shared.try_enqueue_now(&record) {
            return Ok(delivery);
        }
        // Boxed: the slow path's future is large, and most sends never need it.
        match Box::pin(self.handle.shared.enqueue(&record)).await {
            Ok(d) => Ok(d),
            Err(error) => Err(SendError { error, record }),
        }
    }

    /// Sends `record` and waits for the broker's acknowledgement.
    pub async fn send_and_wait(&self, record: ProducerRecord) -> Result<Delivery> {
        self.send(record).await.map_err(|e| e.error)?.await
    }

    /// Sends every queued record without lingering and waits until all records enqueued
    /// before this call are acknowledged or failed.
    pub async fn flush(&self) {
        self.handle.shared.flush().await
    }

    /// Stops taking records, delivers what is queued within `timeout`, and fails what is
    /// left after it with [`Error::Closed`].
    pub async fn close(&self, timeout: Duration) -> Result<()> {
        let shared = &self.handle.shared;
        shared.closed.store(true, Ordering::SeqCst);
        if tokio::time::timeout(timeout, shared.flush()).await.is_ok() {
            shared.router_wake.notify_one();
            shared.wake_all_sinks();
            return Ok(());
        }
        let left = shared.abandon_all(&format!("close() timed out after {timeout:?}"));
        Err(Error::Closed(format!(
            "{left} records were not delivered within {timeout:?}"
        )))
    }
}

impl ProducerCore {
    /// The transaction state, or why this producer has none.
    fn txn(&self) -> Result<&Arc<Transactions>> {
        self.transactions
            .as_ref()
            .ok_or_else(|| Error::TransactionState {
                transactional_id: String::new(),
                message: "the producer has no transactional.id".into(),
            })
    }

    pub(crate) fn append_context(&self) -> AppendContext<'_> {
        AppendContext {
            batch_limit: self
                .config
                .batch_size
                .min(
                    self.config
                        .max_request_size
                        .saturating_sub(REQUEST_OVERHEAD),
                )
                .max(1),
            compression: self.config.compression,
            compression_level: self.config.compression_level,
            transactional: self.transactions.is_some(),
            batches: &self.batches,
        }
    }

    /// The record's encoded size (upper bound), or why it can never be sent.
    fn checked_size(&self, record: &ProducerRecord) -> Result<usize> {
        let size = record.max_encoded_size();
        let limit = self
            .config
            .max_request_size
            .saturating_sub(REQUEST_OVERHEAD);
        if size + kafkit_record::BATCH_HEADER_LEN > limit {
            return Err(Error::RecordTooLarge {
                topic: record.topic.to_string(),
                size,
                limit: self.config.max_request_size,
                setting: "max.request.size",
            });
        }
        Ok(size)
    }

    /// Appends without waiting when the topic is known and buffer memory is at hand;
    /// `None` sends the caller down the slow path (which also reports every error).
    fn try_enqueue_now(&self, record: &ProducerRecord) -> Option<DeliveryFuture> {
        if self.closed.load(Ordering::Relaxed) || self.fatal.get().is_some() {
            return None;
        }
        if self.transactions.as_ref().is_some_and(|t| !t.is_open()) {
            return None;
        }
        let size = self.checked_size(record).ok()?;
        let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
        let topic = topics.get(&*record.topic)?;
        let partition = self.choose_partition(topic, record).ok()?;
        let queue = &topic.partitions[partition as usize];
        let timestamp = record.timestamp.unwrap_or_else(now_ms);
        let ctx = self.append_context();
        let appended = {
            let mut st = queue.lock();
            let need = PartitionQueue::permits_needed(&st, size, &ctx);
            if need > 0 {
                if need > self.config.buffer_memory {
                    return None;
                }
                self.memory.try_acquire_many(need as u32).ok()?.forget();
            }
            queue.append(&mut st, record, timestamp, size, need, &ctx)
        };
        Some(self.appended(queue, appended))
    }

    /// Bookkeeping after an append: counters, a batch that failed to encode, sink wake-up,
    /// the partition noted for joining the open transaction.
    fn appended(&self, queue: &Arc<PartitionQueue>, appended: Appended) -> DeliveryFuture {
        self.counters.queued_records.fetch_add(1, Ordering::Relaxed);
        if let Some(txn) = &self.transactions {
            if txn.note(queue) {
                txn.wake.notify_one();
            }
        }
        if let Some(failed) = appended.failed {
            let (batch, error) = *failed;
            self.fail_batch(queue, batch, Arc::new(error));
        }
        if appended.sealed || appended.opened {
            self.wake_sink(queue.leader());
        }
        appended.delivery
    }

    async fn enqueue(&self, record: &ProducerRecord) -> Result<DeliveryFuture> {
        if let Some(e) = self.fatal.get() {
            return Err(Error::Shared(e.clone()));
        }
        if self.closed.load(Ordering::Relaxed) {
            return Err(Error::Closed("send after close".into()));
        }
        if let Some(txn) = &self.transactions {
            txn.check_send()?;
        }
        let size = self.checked_size(record)?;
        let deadline = Instant::now() + self.config.max_block;
        let topic = self.topic(&record.topic, deadline).await?;
        let partition = self.choose_partition(&topic, record)?;
        let queue = topic.partitions[partition as usize].clone();
        let timestamp = record.timestamp.unwrap_or_else(now_ms);
        let ctx = self.append_context();
        let mut credit = 0usize;
        loop {
            let step = {
                let mut st = queue.lock();
                let need = PartitionQueue::permits_needed(&st, size, &ctx);
                if need > self.config.buffer_memory {
                    Step::TooLarge
                } else if need > credit
                    && self
                        .memory
                        .try_acquire_many((need - credit) as u32)
                        .map(|p| p.forget())
                        .is_err()
                {
                    Step::Wait {
                        need,
                        more: need - credit,
                    }
                } else {
                    credit = credit.max(need);
                    let appended = queue.append(&mut st, record, timestamp, size, need, &ctx);
                    Step::Appended { appended, need }
                }
            };
            match step {
                Step::TooLarge => {
                    self.memory.add_permits(credit);
                    return Err(Error::RecordTooLarge {
                        topic: record.topic.to_string(),
                        size,
                        limit: self.config.buffer_memory,
                        setting: "buffer.memory",
                    });
                }
                Step::Wait { need, more } => {
                    match tokio::time::timeout_at(
                        deadline.into(),
                        self.memory.acquire_many(more as u32),
                    )
                    .await
                    {
                        Ok(Ok(p)) => {
                            p.forget();
                            credit += more; // the queue may have changed meanwhile: look again
                        }
                        _ => {
                            self.memory.add_permits(credit);
                            return Err(Error::BufferFull {
                                needed: need,
                                limit: self.config.buffer_memory,
                                waited: self.config.max_block,
                            });
                        }
                    }
                }
                Step::Appended { appended, need } => {
                    if credit > need {
                        self.memory.add_permits(credit - need);
                    }
                    return Ok(self.appended(&queue, appended));
                }
            }
        }
    }

    fn choose_partition(&self, topic: &TopicQueues, record: &ProducerRecord) -> Result<i32> {
        let count = topic.partitions.len() as i32;
        let chosen = match record.partition {
            Some(p) => p,
            None => {
                let custom = self
                    .config
                    .partitioner
                    .as_ref()
                    .and_then(|p| p.partition(&topic.meta.name, record.key.as_deref(), count));
                match (custom, &record.key) {
                    (Some(p), _) => p,
                    (None, Some(key)) => partitioner::keyed(key, count),
                    (None, None) => topic.meta.sticky.current().min(count - 1),
                }
            }
        };
        if !(0..count).contains(&chosen) {
            return Err(Error::Unknown {
                what: "partition",
                name: format!(
                    "{}/{chosen} (topic has {count} partitions)",
                    topic.meta.name
                ),
            });
        }
        Ok(chosen)
    }

    pub(super) fn self_arc(&self) -> std::sync::Weak<ProducerCore> {
        self.me.clone()
    }

    pub(crate) fn wake_sink(&self, broker: i32) {
        if broker < 0 {
            self.request_metadata();
            return;
        }
        let sink = self
            .sinks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&broker)
            .cloned();
        match sink {
            Some(s) => s.wake.notify_one(),
            None => self.request_metadata(),
        }
    }

    pub(crate) fn wake_all_sinks(&self) {
        for s in self
            .sinks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            s.wake.notify_one();
        }
    }

    /// Asks the router to refresh metadata soon.
    pub(crate) fn request_metadata(&self) {
        self.refresh_wanted.store(true, Ordering::Relaxed);
        self.router_wake.notify_one();
    }

    /// Completes a batch: wakes its records, gives back its memory, updates counters.
    pub(crate) fn complete_batch(
        &self,
        batch: ProducerBatch,
        result: std::result::Result<Acked, Arc<Error>>,
    ) {
        let n = batch.records as u64;
        match &result {
            Ok(_) => {
                Counters::add(&self.counters.records_sent, n);
                Counters::add(&self.counters.bytes_sent, batch.bytes.len() as u64);
                Counters::add(&self.counters.batches_sent, 1);
            }
            Err(e) => {
                tracing::debug!(topic = %batch.outcome.topic, partition = batch.outcome.partition, error = %e, "batch failed");
                Counters::add(&self.counters.records_failed, n);
            }
        }
        self.counters
            .queued_records
            .fetch_sub(n as i64, Ordering::Relaxed);
        batch.outcome.complete(result);
        self.memory.add_permits(batch.permits);
        self.batches.finish(batch.id);
    }

    /// Fails a batch for good. A batch that had a sequence leaves a gap the broker would
    /// refuse, so an idempotent producer bumps its epoch; a transactional one must abort
    /// the transaction first, and bumps after it.
    pub(crate) fn fail_batch(
        &self,
        _queue: &PartitionQueue,
        batch: ProducerBatch,
        error: Arc<Error>,
    ) {
        if let Some(txn) = &self.transactions {
            txn.fail(error.clone(), batch.stamp.is_some());
        } else if self.idempotent && batch.stamp.is_some() {
            self.identity.request_bump();
            self.router_wake.notify_one();
        }
        self.complete_batch(batch, Err(error));
    }

    async fn flush(&self) {
        let last = self.batches.last();
        self.flushing.fetch_add(1, Ordering::SeqCst);
        self.wake_all_sinks();
        // Partitions without a sink yet (leader unknown) are picked up by the router.
        self.router_wake.notify_one();
        loop {
            let notified = self.batches.finished.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.batches.finished_up_to(last) {
                break;
            }
            notified.await;
        }
        self.flushing.fetch_sub(1, Ordering::SeqCst);
    }

    /// Every partition queue of every topic, as of now.
    pub(super) fn all_queues(&self) -> Vec<Arc<PartitionQueue>> {
        self.topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .flat_map(|t| t.partitions.iter().cloned())
            .collect()
    }

    /// Fails every queued batch with [`Error::Closed`]; returns how many records that was.
    pub(super) fn abandon_all(&self, why: &str) -> u64 {
        self.abandon_with(Arc::new(Error::Closed(why.to_string())))
    }

    /// Fails every queued batch with `error` and makes every later send fail with it.
    pub(crate) fn abandon_with(&self, error: Arc<Error>) -> u64 {
        let mut n = 0;
        for q in self.all_queues() {
            let batches = q.take_all(&mut q.lock());
            for b in batches {
                n += b.records as u64;
                self.complete_batch(b, Err(error.clone()));
            }
        }
        if let Some(txn) = &self.transactions {
            txn.fail_fatally(error.clone());
        }
        let _ = self.fatal.set(error);
        self.wake_all_sinks();
        n
    }

    /// True when sinks may stop: closed and nothing left to deliver.
    pub(crate) fn is_done(&self) -> bool {
        self.closed.load(Ordering::SeqCst) && self.batches.is_empty()
    }
}

/// One turn of the append loop in `enqueue`.
enum Step {
    TooLarge,
    Wait { need: usize, more: usize },
    Appended { appended: Appended, need: usize },
}

/// Room left in a Produce request for its header and topic/partition framing.
pub(crate) const REQUEST_OVERHEAD: usize = 1024;

/// Milliseconds since the Unix epoch.
/// Milliseconds since the epoch, read for every record sent: straight from the realtime
/// clock, since `SystemTime::now().duration_since(UNIX_EPOCH)` spent as long again on its
/// `Duration` arithmetic as on reading the clock (docs/PERFORMANCE.md).
#[cfg(unix)]
pub(crate) fn now_ms() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given, which lives on our stack.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    #[allow(clippy::unnecessary_cast)] // i32 fields on 32-bit targets
    let (secs, nanos) = (ts.tv_sec as i64, ts.tv_nsec as i64);
    secs * 1000 + nanos / 1_000_000
}

/// Milliseconds since the epoch.
#[cfg(not(unix))]
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl ProducerCore {
    pub(crate) fn timeout_error(&self, q: &PartitionQueue, b: &ProducerBatch, why: &str) -> Error {
        Error::DeliveryTimeout {
            topic: q.topic.name.to_string(),
            partition: q.partition,
            after: self.config.delivery_timeout,
            attempts: b.attempts,
            last_error: b.last_error.clone().unwrap_or_else(|| why.to_string()),
        }
    }
}
