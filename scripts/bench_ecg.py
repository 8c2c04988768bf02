#!/usr/bin/env python3
"""Times epochs of the paper's ECG5000 LSTM autoencoder in PyTorch, the way `train ecg` times its
own (run by `scripts/bench_ecg.sh`, not by hand; needs torch).

An epoch = the training loop (batches of 8 in a shuffled order: forward, summed L1 loss averaged
over the batch, backward, Adam step) plus scoring the validation split; the test split is scored
too with --test (as `train ecg` does under `test_every_epoch = true`). Prints one line per epoch:

    RESULT impl=pytorch epoch=E train=SECONDS eval=SECONDS
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pytorch_reference import Autoencoder, ecg_epoch, ecg_scores  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="folder written by `train export-data ecg`")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--test", action="store_true", help="score the test split every epoch too")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    folder = Path(args.data)
    load = lambda name: np.load(folder / f"{name}_beats.npy").astype(np.float32)
    train, val = load("train"), load("validation")
    test = np.concatenate([load("test_normal"), load("test_anomalous")])
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = Autoencoder()
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        ecg_epoch(model, optim, train, rng.permutation(len(train)), args.batch)
        t1 = time.perf_counter()
        v = float(np.mean(ecg_scores(model, val)))
        if args.test:
            ecg_scores(model, test)
        t2 = time.perf_counter()
        print(f"RESULT impl=pytorch epoch={epoch} train={t1 - t0:.4f} eval={t2 - t1:.4f} "
              f"val_loss={v:.3f}", flush=True)


if __name__ == "__main__":
    main()
