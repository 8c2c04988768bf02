//! Spectrum of the Koopman operator (Sec. 3.4): `C = V Λ U`, `U = V⁻¹`, memory horizons (Eq. 9)
//! and residuals of eigenpairs.

use crate::error::{KoopmanError, Result};
use crate::fit::KoopmanModel;
use faer::linalg::solvers::Solve;
use faer::{Mat, c64};
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
    /// 2-norm condition number of `V`.
    pub v_condition: f64,
    /// Residual of every eigenpair on the data, `‖(Y~ − λ X~) v‖ / ‖X~ v‖` (residual DMD).
    pub residuals: Vec<f64>,
}

impl Spectrum {
    /// Eigen-decomposes `model`'s operator with the default condition limit on `V`.
    pub fn new(model: &KoopmanModel) -> Result<Self> {
        Self::with_condition_limit(model, DEFAULT_V_CONDITION_LIMIT)
    }

    /// Eigen-decomposes `model`'s operator; an error if `cond(V) > limit`.
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
        let svals = v
            .singular_values()
            .map_err(|e| KoopmanError::LinearAlgebra(format!("SVD of V: {e:?}")))?;
        let v_condition = match (svals.first(), svals.last()) {
            (Some(&a), Some(&b)) if b > 0.0 => a / b,
            _ => f64::INFINITY,
        };
        if !(v_condition <= limit) {
            return Err(KoopmanError::IllConditionedEigenvectors {
                condition: v_condition,
                limit,
            });
        }
        let u = v.partial_piv_lu().solve(Mat::<c64>::identity(r, r).as_ref());
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

/// Order of eigenvalues: groups (real values, conjugate pairs) by modulus descending, ties by
/// argument ascending. Returns `(index into vals, starts a pair)` per output slot.
fn sort_order(vals: &[c64]) -> Vec<(usize, bool)> {
    let n = vals.len();
    let scale = vals.iter().map(|v| v.norm()).fold(0.0f64, f64::max).max(1.0);
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
        lb.norm()
            .total_cmp(&la.norm())
            .then(la.im.abs().atan2(la.re).total_cmp(&lb.im.abs().atan2(lb.re)))
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

/// `v^H M v` for real `M`.
fn quad(m: &Mat<f64>, v: &[c64]) -> c64 {
    let r = v.len();
    let mut acc = c64::new(0.0, 0.0);
    for i in 0..r {
        let mut mv = c64::new(0.0, 0.0);
        for j in 0..r {
            mv += v[j] * m[(i, j)];
        }
        acc += v[i].conj() * mv;
    }
    acc
}

/// `v^H Mᵀ v` for real `M`.
fn quad_t(m: &Mat<f64>, v: &[c64]) -> c64 {
    let r = v.len();
    let mut acc = c64::new(0.0, 0.0);
    for i in 0..r {
        let mut mv = c64::new(0.0, 0.0);
        for j in 0..r {
            mv += v[j] * m[(j, i)];
        }
        acc += v[i].conj() * mv;
    }
    acc
}

/// Residual DMD (Colbrook & Townsend 2023) in coefficient space, from the Grams:
/// `‖(Y~ − λX~)v‖² = vᴴA1v − λ vᴴA01ᵀv − λ̄ vᴴA01v + |λ|² vᴴA0v`, divided by `vᴴA0v`.
fn eigen_residuals(model: &KoopmanModel, lambdas: &[c64], v: &Mat<c64>) -> Vec<f64> {
    let g = &model.coefficient_grams;
    let r = v.nrows();
    lambdas
        .iter()
        .enumerate()
        .map(|(j, &l)| {
            let vj: Vec<c64> = (0..r).map(|i| v[(i, j)]).collect();
            let x2 = quad(&g.a0, &vj).re;
            let num = quad(&g.a1, &vj) - l * quad_t(&g.a01, &vj) - l.conj() * quad(&g.a01, &vj)
                + quad(&g.a0, &vj) * l.norm_sqr();
            if x2 <= 0.0 {
                f64::INFINITY
            } else {
                (num.re.max(0.0) / x2).sqrt()
            }
        })
        .collect()
}
