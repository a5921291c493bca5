//! `Decision` → httpd: user, environment, headers, status. The one place a verdict becomes a status.

use crate::apr::{
    log_r, table_add, table_set, table_set_static, table_unset, table_unset_static, LogLevel,
};
use crate::ffi;
use authrs_core::engine::{Decision, Level, Verdict};
use authrs_core::identity::Identity;
use std::ffi::{c_int, c_void};

/// Writes the engine's log notes with their stable ids (flood-prone ones at most once a second).
pub fn log_notes(r: &ffi::request_rec, d: &Decision) {
    for n in &d.notes {
        let level = match n.level {
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        // SAFETY: r is live for the hook.
        // Flood-prone ids (a cross-site login POST, a logout from an <img>) at most once a second.
        unsafe {
            crate::apr::log_r_quiet(r, level, &format!("{}: {} [{}]", n.id, n.message, uri(r)))
        };
    }
}

fn uri(r: &ffi::request_rec) -> String {
    // SAFETY: r.uri is NULL or a pool string.
    unsafe { crate::apr::str_from(r.uri) }
        .map(|s| s.into_owned())
        .unwrap_or_default()
}

/// Sets `r->user`, `AUTH_TYPE`, the `AUTHRS_*` variables (each one authrs owns is set or
/// removed, so nothing else can pose as us), and remembers the identity for our
/// authz providers (in the request's module config slot, not in anything a client can write).
pub fn set_identity(r: &mut ffi::request_rec, id: Identity) {
    // SAFETY: r's pools and tables are live for the request; values are copied into r.pool and
    // the keys are static strings.
    unsafe {
        let env = r.subprocess_env;
        // Setting replaces every earlier copy (SetEnv, a previous pass); the others are removed
        // first: APR indexes a table by the key's first letter, so removing after our own
        // `AUTHRS_*` sets would scan them all.
        if id.dn.is_none() {
            table_unset_static(env, c"AUTHRS_DN");
        }
        if id.issuer_dn.is_none() {
            table_unset_static(env, c"AUTHRS_ISSUER_DN");
        }
        if id.roles.is_empty() {
            table_unset_static(env, c"AUTHRS_ROLES");
        }
        table_unset_static(env, c"AUTHRS_REASON");
        let user = crate::apr::pstrdup(r.pool, &id.user);
        r.user = user;
        if !r.main.is_null() && !r.notes.is_null() {
            // A lookup subrequest (mod_dir's index, mod_negotiation's variant) may become the
            // request by a fast redirect, which copies its notes but not its user.
            ffi::apr_table_setn(r.notes, SUBREQUEST_USER.as_ptr(), user);
        }
        // A response made for this user must not be stored by mod_cache, whose quick handler
        // would hand it to the next visitor before any authentication hook runs (a cookie
        // login has no Authorization header, all mod_cache itself looks for).
        no_cache(env);
        keep_main_requests_from_caches(r);
        r.ap_auth_type = c"AuthRs".as_ptr().cast_mut();
        ffi::apr_table_setn(env, c"AUTHRS_USER".as_ptr(), user);
        table_set_static(r.pool, env, c"AUTHRS_METHOD", id.method.as_str());
        if let Some(dn) = &id.dn {
            table_set_static(r.pool, env, c"AUTHRS_DN", dn);
        }
        if let Some(dn) = &id.issuer_dn {
            table_set_static(r.pool, env, c"AUTHRS_ISSUER_DN", dn);
        }
        if !id.roles.is_empty() {
            table_set_static(r.pool, env, c"AUTHRS_ROLES", &id.roles.to_list());
        }
        if let Some(slot) = slot(r) {
            *slot = crate::dirconf::into_pool(
                r.pool,
                Established {
                    identity: id,
                    refreshed: None,
                    authorized: false,
                    per_dir: r.per_dir_config,
                    sent: None,
                },
            );
        }
    }
}

/// What check_authn established for a request (our request_config slot).
struct Established {
    identity: Identity,
    /// A refreshed ticket's `Set-Cookie`, sent only once authorization has passed
    /// ([`send_deferred_ticket`], from fixups): a user httpd's `Require` then refuses must not
    /// have their session kept alive by the 403 (as the core clears it on its own Forbidden).
    refreshed: Option<String>,
    /// Whether httpd's authorization has passed (our type_checker ran): a 401 or 403 made later,
    /// by the handler or the application, is not a `Require` refusing the user.
    authorized: bool,
    /// The section the user was identified under (`r->per_dir_config` then): a fast redirect
    /// (mod_dir, mod_negotiation) moves the request to another one, keeping the user.
    per_dir: *mut ffi::ap_conf_vector_t,
    /// The refreshed ticket's `Set-Cookie` this request's response carries, if any.
    sent: Option<String>,
}

/// Sets the `no-cache` variable in `env` (a request's subprocess_env), as `SetEnv no-cache`
/// does, which keeps mod_cache from storing the response: `r->no_cache` would also make httpd
/// add `Expires: <now>`, so browsers kept no protected page either.
///
/// # Safety
/// `env` is NULL or a live table; the key and value are static.
unsafe fn no_cache(env: *mut ffi::apr_table_t) {
    // SAFETY: forwarded contract.
    unsafe {
        if !env.is_null() && ffi::apr_table_get(env, c"no-cache".as_ptr()).is_null() {
            ffi::apr_table_setn(env, c"no-cache".as_ptr(), c"1".as_ptr());
        }
    }
}

/// The request's [`Established`], if set, to read.
fn established_ref(r: &ffi::request_rec) -> Option<&Established> {
    let slot = slot(r)?;
    // SAFETY: the slot is NULL or an Established placed by set_identity in this request's pool.
    unsafe { (*slot as *const Established).as_ref() }
}

/// The request's [`Established`] slot, if set.
fn established(r: &mut ffi::request_rec) -> Option<&mut Established> {
    let slot = slot(r)?;
    // SAFETY: the slot is NULL or an Established placed by set_identity in this request's pool,
    // used by this request's thread only.
    unsafe { (*slot as *mut Established).as_mut() }
}

/// Our module's entry in the request's `request_config` (NULL until set_identity fills it), or
/// `None` when the request has no config vector.
fn slot(r: &ffi::request_rec) -> Option<*mut *mut c_void> {
    // SAFETY: request_config is NULL or httpd's per-request vector, one entry per module.
    (!r.request_config.is_null())
        .then(|| unsafe { (r.request_config as *mut *mut c_void).add(crate::glue::module_index()) })
}

/// fixups: a request whose user authrs identified — here or, through an internal redirect to
/// the same section (a CGI's `Location:`, mod_rewrite), in the request before it, whose user
/// httpd copies without running check_authn, and whose variables it renames `REDIRECT_*` —
/// gets the `no-cache` variable that keeps mod_cache from storing its response.
pub fn keep_from_shared_caches(r: &mut ffi::request_rec) {
    if r.user.is_null() || r.ap_auth_type.is_null() {
        return;
    }
    inherit_identity(r);
    // SAFETY: ap_auth_type is non-NULL: our static string or a pool string of this request.
    if unsafe { std::ffi::CStr::from_ptr(r.ap_auth_type) } != c"AuthRs" {
        return;
    }
    // SAFETY: subprocess_env is live for the request.
    unsafe { no_cache(r.subprocess_env) };
    keep_main_requests_from_caches(r);
}

/// A subrequest that authenticated a user (a public page's `<!--#include virtual -->` of a
/// protected one) puts that user's content in the page of the request that made it, which is
/// the one mod_cache stores: that request, and every one above it, gets `no-cache` too, and
/// loses mod_cache's save filter. mod_cache decides at the page's first bytes (an SSI page has
/// passed its text before the include, or an empty brigade), so `no-cache` alone may come too
/// late; without its filter the entry it began is never committed.
fn keep_main_requests_from_caches(r: &ffi::request_rec) {
    let mut up = r.main;
    // SAFETY: main is NULL or the live request that made this subrequest (it outlives r), and
    // so on up; static key and value.
    while let Some(m) = unsafe { up.as_ref() } {
        // SAFETY: as above: m's table and filter chain live as long as m; a filter is removed
        // after its successor was read (removal unlinks it, the record stays in the pool).
        unsafe {
            no_cache(m.subprocess_env);
            let mut f = m.output_filters;
            while let Some(filter) = f.as_ref() {
                let next = filter.next;
                let name = filter
                    .frec
                    .as_ref()
                    .filter(|rec| !rec.name.is_null())
                    .map(|rec| std::ffi::CStr::from_ptr(rec.name).to_bytes());
                if std::ptr::eq(filter.r, m)
                    && name.is_some_and(|n| {
                        n.eq_ignore_ascii_case(b"CACHE_SAVE")
                            || n.eq_ignore_ascii_case(b"CACHE_SAVE_SUBREQ")
                    })
                {
                    ffi::ap_remove_output_filter(f);
                }
                f = next;
            }
        }
        up = m.main;
    }
}

/// An internal redirect to the same section (a CGI's `Location: /app/…`, a per-directory
/// RewriteRule): httpd copies the user and skips check_authn, so the new request has neither
/// our identity nor its `AUTHRS_*` variables (renamed `REDIRECT_AUTHRS_*`) — the application
/// would see `REMOTE_USER` alone. The identity of the request before is set again (not its
/// refreshed ticket, sent there already; never for an ErrorDocument).
fn inherit_identity(r: &mut ffi::request_rec) {
    if identity(r).is_some() || serves_an_error(r) {
        return;
    }
    // SAFETY: prev is NULL or the live request this one was redirected from (its pool, which
    // holds its identity, outlives this request's).
    let Some(prev) = (unsafe { r.prev.as_ref() }) else {
        return;
    };
    if prev.user != r.user {
        return;
    }
    if let Some(id) = identity(prev).cloned() {
        set_identity(r, id);
        // In fixups: authorization passed for this request (httpd copied the user).
        mark_authorized(r);
    }
}

/// fixups (authorization passed): adds the refreshed ticket check_authn kept back, once.
pub fn send_deferred_ticket(r: &mut ffi::request_rec) {
    if let Some(c) = established(r).and_then(|e| e.refreshed.take()) {
        add_refreshed_ticket(r, &c);
    }
}

/// type_checker, right after authorization passed for `r`'s user (a 401 or 403 from here on —
/// ModSecurity, mod_rewrite's `[F]`, a handler, the application — is not a `Require` refusing
/// them).
pub fn mark_authorized(r: &mut ffi::request_rec) {
    if let Some(e) = established(r) {
        e.authorized = true;
    }
}

/// Whether `r`'s user passed httpd's authorization (see [`mark_authorized`]).
pub fn authorized(r: &ffi::request_rec) -> bool {
    established_ref(r).is_some_and(|e| e.authorized)
}

/// Undoes [`set_identity`]: no user, no `AUTHRS_*` identity variables, no identity for our
/// authz providers.
pub fn clear_identity(r: &mut ffi::request_rec) {
    // SAFETY: r's tables are live for the request; the keys are static strings.
    unsafe {
        r.user = std::ptr::null_mut();
        r.ap_auth_type = std::ptr::null_mut();
        if !r.notes.is_null() {
            // Else a fast redirect would copy the note into the main request, and restore_user
            // would give it back the user this subrequest just refused.
            ffi::apr_table_unset(r.notes, SUBREQUEST_USER.as_ptr());
        }
        for key in [
            c"AUTHRS_USER",
            c"AUTHRS_METHOD",
            c"AUTHRS_DN",
            c"AUTHRS_ISSUER_DN",
            c"AUTHRS_ROLES",
        ] {
            table_unset_static(r.subprocess_env, key);
        }
        if let Some(slot) = slot(r) {
            *slot = std::ptr::null_mut();
        }
    }
}

/// The identity our check_authn established for this request, if any.
pub fn identity(r: &ffi::request_rec) -> Option<&Identity> {
    established_ref(r).map(|e| &e.identity)
}

/// Adds a refreshed ticket's `Set-Cookie` to a response the application answers (protected or
/// public page), with `Cache-Control: private`: a shared cache (mod_cache, a CDN) must never
/// keep it and hand it to the next visitor.
///
/// Never on an ErrorDocument: it shares `err_headers_out` with the request refused, whose user
/// must not have their session kept alive by the error (a page under another section may
/// authenticate them again).
pub fn add_refreshed_ticket(r: &mut ffi::request_rec, set_cookie: &str) {
    if serves_an_error(r) {
        return;
    }
    // SAFETY: r's pool and err_headers_out are live for the request; values are copied.
    unsafe {
        table_add(r.pool, r.err_headers_out, "Set-Cookie", set_cookie);
        table_add(r.pool, r.err_headers_out, "Cache-Control", "private");
        keep_private(r);
    }
    if let Some(e) = established(r) {
        e.sent = Some(set_cookie.to_string());
    }
}

/// Keeps the response that carries (or follows) a refreshed ticket out of shared caches: the
/// application's own caching headers come later, so AUTHRS_PRIVATE merges them when they are
/// final; the note is in the request's notes, which a fast redirect (mod_dir, mod_negotiation)
/// copies into the main request and an internal redirect reaches through `prev`; mod_cache's
/// save filter runs before AUTHRS_PRIVATE, so `no-cache` keeps it from storing the response.
///
/// # Safety
/// r's tables are live; the filter is registered by the module.
unsafe fn keep_private(r: &mut ffi::request_rec) {
    // SAFETY: forwarded contract; static key and value.
    unsafe {
        ffi::authrs_add_private_filter(r);
        ffi::apr_table_setn(r.notes, TICKET_SENT.as_ptr(), c"1".as_ptr());
        no_cache(r.subprocess_env);
    }
}

/// The note [`set_identity`] leaves on a subrequest it identified (see [`restore_user`]).
const SUBREQUEST_USER: &std::ffi::CStr = c"authrs-subrequest-user";

/// fixups, really last: a request that became an identified subrequest by a fast redirect
/// (mod_dir's `DirectoryIndex`, MultiViews), now under that subrequest's `AuthType AuthRs`
/// section, gets its user back (`REMOTE_USER`, the access log); its `AUTHRS_*` variables came
/// with the environment.
pub fn restore_user(r: &mut ffi::request_rec) {
    if !r.user.is_null() || r.notes.is_null() || !crate::request::is_authrs(r) {
        return;
    }
    // SAFETY: notes is live; the value is a string of the subrequest's pool, which a fast
    // redirect leaves to live as long as this request.
    unsafe {
        let user = ffi::apr_table_get(r.notes, SUBREQUEST_USER.as_ptr());
        if !user.is_null() {
            r.user = user.cast_mut();
            r.ap_auth_type = c"AuthRs".as_ptr().cast_mut();
        }
    }
}

/// fixups, after mod_dir's fast redirect and before mod_headers: a request whose user authrs
/// identified under one section and that a fast redirect (mod_dir's `DirectoryIndex`,
/// MultiViews) then moved to another keeps that user — httpd copies the page's configuration,
/// not its authorization. Unless the lookup identified a user under the new section itself, its
/// Require is asked, quietly; a user it refuses (`Require not user mallory` beside `Require all
/// granted`) is served the page as anonymous, as a request for the page itself would recognize
/// nobody, and their refreshed ticket is taken off the response.
pub fn recheck_after_fast_redirect(r: &mut ffi::request_rec) {
    if r.user.is_null() || !r.main.is_null() {
        return;
    }
    let Some(e) = established_ref(r) else {
        return;
    };
    if e.per_dir == r.per_dir_config {
        return;
    }
    // SAFETY: r.user is a NUL-terminated string of the request's pool.
    let ours = unsafe { std::ffi::CStr::from_ptr(r.user) }.to_bytes() == e.identity.user.as_bytes();
    // SAFETY: notes is NULL or live; the key is static.
    let decided = !r.notes.is_null()
        && unsafe { !ffi::apr_table_get(r.notes, SUBREQUEST_USER.as_ptr()).is_null() };
    if !ours || decided {
        return;
    }
    let user = e.identity.user.clone();
    // SAFETY: r is live (a fixup of this request).
    let verdict = unsafe { crate::hooks::authorize_quietly(r) };
    if verdict == ffi::OK as c_int || verdict == ffi::DECLINED as c_int {
        let now = r.per_dir_config;
        if let Some(e) = established(r) {
            e.per_dir = now;
        }
        return;
    }
    let sent = established(r).and_then(|e| e.sent.take());
    clear_identity(r);
    if let Some(cookie) = sent {
        for table in [r.headers_out, r.err_headers_out] {
            // SAFETY: the tables are live for the request; entries are pool strings.
            unsafe { remove_value(r.pool, table, c"Set-Cookie", &cookie) };
        }
    }
    let msg = format!(
        "AUTHRS0227: {user} not recognized: the page a fast redirect (DirectoryIndex, MultiViews) chose does not grant them (authz answered {verdict})"
    );
    // A refusal is quiet; an error (a provider's backend down) is not, and fails closed.
    let level =
        if verdict == ffi::HTTP_UNAUTHORIZED as c_int || verdict == ffi::HTTP_FORBIDDEN as c_int {
            LogLevel::Info
        } else {
            LogLevel::Warn
        };
    // SAFETY: r is live.
    unsafe { log_r(r, level, &msg) };
}

/// Removes the entries `key: value` (key compared as APR does, ignoring case) from table `t`.
///
/// # Safety
/// `p` and `t` (NULL allowed) are live; `t`'s entries are strings of `p` or a longer-lived pool.
unsafe fn remove_value(
    p: *mut ffi::apr_pool_t,
    t: *mut ffi::apr_table_t,
    key: &std::ffi::CStr,
    value: &str,
) {
    if t.is_null() {
        return;
    }
    // SAFETY: forwarded contract; the copy keeps the same string pointers, re-added in order.
    unsafe {
        let copy = ffi::apr_table_copy(p, t);
        if copy.is_null() {
            return;
        }
        ffi::apr_table_clear(t);
        crate::apr::table_for_each(copy, |k, v| {
            let drop = k.to_bytes().eq_ignore_ascii_case(key.to_bytes())
                && v.to_bytes() == value.as_bytes();
            if !drop {
                ffi::apr_table_addn(t, k.as_ptr(), v.as_ptr());
            }
        });
    }
}

/// The note [`add_refreshed_ticket`] leaves on a request whose response carries a ticket.
const TICKET_SENT: &std::ffi::CStr = c"authrs-ticket-sent";

/// fixups: a request an internal redirect made from one that attached a refreshed ticket
/// (mod_rewrite's per-directory rules, a CGI's local `Location:`, an ErrorDocument) shares its
/// `err_headers_out`, ticket included, but starts without its output filters: AUTHRS_PRIVATE
/// again.
pub fn keep_ticket_private_after_redirects(r: &mut ffi::request_rec) {
    let mut prev = r.prev;
    // SAFETY: prev is NULL or a live request of the same connection (httpd keeps the chain);
    // its notes table lives as long as it does.
    while let Some(p) = unsafe { prev.as_ref() } {
        let sent = !p.notes.is_null()
            // SAFETY: as above.
            && !unsafe { ffi::apr_table_get(p.notes, TICKET_SENT.as_ptr()) }.is_null();
        if sent {
            // SAFETY: r's tables are live; the filter is registered by the module.
            unsafe { keep_private(r) };
            return;
        }
        prev = p.prev;
    }
}

/// A response carrying a refreshed ticket, as the application made it: one `Cache-Control`
/// with its directives but `public` and `s-maxage`, plus `private`, and no CDN-only caching
/// header (as the Envoy filter does), so no shared cache keeps the ticket whichever header it
/// reads.
pub fn make_private(r: &mut ffi::request_rec) {
    let mut values: Vec<String> = Vec::new();
    // SAFETY: r's tables and pool are live for the request; values are copied out first.
    unsafe {
        for table in [r.headers_out, r.err_headers_out] {
            if table.is_null() {
                continue;
            }
            crate::apr::table_for_each(table, |k, v| {
                if k.to_bytes().eq_ignore_ascii_case(b"Cache-Control") {
                    values.push(crate::apr::cstr_text(v).into_owned());
                }
            });
        }
        let merged = authrs_core::caching::private_cache_control(values.iter().map(String::as_str));
        for table in [r.headers_out, r.err_headers_out] {
            if table.is_null() {
                continue;
            }
            table_unset(table, "Cache-Control");
            for name in authrs_core::caching::CDN_CACHE_HEADERS {
                table_unset(table, name);
            }
        }
        table_set(r.pool, r.err_headers_out, "Cache-Control", &merged);
    }
}

/// Whether `r` is an internal redirect made for an error status (an ErrorDocument), directly or
/// through further redirects.
fn serves_an_error(r: &ffi::request_rec) -> bool {
    let mut prev = r.prev;
    // SAFETY: prev is NULL or a live request of the same connection (httpd keeps the chain).
    while let Some(p) = unsafe { prev.as_ref() } {
        if p.status >= 400 {
            return true;
        }
        prev = p.prev;
    }
    false
}

/// Applies a decision and returns the hook's status code.
pub fn apply(r: &mut ffi::request_rec, mut d: Decision, realm: Option<&str>) -> c_int {
    log_notes(r, &d);
    // SAFETY: r's tables and pool are live for the request; all strings are pool copies.
    unsafe {
        for h in &d.spoofed_headers {
            table_unset(r.headers_in, h);
        }
        if let Some(c) = d.set_cookie.as_deref().filter(|c| !c.is_empty()) {
            if d.verdict != Verdict::Allow {
                table_add(r.pool, r.err_headers_out, "Set-Cookie", c);
            }
        }
        if let Some(reason) = d.reason() {
            table_set_static(r.pool, r.subprocess_env, c"AUTHRS_REASON", reason.code());
            // The same reason code the Envoy filter sends: scripts and tests read one header.
            table_set(r.pool, r.err_headers_out, "X-AuthRs-Reason", reason.code());
        }
    }
    match &d.verdict {
        Verdict::Allow => {
            let refreshed = d.set_cookie.take().filter(|c| !c.is_empty());
            if let Some(id) = d.identity.take() {
                set_identity(r, id);
            }
            // Kept for fixups, which run only once httpd's authorization has passed.
            match (refreshed, established(r)) {
                (Some(c), Some(e)) => e.refreshed = Some(c),
                (Some(c), None) => add_refreshed_ticket(r, &c),
                (None, _) => {}
            }
            ffi::OK as c_int
        }
        Verdict::Redirect {
            location, status, ..
        } => {
            // SAFETY: as above. Location goes in headers_out: ap_send_error_response keeps it.
            unsafe {
                table_set(r.pool, r.headers_out, "Location", location);
                table_set(r.pool, r.err_headers_out, "Cache-Control", "no-store");
            }
            *status as c_int
        }
        Verdict::Unauthorized { .. } => {
            let realm = realm.unwrap_or("authrs").replace(['"', '\\'], "");
            // SAFETY: as above.
            unsafe {
                table_set(
                    r.pool,
                    r.err_headers_out,
                    "WWW-Authenticate",
                    &format!("AuthRs realm=\"{realm}\""),
                )
            };
            ffi::HTTP_UNAUTHORIZED as c_int
        }
        Verdict::Forbidden { .. } => ffi::HTTP_FORBIDDEN as c_int,
        Verdict::BadRequest { .. } => ffi::HTTP_BAD_REQUEST as c_int,
        Verdict::Error { message } => {
            // SAFETY: r is live.
            unsafe {
                log_r(
                    r,
                    LogLevel::Error,
                    &format!(
                        "AUTHRS0100: refused (internal error): {message} [{}]",
                        uri(r)
                    ),
                )
            };
            ffi::HTTP_INTERNAL_SERVER_ERROR as c_int
        }
    }
}
