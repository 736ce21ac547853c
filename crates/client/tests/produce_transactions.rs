//! Transactions (exactly-once) against a real broker: commit and abort as `read_committed`
//! readers see them, the last stable offset, fencing, offsets committed in a transaction,
//! the transaction timeout, and calls made in the wrong state. Kafka only: Tansu has no
//! transaction coordinator (docs/TESTING.md).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{client, config, producer_config, topic};
use kafkit_client::{
    Consumer, ConsumerConfig, ConsumerRecord, Isolation, Offset, Producer, ProducerRecord,
    TopicPartition,
};

fn skip_on_tansu() -> bool {
    if kafkit_testkit::on_kafka() {
        return false;
    }
    eprintln!("skipped on Tansu: it has no transaction coordinator");
    true
}

fn unique_id(prefix: &str) -> String {
    kafkit_testkit::unique_topic(prefix)
}

async fn transactional(id: &str) -> Producer {
    let config = producer_config(&kafkit_testkit::shared_broker())
        .transactional_id(id)
        .linger(Duration::from_millis(1));
    Producer::connect(config)
        .await
        .expect("a transactional producer connects")
}

async fn reader(topic: &str, partitions: i32, isolation: Isolation) -> Consumer {
    let config = ConsumerConfig::new(config(&kafkit_testkit::shared_broker()))
        .isolation(isolation)
        .fetch_max_wait(Duration::from_millis(100));
    let consumer = Consumer::connect(config).await.unwrap();
    let tps: Vec<TopicPartition> = (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    consumer.assign(&tps).await.unwrap();
    for tp in &tps {
        consumer.seek(tp, Offset::Beginning).unwrap();
    }
    consumer
}

/// Everything readable now: polls until `quiet` passes with nothing new.
async fn read_all(consumer: &Consumer, quiet: Duration) -> Vec<ConsumerRecord> {
    let mut out = Vec::new();
    let mut last = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(30);
    while last.elapsed() < quiet && Instant::now() < deadline {
        let got = consumer.poll(Duration::from_millis(100)).await.unwrap();
        if !got.is_empty() {
            last = Instant::now();
        }
        out.extend(got);
    }
    out
}

fn values(records: &[ConsumerRecord]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    v.sort();
    v
}

async fn send_values(producer: &Producer, topic: &str, prefix: &str, n: usize) {
    for i in 0..n {
        producer
            .send(
                ProducerRecord::new(topic.to_string())
                    .key(format!("k{}", i % 5))
                    .value(format!("{prefix}-{i:03}")),
            )
            .await
            .expect("a send inside a transaction is taken");
    }
}

fn expected(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:03}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_committed_sees_committed_transactions_only_across_partitions() {
    if skip_on_tansu() {
        return;
    }
    let client = client().await;
    let topic = topic(&client, "txn-rc", 3).await;
    let producer = transactional(&unique_id("txn-rc")).await;

    producer.begin_transaction().unwrap();
    send_values(&producer, &topic, "a", 30).await;
    producer.commit_transaction().await.unwrap();

    producer.begin_transaction().unwrap();
    send_values(&producer, &topic, "b", 20).await;
    producer.flush().await; // written to the log, then aborted
    producer.abort_transaction().await.unwrap();

    producer.begin_transaction().unwrap();
    send_values(&producer, &topic, "c", 10).await;
    producer.commit_transaction().await.unwrap();

    let committed = reader(&topic, 3, Isolation::ReadCommitted).await;
    let seen = read_all(&committed, Duration::from_secs(2)).await;
    let mut want = expected("a", 30);
    want.extend(expected("c", 10));
    assert_eq!(values(&seen), want, "read_committed: a and c, never b");
    // Per partition, offsets rise (markers and aborted records leave gaps, never reorder).
    let mut last: BTreeMap<i32, i64> = BTreeMap::new();
    for r in &seen {
        let prev = last.insert(r.partition, r.offset).unwrap_or(-1);
        assert!(
            r.offset > prev,
            "partition {} went back to {}",
            r.partition,
            r.offset
        );
    }

    let uncommitted = reader(&topic, 3, Isolation::ReadUncommitted).await;
    let all = read_all(&uncommitted, Duration::from_secs(2)).await;
    let mut want_all = expected("a", 30);
    want_all.extend(expected("b", 20));
    want_all.extend(expected("c", 10));
    want_all.sort();
    assert_eq!(
        values(&all),
        want_all,
        "read_uncommitted sees the aborted records too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_transaction_holds_read_committed_readers_at_the_last_stable_offset() {
    if skip_on_tansu() {
        return;
    }
    let client = client().await;
    let topic = topic(&client, "txn-lso", 1).await;
    let plain = Producer::connect(producer_config(&kafkit_testkit::shared_broker()))
        .await
        .unwrap();
    for i in 0..5 {
        plain
            .send_and_wait(ProducerRecord::new(topic.clone()).value(format!("p-{i:03}")))
            .await
            .unwrap();
    }
    let producer = transactional(&unique_id("txn-lso")).await;
    producer.begin_transaction().unwrap();
    send_values(&producer, &topic, "t", 7).await;
    producer.flush().await;
    // A plain record after the open transaction: read_committed must not pass it either.
    plain
        .send_and_wait(ProducerRecord::new(topic.clone()).value("late"))
        .await
        .unwrap();

    let tp = TopicPartition::new(&topic, 0);
    let committed = reader(&topic, 1, Isolation::ReadCommitted).await;
    let before = read_all(&committed, Duration::from_secs(1)).await;
    assert_eq!(
        values(&before),
        expected("p", 5),
        "only what precedes the open transaction"
    );
    assert_eq!(committed.position(&tp), Some(5));
    assert_eq!(committed.highwater(&tp), 13, "5 plain + 7 open + 1 late");
    assert_eq!(
        committed.lag(&tp),
        Some(0),
        "lag counts up to the LSO (5), not the HW"
    );
    // The end a read_committed reader seeks to, and the admin's view of it, are the LSO too.
    assert_eq!(
        client.admin().committed_range(&topic).await.unwrap()[&0],
        (0, 5)
    );
    assert_eq!(
        client.admin().watermarks(&topic).await.unwrap()[&0],
        (0, 13)
    );
    let at_end = reader(&topic, 1, Isolation::ReadCommitted).await;
    at_end.seek(&tp, Offset::End).unwrap();
    assert!(read_all(&at_end, Duration::from_millis(500))
        .await
        .is_empty());
    assert_eq!(
        at_end.position(&tp),
        Some(5),
        "the end of read_committed is the LSO"
    );

    producer.commit_transaction().await.unwrap();
    let after = read_all(&committed, Duration::from_secs(2)).await;
    let mut want = expected("t", 7);
    want.push("late".into());
    want.sort();
    assert_eq!(values(&after), want);
    assert_eq!(committed.lag(&tp), Some(0));
    assert_eq!(committed.position(&tp), Some(14), "past the commit marker");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_instance_fences_the_old_one_and_aborts_its_open_transaction() {
    if skip_on_tansu() {
        return;
    }
    let client = client().await;
    let topic = topic(&client, "txn-fence", 2).await;
    let id = unique_id("txn-fence");
    let old = transactional(&id).await;
    old.begin_transaction().unwrap();
    send_values(&old, &topic, "old", 10).await;
    old.flush().await;
    let (old_pid, old_epoch) = old.producer_id().unwrap();

    let new = transactional(&id).await;
    let (new_pid, new_epoch) = new.producer_id().unwrap();
    assert_eq!(
        new_pid, old_pid,
        "the same transactional id keeps its producer id"
    );
    assert!(new_epoch > old_epoch, "with a higher epoch");

    let err = old.commit_transaction().await.unwrap_err();
    assert!(
        err.is_transaction_fatal(),
        "the fenced producer says so: {err}"
    );
    assert!(
        err.to_string().contains(&id),
        "the error names the transactional id: {err}"
    );
    let again = old.begin_transaction().unwrap_err();
    assert!(again.is_transaction_fatal(), "and stays unusable: {again}");

    new.begin_transaction().unwrap();
    send_values(&new, &topic, "new", 10).await;
    new.commit_transaction().await.unwrap();

    let committed = reader(&topic, 2, Isolation::ReadCommitted).await;
    let seen = read_all(&committed, Duration::from_secs(2)).await;
    assert_eq!(
        values(&seen),
        expected("new", 10),
        "the old transaction was aborted"
    );
}

/// Writes each record's value with "in" made "out" to `output`, and sends `next` as `group`'s
/// offsets, in the open transaction.
async fn transform(
    producer: &Producer,
    records: &[ConsumerRecord],
    output: &str,
    next: &[(TopicPartition, i64)],
    group: &kafkit_client::ConsumerGroupMetadata,
) {
    for r in records {
        let v = String::from_utf8_lossy(r.value.as_deref().unwrap()).replace("in", "out");
        producer
            .send(ProducerRecord::new(output.to_string()).value(v))
            .await
            .unwrap();
    }
    producer
        .send_offsets_to_transaction(next, group)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_sent_in_a_transaction_are_committed_only_with_it() {
    if skip_on_tansu() {
        return;
    }
    let client = client().await;
    let input = topic(&client, "txn-in", 2).await;
    let output = topic(&client, "txn-out", 2).await;
    let plain = Producer::connect(producer_config(&kafkit_testkit::shared_broker()))
        .await
        .unwrap();
    for i in 0..20 {
        plain
            .send_and_wait(
                ProducerRecord::new(input.clone())
                    .key(format!("k{i}"))
                    .value(format!("in-{i:03}")),
            )
            .await
            .unwrap();
    }
    let group = unique_id("txn-group");
    let consumer = Consumer::connect(
        ConsumerConfig::new(config(&kafkit_testkit::shared_broker()))
            .group_id(&group)
            .auto_commit(false)
            .auto_offset_reset(kafkit_client::OffsetReset::Earliest)
            .fetch_max_wait(Duration::from_millis(100)),
    )
    .await
    .unwrap();
    consumer.subscribe(&[input.as_str()]).await.unwrap();
    let mut records = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while records.len() < 20 && Instant::now() < deadline {
        records.extend(consumer.poll(Duration::from_millis(200)).await.unwrap());
    }
    assert_eq!(records.len(), 20);
    let meta = consumer.group_metadata().expect("the consumer has a group");
    assert!(
        meta.generation >= 1 && !meta.member_id.is_empty(),
        "joined: {meta:?}"
    );
    let next: Vec<(TopicPartition, i64)> = (0..2)
        .map(|p| {
            let tp = TopicPartition::new(&input, p);
            let pos = consumer.position(&tp).unwrap();
            (tp, pos)
        })
        .collect();
    let tps: Vec<TopicPartition> = next.iter().map(|(tp, _)| tp.clone()).collect();

    let producer = transactional(&unique_id("txn-eos")).await;
    // Aborted: neither the output nor the offsets count.
    producer.begin_transaction().unwrap();
    transform(&producer, &records, &output, &next, &meta).await;
    producer.abort_transaction().await.unwrap();
    let committed = consumer.committed(&tps).await.unwrap();
    assert!(
        committed.is_empty(),
        "an aborted transaction commits no offsets: {committed:?}"
    );

    // Committed: both.
    producer.begin_transaction().unwrap();
    transform(&producer, &records, &output, &next, &meta).await;
    producer.commit_transaction().await.unwrap();
    let committed = consumer.committed(&tps).await.unwrap();
    for (tp, pos) in &next {
        assert_eq!(
            committed.get(tp),
            Some(pos),
            "{tp:?} committed with the transaction"
        );
    }
    let out = reader(&output, 2, Isolation::ReadCommitted).await;
    assert_eq!(
        values(&read_all(&out, Duration::from_secs(2)).await),
        expected("out", 20)
    );

    // A stale generation is refused, and the transaction must then be aborted.
    let mut stale = meta.clone();
    stale.generation -= 1;
    producer.begin_transaction().unwrap();
    let err = producer
        .send_offsets_to_transaction(&next, &stale)
        .await
        .unwrap_err();
    assert!(err.is_transaction_abortable(), "{err}");
    assert!(err.to_string().contains(&group), "names the group: {err}");
    assert!(producer
        .commit_transaction()
        .await
        .unwrap_err()
        .is_transaction_abortable());
    producer.abort_transaction().await.unwrap();
    consumer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_in_the_wrong_state_are_refused_with_a_clear_error() {
    if skip_on_tansu() {
        return;
    }
    let client = client().await;
    let topic = topic(&client, "txn-state", 1).await;
    let id = unique_id("txn-state");
    let producer = transactional(&id).await;
    let err = producer
        .send(ProducerRecord::new(topic.clone()).value("x"))
        .await
        .unwrap_err()
        .error;
    assert!(
        err.to_string().contains("begin_transaction") && err.to_string().contains(&id),
        "{err}"
    );
    assert!(producer.commit_transaction().await.is_err());
    producer.begin_transaction().unwrap();
    assert!(
        producer.begin_transaction().is_err(),
        "one transaction at a time"
    );
    // An empty transaction commits without a coordinator round trip.
    producer.commit_transaction().await.unwrap();

    let plain = Producer::connect(producer_config(&kafkit_testkit::shared_broker()))
        .await
        .unwrap();
    let err = plain.begin_transaction().unwrap_err();
    assert!(err.to_string().contains("transactional.id"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_aborts_a_transaction_left_open_past_its_timeout() {
    if skip_on_tansu() {
        return;
    }
    let client = client().await;
    let topic = topic(&client, "txn-timeout", 1).await;
    let config = producer_config(&kafkit_testkit::shared_broker())
        .transactional_id(unique_id("txn-timeout"))
        .transaction_timeout(Duration::from_millis(1500));
    let producer = Producer::connect(config).await.unwrap();
    producer.begin_transaction().unwrap();
    send_values(&producer, &topic, "slow", 3).await;
    producer.flush().await;
    // The coordinator aborts it (and bumps the epoch): read_committed readers move on.
    let tp = TopicPartition::new(&topic, 0);
    let committed = reader(&topic, 1, Isolation::ReadCommitted).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let _ = committed.poll(Duration::from_millis(200)).await.unwrap();
        if committed.position(&tp).is_some_and(|p| p >= 4) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the transaction was never aborted"
        );
    }
    let err = producer.commit_transaction().await.unwrap_err();
    assert!(
        err.is_transaction_fatal() || err.is_transaction_abortable(),
        "a commit after the timeout fails: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_broker_refuses_makes_the_transaction_abortable_and_the_next_one_works() {
    if skip_on_tansu() {
        return;
    }
    let client = client().await;
    let topic = kafkit_testkit::unique_topic("txn-refused");
    client
        .admin()
        .create_topic(&kafkit_client::NewTopic::new(&topic, 1).config("max.message.bytes", "2000"))
        .await
        .unwrap();
    let producer = transactional(&unique_id("txn-refused")).await;
    let (pid, epoch) = producer.producer_id().unwrap();

    producer.begin_transaction().unwrap();
    send_values(&producer, &topic, "lost", 5).await;
    producer.flush().await;
    let too_large = producer
        .send(ProducerRecord::new(topic.clone()).value(vec![b'x'; 10_000]))
        .await
        .unwrap();
    let refused = too_large.await.unwrap_err();
    assert!(refused.to_string().contains(&topic), "{refused}");
    let err = producer.commit_transaction().await.unwrap_err();
    assert!(err.is_transaction_abortable(), "{err}");
    producer.abort_transaction().await.unwrap();
    // The refused batch had a sequence: the abort bumped the epoch and restarted sequences.
    let (pid2, epoch2) = producer.producer_id().unwrap();
    assert_eq!(pid2, pid);
    assert!(
        epoch2 > epoch,
        "epoch bumped after the abort: {epoch} → {epoch2}"
    );

    producer.begin_transaction().unwrap();
    send_values(&producer, &topic, "kept", 5).await;
    producer.commit_transaction().await.unwrap();
    let committed = reader(&topic, 1, Isolation::ReadCommitted).await;
    let seen = read_all(&committed, Duration::from_secs(2)).await;
    assert_eq!(values(&seen), expected("kept", 5));
}
