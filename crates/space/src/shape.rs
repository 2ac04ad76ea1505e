use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::SpaceError;

/// The shape of one example flowing through a network, batch dimension excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// A feature map, channels x height x width.
    Image {
        /// Channels.
        channels: usize,
        /// Height.
        height: usize,
        /// Width.
        width: usize,
    },
    /// A flat feature vector.
    Flat(usize),
}

impl Shape {
    /// An image shape.
    pub const fn image(channels: usize, height: usize, width: usize) -> Self {
        Shape::Image {
            channels,
            height,
            width,
        }
    }

    /// Number of elements.
    pub fn elements(&self) -> u64 {
        match *self {
            Shape::Image {
                channels,
                height,
                width,
            } => channels as u64 * height as u64 * width as u64,
            Shape::Flat(features) => features as u64,
        }
    }

    /// Channels of an image, features of a flat vector.
    pub fn channels(&self) -> usize {
        match *self {
            Shape::Image { channels, .. } => channels,
            Shape::Flat(features) => features,
        }
    }

    /// Dimensions with a leading batch dimension, as a tensor has them.
    pub fn with_batch(&self, batch: usize) -> Vec<usize> {
        match *self {
            Shape::Image {
                channels,
                height,
                width,
            } => vec![batch, channels, height, width],
            Shape::Flat(features) => vec![batch, features],
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Image {
                channels,
                height,
                width,
            } => write!(f, "{channels}x{height}x{width}"),
            Shape::Flat(features) => write!(f, "{features}"),
        }
    }
}

/// An input shape with its batch size, as written on the command line: `1,3,224,224`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputShape {
    /// Batch size.
    pub batch: usize,
    /// Shape of one example.
    pub shape: Shape,
}

impl FromStr for InputShape {
    type Err = SpaceError;

    fn from_str(text: &str) -> Result<Self, SpaceError> {
        let bad = |why: &str| SpaceError::shape("input", format!("`{text}`: {why}"));
        let dims = text
            .split([',', 'x'])
            .map(|part| part.trim().parse::<usize>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| bad("expected positive integers such as 1,3,224,224"))?;
        if dims.contains(&0) {
            return Err(bad("dimensions must be positive"));
        }
        match dims[..] {
            [batch, channels, height, width] => Ok(InputShape {
                batch,
                shape: Shape::image(channels, height, width),
            }),
            _ => Err(bad("expected four dimensions: batch,channels,height,width")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_shape_parses_and_rejects() {
        let input: InputShape = "1,3,224,224".parse().unwrap();
        assert_eq!(input.shape, Shape::image(3, 224, 224));
        assert_eq!(input.shape.elements(), 150_528);
        for bad in ["", "1,3,224", "1,3,a,224", "1,0,8,8", "-1,3,8,8"] {
            assert!(bad.parse::<InputShape>().is_err(), "{bad}");
        }
    }
}
