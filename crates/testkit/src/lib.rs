//! kafkit's test kit: real brokers for integration tests, and tools to break them.
//!
//! - [`Broker`]: a Tansu or an Apache Kafka (KRaft) broker on free loopback ports, the kind
//!   chosen by `KAFKIT_TEST_BROKER=tansu|kafka` ([`test_broker_kind`]); [`shared_broker`]
//!   gives one per test binary (tests keep apart by [`unique_topic`] names);
//!   [`Broker::start_sasl`] gives one that demands SASL authentication; [`KafkaOptions`]
//!   give a Kafka broker SASL, SSL or an authorizer.
//! - [`FaultProxy`]: a TCP proxy between client and broker that closes, stalls, delays or cuts
//!   connections, or corrupts a Produce request, on command, and can terminate TLS (Tansu
//!   itself serves plaintext only).
//! - [`ProxiedBroker`]: a private broker that clients reach only through a [`FaultProxy`].
//! - [`KafkaCluster`]: several Kafka nodes in one KRaft cluster, for leader failover.
//! - [`TestPki`]: a throwaway CA with server and client certificates.
//! - [`ObjectServer`]: moto_server (S3) or Azurite (Azure Blob) on a free port.
//! - [`java_peer`], [`go_peer`], [`python_peer`]: the Java client, franz-go and Python
//!   scripts (fastavro, confluent-kafka's registry client) as peer programs for interop tests;
//!   [`run_peer`] feeds one its input.
//!
//! Tansu is found through `$TANSU`, then `PATH`, then `~/.cargo/bin/tansu`; Kafka's jars in
//! `$KAFKIT_KAFKA_LIBS`, else `~/.cache/kafkit/kafka-<version>/libs` (scripts/install-kafka).

mod broker;
mod cluster;
mod kafka;
mod objects;
mod peers;
mod pki;
mod proxied;
mod proxy;

pub use broker::{
    on_kafka, shared_broker, tansu_binary, test_broker_kind, unique_topic, Broker, BrokerKind,
    BrokerOptions, ScramUser,
};
pub use cluster::KafkaCluster;
pub use kafka::{kafka_libs, kafka_version, KafkaOptions, KafkaQuorum, KafkaSecurity};
pub use objects::{
    ObjectServer, ObjectServerKind, AZURITE_ACCOUNT, AZURITE_KEY, MOTO_ACCESS_KEY, MOTO_SECRET_KEY,
};
pub use peers::{go_peer, java_peer, python_peer, run_peer};
pub use pki::TestPki;
pub use proxied::ProxiedBroker;
pub use proxy::FaultProxy;

/// A free TCP port on 127.0.0.1 (free when asked; bind it soon).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the loopback interface accepts a bind to port 0")
}
