//! Sequence models in burn for the Koopman analysis of the paper
//! (`koopman-analysis-of-sequence-models`): fast recurrent cells ([`cells`]), the IMDB GRU
//! classifier ([`sentiment`]), the ECG LSTM autoencoder ([`autoencoder`]), the copy-problem model of App. D ([`copy`]), hooks that return all
//! hidden states ([`hooks`]), import of PyTorch-trained weights ([`pytorch`]), run configs ([`config`]), loading a run folder ([`run`]) and
//! integrity-checked weights ([`integrity`]). The run folder's rules without burn (layout, lock,
//! atomic writes, checksums) are the `kann-run` crate, re-exported here where models need them.

pub mod atomic;
pub mod autoencoder;
pub mod cells;
pub mod config;
pub mod copy;
pub mod error;
pub mod hooks;
pub mod hugepages;
pub mod integrity;
pub mod npy;
pub mod probe;
pub mod pytorch;
pub mod run;
pub mod sentiment;

/// The run folder's lock and the crash-test stopping points live in `kann-run` (no burn).
pub use kann_run::{lock, testhook};

pub use autoencoder::{
    EcgAutoencoder, EcgAutoencoderConfig, RocPoint, ThresholdAccuracy, beats_tensor, l1_per_beat,
    roc_curve, threshold_accuracy,
};
pub use copy::{CopyModel, CopyModelConfig};
pub use error::ModelError;
pub use hooks::HookedStates;
pub use sentiment::{SentimentConfig, SentimentModel, bce_with_logits};
