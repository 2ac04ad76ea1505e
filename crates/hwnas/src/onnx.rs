//! `hwnas export onnx`: a sample's network, with its weights, as an ONNX model checked in tract.

use std::path::PathBuf;

use anyhow::Context;
use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::Device;
use clap::Args;
use hwnas_onnx::{Exported, TOLERANCE, check_file};
use hwnas_space::module::Network;

use crate::args::{SampleArgs, SpaceArgs};
use crate::exit::bail_input;

#[derive(Args)]
pub struct OnnxArgs {
    #[command(flatten)]
    space: SpaceArgs,
    /// File holding the one sample to export.
    #[command(flatten)]
    sample: SampleArgs,
    /// The network's weights (a burn record, `.bpk`); without it, weights initialised from
    /// `--seed`.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Seed of the initial weights (without `--weights`) and of the test input.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to write the model; the test case goes to `test_data_set_0/` beside it.
    #[arg(long)]
    out: PathBuf,
    /// Run the written model in tract on the test input and print how far its output is from
    /// burn's (fails above a relative difference of 1e-4).
    #[arg(long)]
    check: bool,
}

pub fn export_onnx(args: &OnnxArgs) -> anyhow::Result<()> {
    let (space, batch) = args.space.load()?;
    crate::output::prepare_out(&args.out)?;
    let samples = args.sample.read()?;
    let [sample] = &samples[..] else {
        bail_input!(
            "{} holds {} samples; export takes one",
            args.sample.sample.display(),
            samples.len()
        );
    };
    let architecture = space.resolve(sample)?;
    let device = Device::flex();
    let mut network =
        hwnas_space::module::seeded(&device, args.seed, || Network::init(&architecture, &device))?;
    if let Some(path) = &args.weights {
        let record = ModuleRecord::load(path)
            .map_err(|e| crate::exit::InputError(format!("cannot read {}: {e}", path.display())))?;
        network = match network.try_load_record(record) {
            Ok(network) => network,
            Err(e) => bail_input!(
                "{} does not hold the weights of this `{}` network: {e}",
                path.display(),
                space.name()
            ),
        };
    }
    let exported = Exported::new(&architecture, &network, &device, batch, args.seed)?;
    exported
        .write(&args.out)
        .with_context(|| format!("cannot write the model to {}", args.out.display()))?;
    let graph = exported
        .model
        .graph
        .as_ref()
        .expect("exported with a graph");
    println!(
        "wrote {} ({} nodes, {} initializers, opset {}) and its test case (input {:?})",
        args.out.display(),
        graph.node.len(),
        graph.initializer.len(),
        hwnas_onnx::OPSET,
        exported.input.dims,
    );
    if args.check {
        let agreement = check_file(&args.out)?;
        println!(
            "tract {}: max |tract - burn| = {:.3e}, {:.3e} of the output's scale {:.3e}",
            hwnas_onnx::TRACT_VERSION,
            agreement.max_abs_diff,
            agreement.relative(),
            agreement.scale
        );
        // A NaN difference counts as infinite, so it fails here too.
        if agreement.relative() >= TOLERANCE {
            anyhow::bail!(
                "tract's output differs from burn's by {:.3e} of its scale (tolerance {TOLERANCE:e})",
                agreement.relative()
            );
        }
    }
    Ok(())
}
