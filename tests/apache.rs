//! A real Debian httpd (`/usr/sbin/apache2`) with mod_ssl and mod_authrs in a throw-away
//! ServerRoot on a free 127.0.0.1 port. Never the system service.

use crate::{demo_certs, free_port, scratch, workspace};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where httpd keeps its modules on Debian.
const MODULES: &str = "/usr/lib/apache2/modules";

/// The mod_authrs shared object built by `cargo build -p mod_authrs`; with
/// `AUTHRS_TEST_PANIC_BUILD` set, the `--features test-panic` build in target/test-panic.
pub fn module_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let so = match std::env::var_os("AUTHRS_TEST_PANIC_BUILD") {
        Some(_) => target.join("test-panic/debug/libmod_authrs.so"),
        None => target.join("debug/libmod_authrs.so"),
    };
    assert!(
        so.exists(),
        "{} is missing: `make test` builds it first",
        so.display()
    );
    so
}

/// The multi-processing module httpd runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mpm {
    /// mpm_event: one child with 16 threads (the default of these tests).
    Event,
    /// mpm_prefork: one request per process, and every connection served by a fresh process
    /// (`MaxConnectionsPerChild 1`, no keep-alive), to prove state is shared between processes.
    PreforkFreshProcesses,
}

/// A running httpd; stopped when dropped.
pub struct Apache {
    /// The ServerRoot (conf, logs, htdocs, cgi-bin).
    pub root: PathBuf,
    /// Demo certificates (ca.crt, server, demo, alice, revoked, ca.crl).
    pub certs: PathBuf,
    /// The HTTPS port on 127.0.0.1.
    pub port: u16,
    child: Child,
}

/// The CGI echo script: prints the environment the application sees.
const ECHO_CGI: &str =
    "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nenv | sort\necho WORKER_UID=$(id -u)\n";

impl Apache {
    /// Writes a config with `site` inside the TLS vhost and `global` at server level, and starts httpd.
    pub fn start(global: &str, site: &str) -> Apache {
        let root = scratch("httpd");
        let certs = root.join("certs");
        demo_certs(&certs);
        Self::start_in(root, certs, global, site)
    }

    /// As [`Apache::start`] in an existing root with certificates already made.
    pub fn start_in(root: PathBuf, certs: PathBuf, global: &str, site: &str) -> Apache {
        Self::start_with(root, certs, Mpm::Event, global, site)
    }

    /// As [`Apache::start_in`] under the given MPM.
    pub fn start_with(root: PathBuf, certs: PathBuf, mpm: Mpm, global: &str, site: &str) -> Apache {
        for d in ["logs", "htdocs/app", "htdocs/cert", "cgi-bin", "run"] {
            std::fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        std::fs::write(root.join("htdocs/index.html"), "public\n").expect("write");
        std::fs::write(root.join("htdocs/app/index.html"), "protected app\n").expect("write");
        write_script(&root.join("cgi-bin/echo"), ECHO_CGI);
        // free_port() releases the port before httpd binds it: another process may take it in
        // between. httpd then exits with "Address already in use"; try again with a new port.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port();
            let conf = root.join("httpd.conf");
            std::fs::write(&conf, config(&root, &certs, port, mpm, global, site))
                .expect("write conf");
            if attempt > 1 {
                let _ = std::fs::remove_file(root.join("logs/error.log"));
            }
            let mut command = Command::new("/usr/sbin/apache2");
            if mpm == Mpm::PreforkFreshProcesses {
                // prefork stops by signalling its whole process group: give it its own, or the
                // test runner (and whatever started it) is terminated with it.
                use std::os::unix::process::CommandExt;
                command.process_group(0);
            }
            let child = command
                .arg("-d")
                .arg(&root)
                .arg("-f")
                .arg(&conf)
                .arg("-DFOREGROUND")
                .env_remove("APACHE_RUN_DIR")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("/usr/sbin/apache2 must be installed (apt-get install apache2)");
            let mut a = Apache {
                root: root.clone(),
                certs: certs.clone(),
                port,
                child,
            };
            match a.wait_ready() {
                Ok(()) => return a,
                Err(log) if attempt < 5 && log.contains("Address already in use") => continue,
                Err(log) => panic!("{log}"),
            }
        }
    }

    /// Waits until httpd listens; `Err(why, with its stderr and error log)` when it exits or
    /// does not listen in 20 s.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut stderr);
                }
                return Err(format!(
                    "httpd exited with {status}: {stderr}{}",
                    self.error_log()
                ));
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "httpd did not listen on {} in 20 s: {}",
            self.port,
            self.error_log()
        ))
    }

    /// Restarts httpd in place — `graceful` (SIGUSR1, what `apachectl graceful` and logrotate
    /// send) or not (SIGHUP) — and waits until the new generation serves.
    pub fn restart(&mut self, graceful: bool) {
        const RESUMED: &str = "resuming normal operations";
        let before = self.error_log().matches(RESUMED).count();
        let signal = if graceful { "-USR1" } else { "-HUP" };
        let sent = Command::new("kill")
            .arg(signal)
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(sent.success(), "kill {signal} failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.error_log().matches(RESUMED).count() <= before {
            assert!(
                Instant::now() < deadline,
                "httpd did not restart in 20 s: {}",
                self.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Err(log) = self.wait_ready() {
            panic!("{log}");
        }
    }

    /// `https://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{}", self.port, path)
    }

    /// The error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.root.join("logs/error.log")).unwrap_or_default()
    }

    /// Error-log lines at warn or worse that match none of `allowed` (substrings such as log ids).
    pub fn unexpected_log_lines(&self, allowed: &[&str]) -> Vec<String> {
        self.error_log()
            .lines()
            .filter(|l| {
                ["[error]", "[warn]", "[crit]", "[alert]", "[emerg]"]
                    .iter()
                    .any(|lvl| l.contains(&lvl[..]))
                    || l.contains(":error]")
                    || l.contains(":warn]")
                    || l.contains(":crit]")
            })
            .filter(|l| !allowed.iter().any(|a| l.contains(a)))
            .map(str::to_string)
            .collect()
    }

    /// Fails the test if the error log has a warn-or-worse line matching none of `allowed`.
    pub fn assert_clean_log(&self, allowed: &[&str]) {
        let unexpected = self.unexpected_log_lines(allowed);
        assert!(
            unexpected.is_empty(),
            "unexpected error-log lines:\n{}",
            unexpected.join("\n")
        );
    }

    /// The CA that signed the server certificate.
    pub fn ca(&self) -> PathBuf {
        self.certs.join("ca.crt")
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return; // exited already (and reaped): its pid may belong to someone else now
        }
        // SIGTERM lets httpd remove its pid file and shared memory.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes an executable script (a CGI) at `path`.
pub fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Runs `apache2 -t` over a config made from `global` and `site`; returns (success, output).
pub fn config_test(global: &str, site: &str) -> (bool, String) {
    let root = scratch("httpd-t");
    demo_certs(&root.join("certs"));
    config_test_in(&root, global, site)
}

/// [`config_test`] in a scratch `root` whose `certs` already exist (many checks, one set of
/// certificates).
pub fn config_test_in(root: &Path, global: &str, site: &str) -> (bool, String) {
    let root = root.to_path_buf();
    let certs = root.join("certs");
    for d in ["logs", "htdocs", "cgi-bin", "run"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    let conf = root.join("httpd.conf");
    std::fs::write(
        &conf,
        config(&root, &certs, free_port(), Mpm::Event, global, site),
    )
    .expect("write conf");
    let out = Command::new("/usr/sbin/apache2")
        .arg("-d")
        .arg(&root)
        .arg("-f")
        .arg(&conf)
        .arg("-t")
        .output()
        .expect("/usr/sbin/apache2 must be installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Whether this process runs as root (httpd then needs a User to drop to).
pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Starts httpd over a config made from `global` and `site` and expects it to refuse to run
/// (post_config failures are not caught by `apache2 -t`); returns what it printed and logged.
pub fn start_fails(global: &str, site: &str) -> String {
    let root = scratch("httpd-fail");
    let certs = root.join("certs");
    demo_certs(&certs);
    for d in ["logs", "htdocs", "cgi-bin", "run"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    let conf = root.join("httpd.conf");
    std::fs::write(
        &conf,
        config(&root, &certs, free_port(), Mpm::Event, global, site),
    )
    .expect("write conf");
    let mut child = Command::new("/usr/sbin/apache2")
        .arg("-d")
        .arg(&root)
        .arg("-f")
        .arg(&conf)
        .arg("-DFOREGROUND")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/sbin/apache2 must be installed");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            assert!(!status.success(), "httpd exited 0");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("httpd started although it should have refused to");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut out);
    }
    out + &std::fs::read_to_string(root.join("logs/error.log")).unwrap_or_default()
}

/// `@PORT@` in `global` and `site` becomes the port httpd listens on (for absolute URLs).
fn config(root: &Path, certs: &Path, port: u16, mpm: Mpm, global: &str, site: &str) -> String {
    let (global, site) = (
        &global.replace("@PORT@", &port.to_string()),
        &site.replace("@PORT@", &port.to_string()),
    );
    let modules = [
        match mpm {
            Mpm::Event => ("mpm_event_module", "mod_mpm_event.so"),
            Mpm::PreforkFreshProcesses => ("mpm_prefork_module", "mod_mpm_prefork.so"),
        },
        ("authn_core_module", "mod_authn_core.so"),
        ("authn_file_module", "mod_authn_file.so"),
        ("authn_dbm_module", "mod_authn_dbm.so"),
        ("authz_core_module", "mod_authz_core.so"),
        ("authz_user_module", "mod_authz_user.so"),
        ("authz_host_module", "mod_authz_host.so"),
        ("authz_groupfile_module", "mod_authz_groupfile.so"),
        ("mime_module", "mod_mime.so"),
        ("dir_module", "mod_dir.so"),
        ("alias_module", "mod_alias.so"),
        ("env_module", "mod_env.so"),
        ("headers_module", "mod_headers.so"),
        ("cgid_module", "mod_cgid.so"),
        ("socache_shmcb_module", "mod_socache_shmcb.so"),
        ("ssl_module", "mod_ssl.so"),
    ];
    let mut c = String::new();
    c.push_str(&format!("ServerRoot \"{}\"\n", root.display()));
    c.push_str("ServerName 127.0.0.1\n");
    c.push_str(&format!("PidFile \"{}/run/httpd.pid\"\n", root.display()));
    c.push_str(&format!("DefaultRuntimeDir \"{}/run\"\n", root.display()));
    c.push_str(&format!("ErrorLog \"{}/logs/error.log\"\n", root.display()));
    c.push_str("LogLevel warn authrs:debug\n");
    // As Debian's own config does: when started as root, workers drop to www-data.
    if is_root() {
        c.push_str("User www-data\nGroup www-data\n");
    }
    for (name, file) in modules {
        c.push_str(&format!("LoadModule {name} {MODULES}/{file}\n"));
    }
    c.push_str(&format!(
        "LoadModule authrs_module \"{}\"\n",
        module_path().display()
    ));
    c.push_str(&format!(
        "ScriptSock \"{}/run/cgid.sock\"\n",
        root.display()
    ));
    c.push_str(match mpm {
        Mpm::Event => "StartServers 1\nServerLimit 1\nThreadsPerChild 16\nMaxRequestWorkers 16\nMinSpareThreads 1\nMaxSpareThreads 16\n",
        Mpm::PreforkFreshProcesses => "StartServers 4\nMinSpareServers 3\nMaxSpareServers 6\nServerLimit 16\nMaxRequestWorkers 16\nMaxConnectionsPerChild 1\nKeepAlive Off\n",
    });
    c.push_str("Mutex file:run default\n");
    c.push_str(&format!("Listen 127.0.0.1:{port} https\n"));
    c.push_str(&format!("DocumentRoot \"{}/htdocs\"\n", root.display()));
    c.push_str(&format!(
        "ScriptAlias /cgi-bin/ \"{}/cgi-bin/\"\n",
        root.display()
    ));
    c.push_str(&format!(
        "ScriptAlias /app/cgi/ \"{}/cgi-bin/\"\n",
        root.display()
    ));
    c.push_str("TypesConfig /etc/mime.types\n");
    c.push_str(&format!(
        "SSLSessionCache \"shmcb:{}/run/ssl_scache(512000)\"\n",
        root.display()
    ));
    c.push_str(global);
    c.push('\n');
    c.push_str(&format!(
        "<VirtualHost 127.0.0.1:{port}>\n\
         SSLEngine on\n\
         SSLCertificateFile \"{certs}/server.crt\"\n\
         SSLCertificateKeyFile \"{certs}/server.key\"\n\
         SSLCACertificateFile \"{certs}/ca.crt\"\n\
         SSLVerifyClient optional\n\
         SSLVerifyDepth 2\n\
         SSLOptions +StdEnvVars +ExportCertData\n\
         {site}\n\
         </VirtualHost>\n",
        certs = certs.display()
    ));
    c
}
