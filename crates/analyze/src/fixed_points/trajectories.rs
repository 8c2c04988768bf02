//! Stage 1: the trajectories the local analysis works on, as plain `f64` numbers: the cell's
//! weights ([`cell_from_recurrent`]) and the full states `s_t` with the inputs `x_t` of every
//! real step ([`Trajectories`]; hooked from an IMDB run by [`hook_imdb`], from a copy run by
//! `crate::copy`).

use anyhow::{Context, Result};
use burn::tensor::Tensor;
use kann_data::progress::progress_bar;
use kann_dynamics::Cell;
use kann_koopman::States;
use kann_models::cells::Recurrent;
use kann_models::npy::tensor_to_vec;

use crate::common::sample_indices;
use crate::imdb::data::{ImdbRun, Item, tokens_tensor};

/// The cell of a trained recurrent layer as plain numbers (f32 weights widened to f64).
pub fn cell_from_recurrent(layer: &Recurrent) -> Result<Cell> {
    let kind = layer.kind();
    fn numbers<const D: usize>(t: &Tensor<D>) -> Result<Vec<f64>> {
        Ok(tensor_to_vec(t)?.into_iter().map(f64::from).collect())
    }
    Ok(Cell::new(
        kind,
        layer.d_input(),
        layer.d_hidden(),
        numbers(&layer.w_x.val())?,
        numbers(&layer.b_x.val())?,
        numbers(&layer.w_h.val())?,
        numbers(&layer.b_h.val())?,
    )?)
}

/// The real steps of a batch: full states `s_t` and embedded inputs `x_t`, `t = 0..len`, where
/// `s_t = F(s_{t−1}, x_t)` and `s_{−1} = 0`.
#[derive(Debug, Clone)]
pub struct Trajectories {
    /// Width `n` of the full state.
    pub state_dim: usize,
    /// Width `H` of the hidden part `h` (the first `H` entries of `s`).
    pub hidden: usize,
    /// Width `X` of the input.
    pub input_dim: usize,
    /// Per review: states `len × n`, row-major.
    pub states: Vec<Vec<f64>>,
    /// Per review: inputs `len × X`, row-major.
    pub inputs: Vec<Vec<f64>>,
    /// What one sequence is called in reports (`review`, `beat`, `string`).
    pub unit: &'static str,
}

impl Trajectories {
    /// Real steps of review `i`.
    pub fn len_of(&self, i: usize) -> usize {
        self.states[i].len() / self.state_dim
    }

    /// State `s_t` of review `i`.
    pub fn state(&self, i: usize, t: usize) -> &[f64] {
        &self.states[i][t * self.state_dim..(t + 1) * self.state_dim]
    }

    /// Input `x_t` of review `i`.
    pub fn input(&self, i: usize, t: usize) -> &[f64] {
        &self.inputs[i][t * self.input_dim..(t + 1) * self.input_dim]
    }

    /// The hidden parts as [`States`] (padded to the longest review, with its lengths).
    pub fn hidden_states(&self) -> Result<States> {
        let (s, k) = (self.states.len(), self.hidden);
        let width = (0..s).map(|i| self.len_of(i)).max().unwrap_or(0);
        let mut data = vec![0.0; s * width * k];
        for i in 0..s {
            for t in 0..self.len_of(i) {
                data[(i * width + t) * k..(i * width + t + 1) * k]
                    .copy_from_slice(&self.state(i, t)[..k]);
            }
        }
        let lengths = (0..s).map(|i| self.len_of(i)).collect();
        Ok(States::new_with_lengths(data, s, width, k, lengths)?)
    }

    /// The mean input `x̄` over every real step.
    pub fn mean_input(&self) -> Vec<f64> {
        let mut sum = vec![0.0; self.input_dim];
        let mut count = 0usize;
        for x in &self.inputs {
            for row in x.chunks(self.input_dim) {
                for (a, b) in sum.iter_mut().zip(row) {
                    *a += b;
                }
                count += 1;
            }
        }
        sum.iter().map(|a| a / count.max(1) as f64).collect()
    }

    /// `n` states sampled without replacement along the trajectories (seeded).
    pub fn sample_states(&self, n: usize, seed: u64) -> Vec<Vec<f64>> {
        let index: Vec<(usize, usize)> = (0..self.states.len())
            .flat_map(|i| (0..self.len_of(i)).map(move |t| (i, t)))
            .collect();
        sample_indices(index.len(), n.min(index.len()), seed)
            .into_iter()
            .map(|k| self.state(index[k].0, index[k].1).to_vec())
            .collect()
    }
}

/// Hooks the states (with the LSTM's cell states) and embedded inputs of `items` of an IMDB
/// run, `chunk` reviews per forward pass.
pub fn hook_imdb(run: &ImdbRun, items: &[&Item], chunk: usize) -> Result<Trajectories> {
    let emb = tensor_to_vec(&run.model.embedding.weight.val())?;
    let x_dim = run.model.recurrent.d_input();
    let k = run.model.d_hidden();
    let lstm = run.model.recurrent.kind() == kann_models::cells::CellKind::Lstm;
    let n = if lstm { 2 * k } else { k };
    let mut states = Vec::with_capacity(items.len());
    let mut inputs = Vec::with_capacity(items.len());
    let bar = progress_bar(items.len().div_ceil(chunk) as u64, "  batch");
    for part in items.chunks(chunk) {
        let width = part.iter().map(|it| it.ids.len()).max().unwrap_or(1);
        let lengths: Vec<usize> = part.iter().map(|it| it.ids.len()).collect();
        let hooked =
            run.model
                .forward_states(tokens_tensor(part, width, &run.device), &lengths, lstm)?;
        let h = tensor_to_vec(&hooked.hidden)?;
        let c = hooked.cell.as_ref().map(tensor_to_vec).transpose()?;
        for (r, it) in part.iter().enumerate() {
            let len = it.ids.len();
            let mut s = Vec::with_capacity(len * n);
            let mut x = Vec::with_capacity(len * x_dim);
            for t in 0..len {
                let base = (r * width + t) * k;
                s.extend(h[base..base + k].iter().map(|&v| f64::from(v)));
                if let Some(c) = &c {
                    s.extend(c[base..base + k].iter().map(|&v| f64::from(v)));
                }
                let id = it.ids[t] as usize;
                let row = emb
                    .get(id * x_dim..(id + 1) * x_dim)
                    .with_context(|| format!("piece id {id} outside the embedding"))?;
                x.extend(row.iter().map(|&v| f64::from(v)));
            }
            states.push(s);
            inputs.push(x);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(Trajectories {
        state_dim: n,
        hidden: k,
        input_dim: x_dim,
        states,
        inputs,
        unit: "review",
    })
}
