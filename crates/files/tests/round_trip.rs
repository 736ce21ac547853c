//! A topic exported to every format and imported back gives the same records; large topics
//! stream; bad files give one-line errors naming the file and row.

use std::collections::BTreeMap;

use kafkit_files::{export, import, ExportPlan, FileFormat, FileLocation, ImportPlan, Shape};
use kafkit_record::Header;
use kafkit_store::ops::json::DataType;
use kafkit_store::ops::read::ReadSpec;
use kafkit_store::ops::schemas::RecordFormat;
use kafkit_store::{AnyStorage, LocalStorage, NewRecord, ReadFrom, RecordReader, Storage};

fn json_format() -> RecordFormat {
    RecordFormat {
        key: DataType::Str,
        value: DataType::Json,
        schemas: None,
    }
}

fn plan(format: FileFormat, shape: Shape) -> ExportPlan {
    ExportPlan {
        read: ReadSpec {
            format: json_format(),
            ..Default::default()
        },
        limit: None,
        shape,
        format,
    }
}

fn import_plan(format: FileFormat) -> ImportPlan {
    ImportPlan {
        shape: Shape::default(),
        format,
        target: json_format(),
        keep_partitions: true,
        partitions: None,
        limit: None,
    }
}

/// (partition, offset order, timestamp, key, value, headers) of every record.
type Seen = (
    i32,
    i64,
    Option<Vec<u8>>,
    Option<serde_json::Value>,
    Vec<(Vec<u8>, Option<Vec<u8>>)>,
);

async fn records(store: &AnyStorage, topic: &str) -> Vec<Seen> {
    let mut reader = store
        .reader(topic, None, ReadFrom::Beginning, false)
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(batch) = reader.next_records().await.unwrap() {
        for r in batch {
            let value = r.value.as_ref().map(|v| serde_json::from_slice(v).unwrap());
            let headers = r
                .headers
                .iter()
                .map(|h| (h.key.to_vec(), h.value.as_ref().map(|v| v.to_vec())))
                .collect();
            out.push((
                r.partition,
                r.timestamp,
                r.key.map(|k| k.to_vec()),
                value,
                headers,
            ));
        }
    }
    out.sort_by_key(|r| (r.0, r.1));
    out
}

async fn sample_topic(store: &AnyStorage) {
    store.create_topic("orders", 3, &[]).await.unwrap();
    let mut batch = Vec::new();
    for i in 0..120i64 {
        let value = match i % 5 {
            0 => {
                serde_json::json!({"id": i, "customer": {"name": format!("c{i}"), "vip": i % 2 == 0}, "total": i as f64 * 1.25, "items": ["a", "b"]})
            }
            1 => serde_json::json!({"id": i, "note": "with \"quotes\", commas\nand lines"}),
            2 => serde_json::json!("a plain string"),
            3 => serde_json::json!([1, 2, 3]),
            _ => serde_json::json!({}),
        };
        let mut r = NewRecord::new(Some(format!("key-{}", i % 7)), Some(value.to_string()));
        if i % 11 == 0 {
            r.value = None; // a tombstone
        }
        if i % 13 == 0 {
            r.key = None;
        }
        r.partition = Some((i % 3) as i32);
        r.timestamp = Some(1_700_000_000_000 + i * 1000 + 7);
        if i % 4 == 0 {
            r.headers = vec![
                Header::new("trace", Some("x")),
                Header::new("trace", Some("y")),
                Header::new("empty", None::<&str>),
            ];
        }
        batch.push(r);
    }
    store.append("orders", batch).await.unwrap();
}

#[tokio::test]
async fn every_format_round_trips_a_topic() {
    let dir = tempfile::tempdir().unwrap();
    let store = AnyStorage::Local(LocalStorage::open(dir.path().join("store")).unwrap());
    sample_topic(&store).await;
    let original = records(&store, "orders").await;
    assert_eq!(original.len(), 120);
    for (name, format) in FileFormat::ALL {
        for flatten in [true, false] {
            let file = dir.path().join(format!("orders-{flatten}.{name}"));
            let to = FileLocation::Local(file.clone());
            let shape = Shape {
                flatten,
                ..Shape::default()
            };
            let done = export((&store, "orders"), &to, &plan(format, shape), &|_| {})
                .await
                .unwrap();
            assert_eq!(done.records, 120, "{name}");
            assert!(done.bytes > 0);
            let topic = format!("back-{name}-{flatten}");
            let imported = import(&to, (&store, &topic), &import_plan(format), &|_| {})
                .await
                .unwrap();
            assert_eq!(imported.records, 120, "{name}");
            assert_eq!(
                store.partitions(&topic).await.unwrap(),
                3,
                "{name}: partitions as the rows name"
            );
            let back = records(&store, &topic).await;
            for (a, b) in original.iter().zip(&back) {
                assert_eq!(a, b, "{name} (flatten {flatten})");
            }
        }
    }
}

#[tokio::test]
async fn values_only_files_are_kafis_shape_and_read_back_as_values() {
    let dir = tempfile::tempdir().unwrap();
    let store = AnyStorage::Local(LocalStorage::open(dir.path().join("store")).unwrap());
    store.create_topic("t", 1, &[]).await.unwrap();
    let records: Vec<NewRecord> = (0..10)
        .map(|i| {
            NewRecord::new(
                Some(format!("k{i}")),
                Some(format!("{{\"id\":{i},\"a\":{{\"b\":\"x{i}\"}}}}")),
            )
        })
        .collect();
    store.append("t", records).await.unwrap();
    let file = dir.path().join("t.csv");
    let shape = Shape {
        values_only: true,
        ..Shape::default()
    };
    export(
        (&store, "t"),
        &FileLocation::Local(file.clone()),
        &plan(FileFormat::Csv, shape),
        &|_| {},
    )
    .await
    .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("\"a.b\",\"id\"\r\n\"x0\",0\r\n"), "{text}");
    let mut plan = import_plan(FileFormat::Csv);
    plan.shape.key_column = Some("id".into());
    import(&FileLocation::Local(file), (&store, "u"), &plan, &|_| {})
        .await
        .unwrap();
    let mut reader = store
        .reader("u", None, ReadFrom::Beginning, false)
        .await
        .unwrap();
    let got = reader.next_records().await.unwrap().unwrap();
    assert_eq!(got.len(), 10);
    assert_eq!(got[3].key.as_deref(), Some(&b"3"[..]));
    let v: serde_json::Value = serde_json::from_slice(got[3].value.as_deref().unwrap()).unwrap();
    assert_eq!(v, serde_json::json!({"a": {"b": "x3"}}));
}

#[tokio::test]
async fn a_large_topic_streams_and_a_bad_row_names_its_file_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = AnyStorage::Local(LocalStorage::open(dir.path().join("store")).unwrap());
    store.create_topic("big", 2, &[]).await.unwrap();
    for chunk in 0..10 {
        let records: Vec<NewRecord> = (0..20_000)
            .map(|i| {
                NewRecord::new(
                    Some(format!("k{i}")),
                    Some(format!(
                        "{{\"n\":{},\"s\":\"{}\"}}",
                        chunk * 20_000 + i,
                        "x".repeat(50)
                    )),
                )
            })
            .collect();
        store.append("big", records).await.unwrap();
    }
    let file = dir.path().join("big.parquet");
    let seen = std::sync::atomic::AtomicU64::new(0);
    let done = export(
        (&store, "big"),
        &FileLocation::Local(file.clone()),
        &plan(FileFormat::Parquet, Shape::default()),
        &|n| seen.store(n, std::sync::atomic::Ordering::Relaxed),
    )
    .await
    .unwrap();
    assert_eq!(done.records, 200_000);
    assert_eq!(seen.into_inner(), 200_000, "progress heard every record");
    let imported = import(
        &FileLocation::Local(file),
        (&store, "big2"),
        &import_plan(FileFormat::Parquet),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(imported.records, 200_000);
    let marks: BTreeMap<i32, (i64, i64)> = store.watermarks("big2").await.unwrap();
    assert_eq!(marks.values().map(|(l, h)| h - l).sum::<i64>(), 200_000);

    // A row whose partition is no number: the error names the file and the row, and says
    // how many records were written before it.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"value\":\"a\",\"partition\":0}\n{\"value\":\"b\",\"partition\":\"zero\"}\n",
    )
    .unwrap();
    let e = import(
        &FileLocation::Local(bad.clone()),
        (&store, "big2"),
        &import_plan(FileFormat::JsonLines),
        &|_| {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("bad.jsonl row 2")
            && e.contains("column partition")
            && e.contains("0 records before it"),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
    let garbage = dir.path().join("garbage.parquet");
    std::fs::write(&garbage, b"not parquet at all").unwrap();
    let e = import(
        &FileLocation::Local(garbage),
        (&store, "big3"),
        &import_plan(FileFormat::Parquet),
        &|_| {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("garbage.parquet"), "{e}");
}
