//! `analyze imdb`: the Koopman analysis of the IMDB sentiment GRU (paper Sec. 4.1, Fig. 1,
//! Fig. 4 left).
//!
//! 1. A seeded random batch of test reviews (64) padded to the run's `max_len`; the operator is
//!    fitted on the real (unpadded) steps only.
//! 2. Spectrum, `|λ| > 0.99` count and memory horizons `τ(0.01)` (Eq. 9).
//! 3. The sentiment eigenvectors by the readout test ([`crate::sentiment_vectors`]).
//! 4. Fig. 1: reviews shaded by `Σ_j s(j, h_t)` (Eq. 10) over the positive set (blues), the
//!    negative set (reds) and the contextual eigenvector ([`crate::contextual`], greens), as
//!    PNG/SVG and one HTML page.
//! 5. Fig. 4 (left): over the run's whole test split, streamed in batches, the class of
//!    `G(h_T)` against that of `G(h_T^KANN)` with `h_T^KANN = h_{T−1} B C Bᵀ` (Eq. 6), `C`
//!    fitted on the analysis batch.
//! 6. `e_rel` (Eq. 12) on the analysis batch over real steps and over all (padded) steps.

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use kann_data::imdb::{ImdbDataset, Review};
use kann_data::tokenizer::{PAD_ID, Tokenizer};
use kann_koopman::States;
use kann_models::SentimentModel;
use kann_models::config::{RunConfig, Task};
use kann_models::npy::tensor_to_vec;
use kann_models::run::load_sentiment_run;
use kann_plot::{AgreementBarsFigure, ColorMap, ConfusionCounts, HighlightedText, SpectrumFigure};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::AnalyzeArgs;
use crate::common::*;
use crate::contextual::{self, ContextualChoice, phrase_positions};
use crate::kann::{self, DOMINANT_MODULUS, Fit, eigen_points, eigen_summaries, set_name};
use crate::report::*;
use crate::sentiment_vectors::{self, SentimentVectors};

/// A tokenized review.
struct Item<'a> {
    review: &'a Review,
    ids: Vec<u32>,
}

/// The run's test split: the official test reviews, limited like `train` did
/// (`test_limit`: seeded ChaCha8 shuffle with `split_seed + 2`, then truncate).
fn run_test_split(mut test: Vec<Review>, limit: Option<usize>, split_seed: u64) -> Vec<Review> {
    if let Some(n) = limit.filter(|&n| n < test.len()) {
        test.shuffle(&mut ChaCha8Rng::seed_from_u64(split_seed.wrapping_add(2)));
        test.truncate(n);
    }
    test
}

/// Token ids `[B, width]` padded with [`PAD_ID`].
fn tokens_tensor(items: &[&Item], width: usize, device: &Device) -> Tensor<2, Int> {
    let mut ids = Vec::with_capacity(items.len() * width);
    for it in items {
        ids.extend(it.ids.iter().map(|&i| i as i64));
        ids.extend(std::iter::repeat_n(PAD_ID as i64, width - it.ids.len()));
    }
    Tensor::from_data(TensorData::new(ids, [items.len(), width]), device)
}

/// Runs `items` through the GRU in chunks, all padded to `width`: the states `[s, width, k]`
/// with the reviews' lengths.
fn forward_states(
    model: &SentimentModel,
    items: &[&Item],
    width: usize,
    chunk: usize,
    device: &Device,
    label: &str,
) -> Result<States> {
    let k = model.d_hidden();
    let mut data = Vec::with_capacity(items.len() * width * k);
    let bar = progress_bar(items.len().div_ceil(chunk) as u64, label);
    for part in items.chunks(chunk) {
        let lengths: Vec<usize> = part.iter().map(|it| it.ids.len()).collect();
        let hooked = model.forward_states(tokens_tensor(part, width, device), &lengths, false)?;
        data.extend(tensor_to_vec(&hooked.hidden)?.into_iter().map(f64::from));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let lengths = items.iter().map(|it| it.ids.len()).collect();
    Ok(States::new_with_lengths(
        data,
        items.len(),
        width,
        k,
        lengths,
    )?)
}

/// Logits `G(h)` of `m` states given row-major.
fn readout_logits(
    model: &SentimentModel,
    rows: &[f64],
    m: usize,
    device: &Device,
) -> Result<Vec<f32>> {
    let k = model.d_hidden();
    let logits = model.readout(rows_tensor(rows, m, k, device));
    Ok(tensor_to_vec(&logits)?)
}

fn pieces(tokenizer: &Tokenizer, ids: &[u32]) -> Vec<String> {
    ids.iter()
        .map(|&i| tokenizer.id_to_piece(i).unwrap_or("<unk>").to_string())
        .collect()
}

/// Summed projection magnitudes `Σ_{j∈S} s(j, h_t)` (Eq. 10) over the valid steps of sequence `i`.
fn shade(states: &States, i: usize, fit: &Fit, set: &[usize]) -> Vec<f64> {
    let mags = kann::magnitudes(states.sequence(i), fit);
    (0..mags.nrows())
        .map(|t| set.iter().map(|&j| mags[(t, j)]).sum())
        .collect()
}

/// Picks a review to display: the shortest of at least 40 pieces among `cands` (else the shortest).
fn pick_short(cands: impl Iterator<Item = usize>, len: impl Fn(usize) -> usize) -> Option<usize> {
    let mut v: Vec<usize> = cands.collect();
    v.sort_by_key(|&i| (len(i), i));
    v.iter()
        .copied()
        .find(|&i| len(i) >= 40)
        .or(v.first().copied())
}

struct Shaded {
    title: String,
    stem: String,
    tokens: Vec<String>,
    scores: Vec<f64>,
    colormap: ColorMap,
    info: Highlight,
}

/// Runs `analyze imdb` and writes the figures, `report.md` and `report.json` into the run folder.
pub fn run_imdb(args: &AnalyzeArgs) -> Result<ImdbReport> {
    args.check()?;
    let run = resolve_run_dir(args.run.as_deref(), Task::Imdb)?;
    println!("analyze imdb: run folder {}", run.display());
    let device = device();
    let (model, config, vocab_path) = load_sentiment_run(&run, &device)
        .with_context(|| format!("loading the IMDB run {}", run.display()))?;
    let RunConfig::Imdb(cfg) = &config else {
        bail!("{} is not an IMDB run", run.display());
    };
    let k = model.d_hidden();
    let tokenizer = Tokenizer::from_vocab_file(&vocab_path)
        .with_context(|| format!("loading the run's vocabulary {}", vocab_path.display()))?;
    let n_embed = model.embedding.weight.val().dims()[0];
    if n_embed != tokenizer.vocab_size() {
        bail!(
            "incompatible run {}: the model embeds {n_embed} pieces but {} has {}",
            run.display(),
            vocab_path.display(),
            tokenizer.vocab_size()
        );
    }
    let data_dir = resolve_data_dir(args.data_dir.as_deref(), cfg.data.data_dir.as_deref());
    let max_len = cfg.data.max_len;
    let mut warnings = Vec::new();

    let splits = step(&format!("loading IMDB from {}", data_dir.display()), || {
        Ok(ImdbDataset::load(&data_dir)?
            .split_validation(cfg.data.val_fraction, cfg.data.split_seed)?)
    })?;
    let all_test = splits.test;
    let test = run_test_split(all_test.clone(), cfg.data.test_limit, cfg.data.split_seed);
    let texts: Vec<&str> = test.iter().map(|r| r.text.as_str()).collect();
    let ids = step(&format!("tokenizing {} test reviews", texts.len()), || {
        Ok(tokenizer.encode_ids_batch(&texts))
    })?;
    let mut too_long = 0;
    let mut too_short = 0;
    let mut kept: Vec<Item> = Vec::new();
    for (review, ids) in test.iter().zip(ids) {
        if ids.len() > max_len {
            too_long += 1;
        } else if ids.len() < 2 {
            too_short += 1;
        } else {
            kept.push(Item { review, ids });
        }
    }
    if args.batch > kept.len() {
        bail!(
            "--batch {} is larger than the test set: {} test reviews of 2..={max_len} pieces in the run's test split",
            args.batch,
            kept.len()
        );
    }

    // 1. The analysis batch, padded to max_len.
    let chosen = sample_indices(kept.len(), args.batch, args.seed);
    let batch: Vec<&Item> = chosen.iter().map(|&i| &kept[i]).collect();
    let states = step(
        &format!(
            "hooking the GRU states of {} test reviews padded to {max_len}",
            batch.len()
        ),
        || {
            forward_states(
                &model,
                &batch,
                max_len,
                args.stream_batch,
                &device,
                "  batch",
            )
        },
    )?;
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
    let e_rel_real = kann::e_rel(&states, &fit)?;
    let padded = states
        .clone()
        .with_lengths(vec![max_len; states.num_sequences()])?;
    let e_rel_all = kann::e_rel(&padded, &fit)?;
    drop(padded);

    // 2. Spectrum.
    let eig = eigen_summaries(&fit.spectrum)?;
    let count_above = eig.iter().filter(|e| e.modulus > DOMINANT_MODULUS).count();
    let min_tau = eig
        .iter()
        .filter(|e| e.modulus > DOMINANT_MODULUS)
        .filter_map(|e| e.tau)
        .min_by(f64::total_cmp);
    let mut figures = Vec::new();
    let points = eigen_points(&fit.spectrum);
    let title = format!(
        "Koopman spectrum of the {} states (IMDB, {} reviews, rank {rank})",
        cfg.model.cell.to_string().to_uppercase(),
        batch.len()
    );
    let p = kann_plot::spectrum(&run, "spectrum", &SpectrumFigure::new(&title, &points))?;
    figures.push(figure_file(
        &run,
        &p,
        "Sec. 4.1: eigenvalues of C with the unit circle, |lambda| > 0.99 labelled, and tau(0.01) (Eq. 9)",
    )?);

    // 3. Sentiment eigenvectors by the readout test on the last states.
    let lengths = states.lengths().to_vec();
    let h_last = kann::states_at(&states, |i| lengths[i] - 1);
    let readout = |rows: &[f64], m: usize| readout_logits(&model, rows, m, &device);
    let sentiment = step("readout test of the dominant eigenvectors", || {
        sentiment_vectors::find(&fit, h_last.as_ref(), &readout)
    })?;
    let pos_set = sentiment.positive_set();
    let neg_set = sentiment.negative_set();
    let net_logits = readout(&kann::to_rows(h_last.as_ref()), batch.len())?;

    // 4a. Fig. 1 blue and red.
    let mut shaded: Vec<Shaded> = Vec::new();
    for (role, label, set, cmap) in [
        ("positive", 1u8, &pos_set, ColorMap::Blues),
        ("negative", 0u8, &neg_set, ColorMap::Reds),
    ] {
        let correct = |i: usize| (net_logits[i] > 0.0) == (label == 1);
        let pick = pick_short(
            (0..batch.len()).filter(|&i| batch[i].review.label == label && correct(i)),
            |i| batch[i].ids.len(),
        )
        .or_else(|| {
            pick_short(
                (0..batch.len()).filter(|&i| batch[i].review.label == label),
                |i| batch[i].ids.len(),
            )
        });
        let Some(i) = pick else {
            warnings.push(format!("no {role} review in the analysis batch to shade"));
            continue;
        };
        let it = batch[i];
        shaded.push(Shaded {
            title: format!("A {role} review projected onto {{{}}}", set_name(set)),
            stem: format!("word_highlight_{role}"),
            tokens: pieces(&tokenizer, &it.ids),
            scores: shade(&states, i, &fit, set),
            colormap: cmap,
            info: Highlight {
                figure: format!("word_highlight_{role}"),
                set: set.iter().map(|j| j + 1).collect(),
                role: role.to_string(),
                label: it.review.label,
                review: format!("{}_{}", it.review.id, it.review.rating),
                pieces: it.ids.len(),
                logit: net_logits[i] as f64,
            },
        });
    }

    // 4b. The contextual batch: all test reviews with "not bad" / "not good".
    let contextual = step("contextual batch (\"not bad\" / \"not good\")", || {
        contextual_analysis(
            args,
            &model,
            &tokenizer,
            &all_test,
            max_len,
            &device,
            &mut shaded,
        )
    })?;
    warnings.extend(contextual.1);
    let contextual = contextual.0;

    // 4c. Write Fig. 1.
    let mut highlights = Vec::new();
    let mut texts_html = Vec::new();
    for s in &shaded {
        let text = HighlightedText {
            colormap: s.colormap,
            ..HighlightedText::new(&s.title, &s.tokens, &s.scores)
        };
        let p = kann_plot::word_highlight(&run, &s.stem, &text)?;
        figures.push(figure_file(
            &run,
            &p,
            &format!(
                "Fig. 1: {} shaded by the projection magnitude (Eq. 10)",
                s.title.to_lowercase()
            ),
        )?);
        highlights.push(s.info.clone());
        texts_html.push(text);
    }
    let mut html = Vec::new();
    if !texts_html.is_empty() {
        let page = kann_plot::word_highlight_html(
            &run,
            "word_highlights",
            "Fig. 1: IMDB test reviews shaded by Koopman projection magnitudes (Eq. 10)",
            &texts_html,
        )?;
        html.push(
            page.strip_prefix(&run)
                .unwrap_or(&page)
                .to_string_lossy()
                .into_owned(),
        );
    }

    // 5. Fig. 4 (left): agreement over the whole test split.
    let agreement = agreement(
        args,
        &model,
        &fit,
        &kept,
        &device,
        test.len(),
        too_long,
        too_short,
    )?;
    let sources = [
        ConfusionCounts {
            name: "network G(h_T)",
            tp: agreement.network.tp,
            tn: agreement.network.tn,
            fp: agreement.network.fp,
            fn_: agreement.network.fn_,
        },
        ConfusionCounts {
            name: "KANN G(h_T^KANN)",
            tp: agreement.kann.tp,
            tn: agreement.kann.tn,
            fp: agreement.kann.fp,
            fn_: agreement.kann.fn_,
        },
    ];
    let bars_title = format!(
        "IMDB test set ({} reviews): network vs KANN",
        agreement.reviews_used
    );
    let p = kann_plot::agreement_bars(
        &run,
        "agreement",
        &AgreementBarsFigure {
            title: &bars_title,
            sources: &sources,
            agreement: Some(agreement.agreement),
        },
    )?;
    figures.push(figure_file(
        &run,
        &p,
        "Fig. 4 (left): TP/TN/FP/FN of the network and of KANN at each review's last step",
    )?);
    if let Some(f) = training_curves_figure(&run, "IMDB training (metrics.csv)")? {
        figures.push(f);
    }

    // 6. Report.
    let accuracy = read_accuracies(&run, "train_accuracy_running")?;
    let command = args.command("imdb", &run);
    let settings = Settings {
        run_dir: run.display().to_string(),
        data_dir: data_dir.display().to_string(),
        command: command.clone(),
        seed: args.seed,
        batch: batch.len(),
        rank,
        rank_is_default: args.rank.is_none(),
        hidden: k,
        cell: cfg.model.cell.to_string(),
    };
    let table = imdb_table(
        &run,
        &command,
        &accuracy,
        &eig,
        count_above,
        min_tau,
        &sentiment,
        &contextual,
        &agreement,
        &e_rel_real,
        &e_rel_all,
        &figures,
    );
    let report = ImdbReport {
        task: "imdb".into(),
        settings,
        max_len,
        accuracy,
        num_eigenvalues: eig.len(),
        count_above_099: count_above,
        top_eigenvalues: eig.iter().take(10).cloned().collect(),
        min_tau_above_099: min_tau,
        e_rel_real_steps: e_rel_real,
        e_rel_all_steps: e_rel_all,
        sentiment,
        contextual,
        agreement,
        highlights,
        figures,
        html,
        table,
        warnings,
    };
    let body = imdb_body(&report);
    write_reports(
        &run,
        "KANN analysis of the IMDB model",
        &report.table,
        &body,
        &report,
    )?;
    println!(
        "analyze imdb: {} figures, report.md and report.json in {}",
        report.figures.len(),
        run.display()
    );
    Ok(report)
}

/// The contextual batch, its fit, the chosen eigenvector and two shaded reviews. Returns the
/// report part and warnings.
fn contextual_analysis(
    args: &AnalyzeArgs,
    model: &SentimentModel,
    tokenizer: &Tokenizer,
    all_test: &[Review],
    max_len: usize,
    device: &Device,
    shaded: &mut Vec<Shaded>,
) -> Result<(ContextualReport, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut items: Vec<(Item, Vec<(usize, &'static str)>)> = Vec::new();
    for r in all_test {
        let lower = r.text.to_lowercase();
        if !contextual::PHRASES.iter().any(|p| lower.contains(p)) {
            continue;
        }
        let ids = tokenizer.encode_ids(&r.text);
        if ids.len() < 2 || ids.len() > max_len {
            continue;
        }
        let pos = phrase_positions(&pieces(tokenizer, &ids));
        if !pos.is_empty() {
            items.push((Item { review: r, ids }, pos));
        }
    }
    let matching = items.len();
    if matching < 2 {
        warnings.push(format!(
            "only {matching} test review(s) of at most {max_len} pieces contain \"not bad\"/\"not good\": no contextual analysis"
        ));
        let report = ContextualReport {
            matching_reviews: matching,
            batch: 0,
            cap: args.context_cap,
            rank: 0,
            count_above_099: 0,
            sentiment: None,
            choice: None,
        };
        return Ok((report, warnings));
    }
    items.shuffle(&mut ChaCha8Rng::seed_from_u64(args.seed.wrapping_add(17)));
    items.truncate(args.context_cap);
    let refs: Vec<&Item> = items.iter().map(|(it, _)| it).collect();
    let positions: Vec<Vec<(usize, &'static str)>> = items.iter().map(|(_, p)| p.clone()).collect();
    let width = refs.iter().map(|it| it.ids.len()).max().unwrap_or(2);
    let states = forward_states(
        model,
        &refs,
        width,
        args.stream_batch,
        device,
        "  contextual",
    )?;
    let fit = kann::fit(&states, args.rank).context("fitting the contextual batch")?;
    warnings.extend(
        fit.model
            .warnings
            .iter()
            .map(|w| format!("contextual fit: {w}")),
    );
    let lengths = states.lengths().to_vec();
    let h_last = kann::states_at(&states, |i| lengths[i] - 1);
    let readout = |rows: &[f64], m: usize| readout_logits(model, rows, m, device);
    let sentiment = sentiment_vectors::find(&fit, h_last.as_ref(), &readout)?;
    let mut exclude = sentiment.positive_set();
    exclude.extend(sentiment.negative_set());
    let choice: Option<ContextualChoice> = contextual::choose(&fit, &states, &positions, &exclude)?;
    let count_above = fit
        .spectrum
        .eigenvalues
        .iter()
        .filter(|l| l.norm() > DOMINANT_MODULUS)
        .count();
    if let Some(c) = &choice {
        let set: Vec<usize> = c.chosen.iter().map(|j| j - 1).collect();
        let len = |i: usize| refs[i].ids.len();
        let mut picked: Vec<usize> = Vec::new();
        for phrase in contextual::PHRASES {
            if let Some(i) = pick_short(
                (0..refs.len()).filter(|&i| {
                    !picked.contains(&i) && positions[i].iter().any(|(_, p)| *p == phrase)
                }),
                len,
            ) {
                picked.push(i);
            }
        }
        if picked.len() < 2
            && let Some(i) = pick_short((0..refs.len()).filter(|i| !picked.contains(i)), len)
        {
            picked.push(i);
        }
        let logits = readout(&kann::to_rows(h_last.as_ref()), refs.len())?;
        for (n, &i) in picked.iter().enumerate() {
            let it = refs[i];
            let stem = format!("word_highlight_context_{}", n + 1);
            shaded.push(Shaded {
                title: format!(
                    "A review with contextual information projected onto {{{}}}",
                    c.chosen_name
                ),
                stem: stem.clone(),
                tokens: pieces(tokenizer, &it.ids),
                scores: shade(&states, i, &fit, &set),
                colormap: ColorMap::Greens,
                info: Highlight {
                    figure: stem,
                    set: c.chosen.clone(),
                    role: "context".into(),
                    label: it.review.label,
                    review: format!("{}_{}", it.review.id, it.review.rating),
                    pieces: it.ids.len(),
                    logit: logits[i] as f64,
                },
            });
        }
    } else {
        warnings
            .push("no phrase occurrence in the contextual batch: no contextual eigenvector".into());
    }
    Ok((
        ContextualReport {
            matching_reviews: matching,
            batch: refs.len(),
            cap: args.context_cap,
            rank: fit.model.rank(),
            count_above_099: count_above,
            sentiment: Some(sentiment),
            choice,
        },
        warnings,
    ))
}

/// Fig. 4 (left): streams the kept test reviews (sorted by length, `stream_batch` at a time),
/// reads `G(h_T)` and `G(h_{T−1} B C Bᵀ)` (Eq. 6) and counts TP/TN/FP/FN of both.
#[allow(clippy::too_many_arguments)]
fn agreement(
    args: &AnalyzeArgs,
    model: &SentimentModel,
    fit: &Fit,
    kept: &[Item],
    device: &Device,
    test_reviews: usize,
    too_long: usize,
    too_short: usize,
) -> Result<ImdbAgreement> {
    let k = model.d_hidden();
    let map = fit.model.prediction_map();
    let mut order: Vec<usize> = (0..kept.len()).collect();
    order.sort_by_key(|&i| (kept[i].ids.len(), i));
    let chunks: Vec<&[usize]> = order.chunks(args.stream_batch).collect();
    let bar = progress_bar(chunks.len() as u64, "agreement over the test split");
    let (mut network, mut kann) = (Confusion::default(), Confusion::default());
    let mut same = 0usize;
    let start = std::time::Instant::now();
    for idx in chunks {
        let part: Vec<&Item> = idx.iter().map(|&i| &kept[i]).collect();
        let width = part.iter().map(|it| it.ids.len()).max().unwrap_or(2);
        let lengths: Vec<usize> = part.iter().map(|it| it.ids.len()).collect();
        let hooked = model.forward_states(tokens_tensor(&part, width, device), &lengths, false)?;
        let hidden = tensor_to_vec(&hooked.hidden)?;
        let b = part.len();
        let mut rows = vec![0.0f64; 2 * b * k];
        for (r, &len) in lengths.iter().enumerate() {
            let at = |t: usize| &hidden[(r * width + t) * k..(r * width + t + 1) * k];
            let (last, prev) = (at(len - 1), at(len - 2));
            for j in 0..k {
                rows[r * k + j] = last[j] as f64;
            }
            for j in 0..k {
                let mut acc = 0.0;
                for (i, &p) in prev.iter().enumerate() {
                    acc += p as f64 * map[(i, j)];
                }
                rows[(b + r) * k + j] = acc;
            }
        }
        let logits = readout_logits(model, &rows, 2 * b, device)?;
        for (r, it) in part.iter().enumerate() {
            let label = it.review.label == 1;
            let (zn, zk) = (logits[r] > 0.0, logits[b + r] > 0.0);
            network.add(zn, label);
            kann.add(zk, label);
            same += usize::from(zn == zk);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "agreement over {} test reviews: done in {:.1}s",
        kept.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(ImdbAgreement {
        method: format!(
            "h_T^KANN = h_(T-1) B C B^T (Eq. 6) with C fitted on the {}-review analysis batch; \
             class = sign of the readout logit G(h); test split streamed {} reviews at a time",
            args.batch, args.stream_batch
        ),
        test_reviews,
        reviews_used: kept.len(),
        dropped_too_long: too_long,
        dropped_too_short: too_short,
        network,
        kann,
        agreement: same as f64 / kept.len().max(1) as f64,
    })
}

#[allow(clippy::too_many_arguments)]
fn imdb_table(
    run: &std::path::Path,
    command: &str,
    acc: &Accuracies,
    eig: &[kann::EigenSummary],
    count_above: usize,
    min_tau: Option<f64>,
    sentiment: &SentimentVectors,
    contextual: &ContextualReport,
    agreement: &ImdbAgreement,
    e_real: &kann::ErelSummary,
    e_all: &kann::ErelSummary,
    figures: &[FigureFile],
) -> Vec<PaperRow> {
    let train_cmd = format!("`train imdb` → {} (config.toml there)", run.display());
    let cmd = format!("`{command}`");
    let top: Vec<String> = eig
        .iter()
        .take(count_above.clamp(4, 6))
        .map(|e| fmt_lambda(e.re, e.im))
        .collect();
    let taus: Vec<String> = eig
        .iter()
        .take(count_above.clamp(4, 6))
        .map(|e| fmt_tau(e.tau, e.modulus))
        .collect();
    let readout = sentiment
        .candidates
        .iter()
        .map(|c| {
            format!(
                "{{{}}}: {} neg / {} pos",
                c.name,
                pct(c.share_negative),
                pct(c.share_positive)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let pos = &sentiment.candidates[sentiment.positive];
    let neg = &sentiment.candidates[sentiment.negative];
    let fig = |prefix: &str| {
        figures
            .iter()
            .filter(|f| f.name.starts_with(prefix))
            .map(|f| format!("`{}`", f.png))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ctx = match &contextual.choice {
        Some(c) => format!(
            "{{{}}} (λ = {}, jump ratio {:.2} over {} phrases in {} reviews)",
            c.chosen_name,
            fmt_lambda(c.chosen_eigenvalue.0, c.chosen_eigenvalue.1),
            c.top_candidates[0].ratio,
            c.occurrences,
            contextual.batch
        ),
        None => format!("none ({} matching reviews)", contextual.matching_reviews),
    };
    vec![
        PaperRow::new(
            "Sec. 4.1 (training)",
            "accuracy train / val / test",
            "92% / 87% / 87%",
            format!(
                "{} / {} / {}",
                opt_pct(acc.train),
                opt_pct(acc.validation),
                opt_pct(acc.test)
            ),
            train_cmd,
        ),
        PaperRow::new(
            "Sec. 4.1 (spectrum)",
            "count of |λ| > 0.99",
            "4",
            count_above.to_string(),
            cmd.clone(),
        ),
        PaperRow::new(
            "Sec. 4.1 (spectrum)",
            "top eigenvalues",
            "0.9999, 0.9965, 0.9942±0.0035i",
            top.join(", "),
            format!("{cmd} → {}", fig("spectrum")),
        ),
        PaperRow::new(
            "Sec. 4.1 (Eq. 9)",
            "τ(0.01) of the top eigenvalues",
            "> 800 for all four",
            format!(
                "{} (min over |λ| > 0.99: {})",
                taus.join(", "),
                fmt_tau(min_tau, 1.0)
            ),
            cmd.clone(),
        ),
        PaperRow::new(
            "Sec. 4.1 (readout test)",
            "share of samples negative/positive when projected on a set",
            "ỹ12 < .5 and ỹ34 > .5 on all 64",
            format!(
                "positive set {{{}}}: {} positive; negative set {{{}}}: {} negative ({readout})",
                pos.name,
                pct(pos.share_positive),
                neg.name,
                pct(neg.share_negative)
            ),
            cmd.clone(),
        ),
        PaperRow::new(
            "Fig. 1 (blue, red)",
            "reviews shaded by Σ s(j,h_t) on the sentiment sets",
            "{u1,u2} blues, {u3,u4} reds",
            format!("{{{}}} blues, {{{}}} reds", pos.name, neg.name),
            format!(
                "{cmd} → {}, {}, `word_highlights.html`",
                fig("word_highlight_positive"),
                fig("word_highlight_negative")
            ),
        ),
        PaperRow::new(
            "Fig. 1 (green)",
            "contextual eigenvector (\"not bad\"/\"not good\" batch)",
            "u8 (256 reviews)",
            ctx,
            format!("{cmd} → {}", fig("word_highlight_context")),
        ),
        PaperRow::new(
            "Fig. 4 (left)",
            "agreement of G(h_T) and G(h_T^KANN), whole test set",
            "> 99%",
            format!(
                "{} of {} reviews (network acc {}, KANN acc {})",
                pct(agreement.agreement),
                agreement.reviews_used,
                pct(agreement.network.accuracy()),
                pct(agreement.kann.accuracy())
            ),
            format!("{cmd} → {}", fig("agreement")),
        ),
        PaperRow::new(
            "Sec. 4.3 (Eq. 12)",
            "e_rel on the batch",
            "0.095 (steps not stated)",
            format!(
                "{} real steps; {} all padded steps",
                fmt_erel(e_real),
                fmt_erel(e_all)
            ),
            cmd,
        ),
    ]
}

fn imdb_body(r: &ImdbReport) -> String {
    let mut s = String::new();
    let st = &r.settings;
    s.push_str(&format!(
        "Run `{}` ({} cell, hidden {}), data `{}`. Analysis batch: {} random test reviews (seed {}), \
         padded to max_len {}; the operator is fitted on the real steps only, rank {}{}.\n\n\
         Reproduce: `{}`\n\n",
        st.run_dir,
        st.cell,
        st.hidden,
        st.data_dir,
        st.batch,
        st.seed,
        r.max_len,
        st.rank,
        if st.rank_is_default {
            " (reference default min(#pairs, k) - 1, clamped to the numerical rank)"
        } else {
            ""
        },
        st.command
    ));
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
    s.push_str(&format!(
        "\n{} eigenvalues in all; {} with |λ| > 0.99.\n\n",
        r.num_eigenvalues, r.count_above_099
    ));
    s.push_str("## Readout test (sentiment eigenvectors)\n\nThe last state of every review is projected on the set (Re(H~ V_S U_S) B^T) and read out with G.\n\n| set | eigenvalues | negative | positive | mean logit |\n| --- | --- | --- | --- | --- |\n");
    for c in &r.sentiment.candidates {
        let ev: Vec<String> = c
            .eigenvalues
            .iter()
            .map(|&(a, b)| fmt_lambda(a, b))
            .collect();
        s.push_str(&format!(
            "| {{{}}} | {} | {} | {} | {:.3} |\n",
            c.name,
            ev.join(", "),
            pct(c.share_negative),
            pct(c.share_positive),
            c.mean_logit
        ));
    }
    let sv = &r.sentiment;
    s.push_str(&format!(
        "\nChosen: positive {{{}}} (largest positive share, ties by mean logit), negative {{{}}} (largest negative share).\n\n",
        sv.candidates[sv.positive].name, sv.candidates[sv.negative].name
    ));
    s.push_str("## Contextual eigenvector\n\n");
    let c = &r.contextual;
    s.push_str(&format!(
        "{} test reviews of at most {} pieces contain \"not bad\" or \"not good\"; batch of {} (cap {}), rank {}, {} eigenvalues with |λ| > 0.99.\n\n",
        c.matching_reviews, r.max_len, c.batch, c.cap, c.rank, c.count_above_099
    ));
    if let Some(ch) = &c.choice {
        s.push_str(&format!("Criterion: {}.\n\n| group | modulus | mean jump | mean abs step | ratio |\n| --- | --- | --- | --- | --- |\n", ch.criterion));
        for t in &ch.top_candidates {
            s.push_str(&format!(
                "| {{{}}} | {:.4} | {:.4} | {:.4} | {:.2} |\n",
                t.name, t.modulus, t.mean_jump, t.mean_abs_step, t.ratio
            ));
        }
        s.push('\n');
    }
    let a = &r.agreement;
    s.push_str(&format!(
        "## Agreement (Fig. 4 left)\n\n{}.\n\nTest split: {} reviews; used {} ({} longer than {} pieces dropped by the run's policy, {} shorter than 2 pieces).\n\n| | TP | TN | FP | FN | accuracy |\n| --- | --- | --- | --- | --- | --- |\n| network | {} | {} | {} | {} | {} |\n| KANN | {} | {} | {} | {} | {} |\n\nAgreement: {}.\n\n",
        a.method, a.test_reviews, a.reviews_used, a.dropped_too_long, r.max_len, a.dropped_too_short,
        a.network.tp, a.network.tn, a.network.fp, a.network.fn_, pct(a.network.accuracy()),
        a.kann.tp, a.kann.tn, a.kann.fp, a.kann.fn_, pct(a.kann.accuracy()),
        pct(a.agreement)
    ));
    s.push_str(&format!(
        "## Relative error (Eq. 12)\n\n- real (unpadded) steps: {}\n- all steps of the batch padded to {}: {} (padding states are nearly constant and easy to predict, so this is lower)\n\n",
        fmt_erel(&r.e_rel_real_steps),
        r.max_len,
        fmt_erel(&r.e_rel_all_steps)
    ));
    s.push_str(&format!(
        "## Accuracy of the run\n\nFrom {}: train {}, validation {}, test {}.\n\n",
        r.accuracy.source,
        opt_pct(r.accuracy.train),
        opt_pct(r.accuracy.validation),
        opt_pct(r.accuracy.test)
    ));
    s.push_str(&figures_markdown(&r.figures, &r.html));
    if !r.warnings.is_empty() {
        s.push_str("## Warnings\n\n");
        for w in &r.warnings {
            s.push_str(&format!("- {w}\n"));
        }
    }
    s
}
