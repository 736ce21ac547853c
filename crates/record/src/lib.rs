//! The Kafka RecordBatch v2 codec of kafkit: the hot path of every produce and fetch.
//!
//! - [`BatchReader`] walks a record set (a Fetch response's bytes, a segment file) batch by
//!   batch; [`RecordBatch::records`] decodes records lazily, sharing the input buffer.
//! - [`BatchBuilder`] writes a batch record by record, then compresses and checksums it.
//! - [`partition_for_key`] is the Java client's murmur2 partitioner; [`crc32c`] the batch CRC.
//!
//! Malformed input is a [`DecodeError`] naming what and where, never a panic, and decoding
//! never allocates more than the input (or [`DecodeOptions::max_decompressed`]) justifies.
#![warn(missing_docs)]

mod batch;
mod compression;
mod crc;
mod error;
mod murmur2;
mod record;
pub mod varint;

pub use batch::{
    set_base_offset, set_producer_state, BatchBuilder, BatchHeader, BatchReader, DecodeOptions,
    RecordBatch, RecordIter, RecordRef, RecordRefIter, TimestampType, BATCH_HEADER_LEN,
    LOG_OVERHEAD,
};
pub use compression::{compress, decompress, Compression};
pub use crc::crc32c;
pub use error::{DecodeError, EncodeError};
pub use murmur2::{murmur2, partition_for_key};
pub use record::{ControlRecord, Header, Record};
