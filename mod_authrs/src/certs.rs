//! Client certificates parsed once per process: mod_ssl hands the module the PEM on every
//! request, and parsing it is most of what a certificate login costs. The requests of a
//! keep-alive connection (and a browser's next connections) present the same text, found here
//! by exact comparison; validity, CRLs and mapping are still judged per request.

use authrs_core::cert::Certificate;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// How many certificates one process keeps parsed (the least recently used out first).
const SIZE: usize = 64;
/// Longest PEM kept: real client certificates are 1–3 KiB, and a padded one is just parsed.
const MAX_PEM: usize = 8 * 1024;

static PARSED: Mutex<VecDeque<(Vec<u8>, Arc<Certificate>)>> = Mutex::new(VecDeque::new());

/// `pem` parsed, from the cache when this exact text was parsed before; `None` when it does
/// not parse (the core then parses it itself and says why it refuses it).
pub fn parsed(pem: &[u8]) -> Option<Arc<Certificate>> {
    if let Ok(mut cache) = PARSED.lock() {
        if let Some(at) = cache.iter().position(|(text, _)| text.as_slice() == pem) {
            // Used again: moved to the young end, so busy certificates outlive one-off ones.
            let entry = cache.remove(at)?;
            let cert = Arc::clone(&entry.1);
            cache.push_back(entry);
            return Some(cert);
        }
    }
    let cert = Arc::new(Certificate::parse(pem).ok()?);
    if pem.len() <= MAX_PEM {
        if let Ok(mut cache) = PARSED.lock() {
            if cache.len() >= SIZE {
                cache.pop_front();
            }
            cache.push_back((pem.to_vec(), Arc::clone(&cert)));
        }
    }
    Some(cert)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ALICE: &[u8] = include_bytes!("../../core/src/cert/testdata/alice.pem");

    #[test]
    fn the_same_text_is_parsed_once_and_other_text_is_not_taken_for_it() {
        let first = parsed(ALICE).unwrap();
        let again = parsed(ALICE).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(*first, Certificate::parse(ALICE).unwrap());
        // A certificate one byte away is parsed on its own (here: not at all).
        let mut other = ALICE.to_vec();
        let at = other.len() / 2;
        other[at] ^= 1;
        assert!(parsed(&other).is_none_or(|c| !Arc::ptr_eq(&c, &first)));
        assert!(parsed(b"not a certificate").is_none());
    }
}
