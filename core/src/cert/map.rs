//! From a client certificate (or only its subject DN string) to a user name.
//!
//! Rules ([`UserRule`], written as in the configuration):
//! * `dn` — the whole subject DN, RFC 2253 in the canonical form of [`super::dn::rfc2253`]
//!   (mod_ssl's raw-UTF-8 `SSL_CLIENT_S_DN` is brought to it first);
//! * `cn` — the first CN in DER order (mod_ssl's `SSL_CLIENT_S_DN_CN`; the *last* one of
//!   an RFC 2253 string);
//! * `email` — the first rfc822Name SAN, else the first `emailAddress` DN attribute;
//! * `xmpp` — the first otherName id-on-xmppAddr SAN; `upn` — the first Microsoft UPN SAN
//!   (both need the certificate itself);
//! * a template such as `{CN}@example.org` — `{NAME}` is replaced by the DN attribute with
//!   that OpenSSL short name (or dotted OID), chosen like `cn`.
//!
//! A [`UserMap`] (exact DN → user) is consulted first and wins. The user name produced
//! is refused when empty, longer than [`MAX_USER_LEN`], or holding control characters
//! (NUL, CR, LF, …) or U+FFFD (an undecodable value): a certificate whose CN is
//! `admin\0.evil.org` never becomes user `admin`.
//!
//! Map file format: one `"<DN>" <user>` per line, the DN in double quotes exactly as
//! rendered in RFC 2253 form (non-ASCII either raw UTF-8 or `\XX`-escaped) (a `"` inside it is `\"`, as OpenSSL prints it; backslash
//! escapes are kept verbatim), then whitespace and the user (no whitespace in it). Blank
//! lines and lines starting with `#` are ignored; a DN listed twice is an error.

use super::dn::{escape_msb, has_unprinted_spelling, parse_rfc2253};
use super::{CertError, Certificate};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// Longest user name produced.
pub const MAX_USER_LEN: usize = 4096;

/// How a certificate becomes a user name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserRule {
    /// The whole subject DN (RFC 2253).
    Dn,
    /// The subject CN.
    Cn,
    /// The email SAN, else the `emailAddress` attribute.
    Email,
    /// The otherName id-on-xmppAddr SAN.
    Xmpp,
    /// The otherName Microsoft UPN SAN.
    Upn,
    /// A template over DN attributes, e.g. `{CN}@example.org`.
    Template(String),
}

/// Why no user name came out, or why a rule or map file is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MapError {
    /// The rule is none of `dn|cn|email|xmpp|upn` nor a template with `{ATTR}`.
    BadRule(String),
    /// A template with unbalanced braces or an empty/odd attribute name.
    BadTemplate {
        /// The template as written.
        template: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A map file line that is not `"<DN>" <user>`.
    BadMapLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// The same DN appears twice in the map file.
    DuplicateDn {
        /// 1-based line number of the second entry.
        line: usize,
    },
    /// The certificate lacks what the rule reads (`CN`, `email`, `xmppAddr SAN`, …).
    Missing(String),
    /// The rule (`xmpp`, `upn`) needs the certificate, but only a DN string is known.
    NeedsCertificate(&'static str),
    /// The DN string given could not be parsed.
    BadDn(CertError),
    /// The resulting user name is empty.
    EmptyUser,
    /// The resulting user name holds a control, invisible or undecodable character, or
    /// starts or ends with whitespace.
    BadUserChar,
    /// The resulting user name is longer than [`MAX_USER_LEN`].
    UserTooLong,
    /// A template with several attributes: this attribute's value holds a character of the
    /// text between them, so two different certificates could expand to the same user
    /// (`{OU}.{CN}`: `a.b` + `c` and `a` + `b.c`).
    AmbiguousValue(String),
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::BadRule(r) => write!(
                f,
                "certificate user rule {r:?} must be one of dn, cn, email, xmpp, upn, or a template like {{CN}}@example.org"
            ),
            MapError::BadTemplate { template, why } => write!(f, "template {template:?}: {why}"),
            MapError::BadMapLine { line, why } => write!(f, "map line {line}: {why}"),
            MapError::DuplicateDn { line } => write!(f, "map line {line}: DN listed twice"),
            MapError::Missing(what) => write!(f, "certificate has no {what}"),
            MapError::NeedsCertificate(rule) => {
                write!(f, "rule {rule} needs the certificate, only its DN is known")
            }
            MapError::BadDn(e) => write!(f, "subject DN unusable: {e}"),
            MapError::EmptyUser => f.write_str("certificate maps to an empty user name"),
            MapError::BadUserChar => f.write_str(
                "certificate user name holds control, invisible or undecodable characters, or starts or ends with whitespace",
            ),
            MapError::UserTooLong => f.write_str("certificate user name is too long"),
            MapError::AmbiguousValue(attr) => write!(
                f,
                "certificate {attr} holds a character of the template's separator: another certificate could map to the same user"
            ),
        }
    }
}

impl std::error::Error for MapError {}

impl fmt::Display for UserRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UserRule::Dn => "dn",
            UserRule::Cn => "cn",
            UserRule::Email => "email",
            UserRule::Xmpp => "xmpp",
            UserRule::Upn => "upn",
            UserRule::Template(t) => t,
        })
    }
}

impl FromStr for UserRule {
    type Err = MapError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dn" => Ok(UserRule::Dn),
            "cn" => Ok(UserRule::Cn),
            "email" => Ok(UserRule::Email),
            "xmpp" => Ok(UserRule::Xmpp),
            "upn" => Ok(UserRule::Upn),
            t if t.contains('{') || t.contains('}') => {
                template_parts(t)?;
                Ok(UserRule::Template(t.to_string()))
            }
            other => Err(MapError::BadRule(other.to_string())),
        }
    }
}

/// A piece of a template: literal text or an attribute name.
enum Part<'t> {
    Text(&'t str),
    Attr(&'t str),
}

/// Splits a template, checking it has balanced `{NAME}` with names of `[A-Za-z0-9._-]`.
fn template_parts(t: &str) -> Result<Vec<Part<'_>>, MapError> {
    let bad = |why| MapError::BadTemplate {
        template: t.to_string(),
        why,
    };
    let mut parts = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err(bad("'}' without '{'"));
        }
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| bad("'{' without '}'"))?
            + open;
        let name = &rest[open + 1..close];
        if name.is_empty() {
            return Err(bad("empty attribute name"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(bad(
                "attribute names are OpenSSL short names or dotted OIDs",
            ));
        }
        if open > 0 {
            parts.push(Part::Text(&rest[..open]));
        } else if matches!(parts.last(), Some(Part::Attr(_))) {
            return Err(bad(
                "two attributes with nothing between them: their values could be split either way",
            ));
        }
        parts.push(Part::Attr(name));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    if !parts.iter().any(|p| matches!(p, Part::Attr(_))) {
        return Err(bad("no {ATTR} in template"));
    }
    Ok(parts)
}

/// Exact subject DN → user entries, loaded from a map file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserMap {
    entries: HashMap<String, String>,
}

impl UserMap {
    /// Parses map file text (format in the module doc); errors carry the line number.
    pub fn parse(text: &str) -> Result<UserMap, MapError> {
        let mut entries = HashMap::new();
        for (line, raw) in crate::lines::numbered(text) {
            let bad = |why| MapError::BadMapLine { line, why };
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let body = l
                .strip_prefix('"')
                .ok_or_else(|| bad("line must start with a quoted DN"))?;
            let end = closing_quote(body).ok_or_else(|| bad("DN has no closing quote"))?;
            let dn = &body[..end];
            // A DN that is not in the RFC 2253 form the TLS stacks print (OpenSSL 3's default
            // `C = XX, CN = a`, mod_ssl's legacy `/C=XX/CN=a`) could never match: an entry meant
            // to remap or demote a certificate would silently do nothing.
            if parse_rfc2253(dn).is_err() {
                return Err(bad(
                    "DN is not in RFC 2253 form (as `openssl x509 -noout -subject -nameopt RFC2253` prints it)",
                ));
            }
            // The same DN spelled in a way OpenSSL never prints it would never match either.
            if has_unprinted_spelling(dn) {
                return Err(bad(
                    "DN is not spelled as `openssl x509 -noout -subject -nameopt RFC2253` prints it (attribute names as OpenSSL writes them, `\\,` not `\\2C`, upper-case `\\XX`)",
                ));
            }
            let after = &body[end + 1..];
            if !after.starts_with([' ', '\t']) {
                return Err(bad("whitespace expected after the DN"));
            }
            let user = after.trim();
            if user.is_empty() {
                return Err(bad("user missing after the DN"));
            }
            if user.contains(char::is_whitespace) {
                return Err(bad("user must be one word"));
            }
            check_user(user).map_err(|_| bad("user has control characters"))?;
            if entries.insert(escape_msb(dn), user.to_string()).is_some() {
                return Err(MapError::DuplicateDn { line });
            }
        }
        Ok(UserMap { entries })
    }

    /// The user mapped to exactly this RFC 2253 DN (mod_ssl's raw UTF-8 form and the
    /// `\XX`-escaped form are the same DN).
    pub fn get(&self, dn: &str) -> Option<&str> {
        self.entries.get(&escape_msb(dn)).map(String::as_str)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Byte index of the first `"` not preceded by an escaping backslash.
fn closing_quote(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Refuses user names that are empty, too long, hold control, invisible or undecodable
/// characters, or start or end with whitespace (`CN=alice ` would be `alice` to any header
/// parser the name is passed on through).
fn check_user(user: &str) -> Result<(), MapError> {
    if user.is_empty() {
        Err(MapError::EmptyUser)
    } else if user.len() > MAX_USER_LEN {
        Err(MapError::UserTooLong)
    } else if !crate::identity::distinct_user_name(user) {
        Err(MapError::BadUserChar)
    } else {
        Ok(())
    }
}

/// Expands a template with `lookup` giving attribute values. With several attributes, a value
/// may not hold any character of the text between two attributes: the user name could then be
/// split back into values more than one way.
fn expand<'a>(t: &str, lookup: impl Fn(&str) -> Option<&'a str>) -> Result<String, MapError> {
    let parts = template_parts(t)?;
    let first = parts.iter().position(|p| matches!(p, Part::Attr(_)));
    let last = parts.iter().rposition(|p| matches!(p, Part::Attr(_)));
    let separators: Vec<&str> = match (first, last) {
        (Some(a), Some(b)) => parts[a..b]
            .iter()
            .filter_map(|p| match p {
                Part::Text(s) => Some(*s),
                Part::Attr(_) => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(s) => out.push_str(s),
            Part::Attr(name) => {
                let value = lookup(name).ok_or_else(|| MapError::Missing(name.to_string()))?;
                if separators
                    .iter()
                    .any(|sep| value.contains(|c| sep.contains(c)))
                {
                    return Err(MapError::AmbiguousValue(name.to_string()));
                }
                out.push_str(value)
            }
        }
    }
    Ok(out)
}

/// Maps a parsed certificate to a user: the map entry for its subject DN if any, else `rule`.
pub fn map_user(
    cert: &Certificate,
    rule: &UserRule,
    map: Option<&UserMap>,
) -> Result<String, MapError> {
    if let Some(user) = map.and_then(|m| m.get(&cert.subject_dn)) {
        return Ok(user.to_string());
    }
    let missing = |what: &str| MapError::Missing(what.to_string());
    let user = match rule {
        UserRule::Dn => cert.subject_dn.clone(),
        UserRule::Cn => cert
            .attribute("CN")
            .ok_or_else(|| missing("CN"))?
            .to_string(),
        UserRule::Email => match cert.san.email.first() {
            Some(e) => e.clone(),
            None => cert
                .attribute("emailAddress")
                .ok_or_else(|| missing("email"))?
                .to_string(),
        },
        UserRule::Xmpp => cert
            .san
            .xmpp
            .first()
            .ok_or_else(|| missing("xmppAddr SAN"))?
            .clone(),
        UserRule::Upn => cert
            .san
            .upn
            .first()
            .ok_or_else(|| missing("UPN SAN"))?
            .clone(),
        UserRule::Template(t) => expand(t, |name| cert.attribute(name))?,
    };
    check_user(&user)?;
    Ok(user)
}

/// Maps a subject DN string (mod_ssl `SSL_CLIENT_S_DN`, Envoy `subject_peer_certificate`)
/// to a user, for when the certificate itself is not at hand. Attributes are chosen as
/// for a certificate: the last one of a name in the string is the first in DER order.
pub fn map_user_from_dn(
    dn: &str,
    rule: &UserRule,
    map: Option<&UserMap>,
) -> Result<String, MapError> {
    // mod_ssl leaves non-ASCII raw; Envoy and certificates give `\XX`: one form for all.
    let dn = &escape_msb(dn);
    if let Some(user) = map.and_then(|m| m.get(dn)) {
        return Ok(user.to_string());
    }
    let attrs = parse_rfc2253(dn).map_err(MapError::BadDn)?;
    let attr = |name: &str| {
        attrs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let missing = |what: &str| MapError::Missing(what.to_string());
    let user = match rule {
        UserRule::Dn => dn.to_string(),
        UserRule::Cn => attr("CN").ok_or_else(|| missing("CN"))?.to_string(),
        // With the certificate a SAN email wins over the DN's emailAddress; from the DN alone
        // that SAN is unknown, so the same certificate could map to two users: refuse.
        UserRule::Email => return Err(MapError::NeedsCertificate("email")),
        UserRule::Xmpp => return Err(MapError::NeedsCertificate("xmpp")),
        UserRule::Upn => return Err(MapError::NeedsCertificate("upn")),
        UserRule::Template(t) => expand(t, attr)?,
    };
    check_user(&user)?;
    Ok(user)
}

#[cfg(test)]
mod tests;
