//! Resampled error bars (issue #23): weighted refits, eigenvalue matching, coverage.

mod common;

use common::*;
use kann_koopman::faer::c64;
use kann_koopman::resample::assign_min_cost;
use kann_koopman::*;

fn full_rank(k: usize) -> FitOptions {
    FitOptions {
        rank: Rank::Fixed(k),
        ..FitOptions::default()
    }
}

#[test]
fn weights_all_ones_reproduce_the_plain_fit() {
    let states = simulate_rnn(6, 8, 40, 3);
    let opts = full_rank(6);
    let plain = koopman_operator(&states, &opts).unwrap();
    let parts = SequenceGrams::from_states(&states, Precision::F64).unwrap();
    let w = parts.fit_weighted(&[1.0; 8], &opts).unwrap();
    // Same sums in another order: equal to rounding.
    let d = (&plain.koopman_operator - &w.koopman_operator).norm_max();
    assert!(d < 1e-10, "operator differs by {d}");
    assert_eq!(plain.num_pairs, w.num_pairs);
    assert_eq!(plain.num_states, w.num_states);
    let a = Spectrum::new(&plain).unwrap().eigenvalues;
    let b = Spectrum::new(&w).unwrap().eigenvalues;
    assert!(eig_distance(&a, &b) < 1e-9);
}

#[test]
fn hungarian_finds_the_minimum_cost_assignment() {
    // Greedy row-by-row would take (0,0) = 1 then (1,1) = 10; the optimum is 2 + 2.
    let cost = [1.0, 2.0, 2.0, 10.0];
    assert_eq!(assign_min_cost(&cost, 2), vec![1, 0]);
    // Brute force over all permutations of a 5 × 5 matrix.
    let mut r = rng(7);
    let n = 5;
    let cost: Vec<f64> = (0..n * n).map(|_| normal(&mut r).abs()).collect();
    let got = assign_min_cost(&cost, n);
    let total = |p: &[usize]| {
        p.iter()
            .enumerate()
            .map(|(i, &j)| cost[i * n + j])
            .sum::<f64>()
    };
    let mut best = f64::INFINITY;
    let mut perm: Vec<usize> = (0..n).collect();
    permute(&mut perm, 0, &mut |p| best = best.min(total(p)));
    assert!((total(&got) - best).abs() < 1e-12);
}

fn permute(p: &mut Vec<usize>, i: usize, f: &mut impl FnMut(&[usize])) {
    if i == p.len() {
        f(p);
        return;
    }
    for j in i..p.len() {
        p.swap(i, j);
        permute(p, i + 1, f);
        p.swap(i, j);
    }
}

#[test]
fn matching_keeps_a_near_degenerate_pair_apart() {
    // Reference: 0.99 and 0.985 (near-degenerate), 0.5. The replicate lists them shuffled and
    // moved by 1e-3; each must go back to its own reference eigenvalue.
    let reference = [
        c64::new(0.99, 0.0),
        c64::new(0.985, 0.0),
        c64::new(0.5, 0.0),
    ];
    let replicate = [
        c64::new(0.501, 0.0),
        c64::new(0.9855, 0.0),
        c64::new(0.9905, 0.0),
    ];
    assert_eq!(match_eigenvalues(&reference, &replicate), vec![2, 1, 0]);
    // A conjugate pair next to a real eigenvalue of the same modulus.
    let reference = [
        c64::new(0.9, 0.1),
        c64::new(0.9, -0.1),
        c64::new(0.905, 0.0),
    ];
    let replicate = [
        c64::new(0.906, 0.0),
        c64::new(0.9, -0.101),
        c64::new(0.9, 0.101),
    ];
    assert_eq!(match_eigenvalues(&reference, &replicate), vec![2, 1, 0]);
}

#[test]
fn planted_noisy_system_interval_covers_the_truth() {
    // x_{t+1} = A x_t + noise, known eigenvalues; the 95% bootstrap interval of |λ| should
    // cover the truth for most of the eigenvalues over a few independent data sets.
    let truth = [c64::new(0.9, 0.0), c64::new(0.6, 0.3), c64::new(-0.5, 0.0)];
    let want = full_spectrum(&truth);
    let (mut covered, mut total) = (0, 0);
    for rep in 0..10 {
        let mut r = rng(100 + rep);
        let a = matrix_with_eigenvalues(&truth, &mut r);
        let k = a.nrows();
        let (s, n) = (40, 30);
        let mut data = vec![0.0; s * n * k];
        for i in 0..s {
            let mut x: Vec<f64> = (0..k).map(|_| normal(&mut r)).collect();
            for t in 0..n {
                data[(i * n + t) * k..(i * n + t + 1) * k].copy_from_slice(&x);
                x = (0..k)
                    .map(|p| (0..k).map(|q| a[(p, q)] * x[q]).sum::<f64>() + 0.3 * normal(&mut r))
                    .collect();
            }
        }
        let states = States::from_f64(data, s, n, k).unwrap();
        let parts = SequenceGrams::from_states(&states, Precision::F64).unwrap();
        let opts = BootstrapOptions {
            replicates: 200,
            seed: rep,
            ..BootstrapOptions::default()
        };
        let ci = bootstrap_spectrum(&parts, &full_rank(k), &opts).unwrap();
        assert_eq!(ci.replicates, 200);
        // Deterministic: the same seed gives the same intervals.
        if rep == 0 {
            let again = bootstrap_spectrum(&parts, &full_rank(k), &opts).unwrap();
            assert_eq!(again.eigen[0].modulus_ci, ci.eigen[0].modulus_ci);
        }
        let got: Vec<c64> = ci
            .eigen
            .iter()
            .map(|e| c64::new(e.lambda[0], e.lambda[1]))
            .collect();
        let m = match_eigenvalues(&got, &want);
        for (i, e) in ci.eigen.iter().enumerate() {
            let t = want[m[i]].norm();
            assert!(e.modulus_ci[0] <= e.modulus_ci[1]);
            total += 1;
            if e.modulus_ci[0] <= t && t <= e.modulus_ci[1] {
                covered += 1;
            }
        }
    }
    let rate = covered as f64 / total as f64;
    eprintln!("coverage of the 95% interval of |λ|: {covered}/{total}");
    // Nominal 0.95; with 40 eigenvalue checks a rate below 0.8 means the intervals are wrong.
    assert!(rate >= 0.8, "coverage {covered}/{total}");
}

#[test]
fn pushed_batches_keep_the_grams_of_from_states() {
    // Sequences pushed in two f32/f64 batches with lengths give the same per-sequence Grams as
    // one pass over a States copy: the weighted sums are equal bit for bit.
    let (s, n, k) = (6, 20, 4);
    let full = simulate_rnn(k, s, n, 11);
    let lengths = [20, 13, 7, 20, 1, 16];
    let states = full.clone().with_lengths(lengths.to_vec()).unwrap();
    let want = SequenceGrams::from_states(&states, Precision::F64).unwrap();
    let data = full.data();
    let mut got = SequenceGrams::new(k, Precision::F64);
    got.push_f64(&data[..2 * n * k], 2, n, Some(&lengths[..2]))
        .unwrap();
    got.push_f64(&data[2 * n * k..], 4, n, Some(&lengths[2..]))
        .unwrap();
    assert_eq!(got.num_sequences(), s);
    assert_eq!(got.hidden(), k);
    let w = [1.0, 0.0, 3.0, 1.0, 2.0, 1.0];
    let (a, b) = (want.weighted(&w).unwrap(), got.weighted(&w).unwrap());
    assert_eq!(a.g, b.g);
    assert_eq!(a.g01, b.g01);
    assert_eq!(a.g0, b.g0);
    assert_eq!(a.g1, b.g1);
    assert_eq!((a.num_states, a.num_pairs), (b.num_states, b.num_pairs));

    // f32 input: the same as the f32 values widened to f64.
    let narrow: Vec<f32> = data.iter().map(|&x| x as f32).collect();
    let widened: Vec<f64> = narrow.iter().map(|&x| x as f64).collect();
    let mut g32 = SequenceGrams::new(k, Precision::F64);
    g32.push_f32(&narrow, s, n, None).unwrap();
    let mut g64 = SequenceGrams::new(k, Precision::F64);
    g64.push_f64(&widened, s, n, None).unwrap();
    let ones = [1.0; 6];
    assert_eq!(
        g32.weighted(&ones).unwrap().g,
        g64.weighted(&ones).unwrap().g
    );

    // A batch with a NaN in a valid step adds nothing and names its batch-local place.
    let mut bad = narrow[..2 * n * k].to_vec();
    bad[(n + 3) * k + 1] = f32::NAN;
    let err = g32.push_f32(&bad, 2, n, None).unwrap_err();
    assert!(
        matches!(
            err,
            KoopmanError::NonFinite {
                seq: 1,
                time: 3,
                unit: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(g32.num_sequences(), s);
    // No sequence: weighting is an error, not a panic.
    assert!(SequenceGrams::new(k, Precision::F64).weighted(&[]).is_err());
}

#[test]
fn fit_intervals_follow_the_fits_order() {
    let states = simulate_rnn(5, 12, 40, 4);
    let opts = full_rank(5);
    let grams = SequenceGrams::from_states(&states, Precision::F64).unwrap();
    let boot = BootstrapOptions {
        replicates: 50,
        seed: 3,
        ..BootstrapOptions::default()
    };
    let plain = bootstrap_spectrum(&grams, &opts, &boot).unwrap();
    let lambda: Vec<c64> = plain
        .eigen
        .iter()
        .map(|e| c64::new(e.lambda[0], e.lambda[1]))
        .collect();
    // The fit's eigenvalues listed in reverse: the intervals come back in that order.
    let reversed: Vec<c64> = lambda.iter().rev().copied().collect();
    let model = koopman_operator(&states, &opts).unwrap();
    let ci = bootstrap_intervals(
        &grams,
        &opts,
        model.rank(),
        model.method,
        &reversed,
        &boot,
        &|| {},
    )
    .unwrap();
    let r = lambda.len();
    for (j, e) in ci.eigen.iter().enumerate() {
        assert_eq!(*e, EigenCi::from(&plain.eigen[r - 1 - j]));
    }
    assert!(ci.warnings.is_empty(), "{:?}", ci.warnings);
    assert_eq!(ci.summary.replicates, 50);
    assert_eq!(ci.summary.sequences, 12);
    assert_eq!(ci.summary.num_dominant_ci, plain.count_above_ci);
    // Eigenvalues away from the Gram fit's: aligned all the same, with a warning.
    let moved: Vec<c64> = reversed.iter().map(|l| l * 0.9).collect();
    let ci = bootstrap_intervals(&grams, &opts, 5, model.method, &moved, &boot, &|| {}).unwrap();
    assert_eq!(ci.warnings.len(), 1, "{:?}", ci.warnings);
    // One sequence cannot be resampled.
    let one = SequenceGrams::from_states(&simulate_rnn(5, 1, 40, 4), Precision::F64).unwrap();
    let err =
        bootstrap_intervals(&one, &opts, 5, model.method, &lambda, &boot, &|| {}).unwrap_err();
    assert!(err.to_string().contains("at least 2"), "{err}");
}
