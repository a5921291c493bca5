//! One `Require` word (an httpd authz provider): its arguments and what it returns on its own.

use std::fmt;

use regex::Regex;

use super::{AuthzError, AuthzResult};
use crate::identity::{AuthMethod, Identity};

/// A `Require` word with its parsed arguments, as one httpd authz provider would hold them.
#[derive(Clone)]
pub enum RequireWord {
    /// `Require all granted` (httpd core).
    AllGranted,
    /// `Require all denied` (httpd core).
    AllDenied,
    /// `Require valid-user`: any authenticated user.
    ValidUser,
    /// `Require user a b …`: one of these user names (case-sensitive, like `strcmp`).
    User(Vec<String>),
    /// `Require group g …`: member of one of these groups (ASCII case-insensitive, like httpd's `apr_table_get`).
    Group(Vec<String>),
    /// `Require role r [scope…]`: holds the role, for any one of the scopes when some are listed.
    Role {
        /// The role name.
        role: String,
        /// Acceptable scopes; empty means any holding of the role.
        scopes: Vec<String>,
    },
    /// `Require cert-dn DN …`: the certificate subject DN equals one of these exactly.
    CertDn(Vec<String>),
    /// `Require cert-dn ~ REGEX`: the certificate subject DN matches (unanchored, like httpd's `~`).
    CertDnRegex(Regex),
    /// `Require authn-method cert|openid|password`: authenticated at least this strongly.
    AuthnMethod(AuthMethod),
    /// `Require openid-id URL …`: logged in with OpenID as one of these identities (normalized
    /// at parse time, `example.org/alice` → `http://example.org/alice`).
    OpenIdId(Vec<String>),
}

impl RequireWord {
    /// Builds a word from its name and its arguments (already split with Apache quoting).
    ///
    /// Stricter than httpd where httpd silently ignores mistakes: words that
    /// need arguments refuse none, `valid-user` refuses arguments, empty
    /// arguments are refused.
    pub fn parse(word: &str, args: &[String]) -> Result<RequireWord, AuthzError> {
        let bad = |word: &'static str, why: &str| AuthzError::BadArguments {
            line: 0,
            word,
            why: why.to_string(),
        };
        if args.iter().any(|a| a.is_empty()) {
            let name = known_name(word).unwrap_or("?");
            return Err(bad(name, "empty argument"));
        }
        match word {
            "all" => match args {
                [a] if a.eq_ignore_ascii_case("granted") => Ok(RequireWord::AllGranted),
                [a] if a.eq_ignore_ascii_case("denied") => Ok(RequireWord::AllDenied),
                _ => Err(bad(
                    "all",
                    "Argument for 'Require all' must be 'granted' or 'denied'",
                )),
            },
            "valid-user" if args.is_empty() => Ok(RequireWord::ValidUser),
            "valid-user" => Err(bad("valid-user", "takes no arguments")),
            "user" | "group" | "cert-dn" | "role" | "authn-method" | "openid-id"
                if args.is_empty() =>
            {
                let name = known_name(word).unwrap_or("?");
                Err(bad(name, "needs at least one argument"))
            }
            "user" => Ok(RequireWord::User(args.to_vec())),
            "group" => Ok(RequireWord::Group(args.to_vec())),
            "role" => Ok(RequireWord::Role {
                role: args[0].clone(),
                scopes: args[1..].to_vec(),
            }),
            "cert-dn" => match args {
                [tilde, re] if tilde == "~" => Regex::new(re)
                    .map(RequireWord::CertDnRegex)
                    .map_err(|e| bad("cert-dn", &format!("bad regular expression: {e}"))),
                [tilde, ..] if tilde == "~" => Err(bad(
                    "cert-dn",
                    "`~` takes exactly one regular expression (quote it if it has spaces)",
                )),
                _ => Ok(RequireWord::CertDn(args.to_vec())),
            },
            "authn-method" => match args {
                [m] => m
                    .parse::<AuthMethod>()
                    .map(RequireWord::AuthnMethod)
                    .map_err(|e| bad("authn-method", &e.to_string())),
                _ => Err(bad("authn-method", "takes exactly one method")),
            },
            "openid-id" => args
                .iter()
                .map(|a| {
                    crate::openid::identifier::normalize(a)
                        .map(|u| u.to_string())
                        .map_err(|e| {
                            bad(
                                "openid-id",
                                &format!("{a:?} is not an OpenID identifier: {e}"),
                            )
                        })
                })
                .collect::<Result<_, _>>()
                .map(RequireWord::OpenIdId),
            other => Err(AuthzError::UnknownWord {
                line: 0,
                word: other.to_string(),
            }),
        }
    }

    /// The word as written after `Require`: `all`, `valid-user`, `role`, `cert-dn`, …
    pub fn name(&self) -> &'static str {
        match self {
            RequireWord::AllGranted | RequireWord::AllDenied => "all",
            RequireWord::ValidUser => "valid-user",
            RequireWord::User(_) => "user",
            RequireWord::Group(_) => "group",
            RequireWord::Role { .. } => "role",
            RequireWord::CertDn(_) | RequireWord::CertDnRegex(_) => "cert-dn",
            RequireWord::AuthnMethod(_) => "authn-method",
            RequireWord::OpenIdId(_) => "openid-id",
        }
    }

    /// What this provider returns on its own: `DeniedNoUser` without an identity
    /// (except `all`), `Granted` on a match, `Denied` otherwise. Never allocates.
    ///
    /// `cert-dn` matches only an identity whose method is `cert` and that
    /// carries a DN: a ticket that dropped the DN, or a password user, never
    /// matches.
    pub fn check(&self, identity: Option<&Identity>) -> AuthzResult {
        let id = match (self, identity) {
            (RequireWord::AllGranted, _) => return AuthzResult::Granted,
            (RequireWord::AllDenied, _) => return AuthzResult::Denied,
            (_, None) => return AuthzResult::DeniedNoUser,
            (_, Some(id)) => id,
        };
        let granted = match self {
            RequireWord::AllGranted | RequireWord::AllDenied | RequireWord::ValidUser => true,
            RequireWord::User(users) => users.contains(&id.user),
            RequireWord::Group(groups) => groups
                .iter()
                .any(|g| id.groups.iter().any(|held| held.eq_ignore_ascii_case(g))),
            RequireWord::Role { role, scopes } if scopes.is_empty() => {
                id.roles.has_role(role, None)
            }
            RequireWord::Role { role, scopes } => {
                scopes.iter().any(|s| id.roles.has_role(role, Some(s)))
            }
            RequireWord::CertDn(dns) => {
                cert_dn(id).is_some_and(|dn| dns.iter().any(|want| want == dn))
            }
            RequireWord::CertDnRegex(re) => cert_dn(id).is_some_and(|dn| re.is_match(dn)),
            RequireWord::AuthnMethod(required) => {
                id.method.satisfies_with(*required, id.openid_strength)
            }
            RequireWord::OpenIdId(urls) => {
                id.method == AuthMethod::OpenId && urls.contains(&id.user)
            }
        };
        if granted {
            AuthzResult::Granted
        } else {
            AuthzResult::Denied
        }
    }
}

/// The DN a `cert-dn` rule may look at: only that of a certificate-authenticated identity.
fn cert_dn(id: &Identity) -> Option<&str> {
    match id.method {
        AuthMethod::Cert => id.dn.as_deref(),
        AuthMethod::Password | AuthMethod::OpenId => None,
    }
}

/// The static name of a known word, for error messages.
fn known_name(word: &str) -> Option<&'static str> {
    [
        "all",
        "valid-user",
        "user",
        "group",
        "role",
        "cert-dn",
        "authn-method",
        "openid-id",
    ]
    .into_iter()
    .find(|w| *w == word)
}

impl PartialEq for RequireWord {
    fn eq(&self, other: &Self) -> bool {
        use RequireWord::*;
        match (self, other) {
            (AllGranted, AllGranted) | (AllDenied, AllDenied) | (ValidUser, ValidUser) => true,
            (User(a), User(b)) | (Group(a), Group(b)) | (CertDn(a), CertDn(b)) => a == b,
            (
                Role {
                    role: r1,
                    scopes: s1,
                },
                Role {
                    role: r2,
                    scopes: s2,
                },
            ) => r1 == r2 && s1 == s2,
            // Two regexes are the same rule when written the same way.
            (CertDnRegex(a), CertDnRegex(b)) => a.as_str() == b.as_str(),
            (AuthnMethod(a), AuthnMethod(b)) => a == b,
            (OpenIdId(a), OpenIdId(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for RequireWord {}

impl fmt::Debug for RequireWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequireWord::AllGranted => f.write_str("AllGranted"),
            RequireWord::AllDenied => f.write_str("AllDenied"),
            RequireWord::ValidUser => f.write_str("ValidUser"),
            RequireWord::User(u) => f.debug_tuple("User").field(u).finish(),
            RequireWord::Group(g) => f.debug_tuple("Group").field(g).finish(),
            RequireWord::Role { role, scopes } => f
                .debug_struct("Role")
                .field("role", role)
                .field("scopes", scopes)
                .finish(),
            RequireWord::CertDn(d) => f.debug_tuple("CertDn").field(d).finish(),
            RequireWord::CertDnRegex(re) => {
                f.debug_tuple("CertDnRegex").field(&re.as_str()).finish()
            }
            RequireWord::AuthnMethod(m) => f.debug_tuple("AuthnMethod").field(m).finish(),
            RequireWord::OpenIdId(u) => f.debug_tuple("OpenIdId").field(u).finish(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::identity::Roles;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn w(word: &str, a: &[&str]) -> RequireWord {
        RequireWord::parse(word, &args(a)).unwrap()
    }

    fn cert_user(dn: &str) -> Identity {
        let mut id = Identity::new("alice", AuthMethod::Cert);
        id.dn = Some(dn.to_string());
        id
    }

    #[test]
    fn openid_id_matches_only_openid_logins_of_the_normalized_identity() {
        let rule = w("openid-id", &["op.example/alice", "https://op.example/bob"]);
        assert_eq!(rule.name(), "openid-id");
        assert_eq!(
            rule,
            RequireWord::OpenIdId(vec![
                "http://op.example/alice".into(),
                "https://op.example/bob".into()
            ])
        );
        let alice = Identity::new("http://op.example/alice", AuthMethod::OpenId);
        assert_eq!(rule.check(Some(&alice)), AuthzResult::Granted);
        let carol = Identity::new("http://op.example/carol", AuthMethod::OpenId);
        assert_eq!(rule.check(Some(&carol)), AuthzResult::Denied);
        // A password user who picked the URL as a user name is not that OpenID identity.
        let impostor = Identity::new("http://op.example/alice", AuthMethod::Password);
        assert_eq!(rule.check(Some(&impostor)), AuthzResult::Denied);
        assert_eq!(rule.check(None), AuthzResult::DeniedNoUser);
        assert!(RequireWord::parse("openid-id", &[]).is_err());
        assert!(RequireWord::parse("openid-id", &args(&["ftp://x/"])).is_err());
        assert!(RequireWord::parse("openid-id", &args(&["xri://=x"])).is_err());
    }

    #[test]
    fn parse_and_names() {
        assert_eq!(w("all", &["GRANTED"]), RequireWord::AllGranted);
        assert_eq!(w("all", &["denied"]), RequireWord::AllDenied);
        assert!(RequireWord::parse("all", &args(&["granted", "x"])).is_err());
        assert!(RequireWord::parse("all", &[]).is_err());
        assert!(RequireWord::parse("valid-user", &args(&["alice"])).is_err());
        assert!(RequireWord::parse("user", &[]).is_err());
        assert!(RequireWord::parse("user", &args(&["a", ""])).is_err());
        assert!(RequireWord::parse("Valid-User", &[]).is_err());
        assert!(matches!(
            RequireWord::parse("ldap-user", &args(&["x"])),
            Err(AuthzError::UnknownWord { .. })
        ));
        assert!(RequireWord::parse("cert-dn", &args(&["~", "("])).is_err());
        assert!(RequireWord::parse("cert-dn", &args(&["~", "a", "b"])).is_err());
        assert!(RequireWord::parse("authn-method", &args(&["kerberos"])).is_err());
        assert_eq!(
            w("role", &["admin", "projectX"]),
            RequireWord::Role {
                role: "admin".into(),
                scopes: vec!["projectX".into()]
            }
        );
        assert_eq!(w("cert-dn", &["~", "^CN=a"]), w("cert-dn", &["~", "^CN=a"]));
        assert_ne!(w("cert-dn", &["~", "^CN=a"]), w("cert-dn", &["^CN=a"]));
        for (word, a, name) in [
            ("all", &["granted"][..], "all"),
            ("valid-user", &[][..], "valid-user"),
            ("user", &["a"][..], "user"),
            ("group", &["g"][..], "group"),
            ("role", &["r"][..], "role"),
            ("cert-dn", &["~", "x"][..], "cert-dn"),
            ("authn-method", &["cert"][..], "authn-method"),
        ] {
            assert_eq!(w(word, a).name(), name);
        }
        assert!(format!("{:?}", w("cert-dn", &["~", "^CN="])).contains("^CN="));
    }

    #[test]
    fn no_identity_is_denied_no_user_except_all() {
        assert_eq!(w("all", &["granted"]).check(None), AuthzResult::Granted);
        assert_eq!(w("all", &["denied"]).check(None), AuthzResult::Denied);
        for word in [
            w("valid-user", &[]),
            w("user", &["a"]),
            w("group", &["g"]),
            w("role", &["r"]),
            w("cert-dn", &["CN=a"]),
            w("cert-dn", &["~", "."]),
            w("authn-method", &["password"]),
        ] {
            assert_eq!(word.check(None), AuthzResult::DeniedNoUser, "{word:?}");
        }
    }

    #[test]
    fn matching() {
        let mut id = Identity::new("alice", AuthMethod::Password);
        id.groups.insert("Staff".into());
        id.roles = Roles::from_list("admin:projectX reader");
        assert_eq!(
            w("user", &["bob", "alice"]).check(Some(&id)),
            AuthzResult::Granted
        );
        assert_eq!(w("user", &["Alice"]).check(Some(&id)), AuthzResult::Denied);
        assert_eq!(
            w("group", &["staff"]).check(Some(&id)),
            AuthzResult::Granted
        );
        assert_eq!(
            w("group", &["admins"]).check(Some(&id)),
            AuthzResult::Denied
        );
        assert_eq!(w("role", &["admin"]).check(Some(&id)), AuthzResult::Granted);
        assert_eq!(
            w("role", &["admin", "projectY", "projectX"]).check(Some(&id)),
            AuthzResult::Granted
        );
        assert_eq!(
            w("role", &["admin", "projectY"]).check(Some(&id)),
            AuthzResult::Denied
        );
        assert_eq!(
            w("role", &["reader", "any"]).check(Some(&id)),
            AuthzResult::Granted
        );
        assert_eq!(
            w("authn-method", &["password"]).check(Some(&id)),
            AuthzResult::Granted
        );
        assert_eq!(
            w("authn-method", &["cert"]).check(Some(&id)),
            AuthzResult::Denied
        );
    }

    #[test]
    fn cert_dn_needs_a_cert_identity_with_a_dn() {
        let id = cert_user("CN=alice,O=Spike,C=XX");
        assert_eq!(
            w("cert-dn", &["CN=alice,O=Spike,C=XX"]).check(Some(&id)),
            AuthzResult::Granted
        );
        assert_eq!(
            w("cert-dn", &["cn=alice,O=Spike,C=XX"]).check(Some(&id)),
            AuthzResult::Denied
        );
        assert_eq!(
            w("cert-dn", &["CN=alice,O=Spike"]).check(Some(&id)),
            AuthzResult::Denied
        );
        assert_eq!(
            w("cert-dn", &["~", "^CN=[a-z]+,O=Spike,"]).check(Some(&id)),
            AuthzResult::Granted
        );
        // A password user claiming the same DN (e.g. a spoofed header) never matches.
        let mut spoof = id.clone();
        spoof.method = AuthMethod::Password;
        assert_eq!(
            w("cert-dn", &["CN=alice,O=Spike,C=XX"]).check(Some(&spoof)),
            AuthzResult::Denied
        );
        let mut no_dn = id.clone();
        no_dn.dn = None;
        assert_eq!(
            w("cert-dn", &["~", ".*"]).check(Some(&no_dn)),
            AuthzResult::Denied
        );
        // NUL or CR/LF smuggled into a DN does not widen an exact match.
        let evil = cert_user("CN=alice,O=Spike,C=XX\0");
        assert_eq!(
            w("cert-dn", &["CN=alice,O=Spike,C=XX"]).check(Some(&evil)),
            AuthzResult::Denied
        );
        assert_eq!(
            w("authn-method", &["cert"]).check(Some(&id)),
            AuthzResult::Granted
        );
        assert_eq!(
            w("authn-method", &["password"]).check(Some(&id)),
            AuthzResult::Granted
        );
    }
}
