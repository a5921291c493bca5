use super::*;

const HTML: &str = r#"<html><head>
<link rel="openid2.provider" href="https://op.example/auth">
<link rel="openid2.local_id" href="https://op.example/u/alice">
<link rel="openid.server" href="http://op.example/v1">
</head><body></body></html>"#;

const XRDS: &str = r#"<xrds:XRDS xmlns:xrds="xri://$xrds" xmlns="xri://$xrd*($v*2.0)"
  xmlns:openid="http://openid.net/xmlns/1.0"><XRD>
  <Service priority="20"><Type>http://openid.net/signon/1.1</Type><URI>http://op.example/v1</URI>
    <openid:Delegate>http://op.example/u/alice1</openid:Delegate></Service>
  <Service priority="10"><Type>http://specs.openid.net/auth/2.0/signon</Type>
    <URI>https://op.example/auth</URI><LocalID>https://op.example/u/alice</LocalID></Service>
  <Service priority="30"><Type>http://specs.openid.net/auth/2.0/server</Type>
    <URI>https://op.example/select</URI></Service>
  <Service priority="5"><Type>http://specs.openid.net/auth/2.0/signon</Type>
    <URI>javascript:alert(1)</URI></Service>
</XRD></xrds:XRDS>"#;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn fetch(step: DiscoveryStep) -> HttpRequest {
    match step {
        DiscoveryStep::Fetch(r) => r,
        DiscoveryStep::Done(e) => panic!("expected a fetch, got {e:?}"),
    }
}

fn done(step: DiscoveryStep) -> Vec<Endpoint> {
    match step {
        DiscoveryStep::Done(e) => e,
        DiscoveryStep::Fetch(r) => panic!("expected done, got a fetch of {}", r.url),
    }
}

fn html(body: &str) -> HttpResponse {
    HttpResponse::new(200, body).with_header("Content-Type", "text/html; charset=utf-8")
}

fn xrds_doc(body: &str) -> HttpResponse {
    HttpResponse::new(200, body).with_header("Content-Type", "application/xrds+xml")
}

fn start(u: &str) -> (Discovery, HttpRequest) {
    let (d, step) = Discovery::start(url(u), FetchLimits::default(), None);
    (d, fetch(step))
}

#[test]
fn html_discovery_after_a_redirect() {
    let (mut d, req) = start("http://me.example/");
    assert_eq!(req.url, "http://me.example/");
    assert!(req
        .headers
        .iter()
        .any(|(k, v)| k == "Accept" && v == YADIS_ACCEPT));
    let req = fetch(d.on_response(
        HttpResponse::new(301, "").with_header("Location", "https://me.example/alice#x"),
    ));
    assert_eq!(req.url, "https://me.example/alice");
    let eps = done(d.on_response(html(HTML)));
    assert_eq!(eps.len(), 2);
    assert_eq!(eps[0].version, Version::V2);
    assert_eq!(eps[0].server, "https://op.example/auth");
    assert_eq!(eps[0].claimed_id, "https://me.example/alice");
    assert_eq!(eps[0].identity_arg(), "https://op.example/u/alice");
    assert_eq!(eps[0].mechanism, Mechanism::Html);
    assert_eq!(eps[1].version, Version::V1);
    assert_eq!(eps[1].identity_arg(), "https://me.example/alice");
}

#[test]
fn yadis_pointer_then_xrds_and_html() {
    let (mut d, _) = start("http://me.example/");
    let page = html(HTML).with_header("X-XRDS-Location", "/yadis");
    let req = fetch(d.on_response(page));
    assert_eq!(req.url, "http://me.example/yadis");
    let eps = done(d.on_response(xrds_doc(XRDS)));
    let summary: Vec<(u8, &str, bool, Mechanism)> = eps
        .iter()
        .map(|e| {
            (
                e.version.number(),
                e.server.as_str(),
                e.op_identifier,
                e.mechanism,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (2, "https://op.example/select", true, Mechanism::Yadis),
            (2, "https://op.example/auth", false, Mechanism::Yadis),
            (2, "https://op.example/auth", false, Mechanism::Html),
            (1, "http://op.example/v1", false, Mechanism::Yadis),
            (1, "http://op.example/v1", false, Mechanism::Html),
        ]
    );
    assert_eq!(eps[0].claimed_id, IDENTIFIER_SELECT);
    assert_eq!(eps[1].claimed_id, "http://me.example/");
    assert_eq!(
        eps[3].local_id.as_deref(),
        Some("http://op.example/u/alice1")
    );
}

#[test]
fn meta_pointer_and_direct_xrds() {
    let (mut d, _) = start("http://me.example/");
    let page =
        r#"<head><meta http-equiv="x-xrds-location" content="http://me.example/x.xrds"></head>"#;
    let req = fetch(d.on_response(html(page)));
    assert_eq!(req.url, "http://me.example/x.xrds");
    assert_eq!(done(d.on_response(HttpResponse::new(200, XRDS))).len(), 3);

    let (mut d, _) = start("http://me.example/");
    let eps = done(d.on_response(
        HttpResponse::new(200, XRDS).with_header("content-type", "application/xrds+xml"),
    ));
    assert_eq!(eps.len(), 3);
}

#[test]
fn failed_xrds_falls_back_to_html() {
    let (mut d, _) = start("http://me.example/");
    fetch(d.on_response(html(HTML).with_header("X-XRDS-Location", "http://me.example/gone")));
    let eps = done(d.on_response(HttpResponse::new(404, "")));
    assert_eq!(eps.len(), 2);
    assert!(d.problem().unwrap().contains("404"));
    let (mut d, _) = start("http://me.example/");
    fetch(d.on_response(html(HTML).with_header("X-XRDS-Location", "http://me.example/bad")));
    assert_eq!(
        done(d.on_response(HttpResponse::new(200, "<nope"))).len(),
        2
    );
}

#[test]
fn force_version_filters() {
    let (mut d, step) = Discovery::start(
        url("http://me.example/"),
        FetchLimits::default(),
        Some(Version::V1),
    );
    fetch(step);
    let eps = done(d.on_response(html(HTML)));
    assert_eq!(eps.len(), 1);
    assert_eq!(eps[0].version, Version::V1);
}

#[test]
fn redirect_limits_and_hostile_targets() {
    let (mut d, _) = start("http://me.example/");
    for i in 0..5 {
        fetch(d.on_response(HttpResponse::new(302, "").with_header("Location", &format!("/r{i}"))));
    }
    assert!(
        done(d.on_response(HttpResponse::new(302, "").with_header("Location", "/r5"))).is_empty()
    );
    assert!(d.problem().unwrap().contains("redirects"));

    // A redirect to a private address or another scheme ends discovery: no endpoints.
    for target in [
        "http://127.0.0.1/admin",
        "http://169.254.169.254/",
        "file:///etc/passwd",
    ] {
        let (mut d, _) = start("http://me.example/");
        assert!(
            done(d.on_response(HttpResponse::new(302, "").with_header("Location", target)))
                .is_empty()
        );
        assert!(d.problem().unwrap().contains("refusing"), "{target}");
    }
    // The identifier itself on a private address is not fetched at all.
    let (d, step) = Discovery::start(url("http://10.0.0.1/"), FetchLimits::default(), None);
    assert!(done(step).is_empty());
    assert!(d.problem().is_some());
}

#[test]
fn errors_and_garbage_find_nothing() {
    let (mut d, _) = start("http://me.example/");
    assert!(done(d.on_response(HttpResponse::failed())).is_empty());
    assert!(d.problem().unwrap().contains("status 0"));
    let (mut d, _) = start("http://me.example/");
    assert!(done(d.on_response(html("<html><body>no links</body></html>"))).is_empty());
    let (mut d, _) = start("http://me.example/");
    let page = r#"<head><link rel="openid2.provider" href="/relative"></head>"#;
    assert!(done(d.on_response(html(page))).is_empty());
    // After Done, further responses change nothing.
    assert!(done(d.on_response(html(HTML))).is_empty());
}

#[test]
fn refused_xrds_pointer_falls_back_to_html() {
    // An identity page pointing its Yadis document at a private address: the document is
    // not fetched, the page's own links still count.
    for pointer in ["http://127.0.0.1/yadis", "file:///etc/passwd"] {
        let (mut d, _) = start("http://me.example/");
        let eps = done(d.on_response(html(HTML).with_header("X-XRDS-Location", pointer)));
        assert_eq!(eps.len(), 2, "{pointer}");
        assert!(eps.iter().all(|e| e.mechanism == Mechanism::Html));
        assert!(d.problem().unwrap().contains("refusing"), "{pointer}");
    }
    // A redirect of the XRDS fetch to a private address: the same.
    let (mut d, _) = start("http://me.example/");
    fetch(d.on_response(html(HTML).with_header("X-XRDS-Location", "/yadis")));
    let eps = done(d.on_response(
        HttpResponse::new(302, "").with_header("Location", "http://169.254.169.254/"),
    ));
    assert_eq!(eps.len(), 2);
}

#[test]
fn redirected_xrds_keeps_the_identity_as_claimed_id() {
    // Where the XRDS document lives says nothing about the identity: claimed_id stays the
    // page the user's identifier led to.
    let (mut d, _) = start("http://me.example/");
    fetch(d.on_response(html("<p>x</p>").with_header("X-XRDS-Location", "/yadis")));
    let req = fetch(d.on_response(
        HttpResponse::new(302, "").with_header("Location", "https://cdn.example/x.xrds#f"),
    ));
    assert_eq!(req.url, "https://cdn.example/x.xrds");
    assert!(req
        .headers
        .iter()
        .any(|(k, v)| k == "Accept" && v == "application/xrds+xml"));
    let eps = done(d.on_response(HttpResponse::new(200, XRDS)));
    assert_eq!(eps.len(), 3);
    assert!(eps
        .iter()
        .filter(|e| !e.op_identifier)
        .all(|e| e.claimed_id == "http://me.example/"));
}

#[test]
fn service_types_each_count_once() {
    // A 1.0-only service is 1.x; a service that is both an OP identifier and a 2.0 signon
    // gives both endpoints; a URI list is kept in order.
    let doc = r#"<xrds:XRDS xmlns:xrds="xri://$xrds" xmlns="xri://$xrd*($v*2.0)"
      xmlns:openid="http://openid.net/xmlns/1.0"><XRD>
      <Service><Type>http://openid.net/signon/1.0</Type><URI>http://op.example/v10</URI>
        <openid:Delegate>http://op.example/d</openid:Delegate><LocalID>http://no/</LocalID></Service>
      <Service><Type>http://specs.openid.net/auth/2.0/server</Type>
        <Type>http://specs.openid.net/auth/2.0/signon</Type>
        <URI>https://op.example/both</URI><LocalID>https://op.example/me</LocalID></Service>
      <Service><Type>http://example.com/unrelated</Type><URI>https://op.example/x</URI></Service>
    </XRD></xrds:XRDS>"#;
    let (mut d, _) = start("http://me.example/");
    let eps = done(d.on_response(xrds_doc(doc)));
    let summary: Vec<(u8, &str, bool, &str)> = eps
        .iter()
        .map(|e| {
            (
                e.version.number(),
                e.server.as_str(),
                e.op_identifier,
                e.identity_arg(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (2, "https://op.example/both", true, IDENTIFIER_SELECT),
            (2, "https://op.example/both", false, "https://op.example/me"),
            (1, "http://op.example/v10", false, "http://op.example/d"),
        ]
    );
}

#[test]
fn overlong_endpoint_urls_and_local_ids_are_ignored() {
    // At the limit: kept. One byte more (server, or local id): that endpoint is ignored, the
    // page's others still count.
    let at = format!(
        "https://op.example/{}",
        "a".repeat(MAX_ENDPOINT_URL_LEN - 19)
    );
    assert_eq!(at.len(), MAX_ENDPOINT_URL_LEN);
    let over = format!("{at}b");
    let page = |server: &str, v1_local: &str| {
        html(&format!(
            r#"<head><link rel="openid2.provider" href="{server}">
<link rel="openid.server" href="http://op.example/v1">
<link rel="openid.delegate" href="{v1_local}"></head>"#
        ))
    };
    let servers = |eps: Vec<Endpoint>| eps.into_iter().map(|e| e.server).collect::<Vec<_>>();
    let (mut d, _) = start("http://me.example/");
    assert_eq!(
        servers(done(d.on_response(page(&at, "http://op.example/u/a")))),
        [at.clone(), "http://op.example/v1".to_string()]
    );
    let (mut d, _) = start("http://me.example/");
    assert_eq!(
        servers(done(d.on_response(page(&over, "http://op.example/u/a")))),
        ["http://op.example/v1"]
    );
    let long_local = format!("http://op.example/u/{}", "x".repeat(MAX_ENDPOINT_URL_LEN));
    let (mut d, _) = start("http://me.example/");
    assert_eq!(servers(done(d.on_response(page(&at, &long_local)))), [at]);
    // The same in an XRDS document: a megabyte URI is not an endpoint.
    let huge = format!("https://op.example/{}", "z".repeat(1 << 20));
    let xrds = XRDS.replace("https://op.example/select", &huge);
    let (mut d, _) = start("http://me.example/");
    let eps = done(d.on_response(xrds_doc(&xrds)));
    assert!(!eps.is_empty());
    assert!(eps
        .iter()
        .all(|e| e.server.len() <= MAX_ENDPOINT_URL_LEN && !e.op_identifier));
}

#[test]
fn local_ids_are_bounded_on_both_discovery_paths() {
    // Exactly at the limit: kept; one byte more: that endpoint is dropped.
    let local_at = format!(
        "https://op.example/u/{}",
        "l".repeat(MAX_ENDPOINT_URL_LEN - 21)
    );
    assert_eq!(local_at.len(), MAX_ENDPOINT_URL_LEN);
    let local_over = format!("{local_at}m");
    // HTML: openid2.local_id.
    let page = |local: &str| {
        html(&format!(
            r#"<head><link rel="openid2.provider" href="https://op.example/auth">
<link rel="openid2.local_id" href="{local}"></head>"#
        ))
    };
    let (mut d, _) = start("http://me.example/");
    let eps = done(d.on_response(page(&local_at)));
    assert_eq!(eps.len(), 1);
    assert_eq!(eps[0].local_id.as_deref(), Some(local_at.as_str()));
    let (mut d, _) = start("http://me.example/");
    assert!(done(d.on_response(page(&local_over))).is_empty());
    // Yadis: a 2.0 service's LocalID.
    let xrds = |local: &str| {
        XRDS.replace(
            "<LocalID>https://op.example/u/alice</LocalID>",
            &format!("<LocalID>{local}</LocalID>"),
        )
    };
    let auth_v2 = |eps: &[Endpoint]| {
        eps.iter()
            .filter(|e| e.server == "https://op.example/auth" && e.version == Version::V2)
            .count()
    };
    let (mut d, _) = start("http://me.example/");
    let body = xrds(&local_at);
    let eps = done(d.on_response(xrds_doc(&body)));
    assert_eq!(auth_v2(&eps), 1, "{eps:?}");
    let (mut d, _) = start("http://me.example/");
    let body = xrds(&local_over);
    let eps = done(d.on_response(xrds_doc(&body)));
    assert_eq!(auth_v2(&eps), 0, "{eps:?}");
    // The document's other services still count.
    assert!(eps.iter().any(|e| e.op_identifier));
}

#[test]
fn a_document_declaring_thousands_of_endpoints_yields_a_bounded_few() {
    // Within the XML node limit, one service may list thousands of URIs under three types: each
    // would be an endpoint carrying the (long) claimed identifier.
    let identity = format!("http://me.example/{}", "i".repeat(1900));
    let uris: String = (0..3000)
        .map(|i| format!("<URI>https://op.example/{i}</URI>"))
        .collect();
    let doc = format!(
        r#"<xrds:XRDS xmlns:xrds="xri://$xrds" xmlns="xri://$xrd*($v*2.0)"><XRD>
  <Service><Type>http://specs.openid.net/auth/2.0/signon</Type>
    <Type>http://openid.net/signon/1.1</Type>{uris}</Service>
</XRD></xrds:XRDS>"#
    );
    let (mut d, _) = start(&identity);
    let eps = done(d.on_response(xrds_doc(&doc)));
    assert_eq!(eps.len(), MAX_ENDPOINTS);
    // The first ones the document lists, 2.0 first.
    assert_eq!(eps[0].server, "https://op.example/0");
    assert!(eps.iter().all(|e| e.claimed_id.len() > 1900));
    // A usual document keeps every endpoint it declares.
    let (mut d, _) = start("http://me.example/");
    assert_eq!(done(d.on_response(xrds_doc(XRDS))).len(), 3);
}

/// With private addresses allowed for a provider on the local network and an allow-list of
/// providers, only the allowed providers' origins may be private: an identifier a visitor types
/// (or a redirect) aimed at the rest of the network is not fetched.
#[test]
fn private_addresses_only_at_the_allowed_providers() {
    let limits = FetchLimits {
        allow_private_addresses: true,
        ..FetchLimits::default()
    };
    let providers = [url("http://10.0.0.5:8080/op")];
    let limited = |u: &str| Discovery::start_limited(url(u), limits, None, &providers);
    // The provider's own host and port: fetched, private allowed.
    let (mut d, step) = limited("http://10.0.0.5:8080/id/alice");
    assert!(fetch(step).allow_private_addresses);
    // Redirected elsewhere on the network: refused.
    assert!(done(
        d.on_response(HttpResponse::new(302, "").with_header("Location", "http://10.0.0.9/admin"))
    )
    .is_empty());
    assert!(
        d.problem().unwrap().contains("refusing"),
        "{:?}",
        d.problem()
    );
    // Another host, or another port of the same host: refused.
    for other in [
        "http://10.0.0.6:8080/",
        "http://10.0.0.5:9901/config_dump",
        "http://127.0.0.1/",
    ] {
        let (d, step) = limited(other);
        assert!(done(step).is_empty(), "{other}");
        assert!(d.problem().is_some(), "{other}");
    }
    // A public identifier is fetched, without private addresses (its name may not resolve to
    // one).
    let (_, step) = limited("http://me.example/");
    assert!(!fetch(step).allow_private_addresses);
    // An https provider on the default port: its host over http (an identifier typed without
    // a scheme) too, not another port.
    let https = [url("https://sso.corp.example/op")];
    let (_, step) = Discovery::start_limited(
        url("http://sso.corp.example/id/alice"),
        limits,
        None,
        &https,
    );
    assert!(fetch(step).allow_private_addresses);
    let (_, step) =
        Discovery::start_limited(url("http://sso.corp.example:8080/"), limits, None, &https);
    assert!(!fetch(step).allow_private_addresses);
    let (_, step) =
        Discovery::start_limited(url("http://other.corp.example/"), limits, None, &https);
    assert!(!fetch(step).allow_private_addresses);
    // Without an allow-list, private addresses stay allowed everywhere (documented).
    let (_, step) = Discovery::start(url("http://10.0.0.9/"), limits, None);
    assert!(fetch(step).allow_private_addresses);
}
