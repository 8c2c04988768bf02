#!/usr/bin/env bash
# Side-by-side training-step benchmark: burn stock nn::Gru, kann's fast cells, PyTorch nn.GRU.
#
#   scripts/bench_cells.sh [--steps 100,400,1000] [--iters 3] [--rounds 3]
#                          [--stock-max-steps 400 | --no-stock]
#
# One training step (forward + backward + Adam) of embedding -> GRU -> linear -> BCE, B=64,
# emb 128, hidden 256, vocab 32000, on the CPU. Each round runs, one after the other:
# PyTorch (default allocator), PyTorch with THP_MEM_ALLOC_ENABLE=1 (its huge-page allocator,
# the counterpart of ours), and kann's fast cells; each prints the median of --iters steps. The
# table gives the median over rounds, so that both sides see the same machine noise, and the
# ratio against the FASTER PyTorch variant. burn's stock GRU (quadratic in T) runs once, in the
# first round.
#
# Creates .venv-bench (git-ignored) with CPU torch from PyPI on first use (a large download),
# builds the Rust benchmark in release.
set -euo pipefail
cd "$(dirname "$0")/.."

STEPS=100,400,1000
ITERS=3
ROUNDS=3
STOCK_ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --steps) STEPS="$2"; shift 2 ;;
    --iters) ITERS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --stock-max-steps) STOCK_ARGS=(--stock-max-steps "$2"); shift 2 ;;
    --no-stock) STOCK_ARGS=(--no-stock); shift ;;
    *) echo "bench_cells.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

VENV="${VENV:-.venv-bench}"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
  echo "# creating $VENV with torch from PyPI (one-time, large download)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet torch
fi

cargo build --release -p kann-models --example bench_cells >&2
BIN="${CARGO_TARGET_DIR:-target}/release/examples/bench_cells"

OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for ((round = 1; round <= ROUNDS; round++)); do
  echo "# round $round of $ROUNDS" >&2
  THP_MEM_ALLOC_ENABLE=0 "$VENV/bin/python" scripts/bench_cells.py --steps "$STEPS" \
    --iters "$ITERS" --label pytorch | tee -a "$OUT" >&2
  THP_MEM_ALLOC_ENABLE=1 "$VENV/bin/python" scripts/bench_cells.py --steps "$STEPS" \
    --iters "$ITERS" --label pytorch-thp | tee -a "$OUT" >&2
  if [[ $round -eq 1 ]]; then
    "$BIN" --steps "$STEPS" --iters "$ITERS" "${STOCK_ARGS[@]}" | tee -a "$OUT" >&2
  else
    "$BIN" --steps "$STEPS" --iters "$ITERS" --no-stock | tee -a "$OUT" >&2
  fi
done

python3 - "$OUT" "$STEPS" <<'PY'
import re, statistics, sys
res = {}
for line in open(sys.argv[1]):
    m = re.match(r"RESULT impl=([\w-]+) steps=(\d+) secs=([\d.]+)", line)
    if m:
        res.setdefault((m[1], int(m[2])), []).append(float(m[3]))
med = {k: statistics.median(v) for k, v in res.items()}
print(f"{'T':>6} {'pytorch':>9} {'pt+THP':>9} {'stock':>9} {'fast':>9} {'stock/pt':>9} {'fast/pt':>8}")
for t in (int(s) for s in sys.argv[2].split(",")):
    pts = [v for v in (med.get(("pytorch", t)), med.get(("pytorch-thp", t))) if v is not None]
    pt = min(pts) if pts else None
    st, fa = med.get(("stock", t)), med.get(("fast", t))
    f = lambda v: f"{v:9.3f}" if v is not None else f"{'-':>9}"
    r = lambda v, w: f"{v / pt:{w}.2f}" if v is not None and pt else f"{'-':>{w}}"
    print(f"{t:>6} {f(med.get(('pytorch', t)))} {f(med.get(('pytorch-thp', t)))} {f(st)} {f(fa)} "
          f"{r(st, 9)} {r(fa, 8)}")
print("seconds per training step, median over rounds; ratios against the faster PyTorch column")
PY
