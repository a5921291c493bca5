//! The module's two httpd socache instances, both of the `AuthRsCache` provider (default
//! `shmcb`): logout revocations in one, OpenID nonces, login states and associations in the
//! other. Anyone can make the module store OpenID state without logging in (a login start
//! naming a provider they run makes an association), so sharing one instance would let them
//! evict revocations and bring a revoked ticket back to life; kept apart, they cannot.
//!
//! Each instance gets its own namespace (`authrs`, `authrs-openid`: the default shmcb/dbm file
//! and the memcache/redis key prefix derive from it), its own file when the spec names one
//! (`shmcb:/run/x(512000)` → `/run/x` and `/run/x.openid`, each of that size), and its own
//! mutex (`authrs-cache`, `authrs-openid-cache`) when the provider needs one.

use crate::ffi;
use sha2::{Digest, Sha256};
use std::os::raw::c_int;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// One of the module's socache instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instance {
    /// Logout revocations (`AuthRsRevokeOnLogout On`).
    Revocations,
    /// OpenID nonces, login states and associations (`AuthRsMethods … openid`).
    OpenId,
}

impl Instance {
    /// The shim's number for it (`which`).
    pub fn which(self) -> c_int {
        let n = match self {
            Instance::Revocations => ffi::AUTHRS_CACHE_REVOCATIONS,
            Instance::OpenId => ffi::AUTHRS_CACHE_OPENID,
        };
        n as c_int
    }

    /// Whether this process has it (it exists only where some scope asked for it).
    pub fn enabled(self) -> bool {
        // SAFETY: reads C globals set during configuration, before requests.
        unsafe { ffi::authrs_cache_enabled(self.which()) != 0 }
    }

    /// The SHA-256 an entry's id starts with: of the instance's id secret (shmcb only) and then
    /// `parts`. shmcb picks an entry's sub-cache by the id's first byte and evicts within it;
    /// with a secret nobody can compute which of their entries share a sub-cache with one they
    /// want evicted (a victim's revocation, a nonce), so they have to fill every sub-cache.
    pub fn digest(self, parts: &[&[u8]]) -> [u8; 32] {
        let mut salt = [0u8; ffi::AUTHRS_CACHE_SALT_LEN as usize];
        // SAFETY: `salt` has the length the shim copies; reads C globals set before requests.
        let salted = unsafe { ffi::authrs_cache_salt(self.which(), salt.as_mut_ptr()) } == 1;
        let mut h = Sha256::new();
        if salted {
            h.update(salt);
        }
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }

    /// Whether the configuration read asks for it.
    fn wanted(self) -> bool {
        match self {
            Instance::Revocations => crate::revocation::WANTED.load(Ordering::Relaxed),
            Instance::OpenId => crate::openid::WANTED.load(Ordering::Relaxed),
        }
    }
}

/// The `AuthRsCache` provider spec last read (server scope), e.g. `shmcb` or `memcache:host:11211`.
pub static SPEC: Mutex<Option<String>> = Mutex::new(None);

/// Forgets what the previous configuration generation asked for (pre_config).
pub fn reset() {
    crate::revocation::WANTED.store(false, Ordering::Relaxed);
    crate::openid::WANTED.store(false, Ordering::Relaxed);
    *SPEC.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// The configured spec (`AuthRsCache`, default `shmcb`).
pub(crate) fn spec() -> String {
    SPEC.lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or_else(|| "shmcb".to_string())
}

/// The spec `instance` is created with: the configured one, except that a file named for the
/// file-backed providers (shmcb, dbm) gets `.openid` appended for the OpenID instance, so the
/// two never share a file (shmcb's `(size)` stays last). Without a file, the namespace tells
/// the instances apart; memcache and redis prefix their keys with it.
pub fn spec_for(spec: &str, instance: Instance) -> String {
    const SUFFIX: &str = ".openid";
    let Some((name, arg)) = spec.split_once(':') else {
        return spec.to_string();
    };
    if instance == Instance::Revocations || arg.is_empty() {
        return spec.to_string();
    }
    match name {
        // shmcb reads `path(size)` by the last '('; a malformed arg is left for shmcb to refuse.
        "shmcb" if arg.ends_with(')') => match arg.rfind('(') {
            Some(i) => format!("{name}:{}{SUFFIX}{}", &arg[..i], &arg[i..]),
            None => spec.to_string(),
        },
        "shmcb" | "dbm" => format!("{spec}{SUFFIX}"),
        _ => spec.to_string(),
    }
}

/// Creates the instances the configuration asks for (post_config): `Err` with the reason.
///
/// # Safety
/// Live pools and server, during post_config.
pub unsafe fn setup(
    s: *mut ffi::server_rec,
    pconf: *mut ffi::apr_pool_t,
    ptemp: *mut ffi::apr_pool_t,
) -> Result<(), String> {
    let configured = spec();
    for instance in [Instance::Revocations, Instance::OpenId] {
        if !instance.wanted() {
            continue;
        }
        let spec = crate::apr::cstring(&spec_for(&configured, instance));
        // SAFETY: live pools and server; the shim copies what it keeps of spec.
        let err =
            unsafe { ffi::authrs_cache_setup(s, pconf, ptemp, instance.which(), spec.as_ptr()) };
        // SAFETY: NULL or a string in ptemp.
        if let Some(e) = unsafe { crate::apr::str_from(err) } {
            return Err(e.into_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openid_instance_never_shares_a_file_with_revocations() {
        let openid = |s| spec_for(s, Instance::OpenId);
        assert_eq!(openid("shmcb:/run/x(8192)"), "shmcb:/run/x.openid(8192)");
        assert_eq!(
            openid("shmcb:/run/a(b)/x(8192)"),
            "shmcb:/run/a(b)/x.openid(8192)"
        );
        assert_eq!(openid("shmcb:run/x"), "shmcb:run/x.openid");
        assert_eq!(
            openid("dbm:/var/cache/authrs"),
            "dbm:/var/cache/authrs.openid"
        );
        // No file: the namespace (authrs-openid) tells them apart.
        assert_eq!(openid("shmcb"), "shmcb");
        assert_eq!(openid("shmcb:"), "shmcb:");
        assert_eq!(openid("dbm"), "dbm");
        // Servers, not files: the keys carry the namespace.
        assert_eq!(
            openid("memcache:h1:11211,h2:11211"),
            "memcache:h1:11211,h2:11211"
        );
        assert_eq!(openid("redis:127.0.0.1:6379"), "redis:127.0.0.1:6379");
        // What shmcb refuses stays refused.
        assert_eq!(openid("shmcb:/run/x)"), "shmcb:/run/x)");
        // Revocations keep the spec as written.
        for s in ["shmcb:/run/x(8192)", "dbm:/var/x", "shmcb", "memcache:h:1"] {
            assert_eq!(spec_for(s, Instance::Revocations), s);
        }
    }
}
