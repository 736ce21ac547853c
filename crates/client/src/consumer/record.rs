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
