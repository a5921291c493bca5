//! OpenID 2.0 (and 1.1) relying party, sans-IO, checking positive assertions as
//! Net::OpenID::Consumer does, with its options, defaults and error codes.
//!
//! Network steps (discovery, association, check_authentication) come back to
//! the shell as a described [`http::HttpRequest`] plus the state to resume
//! with; the shell performs them (without following redirects) and feeds the
//! [`http::HttpResponse`] back. Time and randomness are arguments.
//!
//! Starting a login (the seed's `claimed_identity` + `check_url`):
//! [`identifier::normalize`] → [`discovery::Discovery`] (fetch loop) →
//! [`checkid::choose_endpoint`] → optionally [`assoc::associate`] (fetch,
//! then [`store::AssociationStore::put`]) → [`checkid::check_url`].
//!
//! Handling the return (the seed's `handle_server_response`):
//! [`RelyingParty::verify`] → [`VerifyStep::Fetch`] (discovery,
//! check_authentication; or [`RelyingParty::verify_cached`] /
//! [`verify::PendingVerify::with_endpoints`] with a discovery cache) →
//! [`VerifyStep::Done`] with an [`Outcome`]; every failure carries an
//! [`ErrorCode`] whose `code()` is the seed's name.

pub mod assoc;
pub mod checkid;
pub mod config;
pub mod dh;
pub mod discovery;
pub mod error;
mod form;
pub mod html;
pub mod http;
pub mod identifier;
pub mod kv;
pub mod message;
pub mod nonce;
pub mod return_to;
pub mod signed_time;
pub mod store;
pub mod verify;
pub mod xrds;

pub use config::RelyingParty;
pub use error::{ErrorCode, OpenIdError};
pub use message::{Message, Version};
pub use verify::{Outcome, ReturnRequest, VerifiedIdentity, VerifyStep};
