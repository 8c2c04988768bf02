//! `train` binary.
fn main() {}
