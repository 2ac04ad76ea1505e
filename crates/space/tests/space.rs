//! The hub spaces: their vocabulary, and the networks their samples freeze into.

use burn::tensor::{Device, Tensor};
use hwnas_space::{ModelSpace, Sample, Shape, SpaceError, hub};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

#[test]
fn hub_spaces_have_the_reference_vocabulary() {
    let proxyless = hub::space("proxylessnas").unwrap();
    let space = proxyless.search_space();
    assert_eq!(space.len(), 26);
    // 6^21 * 4^5 ~ 2.2e19: beyond u64, so the size is a float.
    let expected = 21.0 * 6f64.log10() + 5.0 * 4f64.log10();
    assert!((space.log10_size() - expected).abs() < 1e-9);
    let names: Vec<String> = space
        .choice("s4_i2")
        .unwrap()
        .values
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "\"k3e3\"", "\"k5e3\"", "\"k7e3\"", "\"k3e6\"", "\"k5e6\"", "\"k7e6\""
        ]
    );

    let nasbench = hub::space("nasbench201").unwrap();
    let labels: Vec<&str> = nasbench
        .search_space()
        .choices()
        .iter()
        .map(|c| c.label.as_ref())
        .collect();
    assert_eq!(
        labels,
        [
            "cell/0_1", "cell/0_2", "cell/1_2", "cell/0_3", "cell/1_3", "cell/2_3"
        ]
    );
    assert_eq!(nasbench.search_space().count_valid(1e6), Some(15_625));

    let micro = hub::space("mobile-micro").unwrap();
    let valid = micro.search_space();
    // Widths never shrink from one stage to the next.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    for _ in 0..100 {
        let sample = valid.random_sample(&mut rng).unwrap();
        let width = |label: &str| sample.get(label).unwrap().as_i64().unwrap();
        assert!(width("s1_width") <= width("s2_width") && width("s2_width") <= width("s3_width"));
    }
    assert!(matches!(
        hub::space("resnet"),
        Err(SpaceError::UnknownSpace { .. })
    ));
}

/// The dims of the logits of `sample`'s network on a batch of ones at the space's input.
fn logits_dims(space: &ModelSpace, sample: &Sample, batch: usize, device: &Device) -> [usize; 2] {
    let Shape::Image {
        channels,
        height,
        width,
    } = space.input()
    else {
        unreachable!("networks take images")
    };
    let network = space.freeze(sample, device).unwrap();
    network
        .forward_logits(Tensor::<4>::ones([batch, channels, height, width], device))
        .unwrap()
        .dims()
}

#[test]
fn frozen_networks_run_forward_with_the_declared_shapes() {
    let device = Device::flex();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let cases = [
        ("proxylessnas", Shape::image(3, 64, 64)),
        ("nasbench201", Shape::image(3, 32, 32)),
        ("mobile-micro", Shape::image(1, 8, 8)),
        ("mobile-micro", Shape::image(1, 28, 28)),
    ];
    for (name, input) in cases {
        let space = hub::space(name).unwrap().with_input(input);
        for _ in 0..2 {
            let sample = space.search_space().random_sample(&mut rng).unwrap();
            let architecture = space.resolve(&sample).unwrap();
            let expected = architecture.output_shape().unwrap();
            let dims = logits_dims(&space, &sample, 2, &device);
            assert_eq!(dims, [2, expected.channels()], "{name} {sample}");
        }
    }
}

#[test]
fn freeze_rejects_invalid_samples_before_burn() {
    let device = Device::flex();
    let space = hub::space("mobile-micro").unwrap();
    let mut sample = space.search_space().default_sample().unwrap();
    sample.insert("s1_width", 16);
    sample.insert("s2_width", 16);
    sample.insert("s3_width", 24);
    assert!(space.freeze(&sample, &device).is_ok());
    sample.insert("s2_width", 32);
    let error = space.freeze(&sample, &device).unwrap_err();
    assert_eq!(
        error.to_string(),
        "constraint violated: s2_width <= s3_width"
    );
    let error = space.freeze(&Sample::new(), &device).unwrap_err();
    assert!(matches!(error, SpaceError::MissingLabel { .. }));
}

#[test]
fn architecture_round_trips_through_json() {
    let space = hub::space("nasbench201").unwrap();
    let sample = space.search_space().default_sample().unwrap();
    let architecture = space.resolve(&sample).unwrap();
    let json = serde_json::to_string(&architecture).unwrap();
    let back: hwnas_space::Architecture = serde_json::from_str(&json).unwrap();
    assert_eq!(back, architecture);
    let unknown = json.replacen("\"conv2d\"", "\"conv3d\"", 1);
    let error = serde_json::from_str::<hwnas_space::Architecture>(&unknown).unwrap_err();
    assert!(error.to_string().contains("conv3d"), "{error}");
}

#[test]
fn architecture_hash_tells_networks_apart_not_labels() {
    let space = hub::space("mobile-micro").unwrap();
    let mut shallow = space.search_space().default_sample().unwrap();
    shallow.insert("s1_depth", 1);
    // Block 2 of stage 1 is beyond depth 1: its kernel is never read.
    let mut unread = shallow.clone();
    unread.insert("s1_b2_kernel", 5);
    unread.insert("s1_b2_expand", 6.0);
    assert_ne!(shallow.stable_hash(), unread.stable_hash());
    let hash = |sample| space.architecture_hash(sample).unwrap();
    assert_eq!(hash(&shallow), hash(&unread));
    // Block 1 is built at depth 1: its kernel is read.
    let mut read = shallow.clone();
    read.insert("s1_b0_kernel", 5);
    assert_ne!(hash(&shallow), hash(&read));
    let mut deeper = unread.clone();
    deeper.insert("s1_depth", 3);
    assert_ne!(hash(&unread), hash(&deeper));
    assert!(space.architecture_hash(&Sample::default()).is_err());
}

/// Over every pair of `samples`: the architecture hashes are equal exactly when the resolved
/// networks are. Returns how many pairs of different samples share a network.
fn check_architecture_hash_is_the_network(space: &ModelSpace, samples: &[Sample]) -> usize {
    let keyed: Vec<(&Sample, u64, String)> = samples
        .iter()
        .map(|sample| {
            let network = serde_json::to_string(&space.resolve(sample).unwrap()).unwrap();
            (sample, space.architecture_hash(sample).unwrap(), network)
        })
        .collect();
    let mut n_shared = 0;
    for (i, (sample_a, hash_a, network_a)) in keyed.iter().enumerate() {
        for (sample_b, hash_b, network_b) in &keyed[i + 1..] {
            assert_eq!(
                hash_a == hash_b,
                network_a == network_b,
                "{}: {network_a} / {network_b}",
                space.name()
            );
            n_shared += usize::from(sample_a != sample_b && network_a == network_b);
        }
    }
    n_shared
}

#[test]
fn architecture_hash_is_equal_exactly_when_networks_are() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    for name in ["proxylessnas", "mobile-micro", "nasbench201"] {
        let space = hub::space(name).unwrap();
        let decisions = space.search_space();
        let mut samples = Vec::new();
        // Random samples, each next to itself with one decision changed.
        for _ in 0..300 {
            let sample = decisions.random_sample(&mut rng).unwrap();
            let mut indices = decisions.indices(&sample).unwrap();
            let at = rand::RngExt::random_range(&mut rng, 0..indices.len());
            let n_values = decisions.choices()[at].len();
            indices[at] = (indices[at] + 1) % n_values;
            if decisions.check_constraints(&indices).is_ok() {
                samples.push(decisions.sample_at(&indices));
            }
            samples.push(sample);
        }
        let n_shared = check_architecture_hash_is_the_network(&space, &samples);
        // Every decision of NAS-Bench-201 is read; the other spaces repeat blocks up to a depth.
        assert_eq!(n_shared > 0, name != "nasbench201", "{name}: {n_shared}");
    }
}

mod supernet {
    use burn::tensor::{Device, Tensor, Tolerance};
    use hwnas_space::module::{Mix, Network, Op, Supernet};
    use hwnas_space::{
        Cell, CellNode, Conv2dSpec, Groups, InputChoice, Layer, ModelSpace, Node, PoolSpec,
        Reduction, Sample, Shape, hub,
    };
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    fn conv(out: usize, kernel: usize, stride: usize) -> Node {
        Node::Layer(Layer::Conv2d(
            Conv2dSpec::new(hwnas_space::Width::Fixed(out), kernel, stride).with_bias(true),
        ))
    }

    /// Value choices over widths and kernels (shared by slicing), a structural value choice (not
    /// shared), a repeat that changes the shape, a gate, a residual, a sum of branches, a
    /// concatenating input choice, a layer norm and a linear head.
    fn mixed_space() -> ModelSpace {
        let separable = |kernel: usize| {
            Node::sequential([
                Node::Layer(Layer::Conv2d(
                    Conv2dSpec::new(hwnas_space::Width::Same, kernel, 1)
                        .with_groups(Groups::Depthwise),
                )),
                Node::Layer(Layer::BatchNorm {
                    epsilon: 1e-5,
                    momentum: 0.1,
                }),
            ])
        };
        let cell = Node::Cell(Cell {
            nodes: vec![
                CellNode {
                    inputs: vec![(0, conv(8, 3, 1)), (0, conv(8, 1, 1))],
                    select: None,
                },
                CellNode {
                    inputs: vec![
                        (
                            0,
                            Node::layer_choice(
                                "edge",
                                [
                                    ("conv", conv(8, 3, 1)),
                                    ("skip", Node::Layer(Layer::Identity)),
                                ],
                            ),
                        ),
                        (1, Node::Layer(Layer::Identity)),
                        (1, Node::Layer(Layer::MaxPool2d(PoolSpec::new(3, 1, 1)))),
                    ],
                    select: Some(InputChoice {
                        label: "pick".into(),
                        n_chosen: 2,
                        reduction: Reduction::Concat,
                    }),
                },
            ],
        });
        let root = Node::sequential([
            Node::value_choice("width", [8usize, 16], |w| {
                conv(w.as_i64().unwrap() as usize, 3, 1)
            }),
            Node::value_choice("kernel", [3usize, 5, 7], |k| {
                separable(k.as_i64().unwrap() as usize)
            }),
            Node::value_choice("shape", [1usize, 2], |n| match n.as_i64().unwrap() {
                1 => Node::Layer(Layer::Identity),
                _ => Node::sequential([separable(3), separable(3)]),
            }),
            Node::repeat("depth", [0, 1, 2], |i| conv(8 * (i + 1), 3, 2)),
            Node::gate(Node::sequential([
                Node::Layer(Layer::AdaptiveAvgPool2d { output: [1, 1] }),
                Node::Layer(Layer::Conv2d(Conv2dSpec::new(
                    hwnas_space::Width::Reduce {
                        ratio: 0.5,
                        divisor: 4,
                    },
                    1,
                    1,
                ))),
                Node::Layer(Layer::Conv2d(Conv2dSpec::new(
                    hwnas_space::Width::Expand {
                        ratio: 2.0,
                        divisor: 4,
                    },
                    1,
                    1,
                ))),
                Node::Layer(Layer::Activation {
                    function: hwnas_space::ActivationFn::Sigmoid,
                }),
            ])),
            conv(8, 1, 1),
            Node::residual(conv(8, 3, 1)),
            Node::Sum(vec![conv(8, 1, 1), Node::Layer(Layer::Identity)]),
            cell,
            Node::Layer(Layer::GlobalAvgPool),
            Node::Layer(Layer::LayerNorm { epsilon: 1e-5 }),
            Node::Layer(Layer::Linear {
                out_features: 3,
                bias: true,
            }),
        ]);
        ModelSpace::new("mixed", root, vec![], Shape::image(2, 12, 12)).unwrap()
    }

    #[test]
    fn architecture_hash_is_the_network_on_every_sample_of_every_node_kind() {
        let space = mixed_space();
        let samples: Vec<Sample> = space.search_space().grid().collect();
        assert!(super::check_architecture_hash_is_the_network(&space, &samples) > 0);
    }

    fn images(space: &ModelSpace, batch: usize, device: &Device) -> Tensor<4> {
        let Shape::Image {
            channels,
            height,
            width,
        } = space.input()
        else {
            unreachable!()
        };
        Tensor::random(
            [batch, channels, height, width],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            device,
        )
    }

    /// Trains the running statistics of the supernet on `samples`, then checks every sample's
    /// output through the supernet against its exported network.
    fn check_export_equals_supernet(space: &ModelSpace, samples: &[Sample]) {
        let device = Device::flex();
        device.seed(3);
        let supernet = Supernet::init(space, &device.clone().autodiff()).unwrap();
        for sample in samples {
            supernet
                .forward_logits(sample, images(space, 4, &device.clone().autodiff()))
                .unwrap();
        }
        let supernet = burn::module::Module::valid(&supernet);
        let x = images(space, 3, &device);
        for sample in samples {
            let shared = supernet.forward_logits(sample, x.clone()).unwrap();
            let network = supernet.export(sample).unwrap();
            let standalone = network.forward_logits(x.clone()).unwrap();
            shared
                .into_data()
                .assert_approx_eq::<f32>(&standalone.into_data(), Tolerance::absolute(1e-5));
            let fresh = space.freeze(sample, &device).unwrap();
            assert_eq!(
                burn::module::Module::num_params(&network),
                burn::module::Module::num_params(&fresh),
                "{sample}"
            );
        }
    }

    #[test]
    fn supernet_subnets_equal_their_exported_networks() {
        let space = mixed_space();
        let samples: Vec<Sample> = space
            .search_space()
            .grid()
            .filter(|sample| space.resolve(sample).unwrap().output_shape().is_ok())
            .collect();
        assert_eq!(samples.len(), 2 * 3 * 2 * 3 * 2 * 3);
        check_export_equals_supernet(&space, &samples);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        for (name, input) in [
            ("mobile-micro", Shape::image(1, 8, 8)),
            ("nasbench201", Shape::image(3, 8, 8)),
            ("proxylessnas", Shape::image(3, 32, 32)),
        ] {
            let space = hub::space(name).unwrap().with_input(input);
            let samples: Vec<Sample> = (0..4)
                .map(|_| space.search_space().random_sample(&mut rng).unwrap())
                .collect();
            check_export_equals_supernet(&space, &samples);
        }
    }

    fn conv_weights(op: &Op, out: &mut Vec<Tensor<4>>) {
        match op {
            Op::Conv2d(conv) => out.push(conv.weight.val()),
            Op::Sequential(s) => s.ops.iter().for_each(|op| conv_weights(op, out)),
            Op::Sum(s) => s.branches.iter().for_each(|op| conv_weights(op, out)),
            Op::Gate(g) => g.body.ops.iter().for_each(|op| conv_weights(op, out)),
            Op::Cell(c) => c
                .nodes
                .iter()
                .flat_map(|n| &n.ops)
                .for_each(|op| conv_weights(op, out)),
            _ => {}
        }
    }

    fn exported_convs(network: &Network) -> Vec<Tensor<4>> {
        let mut out = Vec::new();
        conv_weights(&network.root, &mut out);
        out
    }

    #[test]
    fn supernet_shares_weights_by_slicing_widths_and_kernels() {
        let space = mixed_space();
        let device = Device::flex();
        let supernet = Supernet::init(&space, &device).unwrap();
        let mut sample = space.search_space().default_sample().unwrap();
        let export = |sample: &Sample| exported_convs(&supernet.export(sample).unwrap());
        sample.insert("kernel", 7);
        let wide = export(&sample);
        sample.insert("kernel", 3);
        let narrow = export(&sample);
        // The second convolution is the depthwise one: kernel 3 is the centre of kernel 7.
        assert_eq!(wide[1].dims(), [8, 1, 7, 7]);
        assert_eq!(narrow[1].dims(), [8, 1, 3, 3]);
        narrow[1].clone().into_data().assert_eq(
            &wide[1].clone().slice([0..8, 0..1, 2..5, 2..5]).into_data(),
            true,
        );
        sample.insert("width", 16);
        let sixteen = export(&sample);
        assert_eq!(sixteen[0].dims(), [16, 2, 3, 3]);
        wide[0].clone().into_data().assert_eq(
            &sixteen[0]
                .clone()
                .slice([0..8, 0..2, 0..3, 0..3])
                .into_data(),
            true,
        );
        // Candidates of different structure keep their own modules; the supernet holds each
        // shared convolution once, at its largest.
        let shape_two = {
            sample.insert("shape", 2);
            export(&sample)
        };
        assert_eq!(shape_two.len(), sixteen.len() + 2);
    }

    #[test]
    fn mixed_forward_with_one_hot_mixes_is_the_fixed_forward() {
        let device = Device::flex();
        let space = hub::space("nasbench201")
            .unwrap()
            .with_input(Shape::image(3, 8, 8));
        let supernet = Supernet::init(&space, &device).unwrap();
        supernet.check_mixable().unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
        let sample = space.search_space().random_sample(&mut rng).unwrap();
        let indices = space.search_space().indices(&sample).unwrap();
        let x = images(&space, 2, &device);
        let fixed = supernet.forward_logits(&sample, x.clone()).unwrap();
        let one_hot = |(choice, &index): (&hwnas_space::Choice, &usize)| {
            let mut weights = vec![0.0f32; choice.values.len()];
            weights[index] = 1.0;
            Mix::Soft(Tensor::from_floats(weights.as_slice(), &device))
        };
        let soft: Vec<Mix> = space
            .search_space()
            .choices()
            .iter()
            .zip(&indices)
            .map(one_hot)
            .collect();
        let binary: Vec<Mix> = indices
            .iter()
            .map(|&index| Mix::Binary {
                index,
                gate: Tensor::ones([1], &device),
            })
            .collect();
        for mixes in [soft, binary] {
            supernet
                .forward_mixed(&mixes, x.clone())
                .unwrap()
                .into_data()
                .assert_approx_eq::<f32>(&fixed.clone().into_data(), Tolerance::absolute(1e-5));
        }
    }

    #[test]
    fn supernet_refuses_mixing_candidates_of_different_resolutions() {
        let space = mixed_space();
        let supernet = Supernet::init(&space, &Device::flex()).unwrap();
        let error = supernet.check_mixable().unwrap_err().to_string();
        assert!(error.contains("`depth`"), "{error}");
    }
}

/// A cell on flat features concatenates along the features, as its shape rule says.
#[test]
fn a_cell_on_flat_features_concatenates_them() {
    use hwnas_space::{Cell, CellNode, InputChoice, Layer, Node, Reduction};
    let linear = |out_features| {
        Node::Layer(Layer::Linear {
            out_features,
            bias: true,
        })
    };
    let cell = Node::Cell(Cell {
        nodes: vec![CellNode {
            inputs: vec![(0, linear(4)), (0, linear(3))],
            select: Some(InputChoice {
                label: "both".into(),
                n_chosen: 2,
                reduction: Reduction::Concat,
            }),
        }],
    });
    let root = Node::sequential([Node::Layer(Layer::GlobalAvgPool), cell]);
    let space = ModelSpace::new("flat-cell", root, vec![], Shape::image(2, 4, 4)).unwrap();
    let sample = space.search_space().default_sample().unwrap();
    assert_eq!(
        space.resolve(&sample).unwrap().output_shape().unwrap(),
        Shape::Flat(7)
    );
    assert_eq!(logits_dims(&space, &sample, 3, &Device::flex()), [3, 7]);
}

/// A hub space built for a data set's shape and classes, or an error naming both.
#[test]
fn hub_spaces_build_for_the_data_they_are_given() {
    let device = Device::flex();
    let cases = [
        ("mobile-micro", Shape::image(1, 28, 28), 3),
        ("nasbench201", Shape::image(3, 32, 32), 100),
        ("nasbench201", Shape::image(1, 28, 28), 10),
        ("proxylessnas", Shape::image(3, 32, 32), 10),
    ];
    for (name, input, classes) in cases {
        let space = hub::space_for(name, input, classes).unwrap();
        assert_eq!(space.input(), input);
        let sample = space.search_space().default_sample().unwrap();
        assert_eq!(
            logits_dims(&space, &sample, 2, &device),
            [2, classes],
            "{name}"
        );
    }
    // The default shapes give the shared build: samples are recognised by pointer.
    let shared = hub::space_for("nasbench201", Shape::image(3, 32, 32), 10).unwrap();
    let sample = hub::space("nasbench201")
        .unwrap()
        .search_space()
        .default_sample()
        .unwrap();
    shared.resolve(&sample).unwrap();
    match hub::space_for("nasbench201", Shape::image(3, 5, 5), 10) {
        Err(error @ SpaceError::InputNotTaken { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("`nasbench201` cannot take 3x5x5 inputs: shape error"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(hub::space_for("mobile-micro", Shape::image(1, 8, 8), 1).is_err());
    assert!(matches!(
        hub::space_for("resnet", Shape::image(3, 32, 32), 10),
        Err(SpaceError::UnknownSpace { .. })
    ));
}

/// A sample drawn from a space (indices into its shared vocabulary) reads, compares, hashes,
/// serializes and validates exactly as the same sample written out label by label.
#[test]
fn drawn_samples_behave_as_their_entries() {
    let space = hub::space("proxylessnas").unwrap();
    let search_space = space.search_space();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let drawn = search_space.random_sample(&mut rng).unwrap();
    let parsed = Sample::from_json(&drawn.to_json()).unwrap();
    assert_eq!(drawn, parsed);
    assert_eq!(parsed, drawn);
    assert_eq!(drawn.stable_hash(), parsed.stable_hash());
    assert_eq!(format!("{drawn:?}"), format!("{parsed:?}"));
    assert_eq!(drawn.len(), parsed.len());
    assert!(drawn.iter().eq(parsed.iter()));
    assert_eq!(drawn.get("s2_depth"), parsed.get("s2_depth"));
    assert_eq!(drawn.get("missing"), None);
    // The same indices from the space itself, from the labels, and from another build of it.
    let fast = search_space.indices(&drawn).unwrap();
    assert_eq!(fast, search_space.indices(&parsed).unwrap());
    let rebuilt =
        hwnas_space::hub::proxylessnas(&hwnas_space::hub::ProxylessConfig::default()).unwrap();
    assert_eq!(rebuilt.search_space().indices(&drawn).unwrap(), fast);
    // Changing a value writes the sample out; it is then another sample.
    let mut changed = drawn.clone();
    let other = if drawn.get("s2_depth").unwrap().to_string() == "1" {
        2
    } else {
        1
    };
    changed.insert("s2_depth", other);
    assert_ne!(changed, drawn);
    assert_eq!(
        changed.get("s2_depth").unwrap().to_string(),
        other.to_string()
    );
    assert_ne!(search_space.indices(&changed).unwrap(), fast);
}
