//! Record formats of kafkit: how keys and values are turned from bytes into JSON and back.
//!
//! - [`wire`]: the Schema Registry wire format (magic byte, schema id, Protobuf message
//!   indexes) that Confluent's serializers and every registry-aware client use.
//! - [`AvroSchema`]: Avro datums to and from JSON, in Avro's JSON encoding, with reader
//!   schemas for evolved data.
//!
//! Errors are one [`FormatError`]; callers add where the bytes came from (topic, partition,
//! offset, or file and line).
#![warn(missing_docs)]

mod avro;
mod error;
pub mod wire;

pub use avro::AvroSchema;
pub use error::{FormatError, Result};
