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
//! Envoy has no create-if-absent: two workers starting together can both find no key and both
//! write one; the last write stays and the other worker takes it on its next tick (every tick
//! reads the key again). So that nothing is written under a key that then loses, a VM that
//! wrote the key itself writes to the buckets only once it is confirmed (read the same at the
//! next tick, 100 ms later; or made two seconds ago); a VM that found the key already made uses
//! it at once. (Envoy configures the plugin on the main thread before the workers start, so the
//! workers find it made.) Meanwhile a logout (500, cookie cleared) or an OpenID return
//! (`store_failed`) on that VM is refused — fail closed.
//!
//! Entries an older build left in the plain buckets are moved into the keyed ones on the root
//! context's ticks for [`MOVE_WINDOW`] seconds after the key was made (an old VM may still be
//! draining connections and writing meanwhile); until this VM has moved everything once, reads
//! look in the old bucket first (so an entry being moved is never missed: it is written to its
//! new bucket before the old one is emptied). Old associations are not moved (the next login
//! associates again).

use std::cell::Cell;
use std::hash::Hasher;

use authrs_core::openid::store::StoreError;
use authrs_core::time::UnixTime;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use proxy_wasm::types::Status;
use siphasher::sip::SipHasher13;

use crate::openid_buckets::{nonce_insert, nonce_line, update, NonceInsert, SharedData};

/// Shared-data key of the bucket key: `<22 base64url chars> <move until> <made at>` (unix
/// times; older builds' buckets are moved until the first, 0: there were none).
pub const KEY_NAME: &str = "authrs.buckets.key";
/// How long after the key is made older builds' entries are moved: Envoy's default drain time
/// (`--drain-time-s` 600) plus a minute, so an old VM finishing its connections is covered.
pub const MOVE_WINDOW: UnixTime = 660;

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

/// What is stored with the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Older builds' buckets are moved on ticks until then (0: none).
    pub move_until: UnixTime,
    /// When the key was made.
    pub made: UnixTime,
}

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

    fn text(&self, stored: &Stored) -> String {
        let b64 = URL_SAFE_NO_PAD.encode(self.0);
        format!("{b64} {} {}", stored.move_until, stored.made)
    }

    fn parse(text: &[u8]) -> Option<(BucketKey, Stored)> {
        let mut f = std::str::from_utf8(text).ok()?.split(' ');
        let bytes = URL_SAFE_NO_PAD.decode(f.next()?).ok()?;
        let key = BucketKey(bytes.try_into().ok()?);
        let move_until = f.next()?.parse().ok()?;
        let made = f.next()?.parse().ok()?;
        let stored = Stored { move_until, made };
        f.next().is_none().then_some((key, stored))
    }
}

/// What this VM knows about the bucket key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyed {
    /// The key every worker uses.
    pub key: BucketKey,
    /// Older builds' buckets are moved on ticks until then (0: none).
    pub move_until: UnixTime,
    /// This VM has moved everything once: reads no longer look in the old buckets.
    pub moved: bool,
    /// No other worker can be writing another key any more: this VM may write to the buckets.
    pub confirmed: bool,
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
            "the bucket key ({KEY_NAME}) is new: writes wait a second until it is confirmed"
        )));
    }
    Ok(k)
}

/// Reads the bucket key, making it from `fresh` if there is none yet; what is stored after the
/// write is read back and taken (another worker's write may have landed instead), with whether
/// this call wrote (the key may then still lose a race: not yet confirmed). Errors when
/// shared data refuses, or holds something this filter did not write (never overwritten: fail
/// closed).
pub fn read_or_make(
    host: &impl SharedData,
    fresh: [u8; 16],
    now: UnixTime,
) -> Result<(BucketKey, Stored, bool), String> {
    let mut wrote = false;
    for _ in 0..16 {
        match host.get(KEY_NAME) {
            Err(s) => return Err(format!("shared data read of {KEY_NAME} failed: {s:?}")),
            Ok((Some(v), _)) => {
                let (key, stored) = BucketKey::parse(&v)
                    .ok_or_else(|| format!("{KEY_NAME} holds a value this filter did not write"))?;
                return Ok((key, stored, wrote));
            }
            Ok((None, cas)) => {
                let older = [REVOKED_OLD, NONCE_OLD]
                    .iter()
                    .any(|p| matches!(host.get(&format!("{p}0")), Ok((_, Some(_)))));
                let stored = Stored {
                    move_until: if older {
                        now.saturating_add(MOVE_WINDOW)
                    } else {
                        0
                    },
                    made: now,
                };
                // An empty key (cas) is written only if still empty; a missing one unchecked.
                match host.set(KEY_NAME, BucketKey(fresh).text(&stored).as_bytes(), cas) {
                    Ok(()) => wrote = true,
                    Err(Status::CasMismatch) => continue,
                    Err(s) => return Err(format!("shared data write of {KEY_NAME} failed: {s:?}")),
                }
            }
        }
    }
    Err(format!("{KEY_NAME}: too many concurrent updates"))
}

/// At configure and on every tick: (re)reads the key; once it is confirmed, moves older builds'
/// entries while the window lasts. Returns a message to log when something went wrong.
pub fn refresh(host: &impl SharedData, fresh: [u8; 16], now: UnixTime) -> Option<String> {
    let (key, stored, wrote) = match read_or_make(host, fresh, now) {
        Ok(k) => k,
        // Keep what this VM had (shared data refused once); without one, stores fail closed.
        Err(e) => return Some(e),
    };
    let before = state();
    let k = match before {
        // Read the same at two refreshes (a tick apart): confirmed.
        Some(old) if old.key == key => Keyed {
            confirmed: true,
            ..old
        },
        _ => Keyed {
            key,
            move_until: stored.move_until,
            moved: stored.move_until == 0,
            confirmed: !wrote,
        },
    };
    set_state(Some(k));
    if before.is_some_and(|b| b.key != key) {
        // Another worker's key won the start-up race; nothing was written under this VM's.
        return Some(format!(
            "{KEY_NAME} was made by another worker at the same time: using that one"
        ));
    }
    if !k.confirmed || stored.move_until == 0 || now > stored.move_until {
        return None;
    }
    match move_older(host, &key, now) {
        Ok(()) => {
            set_state(Some(Keyed { moved: true, ..k }));
            None
        }
        Err(e) => Some(format!("moving an older build's entries: {}", e.0)),
    }
}

/// Moves every live entry of the older build's revocation and nonce buckets into the keyed ones.
/// Idempotent, and safe while other workers do the same.
pub fn move_older(
    host: &impl SharedData,
    key: &BucketKey,
    now: UnixTime,
) -> Result<(), StoreError> {
    let mut first_error = None;
    for ((keyed, old, buckets), per_bucket) in
        [(REVOKED, REVOKED_PER_BUCKET), (NONCES, NONCES_PER_BUCKET)]
    {
        for n in 0..buckets {
            let dest = |id: &str| format!("{keyed}{}", key.pick(id, buckets));
            if let Err(e) = move_bucket(host, &format!("{old}{n}"), now, dest, per_bucket) {
                // Go on with the others; this one is tried again on the next tick.
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Moves the live lines of bucket `old` to the buckets `dest` names, then empties `old` (only
/// if nobody wrote it meanwhile). Each line reaches its new bucket before the old one is
/// emptied, so a reader that looks in the old bucket first and then the new one always sees it.
fn move_bucket(
    host: &impl SharedData,
    old: &str,
    now: UnixTime,
    dest: impl Fn(&str) -> String,
    max: usize,
) -> Result<(), StoreError> {
    let (value, cas) = host
        .get(old)
        .map_err(|s| StoreError(format!("shared data read of {old} failed: {s:?}")))?;
    let Some(value) = value else {
        return Ok(());
    };
    let text = std::str::from_utf8(&value).map_err(|_| StoreError(format!("{old}: not text")))?;
    for (until, id) in text.lines().filter_map(nonce_line) {
        if until < now || id.is_empty() {
            continue;
        }
        let to = dest(id);
        update(host, &to, |t| match nonce_insert(t, id, until, now, max) {
            NonceInsert::Replay => Ok((None, ())),
            NonceInsert::Write(new) => Ok((Some(new), ())),
            NonceInsert::Full => Err(StoreError(format!("{to} is full"))),
        })?;
    }
    match host.set(old, b"", cas) {
        Ok(()) => Ok(()),
        Err(s) => Err(StoreError(format!(
            "emptying {old}: {s:?} (moved again later)"
        ))),
    }
}

/// A set of buckets: keyed and (older builds') plain key prefixes, and how many.
type Set = (&'static str, &'static str, usize);
const REVOKED: Set = (REVOKED_KEYED, REVOKED_OLD, REVOKED_BUCKETS);
const NONCES: Set = (NONCE_KEYED, NONCE_OLD, NONCE_BUCKETS);

/// The keyed bucket of an entry id in `set`, and the old one (`plain`) to look in first while
/// moving. `write`: for a write, which needs a confirmed key.
fn buckets_of(
    (keyed, old, count): Set,
    id: &str,
    plain: usize,
    write: bool,
) -> Result<(String, Option<String>), StoreError> {
    let k = key(write)?;
    Ok((
        format!("{keyed}{}", k.key.pick(id, count)),
        (!k.moved).then(|| format!("{old}{plain}")),
    ))
}

/// The keyed revocation bucket of an entry id, and the old one to look in first while moving.
pub fn revocation_buckets(
    id: &str,
    plain: usize,
    write: bool,
) -> Result<(String, Option<String>), StoreError> {
    buckets_of(REVOKED, id, plain, write)
}

/// The keyed nonce bucket of an entry id, and the old one to look in first while moving.
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::openid_buckets::fake::FakeShared;
    use crate::openid_buckets::{id_and_bucket, nonce_seen};

    const NOW: UnixTime = 1_800_000_000;

    fn stored(host: &FakeShared, key: &str) -> String {
        host.map
            .borrow()
            .get(key)
            .map(|(v, _)| String::from_utf8(v.clone()).unwrap())
            .unwrap_or_default()
    }

    fn plain(made: UnixTime) -> Stored {
        Stored {
            move_until: 0,
            made,
        }
    }

    /// A revocation entry id (what `store` keeps) and its bucket under the older build.
    fn revocation(session: &str) -> (String, usize) {
        let (id, n) = id_and_bucket(session, REVOKED_BUCKETS);
        (id[..32].to_string(), n)
    }

    #[test]
    fn the_first_vm_makes_the_key_and_every_other_reads_it() {
        let host = FakeShared::default();
        let (a, s, wrote) = read_or_make(&host, [1; 16], NOW).unwrap();
        assert_eq!((a, s), (BucketKey([1; 16]), plain(NOW)), "nothing to move");
        assert!(wrote);
        // Another worker, with other random bytes, and a VM reloaded later: the same key.
        assert_eq!(read_or_make(&host, [2; 16], NOW).unwrap(), (a, s, false));
        assert_eq!(
            read_or_make(&host, [2; 16], NOW + 5).unwrap(),
            (a, s, false)
        );
        // An empty key (created, not yet written) is written with its CAS.
        let host = FakeShared::default();
        host.set(KEY_NAME, b"", None).unwrap();
        assert_eq!(
            read_or_make(&host, [5; 16], NOW).unwrap().0,
            BucketKey([5; 16])
        );
    }

    #[test]
    fn two_workers_racing_for_the_key_end_with_one_and_write_only_under_it() {
        // Worker B writes its key between worker A's read (none) and A's write: A's unchecked
        // write (the key did not exist) replaces it, and B learns that on its next tick.
        let host = FakeShared::default();
        *host.racer.borrow_mut() =
            Some((KEY_NAME.into(), BucketKey([3; 16]).text(&plain(NOW)).into()));
        // B had made its own key: not confirmed, so it writes nothing.
        let b = Keyed {
            key: BucketKey([3; 16]),
            move_until: 0,
            moved: true,
            confirmed: false,
        };
        set_state(Some(b));
        assert!(revocation_buckets("00", 0, true).is_err());
        assert!(nonce_buckets("00", 0, true).is_err());
        assert!(assoc_bucket("00", true).is_err());
        assert!(revocation_buckets("00", 0, false).is_ok(), "lookups go on");
        // A writes and reads back its own key: A is not confirmed either (it wrote).
        set_state(None);
        assert_eq!(refresh(&host, [4; 16], NOW), None);
        let a = state().unwrap();
        assert_eq!(a.key, BucketKey([4; 16]));
        assert!(!a.confirmed);
        assert!(revocation_buckets("00", 0, true).is_err());
        // A's next tick reads its key again: confirmed, writes allowed.
        assert_eq!(refresh(&host, [9; 16], NOW), None);
        assert!(state().unwrap().confirmed);
        assert!(revocation_buckets("00", 0, true).is_ok());
        // B's tick: it takes A's key (found made: used at once) and says so.
        set_state(Some(b));
        let said = refresh(&host, [9; 16], NOW + 1).expect("the switch is logged");
        assert!(said.contains("another worker"), "{said}");
        let k = state().unwrap();
        assert_eq!(k.key, BucketKey([4; 16]));
        assert!(k.confirmed);
    }

    #[test]
    fn the_vm_that_makes_the_key_waits_a_tick_the_others_do_not() {
        let host = FakeShared::default();
        set_state(None);
        assert_eq!(refresh(&host, [1; 16], NOW), None);
        assert!(
            !state().unwrap().confirmed,
            "made here: a racer may still replace it"
        );
        // A worker (or a reloaded VM) that finds it made uses it at once.
        set_state(None);
        assert_eq!(refresh(&host, [2; 16], NOW), None);
        let k = state().unwrap();
        assert!(k.confirmed);
        assert_eq!(k.key, BucketKey([1; 16]));
    }

    #[test]
    fn a_value_this_filter_did_not_write_is_refused_not_replaced() {
        for junk in [
            "x",
            "AAAA 0 0",
            "AQEBAQEBAQEBAQEBAQEBAQ 0",
            "AQEBAQEBAQEBAQEBAQEBAQ 0 soon",
            "AQEBAQEBAQEBAQEBAQEBAQ 0 0 0",
        ] {
            let host = FakeShared::default();
            host.set(KEY_NAME, junk.as_bytes(), None).unwrap();
            assert!(read_or_make(&host, [1; 16], NOW).is_err(), "{junk}");
            assert_eq!(stored(&host, KEY_NAME), junk);
            set_state(None);
            assert!(refresh(&host, [1; 16], NOW).is_some());
            assert_eq!(state(), None, "no key: the stores fail closed");
        }
        let host = FakeShared::default();
        host.set(KEY_NAME, b"AQEBAQEBAQEBAQEBAQEBAQ 0 0", None)
            .unwrap();
        assert_eq!(
            read_or_make(&host, [2; 16], NOW).unwrap().0,
            BucketKey([1; 16])
        );
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
    fn an_older_builds_entries_move_once_confirmed_and_are_seen_throughout() {
        let host = FakeShared::default();
        // The older build's buckets: a live and an expired revocation, another live one, a
        // live nonce.
        let (rev, rev_n) = revocation("session-1");
        let (rev2, rev2_n) = revocation("session-2");
        let (nonce, nonce_n) = id_and_bucket("a nonce", NONCE_BUCKETS);
        let old_rev = format!("{REVOKED_OLD}{rev_n}");
        let old_rev2 = format!("{REVOKED_OLD}{rev2_n}");
        let old_nonce = format!("{NONCE_OLD}{nonce_n}");
        host.set(&format!("{REVOKED_OLD}0"), b"", None).unwrap();
        let text = format!("{} {rev}\n{} gone", NOW + 100, NOW - 1);
        host.set(&old_rev, text.as_bytes(), None).unwrap();
        let text2 = format!("{} {rev2}", NOW + 50);
        host.set(&old_rev2, text2.as_bytes(), None).unwrap();
        let text3 = format!("{} {nonce}", NOW + 60);
        host.set(&old_nonce, text3.as_bytes(), None).unwrap();

        // The first VM of this build, at configure: a move window, nothing moved yet (the key
        // is not confirmed), so lookups read the old bucket first.
        set_state(None);
        assert_eq!(refresh(&host, [7; 16], NOW), None);
        let k = state().unwrap();
        assert_eq!(k.move_until, NOW + MOVE_WINDOW);
        assert!(!k.moved && !k.confirmed);
        let (keyed, old) = revocation_buckets(&rev, rev_n, false).unwrap();
        assert_eq!(old.as_deref(), Some(old_rev.as_str()));
        assert_eq!(stored(&host, &old_rev), text, "not moved before confirmed");

        // The first tick: confirmed, everything live moved, the old buckets emptied.
        assert_eq!(refresh(&host, [8; 16], NOW + 1), None);
        let k = state().unwrap();
        assert!(k.moved && k.confirmed);
        assert_eq!(
            revocation_buckets(&rev, rev_n, false).unwrap(),
            (keyed.clone(), None)
        );
        assert!(nonce_seen(&stored(&host, &keyed), &rev, NOW + 100));
        assert!(!stored(&host, &keyed).contains("gone"));
        let (keyed2, _) = revocation_buckets(&rev2, rev2_n, false).unwrap();
        assert!(nonce_seen(&stored(&host, &keyed2), &rev2, NOW));
        let (keyed_nonce, _) = nonce_buckets(&nonce, nonce_n, false).unwrap();
        assert!(nonce_seen(&stored(&host, &keyed_nonce), &nonce, NOW));
        for old in [&old_rev, &old_rev2, &old_nonce] {
            assert_eq!(stored(&host, old), "", "{old} emptied");
        }

        // An old VM still draining revokes another session: the next tick moves it, and the
        // second pass changes nothing it had moved.
        let (rev3, rev3_n) = revocation("session-3");
        let old_rev3 = format!("{REVOKED_OLD}{rev3_n}");
        host.set(&old_rev3, format!("{} {rev3}", NOW + 90).as_bytes(), None)
            .unwrap();
        assert_eq!(refresh(&host, [8; 16], NOW + 2), None);
        let (keyed3, _) = revocation_buckets(&rev3, rev3_n, false).unwrap();
        assert!(nonce_seen(&stored(&host, &keyed3), &rev3, NOW + 2));
        assert_eq!(stored(&host, &keyed).matches(&rev).count(), 1);

        // After the window, ticks read the key only.
        host.set(&old_rev3, format!("{} {rev3}", NOW + 900).as_bytes(), None)
            .unwrap();
        let before = host.reads.get();
        assert_eq!(refresh(&host, [8; 16], NOW + MOVE_WINDOW + 1), None);
        assert_eq!(host.reads.get() - before, 1, "only the key is read");
    }

    #[test]
    fn until_a_full_pass_the_old_bucket_is_read_first() {
        let host = FakeShared::default();
        host.set(&format!("{NONCE_OLD}0"), b"", None).unwrap();
        let (rev, rev_n) = revocation("session-1");
        // A key made earlier, with a move window.
        let made = Stored {
            move_until: NOW + 100,
            made: NOW - 10,
        };
        let key = BucketKey([6; 16]);
        host.set(KEY_NAME, key.text(&made).as_bytes(), None)
            .unwrap();
        // The keyed bucket this line would go to is full: the move fails, the old bucket stays
        // and lookups keep reading it.
        let keyed = format!("{REVOKED_KEYED}{}", key.pick(&rev, REVOKED_BUCKETS));
        let full: Vec<String> = (0..REVOKED_PER_BUCKET)
            .map(|i| format!("{} filler{i}", NOW + 100))
            .collect();
        host.set(&keyed, full.join("\n").as_bytes(), None).unwrap();
        let old = format!("{REVOKED_OLD}{rev_n}");
        host.set(&old, format!("{} {rev}", NOW + 100).as_bytes(), None)
            .unwrap();
        set_state(None);
        let said = refresh(&host, [1; 16], NOW).expect("the failure is reported");
        assert!(said.contains("is full"), "{said}");
        let k = state().unwrap();
        assert!(k.confirmed && !k.moved);
        let want = (keyed, Some(old.clone()));
        assert_eq!(revocation_buckets(&rev, rev_n, false).unwrap(), want);
        assert!(nonce_seen(&stored(&host, &old), &rev, NOW));
    }

    #[test]
    fn without_a_key_every_bucket_lookup_fails_closed() {
        set_state(None);
        assert!(revocation_buckets("00", 0, false).is_err());
        assert!(nonce_buckets("00", 0, false).is_err());
        assert!(assoc_bucket("00", false).is_err());
        // A fresh process (no older build's buckets): nothing to move, nothing read twice.
        let host = FakeShared::default();
        assert_eq!(refresh(&host, [1; 16], NOW), None);
        assert_eq!(revocation_buckets("00", 0, false).unwrap().1, None);
        assert_eq!(nonce_buckets("00", 0, false).unwrap().1, None);
    }
}
