//! Tabular NAS benchmarks: the published results of every sample of a space, so that a search
//! runs against real accuracies and real device latencies in microseconds, offline.
//!
//! [`NasBench201`] holds, for all 15,625 cells of the `nasbench201` hub space, the test accuracy
//! after 200 epochs on CIFAR-10, CIFAR-100 and ImageNet16-120 (NATS-Bench) and the latency of the
//! cell on 22 devices (HW-NAS-Bench and HELP: phones, a Raspberry Pi, an ASIC and an FPGA model,
//! Xeon CPUs, NVIDIA GPUs at several batch sizes). The tables ship inside the crate, packed
//! (`data/nasbench201.bin`, sources and licences in `data/NOTICE.md`); nothing is downloaded.
//! A device's column is a latency [`Profiler`](hwnas_profiler::Profiler), so it prices samples
//! for a budget like FLOPs do. Burn-free.
//!
//! ```
//! use hwnas_benchmark::{Dataset, NasBench201};
//!
//! let bench = NasBench201::get();
//! let best = bench.best(Dataset::Cifar10, |_| true).unwrap();
//! assert_eq!(best, 6111);
//! let sample = bench.sample(best);
//! assert_eq!(bench.index(&sample)?, best);
//! let pixel3 = bench.device("pixel3")?;
//! assert!(bench.latency(best, pixel3) > 0.0);
//! # Ok::<(), hwnas_benchmark::BenchmarkError>(())
//! ```

mod device;
mod few_shot;
mod landscape;
mod nasbench201;
mod pack;
pub mod stats;
pub mod study;

pub use device::{Device, DeviceKind, Origin};
pub use few_shot::{FittedLatencies, HELP_SPEARMAN_10, HeldOut};
pub use landscape::Landscape;
pub use nasbench201::{Dataset, DeviceLatency, NasBench201};
pub use pack::{PACKED_NASBENCH201, pack_nasbench201};
pub use study::{CompareStudy, StudyCell, StudyReport};

/// Why a benchmark cannot answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BenchmarkError {
    /// The sample is not a cell of the benchmark's space.
    #[error(transparent)]
    Space(#[from] hwnas_space::SpaceError),
    /// No dataset of that name.
    #[error("unknown dataset `{0}` (expected one of: cifar10, cifar100, imagenet16)")]
    UnknownDataset(String),
    /// No device of that name.
    #[error("unknown device `{name}` (the benchmark has: {known})")]
    UnknownDevice {
        /// The name asked for.
        name: String,
        /// The devices, comma separated.
        known: String,
    },
    /// A device's latency cannot be fitted from the measurements given.
    #[error("latency fit: {0}")]
    Fit(#[from] hwnas_profiler::fit::FitError),
    /// A table to pack, or the packed table, is malformed.
    #[error("benchmark table: {0}")]
    Table(String),
}
