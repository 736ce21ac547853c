//! [`Client`]: the shared entry point — a connection per broker and purpose, the cluster view, and
//! low-level access to any protocol request.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use crate::wire::messages::metadata_request::MetadataRequestTopic;
use crate::wire::messages::{MetadataRequest, TopicName};
use crate::wire::{Request, StrBytes};

use crate::cluster::ClusterView;
use crate::config::ClientConfig;
use crate::conn::{self, ApiVersionTable, Connection};
use crate::error::{Error, Result};
use crate::wire::ErrorCode;

/// Which broker a request goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// The connected broker with the fewest requests in flight.
    LeastLoaded,
    /// The broker with this node id.
    Broker(i32),
    /// The controller (falls back to least loaded when the broker reports none).
    Controller,
    /// A `host:port` address, e.g. a bootstrap server.
    Address(String),
}

/// What a connection to a broker carries.
///
/// A Kafka broker handles the requests of one connection one at a time, in order: a fetch
/// that long-polls for `fetch.max.wait.ms` would hold up a produce or a commit queued behind
/// it. So, as the Java client and franz-go do, each purpose has its own connection to a
/// broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) enum Purpose {
    /// Metadata, admin requests, and raw requests sent through [`Client::send`].
    #[default]
    General,
    /// A producer's Produce requests.
    Produce,
    /// A consumer's fetches (long polls).
    Fetch,
    /// Group coordination: JoinGroup and SyncGroup (held during rebalances), heartbeats,
    /// commits, LeaveGroup.
    Group,
}

/// A Kafka client: cheap to clone, share it across tasks.
///
/// It keeps a connection per broker and [purpose](Purpose) (opened on first use, reopened
/// with backoff after a failure) and a cluster view refreshed on demand, after retriable
/// errors and every `metadata_max_age`.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("bootstrap", &self.inner.config.bootstrap)
            .finish()
    }
}

struct Inner {
    config: ClientConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
    slots: Mutex<HashMap<(String, Purpose), Arc<BrokerSlot>>>,
    view: RwLock<Arc<ClusterView>>,
    refresh_lock: tokio::sync::Mutex<()>,
    refresher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self
            .refresher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

/// The connection slot of one broker address, with its reconnect backoff.
struct BrokerSlot {
    addr: String,
    state: tokio::sync::Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    conn: Option<Arc<Connection>>,
    failures: u32,
    retry_at: Option<Instant>,
}

impl BrokerSlot {
    /// The live connection, opening one (after the backoff) when there is none.
    async fn connection(&self, inner: &Inner) -> Result<Arc<Connection>> {
        let mut st = self.state.lock().await;
        if let Some(c) = &st.conn {
            if c.is_alive() {
                return Ok(c.clone());
            }
            st.conn = None;
        }
        if let Some(at) = st.retry_at {
            tokio::time::sleep_until(at.into()).await;
        }
        match conn::open(&self.addr, &inner.config, inner.tls.as_ref()).await {
            Ok(c) => {
                st.failures = 0;
                st.retry_at = None;
                st.conn = Some(c.clone());
                Ok(c)
            }
            Err(e) => {
                st.failures += 1;
                st.retry_at = Some(Instant::now() + backoff(&inner.config, st.failures));
                Err(e)
            }
        }
    }

    /// The current connection without connecting, if alive.
    fn current(&self) -> Option<Arc<Connection>> {
        let st = self.state.try_lock().ok()?;
        st.conn.as_ref().filter(|c| c.is_alive()).cloned()
    }
}

/// Exponential backoff with ±20 % jitter, capped at `reconnect_backoff_max`.
pub(crate) fn backoff(config: &ClientConfig, failures: u32) -> Duration {
    use rand::Rng;
    let exp = config
        .reconnect_backoff
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let capped = exp.min(config.reconnect_backoff_max);
    capped.mul_f64(rand::thread_rng().gen_range(0.8..1.2))
}

/// Rounds over the bootstrap addresses while every failure was a dropped connection.
const BOOTSTRAP_ROUNDS: u32 = 3;

impl Client {
    /// Connects to the cluster: tries each bootstrap address until one answers Metadata.
    ///
    /// Fails with [`Error::NoBrokers`] naming every address tried and why, within
    /// `connect_timeout` per address. When every address took the connection and then
    /// dropped it, it tries them again (three rounds in all, with backoff).
    pub async fn connect(config: ClientConfig) -> Result<Client> {
        config.validate()?;
        let tls = config
            .tls
            .as_ref()
            .map(conn::tls::client_config)
            .transpose()?;
        let inner = Arc::new(Inner {
            config,
            tls,
            slots: Mutex::new(HashMap::new()),
            view: RwLock::new(Arc::new(ClusterView {
                cluster_id: None,
                controller: None,
                brokers: Default::default(),
                topics: Default::default(),
                fetched_at: Instant::now(),
            })),
            refresh_lock: tokio::sync::Mutex::new(()),
            refresher: Mutex::new(None),
        });
        let client = Client { inner };
        let mut failures = Vec::new();
        for round in 1..=BOOTSTRAP_ROUNDS {
            failures.clear();
            let mut only_dropped = true;
            for addr in client.inner.config.bootstrap.clone() {
                match client
                    .fetch_metadata(&Target::Address(addr.clone()), None)
                    .await
                {
                    Ok(view) => {
                        client.install_view(view);
                        client.start_refresher();
                        return Ok(client);
                    }
                    Err(e) => {
                        only_dropped &= matches!(e.source_error(), Error::Disconnected { .. });
                        failures.push(format!("{addr}: {e}"));
                    }
                }
            }
            // A broker that took the connection and then dropped it (still starting, or a
            // proxy in between whose upstream hiccuped) gets another round; refused or
            // timed-out connections, TLS and authentication failures do not.
            if !only_dropped || round == BOOTSTRAP_ROUNDS {
                break;
            }
            tokio::time::sleep(backoff(&client.inner.config, round)).await;
        }
        Err(Error::NoBrokers(failures.join("; ")))
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The current cluster view, refreshed first if older than `metadata_max_age`.
    pub async fn cluster(&self) -> Result<Arc<ClusterView>> {
        let view = self.cached_view();
        if view.fetched_at.elapsed() < self.inner.config.metadata_max_age {
            return Ok(view);
        }
        self.refresh_metadata().await
    }

    /// The cluster view as last fetched, without any network call.
    pub fn cached_view(&self) -> Arc<ClusterView> {
        self.inner
            .view
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Fetches fresh metadata for all topics. Concurrent callers share one request.
    pub async fn refresh_metadata(&self) -> Result<Arc<ClusterView>> {
        let asked_at = Instant::now();
        let _guard = self.inner.refresh_lock.lock().await;
        let current = self.cached_view();
        if current.fetched_at >= asked_at {
            return Ok(current); // someone refreshed while we waited
        }
        let view = self
            .with_retries("metadata", || {
                self.fetch_metadata(&Target::LeastLoaded, None)
            })
            .await?;
        Ok(self.install_view(view))
    }

    /// Fetches metadata for just `topics` (without touching the cached view).
    pub async fn topic_metadata(&self, topics: &[&str]) -> Result<ClusterView> {
        let names: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        self.with_retries("metadata", || {
            self.fetch_metadata(&Target::LeastLoaded, Some(names.clone()))
        })
        .await
    }

    async fn fetch_metadata(
        &self,
        target: &Target,
        topics: Option<Vec<String>>,
    ) -> Result<ClusterView> {
        let request = MetadataRequest::default()
            .with_topics(topics.map(|ts| {
                ts.into_iter()
                    .map(|t| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(t))))
                    })
                    .collect()
            }))
            .with_allow_auto_topic_creation(false);
        let conn = self.connection(target).await?;
        let response = conn.send(&request).await?;
        Ok(ClusterView::from_response(&response))
    }

    fn install_view(&self, view: ClusterView) -> Arc<ClusterView> {
        let view = Arc::new(view);
        *self.inner.view.write().unwrap_or_else(|e| e.into_inner()) = view.clone();
        view
    }

    fn start_refresher(&self) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let every = self.inner.config.metadata_max_age;
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else { return };
                let client = Client { inner };
                if let Err(e) = client.refresh_metadata().await {
                    tracing::warn!(error = %e, "periodic metadata refresh failed");
                }
            }
        });
        *self
            .inner
            .refresher
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(task);
    }

    fn slot(&self, addr: &str, purpose: Purpose) -> Arc<BrokerSlot> {
        let mut slots = self.inner.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .entry((addr.to_string(), purpose))
            .or_insert_with(|| {
                Arc::new(BrokerSlot {
                    addr: addr.to_string(),
                    state: tokio::sync::Mutex::new(SlotState::default()),
                })
            })
            .clone()
    }

    /// The address a target resolves to.
    fn address_of(&self, target: &Target) -> Result<String> {
        let view = self.cached_view();
        match target {
            Target::Address(a) => Ok(a.clone()),
            Target::Broker(id) => {
                view.brokers
                    .get(id)
                    .map(|b| b.address())
                    .ok_or_else(|| Error::Unknown {
                        what: "broker",
                        name: id.to_string(),
                    })
            }
            Target::Controller => match view.controller.and_then(|c| view.brokers.get(&c)) {
                Some(b) => Ok(b.address()),
                None => self.address_of(&Target::LeastLoaded),
            },
            Target::LeastLoaded => {
                let mut candidates: Vec<String> =
                    view.brokers.values().map(|b| b.address()).collect();
                if candidates.is_empty() {
                    candidates = self.inner.config.bootstrap.clone();
                }
                let slots = self.inner.slots.lock().unwrap_or_else(|e| e.into_inner());
                // Prefer live connections with the fewest in flight; else any candidate.
                let best = candidates
                    .iter()
                    .filter_map(|a| {
                        let c = slots.get(&(a.clone(), Purpose::General))?.current()?;
                        Some((c.in_flight(), a.clone()))
                    })
                    .min();
                Ok(best.map(|(_, a)| a).unwrap_or_else(|| {
                    use rand::seq::SliceRandom;
                    candidates
                        .choose(&mut rand::thread_rng())
                        .cloned()
                        .unwrap_or_default()
                }))
            }
        }
    }

    /// The address `target` resolves to now, for error messages.
    pub(crate) fn address_hint(&self, target: &Target) -> String {
        self.address_of(target)
            .unwrap_or_else(|_| format!("{target:?}"))
    }

    /// The connection for `target`, opened if needed: the one for metadata, admin and raw
    /// requests (producers, fetches and group coordination have connections of their own).
    pub async fn connection(&self, target: &Target) -> Result<Arc<Connection>> {
        self.connection_for(target, Purpose::General).await
    }

    /// The connection to `target` for `purpose`, opened if needed.
    pub(crate) async fn connection_for(
        &self,
        target: &Target,
        purpose: Purpose,
    ) -> Result<Arc<Connection>> {
        let addr = self.address_of(target)?;
        self.slot(&addr, purpose).connection(&self.inner).await
    }

    /// Sends any kafka-protocol request to `target` at the highest version both sides
    /// support, and awaits its typed response.
    ///
    /// ```no_run
    /// # async fn demo(client: kafkit_client::Client) -> kafkit_client::Result<()> {
    /// use kafkit_client::wire::messages::DescribeClusterRequest;
    /// let response = client
    ///     .send(&kafkit_client::Target::LeastLoaded, &DescribeClusterRequest::default())
    ///     .await?;
    /// println!("controller {:?}", response.controller_id);
    /// # Ok(()) }
    /// ```
    pub async fn send<R: Request>(&self, target: &Target, request: &R) -> Result<R::Response> {
        self.connection(target).await?.send(request).await
    }

    /// Sends `request` encoded at an explicit `version`.
    pub async fn send_version<R: Request>(
        &self,
        target: &Target,
        request: &R,
        version: i16,
    ) -> Result<R::Response> {
        self.connection(target)
            .await?
            .send_version(request, version)
            .await
    }

    /// What a broker supports: the ApiVersions table it sent (the `check_version` probe).
    pub async fn api_versions(&self, target: &Target) -> Result<ApiVersionTable> {
        Ok(self.connection(target).await?.versions().clone())
    }

    /// Runs `attempt` until it succeeds, fails for good, or `retries` attempts are used,
    /// backing off between attempts and refreshing metadata after stale-metadata errors.
    pub(crate) async fn with_retries<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let attempts = self.inner.config.retries.max(1);
        let mut n = 0;
        loop {
            n += 1;
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retriable() && n < attempts => {
                    tracing::debug!(what, attempt = n, error = %e, "retrying");
                    tokio::time::sleep(backoff(&self.inner.config, n)).await;
                    if needs_metadata_refresh(&e) && what != "metadata" {
                        // Boxed: refresh_metadata itself retries through this function.
                        let _ = Box::pin(self.refresh_metadata()).await;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Errors that mean the cluster view is stale.
fn needs_metadata_refresh(e: &Error) -> bool {
    if e.is_connection_error() {
        return true;
    }
    matches!(
        e.code(),
        Some(
            ErrorCode::NotLeaderOrFollower
                | ErrorCode::UnknownTopicOrPartition
                | ErrorCode::LeaderNotAvailable
                | ErrorCode::NotController
                | ErrorCode::NotCoordinator
                | ErrorCode::CoordinatorNotAvailable
                | ErrorCode::FencedLeaderEpoch
                | ErrorCode::UnknownLeaderEpoch
        )
    ) || matches!(e, Error::Unknown { .. })
}
