//! Integrity-checked weights: burn modules to and from the bytes that `kann_run::integrity`
//! (re-exported here) writes with a checksum sidecar and verifies on every load, and the check
//! that loaded weights are finite.

use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::Tensor;
use burn::tensor::Bytes;

use crate::error::ModelError;

pub use kann_run::integrity::*;

/// Serialize a module's parameters to burnpack bytes.
pub fn module_bytes<M: Module>(module: &M) -> Result<Vec<u8>, ModelError> {
    let bytes = module
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| ModelError::Integrity(format!("cannot serialize weights: {e}")))?;
    Ok(bytes.to_vec())
}

/// Apply burnpack `bytes` (read from `origin`, named in errors) to `module`.
pub fn module_from_bytes<M: Module>(
    module: M,
    bytes: Vec<u8>,
    origin: &Path,
) -> Result<M, ModelError> {
    let record = burn::store::ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| ModelError::Integrity(format!("{}: {e}", origin.display())))?;
    module
        .try_load_record(record)
        .map_err(|e| ModelError::Integrity(format!("{}: {e}", origin.display())))
}

/// Load the weights at `path` into `module` after checking them against `path.crc32`, and
/// refuse weights that hold NaN or inf (a diverged model: every number computed from it would be
/// meaningless). Weights without a sidecar (runs from before checksums) load with a warning.
pub fn load_weights_verified<M: Module>(module: M, path: &Path) -> Result<M, ModelError> {
    let (bytes, verified) = read_verified(path)?;
    if !verified {
        eprintln!(
            "warning: {} has no checksum file ({}); loading it unverified",
            path.display(),
            sidecar_path(path).display()
        );
    }
    let module = module_from_bytes(module, bytes, path)?;
    require_finite(&module, path)?;
    Ok(module)
}

/// Every float parameter of `module` is finite; else an error naming `origin`, the first
/// parameter (by its module path) with NaN or inf, and how many such values there are.
pub fn require_finite<M: Module>(module: &M, origin: &Path) -> Result<(), ModelError> {
    #[derive(Default)]
    struct NonFinite {
        path: Vec<String>,
        first: Option<String>,
        count: usize,
        unreadable: Option<String>,
    }
    impl ModuleVisitor for NonFinite {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            match param.val().into_data().convert::<f32>().try_to_vec::<f32>() {
                Ok(values) => {
                    let bad = values.iter().filter(|v| !v.is_finite()).count();
                    if bad > 0 && self.first.is_none() {
                        self.first = Some(self.path.join("."));
                    }
                    self.count += bad;
                }
                Err(e) => self.unreadable = Some(format!("{e:?}")),
            }
        }
    }
    let mut v = NonFinite::default();
    module.visit(&mut v);
    if let Some(e) = v.unreadable {
        return Err(ModelError::Record(format!(
            "{}: cannot read a parameter's values: {e}",
            origin.display()
        )));
    }
    match v.first {
        None => Ok(()),
        Some(name) => Err(ModelError::Record(format!(
            "{}: the weights hold {} NaN or infinite values (first in `{name}`); \
             the model diverged and cannot be analysed",
            origin.display(),
            v.count
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_with_nan_are_refused_on_load_naming_the_parameter() {
        use burn::nn::LinearConfig;
        use burn::prelude::Device;
        let device = Device::flex();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bpk");
        let mut linear = LinearConfig::new(3, 2).init(&device);
        write_weights(&path, &module_bytes(&linear).unwrap()).unwrap();
        load_weights_verified(LinearConfig::new(3, 2).init(&device), &path).unwrap();
        let mut values = vec![0.5f32; 6];
        values[4] = f32::NAN;
        values[5] = f32::INFINITY;
        let weight = Tensor::<2>::from_data(burn::tensor::TensorData::new(values, [3, 2]), &device);
        linear.weight = Param::from_tensor(weight);
        write_weights(&path, &module_bytes(&linear).unwrap()).unwrap();
        let err = load_weights_verified(LinearConfig::new(3, 2).init(&device), &path)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("model.bpk")
                && err.contains("2 NaN or infinite")
                && err.contains("weight"),
            "{err}"
        );
    }
}
