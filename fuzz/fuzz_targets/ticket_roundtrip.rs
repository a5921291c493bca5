#![no_main]
// Fuzzed fields → mint → verify: what verifies must be what was minted (the parser behind the MAC).
use authrs_core::identity::{AuthMethod, Roles};
use authrs_core::ticket::{KeyRing, Ticket, TicketKey};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let ring = KeyRing::new(vec![TicketKey::new(&[9u8; 32]).unwrap()]).unwrap();
    let (head, rest) = data.split_at(data.len().min(9));
    let mut h = [0u8; 9];
    h[..head.len()].copy_from_slice(head);
    let text = String::from_utf8_lossy(rest);
    let (user, roles) = text.split_once('\n').unwrap_or((&text, ""));
    let method = [AuthMethod::Password, AuthMethod::OpenId, AuthMethod::Cert][usize::from(h[0] % 3)];
    let issued = 1_795_409_468 + i64::from(h[1]);
    let mut t = Ticket::new(user, method, issued, i64::from(u16::from_le_bytes([h[2], h[3]])) + 1);
    if h[4] & 1 == 1 {
        t.roles = Some(Roles::from_list(roles));
    }
    if h[4] & 2 == 2 {
        t.address = Some(std::net::IpAddr::from([h[5], h[6], h[7], h[8]]));
    }
    if let Ok(cookie) = ring.mint(&t) {
        let back = ring.verify(&cookie, issued, t.address, None).expect("a minted ticket verifies");
        assert_eq!((back.user.as_str(), back.method, back.issued, back.expires), (t.user.as_str(), t.method, t.issued, t.expires));
        assert_eq!(back.roles, t.roles);
        assert_eq!(back.address, t.address);
    }
    // Bound to a cookie name: verifies under it, never under another.
    if let Ok(cookie) = ring.mint_for(&t, "AuthRs_Fuzz") {
        let back = ring.verify_for("AuthRs_Fuzz", &cookie, issued, t.address, None).expect("a minted ticket verifies");
        assert_eq!((back.user.as_str(), back.roles.as_ref()), (t.user.as_str(), t.roles.as_ref()));
        assert!(ring.verify_for("AuthRs_Fuzz2", &cookie, issued, t.address, None).is_err());
    }
});
