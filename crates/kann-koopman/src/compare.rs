//! Comparing the operators of different runs (seeds, cells) without reference to their bases.
//!
//! Two runs' hidden states live in different coordinates: their bases `B` and operators `C`
//! cannot be compared entry by entry. The eigenvalues of `C` are similarity invariants (the same
//! for `T⁻¹ C T` whatever the invertible `T`), so distances between spectra are what two runs
//! can share. [`spectral_distance`] is the optimal-matching (1-Wasserstein) distance between the
//! `k` slowest eigenvalues of each, as equal-weight points in the complex plane.

use crate::error::{KoopmanError, Result};
use crate::resample::assign_min_cost;

/// The `k` eigenvalues of largest modulus (ties broken by real part, then imaginary part, so the
/// choice does not depend on input order).
fn slowest(eigenvalues: &[(f64, f64)], k: usize) -> Vec<(f64, f64)> {
    let mut v = eigenvalues.to_vec();
    v.sort_by(|a, b| {
        let (ma, mb) = (a.0.hypot(a.1), b.0.hypot(b.1));
        mb.total_cmp(&ma)
            .then(b.0.total_cmp(&a.0))
            .then(b.1.total_cmp(&a.1))
    });
    v.truncate(k);
    v
}

/// Optimal-matching distance between the spectra of two operators:
/// `d_k(Λ, M) = min_π (1/k) Σ_i |λ_i − μ_π(i)|` over bijections `π` between the `k` eigenvalues
/// of largest modulus of each (the 1-Wasserstein distance between the two sets as equal-weight
/// point clouds in ℂ; `|·|` is the complex modulus). It is 0 exactly when the two sets of `k`
/// slowest eigenvalues coincide, symmetric, and satisfies the triangle inequality.
///
/// # Errors
/// `k == 0`, fewer than `k` eigenvalues on either side, or a non-finite eigenvalue.
pub fn spectral_distance(a: &[(f64, f64)], b: &[(f64, f64)], k: usize) -> Result<f64> {
    if k == 0 {
        return Err(KoopmanError::InvalidParameter(
            "spectral distance: k must be at least 1".into(),
        ));
    }
    for (name, s) in [("first", a), ("second", b)] {
        if s.len() < k {
            return Err(KoopmanError::InvalidParameter(format!(
                "spectral distance: the {name} spectrum has {} eigenvalues, fewer than k = {k}",
                s.len()
            )));
        }
        if let Some((i, _)) = s
            .iter()
            .enumerate()
            .find(|(_, (re, im))| !re.is_finite() || !im.is_finite())
        {
            return Err(KoopmanError::InvalidParameter(format!(
                "spectral distance: eigenvalue {i} of the {name} spectrum is not finite"
            )));
        }
    }
    let (a, b) = (slowest(a, k), slowest(b, k));
    // Row-major k × k costs |λ_i − μ_j|.
    let cost: Vec<f64> = a
        .iter()
        .flat_map(|x| b.iter().map(move |y| (x.0 - y.0).hypot(x.1 - y.1)))
        .collect();
    let assignment = assign_min_cost(&cost, k);
    let total: f64 = assignment
        .iter()
        .enumerate()
        .map(|(i, &j)| cost[i * k + j])
        .sum();
    Ok(total / k as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All permutations of 0..n (n small), for a brute-force check.
    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![vec![]];
        }
        let mut out = Vec::new();
        for p in permutations(n - 1) {
            for pos in 0..=p.len() {
                let mut q = p.clone();
                q.insert(pos, n - 1);
                out.push(q);
            }
        }
        out
    }

    #[test]
    fn identical_spectra_in_any_order_are_at_distance_zero() {
        let a = [(0.99, 0.0), (0.5, 0.2), (0.5, -0.2), (0.1, 0.0)];
        let b = [(0.1, 0.0), (0.5, -0.2), (0.99, 0.0), (0.5, 0.2)];
        assert_eq!(spectral_distance(&a, &b, 4).unwrap(), 0.0);
        // Only the k slowest count: a different fast tail changes nothing.
        let c = [(0.99, 0.0), (0.5, 0.2), (0.5, -0.2), (0.0, 0.01)];
        assert_eq!(spectral_distance(&a, &c, 3).unwrap(), 0.0);
        assert!(spectral_distance(&a, &c, 4).unwrap() > 0.0);
    }

    #[test]
    fn matching_is_optimal_against_brute_force() {
        // Pseudo-random points; compare with the minimum over all 6! bijections.
        let mut x = 0.123_f64;
        let mut next = || {
            x = (x * 9301.0 + 0.49297).fract();
            x * 2.0 - 1.0
        };
        for _ in 0..20 {
            let a: Vec<(f64, f64)> = (0..6).map(|_| (next(), next())).collect();
            let b: Vec<(f64, f64)> = (0..6).map(|_| (next(), next())).collect();
            let (sa, sb) = (slowest(&a, 6), slowest(&b, 6));
            let best = permutations(6)
                .iter()
                .map(|p| {
                    p.iter()
                        .enumerate()
                        .map(|(i, &j)| (sa[i].0 - sb[j].0).hypot(sa[i].1 - sb[j].1))
                        .sum::<f64>()
                })
                .fold(f64::INFINITY, f64::min)
                / 6.0;
            let d = spectral_distance(&a, &b, 6).unwrap();
            assert!((d - best).abs() < 1e-12, "{d} vs brute force {best}");
            // Symmetric.
            assert!((spectral_distance(&b, &a, 6).unwrap() - d).abs() < 1e-12);
        }
    }

    #[test]
    fn a_shifted_eigenvalue_moves_the_distance_by_its_share() {
        let a = [(0.9, 0.0), (0.5, 0.0)];
        let b = [(0.8, 0.0), (0.5, 0.0)];
        assert!((spectral_distance(&a, &b, 2).unwrap() - 0.05).abs() < 1e-12);
    }

    #[test]
    fn bad_input_is_refused() {
        let a = [(0.9, 0.0)];
        assert!(spectral_distance(&a, &a, 0).is_err());
        assert!(spectral_distance(&a, &a, 2).is_err());
        assert!(spectral_distance(&[(f64::NAN, 0.0)], &a, 1).is_err());
    }
}
