//! Records as JSON Lines: `{topic, partition, offset, timestamp, key, value, headers}`.
//!
//! Keys, values and header values are written per their type:
//! - `str` (default): a JSON string when the bytes are UTF-8, else `{"base64": "..."}`;
//! - `bytes`: always `{"base64": "..."}`;
//! - `json`: the JSON value itself (an error when the bytes are not JSON);
//! - `avro`, `protobuf`, `jsonschema`: the Schema Registry wire format, decoded to JSON with
//!   the schema its id names (see [`super::schemas`]); the line then says the schema id.
//!
//! `null` is a null key or value. Reading a line back gives the same bytes for `str` and
//! `bytes`; `json` values are written back compactly.

use base64::Engine;
use bytes::Bytes;
use kafkit_record::Header;
use serde_json::{json, Value};

use super::schemas::{RecordFormat, Side};
use crate::types::{ConsumerRecord, NewRecord};

/// How key or value bytes are shown.
#[derive(serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    /// UTF-8 text (base64 marker for other bytes).
    #[default]
    Str,
    /// Raw bytes, always base64.
    Bytes,
    /// JSON.
    Json,
    /// Avro in the Schema Registry wire format, shown in Avro's JSON encoding.
    Avro,
    /// Protobuf in the Schema Registry wire format, shown in proto3's JSON mapping.
    #[serde(alias = "pb")]
    Protobuf,
    /// JSON checked against a JSON Schema, in the Schema Registry wire format.
    #[serde(alias = "json_sr")]
    JsonSchema,
}

impl DataType {
    /// Every type, by its name.
    pub const ALL: [(&'static str, DataType); 6] = [
        ("str", DataType::Str),
        ("bytes", DataType::Bytes),
        ("json", DataType::Json),
        ("avro", DataType::Avro),
        ("protobuf", DataType::Protobuf),
        ("jsonschema", DataType::JsonSchema),
    ];

    /// The type's name, as `--key-type` and `--value-type` take it.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Str => "str",
            DataType::Bytes => "bytes",
            DataType::Json => "json",
            DataType::Avro => "avro",
            DataType::Protobuf => "protobuf",
            DataType::JsonSchema => "jsonschema",
        }
    }

    /// Whether bytes of this type are framed with a schema id and need a registry.
    pub fn is_schema(self) -> bool {
        matches!(
            self,
            DataType::Avro | DataType::Protobuf | DataType::JsonSchema
        )
    }
}

impl DataType {
    /// Other names taken for a type (kafi's): `pb` for protobuf, `json_sr` for jsonschema.
    pub const ALIASES: [(&'static str, DataType); 2] = [
        ("pb", DataType::Protobuf),
        ("json_sr", DataType::JsonSchema),
    ];
}

impl std::str::FromStr for DataType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DataType::ALL
            .iter()
            .chain(&DataType::ALIASES)
            .find(|(name, _)| *name == s)
            .map(|&(_, t)| t)
            .ok_or_else(|| {
                format!(
                    "unknown type '{s}' (expected str, bytes, json, avro, protobuf or jsonschema)"
                )
            })
    }
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn base64_marker(b: &[u8]) -> Value {
    json!({ "base64": B64.encode(b) })
}

/// Shows `bytes` as `ty`; `Err` names what is wrong (the caller adds where). The schema
/// types need their registry: [`RecordFormat`] shows them.
pub fn encode_data(bytes: Option<&[u8]>, ty: DataType) -> Result<Value, String> {
    let Some(b) = bytes else {
        return Ok(Value::Null);
    };
    Ok(match ty {
        DataType::Avro | DataType::Protobuf | DataType::JsonSchema => {
            return Err(format!("{} needs its schema registry", ty.name()))
        }
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
        Value::String(s) if matches!(ty, DataType::Str | DataType::Bytes) => {
            Some(Bytes::from(s.clone()))
        }
        other if ty == DataType::Json => Some(Bytes::from(other.to_string())),
        _ if ty.is_schema() => return Err(format!("{} needs its schema registry", ty.name())),
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
    #[serde(skip_serializing_if = "Option::is_none")]
    key_schema_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_schema_id: Option<i32>,
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

/// One record as a JSON line (schema-typed sides need their schemas prepared:
/// [`RecordFormat::prepare`]).
pub fn record_to_json<'a>(
    r: &'a ConsumerRecord,
    format: &RecordFormat,
) -> Result<RecordLine<'a>, String> {
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
    let (key, key_schema_id) = format
        .show(Side::Key, r.key.as_deref())
        .map_err(|e| where_("key", e))?;
    let (value, value_schema_id) = format
        .show(Side::Value, r.value.as_deref())
        .map_err(|e| where_("value", e))?;
    Ok(RecordLine {
        topic: &r.topic,
        partition: r.partition,
        offset: r.offset,
        timestamp: r.timestamp,
        key,
        value,
        headers,
        key_schema_id,
        value_schema_id,
    })
}

/// A record from a JSON object (as `record_to_json` writes; every field optional but
/// `value`). With `keep_partition`, its `partition` and `timestamp` are kept.
pub fn json_to_record(
    v: &Value,
    format: &RecordFormat,
    keep_partition: bool,
) -> Result<NewRecord, String> {
    let Value::Object(m) = v else {
        return Err(format!("expected a JSON object, got {v}"));
    };
    let field = |name: &str| m.get(name).unwrap_or(&Value::Null);
    let mut r = NewRecord {
        key: format
            .bytes_of(Side::Key, field("key"))
            .map_err(|e| format!("key: {e}"))?,
        value: format
            .bytes_of(Side::Value, field("value"))
            .map_err(|e| format!("value: {e}"))?,
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
        let r = ConsumerRecord {
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
        let j = record_to_json(&r, &RecordFormat::new(DataType::Str, DataType::Str))
            .unwrap()
            .to_value();
        assert_eq!(j["key"], json!({"base64": "/wBiaW4="}));
        assert_eq!(j["value"], json!(""));
        let back =
            json_to_record(&j, &RecordFormat::new(DataType::Str, DataType::Str), true).unwrap();
        assert_eq!(back.key, r.key);
        assert_eq!(back.value, r.value);
        assert_eq!(back.headers, r.headers);
        assert_eq!(back.partition, Some(2));
        assert_eq!(back.timestamp, Some(r.timestamp));
        let bad = record_to_json(&r, &RecordFormat::new(DataType::Str, DataType::Json))
            .err()
            .unwrap();
        assert!(bad.contains("partition 2 offset 7"), "{bad}");
    }
}

/// Appends `s` as a JSON string (quotes and escapes exactly as serde_json writes them).
fn write_json_str(out: &mut Vec<u8>, s: &[u8]) {
    /// A high bit set in each byte of `x` (little-endian) that needs escaping (`"`, `\`, or
    /// below 0x20); the lowest set bit is exact (borrows only flag bytes above a true one).
    fn escapes(x: u64) -> u64 {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGHS: u64 = 0x8080_8080_8080_8080;
        let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
        let below_0x20 = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
        has_zero(x ^ (ONES * b'"' as u64)) | has_zero(x ^ (ONES * b'\\' as u64)) | below_0x20
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < s.len() {
        if i + 8 <= s.len() {
            let chunk = u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
            match escapes(chunk) {
                0 => {
                    i += 8;
                    continue;
                }
                m => i += (m.trailing_zeros() / 8) as usize,
            }
        }
        let b = s[i];
        let short = match b {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'\n' => Some(b'n'),
            b'\r' => Some(b'r'),
            b'\t' => Some(b't'),
            0x08 => Some(b'b'),
            0x0c => Some(b'f'),
            0..=0x1f => None,
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&s[start..i]);
        match short {
            Some(c) => out.extend_from_slice(&[b'\\', c]),
            None => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]),
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&s[start..]);
    out.push(b'"');
}

/// Appends `bytes` shown as `ty` (what [`encode_data`] gives, written straight out).
fn write_data(out: &mut Vec<u8>, bytes: Option<&[u8]>, ty: DataType) -> Result<(), String> {
    let Some(b) = bytes else {
        out.extend_from_slice(b"null");
        return Ok(());
    };
    let marker = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(b"{\"base64\":\"");
        out.extend_from_slice(B64.encode(b).as_bytes());
        out.extend_from_slice(b"\"}");
    };
    match ty {
        DataType::Bytes => marker(out, b),
        DataType::Str => match simdutf8::basic::from_utf8(b) {
            Ok(_) => write_json_str(out, b),
            Err(_) => marker(out, b),
        },
        DataType::Avro | DataType::Protobuf | DataType::JsonSchema => {
            return Err(format!("{} needs its schema registry", ty.name()))
        }
        DataType::Json => {
            // Valid JSON on one line is copied as it is (key order and number spelling kept);
            // JSON spread over lines is rewritten compactly.
            let raw: &serde_json::value::RawValue =
                serde_json::from_slice(b).map_err(|e| format!("not JSON: {e}"))?;
            let text = raw.get();
            if text.contains(['\n', '\r']) {
                let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
                serde_json::to_writer(&mut *out, &v).map_err(|e| e.to_string())?;
            } else {
                out.extend_from_slice(text.as_bytes());
            }
        }
    }
    Ok(())
}

/// Appends `r` as one JSON line (with its newline) to `out`: the same text as
/// [`record_to_json`], written without building JSON values. On error `out` is unchanged.
pub fn write_record(
    out: &mut Vec<u8>,
    r: &ConsumerRecord,
    format: &RecordFormat,
) -> Result<(), String> {
    let start = out.len();
    let result = (|| {
        let where_ = |what: &str, e: String| {
            format!(
                "topic '{}' partition {} offset {}: {what} {e}",
                r.topic, r.partition, r.offset
            )
        };
        out.extend_from_slice(b"{\"topic\":");
        write_json_str(out, r.topic.as_bytes());
        let mut digits = itoa::Buffer::new();
        out.extend_from_slice(b",\"partition\":");
        out.extend_from_slice(digits.format(r.partition).as_bytes());
        out.extend_from_slice(b",\"offset\":");
        out.extend_from_slice(digits.format(r.offset).as_bytes());
        out.extend_from_slice(b",\"timestamp\":");
        out.extend_from_slice(digits.format(r.timestamp).as_bytes());
        let mut ids = [None, None];
        for (i, (side, name, bytes)) in [
            (Side::Key, &b",\"key\":"[..], r.key.as_deref()),
            (Side::Value, &b",\"value\":"[..], r.value.as_deref()),
        ]
        .into_iter()
        .enumerate()
        {
            out.extend_from_slice(name);
            let ty = match side {
                Side::Key => format.key,
                Side::Value => format.value,
            };
            match bytes {
                Some(b) if ty.is_schema() => {
                    ids[i] = Some(
                        format
                            .write_schema_typed(side, b, out)
                            .map_err(|e| where_(side.name(), e))?,
                    );
                }
                _ => write_data(out, bytes, ty).map_err(|e| where_(side.name(), e))?,
            }
        }
        out.extend_from_slice(b",\"headers\":[");
        for (i, h) in r.headers.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'[');
            write_json_str(out, String::from_utf8_lossy(&h.key).as_bytes());
            out.push(b',');
            write_data(out, h.value.as_deref(), DataType::Str).map_err(|e| where_("header", e))?;
            out.push(b']');
        }
        out.push(b']');
        for (name, id) in [
            (&b",\"key_schema_id\":"[..], ids[0]),
            (b",\"value_schema_id\":", ids[1]),
        ] {
            if let Some(id) = id {
                out.extend_from_slice(name);
                out.extend_from_slice(digits.format(id).as_bytes());
            }
        }
        out.extend_from_slice(b"}\n");
        Ok(())
    })();
    if result.is_err() {
        out.truncate(start);
    }
    result
}

#[cfg(test)]
mod write_tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn direct_writing_gives_the_same_text_as_serde() {
        let texts: Vec<&[u8]> = vec![
            b"",
            b"plain",
            b"quote \" backslash \\ slash / tab \t nl \n cr \r bs \x08 ff \x0c nul \x00 us \x1f del \x7f",
            "unicode é ü 日本 😀 and \u{2028}".as_bytes(),
            b"\xff\xfe not utf-8",
            b"{\"n\":1,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
            b"exactly8",
            b"seven\"7",
        ];
        for key in &texts {
            for value in &texts {
                let r = ConsumerRecord {
                    topic: Arc::from("t\"q"),
                    partition: 3,
                    offset: 99,
                    timestamp: -1,
                    key: Some(Bytes::copy_from_slice(key)),
                    value: Some(Bytes::copy_from_slice(value)),
                    headers: vec![
                        Header::new("h\n", Some(Bytes::copy_from_slice(value))),
                        Header::new("n", None::<Bytes>),
                    ],
                };
                for ty in [DataType::Str, DataType::Bytes] {
                    let mut out = Vec::new();
                    write_record(&mut out, &r, &RecordFormat::new(ty, ty)).unwrap();
                    let expected = format!(
                        "{}\n",
                        record_to_json(&r, &RecordFormat::new(ty, ty)).unwrap()
                    );
                    assert_eq!(String::from_utf8(out).unwrap(), expected);
                }
            }
        }
        let mut r = ConsumerRecord {
            topic: Arc::from("t"),
            partition: 0,
            offset: 0,
            timestamp: 0,
            key: None,
            value: Some(Bytes::from_static(b"{\"b\": 1,\n \"a\": [1.50, true]}")),
            headers: Vec::new(),
        };
        let mut out = Vec::new();
        write_record(
            &mut out,
            &r,
            &RecordFormat::new(DataType::Str, DataType::Json),
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["value"], json!({"a": [1.5, true], "b": 1}));
        assert_eq!(v["key"], Value::Null);
        r.value = Some(Bytes::from_static(b"{\"z\":1,\"a\":2}"));
        out.clear();
        write_record(
            &mut out,
            &r,
            &RecordFormat::new(DataType::Str, DataType::Json),
        )
        .unwrap();
        assert!(
            out.ends_with(b"\"value\":{\"z\":1,\"a\":2},\"headers\":[]}\n"),
            "kept as written"
        );
        r.value = Some(Bytes::from_static(b"{not json"));
        out.clear();
        let e = write_record(
            &mut out,
            &r,
            &RecordFormat::new(DataType::Str, DataType::Json),
        )
        .unwrap_err();
        assert!(e.contains("partition 0 offset 0: value not JSON"), "{e}");
        assert!(out.is_empty(), "nothing half-written");
    }
}
