//! Ctrl-C and SIGTERM: a run stops starting new work and says how to go on; a second one quits.

use std::sync::atomic::{AtomicUsize, Ordering};

use hwnas_experiment::Stop;

/// Signals received so far.
static SIGNALS: AtomicUsize = AtomicUsize::new(0);

/// What the first signal does.
pub enum OnSignal<'a> {
    /// Request `stop` and tell the user the run is finishing what it has started.
    Finish(&'a Stop),
    /// Say that nothing was written and quit (a run whose output is written at its end).
    Quit(&'static str),
}

/// Handles Ctrl-C and SIGTERM for the rest of the process; a second signal always quits at once.
pub fn install(on_signal: OnSignal<'_>) -> anyhow::Result<()> {
    let (stop, quit) = match on_signal {
        OnSignal::Finish(stop) => (Some(stop.clone()), None),
        OnSignal::Quit(message) => (None, Some(message)),
    };
    ctrlc::set_handler(move || {
        let first = SIGNALS.fetch_add(1, Ordering::SeqCst) == 0;
        match (&stop, first) {
            (Some(stop), true) => {
                stop.request();
                eprintln!(
                    "\nstopping: the running work finishes and the directory stays resumable \
                     (a second Ctrl-C or SIGTERM quits now)"
                );
            }
            _ => {
                eprintln!(
                    "\ninterrupted{}",
                    quit.map_or(String::new(), |m| format!(": {m}"))
                );
                std::process::exit(130);
            }
        }
    })?;
    Ok(())
}

/// This process's command line with `--resume`: how to go on with a stopped run.
pub fn resume_command() -> String {
    let mut words: Vec<String> = std::env::args().collect();
    if !words.iter().any(|word| word == "--resume") {
        words.push("--resume".into());
    }
    words.join(" ")
}
