//! Manifests of every kind, from any UTF-8 text.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    if let Ok(text) = std::str::from_utf8(bytes) {
        silverline_fuzz::manifest(text);
    }
});
