//! Handling the provider's answer: the seed's `handle_server_response` and
//! `verified_identity`, per OpenID 2.0 §11, as a sans-IO state machine.
//!
//! The checks that need no network run first, in the seed's relative order
//! (mode, `no_identity`, `no_sig`, `no_return_to`, the provider allow-list,
//! `bogus_return_to`, nonce, `oic.time`, `unsigned_field`); then discovery
//! of the claimed identifier (`no_identity_server`, `server_not_allowed`,
//! `unexpected_url_redirect`, `bogus_delegation`); then the signature, with
//! a stored association or by check_authentication. A message with a single
//! fault gets the seed's code; the network is never touched for a message
//! that fails a local check. The nonce is looked up early (`nonce_reused` in
//! the seed's place) but recorded only once everything else passed, so a
//! forged message cannot burn a genuine nonce.
//!
//! Beyond the seed: return_to must match the URL the browser came back to
//! (2.0 §11.1), 1.x assertions must sign `identity` and `return_to`, and
//! `oic.time` / `oic.identity` are read from the (signed) return_to.

use super::assoc::Association;
use super::checkid::OIC_IDENTITY;
use super::config::RelyingParty;
use super::discovery::{Discovery, DiscoveryStep, Endpoint, IDENTIFIER_SELECT};
use super::error::{ErrorCode, OpenIdError};
use super::form;
use super::http::{HttpRequest, HttpResponse};
use super::identifier;
use super::kv;
use super::message::{Message, Version};
use super::nonce::{self, NoncePolicy};
use super::return_to;
use super::signed_time;
use super::store::{StoreError, Stores};
use crate::time::UnixTime;
use std::borrow::Cow;
use url::Url;

/// The request the browser came back with.
#[derive(Debug, Clone, Copy)]
pub struct ReturnRequest<'a> {
    /// The absolute URL it requested (scheme, host, port, path and query as the client sent them).
    pub current_url: &'a str,
    /// The form body when the provider answered with a POST (`None` for GET).
    pub body: Option<&'a str>,
}

/// Who the provider vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The verified claimed identifier (normalized; a 2.0 fragment kept, 2.0 §11.5.2).
    pub url: String,
    /// `openid.identity`: the OP-local identifier the provider asserted.
    pub op_local_id: String,
    /// The OP endpoint that signed the assertion.
    pub server: String,
    /// The protocol version of the assertion.
    pub version: Version,
    /// The signed fields (keys without `openid.`); extensions are trustworthy only from here.
    pub signed: SignedFields,
}

/// The fields a verified assertion signed (keys without `openid.`), sorted by key.
#[derive(Debug, Clone)]
pub struct SignedFields {
    msg: Message,
    list: SignedList,
}

impl SignedFields {
    /// The value of `openid.<key>` if the provider signed it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.list
            .contains(&self.msg, key)
            .then(|| self.msg.get(key))
            .flatten()
    }

    /// Every signed field, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.msg
            .fields()
            .filter(|(k, _)| self.list.contains(&self.msg, k))
    }
}

/// No signed fields.
impl Default for SignedFields {
    fn default() -> SignedFields {
        SignedFields {
            msg: Message::empty(),
            list: SignedList(Vec::new()),
        }
    }
}

impl PartialEq for SignedFields {
    fn eq(&self, other: &SignedFields) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for SignedFields {}

/// The five ends of `handle_server_response`.
// Built once per login; the verified identity is the common case, not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The request carries no OpenID message (or one below `minimum_version`).
    NotOpenId,
    /// The user declined at the provider.
    Cancelled,
    /// checkid_immediate needs interaction: retry with checkid_setup (2.0), or send the user to `user_setup_url` (1.x).
    SetupNeeded {
        /// The 1.x provider's setup URL.
        user_setup_url: Option<String>,
    },
    /// The assertion checks out.
    Verified(VerifiedIdentity),
    /// It does not; the code says why.
    Error(OpenIdError),
}

impl Outcome {
    /// `verified`, `cancelled`, `setup_needed`, `error` or `not_openid` (the CLI's verdict).
    pub fn verdict(&self) -> &'static str {
        match self {
            Outcome::NotOpenId => "not_openid",
            Outcome::Cancelled => "cancelled",
            Outcome::SetupNeeded { .. } => "setup_needed",
            Outcome::Verified(_) => "verified",
            Outcome::Error(_) => "error",
        }
    }

    /// The error code, for errors only.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Outcome::Error(e) => Some(e.code()),
            _ => None,
        }
    }
}

impl From<OpenIdError> for Outcome {
    fn from(e: OpenIdError) -> Self {
        Outcome::Error(e)
    }
}

/// What verification needs next.
// One value per network round trip: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum VerifyStep {
    /// Finished.
    Done(Outcome),
    /// Perform the request, then call [`PendingVerify::on_response`].
    Fetch(HttpRequest, PendingVerify),
}

/// Verification waiting for the network (discovery or check_authentication).
#[derive(Debug)]
pub struct PendingVerify {
    ctx: Context,
    stage: Stage,
}

#[derive(Debug)]
enum Stage {
    /// Boxed: every step moves a `PendingVerify` (inside a `VerifyStep`), most never discover.
    Discovering(Box<Discovery>),
    CheckAuth {
        endpoint: Endpoint,
    },
}

/// What the local checks established; the fields they checked are read from `msg`.
#[derive(Debug, Clone)]
struct Context {
    msg: Message,
    /// 2.0: what the discovery cache had for the claimed identifier (taken before discovery).
    cached: Option<Vec<Endpoint>>,
    /// Where `openid.identity` (non-empty) lies in the message's text.
    identity: (usize, usize),
    /// Where the claimed identifier lies, when the message carries it (2.0 `claimed_id`).
    claimed: Option<(usize, usize)>,
    /// 1.x: the non-empty `oic.identity` of return_to (the claimed identifier).
    oic_identity: Option<String>,
    /// Where `openid.response_nonce` (non-empty) lies.
    nonce: Option<(usize, usize)>,
    /// The 2.0 `op_endpoint`, normalized.
    op_endpoint: Option<String>,
    /// The replay-store key of the nonce at `op_endpoint`, when it was looked up there.
    nonce_key: Option<String>,
    /// The names `openid.signed` lists.
    signed: SignedList,
}

/// The well-formed names `openid.signed` lists, in order: where they lie in the message's
/// text, found in one pass over the list.
#[derive(Debug, Clone)]
struct SignedList(Vec<(usize, usize)>);

impl SignedList {
    /// A name listed twice is refused: the token would carry its value once per copy, so a
    /// short list could make a token many times the message's size.
    fn of(msg: &Message) -> Result<SignedList, OpenIdError> {
        /// The bytes a name may hold: `[A-Za-z0-9_.]`.
        const NAME: [bool; 256] = {
            let mut t = [false; 256];
            let mut b = 0;
            while b < 256 {
                let c = b as u8;
                t[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
                b += 1;
            }
            t
        };
        let mut ranges = Vec::with_capacity(8);
        let Some((start, end)) = msg.span("signed") else {
            return Ok(SignedList(ranges));
        };
        let list = msg.text().as_bytes().get(start..end).unwrap_or_default();
        let mut from = start;
        for name in list.split(|&b| b == b',') {
            if !name.is_empty() && name.iter().all(|&b| NAME[usize::from(b)]) {
                ranges.push((from, from + name.len()));
            }
            from += name.len() + 1;
        }
        let text = msg.text().as_bytes();
        let listed = |&(a, b): &(usize, usize)| text.get(a..b).unwrap_or_default();
        // A usual list (six to a dozen names) is checked pair by pair without allocating; a
        // long one, or one with a duplicate (to name the first in sorted order), is sorted.
        let short_and_unique = ranges.len() <= 16
            && ranges.iter().enumerate().all(|(i, r)| {
                let n = listed(r);
                ranges
                    .get(..i)
                    .unwrap_or_default()
                    .iter()
                    .all(|q| listed(q) != n)
            });
        if short_and_unique {
            return Ok(SignedList(ranges));
        }
        let mut names: Vec<&[u8]> = ranges.iter().map(listed).collect();
        names.sort_unstable();
        if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
            let name: String = String::from_utf8_lossy(twice[0]).chars().take(40).collect();
            return Err(OpenIdError::with(
                ErrorCode::BadMessage,
                format!("openid.signed lists {name:?} more than once"),
            ));
        }
        Ok(SignedList(ranges))
    }

    /// The names, read from `msg` (the message they were taken from).
    fn names<'a>(&'a self, msg: &'a Message) -> impl Iterator<Item = &'a str> {
        let text = msg.text();
        self.0.iter().filter_map(move |&(a, b)| text.get(a..b))
    }

    fn contains(&self, msg: &Message, name: &str) -> bool {
        self.names(msg).any(|s| s == name)
    }
}

impl Context {
    /// `openid.identity` (checked non-empty).
    fn identity(&self) -> &str {
        self.msg.at(self.identity)
    }

    /// `openid.sig`, with ' ' read as '+' (providers that forget to escape '+', as the seed).
    fn sig(&self) -> Cow<'_, str> {
        let sig = self.msg.get("sig").unwrap_or_default();
        if sig.contains(' ') {
            Cow::Owned(sig.replace(' ', "+"))
        } else {
            Cow::Borrowed(sig)
        }
    }

    /// The claimed identifier as asserted (`claimed_id`, 1.x `oic.identity`, else `identity`).
    fn real_ident(&self) -> &str {
        match (&self.oic_identity, self.claimed) {
            (Some(ident), _) => ident,
            (None, Some(span)) => self.msg.at(span),
            (None, None) => self.identity(),
        }
    }

    fn nonce(&self) -> Option<&str> {
        self.nonce.map(|span| self.msg.at(span))
    }

    fn signed_fields(&self) -> impl Iterator<Item = &str> {
        self.signed.names(&self.msg)
    }
}

fn store_failed(e: StoreError) -> Outcome {
    Outcome::Error(OpenIdError::with(ErrorCode::StoreFailed, e.0))
}

impl RelyingParty {
    /// Handles the browser's return from the provider at `now`.
    pub fn verify(&self, request: ReturnRequest, stores: &mut Stores, now: UnixTime) -> VerifyStep {
        self.verify_cached(request, stores, now, |_| None)
    }

    /// [`RelyingParty::verify`] with a discovery cache: `cached` is asked once, with the
    /// claimed identifier as asserted (what [`PendingVerify::discovering`] names; for 2.0
    /// during the local checks), for the endpoints [`Discovery`] found for it earlier; when it
    /// has them no discovery request is described (as with [`PendingVerify::with_endpoints`]),
    /// else discovery goes on as in `verify`. The endpoints must be Discovery's own: a claimed
    /// identifier or op_endpoint that is, byte for byte, one of theirs (http(s), not
    /// identifier_select) was normalized when it was discovered, so it is not parsed again.
    /// Every check still applies, in the same order.
    pub fn verify_cached(
        &self,
        request: ReturnRequest,
        stores: &mut Stores,
        now: UnixTime,
        cached: impl FnOnce(&str) -> Option<Vec<Endpoint>>,
    ) -> VerifyStep {
        let mut cached = Some(cached);
        let mut lookup = |ident: &str| cached.take().and_then(|f| f(ident));
        let mut ctx = match self.local_checks(request, stores, now, &mut lookup) {
            Ok(ctx) => ctx,
            Err(outcome) => return VerifyStep::Done(outcome),
        };
        // 2.0: looked up during the local checks already (asked at most once).
        let endpoints = match ctx.cached.take() {
            Some(endpoints) => Some(endpoints),
            None => lookup(ctx.real_ident()),
        };
        let ident = ctx.real_ident();
        if let Some(endpoints) = endpoints {
            if !discovered_claimed_id(ident, &endpoints) {
                if let Err(e) = claimed_url(ident) {
                    return VerifyStep::Done(e.into());
                }
            }
            return ctx.with_endpoints(self, endpoints, stores, now);
        }
        let claimed = match claimed_url(ident) {
            Ok(url) => url,
            Err(e) => return VerifyStep::Done(e.into()),
        };
        let (discovery, step) = self.discover(claimed, Some(ctx.msg.version()));
        PendingVerify {
            ctx,
            stage: Stage::Discovering(Box::new(discovery)),
        }
        .after_discovery_step(self, step, stores, now)
    }

    /// Everything that needs no network, in the seed's order.
    // The error is the final outcome, returned once per login: not worth a box.
    #[allow(clippy::result_large_err)]
    fn local_checks(
        &self,
        request: ReturnRequest,
        stores: &mut Stores,
        now: UnixTime,
        lookup: &mut dyn FnMut(&str) -> Option<Vec<Endpoint>>,
    ) -> Result<Context, Outcome> {
        // The query is split off and decoded once, for the message (GET) and for the
        // return_to comparison; the rest is compared with return_to (parsed only if it differs).
        let (base, query) = split_query(request.current_url);
        self.checks(base, query, request.body, stores, now, lookup)
            .map_err(|outcome| {
                // A current URL that is not a URL is reported before anything else: the
                // success path has checked it, a failure checks it here.
                match Url::parse(base) {
                    Err(e) => {
                        OpenIdError::with(ErrorCode::BadMessage, format!("current URL: {e}")).into()
                    }
                    Ok(_) => outcome,
                }
            })
    }

    /// [`RelyingParty::local_checks`] on the current URL split at its query.
    // The error is the final outcome, returned once per login: not worth a box.
    #[allow(clippy::result_large_err)]
    fn checks(
        &self,
        base: &str,
        query: &str,
        body: Option<&str>,
        stores: &mut Stores,
        now: UnixTime,
        lookup: &mut dyn FnMut(&str) -> Option<Vec<Endpoint>>,
    ) -> Result<Context, Outcome> {
        // Room for a usual assertion's parameters (a dozen or so) without regrowing.
        let mut current_pairs: Vec<(Cow<str>, Cow<str>)> = Vec::with_capacity(16);
        current_pairs.extend(form::pairs(query));
        let msg = match body {
            Some(body) => Message::parse(body, self.minimum_version)?,
            // Decoding never lengthens: the query's length bounds the message text.
            None => Message::build(
                current_pairs.iter().map(|(k, v)| (k, v)),
                self.minimum_version,
                query.len(),
            )?,
        }
        .ok_or(Outcome::NotOpenId)?;
        let v = msg.version();
        match (msg.mode(), v) {
            ("error", Version::V2) => {
                let text: String = msg
                    .get("error")
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect();
                return Err(OpenIdError::with(ErrorCode::ProviderError, text).into());
            }
            ("cancel", _) => return Err(Outcome::Cancelled),
            ("setup_needed", Version::V2) => {
                return Err(Outcome::SetupNeeded {
                    user_setup_url: msg.get_nonempty("user_setup_url").map(str::to_string),
                })
            }
            ("id_res", Version::V1) if msg.get_nonempty("user_setup_url").is_some() => {
                return Err(Outcome::SetupNeeded {
                    user_setup_url: msg.get_nonempty("user_setup_url").map(str::to_string),
                })
            }
            ("id_res", _) => {}
            (mode, _) => {
                let mode: String = mode.chars().take(40).collect();
                return Err(OpenIdError::with(ErrorCode::BadMode, format!("mode {mode:?}")).into());
            }
        }
        let identity = msg
            .span_nonempty("identity")
            .ok_or(Outcome::from(OpenIdError::new(ErrorCode::NoIdentity)))?;
        if msg.get_nonempty("sig").is_none() {
            return Err(OpenIdError::new(ErrorCode::NoSig).into());
        }
        let rt_text = msg
            .get_nonempty("return_to")
            .ok_or(Outcome::from(OpenIdError::new(ErrorCode::NoReturnTo)))?;
        // 2.0: the claimed identifier is known now, and so are the endpoints a discovery cache
        // has for it (1.x ones may come from return_to, after its checks).
        let cached = match v {
            Version::V2 => msg
                .get_nonempty("claimed_id")
                .or(msg.get_nonempty("identity"))
                .and_then(&mut *lookup),
            Version::V1 => None,
        };
        let op_endpoint = match v {
            Version::V2 => {
                let text = msg.get_nonempty("op_endpoint");
                // Byte for byte a discovered endpoint's URL, which Discovery wrote normalized
                // (http(s), as the `url` crate writes it): parsing it would give it back.
                let discovered = text.filter(|t| {
                    cached
                        .as_ref()
                        .is_some_and(|es| es.iter().any(|e| e.server == *t))
                        && (t.starts_with("https://") || t.starts_with("http://"))
                });
                let server = match discovered {
                    Some(t) => t.to_string(),
                    None => text
                        .and_then(|s| Url::parse(s).ok())
                        .filter(|u| matches!(u.scheme(), "http" | "https"))
                        .ok_or_else(|| {
                            OpenIdError::with(ErrorCode::ServerNotAllowed, "no usable op_endpoint")
                        })?
                        .into(),
                };
                if !self.provider_allowed_normalized(&server) {
                    return Err(OpenIdError::with(
                        ErrorCode::ServerNotAllowed,
                        format!("{server} is not allowed"),
                    )
                    .into());
                }
                Some(server)
            }
            Version::V1 => None,
        };
        if let Some(root) = &self.required_root {
            root.check(rt_text)?;
        }
        let rt = Url::parse(rt_text).map_err(|e| {
            OpenIdError::with(
                ErrorCode::BogusReturnTo,
                format!("return_to is not a URL: {e}"),
            )
        })?;
        // The realm is this site's: a return_to outside it was made for another site (whose
        // login the provider signed), whatever Host the request claims.
        if let Some(realm) = &self.realm {
            if !realm.contains(&rt) {
                return Err(OpenIdError::with(
                    ErrorCode::BogusReturnTo,
                    format!("return_to is not within the realm {}", realm.as_str()),
                )
                .into());
            }
        }
        // return_to's own parameters, decoded once for the comparison and for oic.* below.
        let rt_pairs: Vec<(Cow<str>, Cow<str>)> =
            form::pairs(rt.query().unwrap_or_default()).collect();
        return_to::matches_current_text(&rt, &rt_pairs, base, &current_pairs)?;
        drop(current_pairs);
        let nonce = msg.span_nonempty("response_nonce");
        if v == Version::V2 && nonce.is_none() {
            return Err(OpenIdError::new(ErrorCode::NonceMissing).into());
        }
        let nonce_key = match (&op_endpoint, nonce) {
            (Some(server), Some(n)) => self.check_nonce(server, msg.at(n), stores, now)?,
            _ => None,
        };
        let rt_param = |name: &str| {
            rt_pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_ref())
        };
        if self.check_signed_time {
            self.consumer_secret
                .verify(rt_param(signed_time::PARAM), now)?;
        }
        let (always, if_present): (&[&str], &[&str]) = match v {
            Version::V2 => (
                &["op_endpoint", "return_to", "response_nonce", "assoc_handle"],
                &["claimed_id", "identity"],
            ),
            Version::V1 => (&["identity", "return_to"], &[]),
        };
        let signed = SignedList::of(&msg)?;
        let mut unsigned: Vec<&str> = always
            .iter()
            .chain(if_present.iter().filter(|f| msg.get_nonempty(f).is_some()))
            .filter(|f| !signed.contains(&msg, f))
            .copied()
            .collect();
        if !unsigned.is_empty() {
            unsigned.sort_unstable();
            return Err(OpenIdError::with(
                ErrorCode::UnsignedField,
                format!("must be signed: {}", unsigned.join(", ")),
            )
            .into());
        }
        // claimed_id, which only 2.0 has, signed in a message without `openid.ns`: a 2.0
        // assertion whose (unsigned) namespace was stripped on the way, to be checked by 1.x's
        // rules (the OP-local identifier becomes the user). Not op_endpoint or response_nonce:
        // JanRain's libraries, the most common 1.x providers, sign both in 1.1 answers too.
        if v == Version::V1 && signed.contains(&msg, "claimed_id") {
            return Err(OpenIdError::with(
                ErrorCode::BadMessage,
                "a 1.x message signs claimed_id, which only 2.0 has: its openid.ns was removed",
            )
            .into());
        }
        let (claimed, oic_identity) = match v {
            Version::V1 => (
                None,
                rt_param(OIC_IDENTITY)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            ),
            Version::V2 => (msg.span_nonempty("claimed_id"), None),
        };
        drop(rt_pairs);
        Ok(Context {
            msg,
            cached,
            identity,
            claimed,
            oic_identity,
            nonce,
            op_endpoint,
            nonce_key,
            signed,
        })
    }

    /// The seed's `_nonce_check_succeeds`, read-only: reuse first, then the timestamp.
    /// Returns the store key it looked up (none when nonces are not checked).
    // The error is the final outcome, returned once per login: not worth a box.
    #[allow(clippy::result_large_err)]
    fn check_nonce(
        &self,
        server: &str,
        nonce: &str,
        stores: &mut Stores,
        now: UnixTime,
    ) -> Result<Option<String>, Outcome> {
        if self.nonce == NoncePolicy::NoCheck {
            return Ok(None);
        }
        let key = nonce::store_key(server, nonce);
        if stores.nonces.seen(&key, now).map_err(store_failed)? {
            return Err(OpenIdError::new(ErrorCode::NonceReused).into());
        }
        self.nonce.check_time(nonce, now).map_err(Outcome::from)?;
        Ok(Some(key))
    }
}

impl PendingVerify {
    /// The claimed identifier being discovered, when that is the step pending (to consult a discovery cache).
    pub fn discovering(&self) -> Option<&str> {
        match &self.stage {
            Stage::Discovering(_) => Some(self.ctx.real_ident()),
            Stage::CheckAuth { .. } => None,
        }
    }

    /// Feeds the response to the request of the last step.
    pub fn on_response(
        self,
        rp: &RelyingParty,
        response: HttpResponse,
        stores: &mut Stores,
        now: UnixTime,
    ) -> VerifyStep {
        let PendingVerify { ctx, stage } = self;
        match stage {
            Stage::Discovering(mut d) => {
                let step = d.on_response(response);
                PendingVerify {
                    ctx,
                    stage: Stage::Discovering(d),
                }
                .after_discovery_step(rp, step, stores, now)
            }
            Stage::CheckAuth { endpoint } => {
                VerifyStep::Done(ctx.on_check_auth(rp, endpoint, response, stores, now))
            }
        }
    }

    /// Continues with endpoints the shell already knows (a discovery cache), skipping the fetches.
    pub fn with_endpoints(
        self,
        rp: &RelyingParty,
        endpoints: Vec<Endpoint>,
        stores: &mut Stores,
        now: UnixTime,
    ) -> VerifyStep {
        self.ctx.with_endpoints(rp, endpoints, stores, now)
    }

    fn after_discovery_step(
        self,
        rp: &RelyingParty,
        step: DiscoveryStep,
        stores: &mut Stores,
        now: UnixTime,
    ) -> VerifyStep {
        match step {
            DiscoveryStep::Fetch(request) => VerifyStep::Fetch(request, self),
            DiscoveryStep::Done(endpoints) => {
                let problem = match &self.stage {
                    Stage::Discovering(d) => d.problem().map(str::to_string),
                    Stage::CheckAuth { .. } => None,
                };
                self.ctx
                    .after_discovery(rp, endpoints, problem, stores, now)
            }
        }
    }
}

impl Context {
    /// Continues with known endpoints: those of the message's version, as discovery keeps.
    fn with_endpoints(
        self,
        rp: &RelyingParty,
        endpoints: Vec<Endpoint>,
        stores: &mut Stores,
        now: UnixTime,
    ) -> VerifyStep {
        let force = self.msg.version();
        let endpoints = endpoints
            .into_iter()
            .filter(|e| e.version == force)
            .collect();
        self.after_discovery(rp, endpoints, None, stores, now)
    }

    fn after_discovery(
        self,
        rp: &RelyingParty,
        endpoints: Vec<Endpoint>,
        problem: Option<String>,
        stores: &mut Stores,
        now: UnixTime,
    ) -> VerifyStep {
        match self.match_endpoint(rp, endpoints, problem, stores, now) {
            Ok(endpoint) => self.check_signature(rp, endpoint, stores, now),
            Err(outcome) => VerifyStep::Done(outcome),
        }
    }

    /// The endpoint that may assert this identity: `no_identity_server`, `server_not_allowed`,
    /// `unexpected_url_redirect`, `bogus_delegation`.
    // The error is the final outcome, returned once per login: not worth a box.
    #[allow(clippy::result_large_err)]
    fn match_endpoint(
        &self,
        rp: &RelyingParty,
        endpoints: Vec<Endpoint>,
        problem: Option<String>,
        stores: &mut Stores,
        now: UnixTime,
    ) -> Result<Endpoint, Outcome> {
        if endpoints.is_empty() {
            let e = match problem {
                Some(p) => OpenIdError::with(ErrorCode::NoIdentityServer, p),
                None => OpenIdError::new(ErrorCode::NoIdentityServer),
            };
            return Err(e.into());
        }
        let v = self.msg.version();
        let candidates: Vec<Endpoint> = match &self.op_endpoint {
            // 2.0: the provider names itself; it must be one of the discovered endpoints.
            Some(server) => endpoints
                .into_iter()
                .filter(|e| same_url(&e.server, server, false))
                .collect(),
            // 1.x: the primary endpoint is assumed to be the one that answered.
            None => endpoints.into_iter().take(1).collect(),
        };
        let Some(first) = candidates.first() else {
            return Err(OpenIdError::with(
                ErrorCode::ServerNotAllowed,
                "op_endpoint is not a discovered endpoint",
            )
            .into());
        };
        if self.op_endpoint.is_none() {
            if !rp.provider_allowed(&first.server) {
                return Err(OpenIdError::with(
                    ErrorCode::ServerNotAllowed,
                    format!("{} is not allowed", first.server),
                )
                .into());
            }
            if let Some(n) = self.nonce() {
                rp.check_nonce(&first.server, n, stores, now)?;
            }
        }
        let no_fragment = v == Version::V2;
        let (identity, real_ident) = (self.identity(), self.real_ident());
        let mut last = ErrorCode::UnexpectedUrlRedirect;
        for e in candidates {
            if !same_url(&e.claimed_id, real_ident, no_fragment) {
                last = ErrorCode::UnexpectedUrlRedirect;
                continue;
            }
            // The identity the provider vouched for must be the one discovery found (§11.2):
            // the declared OP-local identifier, else the claimed identifier itself. An
            // assertion for the claimed id where the page delegates to another local id is
            // not what the page's owner set up (python-openid refuses it too).
            let local = e.local_id.as_deref().unwrap_or(&e.claimed_id);
            if !same_url(local, identity, no_fragment) {
                last = ErrorCode::BogusDelegation;
                continue;
            }
            return Ok(e);
        }
        Err(OpenIdError::new(last).into())
    }

    /// The signed fields and their values, in `openid.signed` order: what the provider signed,
    /// in key-value form.
    fn signed_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.signed_fields()
            .map(|f| (f, self.msg.get(f).unwrap_or_default()))
    }

    fn check_signature(
        self,
        rp: &RelyingParty,
        endpoint: Endpoint,
        stores: &mut Stores,
        now: UnixTime,
    ) -> VerifyStep {
        let handle = self.msg.get_nonempty("assoc_handle");
        let assoc = match handle.map(|h| stores.associations.get(&endpoint.server, h)) {
            Some(Err(e)) => return VerifyStep::Done(store_failed(e)),
            Some(Ok(a)) => a,
            None => None,
        };
        let Some(assoc) = assoc else {
            return self.check_authentication(rp, endpoint);
        };
        VerifyStep::Done(match self.verify_with(&assoc, now) {
            Ok(()) => self.finish(rp, endpoint, stores, now),
            Err(e) => e.into(),
        })
    }

    /// `expired_association` / `signature_mismatch` (constant-time comparison).
    fn verify_with(&self, assoc: &Association, now: UnixTime) -> Result<(), OpenIdError> {
        if assoc.expired(now) {
            return Err(ErrorCode::ExpiredAssociation.into());
        }
        let newline = || {
            OpenIdError::with(
                ErrorCode::SignatureMismatch,
                "a signed field holds a newline",
            )
        };
        let sig = self.sig();
        // The token is built on the stack; a huge one (more than 1 KiB) is allocated.
        let mut buf = [0u8; 1024];
        let matches = match kv::serialize_into(self.signed_pairs(), &mut buf) {
            Ok(Some(n)) => {
                assoc.signature_matches(buf.get(..n).unwrap_or_default(), sig.as_bytes())
            }
            Ok(None) => {
                let token = kv::serialize(self.signed_pairs()).map_err(|_| newline())?;
                assoc.signature_matches(token.as_bytes(), sig.as_bytes())
            }
            Err(_) => return Err(newline()),
        };
        if matches {
            Ok(())
        } else {
            Err(ErrorCode::SignatureMismatch.into())
        }
    }

    /// Describes the check_authentication POST (2.0: every field but mode; 1.x: the signed ones).
    fn check_authentication(self, rp: &RelyingParty, endpoint: Endpoint) -> VerifyStep {
        let Ok(server) = Url::parse(&endpoint.server) else {
            return VerifyStep::Done(
                OpenIdError::with(ErrorCode::NaiveVerifyFailedNetwork, "bad endpoint URL").into(),
            );
        };
        if let Err(e) = rp.fetch.permits(&server) {
            return VerifyStep::Done(
                OpenIdError::with(ErrorCode::NaiveVerifyFailedNetwork, e).into(),
            );
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        match self.msg.version() {
            Version::V2 => {
                for (k, v) in self
                    .msg
                    .fields()
                    .filter(|(k, _)| *k != "mode" && *k != "sig")
                {
                    pairs.push((format!("openid.{k}"), v.to_string()));
                }
            }
            Version::V1 => {
                for k in ["assoc_handle", "signed", "invalidate_handle"] {
                    if let Some(v) = self.msg.get_nonempty(k) {
                        pairs.push((format!("openid.{k}"), v.to_string()));
                    }
                }
                for f in self.signed_fields() {
                    let key = format!("openid.{f}");
                    if !pairs.iter().any(|(k, _)| *k == key) && f != "mode" && f != "sig" {
                        pairs.push((key, self.msg.get(f).unwrap_or_default().to_string()));
                    }
                }
            }
        }
        pairs.push(("openid.sig".into(), self.sig().into_owned()));
        pairs.push(("openid.mode".into(), "check_authentication".into()));
        let request = rp
            .fetch
            .post_form(&server, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        VerifyStep::Fetch(
            request,
            PendingVerify {
                ctx: self,
                stage: Stage::CheckAuth { endpoint },
            },
        )
    }

    fn on_check_auth(
        self,
        rp: &RelyingParty,
        endpoint: Endpoint,
        response: HttpResponse,
        stores: &mut Stores,
        now: UnixTime,
    ) -> Outcome {
        let network =
            |d: String| Outcome::Error(OpenIdError::with(ErrorCode::NaiveVerifyFailedNetwork, d));
        if !response.is_success() {
            return network(format!(
                "check_authentication: HTTP status {}",
                response.status
            ));
        }
        let fields = match kv::parse(&response.body) {
            Ok(f) => f,
            Err(e) => return network(format!("check_authentication: {e}")),
        };
        if let Some(ih) = kv::get(&fields, "invalidate_handle").filter(|h| !h.is_empty()) {
            if let Err(e) = stores.associations.remove(&endpoint.server, ih) {
                return store_failed(e);
            }
        }
        let valid = kv::get(&fields, "is_valid") == Some("true")
            || (self.msg.version() == Version::V1
                && kv::get(&fields, "lifetime")
                    .and_then(|l| l.parse::<i64>().ok())
                    .is_some_and(|l| l > 0));
        if !valid {
            return OpenIdError::new(ErrorCode::NaiveVerifyFailedReturn).into();
        }
        self.finish(rp, endpoint, stores, now)
    }

    /// Records the nonce (the authoritative replay check) and builds the verified identity.
    fn finish(
        self,
        rp: &RelyingParty,
        endpoint: Endpoint,
        stores: &mut Stores,
        now: UnixTime,
    ) -> Outcome {
        if let (Some(n), NoncePolicy::Check { .. }) = (self.nonce(), rp.nonce) {
            // The key the replay check looked up (2.0: at the normalized op_endpoint, which
            // the endpoint matched), however the endpoint's URL is spelled; else the endpoint's.
            let key = match &self.nonce_key {
                Some(k) => Cow::Borrowed(k.as_str()),
                None => Cow::Owned(nonce::store_key(&endpoint.server, n)),
            };
            match stores
                .nonces
                .check_and_insert(&key, rp.nonce.expiry(n, now), now)
            {
                Ok(true) => {}
                Ok(false) => return OpenIdError::new(ErrorCode::NonceReused).into(),
                Err(e) => return store_failed(e),
            }
        }
        let version = self.msg.version();
        let real_ident = self.real_ident();
        let url = if real_ident == endpoint.claimed_id {
            real_ident.to_string()
        } else {
            Url::parse(real_ident)
                .map(|mut u| {
                    if version == Version::V1 {
                        u.set_fragment(None);
                    }
                    u.to_string()
                })
                .unwrap_or_else(|_| endpoint.claimed_id.clone())
        };
        let op_local_id = self.identity().to_string();
        Outcome::Verified(VerifiedIdentity {
            url,
            op_local_id,
            server: endpoint.server,
            version,
            signed: SignedFields {
                msg: self.msg,
                list: self.signed,
            },
        })
    }
}

/// The claimed identifier to discover: normalized, and not identifier_select (`no_identity_server`).
fn claimed_url(ident: &str) -> Result<Url, OpenIdError> {
    match identifier::normalize(ident) {
        Ok(u) if u.as_str() != IDENTIFIER_SELECT => Ok(u),
        Ok(_) => Err(OpenIdError::with(
            ErrorCode::NoIdentityServer,
            "claimed_id is identifier_select",
        )),
        Err(e) => Err(OpenIdError::with(
            ErrorCode::NoIdentityServer,
            format!("claimed identifier: {}", e.detail),
        )),
    }
}

/// True when `ident` is, byte for byte, the claimed identifier of one of Discovery's
/// `endpoints` (http(s), not an OP identifier's identifier_select, not longer than an
/// identifier may be): the URL discovery ended at, without fragment as the `url` crate
/// writes it, which [`claimed_url`] would return unchanged.
fn discovered_claimed_id(ident: &str, endpoints: &[Endpoint]) -> bool {
    ident.len() <= identifier::MAX_IDENTIFIER_BYTES
        && (ident.starts_with("https://") || ident.starts_with("http://"))
        && ident != IDENTIFIER_SELECT
        && endpoints
            .iter()
            .any(|e| !e.op_identifier && e.claimed_id == ident)
}

/// Splits a request URL into what precedes the query and the query itself (no fragment).
fn split_query(url: &str) -> (&str, &str) {
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    url.split_once('?').unwrap_or((url, ""))
}

/// URL equality after normalization (optionally ignoring fragments); exact text when either is not a URL.
fn same_url(a: &str, b: &str, ignore_fragment: bool) -> bool {
    if a == b {
        return true;
    }
    if ignore_fragment {
        return identifier::same_without_fragment(a, b);
    }
    matches!((Url::parse(a), Url::parse(b)), (Ok(x), Ok(y)) if x == y)
}

#[cfg(test)]
mod tests;
