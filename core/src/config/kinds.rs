//! The structured value kinds: authentication methods, the unauthenticated action, cert-to-user rules, secrets.

use std::fmt;

use super::error::ValueError;
use super::value::{one_of, parse_enum};
use crate::request::CertVerify;

/// A way a request may authenticate, in the order `AuthRsMethods` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// A TLS client certificate (CA-issued or enrolled).
    Cert,
    /// The signed cookie ticket the login form (or an earlier certificate login) issued.
    Ticket,
    /// OpenID 2.0 login at the `authrs-login` handler (`openid_identifier`); the ticket it
    /// issues (method `openid`) is what later requests present, so list `ticket` as well.
    OpenId,
}

impl Method {
    /// The default methods, in the default order (`cert ticket`; OpenID is opt-in).
    pub const ALL: [Method; 2] = [Method::Cert, Method::Ticket];

    /// The configuration word: `cert`, `ticket` or `openid`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Cert => "cert",
            Method::Ticket => "ticket",
            Method::OpenId => "openid",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The method words accepted by `AuthRsMethods`.
pub const METHOD_VALUES: &[&str] = &["cert", "ticket", "openid"];

/// Parses method words in order; a word listed twice counts once, an empty list is refused.
pub fn parse_methods<'a>(
    items: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Method>, ValueError> {
    let mut methods = Vec::new();
    for item in items {
        let m = match parse_enum(item, METHOD_VALUES)? {
            "cert" => Method::Cert,
            "openid" => Method::OpenId,
            _ => Method::Ticket,
        };
        if !methods.contains(&m) {
            methods.push(m);
        }
    }
    if methods.is_empty() {
        return Err(ValueError::new("", one_of(METHOD_VALUES)));
    }
    Ok(methods)
}

/// What to answer a request that is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnauthAction {
    /// 401 to API clients (`Accept: application/json`, `X-Requested-With`), else redirect to the login page.
    Auto,
    /// Always redirect to the login page.
    Redirect,
    /// Always answer 401.
    Unauthorized,
    /// Always answer 403.
    Forbidden,
}

impl UnauthAction {
    /// The configuration word: `auto`, `redirect`, `401` or `403`.
    pub fn as_str(self) -> &'static str {
        match self {
            UnauthAction::Auto => "auto",
            UnauthAction::Redirect => "redirect",
            UnauthAction::Unauthorized => "401",
            UnauthAction::Forbidden => "403",
        }
    }
}

/// The words accepted by `AuthRsUnauthAction`.
pub const UNAUTH_ACTION_VALUES: &[&str] = &["auto", "redirect", "401", "403"];

/// Parses `auto`, `redirect`, `401` or `403`, case-insensitively.
pub fn parse_unauth_action(value: &str) -> Result<UnauthAction, ValueError> {
    Ok(match parse_enum(value, UNAUTH_ACTION_VALUES)? {
        "auto" => UnauthAction::Auto,
        "redirect" => UnauthAction::Redirect,
        "401" => UnauthAction::Unauthorized,
        _ => UnauthAction::Forbidden,
    })
}

/// What the Envoy listener's `trust_chain_verification` is, as the filter is told (Envoy
/// itself exposes no "was it validated" property).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TrustChainVerification {
    /// `VERIFY_TRUST_CHAIN`: Envoy refused any client certificate not chaining to its `trusted_ca`.
    #[default]
    VerifyTrustChain,
    /// `ACCEPT_UNTRUSTED`: any certificate passes the handshake; authrs accepts only enrolled
    /// (pinned) ones, or ones whose chain it verifies against `trusted_cas`.
    AcceptUntrusted,
}

impl TrustChainVerification {
    /// The configuration word, spelled as Envoy's enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustChainVerification::VerifyTrustChain => "VERIFY_TRUST_CHAIN",
            TrustChainVerification::AcceptUntrusted => "ACCEPT_UNTRUSTED",
        }
    }

    /// The verification state of a client certificate the listener let through: `None` when
    /// none was presented, `Success` when Envoy verified it, `Generous` when it did not.
    pub fn cert_verify(self, presented: bool) -> CertVerify {
        match (presented, self) {
            (false, _) => CertVerify::None,
            (true, TrustChainVerification::VerifyTrustChain) => CertVerify::Success,
            (true, TrustChainVerification::AcceptUntrusted) => CertVerify::Generous,
        }
    }
}

/// The words accepted by `trust_chain_verification`.
pub const TRUST_CHAIN_VERIFICATION_VALUES: &[&str] = &["VERIFY_TRUST_CHAIN", "ACCEPT_UNTRUSTED"];

/// Parses `VERIFY_TRUST_CHAIN` or `ACCEPT_UNTRUSTED` (any case, as every enum option).
pub fn parse_trust_chain_verification(value: &str) -> Result<TrustChainVerification, ValueError> {
    Ok(match parse_enum(value, TRUST_CHAIN_VERIFICATION_VALUES)? {
        "ACCEPT_UNTRUSTED" => TrustChainVerification::AcceptUntrusted,
        _ => TrustChainVerification::VerifyTrustChain,
    })
}

/// How a certificate becomes a user name: the cert module's rule, parsed here with config errors.
pub use crate::cert::map::UserRule as CertUser;

/// The keywords accepted by `AuthRsCertUser` besides a template.
pub const CERT_USER_VALUES: &[&str] = &["dn", "cn", "email", "xmpp", "upn"];

/// Parses `dn`, `cn`, `email`, `xmpp`, `upn` (any case) or a template with at least one `{ATTR}`.
///
/// Attribute names are letters, digits, `_`, `.` and `-` and start with a
/// letter or digit (so OIDs like `{2.5.4.3}` fit); braces must pair up.
pub fn parse_cert_user(value: &str) -> Result<CertUser, ValueError> {
    let expected = || {
        ValueError::new(
            value,
            "expected dn, cn, email, xmpp, upn or a template with {ATTR} such as {CN}@example.org",
        )
    };
    if let Ok(word) = parse_enum(value, CERT_USER_VALUES) {
        return Ok(match word {
            "dn" => CertUser::Dn,
            "cn" => CertUser::Cn,
            "email" => CertUser::Email,
            "xmpp" => CertUser::Xmpp,
            _ => CertUser::Upn,
        });
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(expected());
    }
    let mut placeholders = 0usize;
    let mut rest = value;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(expected());
        }
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(expected)?;
        let name = &after[..close];
        let name_ok = name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !name_ok {
            return Err(expected());
        }
        placeholders += 1;
        rest = &after[close + 1..];
    }
    if placeholders == 0 {
        return Err(expected());
    }
    Ok(CertUser::Template(value.to_string()))
}

/// A configured secret (a ticket key, inline password hashes): never shown by Debug, compared in constant time.
#[derive(Clone)]
pub struct Secret(String);

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for Secret {}

impl Secret {
    /// Wraps secret text.
    pub fn new(text: impl Into<String>) -> Self {
        Secret(text.into())
    }

    /// The secret text, for the code that must use it (keyring setup, password check).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn methods_keep_order_and_drop_repeats() {
        assert_eq!(
            parse_methods(["ticket", "CERT"]),
            Ok(vec![Method::Ticket, Method::Cert])
        );
        assert_eq!(parse_methods(["cert", "cert"]), Ok(vec![Method::Cert]));
        assert_eq!(
            parse_methods(["ticket", "openid"]),
            Ok(vec![Method::Ticket, Method::OpenId])
        );
        let e = parse_methods(["cert", "oauth"]).unwrap_err();
        assert_eq!(e.value, "oauth");
        assert_eq!(e.expected, "must be one of: cert, ticket, openid");
        assert!(parse_methods([]).is_err());
        assert!(parse_methods(["password"]).is_err());
        assert!(parse_methods(["cert\0"]).is_err());
    }

    #[test]
    fn unauth_actions() {
        assert_eq!(parse_unauth_action("AUTO"), Ok(UnauthAction::Auto));
        assert_eq!(parse_unauth_action("redirect"), Ok(UnauthAction::Redirect));
        assert_eq!(parse_unauth_action("401"), Ok(UnauthAction::Unauthorized));
        assert_eq!(parse_unauth_action("403"), Ok(UnauthAction::Forbidden));
        let e = parse_unauth_action("302").unwrap_err();
        assert_eq!(e.expected, "must be one of: auto, redirect, 401, 403");
        for a in [
            UnauthAction::Auto,
            UnauthAction::Redirect,
            UnauthAction::Unauthorized,
            UnauthAction::Forbidden,
        ] {
            assert_eq!(parse_unauth_action(a.as_str()), Ok(a));
        }
    }

    #[test]
    fn cert_user_keywords_and_templates() {
        assert_eq!(parse_cert_user("CN"), Ok(CertUser::Cn));
        assert_eq!(parse_cert_user("dn"), Ok(CertUser::Dn));
        assert_eq!(parse_cert_user("xmpp"), Ok(CertUser::Xmpp));
        assert_eq!(
            parse_cert_user("{CN}@example.org"),
            Ok(CertUser::Template("{CN}@example.org".into()))
        );
        assert!(parse_cert_user("{OU}-{CN}").is_ok());
        assert!(parse_cert_user("{2.5.4.3}").is_ok());
        for bad in [
            "", "bob", "{}", "{CN", "CN}", "{C N}", "{{CN}}", "{CN}\n", "{CN}\0", "{ÄB}", "{-x}",
            "}{CN}", "{CN} x",
        ] {
            let e = parse_cert_user(bad).expect_err(bad);
            assert!(e.expected.contains("{ATTR}"), "{bad:?}");
        }
        for c in ["dn", "cn", "email", "xmpp", "upn", "{CN}@x"] {
            assert_eq!(parse_cert_user(c).unwrap().to_string(), c);
        }
    }

    #[test]
    fn method_and_verification_words_round_trip() {
        for m in [Method::Cert, Method::Ticket, Method::OpenId] {
            assert_eq!(parse_methods([m.as_str()]), Ok(vec![m]));
            assert_eq!(m.to_string(), m.as_str());
        }
        assert_eq!(
            METHOD_VALUES,
            [Method::Cert, Method::Ticket, Method::OpenId].map(Method::as_str)
        );
        for t in [
            TrustChainVerification::VerifyTrustChain,
            TrustChainVerification::AcceptUntrusted,
        ] {
            assert_eq!(parse_trust_chain_verification(t.as_str()), Ok(t));
        }
        assert_eq!(
            parse_trust_chain_verification("accept_untrusted"),
            Ok(TrustChainVerification::AcceptUntrusted)
        );
        let e = parse_trust_chain_verification("ACCEPT").unwrap_err();
        assert_eq!(
            e.expected,
            "must be one of: VERIFY_TRUST_CHAIN, ACCEPT_UNTRUSTED"
        );
    }

    #[test]
    fn only_a_verified_chain_counts_as_success() {
        use TrustChainVerification::{AcceptUntrusted, VerifyTrustChain};
        assert_eq!(VerifyTrustChain.cert_verify(true), CertVerify::Success);
        assert_eq!(AcceptUntrusted.cert_verify(true), CertVerify::Generous);
        assert_eq!(VerifyTrustChain.cert_verify(false), CertVerify::None);
        assert_eq!(AcceptUntrusted.cert_verify(false), CertVerify::None);
    }

    #[test]
    fn cert_user_every_keyword_and_attribute_name_shapes() {
        assert_eq!(parse_cert_user("Email"), Ok(CertUser::Email));
        assert_eq!(parse_cert_user("UPN"), Ok(CertUser::Upn));
        for ok in ["{a_b.c-d}", "{0.9.2342.19200300.100.1.1}", "x{CN}y{O}z"] {
            assert_eq!(
                parse_cert_user(ok),
                Ok(CertUser::Template(ok.into())),
                "{ok}"
            );
        }
        for bad in [
            "{_x}",
            "{.x}",
            "{a/b}",
            "{a b}",
            "{CN}{",
            "{CN}}",
            "{CN}\u{a0}",
        ] {
            assert!(parse_cert_user(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(s, Secret::new("hunter2"));
        assert_ne!(s, Secret::new("hunter3"));
        assert_ne!(s, Secret::new("hunter22"));
    }
}
