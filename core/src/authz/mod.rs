//! Apache-style `Require` rules: parsing into a tree and evaluation with mod_authz_core semantics.
//!
//! The five results, the AND/OR short-circuits, `Require not` and `<RequireNone>`
//! behave exactly as in httpd 2.4's `mod_authz_core.c` (`apply_authz_sections`);
//! configuration mistakes httpd refuses at startup are refused here too, with the
//! same wording. [`decision`] maps the final result to what a shell answers.

mod display;
mod json;
mod parse;
mod quote;
mod tree;
mod word;

pub mod cases;

use std::fmt;
use std::str::FromStr;

pub(crate) use quote::split_words;
pub use tree::{RequireTree, Satisfy, MAX_DEPTH};
pub use word::RequireWord;

/// Splits a Require line's arguments with httpd's `ap_getword_conf` quoting (`"a b"`, `\"`);
/// `None` for an unclosed quote.
pub fn split_args(line: &str) -> Option<Vec<String>> {
    quote::split_words(line).ok()
}

use crate::reason::Reason;

/// What a `Require` rule or container says about a request (httpd's `authz_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthzResult {
    /// The rule lets the request through.
    Granted,
    /// The rule refuses the request, whoever the user is.
    Denied,
    /// The rule has no opinion (a negated rule that did not match).
    Neutral,
    /// The rule could not be evaluated; the request fails closed with a 500.
    GeneralError,
    /// The rule needs an authenticated user and there is none yet.
    DeniedNoUser,
}

impl AuthzResult {
    /// The table name used by the shared case file: `GRANTED`, `DENIED_NO_USER`, …
    pub fn as_str(self) -> &'static str {
        match self {
            AuthzResult::Granted => "GRANTED",
            AuthzResult::Denied => "DENIED",
            AuthzResult::Neutral => "NEUTRAL",
            AuthzResult::GeneralError => "GENERAL_ERROR",
            AuthzResult::DeniedNoUser => "DENIED_NO_USER",
        }
    }
}

impl fmt::Display for AuthzResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthzResult {
    type Err = AuthzError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "GRANTED" => Ok(AuthzResult::Granted),
            "DENIED" => Ok(AuthzResult::Denied),
            "NEUTRAL" => Ok(AuthzResult::Neutral),
            "GENERAL_ERROR" => Ok(AuthzResult::GeneralError),
            "DENIED_NO_USER" => Ok(AuthzResult::DeniedNoUser),
            other => Err(AuthzError::UnknownResult(other.to_string())),
        }
    }
}

/// What a shell does with the final result of a Require tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthzDecision {
    /// Let the request through.
    Allow,
    /// Ask the client to authenticate: login redirect or 401 (reason `no_cookie`).
    Authenticate,
    /// Refuse: 403 with reason `forbidden` (httpd itself answers 401 to a logged-in user, AH01631).
    Forbidden,
    /// A rule failed to evaluate: 500, fail closed.
    Error,
}

impl AuthzDecision {
    /// The reason code a refusal carries; `None` for `Allow` and `Error`.
    pub fn reason(self) -> Option<Reason> {
        match self {
            AuthzDecision::Allow | AuthzDecision::Error => None,
            AuthzDecision::Authenticate => Some(Reason::NoCookie),
            AuthzDecision::Forbidden => Some(Reason::Forbidden),
        }
    }
}

/// Maps the top-level result to an answer, as httpd's `authorize_user_core` does.
///
/// `GRANTED` → allow. `DENIED_NO_USER` without a user → authenticate (httpd's
/// access phase declines and lets authentication run); with a user it cannot be
/// fixed by logging in again, so → forbidden. `DENIED`/`NEUTRAL` → forbidden
/// even without a user (httpd answers 403 before authentication, e.g. `Require
/// all denied`). `GENERAL_ERROR` → 500.
pub fn decision(result: AuthzResult, has_user: bool) -> AuthzDecision {
    match result {
        AuthzResult::Granted => AuthzDecision::Allow,
        AuthzResult::DeniedNoUser if !has_user => AuthzDecision::Authenticate,
        AuthzResult::DeniedNoUser | AuthzResult::Denied | AuthzResult::Neutral => {
            AuthzDecision::Forbidden
        }
        AuthzResult::GeneralError => AuthzDecision::Error,
    }
}

/// A Require rule that cannot be parsed or that httpd would refuse at startup.
///
/// `line` is 1-based in the rules text; 0 when the word was built on its own
/// ([`RequireWord::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthzError {
    /// `Require <word>` names a word no provider implements.
    UnknownWord {
        /// Line of the Require directive.
        line: usize,
        /// The unknown word.
        word: String,
    },
    /// A known word got arguments it cannot take.
    BadArguments {
        /// Line of the Require directive.
        line: usize,
        /// The word (`all`, `role`, …).
        word: &'static str,
        /// What is wrong, for the operator.
        why: String,
    },
    /// A negated rule or `<RequireNone>` inside an OR container, where it could never grant.
    NegativeHasNoEffect {
        /// Line of the offending directive.
        line: usize,
        /// The offending directive as httpd names it (`negative Require`, `<RequireNone>`).
        what: String,
        /// The enclosing container (`<RequireAny>`, `<RequireNone>`).
        container: &'static str,
    },
    /// A container with no rule inside.
    EmptyContainer {
        /// Line of the opening tag.
        line: usize,
        /// The container (`<RequireAll>`, …).
        container: &'static str,
    },
    /// A container (or the top level) whose rules are all negative, so it could never grant.
    OnlyNegative {
        /// Line of the opening tag (0 for the top level).
        line: usize,
        /// The container, or `<Directory>, <Location>, or similar` for the top level.
        container: &'static str,
    },
    /// A container opened and never closed.
    Unclosed {
        /// Line of the opening tag.
        line: usize,
        /// The container.
        container: &'static str,
    },
    /// A closing tag that does not match the open container.
    MismatchedClose {
        /// Line of the closing tag.
        line: usize,
        /// The closing tag found.
        found: String,
    },
    /// A line that is neither `Require`, `Satisfy`, a container tag nor a comment.
    UnknownDirective {
        /// Line number.
        line: usize,
        /// The first word of the line.
        directive: String,
    },
    /// A container tag with arguments or without its closing `>`.
    BadTag {
        /// Line number.
        line: usize,
        /// What httpd would say.
        why: String,
    },
    /// A double- or single-quoted argument without its closing quote.
    UnterminatedQuote {
        /// Line number.
        line: usize,
    },
    /// `Satisfy` not `Any`/`All`, inside a container, or given twice.
    BadSatisfy {
        /// Line number.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// Containers nested deeper than [`MAX_DEPTH`].
    TooDeep {
        /// Line of the container that went too deep.
        line: usize,
    },
    /// The rules text holds no Require directive at all.
    NoRules,
    /// A result name in a case table that is not one of the five.
    UnknownResult(String),
    /// A JSON require tree node that is not a rule or container (the Envoy filter's `require`).
    Json {
        /// Where in the document, as `require.all[0].user`.
        at: String,
        /// What is wrong.
        why: String,
    },
}

impl AuthzError {
    /// Sets the line of an error raised by [`RequireWord::parse`], which has none.
    pub(crate) fn at_line(mut self, at: usize) -> AuthzError {
        match &mut self {
            AuthzError::UnknownWord { line, .. } | AuthzError::BadArguments { line, .. } => {
                *line = at
            }
            _ => {}
        }
        self
    }
}

/// Prints `line N: `, or nothing for errors not tied to a line (0).
struct Loc(usize);

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => Ok(()),
            n => write!(f, "line {n}: "),
        }
    }
}

impl AuthzError {
    /// The 1-based line the error is about; 0 when it is about no single line.
    pub fn line(&self) -> usize {
        match self {
            AuthzError::UnknownWord { line, .. }
            | AuthzError::BadArguments { line, .. }
            | AuthzError::NegativeHasNoEffect { line, .. }
            | AuthzError::EmptyContainer { line, .. }
            | AuthzError::OnlyNegative { line, .. }
            | AuthzError::Unclosed { line, .. }
            | AuthzError::MismatchedClose { line, .. }
            | AuthzError::UnknownDirective { line, .. }
            | AuthzError::BadTag { line, .. }
            | AuthzError::UnterminatedQuote { line }
            | AuthzError::BadSatisfy { line, .. }
            | AuthzError::TooDeep { line } => *line,
            AuthzError::NoRules | AuthzError::UnknownResult(_) | AuthzError::Json { .. } => 0,
        }
    }
}

impl fmt::Display for AuthzError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loc = Loc(self.line());
        match self {
            AuthzError::UnknownWord { word, .. } => {
                write!(f, "{loc}Unknown Authz provider: {word}")
            }
            AuthzError::BadArguments { word, why, .. } => {
                write!(f, "{loc}Require {word}: {why}")
            }
            AuthzError::NegativeHasNoEffect {
                what, container, ..
            } => write!(
                f,
                "{loc}{what} directive has no effect in {container} directive"
            ),
            AuthzError::EmptyContainer { container, .. } => write!(
                f,
                "{loc}{container} directive contains no authorization directives"
            ),
            AuthzError::OnlyNegative { container, .. } => write!(
                f,
                "{loc}{container} directive contains only negative authorization directives"
            ),
            AuthzError::Unclosed { container, .. } => {
                write!(f, "{loc}{container} is never closed")
            }
            AuthzError::MismatchedClose { found, .. } => {
                write!(f, "{loc}{found} does not close the open container")
            }
            AuthzError::UnknownDirective { directive, .. } => write!(
                f,
                "{loc}unknown directive {directive:?} (expected Require, Satisfy, <RequireAll>, <RequireAny> or <RequireNone>)"
            ),
            AuthzError::BadTag { why, .. } => write!(f, "{loc}{why}"),
            AuthzError::UnterminatedQuote { .. } => {
                write!(f, "{loc}quoted argument is never closed")
            }
            AuthzError::BadSatisfy { why, .. } => write!(f, "{loc}Satisfy: {why}"),
            AuthzError::TooDeep { .. } => write!(
                f,
                "{loc}Require containers nested deeper than {}",
                tree::MAX_DEPTH
            ),
            AuthzError::NoRules => f.write_str("no Require directive found"),
            AuthzError::Json { at, why } => write!(f, "{at}: {why}"),
            AuthzError::UnknownResult(s) => write!(
                f,
                "unknown authz result {s:?} (expected GRANTED, DENIED, NEUTRAL, GENERAL_ERROR or DENIED_NO_USER)"
            ),
        }
    }
}

impl std::error::Error for AuthzError {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn decision_follows_authorize_user_core() {
        use AuthzDecision::*;
        assert_eq!(decision(AuthzResult::Granted, false), Allow);
        assert_eq!(decision(AuthzResult::Granted, true), Allow);
        assert_eq!(decision(AuthzResult::DeniedNoUser, false), Authenticate);
        assert_eq!(decision(AuthzResult::DeniedNoUser, true), Forbidden);
        assert_eq!(decision(AuthzResult::Denied, false), Forbidden);
        assert_eq!(decision(AuthzResult::Neutral, true), Forbidden);
        assert_eq!(decision(AuthzResult::GeneralError, true), Error);
        assert_eq!(Authenticate.reason(), Some(Reason::NoCookie));
        assert_eq!(Forbidden.reason(), Some(Reason::Forbidden));
        assert_eq!(Allow.reason(), None);
    }

    #[test]
    fn result_names_round_trip() {
        for r in [
            AuthzResult::Granted,
            AuthzResult::Denied,
            AuthzResult::Neutral,
            AuthzResult::GeneralError,
            AuthzResult::DeniedNoUser,
        ] {
            assert_eq!(r.as_str().parse::<AuthzResult>(), Ok(r));
        }
        assert!("granted".parse::<AuthzResult>().is_err());
    }
}
