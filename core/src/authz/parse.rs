//! The rules-file parser: `Require` lines, `<RequireAll|Any|None>` containers, `Satisfy`, Apache quoting.
//!
//! Checks happen where httpd makes them (`add_authz_provider`,
//! `add_authz_section`, `authz_core_check_section`) so a file that `httpd -t`
//! refuses is refused here, with the line number.

use super::quote::split_words;
use super::tree::{has_positive, Op, MAX_DEPTH, TOP_NAME};
use super::{AuthzError, RequireTree, RequireWord, Satisfy};

impl RequireTree {
    /// Parses a rules file in Apache syntax into a checked tree.
    ///
    /// Only whole-line `#` comments exist (as in httpd: `Require user a # b`
    /// lists three users); a trailing `\` continues a line.
    pub fn parse(text: &str) -> Result<RequireTree, AuthzError> {
        let mut parser = Parser {
            stack: vec![Frame {
                kind: Kind::Top,
                line: 0,
                children: Vec::new(),
            }],
            satisfy: None,
        };
        for (line_no, line) in logical_lines(text) {
            parser.line(line_no, &line)?;
        }
        parser.finish()
    }
}

impl RequireTree {
    /// Builds a flat tree from `Require` arguments alone (`valid-user`, `not user bob`,
    /// `role admin projectX`), combined as `satisfy` says — for JSON configurations.
    ///
    /// Errors carry the 1-based index of the line; a line holding CR or LF is refused.
    pub fn from_lines(satisfy: Satisfy, lines: &[&str]) -> Result<RequireTree, AuthzError> {
        let mut rules = Vec::with_capacity(lines.len());
        for (idx, text) in lines.iter().enumerate() {
            let line = idx + 1;
            if text.contains(['\r', '\n']) {
                return Err(AuthzError::BadTag {
                    line,
                    why: "a Require line cannot hold a line break".into(),
                });
            }
            let words = split_words(text).map_err(|()| AuthzError::UnterminatedQuote { line })?;
            let (negated, rest) = match words.split_first() {
                Some((first, rest)) if first.eq_ignore_ascii_case("not") => (true, rest),
                _ => (false, &words[..]),
            };
            let Some((word, args)) = rest.split_first() else {
                return Err(AuthzError::UnknownWord {
                    line,
                    word: String::new(),
                });
            };
            let word = RequireWord::parse(word, args).map_err(|e| e.at_line(line))?;
            rules.push(RequireTree::Rule { negated, word });
        }
        RequireTree::top(satisfy, rules)
    }
}

/// Joins `\`-continued lines; yields (1-based first line number, text) for non-blank, non-comment lines.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (idx, raw) in text.lines().enumerate() {
        let (start, mut acc) = pending.take().unwrap_or((idx + 1, String::new()));
        let trimmed_end = raw.trim_end();
        if let Some(cont) = trimmed_end.strip_suffix('\\') {
            acc.push_str(cont);
            acc.push(' ');
            pending = Some((start, acc));
            continue;
        }
        acc.push_str(trimmed_end);
        let t = acc.trim();
        if !t.is_empty() && !t.starts_with('#') {
            out.push((start, t.to_string()));
        }
    }
    if let Some((start, acc)) = pending {
        let t = acc.trim();
        if !t.is_empty() && !t.starts_with('#') {
            out.push((start, t.to_string()));
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Top,
    All,
    Any,
    None,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Top => "<RequireAny>",
            Kind::All => "<RequireAll>",
            Kind::Any => "<RequireAny>",
            Kind::None => "<RequireNone>",
        }
    }

    fn from_name(name: &str) -> Option<Kind> {
        [
            ("RequireAll", Kind::All),
            ("RequireAny", Kind::Any),
            ("RequireNone", Kind::None),
        ]
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, k)| k)
    }
}

/// An open container and the rules read into it so far, each with its line.
struct Frame {
    kind: Kind,
    line: usize,
    children: Vec<(RequireTree, usize)>,
}

struct Parser {
    stack: Vec<Frame>,
    satisfy: Option<Satisfy>,
}

impl Parser {
    fn line(&mut self, line: usize, text: &str) -> Result<(), AuthzError> {
        if let Some(rest) = text.strip_prefix("</") {
            return self.close(line, rest);
        }
        if let Some(rest) = text.strip_prefix('<') {
            return self.open(line, rest);
        }
        let words = split_words(text).map_err(|()| AuthzError::UnterminatedQuote { line })?;
        let Some((directive, args)) = words.split_first() else {
            return Ok(());
        };
        if directive.eq_ignore_ascii_case("Require") {
            self.require(line, args)
        } else if directive.eq_ignore_ascii_case("Satisfy") {
            self.satisfy(line, args)
        } else {
            Err(AuthzError::UnknownDirective {
                line,
                directive: directive.clone(),
            })
        }
    }

    fn current(&mut self) -> &mut Frame {
        let last = self.stack.len() - 1; // the Top frame is never popped
        &mut self.stack[last]
    }

    fn require(&mut self, line: usize, args: &[String]) -> Result<(), AuthzError> {
        let (negated, rest) = match args.split_first() {
            Some((first, rest)) if first.eq_ignore_ascii_case("not") => (true, rest),
            _ => (false, args),
        };
        let Some((word, word_args)) = rest.split_first() else {
            return Err(AuthzError::UnknownWord {
                line,
                word: String::new(),
            });
        };
        let word = RequireWord::parse(word, word_args).map_err(|e| e.at_line(line))?;
        let frame = self.current();
        if negated && matches!(frame.kind, Kind::Any | Kind::None) {
            return Err(AuthzError::NegativeHasNoEffect {
                line,
                what: "negative Require".into(),
                container: frame.kind.tag(),
            });
        }
        frame
            .children
            .push((RequireTree::Rule { negated, word }, line));
        Ok(())
    }

    fn satisfy(&mut self, line: usize, args: &[String]) -> Result<(), AuthzError> {
        let bad = |why: &str| AuthzError::BadSatisfy {
            line,
            why: why.to_string(),
        };
        if self.stack.len() > 1 {
            return Err(bad("only allowed at the top level, outside containers"));
        }
        if self.satisfy.is_some() {
            return Err(bad("given twice"));
        }
        self.satisfy = Some(match args {
            [a] if a.eq_ignore_ascii_case("any") => Satisfy::Any,
            [a] if a.eq_ignore_ascii_case("all") => Satisfy::All,
            _ => return Err(bad("must be one of: Any | All")),
        });
        Ok(())
    }

    fn open(&mut self, line: usize, rest: &str) -> Result<(), AuthzError> {
        let name_end = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '>')
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        let Some(kind) = Kind::from_name(name) else {
            return Err(AuthzError::UnknownDirective {
                line,
                directive: format!("<{name}"),
            });
        };
        let Some(close) = rest.rfind('>') else {
            return Err(AuthzError::BadTag {
                line,
                why: format!("<{name}> directive missing closing '>'"),
            });
        };
        if close < name_end || !rest[name_end..close].trim().is_empty() || close + 1 != rest.len() {
            return Err(AuthzError::BadTag {
                line,
                why: format!("<{name}> directive doesn't take additional arguments"),
            });
        }
        if self.stack.len() > MAX_DEPTH {
            return Err(AuthzError::TooDeep { line });
        }
        self.stack.push(Frame {
            kind,
            line,
            children: Vec::new(),
        });
        Ok(())
    }

    fn close(&mut self, line: usize, rest: &str) -> Result<(), AuthzError> {
        let found = format!("</{rest}");
        let name = rest.strip_suffix('>').map(str::trim);
        let open_kind = self.current().kind;
        if open_kind == Kind::Top || name.and_then(Kind::from_name) != Some(open_kind) {
            return Err(AuthzError::MismatchedClose { line, found });
        }
        let Some(frame) = self.stack.pop() else {
            return Err(AuthzError::MismatchedClose { line, found });
        };
        if frame.children.is_empty() {
            return Err(AuthzError::EmptyContainer {
                line: frame.line,
                container: frame.kind.tag(),
            });
        }
        let children: Vec<RequireTree> = frame.children.into_iter().map(|(c, _)| c).collect();
        let node = match frame.kind {
            Kind::All => RequireTree::All(children),
            Kind::None => RequireTree::None(children),
            Kind::Any | Kind::Top => RequireTree::Any(children),
        };
        let parent = self.current();
        // Checks that depend on the parent's logic wait for `finish` at the top level (Satisfy may come later).
        if parent.kind != Kind::Top {
            let op = kind_op(parent.kind);
            check_child(&node, frame.line, op, parent.kind.tag())?;
        }
        parent.children.push((node, frame.line));
        Ok(())
    }

    fn finish(mut self) -> Result<RequireTree, AuthzError> {
        if self.stack.len() > 1 {
            let open = self.current();
            return Err(AuthzError::Unclosed {
                line: open.line,
                container: open.kind.tag(),
            });
        }
        let satisfy = self.satisfy.unwrap_or_default();
        let op = match satisfy {
            Satisfy::Any => Op::Or,
            Satisfy::All => Op::And,
        };
        let top = self.current();
        if top.children.is_empty() {
            return Err(AuthzError::NoRules);
        }
        for (child, line) in &top.children {
            check_child(child, *line, op, "<RequireAny>")?;
        }
        let rules: Vec<RequireTree> = std::mem::take(&mut top.children)
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        if !has_positive(op, &rules) {
            return Err(AuthzError::OnlyNegative {
                line: 0,
                container: TOP_NAME,
            });
        }
        Ok(match satisfy {
            Satisfy::Any => RequireTree::Any(rules),
            Satisfy::All => RequireTree::All(rules),
        })
    }
}

fn kind_op(kind: Kind) -> Op {
    match kind {
        Kind::All => Op::And,
        Kind::Top | Kind::Any | Kind::None => Op::Or,
    }
}

/// The checks httpd makes when a closed container joins a parent with logic `op`.
fn check_child(
    node: &RequireTree,
    line: usize,
    op: Op,
    parent_tag: &'static str,
) -> Result<(), AuthzError> {
    if op == Op::Or && node.is_negative() {
        return Err(AuthzError::NegativeHasNoEffect {
            line,
            what: node.negative_name(),
            container: parent_tag,
        });
    }
    if let Some((node_op, children)) = node.container() {
        if !node.inlined_into(Some(op)) && !has_positive(node_op, children) {
            return Err(AuthzError::OnlyNegative {
                line,
                container: node.tag(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn parses_containers_and_lines() {
        let text = "# rules\n\nSatisfy all\nrequire valid-user\n<RequireAny>\n  Require user a \\\n     b\n  Require group g\n</requireany>\nRequire not cert-dn \"CN=x y,O=z\"\n";
        let tree = RequireTree::parse(text).unwrap();
        let RequireTree::All(children) = &tree else {
            panic!("{tree:?}")
        };
        assert_eq!(children.len(), 3);
        assert_eq!(
            children[1],
            RequireTree::Any(vec![
                RequireTree::Rule {
                    negated: false,
                    word: RequireWord::User(vec!["a".into(), "b".into()])
                },
                RequireTree::Rule {
                    negated: false,
                    word: RequireWord::Group(vec!["g".into()])
                },
            ])
        );
        assert_eq!(
            children[2],
            RequireTree::Rule {
                negated: true,
                word: RequireWord::CertDn(vec!["CN=x y,O=z".into()])
            }
        );
        assert_eq!(tree.validate(), Ok(()));
    }

    fn err(text: &str) -> AuthzError {
        RequireTree::parse(text).unwrap_err()
    }

    #[test]
    fn errors_carry_lines_and_httpd_wording() {
        assert_eq!(
            err("Require valid-user\nRequire ldap-group x").to_string(),
            "line 2: Unknown Authz provider: ldap-group"
        );
        assert_eq!(
            err("Require not user bob\nRequire valid-user").to_string(),
            "line 1: negative Require directive has no effect in <RequireAny> directive"
        );
        assert_eq!(
            err("Require valid-user\n<RequireNone>\nRequire user a\n</RequireNone>").to_string(),
            "line 2: <RequireNone> directive has no effect in <RequireAny> directive"
        );
        assert_eq!(
            err("<RequireAll>\n</RequireAll>").to_string(),
            "line 1: <RequireAll> directive contains no authorization directives"
        );
        assert_eq!(
            err("<RequireAll>\nRequire not user a\n</RequireAll>").to_string(),
            "line 1: <RequireAll> directive contains only negative authorization directives"
        );
        assert!(matches!(
            err("Satisfy All\nRequire not user a"),
            AuthzError::OnlyNegative { line: 0, .. }
        ));
        assert_eq!(
            err("Satisfy All\nRequire not user a").to_string(),
            "<Directory>, <Location>, or similar directive contains only negative authorization directives"
        );
        assert_eq!(err("Require user a\nRequire user \"b").line(), 2);
        assert!(matches!(
            err("<RequireAll>\nRequire valid-user\n</RequireAny>"),
            AuthzError::MismatchedClose { line: 3, .. }
        ));
        assert!(matches!(
            err("</RequireAll>"),
            AuthzError::MismatchedClose { line: 1, .. }
        ));
        assert!(matches!(
            err("<RequireAll>\nRequire valid-user"),
            AuthzError::Unclosed { line: 1, .. }
        ));
        assert!(matches!(
            err("<RequireAll x>"),
            AuthzError::BadTag { line: 1, .. }
        ));
        assert!(matches!(
            err("<RequireAll"),
            AuthzError::BadTag { line: 1, .. }
        ));
        assert!(matches!(
            err("<Limit GET>"),
            AuthzError::UnknownDirective { .. }
        ));
        assert!(matches!(
            err("Allow from all"),
            AuthzError::UnknownDirective { .. }
        ));
        assert!(matches!(
            err("Require user \"a"),
            AuthzError::UnterminatedQuote { line: 1 }
        ));
        assert!(matches!(
            err("Require all granted extra"),
            AuthzError::BadArguments { line: 1, .. }
        ));
        assert!(matches!(err("Require"), AuthzError::UnknownWord { .. }));
        assert!(matches!(err("Require not"), AuthzError::UnknownWord { .. }));
        assert!(matches!(
            err("Satisfy some\nRequire valid-user"),
            AuthzError::BadSatisfy { .. }
        ));
        assert!(matches!(
            err("Satisfy any\nSatisfy all\nRequire valid-user"),
            AuthzError::BadSatisfy { line: 2, .. }
        ));
        assert!(matches!(
            err("<RequireAll>\nSatisfy all\nRequire valid-user\n</RequireAll>"),
            AuthzError::BadSatisfy { line: 2, .. }
        ));
        assert_eq!(err("# nothing\n\n"), AuthzError::NoRules);
        assert_eq!(err(""), AuthzError::NoRules);
    }

    #[test]
    fn from_lines_builds_flat_trees() {
        let tree = RequireTree::from_lines(
            Satisfy::All,
            &["valid-user", "NOT user bob", "role admin \"project X\""],
        )
        .unwrap();
        assert_eq!(
            tree,
            RequireTree::parse("Satisfy All\nRequire valid-user\nRequire not user bob\nRequire role admin \"project X\"").unwrap()
        );
        assert!(matches!(
            RequireTree::from_lines(Satisfy::Any, &["valid-user", "not user bob"]),
            Err(AuthzError::NegativeHasNoEffect { .. })
        ));
        assert!(matches!(
            RequireTree::from_lines(Satisfy::Any, &["valid-user", "nope x"]),
            Err(AuthzError::UnknownWord { line: 2, .. })
        ));
        assert!(RequireTree::from_lines(Satisfy::Any, &["user a\n<RequireNone>"]).is_err());
        assert!(RequireTree::from_lines(Satisfy::Any, &["not"]).is_err());
        assert_eq!(
            RequireTree::from_lines(Satisfy::Any, &[]),
            Err(AuthzError::NoRules)
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let mut text = String::new();
        for _ in 0..(MAX_DEPTH + 1) {
            text.push_str("<RequireAll>\n");
        }
        assert!(matches!(
            RequireTree::parse(&text),
            Err(AuthzError::TooDeep { .. })
        ));
        let huge = "<RequireAny>\n".repeat(100_000);
        assert!(RequireTree::parse(&huge).is_err());
    }

    #[test]
    fn hostile_bytes_do_not_panic() {
        for text in [
            "Require user \0",
            "Require\u{0}",
            "<\u{0}>",
            "<>",
            "</>",
            "<",
            "\\",
            "Require user a\\",
        ] {
            let _ = RequireTree::parse(text);
        }
        let tree = RequireTree::parse("Require user \"a\0b\"").unwrap();
        assert_eq!(
            tree,
            RequireTree::Any(vec![RequireTree::Rule {
                negated: false,
                word: RequireWord::User(vec!["a\0b".into()])
            }])
        );
    }
}
