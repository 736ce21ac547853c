//! Partitioning parity with librdkafka: the same keys land on the same partitions.
//!
//! librdkafka runs through confluent-kafka (`pip install confluent-kafka`; scripts/test
//! installs it) with `partitioner=murmur2_random`, the Java client's algorithm.

mod common;

use std::collections::BTreeMap;

use common::*;
use kafkit_client::{Producer, ProducerRecord};

const PEER: &str = r#"
import json, sys
from confluent_kafka import Producer
bootstrap, topic = sys.argv[1], sys.argv[2]
keys = json.loads(sys.stdin.read())
p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random"})
placed = {}
def delivered(err, msg):
    if err is not None:
        sys.exit("delivery failed: %s" % err)
    placed[msg.key().hex()] = msg.partition()
for k in keys:
    p.produce(topic, key=bytes.fromhex(k), value=b"v", on_delivery=delivered)
p.flush(30)
print(json.dumps(placed))
"#;

fn keys() -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = (0..500).map(|i| format!("key-{i}").into_bytes()).collect();
    keys.push(Vec::new()); // empty, not null: hashed like any key
    keys.push("ключ-ü-🦀".as_bytes().to_vec());
    keys.push((0..=255u8).collect());
    keys.push(vec![0xff; 1000]);
    keys
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Where librdkafka puts each key, by running it.
fn librdkafka_partitions(bootstrap: &str, topic: &str, keys: &[Vec<u8>]) -> BTreeMap<String, i32> {
    use std::io::Write;
    let python = std::env::var("KAFKIT_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = std::process::Command::new(&python)
        .args(["-c", PEER, bootstrap, topic])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let input = serde_json::to_string(&keys.iter().map(|k| hex(k)).collect::<Vec<_>>()).unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the librdkafka peer failed (is confluent-kafka installed? scripts/test installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the peer prints a JSON object")
}

#[tokio::test]
async fn keyed_records_land_where_librdkafka_murmur2_random_puts_them() {
    let client = client().await;
    let bootstrap = kafkit_testkit::shared_broker();
    let keys = keys();
    for partitions in [3, 7, 16] {
        let peer_topic = topic(&client, "parity-rd", partitions).await;
        let ours_topic = topic(&client, "parity-kafkit", partitions).await;
        let theirs = {
            let (b, t, k) = (bootstrap.clone(), peer_topic.clone(), keys.clone());
            tokio::task::spawn_blocking(move || librdkafka_partitions(&b, &t, &k))
                .await
                .unwrap()
        };
        assert_eq!(theirs.len(), keys.len());
        let producer = Producer::connect(producer_config(&bootstrap))
            .await
            .unwrap();
        let mut deliveries = Vec::new();
        for k in &keys {
            deliveries.push(
                producer
                    .send(
                        ProducerRecord::new(ours_topic.clone())
                            .key(k.clone())
                            .value("v"),
                    )
                    .await
                    .unwrap(),
            );
        }
        for (k, d) in keys.iter().zip(deliveries) {
            let ours = d.await.unwrap().partition;
            assert_eq!(
                Some(&ours),
                theirs.get(&hex(k)),
                "key {:?} with {partitions} partitions",
                String::from_utf8_lossy(k)
            );
        }
    }
}
