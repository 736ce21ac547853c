//! Where schemas come from: a registry server, through [`RegistryClient`], or a registry in
//! this process ([`RegistryService`], e.g. the one a local storage keeps) — the same calls
//! on both, so commands and record formats need not know which.
//!
//! ```
//! # async fn demo() -> Result<(), String> {
//! use std::sync::Arc;
//! use kafkit_registry::{RegistryService, Schema, SchemaSource};
//! let source = SchemaSource::Own(Arc::new(RegistryService::in_memory()));
//! let id = source.register("orders-value", &Schema::avro(r#""string""#)).await?;
//! assert_eq!(source.subjects(false).await?, ["orders-value"]);
//! assert_eq!(source.schema(id).await?.text, r#""string""#);
//! # Ok(()) }
//! ```

use std::sync::Arc;

use crate::compat::{self, Parsed};
use crate::model::{Compatibility, Reference, Schema, SubjectVersion};
use crate::registry::VersionSpec;
use crate::{RegistryClient, RegistryService};

/// How deep references may nest.
const MAX_REFERENCE_DEPTH: usize = 32;

/// Where schemas come from.
#[derive(Debug, Clone)]
pub enum SchemaSource {
    /// A registry server (Confluent's, kafkit's, or any with the same REST API).
    Remote(Arc<RegistryClient>),
    /// A registry in this process, e.g. the one a local storage keeps.
    Own(Arc<RegistryService>),
}

impl SchemaSource {
    /// Where it is, for messages.
    pub fn describe(&self) -> String {
        match self {
            SchemaSource::Remote(c) => format!("registry {}", c.base_url()),
            SchemaSource::Own(s) => format!("{s:?}"),
        }
    }

    /// The schema with `id`.
    pub async fn schema(&self, id: i32) -> Result<Schema, String> {
        match self {
            SchemaSource::Remote(c) => c.schema(id).await.map_err(|e| e.to_string()),
            SchemaSource::Own(s) => s
                .read()
                .await
                .schema(id)
                .cloned()
                .map_err(|e| e.to_string()),
        }
    }

    /// A version of `subject`.
    pub async fn version(
        &self,
        subject: &str,
        version: VersionSpec,
    ) -> Result<SubjectVersion, String> {
        match self {
            SchemaSource::Remote(c) => c.version(subject, version).await.map_err(|e| e.to_string()),
            SchemaSource::Own(s) => s
                .read()
                .await
                .version(subject, version, false)
                .map_err(|e| e.to_string()),
        }
    }

    /// Every subject (soft-deleted ones too with `deleted`).
    pub async fn subjects(&self, deleted: bool) -> Result<Vec<String>, String> {
        match self {
            SchemaSource::Remote(c) => c.subjects(deleted).await.map_err(|e| e.to_string()),
            SchemaSource::Own(s) => Ok(s.read().await.subjects(deleted)),
        }
    }

    /// The versions of `subject`.
    pub async fn versions(&self, subject: &str, deleted: bool) -> Result<Vec<i32>, String> {
        match self {
            SchemaSource::Remote(c) => c
                .versions(subject, deleted)
                .await
                .map_err(|e| e.to_string()),
            SchemaSource::Own(s) => s
                .read()
                .await
                .versions(subject, deleted)
                .map_err(|e| e.to_string()),
        }
    }

    /// Deletes every version of `subject`, softly or (once soft-deleted) for good.
    pub async fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Vec<i32>, String> {
        match self {
            SchemaSource::Remote(c) => c
                .delete_subject(subject, permanent)
                .await
                .map_err(|e| e.to_string()),
            SchemaSource::Own(s) => s
                .write(|r| r.plan_delete_subject(subject, permanent))
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// Deletes one version of `subject`, softly or (once soft-deleted) for good.
    pub async fn delete_version(
        &self,
        subject: &str,
        version: VersionSpec,
        permanent: bool,
    ) -> Result<i32, String> {
        match self {
            SchemaSource::Remote(c) => c
                .delete_version(subject, version, permanent)
                .await
                .map_err(|e| e.to_string()),
            SchemaSource::Own(s) => s
                .write(|r| r.plan_delete_version(subject, version, permanent))
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// The compatibility level of `subject` (its own, else the global one), or the global
    /// one.
    pub async fn compatibility(&self, subject: Option<&str>) -> Result<Compatibility, String> {
        match self {
            SchemaSource::Remote(c) => c.compatibility(subject).await.map_err(|e| e.to_string()),
            SchemaSource::Own(s) => Ok(s.read().await.level(subject)),
        }
    }

    /// Sets the compatibility level of `subject`, or the global one.
    pub async fn set_compatibility(
        &self,
        subject: Option<&str>,
        level: Compatibility,
    ) -> Result<(), String> {
        match self {
            SchemaSource::Remote(c) => c
                .set_compatibility(subject, level)
                .await
                .map_err(|e| e.to_string()),
            SchemaSource::Own(s) => s
                .write(|r| Ok(r.plan_set_level(subject, level)))
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// Whether `schema` could be registered under `subject` (judged against `version`, or
    /// every version under a transitive level); the reasons when not.
    pub async fn check(
        &self,
        subject: &str,
        version: VersionSpec,
        schema: &Schema,
    ) -> Result<(bool, Vec<String>), String> {
        match self {
            SchemaSource::Remote(c) => c
                .check(subject, version, schema)
                .await
                .map_err(|e| e.to_string()),
            SchemaSource::Own(s) => {
                let problems = s
                    .read()
                    .await
                    .check(subject, version, schema)
                    .map_err(|e| e.to_string())?;
                Ok((problems.is_empty(), problems))
            }
        }
    }

    /// Registers `schema` under `subject` (or finds it there); its id.
    pub async fn register(&self, subject: &str, schema: &Schema) -> Result<i32, String> {
        match self {
            SchemaSource::Remote(c) => c.register(subject, schema).await.map_err(|e| e.to_string()),
            SchemaSource::Own(s) => s
                .write(|r| r.plan_register(subject, schema.clone()))
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// The (subject, version) pairs that hold the schema with `id`.
    pub async fn uses_of(&self, id: i32) -> Result<Vec<(String, i32)>, String> {
        match self {
            SchemaSource::Remote(c) => c.uses_of(id).await.map_err(|e| e.to_string()),
            SchemaSource::Own(s) => s.read().await.uses_of(id).map_err(|e| e.to_string()),
        }
    }

    /// The version of `subject` that holds `schema`.
    pub async fn lookup_version(
        &self,
        subject: &str,
        schema: &Schema,
    ) -> Result<SubjectVersion, String> {
        match self {
            SchemaSource::Remote(c) => c.lookup(subject, schema).await.map_err(|e| e.to_string()),
            SchemaSource::Own(s) => s
                .read()
                .await
                .lookup(subject, schema, false)
                .map_err(|e| e.to_string()),
        }
    }

    /// The id `schema` has under `subject`, without registering it.
    pub async fn lookup(&self, subject: &str, schema: &Schema) -> Result<i32, String> {
        match self {
            SchemaSource::Remote(c) => c
                .lookup(subject, schema)
                .await
                .map(|v| v.id)
                .map_err(|e| e.to_string()),
            SchemaSource::Own(s) => s
                .read()
                .await
                .lookup(subject, schema, false)
                .map(|v| v.id)
                .map_err(|e| e.to_string()),
        }
    }

    /// `(name, text)` of every schema `refs` use, the ones they use included, dependencies
    /// first.
    pub async fn reference_texts(
        &self,
        refs: &[Reference],
    ) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        // An explicit stack instead of recursion (async recursion needs boxing): each entry
        // is a reference and whether its own references were pushed already.
        let mut stack: Vec<(Reference, bool, usize)> =
            refs.iter().rev().map(|r| (r.clone(), false, 0)).collect();
        while let Some((r, expanded, depth)) = stack.pop() {
            if out.iter().any(|(n, _)| n == &r.name) {
                continue;
            }
            if depth > MAX_REFERENCE_DEPTH {
                return Err(format!(
                    "references nest more than {MAX_REFERENCE_DEPTH} deep (a cycle?)"
                ));
            }
            let schema = self
                .version(&r.subject, VersionSpec::Number(r.version))
                .await
                .map(|v| v.schema)
                .map_err(|e| {
                    format!(
                        "reference {} (subject '{}' version {}): {e}",
                        r.name, r.subject, r.version
                    )
                })?;
            if expanded || schema.references.is_empty() {
                out.push((r.name.clone(), schema.text));
                continue;
            }
            stack.push((r, true, depth));
            for inner in schema.references.iter().rev() {
                stack.push((inner.clone(), false, depth + 1));
            }
        }
        Ok(out)
    }

    /// `schema` parsed, with the schemas it references.
    pub(crate) async fn parse(&self, schema: &Schema) -> Result<Parsed, String> {
        let references = self.reference_texts(&schema.references).await?;
        compat::parse(schema.schema_type, &schema.text, &references)
    }
}
