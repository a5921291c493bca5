//! Diffie-Hellman for DH-SHA1 / DH-SHA256 association sessions (2.0 §8.4.2, Appendix B).
//!
//! Big integers come from `num-bigint`; the exponent is derived from random
//! bytes the shell supplies (the core has no RNG). Integers travel as
//! base64 of "btwoc": big-endian two's complement, a leading zero byte when
//! the high bit is set.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use num_bigint::BigUint;

/// The default modulus `p` of OpenID 2.0 Appendix B, in hex.
pub const DEFAULT_MODULUS_HEX: &str =
    "dcf93a0b883972ec0e19989ac5a2ce310e1d37717e8d9571bb7623731866e61e\
f75a2e27898b057f9891c2e27a639c3f29b60814581cd3b2ca3986d2683705577d45c2e7e52dc81c7a171876e5cea74b\
1448bfdfaf18828efd2519f14e45e3826634af1949e5b535cc829a483b8a76223e5d490a257f05bdff16f2fb22c583ab";
/// The default generator `g`.
pub const DEFAULT_GENERATOR: u32 = 2;
/// Fewest random bytes accepted for a private exponent.
pub const MIN_RANDOM_BYTES: usize = 32;

/// The relying party's half of one DH exchange.
#[derive(Clone)]
pub struct DhKey {
    modulus: BigUint,
    private: BigUint,
}

impl std::fmt::Debug for DhKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DhKey(..)")
    }
}

/// The default modulus as a big integer.
fn default_modulus() -> BigUint {
    // The constant is valid hex, so parsing cannot fail; fall back to 0 (every exchange then fails).
    BigUint::parse_bytes(DEFAULT_MODULUS_HEX.as_bytes(), 16).unwrap_or_default()
}

impl DhKey {
    /// A key for the default group from `random` (at least 32 bytes): x = random mod (p − 2) + 1.
    pub fn from_random(random: &[u8]) -> Option<DhKey> {
        if random.len() < MIN_RANDOM_BYTES {
            return None;
        }
        let modulus = default_modulus();
        let two = BigUint::from(2u32);
        if modulus <= two {
            return None;
        }
        let private = BigUint::from_bytes_be(random) % (&modulus - &two) + 1u32;
        Some(DhKey { modulus, private })
    }

    /// `dh_consumer_public`: base64(btwoc(g^x mod p)).
    pub fn public_base64(&self) -> String {
        let public = BigUint::from(DEFAULT_GENERATOR).modpow(&self.private, &self.modulus);
        STANDARD.encode(btwoc(&public))
    }

    /// btwoc(g^(xy) mod p) for the server's base64 public key; `None` if it is malformed or degenerate.
    pub fn shared_secret(&self, server_public_base64: &str) -> Option<Vec<u8>> {
        let bytes = STANDARD.decode(server_public_base64.trim()).ok()?;
        let y = BigUint::from_bytes_be(&bytes);
        // 1 < y < p - 1: refuse the keys that force a known shared secret.
        let one = BigUint::from(1u32);
        if y <= one || y >= &self.modulus - &one {
            return None;
        }
        Some(btwoc(&y.modpow(&self.private, &self.modulus)))
    }
}

/// Big-endian two's complement of a non-negative integer (a 0x00 prefix when the high bit is set).
pub fn btwoc(n: &BigUint) -> Vec<u8> {
    let mut b = n.to_bytes_be();
    if b.first().is_some_and(|f| f & 0x80 != 0) {
        b.insert(0, 0);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn btwoc_prefixes_high_bit() {
        assert_eq!(btwoc(&BigUint::from(0x7fu32)), vec![0x7f]);
        assert_eq!(btwoc(&BigUint::from(0x80u32)), vec![0x00, 0x80]);
        assert_eq!(btwoc(&BigUint::from(0x1234u32)), vec![0x12, 0x34]);
    }

    #[test]
    fn both_sides_agree() {
        let a = DhKey::from_random(&[1u8; 64]).unwrap();
        let b = DhKey::from_random(&[2u8; 64]).unwrap();
        let ab = a.shared_secret(&b.public_base64()).unwrap();
        let ba = b.shared_secret(&a.public_base64()).unwrap();
        assert_eq!(ab, ba);
        assert!(ab.len() >= 127);
    }

    #[test]
    fn degenerate_and_short_inputs_are_refused() {
        assert!(DhKey::from_random(&[1u8; 31]).is_none());
        let a = DhKey::from_random(&[1u8; 32]).unwrap();
        let p = default_modulus();
        for y in [
            BigUint::from(0u32),
            BigUint::from(1u32),
            &p - 1u32,
            p.clone(),
            &p + 1u32,
        ] {
            assert!(a.shared_secret(&STANDARD.encode(btwoc(&y))).is_none());
        }
        assert!(a.shared_secret("not base64!").is_none());
        assert_eq!(format!("{a:?}"), "DhKey(..)");
    }
}
