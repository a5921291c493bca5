#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| { let _ = authrs_core::login::LoginForm::parse(data); });
