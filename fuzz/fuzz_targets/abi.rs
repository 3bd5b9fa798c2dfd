//! The guest ABI's host functions, called by a fixed module with arguments from any bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| silverline_fuzz::abi::abi(bytes));
