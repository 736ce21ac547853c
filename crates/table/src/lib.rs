//! kafkit's global tables: a topic materialized into a local, read-only map.
//!
//! - [`GlobalTable`]: replays every partition of a (compacted) topic from the beginning, opens
//!   its catch-up gate once it has read up to the end offsets taken at start, then follows
//!   live updates. Reads are cheap and concurrent; [`GlobalTable::snapshot`] is an O(1)
//!   point-in-time view (a persistent map behind an atomic pointer swap).
//! - [`TableWriter`]: upserts and tombstones, each awaited until the broker acknowledges.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kafkit_table::TableError> {
//! use std::time::Duration;
//! use kafkit_client::ClientConfig;
//! use kafkit_table::{GlobalTable, TableConfig, TableWriter};
//! let client = ClientConfig::new(["127.0.0.1:9092"]);
//! let writer = TableWriter::<serde_json::Value>::json(client.clone(), "registry").await?;
//! writer.set("billing", &serde_json::json!({"url": "http://billing:8080"})).await?;
//! let table = GlobalTable::new(TableConfig::<serde_json::Value>::json(client, "registry"));
//! table.start().await?;
//! assert!(table.barrier(Duration::from_secs(5)).await?);
//! println!("{:?}", table.get("billing")?);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod apply;
mod checkpoint;
mod config;
mod error;
mod grouped;
mod last_values;
mod map;
mod reader;
mod replay;
mod table;
mod topic;
mod writer;

pub use apply::Change;
pub use config::{
    table_consumer_config, DeleteHook, KeyDecoder, SetHook, TableConfig, ValueDecoder,
    TABLE_FETCH_MAX_BYTES, TABLE_PREFETCH_BYTES,
};
pub use error::TableError;
pub use grouped::{grouped_key, split_grouped_key, GroupedTable, GroupedTableWriter};
pub use table::{GlobalTable, Snapshot, Status, TableStats};
pub use topic::{ensure_topic, Ensured, PolicyCheck};
pub use writer::TableWriter;

/// Decodes the bytes of a table checkpoint file, returning how many entries it holds: every
/// damage is an error naming what is wrong, never a panic. For fuzzing (the
/// `table_checkpoint` target); tables read their checkpoints themselves.
#[doc(hidden)]
pub fn decode_checkpoint(bytes: &[u8]) -> Result<usize, String> {
    checkpoint::decode(
        bytes::Bytes::copy_from_slice(bytes),
        std::path::Path::new("(bytes)"),
    )
    .map(|c| c.entries.len())
    .map_err(|e| e.to_string())
}
