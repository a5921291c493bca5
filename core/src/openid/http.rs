//! Described HTTP requests and the responses shells hand back: the core never fetches.
//!
//! A shell performs [`HttpRequest`] as described — without following
//! redirects (the core follows them itself, so it sees every hop), within
//! `timeout_ms`, reading at most `max_response_bytes` — and returns an
//! [`HttpResponse`], or [`HttpResponse::failed`] when there was no answer.
//! The core refuses non-http(s) URLs and, unless allowed, IP literals in
//! private ranges and `localhost`; shells must also refuse private
//! addresses that names resolve to (LWPx::ParanoidAgent's advice).

use std::net::IpAddr;
use url::{Host, Url};

/// The HTTP method of a described request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET (discovery).
    Get,
    /// POST with a form body (associate, check_authentication).
    Post,
}

impl Method {
    /// `GET` or `POST`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// A request the shell must perform on the core's behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// GET or POST.
    pub method: Method,
    /// Absolute http(s) URL.
    pub url: String,
    /// Headers to send (`Accept`, `Content-Type`).
    pub headers: Vec<(String, String)>,
    /// The body (POST only), `application/x-www-form-urlencoded`.
    pub body: Option<String>,
    /// Give up after this many milliseconds.
    pub timeout_ms: u64,
    /// Read at most this many body bytes; a longer body may be truncated or refused.
    pub max_response_bytes: usize,
    /// Whether the shell may connect to private, loopback or link-local addresses.
    pub allow_private_addresses: bool,
}

/// What came back: status, headers (any case), body; status 0 when nothing came back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpResponse {
    /// HTTP status, or 0 for "no response" (refused, timed out, too large).
    pub status: u16,
    /// Response headers as received.
    pub headers: Vec<(String, String)>,
    /// The body, at most the request's `max_response_bytes`.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A response with a status and a body, no headers.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> HttpResponse {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// The answer to give when the fetch failed (no connection, timeout, refused address).
    pub fn failed() -> HttpResponse {
        HttpResponse::default()
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: &str, value: &str) -> HttpResponse {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The first header named `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The media type of `Content-Type`, lower-cased, without parameters.
    pub fn media_type(&self) -> Option<String> {
        let ct = self.header("content-type")?;
        let media = ct.split(';').next().unwrap_or_default().trim();
        Some(media.to_ascii_lowercase())
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// True for a redirect status that carries a `Location` (301, 302, 303, 307, 308).
    pub fn redirect_location(&self) -> Option<&str> {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
            .then(|| self.header("location"))
            .flatten()
    }
}

/// Limits for every fetch the core describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// Per-request timeout in milliseconds (default 10 s, LWP's default in the seed).
    pub timeout_ms: u64,
    /// Largest body read (default 1 MiB).
    pub max_response_bytes: usize,
    /// Redirects followed per discovery document (default 5).
    pub max_redirects: u8,
    /// Allow private, loopback and link-local targets (default false; tests on loopback set it).
    pub allow_private_addresses: bool,
}

impl Default for FetchLimits {
    fn default() -> Self {
        FetchLimits {
            timeout_ms: 10_000,
            max_response_bytes: 1 << 20,
            max_redirects: 5,
            allow_private_addresses: false,
        }
    }
}

impl FetchLimits {
    /// A GET of `url` with these limits.
    pub fn get(&self, url: &Url, accept: &str) -> HttpRequest {
        HttpRequest {
            method: Method::Get,
            url: url.to_string(),
            headers: vec![("Accept".into(), accept.into())],
            body: None,
            timeout_ms: self.timeout_ms,
            max_response_bytes: self.max_response_bytes,
            allow_private_addresses: self.allow_private_addresses,
        }
    }

    /// A form POST of `pairs` to `url` with these limits.
    pub fn post_form<'a, I>(&self, url: &Url, pairs: I) -> HttpRequest
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        HttpRequest {
            method: Method::Post,
            url: url.to_string(),
            headers: vec![(
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: Some(body),
            timeout_ms: self.timeout_ms,
            max_response_bytes: self.max_response_bytes,
            allow_private_addresses: self.allow_private_addresses,
        }
    }

    /// Whether the core may describe a request to `url`: http(s), and no private IP literal unless allowed.
    pub fn permits(&self, url: &Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("refusing to fetch a {}: URL", url.scheme()));
        }
        // `https://bank.example@evil.example/` is evil.example: never a URL to act on or show.
        if !url.username().is_empty() || url.password().is_some() {
            return Err("refusing to fetch a URL with user information (user@host)".into());
        }
        if self.allow_private_addresses {
            return Ok(());
        }
        let private = match url.host() {
            Some(Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
            Some(Host::Domain(d)) => {
                // `localhost` or `*.localhost`, any case, trailing dots ignored (no allocation).
                let d = d.trim_end_matches('.').as_bytes();
                let localhost = |s: &[u8]| s.eq_ignore_ascii_case(b"localhost");
                localhost(d)
                    || d.len()
                        .checked_sub(10)
                        .and_then(|i| d.get(i..))
                        .is_some_and(|t| {
                            t.first() == Some(&b'.') && t.get(1..).is_some_and(localhost)
                        })
            }
            None => true,
        };
        if private {
            Err(format!("refusing to fetch private address {url}"))
        } else {
            Ok(())
        }
    }
}

/// True for addresses a paranoid agent refuses: loopback, private, link-local, unspecified,
/// multicast, CGNAT, ULA, and the special-purpose IPv4 blocks no public host uses (IETF
/// protocol assignments 192.0.0.0/24 — a cloud metadata address among them —, benchmarking
/// 198.18.0.0/15, reserved 240.0.0.0/4) — also when an IPv6 address carries such an IPv4 one
/// (mapped, NAT64, 6to4).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[..3] == [192, 0, 0]
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let v4 = |hi: u16, lo: u16| {
                let [a, b] = hi.to_be_bytes();
                let [c, d] = lo.to_be_bytes();
                IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d))
            };
            // IPv4 behind IPv6: mapped (::ffff:0:0/96), well-known NAT64 (64:ff9b::/96), 6to4
            // (2002::/16) and the deprecated IPv4-compatible form (::/96; `::1` is 0.0.0.1 there).
            if let Some(v4) = v6.to_ipv4() {
                return is_private(IpAddr::V4(v4));
            }
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_private(v4(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_private(v4(s[1], s[2]));
            }
            // SIIT's IPv4-translated form (::ffff:0:a.b.c.d, RFC 2765).
            if s[..6] == [0, 0, 0, 0, 0xffff, 0] {
                return is_private(v4(s[6], s[7]));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                // Site-local (deprecated) and local-use NAT64 (64:ff9b:1::/48, RFC 8215).
                || (s[0] & 0xffc0) == 0xfec0
                || s[..3] == [0x64, 0xff9b, 1]
                // Teredo (2001::/32: a relay reaches the IPv4 address it hides), the
                // discard-only block (100::/64) and documentation (2001:db8::/32).
                || s[..2] == [0x2001, 0]
                || s[..4] == [0x100, 0, 0, 0]
                || s[..2] == [0x2001, 0xdb8]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn private_targets_are_refused_unless_allowed() {
        let strict = FetchLimits::default();
        for bad in [
            "http://127.0.0.1/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fd00::1]/",
            "http://localhost:8080/",
            "http://a.localhost./",
            "http://A.LocalHost/",
            "http://LOCALHOST:9/",
            "http://0.0.0.0/",
            "file:///etc/passwd",
            "gopher://example.com/",
        ] {
            assert!(strict.permits(&url(bad)).is_err(), "{bad}");
        }
        assert!(strict.permits(&url("https://op.example.com/")).is_ok());
        let lax = FetchLimits {
            allow_private_addresses: true,
            ..FetchLimits::default()
        };
        for userinfo in ["https://bank.example@op.example/", "https://:x@op.example/"] {
            assert!(strict.permits(&url(userinfo)).is_err(), "{userinfo}");
            assert!(lax.permits(&url(userinfo)).is_err(), "{userinfo}");
        }
        assert!(strict.permits(&url("http://8.8.8.8/")).is_ok());
        // IPv6 forms that carry an IPv4 address a gateway reaches (NAT64, 6to4), the
        // deprecated IPv4-compatible and site-local ones, the local-use NAT64 prefix.
        for bad in [
            "http://[64:ff9b::a00:1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[64:ff9b:1::808:808]/",
            "http://[2002:a9fe:a9fe::1]/",
            "http://[2002:7f00:1::]/",
            "http://[::7f00:1]/",
            "http://[fec0::1]/",
            // Special-purpose IPv4 blocks (Oracle Cloud Classic's metadata is 192.0.0.192).
            "http://192.0.0.192/",
            "http://198.18.0.1/",
            "http://198.19.255.254/",
            "http://240.0.0.1/",
            "http://[::ffff:192.0.0.192]/",
            "http://[64:ff9b::c612:1]/",
            "http://[::ffff:0:7f00:1]/",
            "http://[::ffff:0:a9fe:a9fe]/",
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
            "http://[100::1]/",
            "http://[2001:db8::1]/",
        ] {
            assert!(strict.permits(&url(bad)).is_err(), "{bad}");
        }
        // Their neighbours are public.
        for good in [
            "http://192.0.1.1/",
            "http://198.17.255.1/",
            "http://198.20.0.1/",
        ] {
            assert!(strict.permits(&url(good)).is_ok(), "{good}");
        }
        for good in [
            "http://[64:ff9b::808:808]/",
            "http://[2002:808:808::1]/",
            "http://[2001:4860:4860::8888]/",
        ] {
            assert!(strict.permits(&url(good)).is_ok(), "{good}");
        }
        assert!(strict.permits(&url("http://notlocalhost/")).is_ok());
        assert!(strict.permits(&url("http://localhost.example/")).is_ok());
        let loose = FetchLimits {
            allow_private_addresses: true,
            ..strict
        };
        assert!(loose.permits(&url("http://127.0.0.1:9/")).is_ok());
        assert!(loose.permits(&url("file:///etc/passwd")).is_err());
    }

    #[test]
    fn response_helpers() {
        let r = HttpResponse::new(302, "")
            .with_header("LOCATION", "/next")
            .with_header("Content-Type", "Application/XRDS+XML; charset=utf-8");
        assert_eq!(r.redirect_location(), Some("/next"));
        assert_eq!(r.media_type().as_deref(), Some("application/xrds+xml"));
        assert!(!r.is_success());
        assert_eq!(HttpResponse::new(200, "").redirect_location(), None);
        assert_eq!(HttpResponse::failed().status, 0);
    }

    #[test]
    fn post_body_is_form_encoded() {
        let r = FetchLimits::default().post_form(
            &url("https://op.example/"),
            [
                ("openid.mode", "check_authentication"),
                ("openid.sig", "a+b="),
            ],
        );
        assert_eq!(
            r.body.as_deref(),
            Some("openid.mode=check_authentication&openid.sig=a%2Bb%3D")
        );
        assert_eq!(r.method.as_str(), "POST");
    }
}
