//! OpenID 2.0 login at the `authrs-login` handler (`AuthRsMethods … openid`), the httpd side
//! of `authrs_core::engine::openid_flow`: blocking fetches ([`crate::fetch`]), nonces and
//! associations in the socache, URLs from httpd's server name, the request_rec plumbing.
//!
//! A POST with `openid_identifier` starts a login: normalize, discover, choose the endpoint
//! (`AuthRsOpenIDAllowedProviders` enforced), associate when possible, and 303 to the provider
//! with return_to = this handler's absolute URL carrying `destination`. The provider sends the
//! browser back here with `openid.mode=…` (GET, or POST): verify (nonces in the `AuthRsCache`
//! socache's OpenID instance, shared by every worker), then a ticket with method `openid` and
//! a 303 to the untainted destination, or back to the login page with `reason=<the seed's
//! code>`.
//!
//! Beyond the seed: the login is bound to the browser that started it. A random state goes into
//! return_to and into a session cookie scoped to the login handler; a return without the
//! matching cookie (an assertion forwarded to someone else's browser: login CSRF) is refused
//! as `state_mismatch` before anything is verified or any nonce is spent.
//!
//! Associations live in the same OpenID instance (see [`crate::assoc_cache`]; never in the
//! revocations' one, see [`crate::socache`]), so a return served by any process verifies the
//! signature itself. When none can be made or kept, the login goes on
//! statelessly: the provider confirms the assertion (check_authentication).
//!
//! The realm sent with each login is `AuthRsOpenIDRealm`, else `AuthRsOpenIDRequiredRoot`, else
//! this site's `scheme://host[:port]/`; a return URL outside it is refused before redirecting.

use crate::apr::{str_from, table_add};
use crate::assoc_cache::SoCacheAssociations;
use crate::fetch::{Budget, Slot};
use crate::ffi;
use crate::policy::Built;
use crate::socache::Instance;
use authrs_core::engine::openid_flow::{self, Stateless, STATE_BYTES};
use authrs_core::engine::{openid_refused, Decision, Note, Verdict};
use authrs_core::openid::assoc::{associate, AssocStep, Association};
use authrs_core::openid::discovery::{DiscoveryStep, Endpoint};
use authrs_core::openid::store::{
    AssociationStore, NonceStore, StoreError, Stores, DEFAULT_NONCE_LIFETIME,
};
use authrs_core::openid::{ErrorCode, RelyingParty, ReturnRequest, VerifyStep};
use authrs_core::reason::Reason;
use authrs_core::RequestFacts;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

pub use authrs_core::engine::openid_flow::{is_return, is_start};

/// Set while reading the configuration when some scope lists `openid` in `AuthRsMethods`: the
/// OpenID socache instance is created only then ([`crate::socache`]).
pub static WANTED: AtomicBool = AtomicBool::new(false);

/// Nonces seen, in the socache (SHA-256 of the core's key — with the cache's secret under
/// shmcb — + `:openid-nonce`: fixed length).
struct SoCacheNonces<'a> {
    r: &'a ffi::request_rec,
}

/// The digest first (with the instance's id secret: [`Instance::digest`]), so nonces spread over
/// shmcb's sub-caches (chosen by the id's first byte) where nobody can aim them.
fn nonce_id(key: &str) -> Vec<u8> {
    let mut id = Instance::OpenId.digest(&[key.as_bytes()]).to_vec();
    id.extend_from_slice(b":openid-nonce");
    id
}

impl NonceStore for SoCacheNonces<'_> {
    fn seen(&mut self, key: &str, _now: i64) -> Result<bool, StoreError> {
        let id = nonce_id(key);
        // SAFETY: r is live; the id bytes outlive the call; the shim checks the cache exists.
        let rc = unsafe {
            ffi::authrs_cache_lookup(
                Instance::OpenId.which(),
                self.r.server,
                id.as_ptr(),
                id.len() as u32,
                self.r.pool,
            )
        };
        match rc {
            1 => Ok(true),
            0 => Ok(false),
            _ => Err(StoreError("the AuthRsCache socache did not answer".into())),
        }
    }

    fn check_and_insert(
        &mut self,
        key: &str,
        expires: Option<i64>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let id = nonce_id(key);
        let until = expires.unwrap_or(now.saturating_add(DEFAULT_NONCE_LIFETIME));
        // SAFETY: as above.
        let rc = unsafe {
            ffi::authrs_cache_add(
                Instance::OpenId.which(),
                self.r.server,
                id.as_ptr(),
                id.len() as u32,
                until.saturating_mul(1_000_000),
                self.r.pool,
            )
        };
        match rc {
            1 => Ok(true),
            0 => Ok(false),
            _ => Err(StoreError(
                "the AuthRsCache socache refused the nonce".into(),
            )),
        }
    }
}

/// The absolute URL of `uri` on this server (scheme, name and port as httpd's
/// `UseCanonicalName` decides).
fn absolute(r: &ffi::request_rec, uri: &str) -> Option<String> {
    let c = crate::apr::cstring(uri);
    // SAFETY: r is live; the result is NULL or a pool string.
    unsafe {
        str_from(ffi::ap_construct_url(
            r.pool,
            c.as_ptr(),
            r as *const _ as *mut _,
        ))
    }
    .map(|s| s.into_owned())
}

/// The request target as the client sent it, path and query, still encoded (httpd decodes
/// `parsed_uri.path` in place, so that is not it); an absolute-form target
/// (`GET https://host/LOGIN`) gives its path and query, not the whole URL.
fn unparsed_uri(r: &ffi::request_rec) -> String {
    // SAFETY: NULL or a pool string.
    let target = unsafe { str_from(r.unparsed_uri) }
        .map(|s| s.into_owned())
        .unwrap_or_default();
    if target.starts_with('/') {
        return target;
    }
    match url::Url::parse(&target) {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        },
        Err(_) => target,
    }
}

/// This handler's absolute URL, without the query: return_to's base, and (its path) the scope
/// of the state cookie.
fn login_url(r: &ffi::request_rec) -> Option<url::Url> {
    let target = unparsed_uri(r);
    let path = target.split('?').next().unwrap_or("/");
    absolute(r, path).and_then(|u| url::Url::parse(&u).ok())
}

fn internal(message: String) -> Decision {
    Decision {
        verdict: Verdict::Error { message },
        ..Decision::default()
    }
}

/// Discovers `identifier`'s endpoints over the network, within `budget`.
fn discover(
    rp: &RelyingParty,
    identifier: url::Url,
    budget: &Budget,
) -> (Vec<Endpoint>, Option<String>) {
    let (mut discovery, mut step) = rp.discover(identifier, None);
    loop {
        match step {
            DiscoveryStep::Done(endpoints) => {
                return (endpoints, discovery.problem().map(str::to_string))
            }
            DiscoveryStep::Fetch(request) => {
                step = discovery.on_response(budget.perform(&request));
            }
        }
    }
}

/// An association with `endpoint`'s provider: the current one in the socache, or a new one
/// stored there (fetched within `budget`); `None` (stateless) when none can be made or stored.
/// The note says which.
fn association(
    r: &ffi::request_rec,
    rp: &RelyingParty,
    endpoint: &Endpoint,
    now: i64,
    budget: &Budget,
) -> (Option<Association>, Option<Note>) {
    let mut store = SoCacheAssociations { r };
    if let Ok(Some(a)) = store.current(&endpoint.server, now) {
        return (Some(a), None);
    }
    let stateless = |reason, why: &dyn std::fmt::Display| {
        let note = openid_flow::stateless_note(&endpoint.server, reason, &why.to_string());
        (None, Some(note))
    };
    let server = match url::Url::parse(&endpoint.server) {
        Ok(s) => s,
        Err(e) => return stateless(Stateless::NotAsked, &e),
    };
    let mut random = [0u8; 32];
    if let Err(e) = getrandom::fill(&mut random) {
        return stateless(Stateless::NotAsked, &format!("no random bytes: {e}"));
    }
    let (request, pending) =
        match associate(&server, endpoint.version, &rp.assoc, &rp.fetch, &random) {
            Ok(x) => x,
            Err(e) => return stateless(Stateless::NotAsked, &e),
        };
    let mut step = pending.on_response(budget.perform(&request), now);
    loop {
        match step {
            AssocStep::Done(a) => {
                if let Err(e) = store.put(a.clone()) {
                    return stateless(Stateless::NotKept, &e);
                }
                let note = openid_flow::associated_note(&a);
                return (Some(a), Some(note));
            }
            AssocStep::Retry(request, pending) => {
                step = pending.on_response(budget.perform(&request), now);
            }
            AssocStep::Failed(e) => return stateless(Stateless::Failed, &e),
        }
    }
}

/// What a login step answers: a decision, or — every place for steps waiting on providers
/// taken (`AuthRsOpenIDMaxConcurrentFetches`) — that it was not attempted.
#[derive(Debug)]
pub enum Step {
    /// The step ran.
    Done(Box<Decision>),
    /// Too many login steps of this process are waiting on providers: answer 503.
    Busy,
}

/// Starts a login for the posted `openid_identifier`: a 303 to the provider, or back to the
/// login page with the seed's code.
pub fn start(r: &mut ffi::request_rec, built: &Built, body: &[u8], now: i64) -> Step {
    let policy = &built.policy;
    let (rp, mut start) = match openid_flow::start(policy, body) {
        Ok(x) => x,
        Err(d) => return Step::Done(d),
    };
    // Discovery always fetches: take a place first, held until this step is answered.
    let Some(_slot) = Slot::try_acquire(crate::fetch::limit()) else {
        return Step::Busy;
    };
    // Every fetch of this request shares one budget (an httpd worker waits on them).
    let budget = Budget::new(rp.fetch.timeout_ms, Instant::now());
    let (endpoints, problem) = discover(rp, start.claimed.clone(), &budget);
    let endpoint = match openid_flow::choose(policy, &mut start, &endpoints, problem.as_deref()) {
        Ok(e) => e,
        Err(d) => return Step::Done(d),
    };
    let (assoc, note) = association(r, rp, &endpoint, now, &budget);
    let Some(login_url) = login_url(r) else {
        return Step::Done(Box::new(internal(
            "cannot build the return URL".to_string(),
        )));
    };
    let mut random = [0u8; STATE_BYTES];
    if getrandom::fill(&mut random).is_err() {
        return Step::Done(Box::new(internal(
            "no random bytes for the OpenID state".to_string(),
        )));
    }
    let handle = assoc.as_ref().map(|a| a.handle.as_str());
    let mut d = openid_flow::redirect(
        policy,
        &start,
        &endpoint,
        handle,
        login_url.as_str(),
        &random,
        now,
    );
    d.notes.splice(0..0, note);
    Step::Done(Box::new(d))
}

/// Handles the provider's answer (the browser back at the login handler).
pub fn finish(
    r: &mut ffi::request_rec,
    built: &Built,
    req: &RequestFacts,
    body: Option<&[u8]>,
    now: i64,
) -> Step {
    let policy = &built.policy;
    let Some(rp) = policy.openid.as_ref() else {
        return Step::Done(Box::new(openid_flow::not_enabled(policy, req)));
    };
    let (Some(current_url), Some(login_url)) = (absolute(r, &unparsed_uri(r)), login_url(r)) else {
        return Step::Done(Box::new(internal(
            "cannot build the current URL".to_string(),
        )));
    };
    if let Err(d) = openid_flow::check_state(policy, login_url.path(), req) {
        clear_state(r, policy, &login_url);
        return Step::Done(d);
    }
    if !Instance::OpenId.enabled() {
        clear_state(r, policy, &login_url);
        return Step::Done(Box::new(openid_refused(
            policy,
            Reason::OpenId(ErrorCode::StoreFailed),
            "no AuthRsCache OpenID socache in this process",
            openid_flow::return_destination(req).as_deref(),
        )));
    }
    let body_text = body.map(|b| String::from_utf8_lossy(b).into_owned());
    let mut nonces = SoCacheNonces { r };
    let mut assocs = SoCacheAssociations { r };
    let mut stores = Stores {
        nonces: &mut nonces,
        associations: &mut assocs,
    };
    let budget = Budget::new(rp.fetch.timeout_ms, Instant::now());
    // What the login's start discovered, sealed into the state cookie: no second discovery
    // when the assertion is for that claimed identifier.
    let sealed = openid_flow::sealed_endpoints(policy, login_url.as_str(), req, now);
    let mut step = rp.verify_cached(
        ReturnRequest {
            current_url: &current_url,
            body: body_text.as_deref(),
        },
        &mut stores,
        now,
        |claimed| sealed.and_then(|s| s.for_claimed(claimed)),
    );
    // Most returns verify without asking the provider (sealed endpoints, an association); one
    // that must ask takes a place first. Refused, the browser may send the same return again:
    // nothing was spent (no nonce recorded) and its state cookie is kept.
    let mut slot: Option<Slot> = None;
    let outcome = loop {
        match step {
            VerifyStep::Done(outcome) => break outcome,
            VerifyStep::Fetch(request, pending) => {
                if slot.is_none() {
                    slot = Slot::try_acquire(crate::fetch::limit());
                    if slot.is_none() {
                        return Step::Busy;
                    }
                }
                let response = budget.perform(&request);
                step = pending.on_response(rp, response, &mut stores, now);
            }
        }
    };
    drop(slot);
    clear_state(r, policy, &login_url);
    Step::Done(Box::new(openid_flow::answer_once(
        policy,
        req,
        outcome,
        &mut *stores.nonces,
        now,
    )))
}

/// Clears the login's state cookie with the answer (it served its one return).
fn clear_state(r: &ffi::request_rec, policy: &authrs_core::engine::Policy, login_url: &url::Url) {
    let clear = openid_flow::state_cookie(policy, login_url.path()).clear_cookie();
    // SAFETY: r's pool and tables are live; the value is copied.
    unsafe { table_add(r.pool, r.err_headers_out, "Set-Cookie", &clear) };
}
