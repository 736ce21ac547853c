//! The `kafkit` binary: parse arguments, build library objects, dispatch, map errors to exit
//! codes. All logic lives in the library crates.

use std::process::ExitCode;

use args::{Cli, Command, ConfigCommand, PartitionsCommand, PerfCommand, RegistryCommand};
use clap::Parser;
use kafkit::client::{Client, ConsumerConfig, ProducerConfig, Target};

mod args;
mod copy;
mod files;
mod format;
mod groups;
mod jq;
mod out;
mod perf;
mod registry;
mod repl;
mod schema_commands;
mod schemas;
use kafkit_cli::settings;
mod shell;
mod storages;
mod table;
mod time;
mod topics;
use kafkit::store::ops::jq::Pipeline;
use serde_json::json;
use shell::ReadPlan;
use storages::StorageSpec;

/// The -X properties of the Kafka client (the registry's are left out).
fn properties(cli: &Cli) -> anyhow::Result<Vec<(String, String)>> {
    let mut props = storages::parse_properties(&cli.properties)?;
    props.retain(|(k, _)| !schemas::is_registry_property(k));
    Ok(props)
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

/// How a command that ran ended: exit status 0, or 1 for a negative answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Done (exit 0).
    Done,
    /// A negative answer: no match, a difference, no such topic (exit 1).
    Negative,
}

/// Runs a storage command; `None` when the command is not one.
async fn run_storage_command(cli: &mut Cli) -> anyhow::Result<Option<Outcome>> {
    use kafkit::store::{ReadFrom, Storage};
    let is_storage_command = !matches!(
        cli.command,
        Command::Cluster { .. }
            | Command::ApiVersions
            | Command::Shell
            | Command::Perf(_)
            | Command::Completions { .. }
    );
    if !is_storage_command {
        return Ok(None);
    }
    let spec = storage_spec(cli);
    let resolved = storages::resolve(&spec)?;
    apply_defaults(&mut cli.command, &resolved.defaults());
    let storage = open_storage(cli, &resolved).await?;
    let registry = schemas::RegistrySettings::new(
        resolved.settings.as_ref(),
        &storages::parse_properties(&cli.properties)?,
    );
    attach_schemas(&mut cli.command, &registry, &storage).await?;
    let cli = &*cli;
    if let Command::Schemas(command) = &cli.command {
        let source = registry.source(&storage, false).await?;
        let positive = schema_commands::run(&source, command).await?;
        storage.close().await?;
        return Ok(Some(if positive {
            Outcome::Done
        } else {
            Outcome::Negative
        }));
    }
    if let Command::Registry(RegistryCommand::Serve {
        listen,
        topic,
        users,
    }) = &cli.command
    {
        registry::serve(storage, listen, topic, users.as_deref()).await?;
        return Ok(Some(Outcome::Done));
    }
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
            key_schema,
            value_schema,
            key_message,
            value_message,
            chunk_size,
        } => {
            let types = (key_type.unwrap_or_default(), value_type.unwrap_or_default());
            let writers = schemas::Writers {
                key: key_schema.as_deref(),
                value: value_schema.as_deref(),
                key_message: key_message.as_deref(),
                value_message: value_message.as_deref(),
            };
            for (side, ty, writer) in [
                ("key", types.0, writers.key),
                ("value", types.1, writers.value),
            ] {
                if ty.is_schema() && writer.is_none() {
                    anyhow::bail!(
                        "--{side}-type {} needs --{side}-schema FILE|ID|SUBJECT[:VERSION] to write with",
                        ty.name()
                    );
                }
            }
            let format = schemas::format_for(&registry, &storage, topic, types, writers).await?;
            let input = shell::ProduceInput {
                file: file.as_ref(),
                lines: *lines,
                chunk_size: chunk_size.map(|n| n as usize),
            };
            let n = shell::produce(&storage, topic, input, &format).await?;
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
            // Another storage shows its records with its own registry.
            let (other_storage, right_format) = match other {
                Some(o) if *o != spec => {
                    let (other_storage, other_registry) = open_other(cli, o).await?;
                    let types = (read.key_type, read.value_type);
                    let writers = schemas::Writers::default();
                    let format =
                        schemas::format_for(&other_registry, &other_storage, right, types, writers)
                            .await?;
                    (other_storage, Some(format))
                }
                _ => (storage.clone(), None),
            };
            let found = shell::diff(
                (&storage, left.as_str()),
                (&other_storage, right.as_str()),
                read,
                right_format,
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
        Command::Table {
            topic,
            get,
            watch,
            stats,
            pretty,
            value_type,
        } => {
            let types = (
                kafkit::store::ops::json::DataType::Str,
                value_type.unwrap_or_default(),
            );
            let writers = schemas::Writers::default();
            let shown = table::Shown {
                get: get.as_deref(),
                watch: *watch,
                stats: *stats,
                pretty: *pretty,
                format: schemas::format_for(&registry, &storage, topic, types, writers).await?,
            };
            if !table::table(&storage, topic, shown).await? {
                storage.close().await?;
                return Ok(Some(Outcome::Negative));
            }
        }
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
            key_schema,
            value_schema,
            key_message,
            value_message,
            n,
            append,
            resume,
            exactly_once,
            chunk_size,
            json,
            read,
            jq,
        } => {
            let (target_storage, target_registry) = match into {
                Some(t) if *t != spec => open_other(cli, t).await?,
                _ => (storage.clone(), registry.clone()),
            };
            let pipeline = jq.pipeline()?;
            let mut plan = kafkit::store::ops::copy::CopyPlan::new(&pipeline);
            plan.keep_partitions = !repartition;
            plan.keep_timestamps = !new_timestamps;
            plan.keep_headers = !no_headers;
            plan.limit = *n;
            plan.chunk_size = chunk_size.map(|n| n as usize);
            let types = (
                target_key_type.unwrap_or(read.key_type),
                target_value_type.unwrap_or(read.value_type),
            );
            let writers = schemas::Writers {
                key: key_schema.as_deref(),
                value: value_schema.as_deref(),
                key_message: key_message.as_deref(),
                value_message: value_message.as_deref(),
            };
            plan.target =
                schemas::format_for(&target_registry, &target_storage, target, types, writers)
                    .await?;
            plan.groups = *groups;
            plan.into_existing = match (*append, *resume) {
                (_, true) => kafkit::store::ops::copy::IntoExisting::Resume,
                (true, _) => kafkit::store::ops::copy::IntoExisting::Append,
                _ => kafkit::store::ops::copy::IntoExisting::Refuse,
            };
            let ends = (
                (&storage, source.as_str()),
                (&target_storage, target.as_str()),
            );
            let copied = match exactly_once {
                true => copy::cp_exactly_once(ends.0, ends.1, read, plan).await?,
                false => copy::cp(ends.0, ends.1, read, plan).await?,
            };
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
        Command::Export {
            topic,
            file,
            file_format,
            no_flatten,
            values_only,
            n,
            json,
            read,
        } => {
            let export = files::Export {
                topic,
                file,
                file_format: *file_format,
                no_flatten: *no_flatten,
                values_only: *values_only,
                n: *n,
                json: *json,
            };
            files::export(&storage, read, export).await?;
        }
        Command::Import {
            file,
            topic,
            file_format,
            key_column,
            partitions,
            repartition,
            key_type,
            value_type,
            key_schema,
            value_schema,
            n,
            json,
        } => {
            let types = (
                key_type.unwrap_or_default(),
                value_type.unwrap_or(kafkit::store::ops::json::DataType::Json),
            );
            let writers = schemas::Writers {
                key: key_schema.as_deref(),
                value: value_schema.as_deref(),
                key_message: None,
                value_message: None,
            };
            let target = schemas::format_for(&registry, &storage, topic, types, writers).await?;
            let import = files::Import {
                file,
                topic,
                file_format: *file_format,
                key_column: key_column.clone(),
                partitions: *partitions,
                repartition: *repartition,
                n: *n,
                json: *json,
            };
            files::import(&storage, target, import).await?;
        }
        Command::Shell
        | Command::Cluster { .. }
        | Command::ApiVersions
        | Command::Perf(_)
        | Command::Completions { .. } => {
            unreachable!("not storage commands")
        }
        Command::Registry(_) | Command::Schemas(_) => unreachable!("run above"),
    }
    storage.close().await?;
    Ok(Some(Outcome::Done))
}

/// Gives the reading commands the schemas their schema-typed keys and values need.
async fn attach_schemas(
    command: &mut Command,
    registry: &schemas::RegistrySettings,
    storage: &kafkit::store::AnyStorage,
) -> anyhow::Result<()> {
    let (topic, read) = match command {
        Command::Cat { topic, read, .. }
        | Command::Head { topic, read, .. }
        | Command::Tail { topic, read, .. }
        | Command::Grep { topic, read, .. }
        | Command::Cp {
            source: topic,
            read,
            ..
        }
        | Command::Diff {
            left: topic, read, ..
        }
        | Command::Export { topic, read, .. } => (topic.as_str(), read),
        _ => return Ok(()),
    };
    let types = (read.key_type, read.value_type);
    read.schemas =
        schemas::for_command(registry, storage, topic, types, schemas::Writers::default()).await?;
    Ok(())
}

/// Another storage a command reads or writes (`--other`, `--into`), with the registry its
/// records use.
async fn open_other(
    cli: &Cli,
    spec: &StorageSpec,
) -> anyhow::Result<(kafkit::store::AnyStorage, schemas::RegistrySettings)> {
    let resolved = storages::resolve(spec)?;
    let props = storages::parse_properties(&cli.properties)?;
    let registry = schemas::RegistrySettings::new(resolved.settings.as_ref(), &props);
    Ok((open_storage(cli, &resolved).await?, registry))
}

/// Fills in what the command line left to the configuration's defaults.
fn apply_defaults(command: &mut Command, defaults: &settings::Defaults) {
    match command {
        Command::Cat { read, .. }
        | Command::Head { read, .. }
        | Command::Tail { read, .. }
        | Command::Grep { read, .. }
        | Command::Wc { read, .. }
        | Command::Cp { read, .. }
        | Command::Diff { read, .. } => read.apply_defaults(defaults),
        Command::Export { read, .. } => {
            read.apply_defaults(defaults);
            read.value_type_default(kafkit::store::ops::json::DataType::Json);
        }
        Command::Table { value_type, .. } => *value_type = value_type.or(defaults.value_type),
        Command::Produce {
            key_type,
            value_type,
            ..
        }
        | Command::Import {
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
    if let Command::Shell = cli.command {
        let storage = storage_spec(&cli).to_string();
        let exec =
            |c: Cli| -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>>>> {
                Box::pin(async move {
                    if run(c).await? == Outcome::Negative {
                        println!("(no)");
                    }
                    Ok(())
                })
            };
        repl::run(storage, cli.properties.clone(), &exec).await?;
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
