//! Set-Cookie and clearing cookies for tickets, and finding the ticket cookie in a request.
//!
//! Headers are built and parsed with the `cookie` crate; this module adds the
//! rules browsers enforce (`__Host-`/`__Secure-` prefixes, `SameSite=None`
//! needs `Secure`) so a bad configuration fails at load instead of silently
//! producing a cookie the browser drops.
//!
//! Duplicate cookies: when the ticket cookie's name appears more than once
//! with different values, [`find_cookie`] answers `None`. A sibling subdomain
//! can plant a second cookie with the same name (cookie tossing) and give it a
//! more specific `Path` so browsers send it first; picking "the first" would
//! let an attacker log the victim into the attacker's account. Refusing costs
//! at most a denial of service the attacker could cause anyway; the `__Host-`
//! prefix rules the attack out. [`lookup_cookie`] hands every value to a
//! caller that wants to try each and accept only when exactly one verifies.

use std::fmt;
use std::str::FromStr;

use cookie::time::{Duration, OffsetDateTime};
use cookie::{Cookie, Expiration};

use crate::time::UnixTime;

/// The cookie name used when none is configured.
pub const DEFAULT_COOKIE_NAME: &str = "authrs_ticket";

/// A cookie configuration mistake, or a value that cannot go into a cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieError {
    /// The name is empty or not an RFC 6265 token.
    BadName(String),
    /// The Domain is empty or has characters other than letters, digits, `-` and `.`.
    BadDomain(String),
    /// The Path does not start with `/` or has control characters, spaces or `;`.
    BadPath(String),
    /// A `__Host-` cookie needs Secure, `Path=/` and no Domain.
    HostPrefix,
    /// A `__Secure-` cookie needs Secure.
    SecurePrefix,
    /// `SameSite=None` needs Secure, or browsers drop the cookie.
    SameSiteNoneInsecure,
    /// SameSite must be `Strict`, `Lax` or `None`.
    BadSameSite(String),
    /// The value has characters outside RFC 6265 cookie-octets (`;`, `,`, space, quotes, CR/LF…).
    BadValue,
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CookieError::BadName(n) => write!(f, "cookie name {n:?} is not a valid token"),
            CookieError::BadDomain(d) => write!(f, "cookie domain {d:?} is not a host name"),
            CookieError::BadPath(p) => write!(
                f,
                "cookie path {p:?} must start with / and have no ; or spaces"
            ),
            CookieError::HostPrefix => {
                f.write_str("a __Host- cookie needs Secure, Path=/ and no Domain")
            }
            CookieError::SecurePrefix => f.write_str("a __Secure- cookie needs Secure"),
            CookieError::SameSiteNoneInsecure => f.write_str("SameSite=None needs Secure"),
            CookieError::BadSameSite(v) => {
                write!(f, "SameSite {v:?} must be one of Strict, Lax, None")
            }
            CookieError::BadValue => {
                f.write_str("cookie value has characters a cookie cannot carry")
            }
        }
    }
}

impl std::error::Error for CookieError {}

/// The SameSite attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SameSite {
    /// Sent only on same-site requests.
    Strict,
    /// Also sent on top-level cross-site navigations (the default).
    #[default]
    Lax,
    /// Sent on every request; needs Secure.
    None,
}

impl SameSite {
    /// The attribute value: `Strict`, `Lax` or `None`.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }

    fn to_cookie(self) -> cookie::SameSite {
        match self {
            SameSite::Strict => cookie::SameSite::Strict,
            SameSite::Lax => cookie::SameSite::Lax,
            SameSite::None => cookie::SameSite::None,
        }
    }
}

impl fmt::Display for SameSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SameSite {
    type Err = CookieError;
    /// Case-insensitive `strict`, `lax` or `none`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "strict" => Ok(SameSite::Strict),
            "lax" => Ok(SameSite::Lax),
            "none" => Ok(SameSite::None),
            _ => Err(CookieError::BadSameSite(s.to_string())),
        }
    }
}

/// How the ticket cookie is named and scoped; check with [`CookieSettings::validate`] at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSettings {
    /// Cookie name (`__Host-` prefix recommended).
    pub name: String,
    /// Domain attribute; `None` means host-only (safer).
    pub domain: Option<String>,
    /// Path attribute.
    pub path: String,
    /// Secure attribute (only sent over HTTPS).
    pub secure: bool,
    /// HttpOnly attribute (hidden from scripts).
    pub http_only: bool,
    /// SameSite attribute.
    pub same_site: SameSite,
    /// Whether the cookie outlives the browser session (Max-Age and Expires set).
    pub persistent: bool,
}

impl Default for CookieSettings {
    /// `authrs_ticket`, host-only, `Path=/`, `Secure; HttpOnly; SameSite=Lax`, session cookie.
    fn default() -> Self {
        CookieSettings {
            name: DEFAULT_COOKIE_NAME.to_string(),
            domain: None,
            path: "/".to_string(),
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            persistent: false,
        }
    }
}

/// RFC 7230 tchar: what a cookie name may consist of.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// RFC 6265 cookie-octet: visible ASCII except `"`, `,`, `;` and `\`.
fn is_cookie_value(s: &str) -> bool {
    s.bytes()
        .all(|b| matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E))
}

fn has_prefix(name: &str, prefix: &str) -> bool {
    // Browsers match the prefixes case-insensitively, so `__HOST-` gets the same rules.
    name.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

impl CookieSettings {
    /// Checks the name, Domain and Path syntax and the rules browsers enforce.
    pub fn validate(&self) -> Result<(), CookieError> {
        if !is_token(&self.name) {
            return Err(CookieError::BadName(self.name.clone()));
        }
        if let Some(d) = &self.domain {
            let host = d.strip_prefix('.').unwrap_or(d);
            let ok = !host.is_empty()
                && host.len() <= 253
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !ok {
                return Err(CookieError::BadDomain(d.clone()));
            }
        }
        let path_ok = self.path.starts_with('/')
            && self
                .path
                .bytes()
                .all(|b| (0x21..=0x7E).contains(&b) && b != b';');
        if !path_ok {
            return Err(CookieError::BadPath(self.path.clone()));
        }
        if has_prefix(&self.name, "__Host-")
            && (!self.secure || self.path != "/" || self.domain.is_some())
        {
            return Err(CookieError::HostPrefix);
        }
        if has_prefix(&self.name, "__Secure-") && !self.secure {
            return Err(CookieError::SecurePrefix);
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(CookieError::SameSiteNoneInsecure);
        }
        Ok(())
    }

    fn builder<'a>(&'a self, value: &'a str) -> cookie::CookieBuilder<'a> {
        let mut b = Cookie::build((self.name.as_str(), value))
            .path(self.path.as_str())
            .secure(self.secure)
            .http_only(self.http_only)
            .same_site(self.same_site.to_cookie());
        if let Some(d) = &self.domain {
            b = b.domain(d.as_str());
        }
        b
    }

    /// The Set-Cookie header value for `value`; with `persistent` and a lifetime, Max-Age and
    /// Expires (from `now`) are added, otherwise it is a session cookie.
    pub fn try_set_cookie(
        &self,
        value: &str,
        now: UnixTime,
        lifetime: Option<i64>,
    ) -> Result<String, CookieError> {
        self.validate()?;
        if !is_cookie_value(value) {
            return Err(CookieError::BadValue);
        }
        let mut b = self.builder(value);
        if let (true, Some(secs)) = (self.persistent, lifetime) {
            let secs = secs.max(0);
            b = b.max_age(Duration::seconds(secs));
            // Past year 9999 there is no Expires date; Max-Age alone still works.
            if let Ok(t) = OffsetDateTime::from_unix_timestamp(now.saturating_add(secs)) {
                b = b.expires(Expiration::DateTime(t));
            }
        }
        Ok(b.build().to_string())
    }

    /// Like [`CookieSettings::try_set_cookie`], for settings that passed `validate` at load and
    /// ticket values: anything else yields an empty string (emit no header), never injected text.
    pub fn set_cookie(&self, value: &str, now: UnixTime, lifetime: Option<i64>) -> String {
        self.try_set_cookie(value, now, lifetime)
            .unwrap_or_default()
    }

    /// The Set-Cookie header value that deletes the cookie: empty value, same Domain/Path/flags,
    /// `Max-Age=0` and an Expires in 1970. Empty string if the settings are invalid.
    pub fn clear_cookie(&self) -> String {
        if self.validate().is_err() {
            return String::new();
        }
        self.builder("")
            .max_age(Duration::ZERO)
            .expires(Expiration::DateTime(OffsetDateTime::UNIX_EPOCH))
            .build()
            .to_string()
    }
}

/// What the request's Cookie headers hold under one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieLookup<'a> {
    /// Not there.
    Missing,
    /// Exactly one value (or the same value repeated).
    Found(&'a str),
    /// Several different values, in header order (see the module doc on cookie tossing).
    Ambiguous(Vec<&'a str>),
}

/// Every value of cookie `name` (case-sensitive) across all Cookie headers, in order; unparsable pairs are skipped.
pub fn all_cookies<'a>(cookie_headers: impl Iterator<Item = &'a str>, name: &str) -> Vec<&'a str> {
    cookie_values(cookie_headers, name).collect()
}

/// [`all_cookies`] one value at a time.
fn cookie_values<'a: 'n, 'n>(
    cookie_headers: impl Iterator<Item = &'a str> + 'n,
    name: &'n str,
) -> impl Iterator<Item = &'a str> + 'n {
    // The pairs `Cookie::split_parse` would parse, but only those that can be named `name`
    // (the name is what precedes `=`, trimmed): every request skips parsing its other cookies.
    cookie_headers
        .flat_map(|header| header.split(';'))
        .filter(move |pair| pair.trim_start().starts_with(name))
        .filter_map(move |pair| {
            let c = Cookie::parse(pair.trim()).ok()?;
            if c.name_raw() == Some(name) {
                c.value_raw()
            } else {
                None
            }
        })
}

/// Whether a `Set-Cookie` header value sets (or clears) cookie `name` (case-sensitive).
pub fn sets_cookie(set_cookie: &str, name: &str) -> bool {
    Cookie::parse(set_cookie.trim()).is_ok_and(|c| c.name() == name)
}

/// Looks `name` up across several Cookie headers, telling one value from conflicting duplicates.
pub fn lookup_cookie<'a>(
    cookie_headers: impl Iterator<Item = &'a str>,
    name: &str,
) -> CookieLookup<'a> {
    let mut values = all_cookies(cookie_headers, name);
    match values.first() {
        None => CookieLookup::Missing,
        Some(first) if values.iter().all(|v| v == first) => CookieLookup::Found(first),
        Some(_) => {
            values.dedup();
            CookieLookup::Ambiguous(values)
        }
    }
}

/// The value of cookie `name`, or `None` when it is missing or present with different values.
pub fn find_cookie<'a>(
    cookie_headers: impl Iterator<Item = &'a str>,
    name: &str,
) -> Option<&'a str> {
    // As `lookup_cookie`, without collecting the values: this runs on every request.
    let mut found = None;
    for v in cookie_values(cookie_headers, name) {
        match found {
            None => found = Some(v),
            Some(first) if first == v => {}
            Some(_) => return None,
        }
    }
    found
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn set_cookie_names_are_read_with_the_cookie_crate() {
        assert!(sets_cookie("AuthRs_X=; Max-Age=0; Path=/", "AuthRs_X"));
        assert!(sets_cookie(" AuthRs_X=abc", "AuthRs_X"));
        assert!(!sets_cookie("AuthRs_Xy=abc", "AuthRs_X"));
        assert!(!sets_cookie("authrs_x=abc", "AuthRs_X"));
        assert!(!sets_cookie("no pair here", "AuthRs_X"));
    }

    const NOW: UnixTime = 1_795_409_468; // 2026-11-23T04:51:08Z

    #[test]
    fn default_is_secure_httponly_lax_session() {
        let s = CookieSettings::default();
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(
            s.set_cookie("abc-_123", NOW, Some(3600)),
            "authrs_ticket=abc-_123; HttpOnly; SameSite=Lax; Secure; Path=/"
        );
    }

    #[test]
    fn persistent_gets_max_age_and_expires() {
        let s = CookieSettings {
            domain: Some("example.org".into()),
            same_site: SameSite::Strict,
            persistent: true,
            ..CookieSettings::default()
        };
        assert_eq!(
            s.set_cookie("v", NOW, Some(3600)),
            "authrs_ticket=v; HttpOnly; SameSite=Strict; Secure; Path=/; Domain=example.org; \
             Max-Age=3600; Expires=Mon, 23 Nov 2026 05:51:08 GMT"
        );
        // No lifetime: still a session cookie.
        assert!(!s.set_cookie("v", NOW, None).contains("Max-Age"));
        // Far future: Max-Age only, no panic.
        let far = s.set_cookie("v", NOW, Some(i64::MAX / 2));
        assert!(
            far.contains("Max-Age=") && !far.contains("Expires"),
            "{far}"
        );
    }

    #[test]
    fn clearing_keeps_scope() {
        let s = CookieSettings {
            name: "__Secure-t".into(),
            domain: Some(".example.org".into()),
            path: "/app".into(),
            ..CookieSettings::default()
        };
        let c = s.clear_cookie();
        assert!(c.starts_with("__Secure-t=; "), "{c}");
        for part in [
            "Path=/app",
            "Domain=example.org",
            "Max-Age=0",
            "Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            "Secure",
            "HttpOnly",
        ] {
            assert!(c.contains(part), "{c} lacks {part}");
        }
    }

    #[test]
    fn prefix_and_samesite_rules() {
        let host = CookieSettings {
            name: "__Host-t".into(),
            ..CookieSettings::default()
        };
        assert_eq!(host.validate(), Ok(()));
        let cases = [
            CookieSettings {
                secure: false,
                ..host.clone()
            },
            CookieSettings {
                path: "/app".into(),
                ..host.clone()
            },
            CookieSettings {
                domain: Some("example.org".into()),
                ..host.clone()
            },
            CookieSettings {
                name: "__HOST-t".into(),
                path: "/x".into(),
                ..host.clone()
            },
        ];
        for c in cases {
            assert_eq!(c.validate(), Err(CookieError::HostPrefix), "{c:?}");
            assert_eq!(c.set_cookie("v", NOW, None), "");
            assert_eq!(c.clear_cookie(), "");
        }
        let sec = CookieSettings {
            name: "__secure-t".into(),
            secure: false,
            ..CookieSettings::default()
        };
        assert_eq!(sec.validate(), Err(CookieError::SecurePrefix));
        let none = CookieSettings {
            same_site: SameSite::None,
            secure: false,
            ..CookieSettings::default()
        };
        assert_eq!(none.validate(), Err(CookieError::SameSiteNoneInsecure));
        assert!(CookieSettings {
            same_site: SameSite::None,
            ..CookieSettings::default()
        }
        .set_cookie("v", NOW, None)
        .contains("SameSite=None"));
        assert_eq!("NONE".parse::<SameSite>(), Ok(SameSite::None));
        assert!("sometimes".parse::<SameSite>().is_err());
    }

    #[test]
    fn injection_is_refused() {
        for name in ["", "a b", "a;b", "a=b", "a\r\nb", "ä"] {
            let s = CookieSettings {
                name: name.into(),
                ..CookieSettings::default()
            };
            assert!(
                matches!(s.validate(), Err(CookieError::BadName(_))),
                "{name:?}"
            );
        }
        for d in ["", ".", "example.org; Secure", "exa mple.org", "a\nb"] {
            let s = CookieSettings {
                domain: Some(d.into()),
                ..CookieSettings::default()
            };
            assert!(
                matches!(s.validate(), Err(CookieError::BadDomain(_))),
                "{d:?}"
            );
        }
        for p in ["", "app", "/a;b", "/a b", "/a\r\n"] {
            let s = CookieSettings {
                path: p.into(),
                ..CookieSettings::default()
            };
            assert!(
                matches!(s.validate(), Err(CookieError::BadPath(_))),
                "{p:?}"
            );
        }
        let s = CookieSettings::default();
        for v in [
            "a;b",
            "a b",
            "a\r\nSet-Cookie: x=y",
            "\"q\"",
            "a,b",
            "a\\b",
            "\u{0}",
        ] {
            assert_eq!(
                s.try_set_cookie(v, NOW, None),
                Err(CookieError::BadValue),
                "{v:?}"
            );
            assert_eq!(s.set_cookie(v, NOW, None), "");
        }
    }

    #[test]
    fn finding_across_headers() {
        let h = ["a=1; authrs_ticket=T1", "other=x"];
        assert_eq!(find_cookie(h.iter().copied(), "authrs_ticket"), Some("T1"));
        assert_eq!(find_cookie(h.iter().copied(), "AUTHRS_TICKET"), None);
        assert_eq!(find_cookie(h.iter().copied(), "missing"), None);
        assert_eq!(find_cookie(["", ";;", "garbage"].into_iter(), "x"), None);
        let h = ["  authrs_ticket=T1 ;x=1", "authrs_ticket=T1"];
        assert_eq!(
            lookup_cookie(h.into_iter(), "authrs_ticket"),
            CookieLookup::Found("T1")
        );
    }

    #[test]
    fn tossed_duplicates_are_ambiguous() {
        // A sibling subdomain planted its own ticket with a narrower Path: it comes first.
        let h = ["authrs_ticket=ATTACKER; authrs_ticket=VICTIM"];
        assert_eq!(find_cookie(h.into_iter(), "authrs_ticket"), None);
        assert_eq!(
            lookup_cookie(h.into_iter(), "authrs_ticket"),
            CookieLookup::Ambiguous(vec!["ATTACKER", "VICTIM"])
        );
        let split = ["authrs_ticket=A", "authrs_ticket=B"];
        assert_eq!(
            all_cookies(split.into_iter(), "authrs_ticket"),
            vec!["A", "B"]
        );
    }

    #[test]
    fn same_value_twice_is_not_a_conflict() {
        // A browser sends the ticket twice when it holds it under two Paths with one value:
        // that is one login, not cookie tossing, and must not log the user out.
        let h = ["authrs_ticket=T1; a=1", "authrs_ticket=T1"];
        assert_eq!(find_cookie(h.into_iter(), "authrs_ticket"), Some("T1"));
        // A different value after the repeats is still tossing, whichever comes first.
        for h in [
            ["authrs_ticket=T1; authrs_ticket=T1", "authrs_ticket=T2"],
            ["authrs_ticket=T2", "authrs_ticket=T1; authrs_ticket=T1"],
        ] {
            assert_eq!(find_cookie(h.into_iter(), "authrs_ticket"), None, "{h:?}");
            assert!(matches!(
                lookup_cookie(h.into_iter(), "authrs_ticket"),
                CookieLookup::Ambiguous(v) if v.len() == 2
            ));
        }
    }

    #[test]
    fn find_cookie_agrees_with_lookup_cookie() {
        // `find_cookie` is the per-request fast path of `lookup_cookie`: it must accept exactly
        // when `lookup_cookie` finds one value.
        let cases: &[&[&str]] = &[
            &[],
            &["t=A"],
            &["t=A; t=A"],
            &["t=A", "t=A", "t=A"],
            &["t=A; t=B"],
            &["t=A; t=A; t=B"],
            &["t=B", "t=A; t=A"],
            &["x=1; t=A", "u=2"],
            &["t=; t=A"],
        ];
        for &h in cases {
            let want = match lookup_cookie(h.iter().copied(), "t") {
                CookieLookup::Found(v) => Some(v),
                CookieLookup::Missing | CookieLookup::Ambiguous(_) => None,
            };
            assert_eq!(find_cookie(h.iter().copied(), "t"), want, "{h:?}");
        }
    }

    #[test]
    fn same_site_words() {
        // The word written into Set-Cookie, printed and parsed back, in any case.
        for (s, word) in [
            (SameSite::Strict, "Strict"),
            (SameSite::Lax, "Lax"),
            (SameSite::None, "None"),
        ] {
            assert_eq!(s.as_str(), word);
            assert_eq!(s.to_string(), word);
            assert_eq!(word.parse(), Ok(s));
            assert_eq!(word.to_ascii_lowercase().parse(), Ok(s));
            assert_eq!(word.to_ascii_uppercase().parse(), Ok(s));
            let set = CookieSettings {
                same_site: s,
                ..CookieSettings::default()
            }
            .set_cookie("v", NOW, None);
            assert!(set.contains(&format!("; SameSite={word};")), "{set}");
        }
    }

    #[test]
    fn errors_name_the_bad_value() {
        // Load-time errors must tell the operator which value is wrong.
        let cases = [
            (
                CookieError::BadName("a b".into()),
                "cookie name \"a b\" is not a valid token",
            ),
            (
                CookieError::BadDomain("a;b".into()),
                "cookie domain \"a;b\" is not a host name",
            ),
            (
                CookieError::BadPath("app".into()),
                "cookie path \"app\" must start with / and have no ; or spaces",
            ),
            (
                CookieError::HostPrefix,
                "a __Host- cookie needs Secure, Path=/ and no Domain",
            ),
            (CookieError::SecurePrefix, "a __Secure- cookie needs Secure"),
            (
                CookieError::SameSiteNoneInsecure,
                "SameSite=None needs Secure",
            ),
            (
                CookieError::BadSameSite("Laxx".into()),
                "SameSite \"Laxx\" must be one of Strict, Lax, None",
            ),
            (
                CookieError::BadValue,
                "cookie value has characters a cookie cannot carry",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }

    /// What `all_cookies` did before it skipped pairs: parse every pair with the `cookie` crate.
    fn all_cookies_by_parsing_everything<'a>(header: &'a str, name: &str) -> Vec<&'a str> {
        Cookie::split_parse(header)
            .flatten()
            .filter(|c| c.name_raw() == Some(name))
            .filter_map(|c| c.value_raw())
            .collect()
    }

    #[test]
    fn skipping_other_cookies_finds_the_same_values() {
        // Every header of up to three pieces from this alphabet, and longer pseudo-random ones.
        let pieces = [
            "a=1",
            " a=2",
            "a =3",
            "ab=4",
            "b=a",
            "a",
            "=a",
            " ",
            "",
            "\ta=5 ",
            "a=",
            "a==6",
            "xa=7",
            "\u{a0}a=8",
        ];
        let mut headers: Vec<String> = vec![String::new()];
        let mut layer = vec![String::new()];
        for _ in 0..3 {
            layer = layer
                .iter()
                .flat_map(|h| pieces.iter().map(move |p| format!("{h}{p};")))
                .collect();
            headers.extend(layer.iter().cloned());
            headers.extend(layer.iter().map(|h| h.trim_end_matches(';').to_string()));
        }
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..10_000 {
            let mut h = String::new();
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            for _ in 0..(state >> 60) + 1 {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                h.push_str(pieces[(state >> 33) as usize % pieces.len()]);
                h.push(if state >> 63 == 0 { ';' } else { ' ' });
            }
            headers.push(h);
        }
        let mut found = 0;
        for h in &headers {
            for name in ["a", "ab", "b", "x", ""] {
                let want = all_cookies_by_parsing_everything(h, name);
                found += want.len();
                assert_eq!(
                    all_cookies(std::iter::once(h.as_str()), name),
                    want,
                    "{h:?} {name:?}"
                );
            }
        }
        assert!(found > 5_000, "only {found} values found");
    }
}
