//! End-to-end tests of the `authrs` binary, with certificates made by the real `openssl`
//! and passwords checked by the real `htpasswd`.

// Test helpers report broken fixtures by failing loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

mod common;

fn authrs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_authrs"))
        .args(args)
        .output()
        .expect("run authrs")
}

fn authrs_stdin(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_authrs"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn authrs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait authrs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim_end().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim_end().to_string()
}

/// A scratch directory unique to this test process.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| common::fresh_dir("authrs-cli-test"))
}

/// Demo certificates from the same script `make run` uses (openssl must be installed).
fn certs() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = scratch().join("certs");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/gen-demo-certs.sh");
        let st = Command::new("bash")
            .arg(script)
            .arg(&d)
            .status()
            .expect("run gen-demo-certs.sh");
        assert!(
            st.success(),
            "gen-demo-certs.sh failed (is openssl installed?)"
        );
        d
    })
}

fn key(name: &str) -> String {
    let path = scratch().join(name);
    if !path.exists() {
        let o = authrs(&["keygen", "--out", path.to_str().expect("utf8")]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    path.to_string_lossy().into_owned()
}

fn openssl(args: &[&str]) -> String {
    let o = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl must be installed");
    assert!(o.status.success(), "openssl {args:?}: {}", stderr(&o));
    stdout(&o)
}

#[test]
fn demo_certificates_are_end_entity_certificates_for_one_purpose() {
    // The demo CA sets every extension itself (nothing copied from a request): no demo
    // certificate can sign others, client certificates authenticate clients only, the
    // server's a server only.
    let client = "TLS Web Client Authentication";
    let server = "TLS Web Server Authentication";
    for (name, purpose, not) in [
        ("demo", client, server),
        ("alice", client, server),
        ("zoe", client, server),
        ("revoked", client, server),
        ("server", server, client),
    ] {
        let path = certs().join(format!("{name}.crt"));
        let text = openssl(&[
            "x509",
            "-in",
            path.to_str().expect("utf8"),
            "-noout",
            "-ext",
            "basicConstraints,extendedKeyUsage",
        ]);
        assert!(
            text.contains("CA:FALSE") && text.contains(purpose) && !text.contains(not),
            "{name}: {text}"
        );
    }
}

#[test]
fn keygen_writes_a_private_256_bit_key() {
    use std::os::unix::fs::PermissionsExt;
    let path = key("k-perm");
    let meta = std::fs::metadata(&path).expect("key file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&path).expect("read key");
    let o = authrs(&["keygen"]);
    assert!(o.status.success());
    assert_ne!(stdout(&o), text.trim(), "two keys must differ");
    // 32 bytes of base64 with padding = 44 characters.
    assert_eq!(text.trim().len(), 44);
}

#[test]
fn keygen_never_replaces_a_key_unless_forced() {
    let path = key("k-keep");
    let before = std::fs::read(&path).expect("key");
    let o = authrs(&["keygen", "--out", &path]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("exists"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&path).expect("key"), before, "key changed");
    // A symlink is never followed (it could point at another key or a system file).
    let link = scratch().join("k-link");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&path, &link).expect("symlink");
    let o = authrs(&["keygen", "--out", link.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        std::fs::read(&path).expect("key"),
        before,
        "key changed via link"
    );
    // --force replaces it, still 0600.
    let o = authrs(&["keygen", "--out", &path, "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(std::fs::read(&path).expect("key"), before);
    // --force on a symlink replaces the link with a key file: the target is left alone (a
    // planted link to a system file must not have it truncated and overwritten), and no
    // temporary file is left beside it.
    let target = scratch().join("k-target");
    std::fs::write(&target, "precious\n").expect("target");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let o = authrs(&["keygen", "--out", link.to_str().expect("utf8"), "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&target).expect("target"),
        "precious\n"
    );
    let meta = std::fs::symlink_metadata(&link).expect("meta");
    assert!(meta.file_type().is_file(), "the link became a regular file");
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    let leftovers = std::fs::read_dir(scratch())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .count();
    assert_eq!(leftovers, 0);
    // --force without --out is a usage error.
    assert!(!authrs(&["keygen", "--force"]).status.success());
}

#[test]
fn ticket_round_trip_and_refusals() {
    let k = key("k1");
    let now = "1800000000";
    let o = authrs(&[
        "ticket",
        "mint",
        "--key",
        &k,
        "--user",
        "alice",
        "--method",
        "cert",
        "--lifetime",
        "2h",
        "--roles",
        "admin:projectX,reader",
        "--address",
        "192.0.2.7",
        "--now",
        now,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ticket = stdout(&o);

    fn verify<'a>(key: &'a str, ticket: &'a str) -> [&'a str; 9] {
        [
            "ticket",
            "verify",
            "--key",
            key,
            "--now",
            "1800000100",
            "--address",
            "192.0.2.7",
            ticket,
        ]
    }
    let o = authrs(&verify(&k, &ticket));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON object");
    assert_eq!(v["user"], "alice");
    assert_eq!(v["method"], "cert");
    assert_eq!(v["issued"], 1_800_000_000i64);
    assert_eq!(v["expires"], 1_800_007_200i64);
    assert_eq!(v["roles"], serde_json::json!(["admin:projectX", "reader"]));
    // `-` reads the ticket from standard input (not visible in `ps`), with the same answer.
    let args = verify(&k, "-");
    let o = authrs_stdin(&args, &format!("{ticket}\n"));
    assert!(o.status.success(), "{}", stderr(&o));
    let w: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON object");
    assert_eq!(w, v);
    let o = authrs_stdin(&args, "");
    assert_eq!(o.status.code(), Some(1), "an empty stdin is no ticket");
    assert!(stderr(&o).starts_with("bad_cookie"), "{}", stderr(&o));
    assert!(v["key_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(v["version"], 1);

    // Bound to a cookie name (what logins mint): verifies only with that name.
    let o = authrs(&[
        "ticket",
        "mint",
        "--key",
        &k,
        "--user",
        "alice",
        "--cookie-name",
        "AuthRs_Example",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bound = stdout(&o);
    let verify = |extra: &[&str]| {
        let mut args = vec!["ticket", "verify", "--key", k.as_str()];
        args.extend_from_slice(extra);
        args.push(bound.as_str());
        authrs(&args)
    };
    let o = verify(&["--cookie-name", "AuthRs_Example"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON object");
    assert_eq!(
        (v["user"].as_str(), v["version"].as_i64()),
        (Some("alice"), Some(2))
    );
    let o = verify(&["--cookie-name", "AuthRs_Admins"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("bad_cookie: "), "{}", stderr(&o));
    let o = verify(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("pass --cookie-name"), "{}", stderr(&o));
    let o = authrs(&[
        "ticket",
        "mint",
        "--key",
        &k,
        "--user",
        "alice",
        "--cookie-name",
        "no spaces",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--cookie-name"), "{}", stderr(&o));

    // Expired, one second past the end.
    let o = authrs(&[
        "ticket",
        "verify",
        "--key",
        &k,
        "--now",
        "1800007201",
        "--address",
        "192.0.2.7",
        &ticket,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("expired: "), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1);

    // Wrong address.
    let o = authrs(&[
        "ticket",
        "verify",
        "--key",
        &k,
        "--now",
        "1800000100",
        "--address",
        "192.0.2.8",
        &ticket,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("bad_cookie: "), "{}", stderr(&o));

    // Tampered: flip one character in the middle.
    let mut bytes = ticket.clone().into_bytes();
    let mid = bytes.len() / 2;
    bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).expect("ascii");
    let o = authrs(&[
        "ticket",
        "verify",
        "--key",
        &k,
        "--now",
        "1800000100",
        "--address",
        "192.0.2.7",
        &tampered,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("bad_cookie: "), "{}", stderr(&o));

    // Another key does not verify it; a ring with both does (rotation).
    let k2 = key("k2");
    let o = authrs(&[
        "ticket",
        "verify",
        "--key",
        &k2,
        "--now",
        "1800000100",
        "--address",
        "192.0.2.7",
        &ticket,
    ]);
    assert!(stderr(&o).starts_with("bad_cookie: "), "{}", stderr(&o));
    let o = authrs(&[
        "ticket",
        "verify",
        "--key",
        &k2,
        "--key",
        &k,
        "--now",
        "1800000100",
        "--address",
        "192.0.2.7",
        &ticket,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn ticket_idle_timeout() {
    let k = key("k-idle");
    let o = authrs(&[
        "ticket",
        "mint",
        "--key",
        &k,
        "--user",
        "bob",
        "--now",
        "1800000000",
    ]);
    let ticket = stdout(&o);
    let o = authrs(&[
        "ticket",
        "verify",
        "--key",
        &k,
        "--now",
        "1800001000",
        "--session-timeout",
        "10m",
        &ticket,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("expired: "), "{}", stderr(&o));
    let o = authrs(&[
        "ticket",
        "verify",
        "--key",
        &k,
        "--now",
        "1800000500",
        "--session-timeout",
        "10m",
        &ticket,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn bad_key_file_is_one_line() {
    let path = scratch().join("short.key");
    std::fs::write(&path, "c2hvcnQ=\n").expect("write");
    let o = authrs(&[
        "ticket",
        "mint",
        "--key",
        path.to_str().expect("utf8"),
        "--user",
        "x",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).starts_with("error: "));
    assert!(
        !stderr(&o).contains("c2hvcnQ"),
        "the key must not be echoed"
    );
}

/// A self-signed P-256 certificate for `/CN=<cn>` with `subjectAltName=<san>`, made by openssl
/// in a scratch directory of its own; returns the certificate's path.
fn self_signed_with_san(name: &str, san: &str) -> std::path::PathBuf {
    let dir = scratch().join(name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let (key, crt) = (dir.join("k.pem"), dir.join("c.pem"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "2",
        "-subj",
        &format!("/CN={name}"),
        "-keyout",
        key.to_str().expect("utf8"),
        "-out",
        crt.to_str().expect("utf8"),
        "-addext",
        &format!("subjectAltName={san}"),
    ]);
    crt
}

#[test]
fn cert_inspect_lists_every_san_kind() {
    // A self-signed certificate with one SAN of every kind the issue names.
    let crt = self_signed_with_san(
        "sans",
        "email:s@example.org,DNS:host.example.org,URI:https://example.org/s,\
         IP:192.0.2.7,IP:2001:db8::1,otherName:1.3.6.1.5.5.7.8.5;UTF8:s@xmpp.example.org,\
         otherName:1.3.6.1.4.1.311.20.2.3;UTF8:s@corp.example.org",
    );
    let o = authrs(&["cert", "inspect", "--json", crt.to_str().expect("utf8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    let san = &v["san"];
    assert_eq!(san["email"], serde_json::json!(["s@example.org"]), "{v}");
    assert_eq!(san["dns"], serde_json::json!(["host.example.org"]), "{v}");
    assert_eq!(
        san["uri"],
        serde_json::json!(["https://example.org/s"]),
        "{v}"
    );
    assert_eq!(
        san["ip"],
        serde_json::json!(["192.0.2.7", "2001:db8::1"]),
        "{v}"
    );
    assert_eq!(
        san["xmpp"],
        serde_json::json!(["s@xmpp.example.org"]),
        "{v}"
    );
    assert_eq!(san["upn"], serde_json::json!(["s@corp.example.org"]), "{v}");
    // And each maps a user by its rule.
    for (rule, want) in [
        ("upn", "s@corp.example.org"),
        ("xmpp", "s@xmpp.example.org"),
    ] {
        let o = authrs(&["cert", "map", "--rule", rule, crt.to_str().expect("utf8")]);
        assert_eq!(stdout(&o), want, "{rule}: {}", stderr(&o));
    }
}

#[test]
fn cert_inspect_never_prints_a_certificates_control_characters() {
    // IA5String allows ESC: a SAN could recolour or rewrite the operator's terminal.
    let crt = self_signed_with_san("esc", "email:a\u{1b}[2Jb@example.org");
    let o = authrs(&["cert", "inspect", crt.to_str().expect("utf8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains('\u{1b}'), "{out:?}");
    assert!(out.contains("san.email: a\\u{1b}[2Jb@example.org"), "{out}");
    // JSON keeps the exact value (escaped by JSON itself).
    let o = authrs(&["cert", "inspect", "--json", crt.to_str().expect("utf8")]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    assert_eq!(
        v["san"]["email"],
        serde_json::json!(["a\u{1b}[2Jb@example.org"])
    );
}

#[test]
fn cert_inspect_agrees_with_openssl() {
    let crt = certs().join("demo.crt");
    let crt = crt.to_str().expect("utf8");
    let o = authrs(&["cert", "inspect", "--json", crt]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    let subject = openssl(&[
        "x509", "-in", crt, "-noout", "-subject", "-nameopt", "RFC2253",
    ]);
    assert_eq!(
        format!("subject={}", v["subject"].as_str().expect("subject")),
        subject
    );
    let issuer = openssl(&[
        "x509", "-in", crt, "-noout", "-issuer", "-nameopt", "RFC2253",
    ]);
    assert_eq!(
        format!("issuer={}", v["issuer"].as_str().expect("issuer")),
        issuer
    );
    let serial = openssl(&["x509", "-in", crt, "-noout", "-serial"]);
    assert_eq!(
        format!("serial={}", v["serial"].as_str().expect("serial")),
        serial
    );
    let fp = openssl(&["x509", "-in", crt, "-noout", "-fingerprint", "-sha256"]);
    let fp = fp
        .rsplit('=')
        .next()
        .expect("fp")
        .replace(':', "")
        .to_lowercase();
    assert_eq!(v["sha256"], fp);
    assert_eq!(v["subject_legacy"], "/C=XX/O=authrs demo/CN=demo");
    assert_eq!(v["san"]["email"], serde_json::json!(["demo@example.org"]));
    assert_eq!(v["san"]["xmpp"], serde_json::json!(["demo@example.org"]));
    assert!(v["not_after"].as_str().expect("not_after").ends_with('Z'));

    // Plain output and standard input.
    let pem = std::fs::read_to_string(crt).expect("pem");
    let o = authrs_stdin(&["cert", "inspect", "-"], &pem);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("subject: CN=demo,O=authrs demo,C=XX"),
        "{}",
        stdout(&o)
    );

    // Garbage is a named one-line error.
    let o = authrs_stdin(
        &["cert", "inspect", "-"],
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("bad_cert: "), "{}", stderr(&o));
}

#[test]
fn cert_map_rules_map_file_and_crl() {
    let demo = certs().join("demo.crt");
    let demo = demo.to_str().expect("utf8");
    let alice = certs().join("alice.crt");
    let alice = alice.to_str().expect("utf8");
    let cases: &[(&str, &str, &str)] = &[
        ("cn", demo, "demo"),
        ("email", demo, "demo@example.org"),
        ("xmpp", demo, "demo@example.org"),
        ("dn", alice, "CN=alice,OU=Admins,O=authrs demo,C=XX"),
        ("{CN}@{OU}.example.org", alice, "alice@Admins.example.org"),
    ];
    for (rule, file, want) in cases {
        let o = authrs(&["cert", "map", "--rule", rule, file]);
        assert!(o.status.success(), "{rule}: {}", stderr(&o));
        assert_eq!(stdout(&o), *want, "rule {rule}");
    }
    // upn: the demo certificate has none → refused with a reason.
    let o = authrs(&["cert", "map", "--rule", "upn", demo]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("bad_cert: "), "{}", stderr(&o));

    // The exact-DN map takes precedence over the rule.
    let map = scratch().join("users.map");
    std::fs::write(
        &map,
        "# DN → user\n\"CN=alice,OU=Admins,O=authrs demo,C=XX\" administrator\n",
    )
    .expect("write");
    let o = authrs(&[
        "cert",
        "map",
        "--rule",
        "cn",
        "--map",
        map.to_str().expect("utf8"),
        alice,
    ]);
    assert_eq!(stdout(&o), "administrator", "{}", stderr(&o));

    // Revoked by the CA's CRL; the others are not.
    let crl = certs().join("ca.crl");
    let crl = crl.to_str().expect("utf8");
    let revoked = certs().join("revoked.crt");
    let map_with_crl = |cert: &str| authrs(&["cert", "map", "--rule", "cn", "--crl", crl, cert]);
    let o = map_with_crl(revoked.to_str().expect("utf8"));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("revoked_cert: "), "{}", stderr(&o));
    let o = map_with_crl(demo);
    assert!(o.status.success(), "{}", stderr(&o));
    // A certificate of another issuer: that CRL file says nothing about it.
    let other = self_signed_with_san("other-issuer", "DNS:other.example");
    let o = map_with_crl(other.to_str().expect("utf8"));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("has no CRL of CN=other-issuer"),
        "{}",
        stderr(&o)
    );

    // Expired at a time far in the future.
    let o = authrs(&["cert", "map", "--rule", "cn", "--now", "4102444800", demo]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("bad_cert: "), "{}", stderr(&o));

    let o = authrs(&["cert", "map", "--rule", "bogus", demo]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("error: --rule"), "{}", stderr(&o));
}

#[test]
fn password_hash_is_accepted_by_htpasswd() {
    let o = authrs_stdin(&["password", "hash", "--cost", "5"], "s3cret pass\n");
    assert!(o.status.success(), "{}", stderr(&o));
    let hash = stdout(&o);
    assert!(hash.starts_with("$2y$05$"), "{hash}");
    let file = scratch().join("htpasswd");
    std::fs::write(&file, format!("carol:{hash}\n")).expect("write");
    let ok = Command::new("htpasswd")
        .args([
            "-v",
            "-b",
            file.to_str().expect("utf8"),
            "carol",
            "s3cret pass",
        ])
        .output()
        .expect("htpasswd (apache2-utils) must be installed");
    assert!(
        ok.status.success(),
        "htpasswd refused our hash: {}",
        stderr(&ok)
    );
    let bad = Command::new("htpasswd")
        .args(["-v", "-b", file.to_str().expect("utf8"), "carol", "wrong"])
        .output()
        .expect("htpasswd");
    assert!(!bad.status.success());
    let o = authrs_stdin(&["password", "hash"], "");
    assert_eq!(o.status.code(), Some(1));
}

/// Drives `authrs args` on a pseudo-terminal (Python's `pty`): types each of `lines` after the
/// next prompt ending in "password: ", then reads to the end. Returns the exit code and
/// everything the terminal showed (what an onlooker would have seen).
fn authrs_on_tty(args: &[&str], lines: &[&str]) -> (Option<i32>, String) {
    const DRIVER: &str = r#"
import json, os, pty, select, sys, termios, time
exe, args, lines = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
pid, fd = pty.fork()
if pid == 0:
    os.execv(exe, [exe] + args)
out = b""
def pump(until, seconds=10):
    global out
    end = time.time() + seconds
    while not until(out) and time.time() < end:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return
            if not chunk:
                return
            out += chunk
def echo_off():
    return not termios.tcgetattr(fd)[3] & termios.ECHO
for n, line in enumerate(lines, 1):
    pump(lambda o: o.count(b"password: ") >= n)
    # Typed once the terminal stopped echoing (a person is never faster than that), or after
    # a few seconds anyway: a program that never turns echo off must show the password.
    end = time.time() + 5
    while not echo_off() and time.time() < end:
        time.sleep(0.01)
    os.write(fd, line.encode() + b"\n")
pump(lambda o: False, 15)
# A child still waiting (it never prompted, so it reads on) is killed: no hanging test.
for _ in range(50):
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    time.sleep(0.1)
else:
    os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
print(json.dumps({"code": code, "out": out.decode("utf-8", "replace")}))
"#;
    let o = Command::new("python3")
        .args([
            "-c",
            DRIVER,
            env!("CARGO_BIN_EXE_authrs"),
            &serde_json::to_string(args).expect("json"),
            &serde_json::to_string(lines).expect("json"),
        ])
        .output()
        .expect("python3");
    assert!(o.status.success(), "pty driver: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("driver output");
    (
        v["code"].as_i64().and_then(|c| i32::try_from(c).ok()),
        v["out"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn password_hash_at_a_terminal_asks_twice_and_never_echoes() {
    let (code, shown) = authrs_on_tty(
        &["password", "hash", "--cost", "5"],
        &["s3cret pass", "s3cret pass"],
    );
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains("New password: "), "{shown}");
    assert!(shown.contains("Re-type new password: "), "{shown}");
    assert!(
        !shown.contains("s3cret"),
        "the password was echoed: {shown}"
    );
    let hash = shown
        .split_whitespace()
        .find(|w| w.starts_with("$2y$05$"))
        .unwrap_or_else(|| panic!("no hash in {shown}"));
    let file = scratch().join("htpasswd-tty");
    std::fs::write(&file, format!("dave:{hash}\n")).expect("write");
    let ok = Command::new("htpasswd")
        .args([
            "-v",
            "-b",
            file.to_str().expect("utf8"),
            "dave",
            "s3cret pass",
        ])
        .output()
        .expect("htpasswd (apache2-utils) must be installed");
    assert!(ok.status.success(), "htpasswd refused: {}", stderr(&ok));
    // A typo in the second entry prints no hash.
    let (code, shown) = authrs_on_tty(&["password", "hash", "--cost", "5"], &["one", "two"]);
    assert_eq!(code, Some(1), "{shown}");
    assert!(
        shown.contains("differ") && !shown.contains("$2y$"),
        "{shown}"
    );
}

#[test]
fn require_check_evaluates_rules_files() {
    let rules = scratch().join("rules.conf");
    std::fs::write(
        &rules,
        "<RequireAll>\n  Require valid-user\n  Require role admin projectX\n  Require not user mallory\n</RequireAll>\n",
    )
    .expect("write");
    let roles = scratch().join("roles");
    std::fs::write(&roles, "alice admin:projectX\nmallory admin\nbob reader\n").expect("write");
    let (r, f) = (roles.to_str().expect("utf8"), rules.to_str().expect("utf8"));
    let o = authrs(&["require", "check", "--roles", r, "--user", "alice", f]);
    assert_eq!((stdout(&o).as_str(), o.status.code()), ("GRANTED", Some(0)));
    let o = authrs(&["require", "check", "--roles", r, "--user", "bob", f]);
    assert_eq!((stdout(&o).as_str(), o.status.code()), ("DENIED", Some(1)));
    let o = authrs(&["require", "check", "--roles", r, "--user", "mallory", f]);
    assert_eq!((stdout(&o).as_str(), o.status.code()), ("DENIED", Some(1)));

    let cert_only = scratch().join("cert-only.conf");
    std::fs::write(&cert_only, "Require authn-method cert\n").expect("write");
    let c = cert_only.to_str().expect("utf8");
    let o = authrs(&[
        "require", "check", "--user", "alice", "--method", "password", c,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let o = authrs(&["require", "check", "--user", "alice", "--method", "cert", c]);
    assert_eq!((stdout(&o).as_str(), o.status.code()), ("GRANTED", Some(0)));

    // OpenID ranks between password and cert unless placed otherwise.
    let pw_only = scratch().join("pw-only.conf");
    std::fs::write(&pw_only, "Require authn-method password\n").expect("write");
    let p = pw_only.to_str().expect("utf8");
    let o = authrs(&["require", "check", "--user", "u", "--method", "openid", p]);
    assert_eq!((stdout(&o).as_str(), o.status.code()), ("GRANTED", Some(0)));
    let o = authrs(&[
        "require",
        "check",
        "--user",
        "u",
        "--method",
        "openid",
        "--openid-strength",
        "below-password",
        p,
    ]);
    assert_eq!((stdout(&o).as_str(), o.status.code()), ("DENIED", Some(1)));

    // Without --user: an anonymous request, as httpd asks before anyone logged in.
    let o = authrs(&["require", "check", f]);
    assert_eq!(
        (stdout(&o).as_str(), o.status.code()),
        ("DENIED_NO_USER", Some(1))
    );
    let open = scratch().join("open.conf");
    std::fs::write(&open, "Require all granted\n").expect("write");
    let o = authrs(&["require", "check", open.to_str().expect("utf8")]);
    assert_eq!((stdout(&o).as_str(), o.status.code()), ("GRANTED", Some(0)));
    // --dn needs a user.
    assert_eq!(
        authrs(&["require", "check", "--dn", "CN=x", f])
            .status
            .code(),
        Some(2)
    );

    // cert-dn against --dn, group against --groups.
    let dn_rules = scratch().join("dn.conf");
    std::fs::write(
        &dn_rules,
        "<RequireAny>\n  Require cert-dn \"CN=alice,O=Example\"\n  Require group admins\n</RequireAny>\n",
    )
    .expect("write");
    let groups = scratch().join("groups");
    std::fs::write(&groups, "admins: carol\n").expect("write");
    let (d, g) = (
        dn_rules.to_str().expect("utf8"),
        groups.to_str().expect("utf8"),
    );
    for (user, method, dn, want) in [
        ("alice", "cert", Some("CN=alice,O=Example"), "GRANTED"),
        ("alice", "cert", Some("CN=alice,O=Other"), "DENIED"),
        // A DN without a certificate login never matches cert-dn.
        ("alice", "password", Some("CN=alice,O=Example"), "DENIED"),
        ("carol", "password", None, "GRANTED"),
        ("dave", "password", None, "DENIED"),
    ] {
        let mut args = vec!["require", "check", "--groups", g, "--user", user];
        args.extend(["--method", method]);
        if let Some(dn) = dn {
            args.extend(["--dn", dn]);
        }
        args.push(d);
        let o = authrs(&args);
        assert_eq!(stdout(&o), want, "{args:?} {}", stderr(&o));
    }

    let bad = scratch().join("bad.conf");
    std::fs::write(&bad, "<RequireAll>\nRequire valid-user\n").expect("write");
    let o = authrs(&[
        "require",
        "check",
        "--user",
        "alice",
        bad.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["keygen", "--help"],
        &["ticket", "mint", "--help"],
        &["ticket", "verify", "--help"],
        &["cert", "inspect", "--help"],
        &["cert", "map", "--help"],
        &["password", "hash", "--help"],
        &["require", "check", "--help"],
        &["config", "reference", "--help"],
        &["config", "check", "--help"],
        &["openid", "verify", "--help"],
    ] {
        let o = authrs(args);
        assert!(o.status.success(), "{args:?}");
        assert!(stdout(&o).contains("Usage:"), "{args:?}");
    }
}

#[test]
fn config_reference_lists_directives_and_json_keys() {
    let o = authrs(&["config", "reference"]);
    assert!(o.status.success());
    let text = stdout(&o);
    for needle in [
        "AuthRsCookieName",
        "cookie_name",
        "AuthRsCertRequire",
        "AuthRsTrustedProxies",
        "trusted_proxies",
    ] {
        assert!(text.contains(needle), "reference lacks {needle}");
    }
}

#[test]
fn config_check_reads_envoy_configurations_like_the_filter() {
    let ok = r#"{"ticket_keys": ["dGVzdC1rZXktZm9yLW1vZF9hdXRocnMtdGVzdHMtMzI="],
        "locations": [{"prefix": "/app", "require": {"any": [{"user": ["alice"]}, {"role": ["admin"]}]}}]}"#;
    let o = authrs_stdin(&["config", "check", "-"], ok);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o).trim(), "ok");
    assert_eq!(stderr(&o), "", "no warning for a site that protects a path");
    // Loads, as in the filter, with the warning the filter logs at load.
    let unprotected = r#"{"ticket_keys": ["dGVzdC1rZXktZm9yLW1vZF9hdXRocnMtdGVzdHMtMzI="]}"#;
    let o = authrs_stdin(&["config", "check", "-"], unprotected);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "ok");
    assert!(
        stderr(&o).starts_with("warning: -: AUTHRS0003: locations: none has a require"),
        "{}",
        stderr(&o)
    );
    for (bad, needle) in [
        (
            r#"{"locations": [{"prefix": "/app", "require": {"usr": ["a"]}}]}"#,
            "locations[0].require",
        ),
        (r#"{"locations": [{"prefix": "/app"}]}"#, "require"),
        (r#"{"ticket_keys": ["c2VjcmV0"]}"#, "ticket_keys"),
        (r#"{"cooky_name": "x"}"#, "cooky_name"),
        (
            r#"{"trusted_proxies": ["10.0.0.0/8", "::/0"]}"#,
            "at most a /8",
        ),
        ("{", "not valid JSON"),
    ] {
        let o = authrs_stdin(&["config", "check", "-"], bad);
        assert_eq!(o.status.code(), Some(1), "{bad}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{bad}: {err}");
        assert!(!err.contains("c2VjcmV0"), "secret echoed: {err}");
    }
}

/// Output that cannot be written, inputs that never end, files that hold a secret: one error
/// line and exit 1 each, never a panic (exit 101), a hang, or the secret on the terminal.
#[test]
fn unwritable_output_endless_input_and_secrets_in_bad_files() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let o = Command::new(env!("CARGO_BIN_EXE_authrs"))
        .arg("keygen")
        .stdout(full)
        .output()
        .expect("run authrs");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("error: cannot write the output") && stderr(&o).lines().count() == 1,
        "{}",
        stderr(&o)
    );
    let o = authrs(&["cert", "inspect", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("larger than"), "{}", stderr(&o));
    let list = scratch().join("associations.json");
    std::fs::write(&list, r#"["TOPSECRETAAAAAAAAAAAAAA="]"#).expect("write");
    let o = authrs(&[
        "openid",
        "verify",
        "--url",
        "http://127.0.0.1/x?openid.mode=id_res",
        "--associations",
        list.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!stderr(&o).contains("TOPSECRET"), "{}", stderr(&o));
}
