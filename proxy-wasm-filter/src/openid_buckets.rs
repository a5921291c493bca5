//! The text of the OpenID shared-data buckets and its edits, pure so the host tests cover them,
//! and the read and read–modify–CAS-write of a bucket over any [`SharedData`] (Envoy's in the
//! wasm build, a map in tests; the stores are `openid_store` and `store`). The revocation
//! buckets (`store`) are nonce buckets too: a revoked session is an id seen until it expires.
//!
//! A nonce bucket holds `<expires> <sha256 hex of the core's key>` lines; an association bucket
//! `<expiry> <type> <secret base64> <server> <handle>` lines (no field holds a space: servers are
//! normalized URLs, handles 0x21–0x7E). Every edit drops what has expired: shared data has no TTL.

use authrs_core::openid::assoc::{AssocType, Association};
use authrs_core::openid::store::StoreError;
use authrs_core::openid::Version;
use authrs_core::time::UnixTime;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use proxy_wasm::types::Status;
use sha2::{Digest, Sha256};

/// The SHA-256 of `key` in lowercase hex, and the bucket (of `buckets`, at most 65536) it belongs to.
pub fn id_and_bucket(key: &str, buckets: usize) -> (String, usize) {
    use std::fmt::Write;
    let hash = Sha256::digest(key.as_bytes());
    // One buffer, not a String per byte: this runs on every ticket check with revocation on.
    let mut id = String::with_capacity(2 * hash.len());
    for b in hash.iter() {
        let _ = write!(id, "{b:02x}");
    }
    // Up to 256 buckets by the first byte, more by the first two: the plain choice of builds
    // before the bucket key, kept to find an older build's bucket (see `buckets`).
    let n = if buckets > 256 {
        usize::from(u16::from_be_bytes([hash[0], hash[1]]))
    } else {
        usize::from(hash[0])
    };
    (id, n % buckets.max(1))
}

/// A nonce bucket line: `<expires> <id>`.
pub fn nonce_line(line: &str) -> Option<(UnixTime, &str)> {
    let (t, h) = line.split_once(' ')?;
    Some((t.parse().ok()?, h))
}

/// Whether the bucket holds `id` unexpired at `now`.
pub fn nonce_seen(text: &str, id: &str, now: UnixTime) -> bool {
    text.lines()
        .filter_map(nonce_line)
        .any(|(until, h)| h == id && until >= now)
}

/// The `(id, expires)` of an older build's revocation index (`<expires> <id>` lines) still
/// live at `now`, to carry into the buckets.
pub fn index_lines(text: &str, now: UnixTime) -> Vec<(String, UnixTime)> {
    text.lines()
        .filter_map(|l| {
            let (t, id) = l.split_once(' ')?;
            Some((id.to_string(), t.parse().ok()?))
        })
        .filter(|(id, until)| *until > now && !id.is_empty())
        .collect()
}

/// What inserting a nonce into a bucket gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NonceInsert {
    /// Already there and unexpired: a replay; nothing to write.
    Replay,
    /// Write this text back (expired lines dropped, the nonce added).
    Write(String),
    /// `max` unexpired nonces already: refuse rather than forget one that could be replayed.
    Full,
}

/// Records `id` until `until` in the bucket `text`, at `now`.
pub fn nonce_insert(
    text: &str,
    id: &str,
    until: UnixTime,
    now: UnixTime,
    max: usize,
) -> NonceInsert {
    let live: Vec<(UnixTime, &str)> = text
        .lines()
        .filter_map(nonce_line)
        .filter(|(t, _)| *t >= now)
        .collect();
    if live.iter().any(|(_, h)| *h == id) {
        return NonceInsert::Replay;
    }
    if live.len() >= max {
        return NonceInsert::Full;
    }
    let mut out: Vec<String> = live.iter().map(|(t, h)| format!("{t} {h}")).collect();
    out.push(format!("{until} {id}"));
    NonceInsert::Write(out.join("\n"))
}

fn assoc_line(line: &str) -> Option<Association> {
    let mut f = line.splitn(5, ' ');
    let expiry = f.next()?.parse().ok()?;
    let assoc_type = AssocType::from_name(f.next()?, Version::V2)?;
    let secret = STANDARD.decode(f.next()?).ok()?;
    let server = f.next()?.to_string();
    let handle = f.next()?.to_string();
    Some(Association {
        server,
        handle,
        secret,
        assoc_type,
        expiry,
    })
}

fn assoc_text(a: &Association) -> Option<String> {
    let plain = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
    (plain(&a.server) && plain(&a.handle)).then(|| {
        format!(
            "{} {} {} {} {}",
            a.expiry,
            a.assoc_type.name(),
            STANDARD.encode(&a.secret),
            a.server,
            a.handle
        )
    })
}

/// The association `handle` with `server`, if the bucket holds it.
pub fn assoc_find(text: &str, server: &str, handle: &str) -> Option<Association> {
    text.lines()
        .filter_map(assoc_line)
        .find(|a| a.server == server && a.handle == handle)
}

/// The usable association with `server` that lives longest, at `now`.
pub fn assoc_current(text: &str, server: &str, now: UnixTime) -> Option<Association> {
    text.lines()
        .filter_map(assoc_line)
        .filter(|a| a.server == server && a.usable(now))
        .max_by_key(|a| a.expiry)
}

/// The bucket with `a` added (replacing the same server and handle, expired ones and the
/// oldest beyond `max` dropped); `None` when `a` has a field that cannot be stored.
pub fn assoc_put(text: &str, a: &Association, now: UnixTime, max: usize) -> Option<String> {
    let line = assoc_text(a)?;
    let mut out: Vec<&str> = text
        .lines()
        .filter(|l| {
            assoc_line(l).is_some_and(|old| {
                let replaced = old.server == a.server && old.handle == a.handle;
                !old.expired(now) && !replaced
            })
        })
        .collect();
    out.push(&line);
    let drop = out.len().saturating_sub(max.max(1));
    Some(out[drop..].join("\n"))
}

/// The bucket without `handle` of `server`; `None` when it was not there.
pub fn assoc_remove(text: &str, server: &str, handle: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let out: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| assoc_line(l).is_none_or(|a| !(a.server == server && a.handle == handle)))
        .collect();
    (out.len() != lines.len()).then(|| out.join("\n"))
}

/// Envoy's shared data, as bucket creation uses it (the wasm store implements it with host
/// calls; tests with a map).
pub trait SharedData {
    /// The value (`None` when absent or empty) and its CAS (`None` when the key does not exist).
    fn get(&self, key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), Status>;
    /// Writes `value`; with `cas`, only if the key still has it (Envoy does not check a CAS on
    /// a key that does not exist yet).
    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), Status>;
}

/// Lost CAS races tolerated per update before giving up.
const CAS_RETRIES: usize = 16;

/// Reads a bucket: its text and the CAS to write it back with. A bucket that is not UTF-8 (not
/// written by this filter) is an error, never empty text: a write would otherwise replace what
/// it holds (nonces seen, revocations) with nothing.
pub fn read(host: &impl SharedData, key: &str) -> Result<(String, Option<u32>), StoreError> {
    let (value, cas) = host
        .get(key)
        .map_err(|s| StoreError(format!("shared data read failed: {s:?}")))?;
    let text = match value.as_deref().map(std::str::from_utf8) {
        None => "",
        Some(Ok(t)) => t,
        Some(Err(_)) => return Err(StoreError(format!("{key}: not text"))),
    };
    Ok((text.to_string(), cas))
}

/// Whether bucket `key` holds `id` unexpired at `now`, read in place (ticket checks do this on
/// every request). Text that is not UTF-8 is an error, as in [`read`]: never "not seen".
pub fn holds(
    host: &impl SharedData,
    key: &str,
    id: &str,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let (value, _) = host
        .get(key)
        .map_err(|s| StoreError(format!("shared data read failed: {s:?}")))?;
    match value.as_deref().map(std::str::from_utf8) {
        None => Ok(false),
        Some(Ok(text)) => Ok(nonce_seen(text, id, now)),
        Some(Err(_)) => Err(StoreError(format!("{key}: not text"))),
    }
}

/// Rewrites a bucket from what was read: `change` gets the text and returns the new text
/// (`None`: nothing to write) and a result; retried while another worker wins the race.
pub fn update<T>(
    host: &impl SharedData,
    key: &str,
    mut change: impl FnMut(&str) -> Result<(Option<String>, T), StoreError>,
) -> Result<T, StoreError> {
    for _ in 0..CAS_RETRIES {
        let (text, cas) = read(host, key)?;
        let (new, result) = change(&text)?;
        let Some(new) = new else {
            return Ok(result);
        };
        match host.set(key, new.as_bytes(), cas) {
            Ok(()) => return Ok(result),
            Err(Status::CasMismatch) => continue,
            Err(s) => return Err(StoreError(format!("shared data write failed: {s:?}"))),
        }
    }
    Err(StoreError(format!("{key}: too many concurrent updates")))
}

/// Creates, empty, each of `keys` that does not exist yet (so later CAS writes are checked).
/// An existing bucket, even an empty one, is left alone: another worker may be adding to it
/// (a reload configures one VM while the others serve).
pub fn create_missing<'k>(host: &impl SharedData, keys: impl IntoIterator<Item = &'k str>) {
    for key in keys {
        if let Ok((None, None)) = host.get(key) {
            let _ = host.set(key, b"", None);
        }
    }
}

/// A stand-in for Envoy's shared data in host tests.
#[cfg(test)]
pub(crate) mod fake {
    use super::SharedData;
    use proxy_wasm::types::Status;

    /// Envoy's shared data as the filter sees it: a CAS per key, a set without CAS (or on a key
    /// that does not exist) unchecked; an empty value reads back as no value with its CAS.
    /// `racer` is another worker writing a key right after this one reads it.
    #[derive(Default)]
    pub struct FakeShared {
        pub map: std::cell::RefCell<std::collections::HashMap<String, (Vec<u8>, u32)>>,
        pub racer: std::cell::RefCell<Option<(String, Vec<u8>)>>,
        /// Reads so far.
        pub reads: std::cell::Cell<usize>,
        /// Keys whose reads shared data refuses.
        pub refuse: std::cell::RefCell<Vec<String>>,
    }

    impl FakeShared {
        /// What `key` holds, as text (empty when absent).
        pub fn text(&self, key: &str) -> String {
            self.map
                .borrow()
                .get(key)
                .map(|(v, _)| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        }
    }

    impl SharedData for FakeShared {
        fn get(&self, key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), Status> {
            self.reads.set(self.reads.get() + 1);
            if self.refuse.borrow().iter().any(|k| k == key) {
                return Err(Status::InternalFailure);
            }
            let read = match self.map.borrow().get(key) {
                Some((v, cas)) => (Some(v.clone()).filter(|v| !v.is_empty()), Some(*cas)),
                None => (None, None),
            };
            let racing = self.racer.borrow().as_ref().is_some_and(|(k, _)| k == key);
            if let Some((k, v)) = racing.then(|| self.racer.borrow_mut().take()).flatten() {
                let mut map = self.map.borrow_mut();
                let cas = map.get(&k).map_or(1, |(_, c)| c + 1);
                map.insert(k, (v, cas));
            }
            Ok(read)
        }

        fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), Status> {
            let mut map = self.map.borrow_mut();
            let next = match map.get(key) {
                Some((_, c)) if cas.is_some_and(|cas| cas != *c) => {
                    return Err(Status::CasMismatch)
                }
                Some((_, c)) => c + 1,
                None => 1,
            };
            map.insert(key.to_string(), (value.to_vec(), next));
            Ok(())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::fake::FakeShared;
    use super::*;

    const NOW: UnixTime = 1_800_000_000;

    #[test]
    fn a_revocation_bucket_counts_live_ids_and_refuses_to_overfill() {
        let (a, _) = id_and_bucket("session-a", 256);
        let (b, _) = id_and_bucket("session-b", 256);
        let NonceInsert::Write(text) = nonce_insert("", &a, NOW + 10, NOW, 2) else {
            panic!()
        };
        let NonceInsert::Write(text) = nonce_insert(&text, &b, NOW + 100, NOW, 2) else {
            panic!()
        };
        assert!(nonce_seen(&text, &a, NOW + 10) && !nonce_seen(&text, &a, NOW + 11));
        assert!(nonce_seen(&text, &b, NOW + 11));
        // Revoking a session again writes nothing; a third live one does not fit in two.
        assert_eq!(
            nonce_insert(&text, &a, NOW + 10, NOW, 2),
            NonceInsert::Replay
        );
        let (c, _) = id_and_bucket("session-c", 256);
        assert_eq!(nonce_insert(&text, &c, NOW + 10, NOW, 2), NonceInsert::Full);
        // Once one has expired, the write drops it and makes room.
        let NonceInsert::Write(pruned) = nonce_insert(&text, &c, NOW + 50, NOW + 20, 2) else {
            panic!()
        };
        assert_eq!(pruned.lines().count(), 2);
        assert!(!pruned.contains(&a));
        // Many sessions land in few, fixed buckets, spread over all of them.
        let buckets: std::collections::HashSet<usize> = (0..100_000)
            .map(|i| id_and_bucket(&format!("{i:032x}"), 4096).1)
            .collect();
        assert!(buckets.len() <= 4096 && buckets.len() > 4000);
    }

    #[test]
    fn an_older_builds_live_revocations_are_carried_over() {
        let old = format!(
            "{} aa\n{} bb\ngarbage\n{} \n{} cc",
            NOW - 1,
            NOW + 5,
            NOW + 9,
            NOW + 7
        );
        assert_eq!(
            index_lines(&old, NOW),
            vec![("bb".to_string(), NOW + 5), ("cc".to_string(), NOW + 7)]
        );
    }

    #[test]
    fn nonces_are_seen_until_they_expire_and_pruned_after() {
        let (id, bucket) = id_and_bucket("https://op/ 2026-01-01T00:00:00Zabc", 64);
        assert!(bucket < 64 && id.len() == 64);
        assert_eq!(
            id_and_bucket("abc", 256),
            (
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_string(),
                0xba
            )
        );
        let NonceInsert::Write(text) = nonce_insert("", &id, NOW + 10, NOW, 8) else {
            panic!()
        };
        assert!(nonce_seen(&text, &id, NOW + 10));
        assert!(!nonce_seen(&text, &id, NOW + 11));
        assert_eq!(
            nonce_insert(&text, &id, NOW + 10, NOW + 5, 8),
            NonceInsert::Replay
        );
        // Expired: accepted again, and the old line is gone.
        let NonceInsert::Write(again) = nonce_insert(&text, &id, NOW + 100, NOW + 11, 8) else {
            panic!()
        };
        assert_eq!(again, format!("{} {id}", NOW + 100));
        // Garbage lines (a corrupted bucket) are dropped, never taken for a nonce.
        let NonceInsert::Write(t) = nonce_insert("x\n\nnope y", "b", NOW + 1, NOW, 8) else {
            panic!()
        };
        assert_eq!(t, format!("{} b", NOW + 1));
    }

    #[test]
    fn a_full_nonce_bucket_refuses_instead_of_forgetting() {
        let mut text = String::new();
        for i in 0..3 {
            let NonceInsert::Write(t) = nonce_insert(&text, &format!("n{i}"), NOW + 60, NOW, 3)
            else {
                panic!()
            };
            text = t;
        }
        assert_eq!(
            nonce_insert(&text, "n3", NOW + 60, NOW, 3),
            NonceInsert::Full
        );
        assert!(nonce_seen(&text, "n0", NOW));
        // Once they expire there is room again.
        assert!(matches!(
            nonce_insert(&text, "n3", NOW + 200, NOW + 61, 3),
            NonceInsert::Write(_)
        ));
    }

    fn assoc(server: &str, handle: &str, expiry: UnixTime) -> Association {
        Association {
            server: server.into(),
            handle: handle.into(),
            secret: vec![7; 20],
            assoc_type: AssocType::HmacSha1,
            expiry,
        }
    }

    #[test]
    fn associations_round_trip_replace_expire_and_stay_bounded() {
        let a = assoc("http://op/a", "h1", NOW + 100);
        let text = assoc_put("", &a, NOW, 4).unwrap();
        assert_eq!(assoc_find(&text, "http://op/a", "h1"), Some(a.clone()));
        assert_eq!(assoc_find(&text, "http://op/b", "h1"), None);
        // `current` wants MIN_REMAINING seconds of life left (a login takes minutes).
        let m = authrs_core::openid::assoc::MIN_REMAINING;
        assert_eq!(
            assoc_current(&text, "http://op/a", NOW - m),
            Some(a.clone())
        );
        assert_eq!(assoc_current(&text, "http://op/a", NOW), None);
        assert_eq!(assoc_current(&text, "http://op/a", NOW + 101 - m), None);
        // A newer one for the same server wins `current`; the same handle replaces.
        let b = assoc("http://op/a", "h2", NOW + 500);
        let text = assoc_put(&text, &b, NOW, 4).unwrap();
        assert_eq!(
            assoc_current(&text, "http://op/a", NOW - m),
            Some(b.clone())
        );
        let text = assoc_put(&text, &assoc("http://op/a", "h2", NOW + 900), NOW, 4).unwrap();
        assert_eq!(text.lines().count(), 2);
        // Expired entries go at the next write; beyond the bound the oldest go.
        let text = assoc_put(&text, &assoc("http://op/c", "h", NOW + 900), NOW + 200, 4).unwrap();
        assert_eq!(assoc_find(&text, "http://op/a", "h1"), None);
        let mut t = text;
        for i in 0..5 {
            t = assoc_put(
                &t,
                &assoc("http://op/d", &format!("d{i}"), NOW + 900),
                NOW,
                4,
            )
            .unwrap();
        }
        assert_eq!(t.lines().count(), 4);
        assert!(assoc_find(&t, "http://op/d", "d4").is_some());
        assert!(assoc_find(&t, "http://op/d", "d0").is_none());
        // invalidate_handle.
        let removed = assoc_remove(&t, "http://op/d", "d4").unwrap();
        assert!(assoc_find(&removed, "http://op/d", "d4").is_none());
        assert_eq!(assoc_remove(&removed, "http://op/d", "d4"), None);
        // A field with a space would break the line format: not stored.
        assert_eq!(
            assoc_put("", &assoc("http://op/a", "h 1", NOW + 1), NOW, 4),
            None
        );
    }

    #[test]
    fn invalidating_a_handle_removes_that_association_only() {
        // Same server, other handles; same handle, other server; a line this build cannot read.
        let mut text = String::new();
        for (server, handle) in [
            ("http://op/a", "h1"),
            ("http://op/a", "h2"),
            ("http://op/b", "h1"),
        ] {
            text = assoc_put(&text, &assoc(server, handle, NOW + 900), NOW, 8).unwrap();
        }
        // A second handle with the same server is kept beside the first, not in its place.
        assert!(assoc_find(&text, "http://op/a", "h1").is_some());
        assert_eq!(text.lines().count(), 3);
        text.push_str("\ngarbage");
        let removed = assoc_remove(&text, "http://op/a", "h1").unwrap();
        assert!(assoc_find(&removed, "http://op/a", "h1").is_none());
        assert!(assoc_find(&removed, "http://op/a", "h2").is_some());
        assert!(assoc_find(&removed, "http://op/b", "h1").is_some());
        assert_eq!(removed.lines().count(), 3);
        // A bound of 0 still keeps the association just made.
        let one = assoc_put(&removed, &assoc("http://op/c", "h", NOW + 900), NOW, 0).unwrap();
        assert!(assoc_find(&one, "http://op/c", "h").is_some() && one.lines().count() == 1);
    }

    #[test]
    fn nonce_and_revocation_lifetimes_at_the_boundary_second() {
        // A nonce is seen through its expiry second, so inserting it again then is a replay.
        let NonceInsert::Write(text) = nonce_insert("", "n", NOW + 10, NOW, 8) else {
            panic!()
        };
        assert!(nonce_seen(&text, "n", NOW + 10));
        assert_eq!(
            nonce_insert(&text, "n", NOW + 10, NOW + 10, 8),
            NonceInsert::Replay
        );
        // The old index's entry for a ticket expiring now is not carried over: a ticket is valid
        // only while `now < expires`, so that revocation protects nothing any more.
        let old = format!("{NOW} gone\n{} kept", NOW + 1);
        assert_eq!(index_lines(&old, NOW), vec![("kept".to_string(), NOW + 1)]);
    }

    #[test]
    fn creating_buckets_never_overwrites_one_another_worker_writes() {
        let host = FakeShared::default();
        let keys = ["b.0".to_string(), "b.1".to_string()];
        create_missing(&host, keys.iter().map(String::as_str));
        assert_eq!(host.map.borrow().get("b.0").map(|(v, _)| v.len()), Some(0));
        // A reload configures this VM again while another worker records the first nonce of an
        // (existing, empty) bucket: the nonce must survive.
        *host.racer.borrow_mut() = Some(("b.1".into(), b"1800000060 abc".to_vec()));
        create_missing(&host, keys.iter().map(String::as_str));
        assert_eq!(
            host.map.borrow().get("b.1").map(|(v, _)| v.clone()),
            Some(b"1800000060 abc".to_vec())
        );
    }
}
