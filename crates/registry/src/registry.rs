//! The registry's state: schemas by id, subjects and their versions, compatibility levels —
//! and every operation of the REST API on it, with Confluent's rules and error codes.

use std::collections::{BTreeMap, HashMap};

use crate::compat::{self, Parsed};
use crate::error::RegistryError;
use crate::journal::{Change, JournalRecord};
use crate::model::{Compatibility, Reference, Schema, SchemaType, SubjectVersion};

type Result<T> = std::result::Result<T, RegistryError>;

/// A version of a subject: a number, or the latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSpec {
    /// The highest version (not deleted, unless deleted ones are asked for).
    Latest,
    /// This version.
    Number(i32),
}

impl VersionSpec {
    /// Parses `latest`, `-1` (also latest) or a version from 1 to 2^31-1.
    pub fn parse(text: &str) -> std::result::Result<VersionSpec, RegistryError> {
        match text {
            "latest" | "-1" => Ok(VersionSpec::Latest),
            _ => match text.parse::<i32>() {
                Ok(n) if n >= 1 => Ok(VersionSpec::Number(n)),
                _ => Err(RegistryError::invalid_version(text)),
            },
        }
    }
}

/// What an operation decided: its answer, and the journal records that make it so (none
/// when nothing changes). [`Registry::apply`] them, after writing them to the journal.
#[derive(Debug)]
pub struct Planned<T> {
    /// What the REST API answers.
    pub answer: T,
    /// The changes, as `_schemas` records.
    pub records: Vec<JournalRecord>,
}

impl<T> Planned<T> {
    fn unchanged(answer: T) -> Planned<T> {
        Planned {
            answer,
            records: Vec::new(),
        }
    }
}

/// Schemas are the same when their type, canonical text and references are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SchemaKey {
    kind: SchemaType,
    text: String,
    references: Vec<Reference>,
}

impl SchemaKey {
    fn of(schema: &Schema) -> SchemaKey {
        SchemaKey {
            kind: schema.schema_type,
            text: compat::canonical_text(schema.schema_type, &schema.text),
            references: schema.references.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    version: i32,
    id: i32,
    deleted: bool,
}

/// Every schema and subject of one registry, in memory.
#[derive(Debug, Default)]
pub struct Registry {
    schemas: BTreeMap<i32, Schema>,
    ids: HashMap<SchemaKey, i32>,
    subjects: BTreeMap<String, Vec<Entry>>,
    levels: HashMap<String, Compatibility>,
    global: Compatibility,
}

impl Registry {
    /// An empty registry whose global compatibility level is BACKWARD.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Registers `schema` under `subject` and returns its id (in memory: no journal).
    pub fn register(&mut self, subject: &str, schema: Schema) -> Result<i32> {
        let planned = self.plan_register(subject, schema)?;
        self.apply_own(&planned.records);
        Ok(planned.answer)
    }

    /// Plans registering `schema` under `subject`: its id is the one it already has when it
    /// was registered before (under any subject), and there is no new version when the
    /// subject has it.
    pub fn plan_register(&self, subject: &str, schema: Schema) -> Result<Planned<i32>> {
        let key = SchemaKey::of(&schema);
        if let Some(&id) = self.ids.get(&key) {
            if self.live(subject).iter().any(|e| e.id == id) {
                return Ok(Planned::unchanged(id));
            }
        }
        let parsed = self.parse(&schema)?;
        let level = self.level(Some(subject));
        if level != Compatibility::None {
            let older: Vec<Parsed> = self
                .live(subject)
                .iter()
                .map(|e| self.parse(&self.schemas[&e.id]))
                .collect::<Result<_>>()?;
            let problems = compat::incompatibilities(level, &parsed, &older);
            if !problems.is_empty() {
                return Err(RegistryError::incompatible(format!(
                    "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]",
                    problems.join(", ")
                )));
            }
        }
        let id = match self.ids.get(&key) {
            Some(&id) => id,
            None => self.schemas.keys().next_back().map_or(1, |last| last + 1),
        };
        let version = self
            .subjects
            .get(subject)
            .and_then(|v| v.last())
            .map_or(1, |e| e.version + 1);
        Ok(Planned {
            answer: id,
            records: vec![JournalRecord::version(subject, version, id, &schema, false)],
        })
    }

    /// The version of `subject` that holds `schema`.
    pub fn lookup(
        &self,
        subject: &str,
        schema: &Schema,
        include_deleted: bool,
    ) -> Result<SubjectVersion> {
        let entries = self
            .subjects
            .get(subject)
            .filter(|v| include_deleted || v.iter().any(|e| !e.deleted))
            .ok_or_else(|| RegistryError::subject_not_found(subject))?;
        let id = self.ids.get(&SchemaKey::of(schema));
        entries
            .iter()
            .rev()
            .find(|e| Some(&e.id) == id && (include_deleted || !e.deleted))
            .map(|e| self.subject_version(subject, e))
            .ok_or_else(|| RegistryError::schema_not_found(format!("under subject '{subject}'")))
    }

    /// The schema with `id`.
    pub fn schema(&self, id: i32) -> Result<&Schema> {
        self.schemas
            .get(&id)
            .ok_or_else(|| RegistryError::schema_not_found(format!("id {id}")))
    }

    /// The subjects and versions that hold the schema with `id`.
    pub fn uses_of(&self, id: i32) -> Result<Vec<(String, i32)>> {
        self.schema(id)?;
        Ok(self
            .subjects
            .iter()
            .flat_map(|(s, entries)| {
                entries
                    .iter()
                    .filter(|e| e.id == id && !e.deleted)
                    .map(move |e| (s.clone(), e.version))
            })
            .collect())
    }

    /// The subjects with a version (deleted ones too, when asked).
    pub fn subjects(&self, include_deleted: bool) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(_, entries)| include_deleted || entries.iter().any(|e| !e.deleted))
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// The versions of `subject`.
    pub fn versions(&self, subject: &str, include_deleted: bool) -> Result<Vec<i32>> {
        let versions: Vec<i32> = self
            .subjects
            .get(subject)
            .into_iter()
            .flatten()
            .filter(|e| include_deleted || !e.deleted)
            .map(|e| e.version)
            .collect();
        if versions.is_empty() {
            return Err(RegistryError::subject_not_found(subject));
        }
        Ok(versions)
    }

    /// A version of `subject`.
    pub fn version(
        &self,
        subject: &str,
        version: VersionSpec,
        include_deleted: bool,
    ) -> Result<SubjectVersion> {
        let entry = self.entry(subject, version, include_deleted)?;
        Ok(self.subject_version(subject, &entry))
    }

    /// Deletes every version of `subject` (in memory: no journal); see
    /// [`Registry::plan_delete_subject`].
    pub fn delete_subject(&mut self, subject: &str, permanent: bool) -> Result<Vec<i32>> {
        let planned = self.plan_delete_subject(subject, permanent)?;
        self.apply_own(&planned.records);
        Ok(planned.answer)
    }

    /// Plans deleting every version of `subject`: softly (they stay readable when asked
    /// for), or for good once soft-deleted. Answers the versions deleted.
    pub fn plan_delete_subject(&self, subject: &str, permanent: bool) -> Result<Planned<Vec<i32>>> {
        let entries = self
            .subjects
            .get(subject)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| RegistryError::subject_not_found(subject))?;
        let all_deleted = entries.iter().all(|e| e.deleted);
        if !permanent && all_deleted {
            return Err(RegistryError::subject_soft_deleted(subject));
        }
        if permanent && !all_deleted {
            return Err(RegistryError::subject_not_soft_deleted(subject));
        }
        for e in entries.iter() {
            if let Some(referrer) = self.referrer_of(subject, e.version) {
                return Err(RegistryError::reference_exists(subject, referrer));
            }
        }
        // A soft delete names the versions it deleted; a permanent one every version.
        let versions: Vec<i32> = entries
            .iter()
            .filter(|e| permanent || !e.deleted)
            .map(|e| e.version)
            .collect();
        let records = if permanent {
            let mut records: Vec<JournalRecord> = entries
                .iter()
                .map(|e| JournalRecord::version_gone(subject, e.version))
                .collect();
            if self.levels.contains_key(subject) {
                records.push(JournalRecord::level(Some(subject), None));
            }
            records
        } else {
            let highest = entries.last().map_or(0, |e| e.version);
            vec![JournalRecord::delete_subject(subject, highest)]
        };
        Ok(Planned {
            answer: versions,
            records,
        })
    }

    /// Deletes one version of `subject` (in memory: no journal).
    pub fn delete_version(
        &mut self,
        subject: &str,
        version: VersionSpec,
        permanent: bool,
    ) -> Result<i32> {
        let planned = self.plan_delete_version(subject, version, permanent)?;
        self.apply_own(&planned.records);
        Ok(planned.answer)
    }

    /// Plans deleting one version of `subject`, softly or (once soft-deleted) for good.
    pub fn plan_delete_version(
        &self,
        subject: &str,
        version: VersionSpec,
        permanent: bool,
    ) -> Result<Planned<i32>> {
        let entry = self.entry(subject, version, permanent)?;
        if !permanent && entry.deleted {
            return Err(RegistryError::version_soft_deleted(subject, entry.version));
        }
        if permanent && !entry.deleted {
            return Err(RegistryError::version_not_soft_deleted(
                subject,
                entry.version,
            ));
        }
        if self.referrer_of(subject, entry.version).is_some() {
            return Err(RegistryError::reference_exists(subject, entry.version));
        }
        let record = if permanent {
            JournalRecord::version_gone(subject, entry.version)
        } else {
            JournalRecord::version(
                subject,
                entry.version,
                entry.id,
                &self.schemas[&entry.id],
                true,
            )
        };
        Ok(Planned {
            answer: entry.version,
            records: vec![record],
        })
    }

    /// The ids of the schemas that reference `subject` at `version`.
    pub fn referenced_by(&self, subject: &str, version: VersionSpec) -> Result<Vec<i32>> {
        let entry = self.entry(subject, version, false)?;
        Ok(self
            .schemas
            .iter()
            .filter(|(_, s)| {
                s.references
                    .iter()
                    .any(|r| r.subject == subject && r.version == entry.version)
            })
            .map(|(id, _)| *id)
            .collect())
    }

    /// The level that applies to `subject` (its own, else the global one); the global one
    /// without a subject.
    pub fn level(&self, subject: Option<&str>) -> Compatibility {
        subject
            .and_then(|s| self.levels.get(s).copied())
            .unwrap_or(self.global)
    }

    /// The level set for `subject` itself, if any.
    pub fn own_level(&self, subject: &str) -> Option<Compatibility> {
        self.levels.get(subject).copied()
    }

    /// Sets the level of `subject`, or the global one (in memory: no journal).
    pub fn set_level(&mut self, subject: Option<&str>, level: Compatibility) {
        let planned = self.plan_set_level(subject, level);
        self.apply_own(&planned.records);
    }

    /// Plans setting the level of `subject`, or the global one.
    pub fn plan_set_level(&self, subject: Option<&str>, level: Compatibility) -> Planned<()> {
        Planned {
            answer: (),
            records: vec![JournalRecord::level(subject, Some(level))],
        }
    }

    /// Removes the level of `subject` (in memory: no journal); returns what it was.
    pub fn clear_level(&mut self, subject: &str) -> Result<Compatibility> {
        let planned = self.plan_clear_level(subject)?;
        self.apply_own(&planned.records);
        Ok(planned.answer)
    }

    /// Plans removing the level of `subject`, so the global one applies again.
    pub fn plan_clear_level(&self, subject: &str) -> Result<Planned<Compatibility>> {
        let level = self
            .levels
            .get(subject)
            .copied()
            .ok_or_else(|| RegistryError::subject_not_found(subject))?;
        Ok(Planned {
            answer: level,
            records: vec![JournalRecord::level(Some(subject), None)],
        })
    }

    /// Applies one journal record: one this registry planned, or one read back from the
    /// `_schemas` topic (written by kafkit or by Confluent's registry).
    pub fn apply(&mut self, record: &JournalRecord) -> std::result::Result<(), String> {
        match record.change()? {
            Change::Version {
                subject,
                version,
                state: Some((id, schema, deleted)),
            } => {
                let key = SchemaKey::of(&schema);
                if let Some(held) = self.schemas.get(&id) {
                    if SchemaKey::of(held) != key {
                        // Two writers took the same new id in the same instant: the first
                        // in the topic keeps it (the other sees this and registers again).
                        return Err(format!(
                            "id {id} already holds another schema; {subject} version {version} not applied"
                        ));
                    }
                }
                self.ids.entry(key).or_insert(id);
                self.schemas.entry(id).or_insert(schema);
                let entries = self.subjects.entry(subject).or_default();
                match entries.iter_mut().find(|e| e.version == version) {
                    Some(e) => {
                        e.id = id;
                        e.deleted = deleted;
                    }
                    None => {
                        entries.push(Entry {
                            version,
                            id,
                            deleted,
                        });
                        entries.sort_by_key(|e| e.version);
                    }
                }
            }
            Change::Version {
                subject,
                version,
                state: None,
            } => {
                let Some(entries) = self.subjects.get_mut(&subject) else {
                    return Ok(());
                };
                let gone: Vec<i32> = entries
                    .iter()
                    .filter(|e| e.version == version)
                    .map(|e| e.id)
                    .collect();
                entries.retain(|e| e.version != version);
                if entries.is_empty() {
                    self.subjects.remove(&subject);
                }
                for id in gone {
                    self.forget_if_unused(id);
                }
            }
            Change::DeleteSubject { subject, up_to } => {
                for e in self.subjects.get_mut(&subject).into_iter().flatten() {
                    if e.version <= up_to {
                        e.deleted = true;
                    }
                }
            }
            Change::Level { subject, level } => match (subject, level) {
                (None, level) => self.global = level.unwrap_or_default(),
                (Some(s), Some(level)) => {
                    self.levels.insert(s, level);
                }
                (Some(s), None) => {
                    self.levels.remove(&s);
                }
            },
            Change::Other => {}
        }
        Ok(())
    }

    /// Applies records this registry planned itself (they always parse).
    fn apply_own(&mut self, records: &[JournalRecord]) {
        for r in records {
            if let Err(e) = self.apply(r) {
                tracing::error!(error = %e, "a record the registry planned does not apply");
            }
        }
    }

    /// Drops the schema with `id` once no version of any subject holds it.
    fn forget_if_unused(&mut self, id: i32) {
        if self.subjects.values().flatten().any(|e| e.id == id) {
            return;
        }
        if let Some(schema) = self.schemas.remove(&id) {
            self.ids.remove(&SchemaKey::of(&schema));
        }
    }

    /// Whether `schema` could be registered as a new version of `subject`, judged against
    /// `version` (or every version under a transitive level); the reasons when not.
    pub fn check(
        &self,
        subject: &str,
        version: VersionSpec,
        schema: &Schema,
    ) -> Result<Vec<String>> {
        let parsed = self.parse(schema)?;
        let level = self.level(Some(subject));
        if level == Compatibility::None || self.live(subject).is_empty() {
            return Ok(Vec::new());
        }
        let older: Vec<Parsed> = if level.transitive() {
            self.live(subject)
                .iter()
                .map(|e| self.parse(&self.schemas[&e.id]))
                .collect::<Result<_>>()?
        } else {
            let entry = self.entry(subject, version, false)?;
            vec![self.parse(&self.schemas[&entry.id])?]
        };
        Ok(compat::incompatibilities(level, &parsed, &older))
    }

    fn live(&self, subject: &str) -> Vec<Entry> {
        self.subjects
            .get(subject)
            .map(|v| v.iter().filter(|e| !e.deleted).copied().collect())
            .unwrap_or_default()
    }

    fn entry(&self, subject: &str, version: VersionSpec, include_deleted: bool) -> Result<Entry> {
        let entries = self
            .subjects
            .get(subject)
            .filter(|v| include_deleted || v.iter().any(|e| !e.deleted))
            .ok_or_else(|| RegistryError::subject_not_found(subject))?;
        let mut visible = entries.iter().filter(|e| include_deleted || !e.deleted);
        let found = match version {
            VersionSpec::Latest => visible.next_back(),
            VersionSpec::Number(n) => visible.find(|e| e.version == n),
        };
        found.copied().ok_or_else(|| {
            let n = match version {
                VersionSpec::Latest => -1,
                VersionSpec::Number(n) => n,
            };
            RegistryError::version_not_found(subject, n)
        })
    }

    fn subject_version(&self, subject: &str, e: &Entry) -> SubjectVersion {
        SubjectVersion {
            subject: subject.to_string(),
            version: e.version,
            id: e.id,
            schema: self.schemas[&e.id].clone(),
        }
    }

    /// A live version of another schema that references `subject` at `version`.
    fn referrer_of(&self, subject: &str, version: i32) -> Option<i32> {
        self.subjects.values().flatten().find_map(|e| {
            let refs = &self.schemas[&e.id].references;
            (!e.deleted
                && refs
                    .iter()
                    .any(|r| r.subject == subject && r.version == version))
            .then_some(version)
        })
    }

    /// Parses `schema` with the texts of everything it references.
    fn parse(&self, schema: &Schema) -> Result<Parsed> {
        let mut references = Vec::new();
        self.collect_references(&schema.references, &mut references, 0)?;
        compat::parse(schema.schema_type, &schema.text, &references).map_err(|e| {
            RegistryError::invalid_schema(format!(
                "Invalid schema {}: {e}",
                schema.schema_type.name()
            ))
        })
    }

    /// `schema` as a client asks for it with `?format=`: `serialized` gives a Protobuf
    /// schema as the base64 of its `FileDescriptorProto` (what Confluent's Python and Go
    /// serializers read); anything else, and the other types, as registered.
    pub fn formatted(&self, schema: &Schema, format: Option<&str>) -> Result<Schema> {
        match (schema.schema_type, format) {
            (SchemaType::Protobuf, Some("serialized")) => match self.parse(schema)? {
                Parsed::Protobuf(p) => Ok(Schema {
                    text: p.serialized(),
                    ..schema.clone()
                }),
                _ => Ok(schema.clone()),
            },
            _ => Ok(schema.clone()),
        }
    }

    /// Adds (name, text) of `refs` and of what they reference, dependencies first.
    fn collect_references(
        &self,
        refs: &[Reference],
        out: &mut Vec<(String, String)>,
        depth: usize,
    ) -> Result<()> {
        if depth > 32 {
            return Err(RegistryError::invalid_schema(
                "references nest more than 32 deep (a cycle?)".into(),
            ));
        }
        for r in refs {
            let entry = self
                .entry(&r.subject, VersionSpec::Number(r.version), false)
                .map_err(|_| {
                    RegistryError::invalid_schema(format!(
                        "Invalid schema: reference {} to subject '{}' version {} does not exist",
                        r.name, r.subject, r.version
                    ))
                })?;
            let referenced = &self.schemas[&entry.id];
            self.collect_references(&referenced.references, out, depth + 1)?;
            if !out.iter().any(|(n, _)| n == &r.name) {
                out.push((r.name.clone(), referenced.text.clone()));
            }
        }
        Ok(())
    }
}
