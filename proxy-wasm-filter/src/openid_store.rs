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

use authrs_core::openid::store::{StoreError, DEFAULT_NONCE_LIFETIME};
use authrs_core::time::UnixTime;

use crate::buckets::{self, NONCES_PER_BUCKET, NONCE_BUCKETS};
use crate::openid_buckets::{
    create_missing, holds, id_and_bucket, nonce_insert, update, NonceInsert, SharedData,
};

/// Creates every keyed bucket key that does not exist yet (so later CAS writes are checked).
pub fn init(host: &impl SharedData) {
    let keys: Vec<String> = buckets::openid_keys().collect();
    create_missing(host, keys.iter().map(String::as_str));
}

/// Shared data through the host calls.
#[cfg(target_arch = "wasm32")]
pub(crate) struct Host;

#[cfg(target_arch = "wasm32")]
impl SharedData for Host {
    fn get(&self, key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), proxy_wasm::types::Status> {
        proxy_wasm::hostcalls::get_shared_data(key)
    }

    fn set(
        &self,
        key: &str,
        value: &[u8],
        cas: Option<u32>,
    ) -> Result<(), proxy_wasm::types::Status> {
        proxy_wasm::hostcalls::set_shared_data(key, Some(value), cas)
    }
}

/// The nonce's id, its keyed bucket, and the older build's bucket while that build's buckets
/// exist (read first, written too: see `buckets`); `write`: to record it (needs a confirmed key).
fn nonce_key(key: &str, write: bool) -> Result<(String, String, Option<String>), StoreError> {
    let (id, plain) = id_and_bucket(key, NONCE_BUCKETS);
    let (bucket, old) = buckets::nonce_buckets(&id, plain, write)?;
    Ok((id, bucket, old))
}

/// Whether the nonce `key` was recorded and is unexpired at `now` (the older build's bucket
/// first, while it exists).
pub fn seen(host: &impl SharedData, key: &str, now: UnixTime) -> Result<bool, StoreError> {
    let (id, bucket, old) = nonce_key(key, false)?;
    if let Some(old) = old {
        if holds(host, &old, &id, now)? {
            return Ok(true);
        }
    }
    holds(host, &bucket, &id, now)
}

/// Records the nonce `key` until `expires` (default lifetime when `None`); `false` when it was
/// recorded already (a replay). While an older build's buckets exist, its plain bucket is
/// written first, under the same rules (a replay there is a replay, full refuses): a VM of that
/// build checks only that bucket, so a nonce taken here must be taken there too.
pub fn check_and_insert(
    host: &impl SharedData,
    key: &str,
    expires: Option<UnixTime>,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let (id, bucket, old) = nonce_key(key, true)?;
    let until = expires.unwrap_or(now.saturating_add(DEFAULT_NONCE_LIFETIME));
    let insert = |bucket: &str| {
        update(host, bucket, |text| {
            match nonce_insert(text, &id, until, now, NONCES_PER_BUCKET) {
                NonceInsert::Replay => Ok((None, false)),
                NonceInsert::Write(new) => Ok((Some(new), true)),
                NonceInsert::Full => Err(StoreError("the OpenID replay cache is full".into())),
            }
        })
    };
    if let Some(old) = &old {
        if !insert(old)? {
            return Ok(false);
        }
    }
    insert(&bucket)
}

/// The replay cache handed to the core.
#[cfg(target_arch = "wasm32")]
#[derive(Debug, Default)]
pub struct SharedNonces;

#[cfg(target_arch = "wasm32")]
impl authrs_core::openid::store::NonceStore for SharedNonces {
    fn seen(&mut self, key: &str, now: UnixTime) -> Result<bool, StoreError> {
        seen(&Host, key, now)
    }

    fn check_and_insert(
        &mut self,
        key: &str,
        expires: Option<UnixTime>,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        check_and_insert(&Host, key, expires, now)
    }
}

/// The association cache (wasm only: its edits are unit-tested in `openid_buckets`).
#[cfg(target_arch = "wasm32")]
mod associations {
    use super::*;
    use crate::openid_buckets::{assoc_current, assoc_find, assoc_put, assoc_remove, read};
    use authrs_core::openid::assoc::Association;
    use authrs_core::openid::store::AssociationStore;

    /// Associations one bucket keeps; beyond it the oldest is dropped (the next login
    /// associates again).
    const MAX_ASSOCS_PER_BUCKET: usize = 16;

    fn assoc_key(server: &str, write: bool) -> Result<String, StoreError> {
        buckets::assoc_bucket(&id_and_bucket(server, 1).0, write)
    }

    /// The association cache handed to the core; `now` prunes expired entries on writes.
    #[derive(Debug, Default)]
    pub struct SharedAssociations {
        /// The request's time.
        pub now: UnixTime,
    }

    impl AssociationStore for SharedAssociations {
        fn get(&mut self, server: &str, handle: &str) -> Result<Option<Association>, StoreError> {
            let bucket = assoc_key(server, false)?;
            Ok(assoc_find(&read(&Host, &bucket)?.0, server, handle))
        }

        fn current(
            &mut self,
            server: &str,
            now: UnixTime,
        ) -> Result<Option<Association>, StoreError> {
            let bucket = assoc_key(server, false)?;
            Ok(assoc_current(&read(&Host, &bucket)?.0, server, now))
        }

        fn put(&mut self, association: Association) -> Result<(), StoreError> {
            let now = self.now;
            let bucket = assoc_key(&association.server, true)?;
            update(&Host, &bucket, |text| {
                match assoc_put(text, &association, now, MAX_ASSOCS_PER_BUCKET) {
                    Some(new) => Ok((Some(new), ())),
                    None => Err(StoreError("association with a blank field".into())),
                }
            })
        }

        fn remove(&mut self, server: &str, handle: &str) -> Result<(), StoreError> {
            let bucket = assoc_key(server, true)?;
            update(&Host, &bucket, |text| {
                Ok((assoc_remove(text, server, handle), ()))
            })
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub use associations::SharedAssociations;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::buckets::testing::{key_state, LEGACY_NONCE};
    use crate::openid_buckets::fake::FakeShared;
    use crate::openid_buckets::{nonce_seen, read};

    const NOW: UnixTime = 1_800_000_000;

    #[test]
    fn a_nonce_is_accepted_once() {
        let host = FakeShared::default();
        key_state(true, false);
        init(&host);
        assert!(check_and_insert(&host, "op|nonce-1", None, NOW).unwrap());
        assert!(!check_and_insert(&host, "op|nonce-1", None, NOW + 1).unwrap());
        assert!(seen(&host, "op|nonce-1", NOW).unwrap());
        assert!(!seen(&host, "op|nonce-2", NOW).unwrap());
        assert!(host
            .map
            .borrow()
            .keys()
            .all(|k| !k.starts_with(LEGACY_NONCE) || k.contains("keyed")));
        // An unconfirmed key records nothing (the return is refused: store_failed).
        key_state(false, false);
        assert!(check_and_insert(&host, "op|nonce-3", None, NOW).is_err());
    }

    /// `init` creates every bucket, so a nonce recorded while another worker writes the same
    /// bucket, not written before, is checked (CAS) and both are kept.
    #[test]
    fn after_init_a_racing_nonce_in_a_new_bucket_is_kept() {
        let host = FakeShared::default();
        key_state(true, false);
        init(&host);
        let (_, bucket, _) = nonce_key("op|mine", true).unwrap();
        let theirs = "f".repeat(64);
        let line = format!("{} {theirs}", NOW + 60);
        *host.racer.borrow_mut() = Some((bucket.clone(), line.into()));
        assert!(check_and_insert(&host, "op|mine", None, NOW).unwrap());
        assert!(nonce_seen(&read(&host, &bucket).unwrap().0, &theirs, NOW));
        assert!(seen(&host, "op|mine", NOW).unwrap());
    }

    #[test]
    fn an_older_builds_nonces_count_and_this_builds_reach_it() {
        let host = FakeShared::default();
        key_state(true, true);
        // A nonce an older build in this process accepted: a replay here.
        let (id, n) = id_and_bucket("op|old-nonce", NONCE_BUCKETS);
        let old = format!("{LEGACY_NONCE}{n}");
        host.set(&old, format!("{} {id}", NOW + 60).as_bytes(), None)
            .unwrap();
        assert!(seen(&host, "op|old-nonce", NOW).unwrap());
        assert!(!check_and_insert(&host, "op|old-nonce", None, NOW).unwrap());
        // One accepted here is written to the older build's bucket too, first.
        assert!(check_and_insert(&host, "op|new-nonce", None, NOW).unwrap());
        let (id, n) = id_and_bucket("op|new-nonce", NONCE_BUCKETS);
        let (text, _) = read(&host, &format!("{LEGACY_NONCE}{n}")).unwrap();
        assert!(nonce_seen(&text, &id, NOW));
        assert!(!check_and_insert(&host, "op|new-nonce", None, NOW).unwrap());
        // The older build's bucket is full: refused (store_failed), nothing recorded here.
        let (_, n) = id_and_bucket("op|third", NONCE_BUCKETS);
        let full: Vec<String> = (0..NONCES_PER_BUCKET)
            .map(|i| format!("{} f{i}", NOW + 60))
            .collect();
        host.set(
            &format!("{LEGACY_NONCE}{n}"),
            full.join("\n").as_bytes(),
            None,
        )
        .unwrap();
        assert!(check_and_insert(&host, "op|third", None, NOW).is_err());
        key_state(true, false);
        assert!(!seen(&host, "op|third", NOW).unwrap());
    }
}
