//! Reading and writing states as `.npy` (numpy format, via `npyz`) and results as JSON.
//! All writes are atomic (temporary file in the same folder, then rename).

use crate::error::{KoopmanError, Result};
use crate::states::States;
use npyz::{DType, NpyFile, Order, TypeChar, WriterBuilder};
use serde::Serialize;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

/// Element type of a written `.npy` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpyDtype {
    /// `<f4`.
    F32,
    /// `<f8`.
    F64,
}

/// What the header of a `.npy` file says, checked against the file's size before any data is
/// read or any buffer is sized from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeaderInfo {
    /// The array's shape as written.
    pub shape: Vec<usize>,
    /// The dtype string (`'<f4'`, `'|b1'`, ...).
    pub descr: String,
    /// Number of elements (the product of the shape).
    pub len: usize,
    /// Bytes per element.
    pub item_size: usize,
    /// True if the data is in Fortran (column-major) order.
    pub fortran_order: bool,
}

/// Refuses an input that is not a regular file (a FIFO, a device, a folder) before opening it,
/// so a named pipe gives an error instead of a read that waits forever.
pub fn require_regular_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| KoopmanError::file(path, e))?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a folder"
        } else {
            "not a regular file (a pipe or device?)"
        };
        return Err(KoopmanError::file(
            path,
            format!("is {what}; give a regular .npy file"),
        ));
    }
    Ok(())
}

/// Upper limit on the header text of a `.npy` file (numpy writes well under 1 KiB).
const MAX_NPY_HEADER: u64 = 1 << 20;

/// Reads and checks the header of a `.npy` file without reading its data: the magic, the header
/// length against the file size, the shape (every dimension and the element count must fit in
/// 64 bits) and the data size (`len × item size`) against the bytes the file holds. Nothing is
/// allocated from a size the header states before that size has been checked, so a crafted
/// header (a shape of 10^12 × 0 × 8, or 2^63 × 2 × 1) gives an error, not an abort.
pub fn inspect_npy(path: impl AsRef<Path>) -> Result<NpyHeaderInfo> {
    let path = path.as_ref();
    let err = |m: String| KoopmanError::file(path, m);
    require_regular_file(path)?;
    let mut file = std::fs::File::open(path).map_err(|e| KoopmanError::file(path, e))?;
    let file_len = file
        .metadata()
        .map_err(|e| KoopmanError::file(path, e))?
        .len();
    let mut pre = [0u8; 10];
    if file_len < 10 || file.read_exact(&mut pre).is_err() || &pre[..6] != b"\x93NUMPY" {
        return Err(err("not a valid .npy file (no numpy magic)".into()));
    }
    let (prefix, header_len) = match pre[6] {
        1 => (10u64, u16::from_le_bytes([pre[8], pre[9]]) as u64),
        2 | 3 => {
            let mut two = [0u8; 2];
            file.read_exact(&mut two)
                .map_err(|_| err("not a valid .npy file (truncated header)".into()))?;
            (
                12u64,
                u32::from_le_bytes([pre[8], pre[9], two[0], two[1]]) as u64,
            )
        }
        v => return Err(err(format!("unsupported .npy format version {v}"))),
    };
    if header_len > MAX_NPY_HEADER || prefix + header_len > file_len {
        return Err(err(format!(
            "not a valid .npy file: header length {header_len} does not fit in the file ({file_len} bytes)"
        )));
    }
    let mut text = vec![0u8; header_len as usize];
    file.read_exact(&mut text)
        .map_err(|e| KoopmanError::file(path, e))?;
    let text = String::from_utf8_lossy(&text).into_owned();
    let descr = header_value(&text, "descr").ok_or_else(|| {
        err(format!(
            "not a valid .npy header (no 'descr'): {}",
            text.trim()
        ))
    })?;
    let descr = match descr.chars().next() {
        Some(q @ ('\'' | '"')) => descr[1..].split(q).next().unwrap_or_default().to_string(),
        _ => {
            return Err(err(format!(
                "unsupported dtype {} (structured arrays are not supported)",
                descr.trim()
            )));
        }
    };
    let item_size: usize = descr
        .trim_start_matches(['<', '>', '|', '='])
        .get(1..)
        .and_then(|d| d.parse().ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| err(format!("unsupported dtype '{descr}'")))?;
    let fortran_order = header_value(&text, "fortran_order")
        .map(|v| v.starts_with("True"))
        .ok_or_else(|| err("not a valid .npy header (no 'fortran_order')".into()))?;
    let shape_text = header_value(&text, "shape").ok_or_else(|| {
        err(format!(
            "not a valid .npy header (no 'shape'): {}",
            text.trim()
        ))
    })?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|t| t.split(')').next())
        .ok_or_else(|| err(format!("not a valid .npy shape: {shape_text}")))?;
    let mut shape = Vec::new();
    for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let dim: u64 = part.trim_end_matches('L').parse().map_err(|_| {
            err(format!(
                "dimension {part} of shape ({inner}) is not an integer below 2^64"
            ))
        })?;
        let dim = usize::try_from(dim)
            .map_err(|_| err(format!("dimension {dim} of shape ({inner}) is too large")))?;
        shape.push(dim);
    }
    // With a zero dimension the array is empty whatever the others say: no data to check.
    let len = if shape.contains(&0) {
        0
    } else {
        shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| err(format!("shape ({inner}) has more than 2^64 elements")))?
    };
    let bytes = len.checked_mul(item_size).ok_or_else(|| {
        err(format!(
            "shape ({inner}) of dtype '{descr}' overflows 2^64 bytes"
        ))
    })?;
    let have = file_len - prefix - header_len;
    if (bytes as u64) > have {
        return Err(err(format!(
            "shape ({inner}) of dtype '{descr}' needs {bytes} data bytes, the file holds {have} (truncated file or wrong header)"
        )));
    }
    Ok(NpyHeaderInfo {
        shape,
        descr,
        len,
        item_size,
        fortran_order,
    })
}

/// The text after `'key':` in a python dict literal, left-trimmed.
fn header_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text
        .find(&format!("'{key}'"))
        .or_else(|| text.find(&format!("\"{key}\"")))?;
    let rest = &text[at + key.len() + 2..];
    let colon = rest.find(':')?;
    Some(rest[colon + 1..].trim_start())
}

/// Opens a `.npy` file whose header passed [`inspect_npy`]; only non-empty arrays get here, so
/// `npyz`'s own shape arithmetic cannot overflow.
fn open_npy(path: &Path, info: &NpyHeaderInfo) -> Result<NpyFile<BufReader<std::fs::File>>> {
    require_regular_file(path)?;
    let file = std::fs::File::open(path).map_err(|e| KoopmanError::file(path, e))?;
    let npy = NpyFile::new(BufReader::new(file))
        .map_err(|e| KoopmanError::file(path, format!("not a valid .npy file: {e}")))?;
    if npy.order() != Order::C && info.shape.len() > 1 {
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

/// Reads a float `.npy` array (f32 or f64) as `f64` with its shape. The header is checked
/// first ([`inspect_npy`]); an array with an empty dimension gives empty data.
pub fn read_float_npy(path: impl AsRef<Path>) -> Result<(Vec<f64>, Vec<usize>)> {
    let path = path.as_ref();
    let info = inspect_npy(path)?;
    check_float(path, &info)?;
    if info.len == 0 {
        return Ok((Vec::new(), info.shape));
    }
    let npy = open_npy(path, &info)?;
    let mut data = reserve_f64(path, &info)?;
    match plain_type(path, &npy.dtype())? {
        (TypeChar::Float, 4) => {
            for x in npy.data::<f32>().map_err(|e| KoopmanError::file(path, e))? {
                data.push(x.map_err(|e| KoopmanError::file(path, e))? as f64);
            }
        }
        (TypeChar::Float, 8) => {
            for x in npy.data::<f64>().map_err(|e| KoopmanError::file(path, e))? {
                data.push(x.map_err(|e| KoopmanError::file(path, e))?);
            }
        }
        _ => {
            return Err(KoopmanError::file(
                path,
                format!("dtype {} is not float32/float64", npy.dtype().descr()),
            ));
        }
    };
    Ok((data, info.shape))
}

/// The buffer for an array's `len` values as `f64`, reserved before any data is read: an array
/// larger than the memory the machine has free (a sparse 12 GB `.npy` with a valid header) is an
/// error naming its shape and the bytes it needs, not an aborted allocation.
fn reserve_f64(path: &Path, info: &NpyHeaderInfo) -> Result<Vec<f64>> {
    let bytes = info.len as f64 * std::mem::size_of::<f64>() as f64;
    let too_big = |free: String| {
        KoopmanError::file(
            path,
            format!(
                "shape {:?} needs {:.1} GiB as f64 in memory, {free}; stream it in chunks \
                 instead (kann_koopman::GramAccumulator, or the Python kann.GramAccumulator)",
                info.shape,
                bytes / GIB
            ),
        )
    };
    if let Some(available) = available_memory()
        && bytes > available as f64
    {
        return Err(too_big(format!(
            "the machine has {:.1} GiB available",
            available as f64 / GIB
        )));
    }
    let mut data = Vec::new();
    data.try_reserve_exact(info.len)
        .map_err(|_| too_big("more than can be allocated".into()))?;
    Ok(data)
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// `MemAvailable` of `/proc/meminfo` in bytes (Linux); `None` where it cannot be read.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

fn check_float(path: &Path, info: &NpyHeaderInfo) -> Result<()> {
    if matches!(
        info.descr.trim_start_matches(['<', '>', '|', '=']),
        "f4" | "f8"
    ) {
        Ok(())
    } else {
        Err(KoopmanError::file(
            path,
            format!("dtype {} is not float32/float64", info.descr),
        ))
    }
}

/// Axis order of a 3-D states array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `[B, T, H]`: batch, time, hidden (PyTorch's `batch_first=True`, our hooks).
    #[default]
    Bth,
    /// `[T, B, H]`: time, batch, hidden (PyTorch's default `batch_first=False`).
    Tbh,
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layout::Bth => "bth",
            Layout::Tbh => "tbh",
        })
    }
}

/// A states array as read from a `.npy` file, in `[B, T, H]` order after its layout was applied.
#[derive(Debug, Clone, PartialEq)]
pub struct StatesArray {
    /// `f64` data, C order `[s, n, k]`.
    pub data: Vec<f64>,
    /// Number of sequences `s` (B).
    pub s: usize,
    /// Steps per sequence `n` (T, padding included).
    pub n: usize,
    /// Hidden size `k` (H).
    pub k: usize,
    /// The shape written in the file.
    pub file_shape: Vec<usize>,
    /// The dtype written in the file (`'<f4'`, `'<f8'`).
    pub dtype: String,
}

impl StatesArray {
    /// Every step valid: [`States::from_f64`] (NaN/Inf anywhere is an error).
    pub fn into_states(self) -> Result<States> {
        States::from_f64(self.data, self.s, self.n, self.k)
    }
    /// With per-sequence lengths: [`States::new_with_lengths`] (padded steps may be non-finite).
    pub fn into_states_with_lengths(self, lengths: Vec<usize>) -> Result<States> {
        States::new_with_lengths(self.data, self.s, self.n, self.k, lengths)
    }
}

/// Reads a states array: float32/float64, C order, `[B, T, H]` (`layout` [`Layout::Bth`]) or
/// `[T, B, H]` ([`Layout::Tbh`], transposed here to `[B, T, H]`), or 2-D `[m, H]`: one sequence
/// of `m` steps, or with `seq_len = Some(T)` the `m / T` sequences of `T` steps stacked
/// (`[B·T, H]` for `bth`, `[T·B, H]` for `tbh`). An empty dimension is an error, found before
/// any data is read.
pub fn read_states_array(
    path: impl AsRef<Path>,
    layout: Layout,
    seq_len: Option<usize>,
) -> Result<StatesArray> {
    let path = path.as_ref();
    let info = inspect_npy(path)?;
    check_float(path, &info)?;
    let err = |m: String| KoopmanError::file(path, m);
    let (a, b, k) = match (info.shape.as_slice(), seq_len) {
        (_, Some(0)) => return Err(err("--seq-len must be at least 1".into())),
        ([a, b, k], None) => (*a, *b, *k),
        ([_, _, _], Some(_)) => {
            return Err(err(format!(
                "a sequence length applies to a 2-D [B*T, H] array; this one has shape {:?}",
                info.shape
            )));
        }
        ([m, k], Some(t)) => {
            if *m % t != 0 {
                return Err(err(format!(
                    "{m} rows are not a whole number of sequences of {t} steps"
                )));
            }
            match layout {
                Layout::Bth => (m / t, t, *k),
                Layout::Tbh => (t, m / t, *k),
            }
        }
        // One sequence: the layout does not matter.
        ([m, k], None) => match layout {
            Layout::Bth => (1, *m, *k),
            Layout::Tbh => (*m, 1, *k),
        },
        (other, _) => {
            return Err(err(format!(
                "states must have shape [B, T, H], [T, B, H] (--layout tbh) or [T, H], got {other:?}"
            )));
        }
    };
    if info.len == 0 {
        return Err(err(format!(
            "states array has an empty dimension, shape {:?}",
            info.shape
        )));
    }
    let (data, _) = read_float_npy(path)?;
    let (s, n, data) = match layout {
        Layout::Tbh if b == 1 => (b, a, data),
        Layout::Bth => (a, b, data),
        Layout::Tbh => {
            // [T = a, B = b, H] -> [B, T, H]
            let mut out = Vec::with_capacity(data.len());
            for i in 0..b {
                for t in 0..a {
                    out.extend_from_slice(&data[(t * b + i) * k..(t * b + i + 1) * k]);
                }
            }
            (b, a, out)
        }
    };
    Ok(StatesArray {
        data,
        s,
        n,
        k,
        file_shape: info.shape,
        dtype: info.descr,
    })
}

/// Reads states from a `.npy` file: float32 or float64, C order, shape `[s, n, k]` or `[n, k]`
/// (one sequence). All steps are valid; see [`read_states_array`] and [`read_lengths_npy`] for
/// padding and other layouts.
pub fn read_states_npy(path: impl AsRef<Path>) -> Result<States> {
    let path = path.as_ref();
    read_states_array(path, Layout::Bth, None)?
        .into_states()
        .map_err(|e| KoopmanError::file(path, e))
}

/// Reads per-sequence valid lengths for states with `s` sequences of `n` steps: either a 1-D
/// integer array `[s]` of lengths, or a 2-D prefix mask `[s, n]` (bool, integer or float 0/1).
pub fn read_lengths_npy(path: impl AsRef<Path>, s: usize, n: usize) -> Result<Vec<usize>> {
    let path = path.as_ref();
    let info = inspect_npy(path)?;
    let shape = info.shape.clone();
    let shape_ok = matches!(shape.as_slice(), [m] if *m == s)
        || matches!(shape.as_slice(), [a, b] if *a == s && *b == n);
    if !shape_ok || info.len == 0 {
        return Err(KoopmanError::file(
            path,
            format!(
                "lengths must have shape [{s}] or mask shape [{s}, {n}] to match the states, got {shape:?}"
            ),
        ));
    }
    let npy = open_npy(path, &info)?;
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

/// Writes a file atomically with the workspace's one writer (`kann_run::atomic`): `write` fills
/// a fresh temporary file next to `path` (never through a link), which is synced and renamed over
/// `path`.
pub fn write_atomic(
    path: impl AsRef<Path>,
    write: impl FnOnce(&mut BufWriter<&mut std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let path = path.as_ref();
    kann_run::atomic::write_atomic_with(path, |file| {
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        w.flush()
    })
    .map_err(|e| {
        let (_, error) = e.into_io();
        KoopmanError::file(path, error)
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
