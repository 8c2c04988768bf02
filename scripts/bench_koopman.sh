#!/usr/bin/env bash
# Koopman fit benchmark: Rust (kann-koopman on faer) vs two numpy pipelines on the same
# 64 x 1000 x 256 f32 states (the paper's IMDB analysis batch shape), in one run.
#   scripts/bench_koopman.sh              # fit benchmark, both ratios, eigenvalue agreement
#   ROUNDS=5 scripts/bench_koopman.sh     # more interleaved rounds (default 3)
#   VENV=/work/venv scripts/bench_koopman.sh   # an existing venv (numpy, scikit-learn, threadpoolctl)
#   STREAM=2560 scripts/bench_koopman.sh  # also the streaming run on 2560 of 25,000 sequences
#   THREADS=1 scripts/bench_koopman.sh    # one thread on every side (default: all cores); on a
#                                         # loaded machine OpenBLAS's spinning threads collapse
#   SKIP_REFERENCE=1 ...                  # leave out the authors' pipeline (~40 s)
#
# Timed on each side, in-process, after the states are in memory, up to the same outputs (the
# eigenvalues of C and e_rel): the Rust fit (Grams, basis, C, eigenvalues, e_rel) from f64
# `States` (read and converted before the clock), in `mixed` (f32 blocks, f64 sums; refit in f64
# above cond 100) and `f64` products (the full spectrum the analysis also needs, eigenvectors,
# U = V^-1 and residuals, is timed apart and printed, not in the ratio);
# the careful numpy fit (Gram + eigh + solve + eigvals + e_rel, float64) from the float64 array;
# the authors' pipeline (TruncatedSVD + lstsq + eig + e_rel) from the f32 array, cast inside.
# Process start, imports and reading the file are not timed on either side. Each round runs the
# Rust fits and the careful numpy fit one after the other (RUST_REPEATS / CAREFUL_REPEATS runs
# each, their median), so that the machine's load hits all alike; the times printed are medians
# over the rounds. The authors' pipeline (~40 s) runs once.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${THREADS:-}" ]; then
    export RAYON_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS"
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
OUT="${KANN_BENCH_DIR:-/tmp/kann-bench-koopman}"
mkdir -p "$OUT"
VENV="${VENV:-.venv-bench}"
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/python" -c "import numpy, sklearn, threadpoolctl" 2>/dev/null ||
    "$VENV/bin/pip" install -q numpy scikit-learn threadpoolctl
cargo build --release -q -p kann-koopman --example bench_fit
BIN="$CARGO_TARGET_DIR/release/examples/bench_fit"
if [ ! -f "$OUT/states.npy" ]; then "$BIN" generate --out "$OUT/states.npy" --s 64 --n 1000 --k 256 --seed 0; fi
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE slow a current numpy: unset for numpy only.
PY=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$VENV/bin/python" scripts/bench_koopman.py)
"$BIN" peak --repeats 3
RUST=() CAREFUL=()
for r in $(seq 1 "${ROUNDS:-3}"); do
    echo "--- round $r"
    for p in mixed f64; do
        "$BIN" fit --data "$OUT/states.npy" --out "$OUT/rust-$p-$r.json" --precision "$p" \
            --repeats "${RUST_REPEATS:-3}"
        RUST+=("$OUT/rust-$p-$r.json")
    done
    "${PY[@]}" "$OUT/states.npy" "$OUT/careful-$r.json" --pipeline careful \
        --repeats "${CAREFUL_REPEATS:-3}"
    CAREFUL+=("$OUT/careful-$r.json")
done
REF=()
if [ -z "${SKIP_REFERENCE:-}" ]; then
    echo "--- authors' pipeline"
    "${PY[@]}" "$OUT/states.npy" "$OUT/python.json" --repeats "${PY_REPEATS:-1}"
    REF=(--reference "$OUT/python.json")
fi
echo "--- summary"
"$VENV/bin/python" scripts/bench_koopman.py --compare "${RUST[@]}" "${REF[@]}" \
    --careful "${CAREFUL[@]}"
if [ -n "${STREAM:-}" ]; then
    "$BIN" stream --sequences "$STREAM" --total 25000 --batch 64 --n 1000 --k 256
fi
