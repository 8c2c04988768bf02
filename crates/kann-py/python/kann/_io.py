"""Save and load fits and accumulators as a folder: ``kann.json`` (format, scalars, eigenvalues
for reading) plus one ``.npy`` file per array."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Union

import numpy as np

from . import _kann

_INDEX = "kann.json"
_FORMATS = ("kann.fit", "kann.gram", "kann.tsqr")


def _written_by_kann(path: Path) -> bool:
    index = path / _INDEX
    if path.is_symlink() or not path.is_dir() or index.is_symlink() or not index.is_file():
        return False
    try:
        return json.loads(index.read_text()).get("format") in _FORMATS
    except (OSError, ValueError):
        return False


def save(obj: Any, path: Union[str, os.PathLike]) -> Path:
    """Saves a ``Fit``, ``GramAccumulator`` or ``TsqrAccumulator`` to the folder ``path``
    (``kann.json`` + ``.npy``).

    The folder is written beside ``path`` under a temporary name and renamed into place, so a
    failed save leaves nothing half-written. An existing ``path`` is replaced only if kann wrote
    it (a folder holding kann's ``kann.json``); anything else raises ``FileExistsError``.
    """
    if not isinstance(obj, (_kann.Fit, _kann.GramAccumulator, _kann.TsqrAccumulator)):
        raise TypeError(
            f"obj: expected a kann.Fit, kann.GramAccumulator or kann.TsqrAccumulator, got {type(obj).__name__}"
        )
    path = Path(path)
    if os.path.lexists(path) and not _written_by_kann(path):
        raise FileExistsError(f"path: {path} exists and was not written by kann.save; not overwriting it")
    state = obj.state()
    index: dict = {}
    arrays: dict = {}
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            arrays[key] = value
            index[key] = f"{key}.npy"
        else:
            index[key] = value
    if isinstance(obj, _kann.Fit):
        lam = obj.eigenvalues
        index["eigenvalues (for reading; recomputed on load)"] = [[float(z.real), float(z.imag)] for z in lam]
    parent = path.parent if str(path.parent) else Path(".")
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=parent))
    try:
        for key, value in arrays.items():
            np.save(tmp / f"{key}.npy", value, allow_pickle=False)
        (tmp / _INDEX).write_text(json.dumps(index, indent=1, allow_nan=True))
        if os.path.lexists(path):
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=parent))
            os.rename(path, old / "x")
            os.rename(tmp, path)
            shutil.rmtree(old)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def load(path: Union[str, os.PathLike]) -> Any:
    """Loads what :func:`save` wrote: a ``Fit`` (spectrum recomputed from ``C``, bit for bit) or
    an accumulator (``GramAccumulator``, ``TsqrAccumulator``). Raises ``ValueError`` naming the file if it is not kann's format."""
    path = Path(path)
    index_path = path / _INDEX
    if not index_path.is_file():
        raise ValueError(f"path: {path} has no {_INDEX}; not a folder written by kann.save")
    try:
        index = json.loads(index_path.read_text())
    except ValueError as e:
        raise ValueError(f"{index_path}: not valid JSON ({e})") from None
    fmt = index.get("format")
    if fmt not in _FORMATS:
        raise ValueError(f"{index_path}: format {fmt!r} is not one of {_FORMATS}")
    state = {}
    for key, value in index.items():
        if key.startswith("eigenvalues (for reading"):
            continue
        if isinstance(value, str) and value == f"{key}.npy":
            state[key] = np.load(path / value, allow_pickle=False)
        else:
            state[key] = value
    if fmt == "kann.fit":
        return _kann._fit_from_state(state)
    if fmt == "kann.tsqr":
        return _kann._tsqr_from_state(state)
    return _kann._gram_from_state(state)
