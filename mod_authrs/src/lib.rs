//! mod_authrs: authrs for Apache httpd 2.4.
//!
//! A thin C-ABI shell over `authrs-core`: it turns a `request_rec` into
//! `RequestFacts`, asks the core, and applies the `Decision`. All `unsafe`
//! lives in `ffi`, `glue` and `apr`; every `extern "C"` entry checks its
//! pointers and runs its body under `catch_unwind`, so a bug becomes a logged
//! 500, never a crashed worker.

mod apr;
mod ffi;
mod glue;
