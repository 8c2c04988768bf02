//! Spectrum of the Koopman operator (Sec. 3.4): `C = V Λ U`, `U = V⁻¹`, memory horizons (Eq. 9)
//! and residuals of eigenpairs.

use crate::error::{KoopmanError, Result};
use crate::fit::KoopmanModel;
use faer::linalg::solvers::Solve;
use faer::{Mat, MatRef, c64};
use serde::{Deserialize, Serialize};

/// Stability class of an eigenvalue (Sec. 3.4, memory horizon).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stability {
    /// `|λ| < 1`: the mode decays; finite memory.
    Decaying,
    /// `|λ| = 1` within tolerance: the mode rotates on the unit circle; infinite memory.
    Marginal,
    /// `|λ| > 1`: the mode grows without bound (unstable).
    Unstable,
}

/// Memory horizon `τ_j(ε)` of one eigenvalue (Eq. 9).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MemoryHorizon {
    /// `log ε / log |λ|`; `None` means infinite (marginal or unstable modes).
    pub tau: Option<f64>,
    /// Stability class.
    pub stability: Stability,
}

/// Memory horizon `τ(ε) = log(ε) / log(|λ|)` (Eq. 9). `|λ|` within `tol` of 1 gives infinite
/// memory ([`Stability::Marginal`]); `|λ| > 1 + tol` is flagged [`Stability::Unstable`] (also
/// infinite); `λ = 0` gives `τ = 0`. `ε` must lie in (0, 1).
pub fn memory_horizon(lambda: c64, eps: f64, tol: f64) -> Result<MemoryHorizon> {
    if !(eps > 0.0 && eps < 1.0) {
        return Err(KoopmanError::InvalidParameter(format!(
            "memory-horizon threshold eps = {eps} is not in (0, 1)"
        )));
    }
    let m = lambda.norm();
    Ok(if (m - 1.0).abs() <= tol {
        MemoryHorizon {
            tau: None,
            stability: Stability::Marginal,
        }
    } else if m > 1.0 {
        MemoryHorizon {
            tau: None,
            stability: Stability::Unstable,
        }
    } else if m == 0.0 {
        MemoryHorizon {
            tau: Some(0.0),
            stability: Stability::Decaying,
        }
    } else {
        MemoryHorizon {
            tau: Some(eps.ln() / m.ln()),
            stability: Stability::Decaying,
        }
    })
}

/// Default limit on the condition number of `V` above which `U = V⁻¹` is refused.
pub const DEFAULT_V_CONDITION_LIMIT: f64 = 1e12;

/// Eigen-decomposition `C = V Λ U` of the Koopman operator, sorted by modulus (descending), with
/// complex-conjugate pairs adjacent (positive imaginary part first).
#[derive(Debug, Clone)]
pub struct Spectrum {
    /// Eigenvalues `λ_j`.
    pub eigenvalues: Vec<c64>,
    /// Right eigenvectors `V` (`r × r`, unit-norm columns `v_j`, `C v_j = λ_j v_j`); conjugate
    /// pairs have exactly conjugate columns.
    pub v: Mat<c64>,
    /// `U = V⁻¹`; its rows are the Koopman eigenvectors `u_j`.
    pub u: Mat<c64>,
    /// Condition number of `V` in the 1-norm, `‖V‖₁‖U‖₁` (within a factor `r` of the 2-norm
    /// one; infinite or NaN when `V` is singular).
    pub v_condition: f64,
    /// Residual of every eigenpair on the data, `‖(Y~ − λ X~) v‖ / ‖X~ v‖` (residual DMD).
    pub residuals: Vec<f64>,
}

impl Spectrum {
    /// Eigen-decomposes `model`'s operator with the default condition limit on `V`.
    pub fn new(model: &KoopmanModel) -> Result<Self> {
        Self::with_condition_limit(model, DEFAULT_V_CONDITION_LIMIT)
    }

    /// Eigen-decomposes `model`'s operator; an error if `cond₁(V) > limit` (or `V` is singular).
    pub fn with_condition_limit(model: &KoopmanModel, limit: f64) -> Result<Self> {
        let c = &model.koopman_operator;
        let r = c.nrows();
        let evd = c
            .eigen()
            .map_err(|e| KoopmanError::LinearAlgebra(format!("eigensolver on C: {e:?}")))?;
        let vals: Vec<c64> = evd.S().column_vector().iter().copied().collect();
        let vecs = evd.U();
        let order = sort_order(&vals);
        let mut eigenvalues = Vec::with_capacity(r);
        let mut v = Mat::<c64>::zeros(r, r);
        let mut j = 0;
        while j < r {
            let (idx, is_pair) = order[j];
            let lam = vals[idx];
            let mut norm = 0.0;
            for i in 0..r {
                norm += vecs[(i, idx)].norm_sqr();
            }
            let norm = norm.sqrt().max(f64::MIN_POSITIVE);
            if is_pair {
                let lam = c64::new(lam.re, lam.im.abs());
                // If the solver's vector belongs to the conjugate, conjugate it.
                let conj_needed = vals[idx].im < 0.0;
                for i in 0..r {
                    let mut x = vecs[(i, idx)] / norm;
                    if conj_needed {
                        x = x.conj();
                    }
                    v[(i, j)] = x;
                    v[(i, j + 1)] = x.conj();
                }
                eigenvalues.push(lam);
                eigenvalues.push(lam.conj());
                j += 2;
            } else {
                for i in 0..r {
                    v[(i, j)] = c64::new(vecs[(i, idx)].re / norm, 0.0);
                }
                eigenvalues.push(c64::new(lam.re, 0.0));
                j += 1;
            }
        }
        let u = v
            .partial_piv_lu()
            .solve(Mat::<c64>::identity(r, r).as_ref());
        let v_condition = norm_1(&v) * norm_1(&u);
        if v_condition.is_nan() || v_condition > limit {
            return Err(KoopmanError::IllConditionedEigenvectors {
                condition: v_condition,
                limit,
            });
        }
        let residuals = eigen_residuals(model, &eigenvalues, &v);
        Ok(Spectrum {
            eigenvalues,
            v,
            u,
            v_condition,
            residuals,
        })
    }

    /// Number of eigenpairs `r`.
    pub fn len(&self) -> usize {
        self.eigenvalues.len()
    }

    /// True if there is no eigenpair.
    pub fn is_empty(&self) -> bool {
        self.eigenvalues.is_empty()
    }

    /// Memory horizons `τ_j(ε)` of all eigenvalues (Eq. 9).
    pub fn memory_horizons(&self, eps: f64, tol: f64) -> Result<Vec<MemoryHorizon>> {
        self.eigenvalues
            .iter()
            .map(|&l| memory_horizon(l, eps, tol))
            .collect()
    }

    /// The eigen-groups (0-based): each real eigenvector alone, each complex-conjugate pair
    /// together, in spectrum order. The paper's `U_12` is the first group when `λ_1, λ_2` are a
    /// pair; a group closed under conjugation has a real projection (Eq. 11).
    pub fn groups(&self) -> Vec<Vec<usize>> {
        let mut out = Vec::new();
        let mut j = 0;
        while j < self.len() {
            match self.partner(j) {
                Some(p) if p == j + 1 => {
                    out.push(vec![j, j + 1]);
                    j += 2;
                }
                _ => {
                    out.push(vec![j]);
                    j += 1;
                }
            }
        }
        out
    }

    /// Index of the conjugate partner of eigenvalue `j` (`None` for a real eigenvalue).
    pub fn partner(&self, j: usize) -> Option<usize> {
        let l = self.eigenvalues[j];
        if l.im > 0.0 {
            Some(j + 1)
        } else if l.im < 0.0 {
            Some(j - 1)
        } else {
            None
        }
    }
}

/// Maximum absolute column sum.
fn norm_1(m: &Mat<c64>) -> f64 {
    (0..m.ncols())
        .map(|j| (0..m.nrows()).map(|i| m[(i, j)].norm()).sum::<f64>())
        .fold(0.0, |a, b| {
            if b.is_nan() || a.is_nan() {
                f64::NAN
            } else {
                a.max(b)
            }
        })
}

/// Order of eigenvalues: groups (real values, conjugate pairs) by modulus descending, ties by
/// argument ascending. Returns `(index into vals, starts a pair)` per output slot.
fn sort_order(vals: &[c64]) -> Vec<(usize, bool)> {
    let n = vals.len();
    let scale = vals
        .iter()
        .map(|v| v.norm())
        .fold(0.0f64, f64::max)
        .max(1.0);
    let tol = 1e-12 * scale;
    let mut used = vec![false; n];
    let mut groups: Vec<(usize, bool)> = Vec::new();
    for i in 0..n {
        if used[i] {
            continue;
        }
        used[i] = true;
        if vals[i].im.abs() <= tol {
            groups.push((i, false));
            continue;
        }
        // find the closest unused conjugate
        let target = vals[i].conj();
        let partner = (0..n)
            .filter(|&j| !used[j] && vals[j].im.signum() != vals[i].im.signum())
            .min_by(|&a, &b| {
                (vals[a] - target)
                    .norm()
                    .total_cmp(&(vals[b] - target).norm())
            });
        if let Some(p) = partner {
            used[p] = true;
        }
        groups.push((i, true));
    }
    groups.sort_by(|&(a, _), &(b, _)| {
        let (la, lb) = (vals[a], vals[b]);
        lb.norm().total_cmp(&la.norm()).then(
            la.im
                .abs()
                .atan2(la.re)
                .total_cmp(&lb.im.abs().atan2(lb.re)),
        )
    });
    let mut out = Vec::with_capacity(n);
    for (i, pair) in groups {
        out.push((i, pair));
        if pair {
            out.push((i, pair));
        }
    }
    out.truncate(n);
    out
}

/// Residual DMD (Colbrook & Townsend 2023) in coefficient space, from the Grams:
/// `‖(Y~ − λX~)v‖² = vᴴA1v − λ vᴴA01ᵀv − λ̄ vᴴA01v + |λ|² vᴴA0v`, divided by `vᴴA0v`.
fn eigen_residuals(model: &KoopmanModel, lambdas: &[c64], v: &Mat<c64>) -> Vec<f64> {
    let g = &model.coefficient_grams;
    let r = v.nrows();
    let v_re = Mat::<f64>::from_fn(r, r, |i, j| v[(i, j)].re);
    let v_im = Mat::<f64>::from_fn(r, r, |i, j| v[(i, j)].im);
    // M V for the four real matrices, as (re, im) pairs.
    let times = |m: MatRef<'_, f64>| (m * v_re.as_ref(), m * v_im.as_ref());
    let (a0_re, a0_im) = times(g.a0.as_ref());
    let (a1_re, a1_im) = times(g.a1.as_ref());
    let (b_re, b_im) = times(g.a01.as_ref());
    let (bt_re, bt_im) = times(g.a01.transpose());
    // vᴴ (M v) for column j.
    let vh = |j: usize, re: &Mat<f64>, im: &Mat<f64>| {
        let mut acc = c64::new(0.0, 0.0);
        for i in 0..r {
            acc += v[(i, j)].conj() * c64::new(re[(i, j)], im[(i, j)]);
        }
        acc
    };
    lambdas
        .iter()
        .enumerate()
        .map(|(j, &l)| {
            let x2 = vh(j, &a0_re, &a0_im).re;
            let num =
                vh(j, &a1_re, &a1_im) - l * vh(j, &bt_re, &bt_im) - l.conj() * vh(j, &b_re, &b_im)
                    + vh(j, &a0_re, &a0_im) * l.norm_sqr();
            if x2 <= 0.0 {
                f64::INFINITY
            } else {
                (num.re.max(0.0) / x2).sqrt()
            }
        })
        .collect()
}
