//! Certificate parsing against fixtures whose expected values `openssl x509` printed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use super::*;

const ALICE: &[u8] = include_bytes!("testdata/alice.pem");
const BOB: &[u8] = include_bytes!("testdata/bob.pem");
/// bob-like certificate whose CN is `admin\0evil.example` (DER patched, signature broken).
const NUL_CN: &[u8] = include_bytes!("testdata/nul.der");
const NOT_BEFORE: i64 = 1_795_410_361;
const NOT_AFTER: i64 = 2_110_770_361;

fn alice() -> Certificate {
    Certificate::parse(ALICE).expect("alice parses")
}

#[test]
fn fields_match_openssl() {
    let c = alice();
    assert_eq!(
        c.subject_dn,
        "emailAddress=alice@dn.example,CN=Alice Smith,CN=alice,O=Example,DC=example,DC=org"
    );
    assert_eq!(c.issuer_dn, c.subject_dn, "self-signed");
    assert_eq!(
        c.subject_legacy(),
        "/DC=org/DC=example/O=Example/CN=alice/CN=Alice Smith/emailAddress=alice@dn.example"
    );
    assert_eq!(c.issuer_legacy(), c.subject_legacy());
    // mod_ssl's forms differ only in raw non-ASCII: for this all-ASCII DN they are the same.
    assert_eq!(c.subject_dn_mod_ssl(), c.subject_dn);
    assert_eq!(c.issuer_dn_mod_ssl(), c.issuer_dn);
    assert_eq!(c.serial, "0100", "whole bytes, as SSL_CLIENT_M_SERIAL");
    assert_eq!(c.not_before, NOT_BEFORE);
    assert_eq!(c.not_after, NOT_AFTER);
    assert_eq!(
        c.sha256,
        "dab0203be691a22f462e194f2c55621da8daf6533dd520480b01af5d7e9cde23"
    );
    assert_eq!(Certificate::parse(BOB).expect("bob").serial, "FF");
}

#[test]
fn sans_are_collected() {
    let c = alice();
    assert_eq!(c.san.email, ["alice@example.org"]);
    assert_eq!(c.san.dns, ["alice.example.org"]);
    assert_eq!(c.san.ip, ["192.0.2.7"]);
    assert_eq!(c.san.xmpp, ["alice@example.org"]);
    assert_eq!(c.san.upn, ["alice@corp.example"]);
    assert!(c.san.uri.is_empty());
    assert_eq!(
        Certificate::parse(BOB).expect("bob").san,
        SubjectAltNames::default()
    );
}

#[test]
fn attribute_takes_the_first_in_der_order_like_mod_ssl() {
    let c = alice();
    assert_eq!(c.attribute("CN"), Some("alice"));
    assert_eq!(c.attribute("DC"), Some("org"));
    assert_eq!(c.attribute("emailAddress"), Some("alice@dn.example"));
    assert_eq!(c.attribute("cn"), None, "short names are case-sensitive");
    assert_eq!(c.attribute("UID"), None);
    let names: Vec<&str> = c.subject_attrs().iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["DC", "DC", "O", "CN", "CN", "emailAddress"]);
    assert_eq!(c.issuer_attrs().len(), 6);
}

#[test]
fn pem_der_and_autodetect_agree() {
    let pem = alice();
    let der = Certificate::from_der(&pem.der).expect("der");
    assert_eq!(der, pem);
    assert_eq!(Certificate::parse(&pem.der).expect("auto der"), pem);
    assert_eq!(Certificate::from_pem(ALICE).expect("pem"), pem);
    // A key block before the certificate, and text around it, are skipped.
    let mut chain =
        b"junk\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_vec();
    chain.extend_from_slice(ALICE);
    chain.extend_from_slice(BOB);
    assert_eq!(
        Certificate::parse(&chain).expect("chain").subject_dn,
        pem.subject_dn,
        "leaf first"
    );
    // The hash without the parse names the same certificate the parse picks.
    assert_eq!(Certificate::sha256_of(ALICE), Some(pem.sha256.clone()));
    assert_eq!(Certificate::sha256_of(&pem.der), Some(pem.sha256.clone()));
    assert_eq!(Certificate::sha256_of(&chain), Some(pem.sha256.clone()));
    assert_ne!(Certificate::sha256_of(BOB), Some(pem.sha256));
    assert_eq!(Certificate::sha256_of(b"no certificate here"), None);
    assert_eq!(Certificate::sha256_of(b""), None);
}

#[test]
fn validity_boundaries_are_inclusive() {
    let c = alice();
    assert_eq!(c.is_valid_at(NOT_BEFORE), Ok(()));
    assert_eq!(c.is_valid_at(NOT_AFTER), Ok(()));
    assert_eq!(
        c.is_valid_at(NOT_BEFORE - 1),
        Err(CertError::NotYetValid {
            not_before: NOT_BEFORE
        })
    );
    assert_eq!(
        c.is_valid_at(NOT_AFTER + 1),
        Err(CertError::Expired {
            not_after: NOT_AFTER
        })
    );
    assert!(CertError::Expired {
        not_after: NOT_AFTER
    }
    .to_string()
    .contains("2036-11-20T05:06:01Z"));
}

#[test]
fn bad_input_is_a_named_error() {
    let der = alice().der;
    assert!(matches!(Certificate::parse(b""), Err(CertError::BadPem(_))));
    assert!(matches!(
        Certificate::parse(b"\x30"),
        Err(CertError::BadDer(_))
    ));
    assert!(matches!(
        Certificate::parse(&der[..der.len() - 1]),
        Err(CertError::BadDer(_))
    ));
    let mut trailing = der.clone();
    trailing.push(0);
    assert_eq!(
        Certificate::from_der(&trailing),
        Err(CertError::TrailingData)
    );
    assert!(matches!(
        Certificate::parse(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
        Err(CertError::BadPem(_))
    ));
    assert!(matches!(
        Certificate::parse(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
        Err(CertError::BadPem(_))
    ));
    assert_eq!(
        Certificate::from_der(&vec![0x30; MAX_CERT_LEN + 1]),
        Err(CertError::TooLarge)
    );
    // Every truncation and every single-byte flip: an error or a certificate, never a panic.
    for cut in 0..der.len() {
        let _ = Certificate::from_der(&der[..cut]);
    }
    for i in 0..der.len() {
        let mut flipped = der.clone();
        flipped[i] ^= 0xff;
        let _ = Certificate::from_der(&flipped);
    }
}

#[test]
fn size_limits_are_exact() {
    // 64 KiB of DER and 128 KiB of PEM text are let through to the parser; a byte more is not.
    assert!(matches!(
        Certificate::from_der(&vec![0x30; 65_536]),
        Err(CertError::BadDer(_))
    ));
    assert_eq!(
        Certificate::from_der(&vec![0x30; 65_537]),
        Err(CertError::TooLarge)
    );
    assert!(matches!(
        Certificate::from_pem(&vec![b'x'; 131_072]),
        Err(CertError::BadPem(_))
    ));
    assert_eq!(
        Certificate::from_pem(&vec![b'x'; 131_073]),
        Err(CertError::TooLarge)
    );
    // A PEM block well under 128 KiB of text whose DER is 64 KiB + 1 (0x30 bytes, `MDAw` in
    // base64, two more as `MDA=`) is refused for its DER size.
    let body = format!("{}MDA=", "MDAw".repeat(21_845));
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    );
    assert_eq!(
        Certificate::from_pem(pem.as_bytes()),
        Err(CertError::TooLarge)
    );
    assert!(Certificate::sha256_of(&vec![0x30; 131_072]).is_some());
    assert_eq!(Certificate::sha256_of(&vec![0x30; 131_073]), None);
}

#[test]
fn nul_in_cn_is_kept_escaped_in_the_dn_and_whole_in_the_value() {
    let c = Certificate::parse(NUL_CN).expect("parses");
    assert_eq!(c.subject_dn, "CN=admin\\00evil.example,O=Example");
    assert_eq!(c.subject_legacy(), "/O=Example/CN=admin\\x00evil.example");
    assert_eq!(c.attribute("CN"), Some("admin\0evil.example"));
}
