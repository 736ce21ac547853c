//! Avro object container files (.avro), through apache-avro: one record per row, each column a
//! nullable field (`["null", boolean | long | double | string]`, `timestamp` a
//! `timestamp-millis` long in a record's shape). Column names that Avro does not allow as
//! field names are changed (`value.a` becomes `value_a`), the originals kept in the file's
//! metadata (`kafkit.columns`: field name → column name), which reading takes back. A column
//! mixing kinds is a string field of JSON text cells, listed in `kafkit.cells`.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use apache_avro::types::Value as Avro;
use serde_json::{json, Value};

use crate::columns::{as_text, from_json_cell, json_cell, ColumnType, JSON_CELLS};
use crate::rows::Row;
use crate::sink::RowChunks;
use crate::spill::SpillRows;
use crate::FileError;

/// A column name as an Avro name: `[A-Za-z_][A-Za-z0-9_]*`.
fn avro_name(name: &str, taken: &mut std::collections::HashSet<String>) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    let base = out.clone();
    let mut n = 1;
    while !taken.insert(out.clone()) {
        n += 1;
        out = format!("{base}_{n}");
    }
    out
}

/// Writes the spilled rows as an Avro container file (deflate-compressed blocks).
pub fn write_avro(path: &Path, mut rows: SpillRows, metadata: bool) -> Result<(), FileError> {
    let err = |e: apache_avro::Error| FileError::Format(format!("{}: {e}", path.display()));
    let mut taken = std::collections::HashSet::new();
    let columns: Vec<(String, String, ColumnType)> = rows
        .columns
        .iter()
        .map(|(n, t)| (n.to_string(), avro_name(n, &mut taken), t))
        .collect();
    let fields: Vec<Value> = columns
        .iter()
        .map(|(name, field, t)| {
            let ty = match (name.as_str(), t) {
                ("timestamp", ColumnType::Int) if metadata => {
                    json!({"type": "long", "logicalType": "timestamp-millis"})
                }
                (_, ColumnType::Bool) => json!("boolean"),
                (_, ColumnType::Int) => json!("long"),
                (_, ColumnType::Float) => json!("double"),
                _ => json!("string"),
            };
            json!({"name": field, "type": ["null", ty], "default": null})
        })
        .collect();
    let schema_json =
        json!({"type": "record", "name": "Row", "namespace": "kafkit", "fields": fields});
    let schema = apache_avro::Schema::parse(&schema_json).map_err(err)?;
    let file = File::create(path).map_err(|e| FileError::io(path, e))?;
    let mut writer = apache_avro::Writer::with_codec(
        &schema,
        BufWriter::with_capacity(1 << 20, file),
        apache_avro::Codec::Deflate(apache_avro::DeflateSettings::default()),
    );
    let renamed: serde_json::Map<String, Value> = columns
        .iter()
        .filter(|(name, field, _)| name != field)
        .map(|(name, field, _)| (field.clone(), json!(name)))
        .collect();
    writer
        .add_user_metadata("kafkit.columns".into(), Value::Object(renamed).to_string())
        .map_err(err)?;
    let json_fields: Vec<&str> = columns
        .iter()
        .filter(|(_, _, t)| *t == ColumnType::Mixed)
        .map(|(_, field, _)| field.as_str())
        .collect();
    writer
        .add_user_metadata(JSON_CELLS.into(), json!(json_fields).to_string())
        .map_err(err)?;
    while let Some(row) = rows.next_row()? {
        let values: Vec<(String, Avro)> = columns
            .iter()
            .zip(row)
            .map(|((name, field, t), v)| {
                let inner = match (v, t) {
                    (Value::Null, _) => None,
                    (v, ColumnType::Bool) => v.as_bool().map(Avro::Boolean),
                    (v, ColumnType::Int) if metadata && name == "timestamp" => {
                        v.as_i64().map(Avro::TimestampMillis)
                    }
                    (v, ColumnType::Int) => v.as_i64().map(Avro::Long),
                    (v, ColumnType::Float) => v.as_f64().map(Avro::Double),
                    (v, ColumnType::Mixed) => json_cell(&v).map(Avro::String),
                    (v, _) => as_text(&v).map(Avro::String),
                };
                let union = match inner {
                    Some(x) => Avro::Union(1, Box::new(x)),
                    None => Avro::Union(0, Box::new(Avro::Null)),
                };
                (field.clone(), union)
            })
            .collect();
        writer.append(Avro::Record(values)).map_err(err)?;
    }
    let mut out = writer.into_inner().map_err(err)?;
    out.flush().map_err(|e| FileError::io(path, e))
}

/// An Avro value as JSON (records as objects, unions as their value, bytes as the
/// `{"base64": ...}` marker, times as their numbers).
fn to_json(v: Avro) -> Value {
    use base64_marker::marker;
    match v {
        Avro::Null => Value::Null,
        Avro::Boolean(b) => Value::Bool(b),
        Avro::Int(i) | Avro::Date(i) | Avro::TimeMillis(i) => Value::from(i),
        Avro::Long(l)
        | Avro::TimeMicros(l)
        | Avro::TimestampMillis(l)
        | Avro::TimestampMicros(l)
        | Avro::TimestampNanos(l)
        | Avro::LocalTimestampMillis(l)
        | Avro::LocalTimestampMicros(l)
        | Avro::LocalTimestampNanos(l) => Value::from(l),
        Avro::Float(f) => {
            serde_json::Number::from_f64(f64::from(f)).map_or(Value::Null, Value::Number)
        }
        Avro::Double(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        Avro::String(s) | Avro::Enum(_, s) => Value::String(s),
        Avro::Uuid(u) => Value::String(u.to_string()),
        Avro::Bytes(b) | Avro::Fixed(_, b) => marker(&b),
        Avro::Union(_, inner) => to_json(*inner),
        Avro::Array(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Avro::Map(m) => Value::Object(m.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
        Avro::Record(fields) => {
            Value::Object(fields.into_iter().map(|(k, v)| (k, to_json(v))).collect())
        }
        other => Value::String(format!("{other:?}")),
    }
}

mod base64_marker {
    use serde_json::{json, Value};

    /// Bytes as kafkit's `{"base64": ...}` marker.
    pub fn marker(b: &[u8]) -> Value {
        use base64::Engine;
        json!({"base64": base64::engine::general_purpose::STANDARD.encode(b)})
    }
}

/// Reads an Avro container file: each datum a row (a record's fields its columns, the
/// names `kafkit.columns` recorded taken back; any other datum the one column `value`).
pub fn read_avro(
    path: &Path,
    sink: &mut dyn FnMut(Vec<Row>) -> Result<(), FileError>,
) -> Result<(), FileError> {
    let err = |e: apache_avro::Error| FileError::Format(format!("{}: {e}", path.display()));
    let file = File::open(path).map_err(|e| FileError::io(path, e))?;
    let reader = apache_avro::Reader::new(BufReader::with_capacity(1 << 20, file)).map_err(err)?;
    let renamed: std::collections::HashMap<String, String> = reader
        .user_metadata()
        .get("kafkit.columns")
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default();
    let json_fields: std::collections::HashSet<String> = reader
        .user_metadata()
        .get(JSON_CELLS)
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default();
    let mut chunk = RowChunks::new(sink);
    for datum in reader {
        let row: Row = match datum.map_err(err)? {
            Avro::Record(fields) => fields
                .into_iter()
                .map(|(k, v)| {
                    let v = if json_fields.contains(&k) {
                        from_json_cell(to_json(v))
                    } else {
                        to_json(v)
                    };
                    (renamed.get(&k).cloned().unwrap_or(k), v)
                })
                .collect(),
            other => vec![("value".to_string(), to_json(other))],
        };
        chunk.push(row)?;
    }
    chunk.finish()
}
