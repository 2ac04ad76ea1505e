//! The second runtime: an exported model loaded, optimized and run in tract.

use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::OnnxError;

/// The tract release models are checked and timed in (the workspace pins it).
pub const TRACT_VERSION: &str = "0.23.9";

/// An ONNX model loaded in tract for one input shape, optimized, ready to run on this CPU (one
/// thread: tract's default executor).
pub struct TractModel {
    runnable: Arc<TypedRunnableModel>,
    input: Vec<usize>,
}

impl std::fmt::Debug for TractModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TractModel")
            .field("input", &self.input)
            .finish_non_exhaustive()
    }
}

impl TractModel {
    /// Loads the ONNX `bytes` with its input fixed to `input` (batch first).
    pub fn load(bytes: &[u8], input: &[usize]) -> Result<Self, OnnxError> {
        let runnable = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .and_then(|model| {
                model.with_input_fact(0, InferenceFact::dt_shape(f32::datum_type(), input))
            })
            .and_then(|model| model.into_optimized())
            .and_then(|model| model.into_runnable())
            .map_err(OnnxError::tract)?;
        Ok(Self {
            runnable,
            input: input.to_vec(),
        })
    }

    /// The input shape it was loaded for.
    pub fn input(&self) -> &[usize] {
        &self.input
    }

    /// Runs it on `input` (its input shape's elements, row-major); returns the first output and
    /// its shape.
    pub fn run(&self, input: &[f32]) -> Result<(Vec<f32>, Vec<usize>), OnnxError> {
        let outputs = self.run_value(self.input_value(input)?)?;
        let output = outputs
            .first()
            .ok_or_else(|| OnnxError::Tract("the model has no output".into()))?;
        let view = output
            .to_plain_array_view::<f32>()
            .map_err(OnnxError::tract)?;
        Ok((view.iter().copied().collect(), view.shape().to_vec()))
    }

    /// `input` (its input shape's elements, row-major) in tract's form, for [`run_value`](Self::run_value).
    pub fn input_value(&self, input: &[f32]) -> Result<TValue, OnnxError> {
        let tensor = Tensor::from_shape(&self.input, input).map_err(OnnxError::tract)?;
        Ok(tensor.into_tvalue())
    }

    /// Runs it on an input already in tract's form (what timing repeats).
    pub fn run_value(&self, input: TValue) -> Result<TVec<TValue>, OnnxError> {
        self.runnable.run(tvec!(input)).map_err(OnnxError::tract)
    }
}
