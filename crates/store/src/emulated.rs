//! What the emulated storages share (local files, object stores): a topic's metadata, Kafka's
//! topic-name rule, how records are routed to partitions and encoded as one batch per
//! partition, where a reader starts, how a batch becomes records, and how commits merge.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use kafkit_record::{partition_for_key, BatchBuilder, Compression, RecordBatch};

use crate::error::{Result, StoreError};
use crate::types::{ConsumerRecord, GroupRead, NewRecord, ReadFrom};

/// A topic's metadata (`topic.json`): partitions and config overrides.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TopicMeta {
    pub partitions: i32,
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

impl TopicMeta {
    /// The compression the topic's `compression.type` config asks for (none by default).
    pub fn compression(&self) -> Compression {
        self.configs
            .get("compression.type")
            .and_then(|c| c.parse().ok())
            .unwrap_or(Compression::None)
    }

    /// The metadata of a new topic, checked: a valid name, at least one partition.
    pub fn new_topic(
        topic: &str,
        partitions: i32,
        configs: &[(String, String)],
    ) -> Result<TopicMeta> {
        check_topic_name(topic)?;
        if partitions < 1 {
            return Err(StoreError::Invalid(format!(
                "topic '{topic}': partitions must be at least 1, not {partitions}"
            )));
        }
        Ok(TopicMeta {
            partitions,
            configs: configs.iter().cloned().collect(),
        })
    }

    /// Grows to `partitions` (as Kafka, never shrinks).
    pub fn grow(&mut self, topic: &str, partitions: i32) -> Result<()> {
        if partitions < self.partitions {
            return Err(StoreError::Invalid(format!(
                "topic '{topic}' has {} partitions; Kafka cannot shrink a topic to {partitions}",
                self.partitions
            )));
        }
        self.partitions = partitions;
        Ok(())
    }

    /// Sets (`Some`) or removes (`None`) config overrides.
    pub fn alter(&mut self, changes: &[(String, Option<String>)]) {
        for (k, v) in changes {
            match v {
                Some(v) => self.configs.insert(k.clone(), v.clone()),
                None => self.configs.remove(k),
            };
        }
    }

    /// Checks that `partition` is one of the topic's.
    pub fn check_partition(&self, topic: &str, partition: i32) -> Result<()> {
        if (0..self.partitions).contains(&partition) {
            return Ok(());
        }
        Err(StoreError::UnknownPartition {
            topic: topic.to_string(),
            partition,
            partitions: self.partitions,
        })
    }
}

/// Kafka's rule for topic names, which also keeps them safe as directory and object names.
pub(crate) fn check_topic_name(topic: &str) -> Result<()> {
    let ok = !topic.is_empty()
        && topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "'{topic}' is not a valid topic name (1-249 of a-z A-Z 0-9 . _ -)"
        )))
    }
}

/// Group names an emulated storage keeps as file or object names.
pub(crate) fn check_group_name(group: &str) -> Result<()> {
    if group.is_empty() || group.contains(['/', '\\']) || group.starts_with('.') {
        return Err(StoreError::Invalid(format!(
            "'{group}' is not a valid group name here (no '/', '\\', or leading '.')"
        )));
    }
    Ok(())
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Spreads keyless records over partitions, one after the other. Cheap to clone (shared).
#[derive(Clone, Debug, Default)]
pub(crate) struct Spread(Arc<AtomicU32>);

impl Spread {
    fn next(&self, partitions: i32) -> i32 {
        (self.0.fetch_add(1, Ordering::Relaxed) % partitions as u32) as i32
    }
}

/// Each record's partition, as record indexes per partition: the given one (checked), the
/// key's murmur2 partition as Kafka's default partitioner, or spread when keyless.
pub(crate) fn route(
    topic: &str,
    records: &[NewRecord],
    partitions: i32,
    spread: &Spread,
) -> Result<BTreeMap<i32, Vec<usize>>> {
    let mut by_partition: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        let p = match (r.partition, &r.key) {
            (Some(p), _) if (0..partitions).contains(&p) => p,
            (Some(p), _) => {
                return Err(StoreError::UnknownPartition {
                    topic: topic.to_string(),
                    partition: p,
                    partitions,
                })
            }
            (None, Some(k)) => partition_for_key(k, partitions as u32),
            (None, None) => spread.next(partitions),
        };
        by_partition.entry(p).or_default().push(i);
    }
    Ok(by_partition)
}

/// One partition's records encoded as a RecordBatch v2.
#[derive(Debug)]
pub(crate) struct EncodedBatch {
    /// The whole batch.
    pub bytes: Bytes,
    /// How many records it holds.
    pub records: i64,
    /// Its largest timestamp.
    pub max_timestamp: i64,
}

/// Encodes `records[indexes]` as one batch starting at `base_offset` (timestamps missing are
/// `now`).
pub(crate) fn encode_batch(
    topic: &str,
    records: &[NewRecord],
    indexes: &[usize],
    base_offset: i64,
    compression: Compression,
    now: i64,
) -> Result<EncodedBatch> {
    let first_ts = records[indexes[0]].timestamp.unwrap_or(now);
    let mut b = BatchBuilder::new(base_offset, first_ts);
    let mut max_timestamp = first_ts;
    for &i in indexes {
        let r = &records[i];
        let ts = r.timestamp.unwrap_or(now);
        max_timestamp = max_timestamp.max(ts);
        b.push(ts, r.key.as_deref(), r.value.as_deref(), &r.headers);
    }
    let bytes = b
        .finish(compression, None)
        .map_err(|e| StoreError::Invalid(format!("topic '{topic}': {e}")))?;
    Ok(EncodedBatch {
        bytes,
        records: indexes.len() as i64,
        max_timestamp,
    })
}

/// Where a reader of a partition with watermarks `(low, high)` starts; `for_time` is the
/// partition's offset for the timestamp of [`ReadFrom::Timestamp`] (looked up by the caller).
pub(crate) fn start_offset(
    partition: i32,
    from: &ReadFrom,
    (low, high): (i64, i64),
    for_time: Option<i64>,
) -> i64 {
    match from {
        ReadFrom::Beginning => low,
        ReadFrom::End => high,
        ReadFrom::Last(n) => (high - n).max(low),
        ReadFrom::Offset(o) => (*o).clamp(low, high),
        ReadFrom::Offsets(m) => m.get(&partition).copied().unwrap_or(low).clamp(low, high),
        ReadFrom::Timestamp(_) => for_time.unwrap_or(high),
    }
}

/// Where a group reader starts in `partition` that `group` has no commit for.
pub(crate) fn group_reset(
    group: &GroupRead,
    topic: &str,
    partition: i32,
    (low, high): (i64, i64),
) -> Result<i64> {
    match group.reset {
        kafkit_client::OffsetReset::Earliest => Ok(low),
        kafkit_client::OffsetReset::Latest => Ok(high),
        kafkit_client::OffsetReset::None => Err(StoreError::Invalid(format!(
            "group '{}' has no commit for {topic}/{partition} and auto.offset.reset is none",
            group.group
        ))),
    }
}

/// Committed offsets by topic and partition, as a group keeps them.
pub(crate) type GroupOffsets = BTreeMap<String, BTreeMap<i32, i64>>;

/// `offsets` committed on top of `all` (other topics and partitions kept).
pub(crate) fn merge_commits(all: &mut GroupOffsets, offsets: &GroupOffsets) {
    for (topic, parts) in offsets {
        all.entry(topic.clone()).or_default().extend(parts);
    }
}

/// The records of `batch` at or after `next` and before `stop` (control batches hold none),
/// appended to `out`. `corrupt` names the batch when a record does not decode.
pub(crate) fn push_records(
    batch: &RecordBatch,
    (topic, partition): (&Arc<str>, i32),
    (next, stop): (i64, Option<i64>),
    out: &mut Vec<ConsumerRecord>,
    corrupt: impl Fn(String) -> StoreError,
) -> Result<()> {
    if batch.header.is_control {
        return Ok(());
    }
    for r in batch.records() {
        let r = r.map_err(|e| corrupt(e.to_string()))?;
        if r.offset < next || stop.is_some_and(|s| r.offset >= s) {
            continue;
        }
        out.push(ConsumerRecord {
            topic: topic.clone(),
            partition,
            offset: r.offset,
            timestamp: r.timestamp,
            key: r.key,
            value: r.value,
            headers: r.headers,
        });
    }
    Ok(())
}

/// The first record of `batches` at or after `timestamp` and `low`.
pub(crate) fn first_at_time(
    batches: &[RecordBatch],
    timestamp: i64,
    low: i64,
    corrupt: impl Fn(String) -> StoreError,
) -> Result<Option<i64>> {
    for batch in batches {
        if batch.header.is_control {
            continue;
        }
        for r in batch.records() {
            let r = r.map_err(|e| corrupt(e.to_string()))?;
            if r.timestamp >= timestamp && r.offset >= low {
                return Ok(Some(r.offset));
            }
        }
    }
    Ok(None)
}
