//! A sink: the task that sends one broker's batches.
//!
//! Each loop the sink seals the batches of its partitions that are full or have lingered,
//! packs one batch per partition into a Produce request (up to `max_request_size`), and puts
//! the request on the wire — up to `max_in_flight` of them. Responses on one connection
//! come back in request order, so the sink awaits only the oldest one. Each batch then
//! succeeds, goes back to its queue in sequence order for a retry, or fails for good.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::wire::messages::produce_request::{PartitionProduceData, TopicProduceData};
use crate::wire::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName, TransactionalId};
use crate::wire::StrBytes;
use tokio::sync::Notify;

use super::accumulator::{PartitionQueue, ProducerBatch};
use super::config::Acks;
use super::delivery::Acked;
use super::producer::{ProducerCore, REQUEST_OVERHEAD};
use super::transaction::MAX_TRANSACTIONAL_PRODUCE_VERSION;
use crate::client::Target;
use crate::conn::Connection;
use crate::error::{Error, Result};
use crate::wire::ErrorCode;

/// The highest Produce version kafkit sends: v13 names topics by id instead of by name.
const MAX_PRODUCE_VERSION: i16 = 12;

/// How a sink is woken: a batch became ready, a linger timer must be armed, leadership
/// moved, or the producer is flushing or closing.
#[derive(Debug)]
pub(crate) struct SinkHandle {
    pub wake: Notify,
}

/// Starts the sink of `broker`.
pub(crate) fn start(shared: Weak<ProducerCore>, broker: i32) -> Arc<SinkHandle> {
    let handle = Arc::new(SinkHandle {
        wake: Notify::new(),
    });
    tokio::spawn(run(shared, broker, handle.clone()));
    handle
}

/// A batch on the wire, with the queue it came from.
struct Sent {
    queue: Arc<PartitionQueue>,
    batch: ProducerBatch,
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<ProduceResponse>> + Send>>;

struct InFlight {
    sent: Vec<Sent>,
    response: ResponseFuture,
    sent_at: Instant,
    broker: String,
    /// The connection it went out on.
    conn: Arc<Connection>,
}

struct Sink {
    broker: i32,
    conn: Option<Arc<Connection>>,
    in_flight: VecDeque<InFlight>,
    /// Where the next request starts among the partitions, so all get a turn.
    rotate: usize,
    /// No connection attempt before this instant.
    reconnect_at: Option<Instant>,
}

async fn run(weak: Weak<ProducerCore>, broker: i32, handle: Arc<SinkHandle>) {
    let mut sink = Sink {
        broker,
        conn: None,
        in_flight: VecDeque::new(),
        rotate: 0,
        reconnect_at: None,
    };
    loop {
        let Some(shared) = weak.upgrade() else { return };
        if sink.in_flight.is_empty() && (shared.is_done() || shared.fatal.get().is_some()) {
            return;
        }
        let woken = handle.wake.notified();
        let deadline = sink.send_ready(&shared).await;
        tokio::select! {
            biased;
            r = oldest_response(&mut sink.in_flight) => {
                let req = sink.in_flight.pop_front().expect("a response came from it");
                sink.apply_produce_response(&shared, req, r);
            }
            _ = woken => {}
            _ = tokio::time::sleep_until(deadline.into()) => {}
        }
    }
}

/// The response of the oldest request in flight (never resolves when there is none).
async fn oldest_response(in_flight: &mut VecDeque<InFlight>) -> Result<ProduceResponse> {
    match in_flight.front_mut() {
        Some(req) => (&mut req.response).await,
        None => std::future::pending().await,
    }
}

impl Sink {
    /// Sends what is ready, as long as requests may be added; returns when to look again.
    async fn send_ready(&mut self, shared: &Arc<ProducerCore>) -> Instant {
        let now = Instant::now();
        let mut next = now + Duration::from_millis(250);
        while self.in_flight.len() < shared.config.max_in_flight {
            if let Some(at) = self.reconnect_at.filter(|&at| at > Instant::now()) {
                return next.min(at);
            }
            if self.awaits_old_connection() {
                // Its requests are answered (or fail) first, putting their batches back in
                // their queues. A batch sent on a new connection before an earlier one is
                // back could reach the broker first: Kafka takes any sequence as a
                // producer's first in a partition, and the earlier batches would then be
                // refused forever.
                return next;
            }
            let (sent, wake_at) = self.collect(shared, Instant::now());
            next = next.min(wake_at);
            if sent.is_empty() {
                break;
            }
            if !self.dispatch(shared, sent).await {
                break;
            }
        }
        next
    }

    /// True while a request is in flight on a connection other than the current live one
    /// (dropped, or given up after a timeout).
    fn awaits_old_connection(&self) -> bool {
        self.in_flight.iter().any(|r| {
            !r.conn.is_alive() || !self.conn.as_ref().is_some_and(|c| Arc::ptr_eq(c, &r.conn))
        })
    }

    /// Takes one sendable batch from each of this broker's partitions, up to the request
    /// size; seals lingering batches on the way.
    fn collect(&mut self, shared: &ProducerCore, now: Instant) -> (Vec<Sent>, Instant) {
        let mut next = now + Duration::from_secs(1);
        let mut out = Vec::new();
        let routes = shared
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(mine) = routes.get(&self.broker).filter(|m| !m.is_empty()) else {
            return (out, next);
        };
        let _gate = shared.identity.gate();
        if shared.idempotent && shared.identity.bump_requested() {
            return (out, next); // the router bumps the epoch once nothing is in flight
        }
        let identity = shared.identity.current();
        let transaction = shared.transactions.as_ref().map(|t| t.number());
        let force =
            shared.flushing.load(Ordering::Relaxed) > 0 || shared.closed.load(Ordering::Relaxed);
        let ctx = shared.append_context();
        let budget = shared
            .config
            .max_request_size
            .saturating_sub(REQUEST_OVERHEAD);
        let linger = shared.config.linger;
        let mut size = 0;
        let mut failed = Vec::new();
        let start = self.rotate % mine.len();
        self.rotate = self.rotate.wrapping_add(1);
        for i in 0..mine.len() {
            let q = &mine[(start + i) % mine.len()];
            if q.leader() != self.broker {
                continue; // moved since the routes were built
            }
            let mut st = q.lock();
            if transaction.is_some_and(|n| st.txn_joined != n) {
                continue; // not in the open transaction yet: the transaction task adds it
            }
            let (due, bad) = q.seal_if_due(&mut st, now, linger, force, &ctx);
            if let Some(due) = due {
                next = next.min(due);
            }
            failed.extend(bad.map(|bad| {
                let (b, e) = *bad;
                (q.clone(), b, e)
            }));
            while st
                .ready
                .front()
                .is_some_and(|b| now.duration_since(b.created) >= shared.config.delivery_timeout)
            {
                let b = st.ready.pop_front().expect("checked");
                let e = shared.timeout_error(q, &b, "not sent in time");
                failed.push((q.clone(), b, e));
            }
            let Some(front_len) = st.ready.front().map(|b| b.bytes.len()) else {
                continue;
            };
            if let Some(at) = st.retry_at {
                if at > now {
                    next = next.min(at);
                    continue;
                }
                st.retry_at = None;
            }
            if st.retrying {
                if st.in_flight > 0 {
                    continue; // resend in order once the earlier requests are answered
                }
                st.retrying = false;
            }
            if st.in_flight as usize >= shared.config.max_in_flight
                || (shared.idempotent && !st.sequence_established && st.in_flight > 0)
            {
                continue; // see PartitionState::sequence_established
            }
            if !out.is_empty() && size + front_len > budget {
                continue;
            }
            let mut batch = st.ready.pop_front().expect("checked");
            if shared.idempotent {
                // A batch keeps its sequence across retries under one identity; under a new
                // one (none should be left after a bump restarted the sequences) it takes the
                // partition's next sequence like a fresh batch.
                let seq = match batch.stamp {
                    Some((id, epoch, seq)) if (id, epoch) == identity => seq,
                    _ => {
                        let seq = st.next_sequence;
                        st.next_sequence = next_sequence(seq, batch.records);
                        seq
                    }
                };
                if batch.stamp != Some((identity.0, identity.1, seq)) {
                    stamp(&mut batch, identity, seq);
                }
            }
            st.in_flight += 1;
            shared.in_flight_batches.fetch_add(1, Ordering::SeqCst);
            batch.attempts += 1;
            if batch.attempts > 1 {
                shared.counters.retries.fetch_add(1, Ordering::Relaxed);
            }
            size += batch.bytes.len();
            out.push(Sent {
                queue: q.clone(),
                batch,
            });
        }
        drop(_gate);
        for (q, b, e) in failed {
            shared.fail_batch(&q, b, Arc::new(e));
        }
        (out, next)
    }

    /// Puts one request on the wire. False when the connection is down.
    async fn dispatch(&mut self, shared: &Arc<ProducerCore>, sent: Vec<Sent>) -> bool {
        let conn = match self.connection(shared).await {
            Ok(c) => c,
            Err(e) => {
                let e = Arc::new(e);
                for s in sent {
                    self.apply_batch_result(shared, s, Err(e.clone()));
                }
                return false;
            }
        };
        let max_version = match shared.transactions {
            Some(_) => MAX_TRANSACTIONAL_PRODUCE_VERSION,
            None => MAX_PRODUCE_VERSION,
        };
        let version = match conn.version_for::<ProduceRequest>(Some(max_version)) {
            Ok(v) if v >= 3 => v,
            Ok(v) => {
                let e = Arc::new(Error::UnsupportedVersion {
                    api: ApiKey::Produce,
                    broker: conn.broker().to_string(),
                    ours: "3..=12".into(),
                    theirs: format!("..={v}"),
                });
                for s in sent {
                    self.apply_batch_result(shared, s, Err(e.clone()));
                }
                return false;
            }
            Err(e) => {
                let e = Arc::new(e);
                for s in sent {
                    self.apply_batch_result(shared, s, Err(e.clone()));
                }
                return false;
            }
        };
        let request = build_request(shared, &sent);
        if shared.config.acks == Acks::None {
            let sent_at = Instant::now();
            let result = conn.send_oneway(&request, version).await;
            drop(request);
            shared.counters.request_latency(sent_at.elapsed());
            let ok = result.is_ok();
            let outcome = result.map_err(Arc::new);
            for s in sent {
                self.apply_batch_result(
                    shared,
                    s,
                    outcome.clone().map(|_| Acked {
                        base_offset: -1,
                        log_append_time: -1,
                    }),
                );
            }
            if !ok {
                self.conn = None;
            }
            return ok;
        }
        match conn.dispatch(&request, version).await {
            Ok(pending) => {
                drop(request);
                self.in_flight.push_back(InFlight {
                    sent,
                    response: Box::pin(pending.response()),
                    sent_at: Instant::now(),
                    broker: conn.broker().to_string(),
                    conn,
                });
                true
            }
            Err(e) => {
                drop(request);
                self.conn = None;
                let e = Arc::new(e);
                for s in sent {
                    self.apply_batch_result(shared, s, Err(e.clone()));
                }
                false
            }
        }
    }

    async fn connection(&mut self, shared: &ProducerCore) -> Result<Arc<Connection>> {
        if let Some(c) = self.conn.as_ref().filter(|c| c.is_alive()) {
            return Ok(c.clone());
        }
        let limit = shared.config.client.connect_timeout * 2;
        let attempt = tokio::time::timeout(
            limit,
            shared.client.connection_for(
                &Target::Broker(self.broker),
                crate::client::Purpose::Produce,
            ),
        )
        .await
        .unwrap_or_else(|_| {
            Err(Error::ConnectTimeout {
                broker: format!("broker {}", self.broker),
                after: limit,
            })
        });
        match attempt {
            Ok(c) => {
                self.reconnect_at = None;
                self.conn = Some(c.clone());
                Ok(c)
            }
            Err(e) => {
                self.conn = None;
                self.reconnect_at = Some(Instant::now() + shared.config.retry_backoff);
                shared.request_metadata();
                Err(e)
            }
        }
    }

    /// Handles the answer to one request: every batch in it succeeds, retries or fails.
    fn apply_produce_response(
        &mut self,
        shared: &Arc<ProducerCore>,
        req: InFlight,
        result: Result<ProduceResponse>,
    ) {
        shared.counters.request_latency(req.sent_at.elapsed());
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                if e.is_connection_error() {
                    self.conn = None;
                }
                let e = Arc::new(e);
                for s in req.sent {
                    self.apply_batch_result(shared, s, Err(e.clone()));
                }
                return;
            }
        };
        let mut answers: HashMap<(&str, i32), Result<Acked, Error>> = HashMap::new();
        for topic in &response.responses {
            for p in &topic.partition_responses {
                let answer = match ErrorCode::try_from_code(p.error_code) {
                    None => Ok(Acked {
                        base_offset: p.base_offset,
                        log_append_time: p.log_append_time_ms,
                    }),
                    Some(code) => {
                        let mut message: Vec<String> =
                            p.error_message.iter().map(|m| m.to_string()).collect();
                        message.extend(p.record_errors.iter().map(|r| {
                            format!(
                                "record {}: {}",
                                r.batch_index,
                                r.batch_index_error_message.as_deref().unwrap_or("invalid")
                            )
                        }));
                        Err(Error::broker(code, ApiKey::Produce, &req.broker)
                            .topic(topic.name.0.as_str())
                            .partition(p.index)
                            .message((!message.is_empty()).then(|| message.join("; ")))
                            .build())
                    }
                };
                answers.insert((topic.name.0.as_str(), p.index), answer);
            }
        }
        let mut results = Vec::with_capacity(req.sent.len());
        for s in &req.sent {
            let key = (&*s.queue.topic.name, s.queue.partition);
            results.push(answers.remove(&key).unwrap_or_else(|| {
                Err(Error::Protocol {
                    api: ApiKey::Produce,
                    broker: req.broker.clone(),
                    message: format!("no answer for topic '{}' partition {}", key.0, key.1),
                })
            }));
        }
        drop(answers);
        for (s, r) in req.sent.into_iter().zip(results) {
            self.apply_batch_result(shared, s, r.map_err(Arc::new));
        }
    }

    /// Decides the fate of one batch that was sent (or could not be).
    fn apply_batch_result(
        &mut self,
        shared: &Arc<ProducerCore>,
        sent: Sent,
        result: std::result::Result<Acked, Arc<Error>>,
    ) {
        let Sent { queue, mut batch } = sent;
        let mut st = queue.lock();
        st.in_flight = st.in_flight.saturating_sub(1);
        shared.in_flight_batches.fetch_sub(1, Ordering::SeqCst);
        let error = match result {
            Ok(acked) => {
                Self::acked(&mut st, &batch);
                drop(st);
                shared.complete_batch(batch, Ok(acked));
                return;
            }
            Err(e) if e.code() == Some(ErrorCode::DuplicateSequenceNumber) => {
                // Already written by an earlier attempt whose answer was lost.
                Self::acked(&mut st, &batch);
                drop(st);
                let acked = Acked {
                    base_offset: -1,
                    log_append_time: -1,
                };
                shared.complete_batch(batch, Ok(acked));
                return;
            }
            Err(e) => e,
        };
        batch.last_error = Some(error.to_string());
        let action = classify(shared, &st, &batch, &error);
        let expired = batch.created.elapsed() >= shared.config.delivery_timeout;
        tracing::debug!(
            topic = %queue.topic.name,
            partition = queue.partition,
            stamp = ?batch.stamp,
            records = batch.records,
            acked_sequence = st.acked_sequence,
            next_sequence = st.next_sequence,
            in_flight = st.in_flight,
            ?action,
            error = %error,
            "produce attempt failed"
        );
        match action {
            Action::Retry | Action::RetryAfterBump if !expired => {
                if action == Action::RetryAfterBump {
                    shared.identity.request_bump();
                    shared.router_wake.notify_one();
                }
                st.failures += 1;
                st.retry_at = Some(Instant::now() + retry_backoff(shared, st.failures));
                st.retrying = true;
                st.requeue(batch);
                drop(st);
                if needs_metadata(&error) {
                    shared.request_metadata();
                }
                let leader = queue.leader();
                if leader != self.broker {
                    shared.wake_sink(leader);
                }
            }
            Action::Retry | Action::RetryAfterBump => {
                drop(st);
                let e = shared.timeout_error(&queue, &batch, "");
                shared.fail_batch(&queue, batch, Arc::new(e));
            }
            Action::Fail => {
                drop(st);
                shared.fail_batch(&queue, batch, error);
            }
            Action::Fatal => {
                drop(st);
                tracing::error!(error = %error, "producer can no longer send");
                let _ = shared.fatal.set(error.clone());
                shared.complete_batch(batch, Err(error.clone()));
                shared.abandon_with(error);
            }
        }
    }

    fn acked(st: &mut super::accumulator::PartitionState, batch: &ProducerBatch) {
        if let Some(seq) = batch.sequence() {
            // A resent batch acknowledged after later ones (its first answer was lost) must
            // not move the mark back.
            let next = next_sequence(seq, batch.records);
            if next.wrapping_sub(st.acked_sequence) > 0 {
                st.acked_sequence = next;
            }
            st.sequence_established = true;
        }
        st.failures = 0;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Retry,
    RetryAfterBump,
    Fail,
    Fatal,
}

fn classify(
    shared: &ProducerCore,
    st: &super::accumulator::PartitionState,
    batch: &ProducerBatch,
    error: &Error,
) -> Action {
    let stale_identity = batch
        .stamp
        .is_some_and(|(id, epoch, _)| (id, epoch) != shared.identity.current());
    match error.code() {
        // A transactional producer cannot bump its epoch inside a transaction: the batch
        // fails, the transaction must be aborted, and the bump follows the abort.
        Some(ErrorCode::OutOfOrderSequenceNumber | ErrorCode::UnknownProducerId)
            if shared.transactions.is_some() && !stale_identity =>
        {
            Action::Fail
        }
        Some(ErrorCode::OutOfOrderSequenceNumber) if shared.idempotent => {
            // As in the Java client: only the batch right after everything acknowledged can
            // tell that the broker lost records we were told are written; a new producer id
            // is then the only way on. Any later batch follows an earlier one the broker has
            // not taken yet (waiting for its retry, or still in flight on a dropped
            // connection) and is sent again after it. Bumping for such a batch would resend
            // batches of unknown outcome under a new identity: duplicates.
            if batch.sequence() == Some(st.acked_sequence) && !stale_identity {
                Action::RetryAfterBump
            } else {
                Action::Retry
            }
        }
        Some(ErrorCode::UnknownProducerId) if shared.idempotent => Action::RetryAfterBump,
        Some(ErrorCode::ProducerFenced | ErrorCode::InvalidProducerEpoch) => {
            if stale_identity {
                Action::Retry // sent under the identity we have since replaced
            } else {
                Action::Fatal
            }
        }
        Some(
            ErrorCode::ClusterAuthorizationFailed | ErrorCode::TransactionalIdAuthorizationFailed,
        ) => Action::Fatal,
        _ if error.is_retriable() => Action::Retry,
        _ => Action::Fail,
    }
}

fn needs_metadata(e: &Error) -> bool {
    e.is_connection_error()
        || matches!(
            e.code(),
            Some(
                ErrorCode::NotLeaderOrFollower
                    | ErrorCode::UnknownTopicOrPartition
                    | ErrorCode::LeaderNotAvailable
                    | ErrorCode::FencedLeaderEpoch
                    | ErrorCode::UnknownLeaderEpoch
                    | ErrorCode::NotEnoughReplicas
                    | ErrorCode::NotEnoughReplicasAfterAppend
            )
        )
}

fn retry_backoff(shared: &ProducerCore, failures: u32) -> Duration {
    let base = shared.config.retry_backoff;
    base.saturating_mul(1 << failures.saturating_sub(1).min(10))
        .min(Duration::from_secs(1).max(base))
}

/// The sequence after a batch of `records` starting at `seq` (sequences wrap to 0 after
/// i32::MAX, as in the Java client).
pub(crate) fn next_sequence(seq: i32, records: i32) -> i32 {
    if seq > i32::MAX - records {
        records - (i32::MAX - seq) - 1
    } else {
        seq + records
    }
}

/// Writes the producer id, epoch and base sequence into the batch (copying it only if
/// someone else still holds its bytes).
fn stamp(batch: &mut ProducerBatch, (id, epoch): (i64, i16), seq: i32) {
    let bytes = std::mem::take(&mut batch.bytes);
    let mut owned = bytes
        .try_into_mut()
        .unwrap_or_else(|shared| bytes::BytesMut::from(&shared[..]));
    // The batch came from our own encoder, so it has a whole header.
    if kafkit_record::set_producer_state(&mut owned, id, epoch, seq).is_ok() {
        batch.stamp = Some((id, epoch, seq));
    }
    batch.bytes = owned.freeze();
}

fn build_request(shared: &ProducerCore, sent: &[Sent]) -> ProduceRequest {
    let mut topics: Vec<TopicProduceData> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for s in sent {
        let name = &*s.queue.topic.name;
        let i = *index.entry(name).or_insert_with(|| {
            topics.push(
                TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_string(name.to_string()))),
            );
            topics.len() - 1
        });
        topics[i].partition_data.push(
            PartitionProduceData::default()
                .with_index(s.queue.partition)
                .with_records(Some(s.batch.bytes.clone())),
        );
    }
    ProduceRequest::default()
        .with_transactional_id(
            shared
                .transactions
                .as_ref()
                .map(|t| TransactionalId(StrBytes::from_string(t.id.clone()))),
        )
        .with_acks(shared.config.acks.wire())
        .with_timeout_ms(
            shared
                .config
                .client
                .request_timeout
                .as_millis()
                .min(i32::MAX as u128) as i32,
        )
        .with_topic_data(topics)
}

#[cfg(test)]
mod tests {
    use super::next_sequence;

    #[test]
    fn sequences_wrap_like_java() {
        assert_eq!(next_sequence(0, 5), 5);
        assert_eq!(next_sequence(i32::MAX - 4, 5), 0);
        assert_eq!(next_sequence(i32::MAX, 1), 0);
        assert_eq!(next_sequence(i32::MAX - 1, 5), 3);
    }
}
