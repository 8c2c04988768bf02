//! Empty build script: it makes the `[build-dependencies]` of the manifest (the features of the
//! proc-macro crates' `syn`) part of every build.
fn main() {}
