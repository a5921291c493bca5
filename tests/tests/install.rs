//! `make install`'s file layout, staged with DESTDIR (the recipe `install` runs after building):
//! the module, the a2enmod files and the CLI land in Debian's places, and an operator's
//! `authrs.conf` is never overwritten by a re-install.

use authrs_tests::{authrs_bin, scratch, workspace};
use std::path::Path;
use std::process::Command;

fn install_files(destdir: &Path, build_dir: &Path) -> String {
    let o = Command::new("make")
        .current_dir(workspace())
        .args(["-s", "install-files"])
        .arg(format!("DESTDIR={}", destdir.display()))
        .arg(format!("BUILD_DIR={}", build_dir.display()))
        .output()
        .expect("make");
    assert!(
        o.status.success(),
        "make install-files: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn install_puts_files_in_place_and_keeps_the_operators_conf() {
    let dest = scratch("install");
    let bin = authrs_bin();
    let build = bin.parent().expect("target/debug");
    install_files(&dest, build);
    let mods = dest.join("etc/apache2/mods-available");
    let libexec = Command::new("apxs")
        .args(["-q", "LIBEXECDIR"])
        .output()
        .expect("apxs");
    let libexec = String::from_utf8_lossy(&libexec.stdout).trim().to_string();
    let module = dest
        .join(libexec.trim_start_matches('/'))
        .join("mod_authrs.so");
    assert!(module.is_file(), "{}", module.display());
    assert!(dest.join("usr/local/bin/authrs").is_file());
    let sample =
        std::fs::read_to_string(workspace().join("conf/apache2/authrs.conf")).expect("sample");
    assert_eq!(
        std::fs::read_to_string(mods.join("authrs.conf")).expect("conf"),
        sample
    );
    assert!(std::fs::read_to_string(mods.join("authrs.load"))
        .expect("load")
        .contains("LoadModule authrs_module"));
    assert!(!mods.join("authrs.conf.dist").exists());
    // The operator writes their sections; a re-install keeps them and puts the new sample beside.
    let mine = "<Location /app>\n  AuthType AuthRs\n  Require valid-user\n</Location>\n";
    std::fs::write(mods.join("authrs.conf"), mine).expect("edit");
    let out = install_files(&dest, build);
    assert_eq!(
        std::fs::read_to_string(mods.join("authrs.conf")).expect("conf"),
        mine
    );
    assert_eq!(
        std::fs::read_to_string(mods.join("authrs.conf.dist")).expect("dist"),
        sample
    );
    assert!(out.contains("kept"), "{out}");
}

/// Without apxs (apache2-dev not installed) `make install` stops with a message instead of
/// putting the module at `$DESTDIR/mod_authrs.so` (an empty LIBEXECDIR).
#[test]
fn install_without_apxs_fails_and_installs_nothing() {
    let dest = scratch("install-no-apxs");
    // A PATH holding only the tools the recipe needs besides apxs.
    let path = scratch("install-no-apxs-path");
    for tool in ["install", "sh"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .expect("sh");
        let found = String::from_utf8_lossy(&found.stdout).trim().to_string();
        assert!(!found.is_empty(), "{tool} not found");
        std::os::unix::fs::symlink(&found, path.join(tool)).expect("link");
    }
    let bin = authrs_bin();
    let o = Command::new("/usr/bin/make")
        .current_dir(workspace())
        .env("PATH", &path)
        .args(["-s", "install-files"])
        .arg(format!("DESTDIR={}", dest.display()))
        .arg(format!(
            "BUILD_DIR={}",
            bin.parent().expect("dir").display()
        ))
        .output()
        .expect("make");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("install apache2-dev"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&dest).expect("dest").collect();
    assert!(left.is_empty(), "{left:?}");
}
