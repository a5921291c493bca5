//! Why a certificate or a DN string could not be used.

use crate::time::{rfc3339, UnixTime};
use std::fmt;

/// A certificate, or a DN string, that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertError {
    /// The input holds no `-----BEGIN CERTIFICATE-----` block, or its base64 is broken.
    BadPem(String),
    /// The DER is not an X.509 certificate (x509-parser's reason attached).
    BadDer(String),
    /// Bytes follow the certificate's DER encoding.
    TrailingData,
    /// The certificate is larger than [`super::MAX_CERT_LEN`].
    TooLarge,
    /// The subjectAltName extension is malformed or present twice.
    BadSubjectAltName(String),
    /// The certificate's notBefore lies after `now`.
    NotYetValid {
        /// notBefore, Unix seconds.
        not_before: UnixTime,
    },
    /// The certificate's notAfter lies before `now`.
    Expired {
        /// notAfter, Unix seconds.
        not_after: UnixTime,
    },
    /// The subject or issuer name is one OpenSSL refuses to load ([`super::dn::malformed`]).
    BadName(&'static str),
    /// A DN string is not in the RFC 2253 form OpenSSL prints (byte offset, what is wrong).
    BadDn {
        /// Byte offset in the DN string.
        at: usize,
        /// What was expected there.
        why: &'static str,
    },
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertError::BadPem(why) => write!(f, "certificate PEM is malformed: {why}"),
            CertError::BadDer(why) => write!(f, "certificate DER is malformed: {why}"),
            CertError::TrailingData => f.write_str("data follows the certificate's DER"),
            CertError::TooLarge => f.write_str("certificate is too large"),
            CertError::BadName(why) => write!(f, "certificate name is malformed: {why}"),
            CertError::BadSubjectAltName(why) => write!(f, "subjectAltName is malformed: {why}"),
            CertError::NotYetValid { not_before } => {
                write!(f, "certificate not valid before {}", rfc3339(*not_before))
            }
            CertError::Expired { not_after } => {
                write!(f, "certificate expired at {}", rfc3339(*not_after))
            }
            CertError::BadDn { at, why } => write!(f, "DN string malformed at byte {at}: {why}"),
        }
    }
}

impl std::error::Error for CertError {}
