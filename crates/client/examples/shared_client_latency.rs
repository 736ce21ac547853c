//! Produce acknowledgement latency of a producer that shares its `Client` with a consumer
//! long-polling an idle topic (docs/PERFORMANCE.md, "One connection per purpose").
//!
//! ```text
//! cargo run --release -p kafkit-client --example shared_client_latency -- HOST:PORT [RECORDS]
//! ```
//!
//! Prints p50 / p99 / max of `send_and_wait` without the consumer, then with it.

use std::time::{Duration, Instant};

use kafkit_client::{
    Client, ClientConfig, Consumer, ConsumerConfig, NewTopic, Producer, ProducerConfig,
    ProducerRecord, TopicPartition,
};

#[tokio::main]
async fn main() -> kafkit_client::Result<()> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".into());
    let records: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(200);
    let client = Client::connect(ClientConfig::new([bootstrap])).await?;
    let suffix = std::process::id();
    let (busy, idle) = (format!("latency-{suffix}"), format!("idle-{suffix}"));
    for name in [&busy, &idle] {
        client.admin().create_topic(&NewTopic::new(name, 1)).await?;
    }
    let producer =
        Producer::with_client(client.clone(), ProducerConfig::new(client.config().clone())).await?;
    let alone = measure(&producer, &busy, records).await?;
    print("producer alone", &alone);

    let consumer = Consumer::with_client(
        client.clone(),
        ConsumerConfig::new(client.config().clone()).fetch_max_wait(Duration::from_millis(500)),
    );
    consumer.assign(&[TopicPartition::new(&idle, 0)]).await?;
    let polling = tokio::spawn(async move {
        loop {
            let _ = consumer.poll(Duration::from_millis(1000)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shared = measure(&producer, &busy, records).await?;
    print("with a consumer long-polling an idle topic", &shared);
    polling.abort();
    for name in [&busy, &idle] {
        client.admin().delete_topic(name).await?;
    }
    Ok(())
}

/// Latency of each of `records` sends, one at a time.
async fn measure(
    producer: &Producer,
    topic: &str,
    records: usize,
) -> kafkit_client::Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(records);
    for i in 0..records {
        let start = Instant::now();
        producer
            .send_and_wait(ProducerRecord::new(topic.to_string()).value(format!("{i}")))
            .await?;
        out.push(start.elapsed());
    }
    out.sort();
    Ok(out)
}

fn print(what: &str, sorted: &[Duration]) {
    let at = |q: f64| sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)];
    println!(
        "{what}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} records)",
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        sorted[sorted.len() - 1].as_secs_f64() * 1e3,
        sorted.len()
    );
}
