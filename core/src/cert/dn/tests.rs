//! DN rendering on hand-built names (expected strings as OpenSSL 3.0 prints them; the
//! integration test `tests/tests/dn_openssl.rs` checks the same rules against `openssl`),
//! and parsing of RFC 2253 strings.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use super::*;
use crate::cert::CertError;
use x509_parser::prelude::FromDer;

const CN: &[u8] = &[0x55, 0x04, 0x03];
const O: &[u8] = &[0x55, 0x04, 0x0a];
const UID: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01];
const UNKNOWN: &[u8] = &[0x2a, 0x03, 0x04]; // 1.2.3.4

/// DER TLV with a short or long-form length (test helper only).
fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    if body.len() < 128 {
        v.push(body.len() as u8);
    } else {
        v.extend_from_slice(&[0x82, (body.len() >> 8) as u8, body.len() as u8]);
    }
    v.extend_from_slice(body);
    v
}

/// One attribute: OID content octets, string tag, value bytes.
type Atv<'a> = (&'a [u8], u8, &'a [u8]);

/// A Name from RDNs of attributes.
fn name(rdns: &[&[Atv<'_>]]) -> Vec<u8> {
    let mut seq = Vec::new();
    for rdn in rdns {
        let mut set = Vec::new();
        for (oid, tag, val) in rdn.iter() {
            let mut atv = tlv(0x06, oid);
            atv.extend(tlv(*tag, val));
            set.extend(tlv(0x30, &atv));
        }
        seq.extend(tlv(0x31, &set));
    }
    tlv(0x30, &seq)
}

/// (RFC 2253, legacy) renderings of a hand-built name.
fn render(der: &[u8]) -> (String, String) {
    let (_, n) = X509Name::from_der(der).expect("name parses");
    (rfc2253(&n), legacy(&n))
}

#[test]
fn order_and_multi_valued_rdns() {
    let der = name(&[
        &[(O, 0x0c, b"Org")],
        &[(CN, 0x0c, b"alice"), (UID, 0x0c, b"a1")],
    ]);
    assert_eq!(
        render(&der),
        (
            "UID=a1+CN=alice,O=Org".into(),
            "/O=Org/CN=alice+UID=a1".into()
        )
    );
}

#[test]
fn escapes_like_openssl() {
    let r = |v: &[u8]| render(&name(&[&[(CN, 0x0c, v)]])).0;
    assert_eq!(r(b",+\"\\<>;="), "CN=\\,\\+\\\"\\\\\\<\\>\\;=");
    assert_eq!(r(b" a "), "CN=\\ a\\ ");
    assert_eq!(r(b"#a#"), "CN=\\#a#");
    assert_eq!(
        r(b"#"),
        "CN=#",
        "one character: only the trailing rules apply"
    );
    assert_eq!(r(b" "), "CN=\\ ");
    assert_eq!(r(b"a\0b\r\n\x7f"), "CN=a\\00b\\0D\\0A\\7F");
    assert_eq!(r("é€".as_bytes()), "CN=\\C3\\A9\\E2\\82\\AC");
    assert_eq!(
        r(b"\xff"),
        "CN=\\FF",
        "UTF8String bytes pass through unconverted"
    );
    assert_eq!(r(b""), "CN=");
}

#[test]
fn string_types_are_widened_to_utf8() {
    let r = |tag, v: &[u8]| render(&name(&[&[(CN, tag, v)]]));
    assert_eq!(r(0x14, b"\xe9").0, "CN=\\C3\\A9", "T61String as Latin-1");
    assert_eq!(
        r(0x13, b"\xe9").0,
        "CN=\\C3\\A9",
        "PrintableString byte as Latin-1"
    );
    assert_eq!(
        r(0x1e, b"\x03\xa9\x00 ").0,
        "CN=\\CE\\A9\\ ",
        "BMPString, trailing space"
    );
    assert_eq!(
        r(0x1e, b"\x00 \x00a").0,
        "CN=\\ a",
        "BMPString, leading space"
    );
    assert_eq!(
        r(0x1e, b"\xd8\x00\x00a").0,
        "CN=a",
        "lone surrogate dropped, as UTF8_putc does"
    );
    assert_eq!(r(0x1c, b"\x00\x01\xf6\x00").0, "CN=\\F0\\9F\\98\\80");
    assert_eq!(
        r(0x1e, b"\x03\xa9\x00").0,
        "CN=",
        "odd BMP length: OpenSSL stops printing"
    );
    assert_eq!(
        r(0x1e, b"\x00a\x00b").1,
        "/CN=\\x00a\\x00b",
        "legacy shows raw UCS-2"
    );
    assert_eq!(
        r(0x1b, b"\0\0\0a\0\0\0b").1,
        "/CN=ab",
        "GeneralString UCS-4 quirk"
    );
    assert_eq!(r(0x0c, b"a/b+c\\").1, "/CN=a\\/b\\+c\\");
}

#[test]
fn unknown_oids_and_non_strings_are_hex_dumped() {
    let der = name(&[&[(UNKNOWN, 0x0c, b"hi")], &[(CN, 0x04, b"\x01")]]);
    assert_eq!(
        render(&der),
        (
            "CN=#040101,1.2.3.4=#0C026869".into(),
            "/1.2.3.4=hi/CN=\\x01".into()
        )
    );
    let (_, n) = X509Name::from_der(&der).expect("name");
    let attrs = attributes(&n);
    assert_eq!(
        attrs[0],
        DnAttribute {
            name: "1.2.3.4".into(),
            value: "hi".into()
        }
    );
    assert_eq!(
        attrs[1],
        DnAttribute {
            name: "CN".into(),
            value: "#040101".into()
        }
    );
}

#[test]
fn parses_what_openssl_prints() {
    let p = |s| parse_rfc2253(s).expect(s);
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(p(""), pairs(&[]));
    assert_eq!(
        p("UID=a1+CN=alice,O=Org,DC=example"),
        pairs(&[
            ("UID", "a1"),
            ("CN", "alice"),
            ("O", "Org"),
            ("DC", "example")
        ])
    );
    assert_eq!(
        p("CN=\\,\\+\\\"\\\\\\<\\>\\;="),
        pairs(&[("CN", ",+\"\\<>;=")])
    );
    assert_eq!(p("CN=\\ a\\ ,O=\\#x"), pairs(&[("CN", " a "), ("O", "#x")]));
    assert_eq!(p("CN=\\C3\\A9\\e2\\82\\ac"), pairs(&[("CN", "é€")]));
    assert_eq!(p("CN=a\\00b"), pairs(&[("CN", "a\0b")]));
    assert_eq!(p("CN=#,O=#"), pairs(&[("CN", "#"), ("O", "#")]));
    assert_eq!(p("1.2.3.4=#0C026869"), pairs(&[("1.2.3.4", "hi")]));
    assert_eq!(p("CN=#040101"), pairs(&[("CN", "#040101")]));
    assert_eq!(p("CN=\\FF"), pairs(&[("CN", "\u{fffd}")]));
    assert_eq!(p("CN="), pairs(&[("CN", "")]));
}

#[test]
fn refuses_what_openssl_never_prints() {
    for bad in [
        "CN",
        "=x",
        "CN=a,",
        "CN=a+",
        ",CN=a",
        "CN=a\\",
        "CN=a\\q",
        "CN=a\"b",
        "CN=a;b",
        "CN=<",
        "C N=a",
        "CN=#0C",
        "CN=#0C0268",
        "CN=#0C02686969",
        "CN=#zz",
        // mod_ssl's legacy form (LegacyDNStringFormat) leaves `,` unescaped in values: read
        // as RFC 2253, a CN "mallory,CN=admin" would become a second CN.
        "/C=XX/O=Corp/CN=mallory,CN=admin",
        "/CN=a",
        "C/N=a",
        "2.5..4=a",
        "2.5.4.=a",
        "-CN=a",
    ] {
        assert!(
            matches!(parse_rfc2253(bad), Err(CertError::BadDn { .. })),
            "{bad:?}"
        );
    }
    assert!(parse_rfc2253(&"CN=a,".repeat(20_000)).is_err(), "too long");
    // Short names with digits or `-`, and dotted OIDs, are attribute types.
    assert_eq!(
        parse_rfc2253("2.5.4.97=x,x500UniqueIdentifier=y,CN=z").unwrap(),
        [
            ("2.5.4.97".to_string(), "x".to_string()),
            ("x500UniqueIdentifier".to_string(), "y".to_string()),
            ("CN".to_string(), "z".to_string())
        ]
    );
    assert!(crate::cert::map::map_user_from_dn(
        "/C=XX/O=Corp/CN=mallory,CN=admin",
        &crate::cert::map::UserRule::Cn,
        None
    )
    .is_err());
}

#[test]
fn render_then_parse_round_trips() {
    let values: [&[u8]; 6] = [
        b" lead",
        b"trail ",
        b"#hash",
        b"a,b+c",
        "Zürich".as_bytes(),
        b"x\ny",
    ];
    for v in values {
        let der = name(&[&[(O, 0x0c, b"Org")], &[(CN, 0x0c, v)]]);
        let (dn, _) = render(&der);
        let back = parse_rfc2253(&dn).expect("round trip");
        assert_eq!(back[0].1.as_bytes(), v, "{dn}");
    }
}

#[test]
fn long_oids_are_cut_like_obj_obj2txt() {
    let mut oid = vec![0x2a];
    oid.extend(std::iter::repeat_n(0x7f, 60)); // 1.2.127.127…
    let (dn, _) = render(&name(&[&[(&oid, 0x0c, b"x")]]));
    let (ty, _) = dn.split_once('=').expect("=");
    assert_eq!(ty.len(), 79);
}

#[test]
fn mod_ssl_form_differs_only_in_raw_utf8() {
    let der = name(&[
        &[(O, 0x14, b"Z\xfcrich")],
        &[(CN, 0x0c, "a\\b é\0".as_bytes())],
    ]);
    let (_, n) = X509Name::from_der(&der).expect("name");
    assert_eq!(rfc2253(&n), "CN=a\\\\b \\C3\\A9\\00,O=Z\\C3\\BCrich");
    assert_eq!(rfc2253_mod_ssl(&n), "CN=a\\\\b é\\00,O=Zürich");
    assert_eq!(escape_msb(&rfc2253_mod_ssl(&n)), rfc2253(&n));
    assert_eq!(
        escape_msb(&rfc2253(&n)),
        rfc2253(&n),
        "canonical form is a fixed point"
    );
    assert_eq!(
        parse_rfc2253(&rfc2253_mod_ssl(&n)),
        parse_rfc2253(&rfc2253(&n))
    );
    // `\\` followed by hex digits is an escaped backslash, not a byte escape.
    assert_eq!(unescape_msb("CN=\\\\C3\\C3\\A9"), "CN=\\\\C3é");
}

#[test]
fn legacy_keeps_sequence_der_and_drops_the_bit_string_pad() {
    // SEQUENCE { UTF8String "a" }: the whole encoding, as X509_NAME_oneline keeps it.
    let (dn, legacy) = render(&name(&[&[(CN, 0x30, b"\x0c\x01a")]]));
    assert_eq!(dn, "CN=#30030C0161");
    assert_eq!(legacy, "/CN=0\\x03\\x0C\\x01a");
    // BIT STRING: the unused-bits octet is not printed.
    let (dn, legacy) = render(&name(&[&[(CN, 0x03, b"\x00ab")]]));
    assert_eq!(dn, "CN=#0303006162");
    assert_eq!(legacy, "/CN=ab");
}

#[test]
fn legacy_general_string_quirk_needs_every_other_byte_zero() {
    let l = |tag, v: &[u8]| render(&name(&[&[(CN, tag, v)]])).1;
    assert_eq!(l(0x1b, b"\0a\0\0"), "/CN=\\x00a\\x00\\x00", "byte 1 set");
    assert_eq!(l(0x1b, b"\0\0a\0"), "/CN=\\x00\\x00a\\x00", "byte 2 set");
    assert_eq!(l(0x1b, b"a\0\0\0"), "/CN=a\\x00\\x00\\x00", "byte 0 set");
    assert_eq!(
        l(0x1b, b"\0\0\0a\0"),
        "/CN=\\x00\\x00\\x00a\\x00",
        "length not a multiple of 4"
    );
    assert_eq!(
        l(0x0c, b"\0\0\0a"),
        "/CN=\\x00\\x00\\x00a",
        "only GeneralString has the quirk"
    );
}

#[test]
fn rfc2253_stops_at_a_value_openssl_cannot_print() {
    // DER order O, CN: printed CN first, whose odd-length BMPString ends the output.
    let der = name(&[&[(O, 0x0c, b"Org")], &[(CN, 0x1e, b"\x00a\x00")]]);
    assert_eq!(render(&der).0, "CN=");
    let der = name(&[&[(CN, 0x1e, b"\x00a\x00")], &[(O, 0x0c, b"Org")]]);
    assert_eq!(render(&der).0, "O=Org,CN=");
}

#[test]
fn short_names_of_common_types() {
    const EMAIL: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];
    const DC: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19];
    let der = name(&[
        &[(DC, 0x16, b"org")],
        &[(DC, 0x16, b"example")],
        &[(UID, 0x0c, b"u1"), (EMAIL, 0x16, b"a@example.org")],
    ]);
    assert_eq!(
        render(&der),
        (
            "emailAddress=a@example.org+UID=u1,DC=example,DC=org".into(),
            "/DC=org/DC=example/UID=u1+emailAddress=a@example.org".into()
        )
    );
}

#[test]
fn attributes_decode_every_string_type() {
    let a = |tag, v: &[u8]| {
        let der = name(&[&[(CN, tag, v)]]);
        let (_, n) = X509Name::from_der(&der).expect("name");
        attributes(&n).remove(0).value
    };
    assert_eq!(a(0x14, b"Z\xfcrich"), "Zürich", "T61String as Latin-1");
    assert_eq!(a(0x13, b"plain"), "plain");
    assert_eq!(a(0x0c, b"a\0b"), "a\0b", "NUL kept");
    assert_eq!(a(0x0c, b"\xff"), "\u{fffd}");
    assert_eq!(a(0x1e, b"\x03\xa9\x00a"), "Ωa", "BMPString");
    assert_eq!(a(0x1e, b"\x03\xa9\x00"), "Ω\u{fffd}", "odd BMP length");
    assert_eq!(a(0x1e, b"\xd8\x00\x00a"), "\u{fffd}a", "lone surrogate");
    assert_eq!(a(0x1c, b"\x00\x01\xf6\x00\x00\x00\x00b"), "😀b");
    assert_eq!(a(0x1c, b"\x00\x11\x00\x00"), "\u{fffd}", "past U+10FFFF");
    assert_eq!(a(0x1c, b"\x00\x00\x00a\x00"), "a\u{fffd}", "UCS-4 length");
    assert_eq!(a(0x04, b"\x01"), "#040101");
}

#[test]
fn msb_escapes_cover_0x80_exactly() {
    // U+00C0 is C3 80: the continuation byte 0x80 is the smallest escaped.
    assert_eq!(escape_msb("CN=À\x7f"), "CN=\\C3\\80\x7f");
    assert_eq!(unescape_msb("CN=\\C3\\80"), "CN=À");
    assert_eq!(
        unescape_msb("CN=\\7F\\0A"),
        "CN=\\7F\\0A",
        "below 0x80 stays escaped"
    );
    assert_eq!(unescape_msb("CN=a\\"), "CN=a\\", "dangling backslash kept");
    assert_eq!(unescape_msb("CN=\\C"), "CN=\\C", "half an escape kept");
    assert_eq!(unescape_msb("\\C3\\A9x"), "éx");
}

#[test]
fn length_limit_is_exact() {
    let max = parse::MAX_DN_LEN;
    let at_limit = format!("CN={}", "a".repeat(max - 3));
    assert_eq!(parse_rfc2253(&at_limit).unwrap()[0].1.len(), max - 3);
    let over = format!("CN={}", "a".repeat(max - 2));
    assert!(matches!(
        parse_rfc2253(&over),
        Err(CertError::BadDn { at: 0, .. })
    ));
}

#[test]
fn short_names_may_contain_underscores() {
    // 2.16.840.1.101.3.4.3.1 is dsa_with_SHA224 in OpenSSL's table. Expected strings from
    // `openssl x509 -noout -subject -nameopt RFC2253` / `-nameopt compat` on this name.
    const DSA_SHA224: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x01];
    let der = name(&[&[(DSA_SHA224, 0x0c, b"x")], &[(CN, 0x0c, b"a")]]);
    assert_eq!(
        render(&der),
        (
            "CN=a,dsa_with_SHA224=x".into(),
            "/dsa_with_SHA224=x/CN=a".into()
        )
    );
    assert_eq!(
        parse_rfc2253("CN=a,dsa_with_SHA224=x").unwrap(),
        [
            ("CN".to_string(), "a".to_string()),
            ("dsa_with_SHA224".to_string(), "x".to_string())
        ]
    );
}

#[test]
fn non_string_universal_types_are_hex_dumped() {
    // Types OpenSSL accepts in a name but has no string width for (tag2nbyte -1): the
    // RFC 2253 form dumps the DER, the legacy form prints the content. Expected strings
    // from `openssl x509 -nameopt RFC2253` / `-nameopt compat` on these names.
    for (tag, rfc, compat) in [
        (0x07, "CN=#070141", "/CN=A"), // ObjectDescriptor
        (0x09, "CN=#090141", "/CN=A"), // REAL
        (0x0d, "CN=#0D0141", "/CN=A"), // RELATIVE-OID
        (0x0e, "CN=#0E0141", "/CN=A"), // TIME
        (0x0f, "CN=#0F0141", "/CN=A"), // reserved
    ] {
        assert_eq!(
            render(&name(&[&[(CN, tag, b"A")]])),
            (rfc.to_string(), compat.to_string()),
            "tag {tag}"
        );
    }
    // OpenSSL refuses to load names with these types (its tag2bit), so no `openssl` output
    // exists; its printer has width -1 for each, i.e. dumps the DER, and so does authrs.
    for (tag, body, rfc) in [
        (0x00, &b""[..], "CN=#0000"),           // end-of-contents
        (0x01, b"\xff", "CN=#0101FF"),          // BOOLEAN
        (0x02, b"A", "CN=#020141"),             // INTEGER
        (0x05, b"", "CN=#0500"),                // NULL
        (0x06, b"\x2a\x03", "CN=#06022A03"),    // OBJECT IDENTIFIER
        (0x28, b"A", "CN=#280141"),             // EXTERNAL
        (0x0a, b"A", "CN=#0A0141"),             // ENUMERATED
        (0x2b, b"A", "CN=#2B0141"),             // EMBEDDED PDV
        (0x31, b"\x0c\x01A", "CN=#31030C0141"), // SET
        (0x15, b"A", "CN=#150141"),             // VideotexString
        (0x19, b"A", "CN=#190141"),             // GraphicString
        (0x1b, b"A", "CN=#1B0141"),             // GeneralString
        (0x3d, b"A", "CN=#3D0141"),             // CHARACTER STRING
    ] {
        assert_eq!(render(&name(&[&[(CN, tag, body)]])).0, rfc, "tag {tag}");
    }
}

#[test]
fn names_openssl_refuses_to_load_are_malformed() {
    let check = |der: &[u8]| {
        let (_, n) = X509Name::from_der(der).expect("name parses");
        super::malformed(&n)
    };
    let sound = name(&[
        &[(O, 0x0c, "Jürgen".as_bytes())],
        &[(CN, 0x1e, b"\x03\xa9\x00a")],
        &[(CN, 0x1c, b"\x00\x01\xf6\x00")],
        &[(CN, 0x13, b"\xe9")],
        &[(b"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x01", 0x16, b"a@b")],
    ]);
    assert_eq!(check(&sound), None);
    for (der, why) in [
        (
            name(&[&[(CN, 0x0c, b"adm\xffin")]]),
            "a UTF8String is not UTF-8",
        ),
        (
            name(&[&[(CN, 0x1e, b"\x00a\x00")]]),
            "a BMPString has an odd length",
        ),
        (
            name(&[&[(CN, 0x1e, b"\x00a\xdc\x00")]]),
            "a BMPString holds a surrogate",
        ),
        (
            name(&[&[(CN, 0x1c, b"\x00\x11\x00\x00")]]),
            "a UniversalString holds a value that is no character",
        ),
        (
            name(&[&[(CN, 0x1c, b"\x00\x00\x61")]]),
            "a UniversalString's length is not a multiple of 4",
        ),
        // 2.5.4.3 with its last arc padded (0x80 0x03): it prints as `CN`.
        (
            name(&[&[(b"\x55\x04\x80\x03", 0x0c, b"admin")]]),
            "an attribute type's OID is not minimally encoded",
        ),
        (
            name(&[&[(b"\x80\x55\x04\x03", 0x0c, b"admin")]]),
            "an attribute type's OID is not minimally encoded",
        ),
    ] {
        assert_eq!(check(&der), Some(why), "{why}");
    }
}
