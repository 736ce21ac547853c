//! Avro's binary encoding of the values [`super::from_json`] builds.
//!
//! apache-avro's own writer resolves the schema's names into a new map and validates the
//! value on every datum, and looks record fields up through a map built per record; this
//! one walks the schema once alongside the value, whose fields already come in the schema's
//! order (docs/PERFORMANCE.md has the measurement). Maps are written with their keys sorted,
//! so the same JSON always encodes to the same bytes.

use std::collections::HashMap;

use apache_avro::types::Value;
use apache_avro::Schema;

use super::resolve;
use crate::error::{FormatError, Result};

/// Appends `value`, a value of `schema`, to `out`.
pub(super) fn encode(
    value: &Value,
    schema: &Schema,
    names: &HashMap<String, Schema>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let schema = resolve(names, schema)?;
    match value {
        Value::Null => {}
        Value::Boolean(b) => out.push(u8::from(*b)),
        Value::Int(i) | Value::Date(i) | Value::TimeMillis(i) => long(i64::from(*i), out),
        Value::Long(i)
        | Value::TimeMicros(i)
        | Value::TimestampMillis(i)
        | Value::TimestampMicros(i)
        | Value::TimestampNanos(i)
        | Value::LocalTimestampMillis(i)
        | Value::LocalTimestampMicros(i)
        | Value::LocalTimestampNanos(i) => long(*i, out),
        Value::Float(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Double(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Bytes(b) => match schema {
            Schema::Fixed(_) => out.extend_from_slice(b),
            _ => bytes(b, out),
        },
        Value::String(s) => bytes(s.as_bytes(), out),
        // A uuid logical type is written as its string (as apache-avro reads it back).
        Value::Uuid(u) => bytes(u.to_string().as_bytes(), out),
        Value::Fixed(_, b) => out.extend_from_slice(b),
        Value::Enum(i, _) => long(i64::from(*i), out),
        Value::Decimal(d) => {
            let raw = <Vec<u8>>::try_from(d).map_err(|e| mismatch(e.to_string()))?;
            match schema {
                Schema::Decimal(decimal)
                    if matches!(resolve(names, &decimal.inner)?, Schema::Fixed(_)) =>
                {
                    out.extend_from_slice(&raw)
                }
                _ => bytes(&raw, out),
            }
        }
        Value::Duration(d) => out.extend_from_slice(&<[u8; 12]>::from(*d)),
        Value::Union(index, inner) => {
            let Schema::Union(union) = schema else {
                return Err(mismatch("a union value for a schema that is not a union"));
            };
            let branch = union
                .variants()
                .get(*index as usize)
                .ok_or_else(|| mismatch("a union branch the schema does not have"))?;
            long(i64::from(*index), out);
            encode(inner, branch, names, out)?;
        }
        Value::Array(items) => {
            let Schema::Array(array) = schema else {
                return Err(mismatch("an array for a schema that is not an array"));
            };
            if !items.is_empty() {
                long(items.len() as i64, out);
                for item in items {
                    encode(item, &array.items, names, out)?;
                }
            }
            out.push(0);
        }
        Value::Map(entries) => {
            let Schema::Map(map) = schema else {
                return Err(mismatch("a map for a schema that is not a map"));
            };
            if !entries.is_empty() {
                long(entries.len() as i64, out);
                let mut keys: Vec<&String> = entries.keys().collect();
                keys.sort_unstable();
                for key in keys {
                    bytes(key.as_bytes(), out);
                    encode(&entries[key], &map.types, names, out)?;
                }
            }
            out.push(0);
        }
        Value::Record(fields) => {
            let Schema::Record(record) = schema else {
                return Err(mismatch("a record for a schema that is not a record"));
            };
            if fields.len() != record.fields.len() {
                return Err(mismatch("a record whose fields are not the schema's"));
            }
            for ((name, field_value), field) in fields.iter().zip(&record.fields) {
                if *name != field.name {
                    return Err(mismatch(
                        "a record whose fields are not in the schema's order",
                    ));
                }
                encode(field_value, &field.schema, names, out)?;
            }
        }
        Value::BigDecimal(_) => {
            return Err(mismatch("the big-decimal logical type is not supported"));
        }
    }
    Ok(())
}

/// A zig-zag varint, as Avro writes `int` and `long` (Kafka's varlong: the same scheme).
pub(super) fn long(n: i64, out: &mut Vec<u8>) {
    kafkit_record::varint::put_varlong(out, n);
}

/// Length-prefixed bytes, as Avro writes `bytes` and `string`.
pub(super) fn bytes(b: &[u8], out: &mut Vec<u8>) {
    long(b.len() as i64, out);
    out.extend_from_slice(b);
}

/// A value the converter should not have built (a bug here, not bad input).
fn mismatch(message: impl Into<String>) -> FormatError {
    FormatError::mismatch("$", format!("cannot encode: {}", message.into()))
}
