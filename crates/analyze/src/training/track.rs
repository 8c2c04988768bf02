//! Mode identity over training: the leading eigenvalues of the final probe, followed back through
//! every earlier probe by minimum-cost assignment (`kann_koopman::match_eigenvalues`: the
//! bijection between two sets of eigenvalues with the least total `|λ_i − λ_j|`).
//!
//! Distance alone cannot follow two modes that cross on the real axis: for any convex cost the
//! order-keeping pairing is the cheapest, so the tracks would swap at the crossing. Each track
//! therefore predicts where it was one probe earlier by constant velocity (`2 λ_t − λ_{t+1}`,
//! from its last two points) and the earlier probe's eigenvalues are assigned to those
//! predictions; the first step back, with no velocity yet, assigns to the final eigenvalues.

use kann_koopman::faer::c64;
use kann_koopman::match_eigenvalues;
use serde::{Deserialize, Serialize};

/// A jump larger than this between consecutive probes is reported as a break of identity
/// (`Track::breaks`): the assignment still pairs the two eigenvalues, but they are far apart.
pub const BREAK_DISTANCE: f64 = 0.05;

/// One mode of the final probe, traced back over training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// Its 1-based index in the final probe (by modulus).
    pub final_index: usize,
    /// `(epoch, re, im)` at every probe, in training order.
    pub points: Vec<(f64, f64, f64)>,
    /// The largest `|Δλ|` between consecutive probes.
    pub max_step: f64,
    /// Epochs (of the later probe) where `|Δλ| > BREAK_DISTANCE`.
    pub breaks: Vec<f64>,
}

impl Track {
    /// `(epoch, |λ|)` at every probe.
    pub fn moduli(&self) -> Vec<(f64, f64)> {
        self.points.iter().map(|p| (p.0, p.1.hypot(p.2))).collect()
    }
}

/// Traces each of the final probe's leading eigenvalues back through `probes` (training order;
/// each `(epoch, leading eigenvalues)`). Spectra of different lengths are matched on their common
/// leading part.
pub fn track_modes(probes: &[(f64, Vec<c64>)]) -> Vec<Track> {
    let Some((last_epoch, last)) = probes.last() else {
        return Vec::new();
    };
    let n = probes.iter().map(|p| p.1.len()).min().unwrap_or(0);
    // idx[j]: where mode j of the final probe sits in the probe being visited.
    let mut idx: Vec<usize> = (0..n).collect();
    let mut tracks: Vec<Track> = (0..n)
        .map(|j| Track {
            final_index: j + 1,
            points: vec![(*last_epoch, last[j].re, last[j].im)],
            max_step: 0.0,
            breaks: Vec::new(),
        })
        .collect();
    for w in probes.windows(2).rev() {
        let (later, earlier) = (&w[1], &w[0]);
        // prediction[i]: where the track now at later index i is expected in the earlier probe.
        let mut prediction = later.1[..n].to_vec();
        for (j, t) in tracks.iter().enumerate() {
            if let [.., before, now] = t.points.as_slice() {
                let (before, now) = (c64::new(before.1, before.2), c64::new(now.1, now.2));
                prediction[idx[j]] = now + (now - before);
            }
        }
        let assign = match_eigenvalues(&prediction, &earlier.1[..n]);
        for (j, t) in tracks.iter_mut().enumerate() {
            let from = later.1[idx[j]];
            idx[j] = assign[idx[j]];
            let to = earlier.1[idx[j]];
            let step = (from - to).norm();
            t.max_step = t.max_step.max(step);
            if step > BREAK_DISTANCE {
                t.breaks.push(later.0);
            }
            t.points.push((earlier.0, to.re, to.im));
        }
    }
    for t in &mut tracks {
        t.points.reverse();
        t.breaks.reverse();
    }
    tracks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic spectrum that drifts: a slow real mode rising from 0.90 to 0.999 while a
    /// pair rotates and a fast mode shrinks; the three swap order by modulus on the way. Each
    /// track must follow its own mode, not the position by modulus.
    #[test]
    fn drifting_modes_keep_their_identity_when_they_swap_order() {
        let probes: Vec<(f64, Vec<c64>)> = (0..=10)
            .map(|e| {
                let f = e as f64 / 10.0;
                let slow = c64::new(0.90 + 0.099 * f, 0.0);
                let pair = c64::from_polar(0.95, 0.3 + 0.02 * f);
                let fast = c64::new(0.96 - 0.2 * f, 0.0);
                let mut v = vec![slow, pair, pair.conj(), fast];
                v.sort_by(|a, b| b.norm().total_cmp(&a.norm()).then(b.im.total_cmp(&a.im)));
                (e as f64, v)
            })
            .collect();
        let tracks = track_modes(&probes);
        assert_eq!(tracks.len(), 4);
        // The final leading mode is the slow one: traced back, it starts at 0.90.
        let t1 = &tracks[0];
        assert_eq!(t1.final_index, 1);
        assert!((t1.points[10].1 - 0.999).abs() < 1e-12);
        assert!((t1.points[0].1 - 0.90).abs() < 1e-12, "{:?}", t1.points);
        assert!(t1.points.iter().all(|p| p.2 == 0.0));
        // The fast mode (last at the end) started at 0.96, first by modulus then.
        let fast = tracks
            .iter()
            .find(|t| (t.points[10].1 - 0.76).abs() < 1e-12)
            .unwrap();
        assert!((fast.points[0].1 - 0.96).abs() < 1e-12);
        // Small steps everywhere: no break of identity.
        assert!(
            tracks
                .iter()
                .all(|t| t.breaks.is_empty() && t.max_step < 0.03)
        );
        assert_eq!(t1.moduli().len(), 11);
    }

    #[test]
    fn a_jump_is_reported_as_a_break() {
        let probes = vec![
            (0.0, vec![c64::new(0.5, 0.0)]),
            (1.0, vec![c64::new(0.9, 0.0)]),
        ];
        let t = &track_modes(&probes)[0];
        assert_eq!(t.breaks, vec![1.0]);
        assert!((t.max_step - 0.4).abs() < 1e-12);
    }
}
