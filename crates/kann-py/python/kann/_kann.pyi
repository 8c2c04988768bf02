"""Type stubs of the native module kann._kann."""

from typing import Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

class Fit:
    """A Koopman fit: basis B [H, r], operator C [r, r] (Eqs. 4-5), spectrum and e_rel (Eq. 12)."""

    @property
    def eigenvalues(self) -> npt.NDArray[np.complex128]:
        """Eigenvalues of C, largest modulus first."""
    def memory_horizon(self, eps: float = 0.01) -> npt.NDArray[np.float64]:
        """τ_j(ε) = log ε / log |λ_j| (Eq. 9); inf where |λ| >= 1."""
    @property
    def relative_error(self) -> float:
        """e_rel (Eq. 12) on the steps the fit was scored on."""
    @property
    def basis(self) -> npt.NDArray[np.float64]:
        """Basis B [H, r]."""
    @property
    def operator(self) -> npt.NDArray[np.float64]:
        """Koopman operator C [r, r]."""
    @property
    def rank(self) -> int:
        """Rank r."""

def fit(
    states: Union[npt.NDArray[np.float32], npt.NDArray[np.float64]],
    lengths: Optional[Union[Sequence[int], npt.NDArray[np.integer]]] = None,
    rank: Optional[int] = None,
    precision: str = "f64",
) -> Fit:
    """Fits the Koopman operator to states [B, T, H] (read without a copy; GIL released)."""
