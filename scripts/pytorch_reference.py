#!/usr/bin/env python3
"""Train the paper's two models in PyTorch on kann's own splits, for `train import` (run by hand,
with torch; not in CI).

    cargo run --release -p train -- export-data imdb --out /tmp/imdb-data
    python scripts/pytorch_reference.py imdb /tmp/imdb-data /tmp/imdb_gru.pt --epochs 2
    cargo run --release -p train -- import imdb --pytorch /tmp/imdb_gru.pt --out results/imdb-torch
    python scripts/pytorch_reference.py compare /tmp/imdb_gru.pt.test_logits.npy \\
        results/imdb-torch/test_predictions.csv

    cargo run --release -p train -- export-data ecg --out /tmp/ecg-data
    python scripts/pytorch_reference.py ecg /tmp/ecg-data /tmp/ecg_lstm.pt --epochs 20
    cargo run --release -p train -- import ecg --pytorch /tmp/ecg_lstm.pt --out results/ecg-torch

Models, in the layout `train import` reads (keys `emb.*`, `gru.*`, `out.*`; `enc.*`, `dec.*`,
`out.*`): IMDB `Embedding(V + 1, 128)` (one spare row, as many scripts have) -> `GRU(128, 256)`
-> `Linear(256, 1)` read at each review's last real piece, Adam 1e-3, batch 64 of length-sorted
reviews, gradient norm clipped at 15, learning rate x0.8 per epoch; ECG `LSTM(1, 64)` encoder, its
last state repeated 140 times into `LSTM(64, 128)` -> `Linear(128, 1)`, Adam 1e-3, batch 8,
summed L1 loss, learning rate halved after 2 epochs without a better validation loss (as `train
ecg`; `--no-plateau`), optional `--clip`, the weights of the best validation loss kept (and
`<model>.summary.json` with the accuracies at the threshold). Each run writes the state dict and
`<model>.test_logits.npy` / `<model>.test_scores.npy` in the exported order, and prints the test
accuracy PyTorch computes.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn


class Sentiment(nn.Module):
    def __init__(self, vocab, embed=128, hidden=256):
        super().__init__()
        self.emb = nn.Embedding(vocab + 1, embed)
        self.gru = nn.GRU(embed, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, tokens, lengths):
        hidden, _ = self.gru(self.emb(tokens))
        last = hidden[torch.arange(tokens.shape[0]), lengths - 1]
        return self.out(last).squeeze(1)


CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class Autoencoder(nn.Module):
    def __init__(self, latent=64, decoder=128, cell="lstm"):
        super().__init__()
        self.enc = CELLS[cell](1, latent, batch_first=True)
        self.dec = CELLS[cell](latent, decoder, batch_first=True)
        self.out = nn.Linear(decoder, 1)

    def forward(self, beats):
        hidden, _ = self.enc(beats.unsqueeze(2))
        latent = hidden[:, -1]
        dec, _ = self.dec(latent.unsqueeze(1).repeat(1, beats.shape[1], 1))
        return self.out(dec).squeeze(2)


def load_split(folder, name):
    tokens = np.load(folder / f"{name}_tokens.npy").astype(np.int64)
    lengths = np.load(folder / f"{name}_lengths.npy").astype(np.int64)
    labels = np.load(folder / f"{name}_labels.npy").astype(np.float32)
    return tokens, lengths, labels


def batches_by_length(lengths, batch, shuffle_rng=None):
    order = np.argsort(lengths, kind="stable")
    chunks = [order[i : i + batch] for i in range(0, len(order), batch)]
    if shuffle_rng is not None:
        shuffle_rng.shuffle(chunks)
    return chunks


@torch.no_grad()
def imdb_logits(model, tokens, lengths, batch=128):
    model.eval()
    out = np.zeros(len(lengths), dtype=np.float32)
    for idx in batches_by_length(lengths, batch):
        t = int(lengths[idx].max())
        z = model(torch.from_numpy(tokens[idx, :t]), torch.from_numpy(lengths[idx]))
        out[idx] = z.numpy()
    return out


def train_imdb(args):
    folder = Path(args.data)
    vocab = sum(1 for _ in open(folder / "vocab.txt", encoding="utf-8"))
    train = load_split(folder, "train")
    val = load_split(folder, "validation")
    test = load_split(folder, "test")
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = Sentiment(vocab)
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.ExponentialLR(optim, 0.8)
    loss_fn = nn.BCEWithLogitsLoss()
    tokens, lengths, labels = train
    if args.train_limit:
        keep = rng.permutation(len(lengths))[: args.train_limit]
        tokens, lengths, labels = tokens[keep], lengths[keep], labels[keep]
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0, seen, loss_sum = time.time(), 0, 0.0
        chunks = batches_by_length(lengths, 64, rng)
        for step, idx in enumerate(chunks):
            t = int(lengths[idx].max())
            z = model(torch.from_numpy(tokens[idx, :t]), torch.from_numpy(lengths[idx]))
            loss = loss_fn(z, torch.from_numpy(labels[idx]))
            optim.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 15.0)
            optim.step()
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            if step % 50 == 0:
                print(f"  epoch {epoch} batch {step}/{len(chunks)} loss {loss_sum / seen:.4f} "
                      f"({time.time() - t0:.0f} s)", flush=True)
        sched.step()
        z = imdb_logits(model, *val[:2])
        print(f"epoch {epoch}: train loss {loss_sum / seen:.4f}, validation accuracy "
              f"{np.mean((z > 0) == (val[2] > 0.5)):.4f} ({time.time() - t0:.0f} s)", flush=True)
    z = imdb_logits(model, *test[:2])
    acc = np.mean((z > 0) == (test[2] > 0.5))
    torch.save(model.state_dict(), args.model)
    np.save(f"{args.model}.test_logits.npy", z)
    print(f"PyTorch test accuracy {acc:.6f} ({int(np.sum((z > 0) == (test[2] > 0.5)))} of {len(z)} reviews)")


def ecg_scores(model, beats):
    model.eval()
    with torch.no_grad():
        x = torch.from_numpy(beats)
        return (model(x) - x).abs().sum(1).numpy()


def ecg_epoch(model, optim, beats, order, batch, clip=0.0):
    """One training epoch: batches of `batch` beats in `order`, summed L1 loss averaged over the
    batch, backward, optional clipping of the global gradient norm, Adam step."""
    model.train()
    for i in range(0, len(order), batch):
        x = torch.from_numpy(beats[order[i : i + batch]])
        loss = (model(x) - x).abs().sum(1).mean()
        optim.zero_grad()
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optim.step()


def train_ecg(args):
    folder = Path(args.data)
    load = lambda name: np.load(folder / f"{name}_beats.npy").astype(np.float32)
    train, val = load("train"), load("validation")
    test_n, test_a = load("test_normal"), load("test_anomalous")
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = Autoencoder(cell=args.cell)
    optim = torch.optim.Adam(model.parameters(), lr=args.lr, eps=args.eps)
    # kann's recipe: reduce-on-plateau on the validation loss (factor 0.5, patience 2, PyTorch's
    # relative threshold 1e-4); off with --no-plateau.
    sched = (torch.optim.lr_scheduler.ReduceLROnPlateau(optim, factor=0.5, patience=2)
             if args.plateau else None)
    best, best_state, best_epoch = float("inf"), None, 0
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        ecg_epoch(model, optim, train, rng.permutation(len(train)), args.batch, args.clip)
        v = float(np.mean(ecg_scores(model, val)))
        if v < best:
            best, best_epoch = v, epoch
            best_state = {k: t.clone() for k, t in model.state_dict().items()}
        if sched is not None:
            sched.step(v)
        print(f"epoch {epoch}: validation L1 {v:.2f} lr {optim.param_groups[0]['lr']:.2e} "
              f"({time.time() - t0:.1f} s)", flush=True)
    model.load_state_dict(best_state)
    torch.save(model.state_dict(), args.model)
    thr = args.threshold
    sn, sa = ecg_scores(model, test_n), ecg_scores(model, test_a)
    np.save(f"{args.model}.test_scores.npy", np.concatenate([sn, sa]))
    ok = int(np.sum(sn < thr) + np.sum(sa >= thr))
    summary = {
        "seed": args.seed, "epochs": args.epochs, "best_epoch": best_epoch, "best_val_loss": best,
        "clip": args.clip, "eps": args.eps, "plateau": args.plateau, "batch": args.batch,
        "cell": args.cell, "lr": args.lr,
        "train_accuracy": float(np.mean(ecg_scores(model, train) < thr)),
        "val_accuracy": float(np.mean(ecg_scores(model, val) < thr)),
        "test_accuracy": ok / (len(sn) + len(sa)),
        "test_normal_accuracy": float(np.mean(sn < thr)),
        "test_anomalous_accuracy": float(np.mean(sa >= thr)),
    }
    with open(f"{args.model}.summary.json", "w") as f:
        json.dump(summary, f, indent=1)
    print(f"PyTorch at threshold {thr}: train {summary['train_accuracy']:.4f}, "
          f"validation {summary['val_accuracy']:.4f}, "
          f"test {ok / (len(sn) + len(sa)):.6f} ({ok} of {len(sn) + len(sa)} beats; "
          f"normal {np.mean(sn < thr):.4f}, anomalous {np.mean(sa >= thr):.4f})")


def compare(args):
    """PyTorch's test logits against the `test_predictions.csv` of the imported run."""
    torch_z = np.load(args.logits)
    rows = np.genfromtxt(args.predictions, delimiter=",", names=True)
    kann_z = rows["logit"].astype(np.float32)
    labels = rows["label"] > 0.5
    assert len(torch_z) == len(kann_z), (len(torch_z), len(kann_z))
    same = (torch_z > 0) == (kann_z > 0)
    print(f"reviews {len(kann_z)}: same decision on {int(same.sum())}, "
          f"max |logit difference| {np.max(np.abs(torch_z - kann_z)):.2e}; "
          f"accuracy PyTorch {np.mean((torch_z > 0) == labels):.6f}, "
          f"kann {np.mean((kann_z > 0) == labels):.6f}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="task", required=True)
    for task in ("imdb", "ecg"):
        s = sub.add_parser(task)
        s.add_argument("data", help="folder written by `train export-data`")
        s.add_argument("model", help="state dict to write (.pt)")
        s.add_argument("--epochs", type=int, default=2 if task == "imdb" else 20)
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--threads", type=int, default=2)
        if task == "imdb":
            s.add_argument("--train-limit", type=int, default=0,
                           help="train on this many random training reviews (0: all)")
        if task == "ecg":
            s.add_argument("--threshold", type=float, default=26.0)
            s.add_argument("--batch", type=int, default=8)
            s.add_argument("--clip", type=float, default=0.0,
                           help="clip the global gradient norm at this value (0: no clipping)")
            s.add_argument("--eps", type=float, default=1e-8, help="Adam's epsilon")
            s.add_argument("--cell", choices=sorted(CELLS), default="lstm",
                           help="recurrent cell of encoder and decoder (App. C)")
            s.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
            s.add_argument("--no-plateau", dest="plateau", action="store_false",
                           help="keep the learning rate constant (default: reduce on plateau)")
    c = sub.add_parser("compare")
    c.add_argument("logits")
    c.add_argument("predictions")
    args = p.parse_args()
    if args.task == "compare":
        return compare(args)
    torch.set_num_threads(args.threads)
    {"imdb": train_imdb, "ecg": train_ecg}[args.task](args)


if __name__ == "__main__":
    main()
