#!/usr/bin/env python3
"""numpy references of the Koopman fit (paper Sec. 3), timed like the Rust bench.

    bench_koopman.py STATES.npy OUT.json [--repeats N] [--pipeline reference|careful]
    bench_koopman.py --compare RUST.json [RUST.json ...] --reference PY.json
                     [--careful CAREFUL.json ...]      # print times, ratios, check moduli

Two pipelines on the same f32 states `[s, n, k]` (all steps valid), both in float64:

- `reference` (the authors' code): TruncatedSVD(n_components=rank) on H reshaped to (s*n, k)
  (randomized, no centering), coefficients H~ = H B, np.linalg.lstsq over consecutive pairs,
  np.linalg.eig, and e_rel (Eq. 12) over all steps. The cast of the states to float64 is inside
  the timed region (as it always was for this pipeline).
- `careful`: the same algorithm as the Rust fit, written the way a careful numpy user would:
  G = HᵀH (one BLAS call on the flat (s*n, k) view), G0 = XᵀX and G01 = XᵀY from G and one
  shifted product on the flat view minus the sequence-boundary terms (no copies of X and Y),
  B = top eigenvectors of G (np.linalg.eigh), C = (BᵀG0B)⁻¹ BᵀG01B (np.linalg.solve),
  np.linalg.eigvals(C), and e_rel from one product H M (M = B C Bᵀ). Timed from the float64
  states in memory (the cast is outside, as the Rust side reads its states into float64 before
  its clock starts) to the eigenvalues and e_rel.

Both use numpy's BLAS (OpenBLAS) with its default threads (all cores; printed).
"""
import json
import os
import sys
import time


def blas_info():
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            print(f"python: BLAS {pool.get('internal_api')} {pool.get('version')} "
                  f"arch={pool.get('architecture')} threads={pool.get('num_threads')}")
    except ImportError:
        pass


def reference_fit(H, rank):
    import numpy as np
    from sklearn.decomposition import TruncatedSVD

    s, n, k = H.shape
    H64 = H.astype(np.float64)
    flat = H64.reshape(-1, k)
    svd = TruncatedSVD(n_components=rank, random_state=0)
    Ht = svd.fit_transform(flat).reshape(s, n, rank)
    B = svd.components_.T
    X = Ht[:, :-1].reshape(-1, rank)
    Y = Ht[:, 1:].reshape(-1, rank)
    C = np.linalg.lstsq(X, Y, rcond=None)[0]
    lam = np.linalg.eigvals(C)
    pred = (X @ C) @ B.T
    true = H64[:, 1:].reshape(-1, k)
    e_rel = float(np.mean(np.sum((pred - true) ** 2, 1) / np.sum(true ** 2, 1)))
    return lam, e_rel


def careful_fit(H64, rank):
    import numpy as np

    s, n, k = H64.shape
    flat = H64.reshape(-1, k)
    first, last = H64[:, 0], H64[:, -1]
    G = flat.T @ flat
    G0 = G - last.T @ last
    # Pairs (h_t, h_t+1) of the flat view, minus the s-1 pairs that cross a sequence boundary.
    G01 = flat[:-1].T @ flat[1:] - last[:-1].T @ first[1:]
    _, V = np.linalg.eigh(G)
    B = V[:, ::-1][:, :rank]
    A0 = B.T @ G0 @ B
    A01 = B.T @ G01 @ B
    C = np.linalg.solve(A0, A01)
    lam = np.linalg.eigvals(C)
    M = B @ (C @ B.T)
    P = (flat @ M).reshape(s, n, k)
    D = P[:, :-1] - H64[:, 1:]
    T = H64[:, 1:]
    e_rel = float(np.mean(np.einsum("stk,stk->st", D, D) / np.einsum("stk,stk->st", T, T)))
    return lam, e_rel


def fit(path, out, repeats, pipeline):
    import numpy as np

    blas_info()
    H = np.load(path)
    s, n, k = H.shape
    rank = min(s * (n - 1), k) - 1
    H64 = H.astype(np.float64) if pipeline == "careful" else None
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        if pipeline == "careful":
            lam, e_rel = careful_fit(H64, rank)
        else:
            lam, e_rel = reference_fit(H, rank)
        times.append(time.perf_counter() - t0)
    moduli = sorted((float(abs(x)) for x in lam), reverse=True)
    best = sorted(times)[len(times) // 2]
    print(f"python {pipeline} fit [{s}, {n}, {k}] rank {rank}: runs "
          f"{[round(t, 3) for t in times]} s, median {best:.3f} s; e_rel {e_rel:.6f}; "
          f"top |lambda| {moduli[:4]}")
    with open(out + ".tmp", "w") as f:
        json.dump({"seconds": best, "runs": times, "rank": rank, "e_rel": e_rel,
                   "moduli": moduli, "pipeline": pipeline}, f)
    os.replace(out + ".tmp", out)


def median(xs):
    xs = sorted(xs)
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else 0.5 * (xs[m - 1] + xs[m])


def secs(runs):
    return ", ".join("%.3f" % r["seconds"] for r in runs)


def agreement(name, got, want):
    """Prints max |diff| of the sorted moduli and e_rel; True if within 1e-6."""
    rm, pm = got["moduli"], want["moduli"]
    if len(rm) != len(pm):
        print(f"  {name}: FAIL: {len(rm)} eigenvalues vs {len(pm)}")
        return False
    worst = max(abs(a - b) for a, b in zip(rm, pm))
    de = abs(got["e_rel"] - want["e_rel"])
    ok = worst <= 1e-6 and de <= 1e-6 * max(1.0, want["e_rel"])
    print(f"  {name}: eigenvalue moduli (sorted) max |diff| = {worst:.2e} over {len(rm)}, "
          f"|diff e_rel| = {de:.1e} (tolerance 1e-6): {'MATCH' if ok else 'MISMATCH'}")
    return ok


def compare(argv):
    """--compare R1.json ... --reference P.json [--careful C1.json ...]: the Rust files are
    grouped by their "precision" field; each group's time is the median over its files (rounds)
    of each file's median."""
    groups, ref, careful, mode = {}, None, [], "rust"
    for a in argv:
        if a in ("--reference", "--careful"):
            mode = a[2:]
            continue
        with open(a) as f:
            d = json.load(f)
        if mode == "rust":
            groups.setdefault(d.get("precision", "f64"), []).append(d)
        elif mode == "reference":
            ref = d
        else:
            careful.append(d)
    ok = True
    care_s = median([c["seconds"] for c in careful]) if careful else None
    if ref:
        print(f"authors' pipeline (numpy + scikit-learn TruncatedSVD): {ref['seconds']:.3f} s")
    if careful:
        print(f"careful numpy (Gram + eigh + solve + eigvals, float64): {care_s:.3f} s "
              f"(median of {len(careful)} rounds: {secs(careful)})")
    for prec, runs in sorted(groups.items()):
        rs = median([r["seconds"] for r in runs])
        used = sorted({r.get("used", prec) for r in runs})
        spec = median([r.get("spectrum_seconds", 0.0) for r in runs])
        print(f"kann-koopman, {prec} products (used: {', '.join(used)}): {rs:.3f} s "
              f"(median of {len(runs)} rounds: {secs(runs)}; the full spectrum with "
              f"eigenvectors, U and residuals takes {spec:.3f} s more, not in the ratio)")
        line = f"  ratios ({prec}):"
        if ref:
            line += f" authors' pipeline / kann = {ref['seconds'] / rs:.1f}x (target >= 20x);"
        if careful:
            line += f" careful numpy / kann = {care_s / rs:.2f}x (target >= 3x)"
        print(line)
        if ref:
            ok &= agreement(f"{prec} vs authors' pipeline", runs[-1], ref)
        if careful:
            ok &= agreement(f"{prec} vs careful numpy", runs[-1], careful[-1])
    print("moduli and e_rel: " + ("MATCH" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "--compare":
        sys.exit(compare(a[1:]))
    repeats, pipeline = 1, "reference"
    if "--repeats" in a:
        i = a.index("--repeats")
        repeats = int(a[i + 1])
        del a[i:i + 2]
    if "--pipeline" in a:
        i = a.index("--pipeline")
        pipeline = a[i + 1]
        del a[i:i + 2]
    if len(a) != 2 or pipeline not in ("reference", "careful"):
        print(__doc__)
        sys.exit(2)
    fit(a[0], a[1], repeats, pipeline)
