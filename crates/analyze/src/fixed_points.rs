//! `analyze fixed-points`: the local (fixed-point) analysis of a trained IMDB model beside the
//! paper's global (Koopman) one, on the same analysis batch.
//!
//! Stages, each with its own result type:
//! 1. the run, its test split and the analysis batch of `analyze imdb` (same `--batch`/`--seed`:
//!    the same reviews); the weights as plain numbers ([`cell_from_recurrent`]) and the
//!    trajectories: the full state `s_t` (`h_t`, or `[h_t; c_t]` for an LSTM) and the embedded
//!    input `x_t` of every real step ([`Trajectories`]);
//! 2. the Koopman fit on the real steps ([`crate::kann::fit`], Eqs. 4-5): spectrum and `e_rel`;
//! 3. fixed points of `F(·, x)` at the zero input and at the mean embedded input `x̄` of the
//!    batch, by minimising `q(s) = ½|F(s, x) − s|²` from `--starts` states sampled along the
//!    trajectories ([`kann_dynamics::find_fixed_points`]); for each point the Jacobian spectrum
//!    and the alignment of its top eigenvectors with the readout; PCA of the points
//!    ([`InputReport`]);
//! 4. one-step prediction on the batch ([`compare`]): the linearisation around the nearest fixed
//!    point at `x̄` against the Koopman prediction (Eq. 6), with `e_rel` (Eq. 12) and the
//!    agreement of the readout's class ([`Comparison`]).
//!
//! Written into the run folder (atomically, under the run's lock): `fixed_points.json`
//! ([`FixedPointsReport`]), `fixed_points.md`, and the Jacobian spectrum of the most
//! line-attractor-like fixed point beside the Koopman spectrum (`fixed_point_spectra.png/svg`,
//! both in one complex plane; `fixed_point_jacobian_spectrum` and
//! `fixed_point_koopman_spectrum` each in the layout of `analyze imdb`'s spectrum figure).

use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use burn::tensor::Tensor;
use clap::Args;
use kann_dynamics::faer::Mat;
use kann_dynamics::{
    Cell, CellAtInput, FixedPointOptions, Linearisation, abs_cos, eigen, find_fixed_points, pca,
};
use kann_koopman::States;
use kann_models::cells::Recurrent;
use kann_models::npy::tensor_to_vec;
use serde::{Deserialize, Serialize};

use crate::CommonArgs;
use crate::common::{sample_indices, step};
use crate::imdb::data::{ImdbData, ImdbRun, Item, tokens_tensor};
use crate::imdb::readout::LinearReadout;
use crate::kann::{self, EigenSummary, eigen_summaries};
use kann_data::progress::progress_bar;

/// Eigenvalues listed per fixed point.
const TOP_EIGENVALUES: usize = 10;

/// Arguments of `analyze fixed-points`.
#[derive(Debug, Clone, Args)]
pub struct FixedPointArgs {
    /// The run (an IMDB run; default: the newest under results/, as for `analyze imdb`), data
    /// folder, analysis batch (the same reviews as `analyze imdb` with the same seed; the seed
    /// also draws the starting states) and Koopman rank.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Reviews per forward pass when hooking the states.
    #[arg(long, default_value_t = 64)]
    pub stream_batch: usize,
    /// Starting states per input, sampled from the batch's real steps.
    #[arg(long, default_value_t = 128)]
    pub starts: usize,
    /// Levenberg-Marquardt iterations per start, at most.
    #[arg(long, default_value_t = 100)]
    pub max_iter: usize,
    /// Minima with q = ½|F(s) − s|² above this are dropped.
    #[arg(long, default_value_t = 1e-10)]
    pub max_q: f64,
    /// Minima closer than this (Euclidean) are one fixed point.
    #[arg(long, default_value_t = 1e-3)]
    pub unique_tol: f64,
}

impl Default for FixedPointArgs {
    fn default() -> Self {
        FixedPointArgs {
            common: CommonArgs::default(),
            stream_batch: 64,
            starts: 128,
            max_iter: 100,
            max_q: 1e-10,
            unique_tol: 1e-3,
        }
    }
}

impl FixedPointArgs {
    fn options(&self) -> FixedPointOptions {
        FixedPointOptions {
            max_iter: self.max_iter,
            max_q: self.max_q,
            unique_tol: self.unique_tol,
            ..FixedPointOptions::default()
        }
    }

    fn check(&self) -> Result<()> {
        if self.common.batch < 2 {
            bail!("--batch must be at least 2, got {}", self.common.batch);
        }
        if self.stream_batch == 0 {
            bail!("--stream-batch must be at least 1");
        }
        if self.starts == 0 {
            bail!("--starts must be at least 1");
        }
        self.options()
            .check()
            .context("--max-iter, --max-q, --unique-tol")?;
        Ok(())
    }

    /// The command line that reproduces a report.
    pub fn command(&self, run: &std::path::Path) -> String {
        let mut c = format!(
            "cargo run --release -p analyze -- fixed-points --run {} --batch {} --seed {} --starts {} --max-iter {} --max-q {:e} --unique-tol {:e}",
            run.display(),
            self.common.batch,
            self.common.seed,
            self.starts,
            self.max_iter,
            self.max_q,
            self.unique_tol
        );
        if let Some(r) = self.common.rank {
            c.push_str(&format!(" --rank {r}"));
        }
        c
    }
}

/// The cell of a trained recurrent layer as plain numbers (f32 weights widened to f64).
pub fn cell_from_recurrent(layer: &Recurrent) -> Result<Cell> {
    let kind = layer.kind();
    fn numbers<const D: usize>(t: &Tensor<D>) -> Result<Vec<f64>> {
        Ok(tensor_to_vec(t)?.into_iter().map(f64::from).collect())
    }
    Ok(Cell::new(
        kind,
        layer.d_input(),
        layer.d_hidden(),
        numbers(&layer.w_x.val())?,
        numbers(&layer.b_x.val())?,
        numbers(&layer.w_h.val())?,
        numbers(&layer.b_h.val())?,
    )?)
}

/// The real steps of a batch: full states `s_t` and embedded inputs `x_t`, `t = 0..len`, where
/// `s_t = F(s_{t−1}, x_t)` and `s_{−1} = 0`.
#[derive(Debug, Clone)]
pub struct Trajectories {
    /// Width `n` of the full state.
    pub state_dim: usize,
    /// Width `H` of the hidden part `h` (the first `H` entries of `s`).
    pub hidden: usize,
    /// Width `X` of the input.
    pub input_dim: usize,
    /// Per review: states `len × n`, row-major.
    pub states: Vec<Vec<f64>>,
    /// Per review: inputs `len × X`, row-major.
    pub inputs: Vec<Vec<f64>>,
}

impl Trajectories {
    /// Real steps of review `i`.
    pub fn len_of(&self, i: usize) -> usize {
        self.states[i].len() / self.state_dim
    }

    /// State `s_t` of review `i`.
    pub fn state(&self, i: usize, t: usize) -> &[f64] {
        &self.states[i][t * self.state_dim..(t + 1) * self.state_dim]
    }

    /// Input `x_t` of review `i`.
    pub fn input(&self, i: usize, t: usize) -> &[f64] {
        &self.inputs[i][t * self.input_dim..(t + 1) * self.input_dim]
    }

    /// The hidden parts as [`States`] (padded to the longest review, with its lengths).
    pub fn hidden_states(&self) -> Result<States> {
        let (s, k) = (self.states.len(), self.hidden);
        let width = (0..s).map(|i| self.len_of(i)).max().unwrap_or(0);
        let mut data = vec![0.0; s * width * k];
        for i in 0..s {
            for t in 0..self.len_of(i) {
                data[(i * width + t) * k..(i * width + t + 1) * k]
                    .copy_from_slice(&self.state(i, t)[..k]);
            }
        }
        let lengths = (0..s).map(|i| self.len_of(i)).collect();
        Ok(States::new_with_lengths(data, s, width, k, lengths)?)
    }

    /// The mean input `x̄` over every real step.
    pub fn mean_input(&self) -> Vec<f64> {
        let mut sum = vec![0.0; self.input_dim];
        let mut count = 0usize;
        for x in &self.inputs {
            for row in x.chunks(self.input_dim) {
                for (a, b) in sum.iter_mut().zip(row) {
                    *a += b;
                }
                count += 1;
            }
        }
        sum.iter().map(|a| a / count.max(1) as f64).collect()
    }

    /// `n` states sampled without replacement along the trajectories (seeded).
    pub fn sample_states(&self, n: usize, seed: u64) -> Vec<Vec<f64>> {
        let index: Vec<(usize, usize)> = (0..self.states.len())
            .flat_map(|i| (0..self.len_of(i)).map(move |t| (i, t)))
            .collect();
        sample_indices(index.len(), n.min(index.len()), seed)
            .into_iter()
            .map(|k| self.state(index[k].0, index[k].1).to_vec())
            .collect()
    }
}

/// Hooks the states (with the LSTM's cell states) and embedded inputs of `items`.
fn hook(run: &ImdbRun, items: &[&Item], chunk: usize) -> Result<Trajectories> {
    let emb = tensor_to_vec(&run.model.embedding.weight.val())?;
    let x_dim = run.model.recurrent.d_input();
    let k = run.model.d_hidden();
    let lstm = run.model.recurrent.kind() == kann_models::cells::CellKind::Lstm;
    let n = if lstm { 2 * k } else { k };
    let mut states = Vec::with_capacity(items.len());
    let mut inputs = Vec::with_capacity(items.len());
    let bar = progress_bar(items.len().div_ceil(chunk) as u64, "  batch");
    for part in items.chunks(chunk) {
        let width = part.iter().map(|it| it.ids.len()).max().unwrap_or(1);
        let lengths: Vec<usize> = part.iter().map(|it| it.ids.len()).collect();
        let hooked =
            run.model
                .forward_states(tokens_tensor(part, width, &run.device), &lengths, lstm)?;
        let h = tensor_to_vec(&hooked.hidden)?;
        let c = hooked.cell.as_ref().map(tensor_to_vec).transpose()?;
        for (r, it) in part.iter().enumerate() {
            let len = it.ids.len();
            let mut s = Vec::with_capacity(len * n);
            let mut x = Vec::with_capacity(len * x_dim);
            for t in 0..len {
                let base = (r * width + t) * k;
                s.extend(h[base..base + k].iter().map(|&v| f64::from(v)));
                if let Some(c) = &c {
                    s.extend(c[base..base + k].iter().map(|&v| f64::from(v)));
                }
                let id = it.ids[t] as usize;
                let row = emb
                    .get(id * x_dim..(id + 1) * x_dim)
                    .with_context(|| format!("piece id {id} outside the embedding"))?;
                x.extend(row.iter().map(|&v| f64::from(v)));
            }
            states.push(s);
            inputs.push(x);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(Trajectories {
        state_dim: n,
        hidden: k,
        input_dim: x_dim,
        states,
        inputs,
    })
}

/// One eigenvalue `(re, im, |λ|)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Eigenvalue {
    /// Real part.
    pub re: f64,
    /// Imaginary part.
    pub im: f64,
    /// Modulus.
    pub modulus: f64,
}

/// One fixed point and the linear analysis at it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointReport {
    /// `q(s*) = ½|F(s*, x) − s*|²`.
    pub q: f64,
    /// Levenberg–Marquardt iterations used.
    pub iterations: usize,
    /// Starts that ended at this point.
    pub starts_merged: usize,
    /// `|h*|`.
    pub norm: f64,
    /// The readout's logit `G(h*)` of its hidden part.
    pub logit: f64,
    /// Distance from the nearest state of the batch's trajectories.
    pub distance_to_trajectories: f64,
    /// The largest eigenvalues of the Jacobian `J = ∂F/∂s` at `(s*, x)`.
    pub top_eigenvalues: Vec<Eigenvalue>,
    /// Eigenvalues with `|λ| > 0.99`.
    pub count_above_099: usize,
    /// `|cos|` between the top right eigenvector `v_1` (`J v_1 = λ_1 v_1`) and the readout
    /// weights `w` (zero-padded over the LSTM's `c`).
    pub cos_right_readout: Option<f64>,
    /// `|cos|` between the top left eigenvector `l_1` (`l_1 J = λ_1 l_1`: the direction whose
    /// component the linearisation remembers) and `w`.
    pub cos_left_readout: Option<f64>,
}

/// PCA of the fixed points of one input: a line attractor puts nearly all variance on PC 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PcaReport {
    /// Share of the variance on each of the first (at most 5) components.
    pub variance_ratio: Vec<f64>,
    /// `|cos|` between PC 1 and the readout weights.
    pub cos_pc1_readout: Option<f64>,
    /// `|cos|` between PC 1 and the top right eigenvector of the most line-attractor-like point.
    pub cos_pc1_top_eigenvector: Option<f64>,
    /// Range of the readout logit `G(h*)` over the points.
    pub logit_range: (f64, f64),
}

/// The fixed points at one constant input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputReport {
    /// `zero` or `mean` (the mean embedded input of the batch).
    pub input: String,
    /// `|x|`.
    pub input_norm: f64,
    /// Starts.
    pub starts: usize,
    /// Minima dropped for `q > max_q`.
    pub dropped_large_q: usize,
    /// Minima merged into a kept one (closer than `unique_tol`).
    pub duplicates: usize,
    /// Starts that produced non-finite states.
    pub non_finite: usize,
    /// Median and largest final `q` over all starts.
    pub q_of_starts_median: f64,
    /// Largest final `q` over all starts.
    pub q_of_starts_max: f64,
    /// The kept fixed points, by ascending `q`.
    pub points: Vec<PointReport>,
    /// Index (into `points`) of the most line-attractor-like point: `|λ_1|` closest to 1.
    pub line_attractor_point: Option<usize>,
    /// All Jacobian eigenvalues at that point.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub line_attractor_spectrum: Vec<Eigenvalue>,
    /// PCA of the kept points (at least 2 needed).
    pub pca: Option<PcaReport>,
}

/// The Koopman side on the same batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KoopmanSide {
    /// Rank of the basis.
    pub rank: usize,
    /// `e_rel` (Eq. 12) of the fit on its real steps, as `analyze imdb` computes it.
    pub e_rel: f64,
    /// The ten eigenvalues of largest modulus.
    pub top_eigenvalues: Vec<EigenSummary>,
}

/// How often a predictor's class (sign of `G`) equals the network's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Agreements {
    /// The exact map `F(s_t, x_{t+1})` in f64 (checks the weights; should be 1).
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

/// One-step errors `e_rel` (Eq. 12) of each predictor on the same targets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Errors {
    /// Exact map.
    pub exact_map: f64,
    /// Linearisation with its input term.
    pub linearised: f64,
    /// Linearisation without its input term.
    pub linearised_autonomous: f64,
    /// Koopman (Eq. 6).
    pub koopman: f64,
    /// Trivial `h_{t+1} ≈ h_t`.
    pub trivial: f64,
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
    /// Reviews (for the last-step agreement).
    pub reviews: usize,
    /// Mean `|s_t − s*| / |s_t|` to the nearest fixed point over the targets' sources.
    pub mean_relative_distance_to_nearest: f64,
    /// `e_rel = mean |ĥ_{t+1} − h_{t+1}|² / |h_{t+1}|²` over the targets.
    pub e_rel: Errors,
    /// Agreement at each review's last step (`analyze imdb`'s agreement: `G(ĥ_T)` vs `G(h_T)`).
    pub agreement_last_step: Agreements,
    /// Agreement over every target step.
    pub agreement_all_steps: Agreements,
}

/// `report.json` of `analyze fixed-points`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixedPointsReport {
    /// The run folder.
    pub run_dir: String,
    /// The command that reproduces it.
    pub command: String,
    /// The cell.
    pub cell: String,
    /// State width `n` (`H`, or `2H` for the LSTM's `[h; c]`).
    pub state_dim: usize,
    /// Reviews in the batch.
    pub batch: usize,
    /// Real steps in the batch.
    pub steps: usize,
    /// The settings of the search.
    pub options: FixedPointOptions,
    /// The Koopman fit.
    pub koopman: KoopmanSide,
    /// Fixed points at the zero input and at the mean input.
    pub inputs: Vec<InputReport>,
    /// One-step prediction, linearisation (around the fixed points of each input) vs Koopman.
    pub comparisons: Vec<Comparison>,
    /// Figure files written (PNG and SVG).
    pub figures: Vec<String>,
    /// Anything to keep in mind.
    pub warnings: Vec<String>,
}

/// The first `n` eigenvalues as report rows.
pub(crate) fn eig_values(values: &[kann_dynamics::faer::c64], n: usize) -> Vec<Eigenvalue> {
    values
        .iter()
        .take(n)
        .map(|l| Eigenvalue {
            re: l.re,
            im: l.im,
            modulus: l.norm(),
        })
        .collect()
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// The readout weights over the full state (zero over the LSTM's `c`).
fn readout_over_state(readout: &LinearReadout, n: usize) -> Vec<f64> {
    let mut w = readout.w.clone();
    w.resize(n, 0.0);
    w
}

/// The fixed points at input `x` from `starts`, each with its Jacobian spectrum and alignment
/// with the readout, and their PCA; also returns the points' states.
pub fn analyse_input(
    name: &str,
    cell: &Cell,
    x: &[f64],
    starts: &[Vec<f64>],
    options: &FixedPointOptions,
    readout: &LinearReadout,
    traj: &Trajectories,
) -> Result<(InputReport, Vec<Vec<f64>>)> {
    let xp = cell.project_input(x)?;
    let map = CellAtInput::new(cell, &xp)?;
    let search = find_fixed_points(&map, starts, options)?;
    let w = readout_over_state(readout, cell.state_dim());
    let mut points = Vec::with_capacity(search.points.len());
    let mut spectra = Vec::with_capacity(search.points.len());
    for p in &search.points {
        let j = cell.jacobian_state(&p.state, &xp)?;
        let e = eigen(j.as_ref())?;
        let nearest = (0..traj.states.len())
            .flat_map(|i| (0..traj.len_of(i)).map(move |t| (i, t)))
            .map(|(i, t)| dist(traj.state(i, t), &p.state))
            .fold(f64::INFINITY, f64::min);
        let h = cell.hidden(&p.state);
        points.push(PointReport {
            q: p.q,
            iterations: p.iterations,
            starts_merged: p.starts_merged,
            norm: h.iter().map(|v| v * v).sum::<f64>().sqrt(),
            logit: readout.logit(h),
            distance_to_trajectories: nearest,
            top_eigenvalues: eig_values(&e.values, TOP_EIGENVALUES),
            count_above_099: e.values.iter().filter(|l| l.norm() > 0.99).count(),
            cos_right_readout: e.right_vector(0).and_then(|v| abs_cos(&v, &w)),
            // `w` is real, so |⟨l_1, w⟩| is the same with or without conjugating the row l_1.
            cos_left_readout: e.left_vector(0).and_then(|l| abs_cos(&l, &w)),
        });
        spectra.push(e);
    }
    let line = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            p.top_eigenvalues
                .first()
                .map(|l| (i, (l.modulus - 1.0).abs()))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i);
    let states: Vec<Vec<f64>> = search.points.iter().map(|p| p.state.clone()).collect();
    let pca = if states.len() >= 2 {
        let p = pca(&states)?;
        let pc1 = &p.components[0];
        let pc1c: Vec<_> = pc1
            .iter()
            .map(|&v| kann_dynamics::faer::c64::new(v, 0.0))
            .collect();
        let logits: Vec<f64> = points.iter().map(|p| p.logit).collect();
        Some(PcaReport {
            variance_ratio: p.variance_ratio.iter().take(5).copied().collect(),
            cos_pc1_readout: abs_cos(&pc1c, &w),
            cos_pc1_top_eigenvector: line.and_then(|i| {
                let v = spectra[i].right_vector(0)?;
                abs_cos(&v, pc1)
            }),
            logit_range: (
                logits.iter().copied().fold(f64::INFINITY, f64::min),
                logits.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ),
        })
    } else {
        None
    };
    let mut q = search.q_of_starts.clone();
    q.sort_by(f64::total_cmp);
    Ok((
        InputReport {
            input: name.to_string(),
            input_norm: x.iter().map(|v| v * v).sum::<f64>().sqrt(),
            starts: search.starts,
            dropped_large_q: search.dropped_large_q,
            duplicates: search.duplicates,
            non_finite: search.non_finite,
            q_of_starts_median: q.get(q.len() / 2).copied().unwrap_or(f64::NAN),
            q_of_starts_max: q.last().copied().unwrap_or(f64::NAN),
            points,
            line_attractor_point: line,
            line_attractor_spectrum: line
                .map(|i| eig_values(&spectra[i].values, usize::MAX))
                .unwrap_or_default(),
            pca,
        },
        states,
    ))
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
    readout: &LinearReadout,
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
    let rel = |pred: &[f64], target: &[f64]| {
        let num: f64 = pred
            .iter()
            .zip(target)
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        let den: f64 = target.iter().map(|b| b * b).sum();
        if den > 0.0 { num / den } else { 0.0 }
    };
    let mut err = [0.0f64; 5];
    let mut all = [0usize; 5];
    let mut last = [0usize; 5];
    let (mut targets, mut reviews, mut dist_sum) = (0usize, 0usize, 0.0f64);
    for i in 0..traj.states.len() {
        let len = traj.len_of(i);
        if len < 2 {
            continue;
        }
        reviews += 1;
        for t in 0..len - 1 {
            let s = traj.state(i, t);
            let target = &traj.state(i, t + 1)[..k];
            let x = traj.input(i, t + 1);
            let (best, d) = lins
                .iter()
                .enumerate()
                .map(|(j, l)| (j, dist(s, l.point())))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or((0, f64::NAN));
            let norm = s.iter().map(|v| v * v).sum::<f64>().sqrt();
            dist_sum += if norm > 0.0 { d / norm } else { 0.0 };
            let lin = &lins[best];
            let exact = cell.map(s, &cell.project_input(x)?)?;
            let with_input = lin.predict(s, x)?;
            let autonomous = lin.predict_autonomous(s)?;
            let h = &s[..k];
            let koop: Vec<f64> = (0..k)
                .map(|c| (0..k).map(|j| h[j] * koopman_map[(j, c)]).sum())
                .collect();
            let preds: [&[f64]; 5] = [&exact[..k], &with_input[..k], &autonomous[..k], &koop, h];
            let truth = readout.logit(target) > 0.0;
            for (p, pred) in preds.iter().enumerate() {
                err[p] += rel(pred, target);
                let same = usize::from((readout.logit(pred) > 0.0) == truth);
                all[p] += same;
                if t + 2 == len {
                    last[p] += same;
                }
            }
            targets += 1;
        }
    }
    if targets == 0 {
        bail!("no review of the batch has two real steps");
    }
    let nt = targets as f64;
    let nr = reviews as f64;
    let agreements = |c: &[usize; 5], n: f64| Agreements {
        exact_map: c[0] as f64 / n,
        linearised: c[1] as f64 / n,
        linearised_autonomous: c[2] as f64 / n,
        koopman: c[3] as f64 / n,
        trivial: c[4] as f64 / n,
    };
    Ok(Comparison {
        input: input.to_string(),
        method: "targets h_(t+1), t+1 in 1..len of each review; linearisation around the fixed point (at the input x̄) nearest to s_t: F(s*, x̄) + J (s_t − s*) + B (x_(t+1) − x̄) (autonomous: without the B term); Koopman h_t B C Bᵀ (Eq. 6); exact F(s_t, x_(t+1)) in f64; trivial h_t. e_rel (Eq. 12) on the hidden part; agreement = same sign of the readout logit G as G(h_(t+1))".into(),
        fixed_points: lins.len(),
        targets,
        reviews,
        mean_relative_distance_to_nearest: dist_sum / nt,
        e_rel: Errors {
            exact_map: err[0] / nt,
            linearised: err[1] / nt,
            linearised_autonomous: err[2] / nt,
            koopman: err[3] / nt,
            trivial: err[4] / nt,
        },
        agreement_last_step: agreements(&last, nr),
        agreement_all_steps: agreements(&all, nt),
    })
}

/// Runs `analyze fixed-points` and writes `fixed_points.json`, `fixed_points.md` and the
/// spectra figure into the run folder.
pub fn run_fixed_points(args: &FixedPointArgs) -> Result<FixedPointsReport> {
    args.check()?;
    let imdb = ImdbRun::load(args.common.run.as_deref())?;
    let dir = imdb.dir.clone();
    let _lock = kann_models::lock::lock_run_dir(&dir)?;
    println!("analyze fixed-points: run folder {}", dir.display());
    let data = ImdbData::load(&imdb, args.common.data_dir.as_deref())?;
    let max_len = imdb.config.data.max_len;
    let (batch, _) =
        crate::imdb::draw_batches(&data.kept, args.common.batch, args.common.seed, max_len)?;
    let cell = cell_from_recurrent(&imdb.model.recurrent)?;
    let traj = step(
        &format!("hooking the states of {} test reviews", batch.len()),
        || hook(&imdb, &batch, args.stream_batch),
    )?;
    let states = traj.hidden_states()?;
    let fit = step("fitting the Koopman operator on the real steps", || {
        kann::fit(&states, args.common.rank)
    })?;
    let koopman = KoopmanSide {
        rank: fit.model.rank(),
        e_rel: kann::e_rel(&states, &fit)?.e_rel,
        top_eigenvalues: eigen_summaries(&fit.spectrum)?
            .into_iter()
            .take(TOP_EIGENVALUES)
            .collect(),
    };
    let options = args.options();
    let starts = traj.sample_states(args.starts, args.common.seed);
    let x_bar = traj.mean_input();
    let mut inputs = Vec::new();
    let mut warnings = Vec::new();
    let mut comparisons = Vec::new();
    let map = fit.model.prediction_map();
    for (name, x) in [("zero", vec![0.0; traj.input_dim]), ("mean", x_bar)] {
        let (rep, pts) = step(
            &format!(
                "fixed points at the {name} input from {} starts",
                starts.len()
            ),
            || analyse_input(name, &cell, &x, &starts, &options, &imdb.readout, &traj),
        )?;
        inputs.push(rep);
        if pts.is_empty() {
            warnings.push(format!(
                "no fixed point at the {name} input with q <= {:e}: no linearisation to compare",
                args.max_q
            ));
            continue;
        }
        comparisons.push(step(
            &format!("one-step prediction: linearisation at the {name} input vs Koopman"),
            || compare(name, &cell, &pts, &x, &traj, &imdb.readout, &map),
        )?);
    }
    let steps = (0..traj.states.len()).map(|i| traj.len_of(i)).sum();
    let mut report = FixedPointsReport {
        run_dir: dir.display().to_string(),
        command: args.command(&dir),
        cell: cell.kind().to_string(),
        state_dim: cell.state_dim(),
        batch: batch.len(),
        steps,
        options,
        koopman,
        inputs,
        comparisons,
        figures: Vec::new(),
        warnings,
    };
    report.figures = figures(&dir, &report, &crate::kann::eigen_points(&fit.spectrum))?;
    kann_koopman::io::write_json_atomic(dir.join("fixed_points.json"), &report)?;
    kann_models::atomic::write_atomic(&dir.join("fixed_points.md"), markdown(&report).as_bytes())?;
    print!("{}", summary(&report));
    println!(
        "analyze fixed-points: fixed_points.json, fixed_points.md in {}",
        dir.display()
    );
    Ok(report)
}

/// The Jacobian spectrum of the most line-attractor-like fixed point (mean input, else zero)
/// beside the Koopman spectrum.
fn figures(
    dir: &std::path::Path,
    report: &FixedPointsReport,
    koopman: &[(f64, f64)],
) -> Result<Vec<String>> {
    let Some((inp, i)) = report
        .inputs
        .iter()
        .rev()
        .find_map(|r| r.line_attractor_point.map(|i| (r, i)))
    else {
        return Ok(Vec::new());
    };
    let jac: Vec<(f64, f64)> = inp
        .line_attractor_spectrum
        .iter()
        .map(|l| (l.re, l.im))
        .collect();
    let mut out = Vec::new();
    let title_j = format!(
        "Jacobian dF/ds at fixed point {} ({} input, q = {:.1e}), {}",
        i + 1,
        inp.input,
        inp.points[i].q,
        report.cell.to_uppercase()
    );
    let title_k = format!(
        "Koopman operator C (same batch, rank {})",
        report.koopman.rank
    );
    for (stem, title, pts) in [
        ("fixed_point_jacobian_spectrum", title_j, jac.clone()),
        ("fixed_point_koopman_spectrum", title_k, koopman.to_vec()),
    ] {
        if pts.is_empty() {
            continue;
        }
        let fig = kann_plot::SpectrumFigure {
            operator: if stem.contains("jacobian") {
                "J = dF/ds"
            } else {
                "C"
            },
            ..kann_plot::SpectrumFigure::new(&title, &pts)
        };
        let p = kann_plot::spectrum(dir, stem, &fig)
            .with_context(|| format!("writing the figure {stem}"))?;
        out.extend(names(&p));
    }
    let title = format!(
        "Jacobian at fixed point {} ({} input) beside the Koopman operator, {} on the same batch",
        i + 1,
        inp.input,
        report.cell.to_uppercase()
    );
    let p = kann_plot::spectra(
        dir,
        "fixed_point_spectra",
        &kann_plot::SpectraFigure {
            title: &title,
            first: ("J = dF/ds at the fixed point", &jac),
            second: ("Koopman C", koopman),
            zoom_from: 0.95,
        },
    )
    .context("writing the figure fixed_point_spectra")?;
    out.extend(names(&p));
    Ok(out)
}

/// The file names of a figure's PNG and SVG.
pub(crate) fn names(p: &kann_plot::FigurePaths) -> [String; 2] {
    [&p.png, &p.svg].map(|f| {
        f.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    })
}

fn fmt_eig(l: &Eigenvalue) -> String {
    if l.im.abs() < 1e-12 {
        format!("{:.4}", l.re)
    } else {
        format!("{:.4}{:+.4}i", l.re, l.im)
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{v:.3}"))
}

/// The console summary.
pub fn summary(r: &FixedPointsReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Koopman (rank {}): e_rel {:.4}; top |λ|: {}",
        r.koopman.rank,
        r.koopman.e_rel,
        r.koopman
            .top_eigenvalues
            .iter()
            .take(5)
            .map(|e| format!("{:.4}", e.modulus))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for inp in &r.inputs {
        let _ = writeln!(
            s,
            "{} input: {} fixed points from {} starts (dropped q > max_q: {}, duplicates: {}); q of starts median {:.1e}, max {:.1e}",
            inp.input,
            inp.points.len(),
            inp.starts,
            inp.dropped_large_q,
            inp.duplicates,
            inp.q_of_starts_median,
            inp.q_of_starts_max
        );
        if let Some(i) = inp.line_attractor_point {
            let p = &inp.points[i];
            let _ = writeln!(
                s,
                "  most line-attractor-like point {}: q {:.1e}, G(h*) {:.3}, top λ: {}; |cos(v1, w)| {}, |cos(l1, w)| {}",
                i + 1,
                p.q,
                p.logit,
                p.top_eigenvalues
                    .iter()
                    .take(5)
                    .map(fmt_eig)
                    .collect::<Vec<_>>()
                    .join(", "),
                opt(p.cos_right_readout),
                opt(p.cos_left_readout)
            );
        }
        if let Some(p) = &inp.pca {
            let _ = writeln!(
                s,
                "  PCA of the fixed points: variance share {}; |cos(PC1, w)| {}, |cos(PC1, v1)| {}; G(h*) from {:.3} to {:.3}",
                p.variance_ratio
                    .iter()
                    .map(|v| format!("{v:.3}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                opt(p.cos_pc1_readout),
                opt(p.cos_pc1_top_eigenvector),
                p.logit_range.0,
                p.logit_range.1
            );
        }
    }
    for c in &r.comparisons {
        let _ = writeln!(
            s,
            "one-step e_rel over {} targets, linearised at the {} input's fixed points: linearised {:.4}, linearised without input {:.4}, Koopman {:.4}, trivial {:.4}, exact map {:.1e}",
            c.targets,
            c.input,
            c.e_rel.linearised,
            c.e_rel.linearised_autonomous,
            c.e_rel.koopman,
            c.e_rel.trivial,
            c.e_rel.exact_map
        );
        for (what, a) in [
            ("last step", &c.agreement_last_step),
            ("all steps", &c.agreement_all_steps),
        ] {
            let _ = writeln!(
                s,
                "agreement ({what}): linearised {:.4}, without input {:.4}, Koopman {:.4}, trivial {:.4}, exact {:.4}",
                a.linearised, a.linearised_autonomous, a.koopman, a.trivial, a.exact_map
            );
        }
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

/// `fixed_points.md`.
pub fn markdown(r: &FixedPointsReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Fixed points and linearisation of the {} ({})\n",
        r.cell.to_uppercase(),
        r.run_dir
    );
    let _ = writeln!(
        s,
        "`{}`\n\n{} reviews, {} real steps; state width {}. Fixed points minimise q(s) = ½|F(s, x) − s|² (Levenberg–Marquardt, at most {} iterations) from starts sampled along the batch's trajectories; kept when q ≤ {:e}, merged within {:e}.\n",
        r.command,
        r.batch,
        r.steps,
        r.state_dim,
        r.options.max_iter,
        r.options.max_q,
        r.options.unique_tol
    );
    s.push_str("## Summary\n\n```\n");
    s.push_str(&summary(r));
    s.push_str("```\n\n");
    for inp in &r.inputs {
        let _ = writeln!(
            s,
            "## Fixed points at the {} input (|x| = {:.3})\n",
            inp.input, inp.input_norm
        );
        s.push_str("| # | q | starts | G(h*) | dist. to trajectories | top eigenvalues of J | #\\|λ\\|>0.99 | \\|cos(v1, w)\\| | \\|cos(l1, w)\\| |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for (i, p) in inp.points.iter().enumerate().take(30) {
            let _ = writeln!(
                s,
                "| {} | {:.1e} | {} | {:.3} | {:.3} | {} | {} | {} | {} |",
                i + 1,
                p.q,
                p.starts_merged,
                p.logit,
                p.distance_to_trajectories,
                p.top_eigenvalues
                    .iter()
                    .take(3)
                    .map(fmt_eig)
                    .collect::<Vec<_>>()
                    .join(", "),
                p.count_above_099,
                opt(p.cos_right_readout),
                opt(p.cos_left_readout)
            );
        }
        if inp.points.len() > 30 {
            let _ = writeln!(s, "\n({} more in fixed_points.json)", inp.points.len() - 30);
        }
        s.push('\n');
    }
    for c in &r.comparisons {
        let _ = writeln!(
            s,
            "## One-step prediction on the batch, linearised at the {} input's fixed points\n\n{}; {} fixed points, mean |s_t − s*|/|s_t| to the nearest {:.3}\n",
            c.input, c.method, c.fixed_points, c.mean_relative_distance_to_nearest
        );
        s.push_str("| predictor | e_rel | agreement, last step | agreement, all steps |\n| --- | --- | --- | --- |\n");
        for (name, e, a, b) in [
            (
                "linearisation around the nearest fixed point",
                c.e_rel.linearised,
                c.agreement_last_step.linearised,
                c.agreement_all_steps.linearised,
            ),
            (
                "linearisation, no input term",
                c.e_rel.linearised_autonomous,
                c.agreement_last_step.linearised_autonomous,
                c.agreement_all_steps.linearised_autonomous,
            ),
            (
                "Koopman (Eq. 6)",
                c.e_rel.koopman,
                c.agreement_last_step.koopman,
                c.agreement_all_steps.koopman,
            ),
            (
                "trivial h_(t+1) = h_t",
                c.e_rel.trivial,
                c.agreement_last_step.trivial,
                c.agreement_all_steps.trivial,
            ),
            (
                "exact map (f64)",
                c.e_rel.exact_map,
                c.agreement_last_step.exact_map,
                c.agreement_all_steps.exact_map,
            ),
        ] {
            let _ = writeln!(s, "| {name} | {e:.4e} | {a:.4} | {b:.4} |");
        }
        s.push('\n');
    }
    for f in r.figures.iter().filter(|f| f.ends_with(".png")) {
        let _ = writeln!(s, "![{f}]({f})\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};
    use kann_models::cells::{CellKind, RecurrentConfig};

    fn numbers(n: usize, seed: u64) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as f64 + 1.0) * (seed as f64 + 0.618)).sin() * 0.9) as f32)
            .collect()
    }

    /// The closed-form Jacobians of `kann-dynamics`, with the weights read out of a burn layer by
    /// [`cell_from_recurrent`], against burn's autodiff through the unrolled recurrence: for two
    /// steps `s_1 = F(0, x_1)`, `s_2 = F(s_1, x_2)`, autodiff gives `∂s_2/∂x_1`, which must equal
    /// `J(s_1, x_2) · B(0, x_1)`; with `X ≥ n`, `B` has full row rank, so this pins `J` down.
    /// `∂s_1/∂x_1 = B(0, x_1)` and the states themselves are checked too.
    #[test]
    fn closed_form_jacobians_match_burn_autodiff() {
        let device = Device::flex().autodiff();
        let (x_dim, h) = (8usize, 3usize);
        for kind in [CellKind::Gru, CellKind::Lstm, CellKind::Rnn] {
            let layer = RecurrentConfig::new(kind, x_dim, h).init(&device);
            let cell = cell_from_recurrent(&layer).unwrap();
            let n = cell.state_dim();
            let (x1v, x2v) = (numbers(x_dim, 1), numbers(x_dim, 2));
            let x1f: Vec<f64> = x1v.iter().map(|&v| f64::from(v)).collect();
            let x2f: Vec<f64> = x2v.iter().map(|&v| f64::from(v)).collect();
            let xp1 = cell.project_input(&x1f).unwrap();
            let xp2 = cell.project_input(&x2f).unwrap();
            let s1 = cell.map(&vec![0.0; n], &xp1).unwrap();
            let s2 = cell.map(&s1, &xp2).unwrap();
            let b1 = cell.jacobian_input(&vec![0.0; n], &xp1).unwrap();
            let j2 = cell.jacobian_state(&s1, &xp2).unwrap();
            let want2 = j2.as_ref() * b1.as_ref();
            // One forward pass per backward (burn does not retain the graph).
            let forward = || {
                let x1 = Tensor::<2>::from_data(TensorData::new(x1v.clone(), [1, x_dim]), &device)
                    .require_grad();
                let x2 = Tensor::<2>::from_data(TensorData::new(x2v.clone(), [1, x_dim]), &device);
                let x = Tensor::cat(
                    vec![x1.clone().unsqueeze_dim::<3>(1), x2.unsqueeze_dim::<3>(1)],
                    1,
                );
                (x1, layer.forward_unrolled(x, true))
            };
            for r in 0..n {
                let u = r % h;
                let pick = |out: &kann_models::cells::RecurrentOutput| {
                    if r < h {
                        out.hidden.clone()
                    } else {
                        out.cell.clone().expect("LSTM cell states")
                    }
                };
                let (_, out) = forward();
                let vals = tensor_to_vec(&pick(&out)).unwrap();
                assert!((f64::from(vals[u]) - s1[r]).abs() < 1e-5, "{kind} s1[{r}]");
                assert!(
                    (f64::from(vals[h + u]) - s2[r]).abs() < 1e-5,
                    "{kind} s2[{r}]"
                );
                for (step_t, want) in [(1usize, &want2), (0usize, &b1)] {
                    let (x1, out) = forward();
                    let target = pick(&out).narrow(1, step_t, 1).narrow(2, u, 1).sum();
                    let grads = target.backward();
                    let g = tensor_to_vec(&x1.grad(&grads).unwrap()).unwrap();
                    for m in 0..x_dim {
                        let d = (f64::from(g[m]) - want[(r, m)]).abs();
                        assert!(
                            d < 1e-5,
                            "{kind} step {step_t} row {r} col {m}: autodiff {} closed form {}",
                            g[m],
                            want[(r, m)]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn bad_settings_are_refused_before_anything_is_loaded() {
        let ok = FixedPointArgs::default();
        assert!(ok.check().is_ok());
        for bad in [
            FixedPointArgs {
                common: CommonArgs {
                    batch: 1,
                    ..Default::default()
                },
                ..Default::default()
            },
            FixedPointArgs {
                starts: 0,
                ..Default::default()
            },
            FixedPointArgs {
                stream_batch: 0,
                ..Default::default()
            },
            FixedPointArgs {
                max_iter: 0,
                ..Default::default()
            },
            FixedPointArgs {
                max_q: -1.0,
                ..Default::default()
            },
            FixedPointArgs {
                unique_tol: f64::NAN,
                ..Default::default()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        let c = ok.command(std::path::Path::new("results/imdb"));
        assert!(
            c.contains("fixed-points --run results/imdb --batch 64 --seed 0"),
            "{c}"
        );
    }

    /// Trajectories generated by a small GRU itself: the exact map predicts them to rounding,
    /// a Koopman map equal to the identity is the trivial predictor, and the linearisation is
    /// exact at its own fixed point.
    #[test]
    fn comparison_on_trajectories_of_a_known_cell() {
        for kind in [CellKind::Gru, CellKind::Lstm, CellKind::Rnn] {
            comparison_on_trajectories_of(kind);
        }
    }

    /// The check of [`comparison_on_trajectories_of_a_known_cell`] for one cell (the LSTM's
    /// state is `[h; c]`, its `e_rel` and readout on `h`).
    fn comparison_on_trajectories_of(kind: CellKind) {
        let (x_dim, h) = (2usize, 3usize);
        let gh = kind.gates() * h;
        let f = |n: usize, seed: u64| {
            numbers(n, seed)
                .into_iter()
                .map(|v| 0.6 * f64::from(v))
                .collect::<Vec<_>>()
        };
        let cell = Cell::new(
            kind,
            x_dim,
            h,
            f(x_dim * gh, 3),
            f(gh, 4),
            f(h * gh, 5),
            f(gh, 6),
        )
        .unwrap();
        let n = cell.state_dim();
        let mut states = Vec::new();
        let mut inputs = Vec::new();
        for i in 0..4 {
            let (mut s, mut st, mut xs) = (vec![0.0; n], Vec::new(), Vec::new());
            for t in 0..6 + i {
                let x = vec![
                    ((t + i) as f64 * 0.7).sin(),
                    ((t * i) as f64 * 0.3).cos() * 0.5,
                ];
                s = cell.map(&s, &cell.project_input(&x).unwrap()).unwrap();
                st.extend_from_slice(&s);
                xs.extend_from_slice(&x);
            }
            states.push(st);
            inputs.push(xs);
        }
        let traj = Trajectories {
            state_dim: n,
            hidden: h,
            input_dim: x_dim,
            states,
            inputs,
        };
        let readout = LinearReadout {
            w: vec![1.0, -0.5, 0.25],
            b: 0.1,
        };
        let x_bar = traj.mean_input();
        let starts = traj.sample_states(10, 0);
        assert_eq!(starts.len(), 10);
        let (rep, pts) = analyse_input(
            "mean",
            &cell,
            &x_bar,
            &starts,
            &FixedPointOptions::default(),
            &readout,
            &traj,
        )
        .unwrap();
        assert!(!pts.is_empty(), "{kind}: {rep:?}");
        assert!(rep.points.iter().all(|p| p.q <= 1e-10));
        let c = compare(
            "mean",
            &cell,
            &pts,
            &x_bar,
            &traj,
            &readout,
            &Mat::identity(h, h),
        )
        .unwrap();
        assert_eq!(c.targets, 5 + 6 + 7 + 8);
        assert_eq!(c.reviews, 4);
        assert!(c.e_rel.exact_map < 1e-28, "{kind}: {c:?}");
        assert_eq!(c.agreement_all_steps.exact_map, 1.0);
        assert_eq!(c.e_rel.koopman, c.e_rel.trivial);
        assert_eq!(c.agreement_last_step.koopman, c.agreement_last_step.trivial);
        assert!(c.e_rel.linearised.is_finite() && c.e_rel.linearised > 0.0);
        let hs = traj.hidden_states().unwrap();
        assert_eq!(hs.lengths(), &[6, 7, 8, 9]);
        assert!(
            compare(
                "mean",
                &cell,
                &[],
                &x_bar,
                &traj,
                &readout,
                &Mat::identity(h, h)
            )
            .is_err()
        );
        assert!(
            compare(
                "mean",
                &cell,
                &pts,
                &x_bar,
                &traj,
                &readout,
                &Mat::identity(2, 2)
            )
            .is_err()
        );
    }
}
