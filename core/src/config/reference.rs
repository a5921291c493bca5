//! The README reference table, generated from [`OPTIONS`] so the docs cannot drift from the code.

use std::fmt::Write;

use super::spec::{Scope, Shells};
use super::table::OPTIONS;

/// Renders every option as a Markdown table: directive | JSON key | syntax | default | scope | help.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "| Directive | JSON key | Syntax | Default | Scope | Help |\n|---|---|---|---|---|---|\n",
    );
    for o in OPTIONS {
        let directive = o.directive.map_or("—".to_string(), |d| format!("`{d}`"));
        let json = o.json.map_or("—".to_string(), |j| format!("`{j}`"));
        let mut scope = match o.scope {
            Scope::Server => "server".to_string(),
            Scope::Directory => "directory".to_string(),
        };
        if o.repeatable {
            scope.push_str(", repeatable");
        }
        let shells = match o.shells {
            Shells::Both => "",
            Shells::Apache => " (Apache only)",
            Shells::Envoy => " (Envoy only)",
        };
        // Writing into a String cannot fail.
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {}{} |",
            directive,
            json,
            cell(&format!("`{}`", o.syntax)),
            cell(&o.default.describe()),
            scope,
            cell(o.help),
            shells,
        );
    }
    out
}

/// Makes text safe inside a table cell: pipes escaped, line breaks flattened.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_option_with_six_cells() {
        let md = reference_markdown();
        let rows: Vec<&str> = md.lines().skip(2).collect();
        assert_eq!(rows.len(), OPTIONS.len());
        for row in rows {
            let unescaped = row.replace("\\|", "");
            assert_eq!(unescaped.matches('|').count(), 7, "{row}");
        }
        assert!(md.contains("| `AuthRsCookieSameSite` | `cookie_same_site` | `Strict\\|Lax\\|None` | `Lax` | directory |"));
        assert!(md.contains("`AuthRsTicketKeyFile` | — |"));
        assert!(md.contains("| — | `ticket_keys` |"));
    }
}
