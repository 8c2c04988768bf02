//! Empty: this crate exists for its `Cargo.toml`, which turns on one feature set for the
//! dependencies shared by the workspace's crates, so that `train`, `analyze`, the tests' builds
//! and the benchmark examples all reuse one build of burn (see the manifest).
