//! Operations over any [`Storage`](crate::Storage), shared by the CLI and by programs:
//!
//! - [`json`]: records as JSON objects and JSON Lines (keys and values as text, base64 or
//!   JSON), and back.
//! - [`jq`]: jq pipelines (filter, map, flatmap) over records as JSON.

pub mod jq;
pub mod json;
