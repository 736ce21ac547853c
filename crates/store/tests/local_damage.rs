//! Local storage with damaged files, as a person would meet them: garbage in or a deleted
//! index, a log cut short, a flipped byte. Nothing is lost or hidden silently: indexes are
//! rebuilt from their logs, lost offsets are never handed out again, and a corrupt batch
//! stops only its own partition, named, and can be stepped over.

use std::path::{Path, PathBuf};

use kafkit_store::{
    ConsumerRecord, LocalStorage, NewRecord, ReadFrom, RecordReader, Storage, StoreError,
};

fn value(i: usize) -> NewRecord {
    NewRecord::new(Some("k"), Some(format!("value-{i:03}-{}", "x".repeat(40))))
}

/// A topic `t` of one partition whose segments roll every ~300 bytes, with `n` records,
/// each appended (so each its own batch).
async fn rolled(dir: &Path, n: usize) -> PathBuf {
    let store = LocalStorage::open(dir).unwrap();
    let config = [("segment.bytes".to_string(), "300".to_string())];
    store.create_topic("t", 1, &config).await.unwrap();
    for i in 0..n {
        store.append("t", vec![value(i)]).await.unwrap();
    }
    dir.join("topics/t/0")
}

/// The segment files of a partition with `ext`, oldest first.
fn files(pdir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(pdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    out
}

async fn offsets(store: &LocalStorage, topic: &str) -> Vec<(i32, i64)> {
    let mut reader = store
        .reader(topic, None, ReadFrom::Beginning, false)
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(records) = reader.next_records().await.unwrap() {
        out.extend(
            records
                .iter()
                .map(|r: &ConsumerRecord| (r.partition, r.offset)),
        );
    }
    out.sort();
    out
}

fn all(range: std::ops::Range<i64>) -> Vec<(i32, i64)> {
    range.map(|o| (0, o)).collect()
}

#[tokio::test]
async fn garbage_in_or_a_deleted_index_is_rebuilt_from_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let pdir = rolled(dir.path(), 30).await;
    let indexes = files(&pdir, "idx");
    assert!(indexes.len() >= 4, "segments rolled: {indexes:?}");
    let (first, second, newest) = (&indexes[0], &indexes[1], indexes.last().unwrap());
    let first_good = std::fs::read(first).unwrap();
    std::fs::write(first, vec![0xAB; first_good.len()]).unwrap();
    std::fs::remove_file(second).unwrap();
    std::fs::write(newest, [0x7f; 64]).unwrap();

    let store = LocalStorage::open(dir.path()).unwrap();
    assert_eq!(offsets(&store, "t").await, all(0..30), "nothing hidden");
    assert_eq!(store.watermarks("t").await.unwrap()[&0], (0, 30));
    // The older segments' indexes were written back as they should be.
    assert_eq!(std::fs::read(first).unwrap(), first_good);
    assert!(second.exists());
    // A writer rebuilds the newest one and appends after everything.
    assert_eq!(
        store.append("t", vec![value(30)]).await.unwrap(),
        vec![(0, 30)]
    );
    assert_eq!(offsets(&store, "t").await, all(0..31));
    let found = store.offsets_for_times("t", 0).await.unwrap();
    assert_eq!(found[&0], Some(0));
}

#[tokio::test]
async fn a_log_cut_short_never_hands_its_lost_offsets_out_again() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = LocalStorage::open(dir.path()).unwrap();
        store.create_topic("t", 1, &[]).await.unwrap();
        for i in 0..10 {
            store.append("t", vec![value(i)]).await.unwrap();
        }
    }
    let pdir = dir.path().join("topics/t/0");
    let log = &files(&pdir, "log")[0];
    let batch = std::fs::metadata(log).unwrap().len() / 10;
    // Cut in the middle of the eighth batch (offset 7).
    std::fs::OpenOptions::new()
        .write(true)
        .open(log)
        .unwrap()
        .set_len(batch * 7 + batch / 2)
        .unwrap();
    let store = LocalStorage::open(dir.path()).unwrap();
    assert_eq!(offsets(&store, "t").await, all(0..7), "whole batches read");
    // Offsets 7..10 were handed out before: the next record gets 10, not 7.
    assert_eq!(
        store.append("t", vec![value(10)]).await.unwrap(),
        vec![(0, 10)]
    );
    let mut expected = all(0..7);
    expected.push((0, 10));
    assert_eq!(offsets(&store, "t").await, expected);
    assert_eq!(store.watermarks("t").await.unwrap()[&0], (0, 11));
    // And so it stays for the next process.
    drop(store);
    let store = LocalStorage::open(dir.path()).unwrap();
    assert_eq!(
        store.append("t", vec![value(11)]).await.unwrap(),
        vec![(0, 11)]
    );
}

#[tokio::test]
async fn an_older_segment_cut_short_hides_nothing_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let pdir = rolled(dir.path(), 30).await;
    let first = &files(&pdir, "log")[0];
    let len = std::fs::metadata(first).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(first)
        .unwrap()
        .set_len(len - 10)
        .unwrap();
    let store = LocalStorage::open(dir.path()).unwrap();
    let read = offsets(&store, "t").await;
    // The cut batch is gone; every other record is there, in order.
    assert_eq!(read.len(), 29, "{read:?}");
    assert!(read.windows(2).all(|w| w[0].1 < w[1].1));
    assert_eq!(read.last(), Some(&(0, 29)));
}

#[tokio::test]
async fn a_corrupt_batch_stops_only_its_partition_and_can_be_stepped_over() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStorage::open(dir.path()).unwrap();
    store.create_topic("t", 2, &[]).await.unwrap();
    for i in 0..6 {
        for p in 0..2 {
            let mut r = value(i);
            r.partition = Some(p);
            store.append("t", vec![r]).await.unwrap();
        }
    }
    let log = &files(&dir.path().join("topics/t/0"), "log")[0];
    let mut bytes = std::fs::read(log).unwrap();
    let batch = bytes.len() / 6;
    // One flipped byte in the records of the third batch (offset 2).
    bytes[batch * 2 + batch - 5] ^= 0x40;
    std::fs::write(log, bytes).unwrap();

    let mut reader = store
        .reader("t", None, ReadFrom::Beginning, false)
        .await
        .unwrap();
    let mut read = Vec::new();
    let err = loop {
        match reader.next_records().await {
            Ok(Some(records)) => read.extend(records.iter().map(|r| (r.partition, r.offset))),
            Ok(None) => panic!("the corrupt batch was not reported"),
            Err(e) => break e,
        }
    };
    read.sort();
    // Every healthy record first: all of partition 1, partition 0 up to the bad batch.
    let mut expected: Vec<(i32, i64)> = vec![(0, 0), (0, 1)];
    expected.extend((0..6).map(|o| (1, o)));
    assert_eq!(read, expected);
    match &err {
        StoreError::CorruptBatch {
            topic,
            partition,
            base_offset,
            next_offset,
            ..
        } => assert_eq!(
            (topic.as_str(), *partition, *base_offset, *next_offset),
            ("t", 0, 2, 3)
        ),
        other => panic!("{other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("partition 0") && message.contains("offsets 2..2"),
        "{message}"
    );
    // Asked for more, the reader steps over it.
    let mut rest = Vec::new();
    while let Some(records) = reader.next_records().await.unwrap() {
        rest.extend(records.iter().map(|r| (r.partition, r.offset)));
    }
    assert_eq!(rest, vec![(0, 3), (0, 4), (0, 5)]);
}

#[tokio::test]
async fn a_read_whose_caller_goes_away_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    rolled(dir.path(), 30).await;
    let store = LocalStorage::open(dir.path()).unwrap();
    let mut reader = store
        .reader("t", None, ReadFrom::Beginning, false)
        .await
        .unwrap();
    // Every call is cut short at once (as a select! taking another branch would); the reads
    // go on in the background and are handed out by a later call.
    let mut got = Vec::new();
    let mut cut = 0;
    loop {
        // Polled once: if not ready then, the call is dropped.
        let next = tokio::select! {
            biased;
            next = reader.next_records() => Some(next),
            () = std::future::ready(()) => None,
        };
        match next {
            None => {
                cut += 1;
                tokio::task::yield_now().await;
            }
            Some(Ok(Some(records))) => got.extend(records.iter().map(|r| (r.partition, r.offset))),
            Some(Ok(None)) => break,
            Some(Err(e)) => panic!("{e}"),
        }
        assert!(cut < 100_000, "no progress");
    }
    assert!(cut > 0, "some calls were cut short");
    assert_eq!(got, all(0..30), "each record once, in order");
}
