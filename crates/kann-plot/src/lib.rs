//! Figures of the Koopman analysis of sequence models (the paper's Sec. 4, Figs. 1-4), drawn with
//! [`plotters`].
//!
//! Every figure function takes PLAIN data (slices and small structs, no tensors) plus an output folder
//! and a file stem, and writes the figure twice, as `<stem>.png` (bitmap) and `<stem>.svg`, each
//! atomically (temporary file in the same folder, then rename). It returns the two paths in a
//! [`FigurePaths`]. Text is rendered with the bundled DejaVu Sans font (see `assets/`), registered
//! with plotters' `ab_glyph` backend, so figures render identically on machines without system fonts.
//!
//! Figures:
//! - [`spectrum`]: eigenvalues `lambda_j` of the Koopman operator `C` (Eq. 4) in the complex plane with
//!   the unit circle, the dominant ones labelled, and their memory horizon `tau_j(epsilon)` (Eq. 9).
//! - [`word_highlight`] / [`word_highlight_html`] (Fig. 1): reviews whose tokens are shaded by the
//!   projection magnitude `s(j, h_t)` (Eq. 10); [`shade`] is `analyze imdb`'s colour range of them.
//! - [`median_panels`] (Fig. 2, App. B): medians with MAD envelopes of the beats reconstructed from
//!   component pairs (Eq. 11).
//! - [`median_comparison`] (Fig. 3 left) and [`silhouette_curves`] (Fig. 3 right).
//! - [`agreement_bars`] and [`loss_histogram`] (Fig. 4), [`roc_curve`], [`training_curves`].
//! - [`write_report_html`]: a self-contained `report.html` with a verdict table (issue 25).
//! - [`sweep_spectra`] and [`sweep_numbers`] (App. C): the runs of a sweep over cells and seeds.
#![warn(missing_docs)]

mod colors;
mod common;
mod ecg;
mod fonts;
mod html;
mod quality;
mod scatter;
mod shading;
mod spectrum;
mod sweep;
mod training;
mod words;

pub use colors::{ColorMap, Rgb};
pub use common::{FigurePaths, PlotError, fmt_lambda};
pub use ecg::{
    Band, Curve, MedianComparisonFigure, MedianPanel, MedianPanelsFigure, MedianSeries,
    SilhouetteFigure, TimeMarker, median_comparison, median_panels, silhouette_curves,
};
pub use fonts::{FONT_FAMILY, text_width};
pub use html::{
    Claim, HtmlReport, MAX_HTML_BYTES, Section, VERDICT_RULE, Verdict, check_self_contained,
    render_report_html, script_hash, verdict, verdict_from_interval, verdict_table_markdown,
    write_report_html,
};
pub use quality::{
    AgreementBarsFigure, ConfusionCounts, HistogramSeries, LabelledPoint, LossHistogramFigure,
    MetricSeries, RocCurve, RocFigure, TrainingCurvesFigure, agreement_bars, loss_histogram,
    roc_curve, training_curves,
};
pub use scatter::{WordScatterFigure, word_scatter};
pub use shading::{CHANGE_LABEL, LEVEL_LABEL, ShadeMode, Shading, quantile, shade};
pub use spectrum::{
    EigenBox, SpectraFigure, SpectrumFigure, memory_horizon, spectra, spectrum, spectrum_svg,
};
pub use sweep::{
    RunSpectrum, SweepMetric, SweepNumbersFigure, SweepSpectraFigure, sweep_numbers, sweep_spectra,
};
pub use training::{
    ProbeSpectrum, TraceLine, TracePanel, TrainingSpectraFigure, TrainingTracesFigure, epoch_color,
    training_spectra, training_traces,
};
pub use words::{
    HighlightedText, ReviewViews, word_highlight, word_highlight_html, word_highlight_html_views,
};
