//! Group commits carried along a copy: each source commit moves to the target offset of
//! the first record copied at or after it (`cp --groups`).

use std::collections::BTreeMap;

use crate::error::{Result, StoreError};
use crate::{AnyStorage, Storage};

/// Committed offsets of groups on one source partition, waiting for the first copied record
/// at or after them.
#[derive(Default)]
struct PendingCommits {
    /// (source offset, group), sorted; the front is the next to place.
    waiting: std::collections::VecDeque<(i64, String)>,
}

/// Translates group commits from source to target offsets while a copy runs.
pub(crate) struct GroupTranslation {
    pending: BTreeMap<i32, PendingCommits>,
    /// group → target partition → target offset.
    placed: BTreeMap<String, BTreeMap<i32, i64>>,
}

impl GroupTranslation {
    pub(crate) async fn new(source: &AnyStorage, topic: &str) -> Result<Self> {
        let mut pending: BTreeMap<i32, PendingCommits> = BTreeMap::new();
        for group in source.list_groups().await? {
            let offsets = source.group_offsets(&group).await?;
            for (&p, &o) in offsets.get(topic).into_iter().flatten() {
                pending
                    .entry(p)
                    .or_default()
                    .waiting
                    .push_back((o, group.clone()));
            }
        }
        for commits in pending.values_mut() {
            commits.waiting.make_contiguous().sort();
        }
        Ok(GroupTranslation {
            pending,
            placed: BTreeMap::new(),
        })
    }

    /// The source record at (`partition`, `offset`) was copied to `target_offset`.
    pub(crate) fn copied(&mut self, partition: i32, offset: i64, target_offset: i64) {
        let Some(commits) = self.pending.get_mut(&partition) else {
            return;
        };
        while commits.waiting.front().is_some_and(|(o, _)| *o <= offset) {
            let (_, group) = commits.waiting.pop_front().expect("checked");
            self.placed
                .entry(group)
                .or_default()
                .insert(partition, target_offset);
        }
    }

    /// The copy kept offsets (batches copied as they were): every commit stays as it is.
    pub(crate) fn keep_offsets(&mut self) {
        for (p, commits) in std::mem::take(&mut self.pending) {
            for (o, group) in commits.waiting {
                self.placed.entry(group).or_default().insert(p, o);
            }
        }
    }

    /// Commits still waiting had read past everything copied: they go to the target's end.
    pub(crate) async fn commit(
        mut self,
        target: &AnyStorage,
        target_topic: &str,
    ) -> Result<Vec<String>> {
        let ends = target.watermarks(target_topic).await?;
        for (p, commits) in std::mem::take(&mut self.pending) {
            for (_, group) in commits.waiting {
                let end = ends.get(&p).map_or(0, |(_, h)| *h);
                self.placed.entry(group).or_default().insert(p, end);
            }
        }
        let mut groups = Vec::new();
        for (group, offsets) in self.placed {
            let offsets = BTreeMap::from([(target_topic.to_string(), offsets)]);
            target.commit(&group, &offsets).await.map_err(|e| {
                StoreError::Invalid(format!("copy the offsets of group '{group}': {e}"))
            })?;
            groups.push(group);
        }
        Ok(groups)
    }
}
