//! Envoy's view of a request → the core's `RequestFacts` (pure, unit-tested on the host).

use authrs_core::cert::Certificate;
use authrs_core::proxy::{is_proxy_header, is_reserved_header};
use authrs_core::request::{is_read_header, CertVerify, RequestFacts, TlsFacts};
use authrs_core::xfcc;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// What Envoy says about the downstream TLS connection (from `connection.*` properties).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    /// `connection.mtls`: the client presented a certificate Envoy accepted (the filter reads it
    /// as: Envoy has the certificate's digest).
    pub mtls: bool,
    /// `connection.sha256_peer_certificate_digest` (lowercase hex).
    pub digest: Option<String>,
    /// `connection.subject_peer_certificate` (RFC 2253).
    pub subject: Option<String>,
    /// The listener's `trust_chain_verification` is `ACCEPT_UNTRUSTED`: mTLS proves key possession only.
    pub accept_untrusted: bool,
}

/// Headers the filter sets for the upstream; incoming copies are always removed first.
pub const IDENTITY_HEADERS: [&str; 4] = [
    "x-authrs-user",
    "x-authrs-method",
    "x-authrs-dn",
    "x-authrs-roles",
];

/// Parses `source.address` (`1.2.3.4:5678`, `[::1]:5678`, or a bare address).
pub fn peer_address(text: &str) -> Option<IpAddr> {
    text.parse::<SocketAddr>()
        .map(|s| s.ip())
        .or_else(|_| text.parse::<IpAddr>())
        .ok()
}

/// The request headers, as [`request_facts`] splits them.
#[derive(Debug, Default)]
pub struct Incoming {
    /// What the core needs to know of the request (no peer address yet).
    pub facts: RequestFacts<'static>,
    /// Names of the incoming `x-authrs-*` headers: only the filter may set those, so it removes them.
    pub reserved: Vec<String>,
}

/// Builds the facts from the request headers as Envoy gives them (pseudo-headers included).
///
/// `:method`, `:path` (split into path and query), `:scheme` and `:authority` (as `host`) are
/// taken from the pseudo-headers; other pseudo-headers are dropped, and so is every header the
/// core never reads ([`is_read_header`]). Values that are not UTF-8 are converted lossily, so
/// they can never verify as a ticket or a DN.
pub fn request_facts(headers: Vec<(String, Vec<u8>)>) -> Incoming {
    let mut incoming = Incoming::default();
    let facts = &mut incoming.facts;
    for (name, value) in headers {
        match name.as_str() {
            ":method" => facts.method = text(value).into(),
            ":path" => {
                let mut path = text(value);
                if let Some(at) = path.find('?') {
                    facts.query = Some(path[at + 1..].to_string().into());
                    path.truncate(at);
                }
                facts.path = path.into();
            }
            ":scheme" => facts.secure = value.eq_ignore_ascii_case(b"https"),
            ":authority" => facts.headers.push(("host".into(), text(value).into())),
            n if n.starts_with(':') => {}
            n if is_reserved_header(n) => incoming.reserved.push(name),
            n if is_read_header(n) => facts.headers.push((name.into(), text(value).into())),
            _ => {}
        }
    }
    incoming
}

/// A header value as text: taken over as it is when it is UTF-8, else converted lossily.
fn text(value: Vec<u8>) -> String {
    String::from_utf8(value).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Whether any header could carry client-certificate claims (the cheap test before the work).
pub fn has_proxy_headers(facts: &RequestFacts) -> bool {
    facts.headers.iter().any(|(n, _)| is_proxy_header(n))
}

/// What [`own_tls`] found: our own TLS facts, and the XFCC value the core should still see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnTls {
    /// The facts about our own downstream connection.
    pub tls: TlsFacts,
    /// Whether Envoy's own XFCC element (its `Hash` equal to the connection's digest) was found.
    pub own_element: bool,
    /// The XFCC value with Envoy's own element removed (`None`: drop the header from the facts).
    pub rest: Option<String>,
}

/// How many connections' certificates one VM keeps parsed ([`CertCache`]).
pub const CERT_CACHE_SIZE: usize = 64;
/// Longest `Cert` text kept in the cache (real client certificates are 1–3 KiB of PEM); longer
/// ones are judged every time, so one client cannot fill the VM with 64 near-copies padded to
/// Envoy's header limit.
pub const CERT_CACHE_MAX_PEM: usize = 8 * 1024;

/// The client certificates of recent connections, parsed: keyed by the connection's digest and
/// the exact `Cert` text of Envoy's own XFCC element, so the requests of a keep-alive connection
/// decode, hash and parse its certificate once. Oldest entry out first.
#[derive(Debug, Default)]
pub struct CertCache {
    entries: VecDeque<(String, String, Arc<Certificate>)>,
}

/// What an XFCC element's `Cert` is to the connection it arrived on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElementCert {
    /// The connection's own certificate (it hashes to the connection's digest), parsed.
    Parsed(Arc<Certificate>),
    /// Hashes to the connection's digest but does not parse: the core refuses it as unreadable.
    Unreadable,
    /// Not the connection's certificate: the element is the client's, not Envoy's.
    Foreign,
}

impl CertCache {
    /// Judges `pem` (an element's `Cert`, URL-decoded) against the connection's `digest`, from
    /// the cache when this exact text was seen on a connection with this digest.
    pub fn judge(&mut self, digest: &str, pem: &str) -> ElementCert {
        if let Some((_, _, cert)) = self
            .entries
            .iter()
            .find(|(d, p, _)| d == digest && p == pem)
        {
            return ElementCert::Parsed(Arc::clone(cert));
        }
        let ours = |hash: &str| !digest.is_empty() && hash.eq_ignore_ascii_case(digest);
        match Certificate::parse(pem.as_bytes()) {
            Ok(cert) if ours(&cert.sha256) => {
                let cert = Arc::new(cert);
                if pem.len() <= CERT_CACHE_MAX_PEM {
                    if self.entries.len() >= CERT_CACHE_SIZE {
                        self.entries.pop_front();
                    }
                    self.entries.push_back((
                        digest.to_string(),
                        pem.to_string(),
                        Arc::clone(&cert),
                    ));
                }
                ElementCert::Parsed(cert)
            }
            Ok(_) => ElementCert::Foreign,
            Err(_) if Certificate::sha256_of(pem.as_bytes()).is_some_and(|h| ours(&h)) => {
                ElementCert::Unreadable
            }
            Err(_) => ElementCert::Foreign,
        }
    }

    /// How many certificates are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Fills the TLS facts from our own connection: the full certificate from the XFCC element Envoy
/// wrote itself (its `Hash` equals `connection.sha256_peer_certificate_digest`), else the subject
/// property alone. Elements that are not Envoy's own stay in `rest`: the core believes them only
/// from a trusted proxy and reports them as spoofed from anyone else. The certificate reaches
/// the core parsed (from `certs` when its connection sent it before).
pub fn own_tls(conn: &Connection, xfcc_value: Option<&str>, certs: &mut CertCache) -> OwnTls {
    let mut out = OwnTls {
        rest: xfcc_value.map(str::to_string),
        ..OwnTls::default()
    };
    if !conn.mtls {
        return out;
    }
    out.tls.verify = if conn.accept_untrusted {
        CertVerify::Generous
    } else {
        CertVerify::Success
    };
    out.tls.subject_dn = conn.subject.clone();
    let (Some(digest), Some(value)) = (conn.digest.as_deref(), xfcc_value) else {
        return out;
    };
    let Ok(elements) = xfcc::split_elements(value) else {
        return out;
    };
    let Some((last, earlier)) = elements.split_last() else {
        return out;
    };
    let Ok(mut parsed) = xfcc::parse(last) else {
        return out;
    };
    let Some(el) = parsed.pop() else {
        return out;
    };
    let ours = el
        .hash
        .as_deref()
        .is_some_and(|h| !digest.is_empty() && h.eq_ignore_ascii_case(digest));
    if !ours {
        return out;
    }
    // Under FORWARD_ONLY or ALWAYS_FORWARD_ONLY Envoy passes the client's own XFCC on
    // untouched: a client may copy its connection's digest into `Hash` beside somebody else's
    // `Cert`. Envoy's element carries the certificate it hashed, so the PEM must hash to the
    // digest too; one that does not is the client's and stays in `rest` (spoofing).
    let cert = match el.cert {
        None => None,
        Some(pem) => match certs.judge(digest, &pem) {
            ElementCert::Foreign => return out,
            ElementCert::Parsed(cert) => Some(Ok(cert)),
            ElementCert::Unreadable => Some(Err(pem)),
        },
    };
    out.own_element = true;
    out.rest = if earlier.is_empty() {
        None
    } else {
        Some(earlier.join(","))
    };
    match cert {
        Some(Ok(parsed)) => out.tls.parsed_cert = Some(parsed),
        // The core reports it as unreadable (bad_cert), as it would any certificate.
        Some(Err(pem)) => out.tls.cert = Some(pem.into_bytes()),
        None => {}
    }
    if let Some(chain) = el.chain {
        // The whole chain as the client sent it (PEM blocks); the core picks the intermediates.
        out.tls.chain = vec![chain.into_bytes()];
    }
    // The subject stays the connection's own property: an element without `Cert` is bound to
    // the connection by `Hash` alone, which a client can copy.
    out
}

/// Replaces the facts' XFCC headers by `rest` (Envoy's own element already consumed).
pub fn set_xfcc(facts: &mut RequestFacts, rest: Option<String>) {
    facts
        .headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("x-forwarded-client-cert"));
    if let Some(v) = rest {
        facts
            .headers
            .push(("x-forwarded-client-cert".into(), v.into()));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn pseudo_headers_become_facts() {
        let f = request_facts(h(&[
            (":method", "POST"),
            (":path", "/app/x?a=1&b?c"),
            (":scheme", "https"),
            (":authority", "example.org"),
            (":protocol", "x"),
            ("cookie", "a=b"),
        ]))
        .facts;
        assert_eq!(f.method, "POST");
        assert_eq!(f.path, "/app/x");
        assert_eq!(f.query.as_deref(), Some("a=1&b?c"));
        assert!(f.secure);
        assert_eq!(f.header("host"), Some("example.org"));
        assert_eq!(f.headers.len(), 2);
        assert_eq!(f.peer, None);
        let f = request_facts(h(&[(":path", "/x"), (":scheme", "http")])).facts;
        assert_eq!((f.path.as_ref(), f.query), ("/x", None));
        assert!(!f.secure);
        assert_eq!(peer_address("[::1]:4000"), Some("::1".parse().unwrap()));
        assert_eq!(
            peer_address("10.0.0.1:1"),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(peer_address("10.0.0.1"), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(peer_address("pipe"), None);
    }

    #[test]
    fn only_headers_the_core_reads_are_kept() {
        let incoming = request_facts(h(&[
            ("user-agent", "curl"),
            ("cookie", "a=b"),
            ("x-authrs-user", "admin"),
            ("accept", "application/json"),
            ("x-request-id", "1"),
            ("ssl-client-s-dn", "CN=admin"),
            ("X_AuthRs_Roles", "admin"),
            ("origin", "https://example.org"),
            ("sec-fetch-site", "same-site"),
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-dest", "document"),
        ]));
        let names: Vec<&str> = incoming
            .facts
            .headers
            .iter()
            .map(|(n, _)| n.as_ref())
            .collect();
        assert_eq!(
            names,
            [
                "cookie",
                "accept",
                "ssl-client-s-dn",
                "origin",
                "sec-fetch-site",
                "sec-fetch-mode",
                "sec-fetch-dest"
            ]
        );
        // A sibling portal's logout link (a top-level navigation) is told from its <img>.
        assert!(!incoming.facts.is_sibling_subresource());
        // Our own headers are never facts: they are reported, to be removed.
        assert_eq!(incoming.reserved, ["x-authrs-user", "X_AuthRs_Roles"]);
        assert!(has_proxy_headers(&incoming.facts));
    }

    #[test]
    fn values_that_are_not_utf8_are_converted_lossily() {
        let raw = vec![
            ("cookie".to_string(), b"t=\xffabc".to_vec()),
            (":path".to_string(), b"/a\xfe?q=\xfd".to_vec()),
        ];
        let f = request_facts(raw).facts;
        assert_eq!(f.header("cookie"), Some("t=\u{fffd}abc"));
        assert_eq!(f.path, "/a\u{fffd}");
        assert_eq!(f.query.as_deref(), Some("q=\u{fffd}"));
    }

    const DIGEST: &str = "ab12";
    const ALICE: &[u8] = include_bytes!("../../core/src/cert/testdata/alice.pem");
    const BOB: &[u8] = include_bytes!("../../core/src/cert/testdata/bob.pem");

    fn conn(mtls: bool) -> Connection {
        Connection {
            mtls,
            digest: Some(DIGEST.into()),
            subject: Some("CN=prop".into()),
            accept_untrusted: false,
        }
    }

    /// A connection whose client presented alice.pem.
    fn alice_conn() -> Connection {
        Connection {
            digest: Some(Certificate::parse(ALICE).unwrap().sha256),
            ..conn(true)
        }
    }

    fn base64_of(bytes: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// [`own_tls`] with a fresh cache.
    fn own(c: &Connection, v: Option<&str>) -> OwnTls {
        own_tls(c, v, &mut CertCache::default())
    }

    /// `Cert="…"` as Envoy writes it (URL-encoded PEM).
    fn cert_pair(pem: &[u8]) -> String {
        let pem = std::str::from_utf8(pem).unwrap();
        format!("Cert=\"{}\"", pem.replace('\n', "%0A").replace(' ', "%20"))
    }

    #[test]
    fn envoys_own_element_gives_the_certificate() {
        let c = alice_conn();
        let hash = c.digest.clone().unwrap().to_uppercase();
        let v = format!("Hash={hash};{};Subject=\"CN=alice,O=x\"", cert_pair(ALICE));
        let out = own(&c, Some(&v));
        assert!(out.own_element);
        assert_eq!(out.rest, None);
        assert_eq!(out.tls.verify, CertVerify::Success);
        // The certificate reaches the core parsed (no PEM to decode and hash again).
        assert_eq!(out.tls.cert, None);
        let parsed = out.tls.parsed_cert.as_deref().unwrap();
        assert_eq!(parsed, &Certificate::parse(ALICE).unwrap());
        // The subject is the connection's property, never the header's.
        assert_eq!(out.tls.subject_dn.as_deref(), Some("CN=prop"));
        // A front proxy's element before ours stays for the core to judge.
        let out = own(&c, Some(&format!("Hash=ff;Subject=\"CN=front\",{v}")));
        assert!(out.own_element);
        assert_eq!(out.rest.as_deref(), Some("Hash=ff;Subject=\"CN=front\""));
    }

    #[test]
    fn a_copied_hash_beside_another_certificate_is_not_ours() {
        // FORWARD_ONLY passes the client's XFCC on: alice's connection, her digest in Hash,
        // bob's certificate in Cert. Envoy never writes that; it is the client's element.
        let c = alice_conn();
        let hash = c.digest.clone().unwrap();
        for cert in [cert_pair(BOB), "Cert=\"not%20a%20certificate\"".to_string()] {
            let v = format!("Hash={hash};{cert};Subject=\"CN=bob\"");
            let out = own(&c, Some(&v));
            assert!(!out.own_element, "{v}");
            assert_eq!(out.rest.as_deref(), Some(v.as_str()));
            assert_eq!(out.tls.cert, None);
            assert_eq!(out.tls.parsed_cert, None);
            assert_eq!(out.tls.subject_dn.as_deref(), Some("CN=prop"));
        }
        // Hash alone (Envoy configured without `cert`): bound by Hash, but nothing is taken
        // from it — the subject stays the property's.
        let out = own(&c, Some(&format!("Hash={hash};Subject=\"CN=bob\"")));
        assert!(out.own_element);
        assert_eq!(out.tls.cert, None);
        assert_eq!(out.tls.subject_dn.as_deref(), Some("CN=prop"));
    }

    #[test]
    fn a_connections_certificate_is_parsed_once() {
        let mut certs = CertCache::default();
        let c = alice_conn();
        let hash = c.digest.clone().unwrap();
        let v = format!("Hash={hash};{}", cert_pair(ALICE));
        let first = own_tls(&c, Some(&v), &mut certs).tls.parsed_cert.unwrap();
        let again = own_tls(&c, Some(&v), &mut certs).tls.parsed_cert.unwrap();
        assert!(Arc::ptr_eq(&first, &again), "second request parsed again");
        assert_eq!(certs.len(), 1);
        // The cache is keyed by the exact text too: another certificate beside the same
        // digest is still judged (and refused), never answered from the cache.
        let forged = format!("Hash={hash};{}", cert_pair(BOB));
        let out = own_tls(&c, Some(&forged), &mut certs);
        assert!(!out.own_element);
        assert_eq!(out.tls.parsed_cert, None);
        // And alice's certificate on a connection with another digest is not that connection's.
        let mut other = conn(true);
        other.digest = Some(Certificate::parse(BOB).unwrap().sha256);
        let copied = format!(
            "Hash={};{}",
            other.digest.clone().unwrap(),
            cert_pair(ALICE)
        );
        assert!(!own_tls(&other, Some(&copied), &mut certs).own_element);
        assert_eq!(certs.len(), 1);
    }

    #[test]
    fn the_certificate_cache_is_bounded() {
        let mut certs = CertCache::default();
        let pem = std::str::from_utf8(ALICE).unwrap();
        let digest = Certificate::parse(ALICE).unwrap().sha256;
        for i in 0..CERT_CACHE_SIZE + 5 {
            // The same certificate under many spellings (trailing blank lines): each its own entry.
            let text = format!("{pem}{}", "\n".repeat(i));
            assert!(matches!(
                certs.judge(&digest, &text),
                ElementCert::Parsed(_)
            ));
        }
        assert_eq!(certs.len(), CERT_CACHE_SIZE);
        // A certificate padded past the size kept is still judged (and parsed), never kept.
        let mut certs = CertCache::default();
        let padded = format!("{pem}{}", "\n".repeat(CERT_CACHE_MAX_PEM));
        assert!(matches!(
            certs.judge(&digest, &padded),
            ElementCert::Parsed(_)
        ));
        assert!(certs.is_empty());
    }

    #[test]
    fn an_unreadable_certificate_with_the_right_hash_goes_to_the_core_as_is() {
        // DER that hashes to the digest but is no certificate: ours, and the core refuses it.
        let der = b"\x30\x03\x02\x01\x01";
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64_of(der)
        );
        let digest = Certificate::sha256_of(pem.as_bytes()).unwrap();
        let mut certs = CertCache::default();
        assert_eq!(certs.judge(&digest, &pem), ElementCert::Unreadable);
        assert!(certs.is_empty());
        let mut c = conn(true);
        c.digest = Some(digest.clone());
        let v = format!("Hash={digest};{}", cert_pair(pem.as_bytes()));
        let out = own_tls(&c, Some(&v), &mut certs);
        assert!(out.own_element);
        assert_eq!(out.tls.cert.as_deref(), Some(pem.as_bytes()));
        assert_eq!(out.tls.parsed_cert, None);
    }

    #[test]
    fn a_foreign_element_is_not_ours() {
        // Hash mismatch: the subject property is all we know; the header stays for the core.
        let v = "Hash=ffff;Subject=\"CN=admin\"";
        let out = own(&conn(true), Some(v));
        assert!(!out.own_element);
        assert_eq!(out.rest.as_deref(), Some(v));
        assert_eq!(out.tls.subject_dn.as_deref(), Some("CN=prop"));
        assert_eq!(out.tls.cert, None);
        // No mTLS: no own facts at all, whatever the header claims (even the right hash).
        let out = own(&conn(false), Some("Hash=ab12;Subject=\"CN=admin\""));
        assert_eq!(out.tls, TlsFacts::default());
        assert!(!out.own_element);
        // An empty digest never matches.
        let mut c = conn(true);
        c.digest = Some(String::new());
        assert!(!own(&c, Some("Hash=;Subject=x")).own_element);
        // Garbage is left for the core to refuse, never trusted.
        let out = own(&conn(true), Some("Hash=\"ab12"));
        assert!(!out.own_element);
    }

    #[test]
    fn accept_untrusted_is_generous() {
        let mut c = conn(true);
        c.accept_untrusted = true;
        assert_eq!(own(&c, None).tls.verify, CertVerify::Generous);
    }

    #[test]
    fn xfcc_is_replaced() {
        let mut f = request_facts(h(&[
            ("x-forwarded-client-cert", "a"),
            ("X-Forwarded-Client-Cert", "b"),
        ]))
        .facts;
        assert!(has_proxy_headers(&f));
        set_xfcc(&mut f, None);
        assert!(!has_proxy_headers(&f));
        set_xfcc(&mut f, Some("c".into()));
        assert_eq!(f.header("x-forwarded-client-cert"), Some("c"));
    }
}
