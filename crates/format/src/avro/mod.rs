//! Avro values to and from JSON, in Avro's JSON encoding.
//!
//! JSON cannot tell every Avro value apart, so where it is ambiguous this module follows the
//! Avro specification's JSON encoding, as `kafka-avro-console-consumer` and kcat print it:
//! - a union value other than null is an object with one key, the branch's type name
//!   (`{"string": "x"}`, `{"com.example.Address": {...}}`); null is `null`;
//! - `bytes` and `fixed` are strings whose characters U+0000..U+00FF are the bytes;
//! - logical types are their underlying type (a `timestamp-millis` is a long, a `decimal`
//!   its two's-complement bytes), a `uuid` its string;
//! - NaN and infinities of `float` and `double` are the strings `"NaN"`, `"Infinity"`,
//!   `"-Infinity"`.
//!
//! Reading JSON to encode, a union also takes a plain value: the first branch it fits.
//! A record field missing from the JSON takes its schema default.
//!
//! ```
//! use kafkit_format::AvroSchema;
//!
//! let schema = AvroSchema::parse(r#"{"type": "record", "name": "Point", "fields": [
//!     {"name": "x", "type": "int"},
//!     {"name": "label", "type": ["null", "string"], "default": null}
//! ]}"#).unwrap();
//! let datum = schema.encode_json(r#"{"x": 3, "label": "p"}"#).unwrap();
//! assert_eq!(datum, [6, 2, 2, b'p']); // zig-zag 3; union branch 1; length 1; "p"
//! let mut json = String::new();
//! schema.decode_json(&datum, None, &mut json).unwrap();
//! assert_eq!(json, r#"{"x":3,"label":{"string":"p"}}"#);
//! ```

mod decode;
mod direct_encode;
mod encode;
mod from_json;
mod scan;
mod to_json;

use std::collections::HashMap;

use apache_avro::Schema;

use crate::error::{FormatError, Result};

/// A parsed Avro schema, with the schemas it references, ready to encode and decode.
#[derive(Debug, Clone)]
pub struct AvroSchema {
    schema: Schema,
    references: Vec<Schema>,
    /// Every named type (record, enum, fixed) by full name, for `Schema::Ref`s.
    names: HashMap<String, Schema>,
    /// Whether datums decode straight to JSON (`decode`); apache-avro's decoder is kept for
    /// reader schemas and the big-decimal type.
    direct_decode: bool,
}

impl AvroSchema {
    /// Parses a schema's JSON text.
    pub fn parse(text: &str) -> Result<AvroSchema> {
        Self::parse_with_references(text, &[])
    }

    /// Parses a schema whose named types may come from `references` (the texts of the
    /// schemas it references, as the Schema Registry keeps them).
    pub fn parse_with_references(text: &str, references: &[&str]) -> Result<AvroSchema> {
        let (schema, references) = if references.is_empty() {
            (Schema::parse_str(text).map_err(schema_error)?, Vec::new())
        } else {
            Schema::parse_str_with_list(text, references).map_err(schema_error)?
        };
        let mut names = HashMap::new();
        for s in references.iter().chain(std::iter::once(&schema)) {
            collect_names(s, &mut names);
        }
        let mentions_big_decimal = references
            .iter()
            .chain(std::iter::once(&schema))
            .any(|s| serde_json::to_string(s).is_ok_and(|t| t.contains("big-decimal")));
        Ok(AvroSchema {
            schema,
            references,
            names,
            direct_decode: !mentions_big_decimal,
        })
    }

    /// The parsed schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The schema in Avro's Parsing Canonical Form (what decides whether two texts are the
    /// same schema).
    pub fn canonical_form(&self) -> String {
        self.schema.canonical_form()
    }

    /// Encodes the JSON text `json` as an Avro datum (no header, no wire format).
    pub fn encode_json(&self, json: &str) -> Result<Vec<u8>> {
        let value: serde_json::Value = serde_json::from_str(json)?;
        self.encode_value(&value)
    }

    /// Encodes a JSON value as an Avro datum.
    pub fn encode_value(&self, json: &serde_json::Value) -> Result<Vec<u8>> {
        let mut datum = Vec::with_capacity(64);
        let direct = direct_encode::DirectEncoder { names: &self.names };
        if direct.encode(json, &self.schema, &mut datum).is_some() {
            return Ok(datum);
        }
        datum.clear();
        let value = from_json::Converter { names: &self.names }.value(json, &self.schema)?;
        encode::encode(&value, &self.schema, &self.names, &mut datum)?;
        Ok(datum)
    }

    /// Decodes `datum`, written with this schema, and appends it to `out` as JSON. With a
    /// `reader` schema the value is first resolved to it (an evolved schema: fields added
    /// with defaults, fields removed, promoted types).
    pub fn decode_json(
        &self,
        datum: &[u8],
        reader: Option<&AvroSchema>,
        out: &mut String,
    ) -> Result<()> {
        scan::check(&self.names, &self.schema, datum)?;
        if reader.is_none() && self.direct_decode {
            let at = out.len();
            let mut decoder = decode::Decoder {
                names: &self.names,
                input: datum,
            };
            let decoded = decoder
                .value(&self.schema, out)
                .and_then(|()| match decoder.left() {
                    0 => Ok(()),
                    left => Err(FormatError::Decode {
                        kind: "Avro",
                        message: format!("{left} bytes left over after the value"),
                    }),
                });
            if decoded.is_err() {
                out.truncate(at);
            }
            return decoded;
        }
        let mut input = datum;
        let writer_refs: Vec<&Schema> = self.references.iter().collect();
        let value = match reader {
            None if writer_refs.is_empty() => {
                apache_avro::from_avro_datum(&self.schema, &mut input, None)
            }
            None => {
                apache_avro::from_avro_datum_schemata(&self.schema, writer_refs, &mut input, None)
            }
            Some(r) => apache_avro::from_avro_datum_reader_schemata(
                &self.schema,
                writer_refs,
                &mut input,
                Some(&r.schema),
                r.references.iter().collect(),
            ),
        }
        .map_err(|e| FormatError::Decode {
            kind: "Avro",
            message: e.to_string(),
        })?;
        if !input.is_empty() {
            return Err(FormatError::Decode {
                kind: "Avro",
                message: format!("{} bytes left over after the value", input.len()),
            });
        }
        let shape = reader.unwrap_or(self);
        to_json::Writer {
            names: &shape.names,
        }
        .value(&value, &shape.schema, out)
    }
}

fn schema_error(e: apache_avro::Error) -> FormatError {
    FormatError::Schema {
        kind: "Avro",
        message: e.to_string(),
    }
}

/// Adds every named type of `schema` to `names`.
fn collect_names(schema: &Schema, names: &mut HashMap<String, Schema>) {
    match schema {
        Schema::Record(r) => {
            names.insert(r.name.fullname(None), schema.clone());
            for f in &r.fields {
                collect_names(&f.schema, names);
            }
        }
        Schema::Enum(e) => {
            names.insert(e.name.fullname(None), schema.clone());
        }
        Schema::Fixed(f) => {
            names.insert(f.name.fullname(None), schema.clone());
        }
        Schema::Array(a) => collect_names(&a.items, names),
        Schema::Map(m) => collect_names(&m.types, names),
        Schema::Union(u) => {
            for v in u.variants() {
                collect_names(v, names);
            }
        }
        Schema::Decimal(d) => collect_names(&d.inner, names),
        _ => {}
    }
}

/// `schema` with a reference replaced by the named type it names.
fn resolve<'a>(names: &'a HashMap<String, Schema>, schema: &'a Schema) -> Result<&'a Schema> {
    match schema {
        Schema::Ref { name } => {
            names
                .get(&name.fullname(None))
                .ok_or_else(|| FormatError::Schema {
                    kind: "Avro",
                    message: format!("unknown type {}", name.fullname(None)),
                })
        }
        other => Ok(other),
    }
}

/// The name a union branch of this type has in Avro's JSON encoding: the full name of a
/// named type, else the (underlying) primitive or complex type's name.
fn branch_name(schema: &Schema) -> String {
    match schema {
        Schema::Null => "null".into(),
        Schema::Boolean => "boolean".into(),
        Schema::Int | Schema::Date | Schema::TimeMillis => "int".into(),
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => "long".into(),
        Schema::Float => "float".into(),
        Schema::Double => "double".into(),
        Schema::Bytes | Schema::BigDecimal => "bytes".into(),
        Schema::String | Schema::Uuid => "string".into(),
        Schema::Array(_) => "array".into(),
        Schema::Map(_) => "map".into(),
        Schema::Record(r) => r.name.fullname(None),
        Schema::Enum(e) => e.name.fullname(None),
        Schema::Fixed(f) => f.name.fullname(None),
        Schema::Decimal(d) => branch_name(&d.inner),
        Schema::Duration => "fixed".into(),
        Schema::Union(_) => "union".into(), // not allowed directly inside a union
        Schema::Ref { name } => name.fullname(None),
    }
}

#[cfg(test)]
mod tests;
