//! Feeds arbitrary bytes to the formats crate as a record value in the Schema Registry wire
//! format: the header, Protobuf message indexes, then the payload decoded with an Avro, a
//! Protobuf and a JSON Schema schema. Errors, never a panic; and whatever decodes encodes
//! back from its JSON and decodes to the same JSON.
#![no_main]

use std::sync::OnceLock;

use kafkit_format::{wire, AvroSchema, JsonSchema, ProtobufSchema};
use libfuzzer_sys::fuzz_target;

struct Schemas {
    avro: AvroSchema,
    protobuf: ProtobufSchema,
    json: JsonSchema,
}

fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| Schemas {
        avro: AvroSchema::parse(
            r#"{"type":"record","name":"R","namespace":"f","fields":[
                {"name":"i","type":"int"},{"name":"s","type":["null","string"]},
                {"name":"b","type":"bytes"},{"name":"d","type":"double"},
                {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},
                {"name":"a","type":{"type":"array","items":"long"}},
                {"name":"m","type":{"type":"map","values":"R"}},
                {"name":"x","type":{"type":"fixed","name":"X","size":3}},
                {"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}},
                {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}}
            ]}"#,
        )
        .expect("the Avro schema parses"),
        protobuf: ProtobufSchema::parse(
            r#"syntax = "proto3"; package f;
               import "google/protobuf/timestamp.proto";
               message M { int64 i = 1; string s = 2; bytes b = 3; repeated M children = 4;
                           map<string, double> m = 5; E e = 6; google.protobuf.Timestamp t = 7;
                           oneof o { sint32 z = 8; fixed64 f = 9; }
                           message N { float n = 1; } N nested = 10; }
               enum E { A = 0; B = 1; }"#,
            &[],
        )
        .expect("the Protobuf schema parses"),
        json: JsonSchema::parse(
            r#"{"type":"object","properties":{"id":{"type":"integer"},"tags":{"type":"array","items":{"type":"string","maxLength":8}}}}"#,
            &[],
        )
        .expect("the JSON Schema parses"),
    })
}

fuzz_target!(|data: &[u8]| {
    let s = schemas();
    let Ok((_, payload)) = wire::unframe(data) else {
        return;
    };
    let mut json = String::new();
    if s.avro.decode_json(payload, None, &mut json).is_ok() {
        let again = s.avro.encode_json(&json).expect("decoded Avro encodes back");
        let mut twice = String::new();
        s.avro
            .decode_json(&again, None, &mut twice)
            .expect("re-encoded Avro decodes");
        assert_eq!(json, twice);
    }
    if let Ok((indexes, payload)) = wire::read_message_indexes(payload) {
        json.clear();
        if s.protobuf.decode_json(&indexes, payload, &mut json).is_ok() {
            let again = s
                .protobuf
                .encode_json(&indexes, &json)
                .expect("decoded Protobuf encodes back");
            let mut twice = String::new();
            s.protobuf
                .decode_json(&indexes, &again, &mut twice)
                .expect("re-encoded Protobuf decodes");
            // prost-reflect keeps a map field's entries in a hash map: their order may differ
            // between two prints, so the two are compared as JSON values.
            let parsed = |text: &str| serde_json::from_str::<serde_json::Value>(text).expect("JSON");
            assert_eq!(parsed(&json), parsed(&twice));
        }
    }
    json.clear();
    let _ = s.json.decode_json(payload, true, &mut json);
});
