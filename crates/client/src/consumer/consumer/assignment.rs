//! Installing an assignment: the cursors for the partitions a consumer reads, from
//! `assign` or from its group (revoking, committing on revoke, starting from commits).

use std::collections::{HashMap, HashSet};

use super::{key_of, ConsumerCore, Cursor, Key};
use crate::consumer::group;
use crate::consumer::record::{Offset, TopicPartition};
use crate::error::{Error, Result};

impl ConsumerCore {
    /// Replaces the cursors with `partitions`, keeping the position of those already read;
    /// new ones start at `starts` (else `default_start`).
    pub(super) async fn install(
        &self,
        partitions: &[TopicPartition],
        starts: &HashMap<TopicPartition, i64>,
        default_start: Option<Offset>,
    ) -> Result<()> {
        let mut topics: Vec<&str> = partitions.iter().map(|tp| tp.topic.as_str()).collect();
        topics.sort_unstable();
        topics.dedup();
        let view = if topics.is_empty() {
            None
        } else {
            Some(self.client.topic_metadata(&topics).await?)
        };
        let mut st = self.lock();
        // Every new partition's cursor is built before anything changes: an error (a topic
        // or partition that does not exist) leaves the assignment as it was.
        let mut fresh = HashMap::new();
        for tp in partitions {
            let key = key_of(tp);
            if st.cursors.contains_key(&key) || fresh.contains_key(&key) {
                continue;
            }
            let view = view.as_ref().expect("partitions imply topics");
            let info = view
                .topics
                .get(&tp.topic)
                .filter(|t| t.error.is_none())
                .ok_or_else(|| Error::Unknown {
                    what: "topic",
                    name: tp.topic.clone(),
                })?;
            let p = info.partition(tp.partition).ok_or_else(|| Error::Unknown {
                what: "partition",
                name: tp.to_string(),
            })?;
            let (fetch_offset, pending) = match starts.get(tp) {
                Some(&o) => (Some(o), None),
                None => (None, default_start),
            };
            fresh.insert(
                key.clone(),
                Cursor {
                    topic: key.0,
                    topic_id: info.id,
                    partition: tp.partition,
                    leader: p.leader.unwrap_or(-1),
                    epoch: 1,
                    fetch_offset,
                    pending,
                    position: fetch_offset,
                    paused: false,
                    in_flight: false,
                    highwater: -1,
                    last_stable: -1,
                    log_start: -1,
                },
            );
        }
        let wanted: HashSet<Key> = partitions.iter().map(key_of).collect();
        let mut cursors = HashMap::with_capacity(wanted.len());
        for (key, c) in std::mem::take(&mut st.cursors) {
            if wanted.contains(&key) {
                cursors.insert(key, c);
            } else {
                st.drop_buffered(&key);
            }
        }
        cursors.extend(fresh);
        st.cursors = cursors;
        drop(st);
        self.ensure_sources();
        Ok(())
    }

    /// The partitions assigned now.
    pub(crate) fn owned_partitions(&self) -> Vec<TopicPartition> {
        self.lock()
            .cursors
            .values()
            .map(|c| TopicPartition::new(c.topic.to_string(), c.partition))
            .collect()
    }

    /// Applies a group assignment: commit and revoke what goes, start what comes from its
    /// committed offset. Returns how many partitions were revoked.
    pub(crate) async fn apply_group_assignment(&self, assigned: Vec<TopicPartition>) -> usize {
        let now: HashSet<TopicPartition> = assigned.iter().cloned().collect();
        let before: Vec<TopicPartition> = self
            .lock()
            .cursors
            .values()
            .map(|c| TopicPartition::new(c.topic.to_string(), c.partition))
            .collect();
        let revoked: Vec<TopicPartition> = before
            .iter()
            .filter(|tp| !now.contains(*tp))
            .cloned()
            .collect();
        let added: Vec<TopicPartition> = assigned
            .iter()
            .filter(|tp| !before.contains(tp))
            .cloned()
            .collect();
        if !revoked.is_empty() {
            if self.config.enable_auto_commit {
                let positions: Vec<_> = self
                    .positions()
                    .into_iter()
                    .filter(|(tp, _, _)| revoked.contains(tp))
                    .collect();
                if let Err(e) = group::commit(self, Some(positions)).await {
                    tracing::warn!(error = %e, "commit of revoked partitions failed");
                }
            }
            if let Some(l) = self.listener() {
                l.on_revoked(&revoked);
            }
        }
        let mut starts = HashMap::new();
        if !added.is_empty() {
            let mut topics: Vec<&str> = added.iter().map(|tp| tp.topic.as_str()).collect();
            topics.sort_unstable();
            topics.dedup();
            match self
                .client
                .admin()
                .committed_offsets(self.group_id(), Some(&topics))
                .await
            {
                Ok(committed) => {
                    for tp in &added {
                        if let Some(c) = committed.get(&(tp.topic.clone(), tp.partition)) {
                            starts.insert(tp.clone(), c.offset);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read committed offsets; using auto.offset.reset")
                }
            }
        }
        if let Err(e) = self.install(&assigned, &starts, self.reset_start()).await {
            self.report(e);
            return revoked.len();
        }
        tracing::debug!(
            assigned = assigned.len(),
            revoked = revoked.len(),
            "group assignment applied"
        );
        if let Some(l) = self.listener() {
            l.on_assigned(&assigned);
        }
        revoked.len()
    }

    /// The member was expelled: its partitions are gone without a commit.
    pub(crate) fn lose_assignment(&self) {
        let lost: Vec<TopicPartition> = {
            let mut st = self.lock();
            let keys: Vec<Key> = st.cursors.keys().cloned().collect();
            for k in &keys {
                st.drop_buffered(k);
            }
            st.cursors.clear();
            keys.into_iter()
                .map(|(t, p)| TopicPartition::new(t.to_string(), p))
                .collect()
        };
        if let Some(l) = self.listener() {
            l.on_lost(&lost);
        }
    }
}
