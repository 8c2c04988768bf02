//! Python bindings of kann-koopman (`kann._kann`): the Koopman fit (paper Sec. 3.2, Eqs. 4-5)
//! of a numpy states array read in place, its spectrum and memory horizons (Eq. 9), one- and
//! multi-step prediction (Eq. 6), projections on eigen-groups (Eqs. 7, 10, 11), `e_rel`
//! (Eq. 12), and the streaming / mergeable accumulators behind distributed fits (Gram sums, or
//! the R factors of a TSQR for ill-conditioned states).
//!
//! Every computation runs with the GIL released. A C-contiguous `[B, T, H]` array is read
//! without a copy; any other array (a `[T, B, H]` one, a strided view) is read in chunks of
//! sequences of at most [`CHUNK_BYTES`], so memory stays bounded whatever the layout.

use kann_koopman::faer::{Mat, MatRef};
use kann_koopman::{
    Accumulator, BootstrapOptions, Estimator, FitMethod, FitOptions, FitSteps, GramAccumulator,
    GramParts, KoopmanError, KoopmanModel, MIXED_CONDITION_LIMIT, Precision, Rank,
    RelativeErrorAccumulator, SequenceGrams, Spectrum, States, TsqrAccumulator, TsqrParts,
    bootstrap_intervals, eigen_coordinates, koopman_operator_direct, memory_horizon, project_onto,
    reconstruct_modulus,
};
use numpy::ndarray::{ArrayD, ArrayView3, IxDyn, s};
use numpy::{
    Complex64, IntoPyArray, PyArray1, PyArray2, PyArrayDyn, PyArrayMethods, PyReadonlyArray3,
    PyReadonlyArrayDyn, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

mod intervals;
mod plots;

use intervals::PySpectrumIntervals;

/// Largest buffer (bytes) a non-contiguous states array is copied into, one chunk of whole
/// sequences at a time (at least one sequence).
pub const CHUNK_BYTES: usize = 64 << 20;

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Axis order of a states array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `[B, T, H]`.
    Bth,
    /// `[T, B, H]` (PyTorch's default `batch_first=False`).
    Tbh,
}

fn parse_layout(layout: &str) -> PyResult<Layout> {
    match layout {
        "bth" => Ok(Layout::Bth),
        "tbh" => Ok(Layout::Tbh),
        other => Err(PyValueError::new_err(format!(
            "layout: expected \"bth\" ([B, T, H]) or \"tbh\" ([T, B, H]), got {other:?}"
        ))),
    }
}

fn parse_precision(precision: &str) -> PyResult<Precision> {
    match precision {
        "f64" => Ok(Precision::F64),
        "mixed" => Ok(Precision::Mixed),
        other => Err(PyValueError::new_err(format!(
            "precision: expected \"f64\" or \"mixed\", got {other:?}"
        ))),
    }
}

fn parse_fit_steps(steps: &str) -> PyResult<FitSteps> {
    match steps {
        "real" => Ok(FitSteps::Real),
        "all" => Ok(FitSteps::All),
        other => Err(PyValueError::new_err(format!(
            "fit_steps: expected \"real\" (t < length) or \"all\" (padding included), got {other:?}"
        ))),
    }
}

/// `None` → the reference default `min(pairs, H) − 1`; an int → that rank; a float in (0, 1] →
/// the fewest vectors holding that fraction of the energy.
fn parse_rank(rank: Option<&Bound<'_, PyAny>>) -> PyResult<Rank> {
    let Some(rank) = rank else {
        return Ok(Rank::ReferenceDefault);
    };
    if rank.is_none() {
        return Ok(Rank::ReferenceDefault);
    }
    if rank.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err(
            "rank: expected an int, a float or None, got a bool",
        ));
    }
    if let Ok(r) = rank.extract::<i64>() {
        if r < 1 {
            return Err(PyValueError::new_err(format!("rank: {r} is not >= 1")));
        }
        return Ok(Rank::Fixed(r as usize));
    }
    if let Ok(f) = rank.extract::<f64>() {
        if !(f > 0.0 && f <= 1.0) {
            return Err(PyValueError::new_err(format!(
                "rank: an energy fraction must lie in (0, 1], got {f}"
            )));
        }
        return Ok(Rank::Energy(f));
    }
    Err(PyTypeError::new_err(format!(
        "rank: expected an int, a float in (0, 1] or None, got {}",
        rank.get_type().name()?
    )))
}

/// A borrowed states array in `[B, T, H]` axis order (a view: nothing copied).
enum StatesView<'a> {
    F32(ArrayView3<'a, f32>),
    F64(ArrayView3<'a, f64>),
}

/// The numpy array behind `states`, kept borrowed (read-only) while Rust reads it.
enum Borrowed<'py> {
    F32(PyReadonlyArray3<'py, f32>),
    F64(PyReadonlyArray3<'py, f64>),
}

fn describe(obj: &Bound<'_, PyAny>) -> String {
    let shape = obj
        .getattr("shape")
        .map(|s| s.to_string())
        .unwrap_or_else(|_| "?".into());
    let dtype = obj
        .getattr("dtype")
        .map(|s| s.to_string())
        .unwrap_or_else(|_| {
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        });
    format!("{dtype} of shape {shape}")
}

fn borrow_states<'py>(states: &Bound<'py, PyAny>, layout: Layout) -> PyResult<Borrowed<'py>> {
    if let Ok(a) = states.extract::<PyReadonlyArray3<'py, f32>>() {
        return Ok(Borrowed::F32(a));
    }
    if let Ok(a) = states.extract::<PyReadonlyArray3<'py, f64>>() {
        return Ok(Borrowed::F64(a));
    }
    let order = match layout {
        Layout::Bth => "[B, T, H]",
        Layout::Tbh => "[T, B, H] (layout=\"tbh\")",
    };
    Err(PyTypeError::new_err(format!(
        "states: expected a 3-d numpy array {order} of float32 or float64, got {}",
        describe(states)
    )))
}

impl Borrowed<'_> {
    fn shape(&self) -> Vec<usize> {
        match self {
            Borrowed::F32(a) => a.shape().to_vec(),
            Borrowed::F64(a) => a.shape().to_vec(),
        }
    }

    /// The array as `[B, T, H]` (a permuted view for `tbh`).
    fn view(&self, layout: Layout) -> StatesView<'_> {
        let perm = |l: Layout| match l {
            Layout::Bth => [0, 1, 2],
            Layout::Tbh => [1, 0, 2],
        };
        match self {
            Borrowed::F32(a) => StatesView::F32(a.as_array().permuted_axes(perm(layout))),
            Borrowed::F64(a) => StatesView::F64(a.as_array().permuted_axes(perm(layout))),
        }
    }
}

fn shape_str(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("({})", parts.join(", "))
}

/// Shifts the sequence index of a non-finite-value error of a chunk that starts at `offset`.
fn offset_error(e: KoopmanError, offset: usize) -> KoopmanError {
    match e {
        KoopmanError::NonFinite {
            seq,
            time,
            unit,
            value,
        } => KoopmanError::NonFinite {
            seq: seq + offset,
            time,
            unit,
            value,
        },
        e => e,
    }
}

/// Calls `f(data, s, n, lengths)` on the states in C order `[s, n, k]`: once on the array itself
/// when it is C-contiguous in `[B, T, H]` order (no copy), else on chunks of whole sequences
/// copied into a buffer of at most [`CHUNK_BYTES`].
fn for_each_chunk<T: Copy>(
    view: &ArrayView3<'_, T>,
    lengths: Option<&[usize]>,
    mut f: impl FnMut(&[T], usize, usize, Option<&[usize]>) -> kann_koopman::Result<()>,
) -> kann_koopman::Result<()> {
    let (b, n, k) = view.dim();
    if let Some(data) = view.as_slice() {
        return f(data, b, n, lengths);
    }
    let per_seq = (n * k * std::mem::size_of::<T>()).max(1);
    let per = (CHUNK_BYTES / per_seq).clamp(1, b.max(1));
    let mut buf: Vec<T> = Vec::with_capacity(per * n * k);
    let mut start = 0;
    while start < b {
        let end = (start + per).min(b);
        buf.clear();
        buf.extend(view.slice(s![start..end, .., ..]).iter().copied());
        f(&buf, end - start, n, lengths.map(|l| &l[start..end]))
            .map_err(|e| offset_error(e, start))?;
        start = end;
    }
    Ok(())
}

/// What reads batches of states in C order `[s, n, k]` with optional lengths: the
/// accumulators, the `e_rel` accumulator and the per-sequence Grams of the resampling.
trait Feed {
    fn feed_f32(
        &mut self,
        d: &[f32],
        s: usize,
        n: usize,
        l: Option<&[usize]>,
    ) -> kann_koopman::Result<()>;
    fn feed_f64(
        &mut self,
        d: &[f64],
        s: usize,
        n: usize,
        l: Option<&[usize]>,
    ) -> kann_koopman::Result<()>;
}

macro_rules! feed_by_push {
    ($($t:ty),*) => {
        $(impl Feed for $t {
            feed_by_push!(@one feed_f32, push_f32, f32);
            feed_by_push!(@one feed_f64, push_f64, f64);
        })*
    };
    (@one $feed:ident, $push:ident, $e:ty) => {
        fn $feed(&mut self, d: &[$e], s: usize, n: usize, l: Option<&[usize]>) -> kann_koopman::Result<()> {
            self.$push(d, s, n, l)
        }
    };
}

feed_by_push!(
    GramAccumulator,
    TsqrAccumulator,
    RelativeErrorAccumulator,
    SequenceGrams
);

/// Pushes every chunk of `view` into `acc` (`lengths`: valid steps, `None` = all).
fn feed<F: Feed>(
    acc: &mut F,
    view: &StatesView<'_>,
    lengths: Option<&[usize]>,
) -> kann_koopman::Result<()> {
    match view {
        StatesView::F32(v) => for_each_chunk(v, lengths, |d, s, n, l| acc.feed_f32(d, s, n, l)),
        StatesView::F64(v) => for_each_chunk(v, lengths, |d, s, n, l| acc.feed_f64(d, s, n, l)),
    }
}

/// `push` of the Python accumulators: checks `chunk` against `inner`'s hidden size, reads it
/// into a fresh accumulator with the GIL released, and merges that only when the whole chunk was
/// read (a bad value in a later part of a chunk read in parts leaves `inner` unchanged).
fn push_chunk<A: Accumulator + Feed>(
    inner: &mut A,
    py: Python<'_>,
    chunk: &Bound<'_, PyAny>,
    lengths: Option<&Bound<'_, PyAny>>,
    layout: &str,
) -> PyResult<()> {
    let layout = parse_layout(layout)?;
    let a = borrow_states(chunk, layout)?;
    let shape = a.shape();
    let (b, n, k) = bth(&shape, layout);
    if k != inner.hidden() {
        return Err(PyValueError::new_err(format!(
            "chunk: hidden size {k} (shape {}) does not match the accumulator's dim {}",
            shape_str(&shape),
            inner.hidden()
        )));
    }
    let lengths = read_lengths(py, lengths, b, n)?;
    let view = a.view(layout);
    py.allow_threads(|| {
        let mut part = inner.empty_like();
        feed(&mut part, &view, lengths.as_deref())?;
        inner.merge(&part)
    })
    .map_err(|e| states_error("chunk", &shape, layout, e))
}

/// `fit` of the Python accumulators: the model from `inner` at `rank`, with its spectrum and no
/// `e_rel`.
fn fit_partial<A: Accumulator>(
    inner: &A,
    py: Python<'_>,
    rank: Option<&Bound<'_, PyAny>>,
    fit_steps: &str,
) -> PyResult<Fit> {
    let fit_steps = parse_fit_steps(fit_steps)?;
    let options = FitOptions {
        rank: parse_rank(rank)?,
        precision: inner.precision(),
        ..FitOptions::default()
    };
    let k = inner.hidden();
    if let Rank::Fixed(r) = options.rank
        && r > k
    {
        return Err(PyValueError::new_err(format!(
            "rank: {r} is out of range 1..={k} (accumulator dim {k})"
        )));
    }
    py.allow_threads(|| {
        let model = inner.finish(&options)?;
        let spectrum = Spectrum::new(&model)?;
        Ok::<_, KoopmanError>(Fit {
            model,
            spectrum,
            e_rel: None,
            fit_steps,
            intervals: None,
        })
    })
    .map_err(|e| match e {
        KoopmanError::InvalidRank { .. } => PyValueError::new_err(format!("rank: {e}")),
        e => value_error(e),
    })
}

/// `dim` of a new accumulator: at least 1.
fn check_dim(dim: usize) -> PyResult<usize> {
    if dim == 0 {
        return Err(PyValueError::new_err("dim: must be at least 1, got 0"));
    }
    Ok(dim)
}

/// A float64 array `[n, n]` of the row-major values `v`.
fn square<'py>(py: Python<'py>, v: Vec<f64>, n: usize) -> PyResult<Bound<'py, PyAny>> {
    Ok(PyArray1::from_vec(py, v).reshape([n, n])?.into_any())
}

/// Checks that a state dict has the given `format`.
fn check_format(state: &Bound<'_, PyDict>, want: &str) -> PyResult<()> {
    let format: String = dict_get(state, "format")?;
    if format != want {
        return Err(PyValueError::new_err(format!(
            "state: format is {format:?}, not {want:?}"
        )));
    }
    Ok(())
}

/// The row-major values of the `[n, n]` float64 array `key` of a state dict.
fn dict_square(state: &Bound<'_, PyDict>, key: &str, n: usize) -> PyResult<Vec<f64>> {
    Ok(row_major(dict_mat(state, key, n, n)?.as_ref()))
}

impl StatesView<'_> {
    fn dim(&self) -> (usize, usize, usize) {
        match self {
            StatesView::F32(v) => v.dim(),
            StatesView::F64(v) => v.dim(),
        }
    }

    /// A copy as [`States`] (for the direct SVD + QR fallback only).
    fn to_states(&self, lengths: Vec<usize>) -> kann_koopman::Result<States> {
        let (b, n, k) = self.dim();
        let data: Vec<f64> = match self {
            StatesView::F32(v) => v.iter().map(|&x| x as f64).collect(),
            StatesView::F64(v) => v.iter().copied().collect(),
        };
        States::new_with_lengths(data, b, n, k, lengths)
    }
}

/// Normalises `lengths` (None, int `[B]`, 0/1 mask `[B, T]`) with the Python helper
/// `kann._checks.lengths`, which raises the errors that name the argument and the shapes.
fn read_lengths(
    py: Python<'_>,
    lengths: Option<&Bound<'_, PyAny>>,
    b: usize,
    n: usize,
) -> PyResult<Option<Vec<usize>>> {
    let Some(lengths) = lengths else {
        return Ok(None);
    };
    if lengths.is_none() {
        return Ok(None);
    }
    let v = py
        .import("kann._checks")?
        .getattr("lengths")?
        .call1((lengths, b, n))?;
    Ok(Some(v.extract()?))
}

/// The `[B, T, H]` dimensions of a states array of `shape` in `layout`.
fn bth(shape: &[usize], layout: Layout) -> (usize, usize, usize) {
    match layout {
        Layout::Bth => (shape[0], shape[1], shape[2]),
        Layout::Tbh => (shape[1], shape[0], shape[2]),
    }
}

fn states_error(name: &str, shape: &[usize], layout: Layout, e: KoopmanError) -> PyErr {
    let where_ = format!(
        "{name} of shape {}{}",
        shape_str(shape),
        if layout == Layout::Tbh {
            " [T, B, H]"
        } else {
            ""
        }
    );
    match e {
        KoopmanError::InvalidRank { .. } => PyValueError::new_err(format!("rank: {e} ({where_})")),
        e => PyValueError::new_err(format!("{where_}: {e}")),
    }
}

/// The in-memory fit of `kann.fit`, following `kann_koopman::koopman_operator` (what
/// `analyze states` runs): Gram fit; a mixed-precision fit of an ill-conditioned system redone
/// in `f64`; a least-squares fit worse conditioned than the limit redone by SVD + QR on a copy.
fn fit_view(
    view: &StatesView<'_>,
    lengths: Option<&[usize]>,
    options: &FitOptions,
    fit_steps: FitSteps,
) -> kann_koopman::Result<Fit> {
    let (b, n, k) = view.dim();
    let fit_lengths = match fit_steps {
        FitSteps::Real => lengths,
        FitSteps::All => None,
    };
    let gram_fit = |options: &FitOptions| -> kann_koopman::Result<KoopmanModel> {
        let mut acc = GramAccumulator::with_precision(k, options.precision);
        feed(&mut acc, view, fit_lengths)?;
        acc.finish(options)
    };
    let mut model = gram_fit(options)?;
    let mut used = *options;
    let well_conditioned = model.condition <= MIXED_CONDITION_LIMIT;
    if options.precision == Precision::Mixed && !well_conditioned {
        used.precision = Precision::F64;
        model = gram_fit(&used)?;
    }
    if model.condition > used.condition_limit && used.estimator == Estimator::LeastSquares {
        let all = fit_lengths
            .map(<[usize]>::to_vec)
            .unwrap_or_else(|| vec![n; b]);
        let states = view.to_states(all)?;
        let mut direct = koopman_operator_direct(&states, &used)?;
        direct.warnings.push(format!(
            "normal matrix X~ᵀX~ has condition {:.3e} > {:.1e}: used SVD + QR least squares on the data instead of the Gram solution",
            model.condition, used.condition_limit
        ));
        model = direct;
    }
    let spectrum = Spectrum::new(&model)?;
    let mut err = RelativeErrorAccumulator::new(&model);
    feed(&mut err, view, lengths)?;
    let e_rel = Some(err.finish()?.e_rel);
    Ok(Fit {
        model,
        spectrum,
        e_rel,
        fit_steps,
        intervals: None,
    })
}

/// Puts resampling intervals (issue #23) on `fit`, the fit of `view` by [`fit_view`]: one more
/// pass over the fitted steps keeps each sequence's Grams (`4 H²` values per sequence; the
/// states are not copied), then `boot.replicates` refits at the fit's rank
/// (`kann_koopman::bootstrap_intervals`, what `analyze states --bootstrap N` runs). Their
/// warnings join the fit's.
fn resample_view(
    view: &StatesView<'_>,
    lengths: Option<&[usize]>,
    options: &FitOptions,
    boot: &BootstrapOptions,
    fit: &mut Fit,
) -> kann_koopman::Result<()> {
    let fit_lengths = match fit.fit_steps {
        FitSteps::Real => lengths,
        FitSteps::All => None,
    };
    let mut grams = SequenceGrams::new(view.dim().2, options.precision);
    feed(&mut grams, view, fit_lengths)?;
    let ci = bootstrap_intervals(
        &grams,
        options,
        fit.model.rank(),
        fit.model.method,
        &fit.spectrum.eigenvalues,
        boot,
        &|| {},
    )?;
    fit.model.warnings.extend(ci.warnings.iter().cloned());
    fit.intervals = Some(PySpectrumIntervals::new(ci));
    Ok(())
}

/// A Koopman fit: basis `B` [H, r] and operator `C` [r, r] (Eqs. 4-5), its spectrum
/// `C = V Λ U`, and `e_rel` (Eq. 12) on the steps it was scored on.
#[pyclass(module = "kann._kann", frozen)]
pub struct Fit {
    model: KoopmanModel,
    spectrum: Spectrum,
    e_rel: Option<f64>,
    fit_steps: FitSteps,
    intervals: Option<PySpectrumIntervals>,
}

fn mat<'py>(py: Python<'py>, m: MatRef<'_, f64>) -> Bound<'py, PyArray2<f64>> {
    let a = numpy::ndarray::Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)]);
    a.into_pyarray(py)
}

/// A float array `[..., H]` as row-major `f64` rows `[m, H]` (a copy) and its leading shape.
fn read_rows(h: &Bound<'_, PyAny>, k: usize, name: &str) -> PyResult<(Vec<f64>, Vec<usize>)> {
    let (data, shape): (Vec<f64>, Vec<usize>) = if let Ok(a) =
        h.extract::<PyReadonlyArrayDyn<'_, f64>>()
    {
        (a.as_array().iter().copied().collect(), a.shape().to_vec())
    } else if let Ok(a) = h.extract::<PyReadonlyArrayDyn<'_, f32>>() {
        (
            a.as_array().iter().map(|&x| x as f64).collect(),
            a.shape().to_vec(),
        )
    } else {
        return Err(PyTypeError::new_err(format!(
            "{name}: expected a numpy array [..., H] = [..., {k}] of float32 or float64, got {}",
            describe(h)
        )));
    };
    if shape.last() != Some(&k) {
        return Err(PyValueError::new_err(format!(
            "{name}: last axis must be the hidden size H = {k}, got shape {}",
            shape_str(&shape)
        )));
    }
    if let Some(pos) = data.iter().position(|x| !x.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "{name}: non-finite value {} at flat row {}, unit {} (shape {})",
            data[pos],
            pos / k,
            pos % k,
            shape_str(&shape)
        )));
    }
    Ok((data, shape[..shape.len() - 1].to_vec()))
}

/// `groups` as a list of index lists and whether a single group was given.
fn read_groups(
    groups: Option<&Bound<'_, PyAny>>,
    spectrum: &Spectrum,
) -> PyResult<(Vec<Vec<usize>>, bool)> {
    let r = spectrum.len();
    let (sets, single) = match groups {
        None => (spectrum.groups(), false),
        Some(g) if g.is_none() => (spectrum.groups(), false),
        Some(g) => {
            if let Ok(j) = g.extract::<i64>() {
                (vec![vec![to_index(j, r)?]], true)
            } else if let Ok(set) = g.extract::<Vec<i64>>() {
                let set: PyResult<Vec<usize>> = set.into_iter().map(|j| to_index(j, r)).collect();
                (vec![set?], true)
            } else if let Ok(sets) = g.extract::<Vec<Vec<i64>>>() {
                let sets: PyResult<Vec<Vec<usize>>> = sets
                    .into_iter()
                    .map(|s| s.into_iter().map(|j| to_index(j, r)).collect())
                    .collect();
                (sets?, false)
            } else {
                return Err(PyTypeError::new_err(format!(
                    "groups: expected an eigenvector index, a list of indices or a list of lists (0-based, rank {r}), got {}",
                    g.get_type().name()?
                )));
            }
        }
    };
    if let Some(i) = sets.iter().position(Vec::is_empty) {
        return Err(PyValueError::new_err(format!("groups: group {i} is empty")));
    }
    Ok((sets, single))
}

fn to_index(j: i64, r: usize) -> PyResult<usize> {
    if j < 0 || j as usize >= r {
        return Err(PyValueError::new_err(format!(
            "groups: eigenvector index {j} out of range 0..{r} (rank {r})"
        )));
    }
    Ok(j as usize)
}

fn estimator_name(e: Estimator) -> String {
    e.to_string()
}

fn parse_estimator(name: &str, alpha: Option<f64>) -> PyResult<Estimator> {
    Ok(match name {
        "least-squares" => Estimator::LeastSquares,
        "exact-dmd" => Estimator::ExactDmd,
        "tls-dmd" => Estimator::TotalLeastSquares,
        _ if name.starts_with("ridge") => Estimator::Ridge {
            alpha: alpha.unwrap_or(0.0),
        },
        other => {
            return Err(PyValueError::new_err(format!(
                "state: unknown estimator {other:?}"
            )));
        }
    })
}

#[pymethods]
impl Fit {
    /// Eigenvalues `λ_j` of `C` (complex128 `[r]`), largest modulus first; complex-conjugate
    /// pairs adjacent, positive imaginary part first.
    #[getter]
    fn eigenvalues<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<Complex64>> {
        let v: Vec<Complex64> = self
            .spectrum
            .eigenvalues
            .iter()
            .map(|z| Complex64::new(z.re, z.im))
            .collect();
        PyArray1::from_vec(py, v)
    }

    /// The spectrum figure `analyze` draws (the same kann-plot code): the eigenvalues in the
    /// complex plane with the unit circle, a zoom onto those with `|λ| > 0.99`, and their memory
    /// horizons τ(0.01) (Eq. 9). With `path` (ending in `.png`), writes it and the SVG beside it
    /// and returns the PNG's path; without, returns the PNG's bytes (e.g. for
    /// `IPython.display.Image`).
    #[pyo3(signature = (path = None, title = None))]
    fn plot_spectrum(
        &self,
        py: Python<'_>,
        path: Option<std::path::PathBuf>,
        title: Option<String>,
    ) -> PyResult<PyObject> {
        let eig: Vec<(f64, f64)> = self
            .spectrum
            .eigenvalues
            .iter()
            .map(|z| (z.re, z.im))
            .collect();
        let title = title.unwrap_or_else(|| {
            format!(
                "Koopman spectrum (rank {}, hidden {})",
                self.model.rank(),
                self.model.hidden()
            )
        });
        let target = plots::Target::new(path.as_deref(), "spectrum", &["png"])?;
        let drawn = py.allow_threads(|| {
            kann_plot::spectrum(
                &target.dir,
                &target.stem,
                &kann_plot::SpectrumFigure::new(&title, &eig),
            )
        });
        target.finish(py, drawn)
    }

    /// The medians ± MAD of `h` reconstructed from eigen-groups, one panel per group, over the
    /// median of `h` and of the original data: Fig. 2 as `analyze ecg` draws it (kann-plot
    /// `median_panels`, median / MAD by kann-koopman `median_mad_over_time`).
    ///
    /// `h`: states `[B, H]` (e.g. the last encoder states) or `[B, T, H]` (the last step is
    /// taken, as `analyze ecg` does). Per group `S` the latents are `h B |V_S U_S| Bᵀ` (Eq. 11,
    /// `kind="modulus"`) or `Re(h B V_S U_S) Bᵀ` (`kind="plain"`, sign-invariant), then
    /// `decode`d: `None` keeps them (curves over the H units), a float matrix `W [H, n]` maps
    /// them to `latents W`, a callable `f(latents [m, H]) -> [m, n]` is called once on all
    /// latents stacked (e.g. a PyTorch decoder). `groups`: `None` = the first four of
    /// `fit.groups`, or indices / lists of indices as in `project`. `original`: curves
    /// `[m', n]` (e.g. the input beats) whose median is drawn as `μ`; without it `μ` is the
    /// median of the decoded rank-r projection `h B Bᵀ`. The reconstruction `μ_r` is the
    /// median of `decode(h)`. Returns PNG bytes, or with `path` (`.png`) writes PNG + SVG and
    /// returns the PNG's path.
    #[pyo3(signature = (h, decode = None, groups = None, kind = "modulus", original = None,
        path = None, title = None, columns = 0, x_label = None, y_label = "amplitude"))]
    #[allow(clippy::too_many_arguments)]
    fn plot_reconstructions(
        &self,
        py: Python<'_>,
        h: &Bound<'_, PyAny>,
        decode: Option<&Bound<'_, PyAny>>,
        groups: Option<&Bound<'_, PyAny>>,
        kind: &str,
        original: Option<&Bound<'_, PyAny>>,
        path: Option<std::path::PathBuf>,
        title: Option<String>,
        columns: usize,
        x_label: Option<String>,
        y_label: &str,
    ) -> PyResult<PyObject> {
        let how = match kind {
            "modulus" => plots::Recon::Modulus,
            "plain" => plots::Recon::Plain,
            other => {
                return Err(PyValueError::new_err(format!(
                    "kind: expected \"modulus\" (Eq. 11) or \"plain\" (sign-invariant), got {other:?}"
                )));
            }
        };
        let k = self.model.hidden();
        let sets = match groups {
            Some(g) if !g.is_none() => read_groups(Some(g), &self.spectrum)?.0,
            _ => self.spectrum.groups().into_iter().take(4).collect(),
        };
        let (data, lead) = read_rows(h, k, "h")?;
        let (h_last, m) = match lead[..] {
            [m] if m > 0 => (data, m),
            [b, t] if b > 0 && t > 0 => {
                let mut last = Vec::with_capacity(b * k);
                for i in 0..b {
                    let row = i * t + t - 1;
                    last.extend_from_slice(&data[row * k..(row + 1) * k]);
                }
                (last, b)
            }
            _ => {
                let mut shape = lead.clone();
                shape.push(k);
                return Err(PyValueError::new_err(format!(
                    "h: expected states [B, H] = [B, {k}] or [B, T, H] = [B, T, {k}] with B, T >= 1, got shape {}",
                    shape_str(&shape)
                )));
            }
        };
        let decoded = decode.is_some_and(|d| !d.is_none());
        let mu = match original {
            Some(o) if !o.is_none() => Some(plots::read_curves(o, "original", None)?),
            _ => None,
        };
        let full = mu.is_none();
        let latents = py
            .allow_threads(|| {
                plots::stacked_latents(&h_last, m, k, &self.model, &self.spectrum, &sets, how, full)
            })
            .map_err(value_error)?;
        let rows = latents.len() / k;
        let (curves, n) = plots::decode(py, decode, latents, rows, k)?;
        if let Some((_, _, n0)) = &mu
            && *n0 != n
        {
            return Err(PyValueError::new_err(format!(
                "original: curves [m, {n0}] but the {} have {n} steps",
                if decoded {
                    "decoded latents"
                } else {
                    "latents (hidden size)"
                }
            )));
        }
        let block = m * n;
        let medians = py.allow_threads(|| -> PyResult<_> {
            let blocks: Vec<(Vec<f64>, Vec<f64>)> = curves
                .chunks(block)
                .map(|c| plots::median_mad(c, m, n))
                .collect::<PyResult<_>>()?;
            let original = match &mu {
                Some((d, mo, no)) => plots::median_mad(d, *mo, *no)?.0,
                None => blocks[1].0.clone(),
            };
            Ok((original, blocks))
        })?;
        let (mu_median, blocks) = medians;
        let skip = if full { 2 } else { 1 };
        let panels: Vec<(String, Vec<f64>, Vec<f64>)> = sets
            .iter()
            .zip(blocks.iter().skip(skip))
            .map(|(set, (med, mad))| {
                (
                    plots::panel_name(&self.spectrum, set),
                    med.clone(),
                    mad.clone(),
                )
            })
            .collect();
        let title = title.unwrap_or_else(|| {
            let (head, inner) = match how {
                plots::Recon::Modulus => ("Fig. 2, Eq. 11", "H B |V_J U_J| Bᵀ"),
                plots::Recon::Plain => ("Fig. 2 sign-invariant", "Re(H B V_J U_J) Bᵀ"),
            };
            if decoded {
                format!("{head}: F_dec({inner})")
            } else {
                format!("{head}: {inner}")
            }
        });
        let orig_name = match (&mu, decoded) {
            (Some(_), _) => "μ (original beats)".to_string(),
            (None, true) => format!("decoded h B Bᵀ (rank {})", self.model.rank()),
            (None, false) => format!("h B Bᵀ (rank {})", self.model.rank()),
        };
        let rec_name = if decoded {
            "μ_r (network reconstruction)"
        } else {
            "h (the states)"
        };
        let x_label = x_label.unwrap_or_else(|| if decoded { "t" } else { "hidden unit" }.into());
        let target = plots::Target::new(path.as_deref(), "reconstructions", &["png"])?;
        plots::draw_panels(
            py,
            target,
            &title,
            (&orig_name, &mu_median),
            (rec_name, &blocks[0].0),
            &panels,
            columns,
            &x_label,
            y_label,
        )
    }

    /// Memory horizon `τ_j(ε) = log ε / log |λ_j|` per eigenvalue (Eq. 9); `inf` where
    /// `|λ_j| ≥ 1 − unit_tol` is not below one (marginal or unstable modes).
    #[pyo3(signature = (eps = 0.01, unit_tol = 0.0))]
    fn memory_horizon<'py>(
        &self,
        py: Python<'py>,
        eps: f64,
        unit_tol: f64,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        if !(eps > 0.0 && eps < 1.0) {
            return Err(PyValueError::new_err(format!(
                "eps: must lie in (0, 1), got {eps}"
            )));
        }
        let mut out = Vec::with_capacity(self.spectrum.eigenvalues.len());
        for &z in &self.spectrum.eigenvalues {
            let h = memory_horizon(z, eps, unit_tol).map_err(value_error)?;
            out.push(h.tau.unwrap_or(f64::INFINITY));
        }
        Ok(PyArray1::from_vec(py, out))
    }

    /// `e_rel` (Eq. 12) of the one-step prediction on the real steps of the states the fit was
    /// scored on; `None` for a fit from an accumulator that was not scored (see `score`).
    #[getter]
    fn relative_error(&self) -> Option<f64> {
        self.e_rel
    }

    /// Resampling intervals of the spectrum (`kann.SpectrumIntervals`, aligned with
    /// `eigenvalues`) when the fit was made with `kann.fit(..., bootstrap=N)`, `N > 0`; `None`
    /// otherwise.
    #[getter]
    fn intervals(&self) -> Option<PySpectrumIntervals> {
        self.intervals.clone()
    }

    /// Basis `B` [H, r] (Eq. 5): the top right singular vectors of the states, each column's
    /// largest entry positive.
    #[getter]
    fn basis<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        mat(py, self.model.basis.as_ref())
    }

    /// Koopman operator `C` [r, r] (Eq. 4), acting on row coefficients: `h~_{t+1} ≈ h~_t C`.
    #[getter]
    fn operator<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        mat(py, self.model.koopman_operator.as_ref())
    }

    /// Right eigenvectors `V` [r, r] (complex128) of `C`, columns in eigenvalue order.
    #[getter]
    fn eigenvectors<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<Complex64>> {
        let v = &self.spectrum.v;
        numpy::ndarray::Array2::from_shape_fn((v.nrows(), v.ncols()), |(i, j)| {
            Complex64::new(v[(i, j)].re, v[(i, j)].im)
        })
        .into_pyarray(py)
    }

    /// Singular values of the states the basis came from (descending, `[H]`).
    #[getter]
    fn singular_values<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_vec(py, self.model.singular_values.clone())
    }

    /// Residual `‖(Y~ − λX~)v‖ / ‖X~v‖` of every eigenpair on the fitted pairs (residual DMD).
    #[getter]
    fn residuals<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_vec(py, self.spectrum.residuals.clone())
    }

    /// The eigen-groups (0-based): each real eigenvector alone, each conjugate pair together;
    /// the paper's `U_12` is `groups[0]` when `λ_1, λ_2` are a pair.
    #[getter]
    fn groups(&self) -> Vec<Vec<usize>> {
        self.spectrum.groups()
    }

    /// Rank `r` of the fit.
    #[getter]
    fn rank(&self) -> usize {
        self.model.rank()
    }

    /// Hidden size `H`.
    #[getter]
    fn hidden(&self) -> usize {
        self.model.hidden()
    }

    /// Condition number of the system solved for `C`.
    #[getter]
    fn condition(&self) -> f64 {
        self.model.condition
    }

    /// Number of states the basis was fitted on.
    #[getter]
    fn num_states(&self) -> usize {
        self.model.num_states
    }

    /// Number of pairs `(h_t, h_{t+1})` the operator was fitted on.
    #[getter]
    fn num_pairs(&self) -> usize {
        self.model.num_pairs
    }

    /// Warnings of the fit (clamped rank, ill conditioning, fallback to SVD + QR).
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.model.warnings.clone()
    }

    /// Which steps the fit used: `"real"` or `"all"` (padding included).
    #[getter]
    fn fit_steps(&self) -> String {
        self.fit_steps.to_string()
    }

    /// Arithmetic of the products over the states: `"f64"` or `"mixed"`.
    #[getter]
    fn precision(&self) -> String {
        self.model.precision.to_string()
    }

    /// Prediction `steps` steps ahead of every state in `h` [..., H] (float32/float64):
    /// `h B C^steps Bᵀ` (Eq. 6 for `steps = 1`). Returns float64 of the shape of `h`.
    #[pyo3(signature = (h, steps = 1))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        h: &Bound<'py, PyAny>,
        steps: usize,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        if steps == 0 {
            return Err(PyValueError::new_err("steps: must be at least 1, got 0"));
        }
        let k = self.model.hidden();
        let (data, mut shape) = read_rows(h, k, "h")?;
        let out = py.allow_threads(|| {
            let m = data.len() / k;
            let x = MatRef::from_row_major_slice(&data, m, k);
            let p = x * self.model.multi_step_map(steps).as_ref();
            row_major(p.as_ref())
        });
        shape.push(k);
        Ok(ArrayD::from_shape_vec(IxDyn(&shape), out)
            .map_err(value_error)?
            .into_pyarray(py))
    }

    /// Projections of the states `h` [..., H] on eigen-groups (0-based eigenvector indices; a
    /// conjugate pair should stay together). `groups`: one index, one list (one group) or a list
    /// of lists (several); `None` = every group of `self.groups`. `kind`:
    ///
    /// - `"plain"`: `Re(h B V_S U_S) Bᵀ` [..., H], the state projected on the group (Eq. 11
    ///   without the modulus; independent of the basis signs);
    /// - `"modulus"`: `h B |V_S U_S| Bᵀ` [..., H] (Eq. 11, element-wise modulus);
    /// - `"coordinates"`: `ĥ_S = (h B V)_S` [..., |S|] complex (Eq. 7);
    /// - `"magnitude"`: `|ĥ_S|` [..., |S|] (Eq. 10).
    ///
    /// Returns one array for one group, a list of arrays (one per group) otherwise.
    #[pyo3(signature = (h, groups = None, kind = "plain"))]
    fn project<'py>(
        &self,
        py: Python<'py>,
        h: &Bound<'py, PyAny>,
        groups: Option<&Bound<'py, PyAny>>,
        kind: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = self.model.hidden();
        if !matches!(kind, "plain" | "modulus" | "coordinates" | "magnitude") {
            return Err(PyValueError::new_err(format!(
                "kind: expected \"plain\", \"modulus\", \"coordinates\" or \"magnitude\", got {kind:?}"
            )));
        }
        let (sets, single) = read_groups(groups, &self.spectrum)?;
        let (data, lead) = read_rows(h, k, "h")?;
        let m = data.len() / k;
        enum Out {
            Real(Vec<f64>, usize),
            Complex(Vec<Complex64>, usize),
        }
        let results: kann_koopman::Result<Vec<Out>> = py.allow_threads(|| {
            let x = MatRef::from_row_major_slice(&data, m, k);
            let coords = if matches!(kind, "coordinates" | "magnitude") {
                Some(eigen_coordinates(x, &self.model, &self.spectrum)?)
            } else {
                None
            };
            sets.iter()
                .map(|set| {
                    Ok(match kind {
                        "plain" => Out::Real(
                            row_major(project_onto(x, &self.model, &self.spectrum, set)?.as_ref()),
                            k,
                        ),
                        "modulus" => Out::Real(
                            row_major(
                                reconstruct_modulus(x, &self.model, &self.spectrum, set)?.as_ref(),
                            ),
                            k,
                        ),
                        _ => {
                            let c = coords.as_ref().expect("computed above");
                            let mut re = Vec::with_capacity(m * set.len());
                            let mut cx = Vec::with_capacity(m * set.len());
                            for i in 0..m {
                                for &j in set {
                                    let z = c[(i, j)];
                                    re.push(z.norm());
                                    cx.push(Complex64::new(z.re, z.im));
                                }
                            }
                            if kind == "magnitude" {
                                Out::Real(re, set.len())
                            } else {
                                Out::Complex(cx, set.len())
                            }
                        }
                    })
                })
                .collect()
        });
        let results = results.map_err(value_error)?;
        let mut arrays = Vec::with_capacity(results.len());
        for out in results {
            let arr: Bound<'py, PyAny> = match out {
                Out::Real(v, w) => {
                    let mut shape = lead.clone();
                    shape.push(w);
                    ArrayD::from_shape_vec(IxDyn(&shape), v)
                        .map_err(value_error)?
                        .into_pyarray(py)
                        .into_any()
                }
                Out::Complex(v, w) => {
                    let mut shape = lead.clone();
                    shape.push(w);
                    ArrayD::from_shape_vec(IxDyn(&shape), v)
                        .map_err(value_error)?
                        .into_pyarray(py)
                        .into_any()
                }
            };
            arrays.push(arr);
        }
        if single {
            Ok(arrays.pop().expect("one group"))
        } else {
            Ok(PyList::new(py, arrays)?.into_any())
        }
    }

    /// `e_rel` (Eq. 12) of this fit's one-step prediction on other `states` (e.g. a test set),
    /// on their real steps. Same arguments as `kann.fit`.
    #[pyo3(signature = (states, lengths = None, layout = "bth"))]
    fn score(
        &self,
        py: Python<'_>,
        states: &Bound<'_, PyAny>,
        lengths: Option<&Bound<'_, PyAny>>,
        layout: &str,
    ) -> PyResult<f64> {
        let (sum, count, _) = self.error_sums(py, states, lengths, layout)?;
        if count == 0 {
            return Err(PyValueError::new_err(
                "states: no admissible target (valid step with a valid predecessor and |h| > 0)",
            ));
        }
        Ok(sum / count as f64)
    }

    /// Partial sums `(Σ ratio, targets, zero-norm targets skipped)` of `e_rel` (Eq. 12) on
    /// `states`: add them over chunks, then `e_rel = Σ ratio / targets` (the distributed pass).
    #[pyo3(signature = (states, lengths = None, layout = "bth"))]
    fn error_sums(
        &self,
        py: Python<'_>,
        states: &Bound<'_, PyAny>,
        lengths: Option<&Bound<'_, PyAny>>,
        layout: &str,
    ) -> PyResult<(f64, usize, usize)> {
        let layout = parse_layout(layout)?;
        let a = borrow_states(states, layout)?;
        let shape = a.shape();
        let (b, n, k) = bth(&shape, layout);
        if k != self.model.hidden() {
            return Err(PyValueError::new_err(format!(
                "states: hidden size {k} (shape {}) does not match the fit's H = {}",
                shape_str(&shape),
                self.model.hidden()
            )));
        }
        let lengths = read_lengths(py, lengths, b, n)?;
        let view = a.view(layout);
        let r = py.allow_threads(|| {
            let mut err = RelativeErrorAccumulator::new(&self.model);
            feed(&mut err, &view, lengths.as_deref())?;
            Ok::<_, KoopmanError>(err.sums())
        });
        r.map_err(|e| states_error("states", &shape, layout, e))
    }

    /// A copy of this fit with `relative_error` set (e.g. from summed `error_sums`).
    fn with_relative_error(&self, e_rel: f64) -> Fit {
        Fit {
            model: self.model.clone(),
            spectrum: self.spectrum.clone(),
            e_rel: Some(e_rel),
            fit_steps: self.fit_steps,
            intervals: self.intervals.clone(),
        }
    }

    /// Everything needed to rebuild the fit, as a dict of numpy arrays and plain values (the
    /// spectrum is recomputed from `C`, bit for bit).
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let m = &self.model;
        let g = &m.coefficient_grams;
        d.set_item("format", "kann.fit")?;
        d.set_item("version", 1)?;
        d.set_item("basis", mat(py, m.basis.as_ref()))?;
        d.set_item("operator", mat(py, m.koopman_operator.as_ref()))?;
        d.set_item("readout", mat(py, m.readout.as_ref()))?;
        d.set_item("a0", mat(py, g.a0.as_ref()))?;
        d.set_item("a01", mat(py, g.a01.as_ref()))?;
        d.set_item("a1", mat(py, g.a1.as_ref()))?;
        d.set_item(
            "singular_values",
            PyArray1::from_vec(py, m.singular_values.clone()),
        )?;
        d.set_item("estimator", estimator_name(m.estimator))?;
        if let Estimator::Ridge { alpha } = m.estimator {
            d.set_item("ridge_alpha", alpha)?;
        }
        d.set_item(
            "method",
            match m.method {
                FitMethod::Gram => "gram",
                FitMethod::DirectLstsq => "direct",
                FitMethod::Tsqr => "tsqr",
            },
        )?;
        d.set_item("condition", m.condition)?;
        d.set_item("num_states", m.num_states)?;
        d.set_item("num_pairs", m.num_pairs)?;
        d.set_item("warnings", m.warnings.clone())?;
        d.set_item("precision", m.precision.to_string())?;
        d.set_item("relative_error", self.e_rel)?;
        d.set_item("fit_steps", self.fit_steps.to_string())?;
        let intervals = self.intervals.as_ref().map(|i| i.to_dict(py)).transpose()?;
        d.set_item("intervals", intervals)?;
        Ok(d)
    }

    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyDict>,))> {
        let f = py.import("kann._kann")?.getattr("_fit_from_state")?;
        Ok((f, (self.state(py)?,)))
    }

    fn __repr__(&self) -> String {
        format!(
            "kann.Fit(rank={}, hidden={}, |λ|max={:.4}, relative_error={})",
            self.model.rank(),
            self.model.hidden(),
            self.spectrum
                .eigenvalues
                .first()
                .map(|z| z.norm())
                .unwrap_or(f64::NAN),
            self.e_rel
                .map(|e| format!("{e:.4e}"))
                .unwrap_or_else(|| "None".into())
        )
    }
}

fn row_major(m: MatRef<'_, f64>) -> Vec<f64> {
    let mut v = Vec::with_capacity(m.nrows() * m.ncols());
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            v.push(m[(i, j)]);
        }
    }
    v
}

fn dict_mat(d: &Bound<'_, PyDict>, key: &str, rows: usize, cols: usize) -> PyResult<Mat<f64>> {
    let v = d
        .get_item(key)?
        .ok_or_else(|| PyValueError::new_err(format!("state: missing {key:?}")))?;
    let a = v
        .extract::<PyReadonlyArrayDyn<'_, f64>>()
        .map_err(|_| PyTypeError::new_err(format!("state: {key:?} is not a float64 array")))?;
    let shape = a.shape().to_vec();
    if shape != [rows, cols] {
        return Err(PyValueError::new_err(format!(
            "state: {key:?} has shape {}, expected ({rows}, {cols})",
            shape_str(&shape)
        )));
    }
    let a = a.as_array();
    Ok(Mat::from_fn(rows, cols, |i, j| a[[i, j]]))
}

fn dict_get<'py, T: FromPyObject<'py>>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<T> {
    d.get_item(key)?
        .ok_or_else(|| PyValueError::new_err(format!("state: missing {key:?}")))?
        .extract()
}

/// Rebuilds a [`Fit`] from [`Fit::state`] (pickle and `kann.load`).
#[pyfunction]
fn _fit_from_state(py: Python<'_>, state: &Bound<'_, PyDict>) -> PyResult<Fit> {
    check_format(state, "kann.fit")?;
    let basis_any = state
        .get_item("basis")?
        .ok_or_else(|| PyValueError::new_err("state: missing \"basis\""))?;
    let shape: Vec<usize> = basis_any.getattr("shape")?.extract()?;
    if shape.len() != 2 {
        return Err(PyValueError::new_err("state: basis must be 2-d [H, r]"));
    }
    let (k, r) = (shape[0], shape[1]);
    let sv: Vec<f64> = dict_get(state, "singular_values")?;
    let estimator: String = dict_get(state, "estimator")?;
    let alpha: Option<f64> = state
        .get_item("ridge_alpha")?
        .map(|a| a.extract())
        .transpose()?;
    let method: String = dict_get(state, "method")?;
    let precision: String = dict_get(state, "precision")?;
    let fit_steps: String = dict_get(state, "fit_steps")?;
    let model = KoopmanModel {
        basis: dict_mat(state, "basis", k, r)?,
        koopman_operator: dict_mat(state, "operator", r, r)?,
        readout: dict_mat(state, "readout", r, k)?,
        singular_values: sv,
        estimator: parse_estimator(&estimator, alpha)?,
        method: match method.as_str() {
            "gram" => FitMethod::Gram,
            "direct" => FitMethod::DirectLstsq,
            "tsqr" => FitMethod::Tsqr,
            other => {
                return Err(PyValueError::new_err(format!(
                    "state: unknown method {other:?}"
                )));
            }
        },
        coefficient_grams: kann_koopman::CoefficientGrams {
            a0: dict_mat(state, "a0", r, r)?,
            a01: dict_mat(state, "a01", r, r)?,
            a1: dict_mat(state, "a1", r, r)?,
        },
        condition: dict_get(state, "condition")?,
        num_states: dict_get(state, "num_states")?,
        num_pairs: dict_get(state, "num_pairs")?,
        warnings: dict_get(state, "warnings")?,
        precision: parse_precision(&precision)?,
    };
    let e_rel: Option<f64> = dict_get(state, "relative_error")?;
    let fit_steps = parse_fit_steps(&fit_steps)?;
    let spectrum = py
        .allow_threads(|| Spectrum::new(&model))
        .map_err(value_error)?;
    // Absent from folders saved before the intervals existed.
    let intervals = match state.get_item("intervals")? {
        Some(d) if !d.is_none() => Some(intervals::from_dict(d.downcast::<PyDict>()?)?),
        _ => None,
    };
    Ok(Fit {
        model,
        spectrum,
        e_rel,
        fit_steps,
        intervals,
    })
}

/// Fits the Koopman operator (Sec. 3.2, Eqs. 4-5) to `states` and scores it (`e_rel`, Eq. 12).
///
/// - `states`: float32/float64 numpy array `[B, T, H]` (`layout="bth"`) or `[T, B, H]`
///   (`layout="tbh"`); a C-contiguous `[B, T, H]` array is read in place, any other in chunks.
/// - `lengths`: valid steps per sequence, an int array `[B]` or a 0/1 prefix mask `[B, T]`;
///   `None` = every step is valid.
/// - `rank`: `None` = `min(pairs, H) − 1` (the reference default), an int `r`, or a float in
///   (0, 1] = the fewest basis vectors holding that fraction of the energy.
/// - `fit_steps`: `"real"` fits on the valid steps only, `"all"` on the padded batch as it is
///   (the paper's reference pipeline); `e_rel` is always scored on the real steps.
/// - `precision`: `"f64"` or `"mixed"` (`f32` products summed in `f64`).
/// - `bootstrap`: `N > 0` resamples the sequences `N` times and attaches the intervals of the
///   spectrum as `Fit.intervals` (a `SpectrumIntervals`; the point estimates are those of
///   `bootstrap=0`); `0` (default) skips it. Needs at least 2 sequences. `seed` (int >= 0),
///   `level` (two-sided, in (0, 1)) and `scheme` (`"bootstrap"`: sequences with replacement;
///   `"subsample"`: half of them without) as `analyze states --bootstrap N`. Costs one more pass
///   over the states and `N` small refits from per-sequence Grams (`4 H²` floats per sequence).
///
/// The GIL is released while Rust computes.
#[pyfunction]
#[pyo3(signature = (states, lengths = None, rank = None, fit_steps = "real", layout = "bth",
    precision = "f64", *, bootstrap = None, seed = None, level = 0.95, scheme = "bootstrap"),
    text_signature = "(states, lengths=None, rank=None, fit_steps='real', layout='bth', precision='f64', *, bootstrap=0, seed=0, level=0.95, scheme='bootstrap')")]
#[allow(clippy::too_many_arguments)]
fn fit(
    py: Python<'_>,
    states: &Bound<'_, PyAny>,
    lengths: Option<&Bound<'_, PyAny>>,
    rank: Option<&Bound<'_, PyAny>>,
    fit_steps: &str,
    layout: &str,
    precision: &str,
    bootstrap: Option<&Bound<'_, PyAny>>,
    seed: Option<&Bound<'_, PyAny>>,
    level: f64,
    scheme: &str,
) -> PyResult<Fit> {
    let zero = 0u64.into_pyobject(py)?.into_any();
    let boot = intervals::parse_options(
        bootstrap.unwrap_or(&zero),
        seed.unwrap_or(&zero),
        level,
        scheme,
    )?;
    let layout = parse_layout(layout)?;
    let fit_steps = parse_fit_steps(fit_steps)?;
    let options = FitOptions {
        rank: parse_rank(rank)?,
        precision: parse_precision(precision)?,
        ..FitOptions::default()
    };
    let a = borrow_states(states, layout)?;
    let shape = a.shape();
    let (b, n, k) = bth(&shape, layout);
    if let Rank::Fixed(r) = options.rank
        && r > k
    {
        return Err(PyValueError::new_err(format!(
            "rank: {r} is out of range 1..={k} for states of shape {}",
            shape_str(&shape)
        )));
    }
    if boot.is_some() && b < 2 {
        return Err(PyValueError::new_err(format!(
            "bootstrap: resampling draws whole sequences and needs at least 2, states of shape {} have {b} (split one long sequence into several of equal length, or bootstrap=0)",
            shape_str(&shape)
        )));
    }
    let lengths = read_lengths(py, lengths, b, n)?;
    let view = a.view(layout);
    py.allow_threads(|| {
        let mut fit = fit_view(&view, lengths.as_deref(), &options, fit_steps)?;
        if let Some(boot) = &boot {
            let used = FitOptions {
                precision: fit.model.precision,
                ..options
            };
            resample_view(&view, lengths.as_deref(), &used, boot, &mut fit)?;
        }
        Ok(fit)
    })
    .map_err(|e| states_error("states", &shape, layout, e))
}

/// A Python accumulator class `$name` around the [`Accumulator`] `$inner`: the struct and one
/// `#[pymethods]` block with the class's own methods (`$own`: constructor, `state`, ...) and the
/// methods every accumulator shares (push, merge, fit, the counts, pickling via `$from_state`).
macro_rules! accumulator_class {
    (
        $(#[$doc:meta])*
        $class:ident, $name:literal, $inner:ty, $from_state:literal;
        $($own:tt)*
    ) => {
        $(#[$doc])*
        #[pyclass(module = "kann._kann", name = $name)]
        pub struct $class {
            inner: $inner,
        }

        #[pymethods]
        impl $class {
            $($own)*

            /// Adds every valid state and pair of `chunk` (`[B, T, H]` or `[T, B, H]` with
            /// `layout="tbh"`, float32/float64, read in place when C-contiguous `[B, T, H]`) with
            /// optional `lengths` (int `[B]` or 0/1 mask `[B, T]`). A chunk with a bad value adds
            /// nothing.
            #[pyo3(signature = (chunk, lengths = None, layout = "bth"))]
            fn push(
                &mut self,
                py: Python<'_>,
                chunk: &Bound<'_, PyAny>,
                lengths: Option<&Bound<'_, PyAny>>,
                layout: &str,
            ) -> PyResult<()> {
                push_chunk(&mut self.inner, py, chunk, lengths, layout)
            }

            /// Adds everything `other` (an accumulator of this class, same `dim` and precision)
            /// accumulated.
            fn merge(&mut self, other: &Bound<'_, $class>) -> PyResult<()> {
                let other = other.borrow();
                self.inner
                    .merge(&other.inner)
                    .map_err(|e| PyValueError::new_err(format!("other: {e}")))
            }

            /// Fits the model from what was accumulated (Eqs. 4-5); `rank` as in `kann.fit`;
            /// `fit_steps` says which steps were pushed (`"real"` or `"all"`), kept with the fit.
            /// The fit's `relative_error` is `None`: score it with `Fit.score` /
            /// `Fit.error_sums`.
            #[pyo3(signature = (rank = None, fit_steps = "real"))]
            fn fit(
                &self,
                py: Python<'_>,
                rank: Option<&Bound<'_, PyAny>>,
                fit_steps: &str,
            ) -> PyResult<Fit> {
                fit_partial(&self.inner, py, rank, fit_steps)
            }

            /// Hidden size `H`.
            #[getter]
            fn dim(&self) -> usize {
                self.inner.hidden()
            }

            /// Number of sequences pushed.
            #[getter]
            fn num_sequences(&self) -> usize {
                self.inner.num_sequences()
            }

            /// Number of valid states pushed.
            #[getter]
            fn num_states(&self) -> usize {
                self.inner.num_states()
            }

            /// Arithmetic of the products: `"f64"` or `"mixed"`.
            #[getter]
            fn precision(&self) -> String {
                Accumulator::precision(&self.inner).to_string()
            }

            fn __reduce__<'py>(
                &self,
                py: Python<'py>,
            ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyDict>,))> {
                let f = py.import("kann._kann")?.getattr($from_state)?;
                Ok((f, (self.state(py)?,)))
            }

            fn __repr__(&self) -> String {
                format!(
                    "kann.{}(dim={}, sequences={}, states={}, precision={:?})",
                    $name,
                    self.inner.hidden(),
                    self.inner.num_sequences(),
                    self.inner.num_states(),
                    Accumulator::precision(&self.inner).to_string()
                )
            }
        }
    };
}

accumulator_class! {
    /// Streaming, mergeable accumulator of the Gram matrices of the fit (`G`, `XᵀY` and the
    /// boundary terms; `O(H²)` memory whatever the number of states). `push` chunks of sequences,
    /// `merge` accumulators of other chunks (e.g. from other processes: it pickles), then `fit`.
    PyGramAccumulator, "GramAccumulator", GramAccumulator, "_gram_from_state";

    /// A fresh accumulator for states of hidden size `dim`; `precision` `"f64"` or `"mixed"`.
    #[new]
    #[pyo3(signature = (dim, precision = "f64"))]
    fn new(dim: usize, precision: &str) -> PyResult<Self> {
        Ok(PyGramAccumulator {
            inner: GramAccumulator::with_precision(check_dim(dim)?, parse_precision(precision)?),
        })
    }

    /// The complete state as a dict of float64 arrays `[H, H]` and counts.
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let p = self.inner.to_parts();
        let k = p.hidden;
        let d = PyDict::new(py);
        let sq = |v: Vec<f64>| square(py, v, k);
        d.set_item("format", "kann.gram")?;
        d.set_item("version", 1)?;
        d.set_item("hidden", k)?;
        d.set_item("precision", p.precision.to_string())?;
        d.set_item("g_lower", sq(p.g_lower)?)?;
        d.set_item("g01", sq(p.g01)?)?;
        d.set_item("first", sq(p.first)?)?;
        d.set_item("last", sq(p.last)?)?;
        d.set_item("num_states", p.num_states)?;
        d.set_item("num_pairs", p.num_pairs)?;
        d.set_item("num_sequences", p.num_sequences)?;
        Ok(d)
    }
}

/// Rebuilds a `GramAccumulator` from its `state()` (pickle and `kann.load`).
#[pyfunction]
fn _gram_from_state(state: &Bound<'_, PyDict>) -> PyResult<PyGramAccumulator> {
    check_format(state, "kann.gram")?;
    let k: usize = dict_get(state, "hidden")?;
    let flat = |key: &str| dict_square(state, key, k);
    let precision: String = dict_get(state, "precision")?;
    let parts = GramParts {
        hidden: k,
        precision: parse_precision(&precision)?,
        g_lower: flat("g_lower")?,
        g01: flat("g01")?,
        first: flat("first")?,
        last: flat("last")?,
        num_states: dict_get(state, "num_states")?,
        num_pairs: dict_get(state, "num_pairs")?,
        num_sequences: dict_get(state, "num_sequences")?,
    };
    Ok(PyGramAccumulator {
        inner: GramAccumulator::from_parts(&parts).map_err(value_error)?,
    })
}

accumulator_class! {
    /// Streaming, mergeable accumulator of the R factors of the fit (TSQR): `R` of `[X | Y]`
    /// (`2H × 2H`) and `R_L` of the sequences' last states (`H × H`), merged by a QR of the
    /// stacked factors. The same estimator as `GramAccumulator` without squaring the condition
    /// number of the states (`kann_koopman::tsqr` says when each is right); always `f64`.
    /// Pickles.
    PyTsqrAccumulator, "TsqrAccumulator", TsqrAccumulator, "_tsqr_from_state";

    /// A fresh accumulator for states of hidden size `dim`.
    #[new]
    fn new(dim: usize) -> PyResult<Self> {
        Ok(PyTsqrAccumulator {
            inner: TsqrAccumulator::new(check_dim(dim)?),
        })
    }

    /// Number of pairs pushed.
    #[getter]
    fn num_pairs(&self) -> usize {
        self.inner.num_pairs()
    }

    /// The complete state: `r` float64 `[2H, 2H]`, `r_last` `[H, H]` (upper triangular) and
    /// counts.
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let p = self.inner.to_parts();
        let k = p.hidden;
        let d = PyDict::new(py);
        d.set_item("format", "kann.tsqr")?;
        d.set_item("version", 1)?;
        d.set_item("hidden", k)?;
        d.set_item("r", square(py, p.r, 2 * k)?)?;
        d.set_item("r_last", square(py, p.r_last, k)?)?;
        d.set_item("num_states", p.num_states)?;
        d.set_item("num_pairs", p.num_pairs)?;
        d.set_item("num_sequences", p.num_sequences)?;
        Ok(d)
    }
}

/// Rebuilds a `TsqrAccumulator` from its `state()` (pickle and `kann.load`).
#[pyfunction]
fn _tsqr_from_state(state: &Bound<'_, PyDict>) -> PyResult<PyTsqrAccumulator> {
    check_format(state, "kann.tsqr")?;
    let k: usize = dict_get(state, "hidden")?;
    let parts = TsqrParts {
        hidden: k,
        r: dict_square(state, "r", 2 * k)?,
        r_last: dict_square(state, "r_last", k)?,
        num_states: dict_get(state, "num_states")?,
        num_pairs: dict_get(state, "num_pairs")?,
        num_sequences: dict_get(state, "num_sequences")?,
    };
    Ok(PyTsqrAccumulator {
        inner: TsqrAccumulator::from_parts(&parts).map_err(value_error)?,
    })
}

/// The native module `kann._kann`.
#[pymodule]
fn _kann(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Fit>()?;
    m.add_class::<PyGramAccumulator>()?;
    m.add_class::<PyTsqrAccumulator>()?;
    m.add_class::<PySpectrumIntervals>()?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(_fit_from_state, m)?)?;
    m.add_function(wrap_pyfunction!(_gram_from_state, m)?)?;
    m.add_function(wrap_pyfunction!(_tsqr_from_state, m)?)?;
    m.add_function(wrap_pyfunction!(intervals::_intervals_from_dict, m)?)?;
    m.add_function(wrap_pyfunction!(plots::plot_word_highlights, m)?)?;
    m.add_function(wrap_pyfunction!(plots::plot_medians, m)?)?;
    m.add_function(wrap_pyfunction!(plots::median_mad_py, m)?)?;
    m.add("CHUNK_BYTES", CHUNK_BYTES)?;
    Ok(())
}
