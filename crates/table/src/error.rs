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

impl TableError {
    /// True when the same call may succeed if tried again (a retriable client error:
    /// a connection dropped, a leader moving, a timeout); false for misuse, a refused
    /// policy or a value that cannot be encoded.
    pub fn is_retriable(&self) -> bool {
        match self {
            TableError::Client(e) => e.is_retriable(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_retriable_client_errors_are_retriable() {
        let timeout = kafkit_client::Error::NoLeader {
            topic: "t".into(),
            partition: 0,
        };
        assert!(TableError::Client(timeout).is_retriable());
        assert!(!TableError::Client(kafkit_client::Error::Config("x".into())).is_retriable());
        assert!(!TableError::NotStarted("t".into()).is_retriable());
    }
}
