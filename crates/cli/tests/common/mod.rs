//! Running the kafkit binary in tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary with `--storage storage` ("" = none), run in `dir`.
pub fn kafkit(storage: &str, dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kafkit"));
    c.current_dir(dir)
        .env_remove("KAFKIT_STORAGE")
        .env_remove("KAFKIT_BROKERS");
    if !storage.is_empty() {
        c.args(["--storage", storage]);
    }
    c
}

/// Runs kafkit with `args`, feeding `stdin`.
pub fn run(storage: &str, dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = kafkit(storage, dir);
    command.args(args);
    run_command(command, stdin)
}

/// Runs a prepared kafkit command (extra environment, say), feeding `stdin`.
pub fn run_command(mut command: Command, stdin: Option<&str>) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = stdin.unwrap_or("").to_string();
    let mut pipe = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        let _ = pipe.write_all(input.as_bytes());
    });
    child.wait_with_output().unwrap()
}

/// Runs kafkit, asserts success, returns stdout.
pub fn ok(storage: &str, dir: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let out = run(storage, dir, args, stdin);
    assert!(
        out.status.success(),
        "kafkit {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs kafkit, asserts a failure with a one-line error, returns it.
pub fn err(storage: &str, dir: &Path, args: &[&str]) -> String {
    let out = run(storage, dir, args, None);
    assert!(!out.status.success(), "kafkit {args:?} should fail");
    let e = String::from_utf8(out.stderr).unwrap();
    assert_eq!(e.trim().lines().count(), 1, "a one-line error: {e}");
    e
}

/// JSON lines.
pub fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `kafkit registry serve` on a local storage in `dir`, listening on `port`.
pub fn serve_registry(dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .arg("-s")
        .arg(format!("local:{}", dir.display()))
        .args(["registry", "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kafkit starts")
}

/// One HTTP/1.1 exchange: the status and the body.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Waits until the registry listens (panics with its stderr when it exited).
pub fn wait_until_up(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("the registry exited ({status}): {err}");
        }
        assert!(Instant::now() < deadline, "the registry never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes a named config `NAME.yaml` in `dir` for emulated Kafka under `prefix` on the test
/// kit's shared `kind` server (the bucket or container `kafkit-cli`); returns NAME.
pub fn object_storage_config(
    dir: &Path,
    kind: kafkit_testkit::ObjectServerKind,
    prefix: &str,
) -> String {
    use kafkit_testkit::{ObjectServer, ObjectServerKind, MOTO_ACCESS_KEY, MOTO_SECRET_KEY};
    let server = ObjectServer::shared(kind);
    server.create_container("kafkit-cli");
    let (name, text) = match kind {
        ObjectServerKind::S3 => (
            "s3test",
            format!(
                "s3:\n  endpoint: {}\n  access.key: {MOTO_ACCESS_KEY}\n  secret.key: {MOTO_SECRET_KEY}\n  bucket.name: kafkit-cli\n  root.dir: {prefix}\n",
                server.endpoint()
            ),
        ),
        ObjectServerKind::Azure => (
            "azuretest",
            format!(
                "azure_blob:\n  connection.string: \"{}\"\n  container.name: kafkit-cli\n  root.dir: {prefix}\n",
                server.connection_string()
            ),
        ),
    };
    std::fs::write(dir.join(format!("{name}.yaml")), text).unwrap();
    name.to_string()
}
