//! Resampling intervals of a fit's spectrum (issue #23): the arguments `bootstrap`, `seed`,
//! `level`, `scheme` of `kann.fit` and the `SpectrumIntervals` object it attaches as
//! `Fit.intervals`. The numerics are `kann_koopman::bootstrap_intervals` (per-sequence Grams,
//! reweighted refits at the fit's rank, minimum-cost matching), the same as
//! `analyze states --bootstrap N`.

use kann_koopman::{BootstrapOptions, BootstrapSummary, EigenCi, FitIntervals, Scheme};
use numpy::{PyArray1, PyArray2};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList};

/// A non-negative Python int (not a bool) named `name`.
fn non_negative(value: &Bound<'_, PyAny>, name: &str) -> PyResult<u64> {
    if value.is_instance_of::<PyBool>() || !value.is_instance_of::<pyo3::types::PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{name}: expected an int, got {}",
            value.get_type().name()?
        )));
    }
    value.extract::<u64>().map_err(|_| {
        PyValueError::new_err(format!(
            "{name}: must be an int >= 0 (and < 2**64), got {value}"
        ))
    })
}

fn parse_scheme(scheme: &str) -> PyResult<Scheme> {
    match scheme {
        "bootstrap" => Ok(Scheme::Bootstrap),
        "subsample" => Ok(Scheme::Subsample),
        other => Err(PyValueError::new_err(format!(
            "scheme: expected \"bootstrap\" (sequences with replacement) or \"subsample\" (half of them without), got {other:?}"
        ))),
    }
}

/// The resampling options of `kann.fit`'s arguments; `None` for `bootstrap=0`. Every argument is
/// checked either way, so that a typo does not pass silently.
pub fn parse_options(
    bootstrap: &Bound<'_, PyAny>,
    seed: &Bound<'_, PyAny>,
    level: f64,
    scheme: &str,
) -> PyResult<Option<BootstrapOptions>> {
    let replicates = non_negative(bootstrap, "bootstrap")?;
    let seed = non_negative(seed, "seed")?;
    if !(level > 0.0 && level < 1.0) {
        return Err(PyValueError::new_err(format!(
            "level: must lie in (0, 1), got {level}"
        )));
    }
    let scheme = parse_scheme(scheme)?;
    Ok((replicates > 0).then(|| BootstrapOptions {
        scheme,
        replicates: replicates as usize,
        seed,
        level,
        ..BootstrapOptions::default()
    }))
}

/// Percentile intervals of the spectrum of a fit over resampled sequences (issue #23), aligned
/// with `Fit.eigenvalues`: entry `j` of every array is eigenvalue `j`'s.
///
/// Each replicate draws weights over the sequences (`scheme`), refits basis, operator and
/// spectrum from reweighted per-sequence Grams at the fit's rank, and assigns its eigenvalues to
/// the fit's one-to-one by minimum total distance. The intervals are the sampling spread over
/// sequences only: the fit's own bias (finite rank, the estimator on finite sequences) is the
/// same in every replicate and not inside them (docs/error-bars.md).
#[pyclass(module = "kann._kann", name = "SpectrumIntervals", frozen)]
#[derive(Clone)]
pub struct PySpectrumIntervals {
    inner: FitIntervals,
}

impl PySpectrumIntervals {
    /// Wraps intervals computed by `kann_koopman::bootstrap_intervals`.
    pub fn new(inner: FitIntervals) -> Self {
        PySpectrumIntervals { inner }
    }

    fn pairs<'py>(
        &self,
        py: Python<'py>,
        f: impl Fn(&EigenCi) -> [f64; 2],
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let v: Vec<Vec<f64>> = self.inner.eigen.iter().map(|e| f(e).to_vec()).collect();
        if v.is_empty() {
            return Ok(PyArray2::zeros(py, [0, 2], false));
        }
        Ok(PyArray2::from_vec2(py, &v)?)
    }
}

fn or_nan(x: Option<f64>) -> f64 {
    x.unwrap_or(f64::NAN)
}

/// An interval `[low, high]` of a dict as two floats.
fn pair(d: &Bound<'_, PyDict>, key: &str) -> PyResult<[f64; 2]> {
    let v: [Option<f64>; 2] = get(d, key)?;
    Ok([or_nan(v[0]), or_nan(v[1])])
}

fn get<'py, T: FromPyObject<'py>>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<T> {
    d.get_item(key)?
        .ok_or_else(|| PyValueError::new_err(format!("intervals: missing {key:?}")))?
        .extract()
        .map_err(|e| PyValueError::new_err(format!("intervals: {key:?}: {e}")))
}

#[pymethods]
impl PySpectrumIntervals {
    /// Interval `[low, high]` of `|λ_j|`, float64 `[r, 2]`.
    #[getter]
    fn modulus_ci<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        self.pairs(py, |e| e.modulus_ci)
    }

    /// Interval of the memory horizon `τ_j(ε)` (Eq. 9, `ε = 0.01`), float64 `[r, 2]`; `inf` at
    /// an end where `τ` is infinite (`|λ| ≥ 1`).
    #[getter]
    fn tau_ci<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        self.pairs(py, |e| e.tau_ci.map(|x| x.unwrap_or(f64::INFINITY)))
    }

    /// The λ region, real part: interval of `Re λ_j`, float64 `[r, 2]` (with `im_ci`, a box).
    #[getter]
    fn re_ci<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        self.pairs(py, |e| e.re_ci)
    }

    /// The λ region, imaginary part: interval of `Im λ_j`, float64 `[r, 2]`.
    #[getter]
    fn im_ci<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        self.pairs(py, |e| e.im_ci)
    }

    /// Fraction of replicates whose matched eigenvalue lies within `match_radius` of `λ_j`,
    /// float64 `[r]`.
    #[getter]
    fn match_fraction<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_iter(py, self.inner.eigen.iter().map(|e| e.match_fraction))
    }

    /// For a complex `λ_j`: fraction of replicates in which its match is complex and its
    /// partner's match is its conjugate; `nan` for a real `λ_j`. Float64 `[r]`.
    #[getter]
    fn pair_fraction<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_iter(py, self.inner.eigen.iter().map(|e| or_nan(e.pair_fraction)))
    }

    /// `"bootstrap"` (sequences drawn with replacement) or `"subsample"` (half of them without,
    /// deviations scaled by `√(m / (s − m))`).
    #[getter]
    fn scheme(&self) -> String {
        self.inner.summary.scheme.to_string()
    }

    /// Replicates asked for (those that failed are left out of the intervals; see `failed`).
    #[getter]
    fn replicates(&self) -> usize {
        self.inner.summary.replicates
    }

    /// Replicates whose refit failed.
    #[getter]
    fn failed(&self) -> usize {
        self.inner.summary.failed
    }

    /// Two-sided level of the percentile intervals.
    #[getter]
    fn level(&self) -> f64 {
        self.inner.summary.level
    }

    /// Seed of the replicates' weights (ChaCha8, one stream per replicate: the result does not
    /// depend on the thread count).
    #[getter]
    fn seed(&self) -> u64 {
        self.inner.summary.seed
    }

    /// Sequences resampled.
    #[getter]
    fn sequences(&self) -> usize {
        self.inner.summary.sequences
    }

    /// A replicate's eigenvalue within this distance of the fit's counts as its match existing.
    #[getter]
    fn match_radius(&self) -> f64 {
        self.inner.summary.match_radius
    }

    /// Interval `(low, high)` of the count of eigenvalues with `|λ| > 0.99`.
    #[getter]
    fn num_dominant_ci(&self) -> (f64, f64) {
        let [lo, hi] = self.inner.summary.num_dominant_ci;
        (lo, hi)
    }

    /// The matching rule, in words.
    #[getter]
    fn matching(&self) -> String {
        self.inner.summary.matching.clone()
    }

    /// What the intervals do not include, in words.
    #[getter]
    fn note(&self) -> String {
        self.inner.summary.note.clone()
    }

    /// Warnings of the resampling (intervals around a Gram fit that differs from the fit,
    /// failed refits); also in `Fit.warnings`.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings.clone()
    }

    /// The intervals as plain Python values: the keys of the `bootstrap` object of
    /// `analyze states --json` (scheme, replicates, failed, level, seed, sequences,
    /// match_radius, matching, num_dominant_ci, note), `warnings`, and `eigen`: one dict per
    /// eigenvalue with the interval fields of `analyze`'s eigenpairs (`modulus_ci`, `tau_ci` with
    /// `None` at an infinite end, `re_ci`, `im_ci`, `match_fraction`, `pair_fraction`, `None`
    /// for a real λ).
    pub fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s: &BootstrapSummary = &self.inner.summary;
        let d = PyDict::new(py);
        d.set_item("scheme", s.scheme.to_string())?;
        d.set_item("replicates", s.replicates)?;
        d.set_item("failed", s.failed)?;
        d.set_item("level", s.level)?;
        d.set_item("seed", s.seed)?;
        d.set_item("sequences", s.sequences)?;
        d.set_item("match_radius", s.match_radius)?;
        d.set_item("matching", &s.matching)?;
        d.set_item("num_dominant_ci", s.num_dominant_ci.to_vec())?;
        d.set_item("note", &s.note)?;
        d.set_item("warnings", self.inner.warnings.clone())?;
        let eigen = PyList::empty(py);
        for e in &self.inner.eigen {
            let x = PyDict::new(py);
            x.set_item("modulus_ci", e.modulus_ci.to_vec())?;
            x.set_item("tau_ci", e.tau_ci.to_vec())?;
            x.set_item("re_ci", e.re_ci.to_vec())?;
            x.set_item("im_ci", e.im_ci.to_vec())?;
            x.set_item("match_fraction", e.match_fraction)?;
            x.set_item("pair_fraction", e.pair_fraction)?;
            eigen.append(x)?;
        }
        d.set_item("eigen", eigen)?;
        Ok(d)
    }

    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyDict>,))> {
        let f = py.import("kann._kann")?.getattr("_intervals_from_dict")?;
        Ok((f, (self.to_dict(py)?,)))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .downcast::<PySpectrumIntervals>()
            .is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __repr__(&self) -> String {
        let s = &self.inner.summary;
        format!(
            "kann.SpectrumIntervals(scheme={:?}, replicates={}, failed={}, level={}, seed={}, eigenvalues={}, num_dominant_ci=({}, {}))",
            s.scheme.to_string(),
            s.replicates,
            s.failed,
            s.level,
            s.seed,
            self.inner.eigen.len(),
            s.num_dominant_ci[0],
            s.num_dominant_ci[1]
        )
    }
}

/// Rebuilds [`PySpectrumIntervals`] from its `to_dict()` (pickle, and `kann.load` of a fit).
pub fn from_dict(d: &Bound<'_, PyDict>) -> PyResult<PySpectrumIntervals> {
    let scheme: String = get(d, "scheme")?;
    let eigen: Vec<Bound<'_, PyDict>> = get(d, "eigen")?;
    let eigen = eigen
        .iter()
        .map(|e| {
            Ok(EigenCi {
                modulus_ci: pair(e, "modulus_ci")?,
                tau_ci: get(e, "tau_ci")?,
                re_ci: pair(e, "re_ci")?,
                im_ci: pair(e, "im_ci")?,
                match_fraction: get(e, "match_fraction")?,
                pair_fraction: get(e, "pair_fraction")?,
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PySpectrumIntervals {
        inner: FitIntervals {
            eigen,
            summary: BootstrapSummary {
                scheme: parse_scheme(&scheme)?,
                replicates: get(d, "replicates")?,
                failed: get(d, "failed")?,
                level: get(d, "level")?,
                seed: get(d, "seed")?,
                sequences: get(d, "sequences")?,
                match_radius: get(d, "match_radius")?,
                matching: get(d, "matching")?,
                num_dominant_ci: pair(d, "num_dominant_ci")?,
                note: get(d, "note")?,
            },
            warnings: get(d, "warnings")?,
        },
    })
}

/// Rebuilds a `SpectrumIntervals` from its `to_dict()` (pickle).
#[pyfunction]
pub fn _intervals_from_dict(d: &Bound<'_, PyDict>) -> PyResult<PySpectrumIntervals> {
    from_dict(d)
}
