#![no_main]
use authrs_core::cert::{dn, Certificate};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = Certificate::parse(data) {
        let _ = dn::parse_rfc2253(&cert.subject_dn);
    }
    let _ = dn::parse_rfc2253(&String::from_utf8_lossy(data));
});
