//! OpenID 2.0 login through mod_authrs in the real httpd, against a real provider on loopback
//! (python3-openid's server, scripted in `tests/openid_op.py` to approve test identities).

use authrs_tests::apache::{config_test, Apache, Mpm};
use authrs_tests::curl::Request;
use authrs_tests::openid_login::{
    discovers_once_per_login, post_identifier, reason_of, to_provider_and_back, with_param,
    STATE_COOKIE as STATE,
};
use authrs_tests::openid_provider::Provider;
use authrs_tests::{demo_certs, scratch};

const KEY_B64: &str = "dGVzdC1rZXktZm9yLW1vZF9hdXRocnMtdGVzdHMtMzI=";
const COOKIE: &str = "AuthRs_Example";

fn start(provider: &Provider, extra_login: &str) -> Apache {
    start_with(provider, Mpm::Event, extra_login)
}

fn start_with(provider: &Provider, mpm: Mpm, extra_login: &str) -> Apache {
    start_full(provider, mpm, "", extra_login)
}

/// This site's own URL for OpenID (required: the Host header is the client's to choose), unless
/// the test's own lines set a realm or a required root.
fn own_url(extra_login: &str) -> &'static str {
    if extra_login.contains("AuthRsOpenIDRealm") || extra_login.contains("AuthRsOpenIDRequiredRoot")
    {
        ""
    } else {
        "AuthRsOpenIDRealm https://127.0.0.1:@PORT@/"
    }
}

/// [`start_with`] plus server-wide lines (after the ticket key).
fn start_full(provider: &Provider, mpm: Mpm, extra_global: &str, extra_login: &str) -> Apache {
    let root = scratch("httpd-openid");
    let certs = root.join("certs");
    demo_certs(&certs);
    std::fs::write(root.join("ticket.key"), format!("{KEY_B64}\n")).expect("key");
    std::fs::write(
        root.join("openid.secret"),
        "consumer secret for the tests\n",
    )
    .expect("secret");
    for d in ["alice", "bob", "pw", "pw/strict"] {
        std::fs::create_dir_all(root.join("htdocs").join(d)).expect("mkdir");
        std::fs::write(
            root.join("htdocs").join(d).join("index.html"),
            format!("{d}\n"),
        )
        .expect("write");
    }
    let global = format!(
        "AuthRsTicketKeyFile \"{}/ticket.key\"\n{extra_global}",
        root.display()
    );
    let site = format!(
        r#"
<Location /app>
  AuthType AuthRs
  AuthName Example
  AuthRsLoginURL /LOGIN
  Require valid-user
</Location>
<Location /alice>
  AuthType AuthRs
  AuthName Example
  Require openid-id {alice}
</Location>
<Location /bob>
  AuthType AuthRs
  AuthName Example
  Require openid-id {bob}
</Location>
<Location /pw>
  AuthType AuthRs
  AuthName Example
  Require authn-method password
</Location>
<Location /pw/strict>
  AuthRsOpenIDStrength below-password
</Location>
<Location /LOGIN>
  SetHandler authrs-login
  AuthName Example
  AuthRsLoginURL /LOGIN
  AuthRsMethods ticket openid
  AuthRsOpenIDConsumerSecretFile "{root}/openid.secret"
  AuthRsOpenIDAllowPrivateAddresses On
  {own_url}
  {extra_login}
</Location>
"#,
        alice = provider.identity("alice"),
        bob = provider.identity("bob"),
        root = root.display(),
        own_url = own_url(extra_login),
    );
    Apache::start_with(root, certs, mpm, &global, &site)
}

#[test]
fn openid_login_end_to_end_with_replay_and_tampering() {
    let op = Provider::start();
    let a = start(&op, "");
    let alice = op.identity("alice");

    // Unauthenticated: the app sends the browser to the login handler.
    let r = Request::get(a.url("/app/cgi/echo"))
        .header("Accept: text/html")
        .ca(&a.ca())
        .send();
    assert_eq!(r.status, 302, "{r:?}");

    // Log in: identifier → provider → back → verified → ticket and 303 to the destination.
    let back = to_provider_and_back(&a, &alice, "/app/cgi/echo");
    assert!(back.url.contains("openid.mode=id_res"), "{}", back.url);
    // Login CSRF: the assertion forwarded to another browser (no state cookie, or another one)
    // is refused, and does not burn the nonce.
    let r = Request::get(&back.url).ca(&a.ca()).send();
    assert_eq!(reason_of(&r).as_deref(), Some("state_mismatch"), "{r:?}");
    assert_eq!(r.cookie(COOKIE), None);
    let r = Request::get(&back.url)
        .cookie(STATE, "0123456789abcdef0123456789abcdef")
        .ca(&a.ca())
        .send();
    assert_eq!(reason_of(&r).as_deref(), Some("state_mismatch"), "{r:?}");
    let r = back.follow(&a);
    assert_eq!(r.status, 303, "{r:?}\n{}", a.error_log());
    assert_eq!(r.header("location"), Some("/app/cgi/echo"));
    let cookie = r.cookie(COOKIE).expect("ticket cookie");
    let r = Request::get(a.url("/app/cgi/echo"))
        .cookie(COOKIE, &cookie)
        .ca(&a.ca())
        .send();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.env("AUTHRS_METHOD"), Some("openid"));
    assert_eq!(r.env("REMOTE_USER"), Some(alice.as_str()));
    assert_eq!(r.env("AUTHRS_USER"), Some(alice.as_str()));
    assert!(a.error_log().contains("AUTHRS0332"), "{}", a.error_log());
    // DH-SHA1 association over loopback http: the signature is checked here, not by the provider.
    assert!(
        a.error_log()
            .lines()
            .any(|l| l.contains("AUTHRS0330") && l.contains("(associated)")),
        "{}",
        a.error_log()
    );

    // Require openid-id: alice's page yes, bob's page no.
    let r = Request::get(a.url("/alice/"))
        .cookie(COOKIE, &cookie)
        .ca(&a.ca())
        .send();
    assert_eq!((r.status, r.body.as_str()), (200, "alice\n"));
    let r = Request::get(a.url("/bob/"))
        .cookie(COOKIE, &cookie)
        .ca(&a.ca())
        .send();
    assert_eq!(
        r.status, 401,
        "httpd answers 401 when an authenticated user fails authz"
    );
    // AuthRsOpenIDStrength: by default OpenID passes `Require authn-method password`; placed
    // below password it does not (the merged child section moves it, the parent keeps it).
    let r = Request::get(a.url("/pw/"))
        .cookie(COOKIE, &cookie)
        .ca(&a.ca())
        .send();
    assert_eq!((r.status, r.body.as_str()), (200, "pw\n"), "{r:?}");
    let r = Request::get(a.url("/pw/strict/"))
        .cookie(COOKIE, &cookie)
        .ca(&a.ca())
        .send();
    assert_eq!(r.status, 401, "{r:?}");

    // The same id_res again, even with the state cookie: a replay.
    let r = back.follow(&a);
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(reason_of(&r).as_deref(), Some("nonce_reused"), "{r:?}");
    assert_eq!(r.cookie(COOKIE), None);
    assert_eq!(r.header("x-authrs-reason"), Some("nonce_reused"));
    let log = a.error_log();
    assert!(
        log.lines()
            .any(|l| l.contains("AUTHRS0320") && l.contains("nonce_reused")),
        "{log}"
    );
    // The login page shows it.
    let location = r.header("location").expect("location").to_string();
    let page = Request::get(a.url(&location)).ca(&a.ca()).send();
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(r#"data-reason="nonce_reused""#),
        "{}",
        page.body
    );
    // Where OpenID is enabled the page offers it, posting to the handler.
    assert!(
        page.body.contains(r#"name="openid_identifier""#) && !page.body.contains("<!--openid"),
        "{}",
        page.body
    );

    // A signed field changed in transit: the association's signature no longer matches.
    let back = to_provider_and_back(&a, &alice, "/app/");
    let tampered = back.tampered();
    let r = tampered.follow(&a);
    assert_eq!(
        reason_of(&r).as_deref(),
        Some("signature_mismatch"),
        "{r:?}\n{}",
        a.error_log()
    );
    assert_eq!(r.cookie(COOKIE), None);
    // Claiming to be bob with alice's assertion.
    let forged = back.with("openid.claimed_id", &op.identity("bob"));
    let r = forged.follow(&a);
    assert!(
        reason_of(&r).is_some() && r.cookie(COOKIE).is_none(),
        "{r:?}"
    );
    // The untouched message still verifies: the forgeries did not burn its nonce.
    let r = back.follow(&a);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/app/"));
    assert!(r.cookie(COOKIE).is_some(), "{r:?}\n{}", a.error_log());

    // The user declines at the provider.
    let back = to_provider_and_back(&a, &op.identity("cancel"), "/app/");
    assert!(back.url.contains("openid.mode=cancel"), "{}", back.url);
    let r = back.follow(&a);
    assert_eq!(reason_of(&r).as_deref(), Some("cancelled"), "{r:?}");
    assert_eq!(r.cookie(COOKIE), None);

    // AH01631: httpd's own line for alice denied at /bob/.
    a.assert_clean_log(&["AH01631"]);
}

#[test]
fn openid_start_refusals_carry_the_seed_codes() {
    let op = Provider::start();
    let other = Provider::start();
    let allowed = format!("http://127.0.0.1:{}/op", op.port);
    let a = start(&op, &format!("AuthRsOpenIDAllowedProviders {allowed}"));
    let post = |identifier: &str| post_identifier(&a, identifier, "/app/").send();
    // A foreign page cannot start a login in the user's browser (AUTHRS0305).
    let r = post_identifier(&a, &op.identity("alice"), "/app/")
        .header("Origin: https://evil.example")
        .send();
    assert_eq!((r.status, r.cookie(STATE)), (403, None));
    // A provider outside the allow-list is never contacted for a login; on the private
    // network (AuthRsOpenIDAllowPrivateAddresses, here loopback) its identifiers are not even
    // fetched: private addresses are allowed at the allowed providers' origins only.
    let r = post(&other.identity("alice"));
    assert_eq!(
        reason_of(&r).as_deref(),
        Some("no_identity_server"),
        "{r:?}"
    );
    assert!(
        a.error_log().contains("refusing"),
        "why it was not fetched is logged: {}",
        a.error_log()
    );
    // Not a URL at all, and a scheme that is never fetched.
    assert_eq!(reason_of(&post("   ")).as_deref(), Some("empty_url"));
    assert_eq!(
        reason_of(&post("file:///etc/passwd")).as_deref(),
        Some("bogus_url")
    );
    // A page that declares no provider.
    let r = post(&format!("http://127.0.0.1:{}/nothing-here", op.port));
    assert_eq!(
        reason_of(&r).as_deref(),
        Some("no_identity_server"),
        "{r:?}"
    );
    // The allowed provider works.
    let back = to_provider_and_back(&a, &op.identity("alice"), "/app/");
    let r = back.follow(&a);
    assert!(r.cookie(COOKIE).is_some(), "{r:?}\n{}", a.error_log());
    a.assert_clean_log(&["AUTHRS0305"]);
}

#[test]
fn private_addresses_are_refused_unless_allowed() {
    let op = Provider::start();
    let root = scratch("httpd-openid-private");
    let certs = root.join("certs");
    demo_certs(&certs);
    std::fs::write(root.join("ticket.key"), format!("{KEY_B64}\n")).expect("key");
    std::fs::write(root.join("openid.secret"), "s3cret-s3cret-s3cret\n").expect("secret");
    let global = format!("AuthRsTicketKeyFile \"{}/ticket.key\"\n", root.display());
    let site = format!(
        "<Location /LOGIN>\n SetHandler authrs-login\n AuthName Example\n AuthRsLoginURL /LOGIN\n AuthRsMethods ticket openid\n AuthRsOpenIDConsumerSecretFile \"{}/openid.secret\"\n AuthRsOpenIDRealm https://127.0.0.1:@PORT@/\n</Location>\n",
        root.display()
    );
    let a = Apache::start_in(root, certs, &global, &site);
    let r = post_identifier(&a, &op.identity("alice"), "/").send();
    assert_eq!(r.status, 303);
    // Loopback is refused before any fetch: the seed's bogus_url for a URL it may not fetch.
    assert_eq!(reason_of(&r).as_deref(), Some("bogus_url"), "{r:?}");
}

#[test]
fn stateless_login_verifies_with_check_authentication() {
    let op = Provider::start();
    // A no-encryption session over plain http is refused: no association, so every assertion
    // is verified by asking the provider (check_authentication).
    let a = start(&op, "AuthRsOpenIDAssocSessionType no-encryption");
    let alice = op.identity("alice");
    let back = to_provider_and_back(&a, &alice, "/app/cgi/echo");
    assert!(
        a.error_log()
            .lines()
            .any(|l| l.contains("AUTHRS0330") && l.contains("stateless")),
        "{}",
        a.error_log()
    );
    let r = back.follow(&a);
    assert_eq!(r.status, 303, "{r:?}\n{}", a.error_log());
    let cookie = r.cookie(COOKIE).expect("ticket cookie");
    let r = Request::get(a.url("/app/cgi/echo"))
        .cookie(COOKIE, &cookie)
        .ca(&a.ca())
        .send();
    assert_eq!(r.env("AUTHRS_METHOD"), Some("openid"));
    assert_eq!(r.env("REMOTE_USER"), Some(alice.as_str()));
    // The same message again is a replay, caught by the nonce cache before asking the provider.
    let r = back.follow(&a);
    assert_eq!(reason_of(&r).as_deref(), Some("nonce_reused"), "{r:?}");

    // A signed field changed in transit: the provider does not confirm it.
    let back = to_provider_and_back(&a, &alice, "/app/");
    let tampered = back.tampered();
    let r = tampered.follow(&a);
    assert_eq!(
        reason_of(&r).as_deref(),
        Some("naive_verify_failed_return"),
        "{r:?}\n{}",
        a.error_log()
    );
    assert_eq!(r.cookie(COOKIE), None);
    a.assert_clean_log(&[]);
}

/// Logs in with `identifier` and returns the verified user the application sees.
fn login(a: &Apache, identifier: &str) -> String {
    let r = to_provider_and_back(a, identifier, "/app/cgi/echo").follow(a);
    assert_eq!(r.status, 303, "{r:?}\n{}", a.error_log());
    let cookie = r
        .cookie(COOKIE)
        .unwrap_or_else(|| panic!("{identifier}: {r:?}\n{}", a.error_log()));
    let r = Request::get(a.url("/app/cgi/echo"))
        .cookie(COOKIE, &cookie)
        .ca(&a.ca())
        .send();
    assert_eq!(r.env("AUTHRS_METHOD"), Some("openid"), "{r:?}");
    r.env("REMOTE_USER").expect("REMOTE_USER").to_string()
}

/// A login that comes back refused: the reason on the way back to the login page.
fn refused(a: &Apache, identifier: &str) -> Option<String> {
    let r = to_provider_and_back(a, identifier, "/app/").follow(a);
    assert_eq!(r.cookie(COOKIE), None, "{identifier}: {r:?}");
    reason_of(&r)
}

#[test]
fn the_realm_reaches_the_provider_and_must_contain_return_to() {
    let op = Provider::start();
    // Default: this site's scheme://host:port/.
    let a = start(&op, "");
    assert_eq!(login(&a, &op.identity("alice")), op.identity("alice"));
    assert_eq!(op.last("checkid_setup")["realm"], a.url("/"));
    // The provider checks return_to against it: a login sent with a realm that does not
    // contain return_to is refused there (python3-openid's UntrustedReturnURL).
    let r = post_identifier(&a, &op.identity("alice"), "/app/").send();
    let to_op = r.header("location").expect("location");
    let r = Request::get(with_param(to_op, "openid.realm", &a.url("/elsewhere/"))).send();
    assert_eq!(r.status, 400, "{r:?}");
    drop(a);

    // Default with AuthRsOpenIDRequiredRoot: the root.
    let a = start(
        &op,
        "AuthRsOpenIDRequiredRoot https://127.0.0.1:@PORT@/LOGIN",
    );
    login(&a, &op.identity("alice"));
    assert_eq!(op.last("checkid_setup")["realm"], a.url("/LOGIN"));
    drop(a);
    // Configured (a 1.1 provider gets it as trust_root).
    let a = start(&op, "AuthRsOpenIDRealm https://127.0.0.1:@PORT@/");
    login(&a, &op.url("v1/id/alice"));
    let checkid = op.last("checkid_setup");
    assert_eq!(
        (&checkid["realm"], &checkid["ns"]),
        (&a.url("/").into(), &serde_json::Value::Null)
    );
    drop(a);

    // A realm the login handler is outside of: refused here, before the provider is asked.
    let a = start(&op, "AuthRsOpenIDRealm https://elsewhere.example/");
    let before = op.count("checkid_setup");
    let r = post_identifier(&a, &op.identity("alice"), "/app/").send();
    assert_eq!(r.status, 500, "{r:?}");
    assert_eq!(op.count("checkid_setup"), before);
    assert!(a.error_log().contains("outside realm"), "{}", a.error_log());
    drop(a);
    // A realm that does not contain AuthRsOpenIDRequiredRoot: httpd -t fails.
    let secret = scratch("openid-secret").join("secret");
    std::fs::write(&secret, "s3cret-s3cret-s3cret\n").expect("secret");
    let (ok, out) = config_test(
        "",
        &format!(
            "<Location /LOGIN>\n SetHandler authrs-login\n AuthName Example\n \
             AuthRsMethods ticket openid\n AuthRsOpenIDConsumerSecretFile \"{}\"\n \
             AuthRsOpenIDRequiredRoot https://rp.example/app/\n \
             AuthRsOpenIDRealm https://rp.example/other/\n</Location>\n",
            secret.display()
        ),
    );
    assert!(!ok && out.contains("AuthRsOpenIDRealm"), "{out}");
}

/// The pid of an error log line (`[pid N]` or `[pid N:tid M]`).
fn pid_of(line: &str) -> Option<&str> {
    let rest = &line[line.find("[pid ")? + 5..];
    rest.split([']', ':']).next()
}

#[test]
fn associations_are_shared_by_all_processes() {
    let op = Provider::start();
    // prefork with MaxConnectionsPerChild 1: every request is served by a process that has
    // served nothing before, so a login's return is never handled where it started.
    let a = start_with(&op, Mpm::PreforkFreshProcesses, "");
    for name in ["alice", "bob", "carol"] {
        assert_eq!(login(&a, &op.identity(name)), op.identity(name));
    }
    let log = a.error_log();
    let pids: std::collections::HashSet<&str> = log
        .lines()
        .filter(|l| l.contains("AUTHRS0330") || l.contains("AUTHRS0332"))
        .filter_map(pid_of)
        .collect();
    assert!(
        pids.len() >= 6,
        "6 steps in fresh processes: {pids:?}\n{log}"
    );
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("AUTHRS0330") && l.contains("(associated)"))
            .count(),
        3,
        "{log}"
    );
    // One association for all of them, and every signature checked here, not by the provider.
    assert_eq!(op.count("associate"), 1, "{:?}", op.log());
    assert_eq!(op.count("check_authentication"), 0, "{:?}", op.log());
    let handles: std::collections::HashSet<String> = op
        .log()
        .iter()
        .filter(|e| e["mode"] == "checkid_setup")
        .map(|e| {
            e["assoc_handle"]
                .as_str()
                .expect("assoc_handle")
                .to_string()
        })
        .collect();
    assert_eq!(handles.len(), 1, "{handles:?}");
    a.assert_clean_log(&[]);
}

#[test]
fn openid_1_1_provider_and_delegation() {
    let op = Provider::start();
    let a = start(&op, "");
    // An identity page with only <link rel="openid.server">: the provider speaks 1.1.
    let alice = op.url("v1/id/alice");
    assert_eq!(login(&a, &alice), alice);
    let checkid = op.last("checkid_setup");
    assert_eq!(checkid["ns"], serde_json::Value::Null, "{checkid}");
    assert_eq!(checkid["realm"], a.url("/"), "trust_root: {checkid}");
    assert!(
        a.error_log()
            .lines()
            .any(|l| l.contains("AUTHRS0332") && l.contains("OpenID 1.x")),
        "{}",
        a.error_log()
    );
    // openid.delegate: the provider is asked about the delegate, the user is the claimed URL.
    let claimed = op.url("v1/deleg/bob");
    assert_eq!(login(&a, &claimed), claimed);
    assert_eq!(op.last("checkid_setup")["identity"], op.url("v1/id/bob"));
    assert_eq!(
        op.count("check_authentication"),
        0,
        "associated: {:?}",
        op.log()
    );
    a.assert_clean_log(&[]);
}

/// OpenID 1.x assertions carry no response_nonce, and the login state is in the URL: whoever
/// holds the return URL can set the state cookie to match. The state is spent by the first
/// successful return, so the same message cannot log in a second time.
#[test]
fn a_return_logs_in_once_even_without_a_response_nonce() {
    let op = Provider::start();
    let a = start(&op, "");
    let back = to_provider_and_back(&a, &op.url("v1/id/nononce"), "/app/");
    assert!(!back.url.contains("response_nonce"), "{}", back.url);
    let r = back.follow(&a);
    assert_eq!(r.status, 303, "{r:?}\n{}", a.error_log());
    assert!(r.cookie(COOKIE).is_some(), "{r:?}");
    let r = back.follow(&a);
    assert_eq!(reason_of(&r).as_deref(), Some("nonce_reused"), "{r:?}");
    assert_eq!(r.cookie(COOKIE), None);
    // A client that writes the request line in absolute form (`GET https://host/LOGIN?… HTTP/1.1`,
    // as proxies do): the URL compared with return_to is still the site's URL, path and query.
    let back = to_provider_and_back(&a, &op.url("v1/id/nononce"), "/app/");
    let r = back.follow_absolute_form(&a);
    assert_eq!(r.status, 303, "{r:?}\n{}", a.error_log());
    assert!(r.cookie(COOKIE).is_some(), "{r:?}\n{}", a.error_log());
    a.assert_clean_log(&[]);
}

#[test]
fn xrds_yadis_and_html_delegation_discovery() {
    let op = Provider::start();
    let a = start(&op, "");
    // X-XRDS-Location on an HTML page without links, pointing at an application/xrds+xml doc.
    let xrds = op.url("xrds/alice");
    assert_eq!(login(&a, &xrds), xrds);
    let checkid = op.last("checkid_setup");
    assert_eq!(
        (&checkid["claimed_id"], &checkid["identity"]),
        (&xrds.clone().into(), &xrds.into())
    );
    // Yadis content negotiation: the identifier itself answers XRDS, with a LocalID.
    let yadis = op.url("yadis/bob");
    assert_eq!(login(&a, &yadis), yadis);
    let checkid = op.last("checkid_setup");
    assert_eq!(checkid["claimed_id"], yadis.as_str());
    assert_eq!(checkid["identity"], op.identity("bob"));
    // HTML 2.0 delegation (openid2.local_id).
    let deleg = op.url("deleg/carol");
    assert_eq!(login(&a, &deleg), deleg);
    assert_eq!(op.last("checkid_setup")["identity"], op.identity("carol"));
    a.assert_clean_log(&[]);
}

#[test]
fn setup_needed_and_bogus_delegation_are_refused_with_their_codes() {
    let op = Provider::start();
    let a = start(&op, "");
    // 2.0: openid.mode=setup_needed.
    assert_eq!(
        refused(&a, &op.identity("setup")).as_deref(),
        Some("setup_needed")
    );
    // 1.1: id_res carrying user_setup_url (logged, not followed).
    assert_eq!(
        refused(&a, &op.url("v1/id/setup")).as_deref(),
        Some("setup_needed")
    );
    assert!(
        a.error_log()
            .lines()
            .any(|l| l.contains("AUTHRS0320") && l.contains("user_setup_url")),
        "{}",
        a.error_log()
    );
    // A provider asserting another local identifier than the claimed one delegates to, signed
    // with the association: the signature is good, the delegation is not.
    for claimed in ["bogus/alice", "v1/bogus/alice"] {
        assert_eq!(
            refused(&a, &op.url(claimed)).as_deref(),
            Some("bogus_delegation"),
            "{claimed}\n{}",
            a.error_log()
        );
    }
    let page = Request::get(a.url("/LOGIN?reason=setup_needed"))
        .ca(&a.ca())
        .send();
    assert!(
        page.body.contains(r#"data-reason="setup_needed""#),
        "{}",
        page.body
    );
    a.assert_clean_log(&["AUTHRS0320"]);
}

/// How many anonymous OpenID login starts the eviction test sends (each names a new provider,
/// so each makes a new association: two entries in the cache).
const FLOOD: usize = 40;

/// The site of the socache tests: /app, the login page (ticket and OpenID; `extra_login` adds
/// lines) and a logout that revokes.
fn revoking_site(root: &std::path::Path, extra_login: &str) -> String {
    format!(
        r#"
<Location /app>
  AuthType AuthRs
  AuthName Example
  AuthRsLoginURL /LOGIN
  Require valid-user
</Location>
<Location /LOGIN>
  SetHandler authrs-login
  AuthName Example
  AuthRsLoginURL /LOGIN
  AuthRsMethods ticket openid{extra_login}
  AuthRsOpenIDConsumerSecretFile "{r}/openid.secret"
  AuthRsOpenIDAllowPrivateAddresses On
  {own}
</Location>
<Location /LOGOUT>
  SetHandler authrs-logout
  AuthName Example
  AuthRsRevokeOnLogout On
</Location>
"#,
        r = root.display(),
        own = own_url(extra_login)
    )
}

/// Logout revocations and OpenID state live in separate socache instances. Anonymous login
/// starts naming ever new providers (each a new association) fill the OpenID one; revoked
/// tickets stay revoked. With one instance for both, such a flood evicted the revocations and
/// stolen copies of logged-out tickets were accepted again (a fail-open).
#[test]
fn openid_traffic_never_evicts_a_revocation() {
    let op = Provider::start();
    let root = scratch("httpd-openid-evict");
    let certs = root.join("certs");
    demo_certs(&certs);
    std::fs::write(root.join("ticket.key"), format!("{KEY_B64}\n")).expect("key");
    std::fs::write(root.join("openid.secret"), "s3cret-s3cret-s3cret\n").expect("secret");
    // Distinct users: a revocation is per login session (user, method, times, …).
    let users = ["u0", "u1", "u2"];
    let hash = authrs_core::password::hash_bcrypt("pw", 5, [7u8; 16]).expect("hash");
    let htpasswd: String = users.iter().map(|u| format!("{u}:{hash}\n")).collect();
    std::fs::write(root.join("htpasswd"), htpasswd).expect("htpasswd");
    // A tiny cache (shmcb's minimum is 8192 bytes; 16384 holds an association record), with an
    // explicit file: the OpenID instance gets its own (cache.openid).
    let global = format!(
        "AuthRsTicketKeyFile \"{r}/ticket.key\"\nAuthRsCache \"shmcb:{r}/run/cache(16384)\"\n",
        r = root.display()
    );
    let site = revoking_site(
        &root,
        &format!(
            "\n  AuthRsProvider file\n  AuthUserFile \"{}/htpasswd\"",
            root.display()
        ),
    );
    let a = Apache::start_in(root, certs, &global, &site);
    let app = |cookie: &str| {
        Request::get(a.url("/app/"))
            .cookie(COOKIE, cookie)
            .ca(&a.ca())
            .send()
    };
    let logout = |cookie: &str| {
        let r = Request::get(a.url("/LOGOUT"))
            .cookie(COOKIE, cookie)
            .ca(&a.ca())
            .send();
        assert_eq!(r.status, 303, "{r:?}\n{}", a.error_log());
    };
    let refused = |cookie: &str, when: &str| {
        let r = app(cookie);
        assert_eq!(r.status, 302, "{when}: a revoked ticket accepted: {r:?}");
        assert!(
            r.header("location")
                .is_some_and(|l| l.contains("reason=bad_cookie")),
            "{when}: {r:?}"
        );
    };

    // Password logins, then logouts that revoke the tickets server-side.
    let mut revoked = vec![];
    for user in users {
        let r = Request::post_form(
            a.url("/LOGIN"),
            format!("credential_0={user}&credential_1=pw&destination=%2Fapp%2F"),
        )
        .ca(&a.ca())
        .send();
        assert_eq!(r.status, 303, "{r:?}\n{}", a.error_log());
        revoked.push(r.cookie(COOKIE).expect("ticket cookie"));
    }
    for cookie in &revoked {
        assert_eq!(app(cookie).status, 200);
        logout(cookie);
        refused(cookie, "after logout");
    }

    // Anyone, without logging in: login starts naming a new provider each time.
    for i in 0..FLOOD {
        let r = post_identifier(&a, &op.url(&format!("many/{i}/x")), "/app/").send();
        assert_eq!(r.status, 303, "{r:?}\n{}", a.error_log());
        let to_op = r.header("location").expect("location");
        // An association was made and kept in the cache (else the login goes on statelessly).
        assert!(
            to_op.starts_with(&op.url(&format!("op/{i}?")))
                && to_op.contains("openid.assoc_handle="),
            "{to_op}\n{}",
            a.error_log()
        );
    }
    assert_eq!(op.count("associate"), FLOOD, "{:?}", op.log());

    // The revocations are all still there.
    for cookie in &revoked {
        refused(cookie, "after the OpenID flood");
    }
    a.assert_clean_log(&[]);
}

/// With an explicit shmcb file, the OpenID instance gets a segment of its own (`<file>.openid`):
/// the two instances never share one (the eviction test above shows they are apart).
#[test]
fn revocations_and_openid_state_get_separate_files() {
    let op = Provider::start();
    let root = scratch("httpd-openid-shm-files");
    let certs = root.join("certs");
    demo_certs(&certs);
    std::fs::write(root.join("ticket.key"), format!("{KEY_B64}\n")).expect("key");
    std::fs::write(root.join("openid.secret"), "s3cret-s3cret-s3cret\n").expect("secret");
    let global = format!(
        "AuthRsTicketKeyFile \"{r}/ticket.key\"\nAuthRsCache \"shmcb:{r}/run/authrs-shm(65536)\"\n",
        r = root.display()
    );
    let site = revoking_site(&root, "");
    let a = Apache::start_in(root.clone(), certs, &global, &site);
    // Both instances came up from the one explicit file (`socache::spec_for` derives the OpenID
    // one's, unit-tested there), and the OpenID one works: an association is made for the login.
    let r = post_identifier(&a, &op.identity("alice"), "/app/").send();
    let to_op = r.header("location").expect("location");
    assert!(
        to_op.contains("openid.assoc_handle="),
        "{r:?}\n{}",
        a.error_log()
    );
    a.assert_clean_log(&[]);
}

/// The return uses what the start discovered (sealed into the state cookie) instead of
/// discovering again — for 2.0, 2.0 delegation and 1.1 — and falls back to discovery when the
/// cookie carries no record or a forged one.
#[test]
fn a_login_discovers_its_identifier_once() {
    let op = Provider::start();
    let a = start(&op, "");
    for identifier in [
        op.identity("carol"),
        op.url("deleg/dave"),
        op.url("v1/id/erin"),
    ] {
        discovers_once_per_login(&a, &op, &identifier);
    }
    a.assert_clean_log(&[]);
}

/// A memcached stand-in on loopback whose every `get` takes `delay_s`; killed on drop.
struct FakeMemcached {
    child: std::process::Child,
    port: u16,
}

impl FakeMemcached {
    fn start(delay_s: f64) -> FakeMemcached {
        let dir = scratch("fake-memcached");
        let port_file = dir.join("port");
        let child = std::process::Command::new("python3")
            .arg(authrs_tests::workspace().join("tests/fake_memcached.py"))
            .arg(&port_file)
            .arg(delay_s.to_string())
            .spawn()
            .expect("python3");
        // Owned from here on: dropped (killed and reaped) however this ends.
        let mut fake = FakeMemcached { child, port: 0 };
        for _ in 0..100 {
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                fake.port = p.trim().parse().expect("port");
                return fake;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("fake memcached did not start");
    }
}

impl Drop for FakeMemcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn concurrent_copies_of_one_return_log_in_once_even_with_memcache() {
    // memcache (and redis) are MP-safe socache providers: httpd gives them no lock. The replay
    // check is a retrieve then a store; with a slow cache, copies of one return sent at once
    // would all read "not seen" before any stored — unless the check-and-insert holds the
    // instance's mutex. The same for the default shmcb, which always locks.
    let op = Provider::start();
    let memcached = FakeMemcached::start(0.3);
    let caches = [
        format!(
            "LoadModule socache_memcache_module /usr/lib/apache2/modules/mod_socache_memcache.so\n\
             AuthRsCache memcache:127.0.0.1:{}\n",
            memcached.port
        ),
        String::new(),
    ];
    for global in caches {
        let a = start_full(&op, Mpm::Event, &global, "");
        let back = to_provider_and_back(&a, &op.identity("alice"), "/app/cgi/echo");
        let answers: Vec<(u16, bool)> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..6)
                .map(|_| {
                    s.spawn(|| {
                        let r = back.follow(&a);
                        (r.status, r.cookie(COOKIE).is_some_and(|c| !c.is_empty()))
                    })
                })
                .collect();
            runs.into_iter()
                .map(|t| t.join().expect("thread"))
                .collect()
        });
        let logged_in = answers.iter().filter(|(s, c)| *s == 303 && *c).count();
        assert_eq!(logged_in, 1, "{global}: {answers:?}\n{}", a.error_log());
    }
}

/// An identity page that answers slowly: every connection is held `delay`, then gets a 404.
struct SlowPage {
    port: u16,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl SlowPage {
    fn start(delay: std::time::Duration) -> SlowPage {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = std::sync::Arc::clone(&accepted);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let _ = conn.read(&mut buf);
                    std::thread::sleep(delay);
                    let _ = conn.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                });
            }
        });
        SlowPage { port, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until `n` connections were accepted (the login steps are waiting on this page).
    fn wait_for(&self, n: usize) {
        let t0 = std::time::Instant::now();
        while self.accepted() < n {
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(20),
                "only {} of {n} login steps reached the slow page",
                self.accepted()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Starts `n` logins with the slow page's URL in the background, and waits until each holds a
/// place (its discovery is waiting on the page).
fn hold_places(a: &Apache, slow: &SlowPage, n: usize) -> Vec<std::thread::JoinHandle<u16>> {
    let url = format!("http://127.0.0.1:{}/id/slow", slow.port);
    let before = slow.accepted();
    let held = (0..n)
        .map(|_| {
            let req = post_identifier(a, &url, "/app/");
            std::thread::spawn(move || req.send().status)
        })
        .collect();
    slow.wait_for(before + n);
    held
}

#[test]
fn slow_identity_pages_cannot_hold_every_worker() {
    use std::time::{Duration, Instant};
    let op = Provider::start();
    let slow = SlowPage::start(Duration::from_secs(2));
    let slow_url = format!("http://127.0.0.1:{}/id/slow", slow.port);

    // Unset, the limit is a quarter of the process's threads: the tests' event MPM runs 16.
    let a = start(&op, "");
    let held = hold_places(&a, &slow, 4);
    let t0 = Instant::now();
    let r = post_identifier(&a, &slow_url, "/app/").send();
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.header("retry-after"), Some("5"), "{r:?}");
    assert!(t0.elapsed() < Duration::from_secs(2), "the refusal waited");
    // Refused before any fetch: the page saw only the four steps that hold a place.
    assert_eq!(slow.accepted(), 4);
    for h in held {
        assert_eq!(h.join().expect("login thread"), 303);
    }
    assert!(
        a.error_log().contains("AUTHRS0105"),
        "no AUTHRS0105 in {}",
        a.error_log()
    );
    // The places are given back: a login with the real provider goes through.
    let back = to_provider_and_back(&a, &op.identity("alice"), "/app/");
    let r = back.follow(&a);
    assert!(r.cookie(COOKIE).is_some(), "{r:?}\n{}", a.error_log());
    drop(a);

    // The directive sets it: one step waiting, the next refused.
    let a = start_full(&op, Mpm::Event, "AuthRsOpenIDMaxConcurrentFetches 1\n", "");
    let held = hold_places(&a, &slow, 1);
    let r = post_identifier(&a, &slow_url, "/app/").send();
    assert_eq!(r.status, 503, "{r:?}");
    for h in held {
        assert_eq!(h.join().expect("login thread"), 303);
    }
    let r = post_identifier(&a, &op.identity("alice"), "/app/").send();
    assert_eq!(r.status, 303, "{r:?}");
    assert!(reason_of(&r).is_none(), "{r:?}");
    drop(a);

    // A return that must ask the provider (stateless: check_authentication) needs a place too;
    // refused, nothing is spent: the same return, sent again later, logs in.
    let a = start_full(
        &op,
        Mpm::Event,
        "AuthRsOpenIDMaxConcurrentFetches 1\n",
        "AuthRsOpenIDAssocSessionType no-encryption",
    );
    let back = to_provider_and_back(&a, &op.identity("alice"), "/app/");
    let held = hold_places(&a, &slow, 1);
    let r = back.follow(&a);
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.cookie(COOKIE), None);
    // The browser keeps its state cookie for the retry (a cleared one would be state_mismatch).
    assert_eq!(r.cookie(STATE), None, "{r:?}");
    for h in held {
        assert_eq!(h.join().expect("login thread"), 303);
    }
    let r = back.follow(&a);
    assert_eq!(r.status, 303, "{r:?}\n{}", a.error_log());
    assert!(r.cookie(COOKIE).is_some(), "{r:?}\n{}", a.error_log());

    // One value per process: not in a virtual host, and at least 1.
    let (ok, out) = config_test("", "AuthRsOpenIDMaxConcurrentFetches 2\n");
    assert!(
        !ok && out.contains("AuthRsOpenIDMaxConcurrentFetches") && out.contains("VirtualHost"),
        "{out}"
    );
    let (ok, out) = config_test("AuthRsOpenIDMaxConcurrentFetches 0\n", "");
    assert!(
        !ok && out.contains("AuthRsOpenIDMaxConcurrentFetches"),
        "{out}"
    );
}
