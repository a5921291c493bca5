//! Client-certificate chain verification against configured CA certificates (`trusted_cas`).
//!
//! Envoy under `trust_chain_verification: ACCEPT_UNTRUSTED` hands the filter any certificate
//! the client holds the key of, and says nothing about whether it chains to a CA. With
//! `trusted_cas` set, authrs builds the path itself: leaf → intermediates the client sent
//! (XFCC `Chain=`) → a configured CA, issuers found by DER-equal names, every signature checked
//! with the issuer's key, every certificate valid at `now`, every issuer a CA (basicConstraints
//! cA, keyCertSign when keyUsage is present) within its pathLenConstraint, and extendedKeyUsage
//! (when present) allowing clientAuth below the CA, as OpenSSL's `ssl_client` purpose does.
//!
//! The intermediates come from the client, so the search is bounded: at most
//! [`MAX_INTERMEDIATES`] are looked at, a path has at most [`MAX_PATH_LEN`] certificates, no
//! certificate appears twice in it, and the whole search makes at most
//! [`MAX_SIGNATURE_CHECKS`] signature checks. A critical extension authrs does not enforce
//! (nameConstraints, policy constraints, …) fails the certificate rather than being ignored.
//! With CRLs ([`TrustAnchors::verify_with_crls`]), every intermediate of the path is looked
//! up in the CRLs of its issuer (issuer DN and serial, as for the leaf): one that is listed
//! ends that path, and so does one whose issuer's CRLs have all expired; an issuer without a
//! CRL does not (mod_ssl's leaf-only default, extended to the chain where a CRL exists). The
//! engine checks the leaf itself either way; trusted CAs are not looked up (they are trusted).

mod error;
mod node;
mod signature;

pub use error::ChainError;

use crate::cert::crl::{CrlSet, CrlStatus};
use crate::cert::serial::serial_hex;
use crate::time::UnixTime;
use node::Node;
use std::fmt;
use x509_parser::pem::Pem;

/// Most certificates in a path, the client certificate and the trusted CA included.
pub const MAX_PATH_LEN: usize = 8;
/// Most chain certificates considered per request (a copy of the leaf among them counts).
pub const MAX_INTERMEDIATES: usize = 10;
/// Most signature checks one verification may make while looking for a path.
pub const MAX_SIGNATURE_CHECKS: usize = 16;

/// The configured CA certificates client chains must lead to, parsed once at load.
#[derive(Clone)]
pub struct TrustAnchors {
    anchors: Vec<Node>,
}

impl fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustAnchors")
            .field("subjects", &self.subjects())
            .finish()
    }
}

impl TrustAnchors {
    /// Parses one or more PEM `CERTIFICATE` blocks (text around them is ignored). Each must be
    /// a CA certificate with a key authrs can verify with; none at all is [`ChainError::NoAnchors`].
    pub fn parse(pem: &[u8]) -> Result<TrustAnchors, ChainError> {
        let mut anchors: Vec<Node> = Vec::new();
        for (i, block) in Pem::iter_from_buffer(pem).enumerate() {
            let which = || format!("trusted CA {}", i + 1);
            let block = block.map_err(|e| ChainError::Malformed {
                which: which(),
                why: format!("PEM: {e}"),
            })?;
            if block.label != "CERTIFICATE" {
                return Err(ChainError::Malformed {
                    which: which(),
                    why: format!(
                        "a {} block; only CERTIFICATE blocks belong here",
                        block.label
                    ),
                });
            }
            let node = Node::parse(&block.contents, &which)?;
            if node.check_ca().is_err() {
                return Err(ChainError::AnchorNotACa {
                    subject: node.subject_dn(),
                });
            }
            node.signing_key()?;
            if let Some(oid) = &node.unhandled_critical {
                return Err(ChainError::UnhandledCriticalExtension {
                    subject: node.subject_dn(),
                    oid: oid.clone(),
                });
            }
            if !anchors.iter().any(|a| a.der == node.der) {
                anchors.push(node);
            }
        }
        if anchors.is_empty() {
            return Err(ChainError::NoAnchors);
        }
        Ok(TrustAnchors { anchors })
    }

    /// The subject DNs of the trusted CAs (RFC 2253), in configuration order.
    pub fn subjects(&self) -> Vec<String> {
        self.anchors.iter().map(Node::subject_dn).collect()
    }

    /// Verifies that the DER certificate `leaf_der` chains to a trusted CA at `now`, through
    /// `intermediates` (DER, any order; copies of the leaf and duplicates are skipped). `Ok`
    /// only for a complete path; the error says what stopped the best attempt.
    pub fn verify(
        &self,
        leaf_der: &[u8],
        intermediates: &[Vec<u8>],
        now: UnixTime,
    ) -> Result<(), ChainError> {
        self.verify_with_crls(leaf_der, intermediates, now, None)
    }

    /// [`Self::verify`], and no intermediate of the path may be revoked by `crls` (see the
    /// module doc): a revoked sub-CA stops every certificate it issued.
    pub fn verify_with_crls(
        &self,
        leaf_der: &[u8],
        intermediates: &[Vec<u8>],
        now: UnixTime,
        crls: Option<&CrlSet>,
    ) -> Result<(), ChainError> {
        if intermediates.len() > MAX_INTERMEDIATES {
            return Err(ChainError::TooManyIntermediates {
                count: intermediates.len(),
            });
        }
        let leaf = Node::parse(leaf_der, &|| "the client certificate".to_string())?;
        leaf.check_common(now, true)?;
        leaf.check_client_key()?;
        let mut pool: Vec<Node> = Vec::with_capacity(intermediates.len());
        for (i, der) in intermediates.iter().enumerate() {
            if der.as_slice() == leaf_der || pool.iter().any(|n| n.der == *der) {
                continue;
            }
            pool.push(Node::parse(der, &|| format!("intermediate {}", i + 1))?);
        }
        let mut search = Search {
            anchors: &self.anchors,
            pool: &pool,
            now,
            crls,
            checks: 0,
            path: Vec::new(),
        };
        search.extend(&leaf)
    }
}

/// Splits a shell's chain entries into DER certificates: each entry is one DER certificate, or
/// PEM text with one or more `CERTIFICATE` blocks (Envoy's XFCC `Chain=` may be passed whole).
/// More than [`MAX_INTERMEDIATES`] certificates in all is refused before decoding the rest.
pub fn chain_der(entries: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, ChainError> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for entry in entries {
        if entry.first() == Some(&0x30) {
            out.push(entry.clone());
        } else {
            for block in Pem::iter_from_buffer(entry) {
                let which = || format!("intermediate {}", out.len() + 1);
                let block = block.map_err(|e| ChainError::Malformed {
                    which: which(),
                    why: format!("PEM: {e}"),
                })?;
                if block.label != "CERTIFICATE" {
                    return Err(ChainError::Malformed {
                        which: which(),
                        why: format!("a {} block where a CERTIFICATE was expected", block.label),
                    });
                }
                out.push(block.contents);
                if out.len() > MAX_INTERMEDIATES {
                    break;
                }
            }
        }
        if out.len() > MAX_INTERMEDIATES {
            return Err(ChainError::TooManyIntermediates { count: out.len() });
        }
    }
    Ok(out)
}

/// One depth-first path search. `path` holds the pool indexes of the intermediates between
/// the leaf and the certificate being extended, leaf side first.
struct Search<'a> {
    anchors: &'a [Node],
    pool: &'a [Node],
    now: UnixTime,
    crls: Option<&'a CrlSet>,
    checks: usize,
    path: Vec<usize>,
}

impl Search<'_> {
    /// Finds an issuer for `child` (the last certificate of the path so far) and, unless that
    /// issuer is a trusted CA, goes on from it. Trusted CAs are tried first: the shortest path.
    fn extend(&mut self, child: &Node) -> Result<(), ChainError> {
        let mut first_error: Option<ChainError> = None;
        // Certificates in the path so far: the leaf and the intermediates.
        let len = 1 + self.path.len();
        let anchors = self.anchors;
        for anchor in anchors.iter().filter(|a| a.subject == child.issuer) {
            let attempt = if len + 1 > MAX_PATH_LEN {
                Err(ChainError::PathTooLong)
            } else {
                self.link(child, anchor, false)
            };
            match attempt {
                Ok(()) => return Ok(()),
                Err(ChainError::TooComplex) => return Err(ChainError::TooComplex),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let pool = self.pool;
        for (i, candidate) in pool.iter().enumerate() {
            if candidate.subject != child.issuer || self.path.contains(&i) {
                continue;
            }
            // An intermediate here still needs a trusted CA above it.
            let attempt = if len + 2 > MAX_PATH_LEN {
                Err(ChainError::PathTooLong)
            } else {
                self.link(child, candidate, true).and_then(|()| {
                    self.not_revoked(candidate)?;
                    self.path.push(i);
                    let deeper = self.extend(candidate);
                    self.path.pop();
                    deeper
                })
            };
            match attempt {
                Ok(()) => return Ok(()),
                Err(ChainError::TooComplex) => return Err(ChainError::TooComplex),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| ChainError::UnknownIssuer {
            subject: child.subject_dn(),
            issuer: child.issuer_dn(),
        }))
    }

    /// `Ok` unless a CRL of the intermediate's issuer lists it, or all of them have expired.
    fn not_revoked(&self, intermediate: &Node) -> Result<(), ChainError> {
        let Some(crls) = self.crls else {
            return Ok(());
        };
        let serial = serial_hex(&intermediate.serial);
        match crls.check(&intermediate.issuer_dn(), &serial, self.now) {
            CrlStatus::NotRevoked | CrlStatus::NoCrl => Ok(()),
            CrlStatus::Revoked => Err(ChainError::IntermediateRevoked {
                subject: intermediate.subject_dn(),
                serial,
            }),
            CrlStatus::CrlExpired { issuer_dn } => Err(ChainError::IntermediateCrlExpired {
                subject: intermediate.subject_dn(),
                issuer: issuer_dn,
            }),
            // Not reached: normalize_serial reads everything serial_hex writes.
            CrlStatus::BadSerial => Err(ChainError::Malformed {
                which: intermediate.subject_dn(),
                why: format!("serial {serial:?} cannot be looked up in a CRL"),
            }),
        }
    }

    /// Whether `issuer` may have issued `child` at this point of the path, signature included.
    /// `intermediate`: the issuer came from the client, so its extendedKeyUsage counts too.
    fn link(&mut self, child: &Node, issuer: &Node, intermediate: bool) -> Result<(), ChainError> {
        issuer.check_common(self.now, intermediate)?;
        issuer.check_ca()?;
        if let Some((_, Some(path_len))) = issuer.basic {
            // Non-self-issued intermediates between this issuer and the leaf (RFC 5280 4.2.1.9).
            let below = self
                .path
                .iter()
                .filter(|&&i| !self.pool[i].self_issued())
                .count();
            if below > path_len as usize {
                return Err(ChainError::PathLenExceeded {
                    subject: issuer.subject_dn(),
                    path_len,
                });
            }
        }
        let key = issuer.signing_key()?;
        if self.checks >= MAX_SIGNATURE_CHECKS {
            return Err(ChainError::TooComplex);
        }
        self.checks += 1;
        match key.verify(&child.sig_alg, &child.tbs, &child.signature) {
            Ok(true) => Ok(()),
            Ok(false) => Err(ChainError::BadSignature {
                subject: child.subject_dn(),
            }),
            Err(algorithm) => Err(ChainError::UnsupportedAlgorithm {
                subject: child.subject_dn(),
                algorithm,
            }),
        }
    }
}

#[cfg(test)]
mod tests;
