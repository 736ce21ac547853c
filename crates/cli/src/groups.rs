//! Consumer group commands: groups, describe-groups, delete-groups, lags, reset-offsets.

use anyhow::Result;
use kafkit::store::ops::groups::{lags as lags_of, Lag, Move, ResetTarget};
use kafkit::store::{AnyStorage, Storage};

use crate::out::Out;

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

impl ResetTo {
    /// The library's reset target.
    pub fn target(&self) -> ResetTarget {
        if self.to_earliest {
            ResetTarget::Earliest
        } else if self.to_latest {
            ResetTarget::Latest
        } else if let Some(o) = self.to_offset {
            ResetTarget::Offset(o)
        } else if let Some(n) = self.shift_by {
            ResetTarget::ShiftBy(n)
        } else {
            ResetTarget::Time(self.to_datetime.unwrap_or(i64::MAX))
        }
    }
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
        kafkit::store::ops::groups::apply_reset(storage, group, moves).await?;
        eprintln!("kafkit: committed the new offsets of group '{group}'");
    } else {
        eprintln!("kafkit: dry run, nothing changed; add --execute to commit these offsets");
    }
    Ok(())
}
