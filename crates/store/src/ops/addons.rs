//! kafi's add-ons: [`compact`] / [`compact_to`] (the latest record of each key, tombstones
//! removed) and [`recreate`] (a topic emptied, keeping its partitions and configs).
//!
//! ```
//! # async fn demo() -> kafkit_store::Result<()> {
//! use kafkit_store::ops::addons::{compact, recreate};
//! use kafkit_store::ops::functional::Source;
//! use kafkit_store::{LocalStorage, NewRecord, Storage};
//! let dir = tempfile::tempdir().unwrap();
//! let store = LocalStorage::open(dir.path())?;
//! store.create_topic("prices", 2, &[("cleanup.policy".into(), "compact".into())]).await?;
//! let records = vec![
//!     NewRecord::new(Some("apple"), Some("1.10")),
//!     NewRecord::new(Some("pear"), Some("0.80")),
//!     NewRecord::new(Some("apple"), Some("1.20")),
//!     NewRecord::new(Some("pear"), None::<&str>), // a tombstone
//! ];
//! store.append("prices", records).await?;
//! let latest = compact(&Source::new(&store, "prices")).await?;
//! assert_eq!(latest.len(), 1);
//! assert_eq!(latest[0]["value"], "1.20");
//!
//! recreate(&store, "prices", None, &[]).await?;
//! assert_eq!(store.partitions("prices").await?, 2);
//! assert_eq!(store.topic_configs("prices", false).await?["cleanup.policy"], "compact");
//! assert_eq!(compact(&Source::new(&store, "prices")).await?.len(), 0);
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::functional::{Source, Target};
use crate::error::{Result, StoreError};
use crate::Storage;

/// How long `recreate` waits for a cluster to finish deleting the old topic.
const RECREATE_WAIT: Duration = Duration::from_secs(60);

/// The latest record of each key, in the order keys were first seen (a key deleted by a
/// tombstone and written again counts as new); records without a key are left out, as in
/// kafi. Keys are compared as shown by the source's format.
pub async fn compact<S: Storage>(source: &Source<'_, S>) -> Result<Vec<Value>> {
    Ok(latest_by_key(source).await?.0)
}

/// [`compact`]'s records, and how many records were read.
async fn latest_by_key<S: Storage>(source: &Source<'_, S>) -> Result<(Vec<Value>, u64)> {
    let ((slots, _), read) = source
        .foldl(
            (Vec::<Option<Value>>::new(), HashMap::<String, usize>::new()),
            |(mut slots, mut index), r| {
                if r["key"].is_null() {
                    return (slots, index);
                }
                let key = r["key"].to_string();
                if r["value"].is_null() {
                    if let Some(i) = index.remove(&key) {
                        slots[i] = None;
                    }
                } else if let Some(&i) = index.get(&key) {
                    slots[i] = Some(r);
                } else {
                    index.insert(key, slots.len());
                    slots.push(Some(r));
                }
                (slots, index)
            },
        )
        .await?;
    Ok((slots.into_iter().flatten().collect(), read))
}

/// Writes [`compact`]'s records to `target` (created when missing, with the source's
/// partition count); returns (read, written).
pub async fn compact_to<S: Storage, T: Storage>(
    source: &Source<'_, S>,
    target: &Target<'_, T>,
) -> Result<(u64, u64)> {
    let (latest, read) = latest_by_key(source).await?;
    let written = target
        .write_records(&latest, source.partitions().await?)
        .await?;
    Ok((read, written))
}

/// Empties `topic` by deleting it and creating it again with its partition count (or
/// `partitions`) and its config overrides (those in `configs` replaced or added). A missing
/// topic is created (1 partition unless told). A cluster may take a moment to finish a
/// deletion: the creation is tried again for up to a minute.
pub async fn recreate<S: Storage>(
    storage: &S,
    topic: &str,
    partitions: Option<i32>,
    configs: &[(String, String)],
) -> Result<()> {
    let (count, mut merged) = if storage.exists(topic).await? {
        let count = match partitions {
            Some(n) => n,
            None => storage.partitions(topic).await?,
        };
        let old = storage.topic_configs(topic, false).await?;
        storage.delete_topic(topic).await?;
        (count, old)
    } else {
        (partitions.unwrap_or(1), Default::default())
    };
    for (k, v) in configs {
        merged.insert(k.clone(), v.clone());
    }
    let merged: Vec<(String, String)> = merged.into_iter().collect();
    let began = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        match storage.create_topic(topic, count, &merged).await {
            Err(StoreError::TopicExists(_)) if began.elapsed() < RECREATE_WAIT => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(StoreError::TopicExists(t)) => {
                return Err(StoreError::Timeout(format!(
                    "recreating '{t}' on {}: the old topic was still being deleted after {}s",
                    storage.describe(),
                    RECREATE_WAIT.as_secs()
                )))
            }
            other => return other,
        }
    }
}
