//! kafi's functional methods on any [`Storage`]: [`Source::foldl`], [`Source::map`],
//! [`Source::flatmap`], [`Source::filter`], [`Source::foreach`], [`Source::zip_foldl`] (two
//! topics side by side), and the `_to` variants that write what a closure gives to a
//! [`Target`] topic on any storage, returning kafi's counts (records consumed, produced).
//!
//! Closures see each record as `kafkit cat` prints it — a JSON object with `topic`,
//! `partition`, `offset`, `timestamp`, `key`, `value`, `headers` — its key and value shown as
//! the source's [`ReadSpec::format`] says (str unless told; json, bytes, or a schema type).
//! Records the `_to` closures give are objects of the same shape (`value` required; `key`,
//! `headers`, `timestamp`, `partition` optional), encoded as the target's format says.
//!
//! What is read, the CLI's options: partitions, start offsets, an end time, a group (the
//! source reads as a member and commits what was handed to the closure), `n`.
//!
//! ```
//! # async fn demo() -> kafkit_store::Result<()> {
//! use kafkit_store::ops::functional::{Source, Target};
//! use kafkit_store::{LocalStorage, NewRecord, Storage};
//! let dir = tempfile::tempdir().unwrap();
//! let store = LocalStorage::open(dir.path())?;
//! store.create_topic("orders", 1, &[]).await?;
//! let orders = (1..=5).map(|i| NewRecord::new(None::<&str>, Some(format!("{}", i * 10))));
//! store.append("orders", orders.collect()).await?;
//!
//! // The sum of the values, and how many records were read.
//! let (sum, consumed) = Source::new(&store, "orders")
//!     .foldl(0, |acc, r| acc + r["value"].as_str().unwrap().parse::<i64>().unwrap())
//!     .await?;
//! assert_eq!((sum, consumed), (150, 5));
//!
//! // The big ones to another topic.
//! let (consumed, produced) = Source::new(&store, "orders")
//!     .filter_to(&Target::new(&store, "big"), |r| r["value"].as_str() > Some("25"))
//!     .await?;
//! assert_eq!((consumed, produced), (5, 3));
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::json::{json_to_record, record_to_json};
use super::read::{next_records, ReadSpec};
use super::schemas::RecordFormat;
use crate::error::{Result, StoreError};
use crate::types::NewRecord;
use crate::{RecordReader, Storage};

/// Records written to a target per append.
const APPEND_RECORDS: usize = 8192;
/// How often a group source commits what it handed on, at most.
const COMMIT_EVERY: Duration = Duration::from_secs(5);

/// A topic of a storage to read, and how (see the module's documentation).
#[derive(Clone, Debug)]
pub struct Source<'a, S> {
    storage: &'a S,
    topic: String,
    read: ReadSpec,
    n: Option<u64>,
}

/// A topic of a storage to write: created when missing (with the source's partition count),
/// its records encoded as `format` says.
#[derive(Clone, Debug)]
pub struct Target<'a, T> {
    storage: &'a T,
    topic: String,
    format: RecordFormat,
    keep_partitions: bool,
}

impl<'a, T: Storage> Target<'a, T> {
    /// `topic` of `storage`, keys and values written as text (str), each record's
    /// `partition` kept when it gives one.
    pub fn new(storage: &'a T, topic: impl Into<String>) -> Self {
        Target {
            storage,
            topic: topic.into(),
            format: RecordFormat::default(),
            keep_partitions: true,
        }
    }

    /// How keys and values are encoded (e.g. `RecordFormat::new(DataType::Str,
    /// DataType::Json)`, or a schema type with its registry).
    pub fn format(mut self, format: RecordFormat) -> Self {
        self.format = format;
        self
    }

    /// Whether a record's `partition` is kept (default) or its key decides again.
    pub fn keep_partitions(mut self, keep: bool) -> Self {
        self.keep_partitions = keep;
        self
    }

    /// Writes `records` (objects as a `_to` closure gives them), creating the topic with
    /// `partitions` when it is missing; returns how many were written.
    pub(crate) async fn write_records(&self, records: &[Value], partitions: i32) -> Result<u64> {
        self.ensure(partitions).await?;
        let mut outbox = Outbox::new(self);
        for r in records {
            outbox.push(r, &Origin::of(r))?;
            outbox.flush(false).await?;
        }
        outbox.flush(true).await?;
        Ok(outbox.produced)
    }

    /// Creates the topic when it is missing.
    async fn ensure(&self, partitions: i32) -> Result<()> {
        if !self.storage.exists(&self.topic).await? {
            self.storage
                .create_topic(&self.topic, partitions.max(1), &[])
                .await?;
        }
        Ok(())
    }
}

/// Where a record came from, for messages about what a closure gave for it.
struct Origin {
    topic: String,
    partition: Value,
    offset: Value,
}

impl Origin {
    fn of(record: &Value) -> Origin {
        Origin {
            topic: record["topic"].as_str().unwrap_or_default().to_string(),
            partition: record["partition"].clone(),
            offset: record["offset"].clone(),
        }
    }
}

/// Records given by a `_to` closure, on their way to the target.
struct Outbox<'t, 'a, T> {
    target: &'t Target<'a, T>,
    pending: Vec<NewRecord>,
    produced: u64,
}

impl<'t, 'a, T: Storage> Outbox<'t, 'a, T> {
    fn new(target: &'t Target<'a, T>) -> Self {
        Outbox {
            target,
            pending: Vec::new(),
            produced: 0,
        }
    }

    /// Encodes `out`, given for the record at `from` (for messages).
    fn push(&mut self, out: &Value, from: &Origin) -> Result<()> {
        let record = json_to_record(out, &self.target.format, self.target.keep_partitions)
            .map_err(|e| {
                StoreError::Invalid(format!(
                    "a record given for topic '{}' partition {} offset {}, for '{}': {e}",
                    from.topic, from.partition, from.offset, self.target.topic
                ))
            })?;
        self.pending.push(record);
        Ok(())
    }

    /// Writes what is pending once there is enough of it, or all with `all`.
    async fn flush(&mut self, all: bool) -> Result<()> {
        if self.pending.is_empty() || (!all && self.pending.len() < APPEND_RECORDS) {
            return Ok(());
        }
        let records = std::mem::take(&mut self.pending);
        let n = records.len() as u64;
        self.target
            .storage
            .append(&self.target.topic, records)
            .await
            .map_err(|e| {
                StoreError::Invalid(format!(
                    "writing to '{}' on {} after {} records: {e}",
                    self.target.topic,
                    self.target.storage.describe(),
                    self.produced
                ))
            })?;
        self.produced += n;
        Ok(())
    }
}

/// An open source: its reader and what has been handed on.
struct Cursor<'s, S: Storage> {
    spec: &'s ReadSpec,
    reader: super::chunks::Assembled<S::Reader>,
    limit: Option<u64>,
    consumed: u64,
    skipped: u64,
    handled: BTreeMap<i32, i64>,
    last_commit: Instant,
}

impl<S: Storage> Cursor<'_, S> {
    /// The next records as JSON objects (at most up to the limit); `None` at the end.
    async fn next_batch(&mut self) -> Result<Option<Vec<Value>>> {
        loop {
            if self.limit.is_some_and(|n| self.consumed >= n) {
                return Ok(None);
            }
            let Some(records) =
                next_records(&mut self.reader, self.spec.skip_errors, &mut self.skipped).await?
            else {
                return Ok(None);
            };
            self.spec
                .format
                .prepare(&records)
                .await
                .map_err(StoreError::Invalid)?;
            let mut out = Vec::with_capacity(records.len());
            for r in &records {
                if self.limit.is_some_and(|n| self.consumed >= n) {
                    break;
                }
                self.handled.insert(r.partition, r.offset + 1);
                if !self.spec.wants(r) {
                    continue;
                }
                let line = record_to_json(r, &self.spec.format).map_err(StoreError::Invalid)?;
                out.push(serde_json::to_value(&line).expect("a record line serializes"));
                self.consumed += 1;
            }
            if !out.is_empty() {
                return Ok(Some(out));
            }
        }
    }

    /// Commits what was handed on, when a group source has not for a while.
    async fn commit_now_and_then(&mut self) -> Result<()> {
        if self.spec.group.is_some() && self.last_commit.elapsed() >= COMMIT_EVERY {
            self.reader.commit(&self.handled).await?;
            self.last_commit = Instant::now();
        }
        Ok(())
    }

    /// Ends the read (a group source commits what was handed on and leaves).
    async fn close(mut self) -> Result<u64> {
        self.reader.close(&self.handled).await?;
        Ok(self.consumed)
    }
}

impl<'a, S: Storage> Source<'a, S> {
    /// All of `topic` of `storage`, from the beginning to the end it has now, keys and
    /// values shown as text.
    pub fn new(storage: &'a S, topic: impl Into<String>) -> Self {
        Source {
            storage,
            topic: topic.into(),
            read: ReadSpec::default(),
            n: None,
        }
    }

    /// What to read and how keys and values are shown (partitions, start, end time, group,
    /// follow, format: the CLI's reading options).
    pub fn read(mut self, spec: ReadSpec) -> Self {
        self.read = spec;
        self
    }

    /// At most `n` records.
    pub fn n(mut self, n: u64) -> Self {
        self.n = Some(n);
        self
    }

    async fn open(&self) -> Result<Cursor<'_, S>> {
        Ok(Cursor {
            spec: &self.read,
            reader: self.read.open(self.storage, &self.topic).await?,
            limit: self.n,
            consumed: 0,
            skipped: 0,
            handled: BTreeMap::new(),
            last_commit: Instant::now(),
        })
    }

    /// The source topic's partition count (a missing target gets as many).
    pub(crate) async fn partitions(&self) -> Result<i32> {
        self.storage.partitions(&self.topic).await
    }

    /// Folds every record into `acc` with `f`, in order; returns the result and how many
    /// records were read.
    pub async fn foldl<A>(&self, init: A, mut f: impl FnMut(A, Value) -> A) -> Result<(A, u64)> {
        let mut cursor = self.open().await?;
        let mut acc = init;
        while let Some(batch) = cursor.next_batch().await? {
            for record in batch {
                acc = f(acc, record);
            }
            cursor.commit_now_and_then().await?;
        }
        let consumed = cursor.close().await?;
        Ok((acc, consumed))
    }

    /// What `f` gives for each record, all in one list; and how many records were read.
    pub async fn flatmap<X>(&self, mut f: impl FnMut(Value) -> Vec<X>) -> Result<(Vec<X>, u64)> {
        self.foldl(Vec::new(), |mut acc, r| {
            acc.extend(f(r));
            acc
        })
        .await
    }

    /// `f` of each record; and how many records were read.
    pub async fn map<X>(&self, mut f: impl FnMut(Value) -> X) -> Result<(Vec<X>, u64)> {
        self.flatmap(|r| vec![f(r)]).await
    }

    /// The records `f` keeps; and how many records were read.
    pub async fn filter(&self, mut f: impl FnMut(&Value) -> bool) -> Result<(Vec<Value>, u64)> {
        self.flatmap(|r| if f(&r) { vec![r] } else { Vec::new() })
            .await
    }

    /// Calls `f` on each record; returns how many were read.
    pub async fn foreach(&self, mut f: impl FnMut(Value)) -> Result<u64> {
        Ok(self.foldl((), |(), r| f(r)).await?.1)
    }

    /// Folds every record into `acc` with `f`, writing the records `f` gives to `target`;
    /// returns the result, the records read and the records written.
    pub async fn foldl_to<A, T: Storage>(
        &self,
        target: &Target<'_, T>,
        init: A,
        mut f: impl FnMut(A, Value) -> (A, Vec<Value>),
    ) -> Result<(A, u64, u64)> {
        target.ensure(self.partitions().await?).await?;
        let mut cursor = self.open().await?;
        let mut outbox = Outbox::new(target);
        let mut acc = init;
        while let Some(batch) = cursor.next_batch().await? {
            for record in batch {
                let origin = Origin::of(&record);
                let (next, out) = f(acc, record);
                acc = next;
                for o in &out {
                    outbox.push(o, &origin)?;
                }
            }
            // A group source commits only what reached the target: its batches are written
            // as they come.
            let grouped = self.read.group.is_some();
            outbox.flush(grouped).await?;
            if outbox.pending.is_empty() {
                cursor.commit_now_and_then().await?;
            }
        }
        outbox.flush(true).await?;
        let consumed = cursor.close().await?;
        Ok((acc, consumed, outbox.produced))
    }

    /// Writes what `f` gives for each record to `target`; returns (read, written).
    pub async fn flatmap_to<T: Storage>(
        &self,
        target: &Target<'_, T>,
        mut f: impl FnMut(Value) -> Vec<Value>,
    ) -> Result<(u64, u64)> {
        let ((), consumed, produced) = self.foldl_to(target, (), |(), r| ((), f(r))).await?;
        Ok((consumed, produced))
    }

    /// Writes `f` of each record to `target`; returns (read, written).
    pub async fn map_to<T: Storage>(
        &self,
        target: &Target<'_, T>,
        mut f: impl FnMut(Value) -> Value,
    ) -> Result<(u64, u64)> {
        self.flatmap_to(target, |r| vec![f(r)]).await
    }

    /// Writes the records `f` keeps to `target`; returns (read, written).
    pub async fn filter_to<T: Storage>(
        &self,
        target: &Target<'_, T>,
        mut f: impl FnMut(&Value) -> bool,
    ) -> Result<(u64, u64)> {
        self.flatmap_to(target, |r| if f(&r) { vec![r] } else { Vec::new() })
            .await
    }

    /// Folds the records of this source and `other` pairwise (the first of each, then the
    /// second of each, ...) until either ends; `n` counts pairs. Returns the result and how
    /// many records each source handed on.
    pub async fn zip_foldl<A, S2: Storage>(
        &self,
        other: &Source<'_, S2>,
        init: A,
        mut f: impl FnMut(A, Value, Value) -> A,
    ) -> Result<(A, u64, u64)> {
        let mut left = self.open().await?;
        let mut right = other.open().await?;
        let (mut lq, mut rq) = (VecDeque::new(), VecDeque::new());
        let mut acc = init;
        loop {
            if lq.is_empty() {
                match left.next_batch().await? {
                    Some(b) => lq.extend(b),
                    None => break,
                }
            }
            if rq.is_empty() {
                match right.next_batch().await? {
                    Some(b) => rq.extend(b),
                    None => break,
                }
            }
            while !lq.is_empty() && !rq.is_empty() {
                let (l, r) = (lq.pop_front(), rq.pop_front());
                acc = f(acc, l.expect("not empty"), r.expect("not empty"));
            }
        }
        // Records read but not paired are not handed on: a group does not commit them.
        let unpaired = |q: &VecDeque<Value>, handled: &mut BTreeMap<i32, i64>| {
            for r in q {
                if let (Some(p), Some(o)) = (r["partition"].as_i64(), r["offset"].as_i64()) {
                    let p = p as i32;
                    if handled.get(&p).is_none_or(|&h| h > o) {
                        handled.insert(p, o);
                    }
                }
            }
            q.len() as u64
        };
        let l_unpaired = unpaired(&lq, &mut left.handled);
        let r_unpaired = unpaired(&rq, &mut right.handled);
        let (l, r) = (left.close().await?, right.close().await?);
        Ok((acc, l - l_unpaired, r - r_unpaired))
    }
}
