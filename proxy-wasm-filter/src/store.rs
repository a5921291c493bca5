//! Server-side revocation in Envoy shared data: shared by every worker of the same `vm_id` and
//! kept across VM reloads.
//!
//! Envoy never deletes a shared-data key (writing an empty value keeps the key), so revocations
//! live in a fixed set of bucket keys created in `on_configure`, like OpenID's replay cache: a
//! session goes to the bucket its SHA-256 picks under the secret bucket key (`buckets`), as an
//! `<expires> <hash>` line; each write prunes the bucket's expired lines (read–modify–CAS,
//! retried on a lost race). Memory stays bounded however many sessions are ever revoked, and a
//! ticket check reads one small bucket (two while an older build's buckets exist). (Before the
//! buckets, one key per revoked session stayed behind for the life of the Envoy process;
//! [`move_old_index`] copies what such a build recorded into the buckets.)
//!
//! The logic takes any [`SharedData`] (host tests use a map); the wasm build hands it Envoy's.

use authrs_core::engine::StoreError;
// The bucket helpers are OpenID's replay cache's: they speak its (identical) error type.
use authrs_core::openid::store::StoreError as BucketError;
use authrs_core::time::UnixTime;

use crate::buckets::{self, REVOKED_BUCKETS, REVOKED_PER_BUCKET};
use crate::openid_buckets::{
    create_missing, holds, id_and_bucket, index_lines, nonce_insert, read, update, NonceInsert,
    SharedData,
};

/// Hex digits of the SHA-256 kept per entry (128 bits).
const ID_HEX: usize = 32;
/// Entries held in all buckets (expired ones included until their bucket is next written).
const COUNT: &str = "authrs.revoked.count";
/// What builds before the buckets wrote: an index of `<expires> <id>` lines, a key per id.
const OLD_INDEX: &str = "authrs.revoked.index";

/// The entry id of a session, its keyed bucket, and the older build's bucket while that
/// build's buckets exist (read first, written too: see `buckets`); `write`: to add it (needs a
/// confirmed key).
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
pub fn init(host: &impl SharedData) {
    let keys: Vec<String> = buckets::revocation_keys()
        .chain([COUNT.to_string()])
        .collect();
    create_missing(host, keys.iter().map(String::as_str));
}

/// At configure and on ticks, once the bucket key is confirmed: copies the live revocations a
/// build before the buckets left (its index of `<expires> <id>` lines) into the buckets, then
/// empties the index if every one went in and nobody added to it meanwhile (else it is copied
/// again, idempotently, next time). Its key per session is left as it is: a VM of that build
/// still running checks only that key. Returns what could not be copied, to log.
pub fn move_old_index(host: &impl SharedData, now: UnixTime) -> Option<String> {
    let (old, cas) = match read(host, OLD_INDEX) {
        Ok(r) => r,
        Err(e) => return Some(e.0),
    };
    if old.is_empty() {
        return None;
    }
    let mut failed = None;
    for entry in index_lines(&old, now) {
        if let Err(e) = add(host, &[entry], now) {
            failed.get_or_insert(e.0);
        }
    }
    if failed.is_none() && host.set(OLD_INDEX, b"", cas).is_err() {
        // Changed since read: copied again at the next tick.
        return None;
    }
    failed
}

/// Adds sessions to their buckets (each once); returns the entries now held in all buckets
/// (`None` when the count could not be updated: the revocations stand, the gauge lags).
pub fn add(
    host: &impl SharedData,
    tickets: &[(String, UnixTime)],
    now: UnixTime,
) -> Result<Option<u64>, StoreError> {
    let mut delta: i64 = 0;
    for (ticket_id, until) in tickets {
        let (id, key, old) = entry(ticket_id, true).map_err(from_bucket)?;
        delta += update(host, &key, |text| {
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
            // An older build in this process checks only its own bucket: best effort there,
            // within that build's own limit (a full bucket there is its limit, as before).
            let _ = update(host, &old, |text| {
                match nonce_insert(text, &id, *until, now, REVOKED_PER_BUCKET) {
                    NonceInsert::Write(new) => Ok((Some(new), ())),
                    NonceInsert::Replay | NonceInsert::Full => Ok((None, ())),
                }
            });
        }
    }
    Ok(update(host, COUNT, |text| {
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

/// Whether the session `ticket_id` is revoked at `now`: the older build's bucket first (while
/// it exists), then the keyed one. An entry lasts until the ticket's own expiry; at that second
/// the ticket is expired anyway. Only this filter writes the buckets: unreadable text is a
/// fault (an error, refused), never "not revoked".
pub fn is_revoked(
    host: &impl SharedData,
    ticket_id: &str,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let (id, key, old) = entry(ticket_id, false).map_err(from_bucket)?;
    if let Some(old) = old {
        if holds(host, &old, &id, now).map_err(from_bucket)? {
            return Ok(true);
        }
    }
    holds(host, &key, &id, now).map_err(from_bucket)
}

/// The store handed to the core; `now` is the request's time, used to prune buckets.
#[cfg(target_arch = "wasm32")]
#[derive(Debug, Default)]
pub struct SharedRevocations {
    /// The current time of the request.
    pub now: UnixTime,
    /// Entries held in the buckets after this request wrote some (the `revoked_sessions` gauge).
    pub indexed: Option<usize>,
}

#[cfg(target_arch = "wasm32")]
impl authrs_core::engine::RevocationStore for SharedRevocations {
    fn is_revoked(&mut self, ticket_id: &str, now: UnixTime) -> Result<bool, StoreError> {
        is_revoked(&crate::openid_store::Host, ticket_id, now)
    }

    fn revoke(&mut self, ticket_id: &str, until: UnixTime) -> Result<(), StoreError> {
        self.revoke_all(&[(ticket_id.to_string(), until)])
    }

    fn revoke_all(&mut self, tickets: &[(String, UnixTime)]) -> Result<(), StoreError> {
        if tickets.is_empty() {
            return Ok(());
        }
        let held = add(&crate::openid_store::Host, tickets, self.now)?;
        self.indexed = held.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::buckets::testing::{key_state, LEGACY_REVOKED};
    use crate::openid_buckets::fake::FakeShared;
    use crate::openid_buckets::nonce_seen;

    const NOW: UnixTime = 1_800_000_000;

    #[test]
    fn a_revoked_session_is_found_and_counted_once() {
        let host = FakeShared::default();
        key_state(true, false);
        init(&host);
        let t = [("alice|cert|1|2".to_string(), NOW + 100)];
        assert_eq!(add(&host, &t, NOW).unwrap(), Some(1));
        assert_eq!(
            add(&host, &t, NOW).unwrap(),
            Some(1),
            "the same session again"
        );
        assert!(is_revoked(&host, "alice|cert|1|2", NOW).unwrap());
        assert!(!is_revoked(&host, "alice|cert|1|3", NOW).unwrap());
        assert!(!is_revoked(&host, "alice|cert|1|2", NOW + 101).unwrap());
        // Nothing went to an older build's buckets: there are none.
        assert!(host
            .map
            .borrow()
            .keys()
            .all(|k| !k.starts_with(LEGACY_REVOKED)));
        // An unconfirmed key writes nothing (the logout fails: 500, fail closed).
        key_state(false, false);
        assert!(add(&host, &[("bob".into(), NOW + 100)], NOW).is_err());
        assert!(!is_revoked(&host, "bob", NOW).unwrap());
    }

    #[test]
    fn an_older_builds_bucket_is_read_first_and_written_too() {
        let host = FakeShared::default();
        key_state(true, true);
        // What an older build in this process revoked (its plain bucket): seen here.
        let (id, n) = id_and_bucket("old-session", REVOKED_BUCKETS);
        let old = format!("{LEGACY_REVOKED}{n}");
        let line = format!("{} {}", NOW + 100, &id[..ID_HEX]);
        host.set(&old, line.as_bytes(), None).unwrap();
        assert!(is_revoked(&host, "old-session", NOW).unwrap());
        // What this build revokes lands in its keyed bucket and in the older build's.
        add(&host, &[("new-session".into(), NOW + 100)], NOW).unwrap();
        let (id, n) = id_and_bucket("new-session", REVOKED_BUCKETS);
        assert!(nonce_seen(
            &host.text(&format!("{LEGACY_REVOKED}{n}")),
            &id[..ID_HEX],
            NOW
        ));
        key_state(true, false);
        assert!(
            is_revoked(&host, "new-session", NOW).unwrap(),
            "in the keyed bucket"
        );
        assert!(
            !is_revoked(&host, "old-session", NOW).unwrap(),
            "old bucket not read"
        );
        // An older build's bucket that is not text is an error, not "not revoked".
        key_state(true, true);
        host.set(&old, &[0xff, 0xfe], None).unwrap();
        assert!(is_revoked(&host, "old-session", NOW).is_err());
    }

    /// Three sessions whose entries land in one keyed bucket (under `key_state`'s key).
    fn three_in_one_bucket() -> [String; 3] {
        let mut by_bucket: std::collections::HashMap<String, Vec<String>> = Default::default();
        for i in 0..20_000 {
            let ticket = format!("user-{i}");
            let (_, bucket, _) = entry(&ticket, false).unwrap();
            let same = by_bucket.entry(bucket).or_default();
            same.push(ticket);
            if same.len() == 3 {
                return [same[0].clone(), same[1].clone(), same[2].clone()];
            }
        }
        panic!("no three sessions in one bucket: the key does not pick among the buckets")
    }

    /// The count adds what a write added to a bucket, less the expired entries it dropped.
    #[test]
    fn the_count_follows_a_bucket_that_already_holds_entries() {
        let host = FakeShared::default();
        key_state(true, false);
        init(&host);
        let [a, b, c] = three_in_one_bucket();
        assert_eq!(add(&host, &[(a, NOW + 10)], NOW).unwrap(), Some(1));
        assert_eq!(add(&host, &[(b, NOW + 100)], NOW).unwrap(), Some(2));
        // The first has expired: the write drops it as it adds the third.
        assert_eq!(add(&host, &[(c, NOW + 100)], NOW + 20).unwrap(), Some(2));
    }

    /// `init` creates every bucket, so a write racing another worker's on a bucket nobody has
    /// written yet is checked (CAS) and keeps both.
    #[test]
    fn after_init_a_racing_revocation_in_a_new_bucket_is_kept() {
        let host = FakeShared::default();
        key_state(true, false);
        init(&host);
        assert!(host.map.borrow().contains_key(COUNT));
        let (_, bucket, _) = entry("mine", true).unwrap();
        let theirs = "f".repeat(ID_HEX);
        let line = format!("{} {theirs}", NOW + 100);
        *host.racer.borrow_mut() = Some((bucket.clone(), line.into()));
        add(&host, &[("mine".into(), NOW + 100)], NOW).unwrap();
        assert!(nonce_seen(&host.text(&bucket), &theirs, NOW));
        assert!(is_revoked(&host, "mine", NOW).unwrap());
    }

    #[test]
    fn the_pre_bucket_index_moves_into_the_buckets_once() {
        let host = FakeShared::default();
        key_state(true, false);
        init(&host);
        let index = format!("{} aaaa\n{} gone\n{} bbbb", NOW + 50, NOW - 1, NOW + 60);
        host.set(OLD_INDEX, index.as_bytes(), None).unwrap();
        // The older build's own key for the session: it is all such a VM checks, so it stays.
        host.set("authrs.revoked.aaaa", b"1", None).unwrap();
        // Another worker appends to the index while this one copies it: kept for next time.
        *host.racer.borrow_mut() = Some((OLD_INDEX.into(), format!("{index}\n1 c").into()));
        assert_eq!(move_old_index(&host, NOW), None);
        assert!(is_revoked(&host, "aaaa", NOW).unwrap());
        assert!(is_revoked(&host, "bbbb", NOW).unwrap());
        assert!(!is_revoked(&host, "gone", NOW).unwrap());
        assert_eq!(host.text(OLD_INDEX), format!("{index}\n1 c"));
        // The next pass copies again (nothing new counted) and empties it.
        let held = add(&host, &[], NOW).unwrap();
        assert_eq!(move_old_index(&host, NOW), None);
        assert_eq!(host.text(OLD_INDEX), "");
        assert_eq!(add(&host, &[], NOW).unwrap(), held);
        assert_eq!(host.text("authrs.revoked.aaaa"), "1");
        // Unconfirmed: nothing is copied, the index stays and the reason is given.
        let host = FakeShared::default();
        host.set(OLD_INDEX, index.as_bytes(), None).unwrap();
        key_state(false, false);
        assert!(move_old_index(&host, NOW).is_some());
        assert_eq!(host.text(OLD_INDEX), index);
    }
}
