//! `return_to` rules: the seed's `required_root`, 2.0 §11.1 (it must match the URL the
//! browser came back to), and 2.0 §9.2 (it must lie within the realm).

use super::error::{ErrorCode, OpenIdError};
use std::borrow::Cow;
use std::fmt;
use url::{Position, Url};

/// A `required_root`: an http(s) URL prefix every `return_to` must start with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredRoot(String);

/// A `required_root` or realm that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRoot(pub String);

impl fmt::Display for BadRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadRoot {}

impl RequiredRoot {
    /// Validates a root: an absolute http(s) URL with a path, so `http://site` cannot match `http://site.evil`.
    pub fn parse(root: &str) -> Result<RequiredRoot, BadRoot> {
        let root = root.trim();
        let url = Url::parse(root).map_err(|e| BadRoot(format!("{root:?} is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(BadRoot(format!("{root:?} is not an http(s) URL")));
        }
        // The prefix test compares text: the root must be written as the URLs it is compared
        // with are (`https:a` parses as `https://a/`, but no return_to starts with it).
        let Some(after_scheme) = root
            .strip_prefix(url.scheme())
            .and_then(|r| r.strip_prefix("://"))
        else {
            return Err(BadRoot(format!(
                "{root:?} must start with {}://",
                url.scheme()
            )));
        };
        if !after_scheme.contains('/') {
            return Err(BadRoot(format!(
                "{root:?} has no path: end it with '/' so other hosts cannot match it"
            )));
        }
        Ok(RequiredRoot(root.to_string()))
    }

    /// The prefix as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `bogus_return_to` unless `return_to` starts with this root (the seed's plain prefix test).
    pub fn check(&self, return_to: &str) -> Result<(), OpenIdError> {
        if return_to.starts_with(&self.0) {
            Ok(())
        } else {
            Err(OpenIdError::with(
                ErrorCode::BogusReturnTo,
                format!("return_to is not under required_root {}", self.0),
            ))
        }
    }
}

/// A realm that excludes `required_root` would make the provider refuse every login.
pub fn realm_covers_root(realm: &Realm, root: &RequiredRoot) -> Result<(), BadRoot> {
    match Url::parse(root.as_str()) {
        Ok(url) if realm.contains(&url) => Ok(()),
        _ => Err(BadRoot(format!(
            "realm {} does not contain required_root {}",
            realm.as_str(),
            root.as_str()
        ))),
    }
}

/// 2.0 §11.1: same scheme, authority and path, and every return_to query parameter in the current URL.
///
/// Parameters are compared as multisets per name: a name in `return_to` must carry exactly
/// the same values in the current URL, so a second `oic.time` cannot be slipped in.
/// `current_pairs` are the current URL's decoded query parameters.
pub fn matches_current<K: AsRef<str>, V: AsRef<str>>(
    return_to: &Url,
    current: &Url,
    current_pairs: &[(K, V)],
) -> Result<(), OpenIdError> {
    let wanted: Vec<(Cow<str>, Cow<str>)> =
        super::form::pairs(return_to.query().unwrap_or_default()).collect();
    matches_current_with(return_to, &wanted, current, current_pairs)
}

/// [`matches_current`] with return_to's query parameters already decoded (`return_to_pairs`)
/// and the current URL as text: `current_base` is what precedes its query (no fragment).
///
/// When `current_base` is exactly return_to's serialization up to its path — an http(s) URL
/// as the `url` crate writes it, which parses back to the same URL — scheme, authority and
/// path are equal without parsing it; otherwise it is parsed (`bad_message` when it is not a
/// URL) and compared part by part.
pub(crate) fn matches_current_text<K: AsRef<str>, V: AsRef<str>>(
    return_to: &Url,
    return_to_pairs: &[(Cow<str>, Cow<str>)],
    current_base: &str,
    current_pairs: &[(K, V)],
) -> Result<(), OpenIdError> {
    let same_text = matches!(return_to.scheme(), "http" | "https")
        && current_base == &return_to[..Position::AfterPath];
    if !same_text {
        let current = Url::parse(current_base)
            .map_err(|e| OpenIdError::with(ErrorCode::BadMessage, format!("current URL: {e}")))?;
        same_base(return_to, &current)?;
    }
    same_query(return_to_pairs, current_pairs)
}

/// [`matches_current`] with return_to's query parameters already decoded (`return_to_pairs`).
pub(crate) fn matches_current_with<K: AsRef<str>, V: AsRef<str>>(
    return_to: &Url,
    return_to_pairs: &[(Cow<str>, Cow<str>)],
    current: &Url,
    current_pairs: &[(K, V)],
) -> Result<(), OpenIdError> {
    same_base(return_to, current)?;
    same_query(return_to_pairs, current_pairs)
}

/// Same scheme, authority (user, password, host, port) and path.
fn same_base(return_to: &Url, current: &Url) -> Result<(), OpenIdError> {
    let bogus = |why: &str| {
        OpenIdError::with(
            ErrorCode::BogusReturnTo,
            format!("return_to {why} the current URL"),
        )
    };
    if return_to.scheme() != current.scheme() {
        return Err(bogus("has another scheme than"));
    }
    if return_to.username() != current.username()
        || return_to.password() != current.password()
        || return_to.host_str() != current.host_str()
        || return_to.port_or_known_default() != current.port_or_known_default()
    {
        return Err(bogus("has another authority than"));
    }
    if return_to.path() != current.path() {
        return Err(bogus("has another path than"));
    }
    Ok(())
}

/// Every return_to query parameter, with the same values as often, in the current URL's query.
fn same_query<K: AsRef<str>, V: AsRef<str>>(
    return_to_pairs: &[(Cow<str>, Cow<str>)],
    current_pairs: &[(K, V)],
) -> Result<(), OpenIdError> {
    if return_to_pairs.len() <= SMALL_QUERY && same_small_query(return_to_pairs, current_pairs) {
        return Ok(());
    }
    let mut wanted: Vec<(&str, &str)> = return_to_pairs
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    wanted.sort_unstable();
    let mut have: Vec<(&str, &str)> = current_pairs
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, _)| wanted.iter().any(|(w, _)| w == k))
        .collect();
    have.sort_unstable();
    let same = wanted.len() == have.len()
        && wanted
            .iter()
            .zip(&have)
            .all(|((wk, wv), (hk, hv))| wk == hk && wv == hv);
    if !same {
        let name = wanted
            .iter()
            .map(|(k, _)| *k)
            .find(|k| {
                let count = |list: &mut dyn Iterator<Item = &str>| list.filter(|n| n == k).count();
                count(&mut wanted.iter().map(|(n, _)| *n))
                    != count(&mut have.iter().map(|(n, _)| *n))
            })
            .unwrap_or("?");
        return Err(OpenIdError::with(
            ErrorCode::BogusReturnTo,
            format!("query parameters of return_to differ in the current URL (near {name:?})"),
        ));
    }
    Ok(())
}

/// Up to this many return_to parameters are compared by counting, without sorting copies.
const SMALL_QUERY: usize = 8;

/// The multiset test of [`same_query`] by counting (`wanted` × `current` comparisons):
/// as many current parameters carry a wanted name as there are wanted parameters, and each
/// wanted (name, value) occurs as often in both — then the two multisets are equal.
fn same_small_query<K: AsRef<str>, V: AsRef<str>>(
    wanted: &[(Cow<str>, Cow<str>)],
    current: &[(K, V)],
) -> bool {
    let have = current
        .iter()
        .filter(|(k, _)| wanted.iter().any(|(w, _)| w == k.as_ref()))
        .count();
    have == wanted.len()
        && wanted.iter().all(|(wk, wv)| {
            let in_wanted = wanted.iter().filter(|(k, v)| k == wk && v == wv).count();
            let in_current = current
                .iter()
                .filter(|(k, v)| k.as_ref() == wk && v.as_ref() == wv)
                .count();
            in_wanted == in_current
        })
}

/// A realm (`trust_root`): http(s), no fragment, optionally `*.` before the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Realm {
    text: String,
    url: Url,
    wildcard: bool,
}

impl Realm {
    /// Parses a realm.
    pub fn parse(realm: &str) -> Result<Realm, BadRoot> {
        let url = Url::parse(realm.trim()).map_err(|e| BadRoot(format!("realm {realm:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.fragment().is_some() {
            return Err(BadRoot(format!(
                "realm {realm:?} must be http(s) without fragment"
            )));
        }
        let host = url.host_str().unwrap_or_default();
        let wildcard = host.starts_with("*.");
        if host.contains('*') && !(wildcard && !host[2..].contains('*') && host.len() > 2) {
            return Err(BadRoot(format!(
                "realm {realm:?}: '*' only as '*.' before the domain"
            )));
        }
        Ok(Realm {
            text: realm.trim().to_string(),
            url,
            wildcard,
        })
    }

    /// Whether the realm's host starts with `*.` (any host under the domain).
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// The realm as given, for `openid.realm` / `openid.trust_root`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when `url` lies within the realm (2.0 §9.2).
    pub fn contains(&self, url: &Url) -> bool {
        if url.scheme() != self.url.scheme()
            || url.port_or_known_default() != self.url.port_or_known_default()
        {
            return false;
        }
        let (Some(host), Some(realm_host)) = (url.host_str(), self.url.host_str()) else {
            return false;
        };
        let host_ok = if self.wildcard {
            let domain = &realm_host[2..];
            host == domain || host.strip_suffix(domain).is_some_and(|p| p.ends_with('.'))
        } else {
            host == realm_host
        };
        let (rp, tp) = (self.url.path(), url.path());
        let path_ok = tp == rp
            || (tp.starts_with(rp) && (rp.ends_with('/') || tp[rp.len()..].starts_with('/')));
        host_ok && path_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn required_root_needs_a_path() {
        // The reason reaches the operator through Display.
        let e = RequiredRoot::parse("http://site.example").unwrap_err();
        assert!(e.to_string().contains("has no path"), "{e}");
        assert!(RequiredRoot::parse("ftp://site.example/").is_err());
        assert!(RequiredRoot::parse("not a url").is_err());
        // Parsed leniently by WHATWG rules, but not the text any return_to starts with; these
        // once sliced past the end of the string.
        for root in [
            "https:a",
            "http:a",
            "https:/a/",
            "HTTPS://site.example/",
            "https:\\\\a/",
        ] {
            let e = RequiredRoot::parse(root).unwrap_err();
            assert!(e.0.contains("must start with"), "{root}: {e}");
        }
        let r = RequiredRoot::parse("https://site.example/app/").unwrap();
        assert!(r.check("https://site.example/app/return?x=1").is_ok());
        assert_eq!(
            r.check("https://site.example/other").unwrap_err().code,
            ErrorCode::BogusReturnTo
        );
        assert_eq!(
            r.check("https://site.example.evil/app/").unwrap_err().code,
            ErrorCode::BogusReturnTo
        );
    }

    #[test]
    fn return_to_must_match_current_url() {
        let rt = u("https://rp.example/cb?a=1&oic.time=5-x");
        let check = |current: &str| {
            let current = u(current);
            let pairs: Vec<(String, String)> = current.query_pairs().into_owned().collect();
            matches_current(&rt, &current, &pairs)
        };
        assert!(check("https://rp.example/cb?openid.mode=id_res&oic.time=5-x&a=1").is_ok());
        assert!(check("https://rp.example:443/cb?a=1&oic.time=5-x").is_ok());
        // Compared after decoding, as the url crate decodes them: escapes of the same bytes match.
        assert!(check("https://rp.example/cb?%61=%31&oic%2Etime=5%2dx").is_ok());
        for bad in [
            "http://rp.example/cb?a=1&oic.time=5-x",
            "https://rp.example:8443/cb?a=1&oic.time=5-x",
            "https://other.example/cb?a=1&oic.time=5-x",
            "https://user@rp.example/cb?a=1&oic.time=5-x",
            "https://rp.example/cb2?a=1&oic.time=5-x",
            "https://rp.example/cb?a=2&oic.time=5-x",
            "https://rp.example/cb?oic.time=5-x",
            "https://rp.example/cb?a=1&oic.time=5-x&oic.time=6-y",
            // Encodings that decode to something else are still other values.
            "https://rp.example/cb?a=1&oic.time=5%2Dy",
            "https://rp.example/cb?a=1+&oic.time=5-x",
            "https://rp.example/cb?a=%31%00&oic.time=5-x",
            "https://rp.example/cb?a=1&oic%2Etime=5-x&oic.time=5-x",
        ] {
            assert_eq!(
                check(bad).unwrap_err().code,
                ErrorCode::BogusReturnTo,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_single_return_to_parameter_must_come_back_alone_and_unchanged() {
        // One name in return_to: the counting path must refuse another value for it, or an
        // extra copy, whatever else the current URL carries.
        let rt = u("https://rp.example/cb?oic.time=5-x");
        let check = |query: &str| {
            let current = u(&format!("https://rp.example/cb?{query}"));
            let pairs: Vec<(String, String)> = current.query_pairs().into_owned().collect();
            matches_current(&rt, &current, &pairs).map_err(|e| e.code)
        };
        assert_eq!(check("openid.mode=id_res&oic.time=5-x"), Ok(()));
        for bad in [
            "oic.time=6-y",
            "openid.mode=5-x&oic.time=6-y",
            "oic.time=5-x&oic.time=6-y&openid.mode=id_res",
        ] {
            assert_eq!(check(bad), Err(ErrorCode::BogusReturnTo), "{bad}");
        }
    }

    #[test]
    fn a_long_return_to_query_is_compared_as_a_multiset_too() {
        // More than SMALL_QUERY parameters (one name twice) take the sorting path.
        let rt = u("https://rp.example/cb?a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&a=9&oic.time=5-x");
        let check = |query: &str| {
            let current = u(&format!("https://rp.example/cb?{query}"));
            let pairs: Vec<(String, String)> = current.query_pairs().into_owned().collect();
            matches_current(&rt, &current, &pairs).map_err(|e| e.code)
        };
        assert_eq!(
            check("openid.mode=id_res&oic.time=5-x&h=8&g=7&f=6&e=5&d=4&c=3&b=2&a=9&a=1"),
            Ok(())
        );
        // The detail names the parameter whose copies differ.
        let current = u("https://rp.example/cb?b=2&c=3&d=4&e=5&f=6&g=7&h=8&a=9&oic.time=5-x");
        let pairs: Vec<(String, String)> = current.query_pairs().into_owned().collect();
        let e = matches_current(&rt, &current, &pairs).unwrap_err();
        assert!(e.detail.contains("near \"a\""), "{}", e.detail);
        for bad in [
            // One copy of `a` missing, one too many, one with another value.
            "b=2&c=3&d=4&e=5&f=6&g=7&h=8&a=9&oic.time=5-x",
            "a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&a=9&a=9&oic.time=5-x",
            "a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&a=8&oic.time=5-x",
            // Another value for a name given once, or the name missing.
            "a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&a=9&oic.time=6-y",
            "a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&a=9",
        ] {
            assert_eq!(check(bad), Err(ErrorCode::BogusReturnTo), "{bad}");
        }
        // The password is part of the authority.
        let rt = u("https://user:pw@rp.example/cb");
        for (current, ok) in [
            ("https://user:pw@rp.example/cb", true),
            ("https://user:other@rp.example/cb", false),
            ("https://user@rp.example/cb", false),
        ] {
            let current = u(current);
            let none: [(&str, &str); 0] = [];
            assert_eq!(
                matches_current(&rt, &current, &none).is_ok(),
                ok,
                "{current}"
            );
        }
    }

    #[test]
    fn realms() {
        let r = Realm::parse("https://*.example.com/").unwrap();
        assert!(r.contains(&u("https://www.example.com/login")));
        assert!(r.contains(&u("https://example.com/")));
        assert!(!r.contains(&u("https://evilexample.com/")));
        assert!(!r.contains(&u("http://www.example.com/")));
        let r = Realm::parse("https://rp.example/app").unwrap();
        assert!(r.contains(&u("https://rp.example/app")));
        assert!(r.contains(&u("https://rp.example/app/cb?x")));
        assert!(!r.contains(&u("https://rp.example/apple")));
        assert!(!r.contains(&u("https://rp.example:444/app")));
        assert!(Realm::parse("https://rp.example/#f").is_err());
        assert!(Realm::parse("https://a.*.example/").is_err());
        assert!(Realm::parse("https://*/").is_err());
        assert!(Realm::parse("https://*./").is_err());
        assert!(Realm::parse("ftp://rp.example/").is_err());
        assert_eq!(
            Realm::parse(" https://rp.example/ ").unwrap().as_str(),
            "https://rp.example/"
        );
    }
}
