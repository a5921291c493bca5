#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|text: &str| drop(authrs_core::authz::RequireTree::parse(text).map(|t| t.evaluate(None))));
