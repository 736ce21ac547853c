//! A single record and its headers, as decoded from (or written into) a batch.

use bytes::Bytes;

/// One record header. Headers are kept as an ordered list, so duplicate keys survive.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Header key (UTF-8 by Kafka convention, kept as raw bytes).
    pub key: Bytes,
    /// Header value; `None` is a null value, distinct from empty.
    pub value: Option<Bytes>,
}

impl Header {
    /// A header with the given key and value.
    ///
    /// ```
    /// let h = kafkit_record::Header::new("trace", Some("abc"));
    /// assert_eq!(h.key_str(), Some("trace"));
    /// ```
    pub fn new(key: impl Into<Bytes>, value: Option<impl Into<Bytes>>) -> Self {
        Header {
            key: key.into(),
            value: value.map(Into::into),
        }
    }

    /// The key as UTF-8, if it is valid UTF-8.
    pub fn key_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.key).ok()
    }
}

/// A record read from a batch: absolute offset and timestamp, key, value and headers.
///
/// Keys and values share the batch's buffer (no copy); `None` is null, distinct from empty.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Record {
    /// Absolute offset in the partition.
    pub offset: i64,
    /// Timestamp in milliseconds since the epoch (create time or log-append time, per batch).
    pub timestamp: i64,
    /// Key, or `None` for a null key.
    pub key: Option<Bytes>,
    /// Value, or `None` for a null value (a tombstone).
    pub value: Option<Bytes>,
    /// Headers in wire order.
    pub headers: Vec<Header>,
}

/// What a control record says (the key of a record in a control batch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlRecord {
    /// A transaction was aborted.
    Abort,
    /// A transaction was committed.
    Commit,
    /// Some other control type (e.g. leader-change markers).
    Other(i16),
}

impl ControlRecord {
    /// Parses the key of a control record: `[version: i16][type: i16]`.
    pub fn from_key(key: &[u8]) -> Option<ControlRecord> {
        if key.len() < 4 {
            return None;
        }
        Some(match i16::from_be_bytes([key[2], key[3]]) {
            0 => ControlRecord::Abort,
            1 => ControlRecord::Commit,
            other => ControlRecord::Other(other),
        })
    }
}
