//! `cargo fuzz run decode_fold` (nightly): the contract decoder and fold on
//! arbitrary bytes. The body lives in the library so stable `cargo test`
//! runs it over the corpus too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    openova_flow_fuzz::decode_fold(data);
});
