//! Figures from Python, drawn by the same kann-plot code as `analyze`: the word highlights of
//! Fig. 1 (PNG/SVG or the HTML page, with `analyze imdb`'s level / change shading), the medians
//! with MAD envelopes of Figs. 2-3 (`median_panels`, `median_comparison`) and the median / MAD
//! itself (kann-koopman's `median_mad_over_time`, as `analyze ecg` computes it).
//!
//! Every figure is returned as PNG bytes (no `path`), or written as PNG + SVG (or HTML) beside
//! `path` with the path returned.

use std::path::{Path, PathBuf};

use kann_koopman::faer::MatRef;
use kann_koopman::{
    KoopmanModel, Spectrum, median_mad_over_time, project_onto, reconstruct_modulus,
};
use kann_plot::{
    ColorMap, FigurePaths, HighlightedText, MedianComparisonFigure, MedianPanel,
    MedianPanelsFigure, MedianSeries, PlotError, ShadeMode,
};
use numpy::{PyArray1, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::{describe, shape_str};

/// The reviews read from Python: tokens and scores of each, and whether several were given.
type Reviews = (Vec<Vec<String>>, Vec<Vec<f64>>, bool);
/// One review's shading: scores, colour range, map and colour-bar label.
type Shade<'a> = (Vec<f64>, Option<f64>, Option<f64>, ColorMap, &'a str);
/// A median and a MAD as numpy arrays.
type MedianMad<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);
/// Named curves: name, row-major values, rows `m`, steps `n`.
type NamedCurves = (String, Vec<f64>, usize, usize);

/// Where a figure goes: a folder and stem the caller keeps (`path` given), or a temporary
/// folder removed after its PNG was read back (`path` is `None`).
pub(crate) struct Target {
    /// Folder of the files.
    pub dir: PathBuf,
    /// File stem.
    pub stem: String,
    /// True if the files stay (a `path` was given).
    pub keep: bool,
}

impl Target {
    /// The target of `path`, whose suffix must be one of `exts`; a fresh temporary folder with
    /// `default_stem` when `path` is `None`.
    pub fn new(path: Option<&Path>, default_stem: &str, exts: &[&str]) -> PyResult<Self> {
        match path {
            Some(p) => {
                let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
                let stem = match (exts.contains(&ext), p.file_stem()) {
                    (true, Some(stem)) => stem.to_string_lossy().into_owned(),
                    _ => {
                        let want = exts
                            .iter()
                            .map(|e| format!(".{e}"))
                            .collect::<Vec<_>>()
                            .join(" or ");
                        return Err(PyValueError::new_err(format!(
                            "path: expected a file name ending in {want}, got {}",
                            p.display()
                        )));
                    }
                };
                let dir = match p.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                Ok(Target {
                    dir,
                    stem,
                    keep: true,
                })
            }
            None => {
                let dir = std::env::temp_dir().join(format!(
                    "kann-plot-{}-{}",
                    std::process::id(),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos())
                ));
                std::fs::create_dir(&dir).map_err(|e| {
                    PyValueError::new_err(format!("creating {}: {e}", dir.display()))
                })?;
                Ok(Target {
                    dir,
                    stem: default_stem.to_string(),
                    keep: false,
                })
            }
        }
    }

    /// The result of a PNG + SVG figure: the PNG's path (kept) or its bytes (temporary; the
    /// folder is removed).
    pub fn finish(
        self,
        py: Python<'_>,
        drawn: Result<FigurePaths, PlotError>,
    ) -> PyResult<PyObject> {
        self.finish_file(py, drawn.map(|p| p.png))
    }

    /// As [`Target::finish`] for one written file (PNG or HTML).
    pub fn finish_file(
        self,
        py: Python<'_>,
        drawn: Result<PathBuf, PlotError>,
    ) -> PyResult<PyObject> {
        let result = match drawn {
            Ok(path) if self.keep => Ok(path
                .display()
                .to_string()
                .into_pyobject(py)?
                .into_any()
                .unbind()),
            Ok(path) => std::fs::read(&path)
                .map(|bytes| PyBytes::new(py, &bytes).into_any().unbind())
                .map_err(|e| PyValueError::new_err(format!("reading {}: {e}", path.display()))),
            Err(e) => Err(PyValueError::new_err(e.to_string())),
        };
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        result
    }
}

/// A float array as `f64` values and its shape; `TypeError` naming `name` and `expect` for
/// anything else (lists are read through `numpy.asarray`).
fn read_float(
    obj: &Bound<'_, PyAny>,
    name: &str,
    expect: &str,
) -> PyResult<(Vec<f64>, Vec<usize>)> {
    if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<'_, f64>>() {
        return Ok((a.as_array().iter().copied().collect(), a.shape().to_vec()));
    }
    if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<'_, f32>>() {
        return Ok((
            a.as_array().iter().map(|&x| f64::from(x)).collect(),
            a.shape().to_vec(),
        ));
    }
    let is_array = obj.is_instance_of::<numpy::PyUntypedArray>();
    let is_seq = obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>();
    if !is_array && is_seq {
        let np = obj.py().import("numpy")?;
        if let Ok(arr) = np.call_method1("asarray", (obj,)) {
            let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
            if matches!(kind.as_str(), "f" | "i" | "u") {
                let arr = arr.call_method1("astype", ("float64",))?;
                let a = arr.extract::<PyReadonlyArrayDyn<'_, f64>>()?;
                return Ok((a.as_array().iter().copied().collect(), a.shape().to_vec()));
            }
        }
    }
    Err(PyTypeError::new_err(format!(
        "{name}: expected {expect} (float32/float64 numpy array or a list of numbers), got {}",
        describe(obj)
    )))
}

/// A 1-d float array `[n]`.
fn read_vector(obj: &Bound<'_, PyAny>, name: &str, n: Option<usize>) -> PyResult<Vec<f64>> {
    let expect = match n {
        Some(n) => format!("a 1-d float array [{n}]"),
        None => "a 1-d float array".to_string(),
    };
    let (data, shape) = read_float(obj, name, &expect)?;
    if shape.len() != 1 || n.is_some_and(|n| shape[0] != n) {
        return Err(PyValueError::new_err(format!(
            "{name}: expected {expect}, got shape {}",
            shape_str(&shape)
        )));
    }
    if let Some(i) = data.iter().position(|x| !x.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "{name}: entry {i} is {} (scores must be finite)",
            data[i]
        )));
    }
    Ok(data)
}

/// A 2-d float array `[m, n]` (row-major) of finite values, `m >= 1`.
pub(crate) fn read_curves(
    obj: &Bound<'_, PyAny>,
    name: &str,
    n: Option<usize>,
) -> PyResult<(Vec<f64>, usize, usize)> {
    let expect = match n {
        Some(n) => format!("a 2-d float array [m, n] = [m, {n}] (one curve per row)"),
        None => "a 2-d float array [m, n] (one curve per row)".to_string(),
    };
    let (data, shape) = read_float(obj, name, &expect)?;
    if shape.len() != 2 || shape[0] == 0 || shape[1] == 0 || n.is_some_and(|n| shape[1] != n) {
        return Err(PyValueError::new_err(format!(
            "{name}: expected {expect} with m, n >= 1, got shape {}",
            shape_str(&shape)
        )));
    }
    let cols = shape[1];
    if let Some(pos) = data.iter().position(|x| !x.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "{name}: non-finite value {} at row {}, step {} (shape {})",
            data[pos],
            pos / cols,
            pos % cols,
            shape_str(&shape)
        )));
    }
    Ok((data, shape[0], cols))
}

/// Median and MAD per step of curves `[m, n]`, as a `ValueError` on failure.
pub(crate) fn median_mad(data: &[f64], m: usize, n: usize) -> PyResult<(Vec<f64>, Vec<f64>)> {
    median_mad_over_time(data, m, n).map_err(|e| PyValueError::new_err(e.to_string()))
}

fn parse_colormap(name: &str) -> PyResult<ColorMap> {
    match name {
        "blues" => Ok(ColorMap::Blues),
        "reds" => Ok(ColorMap::Reds),
        "greens" => Ok(ColorMap::Greens),
        "red-white-blue" | "redblue" => Ok(ColorMap::RedBlue),
        other => Err(PyValueError::new_err(format!(
            "colormap: expected \"blues\", \"reds\", \"greens\" or \"red-white-blue\", got {other:?}"
        ))),
    }
}

/// The reviews of `plot_word_highlights`: one (a list of str) or several (a list of lists).
fn read_reviews(tokens: &Bound<'_, PyAny>, scores: &Bound<'_, PyAny>) -> PyResult<Reviews> {
    if tokens.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "tokens: expected a list of str (one review) or a list of lists of str, got str",
        ));
    }
    if let Ok(one) = tokens.extract::<Vec<String>>() {
        let s = read_vector(scores, "scores", Some(one.len()))?;
        if one.is_empty() {
            return Err(PyValueError::new_err("tokens: the review has no token"));
        }
        return Ok((vec![one], vec![s], false));
    }
    let Ok(many) = tokens.extract::<Vec<Vec<String>>>() else {
        return Err(PyTypeError::new_err(format!(
            "tokens: expected a list of str (one review) or a list of lists of str, got {}",
            describe(tokens)
        )));
    };
    if many.is_empty() {
        return Err(PyValueError::new_err("tokens: no review given"));
    }
    let is_seq = scores.is_instance_of::<PyList>() || scores.is_instance_of::<PyTuple>();
    let items: Vec<Bound<'_, PyAny>> = if is_seq {
        scores.try_iter()?.collect::<PyResult<_>>()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "scores: with {} reviews, expected a list of {} 1-d float arrays, got {}",
            many.len(),
            many.len(),
            describe(scores)
        )));
    };
    if items.len() != many.len() {
        return Err(PyValueError::new_err(format!(
            "scores: {} arrays for {} reviews",
            items.len(),
            many.len()
        )));
    }
    let mut all = Vec::with_capacity(many.len());
    for (i, (t, s)) in many.iter().zip(&items).enumerate() {
        if t.is_empty() {
            return Err(PyValueError::new_err(format!(
                "tokens[{i}]: the review has no token"
            )));
        }
        all.push(read_vector(s, &format!("scores[{i}]"), Some(t.len()))?);
    }
    Ok((many, all, true))
}

/// Titles: `None` (a default per review), a str (one review) or a list of str (one each).
fn read_titles(
    title: Option<&Bound<'_, PyAny>>,
    count: usize,
    several: bool,
) -> PyResult<Vec<String>> {
    let default = |i: usize| {
        if several {
            format!("Review {}", i + 1)
        } else {
            "Word highlights".to_string()
        }
    };
    match title {
        None => Ok((0..count).map(default).collect()),
        Some(t) if t.is_none() => Ok((0..count).map(default).collect()),
        Some(t) => {
            if let Ok(s) = t.extract::<String>() {
                if several {
                    return Err(PyValueError::new_err(format!(
                        "title: with {count} reviews, expected a list of {count} str (one heading each; page_title names the page)"
                    )));
                }
                return Ok(vec![s]);
            }
            match t.extract::<Vec<String>>() {
                Ok(v) if v.len() == count => Ok(v),
                Ok(v) => Err(PyValueError::new_err(format!(
                    "title: {} titles for {count} reviews",
                    v.len()
                ))),
                Err(_) => Err(PyTypeError::new_err(format!(
                    "title: expected a str or a list of str, got {}",
                    describe(t)
                ))),
            }
        }
    }
}

/// Tokens of one or several reviews shaded by per-token scores: Fig. 1 as `analyze imdb` draws
/// it (kann-plot `word_highlight`, `word_highlight_html`).
///
/// `mode="level"` shades the scores (e.g. `m_S(h_t)`, Eq. 10) on the review's own 2nd-98th
/// percentile range; `mode="change"` shades their per-token change on a red-white-blue map
/// symmetric about 0 (range: the 95th percentile of |change|) — both `analyze imdb`'s rule and
/// colour-bar labels. `mode=None` shades the scores as given, on `[min_score, max_score]`
/// (default `[0, max]`). `colormap`, `score_label`, `min_score`, `max_score` override.
///
/// `path` ending in `.png`: writes PNG + SVG (one review), returns the PNG's path; ending in
/// `.html`: writes the HTML page (every review), returns its path. Without `path`: the PNG's
/// bytes, or with `html=True` the page as a str.
#[pyfunction]
#[pyo3(signature = (tokens, scores, path = None, title = None, mode = None, colormap = None,
    score_label = None, min_score = None, max_score = None, join_pieces = true, html = false,
    page_title = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn plot_word_highlights(
    py: Python<'_>,
    tokens: &Bound<'_, PyAny>,
    scores: &Bound<'_, PyAny>,
    path: Option<PathBuf>,
    title: Option<&Bound<'_, PyAny>>,
    mode: Option<&str>,
    colormap: Option<&str>,
    score_label: Option<String>,
    min_score: Option<f64>,
    max_score: Option<f64>,
    join_pieces: bool,
    html: bool,
    page_title: Option<String>,
) -> PyResult<PyObject> {
    let mode = match mode {
        None => None,
        Some("level") => Some(ShadeMode::Level),
        Some("change") => Some(ShadeMode::Change),
        Some(other) => {
            return Err(PyValueError::new_err(format!(
                "mode: expected \"level\", \"change\" or None, got {other:?}"
            )));
        }
    };
    let user_map = colormap.map(parse_colormap).transpose()?;
    let (tokens, scores, several) = read_reviews(tokens, scores)?;
    let titles = read_titles(title, tokens.len(), several)?;
    // Shaded as analyze imdb does (kann_plot::shade), or as given.
    let shaded: Vec<Shade<'_>> = scores
        .iter()
        .map(|s| match mode {
            Some(m) => {
                let sh = kann_plot::shade(s, m, user_map.unwrap_or(ColorMap::Blues));
                let label = match m {
                    ShadeMode::Level => kann_plot::LEVEL_LABEL,
                    ShadeMode::Change => kann_plot::CHANGE_LABEL,
                };
                (
                    sh.scores,
                    Some(min_score.unwrap_or(sh.lo)),
                    Some(max_score.unwrap_or(sh.hi)),
                    user_map.unwrap_or(sh.colormap),
                    label,
                )
            }
            None => (
                s.clone(),
                min_score,
                max_score,
                user_map.unwrap_or(ColorMap::Blues),
                "projection magnitude s (Eq. 10)",
            ),
        })
        .collect();
    let texts: Vec<HighlightedText<'_>> = shaded
        .iter()
        .zip(&tokens)
        .zip(&titles)
        .map(|(((s, lo, hi, map, label), t), title)| HighlightedText {
            min_score: *lo,
            max_score: *hi,
            colormap: *map,
            join_pieces,
            score_label: score_label.as_deref().unwrap_or(label),
            ..HighlightedText::new(title, t, s)
        })
        .collect();
    let exts: &[&str] = if html { &["html"] } else { &["png", "html"] };
    let to_html = html
        || path
            .as_deref()
            .and_then(|p| p.extension())
            .is_some_and(|e| e == "html");
    if several && !to_html {
        return Err(PyValueError::new_err(format!(
            "tokens: {} reviews draw only as one HTML page (a path ending in .html, or html=True); a PNG holds one review",
            tokens.len()
        )));
    }
    let target = Target::new(path.as_deref(), "word_highlight", exts)?;
    if to_html {
        let page = page_title.unwrap_or_else(|| {
            if several {
                "Word highlights".to_string()
            } else {
                titles[0].clone()
            }
        });
        let keep = target.keep;
        let drawn = py.allow_threads(|| {
            kann_plot::word_highlight_html(&target.dir, &target.stem, &page, &texts)
        });
        if keep {
            return target.finish_file(py, drawn);
        }
        // Without a path: the page as a str.
        let result = match drawn {
            Ok(p) => std::fs::read_to_string(&p)
                .map(|s| PyString::new(py, &s).into_any().unbind())
                .map_err(|e| PyValueError::new_err(format!("reading {}: {e}", p.display()))),
            Err(e) => Err(PyValueError::new_err(e.to_string())),
        };
        let _ = std::fs::remove_dir_all(&target.dir);
        return result;
    }
    let drawn =
        py.allow_threads(|| kann_plot::word_highlight(&target.dir, &target.stem, &texts[0]));
    target.finish(py, drawn)
}

/// Median and median absolute deviation per step of curves `[m, n]` (m samples, n steps), as
/// `analyze ecg` computes the envelopes of Figs. 2-3 (kann-koopman `median_mad_over_time`).
#[pyfunction]
#[pyo3(name = "median_mad")]
pub(crate) fn median_mad_py<'py>(
    py: Python<'py>,
    curves: &Bound<'py, PyAny>,
) -> PyResult<MedianMad<'py>> {
    let (data, m, n) = read_curves(curves, "curves", None)?;
    let (med, mad) = py.allow_threads(|| median_mad(&data, m, n))?;
    Ok((PyArray1::from_vec(py, med), PyArray1::from_vec(py, mad)))
}

/// Named curve sets: a dict `{name: [m, n]}` or a list of `(name, [m, n])`.
fn read_named_curves(series: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<NamedCurves>> {
    let items: Vec<(String, Bound<'_, PyAny>)> = if let Ok(d) = series.downcast::<PyDict>() {
        d.iter()
            .map(|(k, v)| Ok((k.extract::<String>()?, v)))
            .collect::<PyResult<_>>()
            .map_err(|_| {
                PyTypeError::new_err(format!("{name}: dict keys must be str (series names)"))
            })?
    } else if let Ok(v) = series.extract::<Vec<(String, Bound<'_, PyAny>)>>() {
        v
    } else {
        return Err(PyTypeError::new_err(format!(
            "{name}: expected a dict {{name: curves [m, n]}} or a list of (name, curves) pairs, got {}",
            describe(series)
        )));
    };
    if items.is_empty() {
        return Err(PyValueError::new_err(format!("{name}: no series given")));
    }
    let mut out = Vec::with_capacity(items.len());
    let mut n0 = None;
    for (k, v) in items {
        let (data, m, n) = read_curves(&v, &format!("{name}[{k:?}]"), n0)?;
        n0 = Some(n);
        out.push((k, data, m, n));
    }
    Ok(out)
}

/// The medians with MAD envelopes of several named sets of curves on one axis: Fig. 3 (left) as
/// `analyze ecg` draws it (kann-plot `median_comparison`). `series`: a dict `{name: [m, n]}` or
/// a list of `(name, curves)`; every set has the same `n` steps (its own `m`).
#[pyfunction]
#[pyo3(signature = (series, path = None, title = None, x_label = "t", y_label = "amplitude"))]
pub(crate) fn plot_medians(
    py: Python<'_>,
    series: &Bound<'_, PyAny>,
    path: Option<PathBuf>,
    title: Option<String>,
    x_label: &str,
    y_label: &str,
) -> PyResult<PyObject> {
    let sets = read_named_curves(series, "series")?;
    let curves: Vec<(Vec<f64>, Vec<f64>)> = py.allow_threads(|| {
        sets.iter()
            .map(|(_, d, m, n)| median_mad(d, *m, *n))
            .collect::<PyResult<_>>()
    })?;
    let title = title.unwrap_or_else(|| "Medians with MAD envelopes".to_string());
    let target = Target::new(path.as_deref(), "medians", &["png"])?;
    let drawn = py.allow_threads(|| {
        let refs: Vec<MedianSeries<'_>> = sets
            .iter()
            .zip(&curves)
            .map(|((name, ..), (med, mad))| MedianSeries::new(name, med, Some(mad)))
            .collect();
        kann_plot::median_comparison(
            &target.dir,
            &target.stem,
            &MedianComparisonFigure {
                title: &title,
                series: &refs,
                time: None,
                x_label,
                y_label,
            },
        )
    });
    target.finish(py, drawn)
}

/// `set` as `analyze` names it: `u1,u2` (1-based).
fn set_name(set: &[usize]) -> String {
    set.iter()
        .map(|j| format!("u{}", j + 1))
        .collect::<Vec<_>>()
        .join(",")
}

/// The panel caption of `analyze ecg`'s Fig. 2: `{u1,u2}, λ = 0.9950+0.0300i`, with
/// ` (not a conjugate pair)` for a set that is not one conjugate pair of the spectrum.
pub(crate) fn panel_name(spectrum: &Spectrum, set: &[usize]) -> String {
    let l = spectrum.eigenvalues[set[0]];
    let conjugate = set.len() == 2 && spectrum.groups().iter().any(|g| g == set);
    format!(
        "{{{}}}, λ = {}{}",
        set_name(set),
        kann_plot::fmt_lambda(l.re, l.im),
        if conjugate {
            ""
        } else {
            " (not a conjugate pair)"
        }
    )
}

/// How the latents of a set are reconstructed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recon {
    /// Eq. 11: `h B |V_S U_S| Bᵀ` (canonical signs of `B`).
    Modulus,
    /// `Re(h B V_S U_S) Bᵀ` (sign-invariant).
    Plain,
}

/// `h` itself, then (with `full`) its projection `h B Bᵀ` on the basis, then the latents of
/// every set: `[(1 + full + sets) m, k]` row-major.
#[allow(clippy::too_many_arguments)]
pub(crate) fn stacked_latents(
    h: &[f64],
    m: usize,
    k: usize,
    model: &KoopmanModel,
    spectrum: &Spectrum,
    sets: &[Vec<usize>],
    how: Recon,
    full: bool,
) -> kann_koopman::Result<Vec<f64>> {
    let x = MatRef::from_row_major_slice(h, m, k);
    let mut rows = Vec::with_capacity((2 + sets.len()) * m * k);
    rows.extend_from_slice(h);
    if full {
        let b = model.basis.as_ref();
        rows.extend(crate::row_major((x * b * b.transpose()).as_ref()));
    }
    for set in sets {
        let z = match how {
            Recon::Modulus => reconstruct_modulus(x, model, spectrum, set)?,
            Recon::Plain => project_onto(x, model, spectrum, set)?,
        };
        rows.extend(crate::row_major(z.as_ref()));
    }
    Ok(rows)
}

/// Decodes latents `[rows, k]` with `decode`: `None` (the latents themselves), a float matrix
/// `W [k, n]` (`latents W`) or a callable `f(latents) -> [rows, n]`.
pub(crate) fn decode(
    py: Python<'_>,
    decode: Option<&Bound<'_, PyAny>>,
    latents: Vec<f64>,
    rows: usize,
    k: usize,
) -> PyResult<(Vec<f64>, usize)> {
    let Some(dec) = decode.filter(|d| !d.is_none()) else {
        return Ok((latents, k));
    };
    if dec.is_callable() {
        let arr = numpy::ndarray::Array2::from_shape_vec((rows, k), latents)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let out = dec.call1((numpy::IntoPyArray::into_pyarray(arr, py),))?;
        let np = py.import("numpy")?;
        let out = np.call_method1("asarray", (out,)).map_err(|e| {
            PyTypeError::new_err(format!("decode: its result is not an array: {e}"))
        })?;
        let (d, r, n) = read_curves(&out, "decode(latents)", None)?;
        if r != rows {
            return Err(PyValueError::new_err(format!(
                "decode(latents): expected {rows} rows (one per latent row [{rows}, {k}]), got shape [{r}, {n}]"
            )));
        }
        return Ok((d, n));
    }
    let (w, shape) = read_float(
        dec,
        "decode",
        &format!("a callable or a float matrix W [H, n] = [{k}, n]"),
    )?;
    if shape.len() != 2 || shape[0] != k || shape[1] == 0 {
        return Err(PyValueError::new_err(format!(
            "decode: expected a callable or a float matrix W [H, n] = [{k}, n], got shape {}",
            shape_str(&shape)
        )));
    }
    let n = shape[1];
    let out = py.allow_threads(|| {
        let z = MatRef::from_row_major_slice(&latents, rows, k);
        let w = MatRef::from_row_major_slice(&w, k, n);
        crate::row_major((z * w).as_ref())
    });
    Ok((out, n))
}

/// Draws `analyze ecg`'s Fig. 2 panels: one median ± MAD per set over `μ` and `μ_r`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn draw_panels(
    py: Python<'_>,
    target: Target,
    title: &str,
    original: (&str, &[f64]),
    reconstruction: (&str, &[f64]),
    panels: &[(String, Vec<f64>, Vec<f64>)],
    columns: usize,
    x_label: &str,
    y_label: &str,
) -> PyResult<PyObject> {
    let drawn = py.allow_threads(|| {
        let refs: Vec<MedianPanel<'_>> = panels
            .iter()
            .map(|(name, med, mad)| MedianPanel {
                series: MedianSeries::new(name, med, Some(mad)),
                markers: &[],
                spread: &[],
            })
            .collect();
        kann_plot::median_panels(
            &target.dir,
            &target.stem,
            &MedianPanelsFigure {
                title,
                original: MedianSeries::new(original.0, original.1, None),
                reconstruction: MedianSeries::new(reconstruction.0, reconstruction.1, None),
                panels: &refs,
                time: None,
                columns,
                x_label,
                y_label,
            },
        )
    });
    target.finish(py, drawn)
}
