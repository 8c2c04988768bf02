#!/usr/bin/env python3
"""Kill a copy-task training run with SIGKILL at random moments, resume it to the end, and
compare every file of the run folder with an uninterrupted run's.

    python3 scripts/random_kill_loop.py --train target/release/train --kills 30

What is compared: every file the run keeps (weights, optimiser state, config, metrics, summary,
the checkpoint's state, the probe's spectra), byte for byte, except the columns and keys that hold
wall-clock times (`*_seconds`, the probe's `seconds`) and the files derived from them (their
checksums: `*.crc32` of files with times, the checkpoint's `manifest.json`), and `train.log` (it
records each session). Weights files are compared with burn's `param_id` fields zeroed: burn draws
those ids at random in every process, so two uninterrupted runs differ there too; `optim.bpk`
(Adam's state, keyed and ordered by those ids) is not compared byte for byte: the resumed epochs'
equal metrics and weights check it. A kill before the
first checkpoint leaves a run that cannot be resumed; the loop then removes the folder and starts
again, as the error message tells a user to. Exit status 0 when every compared file is equal.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SKIPPED = {"train.log", "run.lock", "manifest.json", "optim.bpk"}
PARAM_ID = b"\x68param_id\x1b"  # a CBOR key "param_id" followed by an 8-byte id
TIMED = {"metrics.csv", "summary.json", "state.json", "probe.jsonl"}


def without_times(path: Path) -> object:
    """The file's content with every wall-clock field removed."""
    text = path.read_text()
    if path.suffix == ".json":
        return strip_seconds(json.loads(text))
    if path.suffix == ".jsonl":
        return [strip_seconds(json.loads(line)) for line in text.splitlines() if line]
    rows = list(csv.reader(io.StringIO(text)))
    keep = [i for i, name in enumerate(rows[0]) if not name.endswith("_seconds")]
    return [[row[i] for i in keep] for row in rows]


def without_param_ids(data: bytes) -> bytes:
    """Weights bytes with every random `param_id` zeroed."""
    out = bytearray(data)
    i = out.find(PARAM_ID)
    while i >= 0:
        start = i + len(PARAM_ID)
        out[start : start + 8] = bytes(8)
        i = out.find(PARAM_ID, start + 8)
    return bytes(out)


def strip_seconds(value: object) -> object:
    if isinstance(value, dict):
        return {k: strip_seconds(v) for k, v in value.items() if "seconds" not in k}
    if isinstance(value, list):
        return [strip_seconds(v) for v in value]
    return value


def files(root: Path) -> dict[str, Path]:
    out = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name in SKIPPED:
            continue
        if p.name.endswith(".crc32") and (
            p.name[: -len(".crc32")] in TIMED or p.name.endswith(".bpk.crc32")
        ):
            continue
        out[str(p.relative_to(root))] = p
    return out


def compare(reference: Path, resumed: Path) -> list[str]:
    a, b = files(reference), files(resumed)
    problems = [f"only in one run: {name}" for name in sorted(set(a) ^ set(b))]
    for name in sorted(set(a) & set(b)):
        pa, pb = a[name], b[name]
        if pa.name in TIMED:
            same = without_times(pa) == without_times(pb)
        elif pa.suffix == ".bpk":
            same = without_param_ids(pa.read_bytes()) == without_param_ids(pb.read_bytes())
        else:
            same = pa.read_bytes() == pb.read_bytes()
        if not same:
            problems.append(f"differs: {name}")
    return problems


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", default="target/release/train")
    ap.add_argument("--config", default="configs/copy-smoke.toml")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--max-delay", type=float, default=1.5, help="seconds before a kill, at most")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    base = [args.train, "copy", "--config", args.config, "--epochs", str(args.epochs)]
    resume = [args.train, "copy", "--resume", "--epochs", str(args.epochs)]
    work = Path(tempfile.mkdtemp(prefix="kann-kill-"))
    reference, resumed = work / "reference", work / "resumed"
    started = time.monotonic()
    done = run(base + ["--out", str(reference)])
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return 2
    kills = restarts = 0
    while kills < args.kills:
        fresh = not (resumed / "checkpoint" / "LATEST").is_file()
        if fresh and resumed.exists():
            shutil.rmtree(resumed)  # killed before its first checkpoint: start again
            restarts += 1
        cmd = (base if fresh else resume) + ["--out", str(resumed)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            proc.wait(timeout=rng.uniform(0.05, args.max_delay))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        if proc.returncode != 0:
            err = proc.stderr.read() if proc.stderr else ""
            if "nothing to do" in err:
                break
            print(f"run failed (exit {proc.returncode}): {err}", file=sys.stderr)
            return 2
        # Finished before the kill: start the same cycle again from a fresh folder.
        shutil.rmtree(resumed)
    final = run(resume + ["--out", str(resumed)])
    if final.returncode != 0 and "nothing to do" not in final.stdout + final.stderr:
        print(final.stderr, file=sys.stderr)
        return 2
    problems = compare(reference, resumed)
    seconds = time.monotonic() - started
    print(
        f"{kills} SIGKILLs ({restarts} before the first checkpoint), resumed to epoch "
        f"{args.epochs}: {len(files(resumed))} files compared, "
        f"{'all equal' if not problems else f'{len(problems)} differ'} ({seconds:.0f} s; {work})"
    )
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
