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
fn count_ranges_equal_the_extremes_of_every_nasbench201_cell() {
    let space = hub::space("nasbench201").unwrap();
    let profiler = CountProfiler::new(&space, space.input(), CountOptions::default()).unwrap();
    let mut flops = (u64::MAX, 0);
    let mut params = (u64::MAX, 0);
    let mut indices = vec![0usize; space.search_space().len()];
    for code in 0..space.search_space().size() as usize {
        let mut rest = code;
        for (index, choice) in indices.iter_mut().zip(space.search_space().choices()).rev() {
            *index = rest % choice.len();
            rest /= choice.len();
        }
        let counts = profiler.counts_indices(&indices).unwrap();
        flops = (flops.0.min(counts.flops), flops.1.max(counts.flops));
        params = (params.0.min(counts.params), params.1.max(counts.params));
    }
    assert_eq!(profiler.table().ranges(), Some((flops, params)));
    assert_eq!(
        profiler.flops().range(),
        Some((flops.0 as f64, flops.1 as f64))
    );
}

#[test]
fn count_ranges_bound_every_sample_of_the_large_spaces() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
    for space in [
        hub::space("proxylessnas").unwrap(),
        hub::space("mobile-micro").unwrap(),
    ] {
        let profiler = CountProfiler::new(&space, space.input(), CountOptions::default()).unwrap();
        let ((least_flops, most_flops), (least_params, most_params)) = profiler
            .table()
            .ranges()
            .expect("the hub spaces are solved");
        assert!(least_flops < most_flops && least_params < most_params);
        for _ in 0..200 {
            let sample = space.search_space().random_sample(&mut rng).unwrap();
            let counts = profiler.counts(&sample).unwrap();
            assert!(
                (least_flops..=most_flops).contains(&counts.flops),
                "{}",
                space.name()
            );
            assert!((least_params..=most_params).contains(&counts.params));
        }
        // The extremes are reached: at the first and the last candidate of every choice (the
        // hub spaces order candidates from small to large).
        let smallest = profiler
            .counts(&space.search_space().edge_sample(false))
            .unwrap();
        let largest = profiler
            .counts(&space.search_space().edge_sample(true))
            .unwrap();
        assert_eq!(
            (smallest.flops, largest.flops),
            (least_flops, most_flops),
            "{}",
            space.name()
        );
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

mod latency {
    use std::time::Duration;

    use burn::tensor::Device;
    use hwnas_profiler::{
        Costs, LatencyConfig, LatencyDevice, LatencyPredictor, LatencyProfiler, PredictorConfig,
        ProfileError, Profiler, Statistic, time_interleaved,
    };
    use hwnas_space::{ModelSpace, Sample, Shape, hub, metric};
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    /// Quick timing: these tests check behaviour, not figures.
    fn quick() -> LatencyConfig {
        LatencyConfig {
            warmup: 1,
            min_runs: 3,
            max_runs: 5,
            budget: Duration::ZERO,
            ..Default::default()
        }
    }

    fn build(space: &ModelSpace) -> LatencyPredictor {
        build_on(space, Device::flex())
    }

    fn build_on(space: &ModelSpace, device: impl Into<LatencyDevice>) -> LatencyPredictor {
        let config = PredictorConfig {
            layer_timing: quick(),
            model_timing: quick(),
            fit_samples: 3,
            ..PredictorConfig::default()
        };
        LatencyPredictor::build(space, device, &config, &mut |_, _| {}).unwrap()
    }

    /// tract times the exported network: every pass counted, a table of its own that refuses
    /// to pose as flex, and the other way round.
    #[cfg(feature = "tract")]
    #[test]
    fn tract_is_a_latency_device_of_its_own() {
        use hwnas_profiler::{DeviceFingerprint, LatencyBackend};
        let space = hub::space("mobile-micro").unwrap();
        let (big, small) = extremes(&space);
        let tract = "tract".parse::<LatencyBackend>().unwrap().device().unwrap();
        let profiler = LatencyProfiler::new(space.clone(), tract.clone(), quick()).unwrap();
        let latencies = profiler
            .measure_many(&[big, small], &mut |_, _| {})
            .unwrap();
        for latency in &latencies {
            assert_eq!(latency.runs, 3);
            assert_eq!(latency.device, "tract 0.23.9");
            assert!(latency.min_ms <= latency.median_ms && latency.median_ms <= latency.p90_ms);
        }
        let here = DeviceFingerprint::of(&tract);
        assert_eq!((here.device.as_str(), here.threads), ("tract 0.23.9", 1));

        let on_tract = build_on(&space, tract.clone());
        assert_eq!(on_tract.file().device, here);
        on_tract.check_device(&tract).unwrap();
        let refusal = on_tract
            .check_device(Device::flex())
            .unwrap_err()
            .to_string();
        assert!(refusal.contains("tract 0.23.9"), "{refusal}");
        let refusal = build(&space).check_device(&tract).unwrap_err().to_string();
        assert!(refusal.contains("not on tract 0.23.9"), "{refusal}");
    }

    /// The deepest, widest and the shallowest, narrowest sample of `mobile-micro`.
    fn extremes(space: &ModelSpace) -> (Sample, Sample) {
        let search_space = space.search_space();
        (
            search_space.edge_sample(true),
            search_space.edge_sample(false),
        )
    }

    #[test]
    fn predictor_table_round_trips() {
        let space = hub::space("mobile-micro").unwrap();
        let predictor = build(&space);
        assert!(!predictor.file().layers.is_empty());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("table.json");
        predictor.save(&path).unwrap();
        let loaded = LatencyPredictor::load(&path, &space).unwrap();
        assert!(
            loaded.file() == predictor.file(),
            "the table changed in its round trip"
        );
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        for _ in 0..50 {
            let sample = space.search_space().random_sample(&mut rng).unwrap();
            let predicted = predictor.profile(&sample).unwrap();
            assert!(predicted.is_finite());
            assert_eq!(loaded.predict(&sample).unwrap(), predicted);
        }
        loaded.check_device(Device::flex()).unwrap();
        let (big, small) = extremes(&space);
        assert!(predictor.predict(&big).unwrap() > predictor.predict(&small).unwrap());
    }

    #[test]
    fn predictor_refuses_tables_of_another_space_input_version_or_device() {
        let space = hub::space("mobile-micro").unwrap();
        let predictor = build(&space);
        let file = predictor.file().clone();
        let check = |result: Result<LatencyPredictor, ProfileError>, expected: &str| {
            let error = result.map(|_| ()).expect_err("refused").to_string();
            assert!(error.contains(expected), "{error}");
        };
        check(
            LatencyPredictor::from_file(&hub::space("nasbench201").unwrap(), file.clone()),
            "built for space `mobile-micro`",
        );
        let wider = space
            .clone()
            .with_input(hwnas_space::Shape::image(1, 28, 28));
        check(
            LatencyPredictor::from_file(&wider, file.clone()),
            "built for input",
        );
        check(
            LatencyPredictor::from_file(
                &space,
                hwnas_profiler::LatencyTableFile {
                    version: 99,
                    ..file.clone()
                },
            ),
            "version 99",
        );
        let mut elsewhere = file.clone();
        elsewhere.device.cpu = "another CPU".into();
        let elsewhere = LatencyPredictor::from_file(&space, elsewhere).unwrap();
        let error = elsewhere
            .check_device(Device::flex())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("another CPU") && error.contains("hwnas latency build"),
            "{error}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.json");
        std::fs::write(&path, "{\"version\": 1").unwrap();
        check(LatencyPredictor::load(&path, &space), "not a latency table");
    }

    #[test]
    fn interleaved_timing_gives_every_network_its_passes() {
        let space = hub::space("mobile-micro").unwrap();
        let (big, small) = extremes(&space);
        let device = LatencyDevice::from(Device::flex());
        let networks: Vec<_> = [&big, &small, &big]
            .iter()
            .map(|sample| {
                let architecture = space.resolve(sample).unwrap();
                device.load(&architecture, 2, None).unwrap()
            })
            .collect();
        // No time budget: each network stops at `min_runs`; a long one: at `max_runs`.
        let times = time_interleaved(&networks, &quick()).unwrap();
        assert_eq!(times.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3]);
        let long = LatencyConfig {
            budget: Duration::from_secs(60),
            ..quick()
        };
        let times = time_interleaved(&networks, &long).unwrap();
        assert_eq!(times.iter().map(Vec::len).collect::<Vec<_>>(), [5, 5, 5]);
        assert!(times.iter().flatten().all(|ms| *ms > 0.0));

        let flat = hwnas_space::Architecture {
            input: Shape::Flat(64),
            root: hwnas_space::Block::Layer(hwnas_space::Layer::Identity),
        };
        let error = device.load(&flat, 2, None).err().unwrap();
        assert!(error.to_string().contains("image input"), "{error}");
    }

    #[test]
    fn measured_latency_is_cached_per_network() {
        let space = hub::space("mobile-micro").unwrap();
        let profiler = LatencyProfiler::new(space.clone(), Device::flex(), quick()).unwrap();
        let costs = Costs::per_network(&space).with(metric::LATENCY_MS, profiler);
        let mut shallow = space.search_space().default_sample().unwrap();
        shallow.insert("s1_depth", 1);
        // Block 2 of stage 1 is not built at depth 1: the same network, measured once.
        let mut unread = shallow.clone();
        unread.insert("s1_b2_kernel", 5);
        let first = costs.cost(&shallow, metric::LATENCY_MS).unwrap();
        assert_eq!(costs.cost(&unread, metric::LATENCY_MS).unwrap(), first);
        assert!(costs.cost(&Sample::default(), metric::LATENCY_MS).is_err());
    }

    #[test]
    fn measuring_many_measures_in_groups_and_reports_each() {
        let space = hub::space("mobile-micro").unwrap();
        let (big, small) = extremes(&space);
        let config = LatencyConfig {
            interleave: 3,
            ..LatencyConfig::default()
        };
        let profiler = LatencyProfiler::new(space, Device::flex(), config).unwrap();
        let samples = [big.clone(), small.clone(), big, small];
        let mut reported = Vec::new();
        // Groups of 3: the last sample is measured on its own.
        let latencies = profiler
            .measure_many(&samples, &mut |done, total| reported.push((done, total)))
            .unwrap();
        assert_eq!(reported, [(0, 4), (3, 4), (4, 4)]);
        // Which network is slower is a measurement (`cargo bench --bench latency`), not a test.
        assert_eq!(latencies.len(), 4);
        assert!(
            latencies
                .iter()
                .all(|l| l.runs >= 10 && l.input == [1, 1, 8, 8])
        );
    }

    #[test]
    fn a_table_predicts_the_statistic_it_was_built_for() {
        let space = hub::space("mobile-micro").unwrap();
        let config = PredictorConfig {
            layer_timing: LatencyConfig {
                interleave: 8,
                ..quick()
            },
            model_timing: quick(),
            fit_samples: 3,
            statistic: Statistic::Min,
            ..PredictorConfig::default()
        };
        let predictor =
            LatencyPredictor::build(&space, Device::flex(), &config, &mut |_, _| {}).unwrap();
        assert_eq!(predictor.file().statistic, Statistic::Min);
        let json = serde_json::to_value(predictor.file()).unwrap();
        assert_eq!(json["statistic"], "min");
        // A table written before the statistic was recorded predicts the median.
        let mut older = json.as_object().unwrap().clone();
        older.remove("statistic");
        let older: hwnas_profiler::LatencyTableFile =
            serde_json::from_value(serde_json::Value::Object(older)).unwrap();
        assert_eq!(older.statistic, Statistic::Median);
        assert_eq!(
            "mean".parse::<Statistic>().unwrap_err(),
            "unknown statistic `mean`: median or min"
        );
        let timing = LatencyConfig {
            interleave: 2,
            ..quick()
        };
        let (rows_accuracy, rows) = predictor
            .evaluate(&space, Device::flex(), 3, 5, &timing, &mut |_, _| {})
            .unwrap();
        assert_eq!((rows_accuracy.n, rows.len()), (3, 3));
        assert!(
            rows.iter()
                .all(|row| row.measured_ms > 0.0 && row.predicted_ms > 0.0)
        );
    }

    /// How much slower the largest network runs is a measurement: `cargo bench --bench latency`
    /// (`forward_flex/first` against `last`). Here, what a measurement promises.
    #[test]
    fn measured_latency_reports_its_statistics_in_order() {
        let space = hub::space("mobile-micro").unwrap();
        let (big, small) = extremes(&space);
        let config = LatencyConfig {
            batch: 8,
            ..LatencyConfig::default()
        };
        let profiler = LatencyProfiler::new(space, Device::flex(), config).unwrap();
        let (big, small) = (
            profiler.measure(&big).unwrap(),
            profiler.measure(&small).unwrap(),
        );
        for latency in [&big, &small] {
            assert_eq!(latency.input, [8, 1, 8, 8]);
            assert!(latency.runs >= 10, "{latency:?}");
            assert!(
                0.0 < latency.min_ms && latency.min_ms <= latency.median_ms,
                "{latency:?}"
            );
            assert!(latency.median_ms <= latency.p90_ms, "{latency:?}");
            assert!(
                latency.min_ms <= latency.mean_ms && latency.cv >= 0.0,
                "{latency:?}"
            );
        }
    }

    fn random_samples(space: &ModelSpace, n: usize, seed: u64) -> Vec<Sample> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        (0..n)
            .map(|_| space.search_space().random_sample(&mut rng).unwrap())
            .collect()
    }

    #[test]
    fn a_table_fitted_to_a_drifted_machine_scales_its_base() {
        use hwnas_profiler::{DeviceFingerprint, Measurement};
        let space = hub::space("mobile-micro").unwrap();
        let base = build(&space);
        // The machine now runs every network 10 % faster than when the table was built.
        let measurements: Vec<Measurement> = random_samples(&space, 12, 5)
            .into_iter()
            .map(|sample| Measurement {
                latency_ms: 0.9 * base.predict(&sample).unwrap(),
                sample,
            })
            .collect();
        let here = DeviceFingerprint::of(Device::flex());
        let fitted = LatencyPredictor::fit(
            &space,
            1,
            std::slice::from_ref(&base),
            &[],
            &measurements,
            here.clone(),
            "test",
        )
        .unwrap();
        let provenance = fitted.file().fitted.clone().unwrap();
        assert_eq!(provenance.measurements, 12);
        let fit = provenance.fit.unwrap();
        assert_eq!(fit.model, "scale base 1");
        assert!((fit.terms[0].weight - 0.9).abs() < 1e-9);
        assert!(fit.leave_one_out.unwrap().rmse_ms < 1e-9);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fitted.json");
        fitted.save(&path).unwrap();
        let loaded = LatencyPredictor::load(&path, &space).unwrap();
        assert!(loaded.file() == fitted.file(), "changed in its round trip");
        for sample in random_samples(&space, 50, 6) {
            let expected = 0.9 * base.predict(&sample).unwrap();
            let predicted = loaded.predict(&sample).unwrap();
            assert!((predicted - expected).abs() < 1e-9 * expected.abs().max(1.0));
        }

        // No measurements: the base unchanged, said so in the file.
        let unchanged = LatencyPredictor::fit(
            &space,
            1,
            std::slice::from_ref(&base),
            &[],
            &[],
            here,
            "none",
        )
        .unwrap();
        let mut file = unchanged.file().clone();
        assert_eq!(file.fitted.take().unwrap().fit, None);
        assert!(&file == base.file());
    }

    #[test]
    fn fitting_refuses_a_base_of_another_space_and_bad_measurements() {
        use hwnas_profiler::{DeviceFingerprint, read_measurements};
        let space = hub::space("mobile-micro").unwrap();
        let base = build(&space);
        let nb201 = hub::space("nasbench201").unwrap();
        let here = DeviceFingerprint::of(Device::flex());
        let error = LatencyPredictor::fit(&nb201, 1, &[base], &[], &[], here.clone(), "x")
            .map(|_| ())
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("a base table was built for `mobile-micro`"),
            "{error}"
        );
        let error = LatencyPredictor::fit(&space, 1, &[], &[], &[], here, "x")
            .map(|_| ())
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("no measurements and 0 base tables"),
            "{error}"
        );

        let [a, b] = <[Sample; 2]>::try_from(random_samples(&space, 2, 8)).unwrap();
        let line = |sample: &Sample, key: &str, ms: &str| {
            format!("{{\"sample\": {sample}, \"{key}\": {ms}}}")
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("measured.jsonl");
        let read = |text: String| {
            std::fs::write(&path, text).unwrap();
            read_measurements(&path, &space, &[1, 1, 8, 8], Statistic::Median)
        };
        let good = read(format!(
            "{}\n\n{}\n",
            line(&a, "latency_ms", "1.5"),
            line(&b, "median_ms", "2")
        ))
        .unwrap();
        assert_eq!(good.len(), 2);
        assert_eq!((good[0].latency_ms, good[1].latency_ms), (1.5, 2.0));
        // A table that predicts the fastest pass reads `min_ms`.
        std::fs::write(
            &path,
            format!("{{\"sample\": {a}, \"min_ms\": 0.75, \"median_ms\": 1}}"),
        )
        .unwrap();
        let min = read_measurements(&path, &space, &[1, 1, 8, 8], Statistic::Min).unwrap();
        assert_eq!(min[0].latency_ms, 0.75);
        let nb201_sample = nb201.search_space().default_sample().unwrap();
        for (text, expected) in [
            (
                format!("{}\n{{\"sample\": {b}}}", line(&a, "latency_ms", "1")),
                "line 2: no `latency_ms`",
            ),
            (
                format!(
                    "{}\n{}",
                    line(&a, "latency_ms", "1"),
                    line(&b, "latency_ms", "-3")
                ),
                "line 2: latency -3 ms is not a latency",
            ),
            (
                format!(
                    "{}\n{}",
                    line(&a, "latency_ms", "1"),
                    line(&a, "latency_ms", "2")
                ),
                "line 2: the same network as line 1",
            ),
            (
                line(&nb201_sample, "latency_ms", "1"),
                "line 1: not a sample of `mobile-micro`",
            ),
            ("[1, 2]".to_string(), "line 1: not a measurement"),
            ("{\"latency_ms\": 1}".to_string(), "line 1: no `sample`"),
            (
                format!("{{\"sample\": {a}, \"median_ms\": 1, \"input\": [8, 1, 8, 8]}}"),
                "line 1: measured at input [8, 1, 8, 8], the table is for [1, 1, 8, 8]",
            ),
        ] {
            let error = read(text).map(|_| ()).unwrap_err();
            assert!(matches!(error, ProfileError::Measurements(_)));
            assert!(
                error.is_input() && error.to_string().contains(expected),
                "{error}"
            );
        }
    }

    #[test]
    fn a_listed_term_must_cover_every_architecture() {
        let space = hub::space("nasbench201").unwrap();
        let mut file = build(&space).file().clone();
        file.per_architecture_ms = vec![0.5; 15_625];
        let listed = LatencyPredictor::from_file(&space, file.clone()).unwrap();
        let sample = space.search_space().default_sample().unwrap();
        let difference = listed.predict(&sample).unwrap()
            - LatencyPredictor::from_file(
                &space,
                hwnas_profiler::LatencyTableFile {
                    per_architecture_ms: Vec::new(),
                    ..file.clone()
                },
            )
            .unwrap()
            .predict(&sample)
            .unwrap();
        assert!((difference - 0.5).abs() < 1e-12, "{difference}");
        file.per_architecture_ms.pop();
        let error = LatencyPredictor::from_file(&space, file.clone())
            .map(|_| ())
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("lists 15624 architectures, the space has 15625"),
            "{error}"
        );
        file.per_architecture_ms = vec![f32::NAN; 15_625];
        let error = LatencyPredictor::from_file(&space, file)
            .map(|_| ())
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`per_architecture_ms` #1 is NaN"),
            "{error}"
        );
    }
}

/// Latency on wgpu: a GPU, or the Vulkan software driver (`mesa-vulkan-drivers`) without one.
#[cfg(feature = "wgpu")]
mod wgpu {
    use std::time::Duration;

    use burn::module::Module;
    use burn::tensor::{Device, DeviceKind, Distribution, Tensor, Tolerance};
    use hwnas_profiler::{LatencyConfig, LatencyPredictor, LatencyProfiler, PredictorConfig};
    use hwnas_space::hub;

    fn wgpu() -> Device {
        Device::wgpu(DeviceKind::DefaultDevice)
    }

    #[test]
    fn wgpu_runs_the_same_network_as_flex_and_times_it() {
        let space = hub::space("mobile-micro").unwrap();
        let sample = space.search_space().default_sample().unwrap();
        let (flex, gpu) = (Device::flex(), wgpu());
        flex.seed(1);
        let on_flex = space.freeze(&sample, &flex).unwrap();
        let input = Tensor::<4>::random([2, 1, 8, 8], Distribution::Normal(0.0, 1.0), &flex);
        let on_gpu = on_flex.clone().to_device(&gpu);
        let expected = on_flex.forward_logits(input.clone()).unwrap().into_data();
        let actual = on_gpu
            .forward_logits(input.to_device(&gpu))
            .unwrap()
            .into_data();
        actual.assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-3));

        let quick = LatencyConfig {
            warmup: 2,
            min_runs: 3,
            max_runs: 5,
            budget: Duration::ZERO,
            ..Default::default()
        };
        let latency = LatencyProfiler::new(space.clone(), gpu.clone(), quick.clone()).unwrap();
        let measured = latency.measure(&sample).unwrap();
        assert!(
            measured.median_ms > 0.0 && measured.device.contains("Wgpu"),
            "{measured:?}"
        );

        let config = PredictorConfig {
            layer_timing: quick.clone(),
            model_timing: quick,
            fit_samples: 2,
            ..Default::default()
        };
        let predictor = LatencyPredictor::build(&space, &gpu, &config, &mut |_, _| {}).unwrap();
        assert!(predictor.predict(&sample).unwrap().is_finite());
        predictor.check_device(&gpu).unwrap();
        assert!(predictor.check_device(&flex).is_err());
    }
}

mod proxy {
    use burn::module::{Module, ModuleMapper, Param};
    use burn::tensor::{Device, Tensor, TensorData};
    use hwnas_profiler::{ProfileError, Profiler, Proxy, ProxyBatch, ProxyProfiler, proxy_scores};
    use hwnas_space::module::Network;
    use hwnas_space::{Layer, ModelSpace, Node, Sample, Shape, hub};

    /// The linear layer's weights, `[inputs][outputs]` as burn stores them.
    const WEIGHTS: [[f32; 2]; 2] = [[1.0, -2.0], [0.5, 3.0]];
    const IMAGES: [f32; 4] = [1.0, 2.0, 3.0, -1.0];
    const LABELS: [i64; 2] = [0, 1];

    struct SetWeights;

    impl ModuleMapper for SetWeights {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|tensor| {
                let (device, trained) = (tensor.device(), tensor.is_require_grad());
                let values: Vec<f32> = WEIGHTS.concat();
                Tensor::from_data(TensorData::new(values, tensor.dims()), &device)
                    .set_require_grad(trained)
            })
        }
    }

    /// Two pixels flattened into a linear layer without bias, with [`WEIGHTS`].
    fn linear_network(device: &Device) -> Network {
        let root = Node::sequential([
            Node::Layer(Layer::Flatten),
            Node::Layer(Layer::Linear {
                out_features: 2,
                bias: false,
            }),
        ]);
        let space = ModelSpace::new("linear", root, vec![], Shape::image(1, 1, 2)).unwrap();
        space
            .freeze(&Sample::default(), device)
            .unwrap()
            .map(&mut SetWeights)
    }

    fn softmax(logits: [f64; 2]) -> [f64; 2] {
        let max = logits[0].max(logits[1]);
        let exp = logits.map(|z| (z - max).exp());
        exp.map(|e| e / (exp[0] + exp[1]))
    }

    #[test]
    fn proxies_of_a_linear_network_equal_their_hand_computed_values() {
        let device = Device::flex().autodiff();
        let network = || -> Result<Network, ProfileError> { Ok(linear_network(&device)) };
        let batch = ProxyBatch::new(IMAGES.to_vec(), [2, 1, 1, 2], LABELS.to_vec()).unwrap();
        let scores = proxy_scores(&network, &Proxy::ALL, &batch, &device).unwrap();

        // synflow: R = Σ_j Σ_i |w_ij| on an input of ones, so ∂R/∂w_ij = 1 and the score is Σ|w|.
        let synflow: f64 = WEIGHTS.iter().flatten().map(|w| w.abs() as f64).sum();
        // The cross-entropy gradient: ∂L/∂w_ij = Σ_n x_ni (p_nj - y_nj) / N.
        let mut gradient = [[0.0f64; 2]; 2];
        for n in 0..2 {
            let x = [IMAGES[2 * n] as f64, IMAGES[2 * n + 1] as f64];
            let logits = [0, 1].map(|j| x[0] * WEIGHTS[0][j] as f64 + x[1] * WEIGHTS[1][j] as f64);
            let p = softmax(logits);
            for (i, row) in gradient.iter_mut().enumerate() {
                for (j, g) in row.iter_mut().enumerate() {
                    let y = if LABELS[n] as usize == j { 1.0 } else { 0.0 };
                    *g += x[i] * (p[j] - y) / 2.0;
                }
            }
        }
        let grad_norm = gradient.iter().flatten().map(|g| g * g).sum::<f64>().sqrt();
        let snip: f64 = (0..4)
            .map(|k| (gradient[k / 2][k % 2] * WEIGHTS[k / 2][k % 2] as f64).abs())
            .sum();
        // A linear network's input gradient is the same for every example (the weights' row
        // sums): perfectly correlated rows, eigenvalues 2 and 0.
        let k = 1e-5f64;
        let jacob_cov = -((2.0 + k).ln() + 1.0 / (2.0 + k) + k.ln() + 1.0 / k);

        let expected = [synflow, jacob_cov, grad_norm, snip];
        for ((proxy, score), expected) in Proxy::ALL.iter().zip(&scores).zip(expected) {
            assert!(
                (score - expected).abs() <= 1e-4 * expected.abs().max(1.0),
                "{proxy}: {score} against {expected}"
            );
        }
    }

    #[test]
    fn proxies_refuse_a_device_without_autodiff_and_labels_outside_the_classes() {
        let device = Device::flex();
        let network = || -> Result<Network, ProfileError> { Ok(linear_network(&device)) };
        let batch = ProxyBatch::new(IMAGES.to_vec(), [2, 1, 1, 2], LABELS.to_vec()).unwrap();
        assert!(proxy_scores(&network, &[Proxy::Snip], &batch, &device).is_err());

        let device = device.autodiff();
        let network = || -> Result<Network, ProfileError> { Ok(linear_network(&device)) };
        let batch = ProxyBatch::new(IMAGES.to_vec(), [2, 1, 1, 2], vec![0, 2]).unwrap();
        let error = proxy_scores(&network, &[Proxy::GradNorm], &batch, &device).unwrap_err();
        assert!(error.to_string().contains("2 classes"), "{error}");
        assert!(ProxyBatch::new(IMAGES.to_vec(), [2, 1, 1, 2], vec![0]).is_err());
    }

    #[test]
    fn proxy_scores_do_not_depend_on_what_was_scored_before() {
        // A network with batch normalisation: synflow must not leave its rewritten statistics
        // to the proxies scored after it, nor take those of the proxies before it. Every
        // network gets the same weights, loaded (burn's generator is one per process, and the
        // other tests draw from it meanwhile).
        let space = hub::space("mobile-micro").unwrap();
        let batch = ProxyBatch::random(space.input(), 4, 3).unwrap();
        let device = Device::flex().autodiff();
        let sample = space.search_space().default_sample().unwrap();
        let record = space.freeze(&sample, &device).unwrap().into_record();
        let init = || -> Result<Network, ProfileError> {
            Ok(space.freeze(&sample, &device)?.load_record(record.clone()))
        };
        let forward = proxy_scores(&init, &Proxy::ALL, &batch, &device).unwrap();
        let reversed = [
            Proxy::Snip,
            Proxy::GradNorm,
            Proxy::JacobCov,
            Proxy::Synflow,
        ];
        let mut backward = proxy_scores(&init, &reversed, &batch, &device).unwrap();
        backward.reverse();
        for ((proxy, a), b) in Proxy::ALL.iter().zip(&forward).zip(&backward) {
            assert!(
                a.is_finite() && (a - b).abs() <= 1e-9 * a.abs(),
                "{proxy}: {a} and {b}"
            );
        }
    }

    #[test]
    fn a_proxy_profiler_scores_a_sample_as_its_scores_do() {
        let space = hub::space("mobile-micro").unwrap();
        let batch = ProxyBatch::random(space.input(), 4, 3).unwrap();
        let profiler = ProxyProfiler::new(&space, Proxy::Snip, batch, Device::flex(), 5);
        let sample = space.search_space().default_sample().unwrap();
        let score = profiler.profile(&sample).unwrap();
        assert!(score.is_finite() && score > 0.0);
        assert!(profiler.measures());
    }
}
