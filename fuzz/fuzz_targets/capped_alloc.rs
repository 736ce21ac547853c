//! A global allocator that refuses single allocations above `CAP` bytes, and a way to run
//! code where such a refusal is a panic of its own kind instead of an abort: for decoders
//! of upstream crates that size an allocation by what the input says (kafka-protocol
//! pre-allocates arrays by their declared length; jaq repeats a string as many times as a
//! number asks). A refusal is told apart from any other panic, which still fails the target.

use std::alloc::{GlobalAlloc, Layout, System};

/// The system allocator, refusing single allocations above `CAP` bytes.
pub struct Capped<const CAP: usize>;

unsafe impl<const CAP: usize> GlobalAlloc for Capped<CAP> {
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

/// What the allocation-error hook panics with.
struct Oversized;

/// Runs `work`; an allocation the allocator refused (or a capacity overflow on the way to
/// one) ends it quietly, any other panic goes on.
pub fn unless_oversized<T>(work: impl FnOnce() -> T) {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        std::alloc::set_alloc_error_hook(|_| std::panic::panic_any(Oversized));
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !is_oversized(info.payload()) {
                default(info);
            }
        }));
    });
    // Nothing `work` touched is used after it panics.
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        if !is_oversized(payload.as_ref()) {
            std::panic::resume_unwind(payload);
        }
    }
}

fn is_oversized(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<Oversized>()
        || payload
            .downcast_ref::<String>()
            .is_some_and(|m| m == "capacity overflow")
        || payload
            .downcast_ref::<&str>()
            .is_some_and(|m| *m == "capacity overflow")
}
