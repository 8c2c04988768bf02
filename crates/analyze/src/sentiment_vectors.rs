//! Finding the sentiment eigenvectors of the IMDB model (Sec. 4.1) instead of hard-coding their
//! indices: the readout test of the paper. For every dominant candidate set `S` of Koopman
//! eigenvectors (a real eigenvector, a conjugate pair, or two adjacent real eigenvectors as the
//! paper's `U_12 = {u1, u2}`), the last states are projected onto `S`
//! (`Re(H~ V_S U_S) Bᵀ`, [`kann_koopman::project_onto`]) and decoded with the readout `G`; the
//! share of samples whose logit is negative / positive is reported. The positive set is the one
//! with the largest positive share (ties: the largest mean logit), the negative set the one with
//! the largest negative share (ties: the smallest mean logit).

use anyhow::Result;
use kann_koopman::faer::MatRef;
use kann_koopman::project_onto;
use serde::{Deserialize, Serialize};

use crate::kann::{DOMINANT_MODULUS, Fit, groups, set_name, to_rows};

/// Fewest / most groups of eigenvectors considered as candidates.
const MIN_GROUPS: usize = 3;
const MAX_GROUPS: usize = 8;

/// The readout test of one set of eigenvectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadoutTest {
    /// The set, 1-based (`[3, 4]` = `{u3, u4}`).
    pub set: Vec<usize>,
    /// `"u3,u4"`.
    pub name: String,
    /// Its eigenvalues `(re, im)`.
    pub eigenvalues: Vec<(f64, f64)>,
    /// Share of samples whose projected state reads out negative (`σ(G) < .5`).
    pub share_negative: f64,
    /// Share of samples whose projected state reads out positive (`σ(G) > .5`).
    pub share_positive: f64,
    /// Mean logit of the projected states.
    pub mean_logit: f64,
}

/// Result of the readout test over all candidates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentimentVectors {
    /// Every candidate set with its readout test, in spectrum order.
    pub candidates: Vec<ReadoutTest>,
    /// The set chosen as tracking positive sentiment (index into `candidates`).
    pub positive: usize,
    /// The set chosen as tracking negative sentiment (index into `candidates`).
    pub negative: usize,
}

impl SentimentVectors {
    /// 0-based indices of the positive set.
    pub fn positive_set(&self) -> Vec<usize> {
        self.candidates[self.positive]
            .set
            .iter()
            .map(|j| j - 1)
            .collect()
    }
    /// 0-based indices of the negative set.
    pub fn negative_set(&self) -> Vec<usize> {
        self.candidates[self.negative]
            .set
            .iter()
            .map(|j| j - 1)
            .collect()
    }
}

/// Candidate sets (0-based): the leading groups (all with `|λ| > 0.99`, at least 3, at most 8)
/// and every union of two adjacent real eigenvectors among them.
pub fn candidate_sets(fit: &Fit) -> Vec<Vec<usize>> {
    let all = groups(&fit.spectrum);
    let ev = &fit.spectrum.eigenvalues;
    let dominant = all
        .iter()
        .take_while(|g| ev[g[0]].norm() > DOMINANT_MODULUS)
        .count();
    let n = dominant.clamp(MIN_GROUPS, MAX_GROUPS).min(all.len());
    let lead = &all[..n];
    let mut out: Vec<Vec<usize>> = lead.to_vec();
    for w in lead.windows(2) {
        if w[0].len() == 1 && w[1].len() == 1 {
            out.push(vec![w[0][0], w[1][0]]);
        }
    }
    out
}

/// Maps `m` rows of states (row-major) to `m` readout logits.
pub type Readout<'a> = dyn Fn(&[f64], usize) -> Result<Vec<f32>> + 'a;

/// Runs the readout test on the last states `h_last` (`s × k`); `readout` maps `m` rows of
/// states (row-major) to `m` logits.
pub fn find(fit: &Fit, h_last: MatRef<'_, f64>, readout: &Readout) -> Result<SentimentVectors> {
    let s = h_last.nrows();
    let mut candidates = Vec::new();
    for set in candidate_sets(fit) {
        let proj = project_onto(h_last, &fit.model, &fit.spectrum, &set)?;
        let logits = readout(&to_rows(proj.as_ref()), s)?;
        let neg = logits.iter().filter(|&&z| z < 0.0).count();
        let pos = logits.iter().filter(|&&z| z > 0.0).count();
        candidates.push(ReadoutTest {
            set: set.iter().map(|j| j + 1).collect(),
            name: set_name(&set),
            eigenvalues: set
                .iter()
                .map(|&j| {
                    let l = fit.spectrum.eigenvalues[j];
                    (l.re, l.im)
                })
                .collect(),
            share_negative: neg as f64 / s as f64,
            share_positive: pos as f64 / s as f64,
            mean_logit: logits.iter().map(|&z| z as f64).sum::<f64>() / s as f64,
        });
    }
    let best = |key: &dyn Fn(&ReadoutTest) -> (f64, f64), skip: Option<usize>| {
        (0..candidates.len())
            .filter(|&i| Some(i) != skip)
            .max_by(|&a, &b| {
                let (ka, kb) = (key(&candidates[a]), key(&candidates[b]));
                ka.0.total_cmp(&kb.0)
                    .then(ka.1.total_cmp(&kb.1))
                    .then(b.cmp(&a))
            })
            .unwrap_or(0)
    };
    let positive = best(&|c| (c.share_positive, c.mean_logit), None);
    let negative = best(&|c| (c.share_negative, -c.mean_logit), Some(positive));
    Ok(SentimentVectors {
        candidates,
        positive,
        negative,
    })
}
