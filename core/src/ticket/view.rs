//! A verified ticket read in place: [`TicketRef`] borrows its user and roles from the decoded
//! cookie held in a [`TicketBuf`], so verifying a ticket allocates nothing.

use std::fmt;
use std::net::IpAddr;

use super::key_id::KeyId;
use super::{Ticket, TicketError};
use crate::identity::{AuthMethod, Roles};
use crate::time::UnixTime;

/// Decoded cookies up to this size (a user and a few roles, after the tag label and a cookie
/// name) stay on the stack.
pub(super) const SMALL: usize = 384;

/// Room for one decoded cookie and what its tag covers before it: on the stack up to 384 bytes, on the heap beyond.
///
/// Pass one to [`KeyRing::verify_ref`](super::KeyRing::verify_ref); the returned
/// [`TicketRef`] borrows from it. Reusable: each call overwrites it.
#[derive(Clone)]
pub struct TicketBuf {
    pub(super) small: [u8; SMALL],
    pub(super) large: Vec<u8>,
}

impl TicketBuf {
    /// An empty buffer (nothing is allocated until label, cookie name and decoded cookie exceed 384 bytes).
    pub fn new() -> TicketBuf {
        TicketBuf {
            small: [0; SMALL],
            large: Vec::new(),
        }
    }

    /// `n` writable bytes (from the stack when they fit).
    pub(super) fn prepare(&mut self, n: usize) -> &mut [u8] {
        if n <= SMALL {
            &mut self.small[..n]
        } else {
            self.large.clear();
            self.large.resize(n, 0);
            &mut self.large[..]
        }
    }
}

impl Default for TicketBuf {
    fn default() -> Self {
        TicketBuf::new()
    }
}

impl fmt::Debug for TicketBuf {
    // The bytes are a ticket: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TicketBuf(..)")
    }
}

/// A verified ticket whose text fields borrow from the decoded cookie (see [`Ticket`] for the fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketRef<'a> {
    /// Format version ([`super::TICKET_VERSION`]).
    pub version: u8,
    /// Id of the key that signed it.
    pub key_id: KeyId,
    /// The user name.
    pub user: &'a str,
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
    /// Roles carried in the ticket, if any (read in place).
    pub roles: Option<RolesRef<'a>>,
}

impl TicketRef<'_> {
    /// The owned form (allocates the user name and the roles map).
    pub fn to_ticket(&self) -> Ticket {
        Ticket {
            version: self.version,
            key_id: self.key_id,
            user: self.user.to_owned(),
            method: self.method,
            issued: self.issued,
            expires: self.expires,
            last_seen: self.last_seen,
            address: self.address,
            roles: self.roles.map(|r| r.to_roles()),
        }
    }

    /// Checks times and address binding at `now`, exactly as [`Ticket::check`].
    pub fn check(
        &self,
        now: UnixTime,
        peer: Option<IpAddr>,
        idle_timeout: Option<i64>,
    ) -> Result<(), TicketError> {
        super::check_claims(
            self.issued,
            self.expires,
            self.last_seen,
            self.address,
            now,
            peer,
            idle_timeout,
        )
    }

    /// [`needs_refresh`](super::needs_refresh) for a borrowed ticket.
    pub fn needs_refresh(
        &self,
        now: UnixTime,
        idle_timeout: Option<i64>,
        refresh_fraction: f64,
    ) -> bool {
        super::refresh_due(self.last_seen, now, idle_timeout, refresh_fraction)
    }
}

/// The roles section of a verified ticket, already checked (clean text, no role twice).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RolesRef<'a> {
    pub(super) count: usize,
    /// The entries after the role count: per role `u16 len, name, u16 n, n × (u16 len, scope)`.
    pub(super) bytes: &'a [u8],
}

impl<'a> RolesRef<'a> {
    /// How many roles the ticket carries.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the ticket carries an empty role list (not the same as no roles).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The roles with their scopes, in ticket order (sorted, as minted).
    pub fn iter(&self) -> RoleIter<'a> {
        RoleIter {
            left: self.count,
            rest: self.bytes,
        }
    }

    /// How many grants the roles make, max(1, scopes) per role (names skipped unread): the
    /// capacity [`RolesRef::to_roles`] reserves (a repeated scope counts, though it collapses).
    pub(super) fn grant_count(&self) -> usize {
        // The walk of `RoleIter` without reading names: this runs on every ticket request.
        let (mut rest, mut grants) = (self.bytes, 0);
        for _ in 0..self.count {
            let Some(n) = field(&mut rest).and_then(|_| count(&mut rest)) else {
                break;
            };
            for _ in 0..n {
                if field(&mut rest).is_none() {
                    break;
                }
            }
            grants += n.max(1);
        }
        grants
    }

    /// The owned [`Roles`] map.
    pub fn to_roles(&self) -> Roles {
        // Sized up front (names fit in the section's bytes; a role has max(1, scopes)
        // grants), so building allocates twice and never regrows.
        let grants = self.grant_count();
        let mut roles = Roles::with_capacity(self.bytes.len(), grants);
        for (role, scopes) in self.iter() {
            let mut scoped = false;
            for s in scopes {
                roles.add_in_order(role, Some(s));
                scoped = true;
            }
            if !scoped {
                roles.add_in_order(role, None);
            }
        }
        roles
    }
}

impl fmt::Debug for RolesRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(r, s)| (r, s.collect::<Vec<_>>())))
            .finish()
    }
}

/// Reads a `u16` length and that many bytes; `None` past the end (never for checked roles).
fn field<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, tail) = rest.split_first_chunk::<2>()?;
    let (s, tail) = tail.split_at_checked(u16::from_be_bytes(*len) as usize)?;
    *rest = tail;
    Some(s)
}

/// [`field`] as text.
fn text<'a>(rest: &mut &'a [u8]) -> Option<&'a str> {
    std::str::from_utf8(field(rest)?).ok()
}

fn count(rest: &mut &[u8]) -> Option<usize> {
    let (n, tail) = rest.split_first_chunk::<2>()?;
    *rest = tail;
    Some(u16::from_be_bytes(*n) as usize)
}

/// Iterator over a ticket's roles: `(role, scopes)`.
#[derive(Debug, Clone)]
pub struct RoleIter<'a> {
    left: usize,
    rest: &'a [u8],
}

impl<'a> Iterator for RoleIter<'a> {
    type Item = (&'a str, ScopeIter<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let role = text(&mut self.rest)?;
        let n = count(&mut self.rest)?;
        let start = self.rest;
        // Skip the scopes; the ScopeIter reads them.
        for _ in 0..n {
            field(&mut self.rest)?;
        }
        Some((
            role,
            ScopeIter {
                left: n,
                rest: start,
            },
        ))
    }
}

/// Iterator over the scopes of one role (empty: the role is unscoped).
#[derive(Debug, Clone)]
pub struct ScopeIter<'a> {
    left: usize,
    rest: &'a [u8],
}

impl<'a> Iterator for ScopeIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        text(&mut self.rest)
    }
}
