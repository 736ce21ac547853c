//! A Kafka cluster as a storage, through kafkit's client.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafkit_client::{
    AlterConfigOp, Client, CommittedOffset, ConfigResource, Consumer, ConsumerConfig, NewTopic,
    Offset, OffsetReset, OffsetSpec, Producer, ProducerConfig, ProducerRecord, RebalanceListener,
    TopicPartition,
};
use tokio::sync::OnceCell;

use crate::error::{Result, StoreError};
use crate::types::{
    ConsumerRecord, GroupInfo, GroupMemberInfo, GroupRead, NewRecord, ReadFrom, TopicSummary,
};
use crate::{RecordReader, Storage};

/// How long a reader waits for a poll before checking whether it is done.
const POLL: Duration = Duration::from_millis(500);

/// How long a reader without `follow` waits without progress (a first fetch, or a position
/// moving) before it gives up on reaching the end.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A Kafka cluster. Cheap to clone.
#[derive(Clone)]
pub struct KafkaStorage {
    client: Client,
    producer: std::sync::Arc<OnceCell<Producer>>,
    producer_config: ProducerConfig,
    consumer_config: ConsumerConfig,
}

impl std::fmt::Debug for KafkaStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaStorage")
            .field("bootstrap", &self.client.config().bootstrap)
            .finish_non_exhaustive()
    }
}

impl KafkaStorage {
    /// Connects with `producer` and `consumer` settings (their client settings are used to
    /// connect).
    pub async fn connect(producer: ProducerConfig, consumer: ConsumerConfig) -> Result<Self> {
        let client = Client::connect(consumer.client.clone()).await?;
        Ok(KafkaStorage {
            client,
            producer: Default::default(),
            producer_config: producer,
            consumer_config: consumer,
        })
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn producer(&self) -> Result<&Producer> {
        Ok(self
            .producer
            .get_or_try_init(|| Producer::connect(self.producer_config.clone()))
            .await?)
    }

    async fn known(&self, topic: &str) -> Result<()> {
        if self.exists(topic).await? {
            Ok(())
        } else {
            Err(StoreError::UnknownTopic(topic.to_string()))
        }
    }

    /// The same cluster, read `read_committed`: records of aborted and open transactions
    /// are never returned.
    pub fn read_committed(&self) -> KafkaStorage {
        let mut committed = self.clone();
        committed.consumer_config = committed
            .consumer_config
            .clone()
            .isolation(kafkit_client::Isolation::ReadCommitted);
        committed
    }

    /// Each partition's low watermark and where a reader of this storage ends now: the high
    /// watermark, or for `read_committed` the last stable offset (a reader cannot pass an
    /// open transaction, and would wait for it).
    async fn readable_range(&self, topic: &str) -> Result<BTreeMap<i32, (i64, i64)>> {
        let admin = self.client.admin();
        Ok(match self.consumer_config.isolation {
            kafkit_client::Isolation::ReadCommitted => admin.committed_range(topic).await?,
            kafkit_client::Isolation::ReadUncommitted => admin.watermarks(topic).await?,
        })
    }

    /// A transactional producer on this cluster with `transactional_id` (and this storage's
    /// producer settings). Connecting it fences an older producer with the same id and
    /// aborts that one's open transaction.
    pub async fn transactional_producer(&self, transactional_id: &str) -> Result<Producer> {
        let config = self
            .producer_config
            .clone()
            .transactional_id(transactional_id);
        Ok(Producer::with_client(self.client.clone(), config).await?)
    }

    /// Flushes and closes the producer, if one was opened.
    pub async fn close(&self) -> Result<()> {
        if let Some(p) = self.producer.get() {
            p.close(Duration::from_secs(30)).await?;
        }
        Ok(())
    }
}

impl Storage for KafkaStorage {
    type Reader = KafkaReader;

    fn describe(&self) -> String {
        format!("kafka:{}", self.client.config().bootstrap.join(","))
    }

    async fn list_topics(&self) -> Result<Vec<TopicSummary>> {
        let admin = self.client.admin();
        let mut names = admin.list_topics(false).await?;
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let marks = admin.watermarks(&name).await?;
            out.push(TopicSummary {
                partitions: marks.len() as i32,
                records: marks.values().map(|(l, h)| (h - l).max(0)).sum(),
                size_bytes: None,
                name,
            });
        }
        Ok(out)
    }

    async fn exists(&self, topic: &str) -> Result<bool> {
        let view = self.client.refresh_metadata().await?;
        Ok(view.topic(topic).is_some())
    }

    async fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        configs: &[(String, String)],
    ) -> Result<()> {
        let mut t = NewTopic::new(topic, partitions);
        for (k, v) in configs {
            t = t.config(k.clone(), v.clone());
        }
        match self.client.admin().create_topic(&t).await {
            Err(e) if e.is_topic_already_exists() => Err(StoreError::TopicExists(topic.into())),
            other => Ok(other?),
        }
    }

    async fn delete_topic(&self, topic: &str) -> Result<()> {
        self.known(topic).await?;
        Ok(self.client.admin().delete_topic(topic).await?)
    }

    async fn partitions(&self, topic: &str) -> Result<i32> {
        let view = self.client.refresh_metadata().await?;
        view.topic(topic)
            .map(|t| t.partitions.len() as i32)
            .ok_or_else(|| StoreError::UnknownTopic(topic.to_string()))
    }

    async fn set_partitions(&self, topic: &str, partitions: i32) -> Result<()> {
        let now = self.partitions(topic).await?;
        if partitions < now {
            return Err(StoreError::Invalid(format!(
                "topic '{topic}' has {now} partitions; Kafka cannot shrink a topic to {partitions}"
            )));
        }
        if partitions == now {
            return Ok(());
        }
        Ok(self
            .client
            .admin()
            .create_partitions(topic, partitions)
            .await?)
    }

    async fn topic_configs(&self, topic: &str, all: bool) -> Result<BTreeMap<String, String>> {
        self.known(topic).await?;
        let entries = self
            .client
            .admin()
            .describe_configs(&ConfigResource::Topic(topic.to_string()))
            .await?;
        // Kafka's ConfigSource 1 is TOPIC_CONFIG, a topic's own override; 2..=8 are broker
        // values and defaults.
        Ok(entries
            .into_iter()
            .filter(|e| all || e.source == 1)
            .filter_map(|e| Some((e.name, e.value?)))
            .collect())
    }

    async fn alter_topic_configs(
        &self,
        topic: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<()> {
        self.known(topic).await?;
        let ops: Vec<AlterConfigOp> = changes
            .iter()
            .map(|(k, v)| match v {
                Some(v) => AlterConfigOp::Set(k.clone(), v.clone()),
                None => AlterConfigOp::Delete(k.clone()),
            })
            .collect();
        Ok(self
            .client
            .admin()
            .alter_configs(&ConfigResource::Topic(topic.to_string()), &ops)
            .await?)
    }

    async fn delete_records(
        &self,
        topic: &str,
        before: &BTreeMap<i32, i64>,
    ) -> Result<BTreeMap<i32, i64>> {
        self.known(topic).await?;
        Ok(self.client.admin().delete_records(topic, before).await?)
    }

    async fn watermarks(&self, topic: &str) -> Result<BTreeMap<i32, (i64, i64)>> {
        self.known(topic).await?;
        Ok(self.client.admin().watermarks(topic).await?)
    }

    async fn offsets_for_times(
        &self,
        topic: &str,
        timestamp: i64,
    ) -> Result<BTreeMap<i32, Option<i64>>> {
        self.known(topic).await?;
        let found = self
            .client
            .admin()
            .list_offsets(topic, &[], OffsetSpec::Timestamp(timestamp))
            .await?;
        Ok(found
            .into_iter()
            .map(|(p, o)| (p, (o.offset >= 0).then_some(o.offset)))
            .collect())
    }

    async fn append(&self, topic: &str, records: Vec<NewRecord>) -> Result<Vec<(i32, i64)>> {
        let producer = self.producer().await?;
        let mut pending = Vec::with_capacity(records.len());
        for r in records {
            let pr = producer_record(topic, r);
            pending.push(
                producer
                    .send(pr)
                    .await
                    .map_err(|e| StoreError::Client(e.error))?,
            );
        }
        let mut placed = Vec::with_capacity(pending.len());
        for d in pending {
            let d = d.await?;
            placed.push((d.partition, d.offset));
        }
        Ok(placed)
    }

    async fn reader(
        &self,
        topic: &str,
        partitions: Option<&[i32]>,
        from: ReadFrom,
        follow: bool,
    ) -> Result<KafkaReader> {
        self.known(topic).await?;
        let config = self
            .consumer_config
            .clone()
            .auto_offset_reset(OffsetReset::Earliest);
        let consumer = Consumer::with_client(self.client.clone(), config);
        let all = self.partitions(topic).await?;
        let chosen = crate::types::choose_partitions(topic, partitions, all)?;
        let tps: Vec<TopicPartition> = chosen
            .iter()
            .map(|&p| TopicPartition::new(topic, p))
            .collect();
        let marks = self.readable_range(topic).await?;
        let mut stops = BTreeMap::new();
        let mut starts = Vec::with_capacity(tps.len());
        for tp in &tps {
            let (low, high) = marks.get(&tp.partition).copied().unwrap_or((0, 0));
            let start = match &from {
                ReadFrom::Beginning => Offset::Beginning,
                ReadFrom::End => Offset::End,
                ReadFrom::Last(n) => Offset::At((high - n).max(low)),
                ReadFrom::Offset(o) => Offset::At((*o).clamp(low, high)),
                ReadFrom::Offsets(m) => m
                    .get(&tp.partition)
                    .map_or(Offset::Beginning, |o| Offset::At((*o).clamp(low, high))),
                ReadFrom::Timestamp(ts) => Offset::Timestamp(*ts),
            };
            starts.push((tp.clone(), start));
            stops.insert(tp.partition, high);
        }
        consumer.assign_from(&starts).await?;
        Ok(KafkaReader::new(consumer, tps, None, stops, follow))
    }

    async fn group_reader(
        &self,
        topic: &str,
        group: &GroupRead,
        follow: bool,
    ) -> Result<KafkaReader> {
        self.known(topic).await?;
        let config = self
            .consumer_config
            .clone()
            .group_id(group.group.clone())
            .auto_offset_reset(group.reset)
            .auto_commit(true);
        let consumer = Consumer::with_client(self.client.clone(), config);
        let assigned = Arc::new(AtomicBool::new(false));
        consumer.set_rebalance_listener(Arc::new(FirstAssignment {
            group: group.group.clone(),
            assigned: assigned.clone(),
        }));
        // Without follow, each partition is read up to its end now (or, if larger, the end
        // its first fetch reports).
        let stops = self
            .readable_range(topic)
            .await?
            .into_iter()
            .map(|(p, (_, high))| (p, high))
            .collect();
        consumer.subscribe(&[topic]).await?;
        let membership = Membership {
            group: group.group.clone(),
            assigned,
        };
        Ok(KafkaReader::new(
            consumer,
            Vec::new(),
            Some(membership),
            stops,
            follow,
        ))
    }

    async fn list_groups(&self) -> Result<Vec<String>> {
        let mut groups: Vec<String> = self
            .client
            .admin()
            .list_groups()
            .await?
            .into_iter()
            .map(|g| g.group_id)
            .collect();
        groups.sort();
        Ok(groups)
    }

    async fn group_offsets(&self, group: &str) -> Result<BTreeMap<String, BTreeMap<i32, i64>>> {
        let committed = self.client.admin().committed_offsets(group, None).await?;
        let mut out: BTreeMap<String, BTreeMap<i32, i64>> = BTreeMap::new();
        for ((topic, partition), o) in committed {
            if o.offset >= 0 {
                out.entry(topic).or_default().insert(partition, o.offset);
            }
        }
        Ok(out)
    }

    async fn commit(
        &self,
        group: &str,
        offsets: &BTreeMap<String, BTreeMap<i32, i64>>,
    ) -> Result<()> {
        let flat: BTreeMap<(String, i32), CommittedOffset> = offsets
            .iter()
            .flat_map(|(t, ps)| {
                ps.iter().map(move |(&p, &o)| {
                    let c = CommittedOffset {
                        offset: o,
                        metadata: None,
                    };
                    ((t.clone(), p), c)
                })
            })
            .collect();
        Ok(self
            .client
            .admin()
            .alter_committed_offsets(group, &flat)
            .await?)
    }

    async fn delete_group(&self, group: &str) -> Result<()> {
        Ok(self.client.admin().delete_group(group).await?)
    }

    async fn describe_group(&self, group: &str) -> Result<GroupInfo> {
        let d = self.client.admin().describe_group(group).await?;
        Ok(GroupInfo {
            group: d.group_id,
            state: d.state,
            members: d
                .members
                .into_iter()
                .map(|m| GroupMemberInfo {
                    member_id: m.member_id,
                    client_id: m.client_id,
                    host: m.client_host,
                    assigned: m.assigned,
                })
                .collect(),
        })
    }
}

/// Reads a topic's partitions: chosen ones through a group-less consumer, or those a
/// consumer group assigns to a member.
pub struct KafkaReader {
    consumer: Consumer,
    /// The partitions read: fixed, or a group member's assignment (refreshed before each
    /// poll).
    tps: Vec<TopicPartition>,
    /// The group, when reading as a member of one.
    group: Option<Membership>,
    /// Ends when the reader opened (ListOffsets: high watermarks, or last stable offsets
    /// when reading read_committed).
    stops: BTreeMap<i32, i64>,
    /// The end each partition's first fetch reported (same kind): a reader stops at the
    /// larger of the two (they agree on Kafka; Tansu's ListOffsets can fall short, see
    /// docs/TESTING.md).
    first_highwater: BTreeMap<i32, i64>,
    follow: bool,
    /// When a position last moved (or the reader opened), and the positions then.
    progressed: Instant,
    last_positions: BTreeMap<i32, i64>,
    /// Per partition, the offset of the first record handed out: where a group member's
    /// commit goes back to on close when the caller handled none of a partition's records.
    first_handed: BTreeMap<i32, i64>,
}

/// A group reader's group, and whether the group has assigned it partitions yet.
struct Membership {
    group: String,
    assigned: Arc<AtomicBool>,
}

/// Notes the first assignment (which may be empty: more members than partitions), and
/// logs each (at info: `KAFKIT_LOG=kafkit_store=info` shows a member's partitions).
struct FirstAssignment {
    group: String,
    assigned: Arc<AtomicBool>,
}

impl RebalanceListener for FirstAssignment {
    fn on_assigned(&self, partitions: &[TopicPartition]) {
        let held: Vec<i32> = partitions.iter().map(|tp| tp.partition).collect();
        tracing::info!(group = %self.group, partitions = ?held, "assigned");
        self.assigned.store(true, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for KafkaReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaReader")
            .field("partitions", &self.tps)
            .field("group", &self.group.as_ref().map(|g| &g.group))
            .field("follow", &self.follow)
            .finish_non_exhaustive()
    }
}

impl KafkaReader {
    /// A reader of `tps` (a group member: of what its group assigns) stopping at `stops`
    /// unless it follows.
    fn new(
        consumer: Consumer,
        tps: Vec<TopicPartition>,
        group: Option<Membership>,
        stops: BTreeMap<i32, i64>,
        follow: bool,
    ) -> Self {
        KafkaReader {
            consumer,
            tps,
            group,
            stops,
            first_highwater: BTreeMap::new(),
            follow,
            progressed: Instant::now(),
            last_positions: BTreeMap::new(),
            first_handed: BTreeMap::new(),
        }
    }

    /// Where a reader without `follow` stops in `partition`: the larger of the end taken at
    /// open and the first fetch's high watermark.
    fn stop_of(&self, partition: i32) -> i64 {
        let first = self.first_highwater.get(&partition).copied().unwrap_or(0);
        self.stops.get(&partition).copied().unwrap_or(0).max(first)
    }

    /// A group member reads what it holds now.
    fn refresh_assignment(&mut self) {
        if self.group.is_some() {
            self.tps = self.consumer.assignment();
            let held: std::collections::BTreeSet<i32> =
                self.tps.iter().map(|tp| tp.partition).collect();
            self.first_handed.retain(|p, _| held.contains(p));
        }
    }

    /// Drops what a reader without `follow` fetched past a partition's stop, and moves that
    /// partition back to its stop (pausing it), so that its position (and a group's commit)
    /// never passes a record that was not returned.
    fn cut_at_stops<T>(&mut self, items: &mut Vec<T>, at: impl Fn(&T) -> (i32, i64)) {
        self.note_highwaters();
        let mut past = std::collections::BTreeSet::new();
        items.retain(|item| {
            let (partition, offset) = at(item);
            let keep = offset < self.stop_of(partition);
            if !keep {
                past.insert(partition);
            }
            keep
        });
        for partition in past {
            let Some(tp) = self.tps.iter().find(|tp| tp.partition == partition) else {
                continue;
            };
            let stop = self.stop_of(partition);
            if self.consumer.position(tp).is_some_and(|at| at > stop) {
                // Only fails for a partition no longer held: nothing to move back then.
                let _ = self.consumer.seek(tp, Offset::At(stop));
                let _ = self.consumer.pause(std::slice::from_ref(tp));
            }
        }
    }

    /// Commits `handled` for the partitions the member holds; a commit refused by a
    /// rebalance is logged.
    async fn commit_held(&self, handled: &BTreeMap<i32, i64>) -> Result<()> {
        let Some(membership) = &self.group else {
            return Ok(());
        };
        let offsets: Vec<_> = self
            .consumer
            .assignment()
            .into_iter()
            .filter_map(|tp| handled.get(&tp.partition).map(|&o| (tp, o, None)))
            .collect();
        match self.consumer.commit_offsets(offsets).await {
            Err(e) if e.is_rebalance() => {
                tracing::warn!(group = %membership.group, error = %e, "commit refused during a rebalance; the new owner resumes from the last commit");
                Ok(())
            }
            other => Ok(other?),
        }
    }

    fn note_highwaters(&mut self) {
        for tp in &self.tps {
            // The last stable offset when reading read_committed.
            let hw = self.consumer.end_offset(tp);
            if hw >= 0 {
                self.first_highwater.entry(tp.partition).or_insert(hw);
            }
        }
    }

    /// True once every partition reached its stop; an error naming the partitions still
    /// short of it when nothing moved for `STALL_TIMEOUT`.
    fn done(&mut self) -> Result<bool> {
        if let Some(m) = &self.group {
            if !m.assigned.load(Ordering::SeqCst) {
                if self.progressed.elapsed() > STALL_TIMEOUT {
                    return Err(StoreError::Timeout(format!(
                        "group '{}' assigned nothing within {STALL_TIMEOUT:?}",
                        m.group
                    )));
                }
                return Ok(false);
            }
        }
        self.note_highwaters();
        let positions = self.positions();
        if positions != self.last_positions {
            self.last_positions = positions;
            self.progressed = Instant::now();
        }
        let stop_of = |tp: &TopicPartition| {
            let hw = self.first_highwater.get(&tp.partition)?;
            Some(self.stops.get(&tp.partition).copied().unwrap_or(0).max(*hw))
        };
        let is_short = |tp: &TopicPartition| match stop_of(tp) {
            None => true,
            Some(stop) => self.consumer.position(tp).is_none_or(|at| at < stop),
        };
        if !self.tps.iter().any(is_short) {
            return Ok(true);
        }
        if self.progressed.elapsed() > STALL_TIMEOUT {
            let short: Vec<String> = self
                .tps
                .iter()
                .filter(|tp| is_short(tp))
                .map(|tp| match stop_of(tp) {
                    None => format!("{tp} (no fetch answered)"),
                    Some(stop) => format!("{tp} at {:?}, end {stop}", self.consumer.position(tp)),
                })
                .collect();
            return Err(StoreError::Timeout(format!(
                "no progress for {STALL_TIMEOUT:?} reading {}",
                short.join(", ")
            )));
        }
        Ok(false)
    }
}

impl KafkaReader {
    /// The next batches whole, as the broker served them (raw bytes kept, control batches
    /// included), for byte-faithful copies; `Ok(None)` at the end, as `next_records`. Do not
    /// mix with `next_records` on one reader.
    pub async fn next_batches(&mut self) -> Result<Option<Vec<kafkit_client::FetchedBatch>>> {
        loop {
            self.refresh_assignment();
            if !self.follow && self.done()? {
                return Ok(None);
            }
            let mut batches = self.consumer.poll_batches(POLL).await?;
            self.refresh_assignment();
            if !self.follow {
                self.cut_at_stops(&mut batches, |b| (b.partition, b.batch.header.base_offset));
            }
            if !batches.is_empty() {
                return Ok(Some(batches));
            }
        }
    }
}

impl RecordReader for KafkaReader {
    async fn next_records(&mut self) -> Result<Option<Vec<ConsumerRecord>>> {
        loop {
            self.refresh_assignment();
            if !self.follow && self.done()? {
                return Ok(None);
            }
            let mut records = self.consumer.poll(POLL).await?;
            self.refresh_assignment();
            if !self.follow {
                self.cut_at_stops(&mut records, |r| (r.partition, r.offset));
            }
            if !records.is_empty() {
                for r in &records {
                    self.first_handed.entry(r.partition).or_insert(r.offset);
                }
                return Ok(Some(records));
            }
        }
    }

    fn positions(&self) -> BTreeMap<i32, i64> {
        let held;
        let tps = match self.group {
            Some(_) => {
                held = self.consumer.assignment();
                &held
            }
            None => &self.tps,
        };
        tps.iter()
            .filter_map(|tp| self.consumer.position(tp).map(|p| (tp.partition, p)))
            .collect()
    }

    async fn commit(&mut self, handled: &BTreeMap<i32, i64>) -> Result<()> {
        self.commit_held(handled).await
    }

    async fn close(&mut self, handled: &BTreeMap<i32, i64>) -> Result<()> {
        if self.group.is_none() {
            return Ok(());
        }
        // Leaving commits the positions (auto-commit): move them back to what was handled
        // first (a poll may have returned more than the caller used).
        // A partition of which none were handled goes back to its first record handed out.
        for tp in self.consumer.assignment() {
            let back_to = handled
                .get(&tp.partition)
                .or_else(|| self.first_handed.get(&tp.partition));
            if let Some(&at) = back_to {
                if self.consumer.position(&tp).is_none_or(|p| p != at) {
                    let _ = self.consumer.seek(&tp, Offset::At(at));
                }
            }
        }
        let committed = self.commit_held(handled).await;
        self.consumer.close().await;
        committed
    }
}

/// A record to write to `topic`, as the producer takes it.
pub(crate) fn producer_record(topic: &str, r: NewRecord) -> ProducerRecord {
    let mut pr = ProducerRecord::new(topic.to_string());
    pr.key = r.key;
    pr.value = r.value;
    pr.headers = r.headers;
    pr.timestamp = r.timestamp;
    pr.partition = r.partition;
    pr
}
