//! `request_rec` → `RequestFacts`, and the per-request glue around it.

use crate::apr::{cstr_text, str_from};
use crate::dirconf::DirConfig;
use crate::ffi;
use authrs_core::config::Method;
use authrs_core::engine::Policy;
use authrs_core::proxy::is_proxy_header;
use authrs_core::request::{is_read_header, CertVerify, RequestFacts, TlsFacts};
use std::borrow::Cow;
use std::ffi::{c_void, CStr};

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

/// A mod_ssl variable for this request, borrowed from the request pool (`None` when unset, empty
/// or without mod_ssl).
pub fn ssl_var<'r>(r: &'r ffi::request_rec, name: &CStr) -> Option<Cow<'r, str>> {
    // SAFETY: r is live; ap_ssl_var_lookup returns NULL or a string in r's pool, which outlives 'r.
    let v = unsafe {
        ffi::ap_ssl_var_lookup(
            r.pool,
            r.server,
            r.connection,
            r as *const _ as *mut _,
            name.as_ptr(),
        )
    };
    // SAFETY: NULL or NUL-terminated, alive as long as the request.
    unsafe { str_from(v) }.filter(|s| !s.is_empty())
}

/// Builds the engine's view of the request, borrowing r's strings: hold it only while nothing
/// else runs — not across a call into other modules' hooks or anything that rewrites r's
/// strings in place (`ap_unescape_url` on the path) — then decide and drop it (the login and
/// logout handlers keep an owned copy, `into_owned`). Only what the policy can use is gathered: TLS
/// variables when it has the certificate method, the TCP peer when something reads it (trusted
/// proxies, the warning about spoofed proxy headers), the client address for address-bound
/// tickets.
pub fn facts<'r>(r: &'r ffi::request_rec, policy: &Policy) -> RequestFacts<'r> {
    let mut headers = Vec::with_capacity(4);
    let mut proxy_headers = false;
    // SAFETY: headers_in and its strings live in pools that outlive the request (the request's,
    // a parent request's, an HTTP/2 stream's); APR's unset/set/merge move pointers and never
    // free or write over a string, and nothing runs while the facts live that writes these
    // strings in place (see the contract above). Only the headers the core reads are taken,
    // borrowed, not copied.
    unsafe {
        crate::apr::table_for_each(r.headers_in, |k: &'r CStr, v: &'r CStr| {
            if let Ok(name) = k.to_str() {
                if is_read_header(name) {
                    proxy_headers = proxy_headers || is_proxy_header(name);
                    headers.push((Cow::Borrowed(name), cstr_text(v)));
                }
            }
        })
    };
    // Proxy trust is judged on the TCP peer (never on useragent_ip, which mod_remoteip rewrites
    // from X-Forwarded-For); tickets are bound to the end user's address, useragent_ip.
    let wants_peer = !policy.trusted_proxies.is_empty() || proxy_headers;
    // SAFETY: r's string fields are NULL or pool strings alive for the request.
    let (method, path, query, peer, client) = unsafe {
        (
            str_from(r.method).unwrap_or_default(),
            str_from(r.parsed_uri.path).unwrap_or(Cow::Borrowed("/")),
            str_from(r.args),
            if wants_peer { tcp_peer(r) } else { None },
            if policy.bind_address {
                str_from(r.useragent_ip).and_then(|s| s.parse().ok())
            } else {
                None
            },
        )
    };
    let secure = ssl_var(r, c"HTTPS").is_some_and(|v| v.eq_ignore_ascii_case("on"));
    let tls = if secure && policy.methods.contains(&Method::Cert) {
        let var = |name: &CStr| ssl_var(r, name).map(Cow::into_owned);
        let cert = var(c"SSL_CLIENT_CERT").map(String::into_bytes);
        TlsFacts {
            verify: CertVerify::from_mod_ssl(
                ssl_var(r, c"SSL_CLIENT_VERIFY").as_deref().unwrap_or(""),
            ),
            parsed_cert: cert.as_deref().and_then(crate::certs::parsed),
            cert,
            subject_dn: var(c"SSL_CLIENT_S_DN"),
            issuer_dn: var(c"SSL_CLIENT_I_DN"),
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
        client,
        secure,
        tls,
    }
}

/// The address of the TCP peer (`r->connection->client_ip`): the proxy when there is one, even
/// after mod_remoteip has rewritten `r->useragent_ip` from a forwarded-for header. Whether
/// proxy headers are believed is decided on this address only.
pub fn tcp_peer(r: &ffi::request_rec) -> Option<std::net::IpAddr> {
    // SAFETY: r->connection is NULL or the live connection of the request; client_ip is NULL or
    // a string in the connection's pool.
    unsafe {
        r.connection
            .as_ref()
            .and_then(|c| str_from(c.client_ip))
            .and_then(|s| s.parse().ok())
    }
}

/// The AuthName of this request's location, if any, borrowed from the configuration.
pub fn auth_name(r: &ffi::request_rec) -> Option<Cow<'_, str>> {
    // SAFETY: r is live; ap_auth_name returns NULL or a string of the configuration, which
    // outlives the request.
    unsafe { str_from(ffi::ap_auth_name(r as *const _ as *mut _)) }
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
