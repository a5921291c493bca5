//! The request hooks: spoofed-header stripping, check_authn, recognize-user fixups.

use crate::apr::{log_r, table_get_static, table_set_static, table_unset, LogLevel};
use crate::ffi;
use crate::request::{auth_name, dir_config, facts, is_authrs, now};
use authrs_core::engine::{decide, recognize, Stores};
use authrs_core::proxy::{is_proxy_header, is_reserved_header, TrustedProxies, PROXY_HEADERS};
use authrs_core::reason::Reason;
use std::ffi::c_int;

const DECLINED: c_int = ffi::DECLINED as c_int;

/// post_read_request (really first): removes client-certificate headers (`SSL_CLIENT_*`, XFCC)
/// that a peer outside `AuthRsTrustedProxies` sent, and client copies of `X-AuthRs-*`, before
/// any other module, auth hook, handler or CGI can read them.
pub fn strip_spoofed(r: &mut ffi::request_rec) -> c_int {
    let Some(dc) = dir_config(r) else {
        return DECLINED;
    };
    let mut present: Vec<String> = Vec::new();
    let mut reserved: Vec<String> = Vec::new();
    // SAFETY: headers_in lives as long as the request; nothing is copied unless it matches.
    unsafe {
        crate::apr::table_for_each(r.headers_in, |k, _| {
            if !may_be_guarded(k.to_bytes()) {
                return;
            }
            if let Ok(name) = k.to_str() {
                if is_proxy_header(name) {
                    present.push(name.to_string());
                } else if is_reserved_header(name) {
                    reserved.push(name.to_string());
                }
            }
        })
    };
    if present.is_empty() && reserved.is_empty() {
        return DECLINED;
    }
    let merged = dc.merged();
    let family = merged.trusted_proxy_headers().parse().unwrap_or_default();
    let trusted = TrustedProxies::from_nets(merged.trusted_proxies().to_vec()).with_headers(family);
    // The TCP peer, not useragent_ip: mod_remoteip rewrites that from the client's own
    // X-Forwarded-For, which would let a client name a trusted proxy.
    let peer = crate::request::tcp_peer(r);
    // X-AuthRs-* are ours to set (RequestHeader set … %{AUTHRS_USER}e for proxied apps): a
    // client's copy never reaches the application; only a trusted proxy that is an authrs
    // Envoy in front (it asserts certificates with XFCC) may pass its own, and only spelt with
    // dashes — an nginx or HAProxy in front (`ssl`) passes its client's copies through, and
    // Envoy passes a client's `X_AuthRs_User` untouched.
    let from_authrs_envoy = peer.is_some_and(|p| trusted.contains(p))
        && trusted.headers() == authrs_core::proxy::ProxyHeaders::Xfcc;
    reserved.retain(|h| !from_authrs_envoy || h.contains('_'));
    if !reserved.is_empty() {
        for h in &reserved {
            // SAFETY: headers_in is live.
            unsafe { table_unset(r.headers_in, h) };
        }
        let hint = if peer.is_some_and(|p| trusted.contains(p)) && !from_authrs_envoy {
            // An authrs Envoy in front with the default `ssl` family: say what to set.
            " (from a trusted proxy of the ssl family: only if that proxy is an authrs Envoy, set AuthRsTrustedProxyHeaders xfcc; an nginx or HAProxy passes its clients' copies)"
        } else {
            ""
        };
        let msg = format!(
            "AUTHRS0204: removed request headers only authrs may set: {}{hint}",
            reserved.join(", ")
        );
        // SAFETY: r is live.
        unsafe { crate::apr::log_r_quiet(r, LogLevel::Warn, &msg) };
    }
    // Even a trusted proxy asserts only its own family; the other family is the client's.
    present.retain(|h| !trusted.believes(peer, h));
    if present.is_empty() {
        return DECLINED;
    }
    for h in &present {
        // SAFETY: headers_in is live.
        unsafe { table_unset(r.headers_in, h) };
    }
    let msg = format!(
        "AUTHRS0201: removed client-certificate headers not asserted by a trusted proxy (peer {}): {}",
        peer.map(|p: std::net::IpAddr| p.to_string())
            .unwrap_or_else(|| "unknown".into()),
        present.join(", ")
    );
    // SAFETY: r is live.
    unsafe { crate::apr::log_r_quiet(r, LogLevel::Warn, &msg) };
    DECLINED
}

/// Whether header `name` could be a proxy header or one of ours, by its first letter: this hook
/// runs on every request, and most headers (`User-Agent`, `Accept`, `Cookie`, `Connection`) are
/// ruled out without a full comparison.
fn may_be_guarded(name: &[u8]) -> bool {
    let Some(first) = name.first() else {
        return false;
    };
    first.eq_ignore_ascii_case(&b'x')
        || PROXY_HEADERS.iter().any(|h| {
            h.as_bytes()
                .first()
                .is_some_and(|f| f.eq_ignore_ascii_case(first))
        })
}

/// check_authn for `AuthType AuthRs`.
pub fn check_authn(r: &mut ffi::request_rec) -> c_int {
    if !is_authrs(r) {
        return DECLINED;
    }
    let Some(dc) = dir_config(r) else {
        return DECLINED;
    };
    if cfg!(feature = "test-panic") && dc.test_panic() {
        // Test builds only: proves a panic becomes a 500 and the worker lives on.
        #[allow(clippy::panic)]
        {
            panic!("AuthRsTestPanic: injected panic");
        }
    }
    let now = now();
    let built = match crate::policy::for_request(r, dc, auth_name(r).as_deref(), now) {
        Ok(b) => b,
        Err(status) => return status,
    };
    let req = facts(r, &built.policy);
    let d = if crate::revocation::enabled() {
        let mut cache = crate::revocation::SoCache { r };
        decide(
            &built.policy,
            &req,
            now,
            &mut Stores {
                revocations: Some(&mut cache),
            },
        )
    } else {
        decide(&built.policy, &req, now, &mut Stores::default())
    };
    crate::apply::apply(r, d, built.auth_name.as_deref())
}

/// force_authn: mod_authz_core's access-phase pass (before any authentication) grants
/// `Require valid-user` / `Require user …` to whatever `r->user` holds, and mod_ssl's
/// `SSLUserName` sets it in its access hook — httpd would then skip authentication, so authrs
/// (CRLs, pinning, the user map, ticket revocation) would never run. At an `AuthType AuthRs`
/// location with a user already set, authentication is forced: authrs decides, and its
/// identity replaces that user (or the request is refused as any other).
pub fn force_authn(r: &mut ffi::request_rec) -> c_int {
    if !r.user.is_null() && is_authrs(r) {
        ffi::OK as c_int
    } else {
        DECLINED
    }
}

/// insert_error_filter: httpd's own `Require` refused a user authrs authenticated (403, or 401
/// without `AuthzSendForbiddenOnFailure On`). The Envoy filter answers `forbidden` there; so
/// does httpd: `X-AuthRs-Reason` and `AUTHRS_REASON`.
pub fn insert_error_filter(r: &mut ffi::request_rec) {
    if refused_by_require(r) {
        mark_forbidden(r, r.subprocess_env);
    }
}

/// Whether `r` is a 403 (or mod_authz_core's default 401) that httpd's authorization gave a user
/// our check_authn accepted at an `AuthType AuthRs` location (our own refusals have said why
/// already, and never with a user set). One made after authorization passed (a handler's, an
/// application's through `ProxyErrorOverride`) is not: it says nothing about the user.
fn refused_by_require(r: &ffi::request_rec) -> bool {
    (r.status == ffi::HTTP_FORBIDDEN as c_int || r.status == ffi::HTTP_UNAUTHORIZED as c_int)
        && is_authrs(r)
        && crate::apply::identity(r).is_some()
        && !crate::apply::authorized(r)
        // SAFETY: err_headers_out is live for the request.
        && unsafe { table_get_static(r.err_headers_out, c"X-AuthRs-Reason") }.is_none()
}

/// Sends `X-AuthRs-Reason: forbidden` with `r`'s response and sets `AUTHRS_REASON` in `env`.
fn mark_forbidden(r: &ffi::request_rec, env: *mut ffi::apr_table_t) {
    let code = Reason::Forbidden.code();
    // SAFETY: r's pool and tables, and env (a table of r's pool), are live for the request.
    unsafe {
        table_set_static(r.pool, r.err_headers_out, c"X-AuthRs-Reason", code);
        table_set_static(r.pool, env, c"AUTHRS_REASON", code);
    }
}

/// An ErrorDocument (internal redirect) or subrequest sees the `AUTHRS_REASON` of the request
/// that caused it, unprefixed (httpd renames the original's `REDIRECT_AUTHRS_REASON`): the login
/// page reads one name, as with AuthCookie's AuthCookieReason.
fn inherit_reason(r: &mut ffi::request_rec) {
    // SAFETY: prev and main are NULL or live requests of this connection that outlive r.
    let (prev, main) = unsafe { (r.prev.as_ref(), r.main.as_ref()) };
    let Some(from) = prev.or(main) else {
        return;
    };
    // SAFETY: subprocess_env is live for the request.
    if unsafe { table_get_static(r.subprocess_env, c"AUTHRS_REASON") }.is_some() {
        return;
    }
    if prev.is_some() && refused_by_require(from) {
        // ErrorDocument 403: insert_error_filter does not run for the original request.
        mark_forbidden(from, r.subprocess_env);
        return;
    }
    // SAFETY: from's subprocess_env is live (its pool outlives r).
    if let Some(reason) = unsafe { table_get_static(from.subprocess_env, c"AUTHRS_REASON") } {
        // SAFETY: r's pool and subprocess_env are live.
        unsafe { table_set_static(r.pool, r.subprocess_env, c"AUTHRS_REASON", &reason) };
    }
}

/// fixups: a ticket refreshed by check_authn is sent now that authorization has passed. With
/// `AuthRsRecognizeUser On`, a valid ticket or certificate on an unprotected page
/// still sets the user (AuthCookie's recognize_user); nothing is ever refused here. Every
/// ErrorDocument and subrequest inherits `AUTHRS_REASON` here.
pub fn fixups(r: &mut ffi::request_rec) -> c_int {
    crate::apply::send_deferred_ticket(r);
    if !r.prev.is_null() {
        crate::apply::keep_ticket_private_after_redirects(r);
    }
    crate::apply::keep_from_shared_caches(r);
    recognize_user(r);
    // After recognizing: a user recognized on the error page must not hide why it is shown.
    if !r.prev.is_null() || !r.main.is_null() {
        inherit_reason(r);
    }
    DECLINED
}

/// `AuthRsRecognizeUser On`: sets the user of a valid ticket or certificate, refusing nothing.
fn recognize_user(r: &mut ffi::request_rec) {
    if !r.user.is_null() {
        return;
    }
    let Some(dc) = dir_config(r) else {
        return;
    };
    if !dc.recognize_user() {
        return;
    }
    // A subrequest (a listing's entries, an SSI include) of a page that already tried this
    // request's ticket under the same configuration and recognized nobody recognizes nobody
    // either: not again per subrequest (each would verify, look the revocation up, log).
    // SAFETY: main is NULL or the live request that made this subrequest.
    if let Some(main) = unsafe { r.main.as_ref() } {
        if main.user.is_null()
            && dir_config(main).is_some_and(|m| m.same_chain(dc))
            && auth_name(main) == auth_name(r)
        {
            return;
        }
    }
    let now = now();
    // An unusable configuration is logged (AUTHRS0101); the public page stays anonymous.
    let Ok(built) = crate::policy::for_request(r, dc, auth_name(r).as_deref(), now) else {
        return;
    };
    let req = facts(r, &built.policy);
    // Revoked tickets stay revoked on public pages too (and are never refreshed there).
    let d = if crate::revocation::enabled() {
        let mut cache = crate::revocation::SoCache { r };
        recognize(
            &built.policy,
            &req,
            now,
            &mut Stores {
                revocations: Some(&mut cache),
            },
        )
    } else {
        recognize(&built.policy, &req, now, &mut Stores::default())
    };
    crate::apply::log_notes(r, &d);
    if let Some(id) = d.identity {
        // SAFETY: subprocess_env is live; the value is copied before set_identity unsets it.
        let reason = unsafe { table_get_static(r.subprocess_env, c"AUTHRS_REASON") }
            .map(std::borrow::Cow::into_owned);
        let user = id.user.clone();
        crate::apply::set_identity(r, id);
        // The page passed without a user; with this one its Require may say no (`Require not
        // user mallory` beside `Require all granted`, which httpd skips when nobody is logged
        // in). Such a user stays anonymous here, and their session is not refreshed — the
        // Envoy filter refuses them (403).
        // SAFETY: r is live; the authz hooks read r->user and our identity slot.
        let verdict = unsafe { authorize_quietly(r) };
        if verdict == ffi::OK as c_int || verdict == DECLINED {
            crate::apply::mark_authorized(r);
        } else {
            crate::apply::clear_identity(r);
            if let Some(reason) = reason {
                // SAFETY: r's pool and table are live.
                unsafe { table_set_static(r.pool, r.subprocess_env, c"AUTHRS_REASON", &reason) };
            }
            let msg = format!(
                "AUTHRS0227: {user} not recognized: this location's Require does not grant them (authz answered {verdict})"
            );
            // SAFETY: r is live.
            unsafe { log_r(r, LogLevel::Info, &msg) };
            return;
        }
    }
    if let Some(c) = d.set_cookie.as_deref().filter(|c| !c.is_empty()) {
        // A sliding ticket refreshed on a public page, as on a protected one.
        crate::apply::add_refreshed_ticket(r, c);
    }
}

/// Runs httpd's authorization (`auth_checker`) for a user recognized on a public page, without
/// its side effects on that page: mod_authz_core logs a refusal at error level (AH01630/AH01631,
/// which fail2ban's apache-auth filter counts) and a 401 adds `WWW-Authenticate`; the page is
/// served either way, so logging stays below error and the response headers are put back. A
/// refusal also puts the environment back: what a provider set for the user it then refused
/// (mod_authnz_ldap's `AUTHORIZE_*`, a Lua provider's variables) must not reach the page, which
/// sees that user as anonymous.
///
/// # Safety
/// `r` is a live request.
pub(crate) unsafe fn authorize_quietly(r: &mut ffi::request_rec) -> c_int {
    // SAFETY: forwarded contract; the copies live in r's pool.
    unsafe {
        let quiet =
            ffi::apr_palloc(r.pool, std::mem::size_of::<ffi::ap_logconf>()) as *mut ffi::ap_logconf;
        if quiet.is_null() {
            return ffi::HTTP_INTERNAL_SERVER_ERROR as c_int;
        }
        quiet.write(ffi::ap_logconf {
            module_levels: std::ptr::null_mut(),
            level: ffi::APLOG_CRIT as c_int,
        });
        let (log, out, err, env) = (r.log, r.headers_out, r.err_headers_out, r.subprocess_env);
        let copy = |t: *mut ffi::apr_table_t| {
            if t.is_null() {
                t
            } else {
                ffi::apr_table_copy(r.pool, t)
            }
        };
        let (out_copy, err_copy, env_copy) = (copy(out), copy(err), copy(env));
        r.log = quiet;
        let verdict = ffi::ap_run_auth_checker(r);
        r.log = log;
        let refused = verdict != ffi::OK as c_int && verdict != DECLINED;
        // The same table objects, their contents put back: an ErrorDocument's request shares
        // err_headers_out with the request it serves, and what is added later must land there.
        r.headers_out = out;
        r.err_headers_out = err;
        if refused {
            r.subprocess_env = env;
        }
        for (table, copy, restore) in [
            (out, out_copy, true),
            (err, err_copy, true),
            (env, env_copy, refused),
        ] {
            if !restore || table.is_null() || copy.is_null() {
                continue;
            }
            ffi::apr_table_clear(table);
            crate::apr::table_for_each(copy, |k, v| {
                ffi::apr_table_addn(table, k.as_ptr(), v.as_ptr());
            });
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::may_be_guarded;
    use authrs_core::proxy::{is_proxy_header, is_reserved_header, PROXY_HEADERS};

    #[test]
    fn the_first_letter_filter_keeps_every_guarded_header() {
        // A header this filter dropped would reach the application unstripped.
        let mut names: Vec<String> = PROXY_HEADERS.iter().map(|h| h.to_string()).collect();
        names.extend(
            PROXY_HEADERS
                .iter()
                .map(|h| h.to_ascii_lowercase().replace('_', "-")),
        );
        names.extend(["X-AuthRs-User", "x_authrs_roles", "X-AUTHRS-DN"].map(String::from));
        for n in &names {
            assert!(is_proxy_header(n) || is_reserved_header(n), "{n}");
            assert!(may_be_guarded(n.as_bytes()), "{n}");
        }
        for n in ["User-Agent", "accept", "Cookie", "Connection", ""] {
            assert!(!may_be_guarded(n.as_bytes()), "{n}");
        }
    }
}
