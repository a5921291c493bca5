//! `openid_clusters`: which Envoy cluster each OpenID fetch (discovery, association,
//! check_authentication) goes to. The filter can only call clusters, so a URL no entry matches
//! is not fetched at all (the core then sees "no response").

use serde_json::Value;
use url::Url;

/// Longest timeout an entry may give, in seconds.
const MAX_TIMEOUT_SECS: f64 = 60.0;

/// One entry: URLs with this scheme (and, when given, host, port and path prefix) go to `cluster`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRoute {
    /// The Envoy cluster to call.
    pub cluster: String,
    /// `http` or `https`.
    pub scheme: String,
    /// Host and port (the scheme's default when not written), or any host when `None`.
    pub host_port: Option<(String, u16)>,
    /// The URL path must start with this (`/` when not written).
    pub path_prefix: String,
    /// Timeout for calls through this entry, in milliseconds (`None`: the core's fetch timeout).
    pub timeout_ms: Option<u64>,
}

/// Where a URL is fetched: the cluster, the `:authority` and `:path` to send, the timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterCall {
    /// The Envoy cluster.
    pub cluster: String,
    /// `:authority` (the URL's host and port, as a dynamic forward proxy needs it).
    pub authority: String,
    /// `:path` (path and query).
    pub path: String,
    /// The timeout in milliseconds (the entry's, else `default_timeout_ms`).
    pub timeout_ms: u64,
}

/// The parsed `openid_clusters`, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenIdClusters {
    /// The entries; the first match wins.
    pub routes: Vec<ClusterRoute>,
}

impl OpenIdClusters {
    /// Reads `[{"cluster": "…", "url_prefix": "https://…", "timeout": seconds}, …]`.
    pub fn from_json(v: &Value) -> Result<OpenIdClusters, String> {
        let Value::Array(items) = v else {
            return Err(
                "expected an array of {\"cluster\": …, \"url_prefix\": …} objects".to_string(),
            );
        };
        if items.is_empty() {
            return Err("needs at least one entry".to_string());
        }
        let routes = items
            .iter()
            .enumerate()
            .map(|(i, item)| route(item).map_err(|why| format!("entry {i}: {why}")))
            .collect::<Result<_, _>>()?;
        Ok(OpenIdClusters { routes })
    }

    /// Where `url` is fetched, or why it is not: only http(s) URLs an entry matches.
    pub fn call_for(&self, url: &str, default_timeout_ms: u64) -> Result<ClusterCall, String> {
        let u = Url::parse(url).map_err(|e| format!("not a URL ({e}): {url:?}"))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(format!("refusing to fetch a {}: URL", u.scheme()));
        }
        let host = u.host_str().ok_or_else(|| format!("{url}: no host"))?;
        let port = u
            .port_or_known_default()
            .ok_or_else(|| format!("{url}: no port"))?;
        if !u.username().is_empty() || u.password().is_some() {
            return Err(format!("{url}: user information in the URL is refused"));
        }
        let route = self
            .routes
            .iter()
            .find(|r| {
                r.scheme == u.scheme()
                    && r.host_port
                        .as_ref()
                        .is_none_or(|(h, p)| h == host && *p == port)
                    && u.path().starts_with(&r.path_prefix)
            })
            .ok_or_else(|| format!("no openid_clusters entry matches {url}"))?;
        let authority = match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let path = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        };
        Ok(ClusterCall {
            cluster: route.cluster.clone(),
            authority,
            path,
            timeout_ms: route.timeout_ms.unwrap_or(default_timeout_ms),
        })
    }
}

fn route(item: &Value) -> Result<ClusterRoute, String> {
    let Value::Object(map) = item else {
        return Err("expected an object {\"cluster\": …, \"url_prefix\": …}".to_string());
    };
    if let Some(k) = map
        .keys()
        .find(|k| !["cluster", "url_prefix", "timeout"].contains(&k.as_str()))
    {
        return Err(format!(
            "unknown key {k:?} (expected cluster, url_prefix, timeout)"
        ));
    }
    let text = |k: &str| -> Result<String, String> {
        match map.get(k) {
            Some(Value::String(s)) if !s.is_empty() && !s.chars().any(char::is_control) => {
                Ok(s.clone())
            }
            Some(_) => Err(format!("{k:?} must be a non-empty string")),
            None => Err(format!("needs {k:?}")),
        }
    };
    let cluster = text("cluster")?;
    let prefix = text("url_prefix")?;
    let (scheme, host_port, path_prefix) = match prefix.as_str() {
        "http://" => ("http".to_string(), None, "/".to_string()),
        "https://" => ("https".to_string(), None, "/".to_string()),
        _ => {
            let u = Url::parse(&prefix)
                .map_err(|e| format!("url_prefix {prefix:?} is not a URL ({e})"))?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(format!("url_prefix {prefix:?} is not an http(s) URL"));
            }
            if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
                return Err(format!(
                    "url_prefix {prefix:?} may hold only scheme, host, port and path"
                ));
            }
            let host = u
                .host_str()
                .ok_or_else(|| format!("url_prefix {prefix:?} has no host"))?;
            let port = u
                .port_or_known_default()
                .ok_or_else(|| format!("url_prefix {prefix:?} has no port"))?;
            (
                u.scheme().to_string(),
                Some((host.to_string(), port)),
                u.path().to_string(),
            )
        }
    };
    let timeout_ms = match map.get("timeout") {
        None => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(secs) if secs > 0.0 && secs <= MAX_TIMEOUT_SECS => {
                Some((secs * 1000.0).round().max(1.0) as u64)
            }
            _ => return Err("\"timeout\" must be seconds, more than 0 and at most 60".to_string()),
        },
        Some(_) => return Err("\"timeout\" must be a number of seconds".to_string()),
    };
    Ok(ClusterRoute {
        cluster,
        scheme,
        host_port,
        path_prefix,
        timeout_ms,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn clusters(v: Value) -> OpenIdClusters {
        OpenIdClusters::from_json(&v).unwrap()
    }

    #[test]
    fn first_matching_entry_wins_and_authority_follows_the_url() {
        let c = clusters(json!([
            {"cluster": "op", "url_prefix": "http://127.0.0.1:8080/op", "timeout": 2},
            {"cluster": "dfp", "url_prefix": "https://"}
        ]));
        let call = c.call_for("http://127.0.0.1:8080/op?x=1", 10_000).unwrap();
        assert_eq!(
            call,
            ClusterCall {
                cluster: "op".into(),
                authority: "127.0.0.1:8080".into(),
                path: "/op?x=1".into(),
                timeout_ms: 2000,
            }
        );
        let call = c.call_for("https://Example.COM/id/alice", 10_000).unwrap();
        assert_eq!(
            (
                call.cluster.as_str(),
                call.authority.as_str(),
                call.timeout_ms
            ),
            ("dfp", "example.com", 10_000)
        );
        // Same host, other port or path: not the first entry; plain http has no entry at all.
        assert!(c.call_for("http://127.0.0.1:8081/op", 1).is_err());
        assert!(c.call_for("http://127.0.0.1:8080/other", 1).is_err());
        assert!(c.call_for("http://example.com/", 1).is_err());
    }

    #[test]
    fn attacks_on_the_prefix_are_not_matches() {
        let c = clusters(json!([{"cluster": "op", "url_prefix": "https://op.example/"}]));
        for bad in [
            "https://op.example.evil.com/",
            "https://op.example:8443/",
            "http://op.example/",
            "https://user@op.example/",
            "file:///etc/passwd",
            "gopher://op.example/",
            "not a url",
        ] {
            assert!(c.call_for(bad, 1).is_err(), "{bad}");
        }
        assert!(c.call_for("https://op.example:443/x", 1).is_ok());
    }

    #[test]
    fn bad_entries_are_named() {
        for (v, needle) in [
            (json!({}), "expected an array"),
            (json!([]), "at least one"),
            (json!([{"url_prefix": "https://"}]), "needs \"cluster\""),
            (json!([{"cluster": "x"}]), "needs \"url_prefix\""),
            (
                json!([{"cluster": "x", "url_prefix": "ftp://h/"}]),
                "http(s)",
            ),
            (
                json!([{"cluster": "x", "url_prefix": "https://h/?q"}]),
                "only scheme",
            ),
            (
                json!([{"cluster": "x", "url_prefix": "https://", "timeout": 0}]),
                "timeout",
            ),
            (
                json!([{"cluster": "x", "url_prefix": "https://", "port": 1}]),
                "unknown key",
            ),
        ] {
            let e = OpenIdClusters::from_json(&v).unwrap_err();
            assert!(e.contains(needle), "{v}: {e}");
        }
    }
}
