//! `analyze` binary.
fn main() {}
