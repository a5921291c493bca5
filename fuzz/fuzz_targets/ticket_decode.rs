#![no_main]
// Any cookie value gives a typed error (or a ticket) under a fixed key ring, never a panic;
// the in-place path (`verify_ref`) and the owned one agree on every input, unbound or read from
// a named cookie (the engine's path).
use authrs_core::ticket::{KeyRing, TicketBuf, TicketKey};

libfuzzer_sys::fuzz_target!(|data: &str| {
    let ring = KeyRing::new(vec![TicketKey::new(&[7u8; 32]).unwrap()]).unwrap();
    let owned = ring.verify(data, 1_795_409_468, None, Some(600));
    let mut buf = TicketBuf::new();
    let borrowed = ring.verify_ref(data, &mut buf, 1_795_409_468, None, Some(600));
    assert_eq!(owned, borrowed.map(|t| t.to_ticket()));
    let owned = ring.verify_for("AuthRs_Fuzz", data, 1_795_409_468, None, Some(600));
    let mut buf = TicketBuf::new();
    let borrowed = ring.verify_ref_for("AuthRs_Fuzz", data, &mut buf, 1_795_409_468, None, Some(600));
    assert_eq!(owned, borrowed.map(|t| t.to_ticket()));
});
