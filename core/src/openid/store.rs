//! Stores the shells provide: the replay cache for nonces and the association cache.
//!
//! httpd backs both with its socache (shared by all workers, and across
//! servers with memcache or redis), Envoy with shared data, the CLI with a
//! state directory. The in-memory versions here serve tests and the bench.

use super::assoc::Association;
use crate::time::UnixTime;
use std::collections::HashMap;
use std::fmt;

/// A store failed; the assertion is refused (`store_failed`), never accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store failed: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// How long a shell's shared store keeps a nonce recorded without an expiry (`ignoretime`, a
/// lifetime ≤ 0), in seconds: as long as a return_to's signed time is accepted, so no message
/// that could still verify outlives its nonce.
pub const DEFAULT_NONCE_LIFETIME: i64 = super::signed_time::MAX_AGE + super::signed_time::MAX_AHEAD;

/// The replay cache: keys seen, each until its expiry.
pub trait NonceStore {
    /// True when `key` is present and not expired at `now` (an early, read-only look).
    fn seen(&mut self, key: &str, now: UnixTime) -> Result<bool, StoreError>;

    /// Atomically records `key` until `expires` (`None`: the store's default lifetime);
    /// `Ok(false)` when it was already present and not expired — a replay.
    fn check_and_insert(
        &mut self,
        key: &str,
        expires: Option<UnixTime>,
        now: UnixTime,
    ) -> Result<bool, StoreError>;
}

/// The association cache, keyed by OP endpoint and handle.
pub trait AssociationStore {
    /// The association `handle` made with `server`, if known.
    fn get(&mut self, server: &str, handle: &str) -> Result<Option<Association>, StoreError>;

    /// The newest usable association with `server` at `now`, to put in a new check_url.
    fn current(&mut self, server: &str, now: UnixTime) -> Result<Option<Association>, StoreError>;

    /// Keeps an association (replacing one with the same server and handle).
    fn put(&mut self, association: Association) -> Result<(), StoreError>;

    /// Forgets an association (the provider's `invalidate_handle`).
    fn remove(&mut self, server: &str, handle: &str) -> Result<(), StoreError>;
}

/// The two stores verification needs, borrowed together.
pub struct Stores<'a> {
    /// Seen response nonces.
    pub nonces: &'a mut dyn NonceStore,
    /// Associations made with providers.
    pub associations: &'a mut dyn AssociationStore,
}

/// An in-memory replay cache (tests, bench, single-process tools).
#[derive(Debug, Default, Clone)]
pub struct MemoryNonceStore {
    entries: HashMap<String, Option<UnixTime>>,
    /// Lifetime given to entries stored without an expiry (`None`: forever).
    pub default_lifetime: Option<i64>,
}

impl MemoryNonceStore {
    fn live(&self, key: &str, now: UnixTime) -> bool {
        matches!(self.entries.get(key), Some(exp) if exp.is_none_or(|e| now <= e))
    }

    /// Number of entries held, expired ones included until the next insert.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl NonceStore for MemoryNonceStore {
    fn seen(&mut self, key: &str, now: UnixTime) -> Result<bool, StoreError> {
        Ok(self.live(key, now))
    }

    fn check_and_insert(
        &mut self,
        key: &str,
        expires: Option<UnixTime>,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        if self.live(key, now) {
            return Ok(false);
        }
        self.entries.retain(|_, e| e.is_none_or(|e| now <= e));
        let expires = expires.or(self.default_lifetime.map(|l| now + l));
        self.entries.insert(key.to_string(), expires);
        Ok(true)
    }
}

/// An in-memory association cache.
#[derive(Debug, Default, Clone)]
pub struct MemoryAssociationStore {
    /// By handle (looked up without allocating), then by server.
    by_handle: HashMap<String, Vec<Association>>,
}

impl AssociationStore for MemoryAssociationStore {
    fn get(&mut self, server: &str, handle: &str) -> Result<Option<Association>, StoreError> {
        Ok(self
            .by_handle
            .get(handle)
            .and_then(|list| list.iter().find(|a| a.server == server))
            .cloned())
    }

    fn current(&mut self, server: &str, now: UnixTime) -> Result<Option<Association>, StoreError> {
        Ok(self
            .by_handle
            .values()
            .flatten()
            .filter(|a| a.server == server && a.usable(now))
            .max_by_key(|a| a.expiry)
            .cloned())
    }

    fn put(&mut self, association: Association) -> Result<(), StoreError> {
        let list = self
            .by_handle
            .entry(association.handle.clone())
            .or_default();
        list.retain(|a| a.server != association.server);
        list.push(association);
        Ok(())
    }

    fn remove(&mut self, server: &str, handle: &str) -> Result<(), StoreError> {
        if let Some(list) = self.by_handle.get_mut(handle) {
            list.retain(|a| a.server != server);
            if list.is_empty() {
                self.by_handle.remove(handle);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openid::assoc::AssocType;

    #[test]
    fn replay_cache_expires() {
        let mut s = MemoryNonceStore::default();
        assert!(!s.seen("k", 100).unwrap());
        assert!(s.check_and_insert("k", Some(200), 100).unwrap());
        assert!(s.seen("k", 200).unwrap());
        assert!(!s.check_and_insert("k", Some(300), 150).unwrap());
        // Expired: may be used again.
        assert!(!s.seen("k", 201).unwrap());
        assert!(s.check_and_insert("k", None, 201).unwrap());
        assert!(!s.check_and_insert("k", None, 10_000).unwrap());
        let mut d = MemoryNonceStore {
            default_lifetime: Some(10),
            ..Default::default()
        };
        assert!(d.check_and_insert("k", None, 0).unwrap());
        assert!(d.check_and_insert("k", None, 11).unwrap());
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn associations_by_server_and_handle() {
        let a = |h: &str, expiry| Association {
            server: "https://op/".into(),
            handle: h.into(),
            secret: vec![1; 20],
            assoc_type: AssocType::HmacSha1,
            expiry,
        };
        let mut s = MemoryAssociationStore::default();
        s.put(a("old", 100)).unwrap();
        s.put(a("new", 200)).unwrap();
        // `current` wants MIN_REMAINING seconds of life left.
        let m = crate::openid::assoc::MIN_REMAINING;
        assert_eq!(
            s.current("https://op/", 50 - m).unwrap().unwrap().handle,
            "new"
        );
        assert_eq!(
            s.current("https://op/", 200 - m).unwrap().unwrap().handle,
            "new"
        );
        assert_eq!(s.current("https://op/", 201 - m).unwrap(), None);
        assert_eq!(s.current("https://op/", 50).unwrap(), None);
        assert_eq!(s.current("https://other/", 50 - m).unwrap(), None);
        assert_eq!(s.get("https://op/", "old").unwrap().unwrap().expiry, 100);
        // The same handle from another provider is another association.
        s.put(Association {
            server: "https://other/".into(),
            ..a("old", 300)
        })
        .unwrap();
        assert_eq!(s.get("https://op/", "old").unwrap().unwrap().expiry, 100);
        assert_eq!(s.get("https://other/", "old").unwrap().unwrap().expiry, 300);
        s.put(a("old", 150)).unwrap();
        assert_eq!(s.get("https://op/", "old").unwrap().unwrap().expiry, 150);
        s.remove("https://op/", "old").unwrap();
        assert_eq!(s.get("https://op/", "old").unwrap(), None);
        assert_eq!(s.get("https://other/", "old").unwrap().unwrap().expiry, 300);
    }
}
