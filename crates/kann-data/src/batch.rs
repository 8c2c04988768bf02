//! Batching: padded token batches with a length mask, optional length bucketing, and ECG batches.
//!
//! Reviews longer than a maximum length are dropped (the paper drops reviews of more than 1000
//! pieces: [`LengthPolicy::Drop`]) or cut ([`LengthPolicy::Truncate`]). Padding uses
//! [`crate::tokenizer::PAD_ID`] (0); `mask` / `lengths` tell padding apart.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::ecg::{Beat, SERIES_LEN};
use crate::error::{Error, Result};
use crate::tokenizer::PAD_ID;

/// What to do with a sequence longer than the maximum length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthPolicy {
    /// Leave it out (the paper: reviews of more than 1000 pieces are dropped).
    Drop,
    /// Keep its first `max_len` tokens.
    Truncate,
}

/// How long a batch's rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadTo {
    /// Pad to the longest sequence of the batch.
    Longest,
    /// Pad every batch to the maximum length (the reference padded to 1000).
    MaxLen,
}

/// Batching options.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchConfig {
    /// Sequences per batch (64 in the paper).
    pub batch_size: usize,
    /// Maximum length (1000 in the paper); `None`: no limit.
    pub max_len: Option<usize>,
    /// What happens to longer sequences.
    pub policy: LengthPolicy,
    /// Row length of a batch.
    pub pad_to: PadTo,
    /// Shuffle the order every epoch (seeded).
    pub shuffle: bool,
    /// Length bucketing: within chunks of this many batches, sort by length, cut into batches,
    /// then shuffle the batches. `None`: no bucketing.
    pub bucket_batches: Option<usize>,
    /// Drop a last, smaller batch.
    pub drop_last: bool,
    /// Base seed; epoch `e` uses a stream derived from (seed, e).
    pub seed: u64,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            batch_size: 64,
            max_len: Some(1000),
            policy: LengthPolicy::Drop,
            pad_to: PadTo::Longest,
            shuffle: true,
            bucket_batches: Some(50),
            drop_last: false,
            seed: 0,
        }
    }
}

/// A padded batch of token sequences, row-major `[batch_size, max_len]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Token ids, `batch_size * max_len`, row-major; padding is [`PAD_ID`].
    pub ids: Vec<u32>,
    /// `true` at real tokens, `false` at padding; same layout as `ids`.
    pub mask: Vec<bool>,
    /// Real length of each row (>= 1 unless the sequence was empty).
    pub lengths: Vec<usize>,
    /// Label of each row (1.0 = positive review).
    pub labels: Vec<f32>,
    /// Index of each row's sequence in the input given to [`TextBatcher::new`].
    pub indices: Vec<usize>,
    /// Rows.
    pub batch_size: usize,
    /// Columns (time steps).
    pub max_len: usize,
}

/// Holds tokenized sequences and cuts them into batches each epoch.
#[derive(Debug, Clone)]
pub struct TextBatcher {
    seqs: Vec<Vec<u32>>,
    labels: Vec<f32>,
    /// Input indices kept after the length policy.
    kept: Vec<usize>,
    config: BatchConfig,
}

impl TextBatcher {
    /// Applies the length policy to `seqs` (labels aligned) and prepares batching.
    pub fn new(seqs: Vec<Vec<u32>>, labels: Vec<f32>, config: BatchConfig) -> Result<Self> {
        if seqs.len() != labels.len() {
            return Err(Error::Config(format!(
                "{} sequences but {} labels",
                seqs.len(),
                labels.len()
            )));
        }
        if config.batch_size == 0 {
            return Err(Error::Config("batch_size must be at least 1".into()));
        }
        if config.max_len == Some(0) {
            return Err(Error::Config("max_len must be at least 1".into()));
        }
        if config.bucket_batches == Some(0) {
            return Err(Error::Config("bucket_batches must be at least 1".into()));
        }
        if config.pad_to == PadTo::MaxLen && config.max_len.is_none() {
            return Err(Error::Config("pad_to MaxLen needs a max_len".into()));
        }
        let kept = (0..seqs.len())
            .filter(|&i| match (config.max_len, config.policy) {
                (Some(m), LengthPolicy::Drop) => seqs[i].len() <= m,
                _ => true,
            })
            .collect();
        Ok(TextBatcher {
            seqs,
            labels,
            kept,
            config,
        })
    }

    /// Number of sequences kept by the length policy.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// Whether no sequence was kept.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Number of sequences dropped by [`LengthPolicy::Drop`].
    pub fn dropped(&self) -> usize {
        self.seqs.len() - self.kept.len()
    }

    /// Input indices kept by the length policy (ascending).
    pub fn kept_indices(&self) -> &[usize] {
        &self.kept
    }

    /// The configuration.
    pub fn config(&self) -> &BatchConfig {
        &self.config
    }

    /// The batch order of one epoch (lists of input indices), deterministic for (seed, epoch).
    pub fn epoch_order(&self, epoch: u64) -> Vec<Vec<usize>> {
        let c = &self.config;
        let mut rng = ChaCha8Rng::seed_from_u64(
            c.seed ^ epoch.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let mut order = self.kept.clone();
        if c.shuffle {
            order.shuffle(&mut rng);
        }
        let mut batches: Vec<Vec<usize>> = match c.bucket_batches {
            Some(n) => {
                let mut out = Vec::new();
                for chunk in order.chunks_mut(n * c.batch_size) {
                    chunk.sort_by_key(|&i| self.seqs[i].len());
                    out.extend(chunk.chunks(c.batch_size).map(<[usize]>::to_vec));
                }
                out
            }
            None => order.chunks(c.batch_size).map(<[usize]>::to_vec).collect(),
        };
        if c.drop_last {
            batches.retain(|b| b.len() == c.batch_size);
        }
        if c.shuffle && c.bucket_batches.is_some() {
            batches.shuffle(&mut rng);
        }
        batches
    }

    /// All batches of one epoch.
    pub fn batches(&self, epoch: u64) -> Vec<Batch> {
        self.epoch_order(epoch)
            .iter()
            .map(|idx| self.make_batch(idx))
            .collect()
    }

    /// Builds the padded batch of the given input indices.
    pub fn make_batch(&self, indices: &[usize]) -> Batch {
        let cap = self.config.max_len.unwrap_or(usize::MAX);
        let lengths: Vec<usize> = indices
            .iter()
            .map(|&i| self.seqs[i].len().min(cap))
            .collect();
        let max_len = match self.config.pad_to {
            PadTo::Longest => lengths.iter().copied().max().unwrap_or(0),
            PadTo::MaxLen => cap,
        };
        let b = indices.len();
        let mut ids = vec![PAD_ID; b * max_len];
        let mut mask = vec![false; b * max_len];
        for (r, (&i, &len)) in indices.iter().zip(&lengths).enumerate() {
            ids[r * max_len..r * max_len + len].copy_from_slice(&self.seqs[i][..len]);
            mask[r * max_len..r * max_len + len].fill(true);
        }
        Batch {
            ids,
            mask,
            lengths,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            indices: indices.to_vec(),
            batch_size: b,
            max_len,
        }
    }
}

/// A batch of ECG beats, row-major `[batch_size, 140]`.
#[derive(Debug, Clone, PartialEq)]
pub struct EcgBatch {
    /// Samples, `batch_size * 140`, row-major.
    pub values: Vec<f32>,
    /// Original class labels (1 = normal).
    pub labels: Vec<u8>,
    /// Rows.
    pub batch_size: usize,
    /// Samples per beat (140).
    pub len: usize,
}

/// Cuts beats into batches of `batch_size` (the last one may be smaller); shuffled with `seed`
/// when given, in order otherwise.
pub fn ecg_batches(beats: &[Beat], batch_size: usize, seed: Option<u64>) -> Result<Vec<EcgBatch>> {
    if batch_size == 0 {
        return Err(Error::Config("batch_size must be at least 1".into()));
    }
    let mut order: Vec<usize> = (0..beats.len()).collect();
    if let Some(s) = seed {
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(s));
    }
    order
        .chunks(batch_size)
        .map(|idx| {
            let mut values = Vec::with_capacity(idx.len() * SERIES_LEN);
            for &i in idx {
                let v = &beats[i].values;
                if v.len() != SERIES_LEN {
                    return Err(Error::Config(format!(
                        "beat {} has {} samples, expected {SERIES_LEN}",
                        beats[i].index,
                        v.len()
                    )));
                }
                values.extend_from_slice(v);
            }
            Ok(EcgBatch {
                values,
                labels: idx.iter().map(|&i| beats[i].label).collect(),
                batch_size: idx.len(),
                len: SERIES_LEN,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> (Vec<Vec<u32>>, Vec<f32>) {
        let seqs: Vec<Vec<u32>> = (0..23).map(|n| (1..=n as u32 + 1).collect()).collect();
        let labels = (0..23).map(|n| (n % 2) as f32).collect();
        (seqs, labels)
    }

    #[test]
    fn drop_and_truncate() {
        let (s, l) = data();
        let cfg = BatchConfig {
            batch_size: 4,
            max_len: Some(10),
            bucket_batches: None,
            shuffle: false,
            ..Default::default()
        };
        let b = TextBatcher::new(s.clone(), l.clone(), cfg.clone()).unwrap();
        assert_eq!((b.len(), b.dropped()), (10, 13));
        let batches = b.batches(0);
        assert_eq!(batches.len(), 3);
        assert_eq!(batches[0].max_len, 4);
        assert_eq!(batches[0].ids[..4], [1, 0, 0, 0]);
        assert_eq!(batches[0].mask[..5], [true, false, false, false, true]);
        assert_eq!(batches[2].batch_size, 2);

        let t = TextBatcher::new(
            s,
            l,
            BatchConfig {
                policy: LengthPolicy::Truncate,
                pad_to: PadTo::MaxLen,
                ..cfg
            },
        )
        .unwrap();
        assert_eq!(t.len(), 23);
        let last = t.batches(0).pop().unwrap();
        assert_eq!(last.max_len, 10);
        assert_eq!(last.lengths, [10, 10, 10]);
        assert_eq!(last.labels, [0.0, 1.0, 0.0]);
    }

    #[test]
    fn bucketing_is_seeded_and_covers_all() {
        let (s, l) = data();
        let cfg = BatchConfig {
            batch_size: 3,
            max_len: None,
            bucket_batches: Some(2),
            seed: 7,
            ..Default::default()
        };
        let b = TextBatcher::new(s, l, cfg).unwrap();
        let e0 = b.epoch_order(0);
        assert_eq!(e0, b.epoch_order(0));
        assert_ne!(e0, b.epoch_order(1));
        let mut all: Vec<usize> = e0.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, (0..23).collect::<Vec<_>>());
        // Within a chunk of 2 batches, sequences are sorted by length, so each batch's
        // lengths are non-decreasing.
        for batch in b.batches(0) {
            assert!(batch.lengths.windows(2).all(|w| w[0] <= w[1]));
        }
    }

    #[test]
    fn bad_config() {
        let (s, l) = data();
        let cfg = BatchConfig {
            batch_size: 0,
            ..Default::default()
        };
        assert!(TextBatcher::new(s.clone(), l.clone(), cfg).is_err());
        assert!(TextBatcher::new(s, l[..3].to_vec(), BatchConfig::default()).is_err());
    }

    #[test]
    fn ecg_batch_layout() {
        let beats: Vec<Beat> = (0..5)
            .map(|i| Beat {
                label: 1 + (i % 5) as u8,
                values: vec![i as f32; SERIES_LEN],
                index: i,
            })
            .collect();
        let b = ecg_batches(&beats, 2, None).unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b[1].values[SERIES_LEN], 3.0);
        assert_eq!(b[2].batch_size, 1);
        assert_eq!(b[2].labels, [5]);
        let s = ecg_batches(&beats, 5, Some(1)).unwrap();
        let mut l = s[0].labels.clone();
        l.sort();
        assert_eq!(l, [1, 2, 3, 4, 5]);
    }
}
