//! Feeds arbitrary bytes to the connection's response decoding (header, then body) for every
//! API kafkit sends, at every version: it must return errors, never panic.
//!
//! kafka-protocol 0.18 allocates an array by its declared length before reading it, so a
//! malformed response can ask for gigabytes (docs/TESTING.md). That is its bug to fix; here
//! allocations above 256 MiB fail, and the failure is told apart from a panic of ours: the
//! target still fails on every panic.
#![no_main]
#![feature(alloc_error_hook)]

use std::alloc::{GlobalAlloc, Layout, System};

use kafkit_client::protocol::messages::ApiKey;
use libfuzzer_sys::fuzz_target;

/// The system allocator, refusing single allocations above 256 MiB.
struct Capped;

const CAP: usize = 256 << 20;

unsafe impl GlobalAlloc for Capped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > CAP {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > CAP {
            return std::ptr::null_mut();
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Capped = Capped;

/// What the allocation-error hook panics with.
struct Oversized;

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
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        std::alloc::set_alloc_error_hook(|_| std::panic::panic_any(Oversized));
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Oversized>() {
                default(info);
            }
        }));
    });
    let [api, version, frame @ ..] = data else {
        return;
    };
    let api = APIS[*api as usize % APIS.len()];
    // Versions 0..=17 cover every version these APIs have.
    let version = (*version % 18) as i16;
    let frame = bytes::Bytes::copy_from_slice(frame);
    let decoded = std::panic::catch_unwind(|| kafkit_client::decode_response(api, version, frame));
    if let Err(payload) = decoded {
        if !payload.is::<Oversized>() {
            std::panic::resume_unwind(payload);
        }
    }
});
