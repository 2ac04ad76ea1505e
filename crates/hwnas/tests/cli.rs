//! The `hwnas` command line as a user drives it: outputs, JSON fields and exit codes.

use assert_cmd::Command;

const PROXYLESS_MOBILE: &str = r#"{"s2_depth": 2, "s2_i0": "k5e3", "s2_i1": "k3e3", "s2_i2": "k3e3", "s2_i3": "k3e3", "s3_depth": 4, "s3_i0": "k7e3", "s3_i1": "k3e3", "s3_i2": "k5e3", "s3_i3": "k5e3", "s4_depth": 4, "s4_i0": "k7e6", "s4_i1": "k5e3", "s4_i2": "k5e3", "s4_i3": "k5e3", "s5_depth": 4, "s5_i0": "k5e6", "s5_i1": "k5e3", "s5_i2": "k5e3", "s5_i3": "k5e3", "s6_depth": 4, "s6_i0": "k7e6", "s6_i1": "k7e6", "s6_i2": "k7e3", "s6_i3": "k7e3", "s7_i0": "k7e6"}"#;

fn hwnas() -> Command {
    Command::cargo_bin("hwnas").unwrap()
}

fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let output = hwnas().args(args).write_stdin(stdin).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn cli_profile_json_reproduces_published_counts() {
    let (code, stdout, _) = run(
        &["profile", "proxylessnas", "--sample", "-", "--json"],
        PROXYLESS_MOBILE,
    );
    assert_eq!(code, 0);
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["flops"], 346_727_080);
    assert_eq!(line["params"], 4_080_512);
    let args = [
        "profile",
        "proxylessnas",
        "--sample",
        "-",
        "--json",
        "--no-bias",
        "--no-norm",
        "--no-act",
    ];
    let (_, stdout, _) = run(&args, PROXYLESS_MOBILE);
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["flops"], 320_427_584);
}

#[test]
fn cli_profile_scores_samples_by_zero_cost_proxies() {
    let (_, samples, _) = run(&["sample", "mobile-micro", "--count", "2"], "");
    let args = [
        "profile",
        "mobile-micro",
        "--sample",
        "-",
        "--json",
        "--proxy",
        "synflow,naswot,grad_norm,snip",
        "--proxy-batch",
        "8",
    ];
    let (code, first, stderr) = run(&args, &samples);
    assert_eq!(code, 0, "{stderr}");
    for line in first.lines() {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        for proxy in ["synflow", "jacob_cov", "grad_norm", "snip"] {
            assert!(line[proxy].as_f64().unwrap().is_finite(), "{proxy}: {line}");
        }
    }
    // The same weights and images: the same scores.
    let (_, second, _) = run(&args, &samples);
    assert_eq!(first, second);
    let (code, _, stderr) = run(
        &["profile", "mobile-micro", "--sample", "-", "--proxy", "zen"],
        "",
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown proxy `zen`"), "{stderr}");
}

#[test]
fn cli_a_search_that_trained_nothing_starts_again_with_other_settings() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let (code, _, stderr) = run(
        &as_str(&search_args(&out, "2", "0", &["--max-flops", "10"])),
        "",
    );
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = run(
        &as_str(&search_args(&out, "2", "0", &["--max-flops", "100000"])),
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        read_log(&out)
            .iter()
            .filter(|r| r["status"] == "ok")
            .count(),
        2
    );
    // Now it trained something: that is kept.
    let (code, _, stderr) = run(
        &as_str(&search_args(&out, "2", "0", &["--max-flops", "200000"])),
        "",
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("already holds an experiment: resume it (--resume)"),
        "{stderr}"
    );
}

#[test]
fn cli_outputs_go_into_folders_they_create_and_errors_say_their_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_, sample, _) = run(&["sample", "mobile-micro"], "");
    let model = dir.path().join("models/digits/m.onnx");
    let (code, _, stderr) = run(
        &[
            "export",
            "onnx",
            "mobile-micro",
            "--sample",
            "-",
            "--out",
            model.to_str().unwrap(),
        ],
        &sample,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(model.exists());
    let blocked = dir.path().join("models/digits/m.onnx/inner.onnx");
    let (code, _, stderr) = run(
        &[
            "export",
            "onnx",
            "mobile-micro",
            "--sample",
            "-",
            "--out",
            blocked.to_str().unwrap(),
        ],
        &sample,
    );
    assert_eq!(code, 2, "{stderr}");
    let line = stderr.lines().next().unwrap();
    assert_eq!(line.matches("os error").count(), 1, "{line}");
    // An error that quotes its cause (a search directory under a file) says it once.
    let out = model.join("run");
    let (code, _, stderr) = run(&as_str(&search_args(&out, "1", "0", &[])), "");
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.matches("os error").count(), 1, "{stderr}");
}

#[test]
fn cli_output_to_a_reader_that_stopped_writes_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let args = search_args(&out, "2", "0", &["--max-flops", "400000"]);
    // Standard output a reader closed before the first line (`| head -0`).
    let closed = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer
    };
    let binary = || std::process::Command::new(assert_cmd::cargo::cargo_bin("hwnas"));
    let status = binary().args(&args).stdout(closed()).status().unwrap();
    assert_eq!(status.code(), Some(0));
    let plot = out.join("accuracy_vs_flops.png");
    assert!(plot.exists());
    std::fs::remove_file(&plot).unwrap();
    let status = binary()
        .args(["report", out.to_str().unwrap()])
        .stdout(closed())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(plot.exists());
}

#[test]
fn cli_search_trials_train_with_the_settings_train_has() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let flags = [
        "--optimizer",
        "sgd",
        "--lr",
        "0.02",
        "--batch-size",
        "16",
        "--label-smoothing",
        "0.05",
        "--no-nesterov",
    ];
    let (code, _, stderr) = run(&as_str(&search_args(&out, "1", "0", &flags)), "");
    assert_eq!(code, 0, "{stderr}");
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("search.json")).unwrap()).unwrap();
    let training = &settings["evaluator"];
    assert_eq!(training["learning_rate"], 0.02, "{training}");
    assert_eq!(training["batch_size"], 16);
    assert_eq!(training["label_smoothing"], 0.05);
    assert_eq!(
        training["optimizer"],
        serde_json::json!({"sgd": {"momentum": 0.9, "nesterov": false}})
    );
    let (code, _, stderr) = run(
        &[
            "search",
            "nasbench201",
            "--benchmark",
            "cifar10",
            "--lr",
            "0.1",
            "--out",
            dir.path().join("b").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("it takes no training settings"), "{stderr}");
}

#[test]
fn cli_space_shows_the_cost_range_at_its_input() {
    let (code, stdout, _) = run(&["space", "mobile-micro", "--input", "1,1,28,28"], "");
    assert_eq!(code, 0);
    assert!(stdout.contains("flops: 436,554 to 28,836,170"), "{stdout}");
    assert!(stdout.contains("params: 3,426 to 154,802"), "{stdout}");
}

#[test]
fn cli_search_records_proxies_and_guides_by_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let flags = [
        "--proxy",
        "snip",
        "--prior",
        "snip,live_params",
        "--epochs",
        "1",
    ];
    let (code, _, stderr) = run(&as_str(&search_args(&out, "3", "1", &flags)), "");
    assert_eq!(code, 0, "{stderr}");
    let log = read_log(&out);
    assert!(log.iter().filter(|r| r["status"] == "ok").count() == 3);
    for record in log.iter().filter(|r| r["status"] == "ok") {
        assert!(
            record["metrics"]["snip"].as_f64().unwrap() > 0.0,
            "{record}"
        );
    }
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("search.json")).unwrap()).unwrap();
    assert_eq!(settings["proxies"], serde_json::json!(["snip"]));
}

#[test]
fn cli_sample_is_seeded_and_profiles_as_json_lines() {
    let args = ["sample", "mobile-micro", "--seed", "4", "--count", "5"];
    let (code, samples, _) = run(&args, "");
    assert_eq!(code, 0);
    assert_eq!(samples.lines().count(), 5);
    assert_eq!(run(&args, "").1, samples);
    let (code, stdout, _) = run(
        &["profile", "mobile-micro", "--sample", "-", "--json"],
        &samples,
    );
    assert_eq!(code, 0);
    for line in stdout.lines() {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(line["flops"].as_u64().unwrap() > 0 && line["params"].as_u64().unwrap() > 0);
    }
    assert_eq!(stdout.lines().count(), 5);
}

#[test]
fn cli_freeze_runs_forward_on_flex() {
    let (code, samples, _) = run(&["sample", "nasbench201", "--seed", "1"], "");
    assert_eq!(code, 0);
    let (code, stdout, stderr) = run(
        &["freeze", "nasbench201", "--sample", "-", "--device", "flex"],
        &samples,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("output [1, 10]"), "{stdout}");
}

#[test]
fn cli_bad_input_exits_2_with_one_clear_message() {
    let cases: &[(&[&str], &str, &str)] = &[
        (&["space", "resnet"], "", "unknown space `resnet`"),
        (
            &["profile", "proxylessnas", "--sample", "-"],
            r#"{"s2_depth": 2}"#,
            "missing label",
        ),
        (
            &["profile", "proxylessnas", "--sample", "-"],
            &PROXYLESS_MOBILE.replace("k7e6\"}", "k7e6\", \"x\": 1}"),
            "unknown label `x`",
        ),
        (
            &["profile", "proxylessnas", "--sample", "-"],
            &PROXYLESS_MOBILE.replace("\"s7_i0\": \"k7e6\"", "\"s7_i0\": \"k9e9\""),
            "value \"k9e9\" is not one of",
        ),
        (
            &["profile", "proxylessnas", "--sample", "-"],
            "{\"s2_depth\": ",
            "malformed sample #1",
        ),
        (
            &["profile", "proxylessnas", "--sample", "-"],
            "",
            "no sample",
        ),
        (
            &[
                "profile",
                "proxylessnas",
                "--sample",
                "-",
                "--input",
                "1,3,224",
            ],
            PROXYLESS_MOBILE,
            "four dimensions",
        ),
        (
            &["profile", "proxylessnas", "--sample", "/nonexistent.json"],
            "",
            "cannot read /nonexistent.json",
        ),
        (
            &["profile", "mobile-micro", "--sample", "-"],
            r#"{"s1_width": 8}"#,
            "missing label",
        ),
        (
            &["freeze", "proxylessnas", "--sample", "-", "--device", "tpu"],
            PROXYLESS_MOBILE,
            "unknown device `tpu`",
        ),
        (
            &["sample", "proxylessnas", "--count", "many"],
            "",
            "invalid value 'many'",
        ),
        (
            &[
                "oneshot",
                "mobile-micro",
                "--out",
                "/tmp/x",
                "--penalty",
                "flops",
            ],
            "",
            "--penalty needs --baseline",
        ),
        (
            &[
                "oneshot",
                "mobile-micro",
                "--out",
                "/tmp/x",
                "--penalty",
                "latency",
                "--baseline",
                "1",
            ],
            "",
            "needs a predictor table (--table)",
        ),
        (
            &[
                "oneshot",
                "mobile-micro",
                "--out",
                "/tmp/x",
                "--strategy",
                "spos",
                "--penalty",
                "flops",
                "--baseline",
                "1e5",
            ],
            "",
            "bound the cost with --min-cost/--max-cost",
        ),
        (
            &["oneshot", "mobile-micro", "--out", "/tmp/x", "--scale=-1"],
            "",
            "--scale must be a positive number",
        ),
        (
            &[
                "oneshot",
                "mobile-micro",
                "--out",
                "/tmp/x",
                "--from",
                "/tmp",
            ],
            "",
            "which only spos does",
        ),
        (
            &[
                "oneshot",
                "mobile-micro",
                "--out",
                "/tmp/hwnas-cli-unused",
                "--strategy",
                "spos",
                "--from",
                "/nonexistent",
            ],
            "",
            "/nonexistent/oneshot.json",
        ),
        (
            &[
                "oneshot",
                "mobile-micro",
                "--out",
                "/tmp/x",
                "--strategy",
                "enas",
            ],
            "",
            "invalid value 'enas'",
        ),
        (
            // A file where a folder must be: refused before any network is measured.
            &[
                "latency",
                "build",
                "mobile-micro",
                "--out",
                "Cargo.toml/table.json",
            ],
            "",
            "cannot write in Cargo.toml",
        ),
    ];
    for (args, stdin, expected) in cases {
        let (code, _, stderr) = run(args, stdin);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
    }
}

#[cfg(not(feature = "wgpu"))]
#[test]
fn cli_freeze_names_the_missing_feature() {
    let (code, _, stderr) = run(
        &[
            "freeze",
            "proxylessnas",
            "--sample",
            "-",
            "--device",
            "wgpu",
        ],
        PROXYLESS_MOBILE,
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("--features wgpu"), "{stderr}");
}

fn read_log(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("trials.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn cli_search_resume_report_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out_arg = out.to_str().unwrap();
    let search = |trials: &str, extra: &[&str]| {
        let mut flags = vec!["--max-flops", "400000"];
        flags.extend_from_slice(extra);
        run(&as_str(&search_args(&out, trials, "3", &flags)), "")
    };
    let (code, stdout, stderr) = search("2", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("2 trials (0 failed)"), "{stdout}");
    let log = read_log(&out);
    // The report says what settled each proposal that was not trained.
    let outside = log.iter().filter(|r| r["reason"] == "filter").count();
    let summary = if outside == 0 {
        format!("{}: 2 ok, 0 failed, 0 not trained\n", out.display())
    } else {
        format!("not trained ({outside} outside the budget)")
    };
    assert!(stdout.contains(&summary), "{summary}: {stdout}");
    let ok: Vec<&serde_json::Value> = log.iter().filter(|r| r["status"] == "ok").collect();
    assert_eq!(ok.len(), 2);
    for record in &log {
        assert!(record["id"].is_u64() && record["sample"].is_object());
        let flops = record["metrics"]["flops"].as_f64().unwrap();
        match record["status"].as_str().unwrap() {
            "ok" => {
                assert!(flops <= 400_000.0);
                let accuracy = record["metrics"]["accuracy"].as_f64().unwrap();
                assert!((0.0..=1.0).contains(&accuracy));
                assert!(record["metrics"]["params"].as_f64().unwrap() > 0.0);
            }
            "invalid" => assert!(flops > 400_000.0 && record["reason"] == "filter"),
            other => panic!("unexpected status {other}"),
        }
    }
    // The best sample is sample JSON that the other commands read.
    let best = out.join("best.json");
    let (code, _, stderr) = run(
        &[
            "profile",
            "mobile-micro",
            "--sample",
            best.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");

    let (code, _, stderr) = search("3", &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("already holds an experiment"), "{stderr}");
    // The settings are the run's (search.json); resuming with others names each that differs.
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("search.json")).unwrap()).unwrap();
    assert_eq!(settings["strategy"]["name"], "guided");
    assert_eq!(settings["budget"]["max"]["flops"], 400_000.0);
    for (extra, named) in [
        (&["--strategy", "random"][..], "strategy: guided -> random"),
        (
            &["--max-params", "1e9"][..],
            "budget.max.params: none -> 1000000000.0",
        ),
        (&["--median-stop"][..], "median_stop: false -> true"),
    ] {
        let args: Vec<&str> = extra.iter().copied().chain(["--resume"]).collect();
        let (code, _, stderr) = search("3", &args);
        assert_eq!(code, 2, "{extra:?}: {stderr}");
        assert!(stderr.contains(named), "{extra:?}: {stderr}");
    }
    let (code, _, stderr) = search("3", &["--resume"]);
    assert_eq!(code, 0, "{stderr}");
    let log = read_log(&out);
    let ok_ids: Vec<u64> = log
        .iter()
        .filter(|r| r["status"] == "ok")
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ok_ids.len(), 3);
    assert_eq!(ok_ids[..2], log_ids(&ok)[..]);

    let (code, stdout, _) = run(&["report", out_arg, "--top", "2"], "");
    assert_eq!(code, 0);
    assert!(
        stdout.contains("top 2 by accuracy") && stdout.contains("Pareto front"),
        "{stdout}"
    );
    assert!(
        out.join("accuracy_vs_flops.png").is_file() && out.join("accuracy_vs_flops.svg").is_file()
    );

    let (code, exported, _) = run(&["export", out_arg, "--front", "params"], "");
    assert_eq!(code, 0);
    assert!(exported.lines().count() >= 1);
    // Exactly the trained samples no other beats on accuracy and parameters at once.
    let log = read_log(&out);
    let trained: Vec<&serde_json::Value> = log.iter().filter(|r| r["status"] == "ok").collect();
    let score = |r: &serde_json::Value| {
        let metric = |name: &str| r["metrics"][name].as_f64().unwrap();
        (metric("accuracy"), metric("params"))
    };
    let dominated = |r: &serde_json::Value| {
        let (accuracy, params) = score(r);
        trained.iter().any(|o| {
            let (a, p) = score(o);
            a >= accuracy && p <= params && (a > accuracy || p < params)
        })
    };
    let mut expected: Vec<String> = trained
        .iter()
        .filter(|r| !dominated(r))
        .map(|r| r["sample"].to_string())
        .collect();
    let mut front: Vec<String> = exported
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap()
                .to_string()
        })
        .collect();
    expected.sort();
    front.sort();
    assert_eq!(front, expected);
    let (code, _, stderr) = run(&["profile", "mobile-micro", "--sample", "-"], &exported);
    assert_eq!(code, 0, "{stderr}");
}

fn log_ids(records: &[&serde_json::Value]) -> Vec<u64> {
    records.iter().map(|r| r["id"].as_u64().unwrap()).collect()
}

#[test]
fn cli_search_bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out = out.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["search", "mobile-micro", "--out", out, "--max-flops", "0"],
            "--max-flops must be a positive",
        ),
        (
            &[
                "search",
                "nasbench201",
                "--out",
                out,
                "--data",
                "/nonexistent/images",
            ],
            "cannot read /nonexistent/images",
        ),
        (
            &[
                "search",
                "mobile-micro",
                "--out",
                out,
                "--strategy",
                "annealing",
            ],
            "invalid value 'annealing'",
        ),
        (
            &[
                "search",
                "mobile-micro",
                "--out",
                out,
                "--max-flops",
                "10",
                "--epochs",
                "1",
            ],
            "none of 10000 samples tried fits the budget (flops <= 10): no network of the space \
             has fewer than 36,234 flops",
        ),
        (&["report", "/nonexistent-hwnas-dir"], "holds no experiment"),
        (
            &["search", "mobile-micro", "--out", out, "--proxy", "zen"],
            "unknown proxy `zen`",
        ),
        (
            &["search", "mobile-micro", "--out", out, "--prior", "synflow"],
            "the guided prior's `synflow` is not priced",
        ),
        (
            &[
                "search",
                "mobile-micro",
                "--out",
                out,
                "--strategy",
                "random",
                "--prior",
                "flops",
            ],
            "--prior applies to --strategy guided",
        ),
        (
            &["search", "mobile-micro", "--out", out, "--time-limit-s=-1"],
            "the time limit must be a positive number, not -1",
        ),
        (
            &[
                "search",
                "mobile-micro",
                "--out",
                out,
                "--time-limit-s",
                "nan",
            ],
            "the time limit must be a positive number, not NaN",
        ),
        (
            &[
                "search",
                "mobile-micro",
                "--out",
                out,
                "--time-limit-s",
                "inf",
            ],
            "the time limit must be a positive number, not inf",
        ),
        (
            &[
                "search",
                "mobile-micro",
                "--out",
                out,
                "--max-params",
                "nan",
            ],
            "--max-params must be a positive number",
        ),
        (
            &["search", "mobile-micro", "--out", out, "--concurrency", "0"],
            "must be at least 1",
        ),
        (
            &["search", "mobile-micro", "--out", out, "--epochs", "0"],
            "epochs and batch size must be at least 1",
        ),
        (
            &[
                "search",
                "mobile-micro",
                "--out",
                out,
                "--executor",
                "processes",
                "--median-stop",
            ],
            "only the threads executor",
        ),
        (
            &[
                "search",
                "mobile-micro",
                "--out",
                out,
                "--executor",
                "processes",
                "--devices",
                "0",
                "--concurrency",
                "2",
            ],
            "1 devices for 2 trials at once",
        ),
    ];
    for (args, expected) in cases {
        let (code, _, stderr) = run(args, "");
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let (code, _, stderr) = run(&["export", out, "--front", "watts"], "");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no trial") && stderr.contains("`watts`"),
        "{stderr}"
    );
}

#[test]
fn cli_latency_measure_build_predict_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("table.json");
    let table_arg = table.to_str().unwrap();
    let (_, samples, _) = run(
        &["sample", "mobile-micro", "--count", "3", "--seed", "2"],
        "",
    );

    let args = [
        "latency",
        "measure",
        "mobile-micro",
        "--sample",
        "-",
        "--json",
        "--budget-ms",
        "5",
    ];
    let (code, stdout, stderr) = run(&args, &samples);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 3);
    for line in stdout.lines() {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        // What `--json` promises: the statistics of at least 10 timed passes, in order.
        let field = |name: &str| line[name].as_f64().unwrap();
        let (min, median, mean, p90) = (
            field("min_ms"),
            field("median_ms"),
            field("mean_ms"),
            field("p90_ms"),
        );
        assert!(0.0 < min && min <= median && median <= p90, "{line}");
        assert!(min <= mean, "{line}");
        assert!(field("cv") >= 0.0, "{line}");
        assert!(line["runs"].as_u64().unwrap() >= 10, "{line}");
        assert_eq!(line["batch"], 1);
        assert_eq!(line["input"], serde_json::json!([1, 1, 8, 8]));
        assert_eq!(line["device"], "flex");
    }

    let args = [
        "latency",
        "build",
        "mobile-micro",
        "--out",
        table_arg,
        "--fit-samples",
        "3",
        "--layer-budget-ms",
        "1",
        "--statistic",
        "min",
        "--interleave",
        "16",
    ];
    let (code, stdout, stderr) = run(&args, "");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("distinct layers of `mobile-micro`"),
        "{stdout}"
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&table).unwrap()).unwrap();
    assert_eq!(file["statistic"], "min");

    let (code, stdout, stderr) = run(
        &[
            "latency", "predict", "--table", table_arg, "--sample", "-", "--json",
        ],
        &samples,
    );
    assert_eq!(code, 0, "{stderr}");
    let predicted: Vec<f64> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["latency_ms"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert_eq!(predicted.len(), 3);
    assert!(predicted.iter().all(|ms| *ms > 0.0));

    let (code, stdout, stderr) = run(
        &[
            "latency",
            "evaluate",
            "--table",
            table_arg,
            "--samples",
            "4",
            "--budget-ms",
            "5",
            "--twice",
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("4 held-out samples, min latency")
            && stdout.contains("| metric | predicted vs measured | measured vs measured again |")
            && stdout
                .lines()
                .any(|l| l.starts_with("| Kendall tau |") && l.matches('|').count() == 4)
            && stdout.contains("| within +-10 % |")
            && stdout.contains("| measured / predicted (median) |"),
        "{stdout}"
    );

    // The same table twice ranks the samples identically; measuring on flex adds a column.
    let (code, stdout, stderr) = run(
        &[
            "latency",
            "compare",
            "--tables",
            table_arg,
            table_arg,
            "--samples",
            "5",
            "--measure",
            "flex",
            "flex",
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("| table.json (predicted) | table.json (predicted) | 1.000 | 1.000 |"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("(measured)").count(), 2 + 2 * 3, "{stdout}");

    // Tables edited by hand: a negative latency, a layer listed twice.
    let edited = |name: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&table).unwrap()).unwrap();
        edit(&mut file);
        let path = dir.path().join(name);
        std::fs::write(&path, file.to_string()).unwrap();
        path.to_str().unwrap().to_string()
    };
    let negative = edited("negative.json", &|file| {
        file["layers"][0]["ms"] = (-1.0).into()
    });
    let twice = edited("twice.json", &|file| {
        let first = file["layers"][0].clone();
        file["layers"].as_array_mut().unwrap().push(first);
    });
    // Two different tables: the printed agreement is that of their predictions.
    let other = edited("other.json", &|file| {
        let layers = file["layers"].as_array_mut().unwrap();
        let n = layers.len();
        for (i, layer) in layers.iter_mut().enumerate() {
            layer["ms"] = ((n - i) as f64 * 0.01).into();
        }
    });
    let (_, eight, _) = run(
        &["sample", "mobile-micro", "--count", "8", "--seed", "1"],
        "",
    );
    let predict = |table: &str| -> Vec<f64> {
        let (code, stdout, stderr) = run(
            &[
                "latency", "predict", "--table", table, "--sample", "-", "--json",
            ],
            &eight,
        );
        assert_eq!(code, 0, "{stderr}");
        stdout
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["latency_ms"]
                    .as_f64()
                    .unwrap()
            })
            .collect()
    };
    let (x, y) = (predict(table_arg), predict(&other));
    let (code, stdout, stderr) = run(
        &[
            "latency",
            "compare",
            "--tables",
            table_arg,
            &other,
            "--samples",
            "8",
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    let row = format!(
        "| table.json (predicted) | other.json (predicted) | {:.3} | {:.3} |",
        hwnas_profiler::rank::kendall_tau(&x, &y),
        hwnas_profiler::rank::spearman_rho(&x, &y)
    );
    assert!(stdout.contains(&row), "{row}\n{stdout}");

    // A table measured elsewhere: evaluating it here, where it was not measured, is refused.
    let elsewhere = edited("elsewhere.json", &|file| {
        file["device"]["cpu"] = "a CPU this machine does not have".into()
    });
    let two_samples = format!("{}\n{PROXYLESS_MOBILE}\n", samples.lines().next().unwrap());
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["latency", "predict", "--table", table_arg, "--sample", "-"],
            PROXYLESS_MOBILE,
            "missing label",
        ),
        (
            &["latency", "measure", "mobile-micro", "--sample", "-"],
            &two_samples,
            "sample #2",
        ),
        (
            &[
                "latency",
                "build",
                "mobile-micro",
                "--out",
                "/tmp/unused.json",
                "--statistic",
                "mean",
            ],
            "",
            "median or min",
        ),
        (
            &[
                "latency",
                "evaluate",
                "--table",
                table_arg,
                "--interleave",
                "0",
            ],
            "",
            "--interleave",
        ),
        (
            &["latency", "predict", "--table", &negative, "--sample", "-"],
            &samples,
            "layer #1 (",
        ),
        (
            &["latency", "predict", "--table", &negative, "--sample", "-"],
            &samples,
            "latency -1 ms is not a latency",
        ),
        (
            &["latency", "predict", "--table", &twice, "--sample", "-"],
            &samples,
            "is listed twice",
        ),
        (
            &[
                "latency",
                "predict",
                "--table",
                "/nonexistent.json",
                "--sample",
                "-",
            ],
            "",
            "cannot read /nonexistent.json",
        ),
        (
            &[
                "latency",
                "evaluate",
                "--table",
                table_arg,
                "--samples",
                "1",
            ],
            "",
            "at least 2",
        ),
        (
            &[
                "latency", "evaluate", "--table", table_arg, "--device", "ndarray",
            ],
            "",
            "ndarray",
        ),
        (
            &[
                "latency",
                "evaluate",
                "--table",
                &elsewhere,
                "--samples",
                "2",
            ],
            "",
            "a CPU this machine does not have",
        ),
        (
            &[
                "latency",
                "evaluate",
                "--table",
                &elsewhere,
                "--samples",
                "2",
            ],
            "",
            "build one here with `hwnas latency build`",
        ),
        (
            &[
                "search",
                "nasbench201",
                "--out",
                "/tmp/unused",
                "--table",
                table_arg,
            ],
            "",
            "built for space `mobile-micro`",
        ),
    ];
    for (args, stdin, expected) in cases {
        let (code, _, stderr) = run(args, stdin);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn cli_failure_that_is_not_the_input_exits_1() {
    // A full disk: the samples are fine, writing them fails.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("hwnas"))
        .args(["sample", "mobile-micro", "--count", "3"])
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.lines().count() == 1,
        "{stderr}"
    );
    // The same command with bad input is the user's to fix.
    let (code, _, stderr) = run(&["sample", "resnet", "--count", "3"], "");
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn cli_stops_quietly_when_its_reader_does() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;

    // Both write far more than a pipe holds, so the writer meets the closed pipe.
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("samples.jsonl");
    let (_, text, _) = run(&["sample", "mobile-micro", "--count", "20000"], "");
    std::fs::write(&samples, text).unwrap();
    let profile = [
        "profile",
        "mobile-micro",
        "--sample",
        samples.to_str().unwrap(),
    ];
    for args in [
        &["sample", "mobile-micro", "--count", "1000000"][..],
        &profile[..],
    ] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("hwnas"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty());
        // The reader is gone: what is still to print has nowhere to go.
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(status.success(), "{args:?}: {status:?} {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

/// Waits until `dir/trials.jsonl` holds `n` complete lines of trained trials.
fn wait_for_trials(dir: &std::path::Path, n: usize, child: &mut std::process::Child) {
    let start = std::time::Instant::now();
    loop {
        let trained = std::fs::read_to_string(dir.join("trials.jsonl"))
            .map(|text| {
                text.lines()
                    .filter(|line| line.contains("\"status\":\"ok\""))
                    .count()
            })
            .unwrap_or(0);
        if trained >= n {
            return;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the search ended before {n} trials"
        );
        assert!(
            start.elapsed().as_secs() < 300,
            "no {n} trials in 5 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn spawn_search(args: &[&str]) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("hwnas"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &std::process::Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// What must not differ between two runs of one search: ids, samples, statuses, metrics.
fn outcomes(dir: &std::path::Path) -> Vec<(u64, String, String, String)> {
    read_log(dir)
        .iter()
        .map(|r| {
            (
                r["id"].as_u64().unwrap(),
                r["sample"].to_string(),
                r["status"].to_string(),
                r["metrics"].to_string(),
            )
        })
        .collect()
}

#[test]
fn cli_search_killed_mid_trial_resumes_to_the_uninterrupted_log() {
    let dir = tempfile::tempdir().unwrap();
    for concurrency in ["1", "2"] {
        let (straight, killed) = (
            dir.path().join(format!("straight-{concurrency}")),
            dir.path().join(format!("killed-{concurrency}")),
        );
        let flags = ["--max-flops", "400000", "--concurrency", concurrency];
        let args = |out: &std::path::Path| search_args(out, "5", "7", &flags);
        let (code, _, stderr) = run(&as_str(&args(&straight)), "");
        assert_eq!(code, 0, "{stderr}");

        let mut child = spawn_search(&as_str(&args(&killed)));
        wait_for_trials(&killed, 2, &mut child);
        signal(&child, "-KILL");
        child.wait().unwrap();
        let mut resume = args(&killed);
        resume.push("--resume".into());
        let (code, _, stderr) = run(&as_str(&resume), "");
        assert_eq!(code, 0, "{stderr}");

        let (a, b) = (outcomes(&straight), outcomes(&killed));
        let ids = |log: &[(u64, String, String, String)]| {
            let mut ids: Vec<u64> = log.iter().map(|r| r.0).collect();
            ids.sort();
            ids
        };
        // Every id once, and as many trained trials as asked.
        let trained =
            |log: &[(u64, String, String, String)]| log.iter().filter(|r| r.2 == "\"ok\"").count();
        assert_eq!(trained(&b), 5, "{b:?}");
        let mut unique = ids(&b);
        unique.dedup();
        assert_eq!(unique, ids(&b));
        if concurrency == "1" {
            // One trial at a time is reproducible: the same log, record for record.
            assert_eq!(a, b);
        }
    }
}

#[test]
fn cli_search_stops_on_ctrl_c_and_says_how_to_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out_arg = out.to_str().unwrap();
    let args = [
        "search",
        "mobile-micro",
        "--trials",
        "200",
        "--epochs",
        "1",
        "--seed",
        "1",
        "--out",
        out_arg,
    ];
    let mut child = spawn_search(&args);
    wait_for_trials(&out, 1, &mut child);
    signal(&child, "-INT");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("stopping: the running work finishes"),
        "{stderr}"
    );
    assert!(
        stderr.contains("interrupted; go on with `") && stderr.contains(" --resume`"),
        "{stderr}"
    );
    let stopped = read_log(&out).len();
    assert!(stopped < 200, "{stopped}");
    // The directory is consistent: the search goes on from it.
    let mut resume: Vec<&str> = args.to_vec();
    resume[3] = "1";
    resume.push("--resume");
    let (code, _, stderr) = run(&resume, "");
    assert_eq!(code, 0, "{stderr}");
    assert!(read_log(&out).len() >= stopped);
}

/// `hwnas search mobile-micro --trials T --population 2 --sample-size 1 --seed S --out DIR`,
/// then `extra` (one epoch a trial unless `extra` sets `--epochs`).
fn search_args(out: &std::path::Path, trials: &str, seed: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "search",
        "mobile-micro",
        "--trials",
        trials,
        "--population",
        "2",
        "--sample-size",
        "1",
        "--seed",
        seed,
        "--out",
        out.to_str().unwrap(),
    ];
    if !extra.contains(&"--epochs") {
        args.extend(["--epochs", "1"]);
    }
    args.extend_from_slice(extra);
    args.into_iter().map(String::from).collect()
}

/// [`search_args`] with seed 5, run; the exit code, stdout and stderr.
fn small_search(out: &std::path::Path, trials: &str, extra: &[&str]) -> (i32, String, String) {
    run(&as_str(&search_args(out, trials, "5", extra)), "")
}

fn settings(out: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("search.json")).unwrap()).unwrap()
}

fn trained(out: &std::path::Path) -> Vec<serde_json::Value> {
    read_log(out)
        .into_iter()
        .filter(|r| r["status"] == "ok")
        .collect()
}

#[test]
fn cli_search_latency_budgets_predicted_and_measured() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("table.json");
    let table_arg = table.to_str().unwrap();
    let (code, _, stderr) = run(
        &[
            "latency",
            "build",
            "mobile-micro",
            "--out",
            table_arg,
            "--fit-samples",
            "4",
            "--layer-budget-ms",
            "2",
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    // A budget half of 21 random samples meet, by the table.
    let (_, samples, _) = run(
        &["sample", "mobile-micro", "--count", "21", "--seed", "9"],
        "",
    );
    let (_, predicted, _) = run(
        &[
            "latency", "predict", "--table", table_arg, "--sample", "-", "--json",
        ],
        &samples,
    );
    let mut predicted: Vec<f64> = predicted
        .lines()
        .map(|line| {
            let line: serde_json::Value = serde_json::from_str(line).unwrap();
            line["latency_ms"].as_f64().unwrap()
        })
        .collect();
    predicted.sort_by(f64::total_cmp);
    let budget = predicted[10];
    let budget_arg = budget.to_string();

    let out = dir.path().join("predicted");
    let args = ["--max-latency-ms", &budget_arg, "--table", table_arg];
    let (code, _, stderr) = small_search(&out, "2", &args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(settings(&out)["latency"]["table"], table_arg);
    for record in read_log(&out) {
        let ms = record["metrics"]["latency_ms"].as_f64().unwrap();
        match record["status"].as_str().unwrap() {
            "ok" => assert!(ms <= budget, "{record}"),
            _ => assert!(ms > budget || record["reason"] == "duplicate", "{record}"),
        }
    }
    assert_eq!(trained(&out).len(), 2);

    // Measured on this machine (a budget every network meets: timings are not for tests).
    let out = dir.path().join("measured");
    let (code, _, stderr) = small_search(&out, "2", &["--max-latency-ms", "10000"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(settings(&out)["latency"], "measured");
    for record in trained(&out) {
        let ms = record["metrics"]["latency_ms"].as_f64().unwrap();
        assert!(ms > 0.0 && ms <= 10_000.0, "{record}");
    }
}

#[test]
fn cli_search_flags_do_what_they_say() {
    let dir = tempfile::tempdir().unwrap();

    // Penalised rejections are told an accuracy of 0 and logged as outside the budget.
    let out = dir.path().join("penalise");
    let (code, _, stderr) = small_search(&out, "2", &["--max-flops", "100000", "--penalise"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(settings(&out)["budget"]["penalise"]["accuracy"], 0.0);
    let log = read_log(&out);
    assert!(log.iter().any(|r| r["reason"] == "filter"), "{log:?}");
    assert!(
        trained(&out)
            .iter()
            .all(|r| r["metrics"]["flops"].as_f64().unwrap() <= 100_000.0)
    );

    // Every sample trained twice, with different seeds.
    let out = dir.path().join("repeats");
    let (code, _, stderr) = small_search(&out, "4", &["--repeats", "2"]);
    assert_eq!(code, 0, "{stderr}");
    let repeated = trained(&out);
    assert_eq!(repeated.len(), 4);
    for pair in repeated.chunks(2) {
        assert_eq!(pair[0]["sample"], pair[1]["sample"]);
        assert_ne!(pair[0]["seed"], pair[1]["seed"]);
    }

    // Two trials at once: every trial logged once.
    let out = dir.path().join("concurrency");
    let (code, _, stderr) = small_search(&out, "4", &["--concurrency", "2"]);
    assert_eq!(code, 0, "{stderr}");
    let mut ids: Vec<u64> = trained(&out)
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);

    // A time limit stops starting trials.
    let out = dir.path().join("time");
    let (code, stdout, stderr) = small_search(&out, "50", &["--time-limit-s", "0.001"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("stopped: Time"), "{stdout}");
    assert!(trained(&out).len() < 50);

    // Median stopping ends weak trials before their last epoch.
    let out = dir.path().join("median");
    let (code, _, stderr) = small_search(&out, "10", &["--median-stop", "--epochs", "3"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(settings(&out)["median_stop"], true);
    let all = trained(&out);
    assert_one_per_network(&all);
    let stopped: Vec<&serde_json::Value> =
        all.iter().filter(|r| r["stopped_early"] == true).collect();
    assert!(!stopped.is_empty(), "{all:?}");
    // A trial stopped before its last epoch trained less; none trained more than asked.
    let epochs = |r: &serde_json::Value| r["intermediate"].as_array().unwrap().len();
    assert!(stopped.iter().any(|r| epochs(r) < 3), "{stopped:?}");
    assert!(all.iter().all(|r| epochs(r) <= 3));
}

#[test]
fn cli_oneshot_trains_resumes_and_searches_a_trained_supernet() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (proxyless, spos, again) = (path("proxyless"), path("spos"), path("again"));
    let oneshot = |extra: &[&str]| {
        let mut args = vec!["oneshot", "mobile-micro", "--epochs", "1", "--seed", "2"];
        args.extend_from_slice(extra);
        run(&args, "")
    };

    let args = ["--strategy", "proxyless", "--out", proxyless.as_str()];
    let (code, stdout, stderr) = oneshot(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("chosen: {"), "{stdout}");
    let best = std::fs::read_to_string(dir.path().join("proxyless/best.json")).unwrap();
    // Resuming a finished run trains nothing more and chooses the same.
    let mut resumed = args.to_vec();
    resumed.push("--resume");
    let (code, stdout_again, stderr) = oneshot(&resumed);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("proxyless/best.json")).unwrap(),
        best
    );
    assert_eq!(stdout_again.lines().next(), stdout.lines().next());
    let epochs = std::fs::read_to_string(dir.path().join("proxyless/supernet.jsonl")).unwrap();
    assert_eq!(epochs.lines().count(), 1);

    // SPOS within a FLOPs range, then the same supernet searched under a tighter one.
    let spos_args = |out: &str, max: &str| {
        [
            "--strategy",
            "spos",
            "--trials",
            "4",
            "--penalty",
            "flops",
            "--max-cost",
            max,
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([out.to_string()])
        .collect::<Vec<_>>()
    };
    let (code, _, stderr) = oneshot(&as_str(&spos_args(&spos, "300000")));
    assert_eq!(code, 0, "{stderr}");
    let mut from = spos_args(&again, "200000");
    from.extend(["--from".to_string(), spos.clone()]);
    let (code, _, stderr) = oneshot(&as_str(&from));
    assert_eq!(code, 0, "{stderr}");
    assert!(!dir.path().join("again/supernet.jsonl").exists());
    // Another split would rank subnets on images the supernet trained on: refused.
    let mut other_split = spos_args(dir.path().join("other").to_str().unwrap(), "200000");
    other_split.extend(["--from", &spos, "--split-seed", "1"].map(String::from));
    let (code, _, stderr) = oneshot(&as_str(&other_split));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("trained on other data") && stderr.contains("data.split_seed: 0 -> 1"),
        "{stderr}"
    );
    for (out, limit) in [("spos", 300_000.0), ("again", 200_000.0)] {
        let trained = trained(&dir.path().join(out));
        assert_eq!(trained.len(), 4, "{out}");
        for record in &trained {
            assert!(
                record["metrics"]["flops"].as_f64().unwrap() <= limit,
                "{record}"
            );
        }
        assert_one_per_network(&trained);
    }
}

fn as_str(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// No two trained records build the same `mobile-micro` network.
fn assert_one_per_network(records: &[serde_json::Value]) {
    let space = hwnas_space::hub::space("mobile-micro").unwrap();
    let mut networks: Vec<u64> = records
        .iter()
        .map(|r| {
            let sample = hwnas_space::Sample::from_json(&r["sample"].to_string()).unwrap();
            space.architecture_hash(&sample).unwrap()
        })
        .collect();
    networks.sort();
    networks.dedup();
    assert_eq!(networks.len(), records.len(), "a network was trained twice");
}

#[test]
fn cli_oneshot_stops_on_ctrl_c_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let args = [
        "oneshot",
        "mobile-micro",
        "--strategy",
        "proxyless",
        "--epochs",
        "3",
        "--out",
        out.to_str().unwrap(),
    ];
    let mut child = spawn_search(&args);
    let log = out.join("supernet.jsonl");
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&log).map_or(0, |t| t.lines().count()) < 1 {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        assert!(start.elapsed().as_secs() < 300, "no epoch in 5 minutes");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    signal(&child, "-INT");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains(" --resume`"), "{stderr}");
    let finished = std::fs::read_to_string(&log).unwrap().lines().count();
    assert!(finished < 3, "{finished} epochs");
    let mut resume = args.to_vec();
    resume.push("--resume");
    let (code, stdout, stderr) = run(&resume, "");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("chosen: {"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 3);
}

#[test]
fn cli_bench_answers_from_the_nasbench201_tables() {
    // The optimum of CIFAR-100 and where it is, as the tables' sources quote it.
    let (code, stdout, stderr) = run(&["bench", "best", "--dataset", "cifar100", "--json"], "");
    assert_eq!(code, 0, "{stderr}");
    let best: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(best["index"], 9930);
    assert!((best["accuracy"].as_f64().unwrap() - 73.5133).abs() < 1e-3);
    assert_eq!(best["within_budget"], 15_625);

    // Under a latency budget the optimum is the best cell that meets it.
    let args = [
        "bench",
        "best",
        "--dataset",
        "cifar10",
        "--device",
        "pixel3",
        "--max-latency-ms",
        "5",
        "--json",
    ];
    let (code, stdout, stderr) = run(&args, "");
    assert_eq!(code, 0, "{stderr}");
    let fast: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(fast["latency_ms"].as_f64().unwrap() <= 5.0);
    let within = fast["within_budget"].as_u64().unwrap();
    assert!(0 < within && within < 15_625);

    // A query reads back what best found, with every device and the exact counts.
    let (code, stdout, stderr) = run(
        &["bench", "query", "--sample", "-", "--json"],
        &fast["sample"].to_string(),
    );
    assert_eq!(code, 0, "{stderr}");
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["index"], fast["index"]);
    assert_eq!(line["accuracy"]["cifar10"], fast["accuracy"]);
    assert_eq!(line["latency_ms"]["pixel3"], fast["latency_ms"]);
    assert_eq!(line["latency_ms"].as_object().unwrap().len(), 22);
    assert_eq!(line["flops"], fast["flops"]);

    let (code, stdout, _) = run(&["bench", "devices"], "");
    assert_eq!(code, 0);
    assert_eq!(stdout.lines().count(), 1 + 22);
    assert!(stdout.contains("titan_rtx_256") && stdout.contains("estimated"));

    // A search whose trials the table answers: a normal directory, every trial within budget.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let search = [
        "search",
        "nasbench201",
        "--benchmark",
        "cifar10",
        "--latency-of",
        "pixel3",
        "--max-latency-ms",
        "5",
        "--trials",
        "60",
        "--out",
        out.to_str().unwrap(),
    ];
    let (code, _, stderr) = run(&search, "");
    assert_eq!(code, 0, "{stderr}");
    let trained = trained(&out);
    assert_eq!(trained.len(), 60);
    for record in &trained {
        assert!(record["metrics"]["latency_ms"].as_f64().unwrap() <= 5.0);
        // A share, where the tables hold percent: never above the optimum under the budget.
        let accuracy = record["metrics"]["accuracy"].as_f64().unwrap();
        assert!(accuracy <= fast["accuracy"].as_f64().unwrap() / 100.0 + 1e-9);
    }
    assert_eq!(settings(&out)["evaluator"]["dataset"], "cifar10");
    assert_eq!(settings(&out)["latency"]["benchmark"], "pixel3");

    let cases: &[(&[&str], &str)] = &[
        (
            &["bench", "best", "--dataset", "mnist"],
            "unknown dataset `mnist`",
        ),
        (
            &[
                "bench",
                "best",
                "--dataset",
                "cifar10",
                "--device",
                "pixel9",
                "--max-latency-ms",
                "5",
            ],
            "unknown device `pixel9`",
        ),
        (
            &[
                "bench",
                "best",
                "--dataset",
                "cifar10",
                "--device",
                "fpga",
                "--max-latency-ms",
                "0.1",
            ],
            "the fastest cell takes 1.133 ms on fpga",
        ),
        (
            &[
                "search",
                "mobile-micro",
                "--benchmark",
                "cifar10",
                "--out",
                "/tmp/unused",
            ],
            "answer for the space `nasbench201`, not `mobile-micro`",
        ),
        (
            &[
                "search",
                "nasbench201",
                "--benchmark",
                "cifar10",
                "--latency-of",
                "pixel9",
                "--out",
                "/tmp/unused",
            ],
            "unknown device `pixel9`",
        ),
    ];
    for (args, expected) in cases {
        let (code, _, stderr) = run(args, "");
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let (code, _, stderr) = run(&["bench", "query", "--sample", "-"], r#"{"s1_width": 8}"#);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("sample #1"), "{stderr}");
}

#[test]
fn cli_bench_landscape_counts_hills_under_a_budget() {
    let landscape = |budget: &[&str]| {
        let mut args = vec!["bench", "landscape", "--dataset", "cifar10", "--json"];
        args.extend_from_slice(budget);
        let (code, stdout, stderr) = run(&args, "");
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str::<serde_json::Value>(stdout.trim()).unwrap()
    };
    let open = landscape(&[]);
    assert_eq!(open["n_admitted"], 15_625);
    assert_eq!(open["n_local_optima"], 18);
    let budget = ["--device", "fpga", "--max-latency-ms", "3.725"];
    let fenced = landscape(&budget);
    assert_eq!(fenced["n_local_optima"], 130);
    // The cells it climbs over are those `bench best` searches under the same budget.
    let mut best = vec!["bench", "best", "--dataset", "cifar10", "--json"];
    best.extend_from_slice(&budget);
    let (code, stdout, stderr) = run(&best, "");
    assert_eq!(code, 0, "{stderr}");
    let best: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(fenced["n_admitted"], best["within_budget"]);
    assert_eq!(fenced["optimum"], best["accuracy"]);
    let open_climbs = open["climbs_to_optimum"].as_f64().unwrap();
    assert!(fenced["climbs_to_optimum"].as_f64().unwrap() < open_climbs / 5.0);

    let (code, _, stderr) = run(
        &[
            "bench",
            "landscape",
            "--dataset",
            "cifar10",
            "--device",
            "fpga",
            "--max-latency-ms",
            "0.1",
        ],
        "",
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("the fastest cell takes 1.133 ms on fpga"),
        "{stderr}"
    );
    let (code, _, stderr) = run(
        &[
            "bench",
            "compare",
            "--dataset",
            "cifar10",
            "--mutation-prob",
            "1.5",
        ],
        "",
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("mutation_prob 1.5 is not a probability"),
        "{stderr}"
    );
}

#[test]
fn cli_bench_compare_searches_in_memory_against_the_optimum() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "bench",
        "compare",
        "--dataset",
        "cifar100",
        "--strategies",
        "random,evolution,pareto,guided",
        "--seeds",
        "6",
        "--trials",
        "20,40",
        "--device",
        "pixel3",
        "--max-latency-ms",
        "8",
        "--out",
        dir.path().to_str().unwrap(),
        "--json",
    ];
    let (code, stdout, stderr) = run(&args, "");
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let (cells, summary): (Vec<_>, Vec<_>) =
        lines.iter().partition(|line| line.get("summary").is_none());
    // One budget x 4 strategies x 2 checkpoints; a summary row per strategy, checkpoint and
    // group (the dataset, all).
    assert_eq!((cells.len(), summary.len()), (8, 16));
    // The optimum under the same budget, from the exhaustive search.
    let (_, best, _) = run(
        &[
            "bench",
            "best",
            "--dataset",
            "cifar100",
            "--device",
            "pixel3",
            "--max-latency-ms",
            "8",
            "--json",
        ],
        "",
    );
    let best: serde_json::Value = serde_json::from_str(best.trim()).unwrap();
    let optimum = best["accuracy"].as_f64().unwrap();
    let names = ["random", "evolution", "pareto", "guided"];
    for (i, line) in cells.iter().enumerate() {
        assert_eq!(line["strategy"], names[i / 2], "{line}");
        assert_eq!(line["trials"], [20, 40][i % 2], "{line}");
        assert_eq!(line["seeds"], 6);
        assert!(
            (line["optimum"].as_f64().unwrap() - optimum).abs() < 1e-9,
            "{line}"
        );
        assert!(line["regret"].as_f64().unwrap() >= 0.0, "{line}");
        assert!((0.0..=1.0).contains(&line["found_optimum"].as_f64().unwrap()));
        // Only the strategies after the baseline are tested against it.
        assert_eq!(line["p"].is_null(), i < 2, "{line}");
    }
    // A search goes on after its first checkpoint: the regret never grows.
    for pair in cells.chunks(2) {
        assert!(
            pair[1]["regret"].as_f64() <= pair[0]["regret"].as_f64(),
            "{pair:?}"
        );
    }
    // One regret line per strategy, each with its band.
    let svg = std::fs::read_to_string(dir.path().join("compare.svg")).unwrap();
    assert_eq!(svg.matches("<polygon").count(), 4, "{svg}");
    assert!(dir.path().join("compare.png").is_file());

    // The mutation rate reaches both evolutionary strategies and leaves the others alone.
    let mut mutated = args.to_vec();
    mutated.extend_from_slice(&["--mutation-prob", "0.5"]);
    let (code, stdout, stderr) = run(&mutated, "");
    assert_eq!(code, 0, "{stderr}");
    let mutated: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    for i in [0, 1, 6, 7] {
        assert_eq!(mutated[i]["regret"], lines[i]["regret"], "{}", lines[i]);
    }
    assert!((2..6).any(|i| mutated[i]["regret"] != lines[i]["regret"]));
}

#[test]
fn cli_bench_compare_prints_a_table_per_budget_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(
        &[
            "bench",
            "compare",
            "--datasets",
            "cifar10,imagenet16",
            "--devices",
            "fpga",
            "--quantiles",
            "0.25,0.5",
            "--strategies",
            "random,guided",
            "--seeds",
            "4",
            "--trials",
            "30",
            "--cells",
            "--out",
            dir.path().to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    // Two datasets x two quantiles of the FPGA's latency: four budgets, each a row.
    assert_eq!(stdout.matches("| fpga <= ").count(), 4, "{stdout}");
    assert!(stdout.contains("| 30 | guided | all (4) |"), "{stdout}");
    assert!(stdout.contains("| 30 | guided | cifar10 (2) |"), "{stdout}");
    assert!(
        stdout.contains("4 budgets x 2 strategies x 4 seeds"),
        "{stdout}"
    );

    let (code, _, stderr) = run(
        &[
            "bench",
            "compare",
            "--quantiles",
            "0.5",
            "--out",
            dir.path().to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--devices and --quantiles"), "{stderr}");
    let (code, _, stderr) = run(
        &[
            "bench",
            "compare",
            "--strategies",
            "random,annealing",
            "--max-flops",
            "1e8",
        ],
        "",
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown strategy `annealing`"), "{stderr}");
}

#[test]
fn cli_latency_build_quits_on_ctrl_c_without_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("table.json");
    // Hundreds of layers at 1x3x64x64: long enough to be interrupted.
    let args = [
        "latency",
        "build",
        "proxylessnas",
        "--input",
        "1,3,64,64",
        "--out",
        table.to_str().unwrap(),
    ];
    let child = spawn_search(&args);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    signal(&child, "-INT");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: no table was written"),
        "{stderr}"
    );
    assert!(!table.exists());
}

#[test]
fn cli_bench_fronts_per_device_and_what_each_winner_costs_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let devices = ["pixel3", "eyeriss", "fpga", "titan_rtx_256"];
    let list = devices.join(",");
    let args = [
        "bench",
        "fronts",
        "--dataset",
        "cifar10",
        "--devices",
        &list,
        "--out",
        dir.path().to_str().unwrap(),
        "--json",
    ];
    let (code, stdout, stderr) = run(&args, "");
    assert_eq!(code, 0, "{stderr}");
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    for (row, device) in rows.iter().zip(devices) {
        assert_eq!(row["device"], device);
        // The winner is the best cell within the budget, as `bench best` finds it.
        let budget = row["budget_ms"].as_f64().unwrap().to_string();
        let (_, best, _) = run(
            &[
                "bench",
                "best",
                "--dataset",
                "cifar10",
                "--device",
                device,
                "--max-latency-ms",
                &budget,
                "--json",
            ],
            "",
        );
        let best: serde_json::Value = serde_json::from_str(best.trim()).unwrap();
        assert_eq!(row["index"], best["index"], "{device}");
        let elsewhere = row["elsewhere"].as_array().unwrap();
        assert_eq!(elsewhere.len(), 4);
        for other in elsewhere {
            let loss = other["accuracy_lost"].as_f64().unwrap();
            if other["device"] == device {
                assert!(other["latency_over_budget"].as_f64().unwrap() <= 1.0);
                assert_eq!(loss, 0.0);
            } else if other["latency_over_budget"].as_f64().unwrap() <= 1.0 {
                // Within the other's budget, the other's own winner is at least as good.
                assert!(loss >= 0.0, "{row}");
            }
        }
    }
    let svg = std::fs::read_to_string(dir.path().join("fronts_cifar10.svg")).unwrap();
    assert!(devices.iter().all(|d| svg.contains(d)));
    assert!(dir.path().join("fronts_cifar10.png").is_file());
    let (code, _, stderr) = run(
        &[
            "bench",
            "fronts",
            "--dataset",
            "cifar10",
            "--devices",
            "tpu",
        ],
        "",
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown device `tpu`"), "{stderr}");
}

#[test]
fn cli_bench_rank_correlates_counts_with_a_device() {
    let (code, stdout, stderr) = run(&["bench", "rank", "--devices", "eyeriss", "--json"], "");
    assert_eq!(code, 0, "{stderr}");
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["device"], "eyeriss");
    for ranker in ["flops", "params"] {
        let scores = &line["rankings"][ranker];
        for score in ["kendall_tau", "spearman_rho"] {
            let value = scores[score].as_f64().unwrap();
            // Larger cells are slower on Eyeriss too, though it weighs operations otherwise
            // than the counts do (tau 0.421, rho 0.543 when this was written).
            assert!(value > 0.3 && value < 0.9, "{ranker} {score} {value}");
        }
    }
    let (code, _, stderr) = run(&["bench", "rank", "--devices", "tpu"], "");
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn cli_latency_fit_from_published_devices_and_calibrate_a_drifted_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let bench = hwnas_benchmark::NasBench201::get();
    let pixel2 = bench.device("pixel2").unwrap();
    let cells = [3, 141, 592, 653, 5897, 9323, 8462, 6433, 8327, 9502];
    let measured: String = cells
        .iter()
        .map(|&i| {
            format!(
                "{}\n",
                serde_json::json!({"sample": bench.sample(i), "latency_ms": bench.latency(i, pixel2)})
            )
        })
        .collect();
    std::fs::write(path("pixel2.jsonl"), &measured).unwrap();
    let fit = [
        "latency",
        "fit",
        "nasbench201",
        "--measured",
        &path("pixel2.jsonl"),
        "--out",
        &path("pixel2.json"),
        "--device-name",
        "pixel2",
    ];
    let (code, stdout, stderr) = run(&fit, "");
    assert_eq!(code, 0, "{stderr}");
    // A device the benchmark publishes is its own best reference.
    assert!(stdout.contains("22 reference devices"), "{stdout}");
    assert!(stdout.contains("1.0000 x device pixel2"), "{stdout}");
    let table: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("pixel2.json")).unwrap()).unwrap();
    // A per-architecture term: a version older builds refuse instead of misreading.
    assert_eq!(table["version"], 2);
    assert_eq!(table["device"]["device"], "pixel2");
    assert_eq!(
        table["per_architecture_ms"].as_array().unwrap().len(),
        15_625
    );
    let samples: String = [7, 77, 7777]
        .iter()
        .map(|&i| format!("{}\n", bench.sample(i)))
        .collect();
    let (code, stdout, stderr) = run(
        &[
            "latency",
            "predict",
            "--table",
            &path("pixel2.json"),
            "--sample",
            "-",
            "--json",
        ],
        &samples,
    );
    assert_eq!(code, 0, "{stderr}");
    for (line, index) in stdout.lines().zip([7, 77, 7777]) {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        let predicted = line["latency_ms"].as_f64().unwrap();
        let published = bench.latency(index, pixel2);
        assert!((predicted - published).abs() < 1e-4 * published, "{line}");
    }

    // A search on the fitted table judges samples against the budget shrunk by half the fit's
    // leave-one-out error; an explicit margin replaces it.
    let mape = table["fitted"]["fit"]["leave_one_out"]["mape_percent"]
        .as_f64()
        .unwrap();
    for (extra, expected) in [
        (None, Some(0.5 * mape / 100.0).filter(|m| *m > 0.0)),
        (Some("0.1"), Some(0.1)),
    ] {
        let out = dir
            .path()
            .join(format!("search-{}", extra.unwrap_or("auto")));
        let table = path("pixel2.json");
        let mut args = vec![
            "search",
            "nasbench201",
            "--benchmark",
            "cifar10",
            "--table",
            &table,
            "--max-latency-ms",
            "15",
            "--trials",
            "5",
            "--out",
            out.to_str().unwrap(),
        ];
        if let Some(margin) = extra {
            args.extend(["--latency-margin", margin]);
        }
        let (code, _, stderr) = run(&args, "");
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(settings(&out)["latency_margin"].as_f64(), expected);
        let limit = 15.0 / (1.0 + expected.unwrap_or(0.0));
        for record in trained(&out) {
            assert!(
                record["metrics"]["latency_ms"].as_f64().unwrap() <= limit,
                "{record}"
            );
        }
    }

    // Bad measurements and bases: exit 2, naming the line or the table.
    let mut lines: Vec<&str> = measured.lines().collect();
    let bad_line = lines[1].replace("latency_ms", "seconds");
    lines[1] = &bad_line;
    std::fs::write(path("bad.jsonl"), lines.join("\n")).unwrap();
    let mut bad = fit;
    let bad_measured = path("bad.jsonl");
    bad[4] = &bad_measured;
    let (code, _, stderr) = run(&bad, "");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("line 2: no `latency_ms`"), "{stderr}");
    let (code, _, stderr) = run(
        &[
            "latency",
            "fit",
            "mobile-micro",
            "--measured",
            &path("pixel2.jsonl"),
            "--out",
            &path("x.json"),
        ],
        "",
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("line 1: not a sample of `mobile-micro`"),
        "{stderr}"
    );

    // A table of this machine, calibrated to measurements taken now.
    let table = path("table.json");
    let (code, _, stderr) = run(
        &[
            "latency",
            "build",
            "mobile-micro",
            "--out",
            &table,
            "--fit-samples",
            "3",
            "--layer-budget-ms",
            "1",
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run(
        &[
            "latency",
            "fit",
            "mobile-micro",
            "--measured",
            &path("pixel2.jsonl"),
            "--base",
            &table,
            "--input",
            "1,1,28,28",
            "--out",
            &path("x.json"),
        ],
        "",
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("was built for `mobile-micro` at 1x8x8"),
        "{stderr}"
    );
    let calibrated = path("calibrated.json");
    let saved = path("calibration.jsonl");
    let (code, stdout, stderr) = run(
        &[
            "latency",
            "calibrate",
            "--table",
            &table,
            "--samples",
            "6",
            "--budget-ms",
            "5",
            "--out",
            &calibrated,
            "--save-measured",
            &saved,
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("6 measurements, 1 base tables"), "{stdout}");
    assert!(
        stdout.contains("each measurement left out in turn"),
        "{stdout}"
    );
    let read = |file: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
    };
    let calibrated_file = read(&calibrated);
    assert_eq!(calibrated_file["fitted"]["measurements"], 6);
    assert_eq!(calibrated_file["device"], read(&table)["device"]);
    assert_eq!(std::fs::read_to_string(&saved).unwrap().lines().count(), 6);
    // The saved measurements fitted again give the same table.
    let refitted = path("refitted.json");
    let (code, _, stderr) = run(
        &[
            "latency",
            "fit",
            "mobile-micro",
            "--measured",
            &saved,
            "--base",
            &table,
            "--device",
            "flex",
            "--out",
            &refitted,
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    let refitted_file = read(&refitted);
    assert_eq!(refitted_file["layers"], calibrated_file["layers"]);
    assert_eq!(refitted_file["intercept"], calibrated_file["intercept"]);
    let (code, stdout, stderr) = run(
        &[
            "latency",
            "evaluate",
            "--table",
            &refitted,
            "--measured",
            &saved,
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("6 measurements from"), "{stdout}");
    let (code, _, stderr) = run(
        &[
            "latency",
            "calibrate",
            "--table",
            &table,
            "--samples",
            "0",
            "--out",
            &calibrated,
        ],
        "",
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--samples must be at least 1"), "{stderr}");
}

#[test]
fn cli_bench_latency_fit_leaves_each_device_out() {
    let (code, stdout, stderr) = run(
        &[
            "bench",
            "latency-fit",
            "--k",
            "10",
            "--draws",
            "2",
            "--json",
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 22);
    assert!(rows.iter().all(|r| r["k"] == 10 && r["draws"] == 2));
    let (code, stdout, stderr) = run(&["bench", "latency-fit", "--k", "5,10", "--draws", "1"], "");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("| mean, HELP's six |"), "{stdout}");
    assert!(stdout.contains("| titan_rtx_256 |"), "{stdout}");
    assert!(stdout.contains("0.987 |"), "{stdout}");
    let (code, _, stderr) = run(&["bench", "latency-fit", "--k", "2"], "");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("at least 3"), "{stderr}");
}

#[test]
fn cli_export_onnx_checks_in_tract_and_refuses_bad_input() {
    use burn::module::Module;
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (_, sample, _) = run(&["sample", "mobile-micro", "--seed", "2"], "");
    let (_, other, _) = run(&["sample", "mobile-micro", "--seed", "3"], "");
    std::fs::create_dir(path("a")).unwrap();
    let model = path("a/model.onnx");
    let export = |extra: &[&str], stdin: &str| {
        let mut args = vec!["export", "onnx", "mobile-micro", "--sample", "-"];
        args.extend_from_slice(extra);
        run(&args, stdin)
    };
    let (code, stdout, stderr) =
        export(&["--input", "4,1,8,8", "--out", &model, "--check"], &sample);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("input [4, 1, 8, 8]"), "{stdout}");
    assert!(
        stdout.contains("tract 0.23.9: max |tract - burn|"),
        "{stdout}"
    );
    let check = hwnas_onnx::check_file(model.as_ref()).unwrap();
    assert!(check.relative() < hwnas_onnx::TOLERANCE, "{check:?}");
    let (dims, _) =
        hwnas_onnx::read_tensor(&dir.path().join("a/test_data_set_0/input_0.pb")).unwrap();
    assert_eq!(dims, [4, 1, 8, 8]);

    // Weights from a record: the network initialised from seed 5 and saved is the one exported
    // with --seed 5, whatever --seed says otherwise.
    let space = hwnas_space::hub::space("mobile-micro").unwrap();
    let parsed = hwnas_space::Sample::from_json(sample.trim()).unwrap();
    let device = burn::tensor::Device::flex();
    let network =
        hwnas_space::module::seeded(&device, 5, || space.freeze(&parsed, &device)).unwrap();
    let weights = path("weights.bpk");
    network.into_record().save(&weights).unwrap();
    std::fs::create_dir(path("b")).unwrap();
    std::fs::create_dir(path("c")).unwrap();
    let (code, _, stderr) = export(
        &["--weights", &weights, "--out", &path("b/m.onnx")],
        &sample,
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = export(&["--seed", "5", "--out", &path("c/m.onnx")], &sample);
    assert_eq!(code, 0, "{stderr}");
    let (b, c) = (
        std::fs::read(path("b/m.onnx")).unwrap(),
        std::fs::read(path("c/m.onnx")).unwrap(),
    );
    assert!(b == c, "the loaded weights are not the saved network's");

    // Bad input: exit 2, one message, no model left behind.
    let d = path("d.onnx");
    let bad = [
        (
            vec!["--out", &model],
            r#"{"cell/0_1": "none"}"#.to_string(),
            "unknown label `cell/0_1`",
        ),
        (
            vec!["--weights", &weights, "--out", &model],
            other.clone(),
            "does not hold the weights",
        ),
        (
            vec!["--out", &model],
            format!("{sample}{other}"),
            "holds 2 samples",
        ),
        (
            vec!["--weights", &model, "--out", &d],
            sample.clone(),
            "cannot read",
        ),
    ];
    for (extra, stdin, expected) in bad {
        let (code, _, stderr) = export(&extra, &stdin);
        assert_eq!(code, 2, "{extra:?}: {stderr}");
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    // A network that cannot take the input shape.
    let (_, cell, _) = run(&["sample", "nasbench201"], "");
    let args = [
        "export",
        "onnx",
        "nasbench201",
        "--sample",
        "-",
        "--input",
        "1,3,5,5",
        "--out",
    ];
    let (code, _, stderr) = run(&[&args[..], &[path("e.onnx").as_str()]].concat(), &cell);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("shape error at sum"), "{stderr}");
    assert!(!dir.path().join("d.onnx").exists() && !dir.path().join("e.onnx").exists());
    // The experiment-directory form of `export` is still there.
    let (code, _, stderr) = run(&["export", &path("nothing")], "");
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn cli_latency_on_tract_is_a_device_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (_, samples, _) = run(
        &["sample", "mobile-micro", "--count", "2", "--seed", "1"],
        "",
    );
    let (code, stdout, stderr) = run(
        &[
            "latency",
            "measure",
            "mobile-micro",
            "--sample",
            "-",
            "--device",
            "tract",
            "--json",
            "--budget-ms",
            "5",
        ],
        &samples,
    );
    assert_eq!(code, 0, "{stderr}");
    for line in stdout.lines() {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(line["device"], "tract");
        assert_eq!(line["burn_device"], "tract 0.23.9");
        let (median, p90) = (
            line["median_ms"].as_f64().unwrap(),
            line["p90_ms"].as_f64().unwrap(),
        );
        assert!(
            line["min_ms"].as_f64().unwrap() <= median && median <= p90,
            "{line}"
        );
    }
    let table = dir.path().join("tract.json");
    let table_arg = table.to_str().unwrap();
    let (code, _, stderr) = run(
        &[
            "latency",
            "build",
            "mobile-micro",
            "--device",
            "tract",
            "--out",
            table_arg,
            "--fit-samples",
            "3",
            "--layer-budget-ms",
            "1",
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&table).unwrap()).unwrap();
    assert_eq!(file["device"]["device"], "tract 0.23.9");
    assert_eq!(file["device"]["threads"], 1);
    // A tract table does not pose as flex's.
    let (code, _, stderr) = run(
        &[
            "latency",
            "evaluate",
            "--table",
            table_arg,
            "--device",
            "flex",
            "--samples",
            "2",
        ],
        "",
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("measured on tract 0.23.9"), "{stderr}");
    let (code, _, stderr) = run(
        &[
            "latency",
            "measure",
            "mobile-micro",
            "--sample",
            "-",
            "--device",
            "tpu",
        ],
        &samples,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("tract"), "{stderr}");

    // A search whose latency budget is measured in tract.
    let out = dir.path().join("search");
    let (code, _, stderr) = small_search(
        &out,
        "2",
        &["--max-latency-ms", "10000", "--latency-of", "tract"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(settings(&out)["latency"], "tract");
    for record in trained(&out) {
        assert!(
            record["metrics"]["latency_ms"].as_f64().unwrap() > 0.0,
            "{record}"
        );
    }
}

/// A generated image data set of `format` in `dir`: `classes` horizontal bands, 120 training and
/// 20 test images of each.
fn generated_images(dir: &std::path::Path, format: hwnas::data::Format, shape: [usize; 3]) {
    hwnas::data::synthetic::Synthetic {
        shape,
        classes: 4,
        train_per_class: 120,
        test_per_class: 20,
        seed: 3,
    }
    .write(dir, format)
    .unwrap();
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn cli_searches_trains_and_loads_a_model_on_the_users_images() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    generated_images(
        &dir.path().join("images"),
        hwnas::data::Format::ImageFolder,
        [3, 16, 16],
    );
    let (code, stdout, stderr) = run(
        &[
            "search",
            "mobile-micro",
            "--data",
            &path("images"),
            "--trials",
            "3",
            "--epochs",
            "3",
            "--population",
            "2",
            "--sample-size",
            "1",
            "--out",
            &path("search"),
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    let settings = settings(&dir.path().join("search"));
    assert_eq!(settings["classes"], 4);
    assert_eq!(settings["evaluator"]["data"]["path"], path("images"));
    let test = read_json(&dir.path().join("search/test.json"));
    let best = test["id"].as_u64().unwrap();
    assert!(
        stdout.contains(&format!("best trial {best}: validation accuracy")),
        "{stdout}"
    );
    assert!(test["test_accuracy"].as_f64().unwrap() >= 0.9, "{test}");
    let kept: Vec<_> = std::fs::read_dir(dir.path().join("search/weights"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(kept, [format!("{best}.bpk").as_str()]);

    // The winner retrained from scratch for longer, then loaded.
    let best_sample = path("search/best.json");
    let (code, stdout, stderr) = run(
        &[
            "train",
            "mobile-micro",
            "--sample",
            &best_sample,
            "--data",
            &path("images"),
            "--epochs",
            "4",
            "--batch-size",
            "16",
            "--out",
            &path("train"),
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    let result = read_json(&dir.path().join("train/result.json"));
    assert!(result["test_accuracy"].as_f64().unwrap() >= 0.9, "{result}");
    assert!(stdout.starts_with("test accuracy"), "{stdout}");
    let settings = read_json(&dir.path().join("train/train.json"));
    assert_eq!(
        settings["training"]["optimizer"],
        serde_json::json!({"sgd": {"momentum": 0.9, "nesterov": true}})
    );
    let epochs = std::fs::read_to_string(dir.path().join("train/epochs.jsonl")).unwrap();
    assert_eq!(epochs.lines().count(), 4);
    let model = read_json(&dir.path().join("train/model.json"));
    assert_eq!(model["classes"].as_array().unwrap().len(), 4);
    assert_eq!(model["mean"].as_array().unwrap().len(), 3);

    let weights = path("train/weights.bpk");
    let freeze = |extra: &[&str]| {
        let mut args = vec!["freeze", "mobile-micro", "--sample", &best_sample];
        args.extend(["--weights", &weights]);
        args.extend_from_slice(extra);
        run(&args, "")
    };
    let (code, stdout, stderr) = freeze(&["--input", "1,3,16,16", "--classes", "4"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("output [1, 4]"), "{stdout}");
    // The space's own 10 classes: the record does not fit, and says where.
    let (code, _, stderr) = freeze(&["--input", "1,3,16,16"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("does not hold the weights"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn cli_bad_data_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let search = |data: &str, extra: &[&str]| {
        let mut args = vec!["search", "mobile-micro", "--data", data, "--trials", "1"];
        args.extend(["--out", "/nonexistent/never-written"]);
        args.extend_from_slice(extra);
        run(&args, "")
    };
    let refused = |(code, _, stderr): (i32, String, String), what: &str| {
        assert_eq!(code, 2, "{what}: {stderr}");
        assert!(stderr.contains(what), "{what}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    };
    refused(search(&path("missing"), &[]), "missing");
    generated_images(
        &dir.path().join("folder"),
        hwnas::data::Format::ImageFolder,
        [1, 8, 8],
    );
    std::fs::write(
        dir.path().join("folder/train/class2/broken.png"),
        b"\x89PNG\r\n\x1a\ntruncated",
    )
    .unwrap();
    refused(search(&path("folder"), &[]), "broken.png");
    std::fs::create_dir_all(dir.path().join("one/only")).unwrap();
    std::fs::copy(
        dir.path().join("folder/train/class0/0.png"),
        dir.path().join("one/only/0.png"),
    )
    .unwrap();
    refused(search(&path("one"), &[]), "1 class");
    generated_images(&dir.path().join("idx"), hwnas::data::Format::Idx, [1, 8, 8]);
    std::fs::write(
        dir.path().join("idx/train-labels-idx1-ubyte.gz"),
        b"not gzip",
    )
    .unwrap();
    refused(search(&path("idx"), &[]), "train-labels-idx1-ubyte.gz");
    // clap's own refusal of a flag value: exit 2, its usage hint on a second line.
    let (code, _, stderr) = search(&path("idx"), &["--data-format", "csv"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown data format `csv`"), "{stderr}");
    refused(
        search(&path("folder"), &["--test-fraction", "0.9"]),
        "leave no training image",
    );
    // A space whose networks cannot take the images: both named.
    generated_images(
        &dir.path().join("tiny"),
        hwnas::data::Format::Idx,
        [1, 5, 5],
    );
    let (code, _, stderr) = run(
        &[
            "train",
            "nasbench201",
            "--sample",
            "-",
            "--data",
            &path("tiny"),
            "--out",
            &path("never"),
        ],
        &run(&["sample", "nasbench201"], "").1,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("nasbench201") && stderr.contains("1x5x5"),
        "{stderr}"
    );
    assert!(!dir.path().join("never").exists());
}

#[test]
fn cli_train_killed_at_any_moment_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("sample.json");
    std::fs::write(
        &sample,
        run(&["sample", "mobile-micro", "--seed", "3"], "").1,
    )
    .unwrap();
    let args = |out: &str| -> Vec<String> {
        let out = dir.path().join(out);
        [
            "train",
            "mobile-micro",
            "--sample",
            sample.to_str().unwrap(),
            "--epochs",
            "4",
            "--augment",
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let (code, _, stderr) = run(&as_str(&args("straight")), "");
    assert_eq!(code, 0, "{stderr}");

    let killed = dir.path().join("killed");
    let mut child = spawn_search(&as_str(&args("killed")));
    // Killed once the first epoch is on record, in the middle of a later one.
    let start = std::time::Instant::now();
    while std::fs::read_to_string(killed.join("epochs.jsonl")).map_or(0, |t| t.lines().count()) < 1
    {
        assert!(child.try_wait().unwrap().is_none(), "ended before an epoch");
        assert!(start.elapsed().as_secs() < 300);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    signal(&child, "-KILL");
    child.wait().unwrap();
    assert!(!killed.join("result.json").exists());
    let mut resume = args("killed");
    resume.push("--resume".into());
    let (code, _, stderr) = run(&as_str(&resume), "");
    assert_eq!(code, 0, "{stderr}");

    let epochs = |out: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(dir.path().join(out).join("epochs.jsonl"))
            .unwrap()
            .lines()
            .map(|line| {
                let mut line: serde_json::Value = serde_json::from_str(line).unwrap();
                line.as_object_mut().unwrap().remove("duration_s");
                line
            })
            .collect()
    };
    assert_eq!(epochs("killed"), epochs("straight"));
    assert_eq!(
        read_json(&killed.join("result.json")),
        read_json(&dir.path().join("straight/result.json"))
    );
}

#[test]
fn cli_data_writes_generated_sets_and_shows_what_a_set_holds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c10");
    let out = out.to_str().unwrap();
    let (code, stdout, stderr) = run(
        &[
            "data",
            "synthetic",
            "--out",
            out,
            "--format",
            "cifar",
            "--classes",
            "5",
            "--per-class",
            "20",
            "--test-per-class",
            "4",
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("wrote 100 training and 20 test images of 3x32x32"));
    let (code, stdout, stderr) = run(&["data", "show", "--data", out], "");
    assert_eq!(code, 0, "{stderr}");
    // CIFAR-10 batches name ten classes; 20 % of each class's 20 training images validate.
    assert_eq!(
        stdout.lines().skip(1).collect::<Vec<_>>(),
        [
            "classes: 10 (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)",
            "splits: train 80, validation 20 (cut from train), test 20 (the data's own)",
            "memory: 368640 bytes of pixels (0.4 MB)",
        ]
    );
    for (args, expected) in [
        (
            vec!["data", "synthetic", "--out", out, "--format", "idx"],
            "idx: IDX images have one channel",
        ),
        (
            vec!["data", "synthetic", "--out", out, "--classes", "40"],
            "40 classes do not fit images of 32 rows",
        ),
        (
            vec!["data", "synthetic", "--out", out, "--classes", "1"],
            "at least 2 classes, not 1",
        ),
    ] {
        let (code, _, stderr) = run(&args, "");
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    // Without --data: what every other command trains on by default.
    let (code, stdout, stderr) = run(&["data", "show"], "");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("the embedded digits (no --data), 1x8x8 images\nclasses: 10"),
        "{stdout}"
    );
}

/// The `hwnas trial` processes whose command line names `dir`.
fn trial_processes(dir: &std::path::Path) -> Vec<u32> {
    let dir = dir.to_str().unwrap().as_bytes();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let words: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            (words.contains(&b"trial".as_slice()) && words.contains(&dir)).then_some(pid)
        })
        .collect()
}

/// The first trial whose process started in `dir`: its id and pid.
fn first_child(dir: &std::path::Path) -> (u64, u32) {
    let start = std::time::Instant::now();
    loop {
        let found = std::fs::read_dir(dir.join("trials"))
            .ok()
            .and_then(|entries| {
                entries.filter_map(Result::ok).find_map(|entry| {
                    let name = entry.file_name().to_str()?.to_string();
                    let id = name.strip_suffix(".pid")?.parse().ok()?;
                    let pid = std::fs::read_to_string(entry.path())
                        .ok()?
                        .trim()
                        .parse()
                        .ok()?;
                    Some((id, pid))
                })
            });
        if let Some(found) = found {
            return found;
        }
        assert!(start.elapsed().as_secs() < 120, "no trial started");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

#[test]
fn cli_search_in_processes_fails_a_killed_trial_and_a_timed_out_one_alone() {
    let dir = tempfile::tempdir().unwrap();
    let killed = dir.path().join("killed");
    let args = search_args(&killed, "3", "5", &["--executor", "processes"]);
    let search = spawn_search(&as_str(&args));
    let (id, pid) = first_child(&killed);
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = search.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let records = read_log(&killed);
    let failed: Vec<_> = records.iter().filter(|r| r["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{records:?}");
    assert_eq!(failed[0]["id"], id);
    assert_eq!(failed[0]["error"], "killed by SIGKILL");
    // The search went on: three trials evaluated, the other two trained in their own processes.
    assert_eq!(trained(&killed).len(), 2, "{records:?}");
    for record in trained(&killed) {
        let id = record["id"].as_u64().unwrap();
        let log = std::fs::read_to_string(killed.join(format!("trials/{id}.log"))).unwrap();
        assert!(log.starts_with(&format!("trial {id} done")), "{log}");
    }
    let (code, _, stderr) = run(&["report", killed.to_str().unwrap()], "");
    assert_eq!(code, 0, "{stderr}");

    // Every trial outlives a timeout shorter than its training: each fails alone, and nothing it
    // started is left running.
    let timed_out = dir.path().join("timed-out");
    let args = search_args(
        &timed_out,
        "2",
        "5",
        &[
            "--executor",
            "processes",
            "--trial-timeout",
            "0.2",
            "--epochs",
            "20",
        ],
    );
    let (code, stdout, stderr) = run(&as_str(&args), "");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("2 trials (2 failed)"), "{stdout}");
    let records = read_log(&timed_out);
    assert!(
        records
            .iter()
            .filter(|r| r["status"] != "invalid")
            .all(|r| r["status"] == "failed" && r["error"] == "timeout"),
        "{records:?}"
    );
    assert!(trial_processes(&timed_out).is_empty());
    // Threads take no timeout.
    let (code, _, stderr) = run(
        &as_str(&search_args(
            &timed_out,
            "2",
            "5",
            &["--trial-timeout", "1"],
        )),
        "",
    );
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn cli_search_in_processes_killed_collects_a_trial_that_finished_while_it_was_down() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("search");
    let args = search_args(
        &out,
        "2",
        "5",
        &["--executor", "processes", "--epochs", "3"],
    );
    let mut search = spawn_search(&as_str(&args));
    let (id, pid) = first_child(&out);
    signal(&search, "-KILL");
    search.wait().unwrap();
    // The trial goes on alone and reports to the directory.
    let start = std::time::Instant::now();
    while !out.join(format!("trials/{id}.json")).exists() {
        assert!(
            start.elapsed().as_secs() < 120,
            "the orphaned trial never ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut resume = args.clone();
    resume.push("--resume".into());
    let (code, _, stderr) = run(&as_str(&resume), "");
    assert_eq!(code, 0, "{stderr}");
    let records = read_log(&out);
    let ids: Vec<u64> = records.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.iter().filter(|&&i| i == id).count(), 1, "{ids:?}");
    assert_eq!(trained(&out).len(), 2, "{records:?}");
    // Collected, not run again: the pid on record is still the orphan's.
    let recorded: u32 = std::fs::read_to_string(out.join(format!("trials/{id}.pid")))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(recorded, pid);
}

/// Whether a Slurm cluster answers (`.ci/slurm start DIR` starts one; `.ci/run` does, and sets
/// `HWNAS_REQUIRE_SLURM=1` so that a cluster that cannot start fails CI instead of skipping).
fn slurm_available(test: &str) -> bool {
    let answers = std::env::var_os("SLURM_CONF").is_some()
        && std::process::Command::new("sinfo")
            .arg("-h")
            .output()
            .is_ok_and(|o| o.status.success());
    if !answers {
        assert!(
            std::env::var_os("HWNAS_REQUIRE_SLURM").is_none(),
            "{test}: no Slurm cluster answers, and HWNAS_REQUIRE_SLURM is set"
        );
        eprintln!("{test}: SKIPPED, no Slurm cluster (start one with `.ci/slurm start DIR`)");
    }
    answers
}

/// Waits until `dir/trials/` holds `n` job files; their (trial, job) ids.
fn wait_for_jobs(dir: &std::path::Path, n: usize) -> Vec<(u64, String)> {
    let start = std::time::Instant::now();
    loop {
        let mut jobs: Vec<(u64, String)> = std::fs::read_dir(dir.join("trials"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|entry| {
                        let name = entry.file_name().to_str()?.to_string();
                        let id = name.strip_suffix(".job")?.parse().ok()?;
                        let job = std::fs::read_to_string(entry.path()).ok()?;
                        Some((id, job.trim().to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if jobs.len() >= n {
            jobs.sort();
            return jobs;
        }
        assert!(start.elapsed().as_secs() < 120, "no {n} jobs submitted");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn slurm_search(out: &std::path::Path, trials: &str, epochs: &str) -> Vec<String> {
    search_args(
        out,
        trials,
        "5",
        &[
            "--executor",
            "slurm",
            "--slurm-poll-s",
            "0.2",
            "--concurrency",
            "2",
            "--epochs",
            epochs,
        ],
    )
}

#[test]
fn cli_search_on_slurm_fails_a_cancelled_and_a_crashed_job_alone() {
    if !slurm_available("cli_search_on_slurm_fails_a_cancelled_and_a_crashed_job_alone") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("search");
    let search = spawn_search(&as_str(&slurm_search(&out, "6", "3")));
    // The first job cancelled, the second trial's process killed as a crash would end it.
    let jobs = wait_for_jobs(&out, 1);
    let (cancelled, job) = jobs[0].clone();
    assert!(
        std::process::Command::new("scancel")
            .arg(&job)
            .status()
            .unwrap()
            .success()
    );
    let start = std::time::Instant::now();
    let crashed = loop {
        let running: Vec<(u64, u32)> = trial_processes(&out)
            .into_iter()
            .filter_map(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                let id = String::from_utf8_lossy(cmdline.split(|&b| b == 0).nth(3)?)
                    .parse()
                    .ok()?;
                (id != cancelled).then_some((id, pid))
            })
            .collect();
        if let Some(&(id, pid)) = running.first() {
            assert!(
                std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status()
                    .unwrap()
                    .success()
            );
            break id;
        }
        assert!(start.elapsed().as_secs() < 120, "no second trial ran");
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let output = search.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let records = read_log(&out);
    let evaluated: Vec<_> = records
        .iter()
        .filter(|r| r["status"] != "invalid")
        .collect();
    assert_eq!(evaluated.len(), 6, "{records:?}");
    let error_of = |id: u64| {
        evaluated
            .iter()
            .find(|r| r["id"] == id)
            .map(|r| r["error"].as_str().unwrap_or("").to_string())
            .unwrap()
    };
    assert!(
        error_of(cancelled).contains(&format!("slurm job {job} CANCELLED")),
        "{records:?}"
    );
    assert!(error_of(crashed).contains("FAILED"), "{records:?}");
    assert_eq!(trained(&out).len(), 4, "{records:?}");
    // Every trial ran as its own job, on record.
    let mut job_ids: Vec<&str> = evaluated
        .iter()
        .map(|r| r["slurm_job_id"].as_str().unwrap())
        .collect();
    job_ids.sort();
    job_ids.dedup();
    assert_eq!(job_ids.len(), 6);
}

#[test]
fn cli_search_on_slurm_killed_finds_its_jobs_again_on_resume() {
    if !slurm_available("cli_search_on_slurm_killed_finds_its_jobs_again_on_resume") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("search");
    let args = slurm_search(&out, "4", "2");
    let mut search = spawn_search(&as_str(&args));
    let submitted = wait_for_jobs(&out, 2);
    signal(&search, "-KILL");
    search.wait().unwrap();
    // A job ends while nobody watches; its outcome waits in the directory.
    let start = std::time::Instant::now();
    while !submitted
        .iter()
        .any(|(id, _)| out.join(format!("trials/{id}.json")).exists())
    {
        assert!(start.elapsed().as_secs() < 120, "no job ended");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut resume = args.clone();
    resume.push("--resume".into());
    let (code, _, stderr) = run(&as_str(&resume), "");
    assert_eq!(code, 0, "{stderr}");
    let records = read_log(&out);
    let evaluated: Vec<_> = records
        .iter()
        .filter(|r| r["status"] != "invalid")
        .collect();
    assert_eq!(evaluated.len(), 4, "{records:?}");
    assert!(evaluated.iter().all(|r| r["status"] == "ok"), "{records:?}");
    let mut ids: Vec<u64> = evaluated
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    // The jobs submitted before the kill are the ones on record: found again, not resubmitted.
    for (id, job) in &submitted {
        let record = evaluated.iter().find(|r| r["id"] == *id).unwrap();
        assert_eq!(record["slurm_job_id"], job.as_str(), "{records:?}");
    }
}

#[test]
fn cli_search_on_slurm_refuses_arguments_slurm_refuses() {
    if !slurm_available("cli_search_on_slurm_refuses_arguments_slurm_refuses") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("search");
    let mut args = slurm_search(&out, "1", "1");
    args.extend(["--slurm-args".into(), "--partition nowhere".into()]);
    let (code, _, stderr) = run(&as_str(&args), "");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("Slurm refuses --slurm-args"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!out.join("trials.jsonl").exists());
}

#[test]
fn cli_oneshot_darts_and_gumbel_choose_on_a_small_generated_set() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let (code, _, stderr) = run(
        &[
            "data",
            "synthetic",
            "--out",
            data,
            "--format",
            "idx",
            "--shape",
            "1,1,8,8",
            "--classes",
            "3",
            "--per-class",
            "12",
            "--test-per-class",
            "4",
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    for strategy in ["darts", "gumbel"] {
        let out = dir.path().join(strategy);
        let (code, stdout, stderr) = run(
            &[
                "oneshot",
                "mobile-micro",
                "--strategy",
                strategy,
                "--data",
                data,
                "--epochs",
                "1",
                "--batch-size",
                "16",
                "--out",
                out.to_str().unwrap(),
            ],
            "",
        );
        assert_eq!(code, 0, "{strategy}: {stderr}");
        assert!(stdout.starts_with("chosen: {"), "{strategy}: {stdout}");
        assert!(stdout.contains("test_accuracy"), "{strategy}: {stdout}");
        let records = read_log(&out);
        assert_eq!(records.len(), 1, "{strategy}: {records:?}");
        assert_eq!(records[0]["status"], "ok");
        let best = std::fs::read_to_string(out.join("best.json")).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&best).unwrap(),
            records[0]["sample"]
        );
    }
}

#[test]
fn cli_search_on_slurm_without_sbatch_is_a_failure_not_a_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("search");
    let output = hwnas()
        .args(as_str(&search_args(
            &out,
            "1",
            "5",
            &["--executor", "slurm"],
        )))
        .env("PATH", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot run sbatch"), "{stderr}");
    assert!(!out.join("trials.jsonl").exists());
}

#[test]
fn cli_search_every_strategy_proposes_only_within_a_table_budget() {
    // A budget priced from a table (the Pixel 3's published latency): every strategy asks it
    // before proposing, so no proposal is settled as outside the budget.
    let dir = tempfile::tempdir().unwrap();
    for strategy in [
        "guided",
        "evolution",
        "random",
        "local",
        "tpe",
        "reinforce",
        "pareto",
        "grid",
    ] {
        let out = dir.path().join(strategy);
        let (code, _, stderr) = run(
            &[
                "search",
                "nasbench201",
                "--benchmark",
                "cifar10",
                "--latency-of",
                "pixel3",
                "--max-latency-ms",
                "5",
                "--strategy",
                strategy,
                "--trials",
                "30",
                "--out",
                out.to_str().unwrap(),
            ],
            "",
        );
        assert_eq!(code, 0, "{strategy}: {stderr}");
        assert_eq!(settings(&out)["strategy"]["name"], strategy);
        let records = read_log(&out);
        assert_eq!(trained(&out).len(), 30, "{strategy}");
        for record in &records {
            assert_ne!(record["reason"], "filter", "{strategy}: {record}");
            assert!(
                record["metrics"]["latency_ms"].as_f64().unwrap() <= 5.0,
                "{record}"
            );
        }
    }
}

#[test]
fn cli_search_soft_target_records_the_reward() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let (code, _, stderr) = run(
        &[
            "search",
            "nasbench201",
            "--benchmark",
            "cifar10",
            "--latency-of",
            "pixel3",
            "--target-latency-ms",
            "5",
            "--trials",
            "20",
            "--out",
            out.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(settings(&out)["objective"]["metric"], "reward");
    assert_eq!(settings(&out)["target"]["above"], -0.07);
    for record in trained(&out) {
        let metrics = &record["metrics"];
        let (accuracy, latency) = (
            metrics["accuracy"].as_f64().unwrap(),
            metrics["latency_ms"].as_f64().unwrap(),
        );
        let expected = accuracy * (latency / 5.0).powf(-0.07);
        assert!(
            (metrics["reward"].as_f64().unwrap() - expected).abs() < 1e-12,
            "{record}"
        );
    }
    let (code, _, stderr) = run(
        &[
            "search",
            "nasbench201",
            "--benchmark",
            "cifar10",
            "--target-flops=-3",
            "--out",
            dir.path().join("bad").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("the target of flops must be a positive number"),
        "{stderr}"
    );
}

#[test]
fn cli_bench_fitted_search_judges_winners_on_the_true_latency() {
    let (code, stdout, stderr) = run(
        &[
            "bench",
            "fitted-search",
            "--quantiles",
            "0.5",
            "--seeds",
            "2",
            "--trials",
            "20",
            "--json",
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 22);
    for row in &rows {
        assert_eq!(row["runs"], 2);
        let within = row["within_5_percent"].as_f64().unwrap();
        assert!([0.0, 0.5, 1.0].contains(&within), "{row}");
        let (mean, worst) = (
            row["mean_ratio"].as_f64().unwrap(),
            row["worst_ratio"].as_f64().unwrap(),
        );
        assert!(mean > 0.0 && mean <= worst, "{row}");
        // Within 5 % exactly when the ratio says so.
        assert_eq!(within == 1.0, worst <= 1.05, "{row}");
    }
}
