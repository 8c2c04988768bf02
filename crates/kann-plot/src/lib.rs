//! Figures (plotters) for the Koopman analysis.
