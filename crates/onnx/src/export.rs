//! A frozen network as an ONNX graph: one node per operation, weights as initializers.

use burn::module::Param;
use burn::tensor::Tensor;
use hwnas_space::module::{Network, Op};
use hwnas_space::{Architecture, Block, Layer, Reduction, Shape};
use prost::Message;
use tract_onnx::pb;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;

use crate::OnnxError;

/// The operator set the graphs use: LayerNormalization needs 17.
pub const OPSET: i64 = 17;

/// The IR version that goes with [`OPSET`].
pub const IR_VERSION: i64 = 8;

/// The graph's input name.
pub const INPUT: &str = "input";

/// The graph's output name.
pub const OUTPUT: &str = "output";

/// The symbolic batch dimension of the input and output.
pub const BATCH: &str = "batch";

/// Exports `network`, the module of `architecture` (built by
/// [`Network::init`] or loaded from its record), to an ONNX model whose batch dimension is
/// symbolic.
///
/// Each operation becomes standard ONNX nodes (see the crate documentation); an operation with no
/// exact ONNX form is an [`OnnxError::Unsupported`] naming it, never an approximate graph.
pub fn export(architecture: &Architecture, network: &Network) -> Result<pb::ModelProto, OnnxError> {
    let mut graph = GraphBuilder::default();
    let input = Value {
        name: INPUT.to_string(),
        shape: architecture.input,
    };
    let output = graph.block(&architecture.root, &network.root, input.clone())?;
    // The output needs its own name; an identity network would otherwise output its input.
    graph.node(
        "Identity",
        "output",
        vec![output.name.clone()],
        Vec::new(),
        Some(OUTPUT),
    );
    let graph = pb::GraphProto {
        name: "hwnas".to_string(),
        node: graph.nodes,
        initializer: graph.initializers,
        input: vec![value_info(INPUT, input.shape)],
        output: vec![value_info(OUTPUT, output.shape)],
        ..Default::default()
    };
    Ok(pb::ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "hwnas".to_string(),
        producer_version: env!("CARGO_PKG_VERSION").to_string(),
        graph: Some(graph),
        ..Default::default()
    })
}

/// The model's protobuf bytes.
pub fn encode(model: &pb::ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// A tensor as an ONNX `TensorProto` (float, little-endian raw data).
pub fn tensor_proto(name: &str, dims: &[usize], values: &[f32]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.to_string(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: DataType::Float as i32,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// A named value of the graph and the shape of one example (batch excluded).
#[derive(Debug, Clone)]
pub(crate) struct Value {
    pub(crate) name: String,
    pub(crate) shape: Shape,
}

fn dims(shape: Shape) -> Vec<pb::tensor_shape_proto::Dimension> {
    use pb::tensor_shape_proto::{Dimension, dimension};
    let known = match shape {
        Shape::Image {
            channels,
            height,
            width,
        } => vec![channels, height, width],
        Shape::Flat(features) => vec![features],
    };
    std::iter::once(dimension::Value::DimParam(BATCH.to_string()))
        .chain(
            known
                .into_iter()
                .map(|d| dimension::Value::DimValue(d as i64)),
        )
        .map(|value| Dimension {
            value: Some(value),
            ..Default::default()
        })
        .collect()
}

fn value_info(name: &str, shape: Shape) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: name.to_string(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(pb::TensorShapeProto { dim: dims(shape) }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(crate) fn ints(name: &str, values: impl IntoIterator<Item = usize>) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.to_string(),
        r#type: AttributeType::Ints as i32,
        ints: values.into_iter().map(|v| v as i64).collect(),
        ..Default::default()
    }
}

pub(crate) fn int(name: &str, value: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.to_string(),
        r#type: AttributeType::Int as i32,
        i: value,
        ..Default::default()
    }
}

pub(crate) fn float(name: &str, value: f64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.to_string(),
        r#type: AttributeType::Float as i32,
        f: value as f32,
        ..Default::default()
    }
}

/// `[h, w]` padding as ONNX's `[top, left, bottom, right]`.
pub(crate) fn pads([h, w]: [usize; 2]) -> pb::AttributeProto {
    ints("pads", [h, w, h, w])
}

pub(crate) fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    floats(tensor.into_data())
}

/// A tensor's values as `f32`, whatever the backend's float type.
pub fn floats(data: burn::tensor::TensorData) -> Vec<f32> {
    data.convert::<f32>()
        .try_to_vec::<f32>()
        .expect("converted to f32")
}

#[derive(Default)]
pub(crate) struct GraphBuilder {
    nodes: Vec<pb::NodeProto>,
    initializers: Vec<pb::TensorProto>,
    counter: usize,
}

impl GraphBuilder {
    /// A fresh name with `prefix`.
    pub(crate) fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_{}", self.counter)
    }

    /// Adds a node named after its kind; returns its output's name (the node's, unless given).
    pub(crate) fn node(
        &mut self,
        op_type: &str,
        prefix: &str,
        input: Vec<String>,
        attribute: Vec<pb::AttributeProto>,
        output: Option<&str>,
    ) -> String {
        let name = self.fresh(prefix);
        let output = output.map_or_else(|| name.clone(), str::to_string);
        self.nodes.push(pb::NodeProto {
            input,
            output: vec![output.clone()],
            name,
            op_type: op_type.to_string(),
            attribute,
            ..Default::default()
        });
        output
    }

    /// A node of one output, the shape given.
    pub(crate) fn op(
        &mut self,
        op_type: &str,
        input: Vec<String>,
        attribute: Vec<pb::AttributeProto>,
        shape: Shape,
    ) -> Value {
        let prefix = op_type.to_lowercase();
        Value {
            name: self.node(op_type, &prefix, input, attribute, None),
            shape,
        }
    }

    pub(crate) fn initializer(&mut self, name: String, dims: &[usize], values: &[f32]) -> String {
        self.initializers.push(tensor_proto(&name, dims, values));
        name
    }

    pub(crate) fn param<const D: usize>(
        &mut self,
        owner: &str,
        what: &str,
        param: &Param<Tensor<D>>,
    ) -> String {
        let tensor = param.val();
        let dims = tensor.dims();
        self.initializer(format!("{owner}.{what}"), &dims, &values(tensor))
    }

    pub(crate) fn scalar(&mut self, prefix: &str, value: f32) -> String {
        let name = self.fresh(prefix);
        self.initializer(name, &[], &[value])
    }

    fn block(&mut self, block: &Block, op: &Op, input: Value) -> Result<Value, OnnxError> {
        match (block, op) {
            (Block::Layer(layer), op) => self.layer(layer, op, input),
            (Block::Sequential(children), Op::Sequential(sequence)) => {
                self.sequence(children, &sequence.ops, input)
            }
            (Block::Residual(body), op) => {
                // The network adds the input only where the body keeps its shape.
                let output = body.visit(input.shape, &mut |_: &Layer, _, _| Ok(()))?;
                if output != input.shape {
                    return self.block(body, op, input);
                }
                let Op::Sum(sum) = op else {
                    return Err(mismatch("a residual"));
                };
                let [Op::Identity(_), body_op] = &sum.branches[..] else {
                    return Err(mismatch("a residual"));
                };
                let body = self.block(body, body_op, input.clone())?;
                Ok(self.add_all(vec![input, body]))
            }
            (Block::Gate(body), Op::Gate(gate)) => {
                let gate_value =
                    self.sequence(std::slice::from_ref(body), &gate.body.ops, input.clone())?;
                let shape = hwnas_space::gate_shape(input.shape, gate_value.shape)?;
                Ok(self.op("Mul", vec![input.name, gate_value.name], Vec::new(), shape))
            }
            (Block::Sum(branches), Op::Sum(sum)) if branches.len() == sum.branches.len() => {
                let outputs = branches
                    .iter()
                    .zip(&sum.branches)
                    .map(|(branch, op)| self.block(branch, op, input.clone()))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(self.add_all(outputs))
            }
            (Block::Cell(nodes), Op::Cell(cell)) if nodes.len() == cell.nodes.len() => {
                let mut values = vec![input];
                for (node, module) in nodes.iter().zip(&cell.nodes) {
                    if node.inputs.len() != module.ops.len() {
                        return Err(mismatch("a cell node"));
                    }
                    let inputs = node
                        .inputs
                        .iter()
                        .zip(&module.ops)
                        .map(|((from, block), op)| {
                            let source = values
                                .get(*from)
                                .cloned()
                                .ok_or_else(|| mismatch("a cell's input order"))?;
                            self.block(block, op, source)
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let combined = self.combine(inputs, node.reduction)?;
                    values.push(combined);
                }
                Ok(values.pop().expect("a cell has its input node"))
            }
            _ => Err(mismatch("the network")),
        }
    }

    fn sequence(
        &mut self,
        children: &[Block],
        ops: &[Op],
        input: Value,
    ) -> Result<Value, OnnxError> {
        if children.len() != ops.len() {
            return Err(mismatch("a sequence"));
        }
        children
            .iter()
            .zip(ops)
            .try_fold(input, |value, (child, op)| self.block(child, op, value))
    }

    fn add_all(&mut self, values: Vec<Value>) -> Value {
        let mut values = values.into_iter();
        let first = values.next().expect("a sum has branches");
        values.fold(first, |sum, value| {
            self.op("Add", vec![sum.name, value.name], Vec::new(), sum.shape)
        })
    }

    fn combine(&mut self, inputs: Vec<Value>, reduction: Reduction) -> Result<Value, OnnxError> {
        let shapes: Vec<Shape> = inputs.iter().map(|v| v.shape).collect();
        let shape = hwnas_space::combine_shapes("cell node", &shapes, reduction)?;
        Ok(match reduction {
            Reduction::Concat => self.op(
                "Concat",
                inputs.into_iter().map(|v| v.name).collect(),
                vec![int("axis", 1)],
                shape,
            ),
            Reduction::Sum => self.add_all(inputs),
            Reduction::Mean => {
                let n = inputs.len();
                let sum = self.add_all(inputs);
                let n = self.scalar("count", n as f32);
                self.op("Div", vec![sum.name, n], Vec::new(), shape)
            }
        })
    }
}

/// The module does not have the architecture's structure: a caller's error, not the user's.
pub(crate) fn mismatch(what: &str) -> OnnxError {
    OnnxError::Mismatch(format!(
        "{what} of the module does not match its architecture"
    ))
}
