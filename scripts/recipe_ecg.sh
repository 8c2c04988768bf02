#!/usr/bin/env bash
# The ECG autoencoder's recipe in kann and in PyTorch, side by side (README, "Same recipe, same
# result as PyTorch?"): 40 epochs per run, seeds 1-3 (and the config's 42), with and without the
# gradient norm clipped at 1.0, on the split of `train export-data ecg`. Resumable: finished runs
# are skipped. Prints the table of mean ± sd at the end.
#
#   VENV=/path/to/venv scripts/recipe_ecg.sh [OUT]      # default OUT: results/recipe
#
# VENV: a virtual environment with torch and numpy (default .venv-bench). About 2 min per kann
# run and 2-3 min per PyTorch run on 2 idle cores (16 runs).
set -euo pipefail
cd "$(dirname "$0")/.."
R="${1:-results/recipe}"
VENV="${VENV:-.venv-bench}"
PY="$VENV/bin/python"
"$PY" -c 'import torch, numpy' || { echo "recipe_ecg.sh: $PY has no torch/numpy (set VENV)" >&2; exit 2; }
cargo build --release -p train >&2
B="${CARGO_TARGET_DIR:-target}/release/train"
mkdir -p "$R/torch" "$R/torch-clip1"
sed -e '/^test_every_epoch/d' -e 's/^\[train\]$/[train]\ntest_every_epoch = false/' configs/ecg.toml >"$R/kann.toml"
sed -e 's/^\[train\]$/[train]\ngrad_clip = 1.0/' "$R/kann.toml" >"$R/kann-clip1.toml"
[ -d "$R/data" ] || "$B" export-data ecg --out "$R/data"
"$B" sweep ecg --cells lstm --seeds 1,2,3,42 --config "$R/kann.toml" --out "$R/kann"
"$B" sweep ecg --cells lstm --seeds 1,2,3 --config "$R/kann-clip1.toml" --out "$R/kann-clip1"
for s in 1 2 3 42; do
  [ -f "$R/torch/s$s.pt.summary.json" ] ||
    "$PY" scripts/pytorch_reference.py ecg "$R/data" "$R/torch/s$s.pt" --epochs 40 --seed "$s" >"$R/torch/s$s.log" 2>&1
done
for s in 1 2 3; do
  [ -f "$R/torch-clip1/s$s.pt.summary.json" ] ||
    "$PY" scripts/pytorch_reference.py ecg "$R/data" "$R/torch-clip1/s$s.pt" --epochs 40 --seed "$s" --clip 1.0 \
      >"$R/torch-clip1/s$s.log" 2>&1
done
python3 - "$R" <<'PY'
import glob, json, os, statistics as st, sys
R = sys.argv[1]
def rows(pattern):
    out = {}
    for f in sorted(glob.glob(f"{R}/{pattern}")):
        s = json.load(open(f))
        seed = os.path.basename(os.path.dirname(f) if f.endswith("/summary.json") else f).split(".")[0].split("-s")[-1].lstrip("s")
        out[seed] = s
    return out
cols = [("train_accuracy", "train", 100), ("val_accuracy", "validation", 100),
        ("test_accuracy", "test", 100), ("test_normal_accuracy", "test normal", 100),
        ("best_val_loss", "best val L1", 1)]
print("| | " + " | ".join(c[1] for c in cols) + " |")
print("| --- " * (len(cols) + 1) + "|")
for name, pat in [("kann", "kann/*-s*/summary.json"), ("PyTorch", "torch/s*.pt.summary.json"),
                  ("kann, clip 1.0", "kann-clip1/*-s*/summary.json"),
                  ("PyTorch, clip 1.0", "torch-clip1/s*.pt.summary.json")]:
    r = {k: v for k, v in rows(pat).items() if k in ("1", "2", "3")}
    if len(r) < 2:
        continue
    cells = []
    for key, _, scale in cols:
        v = [scale * x[key] for x in r.values()]
        cells.append(f"{st.mean(v):.2f} ± {st.stdev(v):.2f}")
    print(f"| {name} (seeds {', '.join(sorted(r))}) | " + " | ".join(cells) + " |")
PY
