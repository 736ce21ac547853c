//! Record commands over any storage: produce, cat / head / tail / grep, wc, diff (cp is in
//! `copy`).

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use kafkit::store::{
    AnyStorage, GroupRead, NewRecord, ReadFrom, RecordReader, Storage, StoreError,
};

use crate::out::Out;
use crate::settings::Defaults;
use kafkit::store::ops;
use kafkit::store::ops::chunks::split;
use kafkit::store::ops::diff::{DiffSpec, Differences};
use kafkit::store::ops::jq::Pipeline;
use kafkit::store::ops::json::{json_to_record, record_to_json, write_record, DataType};
use kafkit::store::ops::read::{parse_offsets, ReadSpec};
use kafkit::store::ops::schemas::RecordFormat;

/// `--key-type` / `--value-type` values, listed in `--help` (kafi's aliases `pb` and
/// `json_sr` taken too).
pub(crate) fn data_type() -> impl clap::builder::TypedValueParser<Value = DataType> {
    use clap::builder::{PossibleValue, TypedValueParser as _};
    let values = DataType::ALL.map(|(name, ty)| {
        let aliases = DataType::ALIASES
            .iter()
            .filter(move |(_, t)| *t == ty)
            .map(|(alias, _)| *alias);
        PossibleValue::new(name).aliases(aliases)
    });
    clap::builder::PossibleValuesParser::new(values)
        .map(|name| name.parse::<DataType>().expect("a listed type"))
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
    /// Start at the first record at or after this time (ms since the epoch, RFC 3339, or a
    /// UTC date).
    #[arg(long, value_name = "TIME", value_parser = crate::time::parse_ms)]
    pub from: Option<i64>,
    /// Leave out records at or after this time (ms since the epoch, RFC 3339, or a UTC date).
    #[arg(long, value_name = "TIME", value_parser = crate::time::parse_ms)]
    pub to: Option<i64>,
    /// Read as a member of this consumer group: on a cluster, read the partitions the group
    /// assigns (sharing them with the group's other members), from its commits (elsewhere
    /// from the config's auto.offset.reset, default the beginning), and commit what was read.
    /// Not with --partitions, --offsets, --from or tail. Bare `-g` is the group
    /// `<consumer.group.prefix><topic>`.
    #[arg(short = 'g', long, num_args = 0..=1, default_missing_value = "")]
    pub group: Option<String>,
    /// Keep reading new records (until interrupted or -n is reached).
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// How keys are shown [default: str, or the config's key.type].
    #[arg(long = "key-type", value_parser = data_type())]
    key_type_arg: Option<DataType>,
    /// How values are shown [default: str, or the config's value.type].
    #[arg(long = "value-type", value_parser = data_type())]
    value_type_arg: Option<DataType>,
    /// The key type in effect (after `apply_defaults`).
    #[arg(skip)]
    pub key_type: DataType,
    /// The value type in effect (after `apply_defaults`).
    #[arg(skip)]
    pub value_type: DataType,
    /// The schemas of schema-typed keys and values (set once the storage is open).
    #[arg(skip)]
    pub schemas: Option<std::sync::Arc<dyn kafkit::store::ops::schemas::Schemas>>,
    /// Skip records that do not decode as the requested type (counted on stderr) instead of
    /// stopping with an error.
    #[arg(long)]
    pub skip_errors: bool,
    /// The configuration's defaults (after `apply_defaults`).
    #[arg(skip)]
    defaults: Defaults,
}

impl ReadArgs {
    /// Fills in what the command line left to the configuration's defaults.
    pub fn apply_defaults(&mut self, defaults: &Defaults) {
        self.key_type = self.key_type_arg.or(defaults.key_type).unwrap_or_default();
        self.value_type = self
            .value_type_arg
            .or(defaults.value_type)
            .unwrap_or_default();
        self.defaults = defaults.clone();
    }

    /// Values are shown as `fallback` unless the command line or the configuration says
    /// otherwise (export shows JSON by default: its values become columns).
    pub(crate) fn value_type_default(&mut self, fallback: DataType) {
        self.value_type = self
            .value_type_arg
            .or(self.defaults.value_type)
            .unwrap_or(fallback);
    }

    /// How keys and values are shown.
    pub(crate) fn format(&self) -> RecordFormat {
        RecordFormat {
            key: self.key_type,
            value: self.value_type,
            schemas: self.schemas.clone(),
        }
    }

    /// The group this read runs as, if any.
    pub(crate) fn group_of(&self, topic: &str) -> Option<String> {
        match self.group.as_deref() {
            None => None,
            Some("") => Some(format!(
                "{}{topic}",
                self.defaults
                    .consumer_group_prefix
                    .as_deref()
                    .unwrap_or("kafkit-")
            )),
            Some(g) => Some(g.to_string()),
        }
    }

    /// The library's read spec for `topic`: with `--group`, a member of the group (it reads
    /// what the group assigns it, from the group's commits); else the chosen partitions from
    /// `start` or the options. `follow` overrides `--follow` (`wc` never follows).
    pub(crate) fn spec(
        &self,
        topic: &str,
        start: Option<ReadFrom>,
        follow: bool,
    ) -> anyhow::Result<ReadSpec> {
        let mut spec = ReadSpec {
            partitions: self.partitions.clone(),
            start,
            to: self.to,
            group: None,
            follow,
            format: self.format(),
            skip_errors: self.skip_errors,
        };
        let Some(group) = self.group_of(topic) else {
            if spec.start.is_none() {
                spec.start = Some(self.start()?);
            }
            return Ok(spec);
        };
        let conflict = [
            (self.partitions.is_some(), "--partitions"),
            (self.offsets.is_some(), "--offsets"),
            (self.from.is_some(), "--from"),
            (spec.start.is_some(), "tail"),
        ]
        .into_iter()
        .find_map(|(set, what)| set.then_some(what));
        if let Some(what) = conflict {
            bail!(
                "{what} cannot be combined with --group: a group member reads the partitions \
                 its group assigns, from the group's commits (move them with `kafkit \
                 reset-offsets`)"
            );
        }
        let reset = self
            .defaults
            .auto_offset_reset
            .unwrap_or(kafkit::client::OffsetReset::Earliest);
        spec.group = Some(GroupRead::new(group).reset(reset));
        Ok(spec)
    }

    /// Opens the reader [`ReadArgs::spec`] describes.
    pub(crate) async fn open<S: Storage>(
        &self,
        storage: &S,
        topic: &str,
        start: Option<ReadFrom>,
        follow: bool,
    ) -> anyhow::Result<ops::chunks::Assembled<S::Reader>> {
        let spec = self.spec(topic, start, follow)?;
        let reader = spec.open(storage, topic).await;
        match &spec.group {
            Some(g) => reader.with_context(|| format!("read {topic} as group '{}'", g.group)),
            None => Ok(reader?),
        }
    }

    fn start(&self) -> anyhow::Result<ReadFrom> {
        if let Some(ts) = self.from {
            return Ok(ReadFrom::Timestamp(ts));
        }
        match &self.offsets {
            None => Ok(ReadFrom::Beginning),
            Some(spec) => parse_offsets(spec).map_err(|e| anyhow!("--{e}")),
        }
    }
}

/// `produce`: records from JSON lines (or plain lines as values with `lines`).
/// What `produce` reads, and how it writes values.
pub struct ProduceInput<'a> {
    /// The file (else stdin).
    pub file: Option<&'a PathBuf>,
    /// Each line is a value, not a JSON record.
    pub lines: bool,
    /// Values longer than this are written as chunks.
    pub chunk_size: Option<usize>,
}

pub async fn produce(
    storage: &AnyStorage,
    topic: &str,
    input: ProduceInput<'_>,
    format: &RecordFormat,
) -> anyhow::Result<u64> {
    let ProduceInput {
        file,
        lines,
        chunk_size,
    } = input;
    if !storage.exists(topic).await? {
        bail!(
            "topic '{topic}' does not exist on {} (create it with touch)",
            storage.describe()
        );
    }
    // A keyless chunked value's chunks share a partition: the partitions in turn.
    let partitions = match chunk_size {
        Some(_) => storage.partitions(topic).await?.max(1),
        None => 1,
    };
    let (input, name): (Box<dyn std::io::Read + Send>, String) = match file {
        Some(path) => (
            Box::new(
                std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?,
            ),
            path.display().to_string(),
        ),
        None => (Box::new(std::io::stdin()), "stdin".to_string()),
    };
    // Lines are read and turned into records on a thread of their own (blocking reads stay
    // off the runtime, and parsing overlaps writing), and sent on in chunks: a chunk goes as
    // soon as the input has nothing more buffered (the next read could wait) or holds
    // PRODUCE_CHUNK records, so a slow input is written line by line and a fast one in large
    // appends. The channel bounds what is read ahead. A bad line ends the input: the records
    // before it are sent, then the error.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<anyhow::Result<Vec<NewRecord>>>(4);
    let format = format.clone();
    std::thread::spawn(move || {
        let mut input = std::io::BufReader::with_capacity(1 << 16, input);
        let parse = |n: usize, line: &str| -> anyhow::Result<Option<NewRecord>> {
            if line.trim().is_empty() {
                return Ok(None);
            }
            Ok(Some(if lines {
                NewRecord::new(None::<bytes::Bytes>, Some(line.to_string()))
            } else {
                let v: serde_json::Value = serde_json::from_str(line)
                    .map_err(|e| anyhow!("{name}: line {n}: not JSON: {e}"))?;
                json_to_record(&v, &format, true).map_err(|e| anyhow!("{name}: line {n}: {e}"))?
            }))
        };
        let mut chunk = Vec::new();
        let mut chunk_bytes = 0usize;
        let mut line = String::new();
        let mut n = 0usize;
        let mut next_partition = 0i32;
        loop {
            line.clear();
            let read = input.read_line(&mut line);
            n += 1;
            let outcome = match read {
                Ok(0) => break,
                Ok(_) => parse(n, line.trim_end_matches(['\n', '\r'])),
                Err(e) => Err(anyhow::Error::new(e).context(format!("{name}: line {n}"))),
            };
            match outcome {
                Ok(Some(record)) => match chunk_size {
                    Some(size) => {
                        next_partition = (next_partition + 1) % partitions;
                        for c in split(record, size, Some(next_partition)) {
                            chunk_bytes += c.value.as_ref().map_or(0, |v| v.len());
                            chunk.push(c);
                        }
                    }
                    None => {
                        chunk_bytes += record.value.as_ref().map_or(0, |v| v.len());
                        chunk.push(record);
                    }
                },
                Ok(None) => {}
                Err(e) => {
                    if !chunk.is_empty()
                        && tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err()
                    {
                        return;
                    }
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
            // What is buffered is there now; beyond it, a read could wait.
            let drained = input.buffer().is_empty();
            if (chunk.len() >= PRODUCE_CHUNK || chunk_bytes >= PRODUCE_CHUNK_BYTES || drained)
                && !chunk.is_empty()
            {
                chunk_bytes = 0;
                if tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err() {
                    return;
                }
            }
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(Ok(chunk));
        }
    });
    let mut written = 0u64;
    while let Some(chunk) = rx.recv().await {
        match chunk {
            Ok(mut records) => written += flush(storage, topic, &mut records, written).await?,
            Err(e) => {
                storage.close().await?;
                return Err(anyhow!(
                    "{e:#} (the {written} records before it were written)"
                ));
            }
        }
    }
    storage.close().await?;
    Ok(written)
}

/// Most records `produce` writes in one append.
const PRODUCE_CHUNK: usize = 10_000;
/// Most value bytes `produce` writes in one append (large values, chunked ones).
const PRODUCE_CHUNK_BYTES: usize = 16 << 20;

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

/// Which parts of a record `grep` searches.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrepField {
    /// The key.
    Key,
    /// The value.
    Value,
    /// Header names and values.
    Headers,
}

/// A regex over the raw bytes of keys, values or headers.
pub struct Matcher {
    regex: regex::bytes::Regex,
    fields: Vec<GrepField>,
}

impl Matcher {
    /// `pattern` over `fields` (all when empty); a bad pattern is an error naming it.
    pub fn new(pattern: &str, fields: &[GrepField]) -> anyhow::Result<Self> {
        let regex = regex::bytes::Regex::new(pattern).map_err(|e| {
            // The parser's message spans lines (pattern, caret, error); keep the error.
            let text = e.to_string();
            let last = text.lines().last().unwrap_or_default().trim();
            anyhow!(
                "bad regex '{pattern}': {}",
                last.trim_start_matches("error: ")
            )
        })?;
        let fields = if fields.is_empty() {
            vec![GrepField::Key, GrepField::Value, GrepField::Headers]
        } else {
            fields.to_vec()
        };
        Ok(Matcher { regex, fields })
    }

    fn matches(&self, r: &kafkit::store::ConsumerRecord) -> bool {
        let hit = |b: Option<&[u8]>| b.is_some_and(|b| self.regex.is_match(b));
        self.fields.iter().any(|f| match f {
            GrepField::Key => hit(r.key.as_deref()),
            GrepField::Value => hit(r.value.as_deref()),
            GrepField::Headers => r
                .headers
                .iter()
                .any(|h| hit(Some(&h.key)) || hit(h.value.as_deref())),
        })
    }
}

/// What `cat` and its relatives read.
pub struct ReadPlan<'a> {
    /// The topic.
    pub topic: &'a str,
    /// Options.
    pub args: &'a ReadArgs,
    /// Where to start (overrides the options' start).
    pub start: Option<ReadFrom>,
    /// Stop after printing this many records.
    pub limit: Option<u64>,
    /// Print only records this matches (`grep`).
    pub matcher: Option<Matcher>,
    /// jq expressions applied to each record's JSON before printing.
    pub pipeline: &'a Pipeline,
    /// Print with this kcat-style format instead of JSON lines.
    pub format: Option<&'a crate::format::Format>,
}

/// How often a following read as a group commits what it printed.
const FOLLOW_COMMIT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// What `cat` did.
#[derive(Debug, Default)]
pub struct Printed {
    /// Records read.
    pub read: u64,
    /// Lines printed.
    pub printed: u64,
    /// Records skipped because they did not decode (`--skip-errors`).
    pub skipped: u64,
    /// Corrupt stored batches stepped over (`--skip-errors`).
    pub skipped_batches: u64,
}

/// The reader's next records, corrupt batches stepped over with `--skip-errors` (counted in
/// `skipped`); without it, a corrupt batch is the error, with the hint.
pub(crate) async fn next_or_skip<R: RecordReader>(
    reader: &mut R,
    skip: bool,
    skipped: &mut u64,
) -> anyhow::Result<Option<Vec<kafkit::store::ConsumerRecord>>> {
    match kafkit::store::ops::read::next_records(reader, skip, skipped).await {
        Err(e @ StoreError::CorruptBatch { .. }) => bail!("{e} (--skip-errors steps over it)"),
        other => Ok(other?),
    }
}

/// `cat` / `head` / `tail` / `grep`: records as JSON lines.
pub async fn cat(storage: &AnyStorage, plan: ReadPlan<'_>) -> anyhow::Result<Printed> {
    let args = plan.args;
    let mut reader = args
        .open(storage, plan.topic, plan.start, args.follow)
        .await?;
    let mut out = Out::new();
    let mut done = Printed::default();
    // Per partition, the offset after the last record handled (committed for --group).
    let mut handled: BTreeMap<i32, i64> = BTreeMap::new();
    let mut ended = false;
    let mut formatted = Vec::new();
    let record_format = args.format();
    // Ctrl-C ends a read cleanly (what was printed is committed for --group); a following
    // group read also commits every few seconds, so a kill loses little.
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    let mut last_commit = std::time::Instant::now();
    'read: loop {
        let next = tokio::select! {
            next = next_or_skip(&mut reader, args.skip_errors, &mut done.skipped_batches) => next,
            _ = &mut interrupted => break,
        };
        let records = match next {
            Ok(Some(records)) => records,
            Ok(None) => {
                ended = true;
                break;
            }
            Err(e) => {
                // What was printed stays printed (and, for a group, committed).
                out.finish()?;
                reader.close(&handled).await?;
                return Err(e.context(format!("after {} records", done.printed)));
            }
        };
        // Schemas that cannot be had are reported by the records that name them.
        record_format
            .prepare(&records)
            .await
            .map_err(|e| anyhow!(e))?;
        if args.follow && last_commit.elapsed() >= FOLLOW_COMMIT_EVERY {
            out.flush()?;
            reader.commit(&handled).await?;
            last_commit = std::time::Instant::now();
        }
        for r in records {
            done.read += 1;
            handled.insert(r.partition, r.offset + 1);
            if args.to.is_some_and(|to| r.timestamp >= to)
                || plan.matcher.as_ref().is_some_and(|m| !m.matches(&r))
            {
                continue;
            }
            // One record's output, in `formatted`: kcat-style, a JSON line written directly,
            // or JSON values through the jq pipeline.
            formatted.clear();
            // Err((message, skippable)): records that do not decode may be skipped; a failing
            // jq expression may not.
            let decoded: Result<u64, (String, bool)> = if let Some(format) = plan.format {
                format.write(&r, &mut formatted);
                Ok(1)
            } else if plan.pipeline.is_empty() {
                write_record(&mut formatted, &r, &record_format)
                    .map(|()| 1)
                    .map_err(|e| (e, true))
            } else {
                let line = record_to_json(&r, &record_format);
                match line {
                    Err(e) => Err((e, true)),
                    Ok(line) => {
                        pipe_line(plan.pipeline, &r, &line, &mut formatted).map_err(|e| (e, false))
                    }
                }
            };
            match decoded {
                Ok(lines) => {
                    out.bytes(&formatted)?;
                    done.printed += lines;
                }
                Err((e, true)) if args.skip_errors => {
                    done.skipped += 1;
                    tracing::debug!("{e}");
                    continue;
                }
                Err((e, _)) => {
                    out.finish()?;
                    bail!(
                        "{e} (after {} records; --skip-errors skips records that do not decode)",
                        done.printed
                    );
                }
            }
            if out.closed || plan.limit.is_some_and(|n| done.printed >= n) {
                break 'read;
            }
        }
        if args.follow {
            // Records that arrive while following show at once, not when a buffer fills.
            out.flush()?;
        }
    }
    out.finish()?;
    if ended {
        handled = reader.positions();
    }
    reader.close(&handled).await?;
    if done.skipped > 0 {
        eprintln!(
            "kafkit: skipped {} records that did not decode",
            done.skipped
        );
    }
    if done.skipped_batches > 0 {
        eprintln!("kafkit: skipped {} corrupt batches", done.skipped_batches);
    }
    Ok(done)
}

/// Runs `line` through `pipeline`, appending each result as a JSON line; returns how many.
fn pipe_line(
    pipeline: &Pipeline,
    r: &kafkit::store::ConsumerRecord,
    line: &kafkit::store::ops::json::RecordLine<'_>,
    out: &mut Vec<u8>,
) -> Result<u64, String> {
    let value = serde_json::to_value(line).map_err(|e| e.to_string())?;
    let results = pipeline.apply(value).map_err(|e| {
        format!(
            "topic '{}' partition {} offset {}: {e}",
            r.topic, r.partition, r.offset
        )
    })?;
    for v in &results {
        serde_json::to_writer(&mut *out, v).map_err(|e| e.to_string())?;
        out.push(b'\n');
    }
    Ok(results.len() as u64)
}

/// `wc`: counts the records by reading them.
pub async fn wc(storage: &AnyStorage, topic: &str, args: &ReadArgs) -> anyhow::Result<u64> {
    let mut reader = args.open(storage, topic, None, false).await?;
    let mut n = 0;
    while let Some(records) = reader.next_records().await? {
        n += records
            .iter()
            .filter(|r| args.to.is_none_or(|to| r.timestamp < to))
            .count() as u64;
    }
    let positions = reader.positions();
    reader.close(&positions).await?;
    Ok(n)
}

/// `diff`: compares two topics (`kafkit::store::ops::diff`), printing one JSON line per
/// difference: `{"partition", "index", "left", "right"}`.
///
/// `right_format` shows the right side's records (another storage's registry, when it
/// has one of its own); `None`: the same as the left's.
pub async fn diff(
    (left, left_topic): (&AnyStorage, &str),
    (right, right_topic): (&AnyStorage, &str),
    args: &ReadArgs,
    right_format: Option<RecordFormat>,
    ignore_timestamps: bool,
) -> anyhow::Result<Differences> {
    let format = args.format();
    let right_format = right_format.unwrap_or_else(|| format.clone());
    let spec = DiffSpec {
        partitions: args.partitions.clone(),
        start: Some(
            args.spec(left_topic, None, false)?
                .start
                .unwrap_or(ReadFrom::Beginning),
        ),
        ignore_timestamps,
        // Schema-typed sides compare by their decoded JSON: ids differ between registries.
        formats: (format.uses_schemas() || right_format.uses_schemas())
            .then(|| (format.clone(), right_format.clone())),
    };
    let mut out = Out::new();
    let mut failed: Option<anyhow::Error> = None;
    let show = |r: Option<&kafkit::store::ConsumerRecord>,
                format: &RecordFormat|
     -> Result<serde_json::Value, String> {
        Ok(match r {
            None => serde_json::Value::Null,
            Some(r) => {
                serde_json::to_value(record_to_json(r, format)?).map_err(|e| e.to_string())?
            }
        })
    };
    let print = |d: &ops::diff::Difference, out: &mut Out| -> anyhow::Result<()> {
        let line = serde_json::json!({
            "partition": d.partition,
            "index": d.index,
            "left": show(d.left.as_ref(), &format).map_err(|e| anyhow!(e))?,
            "right": show(d.right.as_ref(), &right_format).map_err(|e| anyhow!(e))?,
        });
        out.json(&line)
    };
    // Schema-typed records need their schemas fetched before they are shown: differences
    // are then kept until the comparison ends, and printed after one fetch.
    let mut kept = Vec::new();
    let found = ops::diff::diff((left, left_topic), (right, right_topic), &spec, &mut |d| {
        if failed.is_some() {
            return;
        }
        if format.uses_schemas() {
            kept.push(d);
        } else if let Err(e) = print(&d, &mut out) {
            failed = Some(e);
        }
    })
    .await?;
    if let Some(e) = failed {
        return Err(e);
    }
    if !kept.is_empty() {
        let lefts: Vec<_> = kept.iter().flat_map(|d| d.left.clone()).collect();
        let rights: Vec<_> = kept.iter().flat_map(|d| d.right.clone()).collect();
        format.prepare(&lefts).await.map_err(|e| anyhow!(e))?;
        right_format
            .prepare(&rights)
            .await
            .map_err(|e| anyhow!(e))?;
        for d in &kept {
            print(d, &mut out)?;
        }
    }
    out.finish()?;
    let (nl, nr) = found.partitions;
    if nl != nr {
        eprintln!(
            "kafkit: '{left_topic}' has {nl} partitions, '{right_topic}' has {nr}; \
             compared the partitions both have"
        );
    }
    Ok(found)
}
