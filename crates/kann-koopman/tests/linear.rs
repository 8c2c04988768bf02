//! Fit, spectrum and prediction on systems with known dynamics.

mod common;

use common::*;
use kann_koopman::faer::{Mat, c64};
use kann_koopman::*;

fn fit_full(states: &States) -> KoopmanModel {
    let opts = FitOptions {
        rank: Rank::Fixed(states.hidden()),
        ..FitOptions::default()
    };
    koopman_operator(states, &opts).unwrap()
}

#[test]
fn linear_system_gives_back_its_eigenvalues() {
    let mut r = rng(1);
    let truth = [
        c64::new(0.95, 0.0),
        c64::new(-0.7, 0.0),
        c64::new(0.8, 0.5),
        c64::new(0.3, -0.75),
        c64::new(0.6, 0.0),
    ];
    let a = matrix_with_eigenvalues(&truth, &mut r);
    let k = a.nrows();
    let states = States::from_f64(simulate_linear(&a, 10, 30, &mut r), 10, 30, k).unwrap();
    let model = fit_full(&states);
    assert_eq!(
        model.method,
        FitMethod::Gram,
        "warnings: {:?}",
        model.warnings
    );
    let spec = Spectrum::new(&model).unwrap();
    let want = full_spectrum(&truth);
    let d = eig_distance(&spec.eigenvalues, &want);
    assert!(d < 1e-9, "eigenvalue error {d}: {:?}", spec.eigenvalues);
    let err = relative_error(&states, &model).unwrap();
    assert!(err.e_rel < 1e-18, "e_rel = {}", err.e_rel);
    assert_eq!(err.count, 10 * 29);
    // Residuals of exact eigenpairs vanish.
    for (j, res) in spec.residuals.iter().enumerate() {
        assert!(*res < 1e-6, "residual {j} = {res}");
    }
    // Sorted by modulus descending, conjugate pairs adjacent with +imag first.
    for w in spec.eigenvalues.windows(2) {
        assert!(w[0].norm() >= w[1].norm() - 1e-12);
    }
    for j in 0..spec.len() {
        if spec.eigenvalues[j].im > 0.0 {
            assert_eq!(spec.eigenvalues[j + 1], spec.eigenvalues[j].conj());
            assert_eq!(spec.partner(j), Some(j + 1));
        }
    }
    // C v = lambda v and U = V^-1.
    let c = &model.koopman_operator;
    for j in 0..spec.len() {
        for i in 0..k {
            let cv: c64 = (0..k).map(|m| spec.v[(m, j)] * c[(i, m)]).sum();
            assert!((cv - spec.eigenvalues[j] * spec.v[(i, j)]).norm() < 1e-9);
        }
    }
    let uv = spec.u.as_ref() * spec.v.as_ref();
    for i in 0..k {
        for j in 0..k {
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((uv[(i, j)] - c64::new(want, 0.0)).norm() < 1e-9);
        }
    }
}

#[test]
fn rotation_on_unit_circle_has_infinite_memory_and_decay_has_eq9_tau() {
    let mut r = rng(2);
    let theta: f64 = 0.3;
    let truth = [
        c64::new(theta.cos(), theta.sin()),
        c64::new(0.9, 0.0),
        c64::new(0.5, 0.0),
    ];
    let a = matrix_with_eigenvalues(&truth, &mut r);
    let states = States::from_f64(simulate_linear(&a, 6, 40, &mut r), 6, 40, 4).unwrap();
    let model = fit_full(&states);
    let spec = Spectrum::new(&model).unwrap();
    let h = spec.memory_horizons(0.01, 1e-8).unwrap();
    assert_eq!(h[0].stability, Stability::Marginal);
    assert_eq!(h[0].tau, None);
    assert_eq!(h[1].stability, Stability::Marginal);
    assert!((spec.eigenvalues[0].norm() - 1.0).abs() < 1e-10);
    let tau = h[2].tau.unwrap();
    let want = 0.01f64.ln() / 0.9f64.ln();
    assert!((tau - want).abs() < 1e-7, "tau {tau} vs {want}");
    assert_eq!(h[2].stability, Stability::Decaying);
    let t3 = h[3].tau.unwrap();
    assert!((t3 - 0.01f64.ln() / 0.5f64.ln()).abs() < 1e-7);
}

#[test]
fn memory_horizon_edge_cases() {
    let h = memory_horizon(c64::new(1.2, 0.0), 0.01, 1e-9).unwrap();
    assert_eq!(h.stability, Stability::Unstable);
    assert_eq!(h.tau, None);
    let h = memory_horizon(c64::new(0.0, 0.0), 0.01, 1e-9).unwrap();
    assert_eq!(h.tau, Some(0.0));
    let h = memory_horizon(c64::new(0.0, 0.99), 0.01, 1e-9).unwrap();
    assert!((h.tau.unwrap() - 0.01f64.ln() / 0.99f64.ln()).abs() < 1e-9);
    assert!(memory_horizon(c64::new(0.5, 0.0), 1.5, 1e-9).is_err());
    assert!(memory_horizon(c64::new(0.5, 0.0), 0.0, 1e-9).is_err());
}

#[test]
fn gram_fit_matches_direct_svd_lstsq() {
    let states = simulate_rnn(16, 12, 60, 3);
    for rank in [Rank::ReferenceDefault, Rank::Fixed(8), Rank::Energy(0.99)] {
        let opts = FitOptions {
            rank,
            ..FitOptions::default()
        };
        let g = koopman_operator(&states, &opts).unwrap();
        let d = koopman_operator_direct(&states, &opts).unwrap();
        assert_eq!(g.method, FitMethod::Gram);
        assert_eq!(g.rank(), d.rank());
        let diff = (g.koopman_operator.as_ref() - d.koopman_operator.as_ref()).norm_l2();
        assert!(diff < 1e-8, "{rank:?}: |C_gram - C_direct| = {diff}");
        let bd = (g.basis.as_ref() - d.basis.as_ref()).norm_l2();
        assert!(bd < 1e-8, "basis differs by {bd}");
        let eg = Spectrum::new(&g).unwrap().eigenvalues;
        let ed = Spectrum::new(&d).unwrap().eigenvalues;
        assert!(eig_distance(&eg, &ed) < 1e-8);
        let e1 = relative_error(&states, &g).unwrap().e_rel;
        let e2 = relative_error(&states, &d).unwrap().e_rel;
        assert!((e1 - e2).abs() < 1e-10 * e1.max(1.0));
        for (a, b) in g.singular_values.iter().zip(&d.singular_values) {
            assert!((a - b).abs() < 1e-8 * g.singular_values[0]);
        }
    }
    let g = koopman_operator(&states, &FitOptions::default()).unwrap();
    assert_eq!(g.rank(), 15, "reference default min(s(n-1), k) - 1");
}

#[test]
fn padding_with_junk_changes_nothing_when_masked() {
    let base = simulate_rnn(8, 5, 30, 4);
    let (s, n, k) = (5, 30, 8);
    let lengths = vec![30, 12, 25, 2, 19];
    // Reference: every sequence truncated to its length, pushed unpadded one by one.
    let mut acc = GramAccumulator::new(k);
    for (i, &len) in lengths.iter().enumerate() {
        let seq = &base.data()[i * n * k..(i * n + len) * k];
        acc.push_f64(seq, 1, len, None).unwrap();
    }
    let opts = FitOptions::default();
    let want = acc.finish(&opts).unwrap();
    // Padded to 40 steps with junk (huge values, NaN) after each length.
    let n2 = 40;
    let mut data = vec![0.0; s * n2 * k];
    let mut r = rng(5);
    for i in 0..s {
        for t in 0..n2 {
            for j in 0..k {
                data[(i * n2 + t) * k + j] = if t < lengths[i] {
                    base.data()[(i * n + t) * k + j]
                } else if (t + j) % 7 == 0 {
                    f64::NAN
                } else {
                    1e6 * normal(&mut r)
                };
            }
        }
    }
    let padded = States::new_with_lengths(data, s, n2, k, lengths.clone()).unwrap();
    let got = koopman_operator(&padded, &opts).unwrap();
    assert_eq!(got.rank(), want.rank());
    let diff = (got.koopman_operator.as_ref() - want.koopman_operator.as_ref()).norm_l2();
    assert!(diff < 1e-12, "C differs by {diff}");
    assert_eq!(got.num_pairs, lengths.iter().map(|l| l - 1).sum::<usize>());
    let e = relative_error(&padded, &got).unwrap();
    assert_eq!(e.count, got.num_pairs);
    assert!(e.e_rel.is_finite());
    // The mask form gives the same lengths.
    let mask: Vec<bool> = (0..s * n2).map(|p| p % n2 < lengths[p / n2]).collect();
    assert_eq!(States::lengths_from_mask(&mask, s, n2).unwrap(), lengths);
    // Analysis of padded states ignores padding too.
    let spec = Spectrum::new(&got).unwrap();
    let dom = dominance(&padded, &got, &spec).unwrap();
    assert!(dom.iter().all(|(_, x)| x.is_finite()));
    let proj = projections(&padded, &got, &spec).unwrap();
    assert!(proj.iter().all(|z| z.re.is_finite() && z.im.is_finite()));
}

#[test]
fn streaming_fit_equals_in_memory_fit() {
    let states = simulate_rnn(12, 20, 50, 6);
    let (s, n, k) = (20, 50, 12);
    let f32data: Vec<f32> = states.data().iter().map(|&x| x as f32).collect();
    let mem = States::from_f32(&f32data, s, n, k).unwrap();
    let opts = FitOptions::default();
    let want = koopman_operator(&mem, &opts).unwrap();
    let mut acc = GramAccumulator::new(k);
    let mut e_acc = None;
    for batch in [0..3, 3..10, 10..11, 11..20] {
        let chunk = &f32data[batch.start * n * k..batch.end * n * k];
        acc.push_f32(chunk, batch.len(), n, None).unwrap();
    }
    assert_eq!(acc.num_sequences(), s);
    let got = acc.finish(&opts).unwrap();
    let diff = (got.koopman_operator.as_ref() - want.koopman_operator.as_ref()).norm_l2();
    assert!(diff < 1e-10, "C differs by {diff}");
    // Second pass: streaming e_rel equals in-memory e_rel.
    let mut ea = RelativeErrorAccumulator::new(&got);
    for batch in [0..7, 7..20] {
        let chunk = &f32data[batch.start * n * k..batch.end * n * k];
        ea.push_f32(chunk, batch.len(), n, None).unwrap();
    }
    e_acc.get_or_insert(ea.finish().unwrap());
    let e_mem = relative_error(&mem, &want).unwrap();
    let e_stream = e_acc.unwrap();
    assert_eq!(e_mem.count, e_stream.count);
    assert!((e_mem.e_rel - e_stream.e_rel).abs() < 1e-10 * e_mem.e_rel);
}

#[test]
fn prediction_and_multi_step() {
    let mut r = rng(7);
    let truth = [c64::new(0.9, 0.3), c64::new(0.7, 0.0), c64::new(-0.5, 0.0)];
    let a = matrix_with_eigenvalues(&truth, &mut r);
    let states = States::from_f64(simulate_linear(&a, 5, 25, &mut r), 5, 25, 4).unwrap();
    let model = fit_full(&states);
    let pred = predict_one_step(&states, &model).unwrap();
    for (x, y) in pred.data().iter().zip(states.data()) {
        assert!((x - y).abs() < 1e-9);
    }
    let curve = multi_step_error(&states, &model, 5).unwrap();
    assert_eq!(curve.len(), 5);
    assert!(curve.iter().all(|&e| e < 1e-16), "{curve:?}");
    let spec = Spectrum::new(&model).unwrap();
    let h0 = states.state(2, 3);
    let steps = predict_steps(h0, &model, &spec, 4).unwrap();
    for (l, p) in steps.iter().enumerate() {
        let want = states.state(2, 3 + l + 1);
        for (x, y) in p.iter().zip(want) {
            assert!((x - y).abs() < 1e-8, "step {}: {x} vs {y}", l + 1);
        }
    }
    // Eq. 8: projections evolve by Lambda.
    let proj = projections(&states, &model, &spec).unwrap();
    let rk = model.rank();
    for t in 0..10 {
        for j in 0..rk {
            let now = proj[t * rk + j];
            let next = proj[(t + 1) * rk + j];
            assert!((next - now * spec.eigenvalues[j]).norm() < 1e-8);
        }
    }
    // Eq. 10 agrees with the projections.
    let m = projection_magnitude(1, states.state(0, 4), &model, &spec).unwrap();
    assert!((m - proj[4 * rk + 1].norm()).abs() < 1e-12);
}

#[test]
fn reconstructions_through_eigenvector_sets() {
    let mut r = rng(8);
    let truth = [c64::new(0.9, 0.3), c64::new(0.6, 0.2), c64::new(0.7, 0.0)];
    let a = matrix_with_eigenvalues(&truth, &mut r);
    let states = States::from_f64(simulate_linear(&a, 4, 20, &mut r), 4, 20, 5).unwrap();
    let model = fit_full(&states);
    let spec = Spectrum::new(&model).unwrap();
    let h = states.sequence(1).to_owned();
    let all: Vec<usize> = (0..model.rank()).collect();
    // |V U| = |I| = I: the reconstruction through every eigenvector gives back H B Bᵀ = H.
    let rec = reconstruct_modulus(h.as_ref(), &model, &spec, &all).unwrap();
    assert!((rec.as_ref() - h.as_ref()).norm_l2() < 1e-8 * h.norm_l2());
    let proj = project_onto(h.as_ref(), &model, &spec, &all).unwrap();
    assert!((proj.as_ref() - h.as_ref()).norm_l2() < 1e-8 * h.norm_l2());
    // Projections on a partition into conjugation-closed sets add up to the whole.
    let p01 = project_onto(h.as_ref(), &model, &spec, &[0, 1]).unwrap();
    let p23 = project_onto(h.as_ref(), &model, &spec, &[2, 3]).unwrap();
    let p4 = project_onto(h.as_ref(), &model, &spec, &[4]).unwrap();
    let sum = (p01.as_ref() + p23.as_ref()) + p4.as_ref();
    assert!((sum.as_ref() - h.as_ref()).norm_l2() < 1e-8 * h.norm_l2());
    // Eq. 11 on a pair: element-wise modulus of V_S U_S, checked by hand.
    let rec01 = reconstruct_modulus(h.as_ref(), &model, &spec, &[0, 1]).unwrap();
    let k = model.rank();
    let mut absvu = Mat::<f64>::zeros(k, k);
    for i in 0..k {
        for j in 0..k {
            let z = spec.v[(i, 0)] * spec.u[(0, j)] + spec.v[(i, 1)] * spec.u[(1, j)];
            absvu[(i, j)] = z.norm();
        }
    }
    let want = (h.as_ref() * model.basis.as_ref()) * absvu.as_ref() * model.basis.transpose();
    assert!((rec01.as_ref() - want.as_ref()).norm_l2() < 1e-10);
    assert!(reconstruct_modulus(h.as_ref(), &model, &spec, &[9]).is_err());
    assert!(project_onto(h.as_ref(), &model, &spec, &[]).is_err());
}

#[test]
fn estimators_agree_on_clean_data_and_tls_debiases_noise() {
    let mut r = rng(9);
    let truth = [c64::new(0.9, 0.35), c64::new(0.85, 0.0), c64::new(0.5, 0.0)];
    let a = matrix_with_eigenvalues(&truth, &mut r);
    let clean = States::from_f64(simulate_linear(&a, 8, 30, &mut r), 8, 30, 4).unwrap();
    let want = full_spectrum(&truth);
    for est in [
        Estimator::LeastSquares,
        Estimator::ExactDmd,
        Estimator::TotalLeastSquares,
        Estimator::Ridge { alpha: 0.0 },
    ] {
        let opts = FitOptions {
            rank: Rank::Fixed(4),
            estimator: est,
            ..FitOptions::default()
        };
        let m = koopman_operator(&clean, &opts).unwrap();
        let s = Spectrum::new(&m).unwrap();
        let d = eig_distance(&s.eigenvalues, &want);
        assert!(d < 1e-7, "{est}: eigenvalue error {d}");
        let e = relative_error(&clean, &m).unwrap().e_rel;
        assert!(e < 1e-14, "{est}: e_rel {e}");
    }
    // Ridge shrinks the spectrum.
    let ridge = koopman_operator(
        &clean,
        &FitOptions {
            rank: Rank::Fixed(4),
            estimator: Estimator::Ridge { alpha: 0.1 },
            ..FitOptions::default()
        },
    )
    .unwrap();
    let rs = Spectrum::new(&ridge).unwrap();
    assert!(rs.eigenvalues[0].norm() < truth[0].norm() - 1e-3);
    // Noisy observations of a slow rotation: least squares is biased towards 0, TLS much less.
    let rot = [c64::new(0.99 * 0.2f64.cos(), 0.99 * 0.2f64.sin())];
    let a = matrix_with_eigenvalues(&rot, &mut r);
    let mut data = simulate_linear(&a, 20, 200, &mut r);
    for x in data.iter_mut() {
        *x += 0.1 * normal(&mut r);
    }
    let noisy = States::from_f64(data, 20, 200, 2).unwrap();
    let modulus = |est| {
        let m = koopman_operator(
            &noisy,
            &FitOptions {
                rank: Rank::Fixed(2),
                estimator: est,
                ..FitOptions::default()
            },
        )
        .unwrap();
        Spectrum::new(&m).unwrap().eigenvalues[0].norm()
    };
    let ls = (modulus(Estimator::LeastSquares) - 0.99).abs();
    let tls = (modulus(Estimator::TotalLeastSquares) - 0.99).abs();
    assert!(tls < 0.5 * ls, "TLS error {tls} vs LS error {ls}");
}

#[test]
fn residuals_flag_spurious_eigenvalues() {
    // A 2-D slow rotation embedded in 6-D with small isotropic noise: the fitted rank-6 operator
    // has 2 true eigenvalues (small residual) and 4 noise eigenvalues (large residual).
    let mut r = rng(10);
    let rot = [c64::new(0.98 * 0.15f64.cos(), 0.98 * 0.15f64.sin())];
    let a = matrix_with_eigenvalues(&rot, &mut r);
    let (s, n, k) = (10, 100, 6);
    let lat = simulate_linear(&a, s, n, &mut r);
    let emb = Mat::<f64>::from_fn(2, k, |_, _| normal(&mut r));
    let mut data = vec![0.0; s * n * k];
    for p in 0..s * n {
        for j in 0..k {
            data[p * k + j] =
                lat[p * 2] * emb[(0, j)] + lat[p * 2 + 1] * emb[(1, j)] + 1e-3 * normal(&mut r);
        }
    }
    let states = States::from_f64(data, s, n, k).unwrap();
    let model = koopman_operator(
        &states,
        &FitOptions {
            rank: Rank::Fixed(6),
            ..FitOptions::default()
        },
    )
    .unwrap();
    let spec = Spectrum::new(&model).unwrap();
    let want = c64::new(0.98 * 0.15f64.cos(), 0.98 * 0.15f64.sin());
    let mut true_idx = vec![];
    for (j, l) in spec.eigenvalues.iter().enumerate() {
        if (l - want).norm() < 1e-2 || (l - want.conj()).norm() < 1e-2 {
            true_idx.push(j);
        }
    }
    assert_eq!(true_idx.len(), 2, "{:?}", spec.eigenvalues);
    for (j, res) in spec.residuals.iter().enumerate() {
        if true_idx.contains(&j) {
            assert!(*res < 0.05, "true eigenpair {j} residual {res}");
        } else {
            assert!(*res > 0.2, "noise eigenpair {j} residual {res}");
        }
    }
}

#[test]
fn ill_conditioned_gram_falls_back_to_qr_least_squares() {
    let states = simulate_rnn(10, 6, 40, 17);
    let strict = FitOptions {
        condition_limit: 1.0,
        ..FitOptions::default()
    };
    let fallback = koopman_operator(&states, &strict).unwrap();
    assert_eq!(fallback.method, FitMethod::DirectLstsq);
    assert!(
        fallback
            .warnings
            .iter()
            .any(|w| w.contains("QR least squares")),
        "{:?}",
        fallback.warnings
    );
    let gram = koopman_operator(&states, &FitOptions::default()).unwrap();
    assert_eq!(gram.method, FitMethod::Gram);
    let diff = (fallback.koopman_operator.as_ref() - gram.koopman_operator.as_ref()).norm_l2();
    assert!(diff < 1e-8, "{diff}");
    // Other estimators keep the Gram solution and warn.
    let tls = koopman_operator(
        &states,
        &FitOptions {
            estimator: Estimator::TotalLeastSquares,
            ..strict
        },
    )
    .unwrap();
    assert_eq!(tls.method, FitMethod::Gram);
    assert!(tls.warnings.iter().any(|w| w.contains("condition")));
}

#[test]
fn basis_sign_flips_change_eq11_with_modulus_but_not_the_projection() {
    let mut r = rng(21);
    let truth = [
        c64::new(0.9, 0.3),
        c64::new(0.6, 0.5),
        c64::new(0.7, 0.0),
        c64::new(-0.4, 0.2),
    ];
    let a = matrix_with_eigenvalues(&truth, &mut r);
    let states = States::from_f64(simulate_linear(&a, 6, 25, &mut r), 6, 25, 7).unwrap();
    let model = fit_full(&states);
    let spec = Spectrum::new(&model).unwrap();
    // The fits use the canonical convention (largest component of each basis vector positive).
    assert!(is_canonical(model.basis.as_ref()));
    let h = states.sequence(2).to_owned();
    let signs = [1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0];
    let (m2, s2) = with_basis_signs(&model, &spec, &signs).unwrap();
    assert!(!is_canonical(m2.basis.as_ref()));
    // The flipped fit is the same fit: same one-step map, same eigenvalues, C' V' = V' Λ.
    let dm = m2.prediction_map().as_ref() - model.prediction_map().as_ref();
    assert!(dm.norm_l2() < 1e-10);
    let cv = Mat::<c64>::from_fn(7, 7, |i, j| {
        (0..7)
            .map(|l| c64::new(m2.koopman_operator[(i, l)], 0.0) * s2.v[(l, j)])
            .sum::<c64>()
            - s2.v[(i, j)] * s2.eigenvalues[j]
    });
    assert!(cv.norm_l2() < 1e-8, "C' V' != V' Λ: {}", cv.norm_l2());
    for set in [vec![0, 1], vec![2, 3], vec![4], vec![5, 6]] {
        // Sign-invariant reconstruction (no modulus): unchanged.
        let p1 = project_onto(h.as_ref(), &model, &spec, &set).unwrap();
        let p2 = project_onto(h.as_ref(), &m2, &s2, &set).unwrap();
        assert!(
            (p1.as_ref() - p2.as_ref()).norm_l2() < 1e-9 * h.norm_l2(),
            "projection on {set:?} moved under a sign flip"
        );
        assert!(pair_product_imaginary_share(&spec, &set).unwrap() < 1e-12);
    }
    // Eq. 11 with the modulus: moves for a conjugate pair.
    let moved = [vec![0, 1], vec![2, 3]].iter().any(|set| {
        let r1 = reconstruct_modulus(h.as_ref(), &model, &spec, set).unwrap();
        let r2 = reconstruct_modulus(h.as_ref(), &m2, &s2, set).unwrap();
        (r1.as_ref() - r2.as_ref()).norm_l2() > 1e-3 * r1.norm_l2()
    });
    assert!(
        moved,
        "the modulus reconstruction did not depend on the signs"
    );
    // A mixed "pair" (a real eigenvector with one member of a conjugate pair) is complex.
    let mixed = pair_product_imaginary_share(&spec, &[3, 4]).unwrap();
    assert!(mixed > 0.1, "mixed set imaginary share {mixed}");
    assert!(with_basis_signs(&model, &spec, &[1.0; 3]).is_err());
}

#[test]
fn merged_accumulators_and_their_parts_equal_one_accumulator() {
    let states = simulate_rnn(10, 12, 30, 8);
    let (n, k) = (30, 10);
    let data = states.data();
    let lengths: Vec<usize> = (0..12).map(|i| 10 + (i * 7) % 21).collect();
    let mut whole = GramAccumulator::new(k);
    whole.push_f64(data, 12, n, Some(&lengths)).unwrap();
    let mut a = GramAccumulator::new(k);
    let mut b = GramAccumulator::new(k);
    a.push_f64(&data[..5 * n * k], 5, n, Some(&lengths[..5]))
        .unwrap();
    b.push_f64(&data[5 * n * k..], 7, n, Some(&lengths[5..]))
        .unwrap();
    // b travels as plain data (what a worker process sends back) before the merge
    let b = GramAccumulator::from_parts(&b.to_parts()).unwrap();
    a.merge(&b).unwrap();
    assert_eq!(a.num_sequences(), 12);
    assert_eq!(a.num_states(), lengths.iter().sum::<usize>());
    let opts = FitOptions {
        rank: Rank::Fixed(6),
        ..FitOptions::default()
    };
    let (want, got) = (whole.finish(&opts).unwrap(), a.finish(&opts).unwrap());
    let (pw, pg) = (want.prediction_map(), got.prediction_map());
    assert!((pw.as_ref() - pg.as_ref()).norm_l2() < 1e-12 * pw.norm_l2());
    assert_eq!(want.num_pairs, got.num_pairs);
    // a mismatched merge or damaged parts are errors, and leave the accumulator as it was
    assert!(a.merge(&GramAccumulator::new(k + 1)).is_err());
    assert!(
        a.merge(&GramAccumulator::with_precision(k, Precision::Mixed))
            .is_err()
    );
    let mut parts = a.to_parts();
    parts.g01.pop();
    assert!(GramAccumulator::from_parts(&parts).is_err());
    assert_eq!(a.num_sequences(), 12);
    // the e_rel pass on f64 data in place equals the one on States, and its sums add up
    let states = States::new_with_lengths(data.to_vec(), 12, n, k, lengths.clone()).unwrap();
    let e = relative_error(&states, &got).unwrap();
    let mut ea = RelativeErrorAccumulator::new(&got);
    ea.push_f64(data, 12, n, Some(&lengths)).unwrap();
    let (sum, count, _) = ea.sums();
    assert_eq!(count, e.count);
    assert!((sum / count as f64 - e.e_rel).abs() < 1e-14);
}

#[test]
fn eigen_groups_and_coordinates() {
    let eigs = [
        c64::new(0.9 * 0.3f64.cos(), 0.9 * 0.3f64.sin()),
        c64::new(0.7, 0.0),
        c64::new(0.5, 0.0),
    ];
    let mut r = rng(11);
    let a = matrix_with_eigenvalues(&eigs, &mut r);
    let states = States::from_f64(simulate_linear(&a, 6, 40, &mut r), 6, 40, 4).unwrap();
    let model = fit_full(&states);
    let spectrum = Spectrum::new(&model).unwrap();
    assert_eq!(spectrum.groups(), vec![vec![0, 1], vec![2], vec![3]]);
    let h = states.sequence(2);
    let coords = eigen_coordinates(h, &model, &spectrum).unwrap();
    let all = projections(&states, &model, &spectrum).unwrap();
    for t in 0..h.nrows() {
        for j in 0..4 {
            assert!((coords[(t, j)] - all[(2 * 40 + t) * 4 + j]).norm() < 1e-14);
        }
    }
}
