//! Engine scenarios at a fixed time, with certificates and CRLs made by openssl (see fixtures/).

use super::*;
use crate::authz::RequireTree;
use crate::cert::crl::CrlSet;
use crate::cert::enrolled::EnrolledCerts;
use crate::cert::Certificate;
use crate::cookies::CookieSettings;
use crate::identity::AuthMethod;
use crate::password::Htpasswd;
use crate::proxy::TrustedProxies;
use crate::request::{CertVerify, RequestFacts, TlsFacts};
use crate::roles::RolesFile;
use crate::ticket::{KeyId, KeyRing, Ticket, TicketError, TicketKey, MAX_USER_LEN};
use std::borrow::Cow;
use std::collections::HashMap;

const NOW: i64 = 1_800_000_000;
const ALICE: &[u8] = include_bytes!("fixtures/alice.crt");
const MALLORY: &[u8] = include_bytes!("fixtures/mallory.crt");
const PINNED: &[u8] = include_bytes!("fixtures/pinned.crt");
/// Self-signed P-256, `CN=Jürgen,O=Fixture Org,C=XX`: a subject whose RFC 4514 form
/// (`J\C3\BCrgen`) and mod_ssl form (raw UTF-8) differ.
const JURGEN: &[u8] = include_bytes!("fixtures/jurgen.crt");
const CRL: &[u8] = include_bytes!("fixtures/ca.crl");
const CRL_EXPIRING: &[u8] = include_bytes!("fixtures/ca-expiring.crl");

fn cookie_settings() -> CookieSettings {
    CookieSettings {
        name: "AuthRs_Test".into(),
        domain: None,
        path: "/".into(),
        secure: true,
        http_only: true,
        same_site: crate::cookies::SameSite::Lax,
        persistent: false,
    }
}

fn ring() -> KeyRing {
    KeyRing::new(vec![TicketKey::new(&[42u8; 32]).expect("32-byte key")]).expect("ring")
}

fn policy() -> Policy {
    let mut p = Policy::new(cookie_settings(), Some(ring()));
    p.login_url = Some("/login.html".into());
    p
}

fn mint(user: &str, method: AuthMethod, issued: i64) -> String {
    let t = Ticket {
        version: 1,
        key_id: KeyId::default(),
        user: user.into(),
        method,
        issued,
        expires: issued + 3600,
        last_seen: issued,
        address: None,
        roles: None,
    };
    ring().mint(&t).expect("mint")
}

fn browser() -> RequestFacts<'static> {
    RequestFacts {
        method: "GET".into(),
        path: "/app/page".into(),
        query: Some("x=1".into()),
        headers: vec![("Accept".into(), "text/html".into())],
        peer: Some("192.0.2.10".parse().expect("ip")),
        client: None,
        secure: true,
        tls: TlsFacts::default(),
    }
}

/// A browser's POST (a login form), otherwise as [`browser`].
fn form_post() -> RequestFacts<'static> {
    let mut post = browser();
    post.method = "POST".into();
    post
}

fn with_cookie(mut r: RequestFacts<'static>, value: &str) -> RequestFacts<'static> {
    r.headers.push((
        "Cookie".into(),
        format!("other=1; AuthRs_Test={value}").into(),
    ));
    r
}

fn with_cert(
    mut r: RequestFacts<'static>,
    pem: &[u8],
    verify: CertVerify,
) -> RequestFacts<'static> {
    r.tls = TlsFacts {
        verify,
        cert: Some(pem.to_vec()),
        ..TlsFacts::default()
    };
    r
}

/// The ticket a `Set-Cookie: AuthRs_Test=<ticket>; …` header carries.
fn ticket_of(set_cookie: &str) -> &str {
    set_cookie
        .trim_start_matches("AuthRs_Test=")
        .split(';')
        .next()
        .expect("cookie value")
}

fn run(p: &Policy, r: &RequestFacts) -> Decision {
    decide(p, r, NOW, &mut Stores::default())
}

fn user(d: &Decision) -> Option<&str> {
    d.identity.as_ref().map(|i| i.user.as_str())
}

#[derive(Default)]
struct MemRevocations(HashMap<String, i64>);

impl RevocationStore for MemRevocations {
    fn is_revoked(&mut self, id: &str, now: i64) -> Result<bool, StoreError> {
        Ok(self.0.get(id).is_some_and(|until| *until > now))
    }
    fn revoke(&mut self, id: &str, until: i64) -> Result<(), StoreError> {
        self.0.insert(id.to_string(), until);
        Ok(())
    }
}

struct FailingStore;

impl RevocationStore for FailingStore {
    fn is_revoked(&mut self, _: &str, _: i64) -> Result<bool, StoreError> {
        Err(StoreError("socache down".into()))
    }
    fn revoke(&mut self, _: &str, _: i64) -> Result<(), StoreError> {
        Err(StoreError("socache down".into()))
    }
}

#[test]
fn no_credentials_redirects_browsers_and_401s_api_clients() {
    let d = run(&policy(), &browser());
    assert_eq!(d.status(), 302);
    assert_eq!(d.reason(), Some(Reason::NoCookie));
    let Verdict::Redirect { location, .. } = &d.verdict else {
        panic!("{d:?}")
    };
    assert!(location.starts_with("/login.html?"), "{location}");
    assert!(location.contains("reason=no_cookie"), "{location}");
    assert!(
        location.contains("destination=%2Fapp%2Fpage%3Fx%3D1"),
        "{location}"
    );

    let mut api = browser();
    api.headers = vec![("Accept".into(), "application/json".into())];
    let d = run(&policy(), &api);
    assert_eq!((d.status(), d.reason()), (401, Some(Reason::NoCookie)));

    let mut p = policy();
    p.login_url = None;
    assert_eq!(run(&p, &browser()).status(), 401);
    p.unauth_action = UnauthAction::Forbidden;
    assert_eq!(run(&p, &browser()).status(), 403);
}

#[test]
fn valid_ticket_allows() {
    let d = run(
        &policy(),
        &with_cookie(browser(), &mint("bob", AuthMethod::Password, NOW - 60)),
    );
    assert_eq!(d.verdict, Verdict::Allow);
    assert_eq!(user(&d), Some("bob"));
    assert_eq!(
        d.identity.as_ref().map(|i| i.method),
        Some(AuthMethod::Password)
    );
    assert_eq!(d.set_cookie, None, "no idle timeout, no refresh");
}

#[test]
fn tampered_and_expired_tickets_get_their_reasons_and_a_cleared_cookie() {
    let good = mint("bob", AuthMethod::Password, NOW - 60);
    let mut bad = good.clone().into_bytes();
    let i = bad.len() - 3;
    bad[i] = if bad[i] == b'x' { b'y' } else { b'x' };
    let d = run(
        &policy(),
        &with_cookie(browser(), std::str::from_utf8(&bad).expect("ascii")),
    );
    assert_eq!(d.reason(), Some(Reason::BadCookie));
    assert!(
        d.set_cookie
            .as_deref()
            .is_some_and(|c| c.starts_with("AuthRs_Test=")),
        "{:?}",
        d.set_cookie
    );

    let old = mint("bob", AuthMethod::Password, NOW - 7200);
    let d = run(&policy(), &with_cookie(browser(), &old));
    assert_eq!(d.reason(), Some(Reason::Expired));

    // Issued by a server whose clock is ahead (or ours jumped back): refused, logged as a
    // warning for the operator, and kept in the browser, where it is good on that server.
    let ahead = mint("bob", AuthMethod::Password, NOW + 300);
    let d = run(&policy(), &with_cookie(browser(), &ahead));
    assert_eq!(d.reason(), Some(Reason::BadCookie));
    assert_eq!(d.set_cookie, None);
    assert!(
        d.notes
            .iter()
            .any(|n| n.level == Level::Warn && n.message.contains("clock_skew")),
        "{:?}",
        d.notes
    );
    // A ticket bound to another realm's cookie, copied into this one: refused and cleared;
    // bound to this cookie: valid. (Logins mint bound tickets: see the login tests.)
    let t = Ticket::new("bob", AuthMethod::Password, NOW - 10, 3600);
    let elsewhere = ring().mint_for(&t, "AuthRs_Other").expect("mint");
    let d = run(&policy(), &with_cookie(browser(), &elsewhere));
    assert_eq!(d.reason(), Some(Reason::BadCookie));
    assert!(d.set_cookie.is_some_and(|c| c.contains("Max-Age=0")));
    let here = ring().mint_for(&t, "AuthRs_Test").expect("mint");
    assert_eq!(
        run(&policy(), &with_cookie(browser(), &here)).verdict,
        Verdict::Allow
    );
    // Unbound (version 1) tickets: accepted by default, refused (but kept) when turned off.
    let unbound = ring().mint(&t).expect("mint");
    assert_eq!(
        run(&policy(), &with_cookie(browser(), &unbound)).verdict,
        Verdict::Allow
    );
    let mut strict = policy();
    strict.accept_unbound_tickets = false;
    let d = run(&strict, &with_cookie(browser(), &unbound));
    assert_eq!(d.reason(), Some(Reason::BadCookie));
    assert_eq!(d.set_cookie, None);
    assert_eq!(
        run(&strict, &with_cookie(browser(), &here)).verdict,
        Verdict::Allow
    );
    // Within the tolerated skew it is simply valid.
    let slightly = mint("bob", AuthMethod::Password, NOW + 60);
    assert_eq!(
        run(&policy(), &with_cookie(browser(), &slightly)).verdict,
        Verdict::Allow
    );

    let d = run(&policy(), &with_cookie(browser(), &"A".repeat(100_000)));
    assert_eq!(d.reason(), Some(Reason::BadCookie));
}

#[test]
fn idle_timeout_and_sliding_refresh() {
    let mut p = policy();
    p.session_timeout = Some(600);
    let d = run(
        &p,
        &with_cookie(browser(), &mint("bob", AuthMethod::Password, NOW - 700)),
    );
    assert_eq!(d.reason(), Some(Reason::Expired));
    // 400 s of 600 idle is past the 0.5 fraction: re-issued.
    let d = run(
        &p,
        &with_cookie(browser(), &mint("bob", AuthMethod::Password, NOW - 400)),
    );
    assert_eq!(d.verdict, Verdict::Allow);
    let fresh = d.set_cookie.expect("refreshed cookie");
    let value = ticket_of(&fresh);
    let t = ring()
        .verify_for("AuthRs_Test", value, NOW, None, Some(600))
        .expect("refreshed ticket verifies");
    // The refresh of an unbound ticket stays unbound: bound to this cookie it would pass a
    // sibling location that sets AuthRsAcceptUnboundTickets Off (refresh laundering).
    assert_eq!(t.version, crate::ticket::TICKET_VERSION);
    let mut strict = policy();
    strict.session_timeout = Some(600);
    strict.accept_unbound_tickets = false;
    let d = run(&strict, &with_cookie(browser(), value));
    assert_eq!(d.reason(), Some(Reason::BadCookie));
    assert_eq!(t.last_seen, NOW);
    assert_eq!(
        t.expires,
        NOW - 400 + 3600,
        "refresh never extends the absolute lifetime"
    );
    // A bound ticket's refresh stays bound to its cookie.
    let mut old = Ticket::new("bob", AuthMethod::Password, NOW - 400, 3600);
    old.roles = None;
    let bound = ring().mint_for(&old, "AuthRs_Test").expect("mint");
    let d = run(&p, &with_cookie(browser(), &bound));
    let fresh = d.set_cookie.expect("refreshed cookie");
    let value = ticket_of(&fresh);
    let t = ring()
        .verify_for("AuthRs_Test", value, NOW, None, Some(600))
        .expect("refreshed ticket verifies");
    assert_eq!(t.version, crate::ticket::TICKET_VERSION_BOUND);
    assert_eq!(
        ring().verify(value, NOW, None, Some(600)),
        Err(TicketError::BadSignature)
    );
    // Fresh enough: no refresh.
    let d = run(
        &p,
        &with_cookie(browser(), &mint("bob", AuthMethod::Password, NOW - 100)),
    );
    assert_eq!((d.verdict, d.set_cookie), (Verdict::Allow, None));
    // Another site's request (its <img>, its link) uses the ticket but never keeps it alive.
    let mut cross = with_cookie(browser(), &mint("bob", AuthMethod::Password, NOW - 400));
    cross
        .headers
        .push(("Sec-Fetch-Site".into(), "cross-site".into()));
    let d = run(&p, &cross);
    assert_eq!((d.verdict, d.set_cookie), (Verdict::Allow, None));
    for same in ["same-origin", "none"] {
        let mut r = with_cookie(browser(), &mint("bob", AuthMethod::Password, NOW - 400));
        r.headers.push(("sec-fetch-site".into(), same.into()));
        assert!(run(&p, &r).set_cookie.is_some(), "{same}");
    }
    // A sibling subdomain (same-site): its links to pages refresh, its <img> and fetches, which
    // a page left open there could send every few minutes, do not.
    for (mode, dest, refreshed) in [
        ("navigate", "document", true),
        ("no-cors", "image", false),
        ("cors", "empty", false),
        ("navigate", "iframe", false),
    ] {
        let mut r = with_cookie(browser(), &mint("bob", AuthMethod::Password, NOW - 400));
        r.headers
            .push(("sec-fetch-site".into(), "same-site".into()));
        r.headers.push(("Sec-Fetch-Mode".into(), mode.into()));
        r.headers.push(("Sec-Fetch-Dest".into(), dest.into()));
        let d = run(&p, &r);
        assert_eq!(d.verdict, Verdict::Allow);
        assert_eq!(d.set_cookie.is_some(), refreshed, "{mode} {dest}");
    }
}

/// A refreshed persistent cookie keeps the ticket's absolute lifetime: its Max-Age is what is
/// left of it, so the browser drops the cookie when the ticket dies, never later.
#[test]
fn refreshed_persistent_cookie_lives_as_long_as_the_ticket() {
    let mut p = policy();
    p.session_timeout = Some(600);
    p.cookie.persistent = true;
    let d = run(
        &p,
        &with_cookie(browser(), &mint("bob", AuthMethod::Password, NOW - 400)),
    );
    assert_eq!(d.verdict, Verdict::Allow);
    let fresh = d.set_cookie.expect("refreshed cookie");
    // Minted at NOW - 400 for 3600 s: 3200 s remain.
    assert!(fresh.contains("Max-Age=3200"), "{fresh}");
}

#[test]
fn address_binding() {
    let mut p = policy();
    p.bind_address = true;
    let mut t = ring()
        .verify(&mint("bob", AuthMethod::Password, NOW), NOW, None, None)
        .expect("valid");
    t.address = Some("192.0.2.99".parse().expect("ip"));
    let bound = ring().mint(&t).expect("mint");
    assert_eq!(
        run(&p, &with_cookie(browser(), &bound)).reason(),
        Some(Reason::BadCookie)
    );
    t.address = Some("192.0.2.10".parse().expect("ip"));
    let bound = ring().mint(&t).expect("mint");
    assert_eq!(
        run(&p, &with_cookie(browser(), &bound)).verdict,
        Verdict::Allow
    );
    // From another address the bound ticket is refused and, as a stolen copy, cleared.
    let mut elsewhere = with_cookie(browser(), &bound);
    elsewhere.peer = Some("198.51.100.7".parse().expect("ip"));
    let d = run(&p, &elsewhere);
    assert_eq!(d.reason(), Some(Reason::BadCookie));
    assert!(d.set_cookie.is_some_and(|c| c.contains("Max-Age=0")));
    // A location without binding cannot check the address: it refuses the bound ticket but
    // keeps the cookie, which is still good where binding is on (no logout everywhere).
    let mut unbinding = policy();
    unbinding.bind_address = false;
    let d = run(&unbinding, &with_cookie(browser(), &bound));
    assert_eq!(d.reason(), Some(Reason::BadCookie));
    assert_eq!(d.set_cookie, None);
    // And the other way round: an unbound ticket where binding is on.
    let unbound = mint("bob", AuthMethod::Password, NOW);
    let d = run(&p, &with_cookie(browser(), &unbound));
    assert_eq!(d.reason(), Some(Reason::BadCookie));
    assert_eq!(d.set_cookie, None);
    // A forged ticket is still cleared everywhere.
    let d = run(&unbinding, &with_cookie(browser(), "forged"));
    assert!(d.set_cookie.is_some());
}

#[test]
fn logout_revokes_server_side() {
    let p = policy();
    let ticket = mint("bob", AuthMethod::Password, NOW - 60);
    let req = with_cookie(browser(), &ticket);
    let mut store = MemRevocations::default();
    let mut logout_req = req.clone();
    logout_req.query = Some("destination=//evil.example/".into());
    let d = logout(
        &p,
        &logout_req,
        NOW,
        true,
        &mut Stores {
            revocations: Some(&mut store),
        },
    );
    let Verdict::Redirect {
        location, status, ..
    } = &d.verdict
    else {
        panic!("{d:?}")
    };
    assert_eq!(
        (location.as_str(), *status),
        ("/", 303),
        "open redirect refused"
    );
    assert!(d.set_cookie.is_some());
    assert_eq!(store.0.len(), 1);
    let d = decide(
        &p,
        &req,
        NOW + 1,
        &mut Stores {
            revocations: Some(&mut store),
        },
    );
    assert_eq!(d.reason(), Some(Reason::BadCookie));
    // Without the store the same cookie would still pass: that is why revocation exists.
    assert_eq!(run(&p, &req).verdict, Verdict::Allow);
    // A failing store fails closed.
    let d = decide(
        &p,
        &req,
        NOW,
        &mut Stores {
            revocations: Some(&mut FailingStore),
        },
    );
    assert_eq!(d.status(), 500);
}

#[test]
fn ca_verified_certificate_maps_to_user() {
    let d = run(&policy(), &with_cert(browser(), ALICE, CertVerify::Success));
    assert_eq!(d.verdict, Verdict::Allow);
    let id = d.identity.expect("identity");
    assert_eq!((id.user.as_str(), id.method), ("alice", AuthMethod::Cert));
    assert_eq!(id.dn.as_deref(), Some("CN=alice,O=Fixture Org,C=XX"));
    assert_eq!(
        id.issuer_dn.as_deref(),
        Some("CN=Fixture CA,O=Fixture Org,C=XX")
    );
}

#[test]
fn revoked_certificate_is_final_even_with_a_valid_ticket() {
    let mut p = policy();
    p.crls = Some(CrlSet::parse(CRL).expect("crl"));
    let req = with_cookie(
        with_cert(browser(), MALLORY, CertVerify::Success),
        &mint("bob", AuthMethod::Password, NOW),
    );
    let d = run(&p, &req);
    assert_eq!(d.reason(), Some(Reason::RevokedCert));
    assert_eq!(
        run(&p, &with_cert(browser(), ALICE, CertVerify::Success)).verdict,
        Verdict::Allow
    );
    // A CRL past its nextUpdate refuses (fail closed).
    p.crls = Some(CrlSet::parse(CRL_EXPIRING).expect("crl"));
    let d = run(&p, &with_cert(browser(), ALICE, CertVerify::Success));
    assert_eq!(d.reason(), Some(Reason::BadCert));
    assert!(d.notes.iter().any(|n| n.id == "AUTHRS0214"));
}

/// The facts with the certificate handed over parsed (as the Envoy filter's cache does).
fn with_parsed_cert(
    mut r: RequestFacts<'static>,
    pem: &[u8],
    verify: CertVerify,
) -> RequestFacts<'static> {
    r.tls = TlsFacts {
        verify,
        parsed_cert: Some(std::sync::Arc::new(Certificate::parse(pem).expect("cert"))),
        ..TlsFacts::default()
    };
    r
}

#[test]
fn a_certificate_handed_over_parsed_is_judged_like_its_pem() {
    let mut p = policy();
    p.crls = Some(CrlSet::parse(CRL).expect("crl"));
    for pem in [ALICE, MALLORY, PINNED] {
        for verify in [CertVerify::Success, CertVerify::Generous] {
            let raw = run(&p, &with_cert(browser(), pem, verify.clone()));
            let parsed = run(&p, &with_parsed_cert(browser(), pem, verify.clone()));
            assert_eq!(raw.verdict, parsed.verdict);
            assert_eq!(raw.reason(), parsed.reason());
            assert_eq!(raw.identity, parsed.identity);
        }
    }
    // The parsed certificate is the one judged: bytes beside it are not parsed again.
    let mut req = with_parsed_cert(browser(), MALLORY, CertVerify::Success);
    req.tls.cert = Some(ALICE.to_vec());
    assert_eq!(run(&p, &req).reason(), Some(Reason::RevokedCert));
    let mut req = with_parsed_cert(browser(), ALICE, CertVerify::Success);
    req.tls.cert = Some(b"not a certificate".to_vec());
    assert_eq!(user(&run(&p, &req)), Some("alice"));
}

#[test]
fn cert_required_versus_fallthrough() {
    let ticket = mint("bob", AuthMethod::Password, NOW);
    let failed = with_cookie(
        with_cert(
            browser(),
            ALICE,
            CertVerify::Failed("unable to get issuer".into()),
        ),
        &ticket,
    );
    // Off (default): an untrusted certificate falls through to the ticket.
    assert_eq!(user(&run(&policy(), &failed)), Some("bob"));
    let mut p = policy();
    p.cert_required = true;
    assert_eq!(run(&p, &failed).reason(), Some(Reason::BadCert));
    assert_eq!(
        run(&p, &with_cookie(browser(), &ticket)).reason(),
        Some(Reason::NoCert)
    );
    p.methods = vec![Method::Cert];
    p.cert_required = false;
    assert_eq!(run(&p, &browser()).reason(), Some(Reason::NoCert));
}

/// The enrolment of the self-signed PINNED certificate as bob@example.org's laptop.
fn pinned_for_bob() -> EnrolledCerts {
    let mut enrolled = EnrolledCerts::default();
    let cert = Certificate::parse(PINNED).expect("cert");
    enrolled
        .enroll("bob@example.org", &cert, "laptop", NOW, 5)
        .expect("enroll");
    enrolled
}

#[test]
fn enrolled_certificates_under_optional_no_ca() {
    let mut p = policy();
    let generous = with_cert(browser(), PINNED, CertVerify::Generous);
    assert_eq!(
        run(&p, &generous).reason(),
        Some(Reason::BadCert),
        "unpinned and unverified"
    );
    p.enrolled = Some(pinned_for_bob());
    let d = run(&p, &generous);
    assert_eq!(user(&d), Some("bob@example.org"));
    assert_eq!(d.identity.map(|i| i.method), Some(AuthMethod::Cert));
    // mod_ssl reports a self-signed leaf under optional_no_ca as FAILED: pinned, it still passes.
    let failed = with_cert(
        browser(),
        PINNED,
        CertVerify::Failed("self-signed certificate".into()),
    );
    assert_eq!(user(&run(&p, &failed)), Some("bob@example.org"));
    let failed_unpinned = with_cert(
        browser(),
        ALICE,
        CertVerify::Failed("unable to get local issuer certificate".into()),
    );
    assert_eq!(run(&p, &failed_unpinned).reason(), Some(Reason::BadCert));
    // A CA-signed but unpinned certificate is still refused under GENEROUS.
    assert_eq!(
        run(&p, &with_cert(browser(), ALICE, CertVerify::Generous)).reason(),
        Some(Reason::BadCert)
    );
}

#[test]
fn a_ca_verified_certificate_whose_issuer_has_no_crl_is_refused() {
    // The CRL file is Fixture CA's; a certificate some other CA vouched for cannot be checked
    // against it (an operator who loaded the root's CRL while an intermediate issues the
    // clients would otherwise revoke nobody): refused, as mod_ssl's revocation check does.
    let mut p = policy();
    p.crls = Some(CrlSet::parse(CRL).expect("crl"));
    let other_ca = with_cert(browser(), PINNED, CertVerify::Success);
    let d = run(&p, &other_ca);
    assert_eq!(d.reason(), Some(Reason::BadCert), "{d:?}");
    assert!(
        d.notes.iter().any(|n| n.id == "AUTHRS0225"),
        "{:?}",
        d.notes
    );
    // Without CRLs nothing is asked of the issuer.
    p.crls = None;
    assert_eq!(user(&run(&p, &other_ca)), Some("bob laptop"));
    // Fixture CA's own certificates pass with its CRL, and a pinned certificate that no CA
    // vouched for is the enrolment's business, not the CRL's.
    p.crls = Some(CrlSet::parse(CRL).expect("crl"));
    assert_eq!(
        user(&run(&p, &with_cert(browser(), ALICE, CertVerify::Success))),
        Some("alice")
    );
    p.enrolled = Some(pinned_for_bob());
    let generous = with_cert(browser(), PINNED, CertVerify::Generous);
    assert_eq!(user(&run(&p, &generous)), Some("bob@example.org"));
}

#[test]
fn proxy_headers_only_from_trusted_peers() {
    let mut req = browser();
    req.headers.push((
        "SSL_CLIENT_S_DN".into(),
        "CN=admin,O=Fixture Org,C=XX".into(),
    ));
    req.headers
        .push(("SSL_CLIENT_VERIFY".into(), "SUCCESS".into()));
    let d = run(&policy(), &req);
    assert_eq!(d.reason(), Some(Reason::NoCookie), "spoofed DN ignored");
    assert!(d
        .spoofed_headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("SSL_CLIENT_S_DN")));
    assert!(d.notes.iter().any(|n| n.id == "AUTHRS0201"));

    let mut p = policy();
    p.trusted_proxies = TrustedProxies::parse("192.0.2.0/24").expect("cidr");
    let d = run(&p, &req);
    assert_eq!(user(&d), Some("admin"));
    assert!(d.spoofed_headers.is_empty());
    // With a CRL configured, a DN without a serial cannot be checked: refused.
    p.crls = Some(CrlSet::parse(CRL).expect("crl"));
    assert_eq!(run(&p, &req).reason(), Some(Reason::BadCert));
}

/// Certificate headers a peer may not assert are reported for removal on every decision, also
/// when the certificate method never runs (ticket only) or a ticket succeeds before it: the
/// shells strip only what is reported, and the upstream must never see a client's own copy.
#[test]
fn spoofed_proxy_headers_are_reported_whatever_method_decides() {
    let ticket = mint("bob", AuthMethod::Password, NOW - 60);
    let mut req = with_cookie(browser(), &ticket);
    req.headers
        .push(("SSL-Client-S-DN".into(), "CN=admin".into()));
    req.headers.push((
        "x_forwarded_client_cert".into(),
        "Subject=\"CN=admin\"".into(),
    ));
    for methods in [
        vec![Method::Ticket],
        vec![Method::Ticket, Method::Cert],
        vec![Method::Cert, Method::Ticket],
    ] {
        let mut p = policy();
        p.methods = methods.clone();
        for d in [
            run(&p, &req),
            recognize(&p, &req, NOW, &mut Stores::default()),
        ] {
            assert_eq!(user(&d), Some("bob"), "{methods:?}");
            assert_eq!(
                d.spoofed_headers,
                vec![
                    "SSL-Client-S-DN".to_string(),
                    "x_forwarded_client_cert".to_string()
                ],
                "{methods:?}"
            );
            let notes = d.notes.iter().filter(|n| n.id == "AUTHRS0201").count();
            assert_eq!(notes, 1, "{methods:?}: reported once");
        }
    }
}

/// From a proxy trusted for XFCC, only `X-Forwarded-Client-Cert` (dashes) is believed: Envoy's
/// `SANITIZE_SET` leaves a client's `x_forwarded_client_cert` alone, so that spelling is the
/// client's — ignored for the certificate and reported for removal, before or after the proxy's.
#[test]
fn an_underscore_xfcc_from_a_trusted_proxy_is_the_clients() {
    let mut p = policy();
    p.methods = vec![Method::Cert];
    p.trusted_proxies = TrustedProxies::parse("192.0.2.0/24")
        .expect("cidr")
        .with_headers(crate::proxy::ProxyHeaders::Xfcc);
    let forged = "Hash=00;Subject=\"CN=admin,O=Fixture Org,C=XX\"";
    let mut req = browser();
    req.headers
        .push(("x_forwarded_client_cert".into(), forged.into()));
    let d = run(&p, &req);
    assert_eq!(user(&d), None, "the client's own spelling is not believed");
    assert_eq!(
        d.spoofed_headers,
        vec!["x_forwarded_client_cert".to_string()]
    );
    // The proxy's element (dashes) is read, wherever the client's copy stands.
    let proxy: (Cow<str>, Cow<str>) = (
        "X-Forwarded-Client-Cert".into(),
        "Hash=11;Subject=\"CN=alice,O=Fixture Org,C=XX\"".into(),
    );
    for client_first in [true, false] {
        let mut req = browser();
        let client = ("x_forwarded_client_cert".into(), forged.to_string().into());
        if client_first {
            req.headers.extend([client, proxy.clone()]);
        } else {
            req.headers.extend([proxy.clone(), client]);
        }
        let d = run(&p, &req);
        assert_eq!(
            d.identity.as_ref().and_then(|i| i.dn.as_deref()),
            Some("CN=alice,O=Fixture Org,C=XX"),
            "client first: {client_first}"
        );
        assert_eq!(
            d.spoofed_headers,
            vec!["x_forwarded_client_cert".to_string()]
        );
    }
}

#[test]
fn require_rules_with_roles_and_methods() {
    let mut p = policy();
    p.roles = Some(RolesFile::parse("alice admin:projectX\nbob reader\n").expect("roles"));
    p.require = Some(RequireTree::parse("Require role admin projectX\n").expect("rules"));
    let alice = with_cert(browser(), ALICE, CertVerify::Success);
    assert_eq!(run(&p, &alice).verdict, Verdict::Allow);
    let bob = with_cookie(browser(), &mint("bob", AuthMethod::Password, NOW));
    let d = run(&p, &bob);
    assert_eq!((d.status(), d.reason()), (403, Some(Reason::Forbidden)));

    p.require = Some(RequireTree::parse("Require authn-method cert\n").expect("rules"));
    assert_eq!(
        run(&p, &bob).status(),
        403,
        "a password ticket never passes a cert-only resource"
    );
    assert_eq!(run(&p, &alice).verdict, Verdict::Allow);
    p.require = Some(RequireTree::parse("Require authn-method password\n").expect("rules"));
    assert_eq!(
        run(&p, &alice).verdict,
        Verdict::Allow,
        "cert satisfies password"
    );

    // OpenID between password and cert by default; AuthRsOpenIDStrength moves it.
    let carol = with_cookie(browser(), &mint("carol", AuthMethod::OpenId, NOW));
    assert_eq!(run(&p, &carol).verdict, Verdict::Allow);
    p.openid_strength = crate::identity::OpenIdStrength::BelowPassword;
    let d = run(&p, &carol);
    assert_eq!((d.status(), d.reason()), (403, Some(Reason::Forbidden)));
    assert_eq!(run(&p, &bob).verdict, Verdict::Allow);
    p.require = Some(RequireTree::parse("Require authn-method cert\n").expect("rules"));
    assert_eq!(run(&p, &carol).status(), 403);
    p.openid_strength = crate::identity::OpenIdStrength::Cert;
    assert_eq!(run(&p, &carol).verdict, Verdict::Allow);
    assert_eq!(run(&p, &bob).status(), 403);

    p.require = Some(RequireTree::parse("Require all granted\n").expect("rules"));
    let d = run(&p, &browser());
    assert_eq!((d.verdict, d.identity), (Verdict::Allow, None));
}

fn login_body(user: &str, pass: &str, dest: &str) -> Vec<u8> {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("credential_0", user)
        .append_pair("credential_1", pass)
        .append_pair("destination", dest)
        .finish()
        .into_bytes()
}

#[test]
fn overlong_credentials_fail_unchecked() {
    // A store that would accept anything and counts the checks it was asked for.
    struct Counting(usize);
    impl PasswordCheck for Counting {
        fn check(&mut self, _: &str, _: &str) -> Result<bool, String> {
            self.0 += 1;
            Ok(true)
        }
    }
    let p = policy();
    let post = form_post();
    let mut store = Counting(0);
    // SHA-crypt's cost grows with the square of the password: 16 KB would take seconds.
    let long = "a".repeat(crate::login::MAX_PASSWORD + 1);
    let long_user = "u".repeat(MAX_USER_LEN + 1);
    for (u, pw) in [("demo", long.as_str()), (long_user.as_str(), "pw")] {
        let d = login(&p, &post, &login_body(u, pw, "/app"), NOW, &mut store);
        assert_eq!(d.reason(), Some(Reason::BadCredentials), "{d:?}");
        assert!(d.set_cookie.is_none());
    }
    assert_eq!(
        store.0, 0,
        "an overlong credential reached the password store"
    );
    let ok = "a".repeat(crate::login::MAX_PASSWORD);
    let d = login(&p, &post, &login_body("demo", &ok, "/app"), NOW, &mut store);
    assert_eq!((d.status(), store.0), (303, 1));
    assert!(plausible_credentials("demo", &ok));
    assert!(!plausible_credentials("de\tmo", "x") && !plausible_credentials("", "x"));
    // An empty password is never handed to a checker (an LDAP-backed service could treat it as
    // an unauthenticated bind and say yes).
    assert!(!plausible_credentials("demo", ""));
    // Nor a name that could pass for another behind a checker that trims or ignores it.
    for user in ["demo ", " demo", "de\u{200b}mo", "\u{feff}demo"] {
        assert!(!plausible_credentials(user, "x"), "{user:?}");
    }
    assert!(plausible_credentials("Demo User", "x"));
    let before = store.0;
    let d = login(&p, &post, &login_body("demo", "", "/app"), NOW, &mut store);
    assert_eq!(d.reason(), Some(Reason::BadCredentials), "{d:?}");
    assert_eq!(
        store.0, before,
        "an empty password reached the password store"
    );
}

#[test]
fn login_form() {
    let p = policy();
    let mut users = Htpasswd::parse("demo:{SHA}ieSV55Qc+eQOaYDRSha/AjzNTJE=\n").expect("htpasswd");
    let post = form_post();
    let d = login(
        &p,
        &post,
        &login_body("demo", "demo", "/app/page?x=1"),
        NOW,
        &mut users,
    );
    let Verdict::Redirect {
        location, status, ..
    } = &d.verdict
    else {
        panic!("{d:?}")
    };
    assert_eq!((location.as_str(), *status), ("/app/page?x=1", 303));
    let set = d.set_cookie.clone().expect("cookie");
    assert!(
        set.contains("Secure") && set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let value = ticket_of(&set);
    assert_eq!(user(&run(&p, &with_cookie(browser(), value))), Some("demo"));
    // The login's ticket is bound to the cookie it is set in: another realm (another
    // AuthName, so another default cookie) sharing the key refuses it under its own name.
    let mut other_realm = policy();
    other_realm.cookie.name = "AuthRs_Admins".into();
    let renamed = with_cookie_named(browser(), "AuthRs_Admins", value);
    assert_eq!(
        run(&other_realm, &renamed).reason(),
        Some(Reason::BadCookie)
    );
    assert_eq!(
        ring().open_for("AuthRs_Test", value).map(|t| t.version),
        Ok(crate::ticket::TICKET_VERSION_BOUND)
    );

    let d = login(
        &p,
        &post,
        &login_body("demo", "wrong", "/app"),
        NOW,
        &mut users,
    );
    let Verdict::Redirect { location, .. } = &d.verdict else {
        panic!("{d:?}")
    };
    assert!(location.contains("reason=bad_credentials"), "{location}");
    assert!(d.set_cookie.is_none());

    let d = login(
        &p,
        &post,
        &login_body("demo", "demo", "https://evil.example/"),
        NOW,
        &mut users,
    );
    let Verdict::Redirect { location, .. } = &d.verdict else {
        panic!("{d:?}")
    };
    assert_eq!(location, "/");

    let d = login(
        &p,
        &post,
        b"credential_0=%FF%FE&credential_1=x",
        NOW,
        &mut users,
    );
    assert_eq!(d.status(), 400);
}

/// The Envoy filter checks logins against the site's table borrowed (`PasswordCheck for
/// &Htpasswd`): a borrowed table must refuse a wrong password and accept the right one exactly
/// as an owned one does.
#[test]
fn login_with_a_borrowed_htpasswd_checks_the_password() {
    let p = policy();
    let table = Htpasswd::parse("demo:{SHA}ieSV55Qc+eQOaYDRSha/AjzNTJE=\n").expect("htpasswd");
    let mut shared = &table;
    let post = form_post();
    let d = login(
        &p,
        &post,
        &login_body("demo", "wrong", "/app"),
        NOW,
        &mut shared,
    );
    assert_eq!(d.reason(), Some(Reason::BadCredentials), "{d:?}");
    assert!(d.set_cookie.is_none() && d.identity.is_none());
    let d = login(
        &p,
        &post,
        &login_body("demo", "demo", "/app"),
        NOW,
        &mut shared,
    );
    assert_eq!(d.status(), 303, "{d:?}");
    assert_eq!(user(&d), Some("demo"));
    assert!(d.set_cookie.is_some());
}

/// A password store that accepts any password and names the user `name` afterwards.
struct NamesUser(&'static str);

impl PasswordCheck for NamesUser {
    fn check(&mut self, _: &str, _: &str) -> Result<bool, String> {
        Ok(true)
    }
    fn canonical_user(&self) -> Option<String> {
        Some(self.0.into())
    }
}

/// A canonical name that is no user name (empty, or with a control character) fails the login
/// closed with the store named as the culprit (`AUTHRS0302`), not as a ticket-minting failure:
/// the engine checks the name itself instead of relying on the ticket encoder to refuse it.
#[test]
fn an_unusable_canonical_name_is_blamed_on_the_password_store() {
    let p = policy();
    let post = form_post();
    for bad in ["", "a\nb", "a\u{85}b"] {
        let d = login(
            &p,
            &post,
            &login_body("alice", "pw", "/app"),
            NOW,
            &mut NamesUser(bad),
        );
        let Verdict::Error { message } = &d.verdict else {
            panic!("{bad:?}: {d:?}")
        };
        assert!(message.contains("not a user name"), "{bad:?}: {message}");
        assert!(d.set_cookie.is_none() && d.identity.is_none(), "{bad:?}");
        assert!(
            d.notes
                .iter()
                .any(|n| n.id == "AUTHRS0302" && n.level == Level::Error),
            "{bad:?}: {:?}",
            d.notes
        );
        assert!(!d.notes.iter().any(|n| n.id == "AUTHRS0308"), "{bad:?}");
    }
    // A usable canonical name is the ticket's user, and the rename is logged.
    let d = login(
        &p,
        &post,
        &login_body("ALICE", "pw", "/app"),
        NOW,
        &mut NamesUser("alice"),
    );
    assert_eq!((d.status(), user(&d)), (303, Some("alice")));
    assert!(d.notes.iter().any(|n| n.id == "AUTHRS0308"));
}

/// An empty verified OpenID identity, or one with a control character, is refused by
/// `openid_login` itself with its own message (no ticket is attempted).
#[test]
fn openid_login_refuses_unusable_identities_itself() {
    let p = policy();
    for bad in ["", "https://op.example/a\nb", "https://op.example/a\u{0}"] {
        let d = openid_login(&p, &browser(), bad, Some("/app"), NOW);
        let Verdict::Error { message } = &d.verdict else {
            panic!("{bad:?}: {d:?}")
        };
        assert_eq!(
            message, "the verified OpenID identity is not a usable user name",
            "{bad:?}"
        );
        assert!(d.set_cookie.is_none() && d.identity.is_none(), "{bad:?}");
    }
}

/// Logout honours a safe `destination` query parameter (decoded, the first one if repeated)
/// and falls back to the default for a missing or unsafe one.
#[test]
fn logout_redirects_to_the_untainted_destination() {
    let mut p = policy();
    p.destinations.default_destination = "/home".into();
    let to = |query: Option<&str>| {
        let mut r = browser();
        r.query = query.map(|q| q.to_string().into());
        let d = logout(&p, &r, NOW, false, &mut Stores::default());
        assert!(d.set_cookie.is_some(), "{query:?}: the cookie is cleared");
        match d.verdict {
            Verdict::Redirect {
                location,
                status: 303,
                ..
            } => location,
            other => panic!("{query:?}: {other:?}"),
        }
    };
    assert_eq!(
        to(Some(
            "lang=en&destination=%2Fbye%3Fx%3D1&destination=%2Fother"
        )),
        "/bye?x=1"
    );
    assert_eq!(to(Some("destination=/bye")), "/bye");
    assert_eq!(to(None), "/home");
    assert_eq!(to(Some("lang=en")), "/home");
    assert_eq!(to(Some("destination=")), "/home");
    // `destination` is matched by name, not merely present somewhere.
    assert_eq!(to(Some("xdestination=/bye&destination_=/bye")), "/home");
    for evil in [
        "destination=%2F%2Fevil.example",
        "destination=/%5Cevil.example",
        "destination=%5C%5Cevil.example",
        "destination=javascript:alert(1)",
        "destination=https://evil.example/",
        "destination=/x%0D%0ASet-Cookie:%20a=b",
        "destination=/x%09y",
        "destination=%2F%252F%252Fevil.example",
        "destination=/.//evil.example",
        "destination=/a/..//evil.example",
    ] {
        assert_eq!(to(Some(evil)), "/home", "{evil}");
    }
}

/// An `Origin` that is exactly `scheme://Host` is same-origin, even when both spell out the
/// default port (browsers omit it, other clients may not); an Origin naming the default port
/// the Host leaves out, or another port, is not ours.
#[test]
fn origin_equal_to_the_host_is_same_origin_whatever_the_port() {
    let p = policy();
    let mut users = Htpasswd::parse("demo:{SHA}ieSV55Qc+eQOaYDRSha/AjzNTJE=\n").expect("htpasswd");
    let body = b"credential_0=demo&credential_1=demo&destination=%2F";
    let post = |host: &str, origin: &str, secure: bool| {
        let mut r = form_post();
        r.secure = secure;
        r.headers = vec![
            ("Host".into(), host.to_string().into()),
            ("Origin".into(), origin.to_string().into()),
        ];
        r
    };
    for (host, origin, secure) in [
        ("app.example.org:443", "https://app.example.org:443", true),
        ("APP.example.org:443", "https://app.example.org", true),
        ("app.example.org:80", "http://app.example.org:80", false),
        ("app.example.org:80", "http://app.example.org", false),
        ("app.example.org:8443", "https://app.example.org:8443", true),
    ] {
        let d = login(&p, &post(host, origin, secure), body, NOW, &mut users);
        assert_eq!(d.status(), 303, "{host} {origin}: {d:?}");
    }
    for (host, origin, secure) in [
        ("app.example.org:8443", "https://app.example.org", true),
        ("app.example.org", "https://app.example.org:8443", true),
        ("app.example.org:443", "https://app.example.org:8443", true),
        ("app.example.org:443", "http://app.example.org", true),
        (
            "app.example.org",
            "https://app.example.org.evil.example",
            true,
        ),
    ] {
        let d = login(&p, &post(host, origin, secure), body, NOW, &mut users);
        assert_eq!(
            (d.status(), d.set_cookie.is_none()),
            (403, true),
            "{host} {origin}"
        );
    }
}

mod from_settings {
    use super::*;
    use crate::config::{Settings, Shell};
    use std::collections::HashMap;

    const KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

    fn reader(files: HashMap<&'static str, String>) -> impl FnMut(&str) -> Result<Vec<u8>, String> {
        move |path: &str| {
            files
                .get(path)
                .map(|t| t.clone().into_bytes())
                .ok_or_else(|| format!("cannot read {path}"))
        }
    }

    fn enrolled_line(user: &str, n: u8) -> String {
        format!(
            "{user} {} 4102444800 device {n}\n",
            format!("{n:02x}").repeat(32)
        )
    }

    #[test]
    fn a_max_ticket_age_is_set_apart_from_the_lifetime_and_inherited() {
        let mut read = reader(HashMap::from([("/k", format!("{KEY}\n"))]));
        let mut parent = Settings::new();
        parent.set("AuthRsTicketKeyFile", &["/k"]).expect("set");
        // A lifetime (what a login location issues) is no limit on the tickets checked here.
        parent.set("AuthRsTicketLifetime", &["1h"]).expect("set");
        let p = Policy::from_settings(&parent, Shell::Apache, None, &mut read).expect("policy");
        assert_eq!((p.ticket_lifetime, p.max_ticket_age), (3600, None));
        let mut child = Settings::new();
        child.set("AuthRsMaxTicketAge", &["15m"]).expect("set");
        let p = Policy::from_settings(
            &Settings::merge(&parent, &child),
            Shell::Apache,
            None,
            &mut read,
        )
        .expect("policy");
        assert_eq!(p.max_ticket_age, Some(900));
        // Inherited by a nested section that does not repeat it.
        let nested = Settings::merge(&Settings::merge(&parent, &child), &Settings::new());
        let p = Policy::from_settings(&nested, Shell::Apache, None, &mut read).expect("policy");
        assert_eq!(p.max_ticket_age, Some(900));
        // Off again below.
        let mut off = Settings::new();
        off.set("AuthRsMaxTicketAge", &["Off"]).expect("set");
        let p = Policy::from_settings(
            &Settings::merge(&nested, &off),
            Shell::Apache,
            None,
            &mut read,
        )
        .expect("policy");
        assert_eq!(p.max_ticket_age, None);
    }

    #[test]
    fn apache_files_through_the_shells_reader() {
        let mut s = Settings::new();
        s.set("AuthRsTicketKeyFile", &["/k"]).expect("set");
        s.set("AuthRsRolesFile", &["/roles"]).expect("set");
        s.set("AuthRsLoginURL", &["/LOGIN"]).expect("set");
        let mut read = reader(HashMap::from([
            ("/k", format!("{KEY}\n")),
            ("/roles", "bob reader\n".to_string()),
        ]));
        let p =
            Policy::from_settings(&s, Shell::Apache, Some("Example"), &mut read).expect("policy");
        assert!(p.mod_ssl_dn, "the Apache shell renders DNs as mod_ssl does");
        assert_eq!(p.cookie.name, "AuthRs_Example");
        assert_eq!(p.login_url.as_deref(), Some("/LOGIN"));
        // The key from the file verifies a ticket minted with the same key.
        let ring = KeyRing::new(vec![TicketKey::from_base64(KEY).expect("key")]).expect("ring");
        let t = ring
            .mint(&Ticket::new("bob", AuthMethod::Password, NOW, 60))
            .expect("mint");
        let d = decide(
            &p,
            &with_cookie_named(browser(), "AuthRs_Example", &t),
            NOW,
            &mut Stores::default(),
        );
        assert_eq!(
            d.identity.map(|i| i.roles.to_list()),
            Some("reader".to_string())
        );

        let mut missing = reader(HashMap::new());
        let e = Policy::from_settings(&s, Shell::Apache, None, &mut missing)
            .expect_err("missing key file");
        assert!(
            e.to_string().contains("AuthRsTicketKeyFile") && e.to_string().contains("cannot read"),
            "{e}"
        );
        let mut short = reader(HashMap::from([
            ("/k", "c2hvcnQ=".to_string()),
            ("/roles", String::new()),
        ]));
        let e = Policy::from_settings(&s, Shell::Apache, None, &mut short).expect_err("short key");
        assert!(e.to_string().contains("AuthRsTicketKeyFile"), "{e}");
        assert!(
            !e.to_string().contains("c2hvcnQ"),
            "key material never appears in errors: {e}"
        );
    }

    #[test]
    fn enrolled_certs_max_applies_to_the_file() {
        let mut s = Settings::new();
        s.set("AuthRsEnrolledCertsFile", &["/enrolled"])
            .expect("set");
        s.set("AuthRsEnrolledCertsMax", &["2"]).expect("set");
        let two = enrolled_line("bob", 1) + &enrolled_line("bob", 2);
        let mut read = reader(HashMap::from([("/enrolled", two.clone())]));
        assert!(Policy::from_settings(&s, Shell::Apache, None, &mut read).is_ok());
        let three = two + &enrolled_line("bob", 3);
        let mut read = reader(HashMap::from([("/enrolled", three)]));
        let e =
            Policy::from_settings(&s, Shell::Apache, None, &mut read).expect_err("over the limit");
        assert!(
            e.to_string().contains("AuthRsEnrolledCertsMax")
                && e.to_string().contains("\"bob\" has 3"),
            "{e}"
        );
    }

    #[test]
    fn envoy_inline_keys_and_dn_form() {
        let s = Settings::from_json_str(&format!(
            r#"{{"ticket_keys": ["{KEY}"], "login_url": "/login"}}"#
        ))
        .expect("json");
        let p = Policy::from_settings(&s, Shell::Envoy, None, &mut |_: &str| {
            Err("no files in wasm".to_string())
        })
        .expect("policy");
        assert!(
            !p.mod_ssl_dn,
            "Envoy renders DNs like OpenSSL's RFC 2253 printer"
        );
        assert!(p.keys.is_some());
        let s = Settings::from_json_str(r#"{"ticket_keys": ["not base64!"]}"#).expect("json");
        let e = Policy::from_settings(&s, Shell::Envoy, None, &mut |_: &str| Err(String::new()))
            .expect_err("bad key");
        assert!(
            e.to_string().contains("ticket_keys") && !e.to_string().contains("not base64!"),
            "{e}"
        );
    }
}

fn with_cookie_named(
    mut r: RequestFacts<'static>,
    name: &str,
    value: &str,
) -> RequestFacts<'static> {
    r.headers
        .push(("Cookie".into(), format!("{name}={value}").into()));
    r
}

/// Attacks found in review, one test each.
mod review_attacks {
    use super::*;

    /// Refreshes `old` under `p`, logs out with the refreshed copy, and asserts that `old` (a
    /// copy stolen before the refresh) is refused afterwards; returns the refreshed copy.
    fn logout_refuses_the_copy_from_before_the_refresh(p: &Policy, old: &str) -> String {
        // A request refreshes the ticket: the browser now holds a different cookie value.
        let d = run(p, &with_cookie(browser(), old));
        let fresh = ticket_of(&d.set_cookie.expect("refreshed")).to_string();
        assert_ne!(fresh, old);
        let mut store = MemRevocations::default();
        logout(
            p,
            &with_cookie(browser(), &fresh),
            NOW,
            true,
            &mut Stores {
                revocations: Some(&mut store),
            },
        );
        let d = decide(
            p,
            &with_cookie(browser(), old),
            NOW + 1,
            &mut Stores {
                revocations: Some(&mut store),
            },
        );
        assert_eq!(d.reason(), Some(Reason::BadCookie));
        fresh
    }

    #[test]
    fn logout_revokes_refreshed_and_earlier_copies_of_the_session() {
        let mut p = policy();
        p.session_timeout = Some(600);
        let old = mint("bob", AuthMethod::Password, NOW - 400);
        logout_refuses_the_copy_from_before_the_refresh(&p, &old);
    }

    /// A password store that matches names case-insensitively and knows them in lower case
    /// (what an LDAP provider with AuthLDAPRemoteUserAttribute does).
    struct CaseInsensitive(Option<String>);

    impl PasswordCheck for CaseInsensitive {
        fn check(&mut self, user: &str, password: &str) -> Result<bool, String> {
            let ok = user.eq_ignore_ascii_case("mallory") && password == "pw";
            self.0 = ok.then(|| user.to_ascii_lowercase());
            Ok(ok)
        }
        fn canonical_user(&self) -> Option<String> {
            self.0.clone()
        }
    }

    #[test]
    fn the_ticket_names_the_user_as_the_password_store_does() {
        // Logging in as MALLORY must not slip past `Require not user mallory`.
        let mut p = policy();
        p.require = Some(
            RequireTree::parse(
                "<RequireAll>\nRequire valid-user\nRequire not user mallory\n</RequireAll>\n",
            )
            .expect("rules"),
        );
        let post = form_post();
        let d = login(
            &p,
            &post,
            &login_body("MALLORY", "pw", "/app"),
            NOW,
            &mut CaseInsensitive(None),
        );
        let value = ticket_of(d.set_cookie.as_deref().expect("cookie")).to_string();
        let d = run(&p, &with_cookie(browser(), &value));
        assert_eq!((user(&d), d.status()), (Some("mallory"), 403), "{d:?}");
        // A name the store gives that is no user name fails the login closed.
        struct Broken;
        impl PasswordCheck for Broken {
            fn check(&mut self, _: &str, _: &str) -> Result<bool, String> {
                Ok(true)
            }
            fn canonical_user(&self) -> Option<String> {
                Some("a\nb".into())
            }
        }
        let d = login(&p, &post, &login_body("ab", "x", "/app"), NOW, &mut Broken);
        assert_eq!((d.status(), d.set_cookie), (500, None));
    }

    #[test]
    fn a_foreign_page_cannot_log_the_browser_out() {
        let p = policy();
        let t = mint("bob", AuthMethod::Password, NOW - 10);
        let mut store = MemRevocations::default();
        for headers in [
            &[("Sec-Fetch-Site", "cross-site")][..],
            &[("Origin", "https://evil.example")],
            &[("Origin", "null")],
            // A sibling subdomain's <img>: same-site, but no navigation.
            &[
                ("Sec-Fetch-Site", "same-site"),
                ("Sec-Fetch-Mode", "no-cors"),
            ],
            &[("Sec-Fetch-Site", "same-site")],
            // …or its <iframe>: a navigation, but not a top-level one.
            &[
                ("Sec-Fetch-Site", "same-site"),
                ("Sec-Fetch-Mode", "navigate"),
                ("Sec-Fetch-Dest", "iframe"),
            ],
            // An <img> (or a style sheet, a script) in user content on the site itself.
            &[
                ("Sec-Fetch-Site", "same-origin"),
                ("Sec-Fetch-Mode", "no-cors"),
                ("Sec-Fetch-Dest", "image"),
            ],
            &[
                ("Sec-Fetch-Site", "same-origin"),
                ("Sec-Fetch-Dest", "style"),
            ],
            &[("Sec-Fetch-Dest", "Script")],
            // A prefetch or prerender (a <link rel=prefetch>, speculation rules), a link's ping.
            &[
                ("Sec-Fetch-Site", "same-origin"),
                ("Sec-Fetch-Dest", "empty"),
                ("Sec-Purpose", "prefetch"),
            ],
            &[
                ("Sec-Fetch-Mode", "navigate"),
                ("Sec-Fetch-Dest", "document"),
                ("Sec-Purpose", "prefetch;prerender"),
            ],
            &[("Purpose", "prefetch")],
            &[
                ("Ping-From", "https://site.example/"),
                ("Ping-To", "/LOGOUT"),
            ],
        ] {
            let name = format!("{headers:?}");
            let mut r = with_cookie(browser(), &t);
            r.headers.push(("Host".into(), "site.example".into()));
            r.headers.extend(
                headers
                    .iter()
                    .map(|(n, v)| (n.to_string().into(), v.to_string().into())),
            );
            let d = logout(
                &p,
                &r,
                NOW,
                true,
                &mut Stores {
                    revocations: Some(&mut store),
                },
            );
            assert_eq!((d.status(), d.set_cookie.as_deref()), (403, None), "{name}");
            assert!(store.0.is_empty(), "{name}: revoked");
        }
        // The site's own pages, a sibling's link followed by the user (a portal's logout
        // link), and clients sending neither header log out.
        for extra in [
            &[("Sec-Fetch-Site", "same-origin")][..],
            // The site's own script (an SPA's logout fetch) and its own frames.
            &[
                ("Sec-Fetch-Site", "same-origin"),
                ("Sec-Fetch-Mode", "cors"),
                ("Sec-Fetch-Dest", "empty"),
            ],
            &[
                ("Sec-Fetch-Site", "same-origin"),
                ("Sec-Fetch-Mode", "navigate"),
                ("Sec-Fetch-Dest", "iframe"),
            ],
            &[
                ("Sec-Fetch-Site", "same-site"),
                ("Sec-Fetch-Mode", "navigate"),
                ("Sec-Fetch-Dest", "document"),
            ],
            &[("Sec-Fetch-Site", "none"), ("Sec-Fetch-Mode", "navigate")],
            &[("Origin", "https://site.example")],
            &[],
        ] {
            let mut r = with_cookie(browser(), &t);
            r.headers.push(("Host".into(), "site.example".into()));
            r.headers.extend(
                extra
                    .iter()
                    .map(|(n, v)| (n.to_string().into(), v.to_string().into())),
            );
            let d = logout(&p, &r, NOW, false, &mut Stores::default());
            assert_eq!(d.status(), 303, "{extra:?}");
            assert!(d.set_cookie.is_some(), "{extra:?}");
        }
    }

    #[test]
    fn logout_after_a_key_rotation_revokes_copies_signed_with_the_old_key() {
        // A refresh re-signs with the ring's first key. After a rotation the browser's copy
        // carries the new key id, a copy stolen before it the old one: the session id must
        // not depend on the key, or logging out would leave the stolen copy working.
        let mut p = policy();
        p.session_timeout = Some(600);
        let old = mint("bob", AuthMethod::Password, NOW - 400);
        let new_key = TicketKey::new(&[7u8; 32]).expect("key");
        let old_key = TicketKey::new(&[42u8; 32]).expect("key");
        p.keys = Some(KeyRing::new(vec![new_key, old_key]).expect("ring"));
        let fresh = logout_refuses_the_copy_from_before_the_refresh(&p, &old);
        let new_only = KeyRing::new(vec![TicketKey::new(&[7u8; 32]).expect("key")]).expect("ring");
        assert!(
            new_only.open_for("AuthRs_Test", &fresh).is_ok(),
            "the refresh is signed with the new key"
        );
    }

    #[test]
    fn logout_revokes_address_bound_tickets_and_planted_duplicates() {
        let mut p = policy();
        p.bind_address = true;
        let mut t = Ticket::new("bob", AuthMethod::Password, NOW - 10, 3600);
        t.address = Some("192.0.2.10".parse().expect("ip"));
        let bound = ring().mint(&t).expect("mint");
        let mut store = MemRevocations::default();
        // Logout from another address (behind a NAT change), with a junk cookie planted first.
        let mut req = browser();
        req.peer = Some("198.51.100.1".parse().expect("ip"));
        req.headers.push((
            "Cookie".into(),
            format!("AuthRs_Test=junk; AuthRs_Test={bound}").into(),
        ));
        logout(
            &p,
            &req,
            NOW,
            true,
            &mut Stores {
                revocations: Some(&mut store),
            },
        );
        assert_eq!(store.0.len(), 1, "the real ticket was revoked");
        let d = decide(
            &p,
            &with_cookie(browser(), &bound),
            NOW + 1,
            &mut Stores {
                revocations: Some(&mut store),
            },
        );
        assert_eq!(d.reason(), Some(Reason::BadCookie));
    }

    /// Records each store write: a logout must write one batch, never a session twice.
    #[derive(Default)]
    struct CountingStore {
        mem: MemRevocations,
        batches: Vec<Vec<String>>,
    }

    impl RevocationStore for CountingStore {
        fn is_revoked(&mut self, id: &str, now: i64) -> Result<bool, StoreError> {
            self.mem.is_revoked(id, now)
        }
        fn revoke(&mut self, id: &str, until: i64) -> Result<(), StoreError> {
            self.revoke_all(&[(id.to_string(), until)])
        }
        fn revoke_all(&mut self, tickets: &[(String, i64)]) -> Result<(), StoreError> {
            self.batches
                .push(tickets.iter().map(|(id, _)| id.clone()).collect());
            tickets
                .iter()
                .try_for_each(|(id, until)| self.mem.revoke(id, *until))
        }
    }

    fn logout_with(p: &Policy, cookie: &str, store: &mut CountingStore) -> Decision {
        let mut req = browser();
        req.headers
            .push(("Cookie".into(), cookie.to_string().into()));
        logout(
            p,
            &req,
            NOW,
            true,
            &mut Stores {
                revocations: Some(store),
            },
        )
    }

    #[test]
    fn logout_writes_a_repeated_ticket_once_and_a_revoked_one_never() {
        let p = policy();
        let t = mint("bob", AuthMethod::Password, NOW - 10);
        // One valid ticket 300 times in one header (a cheap way to make every logout costly).
        let header = vec![format!("AuthRs_Test={t}"); 300].join("; ");
        let mut store = CountingStore::default();
        let d = logout_with(&p, &header, &mut store);
        assert_eq!(d.status(), 303);
        assert_eq!(store.batches.len(), 1, "one write");
        assert_eq!(
            store.batches[0].len(),
            1,
            "one session: {:?}",
            store.batches
        );
        // Logging out again with the same ticket writes nothing: it is revoked already.
        let d = logout_with(&p, &header, &mut store);
        assert_eq!(d.status(), 303);
        assert_eq!(store.batches.len(), 1, "no second write");
        assert_eq!(store.mem.0.len(), 1);
    }

    #[test]
    fn logout_revokes_each_session_once_in_one_write() {
        let mut p = policy();
        p.session_timeout = Some(600);
        let old = mint("bob", AuthMethod::Password, NOW - 400);
        // A refreshed copy of the same session (another cookie value, the same session id).
        let d = run(&p, &with_cookie(browser(), &old));
        let fresh = ticket_of(&d.set_cookie.expect("refreshed")).to_string();
        assert_ne!(fresh, old);
        let carol = mint("carol", AuthMethod::Password, NOW - 5);
        let mut store = CountingStore::default();
        let header = format!(
            "AuthRs_Test={old}; AuthRs_Test=junk; AuthRs_Test={fresh}; AuthRs_Test={carol}; AuthRs_Test={old}"
        );
        let d = logout_with(&p, &header, &mut store);
        assert_eq!(d.status(), 303);
        assert_eq!(store.batches.len(), 1, "one write");
        assert_eq!(
            store.batches[0].len(),
            2,
            "bob and carol: {:?}",
            store.batches
        );
        for t in [&old, &fresh, &carol] {
            let d = decide(
                &p,
                &with_cookie(browser(), t),
                NOW + 1,
                &mut Stores {
                    revocations: Some(&mut store),
                },
            );
            assert_eq!(d.reason(), Some(Reason::BadCookie));
        }
    }

    #[test]
    fn bound_mode_refuses_unbound_tickets_and_unknown_peers() {
        let mut p = policy();
        p.bind_address = true;
        let unbound = mint("bob", AuthMethod::Password, NOW - 10);
        assert_eq!(
            run(&p, &with_cookie(browser(), &unbound)).reason(),
            Some(Reason::BadCookie)
        );
        let mut users =
            Htpasswd::parse("demo:{SHA}ieSV55Qc+eQOaYDRSha/AjzNTJE=\n").expect("htpasswd");
        let mut post = browser();
        post.peer = None;
        let body = b"credential_0=demo&credential_1=demo&destination=%2F";
        let d = login(&p, &post, body, NOW, &mut users);
        assert_eq!(d.status(), 500, "no unbound ticket is minted");
        assert!(d.set_cookie.is_none());
    }

    #[test]
    fn tickets_are_bound_to_the_client_address_when_the_server_names_one() {
        // httpd with mod_remoteip: the peer is the load balancer, the client its user.
        let mut p = policy();
        p.bind_address = true;
        let mut users =
            Htpasswd::parse("demo:{SHA}ieSV55Qc+eQOaYDRSha/AjzNTJE=\n").expect("htpasswd");
        let mut post = browser();
        post.client = Some("198.51.100.7".parse().expect("ip"));
        let body = b"credential_0=demo&credential_1=demo&destination=%2F";
        let d = login(&p, &post, body, NOW, &mut users);
        let cookie = d.set_cookie.expect("minted");
        let value = cookie
            .split(';')
            .next()
            .and_then(|kv| kv.split_once('='))
            .map(|(_, v)| v.to_string())
            .expect("cookie value");
        let mut same = with_cookie(browser(), &value);
        same.client = post.client;
        assert_eq!(run(&p, &same).verdict, Verdict::Allow);
        // Another user behind the same balancer: same peer, another client.
        let mut other = with_cookie(browser(), &value);
        other.client = Some("198.51.100.8".parse().expect("ip"));
        assert_eq!(run(&p, &other).reason(), Some(Reason::BadCookie));
        // Straight from the balancer's address (no client named): not the user's either.
        assert_eq!(
            run(&p, &with_cookie(browser(), &value)).reason(),
            Some(Reason::BadCookie)
        );
    }

    #[test]
    fn trusted_proxy_without_headers_never_falls_back_to_its_own_certificate() {
        let mut p = policy();
        p.trusted_proxies = TrustedProxies::parse("192.0.2.0/24").expect("cidr");
        // The proxy's own TLS connection presents a client certificate (alice's).
        let req = with_cert(browser(), ALICE, CertVerify::Success);
        let d = run(&p, &req);
        assert_eq!(d.identity, None);
        assert_eq!(d.reason(), Some(Reason::NoCookie));
    }

    #[test]
    fn proxy_dn_and_certificate_must_agree() {
        let mut p = policy();
        p.trusted_proxies = TrustedProxies::parse("192.0.2.0/24").expect("cidr");
        let mut req = browser();
        req.headers.push((
            "SSL_CLIENT_S_DN".into(),
            "CN=mallory,O=Fixture Org,C=XX".into(),
        ));
        req.headers
            .push(("SSL_CLIENT_VERIFY".into(), "SUCCESS".into()));
        // The client adds the victim's (public) certificate; the proxy only set DN and VERIFY.
        let pem = String::from_utf8(ALICE.to_vec())
            .expect("pem")
            .replace('\n', " ");
        req.headers.push(("SSL-Client-Cert".into(), pem.into()));
        let d = run(&p, &req);
        assert_eq!(d.identity, None);
        assert_eq!(d.reason(), Some(Reason::BadCert));
        assert!(d.notes.iter().any(|n| n.id == "AUTHRS0203"));
    }

    /// A trusted proxy may assert the DN in either spelling (RFC 4514 escapes or mod_ssl's raw
    /// UTF-8): both name the forwarded certificate, so neither is taken for a spoof.
    #[test]
    fn proxy_dn_in_either_form_agrees_with_the_certificate() {
        let mut p = policy();
        p.trusted_proxies = TrustedProxies::parse("192.0.2.0/24").expect("cidr");
        let pem = String::from_utf8(JURGEN.to_vec())
            .expect("pem")
            .replace('\n', " ");
        for dn in [
            "CN=J\\C3\\BCrgen,O=Fixture Org,C=XX",
            "CN=Jürgen,O=Fixture Org,C=XX",
        ] {
            let mut req = browser();
            req.headers.push(("SSL_CLIENT_S_DN".into(), dn.into()));
            req.headers
                .push(("SSL_CLIENT_VERIFY".into(), "SUCCESS".into()));
            req.headers
                .push(("SSL-Client-Cert".into(), pem.clone().into()));
            let d = run(&p, &req);
            assert_eq!(user(&d), Some("Jürgen"), "{dn}: {d:?}");
        }
    }

    /// With the certificate required, a failed handshake that left no certificate body is
    /// refused even though enrolments exist (pinning needs a fingerprint): the ticket behind it
    /// must not step in as if no certificate had been tried.
    #[test]
    fn a_failed_verification_without_a_certificate_is_refused_under_pinning() {
        let mut p = policy();
        p.enrolled = Some(pinned_for_bob());
        p.cert_required = true;
        let mut req = with_cookie(browser(), &mint("bob", AuthMethod::Password, NOW));
        req.tls = TlsFacts {
            verify: CertVerify::Failed("self-signed certificate".into()),
            ..TlsFacts::default()
        };
        let d = run(&p, &req);
        assert_eq!(d.identity, None, "{d:?}");
        assert_eq!(d.reason(), Some(Reason::BadCert));
        assert!(
            d.notes.iter().any(|n| n.id == "AUTHRS0210"),
            "{:?}",
            d.notes
        );
    }

    /// With the certificate required, a trusted proxy that vouches for a certificate but names
    /// none (VERIFY without DN or body; XFCC with only a hash) has shown no certificate: refused
    /// as `no_cert`, and the ticket behind it does not step in ("no fallback").
    #[test]
    fn cert_required_is_not_met_by_a_verdict_without_a_certificate() {
        let mut p = policy();
        p.cert_required = true;
        p.trusted_proxies = TrustedProxies::parse("192.0.2.0/24").expect("cidr");
        let ticket = mint("bob", AuthMethod::Password, NOW);
        for headers in [
            vec![("SSL_CLIENT_VERIFY", "SUCCESS")],
            vec![("SSL_CLIENT_VERIFY", "GENEROUS")],
            vec![("SSL_CLIENT_I_DN", "CN=Fixture CA,O=Fixture Org,C=XX")],
        ] {
            let mut req = with_cookie(browser(), &ticket);
            for (n, v) in &headers {
                req.headers.push(((*n).into(), (*v).into()));
            }
            let d = run(&p, &req);
            assert_eq!(d.identity, None, "{headers:?}: {d:?}");
            assert_eq!(d.reason(), Some(Reason::NoCert), "{headers:?}");
        }
        let xfcc = p
            .trusted_proxies
            .clone()
            .with_headers(crate::proxy::ProxyHeaders::Xfcc);
        p.trusted_proxies = xfcc;
        let mut req = with_cookie(browser(), &ticket);
        req.headers
            .push(("X-Forwarded-Client-Cert".into(), "Hash=aa".into()));
        let d = run(&p, &req);
        assert_eq!(d.identity, None, "{d:?}");
        assert_eq!(d.reason(), Some(Reason::NoCert));
    }

    #[test]
    fn pinned_certificates_excuse_only_issuer_failures_and_expose_no_dn() {
        let mut p = policy();
        let mut enrolled = EnrolledCerts::default();
        enrolled
            .enroll(
                "bob@example.org",
                &Certificate::parse(PINNED).expect("cert"),
                "laptop",
                NOW,
                5,
            )
            .expect("enroll");
        p.enrolled = Some(enrolled);
        let ok = run(
            &p,
            &with_cert(
                browser(),
                PINNED,
                CertVerify::Failed("self-signed certificate".into()),
            ),
        );
        let id = ok.identity.expect("pinned");
        assert_eq!(
            (id.user.as_str(), id.dn),
            ("bob@example.org", None),
            "a self-chosen DN is not exposed"
        );
        for why in [
            "certificate has expired",
            "certificate revoked",
            "certificate signature failure",
        ] {
            let d = run(
                &p,
                &with_cert(browser(), PINNED, CertVerify::Failed(why.into())),
            );
            assert_eq!(d.reason(), Some(Reason::BadCert), "{why}");
        }
        // And `Require cert-dn` cannot be satisfied by a pinned certificate's own subject.
        p.require = Some(RequireTree::parse("Require cert-dn \"CN=bob laptop\"\n").expect("rules"));
        let d = run(&p, &with_cert(browser(), PINNED, CertVerify::Generous));
        assert_eq!(d.status(), 403);
    }
}

#[test]
fn cross_site_login_posts_are_refused() {
    let p = policy();
    let mut users = Htpasswd::parse("demo:{SHA}ieSV55Qc+eQOaYDRSha/AjzNTJE=\n").expect("htpasswd");
    let body = b"credential_0=demo&credential_1=demo&destination=%2F";
    let post = |headers: &[(&str, &str)]| {
        let mut r = browser();
        r.method = "POST".into();
        r.headers = headers
            .iter()
            .map(|(k, v)| (k.to_string().into(), v.to_string().into()))
            .collect();
        r
    };
    let same = post(&[
        ("Host", "app.example.org"),
        ("Origin", "https://app.example.org"),
    ]);
    assert_eq!(login(&p, &same, body, NOW, &mut users).status(), 303);
    let same_port = post(&[
        ("Host", "app.example.org:443"),
        ("Origin", "https://app.example.org"),
    ]);
    assert_eq!(login(&p, &same_port, body, NOW, &mut users).status(), 303);
    let no_origin = post(&[("Host", "app.example.org")]);
    assert_eq!(
        login(&p, &no_origin, body, NOW, &mut users).status(),
        303,
        "non-browser clients"
    );
    for bad in [
        post(&[
            ("Host", "app.example.org"),
            ("Origin", "https://evil.example"),
        ]),
        post(&[("Host", "app.example.org"), ("Origin", "null")]),
        post(&[
            ("Host", "app.example.org"),
            ("Origin", "http://app.example.org"),
        ]),
        post(&[
            ("Host", "app.example.org"),
            ("Sec-Fetch-Site", "cross-site"),
        ]),
        post(&[("Origin", "https://app.example.org")]),
    ] {
        let d = login(&p, &bad, body, NOW, &mut users);
        assert_eq!(
            (d.status(), d.set_cookie.is_none()),
            (403, true),
            "{:?}",
            bad.headers
        );
    }
}

#[test]
fn openid_login_issues_an_openid_ticket_and_refusals_carry_the_code() {
    let mut p = policy();
    p.methods = vec![Method::Ticket, Method::OpenId];
    let d = openid_login(
        &p,
        &browser(),
        "https://op.example/alice",
        Some("/app/page?x=1"),
        NOW,
    );
    let Verdict::Redirect {
        location, status, ..
    } = &d.verdict
    else {
        panic!("{d:?}")
    };
    assert_eq!((location.as_str(), *status), ("/app/page?x=1", 303));
    let set = d.set_cookie.clone().expect("cookie");
    let value = ticket_of(&set);
    let d = run(&p, &with_cookie(browser(), value));
    let id = d.identity.expect("identity from the openid ticket");
    assert_eq!(
        (id.user.as_str(), id.method),
        ("https://op.example/alice", AuthMethod::OpenId)
    );
    // An off-site destination is untainted like the password form's.
    let d = openid_login(
        &p,
        &browser(),
        "https://op.example/alice",
        Some("https://evil.example/"),
        NOW,
    );
    assert!(matches!(&d.verdict, Verdict::Redirect { location, .. } if location == "/"));
    // A control character never becomes a user name.
    let d = openid_login(&p, &browser(), "https://op.example/a\nb", None, NOW);
    assert!(matches!(d.verdict, Verdict::Error { .. }) && d.set_cookie.is_none());

    let reason = crate::reason::Reason::OpenId(crate::openid::ErrorCode::NonceReused);
    let d = openid_refused(&p, reason, "replay", Some("/app"));
    let Verdict::Redirect {
        location, status, ..
    } = &d.verdict
    else {
        panic!("{d:?}")
    };
    assert_eq!(*status, 303);
    assert!(location.contains("reason=nonce_reused"), "{location}");
    assert!(d.set_cookie.is_none());
    assert!(d
        .notes
        .iter()
        .any(|n| n.id == "AUTHRS0320" && n.message.contains("nonce_reused")));
    let (r, dest) = crate::login_page::query_params(location.split_once('?').map(|(_, q)| q));
    assert_eq!((r, dest.as_deref()), (Some(reason), Some("/app")));
}

#[test]
fn openid_needs_a_consumer_secret_and_takes_the_options() {
    use crate::config::{Settings, Shell};
    let mut s = Settings::new();
    s.set("AuthRsMethods", &["ticket", "openid"])
        .expect("methods");
    let mut read = |_: &str| -> Result<Vec<u8>, String> { Ok(b"a consumer secret\n".to_vec()) };
    let e = Policy::from_settings(&s, Shell::Apache, None, &mut read).expect_err("no secret");
    assert!(
        e.to_string().contains("AuthRsOpenIDConsumerSecretFile"),
        "{e}"
    );
    s.set("AuthRsOpenIDConsumerSecretFile", &["/etc/authrs/openid"])
        .expect("file");
    s.set("AuthRsOpenIDMinimumVersion", &["2"])
        .expect("version");
    s.set("AuthRsOpenIDNonceCheck", &["Off"]).expect("nonce");
    s.set("AuthRsOpenIDAllowPrivateAddresses", &["On"])
        .expect("private");
    s.set("AuthRsOpenIDAllowedProviders", &["https://op.example/auth"])
        .expect("allow");
    assert!(s
        .set("AuthRsOpenIDAllowedProviders", &["ftp://op.example/"])
        .is_err());
    assert!(s.set("AuthRsOpenIDRequiredRoot", &["/relative"]).is_err());
    assert!(s.set("AuthRsOpenIDAssocType", &["HMAC-MD5"]).is_err());
    // Neither a required root nor a realm: the site's own URL would be the request's Host,
    // which the client chooses — refused, naming both directives.
    let e = Policy::from_settings(&s, Shell::Apache, None, &mut read).expect_err("no site URL");
    assert!(
        e.to_string().contains("AuthRsOpenIDRequiredRoot")
            && e.to_string().contains("AuthRsOpenIDRealm"),
        "{e}"
    );
    let mut with_realm = s.clone();
    with_realm
        .set("AuthRsOpenIDRealm", &["https://rp.example/"])
        .expect("realm");
    let p = Policy::from_settings(&with_realm, Shell::Apache, None, &mut read).expect("policy");
    // A wildcard realm alone does not name this site's host: the return's Host would be
    // believed, so a login made for another relying party under the realm would pass here.
    let mut wildcard = s.clone();
    wildcard
        .set("AuthRsOpenIDRealm", &["https://*.rp.example/"])
        .expect("realm");
    let e = Policy::from_settings(&wildcard, Shell::Apache, None, &mut read).expect_err("wildcard");
    assert!(
        e.to_string().contains("wildcard realm")
            && e.to_string().contains("AuthRsOpenIDRequiredRoot"),
        "{e}"
    );
    let rp = p.openid.expect("relying party");
    assert_eq!(rp.minimum_version, crate::openid::Version::V2);
    assert_eq!(rp.nonce, crate::openid::nonce::NoncePolicy::NoCheck);
    assert!(rp.fetch.allow_private_addresses);
    assert!(rp.provider_allowed("https://op.example/auth"));
    assert!(!rp.provider_allowed("https://other.example/auth"));
    assert_eq!(
        rp.realm.as_ref().map(|r| r.as_str()),
        Some("https://rp.example/")
    );
    // The realm: validated when set, and it must contain required_root (checked at startup).
    assert!(s
        .set("AuthRsOpenIDRealm", &["https://a.*.example/"])
        .is_err());
    s.set("AuthRsOpenIDRequiredRoot", &["https://rp.example/app/"])
        .expect("root");
    // In one scope: refused as it is read, whichever comes second.
    let e = s
        .set("AuthRsOpenIDRealm", &["https://rp.example/other/"])
        .expect_err("outside");
    assert!(
        e.to_string().contains("does not contain required_root"),
        "{e}"
    );
    let mut realm_first = Settings::new();
    realm_first
        .set("AuthRsOpenIDRealm", &["https://rp.example/other/"])
        .expect("realm");
    assert!(realm_first
        .set("AuthRsOpenIDRequiredRoot", &["https://rp.example/app/"])
        .is_err());
    // Across scopes (realm above, root below): refused when the policy is built.
    let mut parent = s.clone();
    parent
        .set("AuthRsOpenIDRequiredRoot", &["https://rp.example/other/x/"])
        .expect("root");
    parent
        .set("AuthRsOpenIDRealm", &["https://rp.example/other/"])
        .expect("realm");
    let mut child = Settings::new();
    child
        .set("AuthRsOpenIDRequiredRoot", &["https://rp.example/app/"])
        .expect("root");
    let merged = Settings::merge(&parent, &child);
    let e = Policy::from_settings(&merged, Shell::Apache, None, &mut read).expect_err("outside");
    assert!(e.to_string().contains("AuthRsOpenIDRealm"), "{e}");
    assert!(
        e.to_string().contains("does not contain required_root"),
        "{e}"
    );
    s.set("AuthRsOpenIDRealm", &["https://*.rp.example/"])
        .expect("realm");
    let p = Policy::from_settings(&s, Shell::Apache, None, &mut read).expect("policy");
    let rp = p.openid.expect("relying party");
    assert_eq!(
        rp.realm.as_ref().map(|r| r.as_str()),
        Some("https://*.rp.example/")
    );
    // Without `openid` in the methods there is no relying party (and no secret is needed).
    let p =
        Policy::from_settings(&Settings::new(), Shell::Apache, None, &mut read).expect("policy");
    assert!(p.openid.is_none());
}

#[test]
fn a_short_consumer_secret_is_refused_without_printing_it() {
    use crate::config::{Settings, Shell};
    let mut s = Settings::new();
    s.set("AuthRsMethods", &["openid"]).expect("methods");
    s.set("AuthRsOpenIDConsumerSecretFile", &["/etc/authrs/openid"])
        .expect("file");
    s.set("AuthRsOpenIDRealm", &["https://rp.example/"])
        .expect("realm");
    let build = |secret: &'static [u8]| {
        let mut read = |_: &str| -> Result<Vec<u8>, String> { Ok(secret.to_vec()) };
        Policy::from_settings(&s, Shell::Apache, None, &mut read)
    };
    // 15 bytes (the trailing newline is not part of the secret): guessable offline from one
    // return_to's oic.time, so refused at startup; the message never holds the secret.
    let e = build(b"fifteen-bytes!!\n").expect_err("short");
    let text = e.to_string();
    assert!(text.contains("AuthRsOpenIDConsumerSecretFile"), "{text}");
    assert!(text.contains("15 bytes; at least 16"), "{text}");
    assert!(!text.contains("fifteen"), "{text}");
    assert!(build(b"\n").is_err());
    assert!(build(b"sixteen-bytes!!!\n")
        .expect("16 bytes")
        .openid
        .is_some());
    // Envoy: the inline key is held to the same minimum.
    let env = Settings::from_json(&serde_json::json!({
        "methods": ["openid"],
        "openid_realm": "https://rp.example/",
        "openid_consumer_secret": "short",
    }))
    .expect("settings");
    let mut no_file = |_: &str| -> Result<Vec<u8>, String> { Err("no files".into()) };
    let e = Policy::from_settings(&env, Shell::Envoy, None, &mut no_file).expect_err("short");
    assert!(e.to_string().contains("openid_consumer_secret"), "{e}");
    assert!(!e.to_string().contains("short\""), "{e}");
}

/// A location with `AuthRsMaxTicketAge` asks for a login at most that long ago, as
/// mod_auth_tkt's TKTAuthTimeout: an older ticket is refused there as `expired` but kept (it is
/// good elsewhere); without it only the ticket's own lifetime counts.
#[test]
fn a_location_lifetime_refuses_older_tickets_and_keeps_them() {
    let t = mint("bob", AuthMethod::Password, NOW - 1200);
    let d = run(&policy(), &with_cookie(browser(), &t));
    assert_eq!(user(&d), Some("bob"), "no limit by default: {d:?}");

    let mut sensitive = policy();
    sensitive.max_ticket_age = Some(900);
    let d = run(&sensitive, &with_cookie(browser(), &t));
    assert_eq!(d.reason(), Some(Reason::Expired), "{d:?}");
    assert_eq!(d.set_cookie, None, "kept for the other locations: {d:?}");
    assert!(
        d.notes.iter().any(|n| n.id == "AUTHRS0228"),
        "{:?}",
        d.notes
    );

    let recent = mint("bob", AuthMethod::Password, NOW - 600);
    let d = run(&sensitive, &with_cookie(browser(), &recent));
    assert_eq!(user(&d), Some("bob"), "{d:?}");
}
