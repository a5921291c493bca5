//! The option table (Apache directive and Envoy JSON key for every option) and value parsers.
//!
//! One entry in [`OPTIONS`] names an option for both shells, with its value
//! kind, default, merge rule, scope and help. Apache's directive handlers
//! call [`Settings::set`] and merge scopes with [`Settings::merge`]; the
//! Envoy filter calls [`Settings::from_json`]. Values stay unset until
//! written; the getters on [`Settings`] apply the defaults when read.
//! [`reference_markdown`] renders the README's reference from the same table.

mod assign;
mod check;
mod error;
mod json;
pub(crate) use json::parse_json;
mod kinds;
mod reference;
mod settings;
mod spec;
mod table;
mod value;

pub use error::{ConfigError, ConfigErrorKind, ValueError, REDACTED};
pub use kinds::{
    parse_cert_user, parse_methods, parse_trust_chain_verification, parse_unauth_action, CertUser,
    Method, Secret, TrustChainVerification, UnauthAction, CERT_USER_VALUES, METHOD_VALUES,
    TRUST_CHAIN_VERIFICATION_VALUES, UNAUTH_ACTION_VALUES,
};
pub use reference::reference_markdown;
pub use settings::{
    Settings, DEFAULT_ENROLLED_CERTS_MAX, DEFAULT_REFRESH_FRACTION, DEFAULT_TICKET_LIFETIME,
};
pub use spec::{
    by_directive, by_id, by_json, snake_case, DefaultValue, Merge, OptionId, OptionSpec, Scope,
    Shell, Shells, ValueKind,
};
pub use table::OPTIONS;
pub use value::{
    one_of, parse_bool, parse_cidr_list, parse_cookie_name, parse_duration, parse_enum,
    parse_fraction, parse_host, parse_integer, parse_path, parse_same_site, parse_socache,
    parse_text, parse_url, parse_url_path, MAX_DURATION, SAME_SITE_VALUES,
};
