//! The engine with `trusted_cas`: an unverified (Envoy ACCEPT_UNTRUSTED) certificate whose chain
//! leads to a configured CA counts as CA-verified; anything else stays pinned-only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use super::*;
use crate::cert::chain::TrustAnchors;
use crate::cert::crl::CrlSet;
use crate::cert::enrolled::EnrolledCerts;
use crate::cert::Certificate;
use crate::config::{Settings, Shell, TrustChainVerification};
use crate::cookies::{CookieSettings, SameSite};
use crate::identity::AuthMethod;
use crate::request::{CertVerify, RequestFacts, TlsFacts};

/// 2030-01-01: inside the fixtures' validity, after the CRL's thisUpdate.
const NOW: i64 = 1_893_456_000;

macro_rules! pem {
    ($name:literal) => {
        include_bytes!(concat!("../cert/chain/fixtures/", $name, ".pem")).as_slice()
    };
}

fn policy(trusted: bool) -> Policy {
    let cookie = CookieSettings {
        name: "AuthRs_Test".into(),
        domain: None,
        path: "/".into(),
        secure: true,
        http_only: true,
        same_site: SameSite::Lax,
        persistent: false,
    };
    let mut p = Policy::new(cookie, None);
    p.login_url = Some("/login.html".into());
    if trusted {
        p.trusted_cas = Some(TrustAnchors::parse(pem!("rsa-root")).expect("anchors"));
    }
    p
}

/// An Envoy request under ACCEPT_UNTRUSTED: the leaf and XFCC's `Chain=` (leaf first, as Envoy sends it).
fn untrusted(leaf: &[u8], chain: &[&[u8]]) -> RequestFacts<'static> {
    let mut whole = leaf.to_vec();
    for c in chain {
        whole.extend_from_slice(c);
    }
    RequestFacts {
        method: "GET".into(),
        path: "/app".into(),
        headers: vec![("Accept".into(), "text/html".into())],
        secure: true,
        tls: TlsFacts {
            verify: TrustChainVerification::AcceptUntrusted.cert_verify(true),
            cert: Some(leaf.to_vec()),
            chain: vec![whole],
            ..TlsFacts::default()
        },
        ..RequestFacts::default()
    }
}

fn run(p: &Policy, r: &RequestFacts) -> Decision {
    decide(p, r, NOW, &mut Stores::default())
}

fn noted(d: &Decision, id: &str) -> bool {
    d.notes.iter().any(|n| n.id == id)
}

#[test]
fn a_chain_to_a_trusted_ca_counts_as_ca_verified() {
    let req = untrusted(pem!("rsa-inter-leaf"), &[pem!("rsa-inter")]);
    let d = run(&policy(true), &req);
    assert_eq!(d.verdict, Verdict::Allow);
    let id = d.identity.expect("identity");
    assert_eq!(
        (id.user.as_str(), id.method),
        ("rsa inter leaf", AuthMethod::Cert)
    );
    // Exactly as SUCCESS: the DNs are exposed, the CA vouches for them.
    assert_eq!(id.dn.as_deref(), Some("O=authrs test,CN=rsa inter leaf"));
    assert_eq!(
        id.issuer_dn.as_deref(),
        Some("O=authrs test,CN=authrs test RSA intermediate")
    );
    // Without trusted_cas the same request is refused, as before.
    let d = run(&policy(false), &req);
    assert_eq!(d.reason(), Some(Reason::BadCert));
    assert!(noted(&d, "AUTHRS0215"));
}

#[test]
fn a_bad_chain_leaves_the_certificate_unverified() {
    let p = policy(true);
    for (leaf, chain, why) in [
        (pem!("rsa-inter-leaf"), &[][..], "no trusted issuer"),
        (
            pem!("rsa-inter-leaf"),
            &[pem!("rsa-inter-expired")][..],
            "expired",
        ),
        (
            pem!("evil-leaf"),
            &[pem!("evil-root")][..],
            "does not verify",
        ),
        (pem!("notca-leaf"), &[pem!("notca")][..], "not a CA"),
        (pem!("self-leaf"), &[][..], "no trusted issuer"),
    ] {
        let d = run(&p, &untrusted(leaf, chain));
        assert_eq!(d.reason(), Some(Reason::BadCert), "{why}");
        assert!(d.identity.is_none());
        let note = d.notes.iter().find(|n| n.id == "AUTHRS0224").expect(why);
        assert_eq!(note.level, Level::Debug);
        assert!(note.message.contains(why), "{}", note.message);
        assert!(noted(&d, "AUTHRS0215"), "{why}: the usual refusal");
    }
}

#[test]
fn pinned_certificates_still_pass_without_a_chain() {
    let mut p = policy(true);
    let self_signed = Certificate::parse(pem!("self-leaf")).expect("cert");
    let mut enrolled = EnrolledCerts::default();
    enrolled
        .enroll("user@example.org", &self_signed, "phone", NOW, 5)
        .expect("enroll");
    p.enrolled = Some(enrolled);
    let d = run(&p, &untrusted(pem!("self-leaf"), &[]));
    assert!(noted(&d, "AUTHRS0224"), "the chain attempt is still noted");
    let id = d.identity.expect("pinned");
    assert_eq!((id.user.as_str(), id.dn), ("user@example.org", None));
}

#[test]
fn a_good_chain_never_excuses_other_refusals() {
    let mut p = policy(true);
    p.crls =
        Some(CrlSet::parse(include_bytes!("../cert/chain/fixtures/rsa-root.crl")).expect("crl"));
    let d = run(&p, &untrusted(pem!("rsa-leaf-revoked"), &[]));
    assert_eq!(d.reason(), Some(Reason::RevokedCert));
    assert_eq!(
        run(&p, &untrusted(pem!("rsa-leaf"), &[])).verdict,
        Verdict::Allow,
        "the CRL revokes only its serial"
    );
    // An expired leaf is refused for that before any chain is looked at.
    let d = run(&p, &untrusted(pem!("rsa-leaf-expired"), &[]));
    assert_eq!(d.reason(), Some(Reason::BadCert));
    assert!(noted(&d, "AUTHRS0212") && !noted(&d, "AUTHRS0224"));
    // A TLS-layer failure is not GENEROUS: trusted_cas does not re-judge it.
    let mut req = untrusted(pem!("rsa-leaf"), &[]);
    req.tls.verify = CertVerify::Failed("certificate signature failure".into());
    assert_eq!(run(&p, &req).reason(), Some(Reason::BadCert));
    // Too many chain certificates: refused up front, the leaf stays unverified.
    let flood = [pem!("rsa-inter"); 11];
    let d = run(&p, &untrusted(pem!("rsa-inter-leaf"), &flood));
    assert_eq!(d.reason(), Some(Reason::BadCert));
}

macro_rules! crl {
    ($name:literal) => {
        include_bytes!(concat!("../cert/chain/fixtures/", $name, ".crl")).as_slice()
    };
}

/// `trusted_cas` = the CRL fixtures' root, with these CRLs (the intermediate's own always, so
/// the leaf has its issuer's CRL).
fn crl_policy(root_crl: &[u8]) -> Policy {
    let mut p = policy(false);
    p.trusted_cas = Some(TrustAnchors::parse(pem!("crl-root")).expect("anchors"));
    p.crls = Some(CrlSet::parse(&[root_crl, crl!("crl-inter")].concat()).expect("crls"));
    p
}

/// A sub-CA revoked by its issuer's CRL refuses the certificates under it as `revoked_cert`
/// (final: no fall-through to a ticket), pinned or not; the root's CRL listing nothing, or
/// the re-issued sub-CA, lets them pass.
#[test]
fn a_revoked_intermediate_refuses_its_certificates() {
    let p = crl_policy(crl!("crl-root"));
    let req = untrusted(pem!("crl-leaf"), &[pem!("crl-inter")]);
    let d = run(&p, &req);
    assert_eq!(d.reason(), Some(Reason::RevokedCert));
    assert!(d.identity.is_none());
    let note = d
        .notes
        .iter()
        .find(|n| n.id == "AUTHRS0213")
        .expect("noted");
    assert!(
        note.message.contains("CRL intermediate") && note.message.contains("1001"),
        "{}",
        note.message
    );
    // Pinning the leaf does not excuse its revoked issuer.
    let mut pinned = crl_policy(crl!("crl-root"));
    let leaf = Certificate::parse(pem!("crl-leaf")).expect("cert");
    let mut enrolled = EnrolledCerts::default();
    enrolled
        .enroll("user@example.org", &leaf, "laptop", NOW, 5)
        .expect("enroll");
    pinned.enrolled = Some(enrolled);
    assert_eq!(run(&pinned, &req).reason(), Some(Reason::RevokedCert));
    // The same chain when the root's CRL lists nothing; the re-issued sub-CA under the
    // revoking CRL.
    let d = run(&crl_policy(crl!("crl-root-empty")), &req);
    assert_eq!(d.verdict, Verdict::Allow);
    assert_eq!(d.identity.expect("user").user, "crl leaf");
    let reissued = untrusted(pem!("crl-leaf"), &[pem!("crl-inter-reissued")]);
    assert_eq!(run(&p, &reissued).verdict, Verdict::Allow);
}

/// Every CRL of the sub-CA's issuer past its nextUpdate: refused (`bad_cert`, logged as an
/// error like a leaf's stale CRL), never taken as unrevoked.
#[test]
fn a_stale_crl_above_the_leaf_refuses() {
    let p = crl_policy(crl!("crl-root-stale"));
    let d = run(
        &p,
        &untrusted(pem!("crl-leaf"), &[pem!("crl-inter-reissued")]),
    );
    assert_eq!(d.reason(), Some(Reason::BadCert));
    let note = d
        .notes
        .iter()
        .find(|n| n.id == "AUTHRS0214")
        .expect("noted");
    assert_eq!(note.level, Level::Error);
    assert!(note.message.contains("has expired"), "{}", note.message);
}

mod config {
    use super::*;

    fn build(json: &str) -> Result<Policy, crate::config::ConfigError> {
        let s = Settings::from_json_str(json)?;
        Policy::from_settings(&s, Shell::Envoy, None, &mut |_: &str| {
            Err("no files in wasm".to_string())
        })
    }

    #[test]
    fn trusted_cas_is_parsed_at_load() {
        let pem = std::str::from_utf8(pem!("rsa-root")).expect("utf-8");
        let p = build(&serde_json::json!({ "trusted_cas": pem }).to_string()).expect("policy");
        assert_eq!(p.trusted_cas.expect("anchors").subjects().len(), 1);
        // As an array of lines, the way JSON configs often carry PEM.
        let lines: Vec<&str> = pem.lines().collect();
        let p = build(&serde_json::json!({ "trusted_cas": lines }).to_string()).expect("lines");
        assert!(p.trusted_cas.is_some());
        assert!(build("{}").expect("none").trusted_cas.is_none());
    }

    #[test]
    fn bad_trusted_cas_names_the_key() {
        for (value, why) in [
            ("not PEM".to_string(), "no CA certificate"),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_string(),
                "trusted CA 1 is malformed",
            ),
            (
                String::from_utf8(pem!("rsa-leaf").to_vec()).expect("utf-8"),
                "not a CA certificate",
            ),
        ] {
            let json = serde_json::json!({ "trusted_cas": value }).to_string();
            let e = build(&json).expect_err(why);
            assert_eq!(e.option, "trusted_cas");
            assert!(e.to_string().contains(why), "{e}");
        }
    }

    #[test]
    fn trust_chain_verification_takes_envoys_values() {
        let s = Settings::from_json_str(r#"{"trust_chain_verification": "ACCEPT_UNTRUSTED"}"#)
            .expect("json");
        assert_eq!(
            s.trust_chain_verification(),
            TrustChainVerification::AcceptUntrusted
        );
        assert_eq!(
            Settings::new().trust_chain_verification(),
            TrustChainVerification::VerifyTrustChain
        );
        let e = Settings::from_json_str(r#"{"trust_chain_verification": "ACCEPT"}"#)
            .expect_err("bad value");
        assert_eq!(e.option, "trust_chain_verification");
        assert!(
            e.to_string()
                .contains("must be one of: VERIFY_TRUST_CHAIN, ACCEPT_UNTRUSTED"),
            "{e}"
        );
        assert!(
            Settings::new()
                .set("AuthRsTrustChainVerification", &["ACCEPT_UNTRUSTED"])
                .is_err(),
            "Envoy only"
        );
        let verify = TrustChainVerification::VerifyTrustChain;
        assert_eq!(verify.cert_verify(true), CertVerify::Success);
        assert_eq!(verify.cert_verify(false), CertVerify::None);
        assert_eq!(
            TrustChainVerification::AcceptUntrusted.cert_verify(true),
            CertVerify::Generous
        );
        assert_eq!(verify.as_str(), "VERIFY_TRUST_CHAIN");
    }
}
