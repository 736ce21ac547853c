//! JSON values checked against a JSON Schema: the payload is the JSON text itself.
//!
//! References (`"$ref": "address.json"`) are resolved from the schemas given with the
//! schema, by name, as the Schema Registry keeps them; nothing is fetched from the network.
//!
//! ```
//! use kafkit_format::JsonSchema;
//!
//! let schema = JsonSchema::parse(
//!     r#"{"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}"#,
//!     &[],
//! )
//! .unwrap();
//! assert_eq!(schema.encode_json(r#"{ "id": 7 }"#).unwrap(), br#"{"id":7}"#);
//! let err = schema.encode_json(r#"{"id": "seven"}"#).unwrap_err();
//! assert_eq!(err.to_string(), r#"at $.id: "seven" is not of type "integer""#);
//! ```

use jsonschema::{Registry, Validator};
use serde_json::Value;

use crate::error::{FormatError, Result};

/// Where the schema and its references live, for resolving relative `$ref`s; never fetched.
const BASE: &str = "https://schemas.kafkit.invalid/";

/// A compiled JSON Schema.
#[derive(Debug, Clone)]
pub struct JsonSchema {
    validator: std::sync::Arc<Validator>,
    document: std::sync::Arc<SchemaDocument>,
}

/// A schema's JSON and its references', as given (for comparing schemas).
#[derive(Debug)]
pub(crate) struct SchemaDocument {
    pub(crate) root: Value,
    /// (name, schema) of each reference.
    pub(crate) references: Vec<(String, Value)>,
}

impl JsonSchema {
    /// Compiles `text`; `references` are the schemas its `$ref`s name, as (name, text).
    pub fn parse(text: &str, references: &[(&str, &str)]) -> Result<JsonSchema> {
        let bad = |message: String| FormatError::Schema {
            kind: "JSON Schema",
            message,
        };
        let schema: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut resources = Vec::with_capacity(references.len());
        let mut document = SchemaDocument {
            root: schema.clone(),
            references: Vec::with_capacity(references.len()),
        };
        for (name, text) in references {
            let value: Value =
                serde_json::from_str(text).map_err(|e| bad(format!("reference {name}: {e}")))?;
            resources.push((uri_of(name), value.clone()));
            document.references.push((name.to_string(), value));
        }
        let validator = if resources.is_empty() {
            jsonschema::options()
                .with_base_uri(format!("{BASE}schema.json"))
                .build(&schema)
        } else {
            let mut registry = Registry::new();
            for (uri, value) in &resources {
                registry = registry
                    .add(uri.as_str(), value)
                    .map_err(|e| bad(e.to_string()))?;
            }
            let registry = registry.prepare().map_err(|e| bad(e.to_string()))?;
            jsonschema::options()
                .with_base_uri(format!("{BASE}schema.json"))
                .with_registry(&registry)
                .build(&schema)
        }
        .map_err(|e| bad(e.to_string()))?;
        Ok(JsonSchema {
            validator: std::sync::Arc::new(validator),
            document: std::sync::Arc::new(document),
        })
    }

    /// The schema's JSON and its references'.
    pub(crate) fn document(&self) -> &SchemaDocument {
        &self.document
    }

    /// Checks `value`; the error names the first place that does not fit.
    pub fn validate(&self, value: &Value) -> Result<()> {
        match self.validator.iter_errors(value).next() {
            None => Ok(()),
            Some(e) => {
                let pointer = e.instance_path().to_string();
                Err(FormatError::Mismatch {
                    path: path_of(&pointer),
                    message: e.to_string(),
                })
            }
        }
    }

    /// Checks the JSON text `json` and returns it compacted, the payload to frame.
    pub fn encode_json(&self, json: &str) -> Result<Vec<u8>> {
        let value: Value = serde_json::from_str(json)?;
        self.validate(&value)?;
        Ok(serde_json::to_vec(&value)?)
    }

    /// Appends the payload to `out` as JSON, checked against the schema when `check`.
    pub fn decode_json(&self, payload: &[u8], check: bool, out: &mut String) -> Result<()> {
        let text = std::str::from_utf8(payload).map_err(|e| FormatError::Decode {
            kind: "JSON Schema",
            message: format!("the payload is not UTF-8: {e}"),
        })?;
        let value: Value = serde_json::from_str(text)?;
        if check {
            self.validate(&value)?;
        }
        out.push_str(&serde_json::to_string(&value)?);
        Ok(())
    }
}

/// The URI a reference named `name` is found at.
pub(crate) fn uri_of(name: &str) -> String {
    if name.contains("://") || name.starts_with("urn:") {
        name.to_string()
    } else {
        format!("{BASE}{}", name.trim_start_matches('/'))
    }
}

/// A JSON pointer (`/address/0/zip`) as a path like the other formats' (`$.address[0].zip`).
fn path_of(pointer: &str) -> String {
    let mut path = String::from("$");
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()) {
            path.push_str(&format!("[{part}]"));
        } else if !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            path.push('.');
            path.push_str(&part);
        } else {
            path.push_str(&format!("[{part:?}]"));
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_by_name_and_errors_name_the_place() {
        let address = r#"{"type":"object","properties":{"zip":{"type":"string","pattern":"^[0-9]{4}$"}},"required":["zip"]}"#;
        let order = r#"{"type":"object","properties":{"to":{"type":"array","items":{"$ref":"address.json"}}}}"#;
        let schema = JsonSchema::parse(order, &[("address.json", address)]).unwrap();
        assert!(schema.encode_json(r#"{"to":[{"zip":"1000"}]}"#).is_ok());
        let err = schema
            .encode_json(r#"{"to":[{"zip":"1000"},{"zip":"x"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("at $.to[1].zip: "), "{err}");
        let err = schema
            .encode_json(r#"{"to":[{}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("at $.to[0]: "), "{err}");
    }

    #[test]
    fn decoding_checks_only_when_asked() {
        let schema = JsonSchema::parse(r#"{"type":"integer"}"#, &[]).unwrap();
        let mut out = String::new();
        schema.decode_json(b"\"x\"", false, &mut out).unwrap();
        assert_eq!(out, "\"x\"");
        assert!(schema.decode_json(b"\"x\"", true, &mut out).is_err());
        assert!(schema.decode_json(b"\xff", false, &mut out).is_err());
        assert!(schema.decode_json(b"{", false, &mut out).is_err());
    }

    #[test]
    fn bad_schemas_and_missing_references_are_errors() {
        let err = JsonSchema::parse(r#"{"type": 12}"#, &[])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("bad JSON Schema schema"), "{err}");
        let err = JsonSchema::parse(r#"{"$ref": "missing.json"}"#, &[])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("bad JSON Schema schema"), "{err}");
    }
}
