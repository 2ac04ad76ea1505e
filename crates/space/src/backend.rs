use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::SpaceError;

/// A burn backend by name: what settings files and the command line say a network runs on.
///
/// Each backend needs its cargo feature (`flex`, the default, `ndarray`, `wgpu`, `cuda`); with the
/// `burn` feature, [`Backend::device`] gives its default device, or says which feature is missing.
///
/// ```
/// use hwnas_space::Backend;
///
/// let backend: Backend = "wgpu".parse()?;
/// assert_eq!(backend.to_string(), "wgpu");
/// assert!("tpu".parse::<Backend>().is_err());
/// # Ok::<(), hwnas_space::SpaceError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// burn's own CPU backend.
    #[default]
    Flex,
    /// The ndarray CPU backend.
    Ndarray,
    /// wgpu: Vulkan, Metal or DirectX (a GPU, or Mesa's software Vulkan driver).
    Wgpu,
    /// CUDA.
    Cuda,
}

impl Backend {
    /// Every backend, in the order the command line lists them.
    pub const ALL: [Backend; 4] = [
        Backend::Flex,
        Backend::Ndarray,
        Backend::Wgpu,
        Backend::Cuda,
    ];

    /// The name: `flex`, `ndarray`, `wgpu` or `cuda` (also its cargo feature).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    /// The backend's default device, when its cargo feature was built.
    #[cfg(feature = "burn")]
    pub fn device(self) -> Result<burn::tensor::Device, SpaceError> {
        use burn::tensor::Device;
        match self {
            #[cfg(feature = "flex")]
            Backend::Flex => Ok(Device::flex()),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            // burn keeps shipping ndarray; users compare against it.
            Backend::Ndarray => Ok(Device::ndarray()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(Device::cuda(0)),
            #[allow(unreachable_patterns)] // every backend may be built in
            other => Err(SpaceError::BackendNotBuilt(other.name())),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = SpaceError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Backend::ALL
            .into_iter()
            .find(|backend| backend.name() == name)
            .ok_or_else(|| SpaceError::UnknownBackend(name.to_string()))
    }
}
