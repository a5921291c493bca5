//! The default login page: `conf/login.html` with the reason in words and the destination filled in.

use crate::reason::Reason;

/// The shipped template (`conf/login.html`); `{{reason}}`, `{{message}}`, `{{destination}}` and
/// `{{action}}` are replaced, HTML-escaped; what lies between [`OPENID_START`] and
/// [`OPENID_END`] (the `openid_identifier` form) is kept only where OpenID is enabled.
pub const DEFAULT_TEMPLATE: &str = include_str!("../../conf/login.html");

/// Headers both shells send with the login page: no caching, and no framing by any site — a
/// password form inside another page can be overlaid and clicked through (clickjacking).
pub const PAGE_HEADERS: [(&str, &str); 3] = [
    ("Cache-Control", "no-store"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "frame-ancestors 'none'"),
];

/// Opens the template's OpenID section.
pub const OPENID_START: &str = "<!--openid-->";
/// Closes the template's OpenID section.
pub const OPENID_END: &str = "<!--/openid-->";

/// Escapes text for HTML element content and double-quoted attributes.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders `template` for a login page shown because of `reason` (none: a plain "please log in"),
/// posting to `action` and carrying `destination` (already untainted by the caller).
pub fn render(template: &str, reason: Option<Reason>, destination: &str, action: &str) -> String {
    render_for(template, reason, destination, action, false)
}

/// As [`render`], with the OpenID section of the template kept when `openid` (the location's
/// methods list `openid`), removed otherwise.
pub fn render_for(
    template: &str,
    reason: Option<Reason>,
    destination: &str,
    action: &str,
    openid: bool,
) -> String {
    let message = reason.unwrap_or(Reason::NoCookie).message();
    let values = [
        ("{{reason}}", html_escape(reason.map_or("", Reason::code))),
        ("{{message}}", html_escape(message)),
        ("{{destination}}", html_escape(destination)),
        ("{{action}}", html_escape(&same_origin_path(action))),
    ];
    fill(&openid_section(template, openid), &values)
}

/// Replaces each placeholder of `template` in one pass: a value is never searched again, so a
/// destination that spells `{{action}}` stays what it was.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let here = &rest[at..];
        match values.iter().find(|(name, _)| here.starts_with(name)) {
            Some((name, value)) => {
                out.push_str(value);
                rest = &here[name.len()..];
            }
            None => {
                out.push_str("{{");
                rest = &here[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `action` as a path on this origin: leading `/` and `\` collapse to one `/`, so a path the
/// request spelled `//evil.example/…` (or `/\evil.example`) can never become a form that posts
/// the password to another host (browsers read both as scheme-relative URLs).
fn same_origin_path(action: &str) -> String {
    // Browsers drop tab, CR and LF from URLs before resolving them: `/\t/evil.example` would
    // post to //evil.example. Whitespace and controls never belong in the action.
    let cleaned: String = action
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace())
        .collect();
    format!("/{}", cleaned.trim_start_matches(['/', '\\']))
}

/// The template with its OpenID sections' markers dropped (`keep`) or the sections removed.
fn openid_section(template: &str, keep: bool) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find(OPENID_START) {
        out.push_str(&rest[..start]);
        let inside = &rest[start + OPENID_START.len()..];
        let (section, after) = match inside.find(OPENID_END) {
            Some(end) => (&inside[..end], &inside[end + OPENID_END.len()..]),
            // An unclosed section runs to the end of the template.
            None => (inside, ""),
        };
        if keep {
            out.push_str(section);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The `reason` and `destination` query parameters of a login page URL (unknown reasons are dropped).
pub fn query_params(query: Option<&str>) -> (Option<Reason>, Option<String>) {
    let (mut reason, mut destination) = (None, None);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "reason" if reason.is_none() => reason = Reason::from_code(&v),
            "destination" if destination.is_none() => destination = Some(v.into_owned()),
            _ => {}
        }
    }
    (reason, destination)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_in_values_are_not_filled() {
        let page = render(
            "<a href=\"{{action}}\">{{destination}}|{{other}}|{{",
            None,
            "/app?x={{action}}&y={{reason}}",
            "/LOGIN",
        );
        assert_eq!(
            page,
            "<a href=\"/LOGIN\">/app?x={{action}}&amp;y={{reason}}|{{other}}|{{"
        );
        // Every placeholder, each as often as the template has it.
        assert_eq!(
            render(
                "{{reason}}{{message}}{{reason}}",
                Some(Reason::Expired),
                "",
                "/"
            ),
            format!("expired{}expired", html_escape(Reason::Expired.message()))
        );
    }

    #[test]
    fn renders_reason_in_words_and_escapes_everything() {
        let page = render(
            DEFAULT_TEMPLATE,
            Some(Reason::BadCredentials),
            "/app?a=1&b=\"<x>\"",
            "/LOGIN",
        );
        assert!(page.contains("The user name or password was wrong."));
        assert!(page.contains(r#"data-reason="bad_credentials""#));
        assert!(
            page.contains(r#"value="/app?a=1&amp;b=&quot;&lt;x&gt;&quot;""#),
            "{page}"
        );
        assert!(page.contains(r#"action="/LOGIN""#));
        assert!(!page.contains("{{"), "every placeholder is filled");
        assert!(page.contains(r#"name="credential_0""#) && page.contains(r#"name="credential_1""#));
    }

    #[test]
    fn the_form_never_posts_to_another_host() {
        // A path spelled with a leading `//` or `/\\` (httpd with MergeSlashes Off, Envoy without
        // merge_slashes) is a scheme-relative URL to a browser.
        for (path, want) in [
            (
                "//evil.example/../LOGIN",
                r#"action="/evil.example/../LOGIN""#,
            ),
            ("/\\evil.example/LOGIN", r#"action="/evil.example/LOGIN""#),
            ("///LOGIN", r#"action="/LOGIN""#),
            // Browsers drop tab, CR and LF before resolving: these would be //evil.example.
            ("/\t/evil.example/LOGIN", r#"action="/evil.example/LOGIN""#),
            ("/\n/evil.example/LOGIN", r#"action="/evil.example/LOGIN""#),
            (
                "/\r\n/\\evil.example/LOGIN",
                r#"action="/evil.example/LOGIN""#,
            ),
            ("/ /evil.example/LOG IN", r#"action="/evil.example/LOGIN""#),
            ("LOGIN", r#"action="/LOGIN""#),
            ("/LOGIN", r#"action="/LOGIN""#),
        ] {
            let page = render(DEFAULT_TEMPLATE, None, "/", path);
            assert!(page.contains(want), "{path}: {page}");
        }
    }

    #[test]
    fn openid_form_only_where_openid_is_enabled() {
        let plain = render(DEFAULT_TEMPLATE, None, "/app/", "/LOGIN");
        assert!(!plain.contains("openid_identifier"), "{plain}");
        assert!(!plain.contains("<!--"), "{plain}");
        let with = render_for(DEFAULT_TEMPLATE, None, "/app/", "/LOGIN", true);
        assert!(with.contains(r#"name="openid_identifier""#), "{with}");
        assert!(!with.contains(OPENID_START) && !with.contains(OPENID_END));
        // Both forms post to the handler with the destination.
        assert_eq!(with.matches(r#"action="/LOGIN""#).count(), 2);
        assert_eq!(
            with.matches(r#"name="destination" value="/app/""#).count(),
            2
        );
        assert_eq!(
            openid_section("a<!--openid-->b<!--/openid-->c", false),
            "ac"
        );
        assert_eq!(openid_section("a<!--openid-->b", false), "a");
        assert_eq!(openid_section("a<!--openid-->b", true), "ab");
    }

    #[test]
    fn query_parameters() {
        let (r, d) = query_params(Some(
            "reason=expired&destination=%2Fapp%2F%3Fx%3D1&reason=forbidden",
        ));
        assert_eq!(r, Some(Reason::Expired));
        assert_eq!(d.as_deref(), Some("/app/?x=1"));
        let (r, d) = query_params(Some("reason=<script>"));
        assert_eq!((r, d), (None, None));
        assert_eq!(query_params(None), (None, None));
    }
}
