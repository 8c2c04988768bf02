//! The blocked products over the states: `f64` blocks equal the plain sums, and the
//! mixed-precision path (`f32` blocks summed in `f64`) agrees with `f64` to the documented
//! tolerances, or refits in `f64` when the normal matrix is ill conditioned.

mod common;

use common::*;
use kann_koopman::faer::Mat;
use kann_koopman::*;

/// The states of `simulate_rnn`, rounded to `f32` (as states read from an `f32` `.npy` are),
/// with the given valid lengths.
fn f32_states(k: usize, s: usize, n: usize, seed: u64, lengths: Vec<usize>) -> States {
    let st = simulate_rnn(k, s, n, seed);
    let data: Vec<f32> = st.data().iter().map(|&x| x as f32).collect();
    States::from_f32(&data, s, n, k)
        .unwrap()
        .with_lengths(lengths)
        .unwrap()
}

/// Plain `f64` sums of `G`, `G0`, `G1`, `G01` over the valid rows (no blocks, no threads).
fn naive_grams(states: &States) -> [Mat<f64>; 4] {
    let k = states.hidden();
    let mut g = [(); 4].map(|_| Mat::<f64>::zeros(k, k));
    for i in 0..states.num_sequences() {
        let len = states.lengths()[i];
        for t in 0..len {
            let h = states.state(i, t);
            for a in 0..k {
                for b in 0..k {
                    g[0][(a, b)] += h[a] * h[b];
                    if t + 1 < len {
                        let y = states.state(i, t + 1);
                        g[1][(a, b)] += h[a] * h[b];
                        g[2][(a, b)] += y[a] * y[b];
                        g[3][(a, b)] += h[a] * y[b];
                    }
                }
            }
        }
    }
    g
}

/// Max over entries of `|a_ij − b_ij| / √(g_ii g_jj)`.
fn scaled_diff(a: &Mat<f64>, b: &Mat<f64>, g: &Mat<f64>) -> f64 {
    let k = a.nrows();
    let mut worst = 0.0f64;
    for i in 0..k {
        for j in 0..k {
            let d = (a[(i, j)] - b[(i, j)]).abs() / (g[(i, i)] * g[(j, j)]).sqrt();
            worst = worst.max(d);
        }
    }
    worst
}

fn grams_of(states: &States, precision: Precision) -> Grams {
    let mut acc = GramAccumulator::with_precision(states.hidden(), precision);
    acc.push(states).unwrap();
    acc.grams()
}

fn sorted_moduli(model: &KoopmanModel) -> Vec<f64> {
    let spec = Spectrum::new(model).unwrap();
    let mut m: Vec<f64> = spec.eigenvalues.iter().map(|l| l.norm()).collect();
    m.sort_by(|a, b| b.total_cmp(a));
    m
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Lengths around the block size (256 rows): block boundaries at, before and after the end of a
/// sequence, single-step sequences, several blocks.
const LENGTHS: [usize; 8] = [600, 257, 256, 255, 1, 2, 513, 511];

#[test]
fn blocked_f64_grams_equal_plain_sums_across_block_boundaries() {
    let states = f32_states(12, 8, 600, 3, LENGTHS.to_vec());
    let want = naive_grams(&states);
    let got = grams_of(&states, Precision::F64);
    assert_eq!(got.num_states, LENGTHS.iter().sum::<usize>());
    assert_eq!(got.num_pairs, LENGTHS.iter().map(|l| l - 1).sum::<usize>());
    for (name, g, w) in [
        ("G", &got.g, &want[0]),
        ("G0", &got.g0, &want[1]),
        ("G1", &got.g1, &want[2]),
        ("G01", &got.g01, &want[3]),
    ] {
        let d = scaled_diff(g, w, &want[0]);
        assert!(d < 1e-13, "{name}: scaled difference {d:.2e}");
    }
}

#[test]
fn mixed_grams_are_within_2e7_of_f64() {
    let states = f32_states(12, 8, 600, 4, LENGTHS.to_vec());
    let exact = grams_of(&states, Precision::F64);
    let mixed = grams_of(&states, Precision::Mixed);
    assert_eq!(mixed.precision, Precision::Mixed);
    let mut worst = 0.0f64;
    for (a, b) in [
        (&mixed.g, &exact.g),
        (&mixed.g0, &exact.g0),
        (&mixed.g1, &exact.g1),
        (&mixed.g01, &exact.g01),
    ] {
        worst = worst.max(scaled_diff(a, b, &exact.g));
    }
    // f32 sums of at most 256 products: a few f32 ulps (6e-8) of the scale.
    assert!(worst < 2e-7, "mixed Grams differ by {worst:.2e}");
    assert!(
        worst > 0.0,
        "mixed Grams equal the f64 ones: f32 products not used"
    );
}

#[test]
fn mixed_fit_matches_f64_eigenvalues_and_e_rel_when_well_conditioned() {
    let lengths = vec![700, 650, 256, 300, 700, 513, 699, 1];
    let states = f32_states(32, 8, 700, 5, lengths);
    let exact = koopman_operator(
        &states,
        &FitOptions {
            precision: Precision::F64,
            ..FitOptions::default()
        },
    )
    .unwrap();
    assert!(
        exact.condition < MIXED_CONDITION_LIMIT,
        "test states should be well conditioned, cond {}",
        exact.condition
    );
    let mixed = koopman_operator(
        &states,
        &FitOptions {
            precision: Precision::Mixed,
            ..FitOptions::default()
        },
    )
    .unwrap();
    assert_eq!(mixed.precision, Precision::Mixed, "the fast path was taken");
    let d = max_diff(&sorted_moduli(&mixed), &sorted_moduli(&exact));
    assert!(d < 1e-6, "eigenvalue moduli differ by {d:.2e}");
    assert!(d > 0.0, "identical moduli: f32 products not used");
    let e_exact = relative_error(&states, &exact).unwrap();
    let e_mixed = relative_error(&states, &mixed).unwrap();
    assert_eq!(e_mixed.count, e_exact.count);
    let de = (e_mixed.e_rel - e_exact.e_rel).abs();
    assert!(de < 1e-8, "e_rel differs by {de:.2e}");
}

#[test]
fn mixed_e_rel_of_one_model_matches_f64() {
    let states = f32_states(16, 8, 600, 6, LENGTHS.to_vec());
    let model = koopman_operator(&states, &FitOptions::default()).unwrap();
    assert_eq!(model.precision, Precision::F64);
    let mut exact = RelativeErrorAccumulator::new(&model);
    exact.push(&states).unwrap();
    let mut mixed = RelativeErrorAccumulator::new(&model).with_precision(Precision::Mixed);
    mixed.push(&states).unwrap();
    let (a, b) = (exact.finish().unwrap(), mixed.finish().unwrap());
    assert_eq!(a.count, LENGTHS.iter().map(|l| l - 1).sum::<usize>());
    assert_eq!(a.count, b.count);
    let d = (a.e_rel - b.e_rel).abs();
    assert!(
        d < 1e-8 && d > 0.0,
        "e_rel {} vs {}: differ by {d:.2e}",
        a.e_rel,
        b.e_rel
    );
}

#[test]
fn ill_conditioned_states_are_refitted_in_f64() {
    // One unit nearly a copy of another: the normal matrix's condition number is huge.
    let base = f32_states(16, 6, 400, 7, vec![400; 6]);
    let (s, n, k) = (6, 400, 16);
    let mut data = base.data().to_vec();
    for row in data.chunks_mut(k) {
        row[k - 1] = row[0] + 1e-3 * row[k - 1];
    }
    let f32s: Vec<f32> = data.iter().map(|&x| x as f32).collect();
    let states = States::from_f32(&f32s, s, n, k).unwrap();
    let opts = |precision| FitOptions {
        rank: Rank::Fixed(k),
        precision,
        ..FitOptions::default()
    };
    let exact = koopman_operator(&states, &opts(Precision::F64)).unwrap();
    assert!(
        exact.condition > MIXED_CONDITION_LIMIT,
        "cond {}",
        exact.condition
    );
    let mixed = koopman_operator(&states, &opts(Precision::Mixed)).unwrap();
    assert_eq!(mixed.precision, Precision::F64, "refitted in f64");
    assert_eq!(mixed.koopman_operator, exact.koopman_operator);
    // Without the guard the mixed Grams would have moved the eigenvalues.
    let mut acc = GramAccumulator::with_precision(k, Precision::Mixed);
    acc.push(&states).unwrap();
    let raw = acc.finish(&opts(Precision::Mixed)).unwrap();
    let d = max_diff(&sorted_moduli(&raw), &sorted_moduli(&exact));
    assert!(
        d > 1e-6,
        "unguarded mixed fit moved the moduli by only {d:.2e}"
    );
}

#[test]
fn streamed_f32_batches_equal_one_push_in_both_precisions() {
    let states = f32_states(12, 8, 600, 8, LENGTHS.to_vec());
    let (s, n, k) = (8, 600, 12);
    let data: Vec<f32> = states.data().iter().map(|&x| x as f32).collect();
    for precision in [Precision::F64, Precision::Mixed] {
        let whole = grams_of(&states, precision);
        let mut acc = GramAccumulator::with_precision(k, precision);
        let half = s / 2 * n * k;
        acc.push_f32(&data[..half], s / 2, n, Some(&LENGTHS[..s / 2]))
            .unwrap();
        acc.push_f32(&data[half..], s / 2, n, Some(&LENGTHS[s / 2..]))
            .unwrap();
        let got = acc.grams();
        for (a, b) in [
            (&got.g, &whole.g),
            (&got.g01, &whole.g01),
            (&got.g0, &whole.g0),
        ] {
            let d = scaled_diff(a, b, &whole.g);
            assert!(d < 1e-13, "{precision}: streamed Grams differ by {d:.2e}");
        }
    }
}
