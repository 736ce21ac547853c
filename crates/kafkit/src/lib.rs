//! kafkit: the Kafka toolkit for Rust.
//!
//! This facade re-exports the kafkit crates under one name:
//! - [`record`]: the RecordBatch v2 codec ([`kafkit_record`]).
//! - [`client`]: the async client — producer, consumer, cluster view, admin ([`kafkit_client`]).
//! - [`table`]: global tables, a topic materialized into a local map ([`kafkit_table`]).
//! - [`store`]: storages (a cluster, local files) and the shell's operations ([`kafkit_store`]).
//! - [`format`]: record formats — the Schema Registry wire format, Avro, Protobuf, JSON Schema
//!   to and from JSON ([`kafkit_format`]).
//! - [`registry`]: a Schema Registry with Confluent's REST API ([`kafkit_registry`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), kafkit::client::Error> {
//! let client = kafkit::client::Client::connect(
//!     kafkit::client::ClientConfig::new(["127.0.0.1:9092"]),
//! ).await?;
//! let cluster = client.cluster().await?;
//! println!("{} brokers", cluster.brokers.len());
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub use kafkit_client as client;
pub use kafkit_files as files;
pub use kafkit_format as format;
pub use kafkit_record as record;
pub use kafkit_registry as registry;
pub use kafkit_store as store;
pub use kafkit_table as table;
