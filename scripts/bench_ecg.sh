#!/usr/bin/env bash
# Side-by-side ECG5000 epoch benchmark: kann's `train ecg` against PyTorch, same split, same model
# (LSTM(1,64) encoder, latent repeated 140 times into LSTM(64,128) -> Linear), batch 8, both cores.
#
#   VENV=/path/to/venv scripts/bench_ecg.sh [--epochs 6] [--rounds 3]
#
# An epoch is timed the same way on both sides: the training loop plus scoring the validation
# split (kann: `train_seconds + eval_seconds` of metrics.csv with `test_every_epoch = false`;
# PyTorch: scripts/bench_ecg.py). Each round runs PyTorch, then kann, then kann again with the
# test split scored every epoch (the cost of `test_every_epoch = true`, the default). The first
# epoch of every run is warm-up and left out; the table gives medians over the other epochs of
# all rounds, so that both sides see the same machine noise.
#
# VENV: a virtual environment with torch (default .venv-bench, created with CPU torch from PyPI
# on first use: a large download).
set -euo pipefail
cd "$(dirname "$0")/.."

EPOCHS=6
ROUNDS=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --epochs) EPOCHS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    *) echo "bench_ecg.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if (( EPOCHS < 2 )); then echo "bench_ecg.sh: --epochs must be at least 2" >&2; exit 2; fi

VENV="${VENV:-.venv-bench}"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import torch, numpy' 2>/dev/null; then
  echo "# creating $VENV with torch from PyPI (one-time, large download)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet torch numpy
fi

cargo build --release -p train >&2
BIN="${CARGO_TARGET_DIR:-target}/release/train"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$BIN" export-data ecg --out "$WORK/data" >&2

config() { # $1 = test_every_epoch
  sed -e "s/^epochs = .*/epochs = $EPOCHS/" -e '/^test_every_epoch/d' configs/ecg.toml \
    >"$WORK/ecg-$1.toml"
  python3 - "$WORK/ecg-$1.toml" "$1" <<'PY'
import sys
path, flag = sys.argv[1], sys.argv[2]
text = open(path).read()
assert "[train]\n" in text
open(path, "w").write(text.replace("[train]\n", f"[train]\ntest_every_epoch = {flag}\n", 1))
PY
}
config false
config true

kann_epochs() { # $1 = label, $2 = config
  rm -rf "$WORK/run"
  "$BIN" ecg --config "$2" --out "$WORK/run" >/dev/null 2>&1 ||
    { echo "bench_ecg.sh: train ecg failed" >&2; "$BIN" ecg --config "$2" --out "$WORK/run2" >&2; exit 1; }
  python3 - "$WORK/run/metrics.csv" "$1" <<'PY'
import csv, sys
for row in csv.DictReader(open(sys.argv[1])):
    print(f"RESULT impl={sys.argv[2]} epoch={row['epoch']} train={float(row['train_seconds']):.4f} "
          f"eval={float(row['eval_seconds']):.4f}")
PY
}

OUT="$WORK/results.txt"
for ((round = 1; round <= ROUNDS; round++)); do
  echo "# round $round of $ROUNDS" >&2
  "$VENV/bin/python" scripts/bench_ecg.py "$WORK/data" --epochs "$EPOCHS" | tee -a "$OUT" >&2
  kann_epochs kann "$WORK/ecg-false.toml" | tee -a "$OUT" >&2
  kann_epochs kann-test "$WORK/ecg-true.toml" | tee -a "$OUT" >&2
done

python3 - "$OUT" <<'PY'
import re, statistics, sys
res = {}
for line in open(sys.argv[1]):
    m = re.match(r"RESULT impl=([\w-]+) epoch=(\d+) train=([\d.]+) eval=([\d.]+)", line)
    if m and int(m[2]) > 1:
        res.setdefault(m[1], []).append((float(m[3]), float(m[4])))
med = {k: (statistics.median(t for t, _ in v), statistics.median(e for _, e in v),
           statistics.median(t + e for t, e in v), len(v)) for k, v in res.items()}
print(f"{'':<34} {'train':>8} {'val/test':>9} {'epoch':>8} {'epochs':>7}")
names = {"pytorch": "PyTorch (train + validation)", "kann": "kann (train + validation)",
         "kann-test": "kann (+ test every epoch)"}
for k in ("pytorch", "kann", "kann-test"):
    if k in med:
        t, e, s, n = med[k]
        print(f"{names[k]:<34} {t:8.3f} {e:9.3f} {s:8.3f} {n:>7}")
if "pytorch" in med and "kann" in med:
    print(f"ratio kann / PyTorch, epoch (train + validation): {med['kann'][2] / med['pytorch'][2]:.2f}")
if "kann" in med and "kann-test" in med:
    print(f"cost of test_every_epoch: +{med['kann-test'][2] - med['kann'][2]:.3f} s per epoch "
          f"({100 * (med['kann-test'][2] / med['kann'][2] - 1):.0f}%)")
print("seconds, median over epochs 2.. of all rounds")
PY
