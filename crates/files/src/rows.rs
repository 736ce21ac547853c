//! Records as rows of a table, and back.
//!
//! A record (as `kafkit cat` prints it) becomes one row: `partition`, `offset`, `timestamp`,
//! `key`, `headers`, then its value. A JSON object value is flattened into columns
//! `value.<field>` (nested objects as `value.a.b`, as pandas' `json_normalize` does); any
//! other value, a tombstone (null) or an object with no fields is the one column `value`.
//! Arrays, and keys and headers that are not plain strings, are JSON text. With
//! [`Shape::values_only`] a row is only the value's columns, unprefixed (kafi's
//! `topic_to_file` shape).
//!
//! Back: a row with a `value` or `value.*` column is read in that shape (`offset` ignored); any
//! other row is a value of its own (its columns unflattened by `.`), keyed by
//! [`Shape::key_column`] when given. Columns that are null are absent fields.

use serde_json::{Map, Value};

use kafkit_store::ops::json::DataType;

/// A row: column names and values, in column order.
pub type Row = Vec<(String, Value)>;

/// How records and rows map onto each other.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Flatten JSON object values into `value.*` columns (default); else the value is one
    /// column of JSON text.
    pub flatten: bool,
    /// Only the value's columns, unprefixed (no key, partition, offset, timestamp, headers).
    pub values_only: bool,
    /// Reading rows that are values only: the column holding the key.
    pub key_column: Option<String>,
    /// The key's type: strings that are JSON text are parsed back for `json` only.
    pub key_type: DataType,
    /// The value's type, likewise.
    pub value_type: DataType,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            flatten: true,
            values_only: false,
            key_column: None,
            key_type: DataType::Str,
            value_type: DataType::Json,
        }
    }
}

/// The metadata columns, in the order they are written.
pub const METADATA: [&str; 5] = ["partition", "offset", "timestamp", "key", "headers"];

/// A value as a single cell: strings and scalars as they are, anything else as JSON text.
fn cell(v: Value) -> Value {
    match v {
        Value::Array(_) | Value::Object(_) => Value::String(v.to_string()),
        other => other,
    }
}

/// `value`'s fields as columns `prefix<path>` (nested objects joined by `.`), in `out`.
fn flatten_into(prefix: &str, value: Map<String, Value>, out: &mut Row) {
    for (k, v) in value {
        let name = format!("{prefix}{k}");
        match v {
            Value::Object(m) if !m.is_empty() => flatten_into(&format!("{name}."), m, out),
            other => out.push((name, cell(other))),
        }
    }
}

/// A record as `kafkit cat` prints it (`{partition, offset, timestamp, key, value,
/// headers, ...}`) as a row.
pub fn record_to_row(mut record: Map<String, Value>, shape: &Shape) -> Row {
    let value = record.remove("value").unwrap_or(Value::Null);
    let mut row = Row::new();
    if !shape.values_only {
        for name in METADATA {
            let v = record.remove(name).unwrap_or(Value::Null);
            let v = match (name, v) {
                ("headers", Value::Array(h)) if h.is_empty() => Value::Null,
                (_, v) => cell(v),
            };
            row.push((name.to_string(), v));
        }
    }
    match (value, shape.flatten) {
        (Value::Object(m), true) if !m.is_empty() => {
            let prefix = if shape.values_only { "" } else { "value." };
            flatten_into(prefix, m, &mut row);
        }
        (other, _) => row.push(("value".to_string(), cell(other))),
    }
    row
}

/// A cell read back as `ty` wants it: JSON text parsed for `json`; for the other types only
/// the `{"base64": ...}` marker of binary data is parsed.
fn uncell(v: Value, ty: DataType) -> Value {
    let textual = matches!(ty, DataType::Str | DataType::Bytes);
    let Value::String(s) = &v else {
        // A number or true/false read where text belongs (a CSV key column, say) is text.
        return match v {
            Value::Number(_) | Value::Bool(_) if textual => Value::String(v.to_string()),
            other => other,
        };
    };
    let t = s.trim_start();
    let json_text = match ty {
        DataType::Str | DataType::Bytes => t.starts_with("{\"base64\""),
        _ => t.starts_with('{') || t.starts_with('['),
    };
    if json_text {
        if let Ok(parsed) = serde_json::from_str::<Value>(s) {
            let marker =
                matches!(&parsed, Value::Object(m) if m.len() == 1 && m.contains_key("base64"));
            if marker || ty == DataType::Json || ty.is_schema() {
                return parsed;
            }
        }
    }
    v
}

/// Sets `path` (split at `.`) in `into` to `v`; a path through a non-object keeps the first.
fn set_path(into: &mut Map<String, Value>, path: &str, v: Value) {
    match path.split_once('.') {
        None => {
            into.insert(path.to_string(), v);
        }
        Some((head, rest)) => {
            let slot = into
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = slot {
                set_path(m, rest, v);
            }
        }
    }
}

/// A row as a record for `json_to_record` (`{key, value, partition, timestamp, headers}`);
/// `Err` names the column that is wrong.
pub fn row_to_record(row: Row, shape: &Shape) -> Result<Map<String, Value>, String> {
    let kafkit_shape = row
        .iter()
        .any(|(name, _)| name == "value" || name.starts_with("value."));
    let mut record = Map::new();
    let mut fields = Map::new();
    let mut whole: Option<Value> = None;
    for (name, v) in row {
        if v.is_null() {
            continue;
        }
        match name.as_str() {
            "key" if kafkit_shape => {
                record.insert("key".into(), uncell(v, shape.key_type));
            }
            "partition" if kafkit_shape => {
                record.insert("partition".into(), integer("partition", &v)?);
            }
            "timestamp" if kafkit_shape => {
                record.insert("timestamp".into(), timestamp(&v)?);
            }
            "headers" if kafkit_shape => {
                let parsed = match &v {
                    Value::String(s) => serde_json::from_str(s)
                        .map_err(|e| format!("column headers: not JSON: {e}"))?,
                    other => other.clone(),
                };
                record.insert("headers".into(), parsed);
            }
            "offset" if kafkit_shape => {}
            "value" if kafkit_shape => whole = Some(uncell(v, shape.value_type)),
            _ if kafkit_shape => match name.strip_prefix("value.") {
                Some(path) => set_path(&mut fields, path, uncell(v, DataType::Json)),
                None => return Err(format!("column {name} is not one of a record's")),
            },
            _ if shape.key_column.as_deref() == Some(name.as_str()) => {
                record.insert("key".into(), uncell(v, shape.key_type));
            }
            _ => set_path(&mut fields, &name, uncell(v, DataType::Json)),
        }
    }
    let value = match whole {
        Some(v) if fields.is_empty() => v,
        Some(Value::Object(mut m)) => {
            m.extend(fields);
            Value::Object(m)
        }
        _ if !fields.is_empty() => Value::Object(fields),
        _ => Value::Null,
    };
    record.insert("value".into(), value);
    Ok(record)
}

fn integer(column: &str, v: &Value) -> Result<Value, String> {
    match v {
        Value::Number(n) if n.is_i64() => Ok(v.clone()),
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => {
            Ok(Value::from(n.as_f64().unwrap_or_default() as i64))
        }
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("column {column}: '{s}' is not a whole number")),
        other => Err(format!("column {column}: {other} is not a whole number")),
    }
}

/// A timestamp cell as ms since the epoch: a number, or a date and time (RFC 3339, or as
/// Arrow and Excel write them, taken as UTC).
fn timestamp(v: &Value) -> Result<Value, String> {
    if let Ok(n) = integer("timestamp", v) {
        return Ok(n);
    }
    let Value::String(s) = v else {
        return Err(format!("column timestamp: {v} is not a time"));
    };
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(Value::from(t.as_millisecond()));
    }
    let civil = s
        .replace(' ', "T")
        .parse::<jiff::civil::DateTime>()
        .map_err(|e| format!("column timestamp: '{s}' is not a time: {e}"))?;
    let t = civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|e| format!("column timestamp: '{s}': {e}"))?;
    Ok(Value::from(t.timestamp().as_millisecond()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn json_values_flatten_and_come_back() {
        let record = json!({"topic": "t", "partition": 1, "offset": 7, "timestamp": 1_700_000_000_000i64,
            "key": "k", "headers": [["h", "1"]],
            "value": {"id": 3, "name": "x", "address": {"city": "Bern", "zip": "3000"}, "tags": ["a", "b"], "none": null}});
        let row = record_to_row(obj(record.clone()), &Shape::default());
        let names: Vec<&str> = row.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "partition",
                "offset",
                "timestamp",
                "key",
                "headers",
                "value.address.city",
                "value.address.zip",
                "value.id",
                "value.name",
                "value.none",
                "value.tags"
            ]
        );
        assert_eq!(row[4].1, json!("[[\"h\",\"1\"]]"));
        assert_eq!(row[10].1, json!("[\"a\",\"b\"]"));
        let back = row_to_record(row, &Shape::default()).unwrap();
        assert_eq!(
            back["value"],
            json!({"id": 3, "name": "x", "address": {"city": "Bern", "zip": "3000"}, "tags": ["a", "b"]})
        );
        assert_eq!(
            (back["partition"].clone(), back["timestamp"].clone()),
            (json!(1), json!(1_700_000_000_000i64))
        );
        assert_eq!(back["headers"], json!([["h", "1"]]));
        assert!(!back.contains_key("offset"));
    }

    #[test]
    fn other_values_tombstones_and_binary_stay_one_column() {
        let shape = Shape {
            value_type: DataType::Str,
            ..Shape::default()
        };
        for value in [
            json!(null),
            json!("{\"n\":1}"),
            json!(""),
            json!({"base64": "/wA="}),
        ] {
            let record = json!({"partition": 0, "offset": 0, "timestamp": 1, "key": null, "headers": [], "value": value});
            let row = record_to_row(obj(record), &shape);
            let back = row_to_record(row, &shape).unwrap();
            assert_eq!(back["value"], value, "{value}");
            assert!(!back.contains_key("key") && !back.contains_key("headers"));
        }
        let empty = record_to_row(obj(json!({"value": {}})), &Shape::default());
        assert_eq!(
            row_to_record(empty, &Shape::default()).unwrap()["value"],
            json!({})
        );
    }

    #[test]
    fn rows_of_other_tools_are_values_and_times_parse() {
        let shape = Shape {
            key_column: Some("id".into()),
            ..Shape::default()
        };
        let row: Row = vec![
            ("id".into(), json!("7")),
            ("a.b".into(), json!(1.5)),
            ("c".into(), json!(null)),
        ];
        let back = row_to_record(row, &shape).unwrap();
        assert_eq!(back["key"], json!("7"));
        assert_eq!(back["value"], json!({"a": {"b": 1.5}}));
        for (text, ms) in [
            ("2023-11-14T22:13:20.001Z", 1_700_000_000_001i64),
            ("2023-11-14 22:13:20", 1_700_000_000_000),
        ] {
            let row: Row = vec![
                ("timestamp".into(), json!(text)),
                ("value".into(), json!("v")),
            ];
            assert_eq!(
                row_to_record(row, &Shape::default()).unwrap()["timestamp"],
                json!(ms)
            );
        }
        let row: Row = vec![
            ("timestamp".into(), json!("soon")),
            ("value".into(), json!("v")),
        ];
        assert!(row_to_record(row, &Shape::default())
            .unwrap_err()
            .contains("column timestamp"));
        let values_only = Shape {
            values_only: true,
            ..Shape::default()
        };
        let row = record_to_row(obj(json!({"key": "k", "value": {"a": 1}})), &values_only);
        assert_eq!(row, vec![("a".to_string(), json!(1))]);
    }
}
