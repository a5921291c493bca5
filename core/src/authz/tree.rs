//! The Require tree and its evaluation, step for step as httpd's `apply_authz_sections`.

use super::{AuthzError, AuthzResult, RequireWord};
use crate::identity::Identity;

/// How deep containers may nest; deeper rules files are refused (and the evaluator's recursion stays bounded).
pub const MAX_DEPTH: usize = 16;

/// AuthCookie's `Satisfy`: how the top-level `Require` lines combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Satisfy {
    /// Any one top-level rule may grant (httpd 2.4's implicit `<RequireAny>`; the default).
    #[default]
    Any,
    /// Every top-level rule must grant (as if wrapped in `<RequireAll>`).
    All,
}

/// A parsed Require configuration: containers and rules, evaluated like mod_authz_core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequireTree {
    /// `<RequireAll>`: AND, stops at the first `Denied`.
    All(Vec<RequireTree>),
    /// `<RequireAny>`: OR, stops at the first `Granted`.
    Any(Vec<RequireTree>),
    /// `<RequireNone>`: a negated `<RequireAny>`.
    None(Vec<RequireTree>),
    /// One `Require [not] word args…` line.
    Rule {
        /// `Require not …`: `Granted` becomes `Denied`, `Denied` becomes `Neutral`.
        negated: bool,
        /// The word and its arguments.
        word: RequireWord,
    },
}

/// The logic of a container, as httpd's `authz_logic_op`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    And,
    Or,
}

impl RequireTree {
    /// Every group name a `group` rule of the tree names, negated or not.
    pub fn group_names(&self) -> Vec<&str> {
        match self {
            RequireTree::All(v) | RequireTree::Any(v) | RequireTree::None(v) => {
                v.iter().flat_map(RequireTree::group_names).collect()
            }
            RequireTree::Rule {
                word: RequireWord::Group(groups),
                ..
            } => groups.iter().map(String::as_str).collect(),
            RequireTree::Rule { .. } => Vec::new(),
        }
    }

    /// The top level of a rules file: the rules combined as `satisfy` says, checked like `httpd -t`.
    pub fn top(satisfy: Satisfy, rules: Vec<RequireTree>) -> Result<RequireTree, AuthzError> {
        if rules.is_empty() {
            return Err(AuthzError::NoRules);
        }
        let tree = match satisfy {
            Satisfy::Any => RequireTree::Any(rules),
            Satisfy::All => RequireTree::All(rules),
        };
        tree.validate()?;
        Ok(tree)
    }

    /// Checks a tree built by hand the way httpd checks its configuration (errors carry line 0).
    ///
    /// Refused: empty containers, `Require not`/`<RequireNone>` directly in an
    /// OR container (`<RequireAny>`, `<RequireNone>`), and containers whose
    /// rules are all negative (after httpd's associative and De Morgan folding).
    pub fn validate(&self) -> Result<(), AuthzError> {
        // The top level is an OR, as httpd's implicit <RequireAny>: a negative rule or
        // <RequireNone> there can only deny (`{"not": {"user": ["mallory"]}}` is "nobody").
        if self.is_negative() {
            return Err(AuthzError::NegativeHasNoEffect {
                line: 0,
                what: self.negative_name(),
                container: "<RequireAny>",
            });
        }
        self.validate_at(None, 0, true)
    }

    fn validate_at(&self, parent: Option<Op>, depth: usize, top: bool) -> Result<(), AuthzError> {
        let Some((op, children)) = self.container() else {
            return Ok(());
        };
        if depth > MAX_DEPTH {
            return Err(AuthzError::TooDeep { line: 0 });
        }
        if children.is_empty() {
            return Err(AuthzError::EmptyContainer {
                line: 0,
                container: self.tag(),
            });
        }
        for child in children {
            if op == Op::Or && child.is_negative() {
                return Err(AuthzError::NegativeHasNoEffect {
                    line: 0,
                    what: child.negative_name(),
                    container: if top { "<RequireAny>" } else { self.tag() },
                });
            }
            child.validate_at(Some(op), depth + 1, false)?;
        }
        if !self.inlined_into(parent) && !has_positive(op, children) {
            return Err(AuthzError::OnlyNegative {
                line: 0,
                container: if top { TOP_NAME } else { self.tag() },
            });
        }
        Ok(())
    }

    /// Evaluates the tree for a request; `None` means no authenticated user yet. Never allocates.
    pub fn evaluate(&self, identity: Option<&Identity>) -> AuthzResult {
        match self {
            RequireTree::Rule { negated, word } => {
                let result = word.check(identity);
                if *negated {
                    negate(result)
                } else {
                    result
                }
            }
            RequireTree::All(children) => combine(Op::And, children, identity),
            RequireTree::Any(children) => combine(Op::Or, children, identity),
            RequireTree::None(children) => negate(combine(Op::Or, children, identity)),
        }
    }

    /// The container's logic and children; `None` for a rule.
    pub(crate) fn container(&self) -> Option<(Op, &[RequireTree])> {
        match self {
            RequireTree::All(c) => Some((Op::And, c)),
            RequireTree::Any(c) | RequireTree::None(c) => Some((Op::Or, c)),
            RequireTree::Rule { .. } => None,
        }
    }

    /// The opening tag, as httpd's `format_authz_command` writes it.
    pub(crate) fn tag(&self) -> &'static str {
        match self {
            RequireTree::All(_) => "<RequireAll>",
            RequireTree::Any(_) => "<RequireAny>",
            RequireTree::None(_) => "<RequireNone>",
            RequireTree::Rule { .. } => "Require",
        }
    }

    /// A negated rule or a `<RequireNone>`: something that can only deny.
    pub(crate) fn is_negative(&self) -> bool {
        matches!(
            self,
            RequireTree::None(_) | RequireTree::Rule { negated: true, .. }
        )
    }

    pub(crate) fn negative_name(&self) -> String {
        match self {
            RequireTree::None(_) => "<RequireNone>".into(),
            _ => "negative Require".into(),
        }
    }

    /// True when httpd would splice this container's children into its parent ("be associative").
    pub(crate) fn inlined_into(&self, parent: Option<Op>) -> bool {
        matches!(
            (self, parent),
            (RequireTree::All(_), Some(Op::And)) | (RequireTree::Any(_), Some(Op::Or))
        )
    }
}

/// How httpd names the top level in "contains only negative authorization directives".
pub(crate) const TOP_NAME: &str = "<Directory>, <Location>, or similar";

/// httpd's `authz_core_check_section` test: after folding, is one child non-negated?
///
/// Same-op containers are folded into the parent (associativity); a
/// `<RequireNone>` inside an AND is folded by De Morgan into negated rules.
pub(crate) fn has_positive(op: Op, children: &[RequireTree]) -> bool {
    children.iter().any(|child| match child {
        RequireTree::Rule { negated, .. } => !negated,
        RequireTree::None(_) => false,
        RequireTree::All(c) if op == Op::And => has_positive(op, c),
        RequireTree::Any(c) if op == Op::Or => has_positive(op, c),
        RequireTree::All(_) | RequireTree::Any(_) => true,
    })
}

/// `Require not` / `<RequireNone>`: GRANTED→DENIED, DENIED and DENIED_NO_USER→NEUTRAL, the rest unchanged.
pub(crate) fn negate(result: AuthzResult) -> AuthzResult {
    match result {
        AuthzResult::Granted => AuthzResult::Denied,
        AuthzResult::Denied | AuthzResult::DeniedNoUser => AuthzResult::Neutral,
        AuthzResult::Neutral | AuthzResult::GeneralError => result,
    }
}

/// The child loop of `apply_authz_sections`, over already-computed or lazily computed results.
fn combine(op: Op, children: &[RequireTree], identity: Option<&Identity>) -> AuthzResult {
    let mut result = AuthzResult::Neutral;
    for child in children {
        match step(op, result, child.evaluate(identity)) {
            Step::Continue(r) => result = r,
            Step::Stop(r) => return r,
        }
    }
    result
}

/// Whether a container keeps looking at its children.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Go on with this running result.
    Continue(AuthzResult),
    /// Short-circuit with this result.
    Stop(AuthzResult),
}

/// One child's result folded into a container's running result, exactly as httpd does.
///
/// GENERAL_ERROR stops everything. AND stops at DENIED; DENIED_NO_USER beats
/// GRANTED. OR stops at GRANTED; DENIED_NO_USER beats DENIED. NEUTRAL is skipped.
pub(crate) fn step(op: Op, running: AuthzResult, child: AuthzResult) -> Step {
    use AuthzResult::*;
    match (op, child) {
        (_, GeneralError) => Step::Stop(GeneralError),
        (_, Neutral) => Step::Continue(running),
        (Op::And, Denied) => Step::Stop(Denied),
        (Op::Or, Granted) => Step::Stop(Granted),
        (Op::And, _) if (child == DeniedNoUser && running != Denied) || running == Neutral => {
            Step::Continue(child)
        }
        (Op::Or, _) if (child == DeniedNoUser && running == Denied) || running == Neutral => {
            Step::Continue(child)
        }
        _ => Step::Continue(running),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::identity::AuthMethod;
    use AuthzResult::*;

    fn rule(negated: bool, word: &str, args: &[&str]) -> RequireTree {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        RequireTree::Rule {
            negated,
            word: RequireWord::parse(word, &args).unwrap(),
        }
    }

    fn fold(op: Op, results: &[AuthzResult]) -> AuthzResult {
        let mut running = Neutral;
        for r in results {
            match step(op, running, *r) {
                Step::Continue(r) => running = r,
                Step::Stop(r) => return r,
            }
        }
        running
    }

    #[test]
    fn and_semantics() {
        assert_eq!(fold(Op::And, &[]), Neutral);
        assert_eq!(fold(Op::And, &[Neutral, Neutral]), Neutral);
        assert_eq!(fold(Op::And, &[Granted, Neutral]), Granted);
        assert_eq!(
            fold(Op::And, &[Granted, DeniedNoUser, Granted]),
            DeniedNoUser
        );
        assert_eq!(fold(Op::And, &[DeniedNoUser, Denied]), Denied);
        assert_eq!(fold(Op::And, &[Denied, GeneralError]), Denied);
        assert_eq!(
            fold(Op::And, &[Granted, GeneralError, Denied]),
            GeneralError
        );
    }

    #[test]
    fn or_semantics() {
        assert_eq!(fold(Op::Or, &[Neutral]), Neutral);
        assert_eq!(fold(Op::Or, &[Denied, Neutral]), Denied);
        assert_eq!(fold(Op::Or, &[Denied, DeniedNoUser]), DeniedNoUser);
        assert_eq!(fold(Op::Or, &[DeniedNoUser, Denied]), DeniedNoUser);
        assert_eq!(fold(Op::Or, &[DeniedNoUser, Granted]), Granted);
        assert_eq!(fold(Op::Or, &[Granted, GeneralError]), Granted);
        assert_eq!(fold(Op::Or, &[Denied, GeneralError, Granted]), GeneralError);
    }

    #[test]
    fn negation() {
        assert_eq!(negate(Granted), Denied);
        assert_eq!(negate(Denied), Neutral);
        assert_eq!(negate(DeniedNoUser), Neutral);
        assert_eq!(negate(Neutral), Neutral);
        assert_eq!(negate(GeneralError), GeneralError);
    }

    #[test]
    fn evaluate_nested() {
        let tree = RequireTree::top(
            Satisfy::Any,
            vec![RequireTree::All(vec![
                rule(false, "valid-user", &[]),
                rule(true, "user", &["mallory"]),
                RequireTree::None(vec![rule(false, "group", &["banned"])]),
            ])],
        )
        .unwrap();
        let alice = Identity::new("alice", AuthMethod::Password);
        let mallory = Identity::new("mallory", AuthMethod::Password);
        let mut banned = Identity::new("bob", AuthMethod::Password);
        banned.groups.insert("banned".into());
        assert_eq!(tree.evaluate(Some(&alice)), Granted);
        assert_eq!(tree.evaluate(Some(&mallory)), Denied);
        assert_eq!(tree.evaluate(Some(&banned)), Denied);
        assert_eq!(tree.evaluate(None), DeniedNoUser);
    }

    #[test]
    fn validation_mirrors_httpd_check_config() {
        let neg = || rule(true, "user", &["bob"]);
        let pos = || rule(false, "valid-user", &[]);
        assert!(matches!(
            RequireTree::top(Satisfy::Any, vec![neg(), pos()]),
            Err(AuthzError::NegativeHasNoEffect { .. })
        ));
        assert!(matches!(
            RequireTree::top(Satisfy::All, vec![neg()]),
            Err(AuthzError::OnlyNegative {
                container: TOP_NAME,
                ..
            })
        ));
        assert!(RequireTree::top(Satisfy::All, vec![neg(), pos()]).is_ok());
        // <RequireAll> inside <RequireAll> is folded: its negatives count with the parent's positive.
        assert!(RequireTree::top(Satisfy::All, vec![pos(), RequireTree::All(vec![neg()])]).is_ok());
        // …but inside <RequireAny> it is kept, and checked on its own.
        assert!(matches!(
            RequireTree::top(Satisfy::Any, vec![pos(), RequireTree::All(vec![neg()])]),
            Err(AuthzError::OnlyNegative {
                container: "<RequireAll>",
                ..
            })
        ));
        assert!(matches!(
            RequireTree::top(Satisfy::Any, vec![RequireTree::None(vec![pos()])]),
            Err(AuthzError::NegativeHasNoEffect { .. })
        ));
        assert!(matches!(
            RequireTree::top(Satisfy::All, vec![RequireTree::All(vec![])]),
            Err(AuthzError::EmptyContainer { .. })
        ));
        assert!(matches!(
            RequireTree::top(Satisfy::Any, vec![]),
            Err(AuthzError::NoRules)
        ));
        let mut deep = pos();
        for _ in 0..=MAX_DEPTH {
            deep = RequireTree::All(vec![RequireTree::Any(vec![deep])]);
        }
        assert!(matches!(deep.validate(), Err(AuthzError::TooDeep { .. })));
    }

    /// The nesting cap is exact: containers down to depth [`MAX_DEPTH`] are accepted, one level
    /// more is refused (the evaluator recurses once per level).
    #[test]
    fn depth_limit_is_exact() {
        let nested = |containers: usize| {
            let mut tree = rule(false, "valid-user", &[]);
            for _ in 0..containers {
                tree = RequireTree::All(vec![tree]);
            }
            tree
        };
        // The outermost container sits at depth 0.
        assert_eq!(nested(MAX_DEPTH + 1).validate(), Ok(()));
        assert!(matches!(
            nested(MAX_DEPTH + 2).validate(),
            Err(AuthzError::TooDeep { .. })
        ));
    }
}
