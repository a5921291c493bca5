//! Verification scenarios with a scripted provider: one per error code, plus attacks.

use super::*;
use crate::openid::assoc::AssocType;
use crate::openid::checkid::{self, CheckIdParams};
use crate::openid::discovery::Mechanism;
use crate::openid::http::Method;
use crate::openid::message::NS_2_0;
use crate::openid::nonce;
use crate::openid::nonce::{format_time, NonceOptions};
use crate::openid::signed_time::ConsumerSecret;
use crate::openid::store::{
    AssociationStore, MemoryAssociationStore, MemoryNonceStore, NonceStore,
};

const NOW: i64 = 1_800_000_000;
const OP: &str = "https://op.example/auth";
const CLAIMED: &str = "https://me.example/alice";
const LOCAL: &str = "https://op.example/u/alice";
const RETURN: &str = "https://rp.example/openid/return?dest=%2Fhome";
const SIGNED_V2: &str = "op_endpoint,claimed_id,identity,return_to,response_nonce,assoc_handle";

fn page(v2: bool, v1: bool) -> String {
    let mut s = String::from("<html><head>");
    if v2 {
        s += &format!(
            r#"<link rel="openid2.provider" href="{OP}"><link rel="openid2.local_id" href="{LOCAL}">"#
        );
    }
    if v1 {
        s += &format!(
            r#"<link rel="openid.server" href="{OP}"><link rel="openid.delegate" href="{LOCAL}">"#
        );
    }
    s + "</head><body></body></html>"
}

fn html(body: String) -> HttpResponse {
    HttpResponse::new(200, body).with_header("Content-Type", "text/html")
}

fn assoc(assoc_type: AssocType, expiry: i64) -> Association {
    Association {
        server: OP.into(),
        handle: "h1".into(),
        secret: vec![5; assoc_type.key_len()],
        assoc_type,
        expiry,
    }
}

/// A relying party, its stores, and the provider's scripted behaviour.
struct Fx {
    rp: RelyingParty,
    nonces: MemoryNonceStore,
    assocs: MemoryAssociationStore,
    /// The claimed identifier's page (None: 404).
    page: Option<String>,
    /// Redirect the claimed identifier's URL here first.
    redirect: Option<String>,
    /// The check_authentication answer.
    check_auth: HttpResponse,
    /// Requests performed, in order.
    requests: Vec<HttpRequest>,
}

impl Fx {
    fn new() -> Fx {
        let mut assocs = MemoryAssociationStore::default();
        assocs
            .put(assoc(AssocType::HmacSha256, NOW + 3600))
            .unwrap();
        Fx {
            rp: RelyingParty::new(ConsumerSecret::new(b"sekrit").unwrap()),
            nonces: MemoryNonceStore::default(),
            assocs,
            page: Some(page(true, true)),
            redirect: None,
            check_auth: HttpResponse::new(
                200,
                "ns:http://specs.openid.net/auth/2.0\nis_valid:true\n",
            ),
            requests: Vec::new(),
        }
    }

    fn respond(&mut self, r: &HttpRequest) -> HttpResponse {
        self.requests.push(r.clone());
        match (r.method, r.url.as_str()) {
            (Method::Get, u) if u == CLAIMED => match (&self.redirect, &self.page) {
                (Some(to), _) => HttpResponse::new(302, "").with_header("Location", to),
                (None, Some(p)) => html(p.clone()),
                (None, None) => HttpResponse::new(404, ""),
            },
            (Method::Get, _) => html(self.page.clone().unwrap_or_default()),
            (Method::Post, u) if u == OP => self.check_auth.clone(),
            _ => HttpResponse::failed(),
        }
    }

    fn run_at(&mut self, current_url: &str, body: Option<&str>, now: i64) -> Outcome {
        let rp = self.rp.clone();
        let (mut nonces, mut assocs) = (
            std::mem::take(&mut self.nonces),
            std::mem::take(&mut self.assocs),
        );
        let mut stores = Stores {
            nonces: &mut nonces,
            associations: &mut assocs,
        };
        let mut step = rp.verify(ReturnRequest { current_url, body }, &mut stores, now);
        let outcome = loop {
            match step {
                VerifyStep::Done(o) => break o,
                VerifyStep::Fetch(req, pending) => {
                    assert!(self.requests.len() < 10, "too many fetches");
                    let resp = self.respond(&req);
                    step = pending.on_response(&rp, resp, &mut stores, now);
                }
            }
        };
        (self.nonces, self.assocs) = (nonces, assocs);
        outcome
    }

    fn run(&mut self, a: &Assertion) -> Outcome {
        self.run_at(&a.current_url(), None, NOW)
    }

    fn code(&mut self, a: &Assertion) -> Option<&'static str> {
        self.run(a).code()
    }
}

/// A positive assertion under construction: fields, then signed with an association.
#[derive(Clone)]
struct Assertion {
    fields: Vec<(String, String)>,
    return_to: String,
}

impl Assertion {
    fn v2() -> Assertion {
        let secret = ConsumerSecret::new(b"sekrit").unwrap();
        let return_to = format!("{RETURN}&oic.time={}", secret.sign(NOW - 10));
        let mut a = Assertion {
            fields: Vec::new(),
            return_to: return_to.clone(),
        };
        for (k, v) in [
            ("ns", NS_2_0),
            ("mode", "id_res"),
            ("op_endpoint", OP),
            ("claimed_id", CLAIMED),
            ("identity", LOCAL),
            ("return_to", &return_to),
            (
                "response_nonce",
                &format!("{}n1", format_time(NOW - 5).unwrap()),
            ),
            ("assoc_handle", "h1"),
            ("signed", SIGNED_V2),
        ] {
            a.set(k, v);
        }
        a.sign(AssocType::HmacSha256)
    }

    /// A 1.x assertion for a delegated identity, as a 1.x login started by check_url would get back.
    fn v1() -> Assertion {
        let secret = ConsumerSecret::new(b"sekrit").unwrap();
        let rt = format!(
            "{RETURN}&oic.identity={}&oic.time={}",
            url::form_urlencoded::byte_serialize(CLAIMED.as_bytes()).collect::<String>(),
            secret.sign(NOW - 10)
        );
        let mut a = Assertion {
            fields: Vec::new(),
            return_to: rt.clone(),
        };
        for (k, v) in [
            ("mode", "id_res"),
            ("identity", LOCAL),
            ("return_to", &rt),
            ("assoc_handle", "h1"),
            ("signed", "mode,identity,return_to"),
        ] {
            a.set(k, v);
        }
        a.sign(AssocType::HmacSha1)
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    fn set(&mut self, k: &str, v: &str) -> &mut Self {
        match self.fields.iter_mut().find(|(key, _)| key == k) {
            Some(f) => f.1 = v.to_string(),
            None => self.fields.push((k.to_string(), v.to_string())),
        }
        self
    }

    fn with(&self, k: &str, v: &str) -> Assertion {
        let mut a = self.clone();
        a.set(k, v);
        a
    }

    fn without(&self, k: &str) -> Assertion {
        let mut a = self.clone();
        a.fields.retain(|(key, _)| key != k);
        a
    }

    /// Signs the fields listed in `signed` with the association's secret, as the provider would.
    fn sign(mut self, t: AssocType) -> Assertion {
        let signed = self.get("signed").unwrap_or_default().to_string();
        let token: String = signed
            .split(',')
            .map(|f| format!("{f}:{}\n", self.get(f).unwrap_or_default()))
            .collect();
        let sig = assoc(t, 0).signature(token.as_bytes());
        self.set("sig", &sig);
        self
    }

    /// Changes a field and re-signs: a provider that really said this.
    fn signed_with(&self, k: &str, v: &str) -> Assertion {
        let t = if self.get("ns").is_some() {
            AssocType::HmacSha256
        } else {
            AssocType::HmacSha1
        };
        self.with(k, v).sign(t)
    }

    fn query(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.fields.iter().map(|(k, v)| (format!("openid.{k}"), v)))
            .finish()
    }

    /// The URL the browser comes back to: return_to plus the openid.* parameters.
    fn current_url(&self) -> String {
        format!("{}&{}", self.return_to, self.query())
    }
}

fn verified(o: Outcome) -> VerifiedIdentity {
    match o {
        Outcome::Verified(v) => v,
        other => panic!("expected verified, got {other:?}"),
    }
}

#[test]
fn verifies_with_an_hmac_sha256_association() {
    let mut fx = Fx::new();
    let v = verified(fx.run(&Assertion::v2()));
    assert_eq!(v.url, CLAIMED);
    assert_eq!(v.op_local_id, LOCAL);
    assert_eq!(v.server, OP);
    assert_eq!(v.version, Version::V2);
    assert_eq!(v.signed.get("claimed_id"), Some(CLAIMED));
    // One discovery GET, no check_authentication.
    assert_eq!(fx.requests.len(), 1);
    assert_eq!(fx.requests[0].url, CLAIMED);
    assert_eq!(fx.nonces.len(), 1);
}

#[test]
fn a_login_started_by_check_url_verifies() {
    let mut fx = Fx::new();
    let endpoint = Endpoint {
        server: OP.into(),
        version: Version::V2,
        claimed_id: CLAIMED.into(),
        local_id: Some(LOCAL.into()),
        op_identifier: false,
        mechanism: Mechanism::Html,
    };
    let params = CheckIdParams {
        return_to: RETURN,
        realm: Some("https://rp.example/"),
        delayed_return: true,
        assoc_handle: Some("h1"),
    };
    let url = checkid::check_url(&fx.rp, &endpoint, &params, NOW - 20).unwrap();
    let rt = Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "openid.return_to")
        .unwrap()
        .1
        .into_owned();
    let a = Assertion::v2().with("return_to", &rt);
    let a = Assertion { return_to: rt, ..a }.sign(AssocType::HmacSha256);
    verified(fx.run(&a));
}

#[test]
fn stateless_check_authentication() {
    let mut fx = Fx::new();
    fx.assocs = MemoryAssociationStore::default();
    fx.assocs
        .put(Association {
            handle: "stale".into(),
            ..assoc(AssocType::HmacSha256, NOW + 99)
        })
        .unwrap();
    fx.check_auth = HttpResponse::new(
        200,
        "ns:http://specs.openid.net/auth/2.0\nis_valid:true\ninvalidate_handle:stale\n",
    );
    let a = Assertion::v2()
        .signed_with("assoc_handle", "op-private")
        .with("invalidate_handle", "stale");
    let v = verified(fx.run(&a));
    assert_eq!(v.url, CLAIMED);
    let post = fx.requests.last().unwrap();
    assert_eq!((post.method, post.url.as_str()), (Method::Post, OP));
    let form: Vec<(String, String)> =
        url::form_urlencoded::parse(post.body.as_deref().unwrap().as_bytes())
            .into_owned()
            .collect();
    let get = |k: &str| {
        form.iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(get("openid.mode"), ["check_authentication"]);
    assert_eq!(get("openid.sig"), [a.get("sig").unwrap()]);
    assert_eq!(get("openid.invalidate_handle"), ["stale"]);
    assert_eq!(
        get("openid.response_nonce"),
        [a.get("response_nonce").unwrap()]
    );
    assert_eq!(form.len(), a.fields.len());
    // The provider's invalidate_handle removed our association.
    assert_eq!(fx.assocs.get(OP, "stale").unwrap(), None);
}

#[test]
fn check_authentication_failures() {
    let a = Assertion::v2().signed_with("assoc_handle", "unknown");
    for (resp, code) in [
        (
            HttpResponse::new(200, "is_valid:false\n"),
            "naive_verify_failed_return",
        ),
        (
            HttpResponse::new(200, "ns:http://specs.openid.net/auth/2.0\n"),
            "naive_verify_failed_return",
        ),
        (
            HttpResponse::new(200, "lifetime:100\n"),
            "naive_verify_failed_return",
        ),
        (
            HttpResponse::new(500, "is_valid:true\n"),
            "naive_verify_failed_network",
        ),
        (HttpResponse::failed(), "naive_verify_failed_network"),
        (
            HttpResponse::new(200, "is_valid:true"),
            "naive_verify_failed_network",
        ),
        (
            HttpResponse::new(200, "is_valid:false\nis_valid:true\n"),
            "naive_verify_failed_network",
        ),
    ] {
        let mut fx = Fx::new();
        fx.check_auth = resp;
        assert_eq!(fx.code(&a), Some(code));
        // Nothing was recorded: the genuine message may still be verified later.
        assert!(fx.nonces.is_empty());
    }
}

#[test]
fn signature_and_association_errors() {
    let mut fx = Fx::new();
    // A signed field changed after signing.
    let a = Assertion::v2().with("return_to", &format!("{}&x=1", Assertion::v2().return_to));
    let a = Assertion {
        return_to: a.get("return_to").unwrap().to_string(),
        ..a
    };
    assert_eq!(fx.code(&a), Some("signature_mismatch"));
    let a = Assertion::v2().with("sig", "AAAA");
    assert_eq!(fx.code(&a), Some("signature_mismatch"));
    // Signed with HMAC-SHA1 while the stored association is HMAC-SHA256.
    assert_eq!(
        fx.code(&Assertion::v2().sign(AssocType::HmacSha1)),
        Some("signature_mismatch")
    );
    let mut fx = Fx::new();
    fx.assocs
        .put(assoc(AssocType::HmacSha256, NOW - 1))
        .unwrap();
    assert_eq!(fx.code(&Assertion::v2()), Some("expired_association"));
}

#[test]
fn unescaped_plus_in_the_signature_is_read_as_plus() {
    // Find a signature with a '+' by varying the nonce, then send it with '+' decoded as ' '.
    let a = (0..200)
        .map(|i| {
            Assertion::v2().signed_with(
                "response_nonce",
                &format!("{}n{i}", format_time(NOW).unwrap()),
            )
        })
        .find(|a| a.get("sig").unwrap().contains('+'))
        .unwrap();
    let url = a.current_url().replace(
        &url::form_urlencoded::byte_serialize(a.get("sig").unwrap().as_bytes()).collect::<String>(),
        &a.get("sig").unwrap().replace('+', "%20"),
    );
    verified(Fx::new().run_at(&url, None, NOW));
}

#[test]
fn replays_are_refused_and_forgeries_burn_nothing() {
    let mut fx = Fx::new();
    let a = Assertion::v2();
    // A forged copy (bad signature) of a genuine message arrives first: refused, nonce not recorded.
    assert_eq!(
        fx.code(&a.with("sig", "Zm9yZ2Vk")),
        Some("signature_mismatch")
    );
    verified(fx.run(&a));
    let fetches = fx.requests.len();
    assert_eq!(fx.code(&a), Some("nonce_reused"));
    // The replay is caught before any network step.
    assert_eq!(fx.requests.len(), fetches);
    // nocheck: replays are the application's problem (the seed's option).
    let mut fx = Fx::new();
    fx.rp.nonce = serde_json::from_str::<NonceOptions>(r#"{"nocheck": true}"#)
        .unwrap()
        .resolve();
    verified(fx.run(&a));
    verified(fx.run(&a));
}

#[test]
fn a_nonce_kept_without_expiry_outlives_every_return_to_that_can_carry_it() {
    // ignoretime, or a lifetime of 0: the nonce is recorded without an expiry and the shells
    // keep it DEFAULT_NONCE_LIFETIME. The signed oic.time accepts the return for an hour, so
    // until then the same message must be a replay, not a second login.
    let a = Assertion::v2();
    for opts in [r#"{"ignoretime": true}"#, r#"{"lifetime": 0}"#] {
        let mut fx = Fx::new();
        fx.rp.nonce = serde_json::from_str::<NonceOptions>(opts)
            .unwrap()
            .resolve();
        fx.nonces.default_lifetime = Some(crate::openid::store::DEFAULT_NONCE_LIFETIME);
        verified(fx.run(&a));
        // oic.time was signed at NOW - 10; it is accepted up to MAX_AGE later.
        let last = NOW - 10 + crate::openid::signed_time::MAX_AGE;
        assert_eq!(
            fx.run_at(&a.current_url(), None, last).code(),
            Some("nonce_reused"),
            "{opts}"
        );
        // After that the message is refused whatever the cache holds.
        let mut fresh = Fx::new();
        fresh.rp.nonce = fx.rp.nonce;
        assert_eq!(
            fresh.run_at(&a.current_url(), None, last + 1).code(),
            Some("time_expired"),
            "{opts}"
        );
    }
}

#[test]
fn nonce_errors() {
    let a = Assertion::v2();
    let mut fx = Fx::new();
    let no_nonce = a.without("response_nonce").signed_with(
        "signed",
        "op_endpoint,claimed_id,identity,return_to,assoc_handle",
    );
    assert_eq!(fx.code(&no_nonce), Some("nonce_missing"));
    let stamp = |t: i64| format!("{}z", format_time(t).unwrap());
    assert_eq!(
        fx.code(&a.signed_with("response_nonce", "2027-13-01T00:00:00Zz")),
        Some("nonce_format")
    );
    assert_eq!(
        fx.code(&a.signed_with("response_nonce", &stamp(NOW - 1501))),
        Some("nonce_stale")
    );
    // Far in the future: fine by default, nonce_future with timecop.
    verified(fx.run(&a.signed_with("response_nonce", &stamp(NOW + 900))));
    fx.rp.nonce = NonceOptions {
        timecop: true,
        ..NonceOptions::default()
    }
    .resolve();
    assert_eq!(
        fx.code(&a.signed_with("response_nonce", &stamp(NOW + 901))),
        Some("nonce_future")
    );
}

#[test]
fn signed_time_errors() {
    let a = Assertion::v2();
    let secret = ConsumerSecret::new(b"sekrit").unwrap();
    let with_time = |t: &str| {
        let rt = format!(
            "{RETURN}&oic.time={}",
            url::form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()
        );
        Assertion {
            return_to: rt.clone(),
            ..a.signed_with("return_to", &rt)
        }
    };
    let mut fx = Fx::new();
    assert_eq!(
        fx.code(&with_time(&secret.sign(NOW - 3601))),
        Some("time_expired")
    );
    assert_eq!(
        fx.code(&with_time(&secret.sign(NOW + 31))),
        Some("time_in_future")
    );
    assert_eq!(
        fx.code(&with_time(
            &ConsumerSecret::new(b"other").unwrap().sign(NOW)
        )),
        Some("time_bad_sig")
    );
    let no_time = Assertion {
        return_to: RETURN.into(),
        ..a.signed_with("return_to", RETURN)
    };
    assert_eq!(fx.code(&no_time), Some("time_expired"));
    // An oic.time added to the current URL but not to return_to is not believed.
    let url = format!("{}&oic.time={}", no_time.current_url(), secret.sign(NOW));
    assert_eq!(fx.run_at(&url, None, NOW).code(), Some("time_expired"));
}

#[test]
fn return_to_errors() {
    let a = Assertion::v2();
    let mut fx = Fx::new();
    fx.rp = fx
        .rp
        .clone()
        .with_required_root("https://rp.example/other/")
        .unwrap();
    assert_eq!(fx.code(&a), Some("bogus_return_to"));
    let mut fx = Fx::new();
    fx.rp = fx
        .rp
        .clone()
        .with_required_root("https://rp.example/openid/")
        .unwrap();
    verified(fx.run(&a));
    // Sent back to another page than return_to names (2.0 §11.1).
    let elsewhere = a.current_url().replace("/openid/return?", "/openid/other?");
    assert_eq!(
        fx.run_at(&elsewhere, None, NOW).code(),
        Some("bogus_return_to")
    );
    let other_dest = a.current_url().replace("dest=%2Fhome", "dest=%2Fadmin");
    assert_eq!(
        fx.run_at(&other_dest, None, NOW).code(),
        Some("bogus_return_to")
    );
    let second_time = format!("{}&oic.time=1-x", a.current_url());
    assert_eq!(
        fx.run_at(&second_time, None, NOW).code(),
        Some("bogus_return_to")
    );
    assert_eq!(
        fx.code(&a.signed_with("return_to", "not a url")),
        Some("bogus_return_to")
    );
}

#[test]
fn a_login_made_for_another_site_is_refused_by_the_realm() {
    // evil.example had the provider sign a login whose return_to copies this site's paths and
    // a valid oic.time, then replays it here with `Host: evil.example`: return_to and the
    // current URL agree, so only the site's own URL (the realm) can tell.
    let secret = ConsumerSecret::new(b"sekrit").unwrap();
    let evil_rt = format!(
        "https://evil.example/openid/return?dest=%2Fhome&oic.time={}",
        secret.sign(NOW - 10)
    );
    let mut evil = Assertion::v2().signed_with("return_to", &evil_rt);
    evil.return_to = evil_rt;
    // Without a realm or required root the core cannot tell (so the shells refuse to run
    // OpenID without one).
    let mut fx = Fx::new();
    verified(fx.run(&evil));
    let mut fx = Fx::new();
    fx.rp = fx.rp.clone().with_realm("https://rp.example/").unwrap();
    assert_eq!(fx.code(&evil), Some("bogus_return_to"));
    verified(fx.run(&Assertion::v2()));
    // A wildcard realm covers the site's subdomains, not other sites.
    let mut fx = Fx::new();
    fx.rp = fx.rp.clone().with_realm("https://*.rp.example/").unwrap();
    assert_eq!(fx.code(&evil), Some("bogus_return_to"));
}

#[test]
fn discovery_bound_errors() {
    let a = Assertion::v2();
    // The claimed identifier's page names no provider, or is gone.
    let mut fx = Fx::new();
    fx.page = Some(page(false, false));
    assert_eq!(fx.code(&a), Some("no_identity_server"));
    fx.page = None;
    assert_eq!(fx.code(&a), Some("no_identity_server"));
    // A 1.x-only page cannot back a 2.0 assertion.
    fx.page = Some(page(false, true));
    assert_eq!(fx.code(&a), Some("no_identity_server"));
    let mut fx = Fx::new();
    assert_eq!(
        fx.code(&a.signed_with("claimed_id", "ftp://me.example/")),
        Some("no_identity_server")
    );
    // An OP that is not the one the identifier declares.
    let mut fx = Fx::new();
    assert_eq!(
        fx.code(&a.signed_with("op_endpoint", "https://evil.example/auth")),
        Some("server_not_allowed")
    );
    assert_eq!(
        fx.code(&a.signed_with("op_endpoint", "")),
        Some("server_not_allowed")
    );
    // Or one the allow-list does not name (refused before any fetch).
    let mut fx = Fx::new();
    fx.rp = fx
        .rp
        .clone()
        .with_allowed_providers(["https://op.example/other"])
        .unwrap();
    assert_eq!(fx.code(&a), Some("server_not_allowed"));
    assert!(fx.requests.is_empty());
    // Discovery of the claimed identifier ends elsewhere.
    let mut fx = Fx::new();
    fx.redirect = Some("https://me.example/bob".into());
    assert_eq!(fx.code(&a), Some("unexpected_url_redirect"));
    // The provider asserts an identity the claimed identifier does not delegate to.
    let mut fx = Fx::new();
    assert_eq!(
        fx.code(&a.signed_with("identity", "https://op.example/u/mallory")),
        Some("bogus_delegation")
    );
    // Nor the claimed identifier itself where the page delegates to an OP-local id (§11.2):
    // only the declared local id is what the page's owner set up.
    let mut fx = Fx::new();
    assert_eq!(
        fx.code(&a.signed_with("identity", CLAIMED)),
        Some("bogus_delegation")
    );
}

#[test]
fn a_fragment_in_claimed_id_is_kept_but_ignored_for_discovery() {
    let mut fx = Fx::new();
    let a = Assertion::v2().signed_with("claimed_id", &format!("{CLAIMED}#2"));
    assert_eq!(verified(fx.run(&a)).url, format!("{CLAIMED}#2"));
    assert_eq!(fx.requests[0].url, CLAIMED);
}

#[test]
fn unsigned_fields() {
    let a = Assertion::v2();
    let mut fx = Fx::new();
    for (signed, missing) in [
        (
            "claimed_id,identity,return_to,response_nonce,assoc_handle",
            "op_endpoint",
        ),
        (
            "op_endpoint,identity,return_to,response_nonce,assoc_handle",
            "claimed_id",
        ),
        (
            "op_endpoint,claimed_id,return_to,response_nonce,assoc_handle",
            "identity",
        ),
        (
            "op_endpoint,claimed_id,identity,response_nonce,assoc_handle",
            "return_to",
        ),
        (
            "op_endpoint,claimed_id,identity,return_to,assoc_handle",
            "response_nonce",
        ),
        (
            "op_endpoint,claimed_id,identity,return_to,response_nonce",
            "assoc_handle",
        ),
    ] {
        match fx.run(&a.signed_with("signed", signed)) {
            Outcome::Error(e) => {
                assert_eq!(e.code(), "unsigned_field");
                assert!(e.detail.contains(missing), "{}", e.detail);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_2_0_assertion_with_its_namespace_stripped_is_refused() {
    // openid.ns is not among the signed fields: removed on the way, the message reads as 1.x,
    // whose rules ask for no response_nonce and no op_endpoint. The signature still holds.
    let a = Assertion::v2();
    assert!(!SIGNED_V2.split(',').any(|f| f == "ns"));
    let mut fx = Fx::new();
    match fx.run(&a.without("ns")) {
        Outcome::Error(e) => {
            assert_eq!(e.code(), "bad_message", "{e:?}");
            assert!(e.detail.contains("openid.ns was removed"), "{}", e.detail);
        }
        other => panic!("{other:?}"),
    }
    // The message as sent verifies.
    verified(Fx::new().run(&a));
}

#[test]
fn a_name_signed_twice_is_refused_before_any_token_is_built() {
    // Correctly signed by the provider (an attacker's own, with an association), each copy of
    // `x` would put its 8 KB value into the token again: 4000 copies, a 32 MB token.
    let mut fx = Fx::new();
    let big = "a".repeat(8000);
    let list = format!("{SIGNED_V2},{}", ["x"; 4000].join(","));
    let a = Assertion::v2().with("x", &big).signed_with("signed", &list);
    assert_eq!(fx.code(&a), Some("bad_message"));
    // Even one repeat of a required field.
    let a = Assertion::v2().signed_with("signed", &format!("{SIGNED_V2},identity"));
    assert_eq!(fx.code(&a), Some("bad_message"));
    // The same list without the repeat verifies.
    let a = Assertion::v2()
        .with("x", &big)
        .signed_with("signed", &format!("{SIGNED_V2},x"));
    assert_eq!(fx.code(&a), None);
}

#[test]
fn missing_fields_and_modes() {
    let a = Assertion::v2();
    let mut fx = Fx::new();
    assert_eq!(fx.code(&a.without("identity")), Some("no_identity"));
    assert_eq!(fx.code(&a.without("sig")), Some("no_sig"));
    assert_eq!(fx.code(&a.without("return_to")), Some("no_return_to"));
    assert_eq!(fx.code(&a.with("mode", "checkid_setup")), Some("bad_mode"));
    match fx.run(&a.with("mode", "error").with("error", "database down")) {
        Outcome::Error(e) => assert_eq!(
            (e.code(), e.detail.as_ref()),
            ("provider_error", "database down")
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(fx.run(&a.with("mode", "cancel")), Outcome::Cancelled);
    assert_eq!(
        fx.run(&a.with("mode", "setup_needed")),
        Outcome::SetupNeeded {
            user_setup_url: None
        }
    );
    assert_eq!(
        fx.run_at("https://rp.example/openid/return?x=1", None, NOW),
        Outcome::NotOpenId
    );
    let dup = format!(
        "{}&openid.identity=https://op.example/u/mallory",
        a.current_url()
    );
    assert_eq!(fx.run_at(&dup, None, NOW).code(), Some("bad_message"));
    assert_eq!(
        fx.run_at("not a url", None, NOW).code(),
        Some("bad_message")
    );
    assert!(fx.requests.is_empty());
}

#[test]
fn openid_1_1_with_delegation() {
    let mut fx = Fx::new();
    fx.assocs.put(assoc(AssocType::HmacSha1, NOW + 60)).unwrap();
    let a = Assertion::v1();
    let v = verified(fx.run(&a));
    assert_eq!(
        (v.url.as_str(), v.op_local_id.as_str(), v.version),
        (CLAIMED, LOCAL, Version::V1)
    );
    // 1.x: identity and return_to must be signed.
    assert_eq!(
        fx.code(&a.signed_with("signed", "mode,identity")),
        Some("unsigned_field")
    );
    // The claimed identifier itself, where the page delegates to another identity: not what
    // discovery found (as in 2.0).
    assert_eq!(
        fx.code(&a.signed_with("identity", CLAIMED)),
        Some("bogus_delegation")
    );
    // user_setup_url on id_res is 1.x's setup_needed.
    let setup = Assertion::v1().with("user_setup_url", "https://op.example/setup");
    assert_eq!(
        fx.run(&setup),
        Outcome::SetupNeeded {
            user_setup_url: Some("https://op.example/setup".into())
        }
    );
    // 2.0 error mode is not a 1.x mode.
    assert_eq!(fx.code(&a.with("mode", "error")), Some("bad_mode"));
    // minimum_version 2: a 1.x response is not recognized at all.
    fx.rp.minimum_version = Version::V2;
    assert_eq!(fx.run(&a), Outcome::NotOpenId);
}

#[test]
fn openid_1_1_stateless_sends_the_signed_fields() {
    let mut fx = Fx::new();
    fx.check_auth = HttpResponse::new(200, "is_valid:true\n");
    let a = Assertion::v1().signed_with("assoc_handle", "dumb");
    verified(fx.run(&a));
    let post = fx.requests.last().unwrap();
    let form: Vec<(String, String)> =
        url::form_urlencoded::parse(post.body.as_deref().unwrap().as_bytes())
            .into_owned()
            .collect();
    let keys: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "openid.assoc_handle",
            "openid.signed",
            "openid.identity",
            "openid.return_to",
            "openid.sig",
            "openid.mode"
        ]
    );
}

#[test]
fn posted_responses() {
    let mut fx = Fx::new();
    let a = Assertion::v2();
    verified(fx.run_at(&a.return_to, Some(&a.query()), NOW));
}

#[test]
fn cached_endpoints_skip_discovery() {
    let mut fx = Fx::new();
    let rp = fx.rp.clone();
    let mut stores = Stores {
        nonces: &mut fx.nonces,
        associations: &mut fx.assocs,
    };
    let a = Assertion::v2();
    let url = a.current_url();
    let VerifyStep::Fetch(_, pending) = rp.verify(
        ReturnRequest {
            current_url: &url,
            body: None,
        },
        &mut stores,
        NOW,
    ) else {
        panic!("expected discovery");
    };
    assert_eq!(pending.discovering(), Some(CLAIMED));
    let endpoints = vec![Endpoint {
        server: OP.into(),
        version: Version::V2,
        claimed_id: CLAIMED.into(),
        local_id: Some(LOCAL.into()),
        op_identifier: false,
        mechanism: Mechanism::Yadis,
    }];
    let VerifyStep::Done(o) = pending.with_endpoints(&rp, endpoints, &mut stores, NOW) else {
        panic!("expected a verdict");
    };
    verified(o);
}

#[test]
fn a_discovery_cache_answers_instead_of_the_network() {
    let mut fx = Fx::new();
    let rp = fx.rp.clone();
    let mut stores = Stores {
        nonces: &mut fx.nonces,
        associations: &mut fx.assocs,
    };
    let url = Assertion::v2().current_url();
    let request = ReturnRequest {
        current_url: &url,
        body: None,
    };
    let endpoint = Endpoint {
        server: OP.into(),
        version: Version::V2,
        claimed_id: CLAIMED.into(),
        local_id: Some(LOCAL.into()),
        op_identifier: false,
        mechanism: Mechanism::Yadis,
    };
    // A hit: asked with the claimed identifier, no request described.
    let mut asked = Vec::new();
    let step = rp.verify_cached(request, &mut stores, NOW, |claimed| {
        asked.push(claimed.to_string());
        Some(vec![endpoint.clone()])
    });
    let VerifyStep::Done(o) = step else {
        panic!("expected a verdict without fetching");
    };
    assert_eq!(verified(o).url, CLAIMED);
    assert_eq!(asked, [CLAIMED]);
    // The nonce is now spent: the same assertion again is a replay, cache or not.
    let step = rp.verify_cached(request, &mut stores, NOW, |_| Some(vec![endpoint.clone()]));
    let VerifyStep::Done(o) = step else {
        panic!("expected a verdict");
    };
    assert_eq!(o.code(), Some("nonce_reused"));
    // Cached endpoints are held to the same rules as discovered ones.
    let fresh = format!("{}n2", format_time(NOW - 5).unwrap());
    let url = Assertion::v2()
        .signed_with("response_nonce", &fresh)
        .current_url();
    let request = ReturnRequest {
        current_url: &url,
        body: None,
    };
    let other_server = Endpoint {
        server: "https://evil.example/op".into(),
        ..endpoint.clone()
    };
    let step = rp.verify_cached(request, &mut stores, NOW, |_| Some(vec![other_server]));
    let VerifyStep::Done(o) = step else {
        panic!("expected a verdict");
    };
    assert_eq!(o.code(), Some("server_not_allowed"));
    let v1_only = Endpoint {
        version: Version::V1,
        ..endpoint.clone()
    };
    let step = rp.verify_cached(request, &mut stores, NOW, |_| Some(vec![v1_only]));
    let VerifyStep::Done(o) = step else {
        panic!("expected a verdict");
    };
    assert_eq!(o.code(), Some("no_identity_server"));
    // A miss: discovery as with verify.
    let step = rp.verify_cached(request, &mut stores, NOW, |_| None);
    let VerifyStep::Fetch(req, pending) = step else {
        panic!("expected discovery");
    };
    assert_eq!(req.url, CLAIMED);
    assert_eq!(pending.discovering(), Some(CLAIMED));
    // An op_endpoint written otherwise is normalized, then matches the cached endpoint.
    let url = Assertion::v2()
        .signed_with("op_endpoint", "HTTPS://OP.example:443/auth")
        .signed_with(
            "response_nonce",
            &format!("{}n5", format_time(NOW - 5).unwrap()),
        )
        .current_url();
    let request = ReturnRequest {
        current_url: &url,
        body: None,
    };
    let step = rp.verify_cached(request, &mut stores, NOW, |_| Some(vec![endpoint.clone()]));
    let VerifyStep::Done(o) = step else {
        panic!("expected a verdict");
    };
    assert_eq!(verified(o).server, OP);
    // The allow-list holds for cached endpoints too.
    let strict = rp
        .clone()
        .with_allowed_providers(["https://other.example/op"])
        .unwrap();
    let url = Assertion::v2()
        .signed_with(
            "response_nonce",
            &format!("{}n6", format_time(NOW - 5).unwrap()),
        )
        .current_url();
    let request = ReturnRequest {
        current_url: &url,
        body: None,
    };
    let step = strict.verify_cached(request, &mut stores, NOW, |_| Some(vec![endpoint.clone()]));
    let VerifyStep::Done(o) = step else {
        panic!("expected a verdict");
    };
    assert_eq!(o.code(), Some("server_not_allowed"));
    let allowed = rp.clone().with_allowed_providers([OP]).unwrap();
    let step = allowed.verify_cached(request, &mut stores, NOW, |_| Some(vec![endpoint.clone()]));
    let VerifyStep::Done(o) = step else {
        panic!("expected a verdict");
    };
    assert_eq!(verified(o).server, OP);
    // identifier_select is refused even when the cache has OP-identifier endpoints for it.
    let url = Assertion::v2()
        .signed_with("claimed_id", IDENTIFIER_SELECT)
        .signed_with(
            "response_nonce",
            &format!("{}n3", format_time(NOW - 5).unwrap()),
        )
        .current_url();
    let op_identifier = Endpoint {
        claimed_id: IDENTIFIER_SELECT.into(),
        local_id: Some(IDENTIFIER_SELECT.into()),
        op_identifier: true,
        ..endpoint.clone()
    };
    let step = rp.verify_cached(
        ReturnRequest {
            current_url: &url,
            body: None,
        },
        &mut stores,
        NOW,
        |_| Some(vec![op_identifier]),
    );
    let VerifyStep::Done(o) = step else {
        panic!("expected a verdict");
    };
    assert_eq!(o.code(), Some("no_identity_server"));
    // A claimed identifier that is not an http(s) URL is refused whatever the cache says.
    let url = Assertion::v2()
        .signed_with("claimed_id", "ftp://me.example/alice")
        .signed_with(
            "response_nonce",
            &format!("{}n4", format_time(NOW - 5).unwrap()),
        )
        .current_url();
    let ftp = Endpoint {
        claimed_id: "ftp://me.example/alice".into(),
        ..endpoint.clone()
    };
    let step = rp.verify_cached(
        ReturnRequest {
            current_url: &url,
            body: None,
        },
        &mut stores,
        NOW,
        |_| Some(vec![ftp]),
    );
    let VerifyStep::Done(o) = step else {
        panic!("expected a verdict");
    };
    assert_eq!(o.code(), Some("no_identity_server"));
}

/// A store that always fails.
struct Broken;

impl NonceStore for Broken {
    fn seen(&mut self, _: &str, _: UnixTime) -> Result<bool, StoreError> {
        Err(StoreError("socache down".into()))
    }
    fn check_and_insert(
        &mut self,
        _: &str,
        _: Option<UnixTime>,
        _: UnixTime,
    ) -> Result<bool, StoreError> {
        Err(StoreError("socache down".into()))
    }
}

#[test]
fn a_broken_store_fails_closed() {
    let rp = Fx::new().rp;
    let mut assocs = MemoryAssociationStore::default();
    let mut stores = Stores {
        nonces: &mut Broken,
        associations: &mut assocs,
    };
    let url = Assertion::v2().current_url();
    let VerifyStep::Done(o) = rp.verify(
        ReturnRequest {
            current_url: &url,
            body: None,
        },
        &mut stores,
        NOW,
    ) else {
        panic!("expected a verdict before any fetch");
    };
    assert_eq!(o.code(), Some("store_failed"));
}

#[test]
fn outcome_verdicts() {
    assert_eq!(Outcome::NotOpenId.verdict(), "not_openid");
    assert_eq!(Outcome::Cancelled.verdict(), "cancelled");
    assert_eq!(
        Outcome::SetupNeeded {
            user_setup_url: None
        }
        .verdict(),
        "setup_needed"
    );
    assert_eq!(Outcome::Error(ErrorCode::NoSig.into()).verdict(), "error");
    assert_eq!(Outcome::Cancelled.code(), None);
}

#[test]
fn every_seed_code_is_provoked() {
    use crate::openid::identifier;
    use std::collections::BTreeSet;
    let a = Assertion::v2();
    let secret = ConsumerSecret::new(b"sekrit").unwrap();
    let mut seen: BTreeSet<&'static str> = BTreeSet::new();
    // claimed_identity (C) codes.
    seen.insert(identifier::normalize(" ").unwrap_err().code());
    seen.insert(identifier::normalize("ftp://x/").unwrap_err().code());
    let v1_only = [Endpoint {
        server: OP.into(),
        version: Version::V1,
        claimed_id: CLAIMED.into(),
        local_id: None,
        op_identifier: false,
        mechanism: Mechanism::Html,
    }];
    seen.insert(
        checkid::choose_endpoint(&v1_only, Version::V2)
            .unwrap_err()
            .code(),
    );
    // verified_identity (V) codes, one scripted response each.
    let rt_time = |t: String| {
        let rt = format!("{RETURN}&oic.time={t}");
        Assertion {
            return_to: rt.clone(),
            ..a.signed_with("return_to", &rt)
        }
    };
    let stamp = |t: i64| format!("{}z", format_time(t).unwrap());
    type Case<'a> = (Box<dyn Fn(&mut Fx) + 'a>, Assertion);
    let cases: Vec<Case> = vec![
        (Box::new(|_| {}), a.with("mode", "error")),
        (Box::new(|_| {}), a.with("mode", "checkid_immediate")),
        (Box::new(|_| {}), a.without("identity")),
        (Box::new(|_| {}), a.without("sig")),
        (Box::new(|_| {}), a.without("return_to")),
        (
            Box::new(|fx| {
                fx.rp = fx
                    .rp
                    .clone()
                    .with_required_root("https://x.example/")
                    .unwrap()
            }),
            a.clone(),
        ),
        (
            Box::new(|_| {}),
            a.without("response_nonce").signed_with(
                "signed",
                "op_endpoint,claimed_id,identity,return_to,assoc_handle",
            ),
        ),
        (
            Box::new(|fx| {
                fx.nonces
                    .check_and_insert(
                        &nonce::store_key(OP, a.get("response_nonce").unwrap()),
                        None,
                        NOW,
                    )
                    .unwrap();
            }),
            a.clone(),
        ),
        (Box::new(|_| {}), a.signed_with("response_nonce", "garbage")),
        (
            Box::new(|fx| {
                fx.rp.nonce = NonceOptions {
                    timecop: true,
                    ..NonceOptions::default()
                }
                .resolve()
            }),
            a.signed_with("response_nonce", &stamp(NOW + 999)),
        ),
        (
            Box::new(|_| {}),
            a.signed_with("response_nonce", &stamp(NOW - 9999)),
        ),
        (Box::new(|_| {}), rt_time(secret.sign(NOW - 9999))),
        (Box::new(|_| {}), rt_time(secret.sign(NOW + 999))),
        (Box::new(|_| {}), rt_time(format!("{NOW}-0000"))),
        (Box::new(|fx| fx.page = None), a.clone()),
        (
            Box::new(|_| {}),
            a.signed_with("op_endpoint", "https://evil.example/"),
        ),
        (
            Box::new(|fx| fx.redirect = Some("https://me.example/bob".into())),
            a.clone(),
        ),
        (
            Box::new(|_| {}),
            a.signed_with("identity", "https://op.example/u/eve"),
        ),
        (Box::new(|_| {}), a.signed_with("signed", "identity")),
        (
            Box::new(|fx| {
                fx.assocs
                    .put(assoc(AssocType::HmacSha256, NOW - 1))
                    .unwrap();
            }),
            a.clone(),
        ),
        (Box::new(|_| {}), a.with("sig", "AAAA")),
        (
            Box::new(|fx| fx.check_auth = HttpResponse::new(503, "")),
            a.signed_with("assoc_handle", "dumb"),
        ),
        (
            Box::new(|fx| fx.check_auth = HttpResponse::new(200, "is_valid:false\n")),
            a.signed_with("assoc_handle", "dumb"),
        ),
    ];
    for (setup, assertion) in cases {
        let mut fx = Fx::new();
        setup(&mut fx);
        let code = fx.code(&assertion).unwrap_or("none");
        assert!(seen.insert(code), "{code} provoked twice or not an error");
    }
    let seed: BTreeSet<&str> = ErrorCode::SEED.iter().map(|c| c.code()).collect();
    assert_eq!(seen, seed);
}

#[test]
fn signed_list_reads_openid_signed_like_a_split() {
    // The one-pass reader keeps exactly what split(',') + the name rule keeps, in order.
    for list in [
        "",
        ",",
        "identity",
        "op_endpoint,claimed_id,identity,return_to,response_nonce,assoc_handle",
        ",identity,,return_to,",
        "ns.sreg,sreg.email,bad name,x:y,é,ok_1",
        "a,,b,c d,e.f,",
    ] {
        let q = format!(
            "openid.mode=id_res&openid.signed={}",
            url::form_urlencoded::byte_serialize(list.as_bytes()).collect::<String>()
        );
        let msg = Message::parse(&q, Version::V1).unwrap().unwrap();
        let want: Vec<&str> = list
            .split(',')
            .filter(|f| {
                !f.is_empty()
                    && f.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
            })
            .collect();
        let signed = SignedList::of(&msg).unwrap();
        assert_eq!(signed.names(&msg).collect::<Vec<_>>(), want, "{list:?}");
    }
    let none = SignedFields::default();
    assert_eq!((none.get("mode"), none.iter().count()), (None, 0));
}

#[test]
fn signed_list_refuses_a_repeat_in_short_and_long_lists_alike() {
    // Up to 16 names are compared pair by pair, more are sorted: both refuse any repeat and
    // name the first repeated name in sorted order; unique lists of either length pass.
    let of = |names: &[String]| {
        let q = format!("openid.mode=id_res&openid.signed={}", names.join("%2C"));
        SignedList::of(&Message::parse(&q, Version::V1).unwrap().unwrap())
    };
    for n in [2usize, 15, 16, 17, 40] {
        let mut names: Vec<String> = (0..n).map(|i| format!("f{i:02}")).collect();
        assert_eq!(of(&names).unwrap().0.len(), n, "{n}");
        names.push(names[n - 1].clone());
        names.insert(0, names[0].clone());
        let e = of(&names).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadMessage, "{n}");
        assert!(e.detail.contains("\"f00\""), "{n}: {}", e.detail);
    }
}

#[test]
fn signed_fields_list_exactly_what_was_signed_and_compare_by_content() {
    // An unsigned extension rides along; only the signed fields are exposed, sorted by key.
    let list = format!("{SIGNED_V2},ext.sreg");
    let a = Assertion::v2()
        .with("ext.extra", "unsigned")
        .with("ext.sreg", "x")
        .signed_with("signed", &list);
    let v = verified(Fx::new().run(&a));
    let mut want: Vec<(String, String)> = list
        .split(',')
        .map(|k| (k.to_string(), a.get(k).unwrap().to_string()))
        .collect();
    want.sort();
    let got: Vec<(String, String)> = v
        .signed
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(v.signed.get("ext.extra"), None);
    assert_eq!(v.signed.get("ext.sreg"), Some("x"));
    // Equal content compares equal; a different signed value does not.
    let again = verified(Fx::new().run(&a));
    assert_eq!(v.signed, again.signed);
    let other = verified(Fx::new().run(&a.signed_with("ext.sreg", "y")));
    assert_ne!(v.signed, other.signed);
    assert_ne!(v.signed, SignedFields::default());
}

#[test]
fn an_op_endpoint_written_otherwise_is_normalized_before_the_allow_list() {
    // The provider signs its endpoint in another spelling: it is normalized before the
    // allow-list and the replay key see it, whether or not a discovery cache answers.
    let a = Assertion::v2().signed_with("op_endpoint", "https://OP.example:443/auth");
    let allow = |fx: &mut Fx| {
        fx.rp = fx.rp.clone().with_allowed_providers([OP]).unwrap();
    };
    let mut fx = Fx::new();
    allow(&mut fx);
    assert_eq!(verified(fx.run(&a)).server, OP);
    let mut fx = Fx::new();
    allow(&mut fx);
    let rp = fx.rp.clone();
    let mut stores = Stores {
        nonces: &mut fx.nonces,
        associations: &mut fx.assocs,
    };
    let url = a.current_url();
    let request = ReturnRequest {
        current_url: &url,
        body: None,
    };
    let endpoint = Endpoint {
        server: OP.into(),
        version: Version::V2,
        claimed_id: CLAIMED.into(),
        local_id: Some(LOCAL.into()),
        op_identifier: false,
        mechanism: Mechanism::Yadis,
    };
    let step = rp.verify_cached(request, &mut stores, NOW, |_| Some(vec![endpoint.clone()]));
    let VerifyStep::Done(o) = step else {
        panic!("expected a verdict without fetching");
    };
    assert_eq!(verified(o).server, OP);
}

#[test]
fn openid_1_0_check_authentication_needs_a_positive_lifetime() {
    // A 1.0 provider answers `lifetime` instead of `is_valid`: only a positive one vouches.
    let a = Assertion::v1().signed_with("assoc_handle", "dumb");
    for (lifetime, ok) in [("1", true), ("3600", true), ("0", false), ("-1", false)] {
        let mut fx = Fx::new();
        fx.check_auth = HttpResponse::new(200, format!("lifetime:{lifetime}\n"));
        let o = fx.run(&a);
        let want = if ok {
            None
        } else {
            Some("naive_verify_failed_return")
        };
        assert_eq!(o.code(), want, "lifetime {lifetime}");
        assert_eq!(o.verdict() == "verified", ok, "lifetime {lifetime}");
    }
}

#[test]
fn the_verified_url_is_the_normalized_claimed_identifier() {
    // A claimed_id signed in another spelling of the discovered identifier verifies as the
    // normalized URL, never as the provider's text.
    let mut fx = Fx::new();
    let a = Assertion::v2().signed_with("claimed_id", "https://ME.example:443/alice");
    assert_eq!(verified(fx.run(&a)).url, CLAIMED);
    // 1.x: the same for oic.identity.
    let secret = ConsumerSecret::new(b"sekrit").unwrap();
    let rt = format!(
        "{RETURN}&oic.identity={}&oic.time={}",
        url::form_urlencoded::byte_serialize(b"https://ME.example:443/alice").collect::<String>(),
        secret.sign(NOW - 10)
    );
    let a = Assertion::v1().with("return_to", &rt);
    let a = Assertion { return_to: rt, ..a }.sign(AssocType::HmacSha1);
    let mut fx = Fx::new();
    fx.assocs.put(assoc(AssocType::HmacSha1, NOW + 60)).unwrap();
    assert_eq!(verified(fx.run(&a)).url, CLAIMED);
}

/// Verifies `a` with a discovery cache that answers `endpoints` (no fetch is expected).
fn run_cached(a: &Assertion, endpoints: Vec<Endpoint>) -> Outcome {
    let mut fx = Fx::new();
    let rp = fx.rp.clone();
    let mut stores = Stores {
        nonces: &mut fx.nonces,
        associations: &mut fx.assocs,
    };
    let url = a.current_url();
    let request = ReturnRequest {
        current_url: &url,
        body: None,
    };
    match rp.verify_cached(request, &mut stores, NOW, |_| Some(endpoints)) {
        VerifyStep::Done(o) => o,
        VerifyStep::Fetch(r, _) => panic!("unexpected fetch of {}", r.url),
    }
}

#[test]
fn a_cache_hit_never_skips_the_claimed_identifier_checks() {
    // The cache's endpoints name the asserted claimed identifier byte for byte, yet the
    // identifier could never have been discovered: too long, identifier_select, not a URL,
    // or named only by an OP identifier's endpoint. Each is refused as without a cache.
    let ep = |claimed_id: &str, op_identifier: bool| Endpoint {
        server: OP.into(),
        version: Version::V2,
        claimed_id: claimed_id.into(),
        local_id: Some(LOCAL.into()),
        op_identifier,
        mechanism: Mechanism::Yadis,
    };
    let long = format!("{CLAIMED}/{}", "a".repeat(identifier::MAX_IDENTIFIER_BYTES));
    let bad = "https://[me.example/alice";
    for (claimed, endpoints) in [
        (long.as_str(), vec![ep(&long, false)]),
        (IDENTIFIER_SELECT, vec![ep(IDENTIFIER_SELECT, false)]),
        (bad, vec![ep(bad, true)]),
        (bad, vec![ep(CLAIMED, false)]),
    ] {
        let a = Assertion::v2().signed_with("claimed_id", claimed);
        let o = run_cached(&a, endpoints);
        assert_eq!(o.code(), Some("no_identity_server"), "{claimed:.40}");
    }
    // A genuine hit verifies.
    let o = run_cached(&Assertion::v2(), vec![ep(CLAIMED, false)]);
    assert_eq!(verified(o).url, CLAIMED);
}

#[test]
fn a_replay_is_caught_whatever_spelling_the_endpoint_came_with() {
    // The same assertion twice: first with a cached endpoint spelled otherwise than
    // op_endpoint (same URL), then through discovery. The nonce is recorded under the key
    // the replay check looks up (op_endpoint's), so the second is a replay either way.
    let a = Assertion::v2();
    let odd = Endpoint {
        server: "https://OP.example:443/auth".into(),
        version: Version::V2,
        claimed_id: CLAIMED.into(),
        local_id: Some(LOCAL.into()),
        op_identifier: false,
        mechanism: Mechanism::Yadis,
    };
    let mut fx = Fx::new();
    let rp = fx.rp.clone();
    let url = a.current_url();
    let request = ReturnRequest {
        current_url: &url,
        body: None,
    };
    {
        let mut stores = Stores {
            nonces: &mut fx.nonces,
            associations: &mut fx.assocs,
        };
        let mut step = rp.verify_cached(request, &mut stores, NOW, |_| Some(vec![odd]));
        let o = loop {
            match step {
                VerifyStep::Done(o) => break o,
                VerifyStep::Fetch(req, pending) => {
                    // check_authentication at the endpoint, which vouches.
                    assert_eq!((req.method, req.url.as_str()), (Method::Post, OP));
                    let resp = fx.check_auth.clone();
                    step = pending.on_response(&rp, resp, &mut stores, NOW);
                }
            }
        };
        verified(o);
    }
    assert_eq!(fx.run(&a).code(), Some("nonce_reused"));
}
