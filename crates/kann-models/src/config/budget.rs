//! Upper bounds on a run config's sizes, set by the memory each size would need.
//!
//! Without them a config with `d_hidden = 1e9` (or a huge copy data set) passed validation and
//! the process aborted on "memory allocation of N bytes failed" after making the run folder.
//! Each estimate below is a lower bound on what training would allocate, computed in `f64` so
//! that no size overflows; a config whose estimate for any one part exceeds
//! [`MAX_PLANNED_BYTES`] is refused before anything is written, and the error names the key,
//! the estimate and the bound.

use crate::cells::CellKind;

/// The most memory one part of a run (a layer's training state, the generated data set, one
/// batch's activations) may be planned to take: 16 GiB, two thirds of the project's 24 GiB
/// machine.
pub const MAX_PLANNED_BYTES: f64 = 16.0 * GIB;

/// Steps of an ECG5000 beat (`kann_data::ecg::SERIES_LEN`, which this crate does not depend on
/// outside its tests; a test checks the two agree).
pub(crate) const ECG_STEPS: usize = 140;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Bytes of training state per `f32` parameter: the weight, its gradient and Adam's two moments.
const TRAINING_BYTES_PER_PARAMETER: f64 = 16.0;

/// Collects the parts whose planned memory is over [`MAX_PLANNED_BYTES`].
#[derive(Default)]
pub(crate) struct Budget(pub(crate) Vec<String>);

impl Budget {
    /// A recurrent layer of `cell` with `input` inputs and `hidden` units: `gates · hidden ·
    /// (input + hidden + 2)` parameters, each with its training state.
    pub(crate) fn recurrent_layer(
        &mut self,
        key: &str,
        cell: CellKind,
        input: usize,
        hidden: usize,
    ) {
        let (i, h) = (input as f64, hidden as f64);
        let parameters = cell.gates() as f64 * h * (i + h + 2.0);
        self.check(
            key,
            hidden,
            &format!("a {cell:?} layer of {hidden} units on {input} inputs (weights, gradients, Adam moments)"),
            parameters * TRAINING_BYTES_PER_PARAMETER,
        );
    }

    /// A dense layer (`rows × cols` weights) with its training state.
    pub(crate) fn dense_layer(&mut self, key: &str, value: usize, rows: usize, cols: usize) {
        let parameters = rows as f64 * cols as f64;
        self.check(
            key,
            value,
            &format!("a {rows} x {cols} dense layer (weights, gradients, Adam moments)"),
            parameters * TRAINING_BYTES_PER_PARAMETER,
        );
    }

    /// One batch's forward activations kept for the backward pass: `batch · steps · width`
    /// values of 4 bytes, twice (the values and their gradients).
    pub(crate) fn activations(
        &mut self,
        key: &str,
        value: usize,
        batch: usize,
        steps: usize,
        width: usize,
    ) {
        let values = batch as f64 * steps as f64 * width as f64;
        self.check(
            key,
            value,
            &format!(
                "one batch's activations ({batch} sequences x {steps} steps x {width} values)"
            ),
            values * 8.0,
        );
    }

    /// Data held in memory: `items · bytes_per_item`.
    pub(crate) fn data(&mut self, key: &str, value: usize, what: &str, items: f64, per_item: f64) {
        self.check(key, value, what, items * per_item);
    }

    fn check(&mut self, key: &str, value: usize, what: &str, bytes: f64) {
        if bytes > MAX_PLANNED_BYTES {
            self.0.push(format!(
                "{key} = {value}: {what} would need about {} (the bound is {})",
                human_bytes(bytes),
                human_bytes(MAX_PLANNED_BYTES)
            ));
        }
    }
}

/// `bytes` in GiB (or TiB, or powers of ten of GiB when huge), for an error message.
fn human_bytes(bytes: f64) -> String {
    let gib = bytes / GIB;
    if gib < 1024.0 {
        format!("{gib:.1} GiB")
    } else if gib < 1024.0 * 1024.0 {
        format!("{:.1} TiB", gib / 1024.0)
    } else {
        format!("{gib:.1e} GiB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_sizes_pass_and_huge_ones_name_key_and_bytes() {
        let mut ok = Budget::default();
        ok.recurrent_layer("model.d_hidden", CellKind::Gru, 128, 256);
        ok.activations("train.batch_size", 64, 64, 1000, 128 + 3 * 256);
        assert!(ok.0.is_empty(), "{:?}", ok.0);

        let mut huge = Budget::default();
        huge.recurrent_layer("model.d_hidden", CellKind::Gru, 128, 1_000_000_000);
        assert_eq!(huge.0.len(), 1);
        let message = &huge.0[0];
        assert!(
            message.starts_with("model.d_hidden = 1000000000: "),
            "{message}"
        );
        assert!(message.contains("GiB"), "{message}");
        assert!(message.contains("the bound is 16.0 GiB"), "{message}");
    }

    #[test]
    fn human_bytes_scales() {
        assert_eq!(human_bytes(2.0 * GIB), "2.0 GiB");
        assert_eq!(human_bytes(2048.0 * GIB), "2.0 TiB");
        assert_eq!(human_bytes(4.0e18), "3.7e9 GiB");
    }
}
