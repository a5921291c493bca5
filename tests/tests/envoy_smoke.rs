//! Temporary smoke test while the Envoy suite is written.
use authrs_core::identity::AuthMethod;
use authrs_core::ticket::{KeyRing, Ticket, TicketKey};
use authrs_tests::envoy::{Envoy, EnvoyOptions};
use authrs_tests::{demo_certs, scratch};

const KEY_B64: &str = "dGVzdC1rZXktZm9yLW1vZF9hdXRocnMtdGVzdHMtMzI=";

#[test]
fn smoke() {
    let certs = scratch("envoy-certs");
    demo_certs(&certs);
    let json = serde_json::json!({
        "auth_name": "Example", "ticket_keys": [KEY_B64], "login_url": "/login.html",
        "locations": [{"prefix": "/app", "require": {"valid_user": true}}]
    });
    let e = Envoy::start(&certs, &EnvoyOptions::new(json.to_string()));
    let r = e.get("/app/x").send();
    assert_eq!(r.status, 302, "{r:?}\n{}", e.log());
    let ring = KeyRing::new(vec![TicketKey::from_base64(KEY_B64).unwrap()]).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t = ring
        .mint(&Ticket::new("demo", AuthMethod::Password, now - 5, 3600))
        .unwrap();
    let r = e.get("/app/x").cookie("AuthRs_Example", &t).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", e.log());
    assert_eq!(r.env("AUTHRS_USER"), Some("demo"), "{r:?}");
    let r = e.get("/app/x").client_cert(&certs, "alice").send();
    assert_eq!(r.env("AUTHRS_USER"), Some("alice"), "{r:?}\n{}", e.log());
    eprintln!("{}", r.body);
    eprintln!("{}", e.log());
}
