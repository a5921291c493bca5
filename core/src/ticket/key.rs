//! Ticket keys and the key ring: the first key signs, every key verifies, so keys rotate without logging anyone out.

use std::fmt;

use base64::engine::general_purpose::{
    STANDARD, STANDARD_PAD_INDIFFERENT, URL_SAFE_NO_PAD, URL_SAFE_PAD_INDIFFERENT,
};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::key_id::{KeyId, KID_LEN};
use super::view::{TicketBuf, TicketRef};
use super::wire::{self, HEADER_LEN, MIN_PAYLOAD_LEN, TAG_LABEL, TAG_LABEL_BOUND, TAG_LEN};
use super::{Ticket, TicketError, MAX_COOKIE_LEN, TICKET_VERSION, TICKET_VERSION_BOUND};
use crate::time::UnixTime;

/// Shortest secret accepted (bytes): 256 bits, the HMAC-SHA256 output size.
pub const MIN_KEY_LEN: usize = 32;

/// Domain separation for the key id, so the id says nothing about any other use of the secret.
const KEY_ID_LABEL: &[u8] = b"authrs-ticket-key-id\0";
/// Largest decoded cookie: `MAX_COOKIE_LEN` base64 characters hold at most this many bytes.
const MAX_DECODED: usize = MAX_COOKIE_LEN / 4 * 3;

/// A mistake in the ticket key configuration (key files, JSON), found at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The secret is shorter than [`MIN_KEY_LEN`] bytes.
    TooShort {
        /// How many bytes it had.
        len: usize,
    },
    /// The key text is not base64 (standard or URL-safe, padded or not).
    BadBase64,
    /// A key ring needs at least one key.
    EmptyRing,
    /// Two keys in the ring have the same id (the same secret twice, or a 32-bit collision).
    DuplicateKeyId(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::TooShort { len } => write!(
                f,
                "ticket key is {len} bytes; at least {MIN_KEY_LEN} random bytes are needed"
            ),
            KeyError::BadBase64 => f.write_str("ticket key is not valid base64"),
            KeyError::EmptyRing => f.write_str("no ticket key configured"),
            KeyError::DuplicateKeyId(id) => write!(f, "ticket key {id} is listed twice"),
        }
    }
}

impl std::error::Error for KeyError {}

/// Why a ticket could not be minted (a caller's mistake, never a client's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MintError {
    /// The user name is empty, longer than 1024 bytes, or has control characters.
    BadUser,
    /// A role or scope is empty or has control characters.
    BadRole,
    /// `expires` is not after `issued`, or `last_seen` is before `issued`.
    BadTimes,
    /// The cookie would be longer than [`MAX_COOKIE_LEN`] (too many roles).
    TooLong,
}

impl fmt::Display for MintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MintError::BadUser => "user name is empty, too long or has control characters",
            MintError::BadRole => "a role or scope is empty or has control characters",
            MintError::BadTimes => "ticket times are inconsistent",
            MintError::TooLong => "ticket would exceed the cookie size limit",
        })
    }
}

impl std::error::Error for MintError {}

/// One ticket secret, held only as a pre-keyed HMAC state, with its derived id.
#[derive(Clone)]
pub struct TicketKey {
    id: [u8; KID_LEN],
    id_hex: String,
    // Keyed once; cloned per ticket (no re-keying cost). The tag label is fed per ticket in
    // the same update as the payload (see `open_inner`).
    mac: Hmac<Sha256>,
}

impl TicketKey {
    /// A key from raw secret bytes (at least [`MIN_KEY_LEN`]); its id derives from the secret alone,
    /// so the same key file gives the same id in every shell.
    pub fn new(secret: &[u8]) -> Result<TicketKey, KeyError> {
        if secret.len() < MIN_KEY_LEN {
            return Err(KeyError::TooShort { len: secret.len() });
        }
        let digest = Sha256::new()
            .chain_update(KEY_ID_LABEL)
            .chain_update(secret)
            .finalize();
        let mut id = [0u8; KID_LEN];
        id.copy_from_slice(&digest[..KID_LEN]);
        // HMAC takes keys of any length; the error arm is unreachable but kept typed.
        let mac = Hmac::<Sha256>::new_from_slice(secret)
            .map_err(|_| KeyError::TooShort { len: secret.len() })?;
        Ok(TicketKey {
            id,
            id_hex: KeyId(id).to_string(),
            mac,
        })
    }

    /// A key from base64 text as key files and JSON hold it (surrounding whitespace ignored;
    /// standard or URL-safe alphabet, padding optional).
    pub fn from_base64(text: &str) -> Result<TicketKey, KeyError> {
        let text = text.trim();
        let secret = STANDARD_PAD_INDIFFERENT
            .decode(text)
            .or_else(|_| URL_SAFE_PAD_INDIFFERENT.decode(text))
            .map_err(|_| KeyError::BadBase64)?;
        TicketKey::new(&secret)
    }

    /// The key id: 8 lowercase hex digits.
    pub fn id(&self) -> &str {
        &self.id_hex
    }
}

impl fmt::Debug for TicketKey {
    // Never prints the secret (or the HMAC state derived from it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketKey")
            .field("id", &self.id_hex)
            .finish_non_exhaustive()
    }
}

/// The key-file form of a secret: standard padded base64 (what `authrs genkey` writes).
pub fn encode_secret(secret: &[u8]) -> String {
    STANDARD.encode(secret)
}

/// Ticket keys: the first signs, all verify.
#[derive(Clone, Debug)]
pub struct KeyRing {
    keys: Vec<TicketKey>,
}

impl KeyRing {
    /// A ring of at least one key with distinct ids; `keys[0]` signs.
    pub fn new(keys: Vec<TicketKey>) -> Result<KeyRing, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::EmptyRing);
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.id == k.id) {
                return Err(KeyError::DuplicateKeyId(k.id_hex.clone()));
            }
        }
        Ok(KeyRing { keys })
    }

    /// A ring from text with one base64 key per line (or whitespace-separated); `#` starts a comment.
    pub fn from_base64_list(text: &str) -> Result<KeyRing, KeyError> {
        let keys = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .flat_map(str::split_whitespace)
            .map(TicketKey::from_base64)
            .collect::<Result<Vec<_>, _>>()?;
        KeyRing::new(keys)
    }

    /// The id of the key that signs new tickets.
    pub fn signing_key_id(&self) -> &str {
        // `new` refuses an empty ring, so there is a first key.
        self.keys.first().map_or("", |k| k.id())
    }

    /// The keys, signing key first.
    pub fn keys(&self) -> &[TicketKey] {
        &self.keys
    }

    /// Signs `t` with the first key and returns the cookie value of an unbound (version-1)
    /// ticket, valid under any cookie name; `version` and `key_id` are filled in.
    pub fn mint(&self, t: &Ticket) -> Result<String, MintError> {
        self.mint_inner(t, None)
    }

    /// Signs `t` as a version-2 ticket bound to `cookie_name`: it verifies only when read from
    /// a cookie of that name ([`KeyRing::verify_ref_for`]), so renaming it cannot carry a login
    /// from one realm's cookie to another's. What the engine mints.
    pub fn mint_for(&self, t: &Ticket, cookie_name: &str) -> Result<String, MintError> {
        self.mint_inner(t, Some(cookie_name))
    }

    fn mint_inner(&self, t: &Ticket, cookie_name: Option<&str>) -> Result<String, MintError> {
        // `new` refuses an empty ring; an empty one could only come from a bug.
        let key = self.keys.first().ok_or(MintError::TooLong)?;
        let mut buf = Vec::with_capacity(128);
        let mut mac = key.mac.clone();
        match cookie_name {
            None => {
                wire::encode(t, TICKET_VERSION, &key.id, &mut buf)?;
                mac.update(TAG_LABEL);
            }
            Some(name) => {
                wire::encode(t, TICKET_VERSION_BOUND, &key.id, &mut buf)?;
                let len = u16::try_from(name.len()).map_err(|_| MintError::TooLong)?;
                mac.update(TAG_LABEL_BOUND);
                mac.update(&len.to_be_bytes());
                mac.update(name.as_bytes());
            }
        }
        mac.update(&buf);
        buf.extend_from_slice(&mac.finalize().into_bytes());
        if base64::encoded_len(buf.len(), false).is_none_or(|n| n > MAX_COOKIE_LEN) {
            return Err(MintError::TooLong);
        }
        Ok(URL_SAFE_NO_PAD.encode(&buf))
    }

    /// Checks the cookie's signature and parses it, without looking at times or address
    /// (for `authrs inspect`; requests use [`KeyRing::verify`]). Unbound tickets only: a
    /// version-2 one is `BadSignature` here (use [`KeyRing::open_for`]).
    pub fn open(&self, cookie_value: &str) -> Result<Ticket, TicketError> {
        let mut buf = TicketBuf::new();
        self.open_ref(cookie_value, &mut buf).map(|t| t.to_ticket())
    }

    /// [`KeyRing::open`] for a value read from cookie `cookie_name`: an unbound ticket, or one
    /// bound to that name.
    pub fn open_for(&self, cookie_name: &str, cookie_value: &str) -> Result<Ticket, TicketError> {
        let mut buf = TicketBuf::new();
        self.open_inner(cookie_value, Some(cookie_name), &mut buf)
            .map(|t| t.to_ticket())
    }

    /// [`KeyRing::open`] without allocating: the ticket borrows from `buf`.
    pub fn open_ref<'b>(
        &self,
        cookie_value: &str,
        buf: &'b mut TicketBuf,
    ) -> Result<TicketRef<'b>, TicketError> {
        self.open_inner(cookie_value, None, buf)
    }

    fn open_inner<'b>(
        &self,
        cookie_value: &str,
        cookie_name: Option<&str>,
        buf: &'b mut TicketBuf,
    ) -> Result<TicketRef<'b>, TicketError> {
        if cookie_value.len() > MAX_COOKIE_LEN {
            return Err(TicketError::Malformed);
        }
        // A name too long for its length prefix was never minted for.
        let name = cookie_name.and_then(|n| Some((n, u16::try_from(n.len()).ok()?)));
        // `decoded_len_estimate` is an upper bound; `decode_slice` writes the exact length and
        // refuses padding and stray trailing bits (URL_SAFE_NO_PAD is strict). The bytes land
        // after room for what the tag covers before them (label, and the cookie name of a bound
        // ticket), so everything goes to the HMAC in one contiguous update: feeding the label
        // separately cost ~30 ns more per ticket, the partial block being copied through the
        // hasher's buffer.
        let front = TAG_LABEL.len() + name.map_or(0, |(n, _)| 2 + n.len());
        let input = cookie_value.as_bytes();
        let n = base64::decoded_len_estimate(input.len()).min(MAX_DECODED);
        let out = buf.prepare(front + n);
        let written = URL_SAFE_NO_PAD
            .decode_slice(input, &mut out[front..])
            .map_err(|_| TicketError::Malformed)?;
        if written < MIN_PAYLOAD_LEN + TAG_LEN {
            return Err(TicketError::Malformed);
        }
        let start = match (out[front], name) {
            (TICKET_VERSION, _) => {
                let start = front - TAG_LABEL.len();
                out[start..front].copy_from_slice(TAG_LABEL);
                start
            }
            (TICKET_VERSION_BOUND, Some((name, len))) => {
                let (label, rest) = out.split_at_mut(TAG_LABEL_BOUND.len());
                label.copy_from_slice(TAG_LABEL_BOUND);
                rest[..2].copy_from_slice(&len.to_be_bytes());
                rest[2..2 + name.len()].copy_from_slice(name.as_bytes());
                0
            }
            // Bound to a cookie name the caller does not know: it cannot be checked.
            (TICKET_VERSION_BOUND, None) => return Err(TicketError::BadSignature),
            _ => return Err(TicketError::Malformed),
        };
        let out: &'b [u8] = out;
        let (signed, tag) = out[start..front + written].split_at(front + written - start - TAG_LEN);
        let payload = &out[front..front + written - TAG_LEN];
        let kid = &payload[1..HEADER_LEN];
        let key = self
            .keys
            .iter()
            .find(|k| k.id[..] == *kid)
            .ok_or(TicketError::UnknownKey)?;
        let mut mac = key.mac.clone();
        mac.update(signed);
        // `verify_slice` compares in constant time.
        mac.verify_slice(tag)
            .map_err(|_| TicketError::BadSignature)?;
        // Only bytes we signed reach the parser.
        wire::parse(payload).ok_or(TicketError::Malformed)
    }

    /// Verifies a ticket cookie at `now`: signature, then lifetime, idle timeout and address binding.
    pub fn verify(
        &self,
        cookie_value: &str,
        now: UnixTime,
        peer: Option<std::net::IpAddr>,
        idle_timeout: Option<i64>,
    ) -> Result<Ticket, TicketError> {
        let mut buf = TicketBuf::new();
        self.checked(None, cookie_value, &mut buf, now, peer, idle_timeout)
            .map(|t| t.to_ticket())
    }

    /// [`KeyRing::verify`] without allocating: same checks, same errors; the ticket borrows from `buf`.
    pub fn verify_ref<'b>(
        &self,
        cookie_value: &str,
        buf: &'b mut TicketBuf,
        now: UnixTime,
        peer: Option<std::net::IpAddr>,
        idle_timeout: Option<i64>,
    ) -> Result<TicketRef<'b>, TicketError> {
        self.checked(None, cookie_value, buf, now, peer, idle_timeout)
    }

    /// [`KeyRing::verify`] for a value read from cookie `cookie_name`: an unbound ticket, or
    /// one bound to that name (a ticket bound to another name is `BadSignature`).
    pub fn verify_for(
        &self,
        cookie_name: &str,
        cookie_value: &str,
        now: UnixTime,
        peer: Option<std::net::IpAddr>,
        idle_timeout: Option<i64>,
    ) -> Result<Ticket, TicketError> {
        let mut buf = TicketBuf::new();
        self.checked(
            Some(cookie_name),
            cookie_value,
            &mut buf,
            now,
            peer,
            idle_timeout,
        )
        .map(|t| t.to_ticket())
    }

    /// [`KeyRing::verify_for`] without allocating: what the engine runs per request.
    pub fn verify_ref_for<'b>(
        &self,
        cookie_name: &str,
        cookie_value: &str,
        buf: &'b mut TicketBuf,
        now: UnixTime,
        peer: Option<std::net::IpAddr>,
        idle_timeout: Option<i64>,
    ) -> Result<TicketRef<'b>, TicketError> {
        self.checked(
            Some(cookie_name),
            cookie_value,
            buf,
            now,
            peer,
            idle_timeout,
        )
    }

    /// Signature (for `cookie_name`, if known), then times and address.
    fn checked<'b>(
        &self,
        cookie_name: Option<&str>,
        cookie_value: &str,
        buf: &'b mut TicketBuf,
        now: UnixTime,
        peer: Option<std::net::IpAddr>,
        idle_timeout: Option<i64>,
    ) -> Result<TicketRef<'b>, TicketError> {
        let t = self.open_inner(cookie_value, cookie_name, buf)?;
        t.check(now, peer, idle_timeout)?;
        Ok(t)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::identity::{AuthMethod, Roles};

    const NOW: UnixTime = 1_795_409_468;
    const SECRET_A: [u8; 32] = [7u8; 32];
    const SECRET_B: [u8; 40] = [42u8; 40];

    fn ring(secrets: &[&[u8]]) -> KeyRing {
        KeyRing::new(secrets.iter().map(|s| TicketKey::new(s).unwrap()).collect()).unwrap()
    }

    fn rich_ticket() -> Ticket {
        let mut t = Ticket::new("alice@example.org", AuthMethod::Cert, NOW, 3600);
        t.address = Some("192.0.2.7".parse().unwrap());
        t.roles = Some(Roles::from_list("admin:projectX,reader"));
        t
    }

    #[test]
    fn mint_then_verify() {
        let r = ring(&[&SECRET_A]);
        let cookie = r.mint(&rich_ticket()).unwrap();
        assert!(cookie
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let t = r
            .verify(
                &cookie,
                NOW + 10,
                Some("192.0.2.7".parse().unwrap()),
                Some(600),
            )
            .unwrap();
        assert_eq!(t.user, "alice@example.org");
        assert_eq!(t.key_id, r.signing_key_id());
        assert_eq!(t.version, TICKET_VERSION);
        assert_eq!(t.roles, rich_ticket().roles);
        assert_eq!(
            r.verify(&cookie, NOW, Some("192.0.2.8".parse().unwrap()), None),
            Err(TicketError::AddressMismatch)
        );
        assert_eq!(
            r.verify(&cookie, NOW + 3600, None, None).unwrap_err(),
            TicketError::Expired
        );
    }

    #[test]
    fn key_ids_are_deterministic_and_secret_free() {
        let a = TicketKey::new(&SECRET_A).unwrap();
        let again = TicketKey::from_base64(&format!("  {}\n", encode_secret(&SECRET_A))).unwrap();
        assert_eq!(a.id(), again.id());
        assert_eq!(a.id().len(), 8);
        assert_ne!(a.id(), TicketKey::new(&SECRET_B).unwrap().id());
        let dbg = format!("{a:?}");
        assert!(dbg.contains(a.id()) && !dbg.contains("7, 7"), "{dbg}");
        // URL-safe, unpadded key text is accepted too.
        assert_eq!(
            TicketKey::from_base64(&URL_SAFE_NO_PAD.encode(SECRET_A))
                .unwrap()
                .id(),
            a.id()
        );
    }

    #[test]
    fn bad_keys_are_refused() {
        assert_eq!(
            TicketKey::new(&[1u8; 31]).unwrap_err(),
            KeyError::TooShort { len: 31 }
        );
        assert_eq!(
            TicketKey::from_base64("not base64!").unwrap_err(),
            KeyError::BadBase64
        );
        assert_eq!(
            TicketKey::from_base64("c2hvcnQ=").unwrap_err(),
            KeyError::TooShort { len: 5 }
        );
        assert_eq!(KeyRing::new(vec![]).unwrap_err(), KeyError::EmptyRing);
        let k = TicketKey::new(&SECRET_A).unwrap();
        assert!(matches!(
            KeyRing::new(vec![k.clone(), k]),
            Err(KeyError::DuplicateKeyId(_))
        ));
        let list = format!(
            "# current\n{}\n{} # old\n",
            encode_secret(&SECRET_B),
            encode_secret(&SECRET_A)
        );
        let r = KeyRing::from_base64_list(&list).unwrap();
        assert_eq!(r.signing_key_id(), TicketKey::new(&SECRET_B).unwrap().id());
        assert_eq!(r.keys().len(), 2);
        assert_eq!(
            KeyRing::from_base64_list("# nothing\n").unwrap_err(),
            KeyError::EmptyRing
        );
    }

    /// Key errors stop the server at load: the message must say what is wrong with the key.
    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(
            KeyError::TooShort { len: 31 }.to_string(),
            "ticket key is 31 bytes; at least 32 random bytes are needed"
        );
        assert_eq!(
            MintError::TooLong.to_string(),
            "ticket would exceed the cookie size limit"
        );
    }

    #[test]
    fn rotation_without_logout() {
        let old = ring(&[&SECRET_A]);
        let rotated = ring(&[&SECRET_B, &SECRET_A]);
        let old_cookie = old.mint(&rich_ticket()).unwrap();
        assert!(rotated.open(&old_cookie).is_ok());
        let new_cookie = rotated.mint(&rich_ticket()).unwrap();
        assert_eq!(
            rotated.open(&new_cookie).unwrap().key_id,
            rotated.signing_key_id()
        );
        // The old key dropped: its tickets are unknown, not forged.
        assert_eq!(
            ring(&[&SECRET_B]).open(&old_cookie),
            Err(TicketError::UnknownKey)
        );
        assert_eq!(old.open(&new_cookie), Err(TicketError::UnknownKey));
    }

    #[test]
    fn forged_with_another_secret_under_a_known_id() {
        // Same id bytes, wrong secret: re-sign the payload with a different key.
        let r = ring(&[&SECRET_A]);
        let raw = URL_SAFE_NO_PAD
            .decode(r.mint(&rich_ticket()).unwrap())
            .unwrap();
        let payload = &raw[..raw.len() - TAG_LEN];
        let mut mac = Hmac::<Sha256>::new_from_slice(&SECRET_B).unwrap();
        mac.update(TAG_LABEL);
        mac.update(payload);
        let mut forged = payload.to_vec();
        forged.extend_from_slice(&mac.finalize().into_bytes());
        assert_eq!(
            r.open(&URL_SAFE_NO_PAD.encode(forged)),
            Err(TicketError::BadSignature)
        );
        // An HMAC without the label (a tag made for another purpose) does not pass either.
        let mut mac = Hmac::<Sha256>::new_from_slice(&SECRET_A).unwrap();
        mac.update(payload);
        let mut other = payload.to_vec();
        other.extend_from_slice(&mac.finalize().into_bytes());
        assert_eq!(
            r.open(&URL_SAFE_NO_PAD.encode(other)),
            Err(TicketError::BadSignature)
        );
    }

    #[test]
    fn tampering_any_character_fails() {
        let r = ring(&[&SECRET_A]);
        let cookie = r.mint(&rich_ticket()).unwrap();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/. ";
        for i in 0..cookie.len() {
            for &c in alphabet {
                let mut b = cookie.clone().into_bytes();
                if b[i] == c {
                    continue;
                }
                b[i] = c;
                let s = String::from_utf8(b).unwrap();
                let got = r.verify(&s, NOW, Some("192.0.2.7".parse().unwrap()), None);
                // Characters 1..=7 carry the key id bytes: UnknownKey is right there.
                let ok = match got {
                    Err(TicketError::Malformed | TicketError::BadSignature) => true,
                    Err(TicketError::UnknownKey) => i <= 7,
                    _ => false,
                };
                assert!(ok, "position {i} -> {:?}: {got:?}", c as char);
            }
        }
        // Flipping any bit of the decoded bytes fails too.
        let raw = URL_SAFE_NO_PAD.decode(&cookie).unwrap();
        for i in 0..raw.len() {
            for bit in 0..8 {
                let mut b = raw.clone();
                b[i] ^= 1 << bit;
                assert!(
                    r.open(&URL_SAFE_NO_PAD.encode(&b)).is_err(),
                    "byte {i} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn encoding_variants_are_refused() {
        let r = ring(&[&SECRET_A]);
        let cookie = r.mint(&rich_ticket()).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(&cookie).unwrap();
        assert_eq!(
            r.open(&STANDARD.encode(&raw)).is_ok(),
            !STANDARD.encode(&raw).contains(['+', '/', '='])
        );
        assert_eq!(
            r.open(&URL_SAFE_PAD_INDIFFERENT.encode(&raw)).is_ok(),
            raw.len() % 3 == 0
        );
        for bad in [
            format!("{cookie}="),
            format!("{cookie}=="),
            format!(" {cookie}"),
            format!("{cookie}\n"),
            format!("\"{cookie}\""),
            format!("{cookie}%00"),
            cookie.replace('-', "+").replace('_', "/")
                + if cookie.contains(['-', '_']) { "" } else { "!" },
            String::new(),
            "A".into(),
        ] {
            assert!(r.open(&bad).is_err(), "{bad:?}");
        }
        // An unknown version byte is malformed before any key lookup.
        let mut v3 = raw.clone();
        v3[0] = 3;
        assert_eq!(
            r.open(&URL_SAFE_NO_PAD.encode(&v3)),
            Err(TicketError::Malformed)
        );
        assert_eq!(
            r.open_for("AuthRs_X", &URL_SAFE_NO_PAD.encode(&v3)),
            Err(TicketError::Malformed)
        );
    }

    #[test]
    fn large_tickets_verify_too() {
        // Past the stack buffer, decoding moves to the heap; same result.
        let r = ring(&[&SECRET_A]);
        let mut t = rich_ticket();
        let list = (0..60)
            .map(|i| format!("role{i}:scope{i}"))
            .collect::<Vec<_>>();
        t.roles = Some(Roles::from_list(&list.join(",")));
        let cookie = r.mint(&t).unwrap();
        assert!(
            cookie.len() > super::super::view::SMALL * 4 / 3 + 4,
            "{}",
            cookie.len()
        );
        let back = r.open(&cookie).unwrap();
        assert_eq!(back.roles, t.roles);
        assert_eq!(back.key_id, r.signing_key_id());
        let mut bad = cookie.into_bytes();
        bad[super::super::view::SMALL * 2] ^= 1;
        let bad = String::from_utf8(bad).unwrap();
        assert!(r.open(&bad).is_err());
    }

    #[test]
    fn non_canonical_tails_are_refused() {
        // Stray trailing bits decode to the very same bytes, so the tag would
        // match: only the decoder's strictness keeps the encoding canonical.
        let r = ring(&[&SECRET_A]);
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut tails = [false; 4];
        for user in ["a", "ab", "abc", "abcd"] {
            let t = Ticket::new(user, AuthMethod::Password, NOW, 60);
            let cookie = r.mint(&t).unwrap();
            tails[cookie.len() % 4] = true;
            let mut accepted = 0;
            for &c in alphabet {
                let mut b = cookie.clone().into_bytes();
                *b.last_mut().unwrap() = c;
                let s = String::from_utf8(b).unwrap();
                match r.open(&s) {
                    Ok(_) => {
                        accepted += 1;
                        assert_eq!(s, cookie);
                    }
                    Err(e) => assert!(
                        matches!(e, TicketError::Malformed | TicketError::BadSignature),
                        "{e:?}"
                    ),
                }
            }
            assert_eq!(accepted, 1, "{user}");
        }
        assert!(tails[2] && tails[3], "both partial-group lengths covered");
    }

    #[test]
    fn huge_cookie_is_refused() {
        let r = ring(&[&SECRET_A]);
        let huge = "A".repeat(10 * 1024 * 1024);
        assert_eq!(
            r.verify(&huge, NOW, None, None),
            Err(TicketError::Malformed)
        );
        assert_eq!(
            r.open(&"A".repeat(MAX_COOKIE_LEN + 1)),
            Err(TicketError::Malformed)
        );
        // Exactly at the limit decodes (and then fails on its content, not a panic).
        assert!(r.open(&"A".repeat(MAX_COOKIE_LEN)).is_err());
    }

    /// Mint and verify share one inclusive cap: a cookie of exactly [`MAX_COOKIE_LEN`] characters
    /// is minted and verifies, one byte more is refused at minting (never handed to a browser
    /// that the verifier would then refuse).
    #[test]
    fn cookie_length_cap_is_exact_on_both_sides() {
        let r = ring(&[&SECRET_A]);
        let mut t = Ticket::new("a", AuthMethod::Password, NOW, 60);
        // About 2.5 KiB of roles; the user name's length then tunes the cookie to the byte.
        let list = (0..280).map(|i| format!("r{i:04}")).collect::<Vec<_>>();
        t.roles = Some(Roles::from_list(&list.join(",")));
        let at_limit = (1..=super::super::MAX_USER_LEN)
            .find_map(|n| {
                t.user = "u".repeat(n);
                r.mint(&t).ok().filter(|c| c.len() == MAX_COOKIE_LEN)
            })
            .unwrap();
        assert_eq!(r.verify(&at_limit, NOW, None, None).unwrap().user, t.user);
        t.user.push('u');
        assert_eq!(r.mint(&t), Err(MintError::TooLong));
    }

    #[test]
    fn user_names_cannot_forge_fields() {
        let r = ring(&[&SECRET_A]);
        let t = Ticket::new("eve|cert|0|9999999999", AuthMethod::Password, NOW, 60);
        let back = r.open(&r.mint(&t).unwrap()).unwrap();
        assert_eq!(back.user, "eve|cert|0|9999999999");
        assert_eq!(back.method, AuthMethod::Password);
        assert_eq!(back.expires, NOW + 60);
        for user in ["eve\0admin", "eve\r\nX-Authrs-User: root", "\u{1b}[31m"] {
            let t = Ticket::new(user, AuthMethod::Password, NOW, 60);
            assert_eq!(r.mint(&t), Err(MintError::BadUser));
        }
        let mut t = Ticket::new("a", AuthMethod::Password, NOW, 60);
        t.roles = Some(Roles::from_list(
            &(0..2000)
                .map(|i| format!("role{i}"))
                .collect::<Vec<_>>()
                .join(","),
        ));
        assert_eq!(r.mint(&t), Err(MintError::TooLong));
    }

    #[test]
    fn sliding_refresh_round_trip() {
        let r = ring(&[&SECRET_A]);
        let t = Ticket::new("alice", AuthMethod::Password, NOW, 8 * 3600);
        let c1 = r.mint(&t).unwrap();
        let seen = r.verify(&c1, NOW + 400, None, Some(600)).unwrap();
        assert!(super::super::needs_refresh(
            &seen,
            NOW + 400,
            Some(600),
            0.5
        ));
        let c2 = r.mint(&seen.refreshed(NOW + 400)).unwrap();
        assert_eq!(
            r.verify(&c1, NOW + 700, None, Some(600)),
            Err(TicketError::Idle)
        );
        assert_eq!(
            r.verify(&c2, NOW + 700, None, Some(600)).unwrap().issued,
            NOW
        );
    }

    #[test]
    fn bound_tickets_verify_only_under_their_cookie_name() {
        let r = ring(&[&SECRET_A]);
        let t = rich_ticket();
        let peer = Some("192.0.2.7".parse().unwrap());
        let bound = r.mint_for(&t, "AuthRs_Users").unwrap();
        let got = r
            .verify_for("AuthRs_Users", &bound, NOW, peer, None)
            .unwrap();
        assert_eq!(got.version, TICKET_VERSION_BOUND);
        assert_eq!(
            (got.user.as_str(), got.roles.as_ref()),
            ("alice@example.org", t.roles.as_ref())
        );
        // Renamed into another realm's cookie, or read by a caller that does not say which
        // cookie it came from: the tag does not match.
        for other in [
            "AuthRs_Admins",
            "AuthRs_User",
            "AuthRs_Users ",
            "authrs_users",
            "",
        ] {
            assert_eq!(
                r.verify_for(other, &bound, NOW, peer, None),
                Err(TicketError::BadSignature),
                "{other:?}"
            );
        }
        assert_eq!(
            r.verify(&bound, NOW, peer, None),
            Err(TicketError::BadSignature)
        );
        assert_eq!(r.open(&bound), Err(TicketError::BadSignature));
        assert_eq!(r.open_for("AuthRs_Users", &bound).unwrap().user, t.user);
        // Version-1 tickets (earlier builds, `authrs ticket mint`) verify under any name.
        let unbound = r.mint(&t).unwrap();
        assert_eq!(
            r.verify_for("AuthRs_Admins", &unbound, NOW, peer, None)
                .unwrap()
                .version,
            TICKET_VERSION
        );
        // The version byte selects what the tag covers: flipping it breaks the tag both ways.
        for (cookie, version) in [(&bound, TICKET_VERSION), (&unbound, TICKET_VERSION_BOUND)] {
            let mut raw = URL_SAFE_NO_PAD.decode(cookie).unwrap();
            raw[0] = version;
            assert_eq!(
                r.verify_for(
                    "AuthRs_Users",
                    &URL_SAFE_NO_PAD.encode(&raw),
                    NOW,
                    peer,
                    None
                ),
                Err(TicketError::BadSignature)
            );
        }
    }

    #[test]
    fn bound_tag_covers_label_name_and_payload() {
        // The format, computed independently: HMAC(secret, "authrs-ticket-v2\0" ‖ u16 len ‖ name ‖ payload).
        let r = ring(&[&SECRET_A]);
        let cookie = r.mint_for(&rich_ticket(), "__Host-sso").unwrap();
        let raw = URL_SAFE_NO_PAD.decode(&cookie).unwrap();
        let (payload, tag) = raw.split_at(raw.len() - TAG_LEN);
        assert_eq!(payload[0], 2);
        let mut mac = Hmac::<Sha256>::new_from_slice(&SECRET_A).unwrap();
        mac.update(b"authrs-ticket-v2\0");
        mac.update(&10u16.to_be_bytes());
        mac.update(b"__Host-sso");
        mac.update(payload);
        assert_eq!(mac.finalize().into_bytes().as_slice(), tag);
    }

    #[test]
    fn long_cookie_names_bind_too() {
        let r = ring(&[&SECRET_A]);
        let t = rich_ticket();
        // Past the stack buffer (label, name and payload do not fit): the heap path.
        let long = "n".repeat(400);
        let bound = r.mint_for(&t, &long).unwrap();
        assert!(r.open_for(&long, &bound).is_ok());
        assert_eq!(
            r.open_for(&long[1..], &bound),
            Err(TicketError::BadSignature)
        );
        // A name too long for its length prefix is never minted for, and nothing verifies
        // bound to it (an unbound ticket still does).
        let huge = "n".repeat(usize::from(u16::MAX) + 1);
        assert_eq!(r.mint_for(&t, &huge), Err(MintError::TooLong));
        assert_eq!(r.open_for(&huge, &bound), Err(TicketError::BadSignature));
        assert!(r.open_for(&huge, &r.mint(&t).unwrap()).is_ok());
    }
}
