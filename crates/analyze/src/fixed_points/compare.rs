//! Stage 4: one-step prediction on the batch ([`compare`]): the linearisation around the nearest
//! fixed point against the Koopman prediction (Eq. 6), the exact map and the trivial predictor,
//! scored by `e_rel` (Eq. 12) and by the agreement of the readout's class ([`Comparison`]).

use std::fmt::Write as _;

use anyhow::{Result, bail};
use kann_dynamics::faer::Mat;
use kann_dynamics::{Cell, Linearisation};
use serde::{Deserialize, Serialize};

use super::Trajectories;
use super::readout::Readout;

/// One number per predictor of [`compare`], in its order: the one-step `e_rel` (Eq. 12) of each,
/// or how often its class (sign of `G`) equals the network's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PerPredictor {
    /// The exact map `F(s_t, x_{t+1})` in f64 (checks the weights: `e_rel` ≈ 0, agreement 1).
    pub exact_map: f64,
    /// The linearisation with its input term.
    pub linearised: f64,
    /// The linearisation without its input term.
    pub linearised_autonomous: f64,
    /// Koopman, Eq. 6.
    pub koopman: f64,
    /// Trivial: `h_{t+1} ≈ h_t`.
    pub trivial: f64,
}

impl PerPredictor {
    /// Every predictor NaN: the row of a number that was not scored (agreement without a
    /// readout), which the reports print as `–`.
    pub fn not_scored() -> Self {
        Self::mean([f64::NAN; 5], 1.0)
    }

    /// `values[p] / n` for the predictors in order.
    fn mean(values: [f64; 5], n: f64) -> Self {
        PerPredictor {
            exact_map: values[0] / n,
            linearised: values[1] / n,
            linearised_autonomous: values[2] / n,
            koopman: values[3] / n,
            trivial: values[4] / n,
        }
    }
}

/// One-step prediction on the batch: linearisation around the nearest fixed point vs Koopman.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The input `x̄` of the fixed points linearised around (`zero` or `mean`).
    pub input: String,
    /// What is compared, in words.
    pub method: String,
    /// Fixed points linearised around.
    pub fixed_points: usize,
    /// Targets `h_{t+1}` (`t + 1` in `1..len` of every review).
    pub targets: usize,
    /// Sequences with two real steps or more (for the last-step agreement).
    pub reviews: usize,
    /// Mean `|s_t − s*| / |s_t|` to the nearest fixed point over the targets' sources.
    pub mean_relative_distance_to_nearest: f64,
    /// `e_rel = mean |ĥ_{t+1} − h_{t+1}|² / |h_{t+1}|²` over the targets.
    pub e_rel: PerPredictor,
    /// Agreement at each sequence's last step (`analyze imdb`'s agreement: `G(ĥ_T)` vs
    /// `G(h_T)`); `None` without a readout (ECG).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub agreement_last_step: Option<PerPredictor>,
    /// Agreement over every target step; `None` without a readout.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub agreement_all_steps: Option<PerPredictor>,
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// `|pred − target|² / |target|²` (0 for a zero target).
fn rel(pred: &[f64], target: &[f64]) -> f64 {
    let num: f64 = pred
        .iter()
        .zip(target)
        .map(|(a, b)| (a - b) * (a - b))
        .sum();
    let den: f64 = target.iter().map(|b| b * b).sum();
    if den > 0.0 { num / den } else { 0.0 }
}

/// Running sums of [`compare`].
#[derive(Default)]
struct Tally {
    err: [f64; 5],
    all: [usize; 5],
    last: [usize; 5],
    targets: usize,
    reviews: usize,
    dist_sum: f64,
}

impl Tally {
    /// Scores the five predictions (in [`PerPredictor`]'s order) of `target`; `last` marks a
    /// review's last step.
    fn add(&mut self, preds: [&[f64]; 5], target: &[f64], readout: &Readout, last: bool) {
        for (p, pred) in preds.iter().enumerate() {
            self.err[p] += rel(pred, target);
            let same = usize::from(readout.same_class(pred, target) == Some(true));
            self.all[p] += same;
            if last {
                self.last[p] += same;
            }
        }
        self.targets += 1;
    }
}

/// What [`compare`] compares, in words; `unit` names one sequence of the batch (`review`).
fn method(unit: &str, readout: &Readout) -> String {
    let mut m = format!(
        "targets h_(t+1), t+1 in 1..len of each {unit}; linearisation around the fixed point (at the input x̄) nearest to s_t: F(s*, x̄) + J (s_t − s*) + B (x_(t+1) − x̄) (autonomous: without the B term); Koopman h_t B C Bᵀ (Eq. 6); exact F(s_t, x_(t+1)) in f64; trivial h_t. e_rel (Eq. 12) on the hidden part"
    );
    match readout.agreement_rule() {
        Some(rule) => {
            let _ = write!(m, "; agreement = {rule}");
        }
        None => m.push_str("; no agreement: the network has no readout of this state"),
    }
    m
}

/// The linearisation whose fixed point is nearest to `s`, and the distance.
fn nearest<'a>(lins: &'a [Linearisation], s: &[f64]) -> (&'a Linearisation, f64) {
    let (best, d) = lins
        .iter()
        .enumerate()
        .map(|(j, l)| (j, dist(s, l.point())))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, f64::NAN));
    (&lins[best], d)
}

/// `h M` for the row `h` and the `k × k` map `M`.
fn koopman_step(h: &[f64], m: &Mat<f64>) -> Vec<f64> {
    let k = h.len();
    (0..k)
        .map(|c| (0..k).map(|j| h[j] * m[(j, c)]).sum())
        .collect()
}

/// One-step prediction of every target `h_{t+1}` (`t + 1` in `1..len`) of the batch by
///
/// - the **linearisation** around the fixed point `s*` (found at the input `x̄`) nearest to `s_t`:
///   `ŝ_{t+1} = F(s*, x̄) + J (s_t − s*) + B (x_{t+1} − x̄)`, `J = ∂F/∂s`, `B = ∂F/∂x` at
///   `(s*, x̄)` ([`Linearisation::predict`]), and without its input term
///   (`F(s*, x̄) + J (s_t − s*)`, the input held at `x̄`, like the Koopman operator, which is
///   fitted without inputs);
/// - **Koopman** (Eq. 6): `ĥ_{t+1} = h_t M`, `M = B C Bᵀ` (`koopman_map`, `k × k`);
/// - the **exact map** `F(s_t, x_{t+1})` in f64 (checks the weights and the hook);
/// - the **trivial** prediction `ĥ_{t+1} = h_t`.
///
/// Each is scored on the hidden part `h` (`e_rel`, Eq. 12, over all targets) and by the class of
/// the readout `G` against the network's `G(h_{t+1})`: at each review's last step (the
/// agreement of `analyze imdb`) and at every step.
pub fn compare(
    input: &str,
    cell: &Cell,
    points: &[Vec<f64>],
    x_bar: &[f64],
    traj: &Trajectories,
    readout: &Readout,
    koopman_map: &Mat<f64>,
) -> Result<Comparison> {
    if points.is_empty() {
        bail!("no fixed points to linearise around");
    }
    let k = traj.hidden;
    if koopman_map.nrows() != k || koopman_map.ncols() != k {
        bail!(
            "the Koopman map is {}×{}, the hidden width {k}",
            koopman_map.nrows(),
            koopman_map.ncols()
        );
    }
    let lins: Vec<Linearisation> = points
        .iter()
        .map(|p| Linearisation::new(cell, p, x_bar))
        .collect::<std::result::Result<_, _>>()?;
    let mut tally = Tally::default();
    for i in 0..traj.states.len() {
        let len = traj.len_of(i);
        if len < 2 {
            continue;
        }
        tally.reviews += 1;
        for t in 0..len - 1 {
            let s = traj.state(i, t);
            let x = traj.input(i, t + 1);
            let (lin, d) = nearest(&lins, s);
            let norm = s.iter().map(|v| v * v).sum::<f64>().sqrt();
            tally.dist_sum += if norm > 0.0 { d / norm } else { 0.0 };
            let exact = cell.map(s, &cell.project_input(x)?)?;
            let with_input = lin.predict(s, x)?;
            let autonomous = lin.predict_autonomous(s)?;
            let h = &s[..k];
            let koop = koopman_step(h, koopman_map);
            let preds: [&[f64]; 5] = [&exact[..k], &with_input[..k], &autonomous[..k], &koop, h];
            tally.add(preds, &traj.state(i, t + 1)[..k], readout, t + 2 == len);
        }
    }
    if tally.targets == 0 {
        bail!("no review of the batch has two real steps");
    }
    let nt = tally.targets as f64;
    let scored = readout.agreement_rule().is_some();
    let counts = |c: [usize; 5]| c.map(|v| v as f64);
    Ok(Comparison {
        input: input.to_string(),
        method: method(traj.unit, readout),
        fixed_points: lins.len(),
        targets: tally.targets,
        reviews: tally.reviews,
        mean_relative_distance_to_nearest: tally.dist_sum / nt,
        e_rel: PerPredictor::mean(tally.err, nt),
        agreement_last_step: scored
            .then(|| PerPredictor::mean(counts(tally.last), tally.reviews as f64)),
        agreement_all_steps: scored.then(|| PerPredictor::mean(counts(tally.all), nt)),
    })
}
