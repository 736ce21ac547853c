//! What the table tests share: the value type, the client settings, fresh topics.

use std::time::Duration;

use kafkit_client::{Client, ClientConfig, NewTopic};
use serde::{Deserialize, Serialize};

/// A registry entry, as a table value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub url: String,
    pub revision: u32,
}

/// `key`'s entry at `revision`.
pub fn service(key: &str, revision: u32) -> Service {
    Service {
        url: format!("http://{key}:8080"),
        revision,
    }
}

/// The shared broker, with bounded connect and request times.
pub fn client_config() -> ClientConfig {
    ClientConfig::new([kafkit_testkit::shared_broker()])
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(10))
}

/// Creates `name` with `partitions` partitions.
pub async fn create_topic(name: &str, partitions: i32) {
    let client = Client::connect(client_config()).await.unwrap();
    client
        .admin()
        .create_topic(&NewTopic::new(name, partitions))
        .await
        .unwrap();
}

/// A fresh topic named after `prefix`.
#[allow(dead_code)]
pub async fn topic(prefix: &str, partitions: i32) -> String {
    let name = kafkit_testkit::unique_topic(prefix);
    create_topic(&name, partitions).await;
    name
}
