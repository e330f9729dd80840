//! `config.yaml` is read at every start: any text must parse or fail with an error, never
//! panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|text: &str| {
    let _ = switchboard::fuzzing::parse_config(text);
});
