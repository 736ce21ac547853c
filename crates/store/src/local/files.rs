//! The file work behind each [`Storage`](crate::Storage) call of [`LocalStorage`]: plain
//! blocking functions, which the `Storage` methods run on tokio's blocking pool so that file
//! I/O (reads, writes, fsync) never holds up the async runtime's worker threads.

use std::collections::BTreeMap;

use super::log;
use super::{io_err, write_log_start, LocalReader, LocalStorage};
use crate::emulated::{self, check_topic_name, TopicMeta};
use crate::error::{Result, StoreError};
use crate::types::{GroupInfo, GroupRead, NewRecord, ReadFrom, TopicSummary};

impl LocalStorage {
    pub(super) fn list_topics_now(&self) -> Result<Vec<TopicSummary>> {
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
            let marks = self.watermarks_now(&name)?;
            out.push(TopicSummary {
                records: marks.values().map(|(l, h)| h - l).sum(),
                partitions: meta.partitions,
                size_bytes: Some(self.size_of(&name)),
                name,
            });
        }
        Ok(out)
    }

    pub(super) fn exists_now(&self, topic: &str) -> Result<bool> {
        check_topic_name(topic)?;
        Ok(self.topic_dir(topic).join("topic.json").exists())
    }

    pub(super) fn create_topic_now(
        &self,
        topic: &str,
        partitions: i32,
        configs: &[(String, String)],
    ) -> Result<()> {
        let meta = TopicMeta::new_topic(topic, partitions, configs)?;
        if self.exists_now(topic)? {
            return Err(StoreError::TopicExists(topic.to_string()));
        }
        let dir = self.topic_dir(topic);
        for p in 0..partitions {
            let pdir = dir.join(p.to_string());
            std::fs::create_dir_all(&pdir).map_err(|e| io_err(&pdir, "create", e))?;
        }
        self.write_meta(topic, &meta)
    }

    pub(super) fn delete_topic_now(&self, topic: &str) -> Result<()> {
        self.meta(topic)?;
        self.writers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(t, _), _| t != topic);
        let dir = self.topic_dir(topic);
        std::fs::remove_dir_all(&dir).map_err(|e| io_err(&dir, "delete", e))
    }

    pub(super) fn partitions_now(&self, topic: &str) -> Result<i32> {
        Ok(self.meta(topic)?.partitions)
    }

    pub(super) fn set_partitions_now(&self, topic: &str, partitions: i32) -> Result<()> {
        let mut meta = self.meta(topic)?;
        let before = meta.partitions;
        meta.grow(topic, partitions)?;
        for p in before..partitions {
            let dir = self.partition_dir(topic, p);
            std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, "create", e))?;
        }
        self.write_meta(topic, &meta)
    }

    pub(super) fn topic_configs_now(
        &self,
        topic: &str,
        _all: bool,
    ) -> Result<BTreeMap<String, String>> {
        Ok(self.meta(topic)?.configs)
    }

    pub(super) fn alter_topic_configs_now(
        &self,
        topic: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<()> {
        let mut meta = self.meta(topic)?;
        meta.alter(changes);
        self.write_meta(topic, &meta)
    }

    pub(super) fn delete_records_now(
        &self,
        topic: &str,
        before: &BTreeMap<i32, i64>,
    ) -> Result<BTreeMap<i32, i64>> {
        let meta = self.meta(topic)?;
        let mut out = BTreeMap::new();
        for (&p, &offset) in before {
            meta.check_partition(topic, p)?;
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

    pub(super) fn watermarks_now(&self, topic: &str) -> Result<BTreeMap<i32, (i64, i64)>> {
        let meta = self.meta(topic)?;
        (0..meta.partitions)
            .map(|p| Ok((p, self.watermarks_of(topic, p)?)))
            .collect()
    }

    pub(super) fn offsets_for_times_now(
        &self,
        topic: &str,
        timestamp: i64,
    ) -> Result<BTreeMap<i32, Option<i64>>> {
        let meta = self.meta(topic)?;
        (0..meta.partitions)
            .map(|p| Ok((p, self.offset_for_time(topic, p, timestamp)?)))
            .collect()
    }

    pub(super) fn append_now(
        &self,
        topic: &str,
        records: Vec<NewRecord>,
    ) -> Result<Vec<(i32, i64)>> {
        let meta = self.meta(topic)?;
        let now = emulated::now_ms();
        // Route each record, then write one batch per partition.
        let by_partition = emulated::route(topic, &records, meta.partitions, &self.spread)?;
        let compression = meta.compression();
        let mut placed = vec![(0, 0); records.len()];
        for (p, indexes) in by_partition {
            let writer = self.writer(topic, p)?;
            let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
            let base = w.next_offset();
            let batch = emulated::encode_batch(topic, &records, &indexes, base, compression, now)?;
            for (delta, &i) in indexes.iter().enumerate() {
                placed[i] = (p, base + delta as i64);
            }
            w.append(&batch.bytes, batch.records, batch.max_timestamp)?;
        }
        Ok(placed)
    }

    pub(super) fn reader_now(
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
        Ok(LocalReader::new(self.clone(), topic, cursors, follow))
    }

    pub(super) fn group_reader_now(
        &self,
        topic: &str,
        group: &GroupRead,
        follow: bool,
    ) -> Result<LocalReader> {
        let meta = self.meta(topic)?;
        let mut start = self
            .group_offsets_now(&group.group)?
            .remove(topic)
            .unwrap_or_default();
        for p in 0..meta.partitions {
            if start.contains_key(&p) {
                continue;
            }
            let marks = self.watermarks_of(topic, p)?;
            let at = emulated::group_reset(group, topic, p, marks)?;
            start.insert(p, at);
        }
        let mut reader = self.reader_now(topic, None, ReadFrom::Offsets(start), follow)?;
        reader.group = Some(group.group.clone());
        Ok(reader)
    }

    pub(super) fn list_groups_now(&self) -> Result<Vec<String>> {
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

    pub(super) fn group_offsets_now(
        &self,
        group: &str,
    ) -> Result<BTreeMap<String, BTreeMap<i32, i64>>> {
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

    pub(super) fn commit_now(
        &self,
        group: &str,
        offsets: &BTreeMap<String, BTreeMap<i32, i64>>,
    ) -> Result<()> {
        let path = self.group_path(group)?;
        let mut all = self.group_offsets_now(group)?;
        emulated::merge_commits(&mut all, offsets);
        std::fs::create_dir_all(self.groups_dir())
            .map_err(|e| io_err(&self.groups_dir(), "create", e))?;
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&all).expect("offsets serialize");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| io_err(&path, "write", e))
    }

    pub(super) fn delete_group_now(&self, group: &str) -> Result<()> {
        let path = self.group_path(group)?;
        std::fs::remove_file(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                StoreError::Invalid(format!("group '{group}' does not exist"))
            }
            _ => io_err(&path, "delete group", e),
        })
    }

    pub(super) fn describe_group_now(&self, group: &str) -> Result<GroupInfo> {
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
