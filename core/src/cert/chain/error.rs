//! Why a client certificate's chain did not verify against the trusted CAs.

use crate::time::{rfc3339, UnixTime};
use std::fmt;

/// A chain that does not lead from the client certificate to a trusted CA, or CAs that cannot
/// be trusted. Certificates are named by their subject DN (RFC 2253).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainError {
    /// A certificate (`which`: "the client certificate", "intermediate 2", "trusted CA 1")
    /// is not a readable X.509 certificate.
    Malformed {
        /// Which certificate.
        which: String,
        /// What is wrong with it.
        why: String,
    },
    /// The trusted-CA text holds no `CERTIFICATE` block.
    NoAnchors,
    /// A configured trusted CA may not issue certificates (no cA basicConstraint or no keyCertSign).
    AnchorNotACa {
        /// Its subject DN.
        subject: String,
    },
    /// No trusted CA and no usable intermediate carries the issuer name of `subject`.
    UnknownIssuer {
        /// The certificate whose issuer is missing.
        subject: String,
        /// The issuer name it asks for.
        issuer: String,
    },
    /// `subject`'s signature does not verify with the key of the issuer candidate.
    BadSignature {
        /// The certificate whose signature failed.
        subject: String,
    },
    /// A certificate of the path has expired.
    Expired {
        /// Which certificate.
        subject: String,
        /// Its notAfter, Unix seconds.
        not_after: UnixTime,
    },
    /// A certificate of the path is not valid yet.
    NotYetValid {
        /// Which certificate.
        subject: String,
        /// Its notBefore, Unix seconds.
        not_before: UnixTime,
    },
    /// An issuer of the path is not a CA: no basicConstraints cA, or a keyUsage without keyCertSign.
    NotACa {
        /// The issuer.
        subject: String,
        /// Which of the two.
        why: &'static str,
    },
    /// An issuer's pathLenConstraint allows fewer intermediates below it than the path has.
    PathLenExceeded {
        /// The constrained issuer.
        subject: String,
        /// Its pathLenConstraint.
        path_len: u32,
    },
    /// No path to a trusted CA within [`super::MAX_PATH_LEN`] certificates.
    PathTooLong,
    /// More chain certificates were sent than [`super::MAX_INTERMEDIATES`].
    TooManyIntermediates {
        /// How many were sent.
        count: usize,
    },
    /// The path search used up its [`super::MAX_SIGNATURE_CHECKS`] signature checks.
    TooComplex,
    /// A signature or key algorithm authrs does not verify (SHA-1, RSA-PSS, P-521, …).
    UnsupportedAlgorithm {
        /// The certificate that uses it.
        subject: String,
        /// The algorithm's name, or its OID.
        algorithm: String,
    },
    /// An issuer's public key cannot be used (RSA below 2048 or above 8192 bits, a bad point).
    BadKey {
        /// The issuer.
        subject: String,
        /// What is wrong with the key.
        why: String,
    },
    /// The client certificate, or an intermediate, has an extendedKeyUsage without clientAuth.
    NotForClientAuth {
        /// Which certificate.
        subject: String,
    },
    /// The client certificate's keyUsage allows neither digitalSignature nor keyAgreement: its
    /// key is not for authenticating a TLS client (OpenSSL's `ssl_client` purpose refuses it).
    KeyNotForClientAuth {
        /// Which certificate.
        subject: String,
    },
    /// A certificate has a critical extension authrs does not enforce (nameConstraints, policies, …).
    UnhandledCriticalExtension {
        /// Which certificate.
        subject: String,
        /// The extension's OID.
        oid: String,
    },
    /// A configured CRL of its issuer lists an intermediate of the path (a revoked sub-CA).
    IntermediateRevoked {
        /// The revoked intermediate.
        subject: String,
        /// Its serial, as mod_ssl prints serials.
        serial: String,
    },
    /// Every configured CRL of an intermediate's issuer is past its nextUpdate: fail closed.
    IntermediateCrlExpired {
        /// The intermediate that cannot be checked.
        subject: String,
        /// The issuer whose CRLs are stale.
        issuer: String,
    },
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainError::Malformed { which, why } => write!(f, "{which} is malformed: {why}"),
            ChainError::NoAnchors => f.write_str("no CA certificate (CERTIFICATE block) given"),
            ChainError::AnchorNotACa { subject } => write!(
                f,
                "{subject:?} is not a CA certificate (needs basicConstraints cA and keyCertSign)"
            ),
            ChainError::UnknownIssuer { subject, issuer } => {
                write!(f, "no trusted issuer {issuer:?} for {subject:?}")
            }
            ChainError::BadSignature { subject } => {
                write!(f, "the signature on {subject:?} does not verify")
            }
            ChainError::Expired { subject, not_after } => {
                write!(f, "{subject:?} expired at {}", rfc3339(*not_after))
            }
            ChainError::NotYetValid {
                subject,
                not_before,
            } => write!(f, "{subject:?} is not valid before {}", rfc3339(*not_before)),
            ChainError::NotACa { subject, why } => {
                write!(f, "issuer {subject:?} is not a CA: {why}")
            }
            ChainError::PathLenExceeded { subject, path_len } => write!(
                f,
                "issuer {subject:?} allows {path_len} intermediate(s) below it (pathLenConstraint), the path has more"
            ),
            ChainError::PathTooLong => write!(
                f,
                "no path to a trusted CA within {} certificates",
                super::MAX_PATH_LEN
            ),
            ChainError::TooManyIntermediates { count } => write!(
                f,
                "{count} chain certificates sent, at most {} are considered",
                super::MAX_INTERMEDIATES
            ),
            ChainError::TooComplex => write!(
                f,
                "no path to a trusted CA within {} signature checks",
                super::MAX_SIGNATURE_CHECKS
            ),
            ChainError::UnsupportedAlgorithm { subject, algorithm } => {
                write!(f, "{subject:?} uses the unsupported algorithm {algorithm}")
            }
            ChainError::BadKey { subject, why } => {
                write!(f, "the key of {subject:?} cannot be used: {why}")
            }
            ChainError::NotForClientAuth { subject } => write!(
                f,
                "{subject:?} has an extendedKeyUsage without clientAuth"
            ),
            ChainError::KeyNotForClientAuth { subject } => write!(
                f,
                "{subject:?} has a keyUsage with neither digitalSignature nor keyAgreement"
            ),
            ChainError::UnhandledCriticalExtension { subject, oid } => write!(
                f,
                "{subject:?} has a critical extension {oid} that authrs does not enforce"
            ),
            ChainError::IntermediateRevoked { subject, serial } => write!(
                f,
                "intermediate {subject:?} (serial {serial}) is revoked by a CRL of its issuer"
            ),
            ChainError::IntermediateCrlExpired { subject, issuer } => write!(
                f,
                "the CRL of {issuer:?} has expired: intermediate {subject:?} cannot be checked"
            ),
        }
    }
}

impl std::error::Error for ChainError {}
