from ._io import load as load, save as save
from ._kann import CHUNK_BYTES as CHUNK_BYTES, Fit as Fit, GramAccumulator as GramAccumulator, fit as fit

__version__: str
