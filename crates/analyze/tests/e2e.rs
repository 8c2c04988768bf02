//! End to end: train both smoke configs on the real data (in-process, `train` library), run
//! `analyze ecg` and `analyze imdb` on them (in-process), and check every figure (a PNG of the
//! expected size with non-uniform pixels, and its SVG), the HTML page, `report.json` (every
//! field, deserialised into the report structs) and `report.md` (opens with the table). Then the
//! bad inputs: a missing checkpoint, a checkpoint of the other task, a batch larger than the test
//! set, a rank larger than the hidden size.
//!
//! Needs the shared data (`<workspace>/../shared/data` or env `KANN_SHARED_DATA`); fails without
//! it when `CI=true`, skips otherwise.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

mod html_check;

use analyze::{CommonArgs, EcgReport, FigureFile, ImdbReport};
use kann_models::config::{EcgRunConfig, ImdbRunConfig, RunConfig};

fn ecg_config(run: &Path) -> EcgRunConfig {
    match RunConfig::load(&run.join("config.toml")).expect("the run's config.toml") {
        RunConfig::Ecg(c) => c,
        other => panic!("not an ECG config: {other:?}"),
    }
}

fn imdb_config(run: &Path) -> ImdbRunConfig {
    match RunConfig::load(&run.join("config.toml")).expect("the run's config.toml") {
        RunConfig::Imdb(c) => c,
        other => panic!("not an IMDB config: {other:?}"),
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn train_args(config: &str, out: &Path, data: &Path) -> train::TrainArgs {
    train::TrainArgs {
        config: Some(workspace().join("configs").join(config)),
        out: Some(out.to_path_buf()),
        data_dir: Some(data.to_path_buf()),
        ..Default::default()
    }
}

/// The shared flags of `analyze imdb|ecg`; `.into()` gives either task's arguments.
fn args(run: &Path, data: &Path) -> CommonArgs {
    CommonArgs {
        run: Some(run.to_path_buf()),
        data_dir: Some(data.to_path_buf()),
        ..Default::default()
    }
}

/// Checks one figure: the PNG decodes, has the size recorded in the report (and `expected` when
/// the figure has a fixed size), is not blank; the SVG exists and is an SVG document.
fn check_figure(run: &Path, f: &FigureFile, expected: Option<(u32, u32)>) {
    let png = run.join(&f.png);
    let img = image::open(&png)
        .unwrap_or_else(|e| panic!("{}: not a decodable PNG: {e}", png.display()))
        .to_rgb8();
    assert_eq!(
        img.dimensions(),
        (f.width, f.height),
        "{}: size differs from report.json",
        png.display()
    );
    if let Some(size) = expected {
        assert_eq!(img.dimensions(), size, "{}: unexpected size", png.display());
    }
    assert!(
        f.width >= 600 && f.height >= 200,
        "{}: implausibly small ({}x{})",
        png.display(),
        f.width,
        f.height
    );
    let mut colours = BTreeSet::new();
    let mut non_white = 0usize;
    for p in img.pixels() {
        colours.insert(p.0);
        if p.0 != [255, 255, 255] {
            non_white += 1;
        }
    }
    let total = (f.width * f.height) as usize;
    assert!(
        colours.len() >= 8,
        "{}: only {} colours",
        png.display(),
        colours.len()
    );
    assert!(
        non_white * 200 > total,
        "{}: nearly blank ({non_white} of {total} pixels drawn)",
        png.display()
    );
    let svg = run.join(&f.svg);
    let text = std::fs::read_to_string(&svg)
        .unwrap_or_else(|e| panic!("{}: cannot read: {e}", svg.display()));
    assert!(
        text.contains("<svg") && text.len() > 1000,
        "{}: not an SVG figure",
        svg.display()
    );
}

fn json_keys(path: &Path) -> BTreeSet<String> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v.as_object()
        .expect("report.json is an object")
        .keys()
        .cloned()
        .collect()
}

fn keys(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `report.md` opens with the short verdict table (checked with the page by
/// [`html_check::check_report_html`]); the long table of paper rows follows under the title.
fn check_markdown(run: &Path) {
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(
        md.starts_with("| Claim | Paper | Ours | Baseline | Verdict |\n|---|"),
        "report.md does not open with the verdict table:\n{}",
        &md[..md.len().min(300)]
    );
    assert!(
        md.contains("\n| Paper figure | Quantity | Paper | Ours | Produced by |\n| --- |"),
        "report.md lost the table of paper rows"
    );
}

fn find<'a>(figures: &'a [FigureFile], name: &str) -> &'a FigureFile {
    figures
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("figure {name} missing from report.json"))
}

fn check_ecg(run: &Path, data: &Path) {
    let report = analyze::run_ecg(&args(run, data).into()).expect("analyze ecg");
    let json: EcgReport =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap())
            .expect("report.json deserialises into EcgReport");
    // Floats may differ in the last bit after a JSON round trip; the rest must match exactly.
    assert_eq!(
        (&json.settings, &json.figures, &json.table, &json.warnings),
        (
            &report.settings,
            &report.figures,
            &report.table,
            &report.warnings
        )
    );
    assert_eq!(
        json_keys(&run.join("report.json")),
        keys(&[
            "task",
            "settings",
            "accuracy",
            "threshold_accuracy",
            "num_eigenvalues",
            "count_above_099",
            "top_eigenvalues",
            "spectrum_intervals",
            "dominant_pairs",
            "fig2",
            "capture_intervals",
            "robustness",
            "pca_explained_variance",
            "e_rel_batch",
            "e_rel_normal_test",
            "e_rel_intervals",
            "silhouette",
            "silhouette_intervals",
            "agreement",
            "fig2_curves",
            "figures",
            "table",
            "warnings",
        ])
    );
    // The spectrum's bootstrap intervals (default 200 replicates over the batch's beats).
    let ci = json
        .spectrum_intervals
        .as_ref()
        .expect("intervals by default");
    assert_eq!(ci.replicates + ci.failed, 200);
    assert_eq!(ci.count_above, json.count_above_099);
    assert!(ci.count_above_ci[0] <= ci.count_above_ci[1]);
    assert_eq!(ci.eigen.len(), json.num_eigenvalues.min(8));
    assert!(ci.eigen.iter().all(|e| e.modulus_ci[0] <= e.modulus_ci[1]));
    // e_rel on the normal test beats beside the trivial predictor (fitted and scored apart).
    let e = json
        .e_rel_intervals
        .as_ref()
        .expect("e_rel intervals by default");
    assert!(!e.in_sample);
    assert_eq!(e.targets, json.e_rel_normal_test.targets);
    assert!(
        (e.kann - json.e_rel_normal_test.e_rel).abs() < 1e-9,
        "{e:?}"
    );
    assert!(json.agreement.intervals.is_some());
    // k of 4 over bootstrap draws of the batch, Fig. 2 redone in each (capped replicates).
    let cap = json
        .capture_intervals
        .as_ref()
        .expect("k-of-4 intervals by default");
    assert_eq!(
        cap.replicates,
        200.min(analyze::ecg::capture::MAX_REPLICATES)
    );
    for (st, k) in [
        (&cap.modulus, json.fig2.modulus_captured),
        (&cap.sign_invariant, json.fig2.sign_invariant_captured),
    ] {
        assert_eq!(st.k, k);
        assert!(st.k_ci[0] <= st.k_ci[1] && st.k_ci[1] <= 4, "{st:?}");
        assert_eq!(
            st.k_counts.iter().sum::<usize>(),
            cap.replicates - cap.failed
        );
        assert_eq!(st.features.len(), 4);
    }
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(md.contains("bootstrap replicates over the"));
    assert!(md.contains("bootstrap draws of the batch's"));
    // Fig. 3 right on other draws of the batches.
    let sil = json
        .silhouette_intervals
        .as_ref()
        .expect("silhouette redraws by default");
    assert_eq!(sil.draws, 200.min(analyze::ecg::silhouette::MAX_REDRAWS));
    assert!(
        sil.sigma_koopman_ci[0] <= sil.sigma_koopman_ci[1],
        "{sil:?}"
    );
    assert!(md.contains("other draws of"));
    // Fig. 3 right draws them: a bar per curve right of t = 140, named in the legend.
    let fig3 = find(&report.figures, "fig3_silhouette");
    assert!(fig3.caption.contains("redrawn batches"), "{}", fig3.caption);
    let svg = std::fs::read_to_string(run.join(&fig3.svg)).unwrap();
    let koopman_ci = format!(
        "σ(140) [{:.3}, {:.3}]",
        sil.sigma_koopman_ci[0], sil.sigma_koopman_ci[1]
    );
    assert!(svg.contains(&koopman_ci), "{koopman_ci} not in the figure");
    check_markdown(run);
    // report.html: the verdicts computed from report.json are the page's, figures inlined, and
    // the interactive Fig. 2 has both reconstructions of every dominant set.
    let claims = analyze::report_html::ecg::claims(&json);
    assert_eq!(claims.len(), 5);
    let html = html_check::check_report_html(run, &claims, 6);
    assert!(html.contains("id=\"ek-chart\"") && html.contains("name=\"ek-rec\""));
    let c = &json.fig2_curves;
    assert_eq!(c.pairs.len(), json.dominant_pairs.len());
    assert_eq!(c.beats.median.len(), 140);
    for (p, d) in c.pairs.iter().zip(&json.dominant_pairs) {
        assert_eq!(p.set, d.set);
        assert_eq!(
            (p.modulus.median.len(), p.sign_invariant.mad.len()),
            (140, 140)
        );
        assert!(p.modulus.mad.iter().all(|v| *v >= 0.0));
    }
    for (name, size) in [
        ("spectrum", Some((1700, 640))),
        ("fig2_koopman_pairs", Some((1440, 950))),
        ("fig2_sign_invariant", Some((1440, 950))),
        ("fig2_sign_spread", Some((1440, 950))),
        ("appb_pca_modes", Some((1440, 950))),
        ("fig3_medians", Some((960, 600))),
        ("fig3_silhouette", Some((960, 600))),
        ("fig4_loss_histogram", Some((960, 600))),
        ("roc", Some((760, 720))),
        ("training_curves", None),
    ] {
        check_figure(run, find(&report.figures, name), size);
    }
    // The smoke model and 64 normal beats; the numbers must be real measurements.
    let cfg = ecg_config(run);
    assert_eq!(report.settings.hidden, cfg.model.d_latent);
    assert_eq!(report.settings.rank, cfg.model.d_latent - 1);
    assert_eq!(report.settings.batch, 64);
    assert_eq!(report.agreement.beats, 145);
    assert_eq!(report.threshold_accuracy.anomalous_beats, 2081);
    assert_eq!(report.dominant_pairs.len(), 4);
    assert!(report.e_rel_batch.e_rel.is_finite() && report.e_rel_batch.e_rel >= 0.0);
    assert_eq!(report.e_rel_batch.targets, 64 * 139);
    assert_eq!(report.e_rel_normal_test.targets, 145 * 139);
    assert!((0.0..=1.0).contains(&report.agreement.agreement));
    assert!((0.0..=1.0).contains(&report.threshold_accuracy.roc_auc));
    // Fig. 2 both ways, its features and its sign dependence (issue 14).
    let f2 = &report.fig2;
    assert_eq!(f2.pairing, analyze::ecg::PairingRule::Conjugate);
    assert!(f2.modulus_captured <= 4 && f2.sign_invariant_captured <= 4);
    assert_eq!(f2.modulus_features.len(), f2.modulus_captured);
    assert_eq!(f2.sign_invariant_features.len(), f2.sign_invariant_captured);
    assert_eq!(f2.sign_patterns, analyze::ecg::SIGN_PATTERNS);
    assert!(f2.beat_range > 1.0, "beat range {}", f2.beat_range);
    // The sign-invariant medians do not move under sign flips of B (decoder in f32).
    assert!(
        f2.max_median_deviation_sign_invariant < 1e-3 * f2.beat_range,
        "sign-invariant reconstruction moved by {}",
        f2.max_median_deviation_sign_invariant
    );
    assert!(f2.max_median_deviation_modulus.is_finite() && f2.max_median_deviation_modulus >= 0.0);
    for p in &report.dominant_pairs {
        // Conjugate pairing: every set is closed under conjugation, V_J U_J real.
        assert!(p.conjugate, "{p:?}");
        assert!(p.imaginary_share < 1e-9, "{p:?}");
        assert!((1..=140).contains(&p.feature_t));
        assert!(p.max_sign_deviation <= f2.max_median_deviation_modulus);
    }
    let captured = report
        .dominant_pairs
        .iter()
        .filter(|p| p.paper_feature.is_some())
        .count();
    assert_eq!(captured, f2.modulus_captured);
    // Robustness: 3 batch sizes x 3 draws x 2 pairing rules; the 145-beat batch is the whole
    // normal test set, so its three draws are the same beats and must agree.
    assert_eq!(report.robustness.len(), 18);
    let sizes: BTreeSet<usize> = report.robustness.iter().map(|r| r.batch).collect();
    assert_eq!(sizes, [20, 64, 145].into_iter().collect());
    let full: Vec<_> = report
        .robustness
        .iter()
        .filter(|r| r.batch == 145 && r.pairing == analyze::ecg::PairingRule::Conjugate)
        .collect();
    assert_eq!(full.len(), 3);
    assert!(
        full.iter().all(|r| r.sets == full[0].sets
            && r.sign_invariant_captured == full[0].sign_invariant_captured)
    );
    assert!(
        report.robustness.iter().all(|r| r.sets.len() == 4
            && r.modulus_captured <= 4
            && r.sign_invariant_captured <= 4)
    );
    // The same seed and batch as the main run gives the same sets.
    let same = report
        .robustness
        .iter()
        .find(|r| r.batch == 64 && r.seed == 0 && r.pairing == analyze::ecg::PairingRule::Conjugate)
        .expect("the 64-beat, seed-0 cell");
    let main_sets: Vec<Vec<usize>> = report
        .dominant_pairs
        .iter()
        .map(|p| p.set.clone())
        .collect();
    assert_eq!(same.sets, main_sets);
    assert_eq!(same.modulus_captured, f2.modulus_captured);
    // Baselines of Figs. 3-4.
    let a = &report.agreement;
    assert!((0.0..=1.0).contains(&a.trivial_agreement));
    assert!(a.trivial_normal <= a.beats && a.trivial_median_loss.is_finite());
    let sil = &report.silhouette;
    assert_eq!(sil.random_draws, 20);
    assert!(sil.sigma_random_sd > 0.0 && sil.sigma_random_mean.abs() <= 1.0);
    assert!(sil.random_below_koopman <= sil.random_draws);
    assert_eq!(report.table.len(), 12);
}

fn check_imdb(run: &Path, data: &Path) {
    let report = analyze::run_imdb(&args(run, data).into()).expect("analyze imdb");
    let json: ImdbReport =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap())
            .expect("report.json deserialises into ImdbReport");
    // Floats may differ in the last bit after a JSON round trip; the rest must match exactly.
    assert_eq!(
        (&json.settings, &json.figures, &json.table, &json.warnings),
        (
            &report.settings,
            &report.figures,
            &report.table,
            &report.warnings
        )
    );
    assert_eq!(
        json_keys(&run.join("report.json")),
        keys(&[
            "task",
            "settings",
            "max_len",
            "accuracy",
            "fit_steps",
            "spectra",
            "spectrum_intervals",
            "e_rel_intervals",
            "e_rel_held_out_intervals",
            "sentiment",
            "word_stats",
            "contextual",
            "agreement",
            "highlights",
            "token_views",
            "states_files",
            "figures",
            "html",
            "table",
            "warnings",
        ])
    );
    check_markdown(run);
    // The agreement's intervals (default 200 replicates over the batch and the test reviews):
    // each point inside its interval, the difference paired, and the verdict row says it.
    let ci = json
        .agreement
        .intervals
        .as_ref()
        .expect("agreement intervals by default");
    assert_eq!(ci.resampling.replicates, 200);
    assert_eq!(ci.scored, json.agreement.reviews_used);
    assert!((ci.kann - json.agreement.agreement).abs() < 1e-12);
    // (The refits' intervals need not contain the full fit's point: a replicate fits on fewer
    // distinct sequences. The trivial predictor's is a plain resampled share.)
    for [lo, hi] in [ci.kann_ci, ci.trivial_ci, ci.difference_ci] {
        assert!((0.0..=1.0).contains(&hi.abs()) && lo <= hi, "{ci:?}");
    }
    assert!(ci.trivial_ci[0] <= ci.trivial && ci.trivial <= ci.trivial_ci[1]);
    // e_rel beside the trivial predictor, on the batch's real steps (in-sample).
    let e = json
        .e_rel_intervals
        .as_ref()
        .expect("e_rel intervals by default");
    assert!(e.in_sample);
    assert_eq!(e.targets, json.spectra[0].e_rel_real_steps.targets);
    assert!(
        (e.kann - json.spectra[0].e_rel_real_steps.e_rel).abs() < 1e-9,
        "{e:?}"
    );
    assert!((e.difference - (e.trivial - e.kann)).abs() < 1e-12);
    // ... and on the held-out batch, out of sample: other reviews, other targets.
    let h = json
        .e_rel_held_out_intervals
        .as_ref()
        .expect("held-out e_rel intervals by default");
    assert!(!h.in_sample);
    assert_eq!(h.resampling.replicates, 200);
    assert!(h.targets > 0 && h.targets != e.targets, "{h:?}");
    assert!((h.difference - (h.trivial - h.kann)).abs() < 1e-12);
    for [lo, hi] in [h.kann_ci, h.trivial_ci, h.difference_ci] {
        assert!(lo.is_finite() && lo <= hi, "{h:?}");
    }
    // The trivial predictor is not refitted: its interval is a plain resampled mean.
    assert!(
        h.trivial_ci[0] <= h.trivial && h.trivial <= h.trivial_ci[1],
        "{h:?}"
    );
    assert!((ci.difference - (ci.kann - ci.trivial)).abs() < 1e-12);
    assert!(
        std::fs::read_to_string(run.join("report.md"))
            .unwrap()
            .contains("KANN − trivial")
    );
    // report.html: the verdicts computed from report.json are the page's, figures inlined, and
    // the per-token values of the interactive Fig. 1 are the levels of the word-statistics
    // groups, one per piece.
    let claims = analyze::report_html::imdb::claims(&json);
    assert!(claims.len() >= 7, "{claims:?}");
    let html = html_check::check_report_html(run, &claims, 4);
    assert!(html.contains("id=\"kv-spec\"") && html.contains("id=\"kv-review\""));
    let tv = &json.token_views;
    let sets: Vec<Vec<usize>> = json
        .word_stats
        .groups
        .iter()
        .map(|g| g.set.clone())
        .collect();
    assert_eq!(tv.groups, sets);
    assert_eq!(
        tv.reviews.len(),
        analyze::report_html::imdb::MAX_REVIEWS.min(json.settings.batch)
    );
    let fig1: Vec<&str> = json
        .highlights
        .iter()
        .filter(|h| h.role != "context")
        .map(|h| h.review.as_str())
        .collect();
    let first: Vec<&str> = tv.reviews[..fig1.len()]
        .iter()
        .map(|r| r.review.as_str())
        .collect();
    assert_eq!(first, fig1, "the Fig. 1 reviews come first");
    for r in &tv.reviews {
        assert_eq!(r.level.len(), sets.len());
        assert_eq!(r.contribution.len(), sets.len());
        for (l, c) in r.level.iter().zip(&r.contribution) {
            assert_eq!((l.len(), c.len()), (r.tokens.len(), r.tokens.len()));
            assert!(
                l.iter().all(|v| v.is_finite() && *v >= 0.0),
                "levels are moduli"
            );
        }
    }
    assert_eq!(tv.eigenvalues.len(), json.settings.rank);
    for (name, size) in [
        ("spectrum", Some((1700, 640))),
        ("agreement", Some((900, 600))),
        ("word_highlight_positive", None),
        ("word_highlight_negative", None),
        ("word_change_positive", None),
        ("word_change_negative", None),
        ("word_tracking_positive", None),
        ("word_tracking_negative", None),
        ("word_highlight_context_1", None),
        ("word_change_context_1", None),
        ("word_scatter_readout", None),
        ("training_curves", None),
    ] {
        let f = find(&report.figures, name);
        if name.starts_with("word_") && !name.starts_with("word_scatter") {
            assert_eq!(f.width, 1100, "{name}: word highlights are 1100 px wide");
        }
        check_figure(run, f, size);
    }
    assert_eq!(report.html, vec!["word_highlights.html".to_string()]);
    let html = std::fs::read_to_string(run.join("word_highlights.html")).unwrap();
    assert!(html.contains("<html") && html.matches("<span").count() > 100);
    assert!(
        html.contains("<select id=\"view\">"),
        "the page lets a reader switch views"
    );
    let tracked = report
        .highlights
        .iter()
        .filter(|h| {
            h.views
                .iter()
                .any(|v| v.starts_with("readout contribution change"))
        })
        .count();
    assert_eq!(tracked, 2, "both Fig. 1 reviews have the tracking-set view");
    // The smoke config's test split, max_len and hidden size.
    let cfg = imdb_config(run);
    let test_reviews = cfg.data.test_limit.unwrap_or(25_000);
    assert_eq!(report.settings.hidden, cfg.model.d_hidden);
    assert_eq!(report.max_len, cfg.data.max_len);
    assert_eq!(report.agreement.test_reviews, test_reviews);
    assert_eq!(
        report.agreement.reviews_used
            + report.agreement.dropped_too_long
            + report.agreement.dropped_too_short,
        test_reviews
    );
    let n = &report.agreement.network;
    assert_eq!(
        (n.tp + n.tn + n.fp + n.fn_) as usize,
        report.agreement.reviews_used
    );
    // Both fits, the used one (real steps, the default) first; e_rel labelled by its steps.
    assert_eq!(report.spectra.len(), 2);
    let (real, all) = (&report.spectra[0], &report.spectra[1]);
    assert_eq!(report.fit_steps, analyze::FitSteps::Real);
    assert!(real.used_by_analysis && !all.used_by_analysis);
    assert!(real.pairs < all.pairs);
    assert_eq!(all.pairs, 64 * (report.max_len - 1));
    assert!(real.e_rel_real_steps.targets < real.e_rel_all_steps.targets);
    assert_eq!(real.e_rel_all_steps.targets, 64 * (report.max_len - 1));
    // The readout test on both batches, with G(0) and random sets.
    let s = &report.sentiment;
    let held = s.held_out_batch.as_ref().expect("a held-out batch");
    assert_eq!((s.analysis_batch.reviews, held.reviews), (64, 64));
    assert!(held.random_positive_size.draws > 0);
    if let (Some(n), p) = (s.choice.negative, s.choice.positive) {
        let (ps, ns) = (&s.choice.candidates[p].set, &s.choice.candidates[n].set);
        assert!(!ps.iter().any(|j| ns.contains(j)), "sets overlap");
    }
    // Word statistics: the readout direction tracks polarity on the real test set.
    let ws = &report.word_stats;
    assert!(ws.words_scored > 20, "{} words scored", ws.words_scored);
    assert!(
        ws.readout_direction.spearman > 0.0,
        "{:?}",
        ws.readout_direction
    );
    assert!(!ws.groups.is_empty());
    // Agreement with both baselines.
    let a = &report.agreement;
    assert_eq!(a.baselines.len(), 2);
    for b in &a.baselines {
        let c = &b.confusion;
        assert_eq!((c.tp + c.tn + c.fp + c.fn_) as usize, a.reviews_used);
    }
    let ctx = report
        .contextual
        .choice
        .as_ref()
        .expect("a contextual eigenvector");
    assert!(ctx.occurrences > 0);
    assert!(ctx.null.random_positions.null_sd >= 0.0 && ctx.null.draws > 0);
    // States out: analyze states reproduces the used spectrum from them.
    assert_eq!(report.states_files.len(), 3);
    let states = kann_koopman::io::read_states_npy(run.join("states.npy")).unwrap();
    let lengths = kann_koopman::io::read_lengths_npy(
        run.join("lengths.npy"),
        states.num_sequences(),
        states.seq_len(),
    )
    .unwrap();
    let states = states.with_lengths(lengths).unwrap();
    let fit = analyze::kann::fit(&states, None).unwrap();
    let count = fit
        .spectrum
        .eigenvalues
        .iter()
        .filter(|l| l.norm() > 0.99)
        .count();
    assert_eq!(count, real.count_above_099);
    assert!((fit.spectrum.eigenvalues[0].norm() - real.top_eigenvalues[0].modulus).abs() < 1e-9);
    assert_eq!(report.table.len(), 9);
}

fn check_bad_inputs(ecg_run: &Path, imdb_run: &Path, data: &Path, scratch: &Path) {
    let err = |r: anyhow::Result<()>| format!("{:#}", r.expect_err("bad input must fail"));
    // A batch larger than the test set.
    let e = err(analyze::run_ecg(
        &CommonArgs {
            batch: 146,
            ..args(ecg_run, data)
        }
        .into(),
    )
    .map(drop));
    assert!(e.contains("--batch 146") && e.contains("145"), "{e}");
    let too_many = imdb_config(imdb_run).data.test_limit.unwrap_or(25_000) + 1;
    let e = err(analyze::run_imdb(
        &CommonArgs {
            batch: too_many,
            ..args(imdb_run, data)
        }
        .into(),
    )
    .map(drop));
    assert!(
        e.contains(&format!("--batch {too_many}")) && e.contains("test set"),
        "{e}"
    );
    // A rank larger than the hidden size.
    let k = ecg_config(ecg_run).model.d_latent;
    let e = err(analyze::run_ecg(
        &CommonArgs {
            rank: Some(k + 1),
            ..args(ecg_run, data)
        }
        .into(),
    )
    .map(drop));
    assert!(
        e.contains(&format!("--rank {}", k + 1)) && e.contains(&format!("hidden size {k}")),
        "{e}"
    );
    // A missing checkpoint.
    let broken = scratch.join("no-weights");
    std::fs::create_dir_all(&broken).unwrap();
    for f in ["config.toml", "model.json"] {
        std::fs::copy(ecg_run.join(f), broken.join(f)).unwrap();
    }
    let e = err(analyze::run_ecg(&args(&broken, data).into()).map(drop));
    assert!(e.contains("model.bpk"), "{e}");
    // An incompatible checkpoint: the ECG run given to `analyze imdb`.
    let e = err(analyze::run_imdb(&args(ecg_run, data).into()).map(drop));
    assert!(e.contains("not an IMDB run") || e.contains("task"), "{e}");
    // Weights of another model shape.
    let mixed = scratch.join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    std::fs::copy(ecg_run.join("config.toml"), mixed.join("config.toml")).unwrap();
    let spec = std::fs::read_to_string(ecg_run.join("model.json"))
        .unwrap()
        .replace(
            &format!("\"d_latent\": {k}"),
            &format!("\"d_latent\": {}", k + 8),
        );
    assert!(spec.contains(&format!("\"d_latent\": {}", k + 8)), "{spec}");
    std::fs::write(mixed.join("model.json"), spec).unwrap();
    std::fs::copy(ecg_run.join("model.bpk"), mixed.join("model.bpk")).unwrap();
    let e = err(analyze::run_ecg(&args(&mixed, data).into()).map(drop));
    assert!(e.contains("model.bpk"), "{e}");
    // A run folder that does not exist.
    let e = err(analyze::run_ecg(&args(&scratch.join("nope"), data).into()).map(drop));
    assert!(e.contains("nope"), "{e}");
}

/// `analyze fixed-points` on the smoke GRU: the same batch as `analyze imdb` (its Koopman
/// `e_rel` is the imdb report's), the weights read right (the exact map reproduces the hooked
/// states), and its files written beside the imdb report without touching it; its page
/// `fixed_points.html` holds the verdicts recomputed from `fixed_points.json`.
fn check_fixed_points(run: &Path, data: &Path) {
    let before = std::fs::read(run.join("report.json")).unwrap();
    let page_before = std::fs::read(run.join("report.html")).unwrap();
    let args = analyze::FixedPointArgs {
        common: analyze::CommonArgs {
            run: Some(run.to_path_buf()),
            data_dir: Some(data.to_path_buf()),
            ..Default::default()
        },
        starts: 24,
        ..Default::default()
    };
    let r = analyze::fixed_points::run_fixed_points(&args).expect("analyze fixed-points");
    let imdb: serde_json::Value =
        serde_json::from_slice(&before).expect("report.json of analyze imdb");
    let e_imdb = imdb["spectra"][0]["e_rel_real_steps"]["e_rel"]
        .as_f64()
        .unwrap();
    assert!(
        (r.koopman.e_rel - e_imdb).abs() < 1e-9,
        "fixed-points e_rel {} vs imdb {e_imdb}: not the same batch",
        r.koopman.e_rel
    );
    assert_eq!(r.inputs.len(), 2);
    assert_eq!(r.state_dim, 32);
    for inp in &r.inputs {
        assert!(inp.points.iter().all(|p| p.q <= args.max_q), "{inp:?}");
        assert_eq!(inp.starts, 24);
    }
    assert!(
        !r.comparisons.is_empty(),
        "no fixed point found: {:?}",
        r.inputs
    );
    for c in &r.comparisons {
        assert!(c.e_rel.exact_map < 1e-10, "{c:?}");
        assert_eq!(c.agreement_all_steps.expect("IMDB's logit").exact_map, 1.0);
        assert!((c.e_rel.koopman - r.koopman.e_rel).abs() < 1e-9, "{c:?}");
        assert!(c.e_rel.linearised.is_finite());
    }
    for f in ["fixed_points.json", "fixed_points.md", "fixed_points.html"]
        .into_iter()
        .map(String::from)
        .chain(r.figures.iter().cloned())
    {
        assert!(run.join(&f).is_file(), "{f} missing");
    }
    assert!(r.figures.iter().any(|f| f == "fixed_point_spectra.png"));
    assert_eq!(std::fs::read(run.join("report.json")).unwrap(), before);
    assert_eq!(std::fs::read(run.join("report.html")).unwrap(), page_before);
    // The page's verdicts, recomputed from fixed_points.json.
    let back: analyze::FixedPointsReport =
        serde_json::from_slice(&std::fs::read(run.join("fixed_points.json")).unwrap()).unwrap();
    assert_eq!(back.inputs.len(), r.inputs.len());
    let claims = analyze::report_html::fixed_points::claims(&back);
    assert_eq!(claims.len(), 4);
    let html = html_check::check_page(run, analyze::report_html::fixed_points::PAGE, &claims, 3);
    assert!(!html.contains("<script"), "the fixed-points page is static");
}

/// `analyze fixed-points` on the ECG run: the encoder's `[h; c]` on `analyze ecg`'s normal
/// beats (the same Koopman fit), no readout, so no agreement is scored; `analyze ecg`'s report
/// is left alone.
fn check_fixed_points_ecg(run: &Path, data: &Path) {
    let before = std::fs::read(run.join("report.json")).unwrap();
    let args = analyze::FixedPointArgs {
        common: analyze::CommonArgs {
            run: Some(run.to_path_buf()),
            data_dir: Some(data.to_path_buf()),
            batch: 32,
            ..Default::default()
        },
        starts: 16,
        ..Default::default()
    };
    let r = analyze::fixed_points::run_fixed_points(&args).expect("fixed-points on ECG");
    assert_eq!((r.task.as_str(), r.cell.as_str()), ("ecg", "lstm"));
    assert_eq!((r.batch, r.steps), (32, 32 * 140));
    assert_eq!(r.state_dim, 2 * ecg_config(run).model.d_latent);
    let inputs: Vec<&str> = r.inputs.iter().map(|i| i.input.as_str()).collect();
    assert_eq!(inputs, ["zero", "mean"]);
    for c in &r.comparisons {
        assert!(c.agreement_all_steps.is_none() && c.agreement_last_step.is_none());
        assert!(c.e_rel.exact_map < 1e-10, "{c:?}");
    }
    for p in r.inputs.iter().flat_map(|i| &i.points) {
        assert!(p.logit.is_none() && p.class.is_none() && p.cos_right_readout.is_none());
    }
    let md = std::fs::read_to_string(run.join("fixed_points.md")).unwrap();
    assert!(
        md.contains("The same table opens `fixed_points.html`"),
        "fixed_points.md does not open with the verdicts: {md}"
    );
    assert!(md.contains("32 beats, 4480 real steps"), "{md}");
    assert_eq!(std::fs::read(run.join("report.json")).unwrap(), before);
}

#[test]
fn smoke_runs_analyze_end_to_end() {
    let Some(data) = kann_data::testdata::shared_data_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let ecg_run = tmp.path().join("ecg-smoke");
    let imdb_run = tmp.path().join("imdb-smoke");
    train::run_ecg(&train_args("ecg-smoke.toml", &ecg_run, &data)).expect("train ecg smoke");
    check_ecg(&ecg_run, &data);
    check_fixed_points_ecg(&ecg_run, &data);
    train::run_imdb(&train_args("imdb-smoke.toml", &imdb_run, &data)).expect("train imdb smoke");
    check_imdb(&imdb_run, &data);
    check_fixed_points(&imdb_run, &data);
    check_bad_inputs(&ecg_run, &imdb_run, &data, tmp.path());
}
