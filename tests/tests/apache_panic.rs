//! A panic inside mod_authrs becomes a logged 500 and httpd carries on serving.
//! Runs against the `--features test-panic` build (`make test` builds it into target/test-panic).

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
