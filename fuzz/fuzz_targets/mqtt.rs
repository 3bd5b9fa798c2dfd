//! The broker gate's MQTT packet parser, from any byte stream.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| silverline_fuzz::mqtt(bytes));
