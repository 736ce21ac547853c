//! What a consumer returns ([`ConsumerRecord`]) and where it can seek ([`Offset`]).

use std::sync::Arc;

use bytes::Bytes;
use kafkit_record::Header;

/// One record read from a partition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
    /// Create time or the broker's append time (ms since the epoch), per the topic.
    pub timestamp: i64,
    /// The key (`None`: null).
    pub key: Option<Bytes>,
    /// The value (`None`: a tombstone).
    pub value: Option<Bytes>,
    /// Headers in the order written; duplicate keys kept.
    pub headers: Vec<Header>,
}

/// A topic and partition.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
}

impl TopicPartition {
    /// `topic`/`partition`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// Where to read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offset {
    /// The oldest record still stored.
    Beginning,
    /// After the last record: only new records.
    End,
    /// This offset.
    At(i64),
    /// The first record with a timestamp at or after this time (ms since the epoch); the end
    /// when there is none.
    Timestamp(i64),
}

/// A group member's identity as a transactional producer needs it to commit the member's
/// offsets in a transaction (KIP-447): the coordinator refuses the commit when the member
/// is no longer current, so a member that lost its partitions cannot commit for them.
/// From [`Consumer::group_metadata`](crate::Consumer::group_metadata).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    /// The group.
    pub group_id: String,
    /// The generation the member joined (-1 when not joined).
    pub generation: i32,
    /// The member id ("" when not joined).
    pub member_id: String,
    /// The static member id, if any.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// Metadata for `group` without membership (generation -1): the coordinator then
    /// checks no member, as for a standalone consumer's commits.
    pub fn new(group_id: impl Into<String>) -> Self {
        ConsumerGroupMetadata {
            group_id: group_id.into(),
            generation: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}
