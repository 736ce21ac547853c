//! [`Consumer`]: the handle, its cursors (one per assigned partition), and `poll`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::config::{ConsumerConfig, Isolation};
use super::group::{self, GroupState, MemberAssignment, RebalanceListener, Subscription};
use super::isolation::AbortFilter;
use super::record::{ConsumerGroupMetadata, ConsumerRecord, Offset, TopicPartition};
use super::source::{self, SourceHandle};
use crate::client::Client;
use crate::error::{Error, Result};
use kafkit_record::RecordBatch;

mod assignment;
mod buffer;

pub use buffer::FetchedBatch;

/// A Kafka consumer in manual mode: assign partitions, seek, and poll. Cheap to clone.
///
/// One fetch *source* per broker keeps a fetch in flight for the partitions that broker
/// leads while the application works through what was fetched before, up to
/// `max_buffered_bytes`.
///
/// ```no_run
/// # async fn demo() -> kafkit_client::Result<()> {
/// use std::time::Duration;
/// use kafkit_client::{ClientConfig, Consumer, ConsumerConfig, Offset, TopicPartition};
/// let consumer = Consumer::connect(ConsumerConfig::new(ClientConfig::new(["127.0.0.1:9092"]))).await?;
/// consumer.assign(&[TopicPartition::new("events", 0)]).await?;
/// consumer.seek(&TopicPartition::new("events", 0), Offset::Beginning)?;
/// for record in consumer.poll(Duration::from_secs(1)).await? {
///     println!("{}@{}: {:?}", record.partition, record.offset, record.value);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Consumer {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("config", &self.handle.shared.config)
            .finish_non_exhaustive()
    }
}

struct Handle {
    shared: Arc<ConsumerCore>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.wake_sources();
    }
}

pub(crate) type Key = (Arc<str>, i32);

/// A partition being read: where fetching and polling stand.
#[derive(Debug)]
pub(crate) struct Cursor {
    pub topic: Arc<str>,
    pub topic_id: uuid::Uuid,
    pub partition: i32,
    /// Broker id of the leader; -1 when unknown.
    pub leader: i32,
    /// Bumped by every seek: fetched data of an older epoch is dropped.
    pub epoch: u64,
    /// Next offset to fetch; `None` while `pending` is being resolved.
    pub fetch_offset: Option<i64>,
    /// A seek to resolve with ListOffsets.
    pub pending: Option<Offset>,
    /// Next offset `poll` returns.
    pub position: Option<i64>,
    pub paused: bool,
    pub in_flight: bool,
    pub highwater: i64,
    pub last_stable: i64,
    pub log_start: i64,
}

/// One partition's fetched batches (or a failure to report), waiting for `poll`.
pub(crate) struct Fetched {
    pub key: Key,
    pub epoch: u64,
    pub batches: VecDeque<RecordBatch>,
    pub bytes: usize,
    /// Aborted transactions in this range: (producer id, first offset), by first offset.
    pub aborted: VecDeque<(i64, i64)>,
    pub error: Option<Error>,
}

#[derive(Default)]
pub(crate) struct State {
    pub cursors: HashMap<Key, Cursor>,
    pub fetched: VecDeque<Fetched>,
    pub buffered_bytes: usize,
    /// Records decoded from the front batch, not yet returned.
    /// Always of the cursors' current epochs: a seek or unassignment drops a partition's
    /// entries (`drop_buffered`).
    ready: VecDeque<ConsumerRecord>,
    /// Aborted producers in the range being read (read_committed).
    isolation: AbortFilter,
    /// Failures not tied to a partition's data (group membership), for the next poll.
    errors: VecDeque<Error>,
}

/// State shared by the consumer's handle, its fetch sources and its group membership task.
pub(crate) struct ConsumerCore {
    pub me: Weak<ConsumerCore>,
    pub config: ConsumerConfig,
    pub client: Client,
    state: Mutex<State>,
    pub data_ready: Notify,
    pub sources: Mutex<HashMap<i32, Arc<SourceHandle>>>,
    pub closed: AtomicBool,
    group: Mutex<GroupState>,
    /// Every member's user data and partitions, from the last assignment.
    roster: Mutex<Vec<MemberAssignment>>,
    /// When the application last called `poll`/`recv` (for `max.poll.interval`).
    last_poll: Mutex<Instant>,
    /// Notified by `poll`/`recv`: a member that left for not polling rejoins.
    pub poll_called: Notify,
    membership: Mutex<Option<tokio::task::JoinHandle<()>>>,
    listener: Mutex<Option<Arc<dyn RebalanceListener>>>,
}

impl Consumer {
    /// Connects a consumer with its own [`Client`].
    pub async fn connect(config: ConsumerConfig) -> Result<Consumer> {
        config.validate()?;
        let client = Client::connect(config.client.clone()).await?;
        Ok(Self::with_client(client, config))
    }

    /// A consumer over an existing client (sharing its connections).
    pub fn with_client(client: Client, config: ConsumerConfig) -> Consumer {
        let shared = Arc::new_cyclic(|me| ConsumerCore {
            me: me.clone(),
            config,
            client,
            state: Mutex::new(State::default()),
            data_ready: Notify::new(),
            sources: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            group: Mutex::new(GroupState::default()),
            roster: Mutex::new(Vec::new()),
            last_poll: Mutex::new(Instant::now()),
            poll_called: Notify::new(),
            membership: Mutex::new(None),
            listener: Mutex::new(None),
        });
        Consumer {
            handle: Arc::new(Handle { shared }),
        }
    }

    /// The client this consumer fetches through.
    pub fn client(&self) -> &Client {
        &self.handle.shared.client
    }

    /// Reads exactly these partitions (replacing any earlier assignment). Each starts where
    /// `auto_offset_reset` says until [`seek`](Self::seek) moves it.
    pub async fn assign(&self, partitions: &[TopicPartition]) -> Result<()> {
        let shared = &self.handle.shared;
        shared.config.validate()?;
        let start = shared.reset_start();
        shared.install(partitions, &HashMap::new(), start).await
    }

    /// Reads exactly these partitions (replacing any earlier assignment), each from the
    /// offset given: nothing is fetched from an `auto_offset_reset` start first, so a reader
    /// that knows where to begin pays no extra fetch.
    ///
    /// ```no_run
    /// # async fn demo(consumer: kafkit_client::Consumer) -> kafkit_client::Result<()> {
    /// use kafkit_client::{Offset, TopicPartition};
    /// consumer
    ///     .assign_from(&[
    ///         (TopicPartition::new("orders", 0), Offset::At(42)),
    ///         (TopicPartition::new("orders", 1), Offset::Beginning),
    ///     ])
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn assign_from(&self, starts: &[(TopicPartition, Offset)]) -> Result<()> {
        let shared = &self.handle.shared;
        shared.config.validate()?;
        let partitions: Vec<TopicPartition> = starts.iter().map(|(tp, _)| tp.clone()).collect();
        let at: HashMap<TopicPartition, i64> = starts
            .iter()
            .filter_map(|(tp, o)| match o {
                Offset::At(o) => Some((tp.clone(), *o)),
                _ => None,
            })
            .collect();
        // The others start nowhere (no fetch) until the seek below gives them a start.
        shared.install(&partitions, &at, None).await?;
        for (tp, offset) in starts {
            if !matches!(offset, Offset::At(_)) {
                self.seek(tp, *offset)?;
            }
        }
        Ok(())
    }

    /// Reads every partition of `topics`, without a group (no commits): the group-less mode
    /// global tables use. Returns the partitions assigned.
    pub async fn assign_topics(&self, topics: &[&str]) -> Result<Vec<TopicPartition>> {
        let view = self.handle.shared.client.topic_metadata(topics).await?;
        let mut partitions = Vec::new();
        for t in topics {
            let info = view
                .topics
                .get(*t)
                .filter(|i| i.error.is_none() && !i.partitions.is_empty())
                .ok_or_else(|| Error::Unknown {
                    what: "topic",
                    name: t.to_string(),
                })?;
            partitions.extend(
                info.partitions
                    .iter()
                    .map(|p| TopicPartition::new(*t, p.id)),
            );
        }
        self.assign(&partitions).await?;
        Ok(partitions)
    }

    /// Joins the consumer group (`group_id` must be set) and reads the partitions the group
    /// assigns, starting from their committed offsets (else `auto_offset_reset`).
    pub async fn subscribe(&self, topics: &[&str]) -> Result<()> {
        let shared = &self.handle.shared;
        shared.config.validate()?;
        if shared.config.group_id.is_none() {
            return Err(Error::Config(
                "subscribe needs a group.id; use assign() without a group".into(),
            ));
        }
        let mut task = shared.membership.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = task.take() {
            old.abort();
        }
        *task = Some(group::start(
            Arc::downgrade(shared),
            Subscription::Topics(topics.iter().map(|t| t.to_string()).collect()),
        ));
        Ok(())
    }

    /// Joins the consumer group subscribed to every topic whose whole name matches `pattern`
    /// (a regular expression); topics created later that match are picked up when metadata
    /// is refreshed (every `metadata_max_age`).
    pub async fn subscribe_pattern(&self, pattern: &str) -> Result<()> {
        let shared = &self.handle.shared;
        shared.config.validate()?;
        if shared.config.group_id.is_none() {
            return Err(Error::Config(
                "subscribe needs a group.id; use assign() without a group".into(),
            ));
        }
        let re = regex::Regex::new(pattern)
            .map_err(|e| Error::Config(format!("subscription pattern '{pattern}': {e}")))?;
        let mut task = shared.membership.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = task.take() {
            old.abort();
        }
        *task = Some(group::start(
            Arc::downgrade(shared),
            Subscription::Pattern(re),
        ));
        Ok(())
    }

    /// Installs a listener called around rebalances.
    pub fn set_rebalance_listener(&self, listener: Arc<dyn RebalanceListener>) {
        *self
            .handle
            .shared
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(listener);
    }

    /// Commits the position of every assigned partition, and waits for the coordinator.
    pub async fn commit(&self) -> Result<()> {
        self.require_group()?;
        group::commit(&self.handle.shared, None).await
    }

    /// Commits the given offsets (the next offset to read, as Kafka defines a commit) with
    /// optional metadata.
    pub async fn commit_offsets(
        &self,
        offsets: Vec<(TopicPartition, i64, Option<String>)>,
    ) -> Result<()> {
        self.require_group()?;
        group::commit(&self.handle.shared, Some(offsets)).await
    }

    /// Commits in the background; a failure is logged (and retried by the next commit).
    pub fn commit_async(&self) {
        let shared = self.handle.shared.clone();
        tokio::spawn(async move {
            if let Err(e) = group::commit(&shared, None).await {
                tracing::warn!(error = %e, "asynchronous commit failed");
            }
        });
    }

    /// Leaves the group (committing first when auto-commit is on) and stops fetching.
    pub async fn close(&self) {
        let shared = &self.handle.shared;
        let task = shared
            .membership
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(task) = task {
            task.abort();
            group::leave(shared).await;
        }
        shared.closed.store(true, Ordering::SeqCst);
        shared.wake_sources();
    }

    /// Every member of the group with its user data and partitions, as of the last
    /// assignment (empty before joining, or when a non-kafkit member led the assignment).
    pub fn group_members(&self) -> Vec<MemberAssignment> {
        self.handle
            .shared
            .roster
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The committed offsets of `partitions` in this consumer's group (absent: none).
    pub async fn committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>> {
        self.require_group()?;
        let mut topics: Vec<&str> = partitions.iter().map(|tp| tp.topic.as_str()).collect();
        topics.sort_unstable();
        topics.dedup();
        let all = self
            .handle
            .shared
            .client
            .admin()
            .committed_offsets(self.handle.shared.group_id(), Some(&topics))
            .await?;
        Ok(partitions
            .iter()
            .filter_map(|tp| {
                all.get(&(tp.topic.clone(), tp.partition))
                    .map(|c| (tp.clone(), c.offset))
            })
            .collect())
    }

    /// The member id and generation in the group, once joined.
    pub fn group_member(&self) -> Option<(String, i32)> {
        let st = self.handle.shared.group_state();
        (!st.member_id.is_empty()).then(|| (st.member_id.clone(), st.generation))
    }

    /// The member's group metadata, for committing its offsets in a producer's transaction
    /// ([`Producer::send_offsets_to_transaction`](crate::Producer::send_offsets_to_transaction));
    /// `None` without a `group.id`.
    pub fn group_metadata(&self) -> Option<ConsumerGroupMetadata> {
        let config = &self.handle.shared.config;
        let group_id = config.group_id.clone()?;
        let st = self.handle.shared.group_state();
        let joined = !st.member_id.is_empty();
        Some(ConsumerGroupMetadata {
            group_id,
            generation: if joined { st.generation } else { -1 },
            member_id: st.member_id.clone(),
            group_instance_id: config.group_instance_id.clone(),
        })
    }

    fn require_group(&self) -> Result<()> {
        match self.handle.shared.config.group_id {
            Some(_) => Ok(()),
            None => Err(Error::Config("commits need a group.id".into())),
        }
    }

    /// The assigned partitions.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        let mut out: Vec<_> = self
            .handle
            .shared
            .lock()
            .cursors
            .keys()
            .map(|(t, p)| TopicPartition::new(t.to_string(), *p))
            .collect();
        out.sort();
        out
    }

    /// Moves `tp` to `offset`; records fetched from the old position are dropped.
    pub fn seek(&self, tp: &TopicPartition, offset: Offset) -> Result<()> {
        let shared = &self.handle.shared;
        {
            let mut st = shared.lock();
            let key = key_of(tp);
            let c = st.cursors.get_mut(&key).ok_or_else(|| not_assigned(tp))?;
            c.epoch += 1;
            c.in_flight = false;
            match offset {
                Offset::At(o) => {
                    c.fetch_offset = Some(o);
                    c.position = Some(o);
                    c.pending = None;
                }
                other => {
                    c.fetch_offset = None;
                    c.position = None;
                    c.pending = Some(other);
                }
            }
            st.drop_buffered(&key);
        }
        shared.wake_sources();
        Ok(())
    }

    /// Stops fetching `partitions` (buffered records of them are kept for later).
    pub fn pause(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.set_paused(partitions, true)
    }

    /// Fetches `partitions` again.
    pub fn resume(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.set_paused(partitions, false)?;
        self.handle.shared.wake_sources();
        Ok(())
    }

    fn set_paused(&self, partitions: &[TopicPartition], paused: bool) -> Result<()> {
        let mut st = self.handle.shared.lock();
        for tp in partitions {
            st.cursors
                .get_mut(&key_of(tp))
                .ok_or_else(|| not_assigned(tp))?
                .paused = paused;
        }
        Ok(())
    }

    /// The offset of the next record `poll` returns for `tp` (`None` until known).
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        let st = self.handle.shared.lock();
        st.cursors.get(&key_of(tp)).and_then(|c| c.position)
    }

    /// The partition's end offset as last seen in a fetch (-1 before the first).
    pub fn highwater(&self, tp: &TopicPartition) -> i64 {
        let st = self.handle.shared.lock();
        st.cursors.get(&key_of(tp)).map_or(-1, |c| c.highwater)
    }

    /// Where reading `tp` ends now, as last seen in a fetch: the last stable offset for a
    /// `read_committed` consumer (it cannot pass an open transaction), else the high
    /// watermark; -1 before the first fetch.
    pub fn end_offset(&self, tp: &TopicPartition) -> i64 {
        let st = self.handle.shared.lock();
        st.cursors.get(&key_of(tp)).map_or(-1, |c| self.end_of(c))
    }

    fn end_of(&self, c: &Cursor) -> i64 {
        match self.handle.shared.config.isolation {
            Isolation::ReadCommitted if c.last_stable >= 0 => c.last_stable,
            _ => c.highwater,
        }
    }

    /// Records between the position and [`end_offset`](Self::end_offset), once both are
    /// known.
    pub fn lag(&self, tp: &TopicPartition) -> Option<i64> {
        let st = self.handle.shared.lock();
        let c = st.cursors.get(&key_of(tp))?;
        let end = self.end_of(c);
        Some((end - c.position?).max(0)).filter(|_| end >= 0)
    }

    /// Up to `max_poll_records` records, waiting at most `timeout` for the first one. An
    /// empty result means nothing arrived in time. A partition's failure (e.g. its offset
    /// is out of range with `auto_offset_reset=none`) is returned as the error.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        let shared = &self.handle.shared;
        self.wait_for(timeout, || {
            shared.take_records(shared.config.max_poll_records)
        })
        .await
    }

    /// Takes what `take` finds, waiting at most `timeout` for fetched data to give it some.
    async fn wait_for<T>(
        &self,
        timeout: Duration,
        take: impl Fn() -> Result<Vec<T>>,
    ) -> Result<Vec<T>> {
        let shared = &self.handle.shared;
        shared.polled();
        let deadline = Instant::now() + timeout;
        loop {
            let notified = shared.data_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let taken = take()?;
            if !taken.is_empty() {
                return Ok(taken);
            }
            if tokio::time::timeout_at(deadline.into(), notified)
                .await
                .is_err()
            {
                return Ok(Vec::new());
            }
        }
    }

    /// Whole batches as the broker served them, for byte-faithful copies: each keeps its raw
    /// bytes ([`RecordBatch::raw`], compressed as stored) and is handed out whole, control
    /// batches included; a batch is left out only when it lies wholly before the position.
    /// Waits at most `timeout` for the first one; positions move past each batch. Do not mix
    /// with [`Consumer::poll`] on one consumer: records `poll` decoded but did not return yet
    /// are dropped here.
    ///
    /// [`RecordBatch::raw`]: kafkit_record::RecordBatch::raw
    pub async fn poll_batches(&self, timeout: Duration) -> Result<Vec<FetchedBatch>> {
        let shared = &self.handle.shared;
        self.wait_for(timeout, || {
            shared.take_batches(shared.config.max_poll_records)
        })
        .await
    }

    /// The records as an async stream (each poll waits as long as it takes). Errors are
    /// items too; the stream goes on after one.
    ///
    /// ```no_run
    /// # async fn demo(consumer: kafkit_client::Consumer) -> kafkit_client::Result<()> {
    /// use futures_util::StreamExt;
    /// let mut records = std::pin::pin!(consumer.stream());
    /// while let Some(record) = records.next().await {
    ///     let record = record?;
    ///     println!("{}@{}", record.partition, record.offset);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream(
        &self,
    ) -> impl futures_util::Stream<Item = Result<ConsumerRecord>> + Send + 'static {
        let consumer = self.clone();
        futures_util::stream::unfold(
            (
                consumer,
                std::collections::VecDeque::<ConsumerRecord>::new(),
            ),
            |(consumer, mut pending)| async move {
                loop {
                    if let Some(r) = pending.pop_front() {
                        return Some((Ok(r), (consumer, pending)));
                    }
                    match consumer.poll(Duration::from_secs(3600)).await {
                        Ok(batch) => pending.extend(batch),
                        Err(e) => return Some((Err(e), (consumer, pending))),
                    }
                }
            },
        )
    }

    /// The next record, waiting as long as it takes.
    pub async fn recv(&self) -> Result<ConsumerRecord> {
        let shared = &self.handle.shared;
        shared.polled();
        loop {
            let notified = shared.data_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(r) = shared.take_records(1)?.pop() {
                return Ok(r);
            }
            notified.await;
        }
    }
}

fn key_of(tp: &TopicPartition) -> Key {
    (Arc::from(tp.topic.as_str()), tp.partition)
}

fn not_assigned(tp: &TopicPartition) -> Error {
    Error::Unknown {
        what: "assigned partition",
        name: tp.to_string(),
    }
}

impl State {
    /// Drops fetched data of `key` (after a seek).
    fn drop_buffered(&mut self, key: &Key) {
        let mut freed = 0;
        self.fetched.retain(|f| {
            let keep = &f.key != key;
            if !keep {
                freed += f.bytes;
            }
            keep
        });
        self.buffered_bytes -= freed.min(self.buffered_bytes);
        self.ready
            .retain(|r| (&r.topic, r.partition) != (&key.0, key.1));
    }
}

impl ConsumerCore {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_roster(&self, roster: Vec<MemberAssignment>) {
        *self.roster.lock().unwrap_or_else(|e| e.into_inner()) = roster;
    }

    fn polled(&self) {
        *self.last_poll.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.poll_called.notify_waiters();
    }

    /// Time since the application last polled.
    pub(crate) fn since_poll(&self) -> Duration {
        self.last_poll
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
    }

    pub(crate) fn group_state(&self) -> MutexGuard<'_, GroupState> {
        self.group.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The group id (only called in group mode).
    pub(crate) fn group_id(&self) -> &str {
        self.config.group_id.as_deref().unwrap_or("")
    }

    /// Hands a failure to the next poll.
    pub(crate) fn report(&self, e: Error) {
        self.lock().errors.push_back(e);
        self.data_ready.notify_waiters();
    }

    fn listener(&self) -> Option<Arc<dyn RebalanceListener>> {
        self.listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Where a partition without a position starts.
    fn reset_start(&self) -> Option<Offset> {
        match self.config.auto_offset_reset {
            super::config::OffsetReset::Earliest => Some(Offset::Beginning),
            super::config::OffsetReset::Latest => Some(Offset::End),
            super::config::OffsetReset::None => None,
        }
    }

    /// Positions of every assigned partition, for a commit.
    pub(crate) fn positions(&self) -> Vec<(TopicPartition, i64, Option<String>)> {
        self.lock()
            .cursors
            .values()
            .filter_map(|c| {
                c.position.map(|p| {
                    (
                        TopicPartition::new(c.topic.to_string(), c.partition),
                        p,
                        None,
                    )
                })
            })
            .collect()
    }

    /// Starts a source for every leader of an assigned partition, and wakes them all.
    pub(crate) fn ensure_sources(&self) {
        let leaders: HashSet<i32> = self
            .lock()
            .cursors
            .values()
            .map(|c| c.leader)
            .filter(|&l| l >= 0)
            .collect();
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        for l in leaders {
            sources
                .entry(l)
                .or_insert_with(|| source::start(self.me.clone(), l));
        }
        for s in sources.values() {
            s.wake.notify_one();
        }
    }

    pub(crate) fn wake_sources(&self) {
        for s in self
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            s.wake.notify_one();
        }
    }
}
