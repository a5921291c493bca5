//! The ticket payload's byte layout (see the module doc of `ticket`): encode, and decode after the tag matched.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::key_id::{KeyId, KID_LEN};
use super::view::{RolesRef, TicketRef};
use super::{MintError, Ticket, MAX_USER_LEN, TICKET_VERSION, TICKET_VERSION_BOUND};
use crate::identity::AuthMethod;
/// Domain separation for the tag of a version-1 ticket: HMAC input is this label, then the payload.
pub(super) const TAG_LABEL: &[u8] = b"authrs-ticket-v1\0";
/// The same for a version-2 ticket, bound to its cookie name: HMAC input is this label, the
/// cookie name (u16 length, bytes), then the payload. As long as [`TAG_LABEL`].
pub(super) const TAG_LABEL_BOUND: &[u8] = b"authrs-ticket-v2\0";
/// Bytes of the HMAC-SHA256 tag.
pub(super) const TAG_LEN: usize = 32;
/// Version byte plus key id: what is read before the tag is checked.
pub(super) const HEADER_LEN: usize = 1 + KID_LEN;
/// The shortest payload that can be valid: header, method, three times, a one-byte user, two flags.
pub(super) const MIN_PAYLOAD_LEN: usize = HEADER_LEN + 1 + 24 + 2 + 1 + 1 + 1;

fn method_byte(m: AuthMethod) -> u8 {
    match m {
        AuthMethod::Password => 1,
        AuthMethod::OpenId => 2,
        AuthMethod::Cert => 3,
    }
}

fn method_from_byte(b: u8) -> Option<AuthMethod> {
    match b {
        1 => Some(AuthMethod::Password),
        2 => Some(AuthMethod::OpenId),
        3 => Some(AuthMethod::Cert),
        _ => None,
    }
}

/// A user name or role we are willing to sign: non-empty, bounded, no control characters.
pub(super) fn clean_text(s: &str, max: usize) -> bool {
    if s.is_empty() || s.len() > max {
        return false;
    }
    // Fast path, one byte pass, for the usual printable-ASCII text; anything
    // else gets the full check (C1 controls are two-byte UTF-8).
    printable_ascii(s.as_bytes()) || !s.chars().any(char::is_control)
}

/// True when every byte is printable ASCII (0x20..=0x7e): one branch-free pass the compiler vectorizes.
fn printable_ascii(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .fold(true, |ok, &b| ok & (b.wrapping_sub(0x20) < 0x5f))
}

/// [`clean_text`] on bytes, without building a `&str` for the usual printable-ASCII text.
fn clean_bytes(bytes: &[u8], max: usize) -> bool {
    if bytes.is_empty() || bytes.len() > max {
        return false;
    }
    printable_ascii(bytes) || std::str::from_utf8(bytes).is_ok_and(|s| clean_text(s, max))
}

fn put_str(out: &mut Vec<u8>, s: &str) -> Result<(), MintError> {
    let len = u16::try_from(s.len()).map_err(|_| MintError::TooLong)?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn put_count(out: &mut Vec<u8>, n: usize) -> Result<(), MintError> {
    let n = u16::try_from(n).map_err(|_| MintError::TooLong)?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

/// Appends the payload (what the tag covers after the label) for `t` as `version`, signed under `kid`.
pub(super) fn encode(
    t: &Ticket,
    version: u8,
    kid: &[u8; KID_LEN],
    out: &mut Vec<u8>,
) -> Result<(), MintError> {
    if !clean_text(&t.user, MAX_USER_LEN) {
        return Err(MintError::BadUser);
    }
    if t.expires <= t.issued || t.last_seen < t.issued {
        return Err(MintError::BadTimes);
    }
    out.push(version);
    out.extend_from_slice(kid);
    out.push(method_byte(t.method));
    out.extend_from_slice(&t.issued.to_be_bytes());
    out.extend_from_slice(&t.expires.to_be_bytes());
    out.extend_from_slice(&t.last_seen.to_be_bytes());
    put_str(out, &t.user)?;
    match t.address.map(|a| a.to_canonical()) {
        None => out.push(0),
        Some(IpAddr::V4(a)) => {
            out.push(4);
            out.extend_from_slice(&a.octets());
        }
        Some(IpAddr::V6(a)) => {
            out.push(6);
            out.extend_from_slice(&a.octets());
        }
    }
    match &t.roles {
        None => out.push(0),
        Some(roles) => {
            out.push(1);
            put_count(out, roles.role_count())?;
            // Grants come sorted by role: each role once, then its scopes (none: unscoped).
            let mut grants = roles.iter().peekable();
            while let Some((role, first)) = grants.next() {
                if !clean_text(role, u16::MAX as usize) {
                    return Err(MintError::BadRole);
                }
                put_str(out, role)?;
                let mut scopes: Vec<&str> = first.into_iter().collect();
                while let Some((_, Some(s))) = grants.next_if(|(r, _)| *r == role) {
                    scopes.push(s);
                }
                put_count(out, scopes.len())?;
                for scope in scopes {
                    if !clean_text(scope, u16::MAX as usize) {
                        return Err(MintError::BadRole);
                    }
                    put_str(out, scope)?;
                }
            }
        }
    }
    Ok(())
}

/// A bounds-checked cursor: every read that would run off the end is `None`.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Option<usize> {
        Some(u16::from_be_bytes(self.array()?) as usize)
    }

    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.array()?))
    }

    fn text(&mut self, max: usize) -> Option<&'a str> {
        let len = self.u16()?;
        let bytes = self.take(len)?;
        if !clean_bytes(bytes, max) {
            return None;
        }
        std::str::from_utf8(bytes).ok()
    }

    /// A text field checked like [`Reader::text`] but left as bytes (roles: read as `&str` on access).
    fn text_bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.u16()?;
        let bytes = self.take(len)?;
        clean_bytes(bytes, usize::MAX).then_some(bytes)
    }
}

/// Parses a payload whose tag already matched, in place; `None` if it is not canonical layout
/// (versions 1 and 2 share it; only what the tag covers differs).
///
/// Accepts exactly what the owned decoder of earlier versions accepted: roles in any
/// order but no role twice (a repeated scope collapses, as in a set).
pub(super) fn parse(payload: &[u8]) -> Option<TicketRef<'_>> {
    let mut r = Reader { buf: payload };
    let version = r.u8()?;
    if version != TICKET_VERSION && version != TICKET_VERSION_BOUND {
        return None;
    }
    let kid: [u8; KID_LEN] = r.array()?;
    let method = method_from_byte(r.u8()?)?;
    let issued = r.i64()?;
    let expires = r.i64()?;
    let last_seen = r.i64()?;
    let user = r.text(MAX_USER_LEN)?;
    let address = match r.u8()? {
        0 => None,
        4 => Some(IpAddr::V4(Ipv4Addr::from(r.array::<4>()?))),
        6 => {
            let a = Ipv6Addr::from(r.array::<16>()?);
            // Mint stores mapped addresses as IPv4; a mapped one here is not ours.
            if a.to_ipv4_mapped().is_some() {
                return None;
            }
            Some(IpAddr::V6(a))
        }
        _ => return None,
    };
    let roles = match r.u8()? {
        0 => None,
        1 => {
            let count = r.u16()?;
            let bytes = r.buf;
            let mut sorted = true;
            let mut previous: Option<&[u8]> = None;
            for _ in 0..count {
                let role = r.text_bytes()?;
                for _ in 0..r.u16()? {
                    r.text_bytes()?;
                }
                sorted &= previous.is_none_or(|p| p < role);
                previous = Some(role);
            }
            let roles = RolesRef {
                count,
                bytes: &bytes[..bytes.len() - r.buf.len()],
            };
            // Minted tickets are sorted, so this is one comparison per role; only a
            // signed, unsorted list (never minted by us) pays the quadratic check.
            if !sorted && has_duplicate_role(&roles) {
                return None;
            }
            Some(roles)
        }
        _ => return None,
    };
    if !r.buf.is_empty() || expires <= issued || last_seen < issued {
        return None;
    }
    Some(TicketRef {
        version,
        key_id: KeyId(kid),
        user,
        method,
        issued,
        expires,
        last_seen,
        address,
        roles,
    })
}

fn has_duplicate_role(roles: &RolesRef<'_>) -> bool {
    roles
        .iter()
        .enumerate()
        .any(|(i, (role, _))| roles.iter().skip(i + 1).any(|(other, _)| other == role))
}

/// The owned ticket of a payload whose tag already matched (tests and fuzzing of the layout).
#[cfg(test)]
pub(super) fn decode(payload: &[u8]) -> Option<Ticket> {
    parse(payload).map(|t| t.to_ticket())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::identity::Roles;

    const KID: [u8; 4] = [0xde, 0xad, 0xbe, 0xef];

    fn sample() -> Ticket {
        let mut t = Ticket::new("bob|admin", AuthMethod::Cert, 1_795_409_468, 3600);
        t.address = Some("2001:db8::1".parse().unwrap());
        t.roles = Some(Roles::from_list("admin:projectX,admin:projectY,reader"));
        t
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let mut buf = Vec::new();
        encode(&sample(), TICKET_VERSION, &KID, &mut buf).unwrap();
        let back = decode(&buf).unwrap();
        let mut want = sample();
        want.key_id = KeyId(KID);
        assert_eq!(back, want);
        // Empty roles are not the same as no roles.
        let mut t = sample();
        t.roles = Some(Roles::default());
        buf.clear();
        encode(&t, TICKET_VERSION, &KID, &mut buf).unwrap();
        assert_eq!(decode(&buf).unwrap().roles, Some(Roles::default()));
    }

    #[test]
    fn mapped_addresses_are_stored_as_ipv4() {
        let mut t = sample();
        t.address = Some("::ffff:10.1.2.3".parse().unwrap());
        let mut buf = Vec::new();
        encode(&t, TICKET_VERSION, &KID, &mut buf).unwrap();
        assert_eq!(
            decode(&buf).unwrap().address,
            Some("10.1.2.3".parse().unwrap())
        );
    }

    #[test]
    fn every_truncation_and_extension_is_refused() {
        let mut buf = Vec::new();
        encode(&sample(), TICKET_VERSION, &KID, &mut buf).unwrap();
        for n in 0..buf.len() {
            assert!(decode(&buf[..n]).is_none(), "prefix of {n} bytes accepted");
        }
        buf.push(0);
        assert!(decode(&buf).is_none());
        assert!(MIN_PAYLOAD_LEN <= buf.len());
    }

    #[test]
    fn bad_text_is_not_minted() {
        let mut buf = Vec::new();
        for user in [
            "",
            "a\u{0}b",
            "a\r\nSet-Cookie: x",
            "tab\there",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            let t = Ticket::new(user, AuthMethod::Password, 0, 10);
            assert_eq!(
                encode(&t, TICKET_VERSION, &KID, &mut buf),
                Err(MintError::BadUser),
                "{user:?}"
            );
        }
        let long = "x".repeat(MAX_USER_LEN + 1);
        let t = Ticket::new(long, AuthMethod::Password, 0, 10);
        assert_eq!(
            encode(&t, TICKET_VERSION, &KID, &mut buf),
            Err(MintError::BadUser)
        );
        let mut t = Ticket::new("a", AuthMethod::Password, 0, 10);
        t.roles = Some(Roles::from_list("bad\u{1b}role"));
        assert_eq!(
            encode(&t, TICKET_VERSION, &KID, &mut buf),
            Err(MintError::BadRole)
        );
        let t = Ticket::new("a", AuthMethod::Password, 0, 0);
        assert_eq!(
            encode(&t, TICKET_VERSION, &KID, &mut buf),
            Err(MintError::BadTimes)
        );
    }
}
