//! Built policies, one per configuration chain, cached per process; files named by directives
//! are re-read when they change on disk (a new CRL takes effect without a restart).

use crate::dirconf::DirConfig;
use authrs_core::config::{OptionId, Settings, Shell};
use authrs_core::engine::Policy;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// A policy and what it was built from.
#[derive(Debug)]
pub struct Built {
    /// The engine's policy.
    pub policy: Policy,
    /// The merged settings (for what the policy does not carry: providers, recognize-user, …).
    pub settings: Settings,
    /// The AuthName it was built for (the realm of `WWW-Authenticate`).
    pub auth_name: Option<String>,
    /// The configuration chain it was built from ([`DirConfig::key`]).
    chain: Vec<u64>,
    files: Vec<(String, Option<FileStamp>)>,
    /// Root-only files that changed on disk since httpd started, built from their startup copy
    /// (this worker may not read them): warned about once, when built (`AUTHRS0106`).
    stale_copies: Vec<String>,
    /// When the files were last found unchanged (stat() at most once a second, not per request).
    checked_at: AtomicI64,
}

impl Built {
    /// Feeds the scope this was built for (its chain and AuthName) to `h`, for per-scope
    /// bookkeeping such as the login handler's timing of password checks.
    pub fn hash_scope(&self, h: &mut impl Hasher) {
        use std::hash::Hash;
        self.chain.hash(h);
        self.auth_name.hash(h);
    }

    fn is_for(&self, dc: &DirConfig, auth_name: Option<&str>) -> bool {
        self.auth_name.as_deref() == auth_name
            && self.chain.len() == dc.chain.len()
            && self
                .chain
                .iter()
                .zip(&dc.chain)
                .all(|(id, leaf)| *id == leaf.id)
    }
}

/// At most this many chains are cached; .htaccess sections make new chains per request.
const MAX_ENTRIES: usize = 1024;

/// At most this many policies share one slot.
const MAX_PER_SLOT: usize = 8;

/// Built policies by [`slot`] of their chain and AuthName; a slot holds more than one only when
/// two keys collide. Looked up on every request: the slot is computed without allocating, and
/// the map does not hash it again.
static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

type Cache = HashMap<u64, Vec<Arc<Built>>, BuildHasherDefault<SlotHasher>>;

/// FNV-1a over the chain's leaf ids and the AuthName: cheap, and good enough to spread the few
/// chains a server has (collisions are resolved by comparing the whole key).
fn slot(dc: &DirConfig, auth_name: Option<&str>) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(PRIME);
        }
    };
    for leaf in &dc.chain {
        eat(&leaf.id.to_le_bytes());
    }
    match auth_name {
        Some(n) => {
            eat(&[1]);
            eat(n.as_bytes());
        }
        None => eat(&[0]),
    }
    h
}

/// Passes a [`slot`] through as its own hash.
#[derive(Default)]
struct SlotHasher(u64);

impl Hasher for SlotHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed (write_u64); fold anything else in, never drop it.
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Ticket keys and OpenID consumer secrets as read while parsing the configuration, as root, before workers drop privileges
/// (like mod_ssl's keys). Workers re-read them to pick up changes and fall back to this copy
/// when they may not read them (a 0600 key owned by root). Other files get no such copy.
static STARTUP_FILES: Mutex<Option<HashMap<String, StartupCopy>>> = Mutex::new(None);

/// A root-only file as read while httpd started, and its [`FileStamp`] then.
struct StartupCopy {
    bytes: Vec<u8>,
    stamp: Option<FileStamp>,
}

/// What says a file changed on disk: its modification time alone misses a rewrite within the
/// same second on filesystems that keep whole seconds, and a replacement that keeps an older
/// time (`cp -p`, `install -p`, `rsync -t`, a restore); its inode change time, size and inode
/// catch those (the change time cannot be set back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    changed: (i64, i64),
    len: u64,
    inode: (u64, u64),
}

/// Largest file a directive may name (the CRLs of big CAs reach tens of MiB).
const MAX_FILE_LEN: u64 = 64 * 1024 * 1024;

/// Reads a file a directive names: a regular file of at most [`MAX_FILE_LEN`] bytes, opened
/// without blocking, so a `.htaccess` naming `/dev/zero` or a FIFO gets an error instead of a
/// worker reading forever (or waiting for a writer).
fn read_file(path: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{path} is not a regular file"));
    }
    if meta.len() > MAX_FILE_LEN {
        return Err(format!("{path} is larger than {} MiB", MAX_FILE_LEN >> 20));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_LEN {
        return Err(format!("{path} is larger than {} MiB", MAX_FILE_LEN >> 20));
    }
    Ok(bytes)
}

/// Reads a configured file, falling back to the startup copy when the worker may not read it;
/// the flag says the copy is stale (the file was modified since httpd started).
fn read_configured(path: &str) -> Result<(Vec<u8>, bool), String> {
    match read_file(path) {
        Ok(bytes) => Ok((bytes, false)),
        Err(e) => {
            let guard = STARTUP_FILES
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            guard
                .as_ref()
                .and_then(|m| m.get(path))
                // Changed only when both times are known: a worker that may not even stat()
                // the file (a directory only root traverses) cannot tell, and says nothing.
                .map(|copy| {
                    // The content's stamp: a chmod or chown alone (the inode change time) is no
                    // new content.
                    let content = |s: FileStamp| (s.modified, s.len, s.inode);
                    let changed = matches!((stamp(path), copy.stamp), (Some(now), Some(then)) if content(now) != content(then));
                    (copy.bytes.clone(), changed)
                })
                .ok_or_else(|| format!("cannot read {path}: {e}"))
        }
    }
}

/// The [`FileStamp`] of `path`, `None` when it cannot be stat()ed.
fn stamp(path: &str) -> Option<FileStamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        modified: m.modified().ok(),
        changed: (m.ctime(), m.ctime_nsec()),
        len: m.len(),
        inode: (m.dev(), m.ino()),
    })
}

fn files_of(s: &Settings) -> Vec<String> {
    let mut files: Vec<String> = s.ticket_key_files().to_vec();
    files.extend(
        [
            s.crl_file(),
            s.cert_user_map_file(),
            s.enrolled_certs_file(),
            s.roles_file(),
            s.openid_consumer_secret_file(),
        ]
        .into_iter()
        .flatten()
        .map(str::to_string),
    );
    files
}

/// Builds the policy of `dc`; `files` are its files' stamps, taken before anything is read.
fn build(
    dc: &DirConfig,
    auth_name: Option<&str>,
    now: i64,
    files: Vec<(String, Option<FileStamp>)>,
) -> Result<Built, String> {
    let settings = dc.merged();
    // The startup copy of a root-only file (a key, a consumer secret) serves only the sections
    // of the server's configuration that name it: a path a .htaccess section names (leaf ids
    // with the top bit) is read as the worker may read it, so a directory owner cannot have
    // the server use another site's secret for them.
    // What the startup sections alone come to (inner overriding outer, as merged): a file an
    // outer section named but an inner one replaced is not theirs to lend either.
    let startup_named = files_of(
        &dc.chain
            .iter()
            .filter(|leaf| leaf.id & (1 << 63) == 0)
            .fold(Settings::new(), |out, leaf| {
                Settings::merge(&out, &leaf.settings)
            }),
    );
    let mut stale_copies = Vec::new();
    let mut read = |path: &str| {
        if startup_named.iter().any(|p| p == path) {
            let (bytes, stale) = read_configured(path)?;
            if stale {
                stale_copies.push(path.to_string());
            }
            Ok(bytes)
        } else {
            read_file(path)
        }
    };
    let policy = Policy::from_settings(&settings, Shell::Apache, auth_name, &mut read)
        .map_err(|e| e.to_string())?;
    Ok(Built {
        policy,
        settings,
        auth_name: auth_name.map(str::to_string),
        chain: dc.key(),
        files,
        stale_copies,
        checked_at: AtomicI64::new(now),
    })
}

/// The policy for this request's configuration chain: cached, rebuilt when a file changed
/// (checked at most once a second). An error means the configuration cannot be used now.
///
/// The process-wide lock is held only to look up and to insert: file checks and builds (which
/// read and parse files) run outside it, so one slow rebuild never stalls every thread of an
/// event-MPM child; two threads building the same chain at once is harmless (the second
/// replaces the first).
///
/// Also says whether the policy was built by this call (not found in the cache), or whether the
/// build was tried by this call (not a failure remembered).
fn get(
    dc: &DirConfig,
    auth_name: Option<&str>,
    now: i64,
) -> Result<(Arc<Built>, bool), (String, bool)> {
    let slot = slot(dc, auth_name);
    let found = {
        let mut guard = CACHE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard
            .get_or_insert_with(HashMap::default)
            .get(&slot)
            .and_then(|entries| entries.iter().find(|b| b.is_for(dc, auth_name)))
            .map(Arc::clone)
    };
    if let Some(b) = found {
        if now == b.checked_at.load(Ordering::Relaxed) {
            return Ok((b, false));
        }
        if b.files.iter().all(|(f, t)| stamp(f) == *t) {
            b.checked_at.store(now, Ordering::Relaxed);
            return Ok((b, false));
        }
    }
    // A chain that failed lately, its files unchanged, fails again without reading them: a
    // .htaccess naming a bad 60 MiB CRL must not make every request read and parse it.
    if let Some(e) = recent_failure(slot, dc, auth_name, now) {
        return Err((e, false));
    }
    // Only a policy that builds takes a place in the cache (failures go to their own, bounded).
    // The files' stamps as they were before the build read them: a file mended while it ran
    // counts as changed, never as the state that failed.
    let before = stamps_of(dc);
    let built = match build(dc, auth_name, now, before.clone()) {
        Ok(b) => Arc::new(b),
        Err(e) => {
            remember_failure(slot, dc, auth_name, now, &e, before);
            return Err((e, true));
        }
    };
    let mut guard = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let cache = guard.get_or_insert_with(HashMap::default);
    if cache.len() >= MAX_ENTRIES && !cache.contains_key(&slot) {
        // Full (many .htaccess chains): make room by one, not by forgetting every policy.
        if let Some(victim) = cache.keys().next().copied() {
            cache.remove(&victim);
        }
    }
    let entries = cache.entry(slot).or_default();
    entries.retain(|b| !b.is_for(dc, auth_name));
    // A slot holds a few chains (FNV collisions, AuthName expressions evaluated per request):
    // bounded, oldest out, so no client-chosen value grows one without end.
    if entries.len() >= MAX_PER_SLOT {
        entries.remove(0);
    }
    entries.push(Arc::clone(&built));
    Ok((built, true))
}

/// How long a failed build is answered from memory while its files stay unchanged.
const FAILURE_TTL: i64 = 10;

/// A chain whose policy did not build: its files as they were, and why.
struct Failure {
    chain: Vec<u64>,
    auth_name: Option<String>,
    files: Vec<(String, Option<FileStamp>)>,
    at: i64,
    error: String,
}

static FAILURES: Mutex<Option<HashMap<u64, Failure>>> = Mutex::new(None);

fn recent_failure(slot: u64, dc: &DirConfig, auth_name: Option<&str>, now: i64) -> Option<String> {
    let guard = FAILURES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let f = guard.as_ref()?.get(&slot)?;
    let same = f.auth_name.as_deref() == auth_name && f.chain == dc.key();
    (same
        && (0..FAILURE_TTL).contains(&(now - f.at))
        && f.files.iter().all(|(p, t)| stamp(p) == *t))
    .then(|| f.error.clone())
}

/// The configured files of `dc`'s merged settings with their [`FileStamp`]s now.
fn stamps_of(dc: &DirConfig) -> Vec<(String, Option<FileStamp>)> {
    files_of(&dc.merged())
        .into_iter()
        .map(|f| {
            let t = stamp(&f);
            (f, t)
        })
        .collect()
}

fn remember_failure(
    slot: u64,
    dc: &DirConfig,
    auth_name: Option<&str>,
    now: i64,
    error: &str,
    files: Vec<(String, Option<FileStamp>)>,
) {
    let mut guard = FAILURES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    if map.len() >= MAX_ENTRIES && !map.contains_key(&slot) {
        map.clear();
    }
    map.insert(
        slot,
        Failure {
            chain: dc.key(),
            auth_name: auth_name.map(str::to_string),
            files,
            at: now,
            error: error.to_string(),
        },
    );
}

/// [`get`] for a request hook: a configuration that cannot be used is logged (`AUTHRS0101`)
/// and becomes the 500 the hook returns.
pub fn for_request(
    r: &crate::ffi::request_rec,
    dc: &DirConfig,
    auth_name: Option<&str>,
    now: i64,
) -> Result<Arc<Built>, std::ffi::c_int> {
    match get(dc, auth_name, now) {
        Ok((built, fresh)) => {
            if fresh {
                // SAFETY: r is live for the hook that called us.
                unsafe {
                    crate::apr::log_r(
                        r,
                        crate::apr::LogLevel::Debug,
                        "AUTHRS0102: built the policy of this configuration",
                    )
                };
                // CRLs that keep no issuer current, for files named in .htaccess or replaced
                // since startup (startup files were reported when the configuration was read).
                for w in built.policy.crls.iter().flat_map(|c| c.warnings()) {
                    // SAFETY: r is live for the hook that called us.
                    unsafe {
                        crate::apr::log_r(
                            r,
                            crate::apr::LogLevel::Warn,
                            &format!("AUTHRS0004: {w}"),
                        )
                    };
                }
                for path in &built.stale_copies {
                    // SAFETY: as above.
                    unsafe {
                        crate::apr::log_r(
                            r,
                            crate::apr::LogLevel::Warn,
                            &format!(
                                "AUTHRS0106: {path} changed since httpd started, but this worker \
                                 may not read it: the copy read at startup stays in use until httpd \
                                 restarts (a graceful restart reads it again as root)"
                            ),
                        )
                    };
                }
            }
            Ok(built)
        }
        Err((e, tried)) => {
            // SAFETY: r is live for the hook that called us.
            unsafe {
                if tried {
                    crate::apr::log_r(
                        r,
                        crate::apr::LogLevel::Debug,
                        "AUTHRS0107: tried to build the policy of this configuration",
                    );
                }
                crate::apr::log_r(
                    r,
                    crate::apr::LogLevel::Error,
                    &format!("AUTHRS0101: configuration cannot be used: {e}"),
                )
            };
            Err(crate::ffi::HTTP_INTERNAL_SERVER_ERROR as std::ffi::c_int)
        }
    }
}

/// Forgets every built policy (a new configuration generation after a restart).
pub fn clear() {
    let mut guard = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *guard = None;
    *FAILURES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
}

/// Reads and parses a file named by a directive, so `apache2 -t` catches a bad one.
pub fn validate_file(id: OptionId, paths: &[String]) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    use authrs_core::{cert, roles, ticket};
    for path in paths {
        let bytes = read_file(path)?;
        // Only keys and secrets keep a startup copy (a root-only key is normal); a CRL or roles file the
        // workers cannot read must fail closed, not go silently stale. Only while the server
        // starts: a path read from .htaccess at request time is no startup file (and would make
        // the copies grow with every path a directory owner names).
        // SAFETY: a plain query of httpd's state.
        let starting = unsafe { crate::ffi::authrs_serving() } == 0;
        if starting
            && matches!(
                id,
                OptionId::TicketKeyFile | OptionId::OpenIdConsumerSecretFile
            )
        {
            STARTUP_FILES
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .get_or_insert_with(HashMap::new)
                .insert(
                    path.clone(),
                    StartupCopy {
                        bytes: bytes.clone(),
                        stamp: stamp(path),
                    },
                );
        }
        let text = || String::from_utf8(bytes.clone()).map_err(|_| format!("{path}: not UTF-8"));
        let result = match id {
            OptionId::TicketKeyFile => ticket::TicketKey::from_base64(text()?.trim())
                .map(drop)
                .map_err(|e| e.to_string()),
            OptionId::CrlFile => cert::crl::CrlSet::parse(&bytes)
                .map(|set| {
                    let named = set.warnings().into_iter().map(|w| format!("{path}: {w}"));
                    warnings.extend(named);
                })
                .map_err(|e| e.to_string()),
            OptionId::CertUserMapFile => cert::map::UserMap::parse(&text()?)
                .map(drop)
                .map_err(|e| e.to_string()),
            OptionId::EnrolledCertsFile => cert::enrolled::EnrolledCerts::parse(&text()?)
                .map(drop)
                .map_err(|e| e.to_string()),
            OptionId::RolesFile => roles::RolesFile::parse(&text()?)
                .map(drop)
                .map_err(|e| e.to_string()),
            OptionId::OpenIdConsumerSecretFile => {
                let trimmed = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
                let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
                authrs_core::openid::signed_time::ConsumerSecret::new(trimmed)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            _ => Ok(()),
        };
        result.map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(warnings)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::dirconf::Leaf;

    fn chain(ids: &[u64]) -> DirConfig {
        DirConfig {
            chain: ids
                .iter()
                .map(|&id| {
                    Arc::new(Leaf {
                        id,
                        settings: Settings::new(),
                        test_panic: None,
                        test_panic_merge: false,
                    })
                })
                .collect(),
            broken: false,
        }
    }

    #[test]
    fn one_policy_per_chain_and_auth_name() {
        // Ids no other test uses: the cache is per process.
        let (a, b, ab) = (chain(&[9001]), chain(&[9002]), chain(&[9001, 9002]));
        let first = get(&a, Some("Realm"), 100).unwrap().0;
        assert!(Arc::ptr_eq(&first, &get(&a, Some("Realm"), 100).unwrap().0));
        assert!(Arc::ptr_eq(&first, &get(&a, Some("Realm"), 101).unwrap().0));
        for (dc, name) in [
            (&a, None),
            (&a, Some("Other")),
            (&b, Some("Realm")),
            (&ab, Some("Realm")),
        ] {
            let other = get(dc, name, 100).unwrap().0;
            assert!(!Arc::ptr_eq(&first, &other));
            assert_eq!(other.auth_name.as_deref(), name);
        }
        assert_ne!(slot(&a, Some("Realm")), slot(&a, None));
        assert_ne!(slot(&ab, None), slot(&chain(&[9002, 9001]), None));
    }
}
