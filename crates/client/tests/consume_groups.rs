//! Consumer groups against a real broker: membership, assignors, rebalances, commits.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use kafkit_client::{
    Assignor, Consumer, ConsumerConfig, OffsetReset, Producer, ProducerRecord, TopicPartition,
};

fn group_config(group: &str, assignor: Assignor) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(config(&kafkit_testkit::shared_broker()))
        .group_id(group)
        .session(Duration::from_secs(6), Duration::from_millis(300))
        .assignors(vec![assignor])
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100));
    c.rebalance_timeout = Duration::from_secs(10);
    c
}

/// Writes records one batch each: Tansu serves a fetch only from a batch's first offset, so a
/// member resuming from a commit inside a batch would get nothing (docs/TESTING.md).
async fn produce(topic: &str, from: usize, to: usize) {
    let producer = Producer::connect(producer_config(&kafkit_testkit::shared_broker()))
        .await
        .unwrap();
    for i in from..to {
        producer
            .send_and_wait(
                ProducerRecord::new(topic.to_string())
                    .key(format!("k{i}"))
                    .value(format!("{i:06}")),
            )
            .await
            .unwrap();
    }
}

/// Waits until `check` holds for the consumers' assignments (30 s at most).
async fn until_assigned(
    consumers: &[&Consumer],
    check: impl Fn(&[Vec<TopicPartition>]) -> bool,
) -> Vec<Vec<TopicPartition>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Polling keeps the consumers busy the way an application would.
        for c in consumers {
            let _ = c.poll(Duration::from_millis(50)).await;
        }
        let assignments: Vec<_> = consumers.iter().map(|c| c.assignment()).collect();
        if check(&assignments) {
            return assignments;
        }
        assert!(
            Instant::now() < deadline,
            "assignments never settled: {assignments:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn covers(assignments: &[Vec<TopicPartition>], topic: &str, partitions: i32) -> bool {
    let all: Vec<&TopicPartition> = assignments.iter().flatten().collect();
    let unique: BTreeSet<&TopicPartition> = all.iter().copied().collect();
    all.len() == unique.len()
        && unique.len() == partitions as usize
        && unique.iter().all(|tp| tp.topic == topic)
        && assignments.iter().all(|a| !a.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_split_the_partitions_and_one_takes_all_when_the_other_leaves() {
    let client = client().await;
    for assignor in [
        Assignor::Range,
        Assignor::RoundRobin,
        Assignor::CooperativeSticky,
    ] {
        let topic = topic(&client, &format!("g-split-{}", assignor.name()), 4).await;
        let group = kafkit_testkit::unique_topic("group");
        let a = Consumer::connect(group_config(&group, assignor))
            .await
            .unwrap();
        let b = Consumer::connect(group_config(&group, assignor))
            .await
            .unwrap();
        a.subscribe(&[&topic]).await.unwrap();
        b.subscribe(&[&topic]).await.unwrap();
        let split = until_assigned(&[&a, &b], |s| covers(s, &topic, 4)).await;
        assert_eq!(split[0].len(), 2, "{assignor:?}: {split:?}");
        assert_eq!(split[1].len(), 2, "{assignor:?}: {split:?}");
        produce(&topic, 0, 400).await;

        // Each record is read once by the group.
        let mut seen = BTreeSet::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while seen.len() < 400 && Instant::now() < deadline {
            for c in [&a, &b] {
                for r in c.poll(Duration::from_millis(100)).await.unwrap() {
                    assert!(seen.insert((r.partition, r.offset)), "read twice: {r:?}");
                }
            }
        }
        assert_eq!(seen.len(), 400, "{assignor:?}");

        // b leaves; a takes every partition.
        b.close().await;
        until_assigned(&[&a], |s| s[0].len() == 4).await;
        a.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_member_resumes_right_after_its_last_commit() {
    init_tracing();
    let client = client().await;
    let topic = topic(&client, "g-commit", 1).await;
    let group = kafkit_testkit::unique_topic("group");
    produce(&topic, 0, 100).await;
    let tp = TopicPartition::new(&topic, 0);

    let first = Consumer::connect(group_config(&group, Assignor::Range).auto_commit(false))
        .await
        .unwrap();
    first.subscribe(&[&topic]).await.unwrap();
    let mut read = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while read.len() < 60 && Instant::now() < deadline {
        read.extend(first.poll(Duration::from_millis(200)).await.unwrap());
    }
    assert!(read.len() >= 60);
    // Commit exactly after record 59, with metadata.
    first
        .commit_offsets(vec![(tp.clone(), 60, Some("after-59".into()))])
        .await
        .unwrap();
    first.close().await;
    let committed = client
        .admin()
        .committed_offsets(&group, Some(&[&topic]))
        .await
        .unwrap();
    assert_eq!(committed[&(topic.clone(), 0)].offset, 60);

    let second = Consumer::connect(group_config(&group, Assignor::Range))
        .await
        .unwrap();
    second.subscribe(&[&topic]).await.unwrap();
    let mut again = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while again.len() < 40 && Instant::now() < deadline {
        again.extend(second.poll(Duration::from_millis(200)).await.unwrap());
    }
    let offsets: Vec<i64> = again.iter().map(|r| r.offset).collect();
    assert_eq!(
        offsets,
        (60..100).collect::<Vec<_>>(),
        "resumes at the commit, nothing skipped or repeated"
    );
    // commit() commits the position: 100.
    second.commit().await.unwrap();
    let committed = client
        .admin()
        .committed_offsets(&group, Some(&[&topic]))
        .await
        .unwrap();
    assert_eq!(committed[&(topic.clone(), 0)].offset, 100);
    second.close().await;
}

#[tokio::test]
async fn subscribe_without_a_group_is_a_clear_error() {
    let consumer = Consumer::connect(ConsumerConfig::new(
        config(&kafkit_testkit::shared_broker()),
    ))
    .await
    .unwrap();
    let err = consumer.subscribe(&["t"]).await.unwrap_err();
    assert!(err.to_string().contains("group.id"), "{err}");
    assert!(consumer.commit().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_restarting_within_the_session_timeout_causes_no_rebalance() {
    if !kafkit_testkit::on_kafka() {
        // Tansu 0.6.0 starts a rebalance when a static member rejoins under its instance id
        // (Kafka hands it its old assignment without one); see docs/TESTING.md.
        eprintln!("skipped on Tansu: static membership needs Kafka");
        return;
    }
    init_tracing();
    let client = client().await;
    let topic = topic(&client, "g-static", 4).await;
    let group = kafkit_testkit::unique_topic("group");
    let config = |instance: &str| {
        let mut c = group_config(&group, Assignor::Range);
        c.group_instance_id = Some(instance.to_string());
        c
    };
    let a = Consumer::connect(config("member-a")).await.unwrap();
    let b = Consumer::connect(config("member-b")).await.unwrap();
    a.subscribe(&[&topic]).await.unwrap();
    b.subscribe(&[&topic]).await.unwrap();
    let split = until_assigned(&[&a, &b], |s| covers(s, &topic, 4)).await;
    let (_, generation) = b.group_member().unwrap();
    // a goes away and comes back under the same instance id, well within 6 s.
    a.close().await;
    drop(a);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let a2 = Consumer::connect(config("member-a")).await.unwrap();
    a2.subscribe(&[&topic]).await.unwrap();
    let again = until_assigned(&[&a2], |s| !s[0].is_empty()).await;
    assert_eq!(
        again[0], split[0],
        "the static member gets its partitions back"
    );
    // b saw no rebalance: same generation, same partitions, for a few heartbeats.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = b.poll(Duration::from_millis(50)).await;
    assert_eq!(
        b.group_member().unwrap().1,
        generation,
        "no new generation for b"
    );
    assert_eq!(b.assignment(), split[1]);
    a2.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_record_is_lost_across_ten_rebalances_during_a_100k_record_run() {
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let client = client().await;
    let topic = topic(&client, "g-stress", 4).await;
    let n = 100_000usize;
    for p in 0..4 {
        let values: Vec<String> = (0..n / 4).map(|i| format!("{p}-{i}")).collect();
        produce_single_record_batches(&client, &topic, p, &values).await;
    }
    let group = kafkit_testkit::unique_topic("group");
    let seen: Arc<Mutex<HashSet<(i32, i64)>>> = Arc::default();
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));

    // A member polls slowly (so rebalances land mid-run) until told to stop.
    let spawn_member = |stop: Arc<AtomicBool>| {
        let (seen, reads, topic) = (seen.clone(), reads.clone(), topic.clone());
        let mut config = group_config(&group, Assignor::RoundRobin).max_poll_records(40);
        config.auto_commit_interval = Duration::from_millis(500);
        tokio::spawn(async move {
            let c = Consumer::connect(config).await.unwrap();
            c.subscribe(&[&topic]).await.unwrap();
            while !stop.load(Ordering::SeqCst) {
                let records = c.poll(Duration::from_millis(100)).await.unwrap();
                reads.fetch_add(records.len(), Ordering::SeqCst);
                {
                    let mut s = seen.lock().unwrap();
                    for r in records {
                        s.insert((r.partition, r.offset));
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            c.close().await;
        })
    };
    let stop_a = Arc::new(AtomicBool::new(false));
    let a = spawn_member(stop_a.clone());
    let mut extra: Vec<(Arc<AtomicBool>, tokio::task::JoinHandle<()>)> = Vec::new();
    let mut rebalances = 0;
    let deadline = Instant::now() + Duration::from_secs(150);
    while seen.lock().unwrap().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        if rebalances < 10 {
            // Alternate: a member joins, a member leaves.
            if rebalances % 2 == 0 || extra.is_empty() {
                let stop = Arc::new(AtomicBool::new(false));
                extra.push((stop.clone(), spawn_member(stop)));
            } else {
                let (stop, task) = extra.remove(0);
                stop.store(true, Ordering::SeqCst);
                task.await.unwrap();
            }
            rebalances += 1;
        }
    }
    let got = seen.lock().unwrap().len();
    stop_a.store(true, Ordering::SeqCst);
    for (stop, task) in extra {
        stop.store(true, Ordering::SeqCst);
        task.await.unwrap();
    }
    a.await.unwrap();
    assert_eq!(
        rebalances, 10,
        "ten membership changes happened during the run"
    );
    assert_eq!(got, n, "every record was read at least once");
    let total = reads.load(Ordering::SeqCst);
    eprintln!(
        "{total} reads for {n} records ({} re-read after rebalances)",
        total - n
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_keeps_the_partitions_it_does_not_revoke() {
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Recorder {
        revoked: Mutex<Vec<TopicPartition>>,
        lost: Mutex<Vec<TopicPartition>>,
    }
    impl kafkit_client::RebalanceListener for Recorder {
        fn on_revoked(&self, partitions: &[TopicPartition]) {
            self.revoked.lock().unwrap().extend_from_slice(partitions);
        }
        fn on_lost(&self, partitions: &[TopicPartition]) {
            self.lost.lock().unwrap().extend_from_slice(partitions);
        }
    }

    let client = client().await;
    let topic = topic(&client, "g-coop", 4).await;
    let group = kafkit_testkit::unique_topic("group");
    let a = Consumer::connect(group_config(&group, Assignor::CooperativeSticky))
        .await
        .unwrap();
    let recorder = Arc::new(Recorder::default());
    a.set_rebalance_listener(recorder.clone());
    a.subscribe(&[&topic]).await.unwrap();
    let alone = until_assigned(&[&a], |s| s[0].len() == 4).await;
    for p in 0..4 {
        let values: Vec<String> = (0..50).map(|i| format!("{p}-{i}")).collect();
        produce_single_record_batches(&client, &topic, p, &values).await;
    }
    // a reads everything, so its positions are at the end of each partition.
    let mut read = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while read < 200 && Instant::now() < deadline {
        read += a.poll(Duration::from_millis(100)).await.unwrap().len();
    }
    assert_eq!(read, 200);
    let positions: Vec<Option<i64>> = alone[0].iter().map(|tp| a.position(tp)).collect();

    let b = Consumer::connect(group_config(&group, Assignor::CooperativeSticky))
        .await
        .unwrap();
    b.subscribe(&[&topic]).await.unwrap();
    let split = until_assigned(&[&a, &b], |s| covers(s, &topic, 4)).await;
    assert_eq!(split[0].len(), 2, "{split:?}");
    assert!(
        split[0].iter().all(|tp| alone[0].contains(tp)),
        "a kept a subset of what it had"
    );
    let revoked = recorder.revoked.lock().unwrap().clone();
    assert_eq!(revoked.len(), 2, "only what moved was revoked: {revoked:?}");
    assert!(
        revoked.iter().all(|tp| split[1].contains(tp)),
        "what a gave up went to b"
    );
    assert!(recorder.lost.lock().unwrap().is_empty());
    // The kept partitions did not restart: same positions, nothing re-read.
    for (tp, pos) in alone[0].iter().zip(&positions) {
        if split[0].contains(tp) {
            assert_eq!(a.position(tp), *pos, "{tp}");
        }
    }
    assert!(a.poll(Duration::from_millis(300)).await.unwrap().is_empty());
    // b starts where a committed on revoke: nothing of the 200 again.
    assert!(b.poll(Duration::from_millis(500)).await.unwrap().is_empty());
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_subscription_picks_up_matching_topics_created_later() {
    let client = client().await;
    let stem = kafkit_testkit::unique_topic("rx");
    let first = format!("{stem}-first");
    client
        .admin()
        .create_topic(&kafkit_client::NewTopic::new(&first, 2))
        .await
        .unwrap();
    let unrelated = format!("other-{stem}");
    client
        .admin()
        .create_topic(&kafkit_client::NewTopic::new(&unrelated, 1))
        .await
        .unwrap();
    let group = kafkit_testkit::unique_topic("group");
    let mut config = group_config(&group, Assignor::Range);
    config.client = config.client.metadata_max_age(Duration::from_secs(1));
    let c = Consumer::connect(config).await.unwrap();
    c.subscribe_pattern(&format!("{}-.*", regex_escape(&stem)))
        .await
        .unwrap();
    let got = until_assigned(&[&c], |s| s[0].len() == 2).await;
    assert!(got[0].iter().all(|tp| tp.topic == first), "{got:?}");

    let second = format!("{stem}-second");
    client
        .admin()
        .create_topic(&kafkit_client::NewTopic::new(&second, 1))
        .await
        .unwrap();
    let got = until_assigned(&[&c], |s| s[0].len() == 3).await;
    assert!(got[0].contains(&TopicPartition::new(&second, 0)), "{got:?}");
    assert!(got[0].iter().all(|tp| tp.topic != unrelated));

    let bad = Consumer::connect(group_config(&group, Assignor::Range))
        .await
        .unwrap();
    let err = bad.subscribe_pattern("(unclosed").await.unwrap_err();
    assert!(err.to_string().contains("(unclosed"), "{err}");
    c.close().await;
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stops_polling_leaves_and_comes_back_when_it_polls() {
    let client = client().await;
    let topic = topic(&client, "g-maxpoll", 4).await;
    let group = kafkit_testkit::unique_topic("group");
    let config = || {
        let mut c = group_config(&group, Assignor::Range);
        c.rebalance_timeout = Duration::from_secs(3); // max.poll.interval.ms
        c
    };
    let a = Consumer::connect(config()).await.unwrap();
    let b = Consumer::connect(config()).await.unwrap();
    a.subscribe(&[&topic]).await.unwrap();
    b.subscribe(&[&topic]).await.unwrap();
    until_assigned(&[&a, &b], |s| covers(s, &topic, 4)).await;
    // a stops polling; b keeps going and soon owns everything.
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.assignment().len() < 4 {
        assert!(
            Instant::now() < deadline,
            "b never took over: {:?}",
            b.assignment()
        );
        let _ = b.poll(Duration::from_millis(100)).await.unwrap();
    }
    assert!(a.assignment().is_empty(), "a gave its partitions up");
    // a polls again: it rejoins and the group splits again.
    until_assigned(&[&a, &b], |s| covers(s, &topic, 4)).await;
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_member_survives_a_broker_restart_and_resumes_exactly() {
    init_tracing();
    // Kafka keeps records, groups and commits across the restart; Tansu with sqlite storage.
    let mut broker = tokio::task::spawn_blocking(|| {
        kafkit_testkit::Broker::start_with(kafkit_testkit::BrokerOptions {
            storage: (!kafkit_testkit::on_kafka()).then(|| "sqlite://tansu.db".into()),
            ..Default::default()
        })
    })
    .await
    .unwrap();
    let bootstrap = broker.bootstrap();
    let client = kafkit_client::Client::connect(config(&bootstrap))
        .await
        .unwrap();
    let topic = topic(&client, "g-restart", 1).await;
    let values: Vec<String> = (0..1000).map(|i| format!("{i:04}")).collect();
    produce_single_record_batches(&client, &topic, 0, &values).await;
    let group = kafkit_testkit::unique_topic("group");
    let mut config = ConsumerConfig::new(config(&bootstrap))
        .group_id(&group)
        .session(Duration::from_secs(6), Duration::from_millis(300))
        .auto_offset_reset(OffsetReset::Earliest)
        .max_poll_records(100)
        .fetch_max_wait(Duration::from_millis(100))
        // Small fetches and buffer: the second half must be fetched after the restart.
        .max_partition_fetch_bytes(2048)
        .max_buffered_bytes(2048);
    config.rebalance_timeout = Duration::from_secs(10);
    let c = Consumer::connect(config).await.unwrap();
    c.subscribe(&[&topic]).await.unwrap();
    let mut offsets = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while offsets.len() < 500 && Instant::now() < deadline {
        offsets.extend(
            c.poll(Duration::from_millis(100))
                .await
                .unwrap()
                .iter()
                .map(|r| r.offset),
        );
    }
    assert!(offsets.len() >= 500);
    assert!(c.highwater(&TopicPartition::new(&topic, 0)) == 1000);
    broker = tokio::task::spawn_blocking(move || {
        broker.restart();
        broker
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while offsets.len() < 1000 && Instant::now() < deadline {
        match c.poll(Duration::from_millis(200)).await {
            Ok(rs) => offsets.extend(rs.iter().map(|r| r.offset)),
            Err(e) => assert!(
                e.is_retriable(),
                "only transient errors while the broker restarts: {e}"
            ),
        }
    }
    assert_eq!(
        offsets,
        (0..1000).collect::<Vec<i64>>(),
        "resumed exactly where it was"
    );
    c.close().await;
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_member_survives_dropped_connections() {
    let (p, client, topic) = proxied_topic("g-proxy", 2).await;
    for part in 0..2 {
        let values: Vec<String> = (0..5000).map(|i| format!("{part}-{i}")).collect();
        produce_single_record_batches(&client, &topic, part, &values).await;
    }
    let group = kafkit_testkit::unique_topic("group");
    let mut config = ConsumerConfig::new(config(&p.bootstrap()))
        .group_id(&group)
        .session(Duration::from_secs(6), Duration::from_millis(300))
        .auto_offset_reset(OffsetReset::Earliest)
        .max_poll_records(50)
        .max_partition_fetch_bytes(4096)
        .max_buffered_bytes(8192)
        .fetch_max_wait(Duration::from_millis(100));
    config.rebalance_timeout = Duration::from_secs(10);
    let c = Consumer::connect(config).await.unwrap();
    c.subscribe(&[&topic]).await.unwrap();
    let mut seen: BTreeSet<(i32, i64)> = BTreeSet::new();
    let mut reads = 0;
    let mut drops = 0;
    let mut last_drop = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(90);
    while seen.len() < 10_000 && Instant::now() < deadline {
        match c.poll(Duration::from_millis(100)).await {
            Ok(rs) => {
                reads += rs.len();
                seen.extend(rs.iter().map(|r| (r.partition, r.offset)));
            }
            Err(e) => assert!(e.is_retriable(), "only transient errors: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await; // read slowly, so drops land mid-run
        if !seen.is_empty() && drops < 8 && last_drop.elapsed() > Duration::from_millis(400) {
            p.proxy.close_all();
            drops += 1;
            last_drop = Instant::now();
        }
    }
    assert_eq!(seen.len(), 10_000, "every record read");
    assert!(drops >= 5, "{drops} connection drops");
    eprintln!("{reads} reads for 10000 records over {drops} drops");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_split_and_every_member_reads_the_roster_with_user_data() {
    let client = client().await;
    for assignor in [
        Assignor::Range,
        Assignor::RoundRobin,
        Assignor::CooperativeSticky,
    ] {
        let topic = topic(&client, &format!("g-three-{}", assignor.name()), 6).await;
        let group = kafkit_testkit::unique_topic("group");
        let mut members = Vec::new();
        for name in ["w1", "w2", "w3"] {
            let c = Consumer::connect(
                group_config(&group, assignor).group_user_data(format!("http://{name}:8080")),
            )
            .await
            .unwrap();
            c.subscribe(&[&topic]).await.unwrap();
            members.push(c);
        }
        let refs: Vec<&Consumer> = members.iter().collect();
        let split = until_assigned(&refs, |s| {
            covers(s, &topic, 6) && s.iter().all(|a| a.len() == 2)
        })
        .await;
        // Every member sees the same roster: three members, each with its user data and
        // exactly the partitions it owns.
        until_assigned(&refs, |_| {
            members.iter().all(|c| c.group_members().len() == 3)
        })
        .await;
        for (c, mine) in members.iter().zip(&split) {
            let roster = c.group_members();
            let (me, _) = c.group_member().unwrap();
            let entry = roster
                .iter()
                .find(|m| m.member_id == me)
                .expect("I am in the roster");
            let mut listed = entry.partitions.clone();
            listed.sort();
            assert_eq!(&listed, mine, "{assignor:?}");
            let data: BTreeSet<String> = roster
                .iter()
                .map(|m| String::from_utf8(m.user_data.clone().unwrap().to_vec()).unwrap())
                .collect();
            assert_eq!(
                data,
                ["http://w1:8080", "http://w2:8080", "http://w3:8080"]
                    .map(String::from)
                    .into(),
            );
        }
        // committed(): what commit() stored, per partition.
        let c = &members[0];
        let tp = c.assignment()[0].clone();
        c.commit_offsets(vec![(tp.clone(), 0, None)]).await.unwrap();
        let committed = c.committed(std::slice::from_ref(&tp)).await.unwrap();
        assert_eq!(committed.get(&tp), Some(&0));
        for c in &members {
            c.close().await;
        }
    }
}
