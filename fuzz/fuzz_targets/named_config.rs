//! Feeds arbitrary text to the named YAML configuration parser: a one-line error naming the
//! file, never a panic.
#![no_main]

use kafkit_settings::Settings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Settings::parse(text, std::path::Path::new("fuzz.yaml")) {
        let message = e.to_string();
        assert!(message.starts_with("fuzz.yaml"), "{message}");
    }
});
