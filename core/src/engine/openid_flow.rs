//! The OpenID login at a login endpoint, the parts every shell shares: which requests start or
//! return from a login, the login-CSRF state (a return_to parameter plus a cookie), the choice of
//! provider endpoint, the 303 to the provider, and what each verification outcome answers.
//!
//! The shell performs the network steps (discovery, association, check_authentication) the
//! [`crate::openid`] state machines describe, keeps nonces and associations in its stores, and
//! supplies random bytes and absolute URLs (httpd from its server name, Envoy from `Host`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::Mac;
use subtle::ConstantTimeEq;
use url::Url;

use super::{openid_login, openid_refused, Decision, Level, Note, Policy, Verdict};
use crate::cookies::{all_cookies, CookieSettings, SameSite};
use crate::openid::assoc::Association;
use crate::openid::checkid::{check_url, choose_endpoint, CheckIdParams};
use crate::openid::discovery::Endpoint;
use crate::openid::signed_time::MAX_AHEAD;
use crate::openid::store::{NonceStore, DEFAULT_NONCE_LIFETIME};
use crate::openid::{identifier, ErrorCode, OpenIdError, Outcome, RelyingParty, Version};
use crate::reason::Reason;
use crate::request::RequestFacts;
use crate::time::UnixTime;

/// The return_to parameter carrying a login's state (also held in the state cookie).
pub const STATE_PARAM: &str = "authrs_state";

/// Random bytes a shell supplies for one login's state (hex-encoded into the cookie).
pub const STATE_BYTES: usize = 16;

/// The longest state cookie value carrying sealed endpoints; a longer record is left out (the
/// return then discovers the claimed identifier again).
pub const MAX_SEALED_COOKIE: usize = 2048;

/// How long endpoints sealed into a state cookie are used, in seconds: enough for a login at the
/// provider; after it the return discovers again (a changed delegation counts from then on).
pub const SEALED_MAX_AGE: UnixTime = 600;

/// The first value of `name` in a query string or form body.
pub fn form_param(text: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(text.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// True when the request carries an OpenID message (`openid.mode` in the query or the form).
pub fn is_return(query: Option<&str>, body: Option<&[u8]>) -> bool {
    query.is_some_and(|q| form_param(q, "openid.mode").is_some())
        || body.is_some_and(|b| form_param(&String::from_utf8_lossy(b), "openid.mode").is_some())
}

/// True when a login form post asks for OpenID (`openid_identifier`).
pub fn is_start(body: &[u8]) -> bool {
    form_param(&String::from_utf8_lossy(body), "openid_identifier").is_some()
}

/// The cookie binding a login to the browser that started it (login CSRF): the ticket cookie's
/// name plus `_openid`, host-only (only this login handler reads it; a ticket's `Domain` is not
/// copied to sibling hosts), scoped to the login path, a session cookie, HttpOnly; SameSite=None
/// when Secure, so a provider answering with a cross-site form POST still carries it. A
/// `__Host-` ticket name makes it `__Host-…_openid` at `Path=/`, as that prefix requires — the
/// prefix is what keeps a sibling subdomain from planting its own state (cookie tossing).
pub fn state_cookie(policy: &Policy, login_path: &str) -> CookieSettings {
    let mut c = policy.cookie.clone();
    c.name = format!("{}_openid", c.name);
    c.domain = None;
    c.path = if c
        .name
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("__Host-"))
    {
        "/".to_string()
    } else {
        login_path.to_string()
    };
    c.persistent = false;
    c.http_only = true;
    if c.secure {
        c.same_site = SameSite::None;
    }
    c
}

/// A login being started: the normalized identifier and the requested destination.
#[derive(Debug, Clone)]
pub struct Start {
    /// The normalized claimed identifier, to discover.
    pub claimed: Url,
    /// The `destination` form field as posted (untainted later).
    pub destination: Option<String>,
    /// What [`choose`] keeps of discovery to seal into the state cookie: the endpoints
    /// declaring the chosen endpoint's claimed identifier (none for an OP identifier).
    pub sealable: Vec<Endpoint>,
}

/// Why a login cannot start or return here, naming the directive and the JSON key.
const NOT_ENABLED: &str = "OpenID is not enabled here (AuthRsMethods / methods do not list openid)";

/// The refusal, logged as `AUTHRS0320`: `detail` may quote what the client or a provider sent,
/// so control characters are escaped (a line break would forge log lines).
fn refused(policy: &Policy, code: ErrorCode, detail: &str, destination: Option<&str>) -> Decision {
    let escaped = crate::reason::escape_controls(detail);
    openid_refused(policy, Reason::OpenId(code), &escaped, destination)
}

fn internal(message: String) -> Decision {
    Decision::default().with(Verdict::Error { message })
}

/// Reads a login POST with `openid_identifier`: the relying party and what to discover, or the
/// refusal (OpenID not enabled, an identifier that is not a fetchable http(s) URL).
pub fn start<'p>(
    policy: &'p Policy,
    body: &[u8],
) -> Result<(&'p RelyingParty, Start), Box<Decision>> {
    let form = String::from_utf8_lossy(body);
    let destination = form_param(&form, "destination");
    let Some(rp) = policy.openid.as_ref() else {
        return Err(Box::new(refused(
            policy,
            ErrorCode::NoIdentityServer,
            NOT_ENABLED,
            destination.as_deref(),
        )));
    };
    let input = form_param(&form, "openid_identifier").unwrap_or_default();
    let claimed = identifier::normalize(&input)
        .map_err(|e| Box::new(refused(policy, e.code, &e.detail, destination.as_deref())))?;
    if let Err(why) = rp.fetch.permits(&claimed) {
        return Err(Box::new(refused(
            policy,
            ErrorCode::BogusUrl,
            &why,
            destination.as_deref(),
        )));
    }
    Ok((
        rp,
        Start {
            claimed,
            destination,
            sealable: Vec::new(),
        },
    ))
}

/// After discovery: the endpoint to send the user to (minimum version and the allow-list
/// enforced), or the refusal with the seed's code (`problem` is discovery's reason, for logs).
/// Keeps in `start.sealable` the endpoints [`redirect`] seals into the state cookie.
pub fn choose(
    policy: &Policy,
    start: &mut Start,
    endpoints: &[Endpoint],
    problem: Option<&str>,
) -> Result<Endpoint, Box<Decision>> {
    let destination = start.destination.as_deref();
    let Some(rp) = policy.openid.as_ref() else {
        return Err(Box::new(internal("OpenID is not enabled here".to_string())));
    };
    let endpoint = match choose_endpoint(endpoints, rp.minimum_version) {
        Ok(e) => e.clone(),
        Err(e) => {
            let detail = format!("{}: {}", start.claimed, problem.unwrap_or(&e.detail));
            return Err(Box::new(refused(policy, e.code, &detail, destination)));
        }
    };
    if !rp.provider_allowed(&endpoint.server) {
        let detail = format!(
            "{} is not in AuthRsOpenIDAllowedProviders / openid_allowed_providers",
            endpoint.server
        );
        return Err(Box::new(refused(
            policy,
            ErrorCode::ServerNotAllowed,
            &detail,
            destination,
        )));
    }
    // What discovering the claimed identifier at the return would find again: the endpoints
    // declaring it. An OP identifier's claimed identifier is known only at the return.
    start.sealable = if endpoint.op_identifier {
        Vec::new()
    } else {
        endpoints
            .iter()
            .filter(|e| !e.op_identifier && e.claimed_id == endpoint.claimed_id)
            .cloned()
            .collect()
    };
    Ok(endpoint)
}

/// A login's discovered endpoints as sealed into its state cookie: when, and which.
#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    /// When discovery found them (the start of the login).
    t: UnixTime,
    /// The endpoints, all declaring one claimed identifier.
    e: Vec<Endpoint>,
}

/// The MAC over a sealed record: the consumer secret's login key over the login URL (without
/// query: scheme, host, path), the state cookie's name and `head` (`<state>.<record>`), so a
/// record is used only at the login endpoint, and for the cookie, that sealed it.
fn seal_mac(rp: &RelyingParty, login_base: &str, cookie_name: &str, head: &str) -> impl Mac {
    let mut mac = rp.consumer_secret.login_mac();
    mac.update(login_base.as_bytes());
    mac.update(b"\0");
    mac.update(cookie_name.as_bytes());
    mac.update(b"\0");
    mac.update(head.as_bytes());
    mac
}

/// The state cookie's value: the state, then (when there are endpoints to seal and the value
/// stays within [`MAX_SEALED_COOKIE`]) `.` base64url(JSON record) `.` base64url([`seal_mac`]).
fn state_cookie_value(
    rp: &RelyingParty,
    login_base: &str,
    cookie_name: &str,
    state: &str,
    sealable: &[Endpoint],
    now: UnixTime,
) -> String {
    if sealable.is_empty() {
        return state.to_string();
    }
    let Ok(json) = serde_json::to_vec(&Sealed {
        t: now,
        e: sealable.to_vec(),
    }) else {
        return state.to_string();
    };
    let head = format!("{state}.{}", URL_SAFE_NO_PAD.encode(json));
    let tag = seal_mac(rp, login_base, cookie_name, &head)
        .finalize()
        .into_bytes();
    let value = format!("{head}.{}", URL_SAFE_NO_PAD.encode(tag));
    if value.len() <= MAX_SEALED_COOKIE {
        value
    } else {
        state.to_string()
    }
}

/// The endpoints a login's start discovered for its claimed identifier, from its state cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedEndpoints {
    claimed: String,
    endpoints: Vec<Endpoint>,
}

impl SealedEndpoints {
    /// The endpoints, when `claimed` (the claimed identifier as asserted) is the one they
    /// declare: what [`RelyingParty::verify_cached`] asks its discovery cache.
    pub fn for_claimed(self, claimed: &str) -> Option<Vec<Endpoint>> {
        (self.claimed == claimed).then_some(self.endpoints)
    }
}

/// The endpoints sealed into the state cookie of the login this return belongs to, at the login
/// endpoint `login_url` (absolute; its query is ignored): `None` when the cookie carries none, is
/// not the one cookie of that name, names another state than the query, fails its MAC
/// (constant-time check; sealed at another login URL or for another cookie), or was sealed more
/// than [`SEALED_MAX_AGE`] ago or ahead of `now`. Then the return discovers again.
pub fn sealed_endpoints(
    policy: &Policy,
    login_url: &str,
    req: &RequestFacts,
    now: UnixTime,
) -> Option<SealedEndpoints> {
    let rp = policy.openid.as_ref()?;
    let mut base = Url::parse(login_url).ok()?;
    base.set_query(None);
    base.set_fragment(None);
    let cookie = state_cookie(policy, base.path());
    let held = all_cookies(req.header_all("cookie"), &cookie.name);
    let [value] = held.as_slice() else {
        return None;
    };
    let (head, tag) = value.rsplit_once('.')?;
    let (state, payload) = head.split_once('.')?;
    let sent = req
        .query
        .as_deref()
        .and_then(|q| form_param(q, STATE_PARAM))?;
    if sent != state {
        return None;
    }
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    seal_mac(rp, base.as_str(), &cookie.name, head)
        .verify_slice(&tag)
        .ok()?;
    let sealed: Sealed = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    if sealed.t > now.saturating_add(MAX_AHEAD) || sealed.t < now.saturating_sub(SEALED_MAX_AGE) {
        return None;
    }
    let claimed = sealed.e.first()?.claimed_id.clone();
    if sealed
        .e
        .iter()
        .any(|e| e.op_identifier || e.claimed_id != claimed)
    {
        return None;
    }
    Some(SealedEndpoints {
        claimed,
        endpoints: sealed.e,
    })
}

/// The 303 to the provider: return_to is `login_url` (absolute; its query is dropped) carrying
/// the untainted destination and the state, the realm is the relying party's for it (a
/// configured realm that excludes it is an internal error); the state cookie, scoped to
/// `login_url`'s path, rides on the answer.
pub fn redirect(
    policy: &Policy,
    start: &Start,
    endpoint: &Endpoint,
    assoc_handle: Option<&str>,
    login_url: &str,
    state_random: &[u8; STATE_BYTES],
    now: UnixTime,
) -> Decision {
    let Some(rp) = policy.openid.as_ref() else {
        return internal("OpenID is not enabled here".to_string());
    };
    let Ok(mut return_to) = Url::parse(login_url) else {
        return internal(format!("cannot build the return URL from {login_url:?}"));
    };
    return_to.set_query(None);
    return_to.set_fragment(None);
    let path = return_to.path().to_string();
    let login_base = return_to.as_str().to_string();
    let untainted = policy.destinations.untaint(start.destination.as_deref());
    let state: String = state_random.iter().map(|b| format!("{b:02x}")).collect();
    return_to
        .query_pairs_mut()
        .append_pair("destination", &untainted)
        .append_pair(STATE_PARAM, &state);
    let realm = rp.realm_for(&return_to);
    let params = CheckIdParams {
        return_to: return_to.as_str(),
        realm: Some(&realm),
        delayed_return: true,
        assoc_handle,
    };
    match check_url(rp, endpoint, &params, now) {
        Ok(location) => {
            let mut d = Decision {
                verdict: Verdict::Redirect {
                    location,
                    status: 303,
                    reason: None,
                },
                set_cookie: Some({
                    let cookie = state_cookie(policy, &path);
                    let value = state_cookie_value(
                        rp,
                        &login_base,
                        &cookie.name,
                        &state,
                        &start.sealable,
                        now,
                    );
                    cookie.set_cookie(&value, now, None)
                }),
                ..Decision::default()
            };
            d.note(
                Level::Info,
                "AUTHRS0330",
                format!(
                    "OpenID login for {} sent to {} ({})",
                    start.claimed,
                    endpoint.server,
                    if assoc_handle.is_some() {
                        "associated"
                    } else {
                        "stateless"
                    }
                ),
            );
            d
        }
        Err(e) => internal(format!("cannot build the OpenID check_url: {e}")),
    }
}

/// The `destination` a return carries (in return_to's query).
pub fn return_destination(req: &RequestFacts) -> Option<String> {
    req.query
        .as_deref()
        .and_then(|q| form_param(q, "destination"))
}

/// Checks that the provider's return comes back to the browser that started the login: the
/// state in the query equals the one state cookie. The refusal (`state_mismatch`) comes before
/// anything is verified or any nonce spent. The shell clears the state cookie either way.
pub fn check_state(
    policy: &Policy,
    login_path: &str,
    req: &RequestFacts,
) -> Result<(), Box<Decision>> {
    let cookie = state_cookie(policy, login_path);
    let sent = req
        .query
        .as_deref()
        .and_then(|q| form_param(q, STATE_PARAM));
    let held = all_cookies(req.header_all("cookie"), &cookie.name);
    // The cookie's state is what precedes the sealed endpoints, if any.
    let same_browser = match (&sent, held.as_slice()) {
        (Some(s), [one]) => {
            let held_state = one.split('.').next().unwrap_or_default();
            !s.is_empty() && bool::from(s.as_bytes().ct_eq(held_state.as_bytes()))
        }
        _ => false,
    };
    if same_browser {
        Ok(())
    } else {
        Err(Box::new(refused(
            policy,
            ErrorCode::StateMismatch,
            "the OpenID state cookie is missing or does not match return_to",
            return_destination(req).as_deref(),
        )))
    }
}

/// What a verification outcome answers: a ticket with method `openid` and a 303 to the
/// untainted destination, or back to the login page with the seed's code.
pub fn answer(policy: &Policy, req: &RequestFacts, outcome: Outcome, now: UnixTime) -> Decision {
    let destination = return_destination(req);
    let destination = destination.as_deref();
    match outcome {
        Outcome::Verified(v) => {
            let mut d = openid_login(policy, req, &v.url, destination, now);
            let version = match v.version {
                Version::V1 => "1.x",
                Version::V2 => "2.0",
            };
            d.note(
                Level::Info,
                "AUTHRS0332",
                format!(
                    "OpenID {version} identity {} verified by {}",
                    v.url, v.server
                ),
            );
            d
        }
        Outcome::Cancelled => openid_refused(
            policy,
            Reason::OpenIdCancelled,
            "the user cancelled at the provider",
            destination,
        ),
        // user_setup_url (1.1) is logged, not followed: it comes unverified, and logins use
        // checkid_setup, so the user simply starts again.
        Outcome::SetupNeeded { user_setup_url } => openid_refused(
            policy,
            Reason::OpenIdSetupNeeded,
            &match user_setup_url {
                Some(u) => format!("the provider needs interaction (user_setup_url {u:?})"),
                None => "the provider needs interaction".to_string(),
            },
            destination,
        ),
        Outcome::Error(OpenIdError { code, detail, .. }) => {
            refused(policy, code, &detail, destination)
        }
        Outcome::NotOpenId => refused(
            policy,
            ErrorCode::BadMode,
            "not an OpenID message (or below AuthRsOpenIDMinimumVersion / openid_minimum_version)",
            destination,
        ),
    }
}

/// [`answer`], once per login: a verified return first spends its state (the random value in
/// return_to) in the replay cache, kept as long as `oic.time` accepts the message, so the same
/// return URL cannot log in twice — whoever holds it can set the matching cookie, and a 1.x
/// assertion has no response_nonce. A second use is `nonce_reused`; a failing store
/// `store_failed`. Call after [`check_state`].
pub fn answer_once(
    policy: &Policy,
    req: &RequestFacts,
    outcome: Outcome,
    nonces: &mut dyn NonceStore,
    now: UnixTime,
) -> Decision {
    if let Outcome::Verified(_) = outcome {
        let state = req
            .query
            .as_deref()
            .and_then(|q| form_param(q, STATE_PARAM))
            .unwrap_or_default();
        let key = format!("openid-state:{state}");
        let until = Some(now.saturating_add(DEFAULT_NONCE_LIFETIME));
        let (code, detail) = match nonces.check_and_insert(&key, until, now) {
            Ok(true) => return answer(policy, req, outcome, now),
            Ok(false) => (
                ErrorCode::NonceReused,
                "this login's return was already used".to_string(),
            ),
            Err(e) => (ErrorCode::StoreFailed, e.to_string()),
        };
        let destination = return_destination(req);
        return refused(policy, code, &detail, destination.as_deref());
    }
    answer(policy, req, outcome, now)
}

/// A return at a login endpoint where OpenID is not enabled.
pub fn not_enabled(policy: &Policy, req: &RequestFacts) -> Decision {
    refused(
        policy,
        ErrorCode::BadMode,
        NOT_ENABLED,
        return_destination(req).as_deref(),
    )
}

/// Why a login goes on without an association (the provider then confirms the assertion).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stateless {
    /// None was asked for: the configured types do not suit this provider's version or
    /// transport (routine, so logged at debug).
    NotAsked,
    /// The provider gave none.
    Failed,
    /// One was made but the shared store did not keep it: a handle no other worker can find
    /// would only make the return fail.
    NotKept,
}

/// The log note (`AUTHRS0331`) for a login going on statelessly with `server`, `why` the error.
pub fn stateless_note(server: &str, reason: Stateless, why: &str) -> Note {
    let (level, what) = match reason {
        Stateless::NotAsked => (Level::Debug, "no association"),
        Stateless::Failed => (Level::Info, "no association"),
        Stateless::NotKept => (Level::Warn, "association not kept"),
    };
    Note {
        id: "AUTHRS0331",
        level,
        message: format!("{what} with {server}: {why}; stateless"),
    }
}

/// The log note (`AUTHRS0336`, debug) for a new association, kept in the shared store.
pub fn associated_note(association: &Association) -> Note {
    Note {
        id: "AUTHRS0336",
        level: Level::Debug,
        message: format!(
            "new {} association with {}, shared until {}",
            association.assoc_type.name(),
            association.server,
            association.expiry
        ),
    }
}

/// The absolute URL of `path_and_query` on this request's own scheme and `Host` (what the
/// browser used), for return_to and the current URL; `None` without a usable `Host`.
pub fn absolute_url(req: &RequestFacts, path_and_query: &str) -> Option<String> {
    let host = req.header("host")?;
    if host.is_empty()
        || host.contains(['/', '?', '#', '@', '\\'])
        || host.contains(char::is_whitespace)
    {
        return None;
    }
    let scheme = if req.secure { "https" } else { "http" };
    let url = Url::parse(&format!("{scheme}://{host}{path_and_query}")).ok()?;
    Some(url.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
