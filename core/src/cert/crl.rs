//! Certificate revocation lists, matched by issuer DN **and** serial.
//!
//! POE::Component::SSLify compared the serial of whatever certificate sat at the current
//! chain depth — often the CA's — with the CRL. Here a certificate is revoked only when a
//! CRL *issued by its issuer* (RFC 2253 DNs compared exactly, as rendered by [`super::dn`])
//! lists *its* serial; nothing else is looked at.
//!
//! Rules: a revoked entry stays [`CrlStatus::Revoked`] even in an expired CRL; when no
//! listed CRL of that issuer is current (`now` past every nextUpdate, or before a thisUpdate
//! beyond the clock skew) and the serial is not listed, the answer is [`CrlStatus::CrlExpired`],
//! for the caller to deny or log; with no CRL for the issuer the answer is [`CrlStatus::NoCrl`].
//! Only complete CRLs make an issuer current: a delta CRL, an issuingDistributionPoint
//! (partitioned, reason-limited, indirect) CRL, one with certificateIssuer entries or an unknown
//! critical extension loads, revokes what it lists, and is reported ([`CrlSet::warnings`]),
//! since read as complete it would hide revocations. CRL signatures
//! are **not** verified: x509-parser can only do that with its `verify` feature (ring),
//! which does not build for wasm32. Load CRLs only from trusted files.

use super::dn;
use super::serial::{normalize_serial, serial_hex};
use crate::time::UnixTime;
use std::collections::HashSet;
use std::fmt;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

/// One parsed CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crl {
    /// The CRL issuer, RFC 2253 as OpenSSL renders it.
    pub issuer_dn: String,
    /// thisUpdate, Unix seconds.
    pub this_update: UnixTime,
    /// nextUpdate, Unix seconds, when present.
    pub next_update: Option<UnixTime>,
    /// Revoked serials in `SSL_CLIENT_M_SERIAL` form (uppercase hex, whole bytes).
    pub revoked: Vec<String>,
    /// Why this CRL is not one complete list of its issuer's revocations (`None`: it is): a
    /// delta CRL, an issuingDistributionPoint CRL, certificateIssuer entries or an unknown
    /// critical extension. Its entries still revoke, but it never keeps its issuer current.
    pub incomplete: Option<String>,
}

/// Why CRL input could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrlError {
    /// PEM text is malformed.
    BadPem(String),
    /// The DER is not a CRL (x509-parser's reason attached).
    BadDer(String),
    /// Bytes follow the CRL's DER encoding.
    TrailingData,
    /// PEM text without any `X509 CRL` block.
    NoCrl,
}

impl fmt::Display for CrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrlError::BadPem(why) => write!(f, "CRL PEM is malformed: {why}"),
            CrlError::BadDer(why) => write!(f, "CRL DER is malformed: {why}"),
            CrlError::TrailingData => f.write_str("data follows the CRL's DER"),
            CrlError::NoCrl => f.write_str("no X509 CRL block found"),
        }
    }
}

impl std::error::Error for CrlError {}

impl Crl {
    /// Parses one DER CRL (input starting with the SEQUENCE tag 0x30), or every
    /// `X509 CRL` block of PEM text.
    pub fn parse(input: &[u8]) -> Result<Vec<Crl>, CrlError> {
        if input.first() == Some(&0x30) {
            return Ok(vec![Crl::from_der(input)?]);
        }
        let mut out = Vec::new();
        for pem in Pem::iter_from_buffer(input) {
            let pem = pem.map_err(|e| CrlError::BadPem(e.to_string()))?;
            if pem.label == "X509 CRL" {
                out.push(Crl::from_der(&pem.contents)?);
            }
        }
        if out.is_empty() {
            return Err(CrlError::NoCrl);
        }
        Ok(out)
    }

    /// Parses one DER CRL.
    pub fn from_der(der: &[u8]) -> Result<Crl, CrlError> {
        let (rest, crl) = CertificateRevocationList::from_der(der)
            .map_err(|e| CrlError::BadDer(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CrlError::TrailingData);
        }
        Ok(Crl {
            incomplete: incomplete(&crl),
            issuer_dn: dn::rfc2253(crl.issuer()),
            this_update: crl.last_update().timestamp(),
            next_update: crl.next_update().map(|t| t.timestamp()),
            revoked: crl
                .iter_revoked_certificates()
                .map(|r| serial_hex(r.raw_serial()))
                .collect(),
        })
    }
}

/// deltaCRLIndicator, issuingDistributionPoint and (on an entry) certificateIssuer.
const DELTA_CRL_INDICATOR: &str = "2.5.29.27";
const ISSUING_DISTRIBUTION_POINT: &str = "2.5.29.28";
const CERTIFICATE_ISSUER: &str = "2.5.29.29";

/// Why a CRL is not one complete list of its issuer's revocations, or `None`. Such a CRL, read
/// as complete, would vouch for certificates it does not cover: OpenSSL (mod_ssl) skips delta
/// CRLs, scopes issuingDistributionPoint CRLs and will not use one with a critical extension it
/// does not handle. Here its entries still revoke (never fewer revocations than it lists), but
/// it never makes its issuer current: the issuer needs a complete CRL for that.
fn incomplete(crl: &CertificateRevocationList<'_>) -> Option<String> {
    for ext in crl.extensions() {
        let oid = ext.oid.to_id_string();
        match oid.as_str() {
            DELTA_CRL_INDICATOR => {
                return Some("a delta CRL (deltaCRLIndicator) lists only recent changes".into())
            }
            ISSUING_DISTRIBUTION_POINT => {
                return Some(
                    "an issuingDistributionPoint CRL covers only part of its issuer's certificates (partitioned, reason-limited or indirect)".into(),
                )
            }
            _ if ext.critical => return Some(format!("critical extension {oid} is not understood")),
            _ => {}
        }
    }
    for entry in crl.iter_revoked_certificates() {
        for ext in entry.extensions() {
            let oid = ext.oid.to_id_string();
            if oid == CERTIFICATE_ISSUER {
                return Some(
                    "an entry carries certificateIssuer (an indirect CRL, listing another issuer's certificates)".into(),
                );
            }
            if ext.critical {
                return Some(format!(
                    "an entry carries critical extension {oid}, which is not understood"
                ));
            }
        }
    }
    None
}

/// The answer of [`CrlSet::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrlStatus {
    /// A current CRL of this issuer does not list the serial.
    NotRevoked,
    /// No CRL of this issuer is loaded: nothing can say whether it revoked the certificate.
    NoCrl,
    /// A CRL of this issuer lists the serial (even if that CRL has expired).
    Revoked,
    /// Not listed, but no CRL of this issuer is current: each is past its nextUpdate, or not
    /// yet valid (thisUpdate more than [`crate::ticket::MAX_CLOCK_SKEW`] ahead of `now`).
    CrlExpired {
        /// The issuer whose CRLs are stale.
        issuer_dn: String,
    },
    /// The serial given is not hex: the facts are broken, deny.
    BadSerial,
}

/// CRLs loaded at startup, indexed for per-request checks.
#[derive(Debug, Clone, Default)]
pub struct CrlSet {
    crls: Vec<Crl>,
    normalized: Vec<HashSet<String>>,
}

impl CrlSet {
    /// Parses PEM (several CRLs) or DER (one CRL) into a set.
    pub fn parse(input: &[u8]) -> Result<CrlSet, CrlError> {
        Ok(CrlSet::from_crls(Crl::parse(input)?))
    }

    /// Builds a set from CRLs parsed elsewhere (several files).
    pub fn from_crls(crls: Vec<Crl>) -> CrlSet {
        let normalized = crls
            .iter()
            .map(|c| {
                c.revoked
                    .iter()
                    .filter_map(|s| normalize_serial(s))
                    .collect()
            })
            .collect();
        CrlSet { crls, normalized }
    }

    /// The CRLs in load order.
    pub fn crls(&self) -> &[Crl] {
        &self.crls
    }

    /// What an operator should hear at load: each CRL that is not complete (see
    /// [`Crl::incomplete`]): its entries revoke, but it keeps no issuer current.
    pub fn warnings(&self) -> Vec<String> {
        self.crls
            .iter()
            .filter_map(|c| {
                c.incomplete.as_ref().map(|why| {
                    format!(
                        "CRL of {:?}: {why}; its entries revoke, but it does not keep the issuer current (load the issuer's complete CRL too)",
                        c.issuer_dn
                    )
                })
            })
            .collect()
    }

    /// Whether the certificate `serial` issued by `issuer_dn` (both as mod_ssl gives them:
    /// `SSL_CLIENT_I_DN`, `SSL_CLIENT_M_SERIAL`; serial case and leading zeros do not matter)
    /// is revoked at `now`.
    pub fn check(&self, issuer_dn: &str, serial: &str, now: UnixTime) -> CrlStatus {
        let Some(serial) = normalize_serial(serial) else {
            return CrlStatus::BadSerial;
        };
        // mod_ssl's `SSL_CLIENT_I_DN` leaves non-ASCII raw; CRL issuers are kept escaped.
        let issuer_dn = &dn::escape_msb(issuer_dn);
        let mut seen = false;
        let mut current = false;
        for (crl, revoked) in self.crls.iter().zip(&self.normalized) {
            if crl.issuer_dn != *issuer_dn {
                continue;
            }
            if revoked.contains(&serial) {
                return CrlStatus::Revoked;
            }
            seen = true;
            // A CRL issued "in the future" (thisUpdate ahead of our clock by more than the
            // skew a ticket is allowed) cannot vouch for now: OpenSSL refuses it too.
            current |= crl.incomplete.is_none()
                && crl.this_update <= now.saturating_add(crate::ticket::MAX_CLOCK_SKEW)
                && crl.next_update.is_none_or(|next| now <= next);
        }
        match (seen, current) {
            (false, _) => CrlStatus::NoCrl,
            (true, false) => CrlStatus::CrlExpired {
                issuer_dn: issuer_dn.to_string(),
            },
            (true, true) => CrlStatus::NotRevoked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> CrlSet {
        CrlSet::from_crls(vec![
            Crl {
                issuer_dn: "CN=CA One".into(),
                this_update: 1000,
                next_update: Some(2000),
                revoked: vec!["1001".into(), "0A".into()],
                incomplete: None,
            },
            Crl {
                issuer_dn: "CN=CA Two".into(),
                this_update: 1000,
                next_update: None,
                revoked: vec!["77".into()],
                incomplete: None,
            },
        ])
    }

    #[test]
    fn needs_issuer_and_serial() {
        let s = set();
        assert_eq!(s.check("CN=CA One", "1001", 1500), CrlStatus::Revoked);
        assert_eq!(
            s.check("CN=CA One", "0a", 1500),
            CrlStatus::Revoked,
            "case and zeros"
        );
        assert_eq!(
            s.check("CN=CA Two", "1001", 1500),
            CrlStatus::NotRevoked,
            "other issuer"
        );
        assert_eq!(s.check("CN=CA One", "1002", 1500), CrlStatus::NotRevoked);
        // An issuer without a CRL is said so: the engine refuses its CA-verified certificates.
        assert_eq!(
            s.check("CN=Unknown", "1001", 1500),
            CrlStatus::NoCrl,
            "no CRL"
        );
        assert_eq!(
            s.check("cn=ca one", "1001", 1500),
            CrlStatus::NoCrl,
            "DN exact"
        );
    }

    #[test]
    fn expired_crl_is_reported_but_still_revokes() {
        let s = set();
        assert_eq!(s.check("CN=CA One", "1001", 5000), CrlStatus::Revoked);
        assert_eq!(
            s.check("CN=CA One", "1002", 5000),
            CrlStatus::CrlExpired {
                issuer_dn: "CN=CA One".into()
            }
        );
        assert_eq!(
            s.check("CN=CA One", "1002", 2000),
            CrlStatus::NotRevoked,
            "nextUpdate inclusive"
        );
        assert_eq!(
            s.check("CN=CA Two", "1", 99_999),
            CrlStatus::NotRevoked,
            "no nextUpdate"
        );
    }

    #[test]
    fn newer_crl_of_same_issuer_keeps_it_current() {
        let mut crls = set().crls().to_vec();
        crls.push(Crl {
            issuer_dn: "CN=CA One".into(),
            this_update: 4000,
            next_update: Some(9000),
            revoked: vec![],
            incomplete: None,
        });
        let s = CrlSet::from_crls(crls);
        assert_eq!(s.check("CN=CA One", "1002", 5000), CrlStatus::NotRevoked);
        assert_eq!(s.check("CN=CA One", "1001", 5000), CrlStatus::Revoked);
    }

    #[test]
    fn an_incomplete_crl_revokes_but_never_keeps_its_issuer_current() {
        // A stale base CRL and a current delta CRL: the delta lists only recent changes, so
        // a serial revoked between the two (in neither) must not come out "not revoked".
        let base = Crl {
            issuer_dn: "CN=AD CS".into(),
            this_update: 1000,
            next_update: Some(2000),
            revoked: vec!["01".into()],
            incomplete: None,
        };
        let delta = Crl {
            issuer_dn: "CN=AD CS".into(),
            this_update: 4000,
            next_update: Some(9000),
            revoked: vec!["02".into()],
            incomplete: Some("a delta CRL (deltaCRLIndicator) lists only recent changes".into()),
        };
        let s = CrlSet::from_crls(vec![base.clone(), delta.clone()]);
        let stale = CrlStatus::CrlExpired {
            issuer_dn: "CN=AD CS".into(),
        };
        assert_eq!(s.check("CN=AD CS", "03", 5000), stale);
        assert_eq!(s.check("CN=AD CS", "02", 5000), CrlStatus::Revoked);
        assert_eq!(s.check("CN=AD CS", "01", 5000), CrlStatus::Revoked);
        let w = s.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("CN=AD CS") && w[0].contains("delta CRL"),
            "{w:?}"
        );
        // A current complete CRL next to it: the issuer is current again.
        let fresh = Crl {
            this_update: 4500,
            next_update: Some(9000),
            revoked: vec![],
            ..base
        };
        let s = CrlSet::from_crls(vec![fresh, delta]);
        assert_eq!(s.check("CN=AD CS", "03", 5000), CrlStatus::NotRevoked);
        assert_eq!(s.check("CN=AD CS", "02", 5000), CrlStatus::Revoked);
    }

    #[test]
    fn a_crl_from_the_future_does_not_keep_its_issuer_current() {
        // The only CRL of CA Three was issued at 10,000: before that (beyond the clock skew)
        // it cannot say the certificate is not revoked; its entries still revoke.
        let s = CrlSet::from_crls(vec![Crl {
            issuer_dn: "CN=CA Three".into(),
            this_update: 10_000,
            next_update: Some(20_000),
            revoked: vec!["07".into()],
            incomplete: None,
        }]);
        let stale = CrlStatus::CrlExpired {
            issuer_dn: "CN=CA Three".into(),
        };
        assert_eq!(s.check("CN=CA Three", "08", 5_000), stale);
        assert_eq!(s.check("CN=CA Three", "07", 5_000), CrlStatus::Revoked);
        let skew = crate::ticket::MAX_CLOCK_SKEW;
        assert_eq!(s.check("CN=CA Three", "08", 10_000 - skew - 1), stale);
        assert_eq!(
            s.check("CN=CA Three", "08", 10_000 - skew),
            CrlStatus::NotRevoked
        );
        assert_eq!(s.check("CN=CA Three", "08", 15_000), CrlStatus::NotRevoked);
    }

    #[test]
    fn issuer_in_mod_ssl_raw_form_matches() {
        let s = CrlSet::from_crls(vec![Crl {
            issuer_dn: "CN=Z\\C3\\BCrich CA".into(),
            this_update: 0,
            next_update: None,
            revoked: vec!["01".into()],
            incomplete: None,
        }]);
        assert_eq!(s.check("CN=Zürich CA", "01", 10), CrlStatus::Revoked);
        assert_eq!(s.check("CN=Z\\C3\\BCrich CA", "1", 10), CrlStatus::Revoked);
    }

    #[test]
    fn bad_serial_and_bad_input() {
        assert_eq!(
            set().check("CN=CA One", "10 01", 1500),
            CrlStatus::BadSerial
        );
        assert_eq!(set().check("CN=CA One", "", 1500), CrlStatus::BadSerial);
        assert!(matches!(
            Crl::parse(b"\x30\x03\x02\x01\x01"),
            Err(CrlError::BadDer(_))
        ));
        assert_eq!(Crl::parse(b""), Err(CrlError::NoCrl));
        assert_eq!(
            Crl::parse(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            Err(CrlError::NoCrl)
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        // The operator reads these when a CRL file is refused at load.
        let text = |e: CrlError| e.to_string();
        assert_eq!(
            text(CrlError::BadPem("x".into())),
            "CRL PEM is malformed: x"
        );
        assert_eq!(
            text(CrlError::BadDer("y".into())),
            "CRL DER is malformed: y"
        );
        assert_eq!(text(CrlError::TrailingData), "data follows the CRL's DER");
        assert_eq!(text(CrlError::NoCrl), "no X509 CRL block found");
    }
}
