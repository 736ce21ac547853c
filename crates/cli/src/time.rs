//! Points in time on the command line: milliseconds since the epoch, or a date-time.

use anyhow::{anyhow, Result};

/// Milliseconds since the epoch from `s`: an integer (already ms), an RFC 3339 time
/// (`2026-11-22T10:00:00Z`, `...+01:00`), or a date or date-time without a zone, taken as UTC
/// (`2026-11-22`, `2026-11-22T10:00`, `2026-11-22 10:00:00`).
pub fn parse_ms(s: &str) -> Result<i64> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        if let Ok(z) = dt.to_zoned(jiff::tz::TimeZone::UTC) {
            return Ok(z.timestamp().as_millisecond());
        }
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        if let Ok(z) = d.to_zoned(jiff::tz::TimeZone::UTC) {
            return Ok(z.timestamp().as_millisecond());
        }
    }
    Err(anyhow!(
        "'{s}' is not a time: give milliseconds since the epoch, an RFC 3339 time \
         (2026-11-22T10:00:00Z) or a UTC date (2026-11-22)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_rfc3339_and_utc_dates() {
        assert_eq!(parse_ms("1700000000123").unwrap(), 1_700_000_000_123);
        assert_eq!(parse_ms("-5").unwrap(), -5);
        assert_eq!(parse_ms("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000_000);
        assert_eq!(
            parse_ms("2023-11-14T23:13:20+01:00").unwrap(),
            1_700_000_000_000
        );
        assert_eq!(parse_ms("2023-11-14T22:13:20").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_ms("2023-11-14").unwrap(), 1_699_920_000_000);
        let err = parse_ms("yesterday").unwrap_err().to_string();
        assert!(err.contains("'yesterday' is not a time"), "{err}");
    }
}
