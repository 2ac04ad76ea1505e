//! Ready-made spaces, by name.

mod blocks;
mod mobile_micro;
mod nasbench201;
mod proxylessnas;

pub use mobile_micro::{MobileMicroConfig, mobile_micro};
pub use nasbench201::{NasBench201Config, OPERATIONS as NASBENCH201_OPERATIONS, nasbench201};
pub use proxylessnas::{CANDIDATES as PROXYLESS_CANDIDATES, ProxylessConfig, proxylessnas};

use std::sync::OnceLock;

use crate::{ModelSpace, Shape, SpaceError};

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

/// A hub space built for `input` (one example's shape) and `classes`: the shapes of a user's data
/// set. The default input and class count give [`space`]'s shared build. A space whose networks
/// cannot take `input` (the default sample, and the smallest and largest samples where the
/// constraints allow them) is an error naming both.
pub fn space_for(name: &str, input: Shape, classes: usize) -> Result<ModelSpace, SpaceError> {
    let default = space(name)?;
    let default_classes = match name {
        "proxylessnas" => ProxylessConfig::default().num_classes,
        "nasbench201" => NasBench201Config::default().num_classes,
        _ => MobileMicroConfig::default().num_classes,
    };
    if input == default.input() && classes == default_classes {
        return Ok(default);
    }
    if classes < 2 {
        return Err(SpaceError::InvalidDeclaration(format!(
            "a classifier needs at least 2 classes, not {classes}"
        )));
    }
    let not_taken = |error: SpaceError| SpaceError::InputNotTaken {
        space: name.to_string(),
        input: input.to_string(),
        why: error.to_string(),
    };
    let built = match name {
        "proxylessnas" => proxylessnas(&ProxylessConfig {
            num_classes: classes,
            input,
            ..ProxylessConfig::default()
        }),
        "nasbench201" => nasbench201(&NasBench201Config {
            num_classes: classes,
            input,
            ..NasBench201Config::default()
        }),
        _ => mobile_micro(&MobileMicroConfig {
            num_classes: classes,
            input,
        }),
    }
    // The declaration checks the shapes that reach its layers as it is built.
    .map_err(|error| match error {
        SpaceError::Shape { .. } => not_taken(error),
        other => other,
    })?;
    let search_space = built.search_space();
    let samples = [
        search_space.default_sample()?,
        search_space.edge_sample(false),
        search_space.edge_sample(true),
    ];
    for sample in samples.iter().filter(|s| search_space.validate(s).is_ok()) {
        built
            .resolve(sample)
            .and_then(|architecture| architecture.output_shape())
            .map_err(not_taken)?;
    }
    Ok(built)
}
