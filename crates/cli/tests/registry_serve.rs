//! `kafkit registry serve` on a local storage: Confluent's REST answers over HTTP, and the
//! registry is the same after the process is killed and started again.

mod common;

use std::process::Command;

use common::{http, serve_registry as serve, wait_until_up};

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

#[test]
fn with_a_password_file_only_its_users_get_in() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.txt");
    std::fs::write(&users, "# registry users\nci: s3cret,admin\n").unwrap();
    let port = kafkit_testkit::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .arg("-s")
        .arg(format!("local:{}", dir.path().join("data").display()))
        .args(["registry", "serve", "--users"])
        .arg(&users)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_up(port, &mut child);
    let (status, body) = http(port, "GET", "/subjects", "");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains(r#""error_code":401"#), "{body}");

    // kafkit's own schema commands, with the user's credentials.
    let schema = dir.path().join("long.avsc");
    std::fs::write(&schema, "\"long\"").unwrap();
    let schemas = |credentials: &str| {
        Command::new(env!("CARGO_BIN_EXE_kafkit"))
            .args([
                "-X",
                &format!("schema.registry.url=http://127.0.0.1:{port}"),
            ])
            .args(["-X", &format!("basic.auth.user.info={credentials}")])
            .args(["schemas", "register", "orders-value"])
            .arg(&schema)
            .output()
            .unwrap()
    };
    let refused = schemas("ci:guess");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("401"), "{err}");
    let admitted = schemas("ci:s3cret");
    assert!(
        admitted.status.success(),
        "{}",
        String::from_utf8_lossy(&admitted.stderr)
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_bad_password_file_is_a_one_line_error_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.txt");
    std::fs::write(&users, "ci: s3cret\nops s3cret\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .arg("-s")
        .arg(format!("local:{}", dir.path().display()))
        .args(["registry", "serve", "--users"])
        .arg(&users)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("users.txt line 2"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
