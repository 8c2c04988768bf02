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

fn pick(beats: &[Beat], b: usize, seed: u64) -> Vec<&Beat> {
    sample_indices(beats.len(), b, seed)
        .into_iter()
        .map(|i| &beats[i])
        .collect()
}

/// Runs `analyze ecg` and writes the figures, `report.md` and `report.json` into the run folder.
pub fn run_ecg(args: &EcgArgs) -> Result<EcgReport> {
    args.check()?;
    let run = resolve_run_dir(args.common.run.as_deref(), Task::Ecg)?;
    println!("analyze ecg: run folder {}", run.display());
    let device = device();
    let (model, config) = load_ecg_run(&run, &device)
        .with_context(|| format!("loading the ECG run {}", run.display()))?;
    let RunConfig::Ecg(cfg) = &config else {
        bail!("{} is not an ECG run", run.display());
    };
    let net = Network {
        model: &model,
        device: &device,
    };
    let thr = cfg.train.threshold;
    let data_dir = kann_data::locate_data_dir(
        args.common.data_dir.as_deref(),
        cfg.data.data_dir.as_deref(),
    );
    // First use fetches (KANN_OFFLINE / KANN_MIRROR apply).
    kann_data::fetch::ensure_ecg(&data_dir, &Default::default())?;
    let splits = step(
        &format!("loading ECG5000 from {}", data_dir.display()),
        || Ok(EcgSplits::load(&data_dir, cfg.data.split_seed)?),
    )?;
    let (normal_all, anomalous_all) = (&splits.test_normal, &splits.test_anomalous);
    let b = args.common.batch;
    for (set, len) in [
        ("normal", normal_all.len()),
        ("anomalous", anomalous_all.len()),
    ] {
        if b > len {
            bail!("--batch {b} is larger than the test set: {len} {set} test beats");
        }
    }
    let (normal, anomalous) = (
        pick(normal_all, b, args.common.seed),
        pick(anomalous_all, b, args.common.seed.wrapping_add(1)),
    );
    let n = SERIES_LEN;

    // Stages 1-2: states, fit, Fig. 2 both ways, sign dependence.
    let states = step(&format!("encoder states of {b} normal test beats"), || {
        net.encode(&normal)
    })?;
    let mu = MedianCurve::of(&beat_values(&normal), b, n)?;
    let h_last = last_states(&states);
    let mu_r = MedianCurve::of(&net.decode(&to_rows(h_last.as_ref()), b)?, b, n)?;
    let cell = step("Koopman fit (Eqs. 4-5) and Fig. 2 (Eq. 11)", || {
        fig2_cell(&net, &states, mu.range(), args.pairing, args.common.rank)
    })?;
    let intervals = step(
        &format!(
            "bootstrap intervals of the spectrum ({} replicates over the batch's beats)",
            args.common.bootstrap
        ),
        || kann::spectrum_intervals(&states, &cell.fit, args.common.bootstrap, args.common.seed),
    )?;
    let capture_intervals = if args.common.bootstrap > 0 {
        let n = args.common.bootstrap.min(capture::MAX_REPLICATES);
        Some(step(
            &format!("k of 4 over {n} bootstrap draws of the batch (Fig. 2 redone in each)"),
            || {
                capture::capture_intervals(
                    &net,
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
    let sets: Vec<Vec<usize>> = cell.sets.iter().map(|s| s.set.clone()).collect();
    let spread = step(
        &format!("Eq. 11 under {SIGN_PATTERNS} random sign patterns of B"),
        || {
            sign_spread(
                &net,
                h_last.as_ref(),
                &cell.fit.model,
                &cell.fit.spectrum,
                &sets,
                &cell.modulus,
                &cell.sign_invariant,
                SIGN_PATTERNS,
                args.common.seed,
            )
        },
    )?;
    // Stage 3: robustness over batch sizes and draws.
    let robustness = if args.skip_robustness {
        Vec::new()
    } else {
        step("Fig. 2 over batch sizes 20/64/145 x 3 draws", || {
            let sizes: Vec<usize> = robustness::BATCH_SIZES
                .iter()
                .map(|&s| s.min(normal_all.len()))
                .collect();
            robustness::sweep(
                &net,
                &sizes,
                args.common.seed,
                args.common.rank,
                |size, seed| {
                    let beats = pick(normal_all, size, seed);
                    Ok((
                        net.encode(&beats)?,
                        MedianCurve::of(&beat_values(&beats), size, n)?.range(),
                    ))
                },
            )
        })?
    };
    // Stage 4: App. B.
    let (pca_ratio, pca) = step("App. B: PCA modes", || {
        appb::pca_panels(&net, &states, h_last.as_ref(), PANELS)
    })?;
    // Stage 5: Fig. 3.
    let states_a = step(
        &format!("encoder states of {b} anomalous test beats"),
        || net.encode(&anomalous),
    )?;
    let mu_a = MedianCurve::of(&beat_values(&anomalous), b, n)?;
    let mu_ar = MedianCurve::of(
        &net.decode(&to_rows(last_states(&states_a).as_ref()), b)?,
        b,
        n,
    )?;
    let sil = step(
        "silhouette scores (Fig. 3 right) with 5 random directions",
        || silhouette::silhouettes(&states, &states_a, args.common.rank, args.common.seed),
    )?;
    let silhouette_intervals = if args.common.bootstrap > 0 {
        let draws = args.common.bootstrap.min(silhouette::MAX_REDRAWS);
        Some(step(
            &format!("silhouette scores on {draws} other draws of the two batches"),
            || {
                silhouette::redraw_intervals(draws, args.common.rank, args.common.seed, |i| {
                    let s = args.common.seed.wrapping_add(1000 + i as u64);
                    Ok((
                        net.encode(&pick(normal_all, b, s))?,
                        net.encode(&pick(anomalous_all, b, s.wrapping_add(1000)))?,
                    ))
                })
            },
        )?)
    } else {
        None
    };
    // Stage 6: Fig. 4 right and e_rel on all normal test beats.
    let all_normal: Vec<&Beat> = normal_all.iter().collect();
    let states_t = step(
        &format!(
            "encoder states of all {} normal test beats",
            all_normal.len()
        ),
        || net.encode(&all_normal),
    )?;
    let e_rel_test = kann::e_rel(&states_t, &cell.fit)?;
    let batch_grams = if args.common.bootstrap > 0 {
        Some(kann_koopman::SequenceGrams::from_states(
            &states,
            cell.fit.model.precision,
        )?)
    } else {
        None
    };
    let e_rel_intervals = match &batch_grams {
        Some(grams) => Some(step(
            &format!(
                "bootstrap intervals of e_rel beside the trivial predictor ({} replicates)",
                args.common.bootstrap
            ),
            || {
                crate::intervals::e_rel_intervals(
                    grams,
                    cell.fit.model.rank(),
                    &crate::intervals::ErrorPairs::of(&states_t),
                    false,
                    args.common.bootstrap,
                    args.common.seed,
                )
            },
        )?),
        None => None,
    };
    let normal_values = beat_values(&all_normal);
    let (mut agreement, losses) =
        agreement::agreement(&net, &states_t, &normal_values, &cell.fit, thr, b)?;
    if let Some(grams) = &batch_grams {
        agreement.intervals = Some(step(
            &format!(
                "bootstrap intervals of the agreements ({} replicates over the batch and the normal beats)",
                args.common.bootstrap
            ),
            || {
                agreement::intervals(
                    &net,
                    &states_t,
                    &normal_values,
                    &losses,
                    grams,
                    &cell.fit,
                    thr,
                    args.common.bootstrap,
                    args.common.seed,
                )
            },
        )?);
    }
    // Stage 7: the network on all test beats.
    let sn = net.scores(normal_all, "network loss, normal test beats")?;
    let sa = net.scores(anomalous_all, "network loss, anomalous test beats")?;
    let (threshold_accuracy, fpr, tpr) = accuracy::threshold_accuracy(&sn, &sa, thr);

    // Stage 8: figures and report.
    let eig = eigen_summaries(&cell.fit.spectrum)?;
    let title = format!(
        "Koopman spectrum of the {} encoder states (ECG, {b} normal beats, rank {})",
        cfg.model.cell.to_string().to_uppercase(),
        cell.fit.model.rank()
    );
    let mut figs = vec![figures::spectrum(
        &run,
        &title,
        &eigen_points(&cell.fit.spectrum),
    )?];
    figs.extend(fig2_figures(&run, &cell, &spread, &mu, &mu_r)?);
    let pca_panels: Vec<Panel> = pca
        .into_iter()
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
        .collect();
    figs.push(figures::panels(
        &run,
        "appb_pca_modes",
        "App. B: normal beats decoded from pairs of PCA modes (mean + (h - mean) W Wᵀ)",
        "App. B: the Fig. 2 panels with the dominant PCA modes instead of Koopman pairs",
        &mu,
        &mu_r,
        &pca_panels,
    )?);
    figs.push(figures::fig3_medians(&run, b, [&mu, &mu_r, &mu_a, &mu_ar])?);
    figs.push(figures::fig3_silhouette(&run, &sil, b, b)?);
    figs.push(figures::fig4_histogram(&run, &losses, &agreement, thr)?);
    figs.push(figures::roc(&run, &fpr, &tpr, &threshold_accuracy)?);
    figs.extend(training_curves_figure(&run, "ECG training (metrics.csv)")?);

    let command = args.command(&run);
    let mut warnings = cell.warnings.clone();
    let fig2 = fig2_summary(&cell, &spread, args.pairing, mu.range());
    let mut report = EcgReport {
        task: "ecg".into(),
        settings: Settings {
            run_dir: run.display().to_string(),
            data_dir: data_dir.display().to_string(),
            command,
            seed: args.common.seed,
            batch: b,
            rank: cell.fit.model.rank(),
            rank_is_default: args.common.rank.is_none(),
            hidden: net.latent(),
            cell: cfg.model.cell.to_string(),
        },
        accuracy: read_accuracies(&run, "train_accuracy")?,
        threshold_accuracy,
        num_eigenvalues: eig.len(),
        count_above_099: eig.iter().filter(|e| e.modulus > DOMINANT_MODULUS).count(),
        top_eigenvalues: eig.iter().take(10).cloned().collect(),
        spectrum_intervals: intervals,
        dominant_pairs: pair_reports(&cell, &spread, &eig),
        fig2,
        capture_intervals,
        robustness,
        pca_explained_variance: pca_ratio,
        e_rel_batch: kann::e_rel(&states, &cell.fit)?,
        e_rel_normal_test: e_rel_test,
        e_rel_intervals,
        silhouette: sil.summary(2 * b),
        silhouette_intervals,
        agreement,
        fig2_curves: crate::report_html::ecg::Fig2Curves {
            beats: (&mu).into(),
            reconstruction: (&mu_r).into(),
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
        },
        figures: figs,
        table: Vec::new(),
        warnings: std::mem::take(&mut warnings),
    };
    report.table = report::ecg_table(&report, &run);
    let claims = crate::report_html::ecg::claims(&report);
    write_reports(
        &run,
        "KANN analysis of the ECG autoencoder",
        &claims,
        &report.table,
        &report::ecg_body(&report),
        &report,
    )?;
    crate::report_html::ecg::write(&run, &report, claims)?;
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

/// Fig. 2 three ways: Eq. 11 (canonical signs), sign-invariant, Eq. 11 under random signs.
fn fig2_figures(
    run: &std::path::Path,
    cell: &Fig2Cell,
    spread: &SignSpread,
    mu: &MedianCurve,
    mu_r: &MedianCurve,
) -> Result<Vec<FigureFile>> {
    let name = |i: usize| {
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
    };
    let marker = |f: &features::SetFeatures| match (&f.feature, f.feature_t) {
        (Some(name), Some(t)) => (t, format!("{name} (t={t})")),
        _ if !f.captures.is_empty() => (
            f.extreme_t,
            format!("{} = {} (another set's)", f.extreme, f.captures.join(" + ")),
        ),
        _ => (f.extreme_t, format!("{} (no paper feature)", f.extreme)),
    };
    let panels = |curves: &[MedianCurve],
                  feats: &features::FeatureMatch,
                  spread: Option<&SignSpread>|
     -> Vec<Panel> {
        curves
            .iter()
            .enumerate()
            .map(|(i, c)| Panel {
                name: name(i),
                curve: c.clone(),
                marker: Some(marker(&feats.sets[i])),
                spread: spread.map_or_else(Vec::new, |s| s.modulus_medians[i].clone()),
            })
            .collect()
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
