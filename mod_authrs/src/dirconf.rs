//! Per-directory configuration: `AuthRs…` directives into `Settings`, merging, and the
//! per-process cache of built policies (merging and building must not happen per request).

use crate::apr::{pstrdup, str_from};
use crate::ffi;
use authrs_core::config::{by_directive, Settings, ValueKind};
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One configuration section's own directives.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// Unique per section instance (never an address: .htaccess sections live in request pools).
    pub id: u64,
    /// What this section set.
    pub settings: Settings,
    /// Test builds: panic in check_authn.
    pub test_panic: Option<bool>,
    /// Test builds (`AuthRsTestPanic merge`): panic when this section is merged into another.
    pub test_panic_merge: bool,
}

/// A section's view: the chain of leaves from the outermost scope inward. Merging concatenates
/// chains (cheap, per request); the merged `Settings` and `Policy` are built once per chain.
#[derive(Debug, Clone)]
pub struct DirConfig {
    /// Outermost first.
    pub chain: Vec<Arc<Leaf>>,
    /// Merging failed (a panic): what the scope's settings are is unknown, so every request in
    /// it is refused with a 500 (`AUTHRS0903`) rather than served on a partial configuration.
    pub broken: bool,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The pool cleanup of [`into_pool`]. A panicking `Drop` never unwinds into APR: it is caught
/// and the rest of the value is leaked.
unsafe extern "C" fn drop_box<T>(data: *mut c_void) -> ffi::apr_status_t {
    if !data.is_null() {
        // SAFETY: data came from Box::into_raw in into_pool and is dropped exactly once.
        let value = unsafe { Box::from_raw(data.cast::<T>()) };
        crate::glue::guard((), || drop(value));
    }
    0
}

/// Moves `value` into pool `p`: dropped by a pool cleanup when the pool is cleared.
///
/// # Safety
/// `p` must be a live pool.
pub unsafe fn into_pool<T>(p: *mut ffi::apr_pool_t, value: T) -> *mut c_void {
    let raw = Box::into_raw(Box::new(value)).cast::<c_void>();
    // SAFETY: p is live; the cleanup runs once, when the pool is cleared or destroyed.
    unsafe {
        ffi::apr_pool_cleanup_register(
            p,
            raw,
            Some(drop_box::<T>),
            Some(ffi::apr_pool_cleanup_null),
        )
    };
    raw
}

impl DirConfig {
    /// A new, empty section config in pool `p`.
    ///
    /// # Safety
    /// `p` must be a live pool.
    pub unsafe fn create(p: *mut ffi::apr_pool_t) -> *mut c_void {
        let leaf = Leaf {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            settings: Settings::new(),
            test_panic: None,
            test_panic_merge: false,
        };
        // SAFETY: forwarded contract.
        unsafe {
            into_pool(
                p,
                DirConfig {
                    chain: vec![Arc::new(leaf)],
                    broken: false,
                },
            )
        }
    }

    /// The config of a scope whose merge failed: refuses every request (see [`Self::broken`]).
    pub fn broken() -> DirConfig {
        DirConfig {
            chain: Vec::new(),
            broken: true,
        }
    }

    /// `base` then `new`, in pool `p`.
    ///
    /// # Safety
    /// `p` live; `base` and `new` made by this module and alive.
    pub unsafe fn merge(
        p: *mut ffi::apr_pool_t,
        base: *const DirConfig,
        new: *const DirConfig,
    ) -> *mut c_void {
        // SAFETY: both configs are alive per the contract.
        let (base, new) = unsafe { (&*base, &*new) };
        if cfg!(feature = "test-panic") && new.chain.iter().any(|l| l.test_panic_merge) {
            // Test builds only: proves a failed merge refuses the scope's requests.
            #[allow(clippy::panic)]
            {
                panic!("AuthRsTestPanic merge: injected panic");
            }
        }
        if base.broken || new.broken {
            // SAFETY: forwarded contract.
            return unsafe { into_pool(p, DirConfig::broken()) };
        }
        let mut chain = Vec::with_capacity(base.chain.len() + new.chain.len());
        chain.extend(base.chain.iter().cloned());
        chain.extend(new.chain.iter().cloned());
        // SAFETY: forwarded contract.
        unsafe {
            into_pool(
                p,
                DirConfig {
                    chain,
                    broken: false,
                },
            )
        }
    }

    /// The cache key of this chain.
    pub fn key(&self) -> Vec<u64> {
        self.chain.iter().map(|l| l.id).collect()
    }

    /// Whether `other` is the same configuration chain (the same sections, in order).
    pub fn same_chain(&self, other: &DirConfig) -> bool {
        self.chain.len() == other.chain.len()
            && self
                .chain
                .iter()
                .zip(&other.chain)
                .all(|(a, b)| a.id == b.id)
    }

    /// The merged settings of the chain (outermost first, inner wins).
    pub fn merged(&self) -> Settings {
        let mut out = Settings::new();
        for leaf in &self.chain {
            out = Settings::merge(&out, &leaf.settings);
        }
        out
    }

    /// `AuthRsRecognizeUser` as merged (innermost scope that sets it), without building a policy:
    /// the fixup asks this on every request without a user.
    pub fn recognize_user(&self) -> bool {
        self.chain
            .iter()
            .rev()
            .find(|l| {
                l.settings
                    .is_set(authrs_core::config::OptionId::RecognizeUser)
            })
            .is_some_and(|l| l.settings.recognize_user())
    }

    /// `AuthRsTestPanic` as merged (test builds only).
    pub fn test_panic(&self) -> bool {
        self.chain
            .iter()
            .rev()
            .find_map(|l| l.test_panic)
            .unwrap_or(false)
    }
}

/// Splits a directive's raw arguments like httpd does (quotes, backslash escapes).
///
/// # Safety
/// `pool` live; `args` NULL or NUL-terminated.
unsafe fn words(pool: *mut ffi::apr_pool_t, mut args: *const c_char) -> Vec<String> {
    let mut out = Vec::new();
    if args.is_null() {
        return out;
    }
    loop {
        // SAFETY: *args is NUL-terminated; ap_getword_conf advances it and copies into pool.
        let at_end = unsafe { *args == 0 };
        if at_end {
            break;
        }
        // SAFETY: as above.
        let w = unsafe { ffi::ap_getword_conf(pool, &mut args) };
        // SAFETY: ap_getword_conf returns a pool string.
        match unsafe { str_from(w) } {
            Some(s) if !s.is_empty() => out.push(s.into_owned()),
            _ => {
                // An empty word either ends the line or is a quoted "" argument.
                // SAFETY: args still points into the NUL-terminated line.
                if unsafe { *args == 0 } {
                    break;
                }
                out.push(String::new());
            }
        }
    }
    out
}

/// Whether no `AuthRs…` directive follows `node` in its section (included files are already
/// spliced into the section's list when httpd parses it).
///
/// # Safety
/// `node` is NULL or a node of the live configuration tree.
unsafe fn last_authrs_directive(node: *const ffi::ap_directive_t) -> bool {
    // SAFETY: NULL or a live node; its `next` likewise.
    let mut next = unsafe { node.as_ref() }.map_or(std::ptr::null_mut(), |n| n.next);
    // SAFETY: every node of the tree is live while the configuration is read.
    while let Some(n) = unsafe { next.as_ref() } {
        // SAFETY: the directive name is NULL or a NUL-terminated string of the tree.
        let name = unsafe { str_from(n.directive) };
        if name.is_some_and(|d| {
            d.as_bytes()
                .get(..6)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"authrs"))
        }) {
            return false;
        }
        next = n.next;
    }
    true
}

/// Handles one `AuthRs…` directive: store it in the section's settings, validate files now so
/// `apache2 -t` fails with the file and line. Returns NULL or an error string in `cmd->pool`.
///
/// # Safety
/// `cmd` and `dir` live; `args` NUL-terminated.
pub unsafe fn directive(
    cmd: &mut ffi::cmd_parms,
    dir: &mut DirConfig,
    args: *const c_char,
) -> *const c_char {
    // SAFETY: cmd->info is the directive name string from the generated table.
    let name = unsafe { str_from(cmd.info as *const c_char) }
        .map(|s| s.into_owned())
        .unwrap_or_default();
    // SAFETY: temp_pool is live during configuration.
    let mut args = unsafe { words(cmd.temp_pool, args) };
    let fail = |msg: String| -> *const c_char {
        // SAFETY: cmd.pool is live; httpd prints the returned string with file and line.
        unsafe { pstrdup(cmd.pool, &msg) }
    };
    let Some(leaf) = dir.chain.last_mut() else {
        return fail("mod_authrs: internal error (empty configuration chain)".into());
    };
    let leaf = Arc::make_mut(leaf);
    if cfg!(feature = "test-panic") && name == "AuthRsTestPanic" {
        let arg = args.first().map(String::as_str).unwrap_or("");
        if arg.eq_ignore_ascii_case("merge") {
            leaf.test_panic_merge = true;
        } else {
            leaf.test_panic = Some(arg.eq_ignore_ascii_case("on"));
        }
        return crate::glue::NO_ERROR;
    }
    let Some(spec) = by_directive(&name) else {
        return fail(format!("{name}: not an authrs directive"));
    };
    let is_path = matches!(spec.kind, ValueKind::Path)
        || matches!(spec.kind, ValueKind::List(inner) if *inner == ValueKind::Path);
    if is_path {
        // Relative paths are relative to ServerRoot, as for httpd's own file directives.
        for a in args.iter_mut() {
            let c = crate::apr::cstring(a);
            // SAFETY: cmd.pool is live; the result is a pool string.
            let abs = unsafe { ffi::ap_server_root_relative(cmd.pool, c.as_ptr()) };
            // SAFETY: NULL or a pool string.
            match unsafe { str_from(abs) } {
                Some(p) => *a = p.into_owned(),
                None => return fail(format!("{name}: invalid path {a:?}")),
            }
        }
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    if let Err(e) = leaf.settings.set(&name, &refs) {
        return fail(e.to_string());
    }
    // Combinations this section makes wrong by itself fail at its last AuthRs directive
    // (`apache2 -t`, with that line: a later one may still change either value); those a
    // merge of sections makes wrong are found when the scope is first used.
    // SAFETY: cmd.directive is NULL or this directive's node in the live configuration tree.
    if unsafe { last_authrs_directive(cmd.directive) } {
        if let Err(e) = leaf
            .settings
            .check_section(authrs_core::config::Shell::Apache)
        {
            return fail(e.to_string());
        }
    }
    // The socache instances (revocation records; OpenID nonces, states and associations) are
    // per process and created only where some scope asks for them: note what it asks.
    if spec.id == authrs_core::config::OptionId::Methods
        && leaf
            .settings
            .methods()
            .contains(&authrs_core::config::Method::OpenId)
    {
        crate::openid::WANTED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    if spec.id == authrs_core::config::OptionId::RevokeOnLogout && leaf.settings.revoke_on_logout()
    {
        crate::revocation::WANTED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    if spec.id == authrs_core::config::OptionId::Cache {
        // One socache instance serves the whole server (and every virtual host): a copy in a
        // <VirtualHost> would silently replace the main server's choice for all of them.
        // SAFETY: cmd.server is NULL or the server_rec being configured.
        if unsafe { cmd.server.as_ref() }.is_some_and(|s| s.is_virtual != 0) {
            return fail(format!(
                "{name} belongs in the main server configuration, not in <VirtualHost>: one \
                 cache serves every virtual host"
            ));
        }
        *crate::socache::SPEC
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(leaf.settings.cache().to_string());
    }
    if spec.id == authrs_core::config::OptionId::OpenIdMaxConcurrentFetches {
        // A per-process limit: one value for the whole server, like AuthRsCache.
        // SAFETY: cmd.server is NULL or the server_rec being configured.
        if unsafe { cmd.server.as_ref() }.is_some_and(|s| s.is_virtual != 0) {
            return fail(format!(
                "{name} belongs in the main server configuration, not in <VirtualHost>: the \
                 limit is per httpd process"
            ));
        }
        if let Some(n) = leaf.settings.openid_max_concurrent_fetches() {
            crate::fetch::configure_limit(n);
        }
    }
    if spec.id == authrs_core::config::OptionId::Provider {
        // As AuthBasicProvider does: a provider that is not loaded is a configuration error,
        // not a 500 at the first login (which would also tell names the first provider knows
        // from names it does not).
        for provider in &args {
            let Ok(p) = std::ffi::CString::new(provider.as_str()) else {
                return fail(format!("{name}: bad provider name {provider:?}"));
            };
            // SAFETY: NUL-terminated strings; returns NULL or a registered provider.
            let found =
                unsafe { ffi::ap_lookup_provider(c"authn".as_ptr(), p.as_ptr(), c"0".as_ptr()) };
            if found.is_null() {
                return fail(format!(
                    "{name}: unknown authn provider {provider:?} (load mod_authn_{provider} before this line)"
                ));
            }
        }
    }
    // A .htaccess path is not validated here: httpd reads .htaccess for every request, and a
    // directory owner could make every request parse a big CRL. The policy reads the file
    // (under its once-a-second change check) and refuses the request (500) when it is bad.
    // SAFETY: a plain query of httpd's state.
    if is_path && unsafe { ffi::authrs_serving() } == 0 {
        match crate::policy::validate_file(spec.id, &args) {
            Err(e) => {
                // httpd names the file and line; the directive is ours to name.
                return fail(format!("{name}: {e}"));
            }
            Ok(warnings) => {
                for w in warnings {
                    // SAFETY: cmd.server is NULL or the server_rec being configured.
                    unsafe {
                        crate::apr::log_s(
                            cmd.server,
                            crate::apr::LogLevel::Warn,
                            &format!("AUTHRS0004: {name}: {w}"),
                        )
                    };
                }
            }
        }
    }
    // A .htaccess section is read anew for every request: its leaf is named by its content, so
    // the policy cache finds the policy built for the same settings instead of building (and
    // keeping) a new one per request.
    // SAFETY: a plain query of httpd's state.
    if unsafe { ffi::authrs_serving() } != 0 {
        leaf.id = content_id(&leaf.settings);
    }
    crate::glue::NO_ERROR
}

/// A leaf id made from the settings themselves, with the top bit set (startup sections count up
/// from 1): keyed per process, so a directory owner cannot aim a collision at another section.
fn content_id(settings: &Settings) -> u64 {
    use std::hash::BuildHasher;
    static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    KEYS.get_or_init(Default::default)
        .hash_one(format!("{settings:?}"))
        | 1 << 63
}

#[cfg(test)]
mod tests {
    use super::drop_box;

    struct Boom;

    impl Drop for Boom {
        #[allow(clippy::panic)] // the point of the test
        fn drop(&mut self) {
            panic!("a panicking Drop");
        }
    }

    #[test]
    fn a_panicking_drop_never_unwinds_into_apr() {
        // A panic out of an `extern "C"` function aborts the process: the cleanup runs in a
        // child (this same test, selected by name), and the parent checks that it lived.
        const CHILD: &str = "AUTHRS_DROP_BOX_CHILD";
        if std::env::var_os(CHILD).is_some() {
            let raw = Box::into_raw(Box::new(Boom)).cast();
            // SAFETY: raw came from Box::into_raw of a Boom, as into_pool makes it; dropped once.
            assert_eq!(unsafe { drop_box::<Boom>(raw) }, 0);
            return;
        }
        let exe = std::env::current_exe().expect("test binary");
        let out = std::process::Command::new(exe)
            .args([
                "--exact",
                "dirconf::tests::a_panicking_drop_never_unwinds_into_apr",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .expect("run the child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "the cleanup's panic escaped: {:?}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
