//! Captures batches written by librdkafka (through confluent-kafka) as served by the broker,
//! into `crates/record/tests/golden/`. Run by `scripts/capture-golden`; ignored otherwise.

mod common;

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
        let (_, bytes) = common::fetch_raw(&client, &topic, 0, 0).await;
        std::fs::write(out.join(format!("librdkafka-{codec}.bin")), &bytes).unwrap();
    }
}
