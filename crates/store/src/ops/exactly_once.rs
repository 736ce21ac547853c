//! Copying a topic from one cluster to another (or within one) exactly once.
//!
//! Each batch of source records is written to the target and the copy's progress — the
//! source offsets, committed as consumer group `G` — goes into the **target** cluster in
//! the same transaction. Progress and output commit together or not at all, so a copy
//! killed at any point and run again with the same group goes on from exactly where the
//! target's committed records end: no duplicates for `read_committed` readers of the target.
//! (The offsets live in the target because a transaction spans one cluster; MirrorMaker 2
//! keeps its exactly-once progress on the target for the same reason.)
//!
//! The source is read `read_committed`, every partition, from `G`'s commits in the target
//! (where it has none: from the plan's start, or the beginning). The transactional id is
//! `kafkit-cp-G-TOPIC`, so a second run of the same copy fences a first one still running.

use std::collections::BTreeMap;
use std::future::Future;

use kafkit_client::{ConsumerGroupMetadata, Producer, TopicPartition};

use super::copy::{
    end_name, prepare, Copied, CopyError, CopyPlan, IntoExisting, Prepared, Progress,
};
use super::read;
use crate::kafka::producer_record;
use crate::types::ReadFrom;
use crate::{KafkaStorage, RecordReader, Storage};

/// Copies `topic` of `source` into `target_topic` of `target` exactly once, tracking
/// progress as `group`'s commits in the target cluster (see the module docs). Stopping
/// (`stop`, or a failure) ends after the last committed transaction and says how far that
/// was; the same call again goes on from there.
pub async fn copy_exactly_once(
    (source, topic): (&KafkaStorage, &str),
    (target, target_topic): (&KafkaStorage, &str),
    group: &str,
    plan: &CopyPlan<'_>,
    progress: &(dyn Fn(u64) + Sync),
    stop: impl Future<Output = ()>,
) -> Result<Copied, CopyError> {
    refuse_unfit(plan)?;
    if !target.exists(target_topic).await? {
        let n = source.partitions(topic).await?;
        target.create_topic(target_topic, n, &[]).await?;
    }
    let commits: BTreeMap<i32, i64> = target
        .client()
        .admin()
        .committed_offsets(group, Some(&[topic]))
        .await
        .map_err(crate::StoreError::from)?
        .into_iter()
        .filter(|((t, _), c)| t == topic && c.offset >= 0)
        .map(|((_, p), c)| (p, c.offset))
        .collect();
    if commits.is_empty() && plan.into_existing == IntoExisting::Refuse {
        let held: i64 = target
            .watermarks(target_topic)
            .await?
            .values()
            .map(|(low, high)| high - low)
            .sum();
        if held > 0 {
            return Err(CopyError::TargetHolds {
                topic: target_topic.to_string(),
                storage: target.describe(),
                records: held,
            });
        }
    }
    let start = match commits.is_empty() {
        true => plan.read.start.clone().unwrap_or(ReadFrom::Beginning),
        false => ReadFrom::Offsets(commits),
    };
    let mut reader = source
        .read_committed()
        .reader(topic, None, start, plan.read.follow)
        .await?;
    let producer = target
        .transactional_producer(&format!("kafkit-cp-{group}-{topic}"))
        .await?;
    let member = ConsumerGroupMetadata::new(group);
    let mut at = Progress {
        source: end_name(source, topic),
        target: end_name(target, target_topic),
        copied: Copied::default(),
        written: reader.positions(),
    };
    let mut stop = std::pin::pin!(stop);
    loop {
        let next = tokio::select! {
            next = read::next_records(&mut reader, plan.read.skip_errors, &mut at.copied.skipped_batches) => next,
            _ = &mut stop => {
                let _ = producer.close(std::time::Duration::from_secs(10)).await;
                let _ = reader.close(&at.written).await;
                return Err(at.interrupted());
            }
        };
        let records = match next {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => return Err(at.failed(e)),
        };
        let prepared = match prepare(records, plan, &mut at.copied).await {
            Ok(p) => p,
            Err(e) => return Err(at.failed(e)),
        };
        let next = prepared.next.clone();
        let produced = prepared.records.len() as u64;
        if !next.is_empty() {
            if let Err(e) = transact(&producer, (topic, target_topic), prepared, &member).await {
                if !e.is_transaction_fatal() {
                    let _ = producer.abort_transaction().await;
                }
                return Err(at.failed(format!(
                    "{e} (the transaction was not committed; run the same copy again to go on)"
                )));
            }
        }
        at.copied.produced += produced;
        at.written.extend(next);
        progress(at.copied.consumed);
        if plan.limit_reached(at.copied.consumed) {
            break;
        }
    }
    if let Err(e) = producer.close(std::time::Duration::from_secs(30)).await {
        return Err(at.failed(e));
    }
    if let Err(e) = reader.close(&at.written).await {
        return Err(at.failed(e));
    }
    Ok(at.copied)
}

/// Plans an exactly-once copy cannot follow.
fn refuse_unfit(plan: &CopyPlan<'_>) -> Result<(), CopyError> {
    let refuse = |why: &str| Err(CopyError::Refused(format!("an exactly-once copy {why}")));
    if plan.groups {
        return refuse("carries no other group commits along (drop --groups)");
    }
    if plan.read.group.is_some() {
        return refuse("keeps its progress as its own group's commits in the target: it does not read as a group member");
    }
    if plan.read.partitions.is_some() {
        return refuse("reads every partition of the source");
    }
    if plan.into_existing == IntoExisting::Resume {
        return refuse("always goes on from its group's commits (drop --resume)");
    }
    Ok(())
}

/// Writes `prepared` and commits the source offsets after it, in one transaction.
async fn transact(
    producer: &Producer,
    (topic, target_topic): (&str, &str),
    prepared: Prepared,
    member: &ConsumerGroupMetadata,
) -> kafkit_client::Result<()> {
    producer.begin_transaction()?;
    for r in prepared.records {
        producer
            .send(producer_record(target_topic, r))
            .await
            .map_err(|e| e.error)?;
    }
    let offsets: Vec<(TopicPartition, i64)> = prepared
        .next
        .iter()
        .map(|(&p, &o)| (TopicPartition::new(topic, p), o))
        .collect();
    producer
        .send_offsets_to_transaction(&offsets, member)
        .await?;
    producer.commit_transaction().await
}
