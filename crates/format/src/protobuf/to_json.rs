//! Protobuf messages written straight from the wire bytes to proto3 JSON text, without a
//! `DynamicMessage`: the same text prost-reflect's serializer writes (field order, names,
//! defaults left out, 64-bit integers as strings, enums by name, bytes as base64, floats as
//! serde_json writes them), measured in docs/PERFORMANCE.md.
//!
//! Only messages with a plan ([`super::plan`]) take this path, and a record whose bytes
//! need what the plan does not do — a message field given twice (its parts merge), a group
//! on the wire, a wire type that does not match its field, text that
//! is not UTF-8, bytes cut short — is [`Outcome::Fallback`]: the caller decodes it with
//! prost-reflect, which also names what is wrong.

use prost_reflect::MessageDescriptor;

use super::plan::{FieldKind, FieldPlan, Outcome, Plans};

/// How deep messages may nest (prost's own limit).
pub(super) const MAX_DEPTH: usize = 100;

/// The largest field number a tag may hold.
const MAX_FIELD_NUMBER: u32 = (1 << 29) - 1;

impl Plans {
    /// Appends `payload`, a `message`, to `out` as proto3 JSON, or says to fall back.
    pub(crate) fn write(
        &self,
        message: &MessageDescriptor,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Outcome {
        let Some(index) = self.plan_of(message) else {
            return Outcome::Fallback;
        };
        let start = out.len();
        match self.message(index, payload, 0, out) {
            Some(()) => Outcome::Written,
            None => {
                out.truncate(start);
                Outcome::Fallback
            }
        }
    }

    fn message(&self, index: usize, bytes: &[u8], depth: usize, out: &mut Vec<u8>) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let plan = self.plans[index].as_ref()?;
        // Where each known field occurs: (field, order seen, value bytes or number).
        let mut seen: Vec<(usize, usize, Wire)> = Vec::new();
        let mut input = bytes;
        while !input.is_empty() {
            let tag = varint(&mut input)?;
            let number = u32::try_from(tag >> 3).ok()?;
            let wire = match tag & 7 {
                0 => Wire::Varint(varint(&mut input)?),
                1 => Wire::Fixed64(u64::from_le_bytes(take(&mut input, 8)?.try_into().ok()?)),
                2 => {
                    let len = usize::try_from(varint(&mut input)?).ok()?;
                    Wire::Len(take(&mut input, len)?)
                }
                5 => Wire::Fixed32(u32::from_le_bytes(take(&mut input, 4)?.try_into().ok()?)),
                _ => return None, // groups, or no wire type at all
            };
            if number == 0 || number > MAX_FIELD_NUMBER {
                return None;
            }
            if let Some(field) = plan.field_of(number) {
                seen.push((field, seen.len(), wire));
            }
        }
        seen.sort_by_key(|&(field, order, _)| (field, order));
        // The member of each oneof set last.
        let mut winners: Vec<(usize, usize)> = Vec::new(); // (oneof, order)
        for &(field, order, _) in &seen {
            if let Some(oneof) = plan.fields[field].oneof {
                match winners.iter_mut().find(|(o, _)| *o == oneof) {
                    Some(w) => w.1 = w.1.max(order),
                    None => winners.push((oneof, order)),
                }
            }
        }
        out.push(b'{');
        let mut first = true;
        let mut rest = &seen[..];
        while let Some(&(field, _, _)) = rest.first() {
            let count = rest.iter().take_while(|s| s.0 == field).count();
            let (occurrences, after) = rest.split_at(count);
            rest = after;
            let spec = &plan.fields[field];
            let (_, last_order, last) = occurrences[count - 1];
            if let Some(oneof) = spec.oneof {
                if !winners.contains(&(oneof, last_order)) {
                    continue;
                }
            }
            let mark = out.len();
            if !first {
                out.push(b',');
            }
            out.extend_from_slice(spec.key.as_bytes());
            if spec.repeated {
                out.push(b'[');
                let mut items = 0;
                for (_, _, wire) in occurrences {
                    items += self.items(spec, *wire, depth, out)?;
                }
                if items == 0 {
                    out.truncate(mark);
                    continue;
                }
                out.push(b']');
            } else {
                if matches!(spec.kind, FieldKind::Message(_)) && count > 1 {
                    return None; // the parts merge
                }
                let printed = self.value(spec, last, depth, out)?;
                if !printed && !spec.presence {
                    out.truncate(mark);
                    continue;
                }
            }
            first = false;
        }
        out.push(b'}');
        Some(())
    }

    /// Appends the items one occurrence of a repeated field holds (a packed run holds
    /// several), each after a comma but the list's first; how many.
    fn items(
        &self,
        spec: &FieldPlan,
        wire: Wire,
        depth: usize,
        out: &mut Vec<u8>,
    ) -> Option<usize> {
        let packable = !matches!(
            spec.kind,
            FieldKind::String | FieldKind::Bytes | FieldKind::Message(_)
        );
        let mut values = Vec::new();
        match wire {
            Wire::Len(mut run) if packable => {
                while !run.is_empty() {
                    values.push(match spec.kind {
                        FieldKind::Double | FieldKind::Fixed64 | FieldKind::Sfixed64 => {
                            Wire::Fixed64(u64::from_le_bytes(take(&mut run, 8)?.try_into().ok()?))
                        }
                        FieldKind::Float | FieldKind::Fixed32 | FieldKind::Sfixed32 => {
                            Wire::Fixed32(u32::from_le_bytes(take(&mut run, 4)?.try_into().ok()?))
                        }
                        _ => Wire::Varint(varint(&mut run)?),
                    });
                }
            }
            wire => values.push(wire),
        }
        for wire in &values {
            if out.last() != Some(&b'[') {
                out.push(b',');
            }
            self.value(spec, *wire, depth, out)?;
        }
        Some(values.len())
    }

    /// Appends one value; whether it differs from its type's default.
    fn value(&self, spec: &FieldPlan, wire: Wire, depth: usize, out: &mut Vec<u8>) -> Option<bool> {
        use serde_json::ser::{CompactFormatter, Formatter};
        let mut f = CompactFormatter;
        let not_default = match (&spec.kind, wire) {
            (FieldKind::Double, Wire::Fixed64(bits)) => float(f64::from_bits(bits), out),
            (FieldKind::Float, Wire::Fixed32(bits)) => float(f32::from_bits(bits), out),
            (FieldKind::Int64, Wire::Varint(v)) => quoted(v as i64, out),
            (FieldKind::Uint64, Wire::Varint(v)) => quoted(v, out),
            (FieldKind::Sint64, Wire::Varint(v)) => quoted(zigzag(v), out),
            (FieldKind::Fixed64, Wire::Fixed64(v)) => quoted(v, out),
            (FieldKind::Sfixed64, Wire::Fixed64(v)) => quoted(v as i64, out),
            (FieldKind::Int32, Wire::Varint(v)) => number(v as i32, out),
            (FieldKind::Uint32, Wire::Varint(v)) => number(v as u32, out),
            (FieldKind::Sint32, Wire::Varint(v)) => number(zigzag(u64::from(v as u32)) as i32, out),
            (FieldKind::Fixed32, Wire::Fixed32(v)) => number(v, out),
            (FieldKind::Sfixed32, Wire::Fixed32(v)) => number(v as i32, out),
            (FieldKind::Bool, Wire::Varint(v)) => {
                f.write_bool(out, v != 0).ok()?;
                v != 0
            }
            (FieldKind::Enum(e), Wire::Varint(v)) => {
                let n = v as i32;
                match e.get_value(n) {
                    Some(value) => serde_json::to_writer(&mut *out, value.name()).ok()?,
                    None => {
                        number(n, out);
                    }
                }
                n != 0
            }
            (FieldKind::String, Wire::Len(b)) => {
                let text = std::str::from_utf8(b).ok()?;
                serde_json::to_writer(&mut *out, text).ok()?;
                !text.is_empty()
            }
            (FieldKind::Bytes, Wire::Len(b)) => {
                use base64::Engine;
                out.push(b'"');
                let at = out.len();
                out.resize(at + b.len().div_ceil(3) * 4, 0);
                let n = base64::engine::general_purpose::STANDARD
                    .encode_slice(b, &mut out[at..])
                    .ok()?;
                out.truncate(at + n);
                out.push(b'"');
                !b.is_empty()
            }
            (FieldKind::Message(m), Wire::Len(b)) => {
                self.message(*m, b, depth + 1, out)?;
                true
            }
            _ => return None, // a wire type its field does not take
        };
        Some(not_default)
    }
}

#[derive(Debug, Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Len(&'a [u8]),
}

fn varint(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..70).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        if shift == 63 && byte > 1 {
            return None;
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if input.len() < n {
        return None;
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Some(head)
}

fn zigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

fn quoted<T: itoa::Integer + Default + PartialEq>(v: T, out: &mut Vec<u8>) -> bool {
    out.push(b'"');
    number(v, out);
    out.push(b'"');
    v != T::default()
}

fn number<T: itoa::Integer + Default + PartialEq>(v: T, out: &mut Vec<u8>) -> bool {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    v != T::default()
}

fn float<F: zmij::Float + Into<f64> + Copy>(v: F, out: &mut Vec<u8>) -> bool {
    let wide: f64 = v.into();
    if wide.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if wide.is_infinite() {
        out.extend_from_slice(if wide > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        });
    } else {
        out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    }
    wide != 0.0
}

#[cfg(test)]
mod tests {
    use super::super::plan::testing::{random_message, schema, Rng};
    use super::*;
    use prost_reflect::prost::Message as _;
    use prost_reflect::DynamicMessage;

    /// What prost-reflect writes, the reference.
    fn reference(desc: &MessageDescriptor, bytes: &[u8]) -> Option<String> {
        let message = DynamicMessage::decode(desc.clone(), bytes).ok()?;
        let mut out = Vec::new();
        let options = prost_reflect::SerializeOptions::new();
        message
            .serialize_with_options(&mut serde_json::Serializer::new(&mut out), &options)
            .ok()?;
        Some(String::from_utf8(out).unwrap())
    }

    fn direct(plans: &Plans, desc: &MessageDescriptor, bytes: &[u8]) -> Option<String> {
        let mut out = Vec::new();
        (plans.write(desc, bytes, &mut out) == Outcome::Written)
            .then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn random_messages_print_as_prost_reflect_prints_them() {
        let (file, plans) = schema();
        let all = file.messages().find(|m| m.name() == "All").unwrap();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut written = 0;
        for _ in 0..3000 {
            let bytes = random_message(&all, &mut rng, 0).encode_to_vec();
            let expected = reference(&all, &bytes).unwrap();
            if let Some(text) = direct(&plans, &all, &bytes) {
                assert_eq!(text, expected, "bytes {bytes:02x?}");
                written += 1;
            }
        }
        assert!(written > 2900, "only {written} written directly");
    }

    #[test]
    fn unusual_wire_bytes_print_the_same_or_fall_back() {
        let (file, plans) = schema();
        let all = file.messages().find(|m| m.name() == "All").unwrap();
        let cases: &[&[u8]] = &[
            &[0x28, 0x05, 0x28, 0x07],                   // i32 twice: the last wins
            &[0x48 | 0x02, 0x01, b'x', 0x28, 0x01],      // out of order (s, then i32)
            &[0xf2, 0x01, 0x01, b'a', 0x80, 0x02, 0x05], // oneof: text, then n: n wins
            &[0xa0, 0x01, 0x01, 0xa2, 0x01, 0x02, 0x02, 0x03], // r_i32 unpacked, then packed
            &[0xa2, 0x01, 0x00],                         // an empty packed run
            &[0x98, 0x01, 0x02, 0x9a, 0x01, 0x00],       // inner given twice: merged (fallback)
            &[0x28],                                     // cut short
            &[0x4a, 0x02, 0xff, 0xfe],                   // s not UTF-8
            &[0x29, 0, 0, 0, 0, 0, 0, 0, 0],             // i32 with a 64-bit wire type
            &[0xf8, 0xff, 0xff, 0xff, 0x7f, 0x01],       // an unknown field
            &[0x0b, 0x0c],                               // a group
            &[0x88, 0x02, 0x00],                         // maybe = 0: present
            &[0xa0, 0x06, 0x2a],                         // field 100
        ];
        for &bytes in cases {
            let expected = reference(&all, bytes);
            if let Some(text) = direct(&plans, &all, bytes) {
                assert_eq!(Some(text), expected, "bytes {bytes:02x?}");
            }
        }
        assert_eq!(
            direct(&plans, &all, &[0x28, 0x05, 0x28, 0x07]).unwrap(),
            r#"{"i32":7}"#
        );
        assert_eq!(
            direct(&plans, &all, &[0x88, 0x02, 0x00]).unwrap(),
            r#"{"maybe":0}"#
        );
        assert!(direct(&plans, &all, &[0x28]).is_none());
    }

    #[test]
    fn messages_with_maps_or_well_known_types_have_no_plan() {
        let schema = crate::ProtobufSchema::parse(
            r#"syntax = "proto3"; import "google/protobuf/timestamp.proto";
               message M { map<string, int32> m = 1; }
               message T { google.protobuf.Timestamp at = 1; }
               message U { T t = 1; }
               message P { int32 n = 1; }"#,
            &[],
        )
        .unwrap();
        let plans = Plans::for_file(schema.file());
        let mut out = Vec::new();
        for name in ["M", "T", "U"] {
            let desc = schema.file().messages().find(|m| m.name() == name).unwrap();
            assert_eq!(
                plans.write(&desc, &[], &mut out),
                Outcome::Fallback,
                "{name}"
            );
        }
        let plain = schema.file().messages().find(|m| m.name() == "P").unwrap();
        assert_eq!(
            plans.write(&plain, &[0x08, 0x01], &mut out),
            Outcome::Written
        );
        assert_eq!(out, br#"{"n":1}"#);
    }
}
