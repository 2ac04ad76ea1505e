//! What several commands print: progress bars and an experiment directory's report.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use hwnas_experiment::{Progress, Report, TrialRecord, plot_tradeoff};
use hwnas_space::metric;
use hwnas_strategy::{Objective, Status};
use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` items called `what` (`trials`, `steps`, `samples`), with an estimate of the
/// time left.
pub fn bar(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{bar:30}} {{pos}}/{{len}} {what}  {{msg}}  eta {{eta}}"
        ))
        .expect("the template is valid"),
    );
    bar
}

/// Shows where a search stands on its bar.
pub fn show_progress(bar: &ProgressBar, progress: &Progress) {
    bar.set_position(progress.evaluated as u64);
    let best = progress.best.map_or("-".to_string(), |b| format!("{b:.4}"));
    bar.set_message(format!(
        "best {best}  rejected {}  failed {}",
        progress.rejected, progress.failed
    ));
}

/// Prints the counts, the top `top` trials and the fronts of the experiment in `dir`, and writes
/// its plots.
pub fn print_report(dir: &Path, top: usize) -> anyhow::Result<()> {
    print(&report_text(dir, top)?)
}

/// The report [`print_report`] prints, its plots written.
pub fn report_text(dir: &Path, top: usize) -> anyhow::Result<String> {
    let report = Report::load(dir)?;
    let (ok, invalid, failed) = report.counts();
    let reasons: Vec<String> = report
        .reasons()
        .iter()
        .map(|(reason, n)| format!("{n} {reason}"))
        .collect();
    // Everything is written to disk before anything is printed: a reader that stops early
    // (`| head`) must not change what the directory holds.
    let mut out = String::new();
    write!(
        out,
        "{}: {ok} ok, {failed} failed, {invalid} not trained",
        dir.display()
    )?;
    if reasons.is_empty() {
        writeln!(out)?;
    } else {
        writeln!(out, " ({})", reasons.join(", "))?;
    }
    let accuracy = Objective::maximize(metric::ACCURACY);
    let best = report.top_k(&accuracy, top);
    if best.is_empty() {
        writeln!(out, "no trial finished with an accuracy")?;
        return Ok(out);
    }
    writeln!(
        out,
        "\ntop {} by accuracy:\n{}",
        best.len(),
        report.table(&best)
    )?;
    let names = report.metric_names();
    let evaluated: Vec<&TrialRecord> = report
        .records
        .iter()
        .filter(|r| r.status == Status::Ok)
        .collect();
    for cost in metric::COSTS {
        if !names.iter().any(|n| n == cost) {
            continue;
        }
        let front = report.pareto_front(&[accuracy.clone(), Objective::minimize(cost)]);
        writeln!(
            out,
            "Pareto front, accuracy against {cost}:\n{}",
            report.table(&front)
        )?;
        let stem = dir.join(format!("accuracy_vs_{cost}"));
        let [png, svg] = plot_tradeoff(&evaluated, &front, cost, metric::ACCURACY, &stem)?;
        writeln!(out, "plots: {} {}\n", png.display(), svg.display())?;
    }
    Ok(out)
}

fn print(text: &str) -> anyhow::Result<()> {
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

/// Makes sure `out` can be written before long work starts: its missing parent folders are
/// created and a file is tried in the folder, so that a measurement of minutes is not lost to
/// a path that cannot take its result.
pub fn prepare_out(out: &Path) -> anyhow::Result<()> {
    let dir = match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let probe = dir.join(format!(".hwnas-write-check-{}", std::process::id()));
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&probe, b""))
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| {
            let cause =
                std::io::Error::new(e.kind(), format!("cannot write in {}: {e}", dir.display()));
            anyhow::Error::new(cause)
        })
}
