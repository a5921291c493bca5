//! [`Certificate`]: a parsed client certificate with everything authrs reads from it.

use super::dn::{self, DnAttribute};
use super::serial::serial_hex;
use super::{CertError, SubjectAltNames};
use crate::time::UnixTime;
use sha2::{Digest, Sha256};
use x509_parser::certificate::X509CertificateParser;
use x509_parser::nom::Parser;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

/// Largest certificate accepted, PEM or DER; real client certificates are a few KiB.
pub const MAX_CERT_LEN: usize = 64 * 1024;

/// A parsed X.509 certificate, reduced to owned values authrs uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Subject DN as OpenSSL's RFC 2253 printer (mod_ssl `SSL_CLIENT_S_DN`, Envoy) renders it.
    pub subject_dn: String,
    /// Issuer DN, RFC 2253 form (mod_ssl `SSL_CLIENT_I_DN`).
    pub issuer_dn: String,
    /// Serial as mod_ssl's `SSL_CLIENT_M_SERIAL`: uppercase hex, whole bytes (`0100`).
    pub serial: String,
    /// notBefore, Unix seconds.
    pub not_before: UnixTime,
    /// notAfter, Unix seconds.
    pub not_after: UnixTime,
    /// subjectAltName entries.
    pub san: SubjectAltNames,
    /// SHA-256 of the DER, lowercase hex (Envoy's `sha256_peer_certificate_digest`).
    pub sha256: String,
    /// The DER encoding.
    pub der: Vec<u8>,
    subject_attrs: Vec<DnAttribute>,
    issuer_attrs: Vec<DnAttribute>,
    /// DER of the subject Name, kept for [`Certificate::subject_legacy`]: few requests
    /// want the legacy form, so it is rendered on demand rather than at every parse.
    subject_raw: Vec<u8>,
    /// DER of the issuer Name, for [`Certificate::issuer_legacy`].
    issuer_raw: Vec<u8>,
}

impl Certificate {
    /// Parses PEM or DER: DER starts with a SEQUENCE tag (0x30), anything else is PEM text.
    pub fn parse(input: &[u8]) -> Result<Certificate, CertError> {
        if input.first() == Some(&0x30) {
            Certificate::from_der(input)
        } else {
            Certificate::from_pem(input)
        }
    }

    /// Parses the first `CERTIFICATE` block of PEM text (the leaf, in a chain).
    pub fn from_pem(input: &[u8]) -> Result<Certificate, CertError> {
        if input.len() > MAX_CERT_LEN * 2 {
            return Err(CertError::TooLarge);
        }
        for pem in Pem::iter_from_buffer(input) {
            let pem = pem.map_err(|e| CertError::BadPem(e.to_string()))?;
            if pem.label == "CERTIFICATE" {
                return Certificate::from_der_vec(pem.contents);
            }
        }
        Err(CertError::BadPem("no CERTIFICATE block".to_string()))
    }

    /// SHA-256 (lowercase hex) of the DER of `input`'s first `CERTIFICATE` block (or of `input`
    /// itself when it is DER), without parsing the certificate; `None` when there is none.
    pub fn sha256_of(input: &[u8]) -> Option<String> {
        if input.len() > MAX_CERT_LEN * 2 {
            return None;
        }
        if input.first() == Some(&0x30) {
            return Some(hex_lower(&Sha256::digest(input)));
        }
        Pem::iter_from_buffer(input)
            .map_while(Result::ok)
            .find(|pem| pem.label == "CERTIFICATE")
            .map(|pem| hex_lower(&Sha256::digest(&pem.contents)))
    }

    /// Parses one DER certificate; trailing bytes are refused.
    pub fn from_der(der: &[u8]) -> Result<Certificate, CertError> {
        if der.len() > MAX_CERT_LEN {
            return Err(CertError::TooLarge);
        }
        Certificate::from_der_vec(der.to_vec())
    }

    /// [`Certificate::from_der`] on a buffer it may keep (PEM's decoded block needs no copy).
    fn from_der_vec(der: Vec<u8>) -> Result<Certificate, CertError> {
        if der.len() > MAX_CERT_LEN {
            return Err(CertError::TooLarge);
        }
        // Deep extension parsing decodes every known extension; only the SAN is read, and
        // `SubjectAltNames::from_x509` decodes it. Neither mode refuses more certificates:
        // a deep-parse failure is only recorded in the extension.
        let (rest, x509) = X509CertificateParser::new()
            .with_deep_parse_extensions(false)
            .parse(&der)
            .map_err(|e| CertError::BadDer(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CertError::TrailingData);
        }
        if let Some(why) = dn::malformed(x509.subject()).or_else(|| dn::malformed(x509.issuer())) {
            return Err(CertError::BadName(why));
        }
        let validity = x509.validity();
        let (subject_dn, subject_attrs) = dn::rfc2253_and_attributes(x509.subject());
        let (issuer_dn, issuer_attrs) = dn::rfc2253_and_attributes(x509.issuer());
        let serial = serial_hex(x509.raw_serial());
        let (not_before, not_after) = (
            validity.not_before.timestamp(),
            validity.not_after.timestamp(),
        );
        let san = SubjectAltNames::from_x509(&x509)?;
        let subject_raw = x509.subject().as_raw().to_vec();
        let issuer_raw = x509.issuer().as_raw().to_vec();
        Ok(Certificate {
            subject_dn,
            issuer_dn,
            serial,
            not_before,
            not_after,
            san,
            sha256: hex_lower(&Sha256::digest(&der)),
            der,
            subject_attrs,
            issuer_attrs,
            subject_raw,
            issuer_raw,
        })
    }

    /// Subject DN in the `X509_NAME_oneline` form (`/C=XX/O=Org/CN=name`), mod_ssl's
    /// `LegacyDNStringFormat`; rendered on each call.
    pub fn subject_legacy(&self) -> String {
        legacy_of(&self.subject_raw)
    }

    /// Issuer DN in the `X509_NAME_oneline` form; rendered on each call.
    pub fn issuer_legacy(&self) -> String {
        legacy_of(&self.issuer_raw)
    }

    /// Subject DN as mod_ssl's `SSL_CLIENT_S_DN` has it (non-ASCII left as raw UTF-8).
    pub fn subject_dn_mod_ssl(&self) -> String {
        dn::unescape_msb(&self.subject_dn)
    }

    /// Issuer DN as mod_ssl's `SSL_CLIENT_I_DN` has it (non-ASCII left as raw UTF-8).
    pub fn issuer_dn_mod_ssl(&self) -> String {
        dn::unescape_msb(&self.issuer_dn)
    }

    /// Subject attributes in DER order (least specific first), values decoded.
    pub fn subject_attrs(&self) -> &[DnAttribute] {
        &self.subject_attrs
    }

    /// Issuer attributes in DER order, values decoded.
    pub fn issuer_attrs(&self) -> &[DnAttribute] {
        &self.issuer_attrs
    }

    /// The first subject attribute named `short_name` in DER order, as mod_ssl's
    /// `SSL_CLIENT_S_DN_<name>` takes it (for a DN `CN=b,CN=a` that is `a`). The value is
    /// the decoded text, control characters included (mod_ssl would show `\00`), so that
    /// user mapping can see and refuse them.
    pub fn attribute(&self, short_name: &str) -> Option<&str> {
        self.subject_attrs
            .iter()
            .find(|a| a.name == short_name)
            .map(|a| a.value.as_str())
    }

    /// `Ok` when `now` lies within notBefore..=notAfter (inclusive, like OpenSSL).
    pub fn is_valid_at(&self, now: UnixTime) -> Result<(), CertError> {
        if now < self.not_before {
            Err(CertError::NotYetValid {
                not_before: self.not_before,
            })
        } else if now > self.not_after {
            Err(CertError::Expired {
                not_after: self.not_after,
            })
        } else {
            Ok(())
        }
    }
}

/// The legacy rendering of a Name's DER. The bytes were cut out of a certificate that
/// x509-parser read with this same Name parser, so they parse again; were that ever to
/// fail, the empty string stands for "no legacy form" rather than a panic.
fn legacy_of(raw: &[u8]) -> String {
    match X509Name::from_der(raw) {
        Ok((_, name)) => dn::legacy(&name),
        Err(_) => String::new(),
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}
