//! The client's error type: what failed, where, and whether a retry can help.

use std::time::Duration;

use crate::wire::messages::ApiKey;
use crate::wire::ErrorCode;

/// An error code returned by a broker, with the request context it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerError {
    /// The Kafka error code, by name (`ErrorCode::TopicAlreadyExists`, ...).
    pub code: ErrorCode,
    /// The API whose response carried it.
    pub api: ApiKey,
    /// The broker that answered (`id@host:port` or the address).
    pub broker: String,
    /// The topic concerned, if any.
    pub topic: Option<String>,
    /// The partition concerned, if any.
    pub partition: Option<i32>,
    /// The group concerned, if any.
    pub group: Option<String>,
    /// The broker's error message, if it sent one.
    pub message: Option<String>,
}

impl std::fmt::Display for BrokerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} error {:?} from broker {}",
            self.api, self.code, self.broker
        )?;
        if let Some(topic) = &self.topic {
            write!(f, " for topic '{topic}'")?;
            if let Some(p) = self.partition {
                write!(f, " partition {p}")?;
            }
        }
        if let Some(group) = &self.group {
            write!(f, " for group '{group}'")?;
        }
        if let Some(m) = self.message.as_deref().filter(|m| !m.is_empty()) {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong in the client.
///
/// [`Error::is_retriable`] says whether the same call may succeed later; [`Error::code`] gives
/// the Kafka error code of broker-side failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TCP connection could not be made.
    #[error("cannot connect to {broker}: {source}")]
    Connect {
        /// The address tried.
        broker: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// Connecting (TCP, TLS, ApiVersions and SASL together) took longer than the timeout.
    #[error("connecting to {broker} timed out after {after:?}")]
    ConnectTimeout {
        /// The address tried.
        broker: String,
        /// The timeout in force.
        after: Duration,
    },
    /// The TLS handshake failed (certificate not trusted, wrong host name, ...).
    #[error("TLS handshake with {broker} failed: {message}")]
    Tls {
        /// The address tried.
        broker: String,
        /// What rustls reported.
        message: String,
    },
    /// SASL authentication was refused or could not be completed.
    #[error("SASL {mechanism} authentication with {broker} failed: {message}")]
    Auth {
        /// The broker.
        broker: String,
        /// The mechanism used.
        mechanism: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The connection closed or failed while a request was outstanding.
    #[error("connection to {broker} lost: {reason}")]
    Disconnected {
        /// The broker.
        broker: String,
        /// Why (EOF, reset, ...).
        reason: String,
    },
    /// No response arrived within the request timeout.
    #[error("{api:?} request to {broker} timed out after {after:?}")]
    Timeout {
        /// The API of the request.
        api: ApiKey,
        /// The broker.
        broker: String,
        /// The timeout in force.
        after: Duration,
    },
    /// The broker and kafkit share no version of an API.
    #[error(
        "broker {broker} does not support {api:?}: kafkit speaks versions {ours}, broker {theirs}"
    )]
    UnsupportedVersion {
        /// The API.
        api: ApiKey,
        /// The broker.
        broker: String,
        /// The versions kafkit can send.
        ours: String,
        /// The versions the broker advertised ("none" when absent).
        theirs: String,
    },
    /// A response could not be decoded, or broke the protocol.
    #[error("malformed {api:?} response from {broker}: {message}")]
    Protocol {
        /// The API.
        api: ApiKey,
        /// The broker.
        broker: String,
        /// What was wrong.
        message: String,
    },
    /// The broker answered with an error code.
    #[error("{0}")]
    Broker(Box<BrokerError>),
    /// No bootstrap or known broker could be reached.
    #[error("no broker reachable ({0})")]
    NoBrokers(String),
    /// The cluster view has no such broker id, topic or partition.
    #[error("unknown {what} '{name}' in cluster metadata")]
    Unknown {
        /// "broker", "topic" or "partition".
        what: &'static str,
        /// Its name or id.
        name: String,
    },
    /// The cluster view names no leader for a partition (an election is under way, or the
    /// view is stale): retrying after a metadata refresh can help.
    #[error("no leader known for {topic}/{partition}")]
    NoLeader {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
    },
    /// The configuration is invalid.
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// A property name no configuration knows (`ClientConfig::set` and the producer's and
    /// consumer's `set`).
    #[error("unknown client property '{0}'")]
    UnknownProperty(String),
    /// A request could not be encoded.
    #[error("cannot encode {api:?} request: {message}")]
    Encode {
        /// The API.
        api: ApiKey,
        /// Why.
        message: String,
    },
    /// Record bytes could not be decoded.
    #[error(transparent)]
    Decode(#[from] kafkit_record::DecodeError),
    /// One failure shared by every record of a batch (see [`Error::source_error`]).
    #[error("{0}")]
    Shared(std::sync::Arc<Error>),
    /// The producer's buffer stayed full for `max_block`.
    #[error(
        "producer buffer full: no room for {needed} more bytes within {waited:?} \
         (buffer.memory is {limit} bytes; the broker is slower than the application)"
    )]
    BufferFull {
        /// Bytes the record needed.
        needed: usize,
        /// The configured buffer memory.
        limit: usize,
        /// How long `send` waited.
        waited: Duration,
    },
    /// A record is larger than a setting allows.
    #[error("record of {size} bytes for topic '{topic}' is larger than {setting} ({limit} bytes)")]
    RecordTooLarge {
        /// The topic.
        topic: String,
        /// The record's encoded size (upper bound).
        size: usize,
        /// The limit.
        limit: usize,
        /// Which setting: `max.request.size` or `buffer.memory`.
        setting: &'static str,
    },
    /// A batch could not be delivered within `delivery_timeout`.
    #[error(
        "delivery to topic '{topic}' partition {partition} timed out after {after:?} \
         ({attempts} attempts; last error: {last_error})"
    )]
    DeliveryTimeout {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The delivery timeout in force.
        after: Duration,
        /// Produce attempts made.
        attempts: u32,
        /// The last failure seen, or why it was never sent.
        last_error: String,
    },
    /// Fetched data could not be decoded.
    #[error("corrupt data in topic '{topic}' partition {partition} at offset {offset}: {source}")]
    Corrupt {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The base offset of the batch.
        offset: i64,
        /// What was wrong.
        source: kafkit_record::DecodeError,
    },
    /// The producer was closed before the record could be sent.
    #[error("producer closed: {0}")]
    Closed(String),
    /// A transactional call made in the wrong state: a send or commit with no transaction
    /// open, a second `begin_transaction`, a call on a producer without `transactional.id`.
    #[error("transactional producer '{transactional_id}': {message}")]
    TransactionState {
        /// The producer's transactional id (empty when it has none).
        transactional_id: String,
        /// What was wrong.
        message: String,
    },
    /// The open transaction cannot commit (a record failed, a partition or the group's
    /// offsets could not join it): call `abort_transaction` and go on.
    #[error("transaction of '{transactional_id}' must be aborted: {cause}")]
    TransactionAbortable {
        /// The producer's transactional id.
        transactional_id: String,
        /// What failed.
        cause: std::sync::Arc<Error>,
    },
    /// The transactional producer can no longer be used: a newer instance with the same
    /// transactional id fenced it, or the broker refused its id. Drop it and connect a new one.
    #[error("transactional producer '{transactional_id}' is unusable: {cause}")]
    TransactionFatal {
        /// The producer's transactional id.
        transactional_id: String,
        /// What failed.
        cause: std::sync::Arc<Error>,
    },
}

impl Error {
    /// True when the same call may succeed if tried again (after a metadata refresh).
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Connect { .. }
            | Error::ConnectTimeout { .. }
            | Error::Disconnected { .. }
            | Error::Timeout { .. }
            | Error::NoBrokers(_) => true,
            Error::Broker(e) => e.code.is_retriable(),
            Error::NoLeader { .. } => true,
            Error::Shared(e) => e.is_retriable(),
            Error::BufferFull { .. } => true,
            _ => false,
        }
    }

    /// True when the open transaction must be aborted before the producer goes on
    /// ([`Error::TransactionAbortable`]).
    pub fn is_transaction_abortable(&self) -> bool {
        match self {
            Error::TransactionAbortable { .. } => true,
            Error::Shared(e) => e.is_transaction_abortable(),
            _ => false,
        }
    }

    /// True when the transactional producer is unusable ([`Error::TransactionFatal`]).
    pub fn is_transaction_fatal(&self) -> bool {
        match self {
            Error::TransactionFatal { .. } => true,
            Error::Shared(e) => e.is_transaction_fatal(),
            _ => false,
        }
    }

    /// The Kafka error code, when the broker returned one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Broker(e) => Some(e.code),
            Error::Shared(e) => e.code(),
            Error::TransactionAbortable { cause, .. } | Error::TransactionFatal { cause, .. } => {
                cause.code()
            }
            _ => None,
        }
    }

    /// True when a group refused a member's request because the group moved on: it is
    /// rebalancing, or the member's generation or id is no longer current. The member
    /// rejoins; a commit refused this way is left to the partitions' next owner.
    pub fn is_rebalance(&self) -> bool {
        matches!(
            self.code(),
            Some(
                ErrorCode::RebalanceInProgress
                    | ErrorCode::IllegalGeneration
                    | ErrorCode::UnknownMemberId
                    | ErrorCode::FencedInstanceId
            )
        )
    }

    /// The error itself, looking through [`Error::Shared`].
    pub fn source_error(&self) -> &Error {
        match self {
            Error::Shared(e) => e.source_error(),
            e => e,
        }
    }

    /// True when the error means "connection-level trouble": reconnecting may help.
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self.source_error(),
            Error::Connect { .. }
                | Error::ConnectTimeout { .. }
                | Error::Disconnected { .. }
                | Error::Timeout { .. }
        )
    }

    pub(crate) fn broker(code: ErrorCode, api: ApiKey, broker: &str) -> BrokerErrorBuilder {
        BrokerErrorBuilder(BrokerError {
            code,
            api,
            broker: broker.to_string(),
            topic: None,
            partition: None,
            group: None,
            message: None,
        })
    }
}

/// Builds an [`Error::Broker`] with context.
pub(crate) struct BrokerErrorBuilder(BrokerError);

impl BrokerErrorBuilder {
    pub(crate) fn topic(mut self, topic: impl Into<String>) -> Self {
        self.0.topic = Some(topic.into());
        self
    }
    pub(crate) fn maybe_topic(mut self, topic: Option<&str>) -> Self {
        self.0.topic = topic.map(str::to_string);
        self
    }
    pub(crate) fn partition(mut self, partition: i32) -> Self {
        self.0.partition = Some(partition);
        self
    }
    pub(crate) fn group(mut self, group: impl Into<String>) -> Self {
        self.0.group = Some(group.into());
        self
    }
    pub(crate) fn message(mut self, message: Option<impl ToString>) -> Self {
        self.0.message = message.map(|m| m.to_string());
        self
    }
    pub(crate) fn build(self) -> Error {
        Error::Broker(Box::new(self.0))
    }
}

/// Turns a response error code into `Ok(())` or a contextual error.
pub(crate) fn check_code(code: i16, api: ApiKey, broker: &str) -> Result<(), BrokerErrorBuilder> {
    match ErrorCode::try_from_code(code) {
        None => Ok(()),
        Some(e) => Err(Error::broker(e, api, broker)),
    }
}

/// Result alias of the client.
pub type Result<T, E = Error> = std::result::Result<T, E>;
