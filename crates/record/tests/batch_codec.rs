//! Round trips, corruption and bounds of the RecordBatch v2 codec.

use bytes::Bytes;
use kafkit_record::*;

const ALL: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

fn sample_records() -> Vec<Record> {
    vec![
        Record {
            offset: 100,
            timestamp: 1_700_000_000_000,
            key: Some(Bytes::from_static(b"key-1")),
            value: Some(Bytes::from_static(b"value-1")),
            headers: vec![
                Header::new("dup", Some("a")),
                Header::new("dup", Some("b")),
                Header::new("null", None::<Bytes>),
            ],
        },
        Record {
            offset: 101,
            timestamp: 1_699_999_999_000, // earlier than base: negative delta
            key: None,
            value: Some(Bytes::new()), // empty, not null
            headers: vec![],
        },
        Record {
            offset: 102,
            timestamp: 1_700_000_000_500,
            key: Some(Bytes::new()),
            value: None, // tombstone
            headers: vec![Header::new("", Some(""))],
        },
    ]
}

fn encode(records: &[Record], codec: Compression) -> Bytes {
    let mut b = BatchBuilder::new(records[0].offset, records[0].timestamp);
    b.producer(42, 3, 7);
    for r in records {
        b.push_record(r);
    }
    b.finish(codec, None).unwrap()
}

#[test]
fn round_trip_every_codec() {
    let records = sample_records();
    for codec in ALL {
        let bytes = encode(&records, codec);
        let batch = RecordBatch::decode(&bytes, &DecodeOptions::default()).unwrap();
        assert_eq!(batch.header.compression, codec);
        assert_eq!(batch.header.producer_id, 42);
        assert_eq!(batch.header.producer_epoch, 3);
        assert_eq!(batch.header.base_sequence, 7);
        assert_eq!(batch.header.record_count, 3);
        assert_eq!(batch.header.last_offset(), 102);
        assert_eq!(batch.header.max_timestamp, 1_700_000_000_500);
        assert_eq!(batch.collect_records().unwrap(), records, "{codec:?}");
        assert_refs_match_records(&batch);
    }
}

/// `record_refs` sees what `records` sees: the same fields, and an error at the same record.
fn assert_refs_match_records(batch: &RecordBatch) {
    let owned: Vec<_> = batch.records().collect();
    let borrowed: Vec<_> = batch.record_refs().collect();
    assert_eq!(owned.len(), borrowed.len());
    for (o, b) in owned.iter().zip(&borrowed) {
        match (o, b) {
            (Ok(o), Ok(b)) => {
                assert_eq!((o.offset, o.timestamp), (b.offset, b.timestamp));
                assert_eq!(o.key.as_deref(), b.key);
                assert_eq!(o.value.as_deref(), b.value);
            }
            (Err(o), Err(b)) => assert_eq!(o.to_string(), b.to_string()),
            _ => panic!("records gave {o:?}, record_refs gave {b:?}"),
        }
    }
}

#[test]
fn uncompressed_decode_shares_the_input_buffer() {
    let bytes = encode(&sample_records(), Compression::None);
    let batch = RecordBatch::decode(&bytes, &DecodeOptions::default()).unwrap();
    let rec = batch.records().next().unwrap().unwrap();
    let key = rec.key.unwrap();
    let range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
    assert!(range.contains(&(key.as_ptr() as usize)), "key was copied");
}

#[test]
fn reader_walks_many_batches_and_stops_at_a_partial_tail() {
    let a = encode(&sample_records(), Compression::None);
    let b = encode(&sample_records(), Compression::Zstd);
    let mut set = a.to_vec();
    set.extend_from_slice(&b);
    set.extend_from_slice(&a[..30]); // a fetch may end mid-batch
    let mut reader = BatchReader::new(Bytes::from(set), DecodeOptions::default());
    assert!(reader.next().unwrap().is_ok());
    assert!(reader.next().unwrap().is_ok());
    assert!(reader.next().is_none());
    assert_eq!(reader.truncated_tail(), 30);
    assert_eq!(reader.consumed(), a.len() + b.len());
}

#[test]
fn bad_crc_is_detected_and_can_be_skipped() {
    let mut bytes = encode(&sample_records(), Compression::None).to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let bytes = Bytes::from(bytes);
    let err = RecordBatch::decode(&bytes, &DecodeOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::BadCrc {
                base_offset: 100,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("offset 100"));
    let lax = DecodeOptions {
        check_crc: false,
        ..Default::default()
    };
    assert!(RecordBatch::decode(&bytes, &lax).is_ok());
}

#[test]
fn wrong_magic_is_named() {
    let mut bytes = encode(&sample_records(), Compression::None).to_vec();
    bytes[16] = 1;
    let err = RecordBatch::decode(&Bytes::from(bytes), &DecodeOptions::default()).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::UnsupportedMagic { magic: 1, .. }
    ));
}

#[test]
fn absurd_lengths_are_errors_not_allocations() {
    // A record count of i32::MAX in a tiny batch.
    let mut bytes = encode(&sample_records(), Compression::None).to_vec();
    bytes[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    let opts = DecodeOptions {
        check_crc: false,
        ..Default::default()
    };
    let err = RecordBatch::decode(&Bytes::from(bytes), &opts).unwrap_err();
    assert!(matches!(err, DecodeError::RecordCount { .. }), "{err}");

    // A negative batch length.
    let mut bytes = encode(&sample_records(), Compression::None).to_vec();
    bytes[8..12].copy_from_slice(&(-5i32).to_be_bytes());
    let mut reader = BatchReader::new(Bytes::from(bytes), opts);
    assert!(matches!(
        reader.next(),
        Some(Err(DecodeError::BadLength { what: "batch", .. }))
    ));
    assert!(reader.next().is_none());
}

#[test]
fn every_truncation_and_every_byte_flip_is_handled() {
    let opts = DecodeOptions {
        check_crc: false,
        ..Default::default()
    };
    for codec in ALL {
        let bytes = encode(&sample_records(), codec);
        for cut in 0..bytes.len() {
            let part = bytes.slice(..cut);
            assert!(
                RecordBatch::decode(&part, &opts).is_err(),
                "{codec:?} cut {cut}"
            );
            let _ = BatchReader::new(part, opts).count();
        }
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut v = bytes.to_vec();
                v[i] ^= flip;
                // Must not panic; any result is acceptable without the CRC.
                if let Ok(batch) = RecordBatch::decode(&Bytes::from(v), &opts) {
                    assert_refs_match_records(&batch);
                }
            }
        }
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_records_round_trip(
        entries in proptest::collection::vec(
            (
                proptest::option::of(proptest::collection::vec(proptest::num::u8::ANY, 0..40)),
                proptest::option::of(proptest::collection::vec(proptest::num::u8::ANY, 0..200)),
                -1_000_000i64..1_000_000,
                proptest::collection::vec(("[a-z]{0,5}", proptest::option::of("[a-z]{0,8}")), 0..4),
            ),
            1..30,
        ),
        codec_id in 0u8..5,
    ) {
        let codec = Compression::from_id(codec_id).unwrap();
        let base_ts = 1_600_000_000_000i64;
        let records: Vec<Record> = entries
            .into_iter()
            .enumerate()
            .map(|(i, (k, v, dt, hs))| Record {
                offset: 5 + i as i64,
                timestamp: base_ts + dt,
                key: k.map(Bytes::from),
                value: v.map(Bytes::from),
                headers: hs.into_iter().map(|(k, v)| Header::new(k, v)).collect(),
            })
            .collect();
        let mut b = BatchBuilder::new(5, base_ts);
        for r in &records {
            b.push_record(r);
        }
        let bytes = b.finish(codec, None).unwrap();
        let batch = RecordBatch::decode(&bytes, &DecodeOptions::default()).unwrap();
        proptest::prop_assert_eq!(batch.collect_records().unwrap(), records);
        assert_refs_match_records(&batch);
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
        let opts = DecodeOptions { check_crc: false, max_decompressed: 1 << 16 };
        for batch in BatchReader::new(Bytes::from(data), opts).flatten() {
            let _ = batch.records().count();
        }
    }
}
