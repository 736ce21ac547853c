//! Transactions: the transactional producer's state, and its calls to the transaction
//! coordinator.
//!
//! ```text
//!  Ready ──begin──► Open ──commit──► Committing ──EndTxn(commit)──► Ready
//!                    │  ▲                 │ a record failed
//!  a record failed,  │  └── (next begin)  ▼
//!  a partition or ───┴──────────────► Abortable ──abort──► Aborting ──EndTxn(abort)──► Ready
//!  the offsets could not join
//!  fenced, refused id: Fatal (every call fails with it)
//! ```
//!
//! A partition joins the open transaction (AddPartitionsToTxn) before its first batch of
//! that transaction goes out: `send` notes the partition, the transaction task adds every
//! noted partition in one request, and sinks hold a partition's batches until it has
//! joined. Offsets join with AddOffsetsToTxn, then TxnOffsetCommit at the group's
//! coordinator (KIP-447: with the consumer's generation and member id, so a zombie member
//! cannot commit). The producer speaks the pre-KIP-890 protocol (Produce ≤ v11, EndTxn ≤
//! v4), which every Kafka 4.x broker still accepts.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::wire::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use crate::wire::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use crate::wire::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, ApiKey, EndTxnRequest, GroupId,
    InitProducerIdRequest, ProducerId, TopicName, TransactionalId, TxnOffsetCommitRequest,
};
use crate::wire::{ErrorCode, StrBytes};

use super::accumulator::PartitionQueue;
use super::producer::ProducerCore;
use crate::client::{Client, Target};
use crate::conn::Connection;
use crate::consumer::{ConsumerGroupMetadata, TopicPartition};
use crate::error::{check_code, Error, Result};

/// Highest versions of the transaction APIs kafkit sends: the last ones before KIP-890's
/// second phase (a transaction's partitions join it implicitly from Produce v12 on).
const MAX_ADD_PARTITIONS_VERSION: i16 = 3;
const MAX_END_TXN_VERSION: i16 = 4;
const MAX_TXN_OFFSET_COMMIT_VERSION: i16 = 4;
/// Produce v12 would make a transactional batch join its transaction implicitly.
pub(crate) const MAX_TRANSACTIONAL_PRODUCE_VERSION: i16 = 11;

/// Where the producer's transaction is.
#[derive(Debug, Clone)]
enum TxnState {
    /// No transaction open: `begin_transaction` may start one.
    Ready,
    /// Records may be sent, offsets added.
    Open,
    /// `commit_transaction` is under way (or failed in a way a retry of it may fix).
    Committing,
    /// Something in the open transaction failed: only an abort goes on.
    Abortable(Arc<Error>),
    /// `abort_transaction` is under way.
    Aborting,
    /// The producer is unusable.
    Fatal(Arc<Error>),
}

impl TxnState {
    fn name(&self) -> &'static str {
        match self {
            TxnState::Ready => "no transaction is open",
            TxnState::Open => "a transaction is open",
            TxnState::Committing => "a commit is under way",
            TxnState::Abortable(_) => "the transaction must be aborted",
            TxnState::Aborting => "an abort is under way",
            TxnState::Fatal(_) => "the producer is unusable",
        }
    }
}

/// How a transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Commit,
    Abort,
}

/// A transactional producer's transaction state, shared by the handle and the task that
/// adds partitions.
#[derive(Debug)]
pub(crate) struct Transactions {
    pub id: String,
    timeout_ms: i32,
    /// Bound on each coordinator call, retries included (`max.block.ms`).
    call_timeout: Duration,
    state: Mutex<TxnState>,
    /// Number of the open (or last) transaction; partitions remember the number of the
    /// transaction they joined.
    number: AtomicU64,
    /// Partitions with records in a transaction (its number) that have not joined it yet.
    pending: Mutex<Vec<(u64, Arc<PartitionQueue>)>>,
    /// Something (a partition or the offsets) joined the open transaction: it needs an EndTxn.
    started: AtomicBool,
    /// Groups whose offsets joined the open transaction.
    groups: Mutex<HashSet<String>>,
    /// A batch with a sequence failed: sequences restart under a bumped epoch after the abort.
    needs_bump: AtomicBool,
    /// The transaction coordinator's node id, once found.
    coordinator: Mutex<Option<i32>>,
    /// Wakes the task that adds partitions.
    pub wake: tokio::sync::Notify,
    /// One coordinator call at a time, so an EndTxn never overtakes an AddPartitionsToTxn.
    calls: tokio::sync::Mutex<()>,
}

impl Transactions {
    pub(crate) fn new(id: String, timeout: Duration, call_timeout: Duration) -> Self {
        Transactions {
            id,
            timeout_ms: timeout.as_millis().min(i32::MAX as u128) as i32,
            call_timeout,
            state: Mutex::new(TxnState::Ready),
            number: AtomicU64::new(0),
            pending: Mutex::new(Vec::new()),
            started: AtomicBool::new(false),
            groups: Mutex::new(HashSet::new()),
            needs_bump: AtomicBool::new(false),
            coordinator: Mutex::new(None),
            wake: tokio::sync::Notify::new(),
            calls: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TxnState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The number of the open (or last) transaction.
    pub(crate) fn number(&self) -> u64 {
        self.number.load(Ordering::SeqCst)
    }

    fn state_error(&self, message: String) -> Error {
        Error::TransactionState {
            transactional_id: self.id.clone(),
            message,
        }
    }

    fn abortable(&self, cause: Arc<Error>) -> Error {
        Error::TransactionAbortable {
            transactional_id: self.id.clone(),
            cause,
        }
    }

    fn fatal(&self, cause: Arc<Error>) -> Error {
        Error::TransactionFatal {
            transactional_id: self.id.clone(),
            cause,
        }
    }

    /// The error for a call that needs state `want` in the state the producer is in.
    fn refusal(&self, state: &TxnState, call: &str) -> Error {
        match state {
            TxnState::Fatal(cause) => self.fatal(cause.clone()),
            TxnState::Abortable(cause) => self.abortable(cause.clone()),
            other => self.state_error(format!("cannot {call}: {}", other.name())),
        }
    }

    /// Ok when records may be sent now.
    pub(crate) fn check_send(&self) -> Result<()> {
        match &*self.lock() {
            TxnState::Open => Ok(()),
            TxnState::Ready => {
                Err(self
                    .state_error("send outside a transaction: call begin_transaction first".into()))
            }
            other => Err(self.refusal(other, "send")),
        }
    }

    /// True when records may be sent now (the fast path's check).
    pub(crate) fn is_open(&self) -> bool {
        matches!(&*self.lock(), TxnState::Open)
    }

    /// Ready → Open.
    pub(crate) fn begin(&self) -> Result<()> {
        let mut st = self.lock();
        match &*st {
            TxnState::Ready => {
                self.number.fetch_add(1, Ordering::SeqCst);
                self.started.store(false, Ordering::SeqCst);
                self.groups
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clear();
                *st = TxnState::Open;
                Ok(())
            }
            other => Err(self.refusal(other, "begin a transaction")),
        }
    }

    /// Open → Committing (a failed commit may be called again), or Open / Abortable /
    /// Committing → Aborting.
    pub(crate) fn start_ending(&self, outcome: Outcome) -> Result<()> {
        let mut st = self.lock();
        let next = match (&*st, outcome) {
            (TxnState::Open | TxnState::Committing, Outcome::Commit) => TxnState::Committing,
            (
                TxnState::Open | TxnState::Abortable(_) | TxnState::Committing | TxnState::Aborting,
                Outcome::Abort,
            ) => TxnState::Aborting,
            (other, Outcome::Commit) => return Err(self.refusal(other, "commit")),
            (other, Outcome::Abort) => return Err(self.refusal(other, "abort")),
        };
        *st = next;
        Ok(())
    }

    /// The open transaction failed: it can only be aborted now. Keeps the first cause.
    pub(crate) fn fail(&self, cause: Arc<Error>, had_sequence: bool) {
        if had_sequence {
            self.needs_bump.store(true, Ordering::SeqCst);
        }
        let mut st = self.lock();
        if matches!(&*st, TxnState::Open | TxnState::Committing) {
            tracing::debug!(transactional_id = %self.id, error = %cause, "transaction must be aborted");
            *st = TxnState::Abortable(cause);
        }
    }

    /// The producer is unusable from now on.
    pub(crate) fn fail_fatally(&self, cause: Arc<Error>) -> Error {
        let mut st = self.lock();
        if !matches!(&*st, TxnState::Fatal(_)) {
            tracing::error!(transactional_id = %self.id, error = %cause, "transactional producer unusable");
            *st = TxnState::Fatal(cause.clone());
        }
        self.fatal(cause)
    }

    /// The error a commit gives when the transaction went abortable meanwhile.
    pub(crate) fn commit_blocker(&self) -> Option<Error> {
        match &*self.lock() {
            TxnState::Abortable(cause) => Some(self.abortable(cause.clone())),
            TxnState::Fatal(cause) => Some(self.fatal(cause.clone())),
            _ => None,
        }
    }

    /// Committing / Aborting → Ready.
    pub(crate) fn finish(&self) {
        let mut st = self.lock();
        if !matches!(&*st, TxnState::Fatal(_)) {
            *st = TxnState::Ready;
        }
    }

    /// Notes that `queue` holds records of the open transaction; returns true when it has
    /// yet to join it (the caller wakes the transaction task).
    pub(crate) fn note(&self, queue: &Arc<PartitionQueue>) -> bool {
        let number = self.number();
        {
            let mut st = queue.lock();
            if st.txn_noted == number {
                return false;
            }
            st.txn_noted = number;
        }
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((number, queue.clone()));
        true
    }

    /// Takes the partitions waiting to join the transaction still open (or committing);
    /// those noted for an earlier one, or while the transaction is aborting, are dropped.
    fn take_pending(&self) -> Vec<Arc<PartitionQueue>> {
        let taken = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if !matches!(&*self.lock(), TxnState::Open | TxnState::Committing) {
            return Vec::new();
        }
        let number = self.number();
        taken
            .into_iter()
            .filter(|(n, _)| *n == number)
            .map(|(_, q)| q)
            .collect()
    }

    /// True when the open transaction needs an EndTxn (something joined it).
    pub(crate) fn started(&self) -> bool {
        self.started.load(Ordering::SeqCst)
    }

    /// True (once) when sequences must restart under a bumped epoch.
    pub(crate) fn take_needs_bump(&self) -> bool {
        self.needs_bump.swap(false, Ordering::SeqCst)
    }

    /// Runs `attempt` at the transaction coordinator, finding it first, and retries while
    /// the coordinator moves, loads, or is busy ending the previous transaction — within
    /// `max.block.ms`.
    async fn at_coordinator<T, F, Fut>(
        &self,
        client: &Client,
        what: &'static str,
        mut attempt: F,
    ) -> Result<T>
    where
        F: FnMut(Arc<Connection>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let deadline = Instant::now() + self.call_timeout;
        let mut failures = 0u32;
        loop {
            let result = async {
                let node = self.coordinator(client).await?;
                let conn = client.connection(&Target::Broker(node)).await?;
                attempt(conn).await
            }
            .await;
            let error = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let busy = error.code() == Some(ErrorCode::ConcurrentTransactions);
            if !(busy || error.is_retriable()) {
                return Err(error);
            }
            if Instant::now() >= deadline {
                tracing::debug!(what, transactional_id = %self.id, "transaction call gave up at max.block.ms");
                return Err(error);
            }
            if error.is_connection_error()
                || matches!(
                    error.code(),
                    Some(ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable)
                )
            {
                *self.coordinator.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
            failures += 1;
            // Ending a transaction takes the coordinator a few milliseconds: look again soon.
            let pause =
                Duration::from_millis(1u64 << failures.min(7)).min(Duration::from_millis(200));
            tracing::debug!(what, attempt = failures, error = %error, "transaction call retried");
            tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
    }

    /// The transaction coordinator's node id, looked up when not known.
    async fn coordinator(&self, client: &Client) -> Result<i32> {
        if let Some(node) = *self.coordinator.lock().unwrap_or_else(|e| e.into_inner()) {
            return Ok(node);
        }
        let (node, _) = client.admin().find_coordinator_once_of(1, &self.id).await?;
        *self.coordinator.lock().unwrap_or_else(|e| e.into_inner()) = Some(node);
        Ok(node)
    }

    /// InitProducerId for this transactional id: fences older producers with it (aborting
    /// their open transaction). With `current` (id, epoch) the broker bumps that epoch
    /// instead of handing out a new one (KIP-360).
    pub(crate) async fn init_producer_id(
        &self,
        client: &Client,
        current: (i64, i16),
    ) -> Result<(i64, i16)> {
        let _one = self.calls.lock().await;
        let request = InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(StrBytes::from_string(
                self.id.clone(),
            ))))
            .with_transaction_timeout_ms(self.timeout_ms)
            .with_producer_id(ProducerId(current.0))
            .with_producer_epoch(current.1);
        let result = self
            .at_coordinator(client, "InitProducerId", |conn| {
                let request = request.clone();
                async move {
                    let version = conn.version_for::<InitProducerIdRequest>(None)?;
                    let mut request = request;
                    if version < 3 {
                        request.producer_id = ProducerId(-1);
                        request.producer_epoch = -1;
                    }
                    let r = conn.send_version(&request, version).await?;
                    check_code(r.error_code, ApiKey::InitProducerId, conn.broker())
                        .map_err(|b| b.build())?;
                    Ok((r.producer_id.0, r.producer_epoch))
                }
            })
            .await;
        result.map_err(|e| self.classify_call_error(e))
    }

    /// Fenced, refused or unauthorised: the producer is done for. Anything else is returned
    /// as it is.
    fn classify_call_error(&self, e: Error) -> Error {
        match e.code() {
            Some(
                ErrorCode::ProducerFenced
                | ErrorCode::InvalidProducerEpoch
                | ErrorCode::TransactionalIdAuthorizationFailed
                | ErrorCode::ClusterAuthorizationFailed
                | ErrorCode::InvalidProducerIdMapping
                | ErrorCode::UnsupportedVersion,
            ) => self.fail_fatally(Arc::new(e)),
            _ => e,
        }
    }

    /// Adds the noted partitions to the open transaction. A partition that cannot join
    /// makes the transaction abortable, and its queued records fail.
    pub(crate) async fn add_pending(&self, core: &ProducerCore) {
        // Held from the state check to the answer, so no EndTxn slips in between.
        let _one = self.calls.lock().await;
        let pending = self.take_pending();
        if pending.is_empty() {
            return;
        }
        let number = self.number();
        let (id, epoch) = core.identity.current();
        let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
        for q in &pending {
            let name = &*q.topic.name;
            match topics.iter_mut().find(|t| &*t.name.0 == name) {
                Some(t) => t.partitions.push(q.partition),
                None => topics.push(
                    AddPartitionsToTxnTopic::default()
                        .with_name(TopicName(StrBytes::from_string(name.to_string())))
                        .with_partitions(vec![q.partition]),
                ),
            }
        }
        let request = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(StrBytes::from_string(
                self.id.clone(),
            )))
            .with_v3_and_below_producer_id(ProducerId(id))
            .with_v3_and_below_producer_epoch(epoch)
            .with_v3_and_below_topics(topics);
        let result = {
            self.at_coordinator(&core.client, "AddPartitionsToTxn", |conn| {
                let request = request.clone();
                async move {
                    let version = conn.version_for::<AddPartitionsToTxnRequest>(Some(
                        MAX_ADD_PARTITIONS_VERSION,
                    ))?;
                    let r = conn.send_version(&request, version).await?;
                    // One retriable code for a partition retries them all; the broker
                    // answers the others OPERATION_NOT_ATTEMPTED.
                    let mut first: Option<Error> = None;
                    for t in &r.results_by_topic_v3_and_below {
                        for p in &t.results_by_partition {
                            let code = p.partition_error_code;
                            if code == 0 || code == ErrorCode::OperationNotAttempted.code() {
                                continue;
                            }
                            let e = check_code(code, ApiKey::AddPartitionsToTxn, conn.broker())
                                .map_err(|b| {
                                    b.topic(t.name.0.as_str())
                                        .partition(p.partition_index)
                                        .build()
                                })
                                .err();
                            if let Some(e) = e {
                                let retriable = e.is_retriable()
                                    || e.code() == Some(ErrorCode::ConcurrentTransactions);
                                if first.is_none() || retriable {
                                    first = Some(e);
                                }
                            }
                        }
                    }
                    match first {
                        Some(e) => Err(e),
                        None => Ok(()),
                    }
                }
            })
            .await
        };
        match result {
            Ok(()) => {
                self.started.store(true, Ordering::SeqCst);
                for q in &pending {
                    q.lock().txn_joined = number;
                    core.wake_sink(q.leader());
                }
            }
            Err(e) => {
                let e = Arc::new(self.classify_call_error(e));
                if !matches!(&*self.lock(), TxnState::Fatal(_)) {
                    self.fail(e.clone(), false);
                }
                for q in &pending {
                    let batches = q.take_all(&mut q.lock());
                    for b in batches {
                        core.fail_batch(q, b, e.clone());
                    }
                }
            }
        }
    }

    /// Ends the open transaction at the coordinator (EndTxn), when anything joined it.
    pub(crate) async fn end(&self, core: &ProducerCore, outcome: Outcome) -> Result<()> {
        let _one = self.calls.lock().await;
        if !self.started() {
            return Ok(());
        }
        let (id, epoch) = core.identity.current();
        let request = EndTxnRequest::default()
            .with_transactional_id(TransactionalId(StrBytes::from_string(self.id.clone())))
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch)
            .with_committed(outcome == Outcome::Commit);
        self.at_coordinator(&core.client, "EndTxn", |conn| {
            let request = request.clone();
            async move {
                let version = conn.version_for::<EndTxnRequest>(Some(MAX_END_TXN_VERSION))?;
                let r = conn.send_version(&request, version).await?;
                check_code(r.error_code, ApiKey::EndTxn, conn.broker()).map_err(|b| b.build())
            }
        })
        .await
        .map_err(|e| self.classify_call_error(e))?;
        self.started.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Commits `offsets` of `group` in the open transaction (AddOffsetsToTxn, then
    /// TxnOffsetCommit at the group's coordinator).
    pub(crate) async fn send_offsets(
        &self,
        core: &ProducerCore,
        offsets: &[(TopicPartition, i64)],
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        self.check_send()?;
        let result = self.send_offsets_inner(core, offsets, group).await;
        result.map_err(|e| {
            let e = self.classify_call_error(e);
            if e.is_transaction_fatal() {
                return e;
            }
            let e = Arc::new(e);
            self.fail(e.clone(), false);
            self.abortable(e)
        })
    }

    async fn send_offsets_inner(
        &self,
        core: &ProducerCore,
        offsets: &[(TopicPartition, i64)],
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        let (id, epoch) = core.identity.current();
        let known = self
            .groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&group.group_id);
        if !known {
            let request = AddOffsetsToTxnRequest::default()
                .with_transactional_id(TransactionalId(StrBytes::from_string(self.id.clone())))
                .with_producer_id(ProducerId(id))
                .with_producer_epoch(epoch)
                .with_group_id(GroupId(StrBytes::from_string(group.group_id.clone())));
            let _one = self.calls.lock().await;
            self.at_coordinator(&core.client, "AddOffsetsToTxn", |conn| {
                let request = request.clone();
                async move {
                    let r = conn.send(&request).await?;
                    check_code(r.error_code, ApiKey::AddOffsetsToTxn, conn.broker())
                        .map_err(|b| b.build())
                }
            })
            .await?;
            self.started.store(true, Ordering::SeqCst);
            self.groups
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(group.group_id.clone());
        }
        let mut topics: Vec<TxnOffsetCommitRequestTopic> = Vec::new();
        for (tp, offset) in offsets {
            let partition = TxnOffsetCommitRequestPartition::default()
                .with_partition_index(tp.partition)
                .with_committed_offset(*offset)
                .with_committed_leader_epoch(-1)
                .with_committed_metadata(Some(StrBytes::from_static_str("")));
            match topics.iter_mut().find(|t| t.name.0.as_str() == tp.topic) {
                Some(t) => t.partitions.push(partition),
                None => topics.push(
                    TxnOffsetCommitRequestTopic::default()
                        .with_name(TopicName(StrBytes::from_string(tp.topic.clone())))
                        .with_partitions(vec![partition]),
                ),
            }
        }
        let request = TxnOffsetCommitRequest::default()
            .with_transactional_id(TransactionalId(StrBytes::from_string(self.id.clone())))
            .with_group_id(GroupId(StrBytes::from_string(group.group_id.clone())))
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch)
            .with_generation_id(group.generation)
            .with_member_id(StrBytes::from_string(group.member_id.clone()))
            .with_group_instance_id(group.group_instance_id.clone().map(StrBytes::from_string))
            .with_topics(topics);
        let admin = core.client.admin();
        admin
            .at_coordinator(&group.group_id, "TxnOffsetCommit", |node, _| {
                let request = request.clone();
                let client = &core.client;
                async move {
                    let conn = client.connection(&Target::Broker(node)).await?;
                    let version = conn.version_for::<TxnOffsetCommitRequest>(Some(
                        MAX_TXN_OFFSET_COMMIT_VERSION,
                    ))?;
                    let r = conn.send_version(&request, version).await?;
                    for t in &r.topics {
                        for p in &t.partitions {
                            check_code(p.error_code, ApiKey::TxnOffsetCommit, conn.broker())
                                .map_err(|b| {
                                    b.topic(t.name.0.as_str())
                                        .partition(p.partition_index)
                                        .group(&group.group_id)
                                        .build()
                                })?;
                        }
                    }
                    Ok(())
                }
            })
            .await
    }
}

/// The task that adds noted partitions to the open transaction, until the producer is gone.
pub(crate) async fn run_transactions(weak: Weak<ProducerCore>) {
    loop {
        let Some(core) = weak.upgrade() else { return };
        let Some(txn) = core.transactions.clone() else {
            return;
        };
        if core.is_done() {
            return;
        }
        let woken = txn.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        txn.add_pending(&core).await;
        drop(core);
        let _ = tokio::time::timeout(Duration::from_millis(200), woken).await;
    }
}
