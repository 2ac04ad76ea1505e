//! The subcommands.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use burn::module::Module;
use burn::tensor::{Distribution, Tensor};
use clap::Args;
use hwnas_experiment::train::load_network;
use hwnas_profiler::{CountOptions, CountProfiler};
use hwnas_space::{hub, metric};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde_json::json;

use crate::args::{DeviceArgs, JsonArgs, SampleArgs as SampleFile, SpaceArgs};
use crate::exit::bail_input;

pub fn spaces() -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for (name, description) in hub::SPACES {
        writeln!(out, "{name:<14} {description}")?;
    }
    Ok(())
}

#[derive(Args)]
pub struct SpaceCommandArgs {
    #[command(flatten)]
    space: SpaceArgs,
    /// Print the search space as JSON.
    #[arg(long)]
    json: bool,
}

pub fn space(args: &SpaceCommandArgs) -> anyhow::Result<()> {
    let (space, _) = args.space.load()?;
    let search_space = space.search_space();
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(search_space)?)?;
        return Ok(());
    }
    writeln!(out, "space {}  input {}", space.name(), space.input())?;
    for choice in search_space.choices() {
        writeln!(
            out,
            "  {:<16} [{}]",
            choice.label.as_ref(),
            choice.allowed()
        )?;
    }
    for constraint in search_space.constraints() {
        writeln!(out, "  constraint: {constraint}")?;
    }
    write!(
        out,
        "size: {:.4e} samples (log10 {:.3})",
        search_space.size(),
        search_space.log10_size()
    )?;
    match search_space.count_valid(1e8) {
        Some(valid) if !search_space.constraints().is_empty() => {
            writeln!(out, ", {valid} satisfy the constraints")?
        }
        _ => writeln!(out)?,
    }
    let counts = CountProfiler::new(&space, space.input(), CountOptions::default())?;
    if let Some(((least_flops, most_flops), (least_params, most_params))) = counts.table().ranges()
    {
        writeln!(
            out,
            "flops: {} to {}\nparams: {} to {}",
            metric::thousands(least_flops),
            metric::thousands(most_flops),
            metric::thousands(least_params),
            metric::thousands(most_params)
        )?;
    }
    Ok(())
}

#[derive(Args)]
pub struct SampleArgs {
    /// Hub space name.
    name: String,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of samples.
    #[arg(long, default_value_t = 1)]
    count: usize,
}

pub fn sample(args: &SampleArgs) -> anyhow::Result<()> {
    let space = hub::space(&args.name)?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.seed);
    let mut out = std::io::stdout().lock();
    for _ in 0..args.count {
        writeln!(out, "{}", space.search_space().random_sample(&mut rng)?)?;
    }
    Ok(())
}

#[derive(Args)]
pub struct ProfileArgs {
    #[command(flatten)]
    space: SpaceArgs,
    #[command(flatten)]
    samples: SampleFile,
    /// Do not count biases in FLOPs.
    #[arg(long)]
    no_bias: bool,
    /// Do not count normalization layers in FLOPs.
    #[arg(long)]
    no_norm: bool,
    /// Do not count activations in FLOPs.
    #[arg(long)]
    no_act: bool,
    #[command(flatten)]
    proxy: crate::proxies::ProxyArgs,
    #[command(flatten)]
    output: JsonArgs,
}

pub fn profile(args: &ProfileArgs) -> anyhow::Result<()> {
    let (space, _) = args.space.load()?;
    let (space, proxies) = args.proxy.profilers(space)?;
    let options = CountOptions {
        count_bias: !args.no_bias,
        count_norm: !args.no_norm,
        count_activation: !args.no_act,
    };
    let samples = args.samples.read()?;
    let profiler = CountProfiler::new(&space, space.input(), options)?;
    let mut out = std::io::stdout().lock();
    for (i, sample) in samples.iter().enumerate() {
        let context = || format!("sample #{}", i + 1);
        let counts = profiler.counts(sample).with_context(context)?;
        let scores = crate::proxies::scores(&proxies, sample).with_context(context)?;
        if args.output.json {
            let mut line = json!({
                "sample": sample,
                metric::FLOPS: counts.flops,
                metric::PARAMS: counts.params,
            });
            for (proxy, score) in scores {
                line[proxy] = json!(score);
            }
            writeln!(out, "{line}")?;
        } else {
            write!(
                out,
                "flops {:>15}  params {:>12}",
                counts.flops, counts.params
            )?;
            for (proxy, score) in scores {
                write!(out, "  {proxy} {score:.6e}")?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct FreezeArgs {
    #[command(flatten)]
    space: SpaceArgs,
    #[command(flatten)]
    samples: SampleFile,
    #[command(flatten)]
    device: DeviceArgs,
    /// Seed of the weight initialization and of the random input.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Weights to load (burnpack: `weights.bpk` of `hwnas train`, `weights/ID.bpk` of a search)
    /// instead of initializing them; the space must be at the input and classes they were
    /// trained for (`--input`, `--classes`).
    #[arg(long)]
    weights: Option<PathBuf>,
}

pub fn freeze(args: &FreezeArgs) -> anyhow::Result<()> {
    let (space, batch) = args.space.load()?;
    let device = args.device.device.device()?;
    let samples = args.samples.read()?;
    let mut out = std::io::stdout().lock();
    for (i, sample) in samples.iter().enumerate() {
        let architecture = space
            .resolve(sample)
            .with_context(|| format!("sample #{}", i + 1))?;
        let running_statistics = architecture.running_statistics()? as usize;
        let network = match &args.weights {
            None => hwnas_space::module::seeded(&device, args.seed, || {
                hwnas_space::module::Network::init(&architecture, &device)
            })?,
            Some(path) => match load_network(&architecture, path, &device) {
                Ok(network) => network,
                Err(e) => bail_input!("sample #{}: {e}", i + 1),
            },
        };
        let dims = space.input().with_batch(batch);
        let input = Tensor::<4>::random(
            [dims[0], dims[1], dims[2], dims[3]],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let output = network.forward(input).dims();
        let burn_params = network.num_params();
        writeln!(
            out,
            "device {}  input {:?}  output {:?}  params {} (burn num_params {}, with {} running statistics)",
            args.device.device,
            dims,
            output,
            burn_params - running_statistics,
            burn_params,
            running_statistics
        )?;
    }
    Ok(())
}
