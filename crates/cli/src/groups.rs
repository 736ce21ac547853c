//! Consumer group commands: groups, describe-groups, delete-groups, lags, reset-offsets.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use kafkit::store::{AnyStorage, Storage};
use serde::Serialize;

use crate::out::Out;

/// A group's position on one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lag {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The committed offset (`None`: nothing committed).
    pub committed: Option<i64>,
    /// The high watermark.
    pub end: i64,
    /// Records between the committed offset (or the low watermark) and the end.
    pub lag: i64,
}

/// The lag of `group` on every partition of the topics it has committed offsets for.
pub async fn lags_of(storage: &AnyStorage, group: &str) -> Result<Vec<Lag>> {
    let committed = storage.group_offsets(group).await?;
    let mut out = Vec::new();
    for (topic, parts) in &committed {
        // A deleted topic can keep commits; it has no lag to show.
        if !storage.exists(topic).await? {
            continue;
        }
        for (p, (low, high)) in storage.watermarks(topic).await? {
            let c = parts.get(&p).copied();
            out.push(Lag {
                topic: topic.clone(),
                partition: p,
                committed: c,
                end: high,
                lag: (high - c.unwrap_or(low).max(low)).max(0),
            });
        }
    }
    Ok(out)
}

fn lag_rows(lags: &[Lag]) -> Vec<Vec<String>> {
    lags.iter()
        .map(|l| {
            vec![
                l.topic.clone(),
                l.partition.to_string(),
                l.committed.map_or("-".into(), |c| c.to_string()),
                l.end.to_string(),
                l.lag.to_string(),
            ]
        })
        .collect()
}

const LAG_HEADER: [&str; 5] = ["TOPIC", "PARTITION", "COMMITTED", "END", "LAG"];

/// `groups`: the consumer groups.
pub async fn groups(storage: &AnyStorage, json: bool) -> Result<()> {
    let groups = storage.list_groups().await?;
    let mut out = Out::new();
    if json {
        out.json(&groups)?;
    } else {
        for g in groups {
            out.line(&g)?;
        }
    }
    out.finish()
}

/// `describe-groups`: state, members and lags of each group.
pub async fn describe(storage: &AnyStorage, groups: &[String], json: bool) -> Result<()> {
    let mut out = Out::new();
    for group in groups {
        let info = storage.describe_group(group).await?;
        let lags = lags_of(storage, group).await?;
        if json {
            out.json(&serde_json::json!({
                "group": info.group,
                "state": info.state,
                "members": info.members,
                "offsets": lags,
            }))?;
            continue;
        }
        out.line(&format!(
            "group {}: {}, {} members",
            info.group,
            info.state,
            info.members.len()
        ))?;
        for m in &info.members {
            let assigned: Vec<String> = m
                .assigned
                .iter()
                .map(|(t, ps)| format!("{t}{ps:?}"))
                .collect();
            out.line(&format!(
                "  member {} (client {} at {}): {}",
                m.member_id,
                m.client_id,
                m.host,
                assigned.join(" ")
            ))?;
        }
        out.table(&LAG_HEADER, lag_rows(&lags))?;
    }
    out.finish()
}

/// `lags`: committed offset, end and lag per partition of each group.
pub async fn lags(storage: &AnyStorage, groups: &[String], json: bool) -> Result<()> {
    let mut out = Out::new();
    for group in groups {
        let lags = lags_of(storage, group).await?;
        if json {
            out.json(&serde_json::json!({"group": group, "offsets": lags}))?;
        } else {
            if groups.len() > 1 {
                out.line(&format!("group {group}:"))?;
            }
            out.table(&LAG_HEADER, lag_rows(&lags))?;
        }
    }
    out.finish()
}

/// Where `reset-offsets` moves a group.
#[derive(clap::Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct ResetTo {
    /// To the low watermark.
    #[arg(long)]
    pub to_earliest: bool,
    /// To the high watermark (skip everything written so far).
    #[arg(long)]
    pub to_latest: bool,
    /// To this offset (kept within the watermarks).
    #[arg(long, value_name = "OFFSET")]
    pub to_offset: Option<i64>,
    /// By this many records from the committed offset (negative: back).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub shift_by: Option<i64>,
    /// To the first record at or after this time (ms, RFC 3339, or a UTC date).
    #[arg(long, value_name = "TIME", value_parser = crate::time::parse_ms)]
    pub to_datetime: Option<i64>,
}

/// One partition's move in a reset.
#[derive(Debug, Clone, Serialize)]
pub struct Move {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The committed offset before (`None`: nothing committed).
    pub current: Option<i64>,
    /// The offset after.
    pub new: i64,
}

/// The moves of `group` on `topics` (default: the topics it has commits for).
pub async fn plan_reset(
    storage: &AnyStorage,
    group: &str,
    topics: &[String],
    partitions: Option<&[i32]>,
    to: &ResetTo,
) -> Result<Vec<Move>> {
    let committed = storage.group_offsets(group).await?;
    let topics: Vec<String> = if topics.is_empty() {
        committed.keys().cloned().collect()
    } else {
        topics.to_vec()
    };
    if topics.is_empty() {
        bail!("group '{group}' has no committed offsets: name the topics to reset");
    }
    let mut moves = Vec::new();
    for topic in topics {
        let marks = storage.watermarks(&topic).await?;
        if let Some(&p) = partitions
            .unwrap_or_default()
            .iter()
            .find(|p| !marks.contains_key(p))
        {
            bail!("topic '{topic}' has no partition {p}");
        }
        let times = match to.to_datetime {
            Some(ts) => storage.offsets_for_times(&topic, ts).await?,
            None => BTreeMap::new(),
        };
        for (p, (low, high)) in marks {
            if partitions.is_some_and(|ps| !ps.contains(&p)) {
                continue;
            }
            let current = committed.get(&topic).and_then(|c| c.get(&p)).copied();
            let new = if to.to_earliest {
                low
            } else if to.to_latest {
                high
            } else if let Some(o) = to.to_offset {
                o
            } else if let Some(n) = to.shift_by {
                current.unwrap_or(low).saturating_add(n)
            } else {
                times.get(&p).copied().flatten().unwrap_or(high)
            };
            moves.push(Move {
                topic: topic.clone(),
                partition: p,
                current,
                new: new.clamp(low, high),
            });
        }
    }
    Ok(moves)
}

/// `reset-offsets`: shows the moves; commits them with `execute`.
pub async fn reset(
    storage: &AnyStorage,
    group: &str,
    moves: &[Move],
    execute: bool,
    json: bool,
) -> Result<()> {
    let mut out = Out::new();
    if json {
        out.json(&serde_json::json!({"group": group, "executed": execute, "offsets": moves}))?;
    } else {
        let rows = moves
            .iter()
            .map(|m| {
                vec![
                    m.topic.clone(),
                    m.partition.to_string(),
                    m.current.map_or("-".into(), |c| c.to_string()),
                    m.new.to_string(),
                ]
            })
            .collect();
        out.table(&["TOPIC", "PARTITION", "CURRENT", "NEW"], rows)?;
    }
    out.finish()?;
    if execute {
        let mut offsets: BTreeMap<String, BTreeMap<i32, i64>> = BTreeMap::new();
        for m in moves {
            offsets
                .entry(m.topic.clone())
                .or_default()
                .insert(m.partition, m.new);
        }
        storage.commit(group, &offsets).await?;
        eprintln!("kafkit: committed the new offsets of group '{group}'");
    } else {
        eprintln!("kafkit: dry run, nothing changed; add --execute to commit these offsets");
    }
    Ok(())
}
