//! The Slurm coordinator at scale: 1,000 trials, all queued or running at once, each a job of a
//! stand-in Slurm (`sbatch`, `squeue`, `scontrol` scripts on `PATH` that run the job in the
//! background and answer from files) whose trial sleeps, then writes its outcome. Prints the
//! coordinator's CPU time, the polls it made and the `squeue` calls they cost, and the time
//! from a job's end to its record. Not a divan bench: one run is the measurement.
//!
//!     cargo bench -p hwnas-benches --bench slurm_scale [-- TRIALS JOB_SECONDS]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Instant;

use hwnas_experiment::{
    EvaluatorConfig, Experiment, SearchConfig, SlurmConfig, SlurmEvaluator, read_log,
};
use hwnas_profiler::Costs;
use hwnas_strategy::StrategyConfig;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `sbatch --parsable ... --wrap CMD`: the next id, CMD run in the background, its exit code and
/// end time written beside it.
const SBATCH: &str = r#"#!/bin/sh
state="$FAKE_SLURM"
while [ $# -gt 0 ]; do
  case "$1" in --wrap) cmd="$2"; shift 2 ;; *) shift ;; esac
done
[ -n "$cmd" ] || { echo "sbatch: error: nothing to run" >&2; exit 1; }
id=$(flock "$state/lock" sh -c 'n=$(cat "$0/next" 2>/dev/null || echo 1); echo $((n + 1)) > "$0/next"; echo $n' "$state")
touch "$state/jobs/$id"
nohup sh -c "$cmd; echo \$? > '$state/jobs/$id.exit'" > /dev/null 2>&1 &
echo "$id"
"#;

/// `squeue -h -o '%i %T' -j IDS`: the listed jobs still running; each call counted.
const SQUEUE: &str = r#"#!/bin/sh
state="$FAKE_SLURM"
echo x >> "$state/squeue.calls"
while [ $# -gt 0 ]; do
  case "$1" in -j) ids="$2"; shift 2 ;; *) shift ;; esac
done
for id in $(echo "$ids" | tr ',' ' '); do
  [ -f "$state/jobs/$id.exit" ] || echo "$id RUNNING"
done
"#;

/// `scontrol show job -o ID`: a finished job's state and exit code.
const SCONTROL: &str = r#"#!/bin/sh
state="$FAKE_SLURM"
id="$4"
code=$(cat "$state/jobs/$id.exit")
if [ "$code" = 0 ]; then s=COMPLETED; else s=FAILED; fi
echo "JobId=$id JobState=$s ExitCode=$code:0"
"#;

/// The job: sleeps, writes its end time, then its outcome (`trial DIR ID` as `hwnas` takes it).
const TRIAL: &str = r#"#!/bin/sh
dir="$2"; id="$3"
sleep "$FAKE_JOB_S"
date +%s.%N > "$dir/trials/$id.end"
printf '{"id":%s,"metrics":{"accuracy":0.5},"intermediate":[]}' "$id" > "$dir/trials/$id.json.tmp"
mv "$dir/trials/$id.json.tmp" "$dir/trials/$id.json"
"#;

fn script(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn cpu_seconds(who: nix::sys::resource::UsageWho) -> f64 {
    let usage = nix::sys::resource::getrusage(who).unwrap();
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    seconds(usage.user_time()) + seconds(usage.system_time())
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let trials: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let job_s: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(2.0);
    // The stand-in Slurm is found on `PATH`: set up, then run again with it in the environment.
    let Some(root) = std::env::var_os("FAKE_SLURM_ROOT") else {
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(root.path().join("slurm/jobs")).unwrap();
        for (name, text) in [
            ("sbatch", SBATCH),
            ("squeue", SQUEUE),
            ("scontrol", SCONTROL),
            ("trial", TRIAL),
        ] {
            script(&bin, name, text);
        }
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([trials.to_string(), job_s.to_string()])
            .env("PATH", path)
            .env("FAKE_SLURM_ROOT", root.path())
            .env("FAKE_SLURM", root.path().join("slurm"))
            .env("FAKE_JOB_S", job_s.to_string())
            .status()
            .unwrap();
        std::process::exit(status.code().unwrap_or(1));
    };
    let root = std::path::PathBuf::from(root);
    let (bin, state, dir) = (root.join("bin"), root.join("slurm"), root.join("search"));

    let search = SearchConfig {
        strategy: StrategyConfig::Random { seed: 0 },
        evaluator: EvaluatorConfig::Supernet,
        dedup: false,
        trials,
        concurrency: trials,
        ..SearchConfig::new("nasbench201")
    };
    let space = search.model_space().unwrap();
    let slurm = SlurmConfig {
        args: Vec::new(),
        poll_s: 0.5,
    };
    let evaluator = SlurmEvaluator::new(bin.join("trial"), &dir, &slurm).unwrap();
    let costs = Costs::counts(&space).unwrap();
    let (cpu_self, cpu_children) = (
        cpu_seconds(nix::sys::resource::UsageWho::RUSAGE_SELF),
        cpu_seconds(nix::sys::resource::UsageWho::RUSAGE_CHILDREN),
    );
    let clock = Instant::now();
    let summary: hwnas_experiment::Summary = Experiment::run(
        search
            .experiment(&dir, &space, costs, &evaluator, false)
            .unwrap(),
    )
    .unwrap();
    let wall = clock.elapsed().as_secs_f64();
    let cpu_self = cpu_seconds(nix::sys::resource::UsageWho::RUSAGE_SELF) - cpu_self;
    let cpu_children = cpu_seconds(nix::sys::resource::UsageWho::RUSAGE_CHILDREN) - cpu_children;
    let (records, _) = read_log(&dir.join("trials.jsonl")).unwrap();
    let mut lags: Vec<f64> = records
        .iter()
        .map(|record| {
            let end: f64 = std::fs::read_to_string(dir.join(format!("trials/{}.end", record.id)))
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            record.started_at + record.duration_s - end
        })
        .collect();
    lags.sort_by(f64::total_cmp);
    let squeue_calls =
        std::fs::read_to_string(state.join("squeue.calls")).map_or(0, |t| t.lines().count());
    println!(
        "{} trials ({} ok), every one a job of {job_s} s, all queued at once; wall {wall:.1} s",
        records.len(),
        summary.progress.evaluated - summary.progress.failed
    );
    println!(
        "coordinator CPU {cpu_self:.2} s; its sbatch/squeue/scontrol calls and the jobs {cpu_children:.1} s"
    );
    println!(
        "polls {} (every 0.5 s), squeue calls {squeue_calls}",
        evaluator.polls()
    );
    println!(
        "job end to record: median {:.2} s, p90 {:.2} s, max {:.2} s",
        lags[lags.len() / 2],
        lags[lags.len() * 9 / 10],
        lags[lags.len() - 1]
    );
}
