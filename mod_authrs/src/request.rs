//! `request_rec` → `RequestFacts`, and the per-request glue around it.

use crate::apr::{cstring, str_from};
use crate::dirconf::DirConfig;
use crate::ffi;
use authrs_core::config::Method;
use authrs_core::request::{is_read_header, CertVerify, RequestFacts, TlsFacts};
use std::ffi::c_void;

/// The merged per-directory config of this request, if the module has one.
pub fn dir_config(r: &ffi::request_rec) -> Option<&DirConfig> {
    if r.per_dir_config.is_null() {
        return None;
    }
    // SAFETY: per_dir_config is httpd's config vector, one slot per module; ours holds a
    // DirConfig created by create/merge and alive for the request.
    unsafe {
        let slot = *(r.per_dir_config as *const *const c_void).add(crate::glue::module_index());
        (slot as *const DirConfig).as_ref()
    }
}

/// A mod_ssl variable for this request ("" when unset or without mod_ssl).
pub fn ssl_var(r: &ffi::request_rec, name: &str) -> Option<String> {
    let n = cstring(name);
    // SAFETY: r is live; ap_ssl_var_lookup returns NULL or a pool string.
    let v = unsafe {
        ffi::ap_ssl_var_lookup(
            r.pool,
            r.server,
            r.connection,
            r as *const _ as *mut _,
            n.as_ptr(),
        )
    };
    // SAFETY: NULL or NUL-terminated.
    unsafe { str_from(v) }
        .map(|s| s.into_owned())
        .filter(|s| !s.is_empty())
}

/// Builds the engine's view of the request; TLS variables only when the policy uses certificates.
pub fn facts(r: &ffi::request_rec, methods: &[Method]) -> RequestFacts {
    // SAFETY: r's string fields are NULL or pool strings alive for the request.
    let (method, path, query, peer) = unsafe {
        (
            str_from(r.method)
                .map(|s| s.into_owned())
                .unwrap_or_default(),
            str_from(r.parsed_uri.path)
                .map(|s| s.into_owned())
                .unwrap_or_else(|| "/".into()),
            str_from(r.args).map(|s| s.into_owned()),
            str_from(r.useragent_ip).and_then(|s| s.parse().ok()),
        )
    };
    let mut headers = Vec::with_capacity(4);
    // SAFETY: headers_in lives as long as the request; only the headers the core reads are
    // copied (copying every header would cost more than the whole decision).
    unsafe {
        crate::apr::table_for_each(r.headers_in, |k, v| {
            if let Ok(name) = k.to_str() {
                if is_read_header(name) {
                    headers.push((name.to_string(), v.to_string_lossy().into_owned()));
                }
            }
        })
    };
    let secure = ssl_var(r, "HTTPS").is_some_and(|v| v.eq_ignore_ascii_case("on"));
    let tls = if secure && methods.contains(&Method::Cert) {
        TlsFacts {
            verify: CertVerify::from_mod_ssl(&ssl_var(r, "SSL_CLIENT_VERIFY").unwrap_or_default()),
            cert: ssl_var(r, "SSL_CLIENT_CERT").map(String::into_bytes),
            subject_dn: ssl_var(r, "SSL_CLIENT_S_DN"),
            issuer_dn: ssl_var(r, "SSL_CLIENT_I_DN"),
            via_proxy: false,
            // mod_ssl verified (or, under optional_no_ca, did not verify) the chain itself.
            chain: Vec::new(),
        }
    } else {
        TlsFacts::default()
    };
    RequestFacts {
        method,
        path,
        query,
        headers,
        peer,
        secure,
        tls,
    }
}

/// The AuthName of this request's location, if any.
pub fn auth_name(r: &ffi::request_rec) -> Option<String> {
    // SAFETY: r is live; ap_auth_name returns NULL or a config string.
    unsafe { str_from(ffi::ap_auth_name(r as *const _ as *mut _)) }.map(|s| s.into_owned())
}

/// Whether this request's location says `AuthType AuthRs` (any case), without copying.
pub fn is_authrs(r: &ffi::request_rec) -> bool {
    // SAFETY: r is live; ap_auth_type returns NULL or a config string.
    let t = unsafe { ffi::ap_auth_type(r as *const _ as *mut _) };
    // SAFETY: non-NULL and NUL-terminated.
    !t.is_null()
        && unsafe { std::ffi::CStr::from_ptr(t) }
            .to_bytes()
            .eq_ignore_ascii_case(b"AuthRs")
}

/// Unix seconds, the wall clock (the core never reads it).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
