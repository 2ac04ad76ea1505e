//! Where latency is measured: a burn device, or tract running the network exported to ONNX.

use std::fmt;
use std::str::FromStr;

use burn::tensor::{Device, Distribution, Tensor};
use hwnas_space::module::Network;
use hwnas_space::{Architecture, Backend};
use serde::{Deserialize, Serialize};

use crate::ProfileError;

/// A latency device by name: a burn backend, or `tract` (the network exported to ONNX and run by
/// tract on this CPU, one thread; feature `tract`). What the command line and settings files say.
///
/// ```
/// use hwnas_profiler::LatencyBackend;
///
/// let tract: LatencyBackend = "tract".parse()?;
/// assert_eq!(tract, LatencyBackend::Tract);
/// assert_eq!("flex".parse::<LatencyBackend>()?.to_string(), "flex");
/// # Ok::<(), hwnas_profiler::ProfileError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum LatencyBackend {
    /// A burn backend.
    Burn(Backend),
    /// tract, on the model exported to ONNX.
    Tract,
}

impl LatencyBackend {
    /// The device, when its cargo feature was built.
    pub fn device(self) -> Result<LatencyDevice, ProfileError> {
        match self {
            LatencyBackend::Burn(backend) => Ok(LatencyDevice::Burn(backend.device()?)),
            #[cfg(feature = "tract")]
            LatencyBackend::Tract => Ok(LatencyDevice::Tract),
            #[cfg(not(feature = "tract"))]
            LatencyBackend::Tract => Err(ProfileError::Unsupported(
                "latency on tract needs the `tract` feature of hwnas-profiler".into(),
            )),
        }
    }
}

impl From<Backend> for LatencyBackend {
    fn from(backend: Backend) -> Self {
        LatencyBackend::Burn(backend)
    }
}

impl fmt::Display for LatencyBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LatencyBackend::Burn(backend) => backend.fmt(f),
            LatencyBackend::Tract => f.write_str("tract"),
        }
    }
}

impl From<LatencyBackend> for String {
    fn from(backend: LatencyBackend) -> Self {
        backend.to_string()
    }
}

impl TryFrom<String> for LatencyBackend {
    type Error = ProfileError;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        name.parse()
    }
}

impl FromStr for LatencyBackend {
    type Err = ProfileError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if name == "tract" {
            return Ok(LatencyBackend::Tract);
        }
        name.parse::<Backend>()
            .map(LatencyBackend::Burn)
            .map_err(|_| {
                ProfileError::Unsupported(format!(
                    "unknown latency device `{name}` (flex, ndarray, wgpu, cuda or tract)"
                ))
            })
    }
}

/// Where latency is measured.
#[derive(Debug, Clone)]
pub enum LatencyDevice {
    /// A burn device: the network as burn runs it, a device sync inside each timed pass.
    Burn(Device),
    /// tract: the network (weights initialised by burn on flex) exported to ONNX, loaded for the
    /// input shape, optimized by tract and run on this CPU in one thread.
    #[cfg(feature = "tract")]
    Tract,
}

impl From<Device> for LatencyDevice {
    fn from(device: Device) -> Self {
        LatencyDevice::Burn(device)
    }
}

impl From<&Device> for LatencyDevice {
    fn from(device: &Device) -> Self {
        LatencyDevice::Burn(device.clone())
    }
}

impl From<&LatencyDevice> for LatencyDevice {
    fn from(device: &LatencyDevice) -> Self {
        device.clone()
    }
}

/// The burn device networks of a tract measurement are initialised on.
#[cfg(feature = "tract")]
fn tract_weights_device() -> Device {
    Device::flex()
}

impl LatencyDevice {
    /// How the device prints in fingerprints and reports.
    pub fn name(&self) -> String {
        match self {
            LatencyDevice::Burn(device) => format!("{device:?}"),
            #[cfg(feature = "tract")]
            LatencyDevice::Tract => format!("tract {}", hwnas_onnx::TRACT_VERSION),
        }
    }

    /// Threads a network runs on: the process's for burn, one for tract.
    pub fn threads(&self) -> usize {
        match self {
            LatencyDevice::Burn(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
            #[cfg(feature = "tract")]
            LatencyDevice::Tract => 1,
        }
    }

    /// The network of `architecture`, ready to time on a random normal input of `batch`
    /// examples; its weights from `seed` (else from the device's generator as it stands).
    pub fn load(
        &self,
        architecture: &Architecture,
        batch: usize,
        seed: Option<u64>,
    ) -> Result<LoadedNetwork, ProfileError> {
        let dims = architecture.input.with_batch(batch);
        let [n, c, h, w] = dims[..] else {
            return Err(ProfileError::Unsupported(format!(
                "latency needs an image input, got {dims:?}"
            )));
        };
        let init = |device: &Device| -> Result<(Network, Tensor<4>), ProfileError> {
            let build = || {
                Ok::<_, ProfileError>((
                    Network::init(architecture, device)?,
                    Tensor::<4>::random([n, c, h, w], Distribution::Normal(0.0, 1.0), device),
                ))
            };
            match seed {
                Some(seed) => hwnas_space::module::seeded(device, seed, build),
                None => hwnas_space::module::unseeded(build),
            }
        };
        match self {
            LatencyDevice::Burn(device) => {
                let (network, input) = init(device)?;
                Ok(LoadedNetwork::Burn {
                    network,
                    input,
                    device: device.clone(),
                })
            }
            #[cfg(feature = "tract")]
            LatencyDevice::Tract => {
                let device = tract_weights_device();
                let (network, input) = init(&device)?;
                let model = hwnas_onnx::export(architecture, &network).map_err(onnx_error)?;
                let model = hwnas_onnx::TractModel::load(&hwnas_onnx::encode(&model), &dims)
                    .map_err(onnx_error)?;
                let input = model
                    .input_value(&hwnas_onnx::floats(input.into_data()))
                    .map_err(onnx_error)?;
                Ok(LoadedNetwork::Tract { model, input })
            }
        }
    }
}

#[cfg(feature = "tract")]
fn onnx_error(error: hwnas_onnx::OnnxError) -> ProfileError {
    match error {
        hwnas_onnx::OnnxError::Space(e) => ProfileError::Space(e),
        hwnas_onnx::OnnxError::Unsupported { .. } => ProfileError::Unsupported(error.to_string()),
        other => ProfileError::Device(other.to_string()),
    }
}

/// A network loaded on a [`LatencyDevice`] with its input: one [`pass`](Self::pass) is what a
/// latency times.
// A group of at most `interleave` is held at once: the burn variant's size costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum LoadedNetwork {
    /// On a burn device.
    Burn {
        /// The network.
        network: Network,
        /// Its input.
        input: Tensor<4>,
        /// The device, synced after each pass.
        device: Device,
    },
    /// In tract.
    #[cfg(feature = "tract")]
    Tract {
        /// The optimized model.
        model: hwnas_onnx::TractModel,
        /// Its input.
        input: tract_onnx::prelude::TValue,
    },
}

impl LoadedNetwork {
    /// One forward pass, finished (a burn device is synced).
    pub fn pass(&self) -> Result<(), ProfileError> {
        match self {
            LoadedNetwork::Burn {
                network,
                input,
                device,
            } => {
                let _ = network.forward(input.clone());
                device
                    .sync()
                    .map_err(|e| ProfileError::Device(format!("{e:?}")))
            }
            #[cfg(feature = "tract")]
            LoadedNetwork::Tract { model, input } => {
                model
                    .run_value(input.clone())
                    .map_err(|e| ProfileError::Device(e.to_string()))?;
                Ok(())
            }
        }
    }
}
