//! The copy-problem generator (App. D): layout of a sequence, determinism for a seed,
//! independence of the splits, uniform symbols.

use kann_data::copy::{CopySpec, CopyTask, RecallAccuracy, generate};

fn spec(seed: u64) -> CopySpec {
    CopySpec {
        task: CopyTask::new(5, 8, 10).unwrap(),
        train: 200,
        validation: 20,
        test: 30,
        seed,
    }
}

#[test]
fn a_sequence_has_the_documented_layout() {
    let task = CopyTask::new(3, 4, 2).unwrap();
    // T = 2·3 + 2 + 1 = 9: string, 2 blanks, cue, recall window of 3.
    let s = task.sequence(&[2, 0, 3]).unwrap();
    let (b, c) = (task.blank(), task.cue());
    assert_eq!((b, c), (4, 5));
    assert_eq!(s.input, vec![2, 0, 3, b, b, c, b, b, b]);
    assert_eq!(s.target, vec![b, b, b, b, b, b, 2, 0, 3]);
    assert_eq!(task.steps(), 9);
    assert_eq!((task.cue_step(), task.recall_start()), (5, 6));
    assert_eq!(task.memory_span(), 6);
    assert_eq!((task.input_tokens(), task.classes()), (6, 5));
    // Every generated sequence follows it.
    let t = CopyTask::new(5, 8, 10).unwrap();
    for s in generate(&t, 50, 7, "x") {
        assert_eq!(s.input.len(), t.steps());
        assert_eq!(&s.input[..5], &s.string[..]);
        assert!(s.input[5..t.cue_step()].iter().all(|&x| x == t.blank()));
        assert_eq!(s.input[t.cue_step()], t.cue());
        assert!(s.input[t.recall_start()..].iter().all(|&x| x == t.blank()));
        assert!(s.target[..t.recall_start()].iter().all(|&x| x == t.blank()));
        assert_eq!(&s.target[t.recall_start()..], &s.string[..]);
        assert!(s.string.iter().all(|&x| x < 8));
    }
}

#[test]
fn the_same_seed_gives_the_same_splits_and_others_differ() {
    let a = spec(3).splits().unwrap();
    assert_eq!(a, spec(3).splits().unwrap());
    let b = spec(4).splits().unwrap();
    assert_ne!(a.train, b.train);
    // The splits are different streams, and one split's size does not move another.
    assert_ne!(a.train[..20], a.validation[..]);
    let bigger = CopySpec {
        train: 500,
        ..spec(3)
    }
    .splits()
    .unwrap();
    assert_eq!(bigger.test, a.test);
    assert_eq!(bigger.train[..200], a.train[..]);
    assert!(CopySpec { test: 0, ..spec(3) }.splits().is_err());
}

#[test]
fn symbols_are_uniform() {
    let t = CopyTask::new(10, 8, 0).unwrap();
    let mut counts = [0usize; 8];
    for s in generate(&t, 2000, 1, "train") {
        for &x in &s.string {
            counts[x] += 1;
        }
    }
    // 20,000 draws, 2,500 expected per symbol; sd ≈ 47.
    assert!(
        counts.iter().all(|&c| (2250..2750).contains(&c)),
        "{counts:?}"
    );
}

#[test]
fn recall_accuracy_counts_symbols_and_strings() {
    let mut a = RecallAccuracy::default();
    a.add(&[1, 2, 3], &[1, 2, 3]);
    a.add(&[1, 0, 3], &[1, 2, 3]);
    assert_eq!((a.symbols_right, a.symbols), (5, 6));
    assert_eq!((a.strings_right, a.strings), (1, 2));
    assert!((a.per_symbol() - 5.0 / 6.0).abs() < 1e-12);
    assert_eq!(a.whole_string(), 0.5);
}
