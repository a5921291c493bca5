#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::engine::{decide, Stores, Verdict};
use crate::identity::AuthMethod;
use crate::request::RequestFacts;
use crate::ticket::Ticket;
use serde_json::json;

const KEY: &str = "dGVzdC1rZXktZm9yLW1vZF9hdXRocnMtdGVzdHMtMzI=";

fn site(v: Value) -> Site {
    Site::from_json_str(&v.to_string()).unwrap_or_else(|e| panic!("{v}: {e}"))
}

fn error(v: Value) -> String {
    match Site::from_json_str(&v.to_string()) {
        Ok(_) => panic!("accepted {v}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn locations_match_in_order_and_inherit() {
    let s = site(json!({
        "auth_name": "Example",
        "ticket_keys": [KEY],
        "login_url": "/login",
        "login_path": "/login",
        "logout_path": "/logout",
        "recognize_user": true,
        "locations": [
            {"exact": "/app/public", "require": {"all_granted": true}},
            {"prefix": "/app/admin", "require": {"role": ["admin"]}, "cookie_path": "/app"},
            {"regex": "/api/v[0-9]+/.*", "require": {"valid_user": true}, "unauth_action": "401"},
            {"prefix": "/app", "require": [{"user": ["alice"]}]}
        ]
    }));
    assert!(!s.route("/elsewhere").protected);
    assert!(s.route("/elsewhere").recognize_user);
    let admin = s.route("/app/admin/x");
    assert!(admin.protected);
    assert_eq!(admin.policy.cookie.path, "/app");
    assert_eq!(admin.policy.cookie.name, "AuthRs_Example");
    assert_eq!(s.route("/app/public").policy.cookie.path, "/");
    assert!(s.route("/app/public/more").protected);
    assert!(s.route("/api/v2/things").protected);
    // Regexes match the whole path, like Envoy's safe_regex.
    assert!(!s.route("/x/api/v2/things").protected);
    assert!(!s.route("/api/vx/things").protected);
    assert_eq!(s.endpoint("/login"), Some(Endpoint::Login));
    assert_eq!(s.endpoint("/logout"), Some(Endpoint::Logout));
    assert_eq!(s.endpoint("/login/x"), None);
    assert!(!s.uses_revocation && !s.accept_untrusted && !s.reads_peer);
}

#[test]
fn the_client_address_is_read_where_a_scope_needs_it() {
    let bound = site(json!({
        "ticket_keys": [KEY],
        "locations": [
            {"prefix": "/a", "require": {"valid_user": true}},
            {"prefix": "/b", "bind_address": true, "require": {"valid_user": true}}
        ]
    }));
    assert!(bound.reads_peer);
    assert!(site(json!({"trusted_proxies": "192.0.2.0/24"})).reads_peer);
    assert!(site(json!({"bind_address": true})).reads_peer);
    let plain = site(json!({
        "ticket_keys": [KEY],
        "locations": [{"prefix": "/", "require": {"valid_user": true}}]
    }));
    assert!(!plain.reads_peer);
}

#[test]
fn a_location_decides_with_its_require_tree() {
    let s = site(json!({
        "ticket_keys": [KEY],
        "groups": {"staff": ["bob"]},
        "locations": [{"prefix": "/", "require": {"any": [{"user": ["alice"]}, {"group": ["staff"]}]}}]
    }));
    let scope = s.route("/x");
    let keys = scope.policy.keys.as_ref().unwrap();
    let ask = |user: &str| {
        let cookie = keys
            .mint(&Ticket::new(user, AuthMethod::Password, 1_000, 3_600))
            .unwrap();
        let req = RequestFacts {
            method: "GET".into(),
            path: "/x".into(),
            headers: vec![("cookie".into(), format!("AuthRs={cookie}").into())],
            ..RequestFacts::default()
        };
        decide(&scope.policy, &req, 1_100, &mut Stores::default()).verdict
    };
    assert_eq!(ask("alice"), Verdict::Allow);
    assert_eq!(ask("bob"), Verdict::Allow);
    assert!(matches!(ask("carol"), Verdict::Forbidden { .. }));
}

#[test]
fn password_sources() {
    let s = site(json!({"users": "alice:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M="}));
    assert!(matches!(s.unmatched.passwords, Passwords::Users(_)));
    let s = site(json!({"password_check": {"cluster": "auth", "path": "/check", "timeout": 0.5}}));
    let Passwords::Service(svc) = &s.unmatched.passwords else {
        panic!("no service")
    };
    assert_eq!(svc.timeout_ms, 500);
    assert_eq!(svc.authority, "auth");
    let s = site(json!({"revoke_on_logout": true, "trust_chain_verification": "ACCEPT_UNTRUSTED"}));
    assert!(s.uses_revocation && s.accept_untrusted);
}

#[test]
fn mistakes_name_the_key() {
    for (doc, needle) in [
        (
            json!({"locations": [{"prefix": "/a"}]}),
            "needs \"require\"",
        ),
        (
            json!({"locations": [{"require": {"valid_user": true}}]}),
            "one of \"prefix\"",
        ),
        (
            json!({"locations": [{"prefix": "/a", "exact": "/a", "require": {"valid_user": true}}]}),
            "exactly one matcher",
        ),
        (
            json!({"locations": [{"prefix": "a", "require": {"valid_user": true}}]}),
            "start with /",
        ),
        (
            json!({"locations": [{"regex": "(", "require": {"valid_user": true}}]}),
            "locations[0].regex",
        ),
        (
            json!({"locations": [{"prefix": "/", "require": {"usr": ["a"]}}]}),
            "locations[0].require",
        ),
        (
            json!({"locations": [{"prefix": "/", "require": {"valid_user": true}, "ticket_keys": ["x"]}]}),
            "locations[0].ticket_keys",
        ),
        (
            json!({"locations": [{"prefix": "/", "require": {"valid_user": true}, "cooky_name": "x"}]}),
            "cookie_name",
        ),
        (json!({"locations": {"prefix": "/"}}), "locations"),
        (
            json!({"require": {"valid_user": true}}),
            "inside an entry of \"locations\"",
        ),
        (
            json!({"trust_chain_verification": "NOPE"}),
            "ACCEPT_UNTRUSTED",
        ),
        (
            json!({"users": "x", "password_check": {"cluster": "a", "path": "/"}}),
            "not both",
        ),
        (
            json!({"password_check": {"cluster": "a"}}),
            "needs \"path\"",
        ),
        (
            json!({"password_check": {"cluster": "a", "path": "/", "timeout": 600}}),
            "at most 60",
        ),
        (
            json!({"password_check": {"cluster": "a", "path": "/", "tls": true}}),
            "unknown key",
        ),
        (json!({"groups": {"g": "alice"}}), "groups"),
        (
            json!({"crl_file": "/etc/x.crl"}),
            "unknown key \"crl_file\"",
        ),
        (json!({"ticket_keys": ["not base64!"]}), "ticket_keys"),
        (json!([1, 2]), "JSON object"),
        (json!({"auth_name": 3}), "auth_name"),
    ] {
        let e = error(doc.clone());
        assert!(e.contains(needle), "{doc}: {e}");
    }
    assert!(Site::from_json_str("{")
        .unwrap_err()
        .to_string()
        .contains("not valid JSON"));
    // A key given twice in any object is refused, not "last one wins" (which would empty a
    // group or swap the methods without a word).
    for doc in [
        r#"{"methods": "cert", "methods": "ticket"}"#,
        r#"{"groups": {"banned": ["mallory"], "banned": []}}"#,
        r#"{"locations": [{"prefix": "/a", "prefix": "/b"}]}"#,
    ] {
        let e = Site::from_json_str(doc).unwrap_err().to_string();
        assert!(e.contains("appears twice"), "{doc}: {e}");
        let e = authrs_settings_error(doc);
        assert!(e.contains("appears twice"), "{doc}: {e}");
    }
}

/// The error `Settings::from_json_str` gives for `doc`.
fn authrs_settings_error(doc: &str) -> String {
    crate::config::Settings::from_json_str(doc)
        .unwrap_err()
        .to_string()
}

#[test]
fn secrets_stay_out_of_errors() {
    let e = error(json!({"users": "alice:$2y$05$abcdefghijklmnopqrstuu\nbroken line"}));
    assert!(!e.contains("abcdefgh"), "{e}");
    let e = error(json!({"ticket_keys": ["c2VjcmV0"]}));
    assert!(!e.contains("c2VjcmV0"), "{e}");
}

#[test]
fn paths_are_normalized_or_refused() {
    for (raw, want) in [
        ("/app/page?x=1", "/app/page"),
        ("/a%20b", "/a%20b"),
        ("/", "/"),
        ("/app/", "/app/"),
        ("/x/y..z/.hidden/z.", "/x/y..z/.hidden/z."),
        // Path parameters, as servlet containers drop them before routing.
        ("/admin;x/secret", "/admin/secret"),
        ("/admin;/secret", "/admin/secret"),
        ("/app/page.jsp;jsessionid=ABC?x=1", "/app/page.jsp"),
        // Bytes that are not UTF-8 but no decoder reads as ASCII: Latin-1 names, a shortest
        // 3-byte form, a surrogate.
        ("/docs/r%E9sum%E9.pdf", "/docs/r%E9sum%E9.pdf"),
        ("/a%E0%A0%80%80", "/a%E0%A0%80%80"),
        ("/a%ED%A0%80", "/a%ED%A0%80"),
        // Not overlong: a lead byte followed by a character the `url` crate encodes (the
        // fuzzer's find: `%E0` then a raw backtick became `%E0%60`, refused on a second pass).
        ("/a%E0`d", "/a%E0%60d"),
        // What a servlet's encodeURL makes of `/app/` and `/` without cookies.
        ("/app/;jsessionid=ABC", "/app/"),
        ("/;jsessionid=ABC", "/"),
        // One spelling per path: escapes in uppercase, the rest encoded as the `url` crate does.
        ("/caf%c3%a9/%3a", "/caf%C3%A9/%3A"),
        ("/\u{fc}ber", "/%C3%BCber"),
        ("/a b", "/a%20b"),
    ] {
        assert_eq!(normalize_path(raw).as_deref(), Ok(want), "{raw}");
    }
    for (raw, e) in [
        ("/%61pp/secret", PathError::AmbiguousEncoding),
        ("/public/%2e%2e/app", PathError::AmbiguousEncoding),
        ("/public%2f..%2fapp", PathError::AmbiguousEncoding),
        ("/a%5capp", PathError::AmbiguousEncoding),
        ("/a%00", PathError::AmbiguousEncoding),
        ("/a%", PathError::AmbiguousEncoding),
        ("/a%zz", PathError::AmbiguousEncoding),
        ("/a%252e", PathError::AmbiguousEncoding),
        ("/a%3Bb/c", PathError::AmbiguousEncoding),
        ("/app%3bx/secret", PathError::AmbiguousEncoding),
        // Overlong UTF-8 for `.` (old decoders), and other bytes no UTF-8 text holds.
        ("/public/%C0%AE%C0%AE/admin", PathError::AmbiguousEncoding),
        ("/a%c1%81", PathError::AmbiguousEncoding),
        ("/a%FF", PathError::AmbiguousEncoding),
        // Envoy removes these (normalize_path, merge_slashes) before any filter runs; one that
        // arrives anyway could be resolved differently by the routes, the backend and us.
        ("//app//page", PathError::DotSegment),
        ("/app//page", PathError::DotSegment),
        ("/public/../app/secret", PathError::DotSegment),
        ("/public/./../../app", PathError::DotSegment),
        ("/app/admin//..", PathError::DotSegment),
        ("/app/.", PathError::DotSegment),
        ("/app/..", PathError::DotSegment),
        // `..;` is `..` to Tomcat, Jetty and Envoy's normalize_path, a name to most servers.
        ("/public/..;/admin/secret", PathError::DotSegment),
        ("/app/..;/x", PathError::DotSegment),
        ("/public/..;x=1/admin", PathError::DotSegment),
        ("/a/.;/b", PathError::DotSegment),
        ("/;x/admin", PathError::DotSegment),
        // Overlong UTF-8 of every length (old decoders read these as ASCII).
        (
            "/public/%E0%80%AE%E0%80%AE/admin",
            PathError::AmbiguousEncoding,
        ),
        ("/a%F0%80%80%AE", PathError::AmbiguousEncoding),
        ("/a%e0%9f%bf", PathError::AmbiguousEncoding),
        // Bytes the shell received as something other than UTF-8.
        ("/public/\u{fffd}\u{fffd}/admin", PathError::Malformed),
        ("/a\\..\\app", PathError::Malformed),
        ("app", PathError::Malformed),
        ("*", PathError::Malformed),
        ("/a\u{0}b", PathError::Malformed),
        ("/a#frag", PathError::Malformed),
    ] {
        assert_eq!(normalize_path(raw), Err(e), "{raw}");
    }
    assert_eq!(
        normalize_path(&format!("/{}", "a".repeat(MAX_PATH))),
        Err(PathError::TooLong)
    );
}

#[test]
fn openid_needs_a_secret_a_login_path_and_clusters() {
    let e = error(json!({"methods": ["openid"]}));
    assert!(e.contains("openid_consumer_secret"), "{e}");
    let base = || {
        json!({"ticket_keys": [KEY], "methods": ["ticket", "openid"],
               "openid_consumer_secret": "s3cret-s3cret-s3cret", "login_path": "/login",
               "openid_realm": "https://rp.example/"})
    };
    let e = error(base());
    assert!(e.contains("openid_clusters"), "{e}");
    // Without a realm or a required root the site has no URL of its own to check return_to by.
    let mut v = base();
    v.as_object_mut().unwrap().remove("openid_realm");
    v["openid_clusters"] = json!([{"cluster": "op", "url_prefix": "https://"}]);
    let e = error(v);
    assert!(
        e.contains("openid_required_root") && e.contains("openid_realm"),
        "{e}"
    );
    let mut v = base();
    v.as_object_mut().unwrap().remove("login_path");
    v["openid_clusters"] = json!([{"cluster": "op", "url_prefix": "https://"}]);
    let e = error(v);
    assert!(e.contains("login_path"), "{e}");
    let mut v = base();
    v["openid_clusters"] = json!([{"cluster": "op", "url_prefix": "gopher://x/"}]);
    let e = error(v);
    assert!(
        e.contains("openid_clusters") && e.contains("http(s)"),
        "{e}"
    );
    // Clusters without openid would do nothing: refused rather than ignored.
    let e = error(json!({"ticket_keys": [KEY],
        "openid_clusters": [{"cluster": "op", "url_prefix": "https://"}]}));
    assert!(e.contains("openid_clusters"), "{e}");
    let mut v = base();
    v["openid_clusters"] = json!([{"cluster": "op", "url_prefix": "https://op.example/"}]);
    let s = site(v);
    let clusters = s.openid_clusters.as_ref().expect("clusters");
    assert_eq!(
        clusters
            .call_for("https://op.example/x", 1)
            .unwrap()
            .cluster,
        "op"
    );
    assert!(s.route("/login").policy.openid.is_some());
}

/// The fast path of `normalize_path` must agree with the `url` crate on every path it takes:
/// all paths of up to two printable ASCII characters, all paths of up to four characters
/// from an alphabet of path punctuation, and many longer pseudo-random ones.
#[test]
fn plain_paths_are_what_url_would_make_of_them() {
    let mut candidates: Vec<String> = Vec::new();
    let printable: Vec<char> = (0x20u8..0x7f).map(char::from).collect();
    candidates.push("/".into());
    for &a in &printable {
        candidates.push(format!("/{a}"));
        for &b in &printable {
            candidates.push(format!("/{a}{b}"));
        }
    }
    let tricky: Vec<char> = "/.a%2e~;@:=+!$&'()*,-_^|`{}[]\"<> ?#".chars().collect();
    let mut short = vec![String::new()];
    for _ in 0..4 {
        short = short
            .iter()
            .flat_map(|s| tricky.iter().map(move |c| format!("{s}{c}")))
            .collect();
        candidates.extend(short.iter().map(|s| format!("/{s}")));
    }
    // A fixed linear congruential sequence: the same inputs on every run.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..20_000 {
        let mut s = String::from("/");
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        for _ in 0..(state >> 59) + 1 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let pool = if state >> 63 == 0 {
                &tricky
            } else {
                &printable
            };
            s.push(pool[(state >> 33) as usize % pool.len()]);
        }
        candidates.push(s);
    }
    let mut plain = 0;
    for p in &candidates {
        if is_plain_path(p) {
            plain += 1;
            assert_eq!(resolve_path(p).as_deref(), Ok(p.as_str()), "{p:?}");
            assert_eq!(normalize_path(p).as_deref(), Ok(p.as_str()), "{p:?}");
        }
    }
    assert!(plain > 10_000, "only {plain} plain paths tried");
    for p in ["/", "/app/page", "/a-b_c~d/e.f/g=h", "/x/y..z/z."] {
        assert!(is_plain_path(p), "{p}");
    }
    for p in [
        "//a", "/a/./b", "/a/../b", "/.", "/a%20b", "/a b", "/a^b", "/a\"{", "/a;b",
    ] {
        assert!(!is_plain_path(p), "{p}");
    }
}

/// The option reference's example for each JSON-valued key (`, …` dropped) is accepted as it
/// is written: the reference must not document keys the parser refuses.
#[test]
fn the_references_json_examples_parse() {
    let mut checked = Vec::new();
    for spec in crate::config::OPTIONS {
        let (Some(name), crate::config::ValueKind::Json) = (spec.json, spec.kind) else {
            continue;
        };
        let Ok(example) = serde_json::from_str::<Value>(&spec.syntax.replace(", …", "")) else {
            continue;
        };
        // Clusters are only taken where OpenID is on, which needs a secret and a login path.
        let mut v = if name == "openid_clusters" {
            json!({"ticket_keys": [KEY], "methods": ["ticket", "openid"],
                   "openid_consumer_secret": "s3cret-s3cret-s3cret", "login_path": "/login",
                   "openid_realm": "https://rp.example/"})
        } else {
            json!({"ticket_keys": [KEY]})
        };
        v[name] = example;
        if let Err(e) = Site::from_json_str(&v.to_string()) {
            panic!(
                "the reference's {name} example {:?} is refused: {e}",
                spec.syntax
            );
        }
        checked.push(name);
    }
    for name in ["groups", "locations", "openid_clusters"] {
        assert!(checked.contains(&name), "{name} not checked: {checked:?}");
    }
}

/// A `group` rule naming a group the location's groups do not define can never match: under
/// `not` it would let everyone through. Refused at load, naming the group.
#[test]
fn require_names_only_groups_the_location_defines() {
    let require = json!({"all": [{"valid_user": true}, {"not": {"group": ["banned"]}}]});
    let top_groups = json!({"banned": ["mallory"], "staff": ["alice"]});
    // The top level's groups reach the location: fine.
    site(json!({"ticket_keys": [KEY], "groups": top_groups,
                "locations": [{"prefix": "/app", "require": require}]}));
    // The location's own groups replace them: "banned" is gone, and mallory would pass.
    let e = error(json!({"ticket_keys": [KEY], "groups": top_groups,
                "locations": [{"prefix": "/app", "require": require,
                               "groups": {"ops": ["bob"]}}]}));
    assert!(
        e.contains("locations[0].require") && e.contains("banned") && e.contains("do not define"),
        "{e}"
    );
    // A misspelt name, and no groups at all, the same; the case of a name does not matter.
    let e = error(json!({"ticket_keys": [KEY], "groups": top_groups,
                "locations": [{"prefix": "/app", "require": {"group": ["staf"]}}]}));
    assert!(e.contains("staf"), "{e}");
    let e = error(json!({"ticket_keys": [KEY],
                "locations": [{"prefix": "/app", "require": {"group": ["staff"]}}]}));
    assert!(e.contains("staff"), "{e}");
    site(json!({"ticket_keys": [KEY], "groups": top_groups,
                "locations": [{"prefix": "/app", "require": {"group": ["STAFF"]}}]}));
}

/// Settings that load but cannot do what they look like are reported at load (AUTHRS0003): a
/// site with no location that requires anything protects nothing; `trusted_cas` narrows
/// nothing unless Envoy accepts untrusted chains.
#[test]
fn settings_that_do_nothing_are_warned_about() {
    let ca = include_str!("../cert/chain/fixtures/rsa-root.pem");
    let warnings = |v: Value| site(v).warnings();
    let protected = json!([{"prefix": "/app", "require": {"valid_user": true}}]);
    assert!(warnings(json!({"ticket_keys": [KEY], "locations": protected})).is_empty());
    let w = warnings(json!({"ticket_keys": [KEY]}));
    assert!(w.len() == 1 && w[0].contains("protects no path"), "{w:?}");
    let w = warnings(json!({"ticket_keys": [KEY], "locations": protected, "trusted_cas": ca}));
    assert!(w.len() == 1 && w[0].contains("ACCEPT_UNTRUSTED"), "{w:?}");
    let w = warnings(json!({
        "ticket_keys": [KEY], "locations": protected, "trusted_cas": ca,
        "trust_chain_verification": "ACCEPT_UNTRUSTED"
    }));
    assert!(w.is_empty(), "{w:?}");
}

/// Inline `users` whose dearest hash costs more than a worker thread should block for is
/// reported at load (the filter logs it as AUTHRS0003); cheap ones, and `password_check`, not.
#[test]
fn slow_inline_users_are_warned_about() {
    let cheap = crate::password::hash_bcrypt("pw", 4, [1u8; 16]).unwrap();
    // The same layout at cost 10: only the estimate is read at load, nothing is verified.
    let dear = cheap.replacen("$2y$04$", "$2y$10$", 1);
    let with = |users: String| {
        site(
            json!({"ticket_keys": [KEY], "users": users, "login_path": "/login",
                    "locations": [{"prefix": "/app", "require": {"valid_user": true}}]}),
        )
    };
    assert!(with(format!("a:{cheap}")).warnings().is_empty());
    let w = with(format!("a:{dear}\nb:{dear}")).warnings();
    assert_eq!(
        w.len(),
        1,
        "one warning for the site, not one per scope: {w:?}"
    );
    assert!(
        w[0].contains("about 112 ms") && w[0].contains("password_check"),
        "{w:?}"
    );
    // Hashes of different costs: timing tells the cheaper users from unknown names.
    let w = with(format!("a:{cheap}\nb:{dear}")).warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("differ in cost"), "{w:?}");
}

#[test]
fn a_path_read_differently_by_backends_is_refused_when_the_location_depends_on_it() {
    let s = site(json!({
        "ticket_keys": [KEY],
        "login_url": "/login",
        "locations": [
            {"exact": "/v1/jobs:run", "require": {"user": ["ops"]}},
            {"prefix": "/a|b[1]^", "require": {"user": ["ops"]}},
            {"prefix": "/app/admin", "require": {"role": ["admin"]}},
            {"regex": "/export/.*\\.json", "require": {"user": ["ops"]}},
            {"prefix": "/app/", "require": {"valid_user": true}},
            {"prefix": "/", "require": {"all_granted": true}}
        ]
    }));
    // Which location a path lands in, named by a path only that location matches.
    let located = |raw: &str| {
        s.locate(raw).map(|(path, scope)| {
            let names = [
                "/v1/jobs:run",
                "/a|b[1]^",
                "/app/admin",
                "/export/a.json",
                "/app/x",
                "/x",
            ];
            let name = names.into_iter().find(|n| std::ptr::eq(scope, s.route(n)));
            (path, name.unwrap())
        })
    };
    let admin = |raw: &str| located(raw).unwrap().1 == "/app/admin";
    // Parameters kept (Envoy's routes, most servers) or dropped (servlets): the same location.
    assert_eq!(
        located("/app/page.jsp;jsessionid=A1"),
        Ok(("/app/page.jsp".into(), "/app/x"))
    );
    assert!(admin("/app/admin;x/users"));
    assert_eq!(
        located("/app/;jsessionid=A1"),
        Ok(("/app/".into(), "/app/x"))
    );
    // `/app;x/admin/users` is /app/admin/users to Tomcat, a sibling of /app/ to everyone else.
    assert_eq!(
        located("/app;x/admin/users"),
        Err(PathError::AmbiguousLocation)
    );
    assert_eq!(located("/public;x/a"), Ok(("/public/a".into(), "/x")));
    // Escaped sub-delimiters, `:` and `@`: decoded by some backends, kept by Envoy's routes.
    assert_eq!(located("/v1/jobs%3Arun"), Err(PathError::AmbiguousLocation));
    assert_eq!(located("/v1/jobs%3arun"), Err(PathError::AmbiguousLocation));
    assert_eq!(
        located("/v1/jobs:run"),
        Ok(("/v1/jobs:run".into(), "/v1/jobs:run"))
    );
    // `|`, `[`, `]` and `^` stay literal in a path (the `url` crate encodes none of them): their
    // escapes are the same path to a decoding backend.
    assert_eq!(
        located("/a|b[1]^/secret"),
        Ok(("/a|b[1]^/secret".into(), "/a|b[1]^"))
    );
    for raw in [
        "/a%7Cb[1]^/secret",
        "/a%7cb[1]^/secret",
        "/a|b%5B1]^/secret",
        "/a|b[1%5D^/secret",
        "/a|b[1]%5E/secret",
    ] {
        assert_eq!(located(raw), Err(PathError::AmbiguousLocation), "{raw}");
    }
    assert_eq!(
        located("/files/a%7Cb"),
        Ok(("/files/a%7Cb".into(), "/x")),
        "under one location either way: served"
    );
    assert_eq!(
        located("/app/files/a%2Bb.txt"),
        Ok(("/app/files/a%2Bb.txt".into(), "/app/x"))
    );
    assert_eq!(
        located("/files/a%2Bb%40c"),
        Ok(("/files/a%2Bb%40c".into(), "/x"))
    );
    // A regex location is judged on every reading too.
    assert_eq!(
        located("/export/x%2Ejson"),
        Err(PathError::AmbiguousEncoding)
    );
    assert_eq!(
        located("/export/x.json"),
        Ok(("/export/x.json".into(), "/export/a.json"))
    );
    assert_eq!(
        located("/export/x.json;v=1"),
        Err(PathError::AmbiguousLocation)
    );
    assert_eq!(
        located("/export/x;.json"),
        Err(PathError::AmbiguousLocation)
    );
    // An escaped `?` or `#`: a backend that decodes before splitting reads `/v1/jobs:run%3Fx`
    // as the exact location's path, and `/export/x.json%23y` as the regex's.
    for raw in [
        "/v1/jobs:run%3Fx",
        "/v1/jobs:run%3fx",
        "/v1/jobs:run%23",
        "/export/x.json%23y",
        "/export/x.json%3F.html",
        // Both at once: `:` decoded, then cut at the `?`.
        "/v1/jobs%3Arun%3Fx",
        "/v1/jobs%3arun%23",
    ] {
        assert_eq!(located(raw), Err(PathError::AmbiguousLocation), "{raw}");
    }
    // Under a prefix location the cut path stays in it: served.
    assert_eq!(
        located("/app/files/a%3Fb"),
        Ok(("/app/files/a%3Fb".into(), "/app/x"))
    );
    assert_eq!(
        located("/files/what%3F"),
        Ok(("/files/what%3F".into(), "/x"))
    );
    // Refusals of normalize_path come through.
    assert_eq!(located("/app/..;/x"), Err(PathError::DotSegment));
    // Without locations every reading is unmatched: nothing to compare.
    let bare = site(json!({"ticket_keys": [KEY], "login_url": "/login"}));
    assert!(bare.locate("/a;x/b%3Ac").is_ok());
}

#[test]
fn location_paths_must_be_written_as_requests_are_matched() {
    for (literal, hint) in [
        ("/\u{fc}ber", "/%C3%BCber"),
        ("/caf%c3%a9", "/caf%C3%A9"),
        ("/a b", "/a%20b"),
        ("/v1/jobs%3Arun", "/v1/jobs:run"),
        ("/a%7Cb%5B1%5D%5E", "/a|b[1]^"),
        ("/app;x/admin", "/app/admin"),
    ] {
        let e = error(json!({
            "ticket_keys": [KEY],
            "locations": [{"prefix": literal, "require": {"valid_user": true}}]
        }));
        assert!(
            e.contains("locations[0].prefix") && e.contains(hint),
            "{literal}: {e}"
        );
    }
    for literal in ["/app/../admin", "//app", "/a%2Fb", "/app/."] {
        let e = error(json!({
            "ticket_keys": [KEY],
            "locations": [{"exact": literal, "require": {"valid_user": true}}]
        }));
        assert!(e.contains("locations[0].exact"), "{literal}: {e}");
    }
    let e = error(json!({"ticket_keys": [KEY], "login_url": "/x", "login_path": "/a/../LOGIN"}));
    assert!(e.contains("login_path"), "{e}");
    let e = error(json!({"ticket_keys": [KEY], "logout_path": "/LOGOUT;x"}));
    assert!(e.contains("logout_path"), "{e}");
}

/// Regression from `make fuzz` (request_path): normalizing a normalized path must change
/// nothing — here a lead byte `%E0` before a raw backtick, encoded to `%60` on the first pass.
#[test]
fn normalizing_twice_agrees_on_the_fuzzers_find() {
    let raw = "/                   /s/s/．。。．mmm．。㈂ﴎ。`mym．も。%E0`d。．。。．mmm．。。ﴎ。。`mmm．．。。。．mmm-．．。。。．mmm．。。ﴎ。。`mmm．も\u{3000}{d{{e            ..;                 ";
    let once = normalize_path(raw).expect("normalizes");
    assert_eq!(normalize_path(&once).as_deref(), Ok(once.as_str()));
}
