#!/usr/bin/env python3
"""kann.fit from Python against a careful numpy fit, PyDMD and the Rust bench_fit example.

    python scripts/bench_python.py [--shape S N K ...] [--rank R] [--repeats N]
                                   [--bench-fit target/release/examples/bench_fit]

On the same float64 states (a seeded tanh recurrence h_{t+1} = tanh(W h_t + 0.5 u_t), W of gain
1.2, as bench_fit generates them), for each shape (default 64 x 1000 x 256 and 16 x 200 x 64):

1. times, median of --repeats runs, at rank R (default 32) on all steps:
   - kann.fit(states, rank=R) (Gram fit in Rust, float64, GIL released; it also computes the
     eigenvectors, U = V^-1, the residuals and e_rel, which the others do not);
   - numpy: the paper's method (Sec. 3.2, Eqs. 4-5), written carefully: B = the top R right
     singular vectors of the flat states (np.linalg.svd of [S*N, K], thin), H~ = H B,
     C = lstsq(H~[:, :-1], H~[:, 1:]) over the within-sequence pairs, np.linalg.eigvals(C);
   - PyDMD DMD(svd_rank=R).fit(X, Y) with the within-sequence pairs as columns (X = h_t,
     Y = h_{t+1}; its basis is the SVD of X, not of all states); skipped with a message when
     pydmd is not installed;
   - koopman-dmd (`pip install koopman-dmd`, the Rust DMD crate's Python binding)
     koopman_dmd.DMD(X, rank=R): it takes one trajectory [K, time], so the sequences are
     concatenated and the S - 1 pairs across their seams are fitted too (a bias kann and the
     others avoid); its basis is the SVD of X, as PyDMD's; skipped when not installed.
   and the largest |lambda_kann - lambda_other| after an optimal one-to-one matching.
2. Python overhead: kann.fit(states, precision="f64") at the default rank against
   `bench_fit fit --precision f64` on the same states written to an .npy (its fit + eigenvalues
   + e_rel, plus its separately timed full spectrum, i.e. what kann.fit computes). Skipped when
   the bench_fit binary is absent (cargo build --release -p kann-koopman --example bench_fit).

PyDMD, koopman-dmd and torch are not needed by kann's tests or CI.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

import kann


def states(s, n, k, seed=0):
    """A seeded tanh recurrence [s, n, k] in float64 (random-but-structured states)."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(-1, 1, (k, k)) * 1.2 * np.sqrt(3.0 / k)
    h = 0.5 * rng.uniform(-1, 1, (s, k))
    out = np.empty((s, n, k))
    for t in range(n):
        out[:, t] = h
        h = np.tanh(h @ w.T + 0.5 * rng.uniform(-1, 1, (s, k)))
    return out


def numpy_fit(x, rank):
    s, n, k = x.shape
    flat = x.reshape(-1, k)
    _, _, vt = np.linalg.svd(flat, full_matrices=False)
    b = vt[:rank].T
    ht = x @ b
    c = np.linalg.lstsq(ht[:, :-1].reshape(-1, rank), ht[:, 1:].reshape(-1, rank), rcond=None)[0]
    return np.linalg.eigvals(c)


def pydmd_fit(x, rank):
    from pydmd import DMD

    k = x.shape[2]
    xs = x[:, :-1].reshape(-1, k).T
    ys = x[:, 1:].reshape(-1, k).T
    dmd = DMD(svd_rank=rank)
    dmd.fit(xs, ys)
    return np.asarray(dmd.eigs)


def koopman_dmd_fit(x, rank):
    import koopman_dmd

    k = x.shape[2]
    # One trajectory: the sequences end to end, [K, S*N] (its layout is variables x time).
    traj = np.ascontiguousarray(x.reshape(-1, k).T)
    dmd = koopman_dmd.DMD(traj, rank=rank)
    ev = np.asarray(dmd.eigenvalues)  # [rank, 2]: re, im
    return ev[:, 0] + 1j * ev[:, 1]


def max_matched_diff(a, b):
    """max |a_i - b_pi(i)| under the matching pi that minimises the sum (scipy), else greedy."""
    d = np.abs(a[:, None] - b[None, :])
    try:
        from scipy.optimize import linear_sum_assignment

        i, j = linear_sum_assignment(d)
        return float(d[i, j].max())
    except ImportError:
        used, worst = set(), 0.0
        for i in range(len(a)):
            j = min((j for j in range(len(b)) if j not in used), key=lambda j: d[i, j])
            used.add(j)
            worst = max(worst, d[i, j])
        return float(worst)


def timed(f, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), times, out


def compare(x, rank, repeats):
    print(f"\n[{x.shape[0]}, {x.shape[1]}, {x.shape[2]}] float64 ({x.nbytes / 2**20:.0f} MiB), rank {rank}, median of {repeats}")
    tk, runs, fit = timed(lambda: kann.fit(x, rank=rank), repeats)
    lam = fit.eigenvalues
    print(f"  kann.fit        {tk:8.3f} s  runs {[round(t, 3) for t in runs]}  (e_rel {fit.relative_error:.4g}, top |λ| {np.abs(lam[:3]).round(4)})")
    row = {"shape": list(x.shape), "rank": rank, "kann_s": tk}
    # (label, key, module to import or None, fit, note after the ratio)
    others = [
        ("numpy SVD+lstsq", "numpy", None, numpy_fit, ""),
        ("PyDMD DMD", "pydmd", "pydmd", pydmd_fit, ""),
        ("koopman-dmd DMD", "koopman_dmd", "koopman_dmd", koopman_dmd_fit, f"; {x.shape[0] - 1} seam pairs fitted"),
    ]
    for label, key, module, fit_other, note in others:
        if module is not None:
            try:
                __import__(module)
            except ImportError as e:
                print(f"  {label:15s} skipped ({e}; pip install {module.replace('_', '-')})")
                continue
        try:
            seconds, runs, lam_other = timed(lambda: fit_other(x, rank), repeats)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # a Rust panic inside koopman-dmd arrives as pyo3's PanicException
            print(f"  {label:15s} failed: {type(e).__name__}: {e}")
            row[f"{key}_error"] = f"{type(e).__name__}: {e}"
            continue
        d = max_matched_diff(lam, lam_other)
        print(f"  {label:15s} {seconds:8.3f} s  runs {[round(r, 3) for r in runs]}  max|Δλ| vs kann {d:.2e}  ({seconds / tk:.1f}x kann{note})")
        row.update({f"{key}_s": seconds, f"{key}_max_dlambda": d})
    return row


def overhead(x, repeats, bench_fit):
    if not os.path.exists(bench_fit):
        print(f"\noverhead: skipped, {bench_fit} not built (cargo build --release -p kann-koopman --example bench_fit)")
        return None
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "states.npy")
        np.save(path, x)
        out = os.path.join(d, "rust.json")
        subprocess.run(
            [bench_fit, "fit", "--data", path, "--out", out, "--repeats", str(repeats), "--precision", "f64"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        with open(out) as f:
            rust = json.load(f)
    tp, runs, fit = timed(lambda: kann.fit(x, precision="f64"), repeats)
    tr = rust["seconds"] + rust["spectrum_seconds"]
    print(
        f"\noverhead at the default rank {fit.rank} on [{', '.join(map(str, x.shape))}]: kann.fit {tp:.3f} s "
        f"(runs {[round(t, 3) for t in runs]}), bench_fit fit + spectrum {tr:.3f} s "
        f"(runs {[round(t, 3) for t in rust['runs']]} + {rust['spectrum_seconds']:.3f}): Python/Rust {tp / tr:.3f}"
    )
    return {"python_s": tp, "rust_s": tr, "ratio": tp / tr, "rank": fit.rank}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", type=int, nargs=3, action="append", metavar=("S", "N", "K"))
    ap.add_argument("--rank", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bench-fit", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "examples", "bench_fit"))
    ap.add_argument("--json", help="write the numbers here")
    a = ap.parse_args()
    shapes = a.shape or [[64, 1000, 256], [16, 200, 64]]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; Python {sys.version.split()[0]}, numpy {np.__version__}, kann {kann.__version__}")
    rows, over = [], None
    for i, (s, n, k) in enumerate(shapes):
        x = states(s, n, k)
        rows.append(compare(x, a.rank, a.repeats))
        if i == 0:
            over = overhead(x, a.repeats, a.bench_fit)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"compare": rows, "overhead": over}, f, indent=1)


if __name__ == "__main__":
    main()
