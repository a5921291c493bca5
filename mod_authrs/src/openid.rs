//! OpenID 2.0 login at the `authrs-login` handler (`AuthRsMethods … openid`).
//!
//! A POST with `openid_identifier` starts a login: normalize, discover, choose the endpoint
//! (`AuthRsOpenIDAllowedProviders` enforced), associate when possible, and 303 to the provider
//! with return_to = this handler's absolute URL carrying `destination`. The provider sends the
//! browser back here with `openid.mode=…` (GET, or POST): verify (nonces in the `AuthRsCache`
//! socache, shared by every worker), then a ticket with method `openid` and a 303 to the
//! untainted destination, or back to the login page with `reason=<the seed's code>`.
//!
//! Beyond the seed: the login is bound to the browser that started it. A random state goes into
//! return_to and into a session cookie scoped to the login handler; a return without the
//! matching cookie (an assertion forwarded to someone else's browser: login CSRF) is refused
//! as `state_mismatch` before anything is verified or any nonce is spent.
//!
//! Associations live in the same socache (see [`crate::assoc_cache`]), so a return served by
//! any process verifies the signature itself. When none can be made or kept, the login goes on
//! statelessly: the provider confirms the assertion (check_authentication).
//!
//! The realm sent with each login is `AuthRsOpenIDRealm`, else `AuthRsOpenIDRequiredRoot`, else
//! this site's `scheme://host[:port]/`; a return URL outside it is refused before redirecting.

use crate::apr::{log_r, str_from, LogLevel};
use crate::assoc_cache::SoCacheAssociations;
use crate::ffi;
use crate::policy::Built;
use authrs_core::engine::{openid_login, openid_refused, Decision, Verdict};
use authrs_core::openid::assoc::{associate, AssocStep, Association};
use authrs_core::openid::checkid::{check_url, choose_endpoint, CheckIdParams};
use authrs_core::openid::discovery::{Discovery, DiscoveryStep, Endpoint};
use authrs_core::openid::identifier;
use authrs_core::openid::store::{AssociationStore, NonceStore, StoreError, Stores};
use authrs_core::openid::{ErrorCode, OpenIdError, Outcome, RelyingParty, ReturnRequest};
use authrs_core::openid::{VerifyStep, Version};
use authrs_core::reason::Reason;
use authrs_core::RequestFacts;
use sha2::{Digest, Sha256};

/// The return_to parameter carrying this login's state (also in the state cookie).
const STATE_PARAM: &str = "authrs_state";

/// The cookie binding a login to the browser that started it (login CSRF): the ticket cookie's
/// name plus `_openid`, scoped to the login handler's path, a session cookie. SameSite=None
/// when Secure, so a provider answering with a cross-site form POST still carries it.
fn state_cookie(built: &Built, path: &str) -> authrs_core::cookies::CookieSettings {
    let mut c = built.policy.cookie.clone();
    c.name = format!("{}_openid", c.name);
    c.path = path.to_string();
    c.persistent = false;
    c.http_only = true;
    if c.secure {
        c.same_site = authrs_core::cookies::SameSite::None;
    }
    c
}

/// Nonces seen, in the socache (`openid-nonce:` + SHA-256 of the core's key: fixed length).
struct SoCacheNonces<'a> {
    r: &'a ffi::request_rec,
}

fn nonce_id(key: &str) -> Vec<u8> {
    let mut id = b"openid-nonce:".to_vec();
    id.extend_from_slice(&Sha256::digest(key.as_bytes()));
    id
}

impl NonceStore for SoCacheNonces<'_> {
    fn seen(&mut self, key: &str, _now: i64) -> Result<bool, StoreError> {
        let id = nonce_id(key);
        // SAFETY: r is live; the id bytes outlive the call; the shim checks the cache exists.
        let rc = unsafe {
            ffi::authrs_cache_lookup(self.r.server, id.as_ptr(), id.len() as u32, self.r.pool)
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
        // The store's default lifetime: the seed's default window.
        let until = expires.unwrap_or(now.saturating_add(1800));
        // SAFETY: as above.
        let rc = unsafe {
            ffi::authrs_cache_add(
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

/// The request target as the client sent it (path and query).
fn unparsed_uri(r: &ffi::request_rec) -> String {
    // SAFETY: NULL or a pool string.
    unsafe { str_from(r.unparsed_uri) }
        .map(|s| s.into_owned())
        .unwrap_or_default()
}

/// The first value of `name` in a form or query string.
fn param(text: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(text.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// True when the request carries an OpenID message (`openid.mode` in the query or the form).
pub fn is_return(query: Option<&str>, body: Option<&[u8]>) -> bool {
    query.is_some_and(|q| param(q, "openid.mode").is_some())
        || body.is_some_and(|b| param(&String::from_utf8_lossy(b), "openid.mode").is_some())
}

/// True when a login form post asks for OpenID.
pub fn is_start(body: &[u8]) -> bool {
    param(&String::from_utf8_lossy(body), "openid_identifier").is_some()
}

fn refused(built: &Built, code: ErrorCode, detail: &str, destination: Option<&str>) -> Decision {
    openid_refused(&built.policy, Reason::OpenId(code), detail, destination)
}

fn internal(message: String) -> Decision {
    Decision {
        verdict: Verdict::Error { message },
        ..Decision::default()
    }
}

/// Discovers `identifier`'s endpoints over the network.
fn discover(rp: &RelyingParty, identifier: url::Url) -> (Vec<Endpoint>, Option<String>) {
    let (mut discovery, mut step) = Discovery::start(identifier, rp.fetch, None);
    loop {
        match step {
            DiscoveryStep::Done(endpoints) => {
                return (endpoints, discovery.problem().map(str::to_string))
            }
            DiscoveryStep::Fetch(request) => {
                step = discovery.on_response(crate::fetch::perform(&request));
            }
        }
    }
}

/// An association with `endpoint`'s provider: the current one in the socache, or a new one
/// stored there. `None` (stateless) when none can be made or stored: a handle no other process
/// can find would only make the return fail.
fn association(
    r: &ffi::request_rec,
    rp: &RelyingParty,
    endpoint: &Endpoint,
    now: i64,
) -> Option<Association> {
    let mut store = SoCacheAssociations { r };
    if let Ok(Some(a)) = store.current(&endpoint.server, now) {
        return Some(a);
    }
    let server = url::Url::parse(&endpoint.server).ok()?;
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).ok()?;
    let (request, pending) =
        match associate(&server, endpoint.version, &rp.assoc, &rp.fetch, &random) {
            Ok(x) => x,
            Err(e) => {
                // SAFETY: r is live.
                unsafe {
                    log_r(
                        r,
                        LogLevel::Debug,
                        &format!(
                            "AUTHRS0331: no association with {}: {e}; stateless",
                            endpoint.server
                        ),
                    )
                };
                return None;
            }
        };
    let mut step = pending.on_response(crate::fetch::perform(&request), now);
    loop {
        match step {
            AssocStep::Done(a) => {
                if let Err(e) = store.put(a.clone()) {
                    // SAFETY: r is live.
                    unsafe {
                        log_r(
                            r,
                            LogLevel::Warn,
                            &format!(
                                "AUTHRS0333: association with {} not kept: {e}; stateless",
                                endpoint.server
                            ),
                        )
                    };
                    return None;
                }
                // SAFETY: r is live.
                unsafe {
                    log_r(
                        r,
                        LogLevel::Debug,
                        &format!(
                            "AUTHRS0334: new {} association with {}, shared until {}",
                            a.assoc_type.name(),
                            endpoint.server,
                            a.expiry
                        ),
                    )
                };
                return Some(a);
            }
            AssocStep::Retry(request, pending) => {
                step = pending.on_response(crate::fetch::perform(&request), now);
            }
            AssocStep::Failed(e) => {
                // SAFETY: r is live.
                unsafe {
                    log_r(
                        r,
                        LogLevel::Info,
                        &format!(
                            "AUTHRS0331: no association with {}: {e}; stateless",
                            endpoint.server
                        ),
                    )
                };
                return None;
            }
        }
    }
}

/// Starts a login for the posted `openid_identifier`: a 303 to the provider, or back to the
/// login page with the seed's code.
pub fn start(r: &mut ffi::request_rec, built: &Built, body: &[u8], now: i64) -> Decision {
    let form = String::from_utf8_lossy(body);
    let destination = param(&form, "destination");
    let destination = destination.as_deref();
    let Some(rp) = built.policy.openid.as_ref() else {
        return refused(
            built,
            ErrorCode::NoIdentityServer,
            "OpenID is not enabled here (AuthRsMethods … openid)",
            destination,
        );
    };
    let input = param(&form, "openid_identifier").unwrap_or_default();
    let claimed = match identifier::normalize(&input) {
        Ok(u) => u,
        Err(e) => return refused(built, e.code, &e.detail, destination),
    };
    if let Err(why) = rp.fetch.permits(&claimed) {
        return refused(built, ErrorCode::BogusUrl, &why, destination);
    }
    let (endpoints, problem) = discover(rp, claimed.clone());
    let endpoint = match choose_endpoint(&endpoints, rp.minimum_version) {
        Ok(e) => e.clone(),
        Err(e) => {
            let detail = format!("{claimed}: {}", problem.as_deref().unwrap_or(&e.detail));
            return refused(built, e.code, &detail, destination);
        }
    };
    if !rp.provider_allowed(&endpoint.server) {
        let detail = format!("{} is not in AuthRsOpenIDAllowedProviders", endpoint.server);
        return refused(built, ErrorCode::ServerNotAllowed, &detail, destination);
    }
    let assoc = association(r, rp, &endpoint, now);
    let target = unparsed_uri(r);
    let path = target.split('?').next().unwrap_or("/");
    let Some(mut return_to) = absolute(r, path).and_then(|u| url::Url::parse(&u).ok()) else {
        return internal(format!("cannot build the return URL for {path:?}"));
    };
    let untainted = built.policy.destinations.untaint(destination);
    let mut random = [0u8; 16];
    if getrandom::fill(&mut random).is_err() {
        return internal("no random bytes for the OpenID state".to_string());
    }
    let state: String = random.iter().map(|b| format!("{b:02x}")).collect();
    return_to
        .query_pairs_mut()
        .append_pair("destination", &untainted)
        .append_pair(STATE_PARAM, &state);
    let realm = rp.realm_for(&return_to);
    let params = CheckIdParams {
        return_to: return_to.as_str(),
        realm: Some(&realm),
        delayed_return: true,
        assoc_handle: assoc.as_ref().map(|a| a.handle.as_str()),
    };
    match check_url(rp, &endpoint, &params, now) {
        Ok(location) => {
            let mut d = Decision {
                verdict: Verdict::Redirect {
                    location,
                    status: 303,
                    reason: None,
                },
                set_cookie: Some(state_cookie(built, path).set_cookie(&state, now, None)),
                ..Decision::default()
            };
            d.note(
                authrs_core::engine::Level::Info,
                "AUTHRS0330",
                format!(
                    "OpenID login for {claimed} sent to {} ({})",
                    endpoint.server,
                    if assoc.is_some() {
                        "associated"
                    } else {
                        "stateless"
                    }
                ),
            );
            d
        }
        // A realm (AuthRsOpenIDRealm / RequiredRoot) that excludes this handler: configuration.
        Err(e) => internal(format!("cannot build the OpenID check_url: {e}")),
    }
}

/// Handles the provider's answer (the browser back at the login handler).
pub fn finish(
    r: &mut ffi::request_rec,
    built: &Built,
    req: &RequestFacts,
    body: Option<&[u8]>,
    now: i64,
) -> Decision {
    let destination = req.query.as_deref().and_then(|q| param(q, "destination"));
    let destination = destination.as_deref();
    let Some(rp) = built.policy.openid.as_ref() else {
        return refused(
            built,
            ErrorCode::BadMode,
            "OpenID is not enabled here (AuthRsMethods … openid)",
            destination,
        );
    };
    let Some(current_url) = absolute(r, &unparsed_uri(r)) else {
        return internal("cannot build the current URL".to_string());
    };
    let body_text = body.map(|b| String::from_utf8_lossy(b).into_owned());
    let path = unparsed_uri(r);
    let path = path.split('?').next().unwrap_or("/");
    let cookie = state_cookie(built, path);
    // SAFETY: r's pool and tables are live; the value is copied.
    unsafe {
        crate::apr::table_add(
            r.pool,
            r.err_headers_out,
            "Set-Cookie",
            &cookie.clear_cookie(),
        )
    };
    let sent = req.query.as_deref().and_then(|q| param(q, STATE_PARAM));
    let held = authrs_core::cookies::all_cookies(req.header_all("cookie"), &cookie.name);
    let same_browser = match (&sent, held.as_slice()) {
        (Some(s), [one]) => !s.is_empty() && s == one,
        _ => false,
    };
    if !same_browser {
        return refused(
            built,
            ErrorCode::StateMismatch,
            "the OpenID state cookie is missing or does not match return_to",
            destination,
        );
    }
    if !crate::revocation::enabled() {
        return refused(
            built,
            ErrorCode::StoreFailed,
            "no AuthRsCache socache in this process",
            destination,
        );
    }
    let mut nonces = SoCacheNonces { r };
    let mut assocs = SoCacheAssociations { r };
    let mut stores = Stores {
        nonces: &mut nonces,
        associations: &mut assocs,
    };
    let mut step = rp.verify(
        ReturnRequest {
            current_url: &current_url,
            body: body_text.as_deref(),
        },
        &mut stores,
        now,
    );
    let outcome = loop {
        match step {
            VerifyStep::Done(outcome) => break outcome,
            VerifyStep::Fetch(request, pending) => {
                let response = crate::fetch::perform(&request);
                step = pending.on_response(rp, response, &mut stores, now);
            }
        }
    };
    match outcome {
        Outcome::Verified(v) => {
            let mut d = openid_login(&built.policy, req, &v.url, destination, now);
            let version = match v.version {
                Version::V1 => "1.x",
                Version::V2 => "2.0",
            };
            d.note(
                authrs_core::engine::Level::Info,
                "AUTHRS0332",
                format!(
                    "OpenID {version} identity {} verified by {}",
                    v.url, v.server
                ),
            );
            d
        }
        Outcome::Cancelled => openid_refused(
            &built.policy,
            Reason::OpenIdCancelled,
            "the user cancelled at the provider",
            destination,
        ),
        // user_setup_url (1.1) is not followed: it comes unverified, and logins here use
        // checkid_setup, so the user simply starts again.
        Outcome::SetupNeeded { user_setup_url } => openid_refused(
            &built.policy,
            Reason::OpenIdSetupNeeded,
            &match user_setup_url {
                Some(u) => format!("the provider needs interaction (user_setup_url {u:?})"),
                None => "the provider needs interaction".to_string(),
            },
            destination,
        ),
        Outcome::Error(OpenIdError { code, detail, .. }) => {
            refused(built, code, &detail, destination)
        }
        Outcome::NotOpenId => refused(
            built,
            ErrorCode::BadMode,
            "not an OpenID message (or below AuthRsOpenIDMinimumVersion)",
            destination,
        ),
    }
}
