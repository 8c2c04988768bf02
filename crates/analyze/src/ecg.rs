//! `analyze ecg`: the Koopman analysis of the ECG5000 LSTM autoencoder (paper Sec. 4.2, Fig. 2,
//! Fig. 3, Fig. 4 right, App. B).
//!
//! 1. A seeded random batch of 64 normal test beats; the encoder states `[64, 140, k]`; the
//!    operator fitted on them; dominance ranking and the four most dominant conjugate pairs.
//! 2. Fig. 2: for each pair `(i, j)`, `X̄^{ij} = F_dec(H_last B |V_ij U_ij| Bᵀ)` (Eq. 11), its
//!    median with MAD envelope over time on top of the beats' median `μ` and the reconstruction
//!    median `μ_r`, the pair's most prominent feature marked. App. B: the same with pairs of PCA
//!    modes (`mean + (h − mean) W_S W_Sᵀ`).
//! 3. Fig. 3: medians of normal and anomalous beats and their reconstructions (left); the
//!    cumulative silhouette `σ(t)` of 64 normal + 64 anomalous beats on `H B`, on its first five
//!    principal components and on the five most dominant Koopman eigenvectors (right).
//! 4. Fig. 4 (right): on all normal test beats, the summed L1 loss of the network and of the
//!    KANN latent `h_{T−1} B C Bᵀ` (Eq. 6), their threshold decisions and agreement; `e_rel`.
//! 5. The network's accuracy at the threshold on all test beats and its ROC.

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use kann_data::ecg::{Beat, EcgSplits, SERIES_LEN};
use kann_koopman::faer::{Mat, MatRef};
use kann_koopman::{
    Pca, States, coefficients, cumulative_time_average, dominance, median, median_mad_over_time,
    reconstruct_modulus, silhouette_over_time,
};
use kann_models::config::{RunConfig, Task};
use kann_models::npy::tensor_to_vec;
use kann_models::run::load_ecg_run;
use kann_models::{EcgAutoencoder, l1_per_beat};
use kann_plot::{
    Curve, HistogramSeries, LabelledPoint, LossHistogramFigure, MedianComparisonFigure,
    MedianPanel, MedianPanelsFigure, MedianSeries, Rgb, RocCurve, RocFigure, SilhouetteFigure,
    SpectrumFigure, TimeMarker,
};

use crate::AnalyzeArgs;
use crate::common::*;
use crate::kann::{
    self, DOMINANT_MODULUS, Fit, eigen_points, eigen_summaries, projection_embedding, set_name,
    to_rows,
};
use crate::report::*;

/// Number of dominant pairs / PCA pairs shown in Fig. 2 and App. B.
const PANELS: usize = 4;
/// Dimension of the PCA and Koopman embeddings of Fig. 3 (right).
const EMBED: usize = 5;

fn beats_tensor(beats: &[&Beat], device: &Device) -> Tensor<2> {
    let data: Vec<f32> = beats
        .iter()
        .flat_map(|b| b.values.iter().copied())
        .collect();
    Tensor::from_data(TensorData::new(data, [beats.len(), SERIES_LEN]), device)
}

fn beat_values(beats: &[&Beat]) -> Vec<f64> {
    beats
        .iter()
        .flat_map(|b| b.values.iter().map(|&x| x as f64))
        .collect()
}

/// Encoder states `[B, 140, k]` of the beats.
fn encode(model: &EcgAutoencoder, beats: &[&Beat], device: &Device) -> Result<States> {
    let hooked = model.encode_states(beats_tensor(beats, device), false)?;
    states_from_tensor(&hooked.hidden, &hooked.lengths)
}

/// Decodes `m` latents (row-major `m × k`) into beats (row-major `m × 140`).
fn decode(model: &EcgAutoencoder, rows: &[f64], m: usize, device: &Device) -> Result<Vec<f64>> {
    let k = model.d_latent();
    let out = model.decode(rows_tensor(rows, m, k, device))?;
    Ok(tensor_to_vec(&out)?.into_iter().map(f64::from).collect())
}

/// Summed L1 loss per beat of reconstructions against beats (both row-major `m × 140`).
fn l1(recon: &[f64], beats: &[f64]) -> Vec<f64> {
    recon
        .chunks(SERIES_LEN)
        .zip(beats.chunks(SERIES_LEN))
        .map(|(r, b)| r.iter().zip(b).map(|(x, y)| (x - y).abs()).sum())
        .collect()
}

/// The network's summed L1 loss of every beat, in chunks with a progress bar.
fn network_scores(
    model: &EcgAutoencoder,
    beats: &[Beat],
    device: &Device,
    label: &str,
) -> Result<Vec<f64>> {
    let bar = progress_bar(beats.len().div_ceil(256) as u64, label);
    let mut out = Vec::with_capacity(beats.len());
    for chunk in beats.chunks(256) {
        let refs: Vec<&Beat> = chunk.iter().collect();
        let x = beats_tensor(&refs, device);
        let recon = model.forward(x.clone())?;
        out.extend(
            tensor_to_vec(&l1_per_beat(recon, x))?
                .into_iter()
                .map(f64::from),
        );
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

/// The most prominent feature of a median curve: the step (1-based) farthest from its median
/// level, and whether it is a minimum or a maximum.
fn feature(curve: &[f64]) -> (usize, &'static str) {
    let level = median(curve);
    let (t, v) = curve
        .iter()
        .enumerate()
        .max_by(|a, b| (a.1 - level).abs().total_cmp(&(b.1 - level).abs()))
        .map(|(t, &v)| (t, v))
        .unwrap_or((0, level));
    (t + 1, if v < level { "min" } else { "max" })
}

/// The `PANELS` most dominant conjugate pairs by the dominance ranking (real eigenvectors fill in
/// when there are fewer pairs), 0-based, with their scores.
fn dominant_pairs(
    fit: &Fit,
    ranking: &[(usize, f64)],
    warnings: &mut Vec<String>,
) -> Vec<(Vec<usize>, f64)> {
    let mut out: Vec<(Vec<usize>, f64)> = Vec::new();
    for &(j, score) in ranking {
        if out.len() == PANELS {
            break;
        }
        if let Some(p) = fit.spectrum.partner(j) {
            let set = vec![j.min(p), j.max(p)];
            if !out.iter().any(|(s, _)| *s == set) {
                out.push((set, score));
            }
        }
    }
    if out.len() < PANELS {
        warnings.push(format!(
            "only {} conjugate pairs in the spectrum: Fig. 2 is filled with the most dominant real eigenvectors",
            out.len()
        ));
        for &(j, score) in ranking {
            if out.len() == PANELS {
                break;
            }
            if fit.spectrum.partner(j).is_none() {
                out.push((vec![j], score));
            }
        }
    }
    out
}

struct PanelData {
    name: String,
    median: Vec<f64>,
    mad: Vec<f64>,
    marker: String,
    t: usize,
}

fn panel_data(name: String, decoded: &[f64], m: usize) -> Result<PanelData> {
    let (median, mad) = median_mad_over_time(decoded, m, SERIES_LEN)?;
    let (t, kind) = feature(&median);
    Ok(PanelData {
        name,
        marker: format!("{kind} t={t}"),
        t,
        median,
        mad,
    })
}

fn draw_panels(
    run: &std::path::Path,
    stem: &str,
    title: &str,
    mu: &(Vec<f64>, Vec<f64>),
    mu_r: &(Vec<f64>, Vec<f64>),
    panels: &[PanelData],
) -> Result<kann_plot::FigurePaths> {
    let markers: Vec<[TimeMarker; 1]> = panels
        .iter()
        .map(|p| {
            [TimeMarker {
                t: p.t as f64,
                label: &p.marker,
            }]
        })
        .collect();
    let panel_refs: Vec<MedianPanel> = panels
        .iter()
        .zip(&markers)
        .map(|(p, m)| MedianPanel {
            series: MedianSeries::new(&p.name, &p.median, Some(&p.mad)),
            markers: m,
        })
        .collect();
    Ok(kann_plot::median_panels(
        run,
        stem,
        &MedianPanelsFigure {
            title,
            original: MedianSeries::new("μ (original beats)", &mu.0, None),
            reconstruction: MedianSeries::new("μ_r (network reconstruction)", &mu_r.0, None),
            panels: &panel_refs,
            time: None,
            columns: 0,
            x_label: "t",
            y_label: "amplitude",
        },
    )?)
}

/// Runs `analyze ecg` and writes the figures, `report.md` and `report.json` into the run folder.
pub fn run_ecg(args: &AnalyzeArgs) -> Result<EcgReport> {
    args.check()?;
    let run = resolve_run_dir(args.run.as_deref(), Task::Ecg)?;
    println!("analyze ecg: run folder {}", run.display());
    let device = device();
    let (model, config) = load_ecg_run(&run, &device)
        .with_context(|| format!("loading the ECG run {}", run.display()))?;
    let RunConfig::Ecg(cfg) = &config else {
        bail!("{} is not an ECG run", run.display());
    };
    let k = model.d_latent();
    let thr = cfg.train.threshold;
    let data_dir = resolve_data_dir(args.data_dir.as_deref(), cfg.data.data_dir.as_deref());
    let splits = step(
        &format!("loading ECG5000 from {}", data_dir.display()),
        || Ok(EcgSplits::load(&data_dir, cfg.data.split_seed)?),
    )?;
    let (normal_all, anomalous_all) = (&splits.test_normal, &splits.test_anomalous);
    if args.batch > normal_all.len() {
        bail!(
            "--batch {} is larger than the test set: {} normal test beats",
            args.batch,
            normal_all.len()
        );
    }
    if args.batch > anomalous_all.len() {
        bail!(
            "--batch {} is larger than the anomalous test set ({} beats)",
            args.batch,
            anomalous_all.len()
        );
    }
    let mut warnings = Vec::new();
    let mut figures = Vec::new();
    let b = args.batch;
    let normal: Vec<&Beat> = sample_indices(normal_all.len(), b, args.seed)
        .into_iter()
        .map(|i| &normal_all[i])
        .collect();
    let anomalous: Vec<&Beat> = sample_indices(anomalous_all.len(), b, args.seed.wrapping_add(1))
        .into_iter()
        .map(|i| &anomalous_all[i])
        .collect();

    // 1. States, fit, spectrum, dominance.
    let states = step(&format!("encoder states of {b} normal test beats"), || {
        encode(&model, &normal, &device)
    })?;
    let fit = step("fitting the Koopman operator (Eqs. 4-5)", || {
        kann::fit(&states, args.rank)
    })?;
    warnings.extend(
        fit.model
            .warnings
            .iter()
            .map(|w| format!("analysis fit: {w}")),
    );
    let rank = fit.model.rank();
    let eig = eigen_summaries(&fit.spectrum)?;
    let count_above = eig.iter().filter(|e| e.modulus > DOMINANT_MODULUS).count();
    let points = eigen_points(&fit.spectrum);
    let title = format!(
        "Koopman spectrum of the {} encoder states (ECG, {b} normal beats, rank {rank})",
        cfg.model.cell.to_string().to_uppercase()
    );
    let p = kann_plot::spectrum(&run, "spectrum", &SpectrumFigure::new(&title, &points))?;
    figures.push(figure_file(
        &run,
        &p,
        "Eigenvalues of C (ECG encoder), |lambda| > 0.99 labelled, tau(0.01) (Eq. 9)",
    )?);
    let ranking = dominance(&states, &fit.model, &fit.spectrum)?;
    let pairs = dominant_pairs(&fit, &ranking, &mut warnings);
    let e_rel_batch = kann::e_rel(&states, &fit)?;

    // 2. Fig. 2: decode H_last B |V_ij U_ij| B^T.
    let n = SERIES_LEN;
    let h_last = kann::states_at(&states, |_| n - 1);
    let beats_n = beat_values(&normal);
    let mu = median_mad_over_time(&beats_n, b, n)?;
    let recon_n = decode(&model, &to_rows(h_last.as_ref()), b, &device)?;
    let mu_r = median_mad_over_time(&recon_n, b, n)?;
    let mut panels = Vec::new();
    let mut pair_reports = Vec::new();
    for (set, score) in &pairs {
        let z = reconstruct_modulus(h_last.as_ref(), &fit.model, &fit.spectrum, set)?;
        let decoded = decode(&model, &to_rows(z.as_ref()), b, &device)?;
        let l = fit.spectrum.eigenvalues[set[0]];
        let p = panel_data(
            format!("pair {{{}}}, λ = {}", set_name(set), fmt_lambda(l.re, l.im)),
            &decoded,
            b,
        )?;
        pair_reports.push(EcgPair {
            set: set.iter().map(|j| j + 1).collect(),
            eigenvalue: (l.re, l.im),
            dominance: *score,
            tau: eig[set[0]].tau,
            feature: p.marker.clone(),
            feature_t: p.t,
        });
        panels.push(p);
    }
    let p = draw_panels(
        &run,
        "fig2_koopman_pairs",
        "Normal beats decoded from the dominant Koopman pairs (Eq. 11)",
        &mu,
        &mu_r,
        &panels,
    )?;
    figures.push(figure_file(
        &run,
        &p,
        "Fig. 2: medians (MAD envelopes) of F_dec(H_last B |V_ij U_ij| B^T) for the four most dominant conjugate pairs, over mu and mu_r",
    )?);

    // App. B: pairs of PCA modes of the states.
    let all_rows = MatRef::from_row_major_slice(states.data(), b * n, k);
    let n_pca = (2 * PANELS).min(k).min(b * n);
    let pca = Pca::fit(all_rows, n_pca)?;
    let mut pca_panels = Vec::new();
    for p in 0..n_pca.div_ceil(2) {
        let cols: Vec<usize> = (2 * p..(2 * p + 2).min(n_pca)).collect();
        let w = Mat::<f64>::from_fn(k, cols.len(), |i, c| pca.components[(i, cols[c])]);
        let centered = Mat::<f64>::from_fn(b, k, |i, j| h_last[(i, j)] - pca.mean[j]);
        let proj = (centered.as_ref() * w.as_ref()) * w.transpose();
        let z = Mat::<f64>::from_fn(b, k, |i, j| proj[(i, j)] + pca.mean[j]);
        let decoded = decode(&model, &to_rows(z.as_ref()), b, &device)?;
        let name = format!(
            "PCA modes {} ({:.1}% of variance)",
            cols.iter()
                .map(|c| (c + 1).to_string())
                .collect::<Vec<_>>()
                .join(","),
            100.0
                * cols
                    .iter()
                    .map(|&c| pca.explained_variance_ratio[c])
                    .sum::<f64>()
        );
        pca_panels.push(panel_data(name, &decoded, b)?);
    }
    let p = draw_panels(
        &run,
        "appb_pca_modes",
        "App. B: normal beats decoded from pairs of PCA modes (mean + (h - mean) W Wᵀ)",
        &mu,
        &mu_r,
        &pca_panels,
    )?;
    figures.push(figure_file(
        &run,
        &p,
        "App. B: the Fig. 2 panels with the dominant PCA modes instead of Koopman pairs",
    )?);

    // 3. Fig. 3 left: medians of normal / anomalous beats and reconstructions.
    let states_a = step(
        &format!("encoder states of {b} anomalous test beats"),
        || encode(&model, &anomalous, &device),
    )?;
    let beats_a = beat_values(&anomalous);
    let h_last_a = kann::states_at(&states_a, |_| n - 1);
    let recon_a = decode(&model, &to_rows(h_last_a.as_ref()), b, &device)?;
    let mu_a = median_mad_over_time(&beats_a, b, n)?;
    let mu_ar = median_mad_over_time(&recon_a, b, n)?;
    let series = [
        MedianSeries {
            color: Some(Rgb::BLUE),
            ..MedianSeries::new("normal", &mu.0, Some(&mu.1))
        },
        MedianSeries {
            color: Some(Rgb::GREEN),
            ..MedianSeries::new("normal reconstructed", &mu_r.0, Some(&mu_r.1))
        },
        MedianSeries {
            color: Some(Rgb::ORANGE),
            ..MedianSeries::new("anomalous", &mu_a.0, Some(&mu_a.1))
        },
        MedianSeries {
            color: Some(Rgb::BROWN),
            ..MedianSeries::new("anomalous reconstructed", &mu_ar.0, Some(&mu_ar.1))
        },
    ];
    let t3 = format!("Beats and reconstructions: {b} normal, {b} anomalous");
    let p = kann_plot::median_comparison(
        &run,
        "fig3_medians",
        &MedianComparisonFigure {
            title: &t3,
            series: &series,
            time: None,
            x_label: "t",
            y_label: "amplitude",
        },
    )?;
    figures.push(figure_file(
        &run,
        &p,
        "Fig. 3 (left): medians with MAD of normal and anomalous beats and of their reconstructions",
    )?);

    // Fig. 3 right: silhouettes of normal vs anomalous.
    let silhouette = step("silhouette scores (Fig. 3 right)", || {
        silhouettes(&states, &states_a, args.rank, &run, &mut figures)
    })?;

    // 4. Fig. 4 right: all normal test beats, network vs KANN latent.
    let all_normal: Vec<&Beat> = normal_all.iter().collect();
    let states_t = step(
        &format!(
            "encoder states of all {} normal test beats",
            all_normal.len()
        ),
        || encode(&model, &all_normal, &device),
    )?;
    let e_rel_test = kann::e_rel(&states_t, &fit)?;
    let m_all = all_normal.len();
    let last_t = kann::states_at(&states_t, |_| n - 1);
    let prev_t = kann::states_at(&states_t, |_| n - 2);
    let kann_latent = prev_t.as_ref() * fit.model.prediction_map().as_ref();
    let beats_t = beat_values(&all_normal);
    let loss_net = l1(
        &decode(&model, &to_rows(last_t.as_ref()), m_all, &device)?,
        &beats_t,
    );
    let loss_kann = l1(
        &decode(&model, &to_rows(kann_latent.as_ref()), m_all, &device)?,
        &beats_t,
    );
    let net_normal = loss_net.iter().filter(|&&l| l < thr).count();
    let kann_normal = loss_kann.iter().filter(|&&l| l < thr).count();
    let same = loss_net
        .iter()
        .zip(&loss_kann)
        .filter(|&(a, c)| (*a < thr) == (*c < thr))
        .count();
    let agreement = EcgAgreement {
        method: format!(
            "latent = last encoder state h_T; KANN latent = h_(T-1) B C B^T (Eq. 6) with C fitted on the {b}-beat analysis batch; both decoded, summed L1 loss against the beat, normal iff loss < {thr}"
        ),
        beats: m_all,
        network_normal: net_normal,
        kann_normal,
        agreement: same as f64 / m_all.max(1) as f64,
        network_median_loss: median(&loss_net),
        kann_median_loss: median(&loss_kann),
    };
    let hist = [
        HistogramSeries {
            name: "network",
            values: &loss_net,
            color: None,
        },
        HistogramSeries {
            name: "KANN",
            values: &loss_kann,
            color: None,
        },
    ];
    let t4 = format!("ECG: {m_all} normal test beats, network vs KANN");
    let p = kann_plot::loss_histogram(
        &run,
        "fig4_loss_histogram",
        &LossHistogramFigure {
            title: &t4,
            series: &hist,
            bins: 40,
            threshold: Some(thr),
            agreement: Some(agreement.agreement),
            x_label: "summed L1 reconstruction loss",
        },
    )?;
    figures.push(figure_file(
        &run,
        &p,
        "Fig. 4 (right): histogram of the per-beat summed L1 loss, network vs KANN-predicted latent, with the threshold",
    )?);

    // 5. The network at the threshold on all test beats; ROC.
    let sn = network_scores(
        &model,
        normal_all,
        &device,
        "network loss, normal test beats",
    )?;
    let sa = network_scores(
        &model,
        anomalous_all,
        &device,
        "network loss, anomalous test beats",
    )?;
    let (points, auc) = kann_models::roc_curve(&sn, &sa);
    let fpr: Vec<f64> = points.iter().map(|p| p.false_positive_rate).collect();
    let tpr: Vec<f64> = points.iter().map(|p| p.true_positive_rate).collect();
    let n_ok = sn.iter().filter(|&&l| l < thr).count();
    let a_ok = sa.iter().filter(|&&l| l >= thr).count();
    let threshold_accuracy = EcgThresholdAccuracy {
        threshold: thr,
        normal_beats: sn.len(),
        anomalous_beats: sa.len(),
        normal: n_ok as f64 / sn.len().max(1) as f64,
        anomalous: a_ok as f64 / sa.len().max(1) as f64,
        overall: (n_ok + a_ok) as f64 / (sn.len() + sa.len()).max(1) as f64,
        roc_auc: auc,
    };
    let thr_label = format!("threshold {thr}");
    let pt = [LabelledPoint {
        x: 1.0 - threshold_accuracy.normal,
        y: threshold_accuracy.anomalous,
        label: &thr_label,
    }];
    let curves = [RocCurve {
        name: "network",
        fpr: &fpr,
        tpr: &tpr,
        auc: Some(auc),
        color: None,
    }];
    let p = kann_plot::roc_curve(
        &run,
        "roc",
        &RocFigure {
            title: "ECG anomaly detection by summed L1 loss (test beats)",
            curves: &curves,
            points: &pt,
        },
    )?;
    figures.push(figure_file(
        &run,
        &p,
        "ROC of 'anomalous iff loss >= t' on all test beats, the threshold marked",
    )?);
    if let Some(f) = training_curves_figure(&run, "ECG training (metrics.csv)")? {
        figures.push(f);
    }

    // Report.
    let accuracy = read_accuracies(&run, "train_accuracy")?;
    let command = args.command("ecg", &run);
    let settings = Settings {
        run_dir: run.display().to_string(),
        data_dir: data_dir.display().to_string(),
        command: command.clone(),
        seed: args.seed,
        batch: b,
        rank,
        rank_is_default: args.rank.is_none(),
        hidden: k,
        cell: cfg.model.cell.to_string(),
    };
    let mut report = EcgReport {
        task: "ecg".into(),
        settings,
        accuracy,
        threshold_accuracy,
        num_eigenvalues: eig.len(),
        count_above_099: count_above,
        top_eigenvalues: eig.iter().take(10).cloned().collect(),
        dominant_pairs: pair_reports,
        pca_explained_variance: pca.explained_variance_ratio.clone(),
        e_rel_batch,
        e_rel_normal_test: e_rel_test,
        silhouette,
        agreement,
        figures,
        table: Vec::new(),
        warnings,
    };
    report.table = ecg_table(&report, &run);
    let body = ecg_body(&report);
    write_reports(
        &run,
        "KANN analysis of the ECG autoencoder",
        &report.table,
        &body,
        &report,
    )?;
    println!(
        "analyze ecg: {} figures, report.md and report.json in {}",
        report.figures.len(),
        run.display()
    );
    Ok(report)
}

/// Fig. 3 (right): `σ(t)` of normal vs anomalous states on `H B` (the fit of both together), on
/// its first five principal components, and on the five most dominant Koopman eigenvectors.
fn silhouettes(
    normal: &States,
    anomalous: &States,
    rank: Option<usize>,
    run: &std::path::Path,
    figures: &mut Vec<FigureFile>,
) -> Result<SilhouetteSummary> {
    let (s1, s2, n, k) = (
        normal.num_sequences(),
        anomalous.num_sequences(),
        normal.seq_len(),
        normal.hidden(),
    );
    let s = s1 + s2;
    let mut data = normal.data().to_vec();
    data.extend_from_slice(anomalous.data());
    let both = States::from_f64(data, s, n, k)?;
    let fit = kann::fit(&both, rank)?;
    let r = fit.model.rank();
    let rows = MatRef::from_row_major_slice(both.data(), s * n, k);
    let tilde = coefficients(rows, &fit.model);
    let labels: Vec<usize> = (0..s).map(|i| usize::from(i >= s1)).collect();
    let sigma = cumulative_time_average(&silhouette_over_time(
        &to_rows(tilde.as_ref()),
        s,
        n,
        r,
        &labels,
    )?);
    let d = EMBED.min(r);
    let pca = Pca::fit(tilde.as_ref(), d)?;
    let z = pca.transform(tilde.as_ref())?;
    let sigma_pca = cumulative_time_average(&silhouette_over_time(
        &to_rows(z.as_ref()),
        s,
        n,
        d,
        &labels,
    )?);
    let ranking = dominance(&both, &fit.model, &fit.spectrum)?;
    let set: Vec<usize> = ranking.iter().take(d).map(|&(j, _)| j).collect();
    let e = projection_embedding(rows, &fit, &set);
    let sigma_k = cumulative_time_average(&silhouette_over_time(
        &to_rows(e.as_ref()),
        s,
        n,
        2 * set.len(),
        &labels,
    )?);
    let curves = [
        Curve::new("σ (H B)", &sigma),
        Curve::new("σ_PCA (5 principal components)", &sigma_pca),
        Curve::new("σ_Koopman (5 dominant eigenvectors)", &sigma_k),
    ];
    let title = format!("Cumulative silhouette σ(t) of {s1} normal vs {s2} anomalous beats");
    let p = kann_plot::silhouette_curves(
        run,
        "fig3_silhouette",
        &SilhouetteFigure {
            title: &title,
            curves: &curves,
            x_label: "t",
            y_label: "silhouette score σ(t)",
            y_range: None,
        },
    )?;
    figures.push(figure_file(
        run,
        &p,
        "Fig. 3 (right): cumulative silhouette of normal vs anomalous states on H B, PCA-5 and Koopman-5",
    )?);
    let last = |v: &[f64]| v.last().copied().unwrap_or(f64::NAN);
    Ok(SilhouetteSummary {
        beats: s,
        sigma: last(&sigma),
        sigma_pca: last(&sigma_pca),
        sigma_koopman: last(&sigma_k),
        koopman_set: set.iter().map(|j| j + 1).collect(),
    })
}

fn ecg_table(r: &EcgReport, run: &std::path::Path) -> Vec<PaperRow> {
    let cmd = format!("`{}`", r.settings.command);
    let fig = |name: &str| {
        r.figures
            .iter()
            .find(|f| f.name == name)
            .map(|f| format!("{cmd} → `{}`", f.png))
            .unwrap_or_else(|| cmd.clone())
    };
    let acc = &r.accuracy;
    let t = &r.threshold_accuracy;
    let pairs: Vec<String> = r
        .dominant_pairs
        .iter()
        .map(|p| {
            format!(
                "{{{}}} {}",
                set_name(&p.set.iter().map(|j| j - 1).collect::<Vec<_>>()),
                p.feature
            )
        })
        .collect();
    let top: Vec<String> = r
        .top_eigenvalues
        .iter()
        .take(4)
        .map(|e| {
            format!(
                "{} (τ {})",
                fmt_lambda(e.re, e.im),
                fmt_tau(e.tau, e.modulus)
            )
        })
        .collect();
    let sil = &r.silhouette;
    vec![
        PaperRow::new(
            "Sec. 4.2 (training)",
            "accuracy train / val / test",
            "97.1% / 97.6% / 98.6%",
            format!(
                "{} / {} / {}",
                opt_pct(acc.train),
                opt_pct(acc.validation),
                opt_pct(acc.test)
            ),
            format!("`train ecg` → {} (config.toml there)", run.display()),
        ),
        PaperRow::new(
            "Sec. 4.2 (threshold)",
            "network at the threshold: normal / anomalous test beats, ROC AUC",
            "threshold 26",
            format!(
                "{} of {} / {} of {} (threshold {}), AUC {:.4}",
                pct(t.normal),
                t.normal_beats,
                pct(t.anomalous),
                t.anomalous_beats,
                t.threshold,
                t.roc_auc
            ),
            fig("roc"),
        ),
        PaperRow::new(
            "Sec. 4.2 (spectrum)",
            "count of |λ| > 0.99; leading eigenvalues",
            "not stated",
            format!("{}; {}", r.count_above_099, top.join(", ")),
            fig("spectrum"),
        ),
        PaperRow::new(
            "Fig. 2",
            "four most dominant conjugate pairs and the feature each captures",
            "58–59 min t=3; 25–26 t∈[35,75]; 9–10 max t=103; 50–51 peak t=133",
            pairs.join("; "),
            fig("fig2_koopman_pairs"),
        ),
        PaperRow::new(
            "App. B",
            "PCA modes instead of Koopman pairs",
            "PCA modes do not isolate beat features",
            format!(
                "explained variance {}",
                r.pca_explained_variance
                    .iter()
                    .map(|v| format!("{:.1}%", 100.0 * v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            fig("appb_pca_modes"),
        ),
        PaperRow::new(
            "Fig. 3 (left)",
            "medians of normal/anomalous beats and reconstructions",
            "both reconstructed well",
            format!("{} + {} beats", r.settings.batch, r.settings.batch),
            fig("fig3_medians"),
        ),
        PaperRow::new(
            "Fig. 3 (right)",
            "cumulative silhouette σ(140): H B / PCA-5 / Koopman-5",
            "≈0.55 / ≈0.6 / ≈0.1 (Koopman lowest)",
            format!(
                "{:.3} / {:.3} / {:.3}",
                sil.sigma, sil.sigma_pca, sil.sigma_koopman
            ),
            fig("fig3_silhouette"),
        ),
        PaperRow::new(
            "Fig. 4 (right)",
            "agreement of threshold decisions, normal test beats",
            "> 97% (145 beats)",
            format!(
                "{} of {} beats (network {} normal, KANN {} normal)",
                pct(r.agreement.agreement),
                r.agreement.beats,
                r.agreement.network_normal,
                r.agreement.kann_normal
            ),
            fig("fig4_loss_histogram"),
        ),
        PaperRow::new(
            "Sec. 4.3 (Eq. 12)",
            "e_rel",
            "0.0056 (145 normal beats)",
            format!(
                "{} on all {} normal test beats; {} on the {}-beat fit batch",
                fmt_erel(&r.e_rel_normal_test),
                r.agreement.beats,
                fmt_erel(&r.e_rel_batch),
                r.settings.batch
            ),
            cmd.clone(),
        ),
    ]
}

fn ecg_body(r: &EcgReport) -> String {
    let st = &r.settings;
    let mut s = format!(
        "Run `{}` ({} cell, latent {}), data `{}`. Analysis batch: {} random normal test beats (seed {}), encoder states [{}, 140, {}]; rank {}{}. All beats have 140 real steps (no padding), so e_rel has a single variant.\n\nReproduce: `{}`\n\n",
        st.run_dir,
        st.cell,
        st.hidden,
        st.data_dir,
        st.batch,
        st.seed,
        st.batch,
        st.hidden,
        st.rank,
        if st.rank_is_default {
            " (reference default min(#pairs, k) - 1)"
        } else {
            ""
        },
        st.command
    );
    s.push_str("## Spectrum\n\n| j | λ | modulus | τ(0.01) |\n| --- | --- | --- | --- |\n");
    for e in &r.top_eigenvalues {
        s.push_str(&format!(
            "| {} | {} | {:.5} | {} |\n",
            e.index,
            fmt_lambda(e.re, e.im),
            e.modulus,
            fmt_tau(e.tau, e.modulus)
        ));
    }
    s.push_str("\n## Dominant pairs (Fig. 2)\n\n| pair | λ | dominance | τ(0.01) | feature |\n| --- | --- | --- | --- | --- |\n");
    for p in &r.dominant_pairs {
        s.push_str(&format!(
            "| {{{}}} | {} | {:.4} | {} | {} |\n",
            set_name(&p.set.iter().map(|j| j - 1).collect::<Vec<_>>()),
            fmt_lambda(p.eigenvalue.0, p.eigenvalue.1),
            p.dominance,
            fmt_tau(p.tau, p.eigenvalue.0.hypot(p.eigenvalue.1)),
            p.feature
        ));
    }
    let a = &r.agreement;
    s.push_str(&format!(
        "\n## Agreement (Fig. 4 right)\n\n{}.\n\n{} beats: network normal {}, KANN normal {}, agreement {}; median loss network {:.2}, KANN {:.2}.\n\n",
        a.method, a.beats, a.network_normal, a.kann_normal, pct(a.agreement), a.network_median_loss, a.kann_median_loss
    ));
    let sil = &r.silhouette;
    s.push_str(&format!(
        "## Silhouette (Fig. 3 right)\n\n{} beats; the operator refitted on normal + anomalous states together; σ(140) = {:.4} on H B, {:.4} on its first 5 principal components, {:.4} on the Koopman eigenvectors {:?} (embedding [Re, Im] of H B V_S).\n\n",
        sil.beats, sil.sigma, sil.sigma_pca, sil.sigma_koopman, sil.koopman_set
    ));
    s.push_str(&format!(
        "## Relative error (Eq. 12)\n\n- fit batch ({} beats): {}\n- all normal test beats: {}\n\n",
        st.batch,
        fmt_erel(&r.e_rel_batch),
        fmt_erel(&r.e_rel_normal_test)
    ));
    let t = &r.threshold_accuracy;
    s.push_str(&format!(
        "## Accuracy\n\nFrom {}: train {}, validation {}, test {}. Measured here at threshold {}: normal {} ({} beats), anomalous {} ({} beats), overall {}, ROC AUC {:.4}.\n\n",
        r.accuracy.source,
        opt_pct(r.accuracy.train),
        opt_pct(r.accuracy.validation),
        opt_pct(r.accuracy.test),
        t.threshold,
        pct(t.normal),
        t.normal_beats,
        pct(t.anomalous),
        t.anomalous_beats,
        pct(t.overall),
        t.roc_auc
    ));
    s.push_str(&figures_markdown(&r.figures, &[]));
    if !r.warnings.is_empty() {
        s.push_str("## Warnings\n\n");
        for w in &r.warnings {
            s.push_str(&format!("- {w}\n"));
        }
    }
    s
}
