//! Draw random ProxylessNAS samples and keep those under a FLOPs and a parameter budget, the way
//! a filtered search discards proposals before any training is spent on them.
//!
//! `cargo run --release -p budget-filter -- [N_SAMPLES] [MAX_MFLOPS] [MAX_MPARAMS]`

use std::time::Instant;

use hwnas::profiler::{CountOptions, CountProfiler};
use hwnas::space::hub;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut next = |default: f64| -> anyhow::Result<f64> {
        args.next().map_or(Ok(default), |text| Ok(text.parse()?))
    };
    let n_samples = next(100_000.0)? as usize;
    let max_flops = next(300.0)? * 1e6;
    let max_params = next(4.5)? * 1e6;

    let space = hub::space("proxylessnas")?;
    let started = Instant::now();
    let profiler = CountProfiler::new(&space, space.input(), CountOptions::default())?;
    let built = started.elapsed();

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let started = Instant::now();
    let mut best = None;
    let mut n_kept = 0;
    for _ in 0..n_samples {
        let sample = space.search_space().random_sample(&mut rng)?;
        let counts = profiler.counts(&sample)?;
        if (counts.flops as f64) <= max_flops && (counts.params as f64) <= max_params {
            n_kept += 1;
            // Without a trained accuracy, keep the largest model that fits the budget.
            if best.as_ref().is_none_or(|(flops, _)| counts.flops > *flops) {
                best = Some((counts.flops, sample));
            }
        }
    }
    let elapsed = started.elapsed();
    println!("profiler built in {built:?}");
    println!(
        "{n_kept} of {n_samples} samples within {:.0} MFLOPs and {:.2} M parameters ({:.0} samples/s)",
        max_flops / 1e6,
        max_params / 1e6,
        n_samples as f64 / elapsed.as_secs_f64()
    );
    if let Some((flops, sample)) = best {
        println!("largest within budget: {flops} FLOPs\n{sample}");
    }
    Ok(())
}
