//! `--key-type` / `--value-type avro|protobuf|jsonschema` on a local storage, whose own
//! registry (its `_schemas` topic) keeps the schemas: produce encodes from JSON with a
//! schema file, id or subject; cat, grep, diff and cp decode; cp converts json → avro; bad
//! input is a one-line error naming where, or skipped and counted.

mod common;

use common::{err, lines, ok, run};
use serde_json::json;

const ORDER_AVSC: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
    {"name":"id","type":"int"},{"name":"name","type":"string"},
    {"name":"note","type":["null","string"],"default":null}]}"#;

const ORDER_PROTO: &str = r#"syntax = "proto3";
package shop;
message Order {
  int32 id = 1;
  string name = 2;
  message Line { string sku = 1; int32 qty = 2; }
  repeated Line lines = 3;
}
"#;

const ORDER_JSON_SCHEMA: &str = r#"{"title":"Order","type":"object",
  "properties":{"id":{"type":"integer"},"name":{"type":"string"}},"required":["id"]}"#;

fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("order.avsc"), ORDER_AVSC).unwrap();
    std::fs::write(dir.path().join("order.proto"), ORDER_PROTO).unwrap();
    std::fs::write(dir.path().join("order.json"), ORDER_JSON_SCHEMA).unwrap();
    let storage = format!("local:{}", dir.path().join("store").display());
    (dir, storage)
}

#[test]
fn avro_values_are_written_from_json_and_read_back_with_their_schema_id() {
    let (dir, storage) = setup();
    let d = dir.path();
    ok(&storage, d, &["touch", "orders"], None);
    let input = r#"{"key":"k1","value":{"id":1,"name":"a","note":{"string":"x"}}}
{"key":"k2","value":{"id":2,"name":"b","note":null}}
"#;
    let args = [
        "produce",
        "orders",
        "--value-type",
        "avro",
        "--value-schema",
        "order.avsc",
    ];
    ok(&storage, d, &args, Some(input));
    let out = lines(&ok(
        &storage,
        d,
        &["cat", "orders", "--value-type", "avro"],
        None,
    ));
    assert_eq!(out.len(), 2);
    assert_eq!(
        out[0]["value"],
        json!({"id":1,"name":"a","note":{"string":"x"}})
    );
    assert_eq!(out[1]["value"], json!({"id":2,"name":"b","note":null}));
    assert_eq!(out[0]["value_schema_id"], 1, "{}", out[0]);
    assert!(out[0].get("key_schema_id").is_none());
    // The raw bytes are the wire format: magic byte, id 1, then the Avro datum.
    let raw = lines(&ok(
        &storage,
        d,
        &["head", "orders", "-n", "1", "--value-type", "bytes"],
        None,
    ));
    let b64 = raw[0]["value"]["base64"].as_str().unwrap();
    assert!(b64.starts_with("AAAAAAE"), "{b64}");
    // The same schema again, by subject and by id: no new version, the same id.
    for schema in ["orders-value", "orders-value:1", "1"] {
        let args = [
            "produce",
            "orders",
            "--value-type",
            "avro",
            "--value-schema",
            schema,
        ];
        ok(
            &storage,
            d,
            &args,
            Some(r#"{"value":{"id":3,"name":"c","note":null}}"#),
        );
    }
    let out = lines(&ok(
        &storage,
        d,
        &[
            "cat",
            "orders",
            "--value-type",
            "avro",
            "--map",
            ".value_schema_id",
        ],
        None,
    ));
    assert_eq!(out, vec![json!(1); 5]);
    // grep matches the raw bytes, and prints decoded records.
    let found = lines(&ok(
        &storage,
        d,
        &[
            "grep",
            "k2",
            "orders",
            "--in",
            "key",
            "--value-type",
            "avro",
        ],
        None,
    ));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["value"]["name"], "b");
    // table decodes too: the latest value per key (k1, k2; the keyless records skipped).
    let table = lines(&ok(
        &storage,
        d,
        &["table", "orders", "--value-type", "avro"],
        None,
    ));
    assert_eq!(
        table,
        [
            json!({"key": "k1", "value": {"id": 1, "name": "a", "note": {"string": "x"}}}),
            json!({"key": "k2", "value": {"id": 2, "name": "b", "note": null}}),
        ]
    );
}

#[test]
fn protobuf_values_with_nested_messages_and_json_schema_values_round_trip() {
    let (dir, storage) = setup();
    let d = dir.path();
    ok(&storage, d, &["touch", "pb"], None);
    let value = json!({"id": 7, "name": "p", "lines": [{"sku": "s1", "qty": 2}]});
    let input = format!("{}\n", json!({"key": "k", "value": value}));
    let args = [
        "produce",
        "pb",
        "--value-type",
        "protobuf",
        "--value-schema",
        "order.proto",
    ];
    ok(&storage, d, &args, Some(&input));
    let out = lines(&ok(
        &storage,
        d,
        &["cat", "pb", "--value-type", "protobuf"],
        None,
    ));
    assert_eq!(out[0]["value"], value);
    assert_eq!(out[0]["value_schema_id"], 1);

    // Another message of the file, by name: its indexes go into each record's framing.
    ok(&storage, d, &["touch", "lines"], None);
    let with_message = |message: &'static str| {
        [
            "produce",
            "lines",
            "--value-type",
            "protobuf",
            "--value-schema",
            "order.proto",
            "--value-message",
            message,
        ]
    };
    let line = json!({"sku": "s2", "qty": 3});
    let input = format!("{}\n", json!({ "value": line }));
    ok(&storage, d, &with_message("shop.Order.Line"), Some(&input));
    let out = lines(&ok(
        &storage,
        d,
        &["cat", "lines", "--value-type", "protobuf"],
        None,
    ));
    assert_eq!(out[0]["value"], line);
    let e = err(&storage, d, &with_message("shop.Nope"));
    assert!(e.contains("no message shop.Nope"), "{e}");
    assert!(e.contains("shop.Order, shop.Order.Line"), "{e}");

    ok(&storage, d, &["touch", "js"], None);
    let args = [
        "produce",
        "js",
        "--value-type",
        "jsonschema",
        "--value-schema",
        "order.json",
    ];
    ok(
        &storage,
        d,
        &args,
        Some("{\"value\":{\"id\":1,\"name\":\"j\"}}\n"),
    );
    let out = lines(&ok(
        &storage,
        d,
        &["cat", "js", "--value-type", "jsonschema"],
        None,
    ));
    assert_eq!(out[0]["value"], json!({"id":1,"name":"j"}));
    assert_eq!(
        out[0]["value_schema_id"], 2,
        "the storage's registry gives ids in order"
    );
    // A value its schema refuses: the line and the field are named, nothing is written.
    let bad = "{\"value\":{\"id\":2}}\n{\"value\":{\"name\":\"no id\"}}\n";
    let out = run(&storage, d, &args, Some(bad));
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("stdin: line 2: value:"), "{e}");
    assert!(e.contains("\"id\" is a required property"), "{e}");
    let out = lines(&ok(
        &storage,
        d,
        &["cat", "js", "--value-type", "jsonschema"],
        None,
    ));
    assert_eq!(out.len(), 2, "the good line before the bad one is written");
}

#[test]
fn cp_converts_json_to_avro_and_back() {
    let (dir, storage) = setup();
    let d = dir.path();
    ok(&storage, d, &["touch", "plain"], None);
    let input = "{\"key\":\"a\",\"value\":{\"id\":1,\"name\":\"x\",\"note\":null}}\n\
                 {\"key\":\"b\",\"value\":{\"id\":2,\"name\":\"y\",\"note\":{\"string\":\"n\"}}}\n";
    ok(
        &storage,
        d,
        &["produce", "plain", "--value-type", "json"],
        Some(input),
    );
    let args = [
        "cp",
        "plain",
        "typed",
        "--value-type",
        "json",
        "--target-value-type",
        "avro",
        "--value-schema",
        "order.avsc",
    ];
    let copied = ok(&storage, d, &args, None);
    assert!(copied.contains("produced 2 records"), "{copied}");
    let out = lines(&ok(
        &storage,
        d,
        &["cat", "typed", "--value-type", "avro"],
        None,
    ));
    assert_eq!(
        out[1]["value"],
        json!({"id":2,"name":"y","note":{"string":"n"}})
    );
    // And back to plain JSON: the same values as the source.
    let args = [
        "cp",
        "typed",
        "back",
        "--value-type",
        "avro",
        "--target-value-type",
        "json",
    ];
    ok(&storage, d, &args, None);
    let back = lines(&ok(
        &storage,
        d,
        &["cat", "back", "--value-type", "json"],
        None,
    ));
    let source = lines(&ok(
        &storage,
        d,
        &["cat", "plain", "--value-type", "json"],
        None,
    ));
    assert_eq!(
        back.iter().map(|r| &r["value"]).collect::<Vec<_>>(),
        source.iter().map(|r| &r["value"]).collect::<Vec<_>>()
    );
    // A diff of the typed topic with itself decodes both sides and finds nothing.
    let out = run(
        &storage,
        d,
        &["diff", "typed", "typed", "--value-type", "avro"],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_payloads_name_topic_partition_and_offset_or_are_skipped_with_skip_errors() {
    let (dir, storage) = setup();
    let d = dir.path();
    ok(&storage, d, &["touch", "mixed"], None);
    ok(
        &storage,
        d,
        &[
            "produce",
            "mixed",
            "--value-type",
            "avro",
            "--value-schema",
            "order.avsc",
        ],
        Some("{\"value\":{\"id\":1,\"name\":\"ok\",\"note\":null}}\n"),
    );
    // Not the wire format, then an id no registry knows (99), then a good one again.
    let raw = "{\"value\":\"plain text\"}\n{\"value\":{\"base64\":\"AAAAAGMCAmE=\"}}\n";
    ok(&storage, d, &["produce", "mixed"], Some(raw));
    ok(
        &storage,
        d,
        &[
            "produce",
            "mixed",
            "--value-type",
            "avro",
            "--value-schema",
            "1",
        ],
        Some("{\"value\":{\"id\":4,\"name\":\"ok\",\"note\":null}}\n"),
    );
    let e = err(&storage, d, &["cat", "mixed", "--value-type", "avro"]);
    assert!(
        e.contains("topic 'mixed' partition 0 offset 1: value"),
        "{e}"
    );
    assert!(e.contains("not the magic byte 0"), "{e}");
    let out = run(
        &storage,
        d,
        &["cat", "mixed", "--value-type", "avro", "--skip-errors"],
        None,
    );
    assert!(out.status.success());
    let printed = lines(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(printed.len(), 2);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("skipped 2 records"), "{e}");
    let e = err(
        &storage,
        d,
        &["cat", "mixed", "--value-type", "avro", "--offsets", "2"],
    );
    assert!(e.contains("offset 2: value schema id 99"), "{e}");
    // Writing without a schema, or a schema of another type, says what to give.
    let e = err(&storage, d, &["produce", "mixed", "--value-type", "avro"]);
    assert!(e.contains("--value-schema"), "{e}");
    let e = err(
        &storage,
        d,
        &[
            "produce",
            "mixed",
            "--value-type",
            "protobuf",
            "--value-schema",
            "1",
        ],
    );
    assert!(e.contains("schema id 1 is AVRO, not protobuf"), "{e}");
    let e = err(
        &storage,
        d,
        &["produce", "mixed", "--value-schema", "order.avsc"],
    );
    assert!(e.contains("--value-schema needs --value-type avro"), "{e}");
    let e = err(
        &storage,
        d,
        &[
            "produce",
            "mixed",
            "--value-type",
            "avro",
            "--value-schema",
            "missing.avsc",
        ],
    );
    assert!(e.contains("missing.avsc: no such schema file"), "{e}");
}
