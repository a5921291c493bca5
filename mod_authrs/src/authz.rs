//! Our authz providers — `Require role|cert-dn|authn-method …` — evaluated by the core's words,
//! so they compose with httpd's own `<RequireAll>`/`<RequireAny>`/`<RequireNone>` and `Require not`.

use crate::apr::{pstrdup, str_from};
use crate::ffi;
use authrs_core::authz::{AuthzResult, RequireWord};
use std::ffi::{c_char, c_void};

fn status(r: AuthzResult) -> ffi::authz_status {
    match r {
        AuthzResult::Granted => ffi::authz_status::AUTHZ_GRANTED,
        AuthzResult::Denied => ffi::authz_status::AUTHZ_DENIED,
        AuthzResult::Neutral => ffi::authz_status::AUTHZ_NEUTRAL,
        AuthzResult::GeneralError => ffi::authz_status::AUTHZ_GENERAL_ERROR,
        AuthzResult::DeniedNoUser => ffi::authz_status::AUTHZ_DENIED_NO_USER,
    }
}

/// Splits a Require line's arguments with httpd's own quoting rules.
///
/// # Safety
/// `pool` live; `line` NULL or NUL-terminated.
unsafe fn args(pool: *mut ffi::apr_pool_t, line: *const c_char) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    if line.is_null() {
        return Ok(out);
    }
    let mut p = line;
    // SAFETY: p walks the NUL-terminated line; each word is copied into pool.
    unsafe {
        loop {
            // Whitespace is skipped here, so every word ap_getword_conf returns was written,
            // an empty quoted one ("") included — the core refuses that, it is never dropped.
            while (*p as u8).is_ascii_whitespace() {
                p = p.add(1);
            }
            if *p == 0 {
                break;
            }
            let w = ffi::ap_getword_conf(pool, &mut p);
            if w.is_null() {
                break;
            }
            // A word that is not UTF-8 (a Latin-1 httpd.conf) would be read lossily, U+FFFD
            // standing for any byte: refused instead.
            match std::ffi::CStr::from_ptr(w).to_str() {
                Ok(s) => out.push(s.to_string()),
                Err(_) => return Err("a Require argument is not UTF-8".to_string()),
            }
        }
    }
    Ok(out)
}

/// parse_require_line: parse once at config time; a bad line fails `apache2 -t`.
///
/// # Safety
/// Live `cmd`; NUL-terminated `word` and `line`.
pub unsafe fn parse(
    cmd: &mut ffi::cmd_parms,
    word: *const c_char,
    line: *const c_char,
    parsed: &mut *const c_void,
) -> *const c_char {
    // SAFETY: forwarded contract.
    let word = unsafe { str_from(word) }
        .map(|s| s.into_owned())
        .unwrap_or_default();
    // SAFETY: temp_pool is live during configuration.
    let args = match unsafe { args(cmd.temp_pool, line) } {
        Ok(args) => args,
        // SAFETY: cmd.pool is live.
        Err(e) => return unsafe { pstrdup(cmd.pool, &e) },
    };
    match RequireWord::parse(&word, &args) {
        Ok(w) => {
            // SAFETY: cmd.pool lives as long as the configuration that holds the pointer.
            *parsed = unsafe { crate::dirconf::into_pool(cmd.pool, w) };
            crate::glue::NO_ERROR
        }
        // SAFETY: cmd.pool is live.
        Err(e) => unsafe { pstrdup(cmd.pool, &e.to_string()) },
    }
}

/// check_authorization: the identity our check_authn set. Without one: "no user" before
/// authentication (and for SSLUserName's user at an authrs location), an error (500,
/// `AUTHRS0104`) for a user another module authenticated, which these words cannot judge.
///
/// # Safety
/// Live request; `parsed` NULL or a RequireWord from `parse`.
pub unsafe fn check(
    r: &mut ffi::request_rec,
    word: *const c_char,
    line: *const c_char,
    parsed: *const c_void,
) -> ffi::authz_status {
    let owned;
    // SAFETY: parsed is NULL or a RequireWord placed in the config pool by parse().
    let rule = match unsafe { (parsed as *const RequireWord).as_ref() } {
        Some(w) => w,
        None => {
            // SAFETY: forwarded contract.
            let (word, args) = unsafe {
                (
                    str_from(word).map(|s| s.into_owned()).unwrap_or_default(),
                    args(r.pool, line),
                )
            };
            let Ok(args) = args else {
                return ffi::authz_status::AUTHZ_GENERAL_ERROR;
            };
            match RequireWord::parse(&word, &args) {
                Ok(w) => {
                    owned = w;
                    &owned
                }
                Err(_) => return ffi::authz_status::AUTHZ_GENERAL_ERROR,
            }
        }
    };
    match crate::apply::identity(r) {
        Some(id) => status(rule.check(Some(id))),
        // Not authenticated yet — or, at an `AuthType AuthRs` location, only named by mod_ssl's
        // SSLUserName before authentication: "no user" makes httpd ask authrs (force_authn).
        None if r.user.is_null() || crate::request::is_authrs(r) => {
            ffi::authz_status::AUTHZ_DENIED_NO_USER
        }
        // A user another module authenticated (AuthType Basic, …): authrs cannot judge it, and
        // a plain "no" would turn into a pass under `Require not role …` (httpd makes a negated
        // denial neutral). Refuse the request loudly instead: the configuration is wrong.
        None => {
            // SAFETY: r is live for the callback.
            unsafe {
                crate::apr::log_r(
                    r,
                    crate::apr::LogLevel::Error,
                    "AUTHRS0104: Require role/cert-dn/authn-method/openid-id need AuthType AuthRs: the user here was authenticated by another module; refused",
                )
            };
            ffi::authz_status::AUTHZ_GENERAL_ERROR
        }
    }
}
