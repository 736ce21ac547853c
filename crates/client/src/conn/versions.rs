//! The API versions a broker advertises, and choosing the version of each request.

use std::collections::HashMap;

use crate::wire::messages::ApiKey;
use crate::wire::VersionRange;

/// What one broker supports: API key → version range.
#[derive(Debug, Clone, Default)]
pub struct ApiVersionTable {
    ranges: HashMap<i16, VersionRange>,
}

impl ApiVersionTable {
    pub(crate) fn from_response(resp: &crate::wire::messages::ApiVersionsResponse) -> Self {
        let ranges = resp
            .api_keys
            .iter()
            .map(|k| {
                (
                    k.api_key,
                    VersionRange {
                        min: k.min_version,
                        max: k.max_version,
                    },
                )
            })
            .collect();
        ApiVersionTable { ranges }
    }

    /// The broker's range for `api`, if it supports it at all.
    pub fn range(&self, api: ApiKey) -> Option<VersionRange> {
        self.ranges.get(&(api as i16)).copied()
    }

    /// The highest version within `ours` that the broker supports.
    pub fn highest_common(&self, api: ApiKey, ours: VersionRange) -> Option<i16> {
        let theirs = self.range(api)?;
        let common = ours.intersect(&theirs);
        (!common.is_empty()).then_some(common.max)
    }

    /// Every API the broker advertises, with its range, ordered by key.
    pub fn iter(&self) -> impl Iterator<Item = (ApiKey, VersionRange)> + '_ {
        let mut keys: Vec<_> = self.ranges.iter().collect();
        keys.sort_by_key(|(k, _)| **k);
        keys.into_iter()
            .filter_map(|(k, r)| ApiKey::try_from(*k).ok().map(|a| (a, *r)))
    }
}
