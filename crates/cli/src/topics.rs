//! Topic commands that read or change metadata, not records: ls, watermarks, partitions,
//! config, offsets-for-times, delete-records, stat.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use kafkit::store::{AnyStorage, Storage};
use serde_json::json;

use crate::out::Out;

/// `ls`: topics with partitions, records and size.
pub async fn ls(storage: &AnyStorage, json: bool) -> Result<()> {
    let topics = storage.list_topics().await?;
    let mut out = Out::new();
    if json {
        out.json(&topics)?;
    } else {
        let rows = topics
            .into_iter()
            .map(|t| {
                vec![
                    t.name,
                    t.partitions.to_string(),
                    t.records.to_string(),
                    t.size_bytes.map_or("-".to_string(), |b| b.to_string()),
                ]
            })
            .collect();
        out.table(&["TOPIC", "PARTITIONS", "RECORDS", "BYTES"], rows)?;
    }
    out.finish()
}

/// `watermarks`: low and high offsets per partition.
pub async fn watermarks(storage: &AnyStorage, topic: &str, json: bool) -> Result<()> {
    let marks = storage.watermarks(topic).await?;
    let mut out = Out::new();
    if json {
        let m: BTreeMap<String, [i64; 2]> = marks
            .iter()
            .map(|(p, (l, h))| (p.to_string(), [*l, *h]))
            .collect();
        out.json(&m)?;
    } else {
        for (p, (l, h)) in marks {
            out.line(&format!("{topic}/{p}: low {l} high {h}"))?;
        }
    }
    out.finish()
}

/// `KEY=VALUE` pairs.
pub fn key_values(pairs: &[String], what: &str) -> Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|c| {
            c.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| anyhow!("{what} '{c}': expected KEY=VALUE"))
        })
        .collect()
}

/// `config get`: the topic's config overrides (every config with `all`).
pub async fn config_get(storage: &AnyStorage, topic: &str, all: bool, json: bool) -> Result<()> {
    let configs = storage.topic_configs(topic, all).await?;
    let mut out = Out::new();
    if json {
        out.json(&configs)?;
    } else {
        for (k, v) in configs {
            out.line(&format!("{k}={v}"))?;
        }
    }
    out.finish()
}

/// `config set`: sets `KEY=VALUE` overrides and removes `delete` ones, keeping the others.
pub async fn config_set(
    storage: &AnyStorage,
    topic: &str,
    set: &[String],
    delete: &[String],
) -> Result<()> {
    let mut changes: Vec<(String, Option<String>)> = key_values(set, "config")?
        .into_iter()
        .map(|(k, v)| (k, Some(v)))
        .collect();
    changes.extend(delete.iter().map(|k| (k.clone(), None)));
    if changes.is_empty() {
        bail!("config set {topic}: nothing to change (give KEY=VALUE or --delete KEY)");
    }
    storage.alter_topic_configs(topic, &changes).await?;
    Ok(())
}

/// `offsets-for-times`: per partition, the first offset at or after `timestamp`.
pub async fn offsets_for_times(
    storage: &AnyStorage,
    topic: &str,
    timestamp: i64,
    json: bool,
) -> Result<()> {
    let found = storage.offsets_for_times(topic, timestamp).await?;
    let mut out = Out::new();
    if json {
        let m: BTreeMap<String, Option<i64>> =
            found.iter().map(|(p, o)| (p.to_string(), *o)).collect();
        out.json(&m)?;
    } else {
        for (p, o) in found {
            let o = o.map_or("none (no record at or after that time)".into(), |o| {
                o.to_string()
            });
            out.line(&format!("{topic}/{p}: {o}"))?;
        }
    }
    out.finish()
}

/// Per-partition offsets from `N` (every partition of `partitions`) or `P=N,...`.
pub fn partition_offsets(spec: &str, partitions: i32) -> Result<BTreeMap<i32, i64>> {
    let bad = |what: &str| anyhow!("offsets '{spec}': {what} (expected N or P=N,P=N...)");
    if !spec.contains('=') {
        let n: i64 = spec.trim().parse().map_err(|_| bad("not a number"))?;
        return Ok((0..partitions).map(|p| (p, n)).collect());
    }
    spec.split(',')
        .map(|part| {
            let (p, o) = part.split_once('=').ok_or_else(|| bad(part))?;
            let p = p
                .trim()
                .parse()
                .map_err(|_| bad(&format!("bad partition '{p}'")))?;
            let o = o
                .trim()
                .parse()
                .map_err(|_| bad(&format!("bad offset '{o}'")))?;
            Ok((p, o))
        })
        .collect()
}

/// `delete-records`: deletes records before the given offsets; prints the new low marks.
pub async fn delete_records(storage: &AnyStorage, topic: &str, before: &str) -> Result<()> {
    let before = partition_offsets(before, storage.partitions(topic).await?)?;
    let lows = storage.delete_records(topic, &before).await?;
    let mut out = Out::new();
    for (p, low) in lows {
        out.line(&format!("{topic}/{p}: low {low}"))?;
    }
    out.finish()
}

/// `stat`: a topic's partitions, records, size, configs and watermarks.
pub async fn stat(storage: &AnyStorage, topic: &str, json: bool) -> Result<()> {
    let marks = storage.watermarks(topic).await?;
    let configs = storage.topic_configs(topic, false).await?;
    // Only emulated storages know sizes (a cluster listing would ask every topic's offsets).
    let size = storage.topic_bytes(topic).await?;
    let records: i64 = marks.values().map(|(l, h)| (h - l).max(0)).sum();
    let mut out = Out::new();
    if json {
        let partitions: Vec<_> = marks
            .iter()
            .map(|(p, (l, h))| json!({"partition": p, "low": l, "high": h, "records": h - l}))
            .collect();
        out.json(&json!({
            "topic": topic,
            "storage": storage.describe(),
            "partitions": marks.len(),
            "records": records,
            "size_bytes": size,
            "configs": configs,
            "watermarks": partitions,
        }))?;
    } else {
        out.line(&format!("topic:      {topic}"))?;
        out.line(&format!("storage:    {}", storage.describe()))?;
        out.line(&format!("partitions: {}", marks.len()))?;
        out.line(&format!("records:    {records}"))?;
        out.line(&format!(
            "size:       {}",
            size.map_or("-".to_string(), |s| format!("{s} bytes"))
        ))?;
        let configs: Vec<String> = configs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.line(&format!("configs:    {}", configs.join(", ")))?;
        let rows = marks
            .iter()
            .map(|(p, (l, h))| {
                vec![
                    p.to_string(),
                    l.to_string(),
                    h.to_string(),
                    (h - l).to_string(),
                ]
            })
            .collect();
        out.table(&["PARTITION", "LOW", "HIGH", "RECORDS"], rows)?;
    }
    out.finish()
}
