//! Which shared-data bucket an entry goes to, chosen with a secret so that nobody can aim
//! entries at one bucket.
//!
//! Revocations, OpenID nonces and associations live in fixed sets of bucket keys (Envoy never
//! deletes a key). Builds before this one picked a bucket by a plain SHA-256 of the entry: someone
//! who can create entries (log in and out under names of their choosing, run an OpenID provider
//! that picks its nonces) could compute offline which of theirs land in one bucket and fill it,
//! so that a victim's logout in that bucket failed or real OpenID logins were refused. Now the
//! bucket is SipHash-1-3 of the entry's id under a 128-bit key drawn at random by the first VM
//! that finds none and kept in shared data (`authrs.buckets.key`): the same for every worker of
//! the `vm_id` and across VM reloads, unknown to clients.
//!
//! Envoy has no create-if-absent: two VMs that both find no key both write one, and the last
//! write stays. A VM that wrote the key itself therefore writes to the buckets only once it has
//! read the same key again at its next tick (100 ms later); meanwhile a logout (500, cookie
//! cleared) or an OpenID return (`store_failed`) on it is refused — fail closed. A VM that found
//! the key made uses it at once: Envoy configures the plugin on the main thread before the
//! workers start, so workers and reloaded VMs find it made. (A VM that read "no key" and then
//! stalled past another's tick before writing its own would still win the race: not guarded.)
//!
//! An older build (plain buckets, `authrs.revoked.bucket.<n>`, `authrs.openid.nonce.<n>`) may
//! run in the same Envoy process: an in-place upgrade with old VMs draining their connections,
//! or a rollback. While its bucket keys exist, every lookup reads the older build's bucket first
//! and every write also goes there (best effort), so neither build misses what the other
//! recorded. Associations are not shared with it (either side associates again).

use std::cell::Cell;
use std::hash::Hasher;

use authrs_core::openid::store::StoreError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use proxy_wasm::types::Status;
use siphasher::sip::SipHasher13;

use crate::openid_buckets::SharedData;

/// Shared-data key of the bucket key (its 16 bytes in base64url, 22 characters).
pub const KEY_NAME: &str = "authrs.buckets.key";

/// Revocation buckets.
pub const REVOKED_BUCKETS: usize = 4096;
/// Live revocations one bucket holds (a full bucket is ~8 KiB for a ticket check to read).
pub const REVOKED_PER_BUCKET: usize = 128;
const REVOKED_OLD: &str = "authrs.revoked.bucket.";
const REVOKED_KEYED: &str = "authrs.revoked.keyed.";
/// OpenID nonce buckets.
pub const NONCE_BUCKETS: usize = 64;
/// Live nonces one bucket holds; a full bucket refuses new logins (`store_failed`).
pub const NONCES_PER_BUCKET: usize = 4096;
const NONCE_OLD: &str = "authrs.openid.nonce.";
const NONCE_KEYED: &str = "authrs.openid.nonce.keyed.";
/// OpenID association buckets.
pub const ASSOC_BUCKETS: usize = 16;
const ASSOC_KEYED: &str = "authrs.openid.assoc.keyed.";

/// The secret that picks buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketKey([u8; 16]);

impl BucketKey {
    /// Wraps 16 random bytes.
    pub fn new(bytes: [u8; 16]) -> BucketKey {
        BucketKey(bytes)
    }

    /// The bucket (of `buckets`) of the entry `id`.
    pub fn pick(&self, id: &str, buckets: usize) -> usize {
        let mut h = SipHasher13::new_with_key(&self.0);
        h.write(id.as_bytes());
        (h.finish() % buckets.max(1) as u64) as usize
    }

    fn text(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    fn parse(text: &[u8]) -> Option<BucketKey> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        Some(BucketKey(bytes.try_into().ok()?))
    }
}

/// What this VM knows about the bucket key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyed {
    /// The key every worker uses.
    pub key: BucketKey,
    /// No other VM can be writing another key any more: this VM may write to the buckets.
    pub confirmed: bool,
    /// An older build's plain buckets exist in this process: read first, written too.
    pub legacy: bool,
}

thread_local! {
    // One VM is one thread: its key, once read (None: not yet, stores then fail closed).
    static STATE: Cell<Option<Keyed>> = const { Cell::new(None) };
}

/// This VM's key state, if it has read one.
pub fn state() -> Option<Keyed> {
    STATE.with(Cell::get)
}

fn set_state(k: Option<Keyed>) {
    STATE.with(|s| s.set(k));
}

/// The key for a lookup; for a write (`write`) it must be confirmed.
fn key(write: bool) -> Result<Keyed, StoreError> {
    let k = state()
        .ok_or_else(|| StoreError(format!("no bucket key ({KEY_NAME}) could be read yet")))?;
    if write && !k.confirmed {
        return Err(StoreError(format!(
            "the bucket key ({KEY_NAME}) is new: writes wait until it is read again (100 ms)"
        )));
    }
    Ok(k)
}

/// Reads the bucket key, making it from `fresh` (random bytes, `None` when there were none) if
/// there is none yet; what is stored after the write is read back and taken (another VM's
/// write may have landed instead), with whether this call wrote. Errors when shared data
/// refuses, or holds something this filter did not write (never overwritten: fail closed).
pub fn read_or_make(
    host: &impl SharedData,
    fresh: Option<[u8; 16]>,
) -> Result<(BucketKey, bool), String> {
    let mut wrote = false;
    for _ in 0..16 {
        match host.get(KEY_NAME) {
            Err(s) => return Err(format!("shared data read of {KEY_NAME} failed: {s:?}")),
            Ok((Some(v), _)) => {
                let key = BucketKey::parse(&v)
                    .ok_or_else(|| format!("{KEY_NAME} holds a value this filter did not write"))?;
                return Ok((key, wrote));
            }
            Ok((None, cas)) => {
                let fresh = fresh.ok_or_else(|| {
                    format!("no random bytes to make the bucket key ({KEY_NAME}) with")
                })?;
                // An empty key (cas) is written only if still empty; a missing one unchecked.
                match host.set(KEY_NAME, BucketKey(fresh).text().as_bytes(), cas) {
                    Ok(()) => wrote = true,
                    Err(Status::CasMismatch) => {}
                    Err(s) => return Err(format!("shared data write of {KEY_NAME} failed: {s:?}")),
                }
            }
        }
    }
    Err(format!("{KEY_NAME}: too many concurrent updates"))
}

/// Whether an older build's plain bucket keys exist (it creates them all when configured). A
/// refused read counts as yes: the cost is an extra read per lookup, never a missed entry.
fn legacy_present(host: &impl SharedData) -> bool {
    [REVOKED_OLD, NONCE_OLD]
        .iter()
        .any(|p| !matches!(host.get(&format!("{p}0")), Ok((_, None))))
}

/// At configure and on every tick: (re)reads the key and looks for an older build's buckets.
/// Returns a message to log when something went wrong.
pub fn refresh(host: &impl SharedData, fresh: Option<[u8; 16]>) -> Option<String> {
    let legacy = legacy_present(host);
    let before = state();
    let (key, wrote) = match read_or_make(host, fresh) {
        Ok(k) => k,
        Err(e) => {
            // A VM that has a key keeps it (and keeps looking for the older build); one without
            // stays without: its stores fail closed.
            set_state(before.map(|b| Keyed { legacy, ..b }));
            return Some(e);
        }
    };
    let confirmed = match before {
        // Read the same at two refreshes (a tick apart): confirmed.
        Some(b) if b.key == key => true,
        _ => !wrote,
    };
    set_state(Some(Keyed {
        key,
        confirmed,
        legacy,
    }));
    before.filter(|b| b.key != key).map(|_| {
        // Another VM's key won the start-up race; nothing was written under this VM's.
        format!("{KEY_NAME} was made by another VM at the same time: using that one")
    })
}

/// A set of buckets: keyed and (older builds') plain key prefixes, and how many.
type Set = (&'static str, &'static str, usize);
const REVOKED: Set = (REVOKED_KEYED, REVOKED_OLD, REVOKED_BUCKETS);
const NONCES: Set = (NONCE_KEYED, NONCE_OLD, NONCE_BUCKETS);

/// The keyed bucket of an entry id in `set`, and the older build's one (`plain`, its bucket
/// number) while that build's buckets exist: read it first, write it too. `write`: for a write,
/// which needs a confirmed key.
fn buckets_of(
    (keyed, old, count): Set,
    id: &str,
    plain: usize,
    write: bool,
) -> Result<(String, Option<String>), StoreError> {
    let k = key(write)?;
    Ok((
        format!("{keyed}{}", k.key.pick(id, count)),
        k.legacy.then(|| format!("{old}{plain}")),
    ))
}

/// The keyed revocation bucket of an entry id, and the older build's one (see [`buckets_of`]).
pub fn revocation_buckets(
    id: &str,
    plain: usize,
    write: bool,
) -> Result<(String, Option<String>), StoreError> {
    buckets_of(REVOKED, id, plain, write)
}

/// The keyed nonce bucket of an entry id, and the older build's one (see [`buckets_of`]).
pub fn nonce_buckets(
    id: &str,
    plain: usize,
    write: bool,
) -> Result<(String, Option<String>), StoreError> {
    buckets_of(NONCES, id, plain, write)
}

/// The keyed association bucket of a server (by the hex SHA-256 id of its URL); `write`: for a
/// write, which needs a confirmed key.
pub fn assoc_bucket(id: &str, write: bool) -> Result<String, StoreError> {
    Ok(format!(
        "{ASSOC_KEYED}{}",
        key(write)?.key.pick(id, ASSOC_BUCKETS)
    ))
}

/// Every keyed bucket key of the revocations.
pub fn revocation_keys() -> impl Iterator<Item = String> {
    (0..REVOKED_BUCKETS).map(|n| format!("{REVOKED_KEYED}{n}"))
}

/// Every keyed bucket key of OpenID (nonces, then associations).
pub fn openid_keys() -> impl Iterator<Item = String> {
    (0..NONCE_BUCKETS)
        .map(|n| format!("{NONCE_KEYED}{n}"))
        .chain((0..ASSOC_BUCKETS).map(|n| format!("{ASSOC_KEYED}{n}")))
}

/// For other modules' tests: a key state, and the older build's key prefixes.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// The older build's revocation and nonce bucket prefixes.
    pub const LEGACY_REVOKED: &str = REVOKED_OLD;
    pub const LEGACY_NONCE: &str = NONCE_OLD;

    /// Gives this thread's VM a key, confirmed or not, with or without an older build.
    pub fn key_state(confirmed: bool, legacy: bool) {
        set_state(Some(Keyed {
            key: BucketKey([42; 16]),
            confirmed,
            legacy,
        }));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::openid_buckets::fake::FakeShared;
    use crate::openid_buckets::id_and_bucket;

    fn stored(host: &FakeShared, key: &str) -> String {
        host.map
            .borrow()
            .get(key)
            .map(|(v, _)| String::from_utf8(v.clone()).unwrap())
            .unwrap_or_default()
    }

    #[test]
    fn the_first_vm_makes_the_key_and_every_other_reads_it() {
        let host = FakeShared::default();
        let (a, wrote) = read_or_make(&host, Some([1; 16])).unwrap();
        assert_eq!((a, wrote), (BucketKey([1; 16]), true));
        assert_eq!(stored(&host, KEY_NAME).len(), 22);
        // Another worker, with other random bytes, and a VM reloaded later: the same key.
        assert_eq!(read_or_make(&host, Some([2; 16])).unwrap(), (a, false));
        // Without random bytes a made key is still read; none is made.
        assert_eq!(read_or_make(&host, None).unwrap(), (a, false));
        assert!(read_or_make(&FakeShared::default(), None).is_err());
        // An empty key (created, not yet written) is written with its CAS.
        let host = FakeShared::default();
        host.set(KEY_NAME, b"", None).unwrap();
        let made = read_or_make(&host, Some([5; 16])).unwrap();
        assert_eq!(made, (BucketKey([5; 16]), true));
    }

    #[test]
    fn two_workers_racing_for_the_key_end_with_one_and_write_only_under_it() {
        // Worker B writes its key between worker A's read (none) and A's write: A's unchecked
        // write (the key did not exist) replaces it, and B learns that on its next tick.
        let host = FakeShared::default();
        *host.racer.borrow_mut() = Some((KEY_NAME.into(), BucketKey([3; 16]).text().into()));
        // B had made its own key: not confirmed, so it writes nothing.
        let b = Keyed {
            key: BucketKey([3; 16]),
            confirmed: false,
            legacy: false,
        };
        set_state(Some(b));
        assert!(revocation_buckets("00", 0, true).is_err());
        assert!(nonce_buckets("00", 0, true).is_err());
        assert!(assoc_bucket("00", true).is_err());
        assert!(revocation_buckets("00", 0, false).is_ok(), "lookups go on");
        // A writes and reads back its own key: A is not confirmed either (it wrote).
        set_state(None);
        assert_eq!(refresh(&host, Some([4; 16])), None);
        let a = state().unwrap();
        assert_eq!(a.key, BucketKey([4; 16]));
        assert!(!a.confirmed);
        assert!(revocation_buckets("00", 0, true).is_err());
        // A's next tick reads its key again: confirmed, writes allowed.
        assert_eq!(refresh(&host, Some([9; 16])), None);
        assert!(state().unwrap().confirmed);
        assert!(revocation_buckets("00", 0, true).is_ok());
        // B's tick: it takes A's key (found made: used at once) and says so.
        set_state(Some(b));
        let said = refresh(&host, Some([9; 16])).expect("the switch is logged");
        assert!(said.contains("another VM"), "{said}");
        let k = state().unwrap();
        assert_eq!(k.key, BucketKey([4; 16]));
        assert!(k.confirmed);
    }

    #[test]
    fn the_vm_that_makes_the_key_waits_a_tick_the_others_do_not() {
        let host = FakeShared::default();
        set_state(None);
        assert_eq!(refresh(&host, Some([1; 16])), None);
        assert!(
            !state().unwrap().confirmed,
            "made here: a racer may still replace it"
        );
        // A worker (or a reloaded VM) that finds it made uses it at once.
        set_state(None);
        assert_eq!(refresh(&host, Some([2; 16])), None);
        let k = state().unwrap();
        assert!(k.confirmed);
        assert_eq!(k.key, BucketKey([1; 16]));
    }

    #[test]
    fn a_value_this_filter_did_not_write_is_refused_not_replaced() {
        for junk in [
            "x",
            "AAAA",
            "AQEBAQEBAQEBAQEBAQEBAQ 0",
            "AQEBAQEBAQEBAQEBAQEBAQE",
        ] {
            let host = FakeShared::default();
            host.set(KEY_NAME, junk.as_bytes(), None).unwrap();
            assert!(read_or_make(&host, Some([1; 16])).is_err(), "{junk}");
            assert_eq!(stored(&host, KEY_NAME), junk);
            set_state(None);
            assert!(refresh(&host, Some([1; 16])).is_some());
            assert_eq!(state(), None, "no key: the stores fail closed");
            assert!(revocation_buckets("00", 0, false).is_err());
        }
        let host = FakeShared::default();
        host.set(KEY_NAME, b"AQEBAQEBAQEBAQEBAQEBAQ", None).unwrap();
        let read = read_or_make(&host, Some([2; 16])).unwrap();
        assert_eq!(read, (BucketKey([1; 16]), false));
    }

    #[test]
    fn the_key_spreads_what_a_plain_hash_puts_in_one_bucket() {
        // Ids that the old plain SHA-256 choice sends to one nonce bucket (the attacker's
        // offline search): under a key they spread, and under another key differently.
        let ids: Vec<String> = (0..20_000)
            .map(|i| id_and_bucket(&format!("nonce-{i}"), NONCE_BUCKETS))
            .filter(|(_, n)| *n == 7)
            .map(|(id, _)| id)
            .collect();
        assert!(ids.len() > 200);
        let spread = |key: BucketKey| {
            let mut seen = [0usize; NONCE_BUCKETS];
            for id in &ids {
                seen[key.pick(id, NONCE_BUCKETS)] += 1;
            }
            seen
        };
        let a = spread(BucketKey([9; 16]));
        assert!(a.iter().filter(|&&n| n > 0).count() > 40, "{a:?}");
        assert!(*a.iter().max().unwrap() < ids.len() / 8, "{a:?}");
        assert_ne!(a, spread(BucketKey([10; 16])));
    }

    #[test]
    fn an_older_builds_buckets_are_read_and_written_while_they_exist() {
        let host = FakeShared::default();
        set_state(None);
        assert_eq!(refresh(&host, Some([1; 16])), None);
        assert!(!state().unwrap().legacy, "a fresh process");
        assert_eq!(revocation_buckets("00", 5, false).unwrap().1, None);
        // An older build is configured in this process (a rollback, or old VMs after an
        // in-place upgrade): it creates its buckets; the next tick sees them.
        host.set(&format!("{REVOKED_OLD}0"), b"", None).unwrap();
        assert_eq!(refresh(&host, None), None);
        assert!(state().unwrap().legacy);
        let (keyed, old) = revocation_buckets("00", 5, true).unwrap();
        assert!(keyed.starts_with(REVOKED_KEYED));
        assert_eq!(old.as_deref(), Some("authrs.revoked.bucket.5"));
        // An OpenID-only older build: its nonce buckets count too.
        let host = FakeShared::default();
        host.set(KEY_NAME, BucketKey([1; 16]).text().as_bytes(), None)
            .unwrap();
        host.set(&format!("{NONCE_OLD}0"), b"", None).unwrap();
        set_state(None);
        assert_eq!(refresh(&host, None), None);
        let (_, old) = nonce_buckets("ab", 9, false).unwrap();
        assert_eq!(old.as_deref(), Some("authrs.openid.nonce.9"));
    }

    #[test]
    fn without_a_key_every_bucket_lookup_fails_closed() {
        set_state(None);
        assert!(revocation_buckets("00", 0, false).is_err());
        assert!(nonce_buckets("00", 0, false).is_err());
        assert!(assoc_bucket("00", false).is_err());
    }
}
