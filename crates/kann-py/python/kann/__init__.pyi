from ._io import load as load, save as save
from ._kann import CHUNK_BYTES as CHUNK_BYTES, Fit as Fit, SpectrumIntervals as SpectrumIntervals, GramAccumulator as GramAccumulator, TsqrAccumulator as TsqrAccumulator, fit as fit
from ._kann import median_mad as median_mad, plot_medians as plot_medians, plot_word_highlights as plot_word_highlights

__version__: str
