//! Checks of how a states array was laid out, run before a fit. Three mistakes give a fit that
//! runs and a wrong `e_rel` (issue 10): zero padding fitted as data, a time-major `[T, B, H]`
//! array read as `[B, T, H]`, and sequences stacked into one `[B·T, H]` array. Each check
//! measures the symptom on the data; the caller decides what to warn.

use crate::states::States;

/// Rows (states) whose entries are all exactly `0.0`, among the valid steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ZeroRows {
    /// Valid rows looked at.
    pub rows: usize,
    /// Rows that are exactly zero.
    pub zero: usize,
    /// Zero rows in a run that ends its sequence (what zero padding looks like).
    pub trailing: usize,
    /// Sequences that end in at least one zero row.
    pub sequences_with_trailing: usize,
}

impl ZeroRows {
    /// Fraction of the rows that are exactly zero.
    pub fn fraction(&self) -> f64 {
        if self.rows == 0 {
            0.0
        } else {
            self.zero as f64 / self.rows as f64
        }
    }
}

fn is_zero(row: &[f64]) -> bool {
    row.iter().all(|&x| x == 0.0)
}

/// Counts the exactly-zero rows among the valid steps of `states`. A recurrent state is
/// practically never exactly zero after a real input, so many zero rows, in trailing runs, mean
/// that padding is being treated as data.
pub fn zero_rows(states: &States) -> ZeroRows {
    let mut out = ZeroRows {
        rows: 0,
        zero: 0,
        trailing: 0,
        sequences_with_trailing: 0,
    };
    for i in 0..states.num_sequences() {
        let len = states.lengths()[i];
        let zero: Vec<bool> = (0..len).map(|t| is_zero(states.state(i, t))).collect();
        let trailing = zero.iter().rev().take_while(|&&z| z).count();
        out.rows += len;
        out.zero += zero.iter().filter(|&&z| z).count();
        out.trailing += trailing;
        out.sequences_with_trailing += usize::from(trailing > 0);
    }
    out
}

/// How alike neighbouring states are along the axis read as time and along the axis read as
/// batch: mean of `|h_a − h_b|²` over neighbour pairs of valid, non-zero rows.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AxisSmoothness {
    /// Mean squared difference of `h_{i,t}` and `h_{i,t+1}` (neighbours in time).
    pub time: f64,
    /// Mean squared difference of `h_{i,t}` and `h_{i+1,t}` (neighbours in the batch).
    pub batch: f64,
    /// Number of time-neighbour pairs averaged.
    pub time_pairs: usize,
    /// Number of batch-neighbour pairs averaged.
    pub batch_pairs: usize,
}

/// Ratio `batch / time` below which [`AxisSmoothness::looks_transposed`] fires.
pub const TRANSPOSED_RATIO: f64 = 0.5;

impl AxisSmoothness {
    /// True if neighbours along the batch axis are much more alike (`batch < 0.5 · time`) than
    /// neighbours along the time axis. A recurrent state moves a little per step while two
    /// different sequences differ, so in a `[B, T, H]` array read correctly time neighbours are
    /// the closer ones; the opposite says the array is probably time-major `[T, B, H]`. Needs at
    /// least 8 pairs along each axis.
    pub fn looks_transposed(&self) -> bool {
        self.time_pairs >= 8 && self.batch_pairs >= 8 && self.batch < TRANSPOSED_RATIO * self.time
    }
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Measures [`AxisSmoothness`] on the valid steps of `states` (zero rows are skipped, so that
/// zero padding does not look smooth).
pub fn axis_smoothness(states: &States) -> AxisSmoothness {
    let (mut time, mut tp, mut batch, mut bp) = (0.0, 0usize, 0.0, 0usize);
    let lengths = states.lengths();
    for i in 0..states.num_sequences() {
        for t in 0..lengths[i] {
            let h = states.state(i, t);
            if is_zero(h) {
                continue;
            }
            if t + 1 < lengths[i] {
                let next = states.state(i, t + 1);
                if !is_zero(next) {
                    time += sq_dist(h, next);
                    tp += 1;
                }
            }
            if i + 1 < states.num_sequences() && t < lengths[i + 1] {
                let other = states.state(i + 1, t);
                if !is_zero(other) {
                    batch += sq_dist(h, other);
                    bp += 1;
                }
            }
        }
    }
    AxisSmoothness {
        time: if tp > 0 { time / tp as f64 } else { f64::NAN },
        batch: if bp > 0 { batch / bp as f64 } else { f64::NAN },
        time_pairs: tp,
        batch_pairs: bp,
    }
}

/// Evidence that one sequence of `m` steps is really `m / seq_len` sequences stacked.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stacked {
    /// The period `T` of the jumps: the length of each stacked sequence.
    pub seq_len: usize,
    /// `m / T`.
    pub sequences: usize,
    /// Lower quartile of `|h_{t+1} − h_t|²` across the boundaries `t = jT − 1`.
    pub boundary_jump: f64,
    /// Median of `|h_{t+1} − h_t|²` elsewhere.
    pub typical_step: f64,
}

/// Factor by which the jumps at sequence boundaries must exceed the typical step.
pub const STACKED_JUMP_FACTOR: f64 = 5.0;

fn quantile(v: &mut [f64], q: f64) -> f64 {
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    *v.select_nth_unstable_by(i, f64::total_cmp).1
}

/// Looks for sequences stacked into the single sequence of `states` (`s = 1`): the smallest
/// divisor `T` of its length `m` (with `2 ≤ T` and at least 4 blocks) such that the step
/// `|h_{t+1} − h_t|²` at every block boundary `t = jT − 1` is large — its lower quartile more
/// than [`STACKED_JUMP_FACTOR`] times the median step elsewhere. A recurrent state moves little
/// per step but restarts at each new sequence, so stacking shows as jumps with period `T`.
/// Steps between two zero rows are left out. `None` when `s > 1` or nothing periodic is found.
pub fn stacked_sequences(states: &States) -> Option<Stacked> {
    if states.num_sequences() != 1 {
        return None;
    }
    let m = states.lengths()[0];
    let d: Vec<Option<f64>> = (0..m.saturating_sub(1))
        .map(|t| {
            let (a, b) = (states.state(0, t), states.state(0, t + 1));
            (!(is_zero(a) && is_zero(b))).then(|| sq_dist(a, b))
        })
        .collect();
    for t_len in 2..=m / 4 {
        if !m.is_multiple_of(t_len) {
            continue;
        }
        let mut bounds = Vec::new();
        let mut others = Vec::new();
        for (t, v) in d.iter().enumerate() {
            if let Some(v) = v {
                if (t + 1).is_multiple_of(t_len) {
                    bounds.push(*v);
                } else {
                    others.push(*v);
                }
            }
        }
        if bounds.len() < 3 || others.is_empty() {
            continue;
        }
        let jump = quantile(&mut bounds, 0.25);
        let typical = quantile(&mut others, 0.5);
        if jump > 0.0 && jump > STACKED_JUMP_FACTOR * typical {
            return Some(Stacked {
                seq_len: t_len,
                sequences: m / t_len,
                boundary_jump: jump,
                typical_step: typical,
            });
        }
    }
    None
}
