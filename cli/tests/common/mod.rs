//! What the CLI's test binaries share.

use std::path::PathBuf;

/// A directory under the system temp dir made by this call: `mkdir` of the first free
/// `<prefix>-<pid>-<n>`, never a directory or symlink someone else planted in the shared /tmp.
pub fn fresh_dir(prefix: &str) -> PathBuf {
    (0..10_000)
        .map(|n| std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id())))
        .find(|d| std::fs::create_dir(d).is_ok())
        .expect("a free scratch directory name")
}
