//! An exported model with its test data, as files: written whole or not at all, and checked in
//! tract from what was written.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Distribution, Tensor};
use hwnas_space::Architecture;
use hwnas_space::module::{Hidden, Network};
use prost::Message;
use tract_onnx::pb;

use crate::export::{INPUT, OUTPUT, encode, export, floats, tensor_proto};
use crate::{OnnxError, TractModel};

/// The directory of the ONNX test-data convention, next to the model.
pub const TEST_DATA_DIR: &str = "test_data_set_0";

/// An exported network and a test case: an input and burn's output on it.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The ONNX model.
    pub model: pb::ModelProto,
    /// The test input, batch first.
    pub input: pb::TensorProto,
    /// What burn computes on it.
    pub output: pb::TensorProto,
}

/// How far tract's output is from burn's on the test input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    /// The largest absolute difference.
    pub max_abs_diff: f64,
    /// The largest absolute value of burn's output (at least `f32::MIN_POSITIVE`).
    pub scale: f64,
}

impl Agreement {
    /// The largest absolute difference relative to the output's scale.
    pub fn relative(&self) -> f64 {
        self.max_abs_diff / self.scale
    }
}

/// The largest relative difference between tract and burn that `hwnas export onnx --check` and
/// the tests accept: the two sum in different orders.
pub const TOLERANCE: f64 = 1e-4;

impl Exported {
    /// Exports `network` (the module of `architecture`, on `device`) with a test case: a seeded
    /// normal input of `batch` examples and burn's output on it. `device` must be a plain device,
    /// not an autodiff one, so that BatchNorm and dropout run as at inference, like the graph.
    pub fn new(
        architecture: &Architecture,
        network: &Network,
        device: &Device,
        batch: usize,
        seed: u64,
    ) -> Result<Self, OnnxError> {
        let model = export(architecture, network)?;
        let dims = architecture.input.with_batch(batch);
        let [n, c, h, w] = dims[..] else {
            return Err(OnnxError::Invalid(format!(
                "networks take images, not an input of shape {dims:?}"
            )));
        };
        let input = hwnas_space::module::seeded(device, seed, || {
            Tensor::<4>::random([n, c, h, w], Distribution::Normal(0.0, 1.0), device)
        });
        let input_values = floats(input.clone().into_data());
        let (output_dims, output_values) = match network.forward(input) {
            Hidden::Image(x) => (x.dims().to_vec(), floats(x.into_data())),
            Hidden::Flat(x) => (x.dims().to_vec(), floats(x.into_data())),
        };
        Ok(Self {
            model,
            input: tensor_proto(INPUT, &dims, &input_values),
            output: tensor_proto(OUTPUT, &output_dims, &output_values),
        })
    }

    /// Writes the model to `path` and the test case to `test_data_set_0/input_0.pb` and
    /// `output_0.pb` beside it (the convention holds one model per directory: another model
    /// written to the same directory replaces the test case). Everything is written to temporary
    /// files first and renamed into place; an earlier test case is moved aside and put back if
    /// the model cannot be, so a failure leaves what was there before.
    pub fn write(&self, path: &Path) -> Result<(), OnnxError> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // tempfile's own messages repeat the random name; the directory is what the user named.
        let in_dir = |e: std::io::Error| OnnxError::io(&dir, std::io::Error::from(e.kind()));
        if !dir.exists() {
            return Err(in_dir(std::io::ErrorKind::NotFound.into()));
        }
        if !dir.is_dir() {
            return Err(in_dir(std::io::ErrorKind::NotADirectory.into()));
        }
        let staging = tempfile::Builder::new()
            .prefix(".onnx-export")
            .tempdir_in(&dir)
            .map_err(in_dir)?;
        let new_test_dir = staging.path().join(TEST_DATA_DIR);
        std::fs::create_dir(&new_test_dir).map_err(|e| OnnxError::io(&new_test_dir, e))?;
        for (name, tensor) in [("input_0.pb", &self.input), ("output_0.pb", &self.output)] {
            let file = new_test_dir.join(name);
            std::fs::write(&file, tensor.encode_to_vec()).map_err(|e| OnnxError::io(&file, e))?;
        }
        let model = staging.path().join("model.onnx");
        std::fs::write(&model, encode(&self.model)).map_err(|e| OnnxError::io(&model, e))?;

        let test_dir = dir.join(TEST_DATA_DIR);
        let old_test_dir = staging.path().join("old");
        let had_test_dir = test_dir.exists();
        let rename = |from: &Path, to: &Path| std::fs::rename(from, to);
        if had_test_dir {
            rename(&test_dir, &old_test_dir).map_err(|e| OnnxError::io(&test_dir, e))?;
        }
        let installed = rename(&new_test_dir, &test_dir)
            .map_err(|e| OnnxError::io(&test_dir, e))
            .and_then(|()| rename(&model, path).map_err(|e| OnnxError::io(path, e)));
        if installed.is_err() {
            // Put back what was there; the staging directory (and the new files) goes with it.
            if !new_test_dir.exists() {
                let _ = std::fs::remove_dir_all(&test_dir);
            }
            if had_test_dir {
                let _ = rename(&old_test_dir, &test_dir);
            }
        }
        installed
    }
}

/// Loads the model at `path` in tract, runs it on its `test_data_set_0` input and compares with
/// the stored output: the check of an exported file by a runtime that did not write it.
pub fn check_file(path: &Path) -> Result<Agreement, OnnxError> {
    let bytes = std::fs::read(path).map_err(|e| OnnxError::io(path, e))?;
    let dir = path.parent().unwrap_or(Path::new(".")).join(TEST_DATA_DIR);
    let (input_dims, input) = read_tensor(&dir.join("input_0.pb"))?;
    let (output_dims, expected) = read_tensor(&dir.join("output_0.pb"))?;
    let model = TractModel::load(&bytes, &input_dims)?;
    let (actual, actual_dims) = model.run(&input)?;
    if actual_dims != output_dims {
        // The file was exported with its test case: a shape that differs is the export's fault.
        return Err(OnnxError::Tract(format!(
            "tract's output has shape {actual_dims:?}, the stored output {output_dims:?}"
        )));
    }
    Ok(agreement(&actual, &expected))
}

/// Compares `actual` with `expected`, element by element.
pub fn agreement(actual: &[f32], expected: &[f32]) -> Agreement {
    // A NaN on either side is as far as can be (`f64::max` would drop it).
    let max_abs_diff = actual
        .iter()
        .zip(expected)
        .map(|(a, e)| f64::from((a - e).abs()))
        .map(|d| if d.is_nan() { f64::INFINITY } else { d })
        .fold(0.0, f64::max);
    let scale = expected
        .iter()
        .map(|e| f64::from(e.abs()))
        .fold(f64::from(f32::MIN_POSITIVE), f64::max);
    Agreement {
        max_abs_diff,
        scale,
    }
}

/// A float tensor file of the test-data convention: its dims and values.
pub fn read_tensor(path: &Path) -> Result<(Vec<usize>, Vec<f32>), OnnxError> {
    let bytes = std::fs::read(path).map_err(|e| OnnxError::io(path, e))?;
    let tensor = pb::TensorProto::decode(&bytes[..]).map_err(|e| {
        OnnxError::Invalid(format!("{} is not an ONNX tensor: {e}", path.display()))
    })?;
    let dims = tensor
        .dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| OnnxError::Invalid(format!("{}: negative dimension", path.display())))?;
    let elements = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    let values: Vec<f32> = if tensor.raw_data.is_empty() {
        tensor.float_data
    } else if tensor.raw_data.len() % 4 == 0 {
        tensor
            .raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    } else {
        Vec::new()
    };
    if tensor.data_type != pb::tensor_proto::DataType::Float as i32
        || elements != Some(values.len())
        || tensor.raw_data.len() % 4 != 0
    {
        return Err(OnnxError::Invalid(format!(
            "{}: not a float tensor of shape {dims:?}",
            path.display()
        )));
    }
    Ok((dims, values))
}
