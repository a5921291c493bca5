//! A real browser (Debian's headless Chromium via chromedriver) logs in through the default
//! login page of mod_authrs, lands on the protected page, and logs out.

use authrs_tests::apache::Apache;
use authrs_tests::webdriver::Browser;
use authrs_tests::{demo_certs, scratch};

#[test]
fn browser_login_and_logout() {
    let root = scratch("httpd-browser");
    let certs = root.join("certs");
    demo_certs(&certs);
    std::fs::write(
        root.join("ticket.key"),
        "YnJvd3Nlci10ZXN0LWtleS1mb3ItbW9kX2F1dGhycy1pdA==\n",
    )
    .expect("key");
    let hash = authrs_core::password::hash_bcrypt("demo", 5, [5u8; 16]).expect("hash");
    std::fs::write(root.join("htpasswd"), format!("demo:{hash}\n")).expect("htpasswd");
    let r = root.display();
    let global = format!("AuthRsTicketKeyFile \"{r}/ticket.key\"\n");
    let site = format!(
        "<Location />\n  AuthName Browser\n  AuthRsLoginURL /LOGIN\n</Location>\n\
         <Location /app>\n  AuthType AuthRs\n  Require valid-user\n</Location>\n\
         <Location /LOGIN>\n  SetHandler authrs-login\n  AuthRsProvider file\n  AuthUserFile \"{r}/htpasswd\"\n</Location>\n\
         <Location /LOGOUT>\n  SetHandler authrs-logout\n</Location>\n"
    );
    let a = Apache::start_in(root, certs, &global, &site);
    let b = Browser::start();

    // A protected page sends the browser to the login page, which says why.
    b.goto(&a.url("/app/index.html"));
    assert!(b.url().contains("/LOGIN?"), "{}", b.url());
    assert!(b.url().contains("reason=no_cookie"), "{}", b.url());
    assert!(b.source().contains("Please log in."), "{}", b.source());

    // A wrong password comes back with the reason in words.
    b.type_into("#credential_0", "demo");
    b.type_into("#credential_1", "wrong");
    b.click("button[type=submit]");
    b.wait_for_url(|u| u.contains("reason=bad_credentials"));
    assert!(b.source().contains("The user name or password was wrong."));

    // The right one lands on the page first asked for, with the ticket cookie set.
    b.type_into("#credential_0", "demo");
    b.type_into("#credential_1", "demo");
    b.click("button[type=submit]");
    let target = a.url("/app/index.html");
    assert_eq!(
        b.wait_for_url(|u| u == target || !u.contains("/LOGIN")),
        target
    );
    assert!(b.source().contains("protected app"), "{}", b.source());
    assert!(b
        .cookies()
        .iter()
        .any(|(n, v)| n == "AuthRs_Browser" && !v.is_empty()));

    // Logging out clears the cookie; the page asks for a login again.
    b.goto(&a.url("/LOGOUT"));
    assert!(
        !b.cookies().iter().any(|(n, _)| n == "AuthRs_Browser"),
        "{:?}",
        b.cookies()
    );
    b.goto(&a.url("/app/index.html"));
    assert!(b.url().contains("/LOGIN?"), "{}", b.url());
}
