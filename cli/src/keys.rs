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
        None => crate::out(format_args!("{line}"))?,
        Some(path) => write_private(path, line.as_bytes(), force)?,
    }
    Ok(())
}

/// Writes a secret file readable by its owner only (created 0600, never briefly world-readable).
/// Without `replace` an existing file (or a symlink, even dangling) is an error, never followed.
/// With `replace` the secret goes to a new file beside it that is then renamed over the path:
/// a symlink planted there is replaced, not followed, and a server re-reading the key sees the
/// old key or the new one, never a truncated file.
fn write_private(path: &Path, data: &[u8], replace: bool) -> CmdResult {
    let fail = |e: std::io::Error| Failure(format!("error: {}: {e}", path.display()));
    if !replace {
        return create_private(path, data).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Failure(format!(
                    "error: {} exists: keeping it (--force replaces it, logging out every ticket it signed)",
                    path.display()
                ))
            } else {
                fail(e)
            }
        });
    }
    let name = path
        .file_name()
        .ok_or_else(|| Failure(format!("error: {}: not a file name", path.display())))?;
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce)
        .map_err(|e| Failure(format!("error: no randomness from the OS: {e}")))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", u64::from_ne_bytes(nonce)));
    let tmp = path.with_file_name(tmp_name);
    let written = create_private(&tmp, data).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(fail)
}

/// Creates `path` (never an existing file or symlink) with mode 0600 and writes `data`, synced.
fn create_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    // A key half written (a full disk) must not stay behind: the next run would keep it.
    let written = file.write_all(data).and_then(|()| file.sync_all());
    if written.is_err() {
        drop(file);
        let _ = std::fs::remove_file(path);
    }
    written
}

/// Reads one key file (base64 of at least 32 bytes).
pub fn read_key(path: &Path) -> Result<TicketKey, Failure> {
    let text = crate::read_bounded_text(path, 64 * 1024)?;
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
