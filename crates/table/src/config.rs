//! [`TableConfig`]: what to read and how to decode it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kafkit_client::{ClientConfig, ConsumerConfig};

/// Turns key bytes into the table's key (UTF-8 by default; set with
/// [`TableConfig::key_decoder`]).
pub type KeyDecoder = Arc<dyn Fn(&[u8]) -> Result<Arc<str>, String> + Send + Sync>;
/// Turns value bytes into the table's value.
pub type ValueDecoder<V> = Arc<dyn Fn(&[u8]) -> Result<V, String> + Send + Sync>;
/// Called after a key is set (an `Err` is counted and logged, not swallowed).
pub type SetHook<V> = Arc<dyn Fn(&str, &V) -> Result<(), String> + Send + Sync>;
/// Called after a key is deleted.
pub type DeleteHook = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// How a [`GlobalTable`](crate::GlobalTable) reads its topic.
///
/// ```
/// use kafkit_client::ClientConfig;
/// use kafkit_table::TableConfig;
/// let config = TableConfig::<String>::new(ClientConfig::new(["127.0.0.1:9092"]), "flags", |b| {
///     String::from_utf8(b.to_vec()).map_err(|e| e.to_string())
/// });
/// assert_eq!(config.topic, "flags");
/// ```
#[non_exhaustive]
pub struct TableConfig<V> {
    /// The consumer settings (group-less; `auto_offset_reset` is set to earliest; fetches
    /// and prefetch bounded by [`TABLE_FETCH_MAX_BYTES`] and [`TABLE_PREFETCH_BYTES`]).
    pub consumer: ConsumerConfig,
    /// The topic.
    pub topic: String,
    /// Key decoder (default UTF-8).
    pub key_decoder: KeyDecoder,
    /// Value decoder.
    pub value_decoder: ValueDecoder<V>,
    /// How long `start()` waits for catch-up before serving partial data as `Degraded`
    /// (default 30 s).
    pub catch_up_timeout: Duration,
    /// Create the topic (compacted, with this many partitions) or check its policy at start.
    pub ensure_topic: Option<(i32, crate::topic::PolicyCheck)>,
    /// Hook run on every upsert applied.
    pub on_set: Option<SetHook<V>>,
    /// Hook run on every tombstone applied.
    pub on_delete: Option<DeleteHook>,
    /// Where to keep a local checkpoint, and how often to rewrite it (see
    /// [`TableConfig::checkpoint`]).
    pub checkpoint: Option<(PathBuf, Duration)>,
    /// Decode every value during catch-up, not only each key's last one (see
    /// [`TableConfig::decode_every_value`]).
    pub decode_every_value: bool,
}

/// The prefetch bound of a table's consumer (a plain consumer's is 64 MiB): catch-up is
/// bounded by applying, and the table's own memory should dominate (docs/PERFORMANCE.md).
pub const TABLE_PREFETCH_BYTES: usize = 16 << 20;

/// The most a table's consumer asks for in one fetch (a plain consumer's is 50 MiB): a
/// fetched response stays in memory until its last record is applied.
pub const TABLE_FETCH_MAX_BYTES: i32 = 4 << 20;

/// A table's consumer settings on top of `client`: a plain consumer's, with the fetch and
/// prefetch bounds above.
pub fn table_consumer_config(client: ClientConfig) -> ConsumerConfig {
    ConsumerConfig::new(client)
        .fetch_max_bytes(TABLE_FETCH_MAX_BYTES)
        .max_buffered_bytes(TABLE_PREFETCH_BYTES)
}

impl<V> TableConfig<V> {
    /// A table of `topic` with UTF-8 keys and values decoded by `value_decoder`.
    pub fn new(
        client: ClientConfig,
        topic: impl Into<String>,
        value_decoder: impl Fn(&[u8]) -> Result<V, String> + Send + Sync + 'static,
    ) -> Self {
        TableConfig {
            consumer: table_consumer_config(client),
            topic: topic.into(),
            key_decoder: Arc::new(|b: &[u8]| {
                std::str::from_utf8(b)
                    .map(Arc::from)
                    .map_err(|e| format!("key is not UTF-8: {e}"))
            }),
            value_decoder: Arc::new(value_decoder),
            catch_up_timeout: Duration::from_secs(30),
            on_set: None,
            on_delete: None,
            ensure_topic: None,
            checkpoint: None,
            decode_every_value: false,
        }
    }

    /// Keeps a local checkpoint at `path`: the raw keys and values and the offsets they are
    /// complete up to, written after catch-up, every minute while updates arrive, and on
    /// `stop()`. `start()` loads it and replays only what came after; it replays the whole
    /// topic instead when the checkpoint is unreadable, belongs to another topic, or the
    /// topic was recreated or no longer holds the checkpoint's offsets, or, on a compacted
    /// topic, when the checkpoint is older than half its `delete.retention.ms` (the log
    /// cleaner may have removed tombstones of keys deleted since, which a resumed replay
    /// would then miss).
    pub fn checkpoint(mut self, path: impl Into<PathBuf>) -> Self {
        let every = self
            .checkpoint
            .as_ref()
            .map_or(Duration::from_secs(60), |c| c.1);
        self.checkpoint = Some((path.into(), every));
        self
    }

    /// How often a checkpoint is rewritten while updates arrive (default 60 s).
    pub fn checkpoint_every(mut self, every: Duration) -> Self {
        if let Some(c) = &mut self.checkpoint {
            c.1 = every;
        }
        self
    }

    /// With `true`, catch-up decodes every value as it is read, so `value_decode_errors` also
    /// counts values that a later record of the same key replaced. By default catch-up keeps
    /// each key's last raw value and decodes it once at the gate (several times faster; the
    /// table's contents are the same). Hooks or change subscribers present at `start()` make
    /// catch-up decode every value too, since they see every change.
    pub fn decode_every_value(mut self, yes: bool) -> Self {
        self.decode_every_value = yes;
        self
    }

    /// At start, creates the topic compacted with `partitions` partitions, or checks an
    /// existing one's policy with `check`.
    pub fn ensure_topic(mut self, partitions: i32, check: crate::topic::PolicyCheck) -> Self {
        self.ensure_topic = Some((partitions, check));
        self
    }

    /// Runs `hook` after every upsert (failures are counted in `hook_errors` and logged).
    pub fn on_set(
        mut self,
        hook: impl Fn(&str, &V) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.on_set = Some(Arc::new(hook));
        self
    }

    /// Runs `hook` after every tombstone.
    pub fn on_delete(
        mut self,
        hook: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.on_delete = Some(Arc::new(hook));
        self
    }

    /// Sets the catch-up timeout (default 30 s).
    pub fn catch_up_timeout(mut self, t: Duration) -> Self {
        self.catch_up_timeout = t;
        self
    }

    /// Uses `decoder` for keys. It should be injective: two raw keys that decode to the same
    /// key resolve in arbitrary order during catch-up.
    ///
    /// ```
    /// use kafkit_client::ClientConfig;
    /// use kafkit_table::TableConfig;
    /// let config = TableConfig::<String>::json(ClientConfig::new(["127.0.0.1:9092"]), "t")
    ///     .key_decoder(|b| Ok(format!("tenant-{}", String::from_utf8_lossy(b))));
    /// assert_eq!(&*(config.key_decoder)(b"7").unwrap(), "tenant-7");
    /// ```
    pub fn key_decoder(
        mut self,
        decoder: impl Fn(&[u8]) -> Result<String, String> + Send + Sync + 'static,
    ) -> Self {
        self.key_decoder = Arc::new(move |b: &[u8]| decoder(b).map(Arc::from));
        self
    }
}

impl<V: serde::de::DeserializeOwned> TableConfig<V> {
    /// A table of `topic` with UTF-8 keys and JSON values.
    pub fn json(client: ClientConfig, topic: impl Into<String>) -> Self {
        Self::new(client, topic, |b| {
            serde_json::from_slice(b).map_err(|e| format!("value is not the expected JSON: {e}"))
        })
    }
}
