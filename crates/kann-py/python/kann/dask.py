"""Koopman fits of states that live on a Dask cluster (paper Sec. 3.2, Eqs. 4-5, 12).

:func:`fit` takes a ``dask.array`` ``[B, T, H]`` (or ``[T, B, H]`` with ``layout="tbh"``) chunked
along the sequence axis ``B``: each block becomes a :class:`kann.GramAccumulator` on the worker
that holds it (the Gram products run in Rust there), the partial accumulators are merged in a
tree (``split_every`` at a time), the model is fitted once on the client from the ``H x H`` sums,
and ``e_rel`` is summed block by block the same way. Only ``O(H²)`` numbers per block travel; the
states never leave the workers. The result equals :func:`kann.fit` on the whole array up to the
order of the floating-point additions.

``merge="tsqr"`` keeps R factors instead of Grams (:class:`kann.TsqrAccumulator`: a QR of each
block's pairs ``[h_t | h_t+1]``, partials merged by a QR of the stacked factors, the same tree):
the same estimator without squaring the condition number of the states, at the cost of a QR per
block. ``"gram"`` (default) is right while ``fit.condition`` (the condition number of
``X~ᵀX~``) is well below ``1e10``; ``"tsqr"`` when it is not (saturated or nearly collinear
units). docs/python.md has the measured accuracy and cost of both.

Needs ``dask`` (and ``distributed`` for a cluster); imported only when used.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

import dask
import dask.array as da

from . import _kann
from ._checks import lengths as _check_lengths

__all__ = ["fit", "gram"]

Partial = Union[_kann.GramAccumulator, _kann.TsqrAccumulator]

_MERGES = ("gram", "tsqr")


def _check_merge(merge: str, precision: str) -> None:
    if merge not in _MERGES:
        raise ValueError(f"merge: expected \"gram\" (sums of Gram matrices) or \"tsqr\" (QR of R factors), got {merge!r}")
    if merge == "tsqr" and precision != "f64":
        raise ValueError(f"precision: the TSQR merge is always \"f64\", got {precision!r} (\"mixed\" is for merge=\"gram\")")


def _partial_block(block: np.ndarray, lengths: Optional[np.ndarray], dim: int, precision: str,
                   merge: str, layout: str) -> Partial:
    acc = _kann.TsqrAccumulator(dim) if merge == "tsqr" else _kann.GramAccumulator(dim, precision=precision)
    acc.push(np.ascontiguousarray(block) if layout == "bth" else block, lengths, layout=layout)
    return acc


def _merge(*accs: Partial) -> Partial:
    # a copy of the first: dask's inputs must not change
    state = accs[0].state()
    out = _kann._tsqr_from_state(state) if state["format"] == "kann.tsqr" else _kann._gram_from_state(state)
    for a in accs[1:]:
        out.merge(a)
    return out


def _error_block(model: _kann.Fit, block: np.ndarray, lengths: Optional[np.ndarray],
                 layout: str) -> Tuple[float, int, int]:
    return model.error_sums(block, lengths, layout=layout)


def _add(*sums: Tuple[float, int, int]) -> Tuple[float, int, int]:
    return (sum(s[0] for s in sums), sum(s[1] for s in sums), sum(s[2] for s in sums))


def _tree(items: List[Any], combine: Any, split_every: int) -> Any:
    """Reduces delayed items in a tree of fan-in ``split_every``."""
    while len(items) > 1:
        items = [dask.delayed(combine, pure=True)(*items[i:i + split_every])
                 for i in range(0, len(items), split_every)]
    return items[0]


def _prepare(x: Any, lengths: Any, layout: str) -> Tuple[da.Array, List[Optional[Any]], int]:
    if layout not in ("bth", "tbh"):
        raise ValueError(f"layout: expected \"bth\" ([B, T, H]) or \"tbh\" ([T, B, H]), got {layout!r}")
    if not isinstance(x, da.Array):
        raise TypeError(f"x: expected a dask.array.Array, got {type(x).__name__} (use kann.fit for numpy arrays)")
    if x.ndim != 3:
        raise TypeError(f"x: expected a 3-d dask array [B, T, H], got shape {x.shape}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"x: expected float32 or float64, got {x.dtype} of shape {x.shape}")
    seq_axis = 0 if layout == "bth" else 1
    b, t = x.shape[seq_axis], x.shape[1 - seq_axis]
    if any(np.isnan(d) for d in x.shape):
        raise ValueError(f"x: shape {x.shape} has unknown sizes; call x.compute_chunk_sizes() first")
    # whole sequences per block: one chunk along time and hidden
    x = x.rechunk({1 - seq_axis: -1, 2: -1})
    blocks = x.to_delayed().ravel().tolist()
    starts = np.cumsum((0,) + x.chunks[seq_axis])
    if lengths is None:
        parts: List[Optional[Any]] = [None] * len(blocks)
    elif isinstance(lengths, da.Array):
        if lengths.shape[0] != b:
            raise ValueError(f"lengths: expected [B] = [{b}] or a mask [B, T] = [{b}, {t}], got shape {lengths.shape}")
        lengths = lengths.rechunk({0: x.chunks[seq_axis]} if lengths.ndim == 1
                                  else {0: x.chunks[seq_axis], 1: -1})
        parts = [dask.delayed(_check_lengths, pure=True)(blk, c1 - c0, t)
                 for blk, c0, c1 in zip(lengths.to_delayed().ravel().tolist(), starts[:-1], starts[1:])]
    else:
        full = np.asarray(_check_lengths(lengths, b, t))
        parts = [full[c0:c1] for c0, c1 in zip(starts[:-1], starts[1:])]
    return x, [blocks, parts], int(x.shape[2])


def gram(x: Any, lengths: Any = None, fit_steps: str = "real", layout: str = "bth",
         precision: str = "f64", split_every: int = 8, merge: str = "gram") -> Partial:
    """The merged accumulator of a dask array (computed; see :func:`fit`): a
    :class:`kann.GramAccumulator`, or with ``merge="tsqr"`` a :class:`kann.TsqrAccumulator`."""
    if fit_steps not in ("real", "all"):
        raise ValueError(f"fit_steps: expected \"real\" or \"all\", got {fit_steps!r}")
    _check_merge(merge, precision)
    x, (blocks, parts), dim = _prepare(x, lengths, layout)
    use = parts if fit_steps == "real" else [None] * len(blocks)
    accs = [dask.delayed(_partial_block, pure=True)(blk, l, dim, precision, merge, layout)
            for blk, l in zip(blocks, use)]
    return _tree(accs, _merge, split_every).compute()


def fit(x: Any, lengths: Any = None, rank: Any = None, fit_steps: str = "real",
        layout: str = "bth", precision: str = "f64", split_every: int = 8,
        merge: str = "gram") -> _kann.Fit:
    """Fits the Koopman operator to a dask array of states, on the cluster that holds it.

    Arguments as :func:`kann.fit`; ``lengths`` may be a numpy or dask array (``[B]`` or a mask
    ``[B, T]``). Returns a :class:`kann.Fit` whose ``relative_error`` (Eq. 12, real steps) was
    summed over the blocks on the workers. ``split_every``: fan-in of the merge tree.

    ``merge``: ``"gram"`` (default) sums Gram matrices (``4 H²`` numbers per block, cheapest;
    the normal equations square the condition number of the states, fine while
    ``fit.condition`` is well below ``1e10``); ``"tsqr"`` merges R factors of QR decompositions
    (:class:`kann.TsqrAccumulator`, ``5 H²`` numbers per block, a QR per block; accurate when the
    states are ill conditioned; ``precision`` must be ``"f64"``). ``ValueError`` for any other
    value.
    """
    if split_every < 2:
        raise ValueError(f"split_every: must be at least 2, got {split_every}")
    _check_merge(merge, precision)
    acc = gram(x, lengths, fit_steps=fit_steps, layout=layout, precision=precision,
               split_every=split_every, merge=merge)
    model = acc.fit(rank=rank, fit_steps=fit_steps)
    x, (blocks, parts), _ = _prepare(x, lengths, layout)
    shared = dask.delayed(model, pure=True, traverse=False)
    sums = [dask.delayed(_error_block, pure=True)(shared, blk, l, layout) for blk, l in zip(blocks, parts)]
    total, count, _ = _tree(sums, _add, split_every).compute()
    if count == 0:
        raise ValueError("x: no admissible target (valid step with a valid predecessor and |h| > 0)")
    e_rel = total / count
    return model.with_relative_error(e_rel)
