//! Reading and writing states as `.npy` (numpy format, via `npyz`) and results as JSON.
//! All writes are atomic (temporary file in the same folder, then rename).

use crate::error::{KoopmanError, Result};
use crate::states::States;
use npyz::{DType, NpyFile, Order, TypeChar, WriterBuilder};
use serde::Serialize;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Element type of a written `.npy` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpyDtype {
    /// `<f4`.
    F32,
    /// `<f8`.
    F64,
}

fn open_npy(path: &Path) -> Result<NpyFile<BufReader<std::fs::File>>> {
    let file = std::fs::File::open(path).map_err(|e| KoopmanError::file(path, e))?;
    let npy = NpyFile::new(BufReader::new(file))
        .map_err(|e| KoopmanError::file(path, format!("not a valid .npy file: {e}")))?;
    if npy.order() != Order::C && npy.shape().len() > 1 {
        return Err(KoopmanError::file(
            path,
            "array is in Fortran order; save it in C order (np.ascontiguousarray)",
        ));
    }
    Ok(npy)
}

fn plain_type(path: &Path, dtype: &DType) -> Result<(TypeChar, u64)> {
    match dtype {
        DType::Plain(ts) => Ok((ts.type_char(), ts.size_field())),
        other => Err(KoopmanError::file(
            path,
            format!("unsupported dtype {}", other.descr()),
        )),
    }
}

/// Reads a float `.npy` array (f32 or f64) as `f64` with its shape.
pub fn read_float_npy(path: impl AsRef<Path>) -> Result<(Vec<f64>, Vec<usize>)> {
    let path = path.as_ref();
    let npy = open_npy(path)?;
    let shape: Vec<usize> = npy.shape().iter().map(|&x| x as usize).collect();
    let data = match plain_type(path, &npy.dtype())? {
        (TypeChar::Float, 4) => npy
            .into_vec::<f32>()
            .map_err(|e| KoopmanError::file(path, e))?
            .into_iter()
            .map(|x| x as f64)
            .collect(),
        (TypeChar::Float, 8) => npy
            .into_vec::<f64>()
            .map_err(|e| KoopmanError::file(path, e))?,
        _ => {
            return Err(KoopmanError::file(
                path,
                format!("dtype {} is not float32/float64", npy.dtype().descr()),
            ));
        }
    };
    Ok((data, shape))
}

/// Reads states from a `.npy` file: float32 or float64, C order, shape `[s, n, k]` or `[n, k]`
/// (one sequence). All steps are valid; see [`read_lengths_npy`] for padding.
pub fn read_states_npy(path: impl AsRef<Path>) -> Result<States> {
    let path = path.as_ref();
    let (data, shape) = read_float_npy(path)?;
    let (s, n, k) = match shape.as_slice() {
        [s, n, k] => (*s, *n, *k),
        [n, k] => (1, *n, *k),
        other => {
            return Err(KoopmanError::file(
                path,
                format!("states must have shape [s, n, k] or [n, k], got {other:?}"),
            ));
        }
    };
    States::from_f64(data, s, n, k).map_err(|e| KoopmanError::file(path, e))
}

/// Reads per-sequence valid lengths for states with `s` sequences of `n` steps: either a 1-D
/// integer array `[s]` of lengths, or a 2-D prefix mask `[s, n]` (bool, integer or float 0/1).
pub fn read_lengths_npy(path: impl AsRef<Path>, s: usize, n: usize) -> Result<Vec<usize>> {
    let path = path.as_ref();
    let npy = open_npy(path)?;
    let shape: Vec<usize> = npy.shape().iter().map(|&x| x as usize).collect();
    let (tc, size) = plain_type(path, &npy.dtype())?;
    let values: Vec<f64> = match (tc, size) {
        (TypeChar::Bool, _) => to_f64(path, npy.into_vec::<bool>(), |b| b as u8 as f64)?,
        (TypeChar::Int, 1) => to_f64(path, npy.into_vec::<i8>(), |x| x as f64)?,
        (TypeChar::Int, 2) => to_f64(path, npy.into_vec::<i16>(), |x| x as f64)?,
        (TypeChar::Int, 4) => to_f64(path, npy.into_vec::<i32>(), |x| x as f64)?,
        (TypeChar::Int, 8) => to_f64(path, npy.into_vec::<i64>(), |x| x as f64)?,
        (TypeChar::Uint, 1) => to_f64(path, npy.into_vec::<u8>(), |x| x as f64)?,
        (TypeChar::Uint, 2) => to_f64(path, npy.into_vec::<u16>(), |x| x as f64)?,
        (TypeChar::Uint, 4) => to_f64(path, npy.into_vec::<u32>(), |x| x as f64)?,
        (TypeChar::Uint, 8) => to_f64(path, npy.into_vec::<u64>(), |x| x as f64)?,
        (TypeChar::Float, 4) => to_f64(path, npy.into_vec::<f32>(), |x| x as f64)?,
        (TypeChar::Float, 8) => to_f64(path, npy.into_vec::<f64>(), |x| x)?,
        _ => {
            return Err(KoopmanError::file(
                path,
                "lengths/mask must be bool, integer or float",
            ));
        }
    };
    match shape.as_slice() {
        [m] if *m == s => values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if v.fract() != 0.0 || v < 1.0 || v > n as f64 {
                    Err(KoopmanError::file(
                        path,
                        format!("length {v} of sequence {i} is not an integer in 1..={n}"),
                    ))
                } else {
                    Ok(v as usize)
                }
            })
            .collect(),
        [a, b] if *a == s && *b == n => {
            if let Some(pos) = values.iter().position(|&v| v != 0.0 && v != 1.0) {
                return Err(KoopmanError::file(
                    path,
                    format!(
                        "mask entry [{}, {}] = {} is not 0/1",
                        pos / n,
                        pos % n,
                        values[pos]
                    ),
                ));
            }
            let mask: Vec<bool> = values.iter().map(|&v| v == 1.0).collect();
            let lengths =
                States::lengths_from_mask(&mask, s, n).map_err(|e| KoopmanError::file(path, e))?;
            if let Some(i) = lengths.iter().position(|&l| l == 0) {
                return Err(KoopmanError::file(
                    path,
                    format!("mask of sequence {i} has no valid step"),
                ));
            }
            Ok(lengths)
        }
        other => Err(KoopmanError::file(
            path,
            format!(
                "lengths must have shape [{s}] or mask shape [{s}, {n}] to match the states, got {other:?}"
            ),
        )),
    }
}

fn to_f64<T>(path: &Path, v: std::io::Result<Vec<T>>, f: impl Fn(T) -> f64) -> Result<Vec<f64>> {
    Ok(v.map_err(|e| KoopmanError::file(path, e))?
        .into_iter()
        .map(f)
        .collect())
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

/// Writes a file atomically: `write` fills a temporary file next to `path`, which is then
/// renamed over `path`.
pub fn write_atomic(
    path: impl AsRef<Path>,
    write: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let path = path.as_ref();
    let tmp = temp_path(path);
    let result = (|| {
        let file = std::fs::File::create(&tmp)?;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        w.flush()?;
        w.get_ref().sync_all()?;
        Ok::<_, std::io::Error>(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(KoopmanError::file(path, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        KoopmanError::file(path, e)
    })
}

/// Writes a float array of the given shape (C order) as `.npy`, atomically.
pub fn write_float_npy(
    path: impl AsRef<Path>,
    data: &[f64],
    shape: &[usize],
    dtype: NpyDtype,
) -> Result<()> {
    let path = path.as_ref();
    let expected: usize = shape.iter().product();
    if expected != data.len() {
        return Err(KoopmanError::file(
            path,
            format!("{} values do not fill shape {shape:?}", data.len()),
        ));
    }
    let shape64: Vec<u64> = shape.iter().map(|&x| x as u64).collect();
    write_atomic(path, |w| match dtype {
        NpyDtype::F32 => {
            let mut npy = npyz::WriteOptions::<f32>::new()
                .default_dtype()
                .shape(&shape64)
                .writer(w)
                .begin_nd()?;
            npy.extend(data.iter().map(|&x| x as f32))?;
            npy.finish()
        }
        NpyDtype::F64 => {
            let mut npy = npyz::WriteOptions::<f64>::new()
                .default_dtype()
                .shape(&shape64)
                .writer(w)
                .begin_nd()?;
            npy.extend(data.iter().copied())?;
            npy.finish()
        }
    })
}

/// Writes `f32` data of the given shape (C order) as `.npy`, atomically.
pub fn write_f32_npy(path: impl AsRef<Path>, data: &[f32], shape: &[usize]) -> Result<()> {
    let path = path.as_ref();
    let expected: usize = shape.iter().product();
    if expected != data.len() {
        return Err(KoopmanError::file(
            path,
            format!("{} values do not fill shape {shape:?}", data.len()),
        ));
    }
    let shape64: Vec<u64> = shape.iter().map(|&x| x as u64).collect();
    write_atomic(path, |w| {
        let mut npy = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(&shape64)
            .writer(w)
            .begin_nd()?;
        npy.extend(data.iter().copied())?;
        npy.finish()
    })
}

/// Writes states as `.npy` of shape `[s, n, k]` (padding included), atomically.
pub fn write_states_npy(path: impl AsRef<Path>, states: &States, dtype: NpyDtype) -> Result<()> {
    write_float_npy(
        path,
        states.data(),
        &[states.num_sequences(), states.seq_len(), states.hidden()],
        dtype,
    )
}

/// Writes a value as pretty JSON, atomically.
pub fn write_json_atomic<T: Serialize>(path: impl AsRef<Path>, value: &T) -> Result<()> {
    write_atomic(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })
}
