//! `authrs`: the operator's command line.
fn main() {}
