//! The sentiment eigenvectors of Sec. 4.1 by the paper's readout test, with honest selection
//! and the baselines that could explain a result away.
//!
//! **Readout test** of a set `S` of Koopman eigenvectors: every review's last state is
//! projected onto `S`, `P_S(h) = Re(h B V_S U_S) Bᵀ` ([`kann_koopman::project_onto`]), and read
//! out with the network's `G`. The paper reports the share of reviews whose projected readout is
//! negative (`ỹ < .5`) or positive.
//!
//! **Selection** ([`choose`]) happens on the *analysis* batch (the one the operator was fitted
//! on): candidates are the leading groups (a real eigenvector, or a conjugate pair; all with
//! `|λ| > 0.99`, at least 3 and at most 8) and unions of two adjacent real ones. The paper's rule:
//! the positive set has the largest positive share (ties: larger mean logit), the negative set
//! the largest negative share among the candidates that share no eigenvector with the positive
//! one. A set that reads out one sign on every review, whatever its class, passes that rule; so
//! a third set is chosen by what a sentiment set should do — the **tracking** set, whose projected
//! readout agrees best with the network's class (ties: larger logit correlation).
//!
//! **Evaluation** ([`evaluate`]) on the analysis batch *and* on a disjoint held-out batch, each
//! with: `G(0)` (a set whose projection is small reads out the bias, whatever the review), the
//! network's accuracy on the batch, the per-review agreement of the set's readout class with the
//! network's class and the correlation of the two logits, and the same statistics over random
//! eigen-sets of the same size (the chance level of "a set that reads out one sign").

use anyhow::Result;
use kann_koopman::faer::MatRef;
use kann_koopman::project_onto;
use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::readout::LinearReadout;
use super::words::{mean_sd, pearson};
use crate::kann::{DOMINANT_MODULUS, Fit, set_name};

/// Fewest / most groups of eigenvectors considered as candidates.
const MIN_GROUPS: usize = 3;
const MAX_GROUPS: usize = 8;

/// The readout test of one set of eigenvectors on one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetReadout {
    /// The set, 1-based (`[3, 4]` = `{u3, u4}`).
    pub set: Vec<usize>,
    /// `"u3,u4"`.
    pub name: String,
    /// Its eigenvalues `(re, im)`.
    pub eigenvalues: Vec<(f64, f64)>,
    /// Share of reviews whose projected state reads out negative (`G < 0`, i.e. `σ(G) < .5`).
    pub share_negative: f64,
    /// Share of reviews whose projected state reads out positive.
    pub share_positive: f64,
    /// Mean logit of the projected states.
    pub mean_logit: f64,
    /// Share of reviews where the projected readout's class equals the network's class
    /// (`sign G(P_S h_T) = sign G(h_T)`).
    pub agreement_with_network: f64,
    /// Pearson correlation over reviews of `G(P_S h_T)` with the network's logit `G(h_T)`.
    pub logit_correlation: f64,
}

/// Candidate sets (0-based): the leading groups and unions of two adjacent real eigenvectors.
pub fn candidate_sets(fit: &Fit) -> Vec<Vec<usize>> {
    let all = fit.spectrum.groups();
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

/// The readout test of `set` (0-based) on the last states `h_last` (`s × k`), against the
/// network's logits `net` of the same reviews.
pub fn readout_test(
    fit: &Fit,
    h_last: MatRef<'_, f64>,
    readout: &LinearReadout,
    net: &[f64],
    set: &[usize],
) -> Result<SetReadout> {
    let s = h_last.nrows();
    let proj = project_onto(h_last, &fit.model, &fit.spectrum, set)?;
    let z = readout.logits(proj.as_ref());
    let n = s.max(1) as f64;
    let agree = z
        .iter()
        .zip(net)
        .filter(|(a, b)| (**a > 0.0) == (**b > 0.0))
        .count();
    Ok(SetReadout {
        set: set.iter().map(|j| j + 1).collect(),
        name: set_name(set),
        eigenvalues: crate::kann::set_eigenvalues(&fit.spectrum, set),
        share_negative: z.iter().filter(|&&v| v < 0.0).count() as f64 / n,
        share_positive: z.iter().filter(|&&v| v > 0.0).count() as f64 / n,
        mean_logit: z.iter().sum::<f64>() / n,
        agreement_with_network: agree as f64 / n,
        logit_correlation: pearson(&z, net),
    })
}

/// The sets chosen on the analysis batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentimentChoice {
    /// The selection rule.
    pub rule: String,
    /// Every candidate's readout test on the analysis batch, in spectrum order.
    pub candidates: Vec<SetReadout>,
    /// The positive set (index into `candidates`).
    pub positive: usize,
    /// The negative set (index into `candidates`); shares no eigenvector with the positive one.
    pub negative: Option<usize>,
    /// The tracking set (index into `candidates`): largest agreement with the network's class.
    pub tracking: usize,
}

impl SentimentChoice {
    /// 0-based indices of the positive set.
    pub fn positive_set(&self) -> Vec<usize> {
        self.candidates[self.positive]
            .set
            .iter()
            .map(|j| j - 1)
            .collect()
    }

    /// 0-based indices of the tracking set.
    pub fn tracking_set(&self) -> Vec<usize> {
        self.candidates[self.tracking]
            .set
            .iter()
            .map(|j| j - 1)
            .collect()
    }

    /// 0-based indices of the negative set (empty if every candidate overlaps the positive one).
    pub fn negative_set(&self) -> Vec<usize> {
        self.negative
            .map(|n| self.candidates[n].set.iter().map(|j| j - 1).collect())
            .unwrap_or_default()
    }
}

/// The rule of [`choose`], for the report.
pub const RULE: &str = "chosen on the analysis batch: positive = the candidate with the largest \
    share of positive projected readouts (ties: larger mean logit); negative = the largest share of \
    negative readouts among candidates sharing no eigenvector with the positive set (ties: smaller \
    mean logit); tracking = the largest agreement of the projected readout's class with the \
    network's class (ties: larger logit correlation)";

/// Runs the readout test of every candidate on the analysis batch and picks the two sets.
pub fn choose(
    fit: &Fit,
    h_last: MatRef<'_, f64>,
    readout: &LinearReadout,
    net: &[f64],
) -> Result<SentimentChoice> {
    let candidates = candidate_sets(fit)
        .iter()
        .map(|set| readout_test(fit, h_last, readout, net, set))
        .collect::<Result<Vec<_>>>()?;
    let best = |key: &dyn Fn(&SetReadout) -> (f64, f64), allowed: &dyn Fn(usize) -> bool| {
        (0..candidates.len())
            .filter(|&i| allowed(i))
            .max_by(|&a, &b| {
                let (ka, kb) = (key(&candidates[a]), key(&candidates[b]));
                ka.0.total_cmp(&kb.0)
                    .then(ka.1.total_cmp(&kb.1))
                    .then(b.cmp(&a))
            })
    };
    let positive = best(&|c| (c.share_positive, c.mean_logit), &|_| true).unwrap_or(0);
    let pos_set = &candidates[positive].set;
    let negative = best(&|c| (c.share_negative, -c.mean_logit), &|i| {
        !candidates[i].set.iter().any(|j| pos_set.contains(j))
    });
    let tracking = best(
        &|c| (c.agreement_with_network, c.logit_correlation),
        &|_| true,
    )
    .unwrap_or(0);
    Ok(SentimentChoice {
        rule: RULE.to_string(),
        candidates,
        positive,
        negative,
        tracking,
    })
}

/// A statistic over random eigen-sets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NullSummary {
    /// Mean over the draws.
    pub mean: f64,
    /// Standard deviation over the draws.
    pub sd: f64,
    /// Share of draws at least as large as the chosen set's value.
    pub share_at_least: f64,
}

fn summarise(values: &[f64], observed: f64) -> NullSummary {
    let (mean, sd) = mean_sd(values);
    NullSummary {
        mean,
        sd,
        share_at_least: values.iter().filter(|&&v| v >= observed).count() as f64
            / values.len().max(1) as f64,
    }
}

/// The readout test of random eigen-sets of one size on one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomSets {
    /// Eigenvectors per set (that of the chosen set).
    pub size: usize,
    /// Sets drawn (each a union of random groups of the whole spectrum, of exactly `size`
    /// eigenvectors).
    pub draws: usize,
    /// Share of positive readouts (the chosen positive set's statistic).
    pub share_positive: NullSummary,
    /// Share of negative readouts (the chosen negative set's statistic).
    pub share_negative: NullSummary,
    /// Agreement with the network's class.
    pub agreement_with_network: NullSummary,
}

/// The readout test of the chosen sets on one batch, with its baselines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchReadout {
    /// `"analysis"` (the sets were chosen on it) or `"held-out"` (disjoint reviews).
    pub batch: String,
    /// Reviews in the batch.
    pub reviews: usize,
    /// The network's accuracy on the batch (class of `G(h_T)` vs the label).
    pub network_accuracy: f64,
    /// Share of the batch the network calls positive.
    pub network_share_positive: f64,
    /// `G(0)`: the logit of the zero state (the readout bias).
    pub zero_state_logit: f64,
    /// The positive set.
    pub positive: SetReadout,
    /// The negative set, if one was found.
    pub negative: Option<SetReadout>,
    /// Random sets of the positive set's size.
    pub random_positive_size: RandomSets,
    /// Random sets of the negative set's size.
    pub random_negative_size: Option<RandomSets>,
    /// The tracking set.
    pub tracking: SetReadout,
    /// Random sets of the tracking set's size.
    pub random_tracking_size: RandomSets,
}

/// `count` eigenvectors as a union of random groups of the whole spectrum (0-based), or `None`
/// if 100 tries found none of that exact size.
fn random_set(all: &[Vec<usize>], count: usize, rng: &mut ChaCha8Rng) -> Option<Vec<usize>> {
    for _ in 0..100 {
        let mut set: Vec<usize> = Vec::new();
        let mut tries = 0;
        while set.len() < count && tries < 50 {
            tries += 1;
            let g = all.choose(rng)?;
            if set.len() + g.len() <= count && !g.iter().any(|j| set.contains(j)) {
                set.extend(g);
            }
        }
        if set.len() == count {
            set.sort_unstable();
            return Some(set);
        }
    }
    None
}

fn random_sets(
    fit: &Fit,
    h_last: MatRef<'_, f64>,
    readout: &LinearReadout,
    net: &[f64],
    chosen: &SetReadout,
    draws: usize,
    seed: u64,
) -> Result<RandomSets> {
    let all = fit.spectrum.groups();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut pos, mut neg, mut agr) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..draws {
        let Some(set) = random_set(&all, chosen.set.len(), &mut rng) else {
            break;
        };
        let t = readout_test(fit, h_last, readout, net, &set)?;
        pos.push(t.share_positive);
        neg.push(t.share_negative);
        agr.push(t.agreement_with_network);
    }
    Ok(RandomSets {
        size: chosen.set.len(),
        draws: pos.len(),
        share_positive: summarise(&pos, chosen.share_positive),
        share_negative: summarise(&neg, chosen.share_negative),
        agreement_with_network: summarise(&agr, chosen.agreement_with_network),
    })
}

/// The readout test of the chosen sets on a batch (`h_last`: last states, `labels`: 1 =
/// positive), with `G(0)`, the network's accuracy and `draws` random sets of each size.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    batch: &str,
    fit: &Fit,
    choice: &SentimentChoice,
    h_last: MatRef<'_, f64>,
    labels: &[u8],
    readout: &LinearReadout,
    draws: usize,
    seed: u64,
) -> Result<BatchReadout> {
    let net = readout.logits(h_last);
    let s = net.len().max(1) as f64;
    let correct = net
        .iter()
        .zip(labels)
        .filter(|(z, l)| (**z > 0.0) == (**l == 1))
        .count();
    let positive = readout_test(fit, h_last, readout, &net, &choice.positive_set())?;
    let negative = match choice.negative {
        Some(_) => Some(readout_test(
            fit,
            h_last,
            readout,
            &net,
            &choice.negative_set(),
        )?),
        None => None,
    };
    let random_positive_size = random_sets(fit, h_last, readout, &net, &positive, draws, seed)?;
    let random_negative_size = match &negative {
        Some(n) => Some(random_sets(
            fit,
            h_last,
            readout,
            &net,
            n,
            draws,
            seed.wrapping_add(1),
        )?),
        None => None,
    };
    let tracking = readout_test(fit, h_last, readout, &net, &choice.tracking_set())?;
    let random_tracking_size = random_sets(
        fit,
        h_last,
        readout,
        &net,
        &tracking,
        draws,
        seed.wrapping_add(2),
    )?;
    Ok(BatchReadout {
        tracking,
        random_tracking_size,
        batch: batch.to_string(),
        reviews: net.len(),
        network_accuracy: correct as f64 / s,
        network_share_positive: net.iter().filter(|&&z| z > 0.0).count() as f64 / s,
        zero_state_logit: readout.zero_state_logit(),
        positive,
        negative,
        random_positive_size,
        random_negative_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kann::fit;
    use kann_koopman::States;
    use kann_koopman::faer::Mat;

    /// A 3-D linear system: axis 0 keeps a ±1 "sentiment" (λ = 1), axes 1-2 rotate and decay.
    fn system(s: usize) -> (States, Vec<u8>) {
        let n = 30;
        let mut data = Vec::new();
        let mut labels = Vec::new();
        for i in 0..s {
            let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
            labels.push(u8::from(sign > 0.0));
            let mut h = [
                sign * (1.0 + 0.1 * (i % 5) as f64),
                1.0 + 0.05 * i as f64,
                0.3,
            ];
            for _ in 0..n {
                data.extend_from_slice(&h);
                let (a, b) = (h[1], h[2]);
                h = [h[0], 0.9 * (0.8 * a - 0.6 * b), 0.9 * (0.6 * a + 0.8 * b)];
            }
        }
        (States::from_f64(data, s, n, 3).unwrap(), labels)
    }

    #[test]
    fn finds_the_sentiment_axis_and_random_sets_do_worse() {
        let (states, labels) = system(20);
        let f = fit(&states, Some(3)).unwrap();
        let h_last = Mat::<f64>::from_fn(20, 3, |i, j| states.state(i, 29)[j]);
        let g = LinearReadout {
            w: vec![2.0, 0.1, 0.1],
            b: -0.05,
        };
        let net = g.logits(h_last.as_ref());
        let choice = choose(&f, h_last.as_ref(), &g, &net).unwrap();
        // The λ = 1 eigenvector (index 0) carries the sign of every review: projected on it,
        // the readout agrees with the network on every review.
        let pos = &choice.candidates[choice.positive];
        let neg = choice.negative_set();
        assert!(
            choice.positive_set().iter().all(|j| !neg.contains(j)),
            "sets overlap"
        );
        let held = evaluate("held-out", &f, &choice, h_last.as_ref(), &labels, &g, 20, 0).unwrap();
        assert_eq!(held.network_accuracy, 1.0);
        assert_eq!(held.zero_state_logit, -0.05);
        let axis = readout_test(&f, h_last.as_ref(), &g, &net, &[0]).unwrap();
        assert_eq!(axis.agreement_with_network, 1.0);
        assert_eq!(choice.tracking_set(), vec![0]);
        assert_eq!(held.tracking.agreement_with_network, 1.0);
        assert!(axis.logit_correlation > 0.99);
        assert!(pos.share_positive >= 0.5);
        assert_eq!(held.random_positive_size.size, pos.set.len());
    }

    #[test]
    fn random_sets_have_the_requested_size() {
        let all = vec![vec![0], vec![1, 2], vec![3], vec![4, 5]];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for count in 1..=4 {
            let s = random_set(&all, count, &mut rng).unwrap();
            assert_eq!(s.len(), count);
            // conjugate pairs stay together
            assert_eq!(s.contains(&1), s.contains(&2));
            assert_eq!(s.contains(&4), s.contains(&5));
        }
    }
}
