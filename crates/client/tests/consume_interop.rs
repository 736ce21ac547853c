//! One group holding a kafkit consumer and a librdkafka consumer (confluent-kafka, which
//! scripts/test installs): the partitions are split between them, none twice.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use kafkit_client::{Assignor, Consumer, ConsumerConfig, OffsetReset};

const PEER: &str = r#"
import json, sys, time
from confluent_kafka import Consumer
bootstrap, topic, group, strategy, seconds = sys.argv[1:6]
c = Consumer({
    "bootstrap.servers": bootstrap, "group.id": group,
    "partition.assignment.strategy": strategy,
    "session.timeout.ms": 6000, "heartbeat.interval.ms": 300,
    "auto.offset.reset": "earliest",
})
c.subscribe([topic])
end = time.time() + float(seconds)
while time.time() < end:
    c.poll(0.1)
print(json.dumps(sorted(tp.partition for tp in c.assignment())), flush=True)
c.close()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_kafkit_and_librdkafka_splits_the_partitions() {
    let client = client().await;
    let bootstrap = kafkit_testkit::shared_broker();
    let python = std::env::var("KAFKIT_PYTHON").unwrap_or_else(|_| "python3".into());
    for (assignor, strategy) in [
        (Assignor::Range, "range"),
        (Assignor::RoundRobin, "roundrobin"),
        (Assignor::CooperativeSticky, "cooperative-sticky"),
    ] {
        let topic = topic(&client, &format!("interop-{strategy}"), 4).await;
        let group = kafkit_testkit::unique_topic("interop");
        let seconds = 12.0;
        let peer = tokio::process::Command::new(&python)
            .args([
                "-c",
                PEER,
                &bootstrap,
                &topic,
                &group,
                strategy,
                &seconds.to_string(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
        let mut config = ConsumerConfig::new(config(&bootstrap))
            .group_id(&group)
            .session(Duration::from_secs(6), Duration::from_millis(300))
            .assignors(vec![assignor])
            .auto_offset_reset(OffsetReset::Earliest);
        config.rebalance_timeout = Duration::from_secs(10);
        let ours = Consumer::connect(config).await.unwrap();
        ours.subscribe(&[&topic]).await.unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs_f64(seconds - 1.5) {
            let _ = ours.poll(Duration::from_millis(100)).await.unwrap();
        }
        let mine: BTreeSet<i32> = ours.assignment().iter().map(|tp| tp.partition).collect();
        let out = peer.wait_with_output().await.unwrap();
        assert!(
            out.status.success(),
            "the librdkafka peer failed (is confluent-kafka installed? scripts/test installs it): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs: BTreeSet<i32> = serde_json::from_slice::<Vec<i32>>(&out.stdout)
            .expect("the peer prints its assignment")
            .into_iter()
            .collect();
        assert!(
            mine.is_disjoint(&theirs),
            "{strategy}: kafkit {mine:?}, librdkafka {theirs:?}"
        );
        let all: BTreeSet<i32> = mine.union(&theirs).copied().collect();
        assert_eq!(
            all,
            (0..4).collect(),
            "{strategy}: kafkit {mine:?}, librdkafka {theirs:?}"
        );
        assert_eq!(
            (mine.len(), theirs.len()),
            (2, 2),
            "{strategy}: an even split"
        );
        ours.close().await;
    }
}
