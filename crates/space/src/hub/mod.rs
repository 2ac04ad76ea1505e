//! Ready-made spaces, by name.

mod blocks;
mod mobile_micro;
mod nasbench201;
mod proxylessnas;

pub use mobile_micro::{MobileMicroConfig, mobile_micro};
pub use nasbench201::{NasBench201Config, OPERATIONS as NASBENCH201_OPERATIONS, nasbench201};
pub use proxylessnas::{CANDIDATES as PROXYLESS_CANDIDATES, ProxylessConfig, proxylessnas};

use std::sync::OnceLock;

use crate::{ModelSpace, SpaceError};

/// Names and one-line descriptions of the hub spaces.
pub const SPACES: [(&str, &str); 3] = [
    (
        "proxylessnas",
        "ProxylessNAS mobile space: 21 MBConv choices (k3/5/7, e3/6), 5 depths; 3x224x224",
    ),
    (
        "nasbench201",
        "NAS-Bench-201 cell space: 6 edges x 5 operations, 15,625 cells; 3x32x32",
    ),
    (
        "mobile-micro",
        "small MobileNet-style space (width, depth, kernel, expansion); 1x8x8 digits",
    ),
];

/// A hub space with its default settings.
pub fn space(name: &str) -> Result<ModelSpace, SpaceError> {
    // Built once: every clone shares the labels and values, so samples of a space are recognised
    // by pointer wherever they travel (a search validates each proposal several times).
    static BUILT: [OnceLock<Result<ModelSpace, SpaceError>>; SPACES.len()] =
        [const { OnceLock::new() }; SPACES.len()];
    let Some(at) = SPACES.iter().position(|(known, _)| *known == name) else {
        return Err(SpaceError::UnknownSpace {
            name: name.to_string(),
            available: SPACES.map(|(name, _)| name).join(", "),
        });
    };
    BUILT[at]
        .get_or_init(|| match name {
            "proxylessnas" => proxylessnas(&ProxylessConfig::default()),
            "nasbench201" => nasbench201(&NasBench201Config::default()),
            _ => mobile_micro(&MobileMicroConfig::default()),
        })
        .clone()
}
