//! `kafkit perf produce`: a producer load test in the shape of kafka-producer-perf-test,
//! printing the same JSON line as the peer benchmarks in `../shared/bench/`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafkit::client::{Client, NewTopic, Producer, ProducerConfig, ProducerRecord};
use serde_json::json;

/// What to produce.
#[derive(clap::Args, Debug)]
pub struct ProduceArgs {
    /// Topic to write to (created with --partitions if missing).
    #[arg(long)]
    pub topic: String,
    /// Number of records (0: only create the topic).
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// Partitions of the topic when it has to be created.
    #[arg(long, default_value_t = 1)]
    pub partitions: i32,
    /// Give records keys, round robin over this many distinct keys (0: no keys).
    #[arg(long, default_value_t = 0)]
    pub keys: u64,
    /// acks: 0, 1 or all.
    #[arg(long, default_value = "all")]
    pub acks: String,
    /// Compression: none, gzip, snappy, lz4, zstd.
    #[arg(long, default_value = "none")]
    pub compression: String,
    /// linger.ms.
    #[arg(long)]
    pub linger_ms: Option<u64>,
    /// batch.size in bytes.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Values as JSON objects of about --size bytes (`{"n":…,"pad":"xxx…"}`), for tables.
    #[arg(long)]
    pub json_values: bool,
    /// Produce in transactions of this many records (a transactional producer; 0: none).
    #[arg(long, default_value_t = 0)]
    pub transaction_every: u64,
    /// Print one JSON line (the peers' shape) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Process CPU seconds and peak resident memory.
fn usage() -> (f64, i64) {
    // SAFETY: getrusage only writes the struct we pass; zeroed is a valid rusage.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(u.ru_utime) + t(u.ru_stime), u.ru_maxrss)
}

/// Runs the produce benchmark with `config` (properties already applied).
pub async fn produce(
    client: Client,
    mut config: ProducerConfig,
    args: &ProduceArgs,
) -> anyhow::Result<()> {
    config = config.set("acks", &args.acks)?;
    config = config.set("compression.type", &args.compression)?;
    if let Some(l) = args.linger_ms {
        config = config.linger(Duration::from_millis(l));
    }
    if let Some(b) = args.batch_size {
        config = config.batch_size(b);
    }
    if args.transaction_every > 0 {
        config = config.transactional_id(format!("kafkit-perf-{}", std::process::id()));
    }
    let view = client.topic_metadata(&[&args.topic]).await?;
    if view
        .topics
        .get(&args.topic)
        .is_none_or(|t| t.partitions.is_empty())
    {
        client
            .admin()
            .create_topic(&NewTopic::new(&args.topic, args.partitions))
            .await?;
    }
    if args.messages == 0 {
        return Ok(()); // only make sure the topic exists
    }
    let producer = Producer::with_client(client, config).await?;
    let topic: &'static str = Box::leak(args.topic.clone().into_boxed_str());
    // Static bytes: cloning them per record costs nothing, like librdkafka's borrowed payload.
    let leak = |v: Vec<u8>| Bytes::from_static(Box::leak(v.into_boxed_slice()));
    let payload = leak(vec![b'x'; args.size]);
    let keys: Vec<Bytes> = (0..args.keys)
        .map(|k| leak(format!("key-{k}").into_bytes()))
        .collect();

    // Ack latency from a sample of records (at most ~100 k), awaited in order by a collector.
    let every = (args.messages / 100_000).max(1);
    let (tx, mut rx) =
        tokio::sync::mpsc::unbounded_channel::<(Instant, kafkit::client::DeliveryFuture)>();
    let collector = tokio::spawn(async move {
        let mut latencies = Vec::new();
        let mut failures = 0u64;
        while let Some((sent, d)) = rx.recv().await {
            match d.await {
                Ok(_) => latencies.push(sent.elapsed()),
                Err(_) => failures += 1,
            }
        }
        (latencies, failures)
    });

    let (cpu0, _) = usage();
    let t0 = Instant::now();
    let per_transaction = args.transaction_every;
    if per_transaction > 0 {
        producer.begin_transaction()?;
    }
    for i in 0..args.messages {
        if per_transaction > 0 && i > 0 && i % per_transaction == 0 {
            producer.commit_transaction().await?;
            producer.begin_transaction()?;
        }
        let mut record = if args.json_values {
            let head = format!("{{\"n\":{i},\"pad\":\"");
            let pad = args.size.saturating_sub(head.len() + 2);
            let mut v = head.into_bytes();
            v.resize(v.len() + pad, b'x');
            v.extend_from_slice(b"\"}");
            ProducerRecord::new(topic).value(v)
        } else {
            ProducerRecord::new(topic).value(payload.clone())
        };
        if !keys.is_empty() {
            record = record.key(keys[(i % args.keys) as usize].clone());
        }
        let sampled = i % every == 0;
        let sent = sampled.then(Instant::now);
        let delivery = producer.send(record).await.map_err(|e| e.error)?;
        if let Some(sent) = sent {
            let _ = tx.send((sent, delivery));
        }
    }
    if per_transaction > 0 {
        producer.commit_transaction().await?;
    }
    producer.flush().await;
    let wall = t0.elapsed().as_secs_f64();
    let (cpu1, max_rss_kib) = usage();
    drop(tx);
    let (mut latencies, failures) = collector.await?;
    let metrics = producer.metrics();
    if metrics.records_failed > 0 || failures > 0 {
        anyhow::bail!(
            "{} records failed (first failures are in the log with KAFKIT_LOG=debug)",
            metrics.records_failed
        );
    }
    latencies.sort();
    let quantile = |q: f64| -> f64 {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    let n = args.messages;
    let bytes = n * args.size as u64;
    let cpu = cpu1 - cpu0;
    let mut line = peer_line("produce", n, bytes, wall, cpu, max_rss_kib);
    line["p50_ms"] = json!(round(quantile(0.5), 3));
    line["p99_ms"] = json!(round(quantile(0.99), 3));
    if args.json {
        println!("{line}");
    } else {
        println!(
            "{n} records of {} bytes in {wall:.2} s: {:.0} records/s, {:.2} MB/s",
            args.size,
            n as f64 / wall,
            bytes as f64 / wall / 1e6
        );
        println!(
            "CPU {cpu:.2} s ({:.3} µs/record), ack latency p50 {:.2} ms p99 {:.2} ms, max RSS {} MiB",
            cpu * 1e6 / n as f64,
            quantile(0.5),
            quantile(0.99),
            max_rss_kib / 1024
        );
        println!(
            "{} batches in {} requests, {} retries",
            metrics.batches_sent, metrics.requests, metrics.retries
        );
    }
    producer.close(Duration::from_secs(10)).await?;
    Ok(())
}

/// What to consume.
#[derive(clap::Args, Debug)]
pub struct ConsumeArgs {
    /// Topic to read (every partition, from the beginning).
    #[arg(long)]
    pub topic: String,
    /// Stop after this many records.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,
    /// Read as a member of this consumer group (from its committed offsets, else the
    /// beginning) instead of assigning every partition.
    #[arg(long)]
    pub group: Option<String>,
    /// Print one JSON line (the peers' shape) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the consume benchmark with `config` (properties already applied).
pub async fn consume(
    client: Client,
    config: kafkit::client::ConsumerConfig,
    args: &ConsumeArgs,
) -> anyhow::Result<()> {
    use kafkit::client::{Consumer, Offset, OffsetReset};
    let mut config = config;
    if let Some(group) = &args.group {
        config = config
            .group_id(group.clone())
            .auto_offset_reset(OffsetReset::Earliest);
    }
    let consumer = Consumer::with_client(client, config);
    if args.group.is_some() {
        consumer.subscribe(&[&args.topic]).await?;
    } else {
        for tp in consumer.assign_topics(&[&args.topic]).await? {
            consumer.seek(&tp, Offset::Beginning)?;
        }
    }
    let (cpu0, _) = usage();
    let t0 = Instant::now();
    let (mut n, mut bytes) = (0u64, 0u64);
    while n < args.messages {
        let records = consumer.poll(Duration::from_secs(10)).await?;
        if records.is_empty() {
            anyhow::bail!("no record within 10 s after {n} records");
        }
        for r in &records {
            bytes += r.value.as_ref().map_or(0, |v| v.len() as u64);
        }
        n += records.len() as u64;
    }
    let wall = t0.elapsed().as_secs_f64();
    let (cpu1, max_rss_kib) = usage();
    let cpu = cpu1 - cpu0;
    if args.json {
        println!("{}", peer_line("consume", n, bytes, wall, cpu, max_rss_kib));
    } else {
        println!(
            "{n} records ({bytes} value bytes) in {wall:.2} s: {:.0} records/s, {:.2} MB/s",
            n as f64 / wall,
            bytes as f64 / wall / 1e6
        );
        println!(
            "CPU {cpu:.2} s ({:.3} µs/record), max RSS {} MiB",
            cpu * 1e6 / n as f64,
            max_rss_kib / 1024
        );
    }
    consumer.close().await;
    Ok(())
}

/// What to catch up.
#[derive(clap::Args, Debug)]
pub struct TableArgs {
    /// Topic to materialize (UTF-8 keys, JSON values).
    #[arg(long)]
    pub topic: String,
    /// What each JSON value becomes: `raw` keeps the validated JSON text (as a typed struct
    /// would, about the record's size), `tree` builds a `serde_json::Value`.
    #[arg(long, value_enum, default_value_t = TableValue::Raw)]
    pub value: TableValue,
    /// Print one JSON line instead of text.
    #[arg(long)]
    pub json: bool,
}

/// How `perf table` decodes values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableValue {
    /// Validated JSON text (`Box<serde_json::value::RawValue>`).
    Raw,
    /// A parsed tree (`serde_json::Value`).
    Tree,
}

/// Catches up a global table over an existing topic and reports how fast.
pub async fn table(config: kafkit::client::ConsumerConfig, args: &TableArgs) -> anyhow::Result<()> {
    match args.value {
        TableValue::Raw => table_of::<Box<serde_json::value::RawValue>>(config, args).await,
        TableValue::Tree => table_of::<serde_json::Value>(config, args).await,
    }
}

/// Bytes of JSON text a value holds, where known (for the memory bound of raw values).
trait JsonText {
    fn text_len(&self) -> Option<usize>;
}

impl JsonText for Box<serde_json::value::RawValue> {
    fn text_len(&self) -> Option<usize> {
        Some(self.get().len())
    }
}

impl JsonText for serde_json::Value {
    fn text_len(&self) -> Option<usize> {
        None
    }
}

async fn table_of<V>(config: kafkit::client::ConsumerConfig, args: &TableArgs) -> anyhow::Result<()>
where
    V: serde::de::DeserializeOwned + JsonText + Send + Sync + 'static,
{
    use kafkit::table::{GlobalTable, Status, TableConfig};
    let mut table_config = TableConfig::<V>::json(config.client.clone(), &args.topic)
        .catch_up_timeout(Duration::from_secs(3600));
    table_config.consumer = config;
    let table = GlobalTable::new(table_config);
    let (cpu0, _) = usage();
    let t0 = Instant::now();
    let status = table.start().await?;
    let wall = t0.elapsed().as_secs_f64();
    let (cpu1, max_rss_kib) = usage();
    if status != Status::CaughtUp {
        anyhow::bail!(
            "the table did not catch up ({status:?}){}",
            table
                .failure()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
    }
    let stats = table.stats();
    let records = stats.records_replayed;
    let keys = table.len()?;
    let cpu = cpu1 - cpu0;
    let value = format!("{:?}", args.value).to_lowercase();
    // Live key + value bytes: what the table holds, as text.
    let live_bytes: Option<usize> = table
        .snapshot()?
        .iter()
        .map(|(k, v)| v.text_len().map(|n| n + k.len()))
        .sum();
    if args.json {
        println!(
            "{}",
            json!({
                "client": "kafkit",
                "op": "table",
                "value": value,
                "records": records,
                "keys": keys,
                "wall_s": round(wall, 4),
                "cpu_s": round(cpu, 4),
                "msgs_per_s": (records as f64 / wall).round(),
                "max_rss_kib": max_rss_kib,
                "live_bytes": live_bytes,
            })
        );
    } else {
        println!(
            "caught up {records} records ({keys} keys, {value} values) in {wall:.2} s: {:.0} records/s, CPU {cpu:.2} s, max RSS {} MiB",
            records as f64 / wall,
            max_rss_kib / 1024
        );
    }
    table.stop().await;
    Ok(())
}

/// The JSON line every peer in ../shared/bench prints, for `op` over `n` records.
fn peer_line(
    op: &str,
    n: u64,
    bytes: u64,
    wall: f64,
    cpu: f64,
    max_rss_kib: i64,
) -> serde_json::Value {
    json!({
        "client": "kafkit",
        "op": op,
        "messages": n,
        "bytes": bytes,
        "wall_s": round(wall, 4),
        "cpu_s": round(cpu, 4),
        "msgs_per_s": (n as f64 / wall).round(),
        "mb_per_s": round(bytes as f64 / wall / 1e6, 2),
        "cpu_us_per_msg": round(cpu * 1e6 / n as f64, 3),
        "max_rss_kib": max_rss_kib,
    })
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}
