//! Predictors of the copy network's states and how well each reproduces the network's outputs,
//! on plain `f64` trajectories (no burn): one step over the recall window, and rolled out from
//! the state at the cue through the whole recall window.
//!
//! The predictors ([`Predictor`]):
//! - **Koopman** (Eq. 6): `ĥ_{t+1} = h_t B C Bᵀ`; rolled out `l` steps: `ĥ_{c+l} = h_c B C^{l−1} R`
//!   (`KoopmanModel::multi_step_map`, the powers of `C`);
//! - **linearisation** around the fixed point (of `F(·, x̄)`) nearest to the current state,
//!   `F(s*, x̄) + J (s − s*) + B (x − x̄)`, with the real input `x`, or without the input term
//!   (the input held at `x̄`); rolled out by iterating it, the nearest fixed point chosen again at
//!   every step (a piecewise-linear model);
//! - **trivial** `ĥ_{t+1} = h_t` (rolled out: the state at the cue, held);
//! - **exact** `F(s_t, x_{t+1})` in f64: the network itself (a check of the weights and the hook).
//!
//! Scores: `e_rel` (Eq. 12) on the hidden part; the agreement of the network's readout (argmax
//! symbol of `G(ĥ)`) with its output on the true state `G(h)`; the accuracy against the target
//! string.

use anyhow::{Result, bail};
use kann_dynamics::faer::Mat;
use kann_dynamics::{Cell, Linearisation};
use serde::{Deserialize, Serialize};

use crate::fixed_points::Trajectories;

/// The readout `G(h) = h W + b` of the copy model as plain numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassReadout {
    /// `W`, row-major `[H, classes]`.
    pub w: Vec<f64>,
    /// `b`, `[classes]`.
    pub b: Vec<f64>,
}

impl ClassReadout {
    /// Checks the shapes: `w` is `hidden × b.len()`.
    pub fn new(w: Vec<f64>, b: Vec<f64>, hidden: usize) -> Result<Self> {
        if b.is_empty() || w.len() != hidden * b.len() {
            bail!(
                "readout: {} weights and {} biases for hidden width {hidden}",
                w.len(),
                b.len()
            );
        }
        Ok(ClassReadout { w, b })
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.b.len()
    }

    /// Hidden width.
    pub fn hidden(&self) -> usize {
        self.w.len() / self.b.len()
    }

    /// The logits `G(h)` of the first `H` entries of `h`.
    pub fn logits(&self, h: &[f64]) -> Vec<f64> {
        let c = self.classes();
        let mut out = self.b.clone();
        for (j, &hj) in h.iter().take(self.hidden()).enumerate() {
            for (o, w) in out.iter_mut().zip(&self.w[j * c..(j + 1) * c]) {
                *o += hj * w;
            }
        }
        out
    }

    /// The output class `argmax G(h)` (the first of equal maxima; a NaN logit never wins).
    pub fn class(&self, h: &[f64]) -> usize {
        argmax(&self.logits(h))
    }
}

/// The index of the largest of `l` (the first of equal maxima; a NaN never wins): the class
/// [`ClassReadout::class`] reads from logits.
pub fn argmax(l: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in l.iter().enumerate() {
        if *v > l[best] || l[best].is_nan() {
            best = i;
        }
    }
    best
}

/// One way of predicting the next state.
pub enum Predictor<'a> {
    /// The exact cell map `F(s, x)` in f64.
    Exact(&'a Cell),
    /// Koopman: `maps[l − 1]` is the `k × k` map of `l` steps (`maps[0] = B C Bᵀ`).
    Koopman(&'a [Mat<f64>]),
    /// Linearisation around the nearest of these fixed points, with or without the input term.
    Linearised {
        /// One per fixed point.
        points: &'a [Linearisation],
        /// Use `B (x − x̄)`.
        input_term: bool,
    },
    /// `ĥ_{t+1} = h_t`.
    Trivial,
}

/// The recall window starts after step 0 and fits in every scored sequence.
pub(super) fn check_window(
    traj: &Trajectories,
    strings: &[Vec<usize>],
    recall_start: usize,
) -> Result<()> {
    if recall_start == 0 {
        bail!("the recall window must start after step 0");
    }
    for (i, string) in strings.iter().enumerate().take(traj.states.len()) {
        let len = traj.len_of(i);
        if len < recall_start + string.len() {
            bail!(
                "sequence {i} has {len} steps; the recall window needs {}",
                recall_start + string.len()
            );
        }
    }
    Ok(())
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn row_times(h: &[f64], m: &Mat<f64>) -> Vec<f64> {
    let k = m.nrows();
    (0..m.ncols())
        .map(|c| (0..k).map(|j| h[j] * m[(j, c)]).sum())
        .collect()
}

impl Predictor<'_> {
    /// The state one step after the full state `s` with the next input `x`. Koopman and the
    /// trivial predictor return the hidden part only (`k` entries).
    fn step(&self, s: &[f64], x: &[f64], k: usize) -> Result<Vec<f64>> {
        Ok(match self {
            Predictor::Exact(cell) => cell.map(s, &cell.project_input(x)?)?,
            Predictor::Koopman(maps) => row_times(&s[..k], &maps[0]),
            Predictor::Linearised { points, input_term } => {
                let lin = points
                    .iter()
                    .min_by(|a, b| dist2(s, a.point()).total_cmp(&dist2(s, b.point())))
                    .ok_or_else(|| anyhow::anyhow!("no fixed points to linearise around"))?;
                if *input_term {
                    lin.predict(s, x)?
                } else {
                    lin.predict_autonomous(s)?
                }
            }
            Predictor::Trivial => s[..k].to_vec(),
        })
    }
}

/// How well one predictor reproduces the network over the recall window, one step ahead.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OneStep {
    /// Targets `h_{t+1}`, `t + 1` in the recall window of every sequence.
    pub targets: usize,
    /// `e_rel = mean |ĥ_{t+1} − h_{t+1}|² / |h_{t+1}|²` (Eq. 12).
    pub e_rel: f64,
    /// Fraction of targets with `argmax G(ĥ_{t+1}) = argmax G(h_{t+1})` (the network's output).
    pub agreement: f64,
    /// Fraction of targets with `argmax G(ĥ_{t+1})` equal to the target symbol.
    pub accuracy: f64,
}

/// One scored target of the one-step prediction ([`for_each_one_step`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneStepTarget {
    /// The sequence it belongs to.
    pub sequence: usize,
    /// `|ĥ_{t+1} − h_{t+1}|² / |h_{t+1}|²` (0 where `h_{t+1} = 0`), the term of Eq. 12.
    pub e_rel: f64,
    /// `argmax G(ĥ_{t+1}) = argmax G(h_{t+1})` (agrees with the network's output).
    pub agrees: bool,
    /// `argmax G(ĥ_{t+1})` is the target symbol.
    pub right: bool,
}

/// Predicts every recall-window state of `traj` one step ahead (steps `recall_start..T`, each
/// from the true state one step before) and hands each target to `f`, sequence by sequence.
/// `strings[i]` is sequence `i`'s string.
pub fn for_each_one_step(
    pred: &Predictor,
    traj: &Trajectories,
    strings: &[Vec<usize>],
    recall_start: usize,
    readout: &ClassReadout,
    mut f: impl FnMut(OneStepTarget),
) -> Result<()> {
    check_window(traj, strings, recall_start)?;
    let k = traj.hidden;
    for (i, string) in strings.iter().enumerate().take(traj.states.len()) {
        for (j, &symbol) in string.iter().enumerate() {
            let t1 = recall_start + j;
            let target = &traj.state(i, t1)[..k];
            let p = pred.step(traj.state(i, t1 - 1), traj.input(i, t1), k)?;
            let p = &p[..k];
            let num = dist2(p, target);
            let den: f64 = target.iter().map(|v| v * v).sum();
            let c = readout.class(p);
            f(OneStepTarget {
                sequence: i,
                e_rel: if den > 0.0 { num / den } else { 0.0 },
                agrees: c == readout.class(target),
                right: c == symbol,
            });
        }
    }
    Ok(())
}

/// One-step prediction of every recall-window state of `traj` (steps `recall_start..T`, each
/// from the true state one step before). `strings[i]` is sequence `i`'s string.
pub fn one_step(
    pred: &Predictor,
    traj: &Trajectories,
    strings: &[Vec<usize>],
    recall_start: usize,
    readout: &ClassReadout,
) -> Result<OneStep> {
    let (mut err, mut agree, mut right, mut n) = (0.0, 0usize, 0usize, 0usize);
    for_each_one_step(pred, traj, strings, recall_start, readout, |t| {
        err += t.e_rel;
        agree += usize::from(t.agrees);
        right += usize::from(t.right);
        n += 1;
    })?;
    if n == 0 {
        bail!("no recall-window targets");
    }
    let nf = n as f64;
    Ok(OneStep {
        targets: n,
        e_rel: err / nf,
        agreement: agree as f64 / nf,
        accuracy: right as f64 / nf,
    })
}

/// Per sequence of `traj`, the one-step targets whose predicted readout agrees with the
/// network's output and the targets scored: `(agreeing, targets)`, summing to [`one_step`]'s
/// agreement.
pub fn one_step_counts(
    pred: &Predictor,
    traj: &Trajectories,
    strings: &[Vec<usize>],
    recall_start: usize,
    readout: &ClassReadout,
) -> Result<Vec<(usize, usize)>> {
    let mut counts = vec![(0usize, 0usize); strings.len().min(traj.states.len())];
    for_each_one_step(pred, traj, strings, recall_start, readout, |t| {
        let c = &mut counts[t.sequence];
        c.0 += usize::from(t.agrees);
        c.1 += 1;
    })?;
    Ok(counts)
}

/// The recalled string of a predictor rolled out from the state at the cue.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// Sequences.
    pub sequences: usize,
    /// Fraction of recall steps whose predicted symbol is the target.
    pub symbol_accuracy: f64,
    /// Fraction of sequences whose whole recalled string is right.
    pub string_accuracy: f64,
    /// Fraction of recall steps whose predicted symbol is the network's own output.
    pub agreement: f64,
    /// Mean `|ĥ − h|² / |h|²` over the recall window (how far the rolled-out states drift).
    pub e_rel: f64,
}

/// Rolls `pred` out over the recall window of every sequence: from the true full state at
/// `recall_start − 1` (the cue step), `len` steps with the real (blank) inputs, each step from
/// the previous prediction. Koopman uses its `l`-step maps from the cue state; the trivial
/// predictor holds the cue state.
pub fn rollout(
    pred: &Predictor,
    traj: &Trajectories,
    strings: &[Vec<usize>],
    recall_start: usize,
    readout: &ClassReadout,
) -> Result<Rollout> {
    check_window(traj, strings, recall_start)?;
    let k = traj.hidden;
    let (mut right, mut strings_right, mut agree, mut n, mut seqs) = (0, 0, 0, 0usize, 0usize);
    let mut err = 0.0;
    for (i, string) in strings.iter().enumerate().take(traj.states.len()) {
        let cue = traj.state(i, recall_start - 1);
        let mut s = cue.to_vec();
        let mut all = true;
        for (j, &symbol) in string.iter().enumerate() {
            let t1 = recall_start + j;
            let h = match pred {
                Predictor::Koopman(maps) => {
                    let m = maps.get(j).ok_or_else(|| {
                        anyhow::anyhow!("no Koopman map of {} steps was computed", j + 1)
                    })?;
                    row_times(&cue[..k], m)
                }
                Predictor::Trivial => cue[..k].to_vec(),
                _ => {
                    s = pred.step(&s, traj.input(i, t1), k)?;
                    s[..k].to_vec()
                }
            };
            let truth = &traj.state(i, t1)[..k];
            let den: f64 = truth.iter().map(|v| v * v).sum();
            err += if den > 0.0 {
                dist2(&h, truth) / den
            } else {
                0.0
            };
            let c = readout.class(&h);
            right += usize::from(c == symbol);
            all &= c == symbol;
            agree += usize::from(c == readout.class(truth));
            n += 1;
        }
        strings_right += usize::from(all);
        seqs += 1;
    }
    if n == 0 {
        bail!("no recall-window steps");
    }
    let nf = n as f64;
    Ok(Rollout {
        sequences: seqs,
        symbol_accuracy: right as f64 / nf,
        string_accuracy: strings_right as f64 / seqs as f64,
        agreement: agree as f64 / nf,
        e_rel: err / nf,
    })
}
