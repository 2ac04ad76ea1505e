//! Choosing a burn device by name; a device whose cargo feature was not built is an error.

use anyhow::bail;
use burn::tensor::Device;

/// The device names the command line accepts.
pub const NAMES: [&str; 4] = ["flex", "ndarray", "wgpu", "cuda"];

/// The device called `name`.
pub fn parse(name: &str) -> anyhow::Result<Device> {
    match name {
        #[cfg(feature = "flex")]
        "flex" => Ok(Device::flex()),
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)] // burn keeps shipping ndarray; users compare against it.
        "ndarray" => Ok(Device::ndarray()),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        _ if NAMES.contains(&name) => bail!(
            "device `{name}` was not built into this binary: rebuild with `--features {name}` \
             (e.g. `cargo run --release -p hwnas --features {name} -- ...`)"
        ),
        _ => bail!(
            "unknown device `{name}` (expected one of: {})",
            NAMES.join(", ")
        ),
    }
}
