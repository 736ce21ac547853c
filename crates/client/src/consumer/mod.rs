//! The consumer: assign partitions, seek, poll — fetching ahead, bounded in memory.
//!
//! ```text
//!  assign / seek ──► cursors (one per partition: fetch offset, position, epoch)
//!                        │ one source task per leader broker
//!  poll ◄── records ◄── fetched batches (decoded, CRC-checked) ◄── Fetch responses
//! ```
//!
//! - [`Consumer`]: `assign`, `seek` ([`Offset`]: beginning, end, an offset, a timestamp),
//!   `pause`/`resume`, `poll`/`recv`, `position`, `highwater`, `lag`.
//! - [`ConsumerConfig`]: fetch sizes and waits, [`OffsetReset`], [`Isolation`], the prefetch
//!   bound.
//!
//! A seek bumps the partition's epoch: anything fetched before it is dropped, so `poll` never
//! returns a record from before a seek. Sources stop fetching while `max_buffered_bytes` of
//! fetched data waits for `poll`.

mod config;
#[allow(clippy::module_inception)]
mod consumer;
mod group;
mod isolation;
mod record;
mod source;

pub use config::{ConsumerConfig, Isolation, OffsetReset};
pub use consumer::{Consumer, FetchedBatch};
pub use group::{Assignor, MemberAssignment, RebalanceListener};
pub use record::{ConsumerGroupMetadata, ConsumerRecord, Offset, TopicPartition};
