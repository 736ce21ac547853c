//! The registry's nouns, with the JSON names of Confluent's REST API.

use serde::{Deserialize, Serialize};

/// The kind of a schema.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaType {
    /// Apache Avro (the default when a request names no type).
    #[default]
    Avro,
    /// Protocol Buffers.
    Protobuf,
    /// JSON Schema.
    Json,
}

impl SchemaType {
    /// The name the REST API uses.
    pub fn name(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Protobuf => "PROTOBUF",
            SchemaType::Json => "JSON",
        }
    }
}

/// A schema another one uses: the name it is imported by, and where it is registered.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
pub struct Reference {
    /// The import path (Protobuf), `$ref` (JSON Schema) or full type name (Avro).
    pub name: String,
    /// The subject it is registered under.
    pub subject: String,
    /// Its version there.
    pub version: i32,
}

/// A schema as sent to be registered or looked up.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"schema": "{\"type\":\"record\",\"name\":\"Order\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}"}))]
pub struct Schema {
    /// The schema text.
    #[serde(rename = "schema")]
    pub text: String,
    /// Its kind.
    #[serde(rename = "schemaType", default)]
    pub schema_type: SchemaType,
    /// The schemas it uses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
}

impl Schema {
    /// An Avro schema without references.
    pub fn avro(text: impl Into<String>) -> Schema {
        Schema {
            text: text.into(),
            schema_type: SchemaType::Avro,
            references: Vec::new(),
        }
    }

    /// A Protobuf schema (`.proto` text) without references.
    pub fn protobuf(text: impl Into<String>) -> Schema {
        Schema {
            schema_type: SchemaType::Protobuf,
            ..Schema::avro(text)
        }
    }

    /// A JSON Schema without references.
    pub fn json(text: impl Into<String>) -> Schema {
        Schema {
            schema_type: SchemaType::Json,
            ..Schema::avro(text)
        }
    }
}

/// A schema registered under a subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubjectVersion {
    /// The subject.
    pub subject: String,
    /// The version within the subject, from 1.
    pub version: i32,
    /// The schema's id, the same under every subject.
    pub id: i32,
    /// The schema.
    #[serde(flatten)]
    pub schema: Schema,
}

/// How a new schema of a subject must relate to the ones before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Compatibility {
    /// No check.
    None,
    /// Readers of the new schema read data of the last one (the default).
    #[default]
    Backward,
    /// ... of every earlier one.
    BackwardTransitive,
    /// Readers of the last schema read data of the new one.
    Forward,
    /// ... every earlier one does.
    ForwardTransitive,
    /// Both backward and forward, with the last one.
    Full,
    /// ... with every earlier one.
    FullTransitive,
}

impl Compatibility {
    /// Parses a level name as the REST API spells it (case does not matter).
    pub fn parse(name: &str) -> Option<Compatibility> {
        serde_json::from_value(serde_json::Value::String(name.to_ascii_uppercase())).ok()
    }

    /// The name the REST API uses.
    pub fn name(self) -> &'static str {
        match self {
            Compatibility::None => "NONE",
            Compatibility::Backward => "BACKWARD",
            Compatibility::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Compatibility::Forward => "FORWARD",
            Compatibility::ForwardTransitive => "FORWARD_TRANSITIVE",
            Compatibility::Full => "FULL",
            Compatibility::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// Whether every earlier version is checked, not only the last.
    pub fn transitive(self) -> bool {
        matches!(
            self,
            Compatibility::BackwardTransitive
                | Compatibility::ForwardTransitive
                | Compatibility::FullTransitive
        )
    }

    /// Whether the new schema must read data written with the old ones.
    pub fn backward(self) -> bool {
        !matches!(
            self,
            Compatibility::None | Compatibility::Forward | Compatibility::ForwardTransitive
        )
    }

    /// Whether the old schemas must read data written with the new one.
    pub fn forward(self) -> bool {
        !matches!(
            self,
            Compatibility::None | Compatibility::Backward | Compatibility::BackwardTransitive
        )
    }
}
