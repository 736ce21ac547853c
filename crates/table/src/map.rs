//! The table's contents: a persistent map that clones in O(1) and stays compact.
//!
//! A table is mostly written once (the catch-up) and then changed a little at a time, while
//! readers take snapshots. [`TableMap`] keeps the bulk in a plain hash map behind an `Arc`
//! (the base: about 25 bytes per key beyond the keys and values themselves), and the changes
//! since in a small persistent map (the delta). A clone shares both. When the delta has grown
//! to half the base, the two are merged into a new base, so each change is copied O(1) times
//! on average and a lookup checks at most two maps.

use std::sync::Arc;

type Base<V> = hashbrown::HashMap<Arc<str>, Arc<V>>;

/// Below this many changes the delta is never merged (merging a small table often gains
/// nothing).
const MERGE_AT_LEAST: usize = 4096;

/// Keys and values, cheap to clone (see the module documentation).
pub(crate) struct TableMap<V> {
    base: Arc<Base<V>>,
    /// Changes since `base`: `Some` sets a key, `None` removes a key of `base`.
    delta: imbl::HashMap<Arc<str>, Option<Arc<V>>>,
    len: usize,
}

impl<V> Clone for TableMap<V> {
    fn clone(&self) -> Self {
        TableMap {
            base: self.base.clone(),
            delta: self.delta.clone(),
            len: self.len,
        }
    }
}

impl<V> Default for TableMap<V> {
    fn default() -> Self {
        TableMap::from_base(Base::default())
    }
}

impl<V> std::fmt::Debug for TableMap<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableMap")
            .field("len", &self.len)
            .field("base", &self.base.len())
            .field("delta", &self.delta.len())
            .finish()
    }
}

impl<V> TableMap<V> {
    /// A map holding `base`.
    pub fn from_base(base: hashbrown::HashMap<Arc<str>, Arc<V>>) -> Self {
        TableMap {
            len: base.len(),
            base: Arc::new(base),
            delta: imbl::HashMap::new(),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Arc<V>> {
        match self.delta.get(key) {
            Some(change) => change.as_ref(),
            None => self.base.get(key),
        }
    }

    /// True when `key` has a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there is no key.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every key and value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<V>)> {
        let delta = &self.delta;
        let unchanged = self
            .base
            .iter()
            .filter(move |(k, _)| delta.is_empty() || !delta.contains_key(*k));
        let changed = delta.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k, v)));
        unchanged.chain(changed)
    }

    /// Sets `key` to `value`; returns the value it had.
    pub fn insert(&mut self, key: Arc<str>, value: Arc<V>) -> Option<Arc<V>> {
        let old = match self.delta.insert(key.clone(), Some(value)) {
            Some(change) => change,
            None => self.base.get(&key).cloned(),
        };
        if old.is_none() {
            self.len += 1;
        }
        self.merge_when_large();
        old
    }

    /// Removes `key`; returns the value it had.
    pub fn remove(&mut self, key: &Arc<str>) -> Option<Arc<V>> {
        let in_base = self.base.get(&**key).cloned();
        // Marks the key removed in the delta when the base has it, else drops its change.
        let change = if in_base.is_some() {
            self.delta.insert(key.clone(), None)
        } else {
            self.delta.remove(&**key)
        };
        let old = match change {
            Some(change) => change,
            None => in_base,
        };
        if old.is_some() {
            self.len -= 1;
        }
        self.merge_when_large();
        old
    }

    fn merge_when_large(&mut self) {
        let changes = self.delta.len();
        if changes < MERGE_AT_LEAST || changes < self.base.len() / 2 {
            return;
        }
        // A copy of the base unless no clone shares it.
        let base = Arc::make_mut(&mut self.base);
        for (key, change) in std::mem::take(&mut self.delta) {
            match change {
                Some(value) => {
                    base.insert(key, value);
                }
                None => {
                    base.remove(&key);
                }
            }
        }
        debug_assert_eq!(base.len(), self.len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn contents(m: &TableMap<u32>) -> BTreeMap<String, u32> {
        let out: BTreeMap<String, u32> = m.iter().map(|(k, v)| (k.to_string(), **v)).collect();
        assert_eq!(out.len(), m.len(), "iter and len agree");
        out
    }

    #[test]
    fn behaves_as_a_map_across_merges_and_clones_stay_unchanged() {
        let base: Base<u32> = (0..10_000u32)
            .map(|i| (Arc::from(format!("k{i}")), Arc::new(i)))
            .collect();
        let mut map = TableMap::from_base(base);
        let mut model: BTreeMap<String, u32> =
            (0..10_000u32).map(|i| (format!("k{i}"), i)).collect();
        let mut snapshots = Vec::new();
        for step in 0..40_000u32 {
            let key = format!("k{}", (step * 7919) % 15_000);
            if step % 5 == 0 {
                let old = map.remove(&Arc::from(key.as_str())).map(|v| *v);
                assert_eq!(old, model.remove(&key), "remove {key} at {step}");
            } else {
                let old = map
                    .insert(Arc::from(key.as_str()), Arc::new(step))
                    .map(|v| *v);
                assert_eq!(
                    old,
                    model.insert(key.clone(), step),
                    "insert {key} at {step}"
                );
            }
            assert_eq!(map.get(&key).map(|v| **v), model.get(&key).copied());
            assert_eq!(map.len(), model.len());
            if step % 9_999 == 0 {
                snapshots.push((map.clone(), model.clone()));
            }
        }
        assert_eq!(contents(&map), model);
        for (snapshot, then) in &snapshots {
            assert_eq!(&contents(snapshot), then, "a clone never changes");
        }
        assert!(map.delta.len() < MERGE_AT_LEAST.max(map.base.len() / 2));
    }

    #[test]
    fn an_empty_map_grows_by_inserts_alone() {
        let mut map = TableMap::<u32>::default();
        assert!(map.is_empty() && map.get("a").is_none());
        for i in 0..20_000u32 {
            map.insert(Arc::from(i.to_string()), Arc::new(i));
        }
        assert_eq!(map.len(), 20_000);
        assert!(map.contains_key("19999") && !map.contains_key("20000"));
        assert_eq!(contents(&map).len(), 20_000);
    }
}
