//! Parsed JSON written straight to Avro's binary encoding, without building apache-avro
//! values first: the bytes [`super::from_json`] and [`super::encode`] give together, for the
//! types producers mostly use (null, boolean, int, long, float, double, string, enum,
//! records, arrays, maps, unions, and the logical types over int and long), measured in
//! docs/PERFORMANCE.md.
//!
//! Anything else — bytes, fixed, decimal, uuid, duration, a record field left to its
//! default, a value that does not fit — returns `None`, and the caller takes the converter's
//! path, which also names what does not fit and where.

use std::collections::HashMap;

use apache_avro::Schema;
use serde_json::Value as Json;

use super::encode::{bytes, long};
use super::from_json::number;
use super::{branch_name, resolve};

/// Why a value was not written.
#[derive(Debug, PartialEq, Eq)]
enum Miss {
    /// It does not fit the schema (a union tries its next branch).
    NoFit,
    /// This encoder does not take it; the converter may.
    Unsupported,
}

type Step = Result<(), Miss>;

/// `Some` of the value, or `Err(Miss::NoFit)`.
fn fit<T>(value: Option<T>) -> Result<T, Miss> {
    value.ok_or(Miss::NoFit)
}

/// Writes JSON values of schemas whose named types are in `names`.
pub(super) struct DirectEncoder<'a> {
    pub names: &'a HashMap<String, Schema>,
}

impl DirectEncoder<'_> {
    /// Appends `json`, a value of `schema`, to `out`; `None` (with `out` as it may have
    /// been left part-written) when this encoder does not take it.
    pub fn encode(&self, json: &Json, schema: &Schema, out: &mut Vec<u8>) -> Option<()> {
        self.value(json, schema, out).ok()
    }

    fn value(&self, json: &Json, schema: &Schema, out: &mut Vec<u8>) -> Step {
        match resolve(self.names, schema).map_err(|_| Miss::Unsupported)? {
            Schema::Null => fit(json.is_null().then_some(()))?,
            Schema::Boolean => out.push(u8::from(fit(json.as_bool())?)),
            Schema::Int | Schema::Date | Schema::TimeMillis => {
                let n = fit(json.as_i64().and_then(|n| i32::try_from(n).ok()))?;
                long(i64::from(n), out);
            }
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => long(fit(json.as_i64())?, out),
            Schema::Float => out.extend_from_slice(&(fit(number(json))? as f32).to_le_bytes()),
            Schema::Double => out.extend_from_slice(&fit(number(json))?.to_le_bytes()),
            Schema::String => bytes(fit(json.as_str())?.as_bytes(), out),
            Schema::Enum(e) => {
                let symbol = fit(json.as_str())?;
                long(fit(e.symbols.iter().position(|s| s == symbol))? as i64, out);
            }
            Schema::Array(array) => {
                let items = fit(json.as_array())?;
                if !items.is_empty() {
                    long(items.len() as i64, out);
                    for item in items {
                        self.value(item, &array.items, out)?;
                    }
                }
                out.push(0);
            }
            Schema::Map(map) => {
                // serde_json's objects iterate their keys sorted, as the encoder writes them.
                let entries = fit(json.as_object())?;
                if !entries.is_empty() {
                    long(entries.len() as i64, out);
                    for (key, item) in entries {
                        bytes(key.as_bytes(), out);
                        self.value(item, &map.types, out)?;
                    }
                }
                out.push(0);
            }
            Schema::Record(record) => {
                let object = fit(json.as_object())?;
                if object.keys().any(|k| !record.lookup.contains_key(k)) {
                    return Err(Miss::NoFit); // a field the record does not have
                }
                for field in &record.fields {
                    match object.get(&field.name) {
                        Some(v) => self.value(v, &field.schema, out)?,
                        None if field.default.is_some() => return Err(Miss::Unsupported),
                        None => return Err(Miss::NoFit),
                    }
                }
            }
            Schema::Union(union) => self.union(json, union.variants(), out)?,
            _ => return Err(Miss::Unsupported),
        }
        Ok(())
    }

    /// A union value as the converter takes it: null, the one-key object naming a branch,
    /// or a plain value of the first branch it fits.
    fn union(&self, json: &Json, branches: &[Schema], out: &mut Vec<u8>) -> Step {
        let resolved: Vec<&Schema> = branches
            .iter()
            .map(|b| resolve(self.names, b).map_err(|_| Miss::Unsupported))
            .collect::<Result<_, Miss>>()?;
        if json.is_null() {
            if let Some(i) = resolved.iter().position(|b| matches!(b, Schema::Null)) {
                long(i as i64, out);
                return Ok(());
            }
        }
        if let Some((name, inner)) = json
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.iter().next())
        {
            if let Some(i) = resolved.iter().position(|b| branch_name(b) == *name) {
                long(i as i64, out);
                return self.value(inner, resolved[i], out);
            }
        }
        let start = out.len();
        for (i, branch) in resolved.iter().enumerate() {
            if matches!(branch, Schema::Null) {
                continue;
            }
            long(i as i64, out);
            match self.value(json, branch, out) {
                Ok(()) => return Ok(()),
                Err(Miss::NoFit) => out.truncate(start),
                Err(Miss::Unsupported) => return Err(Miss::Unsupported),
            }
        }
        Err(Miss::NoFit)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::AvroSchema;

    /// The converter's bytes, the reference (`None`: it refuses the value).
    fn reference(schema: &AvroSchema, json: &Json) -> Option<Vec<u8>> {
        let converter = super::super::from_json::Converter {
            names: &schema.names,
        };
        let value = converter.value(json, &schema.schema).ok()?;
        let mut out = Vec::new();
        super::super::encode::encode(&value, &schema.schema, &schema.names, &mut out).ok()?;
        Some(out)
    }

    fn direct(schema: &AvroSchema, json: &Json) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let encoder = DirectEncoder {
            names: &schema.names,
        };
        encoder.encode(json, &schema.schema, &mut out).map(|()| out)
    }

    struct Rng(u64);
    impl Rng {
        fn pick(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// A JSON value for `schema`, now and then one that does not fit.
    fn random_json(
        names: &HashMap<String, Schema>,
        schema: &Schema,
        rng: &mut Rng,
        depth: usize,
    ) -> Json {
        let noise = [
            json!(null),
            json!(true),
            json!(7),
            json!(3000000000i64),
            json!(1.5),
            json!("x"),
            json!("NaN"),
            json!([]),
            json!({}),
        ];
        if rng.pick(80) == 0 || depth > 4 {
            return noise[rng.pick(noise.len() as u64) as usize].clone();
        }
        match resolve(names, schema).unwrap() {
            Schema::Null => json!(null),
            Schema::Boolean => json!(rng.pick(2) == 1),
            Schema::Int | Schema::Date => json!(rng.pick(1000) as i64 - 500),
            Schema::Long | Schema::TimestampMillis => json!(rng.pick(u64::MAX) as i64),
            Schema::Float | Schema::Double => json!(rng.pick(100000) as f64 / 7.0),
            Schema::String => json!(["", "a", "é\n\"", "日本"][rng.pick(4) as usize]),
            Schema::Bytes => json!("\u{0}\u{ff}a"),
            Schema::Enum(e) => json!(e.symbols[rng.pick(e.symbols.len() as u64) as usize]),
            Schema::Array(a) => Json::Array(
                (0..rng.pick(3))
                    .map(|_| random_json(names, &a.items, rng, depth + 1))
                    .collect(),
            ),
            Schema::Map(m) => Json::Object(
                (0..rng.pick(3))
                    .map(|i| {
                        (
                            format!("k{}", rng.pick(5) + i),
                            random_json(names, &m.types, rng, depth + 1),
                        )
                    })
                    .collect(),
            ),
            Schema::Record(r) => {
                let mut object = serde_json::Map::new();
                for field in &r.fields {
                    if rng.pick(80) != 0 {
                        object.insert(
                            field.name.clone(),
                            random_json(names, &field.schema, rng, depth + 1),
                        );
                    }
                }
                if rng.pick(20) == 0 {
                    object.insert("extra".into(), json!(1));
                }
                Json::Object(object)
            }
            Schema::Union(u) => {
                let branch = &u.variants()[rng.pick(u.variants().len() as u64) as usize];
                let value = random_json(names, branch, rng, depth + 1);
                if rng.pick(2) == 0 && !value.is_null() {
                    json!({ branch_name(resolve(names, branch).unwrap()): value })
                } else {
                    value
                }
            }
            _ => json!(null),
        }
    }

    #[test]
    fn random_json_encodes_as_the_converter_encodes_it() {
        let schema = AvroSchema::parse(&json!({
            "type": "record", "name": "Order", "namespace": "t", "fields": [
                {"name": "id", "type": "long"}, {"name": "n", "type": "int"},
                {"name": "ok", "type": "boolean"}, {"name": "x", "type": "double"},
                {"name": "f", "type": "float"}, {"name": "s", "type": "string"},
                {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]}},
                {"name": "note", "type": ["null", "string"], "default": null},
                {"name": "either", "type": ["int", "string", "Colour"]},
                {"name": "blob", "type": ["bytes", "string"]},
                {"name": "tags", "type": {"type": "map", "values": ["null", "long"]}},
                {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line",
                    "fields": [{"name": "sku", "type": "string"}, {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}]}}},
                {"name": "first", "type": ["null", "Line"]},
                {"name": "day", "type": {"type": "int", "logicalType": "date"}}
            ]}).to_string()).unwrap();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut written, mut refused) = (0, 0);
        for _ in 0..5000 {
            let json = random_json(&schema.names, &schema.schema, &mut rng, 0);
            let expected = reference(&schema, &json);
            match direct(&schema, &json) {
                Some(bytes) => {
                    assert_eq!(Some(bytes), expected, "{json}");
                    written += 1;
                }
                None if expected.is_none() => refused += 1,
                None => {}
            }
        }
        assert!(
            written > 200 && refused > 1000,
            "{written} written, {refused} refused by both"
        );
    }
}
