//! Writing options into [`Settings`]: one path for Apache directive arguments and (via `json`) for JSON values.

use crate::cookies::SameSite;
use ipnet::IpNet;

use super::error::{ConfigError, ConfigErrorKind};
use super::kinds::{
    parse_cert_user, parse_methods, parse_trust_chain_verification, parse_unauth_action, CertUser,
    Method, Secret, UnauthAction,
};
use super::settings::Settings;
use super::spec::{by_directive, closest, OptionId, OptionSpec, Shell, ValueKind};
use super::table::OPTIONS;
use super::value::{
    parse_bool, parse_cidr_list, parse_cookie_name, parse_duration, parse_enum, parse_fraction,
    parse_host, parse_integer, parse_path, parse_same_site, parse_socache, parse_text, parse_url,
    parse_url_path, split_list,
};
use super::ValueError;
use crate::openid::assoc::{AssocType, SessionType};
use crate::openid::return_to::{realm_covers_root, Realm, RequiredRoot};
use crate::openid::Version;

/// A value parsed according to its [`ValueKind`], before it lands in its field.
// No Debug: a parsed ticket key must not be printable by accident.
pub(super) enum Parsed {
    Bool(bool),
    Seconds(i64),
    Int(i64),
    Fraction(f64),
    Text(String),
    List(Vec<String>),
    Cidrs(Vec<IpNet>),
    SameSite(SameSite),
    CertUser(CertUser),
    Methods(Vec<Method>),
    UnauthAction(UnauthAction),
    Json(serde_json::Value),
}

impl Parsed {
    /// The variant's name, for internal errors that must not print the (maybe secret) value.
    fn shape(&self) -> &'static str {
        match self {
            Parsed::Bool(_) => "a boolean",
            Parsed::Seconds(_) => "a duration",
            Parsed::Int(_) => "an integer",
            Parsed::Fraction(_) => "a fraction",
            Parsed::Text(_) => "text",
            Parsed::List(_) => "a list",
            Parsed::Cidrs(_) => "CIDRs",
            Parsed::SameSite(_) => "a SameSite value",
            Parsed::CertUser(_) => "a cert-user rule",
            Parsed::Methods(_) => "methods",
            Parsed::UnauthAction(_) => "an action",
            Parsed::Json(_) => "JSON",
        }
    }
}

impl Settings {
    /// Applies an Apache directive (`name` as written, any case) with its arguments.
    ///
    /// Repeatable options append to what this scope already holds; others
    /// replace it, as a later directive does in httpd.
    pub fn set(&mut self, name: &str, args: &[&str]) -> Result<(), ConfigError> {
        let Some(spec) = by_directive(name) else {
            let hint = match closest(name, OPTIONS.iter().filter_map(|o| o.directive)) {
                Some(d) => format!("did you mean \"{d}\"?"),
                None => "not an authrs directive".to_string(),
            };
            return Err(ConfigError::new(
                ConfigErrorKind::UnknownDirective,
                name,
                "",
                hint,
                false,
            ));
        };
        self.store(spec, name, args)
    }

    /// Parses `args` for `spec` and stores the result; `option` is the name as the user wrote it.
    pub(super) fn store(
        &mut self,
        spec: &OptionSpec,
        option: &str,
        args: &[&str],
    ) -> Result<(), ConfigError> {
        let parsed = parse_args(spec, option, args)?;
        self.put(spec, option, parsed)
    }

    /// Stores an already parsed value in the field `spec` names.
    pub(super) fn put(
        &mut self,
        spec: &OptionSpec,
        option: &str,
        parsed: Parsed,
    ) -> Result<(), ConfigError> {
        let bad = |e: ValueError| ConfigError::from_value(option, e, spec.secret);
        match (spec.id, parsed) {
            (OptionId::Methods, Parsed::Methods(m)) => self.methods = Some(m),
            (OptionId::TicketKeyFile, Parsed::List(v)) => {
                extend(&mut self.ticket_key_files, v, spec.repeatable)
            }
            (OptionId::CookieName, Parsed::Text(v)) => self.cookie_name = Some(v),
            (OptionId::CookieDomain, Parsed::Text(v)) => self.cookie_domain = Some(v),
            (OptionId::CookiePath, Parsed::Text(v)) => self.cookie_path = Some(v),
            (OptionId::CookieSecure, Parsed::Bool(b)) => self.cookie_secure = Some(b),
            (OptionId::CookieHttpOnly, Parsed::Bool(b)) => self.cookie_http_only = Some(b),
            (OptionId::CookieSameSite, Parsed::SameSite(s)) => self.cookie_same_site = Some(s),
            (OptionId::CookiePersistent, Parsed::Bool(b)) => self.cookie_persistent = Some(b),
            (OptionId::TicketLifetime, Parsed::Seconds(0)) => {
                return Err(bad(ValueError::new("0", "must be at least 1 second")))
            }
            (OptionId::TicketLifetime, Parsed::Seconds(s)) => self.ticket_lifetime = Some(s),
            (OptionId::SessionTimeout, Parsed::Seconds(s)) => self.session_timeout = Some(s),
            (OptionId::MaxTicketAge, Parsed::Seconds(s)) => self.max_ticket_age = Some(s),
            (OptionId::RefreshFraction, Parsed::Fraction(f)) => self.refresh_fraction = Some(f),
            (OptionId::BindAddress, Parsed::Bool(b)) => self.bind_address = Some(b),
            (OptionId::AcceptUnboundTickets, Parsed::Bool(b)) => self.accept_unbound = Some(b),
            (OptionId::LoginUrl, Parsed::Text(v)) => self.login_url = Some(v),
            (OptionId::UnauthAction, Parsed::UnauthAction(a)) => self.unauth_action = Some(a),
            (OptionId::Provider, Parsed::List(v)) => self.providers = Some(v),
            (OptionId::DefaultDestination, Parsed::Text(v)) => self.default_destination = Some(v),
            (OptionId::AllowedDestinations, Parsed::List(v)) => {
                extend(&mut self.allowed_destinations, v, spec.repeatable)
            }
            (OptionId::RecognizeUser, Parsed::Bool(b)) => self.recognize_user = Some(b),
            (OptionId::CertUser, Parsed::CertUser(c)) => self.cert_user = Some(c),
            (OptionId::CertUserMapFile, Parsed::Text(v)) => self.cert_user_map_file = Some(v),
            (OptionId::CertRequire, Parsed::Bool(b)) => self.cert_require = Some(b),
            (OptionId::CrlFile, Parsed::Text(v)) => self.crl_file = Some(v),
            (OptionId::EnrolledCertsFile, Parsed::Text(v)) => self.enrolled_certs_file = Some(v),
            (OptionId::EnrolledCertsMax, Parsed::Int(n)) => {
                // The table bounds the value to 1..=1000, so it always fits.
                self.enrolled_certs_max = Some(u32::try_from(n).unwrap_or(u32::MAX))
            }
            (OptionId::TrustedProxies, Parsed::Cidrs(v)) => {
                extend(&mut self.trusted_proxies, v, spec.repeatable)
            }
            (OptionId::RolesFile, Parsed::Text(v)) => self.roles_file = Some(v),
            (OptionId::Cache, Parsed::Text(v)) => self.cache = Some(v),
            (OptionId::OpenIdMaxConcurrentFetches, Parsed::Int(n)) => {
                self.openid_max_concurrent_fetches = Some(u32::try_from(n).unwrap_or(u32::MAX))
            }
            (OptionId::TrustedProxyHeaders, Parsed::Text(v)) => {
                self.trusted_proxy_headers = Some(v)
            }
            (OptionId::RevokeOnLogout, Parsed::Bool(b)) => self.revoke_on_logout = Some(b),
            (OptionId::AuthName, Parsed::Text(v)) => self.auth_name = Some(v),
            (OptionId::TicketKeys, Parsed::List(v)) => {
                self.ticket_keys = Some(v.into_iter().map(Secret::new).collect())
            }
            (OptionId::Crls, Parsed::Text(v)) => self.crls = Some(v),
            (OptionId::EnrolledCerts, Parsed::Text(v)) => self.enrolled_certs = Some(v),
            (OptionId::Roles, Parsed::Text(v)) => self.roles = Some(v),
            (OptionId::CertUserMap, Parsed::Text(v)) => self.cert_user_map = Some(v),
            (OptionId::Users, Parsed::Text(v)) => self.users = Some(Secret::new(v)),
            (OptionId::LoginPath, Parsed::Text(v)) => self.login_path = Some(v),
            (OptionId::LogoutPath, Parsed::Text(v)) => self.logout_path = Some(v),
            (OptionId::TrustedCas, Parsed::Text(v)) => self.trusted_cas = Some(v),
            // The table's Enum kind already checked the word; this maps it to its variant.
            (OptionId::TrustChainVerification, Parsed::Text(v)) => {
                self.trust_chain_verification =
                    Some(parse_trust_chain_verification(&v).map_err(bad)?)
            }
            (OptionId::OpenIdRequiredRoot, Parsed::Text(v)) => {
                let root = RequiredRoot::parse(&v).map_err(|e| bad(ValueError::new(&v, e.0)))?;
                // Both in one scope: refuse at load (across scopes, building the policy does).
                if let Some(realm) = self.openid_realm.as_deref().map(Realm::parse) {
                    let realm = realm.map_err(|e| bad(ValueError::new(&v, e.0)))?;
                    realm_covers_root(&realm, &root).map_err(|e| bad(ValueError::new(&v, e.0)))?;
                }
                self.openid_required_root = Some(v)
            }
            (OptionId::OpenIdRealm, Parsed::Text(v)) => {
                let realm = Realm::parse(&v).map_err(|e| bad(ValueError::new(&v, e.0)))?;
                if let Some(root) = self
                    .openid_required_root
                    .as_deref()
                    .map(RequiredRoot::parse)
                {
                    let root = root.map_err(|e| bad(ValueError::new(&v, e.0)))?;
                    realm_covers_root(&realm, &root).map_err(|e| bad(ValueError::new(&v, e.0)))?;
                }
                self.openid_realm = Some(v)
            }
            (OptionId::OpenIdConsumerSecretFile, Parsed::Text(v)) => {
                self.openid_consumer_secret_file = Some(v)
            }
            (OptionId::OpenIdConsumerSecret, Parsed::Text(v)) => {
                self.openid_consumer_secret = Some(Secret::new(v))
            }
            (OptionId::OpenIdMinimumVersion, Parsed::Text(v)) => {
                self.openid_minimum_version = Some(if v == "2" { 2 } else { 1 })
            }
            // The table's Enum kind already checked the word.
            (OptionId::OpenIdStrength, Parsed::Text(v)) => {
                self.openid_strength = Some(v.parse().map_err(bad)?)
            }
            (OptionId::OpenIdAllowedProviders, Parsed::List(v)) => {
                for p in &v {
                    let ok =
                        url::Url::parse(p).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
                    if !ok {
                        return Err(bad(ValueError::new(p, "must be an absolute http(s) URL")));
                    }
                }
                self.openid_allowed_providers = Some(v)
            }
            (OptionId::OpenIdNonceCheck, Parsed::Bool(b)) => self.openid_nonce_check = Some(b),
            (OptionId::OpenIdNonceIgnoreTime, Parsed::Bool(b)) => {
                self.openid_nonce_ignore_time = Some(b)
            }
            (OptionId::OpenIdNonceLifetime, Parsed::Seconds(s)) => {
                self.openid_nonce_lifetime = Some(s)
            }
            (OptionId::OpenIdNonceWindow, Parsed::Seconds(s)) => self.openid_nonce_window = Some(s),
            (OptionId::OpenIdNonceSkew, Parsed::Seconds(s)) => self.openid_nonce_skew = Some(s),
            (OptionId::OpenIdNonceStart, Parsed::Int(n)) => self.openid_nonce_start = Some(n),
            (OptionId::OpenIdNonceTimecop, Parsed::Bool(b)) => self.openid_nonce_timecop = Some(b),
            (OptionId::OpenIdAssocType, Parsed::Text(v)) => {
                self.openid_assoc_type = Some(
                    AssocType::from_name(&v, Version::V2)
                        .ok_or_else(|| bad(ValueError::new(&v, "unknown association type")))?,
                )
            }
            (OptionId::OpenIdAssocSessionType, Parsed::Text(v)) => {
                self.openid_assoc_session_type = Some(
                    SessionType::from_name(&v, Version::V2)
                        .ok_or_else(|| bad(ValueError::new(&v, "unknown session type")))?,
                )
            }
            (OptionId::OpenIdAssocMaxEncrypt, Parsed::Bool(b)) => {
                self.openid_assoc_max_encrypt = Some(b)
            }
            (OptionId::OpenIdAssocNoEncryptHttps, Parsed::Bool(b)) => {
                self.openid_assoc_no_encrypt_https = Some(b)
            }
            (OptionId::OpenIdAssocAllowEavesdropping, Parsed::Bool(b)) => {
                self.openid_assoc_allow_eavesdropping = Some(b)
            }
            (OptionId::OpenIdAllowPrivateAddresses, Parsed::Bool(b)) => {
                self.openid_allow_private_addresses = Some(b)
            }
            (
                OptionId::Groups
                | OptionId::Locations
                | OptionId::PasswordCheck
                | OptionId::OpenIdClusters,
                Parsed::Json(v),
            ) => {
                let key = spec.name_in(Shell::Envoy).to_string();
                self.extra.insert(key, v);
            }
            (id, parsed) => {
                // Only reachable if the table and this match drift apart; a test sets every option.
                return Err(ConfigError::new(
                    ConfigErrorKind::BadValue,
                    option,
                    "",
                    format!("internal error: {id:?} cannot hold {}", parsed.shape()),
                    true,
                ));
            }
        }
        Ok(())
    }
}

/// Adds `items` to a repeatable list, or replaces a non-repeatable one.
fn extend<T>(field: &mut Option<Vec<T>>, items: Vec<T>, repeatable: bool) {
    match field {
        Some(existing) if repeatable => existing.extend(items),
        _ => *field = Some(items),
    }
}

/// Parses directive arguments (or JSON values already turned into text) by the option's kind.
pub(super) fn parse_args(
    spec: &OptionSpec,
    option: &str,
    args: &[&str],
) -> Result<Parsed, ConfigError> {
    let bad = |e: ValueError| ConfigError::from_value(option, e, spec.secret);
    if spec.kind.is_list() {
        if args.is_empty() {
            return Err(arity(spec, option, args, "takes one or more values"));
        }
        let items: Vec<&str> = match spec.kind {
            // A path may hold spaces or commas: each argument is one item.
            ValueKind::List(ValueKind::Path) => args.to_vec(),
            _ => args.iter().flat_map(|a| split_list(a)).collect(),
        };
        if items.is_empty() {
            return Err(bad(ValueError::new(
                &args.join(" "),
                "takes one or more values",
            )));
        }
        return match spec.kind {
            ValueKind::Methods => parse_methods(items).map(Parsed::Methods).map_err(bad),
            ValueKind::CidrList => {
                let mut nets = Vec::new();
                for item in items {
                    nets.extend(parse_cidr_list(item).map_err(bad)?);
                }
                Ok(Parsed::Cidrs(nets))
            }
            ValueKind::List(inner) => items
                .into_iter()
                .map(|i| parse_text_kind(*inner, i))
                .collect::<Result<Vec<_>, _>>()
                .map(Parsed::List)
                .map_err(bad),
            _ => Err(bad(ValueError::new(
                "",
                "internal error: unknown list kind",
            ))),
        };
    }
    let [value] = args else {
        return Err(arity(spec, option, args, "takes exactly one value"));
    };
    // RFC 6265 ignores a leading dot in Domain; accept it as operators write it.
    let value = match spec.id {
        OptionId::CookieDomain => value.strip_prefix('.').unwrap_or(value),
        _ => *value,
    };
    let parsed = match spec.kind {
        ValueKind::Bool => parse_bool(value).map(Parsed::Bool),
        ValueKind::Duration => parse_duration(value).map(Parsed::Seconds),
        ValueKind::DurationOrOff => {
            if value.eq_ignore_ascii_case("off") {
                Ok(Parsed::Seconds(0))
            } else {
                parse_duration(value).map(Parsed::Seconds).map_err(|e| {
                    ValueError::new(
                        &e.value,
                        format!("{}; or Off for no idle timeout", e.expected),
                    )
                })
            }
        }
        ValueKind::Integer { min, max } => parse_integer(value, min, max).map(Parsed::Int),
        ValueKind::Fraction => parse_fraction(value).map(Parsed::Fraction),
        ValueKind::SameSite => parse_same_site(value).map(Parsed::SameSite),
        ValueKind::CertUser => parse_cert_user(value).map(Parsed::CertUser),
        ValueKind::UnauthAction => parse_unauth_action(value).map(Parsed::UnauthAction),
        ValueKind::Text => {
            if value.contains('\0') {
                Err(ValueError::new(value, "must not contain NUL bytes"))
            } else {
                Ok(Parsed::Text(value.to_string()))
            }
        }
        ValueKind::Json => serde_json::from_str(value)
            .map(Parsed::Json)
            .map_err(|_| ValueError::new(value, "expected JSON")),
        kind => parse_text_kind(kind, value).map(Parsed::Text),
    };
    // A Domain attribute is a DNS name (what the cookie builder accepts): refused here, not
    // at the first request, are host names browsers would not take (`_`, IP literals).
    let parsed = match (spec.id, parsed) {
        (OptionId::CookieDomain, Ok(Parsed::Text(d)))
            if !d
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') =>
        {
            Err(ValueError::new(
                value,
                "expected a DNS name for the cookie's Domain (letters, digits, - and .)",
            ))
        }
        (_, parsed) => parsed,
    };
    parsed.map_err(bad)
}

/// Parses one textual item of a string-like kind.
fn parse_text_kind(kind: ValueKind, value: &str) -> Result<String, ValueError> {
    match kind {
        ValueKind::Path => parse_path(value),
        ValueKind::UrlPath => parse_url_path(value),
        ValueKind::Url => parse_url(value),
        ValueKind::Host => parse_host(value),
        ValueKind::CookieName => parse_cookie_name(value),
        ValueKind::Socache => parse_socache(value),
        ValueKind::Enum(allowed) => parse_enum(value, allowed).map(str::to_string),
        _ => parse_text(value),
    }
}

/// A wrong-number-of-arguments error.
fn arity(spec: &OptionSpec, option: &str, args: &[&str], expected: &str) -> ConfigError {
    ConfigError::new(
        ConfigErrorKind::WrongArity,
        option,
        &args.join(" "),
        format!("{expected} ({})", spec.syntax),
        spec.secret,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn set(s: &mut Settings, name: &str, args: &[&str]) {
        s.set(name, args).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn directives_set_typed_values_in_any_case() {
        let mut s = Settings::new();
        set(&mut s, "authrscookiesamesite", &["strict"]);
        set(&mut s, "AuthRsTicketLifetime", &["+2h"]);
        set(&mut s, "AuthRsSessionTimeout", &["30m"]);
        set(&mut s, "AuthRsMethods", &["ticket", "cert"]);
        set(&mut s, "AuthRsTrustedProxies", &["10.0.0.0/8,192.0.2.1"]);
        set(&mut s, "AuthRsCookieDomain", &[".Example.ORG"]);
        set(&mut s, "AuthRsEnrolledCertsMax", &["7"]);
        set(&mut s, "AuthRsUnauthAction", &["401"]);
        assert_eq!(s.same_site(), SameSite::Strict);
        assert_eq!(s.ticket_lifetime(), 7200);
        assert_eq!(s.session_timeout(), Some(1800));
        assert_eq!(s.methods(), vec![Method::Ticket, Method::Cert]);
        assert_eq!(s.trusted_proxies().len(), 2);
        assert_eq!(s.cookie_domain(), Some("example.org"));
        assert_eq!(s.enrolled_certs_max(), 7);
        assert_eq!(s.unauth_action(), UnauthAction::Unauthorized);
        set(&mut s, "AuthRsSessionTimeout", &["off"]);
        assert_eq!(s.session_timeout(), None);
        use crate::identity::OpenIdStrength;
        assert_eq!(s.openid_strength(), OpenIdStrength::Between);
        set(&mut s, "AuthRsOpenIDStrength", &["Below-Password"]);
        assert_eq!(s.openid_strength(), OpenIdStrength::BelowPassword);
        let e = s.set("AuthRsOpenIDStrength", &["above-cert"]).unwrap_err();
        assert!(e.to_string().contains("AuthRsOpenIDStrength"), "{e}");
        let j = Settings::from_json_str(r#"{"openid_strength": "cert"}"#).unwrap();
        assert_eq!(j.openid_strength(), OpenIdStrength::Cert);
    }

    #[test]
    fn repeatable_options_append_others_replace() {
        let mut s = Settings::new();
        set(&mut s, "AuthRsTicketKeyFile", &["/k/new"]);
        set(&mut s, "AuthRsTicketKeyFile", &["/k/old", "/k/older one"]);
        assert_eq!(s.ticket_key_files(), ["/k/new", "/k/old", "/k/older one"]);
        set(&mut s, "AuthRsProvider", &["file"]);
        set(&mut s, "AuthRsProvider", &["dbm", "dbd"]);
        assert_eq!(s.providers(), ["dbm", "dbd"]);
        set(&mut s, "AuthRsCookiePath", &["/a"]);
        set(&mut s, "AuthRsCookiePath", &["/b"]);
        assert_eq!(s.cookie_path(), "/b");
    }

    #[test]
    fn merge_child_wins_unset_inherits_append_accumulates() {
        let mut parent = Settings::new();
        set(&mut parent, "AuthRsCookieName", &["Site"]);
        set(&mut parent, "AuthRsCookieSecure", &["Off"]);
        set(
            &mut parent,
            "AuthRsAllowedDestinations",
            &["a.example.org", "b.example.org"],
        );
        set(&mut parent, "AuthRsTicketKeyFile", &["/k/main"]);
        let mut child = Settings::new();
        set(&mut child, "AuthRsCookieSecure", &["On"]);
        set(
            &mut child,
            "AuthRsAllowedDestinations",
            &["b.example.org", "c.example.org"],
        );
        let m = Settings::merge(&parent, &child);
        assert_eq!(m.cookie_name(Some("x")), "Site");
        assert!(m.cookie_secure());
        assert_eq!(
            m.allowed_destinations(),
            ["a.example.org", "b.example.org", "c.example.org"]
        );
        assert_eq!(m.ticket_key_files(), ["/k/main"]);
        assert!(!m.is_set(OptionId::LoginUrl));
        assert_eq!(m.login_url(), None);

        // A virtual host's keys replace the main server's: rotation stays per host.
        let mut vhost = Settings::new();
        set(&mut vhost, "AuthRsTicketKeyFile", &["/k/vhost"]);
        assert_eq!(
            Settings::merge(&parent, &vhost).ticket_key_files(),
            ["/k/vhost"]
        );

        // Merging is associative on what is set, and an empty scope changes nothing.
        let grandchild = Settings::new();
        let deep = Settings::merge(&m, &grandchild);
        assert_eq!(deep, m);
    }

    #[test]
    fn errors_name_the_directive_value_and_expectation() {
        let mut s = Settings::new();
        let e = s.set("AuthRsCookieSameSite", &["Laxx"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "AuthRsCookieSameSite: bad value \"Laxx\": must be one of: Strict, Lax, None"
        );
        let e = s.set("authrsmethods", &["cert", "oauth"]).unwrap_err();
        assert_eq!(e.option, "authrsmethods");
        assert_eq!(e.value, "oauth");
        assert_eq!(e.expected, "must be one of: cert, ticket, openid");
        let e = s.set("AuthRsTicketLifetime", &["-5m"]).unwrap_err();
        assert!(e.to_string().contains("negative"), "{e}");
        let e = s.set("AuthRsTicketLifetime", &["0"]).unwrap_err();
        assert!(e.to_string().contains("at least 1 second"), "{e}");
        let e = s
            .set("AuthRsTicketLifetime", &["99999999999999999999h"])
            .unwrap_err();
        assert!(e.to_string().contains("too large"), "{e}");
        let e = s.set("AuthRsSessionTimeout", &["sometimes"]).unwrap_err();
        assert!(e.to_string().contains("or Off"), "{e}");
        let e = s
            .set("AuthRsTrustedProxies", &["10.0.0.0/8", "evil"])
            .unwrap_err();
        assert_eq!(e.value, "evil");
        let e = s.set("AuthRsEnrolledCertsMax", &["0"]).unwrap_err();
        assert!(e.to_string().contains("from 1 to 1000"), "{e}");
        assert_eq!(s, Settings::new(), "failed directives leave no trace");
    }

    #[test]
    fn arity_and_unknown_directives() {
        let mut s = Settings::new();
        let e = s.set("AuthRsCookieSecure", &["On", "Off"]).unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::WrongArity);
        assert!(e.to_string().contains("exactly one value"), "{e}");
        let e = s.set("AuthRsCookieSecure", &[]).unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::WrongArity);
        let e = s.set("AuthRsMethods", &[]).unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::WrongArity);
        let e = s.set("AuthRsMethods", &[" , "]).unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::BadValue);
        let e = s.set("AuthRsCookieNam", &["x"]).unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::UnknownDirective);
        assert!(
            e.to_string().contains("did you mean \"AuthRsCookieName\""),
            "{e}"
        );
        let e = s.set("cookie_name", &["x"]).unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::UnknownDirective);
        assert!(s.set("AuthRsCookieName\0", &["x"]).is_err());
    }

    #[test]
    fn path_errors_say_a_path_was_expected() {
        let mut s = Settings::new();
        let e = s.set("AuthRsCRLFile", &[""]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "AuthRsCRLFile: bad value \"\": must not be empty (a file path)"
        );
        let e = s
            .set("AuthRsTicketKeyFile", &["/k/a", "/k/\u{1b}b"])
            .unwrap_err();
        assert_eq!(e.value, "/k/\u{1b}b");
        assert!(e.expected.ends_with("(a file path)"), "{e}");
        assert_eq!(s, Settings::new());
    }

    #[test]
    fn the_cache_directive_refuses_dbm_and_malformed_providers() {
        let mut s = Settings::new();
        for bad in ["dbm:/var/cache/authrs", "shm cb", ":x"] {
            let e = s.set("AuthRsCache", &[bad]).expect_err(bad);
            assert_eq!((e.option.as_str(), e.value.as_str()), ("AuthRsCache", bad));
        }
        let e = s.set("AuthRsCache", &["DBM"]).unwrap_err();
        assert!(e.expected.contains("use shmcb, memcache or redis"), "{e}");
        assert_eq!(s, Settings::new());
        s.set("AuthRsCache", &["redis:127.0.0.1:6379"]).unwrap();
        assert_eq!(s.cache(), "redis:127.0.0.1:6379");
    }

    #[test]
    fn enum_kinds_are_checked_not_taken_as_text() {
        static COLOURS: OptionSpec = OptionSpec {
            kind: ValueKind::Enum(&["red", "green"]),
            ..OPTIONS[0]
        };
        assert!(matches!(parse_args(&COLOURS, "X", &["RED"]), Ok(Parsed::Text(t)) if t == "red"));
        let e = parse_args(&COLOURS, "X", &["blue"]).err().unwrap();
        assert_eq!(
            e.to_string(),
            "X: bad value \"blue\": must be one of: red, green"
        );
    }

    #[test]
    fn hostile_values_are_refused() {
        let mut s = Settings::new();
        for (name, value) in [
            ("AuthRsCookieName", "a;b"),
            ("AuthRsCookieName", "a\r\nSet-Cookie: x=y"),
            ("AuthRsCookiePath", "/\r\nX: y"),
            ("AuthRsCookieDomain", "evil.example;"),
            ("AuthRsCookieDomain", "a_b.example"),
            ("AuthRsCookieDomain", "[::1]"),
            ("AuthRsLoginURL", "javascript:alert(1)"),
            ("AuthRsLoginURL", "//evil.example/"),
            ("AuthRsDefaultDestination", "https://evil.example/"),
            ("AuthRsAllowedDestinations", "evil.example/path"),
            ("AuthRsCertUser", "{CN"),
            ("AuthRsCache", "shmcb:\0"),
            ("AuthRsCRLFile", "/etc/crl\0.pem"),
            ("AuthRsRefreshFraction", "2"),
            ("AuthRsCookieSecure", "On\0"),
        ] {
            let e = s.set(name, &[value]).expect_err(value);
            assert_eq!(e.option, name);
            assert!(!e.to_string().contains('\r') && !e.to_string().contains('\0'));
        }
        let long = "x".repeat(1 << 20);
        let e = s.set("AuthRsCookieSameSite", &[&long]).unwrap_err();
        assert!(e.to_string().len() < 300);
    }
}
