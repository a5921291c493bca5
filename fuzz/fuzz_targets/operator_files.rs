#![no_main]
use authrs_core::cert::crl::CrlSet;
use authrs_core::cert::enrolled::EnrolledCerts;
use authrs_core::cert::map::UserMap;
use authrs_core::password::Htpasswd;
use authrs_core::roles::{GroupFile, RolesFile};
use authrs_core::site::Site;
use authrs_core::ticket::KeyRing;

// What operators write (htpasswd, roles, groups, DN maps, enrolments, key lists, CRLs, the Envoy
// JSON): a bad file is a named error, never a panic. Enrolment files round-trip.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = Htpasswd::parse(&text);
    let _ = RolesFile::parse(&text);
    let _ = GroupFile::parse(&text);
    let _ = UserMap::parse(&text);
    if let Ok(enrolled) = EnrolledCerts::parse(&text) {
        let again = EnrolledCerts::parse(&enrolled.to_text()).expect("round trip");
        assert_eq!(again.entries(), enrolled.entries());
    }
    let _ = KeyRing::from_base64_list(&text);
    let _ = CrlSet::parse(data);
    let _ = Site::from_json_str(&text);
});
