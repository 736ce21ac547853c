//! The `kafkit` binary: parse arguments, build library objects, dispatch, map errors to exit
//! codes. All logic lives in the library crates.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kafkit::client::{Client, ConsumerConfig, ProducerConfig, Target};

mod copy;
mod format;
mod groups;
mod jq;
mod out;
mod perf;
mod settings;
mod shell;
mod storages;
mod time;
mod topics;
use kafkit::store::ops::jq::Pipeline;
use serde_json::json;
use shell::{ReadArgs, ReadPlan};
use storages::StorageSpec;

/// kafkit — the Kafka toolkit.
#[derive(Parser, Debug)]
#[command(
    name = "kafkit",
    version,
    about = "kafkit: topics, records and consumer groups on a Kafka cluster or in local files",
    long_about = None,
    after_help = "Exit status: 0 success; 1 a negative answer (grep found nothing, diff found \
                  differences, exists found no topic); 2 an error (said in one line on stderr)."
)]
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

    /// The storage to work on: `local[:DIR]`, `kafka:HOST:PORT`, or the name of a YAML config
    /// (NAME.yaml in ./, ./configs/clusters/, ./configs/locals/ or $KAFKIT_HOME) (default: -b
    /// if given, else local storage in ./.kafkit).
    #[arg(short = 's', long = "storage", global = true, env = "KAFKIT_STORAGE")]
    storage: Option<StorageSpec>,

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
    /// Print a shell completion script, e.g. `kafkit completions bash > ~/.local/share/bash-completion/completions/kafkit`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Load tests (figures comparable with the peers in ../shared/bench).
    #[command(subcommand)]
    Perf(PerfCommand),
    /// List topics with partitions, records and size.
    #[command(visible_aliases = ["l", "topics"])]
    Ls {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a topic.
    #[command(visible_alias = "create")]
    Touch {
        /// The topic.
        topic: String,
        /// Partitions.
        #[arg(short = 'p', long, default_value_t = 1)]
        partitions: i32,
        /// Topic config `key=value` (repeatable).
        #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
        configs: Vec<String>,
    },
    /// Delete topics.
    #[command(visible_alias = "delete")]
    Rm {
        /// The topics.
        #[arg(required = true)]
        topics: Vec<String>,
    },
    /// Exit 0 when the topic exists, 1 when it does not.
    Exists {
        /// The topic.
        topic: String,
    },
    /// Low and high offsets of every partition.
    Watermarks {
        /// The topic.
        topic: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write records from JSON lines (as `cat` prints them) or plain lines.
    Produce {
        /// The topic.
        topic: String,
        /// Read this file instead of stdin.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        /// Each line is a value (no key), not a JSON record.
        #[arg(long)]
        lines: bool,
        /// How keys are given [default: str, or the config's key.type].
        #[arg(long, value_parser = shell::data_type())]
        key_type: Option<kafkit::store::ops::json::DataType>,
        /// How values are given [default: str, or the config's value.type].
        #[arg(long, value_parser = shell::data_type())]
        value_type: Option<kafkit::store::ops::json::DataType>,
    },
    /// Print records as JSON lines.
    Cat {
        /// The topic.
        topic: String,
        /// Stop after N records.
        #[arg(short = 'n')]
        n: Option<u64>,
        #[command(flatten)]
        read: ReadArgs,
        #[command(flatten)]
        jq: jq::JqArgs,
        /// Print each record with a kcat-style format instead of JSON, e.g. '%k\t%s\n'
        /// (%t %p %o %T %k %s %K %S %h %%; \n \t escapes).
        #[arg(long, value_name = "FORMAT")]
        format: Option<format::Format>,
    },
    /// Print the first N records (default 10).
    Head {
        /// The topic.
        topic: String,
        /// How many.
        #[arg(short = 'n', default_value_t = 10)]
        n: u64,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Print the last N records of each partition (default 10).
    Tail {
        /// The topic.
        topic: String,
        /// How many per partition.
        #[arg(short = 'n', default_value_t = 10)]
        n: i64,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Print records whose key, value or headers match a regex.
    Grep {
        /// The regex (Rust syntax), matched against the raw bytes.
        pattern: String,
        /// The topic.
        topic: String,
        /// Search only these parts (default: all).
        #[arg(long = "in", value_enum, value_delimiter = ',')]
        fields: Vec<shell::GrepField>,
        /// Stop after N matches.
        #[arg(short = 'n')]
        n: Option<u64>,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Count records (by reading them).
    Wc {
        /// The topic.
        topic: String,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Copy a topic, within a storage or to another (`--into`); prints what it read and wrote.
    Cp {
        /// The source topic.
        source: String,
        /// The target topic (created with the source's partitions when missing).
        target: String,
        /// The target storage: `local[:DIR]` or `kafka:HOST:PORT` (default: the same).
        #[arg(long, value_name = "STORAGE")]
        into: Option<StorageSpec>,
        /// Re-derive partitions from keys instead of keeping each record's partition.
        #[arg(long)]
        repartition: bool,
        /// Stamp records with the copy time instead of keeping their timestamps.
        #[arg(long)]
        new_timestamps: bool,
        /// Drop headers.
        #[arg(long)]
        no_headers: bool,
        /// Also copy the committed offsets of the source topic's consumer groups, moved to
        /// the matching target offsets.
        #[arg(long)]
        groups: bool,
        /// Key type in the target (default: the source's --key-type).
        #[arg(long, value_parser = shell::data_type())]
        target_key_type: Option<kafkit::store::ops::json::DataType>,
        /// Value type in the target (default: the source's --value-type).
        #[arg(long, value_parser = shell::data_type())]
        target_value_type: Option<kafkit::store::ops::json::DataType>,
        /// Stop after N records.
        #[arg(short = 'n')]
        n: Option<u64>,
        /// Copy into a target that already holds records (by default that is refused: the
        /// same copy run twice would hold everything twice).
        #[arg(long, conflicts_with = "resume")]
        append: bool,
        /// Go on with a copy that stopped (killed, interrupted): read the source from where
        /// the target ends. For copies that keep offsets (a cluster into local files, nothing
        /// changed); other copies resume with `--offsets` and `--append`, as the interrupted
        /// copy said, or with `--group`.
        #[arg(long)]
        resume: bool,
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        read: ReadArgs,
        #[command(flatten)]
        jq: jq::JqArgs,
    },
    /// Compare two topics record by record (keys, values, headers, timestamps); exit 1 when
    /// they differ.
    Diff {
        /// The first topic.
        left: String,
        /// The second topic.
        right: String,
        /// The second topic's storage: `local[:DIR]` or `kafka:HOST:PORT` (default: the same).
        #[arg(long, value_name = "STORAGE")]
        other: Option<StorageSpec>,
        /// Do not compare timestamps.
        #[arg(long)]
        ignore_timestamps: bool,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// A topic's partitions, records, size, configs and watermarks.
    Stat {
        /// The topic.
        topic: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show or grow a topic's partition count.
    #[command(subcommand)]
    Partitions(PartitionsCommand),
    /// Show or change a topic's configs.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Per partition, the first offset at or after a time.
    #[command(alias = "offsets_for_times")]
    OffsetsForTimes {
        /// The topic.
        topic: String,
        /// The time: ms since the epoch, RFC 3339, or a UTC date.
        #[arg(value_parser = time::parse_ms)]
        time: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete the records before the given offsets (the low watermark moves up).
    #[command(alias = "delete_records")]
    DeleteRecords {
        /// The topic.
        topic: String,
        /// `N` for every partition, or `P=N,...`; -1 is the high watermark (delete all).
        #[arg(long, allow_hyphen_values = true)]
        before: String,
    },
    /// List consumer groups.
    Groups {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// State, members, committed offsets and lags of consumer groups.
    #[command(alias = "describe_groups")]
    DescribeGroups {
        /// The groups.
        #[arg(required = true)]
        groups: Vec<String>,
        /// Print JSON lines (one per group).
        #[arg(long)]
        json: bool,
    },
    /// Delete consumer groups and their committed offsets.
    #[command(alias = "delete_groups")]
    DeleteGroups {
        /// The groups.
        #[arg(required = true)]
        groups: Vec<String>,
    },
    /// Committed offset, end and lag per partition of consumer groups.
    #[command(visible_alias = "group-offsets", alias = "group_offsets")]
    Lags {
        /// The groups.
        #[arg(required = true)]
        groups: Vec<String>,
        /// Print JSON lines (one per group).
        #[arg(long)]
        json: bool,
    },
    /// Move a group's committed offsets; shows the moves and changes nothing without
    /// --execute.
    ResetOffsets {
        /// The group.
        group: String,
        /// The topics (default: those the group has committed offsets for).
        #[arg(long = "topic")]
        topics: Vec<String>,
        /// Only these partitions.
        #[arg(long, value_delimiter = ',')]
        partitions: Option<Vec<i32>>,
        #[command(flatten)]
        to: groups::ResetTo,
        /// Commit the new offsets (default: a dry run).
        #[arg(long)]
        execute: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum PartitionsCommand {
    /// Print the partition count.
    Get {
        /// The topic.
        topic: String,
    },
    /// Grow the topic to N partitions.
    Set {
        /// The topic.
        topic: String,
        /// The new partition count (at least the current one).
        partitions: i32,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Print the topic's config overrides (`--all`: every config).
    Get {
        /// The topic.
        topic: String,
        /// Include defaults.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set config overrides, keeping the others.
    Set {
        /// The topic.
        topic: String,
        /// `KEY=VALUE` pairs.
        configs: Vec<String>,
        /// Remove this override (repeatable).
        #[arg(long, value_name = "KEY")]
        delete: Vec<String>,
    },
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

/// The -X properties.
fn properties(cli: &Cli) -> anyhow::Result<Vec<(String, String)>> {
    storages::parse_properties(&cli.properties)
}

/// The storage the command works on: --storage, else -b, else ./.kafkit.
fn storage_spec(cli: &Cli) -> StorageSpec {
    match (&cli.storage, &cli.brokers) {
        (Some(s), _) => s.clone(),
        (None, Some(b)) => StorageSpec::Kafka(b.clone()),
        (None, None) => StorageSpec::Local(".kafkit".into()),
    }
}

/// The cluster of the cluster-only commands: -b, or a --storage naming a cluster.
fn cluster(cli: &Cli) -> anyhow::Result<(String, Option<settings::Settings>)> {
    if let Some(b) = &cli.brokers {
        return Ok((b.clone(), None));
    }
    match cli.storage.as_ref().map(storages::resolve).transpose()? {
        Some(storages::Resolved {
            spec: StorageSpec::Kafka(b),
            settings,
        }) => Ok((b, settings)),
        _ => anyhow::bail!(
            "no cluster given: use -b HOST:PORT, --storage kafka:HOST:PORT or a cluster config, \
             or set KAFKIT_BROKERS"
        ),
    }
}

/// Producer and consumer configurations of the cluster-only commands.
fn cluster_configs(cli: &Cli) -> anyhow::Result<(ProducerConfig, ConsumerConfig)> {
    let (brokers, settings) = cluster(cli)?;
    storages::client_configs(&brokers, settings.as_ref(), &properties(cli)?)
}

async fn open_storage(
    cli: &Cli,
    resolved: &storages::Resolved,
) -> anyhow::Result<kafkit::store::AnyStorage> {
    storages::open(resolved, &properties(cli)?).await
}

/// Runs a storage command; `None` when the command is not one.
/// How a command that ran ended: exit status 0, or 1 for a negative answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Done (exit 0).
    Done,
    /// A negative answer: no match, a difference, no such topic (exit 1).
    Negative,
}

async fn run_storage_command(cli: &mut Cli) -> anyhow::Result<Option<Outcome>> {
    use kafkit::store::{ReadFrom, Storage};
    let is_storage_command = !matches!(
        cli.command,
        Command::Cluster { .. }
            | Command::ApiVersions
            | Command::Perf(_)
            | Command::Completions { .. }
    );
    if !is_storage_command {
        return Ok(None);
    }
    let spec = storage_spec(cli);
    let resolved = storages::resolve(&spec)?;
    settle(&mut cli.command, &resolved.defaults());
    let cli = &*cli;
    let storage = open_storage(cli, &resolved).await?;
    match &cli.command {
        Command::Ls { json } => topics::ls(&storage, *json).await?,
        Command::Touch {
            topic,
            partitions,
            configs,
        } => {
            let configs = topics::key_values(configs, "--config")?;
            storage.create_topic(topic, *partitions, &configs).await?;
        }
        Command::Rm { topics } => {
            for t in topics {
                storage.delete_topic(t).await?;
            }
        }
        Command::Exists { topic } => {
            let yes = storage.exists(topic).await?;
            println!("{yes}");
            if !yes {
                storage.close().await?;
                return Ok(Some(Outcome::Negative));
            }
        }
        Command::Watermarks { topic, json } => topics::watermarks(&storage, topic, *json).await?,
        Command::Produce {
            topic,
            file,
            lines,
            key_type,
            value_type,
        } => {
            let n = shell::produce(
                &storage,
                topic,
                file.as_ref(),
                *lines,
                key_type.unwrap_or_default(),
                value_type.unwrap_or_default(),
            )
            .await?;
            eprintln!("kafkit: produced {n} records to '{topic}'");
        }
        Command::Cat {
            topic,
            n,
            read,
            jq,
            format,
        } => {
            let pipeline = jq.pipeline()?;
            if format.is_some() && !pipeline.is_empty() {
                anyhow::bail!("--format prints records as they are; it cannot follow --map, --filter or --flatmap");
            }
            let plan = ReadPlan {
                topic,
                args: read,
                start: None,
                limit: *n,
                matcher: None,
                pipeline: &pipeline,
                format: format.as_ref(),
            };
            shell::cat(&storage, plan).await?;
        }
        Command::Head { topic, n, read } => {
            let plan = ReadPlan {
                topic,
                args: read,
                start: None,
                limit: Some(*n),
                matcher: None,
                pipeline: &Pipeline::default(),
                format: None,
            };
            shell::cat(&storage, plan).await?;
        }
        Command::Tail { topic, n, read } => {
            let plan = ReadPlan {
                topic,
                args: read,
                start: Some(ReadFrom::Last(*n)),
                limit: None,
                matcher: None,
                pipeline: &Pipeline::default(),
                format: None,
            };
            shell::cat(&storage, plan).await?;
        }
        Command::Grep {
            pattern,
            topic,
            fields,
            n,
            read,
        } => {
            let plan = ReadPlan {
                topic,
                args: read,
                start: None,
                limit: *n,
                matcher: Some(shell::Matcher::new(pattern, fields)?),
                pipeline: &Pipeline::default(),
                format: None,
            };
            let done = shell::cat(&storage, plan).await?;
            eprintln!(
                "kafkit: {} matching records of {} read",
                done.printed, done.read
            );
            if done.printed == 0 {
                storage.close().await?;
                return Ok(Some(Outcome::Negative));
            }
        }
        Command::Diff {
            left,
            right,
            other,
            ignore_timestamps,
            read,
        } => {
            let other_storage = match other {
                Some(o) if *o != spec => open_storage(cli, &storages::resolve(o)?).await?,
                _ => storage.clone(),
            };
            let found = shell::diff(
                (&storage, left.as_str()),
                (&other_storage, right.as_str()),
                read,
                *ignore_timestamps,
            )
            .await?;
            eprintln!(
                "kafkit: {} records compared, {} differ",
                found.compared, found.differ
            );
            if found.differ > 0 {
                storage.close().await?;
                other_storage.close().await?;
                return Ok(Some(Outcome::Negative));
            }
        }
        Command::Stat { topic, json } => topics::stat(&storage, topic, *json).await?,
        Command::Partitions(PartitionsCommand::Get { topic }) => {
            println!("{}", storage.partitions(topic).await?);
        }
        Command::Partitions(PartitionsCommand::Set { topic, partitions }) => {
            storage.set_partitions(topic, *partitions).await?;
        }
        Command::Config(ConfigCommand::Get { topic, all, json }) => {
            topics::config_get(&storage, topic, *all, *json).await?;
        }
        Command::Config(ConfigCommand::Set {
            topic,
            configs,
            delete,
        }) => topics::config_set(&storage, topic, configs, delete).await?,
        Command::OffsetsForTimes { topic, time, json } => {
            topics::offsets_for_times(&storage, topic, *time, *json).await?;
        }
        Command::DeleteRecords { topic, before } => {
            topics::delete_records(&storage, topic, before).await?;
        }
        Command::Groups { json } => groups::groups(&storage, *json).await?,
        Command::DescribeGroups { groups, json } => {
            groups::describe(&storage, groups, *json).await?;
        }
        Command::DeleteGroups { groups } => {
            for g in groups {
                storage.delete_group(g).await?;
            }
        }
        Command::Lags { groups, json } => groups::lags(&storage, groups, *json).await?,
        Command::ResetOffsets {
            group,
            topics,
            partitions,
            to,
            execute,
            json,
        } => {
            let moves = kafkit::store::ops::groups::plan_reset(
                &storage,
                group,
                topics,
                partitions.as_deref(),
                to.target(),
            )
            .await?;
            groups::reset(&storage, group, &moves, *execute, *json).await?;
        }
        Command::Wc { topic, read } => println!("{}", shell::wc(&storage, topic, read).await?),
        Command::Cp {
            source,
            target,
            into,
            repartition,
            new_timestamps,
            no_headers,
            groups,
            target_key_type,
            target_value_type,
            n,
            append,
            resume,
            json,
            read,
            jq,
        } => {
            let target_storage = match into {
                Some(t) if *t != spec => open_storage(cli, &storages::resolve(t)?).await?,
                _ => storage.clone(),
            };
            let pipeline = jq.pipeline()?;
            let mut plan = kafkit::store::ops::copy::CopyPlan::new(&pipeline);
            plan.keep_partitions = !repartition;
            plan.keep_timestamps = !new_timestamps;
            plan.keep_headers = !no_headers;
            plan.limit = *n;
            plan.target_types = (
                target_key_type.unwrap_or(read.key_type),
                target_value_type.unwrap_or(read.value_type),
            );
            plan.groups = *groups;
            plan.into_existing = match (*append, *resume) {
                (_, true) => kafkit::store::ops::copy::IntoExisting::Resume,
                (true, _) => kafkit::store::ops::copy::IntoExisting::Append,
                _ => kafkit::store::ops::copy::IntoExisting::Refuse,
            };
            let copied = copy::cp(
                (&storage, source.as_str()),
                (&target_storage, target.as_str()),
                read,
                plan,
            )
            .await?;
            if *json {
                println!("{}", serde_json::to_string(&copied)?);
            } else {
                println!(
                    "consumed {} records, produced {} records",
                    copied.consumed, copied.produced
                );
                if copied.batches > 0 {
                    println!(
                        "copied {} batches byte for byte, offsets kept",
                        copied.batches
                    );
                }
                if !copied.groups.is_empty() {
                    println!("copied the offsets of groups {}", copied.groups.join(", "));
                }
            }
        }
        Command::Cluster { .. }
        | Command::ApiVersions
        | Command::Perf(_)
        | Command::Completions { .. } => {
            unreachable!("not storage commands")
        }
    }
    storage.close().await?;
    Ok(Some(Outcome::Done))
}

/// Fills in what the command line left to the configuration's defaults.
fn settle(command: &mut Command, defaults: &settings::Defaults) {
    match command {
        Command::Cat { read, .. }
        | Command::Head { read, .. }
        | Command::Tail { read, .. }
        | Command::Grep { read, .. }
        | Command::Wc { read, .. }
        | Command::Cp { read, .. }
        | Command::Diff { read, .. } => read.settle(defaults),
        Command::Produce {
            key_type,
            value_type,
            ..
        } => {
            *key_type = key_type.or(defaults.key_type);
            *value_type = value_type.or(defaults.value_type);
        }
        _ => {}
    }
}

async fn run(mut cli: Cli) -> anyhow::Result<Outcome> {
    if let Command::Completions { shell } = cli.command {
        use clap::CommandFactory;
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "kafkit", &mut script);
        let mut out = out::Out::new();
        out.bytes(&script)?;
        out.finish()?;
        return Ok(Outcome::Done);
    }
    if let Some(outcome) = run_storage_command(&mut cli).await? {
        return Ok(outcome);
    }
    if let Command::Perf(PerfCommand::Produce(args)) = &cli.command {
        let (config, _) = cluster_configs(&cli)?;
        let client = Client::connect(config.client.clone()).await?;
        return perf::produce(client, config, args)
            .await
            .map(|()| Outcome::Done);
    }
    if let Command::Perf(PerfCommand::Table(args)) = &cli.command {
        // A table's own consumer settings, then the file's and -X properties.
        let (brokers, settings) = cluster(&cli)?;
        let client = storages::bootstrap(&brokers);
        let (_, config) = storages::configure(
            ProducerConfig::new(client.clone()),
            kafkit::table::table_consumer_config(client),
            settings.as_ref(),
            &properties(&cli)?,
        )?;
        return perf::table(config, args).await.map(|()| Outcome::Done);
    }
    if let Command::Perf(PerfCommand::Consume(args)) = &cli.command {
        let (_, config) = cluster_configs(&cli)?;
        let client = Client::connect(config.client.clone()).await?;
        return perf::consume(client, config, args)
            .await
            .map(|()| Outcome::Done);
    }
    let client = Client::connect(cluster_configs(&cli)?.1.client).await?;
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
        _ => unreachable!("storage commands are handled above"),
    }
    Ok(Outcome::Done)
}

/// Logs go to stderr. `KAFKIT_LOG` chooses what (`kafkit_client=debug`, ...); without it,
/// kafkit's warnings show (a rebuilt index, lost offsets, a refused commit) as short lines.
fn init_logging() {
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: logs piped to a file or a program stay text.
        .with_ansi(ansi);
    match std::env::var("KAFKIT_LOG") {
        Ok(filter) => builder
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .init(),
        Err(_) => builder
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "kafkit=warn,kafkit_client=warn,kafkit_store=warn,kafkit_table=warn",
            ))
            .without_time()
            .with_target(false)
            .init(),
    }
}

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kafkit: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Negative) => ExitCode::from(1),
        Err(e) => {
            eprintln!("kafkit: {e:#}");
            ExitCode::from(2)
        }
    }
}
