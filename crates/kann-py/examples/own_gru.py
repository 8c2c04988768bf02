"""Train a small GRU in PyTorch on a toy task, then analyse its hidden states with kann.

Task: a sequence of tokens +1 / -1 / 0 of random length; predict whether the sum is positive
(a counter, the way a sentiment model tallies positive and negative words). A GRU that solves it
must keep a slowly decaying memory: kann shows it as an eigenvalue near 1 with a long horizon.

    pip install torch ./crates/kann-py
    python crates/kann-py/examples/own_gru.py [SPECTRUM.png]

With a path, the spectrum figure is written there (PNG, and the SVG beside it); without one it is
drawn as PNG bytes only, as a notebook would show it (``IPython.display.Image(png)``).
"""

import sys

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import kann
import kann.torch


def toy_batch(b, t_max, gen):
    lengths = torch.randint(t_max // 2, t_max + 1, (b,), generator=gen)
    tokens = torch.randint(0, 3, (b, t_max), generator=gen)  # 0: pad/neutral, 1: +1, 2: -1
    steps = torch.arange(t_max)[None, :] < lengths[:, None]
    tokens = tokens * steps
    value = torch.where(tokens == 1, 1, torch.where(tokens == 2, -1, 0))
    return tokens, lengths, (value.sum(1) > 0).float()


class Model(nn.Module):
    def __init__(self, hidden=16):
        super().__init__()
        self.emb = nn.Embedding(3, 8)
        self.gru = nn.GRU(8, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, tokens, lengths):
        packed = pack_padded_sequence(self.emb(tokens), lengths, batch_first=True, enforce_sorted=False)
        return self.out(self.gru(packed)[1][-1]).squeeze(-1)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    model = Model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(300):
        tokens, lengths, y = toy_batch(64, 40, gen)
        loss = nn.functional.binary_cross_entropy_with_logits(model(tokens, lengths), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    tokens, lengths, y = toy_batch(512, 40, gen)
    with torch.no_grad():
        acc = ((model(tokens, lengths) > 0).float() == y).float().mean().item()
    print(f"trained: loss {loss.item():.3f}, test accuracy {acc:.3f}")

    # --- the analysis: ten lines ---
    states, lens = kann.torch.rnn_states(model.gru, model.emb(tokens), lengths)
    fit = kann.fit(states, lens, rank=8)
    print("eigenvalues:", np.round(fit.eigenvalues, 3))
    print("memory horizons tau(0.01):", np.round(fit.memory_horizon(0.01), 1))
    print(f"e_rel (Eq. 12): {fit.relative_error:.4f}")
    lead = fit.groups[0]  # the paper's u_1 (or U_12 when lambda_1, lambda_2 are a pair)
    coord = fit.project(states, lead, kind="coordinates")[..., 0]  # Eq. 7, [B, T]
    value = np.where(tokens == 1, 1, np.where(tokens == 2, -1, 0)).cumsum(1)  # running sum
    real = np.arange(states.shape[1])[None, :] < lens[:, None]
    r = np.corrcoef(coord.real[real], value[real])[0, 1]
    print(f"leading group u{[j + 1 for j in lead]}: |lambda| = {abs(fit.eigenvalues[lead[0]]):.3f}; "
          f"correlation of its coordinate (Eq. 7) with the running sum: {r:+.3f}")
    title = "GRU of own_gru.py: Koopman spectrum"
    if len(sys.argv) > 1:
        print("spectrum figure:", fit.plot_spectrum(sys.argv[1], title=title))
    else:
        png = fit.plot_spectrum(title=title)  # in a notebook: IPython.display.Image(png)
        print(f"spectrum figure: {len(png)} bytes of PNG (give a path to write it)")


if __name__ == "__main__":
    main()
