//! A source: the task that fetches the partitions one broker leads.
//!
//! Each turn it resolves pending seeks (ListOffsets), then sends one Fetch for every cursor
//! of its broker that is not paused, not already in flight and has a position, unless the
//! consumer's buffer is full. Each partition's answer becomes decoded batches (CRC checked,
//! inflated here, off the application's task) for `poll`, an offset reset, a metadata
//! refresh, or an error for the application.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::wire::messages::fetch_request::{FetchPartition, FetchTopic};
use crate::wire::messages::fetch_response::PartitionData;
use crate::wire::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use crate::wire::StrBytes;
use kafkit_record::{BatchReader, DecodeOptions, RecordBatch};
use tokio::sync::Notify;

use super::config::{Isolation, OffsetReset};
use super::consumer::{ConsumerCore, Fetched, Key};
use super::record::Offset;
use crate::admin::OffsetSpec;
use crate::client::Target;
use crate::error::{Error, Result};
use crate::wire::ErrorCode;

/// Wakes a source: new cursors, a seek, a resume, or room in the buffer.
#[derive(Debug)]
pub(crate) struct SourceHandle {
    pub wake: Notify,
}

/// Starts the source of `broker`.
pub(crate) fn start(shared: Weak<ConsumerCore>, broker: i32) -> Arc<SourceHandle> {
    let handle = Arc::new(SourceHandle {
        wake: Notify::new(),
    });
    tokio::spawn(run(shared, broker, handle.clone()));
    handle
}

/// One partition in a fetch, as it was when the fetch was built.
struct Work {
    key: Key,
    topic_id: uuid::Uuid,
    epoch: u64,
    offset: i64,
}

async fn run(weak: Weak<ConsumerCore>, broker: i32, handle: Arc<SourceHandle>) {
    let mut failures: u32 = 0;
    loop {
        let Some(shared) = weak.upgrade() else { return };
        if shared.closed.load(Ordering::SeqCst) {
            return;
        }
        let woken = handle.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        resolve_pending(&shared, broker).await;
        let work = take_work(&shared, broker);
        if work.is_empty() {
            drop(shared);
            let _ = tokio::time::timeout(Duration::from_secs(1), woken).await;
            continue;
        }
        match fetch(&shared, broker, &work).await {
            Ok(response) => {
                failures = 0;
                if apply_fetch_response(&shared, broker, &work, response) {
                    refresh_leaders(&shared).await;
                }
            }
            Err(e) => {
                failures += 1;
                {
                    let mut st = shared.lock();
                    for w in &work {
                        if let Some(c) = st.cursors.get_mut(&w.key).filter(|c| c.epoch == w.epoch) {
                            c.in_flight = false;
                        }
                    }
                }
                tracing::debug!(broker, error = %e, "fetch failed");
                if e.is_retriable() {
                    tokio::time::sleep(crate::client::backoff(&shared.config.client, failures))
                        .await;
                    refresh_leaders(&shared).await;
                } else {
                    let mut st = shared.lock();
                    let first = &work[0];
                    shared.push(
                        &mut st,
                        Fetched {
                            key: first.key.clone(),
                            epoch: first.epoch,
                            batches: VecDeque::new(),
                            bytes: 0,
                            aborted: VecDeque::new(),
                            error: Some(e),
                        },
                    );
                }
            }
        }
    }
}

/// Cursors of `broker` ready to fetch, marked in flight; none while the buffer is full.
fn take_work(shared: &ConsumerCore, broker: i32) -> Vec<Work> {
    let mut st = shared.lock();
    if st.buffered_bytes >= shared.config.max_buffered_bytes {
        return Vec::new();
    }
    let mut work = Vec::new();
    for (key, c) in st.cursors.iter_mut() {
        if c.leader != broker || c.paused || c.in_flight {
            continue;
        }
        if let Some(offset) = c.fetch_offset {
            c.in_flight = true;
            work.push(Work {
                key: key.clone(),
                topic_id: c.topic_id,
                epoch: c.epoch,
                offset,
            });
        }
    }
    work
}

/// Resolves seeks to the beginning, end or a timestamp for this broker's cursors.
async fn resolve_pending(shared: &ConsumerCore, broker: i32) {
    let pending: Vec<(Key, u64, Offset)> = shared
        .lock()
        .cursors
        .iter()
        .filter(|(_, c)| c.leader == broker)
        .filter_map(|(k, c)| c.pending.map(|p| (k.clone(), c.epoch, p)))
        .collect();
    for (key, epoch, target) in pending {
        // A read_committed consumer's end is the last stable offset, as in the Java client.
        let end = match shared.config.isolation {
            Isolation::ReadCommitted => OffsetSpec::LastStable,
            Isolation::ReadUncommitted => OffsetSpec::Latest,
        };
        let spec = match target {
            Offset::Beginning => OffsetSpec::Earliest,
            Offset::End => end,
            Offset::Timestamp(t) => OffsetSpec::Timestamp(t),
            Offset::At(_) => continue,
        };
        let answer = shared
            .client
            .admin()
            .list_offsets(&key.0, &[key.1], spec)
            .await;
        let resolved = match answer {
            Ok(map) => match map.get(&key.1).map(|o| o.offset) {
                Some(o) if o >= 0 => Ok(o),
                // No record at or after the timestamp: read from the end.
                Some(_) => shared
                    .client
                    .admin()
                    .list_offsets(&key.0, &[key.1], end)
                    .await
                    .map(|m| m.get(&key.1).map_or(0, |o| o.offset.max(0))),
                None => Err(Error::Unknown {
                    what: "partition",
                    name: format!("{}/{}", key.0, key.1),
                }),
            },
            Err(e) => Err(e),
        };
        let mut st = shared.lock();
        let Some(c) = st.cursors.get_mut(&key).filter(|c| c.epoch == epoch) else {
            continue; // sought again meanwhile
        };
        match resolved {
            Ok(offset) => {
                c.pending = None;
                c.fetch_offset = Some(offset);
                c.position = Some(offset);
            }
            Err(e) if e.is_retriable() => {
                tracing::debug!(topic = %key.0, partition = key.1, error = %e, "offset lookup failed; will retry");
            }
            Err(e) => {
                c.pending = None;
                shared.push(
                    &mut st,
                    Fetched {
                        key,
                        epoch,
                        batches: VecDeque::new(),
                        bytes: 0,
                        aborted: VecDeque::new(),
                        error: Some(e),
                    },
                );
            }
        }
    }
}

async fn fetch(shared: &ConsumerCore, broker: i32, work: &[Work]) -> Result<FetchResponse> {
    let config = &shared.config;
    let mut topics: Vec<FetchTopic> = Vec::new();
    let mut topic_index: HashMap<uuid::Uuid, usize> = HashMap::new();
    for w in work {
        let partition = FetchPartition::default()
            .with_partition(w.key.1)
            .with_fetch_offset(w.offset)
            .with_current_leader_epoch(-1)
            .with_last_fetched_epoch(-1)
            .with_log_start_offset(-1)
            .with_partition_max_bytes(config.max_partition_fetch_bytes);
        let i = *topic_index.entry(w.topic_id).or_insert_with(|| {
            topics.push(
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(w.key.0.to_string())))
                    .with_topic_id(w.topic_id),
            );
            topics.len() - 1
        });
        topics[i].partitions.push(partition);
    }
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(config.fetch_max_wait.as_millis().min(i32::MAX as u128) as i32)
        .with_min_bytes(config.fetch_min_bytes)
        .with_max_bytes(config.fetch_max_bytes)
        .with_isolation_level(match config.isolation {
            Isolation::ReadUncommitted => 0,
            Isolation::ReadCommitted => 1,
        })
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(topics);
    let conn = shared
        .client
        .connection_for(&Target::Broker(broker), crate::client::Purpose::Fetch)
        .await?;
    conn.send(&request).await
}

/// One partition of a fetch response, matched to the work it answers, its batches decoded.
struct Answer<'w> {
    work: &'w Work,
    /// The partition's answer (its records taken out and decoded into `batches`).
    data: PartitionData,
    batches: VecDeque<RecordBatch>,
    /// Where decoding stopped at a batch that does not decode, and why.
    corrupt: Option<(i64, kafkit_record::DecodeError)>,
    /// Record bytes the broker sent.
    bytes: usize,
}

/// Matches each partition of `response` to its work and decodes its batches (CRCs checked,
/// inflated). Runs without the consumer's lock: `poll` and the other sources go on.
fn decode<'w>(
    work: &'w [Work],
    response: FetchResponse,
    options: DecodeOptions,
) -> Vec<Answer<'w>> {
    // Responses name topics by id (v13+) or by name (older versions).
    let by_id: HashMap<(uuid::Uuid, i32), &Work> =
        work.iter().map(|w| ((w.topic_id, w.key.1), w)).collect();
    let by_name: HashMap<(&str, i32), &Work> =
        work.iter().map(|w| ((&*w.key.0, w.key.1), w)).collect();
    let mut answers = Vec::new();
    for topic in response.responses {
        for mut data in topic.partitions {
            let found = by_id
                .get(&(topic.topic_id, data.partition_index))
                .or_else(|| by_name.get(&(topic.topic.0.as_str(), data.partition_index)));
            let Some(&work) = found else {
                continue;
            };
            let mut answer = Answer {
                work,
                batches: VecDeque::new(),
                corrupt: None,
                bytes: 0,
                data: PartitionData::default(),
            };
            if data.error_code == 0 {
                let records = data.records.take().unwrap_or_default();
                answer.bytes = records.len();
                for batch in BatchReader::new(records, options) {
                    match batch {
                        Ok(b) => answer.batches.push_back(b),
                        Err(source) => {
                            let offset = answer
                                .batches
                                .back()
                                .map_or(work.offset, |b| b.header.next_offset());
                            answer.corrupt = Some((offset, source));
                            break;
                        }
                    }
                }
            }
            answer.data = data;
            answers.push(answer);
        }
    }
    answers
}

/// Applies a fetch response. Returns true when metadata must be refreshed.
fn apply_fetch_response(
    shared: &ConsumerCore,
    broker: i32,
    work: &[Work],
    response: FetchResponse,
) -> bool {
    let options = DecodeOptions {
        check_crc: shared.config.check_crcs,
        max_decompressed: shared.config.max_decompressed,
    };
    let failed = ErrorCode::try_from_code(response.error_code);
    let answers = match failed {
        Some(_) => Vec::new(),
        None => decode(work, response, options),
    };
    let mut refresh = false;
    let mut st = shared.lock();
    for w in work {
        if let Some(c) = st.cursors.get_mut(&w.key).filter(|c| c.epoch == w.epoch) {
            c.in_flight = false;
        }
    }
    if let Some(code) = failed {
        tracing::debug!(broker, ?code, "fetch failed as a whole");
        return true;
    }
    for answer in answers {
        let (w, p) = (answer.work, &answer.data);
        {
            let Some(c) = st.cursors.get_mut(&w.key).filter(|c| c.epoch == w.epoch) else {
                continue; // sought or unassigned meanwhile
            };
            let error = match ErrorCode::try_from_code(p.error_code) {
                None => None,
                Some(ErrorCode::OffsetOutOfRange) => {
                    match shared.config.auto_offset_reset {
                        OffsetReset::Earliest => c.pending = Some(Offset::Beginning),
                        OffsetReset::Latest => c.pending = Some(Offset::End),
                        OffsetReset::None => {}
                    }
                    c.fetch_offset = None;
                    if shared.config.auto_offset_reset != OffsetReset::None {
                        tracing::info!(topic = %w.key.0, partition = w.key.1, offset = w.offset, "offset out of range; resetting");
                        continue;
                    }
                    Some(
                        Error::broker(ErrorCode::OffsetOutOfRange, crate::wire::messages::ApiKey::Fetch, &shared.client.address_hint(&Target::Broker(broker)))
                            .topic(w.key.0.to_string())
                            .partition(w.key.1)
                            .message(Some(format!(
                                "offset {} is outside {}..{} and auto.offset.reset is none; seek to go on",
                                w.offset, p.log_start_offset, p.high_watermark
                            )))
                            .build(),
                    )
                }
                Some(
                    code @ (ErrorCode::NotLeaderOrFollower
                    | ErrorCode::UnknownTopicOrPartition
                    | ErrorCode::LeaderNotAvailable
                    | ErrorCode::FencedLeaderEpoch
                    | ErrorCode::UnknownLeaderEpoch
                    | ErrorCode::KafkaStorageError
                    | ErrorCode::UnknownTopicId
                    | ErrorCode::OffsetNotAvailable),
                ) => {
                    tracing::debug!(topic = %w.key.0, partition = w.key.1, ?code, "fetch: refreshing metadata");
                    refresh = true;
                    continue;
                }
                Some(code) => Some(
                    Error::broker(
                        code,
                        crate::wire::messages::ApiKey::Fetch,
                        &shared.client.address_hint(&Target::Broker(broker)),
                    )
                    .topic(w.key.0.to_string())
                    .partition(w.key.1)
                    .build(),
                ),
            };
            if p.high_watermark >= 0 {
                c.highwater = p.high_watermark;
            }
            c.last_stable = p.last_stable_offset;
            c.log_start = p.log_start_offset;
            let mut fetched = Fetched {
                key: w.key.clone(),
                epoch: w.epoch,
                batches: VecDeque::new(),
                bytes: 0,
                aborted: VecDeque::new(),
                error,
            };
            if fetched.error.is_none() {
                fetched.bytes = answer.bytes;
                fetched.batches = answer.batches;
                if let Some((offset, source)) = answer.corrupt {
                    fetched.error = Some(Error::Corrupt {
                        topic: w.key.0.to_string(),
                        partition: w.key.1,
                        offset,
                        source,
                    });
                }
                if let Some(last) = fetched.batches.back() {
                    c.fetch_offset = Some(last.header.next_offset().max(w.offset));
                } else if answer.bytes > 0 && fetched.error.is_none() {
                    fetched.error = Some(Error::Config(format!(
                        "the batch at offset {} of {}/{} is larger than max.partition.fetch.bytes ({})",
                        w.offset, w.key.0, w.key.1, shared.config.max_partition_fetch_bytes
                    )));
                }
                if let Some(aborted) = &p.aborted_transactions {
                    let mut a: Vec<(i64, i64)> = aborted
                        .iter()
                        .map(|t| (t.producer_id.0, t.first_offset))
                        .collect();
                    a.sort_by_key(|&(_, first)| first);
                    fetched.aborted = a.into();
                }
            }
            if fetched.error.is_some() {
                c.fetch_offset = None; // stop here until the application seeks
            }
            tracing::trace!(
                topic = %w.key.0,
                partition = w.key.1,
                offset = w.offset,
                batches = fetched.batches.len(),
                first = fetched.batches.front().map(|b| b.header.base_offset),
                error = fetched.error.as_ref().map(|e| e.to_string()),
                "fetched"
            );
            if fetched.error.is_some() || !fetched.batches.is_empty() {
                shared.push(&mut st, fetched);
            }
        }
    }
    refresh
}

/// Refreshes leaders and topic ids of the assigned partitions, starting sources as needed.
async fn refresh_leaders(shared: &ConsumerCore) {
    let topics: Vec<String> = {
        let st = shared.lock();
        let mut t: Vec<String> = st.cursors.keys().map(|(t, _)| t.to_string()).collect();
        t.sort();
        t.dedup();
        t
    };
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let view = match shared.client.topic_metadata(&names).await {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(error = %e, "consumer metadata refresh failed");
            return;
        }
    };
    {
        let mut st = shared.lock();
        for c in st.cursors.values_mut() {
            if let Some(t) = view.topics.get(&*c.topic) {
                c.topic_id = t.id;
                c.leader = t
                    .partition(c.partition)
                    .and_then(|p| p.leader)
                    .filter(|l| view.brokers.contains_key(l))
                    .unwrap_or(-1);
            }
        }
    }
    shared.ensure_sources();
}
