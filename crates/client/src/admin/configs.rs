//! Configs of topics and brokers: describe, and incremental alter (set / delete).

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{ApiKey, DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use kafka_protocol::protocol::StrBytes;

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
        Ok(())
    }
}
