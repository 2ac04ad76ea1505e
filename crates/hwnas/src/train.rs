//! `hwnas train`: the final training of one chosen architecture, as a [`TrainRunConfig`].

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use hwnas_experiment::train::{TrainRun, TrainRunConfig, TrainRunError};
use hwnas_experiment::{OptimizerKind, Schedule, Stop, TrainingConfig};
use hwnas_space::Shape;

use crate::args::{DataArgs, DeviceArgs, OptimizerArgs, SampleArgs};
use crate::exit::{Interrupted, bail_input};
use crate::interrupt::{self, OnSignal};
use crate::output::bar;

#[derive(Args)]
pub struct TrainArgs {
    /// Hub space name; the network is built for the data's image size and classes.
    name: String,
    /// The architecture: a file holding one sample (`hwnas export DIR --top 1` writes one).
    #[command(flatten)]
    sample: SampleArgs,
    #[command(flatten)]
    data: DataArgs,
    /// Passes over the training split.
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    #[command(flatten)]
    optimizer: OptimizerArgs,
    /// The device that trains.
    #[command(flatten)]
    device: DeviceArgs,
    /// Seed of the initial weights, the data order and the augmentation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory of the run (train.json, model.json, weights.bpk, epochs.jsonl, result.json,
    /// checkpoint/).
    #[arg(long)]
    out: PathBuf,
    /// Go on after the last finished epoch of the run in `--out` (same command otherwise); the
    /// result equals a run never stopped.
    #[arg(long)]
    resume: bool,
}

impl TrainArgs {
    fn training(&self) -> anyhow::Result<TrainingConfig> {
        // A final training's defaults: SGD with Nesterov momentum, warm-up, cosine decay.
        let base = TrainingConfig {
            epochs: self.epochs,
            batch_size: 64,
            learning_rate: 0.05,
            optimizer: OptimizerKind::Sgd {
                momentum: 0.9,
                nesterov: true,
            },
            schedule: Schedule::Cosine,
            warmup_epochs: 1,
            weight_decay: 5e-4,
            label_smoothing: 0.1,
            data: self.data.config()?,
        };
        self.optimizer.apply(base)
    }
}

pub fn train(args: &TrainArgs) -> anyhow::Result<()> {
    let training = args.training()?;
    let samples = args.sample.read()?;
    let [sample] = &samples[..] else {
        bail_input!(
            "{} holds {} samples; train takes one",
            args.sample.sample.display(),
            samples.len()
        );
    };
    let data = args.data.load()?;
    let [c, h, w] = data.shape();
    let config = TrainRunConfig {
        space: args.name.clone(),
        input: Some(Shape::image(c, h, w)),
        classes: Some(data.classes().len()),
        sample: sample.clone(),
        training,
        device: args.device.device,
        seed: args.seed,
    };
    let device = args.device.device.device()?;
    let stop = Stop::new();
    interrupt::install(OnSignal::Finish(&stop))?;
    let bar = bar(0, "steps");
    let (step_bar, epoch_bar) = (bar.clone(), bar.clone());
    let result = TrainRun::new(&args.out, config, &data, device)
        .resume(args.resume)
        .with_stop(stop)
        .on_step(move |step, total| {
            step_bar.set_length(total as u64);
            step_bar.set_position(step as u64);
        })
        .on_epoch(move |line| {
            epoch_bar.set_message(format!(
                "epoch {}  loss {:.4}  val {:.4}",
                line.epoch, line.loss, line.val_accuracy
            ));
            epoch_bar.println(format!(
                "epoch {}: loss {:.4}  train accuracy {:.4}  validation accuracy {:.4}  ({:.1} s)",
                line.epoch, line.loss, line.train_accuracy, line.val_accuracy, line.duration_s
            ));
        })
        .run();
    bar.finish_and_clear();
    let result = match result {
        Err(TrainRunError::Interrupted) => {
            return Err(Interrupted(interrupt::resume_command()).into());
        }
        other => other?,
    };
    writeln!(
        std::io::stdout().lock(),
        "test accuracy {:.4} with the weights of epoch {} (validation {:.4}); {} FLOPs, {} \
         parameters; written to {}",
        result.test_accuracy,
        result.best_epoch,
        result.val_accuracy,
        result.flops,
        result.params,
        args.out.display()
    )?;
    Ok(())
}
