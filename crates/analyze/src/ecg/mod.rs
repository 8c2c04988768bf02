//! `analyze ecg`: the Koopman analysis of the ECG5000 LSTM autoencoder (paper Sec. 4.2, Fig. 2,
//! Fig. 3, Fig. 4 right, App. B), as a pipeline of stages:
//!
//! 1. [`network`]: a seeded batch of normal test beats (64) through the encoder with the state
//!    hook, `[64, 140, k]`.
//! 2. [`fig2`] = [`pairs`] + [`medians`] + [`features`]: the operator fitted on the states
//!    (Eqs. 4-5), the dominance ranking, the four dominant sets (conjugate pairs by default, or
//!    the authors' consecutive ranks), the medians of the beats decoded through each set by
//!    Eq. 11 with the modulus (canonical signs of `B`) and without it (sign-invariant), and the
//!    paper features each median captures (k of 4). [`medians::sign_spread`]: how far the Eq. 11
//!    medians move under random sign patterns of `B`.
//!    [`capture`]: k of 4 and each feature's capture rate over bootstrap draws of the batch,
//!    with Fig. 2 redone (sets chosen again) in every replicate.
//! 3. [`robustness`]: k of 4 over batch sizes 20 / 64 / 145 and three batch draws.
//! 4. [`appb`]: the same panels with pairs of PCA modes.
//! 5. [`silhouette`]: Fig. 3 right on 64 normal + 64 anomalous beats, with 5 random directions
//!    as the baseline.
//! 6. [`agreement`]: Fig. 4 right on all normal test beats, KANN's one-step prediction and the
//!    trivial predictor `h_{T−1}`; `e_rel` (Eq. 12).
//! 7. [`accuracy`]: the network at the threshold on all test beats, its ROC.
//! 8. [`figures`] and [`report`]: PNG/SVG figures, `report.md`, `report.json`.

pub mod accuracy;
pub mod agreement;
pub mod appb;
pub mod capture;
pub mod features;
pub mod fig2;
pub mod figures;
pub mod medians;
pub mod network;
pub mod pairs;
pub mod report;
pub mod robustness;
pub mod silhouette;

use anyhow::{Context, Result, bail};
use kann_data::ecg::{Beat, EcgSplits, SERIES_LEN};
use kann_koopman::States;
use kann_models::config::{RunConfig, Task};
use kann_models::run::load_ecg_run;

use crate::EcgArgs;
use crate::common::*;
use crate::kann::{self, DOMINANT_MODULUS, eigen_points, eigen_summaries, set_name, to_rows};
use crate::report::{Settings, fmt_lambda, write_reports};
use fig2::{Fig2Cell, PANELS, fig2_cell, last_states};
use figures::Panel;
use medians::{MedianCurve, SignSpread, sign_spread};
use network::{Decoder, Network, beat_values};
pub use pairs::PairingRule;
pub use report::{EcgPair, EcgReport, Fig2Summary};

/// Random sign patterns of `B` drawn to measure the sign dependence of Eq. 11.
pub const SIGN_PATTERNS: usize = 10;

/// The sign convention of `B` in words (see [`kann_koopman::signs`]).
pub const SIGN_CONVENTION: &str = "each basis vector's largest-magnitude component positive (scikit-learn's svd_flip rule for the right singular vectors)";

pub(crate) fn pick(beats: &[Beat], b: usize, seed: u64) -> Vec<&Beat> {
    sample_indices(beats.len(), b, seed)
        .into_iter()
        .map(|i| &beats[i])
        .collect()
}

/// Runs `analyze ecg` and writes the figures, `report.md` and `report.json` into the run folder.
pub fn run_ecg(args: &EcgArgs) -> Result<EcgReport> {
    args.check()?;
    let input = EcgInput::load(args)?;
    let net = input.network();
    let (normal, anomalous) = draw_batches(&input.splits, args)?;
    // Stages 1-2: states, fit, Fig. 2 both ways, sign dependence.
    let fig2 = Fig2Stage::run(&net, &normal, args)?;
    // Stage 3: robustness over batch sizes and draws.
    let robustness = robustness_stage(&net, &input.splits.test_normal, args)?;
    // Stage 4: App. B.
    let (pca_explained_variance, pca) = step("App. B: PCA modes", || {
        appb::pca_panels(&net, &fig2.states, fig2.h_last.as_ref(), PANELS)
    })?;
    // Stage 5: Fig. 3.
    let fig3 = Fig3Stage::run(&net, &input.splits, &anomalous, &fig2.states, args)?;
    // Stage 6: Fig. 4 right and e_rel on all normal test beats.
    let fig4 = Fig4Stage::run(&net, &input, &fig2, args)?;
    // Stage 7: the network on all test beats.
    let accuracy = AccuracyStage::run(&net, &input)?;
    let stages = EcgStages {
        fig2,
        robustness,
        pca_explained_variance,
        fig3,
        fig4,
        accuracy,
    };
    // Stage 8: figures and report.
    let eig = eigen_summaries(&stages.fig2.cell.fit.spectrum)?;
    let figs = ecg_figures(&input, &stages, pca, args)?;
    let report = ecg_report(&input, &net, stages, &eig, figs, args)?;
    write_ecg_reports(&input.run, report)
}

/// The results of stages 1-7, which stage 8 draws and reports.
struct EcgStages {
    /// Stages 1-2.
    fig2: Fig2Stage,
    /// Stage 3.
    robustness: Vec<robustness::RobustnessRow>,
    /// Stage 4: the explained variance ratio of the PCA modes.
    pca_explained_variance: Vec<f64>,
    /// Stage 5.
    fig3: Fig3Stage,
    /// Stage 6.
    fig4: Fig4Stage,
    /// Stage 7.
    accuracy: AccuracyStage,
}

/// The run `analyze ecg` reads: its folder, model, config and the ECG5000 splits it was trained
/// on.
pub(crate) struct EcgInput {
    /// The run folder.
    pub(crate) run: std::path::PathBuf,
    /// The trained autoencoder.
    pub(crate) model: kann_models::EcgAutoencoder,
    /// Its device.
    pub(crate) device: burn::prelude::Device,
    /// The run's config.
    pub(crate) cfg: kann_models::config::EcgRunConfig,
    /// Where ECG5000 was read from.
    pub(crate) data_dir: std::path::PathBuf,
    /// The run's splits.
    pub(crate) splits: EcgSplits,
}

impl EcgInput {
    /// Loads the run named by the flags (else the newest ECG run) and its data (fetched on first
    /// use; `KANN_OFFLINE` / `KANN_MIRROR` apply).
    fn load(args: &EcgArgs) -> Result<Self> {
        let run = resolve_run_dir(args.common.run.as_deref(), Task::Ecg)?;
        println!("analyze ecg: run folder {}", run.display());
        Self::load_dir(run, &args.common)
    }

    /// Loads the run in `run` and its data (`analyze fixed-points` on an ECG run, too).
    pub(crate) fn load_dir(run: std::path::PathBuf, common: &crate::CommonArgs) -> Result<Self> {
        let device = device();
        let (model, config) = load_ecg_run(&run, &device)
            .with_context(|| format!("loading the ECG run {}", run.display()))?;
        let RunConfig::Ecg(cfg) = config else {
            bail!("{} is not an ECG run", run.display());
        };
        let data_dir =
            kann_data::locate_data_dir(common.data_dir.as_deref(), cfg.data.data_dir.as_deref());
        // First use fetches (KANN_OFFLINE / KANN_MIRROR apply).
        kann_data::fetch::ensure_ecg(&data_dir, &Default::default())?;
        let splits = step(
            &format!("loading ECG5000 from {}", data_dir.display()),
            || Ok(EcgSplits::load(&data_dir, cfg.data.split_seed)?),
        )?;
        Ok(Self {
            run,
            model,
            device,
            cfg,
            data_dir,
            splits,
        })
    }

    /// The model as the stages see it.
    fn network(&self) -> Network<'_> {
        Network {
            model: &self.model,
            device: &self.device,
        }
    }

    /// The run's threshold on the summed L1 loss ("normal iff loss < threshold").
    fn threshold(&self) -> f64 {
        self.cfg.train.threshold
    }
}

/// The analysis batches: `--batch` seeded draws of the normal and of the anomalous test beats.
fn draw_batches<'a>(
    splits: &'a EcgSplits,
    args: &EcgArgs,
) -> Result<(Vec<&'a Beat>, Vec<&'a Beat>)> {
    let b = args.common.batch;
    for (set, len) in [
        ("normal", splits.test_normal.len()),
        ("anomalous", splits.test_anomalous.len()),
    ] {
        if b > len {
            bail!("--batch {b} is larger than the test set: {len} {set} test beats");
        }
    }
    Ok((
        pick(&splits.test_normal, b, args.common.seed),
        pick(&splits.test_anomalous, b, args.common.seed.wrapping_add(1)),
    ))
}

/// Stages 1-2: the normal batch's encoder states, the fit (Eqs. 4-5) and Fig. 2 (Eq. 11) on
/// them, with the bootstrap intervals of the spectrum and of k of 4 and the sign dependence.
struct Fig2Stage {
    /// Encoder states of the normal batch, `[b, 140, k]`.
    states: States,
    /// Median (MAD) of the batch's beats, `μ`.
    mu: MedianCurve,
    /// Median (MAD) of their reconstruction by the network, `μ_r`.
    mu_r: MedianCurve,
    /// The last encoder states `H_last`.
    h_last: kann_koopman::faer::Mat<f64>,
    /// The fit, the dominant sets and their medians.
    cell: Fig2Cell,
    /// The batch's per-sequence Grams, which every bootstrap refit sums (`--bootstrap`).
    batch_grams: Option<kann_koopman::SequenceGrams>,
    /// Bootstrap intervals of the spectrum (`--bootstrap`).
    intervals: Option<kann_koopman::SpectrumIntervals>,
    /// k of 4 over bootstrap draws of the batch (`--bootstrap`).
    capture_intervals: Option<capture::CaptureIntervals>,
    /// Eq. 11 under random sign patterns of `B`.
    spread: SignSpread,
}

impl Fig2Stage {
    /// Runs stages 1-2 on the normal batch.
    fn run(net: &Network, normal: &[&Beat], args: &EcgArgs) -> Result<Self> {
        let (b, n) = (normal.len(), SERIES_LEN);
        let states = step(&format!("encoder states of {b} normal test beats"), || {
            net.encode(normal)
        })?;
        let mu = MedianCurve::of(&beat_values(normal), b, n)?;
        let h_last = last_states(&states);
        let mu_r = MedianCurve::of(&net.decode(&to_rows(h_last.as_ref()), b)?, b, n)?;
        let cell = step("Koopman fit (Eqs. 4-5) and Fig. 2 (Eq. 11)", || {
            fig2_cell(net, &states, mu.range(), args.pairing, args.common.rank)
        })?;
        let batch_grams = kann::batch_grams(&states, &cell.fit, args.common.bootstrap)?;
        let intervals = step(
            &format!(
                "bootstrap intervals of the spectrum ({} replicates over the batch's beats)",
                args.common.bootstrap
            ),
            || {
                kann::spectrum_intervals(
                    batch_grams.as_ref(),
                    &cell.fit,
                    args.common.bootstrap,
                    args.common.seed,
                )
            },
        )?;
        let capture_intervals = if args.common.bootstrap > 0 {
            let n = args.common.bootstrap.min(capture::MAX_REPLICATES);
            Some(step(
                &format!("k of 4 over {n} bootstrap draws of the batch (Fig. 2 redone in each)"),
                || {
                    capture::capture_intervals(
                        net,
                        &states,
                        &cell,
                        mu.range(),
                        args.pairing,
                        n,
                        args.common.seed,
                    )
                },
            )?)
        } else {
            None
        };
        let spread = Self::sign_spread(net, h_last.as_ref(), &cell, args.common.seed)?;
        Ok(Self {
            states,
            mu,
            mu_r,
            h_last,
            cell,
            batch_grams,
            intervals,
            capture_intervals,
            spread,
        })
    }

    /// How far the Eq. 11 medians of `cell`'s sets move under [`SIGN_PATTERNS`] random sign
    /// patterns of `B`.
    fn sign_spread(
        net: &Network,
        h_last: kann_koopman::faer::MatRef<'_, f64>,
        cell: &Fig2Cell,
        seed: u64,
    ) -> Result<SignSpread> {
        let sets: Vec<Vec<usize>> = cell.sets.iter().map(|s| s.set.clone()).collect();
        step(
            &format!("Eq. 11 under {SIGN_PATTERNS} random sign patterns of B"),
            || {
                sign_spread(
                    net,
                    h_last,
                    &cell.fit.model,
                    &cell.fit.spectrum,
                    &sets,
                    &cell.modulus,
                    &cell.sign_invariant,
                    SIGN_PATTERNS,
                    seed,
                )
            },
        )
    }
}

/// Stage 3: k of 4 over batch sizes 20 / 64 / 145 (capped at the normal test beats) and three
/// draws each; empty with `--skip-robustness`.
fn robustness_stage(
    net: &Network,
    normal_all: &[Beat],
    args: &EcgArgs,
) -> Result<Vec<robustness::RobustnessRow>> {
    if args.skip_robustness {
        return Ok(Vec::new());
    }
    step("Fig. 2 over batch sizes 20/64/145 x 3 draws", || {
        let sizes: Vec<usize> = robustness::BATCH_SIZES
            .iter()
            .map(|&s| s.min(normal_all.len()))
            .collect();
        robustness::sweep(
            net,
            &sizes,
            args.common.seed,
            args.common.rank,
            |size, seed| {
                let beats = pick(normal_all, size, seed);
                Ok((
                    net.encode(&beats)?,
                    MedianCurve::of(&beat_values(&beats), size, SERIES_LEN)?.range(),
                ))
            },
        )
    })
}

/// Stage 5: Fig. 3 — the anomalous batch's medians (beats and reconstruction) and the
/// silhouette scores of the two batches with 5 random directions as the baseline, redone on
/// other draws with `--bootstrap`.
struct Fig3Stage {
    /// Median (MAD) of the anomalous beats.
    mu_a: MedianCurve,
    /// Median (MAD) of their reconstruction by the network.
    mu_ar: MedianCurve,
    /// Fig. 3 right.
    sil: silhouette::SilhouetteCurves,
    /// The silhouette scores on other draws of the two batches (`--bootstrap`).
    intervals: Option<silhouette::SilhouetteIntervals>,
}

impl Fig3Stage {
    /// Runs stage 5; `states` are the normal batch's encoder states.
    fn run(
        net: &Network,
        splits: &EcgSplits,
        anomalous: &[&Beat],
        states: &States,
        args: &EcgArgs,
    ) -> Result<Self> {
        let (b, n) = (args.common.batch, SERIES_LEN);
        let states_a = step(
            &format!("encoder states of {b} anomalous test beats"),
            || net.encode(anomalous),
        )?;
        let mu_a = MedianCurve::of(&beat_values(anomalous), b, n)?;
        let mu_ar = MedianCurve::of(
            &net.decode(&to_rows(last_states(&states_a).as_ref()), b)?,
            b,
            n,
        )?;
        let sil = step(
            "silhouette scores (Fig. 3 right) with 5 random directions",
            || silhouette::silhouettes(states, &states_a, args.common.rank, args.common.seed),
        )?;
        let intervals = if args.common.bootstrap > 0 {
            let draws = args.common.bootstrap.min(silhouette::MAX_REDRAWS);
            Some(step(
                &format!("silhouette scores on {draws} other draws of the two batches"),
                || {
                    silhouette::redraw_intervals(draws, args.common.rank, args.common.seed, |i| {
                        let s = args.common.seed.wrapping_add(1000 + i as u64);
                        Ok((
                            net.encode(&pick(&splits.test_normal, b, s))?,
                            net.encode(&pick(&splits.test_anomalous, b, s.wrapping_add(1000)))?,
                        ))
                    })
                },
            )?)
        } else {
            None
        };
        Ok(Self {
            mu_a,
            mu_ar,
            sil,
            intervals,
        })
    }
}

/// Stage 6: Fig. 4 right — the batch's fit on all normal test beats: `e_rel` (Eq. 12) and the
/// agreement of KANN's one-step prediction (Eq. 6) with the network beside the trivial
/// predictor, with bootstrap intervals of both (`--bootstrap`).
struct Fig4Stage {
    /// `e_rel` on all normal test beats.
    e_rel_test: kann::ErelSummary,
    /// Its bootstrap intervals beside the trivial predictor's.
    e_rel_intervals: Option<crate::intervals::ErelIntervals>,
    /// The agreements (with their intervals).
    agreement: agreement::EcgAgreement,
    /// The per-beat losses of the three latents.
    losses: agreement::Losses,
}

impl Fig4Stage {
    /// Runs stage 6 with stage 2's fit.
    fn run(net: &Network, input: &EcgInput, fig2: &Fig2Stage, args: &EcgArgs) -> Result<Self> {
        let (fit, boot, seed) = (&fig2.cell.fit, args.common.bootstrap, args.common.seed);
        let all_normal: Vec<&Beat> = input.splits.test_normal.iter().collect();
        let states_t = step(
            &format!(
                "encoder states of all {} normal test beats",
                all_normal.len()
            ),
            || net.encode(&all_normal),
        )?;
        let e_rel_test = kann::e_rel(&states_t, fit)?;
        let batch_grams = fig2.batch_grams.as_ref();
        let e_rel_intervals = match batch_grams {
            Some(grams) => Some(step(
                &format!(
                    "bootstrap intervals of e_rel beside the trivial predictor ({boot} replicates)"
                ),
                || {
                    crate::intervals::e_rel_intervals(
                        grams,
                        fit.model.rank(),
                        &crate::intervals::ErrorPairs::of(&states_t),
                        false,
                        boot,
                        seed,
                    )
                },
            )?),
            None => None,
        };
        let normal_values = beat_values(&all_normal);
        let thr = input.threshold();
        let (mut agreement, losses) =
            agreement::agreement(net, &states_t, &normal_values, fit, thr, args.common.batch)?;
        if let Some(grams) = batch_grams {
            agreement.intervals = Some(step(
                &format!(
                    "bootstrap intervals of the agreements ({boot} replicates over the batch and the normal beats)"
                ),
                || {
                    agreement::intervals(
                        net,
                        &states_t,
                        &normal_values,
                        &losses,
                        grams,
                        fit,
                        thr,
                        boot,
                        seed,
                    )
                },
            )?);
        }
        Ok(Self {
            e_rel_test,
            e_rel_intervals,
            agreement,
            losses,
        })
    }
}

/// Stage 7: the network's summed L1 loss on all test beats, its accuracy at the run's threshold
/// and its ROC.
struct AccuracyStage {
    /// The accuracy at the threshold.
    threshold_accuracy: accuracy::EcgThresholdAccuracy,
    /// The ROC's false positive rates.
    fpr: Vec<f64>,
    /// The ROC's true positive rates.
    tpr: Vec<f64>,
}

impl AccuracyStage {
    /// Runs stage 7.
    fn run(net: &Network, input: &EcgInput) -> Result<Self> {
        let sn = net.scores(&input.splits.test_normal, "network loss, normal test beats")?;
        let sa = net.scores(
            &input.splits.test_anomalous,
            "network loss, anomalous test beats",
        )?;
        let (threshold_accuracy, fpr, tpr) =
            accuracy::threshold_accuracy(&sn, &sa, input.threshold());
        Ok(Self {
            threshold_accuracy,
            fpr,
            tpr,
        })
    }
}

/// Stage 8, the figures: the spectrum, Fig. 2 three ways, App. B, Fig. 3 (medians and
/// silhouettes), Fig. 4 right, the ROC and the training curves.
fn ecg_figures(
    input: &EcgInput,
    stages: &EcgStages,
    pca: Vec<appb::PcaPanel>,
    args: &EcgArgs,
) -> Result<Vec<FigureFile>> {
    let (run, b) = (&input.run, args.common.batch);
    let (fig2, fig3, fig4, acc) = (&stages.fig2, &stages.fig3, &stages.fig4, &stages.accuracy);
    let (cell, mu, mu_r) = (&fig2.cell, &fig2.mu, &fig2.mu_r);
    let title = format!(
        "Koopman spectrum of the {} encoder states (ECG, {b} normal beats, rank {})",
        input.cfg.model.cell.to_string().to_uppercase(),
        cell.fit.model.rank()
    );
    let mut figs = vec![figures::spectrum(
        run,
        &title,
        &eigen_points(&cell.fit.spectrum),
        fig2.intervals.as_ref(),
    )?];
    figs.extend(fig2_figures(run, cell, &fig2.spread, mu, mu_r)?);
    figs.push(figures::panels(
        run,
        "appb_pca_modes",
        "App. B: normal beats decoded from pairs of PCA modes (mean + (h - mean) W Wᵀ)",
        "App. B: the Fig. 2 panels with the dominant PCA modes instead of Koopman pairs",
        mu,
        mu_r,
        &pca_panels(pca),
    )?);
    figs.push(figures::fig3_medians(
        run,
        b,
        [mu, mu_r, &fig3.mu_a, &fig3.mu_ar],
    )?);
    figs.push(figures::fig3_silhouette(
        run,
        &fig3.sil,
        b,
        b,
        fig3.intervals.as_ref(),
    )?);
    figs.push(figures::fig4_histogram(
        run,
        &fig4.losses,
        &fig4.agreement,
        input.threshold(),
    )?);
    figs.push(figures::roc(
        run,
        &acc.fpr,
        &acc.tpr,
        &acc.threshold_accuracy,
    )?);
    figs.extend(training_curves_figure(run, "ECG training (metrics.csv)")?);
    Ok(figs)
}

/// The App. B panels: each pair of PCA modes with its share of the variance.
fn pca_panels(pca: Vec<appb::PcaPanel>) -> Vec<Panel> {
    pca.into_iter()
        .map(|p| Panel {
            name: format!(
                "PCA modes {} ({:.1}% of variance)",
                p.modes
                    .iter()
                    .map(|m| m.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                100.0 * p.explained
            ),
            marker: None,
            spread: Vec::new(),
            curve: p.curve,
        })
        .collect()
}

/// Stage 8, `report.json`: the stages' results in one [`EcgReport`] (its `table` still empty).
fn ecg_report(
    input: &EcgInput,
    net: &Network,
    stages: EcgStages,
    eig: &[kann::EigenSummary],
    figures: Vec<FigureFile>,
    args: &EcgArgs,
) -> Result<EcgReport> {
    let (run, b) = (&input.run, args.common.batch);
    let EcgStages {
        fig2,
        robustness,
        pca_explained_variance,
        fig3,
        fig4,
        accuracy: acc,
    } = stages;
    let cell = &fig2.cell;
    Ok(EcgReport {
        task: "ecg".into(),
        settings: Settings {
            run_dir: run.display().to_string(),
            data_dir: input.data_dir.display().to_string(),
            command: args.command(run),
            seed: args.common.seed,
            batch: b,
            rank: cell.fit.model.rank(),
            rank_is_default: args.common.rank.is_none(),
            hidden: net.latent(),
            cell: input.cfg.model.cell.to_string(),
        },
        accuracy: read_accuracies(run, "train_accuracy")?,
        threshold_accuracy: acc.threshold_accuracy,
        num_eigenvalues: eig.len(),
        count_above_099: eig.iter().filter(|e| e.modulus > DOMINANT_MODULUS).count(),
        top_eigenvalues: eig.iter().take(10).cloned().collect(),
        spectrum_intervals: fig2.intervals,
        dominant_pairs: pair_reports(cell, &fig2.spread, eig),
        fig2: fig2_summary(cell, &fig2.spread, args.pairing, fig2.mu.range()),
        capture_intervals: fig2.capture_intervals,
        robustness,
        pca_explained_variance,
        e_rel_batch: kann::e_rel(&fig2.states, &cell.fit)?,
        e_rel_normal_test: fig4.e_rel_test,
        e_rel_intervals: fig4.e_rel_intervals,
        silhouette: fig3.sil.summary(2 * b),
        silhouette_intervals: fig3.intervals,
        agreement: fig4.agreement,
        fig2_curves: fig2_curves(cell, &fig2.mu, &fig2.mu_r),
        figures,
        table: Vec::new(),
        warnings: cell.warnings.clone(),
    })
}

/// The curves of Fig. 2 for `report.html`'s interactive figure: the beats, their
/// reconstruction, and both reconstructions of each set (Eq. 11 and sign-invariant).
fn fig2_curves(
    cell: &Fig2Cell,
    mu: &MedianCurve,
    mu_r: &MedianCurve,
) -> crate::report_html::ecg::Fig2Curves {
    crate::report_html::ecg::Fig2Curves {
        beats: mu.into(),
        reconstruction: mu_r.into(),
        pairs: cell
            .sets
            .iter()
            .zip(cell.modulus.iter().zip(&cell.sign_invariant))
            .map(|(s, (m, v))| crate::report_html::ecg::PairCurves {
                set: s.set.iter().map(|j| j + 1).collect(),
                modulus: m.into(),
                sign_invariant: v.into(),
            })
            .collect(),
    }
}

/// Stage 8, the reports: fills in the table and writes `report.md`, `report.json` and
/// `report.html` into `run`.
fn write_ecg_reports(run: &std::path::Path, mut report: EcgReport) -> Result<EcgReport> {
    report.table = report::ecg_table(&report, run);
    let claims = crate::report_html::ecg::claims(&report);
    write_reports(
        run,
        "KANN analysis of the ECG autoencoder",
        &claims,
        &report.table,
        &report::ecg_body(&report),
        &report,
    )?;
    crate::report_html::ecg::write(run, &report, claims)?;
    println!(
        "analyze ecg: {} figures, report.md, report.json and report.html in {}",
        report.figures.len(),
        run.display()
    );
    Ok(report)
}

/// The report rows of the Fig. 2 sets.
fn pair_reports(cell: &Fig2Cell, spread: &SignSpread, eig: &[kann::EigenSummary]) -> Vec<EcgPair> {
    cell.sets
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let l = cell.fit.spectrum.eigenvalues[s.set[0]];
            let m = &cell.modulus_features.sets[i];
            let v = &cell.sign_invariant_features.sets[i];
            EcgPair {
                set: s.set.iter().map(|j| j + 1).collect(),
                ranks: s.ranks.clone(),
                eigenvalue: (l.re, l.im),
                dominance: s.dominance,
                tau: eig[s.set[0]].tau,
                conjugate: s.conjugate,
                imaginary_share: s.imaginary_share,
                feature: m.extreme.clone(),
                feature_t: m.extreme_t,
                captures: m.captures.clone(),
                paper_feature: m.feature.clone(),
                sign_invariant_extreme: v.extreme.clone(),
                sign_invariant_captures: v.captures.clone(),
                sign_invariant_feature: v.feature.clone(),
                max_sign_deviation: spread.modulus[i],
            }
        })
        .collect()
}

fn fig2_summary(
    cell: &Fig2Cell,
    spread: &SignSpread,
    pairing: PairingRule,
    beat_range: f64,
) -> Fig2Summary {
    Fig2Summary {
        pairing,
        sign_convention: SIGN_CONVENTION.to_string(),
        feature_rule: report::feature_rule(),
        feature_tolerance_steps: features::TIME_TOLERANCE,
        beat_range,
        modulus_captured: cell.modulus_features.captured,
        modulus_features: cell.modulus_features.captured_names.clone(),
        sign_invariant_captured: cell.sign_invariant_features.captured,
        sign_invariant_features: cell.sign_invariant_features.captured_names.clone(),
        sign_patterns: spread.patterns,
        sign_seed: spread.seed,
        max_median_deviation_modulus: spread.max_modulus(),
        max_median_deviation_sign_invariant: spread.max_sign_invariant(),
    }
}

/// The Fig. 2 panel name of set `i` of `cell`: `{j,k}, λ = …`, marked when the set is not a
/// conjugate pair.
fn fig2_set_name(cell: &Fig2Cell, i: usize) -> String {
    let s = &cell.sets[i];
    let l = cell.fit.spectrum.eigenvalues[s.set[0]];
    format!(
        "{{{}}}, λ = {}{}",
        set_name(&s.set),
        fmt_lambda(l.re, l.im),
        if s.conjugate {
            ""
        } else {
            " (not a conjugate pair)"
        }
    )
}

/// The marker of a Fig. 2 panel: the paper feature the set was assigned, else its most
/// prominent extreme (with the features it would capture, or none).
fn fig2_marker(f: &features::SetFeatures) -> (usize, String) {
    match (&f.feature, f.feature_t) {
        (Some(name), Some(t)) => (t, format!("{name} (t={t})")),
        _ if !f.captures.is_empty() => (
            f.extreme_t,
            format!("{} = {} (another set's)", f.extreme, f.captures.join(" + ")),
        ),
        _ => (f.extreme_t, format!("{} (no paper feature)", f.extreme)),
    }
}

/// The panels of one Fig. 2 figure: a median per set of `cell` with its marker from `feats`,
/// and the medians under random sign patterns when `spread` is given.
fn fig2_panels(
    cell: &Fig2Cell,
    curves: &[MedianCurve],
    feats: &features::FeatureMatch,
    spread: Option<&SignSpread>,
) -> Vec<Panel> {
    curves
        .iter()
        .enumerate()
        .map(|(i, c)| Panel {
            name: fig2_set_name(cell, i),
            curve: c.clone(),
            marker: Some(fig2_marker(&feats.sets[i])),
            spread: spread.map_or_else(Vec::new, |s| s.modulus_medians[i].clone()),
        })
        .collect()
}

/// Fig. 2 three ways: Eq. 11 (canonical signs), sign-invariant, Eq. 11 under random signs.
fn fig2_figures(
    run: &std::path::Path,
    cell: &Fig2Cell,
    spread: &SignSpread,
    mu: &MedianCurve,
    mu_r: &MedianCurve,
) -> Result<Vec<FigureFile>> {
    let panels =
        |curves: &[MedianCurve], feats: &features::FeatureMatch, spread: Option<&SignSpread>| {
            fig2_panels(cell, curves, feats, spread)
        };
    let mf = &cell.modulus_features;
    let sf = &cell.sign_invariant_features;
    Ok(vec![
        figures::panels(
            run,
            "fig2_koopman_pairs",
            &format!(
                "Fig. 2, Eq. 11: F_dec(H B |V_J U_J| Bᵀ), canonical signs of B — {} of 4 paper features",
                mf.captured
            ),
            "Fig. 2 (Eq. 11 with the element-wise modulus, canonical signs of B: largest component of each basis vector positive): medians (MAD envelopes) of the beats decoded from the four dominant sets, over mu and mu_r; markers: the paper feature matched, or the most prominent extreme",
            mu,
            mu_r,
            &panels(&cell.modulus, mf, None),
        )?,
        figures::panels(
            run,
            "fig2_sign_invariant",
            &format!(
                "Fig. 2 sign-invariant: F_dec(Re(H B V_J U_J) Bᵀ) — {} of 4 paper features",
                sf.captured
            ),
            "Fig. 2 without the modulus (invariant under the signs of B): medians (MAD envelopes) of the beats decoded from the four dominant sets",
            mu,
            mu_r,
            &panels(&cell.sign_invariant, sf, None),
        )?,
        figures::panels(
            run,
            "fig2_sign_spread",
            &format!(
                "Eq. 11 under {} random sign patterns of B (thin lines): max deviation {:.2}",
                spread.patterns,
                spread.max_modulus()
            ),
            "Fig. 2 (Eq. 11) with the canonical signs (thick, MAD envelope) and the medians under random sign patterns of the basis (thin): the modulus makes the figure depend on an arbitrary choice",
            mu,
            mu_r,
            &panels(&cell.modulus, mf, Some(spread)),
        )?,
    ])
}
