//! The figures of `analyze training`: per run, the probes' spectra coloured by epoch and the traces
//! against epoch; across runs, the spectral distance between seeds.

use std::path::{Path, PathBuf};

use anyhow::Result;
use kann_plot::{
    ProbeSpectrum, TraceLine, TracePanel, TrainingSpectraFigure, TrainingTracesFigure,
    training_spectra, training_traces,
};

use super::findings::{RunFindings, SeedDistances};
use super::load::RunProbes;
use super::report::TrainingReport;

/// Modes traced in the `|λ|` and `τ` panels.
const TRACED: usize = 6;

/// A written figure: its caption and PNG.
pub struct Written {
    /// What it shows.
    pub caption: String,
    /// The PNG (an SVG lies beside it).
    pub png: PathBuf,
}

/// Draws every figure into `out`.
pub fn draw(out: &Path, runs: &[RunProbes], report: &TrainingReport) -> Result<Vec<Written>> {
    let mut written = Vec::new();
    for (run, found) in runs.iter().zip(&report.runs) {
        let suffix = if runs.len() == 1 {
            String::new()
        } else {
            format!("_{}", run.name())
        };
        let what = format!(
            "{} {}, {} validation sequences",
            run.task.to_uppercase(),
            run.cell.to_uppercase(),
            run.batch.indices.len()
        );
        written.push(spectra(out, run, &suffix, &what)?);
        written.push(traces(out, run, found, &suffix, &what)?);
    }
    if let Some(seeds) = &report.seeds {
        written.push(seed_distance(out, seeds)?);
    }
    Ok(written)
}

/// `training_spectra{suffix}`: the leading eigenvalues of every probe of `run`, light
/// (untrained) to dark (last epoch).
fn spectra(out: &Path, run: &RunProbes, suffix: &str, what: &str) -> Result<Written> {
    let eigen: Vec<Vec<(f64, f64)>> = run
        .rows
        .iter()
        .map(|r| r.leading.iter().map(|l| (l.re, l.im)).collect())
        .collect();
    let probes: Vec<ProbeSpectrum> = run
        .rows
        .iter()
        .zip(&eigen)
        .map(|(r, e)| ProbeSpectrum {
            epoch: run.time(r),
            eigenvalues: e,
        })
        .collect();
    let title = format!("Leading Koopman eigenvalues during training ({what})");
    let paths = training_spectra(
        out,
        &format!("training_spectra{suffix}"),
        &TrainingSpectraFigure {
            title: &title,
            probes: &probes,
            zoom_from: 0.9,
        },
    )?;
    Ok(Written {
        caption: format!(
            "The {} leading eigenvalues of each of the {} probes, light (untrained) to dark (last epoch)",
            kann_models::probe::LEADING,
            run.rows.len()
        ),
        png: paths.png,
    })
}

/// The points of the four trace panels of one run.
struct Traces {
    /// Legend names of the traced modes.
    names: Vec<String>,
    /// `|λ|` of each traced mode against epoch.
    moduli: Vec<Vec<(f64, f64)>>,
    /// `log10 τ(0.01)` (Eq. 9) of each traced mode against epoch.
    taus: Vec<Vec<(f64, f64)>>,
    /// The `|λ| = 0.99` reference line over the probes' time span.
    threshold: Vec<(f64, f64)>,
    /// Count of `|λ| > 0.99`.
    count: Vec<(f64, f64)>,
    /// Validation accuracy.
    val: Vec<(f64, f64)>,
    /// Training accuracy.
    train: Vec<(f64, f64)>,
    /// KANN's one-step agreement (empty when the task has none).
    kann: Vec<(f64, f64)>,
    /// The trivial predictor's agreement.
    trivial: Vec<(f64, f64)>,
    /// `e_rel` (Eq. 12).
    e_rel: Vec<(f64, f64)>,
}

impl Traces {
    /// The traces of `run` from its findings: the [`TRACED`] leading modes of the final model,
    /// traced back, and the per-epoch numbers.
    fn of(run: &RunProbes, found: &RunFindings) -> Self {
        let tracks = &found.tracks[..found.tracks.len().min(TRACED)];
        let names: Vec<String> = tracks
            .iter()
            .map(|t| format!("mode {} (final λ{})", t.final_index, t.final_index))
            .collect();
        let moduli: Vec<Vec<(f64, f64)>> = tracks.iter().map(|t| t.moduli()).collect();
        let taus: Vec<Vec<(f64, f64)>> = moduli
            .iter()
            .map(|m| {
                m.iter()
                    .map(|&(e, r)| {
                        let tau = if r < 1.0 {
                            0.01f64.ln() / r.ln()
                        } else {
                            f64::NAN
                        };
                        (e, tau.log10())
                    })
                    .collect()
            })
            .collect();
        let times: Vec<f64> = run.rows.iter().map(|r| run.time(r)).collect();
        let threshold: Vec<(f64, f64)> = [times[0], *times.last().unwrap_or(&0.0)]
            .iter()
            .map(|&t| (t, 0.99))
            .collect();
        let pick = |f: &dyn Fn(&super::findings::EpochPoint) -> Option<f64>| -> Vec<(f64, f64)> {
            found
                .per_epoch
                .iter()
                .filter_map(|p| f(p).map(|v| (p.epoch as f64, v)))
                .collect()
        };
        Traces {
            names,
            moduli,
            taus,
            threshold,
            count: pick(&|p| Some(p.num_dominant as f64)),
            val: pick(&|p| p.val_acc),
            train: pick(&|p| p.train_acc),
            kann: pick(&|p| p.agreement),
            trivial: pick(&|p| p.agreement_trivial),
            e_rel: pick(&|p| Some(p.e_rel)),
        }
    }

    /// One solid line per traced mode.
    fn mode_lines<'a>(&'a self, points: &'a [Vec<(f64, f64)>]) -> Vec<TraceLine<'a>> {
        self.names
            .iter()
            .zip(points)
            .map(|(n, m)| solid(n, m))
            .collect()
    }

    /// The accuracy panel's lines: validation and training accuracy, the agreements (if any)
    /// and `e_rel`.
    fn quality_lines(&self) -> Vec<TraceLine<'_>> {
        let mut quality = vec![
            solid("validation accuracy", &self.val),
            solid("training accuracy", &self.train),
        ];
        if !self.kann.is_empty() {
            quality.push(solid("KANN agreement", &self.kann));
            quality.push(solid("trivial agreement", &self.trivial));
        }
        quality.push(solid("e_rel (Eq. 12)", &self.e_rel));
        quality
    }
}

/// A solid line of a trace panel.
fn solid<'a>(name: &'a str, points: &'a [(f64, f64)]) -> TraceLine<'a> {
    TraceLine {
        name,
        points,
        dashed: false,
    }
}

/// `training_traces{suffix}`: the final leading modes' `|λ|` and `τ` (Eq. 9), the count of slow
/// modes, accuracy, agreement and `e_rel` (Eq. 12) against epoch.
fn traces(
    out: &Path,
    run: &RunProbes,
    found: &RunFindings,
    suffix: &str,
    what: &str,
) -> Result<Written> {
    let t = Traces::of(run, found);
    let mut modulus_lines = t.mode_lines(&t.moduli);
    modulus_lines.push(TraceLine {
        name: "|λ| = 0.99",
        points: &t.threshold,
        dashed: true,
    });
    let tau_lines = t.mode_lines(&t.taus);
    let quality = t.quality_lines();
    let count_lines = [TraceLine {
        name: "|λ| > 0.99",
        points: &t.count,
        dashed: false,
    }];
    let panels = [
        TracePanel {
            caption: "|λ| of the final model's leading modes, traced back",
            y_label: "|λ|",
            lines: &modulus_lines,
            y_range: None,
        },
        TracePanel {
            caption: "their memory horizon τ(0.01) (Eq. 9)",
            y_label: "log10 τ (steps)",
            lines: &tau_lines,
            y_range: None,
        },
        TracePanel {
            caption: "eigenvalues with |λ| > 0.99",
            y_label: "count",
            lines: &count_lines,
            y_range: None,
        },
        TracePanel {
            caption: "accuracy, one-step agreement and e_rel",
            y_label: "share",
            lines: &quality,
            y_range: Some((0.0, 1.0)),
        },
    ];
    let title = format!("The Koopman probe during training ({what})");
    let paths = training_traces(
        out,
        &format!("training_traces{suffix}"),
        &TrainingTracesFigure {
            title: &title,
            panels: &panels,
        },
    )?;
    Ok(Written {
        caption: "Traces against epoch: the final leading modes' |λ| and τ, the count of slow modes, accuracy, agreement and e_rel".into(),
        png: paths.png,
    })
}

/// `training_seed_distance`: the mean spectral distance between the runs at each epoch.
fn seed_distance(out: &Path, seeds: &SeedDistances) -> Result<Written> {
    let pts: Vec<(f64, f64)> = seeds
        .epochs
        .iter()
        .zip(&seeds.mean_distance)
        .map(|(&e, &d)| (e as f64, d))
        .collect();
    let name = format!("mean d_{} over pairs of runs", seeds.k);
    let lines = [TraceLine {
        name: &name,
        points: &pts,
        dashed: false,
    }];
    let panels = [TracePanel {
        caption: "spectral distance between the runs' leading eigenvalues",
        y_label: "d_k",
        lines: &lines,
        y_range: None,
    }];
    let title = format!(
        "Do the runs' Koopman spectra converge? ({} runs)",
        seeds.runs.len()
    );
    let paths = training_traces(
        out,
        "training_seed_distance",
        &TrainingTracesFigure {
            title: &title,
            panels: &panels,
        },
    )?;
    Ok(Written {
        caption: "Mean spectral distance between the runs at each epoch".into(),
        png: paths.png,
    })
}
