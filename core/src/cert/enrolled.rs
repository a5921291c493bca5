//! Enrolled (pinned) certificates, after prosody's mod_client_certs.
//!
//! A user enrols a certificate of their own; it needs no CA, but must be valid at
//! enrolment and carry an otherName id-on-xmppAddr or an rfc822Name SAN equal to the user
//! name. Later it is recognised by its SHA-256 fingerprint until its notAfter. Users
//! can hold at most `max_per_user` certificates, revoke one device by label or
//! fingerprint, and expired entries can be listed and pruned.
//!
//! File format (text, one enrolment a line, fields separated by whitespace):
//!
//! ```text
//! # user  sha256-of-DER (64 lowercase hex)                                not_after   label…
//! alice   3f0c…(64 hex)…9a                                                1795409468  laptop at home
//! ```
//!
//! The label is the rest of the line (inner spaces kept, ends trimmed). Blank lines and
//! lines starting with `#` are ignored; [`EnrolledCerts::to_text`] writes the same format.

use super::{CertError, Certificate};
use crate::time::UnixTime;
use std::fmt;

/// One pinned certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// The user it logs in as.
    pub user: String,
    /// SHA-256 of its DER, lowercase hex.
    pub sha256: String,
    /// Its notAfter, Unix seconds: it stops working after that.
    pub not_after: UnixTime,
    /// The user's name for the device (`laptop`, `phone`).
    pub label: String,
}

/// Why an enrolment or the enrolment file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnrollError {
    /// A file line that is not `<user> <sha256> <not_after> <label…>`.
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// The certificate is not valid now (not yet, or expired).
    NotValid(CertError),
    /// No xmppAddr or email SAN of the certificate equals the user name.
    SanMismatch,
    /// The user already has `limit` certificates.
    TooMany {
        /// The limit in force.
        limit: usize,
    },
    /// This certificate is already enrolled (for this or another user).
    AlreadyEnrolled,
    /// The user already has a certificate with this label.
    DuplicateLabel,
    /// The user name is empty or holds whitespace or control characters.
    BadUser,
    /// The label is empty or holds control characters.
    BadLabel,
}

impl fmt::Display for EnrollError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnrollError::BadLine { line, why } => write!(f, "enrolment line {line}: {why}"),
            EnrollError::NotValid(e) => write!(f, "cannot enrol: {e}"),
            EnrollError::SanMismatch => {
                f.write_str("certificate has no xmppAddr or email subjectAltName naming the user")
            }
            EnrollError::TooMany { limit } => write!(f, "user already has {limit} certificates"),
            EnrollError::AlreadyEnrolled => f.write_str("certificate is already enrolled"),
            EnrollError::DuplicateLabel => {
                f.write_str("user already has a certificate with this label")
            }
            EnrollError::BadUser => {
                f.write_str("user name is empty or holds spaces or control characters")
            }
            EnrollError::BadLabel => f.write_str("label is empty or holds control characters"),
        }
    }
}

impl std::error::Error for EnrollError {}

/// Every enrolment, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrolledCerts {
    entries: Vec<Enrollment>,
}

/// A user name fit for the file: non-empty, no whitespace, no control characters.
fn user_ok(user: &str) -> bool {
    !user.is_empty() && !user.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A label fit for the file: something visible, no control characters.
fn label_ok(label: &str) -> bool {
    !label.trim().is_empty() && !label.chars().any(char::is_control)
}

/// Splits off the first whitespace-separated word; the rest keeps its inner spacing.
fn first_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

/// A fingerprint as stored: 64 lowercase hex digits; colons and case are forgiven.
fn normalize_fingerprint(s: &str) -> Option<String> {
    let f: String = s
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (f.len() == 64 && f.bytes().all(|b| b.is_ascii_hexdigit())).then_some(f)
}

impl EnrolledCerts {
    /// Parses the enrolment file (format in the module doc).
    pub fn parse(text: &str) -> Result<EnrolledCerts, EnrollError> {
        let mut out = EnrolledCerts::default();
        for (line, raw) in crate::lines::numbered(text) {
            let bad = |why| EnrollError::BadLine { line, why };
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let (user, rest) = first_word(l);
            let (fp, rest) = first_word(rest);
            let (not_after, label) = first_word(rest);
            if label.is_empty() {
                return Err(bad("expected <user> <sha256> <not_after> <label>"));
            }
            if !user_ok(user) {
                return Err(bad("bad user name"));
            }
            let sha256 =
                normalize_fingerprint(fp).ok_or_else(|| bad("sha256 must be 64 hex digits"))?;
            let not_after = not_after
                .parse()
                .map_err(|_| bad("not_after must be Unix seconds"))?;
            let label = label.trim();
            if !label_ok(label) {
                return Err(bad("bad label"));
            }
            if out.entries.iter().any(|e| e.sha256 == sha256) {
                return Err(bad("certificate listed twice"));
            }
            out.entries.push(Enrollment {
                user: user.to_string(),
                sha256,
                not_after,
                label: label.to_string(),
            });
        }
        Ok(out)
    }

    /// The file text for the current enrolments.
    pub fn to_text(&self) -> String {
        let mut out = String::from("# user sha256 not_after label\n");
        for e in &self.entries {
            out.push_str(&format!(
                "{} {} {} {}\n",
                e.user, e.sha256, e.not_after, e.label
            ));
        }
        out
    }

    /// Enrols `cert` for `user` under `label`, after checking it is valid at `now`, names
    /// the user in an xmppAddr or email SAN, is not enrolled yet, and the user is under
    /// `max_per_user` certificates (expired ones count until pruned).
    pub fn enroll(
        &mut self,
        user: &str,
        cert: &Certificate,
        label: &str,
        now: UnixTime,
        max_per_user: usize,
    ) -> Result<(), EnrollError> {
        if !user_ok(user) {
            return Err(EnrollError::BadUser);
        }
        let label = label.trim();
        if !label_ok(label) {
            return Err(EnrollError::BadLabel);
        }
        cert.is_valid_at(now).map_err(EnrollError::NotValid)?;
        if !cert
            .san
            .xmpp
            .iter()
            .chain(&cert.san.email)
            .any(|n| n == user)
        {
            return Err(EnrollError::SanMismatch);
        }
        if self.entries.iter().any(|e| e.sha256 == cert.sha256) {
            return Err(EnrollError::AlreadyEnrolled);
        }
        let mine: Vec<&Enrollment> = self.entries.iter().filter(|e| e.user == user).collect();
        if mine.iter().any(|e| e.label == label) {
            return Err(EnrollError::DuplicateLabel);
        }
        if mine.len() >= max_per_user {
            return Err(EnrollError::TooMany {
                limit: max_per_user,
            });
        }
        self.entries.push(Enrollment {
            user: user.to_string(),
            sha256: cert.sha256.clone(),
            not_after: cert.not_after,
            label: label.to_string(),
        });
        Ok(())
    }

    /// Removes `user`'s certificate whose label or fingerprint is `label_or_fingerprint`;
    /// `true` if one went. Another user's certificate is never touched.
    pub fn revoke(&mut self, user: &str, label_or_fingerprint: &str) -> bool {
        let fp = normalize_fingerprint(label_or_fingerprint);
        let before = self.entries.len();
        self.entries.retain(|e| {
            !(e.user == user && (e.label == label_or_fingerprint || Some(&e.sha256) == fp.as_ref()))
        });
        self.entries.len() != before
    }

    /// The enrolment for a presented certificate's fingerprint, unless it has expired.
    pub fn lookup(&self, sha256: &str, now: UnixTime) -> Option<&Enrollment> {
        let fp = normalize_fingerprint(sha256)?;
        self.entries
            .iter()
            .find(|e| e.sha256 == fp && now <= e.not_after)
    }

    /// The enrolments of `user`, in file order.
    pub fn for_user<'a>(&'a self, user: &'a str) -> impl Iterator<Item = &'a Enrollment> + 'a {
        self.entries.iter().filter(move |e| e.user == user)
    }

    /// Enrolments past their notAfter at `now`.
    pub fn expired(&self, now: UnixTime) -> Vec<&Enrollment> {
        self.entries.iter().filter(|e| now > e.not_after).collect()
    }

    /// Drops expired enrolments; returns how many went.
    pub fn prune(&mut self, now: UnixTime) -> usize {
        let before = self.entries.len();
        self.entries.retain(|e| now <= e.not_after);
        before - self.entries.len()
    }

    /// All enrolments.
    pub fn entries(&self) -> &[Enrollment] {
        &self.entries
    }
}

#[cfg(test)]
mod tests;
