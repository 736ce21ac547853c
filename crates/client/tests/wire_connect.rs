//! The wire layer against a real broker: handshake, versions, cluster view, low-level
//! requests, pipelining, and the record codec through the broker.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafkit_client::wire::messages::{
    ApiKey, BrokerHeartbeatRequest, CreatePartitionsRequest, DescribeClusterRequest,
};
use kafkit_client::{Client, Error, Target};
use kafkit_record::{Compression, Header, Record};

#[tokio::test]
async fn connects_and_learns_versions() {
    let client = common::client().await;
    let versions = client.api_versions(&Target::LeastLoaded).await.unwrap();
    let metadata = versions
        .range(ApiKey::Metadata)
        .expect("brokers support Metadata");
    assert!(metadata.max >= 9, "{metadata:?}");
    assert!(versions.range(ApiKey::Produce).is_some());
    // The connection picks the highest version both sides know.
    let conn = client.connection(&Target::LeastLoaded).await.unwrap();
    let v = conn
        .version_for::<kafkit_client::wire::messages::MetadataRequest>(None)
        .unwrap();
    assert_eq!(v, metadata.max.min(13));
}

#[tokio::test]
async fn cluster_view_lists_brokers_topics_and_leaders() {
    let client = common::client().await;
    let topic = common::topic(&client, "view", 3).await;
    let view = client.refresh_metadata().await.unwrap();
    assert_eq!(view.brokers.len(), 1);
    let (id, broker) = view.brokers.iter().next().unwrap();
    assert_eq!(broker.address(), kafkit_testkit::shared_broker());
    assert_eq!(view.controller, Some(*id));
    let info = view.topic(&topic).expect("the new topic is in the view");
    assert_eq!(info.partitions.len(), 3);
    for (i, p) in info.partitions.iter().enumerate() {
        assert_eq!(p.id, i as i32);
        assert_eq!(p.leader, Some(*id));
        assert!(p.replicas.contains(id));
        assert!(p.isr.contains(id));
    }
    assert_eq!(view.leader(&topic, 2).unwrap().id, *id);
}

#[tokio::test]
async fn any_request_can_be_sent_low_level() {
    let client = common::client().await;
    let response = client
        .send(&Target::LeastLoaded, &DescribeClusterRequest::default())
        .await
        .unwrap();
    assert_eq!(response.error_code, 0);
    assert_eq!(response.brokers.len(), 1);
    let id = response.brokers[0].broker_id.0;
    // Target a broker by id too.
    let again = client
        .send(&Target::Broker(id), &DescribeClusterRequest::default())
        .await
        .unwrap();
    assert_eq!(again.brokers[0].broker_id.0, id);
}

#[tokio::test]
async fn an_api_the_broker_lacks_is_a_clear_error() {
    let client = common::client().await;
    if kafkit_testkit::on_kafka() {
        // A controller-only API: brokers do not serve it to clients.
        let err = client
            .send(&Target::LeastLoaded, &BrokerHeartbeatRequest::default())
            .await
            .unwrap_err();
        common::assert_unsupported(&err, ApiKey::BrokerHeartbeat);
    } else {
        // Tansu 0.6.0 does not route CreatePartitions.
        let err = client
            .send(&Target::LeastLoaded, &CreatePartitionsRequest::default())
            .await
            .unwrap_err();
        common::assert_unsupported(&err, ApiKey::CreatePartitions);
    }
}

#[tokio::test]
async fn unknown_broker_id_is_named() {
    let client = common::client().await;
    let err = client.connection(&Target::Broker(4242)).await.unwrap_err();
    assert!(err.to_string().contains("4242"), "{err}");
}

#[tokio::test]
async fn many_concurrent_requests_share_one_connection() {
    let bootstrap = kafkit_testkit::shared_broker();
    let client = Client::connect(common::config(&bootstrap).max_in_flight(4))
        .await
        .unwrap();
    let first = client.connection(&Target::LeastLoaded).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            c.send(&Target::LeastLoaded, &DescribeClusterRequest::default())
                .await
                .map(|r| r.brokers.len())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 1);
    }
    let after = client.connection(&Target::LeastLoaded).await.unwrap();
    assert!(
        Arc::ptr_eq(&first, &after),
        "a second connection was opened"
    );
    assert_eq!(after.in_flight(), 0);
}

fn sample(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| Record {
            offset: i as i64,
            timestamp: 1_700_000_000_000 + i as i64,
            key: (i % 3 != 0).then(|| Bytes::from(format!("key-{i}"))),
            value: match i % 5 {
                0 => None,
                1 => Some(Bytes::new()),
                _ => Some(Bytes::from(vec![b'x'; i * 7])),
            },
            headers: vec![Header::new("dup", Some("1")), Header::new("dup", Some("2"))],
        })
        .collect()
}

#[tokio::test]
async fn batches_round_trip_through_the_broker_with_every_codec() {
    let client = common::client().await;
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let topic = common::topic(&client, codec.name(), 1).await;
        let records = sample(50);
        let base = common::produce_batch(&client, &topic, 0, &records, codec).await;
        assert_eq!(base, 0);
        let back = common::fetch_records(&client, &topic, 0, 0).await;
        assert_eq!(back.len(), records.len(), "{codec:?}");
        for (a, b) in records.iter().zip(&back) {
            assert_eq!(a.offset, b.offset);
            assert_eq!(a.key, b.key, "{codec:?} offset {}", a.offset);
            assert_eq!(a.value, b.value, "{codec:?} offset {}", a.offset);
            assert_eq!(a.headers, b.headers, "{codec:?}");
            assert_eq!(a.timestamp, b.timestamp, "{codec:?}");
        }
    }
}

#[tokio::test]
async fn unreachable_bootstrap_fails_within_the_timeout() {
    let port = kafkit_testkit::free_port(); // nothing listens here
    let start = Instant::now();
    let err = Client::connect(common::config(&format!("127.0.0.1:{port}")).retries(1))
        .await
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(6));
    assert!(matches!(err, Error::NoBrokers(_)), "{err}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    assert!(err.to_string().contains("cannot connect"), "{err}");
}

#[tokio::test]
async fn bootstrap_falls_through_to_a_working_address() {
    let dead = format!("127.0.0.1:{}", kafkit_testkit::free_port());
    let config = kafkit_client::ClientConfig::new([dead, kafkit_testkit::shared_broker()]);
    let client = Client::connect(config).await.unwrap();
    assert_eq!(client.cached_view().brokers.len(), 1);
}

#[tokio::test]
async fn a_port_that_is_not_kafka_is_a_clear_error() {
    // Something that accepts and answers garbage: a plain HTTP-ish responder.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            use tokio::io::AsyncWriteExt;
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    let start = Instant::now();
    let err = Client::connect(common::config(&addr).retries(1))
        .await
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(6));
    assert!(err.to_string().contains(&addr), "{err}");
}

#[tokio::test]
async fn periodic_refresh_picks_up_new_topics() {
    let bootstrap = kafkit_testkit::shared_broker();
    let client =
        Client::connect(common::config(&bootstrap).metadata_max_age(Duration::from_millis(300)))
            .await
            .unwrap();
    let other = common::client().await;
    let topic = common::topic(&other, "periodic", 1).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.cached_view().topic(&topic).is_none() {
        assert!(
            Instant::now() < deadline,
            "the background refresh never saw {topic}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
