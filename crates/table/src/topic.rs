//! [`ensure_topic`]: create a table's topic compacted, or check an existing one's policy.

use kafkit_client::{AlterConfigOp, Client, ConfigResource, NewTopic};

use crate::error::TableError;

/// What to do when the topic exists without `cleanup.policy=compact`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyCheck {
    /// Accept it silently.
    Ignore,
    /// Accept it and log a warning (old records of a key are then kept until retention).
    Warn,
    /// Refuse it with [`TableError::Policy`].
    Error,
    /// Set `cleanup.policy=compact` (incrementally: other overrides are kept).
    Reconcile,
}

/// What [`ensure_topic`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ensured {
    /// The topic was created, compacted.
    Created,
    /// It existed and is compacted.
    AlreadyCompacted,
    /// It existed without compaction; accepted by the check (`Ignore` or `Warn`).
    Accepted,
    /// It existed without compaction and was switched to it.
    Reconciled,
}

/// Creates `topic` with `partitions` partitions and `cleanup.policy=compact`; when it already
/// exists, checks its policy as `check` says. Safe to call from many processes at once.
pub async fn ensure_topic(
    client: &Client,
    topic: &str,
    partitions: i32,
    check: PolicyCheck,
) -> Result<Ensured, TableError> {
    let admin = client.admin();
    match admin
        .create_topic(&NewTopic::new(topic, partitions).config("cleanup.policy", "compact"))
        .await
    {
        Ok(()) => return Ok(Ensured::Created),
        Err(e) if e.is_topic_already_exists() => {}
        Err(e) => return Err(e.into()),
    }
    let resource = ConfigResource::Topic(topic.to_string());
    let policy = admin
        .describe_configs(&resource)
        .await?
        .into_iter()
        .find(|e| e.name == "cleanup.policy")
        .and_then(|e| e.value)
        .unwrap_or_else(|| "delete".to_string());
    if policy.split(',').any(|p| p.trim() == "compact") {
        return Ok(Ensured::AlreadyCompacted);
    }
    match check {
        PolicyCheck::Ignore => Ok(Ensured::Accepted),
        PolicyCheck::Warn => {
            tracing::warn!(topic, %policy, "table topic is not compacted");
            Ok(Ensured::Accepted)
        }
        PolicyCheck::Error => Err(TableError::Policy {
            topic: topic.to_string(),
            policy,
        }),
        PolicyCheck::Reconcile => {
            admin
                .alter_configs(
                    &resource,
                    &[AlterConfigOp::Set(
                        "cleanup.policy".into(),
                        "compact".into(),
                    )],
                )
                .await?;
            tracing::info!(topic, was = %policy, "table topic switched to cleanup.policy=compact");
            Ok(Ensured::Reconciled)
        }
    }
}
