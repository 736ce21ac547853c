//! [`GlobalTable`]: the reader task, the catch-up gate, reads and barriers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use kafkit_client::{Consumer, OffsetReset, OffsetSpec};
use tokio::sync::watch;

use crate::apply::{Change, Counters};

use crate::config::TableConfig;
use crate::error::TableError;
use crate::map::TableMap;
use crate::reader::run_reader;

/// Changes kept for subscribers that fall behind.
const CHANGE_BUFFER: usize = 4096;

/// Where a table is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `start()` not called yet.
    Unstarted,
    /// Replaying the topic up to the end offsets taken at start.
    Loading,
    /// Caught up; following live updates.
    CaughtUp,
    /// Catch-up timed out: serving partial data while still catching up.
    Degraded,
    /// A non-retriable error stopped the reader; contents are frozen (see `failure()`).
    Failed,
    /// `stop()` was called.
    Stopped,
}

/// What the reader has applied and skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableStats {
    /// Upserts applied.
    pub records_applied: u64,
    /// Tombstones applied.
    pub tombstones_applied: u64,
    /// Records without a key (skipped).
    pub keyless_records: u64,
    /// Records whose key did not decode (skipped).
    pub key_decode_errors: u64,
    /// Records whose value did not decode (skipped; the old value kept).
    pub value_decode_errors: u64,
    /// How long catch-up took, once done.
    pub catch_up: Option<Duration>,
    /// Records read before the gate opened.
    pub records_replayed: u64,
    /// `on_set` / `on_delete` hooks that returned an error.
    pub hook_errors: u64,
    /// True when this run started from a local checkpoint.
    pub checkpoint_restored: bool,
    /// Checkpoints written.
    pub checkpoints_written: u64,
    /// Checkpoints that could not be written (each logged).
    pub checkpoint_errors: u64,
}

/// A point-in-time view of the table, taken in O(1).
#[derive(Clone, Debug)]
pub struct Snapshot<V> {
    map: TableMap<V>,
}

impl<V> Snapshot<V> {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Arc<V>> {
        self.map.get(key)
    }
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// True when there is no key.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// Every key and value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<V>)> {
        self.map.iter()
    }
}

/// A topic materialized into a local read-only map. Cheap to clone; dropping the last
/// clone stops the reader.
pub struct GlobalTable<V> {
    inner: Arc<Inner<V>>,
}

impl<V> Clone for GlobalTable<V> {
    fn clone(&self) -> Self {
        GlobalTable {
            inner: self.inner.clone(),
        }
    }
}

impl<V> std::fmt::Debug for GlobalTable<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalTable")
            .field("topic", &self.inner.config.topic)
            .field("status", &*self.inner.status.borrow())
            .finish_non_exhaustive()
    }
}

/// What the table handles and the reader task share.
pub(crate) struct Inner<V> {
    pub(crate) config: TableConfig<V>,
    pub(crate) map: ArcSwap<TableMap<V>>,
    pub(crate) status: watch::Sender<Status>,
    /// Next offset to apply per partition, published after each applied poll.
    pub(crate) applied: watch::Sender<HashMap<i32, i64>>,
    pub(crate) counters: Counters,
    pub(crate) catch_up: Mutex<(Option<Duration>, u64)>,
    pub(crate) failure: OnceLock<Arc<kafkit_client::Error>>,
    pub(crate) consumer: OnceLock<Consumer>,
    pub(crate) changes: tokio::sync::broadcast::Sender<Change<V>>,
    pub(crate) stop: AtomicBool,
    pub(crate) reader: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl<V> Drop for Inner<V> {
    fn drop(&mut self) {
        if let Some(task) = self.reader.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
    }
}

impl<V: Send + Sync + 'static> GlobalTable<V> {
    /// A table that will read as `config` says, once started.
    pub fn new(mut config: TableConfig<V>) -> Self {
        config.consumer = config.consumer.auto_offset_reset(OffsetReset::Earliest);
        config.consumer.group_id = None;
        GlobalTable {
            inner: Arc::new(Inner {
                config,
                map: ArcSwap::from_pointee(TableMap::default()),
                status: watch::channel(Status::Unstarted).0,
                applied: watch::channel(HashMap::new()).0,
                counters: Counters::default(),
                catch_up: Mutex::new((None, 0)),
                failure: OnceLock::new(),
                consumer: OnceLock::new(),
                changes: tokio::sync::broadcast::channel(CHANGE_BUFFER).0,
                stop: AtomicBool::new(false),
                reader: Mutex::new(None),
            }),
        }
    }

    /// Starts the reader and returns once caught up (or `Degraded` after the catch-up
    /// timeout; reading goes on). Waits for the topic to exist if it does not yet.
    pub async fn start(&self) -> Result<Status, TableError> {
        let inner = &self.inner;
        if *inner.status.borrow() != Status::Unstarted {
            return Ok(self.status());
        }
        if let Some((partitions, check)) = inner.config.ensure_topic {
            let client =
                kafkit_client::Client::connect(inner.config.consumer.client.clone()).await?;
            crate::topic::ensure_topic(&client, &inner.config.topic, partitions, check).await?;
        }
        inner.status.send_replace(Status::Loading);
        let task = tokio::spawn(run_reader(Arc::downgrade(inner)));
        *inner.reader.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        self.wait_until_caught_up(inner.config.catch_up_timeout)
            .await;
        if self.status() == Status::Loading {
            inner.status.send_replace(Status::Degraded);
            tracing::warn!(topic = %inner.config.topic, "catch-up timed out; serving partial data");
        }
        Ok(self.status())
    }

    /// The current status.
    pub fn status(&self) -> Status {
        *self.inner.status.borrow()
    }

    /// The error that stopped the reader, when `Failed`.
    pub fn failure(&self) -> Option<Arc<kafkit_client::Error>> {
        self.inner.failure.get().cloned()
    }

    /// Waits until caught up; false on timeout or when the reader ended first.
    pub async fn wait_until_caught_up(&self, timeout: Duration) -> bool {
        let mut rx = self.inner.status.subscribe();
        let reached = tokio::time::timeout(timeout, async {
            rx.wait_for(|s| matches!(s, Status::CaughtUp | Status::Failed | Status::Stopped))
                .await
                .map(|s| *s)
        })
        .await;
        matches!(reached, Ok(Ok(Status::CaughtUp)))
    }

    fn check_started(&self) -> Result<(), TableError> {
        match self.status() {
            Status::Unstarted => Err(TableError::NotStarted(self.inner.config.topic.clone())),
            _ => Ok(()),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Result<Option<Arc<V>>, TableError> {
        self.check_started()?;
        Ok(self.inner.map.load().get(key).cloned())
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: &str) -> Result<bool, TableError> {
        self.check_started()?;
        Ok(self.inner.map.load().contains_key(key))
    }

    /// Number of keys.
    pub fn len(&self) -> Result<usize, TableError> {
        self.check_started()?;
        Ok(self.inner.map.load().len())
    }

    /// True when the table holds no key.
    pub fn is_empty(&self) -> Result<bool, TableError> {
        Ok(self.len()? == 0)
    }

    /// A consistent point-in-time view, taken in O(1).
    pub fn snapshot(&self) -> Result<Snapshot<V>, TableError> {
        self.check_started()?;
        Ok(Snapshot {
            map: (**self.inner.map.load()).clone(),
        })
    }

    /// What the reader applied and skipped so far.
    pub fn stats(&self) -> TableStats {
        let c = &self.inner.counters;
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let (catch_up, replayed) = *self
            .inner
            .catch_up
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        TableStats {
            records_applied: get(&c.records_applied),
            tombstones_applied: get(&c.tombstones_applied),
            keyless_records: get(&c.keyless_records),
            key_decode_errors: get(&c.key_decode_errors),
            value_decode_errors: get(&c.value_decode_errors),
            hook_errors: get(&c.hook_errors),
            checkpoint_restored: get(&c.checkpoint_restored) > 0,
            checkpoints_written: get(&c.checkpoints_written),
            checkpoint_errors: get(&c.checkpoint_errors),
            catch_up,
            records_replayed: replayed,
        }
    }

    /// Takes the end offsets now and waits until everything below them is applied, so every
    /// write acknowledged before the call is visible. False on timeout, when the reader
    /// fails or stops meanwhile, or when the end offsets cannot be read.
    pub async fn barrier(&self, timeout: Duration) -> Result<bool, TableError> {
        self.check_started()?;
        let inner = &self.inner;
        let deadline = Instant::now() + timeout;
        let Some(consumer) = inner.consumer.get() else {
            // Not yet reading (the topic may not exist): wait for the reader to begin.
            let mut rx = inner.applied.subscribe();
            if tokio::time::timeout_at(deadline.into(), rx.wait_for(|m| !m.is_empty()))
                .await
                .is_err()
            {
                return Ok(false);
            }
            return Box::pin(self.barrier(deadline.saturating_duration_since(Instant::now())))
                .await;
        };
        let ends = match tokio::time::timeout_at(
            deadline.into(),
            consumer
                .client()
                .admin()
                .list_offsets(&inner.config.topic, &[], OffsetSpec::Latest),
        )
        .await
        {
            Ok(Ok(ends)) => ends,
            _ => return Ok(false),
        };
        let mut applied = inner.applied.subscribe();
        let mut status = inner.status.subscribe();
        loop {
            let done = {
                let now = applied.borrow_and_update();
                ends.iter()
                    .all(|(p, end)| now.get(p).is_some_and(|&at| at >= end.offset))
            };
            if done {
                return Ok(true);
            }
            if matches!(
                *status.borrow_and_update(),
                Status::Failed | Status::Stopped
            ) {
                return Ok(false);
            }
            tokio::select! {
                r = applied.changed() => if r.is_err() { return Ok(false) },
                r = status.changed() => if r.is_err() { return Ok(false) },
                _ = tokio::time::sleep_until(deadline.into()) => return Ok(false),
            }
        }
    }

    /// A stream of changes (key, old, new) applied from now on. A subscriber more than
    /// 4096 changes behind gets `RecvError::Lagged` and continues from the newest.
    pub fn changes(&self) -> tokio::sync::broadcast::Receiver<Change<V>> {
        self.inner.changes.subscribe()
    }

    /// Waits until `key` changes; `None` on timeout.
    ///
    /// Changes count from the call on, not from the first poll: the subscription is taken
    /// before this returns, so a change made right after the call is seen even if the
    /// future is spawned or awaited later.
    pub fn wait_for_change(
        &self,
        key: &str,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Result<Option<Change<V>>, TableError>> + Send + 'static
    {
        let started = self.check_started();
        let mut rx = self.changes();
        let key = key.to_string();
        async move {
            started?;
            let found = tokio::time::timeout(timeout, async {
                loop {
                    match rx.recv().await {
                        Ok(c) if *c.key == *key => return Some(c),
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    }
                }
            })
            .await;
            Ok(found.ok().flatten())
        }
    }

    /// Stops the reader; contents stay readable.
    pub async fn stop(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        let task = self
            .inner
            .reader
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
        if let Some(c) = self.inner.consumer.get() {
            c.close().await;
        }
        self.inner.status.send_replace(Status::Stopped);
    }
}
