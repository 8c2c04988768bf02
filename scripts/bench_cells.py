#!/usr/bin/env python3
"""PyTorch reference for crates/kann-models/examples/bench_cells.rs.

Times one training step (forward + backward + Adam) of embedding -> nn.GRU -> linear -> BCE on the
hidden state at the last step, B=64, emb 128, hidden 256, vocab 32000, on the CPU. Prints one
`RESULT impl=pytorch steps=<T> secs=<median>` line per sequence length.
"""
import argparse
import os
import time

import torch
from torch import nn


class Model(nn.Module):
    def __init__(self, vocab, emb, hidden):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb)
        self.gru = nn.GRU(emb, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, tokens):
        hidden, _ = self.gru(self.embedding(tokens))
        return self.head(hidden[:, -1, :])


def time_steps(args, steps):
    model = Model(args.vocab, args.emb, args.hidden)
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    tokens = torch.randint(0, args.vocab, (args.batch, steps))
    labels = torch.randint(0, 2, (args.batch, 1)).float()
    times = []
    for i in range(args.iters + 1):
        start = time.perf_counter()
        optim.zero_grad(set_to_none=True)
        loss = loss_fn(model(tokens), labels)
        loss.backward()
        optim.step()
        if i > 0:
            times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", default="100,400,1000")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--emb", type=int, default=128)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--label", default="pytorch",
                   help="implementation name printed in the RESULT lines")
    p.add_argument("--keep-denormals", action="store_true",
                   help="do not flush subnormal floats (the Rust cells flush them in their kernels)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(not args.keep_denormals)
    thp = os.environ.get("THP_MEM_ALLOC_ENABLE", "0")
    print(f"# torch {torch.__version__} threads={torch.get_num_threads()} "
          f"THP_MEM_ALLOC_ENABLE={thp}")
    for steps in (int(s) for s in args.steps.split(",")):
        secs = time_steps(args, steps)
        print(f"RESULT impl={args.label} steps={steps} secs={secs:.4f}", flush=True)


if __name__ == "__main__":
    main()
