//! The signature algorithms a chain may use, and their verification with RustCrypto.
//!
//! Pure Rust, so the core builds for wasm32-wasip1 without a C toolchain. The set is what
//! TLS client chains use today: RSA PKCS#1 v1.5 with SHA-256/384/512 (2048–8192-bit keys, as
//! ring and webpki accept), ECDSA P-256/SHA-256 and P-384/SHA-384, Ed25519. SHA-1, RSA-PSS,
//! P-521 and mixed curve/hash pairs are refused by name.

use ecdsa::signature::Verifier;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_parser::oid_registry::{
    Oid, OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION, OID_PKCS1_RSASSAPSS, OID_PKCS1_SHA1WITHRSA, OID_PKCS1_SHA256WITHRSA,
    OID_PKCS1_SHA384WITHRSA, OID_PKCS1_SHA512WITHRSA, OID_SIG_ECDSA_WITH_SHA256,
    OID_SIG_ECDSA_WITH_SHA384, OID_SIG_ECDSA_WITH_SHA512, OID_SIG_ED25519, OID_SIG_ED448,
};
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

/// Smallest RSA modulus accepted for an issuer key, in bits.
const MIN_RSA_BITS: usize = 2048;

/// A certificate's signature algorithm, as far as authrs can verify it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SigAlg {
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
    Ed25519,
    /// Anything else, by name or OID (reported as unsupported when the path needs it).
    Other(String),
}

impl SigAlg {
    pub(super) fn from_identifier(alg: &AlgorithmIdentifier<'_>) -> SigAlg {
        let oid = &alg.algorithm;
        if *oid == OID_PKCS1_SHA256WITHRSA {
            SigAlg::RsaSha256
        } else if *oid == OID_PKCS1_SHA384WITHRSA {
            SigAlg::RsaSha384
        } else if *oid == OID_PKCS1_SHA512WITHRSA {
            SigAlg::RsaSha512
        } else if *oid == OID_SIG_ECDSA_WITH_SHA256 {
            SigAlg::EcdsaSha256
        } else if *oid == OID_SIG_ECDSA_WITH_SHA384 {
            SigAlg::EcdsaSha384
        } else if *oid == OID_SIG_ED25519 {
            SigAlg::Ed25519
        } else {
            SigAlg::Other(oid_name(oid))
        }
    }
}

/// An issuer's public key, decoded once.
#[derive(Debug, Clone)]
pub(super) enum PublicKey {
    Rsa(RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// Why a public key is not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KeyProblem {
    /// A key type or curve authrs does not verify with (its name).
    Unsupported(String),
    /// The key is of a supported type but unusable (why).
    Bad(String),
}

impl PublicKey {
    pub(super) fn from_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<PublicKey, KeyProblem> {
        let alg = &spki.algorithm.algorithm;
        let bits = &spki.subject_public_key.data;
        if *alg == OID_PKCS1_RSAENCRYPTION {
            // The rsa crate bounds the modulus (8192 bits) and the exponent (RSADoS).
            let key =
                RsaPublicKey::from_pkcs1_der(bits).map_err(|e| KeyProblem::Bad(e.to_string()))?;
            let size = key.n().bits_vartime() as usize;
            if size < MIN_RSA_BITS {
                return Err(KeyProblem::Bad(format!(
                    "RSA key of {size} bits, at least {MIN_RSA_BITS} needed"
                )));
            }
            Ok(PublicKey::Rsa(key))
        } else if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .ok_or_else(|| KeyProblem::Bad("EC key without a named curve".into()))?;
            let bad = |e: ecdsa::Error| KeyProblem::Bad(format!("EC point: {e}"));
            if curve == OID_EC_P256 {
                p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(PublicKey::P256)
                    .map_err(bad)
            } else if curve == OID_NIST_EC_P384 {
                p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(PublicKey::P384)
                    .map_err(bad)
            } else {
                Err(KeyProblem::Unsupported(format!(
                    "EC key on curve {}",
                    oid_name(&curve)
                )))
            }
        } else if *alg == OID_SIG_ED25519 {
            let raw: &[u8; 32] = bits
                .as_ref()
                .try_into()
                .map_err(|_| KeyProblem::Bad("Ed25519 key is not 32 bytes".into()))?;
            ed25519_dalek::VerifyingKey::from_bytes(raw)
                .map(PublicKey::Ed25519)
                .map_err(|e| KeyProblem::Bad(format!("Ed25519 key: {e}")))
        } else {
            Err(KeyProblem::Unsupported(format!("{} key", oid_name(alg))))
        }
    }

    /// Checks `signature` over `signed` by this key. `Ok(false)` is a signature that does not
    /// verify (or a key of another type than the algorithm needs: that key did not make it);
    /// `Err` names an algorithm/key pairing authrs does not verify.
    pub(super) fn verify(
        &self,
        alg: &SigAlg,
        signed: &[u8],
        signature: &[u8],
    ) -> Result<bool, String> {
        let ok = match (alg, self) {
            (SigAlg::RsaSha256, PublicKey::Rsa(k)) => k
                .verify(
                    Pkcs1v15Sign::new::<Sha256>(),
                    &Sha256::digest(signed),
                    signature,
                )
                .is_ok(),
            (SigAlg::RsaSha384, PublicKey::Rsa(k)) => k
                .verify(
                    Pkcs1v15Sign::new::<Sha384>(),
                    &Sha384::digest(signed),
                    signature,
                )
                .is_ok(),
            (SigAlg::RsaSha512, PublicKey::Rsa(k)) => k
                .verify(
                    Pkcs1v15Sign::new::<Sha512>(),
                    &Sha512::digest(signed),
                    signature,
                )
                .is_ok(),
            (SigAlg::EcdsaSha256, PublicKey::P256(k)) => {
                p256::ecdsa::DerSignature::try_from(signature)
                    .is_ok_and(|sig| k.verify(signed, &sig).is_ok())
            }
            (SigAlg::EcdsaSha384, PublicKey::P384(k)) => {
                p384::ecdsa::DerSignature::try_from(signature)
                    .is_ok_and(|sig| k.verify(signed, &sig).is_ok())
            }
            (SigAlg::Ed25519, PublicKey::Ed25519(k)) => {
                ed25519_dalek::Signature::from_slice(signature)
                    .is_ok_and(|sig| k.verify_strict(signed, &sig).is_ok())
            }
            // ECDSA whose hash does not match the curve (P-256 with SHA-384, …).
            (SigAlg::EcdsaSha256, PublicKey::P384(_)) => {
                return Err("ecdsa-with-SHA256 by a P-384 key".into())
            }
            (SigAlg::EcdsaSha384, PublicKey::P256(_)) => {
                return Err("ecdsa-with-SHA384 by a P-256 key".into())
            }
            (SigAlg::Other(name), _) => return Err(name.clone()),
            _ => false,
        };
        Ok(ok)
    }
}

/// A readable name for the OIDs an error may mention; the dotted form for the rest.
fn oid_name(oid: &Oid<'_>) -> String {
    let known = [
        (&OID_PKCS1_SHA1WITHRSA, "sha1WithRSAEncryption"),
        (&OID_PKCS1_RSASSAPSS, "RSASSA-PSS"),
        (&OID_SIG_ECDSA_WITH_SHA512, "ecdsa-with-SHA512"),
        (&OID_SIG_ED448, "Ed448"),
        (&OID_NIST_EC_P521, "P-521"),
    ];
    known
        .iter()
        .find(|(k, _)| *k == oid)
        .map_or_else(|| oid.to_id_string(), |(_, name)| (*name).to_string())
}
