//! Image data sets for searches and training, read into memory as `u8` pixels.
//!
//! Three formats, detected from what a path holds ([`Format::detect`]) or named:
//!
//! - an image folder: one subfolder per class (PNG, JPEG, BMP; the sorted class names give the
//!   labels), optionally under `train/`, `val/` and `test/` subfolders that fix the splits;
//! - CIFAR-10 and CIFAR-100 binary batches (`data_batch_*.bin` and `test_batch.bin`, or
//!   `train.bin` and `test.bin`; CIFAR-100's fine labels);
//! - MNIST-style IDX files, raw or gzipped (`train-images-idx3-ubyte[.gz]` with its labels, and
//!   `t10k-*` for the test split): MNIST, Fashion-MNIST and KMNIST share the format.
//!
//! Images are held as `u8`, channel-major per image (`[channels, height, width]`): a 50,000-image
//! CIFAR-10 train set is 150 MB, MNIST's 60,000 images 47 MB, an image folder its pixel count
//! times its channels. [`DataSet::splits`] gives train, validation and test: the data's own splits
//! where it brings them, else a seeded split stratified by class. [`Images::fit_to`] brings images
//! to a space's input (channels repeated or averaged, the shorter side scaled to fit and the
//! centre cropped), and [`Normalization`] holds the per-channel statistics of a training split.
//! Every problem with the data is a [`DataError`] naming the file.

mod cifar;
mod convert;
mod error;
mod folder;
mod idx;
mod split;
pub mod synthetic;

use std::path::Path;

pub use convert::Normalization;
pub use error::DataError;
pub use split::Splits;

/// Labelled images of one shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    /// `[channels, height, width]` of every image.
    pub shape: [usize; 3],
    /// The images one after another, each channel-major.
    pub pixels: Vec<u8>,
    /// One class index per image.
    pub labels: Vec<u32>,
}

impl Images {
    /// No images of `shape`.
    pub fn empty(shape: [usize; 3]) -> Self {
        Images {
            shape,
            pixels: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes of one image.
    pub fn image_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Images {
        let mut selected = Images::empty(self.shape);
        for &i in indices {
            selected.pixels.extend_from_slice(self.image(i));
            selected.labels.push(self.labels[i]);
        }
        selected
    }

    /// Appends `other`'s images (of the same shape).
    fn extend(&mut self, other: Images) {
        debug_assert_eq!(self.shape, other.shape);
        self.pixels.extend(other.pixels);
        self.labels.extend(other.labels);
    }
}

/// A data set as read: its classes and its images, with the splits it brings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSet {
    /// Class names, by label.
    pub classes: Vec<String>,
    /// The training images (all of them when the data brings no split).
    pub train: Images,
    /// The validation split the data brings.
    pub val: Option<Images>,
    /// The test split the data brings.
    pub test: Option<Images>,
}

/// How a data set is stored (in settings files: `folder`, `cifar`, `idx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Class subfolders of images.
    #[serde(rename = "folder")]
    ImageFolder,
    /// CIFAR-10 or CIFAR-100 binary batches.
    Cifar,
    /// MNIST-style IDX files.
    Idx,
}

impl Format {
    /// Every format, by name.
    pub const ALL: [(&'static str, Format); 3] = [
        ("folder", Format::ImageFolder),
        ("cifar", Format::Cifar),
        ("idx", Format::Idx),
    ];

    /// The format's name in settings and on the command line.
    pub fn name(self) -> &'static str {
        Format::ALL
            .iter()
            .find(|(_, format)| *format == self)
            .map_or("folder", |(name, _)| name)
    }

    /// The format of what `path` holds: CIFAR batches, IDX files, else class folders.
    pub fn detect(path: &Path) -> Result<Format, DataError> {
        let entries = error::list_dir(path)?;
        let has = |test: &dyn Fn(&str) -> bool| entries.iter().any(|name| test(name));
        Ok(
            if has(&|n| n.starts_with("data_batch_") && n.ends_with(".bin"))
                || has(&|n| n == "train.bin")
            {
                Format::Cifar
            } else if has(&|n| n.contains("-idx3-ubyte")) {
                Format::Idx
            } else {
                Format::ImageFolder
            },
        )
    }
    /// Where the data at `path` is and its format: `path` itself, or its one sub-folder that
    /// holds CIFAR batches or IDX files, as the official archives unpack (`cifar-10-batches-bin/`
    /// inside the folder named), so that the folder above works too.
    pub fn locate(path: &Path) -> Result<(std::path::PathBuf, Format), DataError> {
        let format = Format::detect(path)?;
        if format != Format::ImageFolder {
            return Ok((path.to_path_buf(), format));
        }
        let folders: Vec<std::path::PathBuf> = error::list_dir(path)?
            .into_iter()
            .map(|name| path.join(name))
            .filter(|entry| entry.is_dir())
            .collect();
        if let [inner] = &folders[..]
            && let Ok(inner_format @ (Format::Cifar | Format::Idx)) = Format::detect(inner)
        {
            return Ok((inner.clone(), inner_format));
        }
        Ok((path.to_path_buf(), format))
    }
}

impl std::str::FromStr for Format {
    type Err = DataError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, format)| *format)
            .ok_or_else(|| {
                DataError::Format(format!(
                    "unknown data format `{name}` (folder, cifar or idx)"
                ))
            })
    }
}

impl DataSet {
    /// Reads the data set at `path` in `format`, or in the format detected there.
    pub fn load(path: &Path, format: Option<Format>) -> Result<DataSet, DataError> {
        let (path, format) = match format {
            Some(format) => (path.to_path_buf(), format),
            None => Format::locate(path)?,
        };
        let path = path.as_path();
        let data = match format {
            Format::ImageFolder => folder::read_dir(path)?,
            Format::Cifar => cifar::read_dir(path)?,
            Format::Idx => idx::read_dir(path)?,
        };
        data.check(path)?;
        Ok(data)
    }

    fn check(&self, path: &Path) -> Result<(), DataError> {
        if self.train.is_empty() {
            return Err(DataError::Format(format!(
                "{}: no training image",
                path.display()
            )));
        }
        if self.classes.len() < 2 {
            return Err(DataError::Format(format!(
                "{}: {} class; a classifier needs at least 2",
                path.display(),
                self.classes.len()
            )));
        }
        for images in [Some(&self.train), self.val.as_ref(), self.test.as_ref()]
            .into_iter()
            .flatten()
        {
            if let Some(label) = images
                .labels
                .iter()
                .find(|&&l| l as usize >= self.classes.len())
            {
                return Err(DataError::Format(format!(
                    "{}: label {label} with {} classes",
                    path.display(),
                    self.classes.len()
                )));
            }
        }
        Ok(())
    }
}
