//! Discovery (2.0 §7.3) as a sans-IO state machine: Yadis first, then the HTML head.
//!
//! [`Discovery::start`] describes the first GET; each [`Discovery::on_response`]
//! returns the next request or the endpoints found. Redirects are followed
//! here, hop by hop, so the URL discovery ends at is known exactly (the
//! seed's `unexpected_url_redirect` compares it with the asserted claimed
//! identifier). Endpoints come out 2.0 before 1.x, as in the seed; among
//! 2.0 ones, OP identifiers first (2.0 §7.3.2.2).
//!
//! Unlike the seed, the HTML head is read from the same response as the
//! Yadis step (one fetch, not two); when that response is itself an XRDS
//! document there is no HTML to read.

use super::html::{self, HtmlLinks};
use super::http::{FetchLimits, HttpRequest, HttpResponse};
use super::message::Version;
use super::xrds::{self, XrdsService};
use url::Url;

/// Service type of an OP identifier (directed identity).
pub const TYPE_OP_IDENTIFIER: &str = "http://specs.openid.net/auth/2.0/server";
/// Service type of a 2.0 claimed identifier.
pub const TYPE_SIGNON_2_0: &str = "http://specs.openid.net/auth/2.0/signon";
/// Service type of a 1.1 claimed identifier.
pub const TYPE_SIGNON_1_1: &str = "http://openid.net/signon/1.1";
/// Service type of a 1.0 claimed identifier.
pub const TYPE_SIGNON_1_0: &str = "http://openid.net/signon/1.0";
/// The claimed identifier sent when the provider chooses the identity (OP identifiers).
pub const IDENTIFIER_SELECT: &str = "http://specs.openid.net/auth/2.0/identifier_select";
/// The Accept header of the Yadis request: XRDS preferred, HTML accepted.
pub const YADIS_ACCEPT: &str = "application/xrds+xml, text/html;q=0.3, application/xhtml+xml;q=0.5";

/// How an endpoint was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Mechanism {
    /// From an XRDS document (Yadis).
    Yadis,
    /// From `<link>` tags in the HTML head.
    Html,
}

/// One provider endpoint an identifier declares.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Endpoint {
    /// The OP endpoint URL (normalized).
    pub server: String,
    /// The protocol version it speaks.
    pub version: Version,
    /// The claimed identifier: where discovery ended (after redirects; normalized, no fragment), or identifier_select.
    pub claimed_id: String,
    /// The OP-local identifier (2.0 `LocalID` / `openid2.local_id`, 1.x `Delegate` / `openid.delegate`).
    pub local_id: Option<String>,
    /// True for an OP identifier (the provider picks the user's identity).
    pub op_identifier: bool,
    /// Yadis or HTML.
    pub mechanism: Mechanism,
}

impl Endpoint {
    /// The identity to send as `openid.identity`: the local id, else the claimed id.
    pub fn identity_arg(&self) -> &str {
        self.local_id.as_deref().unwrap_or(&self.claimed_id)
    }
}

/// What discovery needs next.
// One value per network round trip: boxing the request would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum DiscoveryStep {
    /// Perform this request and hand the response to [`Discovery::on_response`].
    Fetch(HttpRequest),
    /// Finished: every endpoint found (possibly none; see [`Discovery::problem`]).
    Done(Vec<Endpoint>),
}

/// Discovery of one normalized identifier, in progress.
#[derive(Debug, Clone)]
pub struct Discovery {
    limits: FetchLimits,
    /// Where `limits` allows private addresses: only these origins may have them (the allowed
    /// providers'); empty: everywhere.
    private_origins: Vec<url::Origin>,
    force_version: Option<Version>,
    state: State,
    redirects: u8,
    problem: Option<String>,
}

// Lives once per discovery; Done being small does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum State {
    /// Fetching the identifier itself (Yadis request; its HTML head is read too).
    Identifier { url: Url },
    /// Fetching the XRDS document the identifier pointed at.
    Xrds {
        url: Url,
        identity_url: Url,
        html: Option<(Url, HtmlLinks)>,
    },
    /// Finished.
    Done,
}

/// The origins at which `provider` may be on a private address: its own, and for an https one
/// on the default port the same host over http on port 80 (an identifier typed without a
/// scheme is `http://…`, and the provider's redirect to https lands on its own origin).
fn origins_of(provider: &Url) -> Vec<url::Origin> {
    let mut out = vec![provider.origin()];
    if provider.scheme() == "https" && provider.port().is_none() {
        if let Some(host) = provider.host_str() {
            if let Ok(http) = Url::parse(&format!("http://{host}/")) {
                out.push(http.origin());
            }
        }
    }
    out
}

impl Discovery {
    /// Starts discovery of `identifier` (already normalized); `force_version` keeps only that version.
    pub fn start(
        identifier: Url,
        limits: FetchLimits,
        force_version: Option<Version>,
    ) -> (Discovery, DiscoveryStep) {
        Discovery::start_limited(identifier, limits, force_version, &[])
    }

    /// [`Discovery::start`] where private addresses, when `limits` allows them, are allowed only
    /// at the origins of `providers` (an allow-list of OP endpoints): the identifier a visitor
    /// types, or a redirect, must not aim the server's fetches at the rest of its network.
    pub fn start_limited(
        identifier: Url,
        limits: FetchLimits,
        force_version: Option<Version>,
        providers: &[Url],
    ) -> (Discovery, DiscoveryStep) {
        let mut d = Discovery {
            limits,
            private_origins: providers.iter().flat_map(origins_of).collect(),
            force_version,
            state: State::Done,
            redirects: 0,
            problem: None,
        };
        let step = d.fetch(State::Identifier { url: identifier });
        (d, step)
    }

    /// Why discovery found nothing, when a fetch or a document failed (for logs).
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// Feeds the response to the last described request.
    pub fn on_response(&mut self, response: HttpResponse) -> DiscoveryStep {
        let state = std::mem::replace(&mut self.state, State::Done);
        let url = match &state {
            State::Identifier { url } | State::Xrds { url, .. } => url.clone(),
            State::Done => return DiscoveryStep::Done(Vec::new()),
        };
        if let Some(location) = response.redirect_location() {
            self.redirects += 1;
            if self.redirects > self.limits.max_redirects {
                return self.fail(format!("more than {} redirects", self.limits.max_redirects));
            }
            let Ok(mut next) = url.join(location.trim()) else {
                return self.fail(format!("bad redirect location {location:?}"));
            };
            next.set_fragment(None);
            let state = match state {
                State::Identifier { .. } => State::Identifier { url: next },
                State::Xrds {
                    identity_url, html, ..
                } => State::Xrds {
                    url: next,
                    identity_url,
                    html,
                },
                State::Done => State::Done,
            };
            return self.fetch(state);
        }
        self.redirects = 0;
        if !response.is_success() {
            let problem = format!("{url}: HTTP status {}", response.status);
            return match state {
                // The XRDS pointer led nowhere: fall back to the HTML head.
                State::Xrds { html, .. } => {
                    self.problem = Some(problem);
                    self.finish(Vec::new(), html)
                }
                _ => self.fail(problem),
            };
        }
        match state {
            State::Identifier { url } => self.on_identifier(url, response),
            State::Xrds {
                identity_url, html, ..
            } => {
                let services = match xrds::parse(&response.body) {
                    Ok(s) => s,
                    Err(e) => {
                        self.problem = Some(e.to_string());
                        Vec::new()
                    }
                };
                let yadis = self.yadis_endpoints(&services, &identity_url);
                self.finish(yadis, html)
            }
            State::Done => DiscoveryStep::Done(Vec::new()),
        }
    }

    /// The identifier's own document: XRDS itself, a pointer to one, or HTML.
    fn on_identifier(&mut self, final_url: Url, response: HttpResponse) -> DiscoveryStep {
        if response.media_type().as_deref() == Some("application/xrds+xml") {
            return match xrds::parse(&response.body) {
                Ok(services) => {
                    let yadis = self.yadis_endpoints(&services, &final_url);
                    self.finish(yadis, None)
                }
                Err(e) => self.fail(e.to_string()),
            };
        }
        let links = html::scan(&response.body);
        let pointer = response
            .header("x-xrds-location")
            .map(str::to_string)
            .or_else(|| links.xrds_location.clone());
        if let Some(pointer) = pointer {
            if let Ok(xrds_url) = final_url.join(pointer.trim()) {
                let html = Some((final_url.clone(), links));
                return self.fetch(State::Xrds {
                    url: xrds_url,
                    identity_url: final_url,
                    html,
                });
            }
            self.problem = Some(format!("bad X-XRDS-Location {pointer:?}"));
        }
        self.finish(Vec::new(), Some((final_url, links)))
    }

    /// Describes the GET for `state`, or finishes when the URL may not be fetched.
    fn fetch(&mut self, state: State) -> DiscoveryStep {
        let (url, accept) = match &state {
            State::Identifier { url } => (url, YADIS_ACCEPT),
            State::Xrds { url, .. } => (url, "application/xrds+xml"),
            State::Done => return DiscoveryStep::Done(Vec::new()),
        };
        let mut limits = self.limits;
        if limits.allow_private_addresses
            && !self.private_origins.is_empty()
            && !self.private_origins.contains(&url.origin())
        {
            limits.allow_private_addresses = false;
        }
        if let Err(e) = limits.permits(url) {
            return match state {
                State::Xrds { html, .. } => {
                    self.problem = Some(e);
                    self.finish(Vec::new(), html)
                }
                _ => self.fail(e),
            };
        }
        let request = limits.get(url, accept);
        self.state = state;
        DiscoveryStep::Fetch(request)
    }

    fn fail(&mut self, problem: String) -> DiscoveryStep {
        self.problem = Some(problem);
        self.state = State::Done;
        DiscoveryStep::Done(Vec::new())
    }

    /// Yadis endpoints, then HTML ones; 2.0 before 1.x (stable), OP identifiers first.
    fn finish(
        &mut self,
        mut found: Vec<Endpoint>,
        html: Option<(Url, HtmlLinks)>,
    ) -> DiscoveryStep {
        self.state = State::Done;
        if let Some((url, links)) = html {
            found.extend(self.html_endpoints(&links, &url));
        }
        found.sort_by_key(|e| (std::cmp::Reverse(e.version), !e.op_identifier));
        found.truncate(MAX_ENDPOINTS);
        DiscoveryStep::Done(found)
    }

    fn wants(&self, v: Version) -> bool {
        self.force_version.is_none_or(|f| f == v)
    }

    fn yadis_endpoints(&self, services: &[XrdsService], identity_url: &Url) -> Vec<Endpoint> {
        let mut out = Vec::new();
        for s in services {
            let mut add = |version, claimed: &str, local: Option<&str>, op_identifier| {
                let Ok(local) = local_id(local) else {
                    return;
                };
                for uri in &s.uris {
                    if out.len() >= MAX_ENDPOINTS {
                        return;
                    }
                    if let Some(server) = endpoint_url(uri) {
                        out.push(Endpoint {
                            server,
                            version,
                            claimed_id: claimed.to_string(),
                            local_id: local.map(str::to_string),
                            op_identifier,
                            mechanism: Mechanism::Yadis,
                        });
                    }
                }
            };
            if self.wants(Version::V2) && s.has_type(TYPE_OP_IDENTIFIER) {
                add(
                    Version::V2,
                    IDENTIFIER_SELECT,
                    Some(IDENTIFIER_SELECT),
                    true,
                );
            }
            if self.wants(Version::V2) && s.has_type(TYPE_SIGNON_2_0) {
                add(
                    Version::V2,
                    identity_url.as_str(),
                    s.local_id.as_deref(),
                    false,
                );
            }
            if self.wants(Version::V1)
                && (s.has_type(TYPE_SIGNON_1_1) || s.has_type(TYPE_SIGNON_1_0))
            {
                add(
                    Version::V1,
                    identity_url.as_str(),
                    s.delegate.as_deref(),
                    false,
                );
            }
        }
        out
    }

    fn html_endpoints(&self, links: &HtmlLinks, url: &Url) -> Vec<Endpoint> {
        let mut out = Vec::new();
        let mut add = |version, server: &Option<String>, local: &Option<String>| {
            if local_id(local.as_deref()).is_err() {
                return;
            }
            if let Some(server) = server.as_deref().and_then(endpoint_url) {
                out.push(Endpoint {
                    server,
                    version,
                    claimed_id: url.to_string(),
                    local_id: local.clone(),
                    op_identifier: false,
                    mechanism: Mechanism::Html,
                });
            }
        };
        if self.wants(Version::V2) {
            add(
                Version::V2,
                &links.openid2_provider,
                &links.openid2_local_id,
            );
        }
        if self.wants(Version::V1) {
            add(Version::V1, &links.openid_server, &links.openid_delegate);
        }
        out
    }
}

/// The most endpoints one discovery keeps: Yadis ones in the document's order up to this many,
/// then HTML ones, the best [`MAX_ENDPOINTS`] of all after sorting. A hostile identity document
/// may declare thousands of URIs within the parser's node limit, each an endpoint carrying the
/// claimed identifier (up to 2 KiB): unbounded, one login start built tens of megabytes (and a
/// wasm VM's memory never shrinks back).
pub const MAX_ENDPOINTS: usize = 32;

/// The longest provider endpoint URL or local identifier a discovered document may declare
/// (bytes, normalized). Longer ones are ignored: endpoint URLs are kept in the association
/// caches (Envoy shared data holds 16 per bucket in every worker's memory), and a hostile
/// identity page could otherwise declare megabyte URLs.
pub const MAX_ENDPOINT_URL_LEN: usize = 2048;

/// An endpoint URL as declared, if it is an absolute http(s) URL of at most
/// [`MAX_ENDPOINT_URL_LEN`] bytes; normalized.
fn endpoint_url(s: &str) -> Option<String> {
    let s = s.trim();
    if s.len() > MAX_ENDPOINT_URL_LEN {
        return None;
    }
    let u = Url::parse(s).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    // Normalizing can lengthen it (percent-encoding): the bound holds for what is kept.
    Some(u.to_string()).filter(|u| u.len() <= MAX_ENDPOINT_URL_LEN)
}

/// A declared local identifier (delegate) no longer than [`MAX_ENDPOINT_URL_LEN`]: `Err` when
/// it is longer (the endpoint is then ignored), `Ok(None)` when none is declared.
fn local_id(s: Option<&str>) -> Result<Option<&str>, ()> {
    match s {
        Some(l) if l.len() > MAX_ENDPOINT_URL_LEN => Err(()),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests;
