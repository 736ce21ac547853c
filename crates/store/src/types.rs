//! What storages take and return.

use bytes::Bytes;
use kafkit_record::Header;

/// A record read from a storage is the client's [`ConsumerRecord`] (topic, partition, offset,
/// timestamp, key, value, ordered headers), whatever the storage.
pub use kafkit_client::ConsumerRecord;

/// A record to append.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewRecord {
    /// The key (`None`: null).
    pub key: Option<Bytes>,
    /// The value (`None`: a tombstone).
    pub value: Option<Bytes>,
    /// Headers, in order; duplicates kept.
    pub headers: Vec<Header>,
    /// The partition; `None` derives it from the key (murmur2), or spreads keyless records.
    pub partition: Option<i32>,
    /// The timestamp (ms since the epoch); `None` is now.
    pub timestamp: Option<i64>,
}

impl NewRecord {
    /// A record of `key` and `value`.
    pub fn new(key: Option<impl Into<Bytes>>, value: Option<impl Into<Bytes>>) -> Self {
        NewRecord {
            key: key.map(Into::into),
            value: value.map(Into::into),
            ..Default::default()
        }
    }
}

/// Reading as a member of a consumer group.
///
/// On a cluster the reader joins `group` (with the assignor the consumer settings name,
/// `partition.assignment.strategy`), reads only the partitions the group assigns it, follows
/// rebalances, and commits with its generation and member id. Local storage has no group
/// coordinator: a group there is committed offsets only, and a reader reads every partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRead {
    /// The group's id.
    pub group: String,
    /// Where to start in a partition the group has no commit for.
    pub reset: kafkit_client::OffsetReset,
}

impl GroupRead {
    /// Reads as `group`, from the beginning where it has no commit.
    pub fn new(group: impl Into<String>) -> Self {
        GroupRead {
            group: group.into(),
            reset: kafkit_client::OffsetReset::Earliest,
        }
    }

    /// Starts at `reset` where the group has no commit.
    pub fn reset(mut self, reset: kafkit_client::OffsetReset) -> Self {
        self.reset = reset;
        self
    }
}

/// Where a reader starts in each partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadFrom {
    /// The low watermark.
    Beginning,
    /// The high watermark: only what comes next.
    End,
    /// This many records before the high watermark (at most back to the low watermark).
    Last(i64),
    /// The first record at or after this timestamp (ms since the epoch).
    Timestamp(i64),
    /// This offset in every partition.
    Offset(i64),
    /// These offsets, per partition (others from the beginning).
    Offsets(std::collections::BTreeMap<i32, i64>),
}

/// A topic in a listing.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TopicSummary {
    /// The name.
    pub name: String,
    /// Partitions.
    pub partitions: i32,
    /// Records between the watermarks, summed over partitions.
    pub records: i64,
    /// Bytes on disk, where the storage knows (local storage).
    pub size_bytes: Option<u64>,
}

/// `wanted` partitions of `topic` (all `count` when `None`), each checked to exist.
pub(crate) fn choose_partitions(
    topic: &str,
    wanted: Option<&[i32]>,
    count: i32,
) -> crate::Result<Vec<i32>> {
    let Some(ps) = wanted else {
        return Ok((0..count).collect());
    };
    if let Some(&p) = ps.iter().find(|p| !(0..count).contains(*p)) {
        return Err(crate::StoreError::UnknownPartition {
            topic: topic.to_string(),
            partition: p,
            partitions: count,
        });
    }
    Ok(ps.to_vec())
}

/// A consumer group as a storage knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GroupInfo {
    /// The group id.
    pub group: String,
    /// `Stable`, `Empty`, ... as the coordinator says; `Empty` for local storage, whose
    /// groups have no members.
    pub state: String,
    /// The members and what each is assigned.
    pub members: Vec<GroupMemberInfo>,
}

/// One member of a consumer group.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GroupMemberInfo {
    /// The id the coordinator gave it.
    pub member_id: String,
    /// The client id it connected with.
    pub client_id: String,
    /// Its host.
    pub host: String,
    /// Topic → partitions assigned to it.
    pub assigned: std::collections::BTreeMap<String, Vec<i32>>,
}
