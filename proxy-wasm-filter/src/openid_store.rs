//! OpenID's replay cache and association cache in Envoy shared data: shared by every worker of
//! the same `vm_id` and kept across VM reloads, so a return served by another worker still
//! finds the nonce and the association (no stateless fallback needed).
//!
//! Shared data has no TTL and no deletion, and a CAS on a key that does not exist yet is not
//! checked: a fixed number of bucket keys is created in `on_configure` ([`init`]), every update
//! is a read–modify–CAS-write retried on a lost race, and each write prunes what has expired.
//! A key goes to the bucket its SHA-256 picks under the secret bucket key (see `buckets`), so
//! memory stays bounded whatever identifiers and providers clients name, and nobody can aim
//! their entries at one bucket.

use authrs_core::openid::assoc::Association;
use authrs_core::openid::store::{
    AssociationStore, NonceStore, StoreError, DEFAULT_NONCE_LIFETIME,
};
use authrs_core::time::UnixTime;
use proxy_wasm::hostcalls::{get_shared_data, set_shared_data};
use proxy_wasm::types::Status;

use crate::buckets::{self, NONCES_PER_BUCKET, NONCE_BUCKETS};
use crate::openid_buckets::{
    assoc_current, assoc_find, assoc_put, assoc_remove, create_missing, id_and_bucket,
    nonce_insert, nonce_seen, NonceInsert, SharedData,
};

/// Associations one bucket keeps; beyond it the oldest is dropped (the next login associates again).
const MAX_ASSOCS_PER_BUCKET: usize = 16;

/// Creates every keyed bucket key that does not exist yet (so later CAS writes are checked).
pub fn init() {
    let keys: Vec<String> = buckets::openid_keys().collect();
    create_missing(&Host, keys.iter().map(String::as_str));
}

/// Shared data through the host calls.
pub(crate) struct Host;

impl SharedData for Host {
    fn get(&self, key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), Status> {
        get_shared_data(key)
    }

    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), Status> {
        set_shared_data(key, Some(value), cas)
    }
}

/// A bucket's text and CAS (see [`crate::openid_buckets::read`]).
pub(crate) fn read(key: &str) -> Result<(String, Option<u32>), StoreError> {
    crate::openid_buckets::read(&Host, key)
}

/// A read–modify–CAS-write of a bucket (see [`crate::openid_buckets::update`]).
pub(crate) fn update<T>(
    key: &str,
    change: impl FnMut(&str) -> Result<(Option<String>, T), StoreError>,
) -> Result<T, StoreError> {
    crate::openid_buckets::update(&Host, key, change)
}

/// The nonce's id, its keyed bucket, and the older build's bucket while that is still read;
/// `write`: to record it (needs a confirmed key).
fn nonce_key(key: &str, write: bool) -> Result<(String, String, Option<String>), StoreError> {
    let (id, plain) = id_and_bucket(key, NONCE_BUCKETS);
    let (bucket, old) = buckets::nonce_buckets(&id, plain, write)?;
    Ok((id, bucket, old))
}

/// Whether an older build's bucket (read first, while that build's buckets exist: see
/// `buckets`) holds the nonce.
fn seen_in_old(old: Option<&str>, id: &str, now: UnixTime) -> Result<bool, StoreError> {
    match old {
        Some(old) => Ok(nonce_seen(&read(old)?.0, id, now)),
        None => Ok(false),
    }
}

fn assoc_key(server: &str, write: bool) -> Result<String, StoreError> {
    buckets::assoc_bucket(&id_and_bucket(server, 1).0, write)
}

/// The replay cache handed to the core.
#[derive(Debug, Default)]
pub struct SharedNonces;

impl NonceStore for SharedNonces {
    fn seen(&mut self, key: &str, now: UnixTime) -> Result<bool, StoreError> {
        let (id, bucket, old) = nonce_key(key, false)?;
        Ok(seen_in_old(old.as_deref(), &id, now)? || nonce_seen(&read(&bucket)?.0, &id, now))
    }

    fn check_and_insert(
        &mut self,
        key: &str,
        expires: Option<UnixTime>,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let (id, bucket, old) = nonce_key(key, true)?;
        if seen_in_old(old.as_deref(), &id, now)? {
            return Ok(false);
        }
        let until = expires.unwrap_or(now.saturating_add(DEFAULT_NONCE_LIFETIME));
        let fresh = update(&bucket, |text| {
            match nonce_insert(text, &id, until, now, NONCES_PER_BUCKET) {
                NonceInsert::Replay => Ok((None, false)),
                NonceInsert::Write(new) => Ok((Some(new), true)),
                NonceInsert::Full => Err(StoreError("the OpenID replay cache is full".into())),
            }
        })?;
        if let (true, Some(old)) = (fresh, old) {
            // An older build in this process checks only its own bucket: best effort there.
            let _ = update(&old, |text| {
                match nonce_insert(text, &id, until, now, usize::MAX) {
                    NonceInsert::Write(new) => Ok((Some(new), ())),
                    NonceInsert::Replay | NonceInsert::Full => Ok((None, ())),
                }
            });
        }
        Ok(fresh)
    }
}

/// The association cache handed to the core; `now` prunes expired entries on writes.
#[derive(Debug, Default)]
pub struct SharedAssociations {
    /// The request's time.
    pub now: UnixTime,
}

impl AssociationStore for SharedAssociations {
    fn get(&mut self, server: &str, handle: &str) -> Result<Option<Association>, StoreError> {
        Ok(assoc_find(
            &read(&assoc_key(server, false)?)?.0,
            server,
            handle,
        ))
    }

    fn current(&mut self, server: &str, now: UnixTime) -> Result<Option<Association>, StoreError> {
        Ok(assoc_current(
            &read(&assoc_key(server, false)?)?.0,
            server,
            now,
        ))
    }

    fn put(&mut self, association: Association) -> Result<(), StoreError> {
        let now = self.now;
        update(
            &assoc_key(&association.server, true)?,
            |text| match assoc_put(text, &association, now, MAX_ASSOCS_PER_BUCKET) {
                Some(new) => Ok((Some(new), ())),
                None => Err(StoreError("association with a blank field".into())),
            },
        )
    }

    fn remove(&mut self, server: &str, handle: &str) -> Result<(), StoreError> {
        update(&assoc_key(server, true)?, |text| {
            Ok((assoc_remove(text, server, handle), ()))
        })
    }
}
