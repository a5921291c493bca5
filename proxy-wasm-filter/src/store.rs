//! Server-side revocation in Envoy shared data: shared by every worker of the same `vm_id` and
//! kept across VM reloads.
//!
//! Envoy never deletes a shared-data key (writing an empty value keeps the key), so revocations
//! live in a fixed set of bucket keys created in `on_configure`, like OpenID's replay cache: a
//! session goes to the bucket its SHA-256 picks under the secret bucket key (`buckets`), as an
//! `<expires> <hash>` line;
//! each write prunes the bucket's expired lines (read–modify–CAS, retried on a lost race).
//! Memory stays bounded however many sessions are ever revoked, and a ticket check reads one
//! small bucket. (Before, one key per revoked session stayed behind for the life of the Envoy
//! process; [`init`] moves what such a build recorded into the buckets.)

use authrs_core::engine::{RevocationStore, StoreError};
// The bucket helpers are OpenID's replay cache's: they speak its (identical) error type.
use authrs_core::openid::store::StoreError as BucketError;
use authrs_core::time::UnixTime;
use proxy_wasm::hostcalls::{get_shared_data, set_shared_data};

use crate::buckets::{self, REVOKED_BUCKETS, REVOKED_PER_BUCKET};
use crate::openid_buckets::{
    create_missing, id_and_bucket, index_lines, nonce_insert, nonce_seen, NonceInsert,
};
use crate::openid_store::{read, update, Host};

/// Hex digits of the SHA-256 kept per entry (128 bits).
const ID_HEX: usize = 32;
/// Entries held in all buckets (expired ones included until their bucket is next written).
const COUNT: &str = "authrs.revoked.count";
/// What builds before the buckets wrote: an index of `<expires> <id>` lines, a key per id.
const OLD_INDEX: &str = "authrs.revoked.index";
const OLD_PREFIX: &str = "authrs.revoked.";

/// The entry id of a session, its keyed bucket, and the older build's bucket while that is
/// still read (first: see `buckets`); `write`: to add it (needs a confirmed key).
fn entry(ticket_id: &str, write: bool) -> Result<(String, String, Option<String>), BucketError> {
    let (mut id, plain) = id_and_bucket(ticket_id, REVOKED_BUCKETS);
    id.truncate(ID_HEX);
    let (bucket, old) = buckets::revocation_buckets(&id, plain, write)?;
    Ok((id, bucket, old))
}

fn from_bucket(e: BucketError) -> StoreError {
    StoreError(e.0)
}

/// Creates every bucket key that does not exist yet (so later CAS writes are checked); existing
/// ones, even empty, are left alone: another worker may be adding to them.
pub fn init() {
    let keys: Vec<String> = buckets::revocation_keys()
        .chain([COUNT.to_string()])
        .collect();
    create_missing(&Host, keys.iter().map(String::as_str));
}

/// At configure and on ticks, once the bucket key is confirmed: moves the live revocations a
/// build before the buckets left (its index, a key per session) into the buckets and empties
/// its keys (the index only if nobody added to it meanwhile).
pub fn move_old_index(now: UnixTime) {
    let Ok((old, cas)) = read(OLD_INDEX) else {
        return;
    };
    if old.is_empty() {
        return;
    }
    if add(&index_lines(&old, now), now).is_err() {
        // Not all moved (a full bucket, lost CAS races while every worker migrates): the old
        // index stays for the next tick to move again — emptying it would drop revocations.
        return;
    }
    if set_shared_data(OLD_INDEX, Some(b""), cas).is_err() {
        // Changed since read: moved again (idempotent) at the next tick.
        return;
    }
    for line in old.lines() {
        if let Some((_, id)) = line.split_once(' ') {
            let _ = set_shared_data(&format!("{OLD_PREFIX}{id}"), Some(b""), None);
        }
    }
}

/// Adds sessions to their buckets (each once); returns the entries now held in all buckets
/// (`None` when the count could not be updated: the revocations stand, the gauge lags).
fn add(tickets: &[(String, UnixTime)], now: UnixTime) -> Result<Option<u64>, StoreError> {
    let mut delta: i64 = 0;
    for (ticket_id, until) in tickets {
        let (id, key, old) = entry(ticket_id, true).map_err(from_bucket)?;
        delta += update(&key, |text| {
            let before = text.lines().count() as i64;
            match nonce_insert(text, &id, *until, now, REVOKED_PER_BUCKET) {
                NonceInsert::Replay => Ok((None, 0)),
                NonceInsert::Write(new) => {
                    let after = new.lines().count() as i64;
                    Ok((Some(new), after - before))
                }
                NonceInsert::Full => Err(BucketError(format!(
                    "revocation bucket {key} holds {REVOKED_PER_BUCKET} live sessions already"
                ))),
            }
        })
        .map_err(from_bucket)?;
        if let Some(old) = old {
            // An older build in this process checks only its own bucket: best effort there
            // (it refuses rather than evicts; a full one is that build's limit, as before).
            let _ = update(&old, |text| {
                match nonce_insert(text, &id, *until, now, usize::MAX) {
                    NonceInsert::Write(new) => Ok((Some(new), ())),
                    NonceInsert::Replay | NonceInsert::Full => Ok((None, ())),
                }
            });
        }
    }
    Ok(update(COUNT, |text| {
        let held = text
            .trim()
            .parse::<i64>()
            .unwrap_or(0)
            .saturating_add(delta)
            .max(0);
        Ok((Some(held.to_string()), held as u64))
    })
    .ok())
}

/// Whether bucket `key` holds `id` unexpired at `now` (read in place: this runs on every ticket
/// check). Unreadable text is a fault, never "not revoked".
fn seen(key: &str, id: &str, now: UnixTime) -> Result<bool, StoreError> {
    let (value, _) =
        get_shared_data(key).map_err(|s| StoreError(format!("shared data read failed: {s:?}")))?;
    match value.as_deref().map(std::str::from_utf8) {
        None => Ok(false),
        Some(Ok(text)) => Ok(nonce_seen(text, id, now)),
        Some(Err(_)) => Err(StoreError(format!("{key}: not UTF-8"))),
    }
}

/// The store handed to the core; `now` is the request's time, used to prune buckets.
#[derive(Debug, Default)]
pub struct SharedRevocations {
    /// The current time of the request.
    pub now: UnixTime,
    /// Entries held in the buckets after this request wrote some (the `revoked_sessions` gauge).
    pub indexed: Option<usize>,
}

impl RevocationStore for SharedRevocations {
    fn is_revoked(&mut self, ticket_id: &str, now: UnixTime) -> Result<bool, StoreError> {
        let (id, key, old) = entry(ticket_id, false).map_err(from_bucket)?;
        // An entry lasts until the ticket's own expiry; at that second the ticket is expired
        // anyway. Only this filter writes the buckets: unreadable text is a fault (an error,
        // refused), never "not revoked". The older build's bucket first (see `buckets`).
        if let Some(old) = old {
            if seen(&old, &id, now)? {
                return Ok(true);
            }
        }
        seen(&key, &id, now)
    }

    fn revoke(&mut self, ticket_id: &str, until: UnixTime) -> Result<(), StoreError> {
        self.revoke_all(&[(ticket_id.to_string(), until)])
    }

    fn revoke_all(&mut self, tickets: &[(String, UnixTime)]) -> Result<(), StoreError> {
        if tickets.is_empty() {
            return Ok(());
        }
        let held = add(tickets, self.now)?;
        self.indexed = held.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        Ok(())
    }
}
