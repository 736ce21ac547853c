//! Schemas carried from one registry to another, so records copied between storages decode
//! the same on the other side: a schema is exported with the subjects that hold it and the
//! schemas it references, and imported under the same subjects (references first, their
//! versions as the target numbers them). The target may give the schema another id; the
//! copy rewrites the ids in the records' wire format.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::model::{Reference, Schema};
use crate::registry::VersionSpec;
use crate::source::SchemaSource;

/// How deep references may nest.
const MAX_DEPTH: usize = 32;

/// A schema as one registry hands it to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exported {
    /// The schema (its references as the source numbers them).
    pub schema: Schema,
    /// The subjects that hold it in the source.
    pub subjects: Vec<String>,
    /// What it references, exported too, in the order of `schema.references`.
    pub references: Vec<Exported>,
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// The schema with `id` in `source`, with its subjects and references.
pub async fn export(source: &SchemaSource, id: i32) -> Result<Exported, String> {
    export_at(source, id, 0).await
}

fn export_at(source: &SchemaSource, id: i32, depth: usize) -> Boxed<'_, Exported> {
    Box::pin(async move {
        if depth > MAX_DEPTH {
            return Err(format!(
                "references nest more than {MAX_DEPTH} deep (a cycle?)"
            ));
        }
        let schema = source.schema(id).await?;
        let subjects: Vec<String> = source
            .uses_of(id)
            .await?
            .into_iter()
            .map(|(subject, _)| subject)
            .collect();
        let mut references = Vec::with_capacity(schema.references.len());
        for r in &schema.references {
            let v = source
                .version(&r.subject, VersionSpec::Number(r.version))
                .await
                .map_err(|e| {
                    format!(
                        "reference {} (subject '{}' version {}): {e}",
                        r.name, r.subject, r.version
                    )
                })?;
            let mut referenced = export_at(source, v.id, depth + 1).await?;
            // Import it under the subject the reference names.
            referenced.subjects = vec![r.subject.clone()];
            references.push(referenced);
        }
        Ok(Exported {
            schema,
            subjects,
            references,
        })
    })
}

/// Registers `exported` in `target` under its subjects (what it references first); returns
/// the id it has there.
pub async fn import(target: &SchemaSource, exported: &Exported) -> Result<i32, String> {
    import_at(target, exported, 0).await
}

fn import_at<'a>(target: &'a SchemaSource, exported: &'a Exported, depth: usize) -> Boxed<'a, i32> {
    Box::pin(async move {
        if depth > MAX_DEPTH {
            return Err(format!(
                "references nest more than {MAX_DEPTH} deep (a cycle?)"
            ));
        }
        let mut schema = exported.schema.clone();
        let mut references = Vec::with_capacity(schema.references.len());
        for (r, referenced) in schema.references.iter().zip(&exported.references) {
            import_at(target, referenced, depth + 1).await?;
            let v = target
                .lookup_version(&r.subject, &referenced.schema)
                .await?;
            references.push(Reference {
                name: r.name.clone(),
                subject: r.subject.clone(),
                version: v.version,
            });
        }
        schema.references = references;
        let mut id = None;
        for subject in &exported.subjects {
            let got = target
                .register(subject, &schema)
                .await
                .map_err(|e| format!("registering under subject '{subject}': {e}"))?;
            id = Some(got);
        }
        id.ok_or_else(|| "the schema is under no subject in the source (deleted?)".to_string())
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::SchemaType;
    use crate::RegistryService;

    #[tokio::test]
    async fn a_schema_and_its_references_arrive_under_their_subjects_with_new_ids() {
        let from = SchemaSource::Own(Arc::new(RegistryService::in_memory()));
        let into = SchemaSource::Own(Arc::new(RegistryService::in_memory()));
        // The target holds other schemas already: ids and versions differ there.
        into.register("other", &Schema::avro(r#""int""#))
            .await
            .unwrap();
        into.register(
            "common",
            &Schema {
                text: "syntax = \"proto3\"; package c; message M { }".into(),
                schema_type: SchemaType::Protobuf,
                references: vec![],
            },
        )
        .await
        .unwrap();
        let common = Schema {
            text: "syntax = \"proto3\"; package c; message M { int32 x = 1; }".into(),
            schema_type: SchemaType::Protobuf,
            references: vec![],
        };
        from.register("common", &common).await.unwrap();
        let shop = Schema {
            text: "syntax = \"proto3\"; import \"c.proto\"; message S { c.M m = 1; }".into(),
            schema_type: SchemaType::Protobuf,
            references: vec![Reference {
                name: "c.proto".into(),
                subject: "common".into(),
                version: 1,
            }],
        };
        let id = from.register("shop-value", &shop).await.unwrap();
        let exported = export(&from, id).await.unwrap();
        assert_eq!(exported.subjects, ["shop-value"]);
        let new_id = import(&into, &exported).await.unwrap();
        assert_eq!(new_id, 4, "after the target's own three");
        let got = into.schema(new_id).await.unwrap();
        assert_eq!(
            got.references[0].version, 2,
            "common is version 2 in the target"
        );
        // Importing again changes nothing.
        assert_eq!(import(&into, &exported).await.unwrap(), new_id);
    }
}
