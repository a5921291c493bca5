//! Identifier normalization (OpenID 2.0 §7.2, the seed's `claimed_identity` input rules).
//!
//! User input may lack a scheme, carry whitespace or a fragment; the result is
//! an absolute http(s) URL without fragment, normalized by the `url` crate
//! (lower-case scheme and host, default port dropped, `/` path for a bare
//! host). XRIs (`=name`, `@org`, `xri://…`) are not supported, like the seed.

use super::error::{ErrorCode, OpenIdError};
use url::Url;

/// The longest identifier accepted, in bytes (URLs longer than this are not identities).
pub const MAX_IDENTIFIER_BYTES: usize = 2048;

/// Normalizes user input into the URL to discover: `empty_url` / `bogus_url` when it cannot be one.
pub fn normalize(input: &str) -> Result<Url, OpenIdError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(ErrorCode::EmptyUrl.into());
    }
    if s.len() > MAX_IDENTIFIER_BYTES {
        return Err(OpenIdError::with(
            ErrorCode::BogusUrl,
            "identifier is too long",
        ));
    }
    if is_xri(s) {
        return Err(OpenIdError::with(
            ErrorCode::BogusUrl,
            "XRI identifiers are not supported",
        ));
    }
    let with_scheme;
    let s = if has_scheme(s) {
        s
    } else {
        with_scheme = format!("http://{s}");
        &with_scheme
    };
    let mut url = Url::parse(s)
        .map_err(|e| OpenIdError::with(ErrorCode::BogusUrl, format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OpenIdError::with(
            ErrorCode::BogusUrl,
            format!("scheme {:?} is not http or https", url.scheme()),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(OpenIdError::with(ErrorCode::BogusUrl, "URL has no host"));
    }
    // `https://bank.example@evil.example/` names evil.example but reads as bank.example in a
    // log line or to an application that gets it as the user.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(OpenIdError::with(
            ErrorCode::BogusUrl,
            "user information (user@host) in an identifier",
        ));
    }
    url.set_fragment(None);
    Ok(url)
}

/// True for XRI syntax: a global context symbol first, or the `xri://` scheme (2.0 §7.2).
fn is_xri(s: &str) -> bool {
    s.starts_with(['=', '@', '+', '$', '!', '('])
        || s.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("xri://"))
}

/// True when `s` starts with `word://` (the seed's `^\w+://`).
fn has_scheme(s: &str) -> bool {
    s.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Compares two identifier URLs as 2.0 §11.2 does: normalized, fragments ignored.
pub fn same_without_fragment(a: &str, b: &str) -> bool {
    match (Url::parse(a), Url::parse(b)) {
        (Ok(mut a), Ok(mut b)) => {
            a.set_fragment(None);
            b.set_fragment(None);
            a == b
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        normalize(s).unwrap().to_string()
    }

    fn code(s: &str) -> ErrorCode {
        normalize(s).unwrap_err().code
    }

    #[test]
    fn user_input_becomes_a_url() {
        assert_eq!(ok("  example.com  "), "http://example.com/");
        assert_eq!(ok("Example.COM/alice"), "http://example.com/alice");
        assert_eq!(
            ok("https://example.com:443/a#frag"),
            "https://example.com/a"
        );
        assert_eq!(ok("HTTP://example.com:8080"), "http://example.com:8080/");
        assert_eq!(ok("\texample.com/?q=1\n"), "http://example.com/?q=1");
    }

    #[test]
    fn refusals_are_named() {
        assert_eq!(code(""), ErrorCode::EmptyUrl);
        assert_eq!(code(" \t\n "), ErrorCode::EmptyUrl);
        assert_eq!(code("ftp://example.com/"), ErrorCode::BogusUrl);
        assert_eq!(code("javascript://x"), ErrorCode::BogusUrl);
        assert_eq!(code("=alice"), ErrorCode::BogusUrl);
        assert_eq!(code("@example*org"), ErrorCode::BogusUrl);
        assert_eq!(code("xri://=alice"), ErrorCode::BogusUrl);
        assert_eq!(code("http://"), ErrorCode::BogusUrl);
        assert_eq!(
            code("https://bank.example@evil.example/"),
            ErrorCode::BogusUrl
        );
        assert_eq!(code("bank.example:pw@evil.example/"), ErrorCode::BogusUrl);
        assert_eq!(
            code(&"a".repeat(MAX_IDENTIFIER_BYTES + 1)),
            ErrorCode::BogusUrl
        );
    }

    #[test]
    fn length_limit_and_scheme_words() {
        // Exactly MAX_IDENTIFIER_BYTES is still an identifier.
        let base = "http://example.com/";
        let at_most = format!("{base}{}", "a".repeat(MAX_IDENTIFIER_BYTES - base.len()));
        assert_eq!(ok(&at_most), at_most);
        // A scheme is a word (`^\w+://`, `_` included): `ex_1://` is one, and not http.
        assert_eq!(code("ex_1://host/"), ErrorCode::BogusUrl);
        // A non-word before `://` is no scheme: the input is read as a host, as the seed does.
        assert!(ok("a-b://x").starts_with("http://a-b"));
    }

    #[test]
    fn fragment_insensitive_comparison() {
        assert!(same_without_fragment(
            "http://a.example/x#1",
            "http://A.example:80/x"
        ));
        assert!(!same_without_fragment(
            "http://a.example/x",
            "https://a.example/x"
        ));
        assert!(!same_without_fragment("http://a.example/x", "not a url"));
    }
}
