//! Configuration errors: which option, which value, and what was expected.

use std::fmt;

/// Longest part of a bad value echoed back; a megabyte of junk must not flood the error log.
const MAX_ECHO_CHARS: usize = 64;

/// What a value parser rejected, before it is known which option the value belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    /// The rejected text (or the part of it that is wrong).
    pub value: String,
    /// What would have been accepted, e.g. `must be one of: Strict, Lax, None`.
    pub expected: String,
}

impl ValueError {
    /// Builds an error for `value`, saying what was expected instead.
    pub fn new(value: &str, expected: impl Into<String>) -> Self {
        ValueError {
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad value {}: {}", Echo(&self.value), self.expected)
    }
}

impl std::error::Error for ValueError {}

/// What kind of mistake a [`ConfigError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The value does not parse for this option.
    BadValue,
    /// No Apache directive of ours has this name.
    UnknownDirective,
    /// No JSON key of ours has this name.
    UnknownKey,
    /// The JSON value has the wrong type (a number where a string belongs, …).
    WrongType,
    /// The directive was given too many or too few arguments.
    WrongArity,
    /// The option is not allowed at this level (a server-wide key inside a location).
    WrongScope,
    /// Two options that are each valid contradict each other.
    Conflict,
    /// The JSON document itself does not parse.
    Syntax,
}

/// A configuration mistake: it names the option as the user wrote it, the bad value and what is expected.
///
/// Values of secret-bearing options (ticket keys, inline password hashes) are
/// replaced by `<redacted>` when the error is built, so neither Display nor
/// Debug can leak them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The directive or JSON key, spelled as in the configuration.
    pub option: String,
    /// The offending value (`<redacted>` for secrets).
    pub value: String,
    /// What would have been accepted, or why it is refused.
    pub expected: String,
    /// The kind of mistake, which selects the message shape.
    pub kind: ConfigErrorKind,
}

/// The text that replaces secret values in errors.
pub const REDACTED: &str = "<redacted>";

impl ConfigError {
    /// Builds an error of `kind` for `option`, redacting `value` when `secret` is set.
    pub fn new(
        kind: ConfigErrorKind,
        option: &str,
        value: &str,
        expected: impl Into<String>,
        secret: bool,
    ) -> Self {
        ConfigError {
            option: option.to_string(),
            value: if secret {
                REDACTED.to_string()
            } else {
                value.to_string()
            },
            expected: expected.into(),
            kind,
        }
    }

    /// Turns a value parser's error into one naming `option`.
    pub fn from_value(option: &str, err: ValueError, secret: bool) -> Self {
        ConfigError::new(
            ConfigErrorKind::BadValue,
            option,
            &err.value,
            err.expected,
            secret,
        )
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = Echo(&self.option);
        let val = Echo(&self.value);
        match self.kind {
            ConfigErrorKind::BadValue => {
                write!(
                    f,
                    "{}: bad value {val}: {}",
                    Bare(&self.option),
                    self.expected
                )
            }
            ConfigErrorKind::UnknownDirective => {
                write!(f, "unknown directive {opt}: {}", self.expected)
            }
            ConfigErrorKind::UnknownKey => write!(f, "unknown key {opt}: {}", self.expected),
            ConfigErrorKind::WrongType => write!(
                f,
                "{}: wrong type {val}: {}",
                Bare(&self.option),
                self.expected
            ),
            ConfigErrorKind::WrongArity => write!(
                f,
                "{}: wrong number of values {val}: {}",
                Bare(&self.option),
                self.expected
            ),
            ConfigErrorKind::WrongScope => write!(
                f,
                "{}: not allowed here: {}",
                Bare(&self.option),
                self.expected
            ),
            ConfigErrorKind::Conflict => {
                write!(f, "{}: value {val} {}", Bare(&self.option), self.expected)
            }
            ConfigErrorKind::Syntax => write!(f, "{}: {}", Bare(&self.option), self.expected),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A quoted, escaped, length-capped rendering: control characters cannot forge log lines.
struct Echo<'a>(&'a str);

impl fmt::Display for Echo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (head, cut) = cap(self.0);
        if cut {
            write!(f, "{:?}…", head)
        } else {
            write!(f, "{:?}", head)
        }
    }
}

/// An option name as is when it is one of ours; user-written names are escaped and capped.
struct Bare<'a>(&'a str);

impl fmt::Display for Bare<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = self
            .0
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if plain && self.0.len() <= MAX_ECHO_CHARS && !self.0.is_empty() {
            f.write_str(self.0)
        } else {
            Echo(self.0).fmt(f)
        }
    }
}

/// The first [`MAX_ECHO_CHARS`] characters of `s`, and whether anything was cut.
fn cap(s: &str) -> (&str, bool) {
    match s.char_indices().nth(MAX_ECHO_CHARS) {
        Some((i, _)) => (&s[..i], true),
        None => (s, false),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn bad_value_message_names_option_value_and_expectation() {
        let e = ConfigError::from_value(
            "AuthRsCookieSameSite",
            ValueError::new("Laxx", "must be one of: Strict, Lax, None"),
            false,
        );
        assert_eq!(
            e.to_string(),
            "AuthRsCookieSameSite: bad value \"Laxx\": must be one of: Strict, Lax, None"
        );
    }

    #[test]
    fn secrets_are_redacted_in_display_and_debug() {
        let e = ConfigError::from_value(
            "ticket_keys",
            ValueError::new("c2VjcmV0LWtleQ==", "must be base64"),
            true,
        );
        assert!(!e.to_string().contains("c2VjcmV0"));
        assert!(!format!("{e:?}").contains("c2VjcmV0"));
        assert!(e.to_string().contains(REDACTED));
    }

    #[test]
    fn control_characters_are_escaped_and_long_values_capped() {
        let e = ConfigError::from_value("x", ValueError::new("a\r\nb\0", "nope"), false);
        let s = e.to_string();
        assert!(!s.contains('\n') && !s.contains('\r') && !s.contains('\0'));
        assert!(s.contains("\\r\\n"));
        let long = "é".repeat(100_000);
        let s = ConfigError::from_value("x", ValueError::new(&long, "nope"), false).to_string();
        assert!(s.len() < 300, "{}", s.len());
        assert!(s.contains('…'));
    }

    #[test]
    fn user_written_option_names_are_escaped() {
        let e = ConfigError::new(
            ConfigErrorKind::UnknownKey,
            "bad\nkey",
            "",
            "not an option",
            false,
        );
        assert!(!e.to_string().contains('\n'));
        let e = ConfigError::new(ConfigErrorKind::WrongScope, "evil\r\n", "", "x", false);
        assert!(!e.to_string().contains('\r'));
    }
}
