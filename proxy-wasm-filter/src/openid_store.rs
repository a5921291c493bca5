//! OpenID's replay cache and association cache in Envoy shared data: shared by every worker of
//! the same `vm_id` and kept across VM reloads, so a return served by another worker still
//! finds the nonce and the association (no stateless fallback needed).
//!
//! Shared data has no TTL and no deletion, and a CAS on a key that does not exist yet is not
//! checked: a fixed number of bucket keys is created in `on_configure` ([`init`]), every update
//! is a read–modify–CAS-write retried on a lost race, and each write prunes what has expired.
//! A key goes to the bucket named by the first byte of its SHA-256, so memory stays bounded
//! whatever identifiers and providers clients name.

use authrs_core::openid::assoc::Association;
use authrs_core::openid::store::{
    AssociationStore, NonceStore, StoreError, DEFAULT_NONCE_LIFETIME,
};
use authrs_core::time::UnixTime;
use proxy_wasm::hostcalls::{get_shared_data, set_shared_data};
use proxy_wasm::types::Status;

use crate::openid_buckets::{
    assoc_current, assoc_find, assoc_put, assoc_remove, create_missing, id_and_bucket,
    nonce_insert, nonce_seen, NonceInsert, SharedData,
};

const NONCE_PREFIX: &str = "authrs.openid.nonce.";
const NONCE_BUCKETS: usize = 64;
/// Live nonces one bucket holds; a full bucket refuses new logins (`store_failed`) rather than
/// forget a nonce that could then be replayed.
const MAX_NONCES_PER_BUCKET: usize = 4096;

const ASSOC_PREFIX: &str = "authrs.openid.assoc.";
const ASSOC_BUCKETS: usize = 16;
/// Associations one bucket keeps; beyond it the oldest is dropped (the next login associates again).
const MAX_ASSOCS_PER_BUCKET: usize = 16;

/// Lost CAS races tolerated per update before giving up (`store_failed`).
const CAS_RETRIES: usize = 16;

/// Creates every bucket key that does not exist yet (so later CAS writes are checked).
pub fn init() {
    let buckets: Vec<String> = (0..NONCE_BUCKETS)
        .map(|i| format!("{NONCE_PREFIX}{i}"))
        .chain((0..ASSOC_BUCKETS).map(|i| format!("{ASSOC_PREFIX}{i}")))
        .collect();
    create_missing(&Host, buckets.iter().map(String::as_str));
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

fn err(what: &str, s: Status) -> StoreError {
    StoreError(format!("shared data {what} failed: {s:?}"))
}

/// Reads a bucket: its text and the CAS to write it back with. A bucket that is not UTF-8 (not
/// written by this filter) is an error, never empty text: a write would otherwise replace what
/// it holds (nonces seen, revocations) with nothing.
pub(crate) fn read(key: &str) -> Result<(String, Option<u32>), StoreError> {
    let (value, cas) = get_shared_data(key).map_err(|s| err("read", s))?;
    let text = match value.as_deref().map(std::str::from_utf8) {
        None => "",
        Some(Ok(t)) => t,
        Some(Err(_)) => return Err(StoreError(format!("{key}: not text"))),
    };
    Ok((text.to_string(), cas))
}

/// Rewrites a bucket from what was read: `change` gets the text and returns the new text
/// (`None`: nothing to write) and a result; retried while another worker wins the race.
pub(crate) fn update<T>(
    key: &str,
    mut change: impl FnMut(&str) -> Result<(Option<String>, T), StoreError>,
) -> Result<T, StoreError> {
    for _ in 0..CAS_RETRIES {
        let (text, cas) = read(key)?;
        let (new, result) = change(&text)?;
        let Some(new) = new else {
            return Ok(result);
        };
        match set_shared_data(key, Some(new.as_bytes()), cas) {
            Ok(()) => return Ok(result),
            Err(Status::CasMismatch) => continue,
            Err(s) => return Err(err("write", s)),
        }
    }
    Err(StoreError(format!("{key}: too many concurrent updates")))
}

fn nonce_key(key: &str) -> (String, String) {
    let (id, n) = id_and_bucket(key, NONCE_BUCKETS);
    (id, format!("{NONCE_PREFIX}{n}"))
}

fn assoc_key(server: &str) -> String {
    format!("{ASSOC_PREFIX}{}", id_and_bucket(server, ASSOC_BUCKETS).1)
}

/// The replay cache handed to the core.
#[derive(Debug, Default)]
pub struct SharedNonces;

impl NonceStore for SharedNonces {
    fn seen(&mut self, key: &str, now: UnixTime) -> Result<bool, StoreError> {
        let (id, bucket) = nonce_key(key);
        Ok(nonce_seen(&read(&bucket)?.0, &id, now))
    }

    fn check_and_insert(
        &mut self,
        key: &str,
        expires: Option<UnixTime>,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let (id, bucket) = nonce_key(key);
        let until = expires.unwrap_or(now.saturating_add(DEFAULT_NONCE_LIFETIME));
        update(&bucket, |text| {
            match nonce_insert(text, &id, until, now, MAX_NONCES_PER_BUCKET) {
                NonceInsert::Replay => Ok((None, false)),
                NonceInsert::Write(new) => Ok((Some(new), true)),
                NonceInsert::Full => Err(StoreError("the OpenID replay cache is full".into())),
            }
        })
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
        Ok(assoc_find(&read(&assoc_key(server))?.0, server, handle))
    }

    fn current(&mut self, server: &str, now: UnixTime) -> Result<Option<Association>, StoreError> {
        Ok(assoc_current(&read(&assoc_key(server))?.0, server, now))
    }

    fn put(&mut self, association: Association) -> Result<(), StoreError> {
        let now = self.now;
        update(&assoc_key(&association.server), |text| {
            match assoc_put(text, &association, now, MAX_ASSOCS_PER_BUCKET) {
                Some(new) => Ok((Some(new), ())),
                None => Err(StoreError("association with a blank field".into())),
            }
        })
    }

    fn remove(&mut self, server: &str, handle: &str) -> Result<(), StoreError> {
        update(&assoc_key(server), |text| {
            Ok((assoc_remove(text, server, handle), ()))
        })
    }
}
