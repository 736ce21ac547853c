//! Every producer option against a real broker.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use kafkit_client::{Acks, Error, NewTopic, Partitioner, Producer, ProducerConfig, ProducerRecord};
use kafkit_record::{BatchReader, Compression, DecodeOptions, RecordBatch};

fn bootstrap() -> String {
    kafkit_testkit::shared_broker()
}

/// Every batch stored in `topic`/`partition`.
async fn batches(client: &kafkit_client::Client, topic: &str, partition: i32) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let (hw, bytes) = fetch_raw(client, topic, partition, offset).await;
        if offset >= hw {
            return out;
        }
        for b in BatchReader::new(bytes, DecodeOptions::default()) {
            let b = b.unwrap();
            if b.header.base_offset >= offset {
                offset = b.header.next_offset();
                out.push(b);
            }
        }
    }
}

async fn send_n(producer: &Producer, topic: &str, n: usize, size: usize) {
    for i in 0..n {
        let mut value = format!("{i:08}").into_bytes();
        value.resize(size.max(8), b'.');
        producer
            .send(ProducerRecord::new(topic.to_string()).value(value))
            .await
            .unwrap();
    }
    producer.flush().await;
}

#[tokio::test]
async fn every_codec_with_a_level_round_trips() {
    let client = client().await;
    for (codec, level) in [
        (Compression::None, None),
        (Compression::Gzip, Some(9)),
        (Compression::Snappy, None),
        (Compression::Lz4, Some(1)),
        (Compression::Zstd, Some(19)),
    ] {
        let topic = topic(&client, &format!("p-codec-{}", codec.name()), 1).await;
        let producer = Producer::connect(producer_config(&bootstrap()).compression(codec, level))
            .await
            .unwrap();
        send_n(&producer, &topic, 2000, 100).await;
        let stored = batches(&client, &topic, 0).await;
        assert!(!stored.is_empty());
        for b in &stored {
            assert_eq!(b.header.compression, codec, "{codec:?}");
        }
        let values: Vec<_> = stored
            .iter()
            .flat_map(|b| b.collect_records().unwrap())
            .map(|r| r.value.unwrap())
            .collect();
        assert_eq!(values.len(), 2000, "{codec:?}");
        for (i, v) in values.iter().enumerate() {
            assert!(
                v.starts_with(format!("{i:08}").as_bytes()),
                "{codec:?} record {i}"
            );
        }
        if codec != Compression::None {
            let bytes: usize = stored.iter().map(|b| b.header.batch_length as usize).sum();
            assert!(
                bytes < 2000 * 100 / 2,
                "{codec:?} compressed to {bytes} bytes"
            );
        }
    }
}

#[tokio::test]
async fn acks_zero_one_and_all() {
    let client = client().await;
    // acks=0: no answer, so no offsets; the records still arrive.
    let topic0 = topic(&client, "p-acks0", 1).await;
    let p0 = Producer::connect(producer_config(&bootstrap()).acks(Acks::None))
        .await
        .unwrap();
    assert_eq!(p0.producer_id(), None, "acks=0 turns idempotence off");
    let d = p0
        .send_and_wait(ProducerRecord::new(topic0.clone()).value("zero"))
        .await
        .unwrap();
    assert!(!d.has_offset());
    // No ack to wait for: the record shows up shortly (bounded wait).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fetch_all(&client, &topic0, 0).await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the acks=0 record never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fetch_all(&client, &topic0, 0).await.len(), 1);

    // acks=1: offsets, no producer id in the batches.
    let topic1 = topic(&client, "p-acks1", 1).await;
    let p1 = Producer::connect(producer_config(&bootstrap()).acks(Acks::Leader))
        .await
        .unwrap();
    assert_eq!(p1.producer_id(), None);
    let d = p1
        .send_and_wait(ProducerRecord::new(topic1.clone()).value("one"))
        .await
        .unwrap();
    assert_eq!(d.offset, 0);
    assert_eq!(batches(&client, &topic1, 0).await[0].header.producer_id, -1);

    // acks=all (the default): idempotent, batches carry the producer id and sequences.
    let topic_all = topic(&client, "p-acksall", 1).await;
    let pall = Producer::connect(producer_config(&bootstrap()).batch_size(1000))
        .await
        .unwrap();
    let (id, epoch) = pall.producer_id().expect("idempotent by default");
    send_n(&pall, &topic_all, 50, 100).await;
    let stored = batches(&client, &topic_all, 0).await;
    assert!(stored.len() > 1);
    let mut expected_seq = 0;
    for b in &stored {
        assert_eq!((b.header.producer_id, b.header.producer_epoch), (id, epoch));
        assert_eq!(b.header.base_sequence, expected_seq);
        expected_seq += b.header.record_count;
    }

    // Idempotence cannot be forced with acks=1.
    let err = Producer::connect(
        producer_config(&bootstrap())
            .acks(Acks::Leader)
            .idempotence(true),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}

#[tokio::test]
async fn linger_gathers_records_into_one_batch() {
    let client = client().await;
    let topic = topic(&client, "p-linger", 1).await;
    let producer =
        Producer::connect(producer_config(&bootstrap()).linger(Duration::from_millis(500)))
            .await
            .unwrap();
    let mut ds = Vec::new();
    for i in 0..100 {
        ds.push(
            producer
                .send(ProducerRecord::new(topic.clone()).value(format!("{i}")))
                .await
                .unwrap(),
        );
    }
    for d in ds {
        d.await.unwrap();
    }
    let stored = batches(&client, &topic, 0).await;
    assert_eq!(
        stored.len(),
        1,
        "100 records within the linger make one batch"
    );
    assert_eq!(stored[0].header.record_count, 100);
}

#[tokio::test]
async fn batch_size_bounds_every_batch() {
    let client = client().await;
    let topic = topic(&client, "p-batchsize", 1).await;
    let producer = Producer::connect(
        producer_config(&bootstrap())
            .batch_size(2048)
            .linger(Duration::from_millis(50)),
    )
    .await
    .unwrap();
    send_n(&producer, &topic, 500, 100).await;
    let stored = batches(&client, &topic, 0).await;
    assert!(stored.len() >= 500 * 100 / 2048, "{} batches", stored.len());
    for b in &stored {
        assert!(
            b.header.batch_length as usize + 12 <= 2048,
            "{:?}",
            b.header
        );
    }
    let n: i32 = stored.iter().map(|b| b.header.record_count).sum();
    assert_eq!(n, 500);
}

#[tokio::test]
async fn a_record_over_max_request_size_is_refused_and_handed_back() {
    let client = client().await;
    let topic = topic(&client, "p-toolarge", 1).await;
    let producer = Producer::connect(producer_config(&bootstrap()).max_request_size(10_000))
        .await
        .unwrap();
    let record = ProducerRecord::new(topic.clone()).value(vec![0u8; 20_000]);
    let err = producer.send(record.clone()).await.unwrap_err();
    assert!(
        matches!(
            &err.error,
            Error::RecordTooLarge {
                setting: "max.request.size",
                ..
            }
        ),
        "{}",
        err.error
    );
    assert!(err.error.to_string().contains(&topic));
    assert_eq!(err.record, record);
}

#[tokio::test]
async fn one_mebibyte_records_round_trip() {
    let client = client().await;
    // Kafka refuses batches over the topic's max.message.bytes (1 MiB + 12 bytes by default).
    let topic = kafkit_testkit::unique_topic("p-1mib");
    client
        .admin()
        .create_topic(&NewTopic::new(&topic, 1).config("max.message.bytes", "4194304"))
        .await
        .unwrap();
    let producer = Producer::connect(
        producer_config(&bootstrap())
            .max_request_size(4 << 20)
            .buffer_memory(16 << 20),
    )
    .await
    .unwrap();
    let mut sent = Vec::new();
    let mut deliveries = Vec::new();
    for i in 0..5u8 {
        let value = Bytes::from(vec![i; 1 << 20]);
        sent.push(value.clone());
        deliveries.push(
            producer
                .send(ProducerRecord::new(topic.clone()).key(vec![i]).value(value))
                .await
                .unwrap(),
        );
    }
    for d in deliveries {
        d.await.unwrap();
    }
    let got = fetch_all(&client, &topic, 0).await;
    assert_eq!(got.len(), 5);
    for (r, v) in got.iter().zip(&sent) {
        assert_eq!(r.value.as_ref(), Some(v));
    }
}

#[tokio::test]
async fn partitions_explicit_keyed_sticky_and_custom() {
    let client = client().await;
    let topic = topic(&client, "p-parts", 6).await;
    let producer = Producer::connect(producer_config(&bootstrap()).batch_size(1000))
        .await
        .unwrap();
    // Explicit partition wins over the key.
    let d = producer
        .send_and_wait(
            ProducerRecord::new(topic.clone())
                .key("k")
                .value("v")
                .partition(4),
        )
        .await
        .unwrap();
    assert_eq!(d.partition, 4);
    // Keyed: the Java client's murmur2.
    for i in 0..200 {
        let key = format!("key-{i}");
        let d = producer
            .send(
                ProducerRecord::new(topic.clone())
                    .key(key.clone())
                    .value("v"),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(
            d.partition,
            kafkit_record::partition_for_key(key.as_bytes(), 6),
            "{key}"
        );
    }
    // Keyless: sticky to one partition per batch, moving on when a batch is sealed.
    let mut ds = Vec::new();
    for _ in 0..300 {
        ds.push(
            producer
                .send(ProducerRecord::new(topic.clone()).value(vec![b'x'; 100]))
                .await
                .unwrap(),
        );
    }
    let mut used = std::collections::BTreeSet::new();
    for d in ds {
        used.insert(d.await.unwrap().partition);
    }
    assert!(
        used.len() > 1,
        "keyless records spread over partitions: {used:?}"
    );
    // Out of range.
    let err = producer
        .send(ProducerRecord::new(topic.clone()).value("v").partition(6))
        .await
        .unwrap_err();
    assert!(
        err.error.to_string().contains("6 partitions"),
        "{}",
        err.error
    );

    // A custom partitioner decides first, and can defer to the default.
    struct Vip;
    impl Partitioner for Vip {
        fn partition(&self, _topic: &str, key: Option<&[u8]>, partitions: i32) -> Option<i32> {
            key.filter(|k| k.starts_with(b"vip-"))
                .map(|_| partitions - 1)
        }
    }
    let custom = Producer::connect(producer_config(&bootstrap()).partitioner(Arc::new(Vip)))
        .await
        .unwrap();
    let d = custom
        .send_and_wait(ProducerRecord::new(topic.clone()).key("vip-1").value("v"))
        .await
        .unwrap();
    assert_eq!(d.partition, 5);
    let d = custom
        .send_and_wait(ProducerRecord::new(topic.clone()).key("key-7").value("v"))
        .await
        .unwrap();
    assert_eq!(d.partition, kafkit_record::partition_for_key(b"key-7", 6));
}

#[tokio::test]
async fn unknown_topic_is_a_clear_error() {
    let producer =
        Producer::connect(producer_config(&bootstrap()).max_block(Duration::from_secs(5)))
            .await
            .unwrap();
    let err = producer
        .send(ProducerRecord::new("no-such-topic-kafkit").value("v"))
        .await
        .unwrap_err();
    assert!(
        err.error.to_string().contains("no-such-topic-kafkit"),
        "{}",
        err.error
    );
}

#[tokio::test]
async fn java_style_properties_configure_the_producer() {
    let client = client().await;
    let topic = topic(&client, "p-props", 1).await;
    let mut config = ProducerConfig::new(config(&bootstrap()));
    for (k, v) in [
        ("acks", "all"),
        ("linger.ms", "20"),
        ("batch.size", "4096"),
        ("compression.type", "zstd"),
        ("compression.level", "3"),
        ("enable.idempotence", "true"),
        ("delivery.timeout.ms", "30000"),
        ("client.id", "props-test"),
    ] {
        config = config.set(k, v).unwrap();
    }
    assert!(config.clone().set("no.such.property", "1").is_err());
    let producer = Producer::connect(config).await.unwrap();
    send_n(&producer, &topic, 200, 100).await;
    let stored = batches(&client, &topic, 0).await;
    assert!(stored
        .iter()
        .all(|b| b.header.compression == Compression::Zstd));
    assert!(stored.len() > 1);
}
