//! Search spaces for hardware-aware neural architecture search, on burn.
//!
//! A space is declared once, as data: a [`Node`] tree whose choices ([`LayerChoice`],
//! [`ValueChoice`], [`Repeat`], [`InputChoice`]) carry stable labels. From that one declaration a
//! [`ModelSpace`] derives its [`SearchSpace`] (the burn-free vocabulary strategies work with),
//! resolves any [`Sample`] into a frozen [`Architecture`] (plain configuration with every layer's
//! shape), and, with the `burn` feature, builds the burn module that runs `forward`. Profilers
//! read the same declaration, so there is never a second description of a network to keep in step.
//!
//! Without default features the crate has no burn dependency: samples, validation, random and grid
//! sampling and the declarations themselves compile in seconds.
//!
//! ```
//! use hwnas_space::{hub, Sample};
//!
//! let space = hub::space("mobile-micro")?;
//! let sample = space.search_space().default_sample()?;
//! let architecture = space.resolve(&sample)?;
//! assert_eq!(architecture.output_shape()?.channels(), 10);
//!
//! # #[cfg(feature = "flex")] {
//! let device = burn::tensor::Device::flex();
//! let network = space.freeze(&sample, &device)?;
//! let input = burn::tensor::Tensor::<4>::zeros([2, 1, 8, 8], &device);
//! assert_eq!(network.forward_logits(input)?.dims(), [2, 10]);
//! # }
//! # Ok::<(), hwnas_space::SpaceError>(())
//! ```

mod backend;
mod block;
mod choice;
mod constraint;
mod error;
pub mod hub;
mod layer;
pub mod metric;
mod model_space;
#[cfg(feature = "burn")]
pub mod module;
mod node;
mod reads;
mod sample;
mod search_space;
mod shape;
mod value;

pub use backend::Backend;
pub use block::{Architecture, Block, FrozenCellNode, LayerVisitor, combine_shapes, gate_shape};
pub use choice::Choice;
pub use constraint::Constraint;
pub use error::{SpaceError, io_is_input};
pub use layer::{ActivationFn, Conv2dSpec, Groups, Layer, PoolSpec, Width, make_divisible};
pub use metric::Metrics;
pub use model_space::ModelSpace;
pub use node::{Cell, CellNode, InputChoice, LayerChoice, Node, Reduction, Repeat, ValueChoice};
pub use sample::Sample;
pub use search_space::{GridIndices, SearchSpace, values};
pub use shape::{InputShape, Shape};
pub use value::{Label, Value};
