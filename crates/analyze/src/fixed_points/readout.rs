//! What the network reads from its hidden state, as the local analysis scores it: the class of
//! a predicted state against the network's, and the readout direction the Jacobian's
//! eigenvectors are set against. One type for the three tasks:
//!
//! - IMDB: one logit `G(h) = w·h + b`, the class its sign;
//! - copy: one logit per symbol, the class `argmax G(h)`;
//! - ECG: the encoder has no readout of its own (the decoder rebuilds the beat from the last
//!   state), so no class is scored and no direction is set against the eigenvectors.

use crate::copy::predict::ClassReadout;
use crate::imdb::readout::LinearReadout;

/// The readout of a run's network ([`super::LocalRun`]).
#[derive(Debug, Clone)]
pub enum Readout {
    /// One logit, class = its sign (IMDB).
    Logit(LinearReadout),
    /// One logit per class, class = the largest (copy).
    Classes(ClassReadout),
    /// No readout (the ECG encoder).
    None,
}

impl Readout {
    /// The logit `G(h)` of a one-logit readout.
    pub fn logit(&self, h: &[f64]) -> Option<f64> {
        match self {
            Readout::Logit(r) => Some(r.logit(h)),
            _ => None,
        }
    }

    /// The class of a many-class readout, `argmax G(h)` (the one-logit readout's class is its
    /// logit's sign, reported as [`Readout::logit`]).
    pub fn symbol(&self, h: &[f64]) -> Option<usize> {
        match self {
            Readout::Classes(r) => Some(r.class(h)),
            _ => None,
        }
    }

    /// Whether the class of `pred` equals that of `target`; `None` without a readout.
    pub fn same_class(&self, pred: &[f64], target: &[f64]) -> Option<bool> {
        match self {
            Readout::Logit(r) => Some((r.logit(pred) > 0.0) == (r.logit(target) > 0.0)),
            Readout::Classes(r) => Some(r.class(pred) == r.class(target)),
            Readout::None => None,
        }
    }

    /// The readout direction over the full state of width `n` (zero over the LSTM's `c`): the
    /// one-logit readout's weights `w`; `None` for the others (many directions, or none).
    pub fn direction(&self, n: usize) -> Option<Vec<f64>> {
        match self {
            Readout::Logit(r) => {
                let mut w = r.w.clone();
                w.resize(n, 0.0);
                Some(w)
            }
            _ => None,
        }
    }

    /// How the one-step comparison's agreement is decided, in words (`None`: not scored).
    pub fn agreement_rule(&self) -> Option<&'static str> {
        match self {
            Readout::Logit(_) => Some("same sign of the readout logit G as G(h_(t+1))"),
            Readout::Classes(_) => Some("same class argmax G as the network's argmax G(h_(t+1))"),
            Readout::None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_readout_kind() {
        let logit = Readout::Logit(LinearReadout {
            w: vec![1.0, -1.0],
            b: 0.0,
        });
        assert_eq!(logit.logit(&[2.0, 1.0]), Some(1.0));
        assert_eq!(logit.same_class(&[2.0, 1.0], &[1.0, 3.0]), Some(false));
        assert_eq!(logit.same_class(&[2.0, 1.0], &[3.0, 1.0]), Some(true));
        assert_eq!(logit.direction(4), Some(vec![1.0, -1.0, 0.0, 0.0]));
        // Two hidden units, three classes: class 2 reads unit 1.
        let classes = Readout::Classes(
            ClassReadout::new(vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0], vec![0.0; 3], 2).unwrap(),
        );
        assert_eq!(classes.symbol(&[0.0, 5.0]), Some(2));
        assert_eq!(classes.logit(&[0.0, 5.0]), None);
        assert_eq!(classes.same_class(&[0.0, 5.0], &[5.0, 0.0]), Some(false));
        assert_eq!(classes.direction(2), None);
        assert_eq!(Readout::None.same_class(&[1.0], &[1.0]), None);
        assert!(Readout::None.agreement_rule().is_none());
    }
}
