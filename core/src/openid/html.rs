//! HTML-based discovery (2.0 §7.3.3) and the Yadis `<meta http-equiv>` pointer.
//!
//! Tokenized with `html5gum` (WHATWG tokenizer: comments, character
//! references, quoting, and script/style contents are handled as browsers
//! do), reading `<link>` and `<meta>` tags until `</head>` or `<body>`.
//! `rel` is a space-separated list (2.0 §7.3.3); the first tag for each
//! relation wins.

use html5gum::{DefaultEmitter, Token, Tokenizer};

/// The discovery facts of one HTML document's head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlLinks {
    /// `<link rel="openid2.provider" href>`: an OpenID 2.0 endpoint.
    pub openid2_provider: Option<String>,
    /// `<link rel="openid2.local_id" href>`: the 2.0 OP-local identifier.
    pub openid2_local_id: Option<String>,
    /// `<link rel="openid.server" href>`: an OpenID 1.x endpoint.
    pub openid_server: Option<String>,
    /// `<link rel="openid.delegate" href>`: the 1.x delegate.
    pub openid_delegate: Option<String>,
    /// `<meta http-equiv="X-XRDS-Location" content>`: where the Yadis document is.
    pub xrds_location: Option<String>,
}

/// Reads the head of an HTML document (bytes; invalid UTF-8 is replaced, never an error).
pub fn scan(document: &[u8]) -> HtmlLinks {
    let mut links = HtmlLinks::default();
    let mut emitter = DefaultEmitter::default();
    // Switch to RAWTEXT/script states on <script>, <style>, <title>…, so markup inside them is text.
    emitter.naively_switch_states(true);
    for token in Tokenizer::new_with_emitter(document, emitter) {
        let Ok(token) = token;
        match token {
            Token::StartTag(tag) if tag.name.as_slice() == b"body" => break,
            Token::EndTag(tag) if tag.name.as_slice() == b"head" => break,
            Token::StartTag(tag) if tag.name.as_slice() == b"link" => {
                let attr = |n: &[u8]| {
                    tag.attributes
                        .get(n)
                        .map(|v| String::from_utf8_lossy(&v.value).trim().to_string())
                };
                let (Some(rel), Some(href)) = (attr(b"rel"), attr(b"href")) else {
                    continue;
                };
                for r in rel.split_ascii_whitespace() {
                    let slot = match r.to_ascii_lowercase().as_str() {
                        "openid2.provider" => &mut links.openid2_provider,
                        "openid2.local_id" => &mut links.openid2_local_id,
                        "openid.server" => &mut links.openid_server,
                        "openid.delegate" => &mut links.openid_delegate,
                        _ => continue,
                    };
                    slot.get_or_insert_with(|| href.clone());
                }
            }
            Token::StartTag(tag) if tag.name.as_slice() == b"meta" => {
                let equiv = tag.attributes.get(b"http-equiv".as_slice());
                let content = tag.attributes.get(b"content".as_slice());
                if let (Some(e), Some(c)) = (equiv, content) {
                    if e.value.eq_ignore_ascii_case(b"x-xrds-location") {
                        links.xrds_location.get_or_insert_with(|| {
                            String::from_utf8_lossy(&c.value).trim().to_string()
                        });
                    }
                }
            }
            _ => {}
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_both_generations() {
        let doc = br#"<!DOCTYPE html><html><head><title>me</title>
            <link rel="openid2.provider openid.server" href=" https://op.example/auth ">
            <LINK REL="openid2.local_id" HREF="https://op.example/u/alice">
            <link rel=openid.delegate href=https://op.example/u/alice>
            <meta http-equiv="X-XRDS-Location" content="https://me.example/yadis.xrds">
            </head><body>hi</body></html>"#;
        let l = scan(doc);
        assert_eq!(
            l.openid2_provider.as_deref(),
            Some("https://op.example/auth")
        );
        assert_eq!(l.openid_server.as_deref(), Some("https://op.example/auth"));
        assert_eq!(
            l.openid2_local_id.as_deref(),
            Some("https://op.example/u/alice")
        );
        assert_eq!(
            l.openid_delegate.as_deref(),
            Some("https://op.example/u/alice")
        );
        assert_eq!(
            l.xrds_location.as_deref(),
            Some("https://me.example/yadis.xrds")
        );
    }

    #[test]
    fn entities_are_decoded_and_first_wins() {
        let doc = br#"<head><link rel="openid2.provider" href="https://op.example/a?x=1&amp;y=2">
            <link rel="openid2.provider" href="https://evil.example/"></head>"#;
        assert_eq!(
            scan(doc).openid2_provider.as_deref(),
            Some("https://op.example/a?x=1&y=2")
        );
    }

    #[test]
    fn markup_in_comments_scripts_and_body_is_ignored() {
        // An attacker who can put text on the identity page must not be able to name a provider.
        let doc = br#"<html><head>
            <!-- <link rel="openid2.provider" href="https://evil.example/1"> -->
            <script>var s = '<link rel="openid2.provider" href="https://evil.example/2">';</script>
            <style>/* <link rel="openid.server" href="https://evil.example/3"> */</style>
            <title><link rel="openid.server" href="https://evil.example/4"></title>
            </head><body><link rel="openid2.provider" href="https://evil.example/5"></body>"#;
        assert_eq!(scan(doc), HtmlLinks::default());
    }

    #[test]
    fn garbage_is_no_links() {
        assert_eq!(scan(b"\xff\xfe<<<>>><link"), HtmlLinks::default());
        assert_eq!(scan(b""), HtmlLinks::default());
        assert_eq!(scan(br#"<link rel="openid.server">"#), HtmlLinks::default());
    }

    #[test]
    fn reading_stops_at_the_end_of_the_head() {
        // Links after </head> are the page's content (a comment section, say), even without <body>.
        let doc = br#"<html><head><link rel="openid.server" href="https://op.example/v1"></head>
            <link rel="openid2.provider" href="https://evil.example/">
            <meta http-equiv="X-XRDS-Location" content="https://evil.example/x"></html>"#;
        let l = scan(doc);
        assert_eq!(l.openid_server.as_deref(), Some("https://op.example/v1"));
        assert_eq!(l.openid2_provider, None);
        assert_eq!(l.xrds_location, None);
        // <body> ends it even when </head> was left out.
        let doc = br#"<link rel="openid.server" href="https://op.example/v1"><body>
            <link rel="openid2.provider" href="https://evil.example/"></body>"#;
        let l = scan(doc);
        assert_eq!(l.openid_server.as_deref(), Some("https://op.example/v1"));
        assert_eq!(l.openid2_provider, None);
        // Other end tags (</title>, </script>) do not end it.
        let doc = br#"<head><title>t</title><script></script>
            <link rel="openid2.provider" href="https://op.example/"></head>"#;
        assert_eq!(
            scan(doc).openid2_provider.as_deref(),
            Some("https://op.example/")
        );
    }

    #[test]
    fn only_link_and_meta_tags_count() {
        // rel/href or http-equiv/content on another element mean nothing.
        let doc = br#"<head>
            <a rel="openid2.provider" href="https://evil.example/a"></a>
            <base http-equiv="X-XRDS-Location" content="https://evil.example/b">
            <link http-equiv="X-XRDS-Location" content="https://evil.example/c">
            <meta rel="openid.server" href="https://evil.example/d" content="x">
            </head>"#;
        assert_eq!(scan(doc), HtmlLinks::default());
    }

    #[test]
    fn odd_spellings_of_rel() {
        // Case, tabs and newlines between relations, single quotes, entities in rel; no
        // substring matches ("xopenid2.provider", "openid2.provider.x").
        let doc = b"<head>\
            <link rel='xopenid2.provider openid2.provider.x' href='https://evil.example/1'>\
            <link rel='OpenID2.Provider\tfoo' href='https://op.example/a'>\
            <link rel=\"openid2&#46;local_id\" href=\"https://op.example/&#x75;\">\
            <link rel=\"\nopenid.delegate\n openid.server\" href=\"https://op.example/v1\">\
            <meta http-equiv=\"x-XRDS-location\" content=\" https://me.example/y \">\
            <meta http-equiv=\"x-xrds-location\" content=\"https://evil.example/2\">\
            </head>";
        let l = scan(doc);
        assert_eq!(
            l,
            HtmlLinks {
                openid2_provider: Some("https://op.example/a".into()),
                openid2_local_id: Some("https://op.example/u".into()),
                openid_server: Some("https://op.example/v1".into()),
                openid_delegate: Some("https://op.example/v1".into()),
                xrds_location: Some("https://me.example/y".into()),
            }
        );
    }
}
