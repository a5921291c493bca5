//! Key generation and key files.

use crate::{CmdResult, Failure};
use authrs_core::ticket::{KeyRing, TicketKey};
use base64::Engine as _;
use std::io::Write;
use std::path::Path;

/// `authrs keygen`: 32 random bytes from the OS, base64, mode 0600; an existing file is kept
/// unless `force` (a replaced signing key logs every user out).
pub fn keygen(out: Option<&Path>, force: bool) -> CmdResult {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| Failure(format!("error: no randomness from the OS: {e}")))?;
    let line = format!(
        "{}\n",
        base64::engine::general_purpose::STANDARD.encode(secret)
    );
    match out {
        None => print!("{line}"),
        Some(path) => write_private(path, line.as_bytes(), force)?,
    }
    Ok(())
}

/// Writes a secret file readable by its owner only (created 0600, never briefly world-readable).
/// Without `replace` an existing file (or a symlink, even dangling) is an error, never followed.
fn write_private(path: &Path, data: &[u8], replace: bool) -> CmdResult {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Failure(format!(
                "error: {} exists: keeping it (--force replaces it, logging out every ticket it signed)",
                path.display()
            ))
        } else {
            Failure(format!("error: {}: {e}", path.display()))
        }
    })?;
    // An existing file keeps its old mode on open: tighten it.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Failure(format!("error: {}: {e}", path.display())))?;
    file.write_all(data)
        .map_err(|e| Failure(format!("error: {}: {e}", path.display())))?;
    Ok(())
}

/// Reads one key file (base64 of at least 32 bytes).
pub fn read_key(path: &Path) -> Result<TicketKey, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure(format!("error: {}: {e}", path.display())))?;
    TicketKey::from_base64(text.trim())
        .map_err(|e| Failure(format!("error: {}: {e}", path.display())))
}

/// Reads key files into a ring: the first signs, all verify.
pub fn read_ring(paths: &[std::path::PathBuf]) -> Result<KeyRing, Failure> {
    let keys = paths
        .iter()
        .map(|p| read_key(p))
        .collect::<Result<Vec<_>, _>>()?;
    KeyRing::new(keys).map_err(|e| Failure(format!("error: {e}")))
}
