//! Apache-style `Require` rules: parsing into a tree and evaluation with mod_authz_core semantics.
