//! The registry's changes as records of a `_schemas` topic, in the format Confluent's Schema
//! Registry writes, so either can take over the other's topic.
//!
//! | change | key | value |
//! |---|---|---|
//! | a version registered, or soft-deleted | `{"keytype":"SCHEMA","subject":S,"version":V,"magic":1}` | `{"subject","version","id","schema","deleted"}` (+ `schemaType` unless Avro, `references`) |
//! | a version deleted for good | the same key | none (a tombstone) |
//! | every version of a subject soft-deleted | `{"keytype":"DELETE_SUBJECT","subject":S,"magic":0}` | `{"subject":S,"version":highest}` |
//! | a compatibility level set (or cleared) | `{"keytype":"CONFIG","subject":S or null,"magic":0}` | `{"compatibilityLevel":L}` (or none) |
//!
//! Keys are written byte for byte as Confluent's registry writes them, so compaction keeps
//! one record per key whichever registry wrote it.

use serde_json::{json, Value};

use crate::model::{Compatibility, Schema, SchemaType};

/// One record of the `_schemas` topic.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalRecord {
    /// The key, as JSON text.
    pub key: String,
    /// The value, as JSON text; `None` is a tombstone.
    pub value: Option<String>,
}

/// A record read back: what it changes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    Version {
        subject: String,
        version: i32,
        /// `None`: the version is deleted for good.
        state: Option<(i32, Schema, bool)>,
    },
    DeleteSubject {
        subject: String,
        up_to: i32,
    },
    Level {
        subject: Option<String>,
        level: Option<Compatibility>,
    },
    Other,
}

fn text(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

impl JournalRecord {
    fn schema_key(subject: &str, version: i32) -> String {
        format!(
            r#"{{"keytype":"SCHEMA","subject":{},"version":{version},"magic":1}}"#,
            text(subject)
        )
    }

    /// `schema` as version `version` of `subject`, with `id`; `deleted` once soft-deleted.
    pub(crate) fn version(
        subject: &str,
        version: i32,
        id: i32,
        schema: &Schema,
        deleted: bool,
    ) -> JournalRecord {
        let mut value = json!({
            "subject": subject,
            "version": version,
            "id": id,
            "schema": schema.text,
            "deleted": deleted,
        });
        if schema.schema_type != SchemaType::Avro {
            value["schemaType"] = json!(schema.schema_type.name());
        }
        if !schema.references.is_empty() {
            value["references"] = json!(schema.references);
        }
        JournalRecord {
            key: Self::schema_key(subject, version),
            value: Some(value.to_string()),
        }
    }

    /// Version `version` of `subject` deleted for good.
    pub(crate) fn version_gone(subject: &str, version: i32) -> JournalRecord {
        JournalRecord {
            key: Self::schema_key(subject, version),
            value: None,
        }
    }

    /// Every version of `subject` up to `up_to` soft-deleted.
    pub(crate) fn delete_subject(subject: &str, up_to: i32) -> JournalRecord {
        JournalRecord {
            key: format!(
                r#"{{"keytype":"DELETE_SUBJECT","subject":{},"magic":0}}"#,
                text(subject)
            ),
            value: Some(json!({"subject": subject, "version": up_to}).to_string()),
        }
    }

    /// The level of `subject` (the global one for `None`) set, or cleared with `None`.
    pub(crate) fn level(subject: Option<&str>, level: Option<Compatibility>) -> JournalRecord {
        let subject = subject.map_or_else(|| "null".to_string(), text);
        JournalRecord {
            key: format!(r#"{{"keytype":"CONFIG","subject":{subject},"magic":0}}"#),
            value: level.map(|l| json!({"compatibilityLevel": l.name()}).to_string()),
        }
    }

    /// What this record changes; an error names what does not parse.
    pub(crate) fn change(&self) -> Result<Change, String> {
        let key: Value =
            serde_json::from_str(&self.key).map_err(|e| format!("key {}: {e}", self.key))?;
        let value: Option<Value> = match &self.value {
            Some(v) => {
                Some(serde_json::from_str(v).map_err(|e| format!("value of {}: {e}", self.key))?)
            }
            None => None,
        };
        let subject = key["subject"].as_str().map(str::to_string);
        let missing = |what: &str| format!("{what} missing in {}", self.key);
        Ok(match key["keytype"].as_str() {
            Some("SCHEMA") => {
                let subject = subject.ok_or_else(|| missing("subject"))?;
                let version = int(&key["version"]).ok_or_else(|| missing("version"))?;
                let state = match value {
                    None => None,
                    Some(v) => {
                        let id = int(&v["id"]).ok_or_else(|| missing("id"))?;
                        let schema: Schema = serde_json::from_value(v.clone())
                            .map_err(|e| format!("schema of {}: {e}", self.key))?;
                        Some((id, schema, v["deleted"].as_bool().unwrap_or(false)))
                    }
                };
                Change::Version {
                    subject,
                    version,
                    state,
                }
            }
            Some("DELETE_SUBJECT") => match value {
                Some(v) => Change::DeleteSubject {
                    subject: subject.ok_or_else(|| missing("subject"))?,
                    up_to: int(&v["version"]).ok_or_else(|| missing("version"))?,
                },
                None => Change::Other,
            },
            Some("CONFIG") => Change::Level {
                subject,
                level: match value {
                    None => None,
                    Some(v) => {
                        let name = v["compatibilityLevel"].as_str().unwrap_or_default();
                        Some(Compatibility::parse(name).ok_or_else(|| {
                            format!("compatibility level {name:?} in {}", self.key)
                        })?)
                    }
                },
            },
            _ => Change::Other, // NOOP, MODE, ... : nothing this registry keeps
        })
    }
}

fn int(v: &Value) -> Option<i32> {
    v.as_i64().and_then(|n| i32::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_written_as_confluents_registry_writes_them() {
        let r = JournalRecord::version("orders-value", 2, 7, &Schema::avro(r#""string""#), false);
        assert_eq!(
            r.key,
            r#"{"keytype":"SCHEMA","subject":"orders-value","version":2,"magic":1}"#
        );
        let v: Value = serde_json::from_str(r.value.as_deref().unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"subject":"orders-value","version":2,"id":7,"schema":"\"string\"","deleted":false})
        );
        assert_eq!(
            JournalRecord::level(None, Some(Compatibility::Full)).key,
            r#"{"keytype":"CONFIG","subject":null,"magic":0}"#
        );
        assert_eq!(
            JournalRecord::delete_subject("s", 3).key,
            r#"{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}"#
        );
        assert_eq!(
            r.change().unwrap(),
            Change::Version {
                subject: "orders-value".into(),
                version: 2,
                state: Some((7, Schema::avro(r#""string""#), false))
            }
        );
        let noop = JournalRecord {
            key: r#"{"keytype":"NOOP","magic":0}"#.into(),
            value: None,
        };
        assert_eq!(noop.change().unwrap(), Change::Other);
        let bad = JournalRecord {
            key: "{".into(),
            value: None,
        };
        assert!(bad.change().is_err());
    }
}
