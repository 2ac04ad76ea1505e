//! The `hwnas` command line.

mod commands;
mod device;
mod latency;
mod oneshot;
mod samples;
mod search;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Print a space's labels, choices, constraints and size.
    Space {
        /// Hub space name.
        name: String,
        /// Print the search space as JSON.
        #[arg(long)]
        json: bool,
    },
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
    /// Search a space under a FLOPs, parameter or latency budget, training every survivor.
    Search(search::SearchArgs),
    /// One-shot search: train one weight-sharing supernet (SPOS, DARTS, Gumbel, ProxylessNAS),
    /// optionally with a hardware penalty, and choose from it.
    Oneshot(oneshot::OneShotArgs),
    /// Print the top trials and Pareto fronts of an experiment and write its plots.
    Report(search::ReportArgs),
    /// Print the best (or Pareto-optimal) samples of an experiment as JSON lines.
    Export(search::ExportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Spaces => commands::spaces(),
        Command::Space { name, json } => commands::space(&name, json),
        Command::Sample(args) => commands::sample(&args),
        Command::Profile(args) => commands::profile(&args),
        Command::Freeze(args) => commands::freeze(&args),
        Command::Latency { command } => latency::run(&command),
        Command::Search(args) => search::search(&args),
        Command::Oneshot(args) => oneshot::oneshot(&args),
        Command::Report(args) => search::report(&args),
        Command::Export(args) => search::export(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped reading (`| head`) wanted no more: not an error.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            // Every error reaching here comes from the user's input (space, sample, flag, file).
            ExitCode::from(2)
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
