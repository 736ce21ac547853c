//! Emulated Kafka on the local file system: what Kafka does, and crash safety.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafkit_record::{partition_for_key, Header};
use kafkit_store::{
    ConsumerRecord, LocalStorage, NewRecord, ReadFrom, RecordReader, Storage, StoreError,
};

async fn read_all(store: &LocalStorage, topic: &str, from: ReadFrom) -> Vec<ConsumerRecord> {
    let mut reader = store.reader(topic, None, from, false).await.unwrap();
    let mut out = Vec::new();
    while let Some(batch) = reader.next_records().await.unwrap() {
        out.extend(batch);
    }
    out.sort_by_key(|r| (r.partition, r.offset));
    out
}

fn keyed(key: &str, value: &str) -> NewRecord {
    NewRecord::new(Some(key.to_string()), Some(value.to_string()))
}

#[tokio::test]
async fn records_keep_keys_values_headers_timestamps_and_partition_by_murmur2() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStorage::open(dir.path()).unwrap();
    store.create_topic("orders", 3, &[]).await.unwrap();
    assert!(matches!(
        store.create_topic("orders", 3, &[]).await,
        Err(StoreError::TopicExists(_))
    ));
    let mut special = NewRecord::new(None::<Bytes>, Some(Bytes::new()));
    special.headers = vec![
        Header::new("h", Some("1")),
        Header::new("h", Some("2")),
        Header::new("n", None::<Bytes>),
    ];
    special.timestamp = Some(1_700_000_000_123);
    special.partition = Some(2);
    let mut records: Vec<NewRecord> = (0..30).map(|i| keyed(&format!("k{i}"), "v")).collect();
    records.push(special);
    records.push(NewRecord::new(Some("gone"), None::<Bytes>));
    let placed = store.append("orders", records.clone()).await.unwrap();
    for (r, (p, _)) in records.iter().zip(&placed) {
        if let (Some(k), None) = (&r.key, r.partition) {
            assert_eq!(*p, partition_for_key(k, 3), "murmur2 like Kafka");
        }
    }
    let read = read_all(&store, "orders", ReadFrom::Beginning).await;
    assert_eq!(read.len(), 32);
    let back = read
        .iter()
        .find(|r| r.timestamp == 1_700_000_000_123)
        .unwrap();
    assert_eq!(back.partition, 2);
    assert_eq!(back.key, None);
    assert_eq!(back.value.as_deref(), Some(&b""[..]), "empty is not null");
    assert_eq!(
        back.headers, records[30].headers,
        "ordered, duplicates and null kept"
    );
    let tomb = read
        .iter()
        .find(|r| r.key.as_deref() == Some(b"gone"))
        .unwrap();
    assert_eq!(tomb.value, None);

    let marks = store.watermarks("orders").await.unwrap();
    assert_eq!(marks.values().map(|(l, h)| h - l).sum::<i64>(), 32);
    let last = read_all(&store, "orders", ReadFrom::Last(1)).await;
    assert_eq!(last.len(), 3, "the last record of each partition");
    store.create_topic("times", 1, &[]).await.unwrap();
    for batch in [[10, 20], [30, 25]] {
        let records = batch
            .iter()
            .map(|&ts| NewRecord {
                timestamp: Some(ts),
                ..keyed("k", "v")
            })
            .collect();
        store.append("times", records).await.unwrap();
    }
    for (ts, expected) in [
        (0, Some(0)),
        (15, Some(1)),
        (21, Some(2)),
        (30, Some(2)),
        (31, None),
    ] {
        let found = store.offsets_for_times("times", ts).await.unwrap();
        assert_eq!(found[&0], expected, "first offset at or after {ts}");
    }
    let from = read_all(&store, "times", ReadFrom::Timestamp(21)).await;
    assert_eq!(from.iter().map(|r| r.offset).collect::<Vec<_>>(), [2, 3]);

    let listed = store.list_topics().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].name, "orders");
    assert_eq!(listed[0].records, 32);
    assert!(listed[0].size_bytes.unwrap() > 0);

    let offsets = BTreeMap::from([("orders".to_string(), BTreeMap::from([(0, 5), (1, 2)]))]);
    store.commit("billing", &offsets).await.unwrap();
    assert_eq!(store.list_groups().await.unwrap(), vec!["billing"]);
    assert_eq!(store.group_offsets("billing").await.unwrap(), offsets);
    store.delete_group("billing").await.unwrap();
    assert!(store.list_groups().await.unwrap().is_empty());

    store.delete_topic("orders").await.unwrap();
    assert!(!store.exists("orders").await.unwrap());
    assert!(matches!(
        store.watermarks("orders").await,
        Err(StoreError::UnknownTopic(_))
    ));
    assert!(matches!(
        store.create_topic("../escape", 1, &[]).await,
        Err(StoreError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_torn_tail_is_cut_and_nothing_acknowledged_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = LocalStorage::open(dir.path()).unwrap();
        store.create_topic("t", 1, &[]).await.unwrap();
        for i in 0..3 {
            store
                .append("t", vec![keyed("k", &format!("v{i}")), keyed("k", "w")])
                .await
                .unwrap();
        }
    }
    let pdir = dir.path().join("topics/t/0");
    let log = pdir.join("00000000000000000000.log");
    let idx = pdir.join("00000000000000000000.idx");
    let good_len = std::fs::metadata(&log).unwrap().len();
    // A crash mid-append: half a batch in the log, half an index entry, and the index missing
    // the last whole batch.
    let mut bytes = std::fs::read(&log).unwrap();
    let whole = bytes.clone();
    bytes.extend_from_slice(&whole[..40]);
    std::fs::write(&log, &bytes).unwrap();
    let mut index = std::fs::read(&idx).unwrap();
    index.truncate(32 * 2 + 10);
    std::fs::write(&idx, &index).unwrap();

    // Readers trust only whole index entries: they see two batches until recovery.
    let store = LocalStorage::open(dir.path()).unwrap();
    assert_eq!(read_all(&store, "t", ReadFrom::Beginning).await.len(), 4);
    // A writer recovers: the third batch is indexed again, the torn bytes are cut.
    let placed = store.append("t", vec![keyed("k", "after")]).await.unwrap();
    assert_eq!(placed, vec![(0, 6)]);
    let after = std::fs::read(&log).unwrap();
    assert_eq!(
        &after[..good_len as usize],
        &whole[..],
        "acknowledged batches untouched"
    );
    assert_ne!(
        &after[good_len as usize..good_len as usize + 40],
        &whole[..40],
        "torn bytes cut"
    );
    let read = read_all(&store, "t", ReadFrom::Beginning).await;
    let values: Vec<_> = read
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(values, ["v0", "w", "v1", "w", "v2", "w", "after"]);
    assert_eq!(
        read.iter().map(|r| r.offset).collect::<Vec<_>>(),
        (0..7).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_following_reader_sees_records_appended_while_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStorage::open(dir.path()).unwrap();
    store.create_topic("live", 2, &[]).await.unwrap();
    store.append("live", vec![keyed("a", "1")]).await.unwrap();
    let mut reader = store
        .reader("live", None, ReadFrom::Beginning, true)
        .await
        .unwrap();
    let first = reader.next_records().await.unwrap().unwrap();
    assert_eq!(first.len(), 1);
    let writer = store.clone();
    let appended = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        writer.append("live", vec![keyed("b", "2")]).await.unwrap()
    });
    let next = tokio::time::timeout(std::time::Duration::from_secs(5), reader.next_records())
        .await
        .expect("the follower sees the new record")
        .unwrap()
        .unwrap();
    assert_eq!(next[0].key.as_deref(), Some(&b"b"[..]));
    appended.await.unwrap();
}

#[tokio::test]
async fn segments_roll_at_segment_bytes_and_read_as_one_log() {
    let dir = tempfile::tempdir().unwrap();
    let config = [("segment.bytes".to_string(), "300".to_string())];
    {
        let store = LocalStorage::open(dir.path()).unwrap();
        store.create_topic("rolled", 1, &config).await.unwrap();
        for i in 0..20 {
            let mut r = keyed("k", &format!("value-{i:02}-{}", "x".repeat(40)));
            r.timestamp = Some(1000 + i);
            store.append("rolled", vec![r]).await.unwrap();
        }
    }
    let logs = std::fs::read_dir(dir.path().join("topics/rolled/0"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        })
        .count();
    assert!(logs >= 4, "segments rolled: {logs}");
    // A new process continues the last segment at the right offset.
    let store = LocalStorage::open(dir.path()).unwrap();
    assert_eq!(
        store
            .append("rolled", vec![keyed("k", "last")])
            .await
            .unwrap(),
        vec![(0, 20)]
    );
    let read = read_all(&store, "rolled", ReadFrom::Beginning).await;
    assert_eq!(
        read.iter().map(|r| r.offset).collect::<Vec<_>>(),
        (0..21).collect::<Vec<_>>()
    );
    assert_eq!(store.watermarks("rolled").await.unwrap()[&0], (0, 21));
    let found = store.offsets_for_times("rolled", 1015).await.unwrap();
    assert_eq!(found[&0], Some(15), "found in a later segment");
    let from = read_all(&store, "rolled", ReadFrom::Offset(13)).await;
    assert_eq!(from.first().map(|r| r.offset), Some(13));
    assert_eq!(from.len(), 8);
}

#[tokio::test]
async fn delete_records_moves_the_low_watermark_and_drops_whole_segments() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStorage::open(dir.path()).unwrap();
    // Tiny segments: every append of 10 records rolls a new one.
    let configs = [("segment.bytes".to_string(), "200".to_string())];
    store.create_topic("t", 1, &configs).await.unwrap();
    for round in 0..5 {
        let batch = (0..10)
            .map(|i| {
                let mut r = keyed(&format!("k{i}"), &format!("value {round}-{i}"));
                r.partition = Some(0);
                r.timestamp = Some(1_000 * round + i);
                r
            })
            .collect();
        store.append("t", batch).await.unwrap();
    }
    let segments = |d: &std::path::Path| {
        std::fs::read_dir(d.join("topics/t/0"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension() == Some("log".as_ref()))
            .count()
    };
    assert_eq!(segments(dir.path()), 5);
    // A reader opened before the deletion goes on from the new start, as a Kafka consumer
    // resets.
    let mut early = store
        .reader("t", None, ReadFrom::Beginning, false)
        .await
        .unwrap();

    let lows = store
        .delete_records("t", &BTreeMap::from([(0, 25)]))
        .await
        .unwrap();
    assert_eq!(lows, BTreeMap::from([(0, 25)]));
    assert_eq!(store.watermarks("t").await.unwrap()[&0], (25, 50));
    assert_eq!(segments(dir.path()), 3, "segments below offset 20 are gone");
    let read = read_all(&store, "t", ReadFrom::Beginning).await;
    assert_eq!(
        read.first().map(|r| r.offset),
        Some(25),
        "mid-segment start"
    );
    assert_eq!(read.len(), 25);
    let mut early_read = Vec::new();
    while let Some(batch) = early.next_records().await.unwrap() {
        early_read.extend(batch.into_iter().map(|r| r.offset));
    }
    assert_eq!(early_read, (25..50).collect::<Vec<_>>());
    // Offsets for a time before the start answer the first kept record.
    assert_eq!(store.offsets_for_times("t", 0).await.unwrap()[&0], Some(25));
    // Never backwards; -1 means the high watermark; past it is an error naming the partition.
    let lows = store
        .delete_records("t", &BTreeMap::from([(0, 10)]))
        .await
        .unwrap();
    assert_eq!(lows[&0], 25);
    let err = store
        .delete_records("t", &BTreeMap::from([(0, 51)]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("partition 0"), "{err}");
    store
        .delete_records("t", &BTreeMap::from([(0, -1)]))
        .await
        .unwrap();
    assert_eq!(store.watermarks("t").await.unwrap()[&0], (50, 50));
    assert!(read_all(&store, "t", ReadFrom::Beginning).await.is_empty());
    // Appends go on after the last offset, and survive reopening.
    store.append("t", vec![keyed("k", "after")]).await.unwrap();
    let reopened = LocalStorage::open(dir.path()).unwrap();
    assert_eq!(reopened.watermarks("t").await.unwrap()[&0], (50, 51));
}

#[tokio::test]
async fn partitions_grow_configs_change_and_groups_describe() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStorage::open(dir.path()).unwrap();
    let configs = [("retention.ms".to_string(), "1000".to_string())];
    store.create_topic("t", 2, &configs).await.unwrap();
    store.set_partitions("t", 4).await.unwrap();
    assert_eq!(store.partitions("t").await.unwrap(), 4);
    let err = store.set_partitions("t", 3).await.unwrap_err();
    assert!(err.to_string().contains("cannot shrink"), "{err}");
    let placed = store
        .append(
            "t",
            vec![keyed("a", "1")]
                .into_iter()
                .map(|mut r| {
                    r.partition = Some(3);
                    r
                })
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(placed, vec![(3, 0)]);

    store
        .alter_topic_configs(
            "t",
            &[
                ("cleanup.policy".into(), Some("compact".into())),
                ("retention.ms".into(), None),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        store.topic_configs("t", false).await.unwrap(),
        BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())])
    );

    assert_eq!(store.describe_group("g").await.unwrap().state, "Dead");
    store
        .commit(
            "g",
            &BTreeMap::from([("t".to_string(), BTreeMap::from([(3, 1)]))]),
        )
        .await
        .unwrap();
    let g = store.describe_group("g").await.unwrap();
    assert_eq!((g.state.as_str(), g.members.len()), ("Empty", 0));
    store.delete_group("g").await.unwrap();
    let err = store.delete_group("g").await.unwrap_err();
    assert!(err.to_string().contains("'g' does not exist"), "{err}");
}

#[tokio::test]
async fn batches_append_as_given_keeping_their_offsets_and_bytes() {
    use kafkit_record::{BatchBuilder, Compression, DecodeOptions, RecordBatch};
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStorage::open(dir.path()).unwrap();
    store.create_topic("t", 1, &[]).await.unwrap();
    let batch = |base: i64, n: usize| {
        let mut b = BatchBuilder::new(base, 1_700_000_000_000);
        for i in 0..n {
            b.push(
                1_700_000_000_000 + i as i64,
                Some(b"k"),
                Some(format!("v{}", base + i as i64).as_bytes()),
                &[],
            );
        }
        let bytes = b.finish(Compression::Zstd, None).unwrap();
        RecordBatch::decode(&bytes, &DecodeOptions::default()).unwrap()
    };
    // A backup of a compacted or trimmed log: it starts at 100, with a gap at 103..110.
    let batches = [batch(100, 3), batch(110, 2)];
    store.append_batches("t", 0, &batches).await.unwrap();
    assert_eq!(store.watermarks("t").await.unwrap()[&0], (100, 112));
    let offsets: Vec<i64> = read_all(&store, "t", ReadFrom::Beginning)
        .await
        .iter()
        .map(|r| r.offset)
        .collect();
    assert_eq!(offsets, vec![100, 101, 102, 110, 111]);
    let log = std::fs::read(dir.path().join("topics/t/0/00000000000000000000.log")).unwrap();
    let expected: Vec<u8> = batches.iter().flat_map(|b| b.raw().to_vec()).collect();
    assert_eq!(log, expected, "byte for byte, compressed as given");
    let err = store
        .append_batches("t", 0, &[batch(105, 1)])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("cannot follow offset 111"),
        "{err}"
    );
    // Record appends go on after the last batch.
    let placed = store.append("t", vec![keyed("k", "after")]).await.unwrap();
    assert_eq!(placed, vec![(0, 112)]);
}
