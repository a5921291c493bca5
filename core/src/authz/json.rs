//! Require trees written as JSON (the Envoy filter's `require`), to and from [`RequireTree`].
//!
//! Every node is an object with exactly one key: containers `all`, `any`,
//! `none` (arrays of nodes), `not` (one rule), and the rules `valid_user`,
//! `user`, `group`, `role`, `cert_dn`, `cert_dn_regex`, `authn_method`,
//! `all_granted`, `all_denied`. A bare array is the implicit top-level
//! `<RequireAny>` of a `<Location>`. The tree is then checked exactly as httpd
//! checks Require sections at startup ([`RequireTree::validate`]).

use serde_json::{json, Value};

use super::tree::MAX_DEPTH;
use super::{AuthzError, RequireTree, RequireWord};

impl RequireTree {
    /// Reads a JSON require tree; errors name the JSON path of the offending node.
    pub fn from_json(value: &Value) -> Result<RequireTree, AuthzError> {
        let tree = node(value, "require", 0)?;
        tree.validate()?;
        Ok(tree)
    }

    /// Writes the tree in the JSON form [`RequireTree::from_json`] reads.
    pub fn to_json(&self) -> Value {
        let list =
            |children: &[RequireTree]| Value::Array(children.iter().map(Self::to_json).collect());
        match self {
            RequireTree::All(c) => json!({ "all": list(c) }),
            RequireTree::Any(c) => json!({ "any": list(c) }),
            RequireTree::None(c) => json!({ "none": list(c) }),
            RequireTree::Rule { negated, word } => {
                let rule = word_json(word);
                if *negated {
                    json!({ "not": rule })
                } else {
                    rule
                }
            }
        }
    }
}

fn word_json(word: &RequireWord) -> Value {
    match word {
        RequireWord::AllGranted => json!({"all_granted": true}),
        RequireWord::AllDenied => json!({"all_denied": true}),
        RequireWord::ValidUser => json!({"valid_user": true}),
        RequireWord::User(u) => json!({ "user": u }),
        RequireWord::Group(g) => json!({ "group": g }),
        RequireWord::Role { role, scopes } => {
            let mut all = vec![role.clone()];
            all.extend(scopes.iter().cloned());
            json!({ "role": all })
        }
        RequireWord::CertDn(dns) => json!({ "cert_dn": dns }),
        RequireWord::CertDnRegex(re) => json!({ "cert_dn_regex": re.as_str() }),
        RequireWord::AuthnMethod(m) => json!({ "authn_method": m.to_string() }),
        RequireWord::OpenIdId(u) => json!({ "openid_id": u }),
    }
}

/// The error for a malformed node at `at`.
fn bad(at: &str, why: impl Into<String>) -> AuthzError {
    AuthzError::Json {
        at: at.to_string(),
        why: why.into(),
    }
}

fn node(value: &Value, at: &str, depth: usize) -> Result<RequireTree, AuthzError> {
    if depth > MAX_DEPTH {
        return Err(AuthzError::TooDeep { line: 0 });
    }
    let (key, inner) = match value {
        Value::Array(_) => ("any", value),
        Value::Object(map) if map.len() == 1 => match map.iter().next() {
            Some((k, v)) => (k.as_str(), v),
            None => return Err(bad(at, "expected an object with exactly one key")),
        },
        Value::Object(map) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            return Err(bad(
                at,
                format!("expected an object with exactly one key, found {keys:?}"),
            ));
        }
        _ => return Err(bad(at, "expected an object such as {\"valid_user\": true}")),
    };
    let here = format!("{at}.{key}");
    match key {
        "all" | "any" | "none" => {
            let Value::Array(items) = inner else {
                return Err(bad(&here, "expected an array of rules"));
            };
            let children = items
                .iter()
                .enumerate()
                .map(|(i, v)| node(v, &format!("{here}[{i}]"), depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(match key {
                "all" => RequireTree::All(children),
                "any" => RequireTree::Any(children),
                _ => RequireTree::None(children),
            })
        }
        "not" => match node(inner, &here, depth + 1)? {
            RequireTree::Rule {
                negated: false,
                word,
            } => Ok(RequireTree::Rule {
                negated: true,
                word,
            }),
            _ => Err(bad(
                &here,
                "\"not\" takes one rule (like `Require not`); negate a container with \"none\"",
            )),
        },
        _ => Ok(RequireTree::Rule {
            negated: false,
            word: rule(key, inner, &here)?,
        }),
    }
}

/// One rule: `key` is the JSON spelling of a Require word.
fn rule(key: &str, v: &Value, at: &str) -> Result<RequireWord, AuthzError> {
    let flag = |word: RequireWord| match v {
        Value::Bool(true) => Ok(word),
        _ => Err(bad(at, "expected true")),
    };
    let strings = || -> Result<Vec<String>, AuthzError> {
        match v {
            Value::String(s) => Ok(vec![s.clone()]),
            Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(bad(at, "expected strings")),
                })
                .collect(),
            _ => Err(bad(at, "expected a string or an array of strings")),
        }
    };
    let one = || -> Result<String, AuthzError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            _ => Err(bad(at, "expected a string")),
        }
    };
    match key {
        "valid_user" => flag(RequireWord::ValidUser),
        "all_granted" => flag(RequireWord::AllGranted),
        "all_denied" => flag(RequireWord::AllDenied),
        "user" => RequireWord::parse("user", &strings()?),
        "group" => RequireWord::parse("group", &strings()?),
        "role" => RequireWord::parse("role", &strings()?),
        "cert_dn" => {
            let dns = strings()?;
            if dns.first().is_some_and(|d| d == "~") {
                return Err(bad(at, "use \"cert_dn_regex\" for a regular expression"));
            }
            RequireWord::parse("cert-dn", &dns)
        }
        "cert_dn_regex" => RequireWord::parse("cert-dn", &["~".to_string(), one()?]),
        "authn_method" => RequireWord::parse("authn-method", &[one()?]),
        "openid_id" => RequireWord::parse("openid-id", &strings()?),
        other => Err(bad(
            at,
            format!(
                "unknown rule {other:?} (expected all, any, none, not, valid_user, user, group, role, cert_dn, cert_dn_regex, authn_method, openid_id, all_granted or all_denied)"
            ),
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::authz::AuthzResult;
    use crate::identity::{AuthMethod, Identity};

    fn tree(v: Value) -> RequireTree {
        RequireTree::from_json(&v).unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    #[test]
    fn every_word_reads_and_round_trips() {
        let doc = json!({"all": [
            {"any": [{"user": ["alice", "bob"]}, {"group": "staff"}, {"valid_user": true}]},
            {"role": ["admin", "projectX"]},
            {"none": [{"cert_dn": "CN=mallory,O=x"}, {"cert_dn_regex": "^CN=evil"}]},
            {"not": {"authn_method": "password"}},
            {"any": [{"all_granted": true}, {"all_denied": true}]}
        ]});
        let t = tree(doc);
        let again = tree(t.to_json());
        assert_eq!(t.to_json(), again.to_json());
        // The same rules in Apache syntax give the same tree.
        let apache = RequireTree::parse(
            "<RequireAll>\n<RequireAny>\nRequire user alice bob\nRequire group staff\nRequire valid-user\n</RequireAny>\nRequire role admin projectX\n<RequireNone>\nRequire cert-dn \"CN=mallory,O=x\"\nRequire cert-dn ~ ^CN=evil\n</RequireNone>\nRequire not authn-method password\n<RequireAny>\nRequire all granted\nRequire all denied\n</RequireAny>\n</RequireAll>\n",
        )
        .unwrap();
        assert_eq!(apache.to_json(), json!({"any": [t.to_json()]}));
    }

    #[test]
    fn evaluates_like_httpd() {
        let t = tree(json!([{"user": ["alice"]}, {"role": ["admin"]}]));
        assert_eq!(t.evaluate(None), AuthzResult::DeniedNoUser);
        let alice = Identity::new("alice", AuthMethod::Password);
        assert_eq!(t.evaluate(Some(&alice)), AuthzResult::Granted);
        let bob = Identity::new("bob", AuthMethod::Password);
        assert_eq!(t.evaluate(Some(&bob)), AuthzResult::Denied);
    }

    #[test]
    fn mistakes_are_named_with_their_path() {
        for (doc, needle) in [
            (
                json!({"valid_user": true, "user": ["a"]}),
                "exactly one key",
            ),
            (json!({"vaild_user": true}), "unknown rule \"vaild_user\""),
            (json!({"all": [{"user": 3}]}), "require.all[0].user"),
            (json!({"all": {"user": ["a"]}}), "expected an array"),
            (json!({"all": []}), "contains no authorization"),
            (
                json!({"not": {"all": [{"valid_user": true}]}}),
                "takes one rule",
            ),
            (json!({"any": [{"not": {"user": ["a"]}}]}), "has no effect"),
            (json!({"not": {"user": ["mallory"]}}), "has no effect"),
            (json!({"none": [{"group": ["banned"]}]}), "has no effect"),
            (json!({"all": [{"not": {"user": ["a"]}}]}), "only negative"),
            (json!({"valid_user": false}), "expected true"),
            (json!({"cert_dn_regex": "("}), "regular expression"),
            (json!({"cert_dn": ["~", "x"]}), "cert_dn_regex"),
            (json!({"authn_method": "telepathy"}), "authn-method"),
            (json!({"user": []}), "at least one"),
            (json!({"user": [""]}), "empty argument"),
            (json!("valid_user"), "expected an object"),
            (json!(null), "expected an object"),
        ] {
            let e = RequireTree::from_json(&doc).unwrap_err().to_string();
            assert!(e.contains(needle), "{doc}: {e}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_recursing_forever() {
        let mut v = json!({"valid_user": true});
        for _ in 0..200 {
            v = json!({ "all": [v] });
        }
        let e = RequireTree::from_json(&v).unwrap_err();
        assert_eq!(e, AuthzError::TooDeep { line: 0 });
    }
}
