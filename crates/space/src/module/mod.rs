//! The frozen network as a burn [`Module`](burn::module::Module) (feature `burn`).

mod network;

pub use network::{Hidden, Network, Op};
