use std::time::{Duration, Instant};

use hwnas_space::{ModelSpace, Sample};
use serde::{Deserialize, Serialize};

use crate::{LatencyDevice, LoadedNetwork, ProfileError, Profiler};

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
    /// The statistic of the timed passes that `profile` reports.
    #[serde(default)]
    pub statistic: Statistic,
    /// Networks held at once and timed in interleaved visits when several are measured (see
    /// [`time_interleaved`]).
    #[serde(default = "default_interleave")]
    pub interleave: usize,
}

fn default_interleave() -> usize {
    DEFAULT_INTERLEAVE
}

/// Which statistic of the timed passes stands for a network's latency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Statistic {
    /// The typical pass.
    #[default]
    Median,
    /// The fastest pass: what the network costs when nothing else slows the machine; on a shared
    /// or noisy machine the most reproducible of the two.
    Min,
}

impl Statistic {
    /// Its name on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Median => "median",
            Self::Min => "min",
        }
    }
}

impl std::str::FromStr for Statistic {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [Self::Median, Self::Min]
            .into_iter()
            .find(|statistic| statistic.name() == name)
            .ok_or_else(|| format!("unknown statistic `{name}`: median or min"))
    }
}

impl Default for LatencyConfig {
    fn default() -> Self {
        Self {
            batch: 1,
            warmup: 3,
            min_runs: 10,
            max_runs: 200,
            budget: Duration::from_millis(200),
            statistic: Statistic::Median,
            interleave: DEFAULT_INTERLEAVE,
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
    /// The value of `statistic`, ms.
    pub fn get(&self, statistic: Statistic) -> f64 {
        match statistic {
            Statistic::Median => self.median_ms,
            Statistic::Min => self.min_ms,
        }
    }

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

/// Latency measured on a real device (a burn device, or tract): freeze, warm up, then time
/// `forward` (between syncs on burn).
///
/// Every query measures ([`Profiler::measures`]): priced through [`Costs`](crate::Costs), a
/// sample is measured once per network, so a budget and the trial log that ask for the same
/// sample, or samples that differ only in choices the network never reads, measure it once.
pub struct LatencyProfiler {
    space: ModelSpace,
    device: LatencyDevice,
    config: LatencyConfig,
}

impl LatencyProfiler {
    /// A profiler for `space` (at its input shape) on `device`.
    pub fn new(
        space: ModelSpace,
        device: impl Into<LatencyDevice>,
        config: LatencyConfig,
    ) -> Result<Self, ProfileError> {
        if config.batch == 0
            || config.min_runs == 0
            || config.max_runs < config.min_runs
            || config.interleave == 0
        {
            return Err(ProfileError::Unsupported(format!(
                "latency settings need batch >= 1, 1 <= min_runs <= max_runs and interleave >= 1, \
                 got {config:?}"
            )));
        }
        Ok(Self {
            space,
            device: device.into(),
            config,
        })
    }

    /// Measures `sample` now.
    pub fn measure(&self, sample: &Sample) -> Result<Latency, ProfileError> {
        Ok(self
            .measure_many(std::slice::from_ref(sample), &mut |_, _| {})?
            .remove(0))
    }

    /// Measures `samples` now, interleaved (see [`time_interleaved`]), in groups of at most
    /// `interleave` networks held at once; `progress(done, total)` follows the groups.
    pub fn measure_many(
        &self,
        samples: &[Sample],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Latency>, ProfileError> {
        let dims = self.space.input().with_batch(self.config.batch);
        let mut latencies = Vec::with_capacity(samples.len());
        for chunk in samples.chunks(self.config.interleave.max(1)) {
            progress(latencies.len(), samples.len());
            let networks = chunk
                .iter()
                .map(|sample| {
                    let architecture = self.space.resolve(sample)?;
                    self.device.load(&architecture, self.config.batch, None)
                })
                .collect::<Result<Vec<_>, ProfileError>>()?;
            for times in time_interleaved(&networks, &self.config)? {
                latencies.push(Latency::from_times(times, dims.clone(), self.device.name()));
            }
        }
        progress(latencies.len(), samples.len());
        Ok(latencies)
    }

    /// The device it measures on.
    pub fn device(&self) -> &LatencyDevice {
        &self.device
    }

    /// The settings.
    pub fn config(&self) -> &LatencyConfig {
        &self.config
    }
}

/// Times several networks in interleaved visits, so that a machine whose speed drifts (a shared
/// VM, a CPU changing frequency, a GPU warming up) slows each of them alike instead of whichever
/// happened to be measured during a slow spell. Times in milliseconds, one list per network.
///
/// Each network (loaded with its own random input) first runs `warmup`
/// untimed passes. A visit to a network after another one ran starts with an untimed pass (its
/// weights back into cache, as in a back-to-back measurement) unless its passes last a whole
/// visit, then times passes, a device sync inside the timed region, for [`INTERLEAVED_VISIT`] (at
/// least one pass). Visits go round-robin, starting one network later each round, until every
/// network has `min_runs` passes and `budget` of timed time, or `max_runs` passes.
pub fn time_interleaved(
    networks: &[LoadedNetwork],
    config: &LatencyConfig,
) -> Result<Vec<Vec<f64>>, ProfileError> {
    let pass = |i: usize| {
        let start = Instant::now();
        networks[i].pass()?;
        Ok::<_, ProfileError>(start.elapsed())
    };
    // The last pass of each network: one that lasts a whole visit gains nothing from a re-warm.
    let mut last_pass = vec![Duration::ZERO; networks.len()];
    for (i, last_pass) in last_pass.iter_mut().enumerate() {
        for _ in 0..config.warmup {
            *last_pass = pass(i)?;
        }
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(config.min_runs); networks.len()];
    let mut spent = vec![Duration::ZERO; networks.len()];
    let done = |times: &[f64], spent: Duration| {
        times.len() >= config.max_runs || (times.len() >= config.min_runs && spent >= config.budget)
    };
    let mut last = None;
    for round in 0.. {
        let mut visited = false;
        for k in 0..networks.len() {
            let i = (k + round) % networks.len();
            if done(&times[i], spent[i]) {
                continue;
            }
            visited = true;
            if last != Some(i) && last_pass[i] < INTERLEAVED_VISIT {
                pass(i)?;
            }
            last = Some(i);
            let visit = Instant::now();
            loop {
                let elapsed = pass(i)?;
                times[i].push(elapsed.as_secs_f64() * 1e3);
                spent[i] += elapsed;
                last_pass[i] = elapsed;
                if visit.elapsed() >= INTERLEAVED_VISIT || done(&times[i], spent[i]) {
                    break;
                }
            }
        }
        if !visited {
            break;
        }
    }
    Ok(times)
}

/// Networks held at once by default when timing interleaved: enough to spread a slow spell of the
/// machine over many of them, few enough that they do not slow each other (on wgpu with Mesa's
/// software driver, 100 resident `mobile-micro` networks each ran about 1.8x slower than 34 did).
pub const DEFAULT_INTERLEAVE: usize = 32;

/// How long one visit of [`time_interleaved`] times a network before moving to the next: short
/// enough that a slow spell of the machine is spread over many networks, long enough that
/// switching networks costs little.
pub const INTERLEAVED_VISIT: Duration = Duration::from_millis(10);

impl Profiler for LatencyProfiler {
    /// The latency in milliseconds, as the configured statistic.
    fn profile(&self, sample: &Sample) -> Result<f64, ProfileError> {
        Ok(self.measure(sample)?.get(self.config.statistic))
    }

    fn measures(&self) -> bool {
        true
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
