//! Feeds arbitrary text as a jq filter, map and flatmap over a record: compile errors and run
//! errors, never a panic. (Expressions that loop forever, like `repeat(.)`, are jq's to
//! write; the target skips the few builtins that never end on their own.)
#![no_main]

use kafkit_store::ops::jq::Pipeline;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(code) = std::str::from_utf8(data) else {
        return;
    };
    if ["repeat", "recurse", "range", "until", "while", "limit", "def", "input", "$__loc__"]
        .iter()
        .any(|word| code.contains(word))
    {
        return;
    }
    let record = serde_json::json!({
        "topic": "t", "partition": 0, "offset": 7, "timestamp": 1,
        "key": "k", "value": {"n": 1, "items": [1, 2, "x"]}, "headers": [["h", "v"]],
    });
    for pipeline in [
        Pipeline::new(Some(code), None, None),
        Pipeline::new(None, Some(code), None),
        Pipeline::new(None, None, Some(code)),
    ]
    .into_iter()
    .flatten()
    {
        let _ = pipeline.apply(record.clone());
    }
});
