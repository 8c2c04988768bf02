//! Statistics for the paper's figures: silhouette scores (Fig. 3 right), medians with median
//! absolute deviation (Fig. 2), and PCA (App. B comparison).

use crate::error::{KoopmanError, Result};
use crate::fit::sym_eig_desc;
use faer::{Mat, MatRef};
use serde::{Deserialize, Serialize};

/// Silhouette values of labelled points (Rousseeuw 1987).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silhouette {
    /// Per-point `s(i) = (b − a) / max(a, b)`; 0 for a point alone in its cluster.
    pub values: Vec<f64>,
    /// Mean of `values`.
    pub mean: f64,
}

/// Silhouette of the rows of `points` (`m × d`, Euclidean distance) with cluster `labels`:
/// `a(i)` = mean distance to the other members of its cluster, `b(i)` = smallest mean distance
/// to another cluster. Needs at least two clusters.
pub fn silhouette(points: MatRef<'_, f64>, labels: &[usize]) -> Result<Silhouette> {
    let m = points.nrows();
    if labels.len() != m {
        return Err(KoopmanError::Shape(format!(
            "{} labels for {m} points",
            labels.len()
        )));
    }
    let mut ids: Vec<usize> = labels.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() < 2 {
        return Err(KoopmanError::InvalidParameter(format!(
            "silhouette needs at least 2 clusters, got {}",
            ids.len()
        )));
    }
    let cl: Vec<usize> = labels
        .iter()
        .map(|l| ids.binary_search(l).unwrap_or(0))
        .collect();
    let nc = ids.len();
    let mut sizes = vec![0usize; nc];
    for &c in &cl {
        sizes[c] += 1;
    }
    let d = points.ncols();
    let mut values = vec![0.0; m];
    let mut sums = vec![0.0; nc];
    for i in 0..m {
        sums.iter_mut().for_each(|x| *x = 0.0);
        for j in 0..m {
            if i == j {
                continue;
            }
            let mut dd = 0.0;
            for c in 0..d {
                let x = points[(i, c)] - points[(j, c)];
                dd += x * x;
            }
            sums[cl[j]] += dd.sqrt();
        }
        let own = cl[i];
        if sizes[own] < 2 {
            values[i] = 0.0;
            continue;
        }
        let a = sums[own] / (sizes[own] - 1) as f64;
        let b = (0..nc)
            .filter(|&c| c != own && sizes[c] > 0)
            .map(|c| sums[c] / sizes[c] as f64)
            .fold(f64::INFINITY, f64::min);
        let den = a.max(b);
        values[i] = if den > 0.0 { (b - a) / den } else { 0.0 };
    }
    let mean = values.iter().sum::<f64>() / m as f64;
    Ok(Silhouette { values, mean })
}

/// Silhouette of the samples at every time step: `data` is C order `[s, n, d]`, `labels` has one
/// label per sample. Returns `n` [`Silhouette`]s (over the `s` samples at step `t`).
pub fn silhouette_over_time(
    data: &[f64],
    s: usize,
    n: usize,
    d: usize,
    labels: &[usize],
) -> Result<Vec<Silhouette>> {
    if data.len() != s * n * d {
        return Err(KoopmanError::Shape(format!(
            "data has {} values, shape [{s}, {n}, {d}] needs {}",
            data.len(),
            s * n * d
        )));
    }
    (0..n)
        .map(|t| {
            let pts = Mat::<f64>::from_fn(s, d, |i, c| data[(i * n + t) * d + c]);
            silhouette(pts.as_ref(), labels)
        })
        .collect()
}

/// Cumulative time average of Fig. 3 (right): `σ(t) = (1 / (S t)) Σ_{s, t' ≤ t} σ(h~_{s,t'})`,
/// from the per-step silhouettes.
pub fn cumulative_time_average(per_step: &[Silhouette]) -> Vec<f64> {
    let mut out = Vec::with_capacity(per_step.len());
    let (mut sum, mut count) = (0.0, 0usize);
    for sil in per_step {
        sum += sil.values.iter().sum::<f64>();
        count += sil.values.len();
        out.push(if count == 0 {
            f64::NAN
        } else {
            sum / count as f64
        });
    }
    out
}

/// Median of a slice (mean of the two middle values for even length; NaN if empty).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len();
    if m % 2 == 1 {
        v[m / 2]
    } else {
        0.5 * (v[m / 2 - 1] + v[m / 2])
    }
}

/// Median and median absolute deviation `median |x − median(x)|` (unscaled) per time step over
/// the samples of `data`, C order `[s, n]` (Fig. 2 envelopes).
pub fn median_mad_over_time(data: &[f64], s: usize, n: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    if data.len() != s * n || s == 0 {
        return Err(KoopmanError::Shape(format!(
            "data has {} values, shape [{s}, {n}] needs {} (s > 0)",
            data.len(),
            s * n
        )));
    }
    let mut med = Vec::with_capacity(n);
    let mut mad = Vec::with_capacity(n);
    for t in 0..n {
        let col: Vec<f64> = (0..s).map(|i| data[i * n + t]).collect();
        let m = median(&col);
        let dev: Vec<f64> = col.iter().map(|x| (x - m).abs()).collect();
        med.push(m);
        mad.push(median(&dev));
    }
    Ok((med, mad))
}

/// Principal component analysis (centered, like scikit-learn's `PCA`).
#[derive(Debug, Clone)]
pub struct Pca {
    /// Column means of the data.
    pub mean: Vec<f64>,
    /// Components (`d × c`, orthonormal columns), by explained variance descending.
    pub components: Mat<f64>,
    /// Variance along each component (`eigenvalue / (m − 1)`).
    pub explained_variance: Vec<f64>,
    /// Fraction of the total variance per component.
    pub explained_variance_ratio: Vec<f64>,
}

impl Pca {
    /// Fits the top `n_components` principal components of the rows of `points` (`m × d`).
    pub fn fit(points: MatRef<'_, f64>, n_components: usize) -> Result<Pca> {
        let (m, d) = (points.nrows(), points.ncols());
        if m < 2 {
            return Err(KoopmanError::NotEnoughData(format!(
                "PCA needs at least 2 points, got {m}"
            )));
        }
        if n_components == 0 || n_components > d.min(m) {
            return Err(KoopmanError::InvalidParameter(format!(
                "{n_components} components requested for {m} points of dimension {d}"
            )));
        }
        let mean: Vec<f64> = (0..d)
            .map(|c| (0..m).map(|i| points[(i, c)]).sum::<f64>() / m as f64)
            .collect();
        let centered = Mat::<f64>::from_fn(m, d, |i, c| points[(i, c)] - mean[c]);
        let cov = centered.transpose() * centered.as_ref();
        let (vals, vecs) = sym_eig_desc(cov.as_ref())?;
        let total: f64 = vals.iter().map(|v| v.max(0.0)).sum();
        let mut components = vecs.subcols(0, n_components).to_owned();
        crate::fit::fix_signs(&mut components);
        let explained_variance: Vec<f64> = vals[..n_components]
            .iter()
            .map(|v| v.max(0.0) / (m - 1) as f64)
            .collect();
        let explained_variance_ratio = vals[..n_components]
            .iter()
            .map(|v| if total > 0.0 { v.max(0.0) / total } else { 0.0 })
            .collect();
        Ok(Pca {
            mean,
            components,
            explained_variance,
            explained_variance_ratio,
        })
    }

    /// Scores `(x − mean) W` of the rows of `points` (`m × d` → `m × c`).
    pub fn transform(&self, points: MatRef<'_, f64>) -> Result<Mat<f64>> {
        if points.ncols() != self.mean.len() {
            return Err(KoopmanError::Shape(format!(
                "points have dimension {}, PCA was fitted on {}",
                points.ncols(),
                self.mean.len()
            )));
        }
        let centered = Mat::<f64>::from_fn(points.nrows(), points.ncols(), |i, c| {
            points[(i, c)] - self.mean[c]
        });
        Ok(centered.as_ref() * self.components.as_ref())
    }
}
