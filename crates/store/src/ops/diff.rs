//! Comparing two topics partition by partition, record by record in order: keys, values,
//! headers, and timestamps unless told to ignore them (offsets may differ, as after a copy).
//! Schema-typed keys and values may be compared by what they decode to (each side with its
//! own registry), so a backup whose registry gave the schema another id is still the same.
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

use crate::error::{Result, StoreError};
use crate::ops::schemas::{RecordFormat, Side};
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
    /// The formats of the left and the right records: their schema-typed keys and values
    /// are compared by the JSON they decode to, not by their bytes (which hold the schema
    /// id). `None`: bytes.
    pub formats: Option<(RecordFormat, RecordFormat)>,
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
                    Some(rs) => {
                        prepare(spec.formats.as_ref().map(|f| &f.0), &rs).await?;
                        qa.extend(rs);
                    }
                    None => a_done = true,
                }
                continue;
            }
            if qb.is_empty() && !b_done {
                match b.next_records().await? {
                    Some(rs) => {
                        prepare(spec.formats.as_ref().map(|f| &f.1), &rs).await?;
                        qb.extend(rs);
                    }
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
                    let formats = spec.formats.as_ref();
                    same_side(Side::Key, x.key.as_deref(), y.key.as_deref(), formats)
                        && same_side(Side::Value, x.value.as_deref(), y.value.as_deref(), formats)
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

/// Fetches the schemas `records` name, when their format has schema types.
async fn prepare(format: Option<&RecordFormat>, records: &[ConsumerRecord]) -> Result<()> {
    match format {
        Some(format) if format.uses_schemas() => {
            format.prepare(records).await.map_err(StoreError::Invalid)
        }
        _ => Ok(()),
    }
}

/// Whether one side of two records is the same: equal bytes, or, for a schema type on
/// both sides, the same decoded JSON (bytes that do not decode differ unless equal).
fn same_side(
    side: Side,
    left: Option<&[u8]>,
    right: Option<&[u8]>,
    formats: Option<&(RecordFormat, RecordFormat)>,
) -> bool {
    if left == right {
        return true;
    }
    let Some((lf, rf)) = formats else {
        return false;
    };
    if !lf.side_type(side).is_schema() || !rf.side_type(side).is_schema() {
        return false;
    }
    match (lf.show(side, left), rf.show(side, right)) {
        (Ok((l, _)), Ok((r, _))) => l == r,
        _ => false,
    }
}
