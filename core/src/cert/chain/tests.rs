//! Chain verification against certificates made by `fixtures/gen.sh` (openssl), at a fixed time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use super::*;
use crate::cert::crl::CrlSet;

/// 2030-01-01T00:00:00Z: inside every fixture's validity (2025..2045) but the expired one's.
const NOW: i64 = 1_893_456_000;
/// 2045-01-01T00:00:00Z: the common notAfter.
const NOT_AFTER: i64 = 2_366_841_600;

macro_rules! pem {
    ($name:literal) => {
        include_bytes!(concat!("fixtures/", $name, ".pem")).as_slice()
    };
}

/// The DER of a one-certificate PEM fixture.
fn der(pem: &[u8]) -> Vec<u8> {
    let block = Pem::iter_from_buffer(pem)
        .next()
        .expect("a block")
        .expect("PEM");
    block.contents
}

fn anchors(pems: &[&[u8]]) -> TrustAnchors {
    TrustAnchors::parse(&pems.concat()).expect("anchors")
}

fn rsa_root() -> TrustAnchors {
    anchors(&[pem!("rsa-root")])
}

fn check(a: &TrustAnchors, leaf: &[u8], chain: &[&[u8]]) -> Result<(), ChainError> {
    let chain: Vec<Vec<u8>> = chain.iter().map(|p| der(p)).collect();
    a.verify(&der(leaf), &chain, NOW)
}

/// The subject an error names, for asserting which certificate failed.
fn subject(e: &ChainError) -> &str {
    match e {
        ChainError::UnknownIssuer { subject, .. }
        | ChainError::BadSignature { subject }
        | ChainError::Expired { subject, .. }
        | ChainError::NotYetValid { subject, .. }
        | ChainError::NotACa { subject, .. }
        | ChainError::PathLenExceeded { subject, .. }
        | ChainError::UnsupportedAlgorithm { subject, .. }
        | ChainError::BadKey { subject, .. }
        | ChainError::NotForClientAuth { subject }
        | ChainError::KeyNotForClientAuth { subject }
        | ChainError::UnhandledCriticalExtension { subject, .. }
        | ChainError::AnchorNotACa { subject } => subject,
        other => panic!("{other:?} names no certificate"),
    }
}

#[test]
fn rsa_chains_verify() {
    let a = rsa_root();
    assert_eq!(check(&a, pem!("rsa-leaf"), &[]), Ok(()), "leaf <- root");
    assert_eq!(
        check(&a, pem!("rsa-inter-leaf"), &[pem!("rsa-inter")]),
        Ok(()),
        "leaf <- intermediate <- root, SHA-512 and SHA-384"
    );
    let e = check(&a, pem!("rsa-inter-leaf"), &[]).unwrap_err();
    assert!(
        matches!(&e, ChainError::UnknownIssuer { subject, issuer }
            if subject.contains("rsa inter leaf") && issuer.contains("RSA intermediate")),
        "{e:?}"
    );
}

#[test]
fn ecdsa_and_ed25519_chains_verify() {
    let a = anchors(&[pem!("ec-root")]);
    assert_eq!(
        check(&a, pem!("ec-leaf"), &[pem!("ec-inter")]),
        Ok(()),
        "P-256/SHA-256 under P-384/SHA-384"
    );
    assert_eq!(check(&a, pem!("ec-direct-leaf"), &[]), Ok(()));
    let a = anchors(&[pem!("ed-root")]);
    assert_eq!(check(&a, pem!("ed-leaf"), &[]), Ok(()));
}

#[test]
fn several_anchors_each_anchor_their_own_chains() {
    let mut text = b"RSA root:\n".to_vec();
    text.extend_from_slice(pem!("rsa-root"));
    text.extend_from_slice(b"\nEC root:\n");
    text.extend_from_slice(pem!("ec-root"));
    text.extend_from_slice(pem!("ed-root"));
    text.extend_from_slice(pem!("rsa-root")); // a duplicate counts once
    let a = TrustAnchors::parse(&text).expect("anchors");
    assert_eq!(a.subjects().len(), 3);
    assert!(a.subjects()[0].contains("CN=authrs test RSA root"));
    assert_eq!(check(&a, pem!("rsa-leaf"), &[]), Ok(()));
    assert_eq!(check(&a, pem!("ec-leaf"), &[pem!("ec-inter")]), Ok(()));
    assert_eq!(check(&a, pem!("ed-leaf"), &[]), Ok(()));
    assert!(format!("{a:?}").contains("RSA root"));
}

#[test]
fn a_chain_to_another_ca_is_refused() {
    let a = anchors(&[pem!("ec-root")]);
    assert!(matches!(
        check(&a, pem!("rsa-leaf"), &[]),
        Err(ChainError::UnknownIssuer { .. })
    ));
    let e = check(&a, pem!("rsa-inter-leaf"), &[pem!("rsa-inter")]).unwrap_err();
    assert!(matches!(e, ChainError::UnknownIssuer { .. }), "{e:?}");
    assert!(
        subject(&e).contains("RSA intermediate"),
        "stops above the intermediate"
    );
}

#[test]
fn a_root_impostor_with_the_same_name_is_refused() {
    let a = rsa_root();
    let e = check(&a, pem!("evil-leaf"), &[]).unwrap_err();
    assert!(matches!(e, ChainError::BadSignature { .. }), "{e:?}");
    assert!(subject(&e).contains("evil leaf"));
    // Sending the impostor root along only moves the failure up to it.
    let e = check(&a, pem!("evil-leaf"), &[pem!("evil-root")]).unwrap_err();
    assert!(matches!(e, ChainError::BadSignature { .. }), "{e:?}");
}

#[test]
fn tampered_certificates_fail_their_signature() {
    /// Trusted CAs, the leaf, its chain.
    type Case<'a> = (&'a TrustAnchors, &'a [u8], &'a [&'a [u8]]);
    let cases: [Case<'_>; 3] = [
        (&rsa_root(), pem!("rsa-inter-leaf"), &[pem!("rsa-inter")]),
        (
            &anchors(&[pem!("ec-root")]),
            pem!("ec-leaf"),
            &[pem!("ec-inter")],
        ),
        (&anchors(&[pem!("ed-root")]), pem!("ed-leaf"), &[]),
    ];
    for (a, leaf, chain) in cases {
        let chain: Vec<Vec<u8>> = chain.iter().map(|p| der(p)).collect();
        let leaf = der(leaf);
        // The last byte belongs to the signature value.
        let mut sig = leaf.clone();
        *sig.last_mut().unwrap() ^= 0x01;
        let e = a.verify(&sig, &chain, NOW).unwrap_err();
        assert!(matches!(e, ChainError::BadSignature { .. }), "{e:?}");
        // A changed byte of the signed part: the subject's "leaf" becomes "lEaf".
        let at = leaf.windows(4).position(|w| w == b"leaf").unwrap();
        let mut tbs = leaf.clone();
        tbs[at + 1] = b'E';
        let e = a.verify(&tbs, &chain, NOW).unwrap_err();
        assert!(matches!(e, ChainError::BadSignature { .. }), "{e:?}");
        if let Some(inter) = chain.first() {
            let mut bad = inter.clone();
            *bad.last_mut().unwrap() ^= 0x01;
            let e = a.verify(&leaf, &[bad], NOW).unwrap_err();
            assert!(matches!(e, ChainError::BadSignature { .. }), "{e:?}");
            assert!(subject(&e).contains("intermediate"), "{e:?}");
        }
    }
}

#[test]
fn validity_is_checked_on_every_certificate() {
    let a = rsa_root();
    let e = check(&a, pem!("rsa-leaf-expired"), &[]).unwrap_err();
    assert_eq!(
        e,
        ChainError::Expired {
            subject: "O=authrs test,CN=expired leaf".into(),
            not_after: 1_609_459_200
        }
    );
    assert!(e.to_string().contains("2021-01-01T00:00:00Z"), "{e}");
    let e = check(&a, pem!("rsa-leaf-future"), &[]).unwrap_err();
    assert!(matches!(e, ChainError::NotYetValid { .. }), "{e:?}");
    // An expired intermediate (same name and key as the valid one).
    let e = check(&a, pem!("rsa-inter-leaf"), &[pem!("rsa-inter-expired")]).unwrap_err();
    assert!(matches!(e, ChainError::Expired { .. }), "{e:?}");
    assert!(subject(&e).contains("RSA intermediate"), "{e:?}");
    // Next to a valid copy, the search takes the valid one.
    assert_eq!(
        check(
            &a,
            pem!("rsa-inter-leaf"),
            &[pem!("rsa-inter-expired"), pem!("rsa-inter")]
        ),
        Ok(())
    );
    // Boundaries are inclusive; past them the root expires too.
    let leaf = der(pem!("rsa-leaf"));
    assert_eq!(a.verify(&leaf, &[], NOT_AFTER), Ok(()));
    assert!(matches!(
        a.verify(&leaf, &[], NOT_AFTER + 1),
        Err(ChainError::Expired { .. })
    ));
    // 2025-01-01T00:00:00Z, every valid fixture's notBefore: valid from that second on.
    let not_before = 1_735_689_600;
    assert_eq!(a.verify(&leaf, &[], not_before), Ok(()));
    assert!(matches!(
        a.verify(&leaf, &[], not_before - 1),
        Err(ChainError::NotYetValid {
            not_before: 1_735_689_600,
            ..
        })
    ));
}

#[test]
fn issuers_must_be_cas() {
    let a = rsa_root();
    let e = check(&a, pem!("notca-leaf"), &[pem!("notca")]).unwrap_err();
    assert!(
        matches!(&e, ChainError::NotACa { why, .. } if why.contains("cA")),
        "{e:?}"
    );
    assert!(subject(&e).contains("not a CA"));
    let e = check(&a, pem!("nokcs-leaf"), &[pem!("nokcs")]).unwrap_err();
    assert!(
        matches!(&e, ChainError::NotACa { why, .. } if why.contains("keyCertSign")),
        "{e:?}"
    );
    assert_eq!(
        check(&a, pem!("noku-leaf"), &[pem!("noku")]),
        Ok(()),
        "a CA without keyUsage may sign"
    );
}

#[test]
fn path_len_constraint_is_honoured() {
    let a = rsa_root();
    assert_eq!(check(&a, pem!("pl0-leaf"), &[pem!("pl0")]), Ok(()));
    let e = check(&a, pem!("pl0-sub-leaf"), &[pem!("pl0-sub"), pem!("pl0")]).unwrap_err();
    assert!(
        matches!(&e, ChainError::PathLenExceeded { path_len: 0, .. }),
        "{e:?}"
    );
    assert!(subject(&e).contains("pathlen 0"));
    // A self-issued CA (same name, new key) below a pathlen:0 CA is not counted, as in
    // RFC 5280 4.2.1.9 and OpenSSL (`openssl verify` accepts this chain).
    assert_eq!(
        check(
            &anchors(&[pem!("pl0r-root")]),
            pem!("pl0r-leaf"),
            &[pem!("pl0r-roll")]
        ),
        Ok(())
    );
}

#[test]
fn a_self_signed_leaf_is_not_its_own_anchor() {
    let a = rsa_root();
    for chain in [&[][..], &[pem!("self-leaf")][..]] {
        let e = check(&a, pem!("self-leaf"), chain).unwrap_err();
        assert!(matches!(e, ChainError::UnknownIssuer { .. }), "{e:?}");
    }
}

#[test]
fn cross_signed_loops_terminate() {
    let a = rsa_root();
    let e = check(
        &a,
        pem!("loop-leaf"),
        &[pem!("loop-x-by-y"), pem!("loop-y-by-x")],
    )
    .unwrap_err();
    assert!(matches!(e, ChainError::UnknownIssuer { .. }), "{e:?}");
}

#[test]
fn an_exhaustive_search_is_cut_short() {
    // Ten self-issued CAs sharing one name and key: every ordering verifies link by link.
    let flood: Vec<&[u8]> = vec![
        pem!("flood-1"),
        pem!("flood-2"),
        pem!("flood-3"),
        pem!("flood-4"),
        pem!("flood-5"),
        pem!("flood-6"),
        pem!("flood-7"),
        pem!("flood-8"),
        pem!("flood-9"),
        pem!("flood-10"),
    ];
    let a = rsa_root();
    assert_eq!(
        check(&a, pem!("flood-leaf"), &flood),
        Err(ChainError::TooComplex)
    );
    // With the flood's own root trusted, the first link ends the search.
    let a = anchors(&[pem!("flood-1")]);
    assert_eq!(check(&a, pem!("flood-leaf"), &flood), Ok(()));
}

#[test]
fn path_length_is_bounded() {
    let a = rsa_root();
    let deep: Vec<&[u8]> = vec![
        pem!("deep-1"),
        pem!("deep-2"),
        pem!("deep-3"),
        pem!("deep-4"),
        pem!("deep-5"),
        pem!("deep-6"),
        pem!("deep-7"),
    ];
    assert_eq!(
        check(&a, pem!("deep6-leaf"), &deep[..6]),
        Ok(()),
        "leaf + 6 intermediates + root: 8 certificates"
    );
    let e = check(&a, pem!("deep7-leaf"), &deep).unwrap_err();
    assert_eq!(e, ChainError::PathTooLong);
    assert!(e.to_string().contains("8 certificates"), "{e}");
}

#[test]
fn too_many_intermediates_are_refused_up_front() {
    let a = rsa_root();
    let eleven: Vec<Vec<u8>> = vec![der(pem!("rsa-inter")); 11];
    assert_eq!(
        a.verify(&der(pem!("rsa-inter-leaf")), &eleven, NOW),
        Err(ChainError::TooManyIntermediates { count: 11 })
    );
    // Ten are fine, duplicates and a copy of the leaf (as Envoy's Chain= has it) skipped.
    let mut ten: Vec<Vec<u8>> = vec![der(pem!("rsa-inter")); 9];
    ten.insert(0, der(pem!("rsa-inter-leaf")));
    assert_eq!(a.verify(&der(pem!("rsa-inter-leaf")), &ten, NOW), Ok(()));
}

#[test]
fn unsupported_algorithms_and_weak_keys_are_named() {
    let a = rsa_root();
    let e = check(&a, pem!("rsa-leaf-sha1"), &[]).unwrap_err();
    assert!(
        matches!(&e, ChainError::UnsupportedAlgorithm { algorithm, .. } if algorithm == "sha1WithRSAEncryption"),
        "{e:?}"
    );
    let a = anchors(&[pem!("ec-root")]);
    let e = check(&a, pem!("ec-leaf-p256-sha384"), &[pem!("ec-inter")]).unwrap_err();
    assert!(
        matches!(&e, ChainError::UnsupportedAlgorithm { algorithm, .. } if algorithm.contains("P-256")),
        "{e:?}"
    );
    // The other mismatch, a P-384 key with ecdsa-with-SHA256 (no fixture signs so): named too,
    // not taken for a signature that merely fails.
    let p384 = node::Node::parse(&der(pem!("ec-root")), &String::new).unwrap();
    assert_eq!(
        p384.signing_key()
            .unwrap()
            .verify(&signature::SigAlg::EcdsaSha256, b"tbs", b"sig"),
        Err("ecdsa-with-SHA256 by a P-384 key".to_string())
    );
    let a = rsa_root();
    let e = check(&a, pem!("weak-leaf"), &[pem!("weak")]).unwrap_err();
    assert!(
        matches!(&e, ChainError::BadKey { why, .. } if why.contains("1024 bits")),
        "{e:?}"
    );
}

#[test]
fn unenforced_critical_extensions_and_wrong_purposes_fail() {
    let a = rsa_root();
    let e = check(&a, pem!("nc-leaf"), &[pem!("nc")]).unwrap_err();
    assert!(
        matches!(&e, ChainError::UnhandledCriticalExtension { oid, .. } if oid == "2.5.29.30"),
        "{e:?}"
    );
    let e = check(&a, pem!("rsa-leaf-server"), &[]).unwrap_err();
    assert!(matches!(e, ChainError::NotForClientAuth { .. }), "{e:?}");
    // nameConstraints not marked critical binds all the same (OpenSSL: "permitted subtree
    // violation" for this leaf); authrs cannot enforce it, so the path is refused.
    let ncn_root = TrustAnchors::parse(pem!("ncn-root")).unwrap();
    let e = check(&ncn_root, pem!("ncn-leaf"), &[pem!("ncn")]).unwrap_err();
    assert!(
        matches!(&e, ChainError::UnhandledCriticalExtension { oid, .. } if oid == "2.5.29.30"),
        "{e:?}"
    );
}

#[test]
fn bad_anchor_text_is_a_named_error() {
    assert_eq!(TrustAnchors::parse(b"").unwrap_err(), ChainError::NoAnchors);
    assert_eq!(
        TrustAnchors::parse(b"no PEM here").unwrap_err(),
        ChainError::NoAnchors
    );
    let e = TrustAnchors::parse(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
        .unwrap_err();
    assert!(
        matches!(&e, ChainError::Malformed { which, .. } if which == "trusted CA 1"),
        "{e:?}"
    );
    let e = TrustAnchors::parse(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        .unwrap_err();
    assert!(e.to_string().contains("PRIVATE KEY block"), "{e}");
    let mut second_bad = pem!("rsa-root").to_vec();
    second_bad.extend_from_slice(b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n");
    let e = TrustAnchors::parse(&second_bad).unwrap_err();
    assert!(
        matches!(&e, ChainError::Malformed { which, .. } if which == "trusted CA 2"),
        "{e:?}"
    );
    // A leaf is no anchor; nor is a CA whose critical extensions or key authrs cannot honour.
    let e = TrustAnchors::parse(pem!("rsa-leaf")).unwrap_err();
    assert!(matches!(e, ChainError::AnchorNotACa { .. }), "{e:?}");
    assert!(matches!(
        TrustAnchors::parse(pem!("nc")),
        Err(ChainError::UnhandledCriticalExtension { .. })
    ));
    assert!(matches!(
        TrustAnchors::parse(pem!("weak")),
        Err(ChainError::BadKey { .. })
    ));
}

#[test]
fn malformed_chain_certificates_are_named() {
    let a = rsa_root();
    let leaf = der(pem!("rsa-inter-leaf"));
    let e = a.verify(b"\x30\x03abc", &[], NOW).unwrap_err();
    assert!(
        matches!(&e, ChainError::Malformed { which, .. } if which == "the client certificate"),
        "{e:?}"
    );
    let e = a.verify(&leaf, &[b"junk".to_vec()], NOW).unwrap_err();
    assert!(
        matches!(&e, ChainError::Malformed { which, .. } if which == "intermediate 1"),
        "{e:?}"
    );
    let mut trailing = der(pem!("rsa-inter"));
    trailing.push(0);
    let e = a.verify(&leaf, &[trailing], NOW).unwrap_err();
    assert!(e.to_string().contains("data follows"), "{e}");
    // Over 64 KiB is refused before parsing; 64 KiB itself goes to the parser.
    let why = |len: usize| match a.verify(&leaf, &[vec![0x30; len]], NOW) {
        Err(ChainError::Malformed { why, .. }) => why,
        other => panic!("{len}: {other:?}"),
    };
    assert_eq!(why(crate::cert::MAX_CERT_LEN + 1), "larger than 64 KiB");
    assert_ne!(why(crate::cert::MAX_CERT_LEN), "larger than 64 KiB");
    // Every truncation of the intermediate: an error, never a panic or a pass.
    let inter = der(pem!("rsa-inter"));
    for cut in 0..inter.len() {
        assert!(a.verify(&leaf, &[inter[..cut].to_vec()], NOW).is_err());
    }
}

#[test]
fn no_single_byte_change_to_an_intermediate_passes() {
    let a = rsa_root();
    let leaf = der(pem!("rsa-inter-leaf"));
    let inter = der(pem!("rsa-inter"));
    let passed: Vec<usize> = (0..inter.len())
        .filter(|&i| {
            let mut flipped = inter.clone();
            flipped[i] ^= 0x01;
            a.verify(&leaf, &[flipped], NOW).is_ok()
        })
        .collect();
    // What x509-parser lets through lies between the signed part and the signature bytes:
    // it reads the outer signatureAlgorithm OID whatever its tag byte, and the BIT STRING
    // whatever its unused-bits count. Neither changes what is signed or the signature.
    // Offsets: certificate header 4, tbs header 4 + its length; an RSA-2048 signature last.
    let tbs_len = usize::from(inter[6]) << 8 | usize::from(inter[7]);
    let (signed_end, signature_start) = (4 + 4 + tbs_len, inter.len() - 256);
    assert!(passed.len() <= 2, "{passed:?}");
    assert!(
        passed
            .iter()
            .all(|&i| i >= signed_end && i < signature_start),
        "{passed:?}"
    );
}

#[test]
fn chain_entries_split_into_der() {
    let inter = der(pem!("rsa-inter"));
    let two = [pem!("rsa-inter"), pem!("ec-inter")].concat();
    let out = chain_der(&[two, inter.clone()]).expect("split");
    assert_eq!(out.len(), 3);
    assert_eq!(out[0], inter);
    assert_eq!(out[1], der(pem!("ec-inter")));
    assert_eq!(out[2], inter, "DER passes through");
    assert_eq!(chain_der(&[]).expect("empty"), Vec::<Vec<u8>>::new());
    let ten = chain_der(&[pem!("rsa-inter").repeat(6), pem!("rsa-inter").repeat(4)]);
    assert_eq!(
        ten.map(|v| v.len()),
        Ok(MAX_INTERMEDIATES),
        "the limit itself is fine"
    );
    let eleven = pem!("rsa-inter").repeat(11);
    assert_eq!(
        chain_der(&[eleven]),
        Err(ChainError::TooManyIntermediates { count: 11 })
    );
    let e = chain_der(&[b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".to_vec()])
        .unwrap_err();
    assert!(matches!(e, ChainError::Malformed { .. }), "{e:?}");
}

/// A CRL fixture as a set.
fn crls(files: &[&[u8]]) -> CrlSet {
    CrlSet::parse(&files.concat()).expect("CRL")
}

macro_rules! crl {
    ($name:literal) => {
        include_bytes!(concat!("fixtures/", $name, ".crl")).as_slice()
    };
}

fn check_crls(leaf: &[u8], chain: &[&[u8]], crls: Option<&CrlSet>) -> Result<(), ChainError> {
    let chain: Vec<Vec<u8>> = chain.iter().map(|p| der(p)).collect();
    anchors(&[pem!("crl-root")]).verify_with_crls(&der(leaf), &chain, NOW, crls)
}

/// A sub-CA its issuer revoked stops every certificate under it; the same sub-CA re-issued
/// (same name and key, another serial) is another path, and the search finds it.
#[test]
fn a_revoked_intermediate_ends_its_path() {
    let revoking = crls(&[crl!("crl-root")]);
    let leaf = pem!("crl-leaf");
    let inter = pem!("crl-inter");
    let e = check_crls(leaf, &[inter], Some(&revoking)).unwrap_err();
    assert_eq!(
        e,
        ChainError::IntermediateRevoked {
            subject: "O=authrs test,CN=authrs test CRL intermediate".into(),
            serial: "1001".into(),
        }
    );
    assert!(e.to_string().contains("is revoked"), "{e}");
    // Without CRLs, or with one that lists nothing, or with only another issuer's, it verifies.
    assert_eq!(check_crls(leaf, &[inter], None), Ok(()));
    let empty = crls(&[crl!("crl-root-empty")]);
    assert_eq!(check_crls(leaf, &[inter], Some(&empty)), Ok(()));
    let other = crls(&[crl!("rsa-root"), crl!("crl-inter")]);
    assert_eq!(check_crls(leaf, &[inter], Some(&other)), Ok(()));
    // The plain `verify` looks at no CRL (the leaf-only check stays the engine's).
    let chain = vec![der(inter)];
    assert_eq!(
        anchors(&[pem!("crl-root")]).verify(&der(leaf), &chain, NOW),
        Ok(())
    );
    // The re-issued copy is not revoked: alone, or after the revoked one, it makes the path.
    let reissued = pem!("crl-inter-reissued");
    assert_eq!(check_crls(leaf, &[reissued], Some(&revoking)), Ok(()));
    assert_eq!(
        check_crls(leaf, &[inter, reissued], Some(&revoking)),
        Ok(())
    );
}

/// A CRL of the intermediate's issuer past its nextUpdate cannot vouch for it: fail closed,
/// as for the leaf (mod_ssl refuses on an expired CRL).
#[test]
fn a_stale_crl_of_the_issuer_fails_closed() {
    let stale = crls(&[crl!("crl-root-stale")]);
    let e = check_crls(
        pem!("crl-leaf"),
        &[pem!("crl-inter-reissued")],
        Some(&stale),
    )
    .unwrap_err();
    assert_eq!(
        e,
        ChainError::IntermediateCrlExpired {
            subject: "O=authrs test,CN=authrs test CRL intermediate".into(),
            issuer: "O=authrs test,CN=authrs test CRL root".into(),
        }
    );
    // A stale CRL still revokes what it lists.
    let e = check_crls(pem!("crl-leaf"), &[pem!("crl-inter")], Some(&stale)).unwrap_err();
    assert!(matches!(e, ChainError::IntermediateRevoked { .. }), "{e:?}");
}
