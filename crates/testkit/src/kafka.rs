//! Apache Kafka as a test broker: a single-node KRaft broker and controller in one JVM.
//!
//! The jars come from Maven Central through `testing/kafka/pom.xml` (scripts/install-kafka
//! copies them into `~/.cache/kafkit/kafka-<version>/libs`); this module writes the
//! broker's `server.properties`, formats its storage once, and builds the `java` command.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;

use crate::broker::BrokerOptions;

/// The Kafka version scripts/install-kafka installs and the test kit looks for: the one
/// `testing/kafka/pom.xml` names.
pub fn kafka_version() -> &'static str {
    const POM: &str = include_str!("../../../testing/kafka/pom.xml");
    POM.split_once("<kafka.version>")
        .and_then(|(_, rest)| rest.split_once("</kafka.version>"))
        .map(|(version, _)| version.trim())
        .expect("testing/kafka/pom.xml names <kafka.version>")
}

/// The folder of Kafka's jars: `$KAFKIT_KAFKA_LIBS`, else
/// `~/.cache/kafkit/kafka-<version>/libs`.
pub fn kafka_libs() -> PathBuf {
    if let Some(p) = std::env::var_os("KAFKIT_KAFKA_LIBS") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(format!(".cache/kafkit/kafka-{}/libs", kafka_version()))
}

/// How clients reach a Kafka test broker, and what it demands of them.
#[derive(Debug, Clone, Default)]
pub enum KafkaSecurity {
    /// PLAINTEXT: no authentication, no encryption.
    #[default]
    Plaintext,
    /// SASL_PLAINTEXT with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 enabled, for these users
    /// (each user exists for PLAIN and for both SCRAM mechanisms, with one password).
    Sasl {
        /// `(name, password)` pairs.
        users: Vec<(String, String)>,
    },
    /// SSL with the server certificate and key of these PEM files (the chain first).
    Ssl {
        /// PEM file of the server's certificate chain.
        chain: PathBuf,
        /// PEM file of the server's PKCS#8 key.
        key: PathBuf,
        /// With a CA file, client certificates signed by it are required.
        client_ca: Option<PathBuf>,
    },
}

impl KafkaSecurity {
    fn protocol(&self) -> &'static str {
        match self {
            KafkaSecurity::Plaintext => "PLAINTEXT",
            KafkaSecurity::Sasl { .. } => "SASL_PLAINTEXT",
            KafkaSecurity::Ssl { .. } => "SSL",
        }
    }
}

/// Options only a Kafka broker has.
#[derive(Debug, Clone, Default)]
pub struct KafkaOptions {
    /// The client listener's security.
    pub security: KafkaSecurity,
    /// Turns on the StandardAuthorizer with these super users (`User:admin`, ...); every
    /// other principal needs ACLs.
    pub super_users: Vec<String>,
    /// More `server.properties` lines (`key=value`), added last.
    pub properties: Vec<String>,
    /// This node's place in a cluster of several (see [`crate::KafkaCluster`]); none for a
    /// single node.
    pub quorum: Option<KafkaQuorum>,
}

/// A node of a multi-node KRaft cluster: every node is broker and controller, the voters
/// fixed in configuration.
#[derive(Debug, Clone)]
pub struct KafkaQuorum {
    /// This node's id (1, 2, ...).
    pub node_id: i32,
    /// `controller.quorum.voters`: `1@127.0.0.1:PORT,2@...`.
    pub voters: String,
    /// This node's controller port (named in `voters`).
    pub controller_port: u16,
    /// The cluster id every node is formatted with.
    pub cluster_id: String,
    /// Replicas of the internal topics (`__consumer_offsets`, transactions' state) and the
    /// default for new topics; `min.insync.replicas` is one less.
    pub replicas: usize,
}

/// The ports a Kafka node listens on besides the client port.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KafkaPorts {
    /// The client listener.
    pub client: u16,
    /// What the client listener advertises.
    pub advertised: u16,
    /// The controller listener.
    pub controller: u16,
    /// The plaintext listener brokers and the test kit's readiness check use.
    pub internal: u16,
}

/// A fresh cluster id: 16 random bytes in URL-safe base64, as Kafka's tools make them. Like
/// them, never one that starts with `-`, which a command line would take for an option.
pub(crate) fn cluster_id() -> String {
    loop {
        let id =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        if !id.starts_with('-') {
            return id;
        }
    }
}

/// The `server.properties` of a single-node broker and controller.
pub(crate) fn server_properties(dir: &Path, ports: KafkaPorts, options: &KafkaOptions) -> String {
    let KafkaPorts {
        client,
        advertised,
        controller,
        internal,
    } = ports;
    let protocol = options.security.protocol();
    let mut p = String::new();
    let mut line = |s: &str| {
        p.push_str(s);
        p.push('\n');
    };
    line("process.roles=broker,controller");
    let replicas = match &options.quorum {
        None => {
            line("node.id=1");
            line(&format!(
                "controller.quorum.bootstrap.servers=127.0.0.1:{controller}"
            ));
            1
        }
        Some(q) => {
            line(&format!("node.id={}", q.node_id));
            line(&format!("controller.quorum.voters={}", q.voters));
            line(&format!("default.replication.factor={}", q.replicas));
            line(&format!("min.insync.replicas={}", q.replicas.max(2) - 1));
            // Only an in-sync replica may lead; a killed node is fenced (and its partitions
            // move) 3 s after its last heartbeat instead of 9.
            line("unclean.leader.election.enable=false");
            line("broker.session.timeout.ms=3000");
            line("broker.heartbeat.interval.ms=500");
            q.replicas
        }
    };
    line(&format!(
        "listeners=CLIENT://127.0.0.1:{client},INTERNAL://127.0.0.1:{internal},CONTROLLER://127.0.0.1:{controller}"
    ));
    line(&format!(
        "advertised.listeners=CLIENT://127.0.0.1:{advertised},INTERNAL://127.0.0.1:{internal}"
    ));
    line(&format!(
        "listener.security.protocol.map=CLIENT:{protocol},INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
    ));
    line("controller.listener.names=CONTROLLER");
    line("inter.broker.listener.name=INTERNAL");
    line(&format!("log.dirs={}", dir.join("data").display()));
    // Internal topics: one replica per node (up to the cluster's replicas), and in sync
    // with one less.
    for key in [
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "share.coordinator.state.topic.replication.factor",
    ] {
        line(&format!("{key}={replicas}"));
    }
    for key in [
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.min.isr",
    ] {
        line(&format!("{key}={}", replicas.max(2) - 1));
    }
    line("offsets.topic.num.partitions=4");
    line("transaction.state.log.num.partitions=4");
    // The coordinator looks for transactions past their timeout every second (default 10 s),
    // so a test can see one aborted.
    line("transaction.abort.timed.out.transaction.cleanup.interval.ms=1000");
    line("group.initial.rebalance.delay.ms=0");
    // Small segments (8 MiB: a 1 MiB record must still fit one) and an eager cleaner, so
    // that compaction really happens in tests (which can shrink segment.bytes per topic).
    line("log.segment.bytes=8388608");
    line("log.cleaner.backoff.ms=500");
    line("log.cleaner.min.compaction.lag.ms=0");
    line("log.cleaner.dedupe.buffer.size=4194304");
    line("log.cleaner.threads=1");
    line("log.retention.check.interval.ms=1000");
    line("num.network.threads=2");
    line("num.io.threads=4");
    line("auto.create.topics.enable=false");
    match &options.security {
        KafkaSecurity::Plaintext => {}
        KafkaSecurity::Sasl { users } => {
            line("sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512");
            let mut plain = String::from(
                "listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required",
            );
            for (name, password) in users {
                let _ = write!(plain, " user_{name}=\"{password}\"");
            }
            plain.push(';');
            line(&plain);
            for mechanism in ["scram-sha-256", "scram-sha-512"] {
                line(&format!(
                    "listener.name.client.{mechanism}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
                ));
            }
        }
        KafkaSecurity::Ssl {
            chain,
            key,
            client_ca,
        } => {
            line("listener.name.client.ssl.keystore.type=PEM");
            line(&format!(
                "listener.name.client.ssl.keystore.location={}",
                pem_bundle(chain, key, dir).display()
            ));
            if let Some(ca) = client_ca {
                line("listener.name.client.ssl.client.auth=required");
                line("listener.name.client.ssl.truststore.type=PEM");
                line(&format!(
                    "listener.name.client.ssl.truststore.location={}",
                    ca.display()
                ));
            }
        }
    }
    if !options.super_users.is_empty() {
        line("authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer");
        // The broker and controller talk over plaintext listeners as ANONYMOUS.
        let mut supers = options.super_users.clone();
        supers.push("User:ANONYMOUS".into());
        line(&format!("super.users={}", supers.join(";")));
    }
    for extra in &options.properties {
        line(extra);
    }
    p
}

/// Kafka's PEM key store is one file holding the key, then the certificate chain.
fn pem_bundle(chain: &Path, key: &Path, dir: &Path) -> PathBuf {
    let bundle = dir.join("server-keystore.pem");
    let mut text = std::fs::read_to_string(key).expect("the server key file is readable");
    text.push('\n');
    text.push_str(&std::fs::read_to_string(chain).expect("the server chain file is readable"));
    std::fs::write(&bundle, text).expect("the key store can be written");
    bundle
}

/// The `java` command of a Kafka tool or the broker, with the jars on the class path.
fn java(main: &str, dir: &Path) -> Command {
    let libs = kafka_libs();
    let version = kafka_version();
    if !libs.join(format!("kafka_2.13-{version}.jar")).is_file() {
        panic!(
            "Apache Kafka {version} is not installed in {}: run scripts/install-kafka \
             (scripts/test does), or set $KAFKIT_KAFKA_LIBS",
            libs.display()
        );
    }
    let log4j = dir.join("log4j2.properties");
    if !log4j.exists() {
        std::fs::write(&log4j, LOG4J).expect("the log config can be written");
    }
    let mut cmd = Command::new(std::env::var_os("JAVA").unwrap_or_else(|| "java".into()));
    let heap = std::env::var("KAFKIT_KAFKA_HEAP").unwrap_or_else(|_| "512m".into());
    cmd.arg(format!("-Xmx{heap}"))
        .arg("-Xms128m")
        .arg("-XX:+UseSerialGC")
        .arg(format!("-Dlog4j2.configurationFile={}", log4j.display()))
        .arg("-cp")
        .arg(libs.join("*"))
        .arg(main)
        .current_dir(dir);
    cmd
}

const LOG4J: &str = "status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.state.name = state.change.logger
logger.state.level = WARN
";

/// Writes `server.properties` into `dir` and formats the storage when it is new (SCRAM
/// users are created by the format), then returns the broker's command.
pub(crate) fn prepare(dir: &Path, ports: KafkaPorts, options: &KafkaOptions) -> Command {
    let properties = dir.join("server.properties");
    std::fs::write(&properties, server_properties(dir, ports, options))
        .expect("server.properties can be written");
    if !dir.join("data/meta.properties").exists() {
        let mut format = java("kafka.tools.StorageTool", dir);
        format.args(["format", "--ignore-formatted"]);
        match &options.quorum {
            // The voters are in the configuration.
            Some(q) => format.arg(format!("--cluster-id={}", q.cluster_id)),
            None => format
                .arg("--standalone")
                .arg(format!("--cluster-id={}", cluster_id())),
        };
        format.arg("-c").arg(&properties);
        if let KafkaSecurity::Sasl { users } = &options.security {
            for (name, password) in users {
                for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
                    format
                        .arg("--add-scram")
                        .arg(format!("{mechanism}=[name={name},password={password}]"));
                }
            }
        }
        let out = format.output().expect("java runs Kafka's StorageTool");
        assert!(
            out.status.success(),
            "formatting the Kafka test broker's storage failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut broker = java("kafka.Kafka", dir);
    broker.arg(&properties);
    broker
}

/// Whether the broker's log says it has started (it then serves metadata, not only
/// ApiVersions).
pub(crate) fn started(log: &Path, since: u64) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(log) else {
        return false;
    };
    if file.seek(SeekFrom::Start(since)).is_err() {
        return false;
    }
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    text.contains("Kafka Server started")
}

/// Options other than the Kafka ones never change the command; kept for symmetry with
/// Tansu, whose options are all on its command line.
pub(crate) fn check_options(options: &BrokerOptions) {
    assert!(
        options.storage.is_none() && !options.authentication,
        "storage URLs and Tansu's --authentication do not apply to a Kafka broker; \
         use BrokerOptions::kafka"
    );
}
