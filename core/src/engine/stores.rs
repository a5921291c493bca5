//! Stores the engine consults but does not own: server-side ticket revocation.

use crate::identity::AuthMethod;
use crate::ticket::{Ticket, TicketRef};
use crate::time::UnixTime;
use sha2::{Digest, Sha256};
use std::fmt;
use std::net::IpAddr;

/// A store failure (the socache or shared data could not answer); the engine fails closed on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store error: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// Server-side revocation of tickets at logout, shared by every worker (httpd socache, Envoy shared data).
pub trait RevocationStore {
    /// True when the ticket with this id was revoked and the revocation has not lapsed at `now`.
    fn is_revoked(&mut self, ticket_id: &str, now: UnixTime) -> Result<bool, StoreError>;
    /// Revokes the ticket until `until` (its own expiry), after which the entry may be dropped.
    fn revoke(&mut self, ticket_id: &str, until: UnixTime) -> Result<(), StoreError>;
    /// Revokes every `(ticket id, until)` of one logout; a store with a costly shared write (an
    /// index) overrides it to write once. The default revokes them one by one.
    fn revoke_all(&mut self, tickets: &[(String, UnixTime)]) -> Result<(), StoreError> {
        tickets
            .iter()
            .try_for_each(|(id, until)| self.revoke(id, *until))
    }
}

/// The stores one decision may use; all optional.
#[derive(Default)]
pub struct Stores<'a> {
    /// Revoked tickets; `None` means revocation is not in use.
    pub revocations: Option<&'a mut dyn RevocationStore>,
}

impl fmt::Debug for Stores<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stores")
            .field("revocations", &self.revocations.is_some())
            .finish()
    }
}

/// The id under which a session is revoked: 128 bits of SHA-256 over the ticket's stable fields
/// (user, method, issued, expires, address). A sliding refresh keeps them, so revoking one copy
/// revokes every refreshed or earlier copy of the same login — also across a key rotation, where
/// the refresh is signed with the new key (the key id is not part of the id: a ticket is MACed
/// anyway); the cookie itself is never a store key (keys end up in logs and shared memory).
pub fn ticket_id(ticket: &Ticket) -> String {
    session_id(
        ticket.method,
        ticket.issued,
        ticket.expires,
        &ticket.user,
        ticket.address,
    )
}

/// [`ticket_id`] of a borrowed ticket (the engine's path: no owned ticket is built).
pub(crate) fn ticket_ref_id(ticket: &TicketRef<'_>) -> String {
    session_id(
        ticket.method,
        ticket.issued,
        ticket.expires,
        ticket.user,
        ticket.address,
    )
}

fn session_id(
    method: AuthMethod,
    issued: UnixTime,
    expires: UnixTime,
    user: &str,
    address: Option<IpAddr>,
) -> String {
    let mut h = Sha256::new();
    h.update(b"authrs-session-v2\0");
    h.update(method.as_str().as_bytes());
    h.update([0]);
    h.update(issued.to_be_bytes());
    h.update(expires.to_be_bytes());
    h.update((user.len() as u64).to_be_bytes());
    h.update(user.as_bytes());
    match address {
        Some(a) => h.update(a.to_string().as_bytes()),
        None => h.update(b"-"),
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
