//! The `hwnas` command line.
//!
//! Each command module turns its arguments into the library's settings and calls the library;
//! what several commands share (argument groups, progress and report output, exit codes) lives
//! in modules of its own.

mod args;
mod bench;
mod commands;
mod compare;
mod data;
mod exit;
mod interrupt;
mod latency;
mod oneshot;
mod onnx;
mod output;
mod proxies;
mod report;
mod samples;
mod search;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// Searches allocate small maps and vectors for every trial; glibc's malloc and free took about a
// quarter of a benchmark trial, mimalloc a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hardware-aware neural architecture search on burn.
#[derive(Parser)]
#[command(name = "hwnas", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the hub spaces.
    Spaces,
    /// Print a space's labels, choices, constraints, size, and FLOPs and parameter ranges at its
    /// input.
    Space(commands::SpaceCommandArgs),
    /// Print random samples as JSON lines.
    Sample(commands::SampleArgs),
    /// Print the FLOPs and parameters of samples.
    Profile(commands::ProfileArgs),
    /// Build the network of a sample on a device and run one forward pass.
    Freeze(commands::FreezeArgs),
    /// Measure latency on a device, build a latency predictor, predict and evaluate it.
    Latency {
        #[command(subcommand)]
        command: latency::LatencyCommand,
    },
    /// NAS-Bench-201: published accuracies and 22 device latencies of every cell.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
    /// What a data set holds as the toolkit reads it, and generated data sets.
    Data {
        #[command(subcommand)]
        command: data::DataCommand,
    },
    /// Search a space under a FLOPs, parameter or latency budget, training every survivor.
    Search(Box<search::SearchArgs>),
    /// One trial of a search, as its process executor runs it (reads DIR/search.json and
    /// DIR/trials/ID.spec.json, writes DIR/trials/ID.json).
    #[command(hide = true)]
    Trial(search::TrialArgs),
    /// Train one architecture from scratch to the end (the final training of a search's choice),
    /// resumable from any epoch, and test it.
    Train(train::TrainArgs),
    /// One-shot search: train one weight-sharing supernet (SPOS, DARTS, Gumbel, ProxylessNAS),
    /// optionally with a hardware penalty, and choose from it.
    Oneshot(oneshot::OneShotArgs),
    /// Print the top trials and Pareto fronts of an experiment and write its plots.
    Report(report::ReportArgs),
    /// Print the best (or Pareto-optimal) samples of an experiment as JSON lines, or write a
    /// sample's network as ONNX (`hwnas export onnx`).
    Export(ExportCommand),
}

/// `hwnas export DIR` reads an experiment; `hwnas export onnx` writes a network.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct ExportCommand {
    #[command(subcommand)]
    format: Option<ExportFormat>,
    #[command(flatten)]
    experiment: report::ExportArgs,
}

#[derive(Subcommand)]
enum ExportFormat {
    /// A sample's network with its weights as an ONNX model (opset 17), with a test case in the
    /// ONNX test-data convention, optionally checked in tract.
    Onnx(onnx::OnnxArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Spaces => commands::spaces(),
        Command::Space(args) => commands::space(&args),
        Command::Sample(args) => commands::sample(&args),
        Command::Profile(args) => commands::profile(&args),
        Command::Freeze(args) => commands::freeze(&args),
        Command::Latency { command } => latency::run(&command),
        Command::Bench { command } => bench::run(&command),
        Command::Data { command } => data::run(&command),
        Command::Search(args) => search::search(&args),
        Command::Oneshot(args) => oneshot::oneshot(&args),
        Command::Train(args) => train::train(&args),
        Command::Trial(args) => search::trial(&args),
        Command::Report(args) => report::report(&args),
        Command::Export(ExportCommand {
            format: Some(ExportFormat::Onnx(args)),
            ..
        }) => onnx::export_onnx(&args),
        Command::Export(ExportCommand { experiment, .. }) => report::export(&experiment),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped reading (`| head`) wanted no more: not an error.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", exit::message(&error));
            exit::code(&error)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
