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
            "cannot read /nonexistent/supernet.bpk",
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
        let mut args = vec![
            "search",
            "mobile-micro",
            "--trials",
            trials,
            "--epochs",
            "1",
            "--max-flops",
            "400000",
            "--population",
            "2",
            "--sample-size",
            "1",
            "--seed",
            "3",
            "--out",
            out_arg,
        ];
        args.extend_from_slice(extra);
        run(&args, "")
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
    assert_eq!(settings["strategy"]["name"], "evolution");
    assert_eq!(settings["budget"]["max"]["flops"], 400_000.0);
    for (extra, named) in [
        (
            &["--strategy", "random"][..],
            "strategy: evolution -> random",
        ),
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
        (&["search", "nasbench201", "--out", out], "1x8x8 images"),
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
            "loosen the budget",
        ),
        (&["report", "/nonexistent-hwnas-dir"], "holds no experiment"),
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
        for field in ["median_ms", "p90_ms", "cv"] {
            assert!(line[field].as_f64().unwrap() >= 0.0, "{field}");
        }
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
                "search",
                "nasbench201",
                "--out",
                "/tmp/unused",
                "--table",
                table_arg,
            ],
            "",
            "1x8x8 images",
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

    for args in [
        &["sample", "mobile-micro", "--count", "1000000"][..],
        &["space", "proxylessnas"][..],
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
