//! The proxy-wasm contexts: configuration (root) and one request (http).

use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use authrs_core::engine::openid_flow;
use authrs_core::engine::{
    decide, login, logout, recognize, Decision, Level, Note, PasswordCheck, Stores, Verdict,
};
use authrs_core::login_page::{query_params, render_for, DEFAULT_TEMPLATE};
use authrs_core::password::Htpasswd;
use authrs_core::proxy::{is_proxy_header, is_reserved_header, proxy_tls_facts};
use authrs_core::quiet::{flood_prone, Quieter};
use authrs_core::request::RequestFacts;
use authrs_core::site::{Endpoint, Passwords, Scope, Site};
use authrs_core::time::UnixTime;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MapType};

use crate::facts::{
    has_proxy_headers, own_tls, peer_address, request_facts, set_xfcc, CertCache, Connection,
    Incoming,
};
use crate::metrics::Metrics;
use crate::reply::{self, Reply};
use crate::store::{self, SharedRevocations};

// A child module, so the OpenID steps reach the stream's private state without widening it.
#[path = "openid.rs"]
mod openid;

/// Largest login form body read; a bigger one is answered 413 without reading further.
const MAX_LOGIN_BODY: usize = 16 * 1024;

/// Registers the root context and the panic hook.
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        // Critical, with a stable id; the message never holds request data we did not put there.
        let _ = hostcalls::log(
            LogLevel::Critical,
            &format!("authrs: AUTHRS0900: panic: {info}"),
        );
    }));
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}

// Every message goes to Envoy, which drops those below its level. Not gated on
// `get_log_level`: Envoy answers with spdlog's level as is, and its "off" (6) is outside the
// SDK's `LogLevel`, which proxy-wasm 0.2.5 reads it into. A valid ticket logs nothing anyway.
fn log(level: LogLevel, ctx: u32, message: &str) {
    let _ = hostcalls::log(level, &format!("authrs[{ctx}]: {message}"));
}

thread_local! {
    /// The [`FLOOD_PRONE`](authrs_core::quiet::FLOOD_PRONE) warnings of this VM: each logged once a second per client, for at
    /// most [`CLIENTS_PER_SECOND`](authrs_core::quiet::CLIENTS_PER_SECOND) clients a second,
    /// with how many were left out (a client sending `X-AuthRs-User` with every request must not
    /// fill Envoy's log; `authrs.spoofing_attempts` counts every one).
    static QUIETED: std::cell::RefCell<Quieter> = const { std::cell::RefCell::new(Quieter::new()) };
}

/// Logs `message` (which starts with its id) at warn level; a flood-prone one through
/// [`QUIETED`], asking `client` for the client's address (a host call, made only then).
fn log_warning(ctx: u32, message: &str, client: impl FnOnce() -> Option<IpAddr>) {
    if flood_prone(message).is_none() {
        return log(LogLevel::Warn, ctx, message);
    }
    let (client, now) = (client(), now_secs());
    let admitted = QUIETED.with(|q| match q.try_borrow_mut() {
        Ok(mut q) => q
            .admit(message, client, now)
            .map(std::borrow::Cow::into_owned),
        Err(_) => Some(message.to_string()),
    });
    if let Some(line) = admitted {
        log(LogLevel::Warn, ctx, &line);
    }
}

/// Envoy's clock since the epoch (zero if it cannot say).
fn now() -> Duration {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default()
}

fn now_secs() -> UnixTime {
    now().as_secs() as UnixTime
}

/// The tick period while the bucket key is not confirmed.
const CONFIRM_PERIOD: Duration = Duration::from_millis(100);

/// Whether the site keeps anything in shared-data buckets (revocations, OpenID state).
fn uses_buckets(site: &Site) -> bool {
    site.uses_revocation || site.openid_clusters.is_some()
}

/// Reads (or makes) the secret bucket key and looks for an older build's buckets (see
/// `buckets`): at configure and on every tick. Until a key is read, the buckets' stores fail
/// closed.
fn refresh_buckets() {
    // Used only when no key exists yet; without random bytes none is made (an error below).
    let mut fresh = [0u8; 16];
    let fresh = getrandom::fill(&mut fresh).ok().map(|()| fresh);
    let now_ms = u64::try_from(now().as_millis()).unwrap_or(u64::MAX);
    match crate::buckets::refresh(&crate::openid_store::Host, fresh, now_ms) {
        None => {}
        Some(crate::buckets::Said::Switched) => log(
            LogLevel::Info,
            0,
            "AUTHRS0007: another VM made the shared-data bucket key at the same time: using it",
        ),
        Some(crate::buckets::Said::Problem(problem)) => log(
            LogLevel::Error,
            0,
            &format!("AUTHRS0005: shared-data buckets: {problem}"),
        ),
    }
}

/// Ticks between tries to copy the revocations of a build before the buckets once a try failed.
const OLD_INDEX_BACKOFF: u32 = 60;

/// The configured plugin, shared by the requests of this VM.
#[derive(Default)]
struct Root {
    site: Option<Rc<Site>>,
    metrics: Option<Rc<Metrics>>,
    /// Fast ticks left while the bucket key is not confirmed (writes to the buckets wait for it).
    fast_ticks: u32,
    /// Ticks to let pass before trying again to copy a pre-bucket build's revocations.
    old_index_wait: u32,
    /// Parsed client certificates of recent connections (kept across configuration reloads:
    /// parsing does not depend on the configuration).
    certs: Rc<RefCell<CertCache>>,
}

impl Context for Root {}

impl Root {
    /// Copies what a build before the buckets revoked into them (see `store::move_old_index`);
    /// after a failed try, waits [`OLD_INDEX_BACKOFF`] ticks (a big index is costly to copy).
    fn copy_old_index(&mut self) {
        if self.old_index_wait > 0 {
            self.old_index_wait -= 1;
            return;
        }
        if let Some(e) = store::move_old_index(&crate::openid_store::Host, now_secs()) {
            self.old_index_wait = OLD_INDEX_BACKOFF;
            log(
                LogLevel::Warn,
                0,
                &format!(
                    "AUTHRS0008: revocations of a build before the buckets not all copied \
                     (tried again in a minute): {e}"
                ),
            );
        }
    }
}

impl RootContext for Root {
    fn on_tick(&mut self) {
        if let Some(m) = &self.metrics {
            m.flush();
        }
        let Some(site) = &self.site else {
            return;
        };
        if !uses_buckets(site) {
            return;
        }
        let revocation = site.uses_revocation;
        refresh_buckets();
        let confirmed = crate::buckets::state().is_some_and(|k| k.confirmed);
        if confirmed && revocation {
            self.copy_old_index();
        }
        if self.fast_ticks > 0 {
            // Back to the usual period once confirmed, or after two seconds of trying (a key
            // that cannot be read is logged once a tick: not ten times a second).
            self.fast_ticks = if confirmed { 0 } else { self.fast_ticks - 1 };
            if self.fast_ticks == 0 {
                self.set_tick_period(crate::metrics::FLUSH_PERIOD);
            }
        }
    }

    fn on_configure(&mut self, _size: usize) -> bool {
        let metrics = self
            .metrics
            .get_or_insert_with(|| Rc::new(Metrics::define()));
        metrics.inc("authrs.config_reloads");
        metrics.flush();
        // Request counters are flushed on the tick (see `metrics`).
        self.set_tick_period(crate::metrics::FLUSH_PERIOD);
        let text = self
            .get_plugin_configuration()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        match Site::from_json_str(&text) {
            Ok(site) => {
                if uses_buckets(&site) {
                    refresh_buckets();
                    // A new key is confirmed after half a second of ticks: make them come soon.
                    if !crate::buckets::state().is_some_and(|k| k.confirmed) {
                        self.fast_ticks = 20;
                        self.set_tick_period(CONFIRM_PERIOD);
                    }
                }
                if site.uses_revocation {
                    store::init(&crate::openid_store::Host);
                    if crate::buckets::state().is_some_and(|k| k.confirmed) {
                        self.copy_old_index();
                    }
                }
                if site.openid_clusters.is_some() {
                    crate::openid_store::init(&crate::openid_store::Host);
                }
                for w in site.warnings() {
                    log(LogLevel::Warn, 0, &format!("AUTHRS0003: {w}"));
                }
                self.site = Some(Rc::new(site));
                log(LogLevel::Info, 0, "AUTHRS0001: configuration loaded");
                true
            }
            Err(e) => {
                // The error names the key and the reason; secrets are redacted by the core.
                log(
                    LogLevel::Critical,
                    0,
                    &format!("AUTHRS0002: configuration refused: {e}"),
                );
                false
            }
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        let site = self.site.clone()?;
        let metrics = self.metrics.clone()?;
        Some(Box::new(Stream {
            id: context_id,
            site,
            metrics,
            certs: Rc::clone(&self.certs),
            state: State::Headers,
            set_cookie: None,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// Where a request is in its life.
enum State {
    /// Before or at the request headers.
    Headers,
    /// A login POST: waiting for the whole body.
    LoginBody {
        facts: Box<RequestFacts<'static>>,
        path: String,
    },
    /// A login POST: waiting for the password service's answer.
    PasswordCall {
        facts: Box<RequestFacts<'static>>,
        path: String,
        body: Vec<u8>,
        token: u32,
        user: String,
        password: String,
    },
    /// An OpenID login step waiting for a callout (discovery, association, verification).
    OpenId(Box<openid::Call>),
    /// Answered locally or let through; nothing more to do on the request side.
    Done,
}

struct Stream {
    id: u32,
    site: Rc<Site>,
    metrics: Rc<Metrics>,
    certs: Rc<RefCell<CertCache>>,
    state: State,
    /// A refreshed ticket to add to the upstream's response.
    set_cookie: Option<String>,
}

impl Context for Stream {
    fn on_http_call_response(
        &mut self,
        token: u32,
        _headers: usize,
        body: usize,
        _trailers: usize,
    ) {
        let state = std::mem::replace(&mut self.state, State::Done);
        if let State::OpenId(call) = state {
            return self.openid_response(token, call, body);
        }
        let State::PasswordCall {
            facts,
            path,
            body,
            token: expected,
            user,
            password,
        } = state
        else {
            return;
        };
        if token != expected {
            self.reply_plain(500, "unexpected password service answer");
            return;
        }
        let headers = call_headers();
        let answer = match header_of(&headers, ":status") {
            Some("200") => Ok(true),
            Some("401") | Some("403") => Ok(false),
            Some(other) => Err(format!("password service answered {other}")),
            None => Err("password service did not answer (timeout or reset)".to_string()),
        };
        let site = Rc::clone(&self.site);
        let scope = site.route(&path);
        if let Err(e) = &answer {
            let cluster = match &scope.passwords {
                Passwords::Service(svc) => svc.cluster.as_str(),
                _ => "",
            };
            log(
                LogLevel::Error,
                self.id,
                &format!("AUTHRS0306: password service cluster {cluster:?}: {e}"),
            );
        }
        // A store that matches names loosely (LDAP, a case-insensitive database) names the user
        // it found, as httpd's providers set r->user: the ticket then carries that spelling.
        let canonical = header_of(&headers, "x-authrs-user").map(str::to_string);
        let mut check = Answered {
            user,
            password,
            answer,
            canonical,
        };
        let d = login(&scope.policy, &facts, &body, now_secs(), &mut check);
        self.finish(scope, d);
    }
}

/// The password service's answer headers; empty when the callout failed (reset, timeout, a
/// body over Envoy's limit). Envoy then has no response headers: it answers a read of one value
/// with BadArgument, on which the SDK's `get_http_call_response_header` panics (a VM reload
/// under FAIL_RELOAD, failing every request in flight), while the whole map reads as empty.
fn call_headers() -> Vec<(String, Vec<u8>)> {
    hostcalls::get_map_bytes(MapType::HttpCallResponseHeaders).unwrap_or_default()
}

/// The first value of header `name` (lowercase, as Envoy hands them over) that is UTF-8.
fn header_of<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// The password service's answer, given to the core's login for the user and password asked about.
struct Answered {
    user: String,
    password: String,
    answer: Result<bool, String>,
    /// The service's `x-authrs-user` on its 200: the name its store knows the user by.
    canonical: Option<String>,
}

impl PasswordCheck for Answered {
    fn check(&mut self, user: &str, password: &str) -> Result<bool, String> {
        if user != self.user || password != self.password {
            return Err("password check for a different credential than asked".to_string());
        }
        self.answer.clone()
    }

    fn canonical_user(&self) -> Option<String> {
        self.canonical.clone()
    }
}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _n: usize, end_of_stream: bool) -> Action {
        let raw = self.get_http_request_headers_bytes();
        #[cfg(feature = "test-panic")]
        if raw.iter().any(|(n, _)| n == "authrs-test-panic") {
            panic!("test panic requested");
        }
        let Incoming {
            mut facts,
            reserved,
        } = request_facts(raw);
        if !reserved.is_empty() {
            // Only the filter may set X-AuthRs-*: drop every incoming copy, protected or not.
            self.metrics.inc("authrs.spoofing_attempts");
            log_warning(
                self.id,
                &format!(
                    "AUTHRS0204: removed request headers only authrs may set: {}",
                    reserved.join(", ")
                ),
                || self.peer(),
            );
            for name in &reserved {
                self.set_http_request_header(name, None);
            }
        }
        if self.site.reads_peer || has_proxy_headers(&facts) {
            // Every host call that returns data costs a call back into the VM: the client
            // address is read only where it counts (and for the spoofing warning that names it).
            facts.peer = self.peer();
        }
        let site = Rc::clone(&self.site);
        let (path, scope) = match site.locate(&full_path(&facts)) {
            Ok(located) => located,
            Err(e) => {
                self.metrics.inc("authrs.bad_paths");
                log(LogLevel::Info, self.id, &format!("AUTHRS0101: {e}"));
                self.reply_plain(400, "Bad Request");
                return Action::Pause;
            }
        };
        match site.endpoint(&path) {
            Some(Endpoint::Login) => return self.login_headers(facts, path, end_of_stream),
            Some(Endpoint::Logout) => {
                self.tls(&mut facts, scope);
                let now = now_secs();
                let mut shared = SharedRevocations { now, indexed: None };
                let mut stores = Stores {
                    revocations: if scope.revoke_on_logout {
                        Some(&mut shared)
                    } else {
                        None
                    },
                };
                let d = logout(
                    &scope.policy,
                    &facts,
                    now,
                    scope.revoke_on_logout,
                    &mut stores,
                );
                if let Some(n) = shared.indexed {
                    self.metrics.set_revoked_sessions(n);
                }
                return self.finish(scope, d);
            }
            None => {}
        }
        if !scope.protected && !scope.recognize_user {
            // Public: only the spoofing check (certificate headers a client may not assert).
            if has_proxy_headers(&facts) {
                self.tls(&mut facts, scope);
                let outcome = proxy_tls_facts(&facts, &scope.policy.trusted_proxies);
                self.strip_spoofed(&outcome.spoofed);
            }
            return Action::Continue;
        }
        self.tls(&mut facts, scope);
        let now = now_secs();
        let mut shared = SharedRevocations { now, indexed: None };
        let mut stores = Stores {
            revocations: if site.uses_revocation {
                Some(&mut shared)
            } else {
                None
            },
        };
        let d = if scope.protected {
            decide(&scope.policy, &facts, now, &mut stores)
        } else {
            recognize(&scope.policy, &facts, now, &mut stores)
        };
        self.finish(scope, d)
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        match &self.state {
            State::LoginBody { .. } => {}
            // While the password service is asked, the body stays here (never upstream).
            State::PasswordCall { .. } | State::OpenId(_) => return Action::Pause,
            State::Headers | State::Done => return Action::Continue,
        }
        if body_size > MAX_LOGIN_BODY {
            self.state = State::Done;
            self.reply_plain(413, "Payload Too Large");
            return Action::Pause;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let body = self
            .get_http_request_body(0, body_size)
            .map(|b| b.to_vec())
            .unwrap_or_default();
        let State::LoginBody { facts, path } = std::mem::replace(&mut self.state, State::Done)
        else {
            return Action::Pause;
        };
        self.login_body(facts, path, body);
        Action::Pause
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        self.strip_reserved_trailers();
        match &self.state {
            State::LoginBody { .. } => {}
            // A callout decides (password service, OpenID): nothing goes upstream meanwhile.
            State::PasswordCall { .. } | State::OpenId(_) => return Action::Pause,
            State::Headers | State::Done => return Action::Continue,
        }
        // Trailers end the request (HTTP/2, or HTTP/1.1 chunked with `enable_trailers`): no
        // body callback with end_of_stream comes, and continuing would send the buffered
        // credentials upstream. The whole body is buffered here (every body callback paused).
        let body = self
            .get_http_request_body(0, MAX_LOGIN_BODY + 1)
            .unwrap_or_default();
        if body.len() > MAX_LOGIN_BODY {
            self.reply_plain(413, "Payload Too Large");
            return Action::Pause;
        }
        let State::LoginBody { facts, path } = std::mem::replace(&mut self.state, State::Done)
        else {
            return Action::Pause;
        };
        self.login_body(facts, path, body);
        Action::Pause
    }

    fn on_http_response_headers(&mut self, _n: usize, _end_of_stream: bool) -> Action {
        if let Some(c) = self.set_cookie.take() {
            let headers = self.get_http_response_headers_bytes();
            let values = |name: &'static str| {
                headers
                    .iter()
                    .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
                    .filter_map(|(_, v)| std::str::from_utf8(v).ok())
            };
            // The application set or cleared the ticket cookie itself (its own logout, a
            // switch of user): its word stands; a refresh added after it would undo it.
            let ours = c.split('=').next().unwrap_or_default().trim();
            if values("set-cookie").any(|v| authrs_core::cookies::sets_cookie(v, ours)) {
                return Action::Continue;
            }
            self.add_http_response_header("set-cookie", &c);
            // A refreshed ticket rides on the upstream's response: a shared cache must never
            // keep it and hand it to the next visitor. One header, the upstream's directives
            // kept but for `public` and `s-maxage`, so no cache reads a line without `private`.
            let merged = authrs_core::caching::private_cache_control(values("cache-control"));
            self.set_http_response_header("cache-control", Some(&merged));
            // Directives for CDNs only (RFC 9213 and its forerunners) override Cache-Control
            // there: a CDN told `CDN-Cache-Control: max-age=600` would still keep the ticket.
            // By name, whatever the value holds (one that is not UTF-8 counts as well).
            for name in authrs_core::caching::CDN_CACHE_HEADERS {
                if headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                    self.set_http_response_header(name, None);
                }
            }
        }
        Action::Continue
    }
}

/// `:path` as the client sent it (path plus query), for normalization.
fn full_path(f: &RequestFacts) -> String {
    f.path_and_query()
}

impl Stream {
    /// Fills the TLS facts from the connection when the scope may use certificates.
    fn tls(&self, facts: &mut RequestFacts, scope: &Scope) {
        let wants_cert = scope
            .policy
            .methods
            .contains(&authrs_core::engine::Method::Cert);
        let has_xfcc = facts.header("x-forwarded-client-cert").is_some();
        if !wants_cert && !has_xfcc {
            return;
        }
        let text = |path: Vec<&str>| {
            self.get_property(path)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .filter(|s| !s.is_empty())
        };
        // Envoy has a digest exactly when the client presented a certificate (`connection.mtls`),
        // and when it has none there is nothing to copy: no call back into the VM for the
        // connections without a client certificate. (Reading only the subject when there is no
        // XFCC would save a call per mTLS request, but a certificate with an empty subject would
        // then look like none.)
        let Some(digest) = text(vec!["connection", "sha256_peer_certificate_digest"]) else {
            return;
        };
        let conn = Connection {
            mtls: true,
            digest: Some(digest),
            subject: text(vec!["connection", "subject_peer_certificate"]),
            accept_untrusted: self.site.accept_untrusted,
        };
        // Read in place: what own_tls keeps it copies, so the header is not copied per request.
        let xfcc = facts.header("x-forwarded-client-cert");
        // Never borrowed elsewhere; should it be, a throw-away cache does (no panic in the VM).
        let own = match self.certs.try_borrow_mut() {
            Ok(mut certs) => own_tls(&conn, xfcc, &mut certs),
            Err(_) => own_tls(&conn, xfcc, &mut CertCache::default()),
        };
        facts.tls = own.tls;
        if own.own_element {
            set_xfcc(facts, own.rest);
        }
    }

    /// Removes `x-authrs-*` and client-certificate (`SSL_CLIENT_*`, XFCC) request trailers: only
    /// the filter says who the user is, no proxy asserts a certificate in a trailer, and an
    /// upstream that merges trailers into headers must not hear either from the client.
    fn strip_reserved_trailers(&self) {
        let reserved: Vec<String> = self
            .get_http_request_trailers_bytes()
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| is_reserved_header(name) || is_proxy_header(name))
            .collect();
        self.remove_spoofed(
            &reserved,
            "AUTHRS0204: removed request trailers only authrs may set",
            |n| self.set_http_request_trailer(n, None),
        );
    }

    fn strip_spoofed(&self, names: &[String]) {
        self.remove_spoofed(
            names,
            "AUTHRS0201: removed client-certificate headers not asserted by a trusted proxy",
            |n| self.set_http_request_header(n, None),
        );
    }

    /// The TCP peer's address (`source.address`; a host call each time).
    fn peer(&self) -> Option<IpAddr> {
        self.get_property(vec!["source", "address"])
            .and_then(|b| peer_address(&String::from_utf8_lossy(&b)))
    }

    /// Counts and logs (`what: names`) a spoofing attempt, and removes each name with `remove`.
    fn remove_spoofed(&self, names: &[String], what: &str, remove: impl Fn(&str)) {
        if names.is_empty() {
            return;
        }
        self.metrics.inc("authrs.spoofing_attempts");
        log_warning(self.id, &format!("{what}: {}", names.join(", ")), || {
            self.peer()
        });
        for n in names {
            remove(n);
        }
    }

    /// Login endpoint, request headers: GET shows the page, POST waits for the body.
    fn login_headers(
        &mut self,
        facts: RequestFacts<'static>,
        path: String,
        end_of_stream: bool,
    ) -> Action {
        match facts.method.as_ref() {
            "GET" if openid_flow::is_return(facts.query.as_deref(), None) => {
                self.openid_return(Box::new(facts), path, None);
                Action::Pause
            }
            "GET" | "HEAD" => {
                let scope = self.site.route(&path);
                let (reason, destination) = query_params(facts.query.as_deref());
                let destination = scope.policy.destinations.untaint(destination.as_deref());
                let openid = scope.policy.openid.is_some();
                // The form posts to the login path, never to the path as sent: Envoy without
                // `merge_slashes` hands over `//evil.example/../LOGIN`, which is the login path
                // once normalized and, as an action, a scheme-relative URL to another host.
                let page = render_for(DEFAULT_TEMPLATE, reason, &destination, &path, openid);
                self.state = State::Done;
                let mut headers = vec![("content-type", "text/html; charset=utf-8")];
                headers.extend(authrs_core::login_page::PAGE_HEADERS);
                self.send_http_response(200, headers, Some(page.as_bytes()));
                Action::Pause
            }
            "POST" if end_of_stream => {
                self.login_body(Box::new(facts), path, Vec::new());
                Action::Pause
            }
            "POST" => {
                self.state = State::LoginBody {
                    facts: Box::new(facts),
                    path,
                };
                Action::Pause
            }
            _ => {
                self.state = State::Done;
                self.send_http_response(405, vec![("allow", "GET, HEAD, POST")], None);
                Action::Pause
            }
        }
    }

    /// Login endpoint, whole body in hand: check the password here or ask the service.
    fn login_body(&mut self, facts: Box<RequestFacts<'static>>, path: String, body: Vec<u8>) {
        if openid_flow::is_return(None, Some(&body)) {
            // A provider answering with a form POST (2.0 allows it for long messages).
            return self.openid_return(facts, path, Some(&body));
        }
        if openid_flow::is_start(&body) {
            return self.openid_start(facts, path, &body);
        }
        let site = Rc::clone(&self.site);
        let scope = site.route(&path);
        match &scope.passwords {
            Passwords::Users(users) => {
                // Borrowed: a login post never copies the whole table.
                let mut users: &Htpasswd = users;
                let d = login(&scope.policy, &facts, &body, now_secs(), &mut users);
                self.finish(scope, d);
            }
            Passwords::None => {
                let mut none = NoPasswords;
                let d = login(&scope.policy, &facts, &body, now_secs(), &mut none);
                self.finish(scope, d);
            }
            Passwords::Service(svc) => {
                // The core's login first, with a check that only notes what it is asked: every
                // refusal it makes before a password check (cross-site post, malformed form, no
                // ticket key, a name that is no user name) is answered without calling the
                // service (a foreign page's form must not drive checks, e.g. lock accounts out).
                let mut probe = Probe::default();
                let d = login(&scope.policy, &facts, &body, now_secs(), &mut probe);
                let Some((user, password)) = probe.asked else {
                    self.finish(scope, d);
                    return;
                };
                // `d` is the probe's "not checked yet" error: dropped, the service decides.
                let call_body = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("user", &user)
                    .append_pair("password", &password)
                    .finish();
                let dispatched = self.dispatch_http_call(
                    &svc.cluster,
                    vec![
                        (":method", "POST"),
                        (":path", &svc.path),
                        (":authority", &svc.authority),
                        ("content-type", "application/x-www-form-urlencoded"),
                    ],
                    Some(call_body.as_bytes()),
                    vec![],
                    Duration::from_millis(svc.timeout_ms),
                );
                match dispatched {
                    Ok(token) => {
                        self.state = State::PasswordCall {
                            facts,
                            path,
                            body,
                            token,
                            user,
                            password,
                        }
                    }
                    Err(s) => {
                        log(
                            LogLevel::Error,
                            self.id,
                            &format!(
                                "AUTHRS0306: cannot call password service cluster {:?}: {s:?}",
                                svc.cluster
                            ),
                        );
                        self.reply_plain(500, "Internal Server Error");
                    }
                }
            }
        }
    }

    /// Logs one of the core's notes with its stable id.
    fn log_note(&self, n: &Note) {
        let level = match n.level {
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => {
                return log_warning(self.id, &format!("{}: {}", n.id, n.message), || self.peer())
            }
            Level::Error => LogLevel::Error,
        };
        log(level, self.id, &format!("{}: {}", n.id, n.message));
    }

    /// Logs, counts and applies a decision; returns the action for the current callback.
    fn finish(&mut self, scope: &Scope, mut d: Decision) -> Action {
        for n in &d.notes {
            self.log_note(n);
        }
        let spoofed = std::mem::take(&mut d.spoofed_headers);
        self.strip_spoofed(&spoofed);
        self.metrics.count(&d);
        if let Verdict::Error { message } = &d.verdict {
            log(
                LogLevel::Error,
                self.id,
                &format!("AUTHRS0100: refused (internal error): {message}"),
            );
        }
        let realm = scope.policy.cookie.name.strip_prefix("AuthRs_");
        match reply::action(&d, realm) {
            reply::Action::Continue { headers } => {
                // Every incoming x-authrs-* header was removed on arrival: adding is replacing,
                // without Envoy looking for a copy to replace.
                for (name, value) in headers {
                    self.add_http_request_header(name, &value);
                }
                self.set_cookie = d.set_cookie.take().filter(|c| !c.is_empty());
                self.state = State::Done;
                Action::Continue
            }
            reply::Action::Reply(r) => {
                self.send(r);
                Action::Pause
            }
        }
    }

    fn send(&mut self, r: Reply) {
        self.state = State::Done;
        let headers: Vec<(&str, &str)> = r.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        self.send_http_response(r.status, headers, Some(r.body.as_bytes()));
    }

    fn reply_plain(&mut self, status: u32, text: &str) {
        self.state = State::Done;
        self.send_http_response(
            status,
            vec![("content-type", "text/plain; charset=utf-8")],
            Some(format!("{text}\n").as_bytes()),
        );
    }
}

/// Records the credentials the core's login asks about and answers that it cannot tell yet (the
/// password service is asked afterwards, and the login run again with its answer).
#[derive(Default)]
struct Probe {
    asked: Option<(String, String)>,
}

impl PasswordCheck for Probe {
    fn check(&mut self, user: &str, password: &str) -> Result<bool, String> {
        self.asked = Some((user.to_string(), password.to_string()));
        Err("the password service has not been asked yet".to_string())
    }
}

/// No password source is configured: every login check fails closed.
struct NoPasswords;

impl PasswordCheck for NoPasswords {
    fn check(&mut self, _user: &str, _password: &str) -> Result<bool, String> {
        Err("no password source (`users` or `password_check`) is configured".to_string())
    }
}
