//! Protobuf messages to and from JSON, with schemas compiled from `.proto` text at run time.
//!
//! A schema is a `.proto` file's text and the files it imports (as the Schema Registry keeps
//! them: references named by import path); Google's well-known types are built in. A record
//! names its message type by indexes (see [`crate::wire`]): the first picks a top-level
//! message of the file, each next one a message nested in the previous — counting declared
//! messages only, as Confluent's Java serializer does (the entry types protoc makes for map
//! fields are not counted).
//!
//! A schema (or a reference) may also be Confluent's serialized form, the base64 of a
//! `FileDescriptorProto`, as the Python and Go serializers register it;
//! [`ProtobufSchema::serialized`] gives that form back.
//!
//! JSON follows the proto3 JSON mapping (lowerCamelCase names, 64-bit integers as strings,
//! bytes as base64, enums by name, fields at their default left out); encoding also takes
//! the `.proto` field names. Fields print in declaration order, except in a message that
//! holds a map (directly or in a message field): map entries come out of prost-reflect in
//! hash order, so such a message prints with every object's keys sorted, the same each time.
//!
//! ```
//! use kafkit_format::ProtobufSchema;
//!
//! let schema = ProtobufSchema::parse(
//!     r#"syntax = "proto3"; package shop;
//!        message Order { string id = 1; int64 cents = 2; }"#,
//!     &[],
//! )
//! .unwrap();
//! let indexes = schema.indexes_of("shop.Order").unwrap();
//! assert_eq!(indexes, [0]);
//! let bytes = schema.encode_json(&indexes, r#"{"id": "a1", "cents": "250"}"#).unwrap();
//! let mut json = String::new();
//! schema.decode_json(&indexes, &bytes, &mut json).unwrap();
//! assert_eq!(json, r#"{"id":"a1","cents":"250"}"#);
//! ```

use std::collections::HashMap;

use prost_reflect::prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, FileDescriptor, MessageDescriptor};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

use crate::error::{FormatError, Result};

mod from_json;
mod plan;
mod to_json;

/// The name the schema's own file gets among its imports.
const MAIN_FILE: &str = "kafkit-schema.proto";

/// A compiled `.proto` schema, ready to encode and decode its messages.
#[derive(Debug, Clone)]
pub struct ProtobufSchema {
    file: FileDescriptor,
    /// The messages of the file that hold a map field, directly or in a message field:
    /// their JSON is written with map keys sorted, so equal messages print the same.
    with_maps: std::sync::Arc<std::collections::HashSet<String>>,
    /// How plain proto3 messages are written to JSON without a `DynamicMessage`.
    plans: std::sync::Arc<plan::Plans>,
}

impl ProtobufSchema {
    /// Compiles `text`; `references` are the files it imports, as (import path, text).
    /// Each text may be `.proto` source or Confluent's serialized form (the base64 of a
    /// `FileDescriptorProto`).
    pub fn parse(text: &str, references: &[(&str, &str)]) -> Result<ProtobufSchema> {
        let bad = |message: String| FormatError::Schema {
            kind: "Protobuf",
            message: message.replace(MAIN_FILE, "the schema"),
        };
        // Serialized files go into the pool as they are, after the source files they may
        // import (compiled with protox, Google's well-known types built in).
        let mut sources: HashMap<String, String> = HashMap::new();
        let mut serialized = Vec::new();
        for (name, text) in references {
            match serialized_descriptor(text) {
                Some(mut file) => {
                    file.name = Some(name.to_string());
                    serialized.push(file);
                }
                None => {
                    sources.insert(name.to_string(), text.to_string());
                }
            }
        }
        let main = serialized_descriptor(text).map(|mut file| {
            if file.name().is_empty() {
                file.name = Some(MAIN_FILE.to_string());
            }
            file
        });
        let main_name = match &main {
            Some(file) => file.name().to_string(),
            None => {
                sources.insert(MAIN_FILE.to_string(), text.to_string());
                MAIN_FILE.to_string()
            }
        };
        let mut resolver = ChainFileResolver::new();
        resolver.add(Sources(sources));
        resolver.add(GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.include_imports(true);
        let given: Vec<&str> = serialized.iter().chain(&main).map(|f| f.name()).collect();
        let mut to_compile: Vec<String> = serialized
            .iter()
            .chain(&main)
            .flat_map(|f| f.dependency.iter().cloned())
            .filter(|d| !given.contains(&d.as_str()))
            .collect();
        if main.is_none() {
            to_compile.push(MAIN_FILE.to_string());
        }
        for name in &to_compile {
            compiler.open_file(name).map_err(|e| bad(e.to_string()))?;
        }
        let mut pool: DescriptorPool = compiler.descriptor_pool();
        for file in serialized.into_iter().chain(main) {
            pool.add_file_descriptor_proto(file)
                .map_err(|e| bad(e.to_string()))?;
        }
        let file = pool
            .get_file_by_name(&main_name)
            .ok_or_else(|| bad("the compiled schema lost its own file".into()))?;
        let with_maps = std::sync::Arc::new(messages_with_maps(&file));
        let plans = std::sync::Arc::new(plan::Plans::for_file(&file));
        Ok(ProtobufSchema {
            file,
            with_maps,
            plans,
        })
    }

    /// The schema in Confluent's serialized form: the base64 of its `FileDescriptorProto`
    /// (what a registry answers to `?format=serialized`).
    pub fn serialized(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.file.encode_to_vec())
    }

    /// The compiled file.
    pub(crate) fn file(&self) -> &FileDescriptor {
        &self.file
    }

    /// The full names of the file's messages, nested ones included, in index order.
    pub fn message_names(&self) -> Vec<String> {
        fn walk(m: MessageDescriptor, out: &mut Vec<String>) {
            out.push(m.full_name().to_string());
            for child in m.child_messages() {
                if !child.is_map_entry() {
                    walk(child, out);
                }
            }
        }
        let mut out = Vec::new();
        for m in self.file.messages() {
            walk(m, &mut out);
        }
        out
    }

    /// The message indexes of the message named `full_name` (package included).
    pub fn indexes_of(&self, full_name: &str) -> Result<Vec<i32>> {
        let unknown = || FormatError::Schema {
            kind: "Protobuf",
            message: format!("no message {full_name} in the schema"),
        };
        let mut message = self
            .file
            .parent_pool()
            .get_message_by_name(full_name)
            .filter(|m| m.parent_file() == self.file)
            .ok_or_else(unknown)?;
        let mut indexes = Vec::new();
        loop {
            let parent = message.parent_message();
            let siblings: Vec<MessageDescriptor> = match &parent {
                Some(p) => declared(p.child_messages()).collect(),
                None => declared(self.file.messages()).collect(),
            };
            let at = siblings
                .iter()
                .position(|s| s.full_name() == message.full_name())
                .ok_or_else(unknown)?;
            indexes.push(at as i32);
            match parent {
                Some(p) => message = p,
                None => break,
            }
        }
        indexes.reverse();
        Ok(indexes)
    }

    /// The message type `indexes` point at.
    fn message(&self, indexes: &[i32]) -> Result<MessageDescriptor> {
        let missing = || FormatError::Decode {
            kind: "Protobuf",
            message: format!("message indexes {indexes:?} point at no message of the schema"),
        };
        let (first, rest) = indexes.split_first().ok_or_else(missing)?;
        let mut message = usize::try_from(*first)
            .ok()
            .and_then(|i| declared(self.file.messages()).nth(i))
            .ok_or_else(missing)?;
        for &i in rest {
            message = usize::try_from(i)
                .ok()
                .and_then(|i| declared(message.child_messages()).nth(i))
                .ok_or_else(missing)?;
        }
        Ok(message)
    }

    /// Decodes `payload`, a message of the type `indexes` point at, and appends it to `out`
    /// as proto3 JSON.
    pub fn decode_json(&self, indexes: &[i32], payload: &[u8], out: &mut String) -> Result<()> {
        let desc = self.message(indexes)?;
        let mut buf = Vec::new();
        if self.plans.write(&desc, payload, &mut buf) == plan::Outcome::Written {
            out.push_str(std::str::from_utf8(&buf).map_err(|e| FormatError::Decode {
                kind: "Protobuf",
                message: e.to_string(),
            })?);
            return Ok(());
        }
        let full_name = desc.full_name().to_string();
        let message = DynamicMessage::decode(desc, payload).map_err(|e| FormatError::Decode {
            kind: "Protobuf",
            message: e.to_string(),
        })?;
        let failed = |e: serde_json::Error| FormatError::Decode {
            kind: "Protobuf",
            message: e.to_string(),
        };
        let options = prost_reflect::SerializeOptions::new();
        if self.with_maps.contains(full_name.as_str()) {
            // Through a serde_json value, whose objects keep keys sorted: map entries come
            // out of prost-reflect in hash order.
            let value = message
                .serialize_with_options(serde_json::value::Serializer, &options)
                .map_err(failed)?;
            serde_json::to_writer(&mut buf, &value)?;
        } else {
            let mut serializer = serde_json::Serializer::new(&mut buf);
            message
                .serialize_with_options(&mut serializer, &options)
                .map_err(failed)?;
        }
        // serde_json writes UTF-8 only.
        out.push_str(std::str::from_utf8(&buf).map_err(|e| FormatError::Decode {
            kind: "Protobuf",
            message: e.to_string(),
        })?);
        Ok(())
    }

    /// Encodes the JSON text `json` as a message of the type `indexes` point at.
    pub fn encode_json(&self, indexes: &[i32], json: &str) -> Result<Vec<u8>> {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        let bytes = self.encode(indexes, &mut deserializer)?;
        deserializer.end()?;
        Ok(bytes)
    }

    /// Encodes the parsed JSON `json` as a message of the type `indexes` point at (the
    /// same as [`Self::encode_json`] of its text, without writing the text).
    pub fn encode_value(&self, indexes: &[i32], json: &serde_json::Value) -> Result<Vec<u8>> {
        let desc = self.message(indexes)?;
        let mut bytes = Vec::new();
        if self.plans.encode(&desc, json, &mut bytes) == plan::Outcome::Written {
            return Ok(bytes);
        }
        self.encode(indexes, json)
    }

    fn encode<'de, D>(&self, indexes: &[i32], json: D) -> Result<Vec<u8>>
    where
        D: serde::Deserializer<'de>,
        D::Error: std::fmt::Display,
    {
        let desc = self.message(indexes)?;
        let message =
            DynamicMessage::deserialize(desc, json).map_err(|e| FormatError::Mismatch {
                path: "$".into(),
                message: e.to_string(),
            })?;
        Ok(message.encode_to_vec())
    }
}

/// The full names of the file's messages that hold a map field, directly or through message
/// fields (recursive messages included).
fn messages_with_maps(file: &FileDescriptor) -> std::collections::HashSet<String> {
    fn holds_map(m: &MessageDescriptor, seen: &mut std::collections::HashSet<String>) -> bool {
        if !seen.insert(m.full_name().to_string()) {
            return false;
        }
        m.fields().any(|f| {
            f.is_map()
                || match f.kind() {
                    prost_reflect::Kind::Message(inner) => holds_map(&inner, seen),
                    _ => false,
                }
        })
    }
    let mut all = Vec::new();
    let mut stack: Vec<MessageDescriptor> = file.messages().collect();
    while let Some(m) = stack.pop() {
        stack.extend(m.child_messages());
        all.push(m);
    }
    all.into_iter()
        .filter(|m| holds_map(m, &mut std::collections::HashSet::new()))
        .map(|m| m.full_name().to_string())
        .collect()
}

/// The `FileDescriptorProto` a schema text in Confluent's serialized form holds (`None`:
/// the text is `.proto` source).
fn serialized_descriptor(text: &str) -> Option<prost_reflect::prost_types::FileDescriptorProto> {
    use base64::Engine;
    let text = text.trim();
    if text.is_empty() || text.contains(|c: char| c.is_whitespace() || c == ';') {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    prost_reflect::prost_types::FileDescriptorProto::decode(bytes.as_slice()).ok()
}

/// The messages the schema declares (not the entry types of map fields).
fn declared(
    messages: impl Iterator<Item = MessageDescriptor>,
) -> impl Iterator<Item = MessageDescriptor> {
    messages.filter(|m| !m.is_map_entry())
}

/// The schema's files, by import path.
struct Sources(HashMap<String, String>);

impl FileResolver for Sources {
    fn open_file(&self, name: &str) -> std::result::Result<File, protox::Error> {
        match self.0.get(name) {
            Some(text) => File::from_source(name, text),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOP: &str = r#"
        syntax = "proto3";
        package shop;
        import "common.proto";
        import "google/protobuf/timestamp.proto";
        message Order {
            string id = 1;
            repeated Line lines = 2;
            common.Money total = 3;
            google.protobuf.Timestamp at = 4;
            map<string, int32> tags = 5;
            message Line { string sku = 1; uint32 count = 2; }
        }
        message Refund { string order_id = 1; Status status = 2; }
        enum Status { NEW = 0; DONE = 1; }
    "#;
    const COMMON: &str = r#"syntax = "proto3"; package common; message Money { int64 cents = 1; string currency = 2; }"#;

    fn shop() -> ProtobufSchema {
        ProtobufSchema::parse(SHOP, &[("common.proto", COMMON)]).unwrap()
    }

    #[test]
    fn map_entries_print_sorted_by_key() {
        let s = shop();
        let indexes = s.indexes_of("shop.Order").unwrap();
        let tags: Vec<String> = (0..40).map(|i| format!("\"k{i:02}\": {i}")).collect();
        let json = format!(r#"{{"id": "o1", "tags": {{{}}}}}"#, tags.join(", "));
        let bytes = s.encode_json(&indexes, &json).unwrap();
        let mut out = String::new();
        s.decode_json(&indexes, &bytes, &mut out).unwrap();
        let keys: Vec<&str> = out
            .match_indices("\"k")
            .map(|(i, _)| &out[i + 1..i + 4])
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys.len(), 40);
        assert_eq!(keys, sorted, "{out}");
        assert!(
            out.starts_with(r#"{"id":"o1","tags":{"k00":0,"k01":1,"#),
            "{out}"
        );
        // A message without maps keeps its declaration order.
        let bytes = s
            .encode_json(&[1], r#"{"status":"DONE","order_id":"o"}"#)
            .unwrap();
        out.clear();
        s.decode_json(&[1], &bytes, &mut out).unwrap();
        assert_eq!(out, r#"{"orderId":"o","status":"DONE"}"#);
    }

    #[test]
    fn the_serialized_form_parses_to_the_same_schema() {
        let s = shop();
        let common = ProtobufSchema::parse(COMMON, &[]).unwrap().serialized();
        let again = ProtobufSchema::parse(&s.serialized(), &[("common.proto", &common)]).unwrap();
        assert_eq!(again.message_names(), s.message_names());
        let json = r#"{"id":"o-1","total":{"cents":"5","currency":"EUR"}}"#;
        let bytes = s.encode_json(&[0], json).unwrap();
        let mut out = String::new();
        again.decode_json(&[0], &bytes, &mut out).unwrap();
        assert_eq!(out, json);
        // Text references work beside a serialized main file too.
        let mixed = ProtobufSchema::parse(&s.serialized(), &[("common.proto", COMMON)]).unwrap();
        assert_eq!(mixed.indexes_of("shop.Order.Line").unwrap(), [0, 0]);
        assert!(ProtobufSchema::parse("bm90IGEgZGVzY3JpcHRvcg==", &[]).is_err());
    }

    #[test]
    fn nested_messages_have_the_indexes_confluent_gives_them() {
        let s = shop();
        assert_eq!(s.indexes_of("shop.Order").unwrap(), [0]);
        assert_eq!(s.indexes_of("shop.Refund").unwrap(), [1]);
        // protoc makes an entry type for `tags` and puts it before Line; the Java serializer
        // counts declared messages only, so Line is [0, 0].
        assert_eq!(s.indexes_of("shop.Order.Line").unwrap(), [0, 0]);
        assert!(
            s.indexes_of("common.Money").is_err(),
            "not the schema's own"
        );
        assert_eq!(
            s.message_names(),
            ["shop.Order", "shop.Order.Line", "shop.Refund"]
        );
    }

    #[test]
    fn messages_round_trip_through_proto3_json() {
        let s = shop();
        let json = r#"{"id":"o-1","lines":[{"sku":"x","count":2}],"total":{"cents":"1250","currency":"EUR"},"at":"2026-12-03T10:00:00Z","tags":{"a":1}}"#;
        let bytes = s.encode_json(&[0], json).unwrap();
        let mut out = String::new();
        s.decode_json(&[0], &bytes, &mut out).unwrap();
        // Order holds a map: its JSON comes out with every object's keys sorted.
        let sorted = r#"{"at":"2026-12-03T10:00:00Z","id":"o-1","lines":[{"count":2,"sku":"x"}],"tags":{"a":1},"total":{"cents":"1250","currency":"EUR"}}"#;
        assert_eq!(out, sorted);
        // Field names as written in the .proto are taken too; enums by name.
        let bytes = s
            .encode_json(&[1], r#"{"order_id":"o-1","status":"DONE"}"#)
            .unwrap();
        out.clear();
        s.decode_json(&[1], &bytes, &mut out).unwrap();
        assert_eq!(out, r#"{"orderId":"o-1","status":"DONE"}"#);
        // A nested message by its indexes.
        let bytes = s.encode_json(&[0, 0], r#"{"sku":"y"}"#).unwrap();
        assert_eq!(bytes, [0x0a, 0x01, b'y']);
    }

    #[test]
    fn bad_input_is_an_error_that_says_what() {
        let s = shop();
        let err = s
            .encode_json(&[0], r#"{"nope": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");
        let err = s.encode_json(&[7], "{}").unwrap_err().to_string();
        assert!(err.contains("[7] point at no message"), "{err}");
        let mut out = String::new();
        assert!(
            s.decode_json(&[0], &[0x0a, 0x05, b'a'], &mut out).is_err(),
            "cut short"
        );
        let err = ProtobufSchema::parse("syntax = \"proto3\"; message {", &[])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("bad Protobuf schema"), "{err}");
        let err = ProtobufSchema::parse("syntax = \"proto3\"; import \"missing.proto\";", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.proto"), "{err}");
    }
}
