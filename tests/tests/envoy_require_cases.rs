//! The shared Require case table (`tests/fixtures/require_cases.txt`) in the real Envoy with
//! the authrs filter: each case's rules are parsed by the core, written as the filter's JSON
//! `require` tree, and every check becomes one location (its roles, groups and certificate
//! map inline). The expected status comes from the table's result, which is derived from
//! httpd's source, not from authrs.
//!
//! Envoy has no access phase before authentication: the filter authenticates first, then
//! evaluates once. So GRANTED → 200; otherwise 403 for an authenticated user and 401 (the
//! probes are API clients) for an anonymous one. `! config-error` cases are refused by the
//! core's parser already (core/src/authz/cases.rs) and have no JSON form to send.

use authrs_core::authz::cases::parse_table;
use authrs_core::authz::{AuthzResult, RequireTree};
use authrs_core::identity::{AuthMethod, Identity};
use authrs_core::ticket::{KeyRing, Ticket, TicketKey};
use authrs_tests::curl::Request;
use authrs_tests::envoy::{Envoy, EnvoyOptions};
use authrs_tests::{demo_certs, scratch};
use serde_json::{json, Map, Value};

const TABLE: &str = include_str!("../fixtures/require_cases.txt");
const KEY_B64: &str = "cmVxdWlyZS1jYXNlcy1rZXktZm9yLWh0dHBkLXRlc3Q=";
const COOKIE: &str = "AuthRs_Cases";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn cert_dn(id: &Identity) -> String {
    id.dn.clone().unwrap_or_else(|| format!("CN={}", id.user))
}

struct Probe {
    path: String,
    what: String,
    status: u16,
    ident: Option<Identity>,
}

/// One location: the case's tree plus the identity's roles, groups and certificate map.
fn location(
    n: usize,
    tree: &RequireTree,
    ident: Option<&Identity>,
    notes: &mut Vec<String>,
) -> Value {
    let mut loc = Map::new();
    loc.insert("prefix".into(), json!(format!("/c{n:03}/")));
    loc.insert("require".into(), tree.to_json());
    if let Some(id) = ident {
        if !id.roles.is_empty() {
            if id.user.chars().any(char::is_whitespace) {
                notes.push(format!(
                    "c{n:03}: roles of {:?} skipped (roles text cannot name it)",
                    id.user
                ));
            } else {
                loc.insert(
                    "roles".into(),
                    json!(format!(
                        "{} {}\n",
                        id.user,
                        id.roles.to_list().replace(',', " ")
                    )),
                );
            }
        }

        if id.method == AuthMethod::Cert {
            let dn = cert_dn(id);
            loc.insert(
                "cert_user_map".into(),
                json!(format!("\"{}\" {}\n", dn.replace('"', "\\\""), id.user)),
            );
        }
    }
    // Every group the tree names is defined (as an operator's config must: the filter refuses
    // a rule naming an undefined group), holding the identity's user where it is a member.
    let mut groups: Map<String, Value> = Map::new();
    let member_of =
        |g: &str| ident.is_some_and(|id| id.groups.iter().any(|held| held.eq_ignore_ascii_case(g)));
    for g in tree.group_names() {
        let members = match ident {
            Some(id) if member_of(g) => json!([id.user]),
            _ => json!([]),
        };
        groups.entry(g.to_string()).or_insert(members);
    }
    if let Some(id) = ident {
        for g in &id.groups {
            if !groups.keys().any(|k| k.eq_ignore_ascii_case(g)) {
                groups.insert(g.clone(), json!([id.user]));
            }
        }
    }
    loc.insert("groups".into(), Value::Object(groups));
    Value::Object(loc)
}

#[test]
fn require_cases_in_envoy() {
    let cases = parse_table(TABLE).expect("the shared case table parses");
    let certs = scratch("envoy-cases-certs");
    demo_certs(&certs);
    let mut locations = Vec::new();
    let mut probes = Vec::new();
    let mut notes = Vec::new();
    let mut n = 0;
    for case in cases.iter().filter(|c| !c.config_error) {
        let tree = RequireTree::parse(&case.rules)
            .unwrap_or_else(|e| panic!("{} (line {}): core refuses it: {e}", case.name, case.line));
        // The JSON form must read back into the same tree (or the probe tests nothing).
        let again = RequireTree::from_json(&tree.to_json())
            .unwrap_or_else(|e| panic!("{}: JSON form refused: {e}", case.name));
        assert_eq!(again.to_json(), tree.to_json(), "{}", case.name);
        for check in &case.checks {
            n += 1;
            locations.push(location(n, &tree, check.identity.as_ref(), &mut notes));
            let status = match (check.expect, &check.identity) {
                (AuthzResult::Granted, _) => 200,
                (_, Some(_)) => 403,
                (_, None) => 401,
            };
            probes.push(Probe {
                path: format!("/c{n:03}/x"),
                what: format!(
                    "{} (line {}): `? {}` table {}",
                    case.name, check.line, check.spec, check.expect
                ),
                status,
                ident: check.identity.clone(),
            });
        }
    }
    let config = json!({
        "auth_name": "Cases",
        "ticket_keys": [KEY_B64],
        "trusted_proxies": ["127.0.0.1"],
        "methods": ["cert", "ticket"],
        "locations": locations,
    });
    let e = Envoy::start(&certs, &EnvoyOptions::new(config.to_string()));
    let ring = KeyRing::new(vec![TicketKey::from_base64(KEY_B64).expect("key")]).expect("ring");
    let mut disagreements = Vec::new();
    for p in &probes {
        let mut req = Request::get(e.url(&p.path))
            .ca(&certs.join("ca.crt"))
            .header("Accept: application/json");
        match &p.ident {
            None => {}
            Some(id) if id.method == AuthMethod::Cert => {
                req = req
                    .header(format!("SSL_CLIENT_S_DN: {}", cert_dn(id)))
                    .header("SSL_CLIENT_VERIFY: SUCCESS");
            }
            Some(id) => {
                let t = Ticket::new(id.user.clone(), id.method, now() - 10, 3600);
                req = req.cookie(COOKIE, &ring.mint(&t).expect("mint"));
            }
        }
        let r = req.send();
        if r.status != p.status {
            disagreements.push(format!(
                "{}: want {}, Envoy answered {}",
                p.what, p.status, r.status
            ));
        }
    }
    for note in &notes {
        eprintln!("note: {note}");
    }
    assert!(probes.len() >= 100, "only {} checks", probes.len());
    assert!(
        disagreements.is_empty(),
        "{} of {} checks disagree:\n  {}\n{}",
        disagreements.len(),
        probes.len(),
        disagreements.join("\n  "),
        e.log()
    );
    eprintln!("{} checks agree", probes.len());
}
