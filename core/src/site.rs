//! A whole site as the Envoy filter is configured: top-level options, ordered `locations`
//! (httpd's `<Location>` blocks), the login and logout paths and where passwords are checked.
//!
//! Everything is read and checked once, when the plugin is configured; a request then
//! only looks up its [`Scope`] with [`Site::route`].

use std::borrow::Cow;

use regex::Regex;
use serde_json::{Map, Value};

use crate::authz::RequireTree;
use crate::config::{
    ConfigError, ConfigErrorKind, Settings, Shell, TrustChainVerification, REDACTED,
};
use crate::engine::Policy;
use crate::password::Htpasswd;
use crate::roles::GroupFile;

pub mod openid_clusters;
use openid_clusters::OpenIdClusters;

/// Longest path the filter matches; longer request paths are refused (400) before any matching.
pub const MAX_PATH: usize = 8 * 1024;

/// How a location selects paths, as Envoy's route matchers do.
#[derive(Debug, Clone)]
pub enum PathMatch {
    /// The normalized path starts with this string (plain string prefix, like Envoy's `prefix`).
    Prefix(String),
    /// The normalized path equals this string.
    Exact(String),
    /// The regular expression matches the whole normalized path (like Envoy's `safe_regex`).
    Regex(Regex),
}

impl PathMatch {
    /// Whether the normalized `path` (no query) is selected.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Prefix(p) => path.starts_with(p.as_str()),
            PathMatch::Exact(p) => path == p,
            PathMatch::Regex(re) => re.is_match(path),
        }
    }
}

/// Where the login form's passwords are checked.
#[derive(Debug, Clone, Default)]
pub enum Passwords {
    /// No password source: login posts fail closed (500).
    #[default]
    None,
    /// Inline htpasswd lines (`users`).
    Users(Htpasswd),
    /// An HTTP service the filter calls (`password_check`).
    Service(PasswordService),
}

/// The `password_check` service: a form POST of `user` and `password`; 200 means correct,
/// 401 or 403 wrong, anything else (or a timeout) fails the login closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordService {
    /// Envoy cluster to call.
    pub cluster: String,
    /// Request path on that cluster.
    pub path: String,
    /// `:authority` sent (default: the cluster name).
    pub authority: String,
    /// Timeout in milliseconds (default 2000, at most 60000).
    pub timeout_ms: u64,
}

/// What applies to one part of the site.
#[derive(Debug)]
pub struct Scope {
    /// The policy the core decides with (its `require` is set for protected locations).
    pub policy: Policy,
    /// Whether requests here must pass the Require rules (`false`: unmatched paths).
    pub protected: bool,
    /// AuthCookie's recognize_user: identify the user on unprotected paths.
    pub recognize_user: bool,
    /// Whether logout here revokes the ticket server-side.
    pub revoke_on_logout: bool,
    /// Where login passwords are checked.
    pub passwords: Passwords,
}

/// One entry of `locations`.
#[derive(Debug)]
pub struct Location {
    /// Which paths it selects.
    pub matcher: PathMatch,
    /// What applies there.
    pub scope: Scope,
}

/// The filter's own endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `login_path`: GET shows the login page, POST checks the form.
    Login,
    /// `logout_path`: clears (and maybe revokes) the ticket.
    Logout,
}

/// The parsed plugin configuration.
#[derive(Debug)]
pub struct Site {
    /// Settings for paths no location selects (they pass; recognized when `recognize_user`).
    pub unmatched: Scope,
    /// Locations in order; the first match wins.
    pub locations: Vec<Location>,
    /// The login form endpoint, if any.
    pub login_path: Option<String>,
    /// The logout endpoint, if any.
    pub logout_path: Option<String>,
    /// Whether any scope revokes on logout (then every ticket check asks the revocation store).
    pub uses_revocation: bool,
    /// Whether any scope needs the client's address on every request (tickets bound to it, or
    /// trusted proxies); otherwise only a request that carries proxy headers needs it.
    pub reads_peer: bool,
    /// The listener's `trust_chain_verification` is `ACCEPT_UNTRUSTED` (the option of that name):
    /// only pinned or `trusted_cas`-verified certificates pass.
    pub accept_untrusted: bool,
    /// Where OpenID fetches go (`openid_clusters`); set exactly when some scope lists `openid`.
    pub openid_clusters: Option<OpenIdClusters>,
}

/// Above this estimated cost of one inline `users` check (bcrypt cost 9 and up, SHA-512-crypt
/// over ~60,000 rounds) the filter warns at load: it runs on Envoy's worker thread.
pub const SLOW_LOGIN_CHECK_MICROS: u64 = 50_000;

/// Keys a location holds besides options.
const MATCHERS: [&str; 3] = ["prefix", "exact", "regex"];

fn err(kind: ConfigErrorKind, option: &str, value: &str, why: impl Into<String>) -> ConfigError {
    ConfigError::new(kind, option, value, why, false)
}

impl Site {
    /// Reads and checks the plugin configuration JSON; the error names the key and the reason.
    pub fn from_json_str(text: &str) -> Result<Site, ConfigError> {
        let value: Value = crate::config::parse_json(text).map_err(|e| {
            err(
                ConfigErrorKind::Syntax,
                "configuration",
                "",
                format!("not valid JSON: {e}"),
            )
        })?;
        let Value::Object(top) = value else {
            return Err(err(
                ConfigErrorKind::WrongType,
                "configuration",
                "",
                "expected a JSON object",
            ));
        };
        // `require` at the top level would protect nothing (unmatched paths pass): say so.
        if top.contains_key("require") {
            return Err(err(
                ConfigErrorKind::WrongScope,
                "require",
                "",
                "belongs inside an entry of \"locations\" (unmatched paths are not protected)",
            ));
        }
        let top = Settings::from_json(&Value::Object(top))?;
        let accept_untrusted =
            top.trust_chain_verification() == TrustChainVerification::AcceptUntrusted;
        let unmatched = scope(&top, None)?;
        let mut locations = Vec::new();
        if let Some(list) = top.extra().get("locations") {
            let Value::Array(items) = list else {
                return Err(err(
                    ConfigErrorKind::WrongType,
                    "locations",
                    "",
                    "expected an array of objects",
                ));
            };
            for (i, item) in items.iter().enumerate() {
                locations.push(location(&top, item, i)?);
            }
        }
        let login_path = top.login_path().map(str::to_string);
        let logout_path = top.logout_path().map(str::to_string);
        for (key, path) in [("login_path", &login_path), ("logout_path", &logout_path)] {
            if let Some(problem) = path.as_deref().and_then(literal_path_problem) {
                let text = path.as_deref().unwrap_or_default();
                return Err(err(ConfigErrorKind::BadValue, key, text, problem));
            }
        }
        let scopes = || std::iter::once(&unmatched).chain(locations.iter().map(|l| &l.scope));
        let uses_revocation = scopes().any(|s| s.revoke_on_logout);
        let reads_peer =
            scopes().any(|s| s.policy.bind_address || !s.policy.trusted_proxies.nets().is_empty());
        let uses_openid = scopes().any(|s| s.policy.openid.is_some());
        let openid_clusters = openid_settings(&top, uses_openid, login_path.as_deref())?;
        Ok(Site {
            unmatched,
            locations,
            login_path,
            logout_path,
            uses_revocation,
            reads_peer,
            accept_untrusted,
            openid_clusters,
        })
    }

    /// What an operator should hear when the configuration loads (logged as warnings, never
    /// refused): no location that protects anything; `trusted_cas` where Envoy verifies chains
    /// itself (it narrows nothing there); CRLs that keep no issuer current ([`crate::cert::crl::CrlSet::warnings`]);
    /// inline `users` whose dearest hash makes each login check block an Envoy worker
    /// thread for more than [`SLOW_LOGIN_CHECK_MICROS`] — every login with an unknown name pays
    /// it, so a few such posts stall every connection the worker serves.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if !self.locations.iter().any(|l| l.scope.protected) {
            out.push(
                "locations: none has a require, so the filter protects no path (only recognizes users); a site protects paths with \"locations\": [{\"prefix\": …, \"require\": …}]".to_string(),
            );
        }
        let with_cas =
            std::iter::once(&self.unmatched).chain(self.locations.iter().map(|l| &l.scope));
        if !self.accept_untrusted && with_cas.into_iter().any(|s| s.policy.trusted_cas.is_some()) {
            out.push(
                "trusted_cas: used only with trust_chain_verification ACCEPT_UNTRUSTED; under VERIFY_TRUST_CHAIN Envoy's own validation context decides which CAs pass, so narrow that instead".to_string(),
            );
        }
        let scopes =
            std::iter::once(&self.unmatched).chain(self.locations.iter().map(|l| &l.scope));
        for scope in scopes {
            // CRLs that revoke but keep no issuer current (delta, scoped, unknown critical).
            for w in scope.policy.crls.iter().flat_map(|c| c.warnings()) {
                let w = format!("crls: {w}");
                if !out.contains(&w) {
                    out.push(w);
                }
            }
            if let Passwords::Users(users) = &scope.passwords {
                if users.mixed_costs() {
                    let w = "users: the hashes differ in cost (bcrypt cost, SHA-crypt rounds or scheme): how long a login takes tells users with cheaper hashes from unknown names; rehash them at one cost".to_string();
                    if !out.contains(&w) {
                        out.push(w);
                    }
                }
                let micros = users.worst_check_micros();
                if micros > SLOW_LOGIN_CHECK_MICROS {
                    let w = format!(
                        "users: a login check costs about {} ms of an Envoy worker thread (the dearest hash; logins with unknown names pay it too), blocking every connection that worker serves meanwhile: use cheaper hashes or password_check",
                        micros / 1000
                    );
                    if !out.contains(&w) {
                        out.push(w);
                    }
                }
            }
        }
        out
    }

    /// The scope for a normalized path: the first matching location, else the unmatched scope.
    pub fn route(&self, path: &str) -> &Scope {
        self.locations
            .iter()
            .find(|l| l.matcher.matches(path))
            .map_or(&self.unmatched, |l| &l.scope)
    }

    /// Normalizes the request's `:path` ([`normalize_path`]) and picks its scope. Refused
    /// ([`PathError::AmbiguousLocation`]) when another reading of the same path — parameters
    /// kept, as Envoy's routes and most servers keep them, escaped sub-delimiters, `:` and
    /// `@` decoded, or the path cut at an escaped `?` or `#`, as some backends do — would fall
    /// in another location: `/app;x/admin` is
    /// `/app/admin` to Tomcat but a sibling of `/app` to Envoy's routes.
    pub fn locate(&self, raw: &str) -> Result<(String, &Scope), PathError> {
        let kept = normal_form(raw)?;
        // Most paths have no parameters: then the primary reading is `kept` itself, not a copy.
        let dropped = match drop_params(&kept) {
            Cow::Owned(p) => Some(p),
            Cow::Borrowed(_) => None,
        };
        let primary: &str = dropped.as_deref().unwrap_or(&kept);
        let scope = self.route(primary);
        if !self.locations.is_empty() {
            let elsewhere = |path: &str| !std::ptr::eq(self.route(path), scope);
            if dropped.is_some() && elsewhere(&kept) {
                return Err(PathError::AmbiguousLocation);
            }
            if kept.contains('%') {
                // A backend that decodes before it splits off the query or the fragment reads
                // `/admin%3Fx` as `/admin`: cut there, every reading must land in this location
                // too (a prefix location always does; an exact or regex one may not).
                let cut_elsewhere = |reading: &str| {
                    ["%3F", "%23"]
                        .iter()
                        .filter_map(|e| reading.find(e))
                        .min()
                        .is_some_and(|at| elsewhere(&reading[..at]))
                };
                for reading in [primary, &*kept] {
                    let decoded = decode_delims(reading);
                    if decoded != reading && elsewhere(&decoded) {
                        return Err(PathError::AmbiguousLocation);
                    }
                    if cut_elsewhere(reading) || cut_elsewhere(&decoded) {
                        return Err(PathError::AmbiguousLocation);
                    }
                }
            }
        }
        Ok((dropped.unwrap_or(kept), scope))
    }

    /// Whether the normalized path is one of the filter's own endpoints.
    pub fn endpoint(&self, path: &str) -> Option<Endpoint> {
        if self.login_path.as_deref() == Some(path) {
            Some(Endpoint::Login)
        } else if self.logout_path.as_deref() == Some(path) {
            Some(Endpoint::Logout)
        } else {
            None
        }
    }
}

/// `openid_clusters`, required when some scope lists `openid` (with `login_path`, where the
/// login happens), refused otherwise (it would do nothing).
fn openid_settings(
    top: &Settings,
    uses_openid: bool,
    login_path: Option<&str>,
) -> Result<Option<OpenIdClusters>, ConfigError> {
    const KEY: &str = "openid_clusters";
    let given = top.extra().get(KEY);
    if !uses_openid {
        return match given {
            Some(_) => Err(err(
                ConfigErrorKind::Conflict,
                KEY,
                "",
                "is only used when \"methods\" lists openid",
            )),
            None => Ok(None),
        };
    }
    if login_path.is_none() {
        return Err(err(
            ConfigErrorKind::Conflict,
            "login_path",
            "",
            "\"methods\" lists openid: the OpenID login and the provider's return happen at login_path; set it",
        ));
    }
    let Some(v) = given else {
        return Err(err(
            ConfigErrorKind::Conflict,
            KEY,
            "",
            "\"methods\" lists openid: name the Envoy clusters that reach the providers (see the README)",
        ));
    };
    OpenIdClusters::from_json(v)
        .map(Some)
        .map_err(|why| err(ConfigErrorKind::BadValue, KEY, "", why))
}

/// Reads one `locations` entry.
fn location(top: &Settings, item: &Value, i: usize) -> Result<Location, ConfigError> {
    let at = |key: &str| format!("locations[{i}].{key}");
    let Value::Object(map) = item else {
        return Err(err(
            ConfigErrorKind::WrongType,
            &format!("locations[{i}]"),
            "",
            "expected an object",
        ));
    };
    let mut map: Map<String, Value> = map.clone();
    let found: Vec<&str> = MATCHERS
        .into_iter()
        .filter(|k| map.contains_key(*k))
        .collect();
    let key = match found.as_slice() {
        [one] => *one,
        [] => {
            return Err(err(
                ConfigErrorKind::BadValue,
                &format!("locations[{i}]"),
                "",
                "needs one of \"prefix\", \"exact\" or \"regex\"",
            ))
        }
        _ => {
            return Err(err(
                ConfigErrorKind::Conflict,
                &format!("locations[{i}]"),
                "",
                format!("has {found:?}; give exactly one matcher"),
            ))
        }
    };
    let text = match map.remove(key) {
        Some(Value::String(s)) => s,
        _ => {
            return Err(err(
                ConfigErrorKind::WrongType,
                &at(key),
                "",
                "expected a string",
            ))
        }
    };
    let matcher = match key {
        "regex" => {
            if text.len() > 4096 {
                return Err(err(
                    ConfigErrorKind::BadValue,
                    &at(key),
                    "",
                    "longer than 4096 bytes",
                ));
            }
            let anchored = format!("^(?:{text})$");
            PathMatch::Regex(Regex::new(&anchored).map_err(|e| {
                err(
                    ConfigErrorKind::BadValue,
                    &at(key),
                    &text,
                    format!("bad regular expression: {e}"),
                )
            })?)
        }
        _ => {
            if !text.starts_with('/') {
                return Err(err(
                    ConfigErrorKind::BadValue,
                    &at(key),
                    &text,
                    "must start with /",
                ));
            }
            if let Some(problem) = literal_path_problem(&text) {
                return Err(err(ConfigErrorKind::BadValue, &at(key), &text, problem));
            }
            if key == "prefix" {
                PathMatch::Prefix(text)
            } else {
                PathMatch::Exact(text)
            }
        }
    };
    let Some(require) = map.remove("require") else {
        return Err(err(
            ConfigErrorKind::BadValue,
            &format!("locations[{i}]"),
            "",
            "needs \"require\" (use {\"all_granted\": true} for a public location)",
        ));
    };
    let tree = RequireTree::from_json(&require)
        .map_err(|e| err(ConfigErrorKind::BadValue, &at("require"), "", e.to_string()))?;
    let own = Settings::from_json_location(&Value::Object(map)).map_err(|mut e| {
        e.option = at(&e.option);
        e
    })?;
    let merged = Settings::merge(top, &own);
    let mut scope = scope(&merged, Some(i))?;
    // A group the location's groups do not define can only ever be "not a member": under
    // `not` that passes everyone (a misspelt name, or top-level groups replaced by the
    // location's own `groups`).
    if let Some(unknown) = tree
        .group_names()
        .into_iter()
        .find(|g| !scope.policy.groups.as_ref().is_some_and(|gf| gf.defines(g)))
    {
        return Err(err(
            ConfigErrorKind::BadValue,
            &at("require"),
            unknown,
            "names a group this location's \"groups\" do not define (a location's groups replace the top level's)".to_string(),
        ));
    }
    scope.policy.require = Some(tree);
    scope.protected = true;
    Ok(Location { matcher, scope })
}

/// Builds the policy and the rest of a scope from complete settings.
fn scope(s: &Settings, location: Option<usize>) -> Result<Scope, ConfigError> {
    let name = |key: &str| match location {
        Some(i) => format!("locations[{i}].{key}"),
        None => key.to_string(),
    };
    let mut no_files = |path: &str| -> Result<Vec<u8>, String> {
        Err(format!(
            "{path}: the Envoy filter cannot read files; give the data inline"
        ))
    };
    let mut policy = Policy::from_settings(s, Shell::Envoy, None, &mut no_files)?;
    if let Some(groups) = s.extra().get("groups") {
        policy.groups = Some(
            groups_from_json(groups)
                .map_err(|why| err(ConfigErrorKind::BadValue, &name("groups"), "", why))?,
        );
    }
    let passwords = match (s.users(), s.extra().get("password_check")) {
        (Some(_), Some(_)) => {
            return Err(err(
                ConfigErrorKind::Conflict,
                &name("password_check"),
                "",
                "give either \"users\" or \"password_check\", not both",
            ))
        }
        (Some(users), None) => Passwords::Users(Htpasswd::parse(users.expose()).map_err(|e| {
            ConfigError::new(
                ConfigErrorKind::BadValue,
                &name("users"),
                REDACTED,
                e.to_string(),
                true,
            )
        })?),
        (None, Some(v)) => Passwords::Service(
            password_service(v)
                .map_err(|why| err(ConfigErrorKind::BadValue, &name("password_check"), "", why))?,
        ),
        (None, None) => Passwords::None,
    };
    Ok(Scope {
        policy,
        protected: false,
        recognize_user: s.recognize_user(),
        revoke_on_logout: s.revoke_on_logout(),
        passwords,
    })
}

/// `{"group": ["user", …], …}`.
fn groups_from_json(v: &Value) -> Result<GroupFile, String> {
    let Value::Object(map) = v else {
        return Err("expected an object {\"group\": [\"user\", …]}".to_string());
    };
    let mut pairs = Vec::new();
    for (group, members) in map {
        let Value::Array(items) = members else {
            return Err(format!("{group:?}: expected an array of user names"));
        };
        let users = items
            .iter()
            .map(|u| match u {
                Value::String(s) if !s.is_empty() => Ok(s.clone()),
                _ => Err(format!("{group:?}: user names must be non-empty strings")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        pairs.push((group.as_str(), users));
    }
    GroupFile::from_members(pairs).map_err(|e| e.to_string())
}

/// `{"cluster": "…", "path": "/…", "timeout": <seconds>, "authority": "…"}`.
fn password_service(v: &Value) -> Result<PasswordService, String> {
    let Value::Object(map) = v else {
        return Err("expected an object {\"cluster\": …, \"path\": …, \"timeout\": …}".to_string());
    };
    if let Some(k) = map
        .keys()
        .find(|k| !["cluster", "path", "timeout", "authority"].contains(&k.as_str()))
    {
        return Err(format!(
            "unknown key {k:?} (expected cluster, path, timeout, authority)"
        ));
    }
    let text = |k: &str| -> Result<Option<String>, String> {
        match map.get(k) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() && !s.chars().any(char::is_control) => {
                Ok(Some(s.clone()))
            }
            Some(_) => Err(format!("{k:?} must be a non-empty string")),
        }
    };
    let cluster = text("cluster")?.ok_or("needs \"cluster\"")?;
    let path = text("path")?.ok_or("needs \"path\"")?;
    if !path.starts_with('/') {
        return Err("\"path\" must start with /".to_string());
    }
    let authority = text("authority")?.unwrap_or_else(|| cluster.clone());
    let timeout_ms = match map.get("timeout") {
        None => 2000,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(secs) if secs > 0.0 && secs <= 60.0 => (secs * 1000.0).round().max(1.0) as u64,
            _ => return Err("\"timeout\" must be seconds, more than 0 and at most 60".to_string()),
        },
        Some(_) => return Err("\"timeout\" must be a number of seconds".to_string()),
    };
    Ok(PasswordService {
        cluster,
        path,
        authority,
        timeout_ms,
    })
}

/// Why a request path cannot be matched safely (answered with 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// Longer than [`MAX_PATH`].
    TooLong,
    /// Not starting with `/`, or holding a control character, backslash or `#`.
    Malformed,
    /// A percent-encoded `/`, `\`, `.`, `;`, control or unreserved character (or a byte no
    /// UTF-8 text holds), which a backend might decode into a different path than the one matched.
    AmbiguousEncoding,
    /// An empty (`//`), `.` or `..` segment, also spelt with path parameters (`..;x`): Envoy
    /// removes them before any filter when `normalize_path` and `merge_slashes` are on, so one
    /// that arrives could be read differently by the routes, the backend and the filter.
    DotSegment,
    /// The path falls in different locations depending on whether path parameters are kept
    /// (Envoy's routes, most servers) or dropped (servlet containers), or whether escaped
    /// sub-delimiters, `:` and `@` are decoded: no single reading is safe for every backend.
    AmbiguousLocation,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PathError::TooLong => "request path too long",
            PathError::Malformed => "malformed request path",
            PathError::AmbiguousEncoding => {
                "request path percent-encodes a character that must appear literally"
            }
            PathError::DotSegment => {
                "request path has an empty, `.` or `..` segment (Envoy removes them with normalize_path and merge_slashes)"
            }
            PathError::AmbiguousLocation => {
                "request path falls in different locations depending on how a backend reads its path parameters or escapes"
            }
        })
    }
}

impl std::error::Error for PathError {}

/// The path to match locations against (what [`Site::locate`] routes): no query, path
/// parameters (`;…` in a segment) dropped as servlet containers drop them, escapes in uppercase
/// hex, characters outside RFC 3986 `pchar` percent-encoded (by the `url` crate). Refused:
/// paths a backend could read as another path — escapes of `/`, `\`, `.`, `;`, unreserved and
/// control characters (`%3B`: a backend that decodes before it drops path parameters would serve
/// `/admin%3Bx/y` as `/admin/y`, one that does not as `admin;x` beside `/admin`), and empty,
/// `.` or `..` segments, whatever their parameters (`..;` is `..` to Tomcat, Jetty and Envoy's
/// `normalize_path`, a name to most other servers).
pub fn normalize_path(raw: &str) -> Result<String, PathError> {
    Ok(drop_params(&normal_form(raw)?).into_owned())
}

/// [`normalize_path`] with the path parameters still in place (how Envoy's routes and most
/// servers read the path).
fn normal_form(raw: &str) -> Result<String, PathError> {
    let path = raw.split_once('?').map_or(raw, |(p, _)| p);
    if raw.len() > MAX_PATH {
        return Err(PathError::TooLong);
    }
    // U+FFFD: bytes that were not UTF-8 on the wire (the shell converted them), which an old
    // decoder could read as `.` or `/`.
    if !path.starts_with('/')
        || path
            .bytes()
            .any(|b| b < 0x20 || b == 0x7f || b == b'\\' || b == b'#')
        || path.contains(char::REPLACEMENT_CHARACTER)
    {
        return Err(PathError::Malformed);
    }
    let mut escaped_high = false;
    for (i, _) in path.match_indices('%') {
        let byte = escaped_byte(path, i).ok_or(PathError::AmbiguousEncoding)?;
        let literal_only = byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/' | b'\\' | b'%' | b';')
            || byte < 0x20
            || byte == 0x7f
            // Never in UTF-8 (overlong `%C0%AE` is `.` to old decoders).
            || matches!(byte, 0xc0 | 0xc1 | 0xf5..=0xff);
        if literal_only {
            return Err(PathError::AmbiguousEncoding);
        }
        escaped_high |= byte >= 0x80;
    }
    // Overlong 3- and 4-byte forms (`%E0%80%AE` is `.` to old decoders) like the 2-byte ones
    // above, judged on the decoded bytes (the same before and after encoding, so normalizing
    // twice agrees); other bytes that are not UTF-8 (`r%E9sum%E9`, Latin-1) decode to no
    // ASCII character and pass.
    if escaped_high {
        let bytes: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
        let overlong = bytes
            .windows(2)
            .any(|pair| matches!(pair, [0xe0, 0x80..=0x9f] | [0xf0, 0x80..=0x8f]));
        if overlong {
            return Err(PathError::AmbiguousEncoding);
        }
    }
    let mut segments = path[1..].split('/').peekable();
    while let Some(segment) = segments.next() {
        let name = segment.split(';').next().unwrap_or_default();
        // Only the last segment may be empty: a trailing slash, also with parameters
        // (`/app/;jsessionid=…`, what a servlet's encodeURL makes of `/app/`).
        let last = segments.peek().is_none();
        if (name.is_empty() && !last) || name == "." || name == ".." {
            return Err(PathError::DotSegment);
        }
    }
    let encoded = if is_plain_path(path) {
        // Nothing to encode: the `url` crate would give it back unchanged.
        path.to_string()
    } else {
        resolve_path(path)?
    };
    Ok(upper_escapes(encoded))
}

/// The byte the escape at `path[i]` (`%XX`) stands for; `None` when it is cut short or not hex.
fn escaped_byte(path: &str, i: usize) -> Option<u8> {
    u8::from_str_radix(path.get(i + 1..i + 3)?, 16).ok()
}

/// The path without its path parameters (`;…` of each segment), as servlet containers route it.
fn drop_params(path: &str) -> Cow<'_, str> {
    if !path.contains(';') {
        return Cow::Borrowed(path);
    }
    let segments: Vec<&str> = path
        .split('/')
        .map(|segment| segment.split(';').next().unwrap_or_default())
        .collect();
    Cow::Owned(segments.join("/"))
}

/// Percent escapes with uppercase hex digits (RFC 3986 §6.2.2.1), so `/caf%c3%a9` and
/// `/caf%C3%A9` (one path to every backend) match the same locations.
fn upper_escapes(path: String) -> String {
    if !path.contains('%') {
        return path;
    }
    let mut out = String::with_capacity(path.len());
    let mut hex_left = 0;
    for c in path.chars() {
        if hex_left > 0 {
            out.push(c.to_ascii_uppercase());
            hex_left -= 1;
        } else {
            out.push(c);
            if c == '%' {
                hex_left = 2;
            }
        }
    }
    out
}

/// The path as a backend that decodes escaped sub-delimiters, `:` and `@` before routing reads it
/// (borrowed when it has none): `/v1/jobs%3Arun` is `/v1/jobs:run` to it. Likewise `[`, `]`,
/// `|` and `^`, which the `url` crate also leaves literal in a path (so `/a|b` and `/a%7Cb` are
/// two spellings of one path to a decoding backend). Other escapes stay.
fn decode_delims(path: &str) -> Cow<'_, str> {
    let decoded = |i: usize| {
        let byte = escaped_byte(path, i)?;
        b"!$&'()*+,=:@[]|^".contains(&byte).then_some(byte as char)
    };
    if !path.match_indices('%').any(|(i, _)| decoded(i).is_some()) {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len());
    let mut rest = 0;
    for (i, _) in path.match_indices('%') {
        if let Some(c) = decoded(i) {
            out.push_str(&path[rest..i]);
            out.push(c);
            rest = i + 3;
        }
    }
    out.push_str(&path[rest..]);
    Cow::Owned(out)
}

/// Why a `prefix`/`exact` location, `login_path` or `logout_path` could never be matched as
/// written: it must be the normalized path requests are matched as.
fn literal_path_problem(text: &str) -> Option<String> {
    match normal_form(text) {
        Err(e) => Some(format!("not a path requests can be matched as: {e}")),
        Ok(n) if n != text || drop_params(&n) != n => Some(format!(
            "not in the normalized form requests are matched in (write {:?})",
            drop_params(&n)
        )),
        Ok(n) if decode_delims(&n) != n => Some(format!(
            "percent-encodes a character paths may hold as it is (write {:?})",
            decode_delims(&n)
        )),
        Ok(_) => None,
    }
}

/// True for a path that is already normal: only RFC 3986 `pchar`s other than `%` and `;` (and
/// `/`), no `//`, and no `/.` at all (so no dot segment). Most request paths are; the unit tests check
/// that [`resolve_path`] returns every such path unchanged.
fn is_plain_path(path: &str) -> bool {
    // No `;`: a path parameter is dropped (see `normalize_path`), so such a path is not plain.
    const PLAIN_PUNCTUATION: &[u8] = b"/-._~!$&'()*+,=:@";
    let bytes = path.as_bytes();
    bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || PLAIN_PUNCTUATION.contains(b))
        && !bytes
            .windows(2)
            .any(|pair| pair[0] == b'/' && matches!(pair[1], b'/' | b'.'))
}

/// Merges runs of `/` and resolves dot segments with the `url` crate (after the checks of
/// [`normalize_path`]).
fn resolve_path(path: &str) -> Result<String, PathError> {
    let mut merged = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && merged.ends_with('/')) {
            merged.push(c);
        }
    }
    let base = url::Url::parse("http://authrs.invalid/").map_err(|_| PathError::Malformed)?;
    let url = base.join(&merged).map_err(|_| PathError::Malformed)?;
    if url.host_str() != Some("authrs.invalid") {
        return Err(PathError::Malformed);
    }
    Ok(url.path().to_string())
}

#[cfg(test)]
mod tests;
