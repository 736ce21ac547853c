//! The command line: every command and its options (clap). `main.rs` runs them.

use clap::{Parser, Subcommand};

use crate::shell::ReadArgs;
use crate::storages::StorageSpec;
use crate::{format, groups, jq, perf, shell, time};

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
pub(crate) struct Cli {
    /// Bootstrap broker(s), `host:port[,host:port...]`.
    #[arg(short = 'b', long = "brokers", global = true, env = "KAFKIT_BROKERS")]
    pub(crate) brokers: Option<String>,

    /// Client property `key=value` (Java/librdkafka names, e.g. security.protocol=SSL).
    #[arg(
        short = 'X',
        long = "property",
        global = true,
        value_name = "KEY=VALUE"
    )]
    pub(crate) properties: Vec<String>,

    /// The storage to work on: `local[:DIR]`, `kafka:HOST:PORT`, `s3:BUCKET/PREFIX`,
    /// `azure:CONTAINER/PREFIX`, or the name of a YAML config (NAME.yaml in ./ or
    /// ./configs/{clusters,locals,s3s,azureblobs}/, or the same under $KAFKIT_HOME) (default: -b
    /// if given, else local storage in ./.kafkit). S3 credentials also come from AWS_*
    /// variables (AWS_ENDPOINT_URL for another server), Azure's from
    /// AZURE_STORAGE_CONNECTION_STRING.
    #[arg(short = 's', long = "storage", global = true, env = "KAFKIT_STORAGE")]
    pub(crate) storage: Option<StorageSpec>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Show the cluster: brokers, controller, topics with partitions, leaders and ISR.
    Cluster {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show the API versions a broker supports, and which kafkit will use.
    ApiVersions,
    /// An interactive shell: these commands at a prompt on one storage (`use STORAGE` to
    /// switch), with history and tab completion of commands, options, topics and groups.
    Shell,
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
        /// The schema keys are written with (avro, protobuf, jsonschema): a schema file
        /// (registered under the subject the strategy names), a schema id, or
        /// SUBJECT[:VERSION].
        #[arg(long, value_name = "FILE|ID|SUBJECT[:VERSION]")]
        key_schema: Option<String>,
        /// The schema values are written with (avro, protobuf, jsonschema): a schema file
        /// (.avsc, .proto, .json; registered under `<topic>-value` by default), a schema id,
        /// or SUBJECT[:VERSION].
        #[arg(long, value_name = "FILE|ID|SUBJECT[:VERSION]")]
        value_schema: Option<String>,
        /// The Protobuf message keys are (full name, e.g. shop.Order; default: the
        /// schema's first message).
        #[arg(long, value_name = "MESSAGE", requires = "key_schema")]
        key_message: Option<String>,
        /// The Protobuf message values are (full name, e.g. shop.Order; default: the
        /// schema's first message).
        #[arg(long, value_name = "MESSAGE", requires = "value_schema")]
        value_message: Option<String>,
        /// Write values longer than BYTES as several records (chunks) that readers join
        /// again (cat, cp, export, the library): a value larger than the broker takes.
        #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
        chunk_size: Option<u64>,
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
    /// A topic as a table: the latest value of each key, tombstones applied (ktables'
    /// rules: records without a UTF-8 key, or whose value does not decode, are skipped and
    /// counted), as JSON lines `{"key", "value"}` in key order.
    Table {
        /// The topic.
        topic: String,
        /// Print only this key's value (exit 1 when the table does not hold it).
        #[arg(long, value_name = "KEY")]
        get: Option<String>,
        /// Then print each change as it happens, `{"key", "old", "new"}`, until Ctrl-C.
        #[arg(long)]
        watch: bool,
        /// Print the counts (keys, upserts, tombstones, skipped records, catch-up time)
        /// instead of the contents.
        #[arg(long)]
        stats: bool,
        /// Print a table instead of JSON lines.
        #[arg(long)]
        pretty: bool,
        /// How values are shown [default: str, or the config's value.type].
        #[arg(long = "value-type", value_parser = shell::data_type())]
        value_type: Option<kafkit::store::ops::json::DataType>,
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
        /// The target storage, as --storage takes it (default: the same).
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
        /// The schema target keys are written with (a schema-typed --target-key-type): a
        /// schema file, a schema id, or SUBJECT[:VERSION].
        #[arg(long, value_name = "FILE|ID|SUBJECT[:VERSION]")]
        key_schema: Option<String>,
        /// The schema target values are written with (a schema-typed --target-value-type):
        /// a schema file, a schema id, or SUBJECT[:VERSION].
        #[arg(long, value_name = "FILE|ID|SUBJECT[:VERSION]")]
        value_schema: Option<String>,
        /// The Protobuf message target keys are (default: the schema's first message).
        #[arg(long, value_name = "MESSAGE", requires = "key_schema")]
        key_message: Option<String>,
        /// The Protobuf message target values are (default: the schema's first message).
        #[arg(long, value_name = "MESSAGE", requires = "value_schema")]
        value_message: Option<String>,
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
        /// Cluster to cluster, exactly once: each batch is written in a transaction that also
        /// commits the copy's progress as --group's offsets in the target, so a copy run
        /// again after a crash leaves no duplicates for read_committed readers.
        #[arg(long, conflicts_with_all = ["resume", "groups"])]
        exactly_once: bool,
        /// Write values longer than BYTES as chunks (as `produce --chunk-size`); chunked
        /// source messages are read whole.
        #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
        chunk_size: Option<u64>,
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        read: ReadArgs,
        #[command(flatten)]
        jq: jq::JqArgs,
    },
    /// Write a topic to a file: CSV, JSON Lines, JSON, Parquet, Arrow/Feather, ORC, Excel,
    /// XML or Avro (from the extension, or --file-format); a local path, s3://BUCKET/KEY or
    /// azure://CONTAINER/BLOB. Columns: partition, offset, timestamp, key, headers, and the
    /// value flattened into value.* columns (JSON objects) or one value column.
    Export {
        /// The topic.
        topic: String,
        /// The file.
        file: String,
        /// The file's format (default: from its extension).
        #[arg(long, value_name = "FORMAT")]
        file_format: Option<kafkit::files::FileFormat>,
        /// Keep each value as one column (JSON text) instead of flattening objects.
        #[arg(long)]
        no_flatten: bool,
        /// Only the value's columns, without the value. prefix (kafi's topic_to_file).
        #[arg(long)]
        values_only: bool,
        /// Stop after N records.
        #[arg(short = 'n')]
        n: Option<u64>,
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Write a file's rows to a topic (created when missing): any format `export` writes
    /// (Excel also .xls and .ods). Rows with value or value.* columns are records (key,
    /// partition, timestamp and headers from their columns); any other row is a value.
    Import {
        /// The file (a local path, s3://BUCKET/KEY or azure://CONTAINER/BLOB).
        file: String,
        /// The topic.
        topic: String,
        /// The file's format (default: from its extension).
        #[arg(long, value_name = "FORMAT")]
        file_format: Option<kafkit::files::FileFormat>,
        /// For rows that are values: the column that is the key.
        #[arg(long, value_name = "COLUMN")]
        key_column: Option<String>,
        /// Partitions of a new topic (default: as many as the rows name, else 1).
        #[arg(long)]
        partitions: Option<i32>,
        /// Derive partitions from keys instead of keeping the rows' partitions (and stamp
        /// records with the import time).
        #[arg(long)]
        repartition: bool,
        /// How keys are written [default: str, or the config's key.type].
        #[arg(long, value_parser = shell::data_type())]
        key_type: Option<kafkit::store::ops::json::DataType>,
        /// How values are written [default: json, or the config's value.type].
        #[arg(long, value_parser = shell::data_type())]
        value_type: Option<kafkit::store::ops::json::DataType>,
        /// The schema keys are written with (avro, protobuf, jsonschema).
        #[arg(long, value_name = "FILE|ID|SUBJECT[:VERSION]")]
        key_schema: Option<String>,
        /// The schema values are written with (avro, protobuf, jsonschema).
        #[arg(long, value_name = "FILE|ID|SUBJECT[:VERSION]")]
        value_schema: Option<String>,
        /// Stop after N rows.
        #[arg(short = 'n')]
        n: Option<u64>,
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compare two topics record by record (keys, values, headers, timestamps); exit 1 when
    /// they differ.
    Diff {
        /// The first topic.
        left: String,
        /// The second topic.
        right: String,
        /// The second topic's storage, as --storage takes it (default: the same).
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
    /// A Schema Registry with Confluent's REST API, kept in a topic of the storage.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// The schemas of a Schema Registry (-X schema.registry.url, the config's
    /// schema_registry section, or a local storage's own): subjects, versions, register,
    /// delete, compatibility.
    #[command(subcommand)]
    Schemas(crate::schema_commands::SchemasCommand),
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
pub(crate) enum RegistryCommand {
    /// Serve the registry until Ctrl-C: subjects, versions, ids, references, compatibility
    /// levels and deletes, kept in TOPIC (Confluent's `_schemas` record format, so it can take
    /// over a Confluent registry's topic).
    Serve {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: String,
        /// The topic the registry is kept in (created compacted when missing).
        #[arg(long, default_value = "_schemas")]
        topic: String,
        /// Let in only the users of this password file (`user: password[,role...]` per
        /// line, the format Confluent's registry reads), by HTTP basic authentication;
        /// `/health` stays open.
        #[arg(long, value_name = "FILE")]
        users: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum PartitionsCommand {
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
pub(crate) enum ConfigCommand {
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
pub(crate) enum PerfCommand {
    /// Produce N records of S bytes and report records/s, CPU per record, latency and RSS.
    Produce(perf::ProduceArgs),
    /// Read N records from every partition of a topic and report records/s, CPU per record
    /// and RSS.
    Consume(perf::ConsumeArgs),
    /// Catch up a global table over an existing topic (UTF-8 keys, JSON values).
    Table(perf::TableArgs),
}
