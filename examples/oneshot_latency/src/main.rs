//! One-shot search with a latency penalty. A latency table of the small space is built on this
//! machine (flex), then ProxylessNAS trains one weight-sharing supernet on the embedded 8x8 digits
//! twice: without a penalty, and with the expected predicted latency of its architecture
//! distribution penalised towards a budget. Both chosen architectures are printed with their
//! validation accuracy (inherited weights, then after 3 epochs of fine-tuning alone), FLOPs, and
//! latency predicted and measured here.
//!
//! `cargo run --release -p oneshot-latency -- [EPOCHS] [OUT_DIR]`

use std::path::PathBuf;

use burn::tensor::Device;
use hwnas::experiment::train::{OneShotRun, OneShotRunConfig, OneShotSummary, TrainingData};
use hwnas::profiler::{
    Costs, LatencyConfig, LatencyPredictor, LatencyProfiler, PredictorConfig, Profiler,
};
use hwnas::space::{hub, metric};
use hwnas::strategy::oneshot::{
    Algorithm, HardwarePenalty, Nonlinear, OneShotConfig, PenaltyConfig, PenaltyMode,
};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let epochs: usize = args.next().map_or(Ok(8), |a| a.parse())?;
    let out = args.next().map_or_else(
        || std::env::temp_dir().join("hwnas-oneshot-latency"),
        PathBuf::from,
    );

    let space = hub::space("mobile-micro")?;
    let device = Device::flex();
    let data = TrainingData::load(&Default::default(), None)?;
    let predictor =
        LatencyPredictor::build(&space, &device, &PredictorConfig::default(), &mut |_, _| {})?;
    let build_seconds = predictor.file().build_seconds;
    let costs = Costs::counts(&space)?.with(metric::LATENCY_MS, predictor);
    let measured = LatencyProfiler::new(space.clone(), device.clone(), LatencyConfig::default())?;

    // The budget: the predicted latency a quarter of 50 random samples meet, found on this
    // machine rather than hard-coded.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let mut probe = (0..50)
        .map(|_| {
            let sample = space.search_space().random_sample(&mut rng)?;
            Ok(costs.cost(&sample, metric::LATENCY_MS)?)
        })
        .collect::<anyhow::Result<Vec<f64>>>()?;
    probe.sort_by(f64::total_cmp);
    let budget = probe[probe.len() / 4];
    println!(
        "mobile-micro on the 8x8 digits, ProxylessNAS for {epochs} epochs; latency table built \
         in {:.1} s on flex; budget {budget:.4} ms (a quarter of 50 random samples meet it)",
        build_seconds
    );

    let run = |name: &str, penalised: bool| -> anyhow::Result<OneShotSummary> {
        let dir = out.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        let config = OneShotRunConfig {
            oneshot: OneShotConfig {
                algorithm: Algorithm::Proxyless,
                epochs,
                seed: 0,
                ..OneShotConfig::default()
            },
            finetune_epochs: 3,
            ..OneShotRunConfig::default()
        };
        let mut run = OneShotRun::new(&dir, space.clone(), &data, device.clone(), config)
            .with_costs(costs.clone());
        if penalised {
            let penalty = PenaltyConfig {
                baseline: budget,
                scale: 1.0,
                mode: PenaltyMode::Add,
                nonlinear: Nonlinear::Positive,
            };
            run = run.with_penalty(HardwarePenalty::new(
                penalty,
                costs.clone(),
                metric::LATENCY_MS,
            )?);
        }
        let summary = run.run()?;
        println!("{name}: {} ({})", dir.display(), summary.best);
        Ok(summary)
    };
    let free = run("unpenalised", false)?;
    let penalised = run("latency-penalised", true)?;

    println!(
        "\n{:<18} {:>9} {:>10} {:>10} {:>13} {:>13}",
        "run", "inherited", "fine-tuned", "FLOPs", "predicted ms", "measured ms"
    );
    for (name, summary) in [("unpenalised", &free), ("latency-penalised", &penalised)] {
        let value = |key: &str| summary.metrics.get(key).copied().unwrap_or(f64::NAN);
        println!(
            "{name:<18} {:>9.4} {:>10.4} {:>10.0} {:>13.4} {:>13.4}",
            value(metric::ACCURACY),
            value(metric::FINETUNED_ACCURACY),
            value(metric::FLOPS),
            value(metric::LATENCY_MS),
            measured.profile(&summary.best)?
        );
    }
    Ok(())
}
