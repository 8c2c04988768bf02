#!/usr/bin/env python3
"""Write the tiny PyTorch fixtures that `crates/kann-models/tests/pytorch_import.rs` imports.

Run by hand, with torch installed (not in CI; the outputs are committed, a few KB each):

    python scripts/make_pytorch_fixtures.py crates/kann-models/tests/fixtures/pytorch

For each cell (gru, lstm, rnn) it writes, in the layout `train import` expects
(`torch.nn.GRU`/`LSTM`/`RNN` with batch_first=True and one layer, `nn.Embedding`, `nn.Linear`):

- `sentiment_<cell>.pt`: state dict of Embedding(21, 6) -> <cell>(6, 5) -> Linear(5, 1), keys
  `emb.*`, `<cell>.*`, `out.*`. The embedding has one spare row beyond the 20-piece vocabulary,
  as PyTorch scripts with an extra padding row have.
- `sentiment_<cell>_hidden.npy` (float32 [3, 7, 5]: h_t at every step, padded steps included),
  `sentiment_<cell>_logits.npy` (float32 [3]: the readout at each sequence's last real token),
  for the inputs `sentiment_tokens.npy` (int64 [3, 7], zero-padded) and
  `sentiment_lengths.npy` (int64 [3]).
- `ecg_<cell>.pt`: encoder <cell>(1, 4), decoder <cell>(4, 6) fed the latent (the encoder's
  last hidden state) at each of 9 steps, Linear(6, 1); keys `enc.*`, `dec.*`, `out.*`.
- `ecg_<cell>_hidden.npy` (encoder h_t, [3, 9, 4]) and `ecg_<cell>_recon.npy` (float32 [3, 9])
  for the input `ecg_beats.npy` (float32 [3, 9]).

And two for the error paths: `gru_renamed_keys.pt` (keys `embedding.*`, `rnn_layer.*`,
`fc.*`, for `--key-map`) and `sentiment_gru_2layer.pt` (a two-layer GRU, which is refused).
"""
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}
VOCAB, EMBED, HIDDEN = 20, 6, 5
LATENT, DECODER, BEAT = 4, 6, 9


class Sentiment(nn.Module):
    def __init__(self, cell, layers=1):
        super().__init__()
        self.emb = nn.Embedding(VOCAB + 1, EMBED)
        setattr(self, cell, CELLS[cell](EMBED, HIDDEN, num_layers=layers, batch_first=True))
        self.cell = cell
        self.out = nn.Linear(HIDDEN, 1)

    def forward(self, tokens, lengths):
        hidden, _ = getattr(self, self.cell)(self.emb(tokens))
        last = hidden[torch.arange(tokens.shape[0]), lengths - 1]
        return hidden, self.out(last).squeeze(1)


class Autoencoder(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.enc = CELLS[cell](1, LATENT, batch_first=True)
        self.dec = CELLS[cell](LATENT, DECODER, batch_first=True)
        self.out = nn.Linear(DECODER, 1)

    def forward(self, beats):
        hidden, _ = self.enc(beats.unsqueeze(2))
        latent = hidden[:, -1]
        dec, _ = self.dec(latent.unsqueeze(1).repeat(1, beats.shape[1], 1))
        return hidden, self.out(dec).squeeze(2)


def save(out, name, array):
    np.save(out / f"{name}.npy", array)


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "crates/kann-models/tests/fixtures/pytorch")
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    tokens = torch.randint(1, VOCAB, (3, 7))
    lengths = torch.tensor([7, 4, 1])
    for b, n in enumerate(lengths.tolist()):
        tokens[b, n:] = 0
    beats = torch.randn(3, BEAT)
    save(out, "sentiment_tokens", tokens.numpy().astype(np.int64))
    save(out, "sentiment_lengths", lengths.numpy().astype(np.int64))
    save(out, "ecg_beats", beats.numpy().astype(np.float32))
    with torch.no_grad():
        for cell in CELLS:
            model = Sentiment(cell)
            hidden, logits = model(tokens, lengths)
            torch.save(model.state_dict(), out / f"sentiment_{cell}.pt")
            save(out, f"sentiment_{cell}_hidden", hidden.numpy().astype(np.float32))
            save(out, f"sentiment_{cell}_logits", logits.numpy().astype(np.float32))

            ae = Autoencoder(cell)
            hidden, recon = ae(beats)
            torch.save(ae.state_dict(), out / f"ecg_{cell}.pt")
            save(out, f"ecg_{cell}_hidden", hidden.numpy().astype(np.float32))
            save(out, f"ecg_{cell}_recon", recon.numpy().astype(np.float32))

        # Same weights as sentiment_gru.pt under other names.
        base = torch.load(out / "sentiment_gru.pt")
        renamed = {
            k.replace("emb.", "embedding.").replace("gru.", "rnn_layer.").replace("out.", "fc."): v.clone()
            for k, v in base.items()
        }
        torch.save(renamed, out / "gru_renamed_keys.pt")
        torch.save(Sentiment("gru", layers=2).state_dict(), out / "sentiment_gru_2layer.pt")
    for f in sorted(out.iterdir()):
        print(f"{f.stat().st_size:>7} {f}")


if __name__ == "__main__":
    main()
