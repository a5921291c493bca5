//! The borrowed verification path (`verify_ref`/`open_ref`): golden tickets minted by an
//! earlier build, parity with the owned path, and signed-but-hostile payloads.

use super::*;
use crate::identity::{AuthMethod, Roles};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const NOW: UnixTime = 1_795_409_468;
const SECRET: [u8; 32] = [7u8; 32];

/// Minted by `authrs ticket mint` before tickets were read in place (key: 32 bytes of 7,
/// `--now 1795409468`): cert, 2h, three scoped/unscoped roles, bound to 2001:db8::7.
const GOLDEN_RICH: &str = "Adv-Ce4DAAAAAGsDxjwAAAAAawPiXAAAAABrA8Y8ABFhbGljZUBleGFtcGxlLm9yZwYgAQ24AAAAAAAAAAAAAAAHAQACAAVhZG1pbgACAAhwcm9qZWN0WAAIcHJvamVjdFkABnJlYWRlcgAA-ao4Xbx9g6VAv9723NqeDbnSOHd3H1MjfPYzr0lsIHk";
/// Same key and time: user `José` (non-ASCII), password, 30m, no roles, unbound.
const GOLDEN_PLAIN: &str = "Adv-Ce4BAAAAAGsDxjwAAAAAawPNRAAAAABrA8Y8AAVKb3PDqQAAqHSMCPPAx6N8MmcZyyhftacaefQctKcIrHPkaJ1WNh0";
/// Same key and time: user `bob`, 8h, role `ops`, bound to 192.0.2.7.
const GOLDEN_V4: &str = "Adv-Ce4BAAAAAGsDxjwAAAAAawQ2vAAAAABrA8Y8AANib2IEwAACBwEAAQADb3BzAACABBOIAC4iLSxL9hhXw6P9AlwUhPJM4u01dGdLnlwMuw";

fn ring() -> KeyRing {
    KeyRing::new(vec![TicketKey::new(&SECRET).unwrap()]).unwrap()
}

/// Signs an arbitrary payload as the ring would: what only a key holder can produce.
fn sign(payload: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&SECRET).unwrap();
    mac.update(b"authrs-ticket-v1\0");
    mac.update(payload);
    let mut out = payload.to_vec();
    out.extend_from_slice(&mac.finalize().into_bytes());
    URL_SAFE_NO_PAD.encode(out)
}

/// The payload (tag stripped) of a cookie minted by `ring()`.
fn payload_of(cookie: &str) -> Vec<u8> {
    let raw = URL_SAFE_NO_PAD.decode(cookie).unwrap();
    raw[..raw.len() - 32].to_vec()
}

fn open_ref_err(r: &KeyRing, cookie: &str) -> TicketError {
    let mut buf = TicketBuf::new();
    r.open_ref(cookie, &mut buf).unwrap_err()
}

#[test]
fn golden_tickets_still_verify() {
    let r = ring();
    let mut buf = TicketBuf::new();
    let peer: IpAddr = "2001:db8::7".parse().unwrap();
    let t = r
        .verify_ref(GOLDEN_RICH, &mut buf, NOW + 10, Some(peer), Some(600))
        .unwrap();
    assert_eq!(t.user, "alice@example.org");
    assert_eq!(t.method, AuthMethod::Cert);
    assert_eq!((t.issued, t.expires, t.last_seen), (NOW, NOW + 7200, NOW));
    assert_eq!(t.address, Some(peer));
    assert_eq!(t.key_id, r.signing_key_id());
    let roles = t.roles.unwrap();
    assert_eq!(roles.len(), 2);
    assert_eq!(roles.grant_count(), 3, "two scoped grants and one unscoped");
    assert_eq!(
        roles.to_roles(),
        Roles::from_list("admin:projectX,admin:projectY,reader")
    );
    let listed: Vec<(&str, Vec<&str>)> = roles.iter().map(|(r, s)| (r, s.collect())).collect();
    assert_eq!(
        listed,
        vec![("admin", vec!["projectX", "projectY"]), ("reader", vec![])]
    );
    // Minting the decoded ticket again gives the very same bytes: the wire format is unchanged.
    assert_eq!(r.mint(&t.to_ticket()).unwrap(), GOLDEN_RICH);

    let t = r
        .verify_ref(GOLDEN_PLAIN, &mut buf, NOW, None, None)
        .unwrap();
    assert_eq!(
        (t.user, t.method, t.roles),
        ("José", AuthMethod::Password, None)
    );
    assert_eq!(t.expires, NOW + 1800);
    assert_eq!(r.mint(&t.to_ticket()).unwrap(), GOLDEN_PLAIN);

    let v4: IpAddr = "192.0.2.7".parse().unwrap();
    let t = r
        .verify_ref(GOLDEN_V4, &mut buf, NOW, Some(v4), None)
        .unwrap();
    assert_eq!(t.user, "bob");
    assert_eq!(t.roles.unwrap().to_roles(), Roles::from_list("ops"));
    assert_eq!(r.mint(&t.to_ticket()).unwrap(), GOLDEN_V4);
}

#[test]
fn borrowed_and_owned_paths_agree_on_every_error() {
    let r = ring();
    let peer: IpAddr = "2001:db8::7".parse().unwrap();
    let cases = [
        (GOLDEN_RICH, NOW, Some(peer), None, Ok(())),
        (
            GOLDEN_RICH,
            NOW + 7200,
            Some(peer),
            None,
            Err(TicketError::Expired),
        ),
        (
            GOLDEN_RICH,
            NOW + 600,
            Some(peer),
            Some(600),
            Err(TicketError::Idle),
        ),
        (
            GOLDEN_RICH,
            NOW,
            None,
            None,
            Err(TicketError::AddressMismatch),
        ),
        (
            GOLDEN_RICH,
            NOW - 61,
            Some(peer),
            None,
            Err(TicketError::ClockSkew),
        ),
        (GOLDEN_PLAIN, NOW, None, None, Ok(())),
    ];
    for (cookie, now, peer, idle, want) in cases {
        let mut buf = TicketBuf::new();
        let borrowed = r.verify_ref(cookie, &mut buf, now, peer, idle);
        let owned = r.verify(cookie, now, peer, idle);
        assert_eq!(borrowed.map(|_| ()), want, "{now}");
        assert_eq!(owned.map(|_| ()), want, "{now}");
        if want.is_ok() {
            assert_eq!(
                borrowed.unwrap().to_ticket(),
                r.verify(cookie, now, peer, idle).unwrap()
            );
        }
    }
    // Tampering, foreign keys and garbage: same typed error both ways.
    let other = KeyRing::new(vec![TicketKey::new(&[8u8; 32]).unwrap()]).unwrap();
    let mut flipped = URL_SAFE_NO_PAD.decode(GOLDEN_PLAIN).unwrap();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let flipped = URL_SAFE_NO_PAD.encode(flipped);
    for (ring, cookie, want) in [
        (&r, flipped.as_str(), TicketError::BadSignature),
        (&other, GOLDEN_PLAIN, TicketError::UnknownKey),
        (&r, "not a ticket", TicketError::Malformed),
        (&r, "", TicketError::Malformed),
    ] {
        assert_eq!(open_ref_err(ring, cookie), want, "{cookie}");
        assert_eq!(ring.open(cookie).unwrap_err(), want, "{cookie}");
    }
}

#[test]
fn trailing_garbage_is_refused() {
    let r = ring();
    // After the base64 text: either not canonical base64 or a tag over other bytes.
    for tail in ["A", "AA", "AAA", "AAAA", "=", ".", "%3D", ";x=1", " "] {
        let cookie = format!("{GOLDEN_PLAIN}{tail}");
        let err = open_ref_err(&r, &cookie);
        assert!(
            matches!(err, TicketError::Malformed | TicketError::BadSignature),
            "{tail:?}: {err:?}"
        );
    }
    // Inside the signed payload (a key holder's mistake, or a leaked key): still Malformed.
    let mut payload = payload_of(GOLDEN_V4);
    payload.push(0);
    assert_eq!(open_ref_err(&r, &sign(&payload)), TicketError::Malformed);
    // …and a payload cut short is Malformed at every length, signed or not.
    let payload = payload_of(GOLDEN_RICH);
    for n in 0..payload.len() {
        let err = open_ref_err(&r, &sign(&payload[..n]));
        assert_eq!(err, TicketError::Malformed, "prefix of {n} bytes");
    }
}

/// A payload with the given user, address tag and raw roles section, signed.
fn crafted(user: &[u8], roles: &[u8]) -> String {
    let key = TicketKey::new(&SECRET).unwrap();
    let kid = key_id_bytes(&key);
    let mut p = vec![TICKET_VERSION];
    p.extend_from_slice(&kid);
    p.push(1);
    p.extend_from_slice(&NOW.to_be_bytes());
    p.extend_from_slice(&(NOW + 60).to_be_bytes());
    p.extend_from_slice(&NOW.to_be_bytes());
    p.extend_from_slice(&(user.len() as u16).to_be_bytes());
    p.extend_from_slice(user);
    p.push(0);
    p.extend_from_slice(roles);
    sign(&p)
}

fn key_id_bytes(key: &TicketKey) -> [u8; 4] {
    let hex = key.id().as_bytes();
    let mut out = [0u8; 4];
    for (i, b) in out.iter_mut().enumerate() {
        let s = std::str::from_utf8(&hex[2 * i..2 * i + 2]).unwrap();
        *b = u8::from_str_radix(s, 16).unwrap();
    }
    out
}

/// A roles section: flag 1, count, then `(role, scopes)` entries as given.
fn roles_section(entries: &[(&[u8], &[&[u8]])]) -> Vec<u8> {
    let mut out = vec![1];
    out.extend_from_slice(&(entries.len() as u16).to_be_bytes());
    for (role, scopes) in entries {
        out.extend_from_slice(&(role.len() as u16).to_be_bytes());
        out.extend_from_slice(role);
        out.extend_from_slice(&(scopes.len() as u16).to_be_bytes());
        for s in *scopes {
            out.extend_from_slice(&(s.len() as u16).to_be_bytes());
            out.extend_from_slice(s);
        }
    }
    out
}

#[test]
fn signed_hostile_fields_are_malformed() {
    let r = ring();
    let mut buf = TicketBuf::new();
    // The crafting itself is right: a clean payload verifies.
    let ok = crafted(b"eve", &roles_section(&[(b"admin", &[b"x"])]));
    let t = r.open_ref(&ok, &mut buf).unwrap();
    assert_eq!(t.roles.unwrap().to_roles(), Roles::from_list("admin:x"));

    let malformed: Vec<(&str, String)> = vec![
        (
            "duplicated role",
            crafted(
                b"eve",
                &roles_section(&[(b"admin", &[]), (b"admin", &[b"x"])]),
            ),
        ),
        (
            "duplicated role, unsorted",
            crafted(
                b"eve",
                &roles_section(&[(b"b", &[]), (b"a", &[]), (b"b", &[])]),
            ),
        ),
        ("empty role", crafted(b"eve", &roles_section(&[(b"", &[])]))),
        (
            "empty scope",
            crafted(b"eve", &roles_section(&[(b"a", &[b""])])),
        ),
        (
            "control in role",
            crafted(b"eve", &roles_section(&[(b"a\x1b[0m", &[])])),
        ),
        (
            "C1 control in scope",
            crafted(b"eve", &roles_section(&[(b"a", &["\u{85}".as_bytes()])])),
        ),
        (
            "invalid UTF-8 in role",
            crafted(b"eve", &roles_section(&[(b"\xff", &[])])),
        ),
        ("role count too high", {
            let mut s = roles_section(&[(b"a", &[])]);
            s[2] = 2;
            crafted(b"eve", &s)
        }),
        ("roles flag 2", crafted(b"eve", &[2])),
        ("user with CR LF", crafted(b"eve\r\nX-User: root", &[0])),
        ("user with NUL", crafted(b"eve\0root", &[0])),
        ("empty user", crafted(b"", &[0])),
        ("user not UTF-8", crafted(b"\xc3", &[0])),
        ("user too long", crafted(&[b'u'; MAX_USER_LEN + 1], &[0])),
    ];
    for (what, cookie) in malformed {
        assert_eq!(open_ref_err(&r, &cookie), TicketError::Malformed, "{what}");
        assert_eq!(
            r.open(&cookie).unwrap_err(),
            TicketError::Malformed,
            "{what}"
        );
    }

    // What the owned decoder accepted stays accepted: unsorted roles, a repeated scope.
    let unsorted = crafted(
        b"eve",
        &roles_section(&[(b"b", &[]), (b"a", &[b"y", b"x", b"x"])]),
    );
    let t = r.open_ref(&unsorted, &mut buf).unwrap();
    assert_eq!(
        t.roles.unwrap().grant_count(),
        4,
        "room for every scope sent"
    );
    assert_eq!(t.roles.unwrap().to_roles(), Roles::from_list("b,a:x,a:y"));
    // Non-ASCII but clean text passes the slow path.
    let utf8 = crafted(
        "Zoë".as_bytes(),
        &roles_section(&[("rôle".as_bytes(), &[])]),
    );
    let t = r.open_ref(&utf8, &mut buf).unwrap();
    assert_eq!(t.user, "Zoë");
    assert_eq!(t.roles.unwrap().iter().next().unwrap().0, "rôle");
}

#[test]
fn overlong_cookies_are_malformed_before_decoding() {
    let r = ring();
    for len in [MAX_COOKIE_LEN + 1, 64 * 1024, 10 * 1024 * 1024] {
        let cookie = format!("{GOLDEN_PLAIN}{}", "A".repeat(len - GOLDEN_PLAIN.len()));
        assert_eq!(open_ref_err(&r, &cookie), TicketError::Malformed, "{len}");
    }
    // A huge but signed roles list up to the limit still works through the heap buffer.
    let mut t = Ticket::new("a", AuthMethod::Password, NOW, 60);
    let list: Vec<String> = (0..150).map(|i| format!("r{i:03}:s")).collect();
    t.roles = Some(Roles::from_list(&list.join(",")));
    let cookie = r.mint(&t).unwrap();
    assert!(cookie.len() > 1000);
    let mut buf = TicketBuf::new();
    let back = r.open_ref(&cookie, &mut buf).unwrap();
    assert_eq!(back.roles.unwrap().len(), 150);
    // The buffer is reusable: a small ticket after a large one.
    let back = r.open_ref(GOLDEN_PLAIN, &mut buf).unwrap();
    assert_eq!(back.user, "José");
}

#[test]
fn refresh_rule_is_the_same_for_both_forms() {
    let r = ring();
    let mut buf = TicketBuf::new();
    let t = r.open_ref(GOLDEN_RICH, &mut buf).unwrap();
    let owned = t.to_ticket();
    for (now, idle, fraction) in [
        (NOW + 299, Some(600), 0.5),
        (NOW + 300, Some(600), 0.5),
        (NOW + 300, None, 0.5),
        (NOW, Some(600), 0.0),
        (NOW + 300, Some(600), f64::NAN),
    ] {
        assert_eq!(
            t.needs_refresh(now, idle, fraction),
            needs_refresh(&owned, now, idle, fraction),
            "{now} {idle:?} {fraction}"
        );
    }
}
