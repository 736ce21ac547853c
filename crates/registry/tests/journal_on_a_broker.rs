//! The registry kept in a `_schemas` topic on the test broker (Tansu or Kafka): changes
//! survive a reopen, the topic is compacted, and its records are Confluent's.

use std::sync::Arc;

use kafkit_client::{ClientConfig, ConsumerConfig, ProducerConfig};
use kafkit_registry::{Compatibility, RegistryService, Schema, VersionSpec};
use kafkit_store::{AnyStorage, KafkaStorage, ReadFrom, RecordReader, Storage};

async fn storage() -> AnyStorage {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_in_a_topic_survives_a_reopen() {
    let topic = kafkit_testkit::unique_topic("_schemas");
    let registry = Arc::new(
        RegistryService::open(storage().await, &topic)
            .await
            .unwrap(),
    );
    let v1 = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
    let v2 = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":""}]}"#;
    let id1 = registry
        .write(|r| r.plan_register("t-value", Schema::avro(v1)))
        .await
        .unwrap();
    let id2 = registry
        .write(|r| r.plan_register("t-value", Schema::avro(v2)))
        .await
        .unwrap();
    registry
        .write(|r| Ok(r.plan_set_level(Some("t-value"), Compatibility::Full)))
        .await
        .unwrap();
    registry
        .write(|r| r.plan_delete_version("t-value", VersionSpec::Number(1), false))
        .await
        .unwrap();
    drop(registry);

    let storage = storage().await;
    // With every config: Tansu lists its overrides as defaults (docs/TESTING.md).
    let configs = storage.topic_configs(&topic, true).await.unwrap();
    assert_eq!(
        configs.get("cleanup.policy").map(String::as_str),
        Some("compact")
    );
    let mut reader = storage
        .reader(&topic, None, ReadFrom::Beginning, false)
        .await
        .unwrap();
    let first = reader.next_records().await.unwrap().unwrap();
    assert_eq!(
        first[0].key.as_deref(),
        Some(&br#"{"keytype":"SCHEMA","subject":"t-value","version":1,"magic":1}"#[..])
    );

    let reopened = RegistryService::open(storage, &topic).await.unwrap();
    let r = reopened.read().await;
    assert_eq!(r.versions("t-value", false).unwrap(), [2]);
    assert_eq!(r.versions("t-value", true).unwrap(), [1, 2]);
    assert_eq!(
        r.version("t-value", VersionSpec::Latest, false).unwrap().id,
        id2
    );
    assert_eq!(r.schema(id1).unwrap().text, v1);
    assert_eq!(r.level(Some("t-value")), Compatibility::Full);
}
