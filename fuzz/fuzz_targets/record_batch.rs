//! Feeds arbitrary bytes to the record-set decoder: it must return errors, never panic, and
//! never allocate beyond its limits.
#![no_main]

use kafkit_record::{BatchReader, DecodeOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = DecodeOptions {
        check_crc: false, // let the fuzzer reach past the checksum
        max_decompressed: 1 << 20,
    };
    for batch in BatchReader::new(bytes::Bytes::copy_from_slice(data), options).flatten() {
        for record in batch.records() {
            let _ = record;
        }
    }
});
