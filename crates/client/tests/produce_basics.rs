//! The producer against a real broker: what goes in comes back out, exactly.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use kafkit_client::{Producer, ProducerRecord};
use kafkit_record::Header;

#[tokio::test]
async fn records_round_trip_with_keys_values_headers_and_timestamps() {
    let client = client().await;
    let topic = topic(&client, "p-roundtrip", 1).await;
    let producer = Producer::connect(producer_config(&kafkit_testkit::shared_broker()))
        .await
        .unwrap();
    let ts = 1_700_000_000_123;
    let records = vec![
        ProducerRecord::new(topic.clone())
            .key("k1")
            .value("v1")
            .timestamp(ts),
        // empty value is data; no value is a tombstone
        ProducerRecord::new(topic.clone())
            .key("k2")
            .value(Bytes::new())
            .timestamp(ts + 1),
        ProducerRecord::new(topic.clone())
            .key("k3")
            .timestamp(ts + 2),
        // duplicate header keys survive, in order, with a null header value
        ProducerRecord::new(topic.clone())
            .value("h")
            .header("dup", "first")
            .header("dup", "second")
            .null_header("nil")
            .header("", "")
            .timestamp(ts + 3),
    ];
    let mut deliveries = Vec::new();
    for r in records.clone() {
        deliveries.push(producer.send(r).await.unwrap());
    }
    for (i, d) in deliveries.into_iter().enumerate() {
        let d = d.await.unwrap();
        assert_eq!(
            (&*d.topic, d.partition, d.offset),
            (topic.as_str(), 0, i as i64)
        );
        assert_eq!(d.timestamp, ts + i as i64);
    }
    let got = fetch_all(&client, &topic, 0).await;
    assert_eq!(got.len(), 4);
    for (sent, got) in records.iter().zip(&got) {
        assert_eq!(got.key, sent.key);
        assert_eq!(got.value, sent.value);
        assert_eq!(got.headers, sent.headers);
        assert_eq!(Some(got.timestamp), sent.timestamp);
    }
    assert_eq!(got[1].value, Some(Bytes::new()));
    assert_eq!(got[2].value, None);
    assert_eq!(
        got[3].headers,
        vec![
            Header::new("dup", Some("first")),
            Header::new("dup", Some("second")),
            Header {
                key: "nil".into(),
                value: None
            },
            Header::new("", Some("")),
        ]
    );
    let m = producer.metrics();
    assert_eq!(m.records_sent, 4);
    assert_eq!(m.queued_records, 0);
    producer.close(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn many_records_arrive_once_and_in_order() {
    let client = client().await;
    let topic = topic(&client, "p-order", 1).await;
    let producer =
        Producer::connect(producer_config(&kafkit_testkit::shared_broker()).batch_size(16 * 1024))
            .await
            .unwrap();
    let n = 20_000;
    let mut last = None;
    for i in 0..n {
        let d = producer
            .send(ProducerRecord::new(topic.clone()).value(format!("{i:08}")))
            .await
            .unwrap();
        last = Some(d);
    }
    producer.flush().await;
    let last = last
        .unwrap()
        .try_result()
        .expect("flush waits for everything")
        .unwrap();
    assert_eq!(last.offset, n - 1);
    let got = fetch_all(&client, &topic, 0).await;
    assert_eq!(got.len() as i64, n);
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.offset, i as i64);
        assert_eq!(r.value.as_deref(), Some(format!("{i:08}").as_bytes()));
    }
    let m = producer.metrics();
    assert_eq!(m.records_sent, n as u64);
    assert!(m.batches_sent > 10, "{m:?}");
}
