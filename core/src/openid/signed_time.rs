//! The signed time in `return_to`: `oic.time=<t>-<sig>`, interoperable with Net::OpenID::Consumer.
//!
//! `t` is Unix seconds in decimal, `sig` the first 20 lowercase hex digits of
//! HMAC-SHA1(key = consumer secret, message = `t`). Older than an hour is
//! `time_expired`, more than 30 s ahead `time_in_future`, a wrong `sig`
//! `time_bad_sig` (compared in constant time). As in the seed, a missing or
//! unreadable value counts as time 0, hence `time_expired`.

use super::error::{ErrorCode, OpenIdError};
use crate::time::UnixTime;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;

/// The query parameter carrying the signed time.
pub const PARAM: &str = "oic.time";
/// How old a signed time may be, in seconds.
pub const MAX_AGE: i64 = 3600;
/// How far ahead of our clock a signed time may be (clock drift in a web farm), in seconds.
pub const MAX_AHEAD: i64 = 30;
/// The longest consumer secret accepted (the seed's limit).
pub const MAX_SECRET_BYTES: usize = 255;
/// The shortest consumer secret a site's configuration may hold: the secret keys the signed
/// time and the sealed login records, so a short one could be guessed offline from one
/// `return_to`. (The seed took any length; the CLI still verifies with a shorter one.)
pub const MIN_CONFIGURED_SECRET_BYTES: usize = 16;

/// The consumer secret that signs return_to times; never printed.
#[derive(Clone)]
pub struct ConsumerSecret {
    /// HMAC-SHA1 keyed once with the secret; cloned per use.
    keyed: Hmac<Sha1>,
    /// HMAC-SHA256 keyed with a key derived from the secret for sealing login records
    /// ([`ConsumerSecret::login_mac`]): never the oic.time key itself.
    login: Hmac<Sha256>,
}

/// What the login-record key is derived from (HMAC-SHA256 of this under the secret).
const LOGIN_KEY_LABEL: &[u8] = b"authrs openid login record key v1";

/// A consumer secret that is empty or longer than 255 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSecret(pub usize);

impl fmt::Display for BadSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "consumer secret must be 1 to 255 bytes, not {}", self.0)
    }
}

impl std::error::Error for BadSecret {}

impl fmt::Debug for ConsumerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConsumerSecret(..)")
    }
}

impl ConsumerSecret {
    /// Wraps secret bytes (1 to 255 of them, as the seed allows).
    pub fn new(bytes: &[u8]) -> Result<ConsumerSecret, BadSecret> {
        if bytes.is_empty() || bytes.len() > MAX_SECRET_BYTES {
            return Err(BadSecret(bytes.len()));
        }
        let keyed =
            <Hmac<Sha1> as KeyInit>::new_from_slice(bytes).map_err(|_| BadSecret(bytes.len()))?;
        let mut derive =
            <Hmac<Sha256> as KeyInit>::new_from_slice(bytes).map_err(|_| BadSecret(bytes.len()))?;
        derive.update(LOGIN_KEY_LABEL);
        let login = <Hmac<Sha256> as KeyInit>::new_from_slice(&derive.finalize().into_bytes())
            .map_err(|_| BadSecret(bytes.len()))?;
        Ok(ConsumerSecret { keyed, login })
    }

    /// A fresh HMAC-SHA256 under the login-record key (derived from the secret, distinct from
    /// the oic.time key): what seals a login's discovered endpoints into its state cookie.
    pub(crate) fn login_mac(&self) -> Hmac<Sha256> {
        self.login.clone()
    }

    /// The 20 hex digits for `t` (as written, e.g. `"1800000000"`).
    fn sig(&self, t: &str) -> String {
        self.sig_bytes(t).iter().copied().map(char::from).collect()
    }

    /// [`ConsumerSecret::sig`] as ASCII bytes, without allocating.
    fn sig_bytes(&self, t: &str) -> [u8; 20] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut mac = self.keyed.clone();
        mac.update(t.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut hex = [0u8; 20];
        for (pair, b) in hex.chunks_exact_mut(2).zip(&digest) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 15)];
        }
        hex
    }

    /// The `oic.time` value for `now`.
    pub fn sign(&self, now: UnixTime) -> String {
        let t = now.to_string();
        let sig = self.sig(&t);
        format!("{t}-{sig}")
    }

    /// Checks an `oic.time` value (None when absent) at `now`.
    pub fn verify(&self, value: Option<&str>, now: UnixTime) -> Result<(), OpenIdError> {
        let (t_text, sig) = value
            .unwrap_or_default()
            .split_once('-')
            .unwrap_or((value.unwrap_or_default(), ""));
        let t: UnixTime = if !t_text.is_empty()
            && t_text.len() <= 18
            && t_text.bytes().all(|b| b.is_ascii_digit())
        {
            t_text.parse().unwrap_or(0)
        } else {
            0
        };
        if t < now - MAX_AGE {
            return Err(ErrorCode::TimeExpired.into());
        }
        if t - MAX_AHEAD > now {
            return Err(ErrorCode::TimeInFuture.into());
        }
        let good = self.sig_bytes(t_text);
        if good.ct_eq(sig.as_bytes()).into() {
            Ok(())
        } else {
            Err(ErrorCode::TimeBadSig.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn secret() -> ConsumerSecret {
        ConsumerSecret::new(b"sekrit").unwrap()
    }

    fn code(v: Option<&str>) -> Option<&'static str> {
        secret().verify(v, NOW).err().map(|e| e.code())
    }

    #[test]
    fn interoperates_with_the_seed() {
        // perl -MDigest::SHA=hmac_sha1_hex -e 'print substr(hmac_sha1_hex("1800000000","sekrit"),0,20)'
        assert_eq!(secret().sign(NOW), "1800000000-f856b5149c9b1ba94798");
        assert_eq!(code(Some("1800000000-f856b5149c9b1ba94798")), None);
    }

    #[test]
    fn age_and_signature() {
        let s = secret();
        assert_eq!(s.verify(Some(&s.sign(NOW - 3600)), NOW), Ok(()));
        assert_eq!(code(Some(&s.sign(NOW - 3601))), Some("time_expired"));
        assert_eq!(s.verify(Some(&s.sign(NOW + 30)), NOW), Ok(()));
        assert_eq!(code(Some(&s.sign(NOW + 31))), Some("time_in_future"));
        assert_eq!(
            code(Some("1800000000-f856b5149c9b1ba94799")),
            Some("time_bad_sig")
        );
        assert_eq!(
            code(Some("1800000000-F856B5149C9B1BA94798")),
            Some("time_bad_sig")
        );
        assert_eq!(
            code(Some("1800000000-f856b5149c9b1ba9479")),
            Some("time_bad_sig")
        );
        assert_eq!(code(Some("1800000000")), Some("time_bad_sig"));
        // Another secret's signature.
        let other = ConsumerSecret::new(b"other").unwrap();
        assert_eq!(code(Some(&other.sign(NOW))), Some("time_bad_sig"));
    }

    #[test]
    fn missing_or_garbage_is_expired() {
        assert_eq!(code(None), Some("time_expired"));
        assert_eq!(code(Some("")), Some("time_expired"));
        assert_eq!(code(Some("abc-def")), Some("time_expired"));
        assert_eq!(code(Some("-1800000000-x")), Some("time_expired"));
        assert_eq!(
            code(Some("99999999999999999999999-x")),
            Some("time_expired")
        );
    }

    #[test]
    fn eighteen_digits_are_read_nineteen_are_garbage() {
        // Up to 18 digits are a time (here far ahead); more cannot be one (time 0).
        assert_eq!(code(Some("100000000000000000-x")), Some("time_in_future"));
        assert_eq!(code(Some("1000000000000000000-x")), Some("time_expired"));
    }

    #[test]
    fn secret_bounds_and_no_leak() {
        assert_eq!(ConsumerSecret::new(b"").unwrap_err(), BadSecret(0));
        assert_eq!(
            BadSecret(256).to_string(),
            "consumer secret must be 1 to 255 bytes, not 256"
        );
        assert!(ConsumerSecret::new(&[b'x'; 256]).is_err());
        assert!(ConsumerSecret::new(&[b'x'; 255]).is_ok());
        assert_eq!(format!("{:?}", secret()), "ConsumerSecret(..)");
    }
}
