//! `hwnas data`: what a data set holds as the toolkit reads it, and generated data sets to try
//! a run without a download.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use hwnas_data::synthetic::Synthetic;
use hwnas_data::{DataSet, Format};
use hwnas_space::InputShape;

use crate::args::DataArgs;
use crate::exit::bail_input;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Read a data set as `search`, `oneshot` and `train` do and print its classes, splits, image
    /// shape and the memory its images take.
    Show(ShowArgs),
    /// Write a generated data set (classes as bright horizontal bands over noise) in a format.
    Synthetic(SyntheticArgs),
}

#[derive(Args)]
pub struct ShowArgs {
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args)]
pub struct SyntheticArgs {
    /// Directory to write (created).
    #[arg(long)]
    out: PathBuf,
    /// folder (PNG images under train/ and test/), cifar (CIFAR-10 batches, 3x32x32) or idx
    /// (gzipped MNIST-style files, one channel).
    #[arg(long, default_value = "folder")]
    format: Format,
    /// Image shape, batch first as `--input` elsewhere: `1,C,H,W`.
    #[arg(long, default_value = "1,3,32,32")]
    shape: InputShape,
    /// Classes (at most the image height).
    #[arg(long, default_value_t = 10)]
    classes: usize,
    /// Training images per class.
    #[arg(long, default_value_t = 100)]
    per_class: usize,
    /// Test images per class.
    #[arg(long, default_value_t = 20)]
    test_per_class: usize,
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(command: &DataCommand) -> anyhow::Result<()> {
    match command {
        DataCommand::Show(args) => show(args),
        DataCommand::Synthetic(args) => synthetic(args),
    }
}

fn show(args: &ShowArgs) -> anyhow::Result<()> {
    let config = args.data.config()?;
    // Without --data, what every other command trains on by default.
    let (data, origin) = match &config.path {
        None => (
            hwnas_experiment::train::digits(),
            "the embedded digits (no --data)".to_string(),
        ),
        Some(path) => {
            let format = match config.format {
                Some(format) => format,
                None => Format::detect(path)?,
            };
            let data = DataSet::load(path, Some(format))?;
            (data, format!("{}: {}", path.display(), format.name()))
        }
    };
    let splits = data.splits(config.split_seed, config.val_fraction, config.test_fraction)?;
    let [c, h, w] = data.train.shape;
    let bytes = [Some(&data.train), data.val.as_ref(), data.test.as_ref()]
        .into_iter()
        .flatten()
        .map(|images| images.pixels.len())
        .sum::<usize>();
    let shown: Vec<&str> = data.classes.iter().take(10).map(String::as_str).collect();
    let more = data.classes.len().saturating_sub(shown.len());
    let mut out = std::io::stdout().lock();
    writeln!(out, "{origin}, {c}x{h}x{w} images")?;
    writeln!(
        out,
        "classes: {} ({}{})",
        data.classes.len(),
        shown.join(", "),
        if more > 0 {
            format!(", and {more} more")
        } else {
            String::new()
        }
    )?;
    let origin = |own: bool| {
        if own {
            "the data's own"
        } else {
            "cut from train"
        }
    };
    writeln!(
        out,
        "splits: train {}, validation {} ({}), test {} ({})",
        splits.train.len(),
        splits.val.len(),
        origin(data.val.is_some()),
        splits.test.len(),
        origin(data.test.is_some())
    )?;
    writeln!(
        out,
        "memory: {bytes} bytes of pixels ({:.1} MB)",
        bytes as f64 / 1e6
    )?;
    Ok(())
}

fn synthetic(args: &SyntheticArgs) -> anyhow::Result<()> {
    let [c, h, w] = match args.shape.shape {
        hwnas_space::Shape::Image {
            channels,
            height,
            width,
        } => [channels, height, width],
        hwnas_space::Shape::Flat(_) => bail_input!("--shape must be an image: 1,C,H,W"),
    };
    let synthetic = Synthetic {
        shape: [c, h, w],
        classes: args.classes,
        train_per_class: args.per_class,
        test_per_class: args.test_per_class,
        seed: args.seed,
    };
    if args.per_class == 0 {
        bail_input!("--per-class must be at least 1");
    }
    synthetic.write(&args.out, args.format)?;
    println!(
        "wrote {} training and {} test images of {c}x{h}x{w}, {} classes, to {}",
        args.per_class * args.classes,
        args.test_per_class * args.classes,
        args.classes,
        args.out.display()
    );
    Ok(())
}
