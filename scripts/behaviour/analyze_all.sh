#!/bin/bash
# Every `analyze` subcommand with the binaries of BIN_DIR, on fresh copies of the runs that
# train_all.sh wrote into RUNS, in OUT (give both versions the same OUT, one after the other, and
# move it aside in between, so absolute paths in the reports are equal). Run from the repository
# root. usage: scripts/behaviour/analyze_all.sh BIN_DIR RUNS OUT
BIN=$1; T=$2; C=$3
export KANN_DATA_DIR=${KANN_DATA_DIR:-$(pwd)/../shared/data}
rm -rf "$C" && mkdir -p "$C"
for r in imdb ecg copy sweep sweep-imdb; do cp -a "$T"/$r "$C"/$r; done
cp -a "$T"/imdb "$C"/imdb-fp; cp -a "$T"/ecg "$C"/ecg-tr; cp -a "$T"/sweep "$C"/sweep-tr
run() { name=$1; shift; "$@" > "$C"/$name.stdout 2>&1; echo "$name rc=$?" >> "$C"/rc.txt; }
run imdb "$BIN"/analyze imdb --run "$C"/imdb
run ecg "$BIN"/analyze ecg --run "$C"/ecg
run copy "$BIN"/analyze copy --run "$C"/copy --batch 32 --held-out 64
run fp "$BIN"/analyze fixed-points --run "$C"/imdb-fp
run states "$BIN"/analyze states "$C"/imdb/states.npy --lengths "$C"/imdb/lengths.npy --out "$C"/states-out.json --html "$C"/states-out.html
run training "$BIN"/analyze training --run "$C"/ecg-tr
run training-multi "$BIN"/analyze training --run "$C"/sweep-tr/gru-s1 "$C"/sweep-tr/gru-s2 "$C"/sweep-tr/rnn-s1 --out "$C"/training-multi
run compare "$BIN"/analyze compare "$C"/sweep-imdb/gru-s1 "$C"/sweep-imdb/gru-s2 "$C"/sweep-imdb/rnn-s1 "$C"/sweep-imdb/rnn-s2 --out "$C"/compare --batch 32
echo analyze-done
