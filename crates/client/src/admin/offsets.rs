//! Partition offsets: earliest / latest / by timestamp, and deleting records before an offset.

use std::collections::BTreeMap;

use crate::wire::messages::delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};
use crate::wire::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use crate::wire::messages::{
    ApiKey, BrokerId, DeleteRecordsRequest, ListOffsetsRequest, TopicName,
};
use crate::wire::StrBytes;

use super::Admin;
use crate::client::Target;
use crate::error::{check_code, Error, Result};

/// Which offset of a partition to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset (low watermark).
    Earliest,
    /// The log end offset (high watermark).
    Latest,
    /// The last stable offset: where a `read_committed` reader stops, before the first
    /// record of a transaction still open (the high watermark when none is).
    LastStable,
    /// The first offset whose timestamp is at or after this time (ms since the epoch).
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest | OffsetSpec::LastStable => -1,
            OffsetSpec::Timestamp(t) => t,
        }
    }

    /// ListOffsets' isolation level: 1 (read_committed) answers "latest" with the last
    /// stable offset.
    fn isolation_level(self) -> i8 {
        i8::from(self == OffsetSpec::LastStable)
    }
}

/// An offset found for a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicPartitionOffset {
    /// Partition index.
    pub partition: i32,
    /// The offset (-1 when no record is at or after the timestamp asked for).
    pub offset: i64,
    /// Timestamp of that record, or -1.
    pub timestamp: i64,
}

impl Admin {
    /// Looks up `spec` for each of `partitions` of `topic` (all partitions when empty),
    /// asking each partition's leader.
    pub async fn list_offsets(
        &self,
        topic: &str,
        partitions: &[i32],
        spec: OffsetSpec,
    ) -> Result<BTreeMap<i32, TopicPartitionOffset>> {
        self.client
            .with_retries("list offsets", || {
                self.list_offsets_once(topic, partitions, spec)
            })
            .await
    }

    async fn list_offsets_once(
        &self,
        topic: &str,
        partitions: &[i32],
        spec: OffsetSpec,
    ) -> Result<BTreeMap<i32, TopicPartitionOffset>> {
        let by_leader = self.partitions_by_leader(topic, partitions).await?;
        let mut out = BTreeMap::new();
        for (leader, parts) in by_leader {
            let request = ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_isolation_level(spec.isolation_level())
                .with_timeout_ms(self.broker_timeout_ms())
                .with_topics(vec![ListOffsetsTopic::default()
                    .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                    .with_partitions(
                        parts
                            .iter()
                            .map(|p| {
                                ListOffsetsPartition::default()
                                    .with_partition_index(*p)
                                    .with_current_leader_epoch(-1)
                                    .with_timestamp(spec.wire())
                            })
                            .collect(),
                    )]);
            let target = Target::Broker(leader);
            let response = self.client.send(&target, &request).await?;
            let broker = self.client.address_hint(&target);
            for t in response.topics {
                for p in t.partitions {
                    check_code(p.error_code, ApiKey::ListOffsets, &broker)
                        .map_err(|b| b.topic(topic).partition(p.partition_index).build())?;
                    out.insert(
                        p.partition_index,
                        TopicPartitionOffset {
                            partition: p.partition_index,
                            offset: p.offset,
                            timestamp: p.timestamp,
                        },
                    );
                }
            }
        }
        Ok(out)
    }

    /// Low watermark and last stable offset of every partition of `topic`: the range a
    /// `read_committed` reader sees now.
    pub async fn committed_range(&self, topic: &str) -> Result<BTreeMap<i32, (i64, i64)>> {
        self.range_to(topic, OffsetSpec::LastStable).await
    }

    /// Low and high watermarks of every partition of `topic`.
    pub async fn watermarks(&self, topic: &str) -> Result<BTreeMap<i32, (i64, i64)>> {
        self.range_to(topic, OffsetSpec::Latest).await
    }

    /// Each partition's log start offset and its `end` (-1 where the end is unknown).
    async fn range_to(&self, topic: &str, end: OffsetSpec) -> Result<BTreeMap<i32, (i64, i64)>> {
        let low = self.list_offsets(topic, &[], OffsetSpec::Earliest).await?;
        let high = self.list_offsets(topic, &[], end).await?;
        Ok(low
            .into_iter()
            .map(|(p, l)| (p, (l.offset, high.get(&p).map_or(-1, |h| h.offset))))
            .collect())
    }

    /// Deletes the records of each partition before the given offset; returns the new low
    /// watermarks.
    pub async fn delete_records(
        &self,
        topic: &str,
        before: &BTreeMap<i32, i64>,
    ) -> Result<BTreeMap<i32, i64>> {
        let partitions: Vec<i32> = before.keys().copied().collect();
        let by_leader = self.partitions_by_leader(topic, &partitions).await?;
        let mut out = BTreeMap::new();
        for (leader, parts) in by_leader {
            let request = DeleteRecordsRequest::default()
                .with_timeout_ms(self.broker_timeout_ms())
                .with_topics(vec![DeleteRecordsTopic::default()
                    .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                    .with_partitions(
                        parts
                            .iter()
                            .map(|p| {
                                DeleteRecordsPartition::default()
                                    .with_partition_index(*p)
                                    .with_offset(before[p])
                            })
                            .collect(),
                    )]);
            let target = Target::Broker(leader);
            let response = self
                .client
                .with_retries("delete records", || self.client.send(&target, &request))
                .await?;
            let broker = self.client.address_hint(&target);
            for t in response.topics {
                for p in t.partitions {
                    check_code(p.error_code, ApiKey::DeleteRecords, &broker)
                        .map_err(|b| b.topic(topic).partition(p.partition_index).build())?;
                    out.insert(p.partition_index, p.low_watermark);
                }
            }
        }
        Ok(out)
    }

    /// Groups `partitions` of `topic` (all when empty) by their leader's node id.
    pub(crate) async fn partitions_by_leader(
        &self,
        topic: &str,
        partitions: &[i32],
    ) -> Result<BTreeMap<i32, Vec<i32>>> {
        let mut view = self.client.cached_view();
        if view.topic(topic).is_none() {
            view = self.client.refresh_metadata().await?;
        }
        let info = view.topic(topic).ok_or_else(|| {
            Error::broker(
                crate::wire::ErrorCode::UnknownTopicOrPartition,
                ApiKey::Metadata,
                &self.client.address_hint(&Target::LeastLoaded),
            )
            .topic(topic)
            .build()
        })?;
        let wanted: Vec<i32> = if partitions.is_empty() {
            info.partitions.iter().map(|p| p.id).collect()
        } else {
            partitions.to_vec()
        };
        let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for p in wanted {
            let part = info.partition(p).ok_or_else(|| Error::Unknown {
                what: "partition",
                name: format!("{topic}/{p}"),
            })?;
            let leader = part.leader.ok_or_else(|| Error::NoLeader {
                topic: topic.to_string(),
                partition: p,
            })?;
            by_leader.entry(leader).or_default().push(p);
        }
        Ok(by_leader)
    }
}
