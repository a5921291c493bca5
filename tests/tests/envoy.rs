//! Envoy-only cases of the wasm filter (the cases both shells share are in scenarios_envoy.rs):
//! the sample bootstrap, plugin-start validation, XFCC cross-checks, ACCEPT_UNTRUSTED,
//! the password service, metrics, a panic under FAIL_RELOAD, and tickets across shells.

use authrs_core::cert::enrolled::EnrolledCerts;
use authrs_core::cert::Certificate;
use authrs_tests::curl::Request;
use authrs_tests::envoy::{panic_wasm_path, validate, wasm_path, ClientCerts, Envoy, EnvoyOptions};
use authrs_tests::scenarios::{self, envoy_site, site_files, ticket, ALICE_DN, COOKIE, KEY_B64};
use authrs_tests::{demo_certs, scratch, self_signed, workspace};
use serde_json::{json, Value};
use std::path::Path;

#[allow(dead_code)] // only `openssl` is used here; TempDir serves the certificate tests
mod cert_support;
use cert_support::openssl;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn certs() -> std::path::PathBuf {
    let c = scratch("envoy-certs");
    demo_certs(&c);
    c
}

/// The scenario site's JSON with `changes` applied at the top level.
fn site_with(f: &scenarios::SiteFiles, changes: Value) -> String {
    let mut v: Value = serde_json::from_str(&envoy_site(f)).expect("json");
    if let (Value::Object(o), Value::Object(c)) = (&mut v, changes) {
        o.extend(c);
    }
    v.to_string()
}

fn pem_url(path: &Path) -> String {
    let pem = std::fs::read_to_string(path).expect("pem");
    url::form_urlencoded::byte_serialize(pem.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn sha256_hex(path: &Path) -> String {
    let c = Certificate::parse(&std::fs::read(path).expect("cert")).expect("parse");
    c.sha256.replace(':', "").to_ascii_lowercase()
}

#[test]
fn the_sample_bootstrap_validates() {
    let c = certs();
    let crl = std::fs::read_to_string(c.join("ca.crl")).expect("crl");
    let crl_json = serde_json::to_string(&crl).expect("json");
    let hash = authrs_core::password::hash_bcrypt("demo", 5, [1u8; 16]).expect("hash");
    let sample =
        std::fs::read_to_string(workspace().join("conf/envoy/envoy.yaml")).expect("sample");
    let rendered = sample
        .replace("@ETC@", &c.display().to_string())
        .replace("@WASM@", &wasm_path().display().to_string())
        .replace("@TICKET_KEY@", KEY_B64)
        .replace("@USERS@", &format!("demo:{hash}"))
        .replace("\"@CRL@\"", &crl_json)
        .replace("@PORT@", "18443")
        .replace("@ADMIN_PORT@", "19901")
        .replace("@BACKEND_PORT@", "18080")
        .replace("@OPENID_SECRET@", "a demo consumer secret")
        .replace("@OP_PORT@", "18090");
    // Every `@NAME@` placeholder is replaced (`"@type"` is protobuf's, not ours).
    let config: String = rendered
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let left: Vec<&str> = config
        .split('@')
        .skip(1)
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
        .collect();
    assert!(left.is_empty(), "placeholders left: {left:?}");
    let (ok, out) = validate(&rendered);
    assert!(ok, "sample does not validate:\n{out}");
    // And the filter really read it: a broken key fails plugin start, so validation fails.
    let (ok, out) = validate(&rendered.replace(KEY_B64, "not-a-key"));
    assert!(!ok, "a bad ticket key validated:\n{out}");
    assert!(out.contains("ticket_keys"), "{out}");
}

#[test]
fn bad_configurations_fail_plugin_start_naming_the_key() {
    let c = certs();
    for (json, needle) in [
        (
            json!({"ticket_keys": [KEY_B64], "cooky_name": "x"}),
            "cooky_name",
        ),
        (
            json!({"ticket_keys": [KEY_B64], "session_timeout": "soon"}),
            "session_timeout",
        ),
        (
            json!({"ticket_keys": [KEY_B64], "locations": [{"prefix": "/a"}]}),
            "require",
        ),
        (
            json!({"ticket_keys": [KEY_B64], "locations": [{"prefix": "/a", "require": {"role": []}}]}),
            "locations[0].require",
        ),
        (
            json!({"ticket_keys": [KEY_B64], "unauth_action": "teapot"}),
            "unauth_action",
        ),
        (
            json!({"crls": "-----BEGIN X509 CRL-----\nnope\n-----END X509 CRL-----\n"}),
            "crls",
        ),
        // Wrong JSON types (a list option takes an array of strings, or one string).
        (
            json!({"ticket_keys": [KEY_B64], "methods": 5}),
            "methods: wrong type",
        ),
        (
            json!({"ticket_keys": [KEY_B64], "methods": ["cert", 1]}),
            "methods: wrong type",
        ),
        (
            json!({"ticket_keys": [KEY_B64], "bind_address": "yes"}),
            "bind_address: wrong type",
        ),
        (
            json!({"ticket_keys": [KEY_B64], "cookie_name": 5}),
            "cookie_name: wrong type",
        ),
        (
            json!({"ticket_keys": [KEY_B64], "session_timeout": true}),
            "session_timeout: wrong type",
        ),
        (
            json!({"ticket_keys": [KEY_B64], "locations": [{"prefix": "/a", "methods": true, "require": {"valid_user": true}}]}),
            "locations[0].methods\": wrong type",
        ),
        (
            json!({"ticket_keys": [KEY_B64], "locations": [{"prefix": "/a", "bind_address": "yes", "require": {"valid_user": true}}]}),
            "locations[0].bind_address\": wrong type",
        ),
        (
            json!({"ticket_keys": [KEY_B64], "locations": {"prefix": "/a"}}),
            "locations: wrong type",
        ),
    ] {
        let yaml = authrs_tests::envoy::bootstrap(
            &c,
            18443,
            19901,
            18080,
            &EnvoyOptions::new(json.to_string()),
        );
        let (ok, out) = validate(&yaml);
        assert!(!ok, "{json} validated:\n{out}");
        assert!(out.contains(needle), "{json}: no {needle:?} in:\n{out}");
        assert!(out.contains("AUTHRS0002"), "{out}");
    }
    // Not JSON at all.
    let yaml = authrs_tests::envoy::bootstrap(&c, 18443, 19901, 18080, &EnvoyOptions::new("{"));
    let (ok, out) = validate(&yaml);
    assert!(!ok && out.contains("not valid JSON"), "{out}");
}

#[test]
fn xfcc_from_the_client_is_never_taken_for_envoys_own() {
    let f = site_files("envoy-xfcc");
    let alice_hash = sha256_hex(&f.certs.join("alice.crt"));
    let forged = format!(
        "Hash={alice_hash};Cert=\"{}\";Subject=\"{ALICE_DN}\"",
        pem_url(&f.certs.join("alice.crt"))
    );
    // The connection's own digest copied into Hash, beside alice's certificate and subject:
    // under FORWARD_ONLY Envoy passes this on untouched as the last (only) element.
    let copied = format!(
        "Hash={};Cert=\"{}\";Subject=\"{ALICE_DN}\"",
        sha256_hex(&f.certs.join("demo.crt")),
        pem_url(&f.certs.join("alice.crt"))
    );
    for mode in ["APPEND_FORWARD", "FORWARD_ONLY"] {
        let mut opts = EnvoyOptions::new(envoy_site(&f));
        opts.forward_client_cert = mode;
        let e = Envoy::start(&f.certs, &opts);
        // demo's certificate, with an XFCC element claiming alice (even with alice's real hash
        // and certificate): the filter takes only the element whose Hash is this connection's,
        // and from it only a certificate that hashes to the connection's digest.
        for claim in [&forged, &copied] {
            let r = e
                .get("/app/cgi/echo")
                .client_cert(&f.certs, "demo")
                .header(format!("X-Forwarded-Client-Cert: {claim}"))
                .send();
            assert_ne!(r.env("AUTHRS_USER"), Some("alice"), "{mode}: {}", r.body);
            assert_ne!(r.env("AUTHRS_DN"), Some(ALICE_DN), "{mode}: {}", r.body);
            if mode == "APPEND_FORWARD" {
                assert_eq!(r.env("AUTHRS_USER"), Some("demo"), "{mode}: {r:?}");
            } else {
                assert!(
                    r.header("location")
                        .is_some_and(|l| l.contains("reason=bad_cert")),
                    "{mode}: {r:?}"
                );
            }
        }
        let r = e
            .get("/app/cgi/echo")
            .client_cert(&f.certs, "demo")
            .header(format!("X-Forwarded-Client-Cert: {forged}"))
            .send();
        if mode == "APPEND_FORWARD" {
            // Envoy appended its own element for demo's certificate: that one is believed.
            assert_eq!(
                r.env("AUTHRS_USER"),
                Some("demo"),
                "{mode}: {r:?}\n{}",
                e.log()
            );
        } else {
            // Envoy added nothing: only the subject property is known, and the site's CRL
            // needs the serial, so the certificate is refused rather than guessed at.
            assert!(
                r.header("location")
                    .is_some_and(|l| l.contains("reason=bad_cert")),
                "{mode}: {r:?}"
            );
        }
        // Without any certificate the forged element logs nobody in.
        let r = e
            .get("/app/cgi/echo")
            .header(format!("X-Forwarded-Client-Cert: {forged}"))
            .send();
        assert_eq!(r.status, 302, "{mode}: {r:?}");
        assert!(
            e.counter_at_least("wasmcustom.authrs.spoofing_attempts", 1) >= 1,
            "{mode}: spoofing not counted"
        );
        // On a public path the forged element does not reach the application.
        let r = e
            .get("/cgi-bin/echo")
            .header(format!("X-Forwarded-Client-Cert: {forged}"))
            .send();
        assert_eq!(r.status, 200);
        assert!(
            r.env("HTTP_X_FORWARDED_CLIENT_CERT").is_none(),
            "{mode}: {}",
            r.body
        );
    }
}

#[test]
fn a_forwarded_for_header_does_not_make_a_trusted_proxy() {
    // Envoy's `source.address` is the HCM's idea of the client: with `use_remote_address`
    // false it is the last X-Forwarded-For entry. The bootstrap sets it true (as the sample
    // does and the README requires), so a client naming a trusted proxy in X-Forwarded-For
    // stays an untrusted client whose certificate headers are spoofing.
    let f = site_files("envoy-xff");
    let json = site_with(
        &f,
        json!({"trusted_proxies": ["192.0.2.10/32"], "trusted_proxy_headers": "xfcc"}),
    );
    let mut opts = EnvoyOptions::new(json);
    // The client's XFCC reaches the filter even without a client certificate.
    opts.forward_client_cert = "ALWAYS_FORWARD_ONLY";
    let e = Envoy::start(&f.certs, &opts);
    let xfcc = format!(
        "Hash={};Cert=\"{}\";Subject=\"{ALICE_DN}\"",
        sha256_hex(&f.certs.join("alice.crt")),
        pem_url(&f.certs.join("alice.crt"))
    );
    for xff in ["192.0.2.10", "198.51.100.1, 192.0.2.10"] {
        let r = e
            .get("/app/cgi/echo")
            .header(format!("X-Forwarded-For: {xff}"))
            .header(format!("X-Forwarded-Client-Cert: {xfcc}"))
            .send();
        assert_ne!(r.env("AUTHRS_USER"), Some("alice"), "{xff}: {}", r.body);
        assert_eq!(r.status, 302, "{xff}: {r:?}\n{}", e.log());
    }
    assert!(
        e.counter_at_least("wasmcustom.authrs.spoofing_attempts", 2) >= 2,
        "spoofing not counted"
    );
}

#[test]
fn a_trusted_front_proxy_may_assert_the_client_certificate() {
    let f = site_files("envoy-front");
    let json = site_with(
        &f,
        json!({"trusted_proxies": ["127.0.0.1/32"], "trusted_proxy_headers": "xfcc"}),
    );
    // The front proxy connects with its own client certificate (demo's here); Envoy forwards
    // XFCC only on mTLS connections, appending its element about the proxy's certificate.
    let mut opts = EnvoyOptions::new(json);
    opts.forward_client_cert = "APPEND_FORWARD";
    let e = Envoy::start(&f.certs, &opts);
    let hash = sha256_hex(&f.certs.join("alice.crt"));
    let xfcc = format!(
        "Hash={hash};Cert=\"{}\";Subject=\"{ALICE_DN}\"",
        pem_url(&f.certs.join("alice.crt"))
    );
    let r = e
        .get("/app/cgi/echo")
        .client_cert(&f.certs, "demo")
        .header(format!("X-Forwarded-Client-Cert: {xfcc}"))
        .send();
    assert_eq!(r.status, 200, "{r:?}\n{}", e.log());
    assert_eq!(r.env("AUTHRS_USER"), Some("alice"));
    assert_eq!(r.env("AUTHRS_DN"), Some(ALICE_DN));
    // What a front Envoy writes for a certificate whose DNS SAN holds a comma (Envoy does not
    // quote SANs): the holder made up a second element claiming alice. Refused, not believed.
    let injected = format!(
        "Hash={};Subject=\"CN=mallory\";DNS=m.example,{xfcc}",
        sha256_hex(&f.certs.join("demo.crt"))
    );
    let r = e
        .get("/app/cgi/echo")
        .client_cert(&f.certs, "demo")
        .header(format!("X-Forwarded-Client-Cert: {injected}"))
        .send();
    assert_ne!(r.status, 200, "{r:?}");
    assert_ne!(r.env("AUTHRS_USER"), Some("alice"), "{r:?}");
    assert!(
        e.log().contains("2 elements"),
        "the refusal is logged: {}",
        e.log()
    );
    // The other family (SSL_CLIENT_*) is still the client's own and is ignored.
    let r = e
        .get("/app/cgi/echo")
        .client_cert(&f.certs, "demo")
        .header(format!("SSL_CLIENT_S_DN: {ALICE_DN}"))
        .header("SSL_CLIENT_VERIFY: SUCCESS")
        .send();
    assert_eq!(r.status, 302, "{r:?}");
    // XFCC as a proxy never spells it (`x_forwarded_client_cert`, which SANITIZE_SET leaves
    // alone) is the client's: not believed, and removed before the upstream.
    let r = e
        .get("/app/cgi/echo")
        .client_cert(&f.certs, "demo")
        .header(format!("x_forwarded_client_cert: {xfcc}"))
        .send();
    assert_eq!(r.status, 302, "{r:?}\n{}", e.log());
    let r = e
        .get("/app/cgi/echo")
        .client_cert(&f.certs, "demo")
        .cookie(COOKIE, &ticket("demo"))
        .header(format!("x_forwarded_client_cert: {xfcc}"))
        .send();
    assert_eq!(r.env("AUTHRS_USER"), Some("demo"), "{r:?}");
    assert!(
        !r.body.contains("alice"),
        "the client's XFCC reached the upstream: {}",
        r.body
    );
}

#[test]
fn without_the_certificate_only_the_subject_is_known() {
    // Envoy exposes only the subject and the first DNS/URI SAN as properties (no email SANs):
    // when the certificate itself is not forwarded, email mapping must refuse, not guess.
    let f = site_files("envoy-nopem");
    let json = site_with(&f, json!({"cert_user": "email"}));
    let mut opts = EnvoyOptions::new(json.clone());
    opts.forward_client_cert = "SANITIZE";
    let e = Envoy::start(&f.certs, &opts);
    let r = e.get("/app/cgi/echo").client_cert(&f.certs, "demo").send();
    assert_eq!(r.status, 302, "{r:?}\n{}", e.log());
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("reason=bad_cert")),
        "{r:?}"
    );
    drop(e);
    // With Envoy's own XFCC element (SANITIZE_SET + cert) the email SAN is there.
    let e = Envoy::start(&f.certs, &EnvoyOptions::new(json));
    let r = e.get("/app/cgi/echo").client_cert(&f.certs, "demo").send();
    assert_eq!(
        r.env("AUTHRS_USER"),
        Some("demo@example.org"),
        "{r:?}\n{}",
        e.log()
    );
    // And cn mapping works from the subject property alone (the CRL needs the serial, so a
    // site with a CRL refuses: the scenario site has one).
    let json = site_with(&f, json!({"cert_user": "cn", "crls": Value::Null}));
    let json = json
        .replace(",\"crls\":null", "")
        .replace("\"crls\":null,", "");
    let mut opts = EnvoyOptions::new(json);
    opts.forward_client_cert = "SANITIZE";
    drop(e);
    let e = Envoy::start(&f.certs, &opts);
    let r = e.get("/app/cgi/echo").client_cert(&f.certs, "alice").send();
    assert_eq!(r.env("AUTHRS_USER"), Some("alice"), "{r:?}\n{}", e.log());
}

#[test]
fn accept_untrusted_takes_only_enrolled_certificates() {
    let f = site_files("envoy-untrusted");
    self_signed(&f.certs, "device", "/CN=bob laptop");
    self_signed(&f.certs, "eve", "/CN=eve");
    let device = Certificate::parse(&std::fs::read(f.certs.join("device.crt")).expect("read"))
        .expect("device");
    let mut enrolled = EnrolledCerts::default();
    enrolled
        .enroll("bob@example.org", &device, "laptop", now(), 5)
        .expect("enroll");
    let json = site_with(
        &f,
        json!({"trust_chain_verification": "ACCEPT_UNTRUSTED", "enrolled_certs": enrolled.to_text()}),
    );
    let mut opts = EnvoyOptions::new(json);
    opts.client_certs = ClientCerts::AcceptUntrusted;
    let e = Envoy::start(&f.certs, &opts);
    let r = e
        .get("/app/cgi/echo")
        .client_cert(&f.certs, "device")
        .send();
    assert_eq!(r.status, 200, "{r:?}\n{}", e.log());
    assert_eq!(r.env("AUTHRS_USER"), Some("bob@example.org"));
    // A pinned certificate chose its own subject: no DN is exposed.
    assert_eq!(r.env("AUTHRS_DN"), None);
    for unpinned in ["eve", "alice"] {
        let r = e
            .get("/app/cgi/echo")
            .client_cert(&f.certs, unpinned)
            .send();
        assert_eq!(r.status, 302, "{unpinned}: {r:?}");
        assert!(
            r.header("location")
                .is_some_and(|l| l.contains("reason=bad_cert")),
            "{unpinned}: {r:?}"
        );
    }
}

#[test]
fn accept_untrusted_takes_certificates_from_trusted_cas_only() {
    let f = site_files("envoy-trusted-cas");
    // Another CA of the same name issuing certificates of the same names: only the signatures
    // tell them apart.
    let other = f.root.join("other-ca");
    demo_certs(&other);
    // A client that appends the trusted CA to its own chain does not borrow its trust.
    let mut chain = std::fs::read_to_string(other.join("alice.crt")).expect("alice");
    chain.push_str(&std::fs::read_to_string(f.certs.join("ca.crt")).expect("ca"));
    std::fs::write(other.join("appended.crt"), chain).expect("chain");
    std::fs::copy(other.join("alice.key"), other.join("appended.key")).expect("key");
    let ca = std::fs::read_to_string(f.certs.join("ca.crt")).expect("ca");
    let json = site_with(
        &f,
        json!({"trust_chain_verification": "ACCEPT_UNTRUSTED", "trusted_cas": ca}),
    );
    let mut opts = EnvoyOptions::new(json);
    opts.client_certs = ClientCerts::AcceptUntrusted;
    let e = Envoy::start(&f.certs, &opts);
    let r = e.get("/app/cgi/echo").client_cert(&f.certs, "alice").send();
    assert_eq!(r.status, 200, "{r:?}\n{}", e.log());
    assert_eq!(r.env("AUTHRS_USER"), Some("alice"), "{r:?}");
    assert_eq!(r.env("AUTHRS_METHOD"), Some("cert"), "{r:?}");
    assert_eq!(r.env("AUTHRS_DN"), Some(ALICE_DN), "{r:?}");
    for name in ["alice", "appended"] {
        let r = e.get("/app/cgi/echo").client_cert(&other, name).send();
        assert_eq!(r.status, 302, "other CA's {name}: {r:?}");
        assert!(
            r.header("location")
                .is_some_and(|l| l.contains("reason=bad_cert")),
            "other CA's {name}: {r:?}"
        );
    }
}

/// A sub-CA under the demo CA, `carol` under it (`carol.crt` holds her certificate and the
/// sub-CA's, the chain a client sends), the sub-CA's own CRL, and a CRL of the demo CA that
/// revokes the sub-CA (`root-revokes-sub.crl`), all in `dir`.
fn sub_ca(ca: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).expect("dir");
    let script = r#"
set -euo pipefail
ca=$1; cd "$2"
db() { # NAME CERT KEY: an openssl ca config with a database of its own
  : > "$1-index.txt"; echo 2000 > "$1-serial"
  printf '[ca]\ndefault_ca = c\n[c]\ndir = .\ndatabase = %s-index.txt\nserial = %s-serial\nnew_certs_dir = .\ncertificate = %s\nprivate_key = %s\ndefault_md = sha256\ndefault_crl_days = 30\npolicy = p\n[p]\ncommonName = supplied\n' "$1" "$1" "$2" "$3" > "$1.cnf"
}
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }
key sub
openssl req -new -key sub.key -subj "/C=XX/O=authrs demo/CN=authrs demo sub-CA" -out sub.csr
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > sub.ext
openssl x509 -req -in sub.csr -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -set_serial 0x5ab -days 30 \
  -extfile sub.ext -out sub.crt 2>/dev/null
key carol
openssl req -new -key carol.key -subj "/C=XX/O=authrs demo/CN=carol" -out carol.csr
printf 'subjectAltName=email:carol@example.org\nextendedKeyUsage=clientAuth\n' > carol.ext
openssl x509 -req -in carol.csr -CA sub.crt -CAkey sub.key -set_serial 7 -days 30 \
  -extfile carol.ext -out carol-leaf.crt 2>/dev/null
cat carol-leaf.crt sub.crt > carol.crt
db sub sub.crt sub.key
openssl ca -batch -config sub.cnf -gencrl -out sub.crl 2>/dev/null
db root "$ca/ca.crt" "$ca/ca.key"
openssl ca -batch -config root.cnf -revoke sub.crt 2>/dev/null
openssl ca -batch -config root.cnf -gencrl -out root-revokes-sub.crl 2>/dev/null
"#;
    let out = std::process::Command::new("bash")
        .args(["-c", script, "sub_ca"])
        .arg(ca)
        .arg(dir)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "sub-CA: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Under ACCEPT_UNTRUSTED with `trusted_cas`, a client certificate issued by a sub-CA counts
/// as CA-verified through the chain the client sent (Envoy's XFCC `Chain=`) — unless a CRL of
/// the CA revokes that sub-CA: then `revoked_cert`, as for a revoked client certificate.
#[test]
fn accept_untrusted_checks_the_chain_against_crls() {
    let f = site_files("envoy-sub-ca");
    let sub = f.root.join("sub-ca");
    sub_ca(&f.certs, &sub);
    let read = |p: &Path| std::fs::read_to_string(p).expect("read");
    let ca = read(&f.certs.join("ca.crt"));
    let start = |root_crl: &Path| {
        let crls = format!("{}{}", read(root_crl), read(&sub.join("sub.crl")));
        let json = site_with(
            &f,
            json!({"trust_chain_verification": "ACCEPT_UNTRUSTED", "trusted_cas": ca, "crls": crls}),
        );
        let mut opts = EnvoyOptions::new(json);
        opts.client_certs = ClientCerts::AcceptUntrusted;
        Envoy::start(&f.certs, &opts)
    };
    // The demo CA's own CRL revokes only mallory: carol's chain verifies.
    let e = start(&f.certs.join("ca.crl"));
    let r = e.get("/app/cgi/echo").client_cert(&sub, "carol").send();
    assert_eq!(r.status, 200, "{r:?}\n{}", e.log());
    assert_eq!(r.env("AUTHRS_USER"), Some("carol"), "{r:?}");
    assert_eq!(
        r.env("AUTHRS_DN"),
        Some("CN=carol,O=authrs demo,C=XX"),
        "{r:?}"
    );
    drop(e);
    // The CA revoked the sub-CA: every certificate under it is refused.
    let e = start(&sub.join("root-revokes-sub.crl"));
    let r = e.get("/app/cgi/echo").client_cert(&sub, "carol").send();
    assert_eq!(r.status, 302, "{r:?}\n{}", e.log());
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("reason=revoked_cert")),
        "{r:?}"
    );
    assert!(
        e.log().contains("authrs demo sub-CA") && e.log().contains("is revoked"),
        "{}",
        e.log()
    );
    // Certificates the CA issued itself are not concerned.
    let r = e.get("/app/cgi/echo").client_cert(&f.certs, "alice").send();
    assert_eq!(r.status, 200, "{r:?}");
}

#[test]
fn the_password_service_checks_login_forms() {
    let f = site_files("envoy-pwsvc");
    let mut v: Value = serde_json::from_str(&envoy_site(&f)).expect("json");
    let o = v.as_object_mut().expect("object");
    o.remove("users");
    o.insert(
        "password_check".into(),
        json!({"cluster": "passwords", "path": "/check", "timeout": 2}),
    );
    let e = Envoy::start(&f.certs, &EnvoyOptions::new(v.to_string()));
    let post = |body: &str| {
        Request::post_form(e.url("/LOGIN"), body.to_string())
            .ca(&f.certs.join("ca.crt"))
            .send()
    };
    let r = post("credential_0=demo&credential_1=demo&destination=%2Fapp%2Fcgi%2Fecho");
    assert_eq!(r.status, 303, "{r:?}\n{}", e.log());
    let cookie = r.cookie(COOKIE).expect("cookie");
    let r = e.get("/app/cgi/echo").cookie(COOKIE, &cookie).send();
    assert_eq!(r.env("AUTHRS_USER"), Some("demo"));
    // A service that matches names loosely names the user it found (`X-AuthRs-User`, as httpd's
    // providers set r->user): the ticket carries that spelling, so `Require not user demo` and
    // `{"user": ["demo"]}` see one name per person, however it was typed.
    let r = post("credential_0=DeMo&credential_1=demo&destination=%2Fapp%2Fcgi%2Fecho");
    assert_eq!(r.status, 303, "{r:?}\n{}", e.log());
    let cookie = r.cookie(COOKIE).expect("cookie");
    let r = e.get("/app/cgi/echo").cookie(COOKIE, &cookie).send();
    assert_eq!(r.env("AUTHRS_USER"), Some("demo"), "{r:?}");
    let r = post("credential_0=demo&credential_1=wrong");
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("reason=bad_credentials")),
        "{r:?}"
    );
    // A browser's same-origin post (Origin: this https origin) is not taken for login CSRF.
    let r = Request::post_form(
        e.url("/LOGIN"),
        "credential_0=demo&credential_1=demo".to_string(),
    )
    .ca(&f.certs.join("ca.crt"))
    .header(format!("Origin: https://127.0.0.1:{}", e.port))
    .header("Sec-Fetch-Site: same-origin")
    .send();
    assert_eq!(
        r.status,
        303,
        "same-origin login refused: {r:?}\n{}",
        e.log()
    );
    // The service failing fails the login closed.
    let r = post("credential_0=broken&credential_1=x");
    assert_eq!(r.status, 500, "{r:?}");
    // The login page itself.
    let r = e.get("/LOGIN?reason=expired&destination=%2Fapp%2F").send();
    assert_eq!(r.status, 200);
    assert!(r.body.contains("name=\"credential_0\""), "{}", r.body);
    assert!(r.body.contains("value=\"/app/\""), "{}", r.body);
    r.assert_login_page_headers();
}

#[test]
fn metrics_count_outcomes_reasons_and_methods() {
    let f = site_files("envoy-metrics");
    let e = Envoy::start(&f.certs, &EnvoyOptions::new(envoy_site(&f)));
    let base = |n: &str| e.counter(&format!("wasmcustom.authrs.{n}"));
    // Configuration loads are flushed to /stats at once.
    assert!(base("config_reloads") >= 1);
    const NAMES: [&str; 8] = [
        "requests.allowed",
        "requests.redirected",
        "requests.unauthorized",
        "requests.forbidden",
        "reason.no_cookie",
        "reason.forbidden",
        "method.password",
        "method.cert",
    ];
    let read = || NAMES.map(base);
    let before = read();
    e.get("/app/cgi/echo")
        .cookie(COOKIE, &ticket("demo"))
        .send();
    e.get("/app/cgi/echo").send();
    e.get("/app/cgi/echo").client_cert(&f.certs, "alice").send();
    // No credentials from an API client: 401.
    let r = e
        .get("/app/cgi/echo")
        .header("Accept: application/json")
        .send();
    assert_eq!(r.status, 401, "{r:?}");
    // A user the Require rule refuses: 403.
    let r = e
        .get("/app/admin/cgi/echo")
        .cookie(COOKIE, &ticket("alice"))
        .send();
    assert_eq!(r.status, 403, "{r:?}");
    // Request counters reach /stats at the filter's next flush (once a second): wait for every
    // expected count, then check that none is more than expected.
    let want = [2, 1, 1, 1, 2, 1, 1, 1];
    let short = |after: &[u64; 8]| (0..8).any(|i| after[i] - before[i] < want[i]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut after = read();
    while short(&after) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
        after = read();
    }
    for (i, name) in NAMES.iter().enumerate() {
        assert_eq!(after[i] - before[i], want[i], "{name}");
    }
}

#[test]
fn logout_indexes_a_repeated_ticket_once() {
    let f = site_files("envoy-logout");
    let e = Envoy::start(&f.certs, &EnvoyOptions::new(envoy_site(&f)));
    let t = ticket("demo");
    let entries = || e.counter("wasmcustom.authrs.revoked_sessions");
    let before = e.get("/app/cgi/echo").cookie(COOKIE, &t).send();
    assert_eq!(before.env("AUTHRS_USER"), Some("demo"), "{before:?}");
    // The same valid ticket twice in one header, then a second logout with it: one entry.
    let twice = format!("Cookie: {COOKIE}={t}; {COOKIE}={t}");
    let out = e.get("/LOGOUT").header(twice.as_str()).send();
    assert_eq!(out.status, 303, "{out:?}");
    assert_eq!(entries(), 1, "{}", e.log());
    let out = e.get("/LOGOUT").header(twice.as_str()).send();
    assert_eq!(out.status, 303, "{out:?}");
    assert_eq!(entries(), 1, "{}", e.log());
    // Another session is a second entry, and both stay revoked.
    let other = ticket("alice");
    let out = e.get("/LOGOUT").cookie(COOKIE, &other).send();
    assert_eq!(out.status, 303, "{out:?}");
    assert_eq!(entries(), 2, "{}", e.log());
    for t in [&t, &other] {
        let r = e.get("/app/cgi/echo").cookie(COOKIE, t).send();
        assert_eq!(r.status, 302, "{r:?}");
        assert!(
            r.header("location")
                .is_some_and(|l| l.contains("reason=bad_cookie")),
            "{r:?}"
        );
    }
}

/// The bucket a revocation goes to is picked with a secret key every worker reads from shared
/// data (made by the first VM): a logout on one worker holds on the others and after a VM
/// reload. A key per VM would let about half the requests after the logout through, and all
/// after the reload.
#[test]
fn revocations_hold_across_workers_and_vm_reloads() {
    let f = site_files("envoy-bucket-key");
    let mut opts = EnvoyOptions::new(envoy_site(&f));
    opts.concurrency = 2;
    opts.wasm = panic_wasm_path();
    assert!(
        opts.wasm.exists(),
        "build it: make unit (the test-panic wasm)"
    );
    let e = Envoy::start(&f.certs, &opts);
    let t = ticket("demo");
    // The harness waited until the workers' VMs write (the key has stayed 500 ms).
    let out = e.get("/LOGOUT").cookie(COOKIE, &t).send();
    assert_eq!(out.status, 303, "{out:?}\n{}", e.log());
    // Connections each worker has taken (Envoy's per-worker listener stats).
    let taken = |w: u32| {
        e.counter(&format!(
            "listener.127.0.0.1_{}.worker_{w}.downstream_cx_total",
            e.port
        ))
    };
    let refused = |what: &str| {
        // New connections until each worker has taken at least three (the kernel spreads them).
        let start = [taken(0), taken(1)];
        for i in 0..80 {
            if taken(0) >= start[0] + 3 && taken(1) >= start[1] + 3 {
                return;
            }
            let r = e.get("/app/cgi/echo").cookie(COOKIE, &t).send();
            assert!(
                r.status == 302
                    && r.header("location")
                        .is_some_and(|l| l.contains("reason=bad_cookie")),
                "{what}, request {i}: revoked ticket not refused: {r:?}\n{}",
                e.log()
            );
        }
        panic!("{what}: 80 connections did not reach both workers");
    };
    refused("both workers");
    // A panic reloads that worker's VM: the new VM reads the same key.
    let loads = |log: &str| log.matches("AUTHRS0001: configuration loaded").count();
    let loaded = loads(&e.log());
    let r = e
        .get("/app/cgi/echo")
        .header("authrs-test-panic: 1")
        .cookie(COOKIE, &ticket("demo"))
        .send();
    assert!(r.status >= 500, "{r:?}");
    // The other worker answers meanwhile: wait until eight answers in a row are not 503.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut answered = 0;
    while answered < 8 && std::time::Instant::now() < deadline {
        let r = e.get("/app/cgi/echo").cookie(COOKIE, &t).send();
        assert_ne!(
            r.status, 200,
            "revoked ticket passed during the reload: {r:?}"
        );
        answered = if r.status == 503 { 0 } else { answered + 1 };
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(answered, 8, "still 503 after 20 s:\n{}", e.log());
    assert!(loads(&e.log()) > loaded, "no VM was reloaded:\n{}", e.log());
    refused("after the reload");
    let fresh = e
        .get("/app/cgi/echo")
        .cookie(COOKIE, &ticket("alice"))
        .send();
    assert_eq!(fresh.env("AUTHRS_USER"), Some("alice"), "{fresh:?}");
    let log = e.log();
    assert!(log.contains("AUTHRS0900"), "no panic, no reload:\n{log}");
    assert!(!log.contains("AUTHRS0005"), "bucket key trouble:\n{log}");
}

#[test]
fn a_sliding_refresh_is_private_to_the_browser() {
    // session_timeout: a ticket last seen 400 s ago is re-issued on the upstream's response —
    // which must then never be stored by a shared cache for the next visitor.
    let f = site_files("envoy-refresh");
    let e = Envoy::start(
        &f.certs,
        &EnvoyOptions::new(site_with(&f, json!({"session_timeout": "10m"}))),
    );
    let ring =
        authrs_core::ticket::KeyRing::new(vec![authrs_core::ticket::TicketKey::from_base64(
            KEY_B64,
        )
        .expect("key")])
        .expect("ring");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let mut t = authrs_core::ticket::Ticket::new(
        "demo",
        authrs_core::identity::AuthMethod::Password,
        now - 400,
        3600,
    );
    t.roles = None;
    let old = ring.mint(&t).expect("mint");
    let r = e.get("/app/cgi/echo").cookie(COOKIE, &old).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", e.log());
    let fresh = r.cookie(COOKIE).expect("refreshed ticket");
    assert_ne!(fresh, old);
    assert!(
        r.headers
            .iter()
            .any(|(n, v)| n == "cache-control" && v.contains("private")),
        "{r:?}"
    );
    // The application's own Cache-Control: one header comes back, private, without what
    // would let a shared cache keep the refreshed ticket.
    let r = e
        .get(
            "/app/cgi/echo?respond-header=Cache-Control:public,%20s-maxage=600,%20no-transform\
             &respond-header=CDN-Cache-Control:max-age=600\
             &respond-header=Surrogate-Control:max-age=600\
             &respond-header=Cloudflare-CDN-Cache-Control:max-age=600\
             &respond-header=Edge-Control:cache-maxage=600&respond-header=X-Kept:1",
        )
        .cookie(COOKIE, &old)
        .send();
    assert!(r.cookie(COOKIE).is_some_and(|c| !c.is_empty()), "{r:?}");
    // Nor may a CDN's own directives keep it.
    for gone in [
        "cdn-cache-control",
        "surrogate-control",
        "cloudflare-cdn-cache-control",
        "edge-control",
    ] {
        assert!(!r.headers.iter().any(|(n, _)| n == gone), "{gone}: {r:?}");
    }
    assert!(r.headers.iter().any(|(n, _)| n == "x-kept"), "{r:?}");
    let cc: Vec<&str> = r.headers_named("cache-control");
    assert_eq!(cc, ["no-transform, private"], "{r:?}");
    // The application set the ticket cookie itself (its own logout): no refresh undoes it.
    let r = e
        .get(&format!(
            "/app/cgi/echo?respond-header=Set-Cookie:{COOKIE}=;%20Max-Age=0;%20Path=/"
        ))
        .cookie(COOKIE, &old)
        .send();
    assert_eq!(r.status, 200, "{r:?}");
    let set: Vec<&str> = r.headers_named("set-cookie");
    assert_eq!(set.len(), 1, "{r:?}");
    assert_eq!(r.cookie(COOKIE).as_deref(), Some(""), "{r:?}");
    // A ticket seen a moment ago is not re-issued, and nothing is added to the response.
    let r = e.get("/app/cgi/echo").cookie(COOKIE, &fresh).send();
    assert_eq!((r.status, r.cookie(COOKIE)), (200, None));
    assert!(
        !r.headers.iter().any(|(n, _)| n == "cache-control"),
        "{r:?}"
    );
}

#[test]
fn tricky_paths_never_bypass_a_location() {
    let f = site_files("envoy-paths");
    let e = Envoy::start(&f.certs, &EnvoyOptions::new(envoy_site(&f)));
    for path in [
        "/%61pp/cgi/echo",
        "/cgi-bin/../app/cgi/echo",
        "//app/cgi/echo",
        "/cgi-bin/..%2fapp/cgi/echo",
        "/cgi-bin/%2e%2e/app/cgi/echo",
        "/./app/cgi/echo",
        // `..;` is `..` to Tomcat and Jetty but a name to most servers; Envoy's normalize_path
        // resolves it (the filter refuses it when Envoy has not: see the login-form test).
        "/cgi-bin/..;/app/cgi/echo",
        "/app/..;/cgi-bin/echo",
        "/app/admin/..;/cgi-bin/echo",
    ] {
        let r = Request::get(e.url(path)).ca(&f.certs.join("ca.crt")).send();
        assert!(
            r.status != 200 || r.env("REQUEST_URI").is_some_and(|u| !u.starts_with("/app")),
            "{path}: reached the protected app without credentials: {r:?}"
        );
    }
    // Path parameters, which servlet containers drop before routing: to them this is
    // /app/…, and so it is to Envoy's routes (the prefix /app), so the filter asks for
    // credentials as it does for /app.
    let r = Request::get(e.url("/app;x/cgi/echo"))
        .ca(&f.certs.join("ca.crt"))
        .send();
    assert_eq!(r.status, 302, "{r:?}");
    // `/app;x/admin` is /app/admin to a servlet but outside /app/admin to Envoy's routes:
    // whichever reading the filter took, some backend would serve another location's
    // resource. A segment that is empty once its parameters are dropped likewise. Refused.
    for path in ["/app;x/admin/cgi/echo", "/;x/app/cgi/echo"] {
        let r = Request::get(e.url(path)).ca(&f.certs.join("ca.crt")).send();
        assert_eq!(r.status, 400, "{path}: {r:?}");
    }
    // An encoded `;` is /app/… to a backend that decodes before it drops parameters and a
    // sibling of /app to one that does not: refused, like an encoded `/`.
    for path in ["/app%3Bx/cgi/echo", "/public%3b/cgi/echo"] {
        let r = Request::get(e.url(path)).ca(&f.certs.join("ca.crt")).send();
        assert_eq!(r.status, 400, "{path}: {r:?}");
    }
}

#[test]
fn a_panic_under_fail_reload_never_lets_traffic_through() {
    let f = site_files("envoy-panic");
    let mut opts = EnvoyOptions::new(envoy_site(&f));
    opts.wasm = panic_wasm_path();
    assert!(
        opts.wasm.exists(),
        "build it: make unit (the test-panic wasm)"
    );
    let e = Envoy::start(&f.certs, &opts);
    let r = e
        .get("/app/cgi/echo")
        .header("authrs-test-panic: 1")
        .cookie(COOKIE, &ticket("demo"))
        .send();
    assert!(r.status >= 500, "panicking request answered {r:?}");
    assert!(r.env("AUTHRS_USER").is_none());
    // The VM is reloaded (Envoy may answer 503 until it is): never does an unauthenticated
    // request get through meanwhile; then the filter refuses it as before.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let r = loop {
        let r = e.get("/app/cgi/echo").send();
        assert!(
            r.status != 200,
            "unauthenticated request passed after a panic: {r:?}"
        );
        if r.status != 503 || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(r.status, 302, "after a panic: {r:?}\n{}", e.log());
    let r = e
        .get("/app/cgi/echo")
        .cookie(COOKIE, &ticket("demo"))
        .send();
    assert_eq!(r.env("AUTHRS_USER"), Some("demo"), "{r:?}\n{}", e.log());
    assert!(
        e.log().contains("AUTHRS0900"),
        "panic not logged at critical:\n{}",
        e.log()
    );
}

#[test]
fn tickets_cross_shells() {
    let f = site_files("cross-shell");
    let apache = scenarios::start_apache(&f);
    let envoy = scenarios::start_envoy(&f);
    let ca = f.certs.join("ca.crt");
    let login = |url: String| {
        Request::post_form(
            url,
            "credential_0=demo&credential_1=demo&destination=%2Fapp%2F".to_string(),
        )
        .ca(&ca)
        .send()
        .cookie(COOKIE)
        .expect("ticket cookie")
    };
    // mod_authrs issues, Envoy accepts.
    let from_apache = login(apache.url("/LOGIN"));
    let r = envoy
        .get("/app/cgi/echo")
        .cookie(COOKIE, &from_apache)
        .send();
    assert_eq!(r.env("AUTHRS_USER"), Some("demo"), "{r:?}");
    // Envoy issues, mod_authrs accepts.
    let from_envoy = login(envoy.url("/LOGIN"));
    let r = Request::get(apache.url("/app/cgi/echo"))
        .ca(&ca)
        .cookie(COOKIE, &from_envoy)
        .send();
    assert_eq!(r.env("AUTHRS_USER"), Some("demo"), "{r:?}");
}

/// Envoy picks the route before the filter runs; the filter's header edits make it pick again
/// (Envoy clears the route cache when a wasm filter changes request headers). So a route that
/// matches `x-authrs-user` sees only the filter's value: a client's copy, removed by the
/// filter, never steers a request there. If an Envoy upgrade stopped re-routing, a spoofed
/// header would choose the route: this test would fail.
#[test]
fn only_the_filters_identity_headers_steer_routing() {
    let f = site_files("envoy-routes");
    let mut opts = EnvoyOptions::new(envoy_site(&f));
    opts.extra_routes = concat!(
        "              - match: {prefix: \"/\", headers: [{name: x-authrs-user, present_match: true}]}\n",
        "                direct_response: {status: 299, body: {inline_string: \"identified route\"}}\n",
    )
    .to_string();
    let e = Envoy::start(&f.certs, &opts);
    // A spoofed identity on a public path: the filter removes it, the request goes upstream.
    let r = e.get("/public/x").header("X-AuthRs-User: admin").send();
    assert_eq!(r.status, 200, "{r:?}\n{}", e.log());
    assert_eq!(r.env("HTTP_X_AUTHRS_USER"), None, "{r:?}");
    assert_eq!(r.env("REQUEST_URI"), Some("/public/x"), "{r:?}");
    // On a protected path without a ticket: the filter's own answer, not the identified route.
    let r = e.get("/app/cgi/echo").header("X-AuthRs-User: admin").send();
    assert_eq!(r.status, 302, "{r:?}");
    // A valid ticket: the filter sets x-authrs-user, and the identified route is taken.
    let r = e
        .get("/app/cgi/echo")
        .cookie(COOKIE, &ticket("demo"))
        .send();
    assert_eq!(r.status, 299, "{r:?}\n{}", e.log());
    assert_eq!(r.body, "identified route");
}

/// A client that sends `X-AuthRs-User` with every request cannot fill Envoy's log: the warning is
/// logged at most once a second, each line saying how many were left out before it; every
/// attempt is still counted.
#[test]
fn spoofing_warnings_are_logged_at_most_once_a_second() {
    let f = site_files("envoy-spoof-flood");
    let e = Envoy::start(&f.certs, &EnvoyOptions::new(envoy_site(&f)));
    let send = || {
        let r = e.get("/public/x").header("X-AuthRs-User: admin").send();
        assert_eq!(r.status, 200, "{r:?}\n{}", e.log());
    };
    for _ in 0..20 {
        send();
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    send();
    authrs_tests::assert_rate_limited(
        &e.log(),
        "AUTHRS0204: removed request headers",
        "AUTHRS0204",
        21,
    );
    assert!(
        e.counter_at_least("wasmcustom.authrs.spoofing_attempts", 21) >= 21,
        "every attempt counted"
    );
}

#[test]
fn a_flooding_client_does_not_hide_another_clients_spoofing_attempt() {
    // As in httpd: one line a second per client (the TCP peer), so 127.0.0.1's second attempt
    // in a second is left out and 127.0.0.2's first in the same second is logged.
    // One limiter per VM: the test Envoy runs one worker (--concurrency 1).
    let f = site_files("envoy-spoof-clients");
    let e = Envoy::start(&f.certs, &EnvoyOptions::new(envoy_site(&f)));
    let (lines, log) = authrs_tests::spoof_from_two_clients(
        |from, header| {
            let r = e.get("/public/x").from_address(from).header(header).send();
            assert_eq!(r.status, 200, "{r:?}\n{}", e.log());
        },
        || e.log(),
    );
    assert_eq!(lines.len(), 2, "{log}");
    assert!(lines[0].contains("x-authrs-user"), "{log}");
    assert!(lines[1].contains("x-authrs-roles"), "{log}");
}

/// The user names the echo upstream's password service (`/check`) was asked about, in order.
fn checked_users(e: &Envoy) -> Vec<String> {
    let r = Request::get(format!("http://127.0.0.1:{}/checked", e.upstream_port)).send();
    assert_eq!(r.status, 200, "{r:?}");
    r.body.lines().map(str::to_string).collect()
}

/// The scenario site checking passwords at the echo upstream's `/check` instead of `users`.
fn password_service_site(f: &scenarios::SiteFiles) -> String {
    let mut v: Value = serde_json::from_str(&envoy_site(f)).expect("json");
    let o = v.as_object_mut().expect("object");
    o.remove("users");
    o.insert(
        "password_check".into(),
        json!({"cluster": "passwords", "path": "/check", "timeout": 2}),
    );
    v.to_string()
}

#[test]
fn the_login_form_posts_to_the_login_path_whatever_path_showed_it() {
    // Envoy's defaults (no normalize_path, no merge_slashes): the filter sees the path as sent.
    // A form posting to the spelling `//evil.example/../LOGIN` would be a scheme-relative URL:
    // the browser would send the credentials to evil.example. Spellings with empty or dot
    // segments are refused outright (Envoy removes them when configured as the README says);
    // the others show the page, whose form posts to the login path itself.
    let f = site_files("envoy-action");
    let mut opts = EnvoyOptions::new(envoy_site(&f));
    opts.normalize_paths = false;
    let e = Envoy::start(&f.certs, &opts);
    for path in [
        "//evil.example/../LOGIN",
        "//evil.example/x/../../LOGIN?destination=%2Fapp%2F",
        "/./LOGIN",
        "//LOGIN",
        "/x/..;/LOGIN",
    ] {
        let r = e.get(path).path_as_is().send();
        assert_eq!(r.status, 400, "{path}: {r:?}\n{}", e.log());
        assert!(!r.body.contains("credential_0"), "{path}: {}", r.body);
    }
    for path in [
        "/LOGIN;x",
        "/LOGIN?destination=%2Fapp%2F",
        "/LOGIN;x?destination=%2F",
    ] {
        let r = e.get(path).path_as_is().send();
        assert_eq!(r.status, 200, "{path}: {r:?}\n{}", e.log());
        assert!(
            r.body.contains("name=\"credential_0\""),
            "{path}: {}",
            r.body
        );
        assert!(!r.body.contains("action=\"//"), "{path}: {}", r.body);
        assert!(
            r.body
                .match_indices("action=\"")
                .all(|(i, _)| r.body[i..].starts_with("action=\"/LOGIN\"")),
            "{path}: the form must post to the login path: {}",
            r.body
        );
    }
}

#[test]
fn a_failed_password_callout_fails_the_login_closed_without_a_panic() {
    let f = site_files("envoy-pwfail");
    let e = Envoy::start(&f.certs, &EnvoyOptions::new(password_service_site(&f)));
    // The service answers 200 announcing 100 bytes, sends 10 and closes: the callout fails
    // (Envoy hands the filter no response headers at all).
    let r = Request::post_form(
        e.url("/LOGIN"),
        "credential_0=truncated&credential_1=x".to_string(),
    )
    .ca(&f.certs.join("ca.crt"))
    .send();
    assert_eq!(r.status, 500, "{r:?}\n{}", e.log());
    assert!(r.cookie(COOKIE).is_none(), "{r:?}");
    assert_eq!(checked_users(&e), ["truncated"]);
    let log = e.log();
    assert!(log.contains("AUTHRS0306"), "no AUTHRS0306 logged:\n{log}");
    assert!(!log.contains("AUTHRS0900"), "the filter panicked:\n{log}");
    // The VM carries on: the next login works.
    let r = Request::post_form(
        e.url("/LOGIN"),
        "credential_0=demo&credential_1=demo".to_string(),
    )
    .ca(&f.certs.join("ca.crt"))
    .send();
    assert_eq!(r.status, 303, "{r:?}\n{}", e.log());
    assert!(!e.log().contains("AUTHRS0900"), "{}", e.log());
}

#[test]
fn refused_login_posts_never_reach_the_password_service() {
    let f = site_files("envoy-pwcsrf");
    let e = Envoy::start(&f.certs, &EnvoyOptions::new(password_service_site(&f)));
    let ca = f.certs.join("ca.crt");
    // A foreign page's form (login CSRF, or guessing passwords to lock an account out).
    let r = Request::post_form(e.url("/LOGIN"), "credential_0=csrf1&credential_1=x")
        .ca(&ca)
        .header("Sec-Fetch-Site: cross-site")
        .send();
    assert_eq!(r.status, 403, "{r:?}\n{}", e.log());
    let r = Request::post_form(e.url("/LOGIN"), "credential_0=csrf2&credential_1=x")
        .ca(&ca)
        .header("Origin: https://evil.example")
        .send();
    assert_eq!(r.status, 403, "{r:?}\n{}", e.log());
    // A user name with a control character is never a user (400 or bad_credentials), unasked.
    let r = Request::post_form(e.url("/LOGIN"), "credential_0=ctl%0Auser&credential_1=x")
        .ca(&ca)
        .send();
    assert!(
        r.status == 400
            || r.header("location")
                .is_some_and(|l| l.contains("reason=bad_credentials")),
        "{r:?}\n{}",
        e.log()
    );
    assert!(r.cookie(COOKIE).is_none(), "{r:?}");
    // A same-site post is asked about (so the record above can tell).
    let r = Request::post_form(e.url("/LOGIN"), "credential_0=someone&credential_1=x")
        .ca(&ca)
        .header(format!("Origin: https://127.0.0.1:{}", e.port))
        .send();
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("reason=bad_credentials")),
        "{r:?}"
    );
    assert_eq!(checked_users(&e), ["someone"], "{}", e.log());
}

/// A POST sent chunked, ending in request trailers (`X-AuthRs-User: admin` and a forged
/// `X-Forwarded-Client-Cert` among them), over a
/// raw TLS connection (curl cannot send trailers); the response as text.
fn post_with_trailers(e: &Envoy, ca: &Path, path: &str, headers: &str, body: &str) -> String {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}\
         Content-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\nTrailer: X-Note, X-AuthRs-User, X-Forwarded-Client-Cert\r\n\
         Connection: close\r\n\r\n\
         {len:x}\r\n{body}\r\n0\r\nX-Note: end\r\nX-AuthRs-User: admin\r\n\
         X-Forwarded-Client-Cert: Hash=00;Subject=\"CN=admin\"\r\n\r\n",
        port = e.port,
        len = body.len(),
    );
    let mut child = std::process::Command::new("python3")
        .arg(workspace().join("tests/raw_https.py"))
        .arg(e.port.to_string())
        .arg(ca)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.as_bytes())
        .expect("write request");
    let out = child.wait_with_output().expect("raw_https.py");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn request_trailers_end_a_login_and_never_name_the_user() {
    let f = site_files("envoy-trailers");
    let mut opts = EnvoyOptions::new(envoy_site(&f));
    opts.http1_trailers = true;
    let e = Envoy::start(&f.certs, &opts);
    let ca = f.certs.join("ca.crt");
    // A login whose body ends in trailers is a login, answered here: never sent upstream.
    let login = |body: &str| post_with_trailers(&e, &ca, "/LOGIN", "", body);
    let r = login("credential_0=demo&credential_1=demo&destination=%2Fapp%2Fcgi%2Fecho");
    assert!(r.starts_with("HTTP/1.1 303"), "{r}\n{}", e.log());
    assert!(r.contains(&format!("{COOKIE}=")), "{r}");
    assert!(
        !r.contains("REQUEST_URI="),
        "the login reached the upstream: {r}"
    );
    let r = login("credential_0=demo&credential_1=wrong");
    assert!(r.starts_with("HTTP/1.1 303"), "{r}\n{}", e.log());
    assert!(r.contains("reason=bad_credentials"), "{r}");
    assert!(
        !r.contains("REQUEST_URI="),
        "the login reached the upstream: {r}"
    );
    // Elsewhere trailers go upstream, without the client's X-AuthRs-*: protected, recognized
    // and public paths alike.
    let cookie = format!("Cookie: {COOKIE}={}\r\n", ticket("demo"));
    for (path, headers) in [
        ("/app/cgi/echo", cookie.as_str()),
        ("/cgi-bin/echo", cookie.as_str()),
        ("/public/echo", ""),
    ] {
        let r = post_with_trailers(&e, &ca, path, headers, "a=b");
        assert!(r.starts_with("HTTP/1.1 200"), "{path}: {r}\n{}", e.log());
        assert!(r.contains("TRAILER_X_NOTE=end"), "{path}: {r}");
        assert!(!r.contains("TRAILER_X_AUTHRS"), "{path}: {r}");
        // Client-certificate headers are never trailers either (Envoy's XFCC handling does not
        // look at trailers; an upstream that merges them would).
        assert!(
            !r.contains("TRAILER_X_FORWARDED_CLIENT_CERT"),
            "{path}: {r}"
        );
    }
    assert!(e.log().contains("AUTHRS0204"), "{}", e.log());
}

/// A client certificate signed by the demo CA with subject `subject` (openssl `-subj`, UTF-8).
fn ca_signed(dir: &Path, name: &str, subject: &str) {
    let path = |ext: &str| {
        dir.join(format!("{name}.{ext}"))
            .to_str()
            .expect("utf-8 path")
            .to_string()
    };
    let (key, csr, crt) = (path("key"), path("csr"), path("crt"));
    let (ca, ca_key) = (dir.join("ca.crt"), dir.join("ca.key"));
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-utf8",
        "-subj",
        subject,
        "-keyout",
        &key,
        "-out",
        &csr,
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        ca.to_str().expect("utf-8 path"),
        "-CAkey",
        ca_key.to_str().expect("utf-8 path"),
        "-days",
        "30",
        "-out",
        &crt,
    ]);
}

#[test]
fn hard_subjects_read_the_same_from_envoys_property_and_from_the_certificate() {
    // Without the certificate (forward_client_cert SANITIZE) the filter has only Envoy's
    // `connection.subject_peer_certificate` string (BoringSSL's printer); with it (SANITIZE_SET)
    // the core renders the DN itself. A `cert_dn` rule or a DN map must match in both cases, and
    // the DN must be OpenSSL's RFC 2253 form, as `openssl x509 -nameopt RFC2253` prints it.
    let f = site_files("envoy-hard-dn");
    let subjects = [
        r#"/CN=Doe\, John "JD" <jd>+UID=jd/O=Semi;colon\+plus/OU=#hash/emailAddress=jd@example.org"#,
        "/CN=Jürgen Ünïcode/O=Ørg Ltd/C=DE",
        "/CN=trailing space \\ /DC=example/DC=org/UID=jd",
    ];
    let json = site_with(&f, json!({"cert_user": "dn", "crls": Value::Null}));
    let json = json
        .replace(",\"crls\":null", "")
        .replace("\"crls\":null,", "");
    for (i, subject) in subjects.iter().enumerate() {
        let name = format!("hard{i}");
        ca_signed(&f.certs, &name, subject);
        let crt = f.certs.join(format!("{name}.crt"));
        let text = openssl(&[
            "x509",
            "-noout",
            "-subject",
            "-nameopt",
            "RFC2253",
            "-in",
            crt.to_str().expect("utf-8 path"),
        ]);
        let want = text
            .trim_end_matches('\n')
            .strip_prefix("subject=")
            .expect("subject line")
            .to_string();
        let mut seen = Vec::new();
        for mode in ["SANITIZE", "SANITIZE_SET"] {
            let mut opts = EnvoyOptions::new(json.clone());
            opts.forward_client_cert = mode;
            let e = Envoy::start(&f.certs, &opts);
            let r = e.get("/app/cgi/echo").client_cert(&f.certs, &name).send();
            assert_eq!(r.status, 200, "{mode} {subject}: {r:?}\n{}", e.log());
            seen.push((mode, r.env("AUTHRS_DN").map(str::to_string)));
        }
        for (mode, dn) in seen {
            assert_eq!(dn.as_deref(), Some(want.as_str()), "{mode}: {subject}");
        }
    }
}

/// Inline `users` with a dear hash make each login check block an Envoy worker thread (unknown
/// names pay the dearest hash too): the filter says so when the configuration loads.
#[test]
fn slow_inline_users_are_warned_about_at_load() {
    let f = site_files("envoy-slow-users");
    let cheap = authrs_core::password::hash_bcrypt("demo", 4, [1u8; 16]).expect("hash");
    // Only the cost in the layout is read at load; nothing is verified here.
    let dear = cheap.replacen("$2y$04$", "$2y$10$", 1);
    let json = site_with(&f, json!({"users": format!("demo:{cheap}\nslow:{dear}")}));
    let e = Envoy::start(&f.certs, &EnvoyOptions::new(json));
    let log = e.log();
    assert!(
        log.contains("AUTHRS0003") && log.contains("about 112 ms"),
        "{log}"
    );
    let json = site_with(&f, json!({"users": format!("demo:{cheap}")}));
    let e = Envoy::start(&f.certs, &EnvoyOptions::new(json));
    assert!(!e.log().contains("AUTHRS0003"), "{}", e.log());
}

/// The function exports of a wasm module, as `scripts/wasm-drop-exports.py --list` reads them.
fn wasm_exports(module: &Path) -> Vec<String> {
    let out = std::process::Command::new("python3")
        .arg(workspace().join("scripts/wasm-drop-exports.py"))
        .arg("--list")
        .arg(module)
        .output()
        .expect("run wasm-drop-exports.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// `make` unexports the callbacks the filter leaves at the crate's defaults (Envoy then does not
/// enter the VM for them), from the module every other test here runs and from the panic build;
/// the callbacks the filter needs stay. Every Envoy test runs these modules, so they also show
/// that Envoy takes a module without those exports.
#[test]
fn the_built_filter_does_not_export_the_callbacks_it_leaves_at_their_defaults() {
    for module in [wasm_path(), panic_wasm_path()] {
        let exports = wasm_exports(&module);
        for unused in [
            "proxy_on_response_body",
            "proxy_on_response_trailers",
            "proxy_on_log",
            "proxy_on_done",
        ] {
            assert!(
                !exports.iter().any(|e| e == unused),
                "{} still exports {unused} (build it with make)",
                module.display()
            );
        }
        for needed in [
            "proxy_on_context_create",
            "proxy_on_request_headers",
            "proxy_on_request_body",
            "proxy_on_request_trailers",
            "proxy_on_response_headers",
            "proxy_on_http_call_response",
            "proxy_on_delete",
            "proxy_on_tick",
            "proxy_on_configure",
            "proxy_on_memory_allocate",
        ] {
            assert!(
                exports.iter().any(|e| e == needed),
                "{} lost {needed}",
                module.display()
            );
        }
    }
}
