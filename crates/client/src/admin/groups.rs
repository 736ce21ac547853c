//! Consumer groups: list, describe, delete; committed offsets (fetch / alter / delete); lag.

use std::collections::{BTreeMap, BTreeSet};

use crate::wire::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use crate::wire::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use crate::wire::messages::offset_fetch_request::OffsetFetchRequestGroup;
use crate::wire::messages::{
    ApiKey, ConsumerProtocolAssignment, DeleteGroupsRequest, DescribeGroupsRequest,
    FindCoordinatorRequest, GroupId, ListGroupsRequest, OffsetCommitRequest, OffsetDeleteRequest,
    OffsetFetchRequest, TopicName,
};
use crate::wire::{Decodable, StrBytes};
use bytes::{Buf, Bytes};

use super::{Admin, OffsetSpec};
use crate::client::Target;
use crate::error::{check_code, Error, Result};
use crate::wire::ErrorCode;

/// A group as listed by a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// Group id.
    pub group_id: String,
    /// Protocol type (`consumer` for consumer groups).
    pub protocol_type: String,
    /// State (`Stable`, `Empty`, ...), when the broker reports it.
    pub state: String,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// Member id given by the coordinator.
    pub member_id: String,
    /// Static membership id, if any.
    pub group_instance_id: Option<String>,
    /// Client id of the member.
    pub client_id: String,
    /// Host of the member.
    pub client_host: String,
    /// Raw subscription metadata.
    pub metadata: Bytes,
    /// Raw assignment.
    pub assignment: Bytes,
    /// The assignment decoded as a consumer-protocol assignment: topic → partitions.
    pub assigned: BTreeMap<String, Vec<i32>>,
}

/// A group as described by its coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// State (`Stable`, `Empty`, `Dead`, ...).
    pub state: String,
    /// Protocol type.
    pub protocol_type: String,
    /// Chosen protocol (assignor name for consumer groups).
    pub protocol: String,
    /// Members.
    pub members: Vec<GroupMember>,
    /// Node id of the coordinator.
    pub coordinator: i32,
}

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The next offset to read.
    pub offset: i64,
    /// Metadata stored with the commit.
    pub metadata: Option<String>,
}

/// Lag of a group on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Committed offset, if any.
    pub committed: Option<i64>,
    /// Log end offset.
    pub end: i64,
    /// `end - committed` (or `end - earliest` when nothing is committed).
    pub lag: i64,
}

fn group_id(g: &str) -> GroupId {
    GroupId(StrBytes::from_string(g.to_string()))
}

fn topic_name(t: &str) -> TopicName {
    TopicName(StrBytes::from_string(t.to_string()))
}

/// Decodes a consumer-protocol assignment; anything else gives an empty map.
fn decode_assignment(bytes: &Bytes) -> BTreeMap<String, Vec<i32>> {
    let mut buf = bytes.clone();
    if buf.remaining() < 2 {
        return BTreeMap::new();
    }
    let version = buf.get_i16().clamp(0, 3);
    ConsumerProtocolAssignment::decode(&mut buf, version)
        .map(|a| {
            a.assigned_partitions
                .into_iter()
                .map(|tp| (tp.topic.0.to_string(), tp.partitions))
                .collect()
        })
        .unwrap_or_default()
}

impl Admin {
    /// The coordinator of `group`: its node id and address.
    pub async fn find_coordinator(&self, group: &str) -> Result<(i32, String)> {
        self.client
            .with_retries("find coordinator", || self.find_coordinator_once(group))
            .await
    }

    /// One FindCoordinator request for `group`: the coordinator's id and address.
    async fn find_coordinator_once(&self, group: &str) -> Result<(i32, String)> {
        self.find_coordinator_once_of(0, group).await
    }

    /// Asks once for the coordinator of `key`: a group (`key_type` 0) or a transactional
    /// id (1). Returns its node id and address.
    pub(crate) async fn find_coordinator_once_of(
        &self,
        key_type: i8,
        key: &str,
    ) -> Result<(i32, String)> {
        let conn = self.client.connection(&Target::LeastLoaded).await?;
        let version = conn.version_for::<FindCoordinatorRequest>(None)?;
        let mut request = FindCoordinatorRequest::default().with_key_type(key_type);
        if version >= 4 {
            request.coordinator_keys = vec![StrBytes::from_string(key.to_string())];
        } else {
            request.key = StrBytes::from_string(key.to_string());
        }
        let r = conn.send_version(&request, version).await?;
        let (code, message, id, host, port) = match r.coordinators.into_iter().next() {
            Some(c) => (c.error_code, c.error_message, c.node_id.0, c.host, c.port),
            None => (r.error_code, r.error_message, r.node_id.0, r.host, r.port),
        };
        check_code(code, ApiKey::FindCoordinator, conn.broker()).map_err(|b| {
            let said = message.as_ref().map(|m| m.to_string());
            match key_type {
                0 => b.message(said).group(key),
                _ => b.message(Some(match said {
                    Some(m) if !m.is_empty() => format!("transactional id '{key}': {m}"),
                    _ => format!("transactional id '{key}'"),
                })),
            }
            .build()
        })?;
        Ok((id, format!("{host}:{port}")))
    }

    /// Runs `call` with `group`'s coordinator (id, address). When it fails retriably (the
    /// coordinator moved, is loading its groups, is not available yet, or the connection
    /// failed), the coordinator is looked up again and `call` retried, within the client's
    /// retry bound: a group's coordinator is only known for sure by asking.
    pub(crate) async fn at_coordinator<T, F, Fut>(
        &self,
        group: &str,
        what: &str,
        call: F,
    ) -> Result<T>
    where
        F: Fn(i32, String) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        self.client
            .with_retries(what, || async {
                let (id, addr) = self.find_coordinator_once(group).await?;
                call(id, addr).await
            })
            .await
    }

    /// Lists the groups known to every broker.
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>> {
        let view = self.client.cluster().await?;
        let mut out = Vec::new();
        let request = ListGroupsRequest::default();
        for id in view.brokers.keys() {
            let target = Target::Broker(*id);
            let response = self
                .client
                .with_retries("list groups", || self.client.send(&target, &request))
                .await?;
            check_code(
                response.error_code,
                ApiKey::ListGroups,
                &self.client.address_hint(&target),
            )
            .map_err(|b| b.build())?;
            out.extend(response.groups.into_iter().map(|g| GroupListing {
                group_id: g.group_id.0.to_string(),
                protocol_type: g.protocol_type.to_string(),
                state: g.group_state.to_string(),
            }));
        }
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out.dedup_by(|a, b| a.group_id == b.group_id);
        Ok(out)
    }

    /// Describes `group`: state, protocol, members and their assignments.
    pub async fn describe_group(&self, group: &str) -> Result<GroupDescription> {
        let request = &DescribeGroupsRequest::default().with_groups(vec![group_id(group)]);
        self.at_coordinator(group, "describe group", |coordinator, addr| async move {
            let target = Target::Address(addr.clone());
            let response = self.client.send(&target, request).await?;
            describe_answer(response, group, coordinator, &addr)
        })
        .await
    }

    /// Deletes an empty group and its committed offsets.
    pub async fn delete_group(&self, group: &str) -> Result<()> {
        let request = &DeleteGroupsRequest::default().with_groups_names(vec![group_id(group)]);
        self.at_coordinator(group, "delete group", |_, addr| async move {
            let response = self
                .client
                .send(&Target::Address(addr.clone()), request)
                .await?;
            for r in response.results {
                check_code(r.error_code, ApiKey::DeleteGroups, &addr)
                    .map_err(|b| b.group(group).build())?;
            }
            Ok(())
        })
        .await
    }

    /// Committed offsets of `group` (all topics when `topics` is `None`).
    pub async fn committed_offsets(
        &self,
        group: &str,
        topics: Option<&[&str]>,
    ) -> Result<BTreeMap<(String, i32), CommittedOffset>> {
        // Partitions are needed per topic; all partitions of each named topic.
        let wanted = match topics {
            None => None,
            Some(ts) => {
                let view = self.client.topic_metadata(ts).await?;
                Some(
                    ts.iter()
                        .map(|t| {
                            let parts = view
                                .topics
                                .get(*t)
                                .map(|i| i.partitions.iter().map(|p| p.id).collect())
                                .unwrap_or_default();
                            (t.to_string(), parts)
                        })
                        .collect::<Vec<(String, Vec<i32>)>>(),
                )
            }
        };
        let wanted = &wanted;
        self.at_coordinator(group, "fetch offsets", |_, addr| async move {
            let conn = self
                .client
                .connection(&Target::Address(addr.clone()))
                .await?;
            let version = conn.version_for::<OffsetFetchRequest>(None)?;
            let mut request = OffsetFetchRequest::default();
            if version >= 8 {
                use crate::wire::messages::offset_fetch_request::OffsetFetchRequestTopics;
                request.groups = vec![OffsetFetchRequestGroup::default()
                    .with_group_id(group_id(group))
                    .with_member_epoch(-1)
                    .with_topics(wanted.clone().map(|w| {
                        w.into_iter()
                            .map(|(t, ps)| {
                                OffsetFetchRequestTopics::default()
                                    .with_name(topic_name(&t))
                                    .with_partition_indexes(ps)
                            })
                            .collect()
                    }))];
            } else {
                use crate::wire::messages::offset_fetch_request::OffsetFetchRequestTopic;
                request.group_id = group_id(group);
                request.topics = wanted.clone().map(|w| {
                    w.into_iter()
                        .map(|(t, ps)| {
                            OffsetFetchRequestTopic::default()
                                .with_name(topic_name(&t))
                                .with_partition_indexes(ps)
                        })
                        .collect()
                });
            }
            let response = conn.send_version(&request, version).await?;
            let mut out = BTreeMap::new();
            let mut add = |topic: String,
                           partition: i32,
                           offset: i64,
                           metadata: Option<StrBytes>,
                           code: i16| {
                check_code(code, ApiKey::OffsetFetch, &addr)
                    .map_err(|b| b.group(group).topic(&topic).partition(partition).build())?;
                if offset >= 0 {
                    out.insert(
                        (topic, partition),
                        CommittedOffset {
                            offset,
                            metadata: metadata.map(|m| m.to_string()),
                        },
                    );
                }
                Ok::<_, Error>(())
            };
            if version >= 8 {
                for g in response.groups {
                    check_code(g.error_code, ApiKey::OffsetFetch, &addr)
                        .map_err(|b| b.group(group).build())?;
                    for t in g.topics {
                        for p in t.partitions {
                            add(
                                t.name.0.to_string(),
                                p.partition_index,
                                p.committed_offset,
                                p.metadata,
                                p.error_code,
                            )?;
                        }
                    }
                }
            } else {
                check_code(response.error_code, ApiKey::OffsetFetch, &addr)
                    .map_err(|b| b.group(group).build())?;
                for t in response.topics {
                    for p in t.partitions {
                        add(
                            t.name.0.to_string(),
                            p.partition_index,
                            p.committed_offset,
                            p.metadata,
                            p.error_code,
                        )?;
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    /// Commits `offsets` for `group` from outside the group (the group must have no active
    /// members, as with `kafka-consumer-groups --reset-offsets`).
    pub async fn alter_committed_offsets(
        &self,
        group: &str,
        offsets: &BTreeMap<(String, i32), CommittedOffset>,
    ) -> Result<()> {
        let mut by_topic: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for ((topic, partition), c) in offsets {
            by_topic.entry(topic).or_default().push(
                OffsetCommitRequestPartition::default()
                    .with_partition_index(*partition)
                    .with_committed_offset(c.offset)
                    .with_committed_leader_epoch(-1)
                    .with_committed_metadata(
                        c.metadata
                            .as_ref()
                            .map(|m| StrBytes::from_string(m.clone())),
                    ),
            );
        }
        let request = OffsetCommitRequest::default()
            .with_group_id(group_id(group))
            .with_generation_id_or_member_epoch(-1)
            .with_retention_time_ms(-1)
            .with_topics(
                by_topic
                    .into_iter()
                    .map(|(t, ps)| {
                        OffsetCommitRequestTopic::default()
                            .with_name(topic_name(t))
                            .with_partitions(ps)
                    })
                    .collect(),
            );
        let request = &request;
        self.at_coordinator(group, "commit offsets", |_, addr| async move {
            let response = self
                .client
                .send(&Target::Address(addr.clone()), request)
                .await?;
            for t in response.topics {
                for p in t.partitions {
                    check_code(p.error_code, ApiKey::OffsetCommit, &addr).map_err(|b| {
                        b.group(group)
                            .topic(t.name.0.to_string())
                            .partition(p.partition_index)
                            .build()
                    })?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Deletes the committed offsets of `group` for `partitions` of `topic`.
    pub async fn delete_committed_offsets(
        &self,
        group: &str,
        topic: &str,
        partitions: &[i32],
    ) -> Result<()> {
        let request = &OffsetDeleteRequest::default()
            .with_group_id(group_id(group))
            .with_topics(vec![OffsetDeleteRequestTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|p| OffsetDeleteRequestPartition::default().with_partition_index(*p))
                        .collect(),
                )]);
        self.at_coordinator(group, "delete offsets", |_, addr| async move {
            let response = self
                .client
                .send(&Target::Address(addr.clone()), request)
                .await?;
            check_code(response.error_code, ApiKey::OffsetDelete, &addr)
                .map_err(|b| b.group(group).topic(topic).build())?;
            for t in response.topics {
                for p in t.partitions {
                    check_code(p.error_code, ApiKey::OffsetDelete, &addr).map_err(|b| {
                        b.group(group)
                            .topic(topic)
                            .partition(p.partition_index)
                            .build()
                    })?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Lag of `group` on every partition it has committed offsets for.
    pub async fn lag(&self, group: &str) -> Result<Vec<PartitionLag>> {
        let committed = self.committed_offsets(group, None).await?;
        let topics: BTreeSet<&str> = committed.keys().map(|(t, _)| t.as_str()).collect();
        let mut out = Vec::new();
        for topic in topics {
            let ends = match self.list_offsets(topic, &[], OffsetSpec::Latest).await {
                Ok(e) => e,
                // A deleted topic can keep commits; it has no lag to show.
                Err(e) if e.code() == Some(ErrorCode::UnknownTopicOrPartition) => continue,
                Err(e) => return Err(e),
            };
            let starts = self.list_offsets(topic, &[], OffsetSpec::Earliest).await?;
            for (p, end) in ends {
                let c = committed.get(&(topic.to_string(), p)).map(|c| c.offset);
                let from = c.unwrap_or_else(|| starts.get(&p).map_or(0, |s| s.offset));
                out.push(PartitionLag {
                    topic: topic.to_string(),
                    partition: p,
                    committed: c,
                    end: end.offset,
                    lag: (end.offset - from).max(0),
                });
            }
        }
        Ok(out)
    }
}

/// The description of `group` in a DescribeGroups answer from its coordinator.
fn describe_answer(
    response: crate::wire::messages::DescribeGroupsResponse,
    group: &str,
    coordinator: i32,
    addr: &str,
) -> Result<GroupDescription> {
    let g = response
        .groups
        .into_iter()
        .next()
        .ok_or_else(|| Error::Protocol {
            api: ApiKey::DescribeGroups,
            broker: addr.to_string(),
            message: "response holds no group".into(),
        })?;
    check_code(g.error_code, ApiKey::DescribeGroups, addr)
        .map_err(|b| b.group(group).message(g.error_message.as_ref()).build())?;
    Ok(GroupDescription {
        group_id: g.group_id.0.to_string(),
        state: g.group_state.to_string(),
        protocol_type: g.protocol_type.to_string(),
        protocol: g.protocol_data.to_string(),
        coordinator,
        members: g
            .members
            .into_iter()
            .map(|m| GroupMember {
                assigned: decode_assignment(&m.member_assignment),
                member_id: m.member_id.to_string(),
                group_instance_id: m.group_instance_id.map(|i| i.to_string()),
                client_id: m.client_id.to_string(),
                client_host: m.client_host.to_string(),
                metadata: m.member_metadata,
                assignment: m.member_assignment,
            })
            .collect(),
    })
}
