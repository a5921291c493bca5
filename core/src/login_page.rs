//! The default login page: `conf/login.html` with the reason in words and the destination filled in.

use crate::reason::Reason;

/// The shipped template (`conf/login.html`); `{{reason}}`, `{{message}}`, `{{destination}}` and
/// `{{action}}` are replaced, HTML-escaped; `{{openid}}` by the OpenID form or nothing.
pub const DEFAULT_TEMPLATE: &str = include_str!("../../conf/login.html");

/// The OpenID form put in place of `{{openid}}` (its own placeholders filled the same way).
const OPENID_FORM: &str = r#"<form method="post" action="{{action}}" id="openid">
  <input type="hidden" name="destination" value="{{destination}}">
  <label for="openid_identifier">Or log in with your OpenID</label>
  <input type="text" id="openid_identifier" name="openid_identifier" autocomplete="url" inputmode="url" required>
  <button type="submit">Log in with OpenID</button>
</form>"#;

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
    render_with_openid(template, reason, destination, action, false)
}

/// [`render`], plus a second form posting `openid_identifier` to `action` when `openid` (the
/// login endpoint's methods list `openid`).
pub fn render_with_openid(
    template: &str,
    reason: Option<Reason>,
    destination: &str,
    action: &str,
    openid: bool,
) -> String {
    let message = reason.unwrap_or(Reason::NoCookie).message();
    let openid_form = if openid {
        OPENID_FORM
            .replace("{{destination}}", &html_escape(destination))
            .replace("{{action}}", &html_escape(action))
    } else {
        String::new()
    };
    template
        .replace("{{openid}}", &openid_form)
        .replace("{{reason}}", &html_escape(reason.map_or("", Reason::code)))
        .replace("{{message}}", &html_escape(message))
        .replace("{{destination}}", &html_escape(destination))
        .replace("{{action}}", &html_escape(action))
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
        assert!(!page.contains("openid_identifier"), "{page}");
    }

    #[test]
    fn the_openid_form_is_offered_when_asked_and_escaped() {
        let page = render_with_openid(DEFAULT_TEMPLATE, None, "/a?\"<x>", "/LOGIN", true);
        assert!(page.contains(r#"name="openid_identifier""#), "{page}");
        assert_eq!(
            page.matches(r#"value="/a?&quot;&lt;x&gt;""#).count(),
            2,
            "{page}"
        );
        assert_eq!(page.matches(r#"action="/LOGIN""#).count(), 2, "{page}");
        assert!(!page.contains("{{"), "{page}");
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
