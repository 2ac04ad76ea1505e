//! Exact counts on the hub spaces: published check values, precomputed tables against the direct
//! layer-by-layer count, and parameters against burn's own count of the frozen module.

use burn::module::Module;
use burn::tensor::Device;
use hwnas_profiler::{CountOptions, CountProfiler, Counts, Profiler, count_architecture};
use hwnas_space::{ModelSpace, Sample, Shape, hub};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

const PROXYLESS_MOBILE: &str = r#"{
    "s2_depth": 2, "s2_i0": "k5e3", "s2_i1": "k3e3", "s2_i2": "k3e3", "s2_i3": "k3e3",
    "s3_depth": 4, "s3_i0": "k7e3", "s3_i1": "k3e3", "s3_i2": "k5e3", "s3_i3": "k5e3",
    "s4_depth": 4, "s4_i0": "k7e6", "s4_i1": "k5e3", "s4_i2": "k5e3", "s4_i3": "k5e3",
    "s5_depth": 4, "s5_i0": "k5e6", "s5_i1": "k5e3", "s5_i2": "k5e3", "s5_i3": "k5e3",
    "s6_depth": 4, "s6_i0": "k7e6", "s6_i1": "k7e6", "s6_i2": "k7e3", "s6_i3": "k7e3",
    "s7_i0": "k7e6"
}"#;

const NASBENCH201_CHECK: &str = r#"{"cell/0_1": "none", "cell/0_2": "conv_3x3",
    "cell/1_2": "conv_3x3", "cell/0_3": "avg_pool_3x3", "cell/1_3": "conv_3x3", "cell/2_3": "none"}"#;

fn check(space: &ModelSpace, sample: &str, options: CountOptions, expected: Counts) {
    let sample = Sample::from_json(sample).unwrap();
    let profiler = CountProfiler::new(space, space.input(), options).unwrap();
    assert_eq!(
        profiler.counts(&sample).unwrap(),
        expected,
        "table, {options:?}"
    );
    let direct = count_architecture(&space.resolve(&sample).unwrap(), options).unwrap();
    assert_eq!(direct, expected, "direct, {options:?}");
}

#[test]
fn proxylessnas_reproduces_published_counts() {
    let space = hub::space("proxylessnas").unwrap();
    check(
        &space,
        PROXYLESS_MOBILE,
        CountOptions::default(),
        Counts {
            flops: 346_727_080,
            params: 4_080_512,
        },
    );
    check(
        &space,
        PROXYLESS_MOBILE,
        CountOptions::NONE,
        Counts {
            flops: 320_427_584,
            params: 4_080_512,
        },
    );
}

#[test]
fn nasbench201_reproduces_check_values() {
    let space = hub::space("nasbench201").unwrap();
    check(
        &space,
        NASBENCH201_CHECK,
        CountOptions::default(),
        Counts {
            flops: 116_322_954,
            params: 802_426,
        },
    );
    check(
        &space,
        NASBENCH201_CHECK,
        CountOptions::NONE,
        Counts {
            flops: 113_951_360,
            params: 802_426,
        },
    );
}

fn spaces() -> Vec<ModelSpace> {
    hub::SPACES
        .iter()
        .map(|(name, _)| hub::space(name).unwrap())
        .collect()
}

#[test]
fn count_table_equals_direct_count_on_random_samples() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2026);
    for space in spaces() {
        for input in [
            space.input(),
            Shape::image(space.input().channels(), 64, 48),
        ] {
            for options in [CountOptions::default(), CountOptions::NONE] {
                let profiler = CountProfiler::new(&space, input, options).unwrap();
                let space = space.clone().with_input(input);
                for _ in 0..200 {
                    let sample = space.search_space().random_sample(&mut rng).unwrap();
                    let direct =
                        count_architecture(&space.resolve(&sample).unwrap(), options).unwrap();
                    assert_eq!(
                        profiler.counts(&sample).unwrap(),
                        direct,
                        "{} {sample}",
                        space.name()
                    );
                }
            }
        }
    }
}

#[test]
fn count_table_covers_every_nasbench201_cell() {
    let space = hub::space("nasbench201").unwrap();
    let profiler = CountProfiler::new(&space, space.input(), CountOptions::default()).unwrap();
    let mut n_cells = 0;
    for sample in space.search_space().grid() {
        let direct =
            count_architecture(&space.resolve(&sample).unwrap(), CountOptions::default()).unwrap();
        assert_eq!(profiler.counts(&sample).unwrap(), direct, "{sample}");
        n_cells += 1;
    }
    assert_eq!(n_cells, 15_625);
}

#[test]
fn num_params_equals_burn_num_params_of_frozen_module() {
    let device = Device::flex();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    for space in spaces() {
        let profiler = CountProfiler::new(&space, space.input(), CountOptions::default())
            .unwrap()
            .num_params();
        let mut samples = vec![space.search_space().default_sample().unwrap()];
        for _ in 0..3 {
            samples.push(space.search_space().random_sample(&mut rng).unwrap());
        }
        for sample in samples {
            let network = space.freeze(&sample, &device).unwrap();
            let burn_params = network.num_params() as u64
                - space
                    .resolve(&sample)
                    .unwrap()
                    .running_statistics()
                    .unwrap();
            assert_eq!(
                profiler.num_params(&sample).unwrap(),
                burn_params,
                "{} {sample}",
                space.name()
            );
            assert_eq!(profiler.profile(&sample).unwrap(), burn_params as f64);
        }
    }
}

#[test]
fn profiler_rejects_invalid_samples() {
    let space = hub::space("proxylessnas").unwrap();
    let profiler = CountProfiler::new(&space, space.input(), CountOptions::default()).unwrap();
    let mut sample = Sample::from_json(PROXYLESS_MOBILE).unwrap();
    sample.insert("s7_i0", "k9e9");
    let error = profiler.counts(&sample).unwrap_err().to_string();
    assert!(error.contains("s7_i0") && error.contains("k9e9"), "{error}");
}

#[test]
fn profiler_reports_inputs_too_small_for_the_network() {
    // NAS-Bench-201's reductions pool 2x2 without padding: a 1x1 input cannot pass them.
    let space = hub::space("nasbench201").unwrap();
    let profiler =
        CountProfiler::new(&space, Shape::image(3, 1, 1), CountOptions::default()).unwrap();
    let error = profiler
        .counts(&space.search_space().default_sample().unwrap())
        .unwrap_err();
    assert!(error.to_string().contains("avg_pool2d"), "{error}");
}
