//! Values larger than a broker takes: `produce --chunk-size` writes a 50 MB value as chunks
//! to a topic that takes 1 MB records, and `cat`, `wc`, `export`, `cp` and a group read see
//! one whole record; `cp --chunk-size` writes a joined value as chunks again.

mod common;

use common::{kafkit, lines, ok, run, run_command};
use serde_json::{json, Value};

/// 50 MB of text that is not one byte repeated (a chunk boundary off by one shows).
fn big_value() -> String {
    (0..50_000_000u64)
        .map(|i| char::from(b'a' + ((i * 7 + i / 1000) % 26) as u8))
        .collect()
}

fn records_of(storage: &str, d: &std::path::Path, topic: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["cat", topic];
    args.extend_from_slice(extra);
    lines(&ok(storage, d, &args, None))
}

#[test]
fn a_50_mb_value_goes_through_a_broker_that_takes_1_mb_records() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kafka = format!("kafka:{}", kafkit_testkit::shared_broker());
    let topic = kafkit_testkit::unique_topic("big-values");
    ok(
        &kafka,
        d,
        &[
            "touch",
            &topic,
            "--partitions",
            "2",
            "-c",
            "max.message.bytes=1048576",
        ],
        None,
    );
    let value = big_value();
    let input = format!(
        "{}\n{}\n{}\n",
        json!({"key": "small-1", "value": "before"}),
        json!({"key": "big", "value": value, "headers": [["kind", "report"]]}),
        json!({"key": "small-2", "value": "after"}),
    );
    std::fs::write(d.join("input.jsonl"), &input).unwrap();
    if kafkit_testkit::on_kafka() {
        // Without chunks the value cannot be written: a clear error (the client's request
        // limit, 1 MiB, and the topic's).
        let out = run(
            &kafka,
            d,
            &["produce", &topic, "--file", "input.jsonl"],
            None,
        );
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("big") || err.contains("large") || err.contains("size"),
            "{err}"
        );
        ok(
            &kafka,
            d,
            &["delete-records", &topic, "--before", "-1"],
            None,
        );
    }
    ok(
        &kafka,
        d,
        &[
            "produce",
            &topic,
            "--file",
            "input.jsonl",
            "--chunk-size",
            "900000",
        ],
        None,
    );
    let read = records_of(&kafka, d, &topic, &[]);
    let bigs: Vec<&Value> = read.iter().filter(|r| r["key"] == "big").collect();
    assert_eq!(bigs.len(), 1, "one record, joined");
    let big = bigs[0];
    assert_eq!(big["value"].as_str().unwrap().len(), value.len());
    assert!(big["value"].as_str().unwrap() == value, "the same bytes");
    assert_eq!(
        big["headers"],
        json!([["kind", "report"]]),
        "the user's headers only"
    );
    assert_eq!(read.len(), 3);
    assert_eq!(ok(&kafka, d, &["wc", &topic], None).trim(), "3");
    // 56 chunks went to the broker.
    let marks: Value =
        serde_json::from_str(&ok(&kafka, d, &["watermarks", &topic, "--json"], None)).unwrap();
    // {"partition": [low, high], ...}
    let stored: i64 = marks
        .as_object()
        .unwrap()
        .values()
        .map(|lh| lh[1].as_i64().unwrap() - lh[0].as_i64().unwrap())
        .sum();
    assert_eq!(
        stored,
        2 + 56,
        "the value took 56 records of at most 900 000 bytes"
    );

    // A group read commits past every chunk: a second read finds nothing new.
    let group = format!("{topic}-readers");
    assert_eq!(records_of(&kafka, d, &topic, &["--group", &group]).len(), 3);
    assert_eq!(records_of(&kafka, d, &topic, &["--group", &group]).len(), 0);

    // Into local files whole (no record limit there), and back as chunks.
    let local = format!("local:{}", d.join("backup").display());
    ok(&kafka, d, &["cp", &topic, "saved", "--into", &local], None);
    let saved = records_of(&local, d, "saved", &[]);
    assert_eq!(saved.len(), 3);
    assert!(saved
        .iter()
        .any(|r| r["value"].as_str() == Some(value.as_str())));
    let restored = format!("{topic}-restored");
    ok(
        &kafka,
        d,
        &[
            "touch",
            &restored,
            "--partitions",
            "2",
            "-c",
            "max.message.bytes=1048576",
        ],
        None,
    );
    let mut command = kafkit(&local, d);
    command.args([
        "cp",
        "saved",
        &restored,
        "--into",
        &kafka,
        "--append",
        "--chunk-size",
        "500000",
    ]);
    let out = run_command(command, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back = records_of(&kafka, d, &restored, &[]);
    assert_eq!(back.len(), 3);
    assert!(back
        .iter()
        .any(|r| r["value"].as_str() == Some(value.as_str())));

    // export sees the whole value too.
    let file = d.join("big.jsonl");
    ok(
        &kafka,
        d,
        &[
            "export",
            &topic,
            file.to_str().unwrap(),
            "--value-type",
            "str",
        ],
        None,
    );
    let rows = lines(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(rows.len(), 3);
    assert!(rows
        .iter()
        .any(|r| r["value"].as_str() == Some(value.as_str())));
}
