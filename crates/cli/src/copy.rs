//! `cp`: copies a topic within a storage or to another, record by record (with jq, type
//! conversion, repartitioning, group offsets translated) or, from a cluster into local files
//! with nothing changed, batch by batch as the broker served them.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context};
use kafkit::store::{AnyStorage, ReadFrom, RecordReader, Storage};

use kafkit::store::ops::jq::Pipeline;
use kafkit::store::ops::json::{json_to_record, record_to_json, DataType};
use crate::shell::ReadArgs;

/// What `cp` did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Copied {
    /// Records read from the source.
    pub consumed: u64,
    /// Records written to the target.
    pub produced: u64,
    /// Groups whose committed offsets were copied (`--groups`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Batches copied byte for byte with their offsets (cluster → local files with nothing
    /// changed); 0 when records were copied one by one.
    #[serde(skip_serializing_if = "is_zero")]
    pub batches: u64,
    /// Corrupt source batches stepped over (`--skip-errors`).
    #[serde(skip_serializing_if = "is_zero")]
    pub skipped_batches: u64,
}

impl Copied {
    /// How far a copy got when it stopped: every source record before `written` (partition →
    /// offset) is in the target.
    fn stopped(
        &self,
        (source, topic): (&impl Storage, &str),
        (target, target_topic): (&impl Storage, &str),
        written: &BTreeMap<i32, i64>,
    ) -> String {
        let batches = match self.batches {
            0 => String::new(),
            n => format!(" in {n} batches"),
        };
        format!(
            "copy {} '{topic}' → {} '{target_topic}' stopped after {} consumed, {} produced{batches}; \
             every source record before {written:?} (partition: offset) is in the target",
            source.describe(),
            target.describe(),
            self.consumed,
            self.produced,
        )
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How `cp` writes what it reads.
#[derive(Debug, Clone, Copy)]
pub struct CopyPlan<'a> {
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
    /// Types of keys and values in the target (conversion from the source's `--key-type`
    /// and `--value-type`; used with a pipeline or when they differ).
    pub target_types: (DataType, DataType),
    /// Copy the committed offsets of the source topic's groups, translated to the target's
    /// offsets.
    pub groups: bool,
    /// What to do when the target already holds records.
    pub into_existing: IntoExisting,
}

/// What `cp` does when its target already holds records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntoExisting {
    /// Refuse (the default): running the same copy twice would hold everything twice. A
    /// copy as a group member goes on from the group's commits instead.
    Refuse,
    /// Add to what is there (`--append`).
    Append,
    /// Go on from where the target ends (`--resume`): copies that keep offsets only.
    Resume,
}

/// Committed offsets of groups on one source partition, waiting for the first copied record
/// at or after them.
#[derive(Default)]
struct PendingCommits {
    /// (source offset, group), sorted; the front is the next to place.
    waiting: std::collections::VecDeque<(i64, String)>,
}

/// Translates group commits from source to target offsets while a copy runs.
struct GroupTranslation {
    pending: BTreeMap<i32, PendingCommits>,
    /// group → target partition → target offset.
    placed: BTreeMap<String, BTreeMap<i32, i64>>,
}

impl GroupTranslation {
    async fn new(source: &AnyStorage, topic: &str) -> anyhow::Result<Self> {
        let mut pending: BTreeMap<i32, PendingCommits> = BTreeMap::new();
        for group in source.list_groups().await? {
            let offsets = source.group_offsets(&group).await?;
            for (&p, &o) in offsets.get(topic).into_iter().flatten() {
                pending
                    .entry(p)
                    .or_default()
                    .waiting
                    .push_back((o, group.clone()));
            }
        }
        for commits in pending.values_mut() {
            commits.waiting.make_contiguous().sort();
        }
        Ok(GroupTranslation {
            pending,
            placed: BTreeMap::new(),
        })
    }

    /// The source record at (`partition`, `offset`) was copied to `target_offset`.
    fn copied(&mut self, partition: i32, offset: i64, target_offset: i64) {
        let Some(commits) = self.pending.get_mut(&partition) else {
            return;
        };
        while commits.waiting.front().is_some_and(|(o, _)| *o <= offset) {
            let (_, group) = commits.waiting.pop_front().expect("checked");
            self.placed
                .entry(group)
                .or_default()
                .insert(partition, target_offset);
        }
    }

    /// The copy kept offsets (batches copied as they were): every commit stays as it is.
    fn keep_offsets(&mut self) {
        for (p, commits) in std::mem::take(&mut self.pending) {
            for (o, group) in commits.waiting {
                self.placed.entry(group).or_default().insert(p, o);
            }
        }
    }

    /// Commits still waiting had read past everything copied: they go to the target's end.
    async fn commit(
        mut self,
        target: &AnyStorage,
        target_topic: &str,
    ) -> anyhow::Result<Vec<String>> {
        let ends = target.watermarks(target_topic).await?;
        for (p, commits) in std::mem::take(&mut self.pending) {
            for (_, group) in commits.waiting {
                let end = ends.get(&p).map_or(0, |(_, h)| *h);
                self.placed.entry(group).or_default().insert(p, end);
            }
        }
        let mut groups = Vec::new();
        for (group, offsets) in self.placed {
            let offsets = BTreeMap::from([(target_topic.to_string(), offsets)]);
            target
                .commit(&group, &offsets)
                .await
                .with_context(|| format!("copy the offsets of group '{group}'"))?;
            groups.push(group);
        }
        Ok(groups)
    }
}

/// Checks what the target holds: creates a missing target topic (with the source's partition
/// count), refuses a target that holds records unless told to append or resume (or reading
/// as a group, which goes on from its commits), and for `--resume` returns where to read the
/// source from: the target's end in each partition, after recovering its files (a batch
/// written but not indexed when a copy was killed counts as copied).
async fn into_existing(
    (source, topic): (&AnyStorage, &str),
    (target, target_topic): (&AnyStorage, &str),
    args: &ReadArgs,
    plan: &CopyPlan<'_>,
    keeps_offsets: bool,
) -> anyhow::Result<Option<ReadFrom>> {
    let resume = plan.into_existing == IntoExisting::Resume;
    if resume && !keeps_offsets {
        bail!(
            "--resume needs a copy that keeps offsets (a cluster into local files, nothing \
             changed); resume this one with --offsets P=N,... --append as the stopped copy \
             said, or copy as a --group"
        );
    }
    if resume && (args.offsets.is_some() || args.from.is_some() || args.group.is_some()) {
        bail!("--resume reads from where the target ends: drop --offsets, --from and --group");
    }
    if !target.exists(target_topic).await? {
        let n = source.partitions(topic).await?;
        target.create_topic(target_topic, n, &[]).await?;
        return Ok(resume.then(|| ReadFrom::Offsets(BTreeMap::new())));
    }
    if let (AnyStorage::Local(local), true) = (target, resume) {
        local.recover(target_topic).await?;
    }
    let marks = target.watermarks(target_topic).await?;
    let held: i64 = marks.values().map(|(low, high)| high - low).sum();
    if resume {
        return Ok(Some(ReadFrom::Offsets(
            marks.into_iter().map(|(p, (_, high))| (p, high)).collect(),
        )));
    }
    if held > 0 && plan.into_existing == IntoExisting::Refuse && args.group.is_none() {
        bail!(
            "'{target_topic}' on {} already holds {held} records: copying again would hold \
             them twice (--append adds anyway; --resume goes on with a copy that stopped)",
            target.describe()
        );
    }
    Ok(None)
}

/// `cp`: copies records (keeping partitions, timestamps and headers unless told otherwise),
/// creating the target topic with the source's partition count when missing. An error says
/// how far the copy got: everything before the positions it names is in the target.
pub async fn cp(
    (source, topic): (&AnyStorage, &str),
    (target, target_topic): (&AnyStorage, &str),
    args: &ReadArgs,
    plan: CopyPlan<'_>,
) -> anyhow::Result<Copied> {
    if plan.groups && !plan.keep_partitions {
        bail!("--groups needs the partitions kept (drop --repartition)");
    }
    let as_is = plan.pipeline.is_empty()
        && plan.target_types == (args.key_type, args.value_type)
        && plan.keep_partitions
        && plan.keep_timestamps
        && plan.keep_headers
        && args.to.is_none()
        && plan.limit.is_none();
    let keeps_offsets = as_is
        && matches!(
            (source, target),
            (AnyStorage::Kafka(_), AnyStorage::Local(_))
        );
    let resume_from = into_existing(
        (source, topic),
        (target, target_topic),
        args,
        &plan,
        keeps_offsets,
    )
    .await?;
    if let (AnyStorage::Kafka(from), AnyStorage::Local(into), true) = (source, target, as_is) {
        return cp_batches(
            (from, topic),
            (into, target_topic),
            args,
            plan.groups,
            resume_from,
        )
        .await;
    }
    let mut groups = match plan.groups {
        true => Some(GroupTranslation::new(source, topic).await?),
        false => None,
    };
    let mut reader = args.open(source, topic, None, args.follow).await?;
    let convert =
        !plan.pipeline.is_empty() || plan.target_types != (args.key_type, args.value_type);
    let mut copied = Copied::default();
    // Per source partition, the offset after the last record written to the target.
    let mut written: BTreeMap<i32, i64> = reader.positions();
    let progress = |copied: &Copied, written: &BTreeMap<i32, i64>| {
        copied.stopped((source, topic), (target, target_topic), written)
    };
    let bar = progress_bar(source, topic, args, plan.limit).await;
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    let mut ended = false;
    loop {
        let next = tokio::select! {
            next = crate::shell::next_or_skip(&mut reader, args.skip_errors, &mut copied.skipped_batches) => next,
            _ = &mut interrupted => {
                // Everything appended so far is acknowledged; stop here, cleanly.
                bar.abandon();
                target.close().await?;
                reader.close(&written).await?;
                bail!("interrupted: {}", progress(&copied, &written));
            }
        };
        let records = match next {
            Ok(Some(r)) => r,
            Ok(None) => {
                ended = true;
                break;
            }
            Err(e) => {
                target.close().await?;
                reader.close(&written).await?;
                return Err(e.context(progress(&copied, &written)));
            }
        };
        bar.set_position(copied.consumed);
        let mut batch = Vec::with_capacity(records.len());
        // The source (partition, offset) each record of `batch` came from.
        let mut origins = Vec::with_capacity(records.len());
        let mut last = BTreeMap::new();
        for r in records {
            if limit_reached(plan.limit, copied.consumed) {
                break;
            }
            copied.consumed += 1;
            last.insert(r.partition, r.offset + 1);
            if args.to.is_some_and(|to| r.timestamp >= to) {
                continue;
            }
            let (partition, offset) = (r.partition, r.offset);
            let news = if convert {
                transform(&r, args, &plan)
                    .map_err(|e| anyhow!("{e}").context(progress(&copied, &written)))?
            } else {
                vec![kafkit::store::NewRecord {
                    partition: Some(r.partition),
                    timestamp: Some(r.timestamp),
                    key: r.key,
                    value: r.value,
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
                batch.push(n);
                origins.push((partition, offset));
            }
        }
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
                Err(e) => return Err(anyhow!(e).context(progress(&copied, &written))),
            }
            copied.produced += n;
        }
        written.extend(last);
        if limit_reached(plan.limit, copied.consumed) {
            break;
        }
    }
    bar.finish_and_clear();
    target.close().await?;
    let handled = if ended { reader.positions() } else { written };
    reader.close(&handled).await?;
    if let Some(g) = groups {
        copied.groups = g.commit(target, target_topic).await?;
    }
    Ok(copied)
}

/// A progress bar on stderr for a copy (hidden when stderr is not a terminal): records read
/// out of those between the watermarks now.
async fn progress_bar(
    source: &AnyStorage,
    topic: &str,
    args: &ReadArgs,
    limit: Option<u64>,
) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let total: Option<u64> = match (args.follow, source.watermarks(topic).await) {
        (false, Ok(marks)) => Some(
            marks
                .iter()
                .filter(|(p, _)| args.partitions.as_ref().is_none_or(|ps| ps.contains(p)))
                .map(|(_, (l, h))| (h - l).max(0) as u64)
                .sum(),
        ),
        _ => None,
    };
    let total = match (total, limit) {
        (Some(t), Some(n)) => Some(t.min(n)),
        (t, n) => t.or(n),
    };
    let bar = match total {
        Some(t) => indicatif::ProgressBar::new(t).with_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {human_pos}/{human_len} records, {per_sec}, eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        ),
        None => indicatif::ProgressBar::new_spinner().with_style(
            indicatif::ProgressStyle::with_template("{spinner} {human_pos} records, {per_sec}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        ),
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar
}

/// `cp` from a cluster into local files with nothing changed: the batches as the broker
/// served them, byte for byte, offsets kept (so committed group offsets carry over as they
/// are).
async fn cp_batches(
    (source, topic): (&kafkit::store::KafkaStorage, &str),
    (target, target_topic): (&kafkit::store::LocalStorage, &str),
    args: &ReadArgs,
    groups: bool,
    resume_from: Option<ReadFrom>,
) -> anyhow::Result<Copied> {
    let any_source = AnyStorage::Kafka(Box::new(source.clone()));
    let groups = match groups {
        true => Some(GroupTranslation::new(&any_source, topic).await?),
        false => None,
    };
    let mut reader = args.open(source, topic, resume_from, args.follow).await?;
    let mut copied = Copied::default();
    let mut written: BTreeMap<i32, i64> = BTreeMap::new();
    let progress = |copied: &Copied, written: &BTreeMap<i32, i64>| {
        copied.stopped((source, topic), (target, target_topic), written)
    };
    let bar = progress_bar(&any_source, topic, args, None).await;
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let next = tokio::select! {
            next = reader.next_batches() => next,
            _ = &mut interrupted => {
                bar.abandon();
                reader.close(&written).await?;
                bail!("interrupted: {}", progress(&copied, &written));
            }
        };
        let fetched = match next {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(e) => return Err(anyhow!(e).context(progress(&copied, &written))),
        };
        let mut by_partition: BTreeMap<i32, Vec<kafkit::record::RecordBatch>> = BTreeMap::new();
        for f in fetched {
            by_partition.entry(f.partition).or_default().push(f.batch);
        }
        for (p, batches) in by_partition {
            if let Err(e) = target.append_batches(target_topic, p, &batches).await {
                return Err(anyhow!(e).context(progress(&copied, &written)));
            }
            for b in &batches {
                if !b.header.is_control {
                    copied.consumed += b.header.record_count as u64;
                }
                copied.batches += 1;
                written.insert(p, b.header.next_offset());
            }
        }
        copied.produced = copied.consumed;
        bar.set_position(copied.consumed);
    }
    bar.finish_and_clear();
    // The reader's positions: past the copied batches, and past any gap at the end.
    let positions = reader.positions();
    reader.close(&positions).await?;
    if let Some(mut g) = groups {
        g.keep_offsets();
        copied.groups = g
            .commit(&AnyStorage::Local(target.clone()), target_topic)
            .await?;
    }
    Ok(copied)
}

fn limit_reached(limit: Option<u64>, consumed: u64) -> bool {
    limit.is_some_and(|n| consumed >= n)
}

/// A source record through the pipeline (and type conversion) into target records.
fn transform(
    r: &kafkit::store::Record,
    args: &ReadArgs,
    plan: &CopyPlan<'_>,
) -> Result<Vec<kafkit::store::NewRecord>, String> {
    let line = record_to_json(r, args.key_type, args.value_type)?;
    let value = serde_json::to_value(&line).map_err(|e| e.to_string())?;
    let at = |e: String| {
        format!(
            "topic '{}' partition {} offset {}: {e}",
            r.topic, r.partition, r.offset
        )
    };
    let results = plan.pipeline.apply(value).map_err(at)?;
    let (key_type, value_type) = plan.target_types;
    results
        .iter()
        .map(|v| json_to_record(v, key_type, value_type, true).map_err(at))
        .collect()
}
