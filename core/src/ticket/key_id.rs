//! The key id a ticket names: 4 bytes on the wire, shown as 8 lowercase hex digits.

use std::fmt;

/// Bytes of the key id on the wire.
pub(super) const KID_LEN: usize = 4;

/// A ticket key id: the first 4 bytes of `SHA-256("authrs-ticket-key-id\0" ‖ secret)`.
///
/// `Copy` on purpose: verifying a ticket must not allocate for it. Displays
/// (and compares with strings) as 8 lowercase hex digits, the form people,
/// logs and `authrs ticket verify` see.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct KeyId(pub [u8; KID_LEN]);

impl KeyId {
    /// The id as 8 lowercase hex digits, without allocating.
    pub fn hex(&self) -> [u8; 2 * KID_LEN] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 2 * KID_LEN];
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = HEX[(b >> 4) as usize];
            out[2 * i + 1] = HEX[(b & 15) as usize];
        }
        out
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.hex();
        // Only ASCII hex digits were written, so this never falls back.
        f.write_str(std::str::from_utf8(&hex).unwrap_or("????????"))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl PartialEq<str> for KeyId {
    fn eq(&self, other: &str) -> bool {
        self.hex() == other.as_bytes()
    }
}

impl PartialEq<&str> for KeyId {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl PartialEq<String> for KeyId {
    fn eq(&self, other: &String) -> bool {
        *self == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_and_compares_as_lowercase_hex() {
        let id = KeyId([0xde, 0xad, 0x0b, 0xef]);
        assert_eq!(id.to_string(), "dead0bef");
        assert_eq!(format!("{id:?}"), "KeyId(dead0bef)");
        assert_eq!(id, "dead0bef");
        assert_ne!(id, "DEAD0BEF");
        assert_ne!(id, "dead0be");
        assert_ne!(id, "dead0bef0");
        assert_ne!(id, "");
        assert_eq!(KeyId::default().to_string(), "00000000");
    }
}
