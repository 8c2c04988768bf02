//! WordPiece tokenizer with the paper's scheme (paper Sec. 4.1, Fig. 1).
//!
//! The reference case-folds a review (lowercase), splits it on whitespace only (punctuation
//! stays attached to words: `commenting,` is one word) and runs greedy longest-match-first
//! WordPiece over each word, continuation pieces carrying the prefix `##`. If some remainder of
//! a word matches no piece, the whole word becomes `<unk>`. With the paper's vocabulary,
//! "Watched this on KQED, with Frank Baxter commenting," gives
//! `watched this on k ##q ##ed, with frank baxter commenting ##,`.
//!
//! Two vocabulary sources:
//! - [`Tokenizer::train`]: trains a WordPiece vocabulary on texts with the `tokenizers` crate
//!   (its BPE trainer + `WordPiece::from_bpe`, as its `WordPieceTrainer` does, made
//!   deterministic; fed with the same lowercase + whitespace words the encoder sees);
//!   special tokens `<unk>`, `<cls>`, `<sep>` get ids 0, 1, 2 as in the paper's file;
//! - [`Tokenizer::from_vocab_file`]: loads a plain vocabulary file (one piece per line, line
//!   number - 1 = id), such as the paper's `imdb_wordpiece.vocab` (32,379 pieces).
//!
//! Encoding is done by this module's own greedy matcher (not `tokenizers`' `WordPiece` model),
//! so the result is exactly the reference's.
//!
//! **Padding convention.** The padding id is [`PAD_ID`] = 0, the first vocabulary entry
//! (`<unk>` in both the paper's and the trained vocabularies), as in the reference, which padded
//! with 0. Padding is told apart from a real `<unk>` by the batch's mask / lengths
//! ([`crate::batch::Batch`]), never by the id.

use std::fs;
use std::path::Path;

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use tokenizers::models::bpe::{BPE, BpeTrainer};
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::{AddedToken, Model};

use crate::error::{Error, Result};

/// The unknown-word piece.
pub const UNK: &str = "<unk>";
/// Classification token of the paper's vocabulary (id 1; unused by the models).
pub const CLS: &str = "<cls>";
/// Separator token of the paper's vocabulary (id 2; unused by the models).
pub const SEP: &str = "<sep>";
/// Prefix of continuation pieces.
pub const CONTINUATION: &str = "##";
/// Padding id: 0, the first vocabulary entry. The mask, not the id, marks padding.
pub const PAD_ID: u32 = 0;
/// Words longer than this many characters become `<unk>` (the default of both the HF and the
/// TensorFlow WordPiece implementations).
pub const DEFAULT_MAX_WORD_CHARS: usize = 100;

/// Result of encoding one text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Encoding {
    /// Token ids, one per piece.
    pub ids: Vec<u32>,
    /// Piece strings (`##` prefix on continuation pieces, `<unk>` for unknown words), for figures.
    pub pieces: Vec<String>,
    /// For each piece, the index of the whitespace-separated word it came from.
    pub words: Vec<u32>,
}

/// Options for [`Tokenizer::train`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Target vocabulary size (pieces, special tokens included). 32,000 by default.
    pub vocab_size: usize,
    /// Minimum pair frequency for a merge (2 by default).
    pub min_frequency: u64,
    /// Special tokens placed first; `<unk>` is always id 0 (added if missing).
    pub special_tokens: Vec<String>,
    /// Keep at most this many distinct characters in the alphabet (`None`: all).
    pub limit_alphabet: Option<usize>,
    /// Show the `tokenizers` crate's progress bars.
    pub show_progress: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            vocab_size: 32_000,
            min_frequency: 2,
            special_tokens: vec![UNK.into(), CLS.into(), SEP.into()],
            limit_alphabet: None,
            show_progress: false,
        }
    }
}

/// A WordPiece vocabulary with the paper's greedy longest-match-first encoder.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    pieces: Vec<String>,
    /// Word-initial pieces.
    starts: FxHashMap<String, u32>,
    /// Continuation pieces, stored without their `##`.
    continuations: FxHashMap<String, u32>,
    max_start_bytes: usize,
    max_cont_bytes: usize,
    unk_id: u32,
    max_word_chars: usize,
}

/// Lowercases `text` and splits it on (Unicode) whitespace: the paper's pre-tokenization.
pub fn normalize_words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

impl Tokenizer {
    /// Builds a tokenizer from pieces in id order. `source` names the origin in errors.
    ///
    /// Errors if there is no `<unk>` piece, a piece is empty or contains whitespace, or a piece
    /// appears twice.
    pub fn from_pieces(pieces: Vec<String>, source: &str) -> Result<Self> {
        let mut starts = FxHashMap::default();
        let mut continuations = FxHashMap::default();
        let mut unk_id = None;
        let mut seen: FxHashMap<&str, usize> = FxHashMap::default();
        for (id, p) in pieces.iter().enumerate() {
            let line = id + 1;
            if p.is_empty() {
                return Err(Error::parse(source, line, "empty vocabulary entry"));
            }
            if p.chars().any(char::is_whitespace) {
                return Err(Error::parse(
                    source,
                    line,
                    format!("vocabulary entry {p:?} contains whitespace"),
                ));
            }
            if let Some(first) = seen.insert(p.as_str(), line) {
                return Err(Error::parse(
                    source,
                    line,
                    format!("duplicate vocabulary entry {p:?} (first on line {first})"),
                ));
            }
            let id = u32::try_from(id)
                .map_err(|_| Error::parse(source, line, "vocabulary too large"))?;
            if p == UNK {
                unk_id = Some(id);
            }
            match p.strip_prefix(CONTINUATION) {
                Some(rest) if !rest.is_empty() => {
                    continuations.insert(rest.to_owned(), id);
                }
                _ => {
                    starts.insert(p.clone(), id);
                }
            }
        }
        let unk_id = unk_id.ok_or_else(|| {
            Error::entry(
                source,
                format!("vocabulary has no `{UNK}` entry ({} entries)", pieces.len()),
            )
        })?;
        let max_start_bytes = starts.keys().map(String::len).max().unwrap_or(0);
        let max_cont_bytes = continuations.keys().map(String::len).max().unwrap_or(0);
        Ok(Tokenizer {
            pieces,
            starts,
            continuations,
            max_start_bytes,
            max_cont_bytes,
            unk_id,
            max_word_chars: DEFAULT_MAX_WORD_CHARS,
        })
    }

    /// Loads a vocabulary file: one piece per line (`\n` or `\r\n`), line number - 1 = id.
    /// A final empty line is allowed. Errors name the file (and line).
    pub fn from_vocab_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let pieces: Vec<String> = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned())
            .collect();
        let mut pieces = pieces;
        if pieces.last().is_some_and(String::is_empty) {
            pieces.pop();
        }
        Self::from_pieces(pieces, &path.display().to_string())
    }

    /// Trains a WordPiece vocabulary on `texts` with the `tokenizers` crate (lowercase +
    /// whitespace words, `##` continuation prefix).
    ///
    /// `tokenizers`' `WordPieceTrainer` trains a BPE model and converts it to WordPiece; it
    /// numbers the continuation characters in the iteration order of a randomly seeded hash map
    /// of word counts, and that order breaks ties between equally frequent merges, so two runs
    /// on the same texts give different vocabularies. To make training deterministic this
    /// function does the same two steps itself: it counts the words, inserts them in sorted
    /// order into a hash map with fixed seeds, runs `BpeTrainer::do_train` on it and converts
    /// with `WordPiece::from_bpe`. (Same result for the same texts and build; ahash's fixed-seed
    /// order could differ on a build with AES target features enabled.)
    pub fn train<S: AsRef<str> + Sync>(texts: &[S], config: &TrainConfig) -> Result<Self> {
        let mut specials: Vec<String> = vec![UNK.to_owned()];
        specials.extend(config.special_tokens.iter().filter(|s| *s != UNK).cloned());
        if config.vocab_size <= specials.len() {
            return Err(Error::Config(format!(
                "vocab_size {} must exceed the number of special tokens ({})",
                config.vocab_size,
                specials.len()
            )));
        }
        let mut builder = BpeTrainer::builder()
            .vocab_size(config.vocab_size)
            .min_frequency(config.min_frequency)
            .show_progress(config.show_progress)
            .continuing_subword_prefix(CONTINUATION.to_owned())
            .special_tokens(
                specials
                    .iter()
                    .map(|s| AddedToken::from(s.clone(), true))
                    .collect(),
            );
        if let Some(limit) = config.limit_alphabet {
            builder = builder.limit_alphabet(limit);
        }
        let trainer = builder.build();

        // Word counts, computed in parallel, then inserted in sorted order with fixed seeds.
        let counts = texts
            .par_iter()
            .fold(FxHashMap::<String, u64>::default, |mut m, t| {
                for w in normalize_words(t.as_ref()) {
                    *m.entry(w).or_default() += 1;
                }
                m
            })
            .reduce(FxHashMap::default, |a, b| {
                // Merge the smaller map into the larger one.
                if a.len() >= b.len() {
                    merge_counts(a, b)
                } else {
                    merge_counts(b, a)
                }
            });
        let mut sorted: Vec<(String, u64)> = counts.into_iter().collect();
        sorted.sort_unstable();
        let mut word_counts: ahash::AHashMap<compact_str::CompactString, u64> =
            ahash::AHashMap::with_capacity_and_hasher(
                sorted.len(),
                ahash::RandomState::with_seeds(0x6b61_6e6e, 0x6461_7461, 0x776f_7264, 0x7069_6563),
            );
        for (w, c) in sorted {
            word_counts.insert(compact_str::CompactString::from(w), c);
        }
        let mut bpe = BPE::default();
        trainer
            .do_train(&word_counts, &mut bpe)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let model = WordPiece::from_bpe(&bpe);
        let vocab = model.get_vocab();
        let mut pieces = vec![String::new(); vocab.len()];
        for (piece, id) in vocab {
            let slot = pieces.get_mut(id as usize).ok_or_else(|| {
                Error::Tokenizer(format!("trained vocabulary has a gap (id {id})"))
            })?;
            *slot = piece;
        }
        Self::from_pieces(pieces, "trained vocabulary")
    }

    /// Writes the vocabulary, one piece per line (line number - 1 = id), atomically (temporary
    /// file in the same folder, then rename). Same format as the paper's file.
    pub fn save_vocab(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut text = String::with_capacity(self.pieces.iter().map(|p| p.len() + 1).sum());
        for p in &self.pieces {
            text.push_str(p);
            text.push('\n');
        }
        crate::write_atomic(path, text.as_bytes())
    }

    /// Sets the maximum word length in characters (longer words become `<unk>`).
    pub fn with_max_word_chars(mut self, max_word_chars: usize) -> Self {
        self.max_word_chars = max_word_chars;
        self
    }

    /// Number of pieces.
    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    /// Id of `<unk>`.
    pub fn unk_id(&self) -> u32 {
        self.unk_id
    }

    /// The padding id ([`PAD_ID`]).
    pub fn pad_id(&self) -> u32 {
        PAD_ID
    }

    /// All pieces in id order.
    pub fn pieces(&self) -> &[String] {
        &self.pieces
    }

    /// The piece string of `id`, if any.
    pub fn id_to_piece(&self, id: u32) -> Option<&str> {
        self.pieces.get(id as usize).map(String::as_str)
    }

    /// The id of a piece (continuation pieces with their `##`).
    pub fn piece_to_id(&self, piece: &str) -> Option<u32> {
        match piece.strip_prefix(CONTINUATION) {
            Some(rest) if !rest.is_empty() => self.continuations.get(rest).copied(),
            _ => self.starts.get(piece).copied(),
        }
    }

    /// Greedy longest-match-first WordPiece of one (already lowercased) word; calls `emit`
    /// with the id of each piece (just `<unk>` if some remainder matches no piece).
    fn encode_word(&self, word: &str, mut emit: impl FnMut(u32)) {
        if word.chars().count() > self.max_word_chars {
            emit(self.unk_id);
            return;
        }
        // Pieces of this word, committed only if the whole word matches.
        let mut ids: smallvec_like::Buf = smallvec_like::Buf::default();
        let mut start = 0;
        while start < word.len() {
            let max_bytes = if start == 0 {
                self.max_start_bytes
                    .max(self.max_cont_bytes + CONTINUATION.len())
            } else {
                self.max_cont_bytes
            };
            let mut end = (start + max_bytes).min(word.len());
            while !word.is_char_boundary(end) {
                end -= 1;
            }
            let mut found = None;
            while end > start {
                let sub = &word[start..end];
                let hit = if start == 0 {
                    // At the start of a word the raw text is looked up in the whole vocabulary,
                    // as the HF and TensorFlow implementations do: a word written `##ing`
                    // matches the piece `##ing`.
                    self.starts.get(sub).or_else(|| {
                        sub.strip_prefix(CONTINUATION)
                            .filter(|r| !r.is_empty())
                            .and_then(|r| self.continuations.get(r))
                    })
                } else {
                    self.continuations.get(sub)
                };
                if let Some(&id) = hit {
                    found = Some(id);
                    break;
                }
                end -= 1;
                while !word.is_char_boundary(end) {
                    end -= 1;
                }
            }
            match found {
                Some(id) => {
                    ids.push(id);
                    start = end;
                }
                None => {
                    emit(self.unk_id);
                    return;
                }
            }
        }
        for &id in ids.as_slice() {
            emit(id);
        }
    }

    /// Encodes a text: ids, piece strings and word indices.
    pub fn encode(&self, text: &str) -> Encoding {
        let mut enc = Encoding::default();
        for (w, word) in text.to_lowercase().split_whitespace().enumerate() {
            self.encode_word(word, |id| {
                enc.ids.push(id);
                enc.pieces.push(self.pieces[id as usize].clone());
                enc.words.push(w as u32);
            });
        }
        enc
    }

    /// Encodes a text to ids only (faster: no piece strings).
    pub fn encode_ids(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::with_capacity(text.len() / 4);
        for word in text.to_lowercase().split_whitespace() {
            self.encode_word(word, |id| ids.push(id));
        }
        ids
    }

    /// Encodes many texts to ids in parallel (rayon); output order = input order.
    pub fn encode_ids_batch<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Vec<Vec<u32>> {
        texts
            .par_iter()
            .map(|t| self.encode_ids(t.as_ref()))
            .collect()
    }

    /// Encodes many texts (ids and pieces) in parallel; output order = input order.
    pub fn encode_batch<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Vec<Encoding> {
        texts.par_iter().map(|t| self.encode(t.as_ref())).collect()
    }
}

/// Adds the word counts of `b` to `a`.
fn merge_counts(
    mut a: FxHashMap<String, u64>,
    b: FxHashMap<String, u64>,
) -> FxHashMap<String, u64> {
    for (k, v) in b {
        *a.entry(k).or_default() += v;
    }
    a
}

/// A tiny inline buffer so that per-word piece lists do not allocate.
mod smallvec_like {
    /// Up to 16 ids inline, then a heap vector.
    #[derive(Default)]
    pub struct Buf {
        inline: [u32; 16],
        len: usize,
        heap: Vec<u32>,
    }

    impl Buf {
        pub fn push(&mut self, id: u32) {
            if self.len < 16 && self.heap.is_empty() {
                self.inline[self.len] = id;
                self.len += 1;
            } else {
                if self.heap.is_empty() {
                    self.heap.extend_from_slice(&self.inline[..self.len]);
                }
                self.heap.push(id);
            }
        }

        pub fn as_slice(&self) -> &[u32] {
            if self.heap.is_empty() {
                &self.inline[..self.len]
            } else {
                &self.heap
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(pieces: &[&str]) -> Tokenizer {
        Tokenizer::from_pieces(pieces.iter().map(|s| s.to_string()).collect(), "test").unwrap()
    }

    #[test]
    fn greedy_longest_match() {
        let t = tok(&[
            "<unk>", "un", "##aff", "##able", "una", "##ff", "a", "##,", "x",
        ]);
        let e = t.encode("Unaffable, a");
        // Greedy: "una" (longest start) then "##ff", "##able", "##,".
        assert_eq!(e.pieces, ["una", "##ff", "##able", "##,", "a"]);
        assert_eq!(e.ids, [4, 5, 3, 7, 6]);
        assert_eq!(e.words, [0, 0, 0, 0, 1]);
        // Remainder "q" has no piece -> the whole word is <unk>.
        let e = t.encode("unq x");
        assert_eq!(e.pieces, ["<unk>", "x"]);
        assert_eq!(t.encode_ids("unq x"), vec![0, 8]);
    }

    #[test]
    fn word_starting_with_continuation_prefix() {
        let t = tok(&["<unk>", "#", "##ing", "##s", "##"]);
        assert_eq!(t.encode("##ings").pieces, ["##ing", "##s"]);
        assert_eq!(t.encode("##").pieces, ["##"]);
        assert_eq!(t.encode("#ing").pieces, ["#", "##ing"]);
    }

    #[test]
    fn multibyte_and_long_words() {
        let t = tok(&["<unk>", "é", "##é", "a"]);
        assert_eq!(t.encode("ÉÉé").pieces, ["é", "##é", "##é"]);
        let t = t.with_max_word_chars(2);
        assert_eq!(t.encode("aaa a").pieces, ["<unk>", "a"]);
    }

    #[test]
    fn vocab_errors() {
        let e = Tokenizer::from_pieces(vec!["a".into(), "b".into()], "v.vocab").unwrap_err();
        assert!(
            e.to_string().contains("v.vocab") && e.to_string().contains("<unk>"),
            "{e}"
        );
        let e = Tokenizer::from_pieces(vec!["<unk>".into(), "a".into(), "a".into()], "v.vocab")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "v.vocab line 3: duplicate vocabulary entry \"a\" (first on line 2)"
        );
    }
}
