//! Login form bodies (`credential_N`, `destination`), destination untainting, login redirects.
//!
//! The form is AuthCookie's: `credential_0` (the user), `credential_1` (the
//! password), further `credential_N` for other schemes, and `destination`,
//! the page to return to — which must be untainted before it becomes a
//! `Location` header, or the login page is an open redirect.

use std::fmt;

use percent_encoding::percent_decode_str;
use url::{form_urlencoded, Url};

use crate::reason::Reason;

/// The largest login body accepted, in bytes.
pub const MAX_BODY: usize = 16 * 1024;
/// The most `credential_N` fields a form may carry (`credential_0` … `credential_9`).
pub const MAX_CREDENTIALS: usize = 10;
/// The longest password checked (bytes); longer ones fail as `bad_credentials` unchecked:
/// SHA-crypt's work grows with the square of the password's length.
pub const MAX_PASSWORD: usize = 1024;
/// The longest destination kept; longer ones fall back to the default.
pub const MAX_DESTINATION: usize = 2048;

/// Why a login body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormError {
    /// The body is over [`MAX_BODY`] bytes.
    TooLarge {
        /// The body's length.
        len: usize,
    },
    /// The body, or a percent-decoded field, is not UTF-8.
    NotUtf8,
    /// No `credential_0` field.
    MissingCredential0,
    /// A field given twice (`credential_1=a&credential_1=b`).
    Duplicate {
        /// The field name.
        field: String,
    },
    /// A `credential_N` with N ≥ [`MAX_CREDENTIALS`].
    TooManyCredentials,
    /// `credential_N` present but an earlier one missing.
    Gap {
        /// The first missing index.
        missing: usize,
    },
    /// A control character (NUL, CR, LF, TAB, …) in a credential.
    ControlChar {
        /// The field name.
        field: String,
    },
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::TooLarge { len } => {
                write!(
                    f,
                    "login body of {len} bytes is over the {MAX_BODY}-byte limit"
                )
            }
            FormError::NotUtf8 => f.write_str("login body is not UTF-8"),
            FormError::MissingCredential0 => f.write_str("login body has no credential_0"),
            FormError::Duplicate { field } => write!(f, "login body repeats {field}"),
            FormError::TooManyCredentials => {
                write!(f, "login body has more than {MAX_CREDENTIALS} credentials")
            }
            FormError::Gap { missing } => {
                write!(f, "login body skips credential_{missing}")
            }
            FormError::ControlChar { field } => {
                write!(f, "login body has a control character in {field}")
            }
        }
    }
}

impl std::error::Error for FormError {}

/// A parsed login form: credentials in index order, and the requested destination (still tainted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginForm {
    /// `credential_0`, `credential_1`, … contiguous from 0.
    pub credentials: Vec<String>,
    /// The raw `destination` field; pass it through [`DestinationPolicy::untaint`].
    pub destination: Option<String>,
}

impl LoginForm {
    /// Parses an `application/x-www-form-urlencoded` body; other fields (a submit button) are ignored.
    pub fn parse(body: &[u8]) -> Result<LoginForm, FormError> {
        if body.len() > MAX_BODY {
            return Err(FormError::TooLarge { len: body.len() });
        }
        std::str::from_utf8(body).map_err(|_| FormError::NotUtf8)?;
        let mut slots: [Option<String>; MAX_CREDENTIALS] = Default::default();
        let mut destination = None;
        for (key, value) in form_urlencoded::parse(body) {
            // form_urlencoded decodes lossily: a replacement char means a bad %XX sequence.
            if key.contains('\u{FFFD}') || value.contains('\u{FFFD}') {
                return Err(FormError::NotUtf8);
            }
            if key == "destination" {
                if destination.replace(value.into_owned()).is_some() {
                    return Err(FormError::Duplicate {
                        field: key.into_owned(),
                    });
                }
                continue;
            }
            let Some(index) = credential_index(&key)? else {
                continue;
            };
            if value.chars().any(char::is_control) {
                return Err(FormError::ControlChar {
                    field: key.into_owned(),
                });
            }
            if slots[index].replace(value.into_owned()).is_some() {
                return Err(FormError::Duplicate {
                    field: key.into_owned(),
                });
            }
        }
        let count = slots
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |last| last + 1);
        let mut credentials = Vec::with_capacity(count);
        for (index, slot) in slots.into_iter().take(count).enumerate() {
            match slot {
                Some(value) => credentials.push(value),
                None if index == 0 => return Err(FormError::MissingCredential0),
                None => return Err(FormError::Gap { missing: index }),
            }
        }
        if credentials.is_empty() {
            return Err(FormError::MissingCredential0);
        }
        Ok(LoginForm {
            credentials,
            destination,
        })
    }
}

/// The index of a `credential_N` field; `None` for other fields. Leading zeros and signs are other fields.
fn credential_index(key: &str) -> Result<Option<usize>, FormError> {
    let Some(digits) = key.strip_prefix("credential_") else {
        return Ok(None);
    };
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return Ok(None);
    }
    match digits.parse::<usize>() {
        Ok(n) if n < MAX_CREDENTIALS => Ok(Some(n)),
        _ => Err(FormError::TooManyCredentials),
    }
}

/// Where a login may send the browser afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationPolicy {
    /// Used whenever the requested destination is missing or unsafe (trusted configuration).
    pub default_destination: String,
    /// Hosts absolute `http(s)://` destinations may name: `app.example` (any port) or `app.example:8443`.
    pub allowed_hosts: Vec<String>,
}

/// A base no real request has, so a relative destination that escapes the origin shows.
const DUMMY_ORIGIN: &str = "https://authrs.invalid/";

impl DestinationPolicy {
    /// Returns a safe redirect target: a same-origin path (`/…`) or an allow-listed http(s) URL,
    /// re-serialised by the `url` crate; anything else yields the default destination.
    ///
    /// What is kept is at most [`MAX_DESTINATION`] bytes also after re-serialisation (which
    /// percent-encodes non-ASCII), so an answer passed back in (the login page round-trips it)
    /// is kept again.
    pub fn untaint(&self, destination: Option<&str>) -> String {
        destination
            .and_then(|d| self.checked(d))
            .filter(|kept| kept.len() <= MAX_DESTINATION)
            .unwrap_or_else(|| self.default_destination.clone())
    }

    fn checked(&self, dest: &str) -> Option<String> {
        if dest.is_empty() || dest.len() > MAX_DESTINATION || !plain(dest) {
            return None;
        }
        // Look through one layer of percent-encoding for %0d%0a, %5c and /%2F%2Fhost tricks.
        let decoded = percent_decode_str(dest).decode_utf8().ok()?;
        if !plain(&decoded) {
            return None;
        }
        if dest.starts_with('/') {
            if dest.starts_with("//") || decoded.starts_with("//") {
                return None;
            }
            let base = Url::parse(DUMMY_ORIGIN).ok()?;
            let url = base.join(dest).ok()?;
            if url.origin() != base.origin()
                || !url.username().is_empty()
                || url.password().is_some()
            {
                return None;
            }
            let path = percent_decode_str(url.path()).decode_utf8().ok()?;
            if path.starts_with("//") {
                return None;
            }
            return Some(url[url::Position::BeforePath..].to_string());
        }
        let scheme_len = dest.find("://")?;
        if !matches!(
            dest[..scheme_len].to_ascii_lowercase().as_str(),
            "http" | "https"
        ) {
            return None;
        }
        let url = Url::parse(dest).ok()?;
        if !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let host = url.host_str()?;
        let port = url.port_or_known_default()?;
        let allowed = self
            .allowed_hosts
            .iter()
            .any(|entry| allows(entry, host, port));
        allowed.then(|| url.to_string())
    }
}

/// Whether allow-list `entry` names `host` (as `Url::host_str` writes it) on `port`:
/// `app.example` (any port), `app.example:8443`, `[::1]`, `[::1]:8443`.
fn allows(entry: &str, host: &str, port: u16) -> bool {
    // An IPv6 host keeps its brackets; only what follows `]` can be a port.
    let (name, port_text) = match entry.find(']') {
        Some(end) if entry.starts_with('[') => match &entry[end + 1..] {
            "" => (entry, None),
            rest => (&entry[..=end], Some(rest.strip_prefix(':').unwrap_or(rest))),
        },
        _ if entry.starts_with('[') => return false,
        _ => match entry.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (entry, None),
        },
    };
    name.eq_ignore_ascii_case(host) && port_text.is_none_or(|p| p.parse::<u16>() == Ok(port))
}

/// No control character, no whitespace, no backslash: nothing a browser or header parser reinterprets.
fn plain(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
}

/// The login page URL with `destination` and `reason` added as properly encoded query parameters.
///
/// Appends with `&` when the login URL already has a query, and keeps any `#fragment` last.
pub fn login_redirect(login_url: &str, destination: &str, reason: Reason) -> String {
    let (base, fragment) = match login_url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (login_url, None),
    };
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("destination", destination)
        .append_pair("reason", reason.code())
        .finish();
    let sep = match base.find('?') {
        None => "?",
        Some(_) if base.ends_with('?') || base.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut out = format!("{base}{sep}{query}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn form(body: &str) -> Result<LoginForm, FormError> {
        LoginForm::parse(body.as_bytes())
    }

    #[test]
    fn parses_authcookie_form() {
        let f = form("credential_0=alice&credential_1=p%C3%A4ss+word%26%3D&destination=%2Fapp%2F%3Fa%3D1&submit=Log+in").unwrap();
        assert_eq!(f.credentials, ["alice", "päss word&="]);
        assert_eq!(f.destination.as_deref(), Some("/app/?a=1"));
        let f = form("credential_1=pw&credential_0=bob").unwrap();
        assert_eq!(f.credentials, ["bob", "pw"]);
        assert_eq!(f.destination, None);
        assert_eq!(form("credential_0=").unwrap().credentials, [""]);
        // Lookalike names are other fields, not credentials.
        assert_eq!(
            form("credential_0=a&credential_01=x&credential_=y&Credential_1=z")
                .unwrap()
                .credentials,
            ["a"]
        );
    }

    #[test]
    fn refuses_bad_forms() {
        assert_eq!(form(""), Err(FormError::MissingCredential0));
        assert_eq!(form("credential_1=pw"), Err(FormError::MissingCredential0));
        assert_eq!(
            form("credential_0=a&credential_2=b"),
            Err(FormError::Gap { missing: 1 })
        );
        assert_eq!(
            form("credential_0=a&credential_0=b"),
            Err(FormError::Duplicate {
                field: "credential_0".into()
            })
        );
        assert_eq!(
            form("credential_0=a&destination=/x&destination=//evil"),
            Err(FormError::Duplicate {
                field: "destination".into()
            })
        );
        assert_eq!(
            form("credential_0=a&credential_10=b"),
            Err(FormError::TooManyCredentials)
        );
        assert_eq!(
            form("credential_0=a&credential_99999999999999999999999=b"),
            Err(FormError::TooManyCredentials)
        );
        assert_eq!(
            form("credential_0=a%0d%0aSet-Cookie:x"),
            Err(FormError::ControlChar {
                field: "credential_0".into()
            })
        );
        assert_eq!(
            form("credential_0=a&credential_1=p%00w"),
            Err(FormError::ControlChar {
                field: "credential_1".into()
            })
        );
        assert_eq!(form("credential_0=%ff"), Err(FormError::NotUtf8));
        assert_eq!(
            LoginForm::parse(b"credential_0=\xff"),
            Err(FormError::NotUtf8)
        );
        let big = format!("credential_0=a&x={}", "y".repeat(MAX_BODY));
        assert!(matches!(form(&big), Err(FormError::TooLarge { .. })));
        let mut all = String::from("credential_0=0");
        for i in 1..MAX_CREDENTIALS {
            all.push_str(&format!("&credential_{i}={i}"));
        }
        assert_eq!(form(&all).unwrap().credentials.len(), MAX_CREDENTIALS);
        // The log line names what was wrong with the body.
        assert_eq!(
            FormError::Gap { missing: 1 }.to_string(),
            "login body skips credential_1"
        );
    }

    /// The body cap is inclusive: exactly [`MAX_BODY`] bytes parse, one byte more is refused
    /// unparsed (the limit an attacker probes when flooding the login handler).
    #[test]
    fn body_limit_is_exact() {
        let prefix = "credential_0=a&x=";
        let at_limit = format!("{prefix}{}", "y".repeat(MAX_BODY - prefix.len()));
        assert_eq!(at_limit.len(), MAX_BODY);
        assert_eq!(form(&at_limit).unwrap().credentials, ["a"]);
        assert_eq!(
            form(&format!("{at_limit}y")),
            Err(FormError::TooLarge { len: MAX_BODY + 1 })
        );
    }

    fn policy() -> DestinationPolicy {
        DestinationPolicy {
            default_destination: "/".into(),
            allowed_hosts: vec!["app.example".into(), "Admin.Example:8443".into()],
        }
    }

    fn untaint(d: &str) -> String {
        policy().untaint(Some(d))
    }

    /// IPv6 hosts as `AuthRsAllowedDestinations` stores them (`[::1]`, bracketed), with or
    /// without a port; the brackets never pass for a port separator.
    #[test]
    fn ipv6_allowed_hosts_match() {
        let p = DestinationPolicy {
            default_destination: "/home".into(),
            allowed_hosts: vec![
                crate::config::parse_host("[::1]").unwrap(),
                "[2001:db8::7]:8443".into(),
                "[2001:db8::9".into(),
            ],
        };
        let u = |d: &str| p.untaint(Some(d));
        assert_eq!(u("https://[::1]/x"), "https://[::1]/x");
        assert_eq!(u("http://[::1]:8080/x"), "http://[::1]:8080/x");
        assert_eq!(
            u("https://[2001:db8::7]:8443/y"),
            "https://[2001:db8::7]:8443/y"
        );
        assert_eq!(u("https://[2001:db8::7]/y"), "/home", "another port");
        assert_eq!(u("https://[2001:db8::8]:8443/y"), "/home", "another host");
        assert_eq!(
            u("https://[2001:db8::9]/y"),
            "/home",
            "an unclosed entry matches nothing"
        );
        assert_eq!(u("https://[::2]/x"), "/home");
    }

    #[test]
    fn keeps_safe_destinations() {
        assert_eq!(
            untaint("/app/page?x=1&y=%2F#top"),
            "/app/page?x=1&y=%2F#top"
        );
        assert_eq!(untaint("/a/../b"), "/b");
        assert_eq!(untaint("/caf%C3%A9"), "/caf%C3%A9");
        assert_eq!(
            untaint("https://app.example/x?q=1"),
            "https://app.example/x?q=1"
        );
        assert_eq!(
            untaint("HTTP://APP.EXAMPLE:8080/x"),
            "http://app.example:8080/x"
        );
        assert_eq!(
            untaint("https://admin.example:8443/"),
            "https://admin.example:8443/"
        );
        assert_eq!(policy().untaint(None), "/");
        assert_eq!(untaint(""), "/");
    }

    #[test]
    fn refuses_open_redirects() {
        for evil in [
            "//evil.example/",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "/%5Cevil.example",
            "/x%0d%0aSet-Cookie:%20a=b",
            "/x\r\nSet-Cookie: a=b",
            "/x\ty",
            "/x\0",
            "/x y",
            "/\u{85}x",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "https://evil.example/",
            "https://app.example.evil.example/",
            "https://app.example@evil.example/",
            "https://user:pw@app.example/",
            "https://evil.example\\@app.example/",
            "https://admin.example/",
            "https://admin.example:9443/",
            "ftp://app.example/",
            "app.example/x",
            "page.html",
            "https:app.example",
            "https:/\\evil.example",
            "http://%65vil.example/",
            "/%ff",
        ] {
            assert_eq!(untaint(evil), "/", "{evil:?}");
        }
        assert_eq!(untaint(&format!("/{}", "a".repeat(MAX_DESTINATION))), "/");
    }

    /// The destination cap is inclusive: exactly [`MAX_DESTINATION`] bytes are kept.
    #[test]
    fn destination_limit_is_exact() {
        let at_limit = format!("/{}", "a".repeat(MAX_DESTINATION - 1));
        assert_eq!(untaint(&at_limit), at_limit);
    }

    /// Re-serialisation percent-encodes non-ASCII (one 4-byte character becomes 12 bytes): a
    /// destination under the cap that grows past it is not kept, so whatever untaint answers it
    /// answers again when its answer comes back (found by the `destination` fuzz target).
    #[test]
    fn kept_destination_fits_the_cap_after_encoding() {
        let grows = format!("/{}", "\u{4d58f}".repeat(MAX_DESTINATION / 8));
        assert!(grows.len() < MAX_DESTINATION);
        assert_eq!(untaint(&grows), "/");
        let fits = format!("/{}", "\u{4d58f}".repeat((MAX_DESTINATION - 1) / 12));
        let kept = untaint(&fits);
        assert_eq!(
            kept,
            format!("/{}", "%F1%8D%96%8F".repeat((MAX_DESTINATION - 1) / 12))
        );
        assert!(kept.len() <= MAX_DESTINATION);
        assert_eq!(untaint(&kept), kept);
    }

    /// Userinfo in an allow-listed URL (`https://user@app.example/`) is refused even without a
    /// password, and a password without a user too: either half is a phishing lure.
    #[test]
    fn refuses_either_half_of_userinfo() {
        for evil in [
            "https://user@app.example/",
            "https://:pw@app.example/",
            "http://app.example@app.example/",
        ] {
            assert_eq!(untaint(evil), "/", "{evil:?}");
        }
    }

    /// A path that reads as `//host` once decoded is refused outright, even when dot-segments
    /// would normalise the `//` away: the decoded check does not lean on the later path check.
    #[test]
    fn refuses_encoded_double_slash_before_normalising() {
        assert_eq!(untaint("/%2F%2Fevil.example/../x"), "/");
        assert_eq!(untaint("/%2f/evil.example/../../x"), "/");
        // Without the encoded slashes the same shape is an ordinary relative path.
        assert_eq!(untaint("/evil.example/../x"), "/x");
    }

    /// Dot-segments can assemble `//host` out of a path that neither starts with `//` nor
    /// decodes to one (`/.//evil.example` normalises to `//evil.example`, which a browser reads
    /// as scheme-relative): the normalised path is checked too. No mutation operator reaches
    /// that check, so it is pinned here.
    #[test]
    fn refuses_double_slash_made_by_dot_segments() {
        for evil in [
            "/.//evil.example",
            "/./%2Fevil.example",
            "/a/..//evil.example",
            "/%2e//evil.example",
            "/%2E%2E//evil.example/x?y#z",
            "/a/b/../..//evil.example",
        ] {
            assert_eq!(untaint(evil), "/", "{evil:?}");
        }
        // A doubled slash further in is an ordinary same-origin path.
        assert_eq!(untaint("/a//b"), "/a//b");
        assert_eq!(untaint("/./a"), "/a");
    }

    #[test]
    fn login_redirect_encodes() {
        assert_eq!(
            login_redirect("/login", "/app?a=1&b=2", Reason::Expired),
            "/login?destination=%2Fapp%3Fa%3D1%26b%3D2&reason=expired"
        );
        assert_eq!(
            login_redirect(
                "https://sso.example/login?lang=en#form",
                "/x y\r\n",
                Reason::NoCookie
            ),
            "https://sso.example/login?lang=en&destination=%2Fx+y%0D%0A&reason=no_cookie#form"
        );
        assert_eq!(
            login_redirect("/login?", "/", Reason::BadCredentials),
            "/login?destination=%2F&reason=bad_credentials"
        );
    }
}
