//! Parsing Java-client / librdkafka style property values, with errors naming the key.

use std::time::Duration;

use crate::error::Error;

/// A non-negative whole number.
pub(crate) fn whole(key: &str, value: &str) -> Result<u64, Error> {
    value
        .trim()
        .parse::<u64>()
        .map_err(|_| Error::Config(format!("{key}: '{value}' is not a whole number")))
}

/// A duration in milliseconds.
pub(crate) fn millis(key: &str, value: &str) -> Result<Duration, Error> {
    whole(key, value)
        .map(Duration::from_millis)
        .map_err(|_| Error::Config(format!("{key}: '{value}' is not a number of milliseconds")))
}

/// A count of at least 1.
pub(crate) fn count(key: &str, value: &str) -> Result<usize, Error> {
    Ok((whole(key, value)?.min(usize::MAX as u64) as usize).max(1))
}

/// A byte size that fits a protocol i32, at least `min`.
pub(crate) fn size_i32(key: &str, value: &str, min: i32) -> Result<i32, Error> {
    Ok((whole(key, value)?.min(i32::MAX as u64) as i32).max(min))
}

/// `true` or `false` (any case).
pub(crate) fn boolean(key: &str, value: &str) -> Result<bool, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(Error::Config(format!(
            "{key}: '{other}' is not true or false"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_and_errors_name_the_key() {
        assert_eq!(
            millis("linger.ms", " 5 ").unwrap(),
            Duration::from_millis(5)
        );
        assert_eq!(count("max.poll.records", "0").unwrap(), 1);
        assert_eq!(
            size_i32("fetch.max.bytes", "99999999999", 1).unwrap(),
            i32::MAX
        );
        assert!(boolean("check.crcs", "TRUE").unwrap());
        let e = millis("linger.ms", "soon").unwrap_err().to_string();
        assert!(e.contains("linger.ms") && e.contains("soon"), "{e}");
        let e = boolean("enable.idempotence", "yes")
            .unwrap_err()
            .to_string();
        assert!(e.contains("enable.idempotence"), "{e}");
    }
}
