use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;

/// One labelled image, channels first.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageItem {
    /// Pixels, `channels * height * width`, scaled to [0, 1].
    pub pixels: Vec<f32>,
    /// The class.
    pub label: usize,
}

/// A labelled image classification set held in memory.
#[derive(Debug, Clone)]
pub struct ImageSet {
    items: Vec<ImageItem>,
    /// `[channels, height, width]`.
    shape: [usize; 3],
    n_classes: usize,
}

impl ImageSet {
    /// Builds a set, checking that every item has `shape` and a label below `n_classes`.
    pub fn new(items: Vec<ImageItem>, shape: [usize; 3], n_classes: usize) -> Result<Self, String> {
        let size = shape.iter().product::<usize>();
        if let Some((i, item)) = items
            .iter()
            .enumerate()
            .find(|(_, it)| it.pixels.len() != size || it.label >= n_classes)
        {
            return Err(format!(
                "item {i} has {} pixels and label {} (expected {size} pixels, labels below {n_classes})",
                item.pixels.len(),
                item.label
            ));
        }
        Ok(Self {
            items,
            shape,
            n_classes,
        })
    }

    /// The 1,797 8x8 grey-scale handwritten digits (UCI optical recognition set) that `smartcore`
    /// embeds, ten classes, pixels scaled from 0..=16 to [0, 1].
    pub fn digits() -> Self {
        let raw = smartcore::dataset::digits::load_dataset();
        let items = raw
            .data
            .chunks_exact(raw.num_features)
            .zip(&raw.target)
            .map(|(pixels, &label)| ImageItem {
                pixels: pixels.iter().map(|p| p / 16.0).collect(),
                label: label as usize,
            })
            .collect();
        Self::new(items, [1, 8, 8], 10).expect("the embedded digits are well formed")
    }

    /// A deterministic split: a seeded shuffle, then the first `validation_share` of every class
    /// goes to validation (so both parts keep the class balance).
    pub fn split(&self, validation_share: f64, seed: u64) -> (ImageSet, ImageSet) {
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
        let mut per_class = vec![0usize; self.n_classes];
        for item in &self.items {
            per_class[item.label] += 1;
        }
        let mut taken = vec![0usize; self.n_classes];
        let (mut train, mut valid) = (Vec::new(), Vec::new());
        for i in order {
            let item = &self.items[i];
            let quota = (per_class[item.label] as f64 * validation_share).round() as usize;
            if taken[item.label] < quota {
                taken[item.label] += 1;
                valid.push(item.clone());
            } else {
                train.push(item.clone());
            }
        }
        let part = |items| ImageSet {
            items,
            shape: self.shape,
            n_classes: self.n_classes,
        };
        (part(train), part(valid))
    }

    /// `[channels, height, width]`.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The items.
    pub fn items(&self) -> &[ImageItem] {
        &self.items
    }
}

impl Dataset<ImageItem> for ImageSet {
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        // The trait's contract: an index past the end is a caller bug.
        Ok(self.items[index].clone())
    }

    fn len(&self) -> usize {
        self.items.len()
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
    fn digits_split_is_balanced_and_deterministic() {
        let digits = ImageSet::digits();
        assert_eq!(
            (digits.len(), digits.shape(), digits.n_classes()),
            (1797, [1, 8, 8], 10)
        );
        let (train, valid) = digits.split(0.2, 7);
        assert_eq!(train.len() + valid.len(), 1797);
        assert!((355..=365).contains(&valid.len()), "{}", valid.len());
        let (_, again) = digits.split(0.2, 7);
        assert_eq!(valid.items(), again.items());
        let (_, other) = digits.split(0.2, 8);
        assert_ne!(valid.items(), other.items());
        assert!(
            digits
                .items()
                .iter()
                .all(|i| i.pixels.iter().all(|p| (0.0..=1.0).contains(p)))
        );
    }
}
