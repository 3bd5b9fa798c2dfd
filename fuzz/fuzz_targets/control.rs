//! Control-plane messages, command verification and module-bytes parsers, from any bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| silverline_fuzz::control(bytes));
