//! The request as a shell saw it: method, path, headers, peer and TLS facts.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use crate::cert::Certificate;
use crate::proxy::is_proxy_header;

/// What the TLS layer said about the client certificate (mod_ssl's `SSL_CLIENT_VERIFY`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CertVerify {
    /// No certificate was presented (`NONE`).
    #[default]
    None,
    /// The certificate chained to a trusted CA (`SUCCESS`).
    Success,
    /// Presented but not verified against a CA (`GENEROUS`, `optional_no_ca`): only pinned certificates may pass.
    Generous,
    /// Verification failed (`FAILED:<reason>`).
    Failed(String),
}

impl CertVerify {
    /// Parses mod_ssl's `SSL_CLIENT_VERIFY` value (`NONE`, `SUCCESS`, `GENEROUS`, `FAILED:…`).
    pub fn from_mod_ssl(value: &str) -> CertVerify {
        match value {
            "SUCCESS" => CertVerify::Success,
            "GENEROUS" => CertVerify::Generous,
            "NONE" | "" => CertVerify::None,
            other => CertVerify::Failed(other.strip_prefix("FAILED:").unwrap_or(other).to_string()),
        }
    }
}

/// TLS facts about the client certificate, from the local TLS stack or a trusted proxy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsFacts {
    /// Verification state.
    pub verify: CertVerify,
    /// The leaf certificate, PEM or DER, when the shell has it.
    pub cert: Option<Vec<u8>>,
    /// The same leaf already parsed by the shell (e.g. kept for its connection): when set, the
    /// engine reads it and neither parses nor hashes `cert` again.
    pub parsed_cert: Option<Arc<Certificate>>,
    /// The certificates the client sent above its leaf (Envoy's XFCC `Chain=`), read only to
    /// verify a [`CertVerify::Generous`] leaf against `trusted_cas`. Each entry is one DER
    /// certificate or PEM text with one or more `CERTIFICATE` blocks (so `Chain=` may be passed
    /// whole); any order; a copy of the leaf among them is ignored. Empty when the shell has none.
    pub chain: Vec<Vec<u8>>,
    /// The subject DN string as the TLS stack rendered it, when the certificate itself is not available.
    pub subject_dn: Option<String>,
    /// The issuer DN string as the TLS stack rendered it.
    pub issuer_dn: Option<String>,
    /// Whether these facts came from a trusted reverse proxy's headers rather than our own TLS.
    pub via_proxy: bool,
}

impl TlsFacts {
    /// Whether the leaf certificate itself is at hand (raw or parsed), not only its DN.
    pub fn has_cert(&self) -> bool {
        self.cert.is_some() || self.parsed_cert.is_some()
    }
}

/// Request headers the core reads, besides the proxy headers ([`is_proxy_header`]).
const READ_HEADERS: [&str; 12] = [
    "cookie",
    "accept",
    "x-requested-with",
    "host",
    "origin",
    "sec-fetch-site",
    "sec-fetch-mode",
    "sec-fetch-dest",
    "sec-purpose",
    "purpose",
    "ping-from",
    "ping-to",
];

/// Whether the core ever reads request header `name` (case-insensitive): a shell may leave every
/// other header out of [`RequestFacts::headers`] and save copying it.
pub fn is_read_header(name: &str) -> bool {
    READ_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) || is_proxy_header(name)
}

/// One request, as far as authentication and authorization need to know it. The text fields
/// may borrow the server's own copies for `'a` (httpd's request pool), so a shell need not copy
/// them; `RequestFacts<'static>` owns everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestFacts<'a> {
    /// HTTP method (`GET`, `POST`, …).
    pub method: Cow<'a, str>,
    /// URL path, not decoded (`/app/page`).
    pub path: Cow<'a, str>,
    /// Raw query string without the `?`, if any.
    pub query: Option<Cow<'a, str>>,
    /// Request headers in arrival order; names compare case-insensitively. Only those
    /// [`is_read_header`] accepts are ever looked at.
    pub headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Address of the TCP peer (the proxy, when there is one): whether proxy headers are
    /// believed is decided on this address only.
    pub peer: Option<IpAddr>,
    /// The end user's address when the server learned it from a proxy it trusts for that
    /// (httpd's mod_remoteip): tickets are bound to it. `None`: the peer is the user.
    pub client: Option<IpAddr>,
    /// Whether the connection to us is TLS.
    pub secure: bool,
    /// Client certificate facts from our own TLS layer.
    pub tls: TlsFacts,
}

impl RequestFacts<'_> {
    /// The same facts owning all their text, for a shell that keeps them past its borrow.
    pub fn into_owned(self) -> RequestFacts<'static> {
        let own = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
        RequestFacts {
            method: own(self.method),
            path: own(self.path),
            query: self.query.map(own),
            headers: self
                .headers
                .into_iter()
                .map(|(n, v)| (own(n), own(v)))
                .collect(),
            peer: self.peer,
            client: self.client,
            secure: self.secure,
            tls: self.tls,
        }
    }

    /// The address tickets are bound to (`AuthRsBindAddress`): [`Self::client`], else the peer.
    pub fn client_address(&self) -> Option<IpAddr> {
        self.client.or(self.peer)
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// Every value of the header `name` (case-insensitive), in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// True when the client looks like an API client rather than a browser
    /// (`Accept: application/json` or an `X-Requested-With` header): it gets 401, not a redirect.
    pub fn is_api_client(&self) -> bool {
        self.header("x-requested-with").is_some()
            || self
                .header_all("accept")
                .any(|v| v.to_ascii_lowercase().contains("application/json"))
    }

    /// True when a browser says another site made this request (`Sec-Fetch-Site: cross-site`:
    /// its image, link or form); browsers never let a page set that header.
    pub fn is_cross_site_fetch(&self) -> bool {
        self.header("sec-fetch-site")
            .is_some_and(|site| site.eq_ignore_ascii_case("cross-site"))
    }

    /// True when a sibling subdomain's page made this request as a sub-resource
    /// (`Sec-Fetch-Site: same-site`, but not a top-level navigation to a document): its
    /// `<img>`, fetch or `<iframe>`, not the user following a link.
    pub fn is_sibling_subresource(&self) -> bool {
        let is = |name: &str, value: &str| {
            self.header(name)
                .is_some_and(|v| v.eq_ignore_ascii_case(value))
        };
        is("sec-fetch-site", "same-site")
            && !(is("sec-fetch-mode", "navigate") && is("sec-fetch-dest", "document"))
    }

    /// True when a browser says this request loads a passive part of a page — an image, a
    /// script, a style sheet, media, a font, an `<object>` — rather than a page, a frame or a
    /// script's own fetch (`Sec-Fetch-Dest` other than `document`, `iframe`, `frame` or
    /// `empty`). Such a load never means the user asked for it: `<img src="/LOGOUT">` in user
    /// content on the site itself is `same-origin`.
    pub fn is_subresource_load(&self) -> bool {
        self.header("sec-fetch-dest").is_some_and(|dest| {
            !["document", "iframe", "frame", "empty"]
                .iter()
                .any(|d| dest.trim().eq_ignore_ascii_case(d))
        })
    }

    /// True when the browser fetches this on its own rather than for the user: a prefetch or
    /// prerender (`Sec-Purpose`/`Purpose: prefetch`, `<link rel=prefetch>`, speculation rules)
    /// or a hyperlink-auditing ping (`<a ping>`: `Ping-From`/`Ping-To`).
    pub fn is_speculative_or_ping(&self) -> bool {
        self.header_all("sec-purpose")
            .chain(self.header_all("purpose"))
            .any(|v| v.to_ascii_lowercase().contains("prefetch"))
            || self.header("ping-from").is_some()
            || self.header("ping-to").is_some()
    }

    /// Path plus `?query`, the way a `destination` is built from it.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) if !q.is_empty() => format!("{}?{}", self.path, q),
            _ => self.path.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_values() {
        assert_eq!(CertVerify::from_mod_ssl("SUCCESS"), CertVerify::Success);
        assert_eq!(CertVerify::from_mod_ssl("NONE"), CertVerify::None);
        assert_eq!(CertVerify::from_mod_ssl("GENEROUS"), CertVerify::Generous);
        assert_eq!(
            CertVerify::from_mod_ssl("FAILED:certificate has expired"),
            CertVerify::Failed("certificate has expired".into())
        );
    }

    #[test]
    fn read_headers() {
        for n in [
            "Cookie",
            "accept",
            "X-Requested-With",
            "host",
            "origin",
            "Sec-Fetch-Site",
            // Logout and refresh tell a sibling's link to a page from its <img> by these.
            "sec-fetch-mode",
            "Sec-Fetch-Dest",
        ] {
            assert!(is_read_header(n), "{n}");
        }
        // Every spelling of a proxy header: a shell that dropped one would hide a spoofing attempt.
        for n in [
            "ssl_client_s_dn",
            "SSL-CLIENT-CERT",
            "x-forwarded-client-cert",
            "HTTPS",
        ] {
            assert!(is_read_header(n), "{n}");
        }
        for n in [
            "user-agent",
            "x-authrs-user",
            "referer",
            "authorization",
            "cookie2",
            "",
        ] {
            assert!(!is_read_header(n), "{n}");
        }
    }

    #[test]
    fn api_clients() {
        let mut r = RequestFacts::default();
        assert!(!r.is_api_client());
        r.headers
            .push(("Accept".into(), "text/html, Application/JSON".into()));
        assert!(r.is_api_client());
        let mut r = RequestFacts::default();
        r.headers
            .push(("X-Requested-With".into(), "XMLHttpRequest".into()));
        assert!(r.is_api_client());
    }
}
