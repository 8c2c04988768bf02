//! The contextual eigenvector of the IMDB model (Sec. 4.1, Fig. 1 green): the batch of test
//! reviews containing "not bad" or "not good", and the eigenvector that reacts to them.
//!
//! Criterion: for every group `g` of eigenvectors of the contextual fit (a real eigenvector, or
//! a conjugate pair, whose magnitudes are equal), other than the sentiment sets found by the
//! readout test on the same fit, let `m_g(t) = Σ_{j∈g} s(j, h_t)` (Eq. 10) and
//! `d_g(t) = m_g(t) − m_g(t−1)`. Its score is the mean jump at the phrase tokens (the
//! "bad"/"good" piece right after "not") divided by the mean absolute step over all real steps:
//! `ratio_g = mean_{phrases} d_g(t*) / mean_{s,t} |d_g(t)|`. The group with the largest ratio is
//! the contextual eigenvector: its magnitude jumps at the negated phrases many times more than it
//! moves on an average word.

use anyhow::Result;
use kann_koopman::States;
use serde::{Deserialize, Serialize};

use crate::kann::{Fit, groups, magnitudes, set_name};

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
}

/// Criterion text for the report.
pub const CRITERION: &str = "largest ratio of the mean jump d_g(t*) = m_g(t*) - m_g(t*-1) of the \
    projection magnitude m_g = sum_{j in g} s(j, h_t) (Eq. 10) at the 'bad'/'good' token right \
    after 'not', to the mean |d_g(t)| over all real steps; sentiment sets excluded";

/// Chooses the contextual group of `fit` (fitted on the contextual batch `states`);
/// `positions[i]` are the phrase positions of sequence `i`; `exclude` are 0-based indices not
/// to consider (the sentiment sets).
pub fn choose(
    fit: &Fit,
    states: &States,
    positions: &[Vec<(usize, &'static str)>],
    exclude: &[usize],
) -> Result<Option<ContextualChoice>> {
    let cands: Vec<Vec<usize>> = groups(&fit.spectrum)
        .into_iter()
        .filter(|g| !g.iter().any(|j| exclude.contains(j)))
        .collect();
    let nc = cands.len();
    let (mut jump, mut steps) = (vec![0.0; nc], vec![0.0; nc]);
    let (mut n_jump, mut n_steps) = (0usize, 0usize);
    for (i, pos) in positions.iter().enumerate().take(states.num_sequences()) {
        let seq = states.sequence(i);
        let len = seq.nrows();
        if len < 2 {
            continue;
        }
        let mags = magnitudes(seq, fit);
        let m = |g: &[usize], t: usize| g.iter().map(|&j| mags[(t, j)]).sum::<f64>();
        for (c, g) in cands.iter().enumerate() {
            for t in 1..len {
                steps[c] += (m(g, t) - m(g, t - 1)).abs();
            }
            for &(t, _) in pos.iter().filter(|(t, _)| *t < len) {
                jump[c] += m(g, t) - m(g, t - 1);
            }
        }
        n_steps += len - 1;
        n_jump += pos.iter().filter(|(t, _)| *t < len).count();
    }
    if n_jump == 0 || nc == 0 || n_steps == 0 {
        return Ok(None);
    }
    let mut scored: Vec<ContextCandidate> = cands
        .iter()
        .enumerate()
        .map(|(c, g)| {
            let mean_jump = jump[c] / n_jump as f64;
            let mean_abs_step = steps[c] / n_steps as f64;
            ContextCandidate {
                set: g.iter().map(|j| j + 1).collect(),
                name: set_name(g),
                modulus: fit.spectrum.eigenvalues[g[0]].norm(),
                mean_jump,
                mean_abs_step,
                ratio: if mean_abs_step > 0.0 {
                    mean_jump / mean_abs_step
                } else {
                    0.0
                },
            }
        })
        .collect();
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
    }))
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
    }
}
