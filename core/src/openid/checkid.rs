//! Starting a login: picking the endpoint (`claimed_identity`) and building `check_url`.
//!
//! `return_to` gets `oic.time=<t>-<sig>` (and, for a 1.x delegate,
//! `oic.identity=<claimed id>`), exactly as Net::OpenID::ClaimedIdentity adds
//! them, so responses to logins started by either implementation verify in both.

use super::config::RelyingParty;
use super::discovery::Endpoint;
use super::error::{ErrorCode, OpenIdError};
use super::message::{Version, NS_2_0};
use super::return_to::{BadRoot, Realm};
use super::signed_time;
use crate::time::UnixTime;
use url::Url;

/// The query parameter carrying the 1.x claimed identifier when a delegate is used.
pub const OIC_IDENTITY: &str = "oic.identity";

/// The seed's `claimed_identity` result: the first endpoint at or above `minimum_version`.
///
/// No endpoints is `no_identity_server`; none recent enough is `protocol_version_incorrect`.
pub fn choose_endpoint(endpoints: &[Endpoint], minimum: Version) -> Result<&Endpoint, OpenIdError> {
    if endpoints.is_empty() {
        return Err(ErrorCode::NoIdentityServer.into());
    }
    endpoints
        .iter()
        .find(|e| e.version >= minimum)
        .ok_or_else(|| ErrorCode::ProtocolVersionIncorrect.into())
}

/// The caller's part of a check_url.
#[derive(Debug, Clone, Copy)]
pub struct CheckIdParams<'a> {
    /// Where the provider sends the browser back (absolute http(s) URL; may have a query).
    pub return_to: &'a str,
    /// The realm / trust_root shown to the user; return_to must lie within it.
    pub realm: Option<&'a str>,
    /// `checkid_setup` (the provider may interact with the user) rather than `checkid_immediate`.
    pub delayed_return: bool,
    /// An association handle to use (from the association store), if any.
    pub assoc_handle: Option<&'a str>,
}

/// The URL to redirect the browser to, signed for `now`.
pub fn check_url(
    rp: &RelyingParty,
    endpoint: &Endpoint,
    params: &CheckIdParams,
    now: UnixTime,
) -> Result<String, BadRoot> {
    let mut return_to = Url::parse(params.return_to)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            BadRoot(format!(
                "return_to {:?} is not an http(s) URL",
                params.return_to
            ))
        })?;
    return_to.set_fragment(None);
    if let Some(realm) = params.realm {
        if !Realm::parse(realm)?.contains(&return_to) {
            return Err(BadRoot(format!(
                "return_to {return_to} is outside realm {realm}"
            )));
        }
    }
    // Our own parameters replace any stale copies, so the response carries exactly one of each.
    let kept: Vec<(String, String)> = return_to
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != signed_time::PARAM && k != OIC_IDENTITY)
        .collect();
    {
        let mut q = return_to.query_pairs_mut();
        q.clear();
        q.extend_pairs(&kept);
        let delegated = endpoint
            .local_id
            .as_deref()
            .is_some_and(|l| l != endpoint.claimed_id);
        if endpoint.version == Version::V1 && delegated {
            q.append_pair(OIC_IDENTITY, &endpoint.claimed_id);
        }
        q.append_pair(signed_time::PARAM, &rp.consumer_secret.sign(now));
    }
    let mut url = Url::parse(&endpoint.server)
        .map_err(|e| BadRoot(format!("endpoint {:?}: {e}", endpoint.server)))?;
    let mode = if params.delayed_return {
        "checkid_setup"
    } else {
        "checkid_immediate"
    };
    {
        let mut q = url.query_pairs_mut();
        match endpoint.version {
            Version::V2 => {
                q.append_pair("openid.ns", NS_2_0);
                q.append_pair("openid.mode", mode);
                q.append_pair("openid.claimed_id", &endpoint.claimed_id);
                q.append_pair("openid.identity", endpoint.identity_arg());
                q.append_pair("openid.return_to", return_to.as_str());
                if let Some(realm) = params.realm {
                    q.append_pair("openid.realm", realm.trim());
                }
            }
            Version::V1 => {
                q.append_pair("openid.mode", mode);
                q.append_pair("openid.identity", endpoint.identity_arg());
                q.append_pair("openid.return_to", return_to.as_str());
                if let Some(realm) = params.realm {
                    q.append_pair("openid.trust_root", realm.trim());
                }
            }
        }
        if let Some(h) = params.assoc_handle {
            q.append_pair("openid.assoc_handle", h);
        }
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openid::discovery::{Mechanism, IDENTIFIER_SELECT};
    use crate::openid::signed_time::ConsumerSecret;

    const NOW: i64 = 1_800_000_000;

    fn rp() -> RelyingParty {
        RelyingParty::new(ConsumerSecret::new(b"sekrit").unwrap())
    }

    fn ep(version: Version, local: Option<&str>) -> Endpoint {
        Endpoint {
            server: "https://op.example/auth?x=1".into(),
            version,
            claimed_id: "https://me.example/".into(),
            local_id: local.map(str::to_string),
            op_identifier: false,
            mechanism: Mechanism::Html,
        }
    }

    fn query(url: &str) -> Vec<(String, String)> {
        Url::parse(url)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }

    fn get<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
        q.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn v2_check_url() {
        let params = CheckIdParams {
            return_to: "https://rp.example/cb?dest=%2Fhome&oic.time=1-stale",
            realm: Some("https://rp.example/"),
            delayed_return: true,
            assoc_handle: Some("h1"),
        };
        let url = check_url(
            &rp(),
            &ep(Version::V2, Some("https://op.example/u/alice")),
            &params,
            NOW,
        )
        .unwrap();
        assert!(url.starts_with("https://op.example/auth?x=1&openid.ns="));
        let q = query(&url);
        assert_eq!(get(&q, "openid.mode"), Some("checkid_setup"));
        assert_eq!(get(&q, "openid.claimed_id"), Some("https://me.example/"));
        assert_eq!(
            get(&q, "openid.identity"),
            Some("https://op.example/u/alice")
        );
        assert_eq!(get(&q, "openid.realm"), Some("https://rp.example/"));
        assert_eq!(get(&q, "openid.assoc_handle"), Some("h1"));
        assert_eq!(
            get(&q, "openid.return_to"),
            Some("https://rp.example/cb?dest=%2Fhome&oic.time=1800000000-f856b5149c9b1ba94798")
        );
    }

    #[test]
    fn v1_check_url_with_delegate() {
        let params = CheckIdParams {
            return_to: "http://rp.example/cb",
            realm: None,
            delayed_return: false,
            assoc_handle: None,
        };
        let url = check_url(
            &rp(),
            &ep(Version::V1, Some("https://op.example/u/alice")),
            &params,
            NOW,
        )
        .unwrap();
        let q = query(&url);
        assert_eq!(get(&q, "openid.mode"), Some("checkid_immediate"));
        assert_eq!(get(&q, "openid.ns"), None);
        assert_eq!(
            get(&q, "openid.identity"),
            Some("https://op.example/u/alice")
        );
        let rt = get(&q, "openid.return_to").unwrap();
        assert_eq!(get(&query(rt), OIC_IDENTITY), Some("https://me.example/"));
        assert_eq!(get(&q, "openid.assoc_handle"), None);
    }

    #[test]
    fn op_identifier_and_bad_params() {
        let mut e = ep(Version::V2, Some(IDENTIFIER_SELECT));
        e.claimed_id = IDENTIFIER_SELECT.into();
        let ok = CheckIdParams {
            return_to: "https://rp.example/cb",
            realm: None,
            delayed_return: true,
            assoc_handle: None,
        };
        let q = query(&check_url(&rp(), &e, &ok, NOW).unwrap());
        assert_eq!(get(&q, "openid.claimed_id"), Some(IDENTIFIER_SELECT));
        assert_eq!(get(&q, "openid.identity"), Some(IDENTIFIER_SELECT));
        let outside = CheckIdParams {
            realm: Some("https://other.example/"),
            ..ok
        };
        assert!(check_url(&rp(), &e, &outside, NOW).is_err());
        let js = CheckIdParams {
            return_to: "javascript:alert(1)",
            ..ok
        };
        assert!(check_url(&rp(), &e, &js, NOW).is_err());
    }

    #[test]
    fn choosing_by_minimum_version() {
        let eps = [ep(Version::V1, None)];
        assert_eq!(
            choose_endpoint(&eps, Version::V1).unwrap().version,
            Version::V1
        );
        assert_eq!(
            choose_endpoint(&eps, Version::V2).unwrap_err().code,
            ErrorCode::ProtocolVersionIncorrect
        );
        assert_eq!(
            choose_endpoint(&[], Version::V1).unwrap_err().code,
            ErrorCode::NoIdentityServer
        );
    }
}
