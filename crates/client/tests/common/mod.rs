//! Helpers shared by the client's integration tests.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafkit_client::wire::messages::fetch_request::{FetchPartition, FetchTopic};
use kafkit_client::wire::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafkit_client::wire::messages::{BrokerId, FetchRequest, ProduceRequest, TopicName};
use kafkit_client::wire::StrBytes;
use kafkit_client::{Client, ClientConfig, NewTopic, Target};
use kafkit_record::{BatchBuilder, BatchReader, Compression, DecodeOptions, Record};

/// A config for `bootstrap` with short timeouts suited to tests.
pub fn config(bootstrap: &str) -> ClientConfig {
    ClientConfig::new([bootstrap])
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(10))
}

/// A client of the shared broker.
pub async fn client() -> Client {
    Client::connect(config(&kafkit_testkit::shared_broker()))
        .await
        .expect("the shared broker accepts clients")
}

/// Creates a fresh topic with `partitions` partitions on the client's cluster.
pub async fn topic(client: &Client, prefix: &str, partitions: i32) -> String {
    let name = kafkit_testkit::unique_topic(prefix);
    client
        .admin()
        .create_topic(&NewTopic::new(&name, partitions))
        .await
        .expect("topic creation works");
    wait_for_leaders(client, &name, partitions).await;
    name
}

/// Waits until each of `partitions` partitions of `topic` has a leader that serves it: Kafka
/// answers CreateTopics once the controller has the topic, and metadata names a leader a
/// moment before that broker serves the partition (NOT_LEADER_OR_FOLLOWER until then; raw
/// requests in these tests do not retry, and an acks=0 record sent then is lost).
pub async fn wait_for_leaders(client: &Client, topic: &str, partitions: i32) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(view) = client.topic_metadata(&[topic]).await {
            let led = view.topics.get(topic).is_some_and(|t| {
                t.error.is_none()
                    && t.partitions.len() as i32 == partitions
                    && t.partitions.iter().all(|p| p.leader.is_some())
            });
            let mut serving = led;
            for partition in 0..partitions {
                if !serving {
                    break;
                }
                serving = matches!(fetch_attempt(client, topic, partition, 0).await, Ok(Ok(_)));
            }
            if serving {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{topic} has no leaders after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Produces `records` as one batch to `topic`/`partition` with a raw Produce request.
/// Returns the base offset the broker assigned.
pub async fn produce_batch(
    client: &Client,
    topic: &str,
    partition: i32,
    records: &[Record],
    compression: Compression,
) -> i64 {
    let mut b = BatchBuilder::new(0, records[0].timestamp);
    for r in records {
        b.push_record(r);
    }
    let batch = b.finish(compression, None).expect("the batch encodes");
    produce_bytes(client, topic, partition, batch).await
}

/// Produces already-encoded batch bytes.
pub async fn produce_bytes(client: &Client, topic: &str, partition: i32, batch: Bytes) -> i64 {
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.into())))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(batch))])]);
    let conn = client.connection(&Target::LeastLoaded).await.unwrap();
    // Topic ids replace names from Produce v13; names are what this helper sends.
    let version = conn.version_for::<ProduceRequest>(Some(12)).unwrap();
    // A new topic's leader may not serve it yet (NOT_LEADER_OR_FOLLOWER, 6, or
    // UNKNOWN_TOPIC_OR_PARTITION, 3): retry those for a while, as a producer would.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = conn
            .send_version(&request, version)
            .await
            .expect("produce answered");
        let p = &response.responses[0].partition_responses[0];
        if matches!(p.error_code, 3 | 6) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        assert_eq!(
            p.error_code, 0,
            "produce to {topic}/{partition} failed: {p:?}"
        );
        return p.base_offset;
    }
}

/// Fetches from `offset` and decodes every record returned.
pub async fn fetch_records(
    client: &Client,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Vec<Record> {
    fetch(client, topic, partition, offset).await.1
}

/// Fetches from `offset`: the partition's high watermark and the raw record-set bytes.
/// Uses the highest Fetch version both sides support, naming the topic by id from v13 on.
pub async fn fetch_raw(client: &Client, topic: &str, partition: i32, offset: i64) -> (i64, Bytes) {
    match fetch_attempt(client, topic, partition, offset).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(code)) => panic!("fetch from {topic}/{partition} failed with error code {code}"),
        Err(e) => panic!("fetch from {topic}/{partition} not answered: {e}"),
    }
}

/// One raw Fetch: the high watermark and record bytes, or the partition's error code.
async fn fetch_attempt(
    client: &Client,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<Result<(i64, Bytes), i16>, kafkit_client::Error> {
    let view = client.topic_metadata(&[topic]).await?;
    let topic_id = view.topics[topic].id;
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_max_bytes(16 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_string(topic.into())))
            .with_topic_id(topic_id)
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_current_leader_epoch(-1)
                .with_last_fetched_epoch(-1)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(8 << 20)])]);
    let response = client.send(&Target::LeastLoaded, &request).await?;
    let p = &response.responses[0].partitions[0];
    if p.error_code != 0 {
        return Ok(Err(p.error_code));
    }
    Ok(Ok((
        p.high_watermark,
        p.records.clone().unwrap_or_default(),
    )))
}

/// Fetches from `offset`: the partition's high watermark and the records returned.
pub async fn fetch(
    client: &Client,
    topic: &str,
    partition: i32,
    offset: i64,
) -> (i64, Vec<Record>) {
    let (high_watermark, bytes) = fetch_raw(client, topic, partition, offset).await;
    let mut out = Vec::new();
    for batch in BatchReader::new(bytes, DecodeOptions::default()) {
        let batch = batch.expect("the broker serves well-formed batches");
        for r in batch.records() {
            let r = r.expect("records decode");
            if r.offset >= offset {
                out.push(r);
            }
        }
    }
    (high_watermark, out)
}

/// A broker reachable only through a fault proxy (see the testkit).
#[allow(unused_imports)]
pub use kafkit_testkit::ProxiedBroker as Proxied;

/// A broker behind a fault proxy, a client of it, and a fresh topic there.
pub async fn proxied_topic(prefix: &str, partitions: i32) -> (Proxied, Client, String) {
    let p = Proxied::start(None).await;
    let client = Client::connect(config(&p.bootstrap())).await.unwrap();
    let name = topic(&client, prefix, partitions).await;
    (p, client, name)
}

/// Produces `n` records to `topic`/`partition`, one batch each (Tansu's ListOffsets(latest)
/// reports the last batch's base offset + 1, which is right only for one-record batches).
pub async fn produce_one_by_one(client: &Client, topic: &str, partition: i32, n: usize) {
    for i in 0..n {
        let record = Record {
            timestamp: now_ms(),
            value: Some(Bytes::from(format!("value-{i}"))),
            ..Default::default()
        };
        produce_batch(client, topic, partition, &[record], Compression::None).await;
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as i64
}

/// Asserts that `err` says the broker lacks `api`, naming it.
pub fn assert_unsupported(err: &kafkit_client::Error, api: kafkit_client::wire::messages::ApiKey) {
    assert!(
        matches!(err, kafkit_client::Error::UnsupportedVersion { api: a, .. } if *a == api),
        "expected UnsupportedVersion for {api:?}, got: {err}"
    );
    assert!(err.to_string().contains(&format!("{api:?}")), "{err}");
    assert!(!err.is_retriable(), "{err}");
}

/// Fetches every record of `topic`/`partition` from offset 0 up to its high watermark.
pub async fn fetch_all(client: &Client, topic: &str, partition: i32) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    loop {
        let next = out.last().map_or(0, |r| r.offset + 1);
        let (high_watermark, records) = fetch(client, topic, partition, next).await;
        if next >= high_watermark {
            return out;
        }
        assert!(
            !records.is_empty(),
            "fetch at {next} below the high watermark {high_watermark} returned nothing"
        );
        out.extend(records);
    }
}

/// A producer config for `bootstrap` with test timeouts.
pub fn producer_config(bootstrap: &str) -> kafkit_client::ProducerConfig {
    kafkit_client::ProducerConfig::new(config(bootstrap))
}

/// Sends the client's logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Writes `values` to `topic`/`partition`, 500 per Produce request. On Tansu, as one-record
/// batches (it serves fetches only from batch starts; see docs/TESTING.md); on Kafka, which
/// serves a fetch from inside a batch and takes one batch per partition and request, as one
/// batch.
pub async fn produce_single_record_batches(
    client: &Client,
    topic: &str,
    partition: i32,
    values: &[String],
) {
    for chunk in values.chunks(500) {
        let mut set = bytes::BytesMut::new();
        if kafkit_testkit::on_kafka() {
            let mut b = BatchBuilder::new(0, now_ms());
            for v in chunk {
                b.push(now_ms(), None, Some(v.as_bytes()), &[]);
            }
            set.extend_from_slice(&b.finish(Compression::None, None).unwrap());
        } else {
            for v in chunk {
                let mut b = BatchBuilder::new(0, now_ms());
                b.push(now_ms(), None, Some(v.as_bytes()), &[]);
                set.extend_from_slice(&b.finish(Compression::None, None).unwrap());
            }
        }
        produce_bytes(client, topic, partition, set.freeze()).await;
    }
}

/// Every record of `topic` (partitions `0..partitions`) from the beginning, read with
/// `isolation` until `quiet` passes with nothing new (at most 30 s).
pub async fn read_topic(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    isolation: kafkit_client::Isolation,
    quiet: Duration,
) -> Vec<kafkit_client::ConsumerRecord> {
    use kafkit_client::{Consumer, ConsumerConfig, Offset, TopicPartition};
    let consumer = Consumer::connect(
        ConsumerConfig::new(config(bootstrap))
            .isolation(isolation)
            .fetch_max_wait(Duration::from_millis(100)),
    )
    .await
    .expect("a consumer connects");
    let tps: Vec<TopicPartition> = (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    consumer.assign(&tps).await.expect("assign works");
    for tp in &tps {
        consumer.seek(tp, Offset::Beginning).expect("seek works");
    }
    let mut out = Vec::new();
    let mut last = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(30);
    while last.elapsed() < quiet && Instant::now() < deadline {
        let got = consumer
            .poll(Duration::from_millis(100))
            .await
            .expect("poll works");
        if !got.is_empty() {
            last = Instant::now();
        }
        out.extend(got);
    }
    out
}

/// The records' values as text ("" for null).
pub fn value_texts(records: &[kafkit_client::ConsumerRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect()
}
