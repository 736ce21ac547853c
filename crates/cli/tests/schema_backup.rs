//! A backup carries its schemas: `cp` of Avro records from a cluster (registry A) into
//! local files puts the schemas in the files' own registry, and a restore into a cluster
//! whose registry (B) numbers schemas otherwise rewrites the ids — the records decode the
//! same at every step.

mod common;

use common::{lines, ok, serve_registry, wait_until_up};
use serde_json::{json, Value};

const ORDER_AVSC: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
    {"name":"id","type":"int"},{"name":"name","type":"string"}]}"#;

/// The schema id in the wire format of a `--value-type bytes` line's value.
fn id_of(line: &Value) -> i32 {
    use base64::Engine;
    let b64 = line["value"]["base64"].as_str().expect("bytes as base64");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    i32::from_be_bytes(bytes[1..5].try_into().unwrap())
}

#[test]
fn a_backup_to_local_files_and_a_restore_to_another_registry_keep_records_decodable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("order.avsc"), ORDER_AVSC).unwrap();
    for (i, text) in [r#""int""#, r#""long""#, r#""string""#].iter().enumerate() {
        std::fs::write(d.join(format!("other{i}.avsc")), text).unwrap();
    }
    let (port_a, port_b) = (kafkit_testkit::free_port(), kafkit_testkit::free_port());
    let mut registry_a = serve_registry(&d.join("registry-a"), port_a);
    let mut registry_b = serve_registry(&d.join("registry-b"), port_b);
    wait_until_up(port_a, &mut registry_a);
    wait_until_up(port_b, &mut registry_b);
    let url_a = format!("schema.registry.url=http://127.0.0.1:{port_a}");
    let url_b = format!("schema.registry.url=http://127.0.0.1:{port_b}");
    let cluster = format!("kafka:{}", kafkit_testkit::shared_broker());
    let backup = format!("local:{}", d.join("backup").display());
    // Registry A holds one other schema, B three: Order gets id 2 in A, 4 in B.
    ok(
        &cluster,
        d,
        &["-X", &url_a, "schemas", "register", "x", "other0.avsc"],
        None,
    );
    for i in 0..3 {
        let file = format!("other{i}.avsc");
        ok(
            &cluster,
            d,
            &["-X", &url_b, "schemas", "register", &format!("y{i}"), &file],
            None,
        );
    }

    let topic = kafkit_testkit::unique_topic("orders");
    ok(&cluster, d, &["touch", &topic, "--partitions", "2"], None);
    let values = [
        json!({"id": 1, "name": "a"}),
        json!({"id": 2, "name": "b"}),
        json!({"id": 3, "name": "c"}),
    ];
    let input: String = values
        .iter()
        .map(|v| format!("{}\n", json!({"key": v["name"], "value": v})))
        .collect();
    let args = [
        "-X",
        &url_a,
        "produce",
        &topic,
        "--value-type",
        "avro",
        "--value-schema",
        "order.avsc",
    ];
    ok(&cluster, d, &args, Some(&input));
    let decoded = |storage: &str, url: Option<&str>, t: &str| -> Vec<Value> {
        let mut args = vec![];
        if let Some(u) = url {
            args.extend(["-X", u]);
        }
        args.extend(["cat", t, "--value-type", "avro"]);
        let mut got: Vec<Value> = lines(&ok(storage, d, &args, None))
            .iter()
            .map(|l| l["value"].clone())
            .collect();
        got.sort_by_key(|v| v["id"].as_i64());
        got
    };
    let raw_ids = |storage: &str, t: &str| -> Vec<i32> {
        lines(&ok(storage, d, &["cat", t, "--value-type", "bytes"], None))
            .iter()
            .map(id_of)
            .collect()
    };
    assert_eq!(decoded(&cluster, Some(&url_a), &topic), values);
    assert_eq!(raw_ids(&cluster, &topic), vec![2; 3]);

    // Backup: the local files' own registry gets the schema (id 1 there).
    let args = [
        "-X",
        &url_a,
        "cp",
        &topic,
        &topic,
        "--into",
        &backup,
        "--value-type",
        "avro",
    ];
    let copied = ok(&cluster, d, &args, None);
    assert!(copied.contains("produced 3 records"), "{copied}");
    assert_eq!(decoded(&backup, None, &topic), values);
    assert_eq!(
        raw_ids(&backup, &topic),
        vec![1; 3],
        "ids rewritten to the files' registry"
    );
    // diff against the backup: the bytes differ (ids 2 and 1), but decoded, each side with
    // its own storage's registry, the records are the same.
    let diff = |value_type: &str| {
        let args = [
            "-X",
            &url_a,
            "diff",
            &topic,
            &topic,
            "--other",
            &backup,
            "--value-type",
            value_type,
        ];
        let out = common::run(&cluster, d, &args, None);
        let differences = lines(&String::from_utf8(out.stdout).unwrap());
        (out.status.code(), differences)
    };
    let (status, differences) = diff("avro");
    assert_eq!((status, differences.len()), (Some(0), 0), "{differences:?}");
    let (status, differences) = diff("bytes");
    assert_eq!((status, differences.len()), (Some(1), 3), "the ids differ");
    let subjects = ok(&backup, d, &["schemas", "subjects", "--json"], None);
    assert_eq!(
        serde_json::from_str::<Value>(&subjects).unwrap(),
        json!([format!("{topic}-value")])
    );

    // Restore into another topic, with registry B: ids rewritten to B's.
    let restored = format!("{topic}-restored");
    let args = [
        "-X",
        &url_b,
        "cp",
        &topic,
        &restored,
        "--into",
        &cluster,
        "--value-type",
        "avro",
    ];
    ok(&backup, d, &args, None);
    assert_eq!(decoded(&cluster, Some(&url_b), &restored), values);
    assert_eq!(raw_ids(&cluster, &restored), vec![4; 3]);
    registry_a.kill().unwrap();
    registry_b.kill().unwrap();
    registry_a.wait().unwrap();
    registry_b.wait().unwrap();
}
