"""kann: Koopman analysis of sequence-model hidden states (Rust core, numpy in, numpy out).

The paper "A Koopman approach to understanding sequence neural models" fits a linear operator
``C`` on the top-``r`` SVD coefficients ``h B`` of a model's hidden states (Eqs. 4-5); its
eigenvalues give memory horizons (Eq. 9), its eigenvectors the projections (Eqs. 7, 10, 11).

>>> import kann
>>> fit = kann.fit(states, lengths=None, rank=None, fit_steps="real", layout="bth", precision="f64")
>>> fit.eigenvalues, fit.memory_horizon(eps=0.01), fit.relative_error
>>> fit.predict(h, steps=1); fit.project(h, fit.groups[0])
>>> fit = kann.fit(states, bootstrap=200, seed=0)   # fit.intervals.modulus_ci [r, 2], ... (issue #23)
>>> acc = kann.GramAccumulator(dim); acc.push(chunk, lengths); acc.merge(other); acc.fit(rank=8)
>>> acc = kann.TsqrAccumulator(dim)   # same API: R factors (QR) instead of Grams, for ill-conditioned states
>>> kann.save(fit, "fit_dir"); kann.load("fit_dir")
>>> fit.plot_spectrum(); fit.plot_reconstructions(h_last, decode=W)       # PNG bytes
>>> kann.plot_word_highlights(tokens, scores, mode="level")                # Fig. 1, PNG bytes

Figures are drawn by the same Rust code (kann-plot) as the ``analyze`` CLI.

Submodules (imported on use): ``kann.torch`` (states of PyTorch RNNs; needs torch) and
``kann.dask`` (fits of dask arrays on a cluster; needs dask).
"""

from ._io import load, save
from ._kann import (CHUNK_BYTES, Fit, GramAccumulator, SpectrumIntervals, TsqrAccumulator, fit, median_mad,
                    plot_medians, plot_word_highlights)

__all__ = [
    "CHUNK_BYTES",
    "Fit",
    "GramAccumulator",
    "SpectrumIntervals",
    "TsqrAccumulator",
    "fit",
    "load",
    "median_mad",
    "plot_medians",
    "plot_word_highlights",
    "save",
]
__version__ = "0.1.0"
