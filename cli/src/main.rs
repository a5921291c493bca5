//! `authrs`: the operator's command line — keys, tickets, certificates, passwords, Require rules.
//!
//! Every failure is one line on stderr and exit status 1 (2 for usage errors, from clap).

mod cert_cmd;
mod keys;
mod misc_cmd;
mod openid_cmd;
mod ticket_cmd;

use authrs_core::reason::escape_controls;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// authrs — client-certificate and cookie-ticket authentication for Apache httpd and Envoy.
#[derive(Parser)]
#[command(name = "authrs", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a new random 256-bit ticket key (base64): with --out, a new file of mode 0600;
    /// else on standard output (a file the shell creates has the shell's umask: prefer --out).
    Keygen {
        /// Write the key here instead of standard output (never over an existing file).
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
        /// Replace FILE if it exists: every ticket it signed stops verifying unless the old
        /// key stays in the ring (rotate with a second AuthRsTicketKeyFile instead).
        #[arg(long, requires = "out")]
        force: bool,
    },
    /// Mint and verify cookie tickets.
    #[command(subcommand)]
    Ticket(ticket_cmd::TicketCmd),
    /// Inspect client certificates and show which user they map to.
    #[command(subcommand)]
    Cert(cert_cmd::CertCmd),
    /// Hash passwords for htpasswd files.
    #[command(subcommand)]
    Password(misc_cmd::PasswordCmd),
    /// Evaluate Require rules.
    #[command(subcommand)]
    Require(misc_cmd::RequireCmd),
    /// Show the option reference and check configurations.
    #[command(subcommand)]
    Config(misc_cmd::ConfigCmd),
    /// Check OpenID logins (why was this one refused?).
    #[command(subcommand)]
    Openid(openid_cmd::OpenIdCmd),
}

/// A command's failure: the line printed on stderr.
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(format!("error: {e}"))
    }
}

/// What every command returns.
pub type CmdResult = Result<(), Failure>;

/// Largest input a command reads (a file, or `-` for standard input): the biggest CRLs run to
/// tens of MiB; `/dev/zero` must end in an error, not in memory exhaustion.
pub const MAX_INPUT: u64 = 64 * 1024 * 1024;

/// Reads the file `path` up to `max` bytes; more is an error.
pub fn read_bounded(path: &std::path::Path, max: u64) -> Result<Vec<u8>, Failure> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| Failure(format!("error: {name}: {e}")))?;
    read_capped(file, &name, max)
}

/// Reads standard input up to `max` bytes (where a command documents `-`).
pub fn read_stdin_bounded(max: u64) -> Result<Vec<u8>, Failure> {
    read_capped(std::io::stdin(), "-", max)
}

fn read_capped(from: impl std::io::Read, name: &str, max: u64) -> Result<Vec<u8>, Failure> {
    use std::io::Read;
    let mut buf = Vec::new();
    from.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Failure(format!("error: {name}: {e}")))?;
    if buf.len() as u64 > max {
        return Err(Failure(format!("error: {name}: larger than {max} bytes")));
    }
    Ok(buf)
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_bounded_text(path: &std::path::Path, max: u64) -> Result<String, Failure> {
    String::from_utf8(read_bounded(path, max)?)
        .map_err(|_| Failure(format!("error: {}: not UTF-8", path.display())))
}

/// Writes to standard output; a closed pipe (`| head`) ends the command quietly and a failed
/// write (a full disk) is an error line, where `print!` would panic.
pub fn out(text: std::fmt::Arguments<'_>) -> CmdResult {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_fmt(text)
        .and_then(|()| stdout.flush())
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                Failure(String::new())
            } else {
                Failure(format!("error: cannot write the output: {e}"))
            }
        })
}

/// `println!` through [`out`], returning its error with `?`.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::out(format_args!("{}\n", format_args!($($arg)*)))?
    };
}

fn main() -> ExitCode {
    // A bug must still end as one line, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "error: internal error: {}",
            escape_controls(&info.to_string())
        );
    }));
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen { out, force } => keys::keygen(out.as_deref(), force),
        Command::Ticket(cmd) => ticket_cmd::run(cmd),
        Command::Cert(cmd) => cert_cmd::run(cmd),
        Command::Password(cmd) => misc_cmd::password(cmd),
        Command::Require(cmd) => misc_cmd::require(cmd),
        Command::Config(cmd) => misc_cmd::config(cmd),
        Command::Openid(cmd) => openid_cmd::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(line)) => {
            if !line.is_empty() {
                // Errors may quote what a provider, a certificate or a file held: one line,
                // never a terminal escape.
                eprintln!("{}", escape_controls(&line));
            }
            ExitCode::FAILURE
        }
    }
}
