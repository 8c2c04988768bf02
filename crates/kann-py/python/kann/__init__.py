"""kann: Koopman analysis of sequence-model hidden states (Rust core, numpy in, numpy out).

``kann.fit(states, lengths=None, rank=None, precision="f64")`` fits the Koopman operator
(paper Eqs. 4-5) to states ``[B, T, H]`` and returns a :class:`Fit` with ``eigenvalues``,
``memory_horizon(eps)`` (Eq. 9), ``relative_error`` (Eq. 12), ``basis`` and ``operator``.
"""

from ._kann import Fit, fit

__all__ = ["Fit", "fit"]
