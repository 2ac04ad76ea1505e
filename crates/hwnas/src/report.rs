//! `hwnas report` and `hwnas export`: an experiment directory read back.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use hwnas_experiment::Report;
use hwnas_space::metric;
use hwnas_strategy::Objective;

use crate::exit::bail_input;
use crate::output::print_report;

#[derive(Args)]
pub struct ReportArgs {
    /// Experiment directory.
    dir: PathBuf,
    /// Rows of the top table.
    #[arg(long, default_value_t = 10)]
    top: usize,
}

pub fn report(args: &ReportArgs) -> anyhow::Result<()> {
    print_report(&args.dir, args.top)
}

#[derive(Args)]
pub struct ExportArgs {
    /// Experiment directory (one named `onnx` is given as `./onnx`).
    #[arg(required = true)]
    dir: Option<PathBuf>,
    /// The best K trials by accuracy.
    #[arg(long, default_value_t = 1, conflicts_with = "front")]
    top: usize,
    /// The Pareto front of accuracy against this cost (flops, params, latency_ms).
    #[arg(long)]
    front: Option<String>,
}

/// Writes the chosen architectures as sample JSON lines, which `profile` and `freeze` read.
pub fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let Some(dir) = &args.dir else {
        bail_input!("name an experiment directory");
    };
    let report = Report::load(dir)?;
    let accuracy = Objective::maximize(metric::ACCURACY);
    let chosen = match &args.front {
        Some(cost) => {
            if !report.metric_names().contains(cost) {
                bail_input!("no trial of {} has a metric `{cost}`", dir.display());
            }
            report.pareto_front(&[accuracy, Objective::minimize(cost.as_str())])
        }
        None => report.top_k(&accuracy, args.top),
    };
    if chosen.is_empty() {
        bail_input!("{} has no evaluated trial to export", dir.display());
    }
    let mut out = std::io::stdout().lock();
    for record in chosen {
        writeln!(out, "{}", record.sample).context("cannot write to standard output")?;
    }
    Ok(())
}
