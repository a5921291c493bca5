//! Enrolment: the mod_client_certs rules, the file format, revocation and pruning.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use super::*;

const ALICE: &[u8] = include_bytes!("../testdata/alice.pem");
const BOB: &[u8] = include_bytes!("../testdata/bob.pem");
const NOW: i64 = 1_800_000_000;
const NOT_AFTER: i64 = 2_110_770_361;
const OLD_FP: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn alice() -> Certificate {
    Certificate::parse(ALICE).expect("alice")
}

#[test]
fn enrols_a_self_signed_certificate_naming_the_user() {
    let c = alice();
    let mut s = EnrolledCerts::default();
    assert_eq!(s.enroll("alice@example.org", &c, "laptop", NOW, 3), Ok(()));
    let e = s.lookup(&c.sha256, NOW).expect("found");
    assert_eq!(
        (e.user.as_str(), e.label.as_str(), e.not_after),
        ("alice@example.org", "laptop", NOT_AFTER)
    );
    assert!(
        s.lookup(&c.sha256.to_uppercase(), NOW).is_some(),
        "case forgiven"
    );
    assert!(
        s.lookup(&c.sha256, NOT_AFTER + 1).is_none(),
        "expired: not accepted"
    );
    assert!(s.lookup("nothex", NOW).is_none());
}

#[test]
fn refusals_are_named() {
    let c = alice();
    let mut s = EnrolledCerts::default();
    assert_eq!(
        s.enroll("mallory@example.org", &c, "x", NOW, 3),
        Err(EnrollError::SanMismatch)
    );
    assert_eq!(
        s.enroll("alice", &c, "x", NOW, 3),
        Err(EnrollError::SanMismatch),
        "exact match"
    );
    let bob = Certificate::parse(BOB).expect("bob");
    assert_eq!(
        s.enroll("bob@dn.example", &bob, "x", NOW, 3),
        Err(EnrollError::SanMismatch),
        "DN email is not enough"
    );
    assert!(matches!(
        s.enroll("alice@example.org", &c, "x", NOT_AFTER + 1, 3),
        Err(EnrollError::NotValid(CertError::Expired { .. }))
    ));
    assert!(matches!(
        s.enroll("alice@example.org", &c, "x", 0, 3),
        Err(EnrollError::NotValid(CertError::NotYetValid { .. }))
    ));
    assert_eq!(
        s.enroll("alice@example.org", &c, "", NOW, 3),
        Err(EnrollError::BadLabel)
    );
    assert_eq!(
        s.enroll("alice@example.org", &c, "a\nb", NOW, 3),
        Err(EnrollError::BadLabel)
    );
    assert_eq!(
        s.enroll("alice example", &c, "x", NOW, 3),
        Err(EnrollError::BadUser)
    );
    assert_eq!(s.enroll("", &c, "x", NOW, 3), Err(EnrollError::BadUser));
    assert_eq!(
        s.enroll("alice@example.org", &c, "laptop", NOW, 0),
        Err(EnrollError::TooMany { limit: 0 })
    );
    assert!(s.entries().is_empty(), "nothing stored by refusals");
    assert_eq!(s.enroll("alice@example.org", &c, "laptop", NOW, 3), Ok(()));
    assert_eq!(
        s.enroll("alice@example.org", &c, "phone", NOW, 3),
        Err(EnrollError::AlreadyEnrolled)
    );
}

#[test]
fn per_user_limit_and_labels() {
    let c = alice();
    let text = format!("alice@example.org {OLD_FP} 1700000000 old phone\n");
    let mut s = EnrolledCerts::parse(&text).expect("parses");
    assert_eq!(
        s.enroll("alice@example.org", &c, "old phone", NOW, 5),
        Err(EnrollError::DuplicateLabel)
    );
    assert_eq!(
        s.enroll("alice@example.org", &c, "laptop", NOW, 1),
        Err(EnrollError::TooMany { limit: 1 })
    );
    assert_eq!(s.prune(NOW), 1, "expired one pruned");
    assert_eq!(s.enroll("alice@example.org", &c, "laptop", NOW, 1), Ok(()));
}

#[test]
fn revoke_one_device_of_ones_own() {
    let c = alice();
    let text = format!("alice@example.org {OLD_FP} 2000000000 phone\n");
    let mut s = EnrolledCerts::parse(&text).expect("parses");
    s.enroll("alice@example.org", &c, "laptop", NOW, 5)
        .expect("enrol");
    assert!(
        !s.revoke("bob@example.org", "laptop"),
        "another user's device is untouched"
    );
    assert!(!s.revoke("alice@example.org", "tablet"));
    assert!(s.revoke("alice@example.org", "laptop"));
    assert!(s.lookup(&c.sha256, NOW).is_none());
    let colon_fp: Vec<String> = OLD_FP
        .as_bytes()
        .chunks(2)
        .map(|p| String::from_utf8_lossy(p).to_uppercase())
        .collect();
    assert!(
        s.revoke("alice@example.org", &colon_fp.join(":")),
        "by fingerprint"
    );
    assert!(s.entries().is_empty());
}

#[test]
fn expired_listing_and_pruning() {
    let text = format!(
        "# comment\n\na {OLD_FP} 100 one\nb {} 5000 two words  here\n",
        "ab".repeat(32)
    );
    let mut s = EnrolledCerts::parse(&text).expect("parses");
    assert_eq!(
        s.for_user("b").next().map(|e| e.label.as_str()),
        Some("two words  here")
    );
    let exp: Vec<&str> = s.expired(1000).iter().map(|e| e.user.as_str()).collect();
    assert_eq!(exp, ["a"]);
    assert!(s.expired(100).is_empty(), "notAfter inclusive");
    assert_eq!(s.prune(1000), 1);
    assert_eq!(s.prune(1000), 0);
    assert_eq!(s.entries().len(), 1);
}

#[test]
fn file_round_trips() {
    let c = alice();
    let mut s = EnrolledCerts::default();
    s.enroll("alice@example.org", &c, "my laptop", NOW, 5)
        .expect("enrol");
    let text = s.to_text();
    assert_eq!(EnrolledCerts::parse(&text), Ok(s));
}

#[test]
fn bad_lines_name_the_line() {
    let line = |t: &str| match EnrolledCerts::parse(t) {
        Err(EnrollError::BadLine { line, .. }) => line,
        other => panic!("{t:?}: {other:?}"),
    };
    assert_eq!(line("alice"), 1);
    assert_eq!(
        line(&format!("# x\nalice {OLD_FP} 100")),
        2,
        "label missing"
    );
    assert_eq!(line("alice abcd 100 l"), 1, "short fingerprint");
    assert_eq!(line(&format!("alice {OLD_FP} soon l")), 1);
    assert_eq!(line(&format!("alice {OLD_FP} 100 l\u{7}")), 1);
    assert_eq!(
        line(&format!("a {OLD_FP} 1 x\nb {OLD_FP} 1 y")),
        2,
        "same certificate twice"
    );
}

#[test]
fn errors_say_what_is_wrong() {
    // The self-service page and the operator's log show these.
    let text = |e: EnrollError| e.to_string();
    assert_eq!(
        text(EnrollError::BadLine {
            line: 7,
            why: "bad label"
        }),
        "enrolment line 7: bad label"
    );
    assert!(
        text(EnrollError::NotValid(CertError::Expired { not_after: 5 }))
            .starts_with("cannot enrol: ")
    );
    assert!(text(EnrollError::SanMismatch).contains("naming the user"));
    assert_eq!(
        text(EnrollError::TooMany { limit: 3 }),
        "user already has 3 certificates"
    );
    assert!(text(EnrollError::AlreadyEnrolled).contains("already enrolled"));
    assert!(text(EnrollError::DuplicateLabel).contains("this label"));
    assert!(text(EnrollError::BadUser).starts_with("user name"));
    assert!(text(EnrollError::BadLabel).starts_with("label"));
}
