//! kafkit and its peers on one Kafka broker: the Java client (`testing/peers/java/Peer.java`,
//! over kafka-clients) and franz-go (`testing/peers/go`). Each reads the other's
//! transactions (Java ↔ kafkit: committed records once, aborted ones never with
//! read_committed, everything with read_uncommitted); the same record mix — null vs empty keys
//! and values, duplicate, null and empty headers, with every codec — written by any of the
//! three lands on the same partitions and reads back identically in all three; a Java member
//! and a kafkit member share a group and hand over without loss. Kafka only.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{client, producer_config, read_topic, topic, value_texts};
use kafkit_client::{Compression, ConsumerRecord, Isolation, Producer, ProducerRecord};
use kafkit_record::Header;

const N: usize = 50;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn named(prefix: &str) -> Vec<String> {
    sorted((0..N).map(|i| format!("{prefix}-{i}")).collect())
}

/// Runs a peer program with `args` (after the broker's address); returns its standard output.
async fn run_peer(mut peer: std::process::Command, command: &str, args: &[&str]) -> String {
    peer.arg(command)
        .arg(kafkit_testkit::shared_broker())
        .args(args);
    let out = tokio::task::spawn_blocking(move || peer.output().expect("the peer runs"))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "the peer's {command} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The values the Java peer reads from `topic` with `isolation`.
async fn java_reads(topic: &str, isolation: &str, want: usize) -> Vec<String> {
    let want = want.to_string();
    let out = run_peer(
        kafkit_testkit::java_peer(),
        "consume",
        &[topic, isolation, &want],
    )
    .await;
    sorted(
        out.lines()
            .filter_map(|l| l.split('\t').nth(2).map(str::to_string))
            .collect(),
    )
}

/// The values kafkit reads from `topic` (`partitions` partitions) with `isolation`.
async fn kafkit_reads(topic: &str, partitions: i32, isolation: Isolation) -> Vec<String> {
    let bootstrap = kafkit_testkit::shared_broker();
    let records = read_topic(
        &bootstrap,
        topic,
        partitions,
        isolation,
        Duration::from_secs(2),
    )
    .await;
    sorted(value_texts(&records))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_java_client_reads_kafkit_transactions_as_committed_or_aborted() {
    if !kafkit_testkit::on_kafka() {
        eprintln!("skipped on Tansu: it has no transaction coordinator");
        return;
    }
    let client = client().await;
    let topic = topic(&client, "txn-to-java", 3).await;
    let producer = Producer::connect(
        producer_config(&kafkit_testkit::shared_broker())
            .transactional_id(kafkit_testkit::unique_topic("txn-to-java")),
    )
    .await
    .unwrap();
    for (prefix, commit) in [("kafkit-commit", true), ("kafkit-abort", false)] {
        producer.begin_transaction().unwrap();
        for i in 0..N {
            producer
                .send(
                    ProducerRecord::new(topic.clone())
                        .key(format!("k{i}"))
                        .value(format!("{prefix}-{i}")),
                )
                .await
                .unwrap();
        }
        if commit {
            producer.commit_transaction().await.unwrap();
        } else {
            producer.flush().await;
            producer.abort_transaction().await.unwrap();
        }
    }
    assert_eq!(
        java_reads(&topic, "read_committed", N).await,
        named("kafkit-commit")
    );
    let mut all = named("kafkit-commit");
    all.extend(named("kafkit-abort"));
    assert_eq!(
        java_reads(&topic, "read_uncommitted", 2 * N).await,
        sorted(all)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_reads_java_transactions_as_committed_or_aborted() {
    if !kafkit_testkit::on_kafka() {
        eprintln!("skipped on Tansu: it has no transaction coordinator");
        return;
    }
    let client = client().await;
    let topic = topic(&client, "txn-from-java", 3).await;
    let txn_id = kafkit_testkit::unique_topic("java-txn");
    let out = run_peer(
        kafkit_testkit::java_peer(),
        "produce-txn",
        &[&topic, &txn_id, &N.to_string()],
    )
    .await;
    assert!(out.contains("done"), "the Java peer said: {out}");
    assert_eq!(
        kafkit_reads(&topic, 3, Isolation::ReadCommitted).await,
        named("java-commit")
    );
    let mut all = named("java-commit");
    all.extend(named("java-abort"));
    assert_eq!(
        kafkit_reads(&topic, 3, Isolation::ReadUncommitted).await,
        sorted(all)
    );
}

/// Records of the interop mix (the same rules as the Java peer's `produce-mix`).
const MIX: usize = 40;

fn mix_record(topic: &str, i: usize) -> ProducerRecord {
    let mut r = ProducerRecord::new(topic.to_string());
    r.key = match i % 4 {
        0 => None,
        1 => Some(Bytes::new()),
        _ => Some(Bytes::from(format!("key-{i}"))),
    };
    r.value = match i % 5 {
        0 => None,
        1 => Some(Bytes::new()),
        _ => Some(Bytes::from(format!("value-{i}-{}", "x".repeat(i * 7)))),
    };
    if i % 3 == 0 {
        for (k, v) in [
            ("h", Some("a")),
            ("h", None),
            ("h", Some("")),
            ("other", Some("b")),
        ] {
            r.headers.push(Header {
                key: Bytes::from(k),
                value: v.map(Bytes::from),
            });
        }
    }
    if r.key.is_none() {
        r.partition = Some((i % 3) as i32);
    }
    r
}

fn hex(b: Option<&[u8]>) -> String {
    match b {
        None => "-".into(),
        Some(b) => std::iter::once("x".to_string())
            .chain(b.iter().map(|x| format!("{x:02x}")))
            .collect(),
    }
}

/// A record as the Java peer's `dump` prints it.
fn dump_line(r: &ConsumerRecord) -> String {
    let headers: Vec<String> = r
        .headers
        .iter()
        .map(|h| format!("{}={}", hex(Some(&h.key)), hex(h.value.as_deref())))
        .collect();
    format!(
        "{}|{}|{}|{}",
        r.partition,
        hex(r.key.as_deref()),
        hex(r.value.as_deref()),
        headers.join(",")
    )
}

/// What a peer's `dump` (Java's or franz-go's) prints for `topic`, in order per partition.
async fn peer_dump(peer: std::process::Command, topic: &str) -> Vec<String> {
    let out = run_peer(peer, "dump", &[topic, &MIX.to_string()]).await;
    by_partition(out.lines().map(str::to_string).collect())
}

/// Runs a peer's `produce-mix` into `topic` with `codec`.
async fn peer_writes(peer: std::process::Command, topic: &str, codec: &str) {
    run_peer(peer, "produce-mix", &[topic, codec]).await;
}

/// Lines grouped by partition (order kept within each): readers interleave partitions freely.
fn by_partition(mut lines: Vec<String>) -> Vec<String> {
    lines.sort_by_key(|l| {
        l.split('|')
            .next()
            .unwrap_or_default()
            .parse::<i32>()
            .unwrap_or(-1)
    });
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_mix_written_by_any_client_reads_the_same_in_every_client_with_every_codec() {
    if !kafkit_testkit::on_kafka() {
        eprintln!("skipped on Tansu: the peers run against the Kafka pass");
        return;
    }
    let client = client().await;
    let bootstrap = kafkit_testkit::shared_broker();
    for (codec, name) in [
        (Compression::None, "none"),
        (Compression::Gzip, "gzip"),
        (Compression::Snappy, "snappy"),
        (Compression::Lz4, "lz4"),
        (Compression::Zstd, "zstd"),
    ] {
        let by_java = topic(&client, "mix-java", 3).await;
        let by_franz = topic(&client, "mix-franz", 3).await;
        let by_kafkit = topic(&client, "mix-kafkit", 3).await;
        peer_writes(kafkit_testkit::java_peer(), &by_java, name).await;
        peer_writes(kafkit_testkit::go_peer(), &by_franz, name).await;
        let producer = Producer::connect(producer_config(&bootstrap).compression(codec, None))
            .await
            .unwrap();
        for i in 0..MIX {
            producer
                .send_and_wait(mix_record(&by_kafkit, i))
                .await
                .unwrap();
        }

        // The reference: Java reading Java's writes.
        let reference = peer_dump(kafkit_testkit::java_peer(), &by_java).await;
        assert_eq!(
            reference.len(),
            MIX,
            "{codec:?}: the Java peer wrote the mix"
        );
        for (writer, topic) in [
            ("Java", &by_java),
            ("franz-go", &by_franz),
            ("kafkit", &by_kafkit),
        ] {
            // Same partitions (Java's murmur2 for keyed records), keys, values, headers.
            assert_eq!(
                peer_dump(kafkit_testkit::java_peer(), topic).await,
                reference,
                "{codec:?}: {writer} → Java"
            );
            assert_eq!(
                peer_dump(kafkit_testkit::go_peer(), topic).await,
                reference,
                "{codec:?}: {writer} → franz-go"
            );
            let read = read_topic(
                &bootstrap,
                topic,
                3,
                Isolation::ReadUncommitted,
                Duration::from_secs(1),
            )
            .await;
            assert_eq!(
                by_partition(read.iter().map(dump_line).collect()),
                reference,
                "{codec:?}: {writer} → kafkit"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_java_member_and_a_kafkit_member_split_a_group_and_hand_over_without_loss() {
    if !kafkit_testkit::on_kafka() {
        eprintln!("skipped on Tansu: the Java peer runs against the Kafka pass");
        return;
    }
    use kafkit_client::{Assignor, Consumer, ConsumerConfig, OffsetReset};
    use std::collections::{BTreeMap, BTreeSet};
    use tokio::io::{AsyncBufReadExt, BufReader};

    let client = client().await;
    let bootstrap = kafkit_testkit::shared_broker();
    for (assignor, name) in [
        (Assignor::Range, "range"),
        (Assignor::CooperativeSticky, "cooperative-sticky"),
    ] {
        let topic = topic(&client, &format!("java-group-{name}"), 6).await;
        let group = kafkit_testkit::unique_topic("java-group");
        let producer = Producer::connect(producer_config(&bootstrap))
            .await
            .unwrap();
        let send = |from: usize, to: usize| {
            let (producer, topic) = (producer.clone(), topic.clone());
            async move {
                for i in from..to {
                    producer
                        .send(
                            ProducerRecord::new(topic.clone())
                                .key(format!("k{i}"))
                                .value(format!("v{i:04}")),
                        )
                        .await
                        .unwrap();
                }
                producer.flush().await;
            }
        };
        send(0, 600).await;

        // The Java member first, alone; it leaves after 16 s.
        let mut java = tokio::process::Command::from(kafkit_testkit::java_peer());
        java.args(["group", &bootstrap, &topic, &group, name, "16"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut java = java.spawn().unwrap();
        let mut lines = BufReader::new(java.stdout.take().unwrap()).lines();
        let java_output = tokio::spawn(async move {
            let mut out = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                out.push(line);
            }
            out
        });

        let mut config = ConsumerConfig::new(common::config(&bootstrap))
            .group_id(&group)
            .assignors(vec![assignor])
            .auto_offset_reset(OffsetReset::Earliest)
            .fetch_max_wait(Duration::from_millis(100));
        config.rebalance_timeout = Duration::from_secs(10);
        tokio::time::sleep(Duration::from_secs(4)).await; // the Java member reads alone first
        let ours = Consumer::connect(config).await.unwrap();
        ours.subscribe(&[&topic]).await.unwrap();
        let mut mine = Vec::new();
        let mut shared_split = BTreeSet::new();
        let start = std::time::Instant::now();
        let mut sent_more = false;
        // Both members for a while (more records arrive), then the Java member leaves.
        while start.elapsed() < Duration::from_secs(26) {
            mine.extend(ours.poll(Duration::from_millis(200)).await.unwrap());
            if start.elapsed() > Duration::from_secs(6) && !sent_more {
                shared_split = ours.assignment().iter().map(|tp| tp.partition).collect();
                send(600, 1200).await;
                sent_more = true;
            }
            ours.commit().await.unwrap_or(());
        }
        let status = java.wait().await.unwrap();
        let java_lines = java_output.await.unwrap();
        assert!(status.success(), "the Java member failed: {java_lines:?}");
        assert!(java_lines.iter().any(|l| l == "left"), "{java_lines:?}");
        // The split while both were members: 3 and 3, disjoint.
        let java_split: BTreeSet<i32> = java_lines
            .iter()
            .rev()
            .find(|l| l.starts_with("assigned "))
            .map(|l| {
                l["assigned ".len()..]
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|p| p.parse().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            shared_split.len(),
            3,
            "{name}: kafkit held {shared_split:?}"
        );
        assert_eq!(java_split.len(), 3, "{name}: Java held {java_split:?}");
        assert!(
            shared_split.is_disjoint(&java_split),
            "{name}: {shared_split:?} / {java_split:?}"
        );
        // After the Java member left, kafkit holds everything and reads what is left.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let java_records: Vec<String> = java_lines
            .iter()
            .filter_map(|l| l.strip_prefix("record\t"))
            .filter_map(|l| l.split('\t').nth(2).map(str::to_string))
            .collect();
        while java_records.len() + mine.len() < 1200 && std::time::Instant::now() < deadline {
            mine.extend(ours.poll(Duration::from_millis(200)).await.unwrap());
        }
        assert_eq!(
            ours.assignment().len(),
            6,
            "{name}: kafkit took over every partition"
        );
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for v in java_records.iter().cloned().chain(value_texts(&mine)) {
            *counts.entry(v).or_default() += 1;
        }
        let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(5).collect();
        assert!(twice.is_empty(), "{name}: read twice: {twice:?}");
        assert_eq!(counts.len(), 1200, "{name}: every record read once");
        assert!(
            !java_records.is_empty() && !mine.is_empty(),
            "{name}: both members read"
        );
        ours.close().await;
    }
}
