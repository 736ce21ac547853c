//! Schema-typed records on a broker, through kafkit's registry server, against
//! confluent-kafka's producer and consumer with its Avro, Protobuf and JSON Schema
//! serializers (`testing/peers/python/schema_records.py`): what kafkit writes they read, and
//! what they write kafkit reads — Protobuf messages of indexes [1] and [0, 0] included, with
//! the schema the Python serializer registered in Confluent's serialized form.

mod common;

use common::{lines, ok, serve_registry, wait_until_up};
use serde_json::{json, Value};

const ORDER_AVSC: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
    {"name":"id","type":"int"},{"name":"name","type":"string"},
    {"name":"note","type":["null","string"],"default":null}]}"#;

/// The messages the Python peer builds from a descriptor.
const ORDER_PROTO: &str = r#"syntax = "proto3";
package shop;
message Order {
  int32 id = 1;
  string name = 2;
  repeated Line lines = 3;
  message Line { string sku = 1; int32 qty = 2; }
}
message Refund { string order_id = 1; int64 cents = 2; }
"#;

const ORDER_JSON_SCHEMA: &str = r#"{"title":"Order","type":"object",
  "properties":{"id":{"type":"integer"},"name":{"type":"string"}},"required":["id"]}"#;

fn peer(job: Value) -> Value {
    let command = kafkit_testkit::python_peer("schema_records.py");
    let out = kafkit_testkit::run_peer(command, job.to_string().as_bytes());
    serde_json::from_slice(&out).expect("the peer prints JSON")
}

#[test]
fn confluent_kafkas_serializers_and_kafkit_read_each_others_records() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("order.avsc"), ORDER_AVSC).unwrap();
    std::fs::write(d.join("order.proto"), ORDER_PROTO).unwrap();
    std::fs::write(d.join("order.json"), ORDER_JSON_SCHEMA).unwrap();
    let port = kafkit_testkit::free_port();
    let mut registry = serve_registry(&d.join("registry"), port);
    wait_until_up(port, &mut registry);
    let url = format!("http://127.0.0.1:{port}");
    let bootstrap = kafkit_testkit::shared_broker();
    let storage = format!("kafka:{bootstrap}");
    let url_prop = format!("schema.registry.url={url}");
    let topic = |what: &str| kafkit_testkit::unique_topic(what);
    let ours = json!({"avro": topic("k-avro"), "protobuf": topic("k-pb"), "json": topic("k-json")});
    let theirs =
        json!({"avro": topic("p-avro"), "protobuf": topic("p-pb"), "json": topic("p-json")});
    for t in ours
        .as_object()
        .unwrap()
        .values()
        .chain(theirs.as_object().unwrap().values())
    {
        ok(&storage, d, &["touch", t.as_str().unwrap()], None);
    }

    // kafkit writes; the Python deserializers read.
    let avro_values = [
        json!({"id":1,"name":"a","note":null}),
        json!({"id":2,"name":"b","note":{"string":"x"}}),
    ];
    let pb_value = json!({"id": 3, "name": "p", "lines": [{"sku": "s1", "qty": 2}]});
    let json_value = json!({"id": 4, "name": "j"});
    let produce = |kind: &str, ty: &str, schema: &str, values: &[Value]| {
        let input: String = values
            .iter()
            .map(|v| format!("{}\n", json!({"value": v})))
            .collect();
        let t = ours[kind].as_str().unwrap();
        let args = [
            "-X",
            &url_prop,
            "produce",
            t,
            "--value-type",
            ty,
            "--value-schema",
            schema,
        ];
        ok(&storage, d, &args, Some(&input));
    };
    produce("avro", "avro", "order.avsc", &avro_values);
    produce(
        "protobuf",
        "protobuf",
        "order.proto",
        std::slice::from_ref(&pb_value),
    );
    produce(
        "json",
        "jsonschema",
        "order.json",
        std::slice::from_ref(&json_value),
    );
    let read = peer(
        json!({"bootstrap": bootstrap, "registry": url, "mode": "consume", "topics": ours, "count": 1}),
    );
    // The Python Avro deserializer gives unions as plain values.
    assert_eq!(read["avro"][0], json!({"id":1,"name":"a","note":null}));
    assert_eq!(
        read["protobuf"][0],
        json!({"id": 3, "name": "p", "lines": [{"sku": "s1", "qty": 2}]})
    );
    assert_eq!(read["json"][0], json_value);

    // The Python serializers write (registering their schemas); kafkit reads.
    peer(json!({"bootstrap": bootstrap, "registry": url, "mode": "produce", "topics": theirs}));
    let cat = |kind: &str, ty: &str| {
        let t = theirs[kind].as_str().unwrap();
        lines(&ok(
            &storage,
            d,
            &["-X", &url_prop, "cat", t, "--value-type", ty],
            None,
        ))
    };
    let avro = cat("avro", "avro");
    assert_eq!(avro.len(), 2);
    assert_eq!(avro[0]["value"], json!({"id":10,"name":"py-a","note":null}));
    assert_eq!(
        avro[1]["value"],
        json!({"id":11,"name":"py-b","note":{"string":"n"}})
    );
    let pb = cat("protobuf", "protobuf");
    assert_eq!(pb.len(), 2);
    assert_eq!(
        pb[0]["value"],
        json!({"orderId": "o-9", "cents": "1250"}),
        "indexes [1]"
    );
    assert_eq!(
        pb[1]["value"],
        json!({"sku": "s-1", "qty": 3}),
        "indexes [0, 0]"
    );
    assert_ne!(pb[0]["value_schema_id"], Value::Null);
    let js = cat("json", "jsonschema");
    assert_eq!(js[0]["value"], json!({"id":20,"name":"py-j"}));
    // One registry for all: the Python serializer found kafkit's Avro schema (same text,
    // same subject strategy) under the same id.
    let ours_avro = lines(&ok(
        &storage,
        d,
        &[
            "-X",
            &url_prop,
            "cat",
            ours["avro"].as_str().unwrap(),
            "--value-type",
            "avro",
        ],
        None,
    ));
    assert_eq!(ours_avro[0]["value_schema_id"], avro[0]["value_schema_id"]);
    registry.kill().unwrap();
    registry.wait().unwrap();
}
