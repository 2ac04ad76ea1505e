//! Named numbers about a sample: what an evaluator measures and a profiler prices.
//!
//! Every crate reads and writes the same names (trial logs, budgets, reports, plots), so they are
//! spelled once, here. A metric outside this list is just another key of [`Metrics`].

use std::collections::BTreeMap;

/// Named metrics of a sample or a trial (`accuracy`, `flops`, `params`, `latency_ms`, ...). A
/// `BTreeMap` so that the JSON form is ordered and stable.
pub type Metrics = BTreeMap<String, f64>;

/// Validation accuracy, in `[0, 1]`: what the training evaluator reports and searches maximize.
pub const ACCURACY: &str = "accuracy";
/// Mean training loss of the last epoch.
pub const TRAIN_LOSS: &str = "train_loss";
/// Accuracy of a one-shot choice after it trained alone from its inherited weights.
pub const FINETUNED_ACCURACY: &str = "finetuned_accuracy";
/// Accuracy on the test split, which no choice saw: of a search's best trial (its kept
/// weights), of a one-shot choice, of a final training's kept weights.
pub const TEST_ACCURACY: &str = "test_accuracy";
/// Multiply-accumulates of one example (batch excluded).
pub const FLOPS: &str = "flops";
/// Trainable parameters (normalization running statistics excluded).
pub const PARAMS: &str = "params";
/// FLOPs of the layers the output depends on ([`Architecture::visit_live`](crate::Architecture::visit_live)):
/// without the operations a cell cuts off with zero edges, which run but change nothing.
pub const LIVE_FLOPS: &str = "live_flops";
/// Parameters of the layers the output depends on (as [`LIVE_FLOPS`]).
pub const LIVE_PARAMS: &str = "live_params";
/// Latency of one forward pass, milliseconds, measured or predicted.
pub const LATENCY_MS: &str = "latency_ms";

/// The hardware costs a report plots against accuracy, in the order it prints them.
pub const COSTS: [&str; 3] = [LATENCY_MS, FLOPS, PARAMS];

/// A count as people read it, with thousands separators: `436554` as `436,554`.
///
/// ```
/// assert_eq!(hwnas_space::metric::thousands(436_554), "436,554");
/// assert_eq!(hwnas_space::metric::thousands(999), "999");
/// ```
pub fn thousands(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
