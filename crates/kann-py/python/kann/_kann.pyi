"""Type stubs of the native module kann._kann (Rust, PyO3)."""

from typing import Any, Callable, Dict, Literal, Mapping, List, Optional, Sequence, Tuple, TypeVar, Union, overload

import os

import numpy as np
import numpy.typing as npt

FloatArray = Union[npt.NDArray[np.float32], npt.NDArray[np.float64]]
Lengths = Union[Sequence[int], npt.NDArray[np.integer], npt.NDArray[np.bool_], npt.NDArray[np.floating]]
RankArg = Union[int, float, None]
Groups = Union[int, Sequence[int], Sequence[Sequence[int]], None]
PathArg = Union[str, "os.PathLike[str]"]
Scores = Union[FloatArray, Sequence[float]]
Curves = Union[FloatArray, Sequence[Sequence[float]]]
Decoder = Union[Callable[[npt.NDArray[np.float64]], Any], FloatArray, None]

CHUNK_BYTES: int

class SpectrumIntervals:
    """Percentile intervals of a fit's spectrum over resampled sequences (issue #23), aligned
    with Fit.eigenvalues (row j is eigenvalue j's): kann.fit(..., bootstrap=N) attaches one as
    Fit.intervals. Each replicate reweights the sequences, refits at the fit's rank from
    per-sequence Grams and matches its eigenvalues to the fit's by minimum total distance. The
    fit's own bias (finite rank, the estimator on finite sequences) is not inside the intervals.
    Pickles; equal (==) when every field is."""

    @property
    def modulus_ci(self) -> npt.NDArray[np.float64]:
        """Interval [low, high] of |λ_j|, [r, 2]."""
    @property
    def tau_ci(self) -> npt.NDArray[np.float64]:
        """Interval of τ_j(0.01) (Eq. 9), [r, 2]; inf at an end where τ is infinite (|λ| >= 1)."""
    @property
    def re_ci(self) -> npt.NDArray[np.float64]:
        """Interval of Re λ_j, [r, 2] (with im_ci: the λ region, a box)."""
    @property
    def im_ci(self) -> npt.NDArray[np.float64]:
        """Interval of Im λ_j, [r, 2]."""
    @property
    def match_fraction(self) -> npt.NDArray[np.float64]:
        """Fraction of replicates whose match of λ_j lies within match_radius of it, [r]."""
    @property
    def pair_fraction(self) -> npt.NDArray[np.float64]:
        """For a complex λ_j: fraction of replicates in which it stays a conjugate pair; nan for
        a real λ_j. [r]."""
    @property
    def scheme(self) -> Literal["bootstrap", "subsample"]: ...
    @property
    def replicates(self) -> int:
        """Replicates asked for (failed ones are left out; see failed)."""
    @property
    def failed(self) -> int: ...
    @property
    def level(self) -> float: ...
    @property
    def seed(self) -> int: ...
    @property
    def sequences(self) -> int:
        """Sequences resampled."""
    @property
    def match_radius(self) -> float: ...
    @property
    def num_dominant_ci(self) -> Tuple[float, float]:
        """Interval of the count of |λ| > 0.99."""
    @property
    def matching(self) -> str:
        """The matching rule, in words."""
    @property
    def note(self) -> str:
        """What the intervals do not include, in words."""
    @property
    def warnings(self) -> List[str]: ...
    def to_dict(self) -> Dict[str, Any]:
        """Plain values with the keys of the ``bootstrap`` object of ``analyze states --json``,
        ``warnings``, and ``eigen``: per eigenvalue the interval fields of analyze's eigenpairs
        (tau_ci ends and a real λ's pair_fraction are None)."""

class Fit:
    """A Koopman fit: basis B [H, r], operator C [r, r] (Eqs. 4-5), its spectrum C = V Λ U and
    e_rel (Eq. 12). Pickles; kann.save / kann.load write it as JSON + .npy."""

    @property
    def eigenvalues(self) -> npt.NDArray[np.complex128]:
        """Eigenvalues of C [r], largest modulus first, conjugate pairs adjacent (+Im first)."""
    def memory_horizon(self, eps: float = 0.01, unit_tol: float = 0.0) -> npt.NDArray[np.float64]:
        """τ_j(ε) = log ε / log |λ_j| (Eq. 9) [r]; inf where |λ| >= 1 - unit_tol."""
    @overload
    def plot_spectrum(self, path: None = None, title: Optional[str] = None) -> bytes: ...
    @overload
    def plot_spectrum(self, path: Union[str, "os.PathLike[str]"], title: Optional[str] = None) -> str:
        """The spectrum figure `analyze` draws (unit circle, zoom on |λ| > 0.99, τ(0.01) per
        eigenvalue). With ``path`` (``.png``): writes it and the SVG beside it, returns the PNG's
        path; without: returns the PNG bytes. ValueError for a path not ending in .png."""
    @overload
    def plot_reconstructions(
        self,
        h: FloatArray,
        decode: Decoder = None,
        groups: Groups = None,
        kind: Literal["modulus", "plain"] = "modulus",
        original: Optional[Curves] = None,
        path: None = None,
        title: Optional[str] = None,
        columns: int = 0,
        x_label: Optional[str] = None,
        y_label: str = "amplitude",
    ) -> bytes: ...
    @overload
    def plot_reconstructions(
        self,
        h: FloatArray,
        decode: Decoder = None,
        groups: Groups = None,
        kind: Literal["modulus", "plain"] = "modulus",
        original: Optional[Curves] = None,
        *,
        path: PathArg,
        title: Optional[str] = None,
        columns: int = 0,
        x_label: Optional[str] = None,
        y_label: str = "amplitude",
    ) -> str:
        """Fig. 2 as `analyze ecg` draws it: per eigen-group S one panel with the median ± MAD
        (over the B sequences) of decode(h B |V_S U_S| Bᵀ) (Eq. 11, kind="modulus") or of
        decode(Re(h B V_S U_S) Bᵀ) (kind="plain"), over μ_r = median of decode(h) and μ =
        median of ``original`` [m', n] (or, without it, of decode(h B Bᵀ)).

        h: [B, H], or [B, T, H] (the last step is taken). decode: None (curves over the H
        units), a matrix W [H, n] (latents @ W) or a callable [m, H] -> [m, n], called once on
        all latents stacked. groups: None = the first four of ``groups``. Returns PNG bytes, or
        with ``path`` (.png) writes PNG + SVG and returns the PNG's path. ValueError / TypeError
        for wrong shapes or types (naming the argument and the shape)."""
    @property
    def relative_error(self) -> Optional[float]:
        """e_rel (Eq. 12) on the real steps the fit was scored on; None if not scored."""
    @property
    def intervals(self) -> Optional[SpectrumIntervals]:
        """Resampling intervals of the spectrum from kann.fit(..., bootstrap=N), N > 0; else None."""
    @property
    def basis(self) -> npt.NDArray[np.float64]:
        """Basis B [H, r] (Eq. 5)."""
    @property
    def operator(self) -> npt.NDArray[np.float64]:
        """Koopman operator C [r, r] (Eq. 4), on row coefficients: h~_{t+1} ≈ h~_t C."""
    @property
    def eigenvectors(self) -> npt.NDArray[np.complex128]:
        """Right eigenvectors V [r, r] of C (unit-norm columns, eigenvalue order)."""
    @property
    def singular_values(self) -> npt.NDArray[np.float64]:
        """Singular values of the fitted states [H], descending."""
    @property
    def residuals(self) -> npt.NDArray[np.float64]:
        """Residual ‖(Y~ − λX~)v‖ / ‖X~v‖ of every eigenpair [r]."""
    @property
    def groups(self) -> List[List[int]]:
        """Eigen-groups (0-based): real eigenvectors alone, conjugate pairs together."""
    @property
    def rank(self) -> int: ...
    @property
    def hidden(self) -> int: ...
    @property
    def condition(self) -> float: ...
    @property
    def num_states(self) -> int: ...
    @property
    def num_pairs(self) -> int: ...
    @property
    def warnings(self) -> List[str]: ...
    @property
    def fit_steps(self) -> str: ...
    @property
    def precision(self) -> str: ...
    def predict(self, h: FloatArray, steps: int = 1) -> npt.NDArray[np.float64]:
        """h B C^steps Bᵀ for states h [..., H] (Eq. 6 for steps = 1)."""
    @overload
    def project(self, h: FloatArray, groups: Union[int, Sequence[int]], kind: str = "plain") -> npt.NDArray[Any]: ...
    @overload
    def project(self, h: FloatArray, groups: Optional[Sequence[Sequence[int]]] = None, kind: str = "plain") -> List[npt.NDArray[Any]]:
        """Projections of h [..., H] on eigen-groups. kind: "plain" Re(h B V_S U_S) Bᵀ [..., H];
        "modulus" h B |V_S U_S| Bᵀ (Eq. 11); "coordinates" (h B V)_S complex [..., |S|] (Eq. 7);
        "magnitude" |(h B V)_S| [..., |S|] (Eq. 10). One group -> an array, several -> a list."""
    def score(self, states: FloatArray, lengths: Optional[Lengths] = None, layout: str = "bth") -> float:
        """e_rel (Eq. 12) of this fit on other states (their real steps)."""
    def error_sums(self, states: FloatArray, lengths: Optional[Lengths] = None, layout: str = "bth") -> Tuple[float, int, int]:
        """(Σ ratio, targets, zero-norm targets skipped) of e_rel on a chunk of states."""
    def with_relative_error(self, e_rel: float) -> "Fit":
        """A copy with relative_error set."""
    def state(self) -> Dict[str, Any]:
        """Everything needed to rebuild the fit (numpy arrays and plain values)."""

_A = TypeVar("_A", bound="_Accumulator")

class _Accumulator:
    """Stub only (no runtime class): what GramAccumulator and TsqrAccumulator share, as the Rust
    trait kann_koopman::Accumulator. Both pickle (their state() travels to Dask workers)."""

    def push(self, chunk: FloatArray, lengths: Optional[Lengths] = None, layout: str = "bth") -> None:
        """Adds the valid states and pairs of a chunk of sequences [B, T, H] (or [T, B, H]); a
        chunk with a bad value adds nothing."""
    def merge(self: _A, other: _A) -> None:
        """Adds everything other accumulated (same class, dim and precision; ValueError for
        another dim or precision, TypeError for the other class)."""
    def fit(self, rank: RankArg = None, fit_steps: str = "real") -> Fit:
        """Fits from what was accumulated; fit_steps labels which steps were pushed;
        relative_error is None (see Fit.score)."""
    @property
    def dim(self) -> int: ...
    @property
    def num_sequences(self) -> int: ...
    @property
    def num_states(self) -> int: ...
    @property
    def precision(self) -> str:
        """"f64" or "mixed" (always "f64" for TsqrAccumulator)."""
    def state(self) -> Dict[str, Any]: ...

class GramAccumulator(_Accumulator):
    """Streaming, mergeable Gram matrices of the fit (4 H² numbers; the merge adds them)."""

    def __init__(self, dim: int, precision: str = "f64") -> None: ...

class TsqrAccumulator(_Accumulator):
    """Streaming, mergeable R factors of the fit (TSQR): R of [X | Y] [2H, 2H] and of the
    sequences' last states [H, H], merged by a QR of the stacked factors. The estimator of
    GramAccumulator without squaring the condition number of the states (fit: SVD of R for B,
    QR least squares for C; slower: a QR per chunk); always float64."""

    def __init__(self, dim: int) -> None: ...
    @property
    def num_pairs(self) -> int: ...

def fit(
    states: FloatArray,
    lengths: Optional[Lengths] = None,
    rank: RankArg = None,
    fit_steps: str = "real",
    layout: str = "bth",
    precision: str = "f64",
    *,
    bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.95,
    scheme: Literal["bootstrap", "subsample"] = "bootstrap",
) -> Fit:
    """Fits the Koopman operator (Eqs. 4-5) to states [B, T, H] (or [T, B, H] with
    layout="tbh"), float32/float64, read without a copy when C-contiguous [B, T, H]; the GIL is
    released. lengths: int [B] or 0/1 mask [B, T]. rank: None (min(pairs, H) − 1), an int, or an
    energy fraction in (0, 1]. fit_steps: "real" or "all" (padding included). precision: "f64"
    or "mixed".

    bootstrap=N > 0 resamples the sequences N times (scheme "bootstrap": with replacement;
    "subsample": half without) and sets fit.intervals (SpectrumIntervals at two-sided ``level``,
    seeded by ``seed``), as ``analyze states --bootstrap N``; the point estimates are unchanged.
    ValueError for bootstrap < 0, level outside (0, 1), an unknown scheme or a single sequence;
    TypeError for a non-int bootstrap or seed."""

@overload
def plot_word_highlights(
    tokens: Sequence[str],
    scores: Scores,
    path: None = None,
    title: Optional[str] = None,
    mode: Optional[Literal["level", "change"]] = None,
    colormap: Optional[Literal["blues", "reds", "greens", "red-white-blue"]] = None,
    score_label: Optional[str] = None,
    min_score: Optional[float] = None,
    max_score: Optional[float] = None,
    join_pieces: bool = True,
    html: Literal[False] = False,
    page_title: Optional[str] = None,
) -> bytes: ...
@overload
def plot_word_highlights(
    tokens: Union[Sequence[str], Sequence[Sequence[str]]],
    scores: Union[Scores, Sequence[Scores]],
    path: None = None,
    title: Union[str, Sequence[str], None] = None,
    mode: Optional[Literal["level", "change"]] = None,
    colormap: Optional[Literal["blues", "reds", "greens", "red-white-blue"]] = None,
    score_label: Optional[str] = None,
    min_score: Optional[float] = None,
    max_score: Optional[float] = None,
    join_pieces: bool = True,
    *,
    html: Literal[True],
    page_title: Optional[str] = None,
) -> str: ...
@overload
def plot_word_highlights(
    tokens: Union[Sequence[str], Sequence[Sequence[str]]],
    scores: Union[Scores, Sequence[Scores]],
    path: PathArg,
    title: Union[str, Sequence[str], None] = None,
    mode: Optional[Literal["level", "change"]] = None,
    colormap: Optional[Literal["blues", "reds", "greens", "red-white-blue"]] = None,
    score_label: Optional[str] = None,
    min_score: Optional[float] = None,
    max_score: Optional[float] = None,
    join_pieces: bool = True,
    html: bool = False,
    page_title: Optional[str] = None,
) -> str:
    """Fig. 1 as `analyze imdb` draws it: tokens on backgrounds shaded by one score each.

    mode="level": the scores (e.g. m_S(h_t), Eq. 10) on the review's 2nd-98th percentile
    range; mode="change": their per-token change on red-white-blue, symmetric, range the 95th
    percentile of |change| (analyze imdb's rule and labels); None: the scores as given on
    [min_score, max_score] (default [0, max]; signed scores need min_score). ``##`` word pieces
    are joined unless join_pieces=False.

    One review (tokens a list of str, scores [len(tokens)]) or several (lists of each; HTML
    only). path ".png": PNG + SVG written, the PNG's path returned; ".html": the page written,
    its path returned; no path: the PNG's bytes, or the page as a str with html=True."""

def median_mad(curves: Curves) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(median, MAD) per step of curves [m, n] over the m rows, as analyze ecg computes the
    envelopes of Figs. 2-3."""

def plot_medians(
    series: Union[Mapping[str, Curves], Sequence[Tuple[str, Curves]]],
    path: Optional[PathArg] = None,
    title: Optional[str] = None,
    x_label: str = "t",
    y_label: str = "amplitude",
) -> Union[bytes, str]:
    """Fig. 3 (left) as analyze ecg draws it: the median ± MAD of each named set of curves
    [m, n] (same n) on one axis. PNG bytes, or with ``path`` (.png) PNG + SVG written and the
    PNG's path returned."""

def _fit_from_state(state: Dict[str, Any]) -> Fit: ...
def _gram_from_state(state: Dict[str, Any]) -> GramAccumulator: ...
def _tsqr_from_state(state: Dict[str, Any]) -> TsqrAccumulator: ...
def _intervals_from_dict(d: Dict[str, Any]) -> SpectrumIntervals: ...
