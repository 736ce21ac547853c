//! Emulated Kafka on an object store: S3 (or any S3-compatible server), Azure Blob Storage,
//! or any other `object_store` implementation (in memory for tests).
//!
//! ```text
//! <prefix>/topics/<topic>/topic.json                   partitions, configs
//! <prefix>/topics/<topic>/<partition>/manifest.json    the segments that count (manifest.rs)
//! <prefix>/topics/<topic>/<partition>/<base>-<tag>.log  a segment: whole RecordBatch v2 batches
//! <prefix>/groups/<group>.json                         committed offsets
//! ```
//!
//! Objects cannot be appended to, so an append writes new segment objects (each written whole,
//! created only if absent) and then switches the partition's manifest with a conditional put.
//! A crash before the switch leaves the topic as it was (the new objects are unreferenced);
//! a writer whose switch is refused because another changed the manifest first removes its
//! objects, reads the manifest again and tries again at the new end (docs/STORAGE.md).

mod append;
mod location;
mod manifest;
mod reader;

pub use location::{AzureLocation, S3Location};
pub use reader::ObjectReader;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::emulated::{self, check_group_name, check_topic_name, GroupOffsets, Spread, TopicMeta};
use crate::error::{Result, StoreError};
use crate::types::{GroupInfo, GroupRead, NewRecord, ReadFrom, TopicSummary};
use crate::Storage;
use append::Tail;
use manifest::{PutRefused, Versioned};

/// How often a write that met another writer's change is tried in all.
const ATTEMPTS: u32 = 10;

/// How often a following reader looks for new records.
const FOLLOW_POLL: Duration = Duration::from_millis(500);

/// The partitions this process writes, each with what it knows of the partition's end.
type Tails = HashMap<(String, i32), Arc<tokio::sync::Mutex<Tail>>>;

/// Emulated Kafka on an object store. Cheap to clone.
///
/// ```
/// # async fn demo() -> kafkit_store::Result<()> {
/// use kafkit_store::{NewRecord, ObjectStorage, ReadFrom, RecordReader, Storage};
/// let store = ObjectStorage::in_memory();
/// store.create_topic("greetings", 2, &[]).await?;
/// store.append("greetings", vec![NewRecord::new(Some("k"), Some("hello"))]).await?;
/// let mut reader = store.reader("greetings", None, ReadFrom::Beginning, false).await?;
/// let records = reader.next_records().await?.unwrap();
/// assert_eq!(records[0].value.as_deref(), Some(&b"hello"[..]));
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    root: Path,
    name: String,
    /// What this process knows of the partitions it writes, each behind its own lock.
    tails: Arc<Mutex<Tails>>,
    spread: Spread,
}

impl std::fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStorage")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Waits a little longer each attempt (with jitter) before a write is tried again.
pub(super) async fn backoff(attempt: u32) {
    let base = 10u64 << attempt.min(6);
    let jitter = rand::random::<u64>() % base.max(1);
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

impl ObjectStorage {
    /// Emulated Kafka in an S3 bucket.
    pub fn s3(at: &S3Location) -> Result<Self> {
        Ok(Self::new(at.build()?, at.prefix(), at.describe()))
    }

    /// Emulated Kafka in an Azure Blob container.
    pub fn azure(at: &AzureLocation) -> Result<Self> {
        Ok(Self::new(at.build()?, at.prefix(), at.describe()))
    }

    /// Emulated Kafka in memory (gone with the process): for tests and examples.
    pub fn in_memory() -> Self {
        Self::new(
            Arc::new(object_store::memory::InMemory::new()),
            "",
            "memory:",
        )
    }

    /// Emulated Kafka under `prefix` of `store`; `name` says where, in messages.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, name: impl Into<String>) -> Self {
        ObjectStorage {
            store,
            root: Path::from(prefix),
            name: name.into(),
            tails: Arc::default(),
            spread: Spread::default(),
        }
    }

    /// The same objects, seen by another writer (as a second process would be): nothing
    /// cached is shared.
    pub fn another_writer(&self) -> Self {
        Self::new(self.store.clone(), self.root.as_ref(), self.name.clone())
    }

    fn topics_dir(&self) -> Path {
        self.root.clone().join("topics")
    }

    fn topic_dir(&self, topic: &str) -> Path {
        self.topics_dir().join(topic)
    }

    fn meta_path(&self, topic: &str) -> Path {
        self.topic_dir(topic).join("topic.json")
    }

    fn partition_dir(&self, topic: &str, partition: i32) -> Path {
        self.topic_dir(topic).join(partition.to_string())
    }

    fn manifest_path(&self, topic: &str, partition: i32) -> Path {
        self.partition_dir(topic, partition).join("manifest.json")
    }

    fn segment_path(&self, topic: &str, partition: i32, object: &str) -> Path {
        self.partition_dir(topic, partition).join(object)
    }

    fn groups_dir(&self) -> Path {
        self.root.clone().join("groups")
    }

    fn group_path(&self, group: &str) -> Result<Path> {
        check_group_name(group)?;
        Ok(self.groups_dir().join(format!("{group}.json").as_str()))
    }

    /// `path` with the storage it is in, for messages.
    fn display_path(&self, path: &Path) -> String {
        let inside = path.as_ref();
        let prefix = self.root.as_ref();
        let rest = inside
            .strip_prefix(prefix)
            .unwrap_or(inside)
            .trim_start_matches('/');
        format!("{}/{rest}", self.name.trim_end_matches('/'))
    }

    fn object_err(&self, path: &Path, what: &str, e: object_store::Error) -> StoreError {
        StoreError::Object {
            location: self.display_path(path),
            what: what.to_string(),
            error: Box::new(e),
        }
    }

    async fn meta(&self, topic: &str) -> Result<Versioned<TopicMeta>> {
        check_topic_name(topic)?;
        self.get_json(&self.meta_path(topic))
            .await?
            .ok_or_else(|| StoreError::UnknownTopic(topic.to_string()))
    }

    /// Changes the topic's metadata with `change`, again on a fresh copy when another writer
    /// changed it first.
    async fn update_meta(
        &self,
        topic: &str,
        change: impl Fn(&mut TopicMeta) -> Result<()>,
    ) -> Result<TopicMeta> {
        for attempt in 0..ATTEMPTS {
            let Versioned { mut value, version } = self.meta(topic).await?;
            change(&mut value)?;
            match self.put_json(&self.meta_path(topic), &value, version).await {
                Ok(_) => return Ok(value),
                Err(PutRefused::Changed) => backoff(attempt).await,
                Err(PutRefused::Failed(e)) => return Err(e),
            }
        }
        Err(StoreError::Conflict {
            what: format!("topic '{topic}' metadata on {}", self.name),
            attempts: ATTEMPTS,
        })
    }

    /// Bytes the topic's segments take.
    pub async fn topic_bytes(&self, topic: &str) -> Result<u64> {
        let meta = self.meta(topic).await?.value;
        let mut total = 0;
        for p in 0..meta.partitions {
            total += self.manifest(topic, p).await?.value.bytes();
        }
        Ok(total)
    }

    /// Every object name under `dir`, recursively.
    async fn list_all(&self, dir: &Path) -> Result<Vec<Path>> {
        self.store
            .list(Some(dir))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(|e| self.object_err(dir, "list", e))
    }

    async fn watermarks_of(&self, topic: &str, partition: i32) -> Result<(i64, i64)> {
        Ok(self.manifest(topic, partition).await?.value.watermarks())
    }

    async fn group_offsets_versioned(&self, group: &str) -> Result<Versioned<GroupOffsets>> {
        let path = self.group_path(group)?;
        Ok(self.get_json(&path).await?.unwrap_or(Versioned {
            value: GroupOffsets::new(),
            version: None,
        }))
    }
}

impl Storage for ObjectStorage {
    type Reader = ObjectReader;

    fn describe(&self) -> String {
        self.name.clone()
    }

    async fn list_topics(&self) -> Result<Vec<TopicSummary>> {
        let dir = self.topics_dir();
        let listed = self
            .store
            .list_with_delimiter(Some(&dir))
            .await
            .map_err(|e| self.object_err(&dir, "list topics", e))?;
        let mut names: Vec<String> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(String::from))
            .filter(|n| check_topic_name(n).is_ok())
            .collect();
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let meta = match self.meta(&name).await {
                Ok(m) => m.value,
                // Objects left of a topic being deleted: not a topic.
                Err(StoreError::UnknownTopic(_)) => continue,
                Err(e) => return Err(e),
            };
            let (mut records, mut bytes) = (0, 0);
            for p in 0..meta.partitions {
                let m = self.manifest(&name, p).await?.value;
                let (low, high) = m.watermarks();
                records += high - low;
                bytes += m.bytes();
            }
            out.push(TopicSummary {
                name,
                partitions: meta.partitions,
                records,
                size_bytes: Some(bytes),
            });
        }
        Ok(out)
    }

    async fn exists(&self, topic: &str) -> Result<bool> {
        match self.meta(topic).await {
            Ok(_) => Ok(true),
            Err(StoreError::UnknownTopic(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        configs: &[(String, String)],
    ) -> Result<()> {
        let meta = TopicMeta::new_topic(topic, partitions, configs)?;
        // Objects of an earlier topic of that name (a delete cut short) must not come back.
        let dir = self.topic_dir(topic);
        if !self.exists(topic).await? {
            self.delete_all(&self.list_all(&dir).await?).await?;
        }
        match self.put_json(&self.meta_path(topic), &meta, None).await {
            Ok(_) => Ok(()),
            Err(PutRefused::Changed) => Err(StoreError::TopicExists(topic.to_string())),
            Err(PutRefused::Failed(e)) => Err(e),
        }
    }

    async fn delete_topic(&self, topic: &str) -> Result<()> {
        self.meta(topic).await?;
        self.tails
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(t, _), _| t != topic);
        // The metadata goes first: from then on the topic does not exist, whatever is left.
        let meta = self.meta_path(topic);
        self.store
            .delete(&meta)
            .await
            .map_err(|e| self.object_err(&meta, "delete", e))?;
        let rest = self.list_all(&self.topic_dir(topic)).await?;
        self.delete_all(&rest).await
    }

    async fn partitions(&self, topic: &str) -> Result<i32> {
        Ok(self.meta(topic).await?.value.partitions)
    }

    async fn set_partitions(&self, topic: &str, partitions: i32) -> Result<()> {
        self.update_meta(topic, |m| m.grow(topic, partitions))
            .await
            .map(drop)
    }

    async fn topic_configs(&self, topic: &str, _all: bool) -> Result<BTreeMap<String, String>> {
        Ok(self.meta(topic).await?.value.configs)
    }

    async fn alter_topic_configs(
        &self,
        topic: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<()> {
        self.update_meta(topic, |m| {
            m.alter(changes);
            Ok(())
        })
        .await
        .map(drop)
    }

    async fn delete_records(
        &self,
        topic: &str,
        before: &BTreeMap<i32, i64>,
    ) -> Result<BTreeMap<i32, i64>> {
        let meta = self.meta(topic).await?.value;
        let mut out = BTreeMap::new();
        for (&p, &offset) in before {
            meta.check_partition(topic, p)?;
            out.insert(p, self.delete_records_of(topic, p, offset).await?);
        }
        Ok(out)
    }

    async fn watermarks(&self, topic: &str) -> Result<BTreeMap<i32, (i64, i64)>> {
        let meta = self.meta(topic).await?.value;
        let mut out = BTreeMap::new();
        for p in 0..meta.partitions {
            out.insert(p, self.watermarks_of(topic, p).await?);
        }
        Ok(out)
    }

    async fn offsets_for_times(
        &self,
        topic: &str,
        timestamp: i64,
    ) -> Result<BTreeMap<i32, Option<i64>>> {
        let meta = self.meta(topic).await?.value;
        let mut out = BTreeMap::new();
        for p in 0..meta.partitions {
            out.insert(p, self.offset_for_time(topic, p, timestamp).await?);
        }
        Ok(out)
    }

    async fn append(&self, topic: &str, records: Vec<NewRecord>) -> Result<Vec<(i32, i64)>> {
        self.append_records(topic, records).await
    }

    async fn reader(
        &self,
        topic: &str,
        partitions: Option<&[i32]>,
        from: ReadFrom,
        follow: bool,
    ) -> Result<ObjectReader> {
        let meta = self.meta(topic).await?.value;
        let chosen = crate::types::choose_partitions(topic, partitions, meta.partitions)?;
        let mut cursors = BTreeMap::new();
        for p in chosen {
            let marks = self.watermarks_of(topic, p).await?;
            let for_time = match &from {
                ReadFrom::Timestamp(ts) => self.offset_for_time(topic, p, *ts).await?,
                _ => None,
            };
            let start = emulated::start_offset(p, &from, marks, for_time);
            cursors.insert(p, (start, (!follow).then_some(marks.1)));
        }
        Ok(ObjectReader::new(self.clone(), topic, cursors, follow))
    }

    async fn group_reader(
        &self,
        topic: &str,
        group: &GroupRead,
        follow: bool,
    ) -> Result<ObjectReader> {
        let meta = self.meta(topic).await?.value;
        let mut start = self
            .group_offsets(&group.group)
            .await?
            .remove(topic)
            .unwrap_or_default();
        for p in 0..meta.partitions {
            if let std::collections::btree_map::Entry::Vacant(slot) = start.entry(p) {
                let marks = self.watermarks_of(topic, p).await?;
                slot.insert(emulated::group_reset(group, topic, p, marks)?);
            }
        }
        let mut reader = self
            .reader(topic, None, ReadFrom::Offsets(start), follow)
            .await?;
        reader.group = Some(group.group.clone());
        Ok(reader)
    }

    async fn list_groups(&self) -> Result<Vec<String>> {
        let dir = self.groups_dir();
        let mut groups: Vec<String> = self
            .list_all(&dir)
            .await?
            .iter()
            .filter_map(|p| p.filename())
            .filter_map(|n| n.strip_suffix(".json"))
            .map(|n| {
                percent_encoding::percent_decode_str(n)
                    .decode_utf8_lossy()
                    .to_string()
            })
            .collect();
        groups.sort();
        Ok(groups)
    }

    async fn group_offsets(&self, group: &str) -> Result<BTreeMap<String, BTreeMap<i32, i64>>> {
        Ok(self.group_offsets_versioned(group).await?.value)
    }

    async fn commit(
        &self,
        group: &str,
        offsets: &BTreeMap<String, BTreeMap<i32, i64>>,
    ) -> Result<()> {
        let path = self.group_path(group)?;
        for attempt in 0..ATTEMPTS {
            let Versioned { mut value, version } = self.group_offsets_versioned(group).await?;
            emulated::merge_commits(&mut value, offsets);
            match self.put_json(&path, &value, version).await {
                Ok(_) => return Ok(()),
                Err(PutRefused::Changed) => backoff(attempt).await,
                Err(PutRefused::Failed(e)) => return Err(e),
            }
        }
        Err(StoreError::Conflict {
            what: format!("group '{group}' on {}", self.name),
            attempts: ATTEMPTS,
        })
    }

    async fn delete_group(&self, group: &str) -> Result<()> {
        let path = self.group_path(group)?;
        if self.get_json::<GroupOffsets>(&path).await?.is_none() {
            return Err(StoreError::Invalid(format!(
                "group '{group}' does not exist"
            )));
        }
        self.store
            .delete(&path)
            .await
            .map_err(|e| self.object_err(&path, "delete group", e))
    }

    async fn describe_group(&self, group: &str) -> Result<GroupInfo> {
        // As on local files: committed offsets and never members; unknown is `Dead`.
        let path = self.group_path(group)?;
        let state = match self.store.head(&path).await {
            Ok(_) => "Empty",
            Err(object_store::Error::NotFound { .. }) => "Dead",
            Err(e) => return Err(self.object_err(&path, "read", e)),
        };
        Ok(GroupInfo {
            group: group.to_string(),
            state: state.to_string(),
            members: Vec::new(),
        })
    }
}

impl ObjectStorage {
    /// Deletes `paths` (those already gone are fine).
    async fn delete_all(&self, paths: &[Path]) -> Result<()> {
        let owned: Vec<_> = paths.iter().cloned().map(Ok).collect();
        let stream = futures_util::stream::iter(owned).boxed();
        let mut deleted = self.store.delete_stream(stream);
        while let Some(r) = deleted.next().await {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.object_err(&self.root, "delete", e)),
            }
        }
        Ok(())
    }
}
