//! `kafkit table`: a topic as a table (latest value per key, tombstones applied, ktables'
//! rules) on local files and on the broker: contents, `--get`, `--stats`, `--pretty`, and
//! `--watch` printing each change as it happens.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;

use common::{kafkit, lines, ok, run};
use serde_json::{json, Value};

fn exercise(storage: &str, dir: &Path, topic: &str) {
    ok(storage, dir, &["touch", topic, "-p", "2"], None);
    let input = [
        r#"{"key":"a","value":{"n":1}}"#,
        r#"{"key":"b","value":{"n":2}}"#,
        r#"{"key":"a","value":{"n":3}}"#,
        r#"{"key":"b","value":null}"#,
        r#"{"value":{"n":9}}"#,
        r#"{"key":"c","value":"not json"}"#,
        r#"{"key":"d","value":{"n":4},"partition":1}"#,
    ];
    for line in input {
        // One produce each: the order of a key's records is the order written. Values are
        // JSON, but "not json" goes in as text: bytes that do not parse as JSON.
        let value_type = if line.contains("not json") {
            "str"
        } else {
            "json"
        };
        ok(
            storage,
            dir,
            &["produce", topic, "--value-type", value_type],
            Some(line),
        );
    }
    let shown = lines(&ok(
        storage,
        dir,
        &["table", topic, "--value-type", "json"],
        None,
    ));
    assert_eq!(
        shown,
        vec![
            json!({"key": "a", "value": {"n": 3}}),
            json!({"key": "d", "value": {"n": 4}}),
        ]
    );
    let get = ok(
        storage,
        dir,
        &["table", topic, "--value-type", "json", "--get", "a"],
        None,
    );
    assert_eq!(
        serde_json::from_str::<Value>(&get).unwrap(),
        json!({"n": 3})
    );
    let missing = run(storage, dir, &["table", topic, "--get", "b"], None);
    assert_eq!(missing.status.code(), Some(1), "a removed key is absent");
    let stats: Value = serde_json::from_str(&ok(
        storage,
        dir,
        &["table", topic, "--value-type", "json", "--stats"],
        None,
    ))
    .unwrap();
    assert_eq!(
        (
            &stats["keys"],
            &stats["upserts"],
            &stats["tombstones"],
            &stats["keyless"],
            &stats["value_errors"]
        ),
        (&json!(2), &json!(4), &json!(1), &json!(1), &json!(1)),
        "{stats}"
    );
    // As text, "not json" is a value like any other.
    let as_text = lines(&ok(storage, dir, &["table", topic], None));
    assert_eq!(as_text.len(), 3);
    assert!(ok(storage, dir, &["table", topic, "--pretty"], None).contains("KEY"));

    // --watch: the contents, then each change as it happens.
    let mut watch = kafkit(storage, dir);
    watch.args(["table", topic, "--value-type", "json", "--watch"]);
    let mut child = watch
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || -> Value { serde_json::from_str(&out.next().unwrap().unwrap()).unwrap() };
    assert_eq!(next()["key"], "a");
    assert_eq!(next()["key"], "d");
    ok(
        storage,
        dir,
        &["produce", topic, "--value-type", "json"],
        Some(r#"{"key":"a","value":{"n":5}}"#),
    );
    ok(
        storage,
        dir,
        &["produce", topic, "--value-type", "json"],
        Some(r#"{"key":"d","value":null}"#),
    );
    // Partitions deliver independently: the two changes may come in either order.
    let mut changes = vec![next(), next()];
    changes.sort_by_key(|c| c["key"].to_string());
    assert_eq!(
        changes,
        vec![
            json!({"key": "a", "old": {"n": 3}, "new": {"n": 5}}),
            json!({"key": "d", "old": {"n": 4}, "new": null}),
        ]
    );
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "Ctrl-C ends a watch cleanly: {status}");
}

#[test]
fn a_topic_shows_as_a_table_on_local_storage() {
    let dir = tempfile::tempdir().unwrap();
    exercise("", dir.path(), "services");
}

#[test]
fn a_topic_shows_as_a_table_on_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let storage = format!("kafka:{}", kafkit_testkit::shared_broker());
    exercise(
        &storage,
        dir.path(),
        &kafkit_testkit::unique_topic("cli-table"),
    );
}
