"""Hidden states of PyTorch models, as the numpy ``(states, lengths)`` that :func:`kann.fit` takes.

- :func:`rnn_states` runs an ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` on a batch (padded, with or
  without ``lengths``, or a ``PackedSequence``; ``batch_first`` or not) and returns every step's
  hidden state ``h_t`` of a chosen layer as ``[B, T, H]`` plus the valid lengths ``[B]``. For an
  LSTM, ``h_t`` is its output (PyTorch does not return the per-step cell state ``c_t``).
- :class:`Recorder` is a forward hook for any module whose output is (or starts with) per-step
  states ``[B, T, H]`` / ``[T, B, H]`` or a ``PackedSequence``: run the whole model as usual and
  collect the states of every call.

Needs ``torch`` (imported when this module is); ``import kann`` does not.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

__all__ = ["Recorder", "rnn_states"]


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu").numpy()


def _unpack(out: Any, batch_first: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(states [B, T, H], lengths [B])`` of an RNN output (tensor or ``PackedSequence``)."""
    if isinstance(out, PackedSequence):
        states, lengths = pad_packed_sequence(out, batch_first=True)
        return states, lengths
    if not isinstance(out, torch.Tensor) or out.dim() != 3:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"output: expected per-step states [B, T, H] or a PackedSequence, got {shape}")
    if not batch_first:
        out = out.transpose(0, 1)
    return out, torch.full((out.shape[0],), out.shape[1], dtype=torch.int64)


def _single_layer(rnn: nn.RNNBase, layer: int) -> nn.RNNBase:
    """A one-layer copy of layer ``layer`` of ``rnn`` (same weights, same mode)."""
    kind = {nn.GRU: nn.GRU, nn.LSTM: nn.LSTM, nn.RNN: nn.RNN}[type(rnn)]
    kwargs = dict(
        input_size=rnn.input_size if layer == 0 else rnn.hidden_size * (2 if rnn.bidirectional else 1),
        hidden_size=rnn.hidden_size, num_layers=1, bias=rnn.bias, batch_first=rnn.batch_first,
        bidirectional=rnn.bidirectional,
    )
    if kind is nn.RNN:
        kwargs["nonlinearity"] = rnn.nonlinearity
    if kind is nn.LSTM and getattr(rnn, "proj_size", 0):
        raise ValueError("layer: LSTMs with proj_size are recorded at the top layer only (layer=-1)")
    one = kind(**kwargs).to(device=next(rnn.parameters()).device, dtype=next(rnn.parameters()).dtype)
    with torch.no_grad():
        for suffix in ("", "_reverse") if rnn.bidirectional else ("",):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                src = getattr(rnn, f"{name}_l{layer}{suffix}", None)
                if src is not None:
                    getattr(one, f"{name}_l0{suffix}").copy_(src)
    one.train(rnn.training)
    return one


def rnn_states(
    rnn: nn.Module,
    x: Any,
    lengths: Optional[Any] = None,
    hx: Any = None,
    layer: int = -1,
    direction: str = "forward",
) -> Tuple[np.ndarray, np.ndarray]:
    """Every step's hidden state of ``rnn`` (an ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM``) on ``x``.

    ``x``: the module's input as it takes it (``[B, T, F]`` when ``batch_first``, else
    ``[T, B, F]``), or a ``PackedSequence``. ``lengths`` (int ``[B]``, padded input only): the run
    is packed so that each sequence stops at its length, exactly as a packed forward pass.
    ``layer``: which layer's states (``-1``, the top, is the module's own output; a lower layer
    is run as a one-layer copy with the same weights, without inter-layer dropout).
    ``direction``: of a bidirectional RNN, ``"forward"`` or ``"backward"`` half (the backward
    states run right to left: reverse them in time before a fit).

    Returns ``(states, lengths)``: numpy ``[B, T, H]`` in the model's dtype, and int64 ``[B]``;
    steps past a length are zeros. Runs under ``torch.no_grad()``.
    """
    if not isinstance(rnn, (nn.RNN, nn.GRU, nn.LSTM)):
        raise TypeError(f"rnn: expected nn.RNN, nn.GRU or nn.LSTM, got {type(rnn).__name__} (use Recorder for other modules)")
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction: expected \"forward\" or \"backward\", got {direction!r}")
    layers = rnn.num_layers
    if not -layers <= layer < layers:
        raise ValueError(f"layer: {layer} out of range for an RNN of {layers} layers")
    layer %= layers
    bf = rnn.batch_first
    if lengths is not None:
        if isinstance(x, PackedSequence):
            raise ValueError("lengths: a PackedSequence carries its own lengths; pass lengths=None")
        lengths_t = torch.as_tensor(np.asarray(lengths), dtype=torch.int64).cpu()
        b = x.shape[0] if bf else x.shape[1]
        if lengths_t.shape != (b,):
            raise ValueError(f"lengths: expected [B] = [{b}] for input of shape {tuple(x.shape)}, got {tuple(lengths_t.shape)}")
        x = pack_padded_sequence(x, lengths_t, batch_first=bf, enforce_sorted=False)
    with torch.no_grad():
        if layer == layers - 1:
            out = rnn(x, hx)[0]
        else:
            if hx is not None:
                raise ValueError("hx: an initial state is supported for the top layer only (layer=-1)")
            out = x
            for i in range(layer + 1):
                out = _single_layer(rnn, i)(out)[0]
        states, lens = _unpack(out, bf)
    if rnn.bidirectional:
        h = states.shape[-1] // 2
        states = states[..., :h] if direction == "forward" else states[..., h:]
    return np.ascontiguousarray(_to_numpy(states)), _to_numpy(lens).astype(np.int64)


class Recorder:
    """Forward hook that records the per-step states a module outputs, call after call.

    >>> with kann.torch.Recorder(model.gru) as rec:
    ...     for batch in loader:
    ...         model(batch)
    >>> states, lengths = rec.result()
    >>> fit = kann.fit(states, lengths)

    The module's output (or ``select(output)``; by default the first element of a tuple, as
    RNNs return ``(output, h_n)``) must be states ``[B, T, H]`` (``batch_first=True``) or
    ``[T, B, H]`` (``batch_first=False``; RNN modules default to their own ``batch_first``), or a
    ``PackedSequence`` (lengths taken from it). Padded tensor outputs count every step as valid
    unless ``result(lengths=...)`` says otherwise. Batches of different ``T`` are padded with zeros.
    """

    def __init__(self, module: nn.Module, batch_first: Optional[bool] = None,
                 select: Optional[Callable[[Any], Any]] = None) -> None:
        if not isinstance(module, nn.Module):
            raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
        if batch_first is None:
            batch_first = bool(getattr(module, "batch_first", True))
        self.module = module
        self.batch_first = batch_first
        self.select = select
        self._states: List[np.ndarray] = []
        self._lengths: List[np.ndarray] = []
        self._handle = None

    def _hook(self, module: nn.Module, inputs: Any, output: Any) -> None:
        out = self.select(output) if self.select is not None else output
        if isinstance(out, tuple) and not isinstance(out, PackedSequence):
            out = out[0]
        states, lens = _unpack(out, self.batch_first)
        self._states.append(_to_numpy(states))
        self._lengths.append(_to_numpy(lens).astype(np.int64))

    def start(self) -> "Recorder":
        """Registers the hook (``with Recorder(...)`` does it for you)."""
        if self._handle is None:
            self._handle = self.module.register_forward_hook(self._hook)
        return self

    def stop(self) -> None:
        """Removes the hook; what was recorded stays."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def __enter__(self) -> "Recorder":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def clear(self) -> None:
        """Forgets what was recorded."""
        self._states.clear()
        self._lengths.clear()

    @property
    def calls(self) -> int:
        """Number of forward calls recorded."""
        return len(self._states)

    def result(self, lengths: Optional[Any] = None) -> Tuple[np.ndarray, np.ndarray]:
        """All recorded states as one ``[B, T, H]`` array (batches stacked, padded with zeros to
        the longest ``T``) and their lengths ``[B]`` (``lengths`` overrides them)."""
        if not self._states:
            raise ValueError("Recorder: nothing recorded (run the model inside `with Recorder(...)`)")
        h = {s.shape[2] for s in self._states}
        if len(h) != 1:
            raise ValueError(f"Recorder: calls gave different hidden sizes {sorted(h)}")
        t = max(s.shape[1] for s in self._states)
        b = sum(s.shape[0] for s in self._states)
        out = np.zeros((b, t, h.pop()), dtype=self._states[0].dtype)
        i = 0
        for s in self._states:
            out[i:i + s.shape[0], :s.shape[1]] = s
            i += s.shape[0]
        lens = np.concatenate(self._lengths)
        if lengths is not None:
            lens = np.asarray(lengths, dtype=np.int64)
            if lens.shape != (b,):
                raise ValueError(f"lengths: expected [B] = [{b}] for the recorded states, got shape {lens.shape}")
        return out, lens
