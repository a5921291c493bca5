//! Associations (2.0 §8): types, the seed's `assoc_options`, and establishment as request + parser.
//!
//! Session and association types are chosen as Net::OpenID::Consumer does:
//! defaults DH-SHA1 / HMAC-SHA1; `max_encrypt` picks the strongest for the
//! protocol version (DH-SHA256 / HMAC-SHA256 under 2.0); and
//! `session_no_encrypt_https` picks no-encryption when the endpoint is
//! https, overriding `max_encrypt`. An unencrypted session over plain http
//! is refused, except under 1.x with `allow_eavesdropping` — including a 1.x
//! provider answering a DH request in the clear, which the seed let through.
//! Any failure here is not an error for the user: the relying party goes on
//! statelessly (check_authentication), as the seed does.

use super::dh::DhKey;
use super::http::{FetchLimits, HttpRequest, HttpResponse};
use super::kv;
use super::message::{Version, NS_2_0};
use crate::time::UnixTime;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;
use url::Url;

/// Longest association lifetime accepted (two years, as the seed).
pub const MAX_EXPIRES_IN: i64 = 63_072_000;

/// Longest an association is kept and used, whatever lifetime the provider grants (14 days,
/// python-openid's default): a MAC key learnt by someone on the path to a plain-http provider
/// stops working after that, not after the two years a provider may announce.
pub const MAX_KEPT: i64 = 14 * 24 * 3600;

/// The MAC of an association.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum AssocType {
    /// HMAC-SHA1, 20-byte secret.
    #[serde(rename = "HMAC-SHA1")]
    HmacSha1,
    /// HMAC-SHA256, 32-byte secret (2.0 only).
    #[serde(rename = "HMAC-SHA256")]
    HmacSha256,
}

impl AssocType {
    /// The wire name, `HMAC-SHA1` or `HMAC-SHA256`.
    pub fn name(self) -> &'static str {
        match self {
            AssocType::HmacSha1 => "HMAC-SHA1",
            AssocType::HmacSha256 => "HMAC-SHA256",
        }
    }

    /// Parses a wire name valid for `version` (1.x knows only HMAC-SHA1).
    pub fn from_name(name: &str, version: Version) -> Option<AssocType> {
        match name {
            "HMAC-SHA1" => Some(AssocType::HmacSha1),
            "HMAC-SHA256" if version == Version::V2 => Some(AssocType::HmacSha256),
            _ => None,
        }
    }

    /// The secret's length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            AssocType::HmacSha1 => 20,
            AssocType::HmacSha256 => 32,
        }
    }
}

/// How the association secret travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum SessionType {
    /// In the clear (only over https, or 1.x with `allow_eavesdropping`).
    #[serde(rename = "no-encryption")]
    NoEncryption,
    /// Encrypted with a DH secret hashed by SHA-1.
    #[serde(rename = "DH-SHA1")]
    DhSha1,
    /// Encrypted with a DH secret hashed by SHA-256 (2.0 only).
    #[serde(rename = "DH-SHA256")]
    DhSha256,
}

impl SessionType {
    /// The wire name for `version` (1.x spells no-encryption as nothing at all).
    pub fn name(self, version: Version) -> &'static str {
        match (self, version) {
            (SessionType::NoEncryption, Version::V1) => "",
            (SessionType::NoEncryption, Version::V2) => "no-encryption",
            (SessionType::DhSha1, _) => "DH-SHA1",
            (SessionType::DhSha256, _) => "DH-SHA256",
        }
    }

    /// Parses a wire name valid for `version`.
    pub fn from_name(name: &str, version: Version) -> Option<SessionType> {
        match (name, version) {
            ("", Version::V1) | ("no-encryption", Version::V2) => Some(SessionType::NoEncryption),
            ("DH-SHA1", _) => Some(SessionType::DhSha1),
            ("DH-SHA256", Version::V2) => Some(SessionType::DhSha256),
            _ => None,
        }
    }

    /// The hash output length, or `None` for no-encryption (fits any association type).
    fn hash_len(self) -> Option<usize> {
        match self {
            SessionType::NoEncryption => None,
            SessionType::DhSha1 => Some(20),
            SessionType::DhSha256 => Some(32),
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            SessionType::NoEncryption => Vec::new(),
            SessionType::DhSha1 => Sha1::digest(data).to_vec(),
            SessionType::DhSha256 => Sha256::digest(data).to_vec(),
        }
    }
}

/// A shared secret with one provider, under one handle.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Association {
    /// The OP endpoint URL it was made with.
    pub server: String,
    /// The provider's handle (1–255 printable ASCII characters).
    pub handle: String,
    /// The MAC key.
    #[serde(deserialize_with = "secret_from_base64")]
    pub secret: Vec<u8>,
    /// HMAC-SHA1 or HMAC-SHA256.
    #[serde(rename = "type")]
    pub assoc_type: AssocType,
    /// Unix time after which it is expired.
    pub expiry: UnixTime,
}

fn secret_from_base64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let s = String::deserialize(d)?;
    STANDARD.decode(s.trim()).map_err(serde::de::Error::custom)
}

impl fmt::Debug for Association {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Association")
            .field("server", &self.server)
            .field("handle", &self.handle)
            .field("assoc_type", &self.assoc_type)
            .field("expiry", &self.expiry)
            .finish_non_exhaustive()
    }
}

/// Seconds of life an association must have left to be used for a new login (the user may
/// take minutes at the provider); a younger one makes a new association.
pub const MIN_REMAINING: i64 = 600;

impl Association {
    /// True once `now` is past the expiry (the seed's `expired`).
    pub fn expired(&self, now: UnixTime) -> bool {
        now > self.expiry
    }

    /// Fit for a new request: a well-formed handle, a secret of the right length, and
    /// [`MIN_REMAINING`] seconds of life left for the user to log in at the provider.
    pub fn usable(&self, now: UnixTime) -> bool {
        valid_handle(&self.handle)
            && self.secret.len() == self.assoc_type.key_len()
            && !self.expired(now.saturating_add(MIN_REMAINING))
    }

    /// The JSON record of the CLI's `--associations` list (secret in base64), for stores that
    /// hold bytes: httpd's socache, Envoy's shared data, the CLI's state directory.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "server": self.server,
            "handle": self.handle,
            "secret": STANDARD.encode(&self.secret),
            "type": self.assoc_type.name(),
            "expiry": self.expiry,
        })
        .to_string()
    }

    /// Reads a [`Association::to_json`] record; `None` for anything else (a damaged store entry
    /// is treated as absent, so verification falls back to check_authentication).
    pub fn from_json(bytes: &[u8]) -> Option<Association> {
        serde_json::from_slice(bytes).ok()
    }

    /// base64 of the HMAC of `token` (the key-value form of the signed fields).
    pub fn signature(&self, token: &[u8]) -> String {
        let mac = match self.assoc_type {
            AssocType::HmacSha1 => hmac_bytes::<Hmac<Sha1>>(&self.secret, token),
            AssocType::HmacSha256 => hmac_bytes::<Hmac<Sha256>>(&self.secret, token),
        };
        STANDARD.encode(mac)
    }

    /// Whether `sig` is [`Association::signature`] of `token`, compared in constant time (no allocation).
    pub fn signature_matches(&self, token: &[u8], sig: &[u8]) -> bool {
        let mut buf = [0u8; 64];
        let n = match self.assoc_type {
            AssocType::HmacSha1 => hmac_base64::<Hmac<Sha1>>(&self.secret, token, &mut buf),
            AssocType::HmacSha256 => hmac_base64::<Hmac<Sha256>>(&self.secret, token, &mut buf),
        };
        // Lengths are public (fixed per type); the bytes are compared in constant time.
        n > 0 && bool::from(buf[..n].ct_eq(sig))
    }
}

/// base64 of the HMAC into `out`; its length (0 if it could not be written).
fn hmac_base64<M: Mac + KeyInit>(key: &[u8], data: &[u8], out: &mut [u8; 64]) -> usize {
    // HMAC takes keys of any length: new_from_slice cannot fail.
    let Ok(mut m) = <M as KeyInit>::new_from_slice(key) else {
        return 0;
    };
    m.update(data);
    STANDARD
        .encode_slice(m.finalize().into_bytes(), out)
        .unwrap_or(0)
}

fn hmac_bytes<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: new_from_slice cannot fail.
    match <M as KeyInit>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// A handle the spec allows: 1 to 255 characters in 0x21–0x7E.
pub fn valid_handle(h: &str) -> bool {
    (1..=255).contains(&h.len()) && h.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// The seed's `assoc_options`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssocOptions {
    /// Association type when not overridden (default HMAC-SHA1).
    pub assoc_type: AssocType,
    /// Session type when not overridden (default DH-SHA1).
    pub session_type: SessionType,
    /// Strongest session and association type of the protocol version.
    pub max_encrypt: bool,
    /// No-encryption session when the endpoint is https (overrides `max_encrypt`).
    pub session_no_encrypt_https: bool,
    /// 1.x only: allow an unencrypted session over plain http.
    pub allow_eavesdropping: bool,
}

impl Default for AssocOptions {
    fn default() -> Self {
        AssocOptions {
            assoc_type: AssocType::HmacSha1,
            session_type: SessionType::DhSha1,
            max_encrypt: false,
            session_no_encrypt_https: false,
            allow_eavesdropping: false,
        }
    }
}

/// Why no association was made (the relying party then goes stateless).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssocError {
    /// The chosen types do not exist for the protocol version.
    UnsupportedType(String),
    /// The session's hash length does not fit the association type.
    IncompatibleSessionType,
    /// An unencrypted session over plain http.
    HttpsRequired,
    /// Fewer than 32 random bytes for the DH exponent.
    ShortRandom,
    /// The endpoint URL may not be fetched.
    Refused(String),
    /// No answer, or an error status without a usable suggestion.
    Http(u16),
    /// The answer is malformed or does not match the request.
    BadResponse(String),
}

impl fmt::Display for AssocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssocError::UnsupportedType(t) => write!(f, "unsupported association type {t}"),
            AssocError::IncompatibleSessionType => {
                f.write_str("session type does not fit association type")
            }
            AssocError::HttpsRequired => f.write_str("unencrypted association needs https"),
            AssocError::ShortRandom => f.write_str("too few random bytes for DH"),
            AssocError::Refused(e) => write!(f, "association refused: {e}"),
            AssocError::Http(s) => write!(f, "association failed with HTTP status {s}"),
            AssocError::BadResponse(e) => write!(f, "bad association response: {e}"),
        }
    }
}

impl std::error::Error for AssocError {}

/// An association request on its way; feed it the response.
#[derive(Debug, Clone)]
pub struct PendingAssociation {
    server: Url,
    version: Version,
    assoc_type: AssocType,
    session_type: SessionType,
    options: AssocOptions,
    limits: FetchLimits,
    dh: Option<DhKey>,
    retried: bool,
}

/// What an association response led to.
#[derive(Debug)]
pub enum AssocStep {
    /// Store it and use its handle in check_url.
    Done(Association),
    /// The provider suggested other types (2.0 `unsupported-type`): perform this request.
    Retry(HttpRequest, PendingAssociation),
    /// No association; continue statelessly.
    Failed(AssocError),
}

/// Describes an associate request to `server`; `random` (32+ bytes) seeds the DH exponent.
pub fn associate(
    server: &Url,
    version: Version,
    options: &AssocOptions,
    limits: &FetchLimits,
    random: &[u8],
) -> Result<(HttpRequest, PendingAssociation), AssocError> {
    let https = server.scheme() == "https";
    let (mut session_type, mut assoc_type) = (options.session_type, options.assoc_type);
    if options.max_encrypt {
        (session_type, assoc_type) = match version {
            Version::V1 => (SessionType::DhSha1, AssocType::HmacSha1),
            Version::V2 => (SessionType::DhSha256, AssocType::HmacSha256),
        };
    }
    if options.session_no_encrypt_https && https {
        session_type = SessionType::NoEncryption;
    }
    let dh = DhKey::from_random(random).ok_or(AssocError::ShortRandom)?;
    let pending = PendingAssociation {
        server: server.clone(),
        version,
        assoc_type,
        session_type,
        options: *options,
        limits: *limits,
        dh: Some(dh),
        retried: false,
    };
    pending.request()
}

impl PendingAssociation {
    /// Checks the types against the version and transport, then describes the POST.
    fn request(mut self) -> Result<(HttpRequest, PendingAssociation), AssocError> {
        let (v, s, a) = (self.version, self.session_type, self.assoc_type);
        if AssocType::from_name(a.name(), v).is_none() {
            return Err(AssocError::UnsupportedType(a.name().into()));
        }
        if SessionType::from_name(s.name(v), v).is_none() {
            return Err(AssocError::UnsupportedType(s.name(v).into()));
        }
        if s.hash_len().is_some_and(|n| n != a.key_len()) {
            return Err(AssocError::IncompatibleSessionType);
        }
        if s == SessionType::NoEncryption && !self.transport_may_be_clear() {
            return Err(AssocError::HttpsRequired);
        }
        self.limits
            .permits(&self.server)
            .map_err(AssocError::Refused)?;
        if s == SessionType::NoEncryption {
            self.dh = None;
        }
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if v == Version::V2 {
            pairs.push(("openid.ns", NS_2_0.into()));
        }
        pairs.push(("openid.mode", "associate".into()));
        pairs.push(("openid.assoc_type", a.name().into()));
        if !s.name(v).is_empty() {
            pairs.push(("openid.session_type", s.name(v).into()));
        }
        if let Some(dh) = &self.dh {
            pairs.push(("openid.dh_consumer_public", dh.public_base64()));
        }
        let request = self
            .limits
            .post_form(&self.server, pairs.iter().map(|(k, v)| (*k, v.as_str())));
        Ok((request, self))
    }

    /// Clear secrets only over https, or under 1.x when eavesdropping is allowed.
    fn transport_may_be_clear(&self) -> bool {
        self.server.scheme() == "https"
            || (self.version == Version::V1 && self.options.allow_eavesdropping)
    }

    /// Reads the provider's answer, received at `now`.
    pub fn on_response(self, response: HttpResponse, now: UnixTime) -> AssocStep {
        let fields = match kv::parse(&response.body) {
            Ok(f) => f,
            Err(e) if response.is_success() => {
                return AssocStep::Failed(AssocError::BadResponse(e.to_string()))
            }
            Err(_) => Vec::new(),
        };
        let get = |k: &str| kv::get(&fields, k);
        if !response.is_success() {
            return self.on_error(
                response.status,
                get("error_code"),
                get("assoc_type"),
                get("session_type"),
            );
        }
        match self.read_success(&fields, now) {
            Ok(a) => AssocStep::Done(a),
            Err(e) => AssocStep::Failed(e),
        }
    }

    /// 2.0 `unsupported-type`: retry once with the suggested types if our rules allow them.
    fn on_error(
        mut self,
        status: u16,
        code: Option<&str>,
        a: Option<&str>,
        s: Option<&str>,
    ) -> AssocStep {
        let unsupported = matches!(code, Some("unsupported-type" | "unsupported_type"));
        if self.version == Version::V1 || !unsupported || self.retried {
            return AssocStep::Failed(AssocError::Http(status));
        }
        let (Some(a), Some(s)) = (
            a.and_then(|a| AssocType::from_name(a, self.version)),
            s.and_then(|s| SessionType::from_name(s, self.version)),
        ) else {
            return AssocStep::Failed(AssocError::Http(status));
        };
        if (a, s) == (self.assoc_type, self.session_type) {
            return AssocStep::Failed(AssocError::Http(status));
        }
        self.assoc_type = a;
        self.session_type = s;
        self.retried = true;
        match self.request() {
            Ok((request, pending)) => AssocStep::Retry(request, pending),
            Err(e) => AssocStep::Failed(e),
        }
    }

    fn read_success(
        &self,
        fields: &[(String, String)],
        now: UnixTime,
    ) -> Result<Association, AssocError> {
        let bad = |m: String| AssocError::BadResponse(m);
        let get = |k: &str| kv::get(fields, k);
        let v = self.version;
        let a_name = get("assoc_type").unwrap_or_default();
        let a = AssocType::from_name(a_name, v)
            .ok_or_else(|| bad(format!("unknown assoc_type {a_name:?}")))?;
        if a != self.assoc_type {
            return Err(bad(format!(
                "asked for {}, got {}",
                self.assoc_type.name(),
                a.name()
            )));
        }
        let s_name = get("session_type").unwrap_or_default();
        let s = SessionType::from_name(s_name, v)
            .ok_or_else(|| bad(format!("unknown session_type {s_name:?}")))?;
        // 1.x providers may answer a DH request in the clear; 2.0 ones must use what was asked.
        if s != self.session_type && (v == Version::V2 || s != SessionType::NoEncryption) {
            return Err(bad(format!(
                "asked for session {:?}, got {s_name:?}",
                self.session_type.name(v)
            )));
        }
        if s == SessionType::NoEncryption && !self.transport_may_be_clear() {
            return Err(AssocError::HttpsRequired);
        }
        let expires_in: i64 = get("expires_in")
            .and_then(|e| e.parse().ok())
            .filter(|e| *e > 0 && *e < MAX_EXPIRES_IN)
            .ok_or_else(|| bad("expires_in missing or out of range".into()))?;
        let handle = get("assoc_handle")
            .filter(|h| valid_handle(h))
            .ok_or_else(|| bad("bad assoc_handle".into()))?;
        let secret = match (s, &self.dh) {
            (SessionType::NoEncryption, _) => STANDARD
                .decode(get("mac_key").unwrap_or_default())
                .map_err(|_| bad("mac_key is not base64".into()))?,
            (_, Some(dh)) => {
                let shared = dh
                    .shared_secret(get("dh_server_public").unwrap_or_default())
                    .ok_or_else(|| bad("bad dh_server_public".into()))?;
                let enc = STANDARD
                    .decode(get("enc_mac_key").unwrap_or_default())
                    .map_err(|_| bad("enc_mac_key is not base64".into()))?;
                let mask = s.hash(&shared);
                if enc.len() != mask.len() {
                    return Err(bad("enc_mac_key has the wrong length".into()));
                }
                enc.iter().zip(&mask).map(|(e, m)| e ^ m).collect()
            }
            (_, None) => return Err(bad("no DH key for an encrypted session".into())),
        };
        if secret.len() != a.key_len() {
            return Err(bad(format!(
                "secret of {} bytes for {}",
                secret.len(),
                a.name()
            )));
        }
        Ok(Association {
            server: self.server.to_string(),
            handle: handle.to_string(),
            secret,
            assoc_type: a,
            expiry: now + expires_in.min(MAX_KEPT),
        })
    }
}

#[cfg(test)]
mod tests;
