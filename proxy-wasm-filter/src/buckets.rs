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
//! write stays (the plugin is configured on the main thread and on every worker, at the same
//! time when the configuration changes at runtime). So a VM writes to the buckets only once it
//! has read the same key for [`CONFIRM_AFTER_MS`] (ticking every 100 ms meanwhile), or finds it
//! made [`OLD_KEY_SECS`] ago (a VM reloaded later writes at once); a logout
//! (500, cookie cleared) or an OpenID return (`store_failed`) before that is refused — fail
//! closed. Nothing is written under a key younger than that anywhere, so a key replaced in that
//! time loses nothing; a VM that read "no key" and stalled longer than that before writing its
//! own would still replace it (the others then lose what they wrote under the first, and say so).
//!
//! An older build (plain buckets, `authrs.revoked.bucket.<n>`, `authrs.openid.nonce.<n>`) may
//! run in the same Envoy process: an in-place upgrade with old VMs draining their connections,
//! or a rollback. While its bucket keys exist (looked for at configure and on every tick), a
//! nonce goes into its plain bucket first (a replay there is a replay; that build's limit of
//! 4096 per bucket applies, full refuses) and then into the keyed one; a revocation goes into
//! the keyed bucket and then, best effort, into the plain one (that build's limit of 128); every
//! lookup reads the plain bucket first. What this build recorded before the older build's
//! buckets appeared (a rollback), or within a tick of that, is not in them: the older build does
//! not see it. Associations are not shared with it (either side associates again).

use std::cell::Cell;
use std::hash::Hasher;

use authrs_core::openid::store::StoreError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use proxy_wasm::types::Status;
use siphasher::sip::SipHasher13;

use crate::openid_buckets::SharedData;

/// Shared-data key of the bucket key: its 16 bytes in base64url (22 characters), a space, and
/// when it was made (unix seconds).
pub const KEY_NAME: &str = "authrs.buckets.key";
/// How long a VM reads the same key before it writes to the buckets (unless the key was made
/// [`OLD_KEY_SECS`] ago or more: a reloaded VM writes at once).
pub const CONFIRM_AFTER_MS: u64 = 500;
/// A key made this long ago (whole seconds, so at least two) is past any start-up race.
pub const OLD_KEY_SECS: u64 = 3;

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
/// An older build's association buckets (only looked for, never read or written).
const ASSOC_OLD: &str = "authrs.openid.assoc.";
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

    fn text(&self, made: u64) -> String {
        format!("{} {made}", URL_SAFE_NO_PAD.encode(self.0))
    }

    /// The key and when it was made.
    fn parse(text: &[u8]) -> Option<(BucketKey, u64)> {
        let (key, made) = std::str::from_utf8(text).ok()?.split_once(' ')?;
        let bytes = URL_SAFE_NO_PAD.decode(key).ok()?;
        Some((BucketKey(bytes.try_into().ok()?), made.parse().ok()?))
    }
}

/// What this VM knows about the bucket key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyed {
    /// The key every worker uses.
    pub key: BucketKey,
    /// When this VM first read this key (ms since the epoch).
    pub since_ms: u64,
    /// Read unchanged for [`CONFIRM_AFTER_MS`]: this VM may write to the buckets.
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
            "the bucket key ({KEY_NAME}) is new: writes wait until it has stayed {CONFIRM_AFTER_MS} ms"
        )));
    }
    Ok(k)
}

/// Reads the bucket key and when it was made (unix seconds), making it from `fresh` (random
/// bytes, `None` when there were none) at `now` if there is none yet; what is stored after the
/// write is read back and taken (another VM's write may have landed instead), with whether this
/// call wrote. Errors when shared data refuses, or holds something this filter did not write
/// (never overwritten: fail closed).
pub fn read_or_make(
    host: &impl SharedData,
    fresh: Option<[u8; 16]>,
    now: u64,
) -> Result<(BucketKey, u64, bool), String> {
    let mut wrote = false;
    for _ in 0..16 {
        match host.get(KEY_NAME) {
            Err(s) => return Err(format!("shared data read of {KEY_NAME} failed: {s:?}")),
            Ok((Some(v), _)) => {
                let (key, made) = BucketKey::parse(&v)
                    .ok_or_else(|| format!("{KEY_NAME} holds a value this filter did not write"))?;
                return Ok((key, made, wrote));
            }
            Ok((None, cas)) => {
                let fresh = fresh.ok_or_else(|| {
                    format!("no random bytes to make the bucket key ({KEY_NAME}) with")
                })?;
                // An empty key (cas) is written only if still empty; a missing one unchecked.
                match host.set(KEY_NAME, BucketKey(fresh).text(now).as_bytes(), cas) {
                    Ok(()) => wrote = true,
                    Err(Status::CasMismatch) => {}
                    Err(s) => return Err(format!("shared data write of {KEY_NAME} failed: {s:?}")),
                }
            }
        }
    }
    Err(format!("{KEY_NAME}: too many concurrent updates"))
}

/// Whether an older build's plain bucket keys exist (it creates them all when configured): its
/// first revocation bucket or its first association bucket (small, unlike a nonce bucket: the
/// read copies the value). A refused read counts as yes: the cost is an extra read per lookup,
/// never a missed entry.
fn legacy_present(host: &impl SharedData) -> bool {
    [REVOKED_OLD, ASSOC_OLD]
        .iter()
        .any(|p| !matches!(host.get(&format!("{p}0")), Ok((_, None))))
}

/// What [`refresh`] has to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    /// Another VM made the key at the same instant; this VM takes theirs (nothing was written
    /// under its own). Worth an info line.
    Switched,
    /// Something is wrong (the text says what): worth an error line.
    Problem(String),
}

/// At configure and on every tick (`now_ms`: ms since the epoch): (re)reads the key and looks
/// for an older build's buckets (until found: keys are never deleted). Returns what to log.
pub fn refresh(host: &impl SharedData, fresh: Option<[u8; 16]>, now_ms: u64) -> Option<Said> {
    let before = state();
    let legacy = before.is_some_and(|b| b.legacy) || legacy_present(host);
    let (key, made) = match read_or_make(host, fresh, now_ms / 1000) {
        Ok((key, made, _)) => (key, made),
        Err(e) => {
            // A VM that has a key keeps it (and keeps looking for the older build); one without
            // stays without: its stores fail closed.
            set_state(before.map(|b| Keyed { legacy, ..b }));
            return Some(Said::Problem(e));
        }
    };
    let (since_ms, was_confirmed) = match before {
        Some(b) if b.key == key => (b.since_ms, b.confirmed),
        _ => (now_ms, false),
    };
    set_state(Some(Keyed {
        key,
        since_ms,
        // Once confirmed, a key stays so: a clock set back must not stop logouts.
        confirmed: was_confirmed
            || now_ms.saturating_sub(since_ms) >= CONFIRM_AFTER_MS
            || made.saturating_add(OLD_KEY_SECS).saturating_mul(1000) <= now_ms,
        legacy,
    }));
    match before {
        Some(b) if b.key != key && b.confirmed => Some(Said::Problem(format!(
            "{KEY_NAME} was replaced (a VM that stalled while making it): revocations and \
             nonces this VM recorded under the earlier key are not found any more"
        ))),
        Some(b) if b.key != key => Some(Said::Switched),
        _ => None,
    }
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
            since_ms: 0,
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

    /// Unix time (s) and the same in ms.
    const T: u64 = 1_800_000_000;
    const MS: u64 = T * 1000;

    #[test]
    fn the_first_vm_makes_the_key_and_every_other_reads_it() {
        let host = FakeShared::default();
        let (a, made, wrote) = read_or_make(&host, Some([1; 16]), T).unwrap();
        assert_eq!((a, made, wrote), (BucketKey([1; 16]), T, true));
        assert_eq!(host.text(KEY_NAME), format!("AQEBAQEBAQEBAQEBAQEBAQ {T}"));
        // Another worker, with other random bytes, and a VM reloaded later: the same key.
        assert_eq!(
            read_or_make(&host, Some([2; 16]), T).unwrap(),
            (a, T, false)
        );
        assert_eq!(
            read_or_make(&host, Some([2; 16]), T + 9).unwrap(),
            (a, T, false)
        );
        // Without random bytes a made key is still read; none is made.
        assert_eq!(read_or_make(&host, None, T).unwrap(), (a, T, false));
        assert!(read_or_make(&FakeShared::default(), None, T).is_err());
        // An empty key (created, not yet written) is written with its CAS.
        let host = FakeShared::default();
        host.set(KEY_NAME, b"", None).unwrap();
        let made = read_or_make(&host, Some([5; 16]), T).unwrap();
        assert_eq!(made, (BucketKey([5; 16]), T, true));
    }

    #[test]
    fn a_new_key_is_written_under_only_once_it_has_stayed_half_a_second() {
        let host = FakeShared::default();
        // The VM that makes it, and a worker that reads it in the same instant: neither writes.
        set_state(None);
        assert_eq!(refresh(&host, Some([1; 16]), MS), None);
        assert!(!state().unwrap().confirmed);
        assert!(revocation_buckets("00", 0, true).is_err());
        assert!(nonce_buckets("00", 0, true).is_err());
        assert!(assoc_bucket("00", true).is_err());
        assert!(revocation_buckets("00", 0, false).is_ok(), "lookups go on");
        assert_eq!(refresh(&host, Some([2; 16]), MS + 100), None);
        assert!(!state().unwrap().confirmed);
        assert_eq!(refresh(&host, Some([2; 16]), MS + 499), None);
        assert!(!state().unwrap().confirmed);
        assert_eq!(refresh(&host, Some([2; 16]), MS + 500), None);
        assert!(state().unwrap().confirmed);
        assert!(revocation_buckets("00", 0, true).is_ok());
        // A clock set back an hour: still confirmed (logouts go on).
        assert_eq!(refresh(&host, None, MS - 3_600_000), None);
        assert!(state().unwrap().confirmed);
        // A VM reloaded later finds the key made long enough ago: it writes at once.
        set_state(None);
        assert_eq!(refresh(&host, None, MS + 2999), None);
        assert!(!state().unwrap().confirmed);
        set_state(None);
        assert_eq!(refresh(&host, None, MS + 3000), None);
        assert!(state().unwrap().confirmed);
        assert_eq!(state().unwrap().key, BucketKey([1; 16]));
    }

    #[test]
    fn a_key_replaced_in_a_race_is_taken_and_reported() {
        // Worker B writes its key between worker A's read (none) and A's write: A's unchecked
        // write (the key did not exist) replaces it, and B learns that on its next tick.
        let host = FakeShared::default();
        *host.racer.borrow_mut() = Some((KEY_NAME.into(), BucketKey([3; 16]).text(T).into()));
        let b = Keyed {
            key: BucketKey([3; 16]),
            since_ms: MS,
            confirmed: false,
            legacy: false,
        };
        set_state(None);
        assert_eq!(refresh(&host, Some([4; 16]), MS), None);
        assert_eq!(
            state().unwrap().key,
            BucketKey([4; 16]),
            "A keeps what is stored"
        );
        // B had written nothing under its key (not confirmed): it switches, still unconfirmed.
        set_state(Some(b));
        assert_eq!(refresh(&host, None, MS + 100), Some(Said::Switched));
        let k = state().unwrap();
        assert_eq!(
            (k.key, k.since_ms, k.confirmed),
            (BucketKey([4; 16]), MS + 100, false)
        );
        // A VM that had written under a key that then changed says what that costs.
        set_state(Some(Keyed {
            confirmed: true,
            ..b
        }));
        let Some(Said::Problem(said)) = refresh(&host, None, MS + 900) else {
            panic!("a lost key is a problem")
        };
        assert!(said.contains("not found any more"), "{said}");
        assert!(!state().unwrap().confirmed);
    }

    #[test]
    fn a_value_this_filter_did_not_write_is_refused_not_replaced() {
        for junk in [
            "x",
            "AAAA 1",
            "AQEBAQEBAQEBAQEBAQEBAQ",
            "AQEBAQEBAQEBAQEBAQEBAQ soon",
            "AQEBAQEBAQEBAQEBAQEBAQE 1",
        ] {
            let host = FakeShared::default();
            host.set(KEY_NAME, junk.as_bytes(), None).unwrap();
            assert!(read_or_make(&host, Some([1; 16]), T).is_err(), "{junk}");
            assert_eq!(host.text(KEY_NAME), junk);
            set_state(None);
            assert!(refresh(&host, Some([1; 16]), MS).is_some());
            assert_eq!(state(), None, "no key: the stores fail closed");
            assert!(revocation_buckets("00", 0, false).is_err());
        }
        let host = FakeShared::default();
        host.set(KEY_NAME, b"AQEBAQEBAQEBAQEBAQEBAQ 7", None)
            .unwrap();
        let read = read_or_make(&host, Some([2; 16]), T).unwrap();
        assert_eq!(read, (BucketKey([1; 16]), 7, false));
    }

    #[test]
    fn a_refused_read_keeps_the_key_and_counts_as_an_older_build() {
        let host = FakeShared::default();
        set_state(None);
        assert_eq!(refresh(&host, Some([1; 16]), MS), None);
        assert!(!state().unwrap().legacy);
        // Shared data refuses the key and the older build's first bucket: the key is kept, and
        // the older build is assumed (an extra read per lookup, never a missed entry).
        host.refuse
            .borrow_mut()
            .extend([KEY_NAME.to_string(), format!("{REVOKED_OLD}0")]);
        assert!(refresh(&host, None, MS + 600).is_some());
        let k = state().unwrap();
        assert_eq!(k.key, BucketKey([1; 16]));
        assert!(k.legacy);
        assert!(revocation_buckets("00", 3, false).unwrap().1.is_some());
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
        assert_eq!(refresh(&host, Some([1; 16]), MS), None);
        assert!(!state().unwrap().legacy, "a fresh process");
        assert_eq!(revocation_buckets("00", 5, false).unwrap().1, None);
        // An older build is configured in this process (a rollback, or old VMs after an
        // in-place upgrade): it creates its buckets; the next tick sees them.
        host.set(&format!("{REVOKED_OLD}0"), b"", None).unwrap();
        assert_eq!(refresh(&host, None, MS + 600), None);
        assert!(state().unwrap().legacy);
        // Keys are never deleted: once seen, not looked for again.
        let reads = host.reads.get();
        assert_eq!(refresh(&host, None, MS + 700), None);
        assert_eq!(host.reads.get() - reads, 1, "only the key is read");
        assert!(state().unwrap().legacy);
        let (keyed, old) = revocation_buckets("00", 5, true).unwrap();
        assert!(keyed.starts_with(REVOKED_KEYED));
        assert_eq!(old.as_deref(), Some("authrs.revoked.bucket.5"));
        // An OpenID-only older build: found by its (small) first association bucket.
        let host = FakeShared::default();
        host.set(KEY_NAME, BucketKey([1; 16]).text(T).as_bytes(), None)
            .unwrap();
        host.set(&format!("{ASSOC_OLD}0"), b"", None).unwrap();
        set_state(None);
        assert_eq!(refresh(&host, None, MS), None);
        let (_, old) = nonce_buckets("ab", 9, false).unwrap();
        assert_eq!(old.as_deref(), Some("authrs.openid.nonce.9"));
    }

    /// The key lists name each bucket once, and every bucket an entry can go to is among them
    /// (so `init` creates it).
    #[test]
    fn the_key_lists_hold_every_bucket_an_entry_can_go_to() {
        use std::collections::HashSet;
        let revoked: HashSet<String> = revocation_keys().collect();
        assert_eq!(revoked.len(), REVOKED_BUCKETS);
        assert!(revoked.contains("authrs.revoked.keyed.0"));
        assert!(revoked.contains("authrs.revoked.keyed.4095"));
        let openid: HashSet<String> = openid_keys().collect();
        assert_eq!(openid.len(), NONCE_BUCKETS + ASSOC_BUCKETS);
        assert!(openid.contains("authrs.openid.nonce.keyed.63"));
        assert!(openid.contains("authrs.openid.assoc.keyed.15"));
        testing::key_state(true, false);
        for i in 0..2000 {
            let id = format!("{i:032x}");
            assert!(revoked.contains(&revocation_buckets(&id, 0, true).unwrap().0));
            assert!(openid.contains(&nonce_buckets(&id, 0, true).unwrap().0));
            assert!(openid.contains(&assoc_bucket(&id, true).unwrap()));
        }
    }

    #[test]
    fn without_a_key_every_bucket_lookup_fails_closed() {
        set_state(None);
        assert!(revocation_buckets("00", 0, false).is_err());
        assert!(nonce_buckets("00", 0, false).is_err());
        assert!(assoc_bucket("00", false).is_err());
    }
}
