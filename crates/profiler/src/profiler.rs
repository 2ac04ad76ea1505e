use std::sync::Arc;

use hwnas_space::{ModelSpace, Sample, SearchSpace, Shape};

use crate::{CountOptions, CountTable, Counts, ProfileError};

/// Labels beyond this many make a query allocate its index buffer.
const STACK_LABELS: usize = 64;

/// A metric of any sample of one space, precomputed so that a query is almost free.
///
/// Built once from a space and an input shape; `profile` validates the sample (an invalid one is an
/// error, never a number) and answers.
pub trait Profiler: Send + Sync {
    /// The metric of `sample`.
    fn profile(&self, sample: &Sample) -> Result<f64, ProfileError>;

    /// Whether a query runs something (a network on a device) instead of reading a table:
    /// [`Costs`](crate::Costs) then asks it once per network.
    fn measures(&self) -> bool {
        false
    }

    /// The least and the most the metric is over the samples of its space, when the profiler
    /// knows without running anything (bounds every sample's value); `None` otherwise.
    fn range(&self) -> Option<(f64, f64)> {
        None
    }

    /// The metric of the sample at choice `indices` of `space` (the space it was built for,
    /// indices in declaration order, constraints already checked). Table profilers answer
    /// without building the sample, which is what a strategy pricing many candidates pays for.
    fn profile_indices(&self, space: &SearchSpace, indices: &[usize]) -> Result<f64, ProfileError> {
        self.profile(&space.sample_at(indices))
    }
}

/// One profiler shared by several users (a budget filter and the trial log measure once).
impl<P: Profiler + ?Sized> Profiler for Arc<P> {
    fn profile(&self, sample: &Sample) -> Result<f64, ProfileError> {
        (**self).profile(sample)
    }

    fn measures(&self) -> bool {
        (**self).measures()
    }

    fn profile_indices(&self, space: &SearchSpace, indices: &[usize]) -> Result<f64, ProfileError> {
        (**self).profile_indices(space, indices)
    }

    fn range(&self) -> Option<(f64, f64)> {
        (**self).range()
    }
}

/// A profiler chosen at run time.
impl<P: Profiler + ?Sized> Profiler for Box<P> {
    fn profile(&self, sample: &Sample) -> Result<f64, ProfileError> {
        (**self).profile(sample)
    }

    fn measures(&self) -> bool {
        (**self).measures()
    }

    fn profile_indices(&self, space: &SearchSpace, indices: &[usize]) -> Result<f64, ProfileError> {
        (**self).profile_indices(space, indices)
    }

    fn range(&self) -> Option<(f64, f64)> {
        (**self).range()
    }
}

/// A profiler that calls `profile` (a table lookup, so never cached: see [`Profiler::measures`]).
///
/// ```
/// use hwnas_profiler::{Profiler, from_fn};
/// use hwnas_space::Sample;
///
/// let labels = from_fn(|sample: &Sample| Ok(sample.len() as f64));
/// assert_eq!(labels.profile(&Sample::default())?, 0.0);
/// # Ok::<(), hwnas_profiler::ProfileError>(())
/// ```
pub fn from_fn<F>(profile: F) -> FnProfiler<F>
where
    F: Fn(&Sample) -> Result<f64, ProfileError> + Send + Sync,
{
    FnProfiler(profile)
}

/// The profiler [`from_fn`] returns.
#[derive(Debug, Clone, Copy)]
pub struct FnProfiler<F>(F);

impl<F> Profiler for FnProfiler<F>
where
    F: Fn(&Sample) -> Result<f64, ProfileError> + Send + Sync,
{
    fn profile(&self, sample: &Sample) -> Result<f64, ProfileError> {
        (self.0)(sample)
    }
}

/// FLOPs and parameters together, from one precomputed [`CountTable`].
#[derive(Debug, Clone)]
pub struct CountProfiler {
    table: Arc<CountTable>,
}

impl CountProfiler {
    /// Precomputes the counts of `space` for `input`.
    pub fn new(
        space: &ModelSpace,
        input: Shape,
        options: CountOptions,
    ) -> Result<Self, ProfileError> {
        Ok(CountProfiler {
            table: Arc::new(CountTable::new(space, input, options)?),
        })
    }

    /// Validates `sample` and returns its exact counts.
    pub fn counts(&self, sample: &Sample) -> Result<Counts, ProfileError> {
        let space = self.table.search_space();
        if space.len() <= STACK_LABELS {
            let mut buffer = [0; STACK_LABELS];
            let indices = &mut buffer[..space.len()];
            space.indices_into(sample, indices)?;
            self.table.counts_indices(indices)
        } else {
            self.table.counts_indices(&space.indices(sample)?)
        }
    }

    /// Counts for choice indices already validated against the space (declaration order).
    pub fn counts_indices(&self, indices: &[usize]) -> Result<Counts, ProfileError> {
        self.table.counts_indices(indices)
    }

    /// The underlying table.
    pub fn table(&self) -> &CountTable {
        &self.table
    }

    /// A FLOPs profiler sharing this table.
    pub fn flops(&self) -> FlopsProfiler {
        FlopsProfiler(self.clone())
    }

    /// A parameter profiler sharing this table.
    pub fn num_params(&self) -> NumParamsProfiler {
        NumParamsProfiler(self.clone())
    }
}

/// FLOPs (multiply-accumulates, batch excluded) of any sample.
#[derive(Debug, Clone)]
pub struct FlopsProfiler(CountProfiler);

impl FlopsProfiler {
    /// Precomputes FLOPs of `space` for `input`.
    pub fn new(
        space: &ModelSpace,
        input: Shape,
        options: CountOptions,
    ) -> Result<Self, ProfileError> {
        CountProfiler::new(space, input, options).map(|profiler| profiler.flops())
    }

    /// Exact FLOPs of `sample`.
    pub fn flops(&self, sample: &Sample) -> Result<u64, ProfileError> {
        self.0.counts(sample).map(|counts| counts.flops)
    }
}

impl Profiler for FlopsProfiler {
    fn profile(&self, sample: &Sample) -> Result<f64, ProfileError> {
        self.flops(sample).map(|flops| flops as f64)
    }

    fn profile_indices(&self, _: &SearchSpace, indices: &[usize]) -> Result<f64, ProfileError> {
        Ok(self.0.counts_indices(indices)?.flops as f64)
    }

    fn range(&self) -> Option<(f64, f64)> {
        let ((min, max), _) = self.0.table().ranges()?;
        Some((min as f64, max as f64))
    }
}

/// Trainable parameters of any sample (normalization running statistics excluded).
#[derive(Debug, Clone)]
pub struct NumParamsProfiler(CountProfiler);

impl NumParamsProfiler {
    /// Precomputes parameter counts of `space` (they do not depend on the input resolution).
    pub fn new(space: &ModelSpace, input: Shape) -> Result<Self, ProfileError> {
        CountProfiler::new(space, input, CountOptions::default())
            .map(|profiler| profiler.num_params())
    }

    /// Exact parameter count of `sample`.
    pub fn num_params(&self, sample: &Sample) -> Result<u64, ProfileError> {
        self.0.counts(sample).map(|counts| counts.params)
    }
}

impl Profiler for NumParamsProfiler {
    fn profile(&self, sample: &Sample) -> Result<f64, ProfileError> {
        self.num_params(sample).map(|params| params as f64)
    }

    fn profile_indices(&self, _: &SearchSpace, indices: &[usize]) -> Result<f64, ProfileError> {
        Ok(self.0.counts_indices(indices)?.params as f64)
    }

    fn range(&self) -> Option<(f64, f64)> {
        let (_, (min, max)) = self.0.table().ranges()?;
        Some((min as f64, max as f64))
    }
}
