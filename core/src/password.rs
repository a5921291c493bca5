//! htpasswd password verification (bcrypt, SHA-crypt, APR1-MD5, `{SHA}`) and bcrypt hashing.
//!
//! All algorithms come from maintained crates (`bcrypt`, `sha-crypt`,
//! `crypt3_rs` for APR1, `sha1`); every final comparison is constant-time.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// A password hash or htpasswd file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordError {
    /// The hash has no prefix we know (crypt(3) DES, `$1$` MD5-crypt and plaintext are refused).
    UnknownFormat {
        /// The scheme prefix seen (`$1$`, `{SSHA}`, …) — never the hash itself.
        prefix: String,
    },
    /// The prefix is known but the rest is not a valid hash of that scheme.
    Malformed {
        /// The scheme: `bcrypt`, `sha-crypt`, `apr1` or `{SHA}`.
        scheme: &'static str,
    },
    /// An htpasswd line without `user:hash`, or with an empty user or a control character.
    BadLine {
        /// 1-based line number.
        line: usize,
    },
    /// An htpasswd line whose hash is unusable.
    BadEntry {
        /// 1-based line number.
        line: usize,
        /// What is wrong with the hash.
        error: Box<PasswordError>,
    },
    /// The same user on two htpasswd lines (httpd silently takes the first).
    DuplicateUser {
        /// 1-based line number of the second entry.
        line: usize,
        /// The user name.
        user: String,
    },
    /// A bcrypt cost outside 4..=31.
    BadCost {
        /// The cost asked for.
        cost: u32,
    },
    /// A password bcrypt cannot hash faithfully: over 72 bytes, or containing NUL.
    UnhashablePassword,
    /// A hash whose work factor is above [`MAX_BCRYPT_COST`] or [`MAX_SHA_CRYPT_ROUNDS`]:
    /// checking it would let one request burn seconds of CPU.
    TooExpensive {
        /// The scheme: `bcrypt` or `sha-crypt`.
        scheme: &'static str,
    },
}

/// The highest bcrypt cost accepted (htpasswd's own `-C` limit).
pub const MAX_BCRYPT_COST: u32 = 17;
/// The most SHA-crypt rounds accepted (htpasswd's default is 5,000; glibc allows 999,999,999).
pub const MAX_SHA_CRYPT_ROUNDS: u64 = 1_000_000;

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordError::UnknownFormat { prefix } => write!(
                f,
                "unknown password hash format {prefix:?} (expected $2y$/$2a$/$2b$ bcrypt, $5$/$6$ SHA-crypt, $apr1$ or {{SHA}})"
            ),
            PasswordError::Malformed { scheme } => write!(f, "malformed {scheme} hash"),
            PasswordError::BadLine { line } => {
                write!(f, "line {line}: expected `user:hash`")
            }
            PasswordError::BadEntry { line, error } => write!(f, "line {line}: {error}"),
            PasswordError::DuplicateUser { line, user } => {
                write!(f, "line {line}: user {user:?} appears twice")
            }
            PasswordError::BadCost { cost } => {
                write!(f, "bcrypt cost {cost} is outside 4..={MAX_BCRYPT_COST}")
            }
            PasswordError::UnhashablePassword => {
                f.write_str("password is longer than 72 bytes or contains NUL")
            }
            PasswordError::TooExpensive { scheme } => {
                write!(f, "{scheme} hash has a work factor above the accepted maximum")
            }
        }
    }
}

impl std::error::Error for PasswordError {}

/// The hash schemes an htpasswd file may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bcrypt,
    ShaCrypt,
    Apr1,
    Sha1,
}

fn scheme_of(hash: &str) -> Result<Scheme, PasswordError> {
    for (prefix, scheme) in [
        ("$2y$", Scheme::Bcrypt),
        ("$2a$", Scheme::Bcrypt),
        ("$2b$", Scheme::Bcrypt),
        ("$5$", Scheme::ShaCrypt),
        ("$6$", Scheme::ShaCrypt),
        ("$apr1$", Scheme::Apr1),
        ("{SHA}", Scheme::Sha1),
    ] {
        if hash.starts_with(prefix) {
            return Ok(scheme);
        }
    }
    Err(PasswordError::UnknownFormat {
        prefix: prefix_hint(hash),
    })
}

/// Roughly what checking a password against `hash` costs, in microseconds (measured on the
/// project machine, release build; only the order matters: it picks the unknown users' decoy).
fn work_estimate(hash: &str) -> u64 {
    let rounds = || {
        hash.get(3..)
            .and_then(|rest| rest.strip_prefix("rounds="))
            .and_then(|rest| rest.split('$').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(5000)
    };
    match scheme_of(hash) {
        // About 110 µs per Eksblowfish round; `$2y$NN$` does 2^NN of them (cost 5: 3.6 ms).
        Ok(Scheme::Bcrypt) => hash
            .get(4..6)
            .and_then(|c| c.parse::<u32>().ok())
            .map_or(0, |cost| 110u64 << cost.min(MAX_BCRYPT_COST)),
        // SHA-512-crypt about 0.85 µs a round, SHA-256-crypt 0.085 (5000 rounds: 4.2 / 0.42 ms).
        Ok(Scheme::ShaCrypt) if hash.starts_with("$6$") => rounds() * 85 / 100,
        Ok(Scheme::ShaCrypt) => rounds() * 85 / 1000,
        // 1000 rounds of MD5: 0.15 ms.
        Ok(Scheme::Apr1) => 150,
        Ok(Scheme::Sha1) | Err(_) => 1,
    }
}

/// Whether a known user's check also verifies the decoy: when its hash costs at most half the
/// decoy's, its hash plus the decoy's is closer to an unknown name's time (the decoy's) than
/// its hash alone.
fn pays_decoy(hash: &str, decoy: &str) -> bool {
    work_estimate(hash).saturating_mul(2) <= work_estimate(decoy)
}

/// Refuses bcrypt costs and SHA-crypt rounds that would make one check a denial of service.
fn check_work_factor(hash: &str, scheme: Scheme) -> Result<(), PasswordError> {
    match scheme {
        Scheme::Bcrypt => {
            // `$2y$NN$`: the crate reports a malformed cost itself.
            match hash.get(4..6).and_then(|c| c.parse::<u32>().ok()) {
                Some(cost) if cost > MAX_BCRYPT_COST => {
                    Err(PasswordError::TooExpensive { scheme: "bcrypt" })
                }
                _ => Ok(()),
            }
        }
        Scheme::ShaCrypt => {
            let rounds = hash
                .get(3..)
                .and_then(|rest| rest.strip_prefix("rounds="))
                .and_then(|rest| rest.split('$').next())
                .and_then(|n| n.parse::<u64>().ok());
            match rounds {
                Some(n) if n > MAX_SHA_CRYPT_ROUNDS => Err(PasswordError::TooExpensive {
                    scheme: "sha-crypt",
                }),
                _ => Ok(()),
            }
        }
        Scheme::Apr1 | Scheme::Sha1 => Ok(()),
    }
}

/// The scheme marker of an unknown hash, safe to log: `$id$`, `{NAME}`, or a description.
fn prefix_hint(hash: &str) -> String {
    let marker = |open: char, close: char| {
        let rest = hash.strip_prefix(open)?;
        let end = rest.find(close)?;
        let id = &rest[..end];
        (id.len() <= 8 && id.chars().all(|c| c.is_ascii_alphanumeric()))
            .then(|| format!("{open}{id}{close}"))
    };
    marker('$', '$')
        .or_else(|| marker('{', '}'))
        .unwrap_or_else(|| "no scheme prefix (DES crypt or plaintext)".to_string())
}

/// Checks `password` against one htpasswd hash; `Ok(false)` on a wrong password.
///
/// bcrypt keeps only the first 72 bytes of a password, as httpd does.
pub fn verify(hash: &str, password: &str) -> Result<bool, PasswordError> {
    let scheme = scheme_of(hash)?;
    check_work_factor(hash, scheme)?;
    // C implementations stop at NUL: "pw\0junk" must never pass as "pw" anywhere.
    if password.contains('\0') {
        return Ok(false);
    }
    match scheme {
        Scheme::Bcrypt => bcrypt::verify(password, hash)
            .map_err(|_| PasswordError::Malformed { scheme: "bcrypt" }),
        Scheme::ShaCrypt => verify_sha_crypt(hash, password),
        Scheme::Apr1 => verify_apr1(hash, password),
        Scheme::Sha1 => verify_sha1(hash, password),
    }
}

fn verify_sha_crypt(hash: &str, password: &str) -> Result<bool, PasswordError> {
    use sha_crypt::{password_hash::Error, PasswordVerifier, ShaCrypt};
    match ShaCrypt::default().verify_password(password.as_bytes(), hash) {
        Ok(()) => Ok(true),
        Err(Error::PasswordInvalid) => Ok(false),
        Err(_) => Err(PasswordError::Malformed {
            scheme: "sha-crypt",
        }),
    }
}

/// Whether every byte is in crypt's base-64 alphabet (`./0-9A-Za-z`).
fn crypt64(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
}

/// `$apr1$<salt, 1–8 chars>$<22 chars>`, all from crypt's base-64 alphabet.
fn apr1_well_formed(hash: &str) -> bool {
    let Some((salt, digest)) = hash.strip_prefix("$apr1$").and_then(|r| r.split_once('$')) else {
        return false;
    };
    !salt.is_empty() && salt.len() <= 8 && digest.len() == 22 && crypt64(salt) && crypt64(digest)
}

/// `$5$` / `$6$`, an optional `rounds=N$`, a salt of up to 16 characters, and the digest in
/// crypt's base-64 (43 characters for SHA-256, 86 for SHA-512) — the layout sha-crypt reads.
fn sha_crypt_well_formed(hash: &str) -> bool {
    let (rest, digest_len) = match (hash.strip_prefix("$5$"), hash.strip_prefix("$6$")) {
        (Some(rest), _) => (rest, 43),
        (_, Some(rest)) => (rest, 86),
        _ => return false,
    };
    // Below 1000 rounds glibc quietly uses 1000, but the sha-crypt crate refuses the entry at
    // every login: refuse it when the file is read instead.
    let rest = match rest.strip_prefix("rounds=") {
        Some(r) => match r.split_once('$') {
            Some((n, r))
                if !n.is_empty()
                    && n.bytes().all(|b| b.is_ascii_digit())
                    && n.parse::<u64>().is_ok_and(|n| n >= 1000) =>
            {
                r
            }
            _ => return false,
        },
        None => rest,
    };
    let Some((salt, digest)) = rest.split_once('$') else {
        return false;
    };
    // glibc accepts any salt byte but `$`, `:` and newlines; htpasswd and mkpasswd write crypt64.
    salt.len() <= 16
        && !salt.bytes().any(|b| b == b':' || b.is_ascii_control())
        && digest.len() == digest_len
        && crypt64(digest)
}

/// `{SHA}` + the standard base64 of a 20-byte digest.
fn sha1_stored(hash: &str) -> Option<Vec<u8>> {
    let stored = base64::engine::general_purpose::STANDARD
        .decode(hash.strip_prefix("{SHA}")?)
        .ok()?;
    (stored.len() == 20).then_some(stored)
}

/// Whether `hash` is laid out as its scheme requires, checked without hashing anything: a
/// truncated or mangled entry is refused when the file is read, not at its user's login (and
/// never becomes the decoy that unknown users are checked against).
fn well_formed(hash: &str, scheme: Scheme) -> Result<(), PasswordError> {
    let (ok, name) = match scheme {
        Scheme::Bcrypt => (
            // The crate's parser checks the layout but not the cost, which it refuses at
            // verify time below 4.
            hash.parse::<bcrypt::HashParts>()
                .is_ok_and(|h| (4..=31).contains(&h.get_cost())),
            "bcrypt",
        ),
        Scheme::ShaCrypt => (sha_crypt_well_formed(hash), "sha-crypt"),
        Scheme::Apr1 => (apr1_well_formed(hash), "apr1"),
        Scheme::Sha1 => (sha1_stored(hash).is_some(), "{SHA}"),
    };
    if ok {
        Ok(())
    } else {
        Err(PasswordError::Malformed { scheme: name })
    }
}

/// `$apr1$<salt, 1–8 chars>$<22 chars>`, all from crypt's base-64 alphabet.
fn verify_apr1(hash: &str, password: &str) -> Result<bool, PasswordError> {
    let malformed = PasswordError::Malformed { scheme: "apr1" };
    if !apr1_well_formed(hash) {
        return Err(malformed);
    }
    // Deprecated for new passwords only; verifying existing htpasswd entries is its remaining use.
    #[allow(deprecated)]
    let computed = crypt3_rs::crypt::apr1::hash_with(hash, password).map_err(|_| malformed)?;
    Ok(computed.as_str().as_bytes().ct_eq(hash.as_bytes()).into())
}

/// `{SHA}` + base64(SHA-1(password)), compared in constant time.
fn verify_sha1(hash: &str, password: &str) -> Result<bool, PasswordError> {
    let stored = sha1_stored(hash).ok_or(PasswordError::Malformed { scheme: "{SHA}" })?;
    let computed = Sha1::digest(password.as_bytes());
    Ok(computed.as_slice().ct_eq(&stored).into())
}

/// Hashes a new password as htpasswd's `-B` does, with the caller's random salt: `$2y$NN$…`.
///
/// Refuses passwords bcrypt would silently truncate (over 72 bytes) or cut at NUL.
pub fn hash_bcrypt(password: &str, cost: u32, salt: [u8; 16]) -> Result<String, PasswordError> {
    // Above MAX_BCRYPT_COST the loader refuses the hash (TooExpensive): never write one.
    if !(4..=MAX_BCRYPT_COST).contains(&cost) {
        return Err(PasswordError::BadCost { cost });
    }
    if password.len() > 72 || password.contains('\0') {
        return Err(PasswordError::UnhashablePassword);
    }
    bcrypt::hash_with_salt(password, cost, salt)
        .map(|parts| parts.format_for_version(bcrypt::Version::TwoY))
        .map_err(|_| PasswordError::UnhashablePassword)
}

/// An htpasswd file: `user:hash` lines, `#` comment lines; every hash checked at load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Htpasswd {
    entries: BTreeMap<String, String>,
    /// A hash verified against for unknown users, so their timing resembles a known user's.
    decoy: Option<String>,
}

impl Htpasswd {
    /// Parses an htpasswd file; unknown hash formats and duplicate users are errors.
    ///
    /// As in mod_authn_file, the hash ends at the next `:` (extra fields are ignored).
    pub fn parse(text: &str) -> Result<Htpasswd, PasswordError> {
        let mut entries = BTreeMap::new();
        let mut decoy = None;
        for (line, raw) in crate::lines::numbered(text) {
            let content = raw.trim();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let Some((user, rest)) = content.split_once(':') else {
                return Err(PasswordError::BadLine { line });
            };
            if user.is_empty() || content.chars().any(char::is_control) {
                return Err(PasswordError::BadLine { line });
            }
            let hash = rest.split(':').next().unwrap_or_default();
            scheme_of(hash)
                .and_then(|scheme| {
                    check_work_factor(hash, scheme)?;
                    well_formed(hash, scheme)
                })
                .map_err(|e| PasswordError::BadEntry {
                    line,
                    error: Box::new(e),
                })?;
            if entries.contains_key(user) {
                return Err(PasswordError::DuplicateUser {
                    line,
                    user: user.to_string(),
                });
            }
            // The decoy is the dearest hash: an unknown user must cost at least what the
            // slowest known one does, or timing tells them apart.
            let work = work_estimate(hash);
            if decoy.as_ref().is_none_or(|(w, _)| work > *w) {
                decoy = Some((work, hash.to_string()));
            }
            entries.insert(user.to_string(), hash.to_string());
        }
        Ok(Htpasswd {
            entries,
            decoy: decoy.map(|(_, hash)| hash),
        })
    }

    /// Checks a user's password; an unknown user is `Ok(false)` after verifying against a decoy
    /// hash (the dearest). A known user whose hash costs at most half the decoy's also verifies
    /// it (thrown away) — else a cheap legacy entry (`{SHA}`, `$apr1$`) beside bcrypt ones would
    /// answer far faster than an unknown name; closer costs stay within half of it either way
    /// ([`Htpasswd::mixed_costs`] warns about them).
    pub fn check(&self, user: &str, password: &str) -> Result<bool, PasswordError> {
        match self.entries.get(user) {
            Some(hash) => {
                let result = verify(hash, password);
                if let Some(decoy) = self.decoy.as_deref().filter(|d| pays_decoy(hash, d)) {
                    let _ = verify(decoy, password);
                }
                result
            }
            None => {
                if let Some(decoy) = &self.decoy {
                    // The result is thrown away: the work is only there to hide that the user is unknown.
                    let _ = verify(decoy, password);
                }
                Ok(false)
            }
        }
    }

    /// Roughly what one [`Self::check`] can cost, in microseconds: the dearest hash, which
    /// every login with an unknown name pays (an order of magnitude, for load-time warnings).
    pub fn worst_check_micros(&self) -> u64 {
        self.decoy.as_deref().map_or(0, work_estimate)
    }

    /// Whether the entries' hashes differ in cost (bcrypt cost, SHA-crypt rounds, scheme):
    /// then how long a login takes tells some users from unknown names, which are checked
    /// against the dearest hash. Rehash them at one cost.
    pub fn mixed_costs(&self) -> bool {
        let mut works = self.entries.values().map(|h| work_estimate(h));
        let first = works.next();
        works.any(|w| Some(w) != first)
    }

    /// How many users the file holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the file holds no user.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    // Generated on this machine with httpd's htpasswd 2.4 and OpenSSL 3 (see the report).
    const BCRYPT_2Y: &str = "$2y$05$cj1G3pfWbanZ8tiuxgsA.eWjVZGgeQ0sJLDulfe.PAKs74fQpH4ui"; // "correct horse"
    const BCRYPT_LONG: &str = "$2y$04$1iYTTDjgE6I8sIJAFGg4c.qqTaM75wiuWxAMXNbQT5NwlwZDWkdIC"; // "x" * 80
    const APR1: &str = "$apr1$nNwGcRvb$nXvmTZhVjNc162WyUsvSE/"; // "s3cret!"
    const APR1_OPENSSL: &str = "$apr1$Zz9/ab.c$c8BOkoi/dHARtjy0dP5dI0"; // "apr pw"
    const APR1_SHORT_SALT: &str = "$apr1$ab$S8K6Sgp3W8c9Jb6LxgywZ."; // ""
    const SHA1: &str = "{SHA}9Rfd8dMqES/xrVXGbRsSyzjn6Pc="; // "pässwörd"
    const SHA512_HTPASSWD: &str = "$6$XqC74W1Q7heo1gqU$ftV4BMf3FSf6kicRPLdPMX6iaWKvutuKZQGqsTikI25gJ2TLxRmD0fUwlYHeo/9OVbGJ0H0FC0bhFQdV/4mY90"; // "sha256pw"
    const SHA256_HTPASSWD: &str = "$5$JvkkKUz6cwmCLFUB$DicoypqrLV.l9c4j.ckxLhAI8V3Mbss8y4zGs9I2JOB"; // "sha512pw"
    const SHA256_OPENSSL: &str = "$5$saltsalt$WzUmQii01nfTV1TYCOkBeBwTyxmKMzcJfuoexqMmrA6"; // "sha256pw"
    const SHA512_OPENSSL: &str = "$6$saltsalt$4tunjKVuZncbXa0keYjfESkXJUqiWNDNjPLUgx2nQ6AlupqEiGSROLeZQ9GydXZv/JBhOV2OIAPlVA8lJ8vA91"; // "sha512pw"
    const SHA512_ROUNDS: &str = "$6$rounds=6000$SzdaUn.5eQ/Nen5H$dNs2sxgY/Khj55.IJTyJEmsDV21xpiK5Hau8VQWnN1VFiRvtWvMwLP0Xoxopq7deAhwe9HFDLSZrdLWL2QsnZ/"; // "rounds pw"
    const MD5_CRYPT: &str = "$1$abcdefgh$IQtUouv7y7Q9dRWkQEPCc."; // "pw"

    #[test]
    fn real_vectors_verify() {
        let cases = [
            (BCRYPT_2Y, "correct horse"),
            (APR1, "s3cret!"),
            (APR1_OPENSSL, "apr pw"),
            (APR1_SHORT_SALT, ""),
            (SHA1, "pässwörd"),
            (SHA512_HTPASSWD, "sha256pw"),
            (SHA256_HTPASSWD, "sha512pw"),
            (SHA256_OPENSSL, "sha256pw"),
            (SHA512_OPENSSL, "sha512pw"),
            (SHA512_ROUNDS, "rounds pw"),
        ];
        for (hash, pw) in cases {
            assert_eq!(verify(hash, pw), Ok(true), "{hash}");
            assert_eq!(verify(hash, &format!("{pw}x")), Ok(false), "{hash}");
            assert_eq!(
                verify(hash, &pw.to_uppercase()).ok(),
                Some(pw.to_uppercase() == pw),
                "{hash}"
            );
        }
        let long = "x".repeat(80);
        assert_eq!(verify(BCRYPT_LONG, &long), Ok(true));
        // bcrypt reads 72 bytes, as httpd does: the tail does not matter.
        assert_eq!(verify(BCRYPT_LONG, &"x".repeat(72)), Ok(true));
        assert_eq!(verify(BCRYPT_LONG, &"x".repeat(71)), Ok(false));
    }

    #[test]
    fn every_entry_is_checked_for_its_layout_when_the_file_is_read() {
        // Every real vector loads.
        let good = [
            BCRYPT_2Y,
            BCRYPT_LONG,
            APR1,
            APR1_OPENSSL,
            APR1_SHORT_SALT,
            SHA1,
            SHA512_HTPASSWD,
            SHA256_HTPASSWD,
            SHA256_OPENSSL,
            SHA512_OPENSSL,
            SHA512_ROUNDS,
        ];
        let file: String = good
            .iter()
            .enumerate()
            .map(|(i, h)| format!("u{i}:{h}\n"))
            .collect();
        assert_eq!(Htpasswd::parse(&file).unwrap().len(), good.len());
        // A truncated or mangled one is refused at load, naming its line — not a 500 at that
        // user's login, and never the decoy (a decoy that fails at once would answer unknown
        // users sooner than known ones).
        // The smallest round count the crate takes loads.
        assert!(Htpasswd::parse(
            &SHA512_ROUNDS
                .replace("rounds=6000", "rounds=1000")
                .replacen("$6$", "a:$6$", 1)
        )
        .is_ok());
        for bad in [
            "$2y$12$abc",
            &BCRYPT_2Y.replace("$05$", "$03$"),
            &BCRYPT_2Y[..59],
            &format!("{}!", &BCRYPT_2Y[..59]),
            "$6$saltsalt$short",
            &SHA512_OPENSSL[..SHA512_OPENSSL.len() - 1],
            &SHA256_OPENSSL.replace("$5$", "$5$rounds=x$"),
            // glibc raises rounds below 1000 to 1000; the crate refuses them at every login.
            &SHA256_OPENSSL.replace("$5$", "$5$rounds=999$"),
            &SHA512_ROUNDS.replace("rounds=6000", "rounds=500"),
            &SHA512_ROUNDS.replace("rounds=6000", "rounds=999"),
            "$5$nosalt",
            "$apr1$nNwGcRvb$short",
            "$apr1$$nXvmTZhVjNc162WyUsvSE/",
            "{SHA}abc",
            "{SHA}",
        ] {
            let err = Htpasswd::parse(&format!("ok:{SHA1}\nbad:{bad}\n")).unwrap_err();
            assert!(
                matches!(&err, PasswordError::BadEntry { line: 2, error } if matches!(**error, PasswordError::Malformed { .. })),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn bcrypt_prefixes() {
        let body = &BCRYPT_2Y[3..];
        for prefix in ["$2a", "$2b"] {
            assert_eq!(
                verify(&format!("{prefix}{body}"), "correct horse"),
                Ok(true)
            );
        }
        assert!(matches!(
            verify(&format!("$2x{body}"), "x"),
            Err(PasswordError::UnknownFormat { .. })
        ));
    }

    #[test]
    fn unknown_and_malformed() {
        assert_eq!(
            verify(MD5_CRYPT, "pw"),
            Err(PasswordError::UnknownFormat {
                prefix: "$1$".into()
            })
        );
        assert_eq!(
            verify("{SSHA}abcd", "pw"),
            Err(PasswordError::UnknownFormat {
                prefix: "{SSHA}".into()
            })
        );
        let err = verify("rqXexS6ZhobKA", "pw").unwrap_err();
        assert!(err.to_string().contains("DES crypt or plaintext"), "{err}");
        // Plaintext must never match itself.
        assert!(verify("secret", "secret").is_err());
        assert!(verify("", "").is_err());
        assert_eq!(
            verify("$2y$05$short", "pw"),
            Err(PasswordError::Malformed { scheme: "bcrypt" })
        );
        assert_eq!(
            verify("$6$", "pw"),
            Err(PasswordError::Malformed {
                scheme: "sha-crypt"
            })
        );
        assert_eq!(
            verify("$5$salt$!!!", "pw"),
            Err(PasswordError::Malformed {
                scheme: "sha-crypt"
            })
        );
        assert_eq!(
            verify("$apr1$nNwGcRvb$short", "pw"),
            Err(PasswordError::Malformed { scheme: "apr1" })
        );
        assert_eq!(
            verify("$apr1$toolongsalt$nXvmTZhVjNc162WyUsvSE/", "pw"),
            Err(PasswordError::Malformed { scheme: "apr1" })
        );
        assert_eq!(
            verify("$apr1$$nXvmTZhVjNc162WyUsvSE/", "pw"),
            Err(PasswordError::Malformed { scheme: "apr1" })
        );
        assert_eq!(
            verify("$apr1$nNwGcRvb", "pw"),
            Err(PasswordError::Malformed { scheme: "apr1" })
        );
        assert_eq!(
            verify("{SHA}not base64!", "pw"),
            Err(PasswordError::Malformed { scheme: "{SHA}" })
        );
        assert_eq!(
            verify("{SHA}AAAA", "pw"),
            Err(PasswordError::Malformed { scheme: "{SHA}" })
        );
        // The hash never appears in the error message.
        let err = verify("$zz$secret-material", "pw").unwrap_err().to_string();
        assert!(!err.contains("secret-material"), "{err}");
    }

    #[test]
    fn work_factor_is_capped() {
        let body = &BCRYPT_2Y[6..];
        assert_eq!(
            verify(&format!("$2y$31{body}"), "x"),
            Err(PasswordError::TooExpensive { scheme: "bcrypt" })
        );
        assert_eq!(
            verify("$6$rounds=999999999$salt$AAAA", "x"),
            Err(PasswordError::TooExpensive {
                scheme: "sha-crypt"
            })
        );
        assert!(matches!(
            Htpasswd::parse("a:$5$rounds=5000000$salt$AAAA"),
            Err(PasswordError::BadEntry { line: 1, .. })
        ));
        assert_eq!(verify(SHA512_ROUNDS, "rounds pw"), Ok(true));
    }

    #[test]
    fn nul_in_password_never_matches() {
        assert_eq!(verify(APR1, "s3cret!\0"), Ok(false));
        assert_eq!(verify(BCRYPT_2Y, "correct horse\0tail"), Ok(false));
        assert_eq!(
            hash_bcrypt("a\0b", 4, [0; 16]),
            Err(PasswordError::UnhashablePassword)
        );
    }

    #[test]
    fn hashing_round_trips_and_is_deterministic() {
        let salt = *b"0123456789abcdef";
        let h = hash_bcrypt("hunter2", 4, salt).unwrap();
        assert!(h.starts_with("$2y$04$"), "{h}");
        assert_eq!(h.len(), 60);
        assert_eq!(hash_bcrypt("hunter2", 4, salt).unwrap(), h);
        assert_ne!(hash_bcrypt("hunter2", 4, [7; 16]).unwrap(), h);
        assert_eq!(verify(&h, "hunter2"), Ok(true));
        assert_eq!(verify(&h, "hunter3"), Ok(false));
        assert_eq!(
            hash_bcrypt("x", 3, salt),
            Err(PasswordError::BadCost { cost: 3 })
        );
        assert_eq!(
            hash_bcrypt("x", 32, salt),
            Err(PasswordError::BadCost { cost: 32 })
        );
        // What the loader would refuse is never written.
        assert_eq!(
            hash_bcrypt("x", MAX_BCRYPT_COST + 1, salt),
            Err(PasswordError::BadCost {
                cost: MAX_BCRYPT_COST + 1
            })
        );
        assert_eq!(
            hash_bcrypt(&"x".repeat(73), 4, salt),
            Err(PasswordError::UnhashablePassword)
        );
        assert!(hash_bcrypt(&"x".repeat(72), 4, salt).is_ok());
    }

    #[test]
    fn the_worst_check_is_the_dearest_hash() {
        let cheap = hash_bcrypt("pw", 4, [1u8; 16]).unwrap();
        let dear = hash_bcrypt("pw", 6, [2u8; 16]).unwrap();
        let one = Htpasswd::parse(&format!("a:{cheap}\n")).unwrap();
        let two = Htpasswd::parse(&format!("a:{cheap}\nb:{dear}\n")).unwrap();
        assert_eq!(one.worst_check_micros(), 110 << 4);
        assert_eq!(two.worst_check_micros(), 110 << 6);
        assert_eq!(Htpasswd::parse("").unwrap().worst_check_micros(), 0);
    }

    #[test]
    fn a_cheap_entry_beside_dear_ones_answers_no_sooner_than_an_unknown_name() {
        // A legacy {SHA} user beside a bcrypt one: its check verifies the decoy too, so timing
        // does not tell that "legacy" exists (an unknown name costs the decoy as well).
        let dear = hash_bcrypt("pw", 8, [3u8; 16]).unwrap();
        let users = Htpasswd::parse(&format!("legacy:{SHA1}\nboss:{dear}\n")).unwrap();
        let time = |user: &str| {
            let started = std::time::Instant::now();
            let _ = users.check(user, "wrong");
            started.elapsed()
        };
        assert!(users.mixed_costs());
        // Half the decoy's cost or less pays the decoy too; more does not (it would then
        // answer slower than an unknown name by more than it was faster).
        let cost = |c: u32| hash_bcrypt("pw", c, [4u8; 16]).unwrap();
        assert!(pays_decoy(SHA1, &cost(8)) && pays_decoy(&cost(7), &cost(8)));
        assert!(!pays_decoy(&cost(8), &cost(8)) && !pays_decoy(&cost(6), &cost(6)));
        assert!(!pays_decoy("$6$rounds=5000$abc$", "$6$rounds=9000$abc$"));
        assert!(!Htpasswd::parse(&format!("boss:{dear}\nother:{dear}\n"))
            .unwrap()
            .mixed_costs());
        let unknown = time("nobody");
        let legacy = time("legacy");
        // bcrypt cost 8 takes tens of milliseconds; {SHA} alone a microsecond.
        assert!(unknown > std::time::Duration::from_millis(5), "{unknown:?}");
        assert!(
            legacy > unknown / 2,
            "legacy {legacy:?}, unknown {unknown:?}"
        );
        assert_eq!(users.check("legacy", "pässwörd"), Ok(true));
    }

    #[test]
    fn the_decoy_is_the_dearest_hash() {
        // Unknown users are checked against the decoy: a cheap first entry must not make
        // them faster than the users behind a bcrypt hash.
        let text =
            format!("a:{SHA1}\nb:{APR1}\nc:{BCRYPT_LONG}\nd:{BCRYPT_2Y}\ne:{SHA256_OPENSSL}\n");
        assert_eq!(
            Htpasswd::parse(&text).unwrap().decoy.as_deref(),
            Some(BCRYPT_2Y)
        );
        let text = format!("a:{SHA1}\nb:{SHA512_ROUNDS}\nc:{APR1}\n");
        assert_eq!(
            Htpasswd::parse(&text).unwrap().decoy.as_deref(),
            Some(SHA512_ROUNDS)
        );
        // As measured here: SHA-512-crypt 6000 rounds > bcrypt 5 > bcrypt 4 > SHA-256-crypt 5000
        // rounds > APR1 > {SHA}.
        assert!(work_estimate(SHA512_ROUNDS) > work_estimate(BCRYPT_2Y));
        assert!(work_estimate(BCRYPT_2Y) > work_estimate(BCRYPT_LONG));
        assert!(work_estimate(BCRYPT_LONG) > work_estimate(SHA256_OPENSSL));
        assert!(work_estimate(SHA256_OPENSSL) > work_estimate(APR1));
        assert!(work_estimate(APR1) > work_estimate(SHA1));
    }

    #[test]
    fn htpasswd_file() {
        let text = format!(
            "# users\nalice:{BCRYPT_2Y}\n\nbob:{APR1}\nsha:{SHA1}:extra field\ncarol:{SHA512_ROUNDS}\n"
        );
        let f = Htpasswd::parse(&text).unwrap();
        assert_eq!(f.len(), 4);
        assert_eq!(f.check("alice", "correct horse"), Ok(true));
        assert_eq!(f.check("alice", "s3cret!"), Ok(false));
        assert_eq!(f.check("bob", "s3cret!"), Ok(true));
        assert_eq!(f.check("sha", "pässwörd"), Ok(true));
        assert_eq!(f.check("carol", "rounds pw"), Ok(true));
        // Unknown users fail the same way, even with another user's password.
        assert_eq!(f.check("mallory", "correct horse"), Ok(false));
        assert_eq!(f.check("Alice", "correct horse"), Ok(false));
        assert_eq!(f.check("", ""), Ok(false));
        assert_eq!(Htpasswd::parse("").unwrap().check("a", "b"), Ok(false));
        assert!(Htpasswd::parse("# only comments\n").unwrap().is_empty());
    }

    #[test]
    fn htpasswd_errors() {
        assert_eq!(
            Htpasswd::parse("alice"),
            Err(PasswordError::BadLine { line: 1 })
        );
        assert_eq!(
            Htpasswd::parse(&format!("\n:{APR1}")),
            Err(PasswordError::BadLine { line: 2 })
        );
        assert_eq!(
            Htpasswd::parse(&format!("al\0ice:{APR1}")),
            Err(PasswordError::BadLine { line: 1 })
        );
        assert_eq!(
            Htpasswd::parse(&format!("a:{APR1}\rb:{APR1}")),
            Err(PasswordError::BadLine { line: 1 })
        );
        assert!(matches!(
            Htpasswd::parse("alice:plaintext"),
            Err(PasswordError::BadEntry { line: 1, .. })
        ));
        assert_eq!(
            Htpasswd::parse(&format!("a:{APR1}\na:{SHA1}")),
            Err(PasswordError::DuplicateUser {
                line: 2,
                user: "a".into()
            })
        );
    }
}
