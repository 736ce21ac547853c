//! Admin: topics and configs against the broker.

mod common;

use kafkit_client::wire::ApiKey;
use kafkit_client::wire::ErrorCode;
use kafkit_client::{AlterConfigOp, ConfigResource, NewTopic};

#[tokio::test]
async fn create_list_describe_delete() {
    let client = common::client().await;
    let admin = client.admin();
    let name = kafkit_testkit::unique_topic("lifecycle");
    admin
        .create_topic(&NewTopic::new(&name, 4).config("retention.ms", "3600000"))
        .await
        .unwrap();
    assert!(admin.list_topics(false).await.unwrap().contains(&name));
    let described = admin.describe_topics(&[&name]).await.unwrap();
    assert_eq!(described[0].name, name);
    assert_eq!(described[0].partitions.len(), 4);
    assert!(described[0].partitions.iter().all(|p| p.leader.is_some()));

    // Creating it again is distinguishable.
    let err = admin
        .create_topic(&NewTopic::new(&name, 4))
        .await
        .unwrap_err();
    assert!(err.is_topic_already_exists(), "{err}");
    assert!(err.to_string().contains(&name), "{err}");

    admin.delete_topic(&name).await.unwrap();
    assert!(!admin.list_topics(false).await.unwrap().contains(&name));
    let err = admin.describe_topics(&[&name]).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::UnknownTopicOrPartition),
        "{err}"
    );
    assert!(err.to_string().contains(&name), "{err}");

    let err = admin.delete_topic(&name).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::UnknownTopicOrPartition),
        "{err}"
    );
}

#[tokio::test]
async fn create_partitions_grows_a_topic() {
    let client = common::client().await;
    let topic = common::topic(&client, "grow", 1).await;
    let grown = client.admin().create_partitions(&topic, 3).await;
    if !kafkit_testkit::on_kafka() {
        // Tansu 0.6.0 does not route CreatePartitions.
        common::assert_unsupported(&grown.unwrap_err(), ApiKey::CreatePartitions);
        return;
    }
    grown.unwrap();
    let view = client.topic_metadata(&[&topic]).await.unwrap();
    assert_eq!(view.topics[topic.as_str()].partitions.len(), 3);
    // Shrinking is refused, naming the topic.
    let err = client
        .admin()
        .create_partitions(&topic, 2)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidPartitions), "{err}");
    assert!(err.to_string().contains(&topic), "{err}");
}

#[tokio::test]
async fn describe_and_incrementally_alter_topic_configs() {
    let client = common::client().await;
    let admin = client.admin();
    let name = kafkit_testkit::unique_topic("configs");
    admin
        .create_topic(
            &NewTopic::new(&name, 1)
                .config("cleanup.policy", "compact")
                .config("retention.ms", "1000"),
        )
        .await
        .unwrap();
    let resource = ConfigResource::Topic(name.clone());
    // The topic's own overrides. Kafka lists every config with its source (1: a dynamic topic
    // config, 5: the default); Tansu lists only the overrides, each marked 5 (docs/TESTING.md).
    let on_kafka = kafkit_testkit::on_kafka();
    let value = |entries: &[kafkit_client::ConfigEntry], key: &str| {
        entries
            .iter()
            .find(|e| e.name == key && (!on_kafka || e.source == 1))
            .and_then(|e| e.value.clone())
    };
    let configs = admin.describe_configs(&resource).await.unwrap();
    assert_eq!(
        value(&configs, "cleanup.policy").as_deref(),
        Some("compact")
    );

    admin
        .alter_configs(
            &resource,
            &[
                AlterConfigOp::Set("max.message.bytes".into(), "2097152".into()),
                AlterConfigOp::Delete("retention.ms".into()),
            ],
        )
        .await
        .unwrap();
    let configs = admin.describe_configs(&resource).await.unwrap();
    assert_eq!(
        value(&configs, "max.message.bytes").as_deref(),
        Some("2097152")
    );
    // The other override is kept; the deleted one is gone.
    assert_eq!(
        value(&configs, "cleanup.policy").as_deref(),
        Some("compact")
    );
    assert_eq!(value(&configs, "retention.ms"), None);
    if on_kafka {
        // Back to the default, which Kafka lists as such.
        let retention = configs.iter().find(|e| e.name == "retention.ms").unwrap();
        assert_eq!(
            (retention.value.as_deref(), retention.source),
            (Some("604800000"), 5)
        );
        // A broker setting shows as such (4: static broker config): log.segment.bytes.
        let segment = configs.iter().find(|e| e.name == "segment.bytes").unwrap();
        assert_eq!(
            (segment.value.as_deref(), segment.source),
            (Some("8388608"), 4)
        );
    }
}
