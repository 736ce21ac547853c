//! kafkit's pure-Rust async Kafka client.
//!
//! - [`Client`]: connects to a cluster, keeps a connection per broker and purpose, holds the
//!   [`ClusterView`], and sends any protocol request ([`Client::send`]).
//! - [`Admin`]: topics, configs, offsets, consumer groups and ACLs.
//! - [`Consumer`]: assign, seek and poll partitions ([`ConsumerRecord`] out).
//! - [`Producer`]: batched, compressed, idempotent writes ([`ProducerRecord`] in,
//!   [`Delivery`] out).
//! - [`ClientConfig`], [`TlsConfig`], [`SaslConfig`]: how to reach the cluster.
//! - [`Error`]: what failed, where, and whether a retry can help.
//! - [`wire`]: the protocol itself: API keys, error codes, request messages for
//!   [`Client::send`], single connections.
//!
//! ```no_run
//! # async fn demo() -> kafkit_client::Result<()> {
//! use kafkit_client::{Client, ClientConfig, NewTopic};
//! let client = Client::connect(ClientConfig::new(["127.0.0.1:9092"])).await?;
//! client.admin().create_topic(&NewTopic::new("events", 3)).await?;
//! for (id, broker) in &client.cluster().await?.brokers {
//!     println!("broker {id} at {}", broker.address());
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod admin;
mod client;
mod cluster;
mod config;
mod conn;
mod consumer;
mod error;
mod producer;
mod properties;
pub mod wire;

pub use admin::{
    AclBinding, AclFilter, AclOperation, AclPermission, Admin, AlterConfigOp, CommittedOffset,
    ConfigEntry, ConfigResource, GroupDescription, GroupListing, GroupMember, NewTopic, OffsetSpec,
    PartitionLag, PatternType, ResourceType, TopicPartitionOffset,
};
pub use client::{Client, Target};
pub use cluster::{BrokerInfo, ClusterView, PartitionInfo, TopicInfo};
pub use config::{ClientConfig, SaslConfig, SaslMechanism, Secret, TlsConfig};
pub use consumer::{
    Assignor, Consumer, ConsumerConfig, ConsumerGroupMetadata, ConsumerRecord, FetchedBatch,
    Isolation, MemberAssignment, Offset, OffsetReset, RebalanceListener, TopicPartition,
};
pub use error::{BrokerError, Error, Result};
pub use producer::{
    Acks, Delivery, DeliveryFuture, Partitioner, Producer, ProducerConfig, ProducerMetrics,
    ProducerRecord, SendError,
};

/// Batch compression codecs ([`ProducerConfig::compression`] takes one), re-exported from
/// kafkit's record codec so that producers need no second crate.
pub use kafkit_record::Compression;
