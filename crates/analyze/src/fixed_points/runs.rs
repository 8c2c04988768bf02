//! Stage 1 for a run of any task ([`load`]): the cell as plain numbers, the trajectories of the
//! analysis batch, the readout ([`Readout`]) and the constant inputs the search runs at.
//!
//! | task | batch | state `s_t` | input `x_t` | inputs searched | readout |
//! | --- | --- | --- | --- | --- | --- |
//! | IMDB | the reviews of `analyze imdb` (same `--batch`, `--seed`) | GRU `h_t` / LSTM `[h_t; c_t]` | embedded piece | zero, mean `x̄` | logit `G` |
//! | ECG | the normal test beats of `analyze ecg` (same `--batch`, `--seed`) | encoder `[h_t; c_t]` | the beat's sample | zero, mean sample | none |
//! | copy | test strings drawn with `--seed` | `h_t` (`[h_t; c_t]`) | one-hot symbol | zero, blank | `argmax G` |

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use kann_data::ecg::Beat;
use kann_dynamics::Cell;
use kann_models::beats_tensor;
use kann_models::config::{RunConfig, Task};
use kann_models::npy::tensor_to_vec;
use kann_models::run::CONFIG_FILE;

use super::readout::Readout;
use super::{FixedPointArgs, Trajectories, cell_from_recurrent, hook_imdb};
use crate::common::{sample_indices, step};
use crate::copy::predict::ClassReadout;
use crate::imdb::data::{ImdbData, ImdbRun};

/// What the local analysis needs of a run, whatever its task.
pub struct LocalRun {
    /// The run folder.
    pub dir: PathBuf,
    /// Its task.
    pub task: Task,
    /// The recurrent cell (for ECG: the encoder's) as plain numbers.
    pub cell: Cell,
    /// The analysis batch's trajectories.
    pub traj: Trajectories,
    /// What the network reads from the hidden state.
    pub readout: Readout,
    /// The constant inputs the search runs at, by name, in order (the last one with a fixed
    /// point is the one drawn and judged).
    pub inputs: Vec<(&'static str, Vec<f64>)>,
}

/// Loads the run in `dir` (task from its config) and hooks its analysis batch.
pub fn load(args: &FixedPointArgs, dir: &Path) -> Result<LocalRun> {
    let config = RunConfig::load(&dir.join(CONFIG_FILE))
        .with_context(|| format!("reading {}", dir.join(CONFIG_FILE).display()))?;
    match config.task() {
        Task::Imdb => imdb(args, dir),
        Task::Ecg => ecg(args, dir),
        Task::Copy => copy(args, dir),
    }
}

/// The zero input and the batch's mean input `x̄`.
fn zero_and_mean(traj: &Trajectories) -> Vec<(&'static str, Vec<f64>)> {
    vec![
        ("zero", vec![0.0; traj.input_dim]),
        ("mean", traj.mean_input()),
    ]
}

/// An IMDB run: the reviews of `analyze imdb`'s analysis batch.
fn imdb(args: &FixedPointArgs, dir: &Path) -> Result<LocalRun> {
    let run = ImdbRun::load(Some(dir))?;
    let data = ImdbData::load(&run, args.common.data_dir.as_deref())?;
    let max_len = run.config.data.max_len;
    let (batch, _) =
        crate::imdb::draw_batches(&data.kept, args.common.batch, args.common.seed, max_len)?;
    let cell = cell_from_recurrent(&run.model.recurrent)?;
    let traj = step(
        &format!("hooking the states of {} test reviews", batch.len()),
        || hook_imdb(&run, &batch, args.stream_batch),
    )?;
    Ok(LocalRun {
        dir: run.dir.clone(),
        task: Task::Imdb,
        cell,
        inputs: zero_and_mean(&traj),
        traj,
        readout: Readout::Logit(run.readout.clone()),
    })
}

/// An ECG run: the encoder on `analyze ecg`'s batch of normal test beats (the same draw).
fn ecg(args: &FixedPointArgs, dir: &Path) -> Result<LocalRun> {
    let input = crate::ecg::EcgInput::load_dir(dir.to_path_buf(), &args.common)?;
    let (b, normal) = (args.common.batch, &input.splits.test_normal);
    if b > normal.len() {
        bail!(
            "--batch {b} is larger than the test set: {} normal test beats",
            normal.len()
        );
    }
    let beats = crate::ecg::pick(normal, b, args.common.seed);
    let model = &input.model;
    let cell = cell_from_recurrent(&model.encoder)?;
    let lstm = model.encoder.kind() == kann_models::cells::CellKind::Lstm;
    let traj = step(&format!("encoder states of {b} normal test beats"), || {
        let hooked = model.encode_states(beats_tensor(&beats, &input.device)?, lstm)?;
        let h = tensor_to_vec(&hooked.hidden)?;
        let c = hooked.cell.as_ref().map(tensor_to_vec).transpose()?;
        Ok(beat_trajectories(
            &beats,
            &h,
            c.as_deref(),
            model.d_latent(),
        ))
    })?;
    Ok(LocalRun {
        dir: dir.to_path_buf(),
        task: Task::Ecg,
        cell,
        inputs: zero_and_mean(&traj),
        traj,
        readout: Readout::None,
    })
}

/// The encoder's trajectories from its hooked states `h` (and `c`), `[beats, T, k]` row-major:
/// per beat the states `[h_t; c_t]` and the inputs `x_t` (the beat's samples).
fn beat_trajectories(beats: &[&Beat], h: &[f32], c: Option<&[f32]>, k: usize) -> Trajectories {
    let n = if c.is_some() { 2 * k } else { k };
    let mut states = Vec::with_capacity(beats.len());
    let mut inputs = Vec::with_capacity(beats.len());
    for (r, beat) in beats.iter().enumerate() {
        let t_len = beat.values.len();
        let mut s = Vec::with_capacity(t_len * n);
        for t in 0..t_len {
            let base = (r * t_len + t) * k;
            s.extend(h[base..base + k].iter().map(|&v| f64::from(v)));
            if let Some(c) = c {
                s.extend(c[base..base + k].iter().map(|&v| f64::from(v)));
            }
        }
        states.push(s);
        inputs.push(beat.values.iter().map(|&v| f64::from(v)).collect());
    }
    Trajectories {
        state_dim: n,
        hidden: k,
        input_dim: 1,
        states,
        inputs,
        unit: "beat",
    }
}

/// A copy run: `--batch` test strings drawn with `--seed`, searched at the zero and the blank
/// input (the input of the delay and of the recall).
fn copy(args: &FixedPointArgs, dir: &Path) -> Result<LocalRun> {
    let (model, task, test) = crate::copy::load(dir)?;
    let b = args.common.batch;
    if b > test.len() {
        bail!(
            "--batch {b} is larger than the run's {} test sequences ([data] test in {})",
            test.len(),
            dir.join(CONFIG_FILE).display()
        );
    }
    let batch: Vec<_> = sample_indices(test.len(), b, args.common.seed)
        .into_iter()
        .map(|i| &test[i])
        .collect();
    let cell = cell_from_recurrent(&model.recurrent)?;
    let (w, bias) = model.readout_weights()?;
    let readout = ClassReadout::new(
        w.into_iter().map(f64::from).collect(),
        bias.into_iter().map(f64::from).collect(),
        model.d_hidden(),
    )?;
    let traj = step(&format!("hooking the states of {b} test strings"), || {
        crate::copy::hook(&model, &batch)
    })?;
    let mut blank = vec![0.0; task.input_tokens()];
    blank[task.blank()] = 1.0;
    Ok(LocalRun {
        dir: dir.to_path_buf(),
        task: Task::Copy,
        cell,
        inputs: vec![("zero", vec![0.0; task.input_tokens()]), ("blank", blank)],
        traj,
        readout: Readout::Classes(readout),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beat_trajectories_interleave_h_and_c_per_step() {
        let beats = [
            Beat {
                label: 1,
                values: vec![0.5, -1.0],
                index: 0,
            },
            Beat {
                label: 1,
                values: vec![2.0, 3.0],
                index: 1,
            },
        ];
        let refs: Vec<&Beat> = beats.iter().collect();
        // k = 1: h[beat, t] = 10 beat + t, c = −h.
        let h = [0.0f32, 1.0, 10.0, 11.0];
        let c: Vec<f32> = h.iter().map(|v| -v).collect();
        let t = beat_trajectories(&refs, &h, Some(&c), 1);
        assert_eq!((t.state_dim, t.hidden, t.input_dim), (2, 1, 1));
        assert_eq!(t.state(1, 1), &[11.0, -11.0]);
        assert_eq!(t.input(0, 1), &[-1.0]);
        assert_eq!(t.mean_input(), vec![1.125]);
        let gru = beat_trajectories(&refs, &h, None, 1);
        assert_eq!(gru.state(1, 0), &[10.0]);
    }
}
