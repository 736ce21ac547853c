//! Vectors from the Avro specification (binary encoding and JSON encoding sections).

use super::AvroSchema;

fn roundtrip(schema: &str, json: &str, binary: &[u8]) {
    let schema = AvroSchema::parse(schema).unwrap();
    assert_eq!(schema.encode_json(json).unwrap(), binary, "{json}");
    let mut out = String::new();
    schema.decode_json(binary, None, &mut out).unwrap();
    assert_eq!(out, json);
}

#[test]
fn primitives_follow_the_specification() {
    // Zig-zag ints and longs: 0 → 00, -1 → 01, 1 → 02, -2 → 03, 2 → 04, -64 → 7f, 64 → 80 01.
    for (n, bytes) in [
        (0, &[0x00][..]),
        (-1, &[0x01]),
        (1, &[0x02]),
        (-2, &[0x03]),
        (2, &[0x04]),
        (-64, &[0x7f]),
        (64, &[0x80, 0x01]),
    ] {
        roundtrip(r#""long""#, &n.to_string(), bytes);
        roundtrip(r#""int""#, &n.to_string(), bytes);
    }
    roundtrip(r#""string""#, r#""foo""#, &[0x06, 0x66, 0x6f, 0x6f]);
    roundtrip(r#""boolean""#, "true", &[1]);
    roundtrip(r#""null""#, "null", &[]);
    roundtrip(r#""double""#, "1.5", &1.5f64.to_le_bytes());
    roundtrip(r#""float""#, "0.1", &0.1f32.to_le_bytes());
    roundtrip(r#""bytes""#, r#""\u0000ÿ""#, &[0x04, 0x00, 0xff]);
}

#[test]
fn records_arrays_and_unions_follow_the_specification() {
    // The specification's record example: {"a": 27, "b": "foo"} → 36 06 66 6f 6f.
    roundtrip(
        r#"{"type":"record","name":"test","fields":[{"name":"a","type":"long"},{"name":"b","type":"string"}]}"#,
        r#"{"a":27,"b":"foo"}"#,
        &[0x36, 0x06, 0x66, 0x6f, 0x6f],
    );
    // An array of longs [3, 27]: a block of 2, the items, then the 0 that ends the blocks.
    roundtrip(
        r#"{"type":"array","items":"long"}"#,
        "[3,27]",
        &[0x04, 0x06, 0x36, 0x00],
    );
    // A union ["null","string"]: null is branch 0 (00); "a" is branch 1 then the string.
    roundtrip(r#"["null","string"]"#, "null", &[0x00]);
    roundtrip(
        r#"["null","string"]"#,
        r#"{"string":"a"}"#,
        &[0x02, 0x02, 0x61],
    );
}

#[test]
fn named_types_in_unions_are_keyed_by_full_name() {
    let schema = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
        {"name":"ship_to","type":["null",{"type":"record","name":"Address","fields":[
            {"name":"zip","type":"string"}]}]},
        {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"]}},
        {"name":"bill_to","type":["null","Address"],"default":null},
        {"name":"tags","type":{"type":"map","values":"int"}},
        {"name":"digest","type":{"type":"fixed","name":"Digest","size":2}}
    ]}"#;
    let schema = AvroSchema::parse(schema).unwrap();
    let json = r#"{"ship_to":{"shop.Address":{"zip":"1000"}},"status":"PAID","bill_to":{"shop.Address":{"zip":"2000"}},"tags":{"a":1,"b":2},"digest":"\u0001\u0002"}"#;
    let datum = schema.encode_json(json).unwrap();
    let mut out = String::new();
    schema.decode_json(&datum, None, &mut out).unwrap();
    assert_eq!(out, json);
    // Plain values are taken for unions (the first branch they fit), defaults fill gaps.
    let plain = r#"{"ship_to":{"zip":"1000"},"status":"NEW","tags":{},"digest":"ab"}"#;
    let datum = schema.encode_json(plain).unwrap();
    out.clear();
    schema.decode_json(&datum, None, &mut out).unwrap();
    assert_eq!(
        out,
        r#"{"ship_to":{"shop.Address":{"zip":"1000"}},"status":"NEW","bill_to":null,"tags":{},"digest":"ab"}"#
    );
}

#[test]
fn an_evolved_reader_schema_resolves_old_data() {
    let writer = AvroSchema::parse(
        r#"{"type":"record","name":"V","fields":[{"name":"a","type":"int"},{"name":"gone","type":"string"}]}"#,
    )
    .unwrap();
    let reader = AvroSchema::parse(
        r#"{"type":"record","name":"V","fields":[{"name":"a","type":"long"},{"name":"added","type":"int","default":5}]}"#,
    )
    .unwrap();
    let datum = writer.encode_json(r#"{"a":7,"gone":"x"}"#).unwrap();
    let mut out = String::new();
    writer.decode_json(&datum, Some(&reader), &mut out).unwrap();
    assert_eq!(out, r#"{"a":7,"added":5}"#);
}

#[test]
fn logical_types_are_their_underlying_types() {
    let schema = r#"{"type":"record","name":"L","fields":[
        {"name":"day","type":{"type":"int","logicalType":"date"}},
        {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"id","type":{"type":"string","logicalType":"uuid"}},
        {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":6,"scale":2}},
        {"name":"when","type":["null",{"type":"long","logicalType":"timestamp-micros"}]}
    ]}"#;
    let schema = AvroSchema::parse(schema).unwrap();
    // 12.34 at scale 2 is the unscaled 1234 = 0x04d2, big-endian two's complement.
    let json = r#"{"day":19000,"at":1700000000000,"id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","price":"\u0004Ò","when":{"long":5}}"#;
    let datum = schema.encode_json(json).unwrap();
    let mut out = String::new();
    schema.decode_json(&datum, None, &mut out).unwrap();
    assert_eq!(out, json);
}

#[test]
fn json_that_does_not_fit_names_where() {
    let schema = AvroSchema::parse(
        r#"{"type":"record","name":"P","fields":[{"name":"x","type":"int"},{"name":"inner","type":{"type":"record","name":"I","fields":[{"name":"n","type":{"type":"array","items":"long"}}]}}]}"#,
    )
    .unwrap();
    let err = |json: &str| schema.encode_json(json).unwrap_err().to_string();
    assert_eq!(
        err(r#"{"x":"three","inner":{"n":[]}}"#),
        r#"at $.x: expected an int, found the string "three""#
    );
    assert_eq!(
        err(r#"{"x":1,"inner":{"n":[1,"2"]}}"#),
        r#"at $.inner.n[1]: expected a long, found the string "2""#
    );
    assert_eq!(
        err(r#"{"inner":{"n":[]}}"#),
        "at $.x: missing, and the schema gives no default"
    );
    assert_eq!(
        err(r#"{"x":1,"y":2,"inner":{"n":[]}}"#),
        r#"at $: field "y" is not in record P"#
    );
    assert_eq!(
        err(r#"{"x":4294967296}"#),
        "at $.x: expected an int, found the number 4294967296"
    );
    assert!(err("{").starts_with("not JSON"));
}

#[test]
fn damaged_data_is_an_error_not_a_panic() {
    let schema = AvroSchema::parse(
        r#"{"type":"record","name":"R","fields":[{"name":"s","type":"string"}]}"#,
    )
    .unwrap();
    let mut out = String::new();
    for bad in [&[][..], &[0x7f], &[0x06, b'a'], &[0x02, b'a', 0xff]] {
        assert!(schema.decode_json(bad, None, &mut out).is_err(), "{bad:?}");
    }
    let err = AvroSchema::parse(r#"{"type":"nope"}"#)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("bad Avro schema"), "{err}");
}

#[test]
fn references_supply_named_types() {
    let address = r#"{"type":"record","name":"Address","namespace":"shop","fields":[{"name":"zip","type":"string"}]}"#;
    let order = r#"{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"to","type":"Address"}]}"#;
    let schema = AvroSchema::parse_with_references(order, &[address]).unwrap();
    let datum = schema.encode_json(r#"{"to":{"zip":"9"}}"#).unwrap();
    assert_eq!(datum, [0x02, b'9']);
    let mut out = String::new();
    schema.decode_json(&datum, None, &mut out).unwrap();
    assert_eq!(out, r#"{"to":{"zip":"9"}}"#);
}

#[test]
fn a_block_claiming_more_items_than_bytes_is_refused_before_any_allocation() {
    // Found by the schema_payload fuzz target: apache-avro reserved ~3.4 GB for this.
    let schema = AvroSchema::parse(
        r#"{"type":"record","name":"R","fields":[
        {"name":"i","type":"int"},{"name":"a","type":{"type":"array","items":"long"}}]}"#,
    )
    .unwrap();
    let mut out = String::new();
    let datum = [0x02, 0x80, 0x80, 0x80, 0x80, 0x10, 0x02];
    let err = schema
        .decode_json(&datum, None, &mut out)
        .unwrap_err()
        .to_string();
    assert!(err.contains("items at byte 1"), "{err}");
    // Nulls take no bytes: many are fine, too many are not.
    let nulls = AvroSchema::parse(r#"{"type":"array","items":"null"}"#).unwrap();
    assert!(nulls
        .decode_json(&[0x80, 0x01, 0x00], None, &mut out)
        .is_ok());
    assert!(nulls
        .decode_json(&[0x80, 0x80, 0x80, 0x80, 0x10, 0x00], None, &mut out)
        .is_err());
    // Nesting has a bound: a list linked 200 deep.
    let list = AvroSchema::parse(
        r#"{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}"#,
    )
    .unwrap();
    let mut deep = vec![0x02; 200];
    deep.push(0x00);
    let err = list
        .decode_json(&deep, None, &mut out)
        .unwrap_err()
        .to_string();
    assert!(err.contains("deeper"), "{err}");
}

#[test]
fn the_encoder_writes_what_apache_avro_writes() {
    // Every type the JSON converter builds, nested; one-entry maps (apache-avro writes maps
    // in hash order, kafkit sorts them).
    let schema = r#"{"type":"record","name":"All","namespace":"t","fields":[
        {"name":"n","type":"null"},{"name":"b","type":"boolean"},{"name":"i","type":"int"},
        {"name":"l","type":"long"},{"name":"f","type":"float"},{"name":"d","type":"double"},
        {"name":"by","type":"bytes"},{"name":"s","type":"string"},
        {"name":"fx","type":{"type":"fixed","name":"F4","size":4}},
        {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"]}},
        {"name":"a","type":{"type":"array","items":"long"}},
        {"name":"empty","type":{"type":"array","items":"long"}},
        {"name":"m","type":{"type":"map","values":"E"}},
        {"name":"u","type":["null","string","F4"]},
        {"name":"date","type":{"type":"int","logicalType":"date"}},
        {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
        {"name":"decf","type":{"type":"fixed","name":"D3","size":3,"logicalType":"decimal","precision":6,"scale":2}},
        {"name":"uuid","type":{"type":"string","logicalType":"uuid"}},
        {"name":"inner","type":{"type":"record","name":"In","fields":[{"name":"x","type":"int","default":7}]}},
        {"name":"again","type":"In"}]}"#;
    let json = r#"{"n":null,"b":true,"i":-300,"l":1234567890123,"f":1.5,"d":-2.25,
        "by":"\u0001\u00ff","s":"héllo","fx":"abcd","e":"C","a":[1,-2,300],"empty":[],
        "m":{"k":"B"},"u":{"t.F4":"wxyz"},"date":19000,"ts":1764806400000,
        "dec":"\u0000\u00ff\u0010","decf":"\u00ff\u00fe\u0001",
        "uuid":"123e4567-e89b-12d3-a456-426614174000","inner":{},"again":{"x":-1}}"#;
    let ours = AvroSchema::parse(schema).unwrap();
    let json: serde_json::Value = serde_json::from_str(json).unwrap();
    let value = super::from_json::Converter { names: &ours.names }
        .value(&json, &ours.schema)
        .unwrap();
    let theirs = apache_avro::to_avro_datum(&ours.schema, value).unwrap();
    assert_eq!(ours.encode_value(&json).unwrap(), theirs);
    // Decoding straight to JSON writes what apache-avro's decoder and the value writer do.
    let (mut direct, mut through_values) = (String::new(), String::new());
    ours.decode_json(&theirs, None, &mut direct).unwrap();
    let value = apache_avro::from_avro_datum(&ours.schema, &mut &theirs[..], None).unwrap();
    super::to_json::Writer { names: &ours.names }
        .value(&value, &ours.schema, &mut through_values)
        .unwrap();
    assert_eq!(direct, through_values);
    let mut expected = json.clone();
    expected["inner"] = serde_json::json!({"x": 7}); // the field's default, filled in
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&direct).unwrap(),
        expected
    );
}

#[test]
fn blocks_with_byte_sizes_and_cut_data_decode_as_the_specification_says() {
    let schema = AvroSchema::parse(r#"{"type":"array","items":"int"}"#).unwrap();
    // A block of -2 items with its size in bytes (2), then a block of 1, then the end.
    let datum = [0x03, 0x04, 0x02, 0x04, 0x02, 0x06, 0x00];
    let mut out = String::new();
    schema.decode_json(&datum, None, &mut out).unwrap();
    assert_eq!(out, "[1,2,3]");
    out.clear();
    let err = schema.decode_json(&datum[..4], None, &mut out).unwrap_err();
    assert!(!err.to_string().is_empty());
    assert!(out.is_empty(), "nothing half-written: {out}");
    // A decimal of no bytes is no number (found by fuzzing: it decoded, then did not encode).
    let decimal =
        AvroSchema::parse(r#"{"type":"bytes","logicalType":"decimal","precision":4,"scale":1}"#)
            .unwrap();
    assert!(decimal.decode_json(&[0x00], None, &mut out).is_err());
    assert!(out.is_empty());
}

#[test]
fn maps_encode_the_same_every_time() {
    let schema = AvroSchema::parse(r#"{"type":"map","values":"int"}"#).unwrap();
    let entries: Vec<String> = (0..50).map(|i| format!("\"k{i}\": {i}")).collect();
    let json = format!("{{{}}}", entries.join(","));
    let first = schema.encode_json(&json).unwrap();
    for _ in 0..20 {
        assert_eq!(schema.encode_json(&json).unwrap(), first);
    }
    let mut out = String::new();
    schema.decode_json(&first, None, &mut out).unwrap();
    let back: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        back,
        serde_json::from_str::<serde_json::Value>(&json).unwrap()
    );
}
