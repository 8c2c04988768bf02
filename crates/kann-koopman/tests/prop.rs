//! Property tests over random linear systems (few cases, fast).

mod common;

use common::*;
use kann_koopman::faer::c64;
use kann_koopman::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_linear_systems_are_recovered(
        seed in 0u64..1_000_000,
        reals in proptest::collection::vec(0.3f64..0.98, 0..3),
        pairs in proptest::collection::vec((0.4f64..0.98, 0.1f64..3.0), 0..2),
        batch in 1usize..4,
    ) {
        let mut truth: Vec<c64> = reals.iter().enumerate()
            .map(|(i, &m)| c64::new(if i % 2 == 0 { m } else { -m }, 0.0)).collect();
        truth.extend(pairs.iter().map(|&(m, a)| c64::new(m * a.cos(), m * a.sin())));
        prop_assume!(!truth.is_empty());
        let mut r = rng(seed);
        let a = matrix_with_eigenvalues(&truth, &mut r);
        let k = a.nrows();
        let (s, n) = (k + 2, 12);
        let states = States::from_f64(simulate_linear(&a, s, n, &mut r), s, n, k).unwrap();
        let opts = FitOptions { rank: Rank::Fixed(k), ..FitOptions::default() };
        let model = koopman_operator(&states, &opts).unwrap();
        let spec = Spectrum::new(&model).unwrap();
        let d = eig_distance(&spec.eigenvalues, &full_spectrum(&truth));
        prop_assert!(d < 1e-7, "eigenvalue error {}", d);
        prop_assert!(relative_error(&states, &model).unwrap().e_rel < 1e-14);
        // Streaming in batches gives the same operator.
        let mut acc = GramAccumulator::new(k);
        let mut i = 0;
        while i < s {
            let j = (i + batch).min(s);
            acc.push_f64(&states.data()[i * n * k..j * n * k], j - i, n, None).unwrap();
            i = j;
        }
        let streamed = acc.finish(&opts).unwrap();
        // The SVD basis is fixed only up to the sign (or rotation, for repeated singular values)
        // of its columns, so compare the basis-free operator `B C Bᵀ` (Eq. 6) on the states.
        let state_operator = |m: &KoopmanModel| {
            m.basis.as_ref() * m.koopman_operator.as_ref() * m.basis.as_ref().transpose()
        };
        let (one, many) = (state_operator(&model), state_operator(&streamed));
        let diff = (one.as_ref() - many.as_ref()).norm_l2() / one.norm_l2().max(1e-300);
        prop_assert!(diff < 1e-9, "streamed operator differs by {:e} (relative)", diff);
    }
}
