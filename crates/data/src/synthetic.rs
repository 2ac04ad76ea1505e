//! Small synthetic data sets, written in any of the formats: a search or a training run tried end
//! to end without a download, and the data the tests and benches train on.

use std::path::Path;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use crate::{DataError, Format, Images};

/// Images whose class is a bright horizontal band at its own rows over a dark, noisy background:
/// easy for any classifier, yet every pixel varies, and a horizontal flip keeps the class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Synthetic {
    /// `[channels, height, width]`; the classes must fit in the height.
    pub shape: [usize; 3],
    /// Number of classes.
    pub classes: usize,
    /// Training images per class.
    pub train_per_class: usize,
    /// Test images per class (0: the data brings no test split).
    pub test_per_class: usize,
    /// Seed of the noise.
    pub seed: u64,
}

impl Synthetic {
    /// `per_class` images of every class, class by class.
    pub fn images(&self, per_class: usize, seed: u64) -> Images {
        let [channels, height, width] = self.shape;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut images = Images::empty(self.shape);
        for class in 0..self.classes {
            let band = class * height / self.classes..(class + 1) * height / self.classes;
            for _ in 0..per_class {
                for channel in 0..channels {
                    for y in 0..height {
                        for _ in 0..width {
                            let base = if band.contains(&y) { 200 } else { 40 };
                            // Colour tells nothing: each channel a little apart.
                            let value = base + 10 * channel as i32 + rng.random_range(-30..=30);
                            images.pixels.push(value.clamp(0, 255) as u8);
                        }
                    }
                }
                images.labels.push(class as u32);
            }
        }
        images
    }

    /// Writes the data set into `dir` (created) in `format`: class folders of PNG images under
    /// `train/` and `test/`, CIFAR-10 batches (`3x32x32`, at most 10 classes; read back, they
    /// name ten), or gzipped IDX files (one channel).
    pub fn write(&self, dir: &Path, format: Format) -> Result<(), DataError> {
        let [channels, height, width] = self.shape;
        if self.classes < 2 {
            return Err(DataError::Format(format!(
                "a data set to classify needs at least 2 classes, not {}",
                self.classes
            )));
        }
        if self.classes > height {
            return Err(DataError::Format(format!(
                "{} classes do not fit images of {height} rows: each class is a band of at \
                 least one row",
                self.classes
            )));
        }
        let unfit = |why: &str| Err(DataError::Format(format!("{}: {why}", format.name())));
        match format {
            Format::Cifar if self.shape != [3, 32, 32] || self.classes > 10 => {
                return unfit("CIFAR-10 batches hold 3x32x32 images of at most 10 classes");
            }
            Format::Idx if channels != 1 => return unfit("IDX images have one channel"),
            Format::ImageFolder if !matches!(channels, 1 | 3) => {
                return unfit("images have 1 or 3 channels");
            }
            _ => {}
        }
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
        let train = self.images(self.train_per_class, self.seed);
        let test = self.images(self.test_per_class, self.seed.wrapping_add(1));
        let splits = [("train", &train), ("test", &test)];
        let splits = splits.iter().filter(|(_, images)| !images.is_empty());
        match format {
            Format::ImageFolder => {
                for (split, images) in splits {
                    for i in 0..images.len() {
                        let class = dir.join(split).join(format!("class{}", images.labels[i]));
                        std::fs::create_dir_all(&class).map_err(|e| DataError::io(&class, e))?;
                        let file = class.join(format!("{i}.png"));
                        let interleaved: Vec<u8> = (0..height * width)
                            .flat_map(|p| {
                                (0..channels).map(move |c| images.image(i)[c * height * width + p])
                            })
                            .collect();
                        let colour = match channels {
                            1 => image::ExtendedColorType::L8,
                            _ => image::ExtendedColorType::Rgb8,
                        };
                        image::save_buffer(
                            &file,
                            &interleaved,
                            width as u32,
                            height as u32,
                            colour,
                        )
                        .map_err(|e| DataError::corrupt(&file, e.to_string()))?;
                    }
                }
            }
            Format::Cifar => {
                for (split, images) in splits {
                    let name = match *split {
                        "train" => "data_batch_1.bin",
                        _ => "test_batch.bin",
                    };
                    let mut bytes = Vec::with_capacity(images.len() * (1 + 3072));
                    for i in 0..images.len() {
                        bytes.push(images.labels[i] as u8);
                        bytes.extend_from_slice(images.image(i));
                    }
                    write(&dir.join(name), &bytes)?;
                }
            }
            Format::Idx => {
                for (split, images) in splits {
                    let prefix = if *split == "train" { "train" } else { "t10k" };
                    let n = images.len() as u32;
                    let labels: Vec<u8> = images.labels.iter().map(|&l| l as u8).collect();
                    let image_dims = [n, height as u32, width as u32];
                    let files = [
                        ("images-idx3-ubyte.gz", idx(&image_dims, &images.pixels)),
                        ("labels-idx1-ubyte.gz", idx(&[n], &labels)),
                    ];
                    for (suffix, raw) in files {
                        write(&dir.join(format!("{prefix}-{suffix}")), &gzip(&raw))?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    std::fs::write(path, bytes).map_err(|e| DataError::io(path, e))
}

/// An IDX file of unsigned bytes.
fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .expect("writing to memory does not fail")
}
