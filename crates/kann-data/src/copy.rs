//! The copy problem (the paper's App. D; Hochreiter & Schmidhuber 1997, Arjovsky et al. 2016):
//! remember a random string over a silent delay and replay it after a cue.
//!
//! Layout of one sequence of `T = 2·len + delay + 1` steps, with the alphabet `0..symbols`, the
//! blank `symbols` and the recall cue `symbols + 1` (input tokens; targets use the classes
//! `0..=symbols`, the blank being class `symbols`):
//!
//! | steps | input | target |
//! | --- | --- | --- |
//! | `0..len` | the string `a_0 … a_{len−1}`, drawn uniformly from the alphabet | blank |
//! | `len..len + delay` | blank | blank |
//! | `len + delay` | cue | blank |
//! | `len + delay + 1..T` (the *recall window*) | blank | `a_0 … a_{len−1}` |
//!
//! Everything is generated from a seed (ChaCha8), no files: the same [`CopySpec`] gives the same
//! sequences on every machine. Each split draws from its own stream (the seed mixed with the
//! split's name), so changing the size of one split does not change the others.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Error, Result};

/// The sizes of the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyTask {
    /// Length of the string to remember.
    pub len: usize,
    /// Size of the alphabet.
    pub symbols: usize,
    /// Blank steps between the end of the string and the cue.
    pub delay: usize,
}

impl CopyTask {
    /// Checks the sizes: `len ≥ 1`, `symbols ≥ 2`.
    pub fn new(len: usize, symbols: usize, delay: usize) -> Result<Self> {
        if len == 0 {
            return Err(Error::Config(
                "copy task: len = 0: must be at least 1".into(),
            ));
        }
        if symbols < 2 {
            return Err(Error::Config(format!(
                "copy task: symbols = {symbols}: must be at least 2"
            )));
        }
        Ok(CopyTask {
            len,
            symbols,
            delay,
        })
    }

    /// Steps per sequence, `2·len + delay + 1`.
    pub fn steps(&self) -> usize {
        2 * self.len + self.delay + 1
    }

    /// The blank token (input) and blank class (target).
    pub fn blank(&self) -> usize {
        self.symbols
    }

    /// The recall-cue token (input only).
    pub fn cue(&self) -> usize {
        self.symbols + 1
    }

    /// Input tokens: the alphabet, blank and cue (`symbols + 2`; the width of the one-hot input).
    pub fn input_tokens(&self) -> usize {
        self.symbols + 2
    }

    /// Output classes: the alphabet and blank (`symbols + 1`).
    pub fn classes(&self) -> usize {
        self.symbols + 1
    }

    /// The step of the cue, `len + delay`.
    pub fn cue_step(&self) -> usize {
        self.len + self.delay
    }

    /// The first step of the recall window, `len + delay + 1`; the window is
    /// `recall_start()..steps()`, and its step `recall_start() + i` recalls `a_i`.
    pub fn recall_start(&self) -> usize {
        self.cue_step() + 1
    }

    /// How many steps a symbol must be held: `a_i` is read at step `i` and recalled at
    /// `recall_start() + i`, `len + delay + 1` steps later (the same for every `i`).
    pub fn memory_span(&self) -> usize {
        self.recall_start()
    }

    /// The input and target of one string (`string.len() == len`, every entry below `symbols`).
    pub fn sequence(&self, string: &[usize]) -> Result<CopySequence> {
        if string.len() != self.len {
            return Err(Error::Config(format!(
                "copy task: a string of {} symbols given, len is {}",
                string.len(),
                self.len
            )));
        }
        if let Some((i, &s)) = string.iter().enumerate().find(|(_, s)| **s >= self.symbols) {
            return Err(Error::Config(format!(
                "copy task: symbol {s} at position {i} is outside the alphabet 0..{}",
                self.symbols
            )));
        }
        Ok(self.build(string.to_vec()))
    }

    /// The sequence of a string already checked to fit the task.
    fn build(&self, string: Vec<usize>) -> CopySequence {
        let t = self.steps();
        let mut input = vec![self.blank(); t];
        let mut target = vec![self.blank(); t];
        input[..self.len].copy_from_slice(&string);
        input[self.cue_step()] = self.cue();
        target[self.recall_start()..].copy_from_slice(&string);
        CopySequence {
            string,
            input,
            target,
        }
    }
}

/// One sequence of the copy task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySequence {
    /// The string to remember (`len` symbols).
    pub string: Vec<usize>,
    /// Input token of every step (`T`).
    pub input: Vec<usize>,
    /// Target class of every step (`T`): blank outside the recall window.
    pub target: Vec<usize>,
}

/// The task and the sizes and seed of its splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopySpec {
    /// The task.
    pub task: CopyTask,
    /// Training sequences.
    pub train: usize,
    /// Validation sequences.
    pub validation: usize,
    /// Test sequences.
    pub test: usize,
    /// Seed of every split.
    pub seed: u64,
}

/// The three splits of a [`CopySpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySplits {
    /// The task.
    pub task: CopyTask,
    /// Training sequences.
    pub train: Vec<CopySequence>,
    /// Validation sequences.
    pub validation: Vec<CopySequence>,
    /// Test sequences.
    pub test: Vec<CopySequence>,
}

/// The seed of one split's stream: `seed` mixed with the split's name (FNV-1a).
fn split_seed(seed: u64, split: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in split.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `n` random strings of `task`, seeded (ChaCha8, stream of `seed` and `split`).
pub fn generate(task: &CopyTask, n: usize, seed: u64, split: &str) -> Vec<CopySequence> {
    let mut rng = ChaCha8Rng::seed_from_u64(split_seed(seed, split));
    (0..n)
        .map(|_| {
            let string: Vec<usize> = (0..task.len)
                .map(|_| rng.random_range(0..task.symbols))
                .collect();
            // In the alphabet and of length `len` by construction.
            task.build(string)
        })
        .collect()
}

impl CopySpec {
    /// The three splits (`train`, `validation`, `test` streams of the seed).
    pub fn splits(&self) -> Result<CopySplits> {
        for (name, n) in [("validation", self.validation), ("test", self.test)] {
            if n == 0 {
                return Err(Error::Config(format!(
                    "copy task: {name} = 0 sequences: must be at least 1"
                )));
            }
        }
        Ok(CopySplits {
            task: self.task,
            train: generate(&self.task, self.train, self.seed, "train"),
            validation: generate(&self.task, self.validation, self.seed, "validation"),
            test: generate(&self.task, self.test, self.seed, "test"),
        })
    }
}

/// Per-symbol and whole-string accuracy of predicted classes over the recall window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RecallAccuracy {
    /// Recall steps whose class equals the target.
    pub symbols_right: usize,
    /// Recall steps scored.
    pub symbols: usize,
    /// Sequences whose whole recalled string is right.
    pub strings_right: usize,
    /// Sequences scored.
    pub strings: usize,
}

impl RecallAccuracy {
    /// Scores one sequence: `predicted` are the classes of its `len` recall steps.
    pub fn add(&mut self, predicted: &[usize], string: &[usize]) {
        let right = predicted.iter().zip(string).filter(|(p, s)| p == s).count();
        self.symbols_right += right;
        self.symbols += string.len();
        self.strings_right += usize::from(right == string.len() && predicted.len() == string.len());
        self.strings += 1;
    }

    /// Fraction of recall steps right (NaN when none were scored).
    pub fn per_symbol(&self) -> f64 {
        self.symbols_right as f64 / self.symbols as f64
    }

    /// Fraction of strings recalled without error (NaN when none were scored).
    pub fn whole_string(&self) -> f64 {
        self.strings_right as f64 / self.strings as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked() {
        assert!(CopyTask::new(0, 8, 10).is_err());
        assert!(CopyTask::new(5, 1, 10).is_err());
        let t = CopyTask::new(5, 8, 0).unwrap();
        assert_eq!(t.steps(), 11);
        assert!(t.sequence(&[1, 2, 3]).is_err());
        let e = t.sequence(&[1, 2, 8, 0, 0]).unwrap_err().to_string();
        assert!(e.contains("symbol 8 at position 2"), "{e}");
    }
}
