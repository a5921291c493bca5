//! Building a [`Policy`] from [`Settings`]: the one place where option values become objects.
//!
//! Both shells call this: httpd with a reader for the `…File` directives, Envoy with the
//! inline JSON values. The core itself never opens a file: `read` is the shell's.

use super::policy::Policy;
use crate::cert::chain::TrustAnchors;
use crate::cert::crl::CrlSet;
use crate::cert::enrolled::EnrolledCerts;
use crate::cert::map::UserMap;
use crate::config::{by_id, ConfigError, ConfigErrorKind, OptionId, Settings, Shell};
use crate::cookies::CookieSettings;
use crate::login::DestinationPolicy;
use crate::openid::signed_time::{ConsumerSecret, MIN_CONFIGURED_SECRET_BYTES};
use crate::openid::RelyingParty;
use crate::proxy::TrustedProxies;
use crate::roles::RolesFile;
use crate::ticket::{KeyRing, TicketKey};

/// Reads a file named in the configuration; the error is a sentence for the operator.
pub type FileReader<'a> = dyn FnMut(&str) -> Result<Vec<u8>, String> + 'a;

fn bad(id: OptionId, shell: Shell, value: &str, why: impl std::fmt::Display) -> ConfigError {
    let name = by_id(id).map_or("", |o| o.name_in(shell));
    ConfigError::new(
        ConfigErrorKind::BadValue,
        name,
        value,
        why.to_string(),
        false,
    )
}

fn text(id: OptionId, shell: Shell, path: &str, bytes: Vec<u8>) -> Result<String, ConfigError> {
    String::from_utf8(bytes).map_err(|_| bad(id, shell, path, "the file is not UTF-8"))
}

impl Policy {
    /// Builds the policy of one (merged) scope. `auth_name` is httpd's AuthName (for the default
    /// cookie name); `read` loads the files the options name. Every failure names its option.
    pub fn from_settings(
        s: &Settings,
        shell: Shell,
        auth_name: Option<&str>,
        read: &mut FileReader<'_>,
    ) -> Result<Policy, ConfigError> {
        s.check(shell)?;
        let mut keys = Vec::new();
        for path in s.ticket_key_files() {
            let bytes = read(path).map_err(|e| bad(OptionId::TicketKeyFile, shell, path, e))?;
            let t = text(OptionId::TicketKeyFile, shell, path, bytes)?;
            keys.push(
                TicketKey::from_base64(t.trim())
                    .map_err(|e| bad(OptionId::TicketKeyFile, shell, path, e))?,
            );
        }
        for secret in s.ticket_keys() {
            keys.push(TicketKey::from_base64(secret.expose().trim()).map_err(|e| {
                ConfigError::new(
                    ConfigErrorKind::BadValue,
                    "ticket_keys",
                    crate::config::REDACTED,
                    e.to_string(),
                    true,
                )
            })?);
        }
        let keys = if keys.is_empty() {
            None
        } else {
            Some(KeyRing::new(keys).map_err(|e| bad(OptionId::TicketKeyFile, shell, "", e))?)
        };
        let cookie = CookieSettings {
            name: s.cookie_name(auth_name),
            domain: s.cookie_domain().map(str::to_string),
            path: s.cookie_path().to_string(),
            secure: s.cookie_secure(),
            http_only: s.cookie_http_only(),
            same_site: s.same_site(),
            persistent: s.cookie_persistent(),
        };
        cookie
            .validate()
            .map_err(|e| bad(OptionId::CookieName, shell, &cookie.name, e))?;

        let mut p = Policy::new(cookie, keys);
        p.methods = s.methods();
        p.ticket_lifetime = s.ticket_lifetime();
        p.max_ticket_age = s.max_ticket_age();
        p.session_timeout = s.session_timeout();
        p.refresh_fraction = s.refresh_fraction();
        p.bind_address = s.bind_address();
        p.accept_unbound_tickets = s.accept_unbound_tickets();
        p.login_url = s.login_url().map(str::to_string);
        p.unauth_action = s.unauth_action();
        p.openid_strength = s.openid_strength();
        p.destinations = DestinationPolicy {
            default_destination: s.default_destination().to_string(),
            allowed_hosts: s.allowed_destinations().to_vec(),
        };
        p.cert_user = s.cert_user();
        p.cert_required = s.cert_require();
        let family = s.trusted_proxy_headers().parse().map_err(|e| {
            bad(
                OptionId::TrustedProxyHeaders,
                shell,
                s.trusted_proxy_headers(),
                e,
            )
        })?;
        p.trusted_proxies =
            TrustedProxies::from_nets(s.trusted_proxies().to_vec()).with_headers(family);
        p.mod_ssl_dn = shell == Shell::Apache;

        // Errors name the option the data came from: the file directive, or the inline key.
        let mut load = |id: OptionId,
                        file: Option<&str>,
                        inline: Option<&str>|
         -> Result<Option<(String, String, OptionId)>, ConfigError> {
            match (file, inline) {
                (Some(path), _) => {
                    let bytes = read(path).map_err(|e| bad(id, shell, path, e))?;
                    Ok(Some((path.to_string(), text(id, shell, path, bytes)?, id)))
                }
                (None, Some(inline)) => Ok(Some((
                    "(inline)".to_string(),
                    inline.to_string(),
                    inline_twin(id),
                ))),
                (None, None) => Ok(None),
            }
        };
        if let Some((src, t, id)) = load(
            OptionId::CertUserMapFile,
            s.cert_user_map_file(),
            s.cert_user_map(),
        )? {
            p.cert_user_map = Some(UserMap::parse(&t).map_err(|e| bad(id, shell, &src, e))?);
        }
        if let Some((src, t, id)) = load(OptionId::CrlFile, s.crl_file(), s.crls())? {
            p.crls = Some(CrlSet::parse(t.as_bytes()).map_err(|e| bad(id, shell, &src, e))?);
        }
        if let Some((src, t, id)) = load(
            OptionId::EnrolledCertsFile,
            s.enrolled_certs_file(),
            s.enrolled_certs(),
        )? {
            let enrolled = EnrolledCerts::parse(&t).map_err(|e| bad(id, shell, &src, e))?;
            // The per-user limit holds for what is on file too, not only for new enrolments.
            let max = s.enrolled_certs_max() as usize;
            let mut counts = std::collections::BTreeMap::new();
            for e in enrolled.entries() {
                *counts.entry(e.user.as_str()).or_insert(0usize) += 1;
            }
            if let Some((user, n)) = counts.into_iter().find(|(_, n)| *n > max) {
                let why = format!(
                    "{src}: {user:?} has {n} enrolled certificates, more than the limit of {max}"
                );
                return Err(bad(
                    OptionId::EnrolledCertsMax,
                    shell,
                    &max.to_string(),
                    why,
                ));
            }
            p.enrolled = Some(enrolled);
        }
        if let Some(pem) = s.trusted_cas() {
            p.trusted_cas = Some(
                TrustAnchors::parse(pem.as_bytes())
                    .map_err(|e| bad(OptionId::TrustedCas, shell, "(inline)", e))?,
            );
        }
        if let Some((src, t, id)) = load(OptionId::RolesFile, s.roles_file(), s.roles())? {
            p.roles = Some(RolesFile::parse(&t).map_err(|e| bad(id, shell, &src, e))?);
        }
        if p.methods.contains(&crate::config::Method::OpenId) {
            p.openid = Some(relying_party(s, shell, read)?);
        }
        Ok(p)
    }
}

/// The OpenID relying party of a scope whose methods list `openid`: the consumer secret (file or
/// inline, required), required_root, realm, minimum version, allow-list, nonce and association options.
fn relying_party(
    s: &Settings,
    shell: Shell,
    read: &mut FileReader<'_>,
) -> Result<RelyingParty, ConfigError> {
    let (id, secret) = match (s.openid_consumer_secret_file(), s.openid_consumer_secret()) {
        (Some(path), _) => {
            let bytes =
                read(path).map_err(|e| bad(OptionId::OpenIdConsumerSecretFile, shell, path, e))?;
            (OptionId::OpenIdConsumerSecretFile, bytes)
        }
        (None, Some(inline)) => (
            OptionId::OpenIdConsumerSecret,
            inline.expose().as_bytes().to_vec(),
        ),
        (None, None) => {
            let secret_option = match shell {
                Shell::Apache => OptionId::OpenIdConsumerSecretFile,
                Shell::Envoy => OptionId::OpenIdConsumerSecret,
            };
            let name = by_id(secret_option).map_or("", |o| o.name_in(shell));
            return Err(ConfigError::new(
                ConfigErrorKind::Conflict,
                by_id(OptionId::Methods).map_or("", |o| o.name_in(shell)),
                "openid",
                format!("needs {name} (the consumer secret that signs return_to)"),
                false,
            ));
        }
    };
    let trimmed = secret.strip_suffix(b"\n").unwrap_or(&secret);
    let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
    let refuse = |why: String| {
        ConfigError::new(
            ConfigErrorKind::BadValue,
            by_id(id).map_or("", |o| o.name_in(shell)),
            crate::config::REDACTED,
            why,
            true,
        )
    };
    if trimmed.len() < MIN_CONFIGURED_SECRET_BYTES {
        return Err(refuse(format!(
            "the consumer secret is {} bytes; at least {MIN_CONFIGURED_SECRET_BYTES} random bytes are needed (`authrs keygen` writes 32)",
            trimmed.len()
        )));
    }
    let secret = ConsumerSecret::new(trimmed).map_err(|e| refuse(e.to_string()))?;
    let mut rp = RelyingParty::new(secret);
    if let Some(root) = s.openid_required_root() {
        rp = rp
            .with_required_root(root)
            .map_err(|e| bad(OptionId::OpenIdRequiredRoot, shell, root, e))?;
    }
    if let Some(realm) = s.openid_realm() {
        rp = rp
            .with_realm(realm)
            .map_err(|e| bad(OptionId::OpenIdRealm, shell, realm, e))?;
    }
    if rp.required_root.is_none() && rp.realm.is_none() {
        // The site's own URL must come from the configuration: the request's Host is the
        // client's to choose, and a return_to only compared with it would accept a login the
        // provider made for another site (which claims this site's paths under its own host).
        let root = by_id(OptionId::OpenIdRequiredRoot).map_or("", |o| o.name_in(shell));
        let realm = by_id(OptionId::OpenIdRealm).map_or("", |o| o.name_in(shell));
        return Err(ConfigError::new(
            ConfigErrorKind::Conflict,
            by_id(OptionId::Methods).map_or("", |o| o.name_in(shell)),
            "openid",
            format!(
                "needs {root} or {realm} (this site's own URL: without it a login made for \
                 another site could be replayed here under its Host)"
            ),
            false,
        ));
    }
    if let (None, Some(realm)) = (&rp.required_root, &rp.realm) {
        if realm.is_wildcard() {
            // `*.` names every host under the domain: with nothing else saying which one this
            // site is, the return's own Host would be believed, and a login a provider made for
            // another host under the realm (another relying party) would be replayed here.
            let root = by_id(OptionId::OpenIdRequiredRoot).map_or("", |o| o.name_in(shell));
            return Err(ConfigError::new(
                ConfigErrorKind::Conflict,
                by_id(OptionId::OpenIdRealm).map_or("", |o| o.name_in(shell)),
                realm.as_str(),
                format!(
                    "a wildcard realm does not say which host this site is: set {root} too (else \
                     a login made for another host under the realm could be replayed here)"
                ),
                false,
            ));
        }
    }
    rp = rp
        .with_allowed_providers(s.openid_allowed_providers().iter().map(String::as_str))
        .map_err(|e| bad(OptionId::OpenIdAllowedProviders, shell, "", e))?;
    rp.minimum_version = s.openid_minimum_version();
    rp.nonce = s.openid_nonce_options().resolve();
    rp.assoc = s.openid_assoc_options();
    rp.fetch.allow_private_addresses = s.openid_allow_private_addresses();
    Ok(rp)
}

/// The Envoy key holding inline what a file directive names (errors then name the key used).
fn inline_twin(file: OptionId) -> OptionId {
    match file {
        OptionId::CertUserMapFile => OptionId::CertUserMap,
        OptionId::CrlFile => OptionId::Crls,
        OptionId::EnrolledCertsFile => OptionId::EnrolledCerts,
        OptionId::RolesFile => OptionId::Roles,
        other => other,
    }
}
