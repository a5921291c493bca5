#![no_main]
// Any cookie value gives a typed error (or a ticket) under a fixed key ring, never a panic.
use authrs_core::ticket::{KeyRing, TicketKey};

libfuzzer_sys::fuzz_target!(|data: &str| {
    let ring = KeyRing::new(vec![TicketKey::new(&[7u8; 32]).unwrap()]).unwrap();
    let _ = ring.verify(data, 1_795_409_468, None, Some(600));
});
