//! Tests on the project's shared real data (skipped with a note when it is absent, failing when
//! `CI=true`; see `kann_data::testdata`).

use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

use kann_data::ecg::{EcgDataset, EcgSplits};
use kann_data::imdb::{ImdbDataset, Split};
use kann_data::testdata::shared_data_dir;
use kann_data::tokenizer::{Tokenizer, TrainConfig};

/// Fig. 1 of the paper as printed (PDF text: pieces separated by spaces, `# #` for `##`, lines
/// wrapped mid-word). With all whitespace removed it is the concatenation of the pieces, which
/// fixes every piece boundary inside a word.
const FIG1: [(&str, &str); 4] = [
    (
        "test/pos/11368_10.txt",
        "watched this on k # # q # # ed , with frank baxter commenting # # ,
as i recall # # . have never seen it since , but would like to
find out where it is available . # # < br / > < br / > it is amazing
how good something can be , but be in black and white , and h
ave zero special effects . in fact , amazing how much better s
ometh ing like that is !",
    ),
    (
        "test/neg/6364_4.txt",
        "what a mess of a movie ! if it was nt for eric roberts and sus
an sarandon # # 's performances , # # this movie would be a tota
l waste # # ! a very muddled plot and phony dialogue . # # eric r
oberts debut . # # . . # # where did his career go from this movi
e on ? # # now # # here but down !",
    ),
    (
        "test/pos/4388_10.txt",
        "this a fantastic movie of three prisoners who become famous .
one of the actors is george clooney and i 'm not a fan but t
his roll is not bad . another good thing about the movie is t
he soundtrack ( the man of constant sorrow # # ) . i re # # com # #
man # # d this movie to everybody . greetings bart",
    ),
    (
        "test/neg/11167_4.txt",
        "this is a rip - off of already crappy hollywood movies like s c
ream and i know what you did last summer . the story is class
ic , some high - school students tries a prank on the class # # '
as # # th # # matic misfit but something goes wrong . terribly w
rong . when you watch the movie you know what # # 'll happen be
fore it happens all the time , not good if a movie tries to b
e scary . the actors are quite ok and the girls are cute ( aft
er all , they 're asian # # ) so i 'll give it two out of five on
the mo # # ja # # ve # # ' # # o ' # # met # # er .",
    ),
];

/// The corpus, loaded once from the archive for all tests of this file.
fn imdb(dir: &Path) -> &'static ImdbDataset {
    static DATA: OnceLock<ImdbDataset> = OnceLock::new();
    DATA.get_or_init(|| ImdbDataset::load(dir.join("aclImdb_v1.tar.gz")).unwrap())
}

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn imdb_full_corpus_from_archive() {
    let Some(dir) = shared_data_dir() else { return };
    let data = imdb(&dir);
    assert_eq!((data.train.len(), data.test.len()), (25_000, 25_000));
    for (reviews, split) in [(&data.train, Split::Train), (&data.test, Split::Test)] {
        for label in [0, 1] {
            let n = reviews.iter().filter(|r| r.label == label).count();
            assert_eq!(n, 12_500, "{split:?} label {label}");
        }
        assert!(reviews.iter().all(|r| r.split == split));
        // pos = rating >= 7, neg = rating <= 4 in the public data.
        assert!(reviews.iter().all(|r| (r.label == 1) == (r.rating >= 7)));
        assert!(reviews.iter().all(|r| r.rating != 5 && r.rating != 6));
    }
    let first = data
        .test
        .iter()
        .find(|r| r.label == 1 && r.id == 11368)
        .unwrap();
    assert!(
        first
            .text
            .starts_with("Watched this on KQED, with Frank Baxter commenting,")
    );
    assert_eq!(first.rating, 10);

    // Validation split: seeded, stratified, disjoint.
    let a = data.clone().split_validation(0.1, 7).unwrap();
    let b = data.clone().split_validation(0.1, 7).unwrap();
    let c = data.clone().split_validation(0.1, 8).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.validation, c.validation);
    assert_eq!((a.train.len(), a.validation.len()), (22_500, 2_500));
    assert_eq!(a.validation.iter().filter(|r| r.label == 1).count(), 1_250);
    assert!(a.validation.iter().all(|r| r.split == Split::Validation));
    let val: HashSet<(u8, u32)> = a.validation.iter().map(|r| (r.label, r.id)).collect();
    assert!(a.train.iter().all(|r| !val.contains(&(r.label, r.id))));
}

#[test]
fn fig1_tokenization_with_paper_vocab() {
    let Some(dir) = shared_data_dir() else { return };
    let tok = Tokenizer::from_vocab_file(dir.join("imdb_wordpiece.vocab")).unwrap();
    assert_eq!(tok.vocab_size(), 32_379);
    assert_eq!(tok.pieces()[..3], ["<unk>", "<cls>", "<sep>"]);
    assert_eq!((tok.unk_id(), tok.pad_id()), (0, 0));

    // Read the four reviews from the archive itself.
    let data = imdb(&dir);
    for (file, figure) in FIG1 {
        let parts: Vec<&str> = file.split('/').collect();
        let label = u8::from(parts[1] == "pos");
        let id: u32 = parts[2].split('_').next().unwrap().parse().unwrap();
        let review = data
            .test
            .iter()
            .find(|r| r.label == label && r.id == id)
            .unwrap();
        let enc = tok.encode(&review.text);
        assert_eq!(enc.ids.len(), enc.pieces.len());
        assert!(!enc.ids.contains(&tok.unk_id()), "{file}: unexpected <unk>");
        let mut ours = squeeze(&enc.pieces.concat());
        if file == "test/neg/6364_4.txt" {
            // The review has four dots in "debut....where" (pieces `debut.` `##...` `##where`);
            // the figure's text prints only three (". # # . ."): a character lost in the PDF.
            assert!(review.text.contains("debut....where"));
            ours = ours.replacen("debut.##...##where", "debut.##..##where", 1);
        }
        assert_eq!(ours, squeeze(figure), "{file}");
        for (id, p) in enc.ids.iter().zip(&enc.pieces) {
            assert_eq!(tok.id_to_piece(*id), Some(p.as_str()));
        }
    }
    let enc = tok.encode("Watched this on KQED, with Frank Baxter commenting, as I recall.");
    assert_eq!(
        enc.pieces,
        [
            "watched",
            "this",
            "on",
            "k",
            "##q",
            "##ed,",
            "with",
            "frank",
            "baxter",
            "commenting",
            "##,",
            "as",
            "i",
            "recall",
            "##."
        ]
    );
    assert_eq!(enc.words[..6], [0, 1, 2, 3, 3, 3]);
}

#[test]
fn paper_vocab_length_filter_matches_reference() {
    // The reference kept the reviews of at most 1000 pieces: 24,690 of 25,000 train and
    // 24,713 of 25,000 test (docs/reference-setup.md).
    let Some(dir) = shared_data_dir() else { return };
    let tok = Tokenizer::from_vocab_file(dir.join("imdb_wordpiece.vocab")).unwrap();
    let data = imdb(&dir);
    for (reviews, kept) in [(&data.train, 24_690), (&data.test, 24_713)] {
        let texts: Vec<&str> = reviews.iter().map(|r| r.text.as_str()).collect();
        let ids = tok.encode_ids_batch(&texts);
        assert_eq!(ids.iter().filter(|s| s.len() <= 1000).count(), kept);
    }
}

#[test]
fn trained_vocab_is_deterministic() {
    let Some(dir) = shared_data_dir() else { return };
    let data = imdb(&dir);
    let texts: Vec<&str> = data
        .train
        .iter()
        .step_by(50)
        .map(|r| r.text.as_str())
        .collect();
    let cfg = TrainConfig {
        vocab_size: 3_000,
        ..Default::default()
    };
    let a = Tokenizer::train(&texts, &cfg).unwrap();
    let b = Tokenizer::train(&texts, &cfg).unwrap();
    assert_eq!(a.pieces(), b.pieces());
    assert_eq!(a.vocab_size(), 3_000);
    assert_eq!(a.pieces()[..3], ["<unk>", "<cls>", "<sep>"]);
    assert!(a.pieces().iter().any(|p| p.starts_with("##")));
    let sample = &data.test[0].text;
    assert_eq!(a.encode(sample), b.encode(sample));
    // Round trip through the vocabulary file.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("vocab.txt");
    a.save_vocab(&path).unwrap();
    let c = Tokenizer::from_vocab_file(&path).unwrap();
    assert_eq!(a.pieces(), c.pieces());
    assert_eq!(a.encode(sample), c.encode(sample));
}

#[test]
fn ecg_real_split_counts() {
    let Some(dir) = shared_data_dir() else { return };
    let data = EcgDataset::load(&dir).unwrap();
    assert_eq!(data.beats.len(), 5_000);
    let mut counts = [0usize; 6];
    for b in &data.beats {
        assert_eq!(b.values.len(), 140);
        counts[b.label as usize] += 1;
    }
    assert_eq!(counts[1..], [2919, 1767, 96, 194, 24]);
    // First train row of ECG5000_TRAIN.tsv: label 1, then -0.11252183 -2.8272038 ...
    assert_eq!(data.beats[0].label, 1);
    assert_eq!(data.beats[0].values[..2], [-0.112_521_83, -2.827_203_8]);

    let s = data.split(42).unwrap();
    assert_eq!(
        (
            s.train.len(),
            s.validation.len(),
            s.test_normal.len(),
            s.test_anomalous.len()
        ),
        (2481, 293, 145, 2081)
    );
    assert!(
        s.train
            .iter()
            .chain(&s.validation)
            .chain(&s.test_normal)
            .all(|b| b.label == 1)
    );
    assert!(s.test_anomalous.iter().all(|b| b.label != 1));
    let mut all: Vec<usize> = [&s.train, &s.validation, &s.test_normal, &s.test_anomalous]
        .iter()
        .flat_map(|v| v.iter().map(|b| b.index))
        .collect();
    all.sort();
    assert_eq!(all, (0..5000).collect::<Vec<_>>());
    assert_eq!(s, EcgSplits::load(dir.join("ECG5000"), 42).unwrap());
    assert_ne!(s.train, data.split(43).unwrap().train);
}
