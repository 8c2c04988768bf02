//! The text table `analyze states` prints without `--json`.

use kann_koopman::io::Layout;
use kann_koopman::{DOMINANT_MODULUS, EigenReport, Memory, StatesReport};

use super::StatesRun;

/// Prints the summary and the first `top` eigenpairs of `run`.
pub(super) fn print_table(run: &StatesRun, top: usize) {
    print_summary(run);
    print_eigen_rows(&run.report, top);
}

fn erel_line(label: &str, e: &kann_koopman::RelativeError) -> String {
    format!(
        "e_rel (Eq. 12) on {label} = {:.6} over {} targets{}",
        e.e_rel,
        e.count,
        if e.zero_norm_skipped > 0 {
            format!(" ({} zero-norm targets skipped)", e.zero_norm_skipped)
        } else {
            String::new()
        }
    )
}

/// The summary above the table: input, lengths, fit, e_rel, counts, warnings, intervals.
fn print_summary(run: &StatesRun) {
    let (i, r) = (&run.input, &run.report);
    let axes = match i.layout {
        Layout::Bth => "bth: batch, time, hidden",
        Layout::Tbh => "tbh: time, batch, hidden",
    };
    println!(
        "input: {} ({} array {:?}) read as [B={}, T={}, H={}] (--layout {axes}{})",
        i.file.display(),
        i.dtype,
        i.file_shape,
        i.read_as[0],
        i.read_as[1],
        i.read_as[2],
        i.seq_len
            .map(|t| format!(", --seq-len {t}"))
            .unwrap_or_default()
    );
    match &i.lengths_file {
        Some(l) => println!(
            "lengths: {} applied: {} real steps, {} padded",
            l.display(),
            i.real_steps,
            i.padded_steps
        ),
        None => println!(
            "lengths: none given: all {} steps are fitted and scored as real",
            i.real_steps
        ),
    }
    println!(
        "fit: on {} steps (--fit-steps {}): {} states, {} pairs; {} via {:?}, rank {} ({:.4}% of energy), condition {:.3e}, cond(V) {:.3e}",
        r.fit_steps,
        r.fit_steps,
        r.num_states,
        r.num_pairs,
        r.estimator,
        r.method,
        r.rank,
        100.0 * r.energy_captured,
        r.condition,
        r.v_condition
    );
    let label = if i.lengths_applied {
        r.e_rel_steps.clone()
    } else {
        "all steps (no --lengths given: any padding counts as data)".to_string()
    };
    println!("{}", erel_line(&label, &r.relative_error));
    if let Some(all) = &r.relative_error_all_steps {
        println!("{}", erel_line("all steps incl. padding (1 <= t < T)", all));
    } else if r.padded {
        println!("e_rel on all steps incl. padding: not computed (padded steps are not finite)");
    }
    println!(
        "spectrum: {} eigenvalues; {} with |lambda| > {DOMINANT_MODULUS} ({} of infinite memory, {} unstable); {} unresolved (|lambda| / residual < {})",
        r.eigen.len(),
        r.num_dominant,
        r.num_infinite,
        r.num_unstable,
        r.num_spurious,
        r.min_snr
    );
    for w in &r.warnings {
        println!("warning: {w}");
    }
    print_intervals_line(r);
}

/// The line that says how the intervals were made (none without them).
fn print_intervals_line(r: &StatesReport) {
    if let Some(b) = &r.bootstrap {
        println!(
            "intervals: {:.0}% percentile intervals over {} {} replicates of the {} sequences (seed {}, {} failed); count of |lambda| > {DOMINANT_MODULUS} in [{}, {}]; match = share of replicates with a match within {} of lambda, pair = share in which a complex pair stays a pair",
            100.0 * b.level,
            b.replicates,
            b.scheme,
            b.sequences,
            b.seed,
            b.failed,
            b.num_dominant_ci[0],
            b.num_dominant_ci[1],
            b.match_radius
        );
    }
}

/// The table of the first `top` eigenpairs.
fn print_eigen_rows(r: &StatesReport, top: usize) {
    let with_ci = r.bootstrap.is_some();
    println!(
        "{:>4}  {:>11} {:>11}  {:>9}  {:>12}  {:>9}  {:>9}  {:>9}  {:>5}{}",
        "j",
        "re",
        "im",
        "|lambda|",
        format!("tau({})", r.eps),
        "residual",
        "snr",
        "dominance",
        "dom#",
        if with_ci {
            format!(
                "  {:>21}  {:>19}  {:>5}  {:>5}",
                "|lambda| interval", "tau interval", "match", "pair"
            )
        } else {
            String::new()
        }
    );
    for e in r.eigen.iter().take(top) {
        let tau = match (e.tau, e.memory) {
            (Some(t), _) => format!("{t:.1}"),
            (None, Memory::Unstable) => "unstable".into(),
            (None, _) => "inf".into(),
        };
        println!(
            "{:>4}  {:>11.6} {:>11.6}  {:>9.6}  {:>12}  {:>9.2e}  {:>9.2e}{} {:>9.3}  {:>5}{}",
            e.index,
            e.re,
            e.im,
            e.modulus,
            tau,
            e.residual,
            e.snr,
            if e.spurious { "*" } else { " " },
            e.dominance,
            e.dominance_rank,
            interval_columns(e)
        );
    }
    if r.eigen.len() > top {
        println!("... {} more (use --top or --json)", r.eigen.len() - top);
    }
    if r.eigen.iter().any(|e| e.spurious) {
        println!(
            "* unresolved: |lambda| / residual < {} (below 1, lambda explains less of its mode's next step than it leaves unexplained, and its residual error bar reaches 0)",
            r.min_snr
        );
    }
}

/// The interval columns of one eigenpair's table row (empty without intervals).
fn interval_columns(e: &EigenReport) -> String {
    let Some(ci) = &e.intervals else {
        return String::new();
    };
    let end = |t: Option<f64>| t.map_or_else(|| "inf".to_string(), |t| format!("{t:.1}"));
    format!(
        "  {:>21}  {:>19}  {:>5.2}  {:>5}",
        format!("[{:.6}, {:.6}]", ci.modulus_ci[0], ci.modulus_ci[1]),
        format!("[{}, {}]", end(ci.tau_ci[0]), end(ci.tau_ci[1])),
        ci.match_fraction,
        ci.pair_fraction
            .map_or_else(|| "-".to_string(), |p| format!("{p:.2}"))
    )
}
