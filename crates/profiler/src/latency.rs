use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use burn::tensor::{Device, Distribution, Tensor};
use hwnas_space::module::Network;
use hwnas_space::{ModelSpace, Sample};
use serde::{Deserialize, Serialize};

use crate::{ProfileError, Profiler};

/// How a latency is measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyConfig {
    /// Examples per forward pass.
    pub batch: usize,
    /// Untimed forward passes first (they also let wgpu compile and autotune its kernels).
    pub warmup: usize,
    /// Timed passes at least.
    pub min_runs: usize,
    /// Timed passes at most.
    pub max_runs: usize,
    /// Timing stops once this much was spent and `min_runs` are done.
    pub budget: Duration,
}

impl Default for LatencyConfig {
    fn default() -> Self {
        Self {
            batch: 1,
            warmup: 3,
            min_runs: 10,
            max_runs: 200,
            budget: Duration::from_millis(200),
        }
    }
}

/// One measured latency: statistics over the timed forward passes, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub median_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Fastest pass.
    pub min_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// Coefficient of variation (standard deviation over mean).
    pub cv: f64,
    /// Timed passes.
    pub runs: usize,
    /// The input, batch first.
    pub input: Vec<usize>,
    /// The device, as burn names it.
    pub device: String,
}

impl Latency {
    /// Statistics over per-pass times in milliseconds (not empty).
    pub fn from_times(mut times: Vec<f64>, input: Vec<usize>, device: String) -> Self {
        times.sort_by(f64::total_cmp);
        let n = times.len();
        let mean = times.iter().sum::<f64>() / n as f64;
        let variance = times.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n as f64;
        let quantile = |q: f64| times[((n - 1) as f64 * q).round() as usize];
        Self {
            median_ms: if n % 2 == 1 {
                times[n / 2]
            } else {
                (times[n / 2 - 1] + times[n / 2]) / 2.0
            },
            mean_ms: mean,
            min_ms: times[0],
            p90_ms: quantile(0.9),
            cv: if mean > 0.0 {
                variance.sqrt() / mean
            } else {
                0.0
            },
            runs: n,
            input,
            device,
        }
    }
}

/// Latency measured on a real burn device: freeze, warm up, then time `forward` between syncs.
///
/// The median of a sample is cached by its stable hash, so a filter and the trial log that ask
/// for the same sample measure it once.
pub struct LatencyProfiler {
    space: ModelSpace,
    device: Device,
    config: LatencyConfig,
    cache: Mutex<HashMap<u64, f64>>,
}

impl LatencyProfiler {
    /// A profiler for `space` (at its input shape) on `device`.
    pub fn new(
        space: ModelSpace,
        device: Device,
        config: LatencyConfig,
    ) -> Result<Self, ProfileError> {
        if config.batch == 0 || config.min_runs == 0 || config.max_runs < config.min_runs {
            return Err(ProfileError::Unsupported(format!(
                "latency settings need batch >= 1 and 1 <= min_runs <= max_runs, got {config:?}"
            )));
        }
        Ok(Self {
            space,
            device,
            config,
            cache: Mutex::default(),
        })
    }

    /// Measures `sample` now (never cached).
    pub fn measure(&self, sample: &Sample) -> Result<Latency, ProfileError> {
        let network = self.space.freeze(sample, &self.device)?;
        let dims = self.space.input().with_batch(self.config.batch);
        let times = time_forward(&network, &dims, &self.device, &self.config)?;
        Ok(Latency::from_times(
            times,
            dims,
            format!("{:?}", self.device),
        ))
    }

    /// The device it measures on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The settings.
    pub fn config(&self) -> &LatencyConfig {
        &self.config
    }
}

/// Times `network.forward` on a random input of `dims` (batch first): warm-up passes, then timed
/// passes with a device sync inside the timed region, per `config`. Times in milliseconds.
pub fn time_forward(
    network: &Network,
    dims: &[usize],
    device: &Device,
    config: &LatencyConfig,
) -> Result<Vec<f64>, ProfileError> {
    let [n, c, h, w] = dims[..] else {
        return Err(ProfileError::Unsupported(format!(
            "latency needs an image input, got {dims:?}"
        )));
    };
    let input = Tensor::<4>::random([n, c, h, w], Distribution::Normal(0.0, 1.0), device);
    let sync = || {
        device
            .sync()
            .map_err(|e| ProfileError::Unsupported(format!("device failed: {e:?}")))
    };
    for _ in 0..config.warmup {
        let _ = network.forward(input.clone());
        sync()?;
    }
    let mut times = Vec::with_capacity(config.min_runs);
    let began = Instant::now();
    while times.len() < config.max_runs
        && (times.len() < config.min_runs || began.elapsed() < config.budget)
    {
        let start = Instant::now();
        let _ = network.forward(input.clone());
        sync()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    Ok(times)
}

impl Profiler for LatencyProfiler {
    /// The median latency in milliseconds.
    fn profile(&self, sample: &Sample) -> Result<f64, ProfileError> {
        let key = sample.stable_hash();
        if let Some(&median) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(median);
        }
        let median = self.measure(sample)?.median_ms;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, median);
        Ok(median)
    }
}

#[cfg(test)]
mod tests {
    use super::Latency;

    #[test]
    fn latency_statistics() {
        let latency = Latency::from_times(vec![4.0, 1.0, 3.0, 2.0, 10.0], vec![1], "cpu".into());
        assert_eq!(
            (latency.median_ms, latency.min_ms, latency.p90_ms),
            (3.0, 1.0, 10.0)
        );
        assert!((latency.mean_ms - 4.0).abs() < 1e-12);
        assert!((latency.cv - (10.0f64).sqrt() / 4.0).abs() < 1e-12);
    }
}
