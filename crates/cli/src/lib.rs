//! The parts of the kafkit command line that other programs use: named YAML configurations
//! ([`settings`], from the `kafkit-settings` crate). The binary is `src/main.rs`.
#![warn(missing_docs)]

pub use kafkit_settings as settings;
