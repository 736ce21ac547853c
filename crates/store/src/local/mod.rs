//! Emulated Kafka in a local directory.
//!
//! ```text
//! <root>/topics/<topic>/topic.json          partitions, configs, id
//! <root>/topics/<topic>/<partition>/        segments (see log.rs)
//! <root>/topics/<topic>/<partition>/log-start  first offset kept after delete-records
//! <root>/groups/<group>.json                committed offsets
//! ```

mod files;
mod log;
mod reader;

pub use reader::LocalReader;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::emulated::{self, check_group_name, check_topic_name, Spread, TopicMeta};
use crate::error::{Result, StoreError};
use crate::types::{GroupInfo, GroupRead, NewRecord, ReadFrom, TopicSummary};
use crate::Storage;
use log::{read_batches, read_segments, PartitionWriter};

/// Bytes read from a partition per poll.
const READ_BYTES: u64 = 1 << 20;

/// How often a following reader looks for new records.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// The partitions this process writes, each behind its own lock.
type OpenWriters = HashMap<(String, i32), Arc<Mutex<PartitionWriter>>>;

/// Emulated Kafka in a local directory. Cheap to clone.
#[derive(Clone)]
pub struct LocalStorage {
    root: PathBuf,
    writers: Arc<Mutex<OpenWriters>>,
    spread: Spread,
}

impl std::fmt::Debug for LocalStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStorage")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        what: what.to_string(),
        source: e,
    }
}

impl LocalStorage {
    /// Emulated Kafka under `root` (created when missing).
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(root.join("topics"))
            .map_err(|e| io_err(&root, "create storage directory", e))?;
        Ok(LocalStorage {
            root,
            writers: Arc::default(),
            spread: Spread::default(),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn topic_dir(&self, topic: &str) -> PathBuf {
        self.root.join("topics").join(topic)
    }

    fn partition_dir(&self, topic: &str, partition: i32) -> PathBuf {
        self.topic_dir(topic).join(partition.to_string())
    }

    fn meta(&self, topic: &str) -> Result<TopicMeta> {
        check_topic_name(topic)?;
        let path = self.topic_dir(topic).join("topic.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::UnknownTopic(topic.to_string()))
            }
            Err(e) => return Err(io_err(&path, "read", e)),
        };
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            path,
            message: format!("line {}: {e}", e.line()),
        })
    }

    fn write_meta(&self, topic: &str, meta: &TopicMeta) -> Result<()> {
        let path = self.topic_dir(topic).join("topic.json");
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(meta).expect("metadata serializes");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| io_err(&path, "write", e))
    }

    fn writer(&self, topic: &str, partition: i32) -> Result<Arc<Mutex<PartitionWriter>>> {
        let mut writers = self.writers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = writers.get(&(topic.to_string(), partition)) {
            return Ok(w.clone());
        }
        let segment_bytes = self
            .meta(topic)?
            .configs
            .get("segment.bytes")
            .and_then(|b| b.parse().ok())
            .unwrap_or(log::SEGMENT_BYTES);
        let w = Arc::new(Mutex::new(PartitionWriter::open(
            &self.partition_dir(topic, partition),
            segment_bytes,
        )?));
        writers.insert((topic.to_string(), partition), w.clone());
        Ok(w)
    }

    /// Recovers every partition of `topic` as a writer does when it opens (a torn tail cut,
    /// batches written but not indexed indexed again), so that its watermarks say everything
    /// it holds: what a copy resuming into it needs first.
    pub async fn recover(&self, topic: &str) -> Result<()> {
        let topic = topic.to_string();
        self.blocking(move |s| {
            for p in 0..s.meta(&topic)?.partitions {
                s.writer(&topic, p)?;
            }
            Ok(())
        })
        .await
    }

    /// Runs `work` on tokio's blocking pool: file I/O stays off the async worker threads.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&LocalStorage) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || work(&this))
            .await
            .map_err(|e| StoreError::Invalid(format!("a file operation failed: {e}")))?
    }

    /// Appends `batches` to `partition` exactly as given: the bytes a broker served, offsets
    /// included (a byte-faithful backup). Each must start at or after the partition's next
    /// offset.
    pub async fn append_batches(
        &self,
        topic: &str,
        partition: i32,
        batches: &[kafkit_record::RecordBatch],
    ) -> Result<()> {
        let (topic, batches) = (topic.to_string(), batches.to_vec());
        self.blocking(move |s| {
            let meta = s.meta(&topic)?;
            if !(0..meta.partitions).contains(&partition) {
                return Err(StoreError::UnknownPartition {
                    topic,
                    partition,
                    partitions: meta.partitions,
                });
            }
            let writer = s.writer(&topic, partition)?;
            let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
            w.append_batches(&batches)
        })
        .await
    }

    fn watermarks_of(&self, topic: &str, partition: i32) -> Result<(i64, i64)> {
        let dir = self.partition_dir(topic, partition);
        let segments = read_segments(&dir)?;
        let first = segments
            .iter()
            .find_map(|s| s.entries.first().map(|e| e.base_offset))
            .unwrap_or_else(|| segments.last().map_or(0, |s| s.next_offset()));
        let high = segments.last().map_or(0, |s| s.next_offset());
        let low = first.max(read_log_start(&dir)?).min(high);
        Ok((low, high))
    }

    /// Bytes the topic takes on disk (segments, indexes, metadata).
    pub fn topic_bytes(&self, topic: &str) -> Result<u64> {
        self.meta(topic)?;
        Ok(self.size_of(topic))
    }

    fn size_of(&self, topic: &str) -> u64 {
        fn walk(p: &Path) -> u64 {
            std::fs::read_dir(p)
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .map(|e| match e.metadata() {
                            Ok(m) if m.is_dir() => walk(&e.path()),
                            Ok(m) => m.len(),
                            Err(_) => 0,
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        walk(&self.topic_dir(topic))
    }

    fn groups_dir(&self) -> PathBuf {
        self.root.join("groups")
    }

    fn group_path(&self, group: &str) -> Result<PathBuf> {
        check_group_name(group)?;
        Ok(self.groups_dir().join(format!("{group}.json")))
    }

    fn start_offset(
        &self,
        topic: &str,
        partition: i32,
        from: &ReadFrom,
        marks: (i64, i64),
    ) -> Result<i64> {
        let for_time = match from {
            ReadFrom::Timestamp(ts) => self.offset_for_time(topic, partition, *ts)?,
            _ => None,
        };
        Ok(emulated::start_offset(partition, from, marks, for_time))
    }

    fn offset_for_time(&self, topic: &str, partition: i32, ts: i64) -> Result<Option<i64>> {
        let dir = self.partition_dir(topic, partition);
        let (low, _) = self.watermarks_of(topic, partition)?;
        for segment in read_segments(&dir)? {
            let Some(entry) = segment
                .entries
                .iter()
                .find(|e| e.max_timestamp >= ts && e.next_offset > low)
            else {
                continue;
            };
            let read = read_batches(&dir, &segment, entry.base_offset, 0)?;
            if let Some(bad) = read.bad {
                return Err(StoreError::CorruptBatch {
                    topic: topic.to_string(),
                    partition,
                    base_offset: bad.base_offset,
                    next_offset: bad.next_offset,
                    path: bad.path,
                    message: bad.message,
                });
            }
            let found =
                emulated::first_at_time(&read.batches, ts, low, |message| StoreError::Corrupt {
                    path: dir.clone(),
                    message,
                })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }
}

impl Storage for LocalStorage {
    type Reader = LocalReader;

    fn describe(&self) -> String {
        format!("local:{}", self.root.display())
    }

    async fn list_topics(&self) -> Result<Vec<TopicSummary>> {
        self.blocking(|s| s.list_topics_now()).await
    }

    async fn exists(&self, topic: &str) -> Result<bool> {
        let topic = topic.to_string();
        self.blocking(move |s| s.exists_now(&topic)).await
    }

    async fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        configs: &[(String, String)],
    ) -> Result<()> {
        let (topic, configs) = (topic.to_string(), configs.to_vec());
        self.blocking(move |s| s.create_topic_now(&topic, partitions, &configs))
            .await
    }

    async fn delete_topic(&self, topic: &str) -> Result<()> {
        let topic = topic.to_string();
        self.blocking(move |s| s.delete_topic_now(&topic)).await
    }

    async fn partitions(&self, topic: &str) -> Result<i32> {
        let topic = topic.to_string();
        self.blocking(move |s| s.partitions_now(&topic)).await
    }

    async fn set_partitions(&self, topic: &str, partitions: i32) -> Result<()> {
        let topic = topic.to_string();
        self.blocking(move |s| s.set_partitions_now(&topic, partitions))
            .await
    }

    async fn topic_configs(&self, topic: &str, all: bool) -> Result<BTreeMap<String, String>> {
        let topic = topic.to_string();
        self.blocking(move |s| s.topic_configs_now(&topic, all))
            .await
    }

    async fn alter_topic_configs(
        &self,
        topic: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<()> {
        let (topic, changes) = (topic.to_string(), changes.to_vec());
        self.blocking(move |s| s.alter_topic_configs_now(&topic, &changes))
            .await
    }

    async fn delete_records(
        &self,
        topic: &str,
        before: &BTreeMap<i32, i64>,
    ) -> Result<BTreeMap<i32, i64>> {
        let (topic, before) = (topic.to_string(), before.clone());
        self.blocking(move |s| s.delete_records_now(&topic, &before))
            .await
    }

    async fn watermarks(&self, topic: &str) -> Result<BTreeMap<i32, (i64, i64)>> {
        let topic = topic.to_string();
        self.blocking(move |s| s.watermarks_now(&topic)).await
    }

    async fn offsets_for_times(
        &self,
        topic: &str,
        timestamp: i64,
    ) -> Result<BTreeMap<i32, Option<i64>>> {
        let topic = topic.to_string();
        self.blocking(move |s| s.offsets_for_times_now(&topic, timestamp))
            .await
    }

    async fn append(&self, topic: &str, records: Vec<NewRecord>) -> Result<Vec<(i32, i64)>> {
        let topic = topic.to_string();
        self.blocking(move |s| s.append_now(&topic, records)).await
    }

    async fn reader(
        &self,
        topic: &str,
        partitions: Option<&[i32]>,
        from: ReadFrom,
        follow: bool,
    ) -> Result<LocalReader> {
        let (topic, partitions) = (topic.to_string(), partitions.map(<[i32]>::to_vec));
        self.blocking(move |s| s.reader_now(&topic, partitions.as_deref(), from, follow))
            .await
    }

    async fn group_reader(
        &self,
        topic: &str,
        group: &GroupRead,
        follow: bool,
    ) -> Result<LocalReader> {
        let (topic, group) = (topic.to_string(), group.clone());
        self.blocking(move |s| s.group_reader_now(&topic, &group, follow))
            .await
    }

    async fn list_groups(&self) -> Result<Vec<String>> {
        self.blocking(|s| s.list_groups_now()).await
    }

    async fn group_offsets(&self, group: &str) -> Result<BTreeMap<String, BTreeMap<i32, i64>>> {
        let group = group.to_string();
        self.blocking(move |s| s.group_offsets_now(&group)).await
    }

    async fn commit(
        &self,
        group: &str,
        offsets: &BTreeMap<String, BTreeMap<i32, i64>>,
    ) -> Result<()> {
        let (group, offsets) = (group.to_string(), offsets.clone());
        self.blocking(move |s| s.commit_now(&group, &offsets)).await
    }

    async fn delete_group(&self, group: &str) -> Result<()> {
        let group = group.to_string();
        self.blocking(move |s| s.delete_group_now(&group)).await
    }

    async fn describe_group(&self, group: &str) -> Result<GroupInfo> {
        let group = group.to_string();
        self.blocking(move |s| s.describe_group_now(&group)).await
    }
}

/// The first offset a partition keeps after `delete_records` (0 when never set).
fn read_log_start(dir: &Path) -> Result<i64> {
    let path = dir.join("log-start");
    match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map_err(|_| StoreError::Corrupt {
            path,
            message: format!("'{}' is not an offset", text.trim()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io_err(&path, "read", e)),
    }
}

/// Records `offset` as the partition's first kept offset (write, sync, rename).
fn write_log_start(dir: &Path, offset: i64) -> Result<()> {
    let path = dir.join("log-start");
    let tmp = dir.join("log-start.tmp");
    std::fs::File::create(&tmp)
        .and_then(|mut f| {
            std::io::Write::write_all(&mut f, offset.to_string().as_bytes())?;
            f.sync_all()
        })
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| io_err(&path, "write", e))
}
