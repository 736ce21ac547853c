//! `kafkit schemas ...` on a local storage's own registry and on a registry server:
//! register, versions, get, check, compatibility levels, soft and hard deletes, references.

mod common;

use common::{err, ok, run, serve_registry, wait_until_up};
use serde_json::{json, Value};

const V1: &str =
    r#"{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"int"}]}"#;
const V2: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"int"},
    {"name":"note","type":["null","string"],"default":null}]}"#;
const BAD: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"}]}"#;
const COMMON: &str = "syntax = \"proto3\";\npackage common;\nmessage Money { int64 cents = 1; }\n";
const SHOP: &str = "syntax = \"proto3\";\npackage shop;\nimport \"common.proto\";\nmessage Order { common.Money total = 1; }\n";

fn json_of(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap()
}

#[test]
fn subjects_versions_levels_and_deletes_on_a_local_storages_registry() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, text) in [
        ("v1.avsc", V1),
        ("v2.avsc", V2),
        ("bad.avsc", BAD),
        ("common.proto", COMMON),
        ("shop.proto", SHOP),
    ] {
        std::fs::write(d.join(name), text).unwrap();
    }
    let s = &format!("local:{}", d.join("store").display());
    let schemas = |args: &[&str]| {
        let mut all = vec!["schemas"];
        all.extend_from_slice(args);
        ok(s, d, &all, None)
    };
    assert_eq!(
        schemas(&["register", "orders-value", "v1.avsc"]).trim(),
        "1"
    );
    assert_eq!(
        schemas(&["register", "orders-value", "v1.avsc", "--json"]).trim(),
        r#"{"id":1}"#
    );
    assert_eq!(
        json_of(&schemas(&["subjects", "--json"])),
        json!(["orders-value"])
    );
    let got = json_of(&schemas(&["get", "orders-value", "--json"]));
    assert_eq!(
        (
            got["id"].clone(),
            got["version"].clone(),
            got["schemaType"].clone()
        ),
        (json!(1), json!(1), json!("AVRO"))
    );
    assert!(
        schemas(&["get", "--id", "1"]).contains("\"namespace\": \"shop\""),
        "pretty JSON"
    );

    // An incompatible schema: refused with Confluent's code, checked as incompatible (exit 1).
    let e = err(s, d, &["schemas", "register", "orders-value", "bad.avsc"]);
    assert!(e.contains("error code 409"), "{e}");
    let out = run(
        s,
        d,
        &["schemas", "check", "orders-value", "bad.avsc"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("incompatible"));
    assert_eq!(
        schemas(&["check", "orders-value", "v2.avsc"]).trim(),
        "compatible"
    );

    // Levels: global and per subject.
    assert_eq!(schemas(&["compatibility"]).trim(), "BACKWARD");
    assert_eq!(
        schemas(&["compatibility", "orders-value", "--set", "full"]).trim(),
        "FULL"
    );
    assert_eq!(
        schemas(&["compatibility"]).trim(),
        "BACKWARD",
        "the global level kept"
    );
    let e = err(s, d, &["schemas", "compatibility", "--set", "SIDEWAYS"]);
    assert!(e.contains("unknown compatibility level 'SIDEWAYS'"), "{e}");

    // A second version; deletes, soft then for good.
    assert_eq!(
        schemas(&["register", "orders-value", "v2.avsc"]).trim(),
        "2"
    );
    assert_eq!(
        json_of(&schemas(&["versions", "orders-value", "--json"])),
        json!([1, 2])
    );
    assert_eq!(
        json_of(&schemas(&["delete", "orders-value:1", "--json"])),
        json!([1])
    );
    assert_eq!(
        json_of(&schemas(&["versions", "orders-value", "--json"])),
        json!([2])
    );
    let e = err(s, d, &["schemas", "delete", "orders-value", "--permanent"]);
    assert!(e.contains("40405"), "not soft-deleted first: {e}");
    assert_eq!(
        json_of(&schemas(&["delete", "orders-value", "--json"])),
        json!([2])
    );
    assert_eq!(json_of(&schemas(&["subjects", "--json"])), json!([]));
    assert_eq!(
        json_of(&schemas(&["subjects", "--deleted", "--json"])),
        json!(["orders-value"])
    );
    schemas(&["delete", "orders-value", "--permanent"]);
    assert_eq!(
        json_of(&schemas(&["subjects", "--deleted", "--json"])),
        json!([])
    );
    let e = err(s, d, &["schemas", "versions", "orders-value"]);
    assert!(e.contains("Subject 'orders-value' not found"), "{e}");

    // References: a .proto importing another registered one.
    let common_id = schemas(&["register", "common", "common.proto"]);
    let args = [
        "register",
        "shop-value",
        "shop.proto",
        "--reference",
        "common.proto=common:1",
        "--json",
    ];
    let shop = json_of(&schemas(&args));
    assert_ne!(shop["id"].to_string(), common_id.trim());
    let got = json_of(&schemas(&["get", "shop-value", "--json"]));
    assert_eq!(
        got["references"],
        json!([{"name": "common.proto", "subject": "common", "version": 1}])
    );
    let e = err(s, d, &["schemas", "register", "lonely-value", "shop.proto"]);
    assert!(
        e.contains("common.proto"),
        "the missing import is named: {e}"
    );
}

#[test]
fn the_same_commands_work_on_a_registry_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("v1.avsc"), V1).unwrap();
    let port = kafkit_testkit::free_port();
    let mut server = serve_registry(&d.join("server"), port);
    wait_until_up(port, &mut server);
    // The storage is only where the command runs; the registry is the server.
    let s = &format!("local:{}", d.join("elsewhere").display());
    let url = format!("schema.registry.url=http://127.0.0.1:{port}");
    let id = ok(
        s,
        d,
        &["-X", &url, "schemas", "register", "s-value", "v1.avsc"],
        None,
    );
    assert_eq!(id.trim(), "1");
    let got = json_of(&ok(
        s,
        d,
        &["-X", &url, "schemas", "get", "s-value:1", "--json"],
        None,
    ));
    assert_eq!(got["subject"], "s-value");
    let e = err(s, d, &["-X", &url, "schemas", "get", "nope"]);
    assert!(e.contains("40401"), "{e}");
    // The local storage's own registry was not touched.
    let own = json_of(&ok(s, d, &["schemas", "subjects", "--json"], None));
    assert_eq!(own, json!([]));
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn a_named_configs_schema_registry_section_names_the_server_of_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("v1.avsc"), V1).unwrap();
    let port = kafkit_testkit::free_port();
    let mut server = serve_registry(&d.join("server"), port);
    wait_until_up(port, &mut server);
    // kafi's layout and keys; the URL from the environment; Avro values by default.
    let config = "local:\n  root.dir: ../../store\nschema_registry:\n  schema.registry.url: http://127.0.0.1:${REGISTRY_PORT}\n  \
                  value.subject.name.strategy: io.confluent.kafka.serializers.subject.RecordNameStrategy\nkafkit:\n  value.type: avro\n";
    std::fs::create_dir_all(d.join("configs/locals")).unwrap();
    std::fs::write(d.join("configs/locals/typed.yaml"), config).unwrap();
    let with_port = |args: &[&str], stdin: Option<&str>| {
        let mut c = common::kafkit("typed", d);
        c.env("REGISTRY_PORT", port.to_string()).args(args);
        let out = common::run_command(c, stdin);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    with_port(&["touch", "t"], None);
    with_port(
        &["produce", "t", "--value-schema", "v1.avsc"],
        Some("{\"value\":{\"id\":5}}\n"),
    );
    let got = common::lines(&with_port(&["cat", "t"], None));
    assert_eq!(got[0]["value"], json!({"id": 5}));
    // The record name strategy put the schema under the record's full name, on the server.
    let s = &format!("local:{}", d.join("elsewhere").display());
    let url = format!("schema.registry.url=http://127.0.0.1:{port}");
    let subjects = json_of(&ok(
        s,
        d,
        &["-X", &url, "schemas", "subjects", "--json"],
        None,
    ));
    assert_eq!(subjects, json!(["shop.Order"]));
    // And the storage's own registry is not used.
    assert!(!d.join("store/topics/_schemas").exists());
    server.kill().unwrap();
    server.wait().unwrap();
}
