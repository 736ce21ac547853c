//! Leader failover, which one broker cannot show (Kafka only): a three-node cluster, topics
//! with three replicas and `min.insync.replicas=2`, and the leader of a partition killed
//! (SIGKILL) and restarted while an idempotent producer writes and while a group member
//! reads. Nothing may be lost or duplicated, order holds per partition, and the client is
//! back on the new leader soon after the cluster fences the dead node.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use kafkit_client::{
    Client, ClientConfig, Consumer, ConsumerConfig, DeliveryFuture, NewTopic, OffsetReset,
    Producer, ProducerConfig, ProducerRecord,
};
use kafkit_testkit::KafkaCluster;

const PARTITIONS: i32 = 3;

/// How long after a node's last heartbeat the cluster fences it (the test kit's
/// `broker.session.timeout.ms` for clusters).
const FENCING: Duration = Duration::from_secs(3);

/// How long the client may take past fencing to be on the new leader: one metadata refresh
/// after a failed request, with retries backing off up to a second, on a machine the three
/// JVMs keep busy.
const RETURN_BOUND: Duration = Duration::from_secs(15);

fn cluster_config(cluster: &KafkaCluster) -> ClientConfig {
    ClientConfig::new(cluster.bootstrap().split(','))
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(10))
}

/// The value of record `i`, which goes to partition `i % PARTITIONS`.
fn value(i: usize) -> String {
    format!("{i:08}")
}

/// Kills the current leader of `topic`/`partition` and starts it again in the background
/// once the cluster has fenced it; returns the node killed and the restart to wait for.
async fn kill_leader(
    cluster: &Arc<Mutex<KafkaCluster>>,
    client: &Client,
    topic: &str,
    partition: i32,
) -> (i32, tokio::task::JoinHandle<()>) {
    let view = client.refresh_metadata().await.unwrap();
    let leader = view.leader(topic, partition).expect("a leader").id;
    let cluster = cluster.clone();
    let (killed_tx, killed_rx) = tokio::sync::oneshot::channel();
    let restart = tokio::task::spawn_blocking(move || {
        let mut cluster = cluster.lock().unwrap();
        cluster.node(leader).stop();
        let _ = killed_tx.send(());
        // Down long enough for the cluster to fence it and elect new leaders.
        std::thread::sleep(FENCING * 2);
        cluster.node(leader).restart();
    });
    killed_rx.await.expect("the node was killed");
    (leader, restart)
}

/// Waits until every partition of `topic` has all three replicas in sync again.
async fn until_in_sync(client: &Client, topic: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let view = client.refresh_metadata().await.unwrap();
        let t = view.topic(topic).expect("the topic exists");
        if t.partitions.iter().all(|p| p.isr.len() == 3) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "replicas not back in sync: {:?}",
            t.partitions
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_killed_during_produce_and_during_a_group_read_loses_and_duplicates_nothing() {
    if !kafkit_testkit::on_kafka() {
        eprintln!("skipped on Tansu: failover needs a Kafka cluster (the Kafka pass runs it)");
        return;
    }
    init_tracing();
    let n: usize = std::env::var("KAFKIT_FAILOVER_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let cluster = tokio::task::spawn_blocking(|| KafkaCluster::start(3))
        .await
        .unwrap();
    let config = cluster_config(&cluster);
    let cluster = Arc::new(Mutex::new(cluster));
    let client = Client::connect(config.clone()).await.unwrap();
    let topic = kafkit_testkit::unique_topic("failover");
    client
        .admin()
        .create_topic(
            &NewTopic::new(&topic, PARTITIONS)
                .replication_factor(3)
                .config("min.insync.replicas", "2"),
        )
        .await
        .unwrap();
    wait_for_leaders(&client, &topic, PARTITIONS).await;
    until_in_sync(&client, &topic).await;

    // Produce, with partition 0's leader killed a quarter of the way through. A task awaits
    // the deliveries in order: records alternate partitions, so the longest wait between two
    // deliveries is how long the failover stalled the producer.
    let producer = Producer::connect(ProducerConfig::new(config.clone()))
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(usize, DeliveryFuture)>(50_000);
    let acks = tokio::spawn(async move {
        let mut longest_stall = Duration::ZERO;
        let mut last = Instant::now();
        let mut failed = Vec::new();
        while let Some((i, delivery)) = rx.recv().await {
            if let Err(e) = delivery.await {
                failed.push(format!("record {i}: {e}"));
            }
            longest_stall = longest_stall.max(last.elapsed());
            last = Instant::now();
        }
        (longest_stall, failed)
    });
    let mut restart = None;
    for i in 0..n {
        if i == n / 4 {
            let (leader, r) = kill_leader(&cluster, &client, &topic, 0).await;
            eprintln!("produce: killed node {leader}, the leader of partition 0, at record {i}");
            restart = Some(r);
        }
        let record = ProducerRecord::new(topic.clone())
            .partition(i as i32 % PARTITIONS)
            .value(value(i));
        let delivery = producer.send(record).await.unwrap();
        tx.send((i, delivery)).await.unwrap();
    }
    drop(tx);
    producer.flush().await;
    let (stall, failed) = acks.await.unwrap();
    assert!(
        failed.is_empty(),
        "deliveries failed: {:?}",
        &failed[..failed.len().min(5)]
    );
    let metrics = producer.metrics();
    producer.close(Duration::from_secs(30)).await.unwrap();
    eprintln!("produce: the longest wait for a delivery was {stall:?}; {metrics:?}");
    assert!(
        stall <= FENCING + RETURN_BOUND,
        "the producer took {stall:?} to reach partition 0's new leader"
    );
    restart.unwrap().await.unwrap();
    until_in_sync(&client, &topic).await;

    // The log holds exactly n records: nothing lost, nothing written twice.
    let total: i64 = client
        .admin()
        .watermarks(&topic)
        .await
        .unwrap()
        .values()
        .map(|(low, high)| high - low)
        .sum();
    assert_eq!(total as usize, n, "records in the log");

    // Read in a group, with partition 1's leader killed a third of the way through.
    // Small fetches and a small buffer, so the member still fetches from every partition
    // when the leader dies (rather than reading what it buffered before).
    let mut reader = ConsumerConfig::new(config.clone())
        .group_id(kafkit_testkit::unique_topic("failover-group"))
        .auto_offset_reset(OffsetReset::Earliest);
    reader.max_partition_fetch_bytes = 64 << 10;
    reader.max_buffered_bytes = 256 << 10;
    let consumer = Consumer::connect(reader).await.unwrap();
    consumer.subscribe(&[&topic]).await.unwrap();
    let mut got: Vec<Vec<String>> = vec![Vec::new(); PARTITIONS as usize];
    let per_partition = n / PARTITIONS as usize;
    let mut read = 0;
    let mut restart = None;
    // The partition whose leader was killed, and when it last gave records.
    let mut victim: Option<(usize, Instant)> = None;
    let mut stall = Duration::ZERO;
    let deadline = Instant::now() + Duration::from_secs(300);
    while read < n {
        assert!(
            Instant::now() < deadline,
            "the group member read {read} of {n} records in 300 s"
        );
        if restart.is_none() && read >= n / 3 {
            // The partition with the most left to read.
            let p = (0..got.len()).min_by_key(|&p| got[p].len()).unwrap();
            let (leader, r) = kill_leader(&cluster, &client, &topic, p as i32).await;
            eprintln!("read: killed node {leader}, the leader of partition {p}, at record {read}");
            victim = Some((p, Instant::now()));
            restart = Some(r);
        }
        for r in consumer.poll(Duration::from_millis(500)).await.unwrap() {
            let p = r.partition as usize;
            if let Some((v, last)) = victim.as_mut().filter(|(v, _)| *v == p) {
                if got[*v].len() < per_partition {
                    stall = stall.max(last.elapsed());
                    *last = Instant::now();
                }
            }
            got[p].push(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
            read += 1;
        }
    }
    consumer.close().await;
    eprintln!("read: the killed leader's partition waited at most {stall:?} for records");
    for (p, values) in got.iter().enumerate() {
        let expected: Vec<String> = (0..n)
            .filter(|i| i % PARTITIONS as usize == p)
            .map(value)
            .collect();
        assert_eq!(values.len(), expected.len(), "partition {p}: records read");
        assert!(
            *values == expected,
            "partition {p}: read in order, each once"
        );
    }
    assert!(
        stall <= FENCING + RETURN_BOUND,
        "the group member took {stall:?} to read from the new leader"
    );
    restart.unwrap().await.unwrap();
}
