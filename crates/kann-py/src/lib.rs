//! Python bindings of kann-koopman: `kann.fit` on a numpy array `[B, T, H]` read without a copy,
//! with the GIL released while Rust computes (paper Sec. 3, Eqs. 4-5, 9, 12).

use kann_koopman::{
    FitOptions, GramAccumulator, KoopmanModel, Precision, Rank, RelativeErrorAccumulator, Spectrum,
    memory_horizon,
};
use numpy::{PyArray1, PyArray2, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A Koopman fit: basis `B` [H, r], operator `C` [r, r] (Eqs. 4-5), its spectrum and e_rel (Eq. 12).
#[pyclass(module = "kann._kann", frozen)]
pub struct Fit {
    model: KoopmanModel,
    spectrum: Spectrum,
    e_rel: f64,
}

#[pymethods]
impl Fit {
    /// Eigenvalues of `C` (complex128 [r]), largest modulus first.
    #[getter]
    fn eigenvalues<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<numpy::Complex64>> {
        let v: Vec<numpy::Complex64> = self
            .spectrum
            .eigenvalues
            .iter()
            .map(|z| numpy::Complex64::new(z.re, z.im))
            .collect();
        PyArray1::from_vec(py, v)
    }

    /// Memory horizon τ_j(ε) = log ε / log |λ_j| per eigenvalue (Eq. 9); inf where |λ| >= 1.
    #[pyo3(signature = (eps = 0.01))]
    fn memory_horizon<'py>(
        &self,
        py: Python<'py>,
        eps: f64,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let mut out = Vec::with_capacity(self.spectrum.eigenvalues.len());
        for &z in &self.spectrum.eigenvalues {
            let h = memory_horizon(z, eps, 0.0).map_err(value_error)?;
            out.push(h.tau.unwrap_or(f64::INFINITY));
        }
        Ok(PyArray1::from_vec(py, out))
    }

    /// e_rel (Eq. 12) on the steps the fit was scored on.
    #[getter]
    fn relative_error(&self) -> f64 {
        self.e_rel
    }

    /// Basis `B` [H, r] (Eq. 5).
    #[getter]
    fn basis<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        mat(py, self.model.basis.as_ref())
    }

    /// Koopman operator `C` [r, r] (Eq. 4).
    #[getter]
    fn operator<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        mat(py, self.model.koopman_operator.as_ref())
    }

    /// Rank `r` of the fit.
    #[getter]
    fn rank(&self) -> usize {
        self.model.rank()
    }
}

fn mat<'py>(py: Python<'py>, m: kann_koopman::faer::MatRef<'_, f64>) -> Bound<'py, PyArray2<f64>> {
    let rows: Vec<Vec<f64>> = (0..m.nrows())
        .map(|i| (0..m.ncols()).map(|j| m[(i, j)]).collect())
        .collect();
    PyArray2::from_vec2(py, &rows).expect("rectangular by construction")
}

/// Fits the Koopman operator to `states` [B, T, H] (float32 or float64, C-contiguous, read
/// without a copy) with optional per-sequence `lengths` [B]; the GIL is released meanwhile.
#[pyfunction]
#[pyo3(signature = (states, lengths = None, rank = None, precision = "f64"))]
fn fit(
    py: Python<'_>,
    states: &Bound<'_, PyAny>,
    lengths: Option<Vec<usize>>,
    rank: Option<usize>,
    precision: &str,
) -> PyResult<Fit> {
    let precision = match precision {
        "f64" => Precision::F64,
        "mixed" => Precision::Mixed,
        other => {
            return Err(PyValueError::new_err(format!(
                "precision: expected \"f64\" or \"mixed\", got {other:?}"
            )));
        }
    };
    let options = FitOptions {
        rank: rank.map(Rank::Fixed).unwrap_or(Rank::ReferenceDefault),
        precision,
        ..FitOptions::default()
    };
    if let Ok(a) = states.extract::<PyReadonlyArray3<'_, f32>>() {
        run(
            py,
            a,
            lengths,
            &options,
            |acc, d, s, n, l| acc.push_f32(d, s, n, l),
            |e, d, s, n, l| e.push_f32(d, s, n, l),
        )
    } else if let Ok(a) = states.extract::<PyReadonlyArray3<'_, f64>>() {
        run(
            py,
            a,
            lengths,
            &options,
            |acc, d, s, n, l| acc.push_f64(d, s, n, l),
            push_err_f64,
        )
    } else {
        Err(PyTypeError::new_err(
            "states: expected a 3-d numpy array of float32 or float64 [B, T, H]",
        ))
    }
}

/// e_rel pass for `f64` states: kann-koopman's accumulator takes `f64` data as [`States`]
/// (one copy of the batch; the Gram pass above reads the buffer in place).
fn push_err_f64(
    e: &mut RelativeErrorAccumulator,
    d: &[f64],
    s: usize,
    n: usize,
    l: Option<&[usize]>,
) -> kann_koopman::Result<()> {
    let k = d.len() / (s * n).max(1);
    let lengths = l.map(<[usize]>::to_vec).unwrap_or_else(|| vec![n; s]);
    let states = kann_koopman::States::new_with_lengths(d.to_vec(), s, n, k, lengths)?;
    e.push(&states)
}

type Push<T, A> = fn(&mut A, &[T], usize, usize, Option<&[usize]>) -> kann_koopman::Result<()>;

fn run<T: numpy::Element + Sync>(
    py: Python<'_>,
    a: numpy::PyReadonlyArray3<'_, T>,
    lengths: Option<Vec<usize>>,
    options: &FitOptions,
    push: Push<T, GramAccumulator>,
    push_err: Push<T, RelativeErrorAccumulator>,
) -> PyResult<Fit> {
    let shape = a.shape().to_vec();
    let (s, n, k) = (shape[0], shape[1], shape[2]);
    let data = a.as_slice().map_err(|_| {
        PyValueError::new_err(format!(
            "states: array of shape {shape:?} is not C-contiguous"
        ))
    })?;
    if let Rank::Fixed(r) = options.rank
        && !(1..=k).contains(&r)
    {
        return Err(PyValueError::new_err(format!(
            "rank: {r} is out of range 1..={k} for states of shape {shape:?}"
        )));
    }
    if let Some(l) = &lengths
        && l.len() != s
    {
        return Err(PyValueError::new_err(format!(
            "lengths: has {} entries, states of shape {shape:?} need {s}",
            l.len()
        )));
    }
    let result = py.allow_threads(|| -> kann_koopman::Result<Fit> {
        let mut acc = GramAccumulator::with_precision(k, options.precision);
        push(&mut acc, data, s, n, lengths.as_deref())?;
        let model = acc.finish(options)?;
        let spectrum = Spectrum::new(&model)?;
        let mut err = RelativeErrorAccumulator::new(&model).with_precision(options.precision);
        push_err(&mut err, data, s, n, lengths.as_deref())?;
        let e_rel = err.finish()?.e_rel;
        Ok(Fit {
            model,
            spectrum,
            e_rel,
        })
    });
    result.map_err(|e| PyValueError::new_err(format!("states of shape {shape:?}: {e}")))
}

/// The native module `kann._kann`.
#[pymodule]
fn _kann(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Fit>()?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    Ok(())
}
