//! The reader task: restores a checkpoint, replays the topic up to the catch-up gate, then
//! follows live updates, publishing the map for readers.
//!
//! ```text
//!  connect, wait for the topic, take end offsets
//!        │
//!  restore checkpoint? ──► seed the replay, seek to its offsets (else: from the beginning)
//!        │
//!  replay (raw bytes, last value per key) ──► gate / degraded / stop / failure
//!        │
//!  materialize (decode each key once) ──► repair keys whose last value is malformed
//!        │
//!  follow: apply record by record, publish every 20 ms, checkpoint periodically and on stop
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafkit_client::{Consumer, Offset, OffsetSpec, TopicPartition};

use crate::apply::{apply, Change};
use crate::checkpoint;
use crate::map::TableMap;
use crate::replay::Replay;
use crate::table::{Inner, Status};

/// Longest time applied records wait before readers see them while records stream in.
const PUBLISH_EVERY: Duration = Duration::from_millis(20);

/// How long one poll waits when there is nothing to publish.
const IDLE_POLL: Duration = Duration::from_millis(200);

/// Raw key and raw value of every key in the map, kept for checkpoints.
type RawMap = imbl::HashMap<Arc<str>, (Bytes, Bytes)>;

/// Why the replay phase ended.
enum ReplayEnd {
    /// Every partition reached its end offset taken at start.
    Gate,
    /// `start()` gave up waiting: serve what there is and keep reading.
    Degraded,
    /// Catch-up must see every record (hooks, subscribers, or configured so).
    RecordByRecord,
    Stop,
    Failed(kafkit_client::Error),
    /// The table was dropped.
    Gone,
}

/// What the reader task owns.
struct Reader<V> {
    weak: Weak<Inner<V>>,
    consumer: Consumer,
    topic: String,
    topic_id: [u8; 16],
    partitions: Vec<TopicPartition>,
    /// End offsets taken at start.
    targets: HashMap<i32, i64>,
    /// High watermark of each partition's first fetch (see `gate_reached`).
    first_highwater: HashMap<i32, i64>,
    /// Where this run started reading each partition (absent: the beginning).
    start_from: HashMap<i32, i64>,
    restored: bool,
    started: Instant,
    replayed: u64,
    /// Raw keys and last values until the gate (taken by `materialize_and_publish`).
    replay: Replay,
    map: TableMap<V>,
    raw: Option<RawMap>,
}

/// The task `GlobalTable::start` spawns.
pub(crate) async fn run_reader<V: Send + Sync + 'static>(weak: Weak<Inner<V>>) {
    let Some(mut reader) = Reader::open(weak).await else {
        return;
    };
    let end = reader.replay().await;
    reader.materialize_and_publish(&end).await;
    let Some(inner) = reader.weak.upgrade() else {
        return;
    };
    match end {
        ReplayEnd::Gate => {
            reader.open_gate(&inner);
            drop(inner);
            if reader.replayed > 0 {
                reader.write_checkpoint().await;
            }
            reader.follow(true).await;
        }
        ReplayEnd::Degraded | ReplayEnd::RecordByRecord => {
            drop(inner);
            reader.follow(false).await;
        }
        ReplayEnd::Stop => {
            drop(inner);
            reader.write_checkpoint().await;
        }
        ReplayEnd::Failed(e) => fail(&inner, e),
        ReplayEnd::Gone => {}
    }
}

pub(crate) fn fail<V>(inner: &Inner<V>, e: kafkit_client::Error) {
    tracing::error!(topic = %inner.config.topic, error = %e, "table reader failed");
    let _ = inner.failure.set(Arc::new(e));
    inner.status.send_replace(Status::Failed);
}

impl<V: Send + Sync + 'static> Reader<V> {
    /// Connects, waits for the topic, takes the end offsets and restores the checkpoint.
    async fn open(weak: Weak<Inner<V>>) -> Option<Self> {
        let inner = weak.upgrade()?;
        let topic = inner.config.topic.clone();
        let consumer = match Consumer::connect(inner.config.consumer.clone()).await {
            Ok(c) => c,
            Err(e) => {
                fail(&inner, e);
                return None;
            }
        };
        // Wait for the topic (it may be created after the reader starts).
        let partitions = loop {
            if inner.stop.load(Ordering::SeqCst) {
                return None;
            }
            match consumer.assign_topics(&[&topic]).await {
                Ok(p) => break p,
                Err(kafkit_client::Error::Unknown { .. }) => {
                    tokio::time::sleep(Duration::from_millis(500)).await
                }
                Err(e) if e.is_retriable() => tokio::time::sleep(Duration::from_millis(500)).await,
                Err(e) => {
                    fail(&inner, e);
                    return None;
                }
            }
        };
        let targets = loop {
            match list_offsets(&consumer, &topic, OffsetSpec::Latest).await {
                Ok(t) => break t,
                Err(e) if e.is_retriable() => tokio::time::sleep(Duration::from_millis(200)).await,
                Err(e) => {
                    fail(&inner, e);
                    return None;
                }
            }
        };
        let topic_id = consumer
            .client()
            .cluster()
            .await
            .ok()
            .and_then(|view| view.topic(&topic).map(|t| *t.id.as_bytes()))
            .unwrap_or_default();
        let mut reader = Reader {
            weak: weak.clone(),
            consumer,
            topic,
            topic_id,
            partitions,
            targets,
            first_highwater: HashMap::new(),
            start_from: HashMap::new(),
            restored: false,
            started: Instant::now(),
            replayed: 0,
            replay: Replay::default(),
            map: TableMap::default(),
            raw: inner.config.checkpoint.is_some().then(imbl::HashMap::new),
        };
        if let Some((path, _)) = &inner.config.checkpoint {
            match reader.restore(path).await {
                Ok(true) => {
                    reader.restored = true;
                    inner
                        .counters
                        .checkpoint_restored
                        .store(1, Ordering::Relaxed);
                }
                Ok(false) => {}
                Err(why) => {
                    tracing::warn!(topic = %reader.topic, path = %path.display(), %why, "checkpoint not used; replaying the whole topic");
                    reader.replay = Replay::default();
                    reader.start_from.clear();
                }
            }
        }
        for tp in &reader.partitions {
            let at = reader
                .start_from
                .get(&tp.partition)
                .map_or(Offset::Beginning, |&o| Offset::At(o));
            let _ = reader.consumer.seek(tp, at);
        }
        let _ = inner.consumer.set(reader.consumer.clone());
        Some(reader)
    }

    /// Seeds the replay from the checkpoint at `path` when it fits the topic as it is now.
    /// `Ok(false)`: there is none; `Err`: why it cannot be used.
    async fn restore(&mut self, path: &std::path::Path) -> Result<bool, String> {
        let c = match checkpoint::read_blocking(path).await {
            Ok(None) => return Ok(false),
            Ok(Some(c)) => c,
            Err(e) => return Err(e.to_string()),
        };
        if c.topic != self.topic {
            return Err(format!("it belongs to topic '{}'", c.topic));
        }
        let nil = [0u8; 16];
        if c.topic_id != nil && self.topic_id != nil && c.topic_id != self.topic_id {
            return Err("the topic was recreated since (its id changed)".into());
        }
        let earliest = list_offsets(&self.consumer, &self.topic, OffsetSpec::Earliest)
            .await
            .map_err(|e| format!("cannot read the log start offsets: {e}"))?;
        for (&p, &at) in &c.offsets {
            let Some(&end) = self.targets.get(&p) else {
                return Err(format!("partition {p} no longer exists"));
            };
            if at > end {
                return Err(format!(
                    "partition {p}: the checkpoint is at offset {at}, past the end {end} \
                     (the topic was recreated or truncated)"
                ));
            }
            let start = earliest.get(&p).copied().unwrap_or(0);
            if at < start {
                return Err(format!(
                    "partition {p}: records from offset {at} on are gone (the log starts at {start})"
                ));
            }
        }
        if let Some(retention) = self.tombstone_retention().await? {
            // A tombstone written after the checkpoint is kept for at least
            // delete.retention.ms; older than half that, catch-up could miss a delete.
            let age = c.written_at.and_then(|t| t.elapsed().ok());
            if age.is_none_or(|age| age >= retention / 2) {
                return Err(format!(
                    "it is {} old and the topic is compacted with delete.retention.ms = {} ms: \
                     deletes made since then may be gone from the log",
                    age.map_or("of unknown age".into(), |a| format!("{} s", a.as_secs())),
                    retention.as_millis()
                ));
            }
        }
        for (k, v) in &c.entries {
            self.replay.restore(k, v);
        }
        tracing::debug!(topic = %self.topic, keys = c.entries.len(), offsets = ?c.offsets, "checkpoint restored");
        self.start_from = c.offsets.into_iter().collect();
        Ok(true)
    }

    /// How long the topic's compaction keeps tombstones (`delete.retention.ms`), when its
    /// cleanup policy compacts; `None` when it does not (nothing removes a tombstone early).
    async fn tombstone_retention(&self) -> Result<Option<Duration>, String> {
        let configs = self
            .consumer
            .client()
            .admin()
            .describe_configs(&kafkit_client::ConfigResource::Topic(self.topic.clone()))
            .await
            .map_err(|e| format!("cannot read the topic's configs: {e}"))?;
        let value = |name: &str| {
            configs
                .iter()
                .find(|e| e.name == name)
                .and_then(|e| e.value.clone())
        };
        if !value("cleanup.policy").is_some_and(|p| p.contains("compact")) {
            return Ok(None);
        }
        // Kafka's default, when the broker does not list it.
        let ms = value("delete.retention.ms")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(86_400_000);
        Ok(Some(Duration::from_millis(ms)))
    }

    /// Every partition's next offset, where known.
    fn positions(&self) -> HashMap<i32, i64> {
        self.partitions
            .iter()
            .filter_map(|tp| self.consumer.position(tp).map(|p| (tp.partition, p)))
            .collect()
    }

    /// The gate: every partition read up to the end offset taken at start, and to the high
    /// watermark of its first fetch (the same number on Kafka; on Tansu ListOffsets can fall
    /// short of the end, see docs/TESTING.md).
    fn gate_reached(&mut self, positions: &HashMap<i32, i64>) -> bool {
        for tp in &self.partitions {
            let hw = self.consumer.highwater(tp);
            if hw >= 0 {
                self.first_highwater.entry(tp.partition).or_insert(hw);
            }
        }
        self.targets.iter().all(|(p, end)| {
            let end = (*end).max(self.first_highwater.get(p).copied().unwrap_or(i64::MAX));
            positions.get(p).is_some_and(|&at| at >= end)
        })
    }

    /// Catch-up over raw bytes: folds records into the replay until the gate opens, `start()`
    /// gives up waiting, the table stops, or a non-retriable error.
    async fn replay(&mut self) -> ReplayEnd {
        {
            let Some(inner) = self.weak.upgrade() else {
                return ReplayEnd::Gone;
            };
            let c = &inner.config;
            if c.decode_every_value
                || c.on_set.is_some()
                || c.on_delete.is_some()
                || inner.changes.receiver_count() > 0
            {
                return ReplayEnd::RecordByRecord;
            }
        }
        // Whole batches, records folded straight from them, unless aborted transactions must
        // be filtered out (read_committed), which only `poll` does.
        let by_batches = {
            let Some(inner) = self.weak.upgrade() else {
                return ReplayEnd::Gone;
            };
            inner.config.consumer.isolation == kafkit_client::Isolation::ReadUncommitted
        };
        // Per partition, the offset the next record must reach (a batch may start before it).
        let mut next: HashMap<i32, i64> = self.positions();
        loop {
            {
                let Some(inner) = self.weak.upgrade() else {
                    return ReplayEnd::Gone;
                };
                if inner.stop.load(Ordering::SeqCst) {
                    return ReplayEnd::Stop;
                }
                if *inner.status.borrow() == Status::Degraded {
                    return ReplayEnd::Degraded;
                }
            }
            let polled = if by_batches {
                self.fold_batches(&mut next).await
            } else {
                self.fold_records().await
            };
            match polled {
                Ok(()) => {}
                Err(e) if e.is_retriable() => {
                    tracing::debug!(topic = %self.topic, error = %e, "table reader: transient error");
                    continue;
                }
                Err(e) => return ReplayEnd::Failed(e),
            }
            let positions = self.positions();
            if self.gate_reached(&positions) {
                return ReplayEnd::Gate;
            }
        }
    }

    /// One poll of records, folded into the replay.
    async fn fold_records(&mut self) -> kafkit_client::Result<()> {
        let records = self.consumer.poll(IDLE_POLL).await?;
        let mut folder = self.replay.folder();
        for r in &records {
            folder.push(r.key.as_deref(), r.value.as_deref());
        }
        self.replayed += records.len() as u64;
        Ok(())
    }

    /// One poll of whole batches, their records folded into the replay without building a
    /// record for each (control batches and records before `next` skipped).
    async fn fold_batches(&mut self, next: &mut HashMap<i32, i64>) -> kafkit_client::Result<()> {
        let batches = self.consumer.poll_batches(IDLE_POLL).await?;
        let mut folder = self.replay.folder();
        for f in &batches {
            let h = &f.batch.header;
            let from = next.get(&f.partition).copied().unwrap_or(i64::MIN);
            next.insert(f.partition, h.next_offset());
            if h.is_control {
                continue;
            }
            for r in f.batch.record_refs() {
                let r = r.map_err(|source| kafkit_client::Error::Corrupt {
                    topic: self.topic.clone(),
                    partition: f.partition,
                    offset: h.base_offset,
                    source,
                })?;
                if r.offset >= from {
                    folder.push(r.key, r.value);
                    self.replayed += 1;
                }
            }
        }
        Ok(())
    }

    /// Decodes the replay into the map, repairs keys whose last value is malformed, and
    /// publishes the map with the positions it is complete up to.
    async fn materialize_and_publish(&mut self, end: &ReplayEnd) {
        if matches!(end, ReplayEnd::Gone) {
            return;
        }
        let Some(inner) = self.weak.upgrade() else {
            return;
        };
        let replay = std::mem::take(&mut self.replay);
        let t0 = Instant::now();
        let out = replay.materialize(&inner.config, &inner.counters, self.raw.is_some());
        tracing::debug!(topic = %self.topic, records = self.replayed, replay = ?self.started.elapsed(), keys = out.map.len(), materialize = ?t0.elapsed(), repair = out.repair.len(), "replay done");
        self.map = out.map;
        if self.raw.is_some() {
            self.raw = Some(out.raw);
        }
        drop(inner);
        if !out.repair.is_empty() {
            self.repair(&out.repair).await;
        }
        let Some(inner) = self.weak.upgrade() else {
            return;
        };
        inner.map.store(Arc::new(self.map.clone()));
        let positions = self.positions();
        inner.applied.send_replace(positions);
    }

    /// Replays, record by record, the history of `keys` (whose last value did not decode) from
    /// where this run started up to the current positions, so each ends at its last value
    /// that decodes, counted exactly. Rare: it takes a second pass over the partitions.
    async fn repair(&mut self, keys: &HashSet<Box<[u8]>>) {
        let Some(inner) = self.weak.upgrade() else {
            return;
        };
        let config = &inner.config;
        tracing::debug!(topic = %self.topic, keys = keys.len(), "replaying keys whose last value is malformed");
        // Their state before this run: the checkpoint's values.
        if let (true, Some((path, _))) = (self.restored, &config.checkpoint) {
            if let Ok(Some(c)) = checkpoint::read_blocking(path).await {
                for (k, v) in c.entries.iter().filter(|(k, _)| keys.contains(&k[..])) {
                    if let (Ok(key), Ok(value)) =
                        ((config.key_decoder)(k), (config.value_decoder)(v))
                    {
                        if let Some(raw) = &mut self.raw {
                            raw.insert(key.clone(), (k.clone(), v.clone()));
                        }
                        self.map.insert(key, Arc::new(value));
                    }
                }
            }
        }
        let until = self.positions();
        let work: Vec<(TopicPartition, i64, i64)> = self
            .partitions
            .iter()
            .filter_map(|tp| {
                let from = self.start_from.get(&tp.partition).copied();
                let to = *until.get(&tp.partition)?;
                (to > from.unwrap_or(0)).then(|| (tp.clone(), from.unwrap_or(-1), to))
            })
            .collect();
        if work.is_empty() {
            return;
        }
        let warn = |why: String| tracing::warn!(topic = %self.topic, %why, "repair of keys with malformed last values incomplete; they may be missing");
        let consumer = match Consumer::connect(config.consumer.clone()).await {
            Ok(c) => c,
            Err(e) => return warn(e.to_string()),
        };
        let tps: Vec<TopicPartition> = work.iter().map(|w| w.0.clone()).collect();
        if let Err(e) = consumer.assign(&tps).await {
            consumer.close().await;
            return warn(e.to_string());
        }
        for (tp, from, _) in &work {
            let at = if *from < 0 {
                Offset::Beginning
            } else {
                Offset::At(*from)
            };
            let _ = consumer.seek(tp, at);
        }
        let deadline = Instant::now() + config.catch_up_timeout;
        loop {
            let done = work
                .iter()
                .all(|(tp, _, to)| consumer.position(tp).is_some_and(|at| at >= *to));
            if done {
                break;
            }
            if Instant::now() >= deadline {
                warn("timed out".into());
                break;
            }
            match consumer.poll(IDLE_POLL).await {
                Ok(records) => {
                    for r in &records {
                        let Some(k) = &r.key else { continue };
                        if r.offset >= until[&r.partition] || !keys.contains(&k[..]) {
                            continue;
                        }
                        let change = apply(&mut self.map, r, config, &inner.counters);
                        if let (Some(raw), Some(c)) = (&mut self.raw, &change) {
                            track_raw(raw, r, c);
                        }
                    }
                }
                Err(e) if e.is_retriable() => {}
                Err(e) => {
                    warn(e.to_string());
                    break;
                }
            }
        }
        consumer.close().await;
    }

    /// Marks catch-up done.
    fn open_gate(&self, inner: &Inner<V>) {
        *inner.catch_up.lock().unwrap_or_else(|e| e.into_inner()) =
            (Some(self.started.elapsed()), self.replayed);
        inner.status.send_replace(Status::CaughtUp);
        tracing::debug!(topic = %self.topic, replayed = self.replayed, elapsed = ?self.started.elapsed(), "table caught up");
    }

    /// Applies records one by one until stopped or failed; opens the gate if not yet open.
    async fn follow(&mut self, mut gate_open: bool) {
        let mut dirty = false;
        let mut last_publish = Instant::now();
        let mut pending_changes: Vec<Change<V>> = Vec::new();
        let mut published_positions = self.positions();
        let mut checkpointed = published_positions.clone();
        let mut last_checkpoint = Instant::now();
        loop {
            let Some(inner) = self.weak.upgrade() else {
                return;
            };
            if inner.stop.load(Ordering::SeqCst) {
                if dirty {
                    inner.map.store(Arc::new(self.map.clone()));
                }
                drop(inner);
                self.write_checkpoint().await;
                return;
            }
            let wait = if dirty { PUBLISH_EVERY } else { IDLE_POLL };
            let records = match self.consumer.poll(wait).await {
                Ok(r) => r,
                Err(e) if e.is_retriable() => {
                    tracing::debug!(topic = %self.topic, error = %e, "table reader: transient error");
                    continue;
                }
                Err(e) => {
                    // Contents freeze at the last applied state: publish what was applied.
                    if dirty {
                        inner.map.store(Arc::new(self.map.clone()));
                    }
                    return fail(&inner, e);
                }
            };
            if !records.is_empty() {
                let want_changes = inner.changes.receiver_count() > 0;
                for r in &records {
                    let change = apply(&mut self.map, r, &inner.config, &inner.counters);
                    if let (Some(raw), Some(c)) = (&mut self.raw, &change) {
                        track_raw(raw, r, c);
                    }
                    if want_changes {
                        pending_changes.extend(change);
                    }
                }
                if !gate_open {
                    self.replayed += records.len() as u64;
                }
                dirty = true;
            }
            let positions = self.positions();
            let caught_up_now = !gate_open && self.gate_reached(&positions);
            // Publish at most every PUBLISH_EVERY while records stream in (a publish makes the
            // next writes copy the map nodes they touch; before the gate, rarely), at once
            // when the reader is idle or the gate opens. Positions are published only with
            // the map that contains them.
            let cadence = if gate_open {
                PUBLISH_EVERY
            } else {
                PUBLISH_EVERY_LOADING
            };
            if dirty && (records.is_empty() || caught_up_now || last_publish.elapsed() >= cadence) {
                // Publish first, so a subscriber that reads the table on a change sees it.
                inner.map.store(Arc::new(self.map.clone()));
                last_publish = Instant::now();
                dirty = false;
                if inner.changes.receiver_count() > 0 {
                    for change in pending_changes.drain(..) {
                        let _ = inner.changes.send(change);
                    }
                } else {
                    pending_changes.clear();
                }
                published_positions = positions.clone();
            } else if !dirty {
                published_positions = positions.clone();
            }
            if caught_up_now {
                gate_open = true;
                self.open_gate(&inner);
            }
            inner.applied.send_if_modified(|now| {
                if *now != published_positions {
                    now.clone_from(&published_positions);
                    true
                } else {
                    false
                }
            });
            let every = inner.config.checkpoint.as_ref().map(|c| c.1);
            drop(inner);
            let due = every.is_some_and(|every| last_checkpoint.elapsed() >= every);
            if gate_open && (caught_up_now && self.replayed > 0 || due && positions != checkpointed)
            {
                self.write_checkpoint().await;
                checkpointed = positions;
                last_checkpoint = Instant::now();
            }
        }
    }

    /// Writes the checkpoint, if configured, off the runtime's threads.
    async fn write_checkpoint(&mut self) {
        let Some(inner) = self.weak.upgrade() else {
            return;
        };
        let (Some((path, _)), Some(raw)) = (inner.config.checkpoint.clone(), self.raw.clone())
        else {
            return;
        };
        let mut offsets: BTreeMap<i32, i64> =
            self.start_from.iter().map(|(&p, &o)| (p, o)).collect();
        offsets.extend(self.positions());
        let topic = self.topic.clone();
        let id = self.topic_id;
        let target = path.clone();
        let written = tokio::task::spawn_blocking(move || {
            let entries: Vec<(&[u8], &[u8])> =
                raw.values().map(|(k, v)| (&k[..], &v[..])).collect();
            checkpoint::write(&target, &topic, id, &offsets, entries.into_iter())
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        match written {
            Ok(()) => {
                inner
                    .counters
                    .checkpoints_written
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                inner
                    .counters
                    .checkpoint_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(topic = %self.topic, path = %path.display(), error = %e, "checkpoint not written");
            }
        }
    }
}

/// The same cadence during a record-by-record catch-up: publishing makes later writes copy
/// the map nodes they touch, so it publishes rarely (readers see partial data anyway).
const PUBLISH_EVERY_LOADING: Duration = Duration::from_millis(500);

/// Keeps the raw map in step with a change the map just took.
fn track_raw<V>(raw: &mut RawMap, record: &kafkit_client::ConsumerRecord, change: &Change<V>) {
    match (&change.new, &record.key, &record.value) {
        (Some(_), Some(k), Some(v)) => {
            raw.insert(
                change.key.clone(),
                (Bytes::copy_from_slice(k), Bytes::copy_from_slice(v)),
            );
        }
        (None, _, _) => {
            raw.remove(&change.key);
        }
        _ => {}
    }
}

/// The earliest or latest offset of every partition of `topic`.
async fn list_offsets(
    consumer: &Consumer,
    topic: &str,
    spec: OffsetSpec,
) -> kafkit_client::Result<HashMap<i32, i64>> {
    Ok(consumer
        .client()
        .admin()
        .list_offsets(topic, &[], spec)
        .await?
        .into_iter()
        .map(|(p, o)| (p, o.offset))
        .collect())
}
