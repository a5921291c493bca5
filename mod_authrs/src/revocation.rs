//! Server-side ticket revocation (`AuthRsRevokeOnLogout On`) in httpd's socache (`AuthRsCache`,
//! default `shmcb`): every worker, and with memcache/redis every server, sees a logout.

use crate::ffi;
use authrs_core::engine::{RevocationStore, StoreError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Set while reading the configuration when some scope turns revocation on.
pub static WANTED: AtomicBool = AtomicBool::new(false);
/// The `AuthRsCache` provider spec last read (server scope), e.g. `shmcb` or `memcache:host:11211`.
pub static SPEC: Mutex<Option<String>> = Mutex::new(None);

/// Forgets what the previous configuration generation asked for (pre_config).
pub fn reset() {
    WANTED.store(false, Ordering::Relaxed);
    *SPEC.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// The spec to create the cache with.
pub fn spec() -> String {
    SPEC.lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or_else(|| "shmcb".to_string())
}

/// Whether this process has a revocation cache.
pub fn enabled() -> bool {
    // SAFETY: reads a C global set during configuration, before requests.
    unsafe { ffi::authrs_cache_enabled() != 0 }
}

/// The socache, as the engine's revocation store, for one request (its pool, its server).
pub struct SoCache<'a> {
    /// The request whose pool and server the calls use.
    pub r: &'a ffi::request_rec,
}

impl RevocationStore for SoCache<'_> {
    fn is_revoked(&mut self, ticket_id: &str, _now: i64) -> Result<bool, StoreError> {
        // SAFETY: r is live; the id bytes outlive the call; the shim checks the cache exists.
        let rc = unsafe {
            ffi::authrs_cache_lookup(
                self.r.server,
                ticket_id.as_ptr(),
                ticket_id.len() as u32,
                self.r.pool,
            )
        };
        match rc {
            1 => Ok(true),
            0 => Ok(false),
            _ => Err(StoreError(
                "the AuthRsCache socache did not answer".to_string(),
            )),
        }
    }

    fn revoke(&mut self, ticket_id: &str, until: i64) -> Result<(), StoreError> {
        let expiry = until.saturating_mul(1_000_000);
        // SAFETY: as above.
        let rv = unsafe {
            ffi::authrs_cache_store(
                self.r.server,
                ticket_id.as_ptr(),
                ticket_id.len() as u32,
                expiry,
                self.r.pool,
            )
        };
        if rv == 0 {
            Ok(())
        } else {
            Err(StoreError(format!(
                "the AuthRsCache socache refused the entry (status {rv})"
            )))
        }
    }
}
