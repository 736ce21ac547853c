//! Starting and stopping test brokers: Tansu (the quick one) or Apache Kafka (the
//! reference), chosen per process by `KAFKIT_TEST_BROKER=tansu|kafka`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::kafka::{self, KafkaOptions};

/// Which broker program a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    /// Tansu 0.6.0: starts in milliseconds; lacks or bends some behaviours (docs/TESTING.md).
    Tansu,
    /// Apache Kafka in KRaft mode: the reference.
    Kafka,
}

impl BrokerKind {
    /// The kind `KAFKIT_TEST_BROKER` names (`tansu`, the default, or `kafka`).
    pub fn from_env() -> BrokerKind {
        match std::env::var("KAFKIT_TEST_BROKER").as_deref() {
            Ok("kafka") => BrokerKind::Kafka,
            Ok("tansu") | Ok("") | Err(_) => BrokerKind::Tansu,
            Ok(other) => panic!("KAFKIT_TEST_BROKER={other}: expected tansu or kafka"),
        }
    }
}

/// The kind of broker this process's tests run against ([`BrokerKind::from_env`]).
pub fn test_broker_kind() -> BrokerKind {
    BrokerKind::from_env()
}

/// Whether this process's tests run against Apache Kafka (else Tansu): for the tests that
/// check Kafka's correct behaviour where Tansu bends it.
pub fn on_kafka() -> bool {
    test_broker_kind() == BrokerKind::Kafka
}

/// How to start a broker.
#[derive(Debug, Clone, Default)]
pub struct BrokerOptions {
    /// Tansu or Kafka (default: [`test_broker_kind`]).
    pub kind: Option<BrokerKind>,
    /// Listener security, authorizer and extra properties of a Kafka broker.
    pub kafka: KafkaOptions,
    /// Port to listen on (default: a free one).
    pub port: Option<u16>,
    /// Port to advertise in metadata (default: the listening port). Set it to a proxy's port
    /// so that clients only ever talk through the proxy.
    pub advertised_port: Option<u16>,
    /// Tansu's storage URL (default `memory://tansu/`).
    pub storage: Option<String>,
    /// Tansu: require SASL authentication.
    pub authentication: bool,
    /// Working directory (sqlite paths are relative to it; default: a fresh temp dir).
    pub dir: Option<PathBuf>,
}

/// A SCRAM user to create in a SASL-mode broker.
#[derive(Debug, Clone)]
pub struct ScramUser {
    /// User name.
    pub name: String,
    /// Password.
    pub password: String,
    /// `scram256` or `scram512`.
    pub mechanism: &'static str,
}

/// A running broker process, killed on drop.
pub struct Broker {
    child: Option<Child>,
    port: u16,
    advertised_port: u16,
    dir: PathBuf,
    _tempdir: Option<tempfile::TempDir>,
    log: PathBuf,
    kind: BrokerKind,
    /// Kafka's controller and internal ports, kept across restarts.
    kafka_ports: Option<(u16, u16)>,
    options: BrokerOptions,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("kind", &self.kind)
            .field("port", &self.port)
            .field("advertised_port", &self.advertised_port)
            .field("log", &self.log)
            .finish()
    }
}

/// The Tansu binary: `$TANSU`, else `tansu` on PATH, else `~/.cargo/bin/tansu`.
pub fn tansu_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TANSU") {
        return PathBuf::from(p);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("tansu");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cargo/bin/tansu")
}

/// A topic name no other test in this process uses.
pub fn unique_topic(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}-{}-{n}-{}",
        std::process::id(),
        rand::random::<u32>()
    )
}

static SHARED: OnceLock<(u16, PathBuf)> = OnceLock::new();

/// The bootstrap address of a broker shared by every test of this test binary. It lives
/// as long as the process (the broker dies with it).
pub fn shared_broker() -> String {
    let (port, _) = SHARED.get_or_init(|| {
        // Spawn from a thread that never ends: the broker is killed when its parent thread
        // dies (PR_SET_PDEATHSIG), so that must be when the test process exits.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut broker = Broker::start_with(BrokerOptions::default());
            tx.send((broker.port, broker.log.clone())).ok();
            if let Some(child) = broker.child.as_mut() {
                let _ = child.wait();
            }
            std::mem::forget(broker);
        });
        rx.recv().expect("the shared broker started")
    });
    format!("127.0.0.1:{port}")
}

/// Tansu's command line.
fn tansu_command(options: &BrokerOptions, port: u16, advertised: u16, dir: &Path) -> Command {
    let storage = options
        .storage
        .clone()
        .unwrap_or_else(|| "memory://tansu/".to_string());
    let mut cmd = Command::new(tansu_binary());
    cmd.arg("broker")
        .arg("--storage-engine")
        .arg(&storage)
        .arg("--listener-url")
        .arg(format!("tcp://127.0.0.1:{port}"))
        .arg("--advertised-listener-url")
        .arg(format!("tcp://127.0.0.1:{advertised}"))
        .current_dir(dir);
    if options.authentication {
        cmd.arg("--authentication");
    }
    cmd
}

/// Starts `cmd` with its output appended to `log`, killed when the returned [`Child`] is
/// dropped or this process ends.
fn spawn(mut cmd: Command, kind: BrokerKind, log: &Path) -> Child {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("the broker log file can be created in the temp dir");
    cmd.stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("log file handle can be cloned"))
        .stderr(log_file);
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill the child when
    // the spawning thread ends, so no broker outlives its tests.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    // The kernel kills the broker when the thread that spawned it ends. Callers may run on
    // short-lived threads (tokio's blocking pool retires idle threads after 10 s), so spawn
    // from a dedicated thread that lives until the returned guard is dropped.
    let (child_tx, child_rx) = std::sync::mpsc::channel();
    let (guard, stop) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        child_tx.send(cmd.spawn()).ok();
        let _ = stop.recv(); // returns when the guard is dropped
    });
    let child = child_rx
        .recv()
        .expect("the spawning thread answers")
        .unwrap_or_else(|e| match kind {
            BrokerKind::Tansu => panic!(
                "cannot start the test broker {}: {e}. Install it with scripts/test (or \
                 `cargo install tansu --locked --features dynostore,libsql`), or set $TANSU",
                tansu_binary().display()
            ),
            BrokerKind::Kafka => panic!("cannot start java for the Kafka test broker: {e}"),
        });
    Child {
        child,
        _parent: guard,
    }
}

/// A broker process and the guard that keeps its parent thread alive.
struct Child {
    child: std::process::Child,
    _parent: std::sync::mpsc::Sender<()>,
}

impl Child {
    fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait()
    }
    fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.wait()
    }
    fn kill(&mut self) -> std::io::Result<()> {
        self.child.kill()
    }
}

/// How waiting for a broker to be ready ended.
enum Ready {
    Yes,
    Exited(std::process::ExitStatus),
    TimedOut,
}

/// Waits (at most `wait`) until the broker answers ApiVersions on `port` and, for Kafka, its
/// log written after `log_start` says it has started.
fn wait_ready(
    child: &mut Child,
    kind: BrokerKind,
    port: u16,
    log: &Path,
    log_start: u64,
    wait: Duration,
) -> Ready {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Ready::Exited(status);
        }
        if answers_api_versions(port)
            && (kind == BrokerKind::Tansu || kafka::started(log, log_start))
        {
            return Ready::Yes;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ready::TimedOut
}

/// Sends ApiVersions v0 and waits for any well-formed answer.
fn answers_api_versions(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    // size, api_key=18, api_version=0, correlation_id=7, client_id=null
    let mut req = Vec::new();
    req.extend_from_slice(&10i32.to_be_bytes());
    req.extend_from_slice(&18i16.to_be_bytes());
    req.extend_from_slice(&0i16.to_be_bytes());
    req.extend_from_slice(&7i32.to_be_bytes());
    req.extend_from_slice(&(-1i16).to_be_bytes());
    if s.write_all(&req).is_err() {
        return false;
    }
    let mut head = [0u8; 10];
    s.read_exact(&mut head).is_ok() && head[4..8] == 7i32.to_be_bytes() && head[8..10] == [0, 0]
}

impl Broker {
    /// Starts a broker with memory storage on a free port.
    pub fn start() -> Broker {
        Self::start_with(BrokerOptions::default())
    }

    /// Starts a broker with `options`, waiting until it is ready: it answers ApiVersions
    /// and (Kafka) its log says it has started. A broker that does not come up panics with
    /// the end of its log.
    pub fn start_with(options: BrokerOptions) -> Broker {
        let kind = options.kind.unwrap_or_else(test_broker_kind);
        let (dir, tempdir) = match &options.dir {
            Some(d) => (d.clone(), None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("kafkit-broker-")
                    .tempdir()
                    .expect("a temp dir can be created");
                (t.path().to_path_buf(), Some(t))
            }
        };
        let log = dir.join(match kind {
            BrokerKind::Tansu => "tansu.log",
            BrokerKind::Kafka => "kafka.log",
        });
        let (attempts, wait) = match kind {
            BrokerKind::Tansu => (3, Duration::from_secs(30)),
            BrokerKind::Kafka => (2, Duration::from_secs(90)),
        };
        for _attempt in 0..attempts {
            let port = options.port.unwrap_or_else(crate::free_port);
            let advertised = options.advertised_port.unwrap_or(port);
            let log_start = std::fs::metadata(&log).map_or(0, |m| m.len());
            let (cmd, kafka_ports) = match kind {
                BrokerKind::Tansu => (tansu_command(&options, port, advertised, &dir), None),
                BrokerKind::Kafka => {
                    kafka::check_options(&options);
                    let controller = match &options.kafka.quorum {
                        Some(q) => q.controller_port,
                        None => crate::free_port(),
                    };
                    let ports = kafka::KafkaPorts {
                        client: port,
                        advertised,
                        controller,
                        internal: crate::free_port(),
                    };
                    let cmd = kafka::prepare(&dir, ports, &options.kafka);
                    (cmd, Some((ports.controller, ports.internal)))
                }
            };
            let mut child = spawn(cmd, kind, &log);
            let ready_port = kafka_ports.map_or(port, |(_, internal)| internal);
            match wait_ready(&mut child, kind, ready_port, &log, log_start, wait) {
                Ready::Yes => {
                    return Broker {
                        child: Some(child),
                        port,
                        advertised_port: advertised,
                        dir,
                        _tempdir: tempdir,
                        log,
                        kind,
                        kafka_ports,
                        options,
                    };
                }
                // Exited (port taken, bad arguments) or too slow: try again.
                Ready::Exited(_) | Ready::TimedOut => {}
            }
            let _ = child.kill();
            let _ = child.wait();
            if options.port.is_some() {
                break;
            }
        }
        // Keep the directory of a broker that failed, for its log and data.
        let kept = tempdir.map(|t| t.keep());
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        panic!(
            "the {kind:?} test broker did not start; its log ({}{}):\n{}",
            log.display(),
            if kept.is_some() { ", kept" } else { "" },
            log_text
                .chars()
                .rev()
                .take(3000)
                .collect::<String>()
                .chars()
                .rev()
                .collect::<String>()
        );
    }

    /// Starts a broker that requires SCRAM authentication, with `users` created.
    ///
    /// Tansu keeps SCRAM credentials only in SQL storage and its user tool cannot log in, so
    /// this starts an open broker on sqlite storage, creates the users, then restarts the
    /// same storage with `--authentication`.
    pub fn start_sasl(users: &[ScramUser]) -> Broker {
        if test_broker_kind() == BrokerKind::Kafka {
            // Kafka: one SASL_PLAINTEXT listener; every user exists for PLAIN and both SCRAM
            // mechanisms.
            return Broker::start_with(BrokerOptions {
                kafka: KafkaOptions {
                    security: kafka::KafkaSecurity::Sasl {
                        users: users
                            .iter()
                            .map(|u| (u.name.clone(), u.password.clone()))
                            .collect(),
                    },
                    ..Default::default()
                },
                ..Default::default()
            });
        }
        let temp = tempfile::tempdir().expect("a temp dir can be created");
        let options = BrokerOptions {
            kind: Some(BrokerKind::Tansu),
            storage: Some("sqlite://tansu.db".into()),
            dir: Some(temp.path().to_path_buf()),
            ..Default::default()
        };
        let mut open = Broker::start_with(options.clone());
        for u in users {
            let out = Command::new(tansu_binary())
                .args(["user", "create", "--broker"])
                .arg(format!("tcp://127.0.0.1:{}", open.port))
                .args(["--mechanism", u.mechanism, &u.name, &u.password])
                .current_dir(temp.path())
                .output()
                .expect("tansu user create runs");
            assert!(
                out.status.success(),
                "tansu user create {} failed: {}",
                u.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let port = open.port;
        open.stop();
        let mut broker = Broker::start_with(BrokerOptions {
            port: Some(port),
            authentication: true,
            ..options
        });
        broker._tempdir = Some(temp);
        broker
    }

    /// The address clients should bootstrap from (the advertised one).
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.advertised_port)
    }

    /// The last `max` bytes of the broker's log, for test failure messages.
    pub fn log_tail(&self, max: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(max);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text[start..].to_string()
    }

    /// Whether the broker process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The port the broker itself listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's working directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Kills the broker (it can be started again with [`restart`](Self::restart)).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops and starts the broker on the same ports and storage.
    pub fn restart(&mut self) {
        self.stop();
        let log_start = std::fs::metadata(&self.log).map_or(0, |m| m.len());
        let cmd = match (self.kind, self.kafka_ports) {
            (BrokerKind::Kafka, Some((controller, internal))) => kafka::prepare(
                &self.dir,
                kafka::KafkaPorts {
                    client: self.port,
                    advertised: self.advertised_port,
                    controller,
                    internal,
                },
                &self.options.kafka,
            ),
            _ => tansu_command(&self.options, self.port, self.advertised_port, &self.dir),
        };
        let mut child = spawn(cmd, self.kind, &self.log);
        let ready_port = self.kafka_ports.map_or(self.port, |(_, internal)| internal);
        let wait = Duration::from_secs(90);
        match wait_ready(
            &mut child, self.kind, ready_port, &self.log, log_start, wait,
        ) {
            Ready::Yes => self.child = Some(child),
            Ready::Exited(status) => panic!(
                "the restarted {:?} test broker exited ({status}); its log:\n{}",
                self.kind,
                self.log_tail(3000)
            ),
            Ready::TimedOut => {
                let _ = child.kill();
                panic!(
                    "the restarted {:?} test broker did not come back; its log:\n{}",
                    self.kind,
                    self.log_tail(3000)
                );
            }
        }
    }

    /// Which broker program this is.
    pub fn kind(&self) -> BrokerKind {
        self.kind
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}
