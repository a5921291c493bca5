//! OpenID 2.0 login through the wasm filter in the real Envoy, against a real provider on
//! loopback (python3-openid's server, `tests/openid_op.py`), reached through Envoy clusters
//! named by `openid_clusters`.

use authrs_tests::curl::Request;
use authrs_tests::envoy::{bootstrap, validate, Envoy, EnvoyOptions};
use authrs_tests::openid_login::{
    discovers_once_per_login, post_identifier, reason_of, to_provider_and_back, Back, Shell,
    STATE_COOKIE as STATE,
};
use authrs_tests::openid_provider::Provider;
use authrs_tests::scenarios::KEY_B64;
use authrs_tests::{demo_certs, scratch};
use serde_json::{json, Value};
use std::path::PathBuf;

const COOKIE: &str = "AuthRs_Example";

fn certs() -> PathBuf {
    let c = scratch("envoy-openid-certs");
    demo_certs(&c);
    c
}

/// A STATIC cluster `name` reaching 127.0.0.1:`port`.
fn cluster(name: &str, port: u16) -> String {
    format!(
        "  - name: {name}\n    type: STATIC\n    connect_timeout: 2s\n    load_assignment:\n      cluster_name: {name}\n      endpoints:\n      - lb_endpoints:\n        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}}}\n"
    )
}

/// The filter's JSON: an OpenID login at /LOGIN, `/app` for anyone logged in, `/alice` and
/// `/bob` for those OpenID identities; `changes` are merged at the top level.
fn site(op: &Provider, changes: Value) -> String {
    let mut v = json!({
        "auth_name": "Example",
        "ticket_keys": [KEY_B64],
        "login_url": "/LOGIN",
        "login_path": "/LOGIN",
        "methods": ["ticket", "openid"],
        "openid_consumer_secret": "consumer secret for the tests",
        "openid_allow_private_addresses": true,
        // This site's own URL (required: the Host header is the client's to choose).
        "openid_realm": "https://127.0.0.1:@PORT@/",
        "openid_clusters": [
            {"cluster": "openid_op", "url_prefix": format!("http://127.0.0.1:{}/", op.port), "timeout": 5}
        ],
        "locations": [
            {"prefix": "/alice", "require": {"openid_id": [op.identity("alice")]}},
            {"prefix": "/bob", "require": {"openid_id": [op.identity("bob")]}},
            {"prefix": "/app", "require": {"valid_user": true}}
        ]
    });
    if let (Some(o), Value::Object(c)) = (v.as_object_mut(), changes) {
        o.extend(c);
    }
    v.to_string()
}

/// Envoy with two workers, so a login's steps may land on different VMs: associations and
/// nonces must be in shared data for the checks below to hold whichever worker answers.
fn start(op: &Provider, changes: Value) -> Envoy {
    let mut opts = EnvoyOptions::new(site(op, changes));
    opts.extra_clusters = cluster("openid_op", op.port);
    opts.concurrency = 2;
    Envoy::start(&certs(), &opts)
}

fn logged(e: &Envoy, id: &str, needle: &str) -> bool {
    e.log()
        .lines()
        .any(|l| l.contains("authrs[") && l.contains(id) && l.contains(needle))
}

#[test]
fn openid_login_through_envoy_with_replay_tampering_and_require() {
    let op = Provider::start();
    let e = start(&op, json!({}));
    let alice = op.identity("alice");

    // Unauthenticated: sent to the login page, which offers an OpenID field.
    let r = e.get("/app/page").header("Accept: text/html").send();
    assert_eq!(r.status, 302, "{r:?}");
    let page = e.get("/LOGIN?destination=%2Fapp%2Fpage").send();
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(r#"name="openid_identifier""#),
        "{}",
        page.body
    );

    // Log in: identifier → provider → back → verified → ticket and 303 to the destination.
    let back = to_provider_and_back(&e, &alice, "/app/page");
    assert!(back.url.contains("openid.mode=id_res"), "{}", back.url);
    assert!(
        logged(&e, "AUTHRS0330", "(associated)"),
        "DH-SHA1 association over loopback http, kept in shared data:\n{}",
        e.log()
    );
    // The realm is the site's (openid_realm, else openid_required_root, else this).
    assert_eq!(op.last("checkid_setup")["realm"], e.url("/"));
    // Login CSRF: the assertion in another browser (no state cookie, or another one) is
    // refused before anything is verified, so its nonce is not spent.
    let r = Request::get(&back.url).ca(&e.ca()).send();
    assert_eq!(reason_of(&r).as_deref(), Some("state_mismatch"), "{r:?}");
    assert_eq!(r.cookie(COOKIE), None);
    let r = Back {
        state: "0123456789abcdef0123456789abcdef".into(),
        ..back.clone()
    }
    .follow(&e);
    assert_eq!(reason_of(&r).as_deref(), Some("state_mismatch"), "{r:?}");
    let r = back.follow(&e);
    assert_eq!(r.status, 303, "{r:?}\n{}", e.log());
    assert_eq!(r.header("location"), Some("/app/page"));
    assert_eq!(
        r.cookie(STATE).as_deref(),
        Some(""),
        "the state cookie is cleared"
    );
    let ticket = r.cookie(COOKIE).expect("ticket cookie");
    assert!(logged(&e, "AUTHRS0332", &alice), "{}", e.log());

    let r = e.get("/app/page").cookie(COOKIE, &ticket).send();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.env("AUTHRS_METHOD"), Some("openid"));
    assert_eq!(r.env("REMOTE_USER"), Some(alice.as_str()));

    // {"openid_id": [...]}: alice's location yes, bob's no.
    let r = e.get("/alice/x").cookie(COOKIE, &ticket).send();
    assert_eq!(r.status, 200, "{r:?}");
    let r = e.get("/bob/x").cookie(COOKIE, &ticket).send();
    assert_eq!(r.status, 403, "{r:?}");

    // The same id_res again, even with the state cookie: a replay.
    let r = back.follow(&e);
    assert_eq!(reason_of(&r).as_deref(), Some("nonce_reused"), "{r:?}");
    assert_eq!(r.header("x-authrs-reason"), Some("nonce_reused"));
    assert_eq!(r.cookie(COOKIE), None);
    assert!(logged(&e, "AUTHRS0320", "nonce_reused"), "{}", e.log());
    // The login page shows it.
    let location = r.header("location").expect("location").to_string();
    let page = e.get(&location).send();
    assert!(
        page.body.contains(r#"data-reason="nonce_reused""#),
        "{}",
        page.body
    );

    // A signed field changed in transit: the association's signature no longer matches.
    let back = to_provider_and_back(&e, &alice, "/app/");
    let r = back.tampered().follow(&e);
    assert_eq!(
        reason_of(&r).as_deref(),
        Some("signature_mismatch"),
        "{r:?}\n{}",
        e.log()
    );
    assert_eq!(r.cookie(COOKIE), None);
    // Claiming to be bob with alice's assertion.
    let r = back
        .with("openid.claimed_id", &op.identity("bob"))
        .follow(&e);
    assert!(
        reason_of(&r).is_some() && r.cookie(COOKIE).is_none(),
        "{r:?}"
    );
    // The provider may answer with a form POST to return_to: the untouched message, posted,
    // still verifies (the forgeries did not burn its nonce).
    let return_to = back.param("openid.return_to");
    let fields: Vec<(String, String)> = url::Url::parse(&back.url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k.starts_with("openid."))
        .collect();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&fields)
        .finish();
    let r = Request::post_form(&return_to, body)
        .cookie(STATE, &back.state)
        .ca(&e.ca())
        .send();
    assert_eq!(r.status, 303, "{r:?}\n{}", e.log());
    assert_eq!(r.header("location"), Some("/app/"));
    assert!(r.cookie(COOKIE).is_some(), "{r:?}\n{}", e.log());

    // The user declines at the provider.
    let back = to_provider_and_back(&e, &op.identity("cancel"), "/app/");
    assert!(back.url.contains("openid.mode=cancel"), "{}", back.url);
    let r = back.follow(&e);
    assert_eq!(reason_of(&r).as_deref(), Some("cancelled"), "{r:?}");
    assert_eq!(r.cookie(COOKIE), None);
    assert!(!e.log().contains("AUTHRS0900"), "{}", e.log());
}

/// A provider's answer may carry header values that are not UTF-8 (HTTP's obs-text): the
/// proxy-wasm SDK's `get_map` unwraps a UTF-8 conversion, so reading such headers panicked the
/// VM — any visitor could crash it by naming such a page as their identifier.
#[test]
fn a_provider_header_that_is_not_utf8_does_not_crash_the_filter() {
    let op = Provider::start();
    let e = start(&op, json!({}));
    let latin1 = op.url("latin1/alice");
    let back = to_provider_and_back(&e, &latin1, "/app/");
    let r = back.follow(&e);
    assert_eq!(r.status, 303, "{r:?}\n{}", e.log());
    let ticket = r.cookie(COOKIE).expect("ticket cookie");
    let r = e.get("/app/").cookie(COOKIE, &ticket).send();
    assert_eq!(r.env("REMOTE_USER"), Some(latin1.as_str()));
    assert!(!e.log().contains("AUTHRS0900"), "{}", e.log());
}

/// OpenID 1.x assertions carry no response_nonce, and the login state is in the URL: the state
/// is spent by the first successful return (in shared data, whichever worker answers).
#[test]
fn a_return_logs_in_once_even_without_a_response_nonce() {
    let op = Provider::start();
    let e = start(&op, json!({}));
    let back = to_provider_and_back(&e, &op.url("v1/id/nononce"), "/app/");
    assert!(!back.url.contains("response_nonce"), "{}", back.url);
    let r = back.follow(&e);
    assert_eq!(r.status, 303, "{r:?}\n{}", e.log());
    assert!(r.cookie(COOKIE).is_some(), "{r:?}");
    let r = back.follow(&e);
    assert_eq!(reason_of(&r).as_deref(), Some("nonce_reused"), "{r:?}");
    assert_eq!(r.cookie(COOKIE), None);
}

#[test]
fn stateless_login_through_envoy_verifies_with_check_authentication() {
    let op = Provider::start();
    // A no-encryption session over plain http is refused: no association, so every assertion
    // is verified by asking the provider (a second callout).
    let e = start(&op, json!({"openid_assoc_session_type": "no-encryption"}));
    let alice = op.identity("alice");
    let back = to_provider_and_back(&e, &alice, "/app/page");
    assert!(logged(&e, "AUTHRS0330", "(stateless)"), "{}", e.log());
    let r = back.follow(&e);
    assert_eq!(r.status, 303, "{r:?}\n{}", e.log());
    let ticket = r.cookie(COOKIE).expect("ticket cookie");
    let r = e.get("/app/page").cookie(COOKIE, &ticket).send();
    assert_eq!(r.env("AUTHRS_METHOD"), Some("openid"));
    assert_eq!(r.env("REMOTE_USER"), Some(alice.as_str()));
    // The same message again: a replay, caught by the shared-data nonce cache.
    let r = back.follow(&e);
    assert_eq!(reason_of(&r).as_deref(), Some("nonce_reused"), "{r:?}");

    // A signed field changed in transit: the provider does not confirm it.
    let back = to_provider_and_back(&e, &alice, "/app/");
    let r = back.tampered().follow(&e);
    assert_eq!(
        reason_of(&r).as_deref(),
        Some("naive_verify_failed_return"),
        "{r:?}\n{}",
        e.log()
    );
    assert_eq!(r.cookie(COOKIE), None);
}

#[test]
fn openid_start_refusals_through_envoy_carry_the_seed_codes() {
    let op = Provider::start();
    let other = Provider::start();
    let allowed = format!("http://127.0.0.1:{}/op", op.port);
    // Both providers are reachable through clusters; only one is allowed.
    let mut opts = EnvoyOptions::new(site(
        &op,
        json!({
            // Allowed (so their private addresses may be fetched) but never answering: a host
            // no cluster serves, a cluster Envoy does not have.
            "openid_allowed_providers": [allowed, "http://127.0.0.3:1/op", "http://127.0.0.2/op"],
            "openid_clusters": [
                {"cluster": "openid_op", "url_prefix": format!("http://127.0.0.1:{}/", op.port)},
                {"cluster": "openid_other", "url_prefix": format!("http://127.0.0.1:{}/", other.port)},
                {"cluster": "no_such_cluster", "url_prefix": "http://127.0.0.2/"}
            ]
        }),
    ));
    opts.extra_clusters = cluster("openid_op", op.port) + &cluster("openid_other", other.port);
    let e = Envoy::start(&certs(), &opts);
    let code = |identifier: &str| reason_of(&post_identifier(&e, identifier, "/app/").send());

    // A foreign page cannot start a login in the user's browser (AUTHRS0305).
    let r = post_identifier(&e, &op.identity("alice"), "/app/")
        .header("Origin: https://evil.example")
        .send();
    assert_eq!((r.status, r.cookie(STATE)), (403, None), "{r:?}");
    // A provider outside the allow-list is never sent a login; on the private network (here
    // loopback, openid_allow_private_addresses) its identifiers are not even fetched: private
    // addresses are allowed at the allowed providers' origins only.
    assert_eq!(
        code(&other.identity("alice")).as_deref(),
        Some("no_identity_server")
    );
    assert!(logged(&e, "AUTHRS0320", "refusing"), "{}", e.log());
    // Not a URL, a scheme that is never fetched, a page declaring no provider, a host no
    // cluster serves, a cluster Envoy does not have.
    assert_eq!(code("   ").as_deref(), Some("empty_url"));
    assert_eq!(code("file:///etc/passwd").as_deref(), Some("bogus_url"));
    assert_eq!(
        code(&format!("http://127.0.0.1:{}/nothing-here", op.port)).as_deref(),
        Some("no_identity_server")
    );
    assert_eq!(
        code("http://127.0.0.3:1/id/alice").as_deref(),
        Some("no_identity_server")
    );
    assert!(
        logged(&e, "AUTHRS0333", "no openid_clusters entry"),
        "{}",
        e.log()
    );
    assert_eq!(
        code("http://127.0.0.2/id/alice").as_deref(),
        Some("no_identity_server")
    );
    // The allowed provider works.
    let back = to_provider_and_back(&e, &op.identity("alice"), "/app/");
    let r = back.follow(&e);
    assert!(r.cookie(COOKIE).is_some(), "{r:?}\n{}", e.log());
}

#[test]
fn openid_configuration_errors_fail_plugin_start_naming_the_key() {
    let c = certs();
    let base = json!({
        "ticket_keys": [KEY_B64],
        "login_path": "/LOGIN",
        "methods": ["ticket", "openid"],
        "openid_consumer_secret": "s3cret-s3cret-s3cret",
        "openid_realm": "https://rp.example/",
        "openid_clusters": [{"cluster": "openid_op", "url_prefix": "https://"}]
    });
    let without = |key: &str| {
        let mut v = base.clone();
        v.as_object_mut().expect("object").remove(key);
        v
    };
    let with = |key: &str, value: Value| {
        let mut v = base.clone();
        v[key] = value;
        v
    };
    for (config, needle) in [
        (without("openid_consumer_secret"), "openid_consumer_secret"),
        (without("openid_clusters"), "openid_clusters"),
        (without("login_path"), "login_path"),
        // No URL of its own: a login made for another site could be replayed under its Host.
        (without("openid_realm"), "openid_realm"),
        (
            with(
                "openid_clusters",
                json!([{"cluster": "x", "url_prefix": "ftp://h/"}]),
            ),
            "openid_clusters",
        ),
        (
            with("openid_clusters", json!({"cluster": "x"})),
            "openid_clusters",
        ),
        (
            with("openid_allowed_providers", json!(["gopher://x/"])),
            "openid_allowed_providers",
        ),
        (
            with("openid_required_root", json!("not a url")),
            "openid_required_root",
        ),
    ] {
        let mut opts = EnvoyOptions::new(config.to_string());
        opts.extra_clusters = cluster("openid_op", 9);
        let (ok, out) = validate(&bootstrap(&c, 18443, 19901, 18080, &opts));
        assert!(!ok, "{config} validated:\n{out}");
        assert!(
            out.contains("AUTHRS0002") && out.contains(needle),
            "{config}: no {needle:?} in:\n{out}"
        );
    }
    // The README's dynamic forward proxy cluster for https providers.
    let mut opts = EnvoyOptions::new(
        with(
            "openid_clusters",
            json!([{"cluster": "openid_dfp_https", "url_prefix": "https://"}]),
        )
        .to_string(),
    );
    opts.extra_clusters = readme_dfp_cluster();
    let (ok, out) = validate(&bootstrap(&c, 18443, 19901, 18080, &opts));
    assert!(ok, "{out}");
}

/// The `openid_dfp_https` cluster as the README shows it.
fn readme_dfp_cluster() -> String {
    let readme =
        std::fs::read_to_string(authrs_tests::workspace().join("README.md")).expect("README.md");
    let start = readme
        .find("  - name: openid_dfp_https")
        .expect("the README shows the openid_dfp_https cluster");
    let end = start + readme[start..].find("```").expect("end of the YAML block");
    readme[start..end].to_string()
}

/// Envoy's dynamic forward proxy cluster (one per scheme), as the README documents for
/// arbitrary providers: the filter sends the URL's host as `:authority`, and the cluster
/// resolves and connects to it on demand.
const DYNAMIC_FORWARD_PROXY: &str = r#"  - name: dfp_http
    connect_timeout: 2s
    lb_policy: CLUSTER_PROVIDED
    cluster_type:
      name: envoy.clusters.dynamic_forward_proxy
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.clusters.dynamic_forward_proxy.v3.ClusterConfig
        dns_cache_config:
          name: openid_dns_cache
          dns_lookup_family: V4_ONLY
"#;

#[test]
fn a_dynamic_forward_proxy_cluster_reaches_any_provider() {
    let op = Provider::start();
    let mut opts = EnvoyOptions::new(site(
        &op,
        json!({"openid_clusters": [{"cluster": "dfp_http", "url_prefix": "http://"}]}),
    ));
    opts.extra_clusters = DYNAMIC_FORWARD_PROXY.to_string();
    let e = Envoy::start(&certs(), &opts);
    let alice = op.identity("alice");
    let back = to_provider_and_back(&e, &alice, "/app/page");
    let r = back.follow(&e);
    assert_eq!(r.status, 303, "{r:?}\n{}", e.log());
    let ticket = r.cookie(COOKIE).expect("ticket cookie");
    let r = e.get("/app/page").cookie(COOKIE, &ticket).send();
    assert_eq!(r.env("REMOTE_USER"), Some(alice.as_str()));
}

/// The return uses what the start discovered (sealed into the state cookie) instead of a
/// second discovery callout — for 2.0, 2.0 delegation and 1.1 — and falls back to discovery
/// when the cookie carries no record or a forged one.
#[test]
fn a_login_discovers_its_identifier_once() {
    let op = Provider::start();
    let e = start(&op, json!({}));
    for identifier in [
        op.identity("carol"),
        op.url("deleg/dave"),
        op.url("v1/id/erin"),
    ] {
        discovers_once_per_login(&e, &op, &identifier);
    }
    assert!(!e.log().contains("AUTHRS0900"), "{}", e.log());
}
