//! Emulated Kafka on an object store, on object_store's in-memory store (the same code runs on
//! S3 and Azure Blob; `object_servers.rs` runs it against moto_server and Azurite).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::TryStreamExt;
use kafkit_store::{
    GroupRead, NewRecord, ObjectStorage, ReadFrom, RecordReader, Storage, StoreError,
};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

fn storage() -> (ObjectStorage, Arc<InMemory>) {
    let mem = Arc::new(InMemory::new());
    let store = ObjectStorage::new(mem.clone(), "backups/prod", "memory:backups/prod");
    (store, mem)
}

async fn objects(mem: &InMemory, under: &str) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = mem
        .list(Some(&Path::from(under)))
        .map_ok(|m| (m.location.to_string(), m.size))
        .try_collect()
        .await
        .unwrap();
    out.sort();
    out
}

/// Every record as (partition, offset, key, value), in read order per partition.
async fn read_all(store: &ObjectStorage, topic: &str) -> Vec<(i32, i64, String, String)> {
    let mut reader = store
        .reader(topic, None, ReadFrom::Beginning, false)
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(records) = reader.next_records().await.unwrap() {
        for r in records {
            let text = |b: &Option<Bytes>| {
                b.as_ref()
                    .map_or("null".into(), |b| String::from_utf8_lossy(b).to_string())
            };
            out.push((r.partition, r.offset, text(&r.key), text(&r.value)));
        }
    }
    out.sort();
    out
}

fn keyed(k: &str, v: &str) -> NewRecord {
    NewRecord::new(Some(k.to_string()), Some(v.to_string()))
}

#[tokio::test]
async fn topics_records_watermarks_and_times_work_as_on_local_files() {
    let (store, mem) = storage();
    store
        .create_topic("orders", 3, &[("retention.ms".into(), "1000".into())])
        .await
        .unwrap();
    assert!(store.exists("orders").await.unwrap());
    assert!(matches!(
        store.create_topic("orders", 1, &[]).await,
        Err(StoreError::TopicExists(_))
    ));
    assert!(store.create_topic("bad/name", 1, &[]).await.is_err());
    let mut records = Vec::new();
    for i in 0..30 {
        let mut r = keyed(&format!("k{i}"), &format!("v{i}"));
        r.timestamp = Some(1_000 + i);
        records.push(r);
    }
    let placed = store.append("orders", records).await.unwrap();
    let mut per_partition: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for (p, o) in &placed {
        per_partition.entry(*p).or_default().push(*o);
    }
    // murmur2 as Kafka's default partitioner, offsets from 0 in each partition.
    assert_eq!(
        placed[0].0,
        kafkit_record::partition_for_key(b"k0", 3),
        "keyed records go where Kafka puts them"
    );
    for offsets in per_partition.values() {
        assert_eq!(*offsets, (0..offsets.len() as i64).collect::<Vec<_>>());
    }
    let all = read_all(&store, "orders").await;
    assert_eq!(all.len(), 30);
    let marks = store.watermarks("orders").await.unwrap();
    assert_eq!(marks.values().map(|(l, h)| h - l).sum::<i64>(), 30);
    // The first record at or after a time, per partition.
    let at = store.offsets_for_times("orders", 1_015).await.unwrap();
    for (p, found) in at {
        let expect = all
            .iter()
            .filter(|r| r.0 == p)
            .find(|r| r.2[1..].parse::<i64>().unwrap() >= 15)
            .map(|r| r.1);
        assert_eq!(found, expect, "partition {p}");
    }
    // Partitions grow, never shrink; configs change.
    store.set_partitions("orders", 5).await.unwrap();
    assert_eq!(store.partitions("orders").await.unwrap(), 5);
    assert!(store.set_partitions("orders", 2).await.is_err());
    store
        .alter_topic_configs("orders", &[("retention.ms".into(), None)])
        .await
        .unwrap();
    assert!(store
        .topic_configs("orders", false)
        .await
        .unwrap()
        .is_empty());
    let listed = store.list_topics().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].partitions, listed[0].records), (5, 30));
    assert!(listed[0].size_bytes.unwrap() > 0);
    // Everything lives under the prefix; deleting the topic leaves nothing of it.
    assert!(objects(&mem, "backups/prod/topics/orders").await.len() > 3);
    store.delete_topic("orders").await.unwrap();
    assert!(!store.exists("orders").await.unwrap());
    assert!(objects(&mem, "backups/prod/topics/orders").await.is_empty());
    assert!(matches!(
        store.append("orders", vec![keyed("a", "b")]).await,
        Err(StoreError::UnknownTopic(_))
    ));
}

#[tokio::test]
async fn small_appends_merge_into_few_objects_and_large_ones_are_cut() {
    let (store, mem) = storage();
    store.create_topic("t", 1, &[]).await.unwrap();
    for i in 0..200 {
        store
            .append("t", vec![keyed("k", &format!("value {i}"))])
            .await
            .unwrap();
    }
    let segments = objects(&mem, "backups/prod/topics/t/0").await;
    // 200 appends, one segment object (and the manifest): merged as they came.
    assert_eq!(segments.len(), 2, "{segments:?}");
    let all = read_all(&store, "t").await;
    assert_eq!(all.len(), 200);
    assert!(all
        .iter()
        .enumerate()
        .all(|(i, r)| r.1 == i as i64 && r.3 == format!("value {i}")));

    // 20 MB in one append: objects of about 8 MB.
    let big: Vec<NewRecord> = (0..20)
        .map(|i| {
            let mut r = keyed("big", &"x".repeat(1 << 20));
            r.partition = Some(0);
            r.headers = vec![kafkit_record::Header::new("i", Some(i.to_string()))];
            r
        })
        .collect();
    store.create_topic("big", 1, &[]).await.unwrap();
    for chunk in big.chunks(1) {
        store.append("big", chunk.to_vec()).await.unwrap();
    }
    let segments = objects(&mem, "backups/prod/topics/big/0").await;
    assert!(segments.len() >= 3, "{segments:?}");
    assert!(segments.iter().all(|(_, size)| *size <= 9 << 20));
    assert_eq!(read_all(&store, "big").await.len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_of_one_partition_never_share_an_offset_or_lose_a_record() {
    let (first, _mem) = storage();
    first.create_topic("t", 1, &[]).await.unwrap();
    let second = first.another_writer();
    // A writer whose idea of the partition's end is stale: its switch is refused, and it goes
    // on at the real end.
    assert_eq!(
        first.append("t", vec![keyed("x", "0")]).await.unwrap(),
        [(0, 0)]
    );
    assert_eq!(
        second.append("t", vec![keyed("x", "1")]).await.unwrap(),
        [(0, 1)]
    );
    assert_eq!(
        first.append("t", vec![keyed("x", "2")]).await.unwrap(),
        [(0, 2)]
    );
    first
        .delete_records("t", &BTreeMap::from([(0, 3)]))
        .await
        .unwrap();
    let write = |store: ObjectStorage, who: &'static str| async move {
        let mut placed = Vec::new();
        for i in 0..40 {
            let records = (0..5)
                .map(|j| keyed(who, &format!("{who}-{}", i * 5 + j)))
                .collect();
            placed.extend(store.append("t", records).await.unwrap());
        }
        placed
    };
    let (a, b) = tokio::join!(
        tokio::spawn(write(first.clone(), "a")),
        tokio::spawn(write(second, "b"))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut offsets: Vec<i64> = a.iter().chain(&b).map(|(_, o)| *o).collect();
    offsets.sort();
    assert_eq!(offsets, (3..403).collect::<Vec<_>>());
    let all = read_all(&first, "t").await;
    assert_eq!(all.len(), 400);
    for who in ["a", "b"] {
        // Each writer's records in the order it wrote them, at the offsets it was told.
        let mine: Vec<&(i32, i64, String, String)> = all.iter().filter(|r| r.2 == who).collect();
        assert_eq!(mine.len(), 200);
        for (n, r) in mine.iter().enumerate() {
            assert_eq!(r.3, format!("{who}-{n}"));
        }
        let told: Vec<i64> = if who == "a" { &a } else { &b }
            .iter()
            .map(|(_, o)| *o)
            .collect();
        assert_eq!(told, mine.iter().map(|r| r.1).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn a_write_that_never_switched_the_manifest_leaves_the_topic_as_it_was() {
    let (store, mem) = storage();
    store.create_topic("t", 1, &[]).await.unwrap();
    store
        .append("t", vec![keyed("a", "1"), keyed("a", "2")])
        .await
        .unwrap();
    // A writer killed after writing its segment object and before switching the manifest:
    // an object no manifest names.
    let orphan = Path::from("backups/prod/topics/t/0/00000000000000000002-deadbeef.log");
    let batch = kafkit_record::BatchBuilder::new(2, 0);
    let mut batch = batch;
    batch.push(0, Some(b"lost"), Some(b"never acknowledged"), &[]);
    let bytes = batch
        .finish(kafkit_record::Compression::None, None)
        .unwrap();
    mem.put(&orphan, PutPayload::from_bytes(bytes))
        .await
        .unwrap();
    assert_eq!(store.watermarks("t").await.unwrap()[&0], (0, 2));
    assert_eq!(read_all(&store, "t").await.len(), 2);
    // The next writer goes on at offset 2, as if nothing happened.
    let placed = store
        .another_writer()
        .append("t", vec![keyed("b", "3")])
        .await
        .unwrap();
    assert_eq!(placed, vec![(0, 2)]);
    let all = read_all(&store, "t").await;
    assert_eq!(
        all.iter().map(|r| r.3.as_str()).collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
}

#[tokio::test]
async fn a_corrupt_segment_stops_only_its_partition_and_can_be_stepped_over() {
    let (store, mem) = storage();
    store.create_topic("t", 2, &[]).await.unwrap();
    let to = |p: i32, v: &str| {
        let mut r = keyed("k", v);
        r.partition = Some(p);
        r
    };
    // Partition 0: a first segment, then (past the merge size) a second one.
    store.append("t", vec![to(0, "good-0")]).await.unwrap();
    store
        .append("t", vec![to(0, &"y".repeat(1 << 20))])
        .await
        .unwrap();
    store.append("t", vec![to(0, "after")]).await.unwrap();
    store.append("t", vec![to(1, "other")]).await.unwrap();
    let segments = objects(&mem, "backups/prod/topics/t/0").await;
    let first = segments
        .iter()
        .find(|(n, _)| n.ends_with(".log"))
        .unwrap()
        .0
        .clone();
    // One flipped byte in the first segment's record data.
    let path = Path::from(first.as_str());
    let mut bytes = mem
        .get(&path)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let last = bytes.len() - 2;
    bytes[last] ^= 0xff;
    mem.put(&path, PutPayload::from(bytes)).await.unwrap();

    let mut reader = store
        .reader("t", None, ReadFrom::Beginning, false)
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut corrupt = Vec::new();
    loop {
        match reader.next_records().await {
            Ok(Some(records)) => seen.extend(records.iter().map(|r| {
                (
                    r.partition,
                    String::from_utf8_lossy(r.value.as_deref().unwrap())
                        .chars()
                        .take(6)
                        .collect::<String>(),
                )
            })),
            Ok(None) => break,
            Err(StoreError::CorruptBatch {
                topic,
                partition,
                base_offset,
                path,
                ..
            }) => corrupt.push((topic, partition, base_offset, path.display().to_string())),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(corrupt.len(), 1, "{corrupt:?}");
    assert_eq!(corrupt[0].0, "t");
    assert_eq!((corrupt[0].1, corrupt[0].2), (0, 0));
    assert!(
        corrupt[0].3.starts_with("memory:backups/prod/topics/t/0/"),
        "{corrupt:?}"
    );
    // The other partition, and what follows the bad segment, were read.
    assert!(seen.contains(&(1, "other".into())));
    assert!(seen.contains(&(0, "after".into())));
    assert!(!seen.contains(&(0, "good-0".into())));
}

#[tokio::test]
async fn batches_keep_their_offsets_and_never_go_back() {
    let (store, _mem) = storage();
    store.create_topic("t", 1, &[]).await.unwrap();
    let batch_at = |base: i64, n: usize| {
        let mut b = kafkit_record::BatchBuilder::new(base, 5);
        for i in 0..n {
            b.push(
                5,
                Some(b"k"),
                Some(format!("v{}", base + i as i64).as_bytes()),
                &[],
            );
        }
        let bytes = b.finish(kafkit_record::Compression::Lz4, None).unwrap();
        kafkit_record::BatchReader::new(bytes, kafkit_record::DecodeOptions::default())
            .next()
            .unwrap()
            .unwrap()
    };
    // Gaps (as compaction leaves them) stay gaps.
    store
        .append_batches("t", 0, &[batch_at(0, 3), batch_at(10, 2)])
        .await
        .unwrap();
    assert_eq!(store.watermarks("t").await.unwrap()[&0], (0, 12));
    let offsets: Vec<i64> = read_all(&store, "t").await.iter().map(|r| r.1).collect();
    assert_eq!(offsets, [0, 1, 2, 10, 11]);
    let e = store
        .append_batches("t", 0, &[batch_at(11, 1)])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("cannot follow offset 11"), "{e}");
    assert!(store
        .append_batches("t", 3, &[batch_at(20, 1)])
        .await
        .is_err());
    // A plain append goes on after the copied ones.
    assert_eq!(
        store.append("t", vec![keyed("k", "next")]).await.unwrap(),
        [(0, 12)]
    );
}

#[tokio::test]
async fn deleted_records_are_gone_and_groups_keep_their_offsets() {
    let (store, mem) = storage();
    store.create_topic("t", 1, &[]).await.unwrap();
    for i in 0..3 {
        let records = (0..4)
            .map(|j| keyed("k", &format!("{}", i * 4 + j)))
            .collect();
        store.append("t", records).await.unwrap();
        // Past the merge size, so that each append is its own segment.
        store
            .append("t", vec![keyed("pad", &"p".repeat(1 << 20))])
            .await
            .unwrap();
    }
    let before = objects(&mem, "backups/prod/topics/t/0").await.len();
    let low = store
        .delete_records("t", &BTreeMap::from([(0, 6)]))
        .await
        .unwrap();
    assert_eq!(low[&0], 6);
    assert_eq!(store.watermarks("t").await.unwrap()[&0], (6, 15));
    assert!(objects(&mem, "backups/prod/topics/t/0").await.len() < before);
    let first = read_all(&store, "t").await[0].1;
    assert_eq!(first, 6);
    assert!(store
        .delete_records("t", &BTreeMap::from([(0, 99)]))
        .await
        .is_err());

    // Groups: commits merge, names of any shape round trip, a group reader starts there.
    let group = "team a/b%1";
    assert!(
        store.commit(group, &BTreeMap::new()).await.is_err(),
        "no '/' here"
    );
    let group = "team a:b%1";
    store
        .commit(
            group,
            &BTreeMap::from([("t".into(), BTreeMap::from([(0, 9)]))]),
        )
        .await
        .unwrap();
    store
        .commit(
            group,
            &BTreeMap::from([("u".into(), BTreeMap::from([(1, 2)]))]),
        )
        .await
        .unwrap();
    let offsets = store.group_offsets(group).await.unwrap();
    assert_eq!(offsets["t"][&0], 9);
    assert_eq!(offsets["u"][&1], 2);
    assert_eq!(store.list_groups().await.unwrap(), [group]);
    assert_eq!(store.describe_group(group).await.unwrap().state, "Empty");
    let mut reader = store
        .group_reader("t", &GroupRead::new(group), false)
        .await
        .unwrap();
    let records = reader.next_records().await.unwrap().unwrap();
    assert_eq!(records[0].offset, 9);
    let handled = BTreeMap::from([(0, 12)]);
    reader.close(&handled).await.unwrap();
    assert_eq!(store.group_offsets(group).await.unwrap()["t"][&0], 12);
    store.delete_group(group).await.unwrap();
    assert_eq!(store.describe_group(group).await.unwrap().state, "Dead");
    assert!(store.delete_group(group).await.is_err());
}

#[tokio::test]
async fn a_following_reader_sees_records_written_after_it_started() {
    let (store, _mem) = storage();
    store.create_topic("t", 2, &[]).await.unwrap();
    let mut reader = store.reader("t", None, ReadFrom::End, true).await.unwrap();
    let writer = store.another_writer();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        writer
            .append("t", vec![keyed("a", "1"), keyed("b", "2")])
            .await
            .unwrap();
    });
    let mut seen = 0;
    while seen < 2 {
        let records =
            tokio::time::timeout(std::time::Duration::from_secs(10), reader.next_records())
                .await
                .expect("records within 10 s")
                .unwrap()
                .unwrap();
        seen += records.len();
    }
    assert_eq!(seen, 2);
}
