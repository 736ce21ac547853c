//! Golden batches: bytes written by librdkafka 2.x (confluent-kafka) with each codec, as the
//! test broker served them back (regenerate with `scripts/capture-golden`).

use bytes::Bytes;
use kafkit_record::*;

fn golden(codec: &str) -> Bytes {
    let path = format!(
        "{}/tests/golden/librdkafka-{codec}.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

/// Key, value and timestamp of one golden record.
type Expected = (Option<Vec<u8>>, Option<Vec<u8>>, i64);

/// What scripts/golden_produce.py wrote.
fn expected() -> Vec<Expected> {
    (0..5)
        .map(|i: i64| {
            let key = (i != 2).then(|| format!("k{i}").into_bytes());
            let value = match i {
                3 => None,
                4 => Some(Vec::new()),
                _ => Some(format!("v{i}-").repeat(i as usize + 1).into_bytes()),
            };
            (key, value, 1_700_000_000_000 + i)
        })
        .collect()
}

#[test]
fn librdkafka_batches_decode_exactly() {
    for (name, codec) in [
        ("none", Compression::None),
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ] {
        let mut reader = BatchReader::new(golden(name), DecodeOptions::default());
        let batch = reader.next().expect("one batch").expect("valid batch");
        assert!(reader.next().is_none());
        assert_eq!(reader.truncated_tail(), 0);
        assert_eq!(batch.header.compression, codec, "{name}");
        assert_eq!(batch.header.record_count, 5);
        assert_eq!(batch.header.base_offset, 0);
        assert_eq!(batch.header.last_offset(), 4);
        assert_eq!(batch.header.max_timestamp, 1_700_000_000_004);
        assert!(!batch.header.is_transactional && !batch.header.is_control);
        assert_eq!(
            batch.raw(),
            &golden(name),
            "{name}: raw() is the batch as written"
        );
        let records = batch.collect_records().unwrap();
        for (i, (r, (key, value, ts))) in records.iter().zip(expected()).enumerate() {
            assert_eq!(r.offset, i as i64, "{name}");
            assert_eq!(r.key.as_deref(), key.as_deref(), "{name} record {i}");
            assert_eq!(r.value.as_deref(), value.as_deref(), "{name} record {i}");
            assert_eq!(r.timestamp, ts, "{name} record {i}");
            assert_eq!(
                r.headers,
                vec![Header::new("h", Some("1")), Header::new("h", Some("2"))],
                "{name} record {i}"
            );
        }
    }
}

#[test]
fn our_encoder_writes_librdkafka_bytes_for_the_same_records() {
    let theirs = golden("none");
    let batch = RecordBatch::decode(&theirs, &DecodeOptions::default()).unwrap();
    let h = batch.header;
    let mut b = BatchBuilder::new(h.base_offset, h.base_timestamp);
    b.producer(h.producer_id, h.producer_epoch, h.base_sequence);
    b.partition_leader_epoch(h.partition_leader_epoch);
    for r in batch.records() {
        b.push_record(&r.unwrap());
    }
    let ours = b.finish(Compression::None, None).unwrap();
    assert_eq!(ours, theirs, "byte-for-byte, CRC included");
}

#[test]
fn a_flipped_bit_in_a_golden_batch_fails_the_crc() {
    for name in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let mut bytes = golden(name).to_vec();
        let last = bytes.len() - 3;
        bytes[last] ^= 0x10;
        let err = RecordBatch::decode(&Bytes::from(bytes), &DecodeOptions::default()).unwrap_err();
        assert!(matches!(err, DecodeError::BadCrc { .. }), "{name}: {err}");
    }
}
