//! Stage "silhouette" (Fig. 3 right): the cumulative silhouette `σ(t)` of normal vs anomalous
//! encoder states on `H~ = H B` (the operator refitted on both together), on its first five
//! principal components, on the five most dominant Koopman eigenvectors (embedding
//! `[Re, Im](H~ V_S)`), and, as the baseline that could explain "Koopman lowest" away, on five
//! random orthonormal directions of the coefficient space (mean ± sd over seeded draws).

use anyhow::Result;
use kann_koopman::faer::{Mat, MatRef};
use kann_koopman::{
    Pca, States, coefficients, cumulative_time_average, dominance, silhouette_over_time,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::kann::{self, projection_embedding, to_rows};

/// Dimension of the PCA, Koopman and random embeddings.
pub const EMBED: usize = 5;
/// Draws of random directions.
pub const RANDOM_DRAWS: usize = 20;

/// The curves `σ(t)`, `t = 1..n`.
#[derive(Debug, Clone, PartialEq)]
pub struct SilhouetteCurves {
    /// On `H~`.
    pub sigma: Vec<f64>,
    /// On the first five principal components of `H~`.
    pub pca: Vec<f64>,
    /// On the five most dominant Koopman eigenvectors.
    pub koopman: Vec<f64>,
    /// Random directions: mean over draws per step.
    pub random_mean: Vec<f64>,
    /// Random directions: standard deviation over draws per step.
    pub random_sd: Vec<f64>,
    /// Random directions: `σ(n)` of every draw.
    pub random_final: Vec<f64>,
    /// The Koopman set, 0-based.
    pub koopman_set: Vec<usize>,
}

/// Fig. 3 (right) at the last step, as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilhouetteSummary {
    /// Normal + anomalous beats.
    pub beats: usize,
    /// `σ` on `H B` at `t = n`.
    pub sigma: f64,
    /// `σ_PCA` (first 5 principal components of `H B`).
    pub sigma_pca: f64,
    /// `σ_Koopman` (5 most dominant Koopman eigenvectors).
    pub sigma_koopman: f64,
    /// The 5 eigenvectors, 1-based.
    pub koopman_set: Vec<usize>,
    /// Baseline: random orthonormal 5-frames of the coefficient space drawn.
    pub random_draws: usize,
    /// Baseline: mean of `σ(n)` over the draws.
    pub sigma_random_mean: f64,
    /// Baseline: standard deviation of `σ(n)` over the draws.
    pub sigma_random_sd: f64,
    /// Baseline: the smallest `σ(n)` of a draw.
    pub sigma_random_min: f64,
    /// How many draws have a lower `σ(n)` than the Koopman embedding.
    pub random_below_koopman: usize,
}

impl SilhouetteCurves {
    /// The summary at the last step.
    pub fn summary(&self, beats: usize) -> SilhouetteSummary {
        let last = |v: &[f64]| v.last().copied().unwrap_or(f64::NAN);
        let (mean, sd) = mean_sd(&self.random_final);
        let k = last(&self.koopman);
        SilhouetteSummary {
            beats,
            sigma: last(&self.sigma),
            sigma_pca: last(&self.pca),
            sigma_koopman: k,
            koopman_set: self.koopman_set.iter().map(|j| j + 1).collect(),
            random_draws: self.random_final.len(),
            sigma_random_mean: mean,
            sigma_random_sd: sd,
            sigma_random_min: self
                .random_final
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min),
            random_below_koopman: self.random_final.iter().filter(|&&x| x < k).count(),
        }
    }
}

/// Mean and sample standard deviation (0 for fewer than two values).
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n.max(1.0);
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A random orthonormal `r × d` frame (Gaussian columns, Gram–Schmidt), uniformly distributed.
pub fn random_frame(r: usize, d: usize, rng: &mut ChaCha8Rng) -> Mat<f64> {
    let mut w = Mat::<f64>::from_fn(r, d, |_, _| normal(rng));
    for j in 0..d {
        for _ in 0..2 {
            for p in 0..j {
                let dot: f64 = (0..r).map(|i| w[(i, j)] * w[(i, p)]).sum();
                for i in 0..r {
                    w[(i, j)] -= dot * w[(i, p)];
                }
            }
        }
        let norm = (0..r).map(|i| w[(i, j)].powi(2)).sum::<f64>().sqrt();
        for i in 0..r {
            w[(i, j)] /= norm;
        }
    }
    w
}

/// `σ(t)` of rows `points` (`s·n × d`, sample-major) with `labels` (one per sample).
fn sigma_curve(points: MatRef<'_, f64>, s: usize, n: usize, labels: &[usize]) -> Result<Vec<f64>> {
    Ok(cumulative_time_average(&silhouette_over_time(
        &to_rows(points),
        s,
        n,
        points.ncols(),
        labels,
    )?))
}

/// `σ(t)` on `draws` random orthonormal `d`-frames of the coefficient space of `tilde`; returns
/// the curve of each draw.
pub fn random_direction_curves(
    tilde: MatRef<'_, f64>,
    s: usize,
    n: usize,
    labels: &[usize],
    d: usize,
    draws: usize,
    seed: u64,
) -> Result<Vec<Vec<f64>>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..draws)
        .map(|_| {
            let w = random_frame(tilde.ncols(), d, &mut rng);
            sigma_curve((tilde * w.as_ref()).as_ref(), s, n, labels)
        })
        .collect()
}

/// Fig. 3 (right) on the normal and anomalous states, with the random baseline.
pub fn silhouettes(
    normal: &States,
    anomalous: &States,
    rank: Option<usize>,
    seed: u64,
) -> Result<SilhouetteCurves> {
    let (s1, s2, n, k) = (
        normal.num_sequences(),
        anomalous.num_sequences(),
        normal.seq_len(),
        normal.hidden(),
    );
    let s = s1 + s2;
    let mut data = normal.data().to_vec();
    data.extend_from_slice(anomalous.data());
    let both = States::from_f64(data, s, n, k)?;
    let fit = kann::fit(&both, rank)?;
    let r = fit.model.rank();
    let rows = MatRef::from_row_major_slice(both.data(), s * n, k);
    let tilde = coefficients(rows, &fit.model);
    let labels: Vec<usize> = (0..s).map(|i| usize::from(i >= s1)).collect();
    let sigma = sigma_curve(tilde.as_ref(), s, n, &labels)?;
    let d = EMBED.min(r);
    let pca = Pca::fit(tilde.as_ref(), d)?;
    let sigma_pca = sigma_curve(pca.transform(tilde.as_ref())?.as_ref(), s, n, &labels)?;
    let ranking = dominance(&both, &fit.model, &fit.spectrum)?;
    let set: Vec<usize> = ranking.iter().take(d).map(|&(j, _)| j).collect();
    let e = projection_embedding(rows, &fit, &set);
    let sigma_k = sigma_curve(e.as_ref(), s, n, &labels)?;
    let random = random_direction_curves(tilde.as_ref(), s, n, &labels, d, RANDOM_DRAWS, seed)?;
    let (mut random_mean, mut random_sd) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for t in 0..n {
        let col: Vec<f64> = random.iter().map(|c| c[t]).collect();
        let (m, sd) = mean_sd(&col);
        random_mean.push(m);
        random_sd.push(sd);
    }
    Ok(SilhouetteCurves {
        sigma,
        pca: sigma_pca,
        koopman: sigma_k,
        random_mean,
        random_sd,
        random_final: random.iter().map(|c| c[n - 1]).collect(),
        koopman_set: set,
    })
}

/// Draws of the batches at most for [`redraw_intervals`] (each encodes two batches and redoes
/// Fig. 3 right with its random baseline).
pub const MAX_REDRAWS: usize = 50;

/// Fig. 3 (right) on other draws of the two batches from the test split: percentile intervals of
/// `σ(n)` on `H B`, PCA-5, Koopman-5 and the random baseline's mean, and how often the Koopman
/// embedding separates the classes least. The draws are of `b` beats each from the test split's
/// normal and anomalous beats (without replacement within a draw); draws overlap each other and
/// the analysis batch, so the intervals describe this test split's batches and are narrower than
/// over new data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilhouetteIntervals {
    /// How the batches were drawn.
    pub scheme: String,
    /// Draws made.
    pub draws: usize,
    /// Draws whose fit failed (left out).
    pub failed: usize,
    /// Interval level.
    pub level: f64,
    /// Seed of the first draw (draw `i` uses `seed + 1000 + i`).
    pub seed: u64,
    /// Interval of `σ(n)` on `H B`.
    pub sigma_ci: [f64; 2],
    /// Interval of `σ(n)` on PCA-5.
    pub sigma_pca_ci: [f64; 2],
    /// Interval of `σ(n)` on Koopman-5.
    pub sigma_koopman_ci: [f64; 2],
    /// Interval of the random baseline's mean `σ(n)`.
    pub sigma_random_mean_ci: [f64; 2],
    /// Share of draws in which Koopman-5 is below PCA-5.
    pub koopman_below_pca: f64,
    /// Share of draws in which Koopman-5 is below the random baseline's mean.
    pub koopman_below_random_mean: f64,
}

/// Percentile interval of `v` at [`crate::intervals::LEVEL`].
fn interval(mut v: Vec<f64>) -> [f64; 2] {
    v.sort_by(f64::total_cmp);
    let tail = (1.0 - crate::intervals::LEVEL) / 2.0;
    [
        kann_koopman::percentile(&v, tail),
        kann_koopman::percentile(&v, 1.0 - tail),
    ]
}

/// Redoes [`silhouettes`] on `draws` batches: `batch(i)` gives the normal and anomalous states of
/// draw `i`.
pub fn redraw_intervals(
    draws: usize,
    rank: Option<usize>,
    seed: u64,
    mut batch: impl FnMut(usize) -> Result<(States, States)>,
) -> Result<SilhouetteIntervals> {
    let mut rows: Vec<SilhouetteSummary> = Vec::with_capacity(draws);
    let mut failed = 0;
    let bar = kann_data::progress::progress_bar(draws as u64, "  draws");
    for i in 0..draws {
        bar.inc(1);
        let (normal, anomalous) = batch(i)?;
        let beats = normal.num_sequences() + anomalous.num_sequences();
        match silhouettes(&normal, &anomalous, rank, seed.wrapping_add(i as u64)) {
            Ok(c) => rows.push(c.summary(beats)),
            Err(_) => failed += 1,
        }
    }
    bar.finish_and_clear();
    let col = |f: fn(&SilhouetteSummary) -> f64| rows.iter().map(f).collect::<Vec<_>>();
    let n = rows.len().max(1) as f64;
    let share = |f: fn(&SilhouetteSummary) -> bool| rows.iter().filter(|r| f(r)).count() as f64 / n;
    Ok(SilhouetteIntervals {
        scheme: "redraw: other batches from the test split".into(),
        draws,
        failed,
        level: crate::intervals::LEVEL,
        seed,
        sigma_ci: interval(col(|r| r.sigma)),
        sigma_pca_ci: interval(col(|r| r.sigma_pca)),
        sigma_koopman_ci: interval(col(|r| r.sigma_koopman)),
        sigma_random_mean_ci: interval(col(|r| r.sigma_random_mean)),
        koopman_below_pca: share(|r| r.sigma_koopman < r.sigma_pca),
        koopman_below_random_mean: share(|r| r.sigma_koopman < r.sigma_random_mean),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_frames_are_orthonormal_and_seeded() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let w = random_frame(9, 5, &mut rng);
        let g = w.transpose() * w.as_ref();
        for i in 0..5 {
            for j in 0..5 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((g[(i, j)] - want).abs() < 1e-12);
            }
        }
        let w2 = random_frame(9, 5, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(w, w2);
    }

    /// Two classes separated along the first coordinate of a 6-d space, noise elsewhere.
    fn separated(s: usize, n: usize) -> (Mat<f64>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let labels: Vec<usize> = (0..s).map(|i| usize::from(i >= s / 2)).collect();
        let m = Mat::<f64>::from_fn(s * n, 6, |row, c| {
            let i = row / n;
            let x = 0.3 * normal(&mut rng);
            if c == 0 {
                x + 6.0 * labels[i] as f64
            } else {
                x
            }
        });
        (m, labels)
    }

    #[test]
    fn a_full_random_frame_is_a_rotation_and_few_directions_lose_the_separation() {
        let (pts, labels) = separated(16, 4);
        let full = sigma_curve(pts.as_ref(), 16, 4, &labels).unwrap();
        assert!(full[3] > 0.8, "planted separation not seen: {full:?}");
        // All six directions: a rotation, distances and silhouettes unchanged.
        let rot = random_direction_curves(pts.as_ref(), 16, 4, &labels, 6, 3, 9).unwrap();
        for c in &rot {
            assert!((c[3] - full[3]).abs() < 1e-9);
        }
        // One random direction mostly misses the separating axis.
        let one = random_direction_curves(pts.as_ref(), 16, 4, &labels, 1, 40, 9).unwrap();
        let (mean, sd) = mean_sd(&one.iter().map(|c| c[3]).collect::<Vec<_>>());
        assert!(mean < full[3] - 0.1 && sd > 0.0, "mean {mean} sd {sd}");
    }

    #[test]
    fn mean_sd_by_hand() {
        let (m, s) = mean_sd(&[1.0, 2.0, 3.0, 4.0]);
        assert!((m - 2.5).abs() < 1e-12);
        assert!((s - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(mean_sd(&[2.0]), (2.0, 0.0));
    }

    #[test]
    fn redraws_give_intervals_around_well_separated_batches() {
        // Two classes of linear sequences that decay to different points: every draw separates.
        let make = |i: usize, offset: f64| -> Vec<f64> {
            let mut v = Vec::new();
            for t in 0..20 {
                let a = 0.9f64.powi(t);
                v.extend([
                    offset + a * (1.0 + 0.01 * i as f64),
                    a * 0.5,
                    offset * 0.5 - a,
                ]);
            }
            v
        };
        let batch = |draw: usize| -> Result<(States, States)> {
            let (mut n, mut a) = (Vec::new(), Vec::new());
            for i in 0..8 {
                n.extend(make(i + draw, 0.0));
                a.extend(make(i + draw, 3.0));
            }
            Ok((
                States::from_f64(n, 8, 20, 3)?,
                States::from_f64(a, 8, 20, 3)?,
            ))
        };
        let r = redraw_intervals(4, Some(3), 1, batch).unwrap();
        assert_eq!((r.draws, r.failed), (4, 0));
        for ci in [r.sigma_ci, r.sigma_pca_ci, r.sigma_koopman_ci] {
            assert!(ci[0] <= ci[1] && ci[0] > 0.5, "{r:?}");
        }
        assert!((0.0..=1.0).contains(&r.koopman_below_pca));
    }
}
