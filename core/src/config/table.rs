//! The option table: every option named once, with both spellings, default, merge rule, scope and help.
//!
//! Apache directives are `AuthRs` + CamelCase; the Envoy JSON key is the
//! snake_case of the part after `AuthRs` (`AuthRsCookieSameSite` →
//! `cookie_same_site`). Options that name a file exist only in Apache; the
//! wasm filter cannot read files, so Envoy has an inline counterpart under
//! its own entry (`AuthRsCRLFile` ↔ `crls`, `AuthRsTicketKeyFile` ↔
//! `ticket_keys`, `AuthRsCertUserMap` ↔ `cert_user_map`, …).

use super::kinds::TRUST_CHAIN_VERIFICATION_VALUES;
use super::spec::{DefaultValue, Merge, OptionId, OptionSpec, Scope, Shells, ValueKind};

/// A per-directory option both shells share, child-overrides, written once.
const fn both(
    id: OptionId,
    directive: &'static str,
    json: &'static str,
    kind: ValueKind,
    default: DefaultValue,
    syntax: &'static str,
    help: &'static str,
) -> OptionSpec {
    OptionSpec {
        id,
        directive: Some(directive),
        json: Some(json),
        kind,
        default,
        merge: Merge::ChildOverrides,
        scope: Scope::Directory,
        shells: Shells::Both,
        repeatable: false,
        secret: false,
        help,
        syntax,
    }
}

/// An Apache-only option (a file the shell reads, or an httpd facility).
const fn apache(
    id: OptionId,
    directive: &'static str,
    kind: ValueKind,
    default: DefaultValue,
    syntax: &'static str,
    help: &'static str,
) -> OptionSpec {
    OptionSpec {
        json: None,
        shells: Shells::Apache,
        ..both(id, directive, "", kind, default, syntax, help)
    }
}

/// An Envoy-only JSON key (inline data, or structure the filter consumes).
const fn envoy(
    id: OptionId,
    json: &'static str,
    kind: ValueKind,
    default: DefaultValue,
    syntax: &'static str,
    help: &'static str,
) -> OptionSpec {
    OptionSpec {
        directive: None,
        shells: Shells::Envoy,
        ..both(id, "", json, kind, default, syntax, help)
    }
}

/// Server-wide variant of an entry: set once per server (or plugin), never per location.
const fn server(spec: OptionSpec) -> OptionSpec {
    OptionSpec {
        scope: Scope::Server,
        merge: Merge::ServerOnly,
        ..spec
    }
}

/// What an unset ticket key means, shared by the file and the inline form.
const NO_KEYS: &str = "no ticket can be issued or accepted";

/// What an unset consumer secret means, shared by the file and the inline form.
const NO_OPENID_SECRET: &str = "required where the methods list openid: without it that scope cannot be used (httpd: 500, AUTHRS0101; Envoy: the plugin does not start)";

/// Every option, in the order the reference documents them.
pub static OPTIONS: &[OptionSpec] = &[
    both(
        OptionId::Methods,
        "AuthRsMethods",
        "methods",
        ValueKind::Methods,
        DefaultValue::Value("cert ticket"),
        "cert|ticket|openid …",
        "Which credentials are tried, in order: `cert` (a TLS client certificate) and `ticket` (the signed cookie issued at login); `openid` lets the login handler accept `openid_identifier` (its logins issue tickets, so list `ticket` too).",
    ),
    OptionSpec {
        repeatable: true,
        ..server(apache(
            OptionId::TicketKeyFile,
            "AuthRsTicketKeyFile",
            ValueKind::List(&ValueKind::Path),
            DefaultValue::Unset(NO_KEYS),
            "path [path …]",
            "File holding a ticket key. Repeat to rotate: the first key signs, all keys verify. Envoy: `ticket_keys`.",
        ))
    },
    both(
        OptionId::CookieName,
        "AuthRsCookieName",
        "cookie_name",
        ValueKind::CookieName,
        DefaultValue::Derived("`AuthRs_<AuthName>` (non-token characters become `_`; `AuthRs` without AuthName)"),
        "name",
        "Name of the ticket cookie.",
    ),
    both(
        OptionId::CookieDomain,
        "AuthRsCookieDomain",
        "cookie_domain",
        ValueKind::Host,
        DefaultValue::Unset("host-only cookie (no Domain attribute)"),
        "domain",
        "Domain attribute of the cookie, to share the login across subdomains (a leading dot is ignored).",
    ),
    both(
        OptionId::CookiePath,
        "AuthRsCookiePath",
        "cookie_path",
        ValueKind::UrlPath,
        DefaultValue::Value("/"),
        "/path",
        "Path attribute of the cookie.",
    ),
    both(
        OptionId::CookieSecure,
        "AuthRsCookieSecure",
        "cookie_secure",
        ValueKind::Bool,
        DefaultValue::Value("On"),
        "On|Off",
        "Send the cookie over HTTPS only.",
    ),
    both(
        OptionId::CookieHttpOnly,
        "AuthRsCookieHttpOnly",
        "cookie_http_only",
        ValueKind::Bool,
        DefaultValue::Value("On"),
        "On|Off",
        "Hide the cookie from page scripts.",
    ),
    both(
        OptionId::CookieSameSite,
        "AuthRsCookieSameSite",
        "cookie_same_site",
        ValueKind::SameSite,
        DefaultValue::Value("Lax"),
        "Strict|Lax|None",
        "SameSite attribute of the cookie; None requires AuthRsCookieSecure On.",
    ),
    both(
        OptionId::CookiePersistent,
        "AuthRsCookiePersistent",
        "cookie_persistent",
        ValueKind::Bool,
        DefaultValue::Value("Off"),
        "On|Off",
        "On: the cookie expires with the ticket and survives a browser restart; Off: a session cookie.",
    ),
    both(
        OptionId::TicketLifetime,
        "AuthRsTicketLifetime",
        "ticket_lifetime",
        ValueKind::Duration,
        DefaultValue::Value("8h"),
        "duration (3600, 30m, +2h, 1d, 1h30m)",
        "Absolute lifetime of a ticket from login (set where tickets are issued: the login location); after it the user logs in again however active.",
    ),
    both(
        OptionId::SessionTimeout,
        "AuthRsSessionTimeout",
        "session_timeout",
        ValueKind::DurationOrOff,
        DefaultValue::Value("Off"),
        "duration|Off",
        "Idle timeout: a ticket unused for this long expires; used tickets are re-issued (see AuthRsRefreshFraction). Off or 0: none.",
    ),
    both(
        OptionId::MaxTicketAge,
        "AuthRsMaxTicketAge",
        "max_ticket_age",
        ValueKind::DurationOrOff,
        DefaultValue::Value("Off"),
        "duration|Off",
        "A login at most this long ago: a ticket issued earlier is refused here as `expired` (`AUTHRS0228`) and kept, since it is still good elsewhere — a shorter re-login window for a sensitive area, as mod_auth_tkt's TKTAuthTimeout. Off or 0: the ticket's own lifetime alone.",
    ),
    both(
        OptionId::RefreshFraction,
        "AuthRsRefreshFraction",
        "refresh_fraction",
        ValueKind::Fraction,
        DefaultValue::Value("0.5"),
        "0..1",
        "With an idle timeout, re-issue the ticket once it is older than this fraction of the timeout (fewer Set-Cookie headers).",
    ),
    both(
        OptionId::BindAddress,
        "AuthRsBindAddress",
        "bind_address",
        ValueKind::Bool,
        DefaultValue::Value("Off"),
        "On|Off",
        "Bind each ticket to the client address it was issued to; from another address it is a bad cookie.",
    ),
    both(
        OptionId::AcceptUnboundTickets,
        "AuthRsAcceptUnboundTickets",
        "accept_unbound_tickets",
        ValueKind::Bool,
        DefaultValue::Value("On"),
        "On|Off",
        "Accept unbound (version-1) tickets, valid under any cookie name: those of builds before 2026-11-24 and of `authrs ticket mint` without --cookie-name. Logins mint tickets bound to their cookie's name; Off refuses the others (as bad_cookie, cookie kept) once they can have expired.",
    ),
    both(
        OptionId::LoginUrl,
        "AuthRsLoginURL",
        "login_url",
        ValueKind::Url,
        DefaultValue::Unset("no login page; unauthenticated requests get 401"),
        "/path|https://host/path",
        "The login page unauthenticated browsers are sent to, with the original URL as `destination`.",
    ),
    both(
        OptionId::UnauthAction,
        "AuthRsUnauthAction",
        "unauth_action",
        ValueKind::UnauthAction,
        DefaultValue::Value("auto"),
        "auto|redirect|401|403",
        "Answer to unauthenticated requests; auto answers 401 to API clients (Accept: application/json, or any X-Requested-With) and redirects every other request to the login page when one is set (401 when none is).",
    ),
    apache(
        OptionId::Provider,
        "AuthRsProvider",
        ValueKind::List(&ValueKind::Str),
        DefaultValue::Value("file"),
        "provider [provider …]",
        "httpd authn providers that check login-form passwords, in order, like AuthBasicProvider (file, dbm, dbd, …). Envoy: `users`, `password_check`.",
    ),
    both(
        OptionId::DefaultDestination,
        "AuthRsDefaultDestination",
        "default_destination",
        ValueKind::UrlPath,
        DefaultValue::Value("/"),
        "/path",
        "Where a successful login goes when it has no (acceptable) destination.",
    ),
    OptionSpec {
        merge: Merge::Append,
        repeatable: true,
        ..both(
            OptionId::AllowedDestinations,
            "AuthRsAllowedDestinations",
            "allowed_destinations",
            ValueKind::List(&ValueKind::Host),
            DefaultValue::Unset("only destinations on the same host are followed"),
            "host [host …]",
            "Other hosts a login destination may point to; inner scopes add to the outer list. Anything else goes to AuthRsDefaultDestination.",
        )
    },
    both(
        OptionId::RecognizeUser,
        "AuthRsRecognizeUser",
        "recognize_user",
        ValueKind::Bool,
        DefaultValue::Value("Off"),
        "On|Off",
        "On pages that need no login, still set the user from a valid ticket or certificate (AuthCookie's recognize_user). A user the page's Require excludes (Require not user …) stays anonymous in httpd (AUTHRS0227: httpd's authorization is asked again with the user, quietly; a module hooking auth_checker before mod_authz_core answers first; what a provider set in the environment while refusing the user is removed again) and gets 403 from the Envoy filter.",
    ),
    both(
        OptionId::CertUser,
        "AuthRsCertUser",
        "cert_user",
        ValueKind::CertUser,
        DefaultValue::Value("cn"),
        "dn|cn|email|xmpp|upn|template",
        "Which certificate field names the user: the subject DN, its CN, e-mail, XMPP or UPN SAN, or a template like `{CN}@example.org` (with several attributes, a value holding a character of the text between them is refused: `{OU}.{CN}` refuses OU=a.b).",
    ),
    apache(
        OptionId::CertUserMapFile,
        "AuthRsCertUserMap",
        ValueKind::Path,
        DefaultValue::Unset("no map; AuthRsCertUser alone names the user"),
        "path",
        "File mapping certificate subjects to user names, consulted before AuthRsCertUser. Envoy: `cert_user_map`.",
    ),
    both(
        OptionId::CertRequire,
        "AuthRsCertRequire",
        "cert_require",
        ValueKind::Bool,
        DefaultValue::Value("Off"),
        "On|Off",
        "On: a client certificate is required (missing: no_cert; untrusted or invalid: bad_cert; no fallback; cert must come first in the methods). Off: a missing or untrusted certificate falls through to the next method. A revoked one never does.",
    ),
    apache(
        OptionId::CrlFile,
        "AuthRsCRLFile",
        ValueKind::Path,
        DefaultValue::Unset("no revocation check beyond the TLS layer's"),
        "path",
        "PEM file of CRLs; a certificate is revoked when issuer and serial both match. Envoy: `crls`.",
    ),
    apache(
        OptionId::EnrolledCertsFile,
        "AuthRsEnrolledCertsFile",
        ValueKind::Path,
        DefaultValue::Unset("no enrolled certificates"),
        "path",
        "File of user-enrolled (pinned, possibly self-signed) certificates. Envoy: `enrolled_certs`.",
    ),
    both(
        OptionId::EnrolledCertsMax,
        "AuthRsEnrolledCertsMax",
        "enrolled_certs_max",
        ValueKind::Integer { min: 1, max: 1000 },
        DefaultValue::Value("5"),
        "1..1000",
        "Most certificates one user may enrol.",
    ),
    OptionSpec {
        repeatable: true,
        ..server(both(
            OptionId::TrustedProxies,
            "AuthRsTrustedProxies",
            "trusted_proxies",
            ValueKind::CidrList,
            DefaultValue::Unset("no proxy is trusted; forwarded certificate headers are dropped as spoofed"),
            "addr|cidr [addr|cidr …]",
            "Reverse proxies allowed to assert client-certificate headers (SSL_CLIENT_S_DN, XFCC, …): their own addresses or ranges, none wider than a /8 (IPv6: /32; IPv4-mapped IPv6: /104).",
        ))
    },
    server(both(
        OptionId::TrustedProxyHeaders,
        "AuthRsTrustedProxyHeaders",
        "trusted_proxy_headers",
        ValueKind::Enum(&["ssl", "xfcc"]),
        DefaultValue::Value("ssl"),
        "ssl|xfcc",
        "Which headers the trusted proxies assert: ssl (SSL_CLIENT_* and HTTPS) or xfcc (X-Forwarded-Client-Cert). The other family is stripped as spoofed even from them.",
    )),
    apache(
        OptionId::RolesFile,
        "AuthRsRolesFile",
        ValueKind::Path,
        DefaultValue::Unset("nobody holds a role"),
        "path",
        "File granting roles (with optional scopes) to users. Envoy: `roles`.",
    ),
    server(apache(
        OptionId::Cache,
        "AuthRsCache",
        ValueKind::Socache,
        DefaultValue::Value("shmcb"),
        "provider[:args]",
        "httpd socache provider (shmcb on one machine, memcache or redis for several), set in the main server configuration only (one cache serves every virtual host); logout revocations and OpenID state (nonces, associations) each get an instance of it.",
    )),
    both(
        OptionId::RevokeOnLogout,
        "AuthRsRevokeOnLogout",
        "revoke_on_logout",
        ValueKind::Bool,
        DefaultValue::Value("Off"),
        "On|Off",
        "On: logout records the ticket as revoked in the cache so a copied cookie stops working; Off: logout only clears the cookie.",
    ),
    both(
        OptionId::OpenIdRequiredRoot,
        "AuthRsOpenIDRequiredRoot",
        "openid_required_root",
        ValueKind::Str,
        DefaultValue::Unset("then AuthRsOpenIDRealm is required (OpenID needs one of the two)"),
        "https://host/path",
        "OpenID: every return_to must start with this absolute http(s) URL (the seed's required_root; bogus_return_to otherwise). This or the realm names the site's own URL, which the Host header must not choose.",
    ),
    both(
        OptionId::OpenIdRealm,
        "AuthRsOpenIDRealm",
        "openid_realm",
        ValueKind::Str,
        DefaultValue::Derived("AuthRsOpenIDRequiredRoot (OpenID needs one of the two)"),
        "https://host/path/ or https://*.domain/",
        "OpenID: the realm (2.0 `openid.realm`, 1.1 `openid.trust_root`) the provider shows the user and checks return_to against, and so does authrs at the return; it must contain AuthRsOpenIDRequiredRoot and the login handler's URL; a wildcard realm (`*.`) needs AuthRsOpenIDRequiredRoot too (which host this site is).",
    ),
    apache(
        OptionId::OpenIdConsumerSecretFile,
        "AuthRsOpenIDConsumerSecretFile",
        ValueKind::Path,
        DefaultValue::Unset(NO_OPENID_SECRET),
        "path",
        "OpenID: file holding the consumer secret that signs the time in return_to (oic.time; 16 to 255 bytes, `authrs keygen` writes one; a trailing newline is ignored). Envoy: `openid_consumer_secret`.",
    ),
    OptionSpec {
        secret: true,
        ..envoy(
            OptionId::OpenIdConsumerSecret,
            "openid_consumer_secret",
            ValueKind::Str,
            DefaultValue::Unset(NO_OPENID_SECRET),
            "\"<secret>\"",
            "OpenID: the consumer secret inline (what AuthRsOpenIDConsumerSecretFile holds).",
        )
    },
    both(
        OptionId::OpenIdMinimumVersion,
        "AuthRsOpenIDMinimumVersion",
        "openid_minimum_version",
        ValueKind::Enum(&["1", "2"]),
        DefaultValue::Value("1"),
        "1|2",
        "OpenID: 1 accepts providers speaking 1.1 or 2.0, 2 only 2.0 (protocol_version_incorrect otherwise).",
    ),
    both(
        OptionId::OpenIdStrength,
        "AuthRsOpenIDStrength",
        "openid_strength",
        ValueKind::Enum(&["below-password", "password", "between", "cert"]),
        DefaultValue::Value("between"),
        "below-password|password|between|cert",
        "OpenID: where an OpenID login ranks for Require authn-method: below password, equal to password, between password and cert, or equal to cert.",
    ),
    both(
        OptionId::OpenIdAllowedProviders,
        "AuthRsOpenIDAllowedProviders",
        "openid_allowed_providers",
        ValueKind::List(&ValueKind::Str),
        DefaultValue::Unset("any provider the identifier's discovery names"),
        "https://op/endpoint [url …]",
        "OpenID: the only provider endpoint URLs logins may use and assertions may come from (server_not_allowed otherwise).",
    ),
    server(apache(
        OptionId::OpenIdMaxConcurrentFetches,
        "AuthRsOpenIDMaxConcurrentFetches",
        ValueKind::Integer { min: 1, max: 100_000 },
        DefaultValue::Derived("a quarter of an httpd process's threads (ThreadsPerChild), at least 1"),
        "1..100000",
        "OpenID: the most login steps (a start, or a return that must ask the provider) one httpd process may have waiting on providers at once; more are answered 503 with Retry-After (AUTHRS0105), so identity pages that answer slowly cannot tie up every worker. Main server configuration only. No effect under prefork (one request per process).",
    )),
    both(
        OptionId::OpenIdNonceCheck,
        "AuthRsOpenIDNonceCheck",
        "openid_nonce_check",
        ValueKind::Bool,
        DefaultValue::Value("On"),
        "On|Off",
        "OpenID: check response_nonce for replay (in the AuthRsCache socache) and age; Off is the seed's nocheck.",
    ),
    both(
        OptionId::OpenIdNonceIgnoreTime,
        "AuthRsOpenIDNonceIgnoreTime",
        "openid_nonce_ignore_time",
        ValueKind::Bool,
        DefaultValue::Value("Off"),
        "On|Off",
        "OpenID: check nonces for reuse only, never their timestamp (the seed's ignoretime).",
    ),
    both(
        OptionId::OpenIdNonceLifetime,
        "AuthRsOpenIDNonceLifetime",
        "openid_nonce_lifetime",
        ValueKind::Duration,
        DefaultValue::Derived("the window"),
        "duration",
        "OpenID: how long a seen nonce is remembered (the seed's lifetime); never shorter than the nonce window still accepts it, so a replay is always recognized.",
    ),
    both(
        OptionId::OpenIdNonceWindow,
        "AuthRsOpenIDNonceWindow",
        "openid_nonce_window",
        ValueKind::Duration,
        DefaultValue::Derived("the lifetime when set, else 1200 s plus twice the skew (1800 s)"),
        "duration",
        "OpenID: nonces older than this (minus skew) are nonce_stale; 0 means no limit (the seed's window).",
    ),
    both(
        OptionId::OpenIdNonceSkew,
        "AuthRsOpenIDNonceSkew",
        "openid_nonce_skew",
        ValueKind::Duration,
        DefaultValue::Derived("300 s, or half the window when the window is shorter than 600 s"),
        "duration",
        "OpenID: how far a provider's clock may be ahead of ours (the seed's skew).",
    ),
    both(
        OptionId::OpenIdNonceStart,
        "AuthRsOpenIDNonceStart",
        "openid_nonce_start",
        ValueKind::Integer { min: 0, max: 253_402_300_799 },
        DefaultValue::Unset("no start time"),
        "unix-time",
        "OpenID: nonces from before this Unix time (minus skew) are nonce_stale (the seed's start).",
    ),
    both(
        OptionId::OpenIdNonceTimecop,
        "AuthRsOpenIDNonceTimecop",
        "openid_nonce_timecop",
        ValueKind::Bool,
        DefaultValue::Value("Off"),
        "On|Off",
        "OpenID: refuse nonces more than the skew in the future (nonce_future; the seed's timecop).",
    ),
    both(
        OptionId::OpenIdAssocType,
        "AuthRsOpenIDAssocType",
        "openid_assoc_type",
        ValueKind::Enum(&["HMAC-SHA1", "HMAC-SHA256"]),
        DefaultValue::Value("HMAC-SHA1"),
        "HMAC-SHA1|HMAC-SHA256",
        "OpenID: association type requested from providers (the seed's assoc_options assoc_type).",
    ),
    both(
        OptionId::OpenIdAssocSessionType,
        "AuthRsOpenIDAssocSessionType",
        "openid_assoc_session_type",
        ValueKind::Enum(&["DH-SHA1", "DH-SHA256", "no-encryption"]),
        DefaultValue::Value("DH-SHA1"),
        "DH-SHA1|DH-SHA256|no-encryption",
        "OpenID: association session type (no-encryption only over https).",
    ),
    both(
        OptionId::OpenIdAssocMaxEncrypt,
        "AuthRsOpenIDAssocMaxEncrypt",
        "openid_assoc_max_encrypt",
        ValueKind::Bool,
        DefaultValue::Value("Off"),
        "On|Off",
        "OpenID: use the strongest session and association types of the provider's protocol version.",
    ),
    both(
        OptionId::OpenIdAssocNoEncryptHttps,
        "AuthRsOpenIDAssocNoEncryptHttps",
        "openid_assoc_no_encrypt_https",
        ValueKind::Bool,
        DefaultValue::Value("Off"),
        "On|Off",
        "OpenID: use a no-encryption session when the provider endpoint is https (the seed's session_no_encrypt_https).",
    ),
    both(
        OptionId::OpenIdAssocAllowEavesdropping,
        "AuthRsOpenIDAssocAllowEavesdropping",
        "openid_assoc_allow_eavesdropping",
        ValueKind::Bool,
        DefaultValue::Value("Off"),
        "On|Off",
        "OpenID 1.x only: allow an unencrypted association over plain http (the seed's allow_eavesdropping).",
    ),
    both(
        OptionId::OpenIdAllowPrivateAddresses,
        "AuthRsOpenIDAllowPrivateAddresses",
        "openid_allow_private_addresses",
        ValueKind::Bool,
        DefaultValue::Value("Off"),
        "On|Off",
        "OpenID: allow discovery and provider fetches to loopback, private and link-local addresses (tests, intranets); with AuthRsOpenIDAllowedProviders only at those providers' origins (scheme, host, port; an https provider's host over http too), without it anywhere (the Envoy filter, which sees names, not addresses, refuses private IP literals and localhost only) — any visitor could then aim the server's fetches at its internal network. Not in .htaccess: a directory owner must not aim the server's fetches at its internal network.",
    ),
    envoy(
        OptionId::AuthName,
        "auth_name",
        ValueKind::Str,
        DefaultValue::Unset("cookie named `AuthRs`"),
        "\"realm\"",
        "The realm, Envoy's stand-in for httpd's AuthName (names the default cookie).",
    ),
    OptionSpec {
        secret: true,
        ..server(envoy(
            OptionId::TicketKeys,
            "ticket_keys",
            ValueKind::List(&ValueKind::Str),
            DefaultValue::Unset(NO_KEYS),
            "[\"<key>\", …]",
            "Inline ticket keys, as in AuthRsTicketKeyFile: the first signs, all verify.",
        ))
    },
    envoy(
        OptionId::Crls,
        "crls",
        ValueKind::Text,
        DefaultValue::Unset("no revocation check beyond the TLS layer's"),
        "\"<PEM>\"",
        "Inline PEM CRLs (what AuthRsCRLFile holds).",
    ),
    envoy(
        OptionId::EnrolledCerts,
        "enrolled_certs",
        ValueKind::Text,
        DefaultValue::Unset("no enrolled certificates"),
        "\"<text>\"",
        "Inline enrolled certificates (what AuthRsEnrolledCertsFile holds).",
    ),
    envoy(
        OptionId::Roles,
        "roles",
        ValueKind::Text,
        DefaultValue::Unset("nobody holds a role"),
        "\"<text>\"",
        "Inline roles (what AuthRsRolesFile holds).",
    ),
    envoy(
        OptionId::CertUserMap,
        "cert_user_map",
        ValueKind::Text,
        DefaultValue::Unset("no map; `cert_user` alone names the user"),
        "\"<text>\"",
        "Inline certificate-to-user map (what AuthRsCertUserMap holds).",
    ),
    OptionSpec {
        secret: true,
        ..envoy(
            OptionId::Users,
            "users",
            ValueKind::Text,
            DefaultValue::Unset("no password users"),
            "\"user:hash\\n…\" or [\"user:hash\", …]",
            "Inline htpasswd lines checked by the login form (Envoy's AuthUserFile).",
        )
    },
    envoy(
        OptionId::Groups,
        "groups",
        ValueKind::Json,
        DefaultValue::Unset("no groups"),
        "{\"group\": [\"user\", …]}",
        "Inline groups for Require group (Envoy's AuthGroupFile). A location's groups replace the top level's, and a require naming a group they do not define is refused at load (under `not` it would pass everyone).",
    ),
    server(envoy(
        OptionId::Locations,
        "locations",
        ValueKind::Json,
        DefaultValue::Unset("no path is protected (the top-level settings apply to every path; AUTHRS0003 warns)"),
        "[{\"prefix\": \"/x\", \"require\": {\"valid_user\": true}, …}, …]",
        "Per-path settings and Require rules (Envoy's `<Location>` blocks), the first match wins: each has exactly one of `prefix`, `exact` or `regex` (matching the whole normalized path), a `require` tree (`{\"all_granted\": true}` for a public path), and any per-location options.",
    )),
    server(envoy(
        OptionId::LoginPath,
        "login_path",
        ValueKind::UrlPath,
        DefaultValue::Unset("the filter accepts no login form posts"),
        "/path",
        "Path where the filter receives login form posts.",
    )),
    server(envoy(
        OptionId::LogoutPath,
        "logout_path",
        ValueKind::UrlPath,
        DefaultValue::Unset("the filter serves no logout"),
        "/path",
        "Path where the filter logs the user out.",
    )),
    envoy(
        OptionId::PasswordCheck,
        "password_check",
        ValueKind::Json,
        DefaultValue::Unset("passwords are checked against `users`"),
        "{…}",
        "How the filter checks login passwords (Envoy's AuthRsProvider).",
    ),
    server(envoy(
        OptionId::OpenIdClusters,
        "openid_clusters",
        ValueKind::Json,
        DefaultValue::Unset("required when methods list openid: the filter can fetch nothing"),
        "[{\"cluster\": \"name\", \"url_prefix\": \"https://op.example/\"}, …]",
        "OpenID: the Envoy clusters the filter's discovery, association and check_authentication requests go to. The first entry whose `url_prefix` (scheme, then optionally host, port and path prefix) matches the URL is used; a URL no entry matches is not fetched. `{\"cluster\": \"dfp\", \"url_prefix\": \"https://\"}` sends every https URL to a dynamic forward proxy cluster. Optional per entry: `timeout` (seconds, at most 60; default 10).",
    )),
    server(envoy(
        OptionId::TrustedCas,
        "trusted_cas",
        ValueKind::Text,
        DefaultValue::Unset("no chain is verified by the filter; under ACCEPT_UNTRUSTED only enrolled certificates pass"),
        "\"<PEM>\"",
        "Inline PEM CA certificates. Under `trust_chain_verification` ACCEPT_UNTRUSTED, a client certificate whose chain (XFCC `Chain=`) the filter verifies up to one of them counts as CA-verified.",
    )),
    server(envoy(
        OptionId::TrustChainVerification,
        "trust_chain_verification",
        ValueKind::Enum(TRUST_CHAIN_VERIFICATION_VALUES),
        DefaultValue::Value("VERIFY_TRUST_CHAIN"),
        "VERIFY_TRUST_CHAIN|ACCEPT_UNTRUSTED",
        "Tells the filter what the listener's `trust_chain_verification` is (Envoy does not expose it). Under ACCEPT_UNTRUSTED only enrolled (pinned) certificates, or certificates verified against `trusted_cas`, are accepted.",
    )),
];

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::collections::HashSet;

    use super::super::settings::Settings;
    use super::super::spec::{by_id, snake_case, Shell};
    use super::*;

    /// A value each kind accepts, so every option can be written in a test.
    pub(crate) fn sample(spec: &OptionSpec) -> &'static str {
        if matches!(
            spec.id,
            OptionId::OpenIdRequiredRoot | OptionId::OpenIdAllowedProviders | OptionId::OpenIdRealm
        ) {
            return "https://rp.example/openid/";
        }
        match spec.kind {
            ValueKind::Bool => "On",
            ValueKind::Duration => "30m",
            ValueKind::DurationOrOff => "Off",
            ValueKind::Integer { .. } => "3",
            ValueKind::Fraction => "0.25",
            ValueKind::Str => "word",
            ValueKind::Path => "/etc/authrs/file",
            ValueKind::UrlPath => "/here",
            ValueKind::Url => "/login",
            ValueKind::Host => "app.example.org",
            ValueKind::CookieName => "Sess",
            ValueKind::Socache => "shmcb",
            ValueKind::List(ValueKind::Path) => "/etc/authrs/key",
            ValueKind::List(ValueKind::Host) => "app.example.org",
            ValueKind::List(_) => "word",
            ValueKind::Enum(values) => values[0],
            ValueKind::CidrList => "10.0.0.0/8",
            ValueKind::SameSite => "Strict",
            ValueKind::CertUser => "dn",
            ValueKind::Methods => "ticket",
            ValueKind::UnauthAction => "403",
            ValueKind::Text => "line one",
            ValueKind::Json => "{\"a\": 1}",
        }
    }

    #[test]
    fn every_option_is_documented() {
        for o in OPTIONS {
            let name = o.name_in(Shell::Apache);
            assert!(o.help.len() > 10, "{name}: help");
            assert!(o.help.ends_with('.'), "{name}: help is a sentence");
            assert!(!o.syntax.is_empty(), "{name}: syntax");
            let default = match o.default {
                DefaultValue::Unset(t) | DefaultValue::Derived(t) | DefaultValue::Value(t) => t,
            };
            assert!(!default.is_empty(), "{name}: default");
            assert!(o.directive.is_some() || o.json.is_some(), "{name}: no name");
        }
    }

    #[test]
    fn names_follow_the_conventions() {
        for o in OPTIONS {
            if let Some(d) = o.directive {
                let rest = d
                    .strip_prefix("AuthRs")
                    .unwrap_or_else(|| panic!("{d}: prefix"));
                assert!(rest.chars().all(|c| c.is_ascii_alphanumeric()), "{d}");
                if let Some(j) = o.json {
                    assert_eq!(j, snake_case(rest), "{d}: JSON key is its snake_case");
                }
            }
            if let Some(j) = o.json {
                assert!(
                    j.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "{j}"
                );
            }
            let expected_shells = match (o.directive, o.json) {
                (Some(_), Some(_)) => Shells::Both,
                (Some(_), None) => Shells::Apache,
                _ => Shells::Envoy,
            };
            assert_eq!(o.shells, expected_shells, "{}", o.name_in(Shell::Apache));
        }
    }

    #[test]
    fn names_and_ids_are_unique() {
        let mut directives = HashSet::new();
        let mut keys = HashSet::new();
        let mut ids = HashSet::new();
        for o in OPTIONS {
            if let Some(d) = o.directive {
                assert!(directives.insert(d.to_ascii_lowercase()), "duplicate {d}");
            }
            if let Some(j) = o.json {
                assert!(keys.insert(j), "duplicate {j}");
            }
            assert!(ids.insert(o.id), "duplicate {:?}", o.id);
            assert_eq!(
                by_id(o.id).map(|s| s.name_in(Shell::Apache)),
                Some(o.name_in(Shell::Apache))
            );
        }
    }

    #[test]
    fn every_id_has_an_entry() {
        // OptionId has 68 variants and ids are unique (above), so 68 entries cover them all.
        assert_eq!(OPTIONS.len(), 68);
    }

    #[test]
    fn merge_rules_match_scopes() {
        for o in OPTIONS {
            let name = o.name_in(Shell::Apache);
            assert_eq!(
                o.scope == Scope::Server,
                o.merge == Merge::ServerOnly,
                "{name}"
            );
            if o.merge == Merge::Append {
                assert!(o.kind.is_list() && o.repeatable, "{name}");
            }
            if o.repeatable {
                assert!(
                    o.kind.is_list(),
                    "{name}: repeatable values accumulate in a list"
                );
            }
        }
    }

    #[test]
    fn secrets_are_marked() {
        let secret: Vec<&str> = OPTIONS
            .iter()
            .filter(|o| o.secret)
            .map(|o| o.name_in(Shell::Envoy))
            .collect();
        assert_eq!(secret, ["openid_consumer_secret", "ticket_keys", "users"]);
    }

    /// Every getter's answer, so two scopes can be compared on what they mean rather than on
    /// which fields are written.
    fn effective(s: &Settings) -> Vec<String> {
        vec![
            format!("{:?}", s.methods()),
            format!("{:?}", s.ticket_key_files()),
            format!("{:?}", s.ticket_keys()),
            s.cookie_name(None),
            format!("{:?}", s.cookie_domain()),
            s.cookie_path().to_string(),
            format!("{}", s.cookie_secure()),
            format!("{}", s.cookie_http_only()),
            format!("{:?}", s.same_site()),
            format!("{}", s.cookie_persistent()),
            format!("{}", s.ticket_lifetime()),
            format!("{:?}", s.session_timeout()),
            format!("{:?}", s.max_ticket_age()),
            format!("{}", s.refresh_fraction()),
            format!("{}", s.bind_address()),
            format!("{}", s.accept_unbound_tickets()),
            format!("{:?}", s.login_url()),
            format!("{:?}", s.unauth_action()),
            format!("{:?}", s.providers()),
            s.default_destination().to_string(),
            format!("{:?}", s.allowed_destinations()),
            format!("{}", s.recognize_user()),
            format!("{:?}", s.cert_user()),
            format!("{:?}", s.cert_user_map_file()),
            format!("{}", s.cert_require()),
            format!("{:?}", s.crl_file()),
            format!("{:?}", s.enrolled_certs_file()),
            format!("{}", s.enrolled_certs_max()),
            format!("{:?}", s.trusted_proxies()),
            s.trusted_proxy_headers().to_string(),
            format!("{:?}", s.roles_file()),
            s.cache().to_string(),
            format!("{:?}", s.openid_max_concurrent_fetches()),
            format!("{}", s.revoke_on_logout()),
            format!("{:?}", s.auth_name()),
            format!("{:?}", s.crls()),
            format!("{:?}", s.enrolled_certs()),
            format!("{:?}", s.roles()),
            format!("{:?}", s.cert_user_map()),
            format!("{:?}", s.users().map(super::super::kinds::Secret::expose)),
            format!("{:?}", s.login_path()),
            format!("{:?}", s.logout_path()),
            format!("{:?}", s.trusted_cas()),
            format!("{:?}", s.trust_chain_verification()),
            format!("{:?}", s.openid_required_root()),
            format!("{:?}", s.openid_realm()),
            format!("{:?}", s.openid_consumer_secret_file()),
            format!(
                "{:?}",
                s.openid_consumer_secret()
                    .map(super::super::kinds::Secret::expose)
            ),
            format!("{:?}", s.openid_minimum_version()),
            format!("{:?}", s.openid_strength()),
            format!("{:?}", s.openid_allowed_providers()),
            format!("{:?}", s.openid_nonce_options()),
            format!("{:?}", s.openid_assoc_options()),
            format!("{}", s.openid_allow_private_addresses()),
            format!("{:?}", s.extra()),
        ]
    }

    /// Writes `value` (split on spaces, as httpd splits arguments) to the option, by directive or JSON key.
    fn written(spec: &OptionSpec, value: &str) -> Settings {
        let args: Vec<&str> = value.split(' ').collect();
        match spec.directive {
            Some(d) => {
                let mut s = Settings::new();
                s.set(d, &args).unwrap_or_else(|e| panic!("{e}"));
                s
            }
            None => {
                let key = spec.json.unwrap_or_default();
                let doc = serde_json::json!({ key: value });
                Settings::from_json(&doc).unwrap_or_else(|e| panic!("{key}: {e}"))
            }
        }
    }

    #[test]
    fn documented_defaults_are_what_the_getters_answer() {
        use DefaultValue;
        let unset = effective(&Settings::new());
        let mut checked = 0;
        for o in OPTIONS {
            if let DefaultValue::Value(v) = o.default {
                let name = o.name_in(Shell::Apache);
                assert_eq!(
                    effective(&written(o, v)),
                    unset,
                    "{name}: documented default {v}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 34);
    }

    #[test]
    fn every_on_off_option_reads_back_what_was_written() {
        for o in OPTIONS.iter().filter(|o| o.kind == ValueKind::Bool) {
            let name = o.name_in(Shell::Apache);
            let (on, off) = match o.directive {
                Some(_) => (written(o, "On"), written(o, "Off")),
                None => unreachable!("{name}: every On/Off option has a directive"),
            };
            assert_ne!(effective(&on), effective(&off), "{name}: On and Off differ");
            let unset = effective(&Settings::new());
            assert!(
                effective(&on) == unset || effective(&off) == unset,
                "{name}: one of On/Off is the default"
            );
        }
    }

    #[test]
    fn every_option_written_changes_what_the_getters_answer() {
        let unset = effective(&Settings::new());
        for o in OPTIONS {
            let name = o.name_in(Shell::Apache);
            let mut values = vec![sample(o)];
            match o.kind {
                ValueKind::Bool => values.push("Off"),
                ValueKind::DurationOrOff => values.push("30m"),
                ValueKind::Socache => values.push("shmcb:/run/authrs(512000)"),
                ValueKind::Enum(allowed) => values.extend(allowed.get(1)),
                _ => {}
            }
            let changed = values.iter().any(|v| {
                let s = match o.kind {
                    ValueKind::Json => Settings::from_json_str(&format!("{{\"{name}\": {v}}}"))
                        .unwrap_or_else(|e| panic!("{e}")),
                    _ => written(o, v),
                };
                effective(&s) != unset
            });
            assert!(changed, "{name}: no getter shows the written value");
        }
    }

    /// A second value for a list option, different from [`sample`], so two writes can be told apart.
    fn other_sample(spec: &OptionSpec) -> &'static str {
        if spec.id == OptionId::OpenIdAllowedProviders {
            return "https://op.example/openid/";
        }
        match spec.kind {
            ValueKind::List(ValueKind::Path) => "/etc/authrs/other",
            ValueKind::List(ValueKind::Host) => "other.example.org",
            ValueKind::List(_) => "other",
            ValueKind::CidrList => "192.0.2.0/24",
            ValueKind::Methods => "cert",
            _ => unreachable!("{:?}: not a list", spec.id),
        }
    }

    #[test]
    fn repeating_a_directive_accumulates_exactly_where_the_table_says_repeatable() {
        let mut repeatable = 0;
        for o in OPTIONS.iter().filter(|o| o.kind.is_list()) {
            let Some(d) = o.directive else { continue };
            let mut once = Settings::new();
            once.set(d, &[other_sample(o)])
                .unwrap_or_else(|e| panic!("{e}"));
            let mut twice = Settings::new();
            twice.set(d, &[sample(o)]).unwrap_or_else(|e| panic!("{e}"));
            twice
                .set(d, &[other_sample(o)])
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                effective(&twice) != effective(&once),
                o.repeatable,
                "{d}: a second line adds to the first exactly when repeatable"
            );
            repeatable += usize::from(o.repeatable);
        }
        assert_eq!(repeatable, 3);
    }

    #[test]
    fn settings_merge_follows_the_merge_rule_of_every_list_option() {
        let mut appending = 0;
        for o in OPTIONS.iter().filter(|o| o.kind.is_list()) {
            let name = o.name_in(Shell::Apache);
            let parent = written(o, sample(o));
            let child = written(o, other_sample(o));
            let merged = Settings::merge(&parent, &child);
            let append = o.merge == Merge::Append;
            assert_eq!(
                effective(&merged) != effective(&child),
                append,
                "{name}: the outer list survives an inner one exactly when the rule is Append"
            );
            appending += usize::from(append);
        }
        assert_eq!(appending, 1);
    }

    #[test]
    fn every_option_accepts_its_sample_and_reports_set() {
        for o in OPTIONS {
            let mut s = Settings::new();
            let name = o.name_in(Shell::Apache);
            assert!(!s.is_set(o.id), "{name}");
            match o.directive {
                Some(d) => s.set(d, &[sample(o)]).unwrap_or_else(|e| panic!("{e}")),
                None => {
                    let json = match o.kind {
                        ValueKind::Json => sample(o).to_string(),
                        _ => serde_json::Value::from(sample(o)).to_string(),
                    };
                    let doc = format!("{{\"{name}\": {json}}}");
                    s = Settings::from_json_str(&doc).unwrap_or_else(|e| panic!("{e}"));
                }
            }
            assert!(s.is_set(o.id), "{name}");
            let merged = Settings::merge(&s, &Settings::new());
            assert!(merged.is_set(o.id), "{name}: parent value survives merge");
            let merged = Settings::merge(&Settings::new(), &s);
            assert!(merged.is_set(o.id), "{name}: child value survives merge");
            assert_eq!(merged, s, "{name}");
        }
    }
}
