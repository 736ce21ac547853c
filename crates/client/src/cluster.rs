//! The cluster view: brokers, controller, topics, partitions with leaders, replicas and ISR.
//!
//! A [`ClusterView`] is an immutable snapshot built from one Metadata response; the client
//! swaps in a new one on every refresh, so readers never see a half-updated view.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::wire::messages::MetadataResponse;

use crate::wire::ErrorCode;

/// One broker of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Node id.
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: u16,
    /// Rack, if configured.
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`, ready to connect to.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition index.
    pub id: i32,
    /// Current leader, if any.
    pub leader: Option<i32>,
    /// Leader epoch (-1 if unknown).
    pub leader_epoch: i32,
    /// All replicas.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Replicas that are offline.
    pub offline_replicas: Vec<i32>,
    /// Partition-level error, e.g. `LeaderNotAvailable`.
    pub error: Option<ErrorCode>,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Topic id (all zeros when the broker does not report one).
    pub id: uuid::Uuid,
    /// Internal topic such as `__consumer_offsets`.
    pub is_internal: bool,
    /// Partitions ordered by index.
    pub partitions: Vec<PartitionInfo>,
    /// Topic-level error, e.g. `UnknownTopicOrPartition`.
    pub error: Option<ErrorCode>,
}

impl TopicInfo {
    /// The partition with index `id`.
    pub fn partition(&self, id: i32) -> Option<&PartitionInfo> {
        self.partitions.iter().find(|p| p.id == id)
    }
}

/// A snapshot of the cluster, in the spirit of Samsa's cluster view.
#[derive(Debug, Clone)]
pub struct ClusterView {
    /// Cluster id, if the broker reports one.
    pub cluster_id: Option<String>,
    /// Controller broker id, if known.
    pub controller: Option<i32>,
    /// Brokers by id.
    pub brokers: BTreeMap<i32, BrokerInfo>,
    /// Topics by name (those requested, or all).
    pub topics: BTreeMap<String, TopicInfo>,
    /// When this view was fetched.
    pub fetched_at: Instant,
}

impl ClusterView {
    pub(crate) fn from_response(resp: &MetadataResponse) -> Self {
        let brokers = resp
            .brokers
            .iter()
            .map(|b| {
                let info = BrokerInfo {
                    id: b.node_id.0,
                    host: b.host.to_string(),
                    port: u16::try_from(b.port).unwrap_or(0),
                    rack: b.rack.as_ref().map(|r| r.to_string()),
                };
                (info.id, info)
            })
            .collect();
        let topics = resp
            .topics
            .iter()
            .filter_map(|t| {
                let name = t.name.as_ref()?.0.to_string();
                let mut partitions: Vec<PartitionInfo> = t
                    .partitions
                    .iter()
                    .map(|p| PartitionInfo {
                        id: p.partition_index,
                        leader: (p.leader_id.0 >= 0).then_some(p.leader_id.0),
                        leader_epoch: p.leader_epoch,
                        replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                        isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                        offline_replicas: p.offline_replicas.iter().map(|b| b.0).collect(),
                        error: ErrorCode::try_from_code(p.error_code),
                    })
                    .collect();
                partitions.sort_by_key(|p| p.id);
                Some((
                    name.clone(),
                    TopicInfo {
                        name,
                        id: t.topic_id,
                        is_internal: t.is_internal,
                        partitions,
                        error: ErrorCode::try_from_code(t.error_code),
                    },
                ))
            })
            .collect();
        ClusterView {
            cluster_id: resp.cluster_id.as_ref().map(|c| c.to_string()),
            controller: (resp.controller_id.0 >= 0).then_some(resp.controller_id.0),
            brokers,
            topics,
            fetched_at: Instant::now(),
        }
    }

    /// The topic named `name`, if known and without a topic-level error.
    pub fn topic(&self, name: &str) -> Option<&TopicInfo> {
        self.topics.get(name).filter(|t| t.error.is_none())
    }

    /// The leader of `topic`/`partition`, if known.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<&BrokerInfo> {
        let id = self.topic(topic)?.partition(partition)?.leader?;
        self.brokers.get(&id)
    }
}
