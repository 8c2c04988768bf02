#!/usr/bin/env bash
# Koopman fit benchmark: Rust (kann-koopman on faer) vs the numpy/scikit-learn reference on the
# same 64 x 1000 x 256 f32 states (the paper's IMDB analysis batch shape), in one run.
#   scripts/bench_koopman.sh            # fit benchmark + ratio + eigenvalue check
#   STREAM=2560 scripts/bench_koopman.sh  # also the streaming run on 2560 of 25,000 sequences
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
OUT="${KANN_BENCH_DIR:-/tmp/kann-bench-koopman}"
mkdir -p "$OUT"
VENV=.venv-bench
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install -q numpy scikit-learn threadpoolctl
cargo build --release -q -p kann-koopman --example bench_fit
BIN="$CARGO_TARGET_DIR/release/examples/bench_fit"
if [ ! -f "$OUT/states.npy" ]; then "$BIN" generate --out "$OUT/states.npy" --s 64 --n 1000 --k 256 --seed 0; fi
"$BIN" fit --data "$OUT/states.npy" --out "$OUT/rust.json" --repeats "${RUST_REPEATS:-3}"
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE slow a current numpy: unset for the reference only.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$VENV/bin/python" scripts/bench_koopman.py \
    "$OUT/states.npy" "$OUT/python.json" --repeats "${PY_REPEATS:-1}"
"$VENV/bin/python" scripts/bench_koopman.py --compare "$OUT/rust.json" "$OUT/python.json"
if [ -n "${STREAM:-}" ]; then
    "$BIN" stream --sequences "$STREAM" --total 25000 --batch 64 --n 1000 --k 256
fi
