//! A partition's manifest: the list of its segment objects, switched whole with a
//! conditional put (the object store's compare-and-swap), and the versioned JSON objects the
//! other metadata uses (`topic.json`, groups).
//!
//! ```text
//! manifest.json  {"log_start": 0, "next_offset": 120,
//!                 "segments": [{"base_offset": 0, "next_offset": 120, "max_timestamp": ...,
//!                               "bytes": 5130, "object": "00000000000000000000-5f1c….log"}]}
//! ```
//!
//! A segment object holds whole RecordBatch v2 batches, as Kafka stores them, and never
//! changes once written; the manifest names the ones that count.

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};

use super::ObjectStorage;
use crate::error::{Result, StoreError};

/// One segment object of a partition.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SegmentEntry {
    /// Offset of its first batch.
    pub base_offset: i64,
    /// Offset after its last batch.
    pub next_offset: i64,
    /// Largest record timestamp in it.
    pub max_timestamp: i64,
    /// Its size.
    pub bytes: u64,
    /// Its object name, in the partition's directory.
    pub object: String,
}

/// What a partition holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Manifest {
    /// First offset kept after delete-records.
    #[serde(default)]
    pub log_start: i64,
    /// The offset the next record gets.
    pub next_offset: i64,
    /// The segments, in offset order.
    pub segments: Vec<SegmentEntry>,
}

impl Manifest {
    /// Low and high watermark.
    pub fn watermarks(&self) -> (i64, i64) {
        let first = self
            .segments
            .first()
            .map_or(self.next_offset, |s| s.base_offset);
        let high = self.next_offset;
        (first.max(self.log_start).min(high), high)
    }

    /// The first segment holding offsets at or after `offset`.
    pub fn segment_from(&self, offset: i64) -> Option<&SegmentEntry> {
        let i = self.segments.partition_point(|s| s.next_offset <= offset);
        self.segments.get(i)
    }

    /// Bytes of all segments.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }
}

/// A JSON object as read, with the version a conditional put replaces (`None`: there is none
/// yet, and a put creates it).
#[derive(Debug)]
pub(super) struct Versioned<T> {
    pub value: T,
    pub version: Option<UpdateVersion>,
}

/// Why a conditional put did not happen.
#[derive(Debug)]
pub(super) enum PutRefused {
    /// Someone else changed (or created) the object since it was read.
    Changed,
    /// The request failed.
    Failed(StoreError),
}

impl ObjectStorage {
    /// Reads the JSON object at `path`; `None` when there is none.
    pub(super) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &Path,
    ) -> Result<Option<Versioned<T>>> {
        let got = match self.store.get(path).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.object_err(path, "read", e)),
        };
        let version = UpdateVersion {
            e_tag: got.meta.e_tag.clone(),
            version: got.meta.version.clone(),
        };
        let bytes = got
            .bytes()
            .await
            .map_err(|e| self.object_err(path, "read", e))?;
        let value = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: self.display_path(path).into(),
            message: format!("line {}: {e}", e.line()),
        })?;
        Ok(Some(Versioned {
            value,
            version: Some(version),
        }))
    }

    /// Writes `value` at `path` if it is still at `version` (created when `None`); returns
    /// the new version.
    pub(super) async fn put_json<T: serde::Serialize>(
        &self,
        path: &Path,
        value: &T,
        version: Option<UpdateVersion>,
    ) -> std::result::Result<UpdateVersion, PutRefused> {
        let text = serde_json::to_vec_pretty(value).expect("metadata serializes");
        let mode = match version {
            Some(v) => PutMode::Update(v),
            None => PutMode::Create,
        };
        self.put_if(path, Bytes::from(text), mode).await
    }

    /// Puts `bytes` at `path` in `mode` (create only, or update a version).
    pub(super) async fn put_if(
        &self,
        path: &Path,
        bytes: Bytes,
        mode: PutMode,
    ) -> std::result::Result<UpdateVersion, PutRefused> {
        let opts = PutOptions {
            mode,
            ..Default::default()
        };
        match self
            .store
            .put_opts(path, PutPayload::from_bytes(bytes), opts)
            .await
        {
            Ok(r) => Ok(UpdateVersion {
                e_tag: r.e_tag,
                version: r.version,
            }),
            Err(
                object_store::Error::Precondition { .. }
                | object_store::Error::AlreadyExists { .. },
            ) => Err(PutRefused::Changed),
            Err(e) => Err(PutRefused::Failed(self.object_err(path, "write", e))),
        }
    }

    /// A partition's manifest (empty when it has none yet).
    pub(super) async fn manifest(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Versioned<Manifest>> {
        let path = self.manifest_path(topic, partition);
        Ok(self.get_json(&path).await?.unwrap_or(Versioned {
            value: Manifest::default(),
            version: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(base: i64, next: i64) -> SegmentEntry {
        SegmentEntry {
            base_offset: base,
            next_offset: next,
            max_timestamp: 0,
            bytes: 10,
            object: format!("{base}.log"),
        }
    }

    #[test]
    fn watermarks_and_segment_lookup() {
        let mut m = Manifest::default();
        assert_eq!(m.watermarks(), (0, 0));
        m.segments = vec![seg(0, 10), seg(10, 20), seg(25, 30)];
        m.next_offset = 30;
        assert_eq!(m.watermarks(), (0, 30));
        assert_eq!(m.segment_from(9).unwrap().base_offset, 0);
        assert_eq!(m.segment_from(10).unwrap().base_offset, 10);
        assert_eq!(m.segment_from(22).unwrap().base_offset, 25);
        assert!(m.segment_from(30).is_none());
        m.log_start = 12;
        assert_eq!(m.watermarks(), (12, 30));
        m.segments.clear();
        assert_eq!(m.watermarks(), (30, 30));
    }
}
