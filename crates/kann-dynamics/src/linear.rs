//! Linear analysis around fixed points: the spectrum of the Jacobian, the alignment of an
//! eigenvector with a readout, PCA of a set of fixed points, and the first-order Taylor model of
//! the cell used for one-step prediction.

use faer::linalg::solvers::Solve;
use faer::{Mat, MatRef, c64};
use serde::{Deserialize, Serialize};

use crate::cell::Cell;
use crate::error::{DynamicsError, Result};

/// Eigen-decomposition `J = V Λ V⁻¹` of a real square matrix, sorted by modulus (descending;
/// ties: positive imaginary part first).
#[derive(Debug, Clone)]
pub struct Eigen {
    /// Eigenvalues `λ_j`.
    pub values: Vec<c64>,
    /// Right eigenvectors (unit-norm columns `v_j`, `J v_j = λ_j v_j`).
    pub right: Mat<c64>,
    /// Left eigenvectors: the rows `l_j` of `V⁻¹` (`l_j J = λ_j l_j`, `l_j v_k = δ_jk`); `None`
    /// when `V` is singular to working precision.
    pub left: Option<Mat<c64>>,
}

impl Eigen {
    /// Right eigenvector `v_j` (`None` if `j` is out of range).
    pub fn right_vector(&self, j: usize) -> Option<Vec<c64>> {
        (j < self.right.ncols()).then(|| {
            (0..self.right.nrows())
                .map(|i| self.right[(i, j)])
                .collect()
        })
    }

    /// Left eigenvector `l_j`, a row of `V⁻¹` (`None` if `j` is out of range or `V` singular).
    pub fn left_vector(&self, j: usize) -> Option<Vec<c64>> {
        self.left
            .as_ref()
            .filter(|l| j < l.nrows())
            .map(|l| (0..l.ncols()).map(|i| l[(j, i)]).collect())
    }
}

/// The eigen-decomposition of `j` (square, finite), sorted by modulus ([`Eigen`]).
pub fn eigen(j: MatRef<'_, f64>) -> Result<Eigen> {
    let n = j.nrows();
    if n == 0 || j.ncols() != n {
        return Err(DynamicsError::InvalidParameter(format!(
            "eigenvalues of a {}×{} matrix: must be square and non-empty",
            n,
            j.ncols()
        )));
    }
    if (0..n).any(|a| (0..n).any(|b| !j[(a, b)].is_finite())) {
        return Err(DynamicsError::NonFinite("Jacobian"));
    }
    let evd = j
        .eigen()
        .map_err(|e| DynamicsError::LinearAlgebra(format!("eigensolver: {e:?}")))?;
    let vals: Vec<c64> = evd.S().column_vector().iter().copied().collect();
    let vecs = evd.U();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        vals[b]
            .norm()
            .total_cmp(&vals[a].norm())
            .then(vals[b].im.total_cmp(&vals[a].im))
    });
    let mut right = Mat::<c64>::zeros(n, n);
    for (c, &k) in order.iter().enumerate() {
        let norm = (0..n)
            .map(|i| vecs[(i, k)].norm_sqr())
            .sum::<f64>()
            .sqrt()
            .max(f64::MIN_POSITIVE);
        for i in 0..n {
            right[(i, c)] = vecs[(i, k)] / norm;
        }
    }
    let values: Vec<c64> = order.iter().map(|&k| vals[k]).collect();
    let inv = right
        .partial_piv_lu()
        .solve(Mat::<c64>::identity(n, n).as_ref());
    let finite =
        (0..n).all(|a| (0..n).all(|b| inv[(a, b)].re.is_finite() && inv[(a, b)].im.is_finite()));
    Ok(Eigen {
        values,
        right,
        left: finite.then_some(inv),
    })
}

/// `|⟨v, w⟩| / (|v| |w|)` of a complex vector and a real one (the Hermitian inner product): 1
/// when `v` is a complex multiple of `w`, 0 when orthogonal. `None` if either is zero or the
/// lengths differ.
pub fn abs_cos(v: &[c64], w: &[f64]) -> Option<f64> {
    if v.len() != w.len() {
        return None;
    }
    let dot = v
        .iter()
        .zip(w)
        .fold(c64::new(0.0, 0.0), |acc, (a, b)| acc + a.conj() * *b);
    let nv = v.iter().map(|a| a.norm_sqr()).sum::<f64>().sqrt();
    let nw = w.iter().map(|b| b * b).sum::<f64>().sqrt();
    (nv > 0.0 && nw > 0.0).then(|| dot.norm() / (nv * nw))
}

/// Principal components of a set of points (centered).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pca {
    /// The mean point.
    pub mean: Vec<f64>,
    /// Components (unit vectors), by variance descending; at most `min(m − 1, d)` of them.
    pub components: Vec<Vec<f64>>,
    /// Variance along each component (`σ² / (m − 1)`).
    pub variance: Vec<f64>,
    /// Share of the total variance on each component.
    pub variance_ratio: Vec<f64>,
}

/// PCA of `points` (`m ≥ 2` points of one dimension `d`) by the thin SVD of the centered data.
pub fn pca(points: &[Vec<f64>]) -> Result<Pca> {
    let m = points.len();
    if m < 2 {
        return Err(DynamicsError::NotEnoughData(format!(
            "PCA needs at least 2 points, got {m}"
        )));
    }
    let d = points[0].len();
    if d == 0 || points.iter().any(|p| p.len() != d) {
        return Err(DynamicsError::InvalidParameter(
            "PCA: the points must share one non-zero dimension".into(),
        ));
    }
    if points.iter().flatten().any(|x| !x.is_finite()) {
        return Err(DynamicsError::NonFinite("PCA points"));
    }
    let mean: Vec<f64> = (0..d)
        .map(|c| points.iter().map(|p| p[c]).sum::<f64>() / m as f64)
        .collect();
    let centered = Mat::<f64>::from_fn(m, d, |i, c| points[i][c] - mean[c]);
    let svd = centered
        .thin_svd()
        .map_err(|e| DynamicsError::LinearAlgebra(format!("SVD of the points: {e:?}")))?;
    let sv: Vec<f64> = svd.S().column_vector().iter().copied().collect();
    let keep = (m - 1).min(d).min(sv.len());
    let total: f64 = sv.iter().map(|s| s * s).sum();
    let v = svd.V();
    Ok(Pca {
        mean,
        components: (0..keep)
            .map(|k| (0..d).map(|c| v[(c, k)]).collect())
            .collect(),
        variance: sv[..keep].iter().map(|s| s * s / (m - 1) as f64).collect(),
        variance_ratio: sv[..keep]
            .iter()
            .map(|s| if total > 0.0 { s * s / total } else { 0.0 })
            .collect(),
    })
}

/// The first-order Taylor model of a cell around a point `(s*, x̄)` (usually a fixed point at
/// the input `x̄`):
///
/// `F(s, x) ≈ F(s*, x̄) + J (s − s*) + B (x − x̄)`, `J = ∂F/∂s`, `B = ∂F/∂x` at `(s*, x̄)`.
///
/// At an exact fixed point `F(s*, x̄) = s*`; the model keeps `F(s*, x̄)` so that it is the exact
/// first-order expansion at any point (its error is `O(|s − s*|² + |x − x̄|²)`).
#[derive(Debug, Clone)]
pub struct Linearisation {
    point: Vec<f64>,
    image: Vec<f64>,
    input: Vec<f64>,
    jac_state: Mat<f64>,
    jac_input: Mat<f64>,
}

impl Linearisation {
    /// Linearises `cell` at state `point` and input `input` (raw input, width `X`).
    pub fn new(cell: &Cell, point: &[f64], input: &[f64]) -> Result<Self> {
        let xp = cell.project_input(input)?;
        let (image, jac_state) = cell.map_and_jacobian(point, &xp)?;
        let jac_input = cell.jacobian_input(point, &xp)?;
        Ok(Linearisation {
            point: point.to_vec(),
            image,
            input: input.to_vec(),
            jac_state,
            jac_input,
        })
    }

    /// The expansion point `s*`.
    pub fn point(&self) -> &[f64] {
        &self.point
    }

    /// `F(s*, x̄)`.
    pub fn image(&self) -> &[f64] {
        &self.image
    }

    /// The input `x̄`.
    pub fn input(&self) -> &[f64] {
        &self.input
    }

    /// `J = ∂F/∂s` at `(s*, x̄)` (`n × n`).
    pub fn jac_state(&self) -> &Mat<f64> {
        &self.jac_state
    }

    /// `B = ∂F/∂x` at `(s*, x̄)` (`n × X`).
    pub fn jac_input(&self) -> &Mat<f64> {
        &self.jac_input
    }

    /// `F(s*, x̄) + J (s − s*) + B (x − x̄)`.
    pub fn predict(&self, s: &[f64], x: &[f64]) -> Result<Vec<f64>> {
        let mut out = self.predict_autonomous(s)?;
        if x.len() != self.input.len() {
            return Err(DynamicsError::Shape {
                what: "input x",
                expected: self.input.len(),
                got: x.len(),
            });
        }
        for (r, o) in out.iter_mut().enumerate() {
            *o += (0..x.len())
                .map(|m| self.jac_input[(r, m)] * (x[m] - self.input[m]))
                .sum::<f64>();
        }
        Ok(out)
    }

    /// `F(s*, x̄) + J (s − s*)`: the linearisation without the input term (the input held at
    /// `x̄`), which is what the Koopman operator, fitted without inputs, can be compared with.
    pub fn predict_autonomous(&self, s: &[f64]) -> Result<Vec<f64>> {
        let n = self.point.len();
        if s.len() != n {
            return Err(DynamicsError::Shape {
                what: "state s",
                expected: n,
                got: s.len(),
            });
        }
        Ok((0..n)
            .map(|r| {
                self.image[r]
                    + (0..n)
                        .map(|j| self.jac_state[(r, j)] * (s[j] - self.point[j]))
                        .sum::<f64>()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::CellKind;

    #[test]
    fn eigen_of_a_rotation_decay_and_a_diagonal() {
        // [[0.9, -0.2], [0.2, 0.9]]: λ = 0.9 ± 0.2i.
        let j = Mat::<f64>::from_fn(3, 3, |a, b| {
            [[0.9, -0.2, 0.0], [0.2, 0.9, 0.0], [0.0, 0.0, 0.5]][a][b]
        });
        let e = eigen(j.as_ref()).unwrap();
        assert!((e.values[0] - c64::new(0.9, 0.2)).norm() < 1e-12);
        assert!((e.values[1] - c64::new(0.9, -0.2)).norm() < 1e-12);
        assert!((e.values[2] - c64::new(0.5, 0.0)).norm() < 1e-12);
        // J v = λ v and l J = λ l with l v = 1.
        for k in 0..3 {
            let v = e.right_vector(k).unwrap();
            let l = e.left_vector(k).unwrap();
            for a in 0..3 {
                let jv: c64 = (0..3).map(|b| v[b] * j[(a, b)]).sum();
                assert!((jv - e.values[k] * v[a]).norm() < 1e-12);
                let lj: c64 = (0..3).map(|b| l[b] * j[(b, a)]).sum();
                assert!((lj - e.values[k] * l[a]).norm() < 1e-12);
            }
            let lv: c64 = (0..3).map(|b| l[b] * v[b]).sum();
            assert!((lv - c64::new(1.0, 0.0)).norm() < 1e-12);
        }
        // The real eigenvector of 0.5 is the third axis.
        assert!(
            (abs_cos(&e.right_vector(2).unwrap(), &[0.0, 0.0, -3.0]).unwrap() - 1.0).abs() < 1e-12
        );
        assert!(abs_cos(&e.right_vector(2).unwrap(), &[1.0, 0.0, 0.0]).unwrap() < 1e-12);
        assert!(abs_cos(&e.right_vector(2).unwrap(), &[0.0; 3]).is_none());
        assert!(e.right_vector(3).is_none() && e.left_vector(3).is_none());
        assert!(eigen(Mat::<f64>::zeros(2, 3).as_ref()).is_err());
    }

    /// Points on a line plus tiny noise put (almost) all variance on the first component, which
    /// is the line's direction.
    #[test]
    fn pca_of_points_on_a_line() {
        let dir = [0.6, 0.0, -0.8];
        let pts: Vec<Vec<f64>> = (0..9)
            .map(|k| {
                let a = k as f64 - 4.0;
                vec![
                    1.0 + a * dir[0],
                    2.0 + 1e-4 * (k % 2) as f64,
                    a * dir[2] - 1e-4 * (k % 3) as f64,
                ]
            })
            .collect();
        let p = pca(&pts).unwrap();
        assert!(p.variance_ratio[0] > 0.999_999, "{:?}", p.variance_ratio);
        let cos: f64 = p.components[0].iter().zip(dir).map(|(a, b)| a * b).sum();
        assert!((cos.abs() - 1.0).abs() < 1e-6);
        assert_eq!(p.components.len(), 3);
        assert!((p.variance_ratio.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(pca(&pts[..1]).is_err());
        assert!(pca(&[vec![0.0], vec![0.0, 1.0]]).is_err());
    }

    /// The Taylor model is exact at the expansion point and its error is second order.
    #[test]
    fn linearisation_error_is_second_order() {
        for kind in [CellKind::Rnn, CellKind::Gru, CellKind::Lstm] {
            let (x, h) = (3, 4);
            let gh = kind.gates() * h;
            let num = |n: usize, seed: u64| -> Vec<f64> {
                (0..n)
                    .map(|i| ((i as f64 + 1.0) * (seed as f64 + 0.37)).sin() * 0.7)
                    .collect()
            };
            let c = Cell::new(
                kind,
                x,
                h,
                num(x * gh, 1),
                num(gh, 2),
                num(h * gh, 3),
                num(gh, 4),
            )
            .unwrap();
            let n = c.state_dim();
            let (s0, x0) = (num(n, 5), num(x, 6));
            let lin = Linearisation::new(&c, &s0, &x0).unwrap();
            let f0 = c.map(&s0, &c.project_input(&x0).unwrap()).unwrap();
            assert_eq!(lin.predict(&s0, &x0).unwrap(), f0);
            let (ds, dx) = (num(n, 7), num(x, 8));
            let err = |eps: f64| {
                let s: Vec<f64> = s0.iter().zip(&ds).map(|(a, b)| a + eps * b).collect();
                let xi: Vec<f64> = x0.iter().zip(&dx).map(|(a, b)| a + eps * b).collect();
                let f = c.map(&s, &c.project_input(&xi).unwrap()).unwrap();
                let p = lin.predict(&s, &xi).unwrap();
                f.iter()
                    .zip(&p)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt()
            };
            let ratio = err(1e-2) / err(5e-3);
            assert!((ratio - 4.0).abs() < 0.2, "{kind}: error ratio {ratio}");
            assert!(lin.predict(&s0, &[0.0]).is_err());
            assert!(lin.predict_autonomous(&[0.0]).is_err());
        }
    }
}
