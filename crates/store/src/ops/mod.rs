//! Operations over any [`Storage`](crate::Storage), shared by the CLI and by programs:
//!
//! - [`json`]: records as JSON objects and JSON Lines (keys and values as text, base64 or
//!   JSON), and back.
//! - [`schemas`]: keys and values typed by a schema (Avro, Protobuf, JSON Schema) and the
//!   registry that knows them.
//! - [`jq`]: jq pipelines (filter, map, flatmap) over records as JSON.
//! - [`read`]: what to read of a topic ([`read::ReadSpec`]): partitions, start, end, group.
//! - [`copy`]: copying a topic within a storage or to another, saying how far it got.
//! - [`exactly_once`]: copying between clusters in transactions, progress kept in the
//!   target, so a copy run again after a crash leaves no duplicates.
//! - [`diff`]: comparing two topics record by record.
//! - [`groups`]: consumer groups' lags, and resets of their commits.
//! - [`table`]: a topic as a table, the latest value of each key (ktables' rules).
//! - [`properties`]: client properties routed to the producer or the consumer.
//! - [`functional`]: kafi's functional methods (foldl, map, flatmap, filter, foreach,
//!   zip_foldl and the `_to` variants) over any storage.
//! - [`addons`]: kafi's add-ons: compact, compact_to, recreate.
//! - [`chunks`]: values larger than a broker takes, split over records and joined again.

pub mod addons;
pub mod chunks;
pub mod copy;
pub mod diff;
pub mod exactly_once;
pub mod functional;
pub mod groups;
pub mod jq;
pub mod json;
pub mod properties;
pub mod read;
pub mod schemas;
pub mod table;

mod commits;
