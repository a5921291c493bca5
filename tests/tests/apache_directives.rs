//! Each AuthRs directive's effect, in the real httpd (one location per directive under test).

use authrs_core::cert::enrolled::EnrolledCerts;
use authrs_core::cert::Certificate;
use authrs_core::config::{Scope, ValueKind, OPTIONS};
use authrs_core::identity::AuthMethod;
use authrs_core::ticket::{KeyRing, Ticket, TicketKey};
use authrs_tests::apache::{config_test_in, start_fails, Apache};
use authrs_tests::curl::{Request, Response};
use authrs_tests::{demo_certs, scratch};
use std::process::Command;

const KEY_B64: &str = "ZGlyZWN0aXZlLXRlc3Qta2V5LWZvci1tb2RfYXV0aHJzLXRlc3Q=";

fn ring() -> KeyRing {
    KeyRing::new(vec![TicketKey::from_base64(KEY_B64).expect("key")]).expect("ring")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn ticket(user: &str, issued: i64, last_seen: i64, address: Option<&str>) -> String {
    let mut t = Ticket::new(user, AuthMethod::Password, issued, 7200);
    t.last_seen = last_seen;
    t.address = address.map(|a| a.parse().expect("ip"));
    ring().mint(&t).expect("mint")
}

/// A fresh scratch directory with the demo certificates in its `certs`: (root, certs).
fn root_with_certs(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let root = scratch(name);
    let certs = root.join("certs");
    demo_certs(&certs);
    (root, certs)
}

/// Whether the response tells shared caches not to keep it (`Cache-Control: private`).
fn private(r: &Response) -> bool {
    r.headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("cache-control") && v.contains("private"))
}

#[test]
fn directives_take_effect() {
    let (root, certs) = root_with_certs("httpd-dir");
    std::fs::write(root.join("ticket.key"), format!("{KEY_B64}\n")).expect("key");
    let hash = authrs_core::password::hash_bcrypt("pw", 5, [3u8; 16]).expect("hash");
    std::fs::write(root.join("htpasswd"), format!("demo:{hash}\n")).expect("htpasswd");
    // A DBM user store (htdbm, the apr-util default DBM type), checked through mod_authn_dbm.
    let st = Command::new("htdbm")
        .arg("-cbB")
        .arg(root.join("users.dbm"))
        .args(["dana", "dbm-pass"])
        .output()
        .expect("htdbm (apache2-utils) must be installed");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    std::fs::write(
        root.join("users.map"),
        "\"CN=alice,OU=Admins,O=authrs demo,C=XX\" administrator\n",
    )
    .expect("map");

    // A self-signed device certificate (no CA), enrolled for bob@example.org.
    authrs_tests::self_signed(&root, "device", "/CN=bob laptop");
    let device = Certificate::parse(&std::fs::read(root.join("device.crt")).expect("read"))
        .expect("device cert");
    let mut enrolled = EnrolledCerts::default();
    enrolled
        .enroll("bob@example.org", &device, "laptop", now(), 5)
        .expect("enroll");
    std::fs::write(root.join("enrolled"), enrolled.to_text()).expect("enrolled");
    // An unenrolled self-signed one.
    authrs_tests::self_signed(&root, "eve", "/CN=eve");

    for d in [
        "name",
        "idle",
        "idle-late",
        "idle-public",
        "bind",
        "u401",
        "u403",
        "email",
        "tmpl",
        "map",
        "req",
        "pin",
    ] {
        std::fs::create_dir_all(root.join("htdocs").join(d)).expect("mkdir");
        std::fs::write(root.join("htdocs").join(d).join("index.html"), "ok\n").expect("write");
    }
    let r = root.display();
    let global = format!(
        "AuthRsTicketKeyFile \"{r}/ticket.key\"\nAuthRsCache \"shmcb:{r}/run/authrs_revoked(256000)\"\n"
    );
    let site = format!(
        r#"
SSLVerifyClient optional_no_ca
<Location />
  AuthName Dir
  AuthRsLoginURL /LOGIN
</Location>
<Location /name>
  AuthType AuthRs
  AuthRsCookieName __Host-session
  Require valid-user
</Location>
<Location /LOGIN-persistent>
  SetHandler authrs-login
  AuthRsCookieName __Host-session
  AuthRsCookiePersistent On
  AuthRsTicketLifetime 90m
  AuthRsDefaultDestination /name/
  AuthRsAllowedDestinations app.example.org
  AuthUserFile "{r}/htpasswd"
</Location>
<Location /LOGIN-dbm>
  SetHandler authrs-login
  AuthRsProvider dbm file
  AuthDBMUserFile "{r}/users.dbm"
  AuthUserFile "{r}/htpasswd"
</Location>
<Location /LOGIN-attrs>
  SetHandler authrs-login
  AuthRsCookieDomain example.org
  AuthRsCookiePath /app
  AuthRsCookieSecure Off
  AuthRsCookieHttpOnly Off
  AuthRsCookieSameSite Strict
  AuthUserFile "{r}/htpasswd"
</Location>
<Location /LOGOUT-revoke>
  SetHandler authrs-logout
  AuthRsRevokeOnLogout On
</Location>
<Location /idle>
  AuthType AuthRs
  AuthRsSessionTimeout 10m
  Require valid-user
</Location>
<Location /idle-public>
  AuthRsRecognizeUser On
  AuthRsSessionTimeout 10m
</Location>
<Location /idle-late>
  AuthType AuthRs
  AuthRsSessionTimeout 10m
  AuthRsRefreshFraction 0.9
  Require valid-user
</Location>
<Location /bind>
  AuthType AuthRs
  AuthRsBindAddress On
  Require valid-user
</Location>
<Location /u401>
  AuthType AuthRs
  AuthRsUnauthAction 401
  Require valid-user
</Location>
<Location /u403>
  AuthType AuthRs
  AuthRsUnauthAction 403
  Require valid-user
</Location>
<Location /email>
  AuthType AuthRs
  AuthRsCertUser email
  Require user alice@example.org
</Location>
<Location /tmpl>
  AuthType AuthRs
  AuthRsCertUser "{{CN}}@{{OU}}.example.org"
  Require user alice@Admins.example.org
</Location>
<Location /map>
  AuthType AuthRs
  AuthRsCertUserMap "{r}/users.map"
  Require user administrator
</Location>
<Location /req>
  AuthType AuthRs
  AuthRsCertRequire On
  Require valid-user
</Location>
<Location /pin>
  AuthType AuthRs
  AuthRsEnrolledCertsFile "{r}/enrolled"
  AuthRsMethods cert
  Require valid-user
</Location>
"#
    );
    let a = Apache::start_in(root.clone(), certs.clone(), &global, &site);
    let get = |p: &str| Request::get(a.url(p)).ca(&a.ca());
    let t = ticket("demo", now() - 60, now() - 60, None);

    // AuthRsCookieName (a __Host- cookie) and, at login, Persistent + TicketLifetime + destinations.
    assert_eq!(
        get("/name/").cookie("__Host-session", &t).send().status,
        200
    );
    assert_eq!(get("/name/").cookie("AuthRs_Dir", &t).send().status, 302);
    let r = Request::post_form(
        a.url("/LOGIN-persistent"),
        "credential_0=demo&credential_1=pw&destination=https%3A%2F%2Fapp.example.org%2Fx",
    )
    .ca(&a.ca())
    .send();
    assert_eq!(r.status, 303, "{r:?} {}", a.error_log());
    assert_eq!(
        r.header("location"),
        Some("https://app.example.org/x"),
        "allow-listed host"
    );
    let set = r
        .headers
        .iter()
        .find(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.clone())
        .expect("set-cookie");
    assert!(
        set.starts_with("__Host-session=")
            && set.contains("Max-Age=5400")
            && set.contains("Path=/"),
        "{set}"
    );
    assert!(
        !set.to_ascii_lowercase().contains("domain="),
        "__Host- cookies carry no Domain: {set}"
    );
    let r = Request::post_form(
        a.url("/LOGIN-persistent"),
        "credential_0=demo&credential_1=pw&destination=https%3A%2F%2Fevil.example%2F",
    )
    .ca(&a.ca())
    .send();
    assert_eq!(
        r.header("location"),
        Some("/name/"),
        "AuthRsDefaultDestination"
    );

    // AuthRsProvider dbm file: httpd's providers in order — dana is in the DBM file, demo in
    // the htpasswd file; a wrong password in either is refused.
    let login = |user: &str, pass: &str| {
        Request::post_form(
            a.url("/LOGIN-dbm"),
            format!("credential_0={user}&credential_1={pass}&destination=%2F"),
        )
        .ca(&a.ca())
        .send()
    };
    let r = login("dana", "dbm-pass");
    assert_eq!(
        (r.status, r.cookie("AuthRs_Dir").is_some()),
        (303, true),
        "{r:?} {}",
        a.error_log()
    );
    assert_eq!(login("demo", "pw").status, 303);
    for (u, p) in [("dana", "wrong"), ("demo", "dbm-pass"), ("nobody", "pw")] {
        let r = login(u, p);
        assert!(
            r.header("location")
                .is_some_and(|l| l.contains("reason=bad_credentials")),
            "{u}: {r:?}"
        );
    }

    // Cookie attribute directives, as the login handler sets them.
    let r = Request::post_form(
        a.url("/LOGIN-attrs"),
        "credential_0=demo&credential_1=pw&destination=%2Fapp%2F",
    )
    .ca(&a.ca())
    .send();
    assert_eq!(r.status, 303, "{r:?}");
    let set = r
        .headers
        .iter()
        .find(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.clone())
        .expect("set-cookie");
    assert!(set.starts_with("AuthRs_Dir="), "{set}");
    for want in ["Domain=example.org", "Path=/app", "SameSite=Strict"] {
        assert!(set.contains(want), "{want} missing: {set}");
    }
    for absent in ["Secure", "HttpOnly", "Max-Age"] {
        assert!(!set.contains(absent), "{absent} present: {set}");
    }

    // AuthRsSessionTimeout: idle for 20 minutes → expired; recently seen → refreshed.
    let idle = ticket("demo", now() - 1800, now() - 1200, None);
    let r = get("/idle/").cookie("AuthRs_Dir", &idle).send();
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("reason=expired")),
        "{r:?}"
    );
    let fresh = ticket("demo", now() - 1800, now() - 400, None);
    let r = get("/idle/").cookie("AuthRs_Dir", &fresh).send();
    assert_eq!(r.status, 200);
    assert!(
        r.cookie("AuthRs_Dir")
            .is_some_and(|c| !c.is_empty() && c != fresh),
        "sliding refresh re-issues: {r:?}"
    );
    // ... on a response no shared cache may keep (the refreshed ticket is the browser's).
    assert!(private(&r), "{r:?}");

    // The same on a public page that recognizes the user (a CDN keeps public pages first).
    let r = get("/idle-public/").cookie("AuthRs_Dir", &fresh).send();
    assert_eq!(r.status, 200);
    assert!(
        r.cookie("AuthRs_Dir")
            .is_some_and(|c| !c.is_empty() && c != fresh),
        "recognize-user refresh: {r:?}"
    );
    assert!(private(&r), "{r:?}");

    // AuthRsRefreshFraction 0.9: 400 s of 600 idle is not yet time to re-issue.
    let r = get("/idle-late/").cookie("AuthRs_Dir", &fresh).send();
    assert_eq!((r.status, r.cookie("AuthRs_Dir")), (200, None));

    // AuthRsBindAddress: a ticket bound to another address is refused; to ours, accepted.
    let other = ticket("demo", now(), now(), Some("192.0.2.1"));
    assert!(get("/bind/")
        .cookie("AuthRs_Dir", &other)
        .send()
        .header("location")
        .is_some_and(|l| l.contains("reason=bad_cookie")));
    let ours = ticket("demo", now(), now(), Some("127.0.0.1"));
    assert_eq!(get("/bind/").cookie("AuthRs_Dir", &ours).send().status, 200);

    // AuthRsCache with an explicit shmcb file: a revoked session stays revoked.
    let victim = ticket("demo", now() - 30, now() - 30, None);
    assert_eq!(
        get("/name/")
            .cookie("__Host-session", &victim)
            .send()
            .status,
        200
    );
    assert_eq!(
        get("/LOGOUT-revoke")
            .cookie("AuthRs_Dir", &victim)
            .send()
            .status,
        303
    );
    assert_eq!(
        get("/idle/").cookie("AuthRs_Dir", &victim).send().status,
        302
    );

    // A socache provider that is not loaded stops httpd at startup, naming the directive.
    let out = start_fails(
        "AuthRsCache nosuch\n",
        "<Location /x>\n  SetHandler authrs-logout\n  AuthRsRevokeOnLogout On\n</Location>\n",
    );
    assert!(
        out.contains("AUTHRS0002") && out.contains("nosuch"),
        "{out}"
    );

    // AuthRsUnauthAction.
    assert_eq!(get("/u401/").send().status, 401);
    assert_eq!(get("/u403/").send().status, 403);

    // AuthRsCertUser rules and the DN map.
    assert_eq!(
        get("/email/").client_cert(&certs, "alice").send().status,
        200
    );
    assert_eq!(
        get("/tmpl/").client_cert(&certs, "alice").send().status,
        200
    );
    assert_eq!(get("/map/").client_cert(&certs, "alice").send().status, 200);
    assert_eq!(
        get("/map/").client_cert(&certs, "demo").send().status,
        401,
        "demo maps to demo, not administrator"
    );

    // AuthRsCertRequire On: a ticket alone is not enough.
    let r = get("/req/").cookie("AuthRs_Dir", &t).send();
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("reason=no_cert")),
        "{r:?}"
    );
    assert_eq!(get("/req/").client_cert(&certs, "demo").send().status, 200);

    // Enrolled (pinned) self-signed certificate under optional_no_ca; an unenrolled one is refused.
    let r = Request::get(a.url("/pin/"))
        .ca(&a.ca())
        .header("Accept: application/json")
        .client_cert(&root, "device")
        .send();
    assert_eq!(r.status, 200, "{r:?} {}", a.error_log());
    let r = Request::get(a.url("/pin/"))
        .ca(&a.ca())
        .header("Accept: application/json")
        .client_cert(&root, "eve")
        .send();
    assert_eq!(r.status, 401, "{r:?}");
    // AH01631: the /map/ refusal of demo above.
    a.assert_clean_log(&["AUTHRS", "AH01631"]);
    // `LogLevel warn authrs:debug` (the harness's): the module's own debug lines appear, under
    // its name, although httpd's level is warn — the module index is set.
    let log = a.error_log();
    assert!(
        log.lines()
            .any(|l| l.contains("[authrs:debug]") && l.contains("AUTHRS0001")),
        "{log}"
    );
}

#[test]
fn key_ring_cert_rules_and_refusal_styles() {
    let (root, certs) = root_with_certs("httpd-dir2");
    // Two key files: the first signs, both verify (rotation without logging anyone out).
    const NEW_KEY: &str = "bmV3LWtleS1mb3ItdGhlLWRpcmVjdGl2ZS10ZXN0cy0wMTIzNDU2Nzg5";
    std::fs::write(root.join("new.key"), format!("{NEW_KEY}\n")).expect("key");
    std::fs::write(root.join("old.key"), format!("{KEY_B64}\n")).expect("key");
    let hash = authrs_core::password::hash_bcrypt("pw", 5, [3u8; 16]).expect("hash");
    std::fs::write(root.join("htpasswd"), format!("demo:{hash}\n")).expect("htpasswd");
    authrs_tests::self_signed(&root, "eve", "/CN=eve");
    for d in ["dn", "xmpp", "redir", "off"] {
        std::fs::create_dir_all(root.join("htdocs").join(d)).expect("mkdir");
        std::fs::write(root.join("htdocs").join(d).join("index.html"), "ok\n").expect("write");
    }
    // Two enrolled certificates for bob, for a section that allows one.
    authrs_tests::self_signed(&root, "d1", "/CN=bob one");
    authrs_tests::self_signed(&root, "d2", "/CN=bob two");
    let mut enrolled = EnrolledCerts::default();
    for (i, name) in ["d1", "d2"].into_iter().enumerate() {
        let c = Certificate::parse(&std::fs::read(root.join(format!("{name}.crt"))).expect("read"))
            .expect("cert");
        enrolled
            .enroll("bob@example.org", &c, &format!("dev{i}"), now(), 5)
            .expect("enroll");
    }
    std::fs::write(root.join("two"), enrolled.to_text()).expect("write");
    let r = root.display();
    let global =
        format!("AuthRsTicketKeyFile \"{r}/new.key\"\nAuthRsTicketKeyFile \"{r}/old.key\"\n");
    let site = format!(
        r#"
SSLVerifyClient optional_no_ca
<Location />
  AuthName Dir
  AuthRsLoginURL /LOGIN
</Location>
<Location /LOGIN>
  SetHandler authrs-login
  AuthUserFile "{r}/htpasswd"
</Location>
<Location /dn>
  AuthType AuthRs
  AuthRsCertUser dn
  Require user "CN=alice,OU=Admins,O=authrs demo,C=XX"
</Location>
<Location /xmpp>
  AuthType AuthRs
  AuthRsCertUser xmpp
  Require user demo@example.org
</Location>
<Location /redir>
  AuthType AuthRs
  AuthRsUnauthAction redirect
  Require valid-user
</Location>
<Location /off>
  AuthType AuthRs
  AuthRsCertRequire Off
  Require valid-user
</Location>
<Location /max>
  AuthType AuthRs
  AuthRsEnrolledCertsFile "{r}/two"
  AuthRsEnrolledCertsMax 1
  Require valid-user
</Location>
"#
    );
    let a = Apache::start_in(root.clone(), certs.clone(), &global, &site);
    let get = |p: &str| Request::get(a.url(p)).ca(&a.ca());

    // A ticket signed with the old (second) key still verifies ...
    let old = ticket("demo", now() - 60, now() - 60, None);
    assert_eq!(get("/off/").cookie("AuthRs_Dir", &old).send().status, 200);
    // ... and a login issues tickets under the new (first) key only.
    let r = Request::post_form(
        a.url("/LOGIN"),
        "credential_0=demo&credential_1=pw&destination=%2Foff%2F",
    )
    .ca(&a.ca())
    .send();
    assert_eq!(r.status, 303, "{r:?} {}", a.error_log());
    let issued = r.cookie("AuthRs_Dir").expect("ticket");
    let new_ring = KeyRing::new(vec![TicketKey::from_base64(NEW_KEY).expect("key")]).expect("ring");
    assert!(
        new_ring.open_for("AuthRs_Dir", &issued).is_ok(),
        "not signed by the first key"
    );
    assert!(
        ring().open_for("AuthRs_Dir", &issued).is_err(),
        "signed by the second key"
    );
    assert_eq!(
        get("/off/").cookie("AuthRs_Dir", &issued).send().status,
        200
    );

    // AuthRsCertUser dn (the whole RFC 2253 DN) and xmpp (the id-on-xmppAddr SAN).
    let r = get("/dn/").client_cert(&certs, "alice").send();
    assert_eq!(r.status, 200, "{r:?} {}", a.error_log());
    assert_eq!(get("/dn/").client_cert(&certs, "demo").send().status, 401);
    assert_eq!(get("/xmpp/").client_cert(&certs, "demo").send().status, 200);
    // alice's certificate has no xmpp SAN: the rule yields no user, a named refusal.
    let r = get("/xmpp/").client_cert(&certs, "alice").send();
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("reason=bad_cert")),
        "{r:?}"
    );

    // Refusal styles: the default (auto) answers API clients 401, browsers a redirect;
    // `AuthRsUnauthAction redirect` redirects API clients too.
    assert_eq!(
        get("/off/")
            .header("X-Requested-With: XMLHttpRequest")
            .send()
            .status,
        401
    );
    assert_eq!(
        get("/off/")
            .header("Accept: application/json")
            .send()
            .status,
        401
    );
    assert_eq!(get("/off/").send().status, 302);
    for h in [
        "X-Requested-With: XMLHttpRequest",
        "Accept: application/json",
    ] {
        let r = get("/redir/").header(h).send();
        assert_eq!(r.status, 302, "{h}: {r:?}");
        assert!(
            r.header("location")
                .is_some_and(|l| l.starts_with("/LOGIN?")),
            "{r:?}"
        );
    }

    // AuthRsCertRequire Off: an untrusted (self-signed, unenrolled) certificate falls through
    // to the ticket; without a ticket it is still refused.
    let r = get("/off/")
        .client_cert(&root, "eve")
        .cookie("AuthRs_Dir", &old)
        .send();
    assert_eq!(r.status, 200, "{r:?} {}", a.error_log());
    let r = get("/off/").client_cert(&root, "eve").send();
    assert_eq!(r.status, 302, "{r:?}");
    // AH01631: the Require user refusals above.
    a.assert_clean_log(&["AUTHRS", "AH01631"]);

    // AuthRsEnrolledCertsMax: a file holding more certificates for one user than the limit
    // makes the section refuse to work (500, the directive named in the log): the limit and the
    // file meet when httpd merges the sections, at the first request (README, known limits).
    let r = get("/max/").client_cert(&root, "d1").send();
    assert_eq!(r.status, 500, "{r:?}");
    assert!(
        a.error_log().contains("AuthRsEnrolledCertsMax"),
        "{}",
        a.error_log()
    );
}

/// A value `kind` refuses (quoted for httpd), or `None` where the kind has no refusable text.
fn bad_value(kind: ValueKind) -> Option<String> {
    Some(match kind {
        ValueKind::Bool => "maybe".into(),
        ValueKind::Duration | ValueKind::DurationOrOff => "forever".into(),
        ValueKind::Integer { max, .. } => (max + 1).to_string(),
        ValueKind::Fraction => "2".into(),
        ValueKind::Path => "/nonexistent/authrs-test-file".into(),
        ValueKind::UrlPath => "no-slash".into(),
        ValueKind::Url => "ftp://example.org/".into(),
        ValueKind::Host => "\"bad host!\"".into(),
        ValueKind::CookieName => "\"a;b\"".into(),
        ValueKind::List(inner) => return bad_value(*inner),
        ValueKind::Enum(_) => "nosuch".into(),
        ValueKind::CidrList => "10.0.0.0/33".into(),
        ValueKind::SameSite => "Laxx".into(),
        ValueKind::CertUser => "\"{CN\"".into(),
        ValueKind::Methods => "cert password".into(),
        ValueKind::UnauthAction => "302".into(),
        // Free text and socache specs are checked elsewhere (or only when httpd starts).
        ValueKind::Str | ValueKind::Socache | ValueKind::Text => return None,
        // A kind added later: the count at the end of the test still asks for most of them.
        _ => return None,
    })
}

#[test]
fn apache_t_refuses_a_bad_value_for_every_directive() {
    let (root, _) = root_with_certs("httpd-t-all");
    let mut checked = 0;
    for o in OPTIONS {
        let Some(directive) = o.directive else {
            continue;
        };
        let Some(value) = bad_value(o.kind) else {
            continue;
        };
        let line = format!("{directive} {value}\n");
        let (ok, out) = match o.scope {
            Scope::Server => config_test_in(&root, &line, ""),
            Scope::Directory => {
                config_test_in(&root, "", &format!("<Location /x>\n{line}</Location>\n"))
            }
        };
        assert!(!ok, "{line} was accepted");
        assert!(
            out.contains(directive) && out.contains("httpd.conf"),
            "{line}: the error names neither the directive nor the file: {out}"
        );
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} directives checked");
    // AuthRsCache names the one cache of the whole server: in the main configuration, yes; in
    // a <VirtualHost> (where the test site lives) it would silently replace it for every host.
    let (ok, out) = config_test_in(&root, "AuthRsCache shmcb\n", "");
    assert!(ok, "{out}");
    let (ok, out) = config_test_in(&root, "", "AuthRsCache shmcb\n");
    assert!(
        !ok && out.contains("AuthRsCache") && out.contains("VirtualHost"),
        "{out}"
    );
    // A proxy list that trusts every address is refused, whatever else it lists.
    let (ok, out) = config_test_in(&root, "AuthRsTrustedProxies 127.0.0.1 0.0.0.0/0\n", "");
    assert!(
        !ok && out.contains("AuthRsTrustedProxies") && out.contains("at most a /8"),
        "{out}"
    );
}

#[test]
fn apache_t_refuses_a_section_whose_own_directives_conflict() {
    let (root, _) = root_with_certs("httpd-t-conflict");
    // Each pair is wrong inside one section whatever a parent says: refused by `apache2 -t`
    // at the second directive's line (before, only the first request found it: a 500).
    for (pair, named) in [
        (
            "AuthRsCertRequire On\n  AuthRsMethods ticket cert\n",
            "AuthRsCertRequire",
        ),
        (
            "AuthRsCookieSameSite None\n  AuthRsCookieSecure Off\n",
            "AuthRsCookieSameSite",
        ),
        (
            "AuthRsCookieName __Host-s\n  AuthRsCookiePath /x\n",
            "AuthRsCookieName",
        ),
    ] {
        let site = format!("<Location /x>\n  AuthType AuthRs\n  AuthName X\n  {pair}</Location>\n");
        let (ok, out) = config_test_in(&root, "", &site);
        assert!(!ok, "{pair} was accepted");
        assert!(
            out.contains(named) && out.contains("httpd.conf") && out.contains("line"),
            "{pair}: {out}"
        );
    }
    // An empty quoted argument is written, not whitespace: `Require role admin ""` (a template
    // rendered with an empty scope) would otherwise grant admin for every scope.
    let site =
        "<Location /x>\n  AuthType AuthRs\n  AuthName X\n  Require role admin \"\"\n</Location>\n";
    let (ok, out) = config_test_in(&root, "", site);
    assert!(!ok, "an empty Require argument was dropped: {out}");
    assert!(out.contains("empty"), "{out}");
    // A provider that is not loaded is refused when read, as AuthBasicProvider refuses one
    // (before: a 500 at the first login with a name the loaded provider did not know).
    let site =
        "<Location /LOGIN>\n  SetHandler authrs-login\n  AuthRsProvider file nosuch\n</Location>\n";
    let (ok, out) = config_test_in(&root, "", site);
    assert!(!ok, "an unknown provider was accepted");
    assert!(
        out.contains("AuthRsProvider") && out.contains("nosuch") && out.contains("line"),
        "{out}"
    );
    // A later directive of the same section may mend an earlier pair: judged at the last one.
    let site = "<Location /x>\n  AuthType AuthRs\n  AuthName X\n  AuthRsCertRequire On\n\
                AuthRsMethods ticket cert\n  AuthRsMethods cert ticket\n</Location>\n";
    let (ok, out) = config_test_in(&root, "", site);
    assert!(ok, "{out}");
    // A section that leans on its parent for the rest is fine: the parent here puts cert first.
    let site = "<Location />\n  AuthRsMethods cert ticket\n</Location>\n\
                <Location /x>\n  AuthRsCertRequire On\n</Location>\n";
    let (ok, out) = config_test_in(&root, "", site);
    assert!(ok, "{out}");
}

#[test]
fn an_unknown_user_is_answered_no_sooner_than_a_known_one() {
    // mod_authn_file says "no such user" before hashing anything: without care a login form
    // answers unknown names in a millisecond and known ones after a bcrypt check, which tells
    // an attacker which names exist. Not a speed test: the gap without the padding is many
    // times the spread of the machine (bcrypt cost 11 here, ~0.25 s).
    let (root, certs) = root_with_certs("httpd-timing");
    std::fs::write(root.join("ticket.key"), format!("{KEY_B64}\n")).expect("key");
    let hash = authrs_core::password::hash_bcrypt("right", 11, [9u8; 16]).expect("hash");
    // Beside it a user whose hash is cheap ({SHA}, as left by a migration): a wrong password for
    // them must not answer sooner than one for an unknown name (or a known-but-dear one).
    std::fs::write(
        root.join("htpasswd"),
        format!("known:{hash}\ncheapo:{{SHA}}0nofEXcSAJSXFLGvmfBIpBb11vQ=\n"),
    )
    .expect("htpasswd");
    // A second login location whose users have cheap hashes (cost 4, ~1 ms).
    let cheap = authrs_core::password::hash_bcrypt("right", 4, [9u8; 16]).expect("hash");
    std::fs::write(root.join("htpasswd.cheap"), format!("known:{cheap}\n")).expect("htpasswd");
    let r = root.display();
    let global = format!("AuthRsTicketKeyFile \"{r}/ticket.key\"\n");
    let site = format!(
        "<Location /LOGIN>\n  SetHandler authrs-login\n  AuthName T\n  AuthUserFile \"{r}/htpasswd\"\n</Location>\n\
         <Location /cheap/LOGIN>\n  SetHandler authrs-login\n  AuthName T\n  AuthUserFile \"{r}/htpasswd.cheap\"\n</Location>\n"
    );
    let a = Apache::start_in(root.clone(), certs, &global, &site);
    let login_at = |path: &str, user: &str| {
        let started = std::time::Instant::now();
        let r = Request::post_form(
            a.url(path),
            format!("credential_0={user}&credential_1=wrong&destination=%2F"),
        )
        .ca(&a.ca())
        .send();
        assert_eq!(
            (r.status, r.header("x-authrs-reason")),
            (401, Some("bad_credentials")),
            "{r:?}"
        );
        started.elapsed()
    };
    let login = |user: &str| login_at("/LOGIN", user);
    let median = |mut v: Vec<std::time::Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    // A fresh worker (after every graceful restart) has timed no real check yet: it holds
    // unknown names back all the same (COLD_PAD, 250 ms), or its first answers would tell.
    let cold = login("nobody-cold");
    assert!(
        cold >= std::time::Duration::from_millis(200),
        "a cold worker answered an unknown name in {cold:?}"
    );
    // The worker learns what a known user's check costs from the first attempts.
    for _ in 0..3 {
        login("known");
    }
    let known = median((0..5).map(|_| login("known")).collect());
    let unknown = median((0..5).map(|i| login(&format!("nobody{i}"))).collect());
    assert!(
        unknown * 3 > known,
        "unknown users answered in {unknown:?}, known ones in {known:?}"
    );
    let cheapo = median((0..5).map(|_| login("cheapo")).collect());
    assert!(
        cheapo * 3 > known,
        "a known user with a cheap hash answered in {cheapo:?}, a dear one in {known:?}"
    );
    // Many wrong passwords for the cheap user cannot wear the pad down (a maximum fading per
    // check fell to a third in 20 checks): unknown names still answer as late.
    for _ in 0..20 {
        login("cheapo");
    }
    let unknown = median((0..5).map(|i| login(&format!("after{i}"))).collect());
    assert!(
        unknown * 3 > known,
        "after cheap checks, unknown users answered in {unknown:?}, known ones in {known:?}"
    );
    // Busy cheap logins at another location of the same process must not teach the costly one
    // to answer its unknown users sooner (a process-wide average did: padded to a few ms, not
    // ~0.25 s); nor may another URL in the same section (/LOGIN/x) escape the section's timing.
    let mut unknown = Vec::new();
    for i in 0..5 {
        for _ in 0..10 {
            login_at("/cheap/LOGIN", "known");
        }
        unknown.push(login_at(&format!("/LOGIN/x{i}"), &format!("stranger{i}")));
    }
    let unknown = median(unknown);
    assert!(
        unknown * 3 > known,
        "after cheap logins elsewhere, unknown users answered in {unknown:?}, known ones in {known:?}"
    );
}

/// mod_ssl's `SSLUserName` sets `r->user` in the access phase, where mod_authz_core already
/// grants `Require valid-user` to any user — httpd would skip authentication and authrs with it:
/// no CRL, no pinning, no user map. authrs forces authentication at its locations and its
/// identity replaces that user; its own Require words see no user in one it did not set (so a
/// Basic user can neither satisfy `Require role` nor slip past `Require not role`).
#[test]
fn ssl_user_name_never_stands_in_for_authrs() {
    let (root, certs) = root_with_certs("httpd-sslusername");
    std::fs::write(root.join("ticket.key"), format!("{KEY_B64}\n")).expect("key");
    // Self-signed, not enrolled, naming itself alice; and a Basic user suspended by role.
    authrs_tests::self_signed(&root, "fake", "/CN=alice");
    std::fs::write(root.join("roles"), "alice reader\ndemo suspended\n").expect("roles");
    let hash = authrs_core::password::hash_bcrypt("pw", 5, [5u8; 16]).expect("hash");
    std::fs::write(root.join("htpasswd"), format!("demo:{hash}\n")).expect("htpasswd");
    for d in ["reader", "basic"] {
        std::fs::create_dir_all(root.join("htdocs").join(d)).expect("mkdir");
        std::fs::write(root.join("htdocs").join(d).join("index.html"), "ok\n").expect("write");
    }
    let r = root.display();
    let c = certs.display();
    let global = format!(
        "AuthRsTicketKeyFile \"{r}/ticket.key\"\n\
         LoadModule auth_basic_module /usr/lib/apache2/modules/mod_auth_basic.so\n"
    );
    let site = format!(
        r#"
SSLVerifyClient optional_no_ca
SSLUserName SSL_CLIENT_S_DN_CN
<Location /app>
  AuthType AuthRs
  AuthName Dir
  AuthRsCRLFile "{c}/ca.crl"
  Require valid-user
</Location>
<Location /reader>
  AuthType AuthRs
  AuthName Dir
  AuthRsCRLFile "{c}/ca.crl"
  AuthRsRolesFile "{r}/roles"
  Require role reader
</Location>
<Location /basic>
  AuthType Basic
  AuthName Basic
  AuthBasicProvider file
  AuthUserFile "{r}/htpasswd"
  AuthRsRolesFile "{r}/roles"
  <RequireAll>
    Require valid-user
    Require not role suspended
  </RequireAll>
</Location>
"#
    );
    let a = Apache::start_in(root.clone(), certs.clone(), &global, &site);
    let api = |path: &str| {
        Request::get(a.url(path))
            .ca(&a.ca())
            .header("Accept: application/json")
    };
    // A self-signed certificate calling itself alice, and mallory's revoked one: SSLUserName
    // names them, authrs refuses them.
    let r = api("/app/cgi/echo").client_cert(&root, "fake").send();
    assert_eq!(r.status, 401, "a self-signed CN became the user: {r:?}");
    assert_eq!(r.header("x-authrs-reason"), Some("bad_cert"), "{r:?}");
    let r = api("/app/cgi/echo").client_cert(&certs, "revoked").send();
    assert_eq!(r.status, 401, "a revoked certificate passed: {r:?}");
    assert_eq!(r.header("x-authrs-reason"), Some("revoked_cert"), "{r:?}");
    // alice's CA-issued certificate: authrs decides (AUTHRS_METHOD), and its role words work.
    let r = api("/app/cgi/echo").client_cert(&certs, "alice").send();
    assert_eq!(r.status, 200, "{r:?}\n{}", a.error_log());
    assert_eq!(r.env("AUTHRS_METHOD"), Some("cert"), "{}", r.body);
    assert_eq!(r.env("REMOTE_USER"), Some("alice"), "{}", r.body);
    let r = api("/reader/").client_cert(&certs, "alice").send();
    assert_eq!(r.status, 200, "{r:?}\n{}", a.error_log());
    // A Basic user is someone authrs cannot judge: `Require not role suspended` must not wave
    // them through (httpd makes a negated "no" neutral) — the request fails loudly instead.
    let r = Request::get(a.url("/basic/"))
        .ca(&a.ca())
        .header("Authorization: Basic ZGVtbzpwdw==")
        .send();
    assert_eq!(r.status, 500, "{r:?}");
    assert!(a.error_log().contains("AUTHRS0104"), "{}", a.error_log());
    // Without a user, Basic still asks for one first.
    let r = Request::get(a.url("/basic/")).ca(&a.ca()).send();
    assert_eq!(r.status, 401, "{r:?}");
}
