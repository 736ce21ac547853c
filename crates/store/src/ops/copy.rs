//! Copying a topic within a storage or to another: record by record (with a jq pipeline,
//! type conversion, repartitioning, group commits carried along) or, from a cluster into an
//! emulated storage (local files, an object store) with nothing changed, batch by batch as
//! the broker served them, offsets kept.
//!
//! A copy that stops (asked to, or failing) says how far it got: every source record before
//! the positions it names is in the target.
//!
//! ```
//! # async fn demo() -> Result<(), kafkit_store::ops::copy::CopyError> {
//! use kafkit_store::ops::copy::{copy, CopyPlan};
//! use kafkit_store::ops::jq::Pipeline;
//! use kafkit_store::{AnyStorage, LocalStorage, NewRecord, Storage};
//! let dir = tempfile::tempdir().unwrap();
//! let store = AnyStorage::Local(LocalStorage::open(dir.path())?);
//! store.create_topic("orders", 2, &[]).await?;
//! store.append("orders", vec![NewRecord::new(Some("k"), Some("v"))]).await?;
//! let pipeline = Pipeline::default();
//! let plan = CopyPlan::new(&pipeline);
//! let copied = copy((&store, "orders"), (&store, "backup"), &plan, &|_| {}, std::future::pending()).await?;
//! assert_eq!(copied.produced, 1);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::future::Future;

use super::commits::GroupTranslation;
use super::jq::Pipeline;
use super::json::{json_to_record, record_to_json};
use super::read::{self, ReadSpec};
use super::schemas::{Carry, RecordFormat, Side};
use crate::error::StoreError;
use crate::types::{ConsumerRecord, NewRecord, ReadFrom};
use crate::{AnyStorage, KafkaStorage, RecordReader, Storage};

/// What a copy did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Copied {
    /// Records read from the source.
    pub consumed: u64,
    /// Records written to the target.
    pub produced: u64,
    /// Groups whose committed offsets were copied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Batches copied byte for byte with their offsets (cluster → an emulated storage with
    /// nothing changed); 0 when records were copied one by one.
    #[serde(skip_serializing_if = "is_zero")]
    pub batches: u64,
    /// Corrupt source batches stepped over (`skip_errors`).
    #[serde(skip_serializing_if = "is_zero")]
    pub skipped_batches: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Why a copy did not finish.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// Nothing was copied: the plan cannot work.
    #[error("{0}")]
    Refused(String),
    /// Nothing was copied: resuming needs a copy that keeps offsets (a cluster into local
    /// files, nothing changed on the way).
    #[error(
        "resuming needs a copy that keeps offsets (a cluster into an emulated storage, nothing \
         changed); resume this one from the offsets the stopped copy named, appending, or copy \
         as a group"
    )]
    CannotResume,
    /// Nothing was copied: the target holds records already, and the plan neither appends
    /// nor resumes (copying again would hold them twice).
    #[error("'{topic}' on {storage} already holds {records} records: copying again would hold them twice")]
    TargetHolds {
        /// The target topic.
        topic: String,
        /// The target storage.
        storage: String,
        /// Records it holds.
        records: i64,
    },
    /// A storage failed before anything was copied.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stopped when asked to; what was copied is acknowledged.
    #[error("interrupted: {how_far}")]
    Interrupted {
        /// What was done.
        copied: Copied,
        /// How far it got, for people.
        how_far: String,
    },
    /// Stopped by a failure partway.
    #[error("{how_far}: {reason}")]
    Failed {
        /// What was done.
        copied: Copied,
        /// How far it got, for people.
        how_far: String,
        /// What failed.
        reason: String,
    },
}

/// What to do when the target already holds records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IntoExisting {
    /// Refuse (the default): running the same copy twice would hold everything twice. A
    /// copy as a group member goes on from the group's commits instead.
    #[default]
    Refuse,
    /// Add to what is there.
    Append,
    /// Go on from where the target ends: copies that keep offsets only.
    Resume,
}

/// How a copy reads and writes.
#[derive(Debug, Clone)]
pub struct CopyPlan<'a> {
    /// What to read of the source, and how keys and values are typed there.
    pub read: ReadSpec,
    /// Keep each record's partition (else derive it from the key).
    pub keep_partitions: bool,
    /// Keep each record's timestamp (else stamp the copy time).
    pub keep_timestamps: bool,
    /// Keep headers (else drop them).
    pub keep_headers: bool,
    /// Stop after reading this many records.
    pub limit: Option<u64>,
    /// jq expressions applied to each record's JSON.
    pub pipeline: &'a Pipeline,
    /// Types of keys and values in the target, and the schemas they are written with
    /// (converted from the read's format with a pipeline or when the types differ; with the
    /// same schema types and another registry, the schemas are carried over and the ids in
    /// the records rewritten).
    pub target: RecordFormat,
    /// Carry the committed offsets of the source topic's groups over, moved to the matching
    /// target offsets.
    pub groups: bool,
    /// What to do when the target holds records.
    pub into_existing: IntoExisting,
    /// Values longer than this many bytes are written as chunks (see
    /// [`chunks`](super::chunks)); chunked source messages are read whole.
    pub chunk_size: Option<usize>,
}

impl<'a> CopyPlan<'a> {
    /// Everything kept, read from the beginning, through `pipeline`.
    pub fn new(pipeline: &'a Pipeline) -> Self {
        CopyPlan {
            read: ReadSpec::default(),
            keep_partitions: true,
            keep_timestamps: true,
            keep_headers: true,
            limit: None,
            pipeline,
            target: RecordFormat::default(),
            groups: false,
            into_existing: IntoExisting::Refuse,
            chunk_size: None,
        }
    }

    /// Nothing changes on the way: batches can be copied as they are.
    pub(super) fn as_is(&self) -> bool {
        self.pipeline.is_empty()
            && self.target.same_types(&self.read.format)
            && Carry::between(&self.read.format, &self.target).is_none()
            && self.keep_partitions
            && self.keep_timestamps
            && self.keep_headers
            && self.read.to.is_none()
            && self.limit.is_none()
            && self.chunk_size.is_none()
    }

    /// Whether records go through JSON (a pipeline, or other key or value types in the
    /// target) rather than being copied as they are.
    pub(super) fn converts(&self) -> bool {
        !self.pipeline.is_empty() || !self.target.same_types(&self.read.format)
    }

    pub(super) fn limit_reached(&self, consumed: u64) -> bool {
        self.limit.is_some_and(|n| consumed >= n)
    }
}

/// Where a copy is: what it did and, per source partition, the offset after the last record
/// in the target.
pub(super) struct Progress {
    /// `<storage> '<topic>'` of the source and of the target, for messages.
    pub source: String,
    pub target: String,
    pub copied: Copied,
    pub written: BTreeMap<i32, i64>,
}

/// `<storage> '<topic>'`, as messages name a copy's ends.
pub(super) fn end_name(storage: &impl Storage, topic: &str) -> String {
    format!("{} '{topic}'", storage.describe())
}

impl Progress {
    pub(super) fn how_far(&self) -> String {
        let batches = match self.copied.batches {
            0 => String::new(),
            n => format!(" in {n} batches"),
        };
        format!(
            "copy {} → {} stopped after {} consumed, {} produced{batches}; every source \
             record before {:?} (partition: offset) is in the target",
            self.source, self.target, self.copied.consumed, self.copied.produced, self.written,
        )
    }

    pub(super) fn failed(self, reason: impl std::fmt::Display) -> CopyError {
        CopyError::Failed {
            how_far: self.how_far(),
            copied: self.copied,
            reason: reason.to_string(),
        }
    }

    pub(super) fn interrupted(self) -> CopyError {
        CopyError::Interrupted {
            how_far: self.how_far(),
            copied: self.copied,
        }
    }
}

/// Copies `topic` of `source` into `target_topic` of `target` as `plan` says, creating the
/// target topic (with the source's partition count) when missing. `progress` hears the
/// records read so far; when `stop` completes, the copy stops cleanly (what was written is
/// acknowledged) with [`CopyError::Interrupted`].
pub async fn copy(
    (source, topic): (&AnyStorage, &str),
    (target, target_topic): (&AnyStorage, &str),
    plan: &CopyPlan<'_>,
    progress: &(dyn Fn(u64) + Sync),
    stop: impl Future<Output = ()>,
) -> Result<Copied, CopyError> {
    if plan.groups && !plan.keep_partitions {
        return Err(CopyError::Refused(
            "carrying group commits needs the partitions kept".into(),
        ));
    }
    let keeps_offsets =
        plan.as_is() && matches!(source, AnyStorage::Kafka(_)) && target.is_emulated();
    let resume_from =
        into_existing((source, topic), (target, target_topic), plan, keeps_offsets).await?;
    if let (AnyStorage::Kafka(from), true) = (source, keeps_offsets) {
        return copy_batches(
            (from, topic),
            (target, target_topic),
            plan,
            resume_from,
            progress,
            stop,
        )
        .await;
    }
    let mut groups = match plan.groups {
        true => Some(GroupTranslation::new(source, topic).await?),
        false => None,
    };
    let mut reader = plan.read.open(source, topic).await?;
    let mut at = Progress {
        source: end_name(source, topic),
        target: end_name(target, target_topic),
        copied: Copied::default(),
        written: reader.positions(),
    };
    let mut stop = std::pin::pin!(stop);
    let mut ended = false;
    loop {
        let next = tokio::select! {
            next = read::next_records(&mut reader, plan.read.skip_errors, &mut at.copied.skipped_batches) => next,
            _ = &mut stop => {
                // Everything appended so far is acknowledged; stop here, cleanly.
                finish(target, &mut reader, &at.written).await?;
                return Err(at.interrupted());
            }
        };
        let records = match next {
            Ok(Some(r)) => r,
            Ok(None) => {
                ended = true;
                break;
            }
            Err(e) => {
                let _ = finish(target, &mut reader, &at.written).await;
                return Err(at.failed(e));
            }
        };
        progress(at.copied.consumed);
        let Prepared {
            records: batch,
            origins,
            next: last,
        } = match prepare(records, plan, &mut at.copied).await {
            Ok(p) => p,
            Err(e) => {
                let _ = finish(target, &mut reader, &at.written).await;
                return Err(at.failed(e));
            }
        };
        if !batch.is_empty() {
            let n = batch.len() as u64;
            match target.append(target_topic, batch).await {
                Ok(placed) => {
                    if let Some(g) = groups.as_mut() {
                        for (&(p, o), &(_, to)) in origins.iter().zip(&placed) {
                            g.copied(p, o, to);
                        }
                    }
                }
                Err(e) => {
                    let _ = reader.close(&at.written).await;
                    return Err(at.failed(e));
                }
            }
            at.copied.produced += n;
        }
        at.written.extend(last);
        if plan.limit_reached(at.copied.consumed) {
            break;
        }
    }
    let handled = if ended {
        reader.positions()
    } else {
        at.written.clone()
    };
    if let Err(e) = finish(target, &mut reader, &handled).await {
        return Err(at.failed(e));
    }
    if let Some(g) = groups {
        match g.commit(target, target_topic).await {
            Ok(names) => at.copied.groups = names,
            Err(e) => return Err(at.failed(e)),
        }
    }
    Ok(at.copied)
}

/// Flushes the target and ends the read (a group reader commits `handled`).
async fn finish<R: RecordReader>(
    target: &AnyStorage,
    reader: &mut R,
    handled: &BTreeMap<i32, i64>,
) -> crate::Result<()> {
    target.close().await?;
    reader.close(handled).await
}

/// Checks what the target holds: creates a missing target topic (with the source's partition
/// count), refuses a target that holds records unless told to append or resume (or reading
/// as a group, which goes on from its commits), and for a resume returns where to read the
/// source from: the target's end in each partition, after recovering its files (a batch
/// written but not indexed when a copy was killed counts as copied).
async fn into_existing(
    (source, topic): (&AnyStorage, &str),
    (target, target_topic): (&AnyStorage, &str),
    plan: &CopyPlan<'_>,
    keeps_offsets: bool,
) -> Result<Option<ReadFrom>, CopyError> {
    let resume = plan.into_existing == IntoExisting::Resume;
    if resume && !keeps_offsets {
        return Err(CopyError::CannotResume);
    }
    if resume && (plan.read.start.is_some() || plan.read.group.is_some()) {
        return Err(CopyError::Refused(
            "a resumed copy reads from where the target ends: it takes no start and no group"
                .into(),
        ));
    }
    if !target.exists(target_topic).await? {
        let n = source.partitions(topic).await?;
        target.create_topic(target_topic, n, &[]).await?;
        return Ok(resume.then(|| ReadFrom::Offsets(BTreeMap::new())));
    }
    if resume {
        target.recover(target_topic).await?;
    }
    let marks = target.watermarks(target_topic).await?;
    let held: i64 = marks.values().map(|(low, high)| high - low).sum();
    if resume {
        return Ok(Some(ReadFrom::Offsets(
            marks.into_iter().map(|(p, (_, high))| (p, high)).collect(),
        )));
    }
    if held > 0 && plan.into_existing == IntoExisting::Refuse && plan.read.group.is_none() {
        return Err(CopyError::TargetHolds {
            topic: target_topic.to_string(),
            storage: target.describe(),
            records: held,
        });
    }
    Ok(None)
}

/// A copy from a cluster into an emulated storage with nothing changed: the batches as the broker
/// served them, byte for byte, offsets kept (so committed group offsets carry over as they
/// are).
async fn copy_batches(
    (source, topic): (&KafkaStorage, &str),
    (target, target_topic): (&AnyStorage, &str),
    plan: &CopyPlan<'_>,
    resume_from: Option<ReadFrom>,
    progress: &(dyn Fn(u64) + Sync),
    stop: impl Future<Output = ()>,
) -> Result<Copied, CopyError> {
    let any_source = AnyStorage::Kafka(Box::new(source.clone()));
    let groups = match plan.groups {
        true => Some(GroupTranslation::new(&any_source, topic).await?),
        false => None,
    };
    let mut spec = plan.read.clone();
    if resume_from.is_some() {
        spec.start = resume_from;
    }
    let mut reader = spec.open_raw(source, topic).await?;
    let mut at = Progress {
        source: end_name(source, topic),
        target: end_name(target, target_topic),
        copied: Copied::default(),
        written: BTreeMap::new(),
    };
    let mut stop = std::pin::pin!(stop);
    loop {
        let next = tokio::select! {
            next = reader.next_batches() => next,
            _ = &mut stop => {
                reader.close(&at.written).await?;
                return Err(at.interrupted());
            }
        };
        let fetched = match next {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(e) => return Err(at.failed(e)),
        };
        let mut by_partition: BTreeMap<i32, Vec<kafkit_record::RecordBatch>> = BTreeMap::new();
        for f in fetched {
            by_partition.entry(f.partition).or_default().push(f.batch);
        }
        for (p, batches) in by_partition {
            if let Err(e) = target.append_batches(target_topic, p, &batches).await {
                return Err(at.failed(e));
            }
            for b in &batches {
                if !b.header.is_control {
                    at.copied.consumed += b.header.record_count as u64;
                }
                at.copied.batches += 1;
                at.written.insert(p, b.header.next_offset());
            }
        }
        at.copied.produced = at.copied.consumed;
        progress(at.copied.consumed);
    }
    // The reader's positions: past the copied batches, and past any gap at the end.
    let positions = reader.positions();
    if let Err(e) = reader.close(&positions).await {
        return Err(at.failed(e));
    }
    if let Some(mut g) = groups {
        g.keep_offsets();
        match g.commit(target, target_topic).await {
            Ok(names) => at.copied.groups = names,
            Err(e) => return Err(at.failed(e)),
        }
    }
    Ok(at.copied)
}

/// Source records made ready for the target.
pub(super) struct Prepared {
    /// What to write.
    pub records: Vec<NewRecord>,
    /// The source (partition, offset) each record came from.
    pub origins: Vec<(i32, i64)>,
    /// Per source partition, the offset after the last record read (written or not).
    pub next: BTreeMap<i32, i64>,
}

/// Turns source records into target records as `plan` says (the end time, the pipeline and
/// types when it converts, partitions, timestamps and headers kept or not), counting what it
/// consumed and stopping at the plan's limit. The schemas the records name are fetched
/// first when it converts.
pub(super) async fn prepare(
    records: Vec<ConsumerRecord>,
    plan: &CopyPlan<'_>,
    copied: &mut Copied,
) -> Result<Prepared, String> {
    let convert = plan.converts();
    if convert {
        plan.read.format.prepare(&records).await?;
    }
    let carry = match convert {
        true => None,
        false => Carry::between(&plan.read.format, &plan.target),
    };
    if let Some(c) = &carry {
        c.prepare(&records).await?;
    }
    let mut out = Prepared {
        records: Vec::with_capacity(records.len()),
        origins: Vec::with_capacity(records.len()),
        next: BTreeMap::new(),
    };
    for r in records {
        if plan.limit_reached(copied.consumed) {
            break;
        }
        copied.consumed += 1;
        out.next.insert(r.partition, r.offset + 1);
        if !plan.read.wants(&r) {
            continue;
        }
        let (partition, offset) = (r.partition, r.offset);
        let news = if convert {
            transform(&r, plan)?
        } else {
            let (key, value) = match &carry {
                Some(c) => (c.rewrite(Side::Key, r.key), c.rewrite(Side::Value, r.value)),
                None => (r.key, r.value),
            };
            vec![NewRecord {
                partition: Some(r.partition),
                timestamp: Some(r.timestamp),
                key,
                value,
                headers: r.headers,
            }]
        };
        for mut n in news {
            if !plan.keep_partitions {
                n.partition = None;
            }
            if !plan.keep_timestamps {
                n.timestamp = None;
            }
            if !plan.keep_headers {
                n.headers.clear();
            }
            match plan.chunk_size {
                // A keyless message's chunks must share a partition: its own when kept, else
                // the first.
                Some(size) => {
                    for c in super::chunks::split(n, size, Some(0)) {
                        out.records.push(c);
                        out.origins.push((partition, offset));
                    }
                }
                None => {
                    out.records.push(n);
                    out.origins.push((partition, offset));
                }
            }
        }
    }
    Ok(out)
}

/// A source record through the pipeline (and type conversion) into target records.
fn transform(r: &ConsumerRecord, plan: &CopyPlan<'_>) -> Result<Vec<NewRecord>, String> {
    let line = record_to_json(r, &plan.read.format)?;
    let value = serde_json::to_value(&line).map_err(|e| e.to_string())?;
    let at = |e: String| {
        format!(
            "topic '{}' partition {} offset {}: {e}",
            r.topic, r.partition, r.offset
        )
    };
    let results = plan.pipeline.apply(value).map_err(at)?;
    results
        .iter()
        .map(|v| json_to_record(v, &plan.target, true).map_err(at))
        .collect()
}
