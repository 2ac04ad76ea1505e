//! `hwnas bench`: the NAS-Bench-201 tables: devices, queries, the exhaustive optimum, packing.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use hwnas_benchmark::{Dataset, HELP_SPEARMAN_10, NasBench201, pack_nasbench201};
use hwnas_experiment::{Front, plot_fronts};
use hwnas_middleware::Budget;
use hwnas_profiler::{Costs, CountOptions, CountProfiler};
use hwnas_space::{hub, metric};
use serde_json::json;

use crate::args::{JsonArgs, SampleArgs};
use crate::exit::bail_input;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// The devices of NAS-Bench-201: kind, batch, origin, source and median latency.
    Devices,
    /// Index, accuracies, every device's latency, FLOPs and parameters of samples.
    Query(QueryArgs),
    /// The most accurate cell of all 15,625 under a budget: the optimum a search is measured
    /// against.
    Best(BestArgs),
    /// Strategies over many seeds, searched in memory against the table: best accuracy found,
    /// regret to the optimum under the same budget, a Welch t-test, best-so-far plots.
    Compare(crate::compare::CompareArgs),
    /// Each device's Pareto front of accuracy against its latency on one plot, and the best cell
    /// under each device's median latency with what it costs on the others.
    Fronts(FrontsArgs),
    /// How accuracy is laid out over the cells a budget admits, as one-edge mutations see it:
    /// local optima, neighbours within the budget, greedy climbs that reach the optimum.
    Landscape(LandscapeArgs),
    /// Leave one device out: fit each device's latency from a few of its cells with the other
    /// devices as the prior (what `hwnas latency fit nasbench201` does) and rank the rest.
    LatencyFit(LatencyFitArgs),
    /// A device known from a few measured cells: fit its latency (as `latency-fit`), search
    /// under a budget on the fit with the default strategy, and read the winner's true latency.
    FittedSearch(crate::compare::FittedSearchArgs),
    /// How well the zero-cost proxies (synflow, jacob_cov, grad_norm, snip) rank cells by
    /// accuracy, beside FLOPs and parameters (Spearman's rho), and what each costs per network.
    Proxies(crate::proxies::ProxiesArgs),
    /// How well FLOPs, parameters and a latency table built here rank each device's latency
    /// over all cells (Kendall's tau, Spearman's rho).
    Rank(RankArgs),
    /// Pack the published CSV tables into the form the crate ships (`data/nasbench201.bin`).
    Pack(PackArgs),
}

pub fn run(command: &BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Devices => devices(),
        BenchCommand::Query(args) => query(args),
        BenchCommand::Best(args) => best(args),
        // The study has a module of its own.
        BenchCommand::Compare(args) => crate::compare::run(args),
        BenchCommand::FittedSearch(args) => crate::compare::fitted_search(args),
        BenchCommand::Proxies(args) => crate::proxies::study(args),
        BenchCommand::Fronts(args) => fronts(args),
        BenchCommand::Landscape(args) => landscape(args),
        BenchCommand::LatencyFit(args) => latency_fit(args),
        BenchCommand::Rank(args) => rank(args),
        BenchCommand::Pack(args) => pack(args),
    }
}

fn devices() -> anyhow::Result<()> {
    let bench = NasBench201::get();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<14} {:<24} {:<9} {:>5} {:<9} {:<13} {:>10}",
        "device", "what", "kind", "batch", "origin", "source", "median ms"
    )?;
    for device in bench.devices() {
        writeln!(
            out,
            "{:<14} {:<24} {:<9} {:>5} {:<9} {:<13} {:>10.3}",
            device.name,
            device.description,
            named(&device.kind),
            device.batch,
            named(&device.origin),
            device.source,
            bench.median_latency(device)
        )?;
    }
    Ok(())
}

/// The name a unit enum serializes to (`gpu`, `measured`).
fn named(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A budget on a device's published latency and on FLOPs.
#[derive(Args)]
pub struct BudgetArgs {
    /// The device whose latency `--max-latency-ms` bounds.
    #[arg(long, requires = "max_latency_ms")]
    device: Option<String>,
    /// Latency budget on `--device`, milliseconds.
    #[arg(long, requires = "device")]
    max_latency_ms: Option<f64>,
    /// FLOPs budget.
    #[arg(long)]
    max_flops: Option<f64>,
}

impl BudgetArgs {
    /// The bounds, as the searches enforce them.
    fn limits(&self) -> Budget {
        let mut budget = Budget::new();
        if let Some(limit) = self.max_latency_ms {
            budget = budget.max(metric::LATENCY_MS, limit);
        }
        if let Some(limit) = self.max_flops {
            budget = budget.max(metric::FLOPS, limit);
        }
        budget
    }

    /// What prices the bounds: FLOPs and parameters, and the device's latency when one is named.
    fn costs(&self, bench: &'static NasBench201) -> anyhow::Result<Costs> {
        self.validate()?;
        let costs = Costs::counts(&hub::space("nasbench201")?)?;
        Ok(match &self.device {
            Some(name) => costs.with(
                metric::LATENCY_MS,
                bench.latency_profiler(bench.device(name)?),
            ),
            None => costs,
        })
    }

    /// Whether each cell of `bench` meets the budget, by index, priced by `costs` (from
    /// [`costs`](Self::costs)) as a search prices it; a budget no cell meets is refused with
    /// what the cheapest cell costs.
    fn cells_within(&self, bench: &NasBench201, costs: &Costs) -> anyhow::Result<Vec<bool>> {
        let limits = self.limits();
        let within: Vec<bool> = (0..bench.len())
            .map(|index| {
                costs
                    .costs(&bench.sample(index))
                    .is_ok_and(|metrics| limits.admits(&metrics))
            })
            .collect();
        if within.contains(&true) {
            return Ok(within);
        }
        let cheapest = |metric: &str| {
            (0..bench.len())
                .filter_map(|index| costs.cost(&bench.sample(index), metric).ok())
                .fold(f64::INFINITY, f64::min)
        };
        let mut explained = Vec::new();
        if let (Some(device), Some(_)) = (&self.device, self.max_latency_ms) {
            let fastest = cheapest(metric::LATENCY_MS);
            explained.push(format!(
                "the fastest cell takes {fastest:.3} ms on {device}"
            ));
        }
        if self.max_flops.is_some() {
            let fewest = cheapest(metric::FLOPS);
            explained.push(format!("the smallest has {fewest} FLOPs"));
        }
        bail_input!(
            "no cell of NAS-Bench-201 meets the budget ({}): loosen it",
            explained.join(", ")
        );
    }

    /// Refuses a bound that is not a positive number, naming its flag.
    fn validate(&self) -> anyhow::Result<()> {
        for (flag, value) in [
            ("--max-latency-ms", self.max_latency_ms),
            ("--max-flops", self.max_flops),
        ] {
            if value.is_some_and(|v| !(v.is_finite() && v > 0.0)) {
                bail_input!("{flag} must be a positive number");
            }
        }
        Ok(())
    }
}

#[derive(Args)]
pub struct QueryArgs {
    #[command(flatten)]
    samples: SampleArgs,
    #[command(flatten)]
    output: JsonArgs,
}

fn query(args: &QueryArgs) -> anyhow::Result<()> {
    let bench = NasBench201::get();
    let space = hub::space("nasbench201")?;
    let counts = CountProfiler::new(&space, space.input(), CountOptions::default())?;
    let samples = args.samples.read()?;
    let mut out = std::io::stdout().lock();
    for (i, sample) in samples.iter().enumerate() {
        let index = bench
            .index(sample)
            .with_context(|| format!("sample #{}", i + 1))?;
        let counted = counts.counts(sample)?;
        let accuracy: serde_json::Map<String, serde_json::Value> = Dataset::ALL
            .iter()
            .map(|&d| (d.name().to_string(), bench.accuracy(index, d).into()))
            .collect();
        let latency: serde_json::Map<String, serde_json::Value> = bench
            .devices()
            .iter()
            .map(|d| (d.name.to_string(), bench.latency(index, d).into()))
            .collect();
        if args.output.json {
            let line = json!({
                "index": index, "sample": sample, "accuracy": accuracy, "latency_ms": latency,
                metric::FLOPS: counted.flops, metric::PARAMS: counted.params,
            });
            writeln!(out, "{line}")?;
        } else {
            let accuracies: Vec<String> = accuracy
                .iter()
                .map(|(d, a)| format!("{d} {:.2} %", a.as_f64().unwrap_or(f64::NAN)))
                .collect();
            writeln!(
                out,
                "index {index}: {}; flops {}, params {}",
                accuracies.join(", "),
                counted.flops,
                counted.params
            )?;
            let latencies: Vec<String> = latency
                .iter()
                .map(|(d, ms)| format!("{d} {:.3}", ms.as_f64().unwrap_or(f64::NAN)))
                .collect();
            writeln!(out, "  latency ms: {}", latencies.join(", "))?;
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct BestArgs {
    /// The dataset whose accuracy is maximized: cifar10, cifar100 or imagenet16.
    #[arg(long)]
    dataset: Dataset,
    #[command(flatten)]
    budget: BudgetArgs,
    #[command(flatten)]
    output: JsonArgs,
}

fn best(args: &BestArgs) -> anyhow::Result<()> {
    let budget = &args.budget;
    let bench = NasBench201::get();
    let costs = budget.costs(bench)?;
    let within = budget.cells_within(bench, &costs)?;
    let n_within = within.iter().filter(|&&w| w).count();
    let best = bench.best(args.dataset, |index| within[index]);
    let index = best.expect("cells_within refuses a budget no cell meets");
    let accuracy = bench.accuracy(index, args.dataset);
    let sample = bench.sample(index);
    let metrics = costs.costs(&sample)?;
    // Counted exactly: an integer.
    let flops = metrics[metric::FLOPS] as u64;
    let latency = metrics.get(metric::LATENCY_MS).copied();
    let mut out = std::io::stdout().lock();
    if args.output.json {
        let line = json!({
            "index": index, "sample": sample, "dataset": args.dataset, "accuracy": accuracy,
            metric::FLOPS: flops, metric::LATENCY_MS: latency, "device": budget.device,
            "within_budget": n_within,
        });
        writeln!(out, "{line}")?;
    } else {
        write!(
            out,
            "index {index}: {} {accuracy:.2} %, flops {flops}",
            args.dataset
        )?;
        if let (Some(device), Some(ms)) = (&budget.device, latency) {
            write!(out, ", {device} {ms:.3} ms")?;
        }
        writeln!(
            out,
            " (best of {n_within} cells within the budget)\n{sample}"
        )?;
    }
    Ok(())
}

#[derive(Args)]
pub struct LatencyFitArgs {
    /// Cells measured on the held-out device, per fit (each at least 3).
    #[arg(long, value_delimiter = ',', default_value = "5,10,20,50")]
    k: Vec<usize>,
    /// Random draws of the measured cells per device and K.
    #[arg(long, default_value_t = 20)]
    draws: usize,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// One JSON object per device and K.
    #[arg(long)]
    json: bool,
}

fn latency_fit(args: &LatencyFitArgs) -> anyhow::Result<()> {
    if args.draws == 0 {
        bail_input!("--draws must be at least 1");
    }
    let bench = NasBench201::get();
    let held_out = bench.leave_one_device_out(&args.k, args.draws, args.seed)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        for row in &held_out {
            writeln!(out, "{}", serde_json::to_string(row)?)?;
        }
        return Ok(());
    }
    let row = |device: &str, k: usize| {
        held_out
            .iter()
            .find(|r| r.device.name == device && r.k == k)
            .expect("every device and K")
    };
    let help = |device: &str| {
        HELP_SPEARMAN_10
            .iter()
            .find(|(name, _)| *name == device)
            .map(|(_, rho)| *rho)
    };
    writeln!(
        out,
        "Each device left out in turn: its latency fitted from K random cells ({} draws, seed {}) \
         with the other {} devices as references; ranked over every cell not measured.\n",
        args.draws,
        args.seed,
        bench.devices().len() - 1
    )?;
    let ks = |f: &dyn Fn(usize) -> String| -> String {
        args.k.iter().map(|&k| f(k)).collect::<Vec<_>>().join(" | ")
    };
    writeln!(
        out,
        "| device | FLOPs rho | {} | HELP K=10 (published) |\n| --- | --- |{} --- |",
        ks(&|k| format!("rho K={k}")),
        " --- |".repeat(args.k.len())
    )?;
    let devices: Vec<&str> = bench.devices().iter().map(|d| d.name).collect();
    let mean_over = |names: &[&str], value: &dyn Fn(&str) -> f64| -> f64 {
        names.iter().map(|name| value(name)).sum::<f64>() / names.len() as f64
    };
    let first_k = args.k[0];
    for device in &devices {
        writeln!(
            out,
            "| {device} | {:.3} | {} | {} |",
            row(device, first_k).flops_spearman,
            ks(&|k| format!("{:.3}", row(device, k).spearman)),
            help(device).map_or(String::new(), |rho| format!("{rho:.3}"))
        )?;
    }
    let helps: Vec<&str> = HELP_SPEARMAN_10.iter().map(|(name, _)| *name).collect();
    for (name, group) in [
        ("mean, all devices", &devices),
        ("mean, HELP's six", &helps),
    ] {
        let published = if group.len() == helps.len() {
            format!("{:.3}", mean_over(group, &|d| help(d).unwrap_or(0.0)))
        } else {
            String::new()
        };
        writeln!(
            out,
            "| {name} | {:.3} | {} | {published} |",
            mean_over(group, &|d| row(d, first_k).flops_spearman),
            ks(&|k| format!("{:.3}", mean_over(group, &|d| row(d, k).spearman)))
        )?;
    }
    writeln!(
        out,
        "\n| device | {} | {} |\n| --- |{}",
        ks(&|k| format!("tau K={k}")),
        ks(&|k| format!("within +-10 % K={k}")),
        " --- |".repeat(2 * args.k.len())
    )?;
    let within = |value: f64| format!("{:.1} %", 100.0 * value);
    for device in &devices {
        writeln!(
            out,
            "| {device} | {} | {} |",
            ks(&|k| format!("{:.3}", row(device, k).kendall)),
            ks(&|k| within(row(device, k).within_10_percent))
        )?;
    }
    writeln!(
        out,
        "| mean, all devices | {} | {} |",
        ks(&|k| format!("{:.3}", mean_over(&devices, &|d| row(d, k).kendall))),
        ks(&|k| within(mean_over(&devices, &|d| row(d, k).within_10_percent)))
    )?;
    Ok(())
}

#[derive(Args)]
pub struct LandscapeArgs {
    /// The dataset whose test accuracy is climbed.
    #[arg(long)]
    dataset: Dataset,
    #[command(flatten)]
    budget: BudgetArgs,
    #[command(flatten)]
    output: JsonArgs,
}

fn landscape(args: &LandscapeArgs) -> anyhow::Result<()> {
    let bench = NasBench201::get();
    let within = args
        .budget
        .cells_within(bench, &args.budget.costs(bench)?)?;
    let landscape = bench
        .landscape(args.dataset, |index| within[index])
        .expect("cells_within refuses a budget no cell meets");
    let mut out = std::io::stdout().lock();
    if args.output.json {
        writeln!(out, "{}", serde_json::to_string(&landscape)?)?;
    } else {
        writeln!(
            out,
            "{} cells within the budget, optimum {:.3} % on {}
\
             {} local optima ({} within 0.5 points of the optimum); {:.1} of 24 neighbours within \
             the budget on average; steepest ascent reaches the optimum (within 0.1) from {:.1} % \
             of the cells",
            landscape.n_admitted,
            landscape.optimum,
            args.dataset,
            landscape.n_local_optima,
            landscape.n_near_optima,
            landscape.mean_admitted_neighbours,
            100.0 * landscape.climbs_to_optimum
        )?;
    }
    Ok(())
}

#[derive(Args)]
pub struct PackArgs {
    /// `nb201_accuracy.csv`.
    #[arg(long)]
    accuracy: PathBuf,
    /// `nb201_latency.csv`.
    #[arg(long)]
    latency: PathBuf,
    /// Where to write the packed table.
    #[arg(long)]
    out: PathBuf,
}

fn pack(args: &PackArgs) -> anyhow::Result<()> {
    let read = |path: &PathBuf| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let packed = pack_nasbench201(&read(&args.accuracy)?, &read(&args.latency)?)?;
    // The packed form is checked by reading it back before it is written.
    NasBench201::from_packed(&packed)?;
    std::fs::write(&args.out, &packed)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    writeln!(
        std::io::stdout().lock(),
        "wrote {} ({} bytes)",
        args.out.display(),
        packed.len()
    )?;
    Ok(())
}

#[derive(Args)]
pub struct FrontsArgs {
    /// The dataset whose test accuracy is traded against latency.
    #[arg(long)]
    dataset: Dataset,
    /// The devices, comma separated (`hwnas bench devices`).
    #[arg(long, value_delimiter = ',', required = true)]
    devices: Vec<String>,
    /// Directory of the plot (`fronts_DATASET.png` and `.svg`).
    #[arg(long, default_value = ".")]
    out: PathBuf,
    #[command(flatten)]
    output: JsonArgs,
}

fn fronts(args: &FrontsArgs) -> anyhow::Result<()> {
    let bench = NasBench201::get();
    let devices = args
        .devices
        .iter()
        .map(|name| bench.device(name))
        .collect::<Result<Vec<_>, _>>()?;
    let fronts: Vec<Front> = devices
        .iter()
        .map(|device| Front {
            name: device.name.to_string(),
            points: bench
                .front(args.dataset, device)
                .into_iter()
                .map(|i| (bench.latency(i, device), bench.accuracy(i, args.dataset)))
                .collect(),
        })
        .collect();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let stem = args.out.join(format!("fronts_{}", args.dataset));
    let y = format!("{} test accuracy (%)", args.dataset);
    let [png, svg] = plot_fronts(&fronts, "latency (ms)", &y, &stem)?;
    // The best cell under each device's median latency, and on every other device: its latency
    // against that device's median, and the accuracy it gives up to that device's own winner.
    let medians: Vec<f64> = devices.iter().map(|d| bench.median_latency(d)).collect();
    let winners: Vec<usize> = devices
        .iter()
        .zip(&medians)
        .map(|(device, &median)| {
            bench
                .best(args.dataset, |i| bench.latency(i, device) <= median)
                .expect("half of the cells meet the median")
        })
        .collect();
    let mut out = std::io::stdout().lock();
    for (row, &winner) in winners.iter().enumerate() {
        let accuracy = bench.accuracy(winner, args.dataset);
        let elsewhere: Vec<serde_json::Value> = devices
            .iter()
            .zip(&medians)
            .zip(&winners)
            .map(|((device, &median), &own)| {
                let ratio = bench.latency(winner, device) / median;
                let loss = bench.accuracy(own, args.dataset) - accuracy;
                json!({"device": device.name, "latency_over_budget": ratio, "accuracy_lost": loss})
            })
            .collect();
        if args.output.json {
            let line = json!({
                "device": devices[row].name, "budget_ms": medians[row], "index": winner,
                "accuracy": accuracy, "elsewhere": elsewhere,
            });
            writeln!(out, "{line}")?;
        } else {
            let cells: Vec<String> = elsewhere
                .iter()
                .map(|e| {
                    let ratio = e["latency_over_budget"].as_f64().unwrap_or(f64::NAN);
                    let loss = e["accuracy_lost"].as_f64().unwrap_or(f64::NAN);
                    if ratio <= 1.0 {
                        format!("{} fits (-{loss:.2})", e["device"].as_str().unwrap_or(""))
                    } else {
                        format!("{} {ratio:.2}x over", e["device"].as_str().unwrap_or(""))
                    }
                })
                .collect();
            writeln!(
                out,
                "{:<14} <= {:.3} ms: index {winner} {accuracy:.2} %; {}",
                devices[row].name,
                medians[row],
                cells.join(", ")
            )?;
        }
    }
    if !args.output.json {
        writeln!(out, "plots: {} {}", png.display(), svg.display())?;
    }
    Ok(())
}

#[derive(Args)]
pub struct RankArgs {
    /// A latency table of `nasbench201` from `hwnas latency build` (its predictions are ranked
    /// too).
    #[arg(long)]
    table: Option<PathBuf>,
    /// The devices, comma separated (all by default).
    #[arg(long, value_delimiter = ',')]
    devices: Vec<String>,
    #[command(flatten)]
    output: JsonArgs,
}

fn rank(args: &RankArgs) -> anyhow::Result<()> {
    use hwnas_profiler::rank::{kendall_tau, spearman_rho};

    let bench = NasBench201::get();
    let devices = if args.devices.is_empty() {
        bench.devices().iter().collect::<Vec<_>>()
    } else {
        args.devices
            .iter()
            .map(|name| bench.device(name))
            .collect::<Result<Vec<_>, _>>()?
    };
    let space = hub::space("nasbench201")?;
    let counts = CountProfiler::new(&space, space.input(), CountOptions::default())?;
    let samples: Vec<_> = (0..bench.len()).map(|i| bench.sample(i)).collect();
    let counted = samples
        .iter()
        .map(|s| counts.counts(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut rankers: Vec<(String, Vec<f64>)> = vec![
        (
            metric::FLOPS.into(),
            counted.iter().map(|c| c.flops as f64).collect(),
        ),
        (
            metric::PARAMS.into(),
            counted.iter().map(|c| c.params as f64).collect(),
        ),
    ];
    if let Some(path) = &args.table {
        let table = hwnas_profiler::LatencyPredictor::load(path, &space)
            .with_context(|| format!("latency table {}", path.display()))?;
        let predicted = samples
            .iter()
            .map(|s| table.predict(s))
            .collect::<Result<Vec<_>, _>>()?;
        let name = path
            .file_name()
            .unwrap_or(path.as_os_str())
            .to_string_lossy();
        rankers.push((name.into_owned(), predicted));
    }
    let mut out = std::io::stdout().lock();
    if !args.output.json {
        let names: Vec<&str> = rankers.iter().map(|(n, _)| n.as_str()).collect();
        writeln!(
            out,
            "| device | {} |\n| --- |{}",
            names
                .iter()
                .map(|n| format!("{n} tau / rho"))
                .collect::<Vec<_>>()
                .join(" | "),
            " --- |".repeat(names.len())
        )?;
    }
    for device in devices {
        let latency: Vec<f64> = (0..bench.len()).map(|i| bench.latency(i, device)).collect();
        let scores: Vec<(f64, f64)> = rankers
            .iter()
            .map(|(_, values)| {
                (
                    kendall_tau(values, &latency),
                    spearman_rho(values, &latency),
                )
            })
            .collect();
        if args.output.json {
            let by: serde_json::Map<String, serde_json::Value> = rankers
                .iter()
                .zip(&scores)
                .map(|((name, _), (tau, rho))| {
                    (
                        name.clone(),
                        json!({"kendall_tau": tau, "spearman_rho": rho}),
                    )
                })
                .collect();
            writeln!(out, "{}", json!({"device": device.name, "rankings": by}))?;
        } else {
            let cells: Vec<String> = scores
                .iter()
                .map(|(tau, rho)| format!("{tau:.3} / {rho:.3}"))
                .collect();
            writeln!(out, "| {} | {} |", device.name, cells.join(" | "))?;
        }
    }
    Ok(())
}
