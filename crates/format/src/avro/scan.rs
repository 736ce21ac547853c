//! A walk over an Avro datum that checks it can be decoded within bounds, before
//! apache-avro decodes it: apache-avro 0.21 reserves room for an array's or map's declared
//! item count at once (a 21-byte datum can ask for gigabytes) and recurses without a depth
//! bound. Every item takes at least one byte unless its type takes none (null, an empty
//! record), so a block claiming more items than there are bytes left is refused.

use std::collections::HashMap;

use apache_avro::Schema;

use super::resolve;
use crate::error::{FormatError, Result};

/// Items of a zero-size type (null, an empty record) one array or map may hold.
const MAX_EMPTY_ITEMS: usize = 1 << 20;
/// How deep values may nest (records in records, arrays of arrays).
const MAX_DEPTH: usize = 128;

/// Checks `datum` against `schema`.
pub(super) fn check(names: &HashMap<String, Schema>, schema: &Schema, datum: &[u8]) -> Result<()> {
    let mut scan = Scan {
        names,
        bytes: datum,
        pos: 0,
    };
    scan.value(schema, 0)
}

struct Scan<'a> {
    names: &'a HashMap<String, Schema>,
    bytes: &'a [u8],
    pos: usize,
}

fn damaged(message: String) -> FormatError {
    FormatError::Decode {
        kind: "Avro",
        message,
    }
}

impl Scan<'_> {
    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn skip(&mut self, n: usize) -> Result<()> {
        if n > self.left() {
            return Err(damaged(format!(
                "{n} bytes wanted at byte {}, {} left",
                self.pos,
                self.left()
            )));
        }
        self.pos += n;
        Ok(())
    }

    fn long(&mut self) -> Result<i64> {
        let mut raw: u64 = 0;
        for shift in (0..70).step_by(7) {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(damaged(format!("a number cut short at byte {}", self.pos)));
            };
            self.pos += 1;
            if shift == 63 && b > 1 {
                break;
            }
            raw |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64));
            }
        }
        Err(damaged(format!("a number too long at byte {}", self.pos)))
    }

    fn length(&mut self) -> Result<usize> {
        let at = self.pos;
        let n = self.long()?;
        usize::try_from(n).map_err(|_| damaged(format!("negative length {n} at byte {at}")))
    }

    /// True when values of `schema` may take no bytes at all.
    fn zero_size(&self, schema: &Schema, depth: usize) -> Result<bool> {
        if depth > MAX_DEPTH {
            return Ok(false);
        }
        Ok(match resolve(self.names, schema)? {
            Schema::Null => true,
            Schema::Record(r) => {
                let mut all = true;
                for f in &r.fields {
                    all &= self.zero_size(&f.schema, depth + 1)?;
                }
                all
            }
            Schema::Fixed(f) => f.size == 0,
            _ => false,
        })
    }

    fn value(&mut self, schema: &Schema, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(damaged(format!("values nest deeper than {MAX_DEPTH}")));
        }
        match resolve(self.names, schema)? {
            Schema::Null => Ok(()),
            Schema::Boolean => self.skip(1),
            Schema::Int
            | Schema::Long
            | Schema::Date
            | Schema::TimeMillis
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos
            | Schema::Enum(_) => self.long().map(drop),
            Schema::Float => self.skip(4),
            Schema::Double => self.skip(8),
            Schema::Bytes | Schema::String | Schema::Uuid | Schema::BigDecimal => {
                let n = self.length()?;
                self.skip(n)
            }
            Schema::Fixed(f) => self.skip(f.size),
            Schema::Duration => self.skip(12),
            Schema::Decimal(d) => self.value(&d.inner, depth + 1),
            Schema::Union(u) => {
                let at = self.pos;
                let i = self.long()?;
                let branch = usize::try_from(i)
                    .ok()
                    .and_then(|i| u.variants().get(i))
                    .ok_or_else(|| damaged(format!("union branch {i} at byte {at}")))?;
                self.value(branch, depth + 1)
            }
            Schema::Record(r) => {
                for f in &r.fields {
                    self.value(&f.schema, depth + 1)?;
                }
                Ok(())
            }
            Schema::Array(a) => self.blocks(&a.items, false, depth),
            Schema::Map(m) => self.blocks(&m.types, true, depth),
            Schema::Ref { name } => {
                Err(damaged(format!("unresolved type {}", name.fullname(None))))
            }
        }
    }

    /// The blocks of an array (`keyed`: a map) of `item`s.
    fn blocks(&mut self, item: &Schema, keyed: bool, depth: usize) -> Result<()> {
        let empty = !keyed && self.zero_size(item, 0)?;
        let mut total = 0usize;
        loop {
            let at = self.pos;
            let count = self.long()?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                self.long()?; // the block's size in bytes
            }
            let count = usize::try_from(count.unsigned_abs())
                .map_err(|_| damaged(format!("a block of {count} items at byte {at}")))?;
            total = total.saturating_add(count);
            if (!empty && count > self.left()) || (empty && total > MAX_EMPTY_ITEMS) {
                return Err(damaged(format!(
                    "a block of {count} items at byte {at}, with {} bytes left",
                    self.left()
                )));
            }
            for _ in 0..count {
                if keyed {
                    let n = self.length()?;
                    self.skip(n)?;
                }
                self.value(item, depth + 1)?;
            }
        }
    }
}
