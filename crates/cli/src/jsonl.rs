//! Records as JSON Lines: `{topic, partition, offset, timestamp, key, value, headers}`.
//!
//! Keys, values and header values are written per their type:
//! - `str` (default): a JSON string when the bytes are UTF-8, else `{"base64": "..."}`;
//! - `bytes`: always `{"base64": "..."}`;
//! - `json`: the JSON value itself (an error when the bytes are not JSON).
//!
//! `null` is a null key or value. Reading a line back gives the same bytes for `str` and
//! `bytes`; `json` values are written back compactly.

use base64::Engine;
use bytes::Bytes;
use kafkit::record::Header;
use kafkit::store::{NewRecord, Record};
use serde_json::{json, Value};

/// How key or value bytes are shown.
#[derive(clap::ValueEnum, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    /// UTF-8 text (base64 marker for other bytes).
    #[default]
    Str,
    /// Raw bytes, always base64.
    Bytes,
    /// JSON.
    Json,
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn base64_marker(b: &[u8]) -> Value {
    json!({ "base64": B64.encode(b) })
}

/// Shows `bytes` as `ty`; `Err` names what is wrong (the caller adds where).
pub fn encode_data(bytes: Option<&[u8]>, ty: DataType) -> Result<Value, String> {
    let Some(b) = bytes else {
        return Ok(Value::Null);
    };
    Ok(match ty {
        DataType::Bytes => base64_marker(b),
        DataType::Str => match std::str::from_utf8(b) {
            Ok(s) => Value::String(s.to_string()),
            Err(_) => base64_marker(b),
        },
        DataType::Json => serde_json::from_slice(b).map_err(|e| format!("not JSON: {e}"))?,
    })
}

/// The bytes a JSON key or value stands for.
pub fn decode_data(v: &Value, ty: DataType) -> Result<Option<Bytes>, String> {
    Ok(match v {
        Value::Null => None,
        // The marker, whatever the type (a JSON value of exactly this shape reads as bytes).
        Value::Object(m) if m.len() == 1 && m.contains_key("base64") => {
            let s = m["base64"]
                .as_str()
                .ok_or("base64 marker is not a string")?;
            Some(Bytes::from(
                B64.decode(s).map_err(|e| format!("bad base64: {e}"))?,
            ))
        }
        Value::String(s) if ty != DataType::Json => Some(Bytes::from(s.clone())),
        other if ty == DataType::Json => Some(Bytes::from(other.to_string())),
        other => {
            return Err(format!(
                "expected a string, null or {{\"base64\": ...}}, got {other}"
            ))
        }
    })
}

/// One record as a JSON line, its fields in a fixed order.
#[derive(serde::Serialize)]
pub struct RecordLine<'a> {
    topic: &'a str,
    partition: i32,
    offset: i64,
    timestamp: i64,
    key: Value,
    value: Value,
    headers: Vec<Value>,
}

impl RecordLine<'_> {
    /// As a JSON value (for reading back).
    #[cfg(test)]
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a record line serializes")
    }
}

impl std::fmt::Display for RecordLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = serde_json::to_string(self).map_err(|_| std::fmt::Error)?;
        f.write_str(&s)
    }
}

/// One record as a JSON line.
pub fn record_to_json(
    r: &Record,
    key: DataType,
    value: DataType,
) -> Result<RecordLine<'_>, String> {
    let where_ = |what: &str, e: String| {
        format!(
            "topic '{}' partition {} offset {}: {what} {e}",
            r.topic, r.partition, r.offset
        )
    };
    let headers: Vec<Value> = r
        .headers
        .iter()
        .map(|h| {
            Ok(json!([
                String::from_utf8_lossy(&h.key),
                encode_data(h.value.as_deref(), DataType::Str)?
            ]))
        })
        .collect::<Result<_, String>>()
        .map_err(|e| where_("header", e))?;
    Ok(RecordLine {
        topic: &r.topic,
        partition: r.partition,
        offset: r.offset,
        timestamp: r.timestamp,
        key: encode_data(r.key.as_deref(), key).map_err(|e| where_("key", e))?,
        value: encode_data(r.value.as_deref(), value).map_err(|e| where_("value", e))?,
        headers,
    })
}

/// A record from a JSON object (as `record_to_json` writes; every field optional but
/// `value`). With `keep_partition`, its `partition` and `timestamp` are kept.
pub fn json_to_record(
    v: &Value,
    key: DataType,
    value: DataType,
    keep_partition: bool,
) -> Result<NewRecord, String> {
    let Value::Object(m) = v else {
        return Err(format!("expected a JSON object, got {v}"));
    };
    let field = |name: &str| m.get(name).unwrap_or(&Value::Null);
    let mut r = NewRecord {
        key: decode_data(field("key"), key).map_err(|e| format!("key: {e}"))?,
        value: decode_data(field("value"), value).map_err(|e| format!("value: {e}"))?,
        ..Default::default()
    };
    if let Some(ts) = m.get("timestamp").and_then(Value::as_i64) {
        r.timestamp = Some(ts);
    }
    if keep_partition {
        if let Some(p) = m.get("partition").and_then(Value::as_i64) {
            r.partition =
                Some(i32::try_from(p).map_err(|_| format!("partition {p} out of range"))?);
        }
    }
    if let Some(hs) = m.get("headers") {
        r.headers = headers_from(hs)?;
    }
    Ok(r)
}

fn headers_from(v: &Value) -> Result<Vec<Header>, String> {
    let pair = |k: &str, v: &Value| -> Result<Header, String> {
        let value = decode_data(v, DataType::Str).map_err(|e| format!("header '{k}': {e}"))?;
        Ok(Header {
            key: Bytes::from(k.to_string()),
            value,
        })
    };
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Array(kv) if kv.len() == 2 => {
                    let k = kv[0].as_str().ok_or("a header key must be a string")?;
                    pair(k, &kv[1])
                }
                other => Err(format!("a header must be [key, value], got {other}")),
            })
            .collect(),
        Value::Object(m) => m.iter().map(|(k, v)| pair(k, v)).collect::<Result<_, _>>(),
        other => Err(format!(
            "headers must be a list of [key, value], got {other}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn records_round_trip_losslessly() {
        let r = Record {
            topic: Arc::from("t"),
            partition: 2,
            offset: 7,
            timestamp: 1_700_000_000_000,
            key: Some(Bytes::from_static(b"\xff\x00bin")),
            value: Some(Bytes::from_static(b"")),
            headers: vec![
                Header::new("h", Some("1")),
                Header::new("h", Some(Bytes::from_static(b"\xfe"))),
                Header::new("n", None::<Bytes>),
            ],
        };
        let j = record_to_json(&r, DataType::Str, DataType::Str)
            .unwrap()
            .to_value();
        assert_eq!(j["key"], json!({"base64": "/wBiaW4="}));
        assert_eq!(j["value"], json!(""));
        let back = json_to_record(&j, DataType::Str, DataType::Str, true).unwrap();
        assert_eq!(back.key, r.key);
        assert_eq!(back.value, r.value);
        assert_eq!(back.headers, r.headers);
        assert_eq!(back.partition, Some(2));
        assert_eq!(back.timestamp, Some(r.timestamp));
        let bad = record_to_json(&r, DataType::Str, DataType::Json)
            .err()
            .unwrap();
        assert!(bad.contains("partition 2 offset 7"), "{bad}");
    }
}
