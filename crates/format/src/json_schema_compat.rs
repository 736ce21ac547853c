//! Whether every value valid under one JSON Schema is valid under another — the question the
//! Schema Registry asks of JSON Schemas (BACKWARD: the new schema accepts what the older ones
//! did; FORWARD: the other way round).
//!
//! The check walks both schemas side by side and names each place where the writer's schema
//! lets through a value the reader's rejects: a type narrowed (`integer` → `number` widens),
//! an `enum`/`const`/`pattern`/`format`/`not` added or narrowed, bounds tightened, a property
//! made required, a property added to an open content model (old data may hold anything
//! under that name) or removed from a closed one, `additionalProperties` closed, an
//! alternative of `anyOf`/`oneOf` dropped. `$ref`s are followed within the schema and into its
//! references. It is conservative where it cannot tell (`patternProperties`, `if`/`then`):
//! those must be unchanged.

use serde_json::{Map, Value};

use crate::json_schema::{JsonSchema, SchemaDocument};

/// How deep `$ref`s are followed before a recursive schema is taken as compatible.
const MAX_DEPTH: usize = 48;

impl JsonSchema {
    /// Why a value valid under `writer` may be invalid under this schema; empty when every
    /// such value is valid here too.
    ///
    /// ```
    /// use kafkit_format::JsonSchema;
    ///
    /// let closed = |props: &str, required: &str| {
    ///     let text = format!(
    ///         r#"{{"type": "object", "properties": {{{props}}}, "required": [{required}], "additionalProperties": false}}"#
    ///     );
    ///     JsonSchema::parse(&text, &[]).unwrap()
    /// };
    /// let old = closed(r#""id": {"type": "integer"}"#, r#""id""#);
    /// let new = closed(r#""id": {"type": "number"}, "note": {"type": "string"}"#, r#""id""#);
    /// assert!(new.problems_reading(&old).is_empty());
    /// let stricter = closed(r#""id": {"type": "integer"}, "note": {"type": "string"}"#, r#""id", "note""#);
    /// assert_eq!(stricter.problems_reading(&old), ["at $: the reader requires property note, the writer does not"]);
    /// ```
    pub fn problems_reading(&self, writer: &JsonSchema) -> Vec<String> {
        let mut check = Check {
            reader: self.document(),
            writer: writer.document(),
            problems: Vec::new(),
        };
        let (r, w) = (&check.reader.root, &check.writer.root);
        check.compare(
            Side {
                doc_root: r,
                schema: r,
            },
            Side {
                doc_root: w,
                schema: w,
            },
            "$",
            0,
        );
        check.problems
    }
}

struct Check<'a> {
    reader: &'a SchemaDocument,
    writer: &'a SchemaDocument,
    problems: Vec<String>,
}

/// A schema, and the document its local `$ref`s point into.
#[derive(Clone, Copy)]
struct Side<'a> {
    doc_root: &'a Value,
    schema: &'a Value,
}

impl<'a> Side<'a> {
    /// A schema inside this one (same document).
    fn with(self, schema: &'a Value) -> Side<'a> {
        Side {
            doc_root: self.doc_root,
            schema,
        }
    }
}

static TRUE: Value = Value::Bool(true);
/// The schema `{}`, for a side that has no object where the other has one.
static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
static FALSE: Value = Value::Bool(false);

impl<'a> Check<'a> {
    fn problem(&mut self, at: &str, message: String) {
        self.problems.push(format!("at {at}: {message}"));
    }

    /// Adds why a value valid under `writer` may be invalid under `reader`.
    fn compare(&mut self, reader: Side<'a>, writer: Side<'a>, at: &str, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let (Some(reader), Some(writer)) = (
            self.resolve(reader, self.reader, at, depth),
            self.resolve(writer, self.writer, at, depth),
        ) else {
            return;
        };
        let r = match reader.schema {
            Value::Bool(true) => return,
            Value::Object(r) if r.is_empty() => return,
            Value::Object(r) => r,
            Value::Bool(false) => {
                if writer.schema != &FALSE {
                    self.problem(at, "the reader accepts nothing".into());
                }
                return;
            }
            _ => return,
        };
        let w = match writer.schema {
            Value::Bool(false) => return,
            Value::Object(w) => w,
            _ => &*EMPTY,
        };
        self.compare_types(r, w, at);
        self.compare_values(r, w, at);
        self.compare_bounds(r, w, at);
        self.compare_exact(r, w, at);
        self.compare_objects(reader, writer, r, w, at, depth);
        self.compare_arrays(reader, writer, r, w, at, depth);
        self.compare_combinations(reader, writer, r, w, at, depth);
    }

    /// Follows `$ref` (and keeps following); `None` when it cannot be followed (said).
    fn resolve(
        &mut self,
        side: Side<'a>,
        doc: &'a SchemaDocument,
        at: &str,
        depth: usize,
    ) -> Option<Side<'a>> {
        let mut side = side;
        for _ in depth..MAX_DEPTH {
            let Some(reference) = side.schema.get("$ref").and_then(Value::as_str) else {
                return Some(side);
            };
            let (file, pointer) = reference.split_once('#').unwrap_or((reference, ""));
            let doc_root = match file {
                "" => side.doc_root,
                name => match doc.reference(name) {
                    Some(root) => root,
                    None => {
                        self.problem(at, format!("$ref {reference:?} names no reference"));
                        return None;
                    }
                },
            };
            let Some(schema) = doc_root.pointer(pointer) else {
                self.problem(at, format!("$ref {reference:?} points at nothing"));
                return None;
            };
            side = Side { doc_root, schema };
        }
        None
    }

    fn compare_types(&mut self, r: &Map<String, Value>, w: &Map<String, Value>, at: &str) {
        let Some(reader_types) = types(r) else {
            return;
        };
        let Some(writer_types) = types(w) else {
            self.problem(
                at,
                format!("the reader requires type {reader_types:?}, the writer names none"),
            );
            return;
        };
        let accepted = |t: &str| {
            reader_types.contains(&t) || (t == "integer" && reader_types.contains(&"number"))
        };
        if !writer_types.iter().all(|t| accepted(t)) {
            self.problem(
                at,
                format!(
                    "the writer's type {writer_types:?} is not among the reader's {reader_types:?}"
                ),
            );
        }
    }

    /// `enum` and `const`: every value the writer allows is one the reader allows.
    fn compare_values(&mut self, r: &Map<String, Value>, w: &Map<String, Value>, at: &str) {
        let Some(allowed) = allowed_values(r) else {
            return;
        };
        match allowed_values(w) {
            None => self.problem(
                at,
                "the reader has an enum (or const), the writer none".into(),
            ),
            Some(written) => {
                let missing: Vec<String> = written
                    .iter()
                    .filter(|v| !allowed.contains(v))
                    .map(|v| v.to_string())
                    .collect();
                if !missing.is_empty() {
                    self.problem(
                        at,
                        format!(
                            "the writer's values {} are not in the reader's enum",
                            missing.join(", ")
                        ),
                    );
                }
            }
        }
    }

    fn compare_bounds(&mut self, r: &Map<String, Value>, w: &Map<String, Value>, at: &str) {
        const LOWER: [&str; 5] = [
            "minimum",
            "exclusiveMinimum",
            "minLength",
            "minItems",
            "minProperties",
        ];
        const UPPER: [&str; 5] = [
            "maximum",
            "exclusiveMaximum",
            "maxLength",
            "maxItems",
            "maxProperties",
        ];
        for (keys, tighter) in [(LOWER, true), (UPPER, false)] {
            for key in keys {
                let Some(bound) = r.get(key).and_then(Value::as_f64) else {
                    continue;
                };
                match w.get(key).and_then(Value::as_f64) {
                    None => {
                        self.problem(at, format!("the reader has {key} {bound}, the writer none"))
                    }
                    Some(old) if (tighter && old < bound) || (!tighter && old > bound) => self
                        .problem(
                            at,
                            format!(
                                "the reader's {key} {bound} is tighter than the writer's {old}"
                            ),
                        ),
                    Some(_) => {}
                }
            }
        }
        if let Some(step) = r.get("multipleOf").and_then(Value::as_f64) {
            let fits = w
                .get("multipleOf")
                .and_then(Value::as_f64)
                .is_some_and(|old| (old / step).fract() == 0.0);
            if !fits {
                self.problem(
                    at,
                    format!("the reader's multipleOf {step} does not divide the writer's"),
                );
            }
        }
        if r.get("uniqueItems") == Some(&Value::Bool(true))
            && w.get("uniqueItems") != Some(&Value::Bool(true))
        {
            self.problem(
                at,
                "the reader requires uniqueItems, the writer does not".into(),
            );
        }
    }

    /// Keywords the check does not reason about: the reader's must equal the writer's.
    fn compare_exact(&mut self, r: &Map<String, Value>, w: &Map<String, Value>, at: &str) {
        const EXACT: [&str; 10] = [
            "pattern",
            "format",
            "not",
            "patternProperties",
            "dependencies",
            "dependentRequired",
            "dependentSchemas",
            "if",
            "then",
            "else",
        ];
        for key in EXACT {
            if let Some(value) = r.get(key) {
                if w.get(key) != Some(value) {
                    self.problem(at, format!("the reader's {key} differs from the writer's"));
                }
            }
        }
    }

    fn compare_objects(
        &mut self,
        reader: Side<'a>,
        writer: Side<'a>,
        r: &'a Map<String, Value>,
        w: &'a Map<String, Value>,
        at: &str,
        depth: usize,
    ) {
        let required = |m: &Map<String, Value>| -> Vec<String> {
            m.get("required")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let written_required = required(w);
        for name in required(r) {
            if !written_required.contains(&name) {
                self.problem(
                    at,
                    format!("the reader requires property {name}, the writer does not"),
                );
            }
        }
        let properties = |m: &'a Map<String, Value>| match m.get("properties") {
            Some(Value::Object(p)) => p,
            _ => &*EMPTY,
        };
        let (r_props, w_props) = (properties(r), properties(w));
        let r_extra = r.get("additionalProperties").unwrap_or(&TRUE);
        let w_extra = w.get("additionalProperties").unwrap_or(&TRUE);
        for (name, w_prop) in w_props {
            let here = format!("{at}.{name}");
            match r_props.get(name) {
                Some(r_prop) => {
                    self.compare(reader.with(r_prop), writer.with(w_prop), &here, depth + 1)
                }
                None if r_extra == &FALSE => self.problem(
                    at,
                    format!(
                        "the writer's property {name} is not in the reader's closed content model"
                    ),
                ),
                None => self.compare(reader.with(r_extra), writer.with(w_prop), &here, depth + 1),
            }
        }
        for (name, r_prop) in r_props {
            if w_props.contains_key(name) || w_extra == &FALSE {
                continue;
            }
            // Older data may hold anything the writer's extra properties allow under it.
            let before = self.problems.len();
            self.compare(
                reader.with(r_prop),
                writer.with(w_extra),
                &format!("{at}.{name}"),
                depth + 1,
            );
            if self.problems.len() > before {
                self.problems.truncate(before);
                self.problem(at, format!("the reader constrains property {name}, which the writer's open content model leaves free"));
            }
        }
        if r_extra != &TRUE && r_extra != &Value::Object(Map::new()) {
            let before = self.problems.len();
            self.compare(
                reader.with(r_extra),
                writer.with(w_extra),
                &format!("{at}.*"),
                depth + 1,
            );
            if self.problems.len() > before && w_extra == &TRUE {
                self.problems.truncate(before);
                self.problem(
                    at,
                    "the reader narrows additionalProperties, which the writer leaves open".into(),
                );
            }
        }
    }

    fn compare_arrays(
        &mut self,
        reader: Side<'a>,
        writer: Side<'a>,
        r: &'a Map<String, Value>,
        w: &'a Map<String, Value>,
        at: &str,
        depth: usize,
    ) {
        for key in ["prefixItems", "items"] {
            match (r.get(key), w.get(key)) {
                (Some(Value::Array(r_items)), w_items) => {
                    let w_items = w_items.and_then(Value::as_array);
                    for (i, r_item) in r_items.iter().enumerate() {
                        let w_item = w_items.and_then(|a| a.get(i)).unwrap_or(&TRUE);
                        let here = format!("{at}[{i}]");
                        self.compare(reader.with(r_item), writer.with(w_item), &here, depth + 1);
                    }
                }
                (Some(r_items), w_items) => {
                    let w_items = w_items.filter(|v| !v.is_array()).unwrap_or(&TRUE);
                    self.compare(
                        reader.with(r_items),
                        writer.with(w_items),
                        &format!("{at}[*]"),
                        depth + 1,
                    );
                }
                (None, _) => {}
            }
        }
    }

    fn compare_combinations(
        &mut self,
        reader: Side<'a>,
        writer: Side<'a>,
        r: &'a Map<String, Value>,
        w: &'a Map<String, Value>,
        at: &str,
        depth: usize,
    ) {
        // A sum: each of the writer's alternatives fits one of the reader's.
        for key in ["anyOf", "oneOf"] {
            let Some(r_alternatives) = r.get(key).and_then(Value::as_array) else {
                continue;
            };
            let whole = std::slice::from_ref(writer.schema);
            let w_alternatives = w
                .get("anyOf")
                .or_else(|| w.get("oneOf"))
                .and_then(Value::as_array)
                .map_or(whole, Vec::as_slice);
            for (i, w_alt) in w_alternatives.iter().enumerate() {
                let fits = r_alternatives.iter().any(|r_alt| {
                    let mut trial = Check {
                        reader: self.reader,
                        writer: self.writer,
                        problems: Vec::new(),
                    };
                    trial.compare(reader.with(r_alt), writer.with(w_alt), at, depth + 1);
                    trial.problems.is_empty()
                });
                if !fits {
                    self.problem(
                        at,
                        format!("the writer's alternative {i} fits none of the reader's {key}"),
                    );
                }
            }
        }
        // A product: each of the reader's parts accepts what the writer allows.
        if let Some(r_parts) = r.get("allOf").and_then(Value::as_array) {
            match w.get("allOf").and_then(Value::as_array) {
                Some(w_parts) if w_parts.len() == r_parts.len() => {
                    for (r_part, w_part) in r_parts.iter().zip(w_parts) {
                        self.compare(reader.with(r_part), writer.with(w_part), at, depth + 1);
                    }
                }
                _ => {
                    for r_part in r_parts {
                        self.compare(reader.with(r_part), writer, at, depth + 1);
                    }
                }
            }
        }
    }
}

/// The `type`s a schema names; `None` when it names none.
fn types(m: &Map<String, Value>) -> Option<Vec<&str>> {
    match m.get("type")? {
        Value::String(t) => Some(vec![t.as_str()]),
        Value::Array(ts) => Some(ts.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

/// The values `enum` or `const` allow; `None` when neither is there.
fn allowed_values(m: &Map<String, Value>) -> Option<Vec<&Value>> {
    if let Some(c) = m.get("const") {
        return Some(vec![c]);
    }
    m.get("enum")
        .and_then(Value::as_array)
        .map(|values| values.iter().collect())
}

impl SchemaDocument {
    /// The reference document named `name` (as registered, or by the URI it resolves to).
    fn reference(&self, name: &str) -> Option<&Value> {
        self.references
            .iter()
            .find(|(n, _)| n == name || crate::json_schema::uri_of(n) == name)
            .map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(text: &str) -> JsonSchema {
        JsonSchema::parse(text, &[]).unwrap()
    }

    fn problems(new: &str, old: &str) -> Vec<String> {
        schema(new).problems_reading(&schema(old))
    }

    #[test]
    fn widening_is_fine() {
        let old = r#"{"type": "object", "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 9},
            "s": {"type": "string", "enum": ["a", "b"]}}, "required": ["n", "s"], "additionalProperties": false}"#;
        let new = r#"{"type": "object", "properties": {"n": {"type": "number"}, "s": {"type": "string",
            "enum": ["a", "b", "c"]}, "extra": {"type": "boolean"}}, "required": ["n"], "additionalProperties": false}"#;
        assert_eq!(problems(new, old), Vec::<String>::new());
        assert_eq!(problems("true", old), Vec::<String>::new());
    }

    #[test]
    fn narrowing_is_named_with_where() {
        let old = r#"{"type": "object", "properties": {"n": {"type": "number"}, "s": {"type": "string",
            "enum": ["a", "b"]}, "l": {"type": "array", "items": {"type": "string"}}}}"#;
        let new = r#"{"type": "object", "properties": {"n": {"type": "integer", "maximum": 5},
            "s": {"type": "string", "enum": ["a"]}, "l": {"type": "array", "items": {"type": "string", "maxLength": 3}},
            "added": {"type": "string"}}, "required": ["n"]}"#;
        assert_eq!(
            problems(new, old),
            [
                "at $: the reader requires property n, the writer does not",
                "at $.l[*]: the reader has maxLength 3, the writer none",
                "at $.n: the writer's type [\"number\"] is not among the reader's [\"integer\"]",
                "at $.n: the reader has maximum 5, the writer none",
                "at $.s: the writer's values \"b\" are not in the reader's enum",
                "at $: the reader constrains property added, which the writer's open content model leaves free",
            ]
        );
    }

    #[test]
    fn closing_the_content_model_and_removing_from_it() {
        let open = r#"{"type": "object", "properties": {"a": {"type": "string"}}}"#;
        let closed = r#"{"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}"#;
        assert_eq!(
            problems(closed, open),
            ["at $: the reader narrows additionalProperties, which the writer leaves open"]
        );
        let closed_less = r#"{"type": "object", "properties": {}, "additionalProperties": false}"#;
        assert_eq!(
            problems(closed_less, closed),
            ["at $: the writer's property a is not in the reader's closed content model"]
        );
        assert_eq!(problems(open, closed), Vec::<String>::new());
    }

    #[test]
    fn alternatives_and_references() {
        let old = r#"{"oneOf": [{"type": "string"}, {"type": "integer"}]}"#;
        let new = r#"{"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "null"}]}"#;
        assert_eq!(problems(new, old), Vec::<String>::new());
        assert_eq!(
            problems(r#"{"anyOf": [{"type": "string"}]}"#, old),
            ["at $: the writer's alternative 1 fits none of the reader's anyOf"]
        );
        let old = r##"{"$defs": {"id": {"type": "integer"}}, "properties": {"id": {"$ref": "#/$defs/id"}}}"##;
        let new = r##"{"$defs": {"id": {"type": "string"}}, "properties": {"id": {"$ref": "#/$defs/id"}}}"##;
        assert_eq!(
            problems(new, old),
            ["at $.id: the writer's type [\"integer\"] is not among the reader's [\"string\"]"]
        );
        let address = r#"{"type": "object", "properties": {"zip": {"type": "string"}}}"#;
        let with_ref = |zip: &str| {
            JsonSchema::parse(
                r#"{"properties": {"home": {"$ref": "address.json"}}}"#,
                &[("address.json", &address.replace("string", zip))],
            )
            .unwrap()
        };
        assert_eq!(
            with_ref("integer").problems_reading(&with_ref("string")),
            ["at $.home.zip: the writer's type [\"string\"] is not among the reader's [\"integer\"]"]
        );
    }
}
