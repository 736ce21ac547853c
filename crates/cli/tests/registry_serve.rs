//! `kafkit registry serve` on a local storage: Confluent's REST answers over HTTP, and the
//! registry is the same after the process is killed and started again.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn serve(dir: &std::path::Path, port: u16) -> Child {
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
fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
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

fn wait_until_up(port: u16, child: &mut Child) {
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

#[test]
fn the_registry_serves_confluents_api_and_keeps_its_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let port = kafkit_testkit::free_port();
    let mut child = serve(dir.path(), port);
    wait_until_up(port, &mut child);
    let (status, body) = http(
        port,
        "POST",
        "/subjects/a-value/versions",
        r#"{"schema":"\"string\""}"#,
    );
    assert_eq!((status, body.as_str()), (200, r#"{"id":1}"#));
    let (status, body) = http(
        port,
        "POST",
        "/subjects/a-value/versions",
        r#"{"schema":"\"int\""}"#,
    );
    assert_eq!(status, 409, "{body}");
    assert!(body.contains(r#""error_code":409"#), "{body}");
    let (status, body) = http(port, "GET", "/subjects/nope/versions", "");
    assert_eq!(status, 404);
    assert!(body.contains(r#""error_code":40401"#), "{body}");
    child.kill().unwrap();
    child.wait().unwrap();

    let mut child = serve(dir.path(), port);
    wait_until_up(port, &mut child);
    assert_eq!(
        http(port, "GET", "/subjects", ""),
        (200, r#"["a-value"]"#.into())
    );
    assert_eq!(
        http(port, "GET", "/schemas/ids/1", ""),
        (200, r#"{"schema":"\"string\""}"#.into())
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_bad_listen_address_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .arg("-s")
        .arg(format!("local:{}", dir.path().display()))
        .args(["registry", "serve", "--listen", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listening on not-an-address"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
