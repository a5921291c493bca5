use super::*;
use crate::openid::discovery::Mechanism;
use crate::site::Site;
use serde_json::json;

const KEY: &str = "dGVzdC1rZXktZm9yLW1vZF9hdXRocnMtdGVzdHMtMzI=";
const NOW: i64 = 1_800_000_000;

fn site(extra: serde_json::Value) -> Site {
    let mut v = json!({
        "auth_name": "Example",
        "ticket_keys": [KEY],
        "methods": ["ticket", "openid"],
        "openid_consumer_secret": "the consumer secret",
        "login_url": "/LOGIN",
        "login_path": "/LOGIN",
        "cookie_secure": true,
        "openid_clusters": [{"cluster": "op", "url_prefix": "https://"}],
        // This site's own URL (required: the request's Host is the client's to choose).
        "openid_realm": "https://rp.example/",
    });
    if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    Site::from_json_str(&v.to_string()).unwrap()
}

fn endpoint(server: &str) -> Endpoint {
    Endpoint {
        server: server.to_string(),
        version: Version::V2,
        claimed_id: "https://op.example/alice".to_string(),
        local_id: None,
        op_identifier: false,
        mechanism: Mechanism::Html,
    }
}

fn reason(d: &Decision) -> Option<&'static str> {
    d.reason().map(Reason::code)
}

fn browser_back(query: &str, cookies: &[&str]) -> RequestFacts<'static> {
    let mut r = RequestFacts {
        method: "GET".into(),
        path: "/LOGIN".into(),
        query: Some(query.to_string().into()),
        secure: true,
        ..RequestFacts::default()
    };
    r.headers.push(("host".into(), "rp.example".into()));
    for c in cookies {
        r.headers.push(("cookie".into(), c.to_string().into()));
    }
    r
}

#[test]
fn start_refuses_what_cannot_be_fetched_with_the_seed_codes() {
    let s = site(json!({}));
    let p = &s.route("/LOGIN").policy;
    let code = |body: &str| start(p, body.as_bytes()).err().and_then(|d| reason(&d));
    assert_eq!(code("openid_identifier=+++"), Some("empty_url"));
    assert_eq!(
        code("openid_identifier=file%3A%2F%2F%2Fetc%2Fpasswd"),
        Some("bogus_url")
    );
    // Loopback is refused unless openid_allow_private_addresses.
    assert_eq!(
        code("openid_identifier=http%3A%2F%2F127.0.0.1%2Fid"),
        Some("bogus_url")
    );
    let (_, st) = start(
        p,
        b"openid_identifier=op.example%2Falice&destination=%2Fapp",
    )
    .unwrap();
    assert_eq!(st.claimed.as_str(), "http://op.example/alice");
    assert_eq!(st.destination.as_deref(), Some("/app"));
    assert!(is_start(b"openid_identifier=x") && !is_start(b"credential_0=x"));
    assert!(is_return(Some("openid.mode=id_res"), None));
    assert!(is_return(None, Some(b"a=1&openid.mode=cancel")));
    assert!(!is_return(
        Some("destination=/"),
        Some(b"openid_identifier=x")
    ));
}

#[test]
fn the_allow_list_is_enforced_before_the_redirect() {
    let s = site(json!({"openid_allowed_providers": ["https://op.example/server"]}));
    let p = &s.route("/LOGIN").policy;
    let (_, mut st) = start(p, b"openid_identifier=https%3A%2F%2Fop.example%2Falice").unwrap();
    let d = choose(p, &mut st, &[endpoint("https://evil.example/server")], None).unwrap_err();
    assert_eq!(reason(&d), Some("server_not_allowed"));
    let d = choose(p, &mut st, &[], Some("HTTP 404")).unwrap_err();
    assert_eq!(reason(&d), Some("no_identity_server"));
    assert!(d.notes.iter().any(|n| n.message.contains("HTTP 404")));
    let e = choose(p, &mut st, &[endpoint("https://op.example/server")], None).unwrap();
    assert_eq!(e.server, "https://op.example/server");
}

#[test]
fn the_redirect_binds_the_login_to_this_browser() {
    let s = site(json!({}));
    let p = &s.route("/LOGIN").policy;
    let (_, st) = start(
        p,
        b"openid_identifier=https%3A%2F%2Fop.example%2Falice&destination=%2Fapp%3Fx%3D1",
    )
    .unwrap();
    let d = redirect(
        p,
        &st,
        &endpoint("https://op.example/server"),
        Some("handle1"),
        "https://rp.example/LOGIN?ignored=1",
        &[0xab; STATE_BYTES],
        NOW,
    );
    let Verdict::Redirect {
        location, status, ..
    } = &d.verdict
    else {
        panic!("{d:?}")
    };
    assert_eq!(*status, 303);
    let to = Url::parse(location).unwrap();
    let q = |k: &str| {
        to.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(q("openid.assoc_handle").as_deref(), Some("handle1"));
    // The realm defaults to the site of return_to (openid_realm, else openid_required_root).
    assert_eq!(q("openid.realm").as_deref(), Some("https://rp.example/"));
    let return_to = Url::parse(&q("openid.return_to").unwrap()).unwrap();
    assert_eq!(return_to.path(), "/LOGIN");
    let state = "ab".repeat(STATE_BYTES);
    let rq = |k: &str| {
        return_to
            .query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(rq("destination").as_deref(), Some("/app?x=1"));
    assert_eq!(rq(STATE_PARAM), Some(state.clone()));
    assert_eq!(rq("ignored"), None);
    let cookie = d.set_cookie.clone().unwrap();
    assert!(
        cookie.starts_with(&format!("AuthRs_Example_openid={state};")),
        "{cookie}"
    );
    assert!(
        cookie.contains("Path=/LOGIN") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert!(
        cookie.contains("SameSite=None") && cookie.contains("Secure"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Expires") && !cookie.contains("Max-Age"),
        "{cookie}"
    );
    assert!(d
        .notes
        .iter()
        .any(|n| n.id == "AUTHRS0330" && n.message.contains("associated")));
}

/// A `__Host-` ticket cookie (the defence against cookie tossing) gets a `__Host-` state cookie
/// browsers accept: `Path=/`, Secure, no Domain. It used to keep the login path, which that
/// prefix forbids: no state cookie was set and every OpenID return was `state_mismatch`. A
/// ticket's shared `Domain` is never given to the state cookie.
#[test]
fn the_state_cookie_follows_the_cookie_prefix_rules() {
    for (extra, name, path) in [
        (json!({"cookie_name": "__Host-s"}), "__Host-s_openid", "/"),
        (json!({"cookie_name": "__HOST-s"}), "__HOST-s_openid", "/"),
        (
            json!({"cookie_name": "__Secure-s"}),
            "__Secure-s_openid",
            "/LOGIN",
        ),
        (
            json!({"cookie_domain": "example.org"}),
            "AuthRs_Example_openid",
            "/LOGIN",
        ),
    ] {
        let s = site(extra.clone());
        let p = &s.route("/LOGIN").policy;
        let (_, mut st) = start(p, b"openid_identifier=https%3A%2F%2Fop.example%2Falice").unwrap();
        let chosen = choose(p, &mut st, &[endpoint("https://op.example/server")], None).unwrap();
        let d = redirect(p, &st, &chosen, None, LOGIN_URL, &[0xcd; STATE_BYTES], NOW);
        let cookie = d.set_cookie.expect("a state cookie");
        assert!(cookie.starts_with(&format!("{name}=")), "{extra}: {cookie}");
        assert!(
            cookie.contains(&format!("Path={path};")) || cookie.ends_with(&format!("Path={path}")),
            "{extra}: {cookie}"
        );
        assert!(!cookie.contains("Domain"), "{extra}: {cookie}");
        assert!(cookie.contains("Secure"), "{extra}: {cookie}");
        // The return finds it under the same name.
        let query = format!(
            "openid.mode=id_res&destination=%2F&{STATE_PARAM}={}",
            "cd".repeat(STATE_BYTES)
        );
        let jar = format!("{name}={}", cookie_value(&cookie));
        assert!(
            check_state(p, "/LOGIN", &browser_back(&query, &[&jar])).is_ok(),
            "{extra}"
        );
    }
}

/// Where the sealing tests' logins start and return.
const LOGIN_URL: &str = "https://rp.example/LOGIN";

/// The state cookie's value in a Set-Cookie line.
fn cookie_value(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap().1.to_string()
}

/// A login started for alice at `NOW`, discovery having found `endpoints`: the state cookie's
/// value and the query the browser comes back with.
fn started(p: &Policy, endpoints: &[Endpoint]) -> (String, String) {
    let (_, mut st) = start(p, b"openid_identifier=https%3A%2F%2Fop.example%2Falice").unwrap();
    let chosen = choose(p, &mut st, endpoints, None).unwrap();
    let d = redirect(p, &st, &chosen, None, LOGIN_URL, &[0xcd; STATE_BYTES], NOW);
    let value = cookie_value(&d.set_cookie.unwrap());
    let query = format!(
        "openid.mode=id_res&destination=%2F&{STATE_PARAM}={}",
        "cd".repeat(STATE_BYTES)
    );
    (value, query)
}

#[test]
fn the_state_cookie_seals_what_discovery_found_for_the_return() {
    let s = site(json!({}));
    let p = &s.route("/LOGIN").policy;
    let mut other = endpoint("https://op.example/other");
    other.claimed_id = "https://op.example/bob".into();
    let mut select = endpoint("https://op.example/select");
    select.op_identifier = true;
    let found = [
        endpoint("https://op.example/server"),
        other,
        select.clone(),
        endpoint("https://op.example/second"),
    ];
    let (value, query) = started(p, &found);
    let state = "cd".repeat(STATE_BYTES);
    assert!(value.starts_with(&format!("{state}.")), "{value}");
    let cookie = format!("AuthRs_Example_openid={value}");
    let back = browser_back(&query, &[&cookie]);
    // The state check reads the state before the sealed part.
    assert!(check_state(p, "/LOGIN", &back).is_ok());
    let sealed = sealed_endpoints(p, LOGIN_URL, &back, NOW + 60).expect("sealed endpoints");
    // Only the endpoints declaring the chosen claimed identifier, in discovery's order.
    let want = vec![found[0].clone(), found[3].clone()];
    assert_eq!(
        sealed.clone().for_claimed("https://op.example/alice"),
        Some(want)
    );
    assert_eq!(sealed.for_claimed("https://op.example/bob"), None);
    // An OP identifier's claimed identifier is unknown until the return: nothing sealed.
    let (value, _) = started(p, &[select]);
    assert_eq!(value, state);
}

#[test]
fn sealed_endpoints_are_refused_when_forged_moved_or_stale() {
    let s = site(json!({}));
    let p = &s.route("/LOGIN").policy;
    let (value, query) = started(p, &[endpoint("https://op.example/server")]);
    let sealed = |value: &str, query: &str, now: i64| {
        let cookie = format!("AuthRs_Example_openid={value}");
        sealed_endpoints(p, LOGIN_URL, &browser_back(query, &[&cookie]), now)
    };
    assert!(sealed(&value, &query, NOW).is_some());
    let parts: Vec<&str> = value.split('.').collect();
    assert_eq!(parts.len(), 3, "{value}");
    // Another provider written into the record, the MAC left alone.
    let json = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let forged = URL_SAFE_NO_PAD.encode(json.replace("op.example/server", "evil.example/op"));
    assert!(sealed(&format!("{}.{forged}.{}", parts[0], parts[2]), &query, NOW).is_none());
    // A flipped tag, a missing tag, a tag that is not base64.
    let mut tag = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    tag[0] ^= 1;
    let flipped = URL_SAFE_NO_PAD.encode(&tag);
    assert!(sealed(&format!("{}.{}.{flipped}", parts[0], parts[1]), &query, NOW).is_none());
    assert!(sealed(&format!("{}.{}", parts[0], parts[1]), &query, NOW).is_none());
    assert!(sealed(&format!("{}.{}.!!", parts[0], parts[1]), &query, NOW).is_none());
    // The record moved to another login (another state in the cookie and the query).
    let other_state = "ef".repeat(STATE_BYTES);
    let moved = format!("{other_state}.{}.{}", parts[1], parts[2]);
    let other_query = query.replace(&"cd".repeat(STATE_BYTES), &other_state);
    assert!(sealed(&moved, &other_query, NOW).is_none());
    // The right cookie with another state in the query.
    assert!(sealed(&value, &other_query, NOW).is_none());
    // Sealed under another consumer secret.
    let s2 = site(json!({"openid_consumer_secret": "another consumer secret"}));
    let p2 = &s2.route("/LOGIN").policy;
    let cookie = format!("AuthRs_Example_openid={value}");
    assert!(sealed_endpoints(p2, LOGIN_URL, &browser_back(&query, &[&cookie]), NOW).is_none());
    // Sealed at another login endpoint (host, scheme or path) or for another cookie name.
    let cookie = format!("AuthRs_Example_openid={value}");
    let back = browser_back(&query, &[&cookie]);
    for elsewhere in [
        "https://other.example/LOGIN",
        "http://rp.example/LOGIN",
        "https://rp.example/LOGIN2",
    ] {
        assert!(
            sealed_endpoints(p, elsewhere, &back, NOW).is_none(),
            "{elsewhere}"
        );
    }
    assert!(sealed_endpoints(p, "https://rp.example/LOGIN?x=1", &back, NOW).is_some());
    let s3 = site(json!({"auth_name": "Other"}));
    let p3 = &s3.route("/LOGIN").policy;
    let renamed = format!("AuthRs_Other_openid={value}");
    assert!(
        sealed_endpoints(p3, LOGIN_URL, &browser_back(&query, &[&renamed]), NOW).is_none(),
        "another realm's cookie"
    );
    // Older than a login takes (a changed delegation counts from then on), or ahead of the clock.
    assert!(sealed(&value, &query, NOW + SEALED_MAX_AGE).is_some());
    assert!(sealed(&value, &query, NOW + SEALED_MAX_AGE + 1).is_none());
    assert!(sealed(&value, &query, NOW - MAX_AHEAD).is_some());
    assert!(sealed(&value, &query, NOW - MAX_AHEAD - 1).is_none());
    // Two cookies of that name: neither is believed.
    let two = format!("AuthRs_Example_openid={value}; AuthRs_Example_openid={value}");
    assert!(sealed_endpoints(p, LOGIN_URL, &browser_back(&query, &[&two]), NOW).is_none());
    // A plain state cookie (what an attacker holding a 1.x return URL can set) seals nothing.
    assert!(sealed(&"cd".repeat(STATE_BYTES), &query, NOW).is_none());
}

#[test]
fn a_record_too_large_for_a_cookie_is_left_out() {
    let s = site(json!({}));
    let p = &s.route("/LOGIN").policy;
    let many: Vec<Endpoint> = (0..40)
        .map(|i| endpoint(&format!("https://op.example/server/{i}")))
        .collect();
    let (value, query) = started(p, &many);
    assert_eq!(value, "cd".repeat(STATE_BYTES));
    let cookie = format!("AuthRs_Example_openid={value}");
    let back = browser_back(&query, &[&cookie]);
    assert!(check_state(p, "/LOGIN", &back).is_ok());
    assert!(sealed_endpoints(p, LOGIN_URL, &back, NOW).is_none());
}

#[test]
fn a_return_without_the_matching_state_cookie_is_state_mismatch() {
    let s = site(json!({}));
    let p = &s.route("/LOGIN").policy;
    let state = "ab".repeat(STATE_BYTES);
    let query = format!("openid.mode=id_res&destination=%2Fapp&{STATE_PARAM}={state}");
    let ok = browser_back(&query, &[&format!("AuthRs_Example_openid={state}")]);
    assert!(check_state(p, "/LOGIN", &ok).is_ok());
    for cookies in [
        vec![],
        vec!["AuthRs_Example_openid=00".to_string()],
        // Two cookies of that name (one planted by a sibling domain): which is ours is unknown.
        vec![format!(
            "AuthRs_Example_openid={state}; AuthRs_Example_openid=00"
        )],
    ] {
        let refs: Vec<&str> = cookies.iter().map(String::as_str).collect();
        let d = check_state(p, "/LOGIN", &browser_back(&query, &refs)).unwrap_err();
        assert_eq!(reason(&d), Some("state_mismatch"), "{cookies:?}");
        let Verdict::Redirect { location, .. } = &d.verdict else {
            panic!("{d:?}")
        };
        assert!(location.contains("destination=%2Fapp"), "{location}");
    }
    // An empty state in both places is no proof either.
    let empty = browser_back(&format!("{STATE_PARAM}="), &["AuthRs_Example_openid="]);
    assert!(check_state(p, "/LOGIN", &empty).is_err());
}

#[test]
fn outcomes_answer_with_a_ticket_or_the_seed_code() {
    let s = site(json!({}));
    let p = &s.route("/LOGIN").policy;
    let req = browser_back("destination=%2Fapp", &[]);
    let d = answer(p, &req, Outcome::Cancelled, NOW);
    assert_eq!(reason(&d), Some("cancelled"));
    let e = OpenIdError::new(ErrorCode::NonceReused);
    let d = answer(p, &req, Outcome::Error(e), NOW);
    assert_eq!(reason(&d), Some("nonce_reused"));
    assert!(d
        .notes
        .iter()
        .any(|n| n.id == "AUTHRS0320" && n.message.contains("nonce_reused")));
    // 1.1's user_setup_url is unverified: logged (escaped), never followed.
    let setup = Outcome::SetupNeeded {
        user_setup_url: Some("https://op.example/setup?x=\n1".to_string()),
    };
    let d = answer(p, &req, setup, NOW);
    assert_eq!(reason(&d), Some("setup_needed"));
    let Verdict::Redirect { location, .. } = &d.verdict else {
        panic!("{d:?}")
    };
    assert!(!location.contains("op.example"), "{location}");
    assert!(d.notes.iter().any(|n| n.id == "AUTHRS0320"
        && n.message
            .contains(r#"user_setup_url "https://op.example/setup?x=\n1""#)));
    let d = answer(p, &req, Outcome::NotOpenId, NOW);
    assert_eq!(reason(&d), Some("bad_mode"));
    let d = not_enabled(p, &req);
    assert_eq!(reason(&d), Some("bad_mode"));
}

#[test]
fn absolute_urls_come_from_the_scheme_and_host_only() {
    let mut r = browser_back("", &[]);
    assert_eq!(
        absolute_url(&r, "/LOGIN?a=1").as_deref(),
        Some("https://rp.example/LOGIN?a=1")
    );
    for bad in ["", "evil.example/x", "a@b", "a b"] {
        r.headers[0].1 = bad.into();
        assert_eq!(absolute_url(&r, "/LOGIN"), None, "{bad:?}");
    }
    r.headers.clear();
    assert_eq!(absolute_url(&r, "/LOGIN"), None);
}

#[test]
fn a_configured_realm_that_excludes_the_login_url_is_an_internal_error() {
    let s = site(json!({"openid_realm": "https://rp.example/other/"}));
    let p = &s.route("/LOGIN").policy;
    let (_, st) = start(p, b"openid_identifier=https%3A%2F%2Fop.example%2Falice").unwrap();
    let e = endpoint("https://op.example/server");
    let d = redirect(
        p,
        &st,
        &e,
        None,
        "https://rp.example/LOGIN",
        &[1; STATE_BYTES],
        NOW,
    );
    assert!(matches!(d.verdict, Verdict::Error { .. }), "{d:?}");
    assert!(d.set_cookie.is_none());
    let d = redirect(
        p,
        &st,
        &e,
        None,
        "https://rp.example/other/LOGIN",
        &[1; 16],
        NOW,
    );
    let Verdict::Redirect { location, .. } = &d.verdict else {
        panic!("{d:?}")
    };
    assert!(
        location.contains("openid.realm=https%3A%2F%2Frp.example%2Fother%2F"),
        "{location}"
    );
}

#[test]
fn association_notes_carry_their_ids_and_levels() {
    let n = stateless_note(
        "https://op.example/server",
        Stateless::NotAsked,
        "1.1 has no SHA256",
    );
    assert_eq!((n.id, n.level), ("AUTHRS0331", Level::Debug));
    assert_eq!(
        n.message,
        "no association with https://op.example/server: 1.1 has no SHA256; stateless"
    );
    let n = stateless_note("https://op.example/server", Stateless::NotKept, "full");
    assert_eq!((n.id, n.level), ("AUTHRS0331", Level::Warn));
    assert!(
        n.message.starts_with("association not kept with"),
        "{}",
        n.message
    );
    assert_eq!(
        stateless_note("s", Stateless::Failed, "e").level,
        Level::Info
    );
}

/// The verification outcome of the browser coming back with `query` (no network reached).
fn verified_locally(p: &Policy, query: &str) -> Outcome {
    use crate::openid::store::{MemoryAssociationStore, MemoryNonceStore};
    let rp = p.openid.as_ref().unwrap();
    let url = format!("https://rp.example/LOGIN?{query}");
    let (mut nonces, mut assocs) = (
        MemoryNonceStore::default(),
        MemoryAssociationStore::default(),
    );
    let mut stores = crate::openid::store::Stores {
        nonces: &mut nonces,
        associations: &mut assocs,
    };
    let request = crate::openid::ReturnRequest {
        current_url: &url,
        body: None,
    };
    match rp.verify(request, &mut stores, NOW) {
        crate::openid::VerifyStep::Done(outcome) => outcome,
        other => panic!("{other:?}"),
    }
}

#[test]
fn text_from_the_return_url_is_logged_escaped() {
    // Anyone can come back to the login path with their own state cookie and any openid.*
    // text: a provider `error`, a repeated parameter's name. A line break in it would forge
    // log lines (Envoy writes the filter's messages as they are).
    let s = site(json!({}));
    let p = &s.route("/LOGIN").policy;
    let ns = "openid.ns=http%3A%2F%2Fspecs.openid.net%2Fauth%2F2.0";
    let forged = "%0D%0AAUTHRS0332%3A%20OpenID%202.0%20identity%20https%3A%2F%2Fadmin%20verified";
    for (query, code) in [
        (
            format!("{ns}&openid.mode=error&openid.error=bad{forged}"),
            "provider_error",
        ),
        (
            format!("{ns}&openid.mode=id_res&openid.x{forged}=1&openid.x{forged}=2"),
            "bad_message",
        ),
    ] {
        let outcome = verified_locally(p, &query);
        let req = browser_back(&query, &[]);
        let d = answer(p, &req, outcome, NOW);
        assert_eq!(reason(&d), Some(code), "{d:?}");
        let note = d.notes.iter().find(|n| n.id == "AUTHRS0320").unwrap();
        assert!(
            !note.message.chars().any(char::is_control),
            "{:?}",
            note.message
        );
        assert!(
            note.message.contains(r"\r\nAUTHRS0332"),
            "{:?}",
            note.message
        );
    }
}

#[test]
fn a_verified_return_spends_its_state_once() {
    use crate::openid::store::{MemoryNonceStore, NonceStore, StoreError};
    let s = site(json!({}));
    let p = &s.route("/LOGIN").policy;
    let state = "ab".repeat(STATE_BYTES);
    let query = format!("openid.mode=id_res&destination=%2Fapp&{STATE_PARAM}={state}");
    let req = browser_back(&query, &[&format!("AuthRs_Example_openid={state}")]);
    let verified = || {
        Outcome::Verified(crate::openid::VerifiedIdentity {
            url: "https://op.example/alice".into(),
            op_local_id: "https://op.example/alice".into(),
            server: "https://op.example/server".into(),
            version: Version::V1,
            signed: Default::default(),
        })
    };
    let mut nonces = MemoryNonceStore::default();
    let d = answer_once(p, &req, verified(), &mut nonces, NOW);
    assert!(d.set_cookie.is_some() && reason(&d).is_none(), "{d:?}");
    // The same return again, even an hour later: refused, no ticket.
    let d = answer_once(p, &req, verified(), &mut nonces, NOW + 3600);
    assert_eq!(reason(&d), Some("nonce_reused"), "{d:?}");
    assert!(d.set_cookie.is_none());
    // Refusals spend nothing; a store that fails refuses.
    let other = browser_back(&format!("{STATE_PARAM}=cd"), &["AuthRs_Example_openid=cd"]);
    let d = answer_once(p, &other, Outcome::Cancelled, &mut nonces, NOW);
    assert_eq!(reason(&d), Some("cancelled"));
    let d = answer_once(p, &other, verified(), &mut nonces, NOW);
    assert!(d.set_cookie.is_some() && reason(&d).is_none(), "{d:?}");
    struct Broken;
    impl NonceStore for Broken {
        fn seen(&mut self, _: &str, _: i64) -> Result<bool, StoreError> {
            Err(StoreError("down".into()))
        }
        fn check_and_insert(
            &mut self,
            _: &str,
            _: Option<i64>,
            _: i64,
        ) -> Result<bool, StoreError> {
            Err(StoreError("down".into()))
        }
    }
    let d = answer_once(p, &req, verified(), &mut Broken, NOW);
    assert_eq!(reason(&d), Some("store_failed"), "{d:?}");
}
