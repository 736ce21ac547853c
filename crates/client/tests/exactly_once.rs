//! The consume-transform-produce example (examples/exactly_once.rs) survives what happens to
//! real deployments: its connections cut mid-transaction, and its process killed and
//! restarted. The output, read committed, must hold every input record exactly once.
//! Kafka only: Tansu has no transaction coordinator (docs/TESTING.md).

mod common;

#[allow(dead_code)]
#[path = "../examples/exactly_once.rs"]
mod example;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{config, read_topic, value_texts};
use kafkit_client::{Client, Isolation, NewTopic, Producer, ProducerConfig, ProducerRecord};
use kafkit_testkit::ProxiedBroker;

const INPUT_RECORDS: usize = 3000;
const PARTITIONS: i32 = 3;

/// Every value in `topic` with the given isolation, as read from the beginning until quiet.
async fn read_values(bootstrap: &str, topic: &str, isolation: Isolation) -> Vec<String> {
    let records = read_topic(
        bootstrap,
        topic,
        PARTITIONS,
        isolation,
        Duration::from_millis(1500),
    )
    .await;
    value_texts(&records)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transform_writes_each_input_once_through_cut_connections_and_a_killed_process() {
    if !kafkit_testkit::on_kafka() {
        eprintln!("skipped on Tansu: it has no transaction coordinator");
        return;
    }
    let cluster = ProxiedBroker::start(None).await;
    let bootstrap = cluster.bootstrap();
    let client = Client::connect(config(&bootstrap)).await.unwrap();
    let input = kafkit_testkit::unique_topic("eos-in");
    let output = kafkit_testkit::unique_topic("eos-out");
    for name in [&input, &output] {
        client
            .admin()
            .create_topic(&NewTopic::new(name, PARTITIONS))
            .await
            .unwrap();
    }
    // The input arrives over several seconds, so the transform is killed mid-stream.
    let feeder = {
        let (bootstrap, input) = (bootstrap.clone(), input.clone());
        tokio::spawn(async move {
            let producer = Producer::connect(ProducerConfig::new(config(&bootstrap)))
                .await
                .unwrap();
            for i in 0..INPUT_RECORDS {
                producer
                    .send(
                        ProducerRecord::new(input.clone())
                            .key(format!("k{}", i % 17))
                            .value(format!("v{i:05}")),
                    )
                    .await
                    .unwrap();
                if i % 10 == 9 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            producer.flush().await;
        })
    };

    let transform = example::Transform {
        client: config(&bootstrap),
        input: input.clone(),
        output: output.clone(),
        group: kafkit_testkit::unique_topic("eos-group"),
        instance: "only".into(),
        stall_after: None,
    };

    // First run: connections cut twice while it works; past 1000 records it stalls with a
    // transaction open (its records in the log), and the process dies (its task is dropped:
    // no close, the transaction left open, its member never leaves).
    let first = {
        let mut t = transform.clone();
        t.stall_after = Some(1000);
        tokio::spawn(async move { t.run(std::future::pending()).await })
    };
    let mut cuts = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let written = read_values(&bootstrap, &output, Isolation::ReadUncommitted)
            .await
            .len();
        if written >= 300 * (cuts + 1) && cuts < 2 {
            cluster.proxy.close_all();
            cuts += 1;
        } else if cuts == 2 && written > 1000 {
            let committed = read_values(&bootstrap, &output, Isolation::ReadCommitted).await;
            if written > committed.len() {
                break; // records of the open transaction are in the log
            }
        }
        assert!(
            !first.is_finished(),
            "the first run stopped: {:?}",
            first.await
        );
        assert!(
            Instant::now() < deadline,
            "the first run wrote only {written} records"
        );
    }
    first.abort();
    let _ = first.await;
    feeder.await.unwrap();

    // Second run: fences the first, aborts what it left open, goes on from its commits.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let second = {
        let t = transform.clone();
        tokio::spawn(async move {
            t.run(async {
                let _ = stop_rx.await;
            })
            .await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    let committed = loop {
        let committed = read_values(&bootstrap, &output, Isolation::ReadCommitted).await;
        if committed.len() >= INPUT_RECORDS {
            break committed;
        }
        assert!(
            !second.is_finished(),
            "the second run stopped: {:?}",
            second.await
        );
        assert!(
            Instant::now() < deadline,
            "only {} of {INPUT_RECORDS} records committed",
            committed.len()
        );
    };
    let _ = stop_tx.send(());
    second.await.unwrap().expect("the second run ends cleanly");

    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for v in read_values(&bootstrap, &output, Isolation::ReadCommitted).await {
        *counts.entry(v).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(twice.is_empty(), "written more than once: {twice:?}");
    let want: BTreeMap<String, usize> = (0..INPUT_RECORDS)
        .map(|i| (format!("V{i:05}"), 1))
        .collect();
    assert_eq!(
        counts.len(),
        want.len(),
        "every input record is in the output"
    );
    assert_eq!(counts, want);
    assert!(committed.len() >= INPUT_RECORDS);
    let all = read_values(&bootstrap, &output, Isolation::ReadUncommitted).await;
    assert!(
        all.len() > INPUT_RECORDS,
        "the killed run's open transaction wrote records that read_committed skipped"
    );
    eprintln!(
        "output: {} committed, {} written in all (aborted attempts included), {cuts} cuts",
        counts.len(),
        all.len()
    );
}
