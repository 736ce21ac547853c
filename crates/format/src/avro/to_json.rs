//! Decoded Avro values written as JSON text, in Avro's JSON encoding (see the module guide).

use std::collections::HashMap;
use std::fmt::Write as _;

use apache_avro::types::Value;
use apache_avro::Schema;

use super::{branch_name, resolve};
use crate::error::{FormatError, Result};

/// Writes values of the schemas whose named types are in `names`.
pub(super) struct Writer<'a> {
    pub names: &'a HashMap<String, Schema>,
}

impl Writer<'_> {
    /// Appends `value`, of `schema`, to `out`.
    pub fn value(&self, value: &Value, schema: &Schema, out: &mut String) -> Result<()> {
        let schema = resolve(self.names, schema)?;
        // Each value is checked against its schema: apache-avro 0.21 decodes a string or
        // bytes cut short by the end of the data as null instead of failing.
        match (value, schema) {
            (Value::Null, Schema::Null) => out.push_str("null"),
            (Value::Boolean(b), Schema::Boolean) => out.push_str(if *b { "true" } else { "false" }),
            (Value::Int(i), Schema::Int)
            | (Value::Date(i), Schema::Date)
            | (Value::TimeMillis(i), Schema::TimeMillis) => {
                let _ = write!(out, "{i}");
            }
            (Value::Long(i), Schema::Long)
            | (Value::TimeMicros(i), Schema::TimeMicros)
            | (Value::TimestampMillis(i), Schema::TimestampMillis)
            | (Value::TimestampMicros(i), Schema::TimestampMicros)
            | (Value::TimestampNanos(i), Schema::TimestampNanos)
            | (Value::LocalTimestampMillis(i), Schema::LocalTimestampMillis)
            | (Value::LocalTimestampMicros(i), Schema::LocalTimestampMicros)
            | (Value::LocalTimestampNanos(i), Schema::LocalTimestampNanos) => {
                let _ = write!(out, "{i}");
            }
            (Value::Float(f), Schema::Float) => float(f64::from(*f), || format!("{f:?}"), out),
            (Value::Double(d), Schema::Double) => float(*d, || format!("{d:?}"), out),
            (Value::Bytes(b), Schema::Bytes) | (Value::Fixed(_, b), Schema::Fixed(_)) => {
                latin1(b, out)
            }
            (Value::String(s), Schema::String) | (Value::Enum(_, s), Schema::Enum(_)) => {
                string(s, out)
            }
            (Value::Uuid(u), Schema::Uuid) => string(&u.to_string(), out),
            (Value::Decimal(d), Schema::Decimal(_)) => {
                let bytes = Vec::<u8>::try_from(d).map_err(|e| decode_error(e.to_string()))?;
                latin1(&bytes, out);
            }
            (Value::BigDecimal(d), Schema::BigDecimal) => string(&d.to_string(), out),
            (Value::Duration(d), Schema::Duration) => latin1(&<[u8; 12]>::from(*d), out),
            (Value::Union(index, inner), Schema::Union(union)) => {
                let branch = union
                    .variants()
                    .get(*index as usize)
                    .ok_or_else(|| decode_error(format!("union branch {index} does not exist")))?;
                let branch = resolve(self.names, branch)?;
                union_value(branch, out, |out| self.value(inner, branch, out))?;
            }
            (Value::Array(items), Schema::Array(array)) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.value(item, &array.items, out)?;
                }
                out.push(']');
            }
            (Value::Map(entries), Schema::Map(map)) => {
                // Sorted, so equal maps print the same.
                let mut keys: Vec<&String> = entries.keys().collect();
                keys.sort_unstable();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    string(key, out);
                    out.push(':');
                    self.value(&entries[key], &map.types, out)?;
                }
                out.push('}');
            }
            (Value::Record(fields), Schema::Record(record)) => {
                out.push('{');
                for (i, (name, field_value)) in fields.iter().enumerate() {
                    let field = record
                        .lookup
                        .get(name)
                        .and_then(|&at| record.fields.get(at))
                        .ok_or_else(|| {
                            decode_error(format!("field {name} is not in the schema"))
                        })?;
                    if i > 0 {
                        out.push(',');
                    }
                    string(name, out);
                    out.push(':');
                    self.value(field_value, &field.schema, out)?;
                }
                out.push('}');
            }
            (value, schema) => {
                return Err(decode_error(format!(
                    "found {} where the schema has {} (data cut short?)",
                    kind(value),
                    branch_name(schema)
                )))
            }
        }
        Ok(())
    }
}

/// The kind of a decoded value, for errors (never the value itself: it may be secret).
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "a boolean",
        Value::Int(_) | Value::Date(_) | Value::TimeMillis(_) => "an int",
        Value::Float(_) | Value::Double(_) => "a floating-point number",
        Value::Bytes(_) | Value::Fixed(..) | Value::Duration(_) => "bytes",
        Value::String(_) | Value::Uuid(_) => "a string",
        Value::Enum(..) => "an enum symbol",
        Value::Union(..) => "a union",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
        Value::Record(_) => "a record",
        Value::Decimal(_) | Value::BigDecimal(_) => "a decimal",
        _ => "a long",
    }
}

fn decode_error(message: String) -> FormatError {
    FormatError::Decode {
        kind: "Avro",
        message,
    }
}

/// A finite number as JSON; NaN and the infinities as Avro's JSON encoding spells them.
pub(super) fn float(value: f64, shortest: impl FnOnce() -> String, out: &mut String) {
    if value.is_nan() {
        out.push_str("\"NaN\"");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
    } else {
        // Rust's Debug form: the shortest digits that read back as the same number, with
        // ".0" on whole numbers (3.0 stays a float) and an exponent for very large or small
        // ones (1e300): valid JSON either way.
        out.push_str(&shortest());
    }
}

/// A union's value in Avro's JSON encoding: `null`, or `{"<branch name>": value}` with the
/// value written by `value`.
pub(super) fn union_value(
    branch: &Schema,
    out: &mut String,
    value: impl FnOnce(&mut String) -> Result<()>,
) -> Result<()> {
    if matches!(branch, Schema::Null) {
        out.push_str("null");
        return Ok(());
    }
    out.push('{');
    string(&branch_name(branch), out);
    out.push(':');
    value(out)?;
    out.push('}');
    Ok(())
}

/// A JSON string.
pub(super) fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Bytes as a JSON string of the characters U+0000..U+00FF.
pub(super) fn latin1(bytes: &[u8], out: &mut String) {
    let text: String = bytes.iter().map(|&b| char::from(b)).collect();
    string(&text, out);
}
