//! The hub spaces: their vocabulary, and the networks their samples freeze into.

use burn::tensor::{Device, Tensor};
use hwnas_space::{Sample, Shape, SpaceError, hub};
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
            let network = space.freeze(&sample, &device).unwrap();
            let Shape::Image {
                channels,
                height,
                width,
            } = input
            else {
                unreachable!()
            };
            let logits = network
                .forward_logits(Tensor::<4>::ones([2, channels, height, width], &device))
                .unwrap();
            assert_eq!(logits.dims(), [2, expected.channels()], "{name} {sample}");
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
