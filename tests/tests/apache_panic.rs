//! A panic inside mod_authrs becomes a logged 500 and httpd carries on serving.
//! Runs against the `--features test-panic` build (`make test` builds it into target/test-panic).

use authrs_core::identity::AuthMethod;
use authrs_core::ticket::{KeyRing, Ticket, TicketKey};
use authrs_tests::apache::Apache;
use authrs_tests::curl::Request;
use authrs_tests::{demo_certs, scratch};

#[test]
fn panic_becomes_500_and_the_server_lives_on() {
    // Only this test binary selects the panic build; other test binaries are separate processes.
    std::env::set_var("AUTHRS_TEST_PANIC_BUILD", "1");
    let root = scratch("httpd-panic");
    let certs = root.join("certs");
    demo_certs(&certs);
    std::fs::create_dir_all(root.join("htdocs/boom")).expect("mkdir");
    std::fs::write(root.join("htdocs/boom/index.html"), "never served\n").expect("write");
    let site = "<Location /boom>\n  AuthType AuthRs\n  AuthName Example\n  AuthRsTestPanic On\n  Require valid-user\n</Location>\n\
                <Location /app>\n  AuthType AuthRs\n  AuthName Example\n  Require valid-user\n</Location>\n";
    let a = Apache::start_in(root, certs, "", site);
    for _ in 0..3 {
        let r = Request::get(a.url("/boom/")).ca(&a.ca()).send();
        assert_eq!(r.status, 500, "{r:?}");
        assert!(!r.body.contains("never served"));
    }
    // The same worker process still answers, and still enforces authentication.
    let r = Request::get(a.url("/app/")).ca(&a.ca()).send();
    assert_eq!(r.status, 401, "{r:?}");
    let r = Request::get(a.url("/index.html")).ca(&a.ca()).send();
    assert_eq!(r.status, 200);
    let log = a.error_log();
    assert!(log.contains("AUTHRS0900"), "{log}");
    assert!(!log.contains("exit signal"), "no worker died: {log}");
}

#[test]
fn a_panicking_merge_refuses_the_scope_instead_of_dropping_the_parent() {
    std::env::set_var("AUTHRS_TEST_PANIC_BUILD", "1");
    let root = scratch("httpd-merge-panic");
    let certs = root.join("certs");
    demo_certs(&certs);
    const KEY_B64: &str = "dGVzdC1rZXktZm9yLW1vZF9hdXRocnMtdGVzdHMtMzI=";
    std::fs::write(root.join("ticket.key"), format!("{KEY_B64}\n")).expect("key");
    for d in ["app", "app/sub"] {
        std::fs::create_dir_all(root.join("htdocs").join(d)).expect("mkdir");
        std::fs::write(root.join("htdocs").join(d).join("index.html"), "served\n").expect("write");
    }
    // The parent accepts certificates only. When merging /app/sub's own section into it fails,
    // /app/sub must not run on that section alone (the parent's and the server's settings
    // dropped): every request there is refused.
    let site = "<Location /app>\n  AuthType AuthRs\n  AuthName Example\n  AuthRsMethods cert\n  Require valid-user\n</Location>\n\
                <Location /app/sub>\n  AuthRsTestPanic merge\n</Location>\n";
    let global = format!("AuthRsTicketKeyFile \"{}/ticket.key\"\n", root.display());
    let a = Apache::start_in(root, certs, &global, site);
    let ring = KeyRing::new(vec![TicketKey::from_base64(KEY_B64).expect("key")]).expect("ring");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let mut t = Ticket::new("demo", AuthMethod::Password, now, 3600);
    t.roles = None;
    let t = ring.mint(&t).expect("mint");
    let r = Request::get(a.url("/app/"))
        .ca(&a.ca())
        .cookie("AuthRs_Example", &t)
        .send();
    assert_eq!(r.status, 401, "the parent refuses tickets: {r:?}");
    for path in ["/app/sub/", "/app/sub/index.html"] {
        let r = Request::get(a.url(path))
            .ca(&a.ca())
            .cookie("AuthRs_Example", &t)
            .send();
        assert_eq!(r.status, 500, "{path}: {r:?}");
        assert!(!r.body.contains("served"));
    }
    let log = a.error_log();
    assert!(log.contains("AUTHRS0903"), "{log}");
    assert!(!log.contains("exit signal"), "no worker died: {log}");
    // Outside the broken scope, service goes on.
    let r = Request::get(a.url("/index.html")).ca(&a.ca()).send();
    assert_ne!(r.status, 500, "{r:?}");
}

#[test]
fn a_panic_creating_a_sections_configuration_stops_the_start() {
    std::env::set_var("AUTHRS_TEST_PANIC_BUILD", "1");
    // Creating the section's own configuration fails: never a NULL config (which a merge would
    // take as "nothing here", keeping the parent's settings alone or dropping them) but a broken
    // one, which the section's first AuthRs directive refuses — httpd does not start, naming
    // the line. (httpd creates a module's section config when it reads the module's first
    // directive there.)
    let site = "<Location /app>\n  AuthType AuthRs\n  AuthName Example\n  Require valid-user\n</Location>\n\
                <Location /app/test-panic-create>\n  AuthRsMethods ticket\n</Location>\n";
    let out = authrs_tests::apache::start_fails("", site);
    assert!(out.contains("Syntax error on line"), "{out}");
    assert!(
        out.contains("internal error (empty configuration chain)"),
        "{out}"
    );
}
