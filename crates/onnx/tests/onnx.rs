//! Exported models run in tract and agree with burn: every sample of a space built to hold every
//! layer kind, random samples of the hub spaces, initialised and trained weights,
//! batch 1 and 8.

use std::collections::BTreeSet;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};
use hwnas_onnx::{Exported, OnnxError, TOLERANCE, check_file, pb, read_tensor};
use hwnas_space::module::Network;
use hwnas_space::{
    ActivationFn, Architecture, Cell, CellNode, Conv2dSpec, InputChoice, Layer, ModelSpace, Node,
    PoolSpec, Reduction, Sample, Shape, Width, hub,
};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

fn conv(out: usize, kernel: usize, stride: usize) -> Node {
    Node::Layer(Layer::Conv2d(
        Conv2dSpec::new(Width::Fixed(out), kernel, stride).with_bias(true),
    ))
}

fn layer(layer: Layer) -> Node {
    Node::Layer(layer)
}

fn activation(function: ActivationFn) -> Layer {
    Layer::Activation { function }
}

fn batch_norm() -> Layer {
    Layer::BatchNorm {
        epsilon: 1e-5,
        momentum: 0.1,
    }
}

/// Every layer kind, every activation and every node kind, in 98 samples: each activation by a
/// choice, each cell operation (zero, identity, pools with and without padding counted, a
/// dilated and a plain convolution) by a choice, cell nodes that sum, average and concatenate, a residual that keeps its
/// shape and one that does not, a gate, a sum of branches, and two heads (adaptive pooling then
/// flatten, or global pooling) into batch norm, dropout, linear layers and a layer norm.
fn every_kind_space() -> ModelSpace {
    let activations = [
        ("relu", ActivationFn::Relu),
        ("relu6", ActivationFn::Relu6),
        ("gelu", ActivationFn::Gelu),
        ("silu", ActivationFn::Silu),
        ("hard_swish", ActivationFn::HardSwish),
        ("sigmoid", ActivationFn::Sigmoid),
        ("hard_sigmoid", ActivationFn::HardSigmoid),
    ]
    .map(|(name, function)| (name, layer(activation(function))));
    let mut dilated = Conv2dSpec::new(Width::Same, 3, 1).with_padding(2);
    dilated.dilation = [2, 2];
    let avg_pool = |count_include_pad| {
        layer(Layer::AvgPool2d {
            pool: PoolSpec::new(3, 1, 1),
            count_include_pad,
        })
    };
    let cell_ops = || {
        [
            ("none", layer(Layer::Zero)),
            ("skip", layer(Layer::Identity)),
            ("max_pool", layer(Layer::MaxPool2d(PoolSpec::new(3, 1, 1)))),
            ("avg_pool", avg_pool(true)),
            ("avg_pool_exclusive", avg_pool(false)),
            ("dilated", Node::Layer(Layer::Conv2d(dilated.clone()))),
            ("conv", conv(8, 3, 1)),
        ]
    };
    let cell = Node::Cell(Cell {
        nodes: vec![
            CellNode {
                inputs: vec![(0, Node::layer_choice("edge_a", cell_ops()))],
                select: None,
            },
            CellNode {
                inputs: vec![(0, Node::Layer(Layer::Conv2d(dilated))), (1, conv(8, 1, 1))],
                select: None,
            },
            CellNode {
                inputs: vec![
                    (1, layer(Layer::Identity)),
                    (2, conv(8, 3, 1)),
                    (0, layer(Layer::MaxPool2d(PoolSpec::new(3, 1, 1)))),
                ],
                select: Some(InputChoice {
                    label: "combine".into(),
                    n_chosen: 3,
                    reduction: Reduction::Mean,
                }),
            },
            CellNode {
                inputs: vec![(3, layer(Layer::Identity)), (1, conv(4, 1, 1))],
                select: Some(InputChoice {
                    label: "concat".into(),
                    n_chosen: 2,
                    reduction: Reduction::Concat,
                }),
            },
        ],
    });
    let head = Node::layer_choice(
        "head",
        [
            (
                "adaptive",
                Node::sequential([
                    layer(Layer::AdaptiveAvgPool2d { output: [2, 2] }),
                    layer(Layer::Flatten),
                ]),
            ),
            ("global", layer(Layer::GlobalAvgPool)),
        ],
    );
    let root = Node::sequential([
        conv(8, 3, 1),
        layer(batch_norm()),
        Node::layer_choice("activation", activations),
        Node::residual(Node::sequential([conv(8, 3, 1), layer(batch_norm())])),
        cell,
        Node::residual(conv(12, 3, 2)),
        Node::gate(Node::sequential([
            layer(Layer::AdaptiveAvgPool2d { output: [1, 1] }),
            conv(12, 1, 1),
            layer(activation(ActivationFn::HardSigmoid)),
        ])),
        Node::Sum(vec![conv(12, 1, 1), layer(Layer::Identity)]),
        head,
        layer(batch_norm()),
        layer(Layer::Dropout { prob: 0.5 }),
        layer(Layer::Linear {
            out_features: 16,
            bias: false,
        }),
        layer(Layer::LayerNorm { epsilon: 1e-5 }),
        layer(activation(ActivationFn::Gelu)),
        layer(Layer::Linear {
            out_features: 5,
            bias: true,
        }),
    ]);
    ModelSpace::new("every-kind", root, vec![], Shape::image(3, 8, 8)).unwrap()
}

fn op_types(model: &pb::ModelProto) -> BTreeSet<String> {
    let graph = model.graph.as_ref().unwrap();
    graph.node.iter().map(|n| n.op_type.clone()).collect()
}

/// Exports, writes and checks in tract from the files; returns the model and the relative error.
fn round_trip(
    space: &ModelSpace,
    sample: &Sample,
    network: &Network,
    device: &Device,
    batch: usize,
) -> (Exported, f64) {
    let architecture = space.resolve(sample).unwrap();
    let exported = Exported::new(&architecture, network, device, batch, 7).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.onnx");
    exported.write(&path).unwrap();
    let agreement = check_file(&path).unwrap_or_else(|e| panic!("{sample}: {e}"));
    assert!(
        agreement.relative() < TOLERANCE,
        "{sample} at batch {batch}: {agreement:?}"
    );
    (exported, agreement.relative())
}

#[test]
fn every_sample_of_every_layer_kind_agrees_in_tract() {
    let space = every_kind_space();
    let device = Device::flex();
    let samples: Vec<Sample> = space.search_space().grid().collect();
    assert_eq!(samples.len(), 7 * 7 * 2);
    let mut seen = BTreeSet::new();
    for (i, sample) in samples.iter().enumerate() {
        let network =
            hwnas_space::module::seeded(&device, i as u64, || space.freeze(sample, &device))
                .unwrap();
        let batch = if i % 2 == 0 { 1 } else { 8 };
        let (exported, _) = round_trip(&space, sample, &network, &device, batch);
        seen.extend(op_types(&exported.model));
    }
    let expected = [
        "Add",
        "AveragePool",
        "BatchNormalization",
        "Clip",
        "Concat",
        "ConstantOfShape",
        "Conv",
        "Div",
        "Erf",
        "Flatten",
        "Gemm",
        "GlobalAveragePool",
        "HardSigmoid",
        "HardSwish",
        "Identity",
        "LayerNormalization",
        "MaxPool",
        "Mul",
        "Relu",
        "Shape",
        "Sigmoid",
    ];
    assert_eq!(seen, expected.iter().map(|s| s.to_string()).collect());
}

#[test]
fn random_samples_of_every_hub_space_agree_in_tract() {
    let device = Device::flex();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    for (name, _) in hub::SPACES {
        let space = hub::space(name).unwrap();
        // ProxylessNAS at 64x64, the bench's input: its 224x224 would only make the test slower.
        let space = if name == "proxylessnas" {
            space.with_input(Shape::image(3, 64, 64))
        } else {
            space
        };
        for (k, batch) in [1, 8, 1].into_iter().enumerate() {
            let sample = space.search_space().random_sample(&mut rng).unwrap();
            let network =
                hwnas_space::module::seeded(&device, k as u64, || space.freeze(&sample, &device))
                    .unwrap();
            round_trip(&space, &sample, &network, &device, batch);
        }
    }
}

#[test]
fn trained_weights_and_statistics_agree_in_tract() {
    let space = every_kind_space();
    let device = Device::flex();
    let autodiff = device.clone().autodiff();
    let sample = space.search_space().default_sample().unwrap();
    let mut network =
        hwnas_space::module::seeded(&autodiff, 1, || space.freeze(&sample, &autodiff)).unwrap();
    let initial = network.valid();
    let mut optimizer = AdamConfig::new().init();
    let images = Tensor::<4>::random([16, 3, 8, 8], Distribution::Normal(0.5, 2.0), &autodiff);
    for _ in 0..5 {
        let logits = network.forward_logits(images.clone()).unwrap();
        let loss = (logits - 1.0).powi_scalar(2).mean();
        let gradients = GradientsParams::from_grads(loss.backward(), &network);
        network = optimizer.step(0.05, network, gradients);
    }
    let trained = network.valid();
    let (before, _) = round_trip(&space, &sample, &initial, &device, 4);
    let (after, _) = round_trip(&space, &sample, &trained, &device, 4);
    // The export carries what training changed: weights and running statistics.
    let initializers = |e: &Exported| e.model.graph.clone().unwrap().initializer;
    let changed = initializers(&before)
        .iter()
        .zip(initializers(&after).iter())
        .filter(|(a, b)| a.raw_data != b.raw_data)
        .map(|(a, _)| a.name.clone())
        .collect::<Vec<_>>();
    assert!(
        changed.iter().any(|n| n.ends_with(".weight")),
        "{changed:?}"
    );
    assert!(
        changed.iter().any(|n| n.ends_with(".running_var")),
        "{changed:?}"
    );
}

/// The default `mobile-micro` network on flex, with its architecture.
fn default_mobile_micro() -> (Architecture, Network, Device) {
    let space = hub::space("mobile-micro").unwrap();
    let device = Device::flex();
    let sample = space.search_space().default_sample().unwrap();
    let architecture = space.resolve(&sample).unwrap();
    let network = Network::init(&architecture, &device).unwrap();
    (architecture, network, device)
}

#[test]
fn the_model_declares_opset_names_and_a_symbolic_batch() {
    let (architecture, network, _) = default_mobile_micro();
    let model = hwnas_onnx::export(&architecture, &network).unwrap();
    assert_eq!(model.opset_import[0].version, hwnas_onnx::OPSET);
    assert_eq!(model.ir_version, hwnas_onnx::IR_VERSION);
    let graph = model.graph.unwrap();
    assert_eq!(graph.input[0].name, "input");
    assert_eq!(graph.output[0].name, "output");
    let Some(pb::type_proto::Value::TensorType(tensor)) =
        &graph.input[0].r#type.as_ref().unwrap().value
    else {
        panic!("the input is a tensor")
    };
    let first = &tensor.shape.as_ref().unwrap().dim[0];
    assert_eq!(
        first.value,
        Some(pb::tensor_shape_proto::dimension::Value::DimParam(
            "batch".into()
        ))
    );
    // One initializer per weight, named after its node.
    assert!(
        graph
            .initializer
            .iter()
            .any(|t| t.name.ends_with(".weight"))
    );
}

#[test]
fn uneven_adaptive_pooling_is_refused_by_name() {
    let root = Node::sequential([
        layer(Layer::AdaptiveAvgPool2d { output: [3, 3] }),
        layer(Layer::Flatten),
    ]);
    let space = ModelSpace::new("uneven", root, vec![], Shape::image(2, 8, 8)).unwrap();
    let device = Device::flex();
    let architecture = space
        .resolve(&space.search_space().default_sample().unwrap())
        .unwrap();
    let network = Network::init(&architecture, &device).unwrap();
    match hwnas_onnx::export(&architecture, &network) {
        Err(OnnxError::Unsupported { layer, why }) => {
            assert_eq!(layer, "adaptive_avg_pool2d");
            assert!(why.contains("8x8 to 3x3"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_write_leaves_what_was_there() {
    let (architecture, network, device) = default_mobile_micro();
    let dir = tempfile::tempdir().unwrap();
    let earlier = Exported::new(&architecture, &network, &device, 2, 0).unwrap();
    earlier.write(&dir.path().join("earlier.onnx")).unwrap();
    let exported = Exported::new(&architecture, &network, &device, 1, 0).unwrap();
    // The model's path is a directory: the last rename fails after everything else was written.
    let path = dir.path().join("model.onnx");
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("keep"), b"").unwrap();
    assert!(matches!(exported.write(&path), Err(OnnxError::Io { .. })));
    let mut left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["earlier.onnx", "model.onnx", "test_data_set_0"]);
    // The earlier model's test case is back in place.
    let (dims, _) = read_tensor(&dir.path().join("test_data_set_0/input_0.pb")).unwrap();
    assert_eq!(dims, [2, 1, 8, 8]);
    assert!(
        check_file(&dir.path().join("earlier.onnx"))
            .unwrap()
            .relative()
            < TOLERANCE
    );
    // A missing directory, or a file where the directory should be, is an error naming it.
    let missing = dir.path().join("missing/model.onnx");
    let error = exported.write(&missing).unwrap_err();
    assert!(
        error.is_input() && error.to_string().contains("missing"),
        "{error}"
    );
    let under_a_file = dir.path().join("earlier.onnx/model.onnx");
    let error = exported.write(&under_a_file).unwrap_err();
    assert!(error.to_string().contains("not a directory"), "{error}");
}

#[test]
fn the_check_reports_an_output_that_differs() {
    let (architecture, network, device) = default_mobile_micro();
    let mut exported = Exported::new(&architecture, &network, &device, 2, 0).unwrap();
    let mut first = [0u8; 4];
    first.copy_from_slice(&exported.output.raw_data[..4]);
    let shifted = f32::from_le_bytes(first) + 0.5;
    exported.output.raw_data[..4].copy_from_slice(&shifted.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.onnx");
    exported.write(&path).unwrap();
    let agreement = check_file(&path).unwrap();
    assert!((agreement.max_abs_diff - 0.5).abs() < 1e-3, "{agreement:?}");
    assert!(agreement.relative() > TOLERANCE);
    // A NaN is as far as can be, never a match.
    let nan = hwnas_onnx::agreement(&[f32::NAN, 1.0], &[0.0, 1.0]);
    assert_eq!(nan.max_abs_diff, f64::INFINITY);
}
