//! Zero-cost proxies on the data a search trains on, and how well they rank NAS-Bench-201's
//! cells by the accuracy they reach, beside FLOPs and parameters, with what a proxy costs per
//! network against a training step.

use std::time::Instant;

use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use hwnas_benchmark::{Dataset, NasBench201};
use hwnas_profiler::rank::spearman_rho;
use hwnas_profiler::{Costs, Proxy, ProxyBatch, ProxyProfiler};
use hwnas_space::{hub, metric};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::index::sample as sample_indices;
use serde::Serialize;

use super::TrainingData;
use crate::ExperimentError;

/// The minibatch proxies score networks on by default (the proxies' authors' size).
pub const PROXY_BATCH: usize = 64;

/// `batch` images of `data`'s training split (all of them if it has fewer), drawn without
/// replacement from `seed`, normalised as training reads them, with their labels.
pub fn proxy_batch(
    data: &TrainingData,
    batch: usize,
    seed: u64,
) -> Result<ProxyBatch, ExperimentError> {
    let train = data.train();
    let batch = batch.min(train.len());
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let (mut pixels, mut labels) = (Vec::new(), Vec::with_capacity(batch));
    for index in sample_indices(&mut rng, train.len(), batch) {
        let item = train.item(index, None);
        pixels.extend(item.pixels);
        labels.push(item.label as i64);
    }
    let [channels, height, width] = train.shape();
    Ok(ProxyBatch::new(
        pixels,
        [batch, channels, height, width],
        labels,
    )?)
}

/// The settings of the proxy study.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyStudy {
    /// Distinct cells drawn at random from the 15,625.
    pub cells: usize,
    /// Images in the proxies' minibatch (random images: NAS-Bench-201 ships no data).
    pub batch: usize,
    /// Seed of the cells drawn, the batch and every network's weights.
    pub seed: u64,
    /// The first cells, on which each proxy alone, all four together and a training step are
    /// timed (the rest are only scored).
    pub timed: usize,
}

impl Default for ProxyStudy {
    fn default() -> Self {
        ProxyStudy {
            cells: 1000,
            batch: 64,
            seed: 0,
            timed: 10,
        }
    }
}

/// One score's rank correlation with accuracy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxyRow {
    /// The proxy's or cost's name (`synflow`, `flops`, ...).
    pub metric: String,
    /// Spearman's rho with the test accuracy, per dataset in [`Dataset::ALL`]'s order.
    pub spearman: Vec<f64>,
    /// Mean seconds to score one network, for a proxy (the costs are read from tables).
    pub seconds_per_network: Option<f64>,
}

/// What [`ProxyStudy::run`] measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxyReport {
    /// Cells scored.
    pub cells: usize,
    /// Images per minibatch.
    pub batch: usize,
    /// The device's name.
    pub device: String,
    /// The proxies, then `flops`, `params` and `live_params`.
    pub rows: Vec<ProxyRow>,
    /// Mean seconds of one SGD step (forward, backward, update) at the same batch on the timed
    /// cells: what a proxy is compared with.
    pub training_step_seconds: f64,
    /// Mean seconds to score a network by all four proxies on the timed cells (the
    /// cross-entropy proxies share their backward pass).
    pub all_proxies_seconds: f64,
}

impl ProxyStudy {
    /// Scores the drawn cells on `device` (autodiff is added); `progress` is told how many are
    /// done after each.
    pub fn run(
        &self,
        device: &Device,
        progress: &mut dyn FnMut(usize),
    ) -> Result<ProxyReport, ExperimentError> {
        if self.cells < 3 || self.cells > NasBench201::get().len() {
            return Err(ExperimentError::Config(format!(
                "a proxy study needs between 3 and {} cells, not {}",
                NasBench201::get().len(),
                self.cells
            )));
        }
        let space = hub::space("nasbench201")?;
        let bench = NasBench201::get();
        let batch = ProxyBatch::random(space.input(), self.batch, self.seed)?;
        let profiler = ProxyProfiler::new(&space, Proxy::Synflow, batch, device.clone(), self.seed);
        let costs = Costs::counts(&space)?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed);
        let cells = sample_indices(&mut rng, bench.len(), self.cells).into_vec();

        let mut scores = vec![Vec::with_capacity(cells.len()); Proxy::ALL.len()];
        let (mut proxy_seconds, mut all_seconds) = (vec![0.0; Proxy::ALL.len()], 0.0);
        let mut step_seconds = 0.0;
        let timed = self.timed.min(cells.len());
        for (done, &cell) in cells.iter().enumerate() {
            let sample = bench.sample(cell);
            if done < timed {
                for (k, &proxy) in Proxy::ALL.iter().enumerate() {
                    let start = Instant::now();
                    profiler.scores(&sample, &[proxy])?;
                    proxy_seconds[k] += start.elapsed().as_secs_f64();
                }
                let network = profiler.network(&sample)?;
                step_seconds += training_step(network, &space, self, device)?;
            }
            let start = Instant::now();
            let all = profiler.scores(&sample, &Proxy::ALL)?;
            if done < timed {
                all_seconds += start.elapsed().as_secs_f64();
            }
            for (column, score) in scores.iter_mut().zip(all) {
                column.push(score);
            }
            progress(done + 1);
        }

        let accuracies: Vec<Vec<f64>> = Dataset::ALL
            .iter()
            .map(|&dataset| cells.iter().map(|&c| bench.accuracy(c, dataset)).collect())
            .collect();
        let correlations = |values: &[f64]| -> Vec<f64> {
            accuracies
                .iter()
                .map(|accuracy| spearman_rho(values, accuracy))
                .collect()
        };
        let mut rows: Vec<ProxyRow> = Proxy::ALL
            .iter()
            .zip(&scores)
            .zip(&proxy_seconds)
            .map(|((proxy, values), seconds)| ProxyRow {
                metric: proxy.name().to_string(),
                spearman: correlations(values),
                seconds_per_network: Some(seconds / timed.max(1) as f64),
            })
            .collect();
        for cost in [metric::FLOPS, metric::PARAMS, metric::LIVE_PARAMS] {
            let values = cells
                .iter()
                .map(|&cell| costs.cost(&bench.sample(cell), cost))
                .collect::<Result<Vec<f64>, _>>()
                .map_err(|error| ExperimentError::Failed(error.to_string()))?;
            rows.push(ProxyRow {
                metric: cost.to_string(),
                spearman: correlations(&values),
                seconds_per_network: None,
            });
        }
        Ok(ProxyReport {
            cells: cells.len(),
            batch: self.batch,
            device: format!("{device:?}"),
            rows,
            training_step_seconds: step_seconds / timed.max(1) as f64,
            all_proxies_seconds: all_seconds / timed.max(1) as f64,
        })
    }
}

/// Seconds of one SGD step of `network` on a random batch of the study's size.
fn training_step(
    network: hwnas_space::module::Network,
    space: &hwnas_space::ModelSpace,
    study: &ProxyStudy,
    device: &Device,
) -> Result<f64, ExperimentError> {
    let device = device.clone().autodiff();
    let dims = space.input().with_batch(study.batch);
    let images = Tensor::<4>::random(
        [dims[0], dims[1], dims[2], dims[3]],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let mut optimizer = SgdConfig::new().init();
    let start = Instant::now();
    let logits = network.forward_logits(images)?;
    let [n, classes] = logits.dims();
    let mut one_hot = vec![0.0f32; n * classes];
    for row in 0..n {
        one_hot[row * classes + row % classes] = 1.0;
    }
    let targets = Tensor::<2>::from_data(TensorData::new(one_hot, [n, classes]), &device);
    let loss = -(log_softmax(logits, 1) * targets).sum() / n as f64;
    let gradients = GradientsParams::from_grads(loss.backward(), &network);
    let network = optimizer.step(0.1, network, gradients);
    // The update is computed before the clock is read.
    device
        .sync()
        .map_err(|error| ExperimentError::Failed(format!("{error:?}")))?;
    let seconds = start.elapsed().as_secs_f64();
    drop(network);
    Ok(seconds)
}
