use serde::Serialize;

/// What kind of hardware a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// A phone's CPU.
    Phone,
    /// A single-board computer.
    Embedded,
    /// An accelerator ASIC.
    Asic,
    /// An FPGA accelerator.
    Fpga,
    /// A server CPU.
    Cpu,
    /// A GPU.
    Gpu,
}

/// How the latencies of a device were obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Run on the device.
    Measured,
    /// Computed by a model of the device (exactly additive in the operations).
    Estimated,
    /// Published as "measured/estimated" without saying which.
    Unstated,
}

/// One device of a benchmark: its column and what the numbers mean.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    /// The column name (`pixel3`, `titan_rtx_256`).
    pub name: &'static str,
    /// What it is, in words.
    pub description: &'static str,
    /// The kind of hardware.
    pub kind: DeviceKind,
    /// Images per inference.
    pub batch: usize,
    /// Measured or estimated.
    pub origin: Origin,
    /// The publication the column comes from.
    pub source: &'static str,
    /// Whether the latencies are whole milliseconds.
    pub whole_ms: bool,
}

const fn device(
    name: &'static str,
    description: &'static str,
    kind: DeviceKind,
    batch: usize,
    origin: Origin,
    source: &'static str,
) -> Device {
    Device {
        name,
        description,
        kind,
        batch,
        origin,
        source,
        whole_ms: false,
    }
}

const HW: &str = "HW-NAS-Bench";
const HELP: &str = "HELP";

/// The 22 devices of NAS-Bench-201, in the packed table's column order.
pub(crate) static NASBENCH201_DEVICES: [Device; 22] = {
    use DeviceKind::*;
    use Origin::*;
    let mut pixel2 = device("pixel2", "Google Pixel 2", Phone, 1, Measured, HELP);
    pixel2.whole_ms = true;
    let mut s7 = device("samsung_s7", "Samsung Galaxy S7", Phone, 1, Measured, HELP);
    s7.whole_ms = true;
    [
        device("pixel3", "Google Pixel 3", Phone, 1, Unstated, HW),
        device("raspi4", "Raspberry Pi 4", Embedded, 1, Unstated, HW),
        device("eyeriss", "Eyeriss ASIC", Asic, 1, Estimated, HW),
        device("fpga", "FPGA accelerator", Fpga, 1, Estimated, HW),
        pixel2,
        s7,
        device("gold_6226", "Intel Xeon Gold 6226", Cpu, 1, Measured, HELP),
        device("gold_6240", "Intel Xeon Gold 6240", Cpu, 1, Measured, HELP),
        device(
            "silver_4114",
            "Intel Xeon Silver 4114",
            Cpu,
            1,
            Measured,
            HELP,
        ),
        device("1080ti_1", "NVIDIA GTX 1080 Ti", Gpu, 1, Measured, HELP),
        device("1080ti_32", "NVIDIA GTX 1080 Ti", Gpu, 32, Measured, HELP),
        device("1080ti_256", "NVIDIA GTX 1080 Ti", Gpu, 256, Measured, HELP),
        device("2080ti_1", "NVIDIA RTX 2080 Ti", Gpu, 1, Measured, HELP),
        device("2080ti_256", "NVIDIA RTX 2080 Ti", Gpu, 256, Measured, HELP),
        device("titanx_1", "NVIDIA Titan X", Gpu, 1, Measured, HELP),
        device("titanx_32", "NVIDIA Titan X", Gpu, 32, Measured, HELP),
        device("titanxp_1", "NVIDIA Titan Xp", Gpu, 1, Measured, HELP),
        device("titanxp_32", "NVIDIA Titan Xp", Gpu, 32, Measured, HELP),
        device("titanxp_256", "NVIDIA Titan Xp", Gpu, 256, Measured, HELP),
        device("titan_rtx_1", "NVIDIA Titan RTX", Gpu, 1, Measured, HELP),
        device("titan_rtx_32", "NVIDIA Titan RTX", Gpu, 32, Measured, HELP),
        device(
            "titan_rtx_256",
            "NVIDIA Titan RTX",
            Gpu,
            256,
            Measured,
            HELP,
        ),
    ]
};
