//! Atomic `.npy` writing (and reading back) of states for the analysis.

use std::io::{BufWriter, Write};
use std::path::Path;

use burn::prelude::*;
use npyz::WriterBuilder;

use crate::atomic::write_atomic_with;
use crate::error::ModelError;

fn write_npy<T: npyz::Serialize + npyz::AutoSerialize + Copy>(
    path: &Path,
    shape: &[usize],
    data: &[T],
) -> Result<(), ModelError> {
    let expected: usize = shape.iter().product();
    if expected != data.len() {
        return Err(ModelError::Shape(format!(
            "{}: shape {shape:?} needs {expected} values, got {}",
            path.display(),
            data.len()
        )));
    }
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    write_atomic_with(path, |file| {
        let mut buf = BufWriter::new(file);
        {
            let mut writer = npyz::WriteOptions::new()
                .default_dtype()
                .shape(&shape)
                .writer(&mut buf)
                .begin_nd()?;
            writer.extend(data.iter().copied())?;
            writer.finish()?;
        }
        buf.flush()
    })?;
    Ok(())
}

/// Write `data` (row-major, `shape`) as an `f32` `.npy` file, atomically.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<(), ModelError> {
    write_npy(path, shape, data)
}

/// Write `data` (row-major, `shape`) as a `u8` `.npy` file, atomically.
pub fn write_u8(path: &Path, shape: &[usize], data: &[u8]) -> Result<(), ModelError> {
    write_npy(path, shape, data)
}

/// Write `data` (row-major, `shape`) as a `u32` `.npy` file, atomically.
pub fn write_u32(path: &Path, shape: &[usize], data: &[u32]) -> Result<(), ModelError> {
    write_npy(path, shape, data)
}

/// Write `data` (row-major, `shape`) as a `u64` `.npy` file, atomically.
pub fn write_u64(path: &Path, shape: &[usize], data: &[u64]) -> Result<(), ModelError> {
    write_npy(path, shape, data)
}

/// Write a float tensor of any rank as an `f32` `.npy` file, atomically.
pub fn write_tensor<const D: usize>(path: &Path, tensor: &Tensor<D>) -> Result<(), ModelError> {
    let shape = tensor.dims().to_vec();
    let data = tensor_to_vec(tensor)?;
    write_f32(path, &shape, &data)
}

/// Read an `f32` `.npy` file: `(shape, row-major values)`.
pub fn read_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>), ModelError> {
    let bytes = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| ModelError::io(path, e))?;
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    let data = npy.into_vec::<f32>().map_err(|e| ModelError::io(path, e))?;
    Ok((shape, data))
}

/// Copy a float tensor to the host as `f32` values (row-major).
pub fn tensor_to_vec<const D: usize>(tensor: &Tensor<D>) -> Result<Vec<f32>, ModelError> {
    tensor
        .to_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| ModelError::Shape(format!("cannot read tensor data as f32: {e:?}")))
}
