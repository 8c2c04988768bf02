//! The sign convention of the SVD basis `B` and equally valid fits with other signs.
//!
//! The right singular vectors of the states are defined up to sign: `B D`, with `D` any
//! diagonal matrix of ±1, is as valid a basis as `B`. Everything the paper computes from the fit
//! is invariant under that choice (the one-step map `B C Bᵀ` of Eq. 6, the eigenvalues, the
//! projections `H B V` of Eq. 7 up to the eigenvectors' own scaling, the plain projection
//! `Re(H~ V_S U_S) Bᵀ`), except Eq. 11: its element-wise modulus `|V_S U_S|` is taken in the
//! coefficient space of `B`, and under `B → B D` it becomes `H B D |V_S U_S| D Bᵀ`, a different
//! matrix. So the modulus reconstruction is only defined together with a sign convention.
//!
//! The convention of this crate ([`canonical_basis_signs`], applied by every fit): each basis
//! vector's largest-magnitude component is positive (the first one on ties), the rule of
//! scikit-learn's `svd_flip` for the right singular vectors (`u_based_decision=False`).
//! [`with_basis_signs`] gives the fit with any other sign pattern, to measure how much a result
//! depends on the convention.

use crate::error::{KoopmanError, Result};
use crate::fit::KoopmanModel;
use crate::spectrum::Spectrum;
use faer::{Mat, MatRef};

/// The signs `d_j ∈ {+1, −1}` that make each column of `basis` canonical: `d_j` is the sign of
/// the column's largest-magnitude entry (the first on ties; `+1` for a zero column), so that
/// `basis · diag(d)` has every largest-magnitude entry positive.
pub fn canonical_basis_signs(basis: MatRef<'_, f64>) -> Vec<f64> {
    (0..basis.ncols())
        .map(|j| {
            let mut best = 0.0f64;
            for i in 0..basis.nrows() {
                if basis[(i, j)].abs() > best.abs() {
                    best = basis[(i, j)];
                }
            }
            if best < 0.0 { -1.0 } else { 1.0 }
        })
        .collect()
}

/// True if every column of `basis` follows the canonical convention ([`canonical_basis_signs`]
/// is all `+1`).
pub fn is_canonical(basis: MatRef<'_, f64>) -> bool {
    canonical_basis_signs(basis).iter().all(|&d| d > 0.0)
}

fn check_signs(signs: &[f64], r: usize) -> Result<()> {
    if signs.len() != r {
        return Err(KoopmanError::Shape(format!(
            "{} signs for a basis of rank {r}",
            signs.len()
        )));
    }
    if let Some((j, d)) = signs.iter().enumerate().find(|(_, d)| d.abs() != 1.0) {
        return Err(KoopmanError::InvalidParameter(format!(
            "sign {j} is {d}, not +1 or -1"
        )));
    }
    Ok(())
}

/// The same fit with the basis `B D`, `D = diag(signs)` (each `±1`): operator `D C D`, readout
/// `D R`, coefficient Grams `D A D`, and the spectrum with eigenvectors `D V` and `U D`
/// (eigenvalues, residuals and condition unchanged). The one-step map, the eigenvalues and
/// [`crate::project_onto`] are unchanged; [`crate::reconstruct_modulus`] (Eq. 11) in general is
/// not.
pub fn with_basis_signs(
    model: &KoopmanModel,
    spectrum: &Spectrum,
    signs: &[f64],
) -> Result<(KoopmanModel, Spectrum)> {
    let r = model.rank();
    check_signs(signs, r)?;
    if spectrum.len() != r {
        return Err(KoopmanError::Shape(format!(
            "spectrum has {} eigenpairs, model rank is {r}",
            spectrum.len()
        )));
    }
    let d = |i: usize| signs[i];
    let both = |m: &Mat<f64>| Mat::<f64>::from_fn(r, r, |i, j| d(i) * m[(i, j)] * d(j));
    let mut out = model.clone();
    out.basis = Mat::from_fn(model.hidden(), r, |i, j| model.basis[(i, j)] * d(j));
    out.koopman_operator = both(&model.koopman_operator);
    out.readout = Mat::from_fn(r, model.hidden(), |i, j| d(i) * model.readout[(i, j)]);
    out.coefficient_grams.a0 = both(&model.coefficient_grams.a0);
    out.coefficient_grams.a01 = both(&model.coefficient_grams.a01);
    out.coefficient_grams.a1 = both(&model.coefficient_grams.a1);
    let mut spec = spectrum.clone();
    spec.v = Mat::from_fn(r, r, |i, j| spectrum.v[(i, j)] * d(i));
    spec.u = Mat::from_fn(r, r, |i, j| spectrum.u[(i, j)] * d(j));
    Ok((out, spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_signs_follow_the_largest_component() {
        let b = Mat::<f64>::from_fn(3, 3, |i, j| match (i, j) {
            (0, 0) => 0.2,
            (1, 0) => -0.9,
            (2, 0) => 0.3,
            (0, 1) => 0.5,
            (1, 1) => -0.5, // tie: the first one decides
            (2, 2) => -0.0,
            _ => 0.0,
        });
        assert_eq!(canonical_basis_signs(b.as_ref()), vec![-1.0, 1.0, 1.0]);
        assert!(!is_canonical(b.as_ref()));
        let flipped = Mat::<f64>::from_fn(3, 3, |i, j| b[(i, j)] * if j == 0 { -1.0 } else { 1.0 });
        assert!(is_canonical(flipped.as_ref()));
    }

    #[test]
    fn bad_sign_patterns_are_refused() {
        assert!(check_signs(&[1.0, -1.0], 3).is_err());
        assert!(check_signs(&[1.0, 0.5, -1.0], 3).is_err());
        assert!(check_signs(&[1.0, -1.0, -1.0], 3).is_ok());
    }
}
