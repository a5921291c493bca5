//! OpenID 2.0 login at `login_path` (`methods` lists `openid`), the Envoy side of
//! `authrs_core::engine::openid_flow`.
//!
//! A POST with `openid_identifier` starts a login: discovery, then an association when
//! possible, then a 303 to the provider (return_to = the login path carrying the destination
//! and the login-CSRF state, whose cookie rides on the 303). The provider sends the browser back
//! with `openid.mode=…` (GET, or a form POST): state check, verification (check_authentication
//! when there is no association), then a ticket with method `openid` and a 303 to the
//! destination, or the login page with `reason=<the seed's code>`.
//!
//! Every network step is a `dispatch_http_call` to the cluster `openid_clusters` names for the
//! URL (a URL no entry names is not fetched); the request pauses, body included, until the
//! answer. Nonces and associations live in shared data ([`crate::openid_store`]).

use std::rc::Rc;
use std::time::Duration;

use authrs_core::engine::openid_flow::{self, Start, Stateless, STATE_BYTES};
use authrs_core::engine::{refuse_cross_site, Decision, Verdict};
use authrs_core::openid::assoc::{associate, AssocStep, PendingAssociation};
use authrs_core::openid::discovery::{Discovery, DiscoveryStep, Endpoint};
use authrs_core::openid::http::{HttpRequest, HttpResponse};
use authrs_core::openid::store::{AssociationStore, Stores};
use authrs_core::openid::verify::PendingVerify;
use authrs_core::openid::{ReturnRequest, VerifyStep};
use authrs_core::request::RequestFacts;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::Context;
use proxy_wasm::types::{BufferType, LogLevel, MapType};

use super::{log, now_secs, State, Stream};
use crate::openid_store::{SharedAssociations, SharedNonces};
use crate::reply;

/// A login waiting for the answer to one callout.
pub(super) struct Call {
    token: u32,
    facts: Box<RequestFacts<'static>>,
    /// The normalized login path (the scope, the return URL and the state cookie's path).
    path: String,
    max_response_bytes: usize,
    step: Step,
}

/// What the pending callout is for.
// One per paused request; boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Step {
    /// Discovering the posted identifier.
    Discover { start: Start, discovery: Discovery },
    /// Associating with the chosen provider.
    Associate {
        start: Start,
        endpoint: Endpoint,
        pending: PendingAssociation,
    },
    /// Verifying the provider's answer (discovery or check_authentication).
    Verify { pending: PendingVerify },
}

/// Where a login goes after a step (`Wait`: a callout was dispatched).
enum Next {
    Wait(u32, usize),
    Fetched(HttpResponse),
}

/// An association request dispatched, or already answered.
#[allow(clippy::large_enum_variant)]
enum AssocNext {
    Wait(u32, usize, PendingAssociation),
    Step(AssocStep),
}

impl Stream {
    /// A POST with `openid_identifier` at the login path.
    pub(super) fn openid_start(
        &mut self,
        facts: Box<RequestFacts<'static>>,
        path: String,
        body: &[u8],
    ) {
        if let Some(d) = refuse_cross_site(&facts) {
            return self.openid_reply(&path, d, false);
        }
        let site = Rc::clone(&self.site);
        let policy = &site.route(&path).policy;
        let (rp, start) = match openid_flow::start(policy, body) {
            Ok(x) => x,
            Err(d) => return self.openid_reply(&path, *d, false),
        };
        let (discovery, step) = rp.discover(start.claimed.clone(), None);
        self.discover(facts, path, start, discovery, step);
    }

    /// The provider's answer at the login path (`openid.mode` in the query or the form).
    pub(super) fn openid_return(
        &mut self,
        facts: Box<RequestFacts<'static>>,
        path: String,
        body: Option<&[u8]>,
    ) {
        let site = Rc::clone(&self.site);
        let policy = &site.route(&path).policy;
        let Some(rp) = policy.openid.as_ref() else {
            return self.openid_reply(&path, openid_flow::not_enabled(policy, &facts), true);
        };
        if let Err(d) = openid_flow::check_state(policy, &path, &facts) {
            return self.openid_reply(&path, *d, true);
        }
        let Some(current_url) = openid_flow::absolute_url(&facts, &facts.path_and_query()) else {
            let d = internal("cannot build the current URL (no usable Host)".to_string());
            return self.openid_reply(&path, d, true);
        };
        let body = body.map(|b| String::from_utf8_lossy(b).into_owned());
        let now = now_secs();
        // What the login's start discovered, sealed into the state cookie: no second discovery
        // when the assertion is for that claimed identifier.
        // The current URL is the login URL plus the return's query, which the check ignores.
        let sealed = openid_flow::sealed_endpoints(policy, &current_url, &facts, now);
        let step = rp.verify_cached(
            ReturnRequest {
                current_url: &current_url,
                body: body.as_deref(),
            },
            &mut Shared::new(now).stores(),
            now,
            |claimed| sealed.and_then(|s| s.for_claimed(claimed)),
        );
        self.verify(facts, path, step);
    }

    /// The answer to an OpenID callout.
    pub(super) fn openid_response(&mut self, token: u32, call: Box<Call>, body_size: usize) {
        let Call {
            token: expected,
            facts,
            path,
            max_response_bytes,
            step,
        } = *call;
        if token != expected {
            let d = internal("unexpected OpenID callout answer".to_string());
            return self.openid_reply(&path, d, true);
        }
        let response = self.call_response(body_size, max_response_bytes);
        match step {
            Step::Discover {
                start,
                mut discovery,
            } => {
                let next = discovery.on_response(response);
                self.discover(facts, path, start, discovery, next);
            }
            Step::Associate {
                start,
                endpoint,
                pending,
            } => {
                let next = pending.on_response(response, now_secs());
                self.associated(facts, path, start, endpoint, next);
            }
            Step::Verify { pending } => {
                let site = Rc::clone(&self.site);
                let Some(rp) = site.route(&path).policy.openid.as_ref() else {
                    return self.openid_reply(&path, internal("OpenID disabled".into()), true);
                };
                let now = now_secs();
                let next = pending.on_response(rp, response, &mut Shared::new(now).stores(), now);
                self.verify(facts, path, next);
            }
        }
    }

    fn discover(
        &mut self,
        facts: Box<RequestFacts<'static>>,
        path: String,
        mut start: Start,
        mut discovery: Discovery,
        mut step: DiscoveryStep,
    ) {
        loop {
            match step {
                DiscoveryStep::Done(endpoints) => {
                    let site = Rc::clone(&self.site);
                    let policy = &site.route(&path).policy;
                    match openid_flow::choose(policy, &mut start, &endpoints, discovery.problem()) {
                        Ok(endpoint) => return self.associate(facts, path, start, endpoint),
                        Err(d) => return self.openid_reply(&path, *d, false),
                    }
                }
                DiscoveryStep::Fetch(request) => match self.fetch(&request) {
                    Next::Wait(token, max_response_bytes) => {
                        self.state = State::OpenId(Box::new(Call {
                            token,
                            facts,
                            path,
                            max_response_bytes,
                            step: Step::Discover { start, discovery },
                        }));
                        return;
                    }
                    Next::Fetched(response) => step = discovery.on_response(response),
                },
            }
        }
    }

    /// Uses the provider's current association from shared data, or asks for a new one.
    fn associate(
        &mut self,
        facts: Box<RequestFacts<'static>>,
        path: String,
        start: Start,
        endpoint: Endpoint,
    ) {
        let now = now_secs();
        let mut shared = SharedAssociations { now };
        if let Ok(Some(a)) = shared.current(&endpoint.server, now) {
            return self.send_to_provider(&facts, &path, &start, &endpoint, Some(&a.handle));
        }
        let site = Rc::clone(&self.site);
        let Some(rp) = site.route(&path).policy.openid.as_ref() else {
            return self.openid_reply(&path, internal("OpenID disabled".into()), false);
        };
        let mut random = [0u8; 32];
        let described = url::Url::parse(&endpoint.server)
            .map_err(|e| e.to_string())
            .and_then(|server| {
                getrandom::fill(&mut random).map_err(|e| format!("no random bytes: {e}"))?;
                associate(&server, endpoint.version, &rp.assoc, &rp.fetch, &random)
                    .map_err(|e| e.to_string())
            });
        match described {
            Ok((request, pending)) => {
                let next = self.assoc_fetch(&request, pending);
                self.after_assoc_fetch(facts, path, start, endpoint, next);
            }
            Err(why) => {
                self.log_note(&openid_flow::stateless_note(
                    &endpoint.server,
                    Stateless::NotAsked,
                    &why,
                ));
                self.send_to_provider(&facts, &path, &start, &endpoint, None);
            }
        }
    }

    fn assoc_fetch(&mut self, request: &HttpRequest, pending: PendingAssociation) -> AssocNext {
        match self.fetch(request) {
            Next::Wait(token, max) => AssocNext::Wait(token, max, pending),
            Next::Fetched(response) => AssocNext::Step(pending.on_response(response, now_secs())),
        }
    }

    fn after_assoc_fetch(
        &mut self,
        facts: Box<RequestFacts<'static>>,
        path: String,
        start: Start,
        endpoint: Endpoint,
        next: AssocNext,
    ) {
        match next {
            AssocNext::Wait(token, max_response_bytes, pending) => {
                self.state = State::OpenId(Box::new(Call {
                    token,
                    facts,
                    path,
                    max_response_bytes,
                    step: Step::Associate {
                        start,
                        endpoint,
                        pending,
                    },
                }));
            }
            AssocNext::Step(step) => self.associated(facts, path, start, endpoint, step),
        }
    }

    fn associated(
        &mut self,
        facts: Box<RequestFacts<'static>>,
        path: String,
        start: Start,
        endpoint: Endpoint,
        step: AssocStep,
    ) {
        match step {
            AssocStep::Done(a) => {
                let mut shared = SharedAssociations { now: now_secs() };
                if let Err(e) = shared.put(a.clone()) {
                    // Not kept: the return verifies with check_authentication instead.
                    let server = &endpoint.server;
                    let why = e.to_string();
                    self.log_note(&openid_flow::stateless_note(
                        server,
                        Stateless::NotKept,
                        &why,
                    ));
                    return self.send_to_provider(&facts, &path, &start, &endpoint, None);
                }
                self.log_note(&openid_flow::associated_note(&a));
                self.send_to_provider(&facts, &path, &start, &endpoint, Some(&a.handle));
            }
            AssocStep::Retry(request, pending) => {
                let next = self.assoc_fetch(&request, pending);
                self.after_assoc_fetch(facts, path, start, endpoint, next);
            }
            AssocStep::Failed(e) => {
                let why = e.to_string();
                self.log_note(&openid_flow::stateless_note(
                    &endpoint.server,
                    Stateless::Failed,
                    &why,
                ));
                self.send_to_provider(&facts, &path, &start, &endpoint, None);
            }
        }
    }

    fn send_to_provider(
        &mut self,
        facts: &RequestFacts,
        path: &str,
        start: &Start,
        endpoint: &Endpoint,
        handle: Option<&str>,
    ) {
        let site = Rc::clone(&self.site);
        let policy = &site.route(path).policy;
        let mut random = [0u8; STATE_BYTES];
        let d = match (
            openid_flow::absolute_url(facts, path),
            getrandom::fill(&mut random),
        ) {
            (Some(login_url), Ok(())) => openid_flow::redirect(
                policy,
                start,
                endpoint,
                handle,
                &login_url,
                &random,
                now_secs(),
            ),
            (None, _) => internal("cannot build the return URL (no usable Host)".to_string()),
            (_, Err(e)) => internal(format!("no random bytes for the OpenID state: {e}")),
        };
        self.openid_reply(path, d, false);
    }

    fn verify(&mut self, facts: Box<RequestFacts<'static>>, path: String, mut step: VerifyStep) {
        loop {
            match step {
                VerifyStep::Done(outcome) => {
                    let site = Rc::clone(&self.site);
                    let policy = &site.route(&path).policy;
                    let d = openid_flow::answer_once(
                        policy,
                        &facts,
                        outcome,
                        &mut SharedNonces,
                        now_secs(),
                    );
                    return self.openid_reply(&path, d, true);
                }
                VerifyStep::Fetch(request, pending) => match self.fetch(&request) {
                    Next::Wait(token, max_response_bytes) => {
                        self.state = State::OpenId(Box::new(Call {
                            token,
                            facts,
                            path,
                            max_response_bytes,
                            step: Step::Verify { pending },
                        }));
                        return;
                    }
                    Next::Fetched(response) => {
                        let site = Rc::clone(&self.site);
                        let Some(rp) = site.route(&path).policy.openid.as_ref() else {
                            let d = internal("OpenID disabled".into());
                            return self.openid_reply(&path, d, true);
                        };
                        let now = now_secs();
                        let mut shared = Shared::new(now);
                        step = pending.on_response(rp, response, &mut shared.stores(), now);
                    }
                },
            }
        }
    }

    /// Dispatches a described request to its cluster; a URL no cluster serves, or a failed
    /// dispatch, is "no response" at once.
    fn fetch(&mut self, request: &HttpRequest) -> Next {
        let Some(clusters) = self.site.openid_clusters.as_ref() else {
            return Next::Fetched(HttpResponse::failed());
        };
        let call = match clusters.call_for(&request.url, request.timeout_ms) {
            Ok(c) => c,
            Err(why) => {
                log(
                    LogLevel::Info,
                    self.id,
                    &format!("AUTHRS0333: OpenID fetch not made: {why}"),
                );
                return Next::Fetched(HttpResponse::failed());
            }
        };
        let names: Vec<String> = request
            .headers
            .iter()
            .map(|(k, _)| k.to_ascii_lowercase())
            .collect();
        let length = request.body.as_ref().map(|b| b.len().to_string());
        let mut headers: Vec<(&str, &str)> = vec![
            (":method", request.method.as_str()),
            (":path", &call.path),
            (":authority", &call.authority),
            ("user-agent", "authrs-openid (Envoy)"),
        ];
        for (name, (_, value)) in names.iter().zip(&request.headers) {
            headers.push((name, value));
        }
        if let Some(n) = &length {
            headers.push(("content-length", n));
        }
        let dispatched = self.dispatch_http_call(
            &call.cluster,
            headers,
            request.body.as_deref().map(str::as_bytes),
            vec![],
            Duration::from_millis(call.timeout_ms),
        );
        match dispatched {
            Ok(token) => Next::Wait(token, request.max_response_bytes),
            Err(s) => {
                log(
                    LogLevel::Error,
                    self.id,
                    &format!(
                        "AUTHRS0334: cannot call OpenID cluster {:?} for {}: {s:?}",
                        call.cluster, request.url
                    ),
                );
                Next::Fetched(HttpResponse::failed())
            }
        }
    }

    /// The callout's answer as the core reads it; no answer (timeout, reset) or a body over
    /// the limit is "no response".
    fn call_response(&self, body_size: usize, max_bytes: usize) -> HttpResponse {
        // Bytes, not `get_map`: the SDK unwraps a UTF-8 conversion of every value there, and a
        // provider may send any obs-text byte. Values that are not UTF-8 are dropped (as
        // mod_authrs does); names are tokens, which Envoy checked.
        let Ok(headers) = hostcalls::get_map_bytes(MapType::HttpCallResponseHeaders) else {
            return HttpResponse::failed();
        };
        let headers: Vec<(String, String)> = headers
            .into_iter()
            .filter_map(|(k, v)| Some((k, String::from_utf8(v).ok()?)))
            .collect();
        let Some(status) = headers
            .iter()
            .find(|(k, _)| k == ":status")
            .and_then(|(_, v)| v.parse::<u16>().ok())
        else {
            return HttpResponse::failed();
        };
        if body_size > max_bytes {
            log(
                LogLevel::Info,
                self.id,
                &format!(
                    "AUTHRS0335: OpenID response of {body_size} bytes refused (limit {max_bytes})"
                ),
            );
            return HttpResponse::failed();
        }
        let body = if body_size == 0 {
            Vec::new()
        } else {
            match hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size) {
                Ok(b) => b.unwrap_or_default(),
                Err(_) => return HttpResponse::failed(),
            }
        };
        HttpResponse {
            status,
            headers: headers
                .into_iter()
                .filter(|(k, _)| !k.starts_with(':'))
                .collect(),
            body,
        }
    }

    /// Logs, counts and sends an OpenID answer (always a local reply); `clear_state` adds the
    /// Set-Cookie that removes the login's state cookie (on every return from the provider).
    fn openid_reply(&mut self, path: &str, mut d: Decision, clear_state: bool) {
        for n in &d.notes {
            self.log_note(n);
        }
        self.metrics.count(&d);
        if let Verdict::Error { message } = &d.verdict {
            log(
                LogLevel::Error,
                self.id,
                &format!("AUTHRS0100: refused (internal error): {message}"),
            );
        }
        let site = Rc::clone(&self.site);
        let policy = &site.route(path).policy;
        let realm = policy.cookie.name.strip_prefix("AuthRs_");
        if let Verdict::Allow = d.verdict {
            // Never the case for a login endpoint; fail closed rather than pass it upstream.
            d = internal("an OpenID step allowed the request through".to_string());
        }
        match reply::action(&d, realm) {
            reply::Action::Reply(mut r) => {
                if clear_state {
                    let clear = openid_flow::state_cookie(policy, path).clear_cookie();
                    if !clear.is_empty() {
                        r.headers.push(("set-cookie", clear));
                    }
                }
                self.send(r);
            }
            reply::Action::Continue { .. } => self.reply_plain(500, "Internal Server Error"),
        }
    }
}

fn internal(message: String) -> Decision {
    Decision {
        verdict: Verdict::Error { message },
        ..Decision::default()
    }
}

/// The shared-data stores verification uses, for one callback.
struct Shared {
    nonces: SharedNonces,
    associations: SharedAssociations,
}

impl Shared {
    fn new(now: i64) -> Shared {
        Shared {
            nonces: SharedNonces,
            associations: SharedAssociations { now },
        }
    }

    fn stores(&mut self) -> Stores<'_> {
        Stores {
            nonces: &mut self.nonces,
            associations: &mut self.associations,
        }
    }
}
