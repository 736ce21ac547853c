//! Subject name strategies: which subject a key's or value's schema is registered under,
//! as Confluent's serializers name it (`key.subject.name.strategy`,
//! `value.subject.name.strategy`).
//!
//! ```
//! use kafkit_registry::SubjectStrategy;
//! let s: SubjectStrategy = "io.confluent.kafka.serializers.subject.RecordNameStrategy".parse().unwrap();
//! assert_eq!(s, SubjectStrategy::RecordName);
//! assert_eq!("topic_record".parse::<SubjectStrategy>(), Ok(SubjectStrategy::TopicRecordName));
//! ```

use kafkit_store::ops::schemas::Side;

use crate::compat::Parsed;

/// How a subject is named.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SubjectStrategy {
    /// `<topic>-key` / `<topic>-value` (the default).
    #[default]
    TopicName,
    /// The record's full name (Avro record, Protobuf message, JSON Schema `title`).
    RecordName,
    /// `<topic>-<record's full name>`.
    TopicRecordName,
}

impl std::str::FromStr for SubjectStrategy {
    type Err = String;

    /// Confluent's class names (any package) or `topic`, `record`, `topic_record`.
    fn from_str(s: &str) -> Result<Self, String> {
        let short = s.rsplit('.').next().unwrap_or(s);
        match short {
            "TopicNameStrategy" | "topic" | "topic_name" => Ok(SubjectStrategy::TopicName),
            "RecordNameStrategy" | "record" | "record_name" => Ok(SubjectStrategy::RecordName),
            "TopicRecordNameStrategy" | "topic_record" | "topic_record_name" => {
                Ok(SubjectStrategy::TopicRecordName)
            }
            _ => Err(format!(
                "unknown subject name strategy '{s}' (expected TopicNameStrategy, \
                 RecordNameStrategy or TopicRecordNameStrategy)"
            )),
        }
    }
}

impl SubjectStrategy {
    /// The subject of `side` in `topic` for a schema (`text`, parsed); `message` is the
    /// Protobuf message chosen (else the first).
    pub(crate) fn subject(
        self,
        topic: &str,
        side: Side,
        text: &str,
        parsed: &Parsed,
        message: Option<&str>,
    ) -> Result<String, String> {
        let record = || match (parsed, message) {
            (Parsed::Protobuf(_), Some(name)) => Ok(name.to_string()),
            _ => record_name(text, parsed),
        };
        Ok(match self {
            SubjectStrategy::TopicName => format!("{topic}-{}", side.name()),
            SubjectStrategy::RecordName => record()?,
            SubjectStrategy::TopicRecordName => format!("{topic}-{}", record()?),
        })
    }
}

/// The full name of the record a schema describes.
fn record_name(text: &str, parsed: &Parsed) -> Result<String, String> {
    match parsed {
        Parsed::Avro(s) => match s.schema() {
            apache_avro::Schema::Record(r) => Ok(r.name.fullname(None)),
            _ => Err("the record name strategies need an Avro record schema".into()),
        },
        Parsed::Protobuf(s) => s
            .message_names()
            .into_iter()
            .next()
            .ok_or_else(|| "the Protobuf schema declares no message".into()),
        Parsed::Json(_) => serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v["title"].as_str().map(str::to_string))
            .ok_or_else(|| "the record name strategies need a JSON Schema with a title".into()),
    }
}
