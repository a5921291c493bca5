//! The roles file: `alice admin:projectX reader`, one user per line; and Apache's AuthGroupFile.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::authz::split_words;
use crate::identity::Roles;

/// A problem in a roles or group file, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RolesError {
    /// A `role:scope` token with an empty role (`:projectX`).
    EmptyRole {
        /// Line number.
        line: usize,
    },
    /// A `role:scope` token with an empty scope (`admin:`).
    EmptyScope {
        /// Line number.
        line: usize,
    },
    /// A control character (NUL, CR, TAB inside a token, …) in a name.
    ControlChar {
        /// Line number.
        line: usize,
    },
    /// A group line without the `group:` colon.
    MissingColon {
        /// Line number.
        line: usize,
    },
    /// A group line with an empty group name (`: alice`).
    EmptyGroup {
        /// Line number.
        line: usize,
    },
    /// A quoted user name without its closing quote.
    UnterminatedQuote {
        /// Line number.
        line: usize,
    },
}

impl fmt::Display for RolesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RolesError::EmptyRole { line } => write!(f, "line {line}: empty role before ':'"),
            RolesError::EmptyScope { line } => write!(f, "line {line}: empty scope after ':'"),
            RolesError::ControlChar { line } => {
                write!(f, "line {line}: control character in a name")
            }
            RolesError::MissingColon { line } => {
                write!(f, "line {line}: expected `group: user1 user2`")
            }
            RolesError::EmptyGroup { line } => write!(f, "line {line}: empty group name"),
            RolesError::UnterminatedQuote { line } => {
                write!(f, "line {line}: quoted user name is never closed")
            }
        }
    }
}

impl std::error::Error for RolesError {}

/// Roles per user, from a file of lines `user role[:scope]…` (`#` starts a comment line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolesFile {
    users: BTreeMap<String, Roles>,
}

impl RolesFile {
    /// Parses a roles file; several lines for one user merge.
    pub fn parse(text: &str) -> Result<RolesFile, RolesError> {
        let mut users: BTreeMap<String, Roles> = BTreeMap::new();
        for (line, raw) in crate::lines::numbered(text) {
            let content = raw.trim();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            // A stray CR or NUL would otherwise split a line into surprising tokens.
            if content.chars().any(|c| c.is_control() && c != '\t') {
                return Err(RolesError::ControlChar { line });
            }
            let mut tokens = content.split_ascii_whitespace();
            let Some(user) = tokens.next() else { continue };
            check_name(line, user)?;
            let roles = users.entry(user.to_string()).or_default();
            for tok in tokens {
                check_name(line, tok)?;
                match tok.split_once(':') {
                    Some(("", _)) => return Err(RolesError::EmptyRole { line }),
                    Some((_, "")) => return Err(RolesError::EmptyScope { line }),
                    Some((role, scope)) => roles.add(role, Some(scope)),
                    None => roles.add(tok, None),
                }
            }
        }
        Ok(RolesFile { users })
    }

    /// The roles of `user`; empty for an unknown user.
    pub fn roles_for(&self, user: &str) -> Roles {
        self.users.get(user).cloned().unwrap_or_default()
    }

    /// How many users the file names.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when the file names no user.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// Group memberships in Apache's AuthGroupFile format: `group: user1 user2` (users may be quoted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupFile {
    members: BTreeMap<String, BTreeSet<String>>,
}

impl GroupFile {
    /// Parses a group file; several lines for one group merge, as httpd reads every line.
    pub fn parse(text: &str) -> Result<GroupFile, RolesError> {
        let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (line, raw) in crate::lines::numbered(text) {
            let content = raw.trim();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            // A stray CR or NUL would otherwise split a line into surprising tokens.
            if content.chars().any(|c| c.is_control() && c != '\t') {
                return Err(RolesError::ControlChar { line });
            }
            let Some((group, users)) = content.split_once(':') else {
                return Err(RolesError::MissingColon { line });
            };
            let group = group.trim();
            if group.is_empty() {
                return Err(RolesError::EmptyGroup { line });
            }
            check_name(line, group)?;
            let users = split_words(users).map_err(|()| RolesError::UnterminatedQuote { line })?;
            let set = members.entry(group.to_string()).or_default();
            for user in users {
                check_name(line, &user)?;
                set.insert(user);
            }
        }
        Ok(GroupFile { members })
    }

    /// Builds groups from `(group, members)` pairs (the Envoy filter's inline `groups`).
    pub fn from_members<'a>(
        groups: impl IntoIterator<Item = (&'a str, Vec<String>)>,
    ) -> Result<GroupFile, RolesError> {
        let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (line, (group, users)) in groups.into_iter().enumerate() {
            let line = line + 1;
            if group.trim().is_empty() {
                return Err(RolesError::EmptyGroup { line });
            }
            check_name(line, group)?;
            let set = members.entry(group.to_string()).or_default();
            for user in users {
                check_name(line, &user)?;
                set.insert(user);
            }
        }
        Ok(GroupFile { members })
    }

    /// Whether group `name` is defined (case-insensitive, as `Require group` compares), even
    /// with no members.
    pub fn defines(&self, name: &str) -> bool {
        self.members.keys().any(|g| g.eq_ignore_ascii_case(name))
    }

    /// The groups that list `user` (exact, case-sensitive user match as httpd's `strcmp`).
    pub fn groups_for(&self, user: &str) -> BTreeSet<String> {
        self.members
            .iter()
            .filter(|(_, users)| users.contains(user))
            .map(|(group, _)| group.clone())
            .collect()
    }
}

/// Names never carry control characters: they end up in headers and logs.
fn check_name(line: usize, name: &str) -> Result<(), RolesError> {
    if name.chars().any(char::is_control) {
        Err(RolesError::ControlChar { line })
    } else {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn roles_file() {
        let text = "# roles\nalice admin:projectX admin:projectY reader\n\n  bob   writer \nalice auditor:2024\ncarol\n";
        let f = RolesFile::parse(text).unwrap();
        assert_eq!(f.len(), 3);
        let alice = f.roles_for("alice");
        assert!(alice.has_role("admin", Some("projectY")));
        assert!(!alice.has_role("admin", Some("projectZ")));
        assert!(alice.has_role("reader", Some("anything")));
        assert!(alice.has_role("auditor", Some("2024")));
        assert!(f.roles_for("bob").has_role("writer", None));
        assert!(f.roles_for("carol").is_empty());
        assert!(f.roles_for("mallory").is_empty());
        assert!(f.roles_for("Alice").is_empty());
        assert!(RolesFile::parse("").unwrap().is_empty());
    }

    #[test]
    fn roles_file_errors() {
        assert_eq!(
            RolesFile::parse("a x\nb :s"),
            Err(RolesError::EmptyRole { line: 2 })
        );
        assert_eq!(
            RolesFile::parse("b admin:"),
            Err(RolesError::EmptyScope { line: 1 })
        );
        assert_eq!(
            RolesFile::parse("b ad\0min"),
            Err(RolesError::ControlChar { line: 1 })
        );
        assert_eq!(
            RolesFile::parse("\n\nb\u{1b}[31m x"),
            Err(RolesError::ControlChar { line: 3 })
        );
        // A CR in the middle of a line is not a line break to `lines()`: refused.
        assert_eq!(
            RolesFile::parse("b x\rmallory admin"),
            Err(RolesError::ControlChar { line: 1 })
        );
        // Scopes may themselves hold a colon: only the first one splits.
        let f = RolesFile::parse("a admin:x:y").unwrap();
        assert!(f.roles_for("a").has_role("admin", Some("x:y")));
    }

    #[test]
    fn group_file() {
        let text = "# groups\nstaff: alice bob\nadmins:alice\nstaff: \"john smith\"\nempty:\n";
        let g = GroupFile::parse(text).unwrap();
        assert_eq!(
            g.groups_for("alice"),
            BTreeSet::from(["admins".to_string(), "staff".to_string()])
        );
        assert_eq!(
            g.groups_for("john smith"),
            BTreeSet::from(["staff".to_string()])
        );
        assert!(g.groups_for("mallory").is_empty());
        assert!(g.groups_for("").is_empty());
        assert_eq!(
            GroupFile::parse("staff alice"),
            Err(RolesError::MissingColon { line: 1 })
        );
        assert_eq!(
            GroupFile::parse(" : alice"),
            Err(RolesError::EmptyGroup { line: 1 })
        );
        assert_eq!(
            GroupFile::parse("g: \"alice"),
            Err(RolesError::UnterminatedQuote { line: 1 })
        );
        assert_eq!(
            GroupFile::parse("g: \"a\0\""),
            Err(RolesError::ControlChar { line: 1 })
        );
    }
}
