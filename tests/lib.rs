//! Shared helpers for the integration tests in `tests/tests/`: a real httpd in a throw-away
//! ServerRoot, demo certificates made by openssl, and curl as the HTTP client.

pub mod apache;
pub mod curl;
pub mod envoy;
pub mod openid_login;
pub mod openid_provider;
pub mod scenarios;
pub mod webdriver;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A free TCP port on 127.0.0.1 (bound and released; the tests' servers bind it right after).
/// Never the same port twice in one test process, so parallel tests cannot be handed one
/// another's port; another process may still take it (the harnesses retry on that).
pub fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().expect("local addr").port();
        let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
        if given.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
}

/// The `authrs` binary (`cargo build -p authrs-cli`; `make test` builds it first).
pub fn authrs_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let bin = target.join("debug/authrs");
    assert!(
        bin.exists(),
        "{} is missing: `cargo build -p authrs-cli` (make test builds it first)",
        bin.display()
    );
    bin
}

/// A fresh scratch directory under the system temp dir, made by this call: `mkdir` of a name
/// nobody holds yet (never a directory or symlink someone else put there first — the tests run
/// as root, and /tmp is shared).
pub fn scratch(tag: &str) -> PathBuf {
    fresh_dir(&std::env::temp_dir(), &format!("authrs-{tag}"))
}

/// Creates `<parent>/<prefix>-<pid>-<n>` for the first `n` whose name is free; the path made.
pub fn fresh_dir(parent: &Path, prefix: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    for _ in 0..10_000 {
        let d = parent.join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::create_dir(&d) {
            Ok(()) => return d,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("scratch dir {}: {e}", d.display()),
        }
    }
    panic!("no free scratch directory name under {}", parent.display())
}

/// Demo CA, server and client certificates and a CRL (scripts/gen-demo-certs.sh), in `dir`.
pub fn demo_certs(dir: &Path) {
    let st = Command::new("bash")
        .arg(workspace().join("scripts/gen-demo-certs.sh"))
        .arg(dir)
        .status()
        .expect("run gen-demo-certs.sh");
    assert!(
        st.success(),
        "gen-demo-certs.sh failed (openssl must be installed)"
    );
}

/// A self-signed device certificate `dir/name.{crt,key}` (no CA) naming bob@example.org in its
/// xmppAddr SAN, as users enrol them.
pub fn self_signed(dir: &Path, name: &str, subject: &str) {
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "30",
        ])
        .args([
            "-subj",
            subject,
            "-addext",
            "subjectAltName=otherName:1.3.6.1.5.5.7.8.5;UTF8:bob@example.org",
        ])
        .arg("-keyout")
        .arg(dir.join(format!("{name}.key")))
        .arg("-out")
        .arg(dir.join(format!("{name}.crt")))
        .output()
        .expect("openssl");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
}

/// Runs `attempt` until one run starts and ends in the same UNIX second (at most 5 runs) and
/// returns that run's result: for checks of what the servers do within one second. Each run
/// starts just after a second begins.
pub fn within_one_second<T>(mut attempt: impl FnMut() -> T) -> T {
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
    };
    for _ in 0..5 {
        // Start just after a second begins: the run has all of it, and no earlier run shares it.
        let into = now().subsec_nanos();
        std::thread::sleep(std::time::Duration::from_nanos(
            1_000_000_000 - u64::from(into) + 5_000_000,
        ));
        let start = now().as_secs();
        let out = attempt();
        if now().as_secs() == start {
            return out;
        }
    }
    panic!("no run of the attempt fitted in one second (5 tries)");
}

/// The two-client flood tests of both shells: within one second, 127.0.0.1 sends a header only
/// authrs may set twice, then 127.0.0.2 another one once (`send(from, header)` makes the request
/// and checks its answer). Returns the `AUTHRS0204` lines `log` gained meanwhile, lowercased,
/// and that part of the log.
pub fn spoof_from_two_clients(
    send: impl Fn(&str, &str),
    log: impl Fn() -> String,
) -> (Vec<String>, String) {
    let part = within_one_second(|| {
        let before = log().len();
        for (from, header) in [
            ("127.0.0.1", "X-AuthRs-User: admin"),
            ("127.0.0.1", "X-AuthRs-User: admin"),
            ("127.0.0.2", "X-AuthRs-Roles: admin"),
        ] {
            send(from, header);
        }
        log()[before..].to_string()
    });
    let lines = part
        .lines()
        .filter(|l| l.contains("AUTHRS0204"))
        .map(str::to_ascii_lowercase)
        .collect();
    (lines, part)
}

/// Checks a log where `attempts` requests each caused warning `id` (lines containing `marker`)
/// under the once-a-second limit: at least one line, fewer than `attempts`, and every attempt
/// either a line or in the `(N more <id> since, not logged)` count of a later line.
pub fn assert_rate_limited(log: &str, marker: &str, id: &str, attempts: usize) {
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(marker)).collect();
    assert!(
        !lines.is_empty() && lines.len() < attempts,
        "{} lines:\n{log}",
        lines.len()
    );
    let suffix = format!(" more {id} since, not logged)");
    let left_out: usize = lines
        .iter()
        .filter_map(|l| l.rsplit(" (").next())
        .filter_map(|t| t.strip_suffix(suffix.as_str()))
        .filter_map(|n| n.parse::<usize>().ok())
        .sum();
    assert_eq!(lines.len() + left_out, attempts, "{lines:#?}");
}
