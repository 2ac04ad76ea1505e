use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Int, Tensor, TensorData};
use hwnas_data::{DataSet, Images, Normalization};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use crate::{DataConfig, ExperimentError};

/// One labelled image, channels first, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageItem {
    /// Pixels, `channels * height * width`, normalized per channel.
    pub pixels: Vec<f32>,
    /// The class.
    pub label: usize,
}

/// Labelled images held as `u8`, with the per-channel normalization every item gets.
#[derive(Debug, Clone)]
pub struct ImageSet {
    images: Images,
    normalization: Normalization,
    n_classes: usize,
}

impl ImageSet {
    /// A set of `images` of `n_classes` classes, normalized by `normalization` (one mean and
    /// standard deviation per channel).
    pub fn new(
        images: Images,
        normalization: Normalization,
        n_classes: usize,
    ) -> Result<Self, ExperimentError> {
        let channels = images.shape[0];
        if normalization.mean.len() != channels || normalization.std.len() != channels {
            return Err(ExperimentError::Config(format!(
                "a normalization of {} channels for images of {channels}",
                normalization.mean.len()
            )));
        }
        if let Some(label) = images.labels.iter().find(|&&l| l as usize >= n_classes) {
            return Err(ExperimentError::Config(format!(
                "label {label} with {n_classes} classes"
            )));
        }
        Ok(ImageSet {
            images,
            normalization,
            n_classes,
        })
    }

    /// `[channels, height, width]`.
    pub fn shape(&self) -> [usize; 3] {
        self.images.shape
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Whether the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// The images as held.
    pub fn images(&self) -> &Images {
        &self.images
    }

    /// Image `index`, normalized; with `augment`, cropped from its zero-padded copy at a random
    /// offset and flipped at random, both drawn from `augment` and the index alone (so an epoch's
    /// images do not depend on the order they are read in).
    pub fn item(&self, index: usize, augment: Option<u64>) -> ImageItem {
        let label = self.images.labels[index] as usize;
        let Some(seed) = augment else {
            return ImageItem {
                pixels: self.normalization.apply(&self.images, index),
                label,
            };
        };
        let [channels, height, width] = self.images.shape;
        let pad = (height.min(width) / 8).max(1) as i64;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(seed, index as u64));
        let shift = |rng: &mut Xoshiro256PlusPlus| rng.random_range(-pad..=pad) as isize;
        let (dy, dx) = (shift(&mut rng), shift(&mut rng));
        let flip = rng.random_bool(0.5);
        let source = self.images.image(index);
        let mut pixels = Vec::with_capacity(source.len());
        for c in 0..channels {
            let (mean, std) = (self.normalization.mean[c], self.normalization.std[c]);
            for y in 0..height as isize {
                for x in 0..width as isize {
                    let x = if flip { width as isize - 1 - x } else { x };
                    let (sy, sx) = (y + dy, x + dx);
                    let inside =
                        (0..height as isize).contains(&sy) && (0..width as isize).contains(&sx);
                    let value = match inside {
                        true => source[c * height * width + sy as usize * width + sx as usize],
                        false => 0,
                    };
                    pixels.push((f32::from(value) / 255.0 - mean) / std);
                }
            }
        }
        ImageItem { pixels, label }
    }
}

/// One pass over an [`ImageSet`]: its items as burn's data loader reads them, augmented with
/// the pass's seed if it has one.
#[derive(Debug, Clone)]
pub struct EpochImages {
    set: Arc<ImageSet>,
    augment: Option<u64>,
}

impl Dataset<ImageItem> for EpochImages {
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        if index >= self.set.len() {
            let why = format!("image {index} of {}", self.set.len());
            return Err(DatasetError::new(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                why,
            )));
        }
        Ok(self.set.item(index, self.augment))
    }

    fn len(&self) -> usize {
        self.set.len()
    }
}

/// A loader of `set` in batches of `batch` on `device`: in a seeded order when `order` is
/// given, augmented with the seed `augment` when given.
pub fn loader(
    set: &Arc<ImageSet>,
    batch: usize,
    order: Option<u64>,
    augment: Option<u64>,
    device: &Device,
) -> Arc<dyn DataLoader<ImageBatch>> {
    let mut builder = DataLoaderBuilder::new(ImageBatcher::new(set.shape()))
        .batch_size(batch)
        .set_device(device.clone());
    if let Some(seed) = order {
        builder = builder.shuffle(seed);
    }
    builder.build(EpochImages {
        set: set.clone(),
        augment,
    })
}

/// A seed for `epoch` of a run seeded with `seed` (SplitMix64's finalizer), so that each epoch
/// has its own order and augmentation and a resumed run finds them again.
pub(crate) fn mix(seed: u64, epoch: u64) -> u64 {
    let mut z = seed ^ epoch.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The train, validation and test splits a training reads, at a space's input and normalized
/// by the training split's statistics, with the settings they were read by.
#[derive(Debug, Clone)]
pub struct TrainingData {
    config: DataConfig,
    classes: Vec<String>,
    normalization: Normalization,
    train: Arc<ImageSet>,
    val: Arc<ImageSet>,
    test: Arc<ImageSet>,
}

impl TrainingData {
    /// Reads the data `config` names (the embedded digits when it names none), splits it and
    /// brings every image to `input` (`[channels, height, width]`; `None`: the data's own).
    pub fn load(config: &DataConfig, input: Option<[usize; 3]>) -> Result<Self, ExperimentError> {
        config.validate()?;
        let data = match &config.path {
            Some(path) => DataSet::load(path, config.format)?,
            None => digits(),
        };
        Self::from_data_set(config, &data, input)
    }

    /// The splits of `data` (its own, else cut as `config` says), brought to `input`.
    pub fn from_data_set(
        config: &DataConfig,
        data: &DataSet,
        input: Option<[usize; 3]>,
    ) -> Result<Self, ExperimentError> {
        config.validate()?;
        let splits = data.splits(config.split_seed, config.val_fraction, config.test_fraction)?;
        let shape = input.unwrap_or(splits.train.shape);
        let [train, val, test] =
            [&splits.train, &splits.val, &splits.test].map(|s| s.fit_to(shape));
        let train = train?;
        let normalization = Normalization::of(&train);
        let n_classes = data.classes.len();
        let set = |images| ImageSet::new(images, normalization.clone(), n_classes).map(Arc::new);
        Ok(TrainingData {
            config: config.clone(),
            classes: data.classes.clone(),
            train: set(train)?,
            val: set(val?)?,
            test: set(test?)?,
            normalization,
        })
    }

    /// The settings the data was read by.
    pub fn config(&self) -> &DataConfig {
        &self.config
    }

    /// Class names, by label.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// `[channels, height, width]` of every image.
    pub fn shape(&self) -> [usize; 3] {
        self.train.shape()
    }

    /// The training split's per-channel statistics, which normalize every split.
    pub fn normalization(&self) -> &Normalization {
        &self.normalization
    }

    /// The images trained on.
    pub fn train(&self) -> &Arc<ImageSet> {
        &self.train
    }

    /// The images architectures are chosen on.
    pub fn val(&self) -> &Arc<ImageSet> {
        &self.val
    }

    /// The images the chosen model is reported on.
    pub fn test(&self) -> &Arc<ImageSet> {
        &self.test
    }

    /// The hub space `name` built for these images and classes (the space's own when they are
    /// its default), or an error naming the space and the input its networks cannot take.
    pub fn space(&self, name: &str) -> Result<hwnas_space::ModelSpace, ExperimentError> {
        let [c, h, w] = self.shape();
        let space = hwnas_space::hub::space_for(
            name,
            hwnas_space::Shape::image(c, h, w),
            self.classes.len(),
        )?;
        Ok(space)
    }

    /// Checks that the data fits `space`'s input and class count.
    pub fn check_fits(&self, space: &hwnas_space::ModelSpace) -> Result<(), ExperimentError> {
        let [c, h, w] = self.shape();
        if space.input() != hwnas_space::Shape::image(c, h, w) {
            return Err(ExperimentError::Config(format!(
                "space `{}` takes inputs {} but the data has {c}x{h}x{w} images",
                space.name(),
                space.input()
            )));
        }
        let default = space.search_space().default_sample()?;
        let output = space.resolve(&default)?.output_shape()?;
        if output != hwnas_space::Shape::Flat(self.classes.len()) {
            return Err(ExperimentError::Config(format!(
                "space `{}` puts out {output} but the data has {} classes",
                space.name(),
                self.classes.len()
            )));
        }
        Ok(())
    }
}

/// The 1,797 8x8 grey-scale handwritten digits (UCI optical recognition set) that `smartcore`
/// embeds, ten classes, pixels scaled from 0..=16 to 0..=255: the data a [`DataConfig`] without
/// a path names.
pub fn digits() -> DataSet {
    let raw = smartcore::dataset::digits::load_dataset();
    let pixels = raw
        .data
        .iter()
        .map(|&p| (p * 255.0 / 16.0).round().clamp(0.0, 255.0) as u8)
        .collect();
    DataSet {
        classes: (0..10).map(|c| c.to_string()).collect(),
        train: Images {
            shape: [1, 8, 8],
            pixels,
            labels: raw.target.iter().map(|&l| l as u32).collect(),
        },
        val: None,
        test: None,
    }
}

/// A batch of images and their labels.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    /// `[batch, channels, height, width]`.
    pub images: Tensor<4>,
    /// `[batch]`.
    pub targets: Tensor<1, Int>,
}

/// Stacks [`ImageItem`]s of one shape into an [`ImageBatch`].
#[derive(Debug, Clone)]
pub struct ImageBatcher {
    shape: [usize; 3],
}

impl ImageBatcher {
    /// A batcher for images of `[channels, height, width]`.
    pub fn new(shape: [usize; 3]) -> Self {
        Self { shape }
    }
}

impl Batcher<ImageItem, ImageBatch> for ImageBatcher {
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> ImageBatch {
        let n = items.len();
        let [c, h, w] = self.shape;
        let pixels: Vec<f32> = items
            .iter()
            .flat_map(|i| i.pixels.iter().copied())
            .collect();
        let labels: Vec<i64> = items.iter().map(|i| i.label as i64).collect();
        ImageBatch {
            images: Tensor::from_data(TensorData::new(pixels, [n, c, h, w]), device),
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_split_three_ways_balanced_and_deterministic() {
        let data = TrainingData::load(&DataConfig::default(), None).unwrap();
        let sizes = (data.train().len(), data.val().len(), data.test().len());
        assert_eq!(sizes.0 + sizes.1 + sizes.2, 1797);
        assert!((355..=365).contains(&sizes.1), "{sizes:?}");
        assert!((355..=365).contains(&sizes.2), "{sizes:?}");
        assert_eq!((data.shape(), data.classes().len()), ([1, 8, 8], 10));
        let again = TrainingData::load(&DataConfig::default(), None).unwrap();
        assert_eq!(data.val().images(), again.val().images());
        let other = DataConfig {
            split_seed: 1,
            ..DataConfig::default()
        };
        let other = TrainingData::load(&other, None).unwrap();
        assert_ne!(data.val().images(), other.val().images());
        // Normalized by the training split: its mean is 0 and its deviation 1.
        let values: Vec<f32> = (0..data.train().len())
            .flat_map(|i| data.train().item(i, None).pixels)
            .collect();
        let mean = values.iter().sum::<f32>() / values.len() as f32;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / values.len() as f32;
        assert!(
            mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3,
            "{mean} {var}"
        );
    }

    #[test]
    fn augmentation_shifts_and_flips_by_seed_and_index_alone() {
        // One 1x8x8 image: a single bright pixel at (row 3, column 1).
        let mut pixels = vec![0u8; 64];
        pixels[3 * 8 + 1] = 255;
        let images = Images {
            shape: [1, 8, 8],
            pixels,
            labels: vec![0],
        };
        let plain = Normalization {
            mean: vec![0.0],
            std: vec![1.0],
        };
        let set = ImageSet::new(images, plain, 2).unwrap();
        assert_eq!(set.item(0, None).pixels[3 * 8 + 1], 1.0);
        let mut moved = 0;
        for seed in 0..40 {
            let item = set.item(0, Some(seed));
            assert_eq!(item, set.item(0, Some(seed)));
            let bright: Vec<usize> = (0..64).filter(|&p| item.pixels[p] == 1.0).collect();
            // Shifted by at most one pixel (an eighth of 8) each way, or padded out of view.
            if let [at] = bright[..] {
                let (y, x) = (at / 8, at % 8);
                let x = if x <= 2 { x } else { 7 - x };
                assert!(y.abs_diff(3) <= 1 && x.abs_diff(1) <= 1, "{seed}: {at}");
            }
            moved += usize::from(bright != [3 * 8 + 1]);
        }
        assert!(moved > 20, "{moved}");
        let label_out_of_range = ImageSet::new(
            Images {
                shape: [1, 1, 1],
                pixels: vec![0],
                labels: vec![2],
            },
            Normalization {
                mean: vec![0.0],
                std: vec![1.0],
            },
            2,
        );
        assert!(label_out_of_range.is_err());
    }
}
