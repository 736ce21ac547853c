//! The membership task of the classic group protocol, and commits.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::{Duration, Instant};

use crate::wire::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use crate::wire::messages::consumer_protocol_subscription::TopicPartition as OwnedTopic;
use crate::wire::messages::join_group_request::JoinGroupRequestProtocol;
use crate::wire::messages::leave_group_request::MemberIdentity;
use crate::wire::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use crate::wire::messages::sync_group_request::SyncGroupRequestAssignment;
use crate::wire::messages::{
    ApiKey, ConsumerProtocolAssignment, ConsumerProtocolSubscription, GroupId, HeartbeatRequest,
    JoinGroupRequest, LeaveGroupRequest, OffsetCommitRequest, SyncGroupRequest, TopicName,
};
use crate::wire::{Decodable, Encodable, StrBytes};
use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::assignor::Assignor;
use super::roster::{self, MemberAssignment};
use crate::client::{Purpose, Target};
use crate::consumer::consumer::ConsumerCore;
use crate::consumer::record::TopicPartition;
use crate::error::{check_code, Error, Result};
use crate::wire::ErrorCode;

/// SyncGroup attempts of a follower told REBALANCE_IN_PROGRESS before it rejoins.
const SYNC_RETRIES: u32 = 5;

/// Where this member stands in its group.
#[derive(Debug, Clone, Default)]
pub(crate) struct GroupState {
    pub member_id: String,
    pub generation: i32,
    pub coordinator: Option<String>,
}

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// What a member subscribes to.
#[derive(Debug, Clone)]
pub(crate) enum Subscription {
    /// These topics.
    Topics(Vec<String>),
    /// Every (non-internal) topic whose whole name matches, including ones created later.
    Pattern(regex::Regex),
}

impl Subscription {
    /// The topics subscribed to now (for a pattern: matching topics in fresh metadata).
    async fn topics(&self, shared: &ConsumerCore) -> Result<Vec<String>> {
        match self {
            Subscription::Topics(t) => Ok(t.clone()),
            Subscription::Pattern(re) => {
                let view = shared.client.refresh_metadata().await?;
                Ok(view
                    .topics
                    .values()
                    .filter(|t| !t.is_internal && t.error.is_none())
                    .filter(|t| re.find(&t.name).is_some_and(|m| m.len() == t.name.len()))
                    .map(|t| t.name.clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect())
            }
        }
    }
}

/// Starts the membership task.
pub(crate) fn start(
    shared: Weak<ConsumerCore>,
    subscription: Subscription,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(shared, subscription))
}

async fn run(weak: Weak<ConsumerCore>, subscription: Subscription) {
    let mut failures = 0u32;
    loop {
        let Some(shared) = weak.upgrade() else { return };
        if shared.closed.load(Ordering::SeqCst) {
            leave(&shared).await;
            return;
        }
        let topics = match subscription.topics(&shared).await {
            Ok(t) => t,
            Err(e) => {
                failures += 1;
                tracing::debug!(error = %e, "cannot list the subscribed topics");
                let wait = crate::client::backoff(&shared.config.client, failures);
                drop(shared);
                tokio::time::sleep(wait).await;
                continue;
            }
        };
        match join_and_sync(&shared, &topics).await {
            Ok((assigned, protocol)) => {
                failures = 0;
                let revoked = shared.apply_group_assignment(assigned).await;
                if protocol.is_cooperative() && revoked > 0 {
                    // KIP-429: what was given up can now go to others in a second round.
                    tracing::debug!(revoked, "cooperative rebalance: rejoining to hand over");
                    continue;
                }
                match heartbeat_until_rebalance(&shared, &subscription, &topics).await {
                    Ok(()) => {}
                    Err(e) => tracing::debug!(error = %e, "leaving the heartbeat loop"),
                }
            }
            Err(e) => {
                failures += 1;
                tracing::debug!(error = %e, failures, "group join failed");
                if matches!(
                    e.code(),
                    Some(ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable)
                ) || e.is_connection_error()
                {
                    shared.group_state().coordinator = None;
                }
                // A malformed assignment was logged; rejoining asks for a new one.
                let malformed = matches!(
                    e,
                    Error::Protocol {
                        api: ApiKey::SyncGroup,
                        ..
                    }
                );
                if !e.is_retriable()
                    && !malformed
                    && !matches!(
                        e.code(),
                        Some(
                            ErrorCode::UnknownMemberId
                                | ErrorCode::IllegalGeneration
                                | ErrorCode::RebalanceInProgress
                                | ErrorCode::MemberIdRequired
                        )
                    )
                {
                    shared.report(e);
                }
                let wait = crate::client::backoff(&shared.config.client, failures);
                drop(shared);
                tokio::time::sleep(wait).await;
            }
        }
    }
}

async fn coordinator(shared: &ConsumerCore) -> Result<Target> {
    if let Some(addr) = shared.group_state().coordinator.clone() {
        return Ok(Target::Address(addr));
    }
    let (_, addr) = shared
        .client
        .admin()
        .find_coordinator(shared.group_id())
        .await?;
    shared.group_state().coordinator = Some(addr.clone());
    Ok(Target::Address(addr))
}

/// Joins (handling MEMBER_ID_REQUIRED), assigns if leader, syncs. Returns the partitions
/// and the protocol the group chose.
async fn join_and_sync(
    shared: &ConsumerCore,
    topics: &[String],
) -> Result<(Vec<TopicPartition>, Assignor)> {
    let group = shared.group_id().to_string();
    let target = coordinator(shared).await?;
    let config = &shared.config;
    let owned: Vec<(String, i32)> = shared
        .owned_partitions()
        .into_iter()
        .map(|tp| (tp.topic, tp.partition))
        .collect();
    if config.enable_auto_commit && !owned.is_empty() {
        // As the Java client's onJoinPrepare: what was read is committed before rejoining,
        // so a member given one of these partitions in the new generation starts after it
        // (committing only after the new assignment races with that member's first fetch).
        if let Err(e) = commit(shared, None).await {
            tracing::debug!(error = %e, "commit before rejoining failed");
        }
    }
    let subscription = encode_subscription(topics, &owned, config.group_user_data.clone());
    let mut attempts = 0;
    let joined = loop {
        attempts += 1;
        let member_id = shared.group_state().member_id.clone();
        let request = JoinGroupRequest::default()
            .with_group_id(GroupId(sb(&group)))
            .with_session_timeout_ms(config.session_timeout.as_millis() as i32)
            .with_rebalance_timeout_ms(config.rebalance_timeout.as_millis() as i32)
            .with_member_id(sb(&member_id))
            .with_group_instance_id(config.group_instance_id.as_deref().map(sb))
            .with_protocol_type(sb("consumer"))
            .with_protocols(
                config
                    .assignors
                    .iter()
                    .map(|a| {
                        JoinGroupRequestProtocol::default()
                            .with_name(sb(a.name()))
                            .with_metadata(subscription.clone())
                    })
                    .collect(),
            );
        let (conn, response) = send_in_rebalance(shared, &target, &request).await?;
        match ErrorCode::try_from_code(response.error_code) {
            None => break response,
            Some(ErrorCode::MemberIdRequired) if attempts < 3 => {
                shared.group_state().member_id = response.member_id.to_string();
            }
            Some(code) => {
                if matches!(code, ErrorCode::UnknownMemberId) {
                    shared.group_state().member_id.clear();
                }
                return Err(Error::broker(code, ApiKey::JoinGroup, conn.broker())
                    .group(&group)
                    .build());
            }
        }
    };
    let member_id = joined.member_id.to_string();
    let generation = joined.generation_id;
    {
        let mut st = shared.group_state();
        st.member_id = member_id.clone();
        st.generation = generation;
    }
    let protocol = joined
        .protocol_name
        .as_ref()
        .and_then(|p| Assignor::from_name(p))
        .unwrap_or(Assignor::Range);
    let assignments = if joined.leader == joined.member_id {
        let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut owned: BTreeMap<String, Vec<(String, i32)>> = BTreeMap::new();
        let mut user_data: BTreeMap<String, Option<Bytes>> = BTreeMap::new();
        for m in &joined.members {
            let (topics, owns, data) = decode_subscription(&m.metadata);
            members.insert(m.member_id.to_string(), topics);
            owned.insert(m.member_id.to_string(), owns);
            user_data.insert(m.member_id.to_string(), data);
        }
        let all: Vec<String> = members
            .values()
            .flatten()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let names: Vec<&str> = all.iter().map(String::as_str).collect();
        let view = shared.client.topic_metadata(&names).await?;
        let counts: BTreeMap<String, i32> = view
            .topics
            .iter()
            .filter(|(_, t)| t.error.is_none())
            .map(|(n, t)| (n.clone(), t.partitions.len() as i32))
            .collect();
        tracing::debug!(
            ?protocol,
            members = members.len(),
            "leading the group assignment"
        );
        let assignment = protocol.assign_owned(&members, &owned, &counts);
        let roster = roster::encode(
            &assignment
                .iter()
                .map(|(m, tps)| MemberAssignment {
                    member_id: m.clone(),
                    user_data: user_data.get(m).cloned().flatten(),
                    partitions: tps
                        .iter()
                        .flat_map(|(t, ps)| {
                            ps.iter().map(move |p| TopicPartition::new(t.clone(), *p))
                        })
                        .collect(),
                })
                .collect::<Vec<_>>(),
        );
        assignment
            .into_iter()
            .map(|(m, tps)| {
                SyncGroupRequestAssignment::default()
                    .with_member_id(sb(&m))
                    .with_assignment(encode_assignment(&tps, roster.clone()))
            })
            .collect()
    } else {
        Vec::new()
    };
    let request = SyncGroupRequest::default()
        .with_group_id(GroupId(sb(&group)))
        .with_generation_id(generation)
        .with_member_id(sb(&member_id))
        .with_group_instance_id(config.group_instance_id.as_deref().map(sb))
        .with_protocol_type(Some(sb("consumer")))
        .with_protocol_name(Some(sb(protocol.name())))
        .with_assignments(assignments);
    let is_leader = joined.leader == joined.member_id;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (conn, response) = send_in_rebalance(shared, &target, &request).await?;
        let code = ErrorCode::try_from_code(response.error_code);
        if code == Some(ErrorCode::RebalanceInProgress) && !is_leader && attempt < SYNC_RETRIES {
            // Some brokers (Tansu) answer a follower that syncs before the leader with
            // REBALANCE_IN_PROGRESS instead of holding it: ask again for the same generation
            // before starting a whole new join round (which would restart everyone's).
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        check_code(response.error_code, ApiKey::SyncGroup, conn.broker())
            .map_err(|b| b.group(&group).build())?;
        let (mine, roster) = decode_assignment(&response.assignment).map_err(|message| {
            let message = format!("the assignment of group '{group}' does not decode: {message}");
            tracing::warn!(%message, "rejoining");
            Error::Protocol {
                api: ApiKey::SyncGroup,
                broker: conn.broker().to_string(),
                message,
            }
        })?;
        shared.set_roster(roster);
        return Ok((mine, protocol));
    }
}

/// Sends a JoinGroup or SyncGroup, which the coordinator may hold until every member has
/// joined: the wait is bounded by the rebalance timeout (plus a margin), not the request
/// timeout.
async fn send_in_rebalance<R: crate::wire::Request>(
    shared: &ConsumerCore,
    target: &Target,
    request: &R,
) -> Result<(std::sync::Arc<crate::conn::Connection>, R::Response)> {
    let limit = shared.config.rebalance_timeout;
    let conn = shared.client.connection_for(target, Purpose::Group).await?;
    let version = conn.version_for::<R>(None)?;
    let pending = conn
        .dispatch_with_timeout(request, version, limit + Duration::from_secs(5))
        .await?;
    let response = pending.response().await?;
    Ok((conn, response))
}

/// Heartbeats (and auto-commits) until the group rebalances or the member is expelled.
async fn heartbeat_until_rebalance(
    shared: &ConsumerCore,
    subscription: &Subscription,
    joined_with: &[String],
) -> Result<()> {
    let config = &shared.config;
    let mut last_commit = Instant::now();
    let mut last_match = Instant::now();
    loop {
        if shared.since_poll() > config.rebalance_timeout {
            // max.poll.interval: the application stopped polling, so hand the partitions to
            // members that are working; rejoin when it polls again.
            tracing::warn!(
                interval = ?config.rebalance_timeout,
                "poll not called within max.poll.interval; leaving the group"
            );
            leave_without_commit(shared).await;
            shared.lose_assignment();
            let polled = shared.poll_called.notified();
            tokio::pin!(polled);
            polled.as_mut().enable();
            if shared.since_poll() > config.rebalance_timeout {
                polled.await;
            }
            return Ok(());
        }
        if matches!(subscription, Subscription::Pattern(_))
            && last_match.elapsed() >= config.client.metadata_max_age
        {
            last_match = Instant::now();
            if subscription
                .topics(shared)
                .await
                .is_ok_and(|t| t != joined_with)
            {
                tracing::info!("the topics matching the subscription changed; rejoining");
                return Ok(());
            }
        }
        tokio::time::sleep(config.heartbeat_interval).await;
        if shared.closed.load(Ordering::SeqCst) {
            return Ok(());
        }
        if config.enable_auto_commit && last_commit.elapsed() >= config.auto_commit_interval {
            if let Err(e) = commit(shared, None).await {
                tracing::debug!(error = %e, "auto-commit failed");
            }
            last_commit = Instant::now();
        }
        let st = shared.group_state().clone();
        let target = match &st.coordinator {
            Some(a) => Target::Address(a.clone()),
            None => return Ok(()),
        };
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(sb(shared.group_id())))
            .with_generation_id(st.generation)
            .with_member_id(sb(&st.member_id))
            .with_group_instance_id(config.group_instance_id.as_deref().map(sb));
        let response = match shared.client.send(&target, &request).await {
            Ok(r) => r,
            Err(e) => {
                shared.group_state().coordinator = None;
                return Err(e);
            }
        };
        match ErrorCode::try_from_code(response.error_code) {
            None => {}
            Some(ErrorCode::RebalanceInProgress) => {
                tracing::debug!("group rebalancing");
                return Ok(());
            }
            Some(
                code @ (ErrorCode::UnknownMemberId
                | ErrorCode::IllegalGeneration
                | ErrorCode::FencedInstanceId),
            ) => {
                tracing::info!(?code, "expelled from the group; rejoining");
                shared.group_state().member_id.clear();
                shared.lose_assignment();
                return Ok(());
            }
            Some(code) => {
                shared.group_state().coordinator = None;
                let coordinator = st.coordinator.as_deref().unwrap_or("the coordinator");
                return Err(Error::broker(code, ApiKey::Heartbeat, coordinator)
                    .group(shared.group_id())
                    .build());
            }
        }
    }
}

/// Commits `offsets` (or every assigned partition's position) for the current generation.
pub(crate) async fn commit(
    shared: &ConsumerCore,
    offsets: Option<Vec<(TopicPartition, i64, Option<String>)>>,
) -> Result<()> {
    let offsets = match offsets {
        Some(o) => o,
        None => shared.positions(),
    };
    if offsets.is_empty() {
        return Ok(());
    }
    let st = shared.group_state().clone();
    let target = coordinator(shared).await?;
    let mut topics: BTreeMap<String, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for (tp, offset, metadata) in &offsets {
        topics.entry(tp.topic.clone()).or_default().push(
            OffsetCommitRequestPartition::default()
                .with_partition_index(tp.partition)
                .with_committed_offset(*offset)
                .with_committed_leader_epoch(-1)
                .with_committed_metadata(metadata.as_deref().map(sb)),
        );
    }
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(sb(shared.group_id())))
        .with_generation_id_or_member_epoch(st.generation)
        .with_member_id(sb(&st.member_id))
        .with_group_instance_id(shared.config.group_instance_id.as_deref().map(sb))
        .with_retention_time_ms(-1)
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    OffsetCommitRequestTopic::default()
                        .with_name(TopicName(sb(&t)))
                        .with_partitions(ps)
                })
                .collect(),
        );
    let conn = shared
        .client
        .connection_for(&target, Purpose::Group)
        .await?;
    // v10 names topics by id; names are what we have.
    let version = conn.version_for::<OffsetCommitRequest>(Some(9))?;
    let response = conn.send_version(&request, version).await?;
    for t in &response.topics {
        for p in &t.partitions {
            check_code(p.error_code, ApiKey::OffsetCommit, conn.broker()).map_err(|b| {
                b.group(shared.group_id())
                    .topic(t.name.0.as_str())
                    .partition(p.partition_index)
                    .build()
            })?;
        }
    }
    Ok(())
}

/// Commits (if auto-commit is on) and leaves the group.
pub(crate) async fn leave(shared: &ConsumerCore) {
    leave_with(shared, shared.config.enable_auto_commit).await
}

/// Leaves without committing: the records returned may not have been processed.
async fn leave_without_commit(shared: &ConsumerCore) {
    leave_with(shared, false).await
}

async fn leave_with(shared: &ConsumerCore, commit_first: bool) {
    let st = shared.group_state().clone();
    if st.member_id.is_empty() {
        return;
    }
    if commit_first {
        if let Err(e) = commit(shared, None).await {
            tracing::debug!(error = %e, "final commit failed");
        }
    }
    if shared.config.group_instance_id.is_some() {
        // A static member keeps its place: a restart within the session timeout takes its
        // partitions back without a rebalance (as the Java client does on close).
        return;
    }
    let Some(addr) = st.coordinator else { return };
    let result = async {
        let conn = shared
            .client
            .connection_for(&Target::Address(addr.clone()), Purpose::Group)
            .await?;
        let version = conn.version_for::<LeaveGroupRequest>(None)?;
        let mut request =
            LeaveGroupRequest::default().with_group_id(GroupId(sb(shared.group_id())));
        if version >= 3 {
            // v3+ names members (with their static instance id) instead of one member id.
            request.members = vec![MemberIdentity::default()
                .with_member_id(sb(&st.member_id))
                .with_group_instance_id(shared.config.group_instance_id.as_deref().map(sb))];
        } else {
            request.member_id = sb(&st.member_id);
        }
        conn.send_version(&request, version).await
    }
    .await;
    match result {
        Ok(r) => {
            if let Err(b) = check_code(r.error_code, ApiKey::LeaveGroup, &addr) {
                tracing::debug!(error = %b.group(shared.group_id()).build(), "leave group refused");
            }
        }
        Err(e) => tracing::debug!(error = %e, "leave group failed"),
    }
    shared.group_state().member_id.clear();
}

/// `[version: i16][ConsumerProtocolSubscription v1]`: topics and the partitions owned now
/// (what cooperative-sticky keeps; the other assignors ignore them).
fn encode_subscription(
    topics: &[String],
    owned: &[(String, i32)],
    user_data: Option<Bytes>,
) -> Bytes {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in owned {
        by_topic.entry(t).or_default().push(*p);
    }
    let s = ConsumerProtocolSubscription::default()
        .with_topics(topics.iter().map(|t| sb(t)).collect())
        .with_user_data(user_data)
        .with_owned_partitions(
            by_topic
                .into_iter()
                .map(|(t, ps)| {
                    OwnedTopic::default()
                        .with_topic(TopicName(sb(t)))
                        .with_partitions(ps)
                })
                .collect(),
        );
    let mut buf = BytesMut::new();
    buf.put_i16(1);
    // Encoding a message we just built with valid strings cannot fail.
    s.encode(&mut buf, 1).expect("a subscription encodes");
    buf.freeze()
}

/// A member's topics, owned partitions and user data (empty for what cannot be read).
fn decode_subscription(bytes: &Bytes) -> (BTreeSet<String>, Vec<(String, i32)>, Option<Bytes>) {
    let mut buf = bytes.clone();
    if buf.remaining() < 2 {
        return Default::default();
    }
    let version = buf.get_i16().clamp(0, 3);
    ConsumerProtocolSubscription::decode(&mut buf, version)
        .map(|s| {
            let owned = s
                .owned_partitions
                .into_iter()
                .flat_map(|o| {
                    let t = o.topic.0.to_string();
                    o.partitions.into_iter().map(move |p| (t.clone(), p))
                })
                .collect();
            (
                s.topics.into_iter().map(|t| t.to_string()).collect(),
                owned,
                s.user_data,
            )
        })
        .unwrap_or_default()
}

fn encode_assignment(tps: &BTreeMap<String, Vec<i32>>, user_data: Bytes) -> Bytes {
    let a = ConsumerProtocolAssignment::default()
        .with_user_data(Some(user_data))
        .with_assigned_partitions(
            tps.iter()
                .map(|(t, ps)| {
                    AssignedTopic::default()
                        .with_topic(TopicName(sb(t)))
                        .with_partitions(ps.clone())
                })
                .collect(),
        );
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    a.encode(&mut buf, 0).expect("an assignment encodes");
    buf.freeze()
}

/// This member's partitions, and the roster when a kafkit leader sent one. An empty
/// assignment (the leader gave this member nothing) is no partitions; bytes that do not
/// decode are an error naming what was wrong.
fn decode_assignment(
    bytes: &Bytes,
) -> std::result::Result<(Vec<TopicPartition>, Vec<MemberAssignment>), String> {
    if bytes.is_empty() {
        return Ok(Default::default());
    }
    let mut buf = bytes.clone();
    if buf.remaining() < 2 {
        return Err(format!("{} bytes, too short for a version", bytes.len()));
    }
    let version = buf.get_i16();
    if version < 0 {
        return Err(format!("version {version}"));
    }
    let a = ConsumerProtocolAssignment::decode(&mut buf, version.min(3))
        .map_err(|e| format!("version {version}, {} bytes: {e}", bytes.len()))?;
    let roster = a.user_data.and_then(roster::decode).unwrap_or_default();
    let mine = a
        .assigned_partitions
        .into_iter()
        .flat_map(|t| {
            let topic = t.topic.0.to_string();
            t.partitions
                .into_iter()
                .map(move |p| TopicPartition::new(topic.clone(), p))
        })
        .collect();
    Ok((mine, roster))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_decode_or_say_why_not() {
        let tps = BTreeMap::from([("t".to_string(), vec![0, 2])]);
        let (mine, _) = decode_assignment(&encode_assignment(&tps, Bytes::new())).unwrap();
        assert_eq!(
            mine,
            vec![TopicPartition::new("t", 0), TopicPartition::new("t", 2)]
        );
        assert_eq!(decode_assignment(&Bytes::new()).unwrap().0, vec![]);
        for bad in [&[0u8][..], &[0xff, 0xff], &[0, 0, 0, 0, 0, 9, 0]] {
            let e = decode_assignment(&Bytes::copy_from_slice(bad)).unwrap_err();
            assert!(!e.is_empty(), "{bad:?}");
        }
    }
}
