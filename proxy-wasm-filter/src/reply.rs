//! A `Decision` → what Envoy does: continue with headers for the upstream, or a local reply.

use authrs_core::engine::{Decision, Verdict};
use authrs_core::identity::Identity;

/// What to do with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Let it through, with these identity headers for the upstream.
    Continue {
        /// `x-authrs-*` headers to set.
        headers: Vec<(&'static str, String)>,
    },
    /// Answer it here.
    Reply(Reply),
}

/// A local reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u32,
    /// Response headers.
    pub headers: Vec<(&'static str, String)>,
    /// Response body.
    pub body: String,
}

/// Response headers that carry caching directives for CDNs only, and override `Cache-Control`
/// there: removed from a response that carries a refreshed ticket.
pub const CDN_CACHE_HEADERS: [&str; 4] = [
    "cdn-cache-control",
    "surrogate-control",
    "cloudflare-cdn-cache-control",
    "edge-control",
];

/// The one `Cache-Control` value for a response that carries a refreshed ticket: the
/// upstream's directives (all its `Cache-Control` values) without `public` and `s-maxage`,
/// plus `private` — so no shared cache keeps the ticket, whichever line it reads.
pub fn private_cache_control<'a>(upstream: impl Iterator<Item = &'a str>) -> String {
    let mut out: Vec<&str> = Vec::new();
    for directive in upstream.flat_map(directives) {
        let name = directive.split('=').next().unwrap_or("").trim();
        let shared = name.eq_ignore_ascii_case("public") || name.eq_ignore_ascii_case("s-maxage");
        if !directive.is_empty() && !shared && !out.contains(&directive) {
            out.push(directive);
        }
    }
    if !out.iter().any(|d| d.eq_ignore_ascii_case("private")) {
        out.push("private");
    }
    out.join(", ")
}

/// The comma-separated directives of one `Cache-Control` value, trimmed; a comma inside a
/// quoted string (`no-cache="Set-Cookie, X-Y"`) does not separate.
fn directives(value: &str) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, b) in value.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                parts.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    parts.into_iter()
}

/// The outcome label used by metrics (`allowed`, `redirected`, …).
pub fn outcome(d: &Decision) -> &'static str {
    match d.verdict {
        Verdict::Allow => "allowed",
        Verdict::Redirect { .. } => "redirected",
        Verdict::Unauthorized { .. } => "unauthorized",
        Verdict::Forbidden { .. } => "forbidden",
        Verdict::BadRequest { .. } => "bad_request",
        Verdict::Error { .. } => "error",
    }
}

/// The upstream headers for an identity.
pub fn identity_headers(id: &Identity) -> Vec<(&'static str, String)> {
    let mut h = Vec::with_capacity(4);
    h.push(("x-authrs-user", id.user.clone()));
    h.push(("x-authrs-method", id.method.as_str().to_string()));
    if let Some(dn) = &id.dn {
        h.push(("x-authrs-dn", dn.clone()));
    }
    if !id.roles.is_empty() {
        h.push(("x-authrs-roles", id.roles.to_list()));
    }
    h
}

fn page(status: u32, title: &str) -> String {
    format!("<!DOCTYPE html>\n<html><head><title>{status} {title}</title></head><body><h1>{title}</h1></body></html>\n")
}

/// Turns a decision into an action; `realm` names the `WWW-Authenticate` realm of a 401.
/// A refreshed or cleared cookie rides on a local reply; for `Continue` the caller adds
/// `decision.set_cookie` to the upstream's response.
pub fn action(d: &Decision, realm: Option<&str>) -> Action {
    let mut headers: Vec<(&'static str, String)> = Vec::new();
    if let Some(c) = d.set_cookie.as_deref().filter(|c| !c.is_empty()) {
        headers.push(("set-cookie", c.to_string()));
    }
    if let Some(r) = d.reason() {
        headers.push(("x-authrs-reason", r.code().to_string()));
    }
    let (status, title) = match &d.verdict {
        Verdict::Allow => {
            return Action::Continue {
                headers: d
                    .identity
                    .as_ref()
                    .map(identity_headers)
                    .unwrap_or_default(),
            }
        }
        Verdict::Redirect {
            location, status, ..
        } => {
            headers.push(("location", location.clone()));
            headers.push(("cache-control", "no-store".to_string()));
            (u32::from(*status), "Redirect")
        }
        Verdict::Unauthorized { .. } => {
            let realm = realm.unwrap_or("authrs").replace(['"', '\\'], "");
            headers.push(("www-authenticate", format!("AuthRs realm=\"{realm}\"")));
            (401, "Unauthorized")
        }
        Verdict::Forbidden { .. } => (403, "Forbidden"),
        Verdict::BadRequest { .. } => (400, "Bad Request"),
        Verdict::Error { .. } => (500, "Internal Server Error"),
    };
    headers.push(("content-type", "text/html; charset=utf-8".to_string()));
    Action::Reply(Reply {
        status,
        headers,
        body: page(status, title),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_refreshed_ticket_makes_the_response_private_in_one_header() {
        assert_eq!(private_cache_control(std::iter::empty()), "private");
        assert_eq!(
            private_cache_control(["public, s-maxage=600", "max-age=60"].into_iter()),
            "max-age=60, private"
        );
        assert_eq!(
            private_cache_control(["no-store, Private"].into_iter()),
            "no-store, Private"
        );
        assert_eq!(
            private_cache_control(["PUBLIC,S-MAXAGE = 5, no-transform"].into_iter()),
            "no-transform, private"
        );
        // A quoted list stays one directive.
        assert_eq!(
            private_cache_control([r#"public, no-cache="Set-Cookie, X-Y", max-age=5"#].into_iter()),
            r#"no-cache="Set-Cookie, X-Y", max-age=5, private"#
        );
    }
    use authrs_core::identity::AuthMethod;
    use authrs_core::reason::Reason;

    #[test]
    fn verdicts_map_to_statuses() {
        let mut d = Decision {
            verdict: Verdict::Unauthorized {
                reason: Reason::Expired,
            },
            set_cookie: Some("AuthRs=; Max-Age=0".into()),
            ..Decision::default()
        };
        let Action::Reply(r) = action(&d, Some("Ex\"ample")) else {
            panic!("not a reply")
        };
        assert_eq!(r.status, 401);
        assert!(r
            .headers
            .contains(&("www-authenticate", "AuthRs realm=\"Example\"".into())));
        assert!(r
            .headers
            .contains(&("set-cookie", "AuthRs=; Max-Age=0".into())));
        assert!(r.headers.contains(&("x-authrs-reason", "expired".into())));
        d.verdict = Verdict::Redirect {
            location: "/login?reason=no_cookie".into(),
            status: 302,
            reason: Some(Reason::NoCookie),
        };
        let Action::Reply(r) = action(&d, None) else {
            panic!("not a reply")
        };
        assert_eq!(r.status, 302);
        assert!(r
            .headers
            .contains(&("location", "/login?reason=no_cookie".into())));
        d.verdict = Verdict::Error {
            message: "secret detail".into(),
        };
        let Action::Reply(r) = action(&d, None) else {
            panic!("not a reply")
        };
        assert_eq!(r.status, 500);
        assert!(!r.body.contains("secret"));
        assert_eq!(outcome(&d), "error");
    }

    #[test]
    fn allow_carries_the_identity() {
        let mut id = Identity::new("alice", AuthMethod::Cert);
        id.dn = Some("CN=alice".into());
        let d = Decision {
            verdict: Verdict::Allow,
            identity: Some(id),
            ..Decision::default()
        };
        let Action::Continue { headers } = action(&d, None) else {
            panic!("not continue")
        };
        assert_eq!(
            headers,
            vec![
                ("x-authrs-user", "alice".to_string()),
                ("x-authrs-method", "cert".to_string()),
                ("x-authrs-dn", "CN=alice".to_string())
            ]
        );
    }
}
