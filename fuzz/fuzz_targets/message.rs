//! Every stdio line goes through this decoder before rmcp sees it: whatever the bytes, it
//! must answer (a message or a refusal) and never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|line: &[u8]| {
    let _ = switchboard::fuzzing::decode_line(line);
});
