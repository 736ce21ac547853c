//! Comparing two topics partition by partition, record by record in order: keys, values,
//! headers, and timestamps unless told to ignore them (offsets may differ, as after a copy).
//!
//! ```
//! # async fn demo() -> kafkit_store::Result<()> {
//! use kafkit_store::ops::diff::{diff, DiffSpec};
//! use kafkit_store::{LocalStorage, NewRecord, Storage};
//! let dir = tempfile::tempdir().unwrap();
//! let store = LocalStorage::open(dir.path())?;
//! for t in ["a", "b"] {
//!     store.create_topic(t, 1, &[]).await?;
//!     store.append(t, vec![NewRecord::new(Some("k"), Some(t))]).await?;
//! }
//! let mut seen = Vec::new();
//! let found = diff((&store, "a"), (&store, "b"), &DiffSpec::default(), &mut |d| seen.push(d)).await?;
//! assert_eq!((found.compared, found.differ), (1, 1));
//! assert_eq!(seen[0].partition, 0);
//! # Ok(()) }
//! ```

use std::collections::VecDeque;

use crate::error::Result;
use crate::types::{ConsumerRecord, ReadFrom};
use crate::{RecordReader, Storage};

/// What to compare.
#[derive(Clone, Debug, Default)]
pub struct DiffSpec {
    /// Only these partitions (`None`: all that both topics have).
    pub partitions: Option<Vec<i32>>,
    /// Where to start on both sides (`None`: the beginning).
    pub start: Option<ReadFrom>,
    /// Compare without timestamps.
    pub ignore_timestamps: bool,
}

/// Records at the same place on both sides that differ (`None`: that side has fewer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The partition.
    pub partition: i32,
    /// The position in the partition, counted from where the comparison started.
    pub index: u64,
    /// The left record.
    pub left: Option<ConsumerRecord>,
    /// The right record.
    pub right: Option<ConsumerRecord>,
}

/// What a comparison found.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Differences {
    /// Record pairs compared (and records present on one side only).
    pub compared: u64,
    /// Of those, how many differ (a partition count that differs counts as one).
    pub differ: u64,
    /// The partition counts of the two topics.
    pub partitions: (i32, i32),
}

/// Compares `left` with `right` as `spec` says, handing each difference to `found`.
pub async fn diff<L: Storage, R: Storage>(
    (left, left_topic): (&L, &str),
    (right, right_topic): (&R, &str),
    spec: &DiffSpec,
    found: &mut dyn FnMut(Difference),
) -> Result<Differences> {
    let (nl, nr) = (
        left.partitions(left_topic).await?,
        right.partitions(right_topic).await?,
    );
    let mut summary = Differences {
        partitions: (nl, nr),
        ..Default::default()
    };
    if nl != nr {
        summary.differ += 1;
    }
    let partitions: Vec<i32> = match &spec.partitions {
        Some(ps) => ps.clone(),
        None => (0..nl.min(nr)).collect(),
    };
    let start = spec.start.clone().unwrap_or(ReadFrom::Beginning);
    for p in partitions {
        let mut a = left
            .reader(left_topic, Some(&[p]), start.clone(), false)
            .await?;
        let mut b = right
            .reader(right_topic, Some(&[p]), start.clone(), false)
            .await?;
        let (mut qa, mut qb) = (VecDeque::new(), VecDeque::new());
        let (mut a_done, mut b_done) = (false, false);
        let mut index = 0u64;
        loop {
            if qa.is_empty() && !a_done {
                match a.next_records().await? {
                    Some(rs) => qa.extend(rs),
                    None => a_done = true,
                }
                continue;
            }
            if qb.is_empty() && !b_done {
                match b.next_records().await? {
                    Some(rs) => qb.extend(rs),
                    None => b_done = true,
                }
                continue;
            }
            let (x, y) = (qa.pop_front(), qb.pop_front());
            if x.is_none() && y.is_none() {
                break;
            }
            summary.compared += 1;
            let same = match (&x, &y) {
                (Some(x), Some(y)) => {
                    x.key == y.key
                        && x.value == y.value
                        && x.headers == y.headers
                        && (spec.ignore_timestamps || x.timestamp == y.timestamp)
                }
                _ => false,
            };
            if !same {
                summary.differ += 1;
                found(Difference {
                    partition: p,
                    index,
                    left: x,
                    right: y,
                });
            }
            index += 1;
        }
    }
    Ok(summary)
}
