//! Shell-like topic commands over any storage: ls, touch, rm, exists, watermarks, produce,
//! cat, head, tail, wc, cp.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use kafkit::store::{AnyStorage, NewRecord, ReadFrom, RecordReader, Storage};

use crate::jsonl::{json_to_record, record_to_json, DataType};

/// Where records live: a cluster or a local directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageSpec {
    /// `kafka:HOST:PORT[,HOST:PORT]`.
    Kafka(String),
    /// `local[:DIR]` (default `./.kafkit`).
    Local(PathBuf),
}

impl std::str::FromStr for StorageSpec {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        if s == "local" {
            return Ok(StorageSpec::Local(PathBuf::from(".kafkit")));
        }
        if let Some(dir) = s.strip_prefix("local:") {
            return Ok(StorageSpec::Local(PathBuf::from(dir)));
        }
        if let Some(brokers) = s.strip_prefix("kafka:") {
            return Ok(StorageSpec::Kafka(brokers.to_string()));
        }
        bail!("storage '{s}': expected local, local:DIR or kafka:HOST:PORT")
    }
}

/// How to read a topic.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ReadArgs {
    /// Only these partitions (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub partitions: Option<Vec<i32>>,
    /// Start offsets: `N` for every partition, `P=N,...` per partition; a negative N counts
    /// back from the end.
    #[arg(long, allow_hyphen_values = true)]
    pub offsets: Option<String>,
    /// Start at the first record at or after this time (ms since the epoch).
    #[arg(long)]
    pub from: Option<i64>,
    /// Stop before records at or after this time (ms since the epoch).
    #[arg(long)]
    pub to: Option<i64>,
    /// Keep reading new records (until interrupted or -n is reached).
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// How keys are shown.
    #[arg(long, value_enum, default_value_t = DataType::Str)]
    pub key_type: DataType,
    /// How values are shown.
    #[arg(long, value_enum, default_value_t = DataType::Str)]
    pub value_type: DataType,
    /// Skip records that do not decode as the requested type (counted on stderr) instead of
    /// stopping with an error.
    #[arg(long)]
    pub skip_errors: bool,
}

impl ReadArgs {
    fn start(&self) -> anyhow::Result<ReadFrom> {
        if let Some(ts) = self.from {
            return Ok(ReadFrom::Timestamp(ts));
        }
        let Some(spec) = &self.offsets else {
            return Ok(ReadFrom::Beginning);
        };
        if !spec.contains('=') {
            let n: i64 = spec
                .trim()
                .parse()
                .map_err(|_| anyhow!("--offsets {spec}: expected N or P=N,..."))?;
            return Ok(if n < 0 {
                ReadFrom::Last(-n)
            } else {
                ReadFrom::Offset(n)
            });
        }
        let mut m = BTreeMap::new();
        for part in spec.split(',') {
            let (p, o) = part
                .split_once('=')
                .ok_or_else(|| anyhow!("--offsets {spec}: '{part}' is not P=N"))?;
            let p: i32 = p
                .trim()
                .parse()
                .map_err(|_| anyhow!("--offsets: bad partition '{p}'"))?;
            let o: i64 = o
                .trim()
                .parse()
                .map_err(|_| anyhow!("--offsets: bad offset '{o}'"))?;
            m.insert(p, o);
        }
        Ok(ReadFrom::Offsets(m))
    }
}

/// Opens the storage `spec` names; Kafka with the -X properties of the command line.
pub async fn open(
    spec: &StorageSpec,
    producer: impl FnOnce(&str) -> anyhow::Result<kafkit::client::ProducerConfig>,
    consumer: impl FnOnce(&str) -> anyhow::Result<kafkit::client::ConsumerConfig>,
) -> anyhow::Result<AnyStorage> {
    Ok(match spec {
        StorageSpec::Local(dir) => AnyStorage::Local(
            kafkit::store::LocalStorage::open(dir)
                .with_context(|| format!("local storage {}", dir.display()))?,
        ),
        StorageSpec::Kafka(brokers) => AnyStorage::Kafka(Box::new(
            kafkit::store::KafkaStorage::connect(producer(brokers)?, consumer(brokers)?)
                .await
                .with_context(|| format!("cluster {brokers}"))?,
        )),
    })
}

/// Writes JSON lines to stdout; a closed pipe (`| head`) ends the command quietly.
struct Out {
    w: std::io::BufWriter<std::io::Stdout>,
    closed: bool,
}

impl Out {
    fn new() -> Self {
        Out {
            w: std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()),
            closed: false,
        }
    }
    fn line(&mut self, s: &str) -> anyhow::Result<()> {
        match writeln!(self.w, "{s}") {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => Ok(other?),
        }
    }
    fn finish(mut self) -> anyhow::Result<()> {
        match self.w.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => Ok(other?),
        }
    }
}

/// `ls`: topics with partitions, records and size.
pub async fn ls(storage: &AnyStorage, json: bool) -> anyhow::Result<()> {
    let topics = storage.list_topics().await?;
    let mut out = Out::new();
    if json {
        out.line(&serde_json::to_string(&topics)?)?;
    } else {
        out.line(&format!(
            "{:<40} {:>10} {:>12} {:>12}",
            "TOPIC", "PARTITIONS", "RECORDS", "BYTES"
        ))?;
        for t in topics {
            let size = t.size_bytes.map_or("-".to_string(), |b| b.to_string());
            out.line(&format!(
                "{:<40} {:>10} {:>12} {:>12}",
                t.name, t.partitions, t.records, size
            ))?;
        }
    }
    out.finish()
}

/// `watermarks`: low and high offsets per partition.
pub async fn watermarks(storage: &AnyStorage, topic: &str, json: bool) -> anyhow::Result<()> {
    let marks = storage.watermarks(topic).await?;
    let mut out = Out::new();
    if json {
        let m: BTreeMap<String, [i64; 2]> = marks
            .iter()
            .map(|(p, (l, h))| (p.to_string(), [*l, *h]))
            .collect();
        out.line(&serde_json::to_string(&m)?)?;
    } else {
        for (p, (l, h)) in marks {
            out.line(&format!("{topic}/{p}: low {l} high {h}"))?;
        }
    }
    out.finish()
}

/// `produce`: records from JSON lines (or plain lines as values with `lines`).
pub async fn produce(
    storage: &AnyStorage,
    topic: &str,
    file: Option<&PathBuf>,
    lines: bool,
    key_type: DataType,
    value_type: DataType,
) -> anyhow::Result<u64> {
    if !storage.exists(topic).await? {
        bail!(
            "topic '{topic}' does not exist on {} (create it with touch)",
            storage.describe()
        );
    }
    let (input, name): (Box<dyn BufRead>, String) = match file {
        Some(path) => (
            Box::new(std::io::BufReader::new(
                std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?,
            )),
            path.display().to_string(),
        ),
        None => (Box::new(std::io::stdin().lock()), "stdin".to_string()),
    };
    let mut pending = Vec::new();
    let mut written = 0u64;
    for (n, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("{name}: line {}", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let record = if lines {
            NewRecord::new(None::<bytes::Bytes>, Some(line))
        } else {
            let v: serde_json::Value = serde_json::from_str(&line)
                .map_err(|e| anyhow!("{name}: line {}: not JSON: {e}", n + 1))?;
            json_to_record(&v, key_type, value_type, true)
                .map_err(|e| anyhow!("{name}: line {}: {e}", n + 1))?
        };
        pending.push(record);
        if pending.len() >= 10_000 {
            written += flush(storage, topic, &mut pending, written).await?;
        }
    }
    written += flush(storage, topic, &mut pending, written).await?;
    storage.close().await?;
    Ok(written)
}

async fn flush(
    storage: &AnyStorage,
    topic: &str,
    pending: &mut Vec<NewRecord>,
    so_far: u64,
) -> anyhow::Result<u64> {
    let n = pending.len() as u64;
    if n > 0 {
        storage
            .append(topic, std::mem::take(pending))
            .await
            .with_context(|| format!("after {so_far} records written to '{topic}'"))?;
    }
    Ok(n)
}

/// What `cat` and its relatives read.
pub struct ReadPlan<'a> {
    /// The topic.
    pub topic: &'a str,
    /// Options.
    pub args: &'a ReadArgs,
    /// Where to start (overrides the options' start).
    pub start: Option<ReadFrom>,
    /// Stop after this many records.
    pub limit: Option<u64>,
}

/// `cat` / `head` / `tail`: records as JSON lines; returns how many were printed.
pub async fn cat(storage: &AnyStorage, plan: ReadPlan<'_>) -> anyhow::Result<u64> {
    let args = plan.args;
    let start = match plan.start {
        Some(s) => s,
        None => args.start()?,
    };
    let mut reader = storage
        .reader(plan.topic, args.partitions.as_deref(), start, args.follow)
        .await?;
    let mut out = Out::new();
    let (mut printed, mut skipped) = (0u64, 0u64);
    'read: while let Some(records) = reader.next_records().await? {
        for r in records {
            if args.to.is_some_and(|to| r.timestamp >= to) {
                continue;
            }
            match record_to_json(&r, args.key_type, args.value_type) {
                Ok(v) => out.line(&v.to_string())?,
                Err(e) if args.skip_errors => {
                    skipped += 1;
                    tracing::debug!("{e}");
                    continue;
                }
                Err(e) => {
                    out.finish()?;
                    bail!("{e} (after {printed} records; --skip-errors skips such records)");
                }
            }
            printed += 1;
            if out.closed || plan.limit.is_some_and(|n| printed >= n) {
                break 'read;
            }
        }
    }
    out.finish()?;
    if skipped > 0 {
        eprintln!("kafkit: skipped {skipped} records that did not decode");
    }
    Ok(printed)
}

/// `wc`: counts the records by reading them.
pub async fn wc(storage: &AnyStorage, topic: &str, args: &ReadArgs) -> anyhow::Result<u64> {
    let mut reader = storage
        .reader(topic, args.partitions.as_deref(), args.start()?, false)
        .await?;
    let mut n = 0;
    while let Some(records) = reader.next_records().await? {
        n += records.len() as u64;
    }
    Ok(n)
}

/// What `cp` did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Copied {
    /// Records read from the source.
    pub consumed: u64,
    /// Records written to the target.
    pub produced: u64,
}

/// How `cp` writes what it reads.
#[derive(Debug, Clone, Copy)]
pub struct CopyPlan {
    /// Keep each record's partition (else derive it from the key).
    pub keep_partitions: bool,
    /// Keep each record's timestamp (else stamp the copy time).
    pub keep_timestamps: bool,
    /// Stop after this many records.
    pub limit: Option<u64>,
}

/// `cp`: copies records (keeping partitions and timestamps unless told otherwise), creating
/// the target topic with the source's partition count when missing.
pub async fn cp(
    (source, topic): (&AnyStorage, &str),
    (target, target_topic): (&AnyStorage, &str),
    args: &ReadArgs,
    plan: CopyPlan,
) -> anyhow::Result<Copied> {
    let CopyPlan {
        keep_partitions,
        keep_timestamps,
        limit,
    } = plan;
    if !target.exists(target_topic).await? {
        let n = source.partitions(topic).await?;
        target.create_topic(target_topic, n, &[]).await?;
    }
    let mut reader = source
        .reader(
            topic,
            args.partitions.as_deref(),
            args.start()?,
            args.follow,
        )
        .await?;
    let mut copied = Copied::default();
    let progress = |copied: &Copied, reader: &kafkit::store::AnyReader| {
        format!(
            "copy {} '{topic}' → {} '{target_topic}' stopped after {} consumed, {} produced; source positions {:?}",
            source.describe(),
            target.describe(),
            copied.consumed,
            copied.produced,
            reader.positions()
        )
    };
    loop {
        let records = match reader.next_records().await {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => return Err(anyhow!(e).context(progress(&copied, &reader))),
        };
        let mut batch = Vec::with_capacity(records.len());
        for r in records {
            if args.to.is_some_and(|to| r.timestamp >= to) {
                continue;
            }
            if limit.is_some_and(|n| copied.consumed >= n) {
                break;
            }
            copied.consumed += 1;
            batch.push(NewRecord {
                key: r.key,
                value: r.value,
                headers: r.headers,
                partition: keep_partitions.then_some(r.partition),
                timestamp: keep_timestamps.then_some(r.timestamp),
            });
        }
        let n = batch.len() as u64;
        if n > 0 {
            if let Err(e) = target.append(target_topic, batch).await {
                return Err(anyhow!(e).context(progress(&copied, &reader)));
            }
            copied.produced += n;
        }
        if limit.is_some_and(|n| copied.consumed >= n) {
            break;
        }
    }
    target.close().await?;
    Ok(copied)
}
