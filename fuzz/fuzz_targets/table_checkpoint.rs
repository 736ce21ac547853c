//! Feeds arbitrary bytes to the table checkpoint decoder: it must return errors, never
//! panic, and never allocate beyond what the bytes can hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kafkit_table::decode_checkpoint(data);
});
