//! [`TableError`]: lifecycle misuse, or what the client reported.

/// What went wrong with a table or writer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// A read or barrier before `start()`.
    #[error("table '{0}' is not started: call start() first")]
    NotStarted(String),
    /// A call after `stop()`.
    #[error("table '{0}' is stopped")]
    Stopped(String),
    /// The client failed (connection, broker error, ...).
    #[error(transparent)]
    Client(#[from] kafkit_client::Error),
    /// The table's topic is not compacted and the policy check refuses it.
    #[error(
        "topic '{topic}' has cleanup.policy={policy}, not compact: a table would keep every \
         old value until retention (use PolicyCheck::Reconcile to switch it)"
    )]
    Policy {
        /// The topic.
        topic: String,
        /// Its cleanup.policy.
        policy: String,
    },
    /// A value could not be encoded for the writer.
    #[error("cannot encode the value for key '{key}': {message}")]
    Encode {
        /// The key.
        key: String,
        /// What the encoder said.
        message: String,
    },
}
