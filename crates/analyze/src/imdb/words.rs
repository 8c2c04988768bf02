//! App. A over the whole test set: *which words move the state*, for each candidate eigen-group
//! and for reference directions, scored against a word polarity built from the training labels.
//!
//! 1. **Words.** Word pieces are joined back into words (a `##` piece continues the previous
//!    one) and normalised: lower case, attached punctuation stripped at both ends, so that
//!    "awful." counts as "awful" ([`word_spans`]).
//! 2. **Polarity** ([`PolarityLexicon`]), from the *training* reviews only: the smoothed log-odds
//!    of a word in positive vs negative reviews,
//!    `ρ(w) = ln((c⁺_w + α) / (N⁺ + αV)) − ln((c⁻_w + α) / (N⁻ + αV))`, for words seen at least
//!    `min_count` times (`c±` the word's count in positive/negative reviews, `N±` all word
//!    tokens of each class, `V` the number of distinct words, `α = 1`).
//! 3. **Per-word change** ([`WordChangeAccumulator`]): at a word spanning pieces `a..=b` of a
//!    test review, the change of a quantity `q` from the state before the word to the state after
//!    it, `q(h_b) − q(h_{a−1})`. For an eigen-group `g` the quantity is its projection magnitude
//!    `m_g(h) = Σ_{j∈g} s(j, h)` (Eq. 10); for a direction `u` in state space it is `u·h` (the
//!    accumulator keeps the mean state change `Δh` per word, so every linear direction is scored
//!    from it afterwards). Words at the first position are skipped (their "change" is from the
//!    zero initial state).
//! 4. **Scores** ([`channel_stats`]): the Spearman correlation over words between the mean change
//!    and the polarity, and the top words each way. References: the readout weights, random
//!    directions ([`random_directions`]) and a cross-validated best linear direction
//!    ([`cross_validated_direction`]: ridge regression of the polarity on `Δh`, scored on held-out
//!    words; the readout is not a ceiling).

use std::collections::HashMap;

use kann_koopman::faer::linalg::solvers::Solve;
use kann_koopman::faer::{Mat, MatRef, Side};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A word of a review: the pieces `start..=end` and the normalised word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordSpan {
    /// First piece.
    pub start: usize,
    /// Last piece (inclusive).
    pub end: usize,
    /// Lower-case word with attached punctuation stripped.
    pub word: String,
}

/// Lower case, leading and trailing non-alphanumeric characters stripped (inner ones such as
/// the apostrophe of "don't" kept); `None` if nothing is left.
pub fn normalise_word(raw: &str) -> Option<String> {
    // IMDB's line breaks ("<br />") stick to the word before them: "bad.<br" is "bad".
    let raw = raw.split("<br").next().unwrap_or(raw);
    let w = raw.trim_matches(|c: char| !c.is_alphanumeric());
    (!w.is_empty()).then(|| w.to_lowercase())
}

/// Joins word pieces into words (a piece starting with `##` continues the previous word).
pub fn word_spans<S: AsRef<str>>(pieces: &[S]) -> Vec<WordSpan> {
    let mut out: Vec<(usize, usize, String)> = Vec::new();
    for (t, p) in pieces.iter().enumerate() {
        let p = p.as_ref();
        match p.strip_prefix("##") {
            Some(rest) if !out.is_empty() => {
                let last = out.last_mut().expect("non-empty");
                last.1 = t;
                last.2.push_str(rest);
            }
            _ => out.push((t, t, p.to_string())),
        }
    }
    out.into_iter()
        .filter_map(|(start, end, raw)| {
            normalise_word(&raw).map(|word| WordSpan { start, end, word })
        })
        .collect()
}

/// Word polarity from labelled (training) reviews: smoothed log-odds of positive vs negative.
#[derive(Debug, Clone)]
pub struct PolarityLexicon {
    /// The words seen at least `min_count` times, sorted.
    pub words: Vec<String>,
    /// `ρ(w)` of each word (> 0: more frequent in positive reviews).
    pub polarity: Vec<f64>,
    /// Occurrences of each word in the training reviews.
    pub train_count: Vec<usize>,
    /// The frequency cut-off.
    pub min_count: usize,
    index: HashMap<String, usize>,
}

/// Smoothing `α` of the log-odds.
pub const POLARITY_SMOOTHING: f64 = 1.0;

impl PolarityLexicon {
    /// Counts the words of `reviews` (`(words, is_positive)`) and keeps those seen at least
    /// `min_count` times.
    pub fn from_labelled<'a>(
        reviews: impl IntoIterator<Item = (&'a [WordSpan], bool)>,
        min_count: usize,
    ) -> Self {
        let mut counts: HashMap<&str, (usize, usize)> = HashMap::new();
        let (mut n_pos, mut n_neg) = (0usize, 0usize);
        for (spans, positive) in reviews {
            for s in spans {
                let c = counts.entry(s.word.as_str()).or_default();
                if positive {
                    c.0 += 1;
                    n_pos += 1;
                } else {
                    c.1 += 1;
                    n_neg += 1;
                }
            }
        }
        let v = counts.len() as f64;
        let a = POLARITY_SMOOTHING;
        let mut kept: Vec<(&str, usize, f64)> = counts
            .iter()
            .filter(|(_, (p, n))| p + n >= min_count)
            .map(|(w, &(p, n))| {
                let lp = ((p as f64 + a) / (n_pos as f64 + a * v)).ln();
                let ln = ((n as f64 + a) / (n_neg as f64 + a * v)).ln();
                (*w, p + n, lp - ln)
            })
            .collect();
        kept.sort_by(|x, y| x.0.cmp(y.0));
        let words: Vec<String> = kept.iter().map(|k| k.0.to_string()).collect();
        let index = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i))
            .collect();
        PolarityLexicon {
            polarity: kept.iter().map(|k| k.2).collect(),
            train_count: kept.iter().map(|k| k.1).collect(),
            words,
            min_count,
            index,
        }
    }

    /// Index of `word`, if it is in the lexicon.
    pub fn get(&self, word: &str) -> Option<usize> {
        self.index.get(word).copied()
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// `true` when no word reached the cut-off.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// Accumulates, per lexicon word, the change of each group level and of the state at every
/// occurrence in the streamed reviews.
#[derive(Debug, Clone)]
pub struct WordChangeAccumulator {
    k: usize,
    g: usize,
    count: Vec<usize>,
    group_sum: Vec<f64>,
    delta_sum: Vec<f64>,
    occurrences: usize,
}

/// Mean changes per word (rows: lexicon words).
#[derive(Debug, Clone)]
pub struct WordMeans {
    /// Test occurrences of each word.
    pub count: Vec<usize>,
    /// Mean change of each group level (`words × groups`); 0 where `count` is 0.
    pub group_mean: Mat<f64>,
    /// Mean state change `Δh` (`words × k`); 0 where `count` is 0.
    pub delta_mean: Mat<f64>,
    /// All word occurrences counted.
    pub occurrences: usize,
}

impl WordChangeAccumulator {
    /// For a lexicon of `n` words, states of width `k` and `g` group levels.
    pub fn new(n: usize, k: usize, g: usize) -> Self {
        WordChangeAccumulator {
            k,
            g,
            count: vec![0; n],
            group_sum: vec![0.0; n * g],
            delta_sum: vec![0.0; n * k],
            occurrences: 0,
        }
    }

    /// One review: its words, the group levels at each step (`T × g`) and the states (`T × k`).
    pub fn push(
        &mut self,
        spans: &[WordSpan],
        lexicon: &PolarityLexicon,
        levels: MatRef<'_, f64>,
        states: MatRef<'_, f64>,
    ) {
        debug_assert_eq!(levels.ncols(), self.g);
        debug_assert_eq!(states.ncols(), self.k);
        for s in spans {
            if s.start == 0 || s.end >= states.nrows() {
                continue;
            }
            let Some(w) = lexicon.get(&s.word) else {
                continue;
            };
            let (a, b) = (s.start - 1, s.end);
            self.count[w] += 1;
            self.occurrences += 1;
            for j in 0..self.g {
                self.group_sum[w * self.g + j] += levels[(b, j)] - levels[(a, j)];
            }
            for j in 0..self.k {
                self.delta_sum[w * self.k + j] += states[(b, j)] - states[(a, j)];
            }
        }
    }

    /// The means.
    pub fn finish(&self) -> WordMeans {
        let n = self.count.len();
        let c = |w: usize| self.count[w].max(1) as f64;
        WordMeans {
            count: self.count.clone(),
            group_mean: Mat::from_fn(n, self.g, |w, j| self.group_sum[w * self.g + j] / c(w)),
            delta_mean: Mat::from_fn(n, self.k, |w, j| self.delta_sum[w * self.k + j] / c(w)),
            occurrences: self.occurrences,
        }
    }
}

/// Ranks (1-based, ties averaged).
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &t in &idx[i..=j] {
            r[t] = avg;
        }
        i = j + 1;
    }
    r
}

/// Pearson correlation; 0 when either side is constant.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return 0.0;
    }
    let mx = x[..n].iter().sum::<f64>() / n as f64;
    let my = y[..n].iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (a, b) = (x[i] - mx, y[i] - my);
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    if sxx <= 0.0 || syy <= 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

/// Spearman rank correlation (Pearson of the tie-averaged ranks).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// The 95% percentile interval of `spearman(x, y)` over `replicates` bootstrap draws of the
/// pairs `(x_i, y_i)` (words, with replacement; ChaCha8 seeded with `seed`, stream = replicate),
/// or `None` for no replicate or fewer than 3 pairs.
pub fn spearman_interval(x: &[f64], y: &[f64], replicates: usize, seed: u64) -> Option<[f64; 2]> {
    use rand::{RngExt, SeedableRng};
    let n = x.len().min(y.len());
    if replicates == 0 || n < 3 {
        return None;
    }
    let draws: Vec<f64> = (0..replicates)
        .map(|b| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(b as u64);
            let idx: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
            let xb: Vec<f64> = idx.iter().map(|&i| x[i]).collect();
            let yb: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
            spearman(&xb, &yb)
        })
        .collect();
    Some(crate::intervals::percentile_ci(draws))
}

/// How many top words each way are reported.
pub const TOP_WORDS: usize = 20;

/// The word statistic of one channel (an eigen-group or a direction).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelStats {
    /// `"u1,u2"`, `"readout"`, ...
    pub name: String,
    /// What the channel is.
    pub kind: String,
    /// Spearman correlation over the scored words between the mean change and the polarity.
    pub spearman: f64,
    /// Its bootstrap interval over the scored words ([`spearman_interval`]; `None` with
    /// `--bootstrap 0`). Conditional on the channel: the eigen-group was chosen before, and
    /// the mean changes come from the fixed test split.
    #[serde(default)]
    pub spearman_ci: Option<[f64; 2]>,
    /// Words scored.
    pub words: usize,
    /// The words with the largest mean change, with it (descending).
    pub top_increase: Vec<(String, f64)>,
    /// The words with the smallest mean change, with it (ascending).
    pub top_decrease: Vec<(String, f64)>,
}

/// Indices of the lexicon words with at least `min_test` test occurrences.
pub fn scored_words(means: &WordMeans, min_test: usize) -> Vec<usize> {
    (0..means.count.len())
        .filter(|&w| means.count[w] >= min_test.max(1))
        .collect()
}

/// Spearman and top words of per-word values `value[w]` over the words `scored`.
pub fn channel_stats(
    name: &str,
    kind: &str,
    value: &[f64],
    scored: &[usize],
    lexicon: &PolarityLexicon,
) -> ChannelStats {
    channel_stats_with_top(name, kind, value, scored, scored, lexicon)
}

/// As [`channel_stats`], with the top words taken from `top_pool` only (e.g. the words seen
/// often enough that their mean change is not dominated by noise).
pub fn channel_stats_with_top(
    name: &str,
    kind: &str,
    value: &[f64],
    scored: &[usize],
    top_pool: &[usize],
    lexicon: &PolarityLexicon,
) -> ChannelStats {
    let x: Vec<f64> = scored.iter().map(|&w| value[w]).collect();
    let p: Vec<f64> = scored.iter().map(|&w| lexicon.polarity[w]).collect();
    let mut order: Vec<usize> = top_pool.to_vec();
    order.sort_by(|&a, &b| value[b].total_cmp(&value[a]));
    let pick = |it: &mut dyn Iterator<Item = &usize>| -> Vec<(String, f64)> {
        it.take(TOP_WORDS)
            .map(|&w| (lexicon.words[w].clone(), value[w]))
            .collect()
    };
    ChannelStats {
        name: name.to_string(),
        kind: kind.to_string(),
        spearman: spearman(&x, &p),
        spearman_ci: None,
        words: scored.len(),
        top_increase: pick(&mut order.iter()),
        top_decrease: pick(&mut order.iter().rev()),
    }
}

/// `D u`: per-word mean change along a direction `u` (length `k`).
pub fn along(delta_mean: MatRef<'_, f64>, u: &[f64]) -> Vec<f64> {
    (0..delta_mean.nrows())
        .map(|w| (0..u.len()).map(|j| delta_mean[(w, j)] * u[j]).sum())
        .collect()
}

/// Spearman of random unit directions: the chance level of a direction picked without
/// looking (signs are arbitrary, so `|ρ|` is summarised).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomDirections {
    /// Number of directions drawn.
    pub draws: usize,
    /// Mean of `|ρ|`.
    pub mean_abs_spearman: f64,
    /// Standard deviation of `|ρ|`.
    pub sd_abs_spearman: f64,
    /// Largest `|ρ|`.
    pub max_abs_spearman: f64,
}

/// Mean and (sample) standard deviation.
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (m, 0.0);
    }
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64;
    (m, var.sqrt())
}

/// A standard normal draw (Box-Muller).
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    use rand::RngExt;
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Scores `draws` random Gaussian directions on the scored words.
pub fn random_directions(
    means: &WordMeans,
    scored: &[usize],
    lexicon: &PolarityLexicon,
    draws: usize,
    seed: u64,
) -> RandomDirections {
    let k = means.delta_mean.ncols();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let p: Vec<f64> = scored.iter().map(|&w| lexicon.polarity[w]).collect();
    let rho: Vec<f64> = (0..draws)
        .map(|_| {
            let u: Vec<f64> = (0..k).map(|_| normal(&mut rng)).collect();
            let v = along(means.delta_mean.as_ref(), &u);
            let x: Vec<f64> = scored.iter().map(|&w| v[w]).collect();
            spearman(&x, &p).abs()
        })
        .collect();
    let (m, sd) = mean_sd(&rho);
    RandomDirections {
        draws,
        mean_abs_spearman: m,
        sd_abs_spearman: sd,
        max_abs_spearman: rho.iter().copied().fold(0.0, f64::max),
    }
}

/// The cross-validated best linear direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvDirection {
    /// Spearman between held-out predictions and polarity, all folds pooled.
    pub spearman: f64,
    /// Folds (over words).
    pub folds: usize,
    /// Ridge penalty chosen in each fold (relative to `tr(XᵀX)/k`).
    pub lambdas: Vec<f64>,
}

/// Relative ridge penalties tried by the inner validation.
const LAMBDAS: [f64; 4] = [1e-3, 1e-2, 1e-1, 1.0];

/// Ridge solution `β = (XᵀX + λ I)⁻¹ Xᵀ y` over rows `rows` of `x` (centred by their mean).
fn ridge(
    x: MatRef<'_, f64>,
    y: &[f64],
    rows: &[usize],
    rel_lambda: f64,
) -> (Vec<f64>, Vec<f64>, f64) {
    let k = x.ncols();
    let n = rows.len().max(1) as f64;
    let mx: Vec<f64> = (0..k)
        .map(|j| rows.iter().map(|&i| x[(i, j)]).sum::<f64>() / n)
        .collect();
    let my = rows.iter().map(|&i| y[i]).sum::<f64>() / n;
    let xc = Mat::<f64>::from_fn(rows.len(), k, |a, j| x[(rows[a], j)] - mx[j]);
    let yc = Mat::<f64>::from_fn(rows.len(), 1, |a, _| y[rows[a]] - my);
    let mut g = xc.transpose() * xc.as_ref();
    let tr: f64 = (0..k).map(|j| g[(j, j)]).sum::<f64>() / k as f64;
    let lam = rel_lambda * tr.max(f64::MIN_POSITIVE);
    for j in 0..k {
        g[(j, j)] += lam;
    }
    let rhs = xc.transpose() * yc.as_ref();
    let beta = match g.llt(Side::Lower) {
        Ok(l) => l.solve(rhs.as_ref()),
        Err(_) => g.partial_piv_lu().solve(rhs.as_ref()),
    };
    ((0..k).map(|j| beta[(j, 0)]).collect(), mx, my)
}

fn predict(x: MatRef<'_, f64>, rows: &[usize], fit: &(Vec<f64>, Vec<f64>, f64)) -> Vec<f64> {
    let (beta, mx, my) = fit;
    rows.iter()
        .map(|&i| {
            my + (0..beta.len())
                .map(|j| (x[(i, j)] - mx[j]) * beta[j])
                .sum::<f64>()
        })
        .collect()
}

/// `folds`-fold cross-validation over the scored words of a ridge regression of the polarity on
/// the mean state change; the penalty of each outer fold is chosen by an inner 3-fold split of
/// its training words. Returns the Spearman of the pooled held-out predictions.
pub fn cross_validated_direction(
    means: &WordMeans,
    scored: &[usize],
    lexicon: &PolarityLexicon,
    folds: usize,
    seed: u64,
) -> CvDirection {
    let x = means.delta_mean.as_ref();
    let y = &lexicon.polarity;
    let mut order = scored.to_vec();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let folds = folds.clamp(2, order.len().max(2));
    let split = |rows: &[usize], f: usize, n: usize| -> (Vec<usize>, Vec<usize>) {
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for (i, &r) in rows.iter().enumerate() {
            if i % n == f {
                test.push(r);
            } else {
                train.push(r);
            }
        }
        (train, test)
    };
    let (mut pred, mut truth, mut lambdas) = (Vec::new(), Vec::new(), Vec::new());
    for f in 0..folds {
        let (train, test) = split(&order, f, folds);
        if train.len() < 4 || test.is_empty() {
            continue;
        }
        let best = LAMBDAS
            .iter()
            .copied()
            .max_by(|&a, &b| {
                let score = |lam: f64| {
                    let (mut p, mut t) = (Vec::new(), Vec::new());
                    for g in 0..3 {
                        let (tr, te) = split(&train, g, 3);
                        let fit = ridge(x, y, &tr, lam);
                        p.extend(predict(x, &te, &fit));
                        t.extend(te.iter().map(|&i| y[i]));
                    }
                    spearman(&p, &t)
                };
                score(a).total_cmp(&score(b))
            })
            .unwrap_or(LAMBDAS[1]);
        lambdas.push(best);
        let fit = ridge(x, y, &train, best);
        pred.extend(predict(x, &test, &fit));
        truth.extend(test.iter().map(|&i| y[i]));
    }
    CvDirection {
        spearman: spearman(&pred, &truth),
        folds,
        lambdas,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(s: &str) -> Vec<WordSpan> {
        let p: Vec<&str> = s.split_whitespace().collect();
        word_spans(&p)
    }

    #[test]
    fn pieces_join_into_normalised_words() {
        let w = spans("this movie was aw ##ful ##. \" great ##! \" don ##'t ...");
        let words: Vec<&str> = w.iter().map(|s| s.word.as_str()).collect();
        assert_eq!(words, ["this", "movie", "was", "awful", "great", "don't"]);
        assert_eq!((w[3].start, w[3].end), (3, 5));
        assert_eq!((w[4].start, w[4].end), (7, 8));
        assert_eq!(normalise_word("Awful."), Some("awful".into()));
        assert_eq!(normalise_word("..."), None);
        assert_eq!(normalise_word("bad.<br"), Some("bad".into()));
    }

    #[test]
    fn polarity_signs_follow_the_labels() {
        let pos = spans("great fun great film");
        let neg = spans("awful awful boring film");
        let reviews: Vec<(&[WordSpan], bool)> = (0..30)
            .flat_map(|_| [(pos.as_slice(), true), (neg.as_slice(), false)])
            .collect();
        let lex = PolarityLexicon::from_labelled(reviews, 50);
        let p = |w: &str| lex.polarity[lex.get(w).unwrap()];
        assert!(p("great") > 1.0 && p("awful") < -1.0);
        assert!(p("film").abs() < 0.3);
        // "fun" and "boring" were seen 30 times: below the cut-off.
        assert!(lex.get("fun").is_none() && lex.get("boring").is_none());
    }

    #[test]
    fn spearman_of_monotone_and_tied_data() {
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 400.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(ranks(&[5.0, 1.0, 5.0]), vec![2.5, 1.0, 2.5]);
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), 0.0);
    }

    #[test]
    fn accumulator_takes_the_change_across_each_word() {
        let lex = PolarityLexicon::from_labelled([(spans("good bad").as_slice(), true)], 1);
        let words = spans("good bad ##ly good");
        // states along one axis: 0, 1, 3, 6, 10; level = 10 x state
        let states = Mat::<f64>::from_fn(4, 1, |t, _| [1.0, 3.0, 6.0, 10.0][t]);
        let levels = Mat::<f64>::from_fn(4, 1, |t, _| 10.0 * states[(t, 0)]);
        let mut acc = WordChangeAccumulator::new(lex.len(), 1, 1);
        acc.push(&words, &lex, levels.as_ref(), states.as_ref());
        let m = acc.finish();
        let good = lex.get("good").unwrap();
        // the first "good" is at position 0 and skipped; the second: 10 - 6
        assert_eq!(m.count[good], 1);
        assert_eq!(m.delta_mean[(good, 0)], 4.0);
        assert_eq!(m.group_mean[(good, 0)], 40.0);
        // "badly" is not "bad"
        assert_eq!(m.count[lex.get("bad").unwrap()], 0);
    }

    #[test]
    fn cross_validated_direction_finds_a_linear_signal_and_random_ones_do_not() {
        // 400 words, k = 6; the polarity is read along axis 0 plus noise.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 400;
        let words: Vec<String> = (0..n).map(|i| format!("w{i}")).collect();
        let x = Mat::<f64>::from_fn(n, 6, |_, _| normal(&mut rng));
        let polarity: Vec<f64> = (0..n).map(|i| x[(i, 0)] + 0.3 * normal(&mut rng)).collect();
        let lex = PolarityLexicon {
            index: words
                .iter()
                .enumerate()
                .map(|(i, w)| (w.clone(), i))
                .collect(),
            words,
            polarity,
            train_count: vec![100; n],
            min_count: 50,
        };
        let means = WordMeans {
            count: vec![10; n],
            group_mean: Mat::zeros(n, 0),
            delta_mean: x,
            occurrences: 10 * n,
        };
        let scored = scored_words(&means, 5);
        let cv = cross_validated_direction(&means, &scored, &lex, 5, 0);
        assert!(cv.spearman > 0.9, "{cv:?}");
        let axis = channel_stats(
            "e0",
            "axis",
            &along(means.delta_mean.as_ref(), &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
            &scored,
            &lex,
        );
        assert!(axis.spearman > 0.9);
        assert_eq!(axis.top_increase.len(), TOP_WORDS);
        let other = channel_stats(
            "e3",
            "axis",
            &along(means.delta_mean.as_ref(), &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0]),
            &scored,
            &lex,
        );
        assert!(other.spearman.abs() < 0.2);
        let rnd = random_directions(&means, &scored, &lex, 50, 1);
        assert!(
            rnd.mean_abs_spearman < 0.6 && rnd.mean_abs_spearman > 0.05,
            "{rnd:?}"
        );
    }
}
