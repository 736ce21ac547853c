//! `kafkit export` and `kafkit import` through the binary: every format round trips a topic
//! (keys, values, headers, partitions, timestamps, tombstones), kafi's own `topic_to_file` /
//! `file_to_topic` and pandas / pyarrow / fastavro read our files and write files we read,
//! a broker's topic goes to a Parquet file on S3 (moto_server) and back, and bad input is a
//! one-line error naming the file.

mod common;

use std::path::Path;
use std::process::Command;

use common::{err, kafkit, lines, ok, run_command};
use kafkit_testkit::{python_peer, run_peer, ObjectServer, ObjectServerKind};
use serde_json::{json, Value};

/// Every format `export` writes and `import` reads, by file extension.
const FORMATS: [&str; 9] = [
    "csv", "jsonl", "json", "parquet", "arrow", "orc", "xlsx", "xml", "avro",
];

/// Records of many shapes, over two partitions: nested objects, arrays, strings that look
/// like numbers or hold quotes, commas and newlines, numbers, booleans, tombstones, headers.
fn varied_records() -> String {
    let mut out = String::new();
    for i in 0..60 {
        let value = match i % 6 {
            0 => {
                json!({"id": i, "name": format!("n{i}"), "nested": {"a": i as f64 + 0.5, "b": [i, "x"]}})
            }
            1 => json!(format!("plain, \"quoted\"\nline {i}")),
            2 => Value::Null,
            3 => json!(i * 1000),
            4 => json!({"id": i, "flag": i % 4 == 0, "text": "007"}),
            _ => json!([i, {"deep": true}]),
        };
        let headers = if i % 5 == 0 {
            json!([["trace", format!("t{i}")], ["empty", null]])
        } else {
            json!([])
        };
        let record = json!({
            "key": if i % 7 == 0 { Value::Null } else { json!(format!("k{}", i % 9)) },
            "value": value,
            "partition": i % 2,
            "timestamp": 1_700_000_000_000i64 + i * 37,
            "headers": headers,
        });
        out.push_str(&record.to_string());
        out.push('\n');
    }
    out
}

/// The records of `topic` (decoded as JSON), without the topic's name, in partition and
/// offset order.
fn records(storage: &str, d: &Path, topic: &str) -> Vec<Value> {
    let mut v: Vec<Value> = lines(&ok(
        storage,
        d,
        &["cat", topic, "--value-type", "json"],
        None,
    ))
    .into_iter()
    .map(|mut r| {
        r.as_object_mut().unwrap().remove("topic");
        r
    })
    .collect();
    v.sort_by_key(|r| (r["partition"].as_i64(), r["offset"].as_i64()));
    v
}

fn counts(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn every_format_round_trips_a_topic_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let storage = format!("local:{}", d.join("store").display());
    ok(&storage, d, &["touch", "source", "--partitions", "2"], None);
    ok(
        &storage,
        d,
        &["produce", "source", "--value-type", "json"],
        Some(&varied_records()),
    );
    let original = records(&storage, d, "source");
    assert_eq!(original.len(), 60);
    for format in FORMATS {
        let file = d.join(format!("source.{format}"));
        let file = file.to_str().unwrap();
        let exported = counts(&ok(
            &storage,
            d,
            &["export", "source", file, "--json"],
            None,
        ));
        assert_eq!(exported["records"], 60, "{format}: {exported}");
        assert!(exported["bytes"].as_u64().unwrap() > 0, "{format}");
        let target = format!("copy-{format}");
        let imported = counts(&ok(&storage, d, &["import", file, &target, "--json"], None));
        assert_eq!(imported["records"], 60, "{format}: {imported}");
        let expected: Vec<Value> = if format == "orc" {
            // orc-rust writes no column metadata, so a column mixing text with numbers is
            // text there (docs/FILES.md): the numbers come back as their text.
            original
                .iter()
                .cloned()
                .map(|mut r| {
                    if r["value"].is_number() {
                        r["value"] = json!(r["value"].to_string());
                    }
                    r
                })
                .collect()
        } else {
            original.clone()
        };
        assert_eq!(
            records(&storage, d, &target),
            expected,
            "{format}: export → import gives the same records"
        );
    }
    // One column of JSON text instead of flattened fields, and a format given by name.
    let file = d.join("whole.data");
    let file = file.to_str().unwrap();
    ok(
        &storage,
        d,
        &[
            "export",
            "source",
            file,
            "--no-flatten",
            "--file-format",
            "parquet",
        ],
        None,
    );
    ok(
        &storage,
        d,
        &["import", file, "whole", "--file-format", "parquet"],
        None,
    );
    assert_eq!(records(&storage, d, "whole"), original);
    // -n: only the first records of each.
    let file = d.join("first.jsonl");
    let file = file.to_str().unwrap();
    let exported = counts(&ok(
        &storage,
        d,
        &["export", "source", file, "-n", "7", "--json"],
        None,
    ));
    assert_eq!(exported["records"], 7);
    let imported = counts(&ok(
        &storage,
        d,
        &["import", file, "first", "-n", "3", "--json"],
        None,
    ));
    assert_eq!(imported["records"], 3);
}

/// Values with the same fields in every record (kafi's files are pandas data frames: a field
/// missing from a row becomes NaN there).
fn uniform_values() -> Vec<Value> {
    (0..25)
        .map(|i| {
            json!({
                "id": i,
                "name": format!("name {i}, \"quoted\""),
                "price": i as f64 + 0.25,
                "address": {"city": format!("c{}", i % 4), "zip": format!("{:05}", i * 7)},
            })
        })
        .collect()
}

/// `value` flattened as pandas' json_normalize does: nested fields as `a.b` columns.
fn flat(value: &Value) -> Value {
    fn into(prefix: &str, v: &Value, out: &mut serde_json::Map<String, Value>) {
        for (k, v) in v.as_object().unwrap() {
            let name = format!("{prefix}{k}");
            match v {
                Value::Object(_) => into(&format!("{name}."), v, out),
                other => {
                    out.insert(name, other.clone());
                }
            }
        }
    }
    let mut out = serde_json::Map::new();
    into("", value, &mut out);
    Value::Object(out)
}

fn kafi_files(args: &[&str], input: &str) -> Vec<Value> {
    let mut command = python_peer("kafi_files.py");
    command.args(args);
    let out = run_peer(command, input.as_bytes());
    lines(&String::from_utf8(out).unwrap())
}

/// Numbers compared as numbers: pandas writes a whole float as `1.0` and reads `00035` as 35
/// where a column looks numeric; neither is what is checked here.
fn loosely(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        for x in m.values_mut() {
            if let Some(f) = x.as_f64() {
                *x = json!(f);
            }
        }
    }
    v
}

#[test]
fn kafi_reads_our_files_and_we_read_kafis() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let storage = format!("local:{}", d.join("store").display());
    let kafi_root = d.join("kafi");
    let kafi_root = kafi_root.to_str().unwrap();
    let values = uniform_values();
    let input: String = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{}\n", json!({"key": format!("k{i}"), "value": v})))
        .collect();
    ok(&storage, d, &["touch", "source"], None);
    ok(
        &storage,
        d,
        &["produce", "source", "--value-type", "json"],
        Some(&input),
    );
    std::fs::create_dir_all(Path::new(kafi_root).join("files")).unwrap();
    for format in ["csv", "json", "parquet", "xlsx", "xml"] {
        // kafi's file, read by kafkit: the values come back, nested again.
        let name = format!("by-kafi.{format}");
        kafi_files(&["to-file", kafi_root, &name], &input);
        let path = Path::new(kafi_root).join("files").join(&name);
        let target = format!("from-kafi-{format}");
        ok(
            &storage,
            d,
            &["import", path.to_str().unwrap(), &target],
            None,
        );
        let got: Vec<Value> = records(&storage, d, &target)
            .into_iter()
            .map(|r| r["value"].clone())
            .collect();
        let zip_as_numbers = format == "csv" || format == "xml";
        let expected: Vec<Value> = values
            .iter()
            .map(|v| {
                let mut v = v.clone();
                if zip_as_numbers {
                    // Text files: digits read back as a number (kafi writes no types there).
                    let zip = v["address"]["zip"]
                        .as_str()
                        .unwrap()
                        .parse::<i64>()
                        .unwrap();
                    v["address"]["zip"] = json!(zip);
                }
                v
            })
            .collect();
        assert_eq!(got.len(), expected.len(), "{format}");
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(loosely(flat(g)), loosely(flat(e)), "{format}: kafi's file");
        }
        // kafkit's values-only file, read by kafi as it reads its own.
        let name = format!("by-kafkit.{format}");
        let path = Path::new(kafi_root).join("files").join(&name);
        ok(
            &storage,
            d,
            &["export", "source", path.to_str().unwrap(), "--values-only"],
            None,
        );
        let from_ours = kafi_files(&["from-file", kafi_root, &name], "");
        let from_theirs = kafi_files(&["from-file", kafi_root, &format!("by-kafi.{format}")], "");
        assert_eq!(from_ours.len(), 25, "{format}");
        let ours: Vec<Value> = from_ours.into_iter().map(loosely).collect();
        let theirs: Vec<Value> = from_theirs.into_iter().map(loosely).collect();
        assert_eq!(
            ours, theirs,
            "{format}: kafi reads our file as it reads its own"
        );
        assert_eq!(ours[3]["name"], expected[3]["name"], "{format}");
        assert_eq!(ours[3]["address.city"], json!("c3"), "{format}");
    }
}

#[test]
fn pandas_pyarrow_and_fastavro_read_our_files_and_write_ones_we_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let storage = format!("local:{}", d.join("store").display());
    let values = uniform_values();
    let input: String = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{}\n", json!({"key": format!("k{i}"), "value": v})))
        .collect();
    ok(&storage, d, &["touch", "source"], None);
    ok(
        &storage,
        d,
        &["produce", "source", "--value-type", "json"],
        Some(&input),
    );
    for format in ["arrow", "orc", "avro", "jsonl", "parquet", "csv", "xlsx"] {
        let path = d.join(format!("ours.{format}"));
        let path = path.to_str().unwrap();
        ok(&storage, d, &["export", "source", path], None);
        let rows = kafi_files(&["read", path, format], "");
        assert_eq!(rows.len(), 25, "{format}");
        for (i, row) in rows.iter().enumerate() {
            // Avro field names cannot hold dots: there the columns are value_address_city...
            let column = |name: &str| {
                let avro = name.replace('.', "_");
                row.get(name).or_else(|| row.get(&avro)).cloned()
            };
            assert_eq!(
                column("key"),
                Some(json!(format!("k{i}"))),
                "{format}: {row}"
            );
            assert_eq!(column("value.id"), Some(json!(i)), "{format}: {row}");
            assert_eq!(
                column("value.name"),
                Some(values[i]["name"].clone()),
                "{format}"
            );
            assert_eq!(
                column("value.price").and_then(|p| p.as_f64()),
                values[i]["price"].as_f64(),
                "{format}"
            );
            assert_eq!(
                column("value.address.city"),
                Some(values[i]["address"]["city"].clone()),
                "{format}"
            );
        }
    }
    // Their files, ours to read: flat rows with a key column.
    let rows: String = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{}\n",
                json!({"id": format!("k{i}"), "name": v["name"], "price": v["price"], "count": i})
            )
        })
        .collect();
    for format in ["arrow", "orc", "avro"] {
        let path = d.join(format!("theirs.{format}"));
        let path = path.to_str().unwrap();
        kafi_files(&["write", path, format], &rows);
        let target = format!("theirs-{format}");
        ok(
            &storage,
            d,
            &["import", path, &target, "--key-column", "id"],
            None,
        );
        let got = records(&storage, d, &target);
        assert_eq!(got.len(), 25, "{format}");
        for (i, r) in got.iter().enumerate() {
            assert_eq!(r["key"], json!(format!("k{i}")), "{format}");
            assert_eq!(
                r["value"],
                json!({"name": values[i]["name"], "price": values[i]["price"], "count": i}),
                "{format}"
            );
        }
    }
}

#[test]
fn a_broker_topic_goes_to_parquet_on_s3_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kafka = format!("kafka:{}", kafkit_testkit::shared_broker());
    let s3 = ObjectServer::shared(ObjectServerKind::S3);
    s3.create_container("kafkit-files");
    let topic = kafkit_testkit::unique_topic("export");
    ok(&kafka, d, &["touch", &topic, "--partitions", "2"], None);
    ok(
        &kafka,
        d,
        &["produce", &topic, "--value-type", "json"],
        Some(&varied_records()),
    );
    let with_env = |args: &[&str]| {
        let mut command: Command = kafkit(&kafka, d);
        command
            .args(args)
            .env("AWS_ACCESS_KEY_ID", kafkit_testkit::MOTO_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", kafkit_testkit::MOTO_SECRET_KEY)
            .env("AWS_ENDPOINT_URL", s3.endpoint())
            .env("AWS_REGION", "us-east-1");
        let out = run_command(command, None);
        assert!(
            out.status.success(),
            "kafkit {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let url = format!("s3://kafkit-files/exports/{topic}.parquet");
    let exported = counts(&with_env(&["export", &topic, &url, "--json"]));
    assert_eq!(exported["records"], 60);
    let restored = format!("{topic}-restored");
    ok(&kafka, d, &["touch", &restored, "--partitions", "2"], None);
    let imported = counts(&with_env(&["import", &url, &restored, "--json"]));
    assert_eq!(imported["records"], 60);
    assert_eq!(records(&kafka, d, &restored), records(&kafka, d, &topic));
}

#[test]
fn bad_files_are_one_line_errors_naming_the_file_and_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let storage = format!("local:{}", d.join("store").display());
    ok(&storage, d, &["touch", "t"], None);
    ok(&storage, d, &["produce", "t"], Some("{\"value\":\"x\"}\n"));
    let e = err(&storage, d, &["export", "t", "out.unknown"]);
    assert!(
        e.contains("out.unknown") && e.contains("--file-format"),
        "{e}"
    );
    std::fs::write(d.join("bad.csv"), "partition,key,value.x\n0,a,1\nzz,b,2\n").unwrap();
    let e = err(&storage, d, &["import", "bad.csv", "t2"]);
    assert!(
        e.contains("bad.csv") && e.contains("row 2") && e.contains("partition"),
        "{e}"
    );
    std::fs::write(d.join("broken.parquet"), "not parquet at all").unwrap();
    let e = err(&storage, d, &["import", "broken.parquet", "t3"]);
    assert!(e.contains("broken.parquet"), "{e}");
    let e = err(&storage, d, &["import", "missing.jsonl", "t4"]);
    assert!(e.contains("missing.jsonl"), "{e}");
    let e = err(&storage, d, &["export", "no-such-topic", "x.csv"]);
    assert!(e.contains("no-such-topic"), "{e}");
}
