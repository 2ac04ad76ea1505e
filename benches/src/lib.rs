//! Benchmarks only: see the `[[bench]]` targets.
