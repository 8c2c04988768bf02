"""Type stubs of the native module kann._kann (Rust, PyO3)."""

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, overload

import os

import numpy as np
import numpy.typing as npt

FloatArray = Union[npt.NDArray[np.float32], npt.NDArray[np.float64]]
Lengths = Union[Sequence[int], npt.NDArray[np.integer], npt.NDArray[np.bool_], npt.NDArray[np.floating]]
RankArg = Union[int, float, None]
Groups = Union[int, Sequence[int], Sequence[Sequence[int]], None]

CHUNK_BYTES: int

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
    def plot_spectrum(self, path: Union[str, "os.PathLike[str]"], title: Optional[str] = None) -> str: ...
    def plot_spectrum(self, path: Optional[Union[str, "os.PathLike[str]"]] = None, title: Optional[str] = None) -> Union[bytes, str]:
        """The spectrum figure `analyze` draws (unit circle, zoom on |λ| > 0.99, τ(0.01) per
        eigenvalue). With ``path`` (``.png``): writes it and the SVG beside it, returns the PNG's
        path; without: returns the PNG bytes. ValueError for a path not ending in .png."""
    @property
    def relative_error(self) -> Optional[float]:
        """e_rel (Eq. 12) on the real steps the fit was scored on; None if not scored."""
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
    def project(self, h: FloatArray, groups: Optional[Sequence[Sequence[int]]] = None, kind: str = "plain") -> List[npt.NDArray[Any]]: ...
    def project(self, h: FloatArray, groups: Groups = None, kind: str = "plain") -> Any:
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

class GramAccumulator:
    """Streaming, mergeable Gram matrices of the fit (O(H²) memory); pickles."""

    def __init__(self, dim: int, precision: str = "f64") -> None: ...
    def push(self, chunk: FloatArray, lengths: Optional[Lengths] = None, layout: str = "bth") -> None:
        """Adds the valid states and pairs of a chunk of sequences [B, T, H] (or [T, B, H])."""
    def merge(self, other: "GramAccumulator") -> None:
        """Adds everything other accumulated (same dim and precision)."""
    def fit(self, rank: RankArg = None, fit_steps: str = "real") -> Fit:
        """Fits from the accumulated Grams; fit_steps labels which steps were pushed;
        relative_error is None (see Fit.score)."""
    @property
    def dim(self) -> int: ...
    @property
    def num_sequences(self) -> int: ...
    @property
    def num_states(self) -> int: ...
    @property
    def precision(self) -> str: ...
    def state(self) -> Dict[str, Any]: ...

def fit(
    states: FloatArray,
    lengths: Optional[Lengths] = None,
    rank: RankArg = None,
    fit_steps: str = "real",
    layout: str = "bth",
    precision: str = "f64",
) -> Fit:
    """Fits the Koopman operator (Eqs. 4-5) to states [B, T, H] (or [T, B, H] with
    layout="tbh"), float32/float64, read without a copy when C-contiguous [B, T, H]; the GIL is
    released. lengths: int [B] or 0/1 mask [B, T]. rank: None (min(pairs, H) − 1), an int, or an
    energy fraction in (0, 1]. fit_steps: "real" or "all" (padding included). precision: "f64"
    or "mixed"."""

def _fit_from_state(state: Dict[str, Any]) -> Fit: ...
def _gram_from_state(state: Dict[str, Any]) -> GramAccumulator: ...
