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

/// Runs kafkit with `args`, expecting success; returns its stdout.
fn run_ok(args: &[&str]) -> String {
    let out = kafkit().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "kafkit {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs kafkit with `args`, expecting one JSON line.
fn run_json(args: &[&str]) -> serde_json::Value {
    let out = run_ok(args);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("kafkit {args:?} printed no JSON ({e}): {out}"))
}

/// Runs kafkit with `args`, expecting failure; returns its stderr.
fn run_err(args: &[&str]) -> String {
    let out = kafkit().args(args).output().unwrap();
    assert!(!out.status.success(), "kafkit {args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn perf_produce_prints_the_peers_json_shape() {
    let bootstrap = kafkit_testkit::shared_broker();
    let topic = kafkit_testkit::unique_topic("cli-perf");
    let b = bootstrap.as_str();
    let t = topic.as_str();
    let line = run_json(&[
        "perf",
        "produce",
        "-b",
        b,
        "--topic",
        t,
        "--messages",
        "5000",
        "--size",
        "50",
        "--partitions",
        "3",
        "--keys",
        "10",
        "--acks",
        "all",
        "--compression",
        "lz4",
        "--linger-ms",
        "2",
        "--batch-size",
        "4096",
        "--json",
    ]);
    for key in [
        "client",
        "op",
        "messages",
        "bytes",
        "wall_s",
        "cpu_s",
        "msgs_per_s",
        "mb_per_s",
        "cpu_us_per_msg",
        "max_rss_kib",
    ] {
        assert!(line.get(key).is_some(), "missing {key}: {line}");
    }
    assert_eq!(line["client"], "kafkit");
    assert_eq!(line["op"], "produce");
    assert_eq!(line["messages"], 5000);
    assert_eq!(line["bytes"], 250_000);
    assert!(line["msgs_per_s"].as_f64().unwrap() > 0.0);

    // Text output names the figures.
    let text = run_ok(&[
        "perf",
        "produce",
        "-b",
        b,
        "--topic",
        t,
        "--messages",
        "1000",
    ]);
    for word in ["records/s", "MB/s", "µs/record", "p99", "RSS"] {
        assert!(text.contains(word), "{text}");
    }
    // A bad option value is a clear error, not a panic.
    let err = run_err(&["perf", "produce", "-b", b, "--topic", t, "--acks", "2"]);
    assert!(err.contains("acks"), "{err}");
}

#[test]
fn perf_consume_reads_what_perf_produce_wrote() {
    let bootstrap = kafkit_testkit::shared_broker();
    let topic = kafkit_testkit::unique_topic("cli-perf-consume");
    let (b, t) = (bootstrap.as_str(), topic.as_str());
    run_ok(&[
        "perf",
        "produce",
        "-b",
        b,
        "--topic",
        t,
        "--messages",
        "3000",
        "--partitions",
        "2",
        "--keys",
        "5",
        "--acks",
        "1",
    ]);
    let line = run_json(&[
        "perf",
        "consume",
        "-b",
        b,
        "--topic",
        t,
        "--messages",
        "3000",
        "--json",
    ]);
    assert_eq!(line["op"], "consume");
    assert_eq!(line["messages"], 3000);
    assert_eq!(line["bytes"], 300_000);
    // As a group member: reads it all too.
    let group = kafkit_testkit::unique_topic("cli-group");
    let line = run_json(&[
        "perf",
        "consume",
        "-b",
        b,
        "--topic",
        t,
        "--messages",
        "3000",
        "--group",
        &group,
        "--json",
    ]);
    assert_eq!(line["messages"], 3000);
    let err = run_err(&[
        "perf",
        "consume",
        "-b",
        b,
        "--topic",
        "no-such-topic-kafkit",
    ]);
    assert!(err.contains("no-such-topic-kafkit"), "{err}");
}

#[test]
fn perf_table_catches_up_a_topic_of_json_values() {
    let bootstrap = kafkit_testkit::shared_broker();
    let topic = kafkit_testkit::unique_topic("cli-perf-table");
    let (b, t) = (bootstrap.as_str(), topic.as_str());
    run_ok(&[
        "perf",
        "produce",
        "-b",
        b,
        "--topic",
        t,
        "--messages",
        "2000",
        "--keys",
        "50",
        "--json-values",
        "--size",
        "80",
        "--acks",
        "1",
    ]);
    let line = run_json(&["perf", "table", "-b", b, "--topic", t, "--json"]);
    assert_eq!(line["op"], "table");
    assert_eq!(line["records"], 2000);
    assert_eq!(line["keys"], 50);
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = kafkit().args(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(
            script.contains("reset-offsets"),
            "{shell}: every command is in it"
        );
    }
}

#[test]
fn kafi_names_work_as_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        kafkit()
            .current_dir(dir.path())
            .env_remove("KAFKIT_STORAGE")
            .env_remove("KAFKIT_BROKERS")
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["create", "t"]).status.success());
    let listed = run(&["topics"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains('t'));
    assert!(run(&["offsets_for_times", "t", "0"]).status.success());
    assert!(run(&["delete", "t"]).status.success());
    assert!(!run(&["exists", "t"]).status.success());
}
