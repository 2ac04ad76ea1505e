use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use hwnas_profiler::{ProfileError, Profiler};
use hwnas_space::{Sample, SearchSpace, hub};
use serde::{Deserialize, Serialize};

use crate::device::NASBENCH201_DEVICES;
use crate::pack::{PACKED_NASBENCH201, unpack};
use crate::{BenchmarkError, Device};

/// A dataset of NAS-Bench-201: test accuracy after 200 epochs, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// CIFAR-10, trained on train+valid, tested on the original 10,000 test images.
    Cifar10,
    /// CIFAR-100, tested on NAS-Bench-201's half of the test set.
    Cifar100,
    /// ImageNet16-120 (120 classes at 16x16), tested on NAS-Bench-201's half of the test set.
    Imagenet16,
}

impl Dataset {
    /// Every dataset, in the table's order.
    pub const ALL: [Dataset; 3] = [Dataset::Cifar10, Dataset::Cifar100, Dataset::Imagenet16];

    /// The name: `cifar10`, `cifar100` or `imagenet16`.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Cifar10 => "cifar10",
            Dataset::Cifar100 => "cifar100",
            Dataset::Imagenet16 => "imagenet16",
        }
    }

    /// The accuracy of a cell that cannot compute anything (its output is disconnected): chance.
    pub fn chance(self) -> f64 {
        match self {
            Dataset::Cifar10 => 10.0,
            Dataset::Cifar100 => 1.0,
            Dataset::Imagenet16 => 100.0 / 120.0,
        }
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dataset {
    type Err = BenchmarkError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Dataset::ALL
            .into_iter()
            .find(|dataset| dataset.name() == name)
            .ok_or_else(|| BenchmarkError::UnknownDataset(name.to_string()))
    }
}

/// NAS-Bench-201 for the `nasbench201` hub space: every cell's accuracies and latencies.
pub struct NasBench201 {
    space: SearchSpace,
    /// Per benchmark index, its cell as choice indices of `space` (declaration order).
    pub(crate) cells: Vec<[u8; 6]>,
    /// Benchmark index by the cell's code (choice indices read as base-5 digits).
    pub(crate) index_by_code: Vec<u32>,
    /// Per dataset, then per device, one value per index.
    accuracy: Vec<Vec<f32>>,
    latency: Vec<Vec<f32>>,
}

impl NasBench201 {
    /// The benchmark shipped with the crate, unpacked once.
    pub fn get() -> &'static NasBench201 {
        static BENCHMARK: OnceLock<NasBench201> = OnceLock::new();
        BENCHMARK.get_or_init(|| {
            NasBench201::from_packed(PACKED_NASBENCH201).expect("the shipped table is well formed")
        })
    }

    /// A benchmark from its packed form ([`pack_nasbench201`](crate::pack_nasbench201)).
    pub fn from_packed(bytes: &[u8]) -> Result<Self, BenchmarkError> {
        let unpacked = unpack(bytes)?;
        let space = hub::space("nasbench201")?.search_space().clone();
        let bad = |message: String| BenchmarkError::Table(message);
        // The packed labels and operations are the space's, in the space's order.
        let choices = space.choices();
        if choices.len() != unpacked.header.labels.len() {
            return Err(bad("the table's cells are not the space's".into()));
        }
        for (choice, label) in choices.iter().zip(&unpacked.header.labels) {
            let values: Vec<String> = choice
                .values
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect();
            if choice.label.as_ref() != label.as_str() || values != unpacked.header.ops {
                return Err(bad(format!("the table's `{label}` is not the space's")));
            }
        }
        let names: Vec<&str> = unpacked.header.columns.iter().map(String::as_str).collect();
        let expected: Vec<&str> = Dataset::ALL
            .iter()
            .map(|d| d.name())
            .chain(NASBENCH201_DEVICES.iter().map(|d| d.name))
            .collect();
        if names != expected {
            return Err(bad(format!("columns {names:?}, expected {expected:?}")));
        }
        let n_ops = unpacked.header.ops.len();
        let n_codes = n_ops.pow(choices.len() as u32);
        let mut index_by_code = vec![u32::MAX; n_codes];
        let mut cells = Vec::with_capacity(unpacked.cells.len());
        for (index, cell) in unpacked.cells.iter().enumerate() {
            let code = cell.iter().fold(0, |code, &op| code * n_ops + op as usize);
            if index_by_code[code] != u32::MAX {
                return Err(bad(format!("index {index} repeats a cell")));
            }
            index_by_code[code] = index as u32;
            cells.push(cell.as_slice().try_into().expect("six labels"));
        }
        let mut columns = unpacked.columns;
        let latency = columns.split_off(Dataset::ALL.len());
        Ok(NasBench201 {
            space,
            cells,
            index_by_code,
            accuracy: columns,
            latency,
        })
    }

    /// Cells in the benchmark (15,625).
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether the benchmark is empty (never, for the shipped one).
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The benchmark index of `sample`, a sample of the `nasbench201` space.
    pub fn index(&self, sample: &Sample) -> Result<usize, BenchmarkError> {
        let mut indices = [0usize; 6];
        self.space.indices_into(sample, &mut indices)?;
        self.index_of(&indices)
            .ok_or_else(|| BenchmarkError::Table(format!("no row for {sample}")))
    }

    /// The benchmark index of the cell at choice `indices` of the `nasbench201` space.
    pub fn index_of(&self, indices: &[usize]) -> Option<usize> {
        let n_ops = self.space.choices()[0].values.len();
        if indices.len() != self.space.len() || indices.iter().any(|&op| op >= n_ops) {
            return None;
        }
        let code = indices.iter().fold(0, |code, &op| code * n_ops + op);
        match self.index_by_code.get(code) {
            Some(&index) if index != u32::MAX => Some(index as usize),
            _ => None,
        }
    }

    /// The cells that differ from cell `index` in one edge's operation (24), by index: what a
    /// mutation of one edge reaches.
    pub fn neighbours(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        let cell = self.cells[index];
        let n_ops = self.space.choices()[0].values.len() as u8;
        (0..cell.len()).flat_map(move |edge| {
            (0..n_ops)
                .filter(move |&op| op != cell[edge])
                .map(move |op| {
                    let mut neighbour = cell;
                    neighbour[edge] = op;
                    let code = neighbour
                        .iter()
                        .fold(0, |code, &op| code * usize::from(n_ops) + usize::from(op));
                    self.index_by_code[code] as usize
                })
        })
    }

    /// The sample of benchmark index `index`.
    pub fn sample(&self, index: usize) -> Sample {
        let indices = self.cells[index].map(usize::from);
        self.space.sample_at(&indices)
    }

    /// Test accuracy of index `index` on `dataset`, percent.
    pub fn accuracy(&self, index: usize, dataset: Dataset) -> f64 {
        let column = Dataset::ALL
            .iter()
            .position(|d| *d == dataset)
            .expect("listed");
        f64::from(self.accuracy[column][index])
    }

    /// The most accurate index on `dataset` among those `admits` accepts (the lowest of equals:
    /// isomorphic cells share their accuracy), or `None` when it accepts none.
    pub fn best(&self, dataset: Dataset, mut admits: impl FnMut(usize) -> bool) -> Option<usize> {
        let mut best: Option<(usize, f64)> = None;
        for index in (0..self.len()).filter(|&i| admits(i)) {
            let accuracy = self.accuracy(index, dataset);
            if best.is_none_or(|(_, b)| accuracy > b) {
                best = Some((index, accuracy));
            }
        }
        best.map(|(index, _)| index)
    }

    /// The Pareto front of accuracy on `dataset` against latency on `device`: the indices no
    /// other cell beats on both at once (the lowest of equals), fastest first.
    pub fn front(&self, dataset: Dataset, device: &Device) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        // Fastest first; among equally fast cells the most accurate, then the lowest index.
        order.sort_by(|&a, &b| {
            self.latency(a, device)
                .total_cmp(&self.latency(b, device))
                .then(
                    self.accuracy(b, dataset)
                        .total_cmp(&self.accuracy(a, dataset)),
                )
                .then(a.cmp(&b))
        });
        let mut front = Vec::new();
        let mut best = f64::NEG_INFINITY;
        for index in order {
            let accuracy = self.accuracy(index, dataset);
            if accuracy > best {
                best = accuracy;
                front.push(index);
            }
        }
        front
    }

    /// The devices, in the table's order.
    pub fn devices(&self) -> &'static [Device] {
        &NASBENCH201_DEVICES
    }

    /// The device called `name`.
    pub fn device(&self, name: &str) -> Result<&'static Device, BenchmarkError> {
        NASBENCH201_DEVICES
            .iter()
            .find(|device| device.name == name)
            .ok_or_else(|| BenchmarkError::UnknownDevice {
                name: name.to_string(),
                known: NASBENCH201_DEVICES
                    .iter()
                    .map(|d| d.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Latency of index `index` on `device`, milliseconds.
    pub fn latency(&self, index: usize, device: &Device) -> f64 {
        let column = NASBENCH201_DEVICES
            .iter()
            .position(|d| d.name == device.name)
            .expect("a device of this benchmark");
        f64::from(self.latency[column][index])
    }

    /// The median latency of `device` over every cell (the upper median of the 15,625), ms.
    pub fn median_latency(&self, device: &Device) -> f64 {
        self.latency_quantile(device, 0.5)
    }

    /// The latency of `device` below which a share `quantile` of the cells lie: the value at
    /// position `floor(quantile * n)` of the sorted latencies (clamped to the last), ms. A
    /// budget at it admits at least that share of the cells.
    pub fn latency_quantile(&self, device: &Device, quantile: f64) -> f64 {
        let mut latencies: Vec<f64> = (0..self.len()).map(|i| self.latency(i, device)).collect();
        latencies.sort_by(f64::total_cmp);
        let at = (quantile.clamp(0.0, 1.0) * latencies.len() as f64) as usize;
        latencies[at.min(latencies.len() - 1)]
    }

    /// The latency of `device` as a cost profiler (`latency_ms` of a budget).
    pub fn latency_profiler(&'static self, device: &'static Device) -> DeviceLatency {
        DeviceLatency {
            bench: self,
            device,
        }
    }
}

/// One device's NAS-Bench-201 latency as a [`Profiler`]: a table lookup.
#[derive(Clone, Copy)]
pub struct DeviceLatency {
    bench: &'static NasBench201,
    device: &'static Device,
}

impl DeviceLatency {
    /// The device.
    pub fn device(&self) -> &'static Device {
        self.device
    }
}

impl fmt::Debug for DeviceLatency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceLatency({})", self.device.name)
    }
}

impl Profiler for DeviceLatency {
    fn profile(&self, sample: &Sample) -> Result<f64, ProfileError> {
        let index = self.bench.index(sample).map_err(|e| match e {
            BenchmarkError::Space(e) => ProfileError::Space(e),
            other => ProfileError::Table(other.to_string()),
        })?;
        Ok(self.bench.latency(index, self.device))
    }

    fn range(&self) -> Option<(f64, f64)> {
        let latencies = (0..self.bench.len()).map(|i| self.bench.latency(i, self.device));
        latencies.fold(None, |range, latency| {
            let (min, max) = range.unwrap_or((latency, latency));
            Some((min.min(latency), max.max(latency)))
        })
    }

    fn profile_indices(&self, _: &SearchSpace, indices: &[usize]) -> Result<f64, ProfileError> {
        let index = self.bench.index_of(indices).ok_or_else(|| {
            ProfileError::Table(format!("no NAS-Bench-201 row for choices {indices:?}"))
        })?;
        Ok(self.bench.latency(index, self.device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_maps_to_its_index_and_back() {
        let bench = NasBench201::get();
        assert_eq!(bench.len(), 15_625);
        let space = hub::space("nasbench201").unwrap();
        for index in 0..bench.len() {
            let sample = bench.sample(index);
            space.search_space().validate(&sample).unwrap();
            assert_eq!(bench.index(&sample).unwrap(), index);
        }
    }

    #[test]
    fn the_table_holds_the_values_its_sources_quote() {
        let bench = NasBench201::get();
        let close = |a: f64, b: f64, tolerance: f64| (a - b).abs() <= tolerance;
        // The optimum of each dataset and where it is (data/NOTICE.md).
        for (dataset, best, index) in [
            (Dataset::Cifar10, 94.3733, 6111),
            (Dataset::Cifar100, 73.5133, 9930),
            (Dataset::Imagenet16, 47.3111, 857),
        ] {
            assert_eq!(bench.best(dataset, |_| true), Some(index), "{dataset}");
            assert!(
                close(bench.accuracy(index, dataset), best, 1e-4),
                "{dataset}"
            );
        }
        // Index 0's latencies as HW-NAS-Bench prints them, and HELP's published search result.
        let latency =
            |index: usize, device: &str| bench.latency(index, bench.device(device).unwrap());
        for (device, ms) in [
            ("pixel3", 3.60585),
            ("raspi4", 10.481977),
            ("eyeriss", 3.64562),
            ("fpga", 2.57296),
        ] {
            assert!(close(latency(0, device), ms, 1e-5), "{device}");
        }
        assert!(close(latency(9930, "fpga"), 7.421, 1e-3));
        assert!(close(latency(9930, "eyeriss"), 9.052, 1e-3));
        assert_eq!(latency(0, "pixel2"), 9.0);
        // The phones' latencies are whole milliseconds.
        let pixel2 = bench.device("pixel2").unwrap();
        assert_eq!(bench.median_latency(pixel2), 15.0);
        // FPGA latencies take 84 values: many cells tie at the median.
        let fpga = bench.device("fpga").unwrap();
        let median = bench.median_latency(fpga);
        let count = |keep: &dyn Fn(f64) -> bool| {
            (0..bench.len())
                .filter(|&i| keep(bench.latency(i, fpga)))
                .count()
        };
        assert!(count(&|ms| ms <= median) > bench.len() / 2);
        assert!(count(&|ms| ms < median) <= bench.len() / 2);
        // The 341 disconnected cells sit at chance on every dataset.
        let at_chance = (0..bench.len())
            .filter(|&i| {
                Dataset::ALL
                    .iter()
                    .all(|&d| close(bench.accuracy(i, d), d.chance(), 1e-3))
            })
            .count();
        assert_eq!(at_chance, 341);
    }

    #[test]
    fn a_front_is_the_cells_no_other_beats_on_both() {
        let bench = NasBench201::get();
        let device = bench.device("fpga").unwrap();
        let front = bench.front(Dataset::Cifar100, device);
        let point = |i: usize| {
            (
                bench.latency(i, device),
                bench.accuracy(i, Dataset::Cifar100),
            )
        };
        // Fastest first, each more accurate than the one before, ending at the optimum.
        assert!(front.windows(2).all(|w| {
            let ((la, aa), (lb, ab)) = (point(w[0]), point(w[1]));
            la <= lb && aa < ab
        }));
        assert_eq!(front.last(), Some(&9930));
        // Nothing dominates a front cell; every other cell is dominated by one.
        let on_front: std::collections::HashSet<usize> = front.iter().copied().collect();
        for index in 0..bench.len() {
            let (l, a) = point(index);
            let dominated = front.iter().any(|&f| {
                let (lf, af) = point(f);
                lf <= l && af >= a && (lf < l || af > a)
            });
            assert_eq!(
                dominated,
                !on_front.contains(&index) && !front.iter().any(|&f| point(f) == (l, a)),
                "{index}"
            );
        }
    }

    #[test]
    fn names_are_checked() {
        let bench = NasBench201::get();
        assert_eq!("cifar100".parse::<Dataset>().unwrap(), Dataset::Cifar100);
        let error = "mnist".parse::<Dataset>().unwrap_err().to_string();
        assert!(
            error.contains("`mnist`") && error.contains("imagenet16"),
            "{error}"
        );
        let error = bench.device("pixel9").unwrap_err().to_string();
        assert!(
            error.contains("`pixel9`") && error.contains("titan_rtx_256"),
            "{error}"
        );
        let other = hub::space("mobile-micro")
            .unwrap()
            .search_space()
            .default_sample()
            .unwrap();
        assert!(bench.index(&other).is_err());
    }
}
