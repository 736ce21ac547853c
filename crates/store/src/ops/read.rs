//! What to read of a topic, and how: a [`ReadSpec`] (partitions, start, end time, group,
//! follow, how keys and values are shown) opens the reader behind `cat`, `cp`, `wc` and the
//! functional operations.
//!
//! ```
//! # async fn demo() -> kafkit_store::Result<()> {
//! use kafkit_store::ops::read::{parse_offsets, ReadSpec};
//! use kafkit_store::{LocalStorage, RecordReader, Storage};
//! let store = LocalStorage::open(std::env::temp_dir().join("kafkit-doc-read"))?;
//! if !store.exists("t").await? {
//!     store.create_topic("t", 2, &[]).await?;
//! }
//! let spec = ReadSpec {
//!     start: Some(parse_offsets("0=0,1=0").unwrap()),
//!     ..Default::default()
//! };
//! let mut reader = spec.open(&store, "t").await?;
//! while let Some(records) = reader.next_records().await? {
//!     println!("{} records", records.len());
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;

use super::chunks::Assembled;
use super::schemas::RecordFormat;
use crate::error::{Result, StoreError};
use crate::types::{ConsumerRecord, GroupRead, ReadFrom};
use crate::{RecordReader, Storage};

/// What to read of a topic, and how.
#[derive(Clone, Debug, Default)]
pub struct ReadSpec {
    /// Only these partitions (`None`: all). Not with a group.
    pub partitions: Option<Vec<i32>>,
    /// Where to start (`None`: the beginning, or a group's commits). Not with a group.
    pub start: Option<ReadFrom>,
    /// Leave out records at or after this time (ms since the epoch).
    pub to: Option<i64>,
    /// Read as a member of this group.
    pub group: Option<GroupRead>,
    /// Keep reading new records instead of stopping at the end.
    pub follow: bool,
    /// How keys and values are shown as JSON.
    pub format: RecordFormat,
    /// Step over corrupt stored batches (counted) instead of stopping at one.
    pub skip_errors: bool,
}

impl ReadSpec {
    /// Opens the reader this spec asks for: a group member's, or one of the chosen
    /// partitions from the chosen start. A group member reads what its group assigns from
    /// the group's commits, so partitions and a start cannot be combined with a group.
    ///
    /// Chunked messages (see [`chunks`](super::chunks)) come out whole.
    pub async fn open<S: Storage>(&self, storage: &S, topic: &str) -> Result<Assembled<S::Reader>> {
        self.open_raw(storage, topic).await.map(Assembled::new)
    }

    /// Opens the reader as [`open`](Self::open) does, chunks left as they are.
    pub async fn open_raw<S: Storage>(&self, storage: &S, topic: &str) -> Result<S::Reader> {
        let Some(group) = &self.group else {
            let start = self.start.clone().unwrap_or(ReadFrom::Beginning);
            return storage
                .reader(topic, self.partitions.as_deref(), start, self.follow)
                .await;
        };
        if self.partitions.is_some() || self.start.is_some() {
            return Err(StoreError::Invalid(format!(
                "reading '{topic}' as group '{}': a group member reads the partitions its \
                 group assigns, from the group's commits; partitions and a start cannot be \
                 chosen too",
                group.group
            )));
        }
        storage.group_reader(topic, group, self.follow).await
    }

    /// Whether `record` is before the spec's end time.
    pub fn wants(&self, record: &ConsumerRecord) -> bool {
        self.to.is_none_or(|to| record.timestamp < to)
    }
}

/// Parses start offsets: `N` for every partition, `P=N,...` per partition (others from the
/// beginning); a negative `N` counts back from the end.
///
/// ```
/// use kafkit_store::ops::read::parse_offsets;
/// use kafkit_store::ReadFrom;
/// assert_eq!(parse_offsets("5"), Ok(ReadFrom::Offset(5)));
/// assert_eq!(parse_offsets("-3"), Ok(ReadFrom::Last(3)));
/// assert!(parse_offsets("0=x").unwrap_err().contains("bad offset"));
/// ```
pub fn parse_offsets(spec: &str) -> std::result::Result<ReadFrom, String> {
    if !spec.contains('=') {
        let n: i64 = spec
            .trim()
            .parse()
            .map_err(|_| format!("offsets '{spec}': expected N or P=N,..."))?;
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
            .ok_or_else(|| format!("offsets '{spec}': '{part}' is not P=N"))?;
        let p: i32 = p
            .trim()
            .parse()
            .map_err(|_| format!("offsets '{spec}': bad partition '{p}'"))?;
        let o: i64 = o
            .trim()
            .parse()
            .map_err(|_| format!("offsets '{spec}': bad offset '{o}'"))?;
        m.insert(p, o);
    }
    Ok(ReadFrom::Offsets(m))
}

/// The reader's next records. A corrupt stored batch (handed out after every healthy
/// partition's records) is stepped over and counted in `skipped` when `skip` is set; else
/// it is the error.
pub async fn next_records<R: RecordReader>(
    reader: &mut R,
    skip: bool,
    skipped: &mut u64,
) -> Result<Option<Vec<ConsumerRecord>>> {
    loop {
        match reader.next_records().await {
            Err(e @ StoreError::CorruptBatch { .. }) if skip => {
                tracing::warn!("skipped: {e}");
                *skipped += 1;
            }
            other => return other,
        }
    }
}
