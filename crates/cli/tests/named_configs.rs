//! Named YAML configurations through the binary: lookup, sections, ${ENV}, defaults, errors.

mod common;

use common::{kafkit, lines, ok, run};

fn write(path: &std::path::Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_named_local_config_sets_the_root_and_the_command_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        &d.join("configs/locals/backup.yaml"),
        "local:\n  root.dir: ../../store\nkafkit:\n  value.type: json\n  consumer.group.prefix: me-\n  auto.offset.reset: latest\n",
    );
    ok("backup", d, &["touch", "t", "-p", "1"], None);
    assert!(
        d.join("store/topics/t/topic.json").is_file(),
        "root.dir is relative to the file"
    );
    ok(
        "backup",
        d,
        &["produce", "t"],
        Some(r#"{"key":"a","value":{"n":1}}"#),
    );
    // value.type json: the value prints as JSON, not as a string.
    let got = lines(&ok("backup", d, &["cat", "t"], None));
    assert_eq!(got[0]["value"], serde_json::json!({"n": 1}));
    // The command line still wins.
    let got = lines(&ok("backup", d, &["cat", "t", "--value-type", "str"], None));
    assert_eq!(got[0]["value"], "{\"n\":1}");
    // A bare -g reads as <prefix><topic>; auto.offset.reset latest: a new group starts at the
    // end, then sees only what comes after.
    assert!(ok("backup", d, &["cat", "t", "-g"], None).is_empty());
    ok(
        "backup",
        d,
        &["produce", "t"],
        Some(r#"{"key":"b","value":{"n":2}}"#),
    );
    let got = lines(&ok("backup", d, &["cat", "t", "-g"], None));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["key"], "b");
    assert_eq!(ok("backup", d, &["groups"], None).trim(), "me-t");
}

#[test]
fn a_named_cluster_config_takes_environment_variables_and_client_properties() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let broker = kafkit_testkit::shared_broker();
    write(
        &d.join("configs/clusters/dev.yaml"),
        "kafka:\n  bootstrap.servers: ${KAFKIT_TEST_BOOTSTRAP}\n  client.id: kafkit-test\n  linger.ms: 5\n  max.poll.records: 100\n",
    );
    let topic = kafkit_testkit::unique_topic("named");
    let with_env = |args: &[&str], stdin: Option<&str>| {
        let mut command = kafkit("dev", d);
        command.env("KAFKIT_TEST_BOOTSTRAP", &broker).args(args);
        common::run_command(command, stdin)
    };
    assert!(with_env(&["touch", &topic], None).status.success());
    let out = with_env(
        &["produce", &topic],
        Some("{\"key\":\"k\",\"value\":\"v\"}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = with_env(&["cat", &topic], None);
    assert_eq!(
        lines(&String::from_utf8(out.stdout).unwrap())[0]["value"],
        "v"
    );
    // The cluster-only commands use it too.
    assert!(with_env(&["cluster"], None).status.success());
    // Without the variable: an error naming the file and line.
    let out = run("dev", d, &["ls"], None);
    let e = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert!(
        e.contains(
            "configs/clusters/dev.yaml:2: kafka.bootstrap.servers: environment variable KAFKIT_TEST_BOOTSTRAP is not set"
        ),
        "{e}"
    );
}

#[test]
fn bad_configs_are_one_line_errors_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let one_line_error = |name: &str| {
        let out = run(name, d, &["ls"], None);
        assert!(!out.status.success());
        let e = String::from_utf8(out.stderr).unwrap();
        assert_eq!(e.trim().lines().count(), 1, "{e}");
        e
    };
    write(
        &d.join("typo.yaml"),
        "local:\n  root.dir: x\nkafkit:\n  valeu.type: json\n",
    );
    let e = one_line_error("typo");
    assert!(
        e.contains("typo.yaml:4:") && e.contains("valeu.type"),
        "{e}"
    );
    write(
        &d.join("prop.yaml"),
        "kafka:\n  bootstrap.servers: 127.0.0.1:1\n  no.such.property: 1\n",
    );
    let e = one_line_error("prop");
    assert!(
        e.contains("prop.yaml:3:") && e.contains("unknown client property 'no.such.property'"),
        "{e}"
    );
    write(&d.join("broken.yaml"), "kafka: [\n");
    assert!(one_line_error("broken").contains("broken.yaml:"));
    let e = one_line_error("missing");
    assert!(e.contains("no config missing.yaml"), "{e}");
    // $KAFKIT_HOME is searched too.
    let home = d.join("home");
    write(
        &home.join("configs/locals/elsewhere.yaml"),
        "local:\n  root.dir: data\n",
    );
    let out = kafkit("elsewhere", d)
        .env("KAFKIT_HOME", &home)
        .args(["touch", "x"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(home.join("configs/locals/data/topics/x").is_dir());
}
