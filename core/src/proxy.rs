//! Trusted reverse proxies: which peers may assert TLS facts in headers, and spoofing detection.
