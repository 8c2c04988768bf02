//! What `analyze training` states, measured, with the rule of each:
//! - the epoch the count of slow modes (`|λ| > 0.99`) settles: the first end-of-epoch probe from
//!   which the count equals its final value at every later end-of-epoch probe;
//! - the epoch validation accuracy reaches 95% of its final value (first epoch with
//!   `val_acc ≥ 0.95 · final`);
//! - where the task has a readout: the epoch from which KANN's one-step agreement with the network
//!   exceeds the trivial predictor's (`h_t ≈ h_{t−1}`) at every later end-of-epoch probe;
//! - the probe's cost: its mean seconds against the mean seconds of an epoch (training +
//!   evaluation, `metrics.csv`);
//! - across runs (seeds of a sweep): the mean basis-free spectral distance between every two
//!   runs' `k` leading eigenvalues at each epoch (`kann_koopman::spectral_distance`).

use anyhow::Result;
use kann_koopman::faer::c64;
use kann_koopman::spectral_distance;
use serde::{Deserialize, Serialize};

use super::load::RunProbes;
use super::track::{Track, track_modes};

/// One end-of-epoch probe beside the epoch's metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochPoint {
    /// Epoch (0: the untrained model).
    pub epoch: usize,
    /// Eigenvalues with `|λ| > 0.99`.
    pub num_dominant: usize,
    /// `e_rel` (Eq. 12).
    pub e_rel: f64,
    /// KANN's one-step agreement with the network.
    pub agreement: Option<f64>,
    /// The trivial predictor's.
    pub agreement_trivial: Option<f64>,
    /// `|λ_1|`.
    pub lambda1_modulus: f64,
    /// `τ(0.01)` of `λ_1` (Eq. 9); `None` where `|λ_1| ≥ 1`.
    pub tau1: Option<f64>,
    /// Validation accuracy after the epoch (`metrics.csv`).
    pub val_acc: Option<f64>,
    /// Running training accuracy of the epoch.
    pub train_acc: Option<f64>,
}

/// An epoch with the value that places it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AtEpoch {
    /// The epoch.
    pub epoch: usize,
    /// The quantity there (the settled count; the accuracy reached; KANN's agreement).
    pub value: f64,
    /// What it is compared with (the count's final value; the final accuracy; the trivial
    /// predictor's agreement).
    pub against: f64,
}

/// The probe's cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeCost {
    /// Mean seconds of one probe.
    pub mean_seconds: f64,
    /// Mean seconds of an epoch (training + evaluation).
    pub mean_epoch_seconds: f64,
    /// End-of-epoch probe time as a share of the epoch.
    pub share_of_epoch: f64,
}

/// One run's findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFindings {
    /// Run folder.
    pub run: String,
    /// Task.
    pub task: String,
    /// Recurrent cell.
    pub cell: String,
    /// Training seed.
    pub seed: u64,
    /// Sequences in the probe batch.
    pub probe_sequences: usize,
    /// Probes recorded (end of epoch and inside epochs).
    pub probes: usize,
    /// The fit rule (`probe_batch.json`).
    pub fit: String,
    /// The agreement rule, where measured.
    pub agreement_rule: Option<String>,
    /// One point per end-of-epoch probe.
    pub per_epoch: Vec<EpochPoint>,
    /// The final probe's leading modes traced back over every probe.
    pub tracks: Vec<Track>,
    /// When the count of slow modes settles.
    pub slow_modes_settle: Option<AtEpoch>,
    /// When validation accuracy reaches 95% of its final value.
    pub val_acc_95: Option<AtEpoch>,
    /// From when KANN's agreement exceeds the trivial predictor's.
    pub agreement_beats_trivial: Option<AtEpoch>,
    /// The probe's cost, where the run has epoch times.
    pub probe_cost: Option<ProbeCost>,
}

impl RunFindings {
    /// One line for the terminal.
    pub fn summary_line(&self) -> String {
        let last = self.per_epoch.last().map_or(0, |p| p.epoch);
        let settle = match &self.slow_modes_settle {
            None => "were not probed".into(),
            // Equal to its final value only at the last probe: not settled within the run.
            Some(s) if s.epoch == last && last > 0 => format!(
                "still change at the last epoch ({} at epoch {last}): not settled within the run",
                s.value
            ),
            Some(s) => format!("settle at {} from epoch {}", s.value, s.epoch),
        };
        let val = self.val_acc_95.as_ref().map_or(String::new(), |v| {
            format!(
                "; validation accuracy reaches 95% of its final {:.1}% at epoch {}",
                100.0 * v.against,
                v.epoch
            )
        });
        let agree = match (&self.agreement_rule, &self.agreement_beats_trivial) {
            (None, _) => String::new(),
            (Some(_), Some(a)) => {
                format!("; KANN beats the trivial predictor from epoch {}", a.epoch)
            }
            (Some(_), None) => "; KANN does not stay above the trivial predictor".into(),
        };
        let cost = self.probe_cost.as_ref().map_or(String::new(), |c| {
            format!(
                "; a probe takes {:.2} s, {:.1}% of an epoch",
                c.mean_seconds,
                100.0 * c.share_of_epoch
            )
        });
        format!(
            "{}: slow modes (|λ| > 0.99) {settle}{val}{agree}{cost}",
            self.run
        )
    }
}

/// The findings of one run.
pub fn run_findings(run: &RunProbes) -> RunFindings {
    let rows = run.epoch_rows();
    let per_epoch: Vec<EpochPoint> = rows
        .iter()
        .map(|r| {
            let m = run.metrics.iter().find(|m| m.epoch == r.epoch);
            EpochPoint {
                epoch: r.epoch,
                num_dominant: r.num_dominant,
                e_rel: r.e_rel,
                agreement: r.agreement,
                agreement_trivial: r.agreement_trivial,
                lambda1_modulus: r.leading.first().map_or(f64::NAN, |l| l.modulus),
                tau1: r.leading.first().and_then(|l| l.tau),
                val_acc: m.map(|m| m.val_acc).filter(|v| v.is_finite()),
                train_acc: m.map(|m| m.train_acc).filter(|v| v.is_finite()),
            }
        })
        .collect();
    let probes: Vec<(f64, Vec<c64>)> = run
        .rows
        .iter()
        .map(|r| {
            (
                run.time(r),
                r.leading.iter().map(|l| c64::new(l.re, l.im)).collect(),
            )
        })
        .collect();
    RunFindings {
        run: run.dir.display().to_string(),
        task: run.task.clone(),
        cell: run.cell.clone(),
        seed: run.seed,
        probe_sequences: run.batch.indices.len(),
        probes: run.rows.len(),
        fit: run.batch.fit.clone(),
        agreement_rule: run.batch.agreement.clone(),
        slow_modes_settle: settle_epoch(&per_epoch),
        val_acc_95: val_reach(&per_epoch, 0.95),
        agreement_beats_trivial: beats_from(&per_epoch),
        probe_cost: probe_cost(run),
        tracks: track_modes(&probes),
        per_epoch,
    }
}

/// The first epoch from which the count of slow modes equals its final value.
pub fn settle_epoch(points: &[EpochPoint]) -> Option<AtEpoch> {
    let last = points.last()?.num_dominant;
    let from = points
        .iter()
        .rposition(|p| p.num_dominant != last)
        .map_or(0, |i| i + 1);
    Some(AtEpoch {
        epoch: points[from].epoch,
        value: last as f64,
        against: last as f64,
    })
}

/// The first epoch whose validation accuracy is at least `share` of the final one.
pub fn val_reach(points: &[EpochPoint], share: f64) -> Option<AtEpoch> {
    let final_acc = points.iter().rev().find_map(|p| p.val_acc)?;
    points
        .iter()
        .find(|p| p.val_acc.is_some_and(|v| v >= share * final_acc))
        .map(|p| AtEpoch {
            epoch: p.epoch,
            value: p.val_acc.unwrap_or(f64::NAN),
            against: final_acc,
        })
}

/// The first epoch from which KANN's agreement exceeds the trivial predictor's at every later
/// epoch (`None` when it does not at the last one, or nothing was measured).
pub fn beats_from(points: &[EpochPoint]) -> Option<AtEpoch> {
    let beats = |p: &EpochPoint| match (p.agreement, p.agreement_trivial) {
        (Some(a), Some(t)) => a > t,
        _ => false,
    };
    if !beats(points.last()?) {
        return None;
    }
    let from = points.iter().rposition(|p| !beats(p)).map_or(0, |i| i + 1);
    let p = &points[from];
    Some(AtEpoch {
        epoch: p.epoch,
        value: p.agreement.unwrap_or(f64::NAN),
        against: p.agreement_trivial.unwrap_or(f64::NAN),
    })
}

fn probe_cost(run: &RunProbes) -> Option<ProbeCost> {
    if run.metrics.is_empty() {
        return None;
    }
    let trained: Vec<_> = run.rows.iter().filter(|r| r.epoch > 0).collect();
    if trained.is_empty() {
        return None;
    }
    let mean_seconds = trained.iter().map(|r| r.seconds).sum::<f64>() / trained.len() as f64;
    let epoch_secs: Vec<f64> = run
        .metrics
        .iter()
        .map(|m| m.train_seconds + m.eval_seconds)
        .collect();
    let mean_epoch_seconds = epoch_secs.iter().sum::<f64>() / epoch_secs.len() as f64;
    let per_epoch_probe = run
        .rows
        .iter()
        .filter(|r| r.epoch > 0)
        .map(|r| r.seconds)
        .sum::<f64>()
        / run.metrics.len() as f64;
    Some(ProbeCost {
        mean_seconds,
        mean_epoch_seconds,
        share_of_epoch: per_epoch_probe / mean_epoch_seconds,
    })
}

/// The spectral distance between runs at each epoch all of them probed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedDistances {
    /// Leading eigenvalues compared.
    pub k: usize,
    /// The runs.
    pub runs: Vec<String>,
    /// Epochs probed by every run.
    pub epochs: Vec<usize>,
    /// Mean over pairs of runs of `d_k` at each epoch.
    pub mean_distance: Vec<f64>,
    /// Whether the distance at the last epoch is below the one after the first epoch.
    pub shrinks: bool,
}

/// An end-of-epoch probe's leading eigenvalues `(epoch, [(re, im)])`.
type EpochSpectrum = (usize, Vec<(f64, f64)>);

/// The mean pairwise spectral distance at every epoch all runs probed.
pub fn seed_distances(runs: &[RunProbes], k: usize) -> Result<SeedDistances> {
    let spectra: Vec<Vec<EpochSpectrum>> = runs
        .iter()
        .map(|r| {
            r.epoch_rows()
                .iter()
                .map(|row| {
                    let ev = row.leading.iter().map(|l| (l.re, l.im)).collect();
                    (row.epoch, ev)
                })
                .collect()
        })
        .collect();
    let epochs: Vec<usize> = spectra[0]
        .iter()
        .map(|(e, _)| *e)
        .filter(|e| spectra.iter().all(|s| s.iter().any(|(x, _)| x == e)))
        .collect();
    let at = |i: usize, e: usize| &spectra[i].iter().find(|(x, _)| *x == e).unwrap().1;
    let mut mean_distance = Vec::new();
    for &e in &epochs {
        let (mut sum, mut n) = (0.0, 0);
        for i in 0..runs.len() {
            for j in i + 1..runs.len() {
                sum += spectral_distance(at(i, e), at(j, e), k)?;
                n += 1;
            }
        }
        mean_distance.push(sum / n as f64);
    }
    let after_first = epochs.iter().position(|&e| e >= 1);
    let shrinks = match (after_first, mean_distance.last()) {
        (Some(i), Some(&last)) => last < mean_distance[i],
        _ => false,
    };
    Ok(SeedDistances {
        k,
        runs: runs.iter().map(|r| r.dir.display().to_string()).collect(),
        epochs,
        mean_distance,
        shrinks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(epoch: usize, dominant: usize, kann: f64, trivial: f64, val: f64) -> EpochPoint {
        EpochPoint {
            epoch,
            num_dominant: dominant,
            e_rel: 0.1,
            agreement: Some(kann),
            agreement_trivial: Some(trivial),
            lambda1_modulus: 0.99,
            tau1: Some(400.0),
            val_acc: (epoch > 0).then_some(val),
            train_acc: None,
        }
    }

    #[test]
    fn the_three_epochs_follow_their_rules() {
        let pts = [
            point(0, 0, 0.5, 0.6, 0.0),
            point(1, 3, 0.7, 0.6, 0.60),
            point(2, 2, 0.6, 0.7, 0.83),
            point(3, 5, 0.8, 0.7, 0.86),
            point(4, 5, 0.9, 0.7, 0.87),
        ];
        // The count reaches 5 at epoch 3 and stays.
        assert_eq!(settle_epoch(&pts).unwrap().epoch, 3);
        // 0.95 · 0.87 = 0.8265: epoch 2 (0.83) is the first at or above it.
        let v = val_reach(&pts, 0.95).unwrap();
        assert_eq!((v.epoch, v.against), (2, 0.87));
        // KANN above trivial at epoch 1, below at 2, above from 3 on.
        assert_eq!(beats_from(&pts).unwrap().epoch, 3);
        // Settled from the start; never beating at the end.
        let flat = [point(0, 2, 0.5, 0.6, 0.0), point(1, 2, 0.5, 0.6, 0.9)];
        assert_eq!(settle_epoch(&flat).unwrap().epoch, 0);
        assert!(beats_from(&flat).is_none());
    }
}
