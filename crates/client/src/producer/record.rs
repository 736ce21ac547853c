//! What goes in ([`ProducerRecord`]) and what comes back ([`Delivery`]).

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use kafkit_record::Header;

/// A record to produce: topic, optional key and value, ordered headers, optional timestamp
/// and partition.
///
/// A `None` value is a tombstone (deletes the key on a compacted topic); an empty value is
/// data. Headers keep their order and duplicate keys.
///
/// ```
/// use kafkit_client::ProducerRecord;
/// let r = ProducerRecord::new("events")
///     .key("user-1")
///     .value(r#"{"clicks":3}"#)
///     .header("trace", "abc")
///     .header("trace", "def");
/// assert_eq!(r.headers.len(), 2);
/// let tombstone = ProducerRecord::new("users").key("user-1");
/// assert!(tombstone.value.is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerRecord {
    /// The topic.
    pub topic: Cow<'static, str>,
    /// The key (`None`: no key; keyless records are spread by the sticky partitioner).
    pub key: Option<Bytes>,
    /// The value (`None`: a tombstone).
    pub value: Option<Bytes>,
    /// Headers, in order; duplicate keys allowed.
    pub headers: Vec<Header>,
    /// Create time in milliseconds since the epoch (`None`: now).
    pub timestamp: Option<i64>,
    /// The partition (`None`: chosen by the partitioner).
    pub partition: Option<i32>,
}

impl ProducerRecord {
    /// An empty record (no key, null value) for `topic`.
    pub fn new(topic: impl Into<Cow<'static, str>>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp: None,
            partition: None,
        }
    }

    /// Sets the key.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the value (an empty value is data, not a tombstone).
    pub fn value(mut self, value: impl Into<Bytes>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// Appends a header (earlier headers with the same key are kept).
    pub fn header(mut self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Header {
            key: key.into(),
            value: Some(value.into()),
        });
        self
    }

    /// Appends a header with a null value.
    pub fn null_header(mut self, key: impl Into<Bytes>) -> Self {
        self.headers.push(Header {
            key: key.into(),
            value: None,
        });
        self
    }

    /// Sets the create timestamp (milliseconds since the epoch).
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }

    /// Sends to this partition, bypassing the partitioner.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// An upper bound of the record's encoded size inside a batch.
    pub(crate) fn max_encoded_size(&self) -> usize {
        // length, attributes, timestamp delta, offset delta, key/value lengths, header count
        const FIXED: usize = 5 + 1 + 10 + 5 + 5 + 5 + 5;
        let opt = |b: &Option<Bytes>| b.as_ref().map_or(0, |b| b.len());
        FIXED
            + opt(&self.key)
            + opt(&self.value)
            + self
                .headers
                .iter()
                .map(|h| 10 + h.key.len() + h.value.as_ref().map_or(0, |v| v.len()))
                .sum::<usize>()
    }
}

/// Where a record landed: the broker acknowledged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset; -1 when unknown (acks=0, or a retry the broker recognised as
    /// already written without saying where).
    pub offset: i64,
    /// The record's timestamp: its create time, or the broker's append time for topics with
    /// `message.timestamp.type=LogAppendTime`.
    pub timestamp: i64,
}

impl Delivery {
    /// True when the broker told the offset.
    pub fn has_offset(&self) -> bool {
        self.offset >= 0
    }
}
