//! kafkit's registry server against confluent-kafka's Python Schema Registry client and its
//! Avro and JSON Schema serializers (`testing/peers/python/registry_peer.py`): registry calls
//! get Confluent's answers and error codes, values they frame decode in kafkit, and values
//! kafkit frames decode in them.

use std::sync::Arc;

use kafkit_format::{wire, AvroSchema, JsonSchema};
use kafkit_registry::{RegistryService, Schema, SchemaType};
use kafkit_store::{AnyStorage, LocalStorage};
use serde_json::{json, Value};

const KAFKIT_AVRO: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
    {"name":"id","type":"int"},{"name":"name","type":"string"},
    {"name":"note","type":["null","string"],"default":null}]}"#;
const KAFKIT_JSON: &str = r#"{"type":"object","properties":{"id":{"type":"integer"}}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_kafkas_client_and_serializers_work_with_kafkits_registry() {
    // The registry kept in a local storage's _schemas topic, reopened at the end.
    let dir = tempfile::tempdir().unwrap();
    let open = || async {
        let storage = AnyStorage::Local(LocalStorage::open(dir.path()).unwrap());
        Arc::new(RegistryService::open(storage, "_schemas").await.unwrap())
    };
    let registry = open().await;
    // Schemas kafkit registers itself, and values it frames with their ids.
    let avro_id = registry
        .write(|r| r.plan_register("kafkit-value", Schema::avro(KAFKIT_AVRO)))
        .await
        .unwrap();
    let json = Schema {
        text: KAFKIT_JSON.into(),
        schema_type: SchemaType::Json,
        references: Vec::new(),
    };
    let json_id = registry
        .write(|r| r.plan_register("kafkit-json-value", json.clone()))
        .await
        .unwrap();
    let avro = AvroSchema::parse(KAFKIT_AVRO).unwrap();
    let avro_value = wire::frame(
        avro_id,
        &[],
        &avro
            .encode_json(r#"{"id":3,"name":"k","note":{"string":"x"}}"#)
            .unwrap(),
    );
    let json_schema = JsonSchema::parse(KAFKIT_JSON, &[]).unwrap();
    let json_value = wire::frame(
        json_id,
        &[],
        &json_schema.encode_json(r#"{"id":5}"#).unwrap(),
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(kafkit_registry::serve(listener, registry.clone(), None));

    let job = json!({"avro_values": [hex(&avro_value)], "json_values": [hex(&json_value)]});
    let out = tokio::task::spawn_blocking(move || run_peer(&url, &job))
        .await
        .unwrap();
    server.abort();

    // Registry calls.
    assert_eq!(out["id1_again"], out["id1"], "one schema, one id");
    assert_eq!(
        serde_json::from_str::<Value>(out["id1_schema"].as_str().unwrap()).unwrap()["name"],
        "Order"
    );
    assert_ne!(out["id2"], out["id1"]);
    assert_eq!(out["versions"], json!([1, 2]));
    assert_eq!(out["latest"], json!({"version": 2, "id": out["id2"]}));
    assert_eq!(out["lookup_v1"], json!({"version": 1, "id": out["id1"]}));
    assert_eq!(out["incompatible"]["http"], 409);
    assert_eq!(out["incompatible"]["code"], 409);
    assert_eq!(out["test_bad"], false);
    assert_eq!(out["test_good"], true);
    assert_eq!(out["unknown_subject"]["http"], 404);
    assert_eq!(out["unknown_subject"]["code"], 40401);
    assert_eq!(out["unknown_id"]["code"], 40403);
    assert_eq!(out["invalid_schema"]["http"], 422);
    assert_eq!(out["invalid_schema"]["code"], 42201);
    assert_eq!(out["set_level"], json!({"compatibility": "NONE"}));
    assert_eq!(out["level"], "NONE");
    assert!(out["id_bad_now"].as_i64().unwrap() > out["id2"].as_i64().unwrap());

    // What confluent-kafka's serializers framed, kafkit decodes.
    let r = registry.read().await;
    let mut decoded = Vec::new();
    for h in out["avro_framed"].as_array().unwrap() {
        let bytes = unhex(h.as_str().unwrap());
        let (id, payload) = wire::unframe(&bytes).unwrap();
        assert_eq!(
            i64::from(id),
            out["id2"].as_i64().unwrap(),
            "the same schema, the same id"
        );
        let schema = AvroSchema::parse(&r.schema(id).unwrap().text).unwrap();
        let mut json = String::new();
        schema.decode_json(payload, None, &mut json).unwrap();
        decoded.push(json);
    }
    assert_eq!(
        decoded,
        [
            r#"{"id":7,"name":"seven","note":{"string":"n"}}"#,
            r#"{"id":-1,"name":"","note":null}"#
        ]
    );
    let bytes = unhex(out["json_framed"][0].as_str().unwrap());
    let (id, payload) = wire::unframe(&bytes).unwrap();
    let schema = r.schema(id).unwrap();
    assert_eq!(schema.schema_type, SchemaType::Json);
    let mut json = String::new();
    JsonSchema::parse(&schema.text, &[])
        .unwrap()
        .decode_json(payload, true, &mut json)
        .unwrap();
    assert_eq!(json, r#"{"id":1,"tags":["a","b"]}"#);

    // What kafkit framed, confluent-kafka's deserializers decode.
    assert_eq!(
        out["avro_read"],
        json!([{"id": 3, "name": "k", "note": "x"}])
    );
    assert_eq!(out["json_read"], json!([{"id": 5}]));

    // Deletes.
    assert_eq!(out["soft_delete_version"], 1);
    assert_eq!(out["versions_after"], json!([2, 3]));
    assert_eq!(out["soft_delete_subject"], json!([2, 3]));
    let subjects = out["subjects_after"].as_array().unwrap();
    assert!(!subjects.contains(&json!("orders-value")), "{subjects:?}");
    assert!(subjects.contains(&json!("payments-value")), "{subjects:?}");
    assert_eq!(out["hard_delete_subject"], json!([1, 2, 3]));

    // Reopened from its topic, the registry is the same.
    let before = (
        r.subjects(true),
        r.schema(avro_id).unwrap().clone(),
        r.level(None),
    );
    let versions = r.versions("payments-value", true).unwrap();
    drop(r);
    drop(registry);
    let reopened = open().await;
    let again = reopened.read().await;
    assert_eq!(
        (
            again.subjects(true),
            again.schema(avro_id).unwrap().clone(),
            again.level(None)
        ),
        before
    );
    assert_eq!(again.versions("payments-value", true).unwrap(), versions);
    assert!(
        again.versions("orders-value", true).is_err(),
        "deleted for good"
    );
    assert_eq!(
        again.level(Some("orders-value")),
        kafkit_registry::Compatibility::Backward
    );
}

fn run_peer(url: &str, job: &Value) -> Value {
    let mut peer = kafkit_testkit::python_peer("registry_peer.py");
    peer.arg(url);
    serde_json::from_slice(&kafkit_testkit::run_peer(peer, job.to_string().as_bytes())).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}
