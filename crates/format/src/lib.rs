//! Record formats of kafkit: how keys and values are turned from bytes into JSON and back.
//!
//! - [`wire`]: the Schema Registry wire format (magic byte, schema id, Protobuf message
//!   indexes) that Confluent's serializers and every registry-aware client use.
//! - [`AvroSchema`]: Avro datums to and from JSON, in Avro's JSON encoding, with reader
//!   schemas for evolved data.
//! - [`ProtobufSchema`]: Protobuf messages to and from proto3 JSON, schemas compiled from
//!   `.proto` text at run time, nested messages by their indexes.
//! - [`JsonSchema`]: JSON payloads checked against a JSON Schema.
//!
//! Errors are one [`FormatError`]; callers add where the bytes came from (topic, partition,
//! offset, or file and line).
#![warn(missing_docs)]

mod avro;
mod error;
mod json_schema;
mod json_schema_compat;
mod protobuf;
mod protobuf_compat;
pub mod wire;

pub use avro::AvroSchema;
pub use error::{FormatError, Result};
pub use json_schema::JsonSchema;
pub use protobuf::ProtobufSchema;
