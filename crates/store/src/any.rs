//! [`AnyStorage`]: a storage chosen at run time.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::types::{ConsumerRecord, GroupInfo, GroupRead, NewRecord, ReadFrom, TopicSummary};
use crate::{
    KafkaReader, KafkaStorage, LocalReader, LocalStorage, ObjectReader, ObjectStorage,
    RecordReader, Storage,
};

/// A Kafka cluster, a local directory or an object store.
#[derive(Clone, Debug)]
pub enum AnyStorage {
    /// A Kafka cluster.
    Kafka(Box<KafkaStorage>),
    /// Emulated Kafka in a local directory.
    Local(LocalStorage),
    /// Emulated Kafka on an object store (S3, Azure Blob).
    Object(ObjectStorage),
}

/// A reader of either storage.
#[derive(Debug)]
pub enum AnyReader {
    /// Reading a cluster.
    Kafka(KafkaReader),
    /// Reading a local directory.
    Local(LocalReader),
    /// Reading an object store.
    Object(ObjectReader),
}

macro_rules! each {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            AnyStorage::Kafka($s) => $body,
            AnyStorage::Local($s) => $body,
            AnyStorage::Object($s) => $body,
        }
    };
}

impl AnyStorage {
    /// Flushes what is pending (the cluster's producer); a no-op for emulated storages.
    pub async fn close(&self) -> Result<()> {
        match self {
            AnyStorage::Kafka(k) => k.close().await,
            AnyStorage::Local(_) | AnyStorage::Object(_) => Ok(()),
        }
    }

    /// True for emulated Kafka (local files, object stores): no broker, and a registry of
    /// its own for the schema types.
    pub fn is_emulated(&self) -> bool {
        !matches!(self, AnyStorage::Kafka(_))
    }

    /// Appends `batches` to `partition` exactly as given (a byte-faithful backup: the bytes
    /// and offsets a broker served); emulated storages only.
    pub async fn append_batches(
        &self,
        topic: &str,
        partition: i32,
        batches: &[kafkit_record::RecordBatch],
    ) -> Result<()> {
        match self {
            AnyStorage::Local(s) => s.append_batches(topic, partition, batches).await,
            AnyStorage::Object(s) => s.append_batches(topic, partition, batches).await,
            AnyStorage::Kafka(_) => Err(crate::StoreError::Invalid(
                "batches keep their offsets in emulated storages only".into(),
            )),
        }
    }

    /// Makes everything the topic holds count (local files: a torn tail cut, batches written
    /// but not indexed indexed again); object stores need nothing.
    pub async fn recover(&self, topic: &str) -> Result<()> {
        match self {
            AnyStorage::Local(s) => s.recover(topic).await,
            AnyStorage::Object(_) | AnyStorage::Kafka(_) => Ok(()),
        }
    }

    /// Bytes the topic takes, where the storage knows (emulated storages).
    pub async fn topic_bytes(&self, topic: &str) -> Result<Option<u64>> {
        match self {
            AnyStorage::Local(s) => s.topic_bytes(topic).map(Some),
            AnyStorage::Object(s) => s.topic_bytes(topic).await.map(Some),
            AnyStorage::Kafka(_) => Ok(None),
        }
    }
}

impl Storage for AnyStorage {
    type Reader = AnyReader;

    fn describe(&self) -> String {
        each!(self, s => s.describe())
    }
    async fn list_topics(&self) -> Result<Vec<TopicSummary>> {
        each!(self, s => s.list_topics().await)
    }
    async fn exists(&self, topic: &str) -> Result<bool> {
        each!(self, s => s.exists(topic).await)
    }
    async fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        configs: &[(String, String)],
    ) -> Result<()> {
        each!(self, s => s.create_topic(topic, partitions, configs).await)
    }
    async fn delete_topic(&self, topic: &str) -> Result<()> {
        each!(self, s => s.delete_topic(topic).await)
    }
    async fn partitions(&self, topic: &str) -> Result<i32> {
        each!(self, s => s.partitions(topic).await)
    }
    async fn set_partitions(&self, topic: &str, partitions: i32) -> Result<()> {
        each!(self, s => s.set_partitions(topic, partitions).await)
    }
    async fn topic_configs(&self, topic: &str, all: bool) -> Result<BTreeMap<String, String>> {
        each!(self, s => s.topic_configs(topic, all).await)
    }
    async fn alter_topic_configs(
        &self,
        topic: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<()> {
        each!(self, s => s.alter_topic_configs(topic, changes).await)
    }
    async fn delete_records(
        &self,
        topic: &str,
        before: &BTreeMap<i32, i64>,
    ) -> Result<BTreeMap<i32, i64>> {
        each!(self, s => s.delete_records(topic, before).await)
    }
    async fn watermarks(&self, topic: &str) -> Result<BTreeMap<i32, (i64, i64)>> {
        each!(self, s => s.watermarks(topic).await)
    }
    async fn offsets_for_times(
        &self,
        topic: &str,
        timestamp: i64,
    ) -> Result<BTreeMap<i32, Option<i64>>> {
        each!(self, s => s.offsets_for_times(topic, timestamp).await)
    }
    async fn append(&self, topic: &str, records: Vec<NewRecord>) -> Result<Vec<(i32, i64)>> {
        each!(self, s => s.append(topic, records).await)
    }
    async fn reader(
        &self,
        topic: &str,
        partitions: Option<&[i32]>,
        from: ReadFrom,
        follow: bool,
    ) -> Result<AnyReader> {
        Ok(match self {
            AnyStorage::Kafka(s) => {
                AnyReader::Kafka(s.reader(topic, partitions, from, follow).await?)
            }
            AnyStorage::Local(s) => {
                AnyReader::Local(s.reader(topic, partitions, from, follow).await?)
            }
            AnyStorage::Object(s) => {
                AnyReader::Object(s.reader(topic, partitions, from, follow).await?)
            }
        })
    }
    async fn group_reader(
        &self,
        topic: &str,
        group: &GroupRead,
        follow: bool,
    ) -> Result<AnyReader> {
        Ok(match self {
            AnyStorage::Kafka(s) => AnyReader::Kafka(s.group_reader(topic, group, follow).await?),
            AnyStorage::Local(s) => AnyReader::Local(s.group_reader(topic, group, follow).await?),
            AnyStorage::Object(s) => AnyReader::Object(s.group_reader(topic, group, follow).await?),
        })
    }
    async fn list_groups(&self) -> Result<Vec<String>> {
        each!(self, s => s.list_groups().await)
    }
    async fn group_offsets(&self, group: &str) -> Result<BTreeMap<String, BTreeMap<i32, i64>>> {
        each!(self, s => s.group_offsets(group).await)
    }
    async fn commit(
        &self,
        group: &str,
        offsets: &BTreeMap<String, BTreeMap<i32, i64>>,
    ) -> Result<()> {
        each!(self, s => s.commit(group, offsets).await)
    }
    async fn delete_group(&self, group: &str) -> Result<()> {
        each!(self, s => s.delete_group(group).await)
    }
    async fn describe_group(&self, group: &str) -> Result<GroupInfo> {
        each!(self, s => s.describe_group(group).await)
    }
}

impl RecordReader for AnyReader {
    async fn next_records(&mut self) -> Result<Option<Vec<ConsumerRecord>>> {
        match self {
            AnyReader::Kafka(r) => r.next_records().await,
            AnyReader::Local(r) => r.next_records().await,
            AnyReader::Object(r) => r.next_records().await,
        }
    }
    fn positions(&self) -> BTreeMap<i32, i64> {
        match self {
            AnyReader::Kafka(r) => r.positions(),
            AnyReader::Local(r) => r.positions(),
            AnyReader::Object(r) => r.positions(),
        }
    }
    async fn commit(&mut self, handled: &BTreeMap<i32, i64>) -> Result<()> {
        match self {
            AnyReader::Kafka(r) => r.commit(handled).await,
            AnyReader::Local(r) => r.commit(handled).await,
            AnyReader::Object(r) => r.commit(handled).await,
        }
    }
    async fn close(&mut self, handled: &BTreeMap<i32, i64>) -> Result<()> {
        match self {
            AnyReader::Kafka(r) => r.close(handled).await,
            AnyReader::Local(r) => r.close(handled).await,
            AnyReader::Object(r) => r.close(handled).await,
        }
    }
}
