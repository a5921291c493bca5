//! authrs-core: decides who a request belongs to and whether it may pass.
//!
//! The crate is sans-IO: no sockets, files, clock or randomness. Shells
//! (the Apache module, the Envoy filter, the CLI) hand it request facts,
//! the current time and small stores, and apply the [`engine::Decision`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod authz;
pub mod caching;
pub mod cert;
pub mod config;
pub mod cookies;
pub mod engine;
pub mod identity;
mod lines;
pub mod login;
pub mod login_page;
pub mod openid;
pub mod password;
pub mod proxy;
pub mod quiet;
pub mod reason;
pub mod request;
pub mod roles;
pub mod site;
pub mod ticket;
pub mod time;
pub mod xfcc;

pub use identity::{AuthMethod, Identity};
pub use reason::Reason;
pub use request::RequestFacts;
pub use time::UnixTime;
