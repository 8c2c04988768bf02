//! One streamed pass over the run's whole test split (Fig. 4 left and App. A): for every review,
//! the network's class `G(h_T)` against KANN's one-step prediction and two baselines, and the
//! per-word changes of the tracked eigen-groups and of the state.
//!
//! Predictors of the class at the last step `T` (all read out with the network's `G`):
//! - **KANN** (Eq. 6): `h_T^KANN = h_{T−1} B C Bᵀ`, `C` fitted on the analysis batch;
//! - **trivial**: `h_T ≈ h_{T−1}` (the state barely moves in one step: this is the baseline
//!   that KANN's agreement has to beat);
//! - **rank-r projection**: `h_T B Bᵀ` (what the basis alone keeps of the true last state).

use anyhow::Result;
use kann_data::progress::progress_bar;
use kann_koopman::KoopmanModel;
use kann_koopman::faer::{Col, Mat, MatRef};
use serde::{Deserialize, Serialize};

use super::data::{ImdbRun, Item};
use super::readout::LinearReadout;
use super::words::{PolarityLexicon, WordChangeAccumulator, WordMeans, WordSpan, word_spans};
use crate::intervals::AgreementIntervals;
use crate::kann::Fit;
use crate::report::Confusion;

/// One predictor's class against the labels and against the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predictor {
    /// Short name.
    pub name: String,
    /// What is read out.
    pub state: String,
    /// Counts against the labels.
    pub confusion: Confusion,
    /// Share of reviews where its class equals the network's class `G(h_T)`.
    pub agreement_with_network: f64,
}

/// Agreement over the test split (Fig. 4 left) with its baselines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImdbAgreement {
    /// How the prediction was made.
    pub method: String,
    /// Test reviews in the run's split.
    pub test_reviews: usize,
    /// Reviews used (2..=max_len pieces).
    pub reviews_used: usize,
    /// Dropped: longer than `max_len`.
    pub dropped_too_long: usize,
    /// Dropped: fewer than 2 pieces.
    pub dropped_too_short: usize,
    /// The network `G(h_T)` against the labels.
    pub network: Confusion,
    /// KANN `G(h_{T−1} B C Bᵀ)` against the labels.
    pub kann: Confusion,
    /// Share of reviews where KANN's class equals the network's (the paper's agreement).
    pub agreement: f64,
    /// The baselines: trivial `G(h_{T−1})` and rank-r `G(h_T B Bᵀ)`.
    pub baselines: Vec<Predictor>,
    /// Bootstrap intervals of KANN's and the trivial predictor's agreement and of their
    /// difference (`--bootstrap N`; absent with `--bootstrap 0`).
    #[serde(default)]
    pub intervals: Option<AgreementIntervals>,
}

/// What the agreement intervals (`crate::intervals`) need of each scored review: its state one
/// step before the end and the classes of the network and of the trivial predictor.
#[derive(Debug, Clone, Default)]
pub struct ReviewEnds {
    /// `h_{T−1}` of every review, row-major (`reviews × k`).
    pub prev: Vec<f64>,
    /// The network's class `G(h_T) > 0` of every review.
    pub network_positive: Vec<bool>,
    /// Whether `G(h_{T−1})` (trivial) gives the network's class.
    pub trivial_agrees: Vec<bool>,
}

impl ReviewEnds {
    /// Whether KANN's class `G(h_{T−1} M) = b + h_{T−1} (M w)` (Eq. 6, `M = B C Bᵀ` of
    /// `model`) equals the network's, for every review: one matrix–vector product.
    pub fn kann_agrees(&self, model: &KoopmanModel, readout: &LinearReadout) -> Vec<bool> {
        let n = self.network_positive.len();
        let k = readout.w.len();
        let prev = MatRef::from_row_major_slice(&self.prev, n, k);
        let w = Col::<f64>::from_fn(k, |j| readout.w[j]);
        let z = prev * (model.prediction_map() * &w);
        (0..n)
            .map(|i| (readout.b + z[i] > 0.0) == self.network_positive[i])
            .collect()
    }
}

/// The streamed pass: feed it every review's states with [`TestSetPass::push`].
pub struct TestSetPass<'a> {
    readout: &'a LinearReadout,
    lexicon: &'a PolarityLexicon,
    map: Mat<f64>,
    keep: Mat<f64>,
    w_re: Mat<f64>,
    w_im: Mat<f64>,
    group_cols: Vec<Vec<usize>>,
    acc: WordChangeAccumulator,
    conf: [Confusion; 4],
    same: [usize; 4],
    reviews: usize,
    ends: ReviewEnds,
}

impl<'a> TestSetPass<'a> {
    /// A pass with the analysis fit, the readout, the tracked `groups` (0-based eigenvector
    /// indices each) and the lexicon of scored words.
    pub fn new(
        fit: &Fit,
        readout: &'a LinearReadout,
        groups: &[Vec<usize>],
        lexicon: &'a PolarityLexicon,
    ) -> Self {
        let model = &fit.model;
        let k = model.hidden();
        let cols: Vec<usize> = groups.iter().flatten().copied().collect();
        let v = &fit.spectrum.v;
        let v_re = Mat::<f64>::from_fn(v.nrows(), cols.len(), |i, c| v[(i, cols[c])].re);
        let v_im = Mat::<f64>::from_fn(v.nrows(), cols.len(), |i, c| v[(i, cols[c])].im);
        let mut at = 0;
        let group_cols = groups
            .iter()
            .map(|g| {
                let c: Vec<usize> = (at..at + g.len()).collect();
                at += g.len();
                c
            })
            .collect();
        TestSetPass {
            readout,
            lexicon,
            map: model.prediction_map(),
            keep: model.basis.as_ref() * model.basis.transpose(),
            w_re: model.basis.as_ref() * v_re.as_ref(),
            w_im: model.basis.as_ref() * v_im.as_ref(),
            group_cols,
            acc: WordChangeAccumulator::new(lexicon.len(), k, groups.len()),
            conf: Default::default(),
            same: [0; 4],
            reviews: 0,
            ends: ReviewEnds::default(),
        }
    }

    /// The group levels `m_g(h_t) = Σ_{j∈g} |h_t B v_j|` (Eq. 10) of every row of `h`.
    pub fn levels(&self, h: MatRef<'_, f64>) -> Mat<f64> {
        let re = h * self.w_re.as_ref();
        let im = h * self.w_im.as_ref();
        Mat::from_fn(h.nrows(), self.group_cols.len(), |t, g| {
            self.group_cols[g]
                .iter()
                .map(|&c| re[(t, c)].hypot(im[(t, c)]))
                .sum()
        })
    }

    /// One review: its real states `h` (`T × k`, `T ≥ 2`), its words and its label (1 = positive).
    pub fn push(&mut self, h: MatRef<'_, f64>, spans: &[WordSpan], label: u8) {
        let t = h.nrows();
        let (last, prev) = (h.subrows(t - 1, 1), h.subrows(t - 2, 1));
        let kann = prev * self.map.as_ref();
        let rank_r = last * self.keep.as_ref();
        let z = [
            self.readout.logits(last)[0],
            self.readout.logits(kann.as_ref())[0],
            self.readout.logits(prev)[0],
            self.readout.logits(rank_r.as_ref())[0],
        ];
        let positive = label == 1;
        for (p, &zp) in z.iter().enumerate() {
            self.conf[p].add(zp > 0.0, positive);
            self.same[p] += usize::from((zp > 0.0) == (z[0] > 0.0));
        }
        self.ends
            .prev
            .extend((0..prev.ncols()).map(|j| prev[(0, j)]));
        self.ends.network_positive.push(z[0] > 0.0);
        self.ends.trivial_agrees.push((z[2] > 0.0) == (z[0] > 0.0));
        self.reviews += 1;
        if !self.group_cols.is_empty() || !self.lexicon.is_empty() {
            let levels = self.levels(h);
            self.acc.push(spans, self.lexicon, levels.as_ref(), h);
        }
    }

    /// Reviews pushed so far.
    pub fn reviews(&self) -> usize {
        self.reviews
    }

    /// What the agreement intervals need of every review pushed ([`ReviewEnds`]), taken out of
    /// the pass.
    pub fn take_ends(&mut self) -> ReviewEnds {
        std::mem::take(&mut self.ends)
    }

    /// The agreement counts (the split's bookkeeping and the intervals are filled in by the
    /// caller) and the per-word means.
    pub fn finish(self, method: String) -> (ImdbAgreement, WordMeans) {
        let n = self.reviews.max(1) as f64;
        let baseline = |p: usize, name: &str, state: &str| Predictor {
            name: name.into(),
            state: state.into(),
            confusion: self.conf[p],
            agreement_with_network: self.same[p] as f64 / n,
        };
        let agreement = ImdbAgreement {
            method,
            test_reviews: self.reviews,
            reviews_used: self.reviews,
            dropped_too_long: 0,
            dropped_too_short: 0,
            network: self.conf[0],
            kann: self.conf[1],
            agreement: self.same[1] as f64 / n,
            baselines: vec![
                baseline(2, "trivial", "h_(T-1): the state one step before the end"),
                baseline(
                    3,
                    "rank-r projection",
                    "h_T B B^T: the true last state kept in the basis",
                ),
            ],
            intervals: None,
        };
        (agreement, self.acc.finish())
    }
}

/// Streams `kept` through the network (sorted by length, `chunk` reviews at a time) into `pass`.
pub fn stream(run: &ImdbRun, kept: &[Item], pass: &mut TestSetPass, chunk: usize) -> Result<()> {
    let k = run.model.d_hidden();
    let mut order: Vec<usize> = (0..kept.len()).collect();
    order.sort_by_key(|&i| (kept[i].ids.len(), i));
    let chunks: Vec<&[usize]> = order.chunks(chunk.max(1)).collect();
    let bar = progress_bar(chunks.len() as u64, "  test split");
    for idx in chunks {
        let part: Vec<&Item> = idx.iter().map(|&i| &kept[i]).collect();
        let width = part.iter().map(|it| it.ids.len()).max().unwrap_or(2);
        let hidden = run.hidden(&part, width)?;
        for (r, it) in part.iter().enumerate() {
            let len = it.ids.len();
            let base = r * width * k;
            let h = Mat::<f64>::from_fn(len, k, |t, j| f64::from(hidden[base + t * k + j]));
            let spans = word_spans(&run.pieces(&it.ids));
            pass.push(h.as_ref(), &spans, it.review.label);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kann_koopman::States;

    #[test]
    fn exact_linear_dynamics_agree_fully_and_levels_match_magnitudes() {
        // h_{t+1} = A h_t, a rotation-decay in 2-D plus a constant-ish third axis.
        let (s, n) = (12, 15);
        let mut data = Vec::new();
        for i in 0..s {
            let mut h = [
                1.0 + 0.2 * i as f64,
                -0.5 + 0.1 * i as f64,
                if i % 2 == 0 { 1.0 } else { -1.0 },
            ];
            for _ in 0..n {
                data.extend_from_slice(&h);
                h = [
                    0.8 * h[0] - 0.3 * h[1],
                    0.3 * h[0] + 0.8 * h[1],
                    0.999 * h[2],
                ];
            }
        }
        let states = States::from_f64(data, s, n, 3).unwrap();
        let fit = crate::kann::fit(&states, Some(3)).unwrap();
        let g = LinearReadout {
            w: vec![0.01, 0.0, 1.0],
            b: 0.0,
        };
        let lex = PolarityLexicon::from_labelled(std::iter::empty(), 1);
        let groups = fit.spectrum.groups();
        let mut pass = TestSetPass::new(&fit, &g, &groups, &lex);
        for i in 0..s {
            pass.push(states.sequence(i), &[], u8::from(i % 2 == 0));
        }
        let lv = pass.levels(states.sequence(0));
        let mags = crate::kann::magnitudes(states.sequence(0), &fit);
        for t in 0..n {
            for (gi, grp) in groups.iter().enumerate() {
                let m: f64 = grp.iter().map(|&j| mags[(t, j)]).sum();
                assert!((lv[(t, gi)] - m).abs() < 1e-9);
            }
        }
        // The kept ends give the intervals the same KANN decisions as the pass.
        let ends = pass.take_ends();
        assert_eq!(ends.prev.len(), s * 3);
        assert!(ends.kann_agrees(&fit.model, &g).iter().all(|&a| a));
        let (a, _) = pass.finish("m".into());
        assert_eq!(a.agreement, 1.0);
        assert_eq!(a.network.accuracy(), 1.0);
        assert_eq!(a.baselines[1].agreement_with_network, 1.0);
        assert_eq!(a.reviews_used, s);
    }
}
