//! Emulated Kafka in a local directory.
//!
//! ```text
//! <root>/topics/<topic>/topic.json          partitions, configs, id
//! <root>/topics/<topic>/<partition>/        segments (see log.rs)
//! <root>/topics/<topic>/<partition>/log-start  first offset kept after delete-records
//! <root>/groups/<group>.json                committed offsets
//! ```

mod log;
mod reader;

pub use reader::LocalReader;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafkit_record::{partition_for_key, BatchBuilder, Compression};

use crate::error::{Result, StoreError};
use crate::types::{GroupInfo, GroupRead, NewRecord, ReadFrom, TopicSummary};
use crate::Storage;
use log::{read_batches, read_segments, PartitionWriter};

/// Bytes read from a partition per poll.
const READ_BYTES: u64 = 1 << 20;

/// How often a following reader looks for new records.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// A topic's metadata file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicMeta {
    partitions: i32,
    #[serde(default)]
    configs: BTreeMap<String, String>,
}

/// The partitions this process writes, each behind its own lock.
type OpenWriters = HashMap<(String, i32), Arc<Mutex<PartitionWriter>>>;

/// Emulated Kafka in a local directory. Cheap to clone.
#[derive(Clone)]
pub struct LocalStorage {
    root: PathBuf,
    writers: Arc<Mutex<OpenWriters>>,
    spread: Arc<AtomicU32>,
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

/// Kafka's rule for topic names, which also keeps them safe as directory names.
fn check_topic_name(topic: &str) -> Result<()> {
    let ok = !topic.is_empty()
        && topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "'{topic}' is not a valid topic name (1-249 of a-z A-Z 0-9 . _ -)"
        )))
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
            spread: Arc::default(),
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
        for p in 0..self.meta(topic)?.partitions {
            self.writer(topic, p)?;
        }
        Ok(())
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
        let meta = self.meta(topic)?;
        if !(0..meta.partitions).contains(&partition) {
            return Err(StoreError::UnknownPartition {
                topic: topic.to_string(),
                partition,
                partitions: meta.partitions,
            });
        }
        let writer = self.writer(topic, partition)?;
        let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
        w.append_batches(batches)
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
        if group.is_empty() || group.contains(['/', '\\']) || group.starts_with('.') {
            return Err(StoreError::Invalid(format!(
                "'{group}' is not a valid group name here (no '/', '\\', or leading '.')"
            )));
        }
        Ok(self.groups_dir().join(format!("{group}.json")))
    }

    fn start_offset(
        &self,
        topic: &str,
        partition: i32,
        from: &ReadFrom,
        (low, high): (i64, i64),
    ) -> Result<i64> {
        Ok(match from {
            ReadFrom::Beginning => low,
            ReadFrom::End => high,
            ReadFrom::Last(n) => (high - n).max(low),
            ReadFrom::Offset(o) => (*o).clamp(low, high),
            ReadFrom::Offsets(m) => m.get(&partition).copied().unwrap_or(low).clamp(low, high),
            ReadFrom::Timestamp(ts) => self.offset_for_time(topic, partition, *ts)?.unwrap_or(high),
        })
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
            for batch in read.batches {
                if batch.header.is_control {
                    continue;
                }
                for r in batch.records() {
                    let r = r.map_err(|e| StoreError::Corrupt {
                        path: dir.clone(),
                        message: e.to_string(),
                    })?;
                    if r.timestamp >= ts && r.offset >= low {
                        return Ok(Some(r.offset));
                    }
                }
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
        let dir = self.root.join("topics");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| io_err(&dir, "list topics", e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| self.topic_dir(n).join("topic.json").exists())
            .collect();
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let meta = self.meta(&name)?;
            let marks = self.watermarks(&name).await?;
            out.push(TopicSummary {
                records: marks.values().map(|(l, h)| h - l).sum(),
                partitions: meta.partitions,
                size_bytes: Some(self.size_of(&name)),
                name,
            });
        }
        Ok(out)
    }

    async fn exists(&self, topic: &str) -> Result<bool> {
        check_topic_name(topic)?;
        Ok(self.topic_dir(topic).join("topic.json").exists())
    }

    async fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        configs: &[(String, String)],
    ) -> Result<()> {
        check_topic_name(topic)?;
        if partitions < 1 {
            return Err(StoreError::Invalid(format!(
                "topic '{topic}': partitions must be at least 1, not {partitions}"
            )));
        }
        if self.exists(topic).await? {
            return Err(StoreError::TopicExists(topic.to_string()));
        }
        let dir = self.topic_dir(topic);
        for p in 0..partitions {
            let pdir = dir.join(p.to_string());
            std::fs::create_dir_all(&pdir).map_err(|e| io_err(&pdir, "create", e))?;
        }
        self.write_meta(
            topic,
            &TopicMeta {
                partitions,
                configs: configs.iter().cloned().collect(),
            },
        )
    }

    async fn delete_topic(&self, topic: &str) -> Result<()> {
        self.meta(topic)?;
        self.writers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(t, _), _| t != topic);
        let dir = self.topic_dir(topic);
        std::fs::remove_dir_all(&dir).map_err(|e| io_err(&dir, "delete", e))
    }

    async fn partitions(&self, topic: &str) -> Result<i32> {
        Ok(self.meta(topic)?.partitions)
    }

    async fn set_partitions(&self, topic: &str, partitions: i32) -> Result<()> {
        let mut meta = self.meta(topic)?;
        if partitions < meta.partitions {
            return Err(StoreError::Invalid(format!(
                "topic '{topic}' has {} partitions; Kafka cannot shrink a topic to {partitions}",
                meta.partitions
            )));
        }
        for p in meta.partitions..partitions {
            let dir = self.partition_dir(topic, p);
            std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, "create", e))?;
        }
        meta.partitions = partitions;
        self.write_meta(topic, &meta)
    }

    async fn topic_configs(&self, topic: &str, _all: bool) -> Result<BTreeMap<String, String>> {
        Ok(self.meta(topic)?.configs)
    }

    async fn alter_topic_configs(
        &self,
        topic: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<()> {
        let mut meta = self.meta(topic)?;
        for (k, v) in changes {
            match v {
                Some(v) => meta.configs.insert(k.clone(), v.clone()),
                None => meta.configs.remove(k),
            };
        }
        self.write_meta(topic, &meta)
    }

    async fn delete_records(
        &self,
        topic: &str,
        before: &BTreeMap<i32, i64>,
    ) -> Result<BTreeMap<i32, i64>> {
        let meta = self.meta(topic)?;
        let mut out = BTreeMap::new();
        for (&p, &offset) in before {
            if !(0..meta.partitions).contains(&p) {
                return Err(StoreError::UnknownPartition {
                    topic: topic.to_string(),
                    partition: p,
                    partitions: meta.partitions,
                });
            }
            let (low, high) = self.watermarks_of(topic, p)?;
            let offset = if offset == -1 { high } else { offset };
            if !(0..=high).contains(&offset) {
                return Err(StoreError::Invalid(format!(
                    "topic '{topic}' partition {p}: cannot delete records before offset \
                     {offset}: it is outside 0..={high} (the high watermark)"
                )));
            }
            let new_low = low.max(offset);
            let dir = self.partition_dir(topic, p);
            write_log_start(&dir, new_low)?;
            log::remove_segments_before(&dir, new_low)?;
            out.insert(p, new_low);
        }
        Ok(out)
    }

    async fn watermarks(&self, topic: &str) -> Result<BTreeMap<i32, (i64, i64)>> {
        let meta = self.meta(topic)?;
        (0..meta.partitions)
            .map(|p| Ok((p, self.watermarks_of(topic, p)?)))
            .collect()
    }

    async fn offsets_for_times(
        &self,
        topic: &str,
        timestamp: i64,
    ) -> Result<BTreeMap<i32, Option<i64>>> {
        let meta = self.meta(topic)?;
        (0..meta.partitions)
            .map(|p| Ok((p, self.offset_for_time(topic, p, timestamp)?)))
            .collect()
    }

    async fn append(&self, topic: &str, records: Vec<NewRecord>) -> Result<Vec<(i32, i64)>> {
        let meta = self.meta(topic)?;
        let n = meta.partitions;
        let now = now_ms();
        // Route each record, then write one batch per partition.
        let mut by_partition: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        for (i, r) in records.iter().enumerate() {
            let p = match (r.partition, &r.key) {
                (Some(p), _) if (0..n).contains(&p) => p,
                (Some(p), _) => {
                    return Err(StoreError::UnknownPartition {
                        topic: topic.to_string(),
                        partition: p,
                        partitions: n,
                    })
                }
                (None, Some(k)) => partition_for_key(k, n as u32),
                (None, None) => (self.spread.fetch_add(1, Ordering::Relaxed) % n as u32) as i32,
            };
            by_partition.entry(p).or_default().push(i);
        }
        let compression: Compression = meta
            .configs
            .get("compression.type")
            .and_then(|c| c.parse().ok())
            .unwrap_or(Compression::None);
        let mut placed = vec![(0, 0); records.len()];
        for (p, indexes) in by_partition {
            let writer = self.writer(topic, p)?;
            let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
            let base = w.next_offset();
            let first_ts = records[indexes[0]].timestamp.unwrap_or(now);
            let mut b = BatchBuilder::new(base, first_ts);
            let mut max_timestamp = first_ts;
            for (delta, &i) in indexes.iter().enumerate() {
                let r = &records[i];
                let ts = r.timestamp.unwrap_or(now);
                max_timestamp = max_timestamp.max(ts);
                b.push(ts, r.key.as_deref(), r.value.as_deref(), &r.headers);
                placed[i] = (p, base + delta as i64);
            }
            let bytes = b
                .finish(compression, None)
                .map_err(|e| StoreError::Invalid(format!("topic '{topic}': {e}")))?;
            w.append(&bytes, indexes.len() as i64, max_timestamp)?;
        }
        Ok(placed)
    }

    async fn reader(
        &self,
        topic: &str,
        partitions: Option<&[i32]>,
        from: ReadFrom,
        follow: bool,
    ) -> Result<LocalReader> {
        let meta = self.meta(topic)?;
        let chosen = crate::types::choose_partitions(topic, partitions, meta.partitions)?;
        let mut cursors = BTreeMap::new();
        for p in chosen {
            let marks = self.watermarks_of(topic, p)?;
            let start = self.start_offset(topic, p, &from, marks)?;
            cursors.insert(p, (start, (!follow).then_some(marks.1)));
        }
        Ok(LocalReader {
            storage: self.clone(),
            topic: Arc::from(topic),
            cursors,
            segments: HashMap::new(),
            follow,
            group: None,
            bad: BTreeMap::new(),
        })
    }

    async fn group_reader(
        &self,
        topic: &str,
        group: &GroupRead,
        follow: bool,
    ) -> Result<LocalReader> {
        let meta = self.meta(topic)?;
        let mut start = self
            .group_offsets(&group.group)
            .await?
            .remove(topic)
            .unwrap_or_default();
        for p in 0..meta.partitions {
            if start.contains_key(&p) {
                continue;
            }
            let (low, high) = self.watermarks_of(topic, p)?;
            let at = match group.reset {
                kafkit_client::OffsetReset::Earliest => low,
                kafkit_client::OffsetReset::Latest => high,
                kafkit_client::OffsetReset::None => {
                    return Err(StoreError::Invalid(format!(
                        "group '{}' has no commit for {topic}/{p} and auto.offset.reset is none",
                        group.group
                    )))
                }
            };
            start.insert(p, at);
        }
        let mut reader = self
            .reader(topic, None, ReadFrom::Offsets(start), follow)
            .await?;
        reader.group = Some(group.group.clone());
        Ok(reader)
    }

    async fn list_groups(&self) -> Result<Vec<String>> {
        let dir = self.groups_dir();
        let mut groups: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .strip_suffix(".json")
                        .map(String::from)
                })
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(&dir, "list groups", e)),
        };
        groups.sort();
        Ok(groups)
    }

    async fn group_offsets(&self, group: &str) -> Result<BTreeMap<String, BTreeMap<i32, i64>>> {
        let path = self.group_path(group)?;
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                path,
                message: format!("line {}: {e}", e.line()),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(io_err(&path, "read", e)),
        }
    }

    async fn commit(
        &self,
        group: &str,
        offsets: &BTreeMap<String, BTreeMap<i32, i64>>,
    ) -> Result<()> {
        let path = self.group_path(group)?;
        let mut all = self.group_offsets(group).await?;
        for (topic, parts) in offsets {
            all.entry(topic.clone()).or_default().extend(parts);
        }
        std::fs::create_dir_all(self.groups_dir())
            .map_err(|e| io_err(&self.groups_dir(), "create", e))?;
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&all).expect("offsets serialize");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| io_err(&path, "write", e))
    }

    async fn delete_group(&self, group: &str) -> Result<()> {
        let path = self.group_path(group)?;
        std::fs::remove_file(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                StoreError::Invalid(format!("group '{group}' does not exist"))
            }
            _ => io_err(&path, "delete group", e),
        })
    }

    async fn describe_group(&self, group: &str) -> Result<GroupInfo> {
        // Local groups have committed offsets and never members; like Kafka, a group nobody
        // knows is `Dead`.
        let state = if self.group_path(group)?.exists() {
            "Empty"
        } else {
            "Dead"
        };
        Ok(GroupInfo {
            group: group.to_string(),
            state: state.to_string(),
            members: Vec::new(),
        })
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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
