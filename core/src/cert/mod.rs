//! Client certificates: parsing, OpenSSL-exact DN rendering, SANs, user mapping, CRLs, enrolled certificates.
//!
//! [`Certificate`] holds what the engine reads from a client certificate, with the DNs
//! rendered exactly as mod_ssl and Envoy render them ([`dn`]); [`map`] turns it (or a
//! bare DN string) into a user name; [`crl`] checks revocation by issuer **and** serial;
//! [`enrolled`] keeps the per-user pinned certificates of prosody's mod_client_certs;
//! [`chain`] verifies a client's chain against configured CAs when the TLS layer did not.

pub mod chain;
pub mod crl;
pub mod dn;
pub mod enrolled;
pub mod map;

mod error;
mod parse;
mod san;
mod serial;

pub use error::CertError;
pub use parse::{Certificate, MAX_CERT_LEN};
pub use san::{SubjectAltNames, OID_MS_UPN, OID_XMPP_ADDR};
pub use serial::{normalize_serial, serial_hex};

#[cfg(test)]
mod tests;
