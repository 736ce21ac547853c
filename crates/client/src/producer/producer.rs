//! [`Producer`]: the handle applications hold, and the state its tasks share.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};

use super::accumulator::{
    AppendContext, Appended, BatchRegistry, PartitionQueue, ProducerBatch, TopicMeta, TopicQueues,
};
use super::config::ProducerConfig;
use super::delivery::{Acked, DeliveryFuture};
use super::idempotence::Identity;
use super::metrics::{Counters, ProducerMetrics};
use super::partitioner::{self, Sticky};
use super::record::{Delivery, ProducerRecord};
use super::sink::{self, SinkHandle};
use crate::client::Client;
use crate::cluster::ClusterView;
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
    pub topics: RwLock<HashMap<Arc<str>, Arc<TopicQueues>>>,
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
        let shared = Arc::new_cyclic(|me| ProducerCore {
            me: me.clone(),
            memory: Arc::new(Semaphore::new(config.buffer_memory)),
            idempotent,
            client,
            topics: RwLock::new(HashMap::new()),
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
            config,
        });
        if idempotent {
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

    /// Bookkeeping after an append: counters, a batch that failed to encode, sink wake-up.
    fn appended(&self, queue: &PartitionQueue, appended: Appended) -> DeliveryFuture {
        self.counters.queued_records.fetch_add(1, Ordering::Relaxed);
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

    /// The queues of `name`, fetching its metadata first if it is new.
    async fn topic(&self, name: &str, deadline: Instant) -> Result<Arc<TopicQueues>> {
        if let Some(t) = self
            .topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Ok(t.clone());
        }
        let view = tokio::time::timeout_at(deadline.into(), self.client.topic_metadata(&[name]))
            .await
            .map_err(|_| Error::Timeout {
                api: kafka_protocol::messages::ApiKey::Metadata,
                broker: "any".into(),
                after: self.config.max_block,
            })??;
        match view.topics.get(name) {
            Some(t) if t.error.is_none() && !t.partitions.is_empty() => {}
            Some(t) => {
                return Err(match t.error {
                    Some(code) => {
                        Error::broker(code, kafka_protocol::messages::ApiKey::Metadata, "any")
                            .topic(name)
                            .build()
                    }
                    None => Error::Unknown {
                        what: "topic",
                        name: name.to_string(),
                    },
                })
            }
            None => {
                return Err(Error::Unknown {
                    what: "topic",
                    name: name.to_string(),
                })
            }
        }
        self.apply_view(&view, true);
        self.topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| Error::Unknown {
                what: "topic",
                name: name.to_string(),
            })
    }

    /// Updates leaders and partition counts from `view` (adding its topics when `add`),
    /// starts sinks for new leaders and rebuilds the routes.
    pub(crate) fn apply_view(&self, view: &ClusterView, add: bool) {
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        for (name, info) in &view.topics {
            if info.error.is_some() || info.partitions.is_empty() {
                continue;
            }
            let existing = topics.get(name.as_str()).cloned();
            if existing.is_none() && !add {
                continue;
            }
            let count = info.partitions.iter().map(|p| p.id + 1).max().unwrap_or(0);
            let leader_of = |p: i32| {
                info.partition(p)
                    .and_then(|p| p.leader)
                    .filter(|l| view.brokers.contains_key(l))
                    .unwrap_or(-1)
            };
            let updated = match existing {
                Some(t) if t.partitions.len() as i32 >= count => {
                    for q in &t.partitions {
                        q.leader.store(leader_of(q.partition), Ordering::Relaxed);
                    }
                    continue;
                }
                Some(t) => {
                    // Partitions were added: keep the old queues, add new ones.
                    t.meta.partition_count.store(count, Ordering::Relaxed);
                    let mut partitions = t.partitions.clone();
                    for q in &partitions {
                        q.leader.store(leader_of(q.partition), Ordering::Relaxed);
                    }
                    for p in partitions.len() as i32..count {
                        partitions.push(Arc::new(PartitionQueue::new(
                            t.meta.clone(),
                            p,
                            leader_of(p),
                        )));
                    }
                    TopicQueues {
                        meta: t.meta.clone(),
                        partitions,
                    }
                }
                None => {
                    let meta = Arc::new(TopicMeta {
                        name: Arc::from(name.as_str()),
                        partition_count: AtomicI32::new(count),
                        sticky: Sticky::new(count),
                    });
                    TopicQueues {
                        partitions: (0..count)
                            .map(|p| Arc::new(PartitionQueue::new(meta.clone(), p, leader_of(p))))
                            .collect(),
                        meta,
                    }
                }
            };
            topics.insert(updated.meta.name.clone(), Arc::new(updated));
        }
        let mut routes: HashMap<i32, Vec<Arc<PartitionQueue>>> = HashMap::new();
        for t in topics.values() {
            for q in &t.partitions {
                routes.entry(q.leader()).or_default().push(q.clone());
            }
        }
        drop(topics);
        let leaders: Vec<i32> = routes.keys().copied().filter(|&b| b >= 0).collect();
        *self.routes.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(routes);
        for broker in leaders {
            self.sink(broker);
        }
        self.wake_all_sinks();
    }

    /// The sink of `broker`, started if needed.
    fn sink(&self, broker: i32) -> Arc<SinkHandle> {
        let mut sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        sinks
            .entry(broker)
            .or_insert_with(|| sink::start(self.self_arc(), broker))
            .clone()
    }

    fn self_arc(&self) -> std::sync::Weak<ProducerCore> {
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
    /// refuse, so an idempotent producer bumps its epoch.
    pub(crate) fn fail_batch(
        &self,
        _queue: &PartitionQueue,
        batch: ProducerBatch,
        error: Arc<Error>,
    ) {
        if self.idempotent && batch.stamp.is_some() {
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
    fn all_queues(&self) -> Vec<Arc<PartitionQueue>> {
        self.topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .flat_map(|t| t.partitions.iter().cloned())
            .collect()
    }

    /// Fails every queued batch with [`Error::Closed`]; returns how many records that was.
    fn abandon_all(&self, why: &str) -> u64 {
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
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The router: refreshes metadata when asked (and every so often), applies it, bumps the
/// producer epoch once nothing is in flight, and expires batches that cannot be routed.
async fn run_router(shared: std::sync::Weak<ProducerCore>) {
    let mut last_view = Instant::now();
    loop {
        let Some(s) = shared.upgrade() else { return };
        if s.is_done() {
            s.wake_all_sinks();
            return;
        }
        let wake = s.router_wake.clone();
        let woken = wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if s.refresh_wanted.swap(false, Ordering::Relaxed) {
            match s.client.refresh_metadata().await {
                Ok(view) => {
                    s.apply_view(&view, false);
                    last_view = Instant::now();
                }
                Err(e) => {
                    tracing::debug!(error = %e, "producer metadata refresh failed");
                    s.refresh_wanted.store(true, Ordering::Relaxed);
                }
            }
        } else if last_view.elapsed() > Duration::from_secs(1) {
            // Pick up the client's background refreshes.
            let view = s.client.cached_view();
            s.apply_view(&view, false);
            last_view = Instant::now();
        }
        if s.identity.bump_requested() {
            let quiet = {
                let _gate = s.identity.exclusive();
                s.in_flight_batches.load(Ordering::SeqCst) == 0
            };
            if quiet {
                s.bump_epoch().await;
            }
        }
        s.expire_unroutable();
        drop(s);
        let _ = tokio::time::timeout(Duration::from_millis(100), woken).await;
    }
}

impl ProducerCore {
    /// Takes a new producer id/epoch and restarts every partition's sequence at 0.
    async fn bump_epoch(&self) {
        match self.identity.bump(&self.client).await {
            Ok(()) => {
                Counters::add(&self.counters.identity_resets, 1);
                for q in self.all_queues() {
                    let mut st = q.lock();
                    st.next_sequence = 0;
                    st.acked_sequence = 0;
                    st.retrying = false;
                    for b in st.ready.iter_mut() {
                        b.stamp = None;
                    }
                }
                self.wake_all_sinks();
            }
            Err(e) if e.is_retriable() => {
                tracing::warn!(error = %e, "producer epoch bump failed; will retry");
            }
            Err(e) => {
                tracing::error!(error = %e, "producer epoch bump failed for good");
                let e = Arc::new(e);
                let _ = self.fatal.set(e.clone());
                self.abandon_all(&format!("producer id lost: {e}"));
            }
        }
    }

    /// Fails batches of partitions without a leader once they pass the delivery timeout.
    fn expire_unroutable(&self) {
        let routes = self
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(orphans) = routes.get(&-1) else {
            return;
        };
        if !orphans.is_empty() {
            self.request_metadata();
        }
        for q in orphans {
            let expired: Vec<ProducerBatch> = {
                let mut st = q.lock();
                let mut out = Vec::new();
                while st
                    .ready
                    .front()
                    .is_some_and(|b| b.created.elapsed() >= self.config.delivery_timeout)
                {
                    out.extend(st.ready.pop_front());
                }
                out
            };
            for b in expired {
                let e = self.timeout_error(q, &b, "no leader known for the partition");
                self.fail_batch(q, b, Arc::new(e));
            }
        }
    }

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
