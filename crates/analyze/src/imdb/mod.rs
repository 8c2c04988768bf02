//! `analyze imdb`: the Koopman analysis of the IMDB sentiment GRU (paper Sec. 4.1, Fig. 1,
//! Fig. 4 left, App. A), with the baselines that could explain each result away.
//!
//! Stages, each a module with its own result type:
//! 1. [`data`]: the run, its test split and training reviews; hooked states.
//! 2. [`fit_modes`]: the operator fitted on the analysis batch's real steps and on all its padded
//!    steps (the authors' pipeline); both spectra reported, `--fit-steps` picks the one used.
//! 3. [`sentiment`]: the readout test; sets chosen on the analysis batch, reported on it and on a
//!    disjoint held-out batch with `G(0)`, the network's accuracy and random eigen-sets.
//! 4. [`test_pass`] + [`word_stats`] ([`words`]): one pass over the whole test split — agreement
//!    of KANN's one-step prediction with the network beside the trivial and rank-r baselines, and
//!    the per-word changes of every tracked group against a training-label word polarity.
//! 5. [`contextual`]: the "not bad"/"not good" batch and its best group, with two null tests.
//! 6. [`figures`] (shaded by `kann_plot::shade`) and [`report`].

pub mod contextual;
pub mod data;
pub mod figures;
pub mod fit_modes;
pub mod readout;
pub mod readout_intervals;
pub mod report;
pub mod sentiment;
pub mod test_pass;
pub mod word_stats;
pub mod words;

use std::path::Path;

use anyhow::{Result, bail};
use kann_koopman::States;
use kann_plot::ColorMap;

use crate::ImdbArgs;
use crate::common::{FigureFile, read_accuracies, sample_indices, step, training_curves_figure};
use crate::kann::{self, Fit, eigen_points, magnitudes, set_name};
use crate::report::{Settings, write_reports};
use data::{ImdbData, ImdbRun, Item};
use figures::ShadedReview;
use fit_modes::FitSteps;
pub use report::ImdbReport;
use report::SentimentReport;
use test_pass::TestSetPass;
use words::{PolarityLexicon, WordSpan, along, word_spans};

/// Random eigen-sets drawn for each readout-test baseline.
const RANDOM_SETS: usize = 200;

/// Runs `analyze imdb` and writes the figures, `report.md` and `report.json` into the run folder.
pub fn run_imdb(args: &ImdbArgs) -> Result<ImdbReport> {
    args.check()?;
    let imdb = ImdbRun::load(args.common.run.as_deref())?;
    println!("analyze imdb: run folder {}", imdb.dir.display());
    let data = ImdbData::load(&imdb, args.common.data_dir.as_deref())?;
    let mut warnings = Vec::new();
    let max_len = imdb.config.data.max_len;
    let (batch, held) = draw_batches(&data.kept, args.common.batch, args.common.seed, max_len)?;
    if held.len() < 2 {
        warnings.push(
            "no reviews left for a held-out batch: readout test on the analysis batch only".into(),
        );
    }
    // Stages 1-2: states and the fits.
    let fitted = BatchFit::run(&imdb, &batch, args, &mut warnings)?;
    let fit = &fitted.fits.used;
    let held_states = held_out_states(&imdb, &held, args)?;
    let held_out_e_rel = held_out_e_rel(&fitted, held_states.as_ref(), args)?;
    // Stage 3: the readout test.
    let sentiment = step("readout test on the analysis and held-out batches", || {
        sentiment_stage(&imdb, &fitted, &batch, (&held, held_states.as_ref()), args)
    })?;
    // Stage 4: the pass over the test split.
    let test = TestStage::run(&imdb, &data, fit, fitted.batch_grams.as_ref(), args)?;
    // Stage 5: the contextual batch.
    let (contextual, ctx_reviews) = step(
        "contextual batch (\"not bad\" / \"not good\") and null tests",
        || {
            contextual::run(
                &imdb,
                &data.all_test,
                max_len,
                args.context_cap,
                args.common.rank,
                args.stream_batch,
                args.common.seed,
                &mut warnings,
            )
        },
    )?;
    let stages = ImdbStages {
        fitted,
        held_out_e_rel,
        sentiment,
        test,
        contextual,
    };
    // Stage 6: figures and report.
    let figs = ImdbFigures::draw(&imdb, &batch, &stages, ctx_reviews, args, &mut warnings)?;
    let report = imdb_report(&imdb, &data, batch.len(), stages, figs, warnings, args)?;
    write_imdb_reports(&imdb.dir, report)
}

/// Stages 1-2: the analysis batch's hooked states (written as `.npy`), the operator fitted on
/// its real and on all its padded steps (Eqs. 4-5), and the bootstrap intervals of the
/// spectrum and of `e_rel` (Eq. 12).
struct BatchFit {
    /// The analysis batch's states, padded to `max_len`.
    states: States,
    /// Both fits; `used` is the one `--fit-steps` picks.
    fits: fit_modes::Fits,
    /// The `.npy` files written.
    states_files: Vec<String>,
    /// Bootstrap intervals of the spectrum (`--bootstrap`).
    intervals: Option<kann_koopman::SpectrumIntervals>,
    /// The batch's per-sequence Grams, which the e_rel and agreement replicates refit from
    /// (`--bootstrap`).
    batch_grams: Option<kann_koopman::SequenceGrams>,
    /// Bootstrap intervals of `e_rel` beside the trivial predictor (`--bootstrap`).
    e_rel_intervals: Option<crate::intervals::ErelIntervals>,
}

impl BatchFit {
    /// Runs stages 1-2 on `batch`; the fit's warnings go to `warnings`.
    fn run(
        imdb: &ImdbRun,
        batch: &[&Item],
        args: &ImdbArgs,
        warnings: &mut Vec<String>,
    ) -> Result<Self> {
        let (dir, max_len) = (&imdb.dir, imdb.config.data.max_len);
        let states = step(
            &format!(
                "hooking the states of {} test reviews padded to {max_len}",
                batch.len()
            ),
            || imdb.states(batch, max_len, args.stream_batch, "  batch"),
        )?;
        let fits = step(
            "fitting the Koopman operator on real and on all steps (Eqs. 4-5)",
            || fit_modes::fit_both(&states, args.fit_steps, args.common.rank),
        )?;
        let fit = &fits.used;
        warnings.extend(
            fit.model
                .warnings
                .iter()
                .map(|w| format!("analysis fit: {w}")),
        );
        let states_files = write_states(dir, &states, batch)?;
        let batch_grams = kann::batch_grams(
            &fitted_states(&states, args.fit_steps)?,
            fit,
            args.common.bootstrap,
        )?;
        let intervals = step(
            &format!(
                "bootstrap intervals of the spectrum ({} replicates over the batch's reviews)",
                args.common.bootstrap
            ),
            || {
                kann::spectrum_intervals(
                    batch_grams.as_ref(),
                    fit,
                    args.common.bootstrap,
                    args.common.seed,
                )
            },
        )?;
        let e_rel_intervals = match &batch_grams {
            Some(grams) => Some(step(
                &format!(
                    "bootstrap intervals of e_rel beside the trivial predictor ({} replicates)",
                    args.common.bootstrap
                ),
                || {
                    crate::intervals::e_rel_intervals(
                        grams,
                        fit.model.rank(),
                        &crate::intervals::ErrorPairs::of(&states),
                        true,
                        args.common.bootstrap,
                        args.common.seed,
                    )
                },
            )?),
            None => None,
        };
        Ok(Self {
            states,
            fits,
            states_files,
            intervals,
            batch_grams,
            e_rel_intervals,
        })
    }
}

/// Stage 4: one pass over the whole test split — the agreement of KANN's one-step prediction
/// (Eq. 6) with the network beside the trivial and rank-r baselines, and the per-word changes
/// of every tracked group against the training-label word polarity.
struct TestStage {
    /// The word polarity from the training labels.
    lexicon: PolarityLexicon,
    /// The per-word mean changes over the test split.
    means: words::WordMeans,
    /// The agreements (with their intervals, `--bootstrap`).
    agreement: test_pass::ImdbAgreement,
    /// The word statistics of the tracked groups.
    word_stats: word_stats::WordStatsReport,
}

impl TestStage {
    /// Runs stage 4 with the analysis fit; `batch_grams` (the batch's per-sequence Grams) give
    /// the agreements' bootstrap intervals.
    fn run(
        imdb: &ImdbRun,
        data: &ImdbData,
        fit: &Fit,
        batch_grams: Option<&kann_koopman::SequenceGrams>,
        args: &ImdbArgs,
    ) -> Result<Self> {
        let lexicon = step("word polarity from the training labels", || {
            Ok(polarity(imdb, &data.train, args.min_word_count))
        })?;
        let tracked = sentiment::candidate_sets(fit);
        let mut pass = TestSetPass::new(fit, &imdb.readout, &tracked, &lexicon);
        step(
            &format!("streaming the {} test reviews", data.kept.len()),
            || test_pass::stream(imdb, &data.kept, &mut pass, args.stream_batch),
        )?;
        let ends = pass.take_ends();
        let (mut agreement, means) = pass.finish(format!(
            "h_T^KANN = h_(T-1) B C B^T (Eq. 6) with C of the {} fit on the {}-review analysis batch; class = sign of the readout logit G(h); test split streamed {} reviews at a time",
            args.fit_steps, args.common.batch, args.stream_batch
        ));
        if let Some(grams) = batch_grams {
            agreement.intervals = Some(step(
                &format!(
                    "bootstrap intervals of the agreements ({} replicates over the batch and the test reviews)",
                    args.common.bootstrap
                ),
                || {
                    crate::intervals::agreement_intervals(
                        grams,
                        fit.model.rank(),
                        &ends.trivial_agrees,
                        args.common.bootstrap,
                        args.common.seed,
                        |model| Ok(ends.kann_agrees(model, &imdb.readout)),
                    )
                },
            )?);
        }
        drop(ends);
        agreement.test_reviews = data.test_reviews;
        agreement.dropped_too_long = data.too_long;
        agreement.dropped_too_short = data.too_short;
        let word_stats = word_stats::word_stats(
            &means,
            &lexicon,
            data.train.len(),
            args.min_word_test_count,
            fit,
            &tracked,
            &imdb.readout,
            args.common.seed,
            args.common.bootstrap,
        );
        Ok(Self {
            lexicon,
            means,
            agreement,
            word_stats,
        })
    }
}

/// The results of stages 1-5, which stage 6 draws and reports.
struct ImdbStages {
    /// Stages 1-2.
    fitted: BatchFit,
    /// e_rel on the held-out batch, out of sample (`--bootstrap`).
    held_out_e_rel: Option<crate::intervals::ErelIntervals>,
    /// Stage 3.
    sentiment: SentimentReport,
    /// Stage 4.
    test: TestStage,
    /// Stage 5.
    contextual: report::ContextualReport,
}

/// Stage 6, the figures: the spectrum, Fig. 1 (the shaded reviews and their page), the word
/// scatters, Fig. 4 left and the training curves; and the token views of `report.html`.
struct ImdbFigures {
    /// The figures written (PNG + SVG).
    figures: Vec<FigureFile>,
    /// The shaded reviews.
    highlights: Vec<report::Highlight>,
    /// The HTML page of the shaded reviews, if written.
    page: Option<String>,
    /// The per-token views of `report.html`.
    token_views: crate::report_html::imdb::TokenViews,
}

impl ImdbFigures {
    /// Draws stage 6; `ctx_reviews` are stage 5's shaded reviews, the Fig. 1 warnings go to
    /// `warnings`.
    fn draw(
        imdb: &ImdbRun,
        batch: &[&Item],
        stages: &ImdbStages,
        ctx_reviews: Vec<ShadedReview>,
        args: &ImdbArgs,
        warnings: &mut Vec<String>,
    ) -> Result<Self> {
        let dir = &imdb.dir;
        let (states, fit) = (&stages.fitted.states, &stages.fitted.fits.used);
        let (test, ws) = (&stages.test, &stages.test.word_stats);
        let mut figs = Vec::new();
        let title = format!(
            "Koopman spectrum of the {} states (IMDB, {} reviews, {} fit, rank {})",
            imdb.config.model.cell.to_string().to_uppercase(),
            batch.len(),
            args.fit_steps,
            fit.model.rank()
        );
        figs.push(figures::spectrum(
            dir,
            &title,
            &eigen_points(&fit.spectrum),
            stages.fitted.intervals.as_ref(),
        )?);
        let mut reviews = fig1_reviews(imdb, fit, states, batch, &stages.sentiment, ws, warnings);
        reviews.extend(ctx_reviews);
        let (f, highlights, page) = figures::shaded_reviews(dir, &reviews)?;
        figs.extend(f);
        for (stem, channel) in figures::scatter_channels(ws) {
            let values = channel_values(ws, channel, &test.means, fit, &imdb.readout.w);
            figs.extend(figures::word_scatter(
                dir,
                stem,
                channel,
                &values,
                &test.means,
                &test.lexicon,
                args.min_word_test_count,
            )?);
        }
        let token_views = token_views(imdb, fit, states, batch, ws, &highlights);
        figs.push(figures::agreement(dir, &test.agreement)?);
        figs.extend(training_curves_figure(dir, "IMDB training (metrics.csv)")?);
        Ok(Self {
            figures: figs,
            highlights,
            page,
            token_views,
        })
    }
}

/// The per-token views of `report.html` for the analysis batch, the Fig. 1 reviews (not the
/// contextual ones) marked with their role.
fn token_views(
    imdb: &ImdbRun,
    fit: &Fit,
    states: &States,
    batch: &[&Item],
    ws: &word_stats::WordStatsReport,
    highlights: &[report::Highlight],
) -> crate::report_html::imdb::TokenViews {
    let fig1: Vec<(String, String)> = highlights
        .iter()
        .filter(|h| h.role != "context")
        .map(|h| (h.review.clone(), h.role.clone()))
        .collect();
    let l = states.lengths().to_vec();
    let net = imdb
        .readout
        .logits(kann::states_at(states, |i| l[i] - 1).as_ref());
    crate::report_html::imdb::token_views(imdb, fit, states, batch, &net, &ws.groups, &fig1)
}

/// Stage 6, `report.json`: the stages' results in one [`ImdbReport`] (its `table` still empty).
fn imdb_report(
    imdb: &ImdbRun,
    data: &ImdbData,
    batch: usize,
    stages: ImdbStages,
    figs: ImdbFigures,
    warnings: Vec<String>,
    args: &ImdbArgs,
) -> Result<ImdbReport> {
    let dir = &imdb.dir;
    let ImdbStages {
        fitted,
        held_out_e_rel,
        sentiment,
        test,
        contextual,
    } = stages;
    Ok(ImdbReport {
        task: "imdb".into(),
        settings: Settings {
            run_dir: dir.display().to_string(),
            data_dir: data.data_dir.display().to_string(),
            command: args.command(dir),
            seed: args.common.seed,
            batch,
            rank: fitted.fits.used.model.rank(),
            rank_is_default: args.common.rank.is_none(),
            hidden: imdb.model.d_hidden(),
            cell: imdb.config.model.cell.to_string(),
        },
        max_len: imdb.config.data.max_len,
        accuracy: read_accuracies(dir, "train_accuracy_running")?,
        fit_steps: args.fit_steps,
        spectra: fitted.fits.summaries,
        spectrum_intervals: fitted.intervals,
        e_rel_intervals: fitted.e_rel_intervals,
        e_rel_held_out_intervals: held_out_e_rel,
        sentiment,
        word_stats: test.word_stats,
        contextual,
        agreement: test.agreement,
        highlights: figs.highlights,
        token_views: figs.token_views,
        states_files: fitted.states_files,
        figures: figs.figures,
        html: figs.page.into_iter().collect(),
        table: Vec::new(),
        warnings,
    })
}

/// Stage 6, the reports: fills in the table and writes `report.md`, `report.json` and
/// `report.html` into `dir`.
fn write_imdb_reports(dir: &Path, mut report: ImdbReport) -> Result<ImdbReport> {
    let train_cmd = crate::common::run_origin(dir, kann_models::config::Task::Imdb);
    report.table = report::table(&report, &train_cmd, &report.settings.command);
    let claims = crate::report_html::imdb::claims(&report);
    write_reports(
        dir,
        "KANN analysis of the IMDB model",
        &claims,
        &report.table,
        &report::body(&report),
        &report,
    )?;
    crate::report_html::imdb::write(dir, &report, claims)?;
    println!(
        "analyze imdb: {} figures, report.md, report.json and report.html in {}",
        report.figures.len(),
        dir.display()
    );
    Ok(report)
}

/// The analysis batch (`n` random reviews of the test split, seeded) and a disjoint held-out
/// batch of the same size (fewer if the split is small).
pub(crate) fn draw_batches(
    kept: &[Item],
    n: usize,
    seed: u64,
    max_len: usize,
) -> Result<(Vec<&Item>, Vec<&Item>)> {
    if n > kept.len() {
        bail!(
            "--batch {n} is larger than the test set: {} test reviews of 2..={max_len} pieces in the run's test split",
            kept.len()
        );
    }
    let idx = sample_indices(kept.len(), (2 * n).min(kept.len()), seed);
    let batch = idx[..n].iter().map(|&i| &kept[i]).collect();
    let held = idx[n..].iter().map(|&i| &kept[i]).collect();
    Ok((batch, held))
}

/// Writes the analysis batch's states (`[B, max_len, H]` f32), lengths and labels as `.npy`.
fn write_states(dir: &Path, states: &States, batch: &[&Item]) -> Result<Vec<String>> {
    use kann_models::npy::{write_f32, write_u8, write_u64};
    let data: Vec<f32> = states.data().iter().map(|&x| x as f32).collect();
    let shape = [states.num_sequences(), states.seq_len(), states.hidden()];
    write_f32(&dir.join("states.npy"), &shape, &data)?;
    let lengths: Vec<u64> = states.lengths().iter().map(|&l| l as u64).collect();
    write_u64(&dir.join("lengths.npy"), &[lengths.len()], &lengths)?;
    let labels: Vec<u8> = batch.iter().map(|it| it.review.label).collect();
    write_u8(&dir.join("labels.npy"), &[labels.len()], &labels)?;
    Ok(vec![
        "states.npy".into(),
        "lengths.npy".into(),
        "labels.npy".into(),
    ])
}

/// The held-out batch's states (`None` when fewer than 2 reviews are left for it).
fn held_out_states(imdb: &ImdbRun, held: &[&Item], args: &ImdbArgs) -> Result<Option<States>> {
    if held.len() < 2 {
        return Ok(None);
    }
    let width = held.iter().map(|it| it.ids.len()).max().unwrap_or(2);
    step(
        &format!("hooking the states of the {} held-out reviews", held.len()),
        || imdb.states(held, width, args.stream_batch, "  held-out"),
    )
    .map(Some)
}

/// e_rel (Eq. 12) of the used fit on the held-out batch's real steps, out of sample, beside the
/// trivial predictor: each replicate refits on reweighted batch reviews and scores on
/// independently reweighted held-out reviews (`--bootstrap`; `None` without it or without a
/// held-out batch).
fn held_out_e_rel(
    fitted: &BatchFit,
    held_states: Option<&States>,
    args: &ImdbArgs,
) -> Result<Option<crate::intervals::ErelIntervals>> {
    let (Some(grams), Some(held)) = (&fitted.batch_grams, held_states) else {
        return Ok(None);
    };
    step(
        &format!(
            "bootstrap intervals of e_rel on the held-out batch ({} replicates)",
            args.common.bootstrap
        ),
        || {
            crate::intervals::e_rel_intervals(
                grams,
                fitted.fits.used.model.rank(),
                &crate::intervals::ErrorPairs::of(held),
                false,
                args.common.bootstrap,
                args.common.seed,
            )
        },
    )
    .map(Some)
}

/// The readout test: sets chosen on the analysis batch, evaluated on it and on the held-out one
/// (its reviews and their states).
fn sentiment_stage(
    imdb: &ImdbRun,
    fitted: &BatchFit,
    batch: &[&Item],
    (held, held_states): (&[&Item], Option<&States>),
    args: &ImdbArgs,
) -> Result<SentimentReport> {
    let last = |s: &States| {
        let l = s.lengths().to_vec();
        kann::states_at(s, |i| l[i] - 1)
    };
    let labels = |items: &[&Item]| items.iter().map(|it| it.review.label).collect::<Vec<u8>>();
    let (fit, states) = (&fitted.fits.used, &fitted.states);
    let h_a = last(states);
    let net_a = imdb.readout.logits(h_a.as_ref());
    let choice = sentiment::choose(fit, h_a.as_ref(), &imdb.readout, &net_a)?;
    let eval = |name: &str, h: &kann_koopman::faer::Mat<f64>, l: &[u8]| {
        sentiment::evaluate(
            name,
            fit,
            &choice,
            h.as_ref(),
            l,
            &imdb.readout,
            RANDOM_SETS,
            args.common.seed,
        )
    };
    let analysis_batch = eval("analysis", &h_a, &labels(batch))?;
    let held_states = held_states.map(last);
    let held_out_batch = match &held_states {
        Some(h) => Some(eval("held-out", h, &labels(held))?),
        None => None,
    };
    let replicates = match &fitted.batch_grams {
        Some(grams) => {
            let net_h = held_states
                .as_ref()
                .map(|h| imdb.readout.logits(h.as_ref()));
            let a = readout_intervals::ScoredBatch {
                h_last: h_a.as_ref(),
                net: &net_a,
            };
            let h = held_states.as_ref().zip(net_h.as_deref()).map(|(h, net)| {
                readout_intervals::ScoredBatch {
                    h_last: h.as_ref(),
                    net,
                }
            });
            Some(step(
                &format!(
                    "bootstrap intervals of the readout test, the sets chosen again in each of {} replicates",
                    args.common.bootstrap
                ),
                || {
                    readout_intervals::readout_intervals(
                        grams,
                        fit,
                        &choice,
                        &imdb.readout,
                        (&a, h.as_ref()),
                        args.common.bootstrap,
                        args.common.seed,
                    )
                },
            )?)
        }
        None => None,
    };
    let (intervals, tracking_directions) = match replicates {
        Some(r) => (Some(r.intervals), r.tracking_directions),
        None => (None, Vec::new()),
    };
    Ok(SentimentReport {
        choice,
        analysis_batch,
        held_out_batch,
        intervals,
        tracking_directions,
    })
}

/// Word polarity from the run's training reviews.
fn polarity(
    imdb: &ImdbRun,
    train: &[kann_data::imdb::Review],
    min_count: usize,
) -> PolarityLexicon {
    let texts: Vec<&str> = train.iter().map(|r| r.text.as_str()).collect();
    let ids = imdb.tokenizer.encode_ids_batch(&texts);
    let spans: Vec<Vec<WordSpan>> = ids
        .iter()
        .map(|ids| word_spans(&imdb.pieces(ids)))
        .collect();
    PolarityLexicon::from_labelled(
        spans
            .iter()
            .zip(train)
            .map(|(s, r)| (s.as_slice(), r.label == 1)),
        min_count,
    )
}

/// `m_S(h_t)` over the real steps of sequence `i`.
fn levels(states: &States, i: usize, fit: &Fit, set: &[usize]) -> Vec<f64> {
    let mags = magnitudes(states.sequence(i), fit);
    (0..mags.nrows())
        .map(|t| set.iter().map(|&j| mags[(t, j)]).sum())
        .collect()
}

/// Fig. 1 blue and red: a correctly classified positive and negative review of the analysis
/// batch (the shortest of at least 40 pieces), each with the sentiment sets and the groups that
/// best track word polarity.
fn fig1_reviews(
    imdb: &ImdbRun,
    fit: &Fit,
    states: &States,
    batch: &[&Item],
    sentiment: &SentimentReport,
    ws: &word_stats::WordStatsReport,
    warnings: &mut Vec<String>,
) -> Vec<ShadedReview> {
    let lengths = states.lengths().to_vec();
    let h_last = kann::states_at(states, |i| lengths[i] - 1);
    let net = imdb.readout.logits(h_last.as_ref());
    let pos_set = sentiment.choice.positive_set();
    let neg_set = sentiment.choice.negative_set();
    let extra = fig1_extra_sets(sentiment, ws, &pos_set, &neg_set);
    let fig1 = Fig1 {
        imdb,
        fit,
        states,
        batch,
        sentiment,
        net: &net,
    };
    let mut out = Vec::new();
    for (role, label, first, second) in [
        (
            "positive",
            1u8,
            (&pos_set, ColorMap::Blues),
            (&neg_set, ColorMap::Reds),
        ),
        (
            "negative",
            0u8,
            (&neg_set, ColorMap::Reds),
            (&pos_set, ColorMap::Blues),
        ),
    ] {
        let mut cands: Vec<usize> = (0..batch.len())
            .filter(|&i| batch[i].review.label == label && (net[i] > 0.0) == (label == 1))
            .collect();
        cands.sort_by_key(|&i| (batch[i].ids.len() < 40, batch[i].ids.len(), i));
        let Some(&i) = cands.first() else {
            warnings.push(format!(
                "no correctly classified {role} review in the analysis batch to shade"
            ));
            continue;
        };
        let sets = [first, second]
            .into_iter()
            .chain(extra.iter().map(|s| (s, ColorMap::Greens)));
        out.push(fig1.shade(role, i, sets));
    }
    out
}

/// The green sets of Fig. 1 beside the sentiment sets: the tracking set and the groups whose
/// magnitude and readout contribution best track word polarity, each once and none equal to
/// `pos_set` or `neg_set`.
fn fig1_extra_sets(
    sentiment: &SentimentReport,
    ws: &word_stats::WordStatsReport,
    pos_set: &[usize],
    neg_set: &[usize],
) -> Vec<Vec<usize>> {
    let mut extra: Vec<Vec<usize>> = vec![sentiment.choice.tracking_set()];
    for i in [ws.best_group_magnitude, ws.best_group_readout]
        .into_iter()
        .flatten()
    {
        extra.push(ws.groups[i].indices());
    }
    let mut seen = vec![pos_set.to_vec(), neg_set.to_vec()];
    extra.retain(|s| {
        let new = !seen.contains(s);
        seen.push(s.clone());
        new
    });
    extra
}

/// What a review of Fig. 1 is shaded from: the analysis batch, its states and the network's
/// logits `net` of it, the fit and the readout test.
struct Fig1<'a> {
    /// The run.
    imdb: &'a ImdbRun,
    /// The analysis fit.
    fit: &'a Fit,
    /// The batch's states.
    states: &'a States,
    /// The analysis batch.
    batch: &'a [&'a Item],
    /// The readout test (its tracking set).
    sentiment: &'a SentimentReport,
    /// The network's logit of each review of the batch.
    net: &'a [f64],
}

impl Fig1<'_> {
    /// The stability marks of a review's tracking view: pieces whose change of the tracking
    /// contribution has the full fit's sign in at least [`figures::STABLE_SHARE`] of the
    /// bootstrap refits (each with its own tracking set, chosen again); `None` without them.
    /// Also returns the shares behind the marks.
    fn stability(
        &self,
        rows: kann_koopman::faer::MatRef<'_, f64>,
        contribution: &[f64],
    ) -> Option<(Vec<bool>, String, Vec<f64>)> {
        let dirs = &self.sentiment.tracking_directions;
        if dirs.is_empty() {
            return None;
        }
        let change = kann_plot::shade(
            contribution,
            kann_plot::ShadeMode::Change,
            ColorMap::RedBlue,
        );
        let share = readout_intervals::stable_signs(rows, &change.scores, dirs);
        let label = format!(
            "underlined: sign agrees in >= {:.0}% of {} bootstrap refits (set chosen again)",
            100.0 * figures::STABLE_SHARE,
            dirs.len()
        );
        Some((
            share.iter().map(|&s| s >= figures::STABLE_SHARE).collect(),
            label,
            share,
        ))
    }

    /// Review `i` of the batch as `role`, shaded by `m_S(h_t)` (Eq. 10) of each non-empty set
    /// of `sets` in its colour map, with the tracking set's readout contribution `h_t · d`.
    fn shade<'s>(
        &self,
        role: &str,
        i: usize,
        sets: impl Iterator<Item = (&'s Vec<usize>, ColorMap)>,
    ) -> ShadedReview {
        let (fit, states) = (self.fit, self.states);
        let mut shaded = Vec::new();
        for (s, m) in sets {
            if !s.is_empty() {
                shaded.push((
                    set_name(s),
                    s.iter().map(|j| j + 1).collect(),
                    levels(states, i, fit, s),
                    m,
                ));
            }
        }
        let it = self.batch[i];
        let tracking = self.sentiment.choice.tracking_set();
        let d = word_stats::readout_contribution_direction(fit, &tracking, &self.imdb.readout.w);
        let seq = states.sequence(i);
        let contribution: Vec<f64> = (0..seq.nrows())
            .map(|t| (0..d.len()).map(|j| seq[(t, j)] * d[j]).sum())
            .collect();
        let stability = self.stability(seq.as_ref(), &contribution);
        ShadedReview {
            tracking_marks: stability.as_ref().map(|(m, l, _)| (m.clone(), l.clone())),
            tracking_stability: stability.map(|s| s.2),
            tracking: Some((set_name(&tracking), contribution)),
            role: role.into(),
            stem: role.into(),
            review: format!("{}_{}", it.review.id, it.review.rating),
            label: it.review.label,
            logit: self.net[i],
            tokens: self.imdb.pieces(&it.ids),
            sets: shaded,
        }
    }
}

/// The per-word values of a channel of the word statistics (for its scatter).
fn channel_values(
    ws: &word_stats::WordStatsReport,
    channel: &words::ChannelStats,
    means: &words::WordMeans,
    fit: &Fit,
    w: &[f64],
) -> Vec<f64> {
    if std::ptr::eq(channel, &ws.readout_direction) {
        return along(means.delta_mean.as_ref(), w);
    }
    for (g, grp) in ws.groups.iter().enumerate() {
        if std::ptr::eq(channel, &grp.magnitude) {
            return (0..means.count.len())
                .map(|i| means.group_mean[(i, g)])
                .collect();
        }
        if std::ptr::eq(channel, &grp.readout_contribution) {
            let d = word_stats::readout_contribution_direction(fit, &grp.indices(), w);
            return along(means.delta_mean.as_ref(), &d);
        }
    }
    vec![0.0; means.count.len()]
}

/// The analysis batch's states as the operator was fitted on them: real steps only, or every
/// padded step (`--fit-steps all`, the authors' pipeline).
fn fitted_states(states: &States, steps: FitSteps) -> Result<States> {
    Ok(match steps {
        FitSteps::Real => states.clone(),
        FitSteps::All => states
            .clone()
            .with_lengths(vec![states.seq_len(); states.num_sequences()])?,
    })
}
