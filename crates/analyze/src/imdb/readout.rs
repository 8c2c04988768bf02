//! The network's readout `G(h) = w·h + b` (the sentiment logit) as plain numbers, so that every
//! stage can decode states without the model, and synthetic models can supply their own.

use kann_koopman::faer::MatRef;

/// A linear readout `G(h) = w·h + b` of a `k`-dimensional state to one logit.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearReadout {
    /// Weights `w` (length `k`).
    pub w: Vec<f64>,
    /// Bias `b`: the logit of the zero state, `G(0)`.
    pub b: f64,
}

impl LinearReadout {
    /// `G(h)` of one state.
    pub fn logit(&self, h: &[f64]) -> f64 {
        self.b + h.iter().zip(&self.w).map(|(x, w)| x * w).sum::<f64>()
    }

    /// `G` of every row of `h` (`m × k`).
    pub fn logits(&self, h: MatRef<'_, f64>) -> Vec<f64> {
        (0..h.nrows())
            .map(|i| self.b + (0..h.ncols()).map(|j| h[(i, j)] * self.w[j]).sum::<f64>())
            .collect()
    }

    /// `G(0) = b`.
    pub fn zero_state_logit(&self) -> f64 {
        self.b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kann_koopman::faer::Mat;

    #[test]
    fn logits_of_rows_match_single_states() {
        let g = LinearReadout {
            w: vec![1.0, -2.0],
            b: 0.5,
        };
        let h = Mat::<f64>::from_fn(2, 2, |i, j| (i + 2 * j) as f64);
        assert_eq!(
            g.logits(h.as_ref()),
            vec![g.logit(&[0.0, 2.0]), g.logit(&[1.0, 3.0])]
        );
        assert_eq!(g.zero_state_logit(), 0.5);
        assert_eq!(g.logit(&[0.0, 0.0]), 0.5);
    }
}
