//! The shared scenario table (tests/scenarios.rs) against mod_authrs in httpd.
use authrs_tests::scenarios::{run_all, site_files, start_apache};

#[test]
fn every_scenario_in_apache() {
    let files = site_files("scen-apache");
    let apache = start_apache(&files);
    run_all(&apache);
}
