//! `kafkit schemas ...`: a Schema Registry's subjects, versions and compatibility levels,
//! as tables or `--json`, on a registry server or a local storage's own registry.

use anyhow::{anyhow, bail};
use clap::Subcommand;
use kafkit::registry::{Compatibility, Reference, Schema, SchemaSource, SchemaType, VersionSpec};
use serde_json::json;

use crate::out::Out;

#[derive(Subcommand, Debug)]
pub(crate) enum SchemasCommand {
    /// List the subjects.
    Subjects {
        /// Soft-deleted ones too.
        #[arg(long)]
        deleted: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List a subject's versions.
    Versions {
        /// The subject.
        subject: String,
        /// Soft-deleted ones too.
        #[arg(long)]
        deleted: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a schema: `SUBJECT[:VERSION]` (default the latest) or `--id N`.
    Get {
        /// The subject, with `:VERSION` for another than the latest.
        #[arg(required_unless_present = "id")]
        subject: Option<String>,
        /// The schema with this id instead.
        #[arg(long, conflicts_with = "subject")]
        id: Option<i32>,
        /// Print JSON: subject, version, id, schemaType, schema, references.
        #[arg(long)]
        json: bool,
    },
    /// Register a schema file under a subject; prints its id (the same one again for a
    /// schema the subject has).
    Register {
        /// The subject.
        subject: String,
        /// The schema file (.avsc, .proto, .json).
        file: std::path::PathBuf,
        #[command(flatten)]
        kind: SchemaKind,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a schema file against a subject without registering it (exit 1 when
    /// incompatible, with the reasons).
    Check {
        /// The subject.
        subject: String,
        /// The schema file.
        file: std::path::PathBuf,
        /// The version to check against (default the latest; every one under a
        /// _TRANSITIVE level).
        #[arg(long, default_value = "latest")]
        version: String,
        #[command(flatten)]
        kind: SchemaKind,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a subject, or one version (`SUBJECT:VERSION`): softly, or with --permanent
    /// for good (after a soft delete).
    Delete {
        /// The subject, with `:VERSION` for one version.
        subject: String,
        /// Delete for good.
        #[arg(long)]
        permanent: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the compatibility level of a subject (or the global one), or set it.
    Compatibility {
        /// The subject (default: the global level).
        subject: Option<String>,
        /// Set this level: NONE, BACKWARD, FORWARD, FULL, or their _TRANSITIVE forms.
        #[arg(long, value_name = "LEVEL")]
        set: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What a schema file is, and what it references.
#[derive(clap::Args, Debug)]
pub(crate) struct SchemaKind {
    /// The schema's type (default from the file's extension: .avsc avro, .proto protobuf,
    /// .json jsonschema).
    #[arg(long = "type", value_name = "avro|protobuf|jsonschema")]
    kind: Option<String>,
    /// A schema it references: NAME=SUBJECT:VERSION (the import path, `$ref` or type name).
    #[arg(long = "reference", value_name = "NAME=SUBJECT:VERSION")]
    references: Vec<String>,
}

impl SchemaKind {
    /// The schema in `file`, read off the async runtime's workers.
    async fn schema(&self, file: &std::path::Path) -> anyhow::Result<Schema> {
        let name = file.display().to_string();
        let schema_type = match self.kind.as_deref() {
            Some("avro") => SchemaType::Avro,
            Some("protobuf") => SchemaType::Protobuf,
            Some("jsonschema" | "json") => SchemaType::Json,
            Some(other) => bail!("--type {other}: expected avro, protobuf or jsonschema"),
            None => match file.extension().and_then(|e| e.to_str()) {
                Some("avsc") => SchemaType::Avro,
                Some("proto") => SchemaType::Protobuf,
                Some("json") => SchemaType::Json,
                _ => bail!("{name}: give --type avro, protobuf or jsonschema"),
            },
        };
        let references = self
            .references
            .iter()
            .map(|r| parse_reference(r).map_err(|e| anyhow!("--reference {r}: {e}")))
            .collect::<anyhow::Result<_>>()?;
        let path = file.to_path_buf();
        let text = tokio::task::spawn_blocking(move || std::fs::read_to_string(path))
            .await?
            .map_err(|e| anyhow!("{name}: {e}"))?;
        Ok(Schema {
            text,
            schema_type,
            references,
        })
    }
}

fn parse_reference(r: &str) -> Result<Reference, String> {
    let (name, at) = r.split_once('=').ok_or("expected NAME=SUBJECT:VERSION")?;
    let (subject, version) = at.rsplit_once(':').ok_or("expected NAME=SUBJECT:VERSION")?;
    let version = version
        .parse()
        .map_err(|_| format!("bad version '{version}'"))?;
    Ok(Reference {
        name: name.to_string(),
        subject: subject.to_string(),
        version,
    })
}

/// `SUBJECT[:VERSION]`; the latest without a version.
fn subject_version(arg: &str) -> anyhow::Result<(&str, Option<VersionSpec>)> {
    match arg.rsplit_once(':') {
        Some((subject, v)) if !subject.is_empty() => {
            let spec = VersionSpec::parse(v).map_err(|e| anyhow!("{arg}: {}", e.message))?;
            Ok((subject, Some(spec)))
        }
        _ => Ok((arg, None)),
    }
}

fn level(name: &str) -> anyhow::Result<Compatibility> {
    Compatibility::parse(name).ok_or_else(|| {
        anyhow!(
            "unknown compatibility level '{name}' (expected NONE, BACKWARD, FORWARD, FULL, or \
             their _TRANSITIVE forms)"
        )
    })
}

/// Runs `command` on `source`; `false` for a negative answer (an incompatible schema).
pub(crate) async fn run(source: &SchemaSource, command: &SchemasCommand) -> anyhow::Result<bool> {
    let mut out = Out::new();
    let e = |e: String| anyhow!(e);
    match command {
        SchemasCommand::Subjects { deleted, json } => {
            let subjects = source.subjects(*deleted).await.map_err(e)?;
            match json {
                true => out.json(&subjects)?,
                false => {
                    for s in subjects {
                        out.line(&s)?;
                    }
                }
            }
        }
        SchemasCommand::Versions {
            subject,
            deleted,
            json,
        } => {
            let versions = source.versions(subject, *deleted).await.map_err(e)?;
            match json {
                true => out.json(&versions)?,
                false => {
                    for v in versions {
                        out.line(&v.to_string())?;
                    }
                }
            }
        }
        SchemasCommand::Get { subject, id, json } => {
            let found = match (subject, id) {
                (_, Some(id)) => {
                    let schema = source.schema(*id).await.map_err(e)?;
                    json!({"id": id, "schemaType": schema.schema_type.name(), "schema": schema.text, "references": schema.references})
                }
                (Some(arg), None) => {
                    let (subject, version) = subject_version(arg)?;
                    let v = source
                        .version(subject, version.unwrap_or(VersionSpec::Latest))
                        .await
                        .map_err(e)?;
                    json!({"subject": v.subject, "version": v.version, "id": v.id,
                        "schemaType": v.schema.schema_type.name(), "schema": v.schema.text,
                        "references": v.schema.references})
                }
                (None, None) => bail!("give SUBJECT[:VERSION] or --id N"),
            };
            match json {
                true => out.json(&found)?,
                false => out.line(&pretty_schema(found["schema"].as_str().unwrap_or("")))?,
            }
        }
        SchemasCommand::Register {
            subject,
            file,
            kind,
            json,
        } => {
            let schema = kind.schema(file).await?;
            let id = source
                .register(subject, &schema)
                .await
                .map_err(|x| anyhow!("registering {} under '{subject}': {x}", file.display()))?;
            match json {
                true => out.json(&json!({"id": id}))?,
                false => out.line(&id.to_string())?,
            }
        }
        SchemasCommand::Check {
            subject,
            file,
            version,
            kind,
            json,
        } => {
            let schema = kind.schema(file).await?;
            let spec = VersionSpec::parse(version)
                .map_err(|x| anyhow!("--version {version}: {}", x.message))?;
            let (compatible, reasons) = source.check(subject, spec, &schema).await.map_err(e)?;
            match json {
                true => out.json(&json!({"is_compatible": compatible, "messages": reasons}))?,
                false => {
                    out.line(if compatible {
                        "compatible"
                    } else {
                        "incompatible"
                    })?;
                    for r in &reasons {
                        out.line(&format!("  {r}"))?;
                    }
                }
            }
            out.finish()?;
            return Ok(compatible);
        }
        SchemasCommand::Delete {
            subject,
            permanent,
            json,
        } => {
            let (subject, version) = subject_version(subject)?;
            let deleted = match version {
                Some(v) => vec![source
                    .delete_version(subject, v, *permanent)
                    .await
                    .map_err(e)?],
                None => source
                    .delete_subject(subject, *permanent)
                    .await
                    .map_err(e)?,
            };
            match json {
                true => out.json(&deleted)?,
                false => out.line(&format!(
                    "deleted {} of '{subject}': versions {deleted:?}",
                    if *permanent { "for good" } else { "softly" }
                ))?,
            }
        }
        SchemasCommand::Compatibility { subject, set, json } => {
            let subject = subject.as_deref();
            if let Some(name) = set {
                source
                    .set_compatibility(subject, level(name)?)
                    .await
                    .map_err(e)?;
            }
            let now = source.compatibility(subject).await.map_err(e)?;
            match json {
                true => out.json(&json!({"compatibilityLevel": now.name()}))?,
                false => out.line(now.name())?,
            }
        }
    }
    out.finish()?;
    Ok(true)
}

/// A schema's text for people: JSON (Avro, JSON Schema) indented, `.proto` as it is.
fn pretty_schema(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string())
}
