use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A request to stop a run early, from another thread (a signal handler, a user interface).
///
/// A run that holds it starts no new work once it is requested: an experiment lets its running
/// trials finish and ends with [`StopReason::Interrupted`](crate::StopReason::Interrupted), a
/// one-shot run stops before its next training step. The directory is left as a kill would leave
/// it, so `resume` goes on from there. Clones share the request.
///
/// ```
/// use hwnas_experiment::Stop;
///
/// let stop = Stop::new();
/// let handler = stop.clone();
/// assert!(!stop.is_requested());
/// handler.request();
/// assert!(stop.is_requested());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// Not requested yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every run holding this to stop.
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was requested.
    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
