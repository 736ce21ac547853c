//! Grouped tables: `{group: {member: value}}` registries over one topic.
//!
//! A record's key is the composite `"<byte length of group>:<group><member>"`, so no pair of
//! (group, member) can produce the same key as another, whatever characters they contain.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::TableError;
use crate::table::GlobalTable;
use crate::writer::TableWriter;

/// The composite key of (`group`, `member`).
///
/// ```
/// use kafkit_table::{grouped_key, split_grouped_key};
/// let k = grouped_key("a:b", "c");
/// assert_eq!(k, "3:a:bc");
/// assert_eq!(split_grouped_key(&k), Some(("a:b", "c")));
/// assert_ne!(grouped_key("ab", "c"), grouped_key("a", "bc"));
/// ```
pub fn grouped_key(group: &str, member: &str) -> String {
    format!("{}:{group}{member}", group.len())
}

/// Splits a composite key back into (group, member); `None` for any other key.
pub fn split_grouped_key(key: &str) -> Option<(&str, &str)> {
    let (len, rest) = key.split_once(':')?;
    if len.is_empty()
        || !len.bytes().all(|b| b.is_ascii_digit())
        || (len.len() > 1 && len.starts_with('0'))
    {
        return None;
    }
    let n: usize = len.parse().ok()?;
    if n > rest.len() || !rest.is_char_boundary(n) {
        return None;
    }
    Some(rest.split_at(n))
}

/// A read-only view of a grouped table.
pub struct GroupedTable<V> {
    table: GlobalTable<V>,
}

impl<V: Send + Sync + 'static> GroupedTable<V> {
    /// Groups the keys of `table` (which must be started to read).
    pub fn new(table: GlobalTable<V>) -> Self {
        GroupedTable { table }
    }

    /// The underlying table.
    pub fn table(&self) -> &GlobalTable<V> {
        &self.table
    }

    /// One member's value.
    pub fn get(&self, group: &str, member: &str) -> Result<Option<Arc<V>>, TableError> {
        self.table.get(&grouped_key(group, member))
    }

    /// Every member of `group` with its value (empty when the group has none).
    pub fn group(&self, group: &str) -> Result<BTreeMap<String, Arc<V>>, TableError> {
        let snapshot = self.table.snapshot()?;
        Ok(snapshot
            .iter()
            .filter_map(|(k, v)| {
                let (g, m) = split_grouped_key(k)?;
                (g == group).then(|| (m.to_string(), v.clone()))
            })
            .collect())
    }

    /// Every group with its members.
    pub fn groups(&self) -> Result<BTreeMap<String, BTreeMap<String, Arc<V>>>, TableError> {
        let snapshot = self.table.snapshot()?;
        let mut out: BTreeMap<String, BTreeMap<String, Arc<V>>> = BTreeMap::new();
        for (k, v) in snapshot.iter() {
            if let Some((g, m)) = split_grouped_key(k) {
                out.entry(g.to_string())
                    .or_default()
                    .insert(m.to_string(), v.clone());
            }
        }
        Ok(out)
    }
}

/// Writes a grouped table.
pub struct GroupedTableWriter<V> {
    writer: TableWriter<V>,
}

impl<V> GroupedTableWriter<V> {
    /// Groups the keys written by `writer`.
    pub fn new(writer: TableWriter<V>) -> Self {
        GroupedTableWriter { writer }
    }

    /// Sets `member` of `group`, awaiting the ack.
    pub async fn set(&self, group: &str, member: &str, value: &V) -> Result<(), TableError> {
        self.writer.set(&grouped_key(group, member), value).await
    }

    /// Removes `member` from `group`, awaiting the ack.
    pub async fn delete(&self, group: &str, member: &str) -> Result<(), TableError> {
        self.writer.delete(&grouped_key(group, member)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_keys_never_collide_and_round_trip() {
        let pairs = [
            ("", ""),
            ("", "x"),
            ("x", ""),
            ("a", "bc"),
            ("ab", "c"),
            ("1:", "2"),
            ("ключ", "ü"),
            ("10:", ""),
        ];
        let keys: std::collections::BTreeSet<String> =
            pairs.iter().map(|(g, m)| grouped_key(g, m)).collect();
        assert_eq!(keys.len(), pairs.len());
        for (g, m) in pairs {
            assert_eq!(split_grouped_key(&grouped_key(g, m)), Some((g, m)));
        }
        for bad in ["plain", ":x", "05:abcde", "9:abc", "1:ü", "x:abc"] {
            assert_eq!(split_grouped_key(bad), None, "{bad}");
        }
    }
}
