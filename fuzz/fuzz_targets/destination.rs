#![no_main]
// Open-redirect oracle: whatever `destination` an attacker sends, untaint answers the default,
// a path that a browser resolves on the site's own origin (from any page of it), or an http(s)
// URL on an allow-listed host — with nothing a browser or header parser reinterprets, and the
// same answer when its own answer is sent back (the login page round-trips it).
use authrs_core::login::DestinationPolicy;
use url::Url;

const PAGES: [&str; 3] = [
    "https://site.example/",
    "https://site.example/app/deep/page?q=1",
    "http://site.example:8080/a/b/",
];

libfuzzer_sys::fuzz_target!(|dest: &str| {
    let policy = DestinationPolicy {
        default_destination: "/home".into(),
        allowed_hosts: vec!["app.example:8443".into(), "[::1]".into(), "other.example".into()],
    };
    let out = policy.untaint(Some(dest));
    assert!(
        !out.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\'),
        "{dest:?} -> {out:?}"
    );
    assert_eq!(policy.untaint(Some(&out)), out, "not idempotent for {dest:?}");
    if out.starts_with('/') {
        assert!(!out.starts_with("//"), "{dest:?} -> {out:?}");
        for page in PAGES {
            let base = Url::parse(page).unwrap();
            let to = base.join(&out).expect("a kept path resolves");
            assert_eq!(to.origin(), base.origin(), "{dest:?} -> {out:?} leaves {page}");
            assert!(to.username().is_empty() && to.password().is_none());
        }
    } else {
        let to = Url::parse(&out).expect("a kept absolute destination parses");
        assert!(matches!(to.scheme(), "http" | "https"), "{dest:?} -> {out:?}");
        assert!(to.username().is_empty() && to.password().is_none());
        let host = to.host_str().unwrap_or_default();
        let port = to.port_or_known_default();
        assert!(
            (host == "app.example" && port == Some(8443))
                || host == "[::1]"
                || host == "other.example",
            "{dest:?} -> {out:?} names a host not allowed"
        );
    }
});
