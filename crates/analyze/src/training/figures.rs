//! The figures of `analyze training`: per run, the probes' spectra coloured by epoch and the traces
//! against epoch; across runs, the spectral distance between seeds.

use std::path::{Path, PathBuf};

use anyhow::Result;
use kann_plot::{
    ProbeSpectrum, TraceLine, TracePanel, TrainingSpectraFigure, TrainingTracesFigure,
    training_spectra, training_traces,
};

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
        written.push(Written {
            caption: format!(
                "The {} leading eigenvalues of each of the {} probes, light (untrained) to dark (last epoch)",
                kann_models::probe::LEADING,
                run.rows.len()
            ),
            png: paths.png,
        });

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
        let mut modulus_lines: Vec<TraceLine> = names
            .iter()
            .zip(&moduli)
            .map(|(n, m)| TraceLine {
                name: n,
                points: m,
                dashed: false,
            })
            .collect();
        modulus_lines.push(TraceLine {
            name: "|λ| = 0.99",
            points: &threshold,
            dashed: true,
        });
        let tau_lines: Vec<TraceLine> = names
            .iter()
            .zip(&taus)
            .map(|(n, m)| TraceLine {
                name: n,
                points: m,
                dashed: false,
            })
            .collect();
        let pick = |f: &dyn Fn(&super::findings::EpochPoint) -> Option<f64>| -> Vec<(f64, f64)> {
            found
                .per_epoch
                .iter()
                .filter_map(|p| f(p).map(|v| (p.epoch as f64, v)))
                .collect()
        };
        let count = pick(&|p| Some(p.num_dominant as f64));
        let val = pick(&|p| p.val_acc);
        let train = pick(&|p| p.train_acc);
        let kann = pick(&|p| p.agreement);
        let trivial = pick(&|p| p.agreement_trivial);
        let e_rel = pick(&|p| Some(p.e_rel));
        let mut quality = vec![
            TraceLine {
                name: "validation accuracy",
                points: &val,
                dashed: false,
            },
            TraceLine {
                name: "training accuracy",
                points: &train,
                dashed: false,
            },
        ];
        if !kann.is_empty() {
            quality.push(TraceLine {
                name: "KANN agreement",
                points: &kann,
                dashed: false,
            });
            quality.push(TraceLine {
                name: "trivial agreement",
                points: &trivial,
                dashed: false,
            });
        }
        quality.push(TraceLine {
            name: "e_rel (Eq. 12)",
            points: &e_rel,
            dashed: false,
        });
        let count_lines = [TraceLine {
            name: "|λ| > 0.99",
            points: &count,
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
        written.push(Written {
            caption: "Traces against epoch: the final leading modes' |λ| and τ, the count of slow modes, accuracy, agreement and e_rel".into(),
            png: paths.png,
        });
    }
    if let Some(seeds) = &report.seeds {
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
        written.push(Written {
            caption: "Mean spectral distance between the runs at each epoch".into(),
            png: paths.png,
        });
    }
    Ok(written)
}
