//! Cluster administration: topics, configs, offsets, consumer groups and ACLs.
//!
//! Get an [`Admin`] from [`Client::admin`](crate::Client::admin). Every call routes to the
//! right broker (controller, partition leader or group coordinator), retries retriable
//! failures a bounded number of times, and returns errors that name the topic, partition or
//! group concerned. An API the broker lacks fails with [`Error::UnsupportedVersion`]
//! before anything is sent.
//!
//! [`Error::UnsupportedVersion`]: crate::Error::UnsupportedVersion

mod acls;
mod configs;
mod groups;
mod offsets;
mod topics;

pub use acls::{AclBinding, AclFilter, AclOperation, AclPermission, PatternType, ResourceType};
pub use configs::{AlterConfigOp, ConfigEntry, ConfigResource};
pub use groups::{CommittedOffset, GroupDescription, GroupListing, GroupMember, PartitionLag};
pub use offsets::{OffsetSpec, TopicPartitionOffset};
pub use topics::NewTopic;

use crate::client::Client;

/// Administrative operations on a cluster. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Admin {
    client: Client,
}

impl Client {
    /// The admin interface of this client.
    pub fn admin(&self) -> Admin {
        Admin {
            client: self.clone(),
        }
    }
}

impl Admin {
    /// The client underneath.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Timeout sent to the broker for operations it may wait on, in milliseconds.
    fn broker_timeout_ms(&self) -> i32 {
        i32::try_from(self.client.config().request_timeout.as_millis()).unwrap_or(i32::MAX)
    }
}
