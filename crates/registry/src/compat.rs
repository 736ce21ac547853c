//! Parsing a schema with its references, and checking a new schema against older ones.

use apache_avro::schema_compatibility::SchemaCompatibility;
use kafkit_format::{AvroSchema, JsonSchema, ProtobufSchema};

use crate::model::{Compatibility, SchemaType};

/// A schema parsed by the formats crate.
#[derive(Debug)]
pub(crate) enum Parsed {
    Avro(Box<AvroSchema>),
    Protobuf(Box<ProtobufSchema>),
    Json(Box<JsonSchema>),
}

/// Parses `text` of `kind`; `references` are (name, text) of every schema it uses, the
/// ones they use included, dependencies first.
pub(crate) fn parse(
    kind: SchemaType,
    text: &str,
    references: &[(String, String)],
) -> Result<Parsed, String> {
    let pairs: Vec<(&str, &str)> = references
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let parsed = match kind {
        SchemaType::Avro => {
            let texts: Vec<&str> = pairs.iter().map(|(_, t)| *t).collect();
            AvroSchema::parse_with_references(text, &texts).map(|s| Parsed::Avro(Box::new(s)))
        }
        SchemaType::Protobuf => {
            ProtobufSchema::parse(text, &pairs).map(|s| Parsed::Protobuf(Box::new(s)))
        }
        SchemaType::Json => JsonSchema::parse(text, &pairs).map(|s| Parsed::Json(Box::new(s))),
    };
    parsed.map_err(|e| e.to_string())
}

/// The text that decides whether two schemas are the same one: JSON schemas (Avro, JSON
/// Schema) compacted with sorted keys, Protobuf text trimmed.
pub(crate) fn canonical_text(kind: SchemaType, text: &str) -> String {
    match kind {
        SchemaType::Avro | SchemaType::Json => serde_json::from_str::<serde_json::Value>(text)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| text.trim().to_string()),
        SchemaType::Protobuf => text.trim().to_string(),
    }
}

/// Why `new` breaks `level` against `older` (oldest first; only the last one unless the level
/// is transitive). Empty when compatible.
pub(crate) fn incompatibilities(
    level: Compatibility,
    new: &Parsed,
    older: &[Parsed],
) -> Vec<String> {
    let against: &[Parsed] = if level.transitive() {
        older
    } else {
        older.last().map(std::slice::from_ref).unwrap_or(&[])
    };
    let mut problems = Vec::new();
    for old in against {
        // (reader, writer) for each direction the level checks.
        let mut directions = Vec::new();
        if level.backward() {
            directions.push((
                new,
                old,
                "the new schema cannot read data written with an older one",
            ));
        }
        if level.forward() {
            directions.push((
                old,
                new,
                "an older schema cannot read data written with the new one",
            ));
        }
        for (reader, writer, why) in directions {
            let found = match (reader, writer) {
                (Parsed::Avro(r), Parsed::Avro(w)) => {
                    match SchemaCompatibility::can_read(w.schema(), r.schema()) {
                        Ok(()) => Vec::new(),
                        Err(e) => vec![e.to_string()],
                    }
                }
                (Parsed::Protobuf(r), Parsed::Protobuf(w)) => r.problems_reading(w),
                (Parsed::Json(r), Parsed::Json(w)) => r.problems_reading(w),
                _ => vec!["the new schema is of another type than an older one".into()],
            };
            problems.extend(found.into_iter().map(|p| format!("{why}: {p}")));
        }
    }
    problems.dedup();
    problems
}
