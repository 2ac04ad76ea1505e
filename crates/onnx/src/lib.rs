//! ONNX export of hwnas networks, checked and timed in a second runtime, tract.
//!
//! [`export`] turns a frozen network (its [`Architecture`](hwnas_space::Architecture) and burn
//! module) into an ONNX model: opset [`OPSET`], one node per operation, weights as
//! initializers, input `input` and output `output` with a symbolic batch dimension. Each layer
//! kind maps to standard operators: Conv (groups, stride, padding, dilation, bias),
//! BatchNormalization (inference form, running statistics), Gemm for Linear (burn's
//! `[d_input, d_output]` weight is Gemm's B as stored), LayerNormalization, Relu, Clip for ReLU6,
//! HardSwish, HardSigmoid, Sigmoid, Sigmoid and Mul for SiLU, Gelu in its Erf form, MaxPool,
//! AveragePool (`count_include_pad` as burn sets it; adaptive pooling when its windows are
//! equal), GlobalAveragePool and Flatten, Flatten, ConstantOfShape for the zero operation, Add for
//! sums and residuals, Div for means, Concat, Mul for gates. Dropout and identity add no node. A
//! layer without an exact mapping is an [`OnnxError::Unsupported`] naming it.
//!
//! [`Exported`] adds a test case in the ONNX test-data convention (`test_data_set_0/input_0.pb`,
//! `output_0.pb`: burn's output), writes it atomically, and [`check_file`] runs the written file
//! in tract ([`TractModel`]) against it.
//!
//! ```
//! use hwnas_onnx::{Exported, check_file, TOLERANCE};
//! use hwnas_space::{hub, module::Network};
//!
//! let space = hub::space("mobile-micro")?;
//! let architecture = space.resolve(&space.search_space().default_sample()?)?;
//! let device = burn::tensor::Device::flex();
//! let network = Network::init(&architecture, &device)?;
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("model.onnx");
//! Exported::new(&architecture, &network, &device, 2, 0)?.write(&path)?;
//! assert!(check_file(&path)?.relative() < TOLERANCE);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod export;
mod files;
mod layers;
mod tract;

pub use error::OnnxError;
pub use export::{BATCH, INPUT, IR_VERSION, OPSET, OUTPUT, encode, export, floats, tensor_proto};
pub use files::{
    Agreement, Exported, TEST_DATA_DIR, TOLERANCE, agreement, check_file, read_tensor,
};
pub use tract::{TRACT_VERSION, TractModel};

/// The ONNX protobuf messages, from tract (prost).
pub use tract_onnx::pb;
