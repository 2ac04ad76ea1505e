//! burn modules of a space (feature `burn`): the frozen network of one sample, and the
//! weight-sharing supernet of all of them.

mod network;
mod route;
mod supernet;

pub use network::{Hidden, Network, Op};
pub use route::Mix;
pub use supernet::{
    SharedChoice, SharedConv2d, SharedLayer, Stateless, SuperCellNode, SuperOp, Supernet,
};

/// Seeds `device` and runs `f` (an initialisation that draws from the seeded generator) with no
/// other seeded initialisation in between: burn keeps one generator per backend for the whole
/// process, so two threads that seed and initialise at once would draw from each other's seed.
pub fn seeded<T>(device: &burn::tensor::Device, seed: u64, f: impl FnOnce() -> T) -> T {
    let _only_us = generator();
    device.seed(seed);
    f()
}

/// Runs `f`, which draws from the backend's generator without needing a seed of its own (a
/// network whose latency alone is measured), where no seeded initialisation can run meanwhile:
/// its draws would shift what a seed gives.
pub fn unseeded<T>(f: impl FnOnce() -> T) -> T {
    let _only_us = generator();
    f()
}

fn generator() -> std::sync::MutexGuard<'static, ()> {
    static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
    GENERATOR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
