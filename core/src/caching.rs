//! Keeping shared caches (mod_cache, a CDN) off a response that carries a refreshed ticket:
//! one `Cache-Control` with `private` and without what lets a shared cache store it, and no
//! CDN-only caching headers. Both shells apply it to the application's own headers.

/// Response headers that carry caching directives for CDNs only, and override `Cache-Control`
/// there: removed from a response that carries a refreshed ticket.
pub const CDN_CACHE_HEADERS: [&str; 4] = [
    "cdn-cache-control",
    "surrogate-control",
    "cloudflare-cdn-cache-control",
    "edge-control",
];

/// The one `Cache-Control` value for a response that carries a refreshed ticket: the
/// upstream's directives (all its `Cache-Control` values) without `public` and `s-maxage`,
/// plus `private` — so no shared cache keeps the ticket, whichever line it reads.
pub fn private_cache_control<'a>(upstream: impl Iterator<Item = &'a str>) -> String {
    let mut out: Vec<&str> = Vec::new();
    for directive in upstream.flat_map(directives) {
        let name = directive.split('=').next().unwrap_or("").trim();
        let shared = name.eq_ignore_ascii_case("public") || name.eq_ignore_ascii_case("s-maxage");
        if !directive.is_empty() && !shared && !out.contains(&directive) {
            out.push(directive);
        }
    }
    if !out.iter().any(|d| d.eq_ignore_ascii_case("private")) {
        out.push("private");
    }
    out.join(", ")
}

/// The comma-separated directives of one `Cache-Control` value, trimmed; a comma inside a
/// quoted string (`no-cache="Set-Cookie, X-Y"`) does not separate.
fn directives(value: &str) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, b) in value.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                parts.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    parts.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refreshed_ticket_makes_the_response_private_in_one_header() {
        assert_eq!(private_cache_control(std::iter::empty()), "private");
        assert_eq!(
            private_cache_control(["public, s-maxage=600", "max-age=60"].into_iter()),
            "max-age=60, private"
        );
        assert_eq!(
            private_cache_control(["no-store, Private"].into_iter()),
            "no-store, Private"
        );
        assert_eq!(
            private_cache_control(["PUBLIC,S-MAXAGE = 5, no-transform"].into_iter()),
            "no-transform, private"
        );
        // A quoted list stays one directive.
        assert_eq!(
            private_cache_control([r#"public, no-cache="Set-Cookie, X-Y", max-age=5"#].into_iter()),
            r#"no-cache="Set-Cookie, X-Y", max-age=5, private"#
        );
    }
}
