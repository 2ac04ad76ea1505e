//! burn modules of a space (feature `burn`): the frozen network of one sample, and the
//! weight-sharing supernet of all of them.

mod network;
mod route;
mod supernet;

pub use network::{Hidden, Network, Op};
pub use route::Mix;
pub use supernet::{
    SharedChoice, SharedConv2d, SharedLayer, Stateless, SuperCellNode, SuperOp, Supernet,
};
