//! One scenario table, run against both shells: mod_authrs in httpd and the wasm filter in Envoy.
//!
//! Both serve the same site (same key, users, roles, CRL and rules, written once in each
//! shell's own configuration language below); every scenario must give the same status,
//! reason and user in both. `tests/tests/scenarios_apache.rs` and `scenarios_envoy.rs` run it.

use crate::apache::Apache;
use crate::curl::{Request, Response};
use crate::envoy::{Envoy, EnvoyOptions};
use authrs_core::identity::AuthMethod;
use authrs_core::ticket::{KeyRing, Ticket, TicketKey};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The ticket key both shells share (base64 of 32 bytes).
pub const KEY_B64: &str = "dGVzdC1rZXktZm9yLW1vZF9hdXRocnMtdGVzdHMtMzI=";
/// A key neither shell knows.
pub const OTHER_KEY_B64: &str = "b3RoZXIta2V5LW5vYm9keS1rbm93cy0zMi1ieXRlcyE=";
/// The cookie name both derive from `AuthName Example` / `"auth_name": "Example"`.
pub const COOKIE: &str = "AuthRs_Example";
/// alice's subject as both TLS stacks render it (ASCII, so mod_ssl and Envoy agree).
pub const ALICE_DN: &str = "CN=alice,OU=Admins,O=authrs demo,C=XX";
const ROLES: &str = "demo admin:projectX\nalice reader\n";

/// A shell under test.
pub trait Shell {
    /// `apache` or `envoy`.
    fn name(&self) -> &'static str;
    /// `https://127.0.0.1:<port><path>`.
    fn url(&self, path: &str) -> String;
    /// The demo certificates (CA, clients).
    fn certs(&self) -> &Path;
    /// Logs, for failure messages.
    fn logs(&self) -> String;
}

impl Shell for Apache {
    fn name(&self) -> &'static str {
        "apache"
    }
    fn url(&self, path: &str) -> String {
        Apache::url(self, path)
    }
    fn certs(&self) -> &Path {
        &self.certs
    }
    fn logs(&self) -> String {
        self.error_log()
    }
}

impl Shell for Envoy {
    fn name(&self) -> &'static str {
        "envoy"
    }
    fn url(&self, path: &str) -> String {
        Envoy::url(self, path)
    }
    fn certs(&self) -> &Path {
        &self.certs
    }
    fn logs(&self) -> String {
        self.log()
    }
}

/// Files both sites are built from.
pub struct SiteFiles {
    /// Where they are.
    pub root: PathBuf,
    /// The demo certificates.
    pub certs: PathBuf,
}

/// Writes the key, htpasswd (demo/demo) and roles, and makes the demo certificates.
pub fn site_files(tag: &str) -> SiteFiles {
    let root = crate::scratch(tag);
    let certs = root.join("certs");
    crate::demo_certs(&certs);
    std::fs::write(root.join("ticket.key"), format!("{KEY_B64}\n")).expect("key");
    std::fs::write(root.join("htpasswd"), format!("demo:{}\n", demo_hash())).expect("htpasswd");
    std::fs::write(root.join("roles"), ROLES).expect("roles");
    SiteFiles { root, certs }
}

fn demo_hash() -> String {
    authrs_core::password::hash_bcrypt("demo", 5, [7u8; 16]).expect("hash")
}

/// The site as httpd configuration: (server-level, vhost-level).
pub fn apache_site(f: &SiteFiles) -> (String, String) {
    let root = f.root.display();
    let certs = f.certs.display();
    // Every area has the CGI echo under <area>/cgi/, as the Envoy upstream echoes every path.
    let global = format!(
        "AuthRsTicketKeyFile \"{root}/ticket.key\"\n\
         ScriptAliasMatch \"^/app/(certonly|ticketfirst|admin|strong|alice-dn|bound|strict|recent)/cgi/(.*)\" \"{root}/cgi-bin/$2\"\n"
    );
    let site = format!(
        r#"
<Location /app>
  AuthType AuthRs
  AuthName Example
  AuthRsLoginURL /login.html
  AuthRsRolesFile "{root}/roles"
  AuthRsCRLFile "{certs}/ca.crl"
  # An authenticated user the rules refuse gets 403 (httpd's default is 401, for Basic auth).
  AuthzSendForbiddenOnFailure On
  Require valid-user
</Location>
<Location /app/certonly>
  AuthRsMethods cert
</Location>
<Location /app/ticketfirst>
  AuthRsMethods ticket cert
</Location>
<Location /app/admin>
  Require role admin projectX
</Location>
<Location /app/strong>
  Require authn-method cert
</Location>
<Location /app/alice-dn>
  <RequireAny>
    Require cert-dn "{ALICE_DN}"
    Require user nobody
  </RequireAny>
</Location>
<Location /app/bound>
  AuthRsBindAddress On
</Location>
<Location /app/strict>
  AuthRsAcceptUnboundTickets Off
</Location>
<Location /app/recent>
  AuthRsMaxTicketAge 15m
</Location>
<Location /cgi-bin>
  AuthName Example
  AuthRsRecognizeUser On
  AuthRsRolesFile "{root}/roles"
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
  AuthRsRevokeOnLogout On
</Location>
"#
    );
    (global, site)
}

/// The same site as the filter's JSON configuration.
pub fn envoy_site(f: &SiteFiles) -> String {
    let crl = std::fs::read_to_string(f.certs.join("ca.crl")).expect("CRL");
    serde_json::json!({
        "auth_name": "Example",
        "ticket_keys": [KEY_B64],
        "login_url": "/login.html",
        "login_path": "/LOGIN",
        "logout_path": "/LOGOUT",
        "revoke_on_logout": true,
        "users": format!("demo:{}", demo_hash()),
        "roles": ROLES,
        "crls": crl,
        "locations": [
            {"prefix": "/app/certonly", "methods": ["cert"], "require": {"valid_user": true}},
            {"prefix": "/app/ticketfirst", "methods": ["ticket", "cert"], "require": {"valid_user": true}},
            {"prefix": "/app/admin", "require": {"role": ["admin", "projectX"]}},
            {"prefix": "/app/strong", "require": {"authn_method": "cert"}},
            {"prefix": "/app/alice-dn", "require": {"any": [{"cert_dn": ALICE_DN}, {"user": ["nobody"]}]}},
            {"prefix": "/app/bound", "bind_address": true, "require": {"valid_user": true}},
            {"prefix": "/app/strict", "accept_unbound_tickets": false, "require": {"valid_user": true}},
            {"prefix": "/app/recent", "max_ticket_age": "15m", "require": {"valid_user": true}},
            {"prefix": "/app", "require": {"valid_user": true}},
            {"prefix": "/cgi-bin", "recognize_user": true, "require": {"all_granted": true}}
        ]
    })
    .to_string()
}

/// Starts httpd with the scenario site.
pub fn start_apache(f: &SiteFiles) -> Apache {
    let (global, site) = apache_site(f);
    Apache::start_in(f.root.clone(), f.certs.clone(), &global, &site)
}

/// Starts Envoy with the scenario site.
pub fn start_envoy(f: &SiteFiles) -> Envoy {
    Envoy::start(&f.certs, &EnvoyOptions::new(envoy_site(f)))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn ticket_with(
    key: &str,
    user: &str,
    method: AuthMethod,
    issued: i64,
    address: Option<IpAddr>,
) -> String {
    let ring = key_ring(key);
    let mut t = Ticket::new(user, method, issued, 3600);
    t.roles = None;
    t.address = address;
    // Bound to the site's cookie, as the shells' logins mint them.
    ring.mint_for(&t, COOKIE).expect("mint")
}

fn key_ring(key: &str) -> KeyRing {
    KeyRing::new(vec![TicketKey::from_base64(key).expect("key")]).expect("ring")
}

/// A valid unbound (version 1) password ticket for `user`, as earlier builds minted.
fn unbound_ticket(user: &str) -> String {
    key_ring(KEY_B64)
        .mint(&Ticket::new(user, AuthMethod::Password, now() - 10, 3600))
        .expect("mint")
}

/// A valid password ticket for `user`.
pub fn ticket(user: &str) -> String {
    ticket_with(KEY_B64, user, AuthMethod::Password, now() - 10, None)
}

/// What a scenario observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// HTTP status.
    pub status: u16,
    /// The reason code: `X-AuthRs-Reason`, else the `reason` of a redirect's Location (a 403
    /// from httpd's own `Require` says `forbidden`, as the Envoy filter does).
    pub reason: Option<String>,
    /// The user the application saw (AUTHRS_USER), on 200 answers from the echo.
    pub user: Option<String>,
}

impl Outcome {
    /// Reads status, reason and user from a response.
    pub fn of(r: &Response) -> Outcome {
        let reason = r.header("x-authrs-reason").map(str::to_string).or_else(|| {
            let loc = r.header("location")?;
            let query = loc.split_once('?')?.1;
            url_param(query, "reason")
        });
        Outcome {
            status: r.status,
            reason,
            user: r.env("AUTHRS_USER").map(str::to_string),
        }
    }
}

fn url_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// Expected: status, reason, user.
pub type Expect = (u16, Option<&'static str>, Option<&'static str>);

/// One row: a name, what to do, what must come out.
pub struct Scenario {
    /// Unique name.
    pub name: &'static str,
    /// Runs it against a shell (may make several requests; asserts on intermediate steps).
    pub run: fn(&dyn Shell) -> Outcome,
    /// The final outcome.
    pub expect: Expect,
}

fn get(s: &dyn Shell, path: &str) -> Request {
    Request::get(s.url(path)).ca(&s.certs().join("ca.crt"))
}

fn send(req: Request) -> Outcome {
    Outcome::of(&req.send())
}

fn login(s: &dyn Shell, body: &str) -> Response {
    Request::post_form(s.url("/LOGIN"), body.to_string())
        .ca(&s.certs().join("ca.crt"))
        .send()
}

/// The table.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "no credentials: a browser is sent to the login page",
        run: |s| {
            let r = get(s, "/app/cgi/echo?x=1").send();
            let loc = r.header("location").unwrap_or_default();
            assert!(loc.starts_with("/login.html?"), "{loc}");
            assert!(
                loc.contains("destination=%2Fapp%2Fcgi%2Fecho%3Fx%3D1"),
                "{loc}"
            );
            Outcome::of(&r)
        },
        expect: (302, Some("no_cookie"), None),
    },
    Scenario {
        name: "no credentials: an API client gets 401",
        run: |s| {
            let r = get(s, "/app/cgi/echo")
                .header("Accept: application/json")
                .send();
            assert!(
                r.header("www-authenticate")
                    .is_some_and(|v| v.starts_with("AuthRs realm=\"Example\"")),
                "{r:?}"
            );
            Outcome::of(&r)
        },
        expect: (401, Some("no_cookie"), None),
    },
    Scenario {
        name: "valid password ticket: the application sees the user and the roles",
        run: |s| {
            let r = get(s, "/app/cgi/echo")
                .cookie(COOKIE, &ticket("demo"))
                .send();
            assert_eq!(r.env("AUTHRS_METHOD"), Some("password"), "{r:?}");
            assert_eq!(r.env("AUTHRS_ROLES"), Some("admin:projectX"), "{r:?}");
            assert_eq!(r.env("REMOTE_USER"), Some("demo"), "{r:?}");
            assert_eq!(r.env("AUTH_TYPE"), Some("AuthRs"), "{r:?}");
            Outcome::of(&r)
        },
        expect: (200, None, Some("demo")),
    },
    Scenario {
        name: "tampered ticket",
        run: |s| {
            let mut t = ticket("demo").into_bytes();
            let i = t.len() - 2;
            t[i] = if t[i] == b'A' { b'B' } else { b'A' };
            let r = get(s, "/app/cgi/echo")
                .cookie(COOKIE, std::str::from_utf8(&t).unwrap_or(""))
                .send();
            assert_eq!(
                r.cookie(COOKIE).as_deref(),
                Some(""),
                "the bad cookie is cleared: {r:?}"
            );
            Outcome::of(&r)
        },
        expect: (302, Some("bad_cookie"), None),
    },
    Scenario {
        name: "ticket signed with an unknown key",
        run: |s| {
            let t = ticket_with(
                OTHER_KEY_B64,
                "demo",
                AuthMethod::Password,
                now() - 10,
                None,
            );
            send(get(s, "/app/cgi/echo").cookie(COOKIE, &t))
        },
        expect: (302, Some("bad_cookie"), None),
    },
    Scenario {
        name: "expired ticket",
        run: |s| {
            let t = ticket_with(KEY_B64, "demo", AuthMethod::Password, now() - 7200, None);
            send(get(s, "/app/cgi/echo").cookie(COOKIE, &t))
        },
        expect: (302, Some("expired"), None),
    },
    Scenario {
        name: "unbound (version 1) ticket of an earlier build: accepted",
        run: |s| {
            let t = unbound_ticket("demo");
            send(get(s, "/app/cgi/echo").cookie(COOKIE, &t))
        },
        expect: (200, None, Some("demo")),
    },
    Scenario {
        name: "unbound ticket where AuthRsAcceptUnboundTickets is Off: refused, kept",
        run: |s| {
            let t = unbound_ticket("demo");
            let r = get(s, "/app/strict/cgi/echo").cookie(COOKIE, &t).send();
            assert_eq!(r.cookie(COOKIE), None, "{r:?}");
            // A bound one is fine there.
            let bound = get(s, "/app/strict/cgi/echo")
                .cookie(COOKIE, &ticket("demo"))
                .send();
            assert_eq!(bound.status, 200, "{bound:?}");
            Outcome::of(&r)
        },
        expect: (302, Some("bad_cookie"), None),
    },
    Scenario {
        name: "ticket older than the location's AuthRsMaxTicketAge: expired there, kept, good elsewhere",
        run: |s| {
            let older = ticket_with(KEY_B64, "demo", AuthMethod::Password, now() - 1200, None);
            let r = get(s, "/app/recent/cgi/echo").cookie(COOKIE, &older).send();
            assert_eq!(r.cookie(COOKIE), None, "kept: {r:?}");
            let elsewhere = get(s, "/app/cgi/echo").cookie(COOKIE, &older).send();
            assert_eq!(elsewhere.status, 200, "{elsewhere:?}");
            let recent = ticket_with(KEY_B64, "demo", AuthMethod::Password, now() - 600, None);
            let fine = get(s, "/app/recent/cgi/echo")
                .cookie(COOKIE, &recent)
                .send();
            assert_eq!(fine.status, 200, "{fine:?}");
            Outcome::of(&r)
        },
        expect: (302, Some("expired"), None),
    },
    Scenario {
        name: "ticket of another realm's cookie (same key) renamed into ours: refused, cleared",
        run: |s| {
            let t = Ticket::new("demo", AuthMethod::Password, now() - 10, 3600);
            let other = key_ring(KEY_B64)
                .mint_for(&t, "AuthRs_Guests")
                .expect("mint");
            let r = get(s, "/app/cgi/echo").cookie(COOKIE, &other).send();
            assert_eq!(r.cookie(COOKIE).as_deref(), Some(""), "{r:?}");
            Outcome::of(&r)
        },
        expect: (302, Some("bad_cookie"), None),
    },
    Scenario {
        name: "ticket from a server whose clock is 5 minutes ahead: refused, not cleared",
        run: |s| {
            let t = ticket_with(KEY_B64, "demo", AuthMethod::Password, now() + 300, None);
            let r = get(s, "/app/cgi/echo").cookie(COOKIE, &t).send();
            // Good on the server that issued it: clearing it here would log the user out there.
            assert_eq!(r.cookie(COOKIE), None, "{r:?}");
            Outcome::of(&r)
        },
        expect: (302, Some("bad_cookie"), None),
    },
    Scenario {
        name: "forged ticket: refused and cleared",
        run: |s| {
            // A valid ticket with one character of its tag changed.
            let mut forged = ticket("demo");
            let i = forged.len() - 10;
            let other = if &forged[i..=i] == "A" { "B" } else { "A" };
            forged.replace_range(i..=i, other);
            let r = get(s, "/app/cgi/echo").cookie(COOKIE, &forged).send();
            assert_eq!(r.cookie(COOKIE).as_deref(), Some(""), "{r:?}");
            Outcome::of(&r)
        },
        expect: (302, Some("bad_cookie"), None),
    },
    Scenario {
        name: "ticket bound to another address",
        run: |s| {
            let t = ticket_with(
                KEY_B64,
                "demo",
                AuthMethod::Password,
                now() - 10,
                "10.9.9.9".parse().ok(),
            );
            send(get(s, "/app/bound/cgi/echo").cookie(COOKIE, &t))
        },
        expect: (302, Some("bad_cookie"), None),
    },
    Scenario {
        name: "ticket bound to this address",
        run: |s| {
            let t = ticket_with(
                KEY_B64,
                "demo",
                AuthMethod::Password,
                now() - 10,
                "127.0.0.1".parse().ok(),
            );
            send(get(s, "/app/bound/cgi/echo").cookie(COOKIE, &t))
        },
        expect: (200, None, Some("demo")),
    },
    Scenario {
        name: "login form: good password, cookie, then access",
        run: |s| {
            let r = login(
                s,
                "credential_0=demo&credential_1=demo&destination=%2Fapp%2Fcgi%2Fecho",
            );
            assert_eq!(r.status, 303, "{r:?}");
            assert_eq!(r.header("location"), Some("/app/cgi/echo"));
            let cookie = r.cookie(COOKIE).expect("ticket cookie");
            send(get(s, "/app/cgi/echo").cookie(COOKIE, &cookie))
        },
        expect: (200, None, Some("demo")),
    },
    Scenario {
        name: "login form: wrong password goes back to the login page",
        run: |s| {
            let r = login(
                s,
                "credential_0=demo&credential_1=nope&destination=%2Fapp%2F",
            );
            assert!(
                r.header("location")
                    .is_some_and(|l| l.starts_with("/login.html?")),
                "{r:?}"
            );
            assert!(r.cookie(COOKIE).is_none(), "{r:?}");
            Outcome::of(&r)
        },
        expect: (303, Some("bad_credentials"), None),
    },
    Scenario {
        name: "login form: an off-site destination is replaced by the default",
        run: |s| {
            let r = login(
                s,
                "credential_0=demo&credential_1=demo&destination=%2F%2Fevil.example%2Fx",
            );
            assert_eq!(r.header("location"), Some("/"), "{r:?}");
            Outcome::of(&r)
        },
        expect: (303, None, None),
    },
    Scenario {
        name: "login form: a cross-site post is refused (login CSRF)",
        run: |s| {
            send(
                Request::post_form(s.url("/LOGIN"), "credential_0=demo&credential_1=demo")
                    .ca(&s.certs().join("ca.crt"))
                    .header("Origin: https://evil.example"),
            )
        },
        expect: (403, Some("forbidden"), None),
    },
    Scenario {
        name: "client certificate maps to its CN, DN as the TLS stack renders it",
        run: |s| {
            let r = get(s, "/app/cgi/echo")
                .client_cert(s.certs(), "alice")
                .send();
            assert_eq!(r.env("AUTHRS_METHOD"), Some("cert"), "{r:?}");
            assert_eq!(r.env("AUTHRS_DN"), Some(ALICE_DN), "{r:?}");
            Outcome::of(&r)
        },
        expect: (200, None, Some("alice")),
    },
    Scenario {
        name: "client certificate with a UTF-8 DN",
        run: |s| send(get(s, "/app/cgi/echo").client_cert(s.certs(), "zoe")),
        expect: (200, None, Some("zoë")),
    },
    Scenario {
        name: "revoked client certificate (CRL by issuer and serial)",
        run: |s| send(get(s, "/app/cgi/echo").client_cert(s.certs(), "revoked")),
        expect: (302, Some("revoked_cert"), None),
    },
    Scenario {
        name: "revoked certificate does not fall through to a valid ticket",
        run: |s| {
            send(
                get(s, "/app/cgi/echo")
                    .client_cert(s.certs(), "revoked")
                    .cookie(COOKIE, &ticket("demo")),
            )
        },
        expect: (302, Some("revoked_cert"), None),
    },
    Scenario {
        name: "certificate-only area without a certificate",
        run: |s| send(get(s, "/app/certonly/cgi/echo").cookie(COOKIE, &ticket("demo"))),
        expect: (302, Some("no_cert"), None),
    },
    Scenario {
        name: "certificate-only area with a certificate",
        run: |s| send(get(s, "/app/certonly/cgi/echo").client_cert(s.certs(), "alice")),
        expect: (200, None, Some("alice")),
    },
    Scenario {
        name: "Require role admin projectX: granted",
        run: |s| send(get(s, "/app/admin/cgi/echo").cookie(COOKIE, &ticket("demo"))),
        expect: (200, None, Some("demo")),
    },
    Scenario {
        name: "Require role admin projectX: refused",
        run: |s| send(get(s, "/app/admin/cgi/echo").cookie(COOKIE, &ticket("alice"))),
        expect: (403, Some("forbidden"), None),
    },
    Scenario {
        name: "Require authn-method cert refuses a password ticket",
        run: |s| send(get(s, "/app/strong/cgi/echo").cookie(COOKIE, &ticket("alice"))),
        expect: (403, Some("forbidden"), None),
    },
    Scenario {
        name: "Require authn-method cert with a certificate",
        run: |s| send(get(s, "/app/strong/cgi/echo").client_cert(s.certs(), "alice")),
        expect: (200, None, Some("alice")),
    },
    Scenario {
        name: "Require cert-dn: the right DN",
        run: |s| send(get(s, "/app/alice-dn/cgi/echo").client_cert(s.certs(), "alice")),
        expect: (200, None, Some("alice")),
    },
    Scenario {
        name: "Require cert-dn: another DN",
        run: |s| send(get(s, "/app/alice-dn/cgi/echo").client_cert(s.certs(), "demo")),
        expect: (403, Some("forbidden"), None),
    },
    Scenario {
        name: "spoofed certificate headers from an untrusted peer do not log anyone in",
        run: |s| {
            send(
                get(s, "/app/cgi/echo")
                    .header(format!("SSL_CLIENT_S_DN: {ALICE_DN}"))
                    .header("SSL-Client-Verify: SUCCESS")
                    .header("X-Forwarded-Client-Cert: Hash=00;Subject=\"CN=alice\""),
            )
        },
        expect: (302, Some("no_cookie"), None),
    },
    Scenario {
        name: "spoofed certificate and identity headers never reach the application",
        run: |s| {
            let r = get(s, "/cgi-bin/echo")
                .header(format!("SSL_CLIENT_S_DN: {ALICE_DN}"))
                .header("SSL-Client-Cert: junk")
                .header("X-Forwarded-Client-Cert: Hash=00;Subject=\"CN=alice\"")
                .header("X-AuthRs-User: alice")
                .header("SSL-Client-S-DN-CN: alice")
                .header("SSL_CLIENT_M_SERIAL: 01")
                .send();
            for leaked in [
                "HTTP_SSL_CLIENT_S_DN",
                "HTTP_SSL_CLIENT_CERT",
                "HTTP_X_FORWARDED_CLIENT_CERT",
                "HTTP_X_AUTHRS_USER",
                "HTTP_SSL_CLIENT_S_DN_CN",
                "HTTP_SSL_CLIENT_M_SERIAL",
            ] {
                assert!(
                    r.env(leaked).is_none(),
                    "{leaked} reached the application: {}",
                    r.body
                );
            }
            Outcome::of(&r)
        },
        expect: (200, None, None),
    },
    Scenario {
        name: "spoofed certificate headers never reach the application when a ticket decides",
        run: |s| {
            // The ticket is tried first and succeeds: the certificate method never runs, and
            // the headers must still be removed, not passed on with the logged-in request.
            let r = get(s, "/app/ticketfirst/cgi/echo")
                .cookie(COOKIE, &ticket("demo"))
                .header(format!("SSL_CLIENT_S_DN: {ALICE_DN}"))
                .header("SSL-Client-Verify: SUCCESS")
                .header("X-Forwarded-Client-Cert: Hash=00;Subject=\"CN=alice\"")
                .send();
            for leaked in [
                "HTTP_SSL_CLIENT_S_DN",
                "HTTP_SSL_CLIENT_VERIFY",
                "HTTP_X_FORWARDED_CLIENT_CERT",
            ] {
                assert!(
                    r.env(leaked).is_none(),
                    "{leaked} reached the application: {}",
                    r.body
                );
            }
            Outcome::of(&r)
        },
        expect: (200, None, Some("demo")),
    },
    Scenario {
        name: "public path recognizes a ticket holder",
        run: |s| send(get(s, "/cgi-bin/echo").cookie(COOKIE, &ticket("demo"))),
        expect: (200, None, Some("demo")),
    },
    Scenario {
        name: "logout clears the cookie and revokes the ticket server-side",
        run: |s| {
            let r = login(
                s,
                "credential_0=demo&credential_1=demo&destination=%2Fapp%2F",
            );
            let cookie = r.cookie(COOKIE).expect("ticket cookie");
            let before = send(get(s, "/app/cgi/echo").cookie(COOKIE, &cookie));
            assert_eq!(before.user.as_deref(), Some("demo"));
            let out = get(s, "/LOGOUT").cookie(COOKIE, &cookie).send();
            assert_eq!(out.status, 303, "{out:?}");
            assert_eq!(out.cookie(COOKIE).as_deref(), Some(""), "{out:?}");
            // The copied cookie no longer works.
            send(get(s, "/app/cgi/echo").cookie(COOKIE, &cookie))
        },
        expect: (302, Some("bad_cookie"), None),
    },
];

/// Runs every scenario against `shell`; panics with every mismatch listed.
pub fn run_all(shell: &dyn Shell) {
    let mut failures = Vec::new();
    for sc in SCENARIOS {
        let got = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (sc.run)(shell))) {
            Ok(o) => o,
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{}: step failed: {msg}", sc.name));
                continue;
            }
        };
        let (status, reason, user) = sc.expect;
        let want = Outcome {
            status,
            reason: reason.map(str::to_string),
            user: user.map(str::to_string),
        };
        if got != want {
            failures.push(format!("{}: expected {want:?}, got {got:?}", sc.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed in {}:\n{}\n--- logs ---\n{}",
        failures.len(),
        SCENARIOS.len(),
        shell.name(),
        failures.join("\n"),
        shell.logs()
    );
}
