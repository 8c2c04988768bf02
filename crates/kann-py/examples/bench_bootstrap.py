"""Times kann.fit with resampling intervals (bootstrap=N) against the plain fit on random
float32 states, and checks that the point estimates are the same.

    python crates/kann-py/examples/bench_bootstrap.py --shape 64 1000 256 --rank 64 --bootstrap 200

Prints the best of ``--repeat`` runs of each, their ratio, and the count of |λ| > 0.99 with its
interval.
"""

import argparse
import time

import numpy as np

import kann


def best(f, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", type=int, nargs=3, default=[64, 1000, 256], metavar=("B", "T", "H"))
    ap.add_argument("--rank", type=int, default=64)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    states = np.random.default_rng(0).standard_normal(args.shape, dtype=np.float32)
    plain_s, plain = best(lambda: kann.fit(states, rank=args.rank), args.repeat)
    boot_s, boot = best(lambda: kann.fit(states, rank=args.rank, bootstrap=args.bootstrap), args.repeat)
    assert np.array_equal(plain.eigenvalues, boot.eigenvalues)
    ci = boot.intervals
    print(f"states {tuple(args.shape)} float32, rank {args.rank}")
    print(f"bootstrap=0:   {plain_s:.3f} s")
    print(f"bootstrap={args.bootstrap}: {boot_s:.3f} s ({boot_s / plain_s:.1f}x; "
          f"{(boot_s - plain_s) / args.bootstrap * 1e3:.1f} ms per replicate)")
    print(f"failed {ci.failed}; |lambda_1| = {abs(boot.eigenvalues[0]):.4f} {ci.modulus_ci[0].round(4).tolist()}; "
          f"count |lambda| > 0.99: {ci.num_dominant_ci}")


if __name__ == "__main__":
    main()
