//! What the engine answers, and the log notes that go with it.

use crate::identity::Identity;
use crate::reason::Reason;

/// The verdict a shell turns into a status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let the request through (with `Decision::identity`, when authenticated).
    Allow,
    /// Send the browser elsewhere: the login page (302) or, after a login or logout, the destination (303).
    Redirect {
        /// The `Location` header value.
        location: String,
        /// 302 or 303.
        status: u16,
        /// Why, when the redirect is to the login page.
        reason: Option<Reason>,
    },
    /// 401: not authenticated.
    Unauthorized {
        /// Why.
        reason: Reason,
    },
    /// 403: authenticated but not allowed, or `AuthRsUnauthAction 403`.
    Forbidden {
        /// Why.
        reason: Reason,
    },
    /// 400: the client sent a body we cannot read (a malformed login form).
    BadRequest {
        /// What was wrong, safe to log (no secrets).
        detail: String,
    },
    /// 500: something on our side failed; the request is refused (fail closed).
    Error {
        /// What failed, safe to log.
        message: String,
    },
}

/// Severity of a [`Note`], mapped by each shell to its own log levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Diagnostic detail (`LogLevel authrs:debug`).
    Debug,
    /// Client-caused refusals.
    Info,
    /// Something an operator should look at (spoofing, expired CRL).
    Warn,
    /// Our own failure.
    Error,
}

/// One log line the shell should write: a stable id (`AUTHRS0101`), a level and a message without secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Stable id operators grep for.
    pub id: &'static str,
    /// Severity.
    pub level: Level,
    /// The message (never a key, password or whole ticket).
    pub message: String,
}

/// The engine's answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What to do.
    pub verdict: Verdict,
    /// Who the request belongs to, when authenticated.
    pub identity: Option<Identity>,
    /// A `Set-Cookie` value to send (a refreshed, new or cleared ticket).
    pub set_cookie: Option<String>,
    /// Proxy headers sent by an untrusted peer: shells must strip them before the application sees them.
    pub spoofed_headers: Vec<String>,
    /// Log lines for the shell to write.
    pub notes: Vec<Note>,
}

impl Default for Decision {
    fn default() -> Self {
        Decision {
            verdict: Verdict::Error {
                message: "no decision was made".to_string(),
            },
            identity: None,
            set_cookie: None,
            spoofed_headers: Vec::new(),
            notes: Vec::new(),
        }
    }
}

impl Decision {
    /// The HTTP status a shell should answer with (200 for Allow).
    pub fn status(&self) -> u16 {
        match &self.verdict {
            Verdict::Allow => 200,
            Verdict::Redirect { status, .. } => *status,
            Verdict::Unauthorized { .. } => 401,
            Verdict::Forbidden { .. } => 403,
            Verdict::BadRequest { .. } => 400,
            Verdict::Error { .. } => 500,
        }
    }

    /// The reason code carried by the verdict, if any.
    pub fn reason(&self) -> Option<Reason> {
        match &self.verdict {
            Verdict::Redirect { reason, .. } => *reason,
            Verdict::Unauthorized { reason } | Verdict::Forbidden { reason } => Some(*reason),
            _ => None,
        }
    }

    /// Adds a log note.
    pub fn note(&mut self, level: Level, id: &'static str, message: impl Into<String>) {
        self.notes.push(Note {
            id,
            level,
            message: message.into(),
        });
    }

    pub(crate) fn with(mut self, verdict: Verdict) -> Decision {
        self.verdict = verdict;
        self
    }
}
