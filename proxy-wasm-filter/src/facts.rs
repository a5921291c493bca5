//! Envoy's view of a request → the core's `RequestFacts` (pure, unit-tested on the host).

use authrs_core::cert::Certificate;
use authrs_core::proxy::{is_proxy_header, is_reserved_header};
use authrs_core::request::{is_read_header, CertVerify, RequestFacts, TlsFacts};
use authrs_core::xfcc;
use std::net::{IpAddr, SocketAddr};

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
    pub facts: RequestFacts,
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
            ":method" => facts.method = text(value),
            ":path" => {
                let mut path = text(value);
                if let Some(at) = path.find('?') {
                    facts.query = Some(path[at + 1..].to_string());
                    path.truncate(at);
                }
                facts.path = path;
            }
            ":scheme" => facts.secure = value.eq_ignore_ascii_case(b"https"),
            ":authority" => facts.headers.push(("host".to_string(), text(value))),
            n if n.starts_with(':') => {}
            n if is_reserved_header(n) => incoming.reserved.push(name),
            n if is_read_header(n) => facts.headers.push((name, text(value))),
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

/// Fills the TLS facts from our own connection: the full certificate from the XFCC element Envoy
/// wrote itself (its `Hash` equals `connection.sha256_peer_certificate_digest`), else the subject
/// property alone. Elements that are not Envoy's own stay in `rest`: the core believes them only
/// from a trusted proxy and reports them as spoofed from anyone else.
pub fn own_tls(conn: &Connection, xfcc_value: Option<&str>) -> OwnTls {
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
    // Under FORWARD_ONLY or ALWAYS_FORWARD_ONLY Envoy passes the client's own XFCC on
    // untouched: a client may copy its connection's digest into `Hash` beside somebody else's
    // `Cert`. Envoy's element carries the certificate it hashed, so the PEM must hash to the
    // digest too; one that does not is the client's and stays in `rest` (spoofing).
    let cert_is_the_connections = el.cert.as_deref().is_none_or(|pem| {
        Certificate::sha256_of(pem.as_bytes()).is_some_and(|h| h.eq_ignore_ascii_case(digest))
    });
    if !ours || !cert_is_the_connections {
        return out;
    }
    out.own_element = true;
    out.rest = if earlier.is_empty() {
        None
    } else {
        Some(earlier.join(","))
    };
    if let Some(pem) = el.cert {
        out.tls.cert = Some(pem.into_bytes());
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
            .push(("x-forwarded-client-cert".to_string(), v));
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
        assert_eq!((f.path.as_str(), f.query), ("/x", None));
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
        ]));
        let names: Vec<&str> = incoming
            .facts
            .headers
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(names, ["cookie", "accept", "ssl-client-s-dn", "origin"]);
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
        let out = own_tls(&c, Some(&v));
        assert!(out.own_element);
        assert_eq!(out.rest, None);
        assert_eq!(out.tls.verify, CertVerify::Success);
        assert_eq!(out.tls.cert.as_deref(), Some(ALICE));
        // The subject is the connection's property, never the header's.
        assert_eq!(out.tls.subject_dn.as_deref(), Some("CN=prop"));
        // A front proxy's element before ours stays for the core to judge.
        let out = own_tls(&c, Some(&format!("Hash=ff;Subject=\"CN=front\",{v}")));
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
            let out = own_tls(&c, Some(&v));
            assert!(!out.own_element, "{v}");
            assert_eq!(out.rest.as_deref(), Some(v.as_str()));
            assert_eq!(out.tls.cert, None);
            assert_eq!(out.tls.subject_dn.as_deref(), Some("CN=prop"));
        }
        // Hash alone (Envoy configured without `cert`): bound by Hash, but nothing is taken
        // from it — the subject stays the property's.
        let out = own_tls(&c, Some(&format!("Hash={hash};Subject=\"CN=bob\"")));
        assert!(out.own_element);
        assert_eq!(out.tls.cert, None);
        assert_eq!(out.tls.subject_dn.as_deref(), Some("CN=prop"));
    }

    #[test]
    fn a_foreign_element_is_not_ours() {
        // Hash mismatch: the subject property is all we know; the header stays for the core.
        let v = "Hash=ffff;Subject=\"CN=admin\"";
        let out = own_tls(&conn(true), Some(v));
        assert!(!out.own_element);
        assert_eq!(out.rest.as_deref(), Some(v));
        assert_eq!(out.tls.subject_dn.as_deref(), Some("CN=prop"));
        assert_eq!(out.tls.cert, None);
        // No mTLS: no own facts at all, whatever the header claims (even the right hash).
        let out = own_tls(&conn(false), Some("Hash=ab12;Subject=\"CN=admin\""));
        assert_eq!(out.tls, TlsFacts::default());
        assert!(!out.own_element);
        // An empty digest never matches.
        let mut c = conn(true);
        c.digest = Some(String::new());
        assert!(!own_tls(&c, Some("Hash=;Subject=x")).own_element);
        // Garbage is left for the core to refuse, never trusted.
        let out = own_tls(&conn(true), Some("Hash=\"ab12"));
        assert!(!out.own_element);
    }

    #[test]
    fn accept_untrusted_is_generous() {
        let mut c = conn(true);
        c.accept_untrusted = true;
        assert_eq!(own_tls(&c, None).tls.verify, CertVerify::Generous);
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
