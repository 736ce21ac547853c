//! The binary's front door: help, version, and commands against the broker.

use std::process::Command;

fn kafkit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kafkit"))
}

#[test]
fn help_lists_the_commands() {
    let out = kafkit().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("cluster"), "{text}");
    assert!(text.contains("api-versions"), "{text}");
}

#[test]
fn cluster_shows_the_broker() {
    let bootstrap = kafkit_testkit::shared_broker();
    let out = kafkit()
        .args(["cluster", "--json", "-b", &bootstrap])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let port: u64 = bootstrap.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(view["brokers"][0]["port"], port, "{view}");
    assert_eq!(view["brokers"][0]["host"], "127.0.0.1", "{view}");
    assert_eq!(view["controller"], view["brokers"][0]["id"], "{view}");
}

#[test]
fn api_versions_lists_produce_and_fetch() {
    let out = kafkit()
        .args(["api-versions", "-b", &kafkit_testkit::shared_broker()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Produce (0)"), "{text}");
    assert!(text.contains("Fetch (1)"), "{text}");
}

#[test]
fn an_unreachable_cluster_is_a_one_line_error_and_nonzero_exit() {
    let port = kafkit_testkit::free_port();
    let out = kafkit()
        .args([
            "cluster",
            "-b",
            &format!("127.0.0.1:{port}"),
            "-X",
            "socket.connection.setup.timeout.ms=2000",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains(&port.to_string()), "{err}");
}

#[test]
fn an_unknown_property_is_named() {
    let out = kafkit()
        .args(["cluster", "-b", "127.0.0.1:1", "-X", "no.such.thing=1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no.such.thing"));
}
