//! mod_authrs: authrs for Apache httpd 2.4.
//!
//! A thin C-ABI shell over `authrs-core`: it turns a `request_rec` into
//! `RequestFacts`, asks the core, and applies the `Decision`. All `unsafe`
//! lives here; every `extern "C"` entry checks its pointers and runs its body
//! under `catch_unwind`, so a bug becomes a logged 500, never a crashed worker.

mod apply;
mod apr;
mod assoc_cache;
mod authz;
mod certs;
mod dirconf;
mod fetch;
mod ffi;
mod glue;
mod handlers;
mod hooks;
mod openid;
mod policy;
mod request;
mod revocation;
mod socache;
