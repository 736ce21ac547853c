//! `table`: a topic as a table (`kafkit::store::ops::table`): its contents, one key, the
//! counts, and changes as they happen.

use std::time::Instant;

use anyhow::Context;
use kafkit::store::ops::schemas::RecordFormat;
use kafkit::store::ops::table::Table;
use kafkit::store::{AnyStorage, ReadFrom, RecordReader, Storage};
use serde_json::json;

use crate::out::Out;

/// What `table` shows.
#[derive(Debug, Clone)]
pub struct Shown<'a> {
    /// Only this key.
    pub get: Option<&'a str>,
    /// Then each change until Ctrl-C.
    pub watch: bool,
    /// The counts instead of the contents.
    pub stats: bool,
    /// A table instead of JSON lines.
    pub pretty: bool,
    /// How values are shown, with the schemas of the schema types.
    pub format: RecordFormat,
}

/// Shows `topic` as a table; false when `--get` found no such key.
pub async fn table(storage: &AnyStorage, topic: &str, shown: Shown<'_>) -> anyhow::Result<bool> {
    let started = Instant::now();
    let mut reader = storage
        .reader(topic, None, ReadFrom::Beginning, false)
        .await?;
    let mut table = Table::with_format(shown.format.clone());
    table
        .load(&mut reader)
        .await
        .with_context(|| format!("read '{topic}' as a table"))?;
    let caught_up = started.elapsed();
    let mut out = Out::new();
    let mut found = true;
    if shown.stats {
        let mut stats = serde_json::to_value(table.stats())?;
        stats["catch_up_ms"] = json!(caught_up.as_millis() as u64);
        out.json(&stats)?;
    } else if let Some(key) = shown.get {
        match table.get(key) {
            Some(v) => out.json(v)?,
            None => found = false,
        }
    } else if shown.pretty {
        let rows = table
            .iter()
            .map(|(k, v)| vec![k.to_string(), v.to_string()])
            .collect();
        out.table(&["KEY", "VALUE"], rows)?;
    } else {
        for (key, value) in table.iter() {
            out.json(&json!({"key": key, "value": value}))?;
        }
    }
    if !shown.watch {
        out.finish()?;
        return Ok(found);
    }
    out.flush()?;
    // Changes from where the catch-up ended, until Ctrl-C.
    let mut live = storage
        .reader(topic, None, ReadFrom::Offsets(reader.positions()), true)
        .await?;
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let records = tokio::select! {
            next = live.next_records() => next?,
            _ = &mut interrupted => break,
        };
        let Some(records) = records else { break };
        table.prepare(&records).await?;
        for r in &records {
            let Some(change) = table.apply(r) else {
                continue;
            };
            if shown.get.is_none_or(|k| k == change.key) {
                out.json(&change)?;
            }
        }
        out.flush()?;
        if out.closed {
            break;
        }
    }
    out.finish()?;
    Ok(true)
}
