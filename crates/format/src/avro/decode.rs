//! Avro datums written straight to JSON text, in Avro's JSON encoding, when there is no
//! reader schema to resolve to: the same text [`super::to_json`] writes from apache-avro's
//! decoded values, without building those values (docs/PERFORMANCE.md has the measurement).
//! The datum has been through [`super::scan::check`] first: its item counts fit the bytes
//! and its depth is bounded.

use std::collections::HashMap;
use std::fmt::Write as _;

use apache_avro::Schema;

use super::resolve;
use super::to_json::{float, latin1, string, union_value};
use crate::error::{FormatError, Result};

/// Reads one value of a schema at a time from a datum.
pub(super) struct Decoder<'a> {
    pub names: &'a HashMap<String, Schema>,
    pub input: &'a [u8],
}

impl<'a> Decoder<'a> {
    /// Appends the next value, of `schema`, to `out` as JSON.
    pub fn value(&mut self, schema: &'a Schema, out: &mut String) -> Result<()> {
        let schema = resolve(self.names, schema)?;
        match schema {
            Schema::Null => out.push_str("null"),
            Schema::Boolean => match self.take(1)?[0] {
                0 => out.push_str("false"),
                1 => out.push_str("true"),
                b => return Err(error(format!("{b} is not a boolean"))),
            },
            Schema::Int | Schema::Date | Schema::TimeMillis => {
                let n = self.long()?;
                let n = i32::try_from(n).map_err(|_| error(format!("{n} is not an int")))?;
                let _ = write!(out, "{n}");
            }
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => {
                let n = self.long()?;
                let _ = write!(out, "{n}");
            }
            Schema::Float => {
                let f = f32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes"));
                float(f64::from(f), || format!("{f:?}"), out);
            }
            Schema::Double => {
                let d = f64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"));
                float(d, || format!("{d:?}"), out);
            }
            Schema::Bytes => {
                let b = self.bytes()?;
                latin1(b, out);
            }
            Schema::String => {
                let s = self.text()?;
                string(s, out);
            }
            Schema::Uuid => {
                let s = self.text()?;
                let uuid = apache_avro::Uuid::parse_str(s)
                    .map_err(|e| error(format!("not a uuid: {e}")))?;
                string(&uuid.to_string(), out);
            }
            Schema::Fixed(fixed) => {
                let b = self.take(fixed.size)?;
                latin1(b, out);
            }
            Schema::Duration => {
                let b = self.take(12)?;
                latin1(b, out);
            }
            Schema::Decimal(decimal) => {
                let b = match resolve(self.names, &decimal.inner)? {
                    Schema::Fixed(fixed) => self.take(fixed.size)?,
                    _ => self.bytes()?,
                };
                if b.is_empty() {
                    // No two's-complement digits: not a number (Java's BigInteger refuses it).
                    return Err(error("a decimal of no bytes".into()));
                }
                latin1(b, out);
            }
            Schema::BigDecimal => {
                return Err(error(
                    "the big-decimal logical type is read the slow way".into(),
                ))
            }
            Schema::Enum(e) => {
                let index = self.long()?;
                let symbol = usize::try_from(index)
                    .ok()
                    .and_then(|i| e.symbols.get(i))
                    .ok_or_else(|| error(format!("enum index {index} does not exist")))?;
                string(symbol, out);
            }
            Schema::Union(union) => {
                let index = self.long()?;
                let branch = usize::try_from(index)
                    .ok()
                    .and_then(|i| union.variants().get(i))
                    .ok_or_else(|| error(format!("union branch {index} does not exist")))?;
                let branch = resolve(self.names, branch)?;
                union_value(branch, out, |out| self.value(branch, out))?;
            }
            Schema::Array(array) => {
                out.push('[');
                let mut first = true;
                while let Some(count) = self.block()? {
                    for _ in 0..count {
                        if !first {
                            out.push(',');
                        }
                        first = false;
                        self.value(&array.items, out)?;
                    }
                }
                out.push(']');
            }
            Schema::Map(map) => {
                // Sorted by key, so equal maps print the same.
                let mut entries: Vec<(&str, String)> = Vec::new();
                while let Some(count) = self.block()? {
                    for _ in 0..count {
                        let key = self.text()?;
                        let mut value = String::new();
                        self.value(&map.types, &mut value)?;
                        entries.push((key, value));
                    }
                }
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    string(key, out);
                    out.push(':');
                    out.push_str(value);
                }
                out.push('}');
            }
            Schema::Record(record) => {
                out.push('{');
                for (i, field) in record.fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    string(&field.name, out);
                    out.push(':');
                    self.value(&field.schema, out)?;
                }
                out.push('}');
            }
            Schema::Ref { name } => {
                return Err(error(format!(
                    "type {} names another reference",
                    name.fullname(None)
                )))
            }
        }
        Ok(())
    }

    /// The bytes left, which must be none after the value.
    pub fn left(&self) -> usize {
        self.input.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.input.len() < n {
            return Err(error(format!(
                "the data ends {} bytes short of a value",
                n - self.input.len()
            )));
        }
        let (head, rest) = self.input.split_at(n);
        self.input = rest;
        Ok(head)
    }

    /// A zig-zag varint (Kafka's varlong: the same scheme).
    fn long(&mut self) -> Result<i64> {
        let mut at = 0;
        let n = kafkit_record::varint::read_varlong(self.input, &mut at)
            .map_err(|e| error(format!("a number: {e}")))?;
        self.input = &self.input[at..];
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.long()?;
        let len = usize::try_from(len).map_err(|_| error(format!("a length of {len}")))?;
        self.take(len)
    }

    fn text(&mut self) -> Result<&'a str> {
        let b = self.bytes()?;
        simdutf8::basic::from_utf8(b).map_err(|_| error("a string that is not UTF-8".into()))
    }

    /// The item count of the next block of an array or map; `None` at the end. A negative
    /// count is followed by the block's size in bytes, which is skipped.
    fn block(&mut self) -> Result<Option<u64>> {
        let count = self.long()?;
        if count == 0 {
            return Ok(None);
        }
        if count < 0 {
            self.long()?;
        }
        Ok(Some(count.unsigned_abs()))
    }
}

fn error(message: String) -> FormatError {
    FormatError::Decode {
        kind: "Avro",
        message,
    }
}
