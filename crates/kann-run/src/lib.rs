//! The run folder that `train` writes and `analyze` reads, without burn: its layout and the one
//! rule of who may write into it ([`folder`]), the one-writer lock ([`lock`]), the one atomic file
//! writer of the workspace ([`atomic`]), checksum sidecars checked on every load ([`integrity`]),
//! and the crash-test stopping points ([`testhook`], compiled in only with the `test-hooks`
//! feature).
//!
//! Why a crate of its own: these rules are the contract between `train`, `analyze`, the Koopman
//! and plot crates and the data download, most of which have no burn; `kann-models` (burn models)
//! builds on it to save and load weights.

pub mod atomic;
pub mod error;
pub mod folder;
pub mod integrity;
pub mod lock;
pub mod testhook;

pub use error::RunError;
