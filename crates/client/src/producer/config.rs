//! [`ProducerConfig`]: batching, delivery and idempotence settings on top of a
//! [`ClientConfig`].

use std::sync::Arc;
use std::time::Duration;

use kafkit_record::Compression;

use super::partitioner::Partitioner;
use crate::config::ClientConfig;
use crate::error::Error;

/// How many acknowledgements a write needs before the broker answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Acks {
    /// `acks=0`: the broker does not answer; offsets are unknown and failures unseen.
    None,
    /// `acks=1`: the leader has written the records.
    Leader,
    /// `acks=all` (`-1`): every in-sync replica has written them.
    All,
}

impl Acks {
    /// The wire value: 0, 1 or -1.
    pub fn wire(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

impl std::str::FromStr for Acks {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "0" | "none" => Ok(Acks::None),
            "1" | "leader" => Ok(Acks::Leader),
            "-1" | "all" => Ok(Acks::All),
            other => Err(Error::Config(format!(
                "acks: unknown '{other}' (expected 0, 1, all or -1)"
            ))),
        }
    }
}

/// Producer settings. Required: the client configuration (bootstrap servers); every other
/// field has a documented default close to librdkafka's and the Java client's.
///
/// ```
/// use std::time::Duration;
/// use kafkit_client::{Acks, ClientConfig, ProducerConfig};
/// use kafkit_record::Compression;
/// let config = ProducerConfig::new(ClientConfig::new(["127.0.0.1:9092"]))
///     .acks(Acks::All)
///     .linger(Duration::from_millis(10))
///     .compression(Compression::Lz4, None);
/// assert!(config.is_idempotent());
/// let config = config.set("acks", "1").unwrap();
/// assert!(!config.is_idempotent()); // idempotence needs acks=all unless asked for explicitly
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// How to reach the cluster.
    pub client: ClientConfig,
    /// Acknowledgements required (default [`Acks::All`]).
    pub acks: Acks,
    /// `Some(true)`/`Some(false)` forces idempotence on or off; `None` (default) turns it on
    /// when `acks` is [`Acks::All`], as the Java client does.
    pub idempotence: Option<bool>,
    /// How long a batch waits for more records before it is sent (default 5 ms).
    pub linger: Duration,
    /// Target size in bytes of one partition's batch (default 1 000 000, librdkafka's).
    pub batch_size: usize,
    /// Largest Produce request, and so the largest record (default 1 MiB).
    pub max_request_size: usize,
    /// Memory for records not yet acknowledged (default 32 MiB). `send` waits for room.
    pub buffer_memory: usize,
    /// How long `send` waits for buffer room or topic metadata (default 60 s).
    pub max_block: Duration,
    /// Compression codec (default none).
    pub compression: Compression,
    /// Codec level (`None`: the codec's default).
    pub compression_level: Option<i32>,
    /// Bound on the time from `send` to success or failure, retries included (default 120 s).
    pub delivery_timeout: Duration,
    /// First wait before retrying a failed batch (default 100 ms; doubles up to 1 s).
    pub retry_backoff: Duration,
    /// Produce requests in flight per broker (default 5; at most 5 with idempotence).
    pub max_in_flight: usize,
    /// Picks partitions for records that do not name one (default: murmur2 for keyed
    /// records, sticky for keyless ones).
    pub partitioner: Option<Arc<dyn Partitioner>>,
    /// Makes the producer transactional (`transactional.id`): records are written in
    /// transactions (see [`Producer::begin_transaction`](crate::Producer::begin_transaction)),
    /// and a newer producer with the same id fences this one. Implies idempotence.
    pub transactional_id: Option<String>,
    /// How long the coordinator lets a transaction stay open before aborting it
    /// (`transaction.timeout.ms`, default 60 s).
    pub transaction_timeout: Duration,
}

impl std::fmt::Debug for ProducerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerConfig")
            .field("client", &self.client)
            .field("acks", &self.acks)
            .field("idempotent", &self.is_idempotent())
            .field("linger", &self.linger)
            .field("batch_size", &self.batch_size)
            .field("max_request_size", &self.max_request_size)
            .field("buffer_memory", &self.buffer_memory)
            .field("compression", &self.compression)
            .field("custom_partitioner", &self.partitioner.is_some())
            .field("transactional_id", &self.transactional_id)
            .finish_non_exhaustive()
    }
}

impl ProducerConfig {
    /// Defaults on top of `client`.
    pub fn new(client: ClientConfig) -> Self {
        ProducerConfig {
            client,
            acks: Acks::All,
            idempotence: None,
            linger: Duration::from_millis(5),
            batch_size: 1_000_000,
            max_request_size: 1 << 20,
            buffer_memory: 32 << 20,
            max_block: Duration::from_secs(60),
            compression: Compression::None,
            compression_level: None,
            delivery_timeout: Duration::from_secs(120),
            retry_backoff: Duration::from_millis(100),
            max_in_flight: 5,
            partitioner: None,
            transactional_id: None,
            transaction_timeout: Duration::from_secs(60),
        }
    }

    /// True when the producer will use sequence numbers (see [`idempotence`](Self::idempotence)):
    /// asked for, transactional, or by default with acks=all.
    pub fn is_idempotent(&self) -> bool {
        self.idempotence
            .unwrap_or(self.acks == Acks::All || self.transactional_id.is_some())
    }

    /// Makes the producer transactional with `id` (see
    /// [`transactional_id`](Self::transactional_id)).
    pub fn transactional_id(mut self, id: impl Into<String>) -> Self {
        self.transactional_id = Some(id.into());
        self
    }

    /// Sets the transaction timeout (default 60 s).
    pub fn transaction_timeout(mut self, t: Duration) -> Self {
        self.transaction_timeout = t;
        self
    }

    /// Sets the acks (default all).
    pub fn acks(mut self, acks: Acks) -> Self {
        self.acks = acks;
        self
    }

    /// Forces idempotence on or off (default: on with acks=all).
    pub fn idempotence(mut self, on: bool) -> Self {
        self.idempotence = Some(on);
        self
    }

    /// Sets linger (default 5 ms).
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Sets the batch size in bytes (default 1 000 000).
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.batch_size = bytes.max(1);
        self
    }

    /// Sets the largest request size (default 1 MiB).
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.max_request_size = bytes;
        self
    }

    /// Sets the buffer memory (default 32 MiB).
    pub fn buffer_memory(mut self, bytes: usize) -> Self {
        self.buffer_memory = bytes;
        self
    }

    /// Sets how long `send` may wait (default 60 s).
    pub fn max_block(mut self, t: Duration) -> Self {
        self.max_block = t;
        self
    }

    /// Sets the codec and its level (default none).
    pub fn compression(mut self, codec: Compression, level: Option<i32>) -> Self {
        self.compression = codec;
        self.compression_level = level;
        self
    }

    /// Sets the delivery timeout (default 120 s).
    pub fn delivery_timeout(mut self, t: Duration) -> Self {
        self.delivery_timeout = t;
        self
    }

    /// Sets the first retry backoff (default 100 ms).
    pub fn retry_backoff(mut self, t: Duration) -> Self {
        self.retry_backoff = t;
        self
    }

    /// Sets the requests in flight per broker (default 5).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Installs a custom partitioner.
    pub fn partitioner(mut self, p: Arc<dyn Partitioner>) -> Self {
        self.partitioner = Some(p);
        self
    }

    /// Applies a Java-client or librdkafka style property (`acks`, `linger.ms`,
    /// `batch.size`, `compression.type`, `enable.idempotence`, ...); anything else is passed
    /// to [`ClientConfig::set`]. Unknown keys are an error naming the key.
    pub fn set(mut self, key: &str, value: &str) -> Result<Self, Error> {
        use crate::properties::{boolean, count, millis, whole};
        let num = |v: &str| whole(key, v);
        let ms = |v: &str| millis(key, v);
        match key {
            "acks" | "request.required.acks" => self.acks = value.parse()?,
            "enable.idempotence" => self.idempotence = Some(boolean(key, value)?),
            "linger.ms" | "queue.buffering.max.ms" => self.linger = ms(value)?,
            "batch.size" => self.batch_size = count(key, value)?,
            "max.request.size" | "message.max.bytes" => {
                self.max_request_size = num(value)? as usize
            }
            "buffer.memory" => self.buffer_memory = num(value)? as usize,
            "queue.buffering.max.kbytes" => self.buffer_memory = num(value)? as usize * 1024,
            "max.block.ms" => self.max_block = ms(value)?,
            "compression.type" | "compression.codec" => {
                self.compression = value.parse().map_err(Error::Config)?
            }
            "compression.level" => {
                self.compression_level = Some(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| Error::Config(format!("{key}: '{value}' is not a number")))?,
                )
            }
            "delivery.timeout.ms" | "message.timeout.ms" => self.delivery_timeout = ms(value)?,
            "retry.backoff.ms" => self.retry_backoff = ms(value)?,
            "transactional.id" => {
                self.transactional_id = Some(value.to_string()).filter(|v| !v.is_empty())
            }
            "transaction.timeout.ms" => self.transaction_timeout = ms(value)?,
            "max.in.flight.requests.per.connection" | "max.in.flight" => {
                self.max_in_flight = count(key, value)?
            }
            // Both peers accept these; kafkit's partitioner is murmur2 (keyed) + sticky.
            "partitioner" | "partitioner.class" => match value {
                "murmur2_random" | "murmur2" | "consistent_random" | "default" => {}
                other if other.ends_with("DefaultPartitioner") => {}
                other => {
                    return Err(Error::Config(format!(
                        "{key}: '{other}' is not built in; install a custom partitioner instead"
                    )))
                }
            },
            _ => self.client = self.client.set(key, value)?,
        }
        Ok(self)
    }

    /// Checks that the settings fit together.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        self.client.validate()?;
        let bad = |what: &str| Err(Error::Config(what.to_string()));
        if self.max_in_flight == 0 {
            return bad("max.in.flight.requests.per.connection must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch.size must be at least 1");
        }
        if self.max_request_size < 1024 {
            return bad("max.request.size must be at least 1 KiB");
        }
        if self.delivery_timeout.is_zero() {
            return bad("delivery.timeout.ms must be above 0");
        }
        if let Some(id) = &self.transactional_id {
            if !self.is_idempotent() {
                return bad("transactional.id needs enable.idempotence (not false)");
            }
            if id.is_empty() {
                return bad("transactional.id must not be empty");
            }
            let ms = self.transaction_timeout.as_millis();
            if ms == 0 || ms > i32::MAX as u128 {
                return bad("transaction.timeout.ms must be between 1 and 2^31-1");
            }
        }
        if self.is_idempotent() {
            if self.acks != Acks::All {
                return Err(Error::Config(
                    "enable.idempotence=true needs acks=all".into(),
                ));
            }
            if self.max_in_flight > 5 {
                return Err(Error::Config(format!(
                    "enable.idempotence=true allows at most 5 requests in flight, not {}",
                    self.max_in_flight
                )));
            }
        }
        if self.buffer_memory < self.max_request_size.min(self.batch_size) {
            return Err(Error::Config(format!(
                "buffer.memory ({}) is smaller than one batch ({})",
                self.buffer_memory,
                self.max_request_size.min(self.batch_size)
            )));
        }
        if self.buffer_memory > u32::MAX as usize {
            return Err(Error::Config("buffer.memory must be below 4 GiB".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_validated_even_when_set_directly() {
        let ok = ProducerConfig::new(ClientConfig::new(["127.0.0.1:9092"]));
        assert!(ok.validate().is_ok());
        let mut c = ok.clone();
        c.max_in_flight = 0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max.in.flight"));
        let mut c = ok.clone();
        c.batch_size = 0;
        assert!(c.validate().unwrap_err().to_string().contains("batch.size"));
        let mut c = ok.clone();
        c.client.max_in_flight = 0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max.in.flight"));
        let mut c = ok;
        c.client.request_timeout = Duration::ZERO;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("request.timeout"));
    }
}
