//! The contextual eigenvector of the IMDB model (Sec. 4.1, Fig. 1 green): the batch of test
//! reviews containing "not bad" or "not good", and the eigenvector that reacts to them — if any
//! does more than chance.
//!
//! Criterion: for every group `g` of eigenvectors of the contextual fit (a real eigenvector, or
//! a conjugate pair, whose magnitudes are equal), other than the sentiment sets found by the
//! readout test on the same fit, let `m_g(t) = Σ_{j∈g} s(j, h_t)` (Eq. 10) and
//! `d_g(t) = m_g(t) − m_g(t−1)`. Its score is the mean jump at the phrase tokens (the
//! "bad"/"good" piece right after "not") divided by the mean absolute step over all real steps:
//! `ratio_g = mean_{phrases} d_g(t*) / mean_{s,t} |d_g(t)|`. The group with the largest ratio is
//! the candidate.
//!
//! Null tests ([`ContextualNull`]), both of the *maximum over groups* so that the selection is
//! part of the null:
//! - **random positions**: the same number of positions per review drawn uniformly among its real
//!   steps; the best group's ratio there, over many draws;
//! - **control words**: the same words without the negation ("bad"/"good" not preceded by
//!   "not", in the same reviews); the contrast `(mean d_g at "not X" − mean d_g at plain X) /
//!   mean |d_g|`, against the same contrast with the two labels permuted.
//!
//! A group is called contextual only when both nulls reject: z ≥ [`Z_CONTEXTUAL`] and the
//! permutation p-value ≤ [`P_CONTEXTUAL`] (the null of a maximum is skewed, so the z-score alone
//! overstates the evidence).

use anyhow::{Context, Result};
use kann_data::imdb::Review;
use kann_koopman::States;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::data::{ImdbRun, Item};
use super::figures::ShadedReview;
use super::report::ContextualReport;
use super::words::mean_sd;
use crate::kann::{Fit, magnitudes, set_name};

/// z-score both null tests must reach for a group to be called contextual.
pub const Z_CONTEXTUAL: f64 = 3.0;
/// Permutation p-value both null tests must reach.
pub const P_CONTEXTUAL: f64 = 0.01;

/// Phrase positions of one review: `(t*, phrase)`.
pub type Positions = Vec<(usize, &'static str)>;

/// The phrases of the contextual batch (matched on word pieces, case-folded).
pub const PHRASES: [&str; 2] = ["not bad", "not good"];

/// Positions of the phrases in a review's pieces: `(t*, phrase)` where `t*` is the index of the
/// "bad"/"good" piece right after a whole-word "not" piece. The second word may carry attached
/// punctuation as continuation pieces ("bad" "##." ) or inside the piece ("bad.").
pub fn phrase_positions(pieces: &[String]) -> Vec<(usize, &'static str)> {
    let mut out = Vec::new();
    for t in 1..pieces.len() {
        let prev = pieces[t - 1].as_str();
        let starts_word = |p: &str| !p.starts_with("##");
        // "not" must be a whole word: the piece itself (a continuation would be "##not") and
        // the piece after it starts a new word.
        if prev != "not" {
            continue;
        }
        let cur = pieces[t].as_str();
        if !starts_word(cur) {
            continue;
        }
        let word: String = cur.chars().take_while(|c| c.is_alphanumeric()).collect();
        let next_is_cont = pieces.get(t + 1).is_some_and(|p| {
            p.starts_with("##") && p[2..].chars().next().is_some_and(char::is_alphanumeric)
        });
        if next_is_cont {
            continue; // e.g. "bad" "##ly": a longer word
        }
        if word == "bad" {
            out.push((t, PHRASES[0]));
        } else if word == "good" {
            out.push((t, PHRASES[1]));
        }
    }
    out
}

/// Positions of the control words: a whole-word "bad"/"good" piece (not continued by a longer
/// word) that does *not* follow "not".
pub fn control_positions(pieces: &[String]) -> Vec<usize> {
    let mut out = Vec::new();
    for t in 1..pieces.len() {
        let cur = pieces[t].as_str();
        if cur.starts_with("##") || pieces[t - 1] == "not" {
            continue;
        }
        let word: String = cur.chars().take_while(|c| c.is_alphanumeric()).collect();
        let next_is_cont = pieces.get(t + 1).is_some_and(|p| {
            p.starts_with("##") && p[2..].chars().next().is_some_and(char::is_alphanumeric)
        });
        if !next_is_cont && (word == "bad" || word == "good") {
            out.push(t);
        }
    }
    out
}

/// One null test of the contextual criterion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NullTest {
    /// The observed statistic (of the chosen group).
    pub observed: f64,
    /// Mean of the null's maximum over groups.
    pub null_mean: f64,
    /// Its standard deviation.
    pub null_sd: f64,
    /// `(observed − null_mean) / null_sd`.
    pub z: f64,
    /// `(1 + #{null ≥ observed}) / (1 + draws)`.
    pub p: f64,
}

impl NullTest {
    fn new(observed: f64, null: &[f64]) -> Self {
        let (m, sd) = mean_sd(null);
        let above = null.iter().filter(|&&v| v >= observed).count();
        NullTest {
            observed,
            null_mean: m,
            null_sd: sd,
            z: if sd > 0.0 { (observed - m) / sd } else { 0.0 },
            p: (1 + above) as f64 / (1 + null.len()) as f64,
        }
    }
}

/// The null tests of the chosen group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextualNull {
    /// Draws of each null.
    pub draws: usize,
    /// The ratio at random positions of the same reviews.
    pub random_positions: NullTest,
    /// Occurrences of the control words ("bad"/"good" without "not").
    pub control_occurrences: usize,
    /// The contrast against the control words (`None` without control occurrences).
    pub control_words: Option<NullTest>,
    /// Both nulls reject: z ≥ [`Z_CONTEXTUAL`] and p ≤ [`P_CONTEXTUAL`].
    pub is_contextual: bool,
}

/// One candidate group with its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextCandidate {
    /// The group, 1-based.
    pub set: Vec<usize>,
    /// `"u8"` or `"u9,u10"`.
    pub name: String,
    /// Modulus of its eigenvalue.
    pub modulus: f64,
    /// Mean jump `d_g(t*)` at the phrase tokens.
    pub mean_jump: f64,
    /// Mean absolute step `|d_g(t)|` over all real steps.
    pub mean_abs_step: f64,
    /// `mean_jump / mean_abs_step`.
    pub ratio: f64,
}

/// The contextual eigenvector and the runner-up groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextualChoice {
    /// How the group was chosen.
    pub criterion: String,
    /// Phrase occurrences that entered the score.
    pub occurrences: usize,
    /// The chosen group, 1-based.
    pub chosen: Vec<usize>,
    /// `"u8"`.
    pub chosen_name: String,
    /// Eigenvalue `(re, im)` of the chosen group.
    pub chosen_eigenvalue: (f64, f64),
    /// The best candidates by ratio (at most 8), the chosen one first.
    pub top_candidates: Vec<ContextCandidate>,
    /// Whether the chosen group beats chance.
    pub null: ContextualNull,
}

/// Criterion text for the report.
pub const CRITERION: &str = "largest ratio of the mean jump d_g(t*) = m_g(t*) - m_g(t*-1) of the \
    projection magnitude m_g = sum_{j in g} s(j, h_t) (Eq. 10) at the 'bad'/'good' token right \
    after 'not', to the mean |d_g(t)| over all real steps; sentiment sets excluded";

/// Chooses the contextual group of `fit` (fitted on the contextual batch `states`) and tests
/// it against both nulls; `positions[i]` are the phrase positions of sequence `i`, `controls[i]`
/// its control-word positions; `exclude` are 0-based indices not to consider (the sentiment
/// sets); `draws` permutations, seeded by `seed`.
pub fn choose(
    fit: &Fit,
    states: &States,
    positions: &[Vec<(usize, &'static str)>],
    controls: &[Vec<usize>],
    exclude: &[usize],
    draws: usize,
    seed: u64,
) -> Result<Option<ContextualChoice>> {
    let cands: Vec<Vec<usize>> = fit
        .spectrum
        .groups()
        .into_iter()
        .filter(|g| !g.iter().any(|j| exclude.contains(j)))
        .collect();
    let nc = cands.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let jumps = Jumps::collect(fit, states, positions, controls, &cands, draws, &mut rng);
    let (n_jump, n_steps) = (jumps.n_jump, jumps.n_steps);
    if n_jump == 0 || nc == 0 || n_steps == 0 {
        return Ok(None);
    }
    let scale: Vec<f64> = jumps.steps.iter().map(|s| s / n_steps as f64).collect();
    let ratio = |sum: f64, n: usize, c: usize| {
        if scale[c] > 0.0 {
            sum / n as f64 / scale[c]
        } else {
            0.0
        }
    };
    let mut scored: Vec<ContextCandidate> = cands
        .iter()
        .enumerate()
        .map(|(c, g)| ContextCandidate {
            set: g.iter().map(|j| j + 1).collect(),
            name: set_name(g),
            modulus: fit.spectrum.eigenvalues[g[0]].norm(),
            mean_jump: jumps.jump[c] / n_jump as f64,
            mean_abs_step: scale[c],
            ratio: ratio(jumps.jump[c], n_jump, c),
        })
        .collect();
    let best_c = (0..nc)
        .max_by(|&a, &b| scored[a].ratio.total_cmp(&scored[b].ratio))
        .unwrap_or(0);
    // Null 1: the best ratio at random positions.
    let null_random: Vec<f64> = (0..draws)
        .map(|p| {
            (0..nc)
                .map(|c| ratio(jumps.random[p * nc + c], n_jump, c))
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .collect();
    let random_positions = NullTest::new(scored[best_c].ratio, &null_random);
    // Null 2: the best contrast of phrases against control words, labels permuted.
    let n_ctrl = jumps.occ.iter().filter(|o| !o.0).count();
    let control_words = (n_ctrl > 0).then(|| jumps.control_null(&scale, best_c, draws, &mut rng));
    let rejects = |t: &NullTest| t.z >= Z_CONTEXTUAL && t.p <= P_CONTEXTUAL;
    let is_contextual = rejects(&random_positions) && control_words.as_ref().is_some_and(rejects);
    scored.sort_by(|a, b| b.ratio.total_cmp(&a.ratio));
    scored.truncate(8);
    let best = scored[0].clone();
    let l = fit.spectrum.eigenvalues[best.set[0] - 1];
    Ok(Some(ContextualChoice {
        criterion: CRITERION.to_string(),
        occurrences: n_jump,
        chosen: best.set.clone(),
        chosen_name: best.name.clone(),
        chosen_eigenvalue: (l.re, l.im),
        top_candidates: scored,
        null: ContextualNull {
            draws,
            random_positions,
            control_occurrences: n_ctrl,
            control_words,
            is_contextual,
        },
    }))
}

/// The jumps `d_g(t) = m_g(t) − m_g(t−1)` of the projection magnitude
/// `m_g = Σ_{j∈g} s(j, h_t)` (Eq. 10) of every candidate group over a batch: summed at the
/// phrase positions, at random positions (one draw per phrase, per permutation) and in absolute
/// value over all real steps; and the jumps at every phrase and control-word occurrence.
struct Jumps {
    /// Candidate groups.
    nc: usize,
    /// `Σ d_g(t*)` over the phrase positions, per group.
    jump: Vec<f64>,
    /// `Σ |d_g(t)|` over all real steps, per group.
    steps: Vec<f64>,
    /// `random[p * nc + c]`: the sum of `d_c` at the random positions of permutation `p`.
    random: Vec<f64>,
    /// Per occurrence: whether it is a phrase (true) or a control word, and the jump of every
    /// group there.
    occ: Vec<(bool, Vec<f64>)>,
    /// Phrase occurrences counted.
    n_jump: usize,
    /// Real steps counted (`len − 1` per sequence).
    n_steps: usize,
}

impl Jumps {
    /// Tallies the jumps of the groups `cands` over `states`; the random positions are drawn
    /// from `rng` (sequence by sequence, permutation by permutation).
    fn collect(
        fit: &Fit,
        states: &States,
        positions: &[Vec<(usize, &'static str)>],
        controls: &[Vec<usize>],
        cands: &[Vec<usize>],
        draws: usize,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let nc = cands.len();
        let mut j = Jumps {
            nc,
            jump: vec![0.0; nc],
            steps: vec![0.0; nc],
            random: vec![0.0; draws * nc],
            occ: Vec::new(),
            n_jump: 0,
            n_steps: 0,
        };
        for (i, pos) in positions.iter().enumerate().take(states.num_sequences()) {
            let seq = states.sequence(i);
            let len = seq.nrows();
            if len < 2 {
                continue;
            }
            let d = j.sequence_jumps(seq, fit, cands);
            let row = |t: usize| d[t * nc..(t + 1) * nc].to_vec();
            let here: Vec<usize> = pos.iter().map(|(t, _)| *t).filter(|&t| t < len).collect();
            for &t in &here {
                for c in 0..nc {
                    j.jump[c] += d[t * nc + c];
                }
                j.occ.push((true, row(t)));
            }
            for &t in controls.get(i).map(Vec::as_slice).unwrap_or(&[]) {
                if t < len {
                    j.occ.push((false, row(t)));
                }
            }
            for p in 0..draws {
                for _ in 0..here.len() {
                    let t = rng.random_range(1..len);
                    for c in 0..nc {
                        j.random[p * nc + c] += d[t * nc + c];
                    }
                }
            }
            j.n_steps += len - 1;
            j.n_jump += here.len();
        }
        j
    }

    /// The jumps of one sequence `seq` (`len × H`, `len ≥ 2`), `d[t * nc + c] = d_c(t)` for
    /// `t ≥ 1` (0 at `t = 0`); adds `|d_c(t)|` to `steps`.
    fn sequence_jumps(
        &mut self,
        seq: kann_koopman::faer::MatRef<'_, f64>,
        fit: &Fit,
        cands: &[Vec<usize>],
    ) -> Vec<f64> {
        let (nc, len) = (self.nc, seq.nrows());
        let mags = magnitudes(seq, fit);
        let m = |g: &[usize], t: usize| g.iter().map(|&j| mags[(t, j)]).sum::<f64>();
        let mut d = vec![0.0; len * nc];
        for (c, g) in cands.iter().enumerate() {
            let mut prev = m(g, 0);
            for t in 1..len {
                let cur = m(g, t);
                d[t * nc + c] = cur - prev;
                self.steps[c] += (cur - prev).abs();
                prev = cur;
            }
        }
        d
    }

    /// Null 2: the contrast (mean jump at phrases − mean jump at control words, over `scale`)
    /// of group `best_c` against the best contrast over all groups with the phrase/control
    /// labels permuted `draws` times (shuffled with `rng`).
    fn control_null(
        &self,
        scale: &[f64],
        best_c: usize,
        draws: usize,
        rng: &mut ChaCha8Rng,
    ) -> NullTest {
        let contrast = |labels: &[bool], c: usize| {
            let (mut a, mut na, mut b, mut nb) = (0.0, 0usize, 0.0, 0usize);
            for (o, &is_phrase) in self.occ.iter().zip(labels) {
                if is_phrase {
                    a += o.1[c];
                    na += 1;
                } else {
                    b += o.1[c];
                    nb += 1;
                }
            }
            if na == 0 || nb == 0 || scale[c] <= 0.0 {
                0.0
            } else {
                (a / na as f64 - b / nb as f64) / scale[c]
            }
        };
        let mut labels: Vec<bool> = self.occ.iter().map(|o| o.0).collect();
        let observed = contrast(&labels, best_c);
        let null: Vec<f64> = (0..draws)
            .map(|_| {
                labels.shuffle(rng);
                (0..self.nc)
                    .map(|c| contrast(&labels, c))
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect();
        NullTest::new(observed, &null)
    }
}

/// Permutation draws of each null test.
pub const NULL_DRAWS: usize = 500;

/// The contextual stage: the batch of test reviews (at most `max_len` pieces) with "not bad" /
/// "not good", its own fit, the sentiment sets of that fit (excluded), the best group with its
/// null tests, and up to two reviews to shade with it (one per phrase).
#[allow(clippy::too_many_arguments)]
pub fn run(
    imdb: &ImdbRun,
    all_test: &[Review],
    max_len: usize,
    cap: usize,
    rank: Option<usize>,
    chunk: usize,
    seed: u64,
    warnings: &mut Vec<String>,
) -> Result<(ContextualReport, Vec<ShadedReview>)> {
    let mut items = phrase_reviews(imdb, all_test, max_len);
    let matching = items.len();
    let mut report = ContextualReport {
        matching_reviews: matching,
        batch: 0,
        cap,
        rank: 0,
        count_above_099: 0,
        excluded: Vec::new(),
        choice: None,
    };
    if matching < 2 {
        warnings.push(format!(
            "only {matching} test review(s) of at most {max_len} pieces contain \"not bad\"/\"not good\": no contextual analysis"
        ));
        return Ok((report, Vec::new()));
    }
    items.shuffle(&mut ChaCha8Rng::seed_from_u64(seed.wrapping_add(17)));
    items.truncate(cap);
    let refs: Vec<&Item> = items.iter().map(|(it, _, _)| it).collect();
    let positions: Vec<Vec<(usize, &'static str)>> =
        items.iter().map(|(_, p, _)| p.clone()).collect();
    let controls: Vec<Vec<usize>> = items.iter().map(|(_, _, c)| c.clone()).collect();
    let width = refs.iter().map(|it| it.ids.len()).max().unwrap_or(2);
    let states = imdb.states(&refs, width, chunk, "  contextual")?;
    let fit = crate::kann::fit(&states, rank).context("fitting the contextual batch")?;
    warnings.extend(
        fit.model
            .warnings
            .iter()
            .map(|w| format!("contextual fit: {w}")),
    );
    let lengths = states.lengths().to_vec();
    let h_last = crate::kann::states_at(&states, |i| lengths[i] - 1);
    let net = imdb.readout.logits(h_last.as_ref());
    let sentiment = super::sentiment::choose(&fit, h_last.as_ref(), &imdb.readout, &net)?;
    let mut exclude = sentiment.positive_set();
    exclude.extend(sentiment.negative_set());
    let choice = choose(
        &fit,
        &states,
        &positions,
        &controls,
        &exclude,
        NULL_DRAWS,
        seed.wrapping_add(23),
    )?;
    report.batch = refs.len();
    report.rank = fit.model.rank();
    report.count_above_099 = fit
        .spectrum
        .eigenvalues
        .iter()
        .filter(|l| l.norm() > crate::kann::DOMINANT_MODULUS)
        .count();
    report.excluded = exclude.iter().map(|j| j + 1).collect();
    let shaded = match &choice {
        Some(c) => shade(imdb, &refs, &positions, &states, &fit, &net, c),
        None => {
            warnings.push(
                "no phrase occurrence in the contextual batch: no contextual eigenvector".into(),
            );
            Vec::new()
        }
    };
    report.choice = choice;
    Ok((report, shaded))
}

/// The test reviews of at least 2 and at most `max_len` pieces with "not bad" / "not good" as
/// whole words, in split order, each with its phrase positions and control-word positions.
fn phrase_reviews(
    imdb: &ImdbRun,
    all_test: &[Review],
    max_len: usize,
) -> Vec<(Item, Positions, Vec<usize>)> {
    let mut items: Vec<(Item, Positions, Vec<usize>)> = Vec::new();
    for r in all_test {
        let lower = r.text.to_lowercase();
        if !PHRASES.iter().any(|p| lower.contains(p)) {
            continue;
        }
        let ids = imdb.tokenizer.encode_ids(&r.text);
        if ids.len() < 2 || ids.len() > max_len {
            continue;
        }
        let pieces = imdb.pieces(&ids);
        let pos = phrase_positions(&pieces);
        if !pos.is_empty() {
            let ctrl = control_positions(&pieces);
            items.push((
                Item {
                    review: r.clone(),
                    ids,
                },
                pos,
                ctrl,
            ));
        }
    }
    items
}

/// The reviews to shade with the chosen group `c`: per phrase, the shortest review of the batch
/// with at least 40 pieces that contains it (not one already picked), shaded by
/// `m_g(h_t) = Σ_{j∈g} s(j, h_t)` (Eq. 10).
fn shade(
    imdb: &ImdbRun,
    refs: &[&Item],
    positions: &[Positions],
    states: &States,
    fit: &Fit,
    net: &[f64],
    c: &ContextualChoice,
) -> Vec<ShadedReview> {
    let set: Vec<usize> = c.chosen.iter().map(|j| j - 1).collect();
    let mut picked: Vec<usize> = Vec::new();
    for phrase in PHRASES {
        let mut cands: Vec<usize> = (0..refs.len())
            .filter(|&i| !picked.contains(&i) && positions[i].iter().any(|(_, p)| *p == phrase))
            .collect();
        cands.sort_by_key(|&i| (refs[i].ids.len() < 40, refs[i].ids.len(), i));
        if let Some(&i) = cands.first() {
            picked.push(i);
        }
    }
    let mut shaded = Vec::new();
    for (n, &i) in picked.iter().enumerate() {
        let it = refs[i];
        let mags = magnitudes(states.sequence(i), fit);
        let levels: Vec<f64> = (0..mags.nrows())
            .map(|t| set.iter().map(|&j| mags[(t, j)]).sum())
            .collect();
        shaded.push(ShadedReview {
            role: "context".into(),
            stem: format!("context_{}", n + 1),
            review: format!("{}_{}", it.review.id, it.review.rating),
            label: it.review.label,
            logit: net[i],
            tokens: imdb.pieces(&it.ids),
            sets: vec![(
                c.chosen_name.clone(),
                c.chosen.clone(),
                levels,
                kann_plot::ColorMap::Greens,
            )],
            tracking: None,
            tracking_marks: None,
            tracking_stability: None,
        });
    }
    shaded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn finds_whole_word_phrases_only() {
        assert_eq!(
            phrase_positions(&p("it is not bad at all")),
            vec![(3, "not bad")]
        );
        assert_eq!(phrase_positions(&p("not good ##.")), vec![(1, "not good")]);
        assert_eq!(phrase_positions(&p("not good.")), vec![(1, "not good")]);
        // "bad" "##ly" is "badly", "can" "##not" is not the word "not"
        assert!(phrase_positions(&p("not bad ##ly")).is_empty());
        assert!(phrase_positions(&p("can ##not good")).is_empty());
        assert!(phrase_positions(&p("nothing bad")).is_empty());
        assert_eq!(
            control_positions(&p("a bad film , not bad , good ##s good")),
            vec![1, 9]
        );
    }

    /// Two axes: axis 0 jumps by +5 at every "not bad"/"not good" and by +1 at plain "bad"/"good"
    /// (a planted contextual mode, λ = 0.9); axis 1 is a slow drift driven by every word.
    fn contextual_system(planted: bool) -> (States, Vec<Positions>, Vec<Vec<usize>>) {
        let words = ["the", "film", "is", "not", "bad", "good", "plot", "and"];
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (s, n) = (40, 40);
        let (mut data, mut pos, mut ctrl) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..s {
            let toks: Vec<String> = (0..n)
                .map(|_| words[rng.random_range(0..words.len())].to_string())
                .collect();
            let (mut a, mut b) = (0.0f64, 0.0f64);
            let ph = phrase_positions(&toks);
            let ct = control_positions(&toks);
            for t in 0..n {
                let kick = if planted && ph.iter().any(|(u, _)| *u == t) {
                    5.0
                } else if planted && ct.contains(&t) {
                    1.0
                } else {
                    0.0
                };
                a = 0.9 * a + kick + 0.3;
                b = 0.999 * b + 0.2 + 0.1 * rng.random::<f64>();
                data.extend_from_slice(&[a, b]);
            }
            pos.push(ph);
            ctrl.push(ct);
        }
        (States::from_f64(data, s, n, 2).unwrap(), pos, ctrl)
    }

    #[test]
    fn a_planted_contextual_mode_clears_both_nulls_and_none_is_called_without_it() {
        let (states, pos, ctrl) = contextual_system(true);
        let f = crate::kann::fit(&states, Some(2)).unwrap();
        let c = choose(&f, &states, &pos, &ctrl, &[], 200, 1)
            .unwrap()
            .unwrap();
        assert!((c.chosen_eigenvalue.0 - 0.9).abs() < 0.05, "{c:?}");
        assert!(c.null.is_contextual, "{:?}", c.null);
        let (states, pos, ctrl) = contextual_system(false);
        let f = crate::kann::fit(&states, Some(2)).unwrap();
        let c = choose(&f, &states, &pos, &ctrl, &[], 200, 1)
            .unwrap()
            .unwrap();
        assert!(!c.null.is_contextual, "{:?}", c.null);
    }
}
