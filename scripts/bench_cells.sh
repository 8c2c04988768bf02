#!/usr/bin/env bash
# Side-by-side training-step benchmark: burn stock nn::Gru, kann's fast cells, PyTorch nn.GRU.
#
#   scripts/bench_cells.sh [--steps 100,400,1000] [--stock-max-steps 400] [--iters 3]
#
# Creates .venv-bench (git-ignored) with CPU torch from PyPI on first use (a large download),
# builds the Rust benchmark in release, runs both in this one invocation and prints the table.
set -euo pipefail
cd "$(dirname "$0")/.."

STEPS=100,400,1000
ITERS=3
STOCK_ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --steps) STEPS="$2"; shift 2 ;;
    --iters) ITERS="$2"; shift 2 ;;
    --stock-max-steps) STOCK_ARGS=(--stock-max-steps "$2"); shift 2 ;;
    --no-stock) STOCK_ARGS=(--no-stock); shift ;;
    *) echo "bench_cells.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

VENV=.venv-bench
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
  echo "# creating $VENV with torch from PyPI (one-time, large download)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet torch
fi

cargo build --release -p kann-models --example bench_cells >&2
BIN="${CARGO_TARGET_DIR:-target}/release/examples/bench_cells"

OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
"$VENV/bin/python" scripts/bench_cells.py --steps "$STEPS" --iters "$ITERS" | tee -a "$OUT" >&2
"$BIN" --steps "$STEPS" --iters "$ITERS" "${STOCK_ARGS[@]}" | tee -a "$OUT" >&2

python3 - "$OUT" "$STEPS" <<'PY'
import re, sys
res = {}
for line in open(sys.argv[1]):
    m = re.match(r"RESULT impl=(\w+) steps=(\d+) secs=([\d.]+)", line)
    if m:
        res[(m[1], int(m[2]))] = float(m[3])
print(f"{'T':>6} {'pytorch s':>10} {'stock s':>10} {'fast s':>10} {'stock/pt':>9} {'fast/pt':>8}")
for t in (int(s) for s in sys.argv[2].split(",")):
    pt, st, fa = res.get(("pytorch", t)), res.get(("stock", t)), res.get(("fast", t))
    f = lambda v: f"{v:10.3f}" if v is not None else f"{'-':>10}"
    r = lambda v: f"{v / pt:9.2f}" if v is not None and pt else f"{'-':>9}"
    print(f"{t:>6} {f(pt)} {f(st)} {f(fa)} {r(st)} {r(fa)[1:]}")
PY
