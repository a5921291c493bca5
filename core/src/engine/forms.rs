//! The login and logout handlers' logic (AuthCookie's `login` and `logout`).

use super::decision::{Decision, Level, Verdict};
use super::policy::Policy;
use super::stores::{ticket_id, Stores};
use crate::identity::AuthMethod;
use crate::login::{login_redirect, LoginForm, MAX_PASSWORD};
use crate::password::Htpasswd;
use crate::reason::Reason;
use crate::request::RequestFacts;
use crate::ticket::{KeyId, Ticket, MAX_USER_LEN};
use crate::time::UnixTime;
use std::collections::HashSet;

/// Checks a user name and password: httpd's authn providers, an inline htpasswd, or a remote service.
pub trait PasswordCheck {
    /// `Ok(true)` for a correct password, `Ok(false)` for a wrong one or an unknown user,
    /// `Err` when the check itself failed (the login then fails closed with a 500).
    fn check(&mut self, user: &str, password: &str) -> Result<bool, String>;

    /// After a successful [`PasswordCheck::check`], the user name the password store knows the
    /// user by, when it differs from what was typed (an LDAP provider matches `ALICE` and names
    /// `alice`); the ticket is issued to that name, so `Require user` and deny lists see one
    /// spelling per person. `None`: the name as typed.
    fn canonical_user(&self) -> Option<String> {
        None
    }
}

impl PasswordCheck for Htpasswd {
    fn check(&mut self, user: &str, password: &str) -> Result<bool, String> {
        Htpasswd::check(self, user, password).map_err(|e| e.to_string())
    }
}

/// A shared table checks as well as an owned one (a shell's per-site table, never cloned per login).
impl PasswordCheck for &Htpasswd {
    fn check(&mut self, user: &str, password: &str) -> Result<bool, String> {
        Htpasswd::check(self, user, password).map_err(|e| e.to_string())
    }
}

/// Whether a user name and password are worth checking at all: a user name that is not empty,
/// not longer than a ticket may carry, that cannot pass for another (no control or invisible
/// characters, no whitespace at either end), and a password of 1 to
/// [`MAX_PASSWORD`] bytes (an empty one is never checked: an LDAP-backed service could take it
/// for an unauthenticated bind and say yes). Anything else fails as `bad_credentials` without a check (a shell that
/// asks a remote password service calls this first).
pub fn plausible_credentials(user: &str, password: &str) -> bool {
    !user.is_empty()
        && user.len() <= MAX_USER_LEN
        && crate::identity::distinct_user_name(user)
        && !password.is_empty()
        && password.len() <= MAX_PASSWORD
}

/// Handles a login form POST: on success a ticket cookie and a 303 to the untainted destination,
/// on failure back to the login page with `reason=bad_credentials`.
pub fn login(
    policy: &Policy,
    req: &RequestFacts,
    body: &[u8],
    now: UnixTime,
    passwords: &mut dyn PasswordCheck,
) -> Decision {
    if let Some(refused) = refuse_cross_site(req) {
        return refused;
    }
    let mut decision = Decision::default();
    let form = match LoginForm::parse(body) {
        Ok(f) => f,
        Err(e) => {
            decision.note(
                Level::Info,
                "AUTHRS0301",
                format!("malformed login form: {e}"),
            );
            return decision.with(Verdict::BadRequest {
                detail: e.to_string(),
            });
        }
    };
    let destination = policy.destinations.untaint(form.destination.as_deref());
    if policy.keys.is_none() {
        return decision.with(Verdict::Error {
            message: "login needs a ticket key (AuthRsTicketKeyFile / ticket_keys)".to_string(),
        });
    }
    let (user, password) = match form.credentials.as_slice() {
        [user, password, ..] => (user.as_str(), password.as_str()),
        _ => ("", ""),
    };
    let ok = if !plausible_credentials(user, password) {
        false
    } else {
        match passwords.check(user, password) {
            Ok(ok) => ok,
            Err(message) => {
                decision.note(
                    Level::Error,
                    "AUTHRS0302",
                    format!("password check for {user:?} failed: {message}"),
                );
                return decision.with(Verdict::Error { message });
            }
        }
    };
    if !ok {
        // A user name too long to be anyone's is not logged whole.
        let shown: String = user.chars().take(256).collect();
        decision.note(
            Level::Info,
            "AUTHRS0303",
            format!("login failed for {shown:?}: bad_credentials"),
        );
        let verdict = match &policy.login_url {
            Some(url) => Verdict::Redirect {
                location: login_redirect(url, &destination, Reason::BadCredentials),
                status: 303,
                reason: Some(Reason::BadCredentials),
            },
            None => Verdict::Unauthorized {
                reason: Reason::BadCredentials,
            },
        };
        return decision.with(verdict);
    }
    let canonical = passwords.canonical_user().filter(|c| c != user);
    let user = match canonical.as_deref() {
        None => user,
        Some(c)
            if !c.is_empty()
                && c.len() <= MAX_USER_LEN
                && crate::identity::distinct_user_name(c) =>
        {
            decision.note(
                Level::Debug,
                "AUTHRS0308",
                format!("login as {user:?} is user {c:?} for the password store"),
            );
            c
        }
        Some(c) => {
            let message = format!("the password store named the user {c:?}, not a user name");
            decision.note(Level::Error, "AUTHRS0302", message.clone());
            return decision.with(Verdict::Error { message });
        }
    };
    issue(
        policy,
        req,
        decision,
        user,
        AuthMethod::Password,
        destination,
        now,
    )
}

/// Mints a ticket for `user` authenticated by `method`, sets the cookie and 303s to `destination`.
#[allow(clippy::too_many_arguments)]
fn issue(
    policy: &Policy,
    req: &RequestFacts,
    mut decision: Decision,
    user: &str,
    method: AuthMethod,
    destination: String,
    now: UnixTime,
) -> Decision {
    let Some(keys) = &policy.keys else {
        return decision.with(Verdict::Error {
            message: "login needs a ticket key (AuthRsTicketKeyFile / ticket_keys)".to_string(),
        });
    };
    let ticket = Ticket {
        version: 1,
        key_id: KeyId::default(),
        user: user.to_string(),
        method,
        issued: now,
        expires: now.saturating_add(policy.ticket_lifetime),
        last_seen: now,
        address: if policy.bind_address {
            req.client_address()
        } else {
            None
        },
        roles: None,
    };
    if policy.bind_address && ticket.address.is_none() {
        // Binding is on but the client's address is unknown: an unbound ticket would fail open.
        return decision.with(Verdict::Error {
            message: "AuthRsBindAddress is on but the client address is unknown".to_string(),
        });
    }
    // Bound to the cookie it is set in: copied into another realm's cookie it fails.
    match keys.mint_for(&ticket, &policy.cookie.name) {
        Ok(value) => {
            decision.set_cookie = Some(policy.cookie.set_cookie(
                &value,
                now,
                Some(policy.ticket_lifetime),
            ));
            decision.note(
                Level::Info,
                "AUTHRS0304",
                format!("login succeeded for {user:?} ({})", method.as_str()),
            );
            decision.identity = Some(crate::identity::Identity::new(user, method));
            decision.with(Verdict::Redirect {
                location: destination,
                status: 303,
                reason: None,
            })
        }
        Err(e) => decision.with(Verdict::Error {
            message: format!("could not mint a ticket: {e}"),
        }),
    }
}

/// Completes an OpenID login the shell verified (`Outcome::Verified`): a ticket with method
/// `openid` for the verified identity URL, and a 303 to the untainted `destination`.
pub fn openid_login(
    policy: &Policy,
    req: &RequestFacts,
    identity_url: &str,
    destination: Option<&str>,
    now: UnixTime,
) -> Decision {
    let destination = policy.destinations.untaint(destination);
    if identity_url.is_empty() || identity_url.chars().any(char::is_control) {
        return Decision::default().with(Verdict::Error {
            message: "the verified OpenID identity is not a usable user name".to_string(),
        });
    }
    issue(
        policy,
        req,
        Decision::default(),
        identity_url,
        AuthMethod::OpenId,
        destination,
        now,
    )
}

/// An OpenID login that did not succeed (cancelled, setup needed, or an error code): back to the
/// login page with `reason=<code>` (303), or a 401 without a login page; logged as `AUTHRS0320`.
pub fn openid_refused(
    policy: &Policy,
    reason: Reason,
    detail: &str,
    destination: Option<&str>,
) -> Decision {
    let mut decision = Decision::default();
    decision.note(
        Level::Info,
        "AUTHRS0320",
        format!("OpenID login refused: {} ({detail})", reason.code()),
    );
    let destination = policy.destinations.untaint(destination);
    let verdict = match &policy.login_url {
        Some(url) => Verdict::Redirect {
            location: login_redirect(url, &destination, reason),
            status: 303,
            reason: Some(reason),
        },
        None => Verdict::Unauthorized { reason },
    };
    decision.with(verdict)
}

/// Handles logout: clears the cookie and, with `revoke`, revokes the ticket server-side until it
/// would have expired (deleting a cookie alone does not log anyone out); then a 303 to the
/// untainted `destination` query parameter or the default destination. A request from another
/// site (`Sec-Fetch-Site: cross-site`, a foreign `Origin`), or a page's passive load of the
/// logout path (`Sec-Fetch-Dest: image`, …), is refused with 403 (`AUTHRS0307`).
pub fn logout(
    policy: &Policy,
    req: &RequestFacts,
    now: UnixTime,
    revoke: bool,
    stores: &mut Stores<'_>,
) -> Decision {
    let mut decision = Decision::default();
    // A foreign page must not log the browser out (an <img> or a link to the logout path):
    // same check as for login POSTs; clients that send neither header are not browsers.
    let sibling_subresource = || {
        // A sibling subdomain's <img>, fetch or <iframe> is `same-site` but not the user
        // following a link to a page: only a top-level navigation (a portal's logout link)
        // may log out from there.
        req.is_sibling_subresource()
            .then(|| "Sec-Fetch-Site: same-site, not a top-level navigation".to_string())
    };
    // Nor an image or other passive load from the site's own pages (user content such as an
    // avatar or a Markdown image pointing at the logout path).
    let subresource = || {
        req.is_subresource_load().then(|| {
            format!(
                "Sec-Fetch-Dest: {} (a page's image, script, style or media)",
                req.header("sec-fetch-dest").unwrap_or_default()
            )
        })
    };
    // Nor a prefetch, a prerender or a link's ping, which a page triggers without the user.
    let speculative = || {
        req.is_speculative_or_ping()
            .then(|| "a prefetch, prerender or hyperlink ping".to_string())
    };
    if let Some(why) = cross_site(req)
        .or_else(sibling_subresource)
        .or_else(subresource)
        .or_else(speculative)
    {
        decision.note(
            Level::Warn,
            "AUTHRS0307",
            format!("cross-site or sub-resource logout refused: {why}"),
        );
        return decision.with(Verdict::Forbidden {
            reason: Reason::Forbidden,
        });
    }
    let destination = query_param(req.query.as_deref(), "destination");
    let location = policy.destinations.untaint(destination.as_deref());
    decision.set_cookie = Some(policy.cookie.clear_cookie());
    if let (true, Some(keys)) = (revoke, &policy.keys) {
        // Every copy the browser sent (a second, planted cookie must not shield the real one);
        // only tickets whose signature holds are worth a store entry: anyone can send junk.
        // `open` checks the signature only, so an address-bound ticket is revoked as well.
        // Each session is revoked once, and only if it is not revoked yet: one valid ticket
        // repeated in the header, or logging out again, must not make the store write again.
        let values = crate::cookies::all_cookies(req.header_all("cookie"), &policy.cookie.name);
        let mut seen_values = HashSet::new();
        let mut seen_ids = HashSet::new();
        let mut pending: Vec<(String, UnixTime)> = Vec::new();
        let mut users = Vec::new();
        for value in values {
            if !seen_values.insert(value) {
                continue;
            }
            let Ok(ticket) = keys.open_for(&policy.cookie.name, value) else {
                continue;
            };
            if ticket.expires <= now {
                continue;
            }
            let Some(store) = stores.revocations.as_deref_mut() else {
                return decision.with(Verdict::Error {
                    message: "revocation on logout is on but no revocation store is available"
                        .to_string(),
                });
            };
            let id = ticket_id(&ticket);
            if !seen_ids.insert(id.clone()) {
                continue;
            }
            // A store that cannot answer is asked to revoke anyway (and reports its failure there).
            if store.is_revoked(&id, now).unwrap_or(false) {
                continue;
            }
            pending.push((id, ticket.expires));
            users.push(ticket.user);
        }
        if let (false, Some(store)) = (pending.is_empty(), stores.revocations.as_deref_mut()) {
            if let Err(e) = store.revoke_all(&pending) {
                return decision.with(Verdict::Error {
                    message: format!("could not revoke the ticket: {e}"),
                });
            }
            for user in users {
                decision.note(
                    Level::Info,
                    "AUTHRS0310",
                    format!("session of {user:?} revoked at logout"),
                );
            }
        }
    }
    decision.with(Verdict::Redirect {
        location,
        status: 303,
        reason: None,
    })
}

/// A 403 (`AUTHRS0305`) for a login POST from another site (login CSRF: a foreign page must not
/// log the browser into someone else's account); `None` when the POST may proceed.
pub fn refuse_cross_site(req: &RequestFacts) -> Option<Decision> {
    let why = cross_site(req)?;
    let mut decision = Decision::default();
    decision.note(
        Level::Warn,
        "AUTHRS0305",
        format!("cross-site login POST refused: {why}"),
    );
    Some(decision.with(Verdict::Forbidden {
        reason: Reason::Forbidden,
    }))
}

/// Why a login POST comes from another site, if it does: `Sec-Fetch-Site: cross-site`, or an
/// `Origin` (including `null`) that is not this request's own scheme and `Host`. Clients that
/// send neither (curl, scripts) are not browsers carrying someone else's form.
fn cross_site(req: &RequestFacts) -> Option<String> {
    if req.is_cross_site_fetch() {
        return Some("Sec-Fetch-Site: cross-site".to_string());
    }
    let origin = req.header("origin")?;
    let scheme = if req.secure { "https" } else { "http" };
    let ours = req
        .header("host")
        .map(|h| format!("{scheme}://{}", h.to_ascii_lowercase()));
    let theirs = origin.trim().to_ascii_lowercase();
    let default_port = if req.secure { ":443" } else { ":80" };
    match ours {
        Some(o)
            if theirs == o
                || theirs == o.trim_end_matches(default_port)
                || format!("{theirs}{default_port}") == o =>
        {
            None
        }
        _ => Some(format!("Origin {origin:?}")),
    }
}

/// The first value of `name` in a query string, decoded.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
