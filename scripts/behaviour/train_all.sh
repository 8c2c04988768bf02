#!/bin/bash
# Every `train` command a refactor of the training code touches, into OUT, with the binaries of
# BIN_DIR (e.g. target/release of the commit before and of the commit after; then
# `compare_outputs.py OUT_BEFORE OUT_AFTER`). Run from the repository root. The IMDB import needs
# a vocabulary of the fixture's 20 pieces: VOCAB=path (skipped without it).
# usage: scripts/behaviour/train_all.sh BIN_DIR OUT
set -e
BIN=$1; OUT=$2
export KANN_DATA_DIR=${KANN_DATA_DIR:-$(pwd)/../shared/data}
FX=crates/kann-models/tests/fixtures/pytorch
mkdir -p "$OUT"
for t in imdb ecg copy; do "$BIN"/train $t --config configs/$t-smoke.toml --out "$OUT"/$t > "$OUT"/$t.stdout 2>&1; done
# The driver's resume: 2 epochs, then resumed to 3.
"$BIN"/train copy --config configs/copy-smoke.toml --out "$OUT"/copy-resume > "$OUT"/copy-resume.stdout 2>&1
"$BIN"/train copy --resume --epochs 3 --out "$OUT"/copy-resume > "$OUT"/copy-resume2.stdout 2>&1
# Refused starts (setup): into a run folder, a resume of nothing, a resume with another seed.
"$BIN"/train copy --config configs/copy-smoke.toml --out "$OUT"/copy > "$OUT"/refuse.stdout 2>&1 || echo "refused rc=$?" >> "$OUT"/refuse.stdout
"$BIN"/train copy --resume --out "$OUT"/nonexistent > "$OUT"/refuse2.stdout 2>&1 || echo "refused rc=$?" >> "$OUT"/refuse2.stdout
"$BIN"/train copy --resume --seed 3 --out "$OUT"/copy > "$OUT"/refuse3.stdout 2>&1 || echo "refused rc=$?" >> "$OUT"/refuse3.stdout
"$BIN"/train sweep copy --cells gru,rnn --seeds 1,2 --config configs/copy-smoke.toml --out "$OUT"/sweep > "$OUT"/sweep.stdout 2>&1
"$BIN"/train sweep imdb --cells gru,rnn --seeds 1,2 --config configs/imdb-smoke.toml --out "$OUT"/sweep-imdb > "$OUT"/sweep-imdb.stdout 2>&1
"$BIN"/train export-data imdb --config configs/imdb-smoke.toml --out "$OUT"/export-imdb > "$OUT"/export-imdb.stdout 2>&1
"$BIN"/train export-data ecg --config configs/ecg-smoke.toml --out "$OUT"/export-ecg > "$OUT"/export-ecg.stdout 2>&1
"$BIN"/train import ecg --pytorch $FX/ecg_lstm.pt --config configs/ecg-smoke.toml --out "$OUT"/import-ecg > "$OUT"/import-ecg.stdout 2>&1
if [ -n "${VOCAB:-}" ]; then
    "$BIN"/train import imdb --pytorch $FX/sentiment_gru.pt --vocab "$VOCAB" --config configs/imdb-smoke.toml --out "$OUT"/import-imdb > "$OUT"/import-imdb.stdout 2>&1
fi
echo train-done
