//! `decide`: order of methods, fallbacks, authorization, and what to answer.
//!
//! The engine is the only place that knows how the modules combine; shells
//! adapt a request into [`RequestFacts`], call [`decide`] (or [`login`] /
//! [`logout`] for the form handlers), and apply the [`Decision`].

mod authn;
mod build;
mod decision;
mod forms;
pub mod openid_flow;
mod policy;
mod stores;

pub use build::FileReader;
pub use decision::{Decision, Level, Note, Verdict};
pub use forms::{
    login, logout, openid_login, openid_refused, plausible_credentials, refuse_cross_site,
    PasswordCheck,
};
pub use policy::{Method, Policy, UnauthAction};
pub use stores::{ticket_id, RevocationStore, StoreError, Stores};

use crate::authz::AuthzResult;
use crate::identity::Identity;
use crate::login::login_redirect;
use crate::reason::Reason;
use crate::request::RequestFacts;
use crate::time::UnixTime;

/// Decides one request to a protected location: authenticate, authorize, answer.
pub fn decide(
    policy: &Policy,
    req: &RequestFacts,
    now: UnixTime,
    stores: &mut Stores<'_>,
) -> Decision {
    let mut decision = Decision::default();
    let authn = match authn::authenticate(policy, req, now, stores, &mut decision) {
        Ok(a) => a,
        Err(message) => return decision.with(Verdict::Error { message }),
    };
    let identity = authn.identity.map(|id| with_roles_and_groups(policy, id));
    let result = match &policy.require {
        Some(tree) => tree.evaluate(identity.as_ref()),
        None if identity.is_some() => AuthzResult::Granted,
        None => AuthzResult::DeniedNoUser,
    };
    decision.identity = identity;
    match result {
        AuthzResult::Granted => decision.with(Verdict::Allow),
        AuthzResult::GeneralError => decision.with(Verdict::Error {
            message: "the Require rules could not be evaluated".to_string(),
        }),
        // Authenticated but not allowed: forbidden, whatever the tree's flavour of "no".
        _ if decision.identity.is_some() => {
            decision.set_cookie = None;
            decision.with(Verdict::Forbidden {
                reason: Reason::Forbidden,
            })
        }
        _ => {
            let reason = authn.failure;
            if matches!(reason, Reason::BadCookie | Reason::Expired) && !authn.keep_cookie {
                // A cookie that will never verify again only causes loops: clear it.
                decision.set_cookie = Some(policy.cookie.clear_cookie());
            }
            let verdict = unauthenticated(policy, req, reason);
            decision.with(verdict)
        }
    }
}

/// Authenticates without enforcing anything (AuthCookie's recognize_user on unprotected pages).
pub fn recognize(
    policy: &Policy,
    req: &RequestFacts,
    now: UnixTime,
    stores: &mut Stores<'_>,
) -> Decision {
    let mut decision = Decision::default();
    match authn::authenticate(policy, req, now, stores, &mut decision) {
        Ok(a) => {
            decision.identity = a.identity.map(|id| with_roles_and_groups(policy, id));
            decision.with(Verdict::Allow)
        }
        // Recognizing is best effort on a public page: a store failure means "anonymous".
        Err(message) => {
            decision.note(Level::Warn, "AUTHRS0150", message);
            decision.set_cookie = None;
            decision.with(Verdict::Allow)
        }
    }
}

/// The answer for a client that could not be authenticated, per `AuthRsUnauthAction`.
fn unauthenticated(policy: &Policy, req: &RequestFacts, reason: Reason) -> Verdict {
    let redirect = |url: &str| Verdict::Redirect {
        location: login_redirect(url, &req.path_and_query(), reason),
        status: 302,
        reason: Some(reason),
    };
    match (policy.unauth_action, policy.login_url.as_deref()) {
        (UnauthAction::Forbidden, _) => Verdict::Forbidden { reason },
        (UnauthAction::Unauthorized, _) | (_, None) => Verdict::Unauthorized { reason },
        (UnauthAction::Redirect, Some(url)) => redirect(url),
        (UnauthAction::Auto, Some(_)) if req.is_api_client() => Verdict::Unauthorized { reason },
        (UnauthAction::Auto, Some(url)) => redirect(url),
    }
}

/// Adds the roles file's roles (to any the ticket carried) and the group file's groups.
fn with_roles_and_groups(policy: &Policy, mut id: Identity) -> Identity {
    id.openid_strength = policy.openid_strength;
    if let Some(roles) = &policy.roles {
        id.roles.merge(&roles.roles_for(&id.user));
    }
    if let Some(groups) = &policy.groups {
        id.groups.extend(groups.groups_for(&id.user));
    }
    id
}

#[cfg(test)]
mod chain_tests;
#[cfg(test)]
mod tests;
