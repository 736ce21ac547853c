//! Plans of plain proto3 messages: what the direct JSON writer ([`super::to_json`]) and
//! reader ([`super::from_json`]) need of each field, looked up once per schema instead of
//! through prost-reflect's descriptors per record.
//!
//! Only plain proto3 messages get a plan: a message that holds a map, a group, a
//! well-known type or a proto2 field (directly or through message fields) has none, and
//! its records go through prost-reflect's `DynamicMessage`.

use std::collections::HashMap;

use prost_reflect::{Cardinality, EnumDescriptor, FileDescriptor, Kind, MessageDescriptor, Syntax};

/// What a direct decode did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The JSON was appended.
    Written,
    /// Nothing was appended: decode the record with prost-reflect.
    Fallback,
}

/// The plans of the messages a schema's file declares, and of the messages they use.
#[derive(Debug, Default)]
pub(crate) struct Plans {
    pub(super) plans: Vec<Option<MessagePlan>>,
    by_name: HashMap<String, usize>,
}

#[derive(Debug)]
pub(super) struct MessagePlan {
    /// In the order prost-reflect prints them (its `fields()`).
    pub(super) fields: Vec<FieldPlan>,
    /// Indexes in `fields` by field number, the order prost-reflect encodes them in.
    pub(super) by_number: Vec<usize>,
    /// Field number → index in `fields`, for the numbers below 64.
    small: [u8; 64],
    /// The rest, sorted by number.
    large: Vec<(u32, usize)>,
}

#[derive(Debug)]
pub(super) struct FieldPlan {
    /// `"jsonName":`, escaped.
    pub(super) key: Box<str>,
    /// The lowerCamelCase name JSON uses.
    pub(super) json_name: Box<str>,
    /// The name the `.proto` file gives it, which JSON may use too.
    pub(super) name: Box<str>,
    pub(super) number: u32,
    pub(super) kind: FieldKind,
    pub(super) repeated: bool,
    /// Repeated scalars written as one length-delimited run.
    pub(super) packed: bool,
    /// Printed when present, even at its default (oneof members, `optional`, messages).
    pub(super) presence: bool,
    /// Its oneof, by the number of the oneof's first field (members print only when
    /// last set of their oneof).
    pub(super) oneof: Option<usize>,
}

#[derive(Debug)]
pub(super) enum FieldKind {
    Double,
    Float,
    Int64,
    Uint64,
    Int32,
    Uint32,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
    String,
    Bytes,
    Enum(EnumDescriptor),
    Message(usize),
}

impl Plans {
    /// Plans for the messages of `file` and those they use.
    pub(crate) fn for_file(file: &FileDescriptor) -> Plans {
        let mut all = Vec::new();
        let mut stack: Vec<MessageDescriptor> = file.messages().collect();
        let mut by_name = HashMap::new();
        while let Some(message) = stack.pop() {
            if by_name.contains_key(message.full_name()) {
                continue;
            }
            by_name.insert(message.full_name().to_string(), all.len());
            stack.extend(message.child_messages());
            stack.extend(message.fields().filter_map(|f| match f.kind() {
                Kind::Message(m) => Some(m),
                _ => None,
            }));
            all.push(message);
        }
        let mut plain: Vec<bool> = all.iter().map(plain_by_itself).collect();
        // A message using one without a plan has none either.
        loop {
            let mut changed = false;
            for (i, message) in all.iter().enumerate() {
                let uses_unplanned = message.fields().any(|f| match f.kind() {
                    Kind::Message(m) => !plain[by_name[m.full_name()]],
                    _ => false,
                });
                if plain[i] && uses_unplanned {
                    plain[i] = false;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let plans = all
            .iter()
            .zip(&plain)
            .map(|(m, &ok)| ok.then(|| plan(m, &by_name)))
            .collect();
        Plans { plans, by_name }
    }

    /// The index of `message`'s plan, if it has one.
    pub(super) fn plan_of(&self, message: &MessageDescriptor) -> Option<usize> {
        let index = *self.by_name.get(message.full_name())?;
        self.plans[index].as_ref().map(|_| index)
    }
}

impl MessagePlan {
    /// The index in `fields` of the field numbered `number`.
    pub(super) fn field_of(&self, number: u32) -> Option<usize> {
        match self.small.get(number as usize) {
            Some(&i) => (i != u8::MAX).then_some(usize::from(i)),
            None => self
                .large
                .binary_search_by_key(&number, |&(n, _)| n)
                .ok()
                .map(|i| self.large[i].1),
        }
    }
}

/// Whether `message`'s own fields are plain proto3 ones this module writes.
fn plain_by_itself(message: &MessageDescriptor) -> bool {
    message.parent_file().syntax() == Syntax::Proto3
        && !message.full_name().starts_with("google.protobuf.")
        && message.fields().count() < usize::from(u8::MAX)
        && message
            .fields()
            .all(|f| !f.is_map() && !f.is_group() && f.cardinality() != Cardinality::Required)
}

fn plan(message: &MessageDescriptor, by_name: &HashMap<String, usize>) -> MessagePlan {
    let mut small = [u8::MAX; 64];
    let mut large = Vec::new();
    let mut fields = Vec::new();
    for (i, f) in message.fields().enumerate() {
        let mut key = Vec::new();
        let _ = serde_json::to_writer(&mut key, f.json_name());
        key.push(b':');
        let kind = match f.kind() {
            Kind::Double => FieldKind::Double,
            Kind::Float => FieldKind::Float,
            Kind::Int64 => FieldKind::Int64,
            Kind::Uint64 => FieldKind::Uint64,
            Kind::Int32 => FieldKind::Int32,
            Kind::Uint32 => FieldKind::Uint32,
            Kind::Sint32 => FieldKind::Sint32,
            Kind::Sint64 => FieldKind::Sint64,
            Kind::Fixed32 => FieldKind::Fixed32,
            Kind::Fixed64 => FieldKind::Fixed64,
            Kind::Sfixed32 => FieldKind::Sfixed32,
            Kind::Sfixed64 => FieldKind::Sfixed64,
            Kind::Bool => FieldKind::Bool,
            Kind::String => FieldKind::String,
            Kind::Bytes => FieldKind::Bytes,
            Kind::Enum(e) => FieldKind::Enum(e),
            Kind::Message(m) => FieldKind::Message(by_name[m.full_name()]),
        };
        let number = f.number();
        match small.get_mut(number as usize) {
            Some(slot) => *slot = i as u8,
            None => large.push((number, i)),
        }
        fields.push(FieldPlan {
            key: String::from_utf8(key).unwrap_or_default().into_boxed_str(),
            json_name: f.json_name().into(),
            name: f.name().into(),
            number,
            repeated: f.is_list(),
            packed: f.is_packed(),
            presence: f.supports_presence(),
            oneof: f
                .containing_oneof()
                .and_then(|o| o.fields().next())
                .map(|first| first.number() as usize),
            kind,
        });
    }
    large.sort_unstable();
    let mut by_number: Vec<usize> = (0..fields.len()).collect();
    by_number.sort_by_key(|&i| fields[i].number);
    MessagePlan {
        fields,
        by_number,
        small,
        large,
    }
}

/// Random messages of a schema with every kind of plain field, for the writers' tests.
#[cfg(test)]
pub(super) mod testing {
    use super::*;
    use prost_reflect::{DynamicMessage, Value};

    pub const ALL: &str = r#"
        syntax = "proto3";
        package t;
        enum Colour { RED = 0; GREEN = 1; BLUE = 2; }
        message Inner { string name = 1; repeated sint64 deltas = 2; Inner next = 3; }
        message All {
            double d = 1; float f = 2; int64 i64 = 3; uint64 u64 = 4; int32 i32 = 5;
            fixed64 fx64 = 6; fixed32 fx32 = 7; bool b = 8; string s = 9; bytes by = 12;
            uint32 u32 = 13; Colour colour = 14; sfixed32 sf32 = 15; sfixed64 sf64 = 16;
            sint32 s32 = 17; sint64 s64 = 18; Inner inner = 19;
            repeated int32 r_i32 = 20; repeated string r_s = 21; repeated Inner r_inner = 22;
            repeated double r_d = 23 [packed = false]; repeated Colour r_colour = 24;
            oneof choice { string c_text = 30; Inner c_inner = 31; int64 c_n = 32; }
            optional int32 maybe = 33; optional string maybe_s = 34;
            int32 big_number = 100;
        }
    "#;

    /// A tiny deterministic generator (xorshift).
    pub struct Rng(pub u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        pub fn pick(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn random_value(kind: &Kind, rng: &mut Rng, depth: usize) -> Value {
        let edge = |rng: &mut Rng, values: &[u64]| values[rng.pick(values.len() as u64) as usize];
        let bits = if rng.pick(3) == 0 {
            edge(rng, &[0, 1, u64::MAX, 1 << 63, 1 << 31, 0x7fff_ffff])
        } else {
            rng.next()
        };
        match kind {
            Kind::Double => Value::F64(match rng.pick(6) {
                0 => f64::NAN,
                1 => f64::NEG_INFINITY,
                2 => -0.0,
                3 => 1e300,
                _ => f64::from_bits(bits),
            }),
            Kind::Float => Value::F32(f32::from_bits(bits as u32)),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(bits as i64),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(bits),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(bits as i32),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(bits as u32),
            Kind::Bool => Value::Bool(bits & 1 == 1),
            Kind::String => {
                let texts = ["", "a", "é \"q\" \\ \n\t\u{1}\u{7f}", "日本", "\u{1F600}"];
                Value::String(texts[rng.pick(texts.len() as u64) as usize].to_string())
            }
            Kind::Bytes => Value::Bytes(
                (0..rng.pick(7))
                    .map(|_| rng.next() as u8)
                    .collect::<Vec<_>>()
                    .into(),
            ),
            Kind::Enum(_) => Value::EnumNumber(edge(rng, &[0, 1, 2, 7, u64::MAX]) as i32),
            Kind::Message(m) => Value::Message(random_message(m, rng, depth + 1)),
        }
    }

    pub fn random_message(desc: &MessageDescriptor, rng: &mut Rng, depth: usize) -> DynamicMessage {
        let mut message = DynamicMessage::new(desc.clone());
        for field in desc.fields() {
            if rng.pick(3) == 0 || (depth > 3 && matches!(field.kind(), Kind::Message(_))) {
                continue;
            }
            let value = if field.is_list() {
                Value::List(
                    (0..rng.pick(4))
                        .map(|_| random_value(&field.kind(), rng, depth))
                        .collect(),
                )
            } else {
                random_value(&field.kind(), rng, depth)
            };
            message.set_field(&field, value);
        }
        message
    }

    pub fn schema() -> (FileDescriptor, Plans) {
        let schema = crate::ProtobufSchema::parse(ALL, &[]).unwrap();
        let file = schema.file().clone();
        let plans = Plans::for_file(&file);
        (file, plans)
    }
}
