//! Feeds arbitrary bytes to the connection's response decoding (header, then body) for every
//! API kafkit sends, at every version: it must return errors, never panic.
//!
//! kafka-protocol 0.18 allocates an array by its declared length before reading it, so a
//! malformed response can ask for gigabytes (docs/TESTING.md). That is its bug to fix; here
//! single allocations above 1 MiB fail (the fuzzer's frames are a few KiB, so no array they
//! can really hold needs more, and huge allocations would slow every run), and that failure
//! is told apart from a panic of ours: the target still fails on every panic.
#![no_main]
#![feature(alloc_error_hook)]

#[path = "capped_alloc.rs"]
mod capped_alloc;

use kafkit_client::wire::ApiKey;
use libfuzzer_sys::fuzz_target;

/// Single allocations above this fail (as an `Oversized` panic).
#[global_allocator]
static ALLOC: capped_alloc::Capped<{ 1 << 20 }> = capped_alloc::Capped;

/// The APIs kafkit sends requests for.
const APIS: [ApiKey; 29] = [
    ApiKey::ApiVersions,
    ApiKey::CreateAcls,
    ApiKey::CreatePartitions,
    ApiKey::CreateTopics,
    ApiKey::DeleteAcls,
    ApiKey::DeleteGroups,
    ApiKey::DeleteRecords,
    ApiKey::DeleteTopics,
    ApiKey::DescribeAcls,
    ApiKey::DescribeCluster,
    ApiKey::DescribeConfigs,
    ApiKey::DescribeGroups,
    ApiKey::Fetch,
    ApiKey::FindCoordinator,
    ApiKey::Heartbeat,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::InitProducerId,
    ApiKey::JoinGroup,
    ApiKey::LeaveGroup,
    ApiKey::ListGroups,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::OffsetCommit,
    ApiKey::OffsetDelete,
    ApiKey::OffsetFetch,
    ApiKey::Produce,
    ApiKey::SaslAuthenticate,
    ApiKey::SaslHandshake,
    ApiKey::SyncGroup,
];

fuzz_target!(|data: &[u8]| {
    let [api, version, frame @ ..] = data else {
        return;
    };
    let api = APIS[*api as usize % APIS.len()];
    // Versions 0..=17 cover every version these APIs have.
    let version = (*version % 18) as i16;
    let frame = bytes::Bytes::copy_from_slice(frame);
    capped_alloc::unless_oversized(|| kafkit_client::wire::decode_response(api, version, frame));
});
