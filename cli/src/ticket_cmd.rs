//! `authrs ticket mint|verify`.

use crate::keys::read_ring;
use crate::{CmdResult, Failure};
use authrs_core::config::parse_duration;
use authrs_core::identity::{AuthMethod, Roles};
use authrs_core::ticket::{KeyId, Ticket};
use clap::Subcommand;
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum TicketCmd {
    /// Mint a ticket and print the cookie value.
    Mint {
        /// Key file (base64); the ticket is signed with it.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The user the ticket names.
        #[arg(long, value_name = "U")]
        user: String,
        /// How the user authenticated: cert or password. `cert` makes a bearer ticket that
        /// passes `Require authn-method cert` without a certificate: tests and service accounts only.
        #[arg(long, default_value = "password", value_parser = ["cert", "password"])]
        method: String,
        /// How long the ticket is valid (`2h`, `30m`, `3600`).
        #[arg(long, default_value = "8h")]
        lifetime: String,
        /// Roles with scopes carried in the ticket (`admin:projectX,reader`), on top of the roles
        /// file, until the ticket expires.
        #[arg(long)]
        roles: Option<String>,
        /// Bind the ticket to this client address.
        #[arg(long, value_name = "IP")]
        address: Option<IpAddr>,
        /// Issue time in Unix seconds (default: now).
        #[arg(long, value_name = "UNIX")]
        now: Option<i64>,
        /// Bind the ticket to this cookie name (a version-2 ticket, as logins mint): it then
        /// verifies only when sent in a cookie of that name. Without it the ticket is unbound.
        #[arg(long, value_name = "NAME")]
        cookie_name: Option<String>,
    },
    /// Verify a ticket: print it as JSON (exit 0) or `<reason>: <detail>` on stderr (exit 1).
    Verify {
        /// Key files; the ticket may be signed by any of them.
        #[arg(long = "key", value_name = "FILE", required = true)]
        keys: Vec<PathBuf>,
        /// Verification time in Unix seconds (default: now).
        #[arg(long, value_name = "UNIX")]
        now: Option<i64>,
        /// The client address the ticket must be bound to, if it is bound.
        #[arg(long, value_name = "IP")]
        address: Option<IpAddr>,
        /// Idle timeout to apply (`30m`); off by default.
        #[arg(long, value_name = "DURATION")]
        session_timeout: Option<String>,
        /// The cookie the ticket was read from: needed to verify a ticket bound to its cookie
        /// name (what logins mint); an unbound one verifies with or without it.
        #[arg(long, value_name = "NAME")]
        cookie_name: Option<String>,
        /// The cookie value; `-` reads it from standard input (keeps a live ticket out of `ps`
        /// and shell history).
        ticket: String,
    },
}

/// Most bytes `ticket verify -` reads: far more than any cookie a browser keeps (4 KiB).
const MAX_STDIN_TICKET: u64 = 64 * 1024;

/// The ticket argument, or standard input's first line for `-`.
fn ticket_arg(ticket: String) -> Result<String, Failure> {
    if ticket != "-" {
        return Ok(ticket);
    }
    use std::io::Read;
    let mut text = String::new();
    std::io::stdin()
        .take(MAX_STDIN_TICKET)
        .read_to_string(&mut text)
        .map_err(|e| {
            Failure(format!(
                "error: reading the ticket from standard input: {e}"
            ))
        })?;
    Ok(text.lines().next().unwrap_or_default().to_string())
}

pub fn run(cmd: TicketCmd) -> CmdResult {
    match cmd {
        TicketCmd::Mint {
            key,
            user,
            method,
            lifetime,
            roles,
            address,
            now,
            cookie_name,
        } => {
            let ring = read_ring(&[key])?;
            let now = now.unwrap_or_else(unix_now);
            let lifetime = parse_duration(&lifetime)
                .map_err(|e| Failure(format!("error: --lifetime: {e}")))?;
            let method: AuthMethod = method.parse()?;
            let ticket = Ticket {
                version: 1,
                key_id: KeyId::default(),
                user,
                method,
                issued: now,
                expires: now.saturating_add(lifetime),
                last_seen: now,
                address,
                roles: roles.as_deref().map(Roles::from_list),
            };
            let cookie = match cookie_name.as_deref() {
                Some(name) => {
                    authrs_core::cookies::CookieSettings {
                        name: name.to_string(),
                        ..Default::default()
                    }
                    .validate()
                    .map_err(|e| Failure(format!("error: --cookie-name: {e}")))?;
                    ring.mint_for(&ticket, name)?
                }
                None => ring.mint(&ticket)?,
            };
            crate::outln!("{cookie}");
            Ok(())
        }
        TicketCmd::Verify {
            keys,
            now,
            address,
            session_timeout,
            cookie_name,
            ticket,
        } => {
            let ring = read_ring(&keys)?;
            let idle = session_timeout
                .as_deref()
                .map(parse_duration)
                .transpose()
                .map_err(|e| Failure(format!("error: --session-timeout: {e}")))?;
            let now = now.unwrap_or_else(unix_now);
            let ticket = ticket_arg(ticket)?;
            let ticket = ticket.trim();
            let t = match cookie_name.as_deref() {
                Some(name) => ring.verify_for(name, ticket, now, address, idle),
                None => ring.verify(ticket, now, address, idle),
            };
            let t = t.map_err(|e| {
                let hint = if cookie_name.is_none() && is_bound(ticket) {
                    " (the ticket is bound to its cookie name: pass --cookie-name)"
                } else {
                    ""
                };
                Failure(format!("{}: {e}{hint}", e.reason().code()))
            })?;
            let json = serde_json::json!({
                "user": t.user,
                "version": t.version,
                "method": t.method.as_str(),
                "issued": t.issued,
                "expires": t.expires,
                "last_seen": t.last_seen,
                "key_id": t.key_id.to_string(),
                "address": t.address.map(|a| a.to_string()),
                "roles": t.roles.map(|r| r.to_list().split(',').filter(|s| !s.is_empty()).map(str::to_string).collect::<Vec<_>>()).unwrap_or_default(),
            });
            crate::outln!("{json}");
            Ok(())
        }
    }
}

/// Whether a cookie value claims to be a version-2 (cookie-name-bound) ticket: its first byte.
fn is_bound(value: &str) -> bool {
    use base64::Engine as _;
    let head = value.get(..4).unwrap_or("");
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head)
        .is_ok_and(|b| b.first() == Some(&authrs_core::ticket::TICKET_VERSION_BOUND))
}

/// The wall clock, for when `--now` is not given (the core never reads it itself).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
