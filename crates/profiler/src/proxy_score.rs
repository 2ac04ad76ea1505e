//! Zero-cost proxies computed on burn autodiff ([`Proxy`] names them).

use std::sync::Arc;

use burn::module::{Flag, Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::activation::log_softmax;
use burn::tensor::{DType, Device, Gradients, Tensor, TensorData};
use hwnas_space::module::{Network, seeded};
use hwnas_space::{ModelSpace, Sample, Shape};
use nalgebra::DMatrix;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use crate::{ProfileError, Profiler, Proxy};

/// The labels of a [`ProxyBatch`].
#[derive(Debug, Clone, PartialEq)]
enum Labels {
    /// The data's labels.
    Given(Vec<i64>),
    /// Uniform over the network's classes, drawn from this seed.
    Random(u64),
}

/// The one minibatch a proxy scores networks on: images of the user's data, or a fixed random
/// input when there is none (searching a benchmark).
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyBatch {
    images: Vec<f32>,
    dims: [usize; 4],
    labels: Labels,
}

impl ProxyBatch {
    /// `images` (`dims`: batch, channels, height, width; row-major, as the network reads them)
    /// with their `labels`.
    pub fn new(images: Vec<f32>, dims: [usize; 4], labels: Vec<i64>) -> Result<Self, ProfileError> {
        let expected = dims.iter().product::<usize>();
        if dims[0] == 0 || images.len() != expected || labels.len() != dims[0] {
            return Err(ProfileError::Unsupported(format!(
                "a proxy batch of {dims:?} needs {expected} pixel values and {} labels, \
                 not {} and {}",
                dims[0],
                images.len(),
                labels.len()
            )));
        }
        if labels.iter().any(|&label| label < 0) {
            return Err(ProfileError::Unsupported(
                "proxy batch labels must not be negative".into(),
            ));
        }
        Ok(ProxyBatch {
            images,
            dims,
            labels: Labels::Given(labels),
        })
    }

    /// `batch` images of shape `input` with standard normal pixels and uniform labels, all drawn
    /// from `seed`.
    pub fn random(input: Shape, batch: usize, seed: u64) -> Result<Self, ProfileError> {
        let Shape::Image {
            channels,
            height,
            width,
        } = input
        else {
            return Err(ProfileError::Unsupported(format!(
                "proxies score networks on images, not on {input:?}"
            )));
        };
        if batch == 0 {
            return Err(ProfileError::Unsupported(
                "a proxy batch needs at least one image".into(),
            ));
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let dims = [batch, channels, height, width];
        let images = (0..dims.iter().product::<usize>())
            .map(|_| standard_normal(&mut rng))
            .collect();
        Ok(ProxyBatch {
            images,
            dims,
            labels: Labels::Random(rng.random()),
        })
    }

    /// Batch, channels, height, width.
    pub fn dims(&self) -> [usize; 4] {
        self.dims
    }

    fn images(&self, device: &Device) -> Tensor<4> {
        Tensor::from_data(TensorData::new(self.images.clone(), self.dims), device)
    }

    /// The labels as one-hot rows over `classes`; `None` when a given label is not a class.
    fn one_hot(&self, classes: usize, device: &Device) -> Option<Tensor<2>> {
        let labels: Vec<usize> = match &self.labels {
            Labels::Given(labels) => labels.iter().map(|&label| label as usize).collect(),
            Labels::Random(seed) => {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(*seed);
                (0..self.dims[0])
                    .map(|_| rng.random_range(0..classes))
                    .collect()
            }
        };
        if labels.iter().any(|&label| label >= classes) {
            return None;
        }
        let mut rows = vec![0.0f32; labels.len() * classes];
        for (row, label) in labels.iter().enumerate() {
            rows[row * classes + label] = 1.0;
        }
        Some(Tensor::from_data(
            TensorData::new(rows, [labels.len(), classes]),
            device,
        ))
    }
}

/// A standard normal number (Box-Muller), so that the batch needs no distribution crate.
fn standard_normal(rng: &mut impl RngExt) -> f32 {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random();
    ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
}

/// Scores the network `init` builds (freshly initialised on `device`, an autodiff device) by
/// `proxies` on `batch`, in the order asked. The cross-entropy proxies share one network and
/// one backward pass; `synflow` and `jacob_cov`, which change how the weights take part, build
/// their own (a network's clones share their parameters' state and batch normalisation's
/// running statistics).
pub fn score(
    init: &dyn Fn() -> Result<Network, ProfileError>,
    proxies: &[Proxy],
    batch: &ProxyBatch,
    device: &Device,
) -> Result<Vec<f64>, ProfileError> {
    if !device.is_autodiff() {
        return Err(ProfileError::Unsupported(
            "proxies need the network on an autodiff device".into(),
        ));
    }
    let mut loss_scores = None;
    proxies
        .iter()
        .map(|&proxy| match proxy {
            Proxy::Synflow => synflow(init()?, batch, device),
            Proxy::JacobCov => jacob_cov(init()?, batch, device),
            Proxy::GradNorm | Proxy::Snip => {
                if loss_scores.is_none() {
                    loss_scores = Some(loss_gradient_scores(&init()?, batch, device)?);
                }
                let (grad_norm, snip) = loss_scores.expect("computed above");
                Ok(if proxy == Proxy::GradNorm {
                    grad_norm
                } else {
                    snip
                })
            }
        })
        .collect()
}

fn logits(network: &Network, images: Tensor<4>) -> Result<Tensor<2>, ProfileError> {
    Ok(network.forward_logits(images)?)
}

/// The gradients of `output`, or `None` when nothing it depends on requires one (a network
/// whose output ignores its input and has no weights on the way: no gradient is zero).
fn backward(output: Tensor<1>) -> Option<Gradients> {
    output.is_tracked().then(|| output.backward())
}

/// Collects, over the weights of rank 2 or more, the sums a proxy needs of their gradients.
struct WeightGradients<'g> {
    gradients: &'g Gradients,
    grad_norm: f64,
    snip: f64,
    synflow: f64,
}

impl WeightGradients<'_> {
    fn new(gradients: &Gradients) -> WeightGradients<'_> {
        WeightGradients {
            gradients,
            grad_norm: 0.0,
            snip: 0.0,
            synflow: 0.0,
        }
    }
}

impl ModuleVisitor for WeightGradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if D < 2 {
            return;
        }
        let weight = param.val();
        let Some(gradient) = weight.grad(self.gradients) else {
            return;
        };
        let weight = weight.inner();
        self.grad_norm += gradient
            .clone()
            .powi_scalar(2)
            .sum()
            .into_scalar::<f64>()
            .sqrt();
        let saliency = (gradient * weight).abs().sum().into_scalar::<f64>();
        self.snip += saliency;
        // With every weight non-negative, θ ⊙ ∂R/∂θ is too: the same sum.
        self.synflow += saliency;
    }
}

/// `grad_norm` and `snip` from one cross-entropy backward pass.
fn loss_gradient_scores(
    network: &Network,
    batch: &ProxyBatch,
    device: &Device,
) -> Result<(f64, f64), ProfileError> {
    let logits = logits(network, batch.images(device))?;
    let [n, classes] = logits.dims();
    let targets = batch.one_hot(classes, device).ok_or_else(|| {
        ProfileError::Unsupported(format!(
            "a proxy batch label is not one of the network's {classes} classes"
        ))
    })?;
    let loss = -(log_softmax(logits, 1) * targets).sum() / n as f64;
    let Some(gradients) = backward(loss) else {
        return Ok((0.0, 0.0));
    };
    let mut visitor = WeightGradients::new(&gradients);
    network.visit(&mut visitor);
    Ok((visitor.grad_norm, visitor.snip))
}

/// Every parameter replaced by its absolute value in double precision (a fresh leaf: products
/// of absolute weights over a deep network overflow single precision), batch normalisation in
/// inference mode: on fresh statistics (mean 0, variance 1) it leaves its input as it is, as
/// synflow's definition removes it.
struct Linearised;

impl ModuleMapper for Linearised {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|tensor| {
            let require_grad = tensor.is_require_grad();
            tensor
                .abs()
                .cast(DType::F64)
                .detach()
                .set_require_grad(require_grad)
        })
    }

    fn map_flag(&mut self, flag: Param<Flag>) -> Param<Flag> {
        flag.with_value(false)
    }
}

fn synflow(network: Network, batch: &ProxyBatch, device: &Device) -> Result<f64, ProfileError> {
    let linear = network.map(&mut Linearised);
    let [_, channels, height, width] = batch.dims;
    let ones = Tensor::<4>::ones([1, channels, height, width], device).cast(DType::F64);
    let Some(gradients) = backward(logits(&linear, ones)?.sum()) else {
        return Ok(0.0);
    };
    let mut visitor = WeightGradients::new(&gradients);
    linear.visit(&mut visitor);
    Ok(visitor.synflow)
}

/// Added to the correlation matrix's eigenvalues, as the score's authors do.
const JACOB_COV_K: f64 = 1e-5;

fn jacob_cov(network: Network, batch: &ProxyBatch, device: &Device) -> Result<f64, ProfileError> {
    // Only the input's gradient is read: the weights' are not computed.
    let network = network.no_grad();
    let images = batch.images(device).require_grad();
    let gradients = backward(logits(&network, images.clone())?.sum());
    let [n, ..] = batch.dims;
    let jacobian: Vec<f32> = match gradients.and_then(|gradients| images.grad(&gradients)) {
        Some(gradient) => gradient
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|error| ProfileError::Device(format!("{error:?}")))?,
        // The output does not depend on the input at all.
        None => vec![0.0; batch.images.len()],
    };
    Ok(jacob_cov_of(&jacobian, n))
}

/// The Jacobian-covariance score of `n` rows of input gradients. A row that does not vary (an
/// output blind to its input) counts as perfectly correlated with every other row, so that such
/// a network gets the lowest score rather than none.
fn jacob_cov_of(jacobian: &[f32], n: usize) -> f64 {
    let width = jacobian.len() / n;
    let rows: Vec<Option<Vec<f64>>> = jacobian
        .chunks(width)
        .map(|row| {
            let mean = row.iter().map(|&x| x as f64).sum::<f64>() / width as f64;
            let centred: Vec<f64> = row.iter().map(|&x| x as f64 - mean).collect();
            let norm = centred.iter().map(|x| x * x).sum::<f64>().sqrt();
            (norm > 0.0 && norm.is_finite())
                .then(|| centred.into_iter().map(|x| x / norm).collect())
        })
        .collect();
    let correlation = DMatrix::from_fn(n, n, |i, j| match (&rows[i], &rows[j]) {
        _ if i == j => 1.0,
        (Some(a), Some(b)) => a.iter().zip(b).map(|(x, y)| x * y).sum(),
        _ => 1.0,
    });
    -correlation
        .symmetric_eigenvalues()
        .iter()
        .map(|&value| {
            let shifted = value.max(0.0) + JACOB_COV_K;
            shifted.ln() + 1.0 / shifted
        })
        .sum::<f64>()
}

/// A proxy as a [`Profiler`]: each query initialises the sample's network with a fixed seed on
/// an autodiff device and scores it on the same batch, so a sample always gets the same score.
///
/// ```
/// use hwnas_profiler::{Profiler, Proxy, ProxyBatch, ProxyProfiler};
/// use hwnas_space::hub;
///
/// let space = hub::space("mobile-micro")?;
/// let batch = ProxyBatch::random(space.input(), 8, 0)?;
/// let profiler = ProxyProfiler::new(&space, Proxy::GradNorm, batch, burn::tensor::Device::flex(), 0);
/// let sample = space.search_space().default_sample()?;
/// let score = profiler.profile(&sample)?;
/// assert!(score > 0.0);
/// assert_eq!(profiler.profile(&sample)?, score);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ProxyProfiler {
    space: ModelSpace,
    proxy: Proxy,
    batch: Arc<ProxyBatch>,
    device: Device,
    seed: u64,
}

impl ProxyProfiler {
    /// Scores samples of `space` by `proxy` on `batch`, on `device` (autodiff is added), with
    /// weights initialised from `seed`.
    pub fn new(
        space: &ModelSpace,
        proxy: Proxy,
        batch: ProxyBatch,
        device: Device,
        seed: u64,
    ) -> Self {
        ProxyProfiler {
            space: space.clone(),
            proxy,
            batch: Arc::new(batch),
            device: device.autodiff(),
            seed,
        }
    }

    /// The proxy.
    pub fn proxy(&self) -> Proxy {
        self.proxy
    }

    /// `sample`'s network, initialised as the profiler scores it.
    pub fn network(&self, sample: &Sample) -> Result<Network, ProfileError> {
        let architecture = self.space.resolve(sample)?;
        Ok(seeded(&self.device, self.seed, || {
            Network::init(&architecture, &self.device)
        })?)
    }

    /// `sample`'s scores by several proxies at once, from one initialisation (the cross-entropy
    /// proxies share their backward pass).
    pub fn scores(&self, sample: &Sample, proxies: &[Proxy]) -> Result<Vec<f64>, ProfileError> {
        let architecture = self.space.resolve(sample)?;
        let init = || -> Result<Network, ProfileError> {
            Ok(seeded(&self.device, self.seed, || {
                Network::init(&architecture, &self.device)
            })?)
        };
        score(&init, proxies, &self.batch, &self.device)
    }
}

impl Profiler for ProxyProfiler {
    fn profile(&self, sample: &Sample) -> Result<f64, ProfileError> {
        Ok(self.scores(sample, &[self.proxy])?[0])
    }

    /// It runs a network: [`Costs`](crate::Costs) asks once per network.
    fn measures(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacob_cov_of_uncorrelated_rows_is_the_identitys_score() {
        // Orthogonal zero-mean rows: the correlation matrix is the identity.
        let rows = [1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0, -1.0];
        let expected = -2.0 * ((1.0 + JACOB_COV_K).ln() + 1.0 / (1.0 + JACOB_COV_K));
        assert!((jacob_cov_of(&rows, 2) - expected).abs() < 1e-9);
    }

    #[test]
    fn jacob_cov_of_a_blind_network_is_the_lowest() {
        let identical = [1.0, -1.0, 1.0, -1.0];
        let blind = [0.0; 4];
        let worst = -(JACOB_COV_K.ln()
            + 1.0 / JACOB_COV_K
            + (2.0 + JACOB_COV_K).ln()
            + 1.0 / (2.0 + JACOB_COV_K));
        // 1 / (λ + k) near λ = 0 magnifies the eigenvalue's rounding: a relative tolerance.
        assert!((jacob_cov_of(&identical, 2) - worst).abs() < 1e-9 * worst.abs());
        assert!((jacob_cov_of(&blind, 2) - worst).abs() < 1e-9 * worst.abs());
    }
}
