//! Object store servers for tests: `moto_server` (S3, from PyPI `moto[server]`) and Azurite
//! (Azure Blob Storage, from npm), each on a free loopback port, killed with the test process.
//!
//! moto runs as `$KAFKIT_MOTO_SERVER` when set, else `$KAFKIT_PYTHON -m moto.server`; Azurite as
//! `$KAFKIT_AZURITE`, then `~/.cache/kafkit/azurite/node_modules/.bin/azurite-blob`, then
//! `azurite-blob` on `PATH` (scripts/test installs both).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};

/// The account and key Azurite knows (the Azure Storage emulators' well-known ones).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's account key.
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The credentials the tests give moto (it accepts any).
pub const MOTO_ACCESS_KEY: &str = "testing";
/// moto's secret.
pub const MOTO_SECRET_KEY: &str = "testing";

/// Which object store server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectServerKind {
    /// moto_server, speaking S3.
    S3,
    /// Azurite, speaking Azure Blob Storage.
    Azure,
}

/// A running object store server.
#[derive(Debug)]
pub struct ObjectServer {
    /// Which one.
    pub kind: ObjectServerKind,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its log file.
    pub log: PathBuf,
}

/// moto's server: `$KAFKIT_MOTO_SERVER`, else the peer Python's `-m moto.server`.
fn moto_command() -> Command {
    match std::env::var_os("KAFKIT_MOTO_SERVER") {
        Some(p) => Command::new(p),
        None => {
            let mut c =
                Command::new(std::env::var_os("KAFKIT_PYTHON").unwrap_or_else(|| "python3".into()));
            c.args(["-m", "moto.server"]);
            c
        }
    }
}

fn azurite_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("KAFKIT_AZURITE") {
        return PathBuf::from(p);
    }
    let cached = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/kafkit/azurite/node_modules/.bin/azurite-blob");
    if cached.exists() {
        return cached;
    }
    PathBuf::from("azurite-blob")
}

static SHARED_S3: OnceLock<(u16, PathBuf)> = OnceLock::new();
static SHARED_AZURE: OnceLock<(u16, PathBuf)> = OnceLock::new();

impl ObjectServer {
    /// The server of `kind` shared by every test of this test binary (tests keep apart by
    /// bucket or prefix); it lives as long as the process.
    pub fn shared(kind: ObjectServerKind) -> ObjectServer {
        let cell = match kind {
            ObjectServerKind::S3 => &SHARED_S3,
            ObjectServerKind::Azure => &SHARED_AZURE,
        };
        let (port, log) = cell.get_or_init(|| {
            // Spawned from a thread that never ends: the server dies with its parent thread.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let (mut child, port, log) = start(kind);
                tx.send((port, log)).ok();
                let _ = child.wait();
            });
            rx.recv().expect("the object store server started")
        });
        ObjectServer {
            kind,
            port: *port,
            log: log.clone(),
        }
    }

    /// The endpoint URL: `http://127.0.0.1:PORT` for S3, the account's blob endpoint for
    /// Azure.
    pub fn endpoint(&self) -> String {
        match self.kind {
            ObjectServerKind::S3 => format!("http://127.0.0.1:{}", self.port),
            ObjectServerKind::Azure => {
                format!("http://127.0.0.1:{}/{AZURITE_ACCOUNT}", self.port)
            }
        }
    }

    /// The Azure connection string of Azurite's account.
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};BlobEndpoint={};",
            self.endpoint()
        )
    }

    /// Creates a bucket (S3) or container (Azure) of that name; one that exists is fine.
    pub fn create_container(&self, name: &str) {
        let (path, headers) = match self.kind {
            ObjectServerKind::S3 => (format!("/{name}"), Vec::new()),
            ObjectServerKind::Azure => {
                let path = format!("/{AZURITE_ACCOUNT}/{name}?restype=container");
                (path, azure_signed_put(name))
            }
        };
        let status = put(self.port, &path, &headers);
        assert!(
            matches!(status, 200 | 201 | 409),
            "creating {name} on the {:?} server answered {status} (log: {})",
            self.kind,
            self.log.display()
        );
    }
}

/// Starts the server of `kind`; returns it once it accepts connections.
fn start(kind: ObjectServerKind) -> (std::process::Child, u16, PathBuf) {
    let port = crate::free_port();
    let dir = std::env::temp_dir().join(format!("kafkit-objects-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let log = dir.join("server.log");
    let mut cmd = match kind {
        ObjectServerKind::S3 => {
            let mut c = moto_command();
            c.arg("-H").arg("127.0.0.1").arg("-p").arg(port.to_string());
            c
        }
        ObjectServerKind::Azure => {
            let mut c = Command::new(azurite_binary());
            c.args(["--blobHost", "127.0.0.1", "--blobPort"])
                .arg(port.to_string())
                .arg("--location")
                .arg(dir.join("data"))
                .args(["--silent", "--skipApiVersionCheck", "--loose"]);
            c
        }
    };
    let out = std::fs::File::create(&log).expect("a log file");
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone().expect("a log handle"))
        .stderr(out)
        .current_dir(&dir);
    // SAFETY: prctl is async-signal-safe; it asks the kernel to kill the server when the
    // spawning thread (which lives as long as the process) ends.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        panic!(
            "cannot start the {kind:?} test server ({:?}): {e}; scripts/test installs \
             moto[server] (pip) and azurite (npm)",
            cmd.get_program()
        )
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the {kind:?} test server exited ({status}); log: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "the {kind:?} test server did not listen within 60 s; log: {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, port, log)
}

/// Headers of Azure's Create Container request, signed with Azurite's account key
/// (SharedKey, service version 2021-08-06).
fn azure_signed_put(container: &str) -> Vec<(String, String)> {
    let date = httpdate_now();
    let version = "2021-08-06";
    let canonical_headers = format!("x-ms-date:{date}\nx-ms-version:{version}\n");
    let resource = format!("/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{container}\nrestype:container");
    // VERB, then eleven standard headers (all empty here; Content-Length empty for 0).
    let to_sign = format!("PUT\n\n\n\n\n\n\n\n\n\n\n\n{canonical_headers}{resource}");
    let key = base64::engine::general_purpose::STANDARD
        .decode(AZURITE_KEY)
        .expect("the well-known key is base64");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    vec![
        ("x-ms-date".into(), date),
        ("x-ms-version".into(), version.into()),
        (
            "Authorization".into(),
            format!("SharedKey {AZURITE_ACCOUNT}:{signature}"),
        ),
    ]
}

/// Now as an HTTP date (`Mon, 07 Dec 2026 18:10:58 GMT`).
fn httpdate_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{weekday}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        months[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A PUT with no body to `path` on 127.0.0.1:`port`; returns the status code.
fn put(port: u16, path: &str, headers: &[(String, String)]) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the server listens");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a timeout");
    let mut request = format!(
        "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n"
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .expect("the request is sent");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
