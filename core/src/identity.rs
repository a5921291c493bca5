//! Who a request belongs to: the user, how they proved it, and what they hold.

use std::collections::BTreeSet;
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

/// Where an OpenID login ranks among the methods (`AuthRsOpenIDStrength` / `openid_strength`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OpenIdStrength {
    /// Weaker than a password: OpenID satisfies only `authn-method openid`.
    BelowPassword,
    /// As strong as a password, each satisfying the other.
    Password,
    /// Between password and cert (the default): satisfies `password` and `openid`.
    #[default]
    Between,
    /// As strong as a certificate, each satisfying the other.
    Cert,
}

impl OpenIdStrength {
    /// The configuration word: `below-password`, `password`, `between` or `cert`.
    pub fn as_str(self) -> &'static str {
        match self {
            OpenIdStrength::BelowPassword => "below-password",
            OpenIdStrength::Password => "password",
            OpenIdStrength::Between => "between",
            OpenIdStrength::Cert => "cert",
        }
    }
}

impl FromStr for OpenIdStrength {
    type Err = crate::config::ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "below-password" => OpenIdStrength::BelowPassword,
            "password" => OpenIdStrength::Password,
            "between" => OpenIdStrength::Between,
            "cert" => OpenIdStrength::Cert,
            _ => {
                return Err(crate::config::ValueError::new(
                    s,
                    "below-password, password, between or cert",
                ))
            }
        })
    }
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

    /// True when this method is at least as strong as `required`, OpenID ranked by default.
    pub fn satisfies(self, required: AuthMethod) -> bool {
        self.satisfies_with(required, OpenIdStrength::default())
    }

    /// True when this method is at least as strong as `required`, OpenID ranked as `openid` says.
    pub fn satisfies_with(self, required: AuthMethod, openid: OpenIdStrength) -> bool {
        self.rank(openid) >= required.rank(openid)
    }

    /// Password 2, cert 4; OpenID 1, 2, 3 or 4 by its placement.
    fn rank(self, openid: OpenIdStrength) -> u8 {
        match (self, openid) {
            (AuthMethod::Password, _) => 2,
            (AuthMethod::Cert, _) => 4,
            (AuthMethod::OpenId, OpenIdStrength::BelowPassword) => 1,
            (AuthMethod::OpenId, OpenIdStrength::Password) => 2,
            (AuthMethod::OpenId, OpenIdStrength::Between) => 3,
            (AuthMethod::OpenId, OpenIdStrength::Cert) => 4,
        }
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

/// Roles a user holds, each with the scopes it applies to (`admin:projectX`); a role held
/// without a scope covers every scope.
///
/// Kept in two allocations whatever the number of grants (it is built from the ticket on every
/// request): the names back to back in one string, and the grants sorted by role, then scope.
#[derive(Clone, Default)]
pub struct Roles {
    /// Role and scope names, back to back; append-only (grants point into it).
    text: String,
    /// Sorted by role then scope; a role held unscoped has exactly one (unscoped) grant.
    grants: Vec<Grant>,
}

/// Where one grant's role and scope lie in [`Roles::text`].
#[derive(Clone, Copy)]
struct Grant {
    role: (usize, usize),
    scope: Option<(usize, usize)>,
}

impl Roles {
    fn at(&self, span: (usize, usize)) -> &str {
        self.text.get(span.0..span.1).unwrap_or_default()
    }

    fn role_of(&self, g: &Grant) -> &str {
        self.at(g.role)
    }

    fn scope_of(&self, g: &Grant) -> Option<&str> {
        g.scope.map(|s| self.at(s))
    }

    fn push_text(&mut self, s: &str) -> (usize, usize) {
        let start = self.text.len();
        self.text.push_str(s);
        (start, self.text.len())
    }

    /// The grants of `role`: `lo..hi` in `grants` (empty at its sorted place when not held).
    fn range_of(&self, role: &str) -> (usize, usize) {
        let lo = self.grants.partition_point(|g| self.role_of(g) < role);
        let held = self
            .grants
            .get(lo..)
            .unwrap_or_default()
            .iter()
            .take_while(|g| self.role_of(g) == role)
            .count();
        (lo, lo + held)
    }

    /// No grants yet, with room for `text` bytes of names and `grants` grants.
    pub(crate) fn with_capacity(text: usize, grants: usize) -> Roles {
        Roles {
            text: String::with_capacity(text),
            grants: Vec::with_capacity(grants),
        }
    }

    /// [`Roles::add`] for grants that mostly come in order (a ticket's, sorted as minted): one
    /// comparison with the last grant appends; anything else takes `add`'s sorted insert.
    pub(crate) fn add_in_order(&mut self, role: &str, scope: Option<&str>) {
        let appends = match self.grants.last() {
            None => true,
            Some(last) => match self.role_of(last).cmp(role) {
                std::cmp::Ordering::Less => true,
                // A later scope of a scoped role; an unscoped grant is its role's only one.
                std::cmp::Ordering::Equal => {
                    matches!((self.scope_of(last), scope), (Some(l), Some(s)) if l < s)
                }
                std::cmp::Ordering::Greater => false,
            },
        };
        if !appends {
            return self.add(role, scope);
        }
        let role = match self.grants.last() {
            // The same role: its name is already in `text`.
            Some(last) if self.role_of(last) == role => last.role,
            _ => self.push_text(role),
        };
        let scope = scope.map(|s| self.push_text(s));
        self.grants.push(Grant { role, scope });
    }

    /// Adds `role`, scoped to `scope` when given (`None` adds the role unscoped).
    /// An unscoped grant covers every scope: it absorbs scoped grants of the same role, in
    /// either order (`admin admin:projectX` is `admin`, never narrowed to `admin:projectX`).
    pub fn add(&mut self, role: &str, scope: Option<&str>) {
        let (lo, hi) = self.range_of(role);
        let Some(first) = self.grants.get(lo).copied().filter(|_| lo < hi) else {
            let role = self.push_text(role);
            let scope = scope.map(|s| self.push_text(s));
            self.grants.insert(lo, Grant { role, scope });
            return;
        };
        if first.scope.is_none() {
            return;
        }
        match scope {
            None => {
                let unscoped = Grant {
                    role: first.role,
                    scope: None,
                };
                self.grants.splice(lo..hi, [unscoped]);
            }
            Some(s) => {
                let held = self.grants.get(lo..hi).unwrap_or_default();
                let at = lo + held.partition_point(|g| self.scope_of(g).unwrap_or_default() < s);
                if at < hi && self.grants.get(at).and_then(|g| self.scope_of(g)) == Some(s) {
                    return;
                }
                let scope = Some(self.push_text(s));
                self.grants.insert(
                    at,
                    Grant {
                        role: first.role,
                        scope,
                    },
                );
            }
        }
    }

    /// Adds every grant of `other`, with [`Roles::add`]'s rule for unscoped grants.
    pub fn merge(&mut self, other: &Roles) {
        for (role, scope) in other.iter() {
            self.add(role, scope);
        }
    }

    /// SecurityModule's `hasRole(role, scope)`: with `None`, any holding of the role counts;
    /// with a scope, the role must be held unscoped or for that scope.
    pub fn has_role(&self, role: &str, scope: Option<&str>) -> bool {
        let (lo, hi) = self.range_of(role);
        let held = self.grants.get(lo..hi).unwrap_or_default();
        match (held.first(), scope) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(g), Some(s)) => {
                g.scope.is_none() || held.iter().any(|g| self.scope_of(g) == Some(s))
            }
        }
    }

    /// True when no role is held.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }

    /// Every grant, sorted by role then scope: `(role, None)` for a role held unscoped (its
    /// only grant), `(role, Some(scope))` for each scope of a scoped one.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.grants
            .iter()
            .map(|g| (self.role_of(g), self.scope_of(g)))
    }

    /// How many distinct roles are held.
    pub fn role_count(&self) -> usize {
        let mut count = 0;
        let mut last: Option<&str> = None;
        for (role, _) in self.iter() {
            if last != Some(role) {
                count += 1;
                last = Some(role);
            }
        }
        count
    }

    /// The `role:scope` tokens, comma-joined (`admin:projectX,reader`), as tickets and env vars carry them.
    pub fn to_list(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 2 * self.grants.len());
        for (i, (role, scope)) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(role);
            if let Some(s) = scope {
                out.push(':');
                out.push_str(s);
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

impl PartialEq for Roles {
    fn eq(&self, other: &Roles) -> bool {
        self.grants.len() == other.grants.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Roles {}

impl fmt::Debug for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
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
    /// Where this scope ranks OpenID for `authn-method` (set by the engine from the policy).
    pub openid_strength: OpenIdStrength,
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
            openid_strength: OpenIdStrength::default(),
        }
    }
}

/// Characters that print as nothing or as a space (soft hyphen, zero-width and bidi controls,
/// variation selectors, Hangul fillers, tags, BOM): a name holding one looks like another's.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{ad}' | '\u{34f}' | '\u{61c}' | '\u{115f}' | '\u{1160}' | '\u{180e}'
        | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}'
        | '\u{ffa0}' | '\u{e0000}'..='\u{e007f}')
}

/// Whether a non-empty user name cannot pass for another: no control, invisible or replacement
/// characters, and no whitespace at either end (`alice ` is `alice` to any header parser the
/// name travels through, and to an LDAP server comparing uids).
pub(crate) fn distinct_user_name(user: &str) -> bool {
    // A DN used whole (`cert_user dn`) may end in an escaped space (`CN=x\ `): trimmed it is
    // no other user's name, so it stands.
    !user.starts_with(char::is_whitespace)
        && (!user.ends_with(char::is_whitespace) || user.ends_with("\\ "))
        && !user
            .chars()
            .any(|c| c.is_control() || c == char::REPLACEMENT_CHARACTER || invisible(c))
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
    fn openid_is_placed_by_configuration() {
        use AuthMethod::{Cert, OpenId, Password};
        use OpenIdStrength as S;
        // (placement, openid satisfies password, password satisfies openid,
        //  openid satisfies cert, cert satisfies openid)
        for (placement, o_p, p_o, o_c, c_o) in [
            (S::BelowPassword, false, true, false, true),
            (S::Password, true, true, false, true),
            (S::Between, true, false, false, true),
            (S::Cert, true, false, true, true),
        ] {
            assert_eq!(
                OpenId.satisfies_with(Password, placement),
                o_p,
                "{placement:?}"
            );
            assert_eq!(
                Password.satisfies_with(OpenId, placement),
                p_o,
                "{placement:?}"
            );
            assert_eq!(OpenId.satisfies_with(Cert, placement), o_c, "{placement:?}");
            assert_eq!(Cert.satisfies_with(OpenId, placement), c_o, "{placement:?}");
            // Password and cert keep their order whatever OpenID's place.
            assert!(Cert.satisfies_with(Password, placement));
            assert!(!Password.satisfies_with(Cert, placement));
            assert!(OpenId.satisfies_with(OpenId, placement));
            assert_eq!(placement.as_str().parse::<OpenIdStrength>(), Ok(placement));
        }
        assert_eq!(OpenIdStrength::default(), S::Between);
        assert!("above-cert".parse::<OpenIdStrength>().is_err());
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

    /// The previous representation (a map of scope sets), kept as the reference model.
    #[derive(Default)]
    struct Model(std::collections::BTreeMap<String, BTreeSet<String>>);

    impl Model {
        fn add(&mut self, role: &str, scope: Option<&str>) {
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
        fn has_role(&self, role: &str, scope: Option<&str>) -> bool {
            match (self.0.get(role), scope) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(scopes), Some(s)) => scopes.is_empty() || scopes.contains(s),
            }
        }
        fn grants(&self) -> Vec<(String, Option<String>)> {
            let mut out = Vec::new();
            for (role, scopes) in &self.0 {
                if scopes.is_empty() {
                    out.push((role.clone(), None));
                }
                for s in scopes {
                    out.push((role.clone(), Some(s.clone())));
                }
            }
            out
        }
    }

    fn grants(r: &Roles) -> Vec<(String, Option<String>)> {
        r.iter()
            .map(|(a, b)| (a.to_string(), b.map(str::to_string)))
            .collect()
    }

    /// Random adds and merges (names that sort close, empty, with separators in them) give
    /// the same grants, lookups, list and role count as the map the roles used to be.
    #[test]
    fn roles_agree_with_the_map_model() {
        const NAMES: [&str; 7] = ["a", "ab", "b", "", "a,b", "x y", "ä"];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..300 {
            let (mut roles, mut model) = (Roles::default(), Model::default());
            let (mut other, mut other_model) = (Roles::default(), Model::default());
            // The same adds through `add_in_order` (appending when they come in order).
            let mut in_order = Roles::default();
            for step in 0..12 {
                let role = NAMES[next(NAMES.len())];
                let scope = match next(3) {
                    0 => None,
                    _ => Some(NAMES[next(NAMES.len())]),
                };
                if step % 3 == 2 {
                    other.add(role, scope);
                    other_model.add(role, scope);
                } else {
                    roles.add(role, scope);
                    in_order.add_in_order(role, scope);
                    model.add(role, scope);
                }
                if next(4) == 0 {
                    roles.merge(&other);
                    for (r, s) in other_model.grants() {
                        model.add(&r, s.as_deref());
                        in_order.add_in_order(&r, s.as_deref());
                    }
                }
                assert_eq!(grants(&roles), model.grants(), "{roles:?}");
                assert_eq!(grants(&in_order), model.grants(), "{in_order:?}");
                assert_eq!(roles.role_count(), model.0.len());
                assert_eq!(roles.is_empty(), model.0.is_empty());
                for r in NAMES.iter().chain(&["zz"]) {
                    assert_eq!(roles.has_role(r, None), model.has_role(r, None), "{r}");
                    for s in NAMES.iter().chain(&["zz"]) {
                        assert_eq!(
                            roles.has_role(r, Some(s)),
                            model.has_role(r, Some(s)),
                            "{r}:{s} in {roles:?}"
                        );
                    }
                }
                let (mut rebuilt, mut appended) = (Roles::default(), Roles::default());
                for (r, s) in model.grants() {
                    rebuilt.add(&r, s.as_deref());
                    appended.add_in_order(&r, s.as_deref());
                }
                assert_eq!(rebuilt, roles, "equal whatever the order of the text");
                assert_eq!(appended, roles, "sorted grants appended");
            }
        }
    }
}
