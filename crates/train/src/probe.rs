//! The Koopman probe during training (issue 22; the paper's open question, Sec. 5): a fixed
//! batch of validation sequences ([`kann_models::probe::ProbeBatch`]) is run through the
//! eval-mode model, its hidden states are hooked, and the operator is fitted on their real steps
//! (Sec. 3.2, the analysis's own fit: rank `min(#pairs, k) − 1`). The driver
//! ([`crate::driver`]) probes the untrained model, then after every epoch (and every
//! `every_steps` optimizer steps), and commits the rows with the checkpoint.
//!
//! What a row records ([`ProbeRow`]): the leading eigenvalues with their residuals and memory
//! horizons (Eq. 9), `e_rel` (Eq. 12), the count of `|λ| > 0.99`, and where the task has a
//! readout, the one-step agreement of KANN with the network (Eq. 6; the class of
//! `h^KANN_t = h_{t−1} B C Bᵀ` against the class of `h_t`) and, for a one-logit readout, the
//! readout's alignment with the leading eigen-groups ([`readout_alignment`]).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::prelude::Device;
use kann_koopman::faer::{Mat, c64};
use kann_koopman::{
    DOMINANT_MODULUS, FitOptions, KoopmanModel, Spectrum, Stability, States, koopman_operator,
    relative_error,
};
use kann_models::npy::tensor_to_vec;
use kann_models::probe::{
    GroupAlignment, LEADING, PROBE_BATCH_FILE, PROBE_FILE, ProbeBatch, ProbeConfig, ProbeEigen,
    ProbeRow, choose_probe, read_probe_batch, write_probe_batch, write_probe_rows,
};

use crate::common::{Timer, TrainState, fmt_secs};
use crate::driver::Task;

/// `ε` of the memory horizon (the paper's 0.01).
const EPS: f64 = 0.01;
/// Tolerance on `| |λ| − 1 |` below which a mode has infinite memory.
const UNIT_TOL: f64 = 1e-6;

/// Which steps the agreement scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoredSteps {
    /// The last real step of each sequence (a sequence classifier: IMDB).
    Last,
    /// The real steps `start..start + len` (the copy task's recall window; step 0 is never
    /// scored, it has no predecessor).
    Window {
        /// First step.
        start: usize,
        /// Number of steps.
        len: usize,
    },
}

/// A task's readout of one state: `logit_c = b_c + Σ_k h_k w[(k, c)]`. One column: the class is
/// the logit's sign; several: the largest logit.
#[derive(Debug, Clone)]
pub struct Readout {
    /// Weights `[k, classes]`.
    pub w: Mat<f64>,
    /// Biases, one per class.
    pub b: Vec<f64>,
    /// The steps the agreement scores.
    pub scored: ScoredSteps,
}

impl Readout {
    /// The class the readout gives `h`.
    pub fn class(&self, h: &[f64]) -> usize {
        let logit = |c: usize| {
            self.b[c]
                + h.iter()
                    .enumerate()
                    .map(|(k, x)| x * self.w[(k, c)])
                    .sum::<f64>()
        };
        if self.b.len() == 1 {
            usize::from(logit(0) > 0.0)
        } else {
            (0..self.b.len())
                .map(|c| (c, logit(c)))
                .fold((0, f64::NEG_INFINITY), |best, (c, z)| {
                    if z > best.1 { (c, z) } else { best }
                })
                .0
        }
    }

    /// The rule in words, for `probe_batch.json`.
    pub fn describe(&self) -> String {
        let steps = match self.scored {
            ScoredSteps::Last => "the last real step of each probe sequence".to_string(),
            ScoredSteps::Window { start, len } => format!(
                "the steps {start}..{} (the recall window) of each probe sequence",
                start + len - 1
            ),
        };
        let class = if self.b.len() == 1 {
            "the sign of the readout logit"
        } else {
            "the readout's largest logit"
        };
        format!(
            "share of {steps} where the class of KANN's one-step state h_(t-1) B C B^T (Eq. 6) equals the class of the network's h_t; class = {class}"
        )
    }
}

impl Readout {
    /// The readout of a burn `Linear` layer (`weight: [k, classes]`, optional bias).
    pub fn from_linear(linear: &burn::nn::Linear, scored: ScoredSteps) -> Result<Self> {
        let [k, classes] = linear.weight.shape().dims::<2>();
        let w = tensor_to_vec(&linear.weight.val())?;
        let b = match &linear.bias {
            Some(b) => tensor_to_vec(&b.val())?,
            None => vec![0.0; classes],
        };
        Ok(Readout {
            w: Mat::from_fn(k, classes, |i, c| f64::from(w[i * classes + c])),
            b: b.into_iter().map(f64::from).collect(),
            scored,
        })
    }
}

/// Hooked states `[B, T, H]` with each sequence's real length, as [`States`] (f64).
pub fn states_of(hidden: &burn::prelude::Tensor<3>, lengths: &[usize]) -> Result<States> {
    let [b, t, h] = hidden.dims();
    let data = tensor_to_vec(hidden)?;
    Ok(States::new_with_lengths(
        data.into_iter().map(f64::from).collect(),
        b,
        t,
        h,
        lengths.to_vec(),
    )?)
}

/// What a task hands the probe: the probe batch's states and its readout, if any.
pub struct ProbeInput {
    /// Hooked states of the probe batch, with their lengths.
    pub states: States,
    /// The task's readout (`None`: no agreement is measured).
    pub readout: Option<Readout>,
}

/// Where in training a probe runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeAt {
    /// 0 before training, else the epoch in progress.
    pub epoch: usize,
    /// Optimizer steps done in that epoch.
    pub step: usize,
    /// Optimizer steps since the run began.
    pub global_step: usize,
    /// After the epoch's last step.
    pub end_of_epoch: bool,
}

/// The fit rule, in words, for `probe_batch.json`.
pub const FIT_RULE: &str = "truncated-SVD basis and least-squares operator (Sec. 3.2) on the real steps of the probe batch, rank min(#pairs, k) - 1; tau = log(0.01)/log|lambda| (Eq. 9); e_rel (Eq. 12) on the real steps";

/// The readout-alignment rule, in words.
pub const ALIGNMENT_RULE: &str = "for each eigen-group among the leading eigenvalues (a real eigenvalue alone, a conjugate pair together): ||P_g w|| / ||w||, with w the readout weights and P_g the orthogonal projection onto the span of the group's modes in state space (the rows u_j B^T of U B^T, real and imaginary parts; the projection of Eq. 10 reconstructs a state from them)";

/// Fit the probe batch's states and score them: one [`ProbeRow`] (its `seconds` left for the
/// caller to fill).
pub fn probe_row(input: &ProbeInput, at: ProbeAt) -> Result<ProbeRow> {
    let states = &input.states;
    let model =
        koopman_operator(states, &FitOptions::default()).context("the probe's Koopman fit")?;
    let spectrum = Spectrum::new(&model).context("the probe's eigen-decomposition")?;
    let horizons = spectrum.memory_horizons(EPS, UNIT_TOL)?;
    let err = relative_error(states, &model)?;
    let leading: Vec<ProbeEigen> = spectrum
        .eigenvalues
        .iter()
        .zip(&horizons)
        .zip(&spectrum.residuals)
        .take(LEADING)
        .enumerate()
        .map(|(j, ((l, h), &residual))| ProbeEigen {
            index: j + 1,
            re: l.re,
            im: l.im,
            modulus: l.norm(),
            tau: h.tau,
            residual,
        })
        .collect();
    let agreements = input
        .readout
        .as_ref()
        .map(|r| agreements(states, &model, r));
    let readout_alignment = input
        .readout
        .as_ref()
        .filter(|r| r.b.len() == 1)
        .map(|r| readout_alignment(&model, &spectrum, r));
    Ok(ProbeRow {
        epoch: at.epoch,
        step: at.step,
        global_step: at.global_step,
        end_of_epoch: at.end_of_epoch,
        pairs: model.num_pairs,
        rank: model.rank(),
        e_rel: err.e_rel,
        num_dominant: spectrum
            .eigenvalues
            .iter()
            .filter(|l| l.norm() > DOMINANT_MODULUS)
            .count(),
        num_unstable: horizons
            .iter()
            .filter(|h| h.stability == Stability::Unstable)
            .count(),
        leading,
        agreement: agreements.map(|a| a.0),
        agreement_trivial: agreements.map(|a| a.1),
        readout_alignment,
        seconds: 0.0,
    })
}

/// The shares of scored steps where the readout's class of a one-step prediction equals its
/// class of the network's `h_t`: KANN's `h_{t−1} M` (`M = B C Bᵀ`, Eq. 6), and the trivial
/// predictor's `h_{t−1}` (the baseline that could explain KANN's agreement away).
pub fn agreements(states: &States, model: &KoopmanModel, readout: &Readout) -> (f64, f64) {
    let m = model.prediction_map();
    let k = states.hidden();
    let predict = |prev: &[f64]| -> Vec<f64> {
        (0..k)
            .map(|j| prev.iter().enumerate().map(|(i, x)| x * m[(i, j)]).sum())
            .collect()
    };
    let (mut kann, mut trivial, mut total) = (0usize, 0usize, 0usize);
    for (s, &len) in states.lengths().iter().enumerate() {
        let steps = match readout.scored {
            ScoredSteps::Last if len >= 2 => len - 1..len,
            ScoredSteps::Last => 0..0,
            ScoredSteps::Window { start, len: w } => start.max(1)..(start + w).min(len),
        };
        for t in steps {
            let prev = states.state(s, t - 1);
            let network = readout.class(states.state(s, t));
            kann += usize::from(readout.class(&predict(prev)) == network);
            trivial += usize::from(readout.class(prev) == network);
            total += 1;
        }
    }
    if total == 0 {
        (f64::NAN, f64::NAN)
    } else {
        (kann as f64 / total as f64, trivial as f64 / total as f64)
    }
}

/// `‖P_g w‖ / ‖w‖` for every eigen-group among the leading eigenvalues ([`ALIGNMENT_RULE`]),
/// for a one-logit readout.
pub fn readout_alignment(
    model: &KoopmanModel,
    spectrum: &Spectrum,
    readout: &Readout,
) -> Vec<GroupAlignment> {
    let k = model.hidden();
    let w: Vec<f64> = (0..k).map(|i| readout.w[(i, 0)]).collect();
    let w_norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
    let r = model.rank();
    spectrum
        .groups()
        .into_iter()
        .filter(|g| g[0] < LEADING)
        .map(|g| {
            // The group's modes in state space: (u_j Bᵀ)ᵀ = B u_jᵀ, real and imaginary parts.
            let mut vectors: Vec<Vec<f64>> = Vec::new();
            for &j in &g {
                let mode: Vec<c64> = (0..k)
                    .map(|i| {
                        (0..r)
                            .map(|q| spectrum.u[(j, q)] * model.basis[(i, q)])
                            .sum::<c64>()
                    })
                    .collect();
                vectors.push(mode.iter().map(|z| z.re).collect());
                vectors.push(mode.iter().map(|z| z.im).collect());
            }
            GroupAlignment {
                group: g.iter().map(|j| j + 1).collect(),
                alignment: if w_norm > 0.0 {
                    projected_norm(&w, vectors) / w_norm
                } else {
                    0.0
                },
            }
        })
        .collect()
}

/// `‖P w‖` for `P` the orthogonal projection onto the span of `vectors` (modified
/// Gram-Schmidt; vectors that add less than 1e-10 of their norm are dependent and skipped).
fn projected_norm(w: &[f64], vectors: Vec<Vec<f64>>) -> f64 {
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut basis: Vec<Vec<f64>> = Vec::new();
    for mut v in vectors {
        let norm0 = dot(&v, &v).sqrt();
        for q in &basis {
            let c = dot(&v, q);
            v.iter_mut().zip(q).for_each(|(x, y)| *x -= c * y);
        }
        let norm = dot(&v, &v).sqrt();
        if norm0 > 0.0 && norm > 1e-10 * norm0 {
            v.iter_mut().for_each(|x| *x /= norm);
            basis.push(v);
        }
    }
    basis.iter().map(|q| dot(w, q).powi(2)).sum::<f64>().sqrt()
}

/// The probe's part of a run: its batch, its rows (committed with the checkpoint, written to
/// `probe.jsonl` after each commit) and where in training it is.
pub struct Prober {
    config: ProbeConfig,
    /// Positions of the probe sequences in the validation split (empty: no probe).
    indices: Vec<usize>,
    /// Rows so far: those of the committed epochs, then those of the epoch in progress.
    rows: Vec<ProbeRow>,
    /// Optimizer steps of the epochs before the one in progress.
    steps_before: usize,
    /// Seconds spent probing in the epoch in progress (not counted as training time).
    epoch_seconds: f64,
}

impl Prober {
    /// The probe of a fresh run: draws the batch, writes `probe_batch.json`, probes the
    /// untrained `model` (epoch 0) and writes `probe.jsonl`. Off (no files) when the config
    /// turns it off or the task has no probe.
    pub fn fresh<T: Task>(
        config: &ProbeConfig,
        task: &T,
        model: &T::Model,
        device: &Device,
        out: &Path,
    ) -> Result<Self> {
        let mut prober = Self::off(config);
        let pool = task.probe_pool();
        if !config.enabled() || pool == 0 {
            return Ok(prober);
        }
        prober.indices = choose_probe(pool, config.sequences, config.seed);
        let input = task.probe_input(model, &prober.indices, device)?;
        write_probe_batch(out, &prober.batch_record(&input))?;
        prober.probe_input(&input, ProbeAt::start(), Timer::start())?;
        write_probe_rows(out, &prober.rows)?;
        Ok(prober)
    }

    /// The probe of a resumed run: the batch of `probe_batch.json` (drawn again, and the file
    /// written, for a run that had none), the rows of the committed epochs from the
    /// checkpoint's tables, `probe.jsonl` written again with exactly those.
    pub fn resume<T: Task>(
        config: &ProbeConfig,
        task: &T,
        state: &TrainState,
        out: &Path,
    ) -> Result<Self> {
        let mut prober = Self::off(config);
        let pool = task.probe_pool();
        prober.steps_before = (1..=state.epochs_done).map(|e| task.batches(e).len()).sum();
        if !config.enabled() || pool == 0 {
            return Ok(prober);
        }
        prober.indices = if out.join(PROBE_BATCH_FILE).exists() {
            let batch = read_probe_batch(out)?;
            if batch.indices.iter().any(|&i| i >= pool) {
                bail!(
                    "{}: a probe index is beyond the {pool} validation sequences of this run",
                    out.join(PROBE_BATCH_FILE).display()
                );
            }
            batch.indices
        } else {
            choose_probe(pool, config.sequences, config.seed)
        };
        let rows: Vec<ProbeRow> = match state.tables.get(PROBE_FILE) {
            Some(v) => serde_json::from_value(v.clone())
                .with_context(|| format!("the checkpoint's table of {PROBE_FILE}"))?,
            None => Vec::new(),
        };
        prober.rows = rows
            .into_iter()
            .filter(|r| r.epoch <= state.epochs_done)
            .collect();
        write_probe_rows(out, &prober.rows)?;
        Ok(prober)
    }

    fn off(config: &ProbeConfig) -> Self {
        Prober {
            config: config.clone(),
            indices: Vec::new(),
            rows: Vec::new(),
            steps_before: 0,
            epoch_seconds: 0.0,
        }
    }

    /// Whether the probe runs.
    pub fn is_on(&self) -> bool {
        !self.indices.is_empty()
    }

    /// Start an epoch of `n` optimizer steps (after the previous one's `end_epoch`).
    pub fn begin_epoch(&mut self) {
        self.epoch_seconds = 0.0;
    }

    /// Seconds spent probing since [`Prober::begin_epoch`].
    pub fn epoch_seconds(&self) -> f64 {
        self.epoch_seconds
    }

    /// Whether a probe is due after `step` of an epoch of `n` steps (inside the epoch; the
    /// epoch's end is probed by [`Prober::end_of_epoch`]).
    pub fn due(&self, step: usize, n: usize) -> bool {
        let every = self.config.every_steps;
        self.is_on() && every > 0 && step < n && step.is_multiple_of(every)
    }

    /// Probe `model` after `step` optimizer steps of `epoch`.
    pub fn probe<T: Task>(
        &mut self,
        task: &T,
        model: &T::Model,
        device: &Device,
        (epoch, step, end_of_epoch): (usize, usize, bool),
    ) -> Result<Option<&ProbeRow>> {
        if !self.is_on() {
            return Ok(None);
        }
        let timer = Timer::start();
        let input = task.probe_input(model, &self.indices, device)?;
        let at = ProbeAt {
            epoch,
            step,
            global_step: self.steps_before + step,
            end_of_epoch,
        };
        self.probe_input(&input, at, timer)?;
        Ok(self.rows.last())
    }

    fn probe_input(&mut self, input: &ProbeInput, at: ProbeAt, timer: Timer) -> Result<()> {
        let mut row = probe_row(input, at)?;
        row.seconds = timer.secs();
        self.epoch_seconds += row.seconds;
        self.rows.push(row);
        Ok(())
    }

    /// After an epoch of `n` steps was probed: the next epoch's steps count from here.
    pub fn end_epoch(&mut self, n: usize) {
        self.steps_before += n;
    }

    /// Add the rows to the checkpoint's `tables` (before the checkpoint is saved).
    pub fn save_into(&self, tables: &mut BTreeMap<String, serde_json::Value>) -> Result<()> {
        if self.is_on() {
            tables.insert(PROBE_FILE.to_string(), serde_json::to_value(&self.rows)?);
        }
        Ok(())
    }

    /// Write `probe.jsonl` (after the checkpoint committed its rows).
    pub fn write(&self, out: &Path) -> Result<()> {
        if self.is_on() {
            write_probe_rows(out, &self.rows)?;
        }
        Ok(())
    }

    fn batch_record(&self, input: &ProbeInput) -> ProbeBatch {
        ProbeBatch {
            split: "validation".into(),
            seed: self.config.seed,
            indices: self.indices.clone(),
            lengths: input.states.lengths().to_vec(),
            hidden: input.states.hidden(),
            fit: FIT_RULE.into(),
            agreement: input.readout.as_ref().map(Readout::describe),
            readout_alignment: input
                .readout
                .as_ref()
                .filter(|r| r.b.len() == 1)
                .map(|_| ALIGNMENT_RULE.into()),
        }
    }
}

impl ProbeAt {
    /// The probe of the untrained model.
    fn start() -> Self {
        ProbeAt {
            epoch: 0,
            step: 0,
            global_step: 0,
            end_of_epoch: true,
        }
    }
}

/// The end-of-epoch probe's log line.
pub fn probe_line(row: &ProbeRow, epoch_seconds: f64) -> String {
    let lead = row
        .leading
        .first()
        .map(|l| {
            let tau = l.tau.map_or("inf".to_string(), |t| format!("{t:.0}"));
            format!("|λ1| {:.4} (τ {tau})", l.modulus)
        })
        .unwrap_or_default();
    let agree = match (row.agreement, row.agreement_trivial) {
        (Some(a), Some(t)) => format!(
            ", KANN agrees {:.1}% (trivial {:.1}%)",
            100.0 * a,
            100.0 * t
        ),
        _ => String::new(),
    };
    let share = if epoch_seconds > 0.0 {
        format!(
            " ({:.1}% of the epoch)",
            100.0 * row.seconds / epoch_seconds
        )
    } else {
        String::new()
    };
    format!(
        "probe after epoch {}: {} of {} |λ| > 0.99, {lead}, e_rel {:.4}{agree}; {}{share}",
        row.epoch,
        row.num_dominant,
        row.rank,
        row.e_rel,
        fmt_secs(row.seconds)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_norm_of_a_vector_inside_and_outside_the_span() {
        let w = [3.0, 4.0, 0.0];
        assert!((projected_norm(&w, vec![vec![1.0, 0.0, 0.0]]) - 3.0).abs() < 1e-12);
        // Dependent vectors add nothing; a full basis gives the whole norm.
        let span = vec![
            vec![1.0, 1.0, 0.0],
            vec![2.0, 2.0, 0.0],
            vec![1.0, -1.0, 0.0],
        ];
        assert!((projected_norm(&w, span) - 5.0).abs() < 1e-12);
        assert_eq!(projected_norm(&w, vec![vec![0.0, 0.0, 1.0]]), 0.0);
    }

    #[test]
    fn readout_classes_by_sign_and_by_argmax() {
        let sign = Readout {
            w: Mat::from_fn(2, 1, |i, _| if i == 0 { 1.0 } else { -1.0 }),
            b: vec![0.0],
            scored: ScoredSteps::Last,
        };
        assert_eq!(sign.class(&[2.0, 1.0]), 1);
        assert_eq!(sign.class(&[1.0, 2.0]), 0);
        let argmax = Readout {
            w: Mat::from_fn(2, 3, |i, c| if i == c { 1.0 } else { 0.0 }),
            b: vec![0.0, 0.0, 0.5],
            scored: ScoredSteps::Last,
        };
        assert_eq!(argmax.class(&[0.1, 0.2]), 2);
        assert_eq!(argmax.class(&[0.1, 0.9]), 1);
    }

    /// A linear system `h_{t+1} = h_t A` is its own Koopman operator: the probe finds its
    /// eigenvalues, a near-zero `e_rel`, and KANN agrees with the "network" everywhere.
    #[test]
    fn a_linear_system_is_probed_exactly() {
        let (s, n, k) = (12, 30, 3);
        // Rotation by 0.2 rad at modulus 0.995 in the first two units; the third stays 0, so the
        // states span the rotation plane exactly.
        let (c, sn) = (0.995 * 0.2f64.cos(), 0.995 * 0.2f64.sin());
        let a = [[c, sn, 0.0], [-sn, c, 0.0], [0.0, 0.0, 0.5]];
        let mut data = Vec::with_capacity(s * n * k);
        for seq in 0..s {
            let mut h = [1.0 + seq as f64 * 0.1, -0.5 + 0.07 * seq as f64, 0.0];
            for _ in 0..n {
                data.extend_from_slice(&h);
                h = [0, 1, 2].map(|j| (0..3).map(|i| h[i] * a[i][j]).sum());
            }
        }
        let states = States::from_f64(data, s, n, k).unwrap();
        let readout = Readout {
            w: Mat::from_fn(3, 1, |i, _| [1.0, 0.5, -0.2][i]),
            b: vec![0.1],
            scored: ScoredSteps::Window { start: 0, len: n },
        };
        let input = ProbeInput {
            states,
            readout: Some(readout),
        };
        let at = ProbeAt {
            epoch: 1,
            step: 4,
            global_step: 4,
            end_of_epoch: true,
        };
        let row = probe_row(&input, at).unwrap();
        assert_eq!(row.rank, 2);
        assert!((row.leading[0].modulus - 0.995).abs() < 1e-9, "{row:?}");
        assert!((row.leading[0].im.abs() - 0.995 * 0.2f64.sin()).abs() < 1e-9);
        assert_eq!(row.num_dominant, 2);
        let tau = row.leading[0].tau.unwrap();
        assert!((tau - 0.01f64.ln() / 0.995f64.ln()).abs() < 1e-6);
        let groups = row.readout_alignment.unwrap();
        assert_eq!(groups[0].group, vec![1, 2]);
        // The readout's part in the rotation plane: ‖(1, 0.5)‖ / ‖(1, 0.5, −0.2)‖.
        let expected = (1.25f64).sqrt() / (1.29f64).sqrt();
        assert!((groups[0].alignment - expected).abs() < 1e-6, "{groups:?}");
    }
}
