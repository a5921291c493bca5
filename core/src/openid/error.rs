//! Error codes: Net::OpenID::Consumer's list, by name, plus the two authrs adds.
//!
//! The code is what logs, the CLI and the login page's `reason` show; the
//! detail is free text for operators (never a secret).

use std::borrow::Cow;
use std::fmt;

/// Why an OpenID step failed; `code()` is the seed's error code, spelled exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorCode {
    /// (A) The provider answered in 2.0 `error` mode.
    ProviderError,
    /// (C) Discovery on an empty or all-whitespace string.
    EmptyUrl,
    /// (C) Discovery on something that is not an http: or https: URL (XRIs included).
    BogusUrl,
    /// (C) No provider found supports the minimum protocol version.
    ProtocolVersionIncorrect,
    /// (CV) The identifier declares no provider at all (or could not be fetched).
    NoIdentityServer,
    /// (SV) `openid.mode` is not what this step needs (`id_res`).
    BadMode,
    /// (V) `openid.identity` is missing.
    NoIdentity,
    /// (V) `openid.sig` is missing.
    NoSig,
    /// (V) `openid.return_to` is missing.
    NoReturnTo,
    /// (V) `return_to` is not under `required_root`, or does not match the URL the browser came back to.
    BogusReturnTo,
    /// (V) A 2.0 assertion without `openid.response_nonce`.
    NonceMissing,
    /// (V) This provider's `response_nonce` was seen before: a replay.
    NonceReused,
    /// (V) The `response_nonce` timestamp is malformed or out of range.
    NonceFormat,
    /// (V) `timecop` is set and the nonce is more than `skew` seconds in the future.
    NonceFuture,
    /// (V) The nonce is older than `window`, or earlier than `start`.
    NonceStale,
    /// (V) The signed time in `return_to` (`oic.time`) is more than an hour old.
    TimeExpired,
    /// (V) `oic.time` is more than 30 seconds in the future.
    TimeInFuture,
    /// (V) `oic.time`'s HMAC is wrong.
    TimeBadSig,
    /// (V) `openid.op_endpoint` is not among the discovered (or allowed) endpoints.
    ServerNotAllowed,
    /// (V) Discovery of the claimed identifier ended at another URL.
    UnexpectedUrlRedirect,
    /// (V) `openid.identity` matches neither the claimed identifier nor its local_id/delegate.
    BogusDelegation,
    /// (V) A field that must be signed is not.
    UnsignedField,
    /// (V) `openid.assoc_handle` names an association that has expired.
    ExpiredAssociation,
    /// (V) The signature made with the association's secret does not match.
    SignatureMismatch,
    /// (V) check_authentication got no answer, a non-200 status, or an unreadable body.
    NaiveVerifyFailedNetwork,
    /// (V) check_authentication answered `is_valid:false`.
    NaiveVerifyFailedReturn,
    /// authrs: the parameters are not one well-formed message (a repeated `openid.*` key, …).
    BadMessage,
    /// authrs: the nonce or association store failed; the assertion is refused (fail closed).
    StoreFailed,
    /// authrs: the browser that came back is not the one that started the login (its state
    /// cookie is missing or differs): a forwarded assertion, i.e. login CSRF.
    StateMismatch,
}

impl ErrorCode {
    /// Exactly the seed's list (ERROR CODES in Net::OpenID::Consumer 1.18), in its order.
    pub const SEED: [ErrorCode; 26] = [
        ErrorCode::ProviderError,
        ErrorCode::EmptyUrl,
        ErrorCode::BogusUrl,
        ErrorCode::ProtocolVersionIncorrect,
        ErrorCode::NoIdentityServer,
        ErrorCode::BadMode,
        ErrorCode::NoIdentity,
        ErrorCode::NoSig,
        ErrorCode::NoReturnTo,
        ErrorCode::BogusReturnTo,
        ErrorCode::NonceMissing,
        ErrorCode::NonceReused,
        ErrorCode::NonceFormat,
        ErrorCode::NonceFuture,
        ErrorCode::NonceStale,
        ErrorCode::TimeExpired,
        ErrorCode::TimeInFuture,
        ErrorCode::TimeBadSig,
        ErrorCode::ServerNotAllowed,
        ErrorCode::UnexpectedUrlRedirect,
        ErrorCode::BogusDelegation,
        ErrorCode::UnsignedField,
        ErrorCode::ExpiredAssociation,
        ErrorCode::SignatureMismatch,
        ErrorCode::NaiveVerifyFailedNetwork,
        ErrorCode::NaiveVerifyFailedReturn,
    ];

    /// Codes authrs adds for failures the seed leaves to the caller.
    pub const AUTHRS: [ErrorCode; 3] = [
        ErrorCode::BadMessage,
        ErrorCode::StoreFailed,
        ErrorCode::StateMismatch,
    ];

    /// The wire code, e.g. `nonce_reused`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorCode::ProviderError => "provider_error",
            ErrorCode::EmptyUrl => "empty_url",
            ErrorCode::BogusUrl => "bogus_url",
            ErrorCode::ProtocolVersionIncorrect => "protocol_version_incorrect",
            ErrorCode::NoIdentityServer => "no_identity_server",
            ErrorCode::BadMode => "bad_mode",
            ErrorCode::NoIdentity => "no_identity",
            ErrorCode::NoSig => "no_sig",
            ErrorCode::NoReturnTo => "no_return_to",
            ErrorCode::BogusReturnTo => "bogus_return_to",
            ErrorCode::NonceMissing => "nonce_missing",
            ErrorCode::NonceReused => "nonce_reused",
            ErrorCode::NonceFormat => "nonce_format",
            ErrorCode::NonceFuture => "nonce_future",
            ErrorCode::NonceStale => "nonce_stale",
            ErrorCode::TimeExpired => "time_expired",
            ErrorCode::TimeInFuture => "time_in_future",
            ErrorCode::TimeBadSig => "time_bad_sig",
            ErrorCode::ServerNotAllowed => "server_not_allowed",
            ErrorCode::UnexpectedUrlRedirect => "unexpected_url_redirect",
            ErrorCode::BogusDelegation => "bogus_delegation",
            ErrorCode::UnsignedField => "unsigned_field",
            ErrorCode::ExpiredAssociation => "expired_association",
            ErrorCode::SignatureMismatch => "signature_mismatch",
            ErrorCode::NaiveVerifyFailedNetwork => "naive_verify_failed_network",
            ErrorCode::NaiveVerifyFailedReturn => "naive_verify_failed_return",
            ErrorCode::BadMessage => "bad_message",
            ErrorCode::StoreFailed => "store_failed",
            ErrorCode::StateMismatch => "state_mismatch",
        }
    }

    /// Parses a wire code back; `None` for anything unknown.
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        ErrorCode::SEED
            .into_iter()
            .chain(ErrorCode::AUTHRS)
            .find(|c| c.code() == code)
    }

    /// A short sentence for operators and login pages.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::ProviderError => "The OpenID provider reported an error.",
            ErrorCode::EmptyUrl => "No OpenID identifier was entered.",
            ErrorCode::BogusUrl => "An OpenID identifier must be an http: or https: URL.",
            ErrorCode::ProtocolVersionIncorrect => {
                "The OpenID provider does not support the required protocol version."
            }
            ErrorCode::NoIdentityServer => "No OpenID provider could be found for this identifier.",
            ErrorCode::BadMode => "The OpenID response has an unexpected mode.",
            ErrorCode::NoIdentity => "The OpenID response names no identity.",
            ErrorCode::NoSig => "The OpenID response is not signed.",
            ErrorCode::NoReturnTo => "The OpenID response has no return URL.",
            ErrorCode::BogusReturnTo => "The OpenID response was meant for another URL.",
            ErrorCode::NonceMissing => "The OpenID response has no nonce.",
            ErrorCode::NonceReused => "The OpenID response was already used (replay).",
            ErrorCode::NonceFormat => "The OpenID response nonce is malformed.",
            ErrorCode::NonceFuture => "The OpenID provider's clock is too far ahead.",
            ErrorCode::NonceStale => "The OpenID response is too old.",
            ErrorCode::TimeExpired => "The login took too long. Please try again.",
            ErrorCode::TimeInFuture => "The login's time stamp is in the future.",
            ErrorCode::TimeBadSig => "The login's time stamp is not valid.",
            ErrorCode::ServerNotAllowed => "This OpenID provider may not assert this identity.",
            ErrorCode::UnexpectedUrlRedirect => "The identifier's discovery ended elsewhere.",
            ErrorCode::BogusDelegation => "The asserted identity does not match the identifier.",
            ErrorCode::UnsignedField => "A required field of the OpenID response is not signed.",
            ErrorCode::ExpiredAssociation => "The association with the OpenID provider expired.",
            ErrorCode::SignatureMismatch => "The OpenID response signature is not valid.",
            ErrorCode::NaiveVerifyFailedNetwork => {
                "The OpenID provider could not be asked to confirm the response."
            }
            ErrorCode::NaiveVerifyFailedReturn => {
                "The OpenID provider did not confirm the response."
            }
            ErrorCode::BadMessage => "The OpenID response is malformed.",
            ErrorCode::StoreFailed => "The login could not be checked. Please try again.",
            ErrorCode::StateMismatch => {
                "This login was not started in this browser. Please log in again."
            }
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A failure with its code and a detail for logs (`errcode: errtext` in the seed's terms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIdError {
    /// The error code, as the seed names it.
    pub code: ErrorCode,
    /// What exactly was wrong, for operators; never contains a secret.
    pub detail: Cow<'static, str>,
}

impl OpenIdError {
    /// An error with the code's own message as detail.
    pub fn new(code: ErrorCode) -> OpenIdError {
        OpenIdError {
            code,
            detail: Cow::Borrowed(code.message()),
        }
    }

    /// An error with a specific detail.
    pub fn with(code: ErrorCode, detail: impl Into<Cow<'static, str>>) -> OpenIdError {
        OpenIdError {
            code,
            detail: detail.into(),
        }
    }

    /// The wire code, e.g. `signature_mismatch`.
    pub fn code(&self) -> &'static str {
        self.code.code()
    }
}

impl From<ErrorCode> for OpenIdError {
    fn from(code: ErrorCode) -> Self {
        OpenIdError::new(code)
    }
}

impl fmt::Display for OpenIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.code(), self.detail)
    }
}

impl std::error::Error for OpenIdError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_codes_are_spelled_exactly() {
        let seed = "provider_error empty_url bogus_url protocol_version_incorrect \
            no_identity_server bad_mode no_identity no_sig no_return_to bogus_return_to \
            nonce_missing nonce_reused nonce_format nonce_future nonce_stale time_expired \
            time_in_future time_bad_sig server_not_allowed unexpected_url_redirect \
            bogus_delegation unsigned_field expired_association signature_mismatch \
            naive_verify_failed_network naive_verify_failed_return";
        let ours: Vec<&str> = ErrorCode::SEED.iter().map(|c| c.code()).collect();
        assert_eq!(ours, seed.split_whitespace().collect::<Vec<_>>());
    }

    #[test]
    fn codes_round_trip() {
        for c in ErrorCode::SEED.into_iter().chain(ErrorCode::AUTHRS) {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
            assert!(!c.message().is_empty());
        }
        assert_eq!(ErrorCode::from_code("no_such_code"), None);
    }

    #[test]
    fn display_is_code_then_detail() {
        let e = OpenIdError::with(ErrorCode::UnsignedField, "op_endpoint");
        assert_eq!(e.to_string(), "unsigned_field: op_endpoint");
        assert_eq!(e.code(), "unsigned_field");
    }
}
