//! The one error type of the formats crate.

/// What went wrong turning bytes into JSON or JSON into bytes. Callers add where the bytes
/// came from (topic, partition, offset; or file and line).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The bytes are not in the Schema Registry wire format.
    #[error("not in the Schema Registry wire format: {reason}")]
    Wire {
        /// What was wrong, e.g. "first byte is 0x7b, not the magic byte 0".
        reason: String,
    },
    /// A schema text that does not parse.
    #[error("bad {kind} schema: {message}")]
    Schema {
        /// "Avro", "Protobuf" or "JSON Schema".
        kind: &'static str,
        /// The parser's complaint.
        message: String,
    },
    /// A JSON value that does not fit the schema, at `path` (`$` is the whole value).
    #[error("at {path}: {message}")]
    Mismatch {
        /// Where in the value, e.g. `$.address.zip`.
        path: String,
        /// What was expected and what was found.
        message: String,
    },
    /// Encoded data that does not decode with the schema it names.
    #[error("{kind} data does not decode: {message}")]
    Decode {
        /// "Avro", "Protobuf" or "JSON Schema".
        kind: &'static str,
        /// The decoder's complaint.
        message: String,
    },
    /// Text that is not JSON.
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl FormatError {
    pub(crate) fn mismatch(path: &str, message: impl Into<String>) -> FormatError {
        FormatError::Mismatch {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// Results of this crate.
pub type Result<T, E = FormatError> = std::result::Result<T, E>;
