//! kafkit's storages: one interface over a Kafka cluster and over emulated Kafka in files.
//!
//! - [`KafkaStorage`]: a cluster, through kafkit's client.
//! - [`LocalStorage`]: emulated Kafka in a directory — topics with partitions and configs,
//!   records kept as RecordBatch v2 segments with an index, watermarks, offsets for times,
//!   murmur2 partitioning, consumer groups with committed offsets (layout in docs/STORAGE.md).
//! - [`ObjectStorage`]: the same emulation on an object store — an S3 bucket
//!   ([`S3Location`]) or an Azure Blob container ([`AzureLocation`]).
//! - [`AnyStorage`]: any of them, chosen at run time (what the CLI uses).
//!
//! ```
//! # async fn demo() -> kafkit_store::Result<()> {
//! use kafkit_store::{LocalStorage, NewRecord, ReadFrom, RecordReader, Storage};
//! let dir = std::env::temp_dir().join("kafkit-doc-store");
//! let store = LocalStorage::open(&dir)?;
//! if !store.exists("greetings").await? {
//!     store.create_topic("greetings", 2, &[]).await?;
//! }
//! store.append("greetings", vec![NewRecord::new(Some("k"), Some("hello"))]).await?;
//! let mut reader = store.reader("greetings", None, ReadFrom::Beginning, false).await?;
//! while let Some(records) = reader.next_records().await? {
//!     for r in records {
//!         println!("{}@{} {:?}", r.partition, r.offset, r.value);
//!     }
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod any;
mod emulated;
mod error;
mod kafka;
mod local;
mod object;
pub mod ops;
mod types;

pub use any::{AnyReader, AnyStorage};
pub use error::{Result, StoreError};
pub use kafka::{KafkaReader, KafkaStorage};
pub use local::{LocalReader, LocalStorage};
pub use object::{AzureLocation, ObjectReader, ObjectStorage, S3Location};
pub use types::{
    ConsumerRecord, GroupInfo, GroupMemberInfo, GroupRead, NewRecord, ReadFrom, TopicSummary,
};

use std::collections::BTreeMap;

/// What every storage offers: topics, records, offsets and consumer groups.
#[allow(async_fn_in_trait)]
pub trait Storage {
    /// How this storage reads records.
    type Reader: RecordReader;

    /// Where this storage is, for messages (`kafka:host:port`, `local:/dir`).
    fn describe(&self) -> String;
    /// Every topic, by name.
    async fn list_topics(&self) -> Result<Vec<TopicSummary>>;
    /// True when `topic` exists.
    async fn exists(&self, topic: &str) -> Result<bool>;
    /// Creates `topic` with `partitions` partitions and `configs`.
    async fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        configs: &[(String, String)],
    ) -> Result<()>;
    /// Deletes `topic` and its records.
    async fn delete_topic(&self, topic: &str) -> Result<()>;
    /// The number of partitions of `topic`.
    async fn partitions(&self, topic: &str) -> Result<i32>;
    /// Grows `topic` to `partitions` partitions (as Kafka, never shrinks one).
    async fn set_partitions(&self, topic: &str, partitions: i32) -> Result<()>;
    /// The configs of `topic`: its overrides, and with `all` the defaults too (where the
    /// storage has any: a cluster's broker defaults).
    async fn topic_configs(&self, topic: &str, all: bool) -> Result<BTreeMap<String, String>>;
    /// Sets (`Some`) or removes (`None`) config overrides of `topic`, keeping the others.
    async fn alter_topic_configs(
        &self,
        topic: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<()>;
    /// Deletes each partition's records before the given offset (`-1`: the high watermark);
    /// returns the new low watermarks.
    async fn delete_records(
        &self,
        topic: &str,
        before: &BTreeMap<i32, i64>,
    ) -> Result<BTreeMap<i32, i64>>;
    /// Low and high watermark of every partition.
    async fn watermarks(&self, topic: &str) -> Result<BTreeMap<i32, (i64, i64)>>;
    /// Per partition, the first offset whose timestamp is at or after `timestamp` (`None`:
    /// there is none).
    async fn offsets_for_times(
        &self,
        topic: &str,
        timestamp: i64,
    ) -> Result<BTreeMap<i32, Option<i64>>>;
    /// Appends records, each to its partition (given, from its key by murmur2, or spread
    /// when keyless); returns each record's (partition, offset) in order.
    async fn append(&self, topic: &str, records: Vec<NewRecord>) -> Result<Vec<(i32, i64)>>;
    /// A reader of `partitions` (all when `None`) from `from`; without `follow` it ends at
    /// the high watermarks taken now.
    async fn reader(
        &self,
        topic: &str,
        partitions: Option<&[i32]>,
        from: ReadFrom,
        follow: bool,
    ) -> Result<Self::Reader>;
    /// A reader of `topic` as a member of a consumer group (see [`GroupRead`]): it starts
    /// from the group's commits, and [`RecordReader::commit`] and [`RecordReader::close`]
    /// commit what was handled. Without `follow` it ends once every partition it holds
    /// reached the end it had when first read.
    async fn group_reader(
        &self,
        topic: &str,
        group: &GroupRead,
        follow: bool,
    ) -> Result<Self::Reader>;
    /// The consumer groups.
    async fn list_groups(&self) -> Result<Vec<String>>;
    /// A group's committed offsets, by topic and partition.
    async fn group_offsets(&self, group: &str) -> Result<BTreeMap<String, BTreeMap<i32, i64>>>;
    /// Commits `offsets` (topic → partition → next offset) for `group`.
    async fn commit(
        &self,
        group: &str,
        offsets: &BTreeMap<String, BTreeMap<i32, i64>>,
    ) -> Result<()>;
    /// Deletes a group and its offsets.
    async fn delete_group(&self, group: &str) -> Result<()>;
    /// A group's state and members.
    async fn describe_group(&self, group: &str) -> Result<GroupInfo>;
}

/// Records in offset order per partition, a poll at a time.
#[allow(async_fn_in_trait)]
pub trait RecordReader {
    /// The next records; `Ok(None)` once every partition reached where the reader stops.
    async fn next_records(&mut self) -> Result<Option<Vec<ConsumerRecord>>>;
    /// Per partition, the offset after the last record returned (or where reading starts).
    /// A group member's reader names only the partitions it holds now.
    fn positions(&self) -> BTreeMap<i32, i64>;
    /// A group reader commits `handled` (per partition, the offset after the last record
    /// handled) for the partitions it holds; other readers do nothing. A commit refused
    /// because the group is rebalancing is logged, not an error: the partitions' new owner
    /// resumes from the last commit that held.
    async fn commit(&mut self, handled: &BTreeMap<i32, i64>) -> Result<()>;
    /// Ends the read: a group reader commits `handled` and leaves its group, so that the
    /// others take over its partitions at once.
    async fn close(&mut self, handled: &BTreeMap<i32, i64>) -> Result<()>;
}
