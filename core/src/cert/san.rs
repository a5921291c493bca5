//! subjectAltName entries: email, DNS, URI, IP, and the otherNames xmppAddr and UPN.

use super::dn::{decode_value, with_id_string};
use super::CertError;
use std::net::{Ipv4Addr, Ipv6Addr};
use x509_parser::asn1_rs::{Any, Class, FromDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::error::X509Error;
use x509_parser::extensions::{GeneralName, SubjectAlternativeName};
use x509_parser::oid_registry::OID_X509_EXT_SUBJECT_ALT_NAME;

/// otherName id-on-xmppAddr (RFC 6120), as prosody's mod_client_certs reads it.
pub const OID_XMPP_ADDR: &str = "1.3.6.1.5.5.7.8.5";
/// otherName Microsoft User Principal Name.
pub const OID_MS_UPN: &str = "1.3.6.1.4.1.311.20.2.3";

/// The subjectAltName entries authrs understands, each list in certificate order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectAltNames {
    /// rfc822Name entries.
    pub email: Vec<String>,
    /// dNSName entries.
    pub dns: Vec<String>,
    /// uniformResourceIdentifier entries.
    pub uri: Vec<String>,
    /// iPAddress entries, IPv4 dotted, IPv6 in RFC 5952 form.
    pub ip: Vec<String>,
    /// otherName id-on-xmppAddr (1.3.6.1.5.5.7.8.5) values.
    pub xmpp: Vec<String>,
    /// otherName Microsoft UPN (1.3.6.1.4.1.311.20.2.3) values.
    pub upn: Vec<String>,
}

impl SubjectAltNames {
    /// Collects the SANs of `x509`; a duplicated or undecodable extension is an error,
    /// while single entries of unknown kinds or broken encodings are skipped.
    /// Works whether or not `x509` was parsed with deep extension parsing.
    pub(crate) fn from_x509(x509: &X509Certificate<'_>) -> Result<Self, CertError> {
        let mut san = SubjectAltNames::default();
        let ext = san_extension(x509).map_err(|e| CertError::BadSubjectAltName(e.to_string()))?;
        let Some(ext) = ext else {
            return Ok(san);
        };
        for name in &ext.general_names {
            match name {
                GeneralName::RFC822Name(s) => san.email.push((*s).to_string()),
                GeneralName::DNSName(s) => san.dns.push((*s).to_string()),
                GeneralName::URI(s) => san.uri.push((*s).to_string()),
                GeneralName::IPAddress(b) => {
                    if let Some(ip) = ip_string(b) {
                        san.ip.push(ip);
                    }
                }
                GeneralName::OtherName(oid, rest) => {
                    let target =
                        match with_id_string(oid, |t| (t == OID_XMPP_ADDR, t == OID_MS_UPN)) {
                            (true, _) => &mut san.xmpp,
                            (_, true) => &mut san.upn,
                            _ => continue,
                        };
                    if let Some(v) = other_name_value(rest) {
                        target.push(v);
                    }
                }
                _ => {}
            }
        }
        Ok(san)
    }
}

/// The subjectAltName extension, decoded from its raw value, with the outcomes of
/// x509-parser's `subject_alternative_name()` on a deeply parsed certificate: `None` when
/// absent, `DuplicateExtensions` when present twice, `InvalidExtensions` when undecodable.
/// Certificates are parsed without deep extension parsing (which decodes every known
/// extension, only to have this one read), so the one needed is decoded here.
fn san_extension<'a>(
    x509: &X509Certificate<'a>,
) -> Result<Option<SubjectAlternativeName<'a>>, X509Error> {
    let Some(ext) = x509.get_extension_unique(&OID_X509_EXT_SUBJECT_ALT_NAME)? else {
        return Ok(None);
    };
    // Deep parsing uses the same grammar and likewise ignores bytes after the SEQUENCE.
    match SubjectAlternativeName::from_der(ext.value) {
        Ok((_, value)) => Ok(Some(value)),
        Err(_) => Err(X509Error::InvalidExtensions),
    }
}

/// The text inside otherName's `[0] EXPLICIT` value, when it is a string type.
fn other_name_value(rest: &[u8]) -> Option<String> {
    let (_, outer) = Any::from_der(rest).ok()?;
    if outer.class() != Class::ContextSpecific || outer.tag().0 != 0 {
        return None;
    }
    let (trailing, inner) = Any::from_der(outer.data).ok()?;
    if !trailing.is_empty() {
        return None;
    }
    // UTF8String per RFC 6120 and Microsoft; other string types tolerated, non-strings not.
    let is_string =
        inner.class() == Class::Universal && [12, 19, 22, 28, 30].contains(&inner.tag().0);
    is_string.then(|| decode_value(&inner))
}

/// An iPAddress entry as text; other lengths (netmasks in name constraints) are skipped.
fn ip_string(b: &[u8]) -> Option<String> {
    match b.len() {
        4 => Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            Some(Ipv6Addr::from(a).to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

    use super::*;
    use x509_parser::certificate::X509CertificateParser;
    use x509_parser::nom::Parser;

    const ALICE: &[u8] = include_bytes!("testdata/alice.pem");
    /// Extension OIDs as they sit in the DER: `06 03 55 1d xx`.
    const SAN_OID: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x11];
    const BASIC_CONSTRAINTS_OID: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x13];

    fn alice_der() -> Vec<u8> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(ALICE).unwrap();
        pem.contents
    }

    fn find(der: &[u8], what: &[u8]) -> usize {
        der.windows(what.len()).position(|w| w == what).unwrap()
    }

    /// What the shallow parse + [`san_extension`] gives, and what x509-parser's deep
    /// parse + `subject_alternative_name()` gives, as comparable text.
    fn both(der: &[u8]) -> (String, String) {
        let (_, shallow) = X509CertificateParser::new()
            .with_deep_parse_extensions(false)
            .parse(der)
            .unwrap();
        let (_, deep) = X509Certificate::from_der(der).unwrap();
        let ours = format!(
            "{:?}",
            san_extension(&shallow).map(|o| o.map(|v| v.general_names))
        );
        let theirs = format!(
            "{:?}",
            deep.subject_alternative_name()
                .map(|o| o.map(|e| e.value.general_names.clone()))
        );
        (ours, theirs)
    }

    #[test]
    fn other_name_values_must_be_explicit_0_strings() {
        // otherName's value: [0] EXPLICIT UTF8String "a@b".
        assert_eq!(
            other_name_value(&[0xa0, 0x05, 0x0c, 0x03, b'a', b'@', b'b']).as_deref(),
            Some("a@b")
        );
        // Tagged [1] instead of [0]: not an otherName value.
        assert_eq!(
            other_name_value(&[0xa1, 0x05, 0x0c, 0x03, b'a', b'@', b'b']),
            None
        );
        // [0] around an INTEGER, not a string: skipped rather than rendered as a name.
        assert_eq!(other_name_value(&[0xa0, 0x03, 0x02, 0x01, 0x05]), None);
    }

    #[test]
    fn ip_addresses_as_text() {
        let mut v6 = [0u8; 16];
        v6[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        v6[15] = 1;
        assert_eq!(ip_string(&v6).as_deref(), Some("2001:db8::1"));
        assert_eq!(ip_string(&[192, 0, 2, 7]).as_deref(), Some("192.0.2.7"));
        assert_eq!(
            ip_string(&[255, 255, 255, 0, 10, 0, 0, 0]),
            None,
            "a netmask"
        );
    }

    #[test]
    fn shallow_san_decoding_matches_deep_parsing() {
        let good = alice_der();
        let san_value = find(&good, SAN_OID) + SAN_OID.len() + 2; // past `04 len`
        let mut cases = vec![("intact", good.clone())];
        let mut first_name_universal = good.clone();
        first_name_universal[san_value + 2] &= 0x1f; // [1] IMPLICIT → universal: refused
        cases.push(("bad GeneralName class", first_name_universal));
        let mut not_a_sequence = good.clone();
        not_a_sequence[san_value] = 0x31;
        cases.push(("SET instead of SEQUENCE", not_a_sequence));
        let mut short = good.clone();
        short[san_value + 1] -= 1; // last GeneralName cut by one byte
        cases.push(("truncated list", short));
        let mut twice = good.clone();
        let bc = find(&twice, BASIC_CONSTRAINTS_OID);
        twice[bc + 4] = 0x11; // basicConstraints becomes a second SAN
        cases.push(("duplicate", twice));
        let mut absent = good.clone();
        let at = find(&absent, SAN_OID);
        absent[at + 4] = 0x12; // issuerAltName instead
        cases.push(("absent", absent));
        let mut outcomes = Vec::new();
        for (what, der) in &cases {
            let (ours, theirs) = both(der);
            assert_eq!(ours, theirs, "{what}");
            outcomes.push(ours);
        }
        assert!(outcomes[0].starts_with("Ok(Some(["), "{}", outcomes[0]);
        assert!(outcomes[1].contains("InvalidExtensions"), "{}", outcomes[1]);
        assert!(outcomes[2].contains("InvalidExtensions"), "{}", outcomes[2]);
        assert!(outcomes[3].contains("InvalidExtensions"), "{}", outcomes[3]);
        assert!(
            outcomes[4].contains("DuplicateExtensions"),
            "{}",
            outcomes[4]
        );
        assert_eq!(outcomes[5], "Ok(None)");
        // And through Certificate::parse, the errors keep their text.
        let err = crate::cert::Certificate::from_der(&cases[4].1).unwrap_err();
        assert!(matches!(err, CertError::BadSubjectAltName(_)), "{err}");
    }
}
