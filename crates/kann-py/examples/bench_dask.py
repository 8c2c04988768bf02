"""Times kann.dask.fit on a LocalCluster against the single-process streaming fit, on random
states of a given shape generated block by block (on the workers for Dask; never held whole).

    python crates/kann-py/examples/bench_dask.py --shape 25000 1000 256 --chunk 250 --workers 2
    python crates/kann-py/examples/bench_dask.py --shape 200 1000 256 --chunk 50 --merge both

Both runs do the same two passes (Gram products or R factors, then e_rel) over the same float32
blocks (each block's values come from a generator seeded by the block index), so their eigenvalues
must agree; the script prints the times, their ratio and the largest eigenvalue difference.
``--merge``: ``gram`` (default; GramAccumulator), ``tsqr`` (TsqrAccumulator: a QR per block,
R factors merged) or ``both`` (each in turn on the same cluster, then the difference of their
eigenvalues).
"""

import argparse
import time

import numpy as np

import kann


def block(i, b, t, h):
    return np.random.default_rng(i).standard_normal((b, t, h), dtype=np.float32)


def single_process(n_blocks, b, t, h, rank, merge):
    acc = kann.TsqrAccumulator(h) if merge == "tsqr" else kann.GramAccumulator(h)
    for i in range(n_blocks):
        acc.push(block(i, b, t, h))
    fit = acc.fit(rank=rank)
    sums = np.zeros(3)
    for i in range(n_blocks):
        sums += fit.error_sums(block(i, b, t, h))
    return fit.with_relative_error(sums[0] / sums[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", type=int, nargs=3, default=[2500, 1000, 256], metavar=("B", "T", "H"))
    ap.add_argument("--chunk", type=int, default=250, help="sequences per block")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="threads per worker")
    ap.add_argument("--rank", type=int, default=64)
    ap.add_argument("--merge", choices=["gram", "tsqr", "both"], default="gram",
                    help="kann.dask.fit(merge=...): Gram sums, TSQR R factors, or both in turn")
    args = ap.parse_args()
    import dask
    import dask.array as da
    import distributed

    import kann.dask

    bsz, t, h = args.shape
    if bsz % args.chunk:
        raise SystemExit("--chunk must divide B")
    n = bsz // args.chunk
    gb = bsz * t * h * 4 / 1e9
    merges = ["gram", "tsqr"] if args.merge == "both" else [args.merge]
    dfits, t_dask = {}, {}
    with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=args.threads,
                                  processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        blocks = [da.from_delayed(dask.delayed(block, pure=True)(i, args.chunk, t, h),
                                  shape=(args.chunk, t, h), dtype=np.float32) for i in range(n)]
        x = da.concatenate(blocks, axis=0)
        for merge in merges:
            t0 = time.perf_counter()
            dfits[merge] = kann.dask.fit(x, rank=args.rank, merge=merge)
            t_dask[merge] = time.perf_counter() - t0
    print(f"shape {bsz} x {t} x {h} float32 ({gb:.1f} GB, generated twice: accumulate and e_rel passes), "
          f"{n} blocks of {args.chunk} sequences, rank {args.rank}")
    for merge in merges:
        t0 = time.perf_counter()
        sfit = single_process(n, args.chunk, t, h, args.rank, merge)
        t_single = time.perf_counter() - t0
        dfit = dfits[merge]
        diff = np.max(np.abs(dfit.eigenvalues - sfit.eigenvalues))
        name = "TsqrAccumulator" if merge == "tsqr" else "GramAccumulator"
        print(f"merge={merge}: dask LocalCluster {args.workers} workers x {args.threads} thread: "
              f"{t_dask[merge]:.1f} s")
        print(f"merge={merge}: single process ({name}.push + error_sums, same blocks): {t_single:.1f} s")
        print(f"merge={merge}: ratio single/dask: {t_single / t_dask[merge]:.2f}; max |Δλ| = {diff:.2e}; "
              f"e_rel {dfit.relative_error:.6f} vs {sfit.relative_error:.6f}; condition {dfit.condition:.3e}")
    if len(merges) == 2:
        diff = np.max(np.abs(dfits["gram"].eigenvalues - dfits["tsqr"].eigenvalues))
        print(f"gram vs tsqr: max |Δλ| = {diff:.2e}; dask time tsqr/gram = "
              f"{t_dask['tsqr'] / t_dask['gram']:.2f}")


if __name__ == "__main__":
    main()
