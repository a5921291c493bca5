//! The typed configuration: every option unset until written, merged by rule, defaulted when read.
//!
//! Following mod_auth_openidc, a `<Location>` that sets nothing inherits
//! everything: values stay `None` through [`Settings::merge`] and the
//! getters apply the documented defaults.

use std::collections::BTreeMap;

use crate::cookies::SameSite;
use ipnet::IpNet;

use super::kinds::{CertUser, Method, Secret, TrustChainVerification, UnauthAction};
use super::spec::OptionId;
use super::value::is_token_byte;
use crate::identity::OpenIdStrength;
use crate::openid::assoc::{AssocOptions, AssocType, SessionType};
use crate::openid::nonce::NonceOptions;
use crate::openid::Version;

/// Default absolute ticket lifetime: 8 hours.
pub const DEFAULT_TICKET_LIFETIME: i64 = 8 * 3_600;
/// Default re-issue point as a fraction of the idle timeout.
pub const DEFAULT_REFRESH_FRACTION: f64 = 0.5;
/// Default most enrolled certificates per user.
pub const DEFAULT_ENROLLED_CERTS_MAX: u32 = 5;

/// One configuration scope (server, location, or Envoy plugin/location); `None` fields are unset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    pub(super) methods: Option<Vec<Method>>,
    pub(super) ticket_key_files: Option<Vec<String>>,
    pub(super) cookie_name: Option<String>,
    pub(super) cookie_domain: Option<String>,
    pub(super) cookie_path: Option<String>,
    pub(super) cookie_secure: Option<bool>,
    pub(super) cookie_http_only: Option<bool>,
    pub(super) cookie_same_site: Option<SameSite>,
    pub(super) cookie_persistent: Option<bool>,
    pub(super) ticket_lifetime: Option<i64>,
    pub(super) session_timeout: Option<i64>,
    pub(super) max_ticket_age: Option<i64>,
    pub(super) refresh_fraction: Option<f64>,
    pub(super) bind_address: Option<bool>,
    pub(super) accept_unbound: Option<bool>,
    pub(super) login_url: Option<String>,
    pub(super) unauth_action: Option<UnauthAction>,
    pub(super) providers: Option<Vec<String>>,
    pub(super) default_destination: Option<String>,
    pub(super) allowed_destinations: Option<Vec<String>>,
    pub(super) recognize_user: Option<bool>,
    pub(super) cert_user: Option<CertUser>,
    pub(super) cert_user_map_file: Option<String>,
    pub(super) cert_require: Option<bool>,
    pub(super) crl_file: Option<String>,
    pub(super) enrolled_certs_file: Option<String>,
    pub(super) enrolled_certs_max: Option<u32>,
    pub(super) trusted_proxies: Option<Vec<IpNet>>,
    pub(super) trusted_proxy_headers: Option<String>,
    pub(super) roles_file: Option<String>,
    pub(super) cache: Option<String>,
    pub(super) openid_max_concurrent_fetches: Option<u32>,
    pub(super) revoke_on_logout: Option<bool>,
    pub(super) auth_name: Option<String>,
    pub(super) ticket_keys: Option<Vec<Secret>>,
    pub(super) crls: Option<String>,
    pub(super) enrolled_certs: Option<String>,
    pub(super) roles: Option<String>,
    pub(super) cert_user_map: Option<String>,
    pub(super) users: Option<Secret>,
    pub(super) login_path: Option<String>,
    pub(super) logout_path: Option<String>,
    pub(super) trusted_cas: Option<String>,
    pub(super) trust_chain_verification: Option<TrustChainVerification>,
    pub(super) openid_required_root: Option<String>,
    pub(super) openid_realm: Option<String>,
    pub(super) openid_consumer_secret_file: Option<String>,
    pub(super) openid_consumer_secret: Option<Secret>,
    pub(super) openid_minimum_version: Option<u8>,
    pub(super) openid_strength: Option<OpenIdStrength>,
    pub(super) openid_allowed_providers: Option<Vec<String>>,
    pub(super) openid_nonce_check: Option<bool>,
    pub(super) openid_nonce_ignore_time: Option<bool>,
    pub(super) openid_nonce_lifetime: Option<i64>,
    pub(super) openid_nonce_window: Option<i64>,
    pub(super) openid_nonce_skew: Option<i64>,
    pub(super) openid_nonce_start: Option<i64>,
    pub(super) openid_nonce_timecop: Option<bool>,
    pub(super) openid_assoc_type: Option<AssocType>,
    pub(super) openid_assoc_session_type: Option<SessionType>,
    pub(super) openid_assoc_max_encrypt: Option<bool>,
    pub(super) openid_assoc_no_encrypt_https: Option<bool>,
    pub(super) openid_assoc_allow_eavesdropping: Option<bool>,
    pub(super) openid_allow_private_addresses: Option<bool>,
    /// Envoy-only structured keys (`groups`, `locations`, `password_check`), kept as JSON for the filter.
    pub(super) extra: BTreeMap<String, serde_json::Value>,
}

/// The inner value when set, else the outer one.
fn pick<T: Clone>(parent: &Option<T>, child: &Option<T>) -> Option<T> {
    child.as_ref().or(parent.as_ref()).cloned()
}

/// The outer list followed by the inner one's new entries (for [`super::Merge::Append`]).
fn append<T: Clone + PartialEq>(parent: &Option<Vec<T>>, child: &Option<Vec<T>>) -> Option<Vec<T>> {
    match (parent, child) {
        (Some(p), Some(c)) => {
            let mut all = p.clone();
            all.extend(c.iter().filter(|x| !p.contains(x)).cloned());
            Some(all)
        }
        _ => pick(parent, child),
    }
}

impl Settings {
    /// An empty scope: every option unset.
    pub fn new() -> Self {
        Settings::default()
    }

    /// Combines an outer scope with an inner one: set inner values win, appending lists accumulate.
    pub fn merge(parent: &Settings, child: &Settings) -> Settings {
        let mut extra = parent.extra.clone();
        extra.extend(child.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        Settings {
            methods: pick(&parent.methods, &child.methods),
            ticket_key_files: pick(&parent.ticket_key_files, &child.ticket_key_files),
            cookie_name: pick(&parent.cookie_name, &child.cookie_name),
            cookie_domain: pick(&parent.cookie_domain, &child.cookie_domain),
            cookie_path: pick(&parent.cookie_path, &child.cookie_path),
            cookie_secure: pick(&parent.cookie_secure, &child.cookie_secure),
            cookie_http_only: pick(&parent.cookie_http_only, &child.cookie_http_only),
            cookie_same_site: pick(&parent.cookie_same_site, &child.cookie_same_site),
            cookie_persistent: pick(&parent.cookie_persistent, &child.cookie_persistent),
            ticket_lifetime: pick(&parent.ticket_lifetime, &child.ticket_lifetime),
            session_timeout: pick(&parent.session_timeout, &child.session_timeout),
            max_ticket_age: pick(&parent.max_ticket_age, &child.max_ticket_age),
            refresh_fraction: pick(&parent.refresh_fraction, &child.refresh_fraction),
            bind_address: pick(&parent.bind_address, &child.bind_address),
            accept_unbound: pick(&parent.accept_unbound, &child.accept_unbound),
            login_url: pick(&parent.login_url, &child.login_url),
            unauth_action: pick(&parent.unauth_action, &child.unauth_action),
            providers: pick(&parent.providers, &child.providers),
            default_destination: pick(&parent.default_destination, &child.default_destination),
            allowed_destinations: append(&parent.allowed_destinations, &child.allowed_destinations),
            recognize_user: pick(&parent.recognize_user, &child.recognize_user),
            cert_user: pick(&parent.cert_user, &child.cert_user),
            cert_user_map_file: pick(&parent.cert_user_map_file, &child.cert_user_map_file),
            cert_require: pick(&parent.cert_require, &child.cert_require),
            crl_file: pick(&parent.crl_file, &child.crl_file),
            enrolled_certs_file: pick(&parent.enrolled_certs_file, &child.enrolled_certs_file),
            enrolled_certs_max: pick(&parent.enrolled_certs_max, &child.enrolled_certs_max),
            trusted_proxies: pick(&parent.trusted_proxies, &child.trusted_proxies),
            trusted_proxy_headers: pick(
                &parent.trusted_proxy_headers,
                &child.trusted_proxy_headers,
            ),
            roles_file: pick(&parent.roles_file, &child.roles_file),
            cache: pick(&parent.cache, &child.cache),
            openid_max_concurrent_fetches: pick(
                &parent.openid_max_concurrent_fetches,
                &child.openid_max_concurrent_fetches,
            ),
            revoke_on_logout: pick(&parent.revoke_on_logout, &child.revoke_on_logout),
            auth_name: pick(&parent.auth_name, &child.auth_name),
            ticket_keys: pick(&parent.ticket_keys, &child.ticket_keys),
            crls: pick(&parent.crls, &child.crls),
            enrolled_certs: pick(&parent.enrolled_certs, &child.enrolled_certs),
            roles: pick(&parent.roles, &child.roles),
            cert_user_map: pick(&parent.cert_user_map, &child.cert_user_map),
            users: pick(&parent.users, &child.users),
            login_path: pick(&parent.login_path, &child.login_path),
            logout_path: pick(&parent.logout_path, &child.logout_path),
            trusted_cas: pick(&parent.trusted_cas, &child.trusted_cas),
            trust_chain_verification: pick(
                &parent.trust_chain_verification,
                &child.trust_chain_verification,
            ),
            openid_required_root: pick(&parent.openid_required_root, &child.openid_required_root),
            openid_realm: pick(&parent.openid_realm, &child.openid_realm),
            openid_consumer_secret_file: pick(
                &parent.openid_consumer_secret_file,
                &child.openid_consumer_secret_file,
            ),
            openid_consumer_secret: pick(
                &parent.openid_consumer_secret,
                &child.openid_consumer_secret,
            ),
            openid_minimum_version: pick(
                &parent.openid_minimum_version,
                &child.openid_minimum_version,
            ),
            openid_strength: pick(&parent.openid_strength, &child.openid_strength),
            openid_allowed_providers: pick(
                &parent.openid_allowed_providers,
                &child.openid_allowed_providers,
            ),
            openid_nonce_check: pick(&parent.openid_nonce_check, &child.openid_nonce_check),
            openid_nonce_ignore_time: pick(
                &parent.openid_nonce_ignore_time,
                &child.openid_nonce_ignore_time,
            ),
            openid_nonce_lifetime: pick(
                &parent.openid_nonce_lifetime,
                &child.openid_nonce_lifetime,
            ),
            openid_nonce_window: pick(&parent.openid_nonce_window, &child.openid_nonce_window),
            openid_nonce_skew: pick(&parent.openid_nonce_skew, &child.openid_nonce_skew),
            openid_nonce_start: pick(&parent.openid_nonce_start, &child.openid_nonce_start),
            openid_nonce_timecop: pick(&parent.openid_nonce_timecop, &child.openid_nonce_timecop),
            openid_assoc_type: pick(&parent.openid_assoc_type, &child.openid_assoc_type),
            openid_assoc_session_type: pick(
                &parent.openid_assoc_session_type,
                &child.openid_assoc_session_type,
            ),
            openid_assoc_max_encrypt: pick(
                &parent.openid_assoc_max_encrypt,
                &child.openid_assoc_max_encrypt,
            ),
            openid_assoc_no_encrypt_https: pick(
                &parent.openid_assoc_no_encrypt_https,
                &child.openid_assoc_no_encrypt_https,
            ),
            openid_assoc_allow_eavesdropping: pick(
                &parent.openid_assoc_allow_eavesdropping,
                &child.openid_assoc_allow_eavesdropping,
            ),
            openid_allow_private_addresses: pick(
                &parent.openid_allow_private_addresses,
                &child.openid_allow_private_addresses,
            ),
            extra,
        }
    }

    /// Whether the option was written in this scope (or inherited through a merge).
    pub fn is_set(&self, id: OptionId) -> bool {
        match id {
            OptionId::Methods => self.methods.is_some(),
            OptionId::TicketKeyFile => self.ticket_key_files.is_some(),
            OptionId::CookieName => self.cookie_name.is_some(),
            OptionId::CookieDomain => self.cookie_domain.is_some(),
            OptionId::CookiePath => self.cookie_path.is_some(),
            OptionId::CookieSecure => self.cookie_secure.is_some(),
            OptionId::CookieHttpOnly => self.cookie_http_only.is_some(),
            OptionId::CookieSameSite => self.cookie_same_site.is_some(),
            OptionId::CookiePersistent => self.cookie_persistent.is_some(),
            OptionId::TicketLifetime => self.ticket_lifetime.is_some(),
            OptionId::SessionTimeout => self.session_timeout.is_some(),
            OptionId::MaxTicketAge => self.max_ticket_age.is_some(),
            OptionId::RefreshFraction => self.refresh_fraction.is_some(),
            OptionId::BindAddress => self.bind_address.is_some(),
            OptionId::AcceptUnboundTickets => self.accept_unbound.is_some(),
            OptionId::LoginUrl => self.login_url.is_some(),
            OptionId::UnauthAction => self.unauth_action.is_some(),
            OptionId::Provider => self.providers.is_some(),
            OptionId::DefaultDestination => self.default_destination.is_some(),
            OptionId::AllowedDestinations => self.allowed_destinations.is_some(),
            OptionId::RecognizeUser => self.recognize_user.is_some(),
            OptionId::CertUser => self.cert_user.is_some(),
            OptionId::CertUserMapFile => self.cert_user_map_file.is_some(),
            OptionId::CertRequire => self.cert_require.is_some(),
            OptionId::CrlFile => self.crl_file.is_some(),
            OptionId::EnrolledCertsFile => self.enrolled_certs_file.is_some(),
            OptionId::EnrolledCertsMax => self.enrolled_certs_max.is_some(),
            OptionId::TrustedProxies => self.trusted_proxies.is_some(),
            OptionId::TrustedProxyHeaders => self.trusted_proxy_headers.is_some(),
            OptionId::RolesFile => self.roles_file.is_some(),
            OptionId::Cache => self.cache.is_some(),
            OptionId::OpenIdMaxConcurrentFetches => self.openid_max_concurrent_fetches.is_some(),
            OptionId::RevokeOnLogout => self.revoke_on_logout.is_some(),
            OptionId::AuthName => self.auth_name.is_some(),
            OptionId::TicketKeys => self.ticket_keys.is_some(),
            OptionId::Crls => self.crls.is_some(),
            OptionId::EnrolledCerts => self.enrolled_certs.is_some(),
            OptionId::Roles => self.roles.is_some(),
            OptionId::CertUserMap => self.cert_user_map.is_some(),
            OptionId::Users => self.users.is_some(),
            OptionId::Groups => self.extra.contains_key("groups"),
            OptionId::Locations => self.extra.contains_key("locations"),
            OptionId::LoginPath => self.login_path.is_some(),
            OptionId::LogoutPath => self.logout_path.is_some(),
            OptionId::PasswordCheck => self.extra.contains_key("password_check"),
            OptionId::OpenIdClusters => self.extra.contains_key("openid_clusters"),
            OptionId::TrustedCas => self.trusted_cas.is_some(),
            OptionId::TrustChainVerification => self.trust_chain_verification.is_some(),
            OptionId::OpenIdRequiredRoot => self.openid_required_root.is_some(),
            OptionId::OpenIdRealm => self.openid_realm.is_some(),
            OptionId::OpenIdConsumerSecretFile => self.openid_consumer_secret_file.is_some(),
            OptionId::OpenIdConsumerSecret => self.openid_consumer_secret.is_some(),
            OptionId::OpenIdMinimumVersion => self.openid_minimum_version.is_some(),
            OptionId::OpenIdStrength => self.openid_strength.is_some(),
            OptionId::OpenIdAllowedProviders => self.openid_allowed_providers.is_some(),
            OptionId::OpenIdNonceCheck => self.openid_nonce_check.is_some(),
            OptionId::OpenIdNonceIgnoreTime => self.openid_nonce_ignore_time.is_some(),
            OptionId::OpenIdNonceLifetime => self.openid_nonce_lifetime.is_some(),
            OptionId::OpenIdNonceWindow => self.openid_nonce_window.is_some(),
            OptionId::OpenIdNonceSkew => self.openid_nonce_skew.is_some(),
            OptionId::OpenIdNonceStart => self.openid_nonce_start.is_some(),
            OptionId::OpenIdNonceTimecop => self.openid_nonce_timecop.is_some(),
            OptionId::OpenIdAssocType => self.openid_assoc_type.is_some(),
            OptionId::OpenIdAssocSessionType => self.openid_assoc_session_type.is_some(),
            OptionId::OpenIdAssocMaxEncrypt => self.openid_assoc_max_encrypt.is_some(),
            OptionId::OpenIdAssocNoEncryptHttps => self.openid_assoc_no_encrypt_https.is_some(),
            OptionId::OpenIdAssocAllowEavesdropping => {
                self.openid_assoc_allow_eavesdropping.is_some()
            }
            OptionId::OpenIdAllowPrivateAddresses => self.openid_allow_private_addresses.is_some(),
        }
    }

    /// Methods to try, in order (default `cert ticket`).
    pub fn methods(&self) -> Vec<Method> {
        self.methods.clone().unwrap_or_else(|| Method::ALL.to_vec())
    }

    /// Ticket key files, signing key first (Apache; empty when unset).
    pub fn ticket_key_files(&self) -> &[String] {
        self.ticket_key_files.as_deref().unwrap_or_default()
    }

    /// Inline ticket keys, signing key first (Envoy; empty when unset).
    pub fn ticket_keys(&self) -> &[Secret] {
        self.ticket_keys.as_deref().unwrap_or_default()
    }

    /// The cookie name: as set, else `AuthRs_<AuthName>` (from `auth_name`, else the `auth_name` option), else `AuthRs`.
    pub fn cookie_name(&self, auth_name: Option<&str>) -> String {
        if let Some(name) = &self.cookie_name {
            return name.clone();
        }
        match auth_name.or(self.auth_name.as_deref()) {
            Some(realm) if !realm.is_empty() => {
                let safe: String = realm
                    .bytes()
                    .map(|b| {
                        if is_token_byte(b) && b != b'%' {
                            char::from(b)
                        } else {
                            '_'
                        }
                    })
                    .collect();
                format!("AuthRs_{safe}")
            }
            _ => "AuthRs".to_string(),
        }
    }

    /// The cookie's Domain attribute, if any.
    pub fn cookie_domain(&self) -> Option<&str> {
        self.cookie_domain.as_deref()
    }

    /// The cookie's Path attribute (default `/`).
    pub fn cookie_path(&self) -> &str {
        self.cookie_path.as_deref().unwrap_or("/")
    }

    /// Whether the cookie is marked Secure (default on).
    pub fn cookie_secure(&self) -> bool {
        self.cookie_secure.unwrap_or(true)
    }

    /// Whether the cookie is marked HttpOnly (default on).
    pub fn cookie_http_only(&self) -> bool {
        self.cookie_http_only.unwrap_or(true)
    }

    /// The cookie's SameSite attribute (default Lax).
    pub fn same_site(&self) -> SameSite {
        self.cookie_same_site.unwrap_or(SameSite::Lax)
    }

    /// Whether the cookie outlives the browser session (default off).
    pub fn cookie_persistent(&self) -> bool {
        self.cookie_persistent.unwrap_or(false)
    }

    /// Absolute ticket lifetime in seconds (default 8h).
    pub fn ticket_lifetime(&self) -> i64 {
        self.ticket_lifetime.unwrap_or(DEFAULT_TICKET_LIFETIME)
    }

    /// Idle timeout in seconds, `None` when off (the default) or 0.
    pub fn session_timeout(&self) -> Option<i64> {
        self.session_timeout.filter(|t| *t > 0)
    }

    /// How long ago a ticket may have been issued to pass here, `None` when off (the default) or 0.
    pub fn max_ticket_age(&self) -> Option<i64> {
        self.max_ticket_age.filter(|t| *t > 0)
    }

    /// Fraction of the idle timeout after which a used ticket is re-issued (default 0.5).
    pub fn refresh_fraction(&self) -> f64 {
        self.refresh_fraction.unwrap_or(DEFAULT_REFRESH_FRACTION)
    }

    /// Whether tickets are bound to the client address (default off).
    pub fn bind_address(&self) -> bool {
        self.bind_address.unwrap_or(false)
    }

    /// Whether unbound (version-1) tickets, valid under any cookie name, are accepted (default on).
    pub fn accept_unbound_tickets(&self) -> bool {
        self.accept_unbound.unwrap_or(true)
    }

    /// The login page, if any.
    pub fn login_url(&self) -> Option<&str> {
        self.login_url.as_deref()
    }

    /// What to answer unauthenticated requests (default auto).
    pub fn unauth_action(&self) -> UnauthAction {
        self.unauth_action.unwrap_or(UnauthAction::Auto)
    }

    /// httpd authn providers for login passwords, in order (default `file`).
    pub fn providers(&self) -> Vec<&str> {
        match &self.providers {
            Some(p) => p.iter().map(String::as_str).collect(),
            None => vec!["file"],
        }
    }

    /// Where a login without an acceptable destination goes (default `/`).
    pub fn default_destination(&self) -> &str {
        self.default_destination.as_deref().unwrap_or("/")
    }

    /// Other hosts a login destination may name, normalised to lower case (default none).
    pub fn allowed_destinations(&self) -> &[String] {
        self.allowed_destinations.as_deref().unwrap_or_default()
    }

    /// Whether pages without Require still recognise a logged-in user (default off).
    pub fn recognize_user(&self) -> bool {
        self.recognize_user.unwrap_or(false)
    }

    /// Which certificate field names the user (default `cn`).
    pub fn cert_user(&self) -> CertUser {
        self.cert_user.clone().unwrap_or(CertUser::Cn)
    }

    /// The certificate-to-user map file (Apache), if any.
    pub fn cert_user_map_file(&self) -> Option<&str> {
        self.cert_user_map_file.as_deref()
    }

    /// Whether a client certificate is required: no fallback to the next method (default off).
    pub fn cert_require(&self) -> bool {
        self.cert_require.unwrap_or(false)
    }

    /// The CRL file (Apache), if any.
    pub fn crl_file(&self) -> Option<&str> {
        self.crl_file.as_deref()
    }

    /// The enrolled-certificates file (Apache), if any.
    pub fn enrolled_certs_file(&self) -> Option<&str> {
        self.enrolled_certs_file.as_deref()
    }

    /// Most certificates one user may enrol (default 5).
    pub fn enrolled_certs_max(&self) -> u32 {
        self.enrolled_certs_max
            .unwrap_or(DEFAULT_ENROLLED_CERTS_MAX)
    }

    /// Proxies allowed to assert certificate headers (default none).
    pub fn trusted_proxies(&self) -> &[IpNet] {
        self.trusted_proxies.as_deref().unwrap_or_default()
    }

    /// The header family trusted proxies assert: `ssl` (default) or `xfcc`.
    pub fn trusted_proxy_headers(&self) -> &str {
        self.trusted_proxy_headers.as_deref().unwrap_or("ssl")
    }

    /// The roles file (Apache), if any.
    pub fn roles_file(&self) -> Option<&str> {
        self.roles_file.as_deref()
    }

    /// The socache provider spec (default `shmcb`).
    pub fn cache(&self) -> &str {
        self.cache.as_deref().unwrap_or("shmcb")
    }

    /// The most OpenID login steps one httpd process may have fetching at once, if set (else the
    /// module derives it from the threads per process).
    pub fn openid_max_concurrent_fetches(&self) -> Option<u32> {
        self.openid_max_concurrent_fetches
    }

    /// Whether logout revokes the ticket in the cache (default off).
    pub fn revoke_on_logout(&self) -> bool {
        self.revoke_on_logout.unwrap_or(false)
    }

    /// The Envoy realm (`auth_name`), if set.
    pub fn auth_name(&self) -> Option<&str> {
        self.auth_name.as_deref()
    }

    /// Inline PEM CRLs (Envoy), if any.
    pub fn crls(&self) -> Option<&str> {
        self.crls.as_deref()
    }

    /// Inline enrolled certificates (Envoy), if any.
    pub fn enrolled_certs(&self) -> Option<&str> {
        self.enrolled_certs.as_deref()
    }

    /// Inline roles text (Envoy), if any.
    pub fn roles(&self) -> Option<&str> {
        self.roles.as_deref()
    }

    /// Inline certificate-to-user map (Envoy), if any.
    pub fn cert_user_map(&self) -> Option<&str> {
        self.cert_user_map.as_deref()
    }

    /// Inline htpasswd lines (Envoy), if any.
    pub fn users(&self) -> Option<&Secret> {
        self.users.as_ref()
    }

    /// Path of the filter's login form endpoint (Envoy), if any.
    pub fn login_path(&self) -> Option<&str> {
        self.login_path.as_deref()
    }

    /// Path of the filter's logout endpoint (Envoy), if any.
    pub fn logout_path(&self) -> Option<&str> {
        self.logout_path.as_deref()
    }

    /// Inline PEM CA certificates (Envoy), if any.
    pub fn trusted_cas(&self) -> Option<&str> {
        self.trusted_cas.as_deref()
    }

    /// The Envoy listener's `trust_chain_verification` (default `VERIFY_TRUST_CHAIN`).
    pub fn trust_chain_verification(&self) -> TrustChainVerification {
        self.trust_chain_verification.unwrap_or_default()
    }

    /// OpenID: the required_root, if set (validated when stored).
    pub fn openid_required_root(&self) -> Option<&str> {
        self.openid_required_root.as_deref()
    }

    /// OpenID: the realm, if set (validated when stored; default derived by the relying party).
    pub fn openid_realm(&self) -> Option<&str> {
        self.openid_realm.as_deref()
    }

    /// OpenID: the consumer secret file (Apache), if any.
    pub fn openid_consumer_secret_file(&self) -> Option<&str> {
        self.openid_consumer_secret_file.as_deref()
    }

    /// OpenID: the inline consumer secret (Envoy), if any.
    pub fn openid_consumer_secret(&self) -> Option<&Secret> {
        self.openid_consumer_secret.as_ref()
    }

    /// OpenID: the minimum protocol version (default 1: 1.1 and 2.0).
    pub fn openid_minimum_version(&self) -> Version {
        match self.openid_minimum_version {
            Some(2) => Version::V2,
            _ => Version::V1,
        }
    }

    /// OpenID: where an OpenID login ranks for `Require authn-method` (default: between).
    pub fn openid_strength(&self) -> OpenIdStrength {
        self.openid_strength.unwrap_or_default()
    }

    /// OpenID: the allowed provider endpoints (default none: any).
    pub fn openid_allowed_providers(&self) -> &[String] {
        self.openid_allowed_providers.as_deref().unwrap_or_default()
    }

    /// OpenID: the seed's `nonce_options` as configured (unset ones take the seed's defaults).
    pub fn openid_nonce_options(&self) -> NonceOptions {
        NonceOptions {
            nocheck: !self.openid_nonce_check.unwrap_or(true),
            ignoretime: self.openid_nonce_ignore_time.unwrap_or(false),
            lifetime: self.openid_nonce_lifetime,
            skew: self.openid_nonce_skew,
            start: self.openid_nonce_start,
            window: self.openid_nonce_window,
            timecop: self.openid_nonce_timecop.unwrap_or(false),
        }
    }

    /// OpenID: the seed's `assoc_options` (defaults HMAC-SHA1 over DH-SHA1, all flags off).
    pub fn openid_assoc_options(&self) -> AssocOptions {
        let d = AssocOptions::default();
        AssocOptions {
            assoc_type: self.openid_assoc_type.unwrap_or(d.assoc_type),
            session_type: self.openid_assoc_session_type.unwrap_or(d.session_type),
            max_encrypt: self.openid_assoc_max_encrypt.unwrap_or(false),
            session_no_encrypt_https: self.openid_assoc_no_encrypt_https.unwrap_or(false),
            allow_eavesdropping: self.openid_assoc_allow_eavesdropping.unwrap_or(false),
        }
    }

    /// OpenID: whether fetches may go to private addresses (default off).
    pub fn openid_allow_private_addresses(&self) -> bool {
        self.openid_allow_private_addresses.unwrap_or(false)
    }

    /// The Envoy-only structured keys (`groups`, `locations`, `password_check`) as written.
    pub fn extra(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.extra
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_read() {
        let s = Settings::new();
        assert_eq!(s.methods(), vec![Method::Cert, Method::Ticket]);
        assert_eq!(s.cookie_path(), "/");
        assert!(s.cookie_secure() && s.cookie_http_only() && !s.cookie_persistent());
        assert_eq!(s.same_site(), SameSite::Lax);
        assert_eq!(s.ticket_lifetime(), 28_800);
        assert_eq!(s.session_timeout(), None);
        assert_eq!(s.refresh_fraction(), 0.5);
        assert_eq!(s.unauth_action(), UnauthAction::Auto);
        assert_eq!(s.providers(), vec!["file"]);
        assert_eq!(s.default_destination(), "/");
        assert_eq!(s.cert_user(), CertUser::Cn);
        assert!(!s.cert_require());
        assert_eq!(s.enrolled_certs_max(), 5);
        assert_eq!(s.cache(), "shmcb");
        assert!(s.trusted_proxies().is_empty() && s.ticket_keys().is_empty());
        assert!(s.login_url().is_none() && s.cookie_domain().is_none());
        assert_eq!(
            s.trust_chain_verification(),
            TrustChainVerification::VerifyTrustChain
        );
    }

    #[test]
    fn cookie_name_derives_from_auth_name() {
        let s = Settings::new();
        assert_eq!(s.cookie_name(Some("Staff")), "AuthRs_Staff");
        assert_eq!(
            s.cookie_name(Some("Staff Area;x=1")),
            "AuthRs_Staff_Area_x_1"
        );
        assert_eq!(s.cookie_name(Some("Zoë")), "AuthRs_Zo__");
        assert_eq!(s.cookie_name(None), "AuthRs");
        assert_eq!(s.cookie_name(Some("")), "AuthRs");
        let mut s = Settings::new();
        s.auth_name = Some("Envoy".into());
        assert_eq!(s.cookie_name(None), "AuthRs_Envoy");
        s.cookie_name = Some("Mine".into());
        assert_eq!(s.cookie_name(Some("Staff")), "Mine");
    }

    #[test]
    fn security_relevant_defaults() {
        let s = Settings::new();
        assert!(!s.bind_address());
        assert!(s.accept_unbound_tickets());
        assert!(!s.recognize_user());
        assert!(!s.revoke_on_logout());
        assert_eq!(s.trusted_proxy_headers(), "ssl");
        assert!(s.allowed_destinations().is_empty() && s.ticket_key_files().is_empty());
        assert!(!s.openid_allow_private_addresses());
        assert_eq!(s.openid_minimum_version(), Version::V1);
        assert_eq!(s.openid_strength(), OpenIdStrength::Between);
        assert!(s.openid_allowed_providers().is_empty());
        assert_eq!(s.openid_nonce_options(), NonceOptions::default());
        assert_eq!(s.openid_assoc_options(), AssocOptions::default());
        for getter in [
            Settings::cert_user_map_file,
            Settings::crl_file,
            Settings::enrolled_certs_file,
            Settings::roles_file,
            Settings::auth_name,
            Settings::crls,
            Settings::enrolled_certs,
            Settings::roles,
            Settings::cert_user_map,
            Settings::login_path,
            Settings::logout_path,
            Settings::trusted_cas,
            Settings::openid_required_root,
            Settings::openid_realm,
            Settings::openid_consumer_secret_file,
        ] {
            assert_eq!(getter(&s), None);
        }
        assert!(s.users().is_none() && s.openid_consumer_secret().is_none());
        assert!(s.extra().is_empty());
    }

    #[test]
    fn written_values_are_read_back() {
        let mut s = Settings::new();
        for (d, v) in [
            ("AuthRsOpenIDMinimumVersion", "2"),
            ("AuthRsOpenIDNonceCheck", "Off"),
            ("AuthRsOpenIDNonceIgnoreTime", "On"),
            ("AuthRsOpenIDNonceLifetime", "1h"),
            ("AuthRsOpenIDNonceWindow", "10m"),
            ("AuthRsOpenIDNonceSkew", "1m"),
            ("AuthRsOpenIDNonceStart", "1700000000"),
            ("AuthRsOpenIDNonceTimecop", "On"),
            ("AuthRsOpenIDAssocType", "HMAC-SHA256"),
            ("AuthRsOpenIDAssocSessionType", "no-encryption"),
            ("AuthRsOpenIDAssocMaxEncrypt", "On"),
            ("AuthRsOpenIDAssocNoEncryptHttps", "On"),
            ("AuthRsOpenIDAssocAllowEavesdropping", "On"),
            ("AuthRsCRLFile", "/etc/crl.pem"),
            ("AuthRsTrustedProxyHeaders", "xfcc"),
            ("AuthRsCache", "memcache:127.0.0.1:11211"),
        ] {
            s.set(d, &[v]).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(s.openid_minimum_version(), Version::V2);
        assert_eq!(
            s.openid_nonce_options(),
            NonceOptions {
                nocheck: true,
                ignoretime: true,
                lifetime: Some(3600),
                skew: Some(60),
                start: Some(1_700_000_000),
                window: Some(600),
                timecop: true,
            }
        );
        assert_eq!(
            s.openid_assoc_options(),
            AssocOptions {
                assoc_type: AssocType::HmacSha256,
                session_type: SessionType::NoEncryption,
                max_encrypt: true,
                session_no_encrypt_https: true,
                allow_eavesdropping: true,
            }
        );
        assert_eq!(s.crl_file(), Some("/etc/crl.pem"));
        assert_eq!(s.trusted_proxy_headers(), "xfcc");
        assert_eq!(s.cache(), "memcache:127.0.0.1:11211");
        s.set("AuthRsOpenIDMinimumVersion", &["1"]).unwrap();
        assert_eq!(s.openid_minimum_version(), Version::V1);
    }

    #[test]
    fn cookie_name_from_a_realm_never_carries_a_percent() {
        let s = Settings::from_json_str(r#"{"auth_name": "Staff"}"#).unwrap();
        assert_eq!(s.auth_name(), Some("Staff"));
        assert_eq!(s.cookie_name(None), "AuthRs_Staff");
        // `%` is a token byte, but some frameworks percent-decode cookie names.
        assert_eq!(Settings::new().cookie_name(Some("50%off")), "AuthRs_50_off");
        assert_eq!(
            Settings::new().cookie_name(Some("a.b-c~!")),
            "AuthRs_a.b-c~!"
        );
    }

    #[test]
    fn zero_session_timeout_means_none() {
        let s = Settings {
            session_timeout: Some(0),
            ..Settings::new()
        };
        assert_eq!(s.session_timeout(), None);
    }
}
