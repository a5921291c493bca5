#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|text: &str| { if let Ok(tree) = authrs_core::authz::RequireTree::parse(text) { let _ = tree.evaluate(None); } });
