//! kafi's functional methods and add-ons on real storages: local files, and the test broker
//! (Tansu or Kafka) — foldl / map / flatmap / filter / foreach with the CLI's reading
//! options, the `_to` variants across storages with kafi's (consumed, produced) counts,
//! zip_foldl over two topics, a group source committing what it handed on, compact /
//! compact_to and recreate.

use std::collections::BTreeMap;

use kafkit_client::{ClientConfig, ConsumerConfig, OffsetReset, ProducerConfig};
use kafkit_store::ops::addons::{compact, compact_to, recreate};
use kafkit_store::ops::functional::{Source, Target};
use kafkit_store::ops::json::DataType;
use kafkit_store::ops::read::{parse_offsets, ReadSpec};
use kafkit_store::ops::schemas::RecordFormat;
use kafkit_store::{AnyStorage, GroupRead, KafkaStorage, LocalStorage, NewRecord, Storage};
use serde_json::json;

async fn broker() -> AnyStorage {
    let client = ClientConfig::new([kafkit_testkit::shared_broker()]);
    AnyStorage::Kafka(Box::new(
        KafkaStorage::connect(
            ProducerConfig::new(client.clone()),
            ConsumerConfig::new(client),
        )
        .await
        .unwrap(),
    ))
}

fn json_format() -> RecordFormat {
    RecordFormat::new(DataType::Str, DataType::Json)
}

fn json_values() -> ReadSpec {
    ReadSpec {
        format: RecordFormat::new(DataType::Str, DataType::Json),
        ..Default::default()
    }
}

/// `n` orders over `partitions` partitions: key `c<i % 7>`, value `{"id": i, "total": i * 10}`.
async fn orders<S: Storage>(store: &S, topic: &str, partitions: i32, n: i64) {
    store.create_topic(topic, partitions, &[]).await.unwrap();
    let records = (0..n)
        .map(|i| {
            let mut r = NewRecord::new(
                Some(format!("c{}", i % 7)),
                Some(json!({"id": i, "total": i * 10}).to_string()),
            );
            r.partition = Some((i % i64::from(partitions)) as i32);
            r.timestamp = Some(1_700_000_000_000 + i);
            r
        })
        .collect::<Vec<_>>();
    // Several appends: batches start every ten offsets of a partition (Tansu fetches nothing
    // from an offset inside a batch, docs/TESTING.md).
    for chunk in records.chunks(10 * partitions as usize) {
        store.append(topic, chunk.to_vec()).await.unwrap();
    }
}

async fn the_methods_on<S: Storage>(store: &S, local: &LocalStorage) {
    let topic = kafkit_testkit::unique_topic("orders");
    orders(store, &topic, 3, 300).await;
    let source = Source::new(store, &topic).read(json_values());

    let (sum, consumed) = source
        .foldl(0i64, |acc, r| acc + r["value"]["total"].as_i64().unwrap())
        .await
        .unwrap();
    assert_eq!((sum, consumed), ((0..300).map(|i| i * 10).sum(), 300));

    let (ids, consumed) = source
        .map(|r| r["value"]["id"].as_i64().unwrap())
        .await
        .unwrap();
    assert_eq!(consumed, 300);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, (0..300).collect::<Vec<_>>(), "every record once");

    let (pairs, _) = source
        .flatmap(|r| vec![r["key"].clone(), r["key"].clone()])
        .await
        .unwrap();
    assert_eq!(pairs.len(), 600);

    let (big, consumed) = source
        .filter(|r| r["value"]["total"].as_i64() >= Some(2900))
        .await
        .unwrap();
    assert_eq!((big.len(), consumed), (10, 300));
    assert!(big.iter().all(|r| r["topic"] == json!(topic)));

    let mut seen = 0;
    assert_eq!(source.foreach(|_| seen += 1).await.unwrap(), 300);
    assert_eq!(seen, 300);

    // The reading options: n, partitions, offsets, an end time.
    let (_, consumed) = Source::new(store, &topic)
        .n(42)
        .foldl((), |(), _| ())
        .await
        .unwrap();
    assert_eq!(consumed, 42);
    let spec = ReadSpec {
        partitions: Some(vec![1]),
        start: Some(parse_offsets("1=90").unwrap()),
        ..json_values()
    };
    let (offsets, _) = Source::new(store, &topic)
        .read(spec)
        .map(|r| {
            (
                r["partition"].as_i64().unwrap(),
                r["offset"].as_i64().unwrap(),
            )
        })
        .await
        .unwrap();
    assert_eq!(offsets, (90..100).map(|o| (1, o)).collect::<Vec<_>>());
    let spec = ReadSpec {
        to: Some(1_700_000_000_000 + 30),
        ..json_values()
    };
    let (_, consumed) = Source::new(store, &topic)
        .read(spec)
        .foldl((), |(), _| ())
        .await
        .unwrap();
    assert_eq!(consumed, 30, "records before the end time only");

    // _to: into the same storage, and into local files; counts as kafi gives them.
    let doubled = format!("{topic}-doubled");
    let target =
        Target::new(store, &doubled).format(RecordFormat::new(DataType::Str, DataType::Json));
    let (consumed, produced) = source
        .map_to(&target, |mut r| {
            r["value"]["total"] = json!(r["value"]["total"].as_i64().unwrap() * 2);
            r
        })
        .await
        .unwrap();
    assert_eq!((consumed, produced), (300, 300));
    assert_eq!(
        store.partitions(&doubled).await.unwrap(),
        3,
        "the source's partitions"
    );
    let (sum, _) = Source::new(store, &doubled)
        .read(json_values())
        .foldl(0i64, |acc, r| {
            assert_eq!(
                r["partition"].as_i64().unwrap(),
                r["value"]["id"].as_i64().unwrap() % 3
            );
            acc + r["value"]["total"].as_i64().unwrap()
        })
        .await
        .unwrap();
    assert_eq!(sum, (0..300).map(|i| i * 20).sum::<i64>());

    let copy =
        Target::new(local, "big-orders").format(RecordFormat::new(DataType::Str, DataType::Json));
    let (consumed, produced) = source
        .filter_to(&copy, |r| r["value"]["total"].as_i64() >= Some(2500))
        .await
        .unwrap();
    assert_eq!((consumed, produced), (300, 50));
    let (consumed, produced) = Source::new(local, "big-orders")
        .flatmap_to(&Target::new(local, "split").format(json_format()), |r| {
            vec![r.clone(), r]
        })
        .await
        .unwrap();
    assert_eq!((consumed, produced), (50, 100));
    let (count, consumed, produced) = source
        .foldl_to(
            &Target::new(local, "every-tenth").format(json_format()),
            0u64,
            |n, r| {
                let out = if n % 10 == 0 { vec![r] } else { Vec::new() };
                (n + 1, out)
            },
        )
        .await
        .unwrap();
    assert_eq!((count, consumed, produced), (300, 300, 30));

    // A record a closure gives that cannot be written names the record it came from.
    let e = source
        .map_to(&Target::new(local, "broken"), |_| json!("not a record"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("topic '{topic}'")) && e.contains("offset"),
        "{e}"
    );

    // zip_foldl: two topics side by side (one partition each, so the pairs are in order).
    let left = format!("{topic}-left");
    let right = format!("{topic}-right");
    orders(store, &left, 1, 20).await;
    orders(local, &right, 1, 15).await;
    let (matches, l, r) = Source::new(store, &left)
        .read(json_values())
        .zip_foldl(
            &Source::new(local, &right).read(json_values()),
            0,
            |acc, a, b| acc + usize::from(a["value"] == b["value"]),
        )
        .await
        .unwrap();
    assert_eq!(
        (matches, l, r),
        (15, 15, 15),
        "paired until the shorter ends"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_functional_methods_work_on_local_storage() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStorage::open(dir.path().join("a")).unwrap();
    let other = LocalStorage::open(dir.path().join("b")).unwrap();
    the_methods_on(&store, &other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_functional_methods_work_on_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalStorage::open(dir.path()).unwrap();
    the_methods_on(&broker().await, &local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_source_commits_what_it_handed_on() {
    let store = broker().await;
    let topic = kafkit_testkit::unique_topic("grouped");
    orders(&store, &topic, 2, 100).await;
    let group = GroupRead {
        group: format!("{topic}-g"),
        reset: OffsetReset::Earliest,
    };
    let spec = ReadSpec {
        group: Some(group.clone()),
        ..json_values()
    };
    let (_, consumed) = Source::new(&store, &topic)
        .read(spec.clone())
        .n(30)
        .foldl((), |(), _| ())
        .await
        .unwrap();
    assert_eq!(consumed, 30);
    let committed: i64 = store.group_offsets(&group.group).await.unwrap()[&topic]
        .values()
        .sum();
    assert_eq!(committed, 30, "exactly what was handed on is committed");
    // The next run goes on from there: the other 70, none twice.
    let (ids, consumed) = Source::new(&store, &topic)
        .read(spec)
        .map(|r| r["value"]["id"].as_i64().unwrap())
        .await
        .unwrap();
    assert_eq!(consumed, 70);
    let committed: BTreeMap<i32, i64> =
        store.group_offsets(&group.group).await.unwrap()[&topic].clone();
    assert_eq!(committed.values().sum::<i64>(), 100);
    assert_eq!(ids.len(), 70);
}

/// `reports_overrides`: the storage says which configs are a topic's own (not Tansu).
async fn the_addons_on<S: Storage>(store: &S, reports_overrides: bool) {
    let topic = kafkit_testkit::unique_topic("prices");
    store
        .create_topic(&topic, 2, &[("retention.ms".into(), "3600000".into())])
        .await
        .unwrap();
    let mut records = Vec::new();
    for round in 0..3 {
        for k in 0..10 {
            records.push(NewRecord::new(
                Some(format!("k{k}")),
                Some(format!("{k}-{round}")),
            ));
        }
    }
    records.push(NewRecord::new(Some("k3"), None::<&str>));
    records.push(NewRecord::new(None::<&str>, Some("no key")));
    store.append(&topic, records).await.unwrap();
    let latest = compact(&Source::new(store, &topic)).await.unwrap();
    let got: BTreeMap<String, String> = latest
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = (0..10)
        .filter(|k| *k != 3)
        .map(|k| (format!("k{k}"), format!("{k}-2")))
        .collect();
    assert_eq!(
        got, expected,
        "the latest value per key, the tombstoned key gone"
    );

    let compacted = format!("{topic}-compacted");
    let (read, written) = compact_to(&Source::new(store, &topic), &Target::new(store, &compacted))
        .await
        .unwrap();
    assert_eq!((read, written), (32, 9));
    let again = compact(&Source::new(store, &compacted)).await.unwrap();
    assert_eq!(again.len(), 9);

    recreate(
        store,
        &topic,
        None,
        &[("max.message.bytes".into(), "2000000".into())],
    )
    .await
    .unwrap();
    assert_eq!(store.partitions(&topic).await.unwrap(), 2);
    let configs = store.topic_configs(&topic, false).await.unwrap();
    if !reports_overrides {
        // Tansu reports no overrides (docs/TESTING.md): there are none to keep.
        assert_eq!(configs.get("retention.ms"), None);
    } else {
        assert_eq!(
            configs.get("retention.ms").map(String::as_str),
            Some("3600000"),
            "kept"
        );
        assert_eq!(
            configs.get("max.message.bytes").map(String::as_str),
            Some("2000000"),
            "added"
        );
    }
    let (_, left) = Source::new(store, &topic)
        .foldl((), |(), _| ())
        .await
        .unwrap();
    assert_eq!(left, 0, "emptied");
    let fresh = format!("{topic}-fresh");
    recreate(store, &fresh, Some(4), &[]).await.unwrap();
    assert_eq!(store.partitions(&fresh).await.unwrap(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_and_recreate_work_on_local_storage() {
    let dir = tempfile::tempdir().unwrap();
    the_addons_on(&LocalStorage::open(dir.path()).unwrap(), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_and_recreate_work_on_the_broker() {
    the_addons_on(&broker().await, kafkit_testkit::on_kafka()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_values_come_out_whole_and_a_cut_message_is_left_out() {
    use kafkit_store::ops::chunks::split;
    use kafkit_store::RecordReader;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStorage::open(dir.path()).unwrap();
    store.create_topic("big", 1, &[]).await.unwrap();
    let value: String = (0..10_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let chunks = split(NewRecord::new(Some("k"), Some(value.clone())), 3000, None);
    assert_eq!(chunks.len(), 4);
    // A message cut short (its writer died after two of four chunks), a plain record, then
    // a whole message.
    let cut = split(NewRecord::new(Some("cut"), Some(value.clone())), 3000, None);
    let mut records: Vec<NewRecord> = cut.into_iter().take(2).collect();
    records.push(NewRecord::new(Some("plain"), Some("p")));
    records.extend(chunks);
    store.append("big", records).await.unwrap();

    let (seen, consumed) = Source::new(&store, "big")
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["offset"].as_i64().unwrap(),
                r["value"].as_str().unwrap().len(),
            )
        })
        .await
        .unwrap();
    assert_eq!(
        seen,
        vec![("plain".to_string(), 2, 1), ("k".to_string(), 6, 10_000)],
        "the whole message at its last chunk's offset; the cut one left out"
    );
    assert_eq!(consumed, 2);

    // A topic holding only a cut message: nothing comes out, and the reader says so.
    store.create_topic("cut", 1, &[]).await.unwrap();
    let cut = split(NewRecord::new(Some("cut"), Some(value)), 3000, None);
    store
        .append("cut", cut.into_iter().take(3).collect())
        .await
        .unwrap();
    let mut reader = ReadSpec::default().open(&store, "cut").await.unwrap();
    assert!(reader.next_records().await.unwrap().is_none());
    assert_eq!(reader.incomplete(), 1);
}
