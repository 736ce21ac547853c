//! The producer's router: which broker leads each partition a producer writes to.
//!
//! The router task refreshes metadata when a sink or `send` asks (and picks up the client's
//! background refreshes every second), rebuilds the routes from leader to partition queues,
//! starts a sink for each new leader, bumps the producer epoch once nothing is in flight,
//! and fails batches of partitions without a leader once they pass the delivery timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::accumulator::{PartitionQueue, ProducerBatch, TopicMeta, TopicQueues};
use super::metrics::Counters;
use super::partitioner::Sticky;
use super::producer::ProducerCore;
use super::sink::{self, SinkHandle};
use crate::cluster::ClusterView;
use crate::error::{Error, Result};
use crate::wire::ApiKey;

/// The router: refreshes metadata when asked (and every so often), applies it, bumps the
/// producer epoch once nothing is in flight, and expires batches that cannot be routed.
pub(super) async fn run_router(shared: std::sync::Weak<ProducerCore>) {
    let mut last_view = Instant::now();
    loop {
        let Some(s) = shared.upgrade() else { return };
        if s.is_done() {
            s.wake_all_sinks();
            return;
        }
        let wake = s.router_wake.clone();
        let woken = wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if s.refresh_wanted.swap(false, Ordering::Relaxed) {
            match s.client.refresh_metadata().await {
                Ok(view) => {
                    s.apply_view(&view, false);
                    last_view = Instant::now();
                }
                Err(e) => {
                    tracing::debug!(error = %e, "producer metadata refresh failed");
                    s.refresh_wanted.store(true, Ordering::Relaxed);
                }
            }
        } else if last_view.elapsed() > Duration::from_secs(1) {
            // Pick up the client's background refreshes.
            let view = s.client.cached_view();
            s.apply_view(&view, false);
            last_view = Instant::now();
        }
        if s.identity.bump_requested() {
            let quiet = {
                let _gate = s.identity.exclusive();
                s.in_flight_batches.load(Ordering::SeqCst) == 0
            };
            if quiet {
                s.bump_epoch().await;
            }
        }
        s.expire_unroutable();
        drop(s);
        let _ = tokio::time::timeout(Duration::from_millis(100), woken).await;
    }
}

impl ProducerCore {
    /// The queues of `name`, fetching its metadata first if it is new.
    pub(super) async fn topic(&self, name: &str, deadline: Instant) -> Result<Arc<TopicQueues>> {
        if let Some(t) = self
            .topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Ok(t.clone());
        }
        let view = tokio::time::timeout_at(deadline.into(), self.client.topic_metadata(&[name]))
            .await
            .map_err(|_| Error::Timeout {
                api: ApiKey::Metadata,
                broker: "any".into(),
                after: self.config.max_block,
            })??;
        match view.topics.get(name) {
            Some(t) if t.error.is_none() && !t.partitions.is_empty() => {}
            Some(t) => {
                return Err(match t.error {
                    Some(code) => Error::broker(code, ApiKey::Metadata, "any")
                        .topic(name)
                        .build(),
                    None => Error::Unknown {
                        what: "topic",
                        name: name.to_string(),
                    },
                })
            }
            None => {
                return Err(Error::Unknown {
                    what: "topic",
                    name: name.to_string(),
                })
            }
        }
        self.apply_view(&view, true);
        self.topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| Error::Unknown {
                what: "topic",
                name: name.to_string(),
            })
    }

    /// Updates leaders and partition counts from `view` (adding its topics when `add`),
    /// starts sinks for new leaders and rebuilds the routes.
    pub(crate) fn apply_view(&self, view: &ClusterView, add: bool) {
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        for (name, info) in &view.topics {
            if info.error.is_some() || info.partitions.is_empty() {
                continue;
            }
            let existing = topics.get(name.as_str()).cloned();
            if existing.is_none() && !add {
                continue;
            }
            let count = info.partitions.iter().map(|p| p.id + 1).max().unwrap_or(0);
            let leader_of = |p: i32| {
                info.partition(p)
                    .and_then(|p| p.leader)
                    .filter(|l| view.brokers.contains_key(l))
                    .unwrap_or(-1)
            };
            let updated = match existing {
                Some(t) if t.partitions.len() as i32 >= count => {
                    for q in &t.partitions {
                        q.leader.store(leader_of(q.partition), Ordering::Relaxed);
                    }
                    continue;
                }
                Some(t) => {
                    // Partitions were added: keep the old queues, add new ones.
                    t.meta.partition_count.store(count, Ordering::Relaxed);
                    let mut partitions = t.partitions.clone();
                    for q in &partitions {
                        q.leader.store(leader_of(q.partition), Ordering::Relaxed);
                    }
                    for p in partitions.len() as i32..count {
                        partitions.push(Arc::new(PartitionQueue::new(
                            t.meta.clone(),
                            p,
                            leader_of(p),
                        )));
                    }
                    TopicQueues {
                        meta: t.meta.clone(),
                        partitions,
                    }
                }
                None => {
                    let meta = Arc::new(TopicMeta {
                        name: Arc::from(name.as_str()),
                        partition_count: AtomicI32::new(count),
                        sticky: Sticky::new(count),
                    });
                    TopicQueues {
                        partitions: (0..count)
                            .map(|p| Arc::new(PartitionQueue::new(meta.clone(), p, leader_of(p))))
                            .collect(),
                        meta,
                    }
                }
            };
            topics.insert(updated.meta.name.clone(), Arc::new(updated));
        }
        let mut routes: HashMap<i32, Vec<Arc<PartitionQueue>>> = HashMap::new();
        for t in topics.values() {
            for q in &t.partitions {
                routes.entry(q.leader()).or_default().push(q.clone());
            }
        }
        drop(topics);
        let leaders: Vec<i32> = routes.keys().copied().filter(|&b| b >= 0).collect();
        *self.routes.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(routes);
        for broker in leaders {
            self.sink(broker);
        }
        self.wake_all_sinks();
    }

    /// The sink of `broker`, started if needed.
    pub(super) fn sink(&self, broker: i32) -> Arc<SinkHandle> {
        let mut sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        sinks
            .entry(broker)
            .or_insert_with(|| sink::start(self.self_arc(), broker))
            .clone()
    }

    /// Takes a new producer id/epoch and restarts every partition's sequence at 0.
    pub(super) async fn bump_epoch(&self) {
        match self.identity.bump(&self.client).await {
            Ok(()) => {
                self.restart_sequences();
                self.identity.bump_done();
                self.wake_all_sinks();
            }
            Err(e) if e.is_retriable() => {
                tracing::warn!(error = %e, "producer epoch bump failed; will retry");
            }
            Err(e) => {
                tracing::error!(error = %e, "producer epoch bump failed for good");
                let e = Arc::new(e);
                let _ = self.fatal.set(e.clone());
                self.abandon_all(&format!("producer id lost: {e}"));
            }
        }
    }

    /// Restarts every partition's sequence at 0 after a new producer id or epoch.
    pub(crate) fn restart_sequences(&self) {
        Counters::add(&self.counters.identity_resets, 1);
        for q in self.all_queues() {
            let mut st = q.lock();
            st.next_sequence = 0;
            st.acked_sequence = 0;
            st.sequence_established = false;
            st.retrying = false;
            for b in st.ready.iter_mut() {
                b.stamp = None;
            }
        }
    }

    /// Fails batches of partitions without a leader once they pass the delivery timeout.
    pub(super) fn expire_unroutable(&self) {
        let routes = self
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(orphans) = routes.get(&-1) else {
            return;
        };
        if !orphans.is_empty() {
            self.request_metadata();
        }
        for q in orphans {
            let expired: Vec<ProducerBatch> = {
                let mut st = q.lock();
                let mut out = Vec::new();
                while st
                    .ready
                    .front()
                    .is_some_and(|b| b.created.elapsed() >= self.config.delivery_timeout)
                {
                    out.extend(st.ready.pop_front());
                }
                out
            };
            for b in expired {
                let e = self.timeout_error(q, &b, "no leader known for the partition");
                self.fail_batch(q, b, Arc::new(e));
            }
        }
    }
}
