//! [`StoreError`]: what failed, where, and whether a retry can help.

use std::path::PathBuf;

/// A storage operation's failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The topic does not exist.
    #[error("topic '{0}' does not exist")]
    UnknownTopic(String),
    /// The topic exists already.
    #[error("topic '{0}' already exists")]
    TopicExists(String),
    /// A partition outside the topic.
    #[error("topic '{topic}' has no partition {partition} (it has {partitions})")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition asked for.
        partition: i32,
        /// How many it has.
        partitions: i32,
    },
    /// An argument that cannot work (a bad topic name, fewer partitions, ...).
    #[error("{0}")]
    Invalid(String),
    /// A file could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file holds something it should not (a bad batch, bad metadata).
    #[error("{}: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A stored batch does not decode (a flipped byte, a CRC mismatch): its partition's
    /// records at these offsets cannot be read. A local reader goes on after it when asked
    /// for more.
    #[error(
        "topic '{topic}' partition {partition}: the batch at offsets {base_offset}..{} in {} is corrupt: {message}",
        next_offset - 1,
        path.display()
    )]
    CorruptBatch {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The batch's first offset.
        base_offset: i64,
        /// The offset after the batch.
        next_offset: i64,
        /// The file (or partition directory) holding it.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An object store request failed (S3, Azure Blob).
    #[error("{what} {location}: {}", object_message(error))]
    Object {
        /// The object or prefix, with its storage (`s3:bucket/prefix/...`).
        location: String,
        /// What was being done.
        what: String,
        /// The object store's error (its text, long and on several lines, is summed up in
        /// this error's one line; not a `source`, so that it is not printed again).
        error: Box<object_store::Error>,
    },
    /// Another writer changed the same partition (or topic metadata, or group) each time this
    /// one tried: nothing of this write was kept.
    #[error("{what}: another writer changed it at the same time, {attempts} times running; nothing of this write was kept (try again)")]
    Conflict {
        /// What was written (`topic 't' partition 0 on s3:bucket/prefix`).
        what: String,
        /// How often it was tried.
        attempts: u32,
    },
    /// Something took longer than its bound.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The Kafka client failed.
    #[error(transparent)]
    Client(#[from] kafkit_client::Error),
}

impl StoreError {
    /// True when trying again may succeed (a broker or I/O hiccup).
    pub fn is_retriable(&self) -> bool {
        match self {
            StoreError::Client(e) => e.is_retriable(),
            StoreError::Timeout(_) | StoreError::Conflict { .. } => true,
            StoreError::Object { error, .. } => {
                matches!(**error, object_store::Error::Generic { .. })
            }
            StoreError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
            ),
            _ => false,
        }
    }
}

/// An object store's error in one line: the server's error code and message when it sent an
/// XML error body (S3, Azure), with the HTTP status; else the error's own text.
fn object_message(e: &object_store::Error) -> String {
    let text = e.to_string();
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find('<')? + start;
        Some(text[start..end].trim().to_string())
    };
    let status = text.find("status code: ").map(|i| {
        let rest = &text[i + "status code: ".len()..];
        rest.split(':').next().unwrap_or(rest).trim().to_string()
    });
    match (tag("Code"), tag("Message"), status) {
        (Some(code), message, status) => {
            let mut out = code;
            if let Some(m) = message {
                out.push_str(": ");
                out.push_str(m.lines().next().unwrap_or_default());
            }
            if let Some(s) = status {
                out.push_str(&format!(" (HTTP {s})"));
            }
            out
        }
        _ => text.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// The result of a storage operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
