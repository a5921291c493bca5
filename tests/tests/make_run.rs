//! `make run`, the README's first command, on free loopback ports: the CLI tour
//! (scripts/demo.sh) shows what it says, and the demo that scripts/run-apache.sh starts (httpd,
//! Envoy through scripts/run-envoy.sh, the scripted OpenID provider) answers every `curl` line
//! it prints as that line's comment promises. The lines are run as printed, so the printed
//! advice cannot rot unnoticed.

use authrs_tests::apache::module_path;
use authrs_tests::curl::Request;
use authrs_tests::envoy::{envoy_bin, wasm_path};
use authrs_tests::{authrs_bin, free_port, scratch, workspace};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Text without the terminal's bold escapes demo.sh prints around its commands.
fn plain(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_ref();
    while let Some(at) = rest.find("\x1b[") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        rest = after.find('m').map_or("", |m| &after[m + 1..]);
    }
    out.push_str(rest);
    out
}

#[test]
fn the_cli_tour_shows_each_outcome_it_announces() {
    let run = scratch("make-run-tour");
    // Errors (`revoked_cert: …`) go to stderr: one stream keeps the tour's order.
    let out = Command::new("bash")
        .args(["-c", "exec bash \"$0\" 2>&1"])
        .arg(workspace().join("scripts/demo.sh"))
        .env("RUN_DIR", &run)
        .env("AUTHRS", authrs_bin())
        .output()
        .expect("run scripts/demo.sh");
    let text = plain(&out.stdout);
    assert!(out.status.success(), "demo.sh failed: {text}");
    let lines: Vec<&str> = text.lines().collect();
    let has = |line: &str| lines.contains(&line);
    assert!(has("demo"), "cert map --rule cn: {text}");
    assert!(has("demo@example.org"), "cert map --rule xmpp: {text}");
    assert!(has("alice@example.org"), "cert map with a template: {text}");
    assert!(
        lines.iter().any(|l| l.starts_with("revoked_cert: ")),
        "the revoked certificate: {text}"
    );
    let verified = lines
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("verify prints JSON"))
        .collect::<Vec<_>>();
    assert_eq!(
        verified.len(),
        1,
        "only the untouched ticket verifies: {text}"
    );
    assert_eq!(verified[0]["user"], "demo");
    assert_eq!(verified[0]["version"], 2, "bound to its cookie name");
    assert!(
        lines.iter().any(|l| l.starts_with("expired: ")),
        "three hours later the 2 h ticket is expired: {text}"
    );
    // The tampered ticket and the ticket under another cookie name.
    let bad = lines
        .iter()
        .filter(|l| l.starts_with("bad_cookie: "))
        .count();
    assert_eq!(bad, 2, "{text}");
    let granted = lines.iter().position(|l| *l == "GRANTED");
    let denied = lines.iter().position(|l| *l == "DENIED");
    assert!(
        granted.is_some() && granted < denied,
        "demo is granted, then alice denied: {text}"
    );
}

/// The demo's process group (bash, httpd, Envoy, the provider), stopped on drop.
struct Demo {
    child: Child,
}

impl Drop for Demo {
    fn drop(&mut self) {
        // TERM to the script runs its EXIT trap (httpd, Envoy, provider); the group catches
        // anything the trap did not.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

fn shell(line: &str) -> Output {
    Command::new("timeout")
        .args(["30", "bash", "-o", "pipefail", "-c", line])
        .output()
        .expect("run a printed command")
}

/// What one printed `curl` line must answer, by what it asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Anonymous,
    Login,
    CertApp,
    Revoked,
    Json,
    EnvoyCert,
    EnvoyAnonymous,
    Stats,
}

fn kind(line: &str, port: u16, envoy: u16) -> Kind {
    let on_envoy = line.contains(&format!(":{envoy}/"));
    if line.contains("/stats") {
        Kind::Stats
    } else if line.contains("credential_0=") {
        Kind::Login
    } else if line.contains("revoked.crt") {
        Kind::Revoked
    } else if line.contains("application/json") {
        Kind::Json
    } else if line.contains("alice.crt") {
        if on_envoy {
            Kind::EnvoyCert
        } else {
            Kind::CertApp
        }
    } else if on_envoy {
        Kind::EnvoyAnonymous
    } else {
        assert!(line.contains(&format!(":{port}/")), "which server? {line}");
        Kind::Anonymous
    }
}

/// The status of the first response in `curl -i` output.
fn status(out: &str) -> u16 {
    out.lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn check(kind: Kind, out: &str) -> Result<(), String> {
    let lower = out.to_ascii_lowercase();
    let ok = match kind {
        Kind::Anonymous | Kind::EnvoyAnonymous => {
            status(out) == 302
                && lower.contains("\nlocation: ")
                && out.contains("/LOGIN?")
                && out.contains("reason=no_cookie")
        }
        Kind::Login => {
            (300..400).contains(&status(out)) && lower.contains("set-cookie: authrs_demo=")
        }
        Kind::CertApp => out.contains("REMOTE_USER=alice") && out.contains("AUTHRS_METHOD=cert"),
        Kind::EnvoyCert => out.contains("HTTP_X_AUTHRS_USER=alice"),
        Kind::Revoked => out.contains("revoked_cert"),
        Kind::Json => status(out) == 401,
        Kind::Stats => out.contains("wasmcustom.authrs"),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{kind:?} answered:\n{out}"))
    }
}

fn wait_ready(admin: u16, printed: &Path, demo: &mut Demo) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(Some(st)) = demo.child.try_wait() {
            panic!(
                "run-apache.sh exited ({st}) before the demo was up:\n{}",
                std::fs::read_to_string(printed).unwrap_or_default()
            );
        }
        let text = std::fs::read_to_string(printed).unwrap_or_default();
        // The banner is printed just before httpd starts; Envoy says LIVE once configured.
        let live = text.contains("Browser:")
            && Request::get(format!("http://127.0.0.1:{admin}/ready"))
                .try_send()
                .is_some_and(|r| r.status == 200 && r.body.contains("LIVE"));
        if live {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "the demo did not come up in 120 s:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn make_run_answers_every_command_it_prints() {
    let run = scratch("make-run");
    let (port, envoy, admin, backend, op) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let printed = run.join("printed.txt");
    let stdout = std::fs::File::create(&printed).expect("output file");
    let stderr = stdout.try_clone().expect("output file");
    let child = {
        use std::os::unix::process::CommandExt;
        Command::new("bash")
            .arg(workspace().join("scripts/run-apache.sh"))
            .env("RUN_DIR", &run)
            .env("AUTHRS", authrs_bin())
            .env("MODULE", module_path())
            .env("WASM", wasm_path())
            .env("ENVOY", envoy_bin())
            .env("AUTHRS_DEMO_PORT", port.to_string())
            .env("AUTHRS_ENVOY_PORT", envoy.to_string())
            .env("AUTHRS_ENVOY_ADMIN_PORT", admin.to_string())
            .env("AUTHRS_BACKEND_PORT", backend.to_string())
            .env("AUTHRS_OPENID_OP_PORT", op.to_string())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .expect("start scripts/run-apache.sh")
    };
    let mut demo = Demo { child };
    let text = wait_ready(admin, &printed, &mut demo);
    // The demo's secrets — the ticket key, the OpenID secret, and Envoy's rendered bootstrap,
    // which holds both — are readable by their owner only.
    for secret in ["demo/ticket.key", "demo/openid.secret", "envoy/envoy.yaml"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(run.join(secret))
            .expect(secret)
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{secret} is mode {mode:o}");
    }
    let try_lines: Vec<&str> = text
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("curl "))
        .collect();
    let mut seen = Vec::new();
    for line in &try_lines {
        let k = kind(line, port, envoy);
        // httpd may still be starting its workers when Envoy is already live: a few tries.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = shell(line);
            let answer = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            match check(k, &answer) {
                Ok(()) => break,
                Err(e) if Instant::now() >= deadline => panic!("`{line}`: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(300)),
            }
        }
        seen.push(k);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen,
        [
            Kind::Anonymous,
            Kind::Login,
            Kind::CertApp,
            Kind::Revoked,
            Kind::Json,
            Kind::EnvoyCert,
            Kind::EnvoyAnonymous,
            Kind::Stats
        ],
        "the printed commands cover each case once: {try_lines:#?}"
    );
    // "demo user: demo / demo", and one login works on both servers (same key, same cookie).
    let ca = run.join("demo/certs/ca.crt");
    let login = Request::post_form(
        format!("https://127.0.0.1:{port}/LOGIN"),
        "credential_0=demo&credential_1=demo&destination=/app/",
    )
    .ca(&ca)
    .send();
    let ticket = login
        .cookie("AuthRs_Demo")
        .unwrap_or_else(|| panic!("the demo user logs in: {login:?}"));
    for (server, user_var) in [(port, "REMOTE_USER"), (envoy, "HTTP_X_AUTHRS_USER")] {
        let r = Request::get(format!("https://127.0.0.1:{server}/app/cgi/echo"))
            .ca(&ca)
            .cookie("AuthRs_Demo", &ticket)
            .send();
        assert_eq!(r.status, 200, "port {server}: {r:?}");
        assert_eq!(r.env(user_var), Some("demo"), "port {server}: {r:?}");
    }
    // Logging out of httpd revokes the ticket there (the demo revokes on logout).
    let out = Request::get(format!("https://127.0.0.1:{port}/LOGOUT"))
        .ca(&ca)
        .cookie("AuthRs_Demo", &ticket)
        .send();
    assert_eq!(out.status, 303, "{out:?}");
    let r = Request::get(format!("https://127.0.0.1:{port}/app/cgi/echo"))
        .ca(&ca)
        .cookie("AuthRs_Demo", &ticket)
        .send();
    assert_eq!(r.header("x-authrs-reason"), Some("bad_cookie"), "{r:?}");
}

/// The demo keeps keys and a CA key in its run directory and reuses them: one that others may
/// write to (say a world-writable directory planted before `make run`) is refused, untouched.
#[test]
fn the_demo_refuses_a_run_directory_others_may_write() {
    use std::os::unix::fs::PermissionsExt;
    let run = scratch("make-run-shared");
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = Command::new("bash")
        .arg(workspace().join("scripts/demo.sh"))
        .env("RUN_DIR", &run)
        .env("AUTHRS", authrs_bin())
        .output()
        .expect("run scripts/demo.sh");
    assert!(
        !out.status.success(),
        "demo.sh used a world-writable run directory"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refusing"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !run.join("demo").exists(),
        "demo material was written there"
    );
}
