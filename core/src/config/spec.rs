//! What one option is: its names in each shell, its value kind, default, merge rule, scope and help.

use super::table::OPTIONS;

/// Identifies an option independently of its spelling in either shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum OptionId {
    /// `AuthRsMethods` / `methods`.
    Methods,
    /// `AuthRsTicketKeyFile`.
    TicketKeyFile,
    /// `AuthRsCookieName` / `cookie_name`.
    CookieName,
    /// `AuthRsCookieDomain` / `cookie_domain`.
    CookieDomain,
    /// `AuthRsCookiePath` / `cookie_path`.
    CookiePath,
    /// `AuthRsCookieSecure` / `cookie_secure`.
    CookieSecure,
    /// `AuthRsCookieHttpOnly` / `cookie_http_only`.
    CookieHttpOnly,
    /// `AuthRsCookieSameSite` / `cookie_same_site`.
    CookieSameSite,
    /// `AuthRsCookiePersistent` / `cookie_persistent`.
    CookiePersistent,
    /// `AuthRsTicketLifetime` / `ticket_lifetime`.
    TicketLifetime,
    /// `AuthRsSessionTimeout` / `session_timeout`.
    SessionTimeout,
    /// `AuthRsMaxTicketAge` / `max_ticket_age`.
    MaxTicketAge,
    /// `AuthRsRefreshFraction` / `refresh_fraction`.
    RefreshFraction,
    /// `AuthRsBindAddress` / `bind_address`.
    BindAddress,
    /// `AuthRsAcceptUnboundTickets` / `accept_unbound_tickets`.
    AcceptUnboundTickets,
    /// `AuthRsLoginURL` / `login_url`.
    LoginUrl,
    /// `AuthRsUnauthAction` / `unauth_action`.
    UnauthAction,
    /// `AuthRsProvider`.
    Provider,
    /// `AuthRsDefaultDestination` / `default_destination`.
    DefaultDestination,
    /// `AuthRsAllowedDestinations` / `allowed_destinations`.
    AllowedDestinations,
    /// `AuthRsRecognizeUser` / `recognize_user`.
    RecognizeUser,
    /// `AuthRsCertUser` / `cert_user`.
    CertUser,
    /// `AuthRsCertUserMap`.
    CertUserMapFile,
    /// `AuthRsCertRequire` / `cert_require`.
    CertRequire,
    /// `AuthRsCRLFile`.
    CrlFile,
    /// `AuthRsEnrolledCertsFile`.
    EnrolledCertsFile,
    /// `AuthRsEnrolledCertsMax` / `enrolled_certs_max`.
    EnrolledCertsMax,
    /// `AuthRsTrustedProxies` / `trusted_proxies`.
    TrustedProxies,
    /// `AuthRsTrustedProxyHeaders` / `trusted_proxy_headers`.
    TrustedProxyHeaders,
    /// `AuthRsRolesFile`.
    RolesFile,
    /// `AuthRsCache`.
    Cache,
    /// `AuthRsRevokeOnLogout` / `revoke_on_logout`.
    RevokeOnLogout,
    /// `auth_name`.
    AuthName,
    /// `ticket_keys`.
    TicketKeys,
    /// `crls`.
    Crls,
    /// `enrolled_certs`.
    EnrolledCerts,
    /// `roles`.
    Roles,
    /// `cert_user_map`.
    CertUserMap,
    /// `users`.
    Users,
    /// `groups`.
    Groups,
    /// `locations`.
    Locations,
    /// `login_path`.
    LoginPath,
    /// `logout_path`.
    LogoutPath,
    /// `password_check`.
    PasswordCheck,
    /// `openid_clusters`.
    OpenIdClusters,
    /// `trusted_cas`.
    TrustedCas,
    /// `trust_chain_verification`.
    TrustChainVerification,
    /// `AuthRsOpenIDRequiredRoot` / `openid_required_root`.
    OpenIdRequiredRoot,
    /// `AuthRsOpenIDRealm` / `openid_realm`.
    OpenIdRealm,
    /// `AuthRsOpenIDConsumerSecretFile`.
    OpenIdConsumerSecretFile,
    /// `openid_consumer_secret`.
    OpenIdConsumerSecret,
    /// `AuthRsOpenIDMinimumVersion` / `openid_minimum_version`.
    OpenIdMinimumVersion,
    /// `AuthRsOpenIDStrength` / `openid_strength`.
    OpenIdStrength,
    /// `AuthRsOpenIDAllowedProviders` / `openid_allowed_providers`.
    OpenIdAllowedProviders,
    /// `AuthRsOpenIDMaxConcurrentFetches` (httpd only, server-wide).
    OpenIdMaxConcurrentFetches,
    /// `AuthRsOpenIDNonceCheck` / `openid_nonce_check`.
    OpenIdNonceCheck,
    /// `AuthRsOpenIDNonceIgnoreTime` / `openid_nonce_ignore_time`.
    OpenIdNonceIgnoreTime,
    /// `AuthRsOpenIDNonceLifetime` / `openid_nonce_lifetime`.
    OpenIdNonceLifetime,
    /// `AuthRsOpenIDNonceWindow` / `openid_nonce_window`.
    OpenIdNonceWindow,
    /// `AuthRsOpenIDNonceSkew` / `openid_nonce_skew`.
    OpenIdNonceSkew,
    /// `AuthRsOpenIDNonceStart` / `openid_nonce_start`.
    OpenIdNonceStart,
    /// `AuthRsOpenIDNonceTimecop` / `openid_nonce_timecop`.
    OpenIdNonceTimecop,
    /// `AuthRsOpenIDAssocType` / `openid_assoc_type`.
    OpenIdAssocType,
    /// `AuthRsOpenIDAssocSessionType` / `openid_assoc_session_type`.
    OpenIdAssocSessionType,
    /// `AuthRsOpenIDAssocMaxEncrypt` / `openid_assoc_max_encrypt`.
    OpenIdAssocMaxEncrypt,
    /// `AuthRsOpenIDAssocNoEncryptHttps` / `openid_assoc_no_encrypt_https`.
    OpenIdAssocNoEncryptHttps,
    /// `AuthRsOpenIDAssocAllowEavesdropping` / `openid_assoc_allow_eavesdropping`.
    OpenIdAssocAllowEavesdropping,
    /// `AuthRsOpenIDAllowPrivateAddresses` / `openid_allow_private_addresses`.
    OpenIdAllowPrivateAddresses,
}

/// The shape of an option's value, which selects its parser and its JSON type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueKind {
    /// On/Off (also true/false, yes/no, 1/0); a JSON boolean.
    Bool,
    /// A duration (`3600`, `30m`, `+2h`, `1h30m`); a JSON number of seconds or such a string.
    Duration,
    /// A duration, or `Off` (same as 0) for "none".
    DurationOrOff,
    /// A whole number within `min..=max`.
    Integer {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// A number from 0 to 1.
    Fraction,
    /// Free text without control characters.
    Str,
    /// A file path the shell reads at startup.
    Path,
    /// A local URL path starting with `/`.
    UrlPath,
    /// A local URL path or an absolute http(s) URL.
    Url,
    /// A host name or IP literal.
    Host,
    /// A cookie name (an RFC 6265 token).
    CookieName,
    /// An httpd socache provider spec.
    Socache,
    /// Several values of the inner kind (repeated arguments, or a JSON array).
    List(&'static ValueKind),
    /// One word of a fixed set, matched case-insensitively.
    Enum(&'static [&'static str]),
    /// IP addresses and CIDR ranges.
    CidrList,
    /// Strict, Lax or None.
    SameSite,
    /// dn, cn, email, xmpp, upn or a `{ATTR}` template.
    CertUser,
    /// An ordered list of `cert`, `ticket` and `openid`.
    Methods,
    /// auto, redirect, 401 or 403.
    UnauthAction,
    /// The inline contents of a file (a JSON string, or an array of lines); parsed by the engine.
    Text,
    /// Structured JSON kept as is for the Envoy filter (Envoy only).
    Json,
}

impl ValueKind {
    /// True when several values are accepted (so a directive takes one or more arguments).
    pub fn is_list(self) -> bool {
        matches!(
            self,
            ValueKind::List(_) | ValueKind::CidrList | ValueKind::Methods
        )
    }

    /// What a JSON value for this kind must look like, for "wrong type" errors.
    pub fn json_expectation(self) -> &'static str {
        match self {
            ValueKind::Bool => "expected a JSON boolean (true or false)",
            ValueKind::Duration => {
                "expected a number of seconds or a duration string such as \"30m\""
            }
            ValueKind::DurationOrOff => {
                "expected a number of seconds, a duration string such as \"30m\", or \"off\""
            }
            ValueKind::Integer { .. } => "expected a whole JSON number",
            ValueKind::Fraction => "expected a JSON number from 0 to 1",
            ValueKind::List(_) | ValueKind::CidrList | ValueKind::Methods => {
                "expected a JSON array of strings (or one string)"
            }
            ValueKind::Text => "expected a JSON string (or an array of lines)",
            ValueKind::Json => "expected JSON",
            _ => "expected a JSON string",
        }
    }
}

/// An option's default, as documented; getters apply it when the option is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// No value; the text says what being unset means.
    Unset(&'static str),
    /// Computed from something else; the text says how.
    Derived(&'static str),
    /// This value, written as in the configuration.
    Value(&'static str),
}

impl DefaultValue {
    /// The default as the reference table shows it.
    pub fn describe(self) -> String {
        match self {
            DefaultValue::Unset(meaning) => format!("unset: {meaning}"),
            DefaultValue::Derived(how) => how.to_string(),
            DefaultValue::Value(v) => format!("`{v}`"),
        }
    }
}

/// How a per-directory value combines with the enclosing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// The inner value replaces the outer one when set.
    ChildOverrides,
    /// Inner values are added after the outer ones.
    Append,
    /// Set only server-wide (or at the plugin's top level); a virtual host's value replaces the main server's.
    ServerOnly,
}

/// Where an option may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Server-wide / virtual host (Apache `RSRC_CONF`), or the Envoy plugin's top level.
    Server,
    /// Also in `<Location>`, `<Directory>`, `.htaccess` (with `AllowOverride AuthConfig`), or an Envoy location.
    Directory,
}

/// Which shells accept an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shells {
    /// Both the Apache directive and the Envoy JSON key.
    Both,
    /// Apache only (typically a file the shell reads).
    Apache,
    /// Envoy only (typically inline data, since the wasm filter cannot read files).
    Envoy,
}

/// One shell, for naming an option the way that shell's user wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    /// mod_authrs: Apache directives.
    Apache,
    /// The proxy-wasm filter: JSON keys.
    Envoy,
}

/// One option: every name, rule and text about it, in one place.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// Stable identity of the option.
    pub id: OptionId,
    /// The Apache directive (`AuthRsCookieName`), if Apache has it.
    pub directive: Option<&'static str>,
    /// The Envoy JSON key (`cookie_name`), if Envoy has it.
    pub json: Option<&'static str>,
    /// The value's shape.
    pub kind: ValueKind,
    /// What applies when the option is not set.
    pub default: DefaultValue,
    /// How it merges into nested scopes.
    pub merge: Merge,
    /// Where it may be written.
    pub scope: Scope,
    /// Which shells have it.
    pub shells: Shells,
    /// Whether the directive may be written several times in one scope (values accumulate).
    pub repeatable: bool,
    /// Whether the value is secret and must never appear in errors or logs.
    pub secret: bool,
    /// One or two sentences for `command_rec` help and the reference table.
    pub help: &'static str,
    /// The accepted values, e.g. `Strict|Lax|None`.
    pub syntax: &'static str,
}

impl OptionSpec {
    /// The name as `shell`'s users write it, falling back to the other shell's name.
    pub fn name_in(&self, shell: Shell) -> &'static str {
        let (first, second) = match shell {
            Shell::Apache => (self.directive, self.json),
            Shell::Envoy => (self.json, self.directive),
        };
        first.or(second).unwrap_or("")
    }
}

/// Finds an option by Apache directive name, ignoring case as httpd does.
pub fn by_directive(name: &str) -> Option<&'static OptionSpec> {
    OPTIONS
        .iter()
        .find(|o| o.directive.is_some_and(|d| d.eq_ignore_ascii_case(name)))
}

/// Finds an option by its Envoy JSON key (exact match: JSON keys are case-sensitive).
pub fn by_json(key: &str) -> Option<&'static OptionSpec> {
    OPTIONS.iter().find(|o| o.json == Some(key))
}

/// Finds an option by id; every id has exactly one entry (a test checks it).
pub fn by_id(id: OptionId) -> Option<&'static OptionSpec> {
    OPTIONS.iter().find(|o| o.id == id)
}

/// Converts the part of a directive after `AuthRs` to snake case: `CookieSameSite` → `cookie_same_site`, `CRLFile` → `crl_file`.
///
/// `OpenID` counts as one word: `OpenIDNonceSkew` → `openid_nonce_skew`.
pub fn snake_case(camel: &str) -> String {
    let camel = camel.replace("OpenID", "Openid");
    let chars: Vec<char> = camel.chars().collect();
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev_lower = chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit();
            let acronym_end = chars[i - 1].is_ascii_uppercase()
                && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev_lower || acronym_end {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The closest known name to `wrong`, for "did you mean" hints; `None` when nothing is close.
pub fn closest<'a>(wrong: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    // Names are short; a long input cannot be a typo of one, and must not cost quadratic time.
    if wrong.len() > 64 {
        return None;
    }
    let wrong = wrong.to_ascii_lowercase();
    names
        .map(|n| (edit_distance(&wrong, &n.to_ascii_lowercase()), n))
        .filter(|(d, n)| *d <= 2.max(n.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev_diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (prev_diag + cost).min(row[j] + 1).min(row[j + 1] + 1);
            prev_diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_handles_acronyms() {
        assert_eq!(snake_case("CookieSameSite"), "cookie_same_site");
        assert_eq!(snake_case("CRLFile"), "crl_file");
        assert_eq!(snake_case("LoginURL"), "login_url");
        assert_eq!(snake_case("CookieHttpOnly"), "cookie_http_only");
        assert_eq!(snake_case("Methods"), "methods");
        assert_eq!(snake_case("Sha256Key"), "sha256_key");
        assert_eq!(snake_case("OpenIDNonceSkew"), "openid_nonce_skew");
        assert_eq!(
            snake_case("OpenIDAssocNoEncryptHttps"),
            "openid_assoc_no_encrypt_https"
        );
    }

    #[test]
    fn lookups() {
        assert_eq!(
            by_directive("authrscookiename").map(|o| o.id),
            Some(OptionId::CookieName)
        );
        assert_eq!(
            by_directive("AUTHRSCOOKIENAME").map(|o| o.id),
            Some(OptionId::CookieName)
        );
        assert_eq!(
            by_json("cookie_name").map(|o| o.id),
            Some(OptionId::CookieName)
        );
        assert!(by_json("Cookie_Name").is_none());
        assert!(by_json("AuthRsCookieName").is_none());
        assert!(by_directive("cookie_name").is_none());
        assert!(by_directive("").is_none());
        assert!(by_directive("AuthRsCookieName\0").is_none());
    }

    #[test]
    fn names_fall_back_to_the_other_shell() {
        let file = by_id(OptionId::TicketKeyFile).unwrap();
        assert_eq!(file.name_in(Shell::Apache), "AuthRsTicketKeyFile");
        assert_eq!(file.name_in(Shell::Envoy), "AuthRsTicketKeyFile");
        let keys = by_id(OptionId::TicketKeys).unwrap();
        assert_eq!(keys.name_in(Shell::Apache), "ticket_keys");
        let both = by_id(OptionId::CookieName).unwrap();
        assert_eq!(both.name_in(Shell::Apache), "AuthRsCookieName");
        assert_eq!(both.name_in(Shell::Envoy), "cookie_name");
        assert_eq!(
            by_json("ticket_keys").map(|o| o.id),
            Some(OptionId::TicketKeys)
        );
        assert!(by_json("").is_none());
    }

    #[test]
    fn kinds_describe_themselves() {
        for (kind, list) in [
            (ValueKind::List(&ValueKind::Path), true),
            (ValueKind::CidrList, true),
            (ValueKind::Methods, true),
            (ValueKind::Bool, false),
            (ValueKind::Text, false),
            (ValueKind::Enum(&["a"]), false),
        ] {
            assert_eq!(kind.is_list(), list, "{kind:?}");
        }
        assert!(ValueKind::DurationOrOff
            .json_expectation()
            .contains("\"off\""));
        assert!(ValueKind::Text
            .json_expectation()
            .contains("array of lines"));
        assert_eq!(ValueKind::Json.json_expectation(), "expected JSON");
        assert_eq!(ValueKind::Host.json_expectation(), "expected a JSON string");
        assert_eq!(DefaultValue::Unset("none").describe(), "unset: none");
        assert_eq!(DefaultValue::Derived("from x").describe(), "from x");
        assert_eq!(DefaultValue::Value("On").describe(), "`On`");
    }

    #[test]
    fn suggestions_stay_near() {
        let names = ["methods", "cookie_same_site"];
        // Short names allow two edits, longer ones a quarter of their length.
        assert_eq!(closest("metho", names.into_iter()), Some("methods"));
        assert_eq!(closest("meth", names.into_iter()), None);
        assert_eq!(
            closest("cookie_xxxx_site", names.into_iter()),
            Some("cookie_same_site")
        );
        assert_eq!(closest("cookie_xxxxxsite", names.into_iter()), None);
        // The nearest wins, not the first within reach.
        assert_eq!(
            closest("cookie_path", ["cookie_name", "cookie_pat"].into_iter()),
            Some("cookie_pat")
        );
        // 64 characters is still a possible typo; 65 is not.
        let name = "a".repeat(64);
        let near = format!("{}b", "a".repeat(63));
        assert_eq!(
            closest(&near, [name.as_str()].into_iter()),
            Some(name.as_str())
        );
        assert_eq!(closest(&"a".repeat(65), [name.as_str()].into_iter()), None);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("flaw", "lawn"), 2);
        assert_eq!(edit_distance("ab", "a"), 1);
        assert_eq!(edit_distance("é", "e"), 1);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn suggestions() {
        let keys = ["cookie_name", "cookie_path", "methods"];
        assert_eq!(closest("cookie_nam", keys.into_iter()), Some("cookie_name"));
        assert_eq!(
            closest("COOKIE_PATH", keys.into_iter()),
            Some("cookie_path")
        );
        assert_eq!(closest("zzzzzzzz", keys.into_iter()), None);
        assert_eq!(closest(&"x".repeat(10_000), keys.into_iter()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
