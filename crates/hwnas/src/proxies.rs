//! Zero-cost proxies, printed: `hwnas bench proxies` ([`ProxyStudy`]) and the scores of
//! `hwnas profile --proxy`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use hwnas_benchmark::Dataset;
use hwnas_data::Format;
use hwnas_experiment::DataConfig;
use hwnas_experiment::train::{ProxyStudy, TrainingData, proxy_batch};
use hwnas_profiler::{Profiler, Proxy, ProxyBatch, ProxyProfiler};
use hwnas_space::{ModelSpace, Sample};

use crate::args::{DeviceArgs, JsonArgs};
use crate::output::bar;

#[derive(Args)]
pub struct ProxiesArgs {
    /// Distinct cells drawn at random from the 15,625.
    #[arg(long, default_value_t = 1000)]
    cells: usize,
    /// Images in the minibatch the proxies score each network on (random images: the table
    /// ships no data).
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Cells on which each proxy and a training step are also timed alone.
    #[arg(long, default_value_t = 10)]
    timed: usize,
    /// Seed of the cells drawn, the batch and the weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    output: JsonArgs,
}

/// `hwnas bench proxies`: Spearman's rho of each proxy and cost with accuracy.
pub fn study(args: &ProxiesArgs) -> anyhow::Result<()> {
    let study = ProxyStudy {
        cells: args.cells,
        batch: args.batch,
        seed: args.seed,
        timed: args.timed,
    };
    let device = args.device.device.device()?;
    let progress = bar(args.cells, "cells");
    let report = study.run(&device, &mut |done| progress.set_position(done as u64))?;
    progress.finish_and_clear();
    let mut out = std::io::stdout().lock();
    if args.output.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
        return Ok(());
    }
    let datasets: Vec<&str> = Dataset::ALL.iter().map(|d| d.name()).collect();
    writeln!(
        out,
        "{} cells, batch {}, {}: Spearman's rho with test accuracy",
        report.cells, report.batch, report.device
    )?;
    writeln!(
        out,
        "| score | {} | ms per network |\n| --- |{}--- |",
        datasets.join(" | "),
        " ---: |".repeat(datasets.len())
    )?;
    for row in &report.rows {
        let rhos: Vec<String> = row.spearman.iter().map(|rho| format!("{rho:.3}")).collect();
        let cost = row
            .seconds_per_network
            .map_or("table".to_string(), |s| format!("{:.1}", 1e3 * s));
        writeln!(out, "| {} | {} | {cost} |", row.metric, rhos.join(" | "))?;
    }
    writeln!(
        out,
        "all four proxies together: {:.1} ms per network; one SGD training step: {:.1} ms",
        1e3 * report.all_proxies_seconds,
        1e3 * report.training_step_seconds
    )?;
    Ok(())
}

/// What `hwnas profile --proxy` scores networks with.
#[derive(Args)]
pub struct ProxyArgs {
    /// Zero-cost proxies to score each sample by (synflow, jacob_cov or naswot, grad_norm,
    /// snip), comma separated.
    #[arg(long = "proxy", value_delimiter = ',')]
    pub proxies: Vec<Proxy>,
    /// Images in the proxies' minibatch: drawn from `--data` (its training split), or random
    /// images without it.
    #[arg(long = "proxy-batch", default_value_t = 64)]
    pub batch: usize,
    /// Images to draw the proxies' minibatch from (as `hwnas search --data`; the space is
    /// brought to their size and classes).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The format of `--data` (folder, cifar or idx) when what it holds does not tell.
    #[arg(long)]
    pub data_format: Option<Format>,
    /// Seed of the weights and of the images drawn.
    #[arg(long = "proxy-seed", default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub device: DeviceArgs,
}

impl ProxyArgs {
    /// The proxies as profilers of `space` (the space brought to `--data`'s input and classes
    /// when given).
    pub fn profilers(&self, space: ModelSpace) -> anyhow::Result<(ModelSpace, Vec<ProxyProfiler>)> {
        let device = self.device.device.device()?;
        let (space, batch) = match &self.data {
            None => {
                let batch = ProxyBatch::random(space.input(), self.batch, self.seed)?;
                (space, batch)
            }
            Some(path) => {
                let config = DataConfig {
                    path: Some(path.clone()),
                    format: self.data_format,
                    ..DataConfig::default()
                };
                let data = TrainingData::load(&config, None)?;
                (
                    data.space(space.name())?,
                    proxy_batch(&data, self.batch, self.seed)?,
                )
            }
        };
        let profilers = self
            .proxies
            .iter()
            .map(|&proxy| {
                ProxyProfiler::new(&space, proxy, batch.clone(), device.clone(), self.seed)
            })
            .collect();
        Ok((space, profilers))
    }
}

/// Each proxy's score of `sample`, by name.
pub fn scores(
    profilers: &[ProxyProfiler],
    sample: &Sample,
) -> anyhow::Result<Vec<(&'static str, f64)>> {
    profilers
        .iter()
        .map(|profiler| Ok((profiler.proxy().name(), profiler.profile(sample)?)))
        .collect()
}
