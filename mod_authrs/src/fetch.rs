//! The blocking HTTP client for OpenID fetches (discovery, association, check_authentication):
//! `ureq` with the core's limits, no proxy, no redirects (the core follows them itself),
//! http(s) only, and a resolver that refuses private addresses unless allowed — so the
//! connection goes only to the addresses checked (no DNS-rebinding window).
//!
//! This duplicates `cli/src/openid_cmd.rs`'s fetcher on purpose: the core is sans-IO and the
//! fixed layout has no crate for shared shell I/O.

use authrs_core::openid::http::{is_private, HttpRequest, HttpResponse, Method};
use std::time::Duration;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// Resolves like the default resolver, then drops private addresses unless allowed.
#[derive(Debug)]
struct ParanoidResolver {
    allow_private: bool,
    inner: DefaultResolver,
}

impl Resolver for ParanoidResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let all = self.inner.resolve(uri, config, timeout)?;
        let mut kept = self.empty();
        for addr in all
            .iter()
            .filter(|a| self.allow_private || !is_private(a.ip()))
        {
            kept.push(*addr);
        }
        if kept.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(kept)
    }
}

fn agent(allow_private: bool) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .max_redirects(0)
        .max_redirects_will_error(false)
        .http_status_as_error(false)
        .proxy(None)
        .user_agent("authrs-openid (mod_authrs)")
        .build();
    let resolver = ParanoidResolver {
        allow_private,
        inner: DefaultResolver::default(),
    };
    ureq::Agent::with_parts(config, DefaultConnector::default(), resolver)
}

/// Performs a described request; any failure (refused scheme, network, size) is status 0.
pub fn perform(request: &HttpRequest) -> HttpResponse {
    let scheme_ok =
        url::Url::parse(&request.url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !scheme_ok {
        return HttpResponse::failed();
    }
    let agent = agent(request.allow_private_addresses);
    let timeout = Some(Duration::from_millis(request.timeout_ms));
    let result = match request.method {
        Method::Get => {
            let mut r = agent
                .get(&request.url)
                .config()
                .timeout_global(timeout)
                .build();
            for (k, v) in &request.headers {
                r = r.header(k, v);
            }
            r.call()
        }
        Method::Post => {
            let mut r = agent
                .post(&request.url)
                .config()
                .timeout_global(timeout)
                .build();
            for (k, v) in &request.headers {
                r = r.header(k, v);
            }
            r.send(request.body.as_deref().unwrap_or_default())
        }
    };
    let Ok(mut response) = result else {
        return HttpResponse::failed();
    };
    let headers = response
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let limit = u64::try_from(request.max_response_bytes).unwrap_or(u64::MAX);
    let Ok(body) = response.body_mut().with_config().limit(limit).read_to_vec() else {
        return HttpResponse::failed();
    };
    HttpResponse {
        status: response.status().as_u16(),
        headers,
        body,
    }
}
