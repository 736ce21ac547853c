//! Admin: watermarks, offsets by timestamp, delete records.

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use kafkit_client::{Error, OffsetSpec};
use kafkit_record::{Compression, Record};

fn records(n: usize, ts0: i64) -> Vec<Record> {
    (0..n)
        .map(|i| Record {
            offset: i as i64,
            timestamp: ts0 + i as i64 * 1000,
            key: None,
            value: Some(Bytes::from(format!("v{i}"))),
            headers: vec![],
        })
        .collect()
}

#[tokio::test]
async fn watermarks_follow_produced_records() {
    let client = common::client().await;
    let topic = common::topic(&client, "marks", 2).await;
    let admin = client.admin();
    let empty = admin.watermarks(&topic).await.unwrap();
    assert_eq!(empty, BTreeMap::from([(0, (0, 0)), (1, (0, 0))]));

    common::produce_batch(
        &client,
        &topic,
        0,
        &records(7, 1_700_000_000_000),
        Compression::None,
    )
    .await;
    common::produce_batch(
        &client,
        &topic,
        1,
        &records(3, 1_700_000_000_000),
        Compression::Lz4,
    )
    .await;
    common::produce_batch(
        &client,
        &topic,
        1,
        &records(2, 1_700_000_000_000),
        Compression::None,
    )
    .await;
    let marks = admin.watermarks(&topic).await.unwrap();
    assert_eq!(marks, BTreeMap::from([(0, (0, 7)), (1, (0, 5))]));

    let latest = admin
        .list_offsets(&topic, &[1], OffsetSpec::Latest)
        .await
        .unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[&1].offset, 5);
}

#[tokio::test]
async fn offsets_for_times() {
    let client = common::client().await;
    let topic = common::topic(&client, "times", 1).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    common::produce_batch(
        &client,
        &topic,
        0,
        &records(5, now - 10_000),
        Compression::None,
    )
    .await;
    let admin = client.admin();
    // A time before everything finds the first record; one far in the future finds none.
    let early = admin
        .list_offsets(&topic, &[], OffsetSpec::Timestamp(now - 3_600_000))
        .await
        .unwrap();
    assert_eq!(early[&0].offset, 0);
    let late = admin
        .list_offsets(&topic, &[], OffsetSpec::Timestamp(now + 3_600_000))
        .await
        .unwrap();
    assert!(
        late[&0].offset == -1 || late[&0].offset == 5,
        "{:?}",
        late[&0]
    );
}

#[tokio::test]
async fn unknown_topic_offsets_name_the_topic() {
    let client = common::client().await;
    let err = client
        .admin()
        .list_offsets("no-such-topic-xyz", &[], OffsetSpec::Latest)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no-such-topic-xyz"), "{err}");
}

#[tokio::test]
async fn delete_records_on_tansu_memory_storage_is_a_clear_error() {
    // Tansu 0.6.0's memory storage panics on DeleteRecords and drops the connection; kafkit
    // must report that as an error naming the API, within the timeout, not hang.
    let client =
        kafkit_client::Client::connect(common::config(&kafkit_testkit::shared_broker()).retries(1))
            .await
            .unwrap();
    let topic = common::topic(&client, "delrec", 1).await;
    common::produce_batch(
        &client,
        &topic,
        0,
        &records(4, 1_700_000_000_000),
        Compression::None,
    )
    .await;
    let err = client
        .admin()
        .delete_records(&topic, &BTreeMap::from([(0, 2)]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Disconnected { .. }), "{err}");
    assert!(err.to_string().contains("DeleteRecords"), "{err}");
}
