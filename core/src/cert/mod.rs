//! Client certificates: parsing, OpenSSL-exact DN rendering, SANs, user mapping, CRLs, enrolled certificates.
