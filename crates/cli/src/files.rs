//! `export` and `import`: topics to files and back through `kafkit_files`, with a progress
//! bar and the counts printed.

use anyhow::{anyhow, Context};
use kafkit::files::{ExportPlan, FileFormat, FileLocation, ImportPlan, Shape};
use kafkit::store::ops::schemas::RecordFormat;
use kafkit::store::AnyStorage;

use crate::shell::ReadArgs;

/// The file's format: given, or from its name.
fn format_of(file: &FileLocation, given: Option<FileFormat>) -> anyhow::Result<FileFormat> {
    given
        .or_else(|| FileFormat::from_path(file.file_name()))
        .ok_or_else(|| {
            anyhow!(
                "{}: cannot tell the format from the name; give --file-format (csv, jsonl, json, \
                 parquet, arrow, orc, xlsx, xml, avro)",
                file.describe()
            )
        })
}

/// A spinner on stderr counting records (hidden when stderr is not a terminal).
fn spinner() -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} {human_pos} records, {per_sec}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar
}

/// What `export` does.
pub struct Export<'a> {
    pub topic: &'a str,
    pub file: &'a str,
    pub file_format: Option<FileFormat>,
    pub no_flatten: bool,
    pub values_only: bool,
    pub n: Option<u64>,
    pub json: bool,
}

/// `export`: the topic's records as rows of the file.
pub async fn export(storage: &AnyStorage, args: &ReadArgs, e: Export<'_>) -> anyhow::Result<()> {
    let to = FileLocation::parse(e.file)?;
    let format = format_of(&to, e.file_format)?;
    let read = args.spec(e.topic, None, args.follow)?;
    let shape = Shape {
        flatten: !e.no_flatten,
        values_only: e.values_only,
        key_column: None,
        key_type: read.format.key,
        value_type: read.format.value,
    };
    let plan = ExportPlan {
        read,
        limit: e.n,
        shape,
        format,
    };
    let bar = spinner();
    let shown = bar.clone();
    let done = kafkit::files::export((storage, e.topic), &to, &plan, &move |n| {
        shown.set_position(n)
    })
    .await;
    bar.finish_and_clear();
    let done = done.with_context(|| format!("export of '{}' to {}", e.topic, to.describe()))?;
    if e.json {
        println!("{}", serde_json::to_string(&done)?);
    } else {
        println!(
            "exported {} records to {} ({}, {} bytes)",
            done.records,
            to.describe(),
            format.name(),
            done.bytes
        );
    }
    if done.skipped_batches > 0 {
        eprintln!("kafkit: skipped {} corrupt batches", done.skipped_batches);
    }
    Ok(())
}

/// What `import` does.
pub struct Import<'a> {
    pub file: &'a str,
    pub topic: &'a str,
    pub file_format: Option<FileFormat>,
    pub key_column: Option<String>,
    pub partitions: Option<i32>,
    pub repartition: bool,
    pub n: Option<u64>,
    pub json: bool,
}

/// `import`: the file's rows as records of the topic, written with `target`.
pub async fn import(
    storage: &AnyStorage,
    target: RecordFormat,
    i: Import<'_>,
) -> anyhow::Result<()> {
    let from = FileLocation::parse(i.file)?;
    let format = format_of(&from, i.file_format)?;
    let shape = Shape {
        flatten: true,
        values_only: false,
        key_column: i.key_column,
        key_type: target.key,
        value_type: target.value,
    };
    let plan = ImportPlan {
        shape,
        format,
        target,
        keep_partitions: !i.repartition,
        partitions: i.partitions,
        limit: i.n,
    };
    let bar = spinner();
    let shown = bar.clone();
    let done = kafkit::files::import(&from, (storage, i.topic), &plan, &move |n| {
        shown.set_position(n)
    })
    .await;
    bar.finish_and_clear();
    let done = done.with_context(|| format!("import of {} into '{}'", from.describe(), i.topic))?;
    if i.json {
        println!("{}", serde_json::to_string(&done)?);
    } else {
        println!("imported {} records into '{}'", done.records, i.topic);
    }
    Ok(())
}
