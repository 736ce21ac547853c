//! Consumer groups' positions: how far behind a group is ([`lags`]), and moving its commits
//! ([`plan_reset`], [`apply_reset`]).

use std::collections::BTreeMap;

use crate::error::{Result, StoreError};
use crate::Storage;

/// A group's position on one partition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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

/// The lag of `group` on every partition of the topics it has committed offsets for (a
/// deleted topic's commits are left out).
pub async fn lags<S: Storage>(storage: &S, group: &str) -> Result<Vec<Lag>> {
    let committed = storage.group_offsets(group).await?;
    let mut out = Vec::new();
    for (topic, parts) in &committed {
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

/// Where a reset moves a group's commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetTarget {
    /// The low watermark.
    Earliest,
    /// The high watermark (skip everything written so far).
    Latest,
    /// This offset (kept within the watermarks).
    Offset(i64),
    /// This many records from the committed offset (negative: back).
    ShiftBy(i64),
    /// The first record at or after this time (ms since the epoch).
    Time(i64),
}

/// One partition's move in a reset.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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

/// The moves resetting `group` on `topics` (default: the topics it has commits for), on
/// `partitions` (default: all) to `to`; nothing is changed (see [`apply_reset`]).
pub async fn plan_reset<S: Storage>(
    storage: &S,
    group: &str,
    topics: &[String],
    partitions: Option<&[i32]>,
    to: ResetTarget,
) -> Result<Vec<Move>> {
    let committed = storage.group_offsets(group).await?;
    let topics: Vec<String> = if topics.is_empty() {
        committed.keys().cloned().collect()
    } else {
        topics.to_vec()
    };
    if topics.is_empty() {
        return Err(StoreError::Invalid(format!(
            "group '{group}' has no committed offsets: name the topics to reset"
        )));
    }
    let mut moves = Vec::new();
    for topic in topics {
        let marks = storage.watermarks(&topic).await?;
        if let Some(&p) = partitions
            .unwrap_or_default()
            .iter()
            .find(|p| !marks.contains_key(p))
        {
            return Err(StoreError::Invalid(format!(
                "topic '{topic}' has no partition {p}"
            )));
        }
        let times = match to {
            ResetTarget::Time(ts) => storage.offsets_for_times(&topic, ts).await?,
            _ => BTreeMap::new(),
        };
        for (p, (low, high)) in marks {
            if partitions.is_some_and(|ps| !ps.contains(&p)) {
                continue;
            }
            let current = committed.get(&topic).and_then(|c| c.get(&p)).copied();
            let new = match to {
                ResetTarget::Earliest => low,
                ResetTarget::Latest => high,
                ResetTarget::Offset(o) => o,
                ResetTarget::ShiftBy(n) => current.unwrap_or(low).saturating_add(n),
                ResetTarget::Time(_) => times.get(&p).copied().flatten().unwrap_or(high),
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

/// Commits `moves` for `group`.
pub async fn apply_reset<S: Storage>(storage: &S, group: &str, moves: &[Move]) -> Result<()> {
    let mut offsets: BTreeMap<String, BTreeMap<i32, i64>> = BTreeMap::new();
    for m in moves {
        offsets
            .entry(m.topic.clone())
            .or_default()
            .insert(m.partition, m.new);
    }
    storage.commit(group, &offsets).await
}
