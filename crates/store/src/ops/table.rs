//! A topic as a table: the latest value of each key, by ktables' rules (those of
//! `kafkit_table`'s global tables): a record without a key, or whose key is not UTF-8, is
//! skipped; a null value (a tombstone) removes its key (an empty value is data); a value that
//! does not decode as asked is skipped and the key keeps its old value. Each skip is counted.
//!
//! Works over any storage's reader, so `kafkit table` shows a table of a cluster and of
//! local files alike.
//!
//! ```
//! use kafkit_store::ops::json::DataType;
//! use kafkit_store::ops::table::Table;
//! use kafkit_store::ConsumerRecord;
//! let record = |key: &str, value: Option<&str>| ConsumerRecord {
//!     key: Some(key.to_string().into()),
//!     value: value.map(|v| v.to_string().into()),
//!     ..Default::default()
//! };
//! let mut table = Table::new(DataType::Json);
//! table.apply(&record("a", Some(r#"{"n":1}"#)));
//! table.apply(&record("b", Some("2")));
//! table.apply(&record("a", Some("not json"))); // skipped: a keeps {"n":1}
//! table.apply(&record("b", None)); // a tombstone
//! assert_eq!(table.get("a"), Some(&serde_json::json!({"n": 1})));
//! assert_eq!(table.len(), 1);
//! assert_eq!(table.stats().value_errors, 1);
//! ```

use std::collections::BTreeMap;

use serde_json::Value;

use super::json::DataType;
use super::schemas::{RecordFormat, Side};
use crate::error::{Result, StoreError};
use crate::types::ConsumerRecord;
use crate::RecordReader;

/// What applying records did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableStats {
    /// Keys in the table now.
    pub keys: u64,
    /// Records read.
    pub records: u64,
    /// Upserts applied.
    pub upserts: u64,
    /// Tombstones applied (to keys present or not).
    pub tombstones: u64,
    /// Records without a key (skipped).
    pub keyless: u64,
    /// Records whose key is not UTF-8 (skipped).
    pub key_errors: u64,
    /// Records whose value did not decode (skipped; the old value kept).
    pub value_errors: u64,
}

/// One key's change: what it was and what it is now (`None`: absent).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TableChange {
    /// The key.
    pub key: String,
    /// The value before.
    pub old: Option<Value>,
    /// The value after (`None`: removed by a tombstone).
    pub new: Option<Value>,
}

/// The latest value of each key of a topic, values shown as a [`DataType`].
#[derive(Clone, Debug)]
pub struct Table {
    values: BTreeMap<String, Value>,
    format: RecordFormat,
    stats: TableStats,
}

impl Table {
    /// An empty table whose values are shown as `value_type` (a plain type: the schema
    /// types need [`Table::with_format`]).
    pub fn new(value_type: DataType) -> Self {
        Table::with_format(RecordFormat::new(DataType::Str, value_type))
    }

    /// An empty table whose values are shown as `format.value` says, decoded with
    /// `format`'s schemas when that is a schema type (see [`Table::prepare`]).
    pub fn with_format(format: RecordFormat) -> Self {
        Table {
            values: BTreeMap::new(),
            format,
            stats: TableStats::default(),
        }
    }

    /// Fetches the schemas `records`' values name, before they are applied (nothing to do
    /// for the plain types).
    pub async fn prepare(&self, records: &[ConsumerRecord]) -> Result<()> {
        self.format
            .prepare(records)
            .await
            .map_err(StoreError::Invalid)
    }

    /// Applies `record` by ktables' rules; the change it made, if any.
    pub fn apply(&mut self, record: &ConsumerRecord) -> Option<TableChange> {
        self.stats.records += 1;
        let Some(key) = &record.key else {
            self.stats.keyless += 1;
            return None;
        };
        let Ok(key) = std::str::from_utf8(key) else {
            self.stats.key_errors += 1;
            return None;
        };
        let new = match &record.value {
            None => None,
            Some(v) => match self.format.show(Side::Value, Some(v)) {
                Ok((value, _)) => Some(value),
                Err(_) => {
                    self.stats.value_errors += 1;
                    return None;
                }
            },
        };
        let old = match &new {
            Some(v) => {
                self.stats.upserts += 1;
                self.values.insert(key.to_string(), v.clone())
            }
            None => {
                self.stats.tombstones += 1;
                self.values.remove(key)
            }
        };
        self.stats.keys = self.values.len() as u64;
        (old != new).then(|| TableChange {
            key: key.to_string(),
            old,
            new,
        })
    }

    /// Reads `reader` to its end, applying every record.
    pub async fn load<R: RecordReader>(&mut self, reader: &mut R) -> Result<()> {
        while let Some(records) = reader.next_records().await? {
            self.prepare(&records).await?;
            for r in &records {
                self.apply(r);
            }
        }
        Ok(())
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// Keys and values, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when it holds no key.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// What applying records did.
    pub fn stats(&self) -> &TableStats {
        &self.stats
    }
}
