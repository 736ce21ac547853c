//! The object storage against real servers: moto_server for S3 and Azurite for Azure Blob
//! Storage, started by the test kit.

use std::collections::BTreeMap;

use kafkit_store::{
    AzureLocation, NewRecord, ObjectStorage, ReadFrom, RecordReader, S3Location, Storage,
    StoreError,
};
use kafkit_testkit::{ObjectServer, ObjectServerKind, MOTO_ACCESS_KEY, MOTO_SECRET_KEY};

fn s3(prefix: &str) -> ObjectStorage {
    let server = ObjectServer::shared(ObjectServerKind::S3);
    server.create_container("kafkit-tests");
    let at = S3Location::new("kafkit-tests", prefix)
        .endpoint(server.endpoint())
        .credentials(MOTO_ACCESS_KEY, MOTO_SECRET_KEY);
    ObjectStorage::s3(&at).unwrap()
}

fn azure(prefix: &str) -> ObjectStorage {
    let server = ObjectServer::shared(ObjectServerKind::Azure);
    server.create_container("kafkit-tests");
    let at =
        AzureLocation::new("kafkit-tests", prefix).connection_string(server.connection_string());
    ObjectStorage::azure(&at).unwrap()
}

async fn values(store: &ObjectStorage, topic: &str) -> Vec<(i32, i64, String)> {
    let mut reader = store
        .reader(topic, None, ReadFrom::Beginning, false)
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(records) = reader.next_records().await.unwrap() {
        out.extend(records.into_iter().map(|r| {
            let v = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).to_string();
            (r.partition, r.offset, v)
        }));
    }
    out.sort();
    out
}

/// What every object store must do: topics, records, conditional switches between two
/// writers, groups, deletes.
async fn exercise(store: ObjectStorage) {
    let topic = kafkit_testkit::unique_topic("objects");
    store.create_topic(&topic, 2, &[]).await.unwrap();
    assert!(matches!(
        store.create_topic(&topic, 2, &[]).await,
        Err(StoreError::TopicExists(_))
    ));
    let records: Vec<NewRecord> = (0..50)
        .map(|i| NewRecord::new(Some(format!("k{i}")), Some(format!("v{i}"))))
        .collect();
    store.append(&topic, records).await.unwrap();
    assert_eq!(values(&store, &topic).await.len(), 50);

    // Two writers, each with a stale idea of the end in turn: the real server refuses the
    // stale switch (If-Match), and the writer goes on at the new end.
    let other = store.another_writer();
    let to0 = |v: &str| {
        let mut r = NewRecord::new(Some("k"), Some(v.to_string()));
        r.partition = Some(0);
        r
    };
    let a = store.append(&topic, vec![to0("a")]).await.unwrap()[0].1;
    let b = other.append(&topic, vec![to0("b")]).await.unwrap()[0].1;
    let c = store.append(&topic, vec![to0("c")]).await.unwrap()[0].1;
    assert_eq!((b, c), (a + 1, a + 2));
    let (x, y) = tokio::join!(
        store.append(&topic, vec![to0("x")]),
        other.append(&topic, vec![to0("y")])
    );
    let (x, y) = (x.unwrap()[0].1, y.unwrap()[0].1);
    assert_ne!(x, y);
    let all = values(&store, &topic).await;
    assert_eq!(all.len(), 55);
    let p0: Vec<i64> = all.iter().filter(|r| r.0 == 0).map(|r| r.1).collect();
    assert_eq!(
        p0,
        (0..p0.len() as i64).collect::<Vec<_>>(),
        "no gaps, no repeats"
    );

    let marks = store.watermarks(&topic).await.unwrap();
    assert_eq!(marks.values().map(|(l, h)| h - l).sum::<i64>(), 55);
    store
        .commit(
            "g",
            &BTreeMap::from([(topic.clone(), BTreeMap::from([(0, 3)]))]),
        )
        .await
        .unwrap();
    assert_eq!(store.group_offsets("g").await.unwrap()[&topic][&0], 3);
    assert!(store
        .list_groups()
        .await
        .unwrap()
        .contains(&"g".to_string()));
    let low = store
        .delete_records(&topic, &BTreeMap::from([(0, -1)]))
        .await
        .unwrap();
    assert_eq!(low[&0], marks[&0].1);
    assert!(store
        .list_topics()
        .await
        .unwrap()
        .iter()
        .any(|t| t.name == topic));
    store.delete_topic(&topic).await.unwrap();
    assert!(!store.exists(&topic).await.unwrap());
}

#[tokio::test]
async fn s3_on_moto_server() {
    exercise(s3("exercise")).await;
}

#[tokio::test]
async fn azure_blob_on_azurite() {
    exercise(azure("exercise")).await;
}

#[tokio::test]
async fn a_missing_bucket_is_named_in_one_line() {
    let server = ObjectServer::shared(ObjectServerKind::S3);
    let at = S3Location::new("no-such-bucket", "")
        .endpoint(server.endpoint())
        .credentials(MOTO_ACCESS_KEY, MOTO_SECRET_KEY);
    let store = ObjectStorage::s3(&at).unwrap();
    let e = store
        .create_topic("t", 1, &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("s3:no-such-bucket"), "{e}");
    assert!(!e.contains('\n'), "{e}");
}
