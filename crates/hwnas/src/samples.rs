//! Reading samples from a file or standard input.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use hwnas_space::Sample;

use crate::exit::bail_input;

/// Reads every sample of `source` (`-` is standard input): JSON lines, or any sequence of JSON
/// objects separated by whitespace (a single pretty-printed object works too).
pub fn read(source: &Path) -> anyhow::Result<Vec<Sample>> {
    let text = if source == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read samples from standard input")?;
        text
    } else {
        std::fs::read_to_string(source)
            .with_context(|| format!("cannot read {}", source.display()))?
    };
    let mut samples = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(&text).into_iter::<Sample>();
    loop {
        let offset = stream.byte_offset();
        match stream.next() {
            None => break,
            Some(Ok(sample)) => samples.push(sample),
            Some(Err(error)) => {
                let line = text[..offset].lines().count() + 1;
                bail_input!(
                    "malformed sample #{} in {} (from line {line}): {error}",
                    samples.len() + 1,
                    source.display()
                );
            }
        }
    }
    if samples.is_empty() {
        bail_input!("no sample in {}", source.display());
    }
    Ok(samples)
}
