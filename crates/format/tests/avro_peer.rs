//! kafkit's Avro JSON encoding against fastavro's (the Python reference implementation,
//! `testing/peers/python/avro_json.py`), both ways: what kafkit writes as JSON, fastavro
//! reads to the same datum; what fastavro writes as JSON, kafkit reads to the same datum.
//! Maps hold one entry each: apache-avro keeps a map in a `HashMap`, so the order in which
//! several entries are written differs from run to run (docs/ARCHITECTURE.md).

use kafkit_format::AvroSchema;

const SCHEMA: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
    {"name":"id","type":"long"},
    {"name":"note","type":["null","string"]},
    {"name":"to","type":["null",{"type":"record","name":"Address","fields":[
        {"name":"zip","type":"string"},{"name":"raw","type":"bytes"}]}]},
    {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"]}},
    {"name":"lines","type":{"type":"array","items":{"type":"map","values":"int"}}},
    {"name":"digest","type":{"type":"fixed","name":"Digest","size":4}},
    {"name":"price","type":"double"},
    {"name":"ratio","type":"float"},
    {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
    {"name":"either","type":["int","string","boolean"]}
]}"#;

const RECORDS: [&str; 3] = [
    r#"{"id":1,"note":null,"to":null,"status":"NEW","lines":[],"digest":"abcd","price":1.5,"ratio":0.25,"at":1700000000000,"either":{"int":-3}}"#,
    r#"{"id":-9007199254740993,"note":{"string":"ünïcode \"quoted\"\n"},"to":{"shop.Address":{"zip":"1000","raw":"\u0000\u00ff\u007f"}},"status":"PAID","lines":[{"a":-2},{}],"digest":"\u0000\u0001\u0002\u00ff","price":-0.1,"ratio":3.0,"at":0,"either":{"string":"x"}}"#,
    r#"{"id":0,"note":{"string":""},"to":{"shop.Address":{"zip":"","raw":""}},"status":"NEW","lines":[{"k":2147483647}],"digest":"    ","price":1e300,"ratio":-1.0,"at":-1,"either":{"boolean":true}}"#,
];

#[test]
fn kafkit_and_fastavro_read_each_others_avro_json() {
    let schema = AvroSchema::parse(SCHEMA).unwrap();
    let ours: Vec<Vec<u8>> = RECORDS
        .iter()
        .map(|json| schema.encode_json(json).unwrap())
        .collect();
    let job = serde_json::json!({
        "schema": serde_json::from_str::<serde_json::Value>(SCHEMA).unwrap(),
        "json": RECORDS,
        "datums": ours.iter().map(|d| hex(d)).collect::<Vec<_>>(),
    });
    let out = kafkit_testkit::run_peer(
        kafkit_testkit::python_peer("avro_json.py"),
        job.to_string().as_bytes(),
    );
    let answer: serde_json::Value = serde_json::from_slice(&out).unwrap();
    for (i, json) in RECORDS.iter().enumerate() {
        // kafkit's JSON, read by fastavro, is the datum kafkit writes for it.
        assert_eq!(
            answer["datums"][i].as_str().unwrap(),
            hex(&ours[i]),
            "{json}"
        );
        // fastavro's JSON for kafkit's datum, read by kafkit, is that datum again.
        let theirs = answer["json"][i].as_str().unwrap();
        assert_eq!(schema.encode_json(theirs).unwrap(), ours[i], "{theirs}");
        // And kafkit prints its datum as it was given (the records are in kafkit's form).
        let mut printed = String::new();
        schema.decode_json(&ours[i], None, &mut printed).unwrap();
        let given: serde_json::Value = serde_json::from_str(json).unwrap();
        let back: serde_json::Value = serde_json::from_str(&printed).unwrap();
        assert_eq!(back, given);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
