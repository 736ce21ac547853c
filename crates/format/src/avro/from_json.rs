//! JSON values turned into Avro values of a schema, in Avro's JSON encoding, with plain
//! values also taken for unions (see the module guide).

use std::collections::HashMap;

use apache_avro::types::Value;
use apache_avro::{Decimal, Schema};
use serde_json::Value as Json;

use super::{branch_name, resolve};
use crate::error::{FormatError, Result};

/// Converts JSON for the schemas whose named types are in `names`.
pub(super) struct Converter<'a> {
    pub names: &'a HashMap<String, Schema>,
}

impl Converter<'_> {
    /// `json` as a value of `schema`; errors name where in `json` it does not fit.
    pub fn value(&self, json: &Json, schema: &Schema) -> Result<Value> {
        self.at(json, schema, &mut String::from("$"))
    }

    fn at(&self, json: &Json, schema: &Schema, path: &mut String) -> Result<Value> {
        let schema = resolve(self.names, schema)?;
        let expected = |what: &str| {
            FormatError::mismatch(path, format!("expected {what}, found {}", describe(json)))
        };
        Ok(match schema {
            Schema::Null => match json {
                Json::Null => Value::Null,
                _ => return Err(expected("null")),
            },
            Schema::Boolean => Value::Boolean(json.as_bool().ok_or_else(|| expected("a boolean"))?),
            Schema::Int => Value::Int(int(json).ok_or_else(|| expected("an int"))?),
            Schema::Date => Value::Date(int(json).ok_or_else(|| expected("an int (date)"))?),
            Schema::TimeMillis => {
                Value::TimeMillis(int(json).ok_or_else(|| expected("an int (time-millis)"))?)
            }
            Schema::Long => Value::Long(json.as_i64().ok_or_else(|| expected("a long"))?),
            Schema::TimeMicros => Value::TimeMicros(long(json, &expected)?),
            Schema::TimestampMillis => Value::TimestampMillis(long(json, &expected)?),
            Schema::TimestampMicros => Value::TimestampMicros(long(json, &expected)?),
            Schema::TimestampNanos => Value::TimestampNanos(long(json, &expected)?),
            Schema::LocalTimestampMillis => Value::LocalTimestampMillis(long(json, &expected)?),
            Schema::LocalTimestampMicros => Value::LocalTimestampMicros(long(json, &expected)?),
            Schema::LocalTimestampNanos => Value::LocalTimestampNanos(long(json, &expected)?),
            Schema::Float => Value::Float(number(json).ok_or_else(|| expected("a float"))? as f32),
            Schema::Double => Value::Double(number(json).ok_or_else(|| expected("a double"))?),
            Schema::String => Value::String(
                json.as_str()
                    .ok_or_else(|| expected("a string"))?
                    .to_string(),
            ),
            Schema::Uuid => {
                let text = json.as_str().ok_or_else(|| expected("a uuid string"))?;
                Value::Uuid(
                    apache_avro::Uuid::parse_str(text).map_err(|_| expected("a uuid string"))?,
                )
            }
            Schema::Bytes => Value::Bytes(latin1(json, path)?),
            Schema::Fixed(fixed) => {
                let bytes = latin1(json, path)?;
                if bytes.len() != fixed.size {
                    return Err(FormatError::mismatch(
                        path,
                        format!(
                            "expected {} bytes (fixed), found {}",
                            fixed.size,
                            bytes.len()
                        ),
                    ));
                }
                Value::Fixed(fixed.size, bytes)
            }
            Schema::Decimal(decimal) => {
                let bytes = latin1(json, path)?;
                if let Schema::Fixed(fixed) = resolve(self.names, &decimal.inner)? {
                    if bytes.len() != fixed.size {
                        return Err(FormatError::mismatch(
                            path,
                            format!(
                                "expected {} bytes (decimal), found {}",
                                fixed.size,
                                bytes.len()
                            ),
                        ));
                    }
                }
                Value::Decimal(Decimal::from(bytes))
            }
            Schema::Duration => {
                let bytes: [u8; 12] = latin1(json, path)?
                    .try_into()
                    .map_err(|_| expected("12 bytes (duration)"))?;
                Value::Duration(apache_avro::Duration::from(bytes))
            }
            Schema::BigDecimal => {
                return Err(FormatError::mismatch(
                    path,
                    "the big-decimal logical type is not supported",
                ))
            }
            Schema::Enum(e) => {
                let symbol = json.as_str().ok_or_else(|| expected("an enum symbol"))?;
                let index = e.symbols.iter().position(|s| s == symbol).ok_or_else(|| {
                    FormatError::mismatch(
                        path,
                        format!("{symbol:?} is not a symbol of {}", e.name.fullname(None)),
                    )
                })?;
                Value::Enum(index as u32, symbol.to_string())
            }
            Schema::Array(array) => {
                let items = json.as_array().ok_or_else(|| expected("an array"))?;
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    out.push(self.at(item, &array.items, path)?);
                    path.truncate(len);
                }
                Value::Array(out)
            }
            Schema::Map(map) => {
                let entries = json
                    .as_object()
                    .ok_or_else(|| expected("an object (map)"))?;
                let mut out = HashMap::with_capacity(entries.len());
                for (key, item) in entries {
                    let len = path.len();
                    push_key(path, key);
                    out.insert(key.clone(), self.at(item, &map.types, path)?);
                    path.truncate(len);
                }
                Value::Map(out)
            }
            Schema::Record(record) => {
                let object = json
                    .as_object()
                    .ok_or_else(|| expected("an object (record)"))?;
                if let Some(unknown) = object.keys().find(|k| !record.lookup.contains_key(*k)) {
                    return Err(FormatError::mismatch(
                        path,
                        format!(
                            "field {unknown:?} is not in record {}",
                            record.name.fullname(None)
                        ),
                    ));
                }
                let mut out = Vec::with_capacity(record.fields.len());
                for field in &record.fields {
                    let len = path.len();
                    push_key(path, &field.name);
                    let value = match (object.get(&field.name), &field.default) {
                        (Some(v), _) => self.at(v, &field.schema, path)?,
                        (None, Some(default)) => self.default(default, &field.schema, path)?,
                        (None, None) => {
                            return Err(FormatError::mismatch(
                                path,
                                "missing, and the schema gives no default",
                            ))
                        }
                    };
                    path.truncate(len);
                    out.push((field.name.clone(), value));
                }
                Value::Record(out)
            }
            Schema::Union(union) => return self.union(json, union.variants(), path),
            Schema::Ref { name } => {
                return Err(FormatError::mismatch(
                    path,
                    format!("type {} names another reference", name.fullname(None)),
                ))
            }
        })
    }

    /// A union value: null, the one-key object naming a branch, or a plain value of the
    /// first branch it fits.
    fn union(&self, json: &Json, branches: &[Schema], path: &mut String) -> Result<Value> {
        let resolved: Vec<&Schema> = branches
            .iter()
            .map(|b| resolve(self.names, b))
            .collect::<Result<_>>()?;
        if json.is_null() {
            if let Some(i) = resolved.iter().position(|b| matches!(b, Schema::Null)) {
                return Ok(Value::Union(i as u32, Box::new(Value::Null)));
            }
        }
        if let Some((name, inner)) = json
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.iter().next())
        {
            if let Some(i) = resolved.iter().position(|b| branch_name(b) == *name) {
                let len = path.len();
                push_key(path, name);
                let value = self.at(inner, resolved[i], path)?;
                path.truncate(len);
                return Ok(Value::Union(i as u32, Box::new(value)));
            }
        }
        for (i, branch) in resolved.iter().enumerate() {
            if matches!(branch, Schema::Null) {
                continue;
            }
            if let Ok(value) = self.at(json, branch, &mut path.clone()) {
                return Ok(Value::Union(i as u32, Box::new(value)));
            }
        }
        let names: Vec<String> = resolved.iter().map(|b| branch_name(b)).collect();
        Err(FormatError::mismatch(
            path,
            format!(
                "{} fits no branch of the union [{}]",
                describe(json),
                names.join(", ")
            ),
        ))
    }

    /// A field's default: Avro's JSON encoding, where a union's default is a plain value of
    /// its first branch.
    fn default(&self, json: &Json, schema: &Schema, path: &mut String) -> Result<Value> {
        match resolve(self.names, schema)? {
            Schema::Union(union) => {
                let first = union
                    .variants()
                    .first()
                    .ok_or_else(|| FormatError::mismatch(path, "the default of an empty union"))?;
                Ok(Value::Union(0, Box::new(self.at(json, first, path)?)))
            }
            other => self.at(json, other, path),
        }
    }
}

fn int(json: &Json) -> Option<i32> {
    json.as_i64().and_then(|i| i32::try_from(i).ok())
}

fn long(json: &Json, expected: &dyn Fn(&str) -> FormatError) -> Result<i64> {
    json.as_i64().ok_or_else(|| expected("a long"))
}

/// A JSON number, or the strings Avro's JSON encoding uses for NaN and the infinities.
pub(super) fn number(json: &Json) -> Option<f64> {
    match json {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// A string of the characters U+0000..U+00FF as the bytes they stand for.
fn latin1(json: &Json, path: &str) -> Result<Vec<u8>> {
    let text = json.as_str().ok_or_else(|| {
        FormatError::mismatch(
            path,
            format!("expected a string of bytes, found {}", describe(json)),
        )
    })?;
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| {
            FormatError::mismatch(
                path,
                "bytes are written as characters U+0000..U+00FF; this string has others",
            )
        })
}

/// `.name`, or `["name"]` when the name is not a plain identifier.
fn push_key(path: &mut String, key: &str) {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        path.push('.');
        path.push_str(key);
    } else {
        path.push_str(&format!("[{key:?}]"));
    }
}

/// What kind of JSON value this is, for errors.
fn describe(json: &Json) -> String {
    match json {
        Json::Null => "null".into(),
        Json::Bool(b) => format!("{b}"),
        Json::Number(n) => format!("the number {n}"),
        Json::String(s) if s.chars().count() > 40 => "a string".into(),
        Json::String(s) => format!("the string {s:?}"),
        Json::Array(_) => "an array".into(),
        Json::Object(_) => "an object".into(),
    }
}
