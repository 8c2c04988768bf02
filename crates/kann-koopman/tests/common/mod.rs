//! Shared helpers of the integration tests: seeded linear and nonlinear systems.
#![allow(dead_code)]

use kann_koopman::States;
use kann_koopman::faer::{Mat, c64};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A real `k × k` matrix with the given eigenvalues (real ones, and complex ones given by their
/// `+imag` member), `A = P D P⁻¹` with a random well-conditioned `P`.
pub fn matrix_with_eigenvalues(eigs: &[c64], rng: &mut ChaCha8Rng) -> Mat<f64> {
    kann_koopman::calibration::matrix_with_eigenvalues(eigs, rng)
}

/// Simulates `x_{t+1} = A x_t` from random initial states; rows are states, `[s, n, k]`.
pub fn simulate_linear(a: &Mat<f64>, s: usize, n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let k = a.nrows();
    let mut data = vec![0.0; s * n * k];
    for i in 0..s {
        let mut x: Vec<f64> = (0..k).map(|_| normal(rng)).collect();
        for t in 0..n {
            data[(i * n + t) * k..(i * n + t + 1) * k].copy_from_slice(&x);
            x = (0..k)
                .map(|r| (0..k).map(|c| a[(r, c)] * x[c]).sum())
                .collect();
        }
    }
    data
}

/// A seeded nonlinear RNN-like recurrence `h_{t+1} = tanh(W h_t + x_t)`.
pub fn simulate_rnn(k: usize, s: usize, n: usize, seed: u64) -> States {
    let mut r = rng(seed);
    let w = Mat::<f64>::from_fn(k, k, |_, _| 1.1 * normal(&mut r) / (k as f64).sqrt());
    let mut data = vec![0.0; s * n * k];
    for i in 0..s {
        let mut h: Vec<f64> = (0..k).map(|_| 0.5 * normal(&mut r)).collect();
        for t in 0..n {
            data[(i * n + t) * k..(i * n + t + 1) * k].copy_from_slice(&h);
            h = (0..k)
                .map(|a| {
                    let z: f64 = (0..k).map(|b| w[(a, b)] * h[b]).sum();
                    (z + 0.3 * normal(&mut r)).tanh()
                })
                .collect();
        }
    }
    States::from_f64(data, s, n, k).unwrap()
}

/// Sorts eigenvalues for comparison: by modulus desc, then imag desc.
pub fn sorted(mut v: Vec<c64>) -> Vec<c64> {
    v.sort_by(|a, b| {
        b.norm()
            .partial_cmp(&a.norm())
            .unwrap()
            .then(b.im.partial_cmp(&a.im).unwrap())
    });
    v
}

/// Expands `+imag` representatives into full conjugate pairs.
pub fn full_spectrum(eigs: &[c64]) -> Vec<c64> {
    let mut out = Vec::new();
    for l in eigs {
        out.push(*l);
        if l.im != 0.0 {
            out.push(l.conj());
        }
    }
    out
}

/// Max distance between matched eigenvalue sets (greedy nearest matching).
pub fn eig_distance(a: &[c64], b: &[c64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mut used = vec![false; b.len()];
    let mut worst = 0.0f64;
    for x in a {
        let (j, d) = b
            .iter()
            .enumerate()
            .filter(|(j, _)| !used[*j])
            .map(|(j, y)| (j, (x - y).norm()))
            .min_by(|p, q| p.1.partial_cmp(&q.1).unwrap())
            .unwrap();
        used[j] = true;
        worst = worst.max(d);
    }
    worst
}
