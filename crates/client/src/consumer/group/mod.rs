//! Consumer groups (the classic protocol): membership, assignors and commits.
//!
//! ```text
//!  FindCoordinator ─► JoinGroup ─► (leader assigns) ─► SyncGroup ─► assigned
//!        ▲                ▲                                   │ heartbeat, auto-commit
//!        └─ NOT_COORDINATOR └──── REBALANCE_IN_PROGRESS ◄─────┘
//! ```
//!
//! The membership task runs beside the consumer: it joins, applies each assignment to the
//! consumer's cursors (starting from committed offsets), heartbeats, commits on an interval
//! and before giving partitions up, and leaves the group on close.

mod assignor;
mod membership;
mod roster;

pub use assignor::Assignor;
pub(crate) use membership::{commit, leave, start, GroupState, Subscription};
pub use roster::MemberAssignment;

use super::record::TopicPartition;

/// Called by the membership task around ownership changes, before the consumer acts on
/// them: `on_revoked` before partitions are given up (after their final commit),
/// `on_assigned` once new ones are set up, `on_lost` when they were taken away without a
/// chance to commit (the member was expelled).
pub trait RebalanceListener: Send + Sync + 'static {
    /// Partitions about to be given up.
    fn on_revoked(&self, _partitions: &[TopicPartition]) {}
    /// Partitions now owned.
    fn on_assigned(&self, _partitions: &[TopicPartition]) {}
    /// Partitions lost without a revoke.
    fn on_lost(&self, _partitions: &[TopicPartition]) {}
}
