//! The shared Require case table (`tests/fixtures/require_cases.txt`, format in its header):
//! parsed here once, then run against the core (the test below) and against real httpd with
//! mod_authrs (`tests/tests/apache_require_cases.rs`), so both read the table the same way.

use super::quote::split_words;
use super::AuthzResult;
use crate::identity::{AuthMethod, Identity, Roles};

/// One `? …` line: who asks, and the top-level result the rules must give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Line number in the table.
    pub line: usize,
    /// The identity words as written (for messages).
    pub spec: String,
    /// `None` for `anonymous`.
    pub identity: Option<Identity>,
    /// The expected result.
    pub expect: AuthzResult,
}

/// One `=== name` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The case's name (unique in the table).
    pub name: String,
    /// Line of its `===`.
    pub line: usize,
    /// The Require lines, verbatim.
    pub rules: String,
    /// The checks to run.
    pub checks: Vec<Check>,
    /// `! config-error`: the rules must be refused.
    pub config_error: bool,
}

fn parse_identity(line: usize, spec: &str) -> Result<(Option<Identity>, AuthzResult), String> {
    let words = split_words(spec).map_err(|()| format!("line {line}: bad quoting"))?;
    let mut id: Option<Identity> = None;
    let mut expect = None;
    let mut anonymous = false;
    for w in &words {
        if w == "anonymous" {
            anonymous = true;
            continue;
        }
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("line {line}: expected key=value, got {w:?}"))?;
        if k == "expect" {
            expect = Some(
                v.parse::<AuthzResult>()
                    .map_err(|e| format!("line {line}: {e}"))?,
            );
            continue;
        }
        let ident = id.get_or_insert_with(|| Identity::new("", AuthMethod::Password));
        match k {
            "user" => ident.user = v.to_string(),
            "method" => ident.method = v.parse().map_err(|e| format!("line {line}: {e}"))?,
            "dn" => ident.dn = Some(v.to_string()),
            "roles" => ident.roles = Roles::from_list(v),
            "groups" => {
                ident.groups = v
                    .split(',')
                    .filter(|g| !g.is_empty())
                    .map(String::from)
                    .collect()
            }
            other => return Err(format!("line {line}: unknown key {other:?}")),
        }
    }
    if anonymous == id.is_some() {
        return Err(format!("line {line}: give `anonymous` or user=…, not both"));
    }
    if id.as_ref().is_some_and(|i| i.user.is_empty()) {
        return Err(format!("line {line}: user= is required"));
    }
    let expect = expect.ok_or_else(|| format!("line {line}: expect= missing"))?;
    Ok((id, expect))
}

/// Parses the table; an error names the line.
pub fn parse_table(table: &str) -> Result<Vec<Case>, String> {
    let mut cases: Vec<Case> = Vec::new();
    for (idx, raw) in table.lines().enumerate() {
        let line = idx + 1;
        if let Some(name) = raw.strip_prefix("=== ") {
            cases.push(Case {
                name: name.trim().to_string(),
                line,
                rules: String::new(),
                checks: Vec::new(),
                config_error: false,
            });
            continue;
        }
        let Some(case) = cases.last_mut() else {
            // The header before the first case is documentation.
            continue;
        };
        if !case.checks.is_empty() && (raw.trim().is_empty() || raw.trim_start().starts_with('#')) {
            continue;
        }
        if let Some(spec) = raw.strip_prefix("? ") {
            let (identity, expect) = parse_identity(line, spec)?;
            case.checks.push(Check {
                line,
                spec: spec.to_string(),
                identity,
                expect,
            });
        } else if raw.trim() == "! config-error" {
            case.config_error = true;
        } else if !case.checks.is_empty() {
            return Err(format!("line {line}: rules after checks in {}", case.name));
        } else {
            case.rules.push_str(raw);
            case.rules.push('\n');
        }
    }
    Ok(cases)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::authz::RequireTree;

    const TABLE: &str = include_str!("../../../tests/fixtures/require_cases.txt");

    #[test]
    fn shared_case_table() {
        let cases = parse_table(TABLE).unwrap();
        assert!(cases.len() >= 40, "only {} cases", cases.len());
        let mut checks = 0;
        let mut seen = std::collections::HashSet::new();
        for case in &cases {
            assert!(
                seen.insert(case.name.clone()),
                "duplicate case name {}",
                case.name
            );
            let parsed = RequireTree::parse(&case.rules);
            if case.config_error {
                assert!(
                    case.checks.is_empty(),
                    "{}: config-error case with checks",
                    case.name
                );
                assert!(
                    parsed.is_err(),
                    "{} (line {}): expected a config error, parsed {parsed:?}",
                    case.name,
                    case.line
                );
                continue;
            }
            let tree = parsed.unwrap_or_else(|e| panic!("{} (line {}): {e}", case.name, case.line));
            assert!(!case.checks.is_empty(), "{}: no checks", case.name);
            for c in &case.checks {
                let got = tree.evaluate(c.identity.as_ref());
                assert_eq!(got, c.expect, "{} (check at line {})", case.name, c.line);
                checks += 1;
            }
        }
        assert!(checks >= 60, "only {checks} checks");
    }

    #[test]
    fn table_errors_name_the_line() {
        assert!(parse_table("=== a\nRequire valid-user\n? user=x\n")
            .unwrap_err()
            .contains("line 3"));
        assert!(parse_table("=== a\n? anonymous user=x expect=GRANTED\n")
            .unwrap_err()
            .contains("not both"));
        assert!(parse_table("=== a\n? user=x expect=MAYBE\n")
            .unwrap_err()
            .contains("line 2"));
        assert!(
            parse_table("=== a\n? anonymous expect=GRANTED\nRequire all granted\n")
                .unwrap_err()
                .contains("rules after checks")
        );
    }
}
