//! Feeds arbitrary text as a jq filter, map or flatmap over a record: compile errors and run
//! errors, never a panic. (Expressions that loop forever, like `repeat(.)`, are jq's to
//! write; the target skips the few builtins that never end on their own.)
#![no_main]
#![feature(alloc_error_hook)]

#[path = "capped_alloc.rs"]
mod capped_alloc;

use kafkit_store::ops::jq::Pipeline;
use libfuzzer_sys::fuzz_target;

/// jaq repeats a string as many times as a number asks (`"a" * 1e15`), sizing one allocation
/// by it: upstream's to bound (docs/TESTING.md). Here single allocations above 64 MiB fail,
/// and that failure is told apart from a panic, which still fails the target.
#[global_allocator]
static ALLOC: capped_alloc::Capped<{ 64 << 20 }> = capped_alloc::Capped;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the stage (filter, map or flatmap); the rest is the expression.
    let [stage, code @ ..] = data else {
        return;
    };
    let Ok(code) = std::str::from_utf8(code) else {
        return;
    };
    // `..` chained with other generators multiplies their outputs (`.. - .. - ..` over a
    // record runs past the 10 s limit): slow by design, as in jq.
    if [
        "repeat", "recurse", "range", "until", "while", "limit", "def", "input", "$__loc__", "..",
    ]
    .iter()
    .any(|word| code.contains(word))
    {
        return;
    }
    let pipeline = match stage % 3 {
        0 => Pipeline::new(Some(code), None, None),
        1 => Pipeline::new(None, Some(code), None),
        _ => Pipeline::new(None, None, Some(code)),
    };
    let Ok(pipeline) = pipeline else {
        return;
    };
    let record = serde_json::json!({
        "topic": "t", "partition": 0, "offset": 7, "timestamp": 1,
        "key": "k", "value": {"n": 1, "items": [1, 2, "x"]}, "headers": [["h", "v"]],
    });
    capped_alloc::unless_oversized(move || pipeline.apply(record).map(drop));
});
