//! Server-side ticket revocation (`AuthRsRevokeOnLogout On`) in httpd's socache (`AuthRsCache`,
//! default `shmcb`): every worker, and with memcache/redis every server, sees a logout. The
//! records have an instance of their own, which OpenID state never shares ([`crate::socache`]).

use crate::ffi;
use crate::socache::Instance;
use authrs_core::engine::{RevocationStore, StoreError};
use std::sync::atomic::AtomicBool;

/// Set while reading the configuration when some scope turns revocation on: the revocation
/// socache instance is created only then ([`crate::socache`]).
pub static WANTED: AtomicBool = AtomicBool::new(false);

/// Whether this process has a revocation cache.
pub fn enabled() -> bool {
    Instance::Revocations.enabled()
}

/// The socache, as the engine's revocation store, for one request (its pool, its server).
pub struct SoCache<'a> {
    /// The request whose pool and server the calls use.
    pub r: &'a ffi::request_rec,
}

/// The socache id of a revoked ticket: SHA-256 of the instance's id secret (shmcb) and the
/// core's (hex) ticket id. shmcb picks an entry's sub-cache by the id's first byte, so hex ids
/// would fill only 16 of its 64, and without the secret anyone could aim their own logouts at
/// the sub-cache holding a victim's revocation ([`Instance::digest`]).
fn cache_id(ticket_id: &str) -> [u8; 32] {
    Instance::Revocations.digest(&[b"authrs-revoked\0", ticket_id.as_bytes()])
}

impl RevocationStore for SoCache<'_> {
    fn is_revoked(&mut self, ticket_id: &str, _now: i64) -> Result<bool, StoreError> {
        let id = cache_id(ticket_id);
        // SAFETY: r is live; the id bytes outlive the call; the shim checks the cache exists.
        let rc = unsafe {
            ffi::authrs_cache_lookup(
                Instance::Revocations.which(),
                self.r.server,
                id.as_ptr(),
                id.len() as u32,
                self.r.pool,
            )
        };
        match rc {
            1 => Ok(true),
            0 => Ok(false),
            _ => Err(StoreError(
                "the AuthRsCache revocation socache did not answer".to_string(),
            )),
        }
    }

    fn revoke(&mut self, ticket_id: &str, until: i64) -> Result<(), StoreError> {
        // memcached reads a lifetime over 30 days as a Unix time in 1970: the entry would be
        // gone at once while the store says STORED, and the "revoked" ticket keep working.
        // Refused loudly instead (the logout answers 500, the cookie is still cleared).
        const MEMCACHE_MAX: i64 = 30 * 24 * 3600;
        let provider = crate::socache::spec();
        let provider = provider.split(':').next().unwrap_or_default();
        if provider.eq_ignore_ascii_case("memcache")
            && until.saturating_sub(crate::request::now()) > MEMCACHE_MAX
        {
            return Err(StoreError(
                "AuthRsCache memcache keeps an entry at most 30 days, and this ticket lives longer: \
                 lower AuthRsTicketLifetime to 30 days or use redis or shmcb"
                    .to_string(),
            ));
        }
        let id = cache_id(ticket_id);
        let expiry = until.saturating_mul(1_000_000);
        // SAFETY: as above.
        let rv = unsafe {
            ffi::authrs_cache_store(
                Instance::Revocations.which(),
                self.r.server,
                id.as_ptr(),
                id.len() as u32,
                expiry,
                self.r.pool,
            )
        };
        if rv == 0 {
            Ok(())
        } else {
            Err(StoreError(format!(
                "the AuthRsCache revocation socache refused the entry (status {rv})"
            )))
        }
    }
}
