//! Each primitive layer as ONNX nodes.

use hwnas_space::module::Op;
use hwnas_space::{ActivationFn, Layer, Shape};
use tract_onnx::pb;
use tract_onnx::pb::attribute_proto::AttributeType;

use crate::OnnxError;
use crate::export::{GraphBuilder, Value, float, int, ints, mismatch, pads, tensor_proto, values};

impl GraphBuilder {
    pub(crate) fn layer(
        &mut self,
        layer: &Layer,
        op: &Op,
        input: Value,
    ) -> Result<Value, OnnxError> {
        let shape = layer.output_shape(input.shape)?;
        let x = input.name.clone();
        Ok(match (layer, op) {
            (Layer::Conv2d(spec), Op::Conv2d(conv)) => {
                let name = self.fresh("conv");
                let mut inputs = vec![x, self.param(&name, "weight", &conv.weight)];
                if let Some(bias) = &conv.bias {
                    inputs.push(self.param(&name, "bias", bias));
                }
                let attributes = vec![
                    ints("kernel_shape", conv.kernel_size),
                    ints("strides", conv.stride),
                    pads(spec.padding),
                    ints("dilations", conv.dilation),
                    int("group", conv.groups as i64),
                ];
                self.op("Conv", inputs, attributes, shape)
            }
            (Layer::Linear { .. }, Op::Linear(linear)) => {
                // burn stores the weight as [d_input, d_output]: Gemm's B without transposing.
                let name = self.fresh("linear");
                let mut inputs = vec![x, self.param(&name, "weight", &linear.weight)];
                if let Some(bias) = &linear.bias {
                    inputs.push(self.param(&name, "bias", bias));
                }
                self.op("Gemm", inputs, Vec::new(), shape)
            }
            (Layer::BatchNorm { epsilon, .. }, Op::BatchNorm(norm)) => {
                let name = self.fresh("batch_norm");
                let inputs = vec![
                    x,
                    self.param(&name, "gamma", &norm.gamma),
                    self.param(&name, "beta", &norm.beta),
                    self.initializer(
                        format!("{name}.running_mean"),
                        &[shape.channels()],
                        &values(norm.running_mean.value()),
                    ),
                    self.initializer(
                        format!("{name}.running_var"),
                        &[shape.channels()],
                        &values(norm.running_var.value()),
                    ),
                ];
                self.op(
                    "BatchNormalization",
                    inputs,
                    vec![float("epsilon", *epsilon)],
                    shape,
                )
            }
            (Layer::LayerNorm { epsilon }, Op::LayerNorm(norm)) => {
                let name = self.fresh("layer_norm");
                let mut inputs = vec![x, self.param(&name, "gamma", &norm.gamma)];
                if let Some(beta) = &norm.beta {
                    inputs.push(self.param(&name, "beta", beta));
                }
                let attributes = vec![int("axis", -1), float("epsilon", *epsilon)];
                self.op("LayerNormalization", inputs, attributes, shape)
            }
            (Layer::Activation { function }, _) => self.activation(*function, input, op)?,
            (Layer::MaxPool2d(spec), Op::MaxPool2d(_)) => {
                let attributes = vec![
                    ints("kernel_shape", spec.kernel),
                    ints("strides", spec.stride),
                    pads(spec.padding),
                ];
                self.op("MaxPool", vec![x], attributes, shape)
            }
            (
                Layer::AvgPool2d {
                    pool,
                    count_include_pad,
                },
                Op::AvgPool2d(_),
            ) => {
                let attributes = vec![
                    ints("kernel_shape", pool.kernel),
                    ints("strides", pool.stride),
                    pads(pool.padding),
                    int("count_include_pad", i64::from(*count_include_pad)),
                ];
                self.op("AveragePool", vec![x], attributes, shape)
            }
            (Layer::AdaptiveAvgPool2d { output }, Op::AdaptiveAvgPool2d(_)) => {
                let Shape::Image { height, width, .. } = input.shape else {
                    return Err(mismatch("adaptive average pooling"));
                };
                let [out_h, out_w] = *output;
                // Equal windows only: ONNX has no adaptive pooling, and burn's uneven windows
                // would need a slice per output cell.
                if out_h == 0 || out_w == 0 || height % out_h != 0 || width % out_w != 0 {
                    return Err(OnnxError::Unsupported {
                        layer: "adaptive_avg_pool2d".into(),
                        why: format!(
                            "{height}x{width} to {out_h}x{out_w} has uneven windows, \
                             which no standard ONNX pooling computes"
                        ),
                    });
                }
                let kernel = [height / out_h, width / out_w];
                let attributes = vec![ints("kernel_shape", kernel), ints("strides", kernel)];
                self.op("AveragePool", vec![x], attributes, shape)
            }
            (Layer::GlobalAvgPool, Op::GlobalAvgPool(_)) => {
                let Shape::Image { channels, .. } = input.shape else {
                    return Err(mismatch("global average pooling"));
                };
                let pooled = self.op(
                    "GlobalAveragePool",
                    vec![x],
                    Vec::new(),
                    Shape::image(channels, 1, 1),
                );
                self.op("Flatten", vec![pooled.name], vec![int("axis", 1)], shape)
            }
            // Dropout is the identity at inference, which is what an exported model runs.
            (Layer::Dropout { .. }, Op::Dropout(_)) | (Layer::Identity, Op::Identity(_)) => input,
            (Layer::Flatten, Op::Flatten(_)) => {
                self.op("Flatten", vec![x], vec![int("axis", 1)], shape)
            }
            (Layer::Zero, Op::Zero(_)) => {
                // The Shape node's own output is the 1-d shape; only its name is used.
                let of = self.op("Shape", vec![x], Vec::new(), shape);
                let zero = pb::AttributeProto {
                    name: "value".to_string(),
                    r#type: AttributeType::Tensor as i32,
                    t: Some(tensor_proto("zero", &[1], &[0.0])),
                    ..Default::default()
                };
                self.op("ConstantOfShape", vec![of.name], vec![zero], shape)
            }
            (layer, _) => return Err(mismatch(layer.kind())),
        })
    }

    fn activation(
        &mut self,
        function: ActivationFn,
        input: Value,
        op: &Op,
    ) -> Result<Value, OnnxError> {
        let Value { name: x, shape } = input;
        Ok(match (function, op) {
            (ActivationFn::Relu, Op::Relu(_)) => self.op("Relu", vec![x], Vec::new(), shape),
            (ActivationFn::Relu6, Op::Relu6(_)) => {
                let low = self.scalar("zero", 0.0);
                let high = self.scalar("six", 6.0);
                self.op("Clip", vec![x, low, high], Vec::new(), shape)
            }
            (ActivationFn::Sigmoid, Op::Sigmoid(_)) => {
                self.op("Sigmoid", vec![x], Vec::new(), shape)
            }
            (ActivationFn::Silu, Op::Silu(_)) => {
                let gate = self.op("Sigmoid", vec![x.clone()], Vec::new(), shape);
                self.op("Mul", vec![x, gate.name], Vec::new(), shape)
            }
            (ActivationFn::HardSwish, Op::HardSwish(_)) => {
                self.op("HardSwish", vec![x], Vec::new(), shape)
            }
            (ActivationFn::HardSigmoid, Op::HardSigmoid(m)) => self.op(
                "HardSigmoid",
                vec![x],
                vec![float("alpha", m.alpha), float("beta", m.beta)],
                shape,
            ),
            (ActivationFn::Gelu, Op::Gelu(gelu)) => {
                // The spaces build exact Gelu; a module loaded otherwise is refused, not rounded.
                if gelu.approximate {
                    return Err(OnnxError::Unsupported {
                        layer: "gelu".into(),
                        why: "the tanh approximation needs opset 20".into(),
                    });
                }
                // 0.5 x (1 + erf(x / sqrt 2)): ONNX's Gelu operator needs opset 20.
                let root2 = self.scalar("sqrt2", std::f32::consts::SQRT_2);
                let one = self.scalar("one", 1.0);
                let half = self.scalar("half", 0.5);
                let scaled = self.op("Div", vec![x.clone(), root2], Vec::new(), shape);
                let erf = self.op("Erf", vec![scaled.name], Vec::new(), shape);
                let plus = self.op("Add", vec![erf.name, one], Vec::new(), shape);
                let times = self.op("Mul", vec![x, plus.name], Vec::new(), shape);
                self.op("Mul", vec![times.name, half], Vec::new(), shape)
            }
            (function, _) => return Err(mismatch(&format!("activation {function:?}"))),
        })
    }
}
