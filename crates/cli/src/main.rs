//! The `kafkit` binary: parse arguments, build library objects, dispatch, map errors to exit
//! codes. All logic lives in the library crates.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kafkit::client::{Client, ClientConfig, ConsumerConfig, ProducerConfig, Target};

mod perf;
use serde_json::json;

/// kafkit — the Kafka toolkit.
#[derive(Parser, Debug)]
#[command(name = "kafkit", version, about, long_about = None)]
struct Cli {
    /// Bootstrap broker(s), `host:port[,host:port...]`.
    #[arg(short = 'b', long = "brokers", global = true, env = "KAFKIT_BROKERS")]
    brokers: Option<String>,

    /// Client property `key=value` (Java/librdkafka names, e.g. security.protocol=SSL).
    #[arg(
        short = 'X',
        long = "property",
        global = true,
        value_name = "KEY=VALUE"
    )]
    properties: Vec<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show the cluster: brokers, controller, topics with partitions, leaders and ISR.
    Cluster {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show the API versions a broker supports, and which kafkit will use.
    ApiVersions,
    /// Load tests (figures comparable with the peers in ../shared/bench).
    #[command(subcommand)]
    Perf(PerfCommand),
}

#[derive(Subcommand, Debug)]
enum PerfCommand {
    /// Produce N records of S bytes and report records/s, CPU per record, latency and RSS.
    Produce(perf::ProduceArgs),
    /// Read N records from every partition of a topic and report records/s, CPU per record
    /// and RSS.
    Consume(perf::ConsumeArgs),
    /// Catch up a global table over an existing topic (UTF-8 keys, JSON values).
    Table(perf::TableArgs),
}

/// The -X properties as key/value pairs.
fn properties(cli: &Cli) -> anyhow::Result<Vec<(&str, &str)>> {
    cli.properties
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| anyhow::anyhow!("-X {p}: expected KEY=VALUE"))
        })
        .collect()
}

/// A producer configuration: producer properties from -X, client ones passed through.
fn producer_config(cli: &Cli) -> anyhow::Result<ProducerConfig> {
    let mut config = ProducerConfig::new(config_without_properties(cli)?);
    for (k, v) in properties(cli)? {
        config = config.set(k, v)?;
    }
    Ok(config)
}

/// A consumer configuration: consumer properties from -X, client ones passed through.
fn consumer_config(cli: &Cli) -> anyhow::Result<ConsumerConfig> {
    let mut config = ConsumerConfig::new(config_without_properties(cli)?);
    for (k, v) in properties(cli)? {
        config = config.set(k, v)?;
    }
    Ok(config)
}

fn config_without_properties(cli: &Cli) -> anyhow::Result<ClientConfig> {
    let brokers = cli.brokers.clone().ok_or_else(|| {
        anyhow::anyhow!("no broker given: use -b HOST:PORT or set KAFKIT_BROKERS")
    })?;
    Ok(ClientConfig::new(
        brokers.split(',').map(|s| s.trim().to_string()),
    ))
}

fn config(cli: &Cli) -> anyhow::Result<ClientConfig> {
    let mut config = config_without_properties(cli)?;
    for (k, v) in properties(cli)? {
        config = config.set(k, v)?;
    }
    Ok(config)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Perf(PerfCommand::Produce(args)) = &cli.command {
        let config = producer_config(&cli)?;
        let client = Client::connect(config.client.clone()).await?;
        return perf::produce(client, config, args).await;
    }
    if let Command::Perf(PerfCommand::Table(args)) = &cli.command {
        return perf::table(consumer_config(&cli)?, args).await;
    }
    if let Command::Perf(PerfCommand::Consume(args)) = &cli.command {
        let config = consumer_config(&cli)?;
        let client = Client::connect(config.client.clone()).await?;
        return perf::consume(client, config, args).await;
    }
    let client = Client::connect(config(&cli)?).await?;
    match cli.command {
        Command::Cluster { json } => {
            let view = client.refresh_metadata().await?;
            if json {
                let brokers: Vec<_> = view
                    .brokers
                    .values()
                    .map(|b| json!({"id": b.id, "host": b.host, "port": b.port, "rack": b.rack}))
                    .collect();
                let topics: Vec<_> = view
                    .topics
                    .values()
                    .map(|t| {
                        let partitions: Vec<_> = t
                            .partitions
                            .iter()
                            .map(|p| {
                                json!({
                                    "partition": p.id,
                                    "leader": p.leader,
                                    "replicas": p.replicas,
                                    "isr": p.isr,
                                })
                            })
                            .collect();
                        json!({"name": t.name, "partitions": partitions})
                    })
                    .collect();
                let out = json!({
                    "cluster_id": view.cluster_id,
                    "controller": view.controller,
                    "brokers": brokers,
                    "topics": topics,
                });
                println!("{out}");
            } else {
                println!("cluster id: {}", view.cluster_id.as_deref().unwrap_or("-"));
                println!(
                    "controller: {}",
                    view.controller.map_or("-".into(), |c| c.to_string())
                );
                for b in view.brokers.values() {
                    println!(
                        "broker {} at {} rack {}",
                        b.id,
                        b.address(),
                        b.rack.as_deref().unwrap_or("-")
                    );
                }
                for t in view.topics.values() {
                    println!("topic {} ({} partitions)", t.name, t.partitions.len());
                    for p in &t.partitions {
                        println!(
                            "  partition {} leader {} replicas {:?} isr {:?}",
                            p.id,
                            p.leader.map_or("-".into(), |l| l.to_string()),
                            p.replicas,
                            p.isr
                        );
                    }
                }
            }
        }
        Command::Perf(_) => unreachable!("handled above"),
        Command::ApiVersions => {
            let versions = client.api_versions(&Target::LeastLoaded).await?;
            for (api, range) in versions.iter() {
                println!("{api:?} ({}): {}..={}", api as i16, range.min, range.max);
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("KAFKIT_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kafkit: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kafkit: {e:#}");
            ExitCode::FAILURE
        }
    }
}
