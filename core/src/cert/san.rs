//! subjectAltName entries: email, DNS, URI, IP, and the otherNames xmppAddr and UPN.

use super::dn::{decode_value, with_id_string};
use super::CertError;
use std::net::{Ipv4Addr, Ipv6Addr};
use x509_parser::asn1_rs::{Any, Class, FromDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

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
    pub(crate) fn from_x509(x509: &X509Certificate<'_>) -> Result<Self, CertError> {
        let mut san = SubjectAltNames::default();
        let ext = x509
            .subject_alternative_name()
            .map_err(|e| CertError::BadSubjectAltName(e.to_string()))?;
        let Some(ext) = ext else {
            return Ok(san);
        };
        for name in &ext.value.general_names {
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
