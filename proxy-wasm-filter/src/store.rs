//! Server-side revocation in Envoy shared data: shared by every worker of the same `vm_id` and
//! kept across VM reloads.
//!
//! Envoy never deletes a shared-data key (writing an empty value keeps the key), so revocations
//! live in a fixed set of bucket keys created in `on_configure`, like OpenID's replay cache: a
//! session goes to the bucket named by the first byte of the SHA-256 of its id, as a
//! `<expires> <hash>` line; each write prunes the bucket's expired lines (read–modify–CAS,
//! retried on a lost race). Memory stays bounded however many sessions are ever revoked.
//! (Before, one key per revoked session stayed behind for the life of the Envoy process.)

use authrs_core::engine::{RevocationStore, StoreError};
// The bucket helpers are OpenID's replay cache's: they speak its (identical) error type.
use authrs_core::openid::store::StoreError as BucketError;
use authrs_core::time::UnixTime;

use crate::openid_buckets::{
    create_missing, id_and_bucket, nonce_insert, nonce_live, nonce_seen, NonceInsert,
};
use crate::openid_store::{read, update, Host};

const PREFIX: &str = "authrs.revoked.bucket.";
const BUCKETS: usize = 256;
/// Live revocations one bucket holds (256 × 1024 in all): a logout that would overfill its
/// bucket fails (500, logged) rather than drop another session's revocation.
const MAX_PER_BUCKET: usize = 1024;

fn bucket_key(n: usize) -> String {
    format!("{PREFIX}{n}")
}

/// Creates every bucket key that does not exist yet (so later CAS writes are checked); existing
/// ones, even empty, are left alone: another worker may be adding to them.
pub fn init() {
    let keys: Vec<String> = (0..BUCKETS).map(bucket_key).collect();
    create_missing(&Host, keys.iter().map(String::as_str));
}

/// The store handed to the core; `now` is the request's time, used to prune buckets.
#[derive(Debug, Default)]
pub struct SharedRevocations {
    /// The current time of the request.
    pub now: UnixTime,
    /// Live revocations in all buckets after this request wrote some (the `revoked_sessions` gauge).
    pub indexed: Option<usize>,
}

impl RevocationStore for SharedRevocations {
    fn is_revoked(&mut self, ticket_id: &str, now: UnixTime) -> Result<bool, StoreError> {
        let (id, n) = id_and_bucket(ticket_id, BUCKETS);
        // An entry lasts until the ticket's own expiry; at that second the ticket is expired anyway.
        let (text, _) = read(&bucket_key(n)).map_err(from_bucket)?;
        Ok(nonce_seen(&text, &id, now))
    }

    fn revoke(&mut self, ticket_id: &str, until: UnixTime) -> Result<(), StoreError> {
        self.revoke_all(&[(ticket_id.to_string(), until)])
    }

    /// Adds each session to its bucket (once), then counts what the buckets hold for the gauge.
    fn revoke_all(&mut self, tickets: &[(String, UnixTime)]) -> Result<(), StoreError> {
        if tickets.is_empty() {
            return Ok(());
        }
        let now = self.now;
        for (ticket_id, until) in tickets {
            let (id, n) = id_and_bucket(ticket_id, BUCKETS);
            update(&bucket_key(n), |text| {
                match nonce_insert(text, &id, *until, now, MAX_PER_BUCKET) {
                    NonceInsert::Replay => Ok((None, ())),
                    NonceInsert::Write(new) => Ok((Some(new), ())),
                    NonceInsert::Full => Err(BucketError(format!(
                        "revocation bucket {n} holds {MAX_PER_BUCKET} live sessions already"
                    ))),
                }
            })
            .map_err(from_bucket)?;
        }
        // Logouts that write are rare: reading every bucket for an exact gauge is affordable.
        let mut live = 0;
        for n in 0..BUCKETS {
            live += read(&bucket_key(n)).map_or(0, |(text, _)| nonce_live(&text, now));
        }
        self.indexed = Some(live);
        Ok(())
    }
}

fn from_bucket(e: BucketError) -> StoreError {
    StoreError(e.0)
}
