//! authrs's DN, serial, fingerprint and SAN rendering against the `openssl` binary:
//! every certificate of the system CA bundle, and generated certificates with hard DNs.
//! `openssl` is a prerequisite: when it is missing these tests fail, they never skip.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test: failing loudly is the point

mod cert_support;

use authrs_core::cert::crl::{CrlSet, CrlStatus};
use authrs_core::cert::map::{map_user, map_user_from_dn, MapError, UserRule};
use authrs_core::cert::{dn, CertError, Certificate};
use cert_support::{openssl, TempDir};
use std::path::Path;

const BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// What `openssl x509` prints for one certificate.
#[derive(Debug, Default)]
struct OpensslView {
    subject: String,
    issuer: String,
    subject_compat: String,
    issuer_compat: String,
    subject_mod_ssl: String,
    issuer_mod_ssl: String,
    serial: String,
    sha256: String,
}

/// Runs `openssl x509` twice (RFC 2253 and compat) over the PEM file `path`.
fn openssl_view(path: &Path) -> OpensslView {
    let p = path.to_str().expect("utf-8 temp path");
    let mut v = OpensslView::default();
    let rfc = openssl(&[
        "x509",
        "-in",
        p,
        "-noout",
        "-subject",
        "-issuer",
        "-serial",
        "-fingerprint",
        "-sha256",
        "-nameopt",
        "RFC2253",
    ]);
    for line in rfc.split_terminator('\n') {
        if let Some(s) = line.strip_prefix("subject=") {
            v.subject = s.to_string();
        } else if let Some(s) = line.strip_prefix("issuer=") {
            v.issuer = s.to_string();
        } else if let Some(s) = line.strip_prefix("serial=") {
            v.serial = s.to_string();
        } else if let Some(s) = line
            .to_ascii_lowercase()
            .strip_prefix("sha256 fingerprint=")
        {
            v.sha256 = s.replace(':', "");
        }
    }
    let compat = openssl(&[
        "x509", "-in", p, "-noout", "-subject", "-issuer", "-nameopt", "compat",
    ]);
    for line in compat.split_terminator('\n') {
        if let Some(s) = line.strip_prefix("subject=") {
            v.subject_compat = s.to_string();
        } else if let Some(s) = line.strip_prefix("issuer=") {
            v.issuer_compat = s.to_string();
        }
    }
    // mod_ssl prints with XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB.
    let mod_ssl = openssl(&[
        "x509",
        "-in",
        p,
        "-noout",
        "-subject",
        "-issuer",
        "-nameopt",
        "RFC2253,-esc_msb",
    ]);
    for line in mod_ssl.split_terminator('\n') {
        if let Some(s) = line.strip_prefix("subject=") {
            v.subject_mod_ssl = s.to_string();
        } else if let Some(s) = line.strip_prefix("issuer=") {
            v.issuer_mod_ssl = s.to_string();
        }
    }
    v
}

/// Compares every rendering of the certificate in `path` with OpenSSL's; returns the parse.
fn check_against_openssl(path: &Path) -> Certificate {
    let bytes = std::fs::read(path).expect("read cert");
    let cert = Certificate::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let want = openssl_view(path);
    let ctx = path.display();
    assert_eq!(cert.subject_dn, want.subject, "{ctx}: subject RFC 2253");
    assert_eq!(cert.issuer_dn, want.issuer, "{ctx}: issuer RFC 2253");
    assert_eq!(
        cert.subject_legacy(),
        want.subject_compat,
        "{ctx}: subject compat"
    );
    assert_eq!(
        cert.issuer_legacy(),
        want.issuer_compat,
        "{ctx}: issuer compat"
    );
    assert_eq!(
        cert.subject_dn_mod_ssl(),
        want.subject_mod_ssl,
        "{ctx}: subject mod_ssl"
    );
    assert_eq!(
        cert.issuer_dn_mod_ssl(),
        want.issuer_mod_ssl,
        "{ctx}: issuer mod_ssl"
    );
    assert_eq!(
        dn::escape_msb(&want.subject_mod_ssl),
        cert.subject_dn,
        "{ctx}: escape_msb"
    );
    assert_eq!(cert.serial, want.serial, "{ctx}: serial");
    assert_eq!(cert.sha256, want.sha256, "{ctx}: sha256");
    // The DN-string path must see the same attribute values as the certificate path.
    let parsed = dn::parse_rfc2253(&cert.subject_dn)
        .unwrap_or_else(|e| panic!("{ctx}: re-parse {}: {e}", cert.subject_dn));
    let mut from_string: Vec<(String, String)> = parsed;
    from_string.reverse();
    let from_cert: Vec<(String, String)> = cert
        .subject_attrs()
        .iter()
        .map(|a| (a.name.clone(), a.value.clone()))
        .collect();
    if !cert.subject_dn.contains("=#") {
        assert_eq!(from_string, from_cert, "{ctx}: parse_rfc2253 vs attributes");
    }
    cert
}

#[test]
fn system_ca_bundle_matches_openssl() {
    let text = std::fs::read_to_string(BUNDLE)
        .expect("system CA bundle (apt-get install ca-certificates)");
    let dir = TempDir::new("bundle");
    let mut n = 0;
    for (i, block) in text
        .split_inclusive("-----END CERTIFICATE-----\n")
        .enumerate()
    {
        let Some(start) = block.find("-----BEGIN CERTIFICATE-----") else {
            continue;
        };
        let path = dir.path().join(format!("ca{i}.pem"));
        std::fs::write(&path, &block[start..]).expect("write");
        check_against_openssl(&path);
        n += 1;
    }
    assert!(n > 50, "only {n} certificates in {BUNDLE}");
}

/// A self-signed certificate `<name>.pem` (key `<name>.key`) from `openssl req` with the given
/// extra arguments.
fn req(dir: &TempDir, name: &str, args: &[&str]) -> std::path::PathBuf {
    let out = dir.path().join(format!("{name}.pem"));
    let key = dir.path().join(format!("{name}.key"));
    let mut all = vec![
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key.to_str().expect("utf-8"),
        "-out",
        out.to_str().expect("utf-8"),
        "-days",
        "2",
    ];
    all.extend_from_slice(args);
    openssl(&all);
    out
}

/// Rewrites the certificate's DER, replacing `from` by `to` (same length), and stores it
/// as PEM: the signature breaks, which neither OpenSSL's printer nor x509-parser checks.
fn patch(dir: &TempDir, src: &Path, name: &str, edits: &[(&[u8], &[u8])]) -> std::path::PathBuf {
    let der_path = dir.path().join(format!("{name}.der"));
    openssl(&[
        "x509",
        "-in",
        src.to_str().expect("utf-8"),
        "-outform",
        "DER",
        "-out",
        der_path.to_str().expect("utf-8"),
    ]);
    let mut der = std::fs::read(&der_path).expect("read der");
    for (from, to) in edits {
        assert_eq!(from.len(), to.len());
        // Every occurrence: a self-signed certificate has the name twice.
        let mut found = false;
        while let Some(at) = der.windows(from.len()).position(|w| w == *from) {
            der[at..at + to.len()].copy_from_slice(to);
            found = true;
        }
        assert!(found, "marker {from:?} in DER");
    }
    std::fs::write(&der_path, &der).expect("write der");
    let pem = dir.path().join(format!("{name}.pem"));
    openssl(&[
        "x509",
        "-inform",
        "DER",
        "-in",
        der_path.to_str().expect("utf-8"),
        "-out",
        pem.to_str().expect("utf-8"),
    ]);
    pem
}

#[test]
fn hard_generated_dns_match_openssl() {
    let dir = TempDir::new("hard");
    let subjects: &[(&str, &[&str])] = &[
        ("utf8", &["-utf8", "-subj", "/C=DE/ST=Bayern/L=München/O=Jürgen & Söhne/CN=Jürgen Müller 日本 😀"]),
        ("escapes", &["-subj", r#"/CN=a\,b\+c"d\\e<f>g;h=i/O=#lead/OU= lead and trail /L=#/ST= /street=x#y"#]),
        ("multi", &["-multivalue-rdn", "-subj", "/DC=org/DC=example/O=Ex+OU=Dev+OU=Ops/CN=alice+UID=a1+emailAddress=alice@example.org"]),
        ("attrs", &["-subj", "/C=XX/serialNumber=1234/title=Dr/GN=Al/SN=Ice/initials=A/pseudonym=p/postalCode=12/street=Main/businessCategory=b/jurisdictionC=DE/organizationIdentifier=VATDE-1/unstructuredName=u/dnQualifier=q/x500UniqueIdentifier=z"]),
        ("cn_by_oid", &["-subj", "/2.5.4.3=cn by oid/CN=x"]),
        ("slash", &["-subj", r"/O=a\/b/CN=plus\+sign/OU=back\\slash"]),
        ("serial0", &["-set_serial", "0", "-subj", "/CN=zero"]),
        ("serial256", &["-set_serial", "256", "-subj", "/CN=256"]),
        ("serialneg", &["-set_serial", "-129", "-subj", "/CN=neg"]),
        ("serialhigh", &["-set_serial", "0xFF00000000000000000000000000000000000001", "-subj", "/CN=high"]),
        ("empty", &["-subj", "/"]),
    ];
    for (name, args) in subjects {
        check_against_openssl(&req(&dir, name, args));
    }
    // OIDs OpenSSL does not know (`-subj` skips them; a config's oid_section does not):
    // hex-dumped DER, a value past 127 bytes (long-form length), an OID past
    // OBJ_obj2txt's 80-byte buffer, and an unknown OID inside a multi-valued RDN.
    let oids = dir.path().join("oids.cnf");
    std::fs::write(
        &oids,
        format!(
            "oid_section=new_oids\n[new_oids]\nmyattr=1.2.3.4\nprivattr=1.3.6.1.4.1.99999.1\n\
             longattr=1.3.6.1.4.1{}\n[req]\ndistinguished_name=dn\nprompt=no\n[dn]\n\
             myattr=unknown value\nlongattr=x\nprivattr={}\nCN=oids\n+privattr=y\n",
            ".99999".repeat(15),
            "v".repeat(300)
        ),
    )
    .expect("cnf");
    let c = check_against_openssl(&req(
        &dir,
        "oids",
        &["-config", oids.to_str().expect("utf-8")],
    ));
    assert!(
        c.subject_dn
            .contains(",1.2.3.4=#0C0D756E6B6E6F776E2076616C7565"),
        "{}",
        c.subject_dn
    );
    assert!(
        c.subject_dn.contains("1.3.6.1.4.1.99999.1=#0C82012C7676"),
        "{}",
        c.subject_dn
    );
    assert_eq!(c.attribute("1.2.3.4"), Some("unknown value"));
    // T61String and BMPString through string_mask = default (smallest type that fits).
    let cnf = dir.path().join("bmp.cnf");
    std::fs::write(
        &cnf,
        "[req]\ndistinguished_name=dn\nprompt=no\nstring_mask=default\nutf8=yes\n\
         [dn]\nC=XX\nO=Zürich é\nOU= Ωmega\nCN=ẞ x, y;z\n",
    )
    .expect("cnf");
    let bmp = req(&dir, "bmp", &["-config", cnf.to_str().expect("utf-8")]);
    let c = check_against_openssl(&bmp);
    assert_eq!(c.attribute("CN"), Some("ẞ x, y;z"), "BMP value decoded");
    assert_eq!(
        c.attribute("O"),
        Some("Zürich é"),
        "T61 value decoded as Latin-1"
    );
}

#[test]
fn crafted_bytes_match_openssl() {
    let dir = TempDir::new("crafted");
    let base = req(
        &dir,
        "base",
        &["-subj", "/O=NULxAB/OU=CTLxyzAB/L=MSBxAB/ST=PRNxAB/CN=UNIVwxyz/street=BITSxyz/title=SEQSxyz/description=IA5xAB"],
    );
    let edits: &[(&[u8], &[u8])] = &[
        (b"NULxAB", b"NUL\0AB"),                   // NUL inside a UTF8String
        (b"CTLxyzAB", b"CTL\n\r\x01\x7fB"),        // CR, LF and friends
        (b"\x0c\x06PRNxAB", b"\x13\x06PRN\xe9AB"), // high byte in a PrintableString
        (b"\x0c\x08UNIVwxyz", b"\x1c\x08\0\x01\xf6\0\0\0\0A"), // UniversalString 😀A
        (b"\x0c\x07BITSxyz", b"\x03\x07\0BITSxy"), // BIT STRING value
        (b"\x0c\x07SEQSxyz", b"\x30\x07\x0c\x05hello"), // SEQUENCE value
        (b"\x0c\x06IA5xAB", b"\x16\x06IA5\xe9AB"), // high byte in an IA5String
    ];
    let crafted = patch(&dir, &base, "crafted", edits);
    let c = check_against_openssl(&crafted);
    assert_eq!(
        c.attribute("O"),
        Some("NUL\0AB"),
        "NUL kept in the value so mapping can refuse it"
    );
    let by_template: UserRule = "{O}".parse().expect("rule");
    assert_eq!(map_user(&c, &by_template, None), Err(MapError::BadUserChar));
    assert_eq!(
        map_user_from_dn(&c.subject_dn, &by_template, None),
        Err(MapError::BadUserChar)
    );
    // Names OpenSSL refuses to load, and so does authrs (where it parses certificates itself:
    // forwarded by a proxy, XFCC, ACCEPT_UNTRUSTED): rendered anyway, such values are cut or
    // dropped, and two different subjects could print as the same DN (`CN=adm\u{d800}in`
    // printing as `CN=admin`). Each is a same-length edit of a certificate OpenSSL made.
    let der = dir.path().join("base.der");
    openssl(&[
        "x509",
        "-in",
        base.to_str().expect("utf-8"),
        "-outform",
        "DER",
        "-out",
        der.to_str().expect("utf-8"),
    ]);
    let base_der = std::fs::read(&der).expect("der");
    let refused = |name: &str, bytes: &[u8], why: &'static str| {
        let path = dir.path().join(format!("{name}.der"));
        std::fs::write(&path, bytes).expect("write");
        let theirs = std::process::Command::new("openssl")
            .args(["x509", "-inform", "DER", "-noout", "-subject", "-in"])
            .arg(&path)
            .output()
            .expect("openssl");
        assert!(!theirs.status.success(), "{name}: OpenSSL loads it");
        assert_eq!(
            Certificate::parse(bytes).err(),
            Some(CertError::BadName(why)),
            "{name}"
        );
    };
    let edited = |from: &[u8], to: &[u8]| {
        assert_eq!(from.len(), to.len());
        let mut bytes = base_der.clone();
        let mut found = false;
        while let Some(at) = bytes.windows(from.len()).position(|w| w == from) {
            bytes[at..at + to.len()].copy_from_slice(to);
            found = true;
        }
        assert!(found, "marker {from:?}");
        bytes
    };
    refused(
        "bad-utf8",
        &edited(b"MSBxAB", b"MSB\xff\xfeB"),
        "a UTF8String is not UTF-8",
    );
    // OU-like attribute `L=MSBxAB` retyped with the OID of CN padded (55 04 80 03 for 2.5.4.3):
    // read leniently it is a second CN.
    refused(
        "padded-oid",
        &edited(
            b"\x06\x03\x55\x04\x07\x0c\x06MSBxAB",
            b"\x06\x04\x55\x04\x80\x03\x0c\x05MSBxA",
        ),
        "an attribute type's OID is not minimally encoded",
    );
    // BMPString with a lone surrogate.
    let cnf = dir.path().join("sur.cnf");
    std::fs::write(
        &cnf,
        "[req]\ndistinguished_name=dn\nprompt=no\nstring_mask=default\nutf8=yes\n[dn]\nCN=Ωsur\n",
    )
    .expect("cnf");
    let sur = req(&dir, "sur", &["-config", cnf.to_str().expect("utf-8")]);
    let sur_der = dir.path().join("sur.der");
    openssl(&[
        "x509",
        "-in",
        sur.to_str().expect("utf-8"),
        "-outform",
        "DER",
        "-out",
        sur_der.to_str().expect("utf-8"),
    ]);
    let good = std::fs::read(&sur_der).expect("der");
    assert!(
        Certificate::parse(&good).is_ok(),
        "the unedited BMPString loads"
    );
    let mut bytes = good.clone();
    while let Some(at) = bytes.windows(4).position(|w| w == b"\x00s\x00u") {
        bytes[at..at + 4].copy_from_slice(b"\xd8\x00\x00u");
    }
    refused("surrogate", &bytes, "a BMPString holds a surrogate");
}

#[test]
fn subject_alt_names_are_read() {
    let dir = TempDir::new("san");
    let p = req(
        &dir,
        "san",
        &[
            "-subj", "/CN=alice",
            "-addext",
            "subjectAltName=email:alice@example.org,DNS:alice.example.org,URI:https://example.org/alice,IP:192.0.2.7,IP:2001:db8::1,otherName:1.3.6.1.5.5.7.8.5;UTF8:alice@xmpp.example.org,otherName:1.3.6.1.4.1.311.20.2.3;UTF8:alice@corp.example",
        ],
    );
    let c = check_against_openssl(&p);
    assert_eq!(c.san.email, ["alice@example.org"]);
    assert_eq!(c.san.dns, ["alice.example.org"]);
    assert_eq!(c.san.uri, ["https://example.org/alice"]);
    assert_eq!(c.san.ip, ["192.0.2.7", "2001:db8::1"]);
    assert_eq!(c.san.xmpp, ["alice@xmpp.example.org"]);
    assert_eq!(c.san.upn, ["alice@corp.example"]);
}

/// Path of `file` in `dir`, as the `openssl` command line takes it.
fn at(dir: &TempDir, file: &str) -> String {
    dir.path().join(file).to_str().expect("utf-8").to_string()
}

/// [`req`]'s self-signed certificate for `subj`, with `extra` arguments: the (key,
/// certificate) paths, as the `openssl` command line takes them.
fn ec_self_signed(dir: &TempDir, name: &str, subj: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["-subj", subj];
    args.extend_from_slice(extra);
    let pem = req(dir, name, &args);
    let pem = pem.to_str().expect("utf-8").to_string();
    (at(dir, &format!("{name}.key")), pem)
}

/// A new P-256 key and a request for `/CN=<name>`, signed by `ca` (key, certificate) for 10
/// days with `extra` arguments (`-set_serial`, `-extfile`): the certificate's path.
fn ec_issued(dir: &TempDir, name: &str, ca: (&str, &str), extra: &[&str]) -> String {
    let (key, csr, pem) = (
        at(dir, &format!("{name}.key")),
        at(dir, &format!("{name}.csr")),
        at(dir, &format!("{name}.pem")),
    );
    let subj = format!("/CN={name}");
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &csr,
        "-subj",
        &subj,
    ]);
    let mut args = vec!["x509", "-req", "-in", &csr, "-CA", ca.1, "-CAkey", ca.0];
    args.extend_from_slice(&["-days", "10", "-out", &pem]);
    args.extend_from_slice(extra);
    openssl(&args);
    pem
}

/// A CA with serial 0x1001, a revoked client certificate that shares that serial, a good
/// one with serial 0x2002, and a CRL from `openssl ca -gencrl`. The good certificate must
/// pass: POE::Component::SSLify checked the serial of the CA (the certificate at the
/// current chain depth) against the CRL, which revoked everyone. Issuer and serial of the
/// leaf are what count.
#[test]
fn crl_from_openssl_ca_matches_issuer_and_serial() {
    let dir = TempDir::new("crl");
    let d = |f: &str| dir.path().join(f).to_str().expect("utf-8").to_string();
    std::fs::write(d("index.txt"), "").expect("index");
    std::fs::write(d("crlnumber"), "01\n").expect("crlnumber");
    std::fs::create_dir(d("new")).expect("newcerts");
    let cnf = format!(
        "[ca]\ndefault_ca=own\n[own]\ndir={}\ndatabase=$dir/index.txt\nnew_certs_dir=$dir/new\n\
         certificate=$dir/ca.pem\nprivate_key=$dir/ca.key\ncrlnumber=$dir/crlnumber\n\
         default_md=sha256\ndefault_crl_days=30\npolicy=any\n[any]\ncommonName=supplied\n",
        dir.path().display()
    );
    std::fs::write(d("ca.cnf"), cnf).expect("ca.cnf");
    let (ca_key, ca_pem) = ec_self_signed(
        &dir,
        "ca",
        "/O=Test CA/CN=Test CA",
        &["-set_serial", "0x1001"],
    );
    for (name, serial) in [("bad", "0x1001"), ("good", "0x2002")] {
        ec_issued(&dir, name, (&ca_key, &ca_pem), &["-set_serial", serial]);
    }
    openssl(&[
        "ca",
        "-config",
        &d("ca.cnf"),
        "-revoke",
        &d("bad.pem"),
        "-batch",
    ]);
    openssl(&[
        "ca",
        "-config",
        &d("ca.cnf"),
        "-gencrl",
        "-out",
        &d("crl.pem"),
        "-batch",
    ]);
    let ca = check_against_openssl(Path::new(&ca_pem));
    let bad = check_against_openssl(Path::new(&d("bad.pem")));
    let good = check_against_openssl(Path::new(&d("good.pem")));
    assert_eq!(
        ca.serial, bad.serial,
        "the trap: the revoked serial is the CA's own"
    );
    let issuer_line = openssl(&[
        "crl",
        "-in",
        &d("crl.pem"),
        "-noout",
        "-issuer",
        "-nameopt",
        "RFC2253",
    ]);
    let set = CrlSet::parse(&std::fs::read(d("crl.pem")).expect("crl")).expect("CRL parses");
    let crl = &set.crls()[0];
    assert_eq!(
        crl.issuer_dn,
        issuer_line.trim_end().trim_start_matches("issuer=")
    );
    assert_eq!(crl.revoked, std::slice::from_ref(&bad.serial));
    let now = ca.not_before + 60;
    assert_eq!(
        set.check(&good.issuer_dn, &good.serial, now),
        CrlStatus::NotRevoked
    );
    assert_eq!(
        set.check(&bad.issuer_dn, &bad.serial, now),
        CrlStatus::Revoked
    );
    // Same serial from another issuer: never revoked by this CRL (the seed's SSLify bug); that
    // issuer has no CRL at all, which the engine refuses for CA-verified certificates.
    assert_eq!(set.check("CN=Other CA", &bad.serial, now), CrlStatus::NoCrl);
    // Once the CRL is past nextUpdate: still revoked for the listed one, reported otherwise.
    let later = crl.next_update.expect("nextUpdate") + 1;
    assert_eq!(
        set.check(&bad.issuer_dn, &bad.serial, later),
        CrlStatus::Revoked
    );
    assert!(matches!(
        set.check(&good.issuer_dn, &good.serial, later),
        CrlStatus::CrlExpired { .. }
    ));
    // The DER form of the same CRL.
    openssl(&[
        "crl",
        "-in",
        &d("crl.pem"),
        "-outform",
        "DER",
        "-out",
        &d("crl.der"),
    ]);
    let der = CrlSet::parse(&std::fs::read(d("crl.der")).expect("der")).expect("DER CRL parses");
    assert_eq!(
        der.check(&bad.issuer_dn, &bad.serial, now),
        CrlStatus::Revoked
    );
    assert_eq!(
        der.check(&good.issuer_dn, &good.serial, now),
        CrlStatus::NotRevoked
    );
}

/// CRLs that are not one complete list of their issuer's revocations, made by `openssl ca
/// -gencrl -crlexts`: a delta CRL, an issuingDistributionPoint CRL (here reason-limited) and one
/// with a critical extension nobody knows. Read as complete, each would vouch for certificates it
/// does not cover: they load, their entries revoke, they are reported, and they never keep their
/// issuer current (mod_ssl's OpenSSL skips or refuses them). The same CA's plain CRL does.
#[test]
fn incomplete_crls_revoke_but_keep_no_issuer_current() {
    let dir = TempDir::new("crl-incomplete");
    let d = |f: &str| dir.path().join(f).to_str().expect("utf-8").to_string();
    std::fs::write(d("index.txt"), "").expect("index");
    std::fs::write(d("crlnumber"), "01\n").expect("crlnumber");
    let cnf = format!(
        "[ca]\ndefault_ca=own\n[own]\ndir={}\ndatabase=$dir/index.txt\n\
         certificate=$dir/ca.pem\nprivate_key=$dir/ca.key\ncrlnumber=$dir/crlnumber\n\
         default_md=sha256\ndefault_crl_days=30\n\
         [delta]\n2.5.29.27=critical,DER:02:01:01\n\
         [idp]\nissuingDistributionPoint=critical,@idp_s\n\
         [idp_s]\nfullname=URI:http://ca.example/crl\nonlysomereasons=keyCompromise\n\
         [unknown]\n1.2.3.4=critical,DER:05:00\n\
         [known]\n1.2.3.4=DER:05:00\n",
        dir.path().display()
    );
    std::fs::write(d("ca.cnf"), cnf).expect("ca.cnf");
    ec_self_signed(&dir, "ca", "/CN=Test CA", &[]);
    let gencrl = |exts: &str| {
        let out = d(&format!("{exts}.crl"));
        openssl(&[
            "ca",
            "-config",
            &d("ca.cnf"),
            "-gencrl",
            "-crlexts",
            exts,
            "-out",
            &out,
            "-batch",
        ]);
        CrlSet::parse(&std::fs::read(&out).expect("crl")).expect(exts)
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    for (exts, why) in [
        ("delta", "delta CRL"),
        ("idp", "issuingDistributionPoint"),
        ("unknown", "critical extension 1.2.3.4"),
    ] {
        let set = gencrl(exts);
        let w = set.warnings();
        assert!(w.len() == 1 && w[0].contains(why), "{exts}: {w:?}");
        assert_eq!(
            set.check("CN=Test CA", "1234", now),
            CrlStatus::CrlExpired {
                issuer_dn: "CN=Test CA".into()
            },
            "{exts}"
        );
    }
    // The same unknown extension, not critical, is no reason to distrust the CRL.
    let set = gencrl("known");
    assert!(set.warnings().is_empty());
    assert_eq!(set.check("CN=Test CA", "1234", now), CrlStatus::NotRevoked);
}

/// A client certificate whose keyUsage allows neither digitalSignature nor keyAgreement (an
/// encryption-only key from the same CA) is refused by chain verification, as by
/// `openssl verify -purpose sslclient` (mod_ssl); one with digitalSignature passes both.
#[test]
fn client_key_usage_matches_openssl_ssl_client_purpose() {
    use authrs_core::cert::chain::{ChainError, TrustAnchors};
    let dir = TempDir::new("keyusage");
    let d = |f: &str| dir.path().join(f).to_str().expect("utf-8").to_string();
    // One file for `req` (its [req] section) and for the extensions of each certificate.
    std::fs::write(
        d("ext.cnf"),
        "[req]\ndistinguished_name=dn\n[dn]\n\
         [ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
         [enc]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,keyEncipherment\n\
         [sig]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n",
    )
    .expect("ext");
    let ext = d("ext.cnf");
    let (ca_key, ca_pem) = ec_self_signed(
        &dir,
        "ca",
        "/CN=Key Usage CA",
        &["-extensions", "ca", "-config", &ext],
    );
    let anchors = TrustAnchors::parse(&std::fs::read(&ca_pem).expect("ca")).expect("anchor");
    for (name, refused) in [("enc", true), ("sig", false)] {
        let pem = ec_issued(
            &dir,
            name,
            (&ca_key, &ca_pem),
            &["-extfile", &ext, "-extensions", name],
        );
        let der = d(&format!("{name}.der"));
        openssl(&["x509", "-in", &pem, "-outform", "DER", "-out", &der]);
        let theirs = std::process::Command::new("openssl")
            .args(["verify", "-purpose", "sslclient", "-CAfile", &ca_pem, &pem])
            .output()
            .expect("openssl");
        assert_eq!(
            !theirs.status.success(),
            refused,
            "{name}: OpenSSL disagrees"
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let ours = anchors.verify(&std::fs::read(&der).expect("der"), &[], now);
        if refused {
            assert!(
                matches!(ours, Err(ChainError::KeyNotForClientAuth { .. })),
                "{name}: {ours:?}"
            );
        } else {
            assert_eq!(ours, Ok(()), "{name}");
        }
    }
}
