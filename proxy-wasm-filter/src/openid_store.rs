//! OpenID's replay cache and association cache in Envoy shared data: shared by every worker of
//! the same `vm_id` and kept across VM reloads, so a return served by another worker still
//! finds the nonce and the association (no stateless fallback needed).
//!
//! Shared data has no TTL and no deletion, and a CAS on a key that does not exist yet is not
//! checked: a fixed number of bucket keys is created in `on_configure` ([`init`]), every update
//! is a read–modify–CAS-write retried on a lost race, and each write prunes what has expired.
//! A key goes to the bucket named by the first byte of its SHA-256, so memory stays bounded
//! whatever identifiers and providers clients name.

use authrs_core::openid::assoc::{AssocType, Association};
use authrs_core::openid::store::{AssociationStore, NonceStore, StoreError};
use authrs_core::openid::Version;
use authrs_core::time::UnixTime;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use proxy_wasm::hostcalls::{get_shared_data, set_shared_data};
use proxy_wasm::types::Status;
use sha2::{Digest, Sha256};

const NONCE_PREFIX: &str = "authrs.openid.nonce.";
const NONCE_BUCKETS: usize = 64;
/// Live nonces one bucket holds; a full bucket refuses new logins (`store_failed`) rather than
/// forget a nonce that could then be replayed.
const MAX_NONCES_PER_BUCKET: usize = 4096;
/// Lifetime of a nonce stored without one (the seed's default window).
const DEFAULT_NONCE_LIFETIME: i64 = 1800;

const ASSOC_PREFIX: &str = "authrs.openid.assoc.";
const ASSOC_BUCKETS: usize = 16;
/// Associations one bucket keeps; beyond it the oldest is dropped (the next login associates again).
const MAX_ASSOCS_PER_BUCKET: usize = 16;

/// Lost CAS races tolerated per update before giving up (`store_failed`).
const CAS_RETRIES: usize = 16;

/// Creates every bucket key that does not exist yet (so later CAS writes are checked).
pub fn init() {
    let buckets = (0..NONCE_BUCKETS)
        .map(|i| format!("{NONCE_PREFIX}{i}"))
        .chain((0..ASSOC_BUCKETS).map(|i| format!("{ASSOC_PREFIX}{i}")));
    for key in buckets {
        if let Ok((None, _)) = get_shared_data(&key) {
            let _ = set_shared_data(&key, Some(b""), None);
        }
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn bucket(prefix: &str, buckets: usize, hash: &[u8; 32]) -> String {
    format!("{prefix}{}", usize::from(hash[0]) % buckets)
}

fn err(what: &str, s: Status) -> StoreError {
    StoreError(format!("shared data {what} failed: {s:?}"))
}

/// Reads a bucket: its lines and the CAS to write it back with.
fn read(key: &str) -> Result<(String, Option<u32>), StoreError> {
    let (value, cas) = get_shared_data(key).map_err(|s| err("read", s))?;
    let text = value
        .as_deref()
        .and_then(|v| std::str::from_utf8(v).ok())
        .unwrap_or("")
        .to_string();
    Ok((text, cas))
}

/// Rewrites a bucket from what was read: `update` gets the lines and returns the new lines
/// (`None`: nothing to write) and a result; retried while another worker wins the race.
fn update<T>(
    key: &str,
    mut change: impl FnMut(Vec<&str>) -> Result<(Option<Vec<String>>, T), StoreError>,
) -> Result<T, StoreError> {
    for _ in 0..CAS_RETRIES {
        let (text, cas) = read(key)?;
        let lines = text.lines().filter(|l| !l.is_empty()).collect();
        let (new, result) = change(lines)?;
        let Some(new) = new else {
            return Ok(result);
        };
        match set_shared_data(key, Some(new.join("\n").as_bytes()), cas) {
            Ok(()) => return Ok(result),
            Err(Status::CasMismatch) => continue,
            Err(s) => return Err(err("write", s)),
        }
    }
    Err(StoreError(format!("{key}: too many concurrent updates")))
}

/// `<expires> <sha256 hex>` lines.
fn nonce_line(line: &str) -> Option<(UnixTime, &str)> {
    let (t, h) = line.split_once(' ')?;
    Some((t.parse().ok()?, h))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The replay cache handed to the core.
#[derive(Debug, Default)]
pub struct SharedNonces;

impl NonceStore for SharedNonces {
    fn seen(&mut self, key: &str, now: UnixTime) -> Result<bool, StoreError> {
        let hash = digest(key);
        let id = hex(&hash);
        let (text, _) = read(&bucket(NONCE_PREFIX, NONCE_BUCKETS, &hash))?;
        Ok(text
            .lines()
            .filter_map(nonce_line)
            .any(|(until, h)| h == id && until >= now))
    }

    fn check_and_insert(
        &mut self,
        key: &str,
        expires: Option<UnixTime>,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let hash = digest(key);
        let id = hex(&hash);
        let until = expires.unwrap_or(now.saturating_add(DEFAULT_NONCE_LIFETIME));
        update(&bucket(NONCE_PREFIX, NONCE_BUCKETS, &hash), |lines| {
            let live: Vec<(UnixTime, &str)> = lines
                .into_iter()
                .filter_map(nonce_line)
                .filter(|(t, _)| *t >= now)
                .collect();
            if live.iter().any(|(_, h)| *h == id) {
                return Ok((None, false));
            }
            if live.len() >= MAX_NONCES_PER_BUCKET {
                return Err(StoreError("the OpenID replay cache is full".to_string()));
            }
            let mut out: Vec<String> = live.iter().map(|(t, h)| format!("{t} {h}")).collect();
            out.push(format!("{until} {id}"));
            Ok((Some(out), true))
        })
    }
}

/// `<expiry> <type> <secret base64> <server> <handle>` lines (no field holds a space: the
/// server is a normalized URL, handles are 0x21–0x7E).
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

/// The association cache handed to the core; `now` prunes expired entries on writes.
#[derive(Debug, Default)]
pub struct SharedAssociations {
    /// The request's time.
    pub now: UnixTime,
}

fn assoc_bucket(server: &str) -> String {
    bucket(ASSOC_PREFIX, ASSOC_BUCKETS, &digest(server))
}

impl AssociationStore for SharedAssociations {
    fn get(&mut self, server: &str, handle: &str) -> Result<Option<Association>, StoreError> {
        let (text, _) = read(&assoc_bucket(server))?;
        Ok(text
            .lines()
            .filter_map(assoc_line)
            .find(|a| a.server == server && a.handle == handle))
    }

    fn current(&mut self, server: &str, now: UnixTime) -> Result<Option<Association>, StoreError> {
        let (text, _) = read(&assoc_bucket(server))?;
        Ok(text
            .lines()
            .filter_map(assoc_line)
            .filter(|a| a.server == server && a.usable(now))
            .max_by_key(|a| a.expiry))
    }

    fn put(&mut self, association: Association) -> Result<(), StoreError> {
        let Some(line) = assoc_text(&association) else {
            return Err(StoreError("association with a blank field".to_string()));
        };
        let now = self.now;
        update(&assoc_bucket(&association.server), |lines| {
            let mut out: Vec<String> = lines
                .into_iter()
                .filter(|l| {
                    assoc_line(l).is_some_and(|a| {
                        let replaced =
                            a.server == association.server && a.handle == association.handle;
                        !a.expired(now) && !replaced
                    })
                })
                .map(str::to_string)
                .collect();
            out.push(line.clone());
            if out.len() > MAX_ASSOCS_PER_BUCKET {
                let drop = out.len() - MAX_ASSOCS_PER_BUCKET;
                out.drain(..drop);
            }
            Ok((Some(out), ()))
        })
    }

    fn remove(&mut self, server: &str, handle: &str) -> Result<(), StoreError> {
        update(&assoc_bucket(server), |lines| {
            let before = lines.len();
            let out: Vec<String> = lines
                .into_iter()
                .filter(|l| {
                    assoc_line(l).is_none_or(|a| !(a.server == server && a.handle == handle))
                })
                .map(str::to_string)
                .collect();
            if out.len() == before {
                return Ok((None, ()));
            }
            Ok((Some(out), ()))
        })
    }
}
