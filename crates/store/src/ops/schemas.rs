//! Keys and values typed by a schema (Avro, Protobuf, JSON Schema in the Schema Registry
//! wire format): a [`RecordFormat`] says how each side is shown as JSON, and for the
//! schema types which [`Schemas`] know the schemas.
//!
//! The store does not know registries: [`Schemas`] is implemented by `kafkit-registry`
//! (a registry server, or the registry a local storage keeps in its `_schemas` topic).
//! Schemas are fetched before a batch is shown ([`RecordFormat::prepare`]), so showing a
//! record is synchronous and fast.
//!
//! ```
//! use kafkit_store::ops::json::DataType;
//! use kafkit_store::ops::schemas::RecordFormat;
//! let plain = RecordFormat::new(DataType::Str, DataType::Json);
//! assert!(!plain.uses_schemas());
//! assert!(RecordFormat::new(DataType::Str, DataType::Avro).uses_schemas());
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::json::{decode_data, encode_data, DataType};
use crate::types::ConsumerRecord;

/// Which part of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The key.
    Key,
    /// The value.
    Value,
}

impl Side {
    /// `key` or `value`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Key => "key",
            Side::Value => "value",
        }
    }
}

/// What [`Schemas::load`] and [`Schemas::import`] return.
pub type LoadFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// What [`Schemas::export`] returns: a schema as one registry hands it to another (its
/// shape is the registry's business).
pub type ExportFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, String>> + Send + 'a>>;

/// Knows schemas by id (fetched from a registry on [`load`](Schemas::load)), and the schema
/// each side is written with.
pub trait Schemas: Send + Sync + fmt::Debug {
    /// Makes every schema `ids` name ready for [`decode`](Schemas::decode), fetching what is
    /// missing; `Err` names the id that could not be had, and why.
    fn load<'a>(&'a self, ids: &'a BTreeSet<i32>) -> LoadFuture<'a>;

    /// Appends `payload` (in the wire format) decoded as `ty` to `out` as JSON text; returns
    /// the schema id it was decoded with. The schema must have been loaded.
    fn decode(&self, ty: DataType, payload: &[u8], out: &mut Vec<u8>) -> Result<i32, String>;

    /// `json` encoded in the wire format with the schema `side` is written with.
    fn encode(&self, side: Side, ty: DataType, json: &Value) -> Result<Vec<u8>, String>;

    /// The schema with `id`, with what it references and the subjects that hold it, for
    /// another registry to [`import`](Schemas::import).
    fn export<'a>(&'a self, id: i32) -> ExportFuture<'a>;

    /// Registers the schemas `ids` name in `from` here, under the subjects they have there,
    /// remembering the id each gets here ([`imported_id`](Schemas::imported_id)).
    fn import<'a>(&'a self, from: &'a dyn Schemas, ids: &'a BTreeSet<i32>) -> LoadFuture<'a>;

    /// The id here of the schema imported as `id`.
    fn imported_id(&self, id: i32) -> Option<i32>;
}

/// How keys and values are shown as JSON, and the schemas of the schema types.
#[derive(Clone, Debug, Default)]
pub struct RecordFormat {
    /// How keys are shown.
    pub key: DataType,
    /// How values are shown.
    pub value: DataType,
    /// The schemas behind the schema types (`None`: no registry).
    pub schemas: Option<Arc<dyn Schemas>>,
}

impl PartialEq for RecordFormat {
    fn eq(&self, other: &Self) -> bool {
        let same_schemas = match (&self.schemas, &other.schemas) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        self.key == other.key && self.value == other.value && same_schemas
    }
}

impl RecordFormat {
    /// Whether the key and value types are the same as `other`'s (the schemas may differ).
    pub fn same_types(&self, other: &RecordFormat) -> bool {
        self.key == other.key && self.value == other.value
    }

    /// Keys and values shown as these types, with no registry.
    pub fn new(key: DataType, value: DataType) -> RecordFormat {
        RecordFormat {
            key,
            value,
            schemas: None,
        }
    }

    /// The same types, with these schemas.
    pub fn with_schemas(mut self, schemas: Arc<dyn Schemas>) -> RecordFormat {
        self.schemas = Some(schemas);
        self
    }

    /// Whether a side is typed by a schema.
    pub fn uses_schemas(&self) -> bool {
        self.key.is_schema() || self.value.is_schema()
    }

    pub(crate) fn side_type(&self, side: Side) -> DataType {
        match side {
            Side::Key => self.key,
            Side::Value => self.value,
        }
    }

    fn schemas(&self, side: Side) -> Result<&dyn Schemas, String> {
        self.schemas.as_deref().ok_or_else(|| {
            format!(
                "{} type {} needs a schema registry (-X schema.registry.url=URL, the config's \
                 schema_registry section, or a local storage)",
                side.name(),
                self.side_type(side).name()
            )
        })
    }

    /// Fetches the schemas the schema-typed sides of `records` name, so they can be shown.
    /// Payloads not in the wire format are left for showing to report.
    pub async fn prepare(&self, records: &[ConsumerRecord]) -> Result<(), String> {
        if !self.uses_schemas() {
            return Ok(());
        }
        let mut ids = BTreeSet::new();
        for (side, ty) in [(Side::Key, self.key), (Side::Value, self.value)] {
            if !ty.is_schema() {
                continue;
            }
            self.schemas(side)?;
            for r in records {
                let bytes = match side {
                    Side::Key => r.key.as_deref(),
                    Side::Value => r.value.as_deref(),
                };
                if let Some(id) = bytes.and_then(schema_id) {
                    ids.insert(id);
                }
            }
        }
        match (&self.schemas, ids.is_empty()) {
            (Some(s), false) => s.load(&ids).await,
            _ => Ok(()),
        }
    }

    /// `bytes` of `side` as JSON, and the schema id it was decoded with.
    pub(crate) fn show(
        &self,
        side: Side,
        bytes: Option<&[u8]>,
    ) -> Result<(Value, Option<i32>), String> {
        let ty = self.side_type(side);
        match bytes {
            Some(b) if ty.is_schema() => {
                let mut text = Vec::new();
                let id = self.schemas(side)?.decode(ty, b, &mut text)?;
                let value = serde_json::from_slice(&text).map_err(|e| e.to_string())?;
                Ok((value, Some(id)))
            }
            _ => Ok((encode_data(bytes, ty)?, None)),
        }
    }

    /// Appends `bytes` of `side` as JSON text to `out` (a schema type: decoded and the
    /// schema id returned); the caller writes the plain types.
    pub(crate) fn write_schema_typed(
        &self,
        side: Side,
        bytes: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<i32, String> {
        self.schemas(side)?.decode(self.side_type(side), bytes, out)
    }

    /// The bytes a JSON key or value stands for: encoded with its side's schema for the
    /// schema types (a `{"base64": ...}` marker is taken as the bytes themselves).
    pub(crate) fn bytes_of(&self, side: Side, v: &Value) -> Result<Option<Bytes>, String> {
        let ty = self.side_type(side);
        let is_marker = matches!(v, Value::Object(m) if m.len() == 1 && m.contains_key("base64"));
        if !ty.is_schema() || v.is_null() || is_marker {
            return decode_data(v, ty);
        }
        let bytes = self.schemas(side)?.encode(side, ty, v)?;
        Ok(Some(Bytes::from(bytes)))
    }
}

/// Schema ids carried from a copy's source registry to its target's: schema-typed sides
/// of the same type at both ends, with registries of their own. The records are copied as
/// they are but for the schema id in their wire format, which becomes the id the target's
/// registry gave the imported schema.
pub(crate) struct Carry<'a> {
    from: &'a dyn Schemas,
    into: &'a dyn Schemas,
    key: bool,
    value: bool,
}

impl<'a> Carry<'a> {
    /// What a copy from `source` to `target` format carries, if anything.
    pub(crate) fn between(source: &'a RecordFormat, target: &'a RecordFormat) -> Option<Carry<'a>> {
        let (from, into) = (source.schemas.as_deref()?, target.schemas.as_deref()?);
        let same = std::ptr::addr_eq(from as *const dyn Schemas, into as *const dyn Schemas);
        let key = source.key.is_schema() && source.key == target.key;
        let value = source.value.is_schema() && source.value == target.value;
        (!same && (key || value)).then_some(Carry {
            from,
            into,
            key,
            value,
        })
    }

    fn carries(&self, side: Side) -> bool {
        match side {
            Side::Key => self.key,
            Side::Value => self.value,
        }
    }

    /// Imports the schemas `records` name into the target's registry.
    pub(crate) async fn prepare(&self, records: &[ConsumerRecord]) -> Result<(), String> {
        let mut ids = BTreeSet::new();
        for r in records {
            for (side, bytes) in [(Side::Key, &r.key), (Side::Value, &r.value)] {
                if let (true, Some(id)) = (self.carries(side), bytes.as_deref().and_then(schema_id))
                {
                    ids.insert(id);
                }
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        self.into.import(self.from, &ids).await
    }

    /// `bytes` of `side` with the schema id the target's registry gave their schema
    /// (payloads not in the wire format are left as they are).
    pub(crate) fn rewrite(&self, side: Side, bytes: Option<Bytes>) -> Option<Bytes> {
        let b = bytes?;
        let Some(id) = schema_id(&b).filter(|_| self.carries(side)) else {
            return Some(b);
        };
        match self.into.imported_id(id) {
            Some(new) if new != id => {
                let mut out = Vec::with_capacity(b.len());
                out.push(0);
                out.extend_from_slice(&new.to_be_bytes());
                out.extend_from_slice(&b[5..]);
                Some(Bytes::from(out))
            }
            _ => Some(b),
        }
    }
}

/// The schema id of a payload in the wire format (magic byte 0, a 4-byte big-endian id).
pub fn schema_id(payload: &[u8]) -> Option<i32> {
    match payload {
        [0, a, b, c, d, ..] => Some(i32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_ids_are_read_from_the_wire_header() {
        assert_eq!(schema_id(&[0, 0, 0, 1, 2, 9]), Some(258));
        assert_eq!(schema_id(&[0, 0, 0, 1]), None);
        assert_eq!(schema_id(b"{\"a\":1}"), None);
    }

    #[test]
    fn a_schema_type_without_a_registry_says_what_is_missing() {
        let f = RecordFormat::new(DataType::Str, DataType::Avro);
        let e = f.show(Side::Value, Some(&[0, 0, 0, 0, 1, 2])).unwrap_err();
        assert!(e.contains("value type avro needs a schema registry"), "{e}");
        let e = f
            .bytes_of(Side::Value, &serde_json::json!({"a": 1}))
            .unwrap_err();
        assert!(e.contains("needs a schema registry"), "{e}");
        let raw = f
            .bytes_of(Side::Value, &serde_json::json!({"base64": "AAAAAAE="}))
            .unwrap();
        assert_eq!(raw.as_deref(), Some(&[0u8, 0, 0, 0, 1][..]));
    }
}
