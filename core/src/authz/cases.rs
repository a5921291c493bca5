//! Runs the shared case table `tests/fixtures/require_cases.txt` against the core.

use super::quote::split_words;
use super::{AuthzResult, RequireTree};
use crate::identity::{AuthMethod, Identity, Roles};

const TABLE: &str = include_str!("../../../tests/fixtures/require_cases.txt");

/// One `=== name` block: its rules text and what must come of it.
struct Case {
    name: String,
    line: usize,
    rules: String,
    checks: Vec<(usize, Option<Identity>, AuthzResult)>,
    config_error: bool,
}

fn parse_identity(line: usize, spec: &str) -> (Option<Identity>, AuthzResult) {
    let words = split_words(spec).unwrap_or_else(|()| panic!("line {line}: bad quoting"));
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
            .unwrap_or_else(|| panic!("line {line}: expected key=value, got {w:?}"));
        if k == "expect" {
            expect = Some(
                v.parse::<AuthzResult>()
                    .unwrap_or_else(|e| panic!("line {line}: {e}")),
            );
            continue;
        }
        let ident = id.get_or_insert_with(|| Identity::new("", AuthMethod::Password));
        match k {
            "user" => ident.user = v.to_string(),
            "method" => ident.method = v.parse().unwrap_or_else(|e| panic!("line {line}: {e}")),
            "dn" => ident.dn = Some(v.to_string()),
            "roles" => ident.roles = Roles::from_list(v),
            "groups" => {
                ident.groups = v
                    .split(',')
                    .filter(|g| !g.is_empty())
                    .map(String::from)
                    .collect()
            }
            other => panic!("line {line}: unknown key {other:?}"),
        }
    }
    assert!(
        anonymous != id.is_some(),
        "line {line}: give `anonymous` or user=…, not both"
    );
    if let Some(ident) = &id {
        assert!(!ident.user.is_empty(), "line {line}: user= is required");
    }
    (
        id,
        expect.unwrap_or_else(|| panic!("line {line}: expect= missing")),
    )
}

fn load() -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for (idx, raw) in TABLE.lines().enumerate() {
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
            let (id, expect) = parse_identity(line, spec);
            case.checks.push((line, id, expect));
        } else if raw.trim() == "! config-error" {
            case.config_error = true;
        } else {
            assert!(
                case.checks.is_empty(),
                "line {line}: rules after checks in {}",
                case.name
            );
            case.rules.push_str(raw);
            case.rules.push('\n');
        }
    }
    cases
}

#[test]
fn shared_case_table() {
    let cases = load();
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
        for (line, id, expect) in &case.checks {
            let got = tree.evaluate(id.as_ref());
            assert_eq!(got, *expect, "{} (check at line {line})", case.name);
            checks += 1;
        }
    }
    assert!(checks >= 60, "only {checks} checks");
}
