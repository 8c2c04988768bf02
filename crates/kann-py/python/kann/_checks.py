"""Argument checks shared by the native module and the Python helpers (errors name the argument
and the shapes, as ``analyze states --lengths`` does)."""

from __future__ import annotations

from typing import Any, List

import numpy as np


def lengths(value: Any, b: int, t: int, name: str = "lengths") -> List[int]:
    """Valid steps per sequence from an int array ``[B]`` or a 0/1 prefix mask ``[B, T]``.

    Every length must lie in ``1..=T``; a mask must be 0/1 (bool, int or float), and its valid
    steps of each sequence a non-empty prefix (``1…1 0…0``). Raises ``TypeError`` for a
    non-numeric array and ``ValueError`` naming the shape or the entry at fault.
    """
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name}: expected an int array [B] = [{b}] or a 0/1 mask [B, T] = [{b}, {t}], "
            f"got dtype {arr.dtype} of shape {arr.shape}"
        )
    if arr.ndim == 1 and arr.shape == (b,):
        if arr.dtype.kind == "b":
            raise TypeError(f"{name}: a bool array must be a mask [B, T] = [{b}, {t}], got shape {arr.shape}")
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                i = int(np.flatnonzero(~np.isfinite(arr) | (arr != np.round(arr)))[0])
                raise ValueError(f"{name}: length {arr[i]} of sequence {i} is not an integer")
        bad = np.flatnonzero((arr < 1) | (arr > t))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"{name}: length {arr[i]} of sequence {i} is not in 1..={t} (states have T = {t} steps)"
            )
        return [int(x) for x in arr]
    if arr.ndim == 2 and arr.shape == (b, t):
        ok = (arr == 0) | (arr == 1)
        if not np.all(ok):
            i, j = np.argwhere(~ok)[0]
            raise ValueError(f"{name}: mask entry [{i}, {j}] = {arr[i, j]} is not 0/1")
        mask = arr.astype(bool)
        out = mask.sum(axis=1)
        prefix = np.arange(t)[None, :] < out[:, None]
        wrong = np.flatnonzero(np.any(prefix != mask, axis=1))
        if wrong.size:
            i = int(wrong[0])
            first_pad = int(np.flatnonzero(~mask[i])[0])
            later = int(first_pad + np.flatnonzero(mask[i, first_pad:])[0])
            raise ValueError(
                f"{name}: mask of sequence {i} is not a prefix: step {later} is valid after padding at step {first_pad}"
            )
        empty = np.flatnonzero(out == 0)
        if empty.size:
            raise ValueError(f"{name}: mask of sequence {int(empty[0])} has no valid step")
        return [int(x) for x in out]
    raise ValueError(
        f"{name}: expected an int array [B] = [{b}] or a 0/1 mask [B, T] = [{b}, {t}] to match the states, "
        f"got shape {arr.shape}"
    )
