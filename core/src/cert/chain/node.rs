//! One certificate of a chain, reduced to what path building reads.

use super::signature::{KeyProblem, PublicKey, SigAlg};
use super::ChainError;
use crate::cert::{dn, MAX_CERT_LEN};
use crate::time::UnixTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::{
    OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER, OID_X509_EXT_BASIC_CONSTRAINTS,
    OID_X509_EXT_EXTENDED_KEY_USAGE, OID_X509_EXT_KEY_USAGE, OID_X509_EXT_NAME_CONSTRAINTS,
    OID_X509_EXT_SUBJECT_ALT_NAME, OID_X509_EXT_SUBJECT_KEY_IDENTIFIER,
};
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

/// What a certificate says about itself, owned, so trusted CAs can be kept in the policy.
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub der: Vec<u8>,
    /// DER of the subject Name: issuers are matched by DER equality.
    pub subject: Vec<u8>,
    /// DER of the issuer Name.
    pub issuer: Vec<u8>,
    /// The serial's INTEGER content octets (for CRL lookups of intermediates).
    pub serial: Vec<u8>,
    /// The signed part (tbsCertificate) and the signature over it.
    pub tbs: Vec<u8>,
    pub sig_alg: SigAlg,
    pub signature: Vec<u8>,
    pub not_before: UnixTime,
    pub not_after: UnixTime,
    /// basicConstraints: `None` when absent, else (cA, pathLenConstraint).
    pub basic: Option<(bool, Option<u32>)>,
    /// keyUsage keyCertSign: `None` when there is no keyUsage extension.
    pub key_cert_sign: Option<bool>,
    /// No extendedKeyUsage, or one that allows clientAuth (or anyExtendedKeyUsage).
    pub client_auth: bool,
    /// No keyUsage, or one with digitalSignature or keyAgreement (what a TLS client's key does).
    pub client_key_usage: bool,
    /// The first critical extension authrs does not enforce, by OID.
    pub unhandled_critical: Option<String>,
    /// The subject's public key, decoded only for CA certificates (the only ones that sign).
    pub key: Option<Result<PublicKey, KeyProblem>>,
}

impl Node {
    /// Parses one DER certificate; `which` names it in errors.
    pub fn parse(der: &[u8], which: &dyn Fn() -> String) -> Result<Node, ChainError> {
        let malformed = |why: String| ChainError::Malformed {
            which: which(),
            why,
        };
        if der.len() > MAX_CERT_LEN {
            return Err(malformed("larger than 64 KiB".into()));
        }
        let (rest, x509) = X509Certificate::from_der(der).map_err(|e| malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(malformed("data follows the certificate".into()));
        }
        // The algorithm is named inside and outside the signed part; they must agree
        // (RFC 5280 4.1.1.2), or the signed part could claim one and the verifier use another.
        if x509.tbs_certificate.signature != x509.signature_algorithm {
            return Err(malformed(
                "signature algorithm differs inside and outside the signed part".into(),
            ));
        }
        let tbs = &x509.tbs_certificate;
        let basic = tbs
            .basic_constraints()
            .map_err(|e| malformed(format!("basicConstraints: {e}")))?
            .map(|bc| (bc.value.ca, bc.value.path_len_constraint));
        let key_usage = tbs
            .key_usage()
            .map_err(|e| malformed(format!("keyUsage: {e}")))?
            .map(|ku| ku.value);
        let key_cert_sign = key_usage.map(|ku| ku.key_cert_sign());
        let client_key_usage =
            key_usage.is_none_or(|ku| ku.digital_signature() || ku.key_agreement());
        let client_auth = tbs
            .extended_key_usage()
            .map_err(|e| malformed(format!("extendedKeyUsage: {e}")))?
            .is_none_or(|eku| eku.value.client_auth || eku.value.any);
        let handled = [
            &OID_X509_EXT_BASIC_CONSTRAINTS,
            &OID_X509_EXT_KEY_USAGE,
            &OID_X509_EXT_EXTENDED_KEY_USAGE,
            &OID_X509_EXT_SUBJECT_ALT_NAME,
            &OID_X509_EXT_SUBJECT_KEY_IDENTIFIER,
            &OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER,
        ];
        let mut unhandled_critical = None;
        for ext in tbs.extensions() {
            if let ParsedExtension::ParseError { error } = ext.parsed_extension() {
                if handled.contains(&&ext.oid) {
                    return Err(malformed(format!("extension {}: {error}", ext.oid)));
                }
            }
            // nameConstraints binds whatever its criticality (OpenSSL enforces a non-critical
            // one too, and CAs long marked it so); authrs does not enforce it, so a path
            // through a constrained CA is refused rather than taken as unconstrained.
            let must_honour = ext.critical || ext.oid == OID_X509_EXT_NAME_CONSTRAINTS;
            if must_honour && !handled.contains(&&ext.oid) && unhandled_critical.is_none() {
                unhandled_critical = Some(ext.oid.to_id_string());
            }
        }
        let key = matches!(basic, Some((true, _))).then(|| PublicKey::from_spki(tbs.public_key()));
        Ok(Node {
            der: der.to_vec(),
            subject: tbs.subject().as_raw().to_vec(),
            issuer: tbs.issuer().as_raw().to_vec(),
            serial: tbs.raw_serial().to_vec(),
            tbs: tbs.as_ref().to_vec(),
            sig_alg: SigAlg::from_identifier(&x509.signature_algorithm),
            signature: x509.signature_value.data.to_vec(),
            not_before: tbs.validity().not_before.timestamp(),
            not_after: tbs.validity().not_after.timestamp(),
            basic,
            key_cert_sign,
            client_auth,
            client_key_usage,
            unhandled_critical,
            key,
        })
    }

    /// Subject and issuer DER-equal: a self-issued certificate (not counted by pathLenConstraint).
    pub fn self_issued(&self) -> bool {
        self.subject == self.issuer
    }

    /// The subject DN (RFC 2253), rendered only when an error names it.
    pub fn subject_dn(&self) -> String {
        render(&self.subject)
    }

    /// The issuer DN (RFC 2253), for errors.
    pub fn issuer_dn(&self) -> String {
        render(&self.issuer)
    }

    /// `Ok` when `now` lies within notBefore..=notAfter (inclusive, like OpenSSL).
    pub fn check_validity(&self, now: UnixTime) -> Result<(), ChainError> {
        if now < self.not_before {
            Err(ChainError::NotYetValid {
                subject: self.subject_dn(),
                not_before: self.not_before,
            })
        } else if now > self.not_after {
            Err(ChainError::Expired {
                subject: self.subject_dn(),
                not_after: self.not_after,
            })
        } else {
            Ok(())
        }
    }

    /// What every certificate of a path must satisfy beyond its signature: validity, no
    /// critical extension left unenforced; `client_auth` also checks extendedKeyUsage.
    pub fn check_common(&self, now: UnixTime, client_auth: bool) -> Result<(), ChainError> {
        self.check_validity(now)?;
        if let Some(oid) = &self.unhandled_critical {
            return Err(ChainError::UnhandledCriticalExtension {
                subject: self.subject_dn(),
                oid: oid.clone(),
            });
        }
        if client_auth && !self.client_auth {
            return Err(ChainError::NotForClientAuth {
                subject: self.subject_dn(),
            });
        }
        Ok(())
    }

    /// The client certificate itself: its keyUsage, when present, must allow what a TLS
    /// client's key does (digitalSignature, or keyAgreement), as OpenSSL's `ssl_client` purpose.
    pub fn check_client_key(&self) -> Result<(), ChainError> {
        if self.client_key_usage {
            Ok(())
        } else {
            Err(ChainError::KeyNotForClientAuth {
                subject: self.subject_dn(),
            })
        }
    }

    /// Whether this certificate may issue others: cA, and keyCertSign when keyUsage is present.
    pub fn check_ca(&self) -> Result<(), ChainError> {
        let why = match (self.basic, self.key_cert_sign) {
            (Some((true, _)), None | Some(true)) => return Ok(()),
            (Some((true, _)), Some(false)) => "its keyUsage lacks keyCertSign",
            _ => "no basicConstraints cA=TRUE",
        };
        Err(ChainError::NotACa {
            subject: self.subject_dn(),
            why,
        })
    }

    /// The usable public key of a CA certificate.
    pub fn signing_key(&self) -> Result<&PublicKey, ChainError> {
        match &self.key {
            Some(Ok(key)) => Ok(key),
            Some(Err(KeyProblem::Unsupported(algorithm))) => {
                Err(ChainError::UnsupportedAlgorithm {
                    subject: self.subject_dn(),
                    algorithm: algorithm.clone(),
                })
            }
            Some(Err(KeyProblem::Bad(why))) => Err(ChainError::BadKey {
                subject: self.subject_dn(),
                why: why.clone(),
            }),
            None => Err(ChainError::NotACa {
                subject: self.subject_dn(),
                why: "no basicConstraints cA=TRUE",
            }),
        }
    }
}

/// A Name's DER rendered as RFC 2253. The bytes were cut from a certificate x509-parser read
/// with this same parser, so they parse again; were that to fail, the hex stands in.
fn render(raw: &[u8]) -> String {
    match X509Name::from_der(raw) {
        Ok((_, name)) => dn::rfc2253(&name),
        Err(_) => crate::cert::parse::hex_lower(raw),
    }
}
