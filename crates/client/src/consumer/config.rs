//! [`ConsumerConfig`]: fetch sizes, waits, offset reset and isolation on top of a
//! [`ClientConfig`].

use std::time::Duration;

use super::group::Assignor;
use crate::config::ClientConfig;
use crate::error::Error;

/// Where to start when a partition has no valid position (no commit, or the offset is gone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetReset {
    /// From the oldest record still stored.
    Earliest,
    /// From the next record written (the default, as in the Java client).
    Latest,
    /// Fail the poll with an error naming the partition and offset.
    None,
}

/// Which records of transactional producers a consumer sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// Everything written, including records of open and aborted transactions (default).
    ReadUncommitted,
    /// Only committed records: reads stop at the last stable offset, aborted ones are skipped.
    ReadCommitted,
}

/// Consumer settings. Required: the client configuration; every other field has a
/// documented default (the Java client's, unless noted).
///
/// ```
/// use kafkit_client::{ClientConfig, ConsumerConfig, OffsetReset};
/// let config = ConsumerConfig::new(ClientConfig::new(["127.0.0.1:9092"]))
///     .auto_offset_reset(OffsetReset::Earliest)
///     .set("max.poll.records", "1000")
///     .unwrap();
/// assert_eq!(config.max_poll_records, 1000);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConsumerConfig {
    /// How to reach the cluster.
    pub client: ClientConfig,
    /// Where to start without a valid position (default latest).
    pub auto_offset_reset: OffsetReset,
    /// The broker answers a fetch once it has this many bytes (default 1).
    pub fetch_min_bytes: i32,
    /// ... or after this long (default 500 ms).
    pub fetch_max_wait: Duration,
    /// Most bytes in one fetch response (default 50 MiB).
    pub fetch_max_bytes: i32,
    /// Most bytes per partition in one fetch response (default 1 MiB).
    pub max_partition_fetch_bytes: i32,
    /// Most records one `poll` returns (default 500).
    pub max_poll_records: usize,
    /// Check each batch's CRC32C (default true).
    pub check_crcs: bool,
    /// Transaction isolation (default read uncommitted).
    pub isolation: Isolation,
    /// Fetched bytes kept waiting for `poll`; sources stop fetching above it (default 64 MiB).
    pub max_buffered_bytes: usize,
    /// Largest batch after decompression (default 256 MiB).
    pub max_decompressed: usize,
    /// The consumer group (`None`: no group; only `assign`).
    pub group_id: Option<String>,
    /// Static membership id: a restart within the session timeout keeps the assignment.
    pub group_instance_id: Option<String>,
    /// The coordinator expels a member silent this long (default 45 s).
    pub session_timeout: Duration,
    /// Heartbeat period (default 3 s).
    pub heartbeat_interval: Duration,
    /// How long a rebalance may take (`max.poll.interval.ms`, default 5 min).
    pub rebalance_timeout: Duration,
    /// Assignment strategies offered, preferred first (default range, roundrobin).
    pub assignors: Vec<Assignor>,
    /// Commit positions on an interval, before a rebalance and on close (default true).
    pub enable_auto_commit: bool,
    /// Auto-commit period (default 5 s).
    pub auto_commit_interval: Duration,
    /// Data this member publishes to the group (e.g. its HTTP address); every member reads
    /// the roster with [`Consumer::group_members`](super::Consumer::group_members).
    pub group_user_data: Option<bytes::Bytes>,
}

impl ConsumerConfig {
    /// Defaults on top of `client`.
    pub fn new(client: ClientConfig) -> Self {
        ConsumerConfig {
            client,
            auto_offset_reset: OffsetReset::Latest,
            fetch_min_bytes: 1,
            fetch_max_wait: Duration::from_millis(500),
            fetch_max_bytes: 50 << 20,
            max_partition_fetch_bytes: 1 << 20,
            max_poll_records: 500,
            check_crcs: true,
            isolation: Isolation::ReadUncommitted,
            max_buffered_bytes: 64 << 20,
            max_decompressed: 256 << 20,
            group_id: None,
            group_instance_id: None,
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            rebalance_timeout: Duration::from_secs(300),
            assignors: vec![Assignor::Range, Assignor::RoundRobin],
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            group_user_data: None,
        }
    }

    /// Checks every setting (fields can be set directly, bypassing the builders' bounds):
    /// an error names the setting and why it cannot work.
    pub fn validate(&self) -> Result<(), Error> {
        self.client.validate()?;
        let bad = |what: &str| Err(Error::Config(what.to_string()));
        if self.max_poll_records == 0 {
            return bad("max.poll.records must be at least 1");
        }
        if self.fetch_max_bytes <= 0 || self.max_partition_fetch_bytes <= 0 {
            return bad("fetch.max.bytes and max.partition.fetch.bytes must be above 0");
        }
        if self.max_buffered_bytes == 0 {
            return bad("the consumer's buffer must hold at least 1 byte");
        }
        if self.fetch_min_bytes < 0 {
            return bad("fetch.min.bytes must not be negative");
        }
        if self.group_id.as_deref() == Some("") {
            return bad("group.id must not be empty");
        }
        if self.group_id.is_some() {
            if self.heartbeat_interval.is_zero() || self.heartbeat_interval >= self.session_timeout
            {
                return bad("heartbeat.interval.ms must be above 0 and below session.timeout.ms");
            }
            if self.assignors.is_empty() {
                return bad("partition.assignment.strategy names no assignor");
            }
            if self.enable_auto_commit && self.auto_commit_interval.is_zero() {
                return bad("auto.commit.interval.ms must be above 0");
            }
        }
        Ok(())
    }

    /// Publishes `data` to the other members of the group.
    pub fn group_user_data(mut self, data: impl Into<bytes::Bytes>) -> Self {
        self.group_user_data = Some(data.into());
        self
    }

    /// Joins `group` when subscribing.
    pub fn group_id(mut self, group: impl Into<String>) -> Self {
        self.group_id = Some(group.into());
        self
    }

    /// Sets the session timeout (default 45 s) and heartbeat interval (default 3 s).
    pub fn session(mut self, timeout: Duration, heartbeat: Duration) -> Self {
        self.session_timeout = timeout;
        self.heartbeat_interval = heartbeat;
        self
    }

    /// Sets the assignors offered, preferred first (default range, roundrobin).
    pub fn assignors(mut self, assignors: Vec<Assignor>) -> Self {
        self.assignors = assignors;
        self
    }

    /// Turns auto-commit on or off (default on).
    pub fn auto_commit(mut self, on: bool) -> Self {
        self.enable_auto_commit = on;
        self
    }

    /// Sets the offset reset policy (default latest).
    pub fn auto_offset_reset(mut self, reset: OffsetReset) -> Self {
        self.auto_offset_reset = reset;
        self
    }

    /// Sets the isolation level (default read uncommitted).
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// Sets the most records per poll (default 500).
    pub fn max_poll_records(mut self, n: usize) -> Self {
        self.max_poll_records = n.max(1);
        self
    }

    /// Sets the fetch wait (default 500 ms).
    pub fn fetch_max_wait(mut self, t: Duration) -> Self {
        self.fetch_max_wait = t;
        self
    }

    /// Sets the per-partition fetch size (default 1 MiB).
    pub fn max_partition_fetch_bytes(mut self, n: i32) -> Self {
        self.max_partition_fetch_bytes = n.max(1);
        self
    }

    /// Sets the most one fetch response may hold (default 50 MiB).
    pub fn fetch_max_bytes(mut self, n: i32) -> Self {
        self.fetch_max_bytes = n;
        self
    }

    /// Sets the prefetch bound (default 64 MiB).
    pub fn max_buffered_bytes(mut self, n: usize) -> Self {
        self.max_buffered_bytes = n;
        self
    }

    /// Applies a Java-client or librdkafka style property; unknown consumer keys go to
    /// [`ClientConfig::set`].
    pub fn set(mut self, key: &str, value: &str) -> Result<Self, Error> {
        use crate::properties::{boolean, count, millis, size_i32};
        let bool_of = |v: &str| boolean(key, v);
        let ms = |v: &str| millis(key, v);
        match key {
            "auto.offset.reset" => {
                self.auto_offset_reset = match value.to_ascii_lowercase().as_str() {
                    "earliest" | "smallest" | "beginning" => OffsetReset::Earliest,
                    "latest" | "largest" | "end" => OffsetReset::Latest,
                    "none" | "error" => OffsetReset::None,
                    other => {
                        return Err(Error::Config(format!(
                            "{key}: unknown '{other}' (expected earliest, latest or none)"
                        )))
                    }
                }
            }
            "fetch.min.bytes" => {
                self.fetch_min_bytes = size_i32(key, value, 0)?
            }
            "fetch.max.wait.ms" | "fetch.wait.max.ms" => {
                self.fetch_max_wait = ms(value)?
            }
            "fetch.max.bytes" => {
                self.fetch_max_bytes = size_i32(key, value, 1)?
            }
            "max.partition.fetch.bytes" | "fetch.message.max.bytes" => {
                self.max_partition_fetch_bytes = size_i32(key, value, 1)?
            }
            "max.poll.records" => self.max_poll_records = count(key, value)?,
            "check.crcs" => self.check_crcs = bool_of(value)?,
            "isolation.level" => {
                self.isolation = match value.to_ascii_lowercase().as_str() {
                    "read_uncommitted" => Isolation::ReadUncommitted,
                    "read_committed" => Isolation::ReadCommitted,
                    other => {
                        return Err(Error::Config(format!(
                            "{key}: unknown '{other}' (expected read_uncommitted or read_committed)"
                        )))
                    }
                }
            }
            "group.id" => self.group_id = Some(value.to_string()),
            "group.instance.id" => self.group_instance_id = Some(value.to_string()),
            "session.timeout.ms" => {
                self.session_timeout = ms(value)?.max(Duration::from_millis(1))
            }
            "heartbeat.interval.ms" => {
                self.heartbeat_interval = ms(value)?.max(Duration::from_millis(1))
            }
            "max.poll.interval.ms" => {
                self.rebalance_timeout = ms(value)?.max(Duration::from_millis(1))
            }
            "enable.auto.commit" => self.enable_auto_commit = bool_of(value)?,
            "auto.commit.interval.ms" => {
                self.auto_commit_interval = ms(value)?.max(Duration::from_millis(1))
            }
            "partition.assignment.strategy" => {
                self.assignors = value
                    .split(',')
                    .map(|s| {
                        let name = s
                            .trim()
                            .rsplit('.')
                            .next()
                            .unwrap_or("")
                            .to_ascii_lowercase();
                        match name.as_str() {
                            "range" | "rangeassignor" => Ok(Assignor::Range),
                            "roundrobin" | "roundrobinassignor" => Ok(Assignor::RoundRobin),
                            "cooperative-sticky" | "cooperativestickyassignor" => {
                                Ok(Assignor::CooperativeSticky)
                            }
                            other => Err(Error::Config(format!(
                                "{key}: unknown assignor '{other}' (expected range, roundrobin or cooperative-sticky)"
                            ))),
                        }
                    })
                    .collect::<Result<_, _>>()?
            }
            "queued.max.messages.kbytes" => {
                self.max_buffered_bytes = count(key, value)?.saturating_mul(1024)
            }
            _ => self.client = self.client.set(key, value)?,
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_validated_even_when_set_directly() {
        let ok = ConsumerConfig::new(ClientConfig::new(["127.0.0.1:9092"])).group_id("g");
        assert!(ok.validate().is_ok());
        let mut c = ok.clone();
        c.max_poll_records = 0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max.poll.records"));
        let mut c = ok.clone();
        c.heartbeat_interval = c.session_timeout;
        assert!(c.validate().unwrap_err().to_string().contains("heartbeat"));
        let mut c = ok;
        c.assignors.clear();
        assert!(c.validate().unwrap_err().to_string().contains("assignor"));
    }
}
