//! User mapping: every rule on certificates and DN strings, the map file, refusals.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use super::*;

const ALICE: &[u8] = include_bytes!("../testdata/alice.pem");
const BOB: &[u8] = include_bytes!("../testdata/bob.pem");
const NUL_CN: &[u8] = include_bytes!("../testdata/nul.der");
const ALICE_DN: &str =
    "emailAddress=alice@dn.example,CN=Alice Smith,CN=alice,O=Example,DC=example,DC=org";

fn cert(b: &[u8]) -> Certificate {
    Certificate::parse(b).expect("fixture parses")
}

fn rule(s: &str) -> UserRule {
    s.parse().expect(s)
}

#[test]
fn rules_parse() {
    assert_eq!(rule("dn"), UserRule::Dn);
    assert_eq!(rule("cn"), UserRule::Cn);
    assert_eq!(rule("email"), UserRule::Email);
    assert_eq!(rule("xmpp"), UserRule::Xmpp);
    assert_eq!(rule("upn"), UserRule::Upn);
    assert_eq!(
        rule("{CN}@example.org"),
        UserRule::Template("{CN}@example.org".into())
    );
    assert_eq!(rule("{UID}"), UserRule::Template("{UID}".into()));
    assert!(matches!(
        "CN".parse::<UserRule>(),
        Err(MapError::BadRule(_))
    ));
    assert!(matches!("".parse::<UserRule>(), Err(MapError::BadRule(_))));
    for bad in ["{CN", "CN}", "{}", "{C N}", "x{CN}}", "{{CN}}", "}{"] {
        assert!(
            matches!(bad.parse::<UserRule>(), Err(MapError::BadTemplate { .. })),
            "{bad}"
        );
    }
    assert!(MapError::BadRule("x".into())
        .to_string()
        .contains("must be one of"));
}

#[test]
fn certificate_rules() {
    let a = cert(ALICE);
    assert_eq!(map_user(&a, &UserRule::Dn, None).as_deref(), Ok(ALICE_DN));
    assert_eq!(
        map_user(&a, &UserRule::Cn, None).as_deref(),
        Ok("alice"),
        "first CN in DER order"
    );
    assert_eq!(
        map_user(&a, &UserRule::Email, None).as_deref(),
        Ok("alice@example.org"),
        "SAN first"
    );
    assert_eq!(
        map_user(&a, &UserRule::Xmpp, None).as_deref(),
        Ok("alice@example.org")
    );
    assert_eq!(
        map_user(&a, &UserRule::Upn, None).as_deref(),
        Ok("alice@corp.example")
    );
    assert_eq!(
        map_user(&a, &rule("{CN}@{DC}.{O}"), None).as_deref(),
        Ok("alice@org.Example")
    );
    // Text after the last attribute stays: `alice@example.org`, never the bare local `alice`.
    assert_eq!(
        map_user(&a, &rule("{CN}@example.org"), None).as_deref(),
        Ok("alice@example.org")
    );
    assert_eq!(
        map_user_from_dn(ALICE_DN, &rule("u-{CN}.x"), None).as_deref(),
        Ok("u-alice.x")
    );
    let b = cert(BOB);
    assert_eq!(
        map_user(&b, &UserRule::Email, None).as_deref(),
        Ok("bob@dn.example"),
        "DN fallback"
    );
    assert_eq!(
        map_user(&b, &UserRule::Xmpp, None),
        Err(MapError::Missing("xmppAddr SAN".into()))
    );
    assert_eq!(
        map_user(&b, &UserRule::Upn, None),
        Err(MapError::Missing("UPN SAN".into()))
    );
    assert_eq!(
        map_user(&b, &rule("{UID}"), None),
        Err(MapError::Missing("UID".into()))
    );
}

#[test]
fn templates_never_map_two_certificates_to_one_user() {
    // `{OU}.{CN}`: OU=a.b with CN=c and OU=a with CN=b.c would both be `a.b.c`.
    let two = rule("{OU}.{CN}");
    assert_eq!(
        map_user_from_dn("CN=c,OU=a.b,O=x", &two, None),
        Err(MapError::AmbiguousValue("OU".into()))
    );
    assert_eq!(
        map_user_from_dn("CN=b.c,OU=a,O=x", &two, None),
        Err(MapError::AmbiguousValue("CN".into()))
    );
    assert_eq!(
        map_user_from_dn("CN=c,OU=a,O=x", &two, None).as_deref(),
        Ok("a.c")
    );
    // Every character of the separator counts, not only the whole separator.
    assert_eq!(
        map_user_from_dn("CN=c-,OU=a,O=x", &rule("{OU}-:{CN}"), None),
        Err(MapError::AmbiguousValue("CN".into()))
    );
    // Text before the first and after the last attribute is fixed: no ambiguity there.
    assert_eq!(
        map_user_from_dn("CN=a.b@c,O=x", &rule("u.{CN}@example.org"), None).as_deref(),
        Ok("u.a.b@c@example.org")
    );
    assert!(MapError::AmbiguousValue("OU".into())
        .to_string()
        .contains("could map to the same user"));
    // Two attributes with nothing between them cannot be told apart at all.
    assert!(matches!(
        "{OU}{CN}".parse::<UserRule>(),
        Err(MapError::BadTemplate { .. })
    ));
}

#[test]
fn dn_string_rules_agree_with_certificate_rules() {
    let a = cert(ALICE);
    for r in ["dn", "cn", "{CN}@{DC}.{O}", "{emailAddress}"] {
        let r = rule(r);
        assert_eq!(
            map_user_from_dn(&a.subject_dn, &r, None),
            map_user(&a, &r, None),
            "{r:?}"
        );
    }
    // The certificate's SAN email (alice@example.org) wins over its DN's emailAddress
    // (alice@dn.example); from the DN alone the SAN is unknown, so `email` refuses rather than
    // name another user. `{emailAddress}` (above) says which one it means and agrees.
    assert_eq!(
        map_user(&a, &UserRule::Email, None).as_deref(),
        Ok("alice@example.org")
    );
    assert_eq!(
        map_user_from_dn(ALICE_DN, &UserRule::Email, None),
        Err(MapError::NeedsCertificate("email"))
    );
    assert_eq!(
        map_user_from_dn(ALICE_DN, &UserRule::Xmpp, None),
        Err(MapError::NeedsCertificate("xmpp"))
    );
    assert_eq!(
        map_user_from_dn(ALICE_DN, &UserRule::Upn, None),
        Err(MapError::NeedsCertificate("upn"))
    );
    assert_eq!(
        map_user_from_dn("O=x", &UserRule::Cn, None),
        Err(MapError::Missing("CN".into()))
    );
    assert!(matches!(
        map_user_from_dn("CN=a;b", &UserRule::Cn, None),
        Err(MapError::BadDn(_))
    ));
}

#[test]
fn control_characters_never_become_a_user() {
    let n = cert(NUL_CN);
    assert_eq!(
        map_user(&n, &UserRule::Cn, None),
        Err(MapError::BadUserChar)
    );
    assert_eq!(
        map_user(&n, &rule("{CN}"), None),
        Err(MapError::BadUserChar)
    );
    // The escaped DN itself holds no control character and stays usable as a whole.
    assert_eq!(
        map_user(&n, &UserRule::Dn, None).as_deref(),
        Ok("CN=admin\\00evil.example,O=Example")
    );
    assert_eq!(
        map_user_from_dn(&n.subject_dn, &UserRule::Cn, None),
        Err(MapError::BadUserChar)
    );
    for dn in [
        "CN=admin\\0D\\0Ax",
        "CN=a\\0Ab",
        "CN=\\FF",
        "CN=a\nb",
        "CN=\\C2\\85",
    ] {
        assert_eq!(
            map_user_from_dn(dn, &UserRule::Cn, None),
            Err(MapError::BadUserChar),
            "{dn}"
        );
    }
    assert_eq!(
        map_user_from_dn("CN=a\r\nb", &UserRule::Dn, None),
        Err(MapError::BadUserChar)
    );
    // Names that read as another user's once a header parser trims them, or that print the
    // same: leading/trailing whitespace, zero-width and bidi characters, a BOM.
    for dn in [
        "CN=alice\\ ",
        "CN=\\ alice",
        "CN=al\\E2\\80\\8Bice",
        "CN=\\E2\\80\\AEecila",
        "CN=\\EF\\BB\\BFalice",
        "CN=al\\C2\\ADice",
    ] {
        assert_eq!(
            map_user_from_dn(dn, &UserRule::Cn, None),
            Err(MapError::BadUserChar),
            "{dn}"
        );
    }
    // A DN used whole keeps its escaped trailing space (RFC 2253 `\ `).
    assert_eq!(
        map_user_from_dn("CN=trailing space\\ ", &UserRule::Dn, None).as_deref(),
        Ok("CN=trailing space\\ ")
    );
    // Inner spaces are names people have.
    assert_eq!(
        map_user_from_dn("CN=Alice Smith", &UserRule::Cn, None).as_deref(),
        Ok("Alice Smith")
    );
    assert_eq!(
        map_user_from_dn("CN=", &UserRule::Cn, None),
        Err(MapError::EmptyUser)
    );
    let long = format!("CN={}", "a".repeat(MAX_USER_LEN + 1));
    assert_eq!(
        map_user_from_dn(&long, &UserRule::Cn, None),
        Err(MapError::UserTooLong)
    );
    let longest = "a".repeat(MAX_USER_LEN);
    assert_eq!(
        map_user_from_dn(&format!("CN={longest}"), &UserRule::Cn, None).as_deref(),
        Ok(longest.as_str()),
        "MAX_USER_LEN itself is allowed"
    );
}

#[test]
fn map_entries_that_could_never_match_are_refused() {
    // OpenSSL 3's default subject form and mod_ssl's legacy form never equal the RFC 2253 DN
    // the TLS stacks give: such an entry would silently not apply.
    for dn in [
        "C = XX, O = Org, CN = admin",
        "/C=XX/O=Org/CN=admin",
        "CN=a, O=b",
    ] {
        let err = UserMap::parse(&format!("\"{dn}\" ops\n")).unwrap_err();
        assert!(
            matches!(err, MapError::BadMapLine { line: 1, why } if why.contains("RFC 2253")),
            "{dn}"
        );
    }
    assert!(UserMap::parse("\"CN=admin,O=Org,C=XX\" ops\n").is_ok());
}

#[test]
fn map_file_wins_and_is_exact() {
    let text = format!(
        "# operators\n\n\"{ALICE_DN}\" root\n  \"CN=a\\\"q\\,x\"\tquoted # not a comment\n\"\" nobody\n"
    );
    assert!(UserMap::parse(&text).is_err(), "user must be one word");
    let text =
        format!("# operators\n\n\"{ALICE_DN}\" root\n  \"CN=a\\\"q\\,x\"\tquoted\n\"\" nobody\n");
    let m = UserMap::parse(&text).expect("map parses");
    assert_eq!(m.len(), 3);
    assert!(!m.is_empty());
    let a = cert(ALICE);
    assert_eq!(
        map_user(&a, &UserRule::Xmpp, Some(&m)).as_deref(),
        Ok("root")
    );
    assert_eq!(
        map_user_from_dn(ALICE_DN, &UserRule::Upn, Some(&m)).as_deref(),
        Ok("root")
    );
    assert_eq!(
        map_user_from_dn("CN=a\\\"q\\,x", &UserRule::Dn, Some(&m)).as_deref(),
        Ok("quoted")
    );
    assert_eq!(
        m.get(&ALICE_DN.to_lowercase()),
        None,
        "exact, case-sensitive"
    );
    let b = cert(BOB);
    assert_eq!(
        map_user(&b, &UserRule::Cn, Some(&m)).as_deref(),
        Ok("bob"),
        "unmapped: rule"
    );
    assert!(UserMap::parse("").expect("empty").is_empty());
    // An escape is two bytes, no more: the quote right after `\,b` still closes the DN.
    let m = UserMap::parse("\"CN=a\\,b\" comma\n").expect("escaped comma");
    assert_eq!(m.get("CN=a\\,b"), Some("comma"));
}

#[test]
fn map_file_errors_name_the_line() {
    let line = |text: &str| match UserMap::parse(text) {
        Err(MapError::BadMapLine { line, .. }) | Err(MapError::DuplicateDn { line }) => line,
        other => panic!("{text:?}: {other:?}"),
    };
    assert_eq!(line("CN=a alice"), 1);
    assert_eq!(line("# c\n\"CN=a alice"), 2);
    assert_eq!(line("\"CN=a\""), 1);
    assert_eq!(line("\"CN=a\"alice"), 1);
    assert_eq!(line("\"CN=a\" al\u{0}ice"), 1);
    assert_eq!(line("\"CN=a\" a\n\n\"CN=a\" b"), 3);
    assert!(MapError::DuplicateDn { line: 3 }
        .to_string()
        .contains("line 3"));
}

#[test]
fn mod_ssl_raw_utf8_dn_maps_like_the_escaped_one() {
    let canonical = "CN=J\\C3\\BCrgen,O=Example";
    let raw = "CN=Jürgen,O=Example";
    let m = UserMap::parse("\"CN=Jürgen,O=Example\" juergen\n").expect("map");
    assert_eq!(
        map_user_from_dn(canonical, &UserRule::Cn, Some(&m)).as_deref(),
        Ok("juergen")
    );
    assert_eq!(
        map_user_from_dn(raw, &UserRule::Cn, Some(&m)).as_deref(),
        Ok("juergen")
    );
    assert_eq!(
        map_user_from_dn(raw, &UserRule::Cn, None).as_deref(),
        Ok("Jürgen")
    );
    assert_eq!(
        map_user_from_dn(raw, &UserRule::Dn, None).as_deref(),
        Ok(canonical)
    );
}

/// A DN spelled in a way OpenSSL's RFC 2253 printer never writes it loads as nothing that can
/// match — an entry meant to remap or demote a certificate would silently do nothing — so it
/// is refused when the map is read, naming the line.
#[test]
fn map_entries_spelled_unlike_openssl_are_refused() {
    for dn in [
        "2.5.4.3=alice",
        "FOO=x",
        "CN=Smith\\2C J",
        "CN=a\\41",
        "CN=z\\c3\\ab",
        // Escapes OpenSSL never writes, spaces it always escapes, raw controls.
        "CN=a\\=b",
        "CN=a\\#b",
        "CN=a\\ b",
        "CN=admin ,O=x",
        "CN= admin",
        "CN=admin ",
        "CN=a\tb",
        "CN=a\u{7f}b",
    ] {
        let text = format!("# comment\n\"{dn}\" someone\n");
        match UserMap::parse(&text) {
            Err(MapError::BadMapLine { line: 2, why }) => {
                assert!(why.contains("spelled"), "{dn}: {why}")
            }
            other => panic!("{dn}: {other:?}"),
        }
    }
    for dn in [
        "CN=alice,O=Org,C=XX",
        "emailAddress=a@example.org,CN=a",
        "UID=u1,DC=example,DC=org",
        "CN=Smith\\, J",
        "CN=z\\C3\\AB",
        "CN=zoë",
        "CN=\\ lead\\ ",
        "CN=a\\0Ab",
        "1.2.3.4=#0C0161",
        "CN=a+serialNumber=7",
        // Another case of a known name loads (a proxy could send it), but matches only itself.
        "cn=alice,o=Org",
    ] {
        let m =
            UserMap::parse(&format!("\"{dn}\" someone\n")).unwrap_or_else(|e| panic!("{dn}: {e}"));
        assert_eq!(m.len(), 1, "{dn}");
    }
}
