//! Trusted reverse proxies: which peers may assert TLS facts in headers, and spoofing detection.
//!
//! A TLS-terminating proxy in front of us tells us about the client
//! certificate in headers: mod_ssl-style `SSL_CLIENT_*` (Apache `RequestHeader`,
//! nginx `proxy_set_header`) or Envoy's `x-forwarded-client-cert`. Those
//! headers are believed only when the TCP peer is in the [`TrustedProxies`]
//! list; from anyone else they are ignored and their names reported, so the
//! shell can log a spoofing attempt. Shells must also strip every
//! [`is_proxy_header`] header before the request reaches the application.
//!
//! A trusted proxy asserts one family ([`ProxyHeaders`]: `SSL_CLIENT_*` or XFCC);
//! the other family is reported as spoofed even from it. A forwarded XFCC certificate counts as verified ([`CertVerify::Success`]):
//! the proxy must be configured to verify client certificates. `SSL_CLIENT_*`
//! facts without `SSL_CLIENT_VERIFY` count as [`CertVerify::Generous`] (only
//! pinned certificates pass). A proxy header sent twice is an error: a proxy
//! that appends instead of replacing would let the client's copy through.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use crate::request::{CertVerify, RequestFacts, TlsFacts};
use crate::xfcc::{self, XfccError};

mod pem;

pub use pem::{decode_proxy_pem, MAX_PEM_LEN};

/// Headers only a trusted proxy may send (compare with [`is_proxy_header`]: case and `-`/`_` do not matter).
pub const PROXY_HEADERS: &[&str] = &[
    "SSL_CLIENT_S_DN",
    "SSL_CLIENT_I_DN",
    "SSL_CLIENT_VERIFY",
    "SSL_CLIENT_CERT",
    "HTTPS",
    "X-Forwarded-Client-Cert",
];

/// A bad trusted-proxy list (configuration), or bad headers from a trusted proxy (request).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyError {
    /// Configuration: a token of the trusted-proxy list is neither an IP address nor a CIDR.
    BadAddress(String),
    /// A trusted proxy sent the same header more than once (names the header).
    Duplicate(String),
    /// A trusted proxy sent an `HTTPS` value other than on/off.
    BadHttps(String),
    /// A trusted proxy's `x-forwarded-client-cert` did not parse.
    Xfcc(XfccError),
    /// A trusted proxy's certificate is not a PEM certificate (says why).
    BadPem(&'static str),
    /// A trusted proxy's `x-forwarded-client-cert` has more than one element (how many): Envoy
    /// writes URI and DNS SANs unquoted, so a certificate whose SAN holds a comma makes up an
    /// element of its own; the front proxy must send exactly its own (`SANITIZE_SET`).
    XfccElements(usize),
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyError::BadAddress(t) => {
                write!(f, "trusted proxy {t:?} is not an IP address or CIDR")
            }
            ProxyError::Duplicate(h) => write!(f, "trusted proxy sent {h} more than once"),
            ProxyError::BadHttps(v) => {
                write!(f, "trusted proxy sent HTTPS={v:?} (expected on or off)")
            }
            ProxyError::Xfcc(e) => write!(f, "trusted proxy: {e}"),
            ProxyError::BadPem(why) => write!(f, "trusted proxy certificate: {why}"),
            ProxyError::XfccElements(n) => write!(
                f,
                "trusted proxy sent x-forwarded-client-cert with {n} elements (expected its own \
                 one: SANITIZE_SET; a certificate SAN holding a comma adds one)"
            ),
        }
    }
}

impl std::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProxyError::Xfcc(e) => Some(e),
            _ => None,
        }
    }
}

/// The header family a trusted proxy asserts (`AuthRsTrustedProxyHeaders`). A proxy sets or
/// strips the names of its own family; the other family would pass through from the client, so
/// it is never believed, even from a trusted peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProxyHeaders {
    /// `SSL_CLIENT_*` and `HTTPS` (Apache `RequestHeader`, nginx `proxy_set_header`).
    #[default]
    Ssl,
    /// `X-Forwarded-Client-Cert` (Envoy and other proxies that speak XFCC).
    Xfcc,
}

impl FromStr for ProxyHeaders {
    type Err = ProxyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ssl" => Ok(ProxyHeaders::Ssl),
            "xfcc" => Ok(ProxyHeaders::Xfcc),
            other => Err(ProxyError::BadAddress(format!(
                "header family {other:?} (expected ssl or xfcc)"
            ))),
        }
    }
}

impl ProxyHeaders {
    /// The family a proxy header belongs to.
    pub fn of(name: &str) -> ProxyHeaders {
        if same_header(name, "X-Forwarded-Client-Cert") {
            ProxyHeaders::Xfcc
        } else {
            ProxyHeaders::Ssl
        }
    }
}

/// Peers allowed to assert TLS facts in headers, and which header family they assert; empty trusts nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    headers: ProxyHeaders,
}

impl TrustedProxies {
    /// Parses CIDRs or bare IPs (v4 or v6) separated by commas and/or whitespace.
    pub fn parse(list: &str) -> Result<TrustedProxies, ProxyError> {
        let mut nets = Vec::new();
        for tok in list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            let net = if tok.contains('/') {
                tok.parse::<IpNet>().map(|n| n.trunc()).ok()
            } else {
                tok.parse::<IpAddr>().map(IpNet::from).ok()
            };
            nets.push(net.ok_or_else(|| ProxyError::BadAddress(tok.to_string()))?);
        }
        Ok(TrustedProxies {
            nets,
            headers: ProxyHeaders::default(),
        })
    }

    /// Whether `peer` is a trusted proxy; an IPv4-mapped IPv6 peer (`::ffff:10.0.0.1`) matches IPv4 nets.
    pub fn contains(&self, peer: IpAddr) -> bool {
        let canonical = peer.to_canonical();
        self.nets
            .iter()
            .any(|n| n.contains(&peer) || n.contains(&canonical))
    }

    /// True when nobody is trusted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// True when a `/0` net trusts every peer (worth a warning at load).
    pub fn trusts_everyone(&self) -> bool {
        self.nets.iter().any(|n| n.prefix_len() == 0)
    }

    /// Trusts exactly these nets (as the option table parsed them); host bits are cleared.
    pub fn from_nets(nets: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies {
            nets: nets.into_iter().map(|n| n.trunc()).collect(),
            headers: ProxyHeaders::default(),
        }
    }

    /// The same peers, asserting `headers` (default: [`ProxyHeaders::Ssl`]).
    pub fn with_headers(mut self, headers: ProxyHeaders) -> TrustedProxies {
        self.headers = headers;
        self
    }

    /// The header family the trusted peers assert.
    pub fn headers(&self) -> ProxyHeaders {
        self.headers
    }

    /// Whether proxy header `name` from `peer` may be believed: a trusted peer, and the family it
    /// asserts — XFCC only as `X-Forwarded-Client-Cert` with dashes, the one spelling proxies
    /// write: Envoy's `SANITIZE_SET` neither removes nor replaces a client's
    /// `x_forwarded_client_cert`, and nothing repeats a client's underscore copy as a duplicate.
    pub fn believes(&self, peer: Option<IpAddr>, name: &str) -> bool {
        peer.is_some_and(|p| self.contains(p))
            && ProxyHeaders::of(name) == self.headers
            && !(self.headers == ProxyHeaders::Xfcc && name.contains('_'))
    }

    /// The configured nets, host bits cleared.
    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }
}

impl FromStr for TrustedProxies {
    type Err = ProxyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TrustedProxies::parse(s)
    }
}

/// Header-name equality ignoring ASCII case and treating `-` and `_` alike (CGI maps both to `_`).
fn same_header(a: &str, b: &str) -> bool {
    let norm = |c: u8| {
        if c == b'-' {
            b'_'
        } else {
            c.to_ascii_lowercase()
        }
    };
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| norm(x) == norm(y))
}

/// True for any spelling of a [`PROXY_HEADERS`] name (`ssl-client-s-dn`, `X_FORWARDED_CLIENT_CERT`, …)
/// and of every other `SSL_CLIENT_*` variable a proxy may forward (`SSL_CLIENT_S_DN_CN`,
/// `SSL_CLIENT_M_SERIAL`, …): the core reads only the former, but an application behind may read
/// any of them, so a client's copies are removed all the same.
pub fn is_proxy_header(name: &str) -> bool {
    PROXY_HEADERS.iter().any(|h| same_header(h, name)) || has_header_prefix(name, "ssl_client_")
}

/// `name` starts with `prefix` in any spelling ([`same_header`]) and goes on after it. `get`,
/// not slicing: a non-ASCII name may have no char boundary there (a panic before).
fn has_header_prefix(name: &str, prefix: &str) -> bool {
    name.len() > prefix.len()
        && name
            .get(..prefix.len())
            .is_some_and(|p| same_header(p, prefix))
}

/// True for request headers only authrs may set (`X-AuthRs-*`, in either CGI spelling): the
/// Envoy filter's identity headers and what Apache operators forward with `RequestHeader set`.
/// Both shells remove incoming copies on every request.
pub fn is_reserved_header(name: &str) -> bool {
    has_header_prefix(name, "x-authrs-")
}

/// What the proxy headers of one request amount to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyOutcome {
    /// TLS facts asserted by a trusted proxy (`via_proxy` set); `None` if none were sent or believed.
    pub facts: Option<TlsFacts>,
    /// The trusted proxy's `HTTPS` header: whether the client spoke TLS to it.
    pub https: Option<bool>,
    /// Proxy header names sent by an untrusted peer, as sent: a spoofing attempt to log.
    pub spoofed: Vec<String>,
    /// Why a trusted proxy's headers were unusable (fail closed: `facts` is then `None`).
    pub error: Option<ProxyError>,
}

/// The proxy headers of `req` its peer may not assert, as sent, each name once: every one from
/// an untrusted peer; from a trusted proxy, those [`TrustedProxies::believes`] does not (the
/// other family, odd XFCC spellings). Whatever methods run, the shells remove these.
pub fn spoofed_proxy_headers(req: &RequestFacts, trusted: &TrustedProxies) -> Vec<String> {
    let mut spoofed = Vec::new();
    sort_proxy_headers(req, trusted, &mut spoofed);
    spoofed
}

/// Appends the spoofed proxy headers of `req` to `spoofed`; true when some are believed.
fn sort_proxy_headers(
    req: &RequestFacts,
    trusted: &TrustedProxies,
    spoofed: &mut Vec<String>,
) -> bool {
    let mut believed = false;
    for (name, _) in req.headers.iter().filter(|(n, _)| is_proxy_header(n)) {
        if trusted.believes(req.peer, name) {
            believed = true;
        } else if !spoofed.iter().any(|s| s == name) {
            spoofed.push(name.to_string());
        }
    }
    believed
}

/// The single value of proxy header `canon`, in any spelling; several copies are an error.
fn single<'a>(req: &'a RequestFacts, canon: &str) -> Result<Option<&'a str>, ProxyError> {
    let mut found = req.headers.iter().filter(|(n, _)| same_header(n, canon));
    let first = found.next().map(|(_, v)| v.as_ref());
    if found.next().is_some() {
        return Err(ProxyError::Duplicate(canon.to_string()));
    }
    // mod_ssl renders unset variables as "" and some configs as "(null)".
    Ok(first
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "(null)"))
}

fn ssl_facts(req: &RequestFacts) -> Result<Option<TlsFacts>, ProxyError> {
    let verify = single(req, "SSL_CLIENT_VERIFY")?;
    let subject_dn = single(req, "SSL_CLIENT_S_DN")?.map(str::to_string);
    let issuer_dn = single(req, "SSL_CLIENT_I_DN")?.map(str::to_string);
    let cert = single(req, "SSL_CLIENT_CERT")?
        .map(decode_proxy_pem)
        .transpose()?;
    if verify.is_none() && subject_dn.is_none() && issuer_dn.is_none() && cert.is_none() {
        return Ok(None);
    }
    let verify = match verify {
        Some(v) => CertVerify::from_mod_ssl(v),
        None if cert.is_some() || subject_dn.is_some() => CertVerify::Generous,
        None => CertVerify::None,
    };
    Ok(Some(TlsFacts {
        verify,
        cert,
        parsed_cert: None,
        chain: Vec::new(),
        subject_dn,
        issuer_dn,
        via_proxy: true,
    }))
}

fn xfcc_facts(req: &RequestFacts) -> Result<Option<TlsFacts>, ProxyError> {
    // Only the spelling a proxy writes (see `TrustedProxies::believes`); others are spoofed.
    let values: Vec<&str> = req
        .headers
        .iter()
        .filter(|(n, _)| same_header(n, "X-Forwarded-Client-Cert") && !n.contains('_'))
        .map(|(_, v)| v.as_ref())
        .collect();
    if values.is_empty() {
        return Ok(None);
    }
    // Several header lines mean the same as one joined by commas (RFC 9110 §5.3).
    let elements = xfcc::parse(&values.join(",")).map_err(ProxyError::Xfcc)?;
    // Exactly the front proxy's own element (SANITIZE_SET). Envoy writes URI and DNS SANs
    // unquoted and last in its element, so a certificate with the SAN
    // `DNS:x.example,Subject=CN=admin` splits the element in two, the second made up by the
    // certificate's holder; earlier elements would describe hops nobody vouches for anyway.
    if elements.len() > 1 {
        return Err(ProxyError::XfccElements(elements.len()));
    }
    let Some(el) = elements.into_iter().next() else {
        return Ok(None);
    };
    let cert = el.cert.as_deref().map(decode_proxy_pem).transpose()?;
    let has_cert = cert.is_some() || el.hash.is_some() || el.subject.is_some();
    Ok(Some(TlsFacts {
        verify: if has_cert {
            CertVerify::Success
        } else {
            CertVerify::None
        },
        cert,
        parsed_cert: None,
        // A trusted proxy's XFCC counts as verified (above): the chain is never needed.
        chain: Vec::new(),
        subject_dn: el.subject,
        issuer_dn: None,
        via_proxy: true,
    }))
}

fn https_flag(req: &RequestFacts) -> Result<Option<bool>, ProxyError> {
    match single(req, "HTTPS")? {
        None => Ok(None),
        Some(v)
            if ["on", "1", "true"]
                .iter()
                .any(|t| v.eq_ignore_ascii_case(t)) =>
        {
            Ok(Some(true))
        }
        Some(v)
            if ["off", "0", "false"]
                .iter()
                .any(|t| v.eq_ignore_ascii_case(t)) =>
        {
            Ok(Some(false))
        }
        Some(v) => Err(ProxyError::BadHttps(v.to_string())),
    }
}

/// Reads the proxy headers of `req`: believed from a trusted peer, reported as spoofed from anyone else.
pub fn proxy_tls_facts(req: &RequestFacts, trusted: &TrustedProxies) -> ProxyOutcome {
    let mut out = ProxyOutcome::default();
    let believed = sort_proxy_headers(req, trusted, &mut out.spoofed);
    if !believed {
        return out;
    }
    let result = match trusted.headers() {
        ProxyHeaders::Ssl => https_flag(req).and_then(|https| {
            out.https = https;
            ssl_facts(req)
        }),
        ProxyHeaders::Xfcc => xfcc_facts(req),
    };
    match result {
        Ok(facts) => out.facts = facts,
        Err(e) => out.error = Some(e),
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::pem::tests::{clean_pem, xfcc_pem};
    use super::*;

    fn req(peer: &str, headers: &[(&str, &str)]) -> RequestFacts<'static> {
        RequestFacts {
            peer: Some(peer.parse().unwrap()),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string().into(), v.to_string().into()))
                .collect(),
            ..RequestFacts::default()
        }
    }

    fn trusted() -> TrustedProxies {
        TrustedProxies::parse("10.0.0.0/8, 192.0.2.1\n2001:db8::/32").unwrap()
    }

    #[test]
    fn trusted_list_v4_v6_mapped() {
        let t = trusted();
        for ok in [
            "10.1.2.3",
            "192.0.2.1",
            "::ffff:10.0.0.1",
            "::ffff:192.0.2.1",
            "2001:db8::5",
        ] {
            assert!(t.contains(ok.parse().unwrap()), "{ok}");
        }
        for no in ["11.0.0.1", "192.0.2.2", "2001:db9::1", "::10.0.0.1", "::1"] {
            assert!(!t.contains(no.parse().unwrap()), "{no}");
        }
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        // A configured list is not empty (the Apache shell then reads the peer) and, without a
        // /0 net, does not trust everyone (no load-time warning).
        assert!(!t.is_empty() && !t.trusts_everyone());
        assert_eq!(
            "10.0.0.0/8, 192.0.2.1\n2001:db8::/32".parse(),
            Ok(t.clone())
        );
        assert!(!TrustedProxies::default().contains("127.0.0.1".parse().unwrap()));
        assert_eq!(
            TrustedProxies::parse("10.0.0.0/33"),
            Err(ProxyError::BadAddress("10.0.0.0/33".into()))
        );
        assert!(TrustedProxies::parse("localhost").is_err());
        assert!(TrustedProxies::parse("0.0.0.0/0")
            .unwrap()
            .trusts_everyone());
        assert_eq!(
            TrustedProxies::parse("10.9.9.9/8").unwrap().nets()[0].to_string(),
            "10.0.0.0/8"
        );
    }

    #[test]
    fn header_spellings() {
        for n in [
            "SSL_CLIENT_S_DN",
            "ssl-client-s-dn",
            "Ssl_Client-Verify",
            "x-forwarded-client-cert",
            "X_FORWARDED_CLIENT_CERT",
            "https",
            // Not read by the core, but by applications: stripped alike.
            "SSL_CLIENT_S_DN_CN",
            "ssl-client-m-serial",
        ] {
            assert!(is_proxy_header(n), "{n}");
        }
        for n in [
            "X-Forwarded-For",
            "",
            "SSL CLIENT S DN",
            "SSL_CLIENT_",
            "ssl-clients",
            "é_client_x",
        ] {
            assert!(!is_proxy_header(n), "{n}");
        }
    }

    /// Both shells strip a client's `X-AuthRs-*` (the identity headers an application trusts):
    /// every spelling of the prefix counts, the bare prefix and lookalikes do not, and no header
    /// name, however odd, makes the check panic.
    #[test]
    fn reserved_header_spellings() {
        for n in [
            "X-AuthRs-User",
            "x-authrs-roles",
            "X_AUTHRS_DN",
            "x-AuthRs_x",
        ] {
            assert!(is_reserved_header(n), "{n}");
        }
        for n in [
            "X-AuthRs-",
            "x-authrs",
            "",
            "X-AuthRsUser",
            "X-Auth-Rs-User",
            "X-Forwarded-User",
            "SSL_CLIENT_S_DN",
            "x-authrsé",
            "é-authrs-user",
        ] {
            assert!(!is_reserved_header(n), "{n}");
        }
    }

    #[test]
    fn spoofed_headers_are_reported_and_ignored() {
        let r = req(
            "203.0.113.9",
            &[
                ("SSL_CLIENT_S_DN", "CN=admin"),
                ("ssl-client-verify", "SUCCESS"),
                ("Accept", "*/*"),
                ("SSL_CLIENT_S_DN", "CN=admin"),
                ("x-forwarded-client-cert", "Hash=1;Subject=\"CN=admin\""),
            ],
        );
        let out = proxy_tls_facts(&r, &trusted());
        assert_eq!(out.facts, None);
        assert_eq!(
            out.spoofed,
            vec![
                "SSL_CLIENT_S_DN",
                "ssl-client-verify",
                "x-forwarded-client-cert"
            ]
        );
        // No peer at all is not trusted either; an empty list trusts nobody.
        let mut r2 = r.clone();
        r2.peer = None;
        assert_eq!(proxy_tls_facts(&r2, &trusted()).spoofed.len(), 3);
        assert!(proxy_tls_facts(&r, &TrustedProxies::default())
            .facts
            .is_none());
        // Nothing to report on a plain request.
        assert_eq!(
            proxy_tls_facts(&req("203.0.113.9", &[("Accept", "*/*")]), &trusted()),
            ProxyOutcome::default()
        );
        // Every SSL_CLIENT_* variable an application behind might read, in any spelling.
        let more = req(
            "203.0.113.9",
            &[
                ("SSL-Client-S-DN-CN", "admin"),
                ("SSL_CLIENT_M_SERIAL", "01"),
                ("ssl_client_san_email_0", "admin@example.org"),
                ("SSL-Clientele", "x"),
                ("SSL_CLIENT_", "x"),
            ],
        );
        assert_eq!(
            proxy_tls_facts(&more, &trusted()).spoofed,
            vec![
                "SSL-Client-S-DN-CN",
                "SSL_CLIENT_M_SERIAL",
                "ssl_client_san_email_0"
            ]
        );
        // A trusted `ssl` proxy's own are its to set; an `xfcc` one's are the client's.
        let from_proxy = RequestFacts {
            peer: Some("192.0.2.1".parse().unwrap()),
            ..more.clone()
        };
        assert!(proxy_tls_facts(&from_proxy, &trusted()).spoofed.is_empty());
        let xfcc = trusted().with_headers(ProxyHeaders::Xfcc);
        assert_eq!(proxy_tls_facts(&from_proxy, &xfcc).spoofed.len(), 3);
        assert!(is_proxy_header("ssl_client_s_dn_cn") && !is_proxy_header("ssl_client"));
    }

    #[test]
    fn mod_ssl_headers_from_trusted_proxy() {
        let escaped = clean_pem().replace('\n', "%0A").replace(' ', "%20");
        for peer in ["10.0.0.7", "::ffff:10.0.0.7", "2001:db8::1"] {
            let r = req(
                peer,
                &[
                    ("SSL_CLIENT_VERIFY", "SUCCESS"),
                    ("SSL-CLIENT-S-DN", "CN=alice,O=Spike,C=XX"),
                    ("SSL_CLIENT_I_DN", "CN=Test CA"),
                    ("SSL_CLIENT_CERT", &escaped),
                    ("HTTPS", "on"),
                ],
            );
            let out = proxy_tls_facts(&r, &trusted());
            assert_eq!(out.error, None);
            assert!(out.spoofed.is_empty());
            assert_eq!(out.https, Some(true));
            let f = out.facts.unwrap();
            assert!(f.via_proxy);
            assert_eq!(f.verify, CertVerify::Success);
            assert_eq!(f.subject_dn.as_deref(), Some("CN=alice,O=Spike,C=XX"));
            assert_eq!(f.issuer_dn.as_deref(), Some("CN=Test CA"));
            assert_eq!(f.cert.unwrap(), clean_pem().into_bytes());
        }
        // A DN without SSL_CLIENT_VERIFY is not a verified certificate.
        let out = proxy_tls_facts(
            &req("10.0.0.7", &[("SSL_CLIENT_S_DN", "CN=alice")]),
            &trusted(),
        );
        assert_eq!(out.facts.unwrap().verify, CertVerify::Generous);
        // An issuer alone names no certificate: nothing was presented.
        let out = proxy_tls_facts(
            &req("10.0.0.7", &[("SSL_CLIENT_I_DN", "CN=Test CA")]),
            &trusted(),
        );
        assert_eq!(out.facts.unwrap().verify, CertVerify::None);
        let out = proxy_tls_facts(
            &req(
                "10.0.0.7",
                &[("SSL_CLIENT_VERIFY", "NONE"), ("SSL_CLIENT_CERT", "")],
            ),
            &trusted(),
        );
        assert_eq!(
            out.facts.unwrap(),
            TlsFacts {
                via_proxy: true,
                ..TlsFacts::default()
            }
        );
    }

    #[test]
    fn trusted_proxy_errors_fail_closed() {
        let dup = req(
            "10.0.0.7",
            &[
                ("SSL_CLIENT_S_DN", "CN=eve"),
                ("ssl-client-s-dn", "CN=alice"),
                ("SSL_CLIENT_VERIFY", "SUCCESS"),
            ],
        );
        let out = proxy_tls_facts(&dup, &trusted());
        assert_eq!(out.facts, None);
        assert_eq!(
            out.error,
            Some(ProxyError::Duplicate("SSL_CLIENT_S_DN".into()))
        );
        let bad = req(
            "10.0.0.7",
            &[
                ("SSL_CLIENT_VERIFY", "SUCCESS"),
                ("SSL_CLIENT_CERT", "garbage"),
            ],
        );
        assert!(matches!(
            proxy_tls_facts(&bad, &trusted()).error,
            Some(ProxyError::BadPem(_))
        ));
        let x = req("10.0.0.7", &[("X-Forwarded-Client-Cert", "Subject=\"CN=x")]);
        assert_eq!(
            proxy_tls_facts(&x, &trusted().with_headers(ProxyHeaders::Xfcc)).error,
            Some(ProxyError::Xfcc(XfccError::UnterminatedQuote))
        );
        let h = req("10.0.0.7", &[("HTTPS", "maybe")]);
        assert_eq!(
            proxy_tls_facts(&h, &trusted()).error,
            Some(ProxyError::BadHttps("maybe".into()))
        );
        // The values it may send say which scheme the client used, either way.
        for (v, tls) in [("on", true), ("1", true), ("OFF", false), ("false", false)] {
            let out = proxy_tls_facts(&req("10.0.0.7", &[("HTTPS", v)]), &trusted());
            assert_eq!((out.https, out.error), (Some(tls), None), "{v}");
        }
    }

    /// `trusted_proxy_headers xfcc` must select XFCC: were it read as the default `ssl`, a client
    /// behind Envoy could pass its own `SSL_CLIENT_S_DN` through and have it believed.
    #[test]
    fn header_family_option_selects_the_family() {
        assert_eq!("ssl".parse(), Ok(ProxyHeaders::Ssl));
        assert_eq!("xfcc".parse(), Ok(ProxyHeaders::Xfcc));
        for bad in ["", "XFCC", "both", "ssl,xfcc"] {
            assert!(bad.parse::<ProxyHeaders>().is_err(), "{bad:?}");
        }
        let envoy = trusted().with_headers("xfcc".parse().unwrap());
        let passed_through = req(
            "10.0.0.7",
            &[
                ("SSL_CLIENT_S_DN", "CN=admin"),
                ("SSL_CLIENT_VERIFY", "SUCCESS"),
            ],
        );
        let out = proxy_tls_facts(&passed_through, &envoy);
        assert_eq!(out.facts, None);
        assert_eq!(out.spoofed, ["SSL_CLIENT_S_DN", "SSL_CLIENT_VERIFY"]);
    }

    /// Errors name what the proxy got wrong, and an XFCC parse error keeps its cause.
    #[test]
    fn proxy_errors_explain_themselves() {
        let e = ProxyError::Xfcc(XfccError::UnterminatedQuote);
        assert!(e.to_string().starts_with("trusted proxy: "), "{e}");
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(
            ProxyError::BadHttps("maybe".into()).to_string(),
            "trusted proxy sent HTTPS=\"maybe\" (expected on or off)"
        );
    }

    /// Any one of Cert, Hash or Subject in the nearest XFCC element means the proxy verified a
    /// client certificate; an element with none of them (only By/URI) means no certificate.
    #[test]
    fn xfcc_element_with_any_certificate_field_counts_as_verified() {
        let cert = xfcc_pem();
        let xfcc = trusted().with_headers(ProxyHeaders::Xfcc);
        let verify = |h: &str| {
            let out = proxy_tls_facts(&req("192.0.2.1", &[("x-forwarded-client-cert", h)]), &xfcc);
            assert_eq!(out.error, None, "{h}");
            out.facts.unwrap().verify
        };
        assert_eq!(verify(&format!("Cert=\"{cert}\"")), CertVerify::Success);
        assert_eq!(verify("Hash=aa"), CertVerify::Success);
        assert_eq!(verify("Subject=\"CN=bob\""), CertVerify::Success);
        assert_eq!(
            verify("By=spiffe://edge;URI=spiffe://acme/bob"),
            CertVerify::None
        );
    }

    #[test]
    fn xfcc_from_trusted_proxy_is_its_one_element() {
        let cert = xfcc_pem();
        let h = format!(
            "By=spiffe://edge;Hash=bb;Cert=\"{cert}\";Subject=\"CN=bob,O=Acme\\, Inc\";URI=spiffe://acme/bob"
        );
        let xfcc = trusted().with_headers(ProxyHeaders::Xfcc);
        // Envoy writes DNS and URI SANs unquoted: a CA-signed SAN `m.example,Subject=CN=admin`
        // (or one ending `,Hash=0;Cert=<a victim's certificate>`) makes up a second element.
        // More than the proxy's own element is refused, never read.
        for forged in [
            "By=spiffe://edge;Hash=cc;Subject=\"CN=mallory\";URI=;DNS=m.example,Subject=CN=admin"
                .to_string(),
            format!("Hash=cc;Subject=\"CN=mallory\";DNS=m.example,Hash=0;Cert=\"{cert}\""),
            format!("By=spiffe://a;Hash=aa;Subject=\"CN=first-hop\",{h}"),
        ] {
            let out = proxy_tls_facts(
                &req("192.0.2.1", &[("x-forwarded-client-cert", &forged)]),
                &xfcc,
            );
            assert_eq!(out.error, Some(ProxyError::XfccElements(2)), "{forged}");
            assert_eq!(out.facts, None, "{forged}");
        }
        let out = proxy_tls_facts(&req("192.0.2.1", &[("x-forwarded-client-cert", &h)]), &xfcc);
        assert_eq!(out.error, None);
        let f = out.facts.unwrap();
        assert_eq!(f.verify, CertVerify::Success);
        assert_eq!(f.subject_dn.as_deref(), Some("CN=bob,O=Acme\\, Inc"));
        assert_eq!(f.cert.unwrap(), clean_pem().into_bytes());
        // An XFCC proxy sets XFCC only: SSL_* headers from it are the client's, never believed.
        // (Envoy drops XFCC for a client without a certificate; the client adds SSL_* itself.)
        let attack = req(
            "192.0.2.1",
            &[
                ("SSL-Client-Cert", &clean_pem().replace('\n', " ")),
                ("SSL_CLIENT_S_DN", "CN=victim"),
                ("SSL-Client-Verify", "SUCCESS"),
            ],
        );
        let out = proxy_tls_facts(&attack, &xfcc);
        assert_eq!(out.facts, None);
        assert_eq!(out.spoofed.len(), 3, "{:?}", out.spoofed);
        let both = req(
            "192.0.2.1",
            &[
                ("x-forwarded-client-cert", &h),
                ("SSL_CLIENT_S_DN", "CN=carol"),
            ],
        );
        let out = proxy_tls_facts(&both, &xfcc);
        assert_eq!(
            out.facts.unwrap().subject_dn.as_deref(),
            Some("CN=bob,O=Acme\\, Inc")
        );
        assert_eq!(out.spoofed, vec!["SSL_CLIENT_S_DN".to_string()]);
        // And the other way round: an SSL_* proxy's XFCC is never believed.
        let out = proxy_tls_facts(&both, &trusted());
        assert_eq!(out.facts.unwrap().subject_dn.as_deref(), Some("CN=carol"));
        assert_eq!(out.spoofed, vec!["x-forwarded-client-cert".to_string()]);
        // Two header lines are joined (RFC 9110): two elements, refused like one line of two.
        let lines = req(
            "192.0.2.1",
            &[
                ("x-forwarded-client-cert", "Hash=1;Subject=\"CN=a\""),
                ("X-Forwarded-Client-Cert", "Hash=2;Subject=\"CN=b\""),
            ],
        );
        assert_eq!(
            proxy_tls_facts(&lines, &xfcc).error,
            Some(ProxyError::XfccElements(2))
        );
    }
}
