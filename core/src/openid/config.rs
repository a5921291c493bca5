//! The relying party's configuration: the seed's constructor options, checked once.

use super::assoc::AssocOptions;
use super::discovery::{Discovery, DiscoveryStep};
use super::http::FetchLimits;
use super::message::Version;
use super::nonce::NoncePolicy;
use super::return_to::{BadRoot, Realm, RequiredRoot};
use super::signed_time::ConsumerSecret;
use url::Url;

/// One relying party: `consumer_secret`, `required_root`, `minimum_version`,
/// `nonce_options`, `assoc_options`, plus the allow-list of providers and fetch limits.
#[derive(Debug, Clone)]
pub struct RelyingParty {
    /// Signs and checks `oic.time` in return_to.
    pub consumer_secret: ConsumerSecret,
    /// Prefix every return_to must start with (`bogus_return_to` otherwise).
    pub required_root: Option<RequiredRoot>,
    /// The realm (`openid.realm` / `openid.trust_root`) sent with every login; see [`RelyingParty::realm_for`].
    pub realm: Option<Realm>,
    /// 1 (default: 1.1 and 2.0) or 2 (2.0 only).
    pub minimum_version: Version,
    /// response_nonce checks, defaults applied.
    pub nonce: NoncePolicy,
    /// How associations are made.
    pub assoc: AssocOptions,
    /// When non-empty, the only OP endpoints accepted (`server_not_allowed` otherwise).
    pub allowed_providers: Vec<Url>,
    /// Limits every described fetch carries.
    pub fetch: FetchLimits,
    /// Whether return_to's `oic.time` must be fresh and signed by `consumer_secret` (the
    /// seed's check). Always on in the shells; only `authrs openid verify` run without a
    /// secret file turns it off, and its output says so.
    pub check_signed_time: bool,
}

impl RelyingParty {
    /// A relying party with the seed's defaults and this secret.
    pub fn new(consumer_secret: ConsumerSecret) -> RelyingParty {
        RelyingParty {
            consumer_secret,
            required_root: None,
            realm: None,
            minimum_version: Version::V1,
            nonce: NoncePolicy::default(),
            assoc: AssocOptions::default(),
            allowed_providers: Vec::new(),
            fetch: FetchLimits::default(),
            check_signed_time: true,
        }
    }

    /// Sets `required_root` (validated: an http(s) URL with a path).
    pub fn with_required_root(mut self, root: &str) -> Result<RelyingParty, BadRoot> {
        self.required_root = Some(RequiredRoot::parse(root)?);
        self.check_realm()?;
        Ok(self)
    }

    /// Sets the realm (validated; it must contain `required_root` when both are set).
    pub fn with_realm(mut self, realm: &str) -> Result<RelyingParty, BadRoot> {
        self.realm = Some(Realm::parse(realm)?);
        self.check_realm()?;
        Ok(self)
    }

    fn check_realm(&self) -> Result<(), BadRoot> {
        match (&self.realm, &self.required_root) {
            (Some(realm), Some(root)) => super::return_to::realm_covers_root(realm, root),
            _ => Ok(()),
        }
    }

    /// The realm for a login returning to `return_to`: the configured realm, else
    /// `required_root`, else the site (`scheme://host[:port]/` of `return_to`).
    pub fn realm_for(&self, return_to: &Url) -> String {
        if let Some(realm) = &self.realm {
            return realm.as_str().to_string();
        }
        if let Some(root) = &self.required_root {
            return root.as_str().to_string();
        }
        format!("{}/", return_to.origin().ascii_serialization())
    }

    /// Sets the allow-list of OP endpoints (absolute http(s) URLs).
    pub fn with_allowed_providers<'a>(
        mut self,
        providers: impl IntoIterator<Item = &'a str>,
    ) -> Result<RelyingParty, BadRoot> {
        self.allowed_providers = providers
            .into_iter()
            .map(|p| {
                Url::parse(p.trim())
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| BadRoot(format!("provider {p:?} is not an http(s) URL")))
            })
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// Starts discovery of `identifier` with this party's limits: private addresses, where
    /// allowed, only at the allowed providers' origins when there is an allow-list.
    pub fn discover(
        &self,
        identifier: Url,
        force_version: Option<Version>,
    ) -> (Discovery, DiscoveryStep) {
        Discovery::start_limited(
            identifier,
            self.fetch,
            force_version,
            &self.allowed_providers,
        )
    }

    /// True when `server` may assert identities here.
    pub fn provider_allowed(&self, server: &str) -> bool {
        self.allowed_providers.is_empty()
            || Url::parse(server).is_ok_and(|s| self.provider_allowed_normalized(s.as_str()))
    }

    /// [`RelyingParty::provider_allowed`] for an endpoint URL as the `url` crate writes it
    /// (URLs are equal when their serializations are).
    pub fn provider_allowed_normalized(&self, server: &str) -> bool {
        self.allowed_providers.is_empty()
            || self.allowed_providers.iter().any(|p| p.as_str() == server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list() {
        let rp = RelyingParty::new(ConsumerSecret::new(b"s").unwrap());
        assert!(rp.provider_allowed("https://anything.example/"));
        let rp = rp
            .with_allowed_providers(["https://OP.example/auth"])
            .unwrap();
        assert!(rp.provider_allowed("https://op.example:443/auth"));
        assert!(!rp.provider_allowed("https://op.example/auth2"));
        assert!(!rp.provider_allowed("garbage"));
        assert!(rp.clone().with_allowed_providers(["ftp://x/"]).is_err());
        assert!(rp.with_required_root("https://rp.example").is_err());
    }

    #[test]
    fn realm_defaults_and_must_contain_required_root() {
        let rp = RelyingParty::new(ConsumerSecret::new(b"s").unwrap());
        let rt = Url::parse("https://rp.example:8443/login?x=1").unwrap();
        assert_eq!(rp.realm_for(&rt), "https://rp.example:8443/");
        let std = Url::parse("https://rp.example/login").unwrap();
        assert_eq!(rp.realm_for(&std), "https://rp.example/");
        let rooted = rp
            .clone()
            .with_required_root("https://rp.example/app/")
            .unwrap();
        assert_eq!(rooted.realm_for(&std), "https://rp.example/app/");
        let both = rooted.clone().with_realm("https://*.rp.example/").unwrap();
        assert_eq!(both.realm_for(&std), "https://*.rp.example/");
        // A realm that does not contain required_root, set in either order, is refused.
        assert!(rooted
            .clone()
            .with_realm("https://rp.example/other/")
            .is_err());
        assert!(rooted.with_realm("http://rp.example/").is_err());
        let realm_first = rp.clone().with_realm("https://rp.example/app/").unwrap();
        assert!(realm_first
            .clone()
            .with_required_root("https://rp.example/elsewhere/")
            .is_err());
        assert!(realm_first
            .with_required_root("https://rp.example/app/openid/")
            .is_ok());
        assert!(rp.with_realm("ftp://rp.example/").is_err());
    }
}
