//! The producer: batching, compression, partitioning and idempotent delivery.
//!
//! ```text
//!  send(record) ──► partitioner ──► accumulator: one queue per partition
//!                                     open batch ─seal─► ready batches
//!                                                            │ (one sink per broker)
//!  DeliveryFuture ◄── batch outcome ◄── sink: Produce request with one batch per
//!                                        partition, ≤ max_in_flight on the wire
//!  router: metadata → leaders → routes; epoch bumps; expiry of unroutable batches
//! ```
//!
//! - [`Producer`]: `send` enqueues and hands back a [`DeliveryFuture`]; `send_and_wait`,
//!   `flush`, `close`.
//! - [`ProducerConfig`]: acks, linger, batch size, buffer memory, compression, idempotence.
//! - [`Partitioner`]: a hook to pick partitions; the default is the Java client's murmur2
//!   for keyed records and sticky partitioning for keyless ones.
//!
//! Memory is bounded: batches take their allocation from `buffer_memory` before growing,
//! and `send` waits up to `max_block` for room. With idempotence (the default with
//! acks=all) each batch carries a sequence number; retries resend in sequence order, and the
//! broker drops duplicates, so records arrive once and in order.

mod accumulator;
mod config;
mod delivery;
mod idempotence;
mod metrics;
mod partitioner;
#[allow(clippy::module_inception)]
mod producer;
mod record;
mod router;
mod sink;
mod transaction;

pub use config::{Acks, ProducerConfig};
pub use delivery::DeliveryFuture;
pub use metrics::ProducerMetrics;
pub use partitioner::Partitioner;
pub use producer::{Producer, SendError};
pub use record::{Delivery, ProducerRecord};
