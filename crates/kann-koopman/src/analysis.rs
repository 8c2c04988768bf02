//! Koopman-based analysis tools (Sec. 3.4, 4.1, 4.2): projections (Eq. 7), projection magnitude
//! (Eq. 10), dominance ranking, reconstruction through a set of eigenvectors (Eq. 11).

use crate::error::{KoopmanError, Result};
use crate::fit::KoopmanModel;
use crate::spectrum::Spectrum;
use crate::states::States;
use faer::{Mat, MatRef, c64};

fn check(k: usize, model: &KoopmanModel, spectrum: &Spectrum) -> Result<()> {
    if model.hidden() != k {
        return Err(KoopmanError::Shape(format!(
            "states have hidden dimension {k}, model expects {}",
            model.hidden()
        )));
    }
    if spectrum.len() != model.rank() {
        return Err(KoopmanError::Shape(format!(
            "spectrum has {} eigenpairs, model rank is {}",
            spectrum.len(),
            model.rank()
        )));
    }
    Ok(())
}

fn check_set(set: &[usize], r: usize) -> Result<()> {
    if set.is_empty() {
        return Err(KoopmanError::InvalidParameter(
            "empty set of eigenvectors".into(),
        ));
    }
    if let Some(&j) = set.iter().find(|&&j| j >= r) {
        return Err(KoopmanError::InvalidParameter(format!(
            "eigenvector index {j} out of range (rank {r})"
        )));
    }
    Ok(())
}

/// Coefficients `H~ = H B` (Eq. 5) of a matrix of states (`m × k` → `m × r`).
pub fn coefficients(h: MatRef<'_, f64>, model: &KoopmanModel) -> Mat<f64> {
    h * model.basis.as_ref()
}

/// `H~ V` for a real coefficient matrix (`m × r` → `m × r` complex).
fn times_v(tilde: MatRef<'_, f64>, v: &Mat<c64>) -> Mat<c64> {
    let v_re = Mat::<f64>::from_fn(v.nrows(), v.ncols(), |i, j| v[(i, j)].re);
    let v_im = Mat::<f64>::from_fn(v.nrows(), v.ncols(), |i, j| v[(i, j)].im);
    let re = tilde * v_re.as_ref();
    let im = tilde * v_im.as_ref();
    Mat::<c64>::from_fn(re.nrows(), re.ncols(), |i, j| {
        c64::new(re[(i, j)], im[(i, j)])
    })
}

/// Eigen-coordinates `Ĥ = H B V = H~ V` (Eq. 7) of the rows of `h` (`m × k` → `m × r`
/// complex); their moduli are the projection magnitudes of Eq. 10.
pub fn eigen_coordinates(
    h: MatRef<'_, f64>,
    model: &KoopmanModel,
    spectrum: &Spectrum,
) -> Result<Mat<c64>> {
    check(h.ncols(), model, spectrum)?;
    Ok(times_v(coefficients(h, model).as_ref(), &spectrum.v))
}

/// Projections `Ĥ = H B V = H~ V` (Eq. 7) of all states, C order `[s, n, r]`; padded steps are 0.
pub fn projections(states: &States, model: &KoopmanModel, spectrum: &Spectrum) -> Result<Vec<c64>> {
    check(states.hidden(), model, spectrum)?;
    let (s, n, r) = (states.num_sequences(), states.seq_len(), model.rank());
    let mut out = vec![c64::new(0.0, 0.0); s * n * r];
    for i in 0..s {
        let hat = times_v(
            coefficients(states.sequence(i), model).as_ref(),
            &spectrum.v,
        );
        for t in 0..hat.nrows() {
            for j in 0..r {
                out[(i * n + t) * r + j] = hat[(t, j)];
            }
        }
    }
    Ok(out)
}

/// Projection magnitude `s(j, h_t) = |ĥ_t(j)| = |h~_tᵀ V_j|` (Eq. 10) of one state `h` (length k).
pub fn projection_magnitude(
    j: usize,
    h: &[f64],
    model: &KoopmanModel,
    spectrum: &Spectrum,
) -> Result<f64> {
    check(h.len(), model, spectrum)?;
    check_set(&[j], model.rank())?;
    let tilde = coefficients(MatRef::from_row_major_slice(h, 1, h.len()), model);
    let mut acc = c64::new(0.0, 0.0);
    for i in 0..model.rank() {
        acc += spectrum.v[(i, j)] * tilde[(0, i)];
    }
    Ok(acc.norm())
}

/// Dominance of every eigenvector (reference implementation): `Σ_t |H~ V|` over the valid steps
/// of each sequence, averaged over the batch. Returns `(index, score)` sorted by score descending.
pub fn dominance(
    states: &States,
    model: &KoopmanModel,
    spectrum: &Spectrum,
) -> Result<Vec<(usize, f64)>> {
    check(states.hidden(), model, spectrum)?;
    let r = model.rank();
    let mut score = vec![0.0; r];
    for i in 0..states.num_sequences() {
        let hat = times_v(
            coefficients(states.sequence(i), model).as_ref(),
            &spectrum.v,
        );
        for t in 0..hat.nrows() {
            for (j, sc) in score.iter_mut().enumerate() {
                *sc += hat[(t, j)].norm();
            }
        }
    }
    let s = states.num_sequences() as f64;
    let mut ranked: Vec<(usize, f64)> = score.into_iter().map(|x| x / s).enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(ranked)
}

/// `V_S U_S` (`r × r` complex) for a set `S` of eigenvector indices.
fn vs_us(spectrum: &Spectrum, set: &[usize]) -> Mat<c64> {
    let r = spectrum.len();
    let vs = Mat::<c64>::from_fn(r, set.len(), |i, a| spectrum.v[(i, set[a])]);
    let us = Mat::<c64>::from_fn(set.len(), r, |a, j| spectrum.u[(set[a], j)]);
    vs.as_ref() * us.as_ref()
}

/// Reconstruction through a set `S` of eigenvectors with the element-wise modulus of Eq. 11:
/// `H B |V_S U_S| Bᵀ` (`m × k` → `m × k`), as used for the ECG decoder (Sec. 4.2).
///
/// The modulus is taken in the coefficient space of `B`, so the result depends on the signs of
/// the basis vectors (see [`crate::signs`]; the fits of this crate use the canonical convention).
/// [`project_onto`] is the sign-invariant reconstruction without the modulus.
pub fn reconstruct_modulus(
    h: MatRef<'_, f64>,
    model: &KoopmanModel,
    spectrum: &Spectrum,
    set: &[usize],
) -> Result<Mat<f64>> {
    check(h.ncols(), model, spectrum)?;
    check_set(set, model.rank())?;
    let p = vs_us(spectrum, set);
    let abs = Mat::<f64>::from_fn(p.nrows(), p.ncols(), |i, j| p[(i, j)].norm());
    let tilde = coefficients(h, model);
    Ok((tilde.as_ref() * abs.as_ref()) * model.basis.transpose())
}

/// Plain projection onto a set `S` of eigenvectors: `Re(H~ V_S U_S) Bᵀ` (`m × k` → `m × k`),
/// the states "projected on (u_i, u_j)" of the readout test of Sec. 4.1. For a set closed under
/// conjugation the product is real. Invariant under the signs of the basis (`B → B D` maps
/// `V_S U_S` to `D V_S U_S D`, and `D D = I`): Eq. 11 without the modulus.
pub fn project_onto(
    h: MatRef<'_, f64>,
    model: &KoopmanModel,
    spectrum: &Spectrum,
    set: &[usize],
) -> Result<Mat<f64>> {
    check(h.ncols(), model, spectrum)?;
    check_set(set, model.rank())?;
    let p = vs_us(spectrum, set);
    let re = Mat::<f64>::from_fn(p.nrows(), p.ncols(), |i, j| p[(i, j)].re);
    let tilde = coefficients(h, model);
    Ok((tilde.as_ref() * re.as_ref()) * model.basis.transpose())
}

/// How far `V_S U_S` is from real: `‖Im(V_S U_S)‖_F / ‖V_S U_S‖_F`. Zero for a set closed under
/// conjugation (a real eigenvector, a conjugate pair); large for a "pair" that mixes a real
/// eigenvector with one member of a conjugate pair, or members of two different pairs.
pub fn pair_product_imaginary_share(spectrum: &Spectrum, set: &[usize]) -> Result<f64> {
    check_set(set, spectrum.len())?;
    let p = vs_us(spectrum, set);
    let (mut im, mut all) = (0.0, 0.0);
    for j in 0..p.ncols() {
        for i in 0..p.nrows() {
            im += p[(i, j)].im * p[(i, j)].im;
            all += p[(i, j)].norm_sqr();
        }
    }
    Ok(if all > 0.0 { (im / all).sqrt() } else { 0.0 })
}
