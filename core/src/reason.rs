//! Reason codes: why a request was not let through, as operators and login pages see them.

use crate::openid::ErrorCode;
use std::fmt;

/// `text` for one log or terminal line: control characters escaped (`\n` → `\\n`), so text a
/// client or a provider sent can never forge a line or move the cursor.
pub fn escape_controls(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// Why a request was refused or sent to the login page (AuthCookie's `AuthCookieReason`, extended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Reason {
    /// No credentials at all: no ticket cookie and no usable certificate.
    NoCookie,
    /// A ticket cookie was present but malformed, forged, or signed by an unknown key.
    BadCookie,
    /// The login form's user name or password was wrong.
    BadCredentials,
    /// The ticket is past its lifetime or idle timeout.
    Expired,
    /// A certificate is required and none was presented.
    NoCert,
    /// A certificate was presented but is invalid, untrusted or maps to no user.
    BadCert,
    /// The certificate is listed in a CRL (issuer and serial) or was revoked.
    RevokedCert,
    /// Authenticated, but the Require rules deny access.
    Forbidden,
    /// The user declined at the OpenID provider (the seed's `cancelled`).
    OpenIdCancelled,
    /// The OpenID provider needs interaction first (the seed's `setup_needed`).
    OpenIdSetupNeeded,
    /// An OpenID login failed; the code is the seed's error code (`nonce_reused`, …).
    OpenId(ErrorCode),
}

impl Reason {
    /// Every fixed reason, in declaration order (the OpenID ones are listed by [`ErrorCode`]).
    pub const ALL: [Reason; 8] = [
        Reason::NoCookie,
        Reason::BadCookie,
        Reason::BadCredentials,
        Reason::Expired,
        Reason::NoCert,
        Reason::BadCert,
        Reason::RevokedCert,
        Reason::Forbidden,
    ];

    /// The stable wire code (`no_cookie`, `bad_cookie`, …) used in URLs, env vars and logs.
    pub fn code(self) -> &'static str {
        match self {
            Reason::NoCookie => "no_cookie",
            Reason::BadCookie => "bad_cookie",
            Reason::BadCredentials => "bad_credentials",
            Reason::Expired => "expired",
            Reason::NoCert => "no_cert",
            Reason::BadCert => "bad_cert",
            Reason::RevokedCert => "revoked_cert",
            Reason::Forbidden => "forbidden",
            Reason::OpenIdCancelled => "cancelled",
            Reason::OpenIdSetupNeeded => "setup_needed",
            Reason::OpenId(code) => code.code(),
        }
    }

    /// Parses a wire code back; `None` for anything unknown.
    pub fn from_code(code: &str) -> Option<Reason> {
        match code {
            "cancelled" => Some(Reason::OpenIdCancelled),
            "setup_needed" => Some(Reason::OpenIdSetupNeeded),
            _ => Reason::ALL
                .into_iter()
                .find(|r| r.code() == code)
                .or_else(|| ErrorCode::from_code(code).map(Reason::OpenId)),
        }
    }

    /// A short sentence for people (the default login page shows it).
    pub fn message(self) -> &'static str {
        match self {
            Reason::NoCookie => "Please log in.",
            Reason::BadCookie => "Your session was not valid. Please log in again.",
            Reason::BadCredentials => "The user name or password was wrong.",
            Reason::Expired => "Your session has expired. Please log in again.",
            Reason::NoCert => "This page needs a client certificate.",
            Reason::BadCert => "Your client certificate was not accepted.",
            Reason::RevokedCert => "Your client certificate has been revoked.",
            Reason::Forbidden => "You are not allowed to see this page.",
            Reason::OpenIdCancelled => "The OpenID login was cancelled at your provider.",
            Reason::OpenIdSetupNeeded => "Your OpenID provider needs you to log in there first.",
            Reason::OpenId(code) => code.message(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for r in Reason::ALL {
            assert!(seen.insert(r.code()));
            assert_eq!(Reason::from_code(r.code()), Some(r));
        }
        assert_eq!(Reason::from_code("nope"), None);
        for r in [Reason::OpenIdCancelled, Reason::OpenIdSetupNeeded] {
            assert!(seen.insert(r.code()));
            assert_eq!(Reason::from_code(r.code()), Some(r));
        }
        for c in ErrorCode::SEED.into_iter().chain(ErrorCode::AUTHRS) {
            let r = Reason::OpenId(c);
            assert!(seen.insert(r.code()), "{c:?} collides with a fixed reason");
            assert_eq!(Reason::from_code(c.code()), Some(r));
        }
        assert_eq!(Reason::BadCookie.to_string(), "bad_cookie");
    }
}
