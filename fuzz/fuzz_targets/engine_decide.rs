#![no_main]
// Arbitrary headers, cookies, peers, TLS facts and form bodies through the whole engine:
// every answer is a decision, never a panic, and nothing anonymous is ever let through.
use authrs_core::cert::Certificate;
use authrs_core::cookies::{CookieSettings, SameSite};
use authrs_core::engine::{decide, login, logout, Policy, Stores, Verdict};
use authrs_core::password::Htpasswd;
use authrs_core::proxy::TrustedProxies;
use authrs_core::request::{CertVerify, RequestFacts, TlsFacts};
use authrs_core::ticket::{KeyRing, TicketKey};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let Some((&more, rest)) = rest.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let peer = lines.next().and_then(|l| l.parse().ok());
    let mut headers = Vec::new();
    let mut body = Vec::new();
    for l in lines.by_ref() {
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.to_string().into(), v.trim().to_string().into()));
        }
    }
    for l in lines {
        body.extend_from_slice(l.as_bytes());
    }
    let verify = match flags & 3 {
        0 => CertVerify::None,
        1 => CertVerify::Success,
        2 => CertVerify::Generous,
        _ => CertVerify::Failed("self-signed certificate".into()),
    };
    let req = RequestFacts {
        method: "POST".into(),
        path: "/app".into(),
        query: Some(String::from_utf8_lossy(&body).into_owned().into()),
        headers,
        peer,
        // A client address learned from a trusted proxy (mod_remoteip) binds tickets instead.
        client: (more & 1 != 0).then(|| "192.0.2.9".parse().unwrap()),
        secure: flags & 4 != 0,
        tls: TlsFacts {
            verify,
            cert: (flags & 8 != 0).then(|| body.clone()),
            // The shells' cached parse (httpd's per-process cache, Envoy's per-VM one).
            parsed_cert: (more & 2 != 0)
                .then(|| Certificate::parse(&body).ok().map(std::sync::Arc::new))
                .flatten(),
            ..TlsFacts::default()
        },
    };
    let cookie = CookieSettings {
        name: "AuthRs_F".into(),
        domain: None,
        path: "/".into(),
        secure: true,
        http_only: true,
        same_site: SameSite::Lax,
        persistent: flags & 16 != 0,
    };
    let ring = KeyRing::new(vec![TicketKey::new(&[5u8; 32]).unwrap()]).unwrap();
    let mut p = Policy::new(cookie, Some(ring));
    p.login_url = Some("/login".into());
    p.session_timeout = (flags & 32 != 0).then_some(600);
    p.bind_address = flags & 64 != 0;
    p.cert_required = flags & 128 != 0;
    p.trusted_proxies = TrustedProxies::parse("10.0.0.0/8 ::1").unwrap();
    let d = decide(&p, &req, 1_795_409_468, &mut Stores::default());
    // Without a valid ticket (none can be forged here) nobody is authenticated.
    assert!(d.identity.is_none() || req.headers.iter().any(|(k, _)| k.to_ascii_lowercase().contains("ssl") || k.to_ascii_lowercase().contains("forwarded")) || req.tls.has_cert());
    if d.identity.is_none() {
        assert!(!matches!(d.verdict, Verdict::Allow));
    }
    let mut users = Htpasswd::parse("u:{SHA}ieSV55Qc+eQOaYDRSha/AjzNTJE=\n").unwrap();
    let _ = login(&p, &req, &body, 1_795_409_468, &mut users);
    let _ = logout(&p, &req, 1_795_409_468, flags & 1 != 0, &mut Stores::default());
});
