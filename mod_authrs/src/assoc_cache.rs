//! OpenID associations in the `AuthRsCache` socache's OpenID instance (never the revocations'
//! one: [`crate::socache`]), shared by every httpd process (and, with memcache or redis, every
//! server): a login started by one worker verifies its signature in any other, without asking
//! the provider (check_authentication).
//!
//! Two entries per association, each expiring with it: SHA-256(server, handle) + `:openid-assoc`
//! for verification, and SHA-256(server) + `:openid-assoc-current`, the one new logins use
//! (with shmcb the digests hash in the cache's secret first: `Instance::digest`).
//! Values are [`Association::to_json`] records; a record that does not decode, or names another
//! server or handle than asked for, counts as absent (verification then asks the provider).
//! The secrets sit where the cache keeps them: shared memory with shmcb, the network and the
//! cache server with memcache/redis (keep those on a trusted network).

use crate::ffi;
use crate::socache::Instance;
use authrs_core::openid::assoc::Association;
use authrs_core::openid::store::{AssociationStore, StoreError};

/// The largest record kept (a handle is at most 255 bytes; this leaves ample room for the URL).
const MAX_RECORD: usize = 4096;

/// The association store of one request (its pool, its server).
pub struct SoCacheAssociations<'a> {
    /// The request whose pool and server the cache calls use.
    pub r: &'a ffi::request_rec,
}

// Ids start with the digest (keyed for shmcb: `Instance::digest`): shmcb picks an entry's
// sub-cache by the id's first byte, so a common text prefix would put every entry in one
// sub-cache. The label after it keeps the kinds apart.
fn by_handle(server: &str, handle: &str) -> Vec<u8> {
    // A handle is printable ASCII: a NUL separator cannot be forged by either part.
    let parts: [&[u8]; 3] = [server.as_bytes(), &[0u8], handle.as_bytes()];
    let mut id = Instance::OpenId.digest(&parts).to_vec();
    id.extend_from_slice(b":openid-assoc");
    id
}

fn current_for(server: &str) -> Vec<u8> {
    let mut id = Instance::OpenId.digest(&[server.as_bytes()]).to_vec();
    id.extend_from_slice(b":openid-assoc-current");
    id
}

impl SoCacheAssociations<'_> {
    fn read(&self, id: &[u8]) -> Result<Option<Association>, StoreError> {
        let mut buf = vec![0u8; MAX_RECORD];
        let mut len = MAX_RECORD as u32;
        // SAFETY: r is live; id and buf outlive the call; buf holds len bytes; the shim checks
        // the cache exists and writes at most len bytes.
        let rc = unsafe {
            ffi::authrs_cache_get(
                Instance::OpenId.which(),
                self.r.server,
                id.as_ptr(),
                id.len() as u32,
                buf.as_mut_ptr(),
                &mut len,
                self.r.pool,
            )
        };
        match rc {
            1 => {
                buf.truncate((len as usize).min(MAX_RECORD));
                Ok(Association::from_json(&buf))
            }
            0 => Ok(None),
            _ => Err(StoreError(
                "the AuthRsCache socache did not answer".to_string(),
            )),
        }
    }

    fn write(&self, id: &[u8], record: &[u8], expiry: i64) -> Result<(), StoreError> {
        // SAFETY: r is live; id and record outlive the call; the provider copies the bytes.
        let rv = unsafe {
            ffi::authrs_cache_put(
                Instance::OpenId.which(),
                self.r.server,
                id.as_ptr(),
                id.len() as u32,
                expiry.saturating_mul(1_000_000),
                record.as_ptr(),
                record.len() as u32,
                self.r.pool,
            )
        };
        if rv == 0 {
            Ok(())
        } else {
            Err(StoreError(format!(
                "the AuthRsCache socache refused the association (status {rv})"
            )))
        }
    }

    fn delete(&self, id: &[u8]) -> Result<(), StoreError> {
        // SAFETY: r is live; id outlives the call.
        let rv = unsafe {
            ffi::authrs_cache_remove(
                Instance::OpenId.which(),
                self.r.server,
                id.as_ptr(),
                id.len() as u32,
                self.r.pool,
            )
        };
        if rv == 0 {
            Ok(())
        } else {
            Err(StoreError(format!(
                "the AuthRsCache socache could not remove the association (status {rv})"
            )))
        }
    }
}

impl AssociationStore for SoCacheAssociations<'_> {
    fn get(&mut self, server: &str, handle: &str) -> Result<Option<Association>, StoreError> {
        Ok(self
            .read(&by_handle(server, handle))?
            .filter(|a| a.server == server && a.handle == handle))
    }

    fn current(&mut self, server: &str, now: i64) -> Result<Option<Association>, StoreError> {
        Ok(self
            .read(&current_for(server))?
            .filter(|a| a.server == server && a.usable(now)))
    }

    fn put(&mut self, association: Association) -> Result<(), StoreError> {
        let record = association.to_json();
        if record.len() > MAX_RECORD {
            return Err(StoreError(format!(
                "an association record of {} bytes is too large for the cache",
                record.len()
            )));
        }
        // By handle first: once a login can be sent with it, every process can verify it.
        self.write(
            &by_handle(&association.server, &association.handle),
            record.as_bytes(),
            association.expiry,
        )?;
        self.write(
            &current_for(&association.server),
            record.as_bytes(),
            association.expiry,
        )
    }

    fn remove(&mut self, server: &str, handle: &str) -> Result<(), StoreError> {
        self.delete(&by_handle(server, handle))?;
        let current = current_for(server);
        if self.read(&current)?.is_some_and(|a| a.handle == handle) {
            self.delete(&current)?;
        }
        Ok(())
    }
}
