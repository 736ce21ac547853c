//! Configs of topics and brokers: describe, and incremental alter (set / delete).

use crate::wire::messages::describe_configs_request::DescribeConfigsResource;
use crate::wire::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use crate::wire::messages::{ApiKey, DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use crate::wire::StrBytes;

use super::Admin;
use crate::client::Target;
use crate::error::{check_code, Result};

/// What a config belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigResource {
    /// A topic.
    Topic(String),
    /// A broker by node id.
    Broker(i32),
}

impl ConfigResource {
    fn wire(&self) -> (i8, String) {
        match self {
            ConfigResource::Topic(t) => (2, t.clone()),
            ConfigResource::Broker(id) => (4, id.to_string()),
        }
    }

    fn target(&self) -> Target {
        match self {
            ConfigResource::Broker(id) => Target::Broker(*id),
            ConfigResource::Topic(_) => Target::LeastLoaded,
        }
    }

    /// Kafka's ConfigSource code of an override set on this very resource
    /// (DYNAMIC_TOPIC_CONFIG, DYNAMIC_BROKER_CONFIG).
    fn override_source(&self) -> i8 {
        match self {
            ConfigResource::Topic(_) => 1,
            ConfigResource::Broker(_) => 2,
        }
    }

    fn topic(&self) -> Option<&str> {
        match self {
            ConfigResource::Topic(t) => Some(t),
            ConfigResource::Broker(_) => None,
        }
    }
}

/// One config value as the broker describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// Config name.
    pub name: String,
    /// Value (`None` for sensitive or unset values).
    pub value: Option<String>,
    /// Cannot be changed.
    pub read_only: bool,
    /// Where the value comes from (Kafka's ConfigSource code; 5 = default).
    pub source: i8,
    /// Sensitive (password etc.): the value is withheld.
    pub is_sensitive: bool,
}

/// One change in an incremental alter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlterConfigOp {
    /// Set `name` to `value`.
    Set(String, String),
    /// Remove the override of `name` (back to the default).
    Delete(String),
}

impl Admin {
    /// Describes all configs of `resource`.
    pub async fn describe_configs(&self, resource: &ConfigResource) -> Result<Vec<ConfigEntry>> {
        let (resource_type, name) = resource.wire();
        let request = DescribeConfigsRequest::default().with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(resource_type)
                .with_resource_name(StrBytes::from_string(name)),
        ]);
        let target = resource.target();
        let response = self
            .client
            .with_retries("describe configs", || self.client.send(&target, &request))
            .await?;
        let broker = self.client.address_hint(&target);
        let mut out = Vec::new();
        for r in response.results {
            check_code(r.error_code, ApiKey::DescribeConfigs, &broker).map_err(|b| {
                b.message(r.error_message.as_ref())
                    .maybe_topic(resource.topic())
                    .build()
            })?;
            out.extend(r.configs.into_iter().map(|c| ConfigEntry {
                name: c.name.to_string(),
                value: c.value.map(|v| v.to_string()),
                read_only: c.read_only,
                source: c.config_source,
                is_sensitive: c.is_sensitive,
            }));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Applies `ops` to `resource` with IncrementalAlterConfigs, keeping other overrides.
    pub async fn alter_configs(
        &self,
        resource: &ConfigResource,
        ops: &[AlterConfigOp],
    ) -> Result<()> {
        let (resource_type, name) = resource.wire();
        let configs = ops
            .iter()
            .map(|op| match op {
                AlterConfigOp::Set(k, v) => AlterableConfig::default()
                    .with_name(StrBytes::from_string(k.clone()))
                    .with_config_operation(0)
                    .with_value(Some(StrBytes::from_string(v.clone()))),
                AlterConfigOp::Delete(k) => AlterableConfig::default()
                    .with_name(StrBytes::from_string(k.clone()))
                    .with_config_operation(1),
            })
            .collect();
        let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(resource_type)
                .with_resource_name(StrBytes::from_string(name))
                .with_configs(configs),
        ]);
        let target = resource.target();
        let response = self
            .client
            .with_retries("alter configs", || self.client.send(&target, &request))
            .await?;
        let broker = self.client.address_hint(&target);
        for r in response.responses {
            check_code(r.error_code, ApiKey::IncrementalAlterConfigs, &broker).map_err(|b| {
                b.message(r.error_message.as_ref())
                    .maybe_topic(resource.topic())
                    .build()
            })?;
        }
        self.await_configs(resource, ops).await;
        Ok(())
    }

    /// Waits (at most the request timeout) until `describe_configs` shows every op of an
    /// alter that succeeded. A KRaft controller commits the change before the brokers
    /// apply it, so without this a describe (or a cleaner, or a table's policy check)
    /// right after could still see the old value. Still unseen then, it is left be.
    async fn await_configs(&self, resource: &ConfigResource, ops: &[AlterConfigOp]) {
        let own_override = resource.override_source();
        let deadline = tokio::time::Instant::now() + self.client.config().request_timeout;
        loop {
            if let Ok(entries) = self.describe_configs(resource).await {
                let shown = ops.iter().all(|op| match op {
                    AlterConfigOp::Set(k, v) => entries
                        .iter()
                        .any(|e| &e.name == k && (e.is_sensitive || e.value.as_ref() == Some(v))),
                    AlterConfigOp::Delete(k) => !entries
                        .iter()
                        .any(|e| &e.name == k && e.source == own_override),
                });
                if shown {
                    return;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::debug!(?resource, "config change not yet shown by describe");
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
