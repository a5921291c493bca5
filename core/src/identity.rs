//! Who a request belongs to: the user, how they proved it, and what they hold.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// How a user authenticated, ordered by strength: a stronger method satisfies a weaker requirement.
///
/// The order is `Password < OpenId < Cert`: a certificate user passes a
/// password-level resource, never the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuthMethod {
    /// A password checked by the login form.
    Password,
    /// A verified OpenID assertion (`openid::RelyingParty::verify`).
    OpenId,
    /// A TLS client certificate (CA-issued or enrolled).
    Cert,
}

impl AuthMethod {
    /// The wire name: `password`, `openid` or `cert`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Password => "password",
            AuthMethod::OpenId => "openid",
            AuthMethod::Cert => "cert",
        }
    }

    /// True when this method is at least as strong as `required`.
    pub fn satisfies(self, required: AuthMethod) -> bool {
        self >= required
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A method name that is not `password`, `openid` or `cert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMethod(pub String);

impl fmt::Display for UnknownMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown auth method {:?} (expected cert, password or openid)",
            self.0
        )
    }
}

impl std::error::Error for UnknownMethod {}

impl FromStr for AuthMethod {
    type Err = UnknownMethod;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "password" => Ok(AuthMethod::Password),
            "openid" => Ok(AuthMethod::OpenId),
            "cert" => Ok(AuthMethod::Cert),
            other => Err(UnknownMethod(other.to_string())),
        }
    }
}

/// Roles a user holds, each with the scopes it applies to (`admin:projectX`); an empty set means unscoped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles(pub BTreeMap<String, BTreeSet<String>>);

impl Roles {
    /// Adds `role`, scoped to `scope` when given (`None` adds the role unscoped).
    /// An unscoped grant covers every scope: it absorbs scoped grants of the same role, in
    /// either order (`admin admin:projectX` is `admin`, never narrowed to `admin:projectX`).
    pub fn add(&mut self, role: &str, scope: Option<&str>) {
        match (self.0.get_mut(role), scope) {
            (Some(scopes), _) if scopes.is_empty() => {}
            (Some(scopes), Some(s)) => {
                scopes.insert(s.to_string());
            }
            (Some(scopes), None) => scopes.clear(),
            (None, s) => {
                self.0.insert(
                    role.to_string(),
                    s.map(str::to_string).into_iter().collect(),
                );
            }
        }
    }

    /// Adds every grant of `other`, with [`Roles::add`]'s rule for unscoped grants.
    pub fn merge(&mut self, other: &Roles) {
        for (role, scopes) in &other.0 {
            if scopes.is_empty() {
                self.add(role, None);
            }
            for s in scopes {
                self.add(role, Some(s));
            }
        }
    }

    /// SecurityModule's `hasRole(role, scope)`: with `None`, any holding of the role counts;
    /// with a scope, the role must be held unscoped or for that scope.
    pub fn has_role(&self, role: &str, scope: Option<&str>) -> bool {
        match (self.0.get(role), scope) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(scopes), Some(s)) => scopes.is_empty() || scopes.contains(s),
        }
    }

    /// True when no role is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `role:scope` tokens, comma-joined (`admin:projectX,reader`), as tickets and env vars carry them.
    pub fn to_list(&self) -> String {
        // Built in place (no token strings, no join): this runs for every request that sends
        // roles upstream.
        let mut out = String::with_capacity(64);
        let mut first = true;
        let mut token = |role: &str, scope: Option<&str>| {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(role);
            if let Some(s) = scope {
                out.push(':');
                out.push_str(s);
            }
        };
        for (role, scopes) in &self.0 {
            if scopes.is_empty() {
                token(role, None);
            }
            for s in scopes {
                token(role, Some(s));
            }
        }
        out
    }

    /// Parses `admin:projectX,reader` (commas or whitespace between tokens); empty tokens are skipped.
    pub fn from_list(list: &str) -> Roles {
        let mut roles = Roles::default();
        for tok in list.split(|c: char| c == ',' || c.is_whitespace()) {
            if tok.is_empty() {
                continue;
            }
            match tok.split_once(':') {
                Some((role, scope)) if !role.is_empty() => roles.add(role, Some(scope)),
                Some(_) => {}
                None => roles.add(tok, None),
            }
        }
        roles
    }
}

/// An authenticated principal, as the engine hands it to the shells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user name (becomes `REMOTE_USER` / `x-authrs-user`).
    pub user: String,
    /// How the user authenticated.
    pub method: AuthMethod,
    /// Subject DN (RFC 2253) of the client certificate, when the method is `cert`.
    pub dn: Option<String>,
    /// Issuer DN (RFC 2253) of the client certificate, when known.
    pub issuer_dn: Option<String>,
    /// Roles with scopes.
    pub roles: Roles,
    /// Group names (from a group file or the configuration).
    pub groups: BTreeSet<String>,
}

impl Identity {
    /// A bare identity with no DN, roles or groups.
    pub fn new(user: impl Into<String>, method: AuthMethod) -> Identity {
        Identity {
            user: user.into(),
            method,
            dn: None,
            issuer_dn: None,
            roles: Roles::default(),
            groups: BTreeSet::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strength_order() {
        assert!(AuthMethod::Cert.satisfies(AuthMethod::Password));
        assert!(!AuthMethod::Password.satisfies(AuthMethod::Cert));
        assert!(AuthMethod::OpenId.satisfies(AuthMethod::Password));
        assert!(!AuthMethod::OpenId.satisfies(AuthMethod::Cert));
        assert_eq!("cert".parse::<AuthMethod>(), Ok(AuthMethod::Cert));
        assert!("Cert".parse::<AuthMethod>().is_err());
    }

    #[test]
    fn roles_with_scopes() {
        let r = Roles::from_list("admin:projectX, admin:projectY reader");
        assert!(r.has_role("admin", None));
        assert!(r.has_role("admin", Some("projectX")));
        assert!(!r.has_role("admin", Some("projectZ")));
        assert!(r.has_role("reader", Some("anything")));
        assert!(!r.has_role("writer", None));
        assert_eq!(r.to_list(), "admin:projectX,admin:projectY,reader");
        assert_eq!(Roles::from_list(&r.to_list()), r);
        assert_eq!(Roles::default().to_list(), "");
        assert_eq!(Roles::from_list("solo").to_list(), "solo");
        let mut odd = Roles::default();
        odd.add("", None);
        odd.add("b", Some("s"));
        assert_eq!(odd.to_list(), ",b:s", "the same tokens as joining them");
        assert!(Roles::from_list(" , :x ").is_empty());
        // An unscoped grant is never narrowed by a scoped one, in either order.
        for list in ["admin admin:projectX", "admin:projectX admin"] {
            let r = Roles::from_list(list);
            assert!(r.has_role("admin", Some("projectY")), "{list}");
        }
        let mut from_ticket = Roles::from_list("admin");
        from_ticket.merge(&Roles::from_list("admin:projectX reader:docs"));
        assert!(from_ticket.has_role("admin", Some("anything")));
        assert!(
            from_ticket.has_role("reader", Some("docs"))
                && !from_ticket.has_role("reader", Some("x"))
        );
    }
}
