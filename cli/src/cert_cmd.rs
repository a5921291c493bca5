//! `authrs cert inspect|map`.

use crate::ticket_cmd::unix_now;
use crate::{CmdResult, Failure};
use authrs_core::cert::crl::{CrlSet, CrlStatus};
use authrs_core::cert::map::{map_user, UserMap, UserRule};
use authrs_core::cert::Certificate;
use authrs_core::time::rfc3339;
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum CertCmd {
    /// Show a certificate's subject, issuer, serial, validity, SANs and fingerprint.
    Inspect {
        /// Print one JSON object instead of `key: value` lines.
        #[arg(long)]
        json: bool,
        /// PEM or DER file, or `-` for standard input.
        file: String,
    },
    /// Print the user a certificate maps to, or exit 1 with the reason.
    Map {
        /// dn, cn, email, xmpp, upn, or a template such as `{CN}@example.org`.
        #[arg(long)]
        rule: String,
        /// Exact DN → user map file (`"<DN>" <user>` per line); takes precedence.
        #[arg(long, value_name = "FILE")]
        map: Option<PathBuf>,
        /// Also refuse certificates revoked by this CRL (PEM or DER).
        #[arg(long, value_name = "FILE")]
        crl: Option<PathBuf>,
        /// Validity is checked at this time (Unix seconds; default now).
        #[arg(long, value_name = "UNIX")]
        now: Option<i64>,
        /// PEM or DER file, or `-` for standard input.
        file: String,
    },
}

fn read_input(file: &str) -> Result<Vec<u8>, Failure> {
    if file == "-" {
        crate::read_stdin_bounded(crate::MAX_INPUT)
    } else {
        crate::read_bounded(Path::new(file), crate::MAX_INPUT)
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    crate::read_bounded(path, crate::MAX_INPUT)
}

pub fn run(cmd: CertCmd) -> CmdResult {
    match cmd {
        CertCmd::Inspect { json, file } => {
            let cert = Certificate::parse(&read_input(&file)?)
                .map_err(|e| Failure(format!("bad_cert: {e}")))?;
            let san = &cert.san;
            let value = serde_json::json!({
                "subject": cert.subject_dn,
                "subject_legacy": cert.subject_legacy(),
                "issuer": cert.issuer_dn,
                "serial": cert.serial,
                "not_before": rfc3339(cert.not_before),
                "not_after": rfc3339(cert.not_after),
                "san": {
                    "email": san.email, "dns": san.dns, "uri": san.uri,
                    "ip": san.ip, "xmpp": san.xmpp, "upn": san.upn,
                },
                "sha256": cert.sha256,
            });
            if json {
                crate::outln!("{value}");
            } else {
                print_plain(&value)?;
            }
            Ok(())
        }
        CertCmd::Map {
            rule,
            map,
            crl,
            now,
            file,
        } => {
            let rule: UserRule = rule
                .parse()
                .map_err(|e| Failure(format!("error: --rule: {e}")))?;
            let map = match map {
                Some(path) => {
                    let text = String::from_utf8(read_file(&path)?)
                        .map_err(|_| Failure(format!("error: {}: not UTF-8", path.display())))?;
                    Some(
                        UserMap::parse(&text)
                            .map_err(|e| Failure(format!("error: {}: {e}", path.display())))?,
                    )
                }
                None => None,
            };
            let now = now.unwrap_or_else(unix_now);
            let cert = Certificate::parse(&read_input(&file)?)
                .map_err(|e| Failure(format!("bad_cert: {e}")))?;
            cert.is_valid_at(now)
                .map_err(|e| Failure(format!("bad_cert: {e}")))?;
            if let Some(path) = crl {
                let crls = CrlSet::parse(&read_file(&path)?)
                    .map_err(|e| Failure(format!("error: {}: {e}", path.display())))?;
                match crls.check(&cert.issuer_dn, &cert.serial, now) {
                    CrlStatus::NotRevoked => {}
                    CrlStatus::Revoked => {
                        return Err(Failure(format!(
                            "revoked_cert: serial {} is revoked",
                            cert.serial
                        )))
                    }
                    CrlStatus::NoCrl => {
                        // As the shells do: a CRL file that is not the issuer's vouches for nothing.
                        return Err(Failure(format!(
                            "bad_cert: {} has no CRL of {}",
                            path.display(),
                            cert.issuer_dn
                        )));
                    }
                    CrlStatus::CrlExpired { issuer_dn } => {
                        return Err(Failure(format!(
                            "bad_cert: the CRL of {issuer_dn} has expired"
                        )))
                    }
                    other => return Err(Failure(format!("bad_cert: CRL check failed: {other:?}"))),
                }
            }
            let user = map_user(&cert, &rule, map.as_ref())
                .map_err(|e| Failure(format!("bad_cert: {e}")))?;
            crate::outln!("{user}");
            Ok(())
        }
    }
}

/// `key: value` lines; lists comma-joined, the SAN object flattened as `san.email` etc.
fn print_plain(value: &serde_json::Value) -> CmdResult {
    let Some(obj) = value.as_object() else {
        return Ok(());
    };
    for (k, v) in obj {
        match v {
            serde_json::Value::Object(inner) => {
                for (ik, iv) in inner {
                    crate::outln!("{k}.{ik}: {}", join(iv));
                }
            }
            other => crate::outln!("{k}: {}", join(other)),
        }
    }
    Ok(())
}

fn join(v: &serde_json::Value) -> String {
    match v {
        // SAN strings are the certificate's (IA5String allows ESC): never raw to a terminal.
        serde_json::Value::String(s) => authrs_core::reason::escape_controls(s),
        serde_json::Value::Array(items) => items.iter().map(join).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}
