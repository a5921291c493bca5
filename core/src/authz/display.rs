//! Writing a tree back as an Apache rules file, quoted so that [`RequireTree::parse`] reads it back.

use std::fmt::{self, Write as _};

use super::quote::quote;
use super::{RequireTree, RequireWord};

impl fmt::Display for RequireTree {
    /// Writes the tree as a rules file: the top-level container becomes plain lines
    /// (`Satisfy All` first when it is a `<RequireAll>`), nested ones become tags.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequireTree::Any(children) => write_children(f, children, 0),
            RequireTree::All(children) => {
                f.write_str("Satisfy All\n")?;
                write_children(f, children, 0)
            }
            other => write_node(f, other, 0),
        }
    }
}

impl fmt::Display for RequireWord {
    /// The word and its arguments as they follow `Require` (`role admin projectX`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self {
            RequireWord::AllGranted => f.write_str(" granted"),
            RequireWord::AllDenied => f.write_str(" denied"),
            RequireWord::ValidUser => Ok(()),
            RequireWord::User(args)
            | RequireWord::Group(args)
            | RequireWord::CertDn(args)
            | RequireWord::OpenIdId(args) => write_args(f, args),
            RequireWord::Role { role, scopes } => {
                write_args(f, std::slice::from_ref(role))?;
                write_args(f, scopes)
            }
            RequireWord::CertDnRegex(re) => {
                f.write_str(" ~")?;
                write_args(f, &[re.as_str().to_string()])
            }
            RequireWord::AuthnMethod(m) => write!(f, " {m}"),
        }
    }
}

fn write_children(
    f: &mut fmt::Formatter<'_>,
    children: &[RequireTree],
    depth: usize,
) -> fmt::Result {
    children.iter().try_for_each(|c| write_node(f, c, depth))
}

fn write_node(f: &mut fmt::Formatter<'_>, node: &RequireTree, depth: usize) -> fmt::Result {
    let indent = "  ".repeat(depth);
    match node {
        RequireTree::Rule { negated, word } => {
            let not = if *negated { "not " } else { "" };
            writeln!(f, "{indent}Require {not}{word}")
        }
        RequireTree::All(children) | RequireTree::Any(children) | RequireTree::None(children) => {
            let tag = node.tag();
            writeln!(f, "{indent}{tag}")?;
            write_children(f, children, depth + 1)?;
            writeln!(f, "{indent}</{}", &tag[1..])
        }
    }
}

fn write_args(f: &mut fmt::Formatter<'_>, args: &[String]) -> fmt::Result {
    for arg in args {
        f.write_char(' ')?;
        f.write_str(&quote(arg))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let text = "Satisfy All\nRequire valid-user\nRequire not user \"john smith\" o'brien \"a\\\\b\" \"say \\\"hi\\\"\"\n<RequireAny>\n  Require role admin projectX\n  Require cert-dn \"CN=Smith\\, John,O=x\" ~x\n  Require cert-dn ~ \"^CN=[^,]+ x$\"\n  <RequireAll>\n    Require authn-method cert\n    Require group staff\n  </RequireAll>\n</RequireAny>\n<RequireNone>\n  Require all granted\n</RequireNone>\n";
        let tree = RequireTree::parse(text).unwrap();
        let written = tree.to_string();
        assert_eq!(RequireTree::parse(&written).unwrap(), tree, "{written}");
        assert!(
            written.starts_with("Satisfy All\nRequire valid-user\n"),
            "{written}"
        );
        assert!(
            written.contains("  Require cert-dn ~ \"^CN=[^,]+ x$\"\n"),
            "{written}"
        );
        let any = RequireTree::parse("Require user a\nRequire group g").unwrap();
        assert_eq!(any.to_string(), "Require user a\nRequire group g\n");
    }
}
