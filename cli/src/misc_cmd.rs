//! `authrs password hash`, `authrs require check`, `authrs config reference|check`.

use crate::{CmdResult, Failure};
use authrs_core::authz::{AuthzResult, RequireTree};
use authrs_core::identity::{AuthMethod, Identity};
use authrs_core::roles::{GroupFile, RolesFile};
use clap::Subcommand;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum PasswordCmd {
    /// Read a password and print a bcrypt `$2y$` hash for an htpasswd file: at a terminal it is
    /// asked twice without echo, else read from standard input (one trailing newline dropped).
    Hash {
        /// bcrypt cost (4–17: the most an htpasswd file authrs loads may carry).
        #[arg(long, default_value_t = 12)]
        cost: u32,
    },
}

#[derive(Subcommand)]
pub enum RequireCmd {
    /// Evaluate Require lines (Apache syntax, containers included) for a user and print the result
    /// (GRANTED exits 0; DENIED, NEUTRAL, DENIED_NO_USER and GENERAL_ERROR exit 1).
    Check {
        /// Roles file (`alice admin:projectX reader`).
        #[arg(long, value_name = "FILE", requires = "user")]
        roles: Option<PathBuf>,
        /// Group file in AuthGroupFile format (`admins: alice bob`).
        #[arg(long, value_name = "FILE", requires = "user")]
        groups: Option<PathBuf>,
        /// The authenticated user; without it the rules are evaluated for an anonymous request
        /// (what httpd asks before anyone has logged in: DENIED_NO_USER for most rules).
        #[arg(long, value_name = "U")]
        user: Option<String>,
        /// How the user authenticated: cert, password or openid.
        #[arg(long, value_name = "M", default_value = "password")]
        method: String,
        /// Where OpenID ranks for authn-method (AuthRsOpenIDStrength): below-password,
        /// password, between or cert.
        #[arg(long, value_name = "S", default_value = "between")]
        openid_strength: String,
        /// The user's certificate subject DN (RFC 2253).
        #[arg(long, value_name = "DN", requires = "user")]
        dn: Option<String>,
        /// File with Require lines.
        rules_file: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum ConfigCmd {
    /// Print the option reference (Markdown, generated from the core's option table).
    Reference,
    /// Check an Envoy filter JSON configuration: exit 0, or 1 with the key and the reason.
    Check {
        /// The JSON file (`-` for standard input).
        file: String,
    },
}

fn read_text(path: &Path) -> Result<String, Failure> {
    crate::read_bounded_text(path, crate::MAX_INPUT)
}

pub fn password(cmd: PasswordCmd) -> CmdResult {
    let PasswordCmd::Hash { cost } = cmd;
    let input: String;
    // Typed at a terminal (stdin is one and the process has it as its controlling terminal,
    // which is what the prompt opens): asked twice, as htpasswd does, and never echoed (no
    // password in the scrollback or on a shared screen). Else read from stdin, as before.
    let at_terminal = std::io::stdin().is_terminal() && std::fs::File::open("/dev/tty").is_ok();
    let (password, from) = if at_terminal {
        input = rpassword::prompt_password("New password: ")?;
        let again = rpassword::prompt_password("Re-type new password: ")?;
        if input != again {
            return Err(Failure("error: the two passwords differ".into()));
        }
        // The prompt decodes lossily: bytes that are not UTF-8 would be hashed as U+FFFD, a
        // password nobody can type at the login form.
        if input.contains(char::REPLACEMENT_CHARACTER) {
            return Err(Failure(
                "error: the terminal sent bytes that are not UTF-8".into(),
            ));
        }
        (input.as_str(), "at the terminal")
    } else {
        // Bounded: a password is short (bcrypt reads 72 bytes), `/dev/zero` is not.
        input = String::from_utf8(crate::read_stdin_bounded(64 * 1024)?)
            .map_err(|_| Failure("error: standard input: not UTF-8".into()))?;
        // One trailing newline is the terminal's, not the password's.
        let password = input.strip_suffix('\n').unwrap_or(&input);
        (
            password.strip_suffix('\r').unwrap_or(password),
            "on standard input",
        )
    };
    if password.is_empty() {
        return Err(Failure(format!("error: empty password {from}")));
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| Failure(format!("error: no randomness from the OS: {e}")))?;
    crate::outln!(
        "{}",
        authrs_core::password::hash_bcrypt(password, cost, salt)?
    );
    Ok(())
}

pub fn require(cmd: RequireCmd) -> CmdResult {
    let RequireCmd::Check {
        roles,
        groups,
        user,
        method,
        openid_strength,
        dn,
        rules_file,
    } = cmd;
    let tree = RequireTree::parse(&read_text(&rules_file)?)
        .map_err(|e| Failure(format!("error: {}: {e}", rules_file.display())))?;
    let method: AuthMethod = method.parse()?;
    let openid_strength = openid_strength
        .parse()
        .map_err(|e| Failure(format!("error: --openid-strength: {e}")))?;
    let Some(user) = user else {
        return print_result(tree.evaluate(None));
    };
    let mut identity = Identity::new(user, method);
    identity.dn = dn;
    identity.openid_strength = openid_strength;
    if let Some(path) = roles {
        let file = RolesFile::parse(&read_text(&path)?)
            .map_err(|e| Failure(format!("error: {}: {e}", path.display())))?;
        identity.roles = file.roles_for(&identity.user);
    }
    if let Some(path) = groups {
        let file = GroupFile::parse(&read_text(&path)?)
            .map_err(|e| Failure(format!("error: {}: {e}", path.display())))?;
        identity.groups = file.groups_for(&identity.user);
    }
    print_result(tree.evaluate(Some(&identity)))
}

/// Prints httpd's name for `result`; only GRANTED succeeds.
fn print_result(result: AuthzResult) -> CmdResult {
    crate::outln!("{}", result_name(result));
    if result == AuthzResult::Granted {
        Ok(())
    } else {
        Err(Failure(String::new()))
    }
}

/// httpd's names for the authz results.
fn result_name(r: AuthzResult) -> &'static str {
    match r {
        AuthzResult::Granted => "GRANTED",
        AuthzResult::Denied => "DENIED",
        AuthzResult::Neutral => "NEUTRAL",
        AuthzResult::GeneralError => "GENERAL_ERROR",
        AuthzResult::DeniedNoUser => "DENIED_NO_USER",
    }
}

pub fn config(cmd: ConfigCmd) -> CmdResult {
    match cmd {
        ConfigCmd::Reference => {
            crate::out(format_args!(
                "{}",
                authrs_core::config::reference_markdown()
            ))?;
            Ok(())
        }
        ConfigCmd::Check { file } => {
            let text = if file == "-" {
                String::from_utf8(crate::read_stdin_bounded(crate::MAX_INPUT)?)
                    .map_err(|_| Failure("error: standard input: not UTF-8".into()))?
            } else {
                read_text(Path::new(&file))?
            };
            // Everything the filter checks at plugin start: options, locations, require trees,
            // inline keys, CRLs, roles, users. What the filter logs as AUTHRS0003 at load (a site
            // that protects no path, …) goes to stderr, one line each: it loads, so still `ok`.
            let site = authrs_core::site::Site::from_json_str(&text)
                .map_err(|e| Failure(format!("error: {file}: {e}")))?;
            for w in site.warnings() {
                eprintln!(
                    "warning: {file}: AUTHRS0003: {}",
                    crate::escape_controls(&w)
                );
            }
            crate::outln!("ok");
            Ok(())
        }
    }
}
