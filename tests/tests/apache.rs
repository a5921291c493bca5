//! mod_authrs in the real Debian httpd with mod_ssl, real client certificates and curl.

use authrs_core::identity::AuthMethod;
use authrs_core::ticket::{KeyRing, Ticket, TicketKey};
use authrs_tests::apache::{config_test, Apache};
use authrs_tests::curl::Request;
use authrs_tests::{demo_certs, scratch};
use std::path::Path;

/// A fixed test key (base64 of 32 bytes), so tests can mint tickets the module accepts.
const KEY_B64: &str = "dGVzdC1rZXktZm9yLW1vZF9hdXRocnMtdGVzdHMtMzI=";
const COOKIE: &str = "AuthRs_Example";

fn ring() -> KeyRing {
    KeyRing::new(vec![TicketKey::from_base64(KEY_B64).expect("test key")]).expect("ring")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn mint(user: &str, method: AuthMethod, issued: i64, lifetime: i64) -> String {
    let mut t = Ticket::new(user, method, issued, lifetime);
    t.roles = None;
    ring().mint(&t).expect("mint")
}

/// The site most tests use: a protected app with a CGI echo, login/logout handlers,
/// a cert-only area and role / method / DN protected areas.
fn site(root: &Path) -> String {
    format!(
        r#"
<Location /app>
  AuthType AuthRs
  AuthName Example
  AuthRsLoginURL /login.html
  AuthRsRolesFile "{root}/roles"
  Require valid-user
</Location>
<Location /LOGIN>
  SetHandler authrs-login
  AuthName Example
  AuthRsLoginURL /login.html
  AuthRsProvider file
  AuthUserFile "{root}/htpasswd"
</Location>
<Location /LOGOUT>
  SetHandler authrs-logout
  AuthName Example
</Location>
<Location /LOGOUT-revoke>
  SetHandler authrs-logout
  AuthName Example
  AuthRsRevokeOnLogout On
</Location>
<Location /app/certonly>
  AuthRsMethods cert
  AuthRsLoginURL /login.html
</Location>
<Location /app/admin>
  Require role admin projectX
</Location>
<Location /app/strong>
  Require authn-method cert
</Location>
<Location /cgi-bin>
  AuthName Example
  AuthRsRecognizeUser On
  AuthRsSessionTimeout 10m
</Location>
<Location /app/cgi/>
  DirectoryIndex echo
</Location>
<Location /app/alice-dn>
  <RequireAny>
    Require cert-dn "CN=alice,OU=Admins,O=authrs demo,C=XX"
    Require user nobody
  </RequireAny>
</Location>
"#,
        root = root.display()
    )
}

fn global(root: &Path) -> String {
    format!("AuthRsTicketKeyFile \"{}/ticket.key\"\n", root.display())
}

/// A fresh ServerRoot named `name` with the demo certificates and the test ticket key; returns
/// (root, certs).
fn root_with_key(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let root = scratch(name);
    let certs = root.join("certs");
    demo_certs(&certs);
    std::fs::write(root.join("ticket.key"), format!("{KEY_B64}\n")).expect("key");
    (root, certs)
}

/// Prepares a root with keys, users and roles, and starts httpd.
fn start(extra_global: &str) -> Apache {
    let (root, certs) = root_with_key("httpd");
    // 0600 as `authrs keygen` writes it: httpd reads it at startup as root; unprivileged
    // workers must not need to.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            root.join("ticket.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("chmod");
    }
    // demo:demo, bcrypt made by the CLI's hasher (the core), checked by mod_authn_file.
    let hash = authrs_core::password::hash_bcrypt("demo", 5, [7u8; 16]).expect("hash");
    std::fs::write(root.join("htpasswd"), format!("demo:{hash}\n")).expect("htpasswd");
    std::fs::write(root.join("roles"), "demo admin:projectX\nalice reader\n").expect("roles");
    for d in ["certonly", "admin", "strong", "alice-dn"] {
        std::fs::create_dir_all(root.join("htdocs/app").join(d)).expect("mkdir");
        std::fs::write(
            root.join("htdocs/app").join(d).join("index.html"),
            format!("{d}\n"),
        )
        .expect("write");
    }
    let g = format!("{}{extra_global}", global(&root));
    let s = site(&root);
    Apache::start_in(root, certs, &g, &s)
}

fn get(a: &Apache, path: &str) -> Request {
    Request::get(a.url(path)).ca(&a.ca())
}

/// The status of `/app/index.html` with `ticket` as the cookie.
fn app_status(a: &Apache, ticket: &str) -> u16 {
    get(a, "/app/index.html")
        .cookie(COOKIE, ticket)
        .send()
        .status
}

#[test]
fn tickets_login_and_logout() {
    let mut a = start("");
    // No cookie: browsers go to the login page with the reason and destination.
    let r = get(&a, "/app/index.html?x=1").send();
    assert_eq!(r.status, 302, "{r:?}");
    let loc = r.header("location").expect("Location");
    assert!(loc.contains("/login.html?"), "{loc}");
    assert!(loc.contains("reason=no_cookie"), "{loc}");
    assert!(
        loc.contains("destination=%2Fapp%2Findex.html%3Fx%3D1"),
        "{loc}"
    );
    // API clients get 401.
    let r = get(&a, "/app/index.html")
        .header("Accept: application/json")
        .send();
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .is_some_and(|v| v.starts_with("AuthRs")));

    // A valid ticket: the application sees the user.
    let t = mint("demo", AuthMethod::Password, now() - 10, 3600);
    let r = get(&a, "/app/cgi/echo").cookie(COOKIE, &t).send();
    assert_eq!(r.status, 200, "{}", a.error_log());
    assert_eq!(r.env("REMOTE_USER"), Some("demo"));
    assert_eq!(r.env("AUTH_TYPE"), Some("AuthRs"));
    assert_eq!(r.env("AUTHRS_USER"), Some("demo"));
    assert_eq!(r.env("AUTHRS_METHOD"), Some("password"));
    assert_eq!(r.env("AUTHRS_ROLES"), Some("admin:projectX"));
    // Under root, workers run unprivileged, so the 0600 key above was read at startup only.
    let uid = r.env("WORKER_UID").expect("CGI prints its uid");
    assert!(
        uid != "0" || !authrs_tests::apache::is_root(),
        "httpd workers run as root: the key test proves nothing"
    );

    // Tampered and expired tickets: their reasons, and the cookie cleared.
    let mut bad = t.clone().into_bytes();
    let i = bad.len() - 2;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let r = get(&a, "/app/index.html")
        .cookie(COOKIE, std::str::from_utf8(&bad).expect("ascii"))
        .send();
    assert_eq!(r.status, 302);
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("reason=bad_cookie")),
        "{r:?}"
    );
    assert_eq!(r.cookie(COOKIE).as_deref(), Some(""));
    let old = mint("demo", AuthMethod::Password, now() - 7200, 3600);
    let r = get(&a, "/app/index.html").cookie(COOKIE, &old).send();
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("reason=expired")),
        "{r:?}"
    );
    // A 256 KiB cookie header is refused by httpd itself (LimitRequestFieldSize), never a crash;
    // the core's own 10 MB case is an engine unit test.
    let huge = "A".repeat(256 * 1024);
    let r = get(&a, "/app/index.html").cookie(COOKIE, &huge).send();
    assert_eq!(r.status, 400);

    // Login form: good password → cookie + 303 to the destination.
    let r = Request::post_form(
        a.url("/LOGIN"),
        "credential_0=demo&credential_1=demo&destination=%2Fapp%2Fcgi%2Fecho",
    )
    .ca(&a.ca())
    .send();
    assert_eq!(r.status, 303, "{r:?} {}", a.error_log());
    assert_eq!(r.header("location"), Some("/app/cgi/echo"));
    let cookie = r.cookie(COOKIE).expect("ticket cookie");
    let set = r
        .headers
        .iter()
        .find(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    assert!(
        set.contains("Secure") && set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let r = get(&a, "/app/cgi/echo").cookie(COOKIE, &cookie).send();
    assert_eq!(r.env("REMOTE_USER"), Some("demo"));

    // A cross-site form (login CSRF) is refused; the same site's is not.
    let form = "credential_0=demo&credential_1=demo&destination=%2Fapp%2F";
    let r = Request::post_form(a.url("/LOGIN"), form)
        .header("Origin: https://evil.example")
        .ca(&a.ca())
        .send();
    assert_eq!((r.status, r.cookie(COOKIE)), (403, None));
    let own = format!("Origin: https://127.0.0.1:{}", a.port);
    let r = Request::post_form(a.url("/LOGIN"), form)
        .header(own)
        .ca(&a.ca())
        .send();
    assert_eq!(r.status, 303, "{r:?}");

    // Wrong password → back to the login page with bad_credentials, no cookie.
    let r = Request::post_form(
        a.url("/LOGIN"),
        "credential_0=demo&credential_1=nope&destination=%2Fapp%2F",
    )
    .ca(&a.ca())
    .send();
    assert_eq!(r.status, 303);
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("reason=bad_credentials")),
        "{r:?}"
    );
    assert!(r.cookie(COOKIE).is_none());

    // Open-redirect attempts land on the default destination.
    for evil in [
        "https%3A%2F%2Fevil.example%2F",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "javascript%3Aalert(1)",
    ] {
        let r = Request::post_form(
            a.url("/LOGIN"),
            format!("credential_0=demo&credential_1=demo&destination={evil}"),
        )
        .ca(&a.ca())
        .send();
        assert_eq!(r.header("location"), Some("/"), "destination {evil}");
    }
    // GET on the login handler is the default login page: the reason in words, the destination
    // carried (escaped), no JavaScript needed; other methods are refused.
    let r = get(
        &a,
        "/LOGIN?reason=bad_credentials&destination=%2Fapp%2F%3Fa%3D1%26b%3D%22x%22",
    )
    .send();
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html")));
    assert!(
        r.body.contains("The user name or password was wrong."),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains(r#"name="destination" value="/app/?a=1&amp;b=%22x%22""#),
        "{}",
        r.body
    );
    assert!(!r.body.contains("<script"), "no JavaScript");
    r.assert_login_page_headers();
    let r = get(&a, "/LOGIN?destination=https%3A%2F%2Fevil.example%2F").send();
    assert!(
        r.body.contains(r#"name="destination" value="/""#),
        "untainted before it is shown"
    );
    assert_eq!(get(&a, "/LOGIN").method("PUT").send().status, 405);
    // A malformed form is a 400, not a 500.
    let r = Request::post_form(a.url("/LOGIN"), "credential_0=%FF%FE&credential_1=x")
        .ca(&a.ca())
        .send();
    assert_eq!(r.status, 400);

    // A sibling subdomain's <img> of the logout path is refused; its link to it (a top-level
    // navigation to a document) logs out: the shell passes the fetch-metadata headers on.
    let sibling = |mode: &str, dest: &str| {
        get(&a, "/LOGOUT")
            .cookie(COOKIE, &cookie)
            .header("Sec-Fetch-Site: same-site")
            .header(format!("Sec-Fetch-Mode: {mode}"))
            .header(format!("Sec-Fetch-Dest: {dest}"))
            .send()
    };
    assert_eq!(sibling("no-cors", "image").status, 403);
    // Nor may an <img> in the site's own pages (user content) log anyone out.
    let r = get(&a, "/LOGOUT")
        .cookie(COOKIE, &cookie)
        .header("Sec-Fetch-Site: same-origin")
        .header("Sec-Fetch-Mode: no-cors")
        .header("Sec-Fetch-Dest: image")
        .send();
    assert_eq!((r.status, r.cookie(COOKIE)), (403, None), "{r:?}");
    let r = sibling("navigate", "document");
    assert_eq!(r.status, 303, "{r:?}\n{}", a.error_log());
    assert_eq!(r.cookie(COOKIE).as_deref(), Some(""));

    // Logout clears the cookie and redirects — but a copy of the cookie still works…
    let r = get(&a, "/LOGOUT").cookie(COOKIE, &cookie).send();
    assert_eq!(r.status, 303);
    assert_eq!(r.cookie(COOKIE).as_deref(), Some(""));
    assert_eq!(app_status(&a, &cookie), 200);
    // …unless the logout revokes it server-side (socache), as AuthRsRevokeOnLogout does.
    let r = get(&a, "/LOGOUT-revoke").cookie(COOKIE, &cookie).send();
    assert_eq!(r.status, 303, "{r:?} {}", a.error_log());
    let r = get(&a, "/app/index.html").cookie(COOKIE, &cookie).send();
    assert_eq!(
        r.status, 302,
        "a revoked ticket replayed after logout: {r:?}"
    );
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("reason=bad_cookie")),
        "{r:?}"
    );
    // Other tickets are unaffected.
    assert_eq!(app_status(&a, &t), 200);
    // The revocation outlives restarts of the server (logrotate's nightly graceful reload,
    // a full restart): the shmcb cache is kept, not emptied with each configuration generation.
    for graceful in [true, false] {
        a.restart(graceful);
        let r = get(&a, "/app/index.html").cookie(COOKIE, &cookie).send();
        assert_eq!(
            r.status, 302,
            "revoked ticket replayed after a restart (graceful: {graceful}): {r:?}"
        );
        assert_eq!(app_status(&a, &t), 200);
    }
    // A logout after the restart is seen as well.
    let later = mint("demo", AuthMethod::Password, now() - 5, 3600);
    let r = get(&a, "/LOGOUT-revoke").cookie(COOKIE, &later).send();
    assert_eq!(r.status, 303);
    assert_eq!(app_status(&a, &later), 302);

    // After an internal redirect (mod_dir's index: /app/cgi/ → /app/cgi/echo) the application
    // still sees the whole identity, not only the REMOTE_USER httpd carries over.
    let r = get(&a, "/app/cgi/").cookie(COOKIE, &t).send();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.env("REMOTE_USER"), Some("demo"), "{}", r.body);
    assert_eq!(r.env("AUTHRS_USER"), Some("demo"), "{}", r.body);
    assert_eq!(r.env("AUTHRS_METHOD"), Some("password"), "{}", r.body);

    // Recognize-user on a public page: a valid ticket names the user, no ticket is no problem.
    let r = get(&a, "/cgi-bin/echo").cookie(COOKIE, &t).send();
    assert_eq!((r.status, r.env("REMOTE_USER")), (200, Some("demo")));
    let r = get(&a, "/cgi-bin/echo").send();
    assert_eq!((r.status, r.env("REMOTE_USER")), (200, None));
    let r = get(&a, "/cgi-bin/echo").cookie(COOKIE, "garbage").send();
    assert_eq!((r.status, r.env("REMOTE_USER")), (200, None));
    // A sliding ticket idle for 400 s of 600 is re-issued on the public page too.
    let mut idle = Ticket::new("demo", AuthMethod::Password, now() - 500, 3600);
    idle.last_seen = now() - 400;
    let idle = ring().mint(&idle).expect("mint");
    let r = get(&a, "/cgi-bin/echo").cookie(COOKIE, &idle).send();
    assert_eq!(r.env("REMOTE_USER"), Some("demo"));
    let fresh = r.cookie(COOKIE).expect("refreshed ticket");
    assert!(!fresh.is_empty() && fresh != idle);
    assert!(ring()
        .verify_for(COOKIE, &fresh, now(), None, Some(600))
        .is_ok_and(|t| t.last_seen >= now() - 5));

    // Nothing unexpected in the error log (the mpm's startup notices are [notice]).
    a.assert_clean_log(&["AUTHRS0305", "AUTHRS0307"]);
}

#[test]
fn client_certificates() {
    let a = start("");
    // The DN the module exposes equals mod_ssl's own SSL_CLIENT_S_DN.
    let r = get(&a, "/app/cgi/echo")
        .client_cert(&a.certs, "alice")
        .send();
    assert_eq!(r.status, 200, "{}", a.error_log());
    assert_eq!(r.env("REMOTE_USER"), Some("alice"));
    assert_eq!(r.env("AUTHRS_METHOD"), Some("cert"));
    let ssl_dn = r.env("SSL_CLIENT_S_DN").expect("mod_ssl StdEnvVars");
    assert_eq!(r.env("AUTHRS_DN"), Some(ssl_dn));
    assert_eq!(r.env("AUTHRS_ISSUER_DN"), r.env("SSL_CLIENT_I_DN"));
    // Non-ASCII DNs: mod_ssl leaves UTF-8 raw; so must we.
    let r = get(&a, "/app/cgi/echo").client_cert(&a.certs, "zoe").send();
    assert_eq!(r.status, 200, "{}", a.error_log());
    assert_eq!(r.env("REMOTE_USER"), Some("zoë"));
    let ssl_dn = r.env("SSL_CLIENT_S_DN").expect("mod_ssl StdEnvVars");
    assert!(ssl_dn.contains("Zürich"), "{ssl_dn}");
    assert_eq!(r.env("AUTHRS_DN"), Some(ssl_dn));

    // Cert-only area: no certificate → login with no_cert; a ticket does not help.
    let r = get(&a, "/app/certonly/").send();
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("reason=no_cert")),
        "{r:?}"
    );
    let t = mint("demo", AuthMethod::Password, now(), 3600);
    let r = get(&a, "/app/certonly/").cookie(COOKIE, &t).send();
    assert_eq!(r.status, 302);
    let r = get(&a, "/app/certonly/")
        .client_cert(&a.certs, "demo")
        .send();
    assert_eq!(r.status, 200, "{r:?}");

    // Require role / authn-method / cert-dn.
    assert_eq!(
        get(&a, "/app/admin/")
            .client_cert(&a.certs, "demo")
            .send()
            .status,
        200
    );
    let r = get(&a, "/app/admin/").client_cert(&a.certs, "alice").send();
    assert_eq!(
        r.status, 401,
        "httpd answers 401 when an authenticated user fails authz"
    );
    assert_eq!(
        get(&a, "/app/strong/").cookie(COOKIE, &t).send().status,
        401,
        "password ticket on a cert-only resource"
    );
    assert_eq!(
        get(&a, "/app/strong/")
            .client_cert(&a.certs, "alice")
            .send()
            .status,
        200
    );
    assert_eq!(
        get(&a, "/app/alice-dn/")
            .client_cert(&a.certs, "alice")
            .send()
            .status,
        200
    );
    assert_eq!(
        get(&a, "/app/alice-dn/")
            .client_cert(&a.certs, "demo")
            .send()
            .status,
        401
    );
}

#[test]
fn revoked_certificates_and_crl_reload() {
    let (root, certs) = root_with_key("httpd-crl");
    std::fs::write(root.join("htpasswd"), "").expect("htpasswd");
    std::fs::write(root.join("roles"), "").expect("roles");
    // Start with an empty CRL (no revocations), then swap in the real one.
    let empty = root.join("empty.crl");
    let st = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "cd {c} && cp index.txt index.bak && : > index.txt && openssl ca -batch -config ca.cnf -gencrl -out {e} 2>/dev/null; rc=$?; cp index.bak index.txt; exit $rc",
            c = certs.display(),
            e = empty.display()
        ))
        .status()
        .expect("openssl");
    assert!(st.success());
    let crl = root.join("current.crl");
    std::fs::copy(&empty, &crl).expect("copy");
    let g = format!("{}AuthRsCRLFile \"{}\"\n", global(&root), crl.display());
    let s = site(&root);
    let a = Apache::start_in(root.clone(), certs.clone(), &g, &s);
    let r = get(&a, "/app/index.html")
        .client_cert(&a.certs, "revoked")
        .send();
    assert_eq!(r.status, 200, "not revoked yet: {r:?}");
    // Replace the CRL on disk: no restart.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::copy(certs.join("ca.crl"), &crl).expect("swap CRL");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r = get(&a, "/app/index.html")
        .client_cert(&a.certs, "revoked")
        .send();
    assert_eq!(r.status, 302, "{r:?}");
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("reason=revoked_cert")),
        "{r:?}"
    );
    // Revoked is final: a valid ticket does not rescue the request.
    let t = mint("demo", AuthMethod::Password, now(), 3600);
    let r = get(&a, "/app/index.html")
        .client_cert(&a.certs, "revoked")
        .cookie(COOKIE, &t)
        .send();
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("reason=revoked_cert")),
        "{r:?}"
    );
    // Others still pass.
    assert_eq!(
        get(&a, "/app/index.html")
            .client_cert(&a.certs, "alice")
            .send()
            .status,
        200
    );
    // Swapped for a delta CRL (it lists recent changes only): the worker reports it when it
    // rebuilds (AUTHRS0004), what it lists still revokes, and it vouches for no one else.
    let delta = root.join("delta.crl");
    let st = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "cd {c} && cp ca.cnf delta.cnf && printf '\\n[delta]\\n2.5.29.27=critical,DER:02:01:01\\n' >> delta.cnf && openssl ca -batch -config delta.cnf -gencrl -crlexts delta -out {d} 2>/dev/null",
            c = certs.display(),
            d = delta.display()
        ))
        .status()
        .expect("openssl");
    assert!(st.success());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::copy(&delta, &crl).expect("swap in the delta CRL");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r = get(&a, "/app/index.html")
        .client_cert(&a.certs, "alice")
        .send();
    assert_ne!(r.status, 200, "a delta CRL vouched for alice: {r:?}");
    let r = get(&a, "/app/index.html")
        .client_cert(&a.certs, "revoked")
        .send();
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("reason=revoked_cert")),
        "{r:?}"
    );
    let log = a.error_log();
    assert!(
        log.lines()
            .any(|l| l.contains("AUTHRS0004") && l.contains("delta CRL")),
        "{log}"
    );
}

#[test]
fn a_htaccess_cannot_make_a_worker_read_forever() {
    // A directory owner with AllowOverride AuthConfig names a FIFO or /dev/zero as a roles file:
    // the request fails (500) at once, the worker is not stuck reading, the server serves on.
    let (root, certs) = root_with_key("httpd-htaccess");
    let fifo = root.join("roles.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    for (dir, roles) in [
        ("fifo", fifo.display().to_string()),
        ("zero", "/dev/zero".into()),
    ] {
        let d = root.join("htdocs").join(dir);
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(d.join("index.html"), "served\n").expect("write");
        std::fs::write(
            d.join(".htaccess"),
            format!(
                "AuthType AuthRs\nAuthName Example\nAuthRsRolesFile \"{roles}\"\nRequire valid-user\n"
            ),
        )
        .expect("htaccess");
    }
    // Nor aim the server's OpenID fetches at loopback and private networks.
    let d = root.join("htdocs").join("private");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(d.join("index.html"), "served\n").expect("write");
    std::fs::write(
        d.join(".htaccess"),
        "AuthType AuthRs\nAuthName Example\nAuthRsOpenIDAllowPrivateAddresses On\nRequire valid-user\n",
    )
    .expect("htaccess");
    std::fs::create_dir_all(root.join("htdocs/app")).expect("mkdir");
    std::fs::write(root.join("htdocs/app/index.html"), "app\n").expect("write");
    let site = format!(
        "<Directory \"{}/htdocs\">\n  AllowOverride AuthConfig\n</Directory>\n\
         <Location /app>\n  AuthType AuthRs\n  AuthName Example\n  Require valid-user\n</Location>\n",
        root.display()
    );
    let global = global(&root);
    let a = Apache::start_in(root, certs, &global, &site);
    let t = mint("demo", AuthMethod::Password, now() - 10, 3600);
    // (A stuck worker shows as curl giving up after its 20 s, not as a 500.)
    for dir in ["fifo", "zero"] {
        let r = get(&a, &format!("/{dir}/")).cookie(COOKIE, &t).send();
        assert_eq!(r.status, 500, "{dir}: {r:?}");
        assert!(!r.body.contains("served"));
    }
    assert!(
        a.error_log().contains("is not a regular file"),
        "{}",
        a.error_log()
    );
    let r = get(&a, "/private/").cookie(COOKIE, &t).send();
    assert_eq!(r.status, 500, "{r:?}");
    assert!(
        a.error_log()
            .contains("AuthRsOpenIDAllowPrivateAddresses not allowed here"),
        "{}",
        a.error_log()
    );
    assert_eq!(app_status(&a, &t), 200);
}

#[test]
fn a_htaccess_policy_is_built_once_not_per_request() {
    // httpd reads .htaccess anew for every request; its section must still find the policy
    // built for the same settings (before: a new policy per request, evicting the operator's).
    let (root, certs) = root_with_key("httpd-htaccess-cache");
    std::fs::write(root.join("roles"), "demo admin\n").expect("roles");
    let d = root.join("htdocs/u");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(d.join("index.html"), "served\n").expect("write");
    std::fs::write(
        d.join(".htaccess"),
        format!(
            "AuthType AuthRs\nAuthName Example\nAuthRsRolesFile \"{}/roles\"\nRequire role admin\n",
            root.display()
        ),
    )
    .expect("htaccess");
    let site = format!(
        "<Directory \"{}/htdocs\">\n  AllowOverride AuthConfig\n</Directory>\n",
        root.display()
    );
    let global = global(&root);
    let a = Apache::start_in(root, certs, &global, &site);
    let t = mint("demo", AuthMethod::Password, now() - 10, 3600);
    for _ in 0..20 {
        let r = get(&a, "/u/").cookie(COOKIE, &t).send();
        assert_eq!((r.status, r.body.as_str()), (200, "served\n"), "{r:?}");
    }
    // One child (the tests' event MPM runs one): one build, whatever the number of requests.
    let builds = a.error_log().matches("AUTHRS0102").count();
    assert_eq!(builds, 1, "{}", a.error_log());
    let roles = a.root.join("roles");
    let stamp = a.root.join("roles.stamp");
    let touch = |args: &[&std::path::Path]| {
        let ok = std::process::Command::new("touch")
            .arg("-r")
            .args(args)
            .status()
            .expect("touch");
        assert!(ok.success());
    };
    // A real change is seen (at most a second later) and fails closed.
    // (Garbage as long as the mended file below, so that only the change time tells them apart.)
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&roles, b"\xff\xfexxxxxxxx\n").expect("garbage");
    let r = get(&a, "/u/").cookie(COOKIE, &t).send();
    assert_eq!(r.status, 500, "{r:?}");
    // Nor is a failing chain's file read again per request while it stays unchanged: the
    // failure is answered from memory (one build tried, however many requests)…
    for _ in 0..5 {
        let r = get(&a, "/u/").cookie(COOKIE, &t).send();
        assert_eq!(r.status, 500, "{r:?}");
    }
    let tried = a.error_log().matches("AUTHRS0107").count();
    assert_eq!(tried, 1, "{}", a.error_log());
    // …and a change of the file is seen again, even one that keeps its modification time.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    touch(&[&roles, &stamp]);
    std::fs::write(&roles, "demo admin\n").expect("roles");
    touch(&[&stamp, &roles]);
    let r = get(&a, "/u/").cookie(COOKIE, &t).send();
    assert_eq!((r.status, r.body.as_str()), (200, "served\n"), "{r:?}");
}

#[test]
fn a_changed_authrs_cache_survives_restarts_with_a_flock_mutex() {
    // The cache is kept across restarts; when AuthRsCache changes, a new cache is made — with
    // the old lock, since a new flock lock of the same type would find its file (O_EXCL) and
    // stop the server.
    let mut a = start("Mutex flock authrs-cache\n");
    let t = mint("demo", AuthMethod::Password, now() - 10, 3600);
    let r = get(&a, "/LOGOUT-revoke").cookie(COOKIE, &t).send();
    assert_eq!(r.status, 303, "{}", a.error_log());
    let conf = a.root.join("httpd.conf");
    let text = std::fs::read_to_string(&conf).expect("conf");
    let changed = format!(
        "{text}\nAuthRsCache \"shmcb:{}/run/authrs-cache(65536)\"\n",
        a.root.display()
    );
    std::fs::write(&conf, changed).expect("conf");
    for graceful in [true, false] {
        a.restart(graceful);
        let fresh = mint("demo", AuthMethod::Password, now() - 5, 3600);
        assert_eq!(
            app_status(&a, &fresh),
            200,
            "after a restart (graceful: {graceful}): {}",
            a.error_log()
        );
    }
    // A logout in the new cache is seen by the next request.
    let later = mint("demo", AuthMethod::Password, now() - 3, 3600);
    assert_eq!(
        get(&a, "/LOGOUT-revoke")
            .cookie(COOKIE, &later)
            .send()
            .status,
        303
    );
    assert_eq!(app_status(&a, &later), 302);
}

/// shmcb keeps the entries of one sub-cache (picked by an id's first byte) together and evicts
/// the oldest of them when it is full. Were revocation ids a plain digest, anyone able to log in
/// and out (one account is enough: each login is a new session, and a ticket shows its fields)
/// could log out only sessions whose id shares the first byte of a victim's revocation, fill
/// that sub-cache and evict it — the victim's stolen copy would work again. The module hashes a
/// per-cache secret into every shmcb id, so such logouts spread over every sub-cache.
#[test]
fn logouts_aimed_at_one_shmcb_sub_cache_cannot_evict_a_revocation() {
    use sha2::{Digest, Sha256};
    let mut a = start("");
    let conf = a.root.join("httpd.conf");
    let text = std::fs::read_to_string(&conf).expect("conf");
    // A small cache: a few sub-caches of a few dozen entries each.
    let small = format!(
        "{text}\nAuthRsCache \"shmcb:{}/run/aim(65536)\"\n",
        a.root.display()
    );
    std::fs::write(&conf, small).expect("conf");
    a.restart(false);
    let issued = now() - 10;
    let victim = mint("victim", AuthMethod::Password, issued, 3600);
    assert_eq!(
        get(&a, "/LOGOUT-revoke")
            .cookie(COOKIE, &victim)
            .send()
            .status,
        303
    );
    assert_eq!(app_status(&a, &victim), 302, "revoked");
    // What a plain id would start with (the module's id before the secret).
    let plain_first = |user: &str| {
        let t = Ticket::new(user, AuthMethod::Password, issued, 3600);
        let id = authrs_core::engine::ticket_id(&t);
        Sha256::new()
            .chain_update(b"authrs-revoked\0")
            .chain_update(id.as_bytes())
            .finalize()[0]
    };
    let target = plain_first("victim");
    let aimed: Vec<String> = (0..200_000)
        .map(|i| format!("aim-{i}"))
        .filter(|u| plain_first(u) == target)
        .take(150)
        .collect();
    assert_eq!(aimed.len(), 150);
    for user in &aimed {
        let t = mint(user, AuthMethod::Password, issued, 3600);
        let r = get(&a, "/LOGOUT-revoke").cookie(COOKIE, &t).send();
        assert_eq!(r.status, 303, "{user}: {r:?}\n{}", a.error_log());
    }
    assert_eq!(
        app_status(&a, &victim),
        302,
        "the victim's revocation was evicted by aimed logouts"
    );
}

#[test]
fn spoofed_proxy_headers_never_reach_the_application() {
    // Modules that read request headers before the auth hooks (server-context `RequestHeader
    // … early` runs at post_read_request) must not see the spoofed copies either.
    let a = start(
        "RequestHeader set X-Early-Dn \"expr=%{req:SSL_CLIENT_S_DN}\" early\n\
         RequestHeader set X-Early-User \"expr=%{req:X-AuthRs-User}\" early\n",
    );
    let r = get(&a, "/app/cgi/echo")
        .header("SSL_CLIENT_S_DN: CN=admin,O=authrs demo,C=XX")
        .header("SSL-CLIENT-VERIFY: SUCCESS")
        .header("X-Forwarded-Client-Cert: Hash=00;Subject=\"CN=admin\"")
        .send();
    assert_eq!(
        r.status, 302,
        "spoofed headers must not authenticate: {r:?}"
    );
    let t = mint("demo", AuthMethod::Password, now(), 3600);
    let r = get(&a, "/app/cgi/echo")
        .cookie(COOKIE, &t)
        .header("SSL-CLIENT-S-DN: CN=admin,O=authrs demo,C=XX")
        .header("X-Forwarded-Client-Cert: Hash=00;Subject=\"CN=admin\"")
        .send();
    assert_eq!(r.env("REMOTE_USER"), Some("demo"));
    assert!(
        !r.body.contains("CN=admin"),
        "a spoofed header reached the CGI:\n{}",
        r.body
    );
    let r = get(&a, "/cgi-bin/echo")
        .header("SSL_CLIENT_S_DN: CN=admin,O=authrs demo,C=XX")
        .header("X-AuthRs-User: admin")
        .header("SSL-Client-S-DN-CN: admin")
        .send();
    assert_eq!(r.status, 200);
    assert!(
        !r.body.contains("CN=admin") && !r.body.contains("=admin"),
        "a spoofed header reached an early module:\n{}",
        r.body
    );
    assert!(a.error_log().contains("AUTHRS0201"), "spoofing is logged");
    a.assert_clean_log(&["AUTHRS0201", "AUTHRS0204"]);
}

#[test]
fn trusted_proxy_headers_map_the_user() {
    let a = start("AuthRsTrustedProxies 127.0.0.1\n");
    let r = get(&a, "/app/cgi/echo")
        .header("SSL_CLIENT_S_DN: CN=carol,O=authrs demo,C=XX")
        .header("SSL_CLIENT_VERIFY: SUCCESS")
        .send();
    assert_eq!(r.status, 200, "{r:?} {}", a.error_log());
    assert_eq!(r.env("REMOTE_USER"), Some("carol"));
    assert_eq!(r.env("AUTHRS_DN"), Some("CN=carol,O=authrs demo,C=XX"));
    // An `ssl` proxy (nginx, HAProxy) passes its clients' X-AuthRs-* through: not kept.
    let r = get(&a, "/cgi-bin/echo")
        .header("X-AuthRs-User: admin")
        .header("X_AuthRs_Method: cert")
        .send();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        !r.body.contains("=admin") && !r.body.contains("HTTP_X_AUTHRS"),
        "a client's X-AuthRs-* passed an ssl proxy:\n{}",
        r.body
    );
    assert!(
        a.error_log()
            .contains("only authrs may set: X-AuthRs-User, X_AuthRs_Method"),
        "{}",
        a.error_log()
    );
}

#[test]
fn config_test_rejects_bad_directives() {
    let cases = [
        ("AuthRsCookieSameSite Laxx", "must be one of"),
        ("AuthRsTicketLifetime forever", "AuthRsTicketLifetime"),
        ("AuthRsMethods cert password", "AuthRsMethods"),
        ("AuthRsCertUser \"{CN\"", "AuthRsCertUser"),
        ("AuthRsTrustedProxies 10.0.0.0/33", "AuthRsTrustedProxies"),
        ("AuthRsUnauthAction 302", "AuthRsUnauthAction"),
        ("AuthRsCookieNam x", "Invalid command 'AuthRsCookieNam'"),
    ];
    // dbm answers a missing key as an error: every revocation lookup would fail.
    let (ok, out) = config_test("AuthRsCache dbm:/tmp/authrs-dbm-cache\n", "");
    assert!(
        !ok && out.contains("AuthRsCache") && out.contains("dbm"),
        "{out}"
    );
    for (line, needle) in cases {
        let site = format!("<Location /x>\n{line}\n</Location>\n");
        let (ok, out) = config_test("", &site);
        assert!(!ok, "{line} was accepted");
        assert!(out.contains(needle), "{line}: {out}");
        assert!(
            out.contains("httpd.conf"),
            "the error names the file: {out}"
        );
    }
    // Server-scope directives: a missing key file, and the scope itself.
    let (ok, out) = config_test("AuthRsTicketKeyFile /nonexistent/ticket.key\n", "");
    assert!(
        !ok && out.contains("cannot read") && out.contains("httpd.conf"),
        "{out}"
    );
    let (ok, out) = config_test(
        "",
        "<Location /x>\nAuthRsTicketKeyFile /etc/hostname\n</Location>\n",
    );
    assert!(!ok && out.contains("not allowed"), "{out}");
    let (ok, out) = config_test("", "<Location /x>\nRequire role\n</Location>\n");
    assert!(!ok, "an empty Require role was accepted: {out}");
    let (ok, out) = config_test(
        "",
        "<Location /x>\nRequire authn-method telepathy\n</Location>\n",
    );
    assert!(!ok && out.contains("telepathy"), "{out}");
    let (ok, out) = config_test("", "<Location /x>\nAuthType AuthRs\nAuthRsMethods ticket cert\nRequire valid-user\n</Location>\n");
    assert!(ok, "a good configuration failed: {out}");
}

#[test]
fn an_xfcc_proxy_cannot_be_used_to_smuggle_ssl_headers() {
    let a = start("AuthRsTrustedProxies 127.0.0.1\nAuthRsTrustedProxyHeaders xfcc\n");
    // The proxy (127.0.0.1, trusted) asserts XFCC only; these SSL_* headers are the client's.
    let r = get(&a, "/app/cgi/echo")
        .header("SSL-Client-S-DN: CN=carol,O=authrs demo,C=XX")
        .header("SSL-Client-Verify: SUCCESS")
        .send();
    assert_eq!(
        r.status, 302,
        "smuggled SSL_* headers must not authenticate: {r:?}"
    );
    // Its XFCC is believed, and the SSL_* copies never reach the application.
    let r = get(&a, "/app/cgi/echo")
        .header("X-Forwarded-Client-Cert: Hash=00ff;Subject=\"CN=carol,O=authrs demo,C=XX\"")
        .header("SSL_CLIENT_S_DN: CN=admin,O=authrs demo,C=XX")
        .send();
    assert_eq!(r.status, 200, "{r:?} {}", a.error_log());
    assert_eq!(r.env("REMOTE_USER"), Some("carol"));
    assert!(!r.body.contains("CN=admin"), "{}", r.body);
    // Proxies write XFCC with dashes (Envoy's SANITIZE_SET neither removes nor replaces a
    // client's `x_forwarded_client_cert`): the underscore spelling is the client's, alone or
    // after the proxy's own element, and is stripped.
    let forged = "Hash=00ee;Subject=\"CN=admin,O=authrs demo,C=XX\"";
    let r = get(&a, "/app/cgi/echo")
        .header(format!("x_forwarded_client_cert: {forged}"))
        .send();
    assert_eq!(r.status, 302, "an underscore XFCC authenticated: {r:?}");
    let r = get(&a, "/app/cgi/echo")
        .header("X-Forwarded-Client-Cert: Hash=00ff;Subject=\"CN=carol,O=authrs demo,C=XX\"")
        .header(format!("x_forwarded_client_cert: {forged}"))
        .send();
    assert_eq!(r.status, 200, "{r:?} {}", a.error_log());
    assert_eq!(r.env("REMOTE_USER"), Some("carol"), "{}", r.body);
    assert!(!r.body.contains("CN=admin"), "{}", r.body);
    // An Envoy in front writes DNS/URI SANs unquoted: carol's certificate with the DNS SAN
    // `m.example,Subject="CN=admin,…"` reads as a second element, made up by its holder.
    let r = get(&a, "/app/cgi/echo")
        .header(
            "X-Forwarded-Client-Cert: Hash=00ff;Subject=\"CN=carol,O=authrs demo,C=XX\";\
             DNS=m.example,Subject=\"CN=admin,O=authrs demo,C=XX\"",
        )
        .send();
    assert_ne!(r.status, 200, "{r:?}");
    assert_ne!(r.env("REMOTE_USER"), Some("admin"), "{}", r.body);
    assert!(a.error_log().contains("2 elements"), "{}", a.error_log());
    // An authrs Envoy in front passes the identity it decided as X-AuthRs-*: kept from this
    // `xfcc` proxy, but only with dashes (Envoy passes a client's underscore copy through).
    let r = get(&a, "/cgi-bin/echo")
        .header("X-AuthRs-User: carol")
        .header("X_AuthRs_Method: cert")
        .send();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("HTTP_X_AUTHRS_USER=carol"), "{}", r.body);
    assert!(!r.body.contains("HTTP_X_AUTHRS_METHOD"), "{}", r.body);
    assert!(
        a.error_log()
            .contains("only authrs may set: X_AuthRs_Method"),
        "{}",
        a.error_log()
    );
    a.assert_clean_log(&["AUTHRS0201", "AUTHRS0204", "2 elements"]);
}

/// mod_remoteip rewrites `useragent_ip` from X-Forwarded-For: trust in a proxy is judged on the
/// TCP peer, so a client cannot name a trusted proxy there; tickets stay bound to the end
/// user's address as mod_remoteip reports it.
#[test]
fn a_forwarded_for_naming_a_trusted_proxy_is_not_trusted() {
    let a = start(
        "LoadModule remoteip_module /usr/lib/apache2/modules/mod_remoteip.so\n\
         RemoteIPHeader X-Forwarded-For\n\
         RemoteIPInternalProxy 127.0.0.1\n\
         AuthRsTrustedProxies 192.0.2.10\n\
         <Location /app/bound>\n  AuthRsBindAddress On\n</Location>\n",
    );
    let spoof = |req: Request| {
        req.header("X-Forwarded-For: 192.0.2.10")
            .header("SSL_CLIENT_S_DN: CN=alice,O=authrs demo,C=XX")
            .header("SSL_CLIENT_VERIFY: SUCCESS")
    };
    let r = spoof(get(&a, "/app/cgi/echo")).send();
    assert_eq!(r.status, 302, "the client became alice: {r:?}");
    let t = mint("demo", AuthMethod::Password, now(), 3600);
    let r = spoof(get(&a, "/app/cgi/echo").cookie(COOKIE, &t)).send();
    assert_eq!(r.status, 200, "{r:?}");
    // mod_remoteip did rewrite the address: the test would prove nothing otherwise.
    assert_eq!(r.env("REMOTE_ADDR"), Some("192.0.2.10"), "{}", r.body);
    assert_eq!(r.env("REMOTE_USER"), Some("demo"));
    assert!(
        !r.body.contains("CN=alice"),
        "a spoofed header reached the CGI:\n{}",
        r.body
    );
    let log = a.error_log();
    assert!(
        log.contains("AUTHRS0201") && log.contains("peer 127.0.0.1"),
        "spoofing is logged with the TCP peer: {log}"
    );
    // A ticket bound to the user's address (as mod_remoteip gives it) works from there only.
    let mut bound = Ticket::new("demo", AuthMethod::Password, now(), 3600);
    bound.roles = None;
    bound.address = Some("198.51.100.7".parse().expect("ip"));
    let bound = ring().mint(&bound).expect("mint");
    let r = get(&a, "/app/bound/")
        .cookie(COOKIE, &bound)
        .header("X-Forwarded-For: 198.51.100.7")
        .send();
    assert_eq!(r.status, 404, "bound to the forwarded user address: {r:?}");
    let r = get(&a, "/app/bound/").cookie(COOKIE, &bound).send();
    assert_eq!(r.status, 302, "from another address: {r:?}");
    a.assert_clean_log(&["AUTHRS0201", "AH00128"]);
}

/// The page an ErrorDocument shows (an internal redirect) reads `AUTHRS_REASON` unprefixed, as
/// issue #3's login page does (httpd itself only passes `REDIRECT_AUTHRS_REASON`), and a 403
/// from httpd's own `Require` says `forbidden` there too.
#[test]
fn error_documents_see_the_reason() {
    let a = start(
        "ErrorDocument 401 /cgi-bin/echo\nErrorDocument 403 /cgi-bin/echo\n\
         <Location />\n  AuthzSendForbiddenOnFailure On\n</Location>\n",
    );
    let r = get(&a, "/app/index.html")
        .header("Accept: application/json")
        .send();
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.header("x-authrs-reason"), Some("no_cookie"), "{r:?}");
    assert_eq!(
        r.env("REDIRECT_AUTHRS_REASON"),
        Some("no_cookie"),
        "{}",
        r.body
    );
    assert_eq!(r.env("AUTHRS_REASON"), Some("no_cookie"), "{}", r.body);
    // alice is authenticated; `Require role admin projectX` refuses her. The error page (on
    // /cgi-bin, where AuthRsRecognizeUser recognizes her) is still told why.
    let t = mint("alice", AuthMethod::Password, now(), 3600);
    let r = get(&a, "/app/admin/").cookie(COOKIE, &t).send();
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(r.header("x-authrs-reason"), Some("forbidden"), "{r:?}");
    assert_eq!(r.env("AUTHRS_REASON"), Some("forbidden"), "{}", r.body);
    a.assert_clean_log(&["AH01631"]);
}

/// Without `AuthzSendForbiddenOnFailure On`, mod_authz_core answers 401 to an authenticated user
/// its `Require` refuses: that answer (and the ErrorDocument shown for it) says `forbidden` too,
/// never nothing — an anonymous 401 keeps its own reason.
#[test]
fn a_default_401_for_an_authenticated_user_says_forbidden() {
    let a = start("ErrorDocument 401 /cgi-bin/echo\n");
    let t = mint("alice", AuthMethod::Password, now(), 3600);
    let r = get(&a, "/app/admin/").cookie(COOKIE, &t).send();
    assert_eq!(r.status, 401, "httpd's default for a refused user: {r:?}");
    assert_eq!(r.header("x-authrs-reason"), Some("forbidden"), "{r:?}");
    assert_eq!(r.env("AUTHRS_REASON"), Some("forbidden"), "{}", r.body);
    let r = get(&a, "/app/admin/")
        .header("Accept: application/json")
        .send();
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.header("x-authrs-reason"), Some("no_cookie"), "{r:?}");
    assert_eq!(r.env("AUTHRS_REASON"), Some("no_cookie"), "{}", r.body);
    // A refusal made after authorization passed (the file handler: a file httpd may not read)
    // is not the user's: no reason.
    let locked = a.root.join("htdocs/app/locked.html");
    std::fs::write(&locked, "x\n").expect("write");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    }
    let t = mint("demo", AuthMethod::Password, now(), 3600);
    let r = get(&a, "/app/locked.html").cookie(COOKIE, &t).send();
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(r.header("x-authrs-reason"), None, "{r:?}");
    a.assert_clean_log(&["AH01631", "AH00132"]);
}

/// `conf/apache2/authrs.conf` (what `make install` puts in mods-available) with its example
/// uncommented: a config line is `#` followed by a directive or by four spaces and one (a
/// comment is `# text`, or `#    # text` inside the example).
fn uncommented_sample(dir: &Path) -> String {
    let sample =
        std::fs::read_to_string(authrs_tests::workspace().join("conf/apache2/authrs.conf"))
            .expect("read conf/apache2/authrs.conf");
    let mut out = String::new();
    for line in sample.lines() {
        let trimmed = line.trim_start();
        let uncommented = trimmed.strip_prefix('#').filter(|rest| {
            rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '<')
                || rest
                    .strip_prefix("    ")
                    .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_alphabetic() || c == '<'))
        });
        out.push_str(uncommented.unwrap_or(line));
        out.push('\n');
    }
    out.replace("/etc/authrs/", &format!("{}/", dir.display()))
}

/// The README's httpd examples load as written (`apache2 -t`), with their files in place: an
/// operator pastes them (httpd has no comments at the end of a directive line, for one).
#[test]
fn the_readme_httpd_examples_pass_the_config_test() {
    let readme = std::fs::read_to_string(authrs_tests::workspace().join("README.md"))
        .expect("read README.md");
    let blocks: Vec<&str> = readme
        .split("```apache\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .collect();
    assert!(blocks.len() >= 2, "{} apache blocks", blocks.len());
    let (root, certs) = root_with_key("httpd-readme");
    std::fs::copy(certs.join("ca.crt"), root.join("client-ca.pem")).expect("ca");
    std::fs::copy(certs.join("ca.crl"), root.join("client-ca.crl")).expect("crl");
    std::fs::write(root.join("htpasswd"), "").expect("htpasswd");
    std::fs::write(
        root.join("openid.secret"),
        "0123456789abcdef0123456789abcdef\n",
    )
    .expect("secret");
    for block in blocks {
        // The harness loads the module it built.
        let block: String = block
            .lines()
            .filter(|l| !l.starts_with("LoadModule authrs_module"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            .replace("/etc/authrs/", &format!("{}/", root.display()));
        let (ok, out) = authrs_tests::apache::config_test_in(&root, &block, "");
        assert!(ok, "{out}\n{block}");
    }
}

#[test]
fn the_shipped_sample_config_uncommented_protects_its_app() {
    let (root, certs) = root_with_key("httpd-sample");
    std::fs::copy(certs.join("ca.crl"), root.join("client-ca.crl")).expect("crl");
    let hash = authrs_core::password::hash_bcrypt("demo", 5, [7u8; 16]).expect("hash");
    std::fs::write(root.join("htpasswd"), format!("demo:{hash}\n")).expect("htpasswd");
    let sample = uncommented_sample(&root);
    for directive in [
        "AuthRsTicketKeyFile",
        "AuthRsTrustedProxies",
        "<Location /app>",
        "SetHandler authrs-login",
        "SetHandler authrs-logout",
    ] {
        assert!(
            sample
                .lines()
                .any(|l| l.trim_start().starts_with(directive)),
            "{directive} uncommented:\n{sample}"
        );
    }
    assert!(
        !sample.contains("#    AuthType") && !sample.contains("#AuthRs"),
        "{sample}"
    );
    // authrs.load names the module the tests load.
    let load = std::fs::read_to_string(authrs_tests::workspace().join("conf/apache2/authrs.load"))
        .expect("read authrs.load");
    assert!(
        load.lines()
            .any(|l| l
                .starts_with("LoadModule authrs_module /usr/lib/apache2/modules/mod_authrs.so")),
        "{load}"
    );
    let a = Apache::start_in(root, certs, &sample, "");
    let anonymous = get(&a, "/app/").send();
    assert_eq!(anonymous.status, 302, "{anonymous:?}");
    let to = anonymous.header("location").unwrap_or_default();
    assert!(
        to.contains("/LOGIN?") && to.contains("reason=no_cookie"),
        "{to}"
    );
    let login = Request::post_form(
        a.url("/LOGIN"),
        "credential_0=demo&credential_1=demo&destination=/app/",
    )
    .ca(&a.ca())
    .send();
    let ticket = login
        .cookie("AuthRs_Example")
        .unwrap_or_else(|| panic!("login through the sample's /LOGIN: {login:?}"));
    let inside = get(&a, "/app/").cookie("AuthRs_Example", &ticket).send();
    assert_eq!(inside.status, 200, "{inside:?}");
    let out = get(&a, "/LOGOUT").cookie("AuthRs_Example", &ticket).send();
    assert!(
        out.headers
            .iter()
            .any(|(n, v)| n == "set-cookie" && v.starts_with("AuthRs_Example=;")),
        "logout clears the cookie: {out:?}"
    );
    a.assert_clean_log(&[]);
}

/// What an authz provider sets in the environment while refusing a user recognized on a public
/// page does not reach the page, which serves that user as anonymous: a Lua provider (mod_lua,
/// as mod_authnz_ldap sets `AUTHORIZE_*`) records the user it was asked about and refuses
/// mallory.
#[test]
fn a_refused_recognized_user_leaves_no_provider_variables_behind() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("lua-authz");
    let script = dir.join("authz.lua");
    std::fs::write(
        &script,
        "require 'apache2'\n\
         function asked(r)\n\
         \x20 r.subprocess_env['AUTHZ_ASKED'] = r.user or '-'\n\
         \x20 if r.user == 'mallory' then return apache2.AUTHZ_DENIED end\n\
         \x20 return apache2.AUTHZ_GRANTED\n\
         end\n",
    )
    .expect("write lua");
    // httpd's workers (www-data when the tests run as root) read the script per request.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let a = start(&format!(
        "LoadModule lua_module /usr/lib/apache2/modules/mod_lua.so\n\
         LuaAuthzProvider asked \"{}\" asked\n\
         <Location /cgi-bin/echo>\n  <RequireAll>\n    Require all granted\n    \
         Require asked\n  </RequireAll>\n</Location>\n",
        script.display()
    ));
    let mallory = mint("mallory", AuthMethod::Password, now(), 3600);
    let r = get(&a, "/cgi-bin/echo").cookie(COOKIE, &mallory).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", a.error_log());
    assert_eq!(r.env("REMOTE_USER"), None, "{}", r.body);
    // The anonymous pass's value, not the refused user's.
    assert_eq!(r.env("AUTHZ_ASKED"), Some("-"), "{}", r.body);
    assert!(a.error_log().contains("AUTHRS0227"), "{}", a.error_log());
    // A user the provider grants keeps what it set, as on a protected page.
    let demo = mint("demo", AuthMethod::Password, now(), 3600);
    let r = get(&a, "/cgi-bin/echo").cookie(COOKIE, &demo).send();
    assert_eq!(r.env("REMOTE_USER"), Some("demo"), "{}", r.body);
    assert_eq!(r.env("AUTHZ_ASKED"), Some("demo"), "{}", r.body);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A page that passes without a user (`Require all granted`) may still exclude one (`Require
/// not user mallory`): httpd skips the exclusion when nobody is logged in, so recognizing
/// mallory there would hand the application a user its rules refuse. She stays anonymous (the
/// Envoy filter answers 403); others are recognized as before.
#[test]
fn recognize_user_never_recognizes_a_user_the_require_excludes() {
    let a = start(
        "<Location /cgi-bin/echo>\n  <RequireAll>\n    Require all granted\n    \
         Require not user mallory\n  </RequireAll>\n</Location>\n",
    );
    // Issued 8 minutes ago: past half of /cgi-bin's 10-minute idle timeout, so a recognized
    // user's ticket would be refreshed — an excluded one's is not.
    let mallory = mint("mallory", AuthMethod::Password, now() - 480, 3600);
    let r = get(&a, "/cgi-bin/echo").cookie(COOKIE, &mallory).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", a.error_log());
    assert_eq!(r.env("REMOTE_USER"), None, "{}", r.body);
    assert_eq!(r.env("AUTHRS_USER"), None, "{}", r.body);
    assert_eq!(
        r.cookie(COOKIE),
        None,
        "an excluded user's session was refreshed"
    );
    assert!(
        !r.headers.iter().any(|(n, _)| n == "www-authenticate"),
        "{r:?}"
    );
    assert!(a.error_log().contains("AUTHRS0227"), "{}", a.error_log());
    // The page is served: no error-level line (fail2ban's apache-auth counts mod_authz_core's).
    a.assert_clean_log(&[]);
    let demo = mint("demo", AuthMethod::Password, now() - 480, 3600);
    let r = get(&a, "/cgi-bin/echo").cookie(COOKIE, &demo).send();
    assert_eq!(r.env("REMOTE_USER"), Some("demo"), "{}", r.body);
    assert!(
        r.cookie(COOKIE).is_some(),
        "a recognized user's ticket is refreshed"
    );
}

/// memcached reads a lifetime over 30 days as a time in 1970 and drops the entry while saying
/// STORED: a revocation of a longer-lived ticket would vanish and the ticket keep working. The
/// logout refuses it loudly instead (the check comes before any connection to memcached).
#[test]
fn memcache_never_silently_drops_a_revocation_of_a_long_lived_ticket() {
    let a = start(
        "LoadModule socache_memcache_module /usr/lib/apache2/modules/mod_socache_memcache.so\n\
         AuthRsCache memcache:127.0.0.1:9\n",
    );
    let t = mint("demo", AuthMethod::Password, now() - 10, 60 * 24 * 3600);
    let r = get(&a, "/LOGOUT-revoke").cookie(COOKIE, &t).send();
    assert_eq!(r.status, 500, "{r:?}");
    assert!(
        a.error_log().contains("at most 30 days"),
        "{}",
        a.error_log()
    );
}

/// A roles file rewritten in place keeping its size and modification time (a second write within
/// the same second on a filesystem that keeps whole seconds, `cp -p`, a restore) still takes
/// effect: the change time and inode say it changed.
#[test]
fn a_file_rewritten_with_the_same_size_and_time_is_read_again() {
    let a = start("");
    let roles = a.root.join("roles");
    let before = std::fs::read_to_string(&roles).expect("roles");
    let modified = std::fs::metadata(&roles)
        .and_then(|m| m.modified())
        .expect("mtime");
    let demo = mint("demo", AuthMethod::Password, now() - 10, 3600);
    let alice = mint("alice", AuthMethod::Password, now() - 10, 3600);
    let admin = |t: &str| get(&a, "/app/admin/").cookie(COOKIE, t).send().status;
    assert_eq!(
        (admin(&demo), admin(&alice)),
        (200, 401),
        "{}",
        a.error_log()
    );
    let after = "alice admin:projectX\ndemo reader\n";
    assert_eq!(after.len(), before.len(), "same size: {before:?}");
    std::fs::write(&roles, after).expect("rewrite");
    std::fs::File::options()
        .write(true)
        .open(&roles)
        .and_then(|f| f.set_modified(modified))
        .expect("mtime");
    // Files are checked at most once a second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(
        (admin(&demo), admin(&alice)),
        (401, 200),
        "{}",
        a.error_log()
    );
    a.assert_clean_log(&["AH01631"]);
}

/// A root-only key replaced while httpd runs: workers may not read the new one, so they keep the
/// key read at startup (tickets it signed still pass) and say so once (`AUTHRS0106`) instead of
/// going on silently; a restart reads the new key.
#[test]
fn a_root_only_key_replaced_in_place_keeps_the_startup_copy_and_warns() {
    if !authrs_tests::apache::is_root() {
        // Workers run as the test's user and read the new key themselves: nothing to show.
        return;
    }
    let a = start("");
    let t = mint("demo", AuthMethod::Password, now() - 10, 3600);
    assert_eq!(app_status(&a, &t), 200, "{}", a.error_log());
    assert!(!a.error_log().contains("AUTHRS0106"), "{}", a.error_log());
    // The operator writes a new key in place (0600, root's) with a later modification time.
    let key = a.root.join("ticket.key");
    std::fs::write(&key, "bmV3LWtleS1mb3ItbW9kX2F1dGhycy10ZXN0cy0wMDAwMDA=\n").expect("key");
    std::fs::File::options()
        .write(true)
        .open(&key)
        .and_then(|f| {
            f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        })
        .expect("mtime");
    // Files are checked at most once a second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(app_status(&a, &t), 200, "{}", a.error_log());
    let log = a.error_log();
    let warned: Vec<&str> = log.lines().filter(|l| l.contains("AUTHRS0106")).collect();
    assert!(!warned.is_empty(), "{log}");
    assert!(
        warned
            .iter()
            .all(|l| l.contains("ticket.key") && l.contains("[authrs:warn]")),
        "{warned:?}"
    );
    // Once per process and configuration, not per request.
    for _ in 0..5 {
        assert_eq!(app_status(&a, &t), 200);
    }
    let again = a.error_log().matches("AUTHRS0106").count();
    assert!(again <= 4, "{again} warnings\n{}", a.error_log());
}

/// The startup copy of a root-only file serves only the sections the server's configuration
/// names it for: a .htaccess elsewhere that names the same path is read as the worker may read
/// it (fails), so a directory owner cannot have the server use another section's consumer secret
/// for theirs; a .htaccess that inherits the file from the server's sections still gets the copy.
#[test]
fn a_htaccess_cannot_borrow_the_startup_copy_of_a_root_only_file() {
    if !authrs_tests::apache::is_root() {
        // Workers run as the test's user and may read the file themselves: nothing to show.
        return;
    }
    let (root, certs) = root_with_key("httpd-htaccess-copy");
    let secret = root.join("openid.secret");
    std::fs::write(&secret, "a consumer secret only root reads\n").expect("secret");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let section = "AuthType AuthRs\nAuthName Example\nAuthRsMethods ticket openid\n\
                   AuthRsOpenIDRealm https://127.0.0.1/\nRequire valid-user\n";
    for (dir, extra) in [
        ("inherit", String::new()),
        (
            "own",
            format!("AuthRsOpenIDConsumerSecretFile \"{}\"\n", secret.display()),
        ),
    ] {
        let d = root.join("htdocs").join(dir);
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(d.join("index.html"), "served\n").expect("write");
        std::fs::write(d.join(".htaccess"), format!("{section}{extra}")).expect("htaccess");
    }
    // The server's sections name the secret for /inherit only: /own's chain has no startup
    // section naming it (the copy exists, made for /inherit).
    let site = format!(
        "<Directory \"{r}/htdocs\">\n  AllowOverride AuthConfig\n</Directory>\n\
         <Directory \"{r}/htdocs/inherit\">\n  \
         AuthRsOpenIDConsumerSecretFile \"{r}/openid.secret\"\n</Directory>\n",
        r = root.display()
    );
    let global = global(&root);
    let a = Apache::start_in(root, certs, &global, &site);
    let t = mint("demo", AuthMethod::Password, now() - 10, 3600);
    let r = get(&a, "/inherit/").cookie(COOKIE, &t).send();
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "served\n"),
        "{r:?}\n{}",
        a.error_log()
    );
    let r = get(&a, "/own/").cookie(COOKIE, &t).send();
    assert_eq!(r.status, 500, "{r:?}\n{}", a.error_log());
    assert!(!r.body.contains("served"));
    let log = a.error_log();
    assert!(
        log.lines().any(|l| l.contains("AUTHRS0101")
            && l.contains("cannot read")
            && l.contains("openid.secret")),
        "{log}"
    );
}

/// mod_cache's quick handler answers from its cache before any authentication hook runs: a
/// response to a logged-in user must never be stored there, or the next anonymous visitor gets
/// it (cookie logins carry no Authorization header, which is all mod_cache looks for).
#[test]
fn authenticated_responses_never_reach_mod_cache() {
    let (root, certs) = root_with_key("httpd-mod-cache");
    let cache = root.join("cache");
    std::fs::create_dir_all(&cache).expect("cache dir");
    std::fs::create_dir_all(root.join("htdocs/app")).expect("mkdir");
    std::fs::create_dir_all(root.join("htdocs/pub")).expect("mkdir");
    std::fs::write(root.join("htdocs/app/report.html"), "secret report\n").expect("write");
    // Reached through a CGI's local redirect (`Location: /app/…`, an internal redirect to the
    // same section: httpd copies the user without authenticating again and renames every
    // variable REDIRECT_*): the guard must hold there too.
    std::fs::write(root.join("htdocs/app/report2.html"), "secret report two\n").expect("write");
    std::fs::write(
        root.join("htdocs/app/report3.html"),
        "secret report three\n",
    )
    .expect("write");
    std::fs::create_dir_all(root.join("cgi-bin")).expect("mkdir");
    authrs_tests::apache::write_script(
        &root.join("cgi-bin/redir"),
        "#!/bin/sh\nprintf 'Location: /app/report2.html\\r\\n\\r\\n'\n",
    );
    // Served through DirectoryIndex: mod_dir's subrequest is copied into the request (a fast
    // redirect), which keeps r->no_cache only when both had it; the guard must survive that.
    std::fs::create_dir_all(root.join("htdocs/app/idx")).expect("mkdir");
    std::fs::write(root.join("htdocs/app/idx/index.html"), "secret index\n").expect("write");
    std::fs::write(root.join("htdocs/pub/page.html"), "public page\n").expect("write");
    // Public pages that pull other pages in (SSI `include virtual`, subrequests): one a public
    // page, one a protected page (the include first, before mod_cache sees any byte).
    std::fs::write(
        root.join("htdocs/pub/public.shtml"),
        "<!--#include virtual=\"/pub/page.html\" -->ssi tail\n",
    )
    .expect("write");
    std::fs::write(
        root.join("htdocs/pub/inbox.shtml"),
        "<!--#include virtual=\"/app/report.html\" -->ssi tail\n",
    )
    .expect("write");
    std::fs::write(
        root.join("htdocs/pub/later.shtml"),
        "ssi head\n<!--#include virtual=\"/app/report.html\" -->ssi tail\n",
    )
    .expect("write");
    // Old files: mod_cache's heuristic keeps them fresh (a tenth of their age) without asking.
    for f in [
        "htdocs/app/report.html",
        "htdocs/app/idx/index.html",
        "htdocs/app/report2.html",
        "htdocs/app/report3.html",
        "htdocs/pub/page.html",
    ] {
        std::fs::File::options()
            .write(true)
            .open(root.join(f))
            .and_then(|h| {
                h.set_modified(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000),
                )
            })
            .expect("mtime");
    }
    if authrs_tests::apache::is_root() {
        let ok = std::process::Command::new("chown")
            .args(["www-data:www-data"])
            .arg(&cache)
            .status()
            .expect("chown");
        assert!(ok.success());
    }
    let m = "/usr/lib/apache2/modules";
    let global = format!(
        "{}LoadModule cache_module {m}/mod_cache.so\nLoadModule cache_disk_module {m}/mod_cache_disk.so\n\
         LoadModule rewrite_module {m}/mod_rewrite.so\nLoadModule include_module {m}/mod_include.so\n\
         CacheRoot \"{}\"\nCacheEnable disk /\nCacheHeader on\n\
         # SSI output has no Last-Modified: cached for CacheDefaultExpire all the same.\n\
         CacheIgnoreNoLastMod On\nAddOutputFilter INCLUDES .shtml\n\
         <Directory \"{}/htdocs/pub\">\n  Options +Includes\n</Directory>\n",
        global(&root),
        cache.display(),
        root.display()
    );
    // A per-directory RewriteRule: an internal redirect to the same section, where httpd copies
    // the user without authenticating again.
    let site = format!(
        "<Location /app>\n  AuthType AuthRs\n  AuthName Example\n  Require valid-user\n</Location>\n\
         <Directory \"{}/htdocs/app\">\n  RewriteEngine On\n  RewriteRule ^old\\.html$ report3.html\n</Directory>\n",
        root.display()
    );
    let a = Apache::start_in(root, certs, &global, &site);
    let t = mint("demo", AuthMethod::Password, now() - 10, 3600);
    // Positive control: mod_cache does store and serve this server's public pages.
    for _ in 0..2 {
        assert_eq!(get(&a, "/pub/page.html").send().status, 200);
    }
    let r = get(&a, "/pub/page.html").send();
    assert_eq!(
        r.header("x-cache").map(|v| v.starts_with("HIT")),
        Some(true),
        "{r:?}"
    );
    for _ in 0..2 {
        assert_eq!(get(&a, "/pub/public.shtml").send().status, 200);
    }
    let r = get(&a, "/pub/public.shtml").send();
    assert_eq!(
        (
            r.body.as_str(),
            r.header("x-cache").map(|v| v.starts_with("HIT"))
        ),
        ("public page\nssi tail\n", Some(true)),
        "SSI pages are cached here: {r:?}"
    );
    // A public page that includes a protected one is built for this user: never stored.
    for _ in 0..2 {
        let r = get(&a, "/pub/inbox.shtml").cookie(COOKIE, &t).send();
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, "secret report\nssi tail\n"),
            "{r:?}\n{}",
            a.error_log()
        );
    }
    let r = get(&a, "/pub/inbox.shtml").send();
    assert!(!r.body.contains("secret"), "{r:?}");
    // The same with the page's own text first (mod_cache has seen it before the include runs).
    for _ in 0..2 {
        let r = get(&a, "/pub/later.shtml").cookie(COOKIE, &t).send();
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, "ssi head\nsecret report\nssi tail\n"),
            "{r:?}"
        );
    }
    let r = get(&a, "/pub/later.shtml").send();
    assert!(!r.body.contains("secret"), "{r:?}");
    // The entry mod_cache began for the user's page was dropped, not left behind half-written.
    let leftovers: Vec<_> = walk(&cache)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("aptmp"))
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    for _ in 0..2 {
        let r = get(&a, "/app/report.html").cookie(COOKIE, &t).send();
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, "secret report\n"),
            "{r:?}"
        );
        // Kept from shared caches only: the browser's own cache may still keep the page
        // (`r->no_cache` would have made httpd add `Expires: <now>`).
        assert_eq!(r.header("expires"), None, "{r:?}");
    }
    for _ in 0..2 {
        let r = get(&a, "/app/idx/").cookie(COOKIE, &t).send();
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, "secret index\n"),
            "{r:?}"
        );
    }
    for _ in 0..2 {
        let r = get(&a, "/app/cgi/redir").cookie(COOKIE, &t).send();
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, "secret report two\n"),
            "{r:?}\n{}",
            a.error_log()
        );
    }
    for _ in 0..2 {
        let r = get(&a, "/app/old.html").cookie(COOKIE, &t).send();
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, "secret report three\n"),
            "{r:?}\n{}",
            a.error_log()
        );
    }
    for path in [
        "/app/report.html",
        "/app/idx/",
        "/app/cgi/redir",
        "/app/report2.html",
        "/app/old.html",
        "/app/report3.html",
    ] {
        let r = get(&a, path).send();
        assert_eq!(r.status, 401, "{path}: {r:?}\n{}", a.error_log());
        assert_eq!(r.header("x-authrs-reason"), Some("no_cookie"), "{r:?}");
        assert!(!r.body.contains("secret"), "{path}: {r:?}");
    }
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A ticket due for its sliding refresh on a page httpd's own `Require` then refuses: the 403
/// carries no fresh ticket (a refused user could otherwise keep an idle session alive by polling
/// a page they may not see); on a page they may see, the refresh is sent.
#[test]
fn a_refused_request_never_refreshes_the_ticket() {
    // /idle2's refusal is shown by an ErrorDocument under another authrs section, which
    // authenticates the same ticket again: that page must not send the refresh either (it
    // shares the refused request's err_headers_out).
    let a = start(
        "<Location /idle>\n  AuthType AuthRs\n  AuthName Example\n  AuthRsSessionTimeout 10m\n  \
         <RequireAll>\n    Require valid-user\n    Require not user mallory\n  </RequireAll>\n\
         </Location>\n\
         <Location /idle2>\n  AuthType AuthRs\n  AuthName Example\n  AuthRsSessionTimeout 10m\n  \
         ErrorDocument 401 /errdoc/401.html\n  \
         <RequireAll>\n    Require valid-user\n    Require not user mallory\n  </RequireAll>\n\
         </Location>\n\
         <Location /errdoc>\n  AuthType AuthRs\n  AuthName Example\n  AuthRsSessionTimeout 10m\n  \
         Require valid-user\n</Location>\n",
    );
    for d in ["idle", "idle2", "errdoc"] {
        std::fs::create_dir_all(a.root.join("htdocs").join(d)).expect("mkdir");
        std::fs::write(a.root.join("htdocs").join(d).join("index.html"), "idle\n").expect("write");
    }
    std::fs::write(a.root.join("htdocs/errdoc/401.html"), "refused page\n").expect("write");
    let mallory = mint("mallory", AuthMethod::Password, now() - 480, 3600);
    let r = get(&a, "/idle2/").cookie(COOKIE, &mallory).send();
    assert_eq!(
        (r.status, r.body.as_str()),
        (401, "refused page\n"),
        "{r:?}\n{}",
        a.error_log()
    );
    assert_eq!(
        r.cookie(COOKIE),
        None,
        "the error page refreshed the ticket: {r:?}"
    );
    // The same error page asked for directly is a page like any other: refreshed.
    let r = get(&a, "/errdoc/401.html").cookie(COOKIE, &mallory).send();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.cookie(COOKIE).is_some(), "{r:?}");
    // Issued 8 minutes ago: past half of the 10-minute idle timeout.
    // (mod_authz_core answers 401 for a `Require not user` refusal.)
    for (user, status, refreshed) in [("mallory", 401, false), ("demo", 200, true)] {
        let t = mint(user, AuthMethod::Password, now() - 480, 3600);
        let r = get(&a, "/idle/").cookie(COOKIE, &t).send();
        assert_eq!(r.status, status, "{user}: {r:?}\n{}", a.error_log());
        assert_eq!(r.cookie(COOKIE).is_some(), refreshed, "{user}: {r:?}");
        if refreshed {
            assert!(r
                .headers
                .iter()
                .any(|(n, v)| n == "cache-control" && v.contains("private")));
        }
    }
}

/// A response that carries a refreshed ticket keeps shared caches off whatever the application
/// said: one `Cache-Control`, its directives but `public` and `s-maxage`, plus `private`, and no
/// CDN-only caching header (as the Envoy filter does).
#[test]
fn a_refreshed_ticket_overrides_the_applications_caching_headers() {
    // mod_headers edits the response in a content filter of its own, after the application; in
    // the section both the redirecting script and its target share (the redirect copies the
    // user and refreshes nothing itself).
    let a = start(
        "<Location /cgi-bin>\n  Header set Edge-Control cache-maxage=600\n  \
         Header always append Cache-Control s-maxage=60\n</Location>\n",
    );
    authrs_tests::apache::write_script(
        &a.root.join("cgi-bin/cached"),
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\nCache-Control: public, s-maxage=600, no-transform\\r\\n\
         CDN-Cache-Control: max-age=600\\r\\nSurrogate-Control: max-age=600\\r\\nX-Kept: 1\\r\\n\\r\\ncached\\n'\n",
    );
    // Reached through a CGI's local redirect (an internal redirect, which starts without the
    // first request's output filters but shares its Set-Cookie).
    authrs_tests::apache::write_script(
        &a.root.join("cgi-bin/to-cached"),
        "#!/bin/sh\nprintf 'Location: /cgi-bin/cached\\r\\n\\r\\n'\n",
    );
    let mut idle = Ticket::new("demo", AuthMethod::Password, now() - 500, 3600);
    idle.roles = None;
    idle.last_seen = now() - 400;
    let idle = ring().mint(&idle).expect("mint");
    for path in ["/cgi-bin/to-cached", "/cgi-bin/cached"] {
        let r = get(&a, path).cookie(COOKIE, &idle).send();
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, "cached\n"),
            "{path}: {r:?}"
        );
        assert!(
            r.cookie(COOKIE).is_some_and(|c| !c.is_empty()),
            "{path}: {r:?}"
        );
        assert_eq!(
            r.headers_named("set-cookie").len(),
            1,
            "refreshed once: {r:?}"
        );
        let cc = r.headers_named("cache-control");
        assert_eq!(cc.len(), 1, "{path}: {r:?}");
        assert!(
            cc[0].contains("private") && !cc[0].contains("public"),
            "{path}: {r:?}"
        );
        assert_eq!(r.header("cdn-cache-control"), None, "{path}: {r:?}");
        assert_eq!(r.header("edge-control"), None, "{path}: {r:?}");
        assert!(!cc[0].contains("s-maxage"), "{path}: {r:?}");
    }
    let r = get(&a, "/cgi-bin/cached").cookie(COOKIE, &idle).send();
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "cached\n"),
        "{r:?}\n{}",
        a.error_log()
    );
    assert!(
        r.cookie(COOKIE).is_some_and(|c| !c.is_empty()),
        "refreshed: {r:?}"
    );
    let cc: Vec<&str> = r.headers_named("cache-control");
    assert_eq!(cc.len(), 1, "{r:?}");
    let mut directives: Vec<&str> = cc[0].split(',').map(str::trim).collect();
    directives.sort_unstable();
    assert_eq!(directives, ["no-transform", "private"], "{r:?}");
    for gone in ["cdn-cache-control", "surrogate-control"] {
        assert!(!r.headers.iter().any(|(n, _)| n == gone), "{gone}: {r:?}");
    }
    assert!(r.headers.iter().any(|(n, _)| n == "x-kept"), "{r:?}");
    // Without a refresh the application's headers are its own.
    let r = get(&a, "/cgi-bin/cached")
        .cookie(COOKIE, &r.cookie(COOKIE).expect("fresh"))
        .send();
    assert_eq!(r.cookie(COOKIE), None, "{r:?}");
    assert!(
        r.headers
            .iter()
            .any(|(n, v)| n == "cache-control" && v.contains("public")),
        "{r:?}"
    );
    a.assert_clean_log(&[]);
}

/// A public page's subrequests (SSI includes here; a listing's entries alike) do not try a ticket
/// the page itself found no user for, once per subrequest: one attempt, however many includes.
#[test]
fn subrequests_do_not_recognize_again_what_the_page_could_not() {
    let a = start(
        "LoadModule include_module /usr/lib/apache2/modules/mod_include.so\n\
         AddOutputFilter INCLUDES .shtml\n\
         <Location /pub>\n  AuthName Example\n  AuthRsRecognizeUser On\n  Options +Includes\n</Location>\n",
    );
    std::fs::create_dir_all(a.root.join("htdocs/pub")).expect("mkdir");
    std::fs::write(a.root.join("htdocs/pub/part.html"), "part\n").expect("write");
    std::fs::write(
        a.root.join("htdocs/pub/page.shtml"),
        "<!--#include virtual=\"/pub/part.html\" -->".repeat(4),
    )
    .expect("write");
    let r = get(&a, "/pub/page.shtml").cookie(COOKIE, "garbage").send();
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "part\npart\npart\npart\n"),
        "{r:?}"
    );
    let tried = a.error_log().matches("AUTHRS0220").count();
    assert_eq!(tried, 1, "{}", a.error_log());
    // A ticket the page recognizes: the includes are the user's too (httpd copies the user).
    let t = mint("demo", AuthMethod::Password, now(), 3600);
    let r = get(&a, "/pub/page.shtml").cookie(COOKIE, &t).send();
    assert_eq!(r.status, 200, "{r:?}");
    a.assert_clean_log(&[]);
}

/// A public directory whose index is a protected page (mod_dir looks it up as a subrequest and
/// serves it by a fast redirect, which copies the environment but not the user): the page runs
/// with `REMOTE_USER` as if asked for directly.
#[test]
fn a_protected_directory_index_keeps_the_user() {
    let a = start("<Location /pubdir>\n  DirectoryIndex /app/cgi/echo\n</Location>\n");
    std::fs::create_dir_all(a.root.join("htdocs/pubdir")).expect("mkdir");
    let t = mint("demo", AuthMethod::Password, now() - 10, 3600);
    let r = get(&a, "/pubdir/").cookie(COOKIE, &t).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", a.error_log());
    assert_eq!(r.env("AUTHRS_USER"), Some("demo"), "{}", r.body);
    assert_eq!(r.env("REMOTE_USER"), Some("demo"), "{}", r.body);
    assert_eq!(r.env("AUTH_TYPE"), Some("AuthRs"), "{}", r.body);
    // Without a ticket the index is refused, as the page itself is.
    let r = get(&a, "/pubdir/")
        .header("Accept: application/json")
        .send();
    assert_ne!(r.status, 200, "{r:?}");
    assert!(!r.body.contains("REMOTE_USER"), "{r:?}");
}

/// The same through a public page the index's Require excludes mallory from: mod_dir's
/// subrequest recognizes her, httpd's authorization refuses her, and the request it is copied
/// into (fast redirect, notes included) must not get her back as its user.
#[test]
fn a_directory_index_never_brings_back_a_user_its_require_refused() {
    let a = start(
        "<Location /pubdir>\n  DirectoryIndex /cgi-bin/echo\n</Location>\n\
         <Location /cgi-bin/echo>\n  AuthType AuthRs\n  <RequireAll>\n    Require all granted\n    \
         Require not user mallory\n  </RequireAll>\n</Location>\n",
    );
    std::fs::create_dir_all(a.root.join("htdocs/pubdir")).expect("mkdir");
    let mallory = mint("mallory", AuthMethod::Password, now() - 10, 3600);
    let r = get(&a, "/pubdir/").cookie(COOKIE, &mallory).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", a.error_log());
    assert!(r.body.contains("SCRIPT_NAME=/cgi-bin/echo"), "{}", r.body);
    assert_eq!(r.env("REMOTE_USER"), None, "{}", r.body);
    assert_eq!(r.env("AUTHRS_USER"), None, "{}", r.body);
    assert!(a.error_log().contains("AUTHRS0227"), "{}", a.error_log());
    // Another user is recognized there as before.
    let demo = mint("demo", AuthMethod::Password, now() - 10, 3600);
    let r = get(&a, "/pubdir/").cookie(COOKIE, &demo).send();
    assert_eq!(r.env("REMOTE_USER"), Some("demo"), "{}", r.body);
}

/// The directory itself recognizes users (where mallory is welcome) and its index page excludes
/// her: httpd's fast redirect keeps the directory's user, so the last fixup asks the index's
/// Require again; mallory is served the page as anonymous, her ticket not refreshed there.
#[test]
fn a_directory_index_asks_its_own_require_about_the_directorys_user() {
    let a = start(
        "<Location /pubdir>\n  AuthName Example\n  AuthRsRecognizeUser On\n  \
         AuthRsSessionTimeout 10m\n  DirectoryIndex /cgi-bin/echo\n</Location>\n\
         <Location /cgi-bin/echo>\n  AuthType AuthRs\n  \
         RequestHeader set X-AuthRs-User \"%{AUTHRS_USER}e\" env=AUTHRS_USER\n  <RequireAll>\n    \
         Require all granted\n    Require not user mallory\n  </RequireAll>\n</Location>\n",
    );
    std::fs::create_dir_all(a.root.join("htdocs/pubdir")).expect("mkdir");
    // Issued 8 minutes ago: past half of the 10-minute idle timeout, so a recognized user's
    // ticket is refreshed.
    let mallory = mint("mallory", AuthMethod::Password, now() - 480, 3600);
    let r = get(&a, "/pubdir/").cookie(COOKIE, &mallory).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", a.error_log());
    assert!(r.body.contains("SCRIPT_NAME=/cgi-bin/echo"), "{}", r.body);
    assert_eq!(r.env("REMOTE_USER"), None, "{}", r.body);
    assert_eq!(r.env("AUTHRS_USER"), None, "{}", r.body);
    assert_eq!(
        r.cookie(COOKIE),
        None,
        "refused user's ticket refreshed: {r:?}"
    );
    // mod_headers (a later fixup) copies no refused user into the application's headers.
    assert_eq!(r.env("HTTP_X_AUTHRS_USER"), None, "{}", r.body);
    assert!(a.error_log().contains("AUTHRS0227"), "{}", a.error_log());
    a.assert_clean_log(&[]);
    let demo = mint("demo", AuthMethod::Password, now() - 480, 3600);
    let r = get(&a, "/pubdir/").cookie(COOKIE, &demo).send();
    assert_eq!(r.env("REMOTE_USER"), Some("demo"), "{}", r.body);
    assert_eq!(r.env("AUTHRS_USER"), Some("demo"), "{}", r.body);
    assert!(r.cookie(COOKIE).is_some(), "demo's ticket refreshed: {r:?}");
    assert_eq!(r.env("HTTP_X_AUTHRS_USER"), Some("demo"), "{}", r.body);
}

/// A CGI's local redirect to another page of the same section (an internal redirect: httpd
/// copies the user and skips authentication): the page it lands on sees the whole identity,
/// not `REMOTE_USER` alone with the `AUTHRS_*` variables renamed `REDIRECT_AUTHRS_*`.
#[test]
fn an_internal_redirect_in_the_same_section_keeps_the_identity() {
    let a = start("");
    authrs_tests::apache::write_script(
        &a.root.join("cgi-bin/to-echo"),
        "#!/bin/sh\nprintf 'Location: /app/cgi/echo\\r\\n\\r\\n'\n",
    );
    let t = mint("demo", AuthMethod::Password, now() - 10, 3600);
    let r = get(&a, "/app/cgi/to-echo").cookie(COOKIE, &t).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", a.error_log());
    assert_eq!(r.env("REMOTE_USER"), Some("demo"), "{}", r.body);
    assert_eq!(r.env("AUTHRS_USER"), Some("demo"), "{}", r.body);
    assert_eq!(r.env("AUTHRS_METHOD"), Some("password"), "{}", r.body);
    assert_eq!(r.env("AUTHRS_ROLES"), Some("admin:projectX"), "{}", r.body);
    // Anonymous, the redirect target is refused as ever.
    assert_ne!(get(&a, "/app/cgi/to-echo").send().status, 200);
}

/// A client that sends `X-AuthRs-User` with every request cannot fill httpd's error log: the
/// warning is logged at most once a second per process (these tests run one event-MPM child),
/// each line saying how many were left out before it; every request is still cleaned.
#[test]
fn spoofing_warnings_are_logged_at_most_once_a_second() {
    let a = start("");
    let send = || {
        let r = get(&a, "/cgi-bin/echo")
            .header("X-AuthRs-User: admin")
            .send();
        assert_eq!(r.status, 200, "{r:?}");
        assert!(!r.body.contains("=admin"), "{}", r.body);
    };
    for _ in 0..20 {
        send();
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    send();
    authrs_tests::assert_rate_limited(
        &a.error_log(),
        "AUTHRS0204: removed request headers",
        "AUTHRS0204",
        21,
    );
}

#[test]
fn a_flooding_client_does_not_hide_another_clients_spoofing_attempt() {
    // The limit is one line a second per client: 127.0.0.1's second attempt in a second is left
    // out, 127.0.0.2's first in the same second is logged (fail2ban must see both addresses).
    // One limiter per process: the test server runs one child (ServerLimit 1).
    let a = start("");
    let (lines, log) = authrs_tests::spoof_from_two_clients(
        |from, header| {
            let r = get(&a, "/cgi-bin/echo")
                .from_address(from)
                .header(header)
                .send();
            assert_eq!(r.status, 200, "{r:?}");
            assert!(!r.body.contains("=admin"), "{}", r.body);
        },
        || a.error_log(),
    );
    assert_eq!(lines.len(), 2, "{log}");
    assert!(
        lines[0].contains("[client 127.0.0.1:") && lines[0].contains("x-authrs-user"),
        "{log}"
    );
    assert!(
        lines[1].contains("[client 127.0.0.2:") && lines[1].contains("x-authrs-roles"),
        "{log}"
    );
}
