//! Approximate fixed points `s* ≈ F(s*, x)` of a cell at a constant input (Sussillo & Barak
//! 2013), found as in Golub & Sussillo's FixedPointFinder: minimise
//!
//! `q(s) = ½ |F(s, x) − s|²`
//!
//! from many starting states (sampled along real trajectories), then keep the minima with small
//! `q` and drop duplicates.
//!
//! Each start is minimised with Levenberg–Marquardt steps on the residual `ρ(s) = F(s) − s`,
//! whose Jacobian is `J − I` in closed form ([`crate::Cell::map_and_jacobian`]):
//!
//! `(Aᵀ A + μ I) δ = −Aᵀ ρ`, `A = J(s) − I`,
//!
//! accepted when it lowers `q` (then `μ ← μ/3`), otherwise retried with `μ ← 10 μ`. Near a
//! fixed point with `J − I` invertible this is Newton's method (quadratic convergence); near a
//! line attractor (`J` with an eigenvalue ≈ 1, `A` nearly singular) the damping keeps the step
//! from running along the line. Minima with `q > 0` are slow points, not fixed points; their `q`
//! is reported with every point.

use faer::linalg::solvers::Solve;
use faer::{Mat, Side};
use serde::{Deserialize, Serialize};

use crate::cell::Cell;
use crate::error::{DynamicsError, Result};

/// An autonomous map `s ↦ F(s)` with its Jacobian: what the fixed-point search needs.
pub trait StateMap {
    /// Width `n` of the state.
    fn dim(&self) -> usize;
    /// `F(s)` (`s` has length [`StateMap::dim`]).
    fn apply(&self, s: &[f64]) -> Vec<f64>;
    /// `F(s)` and `J = ∂F/∂s` (`n × n`, `J[r, j] = ∂F_r/∂s_j`).
    fn apply_with_jacobian(&self, s: &[f64]) -> (Vec<f64>, Mat<f64>);
}

/// A cell at a constant input: `F(·, x)` with `x̃ = x W_x + b_x` fixed.
#[derive(Debug, Clone, Copy)]
pub struct CellAtInput<'a> {
    cell: &'a Cell,
    xp: &'a [f64],
}

impl<'a> CellAtInput<'a> {
    /// `F(·, x̃)`; an error if `xp` does not have the width `G·H` of the cell's gates.
    pub fn new(cell: &'a Cell, xp: &'a [f64]) -> Result<Self> {
        cell.map(&vec![0.0; cell.state_dim()], xp)?;
        Ok(CellAtInput { cell, xp })
    }
}

impl StateMap for CellAtInput<'_> {
    fn dim(&self) -> usize {
        self.cell.state_dim()
    }
    fn apply(&self, s: &[f64]) -> Vec<f64> {
        self.cell.step(s, self.xp)
    }
    fn apply_with_jacobian(&self, s: &[f64]) -> (Vec<f64>, Mat<f64>) {
        self.cell.step_jacobian(s, self.xp)
    }
}

/// The affine map `F(s) = A s + b` (a linear RNN): fixed points solve `(I − A) s = b`, and
/// `J = A` everywhere.
#[derive(Debug, Clone)]
pub struct AffineMap {
    a: Mat<f64>,
    b: Vec<f64>,
}

impl AffineMap {
    /// `F(s) = A s + b`; an error unless `A` is `n × n` with `n = b.len() ≥ 1`, all finite.
    pub fn new(a: Mat<f64>, b: Vec<f64>) -> Result<Self> {
        let n = b.len();
        if n == 0 || a.nrows() != n || a.ncols() != n {
            return Err(DynamicsError::InvalidParameter(format!(
                "affine map: A is {}×{}, b has {n} entries (need n×n, n ≥ 1)",
                a.nrows(),
                a.ncols()
            )));
        }
        if b.iter().any(|x| !x.is_finite())
            || (0..n).any(|i| (0..n).any(|j| !a[(i, j)].is_finite()))
        {
            return Err(DynamicsError::NonFinite("affine map"));
        }
        Ok(AffineMap { a, b })
    }

    /// `A`.
    pub fn a(&self) -> &Mat<f64> {
        &self.a
    }

    /// `b`.
    pub fn b(&self) -> &[f64] {
        &self.b
    }
}

impl StateMap for AffineMap {
    fn dim(&self) -> usize {
        self.b.len()
    }
    fn apply(&self, s: &[f64]) -> Vec<f64> {
        (0..self.b.len())
            .map(|i| self.b[i] + (0..s.len()).map(|j| self.a[(i, j)] * s[j]).sum::<f64>())
            .collect()
    }
    fn apply_with_jacobian(&self, s: &[f64]) -> (Vec<f64>, Mat<f64>) {
        (self.apply(s), self.a.clone())
    }
}

/// Settings of [`find_fixed_points`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FixedPointOptions {
    /// Levenberg–Marquardt iterations per start, at most.
    pub max_iter: usize,
    /// A start stops once `q ≤ q_tol` (converged).
    pub q_tol: f64,
    /// Minima with `q > max_q` are dropped (FixedPointFinder's `tol_q`).
    pub max_q: f64,
    /// Two minima closer than this (Euclidean) are one fixed point (FixedPointFinder's
    /// `tol_unique`); the one with the smaller `q` is kept.
    pub unique_tol: f64,
    /// Initial damping `μ`.
    pub initial_damping: f64,
}

impl Default for FixedPointOptions {
    fn default() -> Self {
        FixedPointOptions {
            max_iter: 100,
            q_tol: 1e-24,
            max_q: 1e-10,
            unique_tol: 1e-3,
            initial_damping: 1e-3,
        }
    }
}

impl FixedPointOptions {
    /// Checks every setting's range.
    pub fn check(&self) -> Result<()> {
        let bad = |name: &str, v: f64, range: &str| {
            Err(DynamicsError::InvalidParameter(format!(
                "{name} = {v}: must be {range}"
            )))
        };
        if self.max_iter == 0 {
            return bad("max_iter", 0.0, "at least 1");
        }
        for (name, v) in [
            ("q_tol", self.q_tol),
            ("max_q", self.max_q),
            ("unique_tol", self.unique_tol),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(name, v, "a finite number ≥ 0");
            }
        }
        if !(self.initial_damping.is_finite() && self.initial_damping > 0.0) {
            return bad(
                "initial_damping",
                self.initial_damping,
                "a finite number > 0",
            );
        }
        Ok(())
    }
}

/// One minimum of `q`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixedPoint {
    /// The state `s*`.
    pub state: Vec<f64>,
    /// `q(s*) = ½|F(s*) − s*|²`.
    pub q: f64,
    /// Iterations used.
    pub iterations: usize,
    /// Index of the start it was found from (the first, for a merged point).
    pub start: usize,
    /// How many starts ended at this point (after merging duplicates).
    pub starts_merged: usize,
    /// Distance from its start, `|s* − s_0|`.
    pub distance_from_start: f64,
}

/// The result of a search: the kept fixed points by ascending `q`, and what was dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixedPointSearch {
    /// Unique minima with `q ≤ max_q`, by ascending `q`.
    pub points: Vec<FixedPoint>,
    /// Number of starts.
    pub starts: usize,
    /// Final `q` of every start (in start order).
    pub q_of_starts: Vec<f64>,
    /// Starts whose minimum had `q > max_q`.
    pub dropped_large_q: usize,
    /// Minima within `unique_tol` of a kept one (merged into it).
    pub duplicates: usize,
    /// Starts that produced a non-finite state (dropped).
    pub non_finite: usize,
}

/// `½|v|²`.
fn half_sq(v: &[f64]) -> f64 {
    0.5 * v.iter().map(|x| x * x).sum::<f64>()
}

/// Minimises `q(s) = ½|F(s) − s|²` from `start` with Levenberg–Marquardt steps (module docs).
pub fn minimise_q(
    map: &impl StateMap,
    start: &[f64],
    options: &FixedPointOptions,
) -> Result<FixedPoint> {
    options.check()?;
    let n = map.dim();
    if start.len() != n {
        return Err(DynamicsError::Shape {
            what: "starting state",
            expected: n,
            got: start.len(),
        });
    }
    if start.iter().any(|x| !x.is_finite()) {
        return Err(DynamicsError::NonFinite("starting state"));
    }
    let mut s = start.to_vec();
    let (mut f, mut jac) = map.apply_with_jacobian(&s);
    let mut rho: Vec<f64> = f.iter().zip(&s).map(|(a, b)| a - b).collect();
    let mut q = half_sq(&rho);
    let mut mu = options.initial_damping;
    let mut iterations = 0;
    while iterations < options.max_iter && q > options.q_tol && q.is_finite() {
        iterations += 1;
        // A = J − I; normal equations of the damped Gauss–Newton step.
        for i in 0..n {
            jac[(i, i)] -= 1.0;
        }
        let ata = jac.transpose() * jac.as_ref();
        let rho_col = Mat::<f64>::from_fn(n, 1, |i, _| rho[i]);
        let atr = jac.transpose() * rho_col.as_ref();
        let mut accepted = false;
        while mu < 1e12 {
            let mut lhs = ata.clone();
            for i in 0..n {
                lhs[(i, i)] += mu;
            }
            let delta = match lhs.llt(Side::Lower) {
                Ok(llt) => llt.solve(atr.as_ref()),
                Err(_) => lhs.partial_piv_lu().solve(atr.as_ref()),
            };
            let trial: Vec<f64> = (0..n).map(|i| s[i] - delta[(i, 0)]).collect();
            let f_trial = map.apply(&trial);
            let rho_trial: Vec<f64> = f_trial.iter().zip(&trial).map(|(a, b)| a - b).collect();
            let q_trial = half_sq(&rho_trial);
            if q_trial.is_finite() && q_trial < q {
                s = trial;
                q = q_trial;
                mu = (mu / 3.0).max(1e-15);
                accepted = true;
                break;
            }
            mu *= 10.0;
        }
        if !accepted {
            break;
        }
        (f, jac) = map.apply_with_jacobian(&s);
        rho = f.iter().zip(&s).map(|(a, b)| a - b).collect();
        q = half_sq(&rho);
    }
    let distance_from_start = s
        .iter()
        .zip(start)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt();
    Ok(FixedPoint {
        state: s,
        q,
        iterations,
        start: 0,
        starts_merged: 1,
        distance_from_start,
    })
}

/// Runs [`minimise_q`] from every start, drops minima with `q > max_q` (and non-finite ones),
/// and merges minima within `unique_tol` of each other, keeping the smaller `q`.
pub fn find_fixed_points(
    map: &impl StateMap,
    starts: &[Vec<f64>],
    options: &FixedPointOptions,
) -> Result<FixedPointSearch> {
    options.check()?;
    if starts.is_empty() {
        return Err(DynamicsError::NotEnoughData(
            "no starting states for the fixed-point search".into(),
        ));
    }
    let mut found = Vec::with_capacity(starts.len());
    let mut q_of_starts = Vec::with_capacity(starts.len());
    for (i, s0) in starts.iter().enumerate() {
        let mut p = minimise_q(map, s0, options)?;
        p.start = i;
        q_of_starts.push(p.q);
        found.push(p);
    }
    let non_finite = found
        .iter()
        .filter(|p| !p.q.is_finite() || p.state.iter().any(|x| !x.is_finite()))
        .count();
    let mut ok: Vec<FixedPoint> = found
        .into_iter()
        .filter(|p| p.q.is_finite() && p.state.iter().all(|x| x.is_finite()))
        .collect();
    let before = ok.len();
    ok.retain(|p| p.q <= options.max_q);
    let dropped_large_q = before - ok.len();
    ok.sort_by(|a, b| a.q.total_cmp(&b.q).then(a.start.cmp(&b.start)));
    let mut points: Vec<FixedPoint> = Vec::new();
    let mut duplicates = 0;
    for p in ok {
        let close = points.iter_mut().find(|k| {
            k.state
                .iter()
                .zip(&p.state)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
                <= options.unique_tol
        });
        match close {
            Some(k) => {
                k.starts_merged += 1;
                duplicates += 1;
            }
            None => points.push(p),
        }
    }
    Ok(FixedPointSearch {
        points,
        starts: starts.len(),
        q_of_starts,
        dropped_large_q,
        duplicates,
        non_finite,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::CellKind;

    /// A 1-D tanh map `h' = tanh(w h + b)`: with `w = 2, b = 0` its fixed points are `0`
    /// (unstable, `J = 2`) and `±h*` with `h* = tanh(2 h*)` ≈ 0.957 (stable,
    /// `J = 2 (1 − h*²)` ≈ 0.1664). All three are found from starts on both sides, each once.
    #[test]
    fn one_dimensional_tanh_map_has_its_three_fixed_points() {
        let c = Cell::new(
            CellKind::Rnn,
            1,
            1,
            vec![0.0],
            vec![0.0],
            vec![2.0],
            vec![0.0],
        )
        .unwrap();
        let xp = c.project_input(&[0.0]).unwrap();
        let map = CellAtInput::new(&c, &xp).unwrap();
        // h* by bisection on tanh(2h) − h over (0.5, 1).
        let (mut lo, mut hi) = (0.5f64, 1.0f64);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if (2.0 * mid).tanh() - mid > 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let hstar = 0.5 * (lo + hi);
        let starts: Vec<Vec<f64>> = [-2.0, -0.9, -0.3, 0.05, 0.2, 0.7, 1.5]
            .iter()
            .map(|&v| vec![v])
            .collect();
        let search = find_fixed_points(&map, &starts, &FixedPointOptions::default()).unwrap();
        let mut found: Vec<f64> = search.points.iter().map(|p| p.state[0]).collect();
        found.sort_by(f64::total_cmp);
        assert_eq!(found.len(), 3, "{search:?}");
        assert!((found[0] + hstar).abs() < 1e-10);
        assert!(found[1].abs() < 1e-10);
        assert!((found[2] - hstar).abs() < 1e-10);
        assert_eq!(search.duplicates, starts.len() - 3);
        for p in &search.points {
            assert!(p.q < 1e-20, "q = {}", p.q);
            let j = c.jacobian_state(&p.state, &xp).unwrap()[(0, 0)];
            let want = 2.0 * (1.0 - p.state[0] * p.state[0]);
            assert!((j - want).abs() < 1e-12);
        }
        let j0 = c.jacobian_state(&[0.0], &xp).unwrap()[(0, 0)];
        assert!((j0 - 2.0).abs() < 1e-15);
        assert!((2.0 * (1.0 - hstar * hstar) - 0.1664).abs() < 5e-4);
    }

    /// A linear RNN `s' = A s + b` with `A` invertible-minus-identity has the single fixed
    /// point `(I − A)⁻¹ b`, found from every start (merged into one).
    #[test]
    fn linear_rnn_has_its_unique_fixed_point() {
        let a = Mat::<f64>::from_fn(3, 3, |i, j| {
            [[0.5, 0.2, 0.0], [-0.3, 0.8, 0.1], [0.0, 0.4, -0.6]][i][j]
        });
        let map = AffineMap::new(a.clone(), vec![1.0, -2.0, 0.5]).unwrap();
        let starts = vec![vec![0.0; 3], vec![10.0, -5.0, 3.0], vec![-1.0, 1.0, 7.0]];
        let s = find_fixed_points(&map, &starts, &FixedPointOptions::default()).unwrap();
        assert_eq!(s.points.len(), 1, "{s:?}");
        assert_eq!(s.points[0].starts_merged, 3);
        let h = &s.points[0].state;
        // (I − A) h = b
        for i in 0..3 {
            let lhs = h[i] - (0..3).map(|j| a[(i, j)] * h[j]).sum::<f64>();
            assert!((lhs - map.b()[i]).abs() < 1e-12, "row {i}: {lhs}");
        }
        assert!(s.points[0].q < 1e-24);
    }

    /// A linear RNN with a line attractor: `A = diag(1, 0.5)`, `b = (0, 1)` leaves every
    /// `(a, 2)` fixed. Each start ends on the line at its own first coordinate (the damped step
    /// does not move along the line, where `q` is flat), so the fixed points are distinct.
    #[test]
    fn linear_rnn_line_attractor_gives_a_line_of_fixed_points() {
        let a = Mat::<f64>::from_fn(2, 2, |i, j| if i == j { [1.0, 0.5][i] } else { 0.0 });
        let map = AffineMap::new(a, vec![0.0, 1.0]).unwrap();
        assert!(AffineMap::new(Mat::zeros(2, 3), vec![0.0, 1.0]).is_err());
        assert!(AffineMap::new(Mat::zeros(2, 2), vec![0.0, f64::NAN]).is_err());
        let starts: Vec<Vec<f64>> = (0..5)
            .map(|k| vec![k as f64 - 2.0, 5.0 - k as f64])
            .collect();
        let s = find_fixed_points(&map, &starts, &FixedPointOptions::default()).unwrap();
        assert_eq!(s.points.len(), 5, "{s:?}");
        for p in &s.points {
            assert!((p.state[1] - 2.0).abs() < 1e-10);
            let start = &starts[p.start];
            assert!((p.state[0] - start[0]).abs() < 1e-10);
        }
    }

    /// A diagonal tanh RNN: each unit has its own fixed point `h_i = tanh(w_i h_i + b_i)`
    /// (a contraction, so one), and the Jacobian there is `diag((1 − h_i²) w_i)`.
    #[test]
    fn diagonal_rnn_fixed_point_and_jacobian() {
        let c = Cell::new(
            CellKind::Rnn,
            1,
            2,
            vec![0.0, 0.0],
            vec![0.3, -0.2],
            vec![0.5, 0.0, 0.0, -0.25],
            vec![0.0, 0.0],
        )
        .unwrap();
        let xp = c.project_input(&[0.0]).unwrap();
        let map = CellAtInput::new(&c, &xp).unwrap();
        let starts = vec![vec![1.0, 1.0], vec![-1.0, 0.5], vec![0.0, 0.0]];
        let s = find_fixed_points(&map, &starts, &FixedPointOptions::default()).unwrap();
        assert_eq!(
            s.points.len(),
            1,
            "a contraction has one fixed point: {s:?}"
        );
        let h = &s.points[0].state;
        for (i, (w, b)) in [(0.5, 0.3), (-0.25, -0.2)].into_iter().enumerate() {
            assert!((h[i] - (w * h[i] + b).tanh()).abs() < 1e-12);
        }
        let j = c.jacobian_state(h, &xp).unwrap();
        assert!((j[(0, 0)] - 0.5 * (1.0 - h[0] * h[0])).abs() < 1e-14);
        assert!((j[(1, 1)] + 0.25 * (1.0 - h[1] * h[1])).abs() < 1e-14);
        assert_eq!(j[(0, 1)], 0.0);
        assert_eq!(s.points[0].starts_merged, 3);
    }

    #[test]
    fn large_q_minima_are_dropped_and_bad_input_refused() {
        let c = Cell::new(
            CellKind::Rnn,
            1,
            1,
            vec![0.0],
            vec![0.0],
            vec![2.0],
            vec![0.0],
        )
        .unwrap();
        let xp = c.project_input(&[0.0]).unwrap();
        let map = CellAtInput::new(&c, &xp).unwrap();
        let opts = FixedPointOptions {
            max_iter: 1,
            max_q: 1e-30,
            ..Default::default()
        };
        let s = find_fixed_points(&map, &[vec![3.0]], &opts).unwrap();
        assert!(s.points.is_empty());
        assert_eq!(s.dropped_large_q, 1);
        assert!(s.q_of_starts[0] > 1e-30);
        let bad = FixedPointOptions {
            max_q: f64::NAN,
            ..Default::default()
        };
        assert!(find_fixed_points(&map, &[vec![0.0]], &bad).is_err());
        assert!(find_fixed_points(&map, &[], &FixedPointOptions::default()).is_err());
        assert!(find_fixed_points(&map, &[vec![0.0, 1.0]], &FixedPointOptions::default()).is_err());
        assert!(find_fixed_points(&map, &[vec![f64::NAN]], &FixedPointOptions::default()).is_err());
        assert!(CellAtInput::new(&c, &[0.0, 0.0]).is_err());
    }
}
