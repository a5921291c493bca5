//! The per-location policy the engine decides with: everything parsed at load time.

use crate::authz::RequireTree;
use crate::cert::chain::TrustAnchors;
use crate::cert::crl::CrlSet;
use crate::cert::enrolled::EnrolledCerts;
use crate::cert::map::{UserMap, UserRule};
pub use crate::config::{Method, UnauthAction};
use crate::cookies::CookieSettings;
use crate::identity::OpenIdStrength;
use crate::login::DestinationPolicy;
use crate::proxy::TrustedProxies;
use crate::roles::{GroupFile, RolesFile};
use crate::ticket::KeyRing;

/// Everything a protected location needs to decide, parsed once when the configuration loads.
#[derive(Debug)]
pub struct Policy {
    /// Methods tried in order (default: cert, then ticket).
    pub methods: Vec<Method>,
    /// Ticket keys: the first signs, all verify. `None` disables tickets.
    pub keys: Option<KeyRing>,
    /// How the ticket cookie is named and flagged.
    pub cookie: CookieSettings,
    /// Absolute ticket lifetime in seconds.
    pub ticket_lifetime: i64,
    /// `AuthRsMaxTicketAge`: a ticket issued longer ago is refused here (`expired`, cookie
    /// kept), however long its login location made it last.
    pub max_ticket_age: Option<i64>,
    /// Idle timeout in seconds (sliding expiry), if any.
    pub session_timeout: Option<i64>,
    /// A ticket older than this fraction of the idle timeout is re-issued.
    pub refresh_fraction: f64,
    /// Bind tickets to the client address they were issued to.
    pub bind_address: bool,
    /// Accept unbound (version-1) tickets, valid under any cookie name.
    pub accept_unbound_tickets: bool,
    /// The login page; `None` answers 401 instead of redirecting.
    pub login_url: Option<String>,
    /// What unauthenticated clients get.
    pub unauth_action: UnauthAction,
    /// Where an OpenID login ranks for `Require authn-method` (`AuthRsOpenIDStrength`).
    pub openid_strength: OpenIdStrength,
    /// Where login may send the browser afterwards.
    pub destinations: DestinationPolicy,
    /// How a certificate becomes a user name.
    pub cert_user: UserRule,
    /// Exact DN → user overrides, consulted first.
    pub cert_user_map: Option<UserMap>,
    /// `true`: a missing or untrusted certificate is final; `false`: fall through to the next method.
    pub cert_required: bool,
    /// Revocation lists (issuer + serial).
    pub crls: Option<CrlSet>,
    /// User-enrolled (pinned) certificates, accepted without a CA.
    pub enrolled: Option<EnrolledCerts>,
    /// CAs (`trusted_cas`) against which the engine verifies the chain of a certificate the TLS
    /// layer let through unverified ([`crate::request::CertVerify::Generous`]).
    pub trusted_cas: Option<TrustAnchors>,
    /// Peers whose TLS-fact headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// Roles with scopes per user.
    pub roles: Option<RolesFile>,
    /// Group membership per user.
    pub groups: Option<GroupFile>,
    /// The Require rules; `None` means any authenticated user (`Require valid-user`).
    pub require: Option<RequireTree>,
    /// Render certificate DNs as mod_ssl's `SSL_CLIENT_S_DN` does (UTF-8 left raw) rather than
    /// OpenSSL's and Envoy's RFC 2253 form (UTF-8 as `\XX`); the Apache shell turns it on.
    pub mod_ssl_dn: bool,
    /// The OpenID relying party, when `AuthRsMethods` lists `openid` (with its consumer secret).
    pub openid: Option<crate::openid::RelyingParty>,
}

impl Policy {
    /// A policy with the documented defaults: methods `cert ticket`, 8 h tickets, no idle timeout,
    /// no login URL, certificates mapped by CN, no proxies trusted, any authenticated user allowed.
    pub fn new(cookie: CookieSettings, keys: Option<KeyRing>) -> Policy {
        Policy {
            methods: vec![Method::Cert, Method::Ticket],
            keys,
            cookie,
            ticket_lifetime: 8 * 3600,
            max_ticket_age: None,
            session_timeout: None,
            refresh_fraction: 0.5,
            bind_address: false,
            accept_unbound_tickets: true,
            login_url: None,
            unauth_action: UnauthAction::Auto,
            openid_strength: OpenIdStrength::Between,
            destinations: DestinationPolicy {
                default_destination: "/".to_string(),
                allowed_hosts: Vec::new(),
            },
            cert_user: UserRule::Cn,
            cert_user_map: None,
            cert_required: false,
            crls: None,
            enrolled: None,
            trusted_cas: None,
            trusted_proxies: TrustedProxies::default(),
            roles: None,
            groups: None,
            require: None,
            mod_ssl_dn: false,
            openid: None,
        }
    }
}
