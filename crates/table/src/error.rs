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
    /// A value could not be encoded for the writer.
    #[error("cannot encode the value for key '{key}': {message}")]
    Encode {
        /// The key.
        key: String,
        /// What the encoder said.
        message: String,
    },
}
