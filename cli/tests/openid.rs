//! `authrs openid verify` against a provider played by a loopback server started here.

// Test helpers report broken fixtures by failing loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use authrs_core::openid::assoc::{AssocType, Association};
use authrs_core::openid::kv;
use authrs_core::openid::message::NS_2_0;
use authrs_core::openid::nonce::format_time;
use authrs_core::openid::signed_time::ConsumerSecret;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

mod common;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const NOW: i64 = 1_800_000_000;
const SECRET: &[u8] = b"consumer secret";
const RETURN: &str = "http://rp.example/openid/return?dest=%2Fhome";

/// A provider on 127.0.0.1: GET /alice is the identity page, POST /op answers check_authentication.
struct Provider {
    port: u16,
    gets: Arc<AtomicUsize>,
    posts: Arc<AtomicUsize>,
}

impl Provider {
    fn start() -> Provider {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().unwrap().port();
        let (gets, posts) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (g, p) = (gets.clone(), posts.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let mut length = 0;
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    if h.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let (ctype, reply) = if line.starts_with("GET /alice ") {
                    g.fetch_add(1, Ordering::SeqCst);
                    let page = format!(
                        r#"<html><head><link rel="openid2.provider" href="http://127.0.0.1:{port}/op"></head></html>"#
                    );
                    ("text/html", page)
                } else if line.starts_with("POST /op ") {
                    p.fetch_add(1, Ordering::SeqCst);
                    let body = String::from_utf8_lossy(&body);
                    let valid = body.contains("openid.mode=check_authentication");
                    ("text/plain", format!("ns:{NS_2_0}\nis_valid:{valid}\n"))
                } else {
                    ("text/plain", String::new())
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                    reply.len()
                );
            }
        });
        Provider { port, gets, posts }
    }

    fn op(&self) -> String {
        format!("http://127.0.0.1:{}/op", self.port)
    }

    fn claimed(&self) -> String {
        format!("http://127.0.0.1:{}/alice", self.port)
    }

    /// The URL a browser comes back with, signed with `assoc`'s secret (or garbage for stateless).
    fn assertion(&self, mode: &str, assoc: Option<&Association>) -> String {
        let secret = ConsumerSecret::new(SECRET).unwrap();
        let return_to = format!("{RETURN}&oic.time={}", secret.sign(NOW - 10));
        let nonce = format!("{}n", format_time(NOW - 5).unwrap());
        let (op, claimed) = (self.op(), self.claimed());
        let mut fields: Vec<(&str, &str)> = vec![
            ("ns", NS_2_0),
            ("mode", mode),
            ("op_endpoint", &op),
            ("claimed_id", &claimed),
            ("identity", &claimed),
            ("return_to", &return_to),
            ("response_nonce", &nonce),
            ("assoc_handle", "h1"),
            (
                "signed",
                "op_endpoint,claimed_id,identity,return_to,response_nonce,assoc_handle",
            ),
        ];
        let sig = match assoc {
            Some(a) => a.signature(
                kv::serialize(fields[2..8].iter().copied())
                    .unwrap()
                    .as_bytes(),
            ),
            None => "c3RhdGVsZXNz".into(),
        };
        fields.push(("sig", &sig));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().map(|(k, v)| (format!("openid.{k}"), v)))
            .finish();
        format!("{return_to}&{query}")
    }
}

fn scratch(name: &str) -> PathBuf {
    let d = common::fresh_dir(&format!("authrs-openid-test-{name}"));
    std::fs::write(d.join("secret"), [SECRET, b"\n"].concat()).unwrap();
    d
}

/// `authrs openid verify` with exactly these arguments, its output as it came (a refusal
/// before any verdict prints no JSON).
fn run_verify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_authrs"))
        .args(["openid", "verify", "--now", "1800000000"])
        .args(args)
        .output()
        .unwrap()
}

/// As [`verify`], its output as it came.
fn verify_output(dir: &Path, url: &str, extra: &[&str]) -> Output {
    let secret = dir.join("secret");
    let mut args = vec![
        "--url",
        url,
        "--consumer-secret-file",
        secret.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_verify(&args)
}

fn verify(dir: &Path, url: &str, extra: &[&str]) -> (Output, serde_json::Value) {
    with_json(verify_output(dir, url, extra))
}

#[test]
fn stateless_login_verifies_then_replay_is_refused() {
    let op = Provider::start();
    let dir = scratch("stateless");
    let state = dir.join("state");
    let url = op.assertion("id_res", None);
    let args = [
        "--allow-private-addresses",
        "--state-dir",
        state.to_str().unwrap(),
    ];
    // Leftovers of an interrupted run in a shared state directory: a symlink to someone
    // else's file and a world-readable file. Neither may receive the state (secrets).
    #[cfg(unix)]
    let victim = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&state).unwrap();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
        let victim = dir.join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, state.join("openid-nonces.tmp")).unwrap();
        let open = state.join("openid-associations.tmp");
        std::fs::write(&open, "").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        victim
    };
    let (out, json) = verify(&dir, &url, &args);
    assert!(
        out.status.success(),
        "{json} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json["verdict"], "verified");
    assert_eq!(json["code"], serde_json::Value::Null);
    assert_eq!(json["identity"], op.claimed());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        for f in ["openid-nonces.json", "openid-associations.json"] {
            let meta = std::fs::symlink_metadata(state.join(f)).unwrap();
            assert!(meta.is_file(), "{f}");
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{f}");
        }
    }
    assert_eq!(
        (
            op.gets.load(Ordering::SeqCst),
            op.posts.load(Ordering::SeqCst)
        ),
        (1, 1)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(state.join("openid-nonces.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The same URL again: the state directory remembers the nonce.
    let (out, json) = verify(&dir, &url, &args);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        (json["verdict"].as_str(), json["code"].as_str()),
        (Some("error"), Some("nonce_reused"))
    );
    assert_eq!(json["identity"], serde_json::Value::Null);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nonce_reused"));
    // A state file that cannot be read (here a directory; as root, modes do not stop reads)
    // or is not text is an error naming it, never empty state: that would forget the nonce
    // and take the replay.
    let nonces = state.join("openid-nonces.json");
    let kept = std::fs::read(&nonces).unwrap();
    std::fs::remove_file(&nonces).unwrap();
    for unreadable in [None, Some(b"{\"\xff\": 1}".as_slice())] {
        match unreadable {
            None => std::fs::create_dir(&nonces).unwrap(),
            Some(bytes) => {
                std::fs::remove_dir(&nonces).unwrap();
                std::fs::write(&nonces, bytes).unwrap();
            }
        }
        let out = verify_output(&dir, &url, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{err}");
        assert!(out.stdout.is_empty(), "{err}");
        assert!(err.contains("openid-nonces.json"), "{err}");
    }
    std::fs::write(&nonces, kept).unwrap();
    let (out, json) = verify(&dir, &url, &args);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json["code"], "nonce_reused");
    // A state directory others may write in (a shared one someone made 0777) is refused before
    // anything is read from it: a planted association or a deleted nonce file would be believed.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
        let out = verify_output(&dir, &url, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            out.stdout.is_empty() && err.contains("others may write"),
            "{err}"
        );
        // A new directory is made private.
        let fresh = dir.join("fresh-state");
        let (out, _) = verify(
            &dir,
            &op.assertion("id_res", None),
            &[
                "--allow-private-addresses",
                "--state-dir",
                fresh.to_str().unwrap(),
            ],
        );
        assert!(out.status.code().is_some());
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}

#[test]
fn associations_file_verifies_without_check_authentication() {
    let op = Provider::start();
    let dir = scratch("assoc");
    let assoc = Association {
        server: op.op(),
        handle: "h1".into(),
        secret: vec![9; 32],
        assoc_type: AssocType::HmacSha256,
        expiry: NOW + 600,
    };
    let file = dir.join("assocs.json");
    std::fs::write(
        &file,
        format!(
            r#"[{{"server": "{}", "handle": "h1", "secret": "{}", "type": "HMAC-SHA256", "expiry": {}}}]"#,
            op.op(),
            "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=",
            NOW + 600
        ),
    )
    .unwrap();
    let url = op.assertion("id_res", Some(&assoc));
    let (out, json) = verify(
        &dir,
        &url,
        &[
            "--allow-private-addresses",
            "--associations",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{json}");
    assert_eq!(op.posts.load(Ordering::SeqCst), 0);
    // A parameter of the return URL changed on the way: refused before any signature work.
    let tampered = url.replace("dest=%2Fhome", "dest=%2Fadmin");
    let (_, json) = verify(
        &dir,
        &tampered,
        &[
            "--allow-private-addresses",
            "--associations",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(json["code"], "bogus_return_to");
}

#[test]
fn private_addresses_are_refused_by_default() {
    let op = Provider::start();
    let dir = scratch("private");
    let (out, json) = verify(&dir, &op.assertion("id_res", None), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json["code"], "no_identity_server");
    assert_eq!(op.gets.load(Ordering::SeqCst), 0);
}

#[test]
fn other_verdicts_and_bad_options() {
    let op = Provider::start();
    let dir = scratch("verdicts");
    let (out, json) = verify(&dir, &op.assertion("cancel", None), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        (json["verdict"].as_str(), json["code"].is_null()),
        (Some("cancelled"), true)
    );
    let (_, json) = verify(&dir, "http://rp.example/openid/return?x=1", &[]);
    assert_eq!(json["verdict"], "not_openid");
    let (_, json) = verify(
        &dir,
        &op.assertion("id_res", None),
        &[
            "--nonce-options",
            r#"{"window": 1}"#,
            "--allow-private-addresses",
        ],
    );
    assert_eq!(json["code"], "nonce_stale");
    let out = Command::new(env!("CARGO_BIN_EXE_authrs"))
        .args([
            "openid",
            "verify",
            "--url",
            "http://x/",
            "--consumer-secret-file",
        ])
        .arg(dir.join("secret"))
        .args(["--nonce-options", r#"{"windw": 1}"#])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--nonce-options"));
    assert!(out.stdout.is_empty());
}

/// `authrs openid verify` with exactly these arguments (no secret file unless given).
fn verify_raw(args: &[&str]) -> (Output, serde_json::Value) {
    with_json(run_verify(args))
}

/// The output and the one JSON line it printed.
fn with_json(out: Output) -> (Output, serde_json::Value) {
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(line.lines().count(), 1, "one JSON line, got {line:?}");
    (out, serde_json::from_str(line.trim()).unwrap())
}

#[test]
fn without_a_secret_file_everything_but_oic_time_is_checked() {
    let op = Provider::start();
    let dir = scratch("nosecret");
    let url = op.assertion("id_res", None);
    let (out, json) = verify_raw(&["--url", &url, "--allow-private-addresses"]);
    assert!(
        out.status.success(),
        "{json} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json["verdict"], "verified");
    assert_eq!(json["identity"], op.claimed());
    assert_eq!(json["oic_time_checked"], false);
    // With a secret file the check is on: another secret than the one that signed it fails.
    std::fs::write(dir.join("other"), b"another secret\n").unwrap();
    let other = dir.join("other");
    let (out, json) = verify_raw(&[
        "--url",
        &url,
        "--allow-private-addresses",
        "--consumer-secret-file",
        other.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json["code"], "time_bad_sig");
    assert_eq!(json["oic_time_checked"], true);
    // The rest is still checked without it: a nonce older than the window is stale.
    let (out, json) = verify_raw(&["--url", &url, "--nonce-options", r#"{"window": 1}"#]);
    assert_eq!(out.status.code(), Some(1), "{json}");
    assert_eq!(json["code"], "nonce_stale");
    assert_eq!(json["oic_time_checked"], false);
}

#[test]
fn provider_text_reaches_stderr_as_one_escaped_line() {
    // openid.error is the provider's (or anyone's) text: a line break or a terminal escape in
    // it must not reach the operator's terminal as such.
    let url = format!(
        "http://rp.example/openid/return?openid.ns={}&openid.mode=error&openid.error=a%0Ab%1B%5B31mred",
        url::form_urlencoded::byte_serialize(NS_2_0.as_bytes()).collect::<String>()
    );
    let (out, json) = verify_raw(&["--url", &url]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json["code"], "provider_error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(err.contains("a\\nb\\u{1b}[31mred"), "{err:?}");
}

#[test]
fn required_root_and_minimum_version_reach_the_check() {
    let op = Provider::start();
    let dir = scratch("root");
    let url = op.assertion("id_res", None);
    let (out, json) = verify(
        &dir,
        &url,
        &["--required-root", "http://elsewhere.example/"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json["code"], "bogus_return_to");
    // Under the root: the check passes and the assertion goes on to verify.
    let (out, json) = verify(
        &dir,
        &url,
        &[
            "--required-root",
            "http://rp.example/openid/",
            "--allow-private-addresses",
        ],
    );
    assert!(out.status.success(), "{json}");
    // A root that is not written as scheme:// is a one-line error, never a crash.
    let out = Command::new(env!("CARGO_BIN_EXE_authrs"))
        .args([
            "openid",
            "verify",
            "--url",
            &url,
            "--required-root",
            "https:a",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.contains("must start with https://"), "{err:?}");
    // --minimum-version 2: a 1.x response is not OpenID at all (the seed's behaviour).
    let v1 = "http://rp.example/openid/return?openid.mode=id_res&openid.identity=http%3A%2F%2Fx%2F";
    let (_, json) = verify(&dir, v1, &["--minimum-version", "2"]);
    assert_eq!(json["verdict"], "not_openid");
    let (_, json) = verify(&dir, v1, &[]);
    assert_eq!(json["verdict"], "error");
    // setup_needed (2.0): its own verdict.
    let (out, json) = verify(&dir, &op.assertion("setup_needed", None), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        (json["verdict"].as_str(), json["code"].is_null()),
        (Some("setup_needed"), true)
    );
}
