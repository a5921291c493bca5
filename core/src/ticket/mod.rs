//! The cookie ticket: HMAC-SHA256-signed user, method, times, address and roles; key rings.
//!
//! # Wire format (versions 1 and 2)
//!
//! The cookie value is `base64url` (RFC 4648 §5, no padding, canonical: no
//! stray trailing bits) of `payload ‖ tag`, where every integer is big-endian
//! and every string is length-prefixed, so no byte of a user name or role can
//! be read as another field (there are no separators to inject):
//!
//! ```text
//! off  size  field
//! 0    1     version            0x01 unbound | 0x02 bound to its cookie name
//! 1    4     key id             first 4 bytes of SHA-256("authrs-ticket-key-id\0" ‖ secret)
//! 5    1     auth method        1 password, 2 openid, 3 cert
//! 6    8     issued             i64 Unix seconds
//! 14   8     expires            i64 Unix seconds (valid while now < expires)
//! 22   8     last seen          i64 Unix seconds (for the idle timeout)
//! 30   2+n   user               u16 length, UTF-8, 1..=1024 bytes, no control characters
//! ..   1+a   address            0 none | 4 + 4 bytes IPv4 | 6 + 16 bytes IPv6
//! ..   1+r   roles              0 none | 1, u16 count, then per role:
//!                                 u16 len + name, u16 scope count, per scope u16 len + scope
//!                                 (roles and scopes sorted, no duplicates)
//! end  32    tag                v1: HMAC-SHA256(secret, "authrs-ticket-v1\0" ‖ payload)
//!                                 v2: HMAC-SHA256(secret, "authrs-ticket-v2\0" ‖ u16 len ‖
//!                                     cookie name ‖ payload)
//! ```
//!
//! The engine mints version 2 ([`KeyRing::mint_for`]) for its cookie's name and verifies
//! with that name ([`KeyRing::verify_ref_for`]): a ticket copied into a cookie of another
//! name (another `AuthName`'s default cookie) fails as `BadSignature`, so realms sharing a key
//! but not a cookie stay apart. Version 1 ([`KeyRing::mint`], `authrs ticket mint` without
//! `--cookie-name`, every ticket of earlier builds) verifies under any name.
//!
//! Verification order: length cap (4096 characters, before any decoding),
//! base64, version (a version-2 ticket read without a cookie name is `BadSignature` here),
//! key id, tag (constant time), then the fields are parsed —
//! the parser only ever sees bytes we signed. Then times and address, see
//! [`Ticket::check`]. The key id ([`KeyId`]) is shown as 8 lowercase hex digits.
//!
//! Clock rules: a ticket is valid while `now < expires` and, with an idle
//! timeout `t`, while `now < last_seen + t`. A ticket whose `issued` or
//! `last_seen` lies more than [`MAX_CLOCK_SKEW`] seconds after `now` is
//! [`TicketError::ClockSkew`]: only our own clock jumping back (or a server
//! with a fast clock sharing the key) produces one, and we refuse to trust
//! times we cannot have seen. The engine keeps such a cookie in the browser
//! (the ticket is good where it was issued) and logs it as a warning.

mod key;
mod key_id;
mod view;
mod wire;

pub use key::{encode_secret, KeyError, KeyRing, MintError, TicketKey, MIN_KEY_LEN};
pub use key_id::KeyId;
pub use view::{RoleIter, RolesRef, ScopeIter, TicketBuf, TicketRef};

use std::fmt;
use std::net::IpAddr;

use crate::identity::{AuthMethod, Roles};
use crate::reason::Reason;
use crate::time::UnixTime;

/// The version of unbound tickets (valid under any cookie name); this build writes and accepts it.
pub const TICKET_VERSION: u8 = 1;

/// The version of tickets bound to their cookie name (the name is covered by the tag, not
/// carried); what the engine mints. Same layout as version 1.
pub const TICKET_VERSION_BOUND: u8 = 2;

/// Longest cookie value accepted; longer ones are refused before decoding.
pub const MAX_COOKIE_LEN: usize = 4096;

/// Longest user name (bytes) a ticket may carry.
pub const MAX_USER_LEN: usize = 1024;

/// How far (seconds) `issued`/`last_seen` may lie in our future before a ticket is refused.
pub const MAX_CLOCK_SKEW: i64 = 60;

/// The default share of the idle timeout after which a ticket is re-issued.
pub const DEFAULT_REFRESH_FRACTION: f64 = 0.5;

/// Why a ticket cookie was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TicketError {
    /// Not a ticket: too long, bad base64, wrong version, truncated, or bad fields.
    Malformed,
    /// The HMAC tag does not match: forged or tampered with.
    BadSignature,
    /// Signed by a key that is not in the ring (retired or foreign).
    UnknownKey,
    /// Past its absolute lifetime (`now >= expires`).
    Expired,
    /// Unused for longer than the idle timeout.
    Idle,
    /// Bound to a client address other than the request's peer.
    AddressMismatch,
    /// Signed by us, but issued or refreshed more than [`MAX_CLOCK_SKEW`] seconds in our future.
    ClockSkew,
}

impl TicketError {
    /// The reason a login page shows: Expired/Idle are `expired`, everything else `bad_cookie`.
    pub fn reason(&self) -> Reason {
        match self {
            TicketError::Expired | TicketError::Idle => Reason::Expired,
            _ => Reason::BadCookie,
        }
    }

    /// A stable short code for logs (`malformed`, `bad_signature`, …).
    pub fn code(&self) -> &'static str {
        match self {
            TicketError::Malformed => "malformed",
            TicketError::BadSignature => "bad_signature",
            TicketError::UnknownKey => "unknown_key",
            TicketError::Expired => "expired",
            TicketError::Idle => "idle",
            TicketError::AddressMismatch => "address_mismatch",
            TicketError::ClockSkew => "clock_skew",
        }
    }
}

impl fmt::Display for TicketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            TicketError::Malformed => "ticket malformed",
            TicketError::BadSignature => "ticket signature does not match",
            TicketError::UnknownKey => "ticket signed by an unknown key",
            TicketError::Expired => "ticket expired",
            TicketError::Idle => "ticket idle for too long",
            TicketError::AddressMismatch => "ticket bound to another client address",
            TicketError::ClockSkew => {
                "ticket issued in our future: the clocks of the servers sharing the key disagree"
            }
        };
        write!(f, "{text} ({})", self.code())
    }
}

impl std::error::Error for TicketError {}

/// The claims a ticket carries; minted by [`KeyRing::mint`], returned by [`KeyRing::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Format version: [`TICKET_VERSION`] (unbound) or [`TICKET_VERSION_BOUND`]; ignored by
    /// `mint` (which writes 1) and `mint_for` (which writes 2).
    pub version: u8,
    /// Id of the key that signed it (shown as 8 hex digits); `verify` fills it, `mint` ignores it.
    pub key_id: KeyId,
    /// The user name.
    pub user: String,
    /// How the user authenticated.
    pub method: AuthMethod,
    /// When the user logged in.
    pub issued: UnixTime,
    /// When the ticket stops being valid, whatever the activity.
    pub expires: UnixTime,
    /// The last time the ticket was (re-)issued; drives the idle timeout.
    pub last_seen: UnixTime,
    /// The client address the ticket is bound to, if binding is on.
    pub address: Option<IpAddr>,
    /// Roles carried in the ticket, if the engine puts them there.
    pub roles: Option<Roles>,
}

impl Ticket {
    /// A fresh ticket for `user`, issued `now`, valid for `lifetime` seconds, unbound, no roles.
    pub fn new(
        user: impl Into<String>,
        method: AuthMethod,
        now: UnixTime,
        lifetime: i64,
    ) -> Ticket {
        Ticket {
            version: TICKET_VERSION,
            key_id: KeyId::default(),
            user: user.into(),
            method,
            issued: now,
            expires: now.saturating_add(lifetime),
            last_seen: now,
            address: None,
            roles: None,
        }
    }

    /// The same ticket seen again at `now` (sliding refresh): only `last_seen` moves; `expires` stays.
    ///
    /// The absolute lifetime is kept on purpose: a stolen ticket kept busy
    /// must still die. `last_seen` never moves backwards (clock jumps).
    pub fn refreshed(&self, now: UnixTime) -> Ticket {
        let mut t = self.clone();
        t.last_seen = t.last_seen.max(now);
        t
    }

    /// Checks times and address binding at `now` (the signature is checked by [`KeyRing::open`]).
    ///
    /// `idle_timeout` of `None` or `<= 0` means no idle timeout. A bound
    /// ticket needs a peer equal to its address (IPv4-mapped IPv6 counts as IPv4).
    pub fn check(
        &self,
        now: UnixTime,
        peer: Option<IpAddr>,
        idle_timeout: Option<i64>,
    ) -> Result<(), TicketError> {
        check_claims(
            self.issued,
            self.expires,
            self.last_seen,
            self.address,
            now,
            peer,
            idle_timeout,
        )
    }
}

/// The clock and address rules shared by [`Ticket::check`] and [`TicketRef::check`].
fn check_claims(
    issued: UnixTime,
    expires: UnixTime,
    last_seen: UnixTime,
    address: Option<IpAddr>,
    now: UnixTime,
    peer: Option<IpAddr>,
    idle_timeout: Option<i64>,
) -> Result<(), TicketError> {
    let latest = now.saturating_add(MAX_CLOCK_SKEW);
    if issued > latest || last_seen > latest {
        return Err(TicketError::ClockSkew);
    }
    if now >= expires {
        return Err(TicketError::Expired);
    }
    if let Some(idle) = idle_timeout.filter(|t| *t > 0) {
        if now >= last_seen.saturating_add(idle) {
            return Err(TicketError::Idle);
        }
    }
    if let Some(bound) = address {
        match peer {
            Some(p) if p.to_canonical() == bound.to_canonical() => {}
            _ => return Err(TicketError::AddressMismatch),
        }
    }
    Ok(())
}

/// True when a verified ticket should be re-issued: the idle timeout is on and
/// at least `refresh_fraction` of it has passed since `last_seen`.
///
/// The fraction is clamped to `0.0..=1.0`; a non-finite one means
/// [`DEFAULT_REFRESH_FRACTION`]. Without an idle timeout nothing is refreshed.
pub fn needs_refresh(
    t: &Ticket,
    now: UnixTime,
    idle_timeout: Option<i64>,
    refresh_fraction: f64,
) -> bool {
    refresh_due(t.last_seen, now, idle_timeout, refresh_fraction)
}

/// [`needs_refresh`] on the one field it reads (shared with [`TicketRef::needs_refresh`]).
fn refresh_due(
    last_seen: UnixTime,
    now: UnixTime,
    idle_timeout: Option<i64>,
    refresh_fraction: f64,
) -> bool {
    let Some(idle) = idle_timeout.filter(|t| *t > 0) else {
        return false;
    };
    let fraction = if refresh_fraction.is_finite() {
        refresh_fraction.clamp(0.0, 1.0)
    } else {
        DEFAULT_REFRESH_FRACTION
    };
    // `as` saturates for floats; the product is within 0..=idle.
    let threshold = (idle as f64 * fraction).ceil() as i64;
    now.saturating_sub(last_seen) >= threshold
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod borrowed_tests;

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    const NOW: UnixTime = 1_795_409_468;

    fn ticket() -> Ticket {
        Ticket::new("alice", AuthMethod::Password, NOW, 3600)
    }

    #[test]
    fn expiry_boundary_is_exclusive() {
        let t = ticket();
        assert_eq!(t.check(NOW + 3599, None, None), Ok(()));
        assert_eq!(t.check(NOW + 3600, None, None), Err(TicketError::Expired));
        assert_eq!(t.check(i64::MAX, None, None), Err(TicketError::Expired));
    }

    #[test]
    fn idle_timeout() {
        let t = ticket();
        assert_eq!(t.check(NOW + 599, None, Some(600)), Ok(()));
        assert_eq!(t.check(NOW + 600, None, Some(600)), Err(TicketError::Idle));
        assert_eq!(t.check(NOW + 600, None, Some(0)), Ok(()));
        assert_eq!(t.check(NOW + 600, None, Some(-5)), Ok(()));
        let r = t.refreshed(NOW + 500);
        assert_eq!(r.check(NOW + 1000, None, Some(600)), Ok(()));
        assert_eq!(r.expires, t.expires);
        // Expired wins over idle: the absolute lifetime is the harder limit.
        assert_eq!(
            r.check(NOW + 5000, None, Some(600)),
            Err(TicketError::Expired)
        );
    }

    #[test]
    fn clock_jumps() {
        let t = ticket();
        // Our clock went back a little: tolerated.
        assert_eq!(t.check(NOW - MAX_CLOCK_SKEW, None, None), Ok(()));
        // …a lot: a ticket from the future is refused.
        assert_eq!(
            t.check(NOW - MAX_CLOCK_SKEW - 1, None, None),
            Err(TicketError::ClockSkew)
        );
        let mut late = ticket();
        late.last_seen = NOW + 1000;
        assert_eq!(late.check(NOW, None, None), Err(TicketError::ClockSkew));
        assert_eq!(late.check(NOW + 1000 - MAX_CLOCK_SKEW, None, None), Ok(()));
        // Refreshing with a clock that went back never moves last_seen backwards.
        assert_eq!(t.refreshed(NOW - 100).last_seen, NOW);
    }

    #[test]
    fn address_binding() {
        let mut t = ticket();
        t.address = Some("10.0.0.1".parse().unwrap());
        assert_eq!(
            t.check(NOW, Some("10.0.0.1".parse().unwrap()), None),
            Ok(())
        );
        assert_eq!(
            t.check(NOW, Some("::ffff:10.0.0.1".parse().unwrap()), None),
            Ok(())
        );
        assert_eq!(
            t.check(NOW, Some("10.0.0.2".parse().unwrap()), None),
            Err(TicketError::AddressMismatch)
        );
        assert_eq!(t.check(NOW, None, None), Err(TicketError::AddressMismatch));
        // An unbound ticket ignores the peer.
        assert_eq!(
            ticket().check(NOW, Some("192.0.2.9".parse().unwrap()), None),
            Ok(())
        );
    }

    #[test]
    fn refresh_fraction() {
        let t = ticket();
        assert!(!needs_refresh(&t, NOW + 299, Some(600), 0.5));
        assert!(needs_refresh(&t, NOW + 300, Some(600), 0.5));
        assert!(!needs_refresh(&t, NOW + 10_000, None, 0.5));
        assert!(!needs_refresh(&t, NOW + 10_000, Some(0), 0.5));
        assert!(needs_refresh(&t, NOW, Some(600), 0.0));
        assert!(needs_refresh(&t, NOW + 300, Some(600), f64::NAN));
        assert!(!needs_refresh(&t, NOW + 599, Some(600), 7.0));
        assert!(needs_refresh(&t, NOW + 600, Some(600), 7.0));
        assert!(!needs_refresh(&t, NOW - 50, Some(600), 0.5));
    }

    #[test]
    fn error_mapping() {
        assert_eq!(TicketError::Expired.reason(), Reason::Expired);
        assert_eq!(TicketError::Idle.reason(), Reason::Expired);
        for e in [
            TicketError::Malformed,
            TicketError::BadSignature,
            TicketError::UnknownKey,
            TicketError::AddressMismatch,
            TicketError::ClockSkew,
        ] {
            assert_eq!(e.reason(), Reason::BadCookie);
        }
        assert_eq!(
            TicketError::BadSignature.to_string(),
            "ticket signature does not match (bad_signature)"
        );
    }
}
