//! [`KafkaCluster`]: several Apache Kafka nodes (one JVM each) forming one KRaft cluster,
//! for what one broker cannot show: leader failover, replicas, `min.insync.replicas`.

use crate::broker::{Broker, BrokerKind, BrokerOptions};
use crate::kafka::{self, KafkaOptions, KafkaQuorum};

/// A cluster of Kafka nodes on loopback ports, each broker and controller, killed on drop.
///
/// Every node holds one replica of the internal topics and, by default, of every new topic;
/// `min.insync.replicas` is one less than the node count, so one node may be down.
///
/// ```no_run
/// let mut cluster = kafkit_testkit::KafkaCluster::start(3);
/// let bootstrap = cluster.bootstrap();
/// cluster.node(2).stop(); // partitions led by node 2 move to the others
/// cluster.node(2).restart();
/// # let _ = bootstrap;
/// ```
pub struct KafkaCluster {
    nodes: Vec<Broker>,
}

impl KafkaCluster {
    /// Starts `size` nodes (ids 1..=size) and waits until every one has started.
    pub fn start(size: usize) -> KafkaCluster {
        assert!(size >= 1, "a cluster has at least one node");
        let cluster_id = kafka::cluster_id();
        let controllers: Vec<u16> = (0..size).map(|_| crate::free_port()).collect();
        let voters = controllers
            .iter()
            .enumerate()
            .map(|(i, port)| format!("{}@127.0.0.1:{port}", i + 1))
            .collect::<Vec<_>>()
            .join(",");
        // A node starts only once a majority of the controllers runs, so all start at once.
        let nodes = std::thread::scope(|scope| {
            let starting: Vec<_> = controllers
                .iter()
                .enumerate()
                .map(|(i, &controller_port)| {
                    let quorum = KafkaQuorum {
                        node_id: i as i32 + 1,
                        voters: voters.clone(),
                        controller_port,
                        cluster_id: cluster_id.clone(),
                        replicas: size,
                    };
                    scope.spawn(move || {
                        Broker::start_with(BrokerOptions {
                            kind: Some(BrokerKind::Kafka),
                            port: Some(crate::free_port()),
                            kafka: KafkaOptions {
                                quorum: Some(quorum),
                                ..Default::default()
                            },
                            ..Default::default()
                        })
                    })
                })
                .collect();
            starting
                .into_iter()
                .map(|t| t.join().expect("a cluster node starts"))
                .collect()
        });
        KafkaCluster { nodes }
    }

    /// Every node's address, comma-separated, for a client's bootstrap list.
    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .map(Broker::bootstrap)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The node with id `id` (1-based, as Kafka numbers them).
    pub fn node(&mut self, id: i32) -> &mut Broker {
        let count = self.nodes.len();
        usize::try_from(id - 1)
            .ok()
            .and_then(|i| self.nodes.get_mut(i))
            .unwrap_or_else(|| panic!("node {id}: the cluster has nodes 1..={count}"))
    }

    /// The ends of every node's log, for a test's failure message.
    pub fn log_tails(&self, max_per_node: usize) -> String {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| format!("--- node {} ---\n{}", i + 1, n.log_tail(max_per_node)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
