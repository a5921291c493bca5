//! The `authrs-login` and `authrs-logout` handlers (AuthCookie's login and logout).

use crate::apr::{cstring, table_set};
use crate::ffi;
use crate::request::{auth_name, dir_config, facts, now};
use authrs_core::engine::{login, logout, PasswordCheck, Stores};
use std::collections::BTreeMap;
use std::ffi::c_int;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The largest login form body read (AuthCookie forms are a few hundred bytes).
const MAX_BODY: usize = 16 * 1024;

/// Checks passwords through httpd's own authn providers (`AuthRsProvider file`: mod_authn_file
/// with the location's `AuthUserFile`; dbm and dbd likewise).
struct HttpdProviders<'a> {
    r: &'a mut ffi::request_rec,
    names: Vec<String>,
    /// The login scope (its section, configuration and providers), whose checks are timed apart.
    scope: u64,
    /// `r->user` as the granting provider left it (mod_authnz_ldap's
    /// `AuthLDAPRemoteUserAttribute` names the user its own way).
    canonical: Option<String>,
}

/// Password lengths are timed apart in bands of this many bytes: APR1-MD5 and SHA-crypt cost
/// more for longer passwords (bcrypt stops at 72 bytes), so a 1,000-byte password must not be
/// padded to what short ones cost.
const BAND_BYTES: usize = 64;
/// Bands up to the longest password a login accepts.
const BANDS: usize = authrs_core::login::MAX_PASSWORD / BAND_BYTES + 1;

/// How long the dearest recent password check of a known user took in this process, per
/// password-length band ([`Peak`]; none: not timed yet): every answer, for known and unknown
/// names, is held to it, so timing does not tell which names exist (mod_authn_file answers "no
/// such user" before hashing anything).
static KNOWN_USER_CHECK: Mutex<[Option<Peak>; BANDS]> = Mutex::new([None; BANDS]);
/// The same per login scope and band: a location whose user file has costly hashes must not be
/// padded to the cheap checks of another location of the same process. The process-wide
/// value stands in for a scope until it has its own.
static KNOWN_USER_CHECK_BY_SCOPE: Mutex<BTreeMap<(u64, usize), Peak>> = Mutex::new(BTreeMap::new());
/// Scope and band pairs timed apart at most (.htaccess can make many); the rest use the process's value.
const MAX_TIMED_SCOPES: usize = 1024;
/// The most an answer is held back.
const MAX_PAD: Duration = Duration::from_secs(2);
/// The least every check is held back to while the process has timed no known user's check of
/// that password length (a fresh worker after a graceful restart), known and unknown names
/// alike, so neither stands out before the first real measurement (see `cold_pad`).
const COLD_PAD: Duration = Duration::from_millis(250);
/// How fast a [`Peak`] forgets a dear check: it halves every ten minutes.
const PEAK_HALF_LIFE_SECS: f64 = 600.0;

fn band(password: &str) -> usize {
    (password.len() / BAND_BYTES).min(BANDS - 1)
}

/// The dearest recent check, fading with time only. An average of mixed costs (bcrypt beside
/// `{SHA}` after a migration) would sit below the dear checks and above the cheap ones, and
/// both would stand out against the pad of an unknown name; a maximum that faded per check
/// could be worn down by sending wrong passwords for a cheap user. This one halves every
/// [`PEAK_HALF_LIFE_SECS`], however many checks come in between — applied when a known user's
/// check is recorded, never while it is read: probes of unknown names, which record nothing,
/// are padded to the value the last real check left, not to one fading between checks.
#[derive(Clone, Copy, Debug)]
struct Peak {
    ns: u64,
    at: Instant,
}

impl Peak {
    /// The value at `now`.
    fn at(&self, now: Instant) -> u64 {
        let age = now.saturating_duration_since(self.at).as_secs_f64();
        (self.ns as f64 * 0.5f64.powf(age / PEAK_HALF_LIFE_SECS)) as u64
    }

    /// `slot` raised to a check that took `took` nanoseconds, at `now` (at most [`MAX_PAD`]: a
    /// provider that stalled for a minute must not hold every login for an hour).
    fn raise(slot: Option<Peak>, took: u64, now: Instant) -> Peak {
        let kept = slot.map_or(0, |p| p.at(now));
        let cap = u64::try_from(MAX_PAD.as_nanos()).unwrap_or(u64::MAX);
        Peak {
            ns: took.min(cap).max(kept).max(1),
            at: now,
        }
    }
}

fn record_known_user_check(scope: u64, band: usize, took: Duration) {
    let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
    let now = Instant::now();
    if let Ok(mut process) = KNOWN_USER_CHECK.lock() {
        if let Some(slot) = process.get_mut(band) {
            *slot = Some(Peak::raise(*slot, took, now));
        }
    }
    if let Ok(mut by_scope) = KNOWN_USER_CHECK_BY_SCOPE.lock() {
        let key = (scope, band);
        if by_scope.len() < MAX_TIMED_SCOPES || by_scope.contains_key(&key) {
            let old = by_scope.get(&key).copied();
            by_scope.insert(key, Peak::raise(old, took, now));
        }
    }
}

/// How long a known user's check of this scope and band takes, if this process has timed one.
fn known_user_check(scope: u64, band: usize) -> Option<Duration> {
    let scoped = KNOWN_USER_CHECK_BY_SCOPE
        .lock()
        .ok()
        .and_then(|by_scope| by_scope.get(&(scope, band)).map(|p| p.ns));
    let ns = scoped.unwrap_or_else(|| {
        KNOWN_USER_CHECK
            .lock()
            .ok()
            .and_then(|process| process.get(band).copied().flatten())
            .map_or(0, |p| p.ns)
    });
    (ns > 0).then(|| Duration::from_nanos(ns).min(MAX_PAD))
}

/// What a check of a length this scope has not timed is held back to: the dearest check timed
/// in the scope at any length (a longer password costs at least as much), else in the whole
/// process, never less than [`COLD_PAD`] — an attacker choosing a length nobody uses must not
/// get a shorter answer, nor a cheap section the pad of a slow one.
fn cold_pad(scope: u64) -> Duration {
    let scoped = KNOWN_USER_CHECK_BY_SCOPE.lock().ok().and_then(|by_scope| {
        by_scope
            .range((scope, 0)..=(scope, usize::MAX))
            .map(|(_, p)| p.ns)
            .max()
    });
    let dearest = scoped.unwrap_or_else(|| {
        KNOWN_USER_CHECK
            .lock()
            .ok()
            .and_then(|process| process.iter().flatten().map(|p| p.ns).max())
            .unwrap_or(0)
    });
    Duration::from_nanos(dearest).clamp(COLD_PAD, MAX_PAD)
}

fn hold_until(started: Instant, until: Duration) {
    if let Some(rest) = until.checked_sub(started.elapsed()) {
        std::thread::sleep(rest);
    }
}

impl PasswordCheck for HttpdProviders<'_> {
    fn check(&mut self, user: &str, password: &str) -> Result<bool, String> {
        let started = Instant::now();
        let band = band(password);
        let known = known_user_check(self.scope, band);
        // Every answer — granted, denied, no such user, a provider's error — is held to the same
        // pad, so none tells the others apart.
        let scope = self.scope;
        let hold = || hold_until(started, known.unwrap_or_else(|| cold_pad(scope)));
        let (u, p) = (cstring(user), cstring(password));
        for name in &self.names {
            let n = cstring(name);
            // SAFETY: ap_lookup_provider returns NULL or a registered authn_provider.
            let prov = unsafe {
                ffi::ap_lookup_provider(c"authn".as_ptr(), n.as_ptr(), c"0".as_ptr())
                    as *const ffi::authn_provider
            };
            // SAFETY: NULL or a live provider struct.
            let Some(check) = unsafe { prov.as_ref() }.and_then(|pv| pv.check_password) else {
                return Err(format!(
                    "authn provider {name:?} is not loaded (LoadModule authn_{name}_module)"
                ));
            };
            // A provider that names the user sets r->user; start from none, so what is there
            // afterwards is that provider's.
            self.r.user = std::ptr::null_mut();
            // SAFETY: the provider contract: live request, NUL-terminated user and password.
            match unsafe { check(self.r, u.as_ptr(), p.as_ptr()) } {
                ffi::authn_status::AUTH_GRANTED => {
                    record_known_user_check(self.scope, band, started.elapsed());
                    hold();
                    // SAFETY: NULL or a pool string the provider set.
                    // Strictly UTF-8: two names that differ only in invalid bytes must not
                    // become one (a lossy reading maps both to U+FFFD); not UTF-8 is no name.
                    self.canonical = (!self.r.user.is_null()).then(|| {
                        // SAFETY: non-NULL, a NUL-terminated pool string the provider set.
                        match unsafe { std::ffi::CStr::from_ptr(self.r.user) }.to_str() {
                            Ok(s) => s.to_string(),
                            Err(_) => "\u{fffd}".to_string(),
                        }
                    });
                    return Ok(true);
                }
                ffi::authn_status::AUTH_DENIED => {
                    record_known_user_check(self.scope, band, started.elapsed());
                    hold();
                    return Ok(false);
                }
                ffi::authn_status::AUTH_USER_NOT_FOUND => continue,
                _ => {
                    hold();
                    return Err(format!("authn provider {name:?} failed"));
                }
            }
        }
        hold();
        Ok(false)
    }

    fn canonical_user(&self) -> Option<String> {
        self.canonical.clone()
    }
}

/// Reads the request body up to MAX_BODY; `Err(status)` for too large or unreadable.
fn read_body(r: &mut ffi::request_rec) -> Result<Vec<u8>, c_int> {
    // SAFETY: r is live; the client-block API reads the body into our buffer.
    unsafe {
        let rc = ffi::ap_setup_client_block(r, ffi::REQUEST_CHUNKED_DECHUNK as c_int);
        if rc != ffi::OK as c_int {
            return Err(rc);
        }
        let mut body = Vec::new();
        if ffi::ap_should_client_block(r) == 0 {
            return Ok(body);
        }
        let mut buf = [0u8; 4096];
        loop {
            let n = ffi::ap_get_client_block(r, buf.as_mut_ptr().cast(), buf.len() as _);
            if n < 0 {
                return Err(ffi::HTTP_BAD_REQUEST as c_int);
            }
            if n == 0 {
                return Ok(body);
            }
            body.extend_from_slice(&buf[..n as usize]);
            if body.len() > MAX_BODY {
                return Err(ffi::HTTP_REQUEST_ENTITY_TOO_LARGE as c_int);
            }
        }
    }
}

/// GET on the login handler: the default login page, with the reason in words and the
/// (untainted) destination, posting back to this URL. Works without JavaScript.
fn login_page(
    r: &mut ffi::request_rec,
    policy: &authrs_core::engine::Policy,
    req: &authrs_core::RequestFacts,
) -> c_int {
    use authrs_core::login_page::{query_params, render_for, DEFAULT_TEMPLATE};
    let (reason, destination) = query_params(req.query.as_deref());
    let destination = policy.destinations.untaint(destination.as_deref());
    let openid = policy.openid.is_some();
    let page = render_for(DEFAULT_TEMPLATE, reason, &destination, &req.path, openid);
    // SAFETY: r is live; content type and headers are pool copies; ap_rwrite copies the bytes.
    unsafe {
        ffi::ap_set_content_type(r, crate::apr::pstrdup(r.pool, "text/html; charset=utf-8"));
        for (name, value) in authrs_core::login_page::PAGE_HEADERS {
            table_set(r.pool, r.headers_out, name, value);
        }
        if r.header_only == 0 {
            ffi::ap_rwrite(page.as_ptr().cast(), page.len() as c_int, r);
        }
    }
    ffi::OK as c_int
}

/// Applies an OpenID login step; a step refused for want of a place among those waiting on
/// providers (`AuthRsOpenIDMaxConcurrentFetches`) is a 503 the browser may retry.
fn openid_answer(
    r: &mut ffi::request_rec,
    step: crate::openid::Step,
    realm: Option<&str>,
) -> c_int {
    match step {
        crate::openid::Step::Done(d) => crate::apply::apply(r, *d, realm),
        crate::openid::Step::Busy => {
            let limit = crate::fetch::limit();
            // SAFETY: r's pool and tables are live for the request; r is live.
            unsafe {
                table_set(r.pool, r.err_headers_out, "Retry-After", "5");
                table_set(r.pool, r.err_headers_out, "Cache-Control", "no-store");
                crate::apr::log_r(
                    r,
                    crate::apr::LogLevel::Warn,
                    &format!(
                        "AUTHRS0105: OpenID login step refused (503): {limit} of this process's \
                         login steps are already waiting on providers \
                         (AuthRsOpenIDMaxConcurrentFetches)"
                    ),
                );
            }
            ffi::HTTP_SERVICE_UNAVAILABLE as c_int
        }
    }
}

/// Dispatches on `SetHandler authrs-login|authrs-logout`.
pub fn handle(r: &mut ffi::request_rec) -> c_int {
    // SAFETY: r.handler is NULL or a config string. Borrowed: this runs for every request.
    let handler = unsafe { crate::apr::str_from(r.handler) };
    let is_login = match handler.as_deref() {
        Some("authrs-login") => true,
        Some("authrs-logout") => false,
        _ => return ffi::DECLINED as c_int,
    };
    let Some(dc) = dir_config(r) else {
        return ffi::DECLINED as c_int;
    };
    let realm = auth_name(r).map(std::borrow::Cow::into_owned);
    let now = now();
    let built = match crate::policy::for_request(r, dc, realm.as_deref(), now) {
        Ok(b) => b,
        Err(status) => return status,
    };
    // Owned: the login and logout handlers write to r while reading the facts (rare requests).
    let req = facts(r, &built.policy).into_owned();
    let d = if is_login {
        if req.method == "GET" && crate::openid::is_return(req.query.as_deref(), None) {
            let step = crate::openid::finish(r, &built, &req, None, now);
            return openid_answer(r, step, realm.as_deref());
        }
        if req.method == "GET" || req.method == "HEAD" {
            return login_page(r, &built.policy, &req);
        }
        if req.method != "POST" {
            // SAFETY: r's pool and tables are live.
            unsafe { table_set(r.pool, r.err_headers_out, "Allow", "GET, HEAD, POST") };
            return ffi::HTTP_METHOD_NOT_ALLOWED as c_int;
        }
        let body = match read_body(r) {
            Ok(b) => b,
            Err(status) => return status,
        };
        if crate::openid::is_return(None, Some(&body)) {
            // A provider answering with a form POST (2.0 allows it for long messages).
            let step = crate::openid::finish(r, &built, &req, Some(&body), now);
            return openid_answer(r, step, realm.as_deref());
        }
        if crate::openid::is_start(&body) {
            let step = match authrs_core::engine::refuse_cross_site(&req) {
                Some(d) => crate::openid::Step::Done(Box::new(d)),
                None => crate::openid::start(r, &built, &body, now),
            };
            return openid_answer(r, step, realm.as_deref());
        }
        let names = built
            .settings
            .providers()
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<String>>();
        // The virtual host, the section (not the URL: /LOGIN/x is the same section) and its
        // providers: sections without AuthRs directives share one configuration chain but not
        // their user files, and two hosts may each have a <Location /LOGIN>.
        // SAFETY: r is live; NULL or a string of the configuration (or, for .htaccess, of the
        // request), only hashed here.
        let section = unsafe { crate::apr::str_from(ffi::authrs_section_path(r)) };
        let mut scope = DefaultHasher::new();
        (r.server as usize).hash(&mut scope);
        built.hash_scope(&mut scope);
        section.hash(&mut scope);
        names.hash(&mut scope);
        let mut providers = HttpdProviders {
            r: &mut *r,
            scope: scope.finish(),
            names,
            canonical: None,
        };
        let d = login(&built.policy, &req, &body, now, &mut providers);
        if d.identity.is_none() {
            // No ticket issued: a user a provider named stays no user of this request (an
            // ErrorDocument sharing it would show them as REMOTE_USER).
            r.user = std::ptr::null_mut();
        }
        d
    } else {
        let revoke = built.settings.revoke_on_logout();
        if crate::revocation::enabled() {
            let mut cache = crate::revocation::SoCache { r };
            logout(
                &built.policy,
                &req,
                now,
                revoke,
                &mut Stores {
                    revocations: Some(&mut cache),
                },
            )
        } else {
            logout(&built.policy, &req, now, revoke, &mut Stores::default())
        }
    };
    crate::apply::apply(r, d, realm.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_lengths_are_timed_apart() {
        assert_eq!((band(""), band(&"a".repeat(63))), (0, 0));
        assert_eq!(band(&"a".repeat(64)), 1);
        assert_eq!(band(&"a".repeat(1024)), BANDS - 1);
        assert_eq!(band(&"a".repeat(100_000)), BANDS - 1);
        // Scope ids no other test uses: the statics are per process.
        let (scope, other) = (0x5eed_0001, 0x5eed_0002);
        assert_eq!(known_user_check(scope, 3), None, "cold: nothing timed yet");
        record_known_user_check(scope, 3, Duration::from_millis(8));
        assert_eq!(known_user_check(scope, 3), Some(Duration::from_millis(8)));
        // A long password's band stays cold (held back to COLD_PAD), not padded to short ones.
        assert_eq!(known_user_check(scope, 12), None);
        // Another scope without its own timing borrows the process-wide one of the band.
        assert_eq!(known_user_check(other, 3), Some(Duration::from_millis(8)));
        record_known_user_check(other, 3, Duration::from_millis(400));
        assert_eq!(known_user_check(other, 3), Some(Duration::from_millis(400)));
        assert_eq!(known_user_check(scope, 3), Some(Duration::from_millis(8)));
        // A length nobody used yet is held back to the dearest timed check, at least COLD_PAD.
        // A scope's cold lengths are held to its dearest timed check, at least COLD_PAD.
        assert_eq!(cold_pad(scope), COLD_PAD);
        assert_eq!(cold_pad(other), Duration::from_millis(400));
        record_known_user_check(0x5eed_0004, 7, Duration::from_millis(900));
        assert_eq!(cold_pad(0x5eed_0004), Duration::from_millis(900));
        // …and not to another scope's: the cheap one stays at its own.
        assert_eq!(cold_pad(scope), COLD_PAD);
        // Never held back longer than MAX_PAD.
        record_known_user_check(0x5eed_0003, 5, Duration::from_secs(60));
        assert_eq!(known_user_check(0x5eed_0003, 5), Some(MAX_PAD));
        assert_eq!(cold_pad(0x5eed_0003), MAX_PAD);
        // A scope that timed nothing takes the process's dearest.
        assert_eq!(cold_pad(0x5eed_0099), MAX_PAD);
    }
}
