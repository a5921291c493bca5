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
