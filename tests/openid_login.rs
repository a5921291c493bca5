//! A browser's OpenID login through either shell under test (httpd's `authrs-login` handler,
//! the filter's `login_path`), both configured with `AuthName Example` and the login at
//! [`LOGIN_PATH`]: post the identifier, follow the 303 to the provider (which answers at
//! once), and come back — or tamper with what comes back.

use crate::apache::Apache;
use crate::curl::{Request, Response};
use crate::envoy::Envoy;
use std::path::PathBuf;

/// Where both shells' OpenID tests put the login.
pub const LOGIN_PATH: &str = "/LOGIN";

/// The login-state cookie of the `Example` realm (`<ticket cookie>_openid`).
pub const STATE_COOKIE: &str = "AuthRs_Example_openid";

/// A shell under test as a browser reaches it.
pub trait Shell {
    /// `https://127.0.0.1:<port><path>`.
    fn url(&self, path: &str) -> String;
    /// The CA its server certificate chains to.
    fn ca(&self) -> PathBuf;
    /// Its log so far (for failure messages).
    fn log(&self) -> String;
}

impl Shell for Apache {
    fn url(&self, path: &str) -> String {
        Apache::url(self, path)
    }
    fn ca(&self) -> PathBuf {
        Apache::ca(self)
    }
    fn log(&self) -> String {
        self.error_log()
    }
}

impl Shell for Envoy {
    fn url(&self, path: &str) -> String {
        Envoy::url(self, path)
    }
    fn ca(&self) -> PathBuf {
        self.certs.join("ca.crt")
    }
    fn log(&self) -> String {
        Envoy::log(self)
    }
}

/// The login form's body asking for an OpenID login.
pub fn identifier_form(identifier: &str, destination: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("openid_identifier", identifier)
        .append_pair("destination", destination)
        .finish()
}

/// The login form posted to the shell's login path.
pub fn post_identifier(shell: &impl Shell, identifier: &str, destination: &str) -> Request {
    Request::post_form(
        shell.url(LOGIN_PATH),
        identifier_form(identifier, destination),
    )
    .ca(&shell.ca())
}

/// A login in progress: the provider's redirect back (the id_res, cancel, … URL) and the state
/// cookie the shell set in the browser that started it.
#[derive(Debug, Clone)]
pub struct Back {
    /// Where the provider sent the browser.
    pub url: String,
    /// The state cookie's value.
    pub state: String,
}

impl Back {
    /// The browser that started the login comes back.
    pub fn follow(&self, shell: &impl Shell) -> Response {
        Request::get(&self.url)
            .cookie(STATE_COOKIE, &self.state)
            .ca(&shell.ca())
            .send()
    }

    /// As [`Back::follow`], with the request line in absolute form (`GET https://host/…`).
    pub fn follow_absolute_form(&self, shell: &impl Shell) -> Response {
        Request::get(&self.url)
            .request_target(&self.url)
            .cookie(STATE_COOKIE, &self.state)
            .ca(&shell.ca())
            .send()
    }

    /// A parameter of the provider's message; panics when it is missing.
    pub fn param(&self, key: &str) -> String {
        query_param(&self.url, key).unwrap_or_else(|| panic!("no {key} in {}", self.url))
    }

    /// The same message with a signed field (`openid.response_nonce`) changed in transit.
    pub fn tampered(&self) -> Back {
        let nonce = self.param("openid.response_nonce");
        self.with("openid.response_nonce", &format!("{nonce}x"))
    }

    /// The same message, in the same browser, with `key` set to `value`.
    pub fn with(&self, key: &str, value: &str) -> Back {
        Back {
            url: with_param(&self.url, key, value),
            state: self.state.clone(),
        }
    }
}

/// POSTs the identifier and follows the 303 to the provider, which answers at once; asserts
/// that the provider sends the browser back to the login path.
pub fn to_provider_and_back(shell: &impl Shell, identifier: &str, destination: &str) -> Back {
    let r = post_identifier(shell, identifier, destination).send();
    assert_eq!(r.status, 303, "{r:?}\n{}", shell.log());
    let state = r
        .cookie(STATE_COOKIE)
        .unwrap_or_else(|| panic!("no state cookie: {r:?}\n{}", shell.log()));
    let to_op = r.header("location").expect("location").to_string();
    assert!(to_op.contains("openid.mode=checkid_setup"), "{to_op}");
    let r = Request::get(&to_op).send();
    assert_eq!(r.status, 302, "provider: {r:?}");
    let back = r.header("location").expect("provider redirect").to_string();
    assert!(
        back.starts_with(&shell.url(&format!("{LOGIN_PATH}?"))),
        "the provider sends the browser back to the login path: {back}"
    );
    Back { url: back, state }
}

/// The `reason` in a redirect's Location (the seed's code on the way to the login page).
pub fn reason_of(r: &Response) -> Option<String> {
    query_param(r.header("location")?, "reason")
}

/// The first value of `key` in a URL's query (absolute, or a path with a query).
pub fn query_param(url: &str, key: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Replaces the value of `key` in a URL's query, keeping everything else as it was.
pub fn with_param(url: &str, key: &str, value: &str) -> String {
    let mut u = url::Url::parse(url).expect("url");
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == key {
                (k, value.to_string())
            } else {
                (k, v)
            }
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(&pairs);
    u.to_string()
}

/// The ticket cookie of the `Example` realm that a verified return sets.
pub const TICKET_COOKIE: &str = "AuthRs_Example";

/// A login discovers the claimed identifier once, at its start: the return uses the endpoints
/// sealed into the state cookie. A return whose cookie carries only the state, or a record whose
/// MAC does not match, discovers again and verifies the same. Run by both shells' tests.
pub fn discovers_once_per_login(
    shell: &impl Shell,
    op: &crate::openid_provider::Provider,
    identifier: &str,
) {
    let verified = |r: &Response| {
        assert_eq!(r.status, 303, "{r:?}\n{}", shell.log());
        assert!(
            r.cookie(TICKET_COOKIE).is_some(),
            "{identifier}: no ticket: {r:?}\n{}",
            shell.log()
        );
    };
    let discovered = || op.count("discover");
    let before = discovered();
    let back = to_provider_and_back(shell, identifier, "/");
    assert_eq!(
        discovered(),
        before + 1,
        "the start discovers: {:?}",
        op.log()
    );
    assert_eq!(back.state.split('.').count(), 3, "sealed: {}", back.state);
    verified(&back.follow(shell));
    assert_eq!(
        discovered(),
        before + 1,
        "the return used the sealed endpoints: {:?}",
        op.log()
    );
    // Only the state (as an attacker holding the return URL could set it): discovery again.
    let back = to_provider_and_back(shell, identifier, "/");
    let plain = Back {
        url: back.url.clone(),
        state: back.state.split('.').next().unwrap_or_default().to_string(),
    };
    verified(&plain.follow(shell));
    assert_eq!(discovered(), before + 3, "{:?}", op.log());
    // A record whose MAC does not match (its last character changed): discovery again.
    let back = to_provider_and_back(shell, identifier, "/");
    let mut forged = back.state.clone();
    let last = forged.pop().expect("a tag");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let forged = Back {
        url: back.url.clone(),
        state: forged,
    };
    verified(&forged.follow(shell));
    assert_eq!(discovered(), before + 5, "{:?}", op.log());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_helpers_read_and_replace_one_parameter() {
        let u = "http://rp.example/LOGIN?a=1&openid.sig=x%2By&b=2#frag";
        assert_eq!(query_param(u, "openid.sig").as_deref(), Some("x+y"));
        assert_eq!(
            query_param("/LOGIN?reason=nonce_reused", "reason").as_deref(),
            Some("nonce_reused")
        );
        assert_eq!(query_param("/LOGIN", "reason"), None);
        assert_eq!(query_param(u, "b").as_deref(), Some("2"));
        let changed = with_param(u, "openid.sig", "z");
        assert_eq!(query_param(&changed, "openid.sig").as_deref(), Some("z"));
        assert_eq!(query_param(&changed, "a").as_deref(), Some("1"));
        assert!(
            changed.starts_with("http://rp.example/LOGIN?a=1&openid.sig=z&b=2"),
            "{changed}"
        );
    }
}
