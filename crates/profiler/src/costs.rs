use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use hwnas_space::{Metrics, ModelSpace, Sample, SearchSpace, SpaceError, metric};

use crate::{CountOptions, CountProfiler, LiveCountProfiler, ProfileError, Profiler};

/// Why [`Costs`] could not price a sample.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CostError {
    /// A profiler failed on the sample (an invalid sample, a layer its input does not fit, a
    /// device that failed to run it).
    #[error("`{metric}`: {source}")]
    Profile {
        /// The metric.
        metric: String,
        /// The cause.
        source: ProfileError,
    },
    /// No profiler prices this metric.
    #[error("no profiler prices `{metric}` (priced: {priced})")]
    Unknown {
        /// The metric asked for.
        metric: String,
        /// The metrics there are profilers for, comma-separated.
        priced: String,
    },
}

type KeyFn = dyn Fn(&Sample) -> Result<u64, SpaceError> + Send + Sync;

/// The named cost profilers of a space: the one answer to "what does this sample cost?".
///
/// Budgets, cost ranges, hardware penalties and the trial log all price samples through one
/// `Costs`, so they agree and a sample is priced once. Clones share their cache. Profilers that
/// run something ([`Profiler::measures`]: latency measured on a device) are asked once per
/// network: samples that differ only in choices their network never reads share an answer
/// ([`Costs::per_network`]). Table profilers answer in well under a microsecond and are asked
/// every time.
///
/// ```
/// use hwnas_profiler::Costs;
/// use hwnas_space::{hub, metric};
///
/// let space = hub::space("nasbench201")?;
/// let costs = Costs::counts(&space)?;
/// let sample = space.search_space().default_sample()?;
/// let metrics = costs.costs(&sample)?;
/// assert_eq!(metrics[metric::FLOPS], costs.cost(&sample, metric::FLOPS)?);
/// assert!(costs.cost(&sample, metric::LATENCY_MS).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct Costs {
    profilers: Vec<(String, Arc<dyn Profiler>)>,
    key: Option<Arc<KeyFn>>,
    /// Answers of the measuring profilers, by network.
    measured: Arc<Mutex<HashMap<u64, Metrics>>>,
}

impl Costs {
    /// No profiler yet; samples are the same network when their labels are.
    pub fn new() -> Self {
        Self::default()
    }

    /// No profiler yet; samples are the same network when they resolve to the same architecture
    /// of `space` ([`ModelSpace::architecture_hash`]).
    pub fn per_network(space: &ModelSpace) -> Self {
        let space = space.clone();
        Costs {
            key: Some(Arc::new(move |sample| space.architecture_hash(sample))),
            ..Self::default()
        }
    }

    /// FLOPs and parameters of `space` at its input, from one precomputed table, and those of
    /// the layers the output depends on (`live_flops`, `live_params`: [`LiveCountProfiler`]),
    /// priced per network.
    pub fn counts(space: &ModelSpace) -> Result<Self, ProfileError> {
        let options = CountOptions::default();
        let counts = CountProfiler::new(space, space.input(), options)?;
        let live = LiveCountProfiler::new(space, options);
        Ok(Self::per_network(space)
            .with(metric::FLOPS, counts.flops())
            .with(metric::PARAMS, counts.num_params())
            .with(metric::LIVE_FLOPS, live.flops())
            .with(metric::LIVE_PARAMS, live.params()))
    }

    /// Adds (or replaces) the profiler of `metric`.
    pub fn with(mut self, metric: impl Into<String>, profiler: impl Profiler + 'static) -> Self {
        let metric = metric.into();
        self.profilers.retain(|(name, _)| *name != metric);
        self.profilers.push((metric, Arc::new(profiler)));
        // Answers cached under the old set of profilers are not answers of the new one.
        self.measured = Arc::default();
        self
    }

    /// The same costs restricted to `metrics` (sharing the cache): what a budget on some of
    /// them needs to price, and no more.
    pub fn select<'m>(
        &self,
        metrics: impl IntoIterator<Item = &'m str>,
    ) -> Result<Costs, CostError> {
        let mut profilers = Vec::new();
        for metric in metrics {
            let (name, profiler) = self
                .profilers
                .iter()
                .find(|(name, _)| name == metric)
                .ok_or_else(|| self.unknown(metric))?;
            profilers.push((name.clone(), profiler.clone()));
        }
        Ok(Costs {
            profilers,
            ..self.clone()
        })
    }

    fn unknown(&self, metric: &str) -> CostError {
        CostError::Unknown {
            metric: metric.to_string(),
            priced: self.metrics().collect::<Vec<_>>().join(", "),
        }
    }

    /// The metrics priced, in the order they were added.
    pub fn metrics(&self) -> impl Iterator<Item = &str> {
        self.profilers.iter().map(|(name, _)| name.as_str())
    }

    /// Whether `metric` is priced.
    pub fn prices(&self, metric: &str) -> bool {
        self.metrics().any(|name| name == metric)
    }

    /// Whether `metric` is priced by running something (a network measured on a device) rather
    /// than read from a table; `false` for a metric not priced.
    pub fn measures(&self, metric: &str) -> bool {
        self.profilers
            .iter()
            .any(|(name, profiler)| name == metric && profiler.measures())
    }

    /// Whether no metric is priced.
    pub fn is_empty(&self) -> bool {
        self.profilers.is_empty()
    }

    /// Every metric of `sample`.
    pub fn costs(&self, sample: &Sample) -> Result<Metrics, CostError> {
        let mut metrics = Metrics::new();
        self.complete(sample, &mut metrics)?;
        Ok(metrics)
    }

    /// One metric of `sample`.
    pub fn cost(&self, sample: &Sample, metric: &str) -> Result<f64, CostError> {
        let (_, profiler) = self
            .profilers
            .iter()
            .find(|(name, _)| name == metric)
            .ok_or_else(|| self.unknown(metric))?;
        self.price(sample, metric, profiler.as_ref())
    }

    /// The least and the most `metric` is over the space, when its profiler knows without
    /// running anything ([`Profiler::range`]).
    pub fn range(&self, metric: &str) -> Option<(f64, f64)> {
        let (_, profiler) = self.profilers.iter().find(|(name, _)| name == metric)?;
        profiler.range()
    }

    /// One metric of the sample at validated choice `indices` of `space` (the costs' space):
    /// read from a table without building the sample, when the profiler can.
    pub fn cost_indices(
        &self,
        space: &SearchSpace,
        indices: &[usize],
        metric: &str,
    ) -> Result<f64, CostError> {
        let (_, profiler) = self
            .profilers
            .iter()
            .find(|(name, _)| name == metric)
            .ok_or_else(|| self.unknown(metric))?;
        if profiler.measures() {
            return self.price(&space.sample_at(indices), metric, profiler.as_ref());
        }
        profiler
            .profile_indices(space, indices)
            .map_err(|source| CostError::Profile {
                metric: metric.to_string(),
                source,
            })
    }

    /// Adds to `metrics` every metric of `sample` it does not hold yet: the costs a middleware
    /// priced are not priced again.
    pub fn complete(&self, sample: &Sample, metrics: &mut Metrics) -> Result<(), CostError> {
        for (metric, profiler) in &self.profilers {
            if !metrics.contains_key(metric) {
                let value = self.price(sample, metric, profiler.as_ref())?;
                metrics.insert(metric.clone(), value);
            }
        }
        Ok(())
    }

    fn price(
        &self,
        sample: &Sample,
        metric: &str,
        profiler: &dyn Profiler,
    ) -> Result<f64, CostError> {
        let failed = |source: ProfileError| CostError::Profile {
            metric: metric.to_string(),
            source,
        };
        if !profiler.measures() {
            return profiler.profile(sample).map_err(failed);
        }
        let key = match &self.key {
            Some(key) => key(sample).map_err(|e| failed(e.into()))?,
            None => sample.stable_hash(),
        };
        let cached = |measured: &HashMap<u64, Metrics>| measured.get(&key)?.get(metric).copied();
        if let Some(value) = cached(&lock(&self.measured)) {
            return Ok(value);
        }
        // Measured outside the lock: another thread may price another network meanwhile.
        let value = profiler.profile(sample).map_err(failed)?;
        lock(&self.measured)
            .entry(key)
            .or_default()
            .insert(metric.to_string(), value);
        Ok(value)
    }
}

impl fmt::Debug for Costs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Costs")
            .field("metrics", &self.metrics().collect::<Vec<_>>())
            .field("per_network", &self.key.is_some())
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every update under the lock is one insertion: a panic elsewhere leaves it consistent.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use hwnas_space::{Choice, SearchSpace};

    use super::*;
    use crate::from_fn;

    /// A measuring profiler that counts its queries.
    struct Counted(Arc<AtomicUsize>);

    impl Profiler for Counted {
        fn profile(&self, sample: &Sample) -> Result<f64, ProfileError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(sample.get("width").and_then(|v| v.as_f64()).unwrap_or(0.0))
        }

        fn measures(&self) -> bool {
            true
        }
    }

    fn sample(width: i64) -> Sample {
        let space = SearchSpace::new(vec![Choice::new("width", [8, 16])], vec![]).unwrap();
        let mut sample = space.default_sample().unwrap();
        sample.insert("width", width);
        sample
    }

    #[test]
    fn costs_measure_once_per_sample_and_look_tables_up_every_time() {
        let (measured, looked_up) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let lookups = looked_up.clone();
        let costs = Costs::new()
            .with("measured", Counted(measured.clone()))
            .with(
                "table",
                from_fn(move |_| {
                    lookups.fetch_add(1, Ordering::SeqCst);
                    Ok(1.0)
                }),
            );
        let shared = costs.clone();
        for _ in 0..3 {
            assert_eq!(costs.costs(&sample(8)).unwrap()["measured"], 8.0);
            assert_eq!(shared.cost(&sample(16), "measured").unwrap(), 16.0);
        }
        assert_eq!(measured.load(Ordering::SeqCst), 2);
        assert_eq!(looked_up.load(Ordering::SeqCst), 3);
        let mut known = Metrics::from([("measured".to_string(), 5.0)]);
        costs.complete(&sample(8), &mut known).unwrap();
        assert_eq!((known["measured"], known["table"]), (5.0, 1.0));
        assert_eq!(looked_up.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn costs_name_the_metric_they_cannot_price() {
        let costs = Costs::new().with(
            "latency_ms",
            from_fn(|_| Err(ProfileError::Unsupported("no device".into()))),
        );
        let error = costs.costs(&sample(8)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`latency_ms`: cannot profile this space: no device"
        );
        let error = costs.cost(&sample(8), "flops").unwrap_err();
        assert_eq!(
            error.to_string(),
            "no profiler prices `flops` (priced: latency_ms)"
        );
    }
}
