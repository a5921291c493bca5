//! The shared scenario table (tests/scenarios.rs) against the Envoy filter.
use authrs_tests::scenarios::{run_all, site_files, start_envoy};

#[test]
fn every_scenario_in_envoy() {
    let files = site_files("scen-envoy");
    let envoy = start_envoy(&files);
    run_all(&envoy);
}
