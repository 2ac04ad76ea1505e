//! Latency of a new device from a few measured cells, NAS-Bench-201's published devices as the
//! prior, and how well that works on devices the fit never saw.

use std::collections::BTreeMap;

use hwnas_profiler::fit::{Design, FitError, LatencyFit, LayerFeatures, TermSource, fit_latency};
use hwnas_profiler::rank::{kendall_tau, spearman_rho};
use hwnas_space::{ModelSpace, hub};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::Serialize;

use crate::{BenchmarkError, Device, NasBench201};

/// HELP's published Spearman rho with 10 measured architectures on its six test devices (NeurIPS
/// 2021, Table 2), for comparison.
pub const HELP_SPEARMAN_10: [(&str, f64); 6] = [
    ("titan_rtx_256", 0.987),
    ("gold_6226", 0.989),
    ("pixel2", 0.802),
    ("raspi4", 0.890),
    ("eyeriss", 0.940),
    ("fpga", 0.985),
];

/// How a fit from `k` measured cells predicts one held-out device, over several draws.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeldOut {
    /// The device left out: its latencies are the measurements, and it is no reference.
    pub device: &'static Device,
    /// Cells measured per draw.
    pub k: usize,
    /// Draws averaged.
    pub draws: usize,
    /// Mean Spearman rho over the cells not measured.
    pub spearman: f64,
    /// Mean Kendall tau-b over those cells.
    pub kendall: f64,
    /// Mean share of those cells predicted within 10 %.
    pub within_10_percent: f64,
    /// Spearman rho of FLOPs alone over the same cells (the mean over draws).
    pub flops_spearman: f64,
    /// How many draws each model won.
    pub models: BTreeMap<String, usize>,
}

/// A device's latency of every cell as a fit from a few of them predicts it
/// ([`NasBench201::fitted_latencies`]).
#[derive(Debug, Clone)]
pub struct FittedLatencies {
    /// The cells measured, ascending.
    pub measured: Vec<usize>,
    /// The prediction per cell, ms.
    pub predicted: Vec<f64>,
    /// The fit, with its leave-one-out accuracy over the measured cells.
    pub fit: LatencyFit,
}

/// One fit of one held-out device.
struct Draw {
    device: usize,
    k: usize,
    spearman: f64,
    kendall: f64,
    within_10_percent: f64,
    flops_spearman: f64,
    model: String,
}

/// Per cell of the benchmark, in index order, its layer features.
struct CellFeatures {
    names: Vec<String>,
    /// `[cell][feature]`.
    values: Vec<Vec<f64>>,
}

impl CellFeatures {
    fn new(bench: &NasBench201) -> Result<Self, BenchmarkError> {
        let space = hub::space("nasbench201")?;
        let features = LayerFeatures::new(&space, space.input())
            .map_err(|e| BenchmarkError::Table(format!("layer features: {e}")))?;
        let values = bench
            .cells
            .iter()
            .map(|cell| features.of_indices(&cell.map(usize::from)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BenchmarkError::Table(format!("layer features: {e}")))?;
        Ok(Self {
            names: features.names(),
            values,
        })
    }
}

impl NasBench201 {
    /// The published latencies of every device but `excluded`, by grid position of the
    /// `nasbench201` space (choice indices as digits, the first label most significant): the
    /// reference terms of a fitted table, named as [`NasBench201::fit_latency`] names them.
    pub fn reference_latencies(&self, excluded: Option<&str>) -> Vec<(String, Vec<f32>)> {
        self.devices()
            .iter()
            .filter(|device| Some(device.name) != excluded)
            .map(|device| {
                let by_position = self
                    .index_by_code
                    .iter()
                    .map(|&index| self.latency(index as usize, device) as f32)
                    .collect();
                (format!("device {}", device.name), by_position)
            })
            .collect()
    }

    /// The reference latencies of a fit for `space`: every published device when `space` is
    /// `nasbench201` at the benchmark's input (32x32 RGB), none otherwise.
    pub fn references_for(
        &self,
        space: &ModelSpace,
    ) -> Result<Vec<(String, Vec<f32>)>, BenchmarkError> {
        let benchmark_space = hub::space("nasbench201")?;
        Ok(
            if space.name() == benchmark_space.name() && space.input() == benchmark_space.input() {
                self.reference_latencies(None)
            } else {
                Vec::new()
            },
        )
    }

    /// Fits the latency of a device from `measured` (benchmark index, ms) with every published
    /// device but `excluded` as a reference and the cells' layer features: what `hwnas latency
    /// fit nasbench201` does, by index.
    pub fn fit_latency(
        &self,
        measured: &[(usize, f64)],
        excluded: Option<&str>,
    ) -> Result<LatencyFit, BenchmarkError> {
        let features = CellFeatures::new(self)?;
        self.fit_with(&features, measured, excluded)
    }

    fn fit_with(
        &self,
        features: &CellFeatures,
        measured: &[(usize, f64)],
        excluded: Option<&str>,
    ) -> Result<LatencyFit, BenchmarkError> {
        let design = Design {
            bases: Vec::new(),
            features: features
                .names
                .iter()
                .enumerate()
                .map(|(f, name)| {
                    let column = measured
                        .iter()
                        .map(|&(i, _)| features.values[i][f])
                        .collect();
                    (name.clone(), column)
                })
                .collect(),
            references: self
                .devices()
                .iter()
                .filter(|device| Some(device.name) != excluded)
                .map(|device| {
                    let column = measured
                        .iter()
                        .map(|&(i, _)| self.latency(i, device))
                        .collect();
                    (format!("device {}", device.name), column)
                })
                .collect(),
        };
        let latencies: Vec<f64> = measured.iter().map(|&(_, ms)| ms).collect();
        Ok(fit_latency(&design, &latencies)?)
    }

    /// The latency of every cell on `device` as a table fitted from `k` of its cells drawn at
    /// random (seeded) would predict it, the other devices as references: what a user who
    /// measured `k` cells of a new device gets from `hwnas latency fit`.
    pub fn fitted_latencies(
        &self,
        device: &Device,
        k: usize,
        seed: u64,
    ) -> Result<FittedLatencies, BenchmarkError> {
        let features = CellFeatures::new(self)?;
        let (measured, predicted, fit) = self.fitted_with(&features, device, k, seed)?;
        Ok(FittedLatencies {
            measured,
            predicted,
            fit,
        })
    }

    /// [`fitted_latencies`](Self::fitted_latencies) with the features computed once.
    fn fitted_with(
        &self,
        features: &CellFeatures,
        device: &Device,
        k: usize,
        seed: u64,
    ) -> Result<(Vec<usize>, Vec<f64>, LatencyFit), BenchmarkError> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut chosen = rand::seq::index::sample(&mut rng, self.len(), k).into_vec();
        chosen.sort_unstable();
        let measured: Vec<(usize, f64)> = chosen
            .iter()
            .map(|&i| (i, self.latency(i, device)))
            .collect();
        let fit = self.fit_with(features, &measured, Some(device.name))?;
        let references: Vec<&Device> = self
            .devices()
            .iter()
            .filter(|other| other.name != device.name)
            .collect();
        let predicted = (0..self.len())
            .map(|index| {
                fit.predict(|source| match source {
                    TermSource::Feature(f) => features.values[index][f],
                    TermSource::Reference(r) => self.latency(index, references[r]),
                    TermSource::Base(_) => unreachable!("no base tables here"),
                })
            })
            .collect();
        Ok((chosen, predicted, fit))
    }

    /// Leave one device out: for each device and each `k`, `draws` times, measure `k` random
    /// cells of it (seeded), fit them with the other 21 devices as references, and rank every
    /// cell not measured against the device's published latencies.
    pub fn leave_one_device_out(
        &self,
        ks: &[usize],
        draws: usize,
        seed: u64,
    ) -> Result<Vec<HeldOut>, BenchmarkError> {
        if let Some(&k) = ks.iter().find(|&&k| k < 3 || k >= self.len()) {
            return Err(BenchmarkError::Fit(FitError::TooFew(format!(
                "{k} measured cells: a fit needs at least 3, and cells left to rank"
            ))));
        }
        let features = CellFeatures::new(self)?;
        let flops_feature = features.names.len() - 1;
        let jobs: Vec<(usize, usize, usize)> = (0..self.devices().len())
            .flat_map(|d| {
                ks.iter()
                    .flat_map(move |&k| (0..draws).map(move |r| (d, k, r)))
            })
            .collect();
        let rows = jobs
            .par_iter()
            .map(|&(d, k, draw)| {
                let device = &self.devices()[d];
                let seed = seed ^ (d as u64) << 40 ^ (k as u64) << 20 ^ draw as u64;
                let (chosen, every, fit) = self.fitted_with(&features, device, k, seed)?;
                let (mut predicted, mut truth, mut flops) = (Vec::new(), Vec::new(), Vec::new());
                let mut next = chosen.iter().peekable();
                for (index, &prediction) in every.iter().enumerate() {
                    if next.peek() == Some(&&index) {
                        next.next();
                        continue;
                    }
                    predicted.push(prediction);
                    truth.push(self.latency(index, device));
                    flops.push(features.values[index][flops_feature]);
                }
                let within = predicted
                    .iter()
                    .zip(&truth)
                    .filter(|(p, t)| ((*p - *t) / *t).abs() <= 0.10)
                    .count() as f64
                    / truth.len() as f64;
                Ok(Draw {
                    device: d,
                    k,
                    spearman: spearman_rho(&predicted, &truth),
                    kendall: kendall_tau(&predicted, &truth),
                    within_10_percent: within,
                    flops_spearman: spearman_rho(&flops, &truth),
                    model: fit.model,
                })
            })
            .collect::<Result<Vec<_>, BenchmarkError>>()?;
        let mut held_out = Vec::new();
        for (d, device) in self.devices().iter().enumerate() {
            for &k in ks {
                let mine: Vec<&Draw> = rows.iter().filter(|r| r.device == d && r.k == k).collect();
                let mean = |value: fn(&Draw) -> f64| {
                    mine.iter().map(|r| value(r)).sum::<f64>() / mine.len() as f64
                };
                let mut models = BTreeMap::new();
                for row in &mine {
                    *models.entry(row.model.clone()).or_insert(0) += 1;
                }
                held_out.push(HeldOut {
                    device,
                    k,
                    draws,
                    spearman: mean(|r| r.spearman),
                    kendall: mean(|r| r.kendall),
                    within_10_percent: mean(|r| r.within_10_percent),
                    flops_spearman: mean(|r| r.flops_spearman),
                    models,
                });
            }
        }
        Ok(held_out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_device_fits_itself_and_an_additive_one_fits_from_layers() {
        let bench = NasBench201::get();
        let pixel2 = bench.device("pixel2").unwrap();
        let cells = [3, 141, 592, 653, 5897, 9323, 8462, 6433, 8327, 9502];
        let measured: Vec<(usize, f64)> = cells
            .iter()
            .map(|&i| (i, bench.latency(i, pixel2)))
            .collect();
        // Measured on a device the references include: that device, weight 1, exactly.
        let fit = bench.fit_latency(&measured, None).unwrap();
        assert_eq!(fit.model, "reference devices");
        assert_eq!(fit.terms.len(), 1, "{:?}", fit.terms);
        assert_eq!(fit.terms[0].name, "device pixel2");
        assert!((fit.terms[0].weight - 1.0).abs() < 1e-9 && fit.intercept.abs() < 1e-9);

        // Eyeriss is additive in the operations (an estimate, not a measurement): the layer
        // features predict every cell from ten, its siblings left out.
        let eyeriss = bench.device("eyeriss").unwrap();
        let measured: Vec<(usize, f64)> = cells
            .iter()
            .map(|&i| (i, bench.latency(i, eyeriss)))
            .collect();
        let fit = bench.fit_latency(&measured, Some("eyeriss")).unwrap();
        assert_eq!(fit.model, "layers");
        assert!(fit.terms.iter().all(|t| t.weight > 0.0));
        let features = CellFeatures::new(bench).unwrap();
        let (predicted, truth): (Vec<f64>, Vec<f64>) = (0..bench.len())
            .map(|i| {
                let p = fit.predict(|source| match source {
                    TermSource::Feature(f) => features.values[i][f],
                    _ => unreachable!("only features"),
                });
                (p, bench.latency(i, eyeriss))
            })
            .unzip();
        assert!(spearman_rho(&predicted, &truth) > 0.99);
    }

    #[test]
    fn reference_latencies_follow_the_grid_order_of_the_space() {
        let bench = NasBench201::get();
        let references = bench.reference_latencies(Some("fpga"));
        assert_eq!(references.len(), bench.devices().len() - 1);
        assert!(references.iter().all(|(name, _)| name != "device fpga"));
        let space = hub::space("nasbench201").unwrap();
        let (name, pixel3) = &references[0];
        assert_eq!(name, "device pixel3");
        let device = bench.device("pixel3").unwrap();
        for (position, indices) in space.search_space().grid_indices().enumerate() {
            let index = bench
                .index(&space.search_space().sample_at(&indices))
                .unwrap();
            assert_eq!(
                f64::from(pixel3[position]),
                bench.latency(index, device) as f32 as f64
            );
        }
        let other = space
            .clone()
            .with_input(hwnas_space::Shape::image(3, 64, 64));
        assert!(bench.references_for(&other).unwrap().is_empty());
        assert_eq!(bench.references_for(&space).unwrap().len(), 22);
    }

    /// The quality bar of the fit: HELP reaches a mean Spearman rho of 0.932 on its six test
    /// devices from 10 measured cells; this fit must reach 0.95.
    #[test]
    fn ten_cells_rank_held_out_devices_as_well_as_promised() {
        let bench = NasBench201::get();
        let held_out = bench.leave_one_device_out(&[10], 3, 0).unwrap();
        assert_eq!(held_out.len(), 22);
        let rho = |name: &str| {
            held_out
                .iter()
                .find(|r| r.device.name == name)
                .unwrap()
                .spearman
        };
        let help_six = HELP_SPEARMAN_10.iter().map(|(d, _)| rho(d)).sum::<f64>() / 6.0;
        let all = held_out.iter().map(|r| r.spearman).sum::<f64>() / 22.0;
        assert!(help_six >= 0.95 && all >= 0.95, "{help_six} {all}");
        // Better than FLOPs alone on average, and each row counts its draws.
        let flops = held_out.iter().map(|r| r.flops_spearman).sum::<f64>() / 22.0;
        assert!(all > flops + 0.1, "{all} against FLOPs {flops}");
        assert!(
            held_out
                .iter()
                .all(|r| r.models.values().sum::<usize>() == 3)
        );
        assert!(matches!(
            bench.leave_one_device_out(&[2], 1, 0),
            Err(BenchmarkError::Fit(_))
        ));
    }
}
