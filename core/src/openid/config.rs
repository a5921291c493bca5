//! The relying party's configuration: the seed's constructor options, checked once.

use super::assoc::AssocOptions;
use super::http::FetchLimits;
use super::message::Version;
use super::nonce::NoncePolicy;
use super::return_to::{BadRoot, RequiredRoot};
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
}

impl RelyingParty {
    /// A relying party with the seed's defaults and this secret.
    pub fn new(consumer_secret: ConsumerSecret) -> RelyingParty {
        RelyingParty {
            consumer_secret,
            required_root: None,
            minimum_version: Version::V1,
            nonce: NoncePolicy::default(),
            assoc: AssocOptions::default(),
            allowed_providers: Vec::new(),
            fetch: FetchLimits::default(),
        }
    }

    /// Sets `required_root` (validated: an http(s) URL with a path).
    pub fn with_required_root(mut self, root: &str) -> Result<RelyingParty, BadRoot> {
        self.required_root = Some(RequiredRoot::parse(root)?);
        Ok(self)
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

    /// True when `server` may assert identities here.
    pub fn provider_allowed(&self, server: &str) -> bool {
        self.allowed_providers.is_empty()
            || Url::parse(server).is_ok_and(|s| self.allowed_providers.contains(&s))
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
}
