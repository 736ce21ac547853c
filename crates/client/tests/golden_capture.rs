//! Captures batches written by librdkafka (through confluent-kafka) as served by the broker,
//! into `crates/record/tests/golden/`. Run by `scripts/capture-golden`; ignored otherwise.

mod common;

use kafkit_client::protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafkit_client::protocol::messages::{BrokerId, FetchRequest, TopicName};
use kafkit_client::protocol::protocol::StrBytes;
use kafkit_client::Target;

#[tokio::test]
#[ignore = "writes test files; run through scripts/capture-golden"]
async fn capture_librdkafka_batches() {
    let client = common::client().await;
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../record/tests/golden");
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = common::topic(&client, &format!("golden-{codec}"), 1).await;
        let status = std::process::Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../scripts/golden_produce.py"
            ))
            .args([&kafkit_testkit::shared_broker(), &topic, codec])
            .status()
            .expect("python3 runs");
        assert!(status.success(), "librdkafka producer failed for {codec}");
        let id = client.topic_metadata(&[&topic]).await.unwrap().topics[&topic].id;
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(100)
            .with_max_bytes(1 << 20)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic.clone())))
                .with_topic_id(id)
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_current_leader_epoch(-1)
                    .with_last_fetched_epoch(-1)
                    .with_log_start_offset(-1)
                    .with_partition_max_bytes(1 << 20)])]);
        let response = client.send(&Target::LeastLoaded, &request).await.unwrap();
        let bytes = response.responses[0].partitions[0].records.clone().unwrap();
        std::fs::write(out.join(format!("librdkafka-{codec}.bin")), &bytes).unwrap();
    }
}
