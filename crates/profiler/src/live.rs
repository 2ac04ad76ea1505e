use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use hwnas_space::{ModelSpace, Sample, SearchSpace};

use crate::{CountOptions, Counts, ProfileError, Profiler, count_live};

/// FLOPs and parameters of the layers a network's output depends on ([`count_live`]), for any
/// sample of a space: the network is resolved and walked once per sample, then remembered
/// (clones share what they remember), so a search that meets the same samples again (a
/// strategy scoring neighbours) pays once.
///
/// Where a space's cells can cut an operation off with zero edges (NAS-Bench-201), the counts
/// of [`CountProfiler`](crate::CountProfiler) include it, since it runs; these do not, since
/// it changes nothing: they are the capacity a prior over accuracy should read.
///
/// ```
/// use hwnas_profiler::{CountOptions, CountProfiler, LiveCountProfiler, Profiler};
/// use hwnas_space::{Sample, hub};
///
/// let space = hub::space("nasbench201")?;
/// let live = LiveCountProfiler::new(&space, CountOptions::default());
/// let counts = CountProfiler::new(&space, space.input(), CountOptions::default())?;
/// // Node 1 gets a 3x3 convolution from the input but feeds nothing: it runs, it changes
/// // nothing.
/// let mut cut = Sample::new();
/// for (edge, op) in [("0_1", "conv_3x3"), ("0_2", "none"), ("1_2", "none"), ("0_3", "skip_connect"),
///                    ("1_3", "none"), ("2_3", "none")] {
///     cut.insert(format!("cell/{edge}"), op);
/// }
/// assert!(live.params().profile(&cut)? < counts.num_params().profile(&cut)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct LiveCountProfiler {
    space: ModelSpace,
    options: CountOptions,
    known: Arc<Known>,
}

/// What a [`LiveCountProfiler`] remembers: by grid position for a space small enough to list
/// (no hashing, no lock), else by sample hash.
enum Known {
    Listed(Vec<OnceLock<Counts>>),
    Hashed(Mutex<HashMap<u64, Counts>>),
}

/// Samples remembered before the memory starts over.
const MAX_KNOWN: usize = 1 << 20;

/// Spaces of at most this many samples are listed (NAS-Bench-201's 15,625 are).
const MAX_LISTED: usize = 1 << 16;

impl LiveCountProfiler {
    /// The live counts of `space`'s samples at its input.
    pub fn new(space: &ModelSpace, options: CountOptions) -> Self {
        let size = space.search_space().size();
        let known = if size <= MAX_LISTED as f64 {
            Known::Listed((0..size as usize).map(|_| OnceLock::new()).collect())
        } else {
            Known::Hashed(Mutex::default())
        };
        LiveCountProfiler {
            space: space.clone(),
            options,
            known: Arc::new(known),
        }
    }

    /// The live counts of `sample`.
    pub fn counts(&self, sample: &Sample) -> Result<Counts, ProfileError> {
        self.counts_indices(&self.space.search_space().indices(sample)?)
    }

    /// The live counts of the sample at validated choice `indices` (declaration order).
    pub fn counts_indices(&self, indices: &[usize]) -> Result<Counts, ProfileError> {
        let search_space = self.space.search_space();
        let count = || count_live(&self.space.resolve_indices(indices)?, self.options);
        match &*self.known {
            Known::Listed(known) => {
                let position = indices
                    .iter()
                    .zip(search_space.choices())
                    .fold(0, |position, (&index, choice)| {
                        position * choice.len() + index
                    });
                if let Some(counts) = known[position].get() {
                    return Ok(*counts);
                }
                let counts = count()?;
                Ok(*known[position].get_or_init(|| counts))
            }
            Known::Hashed(known) => {
                let key = search_space.sample_hash(indices);
                if let Some(counts) = lock(known).get(&key) {
                    return Ok(*counts);
                }
                let counts = count()?;
                let mut known = lock(known);
                if known.len() >= MAX_KNOWN {
                    known.clear();
                }
                known.insert(key, counts);
                Ok(counts)
            }
        }
    }

    /// The live FLOPs as a profiler.
    pub fn flops(&self) -> impl Profiler + use<> {
        LiveCount {
            live: self.clone(),
            of: |counts| counts.flops,
        }
    }

    /// The live parameters as a profiler.
    pub fn params(&self) -> impl Profiler + use<> {
        LiveCount {
            live: self.clone(),
            of: |counts| counts.params,
        }
    }
}

/// One of the live counts as a profiler.
struct LiveCount {
    live: LiveCountProfiler,
    of: fn(&Counts) -> u64,
}

impl Profiler for LiveCount {
    fn profile(&self, sample: &Sample) -> Result<f64, ProfileError> {
        Ok((self.of)(&self.live.counts(sample)?) as f64)
    }

    fn profile_indices(&self, _: &SearchSpace, indices: &[usize]) -> Result<f64, ProfileError> {
        Ok((self.of)(&self.live.counts_indices(indices)?) as f64)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
