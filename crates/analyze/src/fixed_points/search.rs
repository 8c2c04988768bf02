//! Stage 3: the fixed points at one constant input, the one search both `analyze fixed-points`
//! and `analyze copy` run ([`search_input`]), and the report of `analyze fixed-points` built from
//! it ([`InputReport`]; `analyze copy` builds its own view, `crate::copy::FixedPointSide`).
//!
//! The search (Sussillo & Barak 2013): minimise `q(s) = ½|F(s, x) − s|²` from states sampled
//! along the trajectories ([`kann_dynamics::find_fixed_points`]: Levenberg–Marquardt, large `q`
//! and duplicates dropped); at each kept point the Jacobian `J = ∂F/∂s` at `(s*, x)` and its
//! eigen-decomposition (eigenvalues by modulus, right and left eigenvectors); the most
//! line-attractor-like point (`|λ_1|` closest to 1); the PCA of the points (a line attractor puts
//! nearly all their variance on PC 1).

use anyhow::Result;
use kann_dynamics::faer::c64;
use kann_dynamics::{
    Cell, CellAtInput, Eigen, FixedPoint, FixedPointOptions, FixedPointSearch, Pca, abs_cos, eigen,
    find_fixed_points, pca,
};
use serde::{Deserialize, Serialize};

use super::Trajectories;
use super::readout::Readout;

/// Eigenvalues listed per fixed point in `fixed_points.json`.
pub const TOP_EIGENVALUES: usize = 10;

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

/// The first `n` eigenvalues as report rows.
pub fn eig_values(values: &[c64], n: usize) -> Vec<Eigenvalue> {
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

/// One kept fixed point and the eigen-decomposition of its Jacobian `J = ∂F/∂s` at `(s*, x)`.
#[derive(Debug, Clone)]
pub struct FoundPoint {
    /// The point `s*` as the search returned it (state, `q`, iterations, starts merged).
    pub point: FixedPoint,
    /// Eigenvalues (by descending modulus) and eigenvectors of `J`.
    pub eigen: Eigen,
    /// `|h*|`, the norm of the hidden part.
    pub hidden_norm: f64,
}

impl FoundPoint {
    /// The hidden part `h*` of the state.
    pub fn hidden<'a>(&'a self, cell: &Cell) -> &'a [f64] {
        cell.hidden(&self.point.state)
    }

    /// Jacobian eigenvalues with `|λ| > modulus`.
    pub fn count_above(&self, modulus: f64) -> usize {
        self.eigen
            .values
            .iter()
            .filter(|l| l.norm() > modulus)
            .count()
    }
}

/// The fixed points at one constant input `x`: what [`search_input`] found.
#[derive(Debug, Clone)]
pub struct InputSearch {
    /// Name of the input (`zero`, `mean`, `blank`).
    pub input: String,
    /// `|x|`.
    pub input_norm: f64,
    /// The search's counts (starts, dropped, duplicates, non-finite) and final `q` of every start.
    pub search: FixedPointSearch,
    /// The final `q` of the starts, ascending.
    pub q_sorted: Vec<f64>,
    /// The kept points, by ascending `q`.
    pub points: Vec<FoundPoint>,
    /// Index (into `points`) of the most line-attractor-like point: `|λ_1|` closest to 1 (the
    /// first of equals).
    pub slowest: Option<usize>,
    /// PCA of the points' states (at least 2 points needed).
    pub pca: Option<Pca>,
}

impl InputSearch {
    /// The points' states `s*`.
    pub fn states(&self) -> Vec<Vec<f64>> {
        self.points.iter().map(|p| p.point.state.clone()).collect()
    }

    /// Median final `q` over the starts (NaN without starts).
    pub fn q_of_starts_median(&self) -> f64 {
        let q = &self.q_sorted;
        q.get(q.len() / 2).copied().unwrap_or(f64::NAN)
    }

    /// Largest final `q` over the starts (NaN without starts).
    pub fn q_of_starts_max(&self) -> f64 {
        self.q_sorted.last().copied().unwrap_or(f64::NAN)
    }

    /// Every Jacobian eigenvalue at the slowest point (empty without points).
    pub fn slowest_spectrum(&self) -> Vec<Eigenvalue> {
        self.slowest
            .map(|i| eig_values(&self.points[i].eigen.values, usize::MAX))
            .unwrap_or_default()
    }
}

/// The fixed points of `F(·, x)` from `starts` (named `name`), each with its Jacobian spectrum,
/// the most line-attractor-like of them and their PCA.
pub fn search_input(
    name: &str,
    cell: &Cell,
    x: &[f64],
    starts: &[Vec<f64>],
    options: &FixedPointOptions,
) -> Result<InputSearch> {
    let xp = cell.project_input(x)?;
    let map = CellAtInput::new(cell, &xp)?;
    let search = find_fixed_points(&map, starts, options)?;
    let mut points = Vec::with_capacity(search.points.len());
    for p in &search.points {
        let e = eigen(cell.jacobian_state(&p.state, &xp)?.as_ref())?;
        let h = cell.hidden(&p.state);
        points.push(FoundPoint {
            point: p.clone(),
            eigen: e,
            hidden_norm: h.iter().map(|v| v * v).sum::<f64>().sqrt(),
        });
    }
    let slowest = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.eigen.values.first().map(|l| (i, (l.norm() - 1.0).abs())))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i);
    let states: Vec<Vec<f64>> = points.iter().map(|p| p.point.state.clone()).collect();
    let pca = if states.len() >= 2 {
        Some(pca(&states)?)
    } else {
        None
    };
    let mut q_sorted = search.q_of_starts.clone();
    q_sorted.sort_by(f64::total_cmp);
    Ok(InputSearch {
        input: name.to_string(),
        input_norm: x.iter().map(|v| v * v).sum::<f64>().sqrt(),
        search,
        q_sorted,
        points,
        slowest,
        pca,
    })
}

/// One fixed point and the linear analysis at it (`fixed_points.json`).
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
    /// The readout's logit `G(h*)` of its hidden part (a one-logit readout: IMDB).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub logit: Option<f64>,
    /// The readout's class `argmax G(h*)` (a many-class readout: copy).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub class: Option<usize>,
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
    /// Range of the readout logit `G(h*)` over the points (a one-logit readout).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub logit_range: Option<(f64, f64)>,
}

/// The fixed points at one constant input (`fixed_points.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputReport {
    /// The input: `zero`, `mean` (the mean input of the batch) or `blank` (copy).
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

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// Distance from `s` to the nearest state of the trajectories.
fn distance_to(traj: &Trajectories, s: &[f64]) -> f64 {
    (0..traj.states.len())
        .flat_map(|i| (0..traj.len_of(i)).map(move |t| (i, t)))
        .map(|(i, t)| dist(traj.state(i, t), s))
        .fold(f64::INFINITY, f64::min)
}

impl PointReport {
    /// The report of `p`: its readout logit, distance from the trajectories, top eigenvalues and
    /// their eigenvectors' alignment with the readout direction over the full state `w` (where
    /// the readout has one).
    fn new(
        cell: &Cell,
        p: &FoundPoint,
        readout: &Readout,
        w: Option<&[f64]>,
        traj: &Trajectories,
    ) -> Self {
        let e = &p.eigen;
        PointReport {
            q: p.point.q,
            iterations: p.point.iterations,
            starts_merged: p.point.starts_merged,
            norm: p.hidden_norm,
            logit: readout.logit(p.hidden(cell)),
            class: readout.symbol(p.hidden(cell)),
            distance_to_trajectories: distance_to(traj, &p.point.state),
            top_eigenvalues: eig_values(&e.values, TOP_EIGENVALUES),
            count_above_099: p.count_above(0.99),
            cos_right_readout: w.and_then(|w| abs_cos(&e.right_vector(0)?, w)),
            // `w` is real, so |⟨l_1, w⟩| is the same with or without conjugating the row l_1.
            cos_left_readout: w.and_then(|w| abs_cos(&e.left_vector(0)?, w)),
        }
    }
}

impl PcaReport {
    /// The PCA of the search's points set against the readout `w` and the slowest point's top
    /// right eigenvector; `None` with fewer than 2 points.
    fn new(s: &InputSearch, points: &[PointReport], w: Option<&[f64]>) -> Option<Self> {
        let p = s.pca.as_ref()?;
        let pc1 = &p.components[0];
        let pc1c: Vec<_> = pc1.iter().map(|&v| c64::new(v, 0.0)).collect();
        let logits: Vec<f64> = points.iter().filter_map(|p| p.logit).collect();
        Some(PcaReport {
            variance_ratio: p.variance_ratio.iter().take(5).copied().collect(),
            cos_pc1_readout: w.and_then(|w| abs_cos(&pc1c, w)),
            cos_pc1_top_eigenvector: s.slowest.and_then(|i| {
                let v = s.points[i].eigen.right_vector(0)?;
                abs_cos(&v, pc1)
            }),
            logit_range: (!logits.is_empty()).then(|| {
                (
                    logits.iter().copied().fold(f64::INFINITY, f64::min),
                    logits.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                )
            }),
        })
    }
}

impl InputReport {
    /// The report of a search at one input: every point with its readout logit or class and
    /// alignment, the PCA of the points.
    pub fn new(s: &InputSearch, cell: &Cell, readout: &Readout, traj: &Trajectories) -> Self {
        let w = readout.direction(cell.state_dim());
        let points: Vec<PointReport> = s
            .points
            .iter()
            .map(|p| PointReport::new(cell, p, readout, w.as_deref(), traj))
            .collect();
        let pca = PcaReport::new(s, &points, w.as_deref());
        InputReport {
            input: s.input.clone(),
            input_norm: s.input_norm,
            starts: s.search.starts,
            dropped_large_q: s.search.dropped_large_q,
            duplicates: s.search.duplicates,
            non_finite: s.search.non_finite,
            q_of_starts_median: s.q_of_starts_median(),
            q_of_starts_max: s.q_of_starts_max(),
            points,
            line_attractor_point: s.slowest,
            line_attractor_spectrum: s.slowest_spectrum(),
            pca,
        }
    }
}

/// The fixed points at input `x` from `starts` ([`search_input`]) and their report
/// ([`InputReport::new`]); also returns the points' states.
pub fn analyse_input(
    name: &str,
    cell: &Cell,
    x: &[f64],
    starts: &[Vec<f64>],
    options: &FixedPointOptions,
    readout: &Readout,
    traj: &Trajectories,
) -> Result<(InputReport, Vec<Vec<f64>>)> {
    let s = search_input(name, cell, x, starts, options)?;
    Ok((InputReport::new(&s, cell, readout, traj), s.states()))
}
