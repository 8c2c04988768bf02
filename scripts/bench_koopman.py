#!/usr/bin/env python3
"""numpy/scikit-learn reference of the Koopman fit (paper Sec. 3), timed like the Rust bench.

    bench_koopman.py STATES.npy OUT.json [--repeats N]   # time the reference fit
    bench_koopman.py --compare RUST.json PY.json          # print both times, ratio, check moduli

The reference pipeline (as the authors' code): TruncatedSVD(n_components=rank) on H reshaped to
(s*n, k) (randomized, no centering), coefficients H~ = H B, np.linalg.lstsq over consecutive
pairs, np.linalg.eig, and e_rel (Eq. 12) over all steps. The states are cast to float64 first
(inside the timed region) so that eigenvalue moduli are comparable to 1e-6 with the Rust fit,
which accumulates in float64.
"""
import json
import sys
import time


def fit(path, out, repeats):
    import numpy as np
    from sklearn.decomposition import TruncatedSVD

    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            print(f"python: BLAS {pool.get('internal_api')} {pool.get('version')} "
                  f"arch={pool.get('architecture')} threads={pool.get('num_threads')}")
    except ImportError:
        pass
    H = np.load(path)
    s, n, k = H.shape
    rank = min(s * (n - 1), k) - 1
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        H64 = H.astype(np.float64)
        flat = H64.reshape(-1, k)
        svd = TruncatedSVD(n_components=rank, random_state=0)
        Ht = svd.fit_transform(flat).reshape(s, n, rank)
        B = svd.components_.T
        X = Ht[:, :-1].reshape(-1, rank)
        Y = Ht[:, 1:].reshape(-1, rank)
        C = np.linalg.lstsq(X, Y, rcond=None)[0]
        lam, V = np.linalg.eig(C)
        pred = (X @ C) @ B.T
        true = H64[:, 1:].reshape(-1, k)
        e_rel = float(np.mean(np.sum((pred - true) ** 2, 1) / np.sum(true ** 2, 1)))
        times.append(time.perf_counter() - t0)
    moduli = sorted((float(abs(x)) for x in lam), reverse=True)
    best = sorted(times)[len(times) // 2]
    print(f"python fit [{s}, {n}, {k}] rank {rank}: runs {[round(t, 3) for t in times]} s, "
          f"median {best:.3f} s; e_rel {e_rel:.6f}; top |lambda| {moduli[:4]}")
    with open(out + ".tmp", "w") as f:
        json.dump({"seconds": best, "runs": times, "rank": rank, "e_rel": e_rel,
                   "moduli": moduli}, f)
    import os
    os.replace(out + ".tmp", out)


def compare(rust_path, py_path):
    with open(rust_path) as f:
        rust = json.load(f)
    with open(py_path) as f:
        py = json.load(f)
    ratio = py["seconds"] / rust["seconds"]
    print(f"reference (numpy + scikit-learn): {py['seconds']:.3f} s")
    print(f"kann-koopman (Rust, faer):        {rust['seconds']:.3f} s")
    print(f"speed-up: {ratio:.1f}x (target >= 20x)")
    rm, pm = rust["moduli"], py["moduli"]
    if len(rm) != len(pm):
        print(f"FAIL: {len(rm)} eigenvalues in Rust, {len(pm)} in the reference")
        return 1
    worst = max(abs(a - b) for a, b in zip(rm, pm))
    print(f"eigenvalue moduli (sorted): max |diff| = {worst:.2e} over {len(rm)} "
          f"(tolerance 1e-6); e_rel rust {rust['e_rel']:.6f} vs reference {py['e_rel']:.6f}")
    ok = worst <= 1e-6 and abs(rust["e_rel"] - py["e_rel"]) <= 1e-6 * max(1.0, py["e_rel"])
    print("moduli and e_rel: " + ("MATCH" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "--compare":
        sys.exit(compare(a[1], a[2]))
    repeats = 1
    if "--repeats" in a:
        i = a.index("--repeats")
        repeats = int(a[i + 1])
        del a[i:i + 2]
    if len(a) != 2:
        print(__doc__)
        sys.exit(2)
    fit(a[0], a[1], repeats)
