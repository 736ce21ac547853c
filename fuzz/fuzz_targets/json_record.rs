//! Feeds arbitrary text to the JSON-lines record reader (`produce`'s input, a record as
//! `cat` prints it) with every key and value type: errors, never a panic; and a record it
//! reads prints and reads back to the same record.
#![no_main]

use kafkit_store::ops::json::{json_to_record, record_to_json, DataType};
use kafkit_store::ops::schemas::RecordFormat;
use kafkit_store::ConsumerRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    for (_, key_type) in DataType::ALL {
        for (_, value_type) in DataType::ALL {
            let format = RecordFormat::new(key_type, value_type);
            let Ok(new) = json_to_record(&value, &format, true) else {
                continue;
            };
            let record = ConsumerRecord {
                key: new.key.clone(),
                value: new.value.clone(),
                headers: new.headers.clone(),
                ..Default::default()
            };
            if let Ok(line) = record_to_json(&record, &format) {
                let again = serde_json::to_value(&line).expect("a record line serializes");
                let back = json_to_record(&again, &format, true)
                    .expect("a printed record reads back");
                assert_eq!((back.key, back.headers), (new.key, new.headers));
            }
        }
    }
});
