//! Global tables against a real broker.

use std::time::Duration;

use kafkit_client::{Client, ClientConfig, NewTopic, Producer, ProducerConfig, ProducerRecord};
use kafkit_table::{GlobalTable, Status, TableConfig, TableError, TableWriter};

mod common;
use common::{client_config, service, topic, Service};

#[tokio::test]
async fn a_cold_start_replays_to_the_last_revision_of_every_key() {
    let topic = topic("t-cold", 3).await;
    let writer = TableWriter::<Service>::json(client_config(), topic.clone())
        .await
        .unwrap();
    for revision in 1..=40 {
        for key in ["billing", "search", "users"] {
            writer.set(key, &service(key, revision)).await.unwrap();
        }
    }
    let table = GlobalTable::new(TableConfig::<Service>::json(client_config(), topic));
    assert!(
        matches!(table.get("billing"), Err(TableError::NotStarted(_))),
        "reads before start are an error"
    );
    assert_eq!(table.start().await.unwrap(), Status::CaughtUp);
    assert_eq!(table.len().unwrap(), 3);
    for key in ["billing", "search", "users"] {
        assert_eq!(*table.get(key).unwrap().unwrap(), service(key, 40));
    }
    let stats = table.stats();
    assert_eq!(stats.records_applied, 120);
    assert_eq!(stats.records_replayed, 120);
    assert!(stats.catch_up.is_some());
    // A snapshot is a stable view while the table moves on.
    let before = table.snapshot().unwrap();
    writer
        .set("billing", &service("billing", 41))
        .await
        .unwrap();
    assert!(table.barrier(Duration::from_secs(10)).await.unwrap());
    assert_eq!(table.get("billing").unwrap().unwrap().revision, 41);
    assert_eq!(before.get("billing").unwrap().revision, 40);
    table.stop().await;
    assert_eq!(table.status(), Status::Stopped);
}

#[tokio::test]
async fn tombstones_malformed_values_and_keyless_records_follow_ktables_rules() {
    let topic = topic("t-rules", 1).await;
    let writer = TableWriter::<Service>::json(client_config(), topic.clone())
        .await
        .unwrap();
    writer.set("a", &service("a", 1)).await.unwrap();
    writer.set("b", &service("b", 1)).await.unwrap();
    writer.delete("b").await.unwrap();
    // Raw records: a malformed value for "a", a keyless record, a key that is not UTF-8.
    let raw = Producer::connect(ProducerConfig::new(client_config()))
        .await
        .unwrap();
    raw.send_and_wait(
        ProducerRecord::new(topic.clone())
            .key("a")
            .value("{not json"),
    )
    .await
    .unwrap();
    raw.send_and_wait(ProducerRecord::new(topic.clone()).value("{}"))
        .await
        .unwrap();
    raw.send_and_wait(
        ProducerRecord::new(topic.clone())
            .key(vec![0xff, 0xfe])
            .value("{}"),
    )
    .await
    .unwrap();
    let table = GlobalTable::new(TableConfig::<Service>::json(client_config(), topic));
    table.start().await.unwrap();
    assert_eq!(
        *table.get("a").unwrap().unwrap(),
        service("a", 1),
        "the old value is kept"
    );
    assert!(!table.contains_key("b").unwrap(), "the tombstone removed b");
    let stats = table.stats();
    assert_eq!(stats.records_applied, 2);
    assert_eq!(stats.tombstones_applied, 1);
    assert_eq!(stats.value_decode_errors, 1);
    assert_eq!(stats.keyless_records, 1);
    assert_eq!(stats.key_decode_errors, 1);
}

#[tokio::test]
async fn barriers_see_acknowledged_writes_and_time_out_cleanly() {
    let topic = topic("t-barrier", 2).await;
    let table = GlobalTable::new(TableConfig::<Service>::json(client_config(), topic.clone()));
    assert!(matches!(
        table.barrier(Duration::from_secs(1)).await,
        Err(TableError::NotStarted(_))
    ));
    table.start().await.unwrap();
    // An idle table passes a barrier at once.
    assert!(table.barrier(Duration::from_secs(5)).await.unwrap());
    let writer = TableWriter::<Service>::json(client_config(), topic)
        .await
        .unwrap();
    for i in 0..20 {
        writer
            .set(&format!("k{i}"), &service("k", i))
            .await
            .unwrap();
    }
    // Concurrent barriers all see every write.
    let (a, b) = tokio::join!(
        table.barrier(Duration::from_secs(10)),
        table.barrier(Duration::from_secs(10))
    );
    assert!(a.unwrap() && b.unwrap());
    assert_eq!(table.len().unwrap(), 20);
    // A zero timeout is false, not an error.
    writer.set("late", &service("late", 1)).await.unwrap();
    // It cannot even read the end offsets in no time.
    let quick = table.barrier(Duration::ZERO).await.unwrap();
    assert!(!quick, "a zero-timeout barrier returns false");
}

#[tokio::test]
async fn a_reader_started_before_the_topic_exists_catches_up_once_it_does() {
    let name = kafkit_testkit::unique_topic("t-later");
    let table = GlobalTable::new(
        TableConfig::<Service>::json(client_config(), name.clone())
            .catch_up_timeout(Duration::from_secs(1)),
    );
    assert_eq!(
        table.start().await.unwrap(),
        Status::Degraded,
        "catch-up timed out: degraded"
    );
    assert_eq!(table.len().unwrap(), 0);
    let client = Client::connect(client_config()).await.unwrap();
    client
        .admin()
        .create_topic(&NewTopic::new(&name, 1))
        .await
        .unwrap();
    let writer = TableWriter::<Service>::json(client_config(), name)
        .await
        .unwrap();
    writer.set("x", &service("x", 7)).await.unwrap();
    assert!(table.wait_until_caught_up(Duration::from_secs(20)).await);
    assert!(table.barrier(Duration::from_secs(20)).await.unwrap());
    assert_eq!(table.get("x").unwrap().unwrap().revision, 7);
}

#[tokio::test]
async fn changes_stream_to_subscribers_and_hooks_run_with_failures_counted() {
    use std::sync::{Arc, Mutex};
    let topic = topic("t-changes", 1).await;
    let seen_sets: Arc<Mutex<Vec<String>>> = Arc::default();
    let sets = seen_sets.clone();
    let table = GlobalTable::new(
        TableConfig::<Service>::json(client_config(), topic.clone())
            .on_set(move |key, v| {
                sets.lock().unwrap().push(format!("{key}={}", v.revision));
                if key == "bad" {
                    Err("the hook refuses 'bad'".into())
                } else {
                    Ok(())
                }
            })
            .on_delete(|_key| Ok(())),
    );
    table.start().await.unwrap();
    let mut changes = table.changes();
    let writer = TableWriter::<Service>::json(client_config(), topic)
        .await
        .unwrap();
    // Subscribed when called: the changes written next are seen however late it runs.
    let waiter = tokio::spawn(table.wait_for_change("b", Duration::from_secs(20)));
    writer.set("a", &service("a", 1)).await.unwrap();
    writer.set("a", &service("a", 2)).await.unwrap();
    writer.delete("a").await.unwrap();
    writer.set("b", &service("b", 1)).await.unwrap();
    writer.set("bad", &service("bad", 1)).await.unwrap();

    let mut got = Vec::new();
    while got.len() < 5 {
        let c = tokio::time::timeout(Duration::from_secs(20), changes.recv())
            .await
            .unwrap()
            .unwrap();
        got.push((
            c.key.to_string(),
            c.old.map(|v| v.revision),
            c.new.map(|v| v.revision),
        ));
    }
    assert_eq!(
        got,
        vec![
            ("a".to_string(), None, Some(1)),
            ("a".to_string(), Some(1), Some(2)),
            ("a".to_string(), Some(2), None),
            ("b".to_string(), None, Some(1)),
            ("bad".to_string(), None, Some(1)),
        ]
    );
    let b = waiter.await.unwrap().unwrap().expect("b changed");
    assert_eq!(b.new.unwrap().revision, 1);
    assert_eq!(
        *seen_sets.lock().unwrap(),
        vec!["a=1", "a=2", "b=1", "bad=1"]
    );
    assert_eq!(
        table.stats().hook_errors,
        1,
        "the failing hook is counted, not swallowed"
    );
}

#[tokio::test]
async fn ensure_topic_creates_compacted_and_checks_existing_policies() {
    use kafkit_client::ConfigResource;
    use kafkit_table::{ensure_topic, Ensured, PolicyCheck};
    let client = Client::connect(client_config()).await.unwrap();
    let policy = |name: String| {
        let client = client.clone();
        async move {
            client
                .admin()
                .describe_configs(&ConfigResource::Topic(name))
                .await
                .unwrap()
                .into_iter()
                .find(|e| e.name == "cleanup.policy")
                .and_then(|e| e.value)
        }
    };
    let fresh = kafkit_testkit::unique_topic("t-ensure");
    assert_eq!(
        ensure_topic(&client, &fresh, 2, PolicyCheck::Error)
            .await
            .unwrap(),
        Ensured::Created
    );
    assert_eq!(policy(fresh.clone()).await.as_deref(), Some("compact"));
    assert_eq!(
        ensure_topic(&client, &fresh, 2, PolicyCheck::Error)
            .await
            .unwrap(),
        Ensured::AlreadyCompacted,
        "idempotent"
    );

    let plain = kafkit_testkit::unique_topic("t-plain");
    client
        .admin()
        .create_topic(
            &NewTopic::new(&plain, 1)
                .config("cleanup.policy", "delete")
                .config("retention.ms", "86400000"),
        )
        .await
        .unwrap();
    let err = ensure_topic(&client, &plain, 1, PolicyCheck::Error)
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::Policy { .. }), "{err}");
    assert!(
        err.to_string().contains(&plain) && err.to_string().contains("delete"),
        "{err}"
    );
    assert_eq!(
        ensure_topic(&client, &plain, 1, PolicyCheck::Warn)
            .await
            .unwrap(),
        Ensured::Accepted
    );
    assert_eq!(
        ensure_topic(&client, &plain, 1, PolicyCheck::Ignore)
            .await
            .unwrap(),
        Ensured::Accepted
    );
    assert_eq!(
        ensure_topic(&client, &plain, 1, PolicyCheck::Reconcile)
            .await
            .unwrap(),
        Ensured::Reconciled
    );
    assert_eq!(policy(plain.clone()).await.as_deref(), Some("compact"));
    let retention = client
        .admin()
        .describe_configs(&ConfigResource::Topic(plain.clone()))
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.name == "retention.ms")
        .and_then(|e| e.value);
    assert_eq!(
        retention.as_deref(),
        Some("86400000"),
        "other overrides are kept"
    );

    // A table can ensure its topic at start.
    let auto = kafkit_testkit::unique_topic("t-auto");
    let table = GlobalTable::new(
        TableConfig::<Service>::json(client_config(), auto.clone())
            .ensure_topic(3, PolicyCheck::Error),
    );
    assert_eq!(table.start().await.unwrap(), Status::CaughtUp);
    assert_eq!(policy(auto).await.as_deref(), Some("compact"));
}

#[tokio::test]
async fn a_grouped_registry_and_a_restart_that_rebuilds_identical_contents() {
    use kafkit_table::{GroupedTable, GroupedTableWriter};
    let topic = topic("t-grouped", 2).await;
    let writer = GroupedTableWriter::new(
        TableWriter::<Service>::json(client_config(), topic.clone())
            .await
            .unwrap(),
    );
    writer
        .set("billing", "w1", &service("w1", 1))
        .await
        .unwrap();
    writer
        .set("billing", "w2", &service("w2", 1))
        .await
        .unwrap();
    writer.set("search", "w1", &service("w1", 3)).await.unwrap();
    writer.set("bill", "ingw1", &service("x", 9)).await.unwrap(); // no collision with billing/w1
    writer.delete("billing", "w2").await.unwrap();
    let table = GroupedTable::new(GlobalTable::new(TableConfig::<Service>::json(
        client_config(),
        topic.clone(),
    )));
    table.table().start().await.unwrap();
    let billing = table.group("billing").unwrap();
    assert_eq!(billing.keys().collect::<Vec<_>>(), vec!["w1"]);
    assert_eq!(table.get("search", "w1").unwrap().unwrap().revision, 3);
    assert_eq!(table.get("bill", "ingw1").unwrap().unwrap().revision, 9);
    assert_eq!(table.groups().unwrap().len(), 3);

    // A second reader over the same topic rebuilds exactly the same contents.
    let again = GlobalTable::new(TableConfig::<Service>::json(client_config(), topic));
    again.start().await.unwrap();
    let a: std::collections::BTreeMap<String, Service> = table
        .table()
        .snapshot()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_string(), (**v).clone()))
        .collect();
    let b: std::collections::BTreeMap<String, Service> = again
        .snapshot()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_string(), (**v).clone()))
        .collect();
    assert_eq!(a, b);
    assert_eq!(a.len(), 3);
}

/// Writes a batch whose CRC does not match its contents (as a disk or network fault would).
async fn produce_corrupt_batch(topic: &str) -> bool {
    use kafkit_client::wire::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafkit_client::wire::messages::{ProduceRequest, TopicName};
    use kafkit_client::wire::StrBytes;
    let mut b = kafkit_record::BatchBuilder::new(0, 0);
    b.push(0, Some(b"k"), Some(b"{\"url\":\"x\",\"revision\":1}"), &[]);
    let mut bytes = b
        .finish(kafkit_record::Compression::None, None)
        .unwrap()
        .to_vec();
    let last = bytes.len() - 2;
    bytes[last] ^= 0xff;
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.into())))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(bytes.into()))])]);
    let client = Client::connect(client_config()).await.unwrap();
    let conn = client
        .connection(&kafkit_client::Target::LeastLoaded)
        .await
        .unwrap();
    let version = conn.version_for::<ProduceRequest>(Some(12)).unwrap();
    let r = conn.send_version(&request, version).await.unwrap();
    r.responses[0].partition_responses[0].error_code == 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_batch_fails_the_table_and_freezes_its_contents() {
    if !kafkit_testkit::on_kafka() {
        // Tansu stores a batch whose CRC does not match as it is.
        let topic = topic("t-corrupt", 1).await;
        let writer = TableWriter::<Service>::json(client_config(), topic.clone())
            .await
            .unwrap();
        writer.set("a", &service("a", 1)).await.unwrap();
        assert!(
            produce_corrupt_batch(&topic).await,
            "Tansu took the corrupt batch"
        );
        return check_failed_table(client_config(), topic).await;
    }
    // Kafka checks CRCs on produce and refuses the batch...
    let refused = topic("t-corrupt-refused", 1).await;
    assert!(
        !produce_corrupt_batch(&refused).await,
        "Kafka validates a batch's CRC on produce"
    );
    // ...so the fault comes from its disk: a byte flipped in a private broker's segment file,
    // which it serves as it is.
    let broker = tokio::task::spawn_blocking(kafkit_testkit::Broker::start)
        .await
        .unwrap();
    let config = ClientConfig::new([broker.bootstrap()])
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(10));
    let topic = kafkit_testkit::unique_topic("t-corrupt");
    Client::connect(config.clone())
        .await
        .unwrap()
        .admin()
        .create_topic(&NewTopic::new(&topic, 1))
        .await
        .unwrap();
    let writer = TableWriter::<Service>::json(config.clone(), topic.clone())
        .await
        .unwrap();
    writer.set("a", &service("a", 1)).await.unwrap();
    writer.set("b", &service("b", 1)).await.unwrap();
    let segment = broker
        .dir()
        .join(format!("data/{topic}-0/00000000000000000000.log"));
    let mut bytes = std::fs::read(&segment).unwrap();
    let last = bytes.len() - 2; // inside the second batch's only record
    bytes[last] ^= 0xff;
    std::fs::write(&segment, bytes).unwrap();
    check_failed_table(config, topic).await;
}

/// The table over `topic`, whose batch at offset 1 is corrupt, fails there and keeps what it
/// read before.
async fn check_failed_table(config: ClientConfig, topic: String) {
    let table = GlobalTable::new(
        TableConfig::<Service>::json(config, topic).catch_up_timeout(Duration::from_secs(5)),
    );
    let status = table.start().await.unwrap();
    assert_eq!(status, Status::Failed);
    let failure = table.failure().expect("the error is kept");
    let text = failure.to_string();
    assert!(
        text.contains("corrupt") && text.contains("offset 1"),
        "{text}"
    );
    assert_eq!(
        *table.get("a").unwrap().unwrap(),
        service("a", 1),
        "contents before the fault stay"
    );
    assert!(
        !table.barrier(Duration::from_secs(2)).await.unwrap(),
        "a failed reader passes no barrier"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_lose_no_update() {
    let kafkit_testkit::ProxiedBroker { proxy, broker } =
        kafkit_testkit::ProxiedBroker::start(None).await;
    let config = ClientConfig::new([proxy.address()])
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(10));
    let name = kafkit_testkit::unique_topic("t-proxy");
    Client::connect(config.clone())
        .await
        .unwrap()
        .admin()
        .create_topic(&NewTopic::new(&name, 2))
        .await
        .unwrap();
    let table = GlobalTable::new(TableConfig::<Service>::json(config.clone(), name.clone()));
    table.start().await.unwrap();
    let writer = TableWriter::<Service>::json(config, name).await.unwrap();
    let mut expected = std::collections::BTreeMap::new();
    for i in 0..300u32 {
        let key = format!("k{}", i % 20);
        writer.set(&key, &service(&key, i)).await.unwrap();
        expected.insert(key, i);
        if i % 30 == 29 {
            proxy.close_all();
        }
    }
    assert!(table.barrier(Duration::from_secs(30)).await.unwrap());
    let got: std::collections::BTreeMap<String, u32> = table
        .snapshot()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_string(), v.revision))
        .collect();
    assert_eq!(got, expected, "every last revision is there");
    assert_eq!(table.status(), Status::CaughtUp);
    assert_eq!(
        table.stats().records_applied,
        300,
        "each update applied once"
    );
    drop(broker);
}

/// Writes one raw record (`None`: a tombstone) and returns its acknowledgement to await.
async fn write_raw(
    producer: &Producer,
    topic: &str,
    key: &str,
    value: Option<Vec<u8>>,
) -> kafkit_client::DeliveryFuture {
    let mut record = ProducerRecord::new(topic.to_string()).key(key.to_string());
    if let Some(v) = value {
        record = record.value(v);
    }
    producer.send(record).await.unwrap()
}

/// Record `i` of the model workload over `keys` keys: every 13th a tombstone, every 17th a
/// malformed value, the others revision `i`. Applies it to `model` as the table must.
fn model_record(
    i: u32,
    keys: u32,
    model: &mut std::collections::BTreeMap<String, u32>,
) -> (String, Option<Vec<u8>>) {
    let key = format!("k{}", (i * 7919) % keys);
    let value = if i % 13 == 0 {
        model.remove(&key);
        None
    } else if i % 17 == 0 {
        Some(b"{oops".to_vec()) // the previous value stays
    } else {
        model.insert(key.clone(), i);
        Some(serde_json::to_vec(&service(&key, i)).unwrap())
    };
    (key, value)
}

fn revisions(
    snapshot: &kafkit_table::Snapshot<Service>,
) -> std::collections::BTreeMap<String, u32> {
    snapshot
        .iter()
        .map(|(k, v)| (k.to_string(), v.revision))
        .collect()
}

/// A catch-up over thousands of keys (tombstones, malformed values, keys that come back) ends
/// exactly where the model ends; live changes past the map's merge threshold keep it exact,
/// and a snapshot taken before them does not move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_catch_up_and_many_live_changes_match_a_model() {
    let topic = topic("t-large", 3).await;
    let producer = Producer::connect(ProducerConfig::new(client_config()))
        .await
        .unwrap();
    let mut model = std::collections::BTreeMap::new();
    let mut acks = Vec::new();
    for i in 1..=20_000u32 {
        let (key, value) = model_record(i, 5_000, &mut model);
        acks.push(write_raw(&producer, &topic, &key, value).await);
    }
    for ack in acks.drain(..) {
        ack.await.unwrap();
    }
    let table = GlobalTable::new(TableConfig::<Service>::json(client_config(), topic.clone()));
    assert_eq!(table.start().await.unwrap(), Status::CaughtUp);
    let caught_up = table.snapshot().unwrap();
    assert_eq!(revisions(&caught_up), model, "the catch-up");
    assert_eq!(caught_up.len(), model.len());
    assert_eq!(table.stats().records_replayed, 20_000);
    let at_catch_up = model.clone();
    // Live: 8 000 changes over 12 000 keys, more than 4 096 distinct keys changed.
    for i in 20_001..=28_000u32 {
        let (key, value) = model_record(i, 12_000, &mut model);
        acks.push(write_raw(&producer, &topic, &key, value).await);
    }
    for ack in acks.drain(..) {
        ack.await.unwrap();
    }
    assert!(table.barrier(Duration::from_secs(30)).await.unwrap());
    let live = table.snapshot().unwrap();
    assert_eq!(revisions(&live), model, "after the live changes");
    assert_eq!(table.len().unwrap(), model.len());
    for (key, revision) in model.iter().take(100) {
        assert_eq!(table.get(key).unwrap().unwrap().revision, *revision);
    }
    assert_eq!(
        revisions(&caught_up),
        at_catch_up,
        "the old snapshot did not move"
    );
}
