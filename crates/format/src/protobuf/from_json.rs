//! Parsed JSON written straight to Protobuf wire bytes, without a `DynamicMessage`: the
//! bytes prost-reflect writes for the message it would deserialize from the same JSON
//! (fields by number, proto3 defaults left out, repeated scalars packed unless the schema
//! says not), measured in docs/PERFORMANCE.md.
//!
//! Only messages with a plan ([`super::plan`]) take this path, and only JSON in the forms
//! producers write: objects keyed by the JSON or the `.proto` name, integers as numbers or
//! decimal strings, floats as numbers, enums by name or number, bytes as standard base64.
//! Anything else — a null, an unknown key, `"NaN"`, two members of one oneof, a value out
//! of its field's range — is [`Outcome::Fallback`]: prost-reflect encodes it, or names what
//! is wrong.

use prost_reflect::MessageDescriptor;
use serde_json::{Map, Value};

use super::plan::{FieldKind, FieldPlan, Outcome, Plans};
use super::to_json::MAX_DEPTH;

impl Plans {
    /// Appends the encoding of `json`, a `message`, to `out`, or says to fall back.
    pub(crate) fn encode(
        &self,
        message: &MessageDescriptor,
        json: &Value,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let (Some(index), Value::Object(object)) = (self.plan_of(message), json) else {
            return Outcome::Fallback;
        };
        let start = out.len();
        match self.encode_object(index, object, 0, out) {
            Some(()) => Outcome::Written,
            None => {
                out.truncate(start);
                Outcome::Fallback
            }
        }
    }

    fn encode_object(
        &self,
        index: usize,
        object: &Map<String, Value>,
        depth: usize,
        out: &mut Vec<u8>,
    ) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let plan = self.plans[index].as_ref()?;
        let mut matched = 0;
        let mut oneofs_set: Vec<usize> = Vec::new();
        for &field in &plan.by_number {
            let spec = &plan.fields[field];
            let value = match (object.get(&*spec.json_name), object.get(&*spec.name)) {
                (Some(_), Some(_)) if spec.json_name != spec.name => return None,
                (Some(v), _) | (None, Some(v)) => v,
                (None, None) => continue,
            };
            matched += 1;
            if let Some(oneof) = spec.oneof {
                if oneofs_set.contains(&oneof) {
                    return None;
                }
                oneofs_set.push(oneof);
            }
            if spec.repeated {
                self.encode_repeated(spec, value.as_array()?, depth, out)?;
            } else {
                let mark = out.len();
                tag(spec.number, wire_type(&spec.kind), out);
                let not_default = self.encode_value(spec, value, depth, out)?;
                if !not_default && !spec.presence {
                    out.truncate(mark);
                }
            }
        }
        (matched == object.len()).then_some(())
    }

    fn encode_repeated(
        &self,
        spec: &FieldPlan,
        items: &[Value],
        depth: usize,
        out: &mut Vec<u8>,
    ) -> Option<()> {
        if items.is_empty() {
            return Some(());
        }
        if spec.packed {
            tag(spec.number, LEN, out);
            let mut run = Vec::new();
            for item in items {
                self.encode_value(spec, item, depth, &mut run)?;
            }
            varint(run.len() as u64, out);
            out.extend_from_slice(&run);
        } else {
            for item in items {
                tag(spec.number, wire_type(&spec.kind), out);
                self.encode_value(spec, item, depth, out)?;
            }
        }
        Some(())
    }

    /// Appends one value without its tag; whether it differs from its type's default.
    fn encode_value(
        &self,
        spec: &FieldPlan,
        json: &Value,
        depth: usize,
        out: &mut Vec<u8>,
    ) -> Option<bool> {
        Some(match &spec.kind {
            FieldKind::Double => {
                let v = json.as_f64()?;
                out.extend_from_slice(&v.to_le_bytes());
                v != 0.0
            }
            FieldKind::Float => {
                let wide = json.as_f64()?;
                if wide.abs() > f64::from(f32::MAX) {
                    return None;
                }
                let v = wide as f32;
                out.extend_from_slice(&v.to_le_bytes());
                v != 0.0
            }
            FieldKind::Int64 => {
                let v: i64 = integer(json)?;
                varint(v as u64, out);
                v != 0
            }
            FieldKind::Uint64 => {
                let v: u64 = integer(json)?;
                varint(v, out);
                v != 0
            }
            FieldKind::Sint64 => {
                let v: i64 = integer(json)?;
                varint(((v << 1) ^ (v >> 63)) as u64, out);
                v != 0
            }
            FieldKind::Fixed64 => {
                let v: u64 = integer(json)?;
                out.extend_from_slice(&v.to_le_bytes());
                v != 0
            }
            FieldKind::Sfixed64 => {
                let v: i64 = integer(json)?;
                out.extend_from_slice(&v.to_le_bytes());
                v != 0
            }
            FieldKind::Int32 => {
                let v: i32 = integer(json)?;
                varint(i64::from(v) as u64, out);
                v != 0
            }
            FieldKind::Uint32 => {
                let v: u32 = integer(json)?;
                varint(u64::from(v), out);
                v != 0
            }
            FieldKind::Sint32 => {
                let v: i32 = integer(json)?;
                varint(u64::from(((v << 1) ^ (v >> 31)) as u32), out);
                v != 0
            }
            FieldKind::Fixed32 => {
                let v: u32 = integer(json)?;
                out.extend_from_slice(&v.to_le_bytes());
                v != 0
            }
            FieldKind::Sfixed32 => {
                let v: i32 = integer(json)?;
                out.extend_from_slice(&v.to_le_bytes());
                v != 0
            }
            FieldKind::Bool => {
                let v = json.as_bool()?;
                varint(u64::from(v), out);
                v
            }
            FieldKind::Enum(e) => {
                let n = match json {
                    Value::String(name) => e.get_value_by_name(name)?.number(),
                    number => integer::<i32>(number)?,
                };
                varint(i64::from(n) as u64, out);
                n != 0
            }
            FieldKind::String => {
                let text = json.as_str()?;
                varint(text.len() as u64, out);
                out.extend_from_slice(text.as_bytes());
                !text.is_empty()
            }
            FieldKind::Bytes => {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(json.as_str()?)
                    .ok()?;
                varint(bytes.len() as u64, out);
                out.extend_from_slice(&bytes);
                !bytes.is_empty()
            }
            FieldKind::Message(m) => {
                let mut inner = Vec::new();
                self.encode_object(*m, json.as_object()?, depth + 1, &mut inner)?;
                varint(inner.len() as u64, out);
                out.extend_from_slice(&inner);
                true
            }
        })
    }
}

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

fn wire_type(kind: &FieldKind) -> u8 {
    match kind {
        FieldKind::Double | FieldKind::Fixed64 | FieldKind::Sfixed64 => FIXED64,
        FieldKind::Float | FieldKind::Fixed32 | FieldKind::Sfixed32 => FIXED32,
        FieldKind::String | FieldKind::Bytes | FieldKind::Message(_) => LEN,
        _ => VARINT,
    }
}

fn tag(number: u32, wire_type: u8, out: &mut Vec<u8>) {
    varint((u64::from(number) << 3) | u64::from(wire_type), out);
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// An integer given as a JSON integer or a string of decimal digits (as proto3 JSON writes
/// 64-bit ones), if it fits `T`.
fn integer<T: TryFrom<i64> + TryFrom<u64> + std::str::FromStr>(json: &Value) -> Option<T> {
    match json {
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => T::try_from(i).ok(),
            (None, Some(u)) => T::try_from(u).ok(),
            _ => None,
        },
        Value::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan::testing::{random_message, schema, Rng};
    use super::*;
    use prost_reflect::prost::Message as _;
    use prost_reflect::{DeserializeOptions, DynamicMessage, SerializeOptions};

    /// What prost-reflect encodes for `json`, the reference.
    fn reference(desc: &MessageDescriptor, json: &Value) -> Option<Vec<u8>> {
        let options = DeserializeOptions::new();
        DynamicMessage::deserialize_with_options(desc.clone(), json, &options)
            .ok()
            .map(|m| m.encode_to_vec())
    }

    fn direct(plans: &Plans, desc: &MessageDescriptor, json: &Value) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        (plans.encode(desc, json, &mut out) == Outcome::Written).then_some(out)
    }

    #[test]
    fn random_messages_encode_as_prost_reflect_encodes_them() {
        let (file, plans) = schema();
        let all = file.messages().find(|m| m.name() == "All").unwrap();
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut written = 0;
        for round in 0..3000 {
            let message = random_message(&all, &mut rng, 0);
            // JSON as prost-reflect writes it, and with the .proto names.
            let options = SerializeOptions::new().use_proto_field_name(round % 2 == 1);
            let json = message
                .serialize_with_options(serde_json::value::Serializer, &options)
                .unwrap();
            let expected = reference(&all, &json);
            if let Some(bytes) = direct(&plans, &all, &json) {
                assert_eq!(Some(bytes), expected, "{json}");
                written += 1;
            }
        }
        // Messages with NaN, infinities or out-of-range floats fall back.
        assert!(written > 1500, "only {written} written directly");
    }

    #[test]
    fn unusual_json_encodes_the_same_or_falls_back() {
        let (file, plans) = schema();
        let all = file.messages().find(|m| m.name() == "All").unwrap();
        for text in [
            r#"{"i32": "12"}"#,
            r#"{"i32": 1.0}"#,
            r#"{"i32": 3000000000}"#,
            r#"{"u64": "-1"}"#,
            r#"{"i64": "+5"}"#,
            r#"{"colour": "BLUE"}"#,
            r#"{"colour": 7}"#,
            r#"{"colour": "PURPLE"}"#,
            r#"{"by": "AAEC"}"#,
            r#"{"by": "AAE"}"#,
            r#"{"d": "NaN"}"#,
            r#"{"f": 1e300}"#,
            r#"{"s": null}"#,
            r#"{"nope": 1}"#,
            r#"{"cText": "a", "cN": "5"}"#,
            r#"{"maybe": 0}"#,
            r#"{"rI32": [1, -2, 3], "r_s": ["a", ""], "rD": [0.5, 0]}"#,
            r#"{"inner": {"name": "x", "next": {"deltas": ["-3", 4]}}}"#,
            r#"{"i32": 0, "s": "", "b": false}"#,
            r#"{"rI32": [], "r_i32": [1]}"#,
        ] {
            let json: Value = serde_json::from_str(text).unwrap();
            let expected = reference(&all, &json);
            if let Some(bytes) = direct(&plans, &all, &json) {
                assert_eq!(Some(bytes), expected, "{text}");
            }
        }
        let json: Value = serde_json::from_str(r#"{"maybe": 0, "i32": 0}"#).unwrap();
        assert_eq!(direct(&plans, &all, &json).unwrap(), [0x88, 0x02, 0x00]);
        let json: Value = serde_json::from_str(r#"{"nope": 1}"#).unwrap();
        assert!(direct(&plans, &all, &json).is_none());
    }
}
