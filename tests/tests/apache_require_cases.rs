//! The shared Require case table (`tests/fixtures/require_cases.txt`) in the real httpd with
//! mod_authrs: every valid check becomes one `<Location>` (roles, groups and the certificate map
//! differ per identity), every `! config-error` case must fail `apache2 -t`.
//!
//! The core runs the same table in `core/src/authz/cases.rs`; httpd only shows a status code, so
//! a table result is turned into the code httpd answers (see the table's "NOTES FOR THE HTTPD
//! RUNNER"): the access phase evaluates the rules without a user first, and only
//! `DENIED_NO_USER` there leads to authentication and a second evaluation with the user.

use authrs_core::authz::cases::{parse_table, Case, Check};
use authrs_core::authz::{split_args, AuthzResult, RequireTree};
use authrs_core::identity::{AuthMethod, Identity};
use authrs_core::ticket::{KeyRing, Ticket, TicketKey};
use authrs_tests::apache::{config_test, Apache};
use authrs_tests::curl::Request;
use authrs_tests::{demo_certs, scratch};
use std::fmt::Write as _;
use std::path::Path;

const TABLE: &str = include_str!("../fixtures/require_cases.txt");

/// A fixed test key (base64 of 32 bytes), so the test can mint tickets the module accepts.
const KEY_B64: &str = "cmVxdWlyZS1jYXNlcy1rZXktZm9yLWh0dHBkLXRlc3Q=";
/// AuthRs_<AuthName>: the cookie the module reads for `AuthName Cases`.
const COOKIE: &str = "AuthRs_Cases";
/// The case httpd loads but answers 500 (AH01627: AuthType without any Require).
const NO_RULES: &str = "no rules at all";

/// The rules as httpd takes them: AuthCookie's `Satisfy All` wraps every top-level line in one
/// `<RequireAll>`, `Satisfy Any` is dropped (the top level already is an implicit RequireAny);
/// any other Satisfy value passes through for httpd to refuse.
fn translate(rules: &str) -> String {
    let mut all = false;
    let mut kept = String::new();
    for l in rules.lines() {
        let w = split_args(l).unwrap_or_default();
        if w.len() == 2 && w[0].eq_ignore_ascii_case("satisfy") {
            if w[1].eq_ignore_ascii_case("all") {
                all = true;
                continue;
            }
            if w[1].eq_ignore_ascii_case("any") {
                continue;
            }
        }
        kept.push_str(l);
        kept.push('\n');
    }
    if all {
        format!("<RequireAll>\n{kept}</RequireAll>\n")
    } else {
        kept
    }
}

/// The status httpd answers for a check, given the rules' result without a user (`anon`).
fn status_for(anon: AuthzResult, check: &Check) -> u16 {
    match (check.identity.is_some(), anon) {
        // The access phase decides alone: a user is never asked for.
        (_, AuthzResult::Granted) => 200,
        (_, AuthzResult::Denied | AuthzResult::Neutral) => 403,
        (false, AuthzResult::DeniedNoUser) => 401,
        // Authenticated, then judged again with the user: AH01631 is a 401.
        (true, AuthzResult::DeniedNoUser) => match check.expect {
            AuthzResult::Granted => 200,
            _ => 401,
        },
        (_, AuthzResult::GeneralError) => 500,
    }
}

/// A value for an AuthGroupFile member list (httpd reads it with `ap_getword_conf`).
fn group_member(user: &str) -> String {
    if user
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\'')
    {
        format!("\"{}\"", user.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        user.to_string()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// One location to ask, with the status httpd must answer.
struct Probe {
    path: String,
    case: String,
    line: usize,
    spec: String,
    expect: AuthzResult,
    status: u16,
    ident: Option<Identity>,
}

/// Writes the per-check files and returns the `<Location>` block.
fn location(
    root: &Path,
    n: usize,
    rules: &str,
    ident: Option<&Identity>,
    notes: &mut Vec<String>,
) -> String {
    let dir = root.join(format!("htdocs/c{n:03}"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("index.html"), "ok\n").expect("write");
    let r = root.display();
    let mut block = format!(
        "<Location /c{n:03}>\n  AuthType AuthRs\n  AuthName Cases\n  AuthRsMethods cert ticket\n"
    );
    if let Some(id) = ident {
        if !id.roles.is_empty() {
            if id.user.chars().any(char::is_whitespace) {
                // The roles file splits on whitespace and quotes nothing.
                notes.push(format!(
                    "c{n:03}: roles of {:?} skipped: the roles file cannot name a user with a space",
                    id.user
                ));
            } else {
                let file = root.join(format!("c{n:03}.roles"));
                std::fs::write(
                    &file,
                    format!("{} {}\n", id.user, id.roles.to_list().replace(',', " ")),
                )
                .expect("roles");
                let _ = writeln!(block, "  AuthRsRolesFile \"{r}/c{n:03}.roles\"");
            }
        }
        let groups: String = id
            .groups
            .iter()
            .map(|g| format!("{g}: {}\n", group_member(&id.user)))
            .collect();
        std::fs::write(root.join(format!("c{n:03}.groups")), groups).expect("groups");
        let _ = writeln!(block, "  AuthGroupFile \"{r}/c{n:03}.groups\"");
        if id.method == AuthMethod::Cert {
            let dn = cert_dn(id);
            std::fs::write(
                root.join(format!("c{n:03}.map")),
                format!("\"{}\" {}\n", dn.replace('"', "\\\""), id.user),
            )
            .expect("map");
            let _ = writeln!(block, "  AuthRsCertUserMap \"{r}/c{n:03}.map\"");
        }
    }
    block.push_str(rules);
    block.push_str("</Location>\n");
    block
}

/// The subject DN a certificate identity presents: its `dn=`, else `CN=<user>`.
fn cert_dn(id: &Identity) -> String {
    id.dn.clone().unwrap_or_else(|| format!("CN={}", id.user))
}

fn ring() -> KeyRing {
    KeyRing::new(vec![TicketKey::from_base64(KEY_B64).expect("test key")]).expect("ring")
}

/// The request for one probe: a ticket cookie, or certificate headers from the trusted 127.0.0.1.
fn request(a: &Apache, p: &Probe) -> Request {
    let req = Request::get(a.url(&format!("{}/index.html", p.path))).ca(&a.ca());
    match &p.ident {
        None => req,
        Some(id) if id.method == AuthMethod::Cert => req
            .header(format!("SSL_CLIENT_S_DN: {}", cert_dn(id)))
            .header("SSL_CLIENT_VERIFY: SUCCESS"),
        Some(id) => {
            let t = Ticket::new(id.user.clone(), id.method, now() - 10, 3600);
            req.cookie(COOKIE, &ring().mint(&t).expect("mint"))
        }
    }
}

/// `apache2 -t` over the config the harness wrote for the running server, with its site swapped
/// for `replacement`: the same modules (plus mod_access_compat), certificates and vhost as
/// `config_test`, without making new certificates.
fn config_test_in(root: &Path, site: &str, replacement: &str, tag: usize) -> (bool, String) {
    let text = std::fs::read_to_string(root.join("httpd.conf")).expect("read httpd.conf");
    assert_eq!(
        text.matches(site).count(),
        1,
        "the site appears once in httpd.conf"
    );
    let conf = root.join(format!("t{tag:03}.conf"));
    // mod_access_compat owns `Satisfy`: with it loaded, `Satisfy Some` is refused for its value,
    // not as an unknown directive.
    let text = text.replacen(site, replacement, 1).replacen(
        "<VirtualHost ",
        "LoadModule access_compat_module /usr/lib/apache2/modules/mod_access_compat.so\n<VirtualHost ",
        1,
    );
    std::fs::write(&conf, text).expect("write conf");
    let out = std::process::Command::new("/usr/sbin/apache2")
        .arg("-d")
        .arg(root)
        .arg("-f")
        .arg(&conf)
        .arg("-t")
        .output()
        .expect("/usr/sbin/apache2 must be installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn config_site(rules: &str) -> String {
    format!("<Location /x>\n  AuthType AuthRs\n  AuthName Cases\n{rules}</Location>\n")
}

#[test]
fn require_cases_in_httpd() {
    let started = std::time::Instant::now();
    let cases = parse_table(TABLE).expect("the shared case table parses");
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let root = scratch("httpd-cases");
    let certs = root.join("certs");
    demo_certs(&certs);
    std::fs::write(root.join("ticket.key"), format!("{KEY_B64}\n")).expect("key");
    let global = format!(
        "AuthRsTicketKeyFile \"{}/ticket.key\"\nAuthRsTrustedProxies 127.0.0.1\n",
        root.display()
    );

    let mut site = String::new();
    let mut probes: Vec<Probe> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut config_errors: Vec<&Case> = Vec::new();
    let mut n = 0;
    for case in &cases {
        if case.config_error {
            assert!(
                case.checks.is_empty(),
                "{}: config-error with checks",
                case.name
            );
            if case.name == NO_RULES {
                // httpd loads it; every request is a 500 (AH01627).
                n += 1;
                site.push_str(&location(
                    &root,
                    n,
                    &translate(&case.rules),
                    None,
                    &mut notes,
                ));
                probes.push(Probe {
                    path: format!("/c{n:03}"),
                    case: case.name.clone(),
                    line: case.line,
                    spec: "anonymous (loads; every request 500)".into(),
                    expect: AuthzResult::GeneralError,
                    status: 500,
                    ident: None,
                });
            } else {
                config_errors.push(case);
            }
            continue;
        }
        let tree = RequireTree::parse(&case.rules)
            .unwrap_or_else(|e| panic!("{} (line {}): core refuses it: {e}", case.name, case.line));
        let anon = tree.evaluate(None);
        let rules = translate(&case.rules);
        for check in &case.checks {
            n += 1;
            if let Some(id) = &check.identity {
                if id.method == AuthMethod::Cert
                    && id.dn.is_none()
                    && case.rules.contains("cert-dn")
                {
                    notes.push(format!(
                        "{} (line {}): a cert identity without dn= is sent as CN={} in httpd, \
                         but has no DN in the core",
                        case.name, check.line, id.user
                    ));
                }
            }
            if check.identity.is_some() && anon == AuthzResult::Granted && check.expect != anon {
                notes.push(format!(
                    "{} (line {}): granted without a user, so httpd never judges the user's {}",
                    case.name, check.line, check.expect
                ));
            }
            site.push_str(&location(
                &root,
                n,
                &rules,
                check.identity.as_ref(),
                &mut notes,
            ));
            probes.push(Probe {
                path: format!("/c{n:03}"),
                case: case.name.clone(),
                line: check.line,
                spec: check.spec.clone(),
                expect: check.expect,
                status: status_for(anon, check),
                ident: check.identity.clone(),
            });
        }
    }

    let mut disagreements: Vec<String> = Vec::new();
    let a = Apache::start_in(root.clone(), certs, &global, &site);
    for p in &probes {
        let r = request(&a, p).send();
        if r.status != p.status {
            disagreements.push(format!(
                "{} (line {}): `? {}` table {} → want {}, httpd answered {}",
                p.case, p.line, p.spec, p.expect, p.status, r.status
            ));
        }
    }
    if probes.iter().any(|p| p.case == NO_RULES) && !a.error_log().contains("AH01627") {
        disagreements.push(format!("{NO_RULES}: the 500 is not AH01627"));
    }
    let log = a.unexpected_log_lines(&[]);
    drop(a);

    // Each refused configuration fails `apache2 -t`, and a valid case in the same wrapper passes
    // (so the failures are the rules' doing). `config_test` makes fresh certificates each time
    // (seconds apiece), so it runs for the control and the first refused case only; every refused
    // case then goes through the running server's own config with its site swapped.
    let control = cases
        .iter()
        .find(|c| !c.config_error)
        .expect("a valid case");
    let first = config_errors.first().expect("config-error cases");
    let (harness_control, harness_first) = std::thread::scope(|s| {
        let c = s.spawn(|| config_test("", &config_site(&translate(&control.rules))));
        let f = s.spawn(|| config_test("", &config_site(&translate(&first.rules))));
        (
            c.join().expect("config_test thread"),
            f.join().expect("config_test thread"),
        )
    });
    assert!(
        harness_control.0,
        "control case {} fails apache2 -t: {}",
        control.name, harness_control.1
    );
    let (ok, out) = config_test_in(&root, &site, &config_site(&translate(&control.rules)), 0);
    assert!(ok, "control case {} fails apache2 -t: {out}", control.name);
    let mut results: Vec<(String, usize, bool, String)> = Vec::new();
    for (i, c) in config_errors.iter().enumerate() {
        let (ok, out) = config_test_in(&root, &site, &config_site(&translate(&c.rules)), i + 1);
        results.push((c.name.clone(), c.line, ok, out));
    }
    assert_eq!(
        harness_first.0, results[0].2,
        "config_test and the swapped config disagree on {}: {} / {}",
        first.name, harness_first.1, results[0].3
    );
    for (name, line, ok, out) in &results {
        // httpd's AH00526 names the line, the next line says what is wrong with it.
        let why = out
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        if *ok {
            disagreements.push(format!(
                "{name} (line {line}): `! config-error` but apache2 -t accepts it: {why}"
            ));
        } else {
            notes.push(format!("refused as expected: {name}: {why}"));
        }
    }

    let total = probes.len() + results.len();
    let summary = if disagreements.is_empty() {
        format!(
            "{} cases, {total} checks ({} requests, {} config tests), all agree ({:.1} s)",
            cases.len(),
            probes.len(),
            results.len(),
            started.elapsed().as_secs_f64()
        )
    } else {
        format!(
            "{} cases, {total} checks, {} disagree:\n  {}",
            cases.len(),
            disagreements.len(),
            disagreements.join("\n  ")
        )
    };
    eprintln!("{summary}");
    for note in &notes {
        eprintln!("note: {note}");
    }
    assert!(probes.len() >= 100, "only {} request checks", probes.len());
    assert!(
        results.len() >= 20,
        "only {} config-error cases",
        results.len()
    );
    assert!(
        disagreements.is_empty(),
        "{summary}\nerror log ({}/logs/error.log), warnings and worse:\n{}",
        root.display(),
        log.join("\n")
    );
}
