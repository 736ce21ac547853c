//! Local checkpoints and deferred decoding against a real broker.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kafkit_client::{Client, NewTopic, Producer, ProducerConfig, ProducerRecord};
use kafkit_table::{GlobalTable, Status, TableConfig, TableWriter};

mod common;
use common::{client_config, create_topic as create, service, Service};

fn checkpoint_path(topic: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("kafkit-table-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{topic}.ckpt"));
    let _ = std::fs::remove_file(&path);
    path
}

/// Starts a table over `topic` configured by `tweak`, waits for catch-up.
async fn started(
    topic: &str,
    tweak: impl FnOnce(TableConfig<Service>) -> TableConfig<Service>,
) -> GlobalTable<Service> {
    let table = GlobalTable::new(tweak(TableConfig::<Service>::json(client_config(), topic)));
    assert_eq!(table.start().await.unwrap(), Status::CaughtUp);
    table
}

fn contents(table: &GlobalTable<Service>) -> BTreeMap<String, Service> {
    table
        .snapshot()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_string(), (**v).clone()))
        .collect()
}

async fn send_raw(producer: &Producer, topic: &str, key: &str, value: &str) {
    producer
        .send_and_wait(
            ProducerRecord::new(topic.to_string())
                .key(key.to_string())
                .value(value.to_string()),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_restart_from_a_checkpoint_equals_a_full_replay() {
    let topic = kafkit_testkit::unique_topic("t-ckpt");
    create(&topic, 2).await;
    let path = checkpoint_path(&topic);
    let writer = TableWriter::<Service>::json(client_config(), topic.clone())
        .await
        .unwrap();
    let raw = Producer::connect(ProducerConfig::new(client_config()))
        .await
        .unwrap();
    for rev in 1..=3 {
        for k in 0..20 {
            writer
                .set(&format!("k{k}"), &service("k", rev))
                .await
                .unwrap();
        }
    }
    writer.delete("k0").await.unwrap();
    let first = started(&topic, |c| c.checkpoint(&path)).await;
    let before = contents(&first);
    first.stop().await;
    assert!(first.stats().checkpoints_written >= 1);
    assert!(path.exists(), "stop() wrote the checkpoint");

    // After the checkpoint: updates, tombstones, new keys, and malformed values: k1's last
    // value is malformed (its good value is in the checkpoint), k20's last value is malformed
    // (its good value is after the checkpoint), k2 has a malformed value in between.
    let mut after = 0;
    for k in 3..8 {
        writer
            .set(&format!("k{k}"), &service("k", 4))
            .await
            .unwrap();
        after += 1;
    }
    for k in [8, 9] {
        writer.delete(&format!("k{k}")).await.unwrap();
        after += 1;
    }
    writer.set("k0", &service("back", 1)).await.unwrap();
    writer.set("k20", &service("new", 1)).await.unwrap();
    send_raw(&raw, &topic, "k1", "{not json").await;
    send_raw(&raw, &topic, "k20", "[]").await;
    send_raw(&raw, &topic, "k2", "nope").await;
    writer.set("k2", &service("k", 5)).await.unwrap();
    after += 6;

    let restored = started(&topic, |c| c.checkpoint(&path)).await;
    let full = started(&topic, |c| c).await;
    let every = started(&topic, |c| c.decode_every_value(true)).await;
    let expected = contents(&every);
    assert_eq!(
        contents(&restored),
        expected,
        "checkpoint restart == full replay"
    );
    assert_eq!(
        contents(&full),
        expected,
        "deferred decoding == decoding every value"
    );
    assert_eq!(
        expected["k1"], before["k1"],
        "k1 keeps its checkpointed value"
    );
    assert_eq!(expected["k20"], service("new", 1));
    assert_eq!(expected["k2"], service("k", 5));
    assert_eq!(expected["k0"], service("back", 1));
    assert!(!expected.contains_key("k8") && !expected.contains_key("k9"));
    assert_eq!(expected.len(), 19);

    let s = restored.stats();
    assert!(s.checkpoint_restored);
    assert_eq!(
        s.records_replayed, after,
        "only records after the checkpoint are read"
    );
    assert_eq!(
        s.value_decode_errors, 2,
        "k1 and k20, found when decoding last values"
    );
    assert!(!full.stats().checkpoint_restored);
    assert_eq!(full.stats().value_decode_errors, 2);
    assert_eq!(
        every.stats().value_decode_errors,
        3,
        "decoding every value also counts k2's superseded malformed value"
    );

    // The restored table follows live updates like any other.
    writer.set("k3", &service("k", 6)).await.unwrap();
    assert!(restored.barrier(Duration::from_secs(10)).await.unwrap());
    assert_eq!(restored.get("k3").unwrap().unwrap().revision, 6);
    for t in [restored, full, every] {
        t.stop().await;
    }
}

#[tokio::test]
async fn a_damaged_checkpoint_or_a_recreated_topic_falls_back_to_a_full_replay() {
    let topic = kafkit_testkit::unique_topic("t-ckpt-fallback");
    create(&topic, 1).await;
    let path = checkpoint_path(&topic);
    let writer = TableWriter::<Service>::json(client_config(), topic.clone())
        .await
        .unwrap();
    for k in 0..5 {
        writer
            .set(&format!("k{k}"), &service("k", 1))
            .await
            .unwrap();
    }
    let table = started(&topic, |c| c.checkpoint(&path)).await;
    table.stop().await;

    // A flipped byte: the CRC catches it.
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let table = started(&topic, |c| c.checkpoint(&path)).await;
    assert!(!table.stats().checkpoint_restored);
    assert_eq!(table.stats().records_replayed, 5);
    assert_eq!(table.len().unwrap(), 5);
    table.stop().await;

    // A valid checkpoint again (stop rewrote it); now the topic is deleted and recreated.
    let table = started(&topic, |c| c.checkpoint(&path)).await;
    assert!(table.stats().checkpoint_restored);
    table.stop().await;
    let client = Client::connect(client_config()).await.unwrap();
    client.admin().delete_topic(&topic).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client
        .admin()
        .create_topic(&NewTopic::new(&topic, 1))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the topic could not be recreated"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let writer = TableWriter::<Service>::json(client_config(), topic.clone())
        .await
        .unwrap();
    writer.set("fresh", &service("fresh", 1)).await.unwrap();
    let table = started(&topic, |c| c.checkpoint(&path)).await;
    assert!(
        !table.stats().checkpoint_restored,
        "the old topic's checkpoint is not used"
    );
    assert_eq!(
        contents(&table).into_keys().collect::<Vec<_>>(),
        vec!["fresh".to_string()]
    );
    table.stop().await;
}

#[tokio::test]
async fn checkpoints_are_written_periodically_while_updates_arrive() {
    let topic = kafkit_testkit::unique_topic("t-ckpt-periodic");
    create(&topic, 1).await;
    let path = checkpoint_path(&topic);
    let writer = TableWriter::<Service>::json(client_config(), topic.clone())
        .await
        .unwrap();
    writer.set("a", &service("a", 1)).await.unwrap();
    let table = started(&topic, |c| {
        c.checkpoint(&path)
            .checkpoint_every(Duration::from_millis(100))
    })
    .await;
    // One checkpoint right after catch-up (written in the background), then one per period
    // while updates arrive.
    let written_more_than = |n: u64| {
        let table = table.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while table.stats().checkpoints_written <= n {
                assert!(Instant::now() < deadline, "no checkpoint after {n}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            table.stats().checkpoints_written
        }
    };
    let written = written_more_than(0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        table.stats().checkpoints_written,
        written,
        "no rewrite while nothing changes"
    );
    writer.set("b", &service("b", 1)).await.unwrap();
    written_more_than(written).await;
    // Dropped without stop(): the periodic checkpoint already holds "b".
    drop(table);
    let table = started(&topic, |c| c.checkpoint(&path)).await;
    assert!(table.stats().checkpoint_restored);
    assert_eq!(table.stats().records_replayed, 0);
    assert_eq!(table.get("b").unwrap().unwrap().revision, 1);
    table.stop().await;
}

/// Every record left in partition 0 of `topic` (offset, key, whether a tombstone), and the
/// partition's high watermark.
async fn stored(topic: &str) -> (Vec<(i64, String, bool)>, i64) {
    use kafkit_client::{Consumer, ConsumerConfig, Offset, TopicPartition};
    let tp = TopicPartition::new(topic, 0);
    let consumer = Consumer::connect(ConsumerConfig::new(client_config()))
        .await
        .unwrap();
    consumer.assign(std::slice::from_ref(&tp)).await.unwrap();
    consumer.seek(&tp, Offset::Beginning).unwrap();
    let end = Client::connect(client_config())
        .await
        .unwrap()
        .admin()
        .list_offsets(topic, &[], kafkit_client::OffsetSpec::Latest)
        .await
        .unwrap()[&0]
        .offset;
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while out.last().map_or(0, |(o, _, _)| o + 1) < end && Instant::now() < deadline {
        for r in consumer.poll(Duration::from_millis(200)).await.unwrap() {
            let key = String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).to_string();
            out.push((r.offset, key, r.value.is_none()));
        }
    }
    (out, end)
}

/// Kafka's log cleaner really compacts the topic (offsets with holes, overwritten values and
/// tombstones gone); a table over it equals the map of the uncompacted history, and a table
/// given a checkpoint taken before the compaction equals it too: the checkpoint is older than
/// the topic keeps tombstones, so the table does not trust it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_topic_and_a_checkpoint_from_before_its_compaction_give_the_full_map() {
    if !kafkit_testkit::on_kafka() {
        eprintln!("skipped on Tansu: it has no log cleaner");
        return;
    }
    let topic = kafkit_testkit::unique_topic("t-compacted");
    Client::connect(client_config())
        .await
        .unwrap()
        .admin()
        .create_topic(
            &NewTopic::new(&topic, 1)
                .config("cleanup.policy", "compact")
                .config("segment.ms", "200")
                .config("min.cleanable.dirty.ratio", "0.001")
                .config("min.compaction.lag.ms", "0")
                .config("delete.retention.ms", "0"),
        )
        .await
        .unwrap();
    let path = checkpoint_path(&topic);
    let writer = TableWriter::<Service>::json(client_config(), topic.clone())
        .await
        .unwrap();
    let mut model = BTreeMap::new();
    for rev in 1..=3 {
        for k in 0..60 {
            let key = format!("k{k}");
            if (k + rev) % 7 == 0 {
                writer.delete(&key).await.unwrap();
                model.remove(&key);
            } else {
                writer.set(&key, &service(&key, rev)).await.unwrap();
                model.insert(key.clone(), service(&key, rev));
            }
        }
        if rev == 1 {
            // A checkpoint of the first round, before anything is compacted.
            let first = started(&topic, |c| c.checkpoint(&path)).await;
            assert_eq!(contents(&first), model);
            first.stop().await;
            assert!(path.exists());
        }
    }
    // The active segment is never cleaned: a record written after segment.ms rolls it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (records, written) = loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        writer.set("roll", &service("roll", 1)).await.unwrap();
        let (records, written) = stored(&topic).await;
        if (records.len() as i64) < written / 2 {
            break (records, written);
        }
        assert!(
            Instant::now() < deadline,
            "not compacted within 60 s: {} of {written} records left",
            records.len()
        );
    };
    model.insert("roll".into(), service("roll", 1));
    // Offsets no record holds any more: before the first one left, and between two.
    let holes = usize::from(records.first().is_some_and(|r| r.0 > 0))
        + records.windows(2).filter(|w| w[1].0 != w[0].0 + 1).count();
    assert!(
        holes > 0,
        "compaction leaves holes in the offsets: {records:?}"
    );
    eprintln!(
        "{written} records written, {} left after compaction ({holes} holes, {} tombstones)",
        records.len(),
        records.iter().filter(|r| r.2).count()
    );

    let full = started(&topic, |c| c).await;
    assert_eq!(
        contents(&full),
        model,
        "a compacted replay == the full history"
    );
    // The compaction removed tombstones written after the checkpoint (delete.retention.ms is
    // 0 here): resuming from it would bring deleted keys back, so the table replays the whole
    // topic instead.
    let restored = started(&topic, |c| c.checkpoint(&path)).await;
    assert!(!restored.stats().checkpoint_restored);
    assert_eq!(
        contents(&restored),
        model,
        "a checkpoint from before the compaction still gives the map"
    );
    restored.stop().await;

    // With tombstones kept for a day, a fresh checkpoint of the compacted topic is used.
    Client::connect(client_config())
        .await
        .unwrap()
        .admin()
        .alter_configs(
            &kafkit_client::ConfigResource::Topic(topic.clone()),
            &[kafkit_client::AlterConfigOp::Set(
                "delete.retention.ms".into(),
                "86400000".into(),
            )],
        )
        .await
        .unwrap();
    let again = started(&topic, |c| c.checkpoint(&path)).await;
    assert!(again.stats().checkpoint_restored);
    assert_eq!(contents(&again), model);
}
