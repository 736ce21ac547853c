//! Registry errors: Confluent's error codes, each with its HTTP status.

/// What a registry call could not do, as Confluent's Schema Registry says it: an HTTP status,
/// an error code and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (error code {code})")]
pub struct RegistryError {
    /// Confluent's error code, e.g. 40401 (subject not found).
    pub code: u32,
    /// What happened, naming the subject, version or id.
    pub message: String,
}

impl RegistryError {
    fn new(code: u32, message: String) -> RegistryError {
        RegistryError { code, message }
    }

    /// The HTTP status of this error: the first three digits of its code.
    pub fn status(&self) -> u16 {
        let mut code = self.code;
        while code >= 1000 {
            code /= 10;
        }
        code as u16
    }

    pub(crate) fn subject_not_found(subject: &str) -> RegistryError {
        Self::new(40401, format!("Subject '{subject}' not found."))
    }
    pub(crate) fn version_not_found(subject: &str, version: i32) -> RegistryError {
        Self::new(
            40402,
            format!("Version {version} not found under subject '{subject}'."),
        )
    }
    pub(crate) fn schema_not_found(what: String) -> RegistryError {
        Self::new(40403, format!("Schema not found: {what}."))
    }
    pub(crate) fn subject_soft_deleted(subject: &str) -> RegistryError {
        Self::new(
            40404,
            format!(
                "Subject '{subject}' was soft deleted. Set permanent=true to delete permanently"
            ),
        )
    }
    pub(crate) fn subject_not_soft_deleted(subject: &str) -> RegistryError {
        Self::new(
            40405,
            format!("Subject '{subject}' was not deleted first before being permanently deleted"),
        )
    }
    pub(crate) fn version_soft_deleted(subject: &str, version: i32) -> RegistryError {
        Self::new(
            40406,
            format!("Subject '{subject}' Version {version} was soft deleted. Set permanent=true to delete permanently"),
        )
    }
    pub(crate) fn version_not_soft_deleted(subject: &str, version: i32) -> RegistryError {
        Self::new(
            40407,
            format!("Subject '{subject}' Version {version} was not deleted first before being permanently deleted"),
        )
    }
    pub(crate) fn incompatible(message: String) -> RegistryError {
        Self::new(409, message)
    }
    pub(crate) fn invalid_schema(message: String) -> RegistryError {
        Self::new(42201, message)
    }
    pub(crate) fn invalid_version(version: &str) -> RegistryError {
        Self::new(
            42202,
            format!("The specified version '{version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""),
        )
    }
    pub(crate) fn invalid_compatibility(level: &str) -> RegistryError {
        Self::new(
            42203,
            format!("Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive: {level}"),
        )
    }
    pub(crate) fn reference_exists(subject: &str, version: i32) -> RegistryError {
        Self::new(
            42206,
            format!("One or more references exist to the schema {{subject={subject},version={version}}}."),
        )
    }
    pub(crate) fn store(message: String) -> RegistryError {
        Self::new(50001, format!("Error while storing the change: {message}"))
    }
}
