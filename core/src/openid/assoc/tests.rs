use super::*;

const NOW: i64 = 1_800_000_000;
// Vectors from python-openid 3.2 (Debian python3-openid): the provider's answers to our
// DH public key for random = [7; 64], with server exponent from [11; 64] and MAC key 0, 1, 2, ….
const CONSUMER_PUBLIC: &str = "AKwyExrigcOLDBeyMrhVFfNYgAljVGiMUjKuMgb6cbZsLOtNlChNhCDDCFnWwvmpmONu1pc8jW6/UoVdqgJtKYr8/d7J/pk01qqvbx7/y3ZVN8nw7xaWLK1x0ZrUvHWnOKCG74HmToCEltSKRdMHQzZB27AwBDi3gDS679b6Nmyt";
const SERVER_PUBLIC: &str = "Z2z31ZTsNilCzEN9EPlWg4TV1BbvX5ObP10EvKdlhaYKDYF7i2InH6yH5XMf8MY5LmLhx/YrLXOd/BtON5Ztj6Jn6OFoXctR1Mz85zCs30KXfVqb9hOXpk3tNIqlX+jYZXqT44yVBcL2IR0aE1areWzroPdo8UjHa/IWXJwASn4=";
const ENC_SHA1: &str = "d9FkvgCi1eb0ToYENdijGLnXHYA=";
const ENC_SHA256: &str = "VfQii4Se7G/yzL5Z1EAfPS533NWLMb4hZ83lbdsXRLY=";

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn start(
    server: &str,
    version: Version,
    options: AssocOptions,
) -> (HttpRequest, PendingAssociation) {
    associate(
        &url(server),
        version,
        &options,
        &FetchLimits::default(),
        &[7u8; 64],
    )
    .unwrap()
}

fn form(r: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(r.body.as_deref().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn field<'a>(f: &'a [(String, String)], k: &str) -> Option<&'a str> {
    f.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
}

fn answer(pairs: &[(&str, &str)]) -> HttpResponse {
    HttpResponse::new(200, kv::serialize(pairs.iter().copied()).unwrap())
}

fn done(step: AssocStep) -> Association {
    match step {
        AssocStep::Done(a) => a,
        other => panic!("expected an association, got {other:?}"),
    }
}

fn failed(step: AssocStep) -> AssocError {
    match step {
        AssocStep::Failed(e) => e,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn dh_sha256_against_python_openid() {
    let options = AssocOptions {
        max_encrypt: true,
        ..AssocOptions::default()
    };
    let (req, pending) = start("https://op.example/auth", Version::V2, options);
    let f = form(&req);
    assert_eq!(field(&f, "openid.ns"), Some(NS_2_0));
    assert_eq!(field(&f, "openid.mode"), Some("associate"));
    assert_eq!(field(&f, "openid.assoc_type"), Some("HMAC-SHA256"));
    assert_eq!(field(&f, "openid.session_type"), Some("DH-SHA256"));
    assert_eq!(
        field(&f, "openid.dh_consumer_public"),
        Some(CONSUMER_PUBLIC)
    );
    let a = done(pending.on_response(
        answer(&[
            ("ns", NS_2_0),
            ("assoc_handle", "{HMAC-SHA256}{1}{abc}"),
            ("assoc_type", "HMAC-SHA256"),
            ("session_type", "DH-SHA256"),
            ("expires_in", "1209600"),
            ("dh_server_public", SERVER_PUBLIC),
            ("enc_mac_key", ENC_SHA256),
        ]),
        NOW,
    ));
    assert_eq!(a.secret, (0u8..32).collect::<Vec<_>>());
    assert_eq!(a.expiry, NOW + 1_209_600);
    assert_eq!(a.server, "https://op.example/auth");
    assert!(a.usable(NOW));
    assert!(!a.expired(a.expiry));
    assert!(a.expired(a.expiry + 1));
}

#[test]
fn dh_sha1_defaults_against_python_openid() {
    let (req, pending) = start(
        "http://op.example/auth",
        Version::V2,
        AssocOptions::default(),
    );
    let f = form(&req);
    assert_eq!(field(&f, "openid.assoc_type"), Some("HMAC-SHA1"));
    assert_eq!(field(&f, "openid.session_type"), Some("DH-SHA1"));
    let a = done(pending.on_response(
        answer(&[
            ("assoc_handle", "h1"),
            ("assoc_type", "HMAC-SHA1"),
            ("session_type", "DH-SHA1"),
            ("expires_in", "60"),
            ("dh_server_public", SERVER_PUBLIC),
            ("enc_mac_key", ENC_SHA1),
        ]),
        NOW,
    ));
    assert_eq!(a.secret, (0u8..20).collect::<Vec<_>>());
    // A provider may announce up to two years; the key is kept for 14 days at most (someone on
    // the path to a plain-http provider who learnt it does not keep it for years).
    let (_, pending) = start(
        "http://op.example/auth",
        Version::V2,
        AssocOptions::default(),
    );
    let a = done(pending.on_response(
        answer(&[
            ("assoc_handle", "h2"),
            ("assoc_type", "HMAC-SHA1"),
            ("session_type", "DH-SHA1"),
            ("expires_in", "31536000"),
            ("dh_server_public", SERVER_PUBLIC),
            ("enc_mac_key", ENC_SHA1),
        ]),
        NOW,
    ));
    assert_eq!(a.expiry, NOW + MAX_KEPT);
}

#[test]
fn session_choice_follows_the_seed() {
    let https = "https://op.example/";
    let http = "http://op.example/";
    let pick = |server, v, o: AssocOptions| {
        let (req, _) = start(server, v, o);
        let f = form(&req);
        (
            field(&f, "openid.session_type").map(str::to_string),
            field(&f, "openid.assoc_type").map(str::to_string),
            field(&f, "openid.dh_consumer_public").is_some(),
        )
    };
    let noenc = AssocOptions {
        session_no_encrypt_https: true,
        max_encrypt: true,
        ..AssocOptions::default()
    };
    assert_eq!(
        pick(https, Version::V2, noenc),
        (
            Some("no-encryption".into()),
            Some("HMAC-SHA256".into()),
            false
        )
    );
    // Over http, session_no_encrypt_https does nothing.
    assert_eq!(
        pick(http, Version::V2, noenc),
        (Some("DH-SHA256".into()), Some("HMAC-SHA256".into()), true)
    );
    // 1.x: max_encrypt is DH-SHA1/HMAC-SHA1; no-encryption is spelled by omission.
    let max = AssocOptions {
        max_encrypt: true,
        ..AssocOptions::default()
    };
    assert_eq!(
        pick(http, Version::V1, max),
        (Some("DH-SHA1".into()), Some("HMAC-SHA1".into()), true)
    );
    assert_eq!(
        pick(https, Version::V1, noenc),
        (None, Some("HMAC-SHA1".into()), false)
    );
}

#[test]
fn clear_secrets_need_https() {
    let clear = AssocOptions {
        session_type: SessionType::NoEncryption,
        ..AssocOptions::default()
    };
    let limits = FetchLimits::default();
    let r = associate(
        &url("http://op.example/"),
        Version::V2,
        &clear,
        &limits,
        &[1; 32],
    );
    assert_eq!(r.unwrap_err(), AssocError::HttpsRequired);
    // allow_eavesdropping is ignored under 2.0 …
    let eaves = AssocOptions {
        allow_eavesdropping: true,
        ..clear
    };
    let r = associate(
        &url("http://op.example/"),
        Version::V2,
        &eaves,
        &limits,
        &[1; 32],
    );
    assert_eq!(r.unwrap_err(), AssocError::HttpsRequired);
    // … and honoured under 1.x.
    let (_, pending) = associate(
        &url("http://op.example/"),
        Version::V1,
        &eaves,
        &limits,
        &[1; 32],
    )
    .unwrap();
    let mac = STANDARD.encode([9u8; 20]);
    let a = done(pending.on_response(
        answer(&[
            ("assoc_handle", "h"),
            ("assoc_type", "HMAC-SHA1"),
            ("expires_in", "60"),
            ("mac_key", &mac),
        ]),
        NOW,
    ));
    assert_eq!(a.secret, vec![9u8; 20]);
    // A 1.x provider answering a DH request in the clear over http is refused without the flag.
    let (_, pending) = start("http://op.example/", Version::V1, AssocOptions::default());
    let e = failed(pending.on_response(
        answer(&[
            ("assoc_handle", "h"),
            ("assoc_type", "HMAC-SHA1"),
            ("expires_in", "60"),
            ("mac_key", &mac),
        ]),
        NOW,
    ));
    assert_eq!(e, AssocError::HttpsRequired);
}

#[test]
fn bad_choices_and_inputs() {
    let limits = FetchLimits::default();
    let sha256_v1 = AssocOptions {
        assoc_type: AssocType::HmacSha256,
        ..AssocOptions::default()
    };
    assert!(matches!(
        associate(
            &url("https://op/"),
            Version::V1,
            &sha256_v1,
            &limits,
            &[1; 32]
        ),
        Err(AssocError::UnsupportedType(_))
    ));
    let mismatch = AssocOptions {
        assoc_type: AssocType::HmacSha256,
        ..AssocOptions::default()
    };
    assert_eq!(
        associate(
            &url("https://op/"),
            Version::V2,
            &mismatch,
            &limits,
            &[1; 32]
        )
        .unwrap_err(),
        AssocError::IncompatibleSessionType
    );
    assert_eq!(
        associate(
            &url("https://op/"),
            Version::V2,
            &AssocOptions::default(),
            &limits,
            &[1; 16]
        )
        .unwrap_err(),
        AssocError::ShortRandom
    );
    assert!(matches!(
        associate(
            &url("http://127.0.0.1/"),
            Version::V2,
            &AssocOptions::default(),
            &limits,
            &[1; 32]
        ),
        Err(AssocError::Refused(_))
    ));
}

#[test]
fn malformed_answers_are_refused() {
    let good = [
        ("assoc_handle", "h1"),
        ("assoc_type", "HMAC-SHA1"),
        ("session_type", "DH-SHA1"),
        ("expires_in", "60"),
        ("dh_server_public", SERVER_PUBLIC),
        ("enc_mac_key", ENC_SHA1),
    ];
    let with = |k: &str, v: &'static str| -> Vec<(&'static str, &'static str)> {
        good.iter()
            .map(|(gk, gv)| if *gk == k { (*gk, v) } else { (*gk, *gv) })
            .collect()
    };
    for (k, v) in [
        ("assoc_type", "HMAC-SHA256"),
        ("assoc_type", "HMAC-MD5"),
        ("session_type", "no-encryption"),
        ("expires_in", "0"),
        ("expires_in", "63072000"),
        ("expires_in", "soon"),
        ("assoc_handle", "has space"),
        ("assoc_handle", ""),
        ("dh_server_public", "AQ=="),
        ("enc_mac_key", "AAAA"),
        ("enc_mac_key", "!!"),
    ] {
        let (_, pending) = start("http://op.example/", Version::V2, AssocOptions::default());
        let e = failed(pending.on_response(answer(&with(k, v)), NOW));
        assert!(
            matches!(e, AssocError::BadResponse(_) | AssocError::HttpsRequired),
            "{k}={v}: {e:?}"
        );
    }
    let (_, pending) = start("http://op.example/", Version::V2, AssocOptions::default());
    assert!(matches!(
        failed(pending.on_response(HttpResponse::new(200, "not kv"), NOW)),
        AssocError::BadResponse(_)
    ));
    let (_, pending) = start("http://op.example/", Version::V2, AssocOptions::default());
    assert_eq!(
        failed(pending.on_response(HttpResponse::failed(), NOW)),
        AssocError::Http(0)
    );
}

#[test]
fn unsupported_type_is_retried_once() {
    let (_, pending) = start("https://op.example/", Version::V2, AssocOptions::default());
    let suggestion = HttpResponse::new(
        400,
        "ns:http://specs.openid.net/auth/2.0\nerror:no\nerror_code:unsupported-type\n\
         assoc_type:HMAC-SHA256\nsession_type:DH-SHA256\n",
    );
    let AssocStep::Retry(req, pending) = pending.on_response(suggestion.clone(), NOW) else {
        panic!("expected a retry");
    };
    let f = form(&req);
    assert_eq!(field(&f, "openid.session_type"), Some("DH-SHA256"));
    // A second suggestion ends it.
    let again = HttpResponse::new(
        400,
        "error_code:unsupported-type\nassoc_type:HMAC-SHA1\nsession_type:DH-SHA1\n",
    );
    assert_eq!(
        failed(pending.on_response(again, NOW)),
        AssocError::Http(400)
    );
    // A suggestion of clear secrets over http is refused by our own rule.
    let (_, pending) = start("http://op.example/", Version::V2, AssocOptions::default());
    let clear = HttpResponse::new(
        400,
        "error_code:unsupported-type\nassoc_type:HMAC-SHA1\nsession_type:no-encryption\n",
    );
    assert_eq!(
        failed(pending.on_response(clear, NOW)),
        AssocError::HttpsRequired
    );
}

#[test]
fn signatures_and_json() {
    let a: Association = serde_json::from_str(
        r#"{"server": "https://op/", "handle": "h", "secret": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "type": "HMAC-SHA256", "expiry": 1800000000}"#,
    )
    .unwrap();
    // perl -MDigest::SHA=hmac_sha256_base64 -e 'print hmac_sha256_base64("mode:id_res\n", pack("C*", 0..31)) (unpadded)'
    assert_eq!(
        a.signature(b"mode:id_res\n"),
        "GN89aTLGdetVqKfHxqgGI8wYfQb4bPIveNTq2kW99g0="
    );
    assert!(!format!("{a:?}").contains("secret"));
    assert!(!valid_handle(&"h".repeat(256)));
}

#[test]
fn json_record_round_trip() {
    let a = Association {
        server: "https://op.example/auth?x=\"1\"".into(),
        handle: "{HMAC-SHA256}{abc}{==}".into(),
        secret: (0u8..32).collect(),
        assoc_type: AssocType::HmacSha256,
        expiry: NOW + 3600,
    };
    let json = a.to_json();
    assert!(json.contains("\"type\":\"HMAC-SHA256\""), "{json}");
    assert_eq!(Association::from_json(json.as_bytes()), Some(a.clone()));
    for bad in [
        &b""[..],
        b"{}",
        b"not json",
        br#"{"server":"s","handle":"h","secret":"!!","type":"HMAC-SHA1","expiry":1}"#,
        br#"{"server":"s","handle":"h","secret":"AA==","type":"HMAC-MD5","expiry":1}"#,
    ] {
        assert_eq!(Association::from_json(bad), None);
    }
}

#[test]
fn debug_and_display_say_what_they_should() {
    // Debug names the association but never its secret.
    let a = Association {
        server: "https://op.example/".into(),
        handle: "h1".into(),
        secret: vec![0xAB; 20],
        assoc_type: AssocType::HmacSha1,
        expiry: NOW,
    };
    let debug = format!("{a:?}");
    assert!(
        debug.contains("https://op.example/") && debug.contains("\"h1\""),
        "{debug}"
    );
    assert!(
        !debug.contains("secret") && !debug.contains("171"),
        "{debug}"
    );
    for (e, want) in [
        (
            AssocError::HttpsRequired,
            "unencrypted association needs https",
        ),
        (
            AssocError::Http(400),
            "association failed with HTTP status 400",
        ),
        (
            AssocError::UnsupportedType("X".into()),
            "unsupported association type X",
        ),
    ] {
        assert_eq!(e.to_string(), want);
    }
}

#[test]
fn only_a_2_0_unsupported_type_answer_is_retried() {
    let suggest = |code: &str| {
        HttpResponse::new(
            400,
            format!("error_code:{code}\nassoc_type:HMAC-SHA256\nsession_type:DH-SHA256\n"),
        )
    };
    // 1.x knows no unsupported-type negotiation; 2.0 retries only on that code.
    let (_, pending) = start("https://op.example/", Version::V1, AssocOptions::default());
    assert_eq!(
        failed(pending.on_response(suggest("unsupported-type"), NOW)),
        AssocError::Http(400)
    );
    let (_, pending) = start("https://op.example/", Version::V2, AssocOptions::default());
    assert_eq!(
        failed(pending.on_response(suggest("other"), NOW)),
        AssocError::Http(400)
    );
    // An error status with a body that is not key-value is the status, not a bad answer;
    // a success that is not key-value says so.
    let (_, pending) = start("https://op.example/", Version::V2, AssocOptions::default());
    assert_eq!(
        failed(pending.on_response(HttpResponse::new(500, "<html>oops"), NOW)),
        AssocError::Http(500)
    );
    let (_, pending) = start("https://op.example/", Version::V2, AssocOptions::default());
    match failed(pending.on_response(HttpResponse::new(200, "<html>oops"), NOW)) {
        AssocError::BadResponse(m) => assert!(!m.contains("assoc_type"), "{m}"),
        other => panic!("expected a bad response, got {other:?}"),
    }
}

#[test]
fn a_2_0_provider_may_not_answer_a_dh_request_in_the_clear_even_over_https() {
    // Only 1.x providers may downgrade to no-encryption; 2.0 ones must use what was asked.
    let (_, pending) = start("https://op.example/", Version::V2, AssocOptions::default());
    let clear = answer(&[
        ("assoc_handle", "h1"),
        ("assoc_type", "HMAC-SHA1"),
        ("session_type", "no-encryption"),
        ("expires_in", "60"),
        ("mac_key", "AAECAwQFBgcICQoLDA0ODxAREhM="),
    ]);
    assert!(matches!(
        failed(pending.on_response(clear, NOW)),
        AssocError::BadResponse(_)
    ));
}
