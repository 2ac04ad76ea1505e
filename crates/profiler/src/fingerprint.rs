use serde::{Deserialize, Serialize};

use crate::LatencyDevice;

/// The version of burn the latencies were measured with (the workspace pins it).
pub const BURN_VERSION: &str = "0.22.1";

/// What a latency depends on besides the network: backend, adapter or CPU, burn, threads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceFingerprint {
    /// The burn device, as burn prints it (backend and index), or `tract` and its version.
    pub device: String,
    /// The CPU model (from `/proc/cpuinfo` where it exists).
    pub cpu: String,
    /// Threads a network runs on (the process's on burn, one on tract).
    pub threads: usize,
    /// The burn version.
    pub burn: String,
}

impl DeviceFingerprint {
    /// The fingerprint of `device` on this machine.
    pub fn of(device: impl Into<LatencyDevice>) -> Self {
        let device = device.into();
        Self {
            device: device.name(),
            cpu: cpu_model(),
            threads: device.threads(),
            burn: BURN_VERSION.to_string(),
        }
    }
}

impl std::fmt::Display for DeviceFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} on {} ({} threads, burn {})",
            self.device, self.cpu, self.threads, self.burn
        )
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}
