//! Topics: create, delete, list, describe, add partitions.

use crate::wire::messages::create_partitions_request::CreatePartitionsTopic;
use crate::wire::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use crate::wire::messages::delete_topics_request::DeleteTopicState;
use crate::wire::messages::{
    ApiKey, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, TopicName,
};
use crate::wire::StrBytes;

use super::Admin;
use crate::client::Target;
use crate::cluster::TopicInfo;
use crate::error::{check_code, Error, Result};

/// A topic to create.
///
/// ```
/// let t = kafkit_client::NewTopic::new("events", 6).config("cleanup.policy", "compact");
/// assert_eq!(t.replication_factor, -1);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewTopic {
    /// Topic name.
    pub name: String,
    /// Partition count (-1 for the broker default).
    pub partitions: i32,
    /// Replication factor (-1 for the broker default, the default here).
    pub replication_factor: i16,
    /// Topic configs (`cleanup.policy`, `retention.ms`, ...).
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    /// A topic with `partitions` partitions and the broker's default replication factor.
    pub fn new(name: impl Into<String>, partitions: i32) -> Self {
        NewTopic {
            name: name.into(),
            partitions,
            replication_factor: -1,
            configs: Vec::new(),
        }
    }

    /// Sets the replication factor.
    pub fn replication_factor(mut self, rf: i16) -> Self {
        self.replication_factor = rf;
        self
    }

    /// Adds a topic config.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.push((key.into(), value.into()));
        self
    }
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

impl Admin {
    /// Creates a topic. An existing topic fails with code
    /// [`ErrorCode::TopicAlreadyExists`](crate::wire::ErrorCode::TopicAlreadyExists).
    pub async fn create_topic(&self, topic: &NewTopic) -> Result<()> {
        let request = CreateTopicsRequest::default()
            .with_timeout_ms(self.broker_timeout_ms())
            .with_topics(vec![CreatableTopic::default()
                .with_name(topic_name(&topic.name))
                .with_num_partitions(topic.partitions)
                .with_replication_factor(topic.replication_factor)
                .with_configs(
                    topic
                        .configs
                        .iter()
                        .map(|(k, v)| {
                            CreatableTopicConfig::default()
                                .with_name(StrBytes::from_string(k.clone()))
                                .with_value(Some(StrBytes::from_string(v.clone())))
                        })
                        .collect(),
                )]);
        let response = self
            .client
            .with_retries("create topic", || {
                self.client.send(&Target::Controller, &request)
            })
            .await?;
        let broker = self.client.address_hint(&Target::Controller);
        for r in &response.topics {
            check_code(r.error_code, ApiKey::CreateTopics, &broker).map_err(|b| {
                b.topic(&topic.name)
                    .message(r.error_message.as_ref())
                    .build()
            })?;
        }
        self.await_partitions(&topic.name, topic.partitions).await;
        Ok(())
    }

    /// Waits (at most the request timeout) until the cluster's metadata shows `topic` with a
    /// leader for each of its partitions (`partitions`, or any count when -1), and refreshes
    /// the cached view. A controller answers CreateTopics and CreatePartitions before the
    /// brokers serve the change, so without this a `list_topics` or a raw request right
    /// after could miss it. A topic still not visible then is left to the callers' retries.
    async fn await_partitions(&self, topic: &str, partitions: i32) {
        let deadline = tokio::time::Instant::now() + self.client.config().request_timeout;
        loop {
            if let Ok(view) = self.client.topic_metadata(&[topic]).await {
                let ready = view.topics.get(topic).is_some_and(|t| {
                    t.error.is_none()
                        && !t.partitions.is_empty()
                        && (partitions < 0 || t.partitions.len() as i32 >= partitions)
                        && t.partitions.iter().all(|p| p.leader.is_some())
                });
                if ready {
                    break;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::debug!(topic, partitions, "topic not yet served by its leaders");
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let _ = self.client.refresh_metadata().await;
    }

    /// Deletes a topic.
    pub async fn delete_topic(&self, name: &str) -> Result<()> {
        let conn = self.client.connection(&Target::Controller).await?;
        let version = conn.version_for::<DeleteTopicsRequest>(None)?;
        let mut request = DeleteTopicsRequest::default().with_timeout_ms(self.broker_timeout_ms());
        if version >= 6 {
            request.topics = vec![DeleteTopicState::default().with_name(Some(topic_name(name)))];
        } else {
            request.topic_names = vec![topic_name(name)];
        }
        let response = self
            .client
            .with_retries("delete topic", || {
                self.client
                    .send_version(&Target::Controller, &request, version)
            })
            .await?;
        for r in &response.responses {
            check_code(r.error_code, ApiKey::DeleteTopics, conn.broker())
                .map_err(|b| b.topic(name).message(r.error_message.as_ref()).build())?;
        }
        self.await_gone(name).await;
        Ok(())
    }

    /// Waits (at most the request timeout) until the cluster's metadata no longer lists
    /// `topic`, then refreshes the cached view (see [`await_partitions`](Self::await_partitions)).
    async fn await_gone(&self, topic: &str) {
        let deadline = tokio::time::Instant::now() + self.client.config().request_timeout;
        loop {
            if let Ok(view) = self.client.topic_metadata(&[topic]).await {
                if view.topics.get(topic).is_none_or(|t| t.error.is_some()) {
                    break;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::debug!(topic, "deleted topic still listed by the brokers");
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let _ = self.client.refresh_metadata().await;
    }

    /// Names of all topics, internal ones excluded unless `internal` is true, sorted.
    pub async fn list_topics(&self, internal: bool) -> Result<Vec<String>> {
        let view = self.client.refresh_metadata().await?;
        Ok(view
            .topics
            .values()
            .filter(|t| t.error.is_none() && (internal || !t.is_internal))
            .map(|t| t.name.clone())
            .collect())
    }

    /// Describes the given topics (partitions, leaders, replicas, ISR). A missing topic fails
    /// with code `UnknownTopicOrPartition` naming it.
    pub async fn describe_topics(&self, names: &[&str]) -> Result<Vec<TopicInfo>> {
        let view = self.client.topic_metadata(names).await?;
        let broker = self.client.address_hint(&Target::LeastLoaded);
        names
            .iter()
            .map(|name| match view.topics.get(*name) {
                Some(t) => match t.error {
                    None => Ok(t.clone()),
                    Some(code) => Err(Error::broker(code, ApiKey::Metadata, &broker)
                        .topic(*name)
                        .build()),
                },
                None => Err(Error::Unknown {
                    what: "topic",
                    name: name.to_string(),
                }),
            })
            .collect()
    }

    /// Grows a topic to `total` partitions.
    pub async fn create_partitions(&self, topic: &str, total: i32) -> Result<()> {
        let request = CreatePartitionsRequest::default()
            .with_timeout_ms(self.broker_timeout_ms())
            .with_topics(vec![CreatePartitionsTopic::default()
                .with_name(topic_name(topic))
                .with_count(total)
                .with_assignments(None)]);
        let response = self
            .client
            .with_retries("create partitions", || {
                self.client.send(&Target::Controller, &request)
            })
            .await?;
        let broker = self.client.address_hint(&Target::Controller);
        for r in &response.results {
            check_code(r.error_code, ApiKey::CreatePartitions, &broker)
                .map_err(|b| b.topic(topic).message(r.error_message.as_ref()).build())?;
        }
        self.await_partitions(topic, total).await;
        Ok(())
    }
}

impl Error {
    /// True for "topic already exists" (so create-if-missing can ignore it).
    pub fn is_topic_already_exists(&self) -> bool {
        self.code() == Some(crate::wire::ErrorCode::TopicAlreadyExists)
    }
}
