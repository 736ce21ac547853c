//! Consume-transform-produce, exactly once: each batch of input records is transformed,
//! written and its input offsets committed in one transaction, so a crash at any point
//! leaves the output (read committed) with every input record exactly once after a restart.
//!
//! ```text
//! cargo run -p kafkit-client --example exactly_once -- HOST:PORT INPUT OUTPUT GROUP [INSTANCE]
//! ```
//!
//! The transform upper-cases each value and keeps its key. Restarting with the same GROUP
//! and INSTANCE (a static member, and the transactional id `GROUP-INSTANCE`) fences the
//! previous run, aborts its open transaction and goes on from its last committed offsets.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use kafkit_client::{
    ClientConfig, Consumer, ConsumerConfig, ConsumerRecord, Isolation, Offset, OffsetReset,
    Producer, ProducerConfig, ProducerRecord, Result, TopicPartition,
};

/// Where the transform reads and writes, and who it is.
#[derive(Clone, Debug)]
pub struct Transform {
    /// How to reach the cluster.
    pub client: ClientConfig,
    /// The topic read.
    pub input: String,
    /// The topic written.
    pub output: String,
    /// The consumer group (and the prefix of the transactional id).
    pub group: String,
    /// This instance's name: its static member id and transactional id suffix.
    pub instance: String,
    /// To show recovery: once this many input records are committed, the next transaction
    /// writes its records and then stalls, as a process that hangs or dies mid-transaction.
    pub stall_after: Option<u64>,
}

impl Transform {
    /// Runs until `stop` resolves; returns how many input records it committed.
    pub async fn run(&self, stop: impl Future<Output = ()>) -> Result<u64> {
        let consumer = Consumer::connect(
            ConsumerConfig::new(self.client.clone())
                .group_id(&self.group)
                .set("group.instance.id", &self.instance)?
                .auto_commit(false)
                .auto_offset_reset(OffsetReset::Earliest)
                .isolation(Isolation::ReadCommitted)
                .fetch_max_wait(Duration::from_millis(100)),
        )
        .await?;
        consumer.subscribe(&[self.input.as_str()]).await?;
        let producer = Producer::connect(
            ProducerConfig::new(self.client.clone())
                .transactional_id(format!("{}-{}", self.group, self.instance))
                .linger(Duration::from_millis(2)),
        )
        .await?;
        tokio::pin!(stop);
        let mut committed = 0u64;
        loop {
            let records = tokio::select! {
                _ = &mut stop => break,
                polled = consumer.poll(Duration::from_millis(200)) => polled?,
            };
            if records.is_empty() {
                continue;
            }
            let stall = self.stall_after.is_some_and(|n| committed >= n);
            match self.transact(&consumer, &producer, &records, stall).await {
                Ok(()) => committed += records.len() as u64,
                Err(e) if e.is_transaction_abortable() => {
                    eprintln!("transaction aborted, input rewound: {e}");
                    producer.abort_transaction().await?;
                    rewind(&consumer, &records).await?;
                }
                Err(e) => return Err(e),
            }
        }
        producer.close(Duration::from_secs(10)).await?;
        consumer.close().await;
        Ok(committed)
    }

    /// Writes the transformed `records` and commits their offsets, all in one transaction.
    async fn transact(
        &self,
        consumer: &Consumer,
        producer: &Producer,
        records: &[ConsumerRecord],
        stall: bool,
    ) -> Result<()> {
        producer.begin_transaction()?;
        for r in records {
            let value = r.value.as_ref().map(|v| v.to_ascii_uppercase());
            let mut out = ProducerRecord::new(self.output.clone());
            out.key = r.key.clone();
            out.value = value.map(Into::into);
            producer.send(out).await.map_err(|e| e.error)?;
        }
        let group = consumer
            .group_metadata()
            .expect("the consumer was configured with a group");
        producer
            .send_offsets_to_transaction(&next_offsets(records), &group)
            .await?;
        if stall {
            producer.flush().await;
            std::future::pending::<()>().await;
        }
        producer.commit_transaction().await
    }
}

/// Per partition, the offset after the last record of `records`.
fn next_offsets(records: &[ConsumerRecord]) -> Vec<(TopicPartition, i64)> {
    let mut next: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    for r in records {
        let tp = TopicPartition::new(r.topic.to_string(), r.partition);
        let o = next.entry(tp).or_insert(0);
        *o = (*o).max(r.offset + 1);
    }
    next.into_iter().collect()
}

/// After an abort, reads the aborted batch's partitions again from their committed offsets.
async fn rewind(consumer: &Consumer, records: &[ConsumerRecord]) -> Result<()> {
    let tps: Vec<TopicPartition> = next_offsets(records)
        .into_iter()
        .map(|(tp, _)| tp)
        .collect();
    let committed = consumer.committed(&tps).await?;
    for tp in &tps {
        let to = committed
            .get(tp)
            .map_or(Offset::Beginning, |o| Offset::At(*o));
        consumer.seek(tp, to)?;
    }
    Ok(())
}

#[allow(dead_code)] // the tests include this file for `Transform` and have their own main
#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: exactly_once HOST:PORT INPUT OUTPUT GROUP [INSTANCE]");
        std::process::exit(2);
    }
    let transform = Transform {
        client: ClientConfig::new([args[0].clone()]),
        input: args[1].clone(),
        output: args[2].clone(),
        group: args[3].clone(),
        instance: args.get(4).cloned().unwrap_or_else(|| "0".into()),
        stall_after: None,
    };
    let n = transform
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    println!("committed {n} input records");
    Ok(())
}
