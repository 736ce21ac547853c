//! The parts of the kafkit command line that other programs and the fuzz targets use:
//! named YAML configurations ([`settings`]). The binary is `src/main.rs`.
#![warn(missing_docs)]

pub mod settings;
