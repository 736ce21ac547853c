//! Whether data written with one `.proto` schema can be read with another, by the rules of
//! Confluent's Schema Registry: what matters is the wire format (field numbers and wire
//! types), not names.
//!
//! A change breaks reading when it
//! - changes the package, or removes a message;
//! - changes a field's type to one of another wire type (`int32`, `uint32`, `int64`,
//!   `uint64`, `bool` and enums share one; `sint32`/`sint64`, `fixed32`/`sfixed32`,
//!   `fixed64`/`sfixed64`, `string`/`bytes` are the others), or to another message or enum;
//! - turns a singular field repeated, or back, unless it is a `string`, `bytes` or message;
//! - adds, removes or makes a proto2 `required` field;
//! - removes a field of a `oneof`, or moves two or more existing fields into one.
//!
//! Renaming fields or messages' fields, adding fields, messages and enum values, and
//! removing optional fields are all fine.

use prost_reflect::{Cardinality, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor};

use crate::protobuf::ProtobufSchema;

impl ProtobufSchema {
    /// Why data written with `writer` cannot be read with this schema; empty when it can.
    ///
    /// ```
    /// use kafkit_format::ProtobufSchema;
    ///
    /// let old = ProtobufSchema::parse("syntax = \"proto3\"; message A { int32 n = 1; }", &[]).unwrap();
    /// let wider = ProtobufSchema::parse("syntax = \"proto3\"; message A { int64 n = 1; string s = 2; }", &[]).unwrap();
    /// let text = ProtobufSchema::parse("syntax = \"proto3\"; message A { string n = 1; }", &[]).unwrap();
    /// assert!(wider.problems_reading(&old).is_empty());
    /// assert_eq!(text.problems_reading(&old), ["field A.n (1) changed from int32 to string"]);
    /// ```
    pub fn problems_reading(&self, writer: &ProtobufSchema) -> Vec<String> {
        let mut problems = Vec::new();
        compare_files(writer.file(), self.file(), &mut problems);
        problems
    }
}

/// `writer` → `reader`, file-wide: package, then every message the writer has.
fn compare_files(writer: &FileDescriptor, reader: &FileDescriptor, problems: &mut Vec<String>) {
    let (w_package, r_package) = (writer.package_name(), reader.package_name());
    if w_package != r_package {
        problems.push(format!(
            "the package changed from {w_package:?} to {r_package:?}"
        ));
    }
    let readers = messages_by_local_name(reader);
    for (name, w) in messages_by_local_name(writer) {
        match readers.iter().find(|(n, _)| *n == name) {
            None => problems.push(format!("message {name} was removed")),
            Some((_, r)) => compare_messages(&name, &w, r, problems),
        }
    }
}

/// Every declared message of `file` (nested ones included), named without the package.
fn messages_by_local_name(file: &FileDescriptor) -> Vec<(String, MessageDescriptor)> {
    fn walk(m: MessageDescriptor, package: &str, out: &mut Vec<(String, MessageDescriptor)>) {
        let local = local_name(m.full_name(), package).to_string();
        out.push((local, m.clone()));
        for child in m.child_messages().filter(|c| !c.is_map_entry()) {
            walk(child, package, out);
        }
    }
    let mut out = Vec::new();
    for m in file.messages() {
        walk(m, file.package_name(), &mut out);
    }
    out
}

fn local_name<'a>(full_name: &'a str, package: &str) -> &'a str {
    match package {
        "" => full_name,
        p => full_name
            .strip_prefix(p)
            .and_then(|rest| rest.strip_prefix('.'))
            .unwrap_or(full_name),
    }
}

fn compare_messages(
    name: &str,
    writer: &MessageDescriptor,
    reader: &MessageDescriptor,
    problems: &mut Vec<String>,
) {
    for w in writer.fields() {
        let field = format!("field {name}.{} ({})", w.name(), w.number());
        match reader.get_field(w.number()) {
            None if w.cardinality() == Cardinality::Required => {
                problems.push(format!("{field} is required and was removed"));
            }
            None => {
                if let Some(oneof) = real_oneof(&w) {
                    problems.push(format!("{field} was removed from oneof {}", oneof));
                }
            }
            Some(r) => compare_fields(&field, &w, &r, problems),
        }
    }
    for r in reader.fields() {
        if writer.get_field(r.number()).is_none() && r.cardinality() == Cardinality::Required {
            problems.push(format!(
                "required field {name}.{} ({}) was added",
                r.name(),
                r.number()
            ));
        }
    }
    // Fields that were apart, now in one oneof: data setting two of them no longer reads.
    for oneof in reader.oneofs().filter(|o| !o.is_synthetic()) {
        let moved: Vec<String> = oneof
            .fields()
            .filter(|r| {
                writer
                    .get_field(r.number())
                    .is_some_and(|w| real_oneof(&w).is_none())
            })
            .map(|r| r.name().to_string())
            .collect();
        if moved.len() > 1 {
            problems.push(format!(
                "fields {} of {name} were moved into oneof {}",
                moved.join(", "),
                oneof.name()
            ));
        }
    }
}

/// The name of the `oneof` the field is in, unless that is proto3's synthetic one of an
/// `optional` field.
fn real_oneof(field: &FieldDescriptor) -> Option<String> {
    field
        .containing_oneof()
        .filter(|o| !o.is_synthetic())
        .map(|o| o.name().to_string())
}

fn compare_fields(
    field: &str,
    writer: &FieldDescriptor,
    reader: &FieldDescriptor,
    problems: &mut Vec<String>,
) {
    if writer.is_map() || reader.is_map() {
        match (map_kinds(writer), map_kinds(reader)) {
            (Some((wk, wv)), Some((rk, rv))) => {
                compare_kinds(&format!("{field}'s keys"), &wk, &rk, problems);
                compare_kinds(&format!("{field}'s values"), &wv, &rv, problems);
            }
            _ => problems.push(format!(
                "{field} changed from {} to {}",
                describe(writer),
                describe(reader)
            )),
        }
        return;
    }
    compare_kinds(field, &writer.kind(), &reader.kind(), problems);
    let length_delimited = matches!(writer.kind(), Kind::String | Kind::Bytes | Kind::Message(_));
    if writer.is_list() != reader.is_list() && !length_delimited {
        problems.push(format!(
            "{field} changed from {} to {}",
            describe(writer),
            describe(reader)
        ));
    }
    if reader.cardinality() == Cardinality::Required
        && writer.cardinality() != Cardinality::Required
    {
        problems.push(format!("{field} became required"));
    }
}

fn map_kinds(field: &FieldDescriptor) -> Option<(Kind, Kind)> {
    match field.kind() {
        Kind::Message(entry) if field.is_map() => Some((
            entry.map_entry_key_field().kind(),
            entry.map_entry_value_field().kind(),
        )),
        _ => None,
    }
}

fn compare_kinds(what: &str, writer: &Kind, reader: &Kind, problems: &mut Vec<String>) {
    let same = match (writer, reader) {
        // By the name inside their package: a package change is said once, file-wide.
        (Kind::Message(w), Kind::Message(r)) => {
            local_name(w.full_name(), w.package_name())
                == local_name(r.full_name(), r.package_name())
        }
        (Kind::Enum(w), Kind::Enum(r)) => {
            local_name(w.full_name(), w.package_name())
                == local_name(r.full_name(), r.package_name())
        }
        (w, r) => wire_group(w) == wire_group(r),
    };
    if !same {
        problems.push(format!(
            "{what} changed from {} to {}",
            kind_name(writer),
            kind_name(reader)
        ));
    }
}

/// Kinds that read each other's bytes share a group.
fn wire_group(kind: &Kind) -> u8 {
    match kind {
        Kind::Int32 | Kind::Uint32 | Kind::Int64 | Kind::Uint64 | Kind::Bool | Kind::Enum(_) => 0,
        Kind::Sint32 | Kind::Sint64 => 1,
        Kind::Fixed32 | Kind::Sfixed32 => 2,
        Kind::Fixed64 | Kind::Sfixed64 => 3,
        Kind::String | Kind::Bytes => 4,
        Kind::Float => 5,
        Kind::Double => 6,
        Kind::Message(_) => 7,
    }
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => m.full_name().to_string(),
        Kind::Enum(e) => e.full_name().to_string(),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn describe(field: &FieldDescriptor) -> String {
    match map_kinds(field) {
        Some((k, v)) => format!("map<{}, {}>", kind_name(&k), kind_name(&v)),
        None if field.is_list() => format!("repeated {}", kind_name(&field.kind())),
        None => kind_name(&field.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proto(body: &str) -> ProtobufSchema {
        ProtobufSchema::parse(&format!("syntax = \"proto3\"; package p; {body}"), &[]).unwrap()
    }

    fn proto2(body: &str) -> ProtobufSchema {
        ProtobufSchema::parse(&format!("syntax = \"proto2\"; package p; {body}"), &[]).unwrap()
    }

    #[test]
    fn wire_compatible_changes_are_fine() {
        let old = proto(
            "enum E { A = 0; } message M { int32 a = 1; string b = 2; E c = 3; \
             repeated string d = 4; map<int32, int32> e = 5; message N { int32 x = 1; } N f = 6; }",
        );
        let new = proto(
            "enum E { A = 0; B = 1; } message M { int64 renamed = 1; bytes b = 2; uint32 c = 3; \
             string d = 4; map<int64, uint64> e = 5; message N { int32 x = 1; } N f = 6; \
             double added = 7; } message Other { }",
        );
        assert_eq!(new.problems_reading(&old), Vec::<String>::new());
        // Removing optional fields is fine too.
        let fewer = proto("message M { message N { int32 x = 1; } }");
        assert_eq!(fewer.problems_reading(&old), Vec::<String>::new());
    }

    #[test]
    fn wire_incompatible_changes_are_named() {
        let old = proto(
            "message M { int32 a = 1; sint32 b = 2; repeated int32 c = 3; oneof o { string d = 4; int32 e = 5; } \
             int32 f = 6; int32 g = 7; } message Gone { }",
        );
        let new = proto(
            "message M { string a = 1; int32 b = 2; int32 c = 3; oneof o { string d = 4; } \
             oneof p { int32 f = 6; int32 g = 7; } }",
        );
        assert_eq!(
            new.problems_reading(&old),
            [
                "field M.a (1) changed from int32 to string",
                "field M.b (2) changed from sint32 to int32",
                "field M.c (3) changed from repeated int32 to int32",
                "field M.e (5) was removed from oneof o",
                "fields f, g of M were moved into oneof p",
                "message Gone was removed",
            ]
        );
    }

    #[test]
    fn package_and_message_types_are_checked() {
        let old = proto("message A { } message B { } message M { A a = 1; }");
        let new = proto("message A { } message B { } message M { B a = 1; }");
        assert_eq!(
            new.problems_reading(&old),
            ["field M.a (1) changed from p.A to p.B"]
        );
        let moved = ProtobufSchema::parse(
            "syntax = \"proto3\"; package q; message A { } message B { } message M { A a = 1; }",
            &[],
        )
        .unwrap();
        assert_eq!(
            moved.problems_reading(&old),
            ["the package changed from \"p\" to \"q\""]
        );
    }

    #[test]
    fn proto2_required_fields_may_not_come_or_go() {
        let old = proto2("message M { required int32 a = 1; optional int32 b = 2; }");
        let new = proto2("message M { required int32 b = 2; required int32 c = 3; }");
        assert_eq!(
            new.problems_reading(&old),
            [
                "field M.a (1) is required and was removed",
                "field M.b (2) became required",
                "required field M.c (3) was added",
            ]
        );
    }
}
